//! The conformance suite on MariaDB over TLS (`ssl-mode=VERIFY_IDENTITY` with the
//! test CA), on the TLS-only server `.ci/extra-servers.sh` starts.
storage_tests::conformance_suite!(mysql_tls, storage_tests::backends::mysql::MySqlTls);
