//! The conformance suite on PostgreSQL over TLS (`sslmode=verify-full` with the
//! test CA), on the TLS-only cluster `.ci/extra-servers.sh` starts.
storage_tests::conformance_suite!(postgres_tls, storage_tests::backends::postgres::PostgresTls);
