//! The [`MigrationDriver`] of PostgreSQL: one dedicated connection (not from the
//! pool), a session advisory lock, and each migration applied in one transaction
//! together with its history row (DDL is transactional on PostgreSQL).
//!
//! Behind a transaction-mode pooler (`pooler=transaction`) a session lock would
//! stay on whichever server connection took it, so the lock is a
//! transaction-level advisory lock instead: `lock` opens a transaction and takes
//! `pg_advisory_xact_lock`, the migrations run in it, each in a savepoint with its
//! history row, and `unlock` commits them all. Statements outside that transaction
//! run in short transactions of their own, so that no named statement outlives
//! one.

use crate::config::quote_ident;
use crate::errors::{Scrubber, storage_error};
use crate::migrations::MIGRATIONS;
use async_trait::async_trait;
use std::time::{Duration, Instant};
use storage_api::migrate::{HistoryRow, HistoryState, LiveColumn, StatementFailure, Step};
use storage_api::{Migration, MigrationDriver, StorageError};
use tokio::task::JoinHandle;
use tokio_postgres::Client;

/// Runs migrations on one dedicated connection. Dropping it closes the connection,
/// which also releases the migration lock.
pub struct PostgresMigrationDriver {
    client: Client,
    task: JoinHandle<()>,
    schema: Option<String>,
    prefix: String,
    scrub: Scrubber,
    locked: bool,
    /// Behind a transaction-mode pooler.
    pooler: bool,
    /// The transaction `lock` opened behind a pooler is open.
    open_tx: bool,
    /// With a read replica: the storage's write position, recorded when the
    /// migrations end (so that reads wait for the replica to have the schema).
    pub(crate) written: Option<std::sync::Arc<crate::replica::Written>>,
}

impl std::fmt::Debug for PostgresMigrationDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresMigrationDriver")
            .field("schema", &self.schema)
            .field("prefix", &self.prefix)
            .field("locked", &self.locked)
            .field("pooler", &self.pooler)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresMigrationDriver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn elapsed_ms(start: Instant) -> i64 {
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

impl PostgresMigrationDriver {
    /// Opens the dedicated connection, with the storage's `search_path`.
    pub(crate) async fn connect(
        pg: &tokio_postgres::Config,
        tls: &crate::tls::MakeRustls,
        schema: Option<String>,
        prefix: String,
        timeout: Duration,
        scrub: Scrubber,
        pooler: bool,
    ) -> Result<Self, StorageError> {
        let (client, task) =
            crate::connect_within(pg, tls, schema.as_deref(), timeout, &scrub).await?;
        Ok(Self {
            client,
            task,
            schema,
            prefix,
            scrub,
            locked: false,
            pooler,
            open_tx: false,
            written: None,
        })
    }

    fn err(&self, e: tokio_postgres::Error) -> StorageError {
        storage_error(e, &self.scrub)
    }

    /// Runs one statement; behind a pooler and outside the lock's transaction, in
    /// a transaction of its own (the named statement is closed before it ends).
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StorageError> {
        let own_tx = self.pooler && !self.open_tx;
        if own_tx {
            self.client
                .batch_execute("BEGIN")
                .await
                .map_err(|e| self.err(e))?;
        }
        let r = self.client.query(sql, params).await;
        if own_tx {
            let end = self
                .client
                .batch_execute(if r.is_ok() { "COMMIT" } else { "ROLLBACK" })
                .await;
            if r.is_ok() {
                end.map_err(|e| self.err(e))?;
            }
        }
        r.map_err(|e| self.err(e))
    }

    /// The first row of [`Self::query`].
    async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, StorageError> {
        self.query(sql, params)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StorageError::query("the query returned no row"))
    }

    /// What starts, ends and abandons one step: a transaction, or a savepoint in
    /// the lock's transaction behind a pooler.
    fn step_sql(&self) -> [&'static str; 3] {
        if self.open_tx {
            [
                "SAVEPOINT migration_step",
                "RELEASE SAVEPOINT migration_step",
                "ROLLBACK TO SAVEPOINT migration_step",
            ]
        } else {
            ["BEGIN", "COMMIT", "ROLLBACK"]
        }
    }

    fn history_table(&self) -> String {
        format!("{}schema_migrations", self.prefix)
    }

    /// The key of the migration lock: one per schema and prefix.
    fn lock_key(&self) -> String {
        format!(
            "storage-migrate\u{1f}{}\u{1f}{}",
            self.schema.as_deref().unwrap_or(""),
            self.prefix
        )
    }

    /// The schema the tables live in: the configured one, else the first existing
    /// schema of the server's `search_path`.
    async fn target_schema(&self) -> Result<String, StorageError> {
        if let Some(s) = &self.schema {
            return Ok(s.clone());
        }
        let row = self
            .query_one("SELECT COALESCE(current_schema(), 'public')", &[])
            .await?;
        row.try_get(0).map_err(|e| self.err(e))
    }

    /// Opens a transaction and runs `statements` in it, returning how long each took;
    /// on a failure the transaction is rolled back.
    async fn begin_and_run(
        &mut self,
        statements: &[String],
    ) -> Result<Vec<Duration>, StatementFailure> {
        let fail = |index: usize, error: StorageError| StatementFailure { index, error };
        let [begin, _, rollback] = self.step_sql();
        self.client
            .batch_execute(begin)
            .await
            .map_err(|e| fail(0, self.err(e)))?;
        let mut times = Vec::with_capacity(statements.len());
        for (i, stmt) in statements.iter().enumerate() {
            let started = Instant::now();
            if let Err(e) = self.client.batch_execute(stmt).await {
                let error = self.err(e);
                let _ = self.client.batch_execute(rollback).await;
                return Err(fail(i, error));
            }
            times.push(started.elapsed());
        }
        Ok(times)
    }

    /// Runs `finish` (the history change) and commits the transaction that
    /// [`begin_and_run`](Self::begin_and_run) opened; rolls back on a failure, which
    /// is reported at statement `index`.
    async fn finish_and_commit(
        &mut self,
        finish: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        index: usize,
    ) -> Result<(), StatementFailure> {
        let fail = |error: StorageError| StatementFailure { index, error };
        let [_, commit, rollback] = self.step_sql();
        if let Err(e) = self.client.execute(finish, params).await {
            let error = self.err(e);
            let _ = self.client.batch_execute(rollback).await;
            return Err(fail(error));
        }
        self.client
            .batch_execute(commit)
            .await
            .map_err(|e| fail(self.err(e)))
    }

    fn insert_history_sql(&self) -> String {
        format!(
            "INSERT INTO {} (version, name, checksum, state, applied_at, execution_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, \
             checksum = EXCLUDED.checksum, state = EXCLUDED.state, \
             applied_at = EXCLUDED.applied_at, execution_ms = EXCLUDED.execution_ms",
            quote_ident(&self.history_table())
        )
    }
}

