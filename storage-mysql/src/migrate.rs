//! The MySQL [`MigrationDriver`]: one dedicated connection, a `GET_LOCK` migration
//! lock, the `{prefix}schema_migrations` history table, and non-transactional DDL
//! (a `started` row first, then the statements, then `applied`).

use crate::config::Settings;
use crate::conn::{decode_row, lock_name};
use crate::errors;
use async_trait::async_trait;
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection};
use std::time::{Duration, Instant};
use storage_api::migrate::{HistoryRow, HistoryState, Migration, StatementFailure, Step};
use storage_api::{MigrationDriver, StorageError};
use storage_sql::{Cell, Row};

/// The embedded migrations of this backend, ascending.
pub static MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "phase1",
    up: include_str!("../migrations/0001_phase1.up.sql"),
    down: Some(include_str!("../migrations/0001_phase1.down.sql")),
}];

/// The migration driver on its own connection (not from the pool: the `GET_LOCK`
/// lock belongs to the session).
pub struct MySqlMigrator {
    conn: Option<MySqlConnection>,
    settings: Settings,
    prefix: String,
    lock: String,
}

impl std::fmt::Debug for MySqlMigrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlMigrator")
            .field("uri", &self.settings.uri)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl MySqlMigrator {
    /// Wraps a dedicated connection.
    pub fn new(conn: MySqlConnection, settings: Settings, prefix: String) -> Self {
        let lock = lock_name(&settings.database, &prefix, "migrate");
        Self {
            conn: Some(conn),
            settings,
            prefix,
            lock,
        }
    }

    /// Closes the connection gracefully (dropping the driver also closes it).
    pub async fn close(mut self) {
        if let Some(c) = self.conn.take() {
            let _ = c.close().await;
        }
    }

    fn history_table(&self) -> String {
        format!("{}schema_migrations", self.prefix)
    }

    fn conn(&mut self) -> Result<&mut MySqlConnection, StorageError> {
        self.conn
            .as_mut()
            .ok_or_else(|| StorageError::query("the migration connection is closed"))
    }

    fn map(&self, e: sqlx::Error) -> StorageError {
        errors::to_storage(e, &self.settings.uri)
    }

    /// Runs one statement through the text protocol (DDL included).
    async fn run_text(&mut self, sql: &str) -> Result<(), StorageError> {
        let r = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(self.conn()?)
            .await;
        r.map(|_| ()).map_err(|e| self.map(e))
    }

    async fn fetch(
        &mut self,
        sql: String,
        binds: Vec<BindValue>,
    ) -> Result<Vec<Row>, StorageError> {
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for b in binds {
            q = match b {
                BindValue::Text(s) => q.bind(s),
                BindValue::Int(n) => q.bind(n),
            };
        }
        let r = q.fetch_all(self.conn()?).await;
        let rows = r.map_err(|e| self.map(e))?;
        rows.iter().map(decode_row).collect()
    }

    async fn exec(&mut self, sql: String, binds: Vec<BindValue>) -> Result<u64, StorageError> {
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for b in binds {
            q = match b {
                BindValue::Text(s) => q.bind(s),
                BindValue::Int(n) => q.bind(n),
            };
        }
        let r = q.execute(self.conn()?).await;
        r.map(|r| r.rows_affected()).map_err(|e| self.map(e))
    }

    async fn write_row(&mut self, row: &HistoryRow) -> Result<(), StorageError> {
        let sql = format!(
            "REPLACE INTO {} (version, name, checksum, state, applied_at, execution_ms) VALUES (?, ?, ?, ?, ?, ?)",
            self.history_table()
        );
        self.exec(
            sql,
            vec![
                BindValue::Int(i64::from(row.version)),
                BindValue::Text(row.name.clone()),
                BindValue::Text(row.checksum.clone()),
                BindValue::Text(row.state.as_str().to_owned()),
                BindValue::Int(row.applied_at),
                BindValue::Int(row.execution_ms),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn run_statements(&mut self, step: &Step) -> Result<(), StatementFailure> {
        for (index, stmt) in step.statements.iter().enumerate() {
            self.run_text(stmt)
                .await
                .map_err(|error| StatementFailure { index, error })?;
        }
        Ok(())
    }
}

enum BindValue {
    Text(String),
    Int(i64),
}

fn first_int(rows: &[Row]) -> Result<i64, StorageError> {
    rows.first()
        .ok_or_else(|| StorageError::query("query returned no row"))?
        .int(0)
}

/// A failure before any statement of the step ran (history writes): reported at
/// index 0 so the runner names the step.
fn before_statements(error: StorageError) -> StatementFailure {
    StatementFailure { index: 0, error }
}

#[async_trait]
impl MigrationDriver for MySqlMigrator {
    fn backend_name(&self) -> &'static str {
        "mysql"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn table_prefix(&self) -> &str {
        &self.prefix
    }

    fn transactional_ddl(&self) -> bool {
        false
    }

    async fn lock(&mut self, timeout: Duration) -> Result<bool, StorageError> {
        let secs = i64::try_from(timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0))
            .unwrap_or(i64::MAX);
        let name = self.lock.clone();
        let rows = self
            .fetch(
                "SELECT GET_LOCK(?, ?)".into(),
                vec![BindValue::Text(name), BindValue::Int(secs)],
            )
            .await?;
        match rows.first().and_then(|r| r.0.first()) {
            Some(Cell::Int(1)) => Ok(true),
            Some(Cell::Int(_)) => Ok(false),
            other => Err(StorageError::query(format!(
                "GET_LOCK for the migration lock returned {other:?}"
            ))),
        }
    }

    async fn unlock(&mut self) -> Result<(), StorageError> {
        let name = self.lock.clone();
        self.fetch("SELECT RELEASE_LOCK(?)".into(), vec![BindValue::Text(name)])
            .await
            .map(|_| ())
    }

    async fn ensure_history_table(&mut self) -> Result<(), StorageError> {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (\
             version BIGINT NOT NULL PRIMARY KEY, \
             name VARCHAR(255) NOT NULL, \
             checksum CHAR(64) NOT NULL, \
             state VARCHAR(16) NOT NULL, \
             applied_at BIGINT NOT NULL, \
             execution_ms BIGINT NOT NULL\
             ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            self.history_table()
        );
        self.run_text(&sql).await
    }

    async fn history_table_exists(&mut self) -> Result<bool, StorageError> {
        let table = self.history_table();
        let rows = self
            .fetch(
                "SELECT COUNT(*) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
                    .into(),
                vec![BindValue::Text(table)],
            )
            .await?;
        Ok(first_int(&rows)? > 0)
    }

    async fn history(&mut self) -> Result<Vec<HistoryRow>, StorageError> {
        let sql = format!(
            "SELECT version, name, checksum, state, applied_at, execution_ms FROM {} ORDER BY version",
            self.history_table()
        );
        let rows = self.fetch(sql, Vec::new()).await?;
        rows.iter()
            .map(|r| {
                let version = u32::try_from(r.int(0)?).map_err(|_| {
                    StorageError::query("history table holds a version that is not a u32")
                })?;
                Ok(HistoryRow {
                    version,
                    name: r.text(1)?,
                    checksum: r.text(2)?,
                    state: HistoryState::parse(&r.text(3)?),
                    applied_at: r.int(4)?,
                    execution_ms: r.int(5)?,
                })
            })
            .collect()
    }

    async fn apply(&mut self, step: &Step, now_ms: i64) -> Result<(), StatementFailure> {
        let started = Instant::now();
        let mut row = HistoryRow {
            version: step.version,
            name: step.name.clone(),
            checksum: step.checksum.clone(),
            state: HistoryState::Started,
            applied_at: now_ms,
            execution_ms: 0,
        };
        self.write_row(&row).await.map_err(before_statements)?;
        self.run_statements(step).await?;
        row.state = HistoryState::Applied;
        row.execution_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.write_row(&row)
            .await
            .map_err(|error| StatementFailure {
                index: step.statements.len().saturating_sub(1),
                error,
            })
    }

    async fn revert(&mut self, step: &Step) -> Result<(), StatementFailure> {
        self.run_statements(step).await?;
        self.forget(step.version)
            .await
            .map_err(|error| StatementFailure {
                index: step.statements.len().saturating_sub(1),
                error,
            })
    }

    async fn record(&mut self, row: &HistoryRow) -> Result<(), StorageError> {
        self.write_row(row).await
    }

    async fn forget(&mut self, version: u32) -> Result<(), StorageError> {
        let sql = format!("DELETE FROM {} WHERE version = ?", self.history_table());
        self.exec(sql, vec![BindValue::Int(i64::from(version))])
            .await
            .map(|_| ())
    }

    async fn existing_tables(&mut self) -> Result<Vec<String>, StorageError> {
        let rows = self
            .fetch(
                "SELECT TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' \
                 ORDER BY TABLE_NAME"
                    .into(),
                Vec::new(),
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let name = r.text(0)?;
            if name.starts_with(&self.prefix) {
                out.push(name);
            }
        }
        Ok(out)
    }
}
