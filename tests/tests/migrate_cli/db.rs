//! One fresh, empty database per test for the `migrate` CLI tests, and plain SQL on
//! it through an admin connection: a SQLite file in a temporary directory, a
//! PostgreSQL schema (`--schema`), a MariaDB/MySQL database. Dropped when the
//! [`TestDb`] is dropped, also after a failed test.
//!
//! Shared by `tests/tests/migrate_cli.rs` and `migrate-cli/tests/binary.rs`.

#![allow(dead_code)]

use sqlx::Connection as _;
use sqlx::Row as _;
use std::path::PathBuf;

/// PostgreSQL server of the tests (a `test` database reachable without password).
pub const POSTGRES_URI: &str = "postgres://postgres@127.0.0.1:5432/test";
/// MariaDB/MySQL server of the tests (root without password).
pub const MYSQL_ADMIN_URI: &str = "mysql://root@127.0.0.1:3306/";

/// A backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL, one schema per test.
    Postgres,
    /// MariaDB or MySQL, one database per test.
    Mysql,
}

impl Kind {
    /// The backend's embedded migrations.
    pub fn migrations(self) -> &'static [storage_api::Migration] {
        match self {
            Kind::Sqlite => storage_sqlite::migrations(),
            Kind::Postgres => storage_postgres::migrations(),
            Kind::Mysql => storage_mysql::migrations(),
        }
    }

    /// Whether the backend commits DDL as it goes (MySQL/MariaDB).
    pub fn non_transactional_ddl(self) -> bool {
        self == Kind::Mysql
    }
}

/// A fresh database of one backend.
pub struct TestDb {
    /// Which backend.
    pub kind: Kind,
    /// The URI handed to `migrate --database-url`.
    pub uri: String,
    /// PostgreSQL schema (also passed as `--schema`).
    pub schema: Option<String>,
    /// MySQL database name.
    pub database: Option<String>,
    /// SQLite file.
    pub path: Option<PathBuf>,
    dir: Option<tempfile::TempDir>,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

async fn pg_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=test",
        tokio_postgres::NoTls,
    )
    .await
    .expect("PostgreSQL at 127.0.0.1:5432 (user postgres, database test) must be running");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

async fn mysql_conn(database: &str) -> sqlx::MySqlConnection {
    sqlx::MySqlConnection::connect(&format!("{MYSQL_ADMIN_URI}{database}"))
        .await
        .expect("MariaDB/MySQL at 127.0.0.1:3306 (root without password) must be running")
}