#[async_trait]
impl MigrationDriver for PostgresMigrationDriver {
    fn backend_name(&self) -> &'static str {
        "postgresql"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn table_prefix(&self) -> &str {
        &self.prefix
    }

    fn transactional_ddl(&self) -> bool {
        true
    }

    async fn lock(&mut self, timeout: Duration) -> Result<bool, StorageError> {
        let start = Instant::now();
        let key = self.lock_key();
        loop {
            let got: bool = if self.pooler {
                // A transaction-level lock, held by the transaction the migrations
                // then run in (see the module documentation).
                self.client
                    .batch_execute("BEGIN")
                    .await
                    .map_err(|e| self.err(e))?;
                self.open_tx = true;
                let row = self
                    .query_one(
                        "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                        &[&key],
                    )
                    .await;
                let got = row.and_then(|r| r.try_get(0).map_err(|e| self.err(e)));
                if !matches!(got, Ok(true)) {
                    self.open_tx = false;
                    self.client
                        .batch_execute("ROLLBACK")
                        .await
                        .map_err(|e| self.err(e))?;
                }
                got?
            } else {
                let row = self
                    .query_one(
                        "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                        &[&key],
                    )
                    .await?;
                row.try_get(0).map_err(|e| self.err(e))?
            };
            if got {
                self.locked = true;
                return Ok(true);
            }
            let spent = start.elapsed();
            if spent >= timeout {
                return Ok(false);
            }
            tokio::time::sleep(
                timeout
                    .saturating_sub(spent)
                    .min(Duration::from_millis(100)),
            )
            .await;
        }
    }

