//! Reliability tests, heavier than the conformance suite and written once against
//! `Arc<dyn Storage>` like it; [`reliability_suite!`](crate::reliability_suite) stamps
//! them out per backend (`tests/tests/reliability.rs` does it for SQLite, PostgreSQL
//! and MariaDB). `RELIABILITY.md` at the repository root describes them all, with the
//! figures of the last run.
//!
//! - [`races`]: every flow of contract 5.5 from 64 tasks at once, 20 rounds with
//!   fresh data: one winner per round, exact counters, only documented outcomes, no
//!   orphan rows;
//! - [`faults`]: connections killed (or futures cancelled) in the middle of
//!   multi-table writes: all of an operation's rows or none, nothing that returned
//!   `Ok` lost, recovery without reopening;
//! - [`input`]: bad input through the API: column lengths, NUL bytes, unusual Unicode,
//!   SQL metacharacters, huge JSON, extreme times, hostile URIs;
//! - [`restart`]: the database server stopped and started under load (its own test
//!   binary, `tests/tests/reliability_restart.rs`, since it stops a shared server);
//! - [`common`]: the race runner, the orphan-row check, killable storages.
//!
//! The tenant-isolation property test and the `migrate` tests need dev-dependencies
//! (proptest, the CLI) and live in `tests/tests/reliability/`.

pub mod common;
pub mod faults;
pub mod input;
pub mod proof;
pub mod races;
pub mod restart;

/// Stamps out the reliability tests for one backend as `#[tokio::test]`s named
/// `<name>::<test>`, each on its own fresh database.
#[macro_export]
macro_rules! reliability_suite {
    ($name:ident, $backend:path) => {
        mod $name {
            $crate::__race_tests!($backend);
            $crate::__reliability_tests!(
                $backend,
                (faults, rel_fault_kill_mid_write),
                (faults, rel_fault_cancelled_calls_leave_clean_connections),
                (input, rel_input_string_fields),
                (input, rel_input_spaces_are_significant),
                (input, rel_input_json_and_text),
                (input, rel_input_times),
                (input, rel_input_hostile_uris),
            );
        }
    };
}

/// Stamps out only the races of [`races`] for one backend, as `<name>::<test>`: on a
/// cluster backend their tasks are spread over the nodes ([`crate::harness::Ctx::node`]).
#[macro_export]
macro_rules! race_suite {
    ($name:ident, $backend:path) => {
        mod $name {
            $crate::__race_tests!($backend);
        }
    };
}

/// Implementation detail of [`reliability_suite!`] and [`race_suite!`]: the races.
#[doc(hidden)]
#[macro_export]
macro_rules! __race_tests {
    ($backend:path) => {
        $crate::__reliability_tests!(
            $backend,
            (races, rel_race_refresh_rotation),
            (races, rel_race_consume_code),
            (races, rel_race_wrong_code_counter),
            (races, rel_race_consume_reset_token),
            (races, rel_race_consume_ev_token),
            (races, rel_race_sign_up),
            (races, rel_race_signing_key),
            (races, rel_race_kv_counter),
            (races, rel_race_delete_app_with_recipes),
        );
    };
}

/// Implementation detail of [`reliability_suite!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __reliability_tests {
    ($backend:path, $(($module:ident, $test:ident)),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                $crate::harness::run::<$backend, _>(None, |ctx| {
                    Box::pin($crate::reliability::$module::$test(ctx))
                })
                .await;
            }
        )*
    };
}