impl TestDb {
    /// A new, empty database.
    pub async fn new(kind: Kind) -> Self {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("auth.db");
                TestDb {
                    kind,
                    uri: format!("sqlite://{}", path.display()),
                    schema: None,
                    database: None,
                    path: Some(path),
                    dir: Some(dir),
                }
            }
            Kind::Postgres => {
                let schema = unique("mcli");
                pg_client()
                    .await
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .expect("create schema");
                TestDb {
                    kind,
                    uri: POSTGRES_URI.to_owned(),
                    schema: Some(schema),
                    database: None,
                    path: None,
                    dir: None,
                }
            }
            Kind::Mysql => {
                let name = unique("mcli");
                let mut c = mysql_conn("").await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                )))
                .execute(&mut c)
                .await
                .expect("create database");
                let _ = c.close().await;
                TestDb {
                    kind,
                    uri: format!("{MYSQL_ADMIN_URI}{name}"),
                    schema: None,
                    database: Some(name),
                    path: None,
                    dir: None,
                }
            }
        }
    }

    /// The connection arguments for `migrate`: `--database-url`, `--schema` and
    /// `--table-prefix` when given.
    pub fn conn_args(&self, prefix: Option<&str>) -> Vec<String> {
        let mut a = vec!["--database-url".to_owned(), self.uri.clone()];
        if let Some(s) = &self.schema {
            a.push("--schema".into());
            a.push(s.clone());
        }
        if let Some(p) = prefix {
            a.push("--table-prefix".into());
            a.push(p.to_owned());
        }
        a
    }

    /// A full argument list: `migrate`, the connection arguments, then `rest`.
    pub fn args(&self, prefix: Option<&str>, rest: &[&str]) -> Vec<String> {
        let mut a = vec!["migrate".to_owned()];
        a.extend(self.conn_args(prefix));
        a.extend(rest.iter().map(|s| s.to_string()));
        a
    }

    /// The URI and options that open the same database with `storage_api::open`.
    pub fn open_options(&self, prefix: Option<&str>) -> storage_api::OpenOptions {
        storage_api::OpenOptions {
            table_prefix: prefix.map(str::to_owned),
            schema: self.schema.clone(),
            pool_size: Some(2),
            ..Default::default()
        }
    }

    /// Runs SQL statements, separated by `;` at line ends.
    pub async fn exec(&self, sql: &str) {
        let statements = storage_api::migrate::split_statements(sql);
        match self.kind {
            Kind::Sqlite => {
                let c = rusqlite::Connection::open(self.path.as_ref().unwrap()).unwrap();
                c.execute_batch("PRAGMA foreign_keys = ON").unwrap();
                for s in statements {
                    c.execute_batch(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
                }
            }
            Kind::Postgres => {
                let c = pg_client().await;
                c.batch_execute(&format!(
                    "SET search_path TO {}",
                    self.schema.as_ref().unwrap()
                ))
                .await
                .unwrap();
                for s in statements {
                    c.batch_execute(&s)
                        .await
                        .unwrap_or_else(|e| panic!("{s}: {e:?}"));
                }
            }
            Kind::Mysql => {
                let mut c = mysql_conn(self.database.as_ref().unwrap()).await;
                for s in statements {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(s.clone()))
                        .execute(&mut c)
                        .await
                        .unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                let _ = c.close().await;
            }
        }
    }

    /// The first column of the first row of a single-value query, as text.
    pub async fn scalar(&self, sql: &str) -> Option<String> {
        match self.kind {
            Kind::Sqlite => {
                let c = rusqlite::Connection::open(self.path.as_ref().unwrap()).unwrap();
                c.query_row(sql, [], |r| {
                    use rusqlite::types::ValueRef;
                    Ok(match r.get_ref(0)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(v) => Some(v.to_string()),
                        ValueRef::Real(v) => Some(v.to_string()),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            Some(String::from_utf8_lossy(t).into_owned())
                        }
                    })
                })
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            Kind::Postgres => {
                let c = pg_client().await;
                c.batch_execute(&format!(
                    "SET search_path TO {}",
                    self.schema.as_ref().unwrap()
                ))
                .await
                .unwrap();
                let msgs = c
                    .simple_query(sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
                msgs.into_iter().find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_owned)),
                    _ => None,
                })?
            }
            Kind::Mysql => {
                let mut c = mysql_conn(self.database.as_ref().unwrap()).await;
                let wrapped = format!("SELECT CAST(({sql}) AS CHAR)");
                let row = sqlx::query(sqlx::AssertSqlSafe(wrapped))
                    .fetch_one(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let v: Option<String> = row.try_get(0).unwrap();
                let _ = c.close().await;
                v
            }
        }
    }

    /// `SELECT COUNT(*) FROM {table} [WHERE ...]` as a number.
    pub async fn count(&self, from_where: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) FROM {from_where}"))
            .await
            .and_then(|s| s.parse().ok())
            .expect("a count")
    }

    /// Names of the tables in the test's database (or schema), sorted.
    pub async fn tables(&self) -> Vec<String> {
        let mut names: Vec<String> = match self.kind {
            Kind::Sqlite => {
                let path = self.path.as_ref().unwrap();
                if !path.exists() {
                    return Vec::new();
                }
                let c = rusqlite::Connection::open(path).unwrap();
                let mut s = c
                    .prepare(
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                    )
                    .unwrap();
                s.query_map([], |r| r.get::<_, String>(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Kind::Postgres => pg_client()
                .await
                .query(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
                    &[self.schema.as_ref().unwrap()],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect(),
            Kind::Mysql => {
                let mut c = mysql_conn(self.database.as_ref().unwrap()).await;
                let rows = sqlx::query(
                    "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()",
                )
                .fetch_all(&mut c)
                .await
                .unwrap();
                let _ = c.close().await;
                rows.iter().map(|r| r.get::<String, _>(0)).collect()
            }
        };
        names.sort();
        names
    }

    /// Runs the backend's own phase-1 up script for `prefix` directly, without the
    /// runner and without a history table: a database as SuperTokens creates it.
    pub async fn create_phase1_by_hand(&self, prefix: &str) {
        let m = &self.kind.migrations()[0];
        self.exec(&storage_api::migrate::render(m.up, prefix)).await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let kind = self.kind;
        let schema = self.schema.take();
        let database = self.database.take();
        if kind == Kind::Sqlite {
            return;
        }
        // Runs on its own thread and runtime: Drop may run inside a test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Some(s) = schema {
                    let _ = pg_client()
                        .await
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
                        .await;
                }
                if let Some(d) = database {
                    let mut c = mysql_conn("").await;
                    let _ =
                        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {d}")))
                            .execute(&mut c)
                            .await;
                    let _ = c.close().await;
                }
            });
        })
        .join();
    }
}
