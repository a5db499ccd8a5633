//! One pooled connection: statements bound from sea-query values, rows decoded to
//! [`Cell`]s, transactions and named locks (`GET_LOCK`, or on a Galera cluster a
//! row of the `named_locks` table written inside the transaction).

use crate::config::Health;
use crate::errors;
use crate::galera_tx;
use async_trait::async_trait;
use sea_query::Values;
use sea_query_sqlx::SqlxValues;
use sha2::{Digest, Sha256};
use sqlx::mysql::{MySql, MySqlRow};
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Decode, Row as _, TypeInfo, ValueRef};
use std::sync::Arc;
use std::time::Instant;
use storage_api::{ConnectionUri, Isolation, StorageError};
use storage_sql::{Cell, Conn, DbError, Row};
use tokio::sync::OwnedSemaphorePermit;

/// How long `named_lock` waits for a `GET_LOCK` before giving up with `Retryable`.
/// InnoDB cannot see a wait between a row lock and a user lock, so this bound is
/// what breaks such a cycle.
pub const NAMED_LOCK_TIMEOUT_SECS: u32 = 5;

/// State shared by the driver and its connections.
#[derive(Debug)]
pub struct Shared {
    /// The URI, to scrub messages.
    pub uri: ConnectionUri,
    /// Database name (lock names are scoped by it).
    pub database: String,
    /// Table prefix with its joiner.
    pub prefix: String,
    /// Connection-failure marker of the pool.
    pub health: Arc<Health>,
    /// Connections parked between operations, and the operation permits.
    pub parking: crate::park::Parking,
    /// The server is a Galera node: named locks are rows of the lock table
    /// ([`Shared::lock_row_sql`]), and errors are read by
    /// [`errors::classify_galera`].
    pub galera: bool,
}

impl Shared {
    /// Maps a driver error; a connection-level one marks the pool as suspect.
    pub fn classify(&self, err: sqlx::Error) -> DbError {
        if errors::is_connection_error(&err) {
            self.health.record_failure();
        }
        if self.galera {
            errors::classify_galera(err, &self.uri)
        } else {
            errors::classify(err, &self.uri)
        }
    }

    /// The statement that takes a named lock on a Galera cluster: it writes the
    /// lock's row of `{prefix}named_locks` ([`crate::config::ensure_lock_table`]),
    /// so the row lock excludes
    /// other holders on this node until commit, and Galera's certification aborts
    /// (error 1213, `Retryable`) a transaction that took it on another node
    /// concurrently.
    pub fn lock_row_sql(&self) -> String {
        format!(
            "INSERT INTO {}named_locks (name, taken) VALUES (?, 1) \
             ON DUPLICATE KEY UPDATE taken = taken + 1",
            self.prefix
        )
    }
}

/// The server-wide name of a named lock: `<database>.<prefix><name>`, hashed down to
/// MySQL's 64-character limit when longer (a readable head, `#`, 32 hex digits of
/// its SHA-256).
pub fn lock_name(database: &str, prefix: &str, name: &str) -> String {
    let full = format!("{database}.{prefix}{name}");
    if full.len() <= 64 {
        return full;
    }
    let digest = Sha256::digest(full.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let mut head_end = 31;
    while !full.is_char_boundary(head_end) {
        head_end -= 1;
    }
    format!("{}#{hex}", &full[..head_end])
}

/// A connection taken from the pool. Dropped inside a transaction, while holding
/// named locks or in the middle of a statement (a cancelled future, a failed commit),
/// it is closed instead of being returned, which rolls back and releases the locks on
/// the server and never hands on a connection whose answer is still unread.
pub struct MySqlConn {
    /// Always `Some` until dropped.
    conn: Option<PoolConnection<MySql>>,
    /// When the connection was first taken from sqlx's pool.
    born: Instant,
    shared: Arc<Shared>,
    in_tx: bool,
    locks: Vec<String>,
    broken: bool,
    /// A statement was sent and its answer not yet read to the end: set by
    /// [`Self::raw`], cleared by [`Self::settled`] once the statement's future
    /// returned. Still set at drop, the future was cancelled mid-statement: the
    /// connection may have an answer in flight (sqlx-mysql 0.9 was seen to panic
    /// reading such a connection) or a named lock granted but not recorded.
    busy: bool,
    /// The operation permit; released after the connection is parked.
    _permit: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for MySqlConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlConn")
            .field("in_tx", &self.in_tx)
            .field("locks", &self.locks)
            .field("broken", &self.broken)
            .field("busy", &self.busy)
            .finish()
    }
}

