//! MySQL / MariaDB test databases: a fresh database `t_<uuid>` per test on the
//! server named by `MYSQL_TEST_URI` (default `mysql://root@127.0.0.1:3306/test`),
//! created through an admin connection and dropped afterwards.

use crate::harness::{RawSql, TestBackend, TestDb, then_clean_up, unique_name};
use async_trait::async_trait;
use std::sync::Arc;
use storage_api::{ConnectionUri, OpenOptions};
// Links the backend, which registers `mysql://` and `mariadb://` with
// `storage_api::open`.
use storage_mysql::test_support::RawClient;

/// The MySQL / MariaDB backend of the suite.
pub struct MySql;

/// The server the suite runs on (its database is only used to connect).
pub fn base_uri() -> String {
    std::env::var("MYSQL_TEST_URI")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/test".into())
}

fn redacted(uri: &str) -> String {
    ConnectionUri::parse(uri)
        .map(|u| u.redacted())
        .unwrap_or_default()
}

/// The URI of database `db` on the test server.
pub fn database_uri(db: &str) -> String {
    let mut u = ConnectionUri::parse(&base_uri()).expect("MYSQL_TEST_URI is not a valid URI");
    u.path = db.to_owned();
    u.expose()
}

/// A plain-SQL connection to the test server. Panics with a clear message if the
/// server cannot be reached: a missing server is a failure, never a skip.
pub async fn connect_admin() -> RawClient {
    let uri = base_uri();
    RawClient::connect(&uri, 1).await.unwrap_or_else(|e| {
        panic!(
            "MySQL/MariaDB is not reachable at {} (set MYSQL_TEST_URI): {e}",
            redacted(&uri)
        )
    })
}

/// Creates a fresh database named `t_<uuid>` (utf8mb4, binary collation) and
/// returns its name.
pub async fn create_database(admin: &RawClient) -> String {
    let db = unique_name("t");
    admin
        .execute(&format!(
            "CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {db}: {e}"));
    db
}

/// Drops a test database and everything in it.
pub async fn drop_database(db: &str) {
    let admin = connect_admin().await;
    admin
        .execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .await
        .unwrap_or_else(|e| panic!("DROP DATABASE {db}: {e}"));
    admin.close().await;
}

/// Runs `test` with a fresh database (see [`create_database`]), dropped afterwards
/// whatever the test did.
pub async fn in_fresh_database<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let admin = connect_admin().await;
    let db = create_database(&admin).await;
    admin.close().await;
    then_clean_up(test(db.clone()), drop_database(&db)).await;
}

/// Plain SQL on the test's database through the text protocol; every value as text
/// (booleans as `0`/`1`).
pub struct Raw(pub RawClient);

#[async_trait]
impl RawSql for Raw {
    async fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.0
            .query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn execute(&self, sql: &str) {
        self.0
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Opens a storage on database `db` with `prefix`, migrated.
pub async fn open_in_database(
    db: &str,
    prefix: Option<&str>,
    options: OpenOptions,
) -> Arc<dyn storage_api::Storage> {
    let options = OpenOptions {
        table_prefix: prefix.map(str::to_owned),
        ..options
    };
    let storage = storage_api::open(&database_uri(db), options)
        .await
        .unwrap_or_else(|e| panic!("open mysql (database {db}): {e}"));
    storage_api::migrate_up(&*storage)
        .await
        .unwrap_or_else(|e| panic!("migrate mysql (database {db}): {e}"));
    storage
}

#[async_trait]
impl TestBackend for MySql {
    const NAME: &'static str = "mysql";

    async fn create(prefix: Option<&str>) -> TestDb {
        let admin = connect_admin().await;
        let db = create_database(&admin).await;
        admin.close().await;
        let storage = open_in_database(&db, prefix, OpenOptions::default()).await;
        let raw = RawClient::connect(&database_uri(&db), 2)
            .await
            .unwrap_or_else(|e| panic!("raw connection to database {db}: {e}"));
        let cleanup_db = db.clone();
        TestDb {
            storage,
            raw: Arc::new(Raw(raw)),
            prefix: prefix.map(|p| format!("{p}_")).unwrap_or_default(),
            cleanup: Some(Box::pin(async move { drop_database(&cleanup_db).await })),
        }
    }
}
