//! The MySQL [`MigrationDriver`]: one dedicated connection, a `GET_LOCK` migration
//! lock (on a Galera cluster, where `GET_LOCK` is node-local, a lease row in
//! `{prefix}schema_migrations_lock`), the `{prefix}schema_migrations` history
//! table, and non-transactional DDL (a `started` row first, then the statements,
//! then `applied`).

use crate::config::Settings;
use crate::conn::{decode_row, lock_name};
use crate::errors;
use crate::migrations::MIGRATIONS;
use async_trait::async_trait;
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection};
use std::time::{Duration, Instant};
use storage_api::migrate::{
    HistoryRow, HistoryState, LiveColumn, Migration, StatementFailure, Step,
};
use storage_api::{MigrationDriver, StorageError};
use storage_sql::{Cell, Row};

/// The migration driver on its own connection (not from the pool: the `GET_LOCK`
/// lock belongs to the session).
pub struct MySqlMigrationDriver {
    conn: Option<MySqlConnection>,
    settings: Settings,
    prefix: String,
    lock: String,
    /// On a Galera node: the owner token of the lease row while it is held.
    galera: Option<Option<String>>,
}

/// How long a Galera migration lease lasts: a migrator that dies holding it blocks
/// the others until then.
const GALERA_LEASE_MS: i64 = 10 * 60 * 1000;