impl Drop for MySqlConn {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.in_tx || !self.locks.is_empty() || self.broken || self.busy {
            conn.close_on_drop();
        } else {
            // Parked rather than returned: sqlx would ping it on the way back.
            self.shared.parking.park(conn, self.born);
        }
    }
}

fn isolation_sql(isolation: Isolation) -> &'static str {
    match isolation {
        Isolation::Default | Isolation::ReadCommitted => {
            "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION"
        }
        Isolation::RepeatableRead => {
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; START TRANSACTION"
        }
        Isolation::Serializable => {
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; START TRANSACTION"
        }
    }
}

impl MySqlConn {
    /// Wraps a pooled connection.
    pub fn new(conn: PoolConnection<MySql>, shared: Arc<Shared>) -> Self {
        Self::pooled(conn, Instant::now(), None, shared)
    }

    /// Wraps a pooled connection taken with an operation permit.
    pub(crate) fn pooled(
        conn: PoolConnection<MySql>,
        born: Instant,
        permit: Option<OwnedSemaphorePermit>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            conn: Some(conn),
            born,
            shared,
            in_tx: false,
            locks: Vec::new(),
            broken: false,
            busy: false,
            _permit: permit,
        }
    }

    /// The connection, for one statement: marks the connection busy until
    /// [`Self::settled`] is called with the statement's outcome.
    fn raw(&mut self) -> &mut sqlx::mysql::MySqlConnection {
        self.busy = true;
        self.conn
            .as_mut()
            .expect("the connection is present until drop")
    }

    /// The outcome of the statement [`Self::raw`] was taken for: its future returned,
    /// so the connection is no longer mid-statement.
    fn settled<T>(&mut self, outcome: T) -> T {
        self.busy = false;
        outcome
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.in_tx
    }

    /// The named locks held (server-wide names).
    pub fn held_locks(&self) -> &[String] {
        &self.locks
    }

    fn fail(&mut self, err: sqlx::Error) -> DbError {
        if errors::is_connection_error(&err) {
            self.broken = true;
        }
        self.shared.classify(err)
    }

    async fn simple(&mut self, sql: &str) -> Result<(), StorageError> {
        let outcome = sqlx::raw_sql(AssertSqlSafe(sql)).execute(self.raw()).await;
        match self.settled(outcome) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e).into_storage()),
        }
    }

    /// Releases every named lock held, in one statement. On failure the connection
    /// is marked broken: closing it releases the locks on the server.
    async fn release_locks(&mut self) {
        if self.locks.is_empty() {
            return;
        }
        let placeholders = vec!["RELEASE_LOCK(?)"; self.locks.len()].join(", ");
        let mut q = sqlx::query(AssertSqlSafe(format!("SELECT {placeholders}"))).persistent(false);
        for name in &self.locks {
            q = q.bind(name.clone());
        }
        let outcome = q.execute(self.raw()).await;
        match self.settled(outcome) {
            Ok(_) => self.locks.clear(),
            Err(e) => {
                let e = self.fail(e).into_storage();
                tracing::warn!(error = %e, "releasing named locks failed; closing the connection");
                self.broken = true;
            }
        }
    }
}

/// What a statement returned: the rows it affected, or its rows.
enum Ran {
    Affected(u64),
    Rows(Vec<MySqlRow>),
}

