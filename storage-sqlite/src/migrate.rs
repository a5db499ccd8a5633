//! [`SqliteMigrationDriver`]: what the shared migration runner needs from SQLite.
//!
//! The migration lock is SQLite's own write lock: `lock` runs `BEGIN IMMEDIATE` on the
//! driver's connection and `unlock` commits. A second process's `lock` waits for that
//! commit and then finds nothing pending. While locked, each migration runs inside a
//! `SAVEPOINT` together with its history row, so a failed migration leaves nothing
//! behind; without the lock (`--no-lock`) each runs in its own transaction.

use crate::conn::SqliteConn;
use crate::migrations;
use async_trait::async_trait;
use sea_query::{Value, Values};
use std::time::{Duration, Instant};
use storage_api::migrate::{HistoryRow, HistoryState, LiveColumn, StatementFailure, Step};
use storage_api::{Migration, MigrationDriver, StorageError};
use storage_sql::{Conn, Row};

const SAVEPOINT: &str = "storage_migration";

/// Runs migrations on one connection taken from the storage's pool (for
/// `sqlite::memory:` the database's only connection, so the storage waits while a
/// migration driver is alive).
pub struct SqliteMigrationDriver {
    conn: SqliteConn,
    prefix: String,
    locked: bool,
}

impl std::fmt::Debug for SqliteMigrationDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteMigrationDriver")
            .field("prefix", &self.prefix)
            .field("locked", &self.locked)
            .finish_non_exhaustive()
    }
}

fn no_values() -> Values {
    Values(Vec::new())
}

fn failure(index: usize, error: impl Into<StorageError>) -> StatementFailure {
    StatementFailure {
        index,
        error: error.into(),
    }
}

fn history_row(row: &Row) -> Result<HistoryRow, StorageError> {
    let version = row.int(0)?;
    Ok(HistoryRow {
        version: u32::try_from(version).map_err(|_| {
            StorageError::query(format!("history table holds an invalid version {version}"))
        })?,
        name: row.text(1)?,
        checksum: row.text(2)?,
        state: HistoryState::parse(&row.text(3)?),
        applied_at: row.int(4)?,
        execution_ms: row.int(5)?,
    })
}

impl SqliteMigrationDriver {
    /// A driver on `conn` for tables prefixed with `prefix` (`st_` or empty).
    pub fn new(conn: SqliteConn, prefix: impl Into<String>) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            locked: false,
        }
    }

    fn history_table(&self) -> String {
        format!("{}schema_migrations", self.prefix)
    }

    /// Opens the unit a step runs in: a savepoint inside the lock's transaction, or a
    /// transaction of its own.
    async fn open_unit(&mut self) -> Result<(), StorageError> {
        if self.locked {
            self.conn.batch(&format!("SAVEPOINT {SAVEPOINT}")).await
        } else {
            self.conn.begin(storage_api::Isolation::Default, true).await
        }
    }

    async fn close_unit(&mut self) -> Result<(), StorageError> {
        if self.locked {
            self.conn.batch(&format!("RELEASE {SAVEPOINT}")).await
        } else {
            self.conn.commit().await
        }
    }

    async fn undo_unit(&mut self) {
        let undone = if self.locked {
            if self.conn.raw().is_ok_and(|c| c.is_autocommit()) {
                // SQLite rolled the whole transaction back itself; `unlock` reports it.
                Ok(())
            } else {
                self.conn
                    .batch(&format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}"))
                    .await
            }
        } else {
            self.conn.rollback().await
        };
        if let Err(e) = undone {
            tracing::error!(error = %e, "could not roll back a failed SQLite migration");
        }
    }

    /// Runs `statements`, then the history change `finish_sql` with the values that
    /// `finish_values` makes from the elapsed milliseconds, as one unit; on failure
    /// undoes the unit and reports the failing statement's index (`statements.len()`
    /// for the history change). Returns how long each statement took.
    async fn run_unit(
        &mut self,
        statements: &[String],
        finish_sql: &str,
        finish_values: impl FnOnce(i64) -> Values,
    ) -> Result<Vec<Duration>, StatementFailure> {
        let started = Instant::now();
        self.open_unit().await.map_err(|e| failure(0, e))?;
        let mut times = Vec::with_capacity(statements.len());
        for (i, sql) in statements.iter().enumerate() {
            let one = Instant::now();
            if let Err(e) = self.conn.batch(sql).await {
                self.undo_unit().await;
                return Err(failure(i, e));
            }
            times.push(one.elapsed());
        }
        let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        if let Err(e) = self.conn.execute(finish_sql, finish_values(elapsed)).await {
            self.undo_unit().await;
            return Err(failure(statements.len(), e));
        }
        self.close_unit()
            .await
            .map_err(|e| failure(statements.len(), e))?;
        Ok(times)
    }
}