impl std::fmt::Debug for MySqlMigrationDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlMigrationDriver")
            .field("uri", &self.settings.uri)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl MySqlMigrationDriver {
    /// Wraps a dedicated connection.
    pub fn new(conn: MySqlConnection, settings: Settings, prefix: String, galera: bool) -> Self {
        let lock = lock_name(&settings.database, &prefix, "migrate");
        Self {
            conn: Some(conn),
            settings,
            prefix,
            lock,
            galera: galera.then_some(None),
        }
    }

    fn lease_table(&self) -> String {
        format!("{}schema_migrations_lock", self.prefix)
    }

    /// The migration lock on a Galera cluster: a lease row (id 1) in
    /// `{prefix}schema_migrations_lock` (created if missing; DDL is replicated in
    /// total order, so concurrent creations are safe), taken when absent or
    /// expired. Concurrent takers on different nodes write the same row, so Galera
    /// certifies at most one of them; the others see its row and wait. Polled until
    /// `timeout`.
    async fn galera_lock(&mut self, timeout: Duration) -> Result<bool, StorageError> {
        let table = self.lease_table();
        self.run_text(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
             id INT NOT NULL PRIMARY KEY, \
             owner CHAR(36) NOT NULL, \
             expires_at BIGINT NOT NULL\
             ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
        ))
        .await?;
        let owner = self.fetch("SELECT UUID()".into(), Vec::new()).await?;
        let owner = owner
            .first()
            .ok_or_else(|| StorageError::query("UUID() returned no row"))?
            .text(0)?;
        let now = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";
        let take = format!(
            "INSERT INTO {table} (id, owner, expires_at) VALUES (1, ?, {now} + ?) \
             ON DUPLICATE KEY UPDATE \
             owner = IF(expires_at < {now}, VALUES(owner), owner), \
             expires_at = IF(expires_at < {now}, VALUES(expires_at), expires_at)"
        );
        let deadline = Instant::now() + timeout;
        loop {
            let taken = self
                .exec(
                    take.clone(),
                    vec![
                        BindValue::Text(owner.clone()),
                        BindValue::Int(GALERA_LEASE_MS),
                    ],
                )
                .await;
            match taken {
                Ok(_) => {
                    let rows = self
                        .fetch(
                            format!("SELECT owner FROM {table} WHERE id = 1"),
                            Vec::new(),
                        )
                        .await?;
                    if rows.first().map(|r| r.text(0)).transpose()?.as_deref() == Some(&owner) {
                        self.galera = Some(Some(owner));
                        return Ok(true);
                    }
                }
                // Lost a certification conflict to another taker: look again.
                Err(e) if e.is_retryable() => {}
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
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
        self.statement(sql, &[], Protocol::Text).await.map(|_| ())
    }

    async fn fetch(
        &mut self,
        sql: String,
        binds: Vec<BindValue>,
    ) -> Result<Vec<Row>, StorageError> {
        match self.statement(&sql, &binds, Protocol::Fetch).await? {
            Output::Rows(rows) => Ok(rows),
            Output::Affected(_) => Ok(Vec::new()),
        }
    }

    async fn exec(&mut self, sql: String, binds: Vec<BindValue>) -> Result<u64, StorageError> {
        match self.statement(&sql, &binds, Protocol::Exec).await? {
            Output::Affected(n) => Ok(n),
            Output::Rows(_) => Ok(0),
        }
    }

    /// Runs one statement, again (up to [`RETRIES`] times, after a short pause) when
    /// it fails with a `Retryable` error: a deadlock, a lock-wait timeout, or on a
    /// Galera node a certification conflict or an abort by a replicated transaction.
    /// Every statement of the driver runs alone in autocommit (MySQL DDL commits
    /// implicitly, so a migration is never one transaction here), hence a statement
    /// that failed that way was rolled back whole and running it again is what the
    /// server's own message asks for. Without this, `migrate up` on a Galera node
    /// failed whenever one of its statements lost such a conflict to the cluster's
    /// other traffic.
    async fn statement(
        &mut self,
        sql: &str,
        binds: &[BindValue],
        protocol: Protocol,
    ) -> Result<Output, StorageError> {
        let mut attempt = 0;
        loop {
            match self.statement_once(sql, binds, protocol).await {
                Err(e) if e.is_retryable() && attempt < RETRIES => {
                    attempt += 1;
                    tracing::warn!(
                        attempt,
                        error = %e,
                        "a migration statement lost a lock conflict; running it again"
                    );
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                }
                result => return result,
            }
        }
    }

    async fn statement_once(
        &mut self,
        sql: &str,
        binds: &[BindValue],
        protocol: Protocol,
    ) -> Result<Output, StorageError> {
        let result = match protocol {
            Protocol::Text => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(self.conn()?)
                .await
                .map(|r| Output::Affected(r.rows_affected())),
            Protocol::Fetch | Protocol::Exec => {
                let mut q = sqlx::query(AssertSqlSafe(sql.to_owned())).persistent(false);
                for b in binds {
                    q = match b {
                        BindValue::Text(s) => q.bind(s.clone()),
                        BindValue::Int(n) => q.bind(*n),
                    };
                }
                if matches!(protocol, Protocol::Fetch) {
                    match q.fetch_all(self.conn()?).await {
                        Ok(rows) => Ok(Output::Rows(
                            rows.iter().map(decode_row).collect::<Result<_, _>>()?,
                        )),
                        Err(e) => Err(e),
                    }
                } else {
                    q.execute(self.conn()?)
                        .await
                        .map(|r| Output::Affected(r.rows_affected()))
                }
            }
        };
        result.map_err(|e| self.map(e))
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

    /// Runs the statements of `step` in order, returning how long each took.
    async fn run_statements(&mut self, step: &Step) -> Result<Vec<Duration>, StatementFailure> {
        let mut times = Vec::with_capacity(step.statements.len());
        for (index, stmt) in step.statements.iter().enumerate() {
            let started = Instant::now();
            self.run_text(stmt)
                .await
                .map_err(|error| StatementFailure { index, error })?;
            times.push(started.elapsed());
        }
        Ok(times)
    }

    /// The statements that give the database and every table with the prefix the
    /// binary collation, each with its note; empty when they all have it.
    async fn binary_collation(&mut self) -> Result<Vec<(String, Option<String>)>, StorageError> {
        let mut out = Vec::new();
        let rows = self
            .fetch(
                "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
                 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()"
                    .into(),
                Vec::new(),
            )
            .await?;
        if let Some(r) = rows.first() {
            let collation = r.text(1)?;
            if collation != BINARY_COLLATION {
                out.push((
                    format!("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE {BINARY_COLLATION}"),
                    Some(format!(
                        "database default collation {collation} -> {BINARY_COLLATION}"
                    )),
                ));
            }
        }
        // Tables whose own collation, or that of any of their text columns, differs.
        let rows = self
            .fetch(
                "SELECT t.TABLE_NAME, t.TABLE_COLLATION, \
                   (SELECT COUNT(*) FROM information_schema.COLUMNS c \
                     WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME \
                       AND c.COLLATION_NAME IS NOT NULL AND c.COLLATION_NAME <> ?) \
                 FROM information_schema.TABLES t \
                 WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' \
                 ORDER BY t.TABLE_NAME"
                    .into(),
                vec![BindValue::Text(BINARY_COLLATION.into())],
            )
            .await?;
        let mut tables = Vec::new();
        for r in &rows {
            let name = r.text(0)?;
            let collation = r.opt_text(1)?.unwrap_or_default();
            if name.starts_with(&self.prefix) && (collation != BINARY_COLLATION || r.int(2)? > 0) {
                tables.push((name, collation));
            }
        }
        if tables.is_empty() {
            return Ok(out);
        }
        // MariaDB refuses to change a column that a foreign key uses, even with the
        // checks off: the foreign keys on either side of a rebuilt table are dropped
        // first and added back, under their own names, once every table has the
        // binary collation (the same bytes, so they still match; with the checks off
        // the rows are not scanned again). Their indexes stay.
        let names: Vec<&str> = tables.iter().map(|(n, _)| n.as_str()).collect();
        let fks = self.foreign_keys_touching(&names).await?;
        out.push(("SET foreign_key_checks = 0".into(), None));
        for fk in &fks {
            out.push((
                format!(
                    "ALTER TABLE {} DROP FOREIGN KEY {}",
                    quoted(&fk.table),
                    quoted(&fk.name)
                ),
                None,
            ));
        }
        for (name, collation) in &tables {
            out.push((
                format!(
                    "ALTER TABLE {} CONVERT TO CHARACTER SET utf8mb4 COLLATE {BINARY_COLLATION}",
                    quoted(name)
                ),
                Some(format!("rebuild {name}: {collation} -> {BINARY_COLLATION}")),
            ));
        }
        for fk in &fks {
            out.push((fk.add_statement(), None));
        }
        out.push(("SET foreign_key_checks = 1".into(), None));
        Ok(out)
    }
}

/// One foreign key as `information_schema` describes it.
struct ForeignKey {
    table: String,
    name: String,
    columns: Vec<String>,
    referenced_table: String,
    referenced_columns: Vec<String>,
    on_delete: String,
    on_update: String,
}

impl ForeignKey {
    /// The statement that adds it back as it was.
    fn add_statement(&self) -> String {
        let list = |cols: &[String]| {
            cols.iter()
                .map(|c| quoted(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}",
            quoted(&self.table),
            quoted(&self.name),
            list(&self.columns),
            quoted(&self.referenced_table),
            list(&self.referenced_columns),
            rule(&self.on_delete),
            rule(&self.on_update),
        )
    }
}

/// A referential action as SQL accepts it back.
fn rule(r: &str) -> &'static str {
    match r {
        "CASCADE" => "CASCADE",
        "SET NULL" => "SET NULL",
        "SET DEFAULT" => "SET DEFAULT",
        "NO ACTION" => "NO ACTION",
        _ => "RESTRICT",
    }
}

/// `name` as a quoted identifier.
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The collation of every table: bytes compared, as on PostgreSQL.
const BINARY_COLLATION: &str = "utf8mb4_bin";

/// The statement of a migration template that [`MySqlMigrationDriver::expand`] replaces
/// with the collation conversion.
const BINARY_COLLATION_PLACEHOLDER: &str = "{binary_collation}";

impl MySqlMigrationDriver {
    /// The foreign keys of this database declared on, or referencing, one of `tables`.
    async fn foreign_keys_touching(
        &mut self,
        tables: &[&str],
    ) -> Result<Vec<ForeignKey>, StorageError> {
        let rows = self
            .fetch(
                "SELECT rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.REFERENCED_TABLE_NAME, \
                   rc.DELETE_RULE, rc.UPDATE_RULE, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME \
                 FROM information_schema.REFERENTIAL_CONSTRAINTS rc \
                 JOIN information_schema.KEY_COLUMN_USAGE k \
                   ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = rc.TABLE_NAME \
                  AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME \
                 WHERE rc.CONSTRAINT_SCHEMA = DATABASE() \
                 ORDER BY rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION"
                    .into(),
                Vec::new(),
            )
            .await?;
        let mut out: Vec<ForeignKey> = Vec::new();
        for r in &rows {
            let (table, name) = (r.text(0)?, r.text(1)?);
            let referenced_table = r.text(2)?;
            if !tables.contains(&table.as_str()) && !tables.contains(&referenced_table.as_str()) {
                continue;
            }
            match out.last_mut() {
                Some(fk) if fk.table == table && fk.name == name => {
                    fk.columns.push(r.text(5)?);
                    fk.referenced_columns.push(r.text(6)?);
                }
                _ => out.push(ForeignKey {
                    table,
                    name,
                    columns: vec![r.text(5)?],
                    referenced_table,
                    referenced_columns: vec![r.text(6)?],
                    on_delete: r.text(3)?,
                    on_update: r.text(4)?,
                }),
            }
        }
        Ok(out)
    }
}

enum BindValue {
    Text(String),
    Int(i64),
}

/// How [`MySqlMigrationDriver::statement`] sends a statement.
#[derive(Clone, Copy)]
enum Protocol {
    /// Text protocol, no binds (DDL).
    Text,
    /// Prepared, rows returned.
    Fetch,
    /// Prepared, rows affected returned.
    Exec,
}

/// What a statement returned.
enum Output {
    Rows(Vec<Row>),
    Affected(u64),
}

/// How many times [`MySqlMigrationDriver::statement`] runs a statement again after a
/// `Retryable` failure before returning it.
const RETRIES: u32 = 5;

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
impl MigrationDriver for MySqlMigrationDriver {
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
        if self.galera.is_some() {
            return self.galera_lock(timeout).await;
        }
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
        if let Some(owner) = &mut self.galera {
            let Some(owner) = owner.take() else {
                return Ok(());
            };
            let sql = format!(
                "DELETE FROM {} WHERE id = 1 AND owner = ?",
                self.lease_table()
            );
            return self
                .exec(sql, vec![BindValue::Text(owner)])
                .await
                .map(|_| ());
        }
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

    async fn apply(&mut self, step: &Step, now_ms: i64) -> Result<Vec<Duration>, StatementFailure> {
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
        let times = self.run_statements(step).await?;
        row.state = HistoryState::Applied;
        row.execution_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.write_row(&row)
            .await
            .map_err(|error| StatementFailure {
                index: step.statements.len().saturating_sub(1),
                error,
            })?;
        Ok(times)
    }

    async fn expand(&mut self, step: Step) -> Result<Step, StorageError> {
        if !step
            .statements
            .iter()
            .any(|s| s.trim() == BINARY_COLLATION_PLACEHOLDER)
        {
            return Ok(step);
        }
        let conversion = self.binary_collation().await?;
        let mut statements = Vec::with_capacity(step.statements.len() + conversion.len());
        let mut notes = Vec::new();
        for s in step.statements {
            if s.trim() == BINARY_COLLATION_PLACEHOLDER {
                for (sql, note) in &conversion {
                    if let Some(n) = note {
                        notes.push((statements.len(), n.clone()));
                    }
                    statements.push(sql.clone());
                }
            } else {
                statements.push(s);
            }
        }
        Ok(Step {
            statements,
            notes,
            ..step
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

    async fn existing_columns(&mut self) -> Result<Vec<LiveColumn>, StorageError> {
        let rows = self
            .fetch(
                "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE \
                 FROM information_schema.COLUMNS c \
                 JOIN information_schema.TABLES t \
                   ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
                 WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' \
                 ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION"
                    .into(),
                Vec::new(),
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

/// A column type in one form for MySQL 8 and MariaDB, declared or as `COLUMN_TYPE`
/// reports it: lower case, `BOOLEAN` as `tinyint(1)`, `INTEGER` as `int`, and no
/// display width on the other integer types (MariaDB prints `bigint(20) unsigned`,
/// MySQL 8 `bigint unsigned`).
fn canonical_type(declared: &str) -> String {
    let t = declared
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    if t == "boolean" || t == "bool" {
        return "tinyint(1)".into();
    }
    let (head, tail) = match t.find(' ') {
        Some(i) => (&t[..i], &t[i..]),
        None => (t.as_str(), ""),
    };
    let (name, width) = match head.find('(') {
        Some(i) => (&head[..i], &head[i..]),
        None => (head, ""),
    };
    let name = if name == "integer" { "int" } else { name };
    let keeps_width = !matches!(name, "bigint" | "int" | "smallint" | "mediumint")
        || (name == "tinyint" && width == "(1)");
    let width = if keeps_width { width } else { "" };
    format!("{name}{width}{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn declared_and_reported_types_meet() {
        for (a, b) in [
            ("BIGINT UNSIGNED", "bigint(20) unsigned"),
            ("BIGINT UNSIGNED", "bigint unsigned"),
            ("INT UNSIGNED", "int(10) unsigned"),
            ("BOOLEAN", "tinyint(1)"),
            ("VARCHAR(64)", "varchar(64)"),
            ("CHAR(36)", "char(36)"),
            ("TEXT", "text"),
            ("BIGINT", "bigint(20)"),
        ] {
            assert_eq!(
                super::canonical_type(a),
                super::canonical_type(b),
                "{a} / {b}"
            );
        }
        assert_ne!(
            super::canonical_type("TEXT"),
            super::canonical_type("varchar(64)")
        );
    }
}
