storage_tests::conformance_suite!(sqlite, storage_tests::backends::sqlite::Sqlite);