impl MySqlConn {
    /// Runs a statement (`fetch`: for its rows), again after a lost certification
    /// conflict of an autocommit statement on Galera ([`Self::autocommit_conflict`]).
    async fn run(&mut self, sql: &str, values: Values, fetch: bool) -> Result<Ran, DbError> {
        if self.shared.galera && self.in_tx && fetch && sql.trim_end().ends_with("FOR UPDATE") {
            self.lock_locking_read(sql, &values)
                .await
                .map_err(DbError::Other)?;
        }
        let mut attempt = 0;
        let mut values = Some(values);
        loop {
            attempt += 1;
            let (now, spare) = self.values_for_attempt(&mut values);
            let q = sqlx::query_with(AssertSqlSafe(sql), SqlxValues(now));
            let out = if fetch {
                q.fetch_all(self.raw()).await.map(Ran::Rows)
            } else {
                q.execute(self.raw())
                    .await
                    .map(|r| Ran::Affected(r.rows_affected()))
            };
            let out = self.settled(out);
            match out {
                Ok(ran) => return Ok(ran),
                Err(e) => {
                    self.autocommit_conflict(e, attempt).await?;
                    values = spare;
                }
            }
        }
    }

    /// Before a locking read (`SELECT ... FOR UPDATE`) in a transaction on a Galera
    /// node: row locks are not replicated, so two transactions on different nodes
    /// could both read the same rows "locked" and act on them. The read's lock row
    /// (named by a digest of the statement and its values) is written first, as a
    /// named lock: transactions that run the same locking read conflict on it, on
    /// one node by InnoDB's row lock, across nodes by certification (the later one
    /// is aborted and runs again).
    async fn lock_locking_read(&mut self, sql: &str, values: &Values) -> Result<(), StorageError> {
        let digest = Sha256::digest(format!("{sql}\0{values:?}").as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let name = format!("for_update/{hex}");
        let full = lock_name(&self.shared.database, &self.shared.prefix, &name);
        self.lock_row(&name, full).await
    }

    /// The values of one attempt of a statement, and a copy for the next attempt
    /// when one may follow (an autocommit statement on a Galera node).
    fn values_for_attempt(&self, values: &mut Option<Values>) -> (Values, Option<Values>) {
        let now = values.take().unwrap_or(Values(Vec::new()));
        let spare = (self.shared.galera && !self.in_tx).then(|| now.clone());
        (now, spare)
    }

    /// Whether a failed statement runs again: on a Galera node, an autocommit
    /// statement that lost a certification conflict (error 1213) was rolled back as a
    /// whole, so it runs again after the transactions' jittered backoff, up to
    /// `TxOptions::default().max_attempts` attempts, as a transaction would be. `Ok`
    /// after the pause; otherwise the statement's error.
    async fn autocommit_conflict(&mut self, e: sqlx::Error, attempt: u32) -> Result<(), DbError> {
        let options = storage_api::TxOptions::default();
        let again = self.shared.galera
            && !self.in_tx
            && attempt < options.max_attempts
            && errors::error_number(&e) == Some(errors::ER_LOCK_DEADLOCK);
        if !again {
            return Err(self.fail(e));
        }
        tracing::debug!(
            attempt,
            "Galera conflict on an autocommit statement; retrying"
        );
        tokio::time::sleep(options.backoff(attempt)).await;
        Ok(())
    }

    /// Commit on a Galera node ([`galera_tx`]): releases the transaction's
    /// savepoint, commits, turns autocommit back on, in one round trip. A missing
    /// savepoint (the transaction was aborted without an error) or a lost
    /// certification (1213) rolls back what is open and is `Retryable`, the
    /// connection stays usable; any other failure leaves the outcome unknown and the
    /// connection is closed.
    async fn commit_galera(&mut self) -> Result<(), StorageError> {
        let result = sqlx::raw_sql(galera_tx::COMMIT_SQL)
            .execute(self.raw())
            .await;
        let result = self.settled(result);
        self.in_tx = false;
        let Err(e) = result else {
            return Ok(());
        };
        let number = errors::error_number(&e);
        let err = if number == Some(galera_tx::ER_SP_DOES_NOT_EXIST) {
            tracing::warn!("Galera aborted a transaction without an error; it runs again");
            galera_tx::lost_transaction()
        } else {
            self.fail(e).into_storage()
        };
        let rolled_back = matches!(
            number,
            Some(galera_tx::ER_SP_DOES_NOT_EXIST | errors::ER_LOCK_DEADLOCK)
        );
        if !rolled_back || self.simple(galera_tx::ROLLBACK_SQL).await.is_err() {
            self.broken = true;
        }
        Err(err)
    }

    /// A named lock on a Galera cluster: the lock's row written inside the open
    /// transaction (see [`Shared::lock_row_sql`]); held until commit or rollback,
    /// re-entrant (the transaction already holds the row). Waiting longer than
    /// `innodb_lock_wait_timeout` for a holder on this node, or losing to a holder on
    /// another node, is `Retryable`.
    async fn lock_row(&mut self, name: &str, full: String) -> Result<(), StorageError> {
        if !self.in_tx {
            return Err(StorageError::query(format!(
                "named lock `{name}` requested outside a transaction"
            )));
        }
        let sql = self.shared.lock_row_sql();
        let outcome = sqlx::query(AssertSqlSafe(sql))
            .bind(full)
            .execute(self.raw())
            .await;
        match self.settled(outcome) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e).into_storage()),
        }
    }
}

