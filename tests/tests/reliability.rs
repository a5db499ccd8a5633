//! Reliability tests on every backend (see `RELIABILITY.md`): races of contract 5.5
//! from 64 tasks, faults in the middle of multi-table writes, bad input through the
//! API, tenant isolation as a property test, and the `migrate` CLI killed mid-run and
//! fed hostile input. Filter by backend with `cargo test -p storage-tests --test
//! reliability sqlite::` (or `postgres::`, `mariadb::`).
//!
//! The test that restarts the database servers is `reliability_restart.rs`.

#[path = "migrate_cli/db.rs"]
mod db;
#[path = "reliability/isolation.rs"]
mod isolation;
#[path = "reliability/migrate.rs"]
mod migrate;

use storage_tests::backends::{mysql::MySql, postgres::Postgres, sqlite::Sqlite};

storage_tests::reliability_suite!(sqlite, storage_tests::backends::sqlite::Sqlite);
storage_tests::reliability_suite!(postgres, storage_tests::backends::postgres::Postgres);
storage_tests::reliability_suite!(mariadb, storage_tests::backends::mysql::MySql);

#[test]
fn sqlite_isolation_property() {
    isolation::isolation::<Sqlite>();
}

#[test]
fn postgres_isolation_property() {
    isolation::isolation::<Postgres>();
}

#[test]
fn mariadb_isolation_property() {
    isolation::isolation::<MySql>();
}
