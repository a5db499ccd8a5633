//! PostgreSQL test databases: a fresh schema per test on the server named by
//! `POSTGRES_TEST_URI` (default `postgres://postgres@127.0.0.1:5432/test`), dropped
//! with everything in it afterwards.

use crate::harness::{RawSql, TestBackend, TestDb, then_clean_up, unique_name};
use async_trait::async_trait;
use std::sync::Arc;
use storage_api::OpenOptions;
// Links the backend, which registers `postgres://` and `postgresql://` with
// `storage_api::open`.
use storage_postgres::tokio_postgres::{self, SimpleQueryMessage};

/// The PostgreSQL backend of the suite.
pub struct Postgres;

/// The PostgreSQL backend through PgBouncer in transaction mode
/// (`pooler=transaction`, [`crate::servers::pgbouncer_uri`]); every test gets a
/// database of its own on the main server, since a schema is a session setting a
/// transaction-mode pooler does not keep.
pub struct PostgresPgBouncer;

/// The PostgreSQL backend over TLS (`sslmode=verify-full`), on the TLS-only
/// cluster of [`crate::servers::postgres_tls_uri`].
pub struct PostgresTls;

/// The server the suite runs on.
pub fn base_uri() -> String {
    std::env::var("POSTGRES_TEST_URI")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A plain connection to the test server (its I/O task spawned on the current
/// runtime). Panics with a clear message if the server cannot be reached: a missing
/// server is a failure, never a skip.
pub async fn connect_admin() -> tokio_postgres::Client {
    connect_admin_to(&base_uri()).await
}

/// A plain connection (TLS as the URI says) to the server of `uri`, as
/// [`connect_admin`].
pub async fn connect_admin_to(uri: &str) -> tokio_postgres::Client {
    storage_postgres::connect_client(uri)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {} (set POSTGRES_TEST_URI): {e}",
                storage_api::ConnectionUri::parse(uri)
                    .map(|u| u.redacted())
                    .unwrap_or_default()
            )
        })
}

/// Creates a fresh schema named `t_<uuid>` and returns its name.
pub async fn create_schema(admin: &tokio_postgres::Client) -> String {
    let schema = unique_name("t");
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE SCHEMA {schema}: {e}"));
    schema
}

/// Drops a test schema and everything in it.
pub async fn drop_schema(schema: &str) {
    drop_schema_at(&base_uri(), schema).await;
}

/// Drops a test schema on the server of `uri`.
pub async fn drop_schema_at(uri: &str, schema: &str) {
    let admin = connect_admin_to(uri).await;
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap_or_else(|e| panic!("DROP SCHEMA {schema}: {e}"));
}

/// Runs `test` with a fresh schema (see [`create_schema`]), dropped afterwards
/// whatever the test did.
pub async fn in_fresh_schema<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let schema = create_schema(&connect_admin().await).await;
    then_clean_up(test(schema.clone()), drop_schema(&schema)).await;
}

/// Plain SQL through `simple_query`, with `search_path` set to the test's schema.
pub struct Raw(pub tokio_postgres::Client);

#[async_trait]
impl RawSql for Raw {
    async fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let messages = self
            .0
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                }
                _ => None,
            })
            .collect()
    }

    async fn execute(&self, sql: &str) {
        self.0
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Opens a storage on `schema` with `options` (schema and prefix set), migrated.
pub async fn open_in_schema(schema: &str, prefix: Option<&str>) -> Arc<dyn storage_api::Storage> {
    open_in_schema_at(&base_uri(), schema, prefix).await
}

/// [`open_in_schema`] on the server of `uri`.
pub async fn open_in_schema_at(
    uri: &str,
    schema: &str,
    prefix: Option<&str>,
) -> Arc<dyn storage_api::Storage> {
    let options = OpenOptions {
        table_prefix: prefix.map(str::to_owned),
        schema: Some(schema.to_owned()),
        pool_size: Some(crate::harness::POOL_SIZE),
        ..Default::default()
    };
    let storage = storage_api::open(uri, options)
        .await
        .unwrap_or_else(|e| panic!("open postgres (schema {schema}): {e}"));
    storage_api::migrate_up(&*storage)
        .await
        .unwrap_or_else(|e| panic!("migrate postgres (schema {schema}): {e}"));
    storage
}

/// A fresh schema on the server of `uri`, a migrated storage on it and a raw
/// connection with `search_path` set to it.
async fn create_at(uri: String, prefix: Option<&str>) -> TestDb {
    let admin = connect_admin_to(&uri).await;
    let schema = create_schema(&admin).await;
    let storage = open_in_schema_at(&uri, &schema, prefix).await;
    admin
        .batch_execute(&format!("SET search_path TO {schema}"))
        .await
        .expect("set search_path on the raw connection");
    let cleanup_schema = schema.clone();
    TestDb {
        storage,
        raw: Arc::new(Raw(admin)),
        prefix: prefix.map(|p| format!("{p}_")).unwrap_or_default(),
        other_nodes: Vec::new(),
        cleanup: Some(Box::pin(async move {
            drop_schema_at(&uri, &cleanup_schema).await
        })),
    }
}

#[async_trait]
impl TestBackend for Postgres {
    const NAME: &'static str = "postgresql";

    async fn create(prefix: Option<&str>) -> TestDb {
        create_at(base_uri(), prefix).await
    }
}

#[async_trait]
impl TestBackend for PostgresTls {
    const NAME: &'static str = "postgresql";

    async fn create(prefix: Option<&str>) -> TestDb {
        create_at(crate::servers::postgres_tls_uri(), prefix).await
    }
}

#[async_trait]
impl TestBackend for PostgresPgBouncer {
    const NAME: &'static str = "postgresql";

    async fn create(prefix: Option<&str>) -> TestDb {
        let admin = connect_admin().await;
        let db = unique_name("t");
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {db}: {e}"));
        let options = OpenOptions {
            table_prefix: prefix.map(str::to_owned),
            pool_size: Some(crate::harness::POOL_SIZE),
            ..Default::default()
        };
        let uri = crate::servers::with_database(&crate::servers::pgbouncer_uri(), &db);
        let storage = storage_api::open(&uri, options)
            .await
            .unwrap_or_else(|e| panic!("open through PgBouncer (database {db}): {e}"));
        storage_api::migrate_up(&*storage)
            .await
            .unwrap_or_else(|e| panic!("migrate through PgBouncer (database {db}): {e}"));
        let raw = connect_admin_to(&crate::servers::with_database(&base_uri(), &db)).await;
        TestDb {
            storage,
            raw: Arc::new(Raw(raw)),
            prefix: prefix.map(|p| format!("{p}_")).unwrap_or_default(),
            other_nodes: Vec::new(),
            cleanup: Some(Box::pin(async move {
                connect_admin()
                    .await
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                    .await
                    .unwrap_or_else(|e| panic!("DROP DATABASE {db}: {e}"));
            })),
        }
    }
}
