//! The conformance suite on MySQL / MariaDB: every test in its own database.
storage_tests::conformance_suite!(mysql, storage_tests::backends::mysql::MySql);
