//! The conformance suite on a three-node MariaDB Galera cluster (`.ci/galera.sh`):
//! the storage under test on node 1, its rows read back through node 2.
storage_tests::conformance_suite!(mysql_galera, storage_tests::backends::mysql::Galera);