#[async_trait]
impl MigrationDriver for SqliteMigrationDriver {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    fn migrations(&self) -> &'static [Migration] {
        migrations()
    }

    fn table_prefix(&self) -> &str {
        &self.prefix
    }

    fn transactional_ddl(&self) -> bool {
        true
    }

    async fn lock(&mut self, timeout: std::time::Duration) -> Result<bool, StorageError> {
        if self.locked {
            return Ok(true);
        }
        let locked = self.conn.begin_until(Instant::now() + timeout).await?;
        self.locked = locked;
        Ok(locked)
    }

    async fn unlock(&mut self) -> Result<(), StorageError> {
        if !self.locked {
            return Ok(());
        }
        self.locked = false;
        if self.conn.raw()?.is_autocommit() {
            self.conn.rollback().await?;
            return Err(StorageError::query(
                "SQLite rolled back the migration transaction after an error; nothing was applied",
            ));
        }
        self.conn.commit().await
    }

    async fn ensure_history_table(&mut self) -> Result<(), StorageError> {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (\
             version INTEGER PRIMARY KEY, \
             name TEXT NOT NULL, \
             checksum TEXT NOT NULL, \
             state TEXT NOT NULL, \
             applied_at INTEGER NOT NULL, \
             execution_ms INTEGER NOT NULL)",
            self.history_table()
        );
        self.conn.batch(&sql).await
    }

    async fn history_table_exists(&mut self) -> Result<bool, StorageError> {
        let rows = self
            .conn
            .fetch(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                Values(vec![Value::String(Some(self.history_table()))]),
            )
            .await?;
        Ok(rows.first().map(|r| r.int(0)).transpose()?.unwrap_or(0) > 0)
    }

    async fn history(&mut self) -> Result<Vec<HistoryRow>, StorageError> {
        let sql = format!(
            "SELECT version, name, checksum, state, applied_at, execution_ms \
             FROM {} ORDER BY version",
            self.history_table()
        );
        let rows = self.conn.fetch(&sql, no_values()).await?;
        rows.iter().map(history_row).collect()
    }

    async fn apply(&mut self, step: &Step, now_ms: i64) -> Result<Vec<Duration>, StatementFailure> {
        let sql = format!(
            "INSERT OR REPLACE INTO {} \
             (version, name, checksum, state, applied_at, execution_ms) \
             VALUES (?, ?, ?, ?, ?, ?)",
            self.history_table()
        );
        self.run_unit(&step.statements, &sql, |elapsed| {
            Values(vec![
                Value::BigInt(Some(step.version.into())),
                Value::String(Some(step.name.clone())),
                Value::String(Some(step.checksum.clone())),
                Value::String(Some(HistoryState::Applied.as_str().to_owned())),
                Value::BigInt(Some(now_ms)),
                Value::BigInt(Some(elapsed)),
            ])
        })
        .await
    }

    async fn revert(&mut self, step: &Step) -> Result<(), StatementFailure> {
        let sql = format!("DELETE FROM {} WHERE version = ?", self.history_table());
        self.run_unit(&step.statements, &sql, |_| {
            Values(vec![Value::BigInt(Some(step.version.into()))])
        })
        .await
        .map(|_| ())
    }

    async fn record(&mut self, row: &HistoryRow) -> Result<(), StorageError> {
        let sql = format!(
            "INSERT OR REPLACE INTO {} \
             (version, name, checksum, state, applied_at, execution_ms) \
             VALUES (?, ?, ?, ?, ?, ?)",
            self.history_table()
        );
        let values = Values(vec![
            Value::BigInt(Some(row.version.into())),
            Value::String(Some(row.name.clone())),
            Value::String(Some(row.checksum.clone())),
            Value::String(Some(row.state.as_str().to_owned())),
            Value::BigInt(Some(row.applied_at)),
            Value::BigInt(Some(row.execution_ms)),
        ]);
        self.conn.execute(&sql, values).await?;
        Ok(())
    }

    async fn forget(&mut self, version: u32) -> Result<(), StorageError> {
        let sql = format!("DELETE FROM {} WHERE version = ?", self.history_table());
        self.conn
            .execute(&sql, Values(vec![Value::BigInt(Some(version.into()))]))
            .await?;
        Ok(())
    }

    async fn existing_tables(&mut self) -> Result<Vec<String>, StorageError> {
        let rows = self
            .conn
            .fetch(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                no_values(),
            )
            .await?;
        rows.iter().map(|r| r.text(0)).collect()
    }

    async fn expand(&mut self, step: Step) -> Result<Step, StorageError> {
        // SQLite has no `ADD COLUMN IF NOT EXISTS`: an addition whose column exists
        // already (a database whose history was lost, then baselined) is left out, as
        // PostgreSQL's `IF NOT EXISTS` and MySQL's guarded statements skip it.
        let mut statements = Vec::with_capacity(step.statements.len());
        for sql in step.statements {
            if let Some((table, column)) = added_column(&sql) {
                let rows = self
                    .conn
                    .fetch(
                        "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?",
                        Values(vec![
                            Value::String(Some(table)),
                            Value::String(Some(column)),
                        ]),
                    )
                    .await?;
                if rows.first().map(|r| r.int(0)).transpose()?.unwrap_or(0) > 0 {
                    continue;
                }
            }
            statements.push(sql);
        }
        Ok(Step { statements, ..step })
    }

    async fn existing_columns(&mut self) -> Result<Vec<LiveColumn>, StorageError> {
        let rows = self
            .conn
            .fetch(
                "SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 ORDER BY m.name, p.cid",
                no_values(),
            )
            .await?;
        let rows = rows
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)))
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(LiveColumn::of_prefixed_tables(
            rows,
            &self.prefix,
            canonical_type,
        ))
    }

    fn canonical_type(&self, declared: &str) -> String {
        canonical_type(declared)
    }
}

/// The table and column of an `ALTER TABLE t ADD [COLUMN] c ...` statement.
fn added_column(sql: &str) -> Option<(String, String)> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    if upper.len() < 5 || upper[0] != "ALTER" || upper[1] != "TABLE" || upper[3] != "ADD" {
        return None;
    }
    let column = if upper[4] == "COLUMN" {
        words.get(5)?
    } else {
        words[4]
    };
    let unquote = |w: &str| w.trim_matches(|c| c == '"' || c == '`').to_owned();
    Some((unquote(words[2]), unquote(column)))
}

/// A declared type as SQLite keeps it (the text of the declaration), upper case with
/// single spaces.
fn canonical_type(declared: &str) -> String {
    declared
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

impl Drop for SqliteMigrationDriver {
    fn drop(&mut self) {
        if self.locked {
            // The runner always unlocks; if it could not, the connection's own drop
            // rolls the migration transaction back.
            tracing::warn!("SQLite migration driver dropped while holding the lock");
        }
    }
}