    async fn unlock(&mut self) -> Result<(), StorageError> {
        if let Some(w) = &self.written {
            // Whatever ran on this connection has committed (or the COMMIT below
            // is not yet sent, and is then covered by `mark_unknown`).
            if self.open_tx {
                w.mark_unknown();
            } else {
                w.record(&self.client).await;
            }
        }
        if !self.locked {
            return Ok(());
        }
        if self.open_tx {
            // Commits the migrations; the lock ends with the transaction.
            self.open_tx = false;
            self.locked = false;
            return self
                .client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| self.err(e));
        }
        let key = self.lock_key();
        self.query_one(
            "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
            &[&key],
        )
        .await?;
        self.locked = false;
        Ok(())
    }

    async fn ensure_history_table(&mut self) -> Result<(), StorageError> {
        let table = self.history_table();
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (\
             version BIGINT NOT NULL, \
             name VARCHAR(255) NOT NULL, \
             checksum CHAR(64) NOT NULL, \
             state VARCHAR(16) NOT NULL, \
             applied_at BIGINT NOT NULL, \
             execution_ms BIGINT NOT NULL, \
             CONSTRAINT {} PRIMARY KEY (version))",
            quote_ident(&table),
            quote_ident(&format!("{table}_pkey"))
        );
        self.client
            .batch_execute(&sql)
            .await
            .map_err(|e| self.err(e))
    }

    async fn history_table_exists(&mut self) -> Result<bool, StorageError> {
        let schema = self.target_schema().await?;
        let row = self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables \
                 WHERE schemaname = $1 AND tablename = $2)",
                &[&schema, &self.history_table()],
            )
            .await?;
        row.try_get(0).map_err(|e| self.err(e))
    }

    async fn history(&mut self) -> Result<Vec<HistoryRow>, StorageError> {
        let sql = format!(
            "SELECT version, name, checksum, state, applied_at, execution_ms FROM {} ORDER BY version",
            quote_ident(&self.history_table())
        );
        let rows = self.query(&sql, &[]).await?;
        rows.iter()
            .map(|r| {
                let version: i64 = r.try_get(0)?;
                let name: String = r.try_get(1)?;
                let checksum: String = r.try_get(2)?;
                let state: String = r.try_get(3)?;
                Ok(HistoryRow {
                    version: u32::try_from(version).unwrap_or(u32::MAX),
                    name,
                    checksum: checksum.trim_end().to_owned(),
                    state: HistoryState::parse(&state),
                    applied_at: r.try_get(4)?,
                    execution_ms: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(|e| self.err(e))
    }

    async fn apply(&mut self, step: &Step, now_ms: i64) -> Result<Vec<Duration>, StatementFailure> {
        let start = Instant::now();
        // The statements run first; the history row is written last in the same
        // transaction, with the time measured so far.
        let times = self.begin_and_run(&step.statements).await?;
        let sql = self.insert_history_sql();
        let version = i64::from(step.version);
        let state = HistoryState::Applied.as_str();
        let ms = elapsed_ms(start);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&version, &step.name, &step.checksum, &state, &now_ms, &ms];
        self.finish_and_commit(&sql, &params, step.statements.len())
            .await?;
        Ok(times)
    }

    async fn revert(&mut self, step: &Step) -> Result<(), StatementFailure> {
        let sql = format!(
            "DELETE FROM {} WHERE version = $1",
            quote_ident(&self.history_table())
        );
        let version = i64::from(step.version);
        self.begin_and_run(&step.statements).await?;
        self.finish_and_commit(&sql, &[&version], step.statements.len())
            .await
    }

    async fn record(&mut self, row: &HistoryRow) -> Result<(), StorageError> {
        let sql = self.insert_history_sql();
        let version = i64::from(row.version);
        let state = row.state.as_str();
        self.query(
            &sql,
            &[
                &version,
                &row.name,
                &row.checksum,
                &state,
                &row.applied_at,
                &row.execution_ms,
            ],
        )
        .await
        .map(|_| ())
    }

    async fn forget(&mut self, version: u32) -> Result<(), StorageError> {
        let sql = format!(
            "DELETE FROM {} WHERE version = $1",
            quote_ident(&self.history_table())
        );
        self.query(&sql, &[&i64::from(version)]).await.map(|_| ())
    }

    async fn existing_tables(&mut self) -> Result<Vec<String>, StorageError> {
        let schema = self.target_schema().await?;
        let rows = self
            .query(
                "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = $1 ORDER BY tablename",
                &[&schema],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let name: String = r.try_get(0).map_err(|e| self.err(e))?;
            if name.starts_with(&self.prefix) {
                out.push(name);
            }
        }
        Ok(out)
    }

    async fn existing_columns(&mut self) -> Result<Vec<LiveColumn>, StorageError> {
        let schema = self.target_schema().await?;
        let rows = self
            .query(
                "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod) \
                 FROM pg_catalog.pg_attribute a \
                 JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 \
                   AND NOT a.attisdropped \
                 ORDER BY c.relname, a.attnum",
                &[&schema],
            )
            .await?;
        let rows = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(|e| self.err(e))?;
        Ok(LiveColumn::of_prefixed_tables(rows, &self.prefix, |t| {
            t.to_owned()
        }))
    }

    fn canonical_type(&self, declared: &str) -> String {
        canonical_type(declared)
    }
}

/// A declared type as `format_type` prints it: `VARCHAR(64)` is
/// `character varying(64)`, `CHAR(36)` `character(36)`, `INT` `integer`, `BOOL`
/// `boolean`; arrays keep their `[]`.
fn canonical_type(declared: &str) -> String {
    let t = declared.trim().to_ascii_lowercase();
    let (base, array) = match t.strip_suffix("[]") {
        Some(b) => (b.trim().to_owned(), "[]"),
        None => (t, ""),
    };
    let (name, args) = match base.find('(') {
        Some(i) => (base[..i].trim().to_owned(), base[i..].replace(' ', "")),
        None => (base.clone(), String::new()),
    };
    let name = match name.as_str() {
        "varchar" => "character varying",
        "char" => "character",
        "int" | "int4" => "integer",
        "int8" => "bigint",
        "int2" => "smallint",
        "bool" => "boolean",
        other => other,
    };
    format!("{name}{args}{array}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn canonical_types_match_format_type() {
        for (declared, printed) in [
            ("VARCHAR(64)", "character varying(64)"),
            ("CHAR(36)", "character(36)"),
            ("VARCHAR(128)[]", "character varying(128)[]"),
            ("BIGINT", "bigint"),
            ("INT", "integer"),
            ("BOOLEAN", "boolean"),
            ("TEXT", "text"),
        ] {
            assert_eq!(super::canonical_type(declared), printed);
        }
    }
}