/// Decodes one column value.
fn decode_cell(value: sqlx::mysql::MySqlValueRef<'_>, index: usize) -> Result<Cell, StorageError> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    let type_name = value.type_info().name().to_owned();
    let bad = |e: sqlx::error::BoxDynError| {
        StorageError::query(format!("column {index} ({type_name}): cannot decode: {e}"))
    };
    match type_name.as_str() {
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
            <i64 as Decode<MySql>>::decode(value)
                .map(Cell::Int)
                .map_err(bad)
        }
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" | "BIT" => {
            let n = <u64 as Decode<MySql>>::decode(value).map_err(bad)?;
            i64::try_from(n).map(Cell::Int).map_err(|_| {
                StorageError::query(format!(
                    "column {index} ({type_name}): value {n} does not fit in i64"
                ))
            })
        }
        "FLOAT" | "DOUBLE" => {
            let f = <f64 as Decode<MySql>>::decode(value).map_err(bad)?;
            Ok(Cell::Text(f.to_string()))
        }
        "DECIMAL" => {
            let s = <&str as Decode<MySql>>::decode(value).map_err(bad)?;
            Ok(s.parse::<i64>()
                .map(Cell::Int)
                .unwrap_or_else(|_| Cell::Text(s.to_owned())))
        }
        "DATE" | "TIME" | "DATETIME" | "TIMESTAMP" | "GEOMETRY" => Err(StorageError::query(
            format!("column {index}: type {type_name} is not used by this storage"),
        )),
        // CHAR, VARCHAR, TEXT kinds, JSON, ENUM, SET; columns with a `_bin` collation
        // carry the BINARY flag and are named BINARY / VARBINARY / BLOB by the driver.
        _ => {
            let bytes = <&[u8] as Decode<MySql>>::decode(value).map_err(bad)?;
            String::from_utf8(bytes.to_vec())
                .map(Cell::Text)
                .map_err(|_| {
                    StorageError::query(format!("column {index} ({type_name}) is not UTF-8"))
                })
        }
    }
}

/// Decodes a fetched row.
pub fn decode_row(row: &MySqlRow) -> Result<Row, StorageError> {
    let mut cells = Vec::with_capacity(row.len());
    for i in 0..row.len() {
        let value = row
            .try_get_raw(i)
            .map_err(|e| StorageError::query(format!("column {i}: {e}")))?;
        cells.push(decode_cell(value, i)?);
    }
    Ok(Row(cells))
}

#[async_trait]
impl Conn for MySqlConn {
    async fn execute(&mut self, sql: &str, values: Values) -> Result<u64, DbError> {
        match self.run(sql, values, false).await? {
            Ran::Affected(n) => Ok(n),
            Ran::Rows(rows) => Ok(rows.len() as u64),
        }
    }

