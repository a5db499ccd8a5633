//! The conformance suite through PgBouncer 1.18 in transaction mode
//! (`pooler=transaction`), started by `.ci/extra-servers.sh`: no named prepared
//! statements, no session state, transaction-level advisory locks.
storage_tests::conformance_suite!(
    postgres_pgbouncer,
    storage_tests::backends::postgres::PostgresPgBouncer
);
