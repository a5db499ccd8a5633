//! The conformance suite on PostgreSQL: every test in its own schema.
storage_tests::conformance_suite!(postgres, storage_tests::backends::postgres::Postgres);
