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

/// The MySQL backend over TLS (`ssl-mode=VERIFY_IDENTITY`), on the TLS-only
/// MariaDB of [`crate::servers::mysql_tls_uri`].
pub struct MySqlTls;

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
    database_uri_at(&base_uri(), db)
}

/// The URI of database `db` on the server of `server_uri`.
pub fn database_uri_at(server_uri: &str, db: &str) -> String {
    let mut u = ConnectionUri::parse(server_uri).expect("the MySQL test URI is not valid");
    u.path = db.to_owned();
    u.expose()
}

/// A plain-SQL connection to the test server. Panics with a clear message if the
/// server cannot be reached: a missing server is a failure, never a skip.
pub async fn connect_admin() -> RawClient {
    connect_admin_to(&base_uri()).await
}

/// A plain-SQL connection to the server of `uri`, as [`connect_admin`].
pub async fn connect_admin_to(uri: &str) -> RawClient {
    RawClient::connect(uri, 1).await.unwrap_or_else(|e| {
        panic!(
            "MySQL/MariaDB is not reachable at {} (set MYSQL_TEST_URI): {e}",
            redacted(uri)
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
    drop_database_at(&base_uri(), db).await;
}

/// Drops a test database on the server of `uri`.
pub async fn drop_database_at(uri: &str, db: &str) {
    let admin = connect_admin_to(uri).await;
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
    open_in_database_at(&base_uri(), db, prefix, options).await
}

/// [`open_in_database`] on the server of `server_uri`.
pub async fn open_in_database_at(
    server_uri: &str,
    db: &str,
    prefix: Option<&str>,
    options: OpenOptions,
) -> Arc<dyn storage_api::Storage> {
    let options = OpenOptions {
        table_prefix: prefix.map(str::to_owned),
        ..options
    };
    let storage = storage_api::open(&database_uri_at(server_uri, db), options)
        .await
        .unwrap_or_else(|e| panic!("open mysql (database {db}): {e}"));
    storage_api::migrate_up(&*storage)
        .await
        .unwrap_or_else(|e| panic!("migrate mysql (database {db}): {e}"));
    storage
}

/// Options with the suite's fixed pool size ([`crate::harness::POOL_SIZE`]), never
/// the environment's.
fn fixed_pool() -> OpenOptions {
    OpenOptions {
        pool_size: Some(crate::harness::POOL_SIZE),
        ..OpenOptions::default()
    }
}

/// A fresh database on the server of `uri`, a migrated storage on it and a raw
/// connection to it.
async fn create_at(uri: String, prefix: Option<&str>) -> TestDb {
    let admin = connect_admin_to(&uri).await;
    let db = create_database(&admin).await;
    admin.close().await;
    let storage = open_in_database_at(&uri, &db, prefix, fixed_pool()).await;
    let raw = RawClient::connect(&database_uri_at(&uri, &db), 2)
        .await
        .unwrap_or_else(|e| panic!("raw connection to database {db}: {e}"));
    let cleanup_db = db.clone();
    TestDb {
        storage,
        raw: Arc::new(Raw(raw)),
        prefix: prefix.map(|p| format!("{p}_")).unwrap_or_default(),
        other_nodes: Vec::new(),
        cleanup: Some(Box::pin(async move {
            drop_database_at(&uri, &cleanup_db).await
        })),
    }
}

#[async_trait]
impl TestBackend for MySql {
    const NAME: &'static str = "mysql";

    async fn create(prefix: Option<&str>) -> TestDb {
        create_at(base_uri(), prefix).await
    }
}

#[async_trait]
impl TestBackend for MySqlTls {
    const NAME: &'static str = "mysql";

    async fn create(prefix: Option<&str>) -> TestDb {
        create_at(crate::servers::mysql_tls_uri(), prefix).await
    }
}

/// The MySQL backend on the three-node MariaDB Galera cluster of
/// [`crate::servers::galera_uris`]: the test's database is created through node 1,
/// the storage under test is on node 1, one more storage on each other node
/// ([`TestDb::other_nodes`], as other cores would open them), and the raw
/// connection is on node 2 with causality checks, so what a test reads back there
/// has replicated.
pub struct Galera;

/// Plain SQL on a Galera node that waits, before every statement, until the node
/// has applied every transaction committed anywhere before it (`wsrep_sync_wait`).
pub struct CausalRaw(pub RawClient);

const CAUSAL: &str = "SET SESSION wsrep_sync_wait = 15; ";

#[async_trait]
impl RawSql for CausalRaw {
    async fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.0
            .query(&format!("{CAUSAL}{sql}"))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn execute(&self, sql: &str) {
        self.0
            .execute(&format!("{CAUSAL}{sql}"))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[async_trait]
impl TestBackend for Galera {
    const NAME: &'static str = "mysql";

    async fn create(prefix: Option<&str>) -> TestDb {
        let uris = crate::servers::galera_uris();
        let first = uris[0].clone();
        let admin = connect_admin_to(&first).await;
        let db = create_database(&admin).await;
        admin.close().await;
        let storage = open_in_database_at(&first, &db, prefix, fixed_pool()).await;
        // Migrated through node 1; the other nodes only open it (as cores started
        // after the first would find it migrated).
        let mut other_nodes = Vec::new();
        for uri in &uris[1..] {
            let options = OpenOptions {
                table_prefix: prefix.map(str::to_owned),
                ..fixed_pool()
            };
            let storage = storage_api::open(&database_uri_at(uri, &db), options)
                .await
                .unwrap_or_else(|e| panic!("open mysql (database {db} on {uri}): {e}"));
            other_nodes.push(storage);
        }
        let raw = RawClient::connect(&database_uri_at(&uris[1], &db), 2)
            .await
            .unwrap_or_else(|e| panic!("raw connection to database {db} on node 2: {e}"));
        let cleanup_db = db.clone();
        TestDb {
            storage,
            raw: Arc::new(CausalRaw(raw)),
            prefix: prefix.map(|p| format!("{p}_")).unwrap_or_default(),
            other_nodes,
            cleanup: Some(Box::pin(async move {
                drop_database_at(&first, &cleanup_db).await
            })),
        }
    }
}
