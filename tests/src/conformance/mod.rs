//! The conformance story, written once against `Arc<dyn Storage>`.
//!
//! Every test is a `pub async fn <name>(ctx: Ctx)` in one of the domain modules below;
//! `build.rs` finds them all and [`conformance_suite!`](crate::conformance_suite)
//! stamps the whole list out for a backend: `storage_tests::conformance_suite!(sqlite, Sqlite);` gives
//! `sqlite::<test>` for every test (filter with `cargo test sqlite::`).
//!
//! - [`tenancy`]: apps, tenants, cascades of tenant and app deletion, tenant configs,
//!   key/value rows;
//! - [`users`]: sign-up of the three recipes, lookups, keyset pagination, counting,
//!   updates, tenant membership, deletion;
//! - [`sessions`]: sessions, refresh-token rotation, expiry, signing keys;
//! - [`metadata`], [`roles`], [`totp`], [`jwt_keys`], [`dashboard`], [`active`]: the
//!   non-auth recipes (contract-phase2 B.1 to B.6), with their 64-task races;
//! - [`codes`]: passwordless devices and codes, password-reset and email-verification
//!   tokens, verified emails;
//! - [`isolation`]: tenant isolation and the app scope;
//! - [`linking`]: account linking: make primary, link, unlink, the group read back,
//!   the typed conflicts of the A.2 invariant, the 64-task invariant race, deletion;
//! - [`mapping`]: user-id mapping and the non-auth recipes using an id;
//! - [`transactions`]: the three outcomes, retries, isolation levels;
//! - [`races`]: the concurrent flows of contract 5.5 from 16 tasks each;
//! - [`bad_input`]: `InvalidInput` and `Config` errors, Unicode and SQL metacharacters;
//! - [`persistence`]: writes read back with plain SQL, rows written with plain SQL
//!   served by the API, and the table-name prefix;
//! - [`spans`]: one tracing span per operation, its events, no secret traced;
//! - [`sharding`]: every primary and foreign key leads with `app_id` (the catalog
//!   after migrating).
//! - [`schema_names`]: the table and column names `storage-sql` declares are those of
//!   the migrated schema.

pub mod active;
pub mod bad_input;
pub mod codes;
pub mod dashboard;
pub mod fixtures;
pub mod isolation;
pub mod jwt_keys;
pub mod linking;
pub mod mapping;
pub mod metadata;
pub mod persistence;
pub mod races;
pub mod roles;
pub mod schema_names;
pub mod sessions;
pub mod sharding;
pub mod spans;
pub mod tenancy;
pub mod totp;
pub mod transactions;
pub mod users;

include!(concat!(env!("OUT_DIR"), "/conformance_list.rs"));

/// Stamps out the whole conformance suite for one backend as `#[tokio::test]`s named
/// `<name>::<test>`: every `pub async fn <test>(ctx: Ctx)` of the domain modules
/// below, found by `build.rs` (a new test is never listed by hand). Tests whose name
/// contains `prefixed` run with the table prefix `st`, the others without.
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $backend:path) => {
        $crate::__conformance_list!($name, $backend);
    };
    (@tests $name:ident, $backend:path,
        [$(($module:ident, $test:ident)),* $(,)?],
        prefixed [$(($pmodule:ident, $ptest:ident)),* $(,)?]) => {
        mod $name {
            $crate::__paste_tests!($backend, None, $(($module, $test))*);
            $crate::__paste_tests!($backend, Some("st"), $(($pmodule, $ptest))*);
        }
    };
}

/// Implementation detail of [`conformance_suite!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __paste_tests {
    ($backend:path, $prefix:expr, $(($module:ident, $test:ident))*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                $crate::harness::run::<$backend, _>($prefix, |ctx| {
                    Box::pin($crate::conformance::$module::$test(ctx))
                })
                .await;
            }
        )*
    };
}