    async fn fetch(&mut self, sql: &str, values: Values) -> Result<Vec<Row>, DbError> {
        match self.run(sql, values, true).await? {
            Ran::Rows(rows) => rows
                .iter()
                .map(decode_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(DbError::Other),
            Ran::Affected(_) => Ok(Vec::new()),
        }
    }

    async fn begin(&mut self, isolation: Isolation, _write: bool) -> Result<(), StorageError> {
        if self.in_tx {
            return Err(StorageError::query(
                "a transaction is already open on this connection",
            ));
        }
        // Marked open before the statement is sent: if this future is dropped while
        // START TRANSACTION is in flight, the server may have started the
        // transaction, and `Drop` must close the connection rather than pool it
        // inside a transaction (its next statements would never be committed).
        self.in_tx = true;
        let sql = if self.shared.galera {
            galera_tx::begin_sql(isolation_sql(isolation))
        } else {
            isolation_sql(isolation).to_owned()
        };
        if let Err(e) = self.simple(&sql).await {
            // Unknown state (the first statement may have run): never reuse it.
            self.in_tx = false;
            self.broken = true;
            return Err(e);
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), StorageError> {
        if self.shared.galera {
            return self.commit_galera().await;
        }
        let result = sqlx::raw_sql("COMMIT").execute(self.raw()).await;
        let result = self.settled(result);
        self.in_tx = false;
        if let Err(e) = result {
            // A deadlock (on Galera: a lost certification) rolled the transaction
            // back and left the session usable; in any other case the state is
            // unknown: never reuse this connection, closing it releases the locks.
            if errors::error_number(&e) == Some(errors::ER_LOCK_DEADLOCK) {
                let e = self.fail(e).into_storage();
                self.release_locks().await;
                return Err(e);
            }
            let e = self.fail(e).into_storage();
            self.broken = true;
            return Err(e);
        }
        // Committed: a failure to release is handled by closing, never reported as
        // a failed commit (the caller would run the transaction again).
        self.release_locks().await;
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), StorageError> {
        let sql = if self.shared.galera {
            galera_tx::ROLLBACK_SQL
        } else {
            "ROLLBACK"
        };
        let result = self.simple(sql).await;
        self.in_tx = false;
        if result.is_err() {
            self.broken = true;
        }
        self.release_locks().await;
        result
    }

    async fn named_lock(&mut self, name: &str) -> Result<(), StorageError> {
        let full = lock_name(&self.shared.database, &self.shared.prefix, name);
        if self.shared.galera {
            return self.lock_row(name, full).await;
        }
        if self.locks.contains(&full) {
            return Ok(());
        }
        let got = sqlx::query(AssertSqlSafe("SELECT GET_LOCK(?, ?)"))
            .bind(full.clone())
            .bind(NAMED_LOCK_TIMEOUT_SECS)
            .fetch_one(self.raw())
            .await;
        let got = match self.settled(got) {
            Ok(row) => decode_row(&row).map(|r| r.0.into_iter().next()),
            Err(e) => return Err(self.fail(e).into_storage()),
        };
        match got? {
            Some(Cell::Int(1)) => {
                self.locks.push(full);
                Ok(())
            }
            Some(Cell::Int(_)) => Err(StorageError::Retryable {
                message: format!(
                    "named lock `{name}` not obtained within {NAMED_LOCK_TIMEOUT_SECS} s"
                ),
                source: None,
            }),
            other => Err(StorageError::query(format!(
                "GET_LOCK for `{name}` returned {other:?} (error or killed)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names() {
        assert_eq!(lock_name("test", "st_", "kv:a"), "test.st_kv:a");
        let long = lock_name(
            "t_0123456789abcdef0123456789abcdef",
            "prefix_",
            &"x".repeat(80),
        );
        assert!(long.len() <= 64, "{long}");
        assert_ne!(
            long,
            lock_name(
                "t_0123456789abcdef0123456789abcdef",
                "prefix_",
                &"x".repeat(81)
            )
        );
        let uni = lock_name("db", "", &"é".repeat(60));
        assert!(uni.len() <= 64 && uni.contains('#'));
    }
}
