//! The conformance story, written once against `Arc<dyn Storage>`.
//!
//! Every test is an `async fn(Ctx)` in one of the domain modules below and is listed
//! once in [`conformance_suite!`](crate::conformance_suite), which stamps the whole
//! list out for a backend: `storage_tests::conformance_suite!(sqlite, Sqlite);` gives
//! `sqlite::<test>` for every test (filter with `cargo test sqlite::`).

pub mod fixtures;

/// Stamps out the whole conformance suite for one backend as `#[tokio::test]`s named
/// `<name>::<test>`.
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $backend:path) => {
        $crate::conformance_suite!(@tests $name, $backend, [
            // (module, test) pairs; keep sorted by module.
        ]);
    };
    (@tests $name:ident, $backend:path, [$(($module:ident, $test:ident)),* $(,)?]) => {
        mod $name {
            $crate::__paste_tests!($backend, $(($module, $test))*);
        }
    };
}

/// Implementation detail of [`conformance_suite!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __paste_tests {
    ($backend:path, $(($module:ident, $test:ident))*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                $crate::harness::run::<$backend, _>(None, |ctx| {
                    Box::pin($crate::conformance::$module::$test(ctx))
                })
                .await;
            }
        )*
    };
}
