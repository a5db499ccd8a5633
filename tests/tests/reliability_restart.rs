//! The database stopped and started while a load runs (see
//! `storage_tests::reliability::restart` and `RELIABILITY.md`). In its own test binary
//! because it stops servers that every other test uses: cargo runs test binaries one
//! after another, and the three tests here touch three different databases (each
//! stops only its own server; SQLite's outage is a held write lock).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_restart_under_load() {
    storage_tests::harness::run::<storage_tests::backends::sqlite::Sqlite, _>(None, |ctx| {
        Box::pin(storage_tests::reliability::restart::rel_restart_under_load(
            ctx,
        ))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_under_load() {
    storage_tests::harness::run::<storage_tests::backends::postgres::Postgres, _>(None, |ctx| {
        Box::pin(storage_tests::reliability::restart::rel_restart_under_load(
            ctx,
        ))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_restart_under_load() {
    storage_tests::harness::run::<storage_tests::backends::mysql::MySql, _>(None, |ctx| {
        Box::pin(storage_tests::reliability::restart::rel_restart_under_load(
            ctx,
        ))
    })
    .await;
}
