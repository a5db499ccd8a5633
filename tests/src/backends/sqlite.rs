//! SQLite test databases: a fresh file in a temporary directory per test.

use crate::harness::{RawSql, TestBackend, TestDb};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use storage_api::OpenOptions;
// Links the backend, which registers the `sqlite` scheme with `storage_api::open`.
use storage_sqlite as _;

/// The SQLite backend of the suite.
pub struct Sqlite;

struct Raw(Mutex<rusqlite::Connection>);

#[async_trait]
impl RawSql for Raw {
    async fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let conn = self.0.lock().unwrap();
        let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        use rusqlite::types::ValueRef;
                        Ok(match r.get_ref(i)? {
                            ValueRef::Null => None,
                            ValueRef::Integer(v) => Some(v.to_string()),
                            ValueRef::Real(v) => Some(v.to_string()),
                            ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                            ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.map(|r| r.unwrap()).collect()
    }

    async fn execute(&self, sql: &str) {
        let conn = self.0.lock().unwrap();
        conn.execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[async_trait]
impl TestBackend for Sqlite {
    const NAME: &'static str = "sqlite";

    async fn create(prefix: Option<&str>) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("test.db");
        let uri = format!("sqlite://{}", path.display());
        let options = OpenOptions {
            table_prefix: prefix.map(str::to_owned),
            pool_size: Some(crate::harness::POOL_SIZE),
            ..Default::default()
        };
        let storage = storage_api::open(&uri, options).await.expect("open sqlite");
        storage_api::migrate_up(&*storage)
            .await
            .expect("migrate sqlite");
        let raw = rusqlite::Connection::open(&path).expect("raw sqlite connection");
        raw.busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        TestDb {
            storage,
            raw: Arc::new(Raw(Mutex::new(raw))),
            prefix: prefix.map(|p| format!("{p}_")).unwrap_or_default(),
            other_nodes: Vec::new(),
            cleanup: Some(Box::pin(async move { drop(dir) })),
        }
    }
}
