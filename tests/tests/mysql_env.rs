//! A core that links all three backends switches to MariaDB/MySQL by setting
//! `MYSQL_CONNECTION_URI` and nothing else; the `MYSQL_*` options are read from the
//! environment too, and `mariadb://` works like `mysql://`. One test per binary:
//! the environment is process-wide.

use storage_api::{TenantIdentifier, open_from_env};
use storage_tests::backends::mysql::{database_uri, in_fresh_database};
// Link every backend, as a core would.
use storage_postgres as _;
use storage_sqlite as _;

async fn scenario(db: String) {
    let uri = database_uri(&db);
    // SAFETY: this test binary has one test and sets the environment before any
    // other thread reads it.
    unsafe {
        std::env::remove_var("POSTGRESQL_CONNECTION_URI");
        std::env::remove_var("DATABASE_URL");
        std::env::set_var("MYSQL_CONNECTION_URI", &uri);
        std::env::set_var("MYSQL_TABLE_NAMES_PREFIX", "envp");
    }
    let linked = storage_api::linked_schemes();
    for s in ["mariadb", "mysql", "postgres", "sqlite"] {
        assert!(linked.contains(&s), "{s} not linked: {linked:?}");
    }
    let storage = open_from_env(Default::default())
        .await
        .expect("open from env");
    assert_eq!(storage.backend_name(), "mysql");
    storage_api::migrate_up(&*storage).await.expect("migrate");
    let t = TenantIdentifier::default_public();
    storage.add_tenant(&t, 1).await.unwrap();
    assert_eq!(storage.list_apps_and_tenants().await.unwrap().len(), 1);
    storage.close().await;

    // The prefix came from MYSQL_TABLE_NAMES_PREFIX.
    let raw = storage_mysql::test_support::RawClient::connect(&uri, 1)
        .await
        .unwrap();
    let n = raw
        .query("SELECT COUNT(*) FROM envp_tenants")
        .await
        .unwrap();
    assert_eq!(n[0][0].as_deref(), Some("1"));

    // mariadb:// opens the same database.
    let mariadb = uri.replacen("mysql://", "mariadb://", 1);
    // SAFETY: as above.
    unsafe { std::env::set_var("MYSQL_CONNECTION_URI", &mariadb) };
    let storage = open_from_env(Default::default())
        .await
        .expect("open mariadb://");
    assert_eq!(storage.list_apps_and_tenants().await.unwrap().len(), 1);
    storage.close().await;
    raw.close().await;
}

#[tokio::test]
async fn mysql_connection_uri_alone_selects_mysql() {
    in_fresh_database(scenario).await;
}
