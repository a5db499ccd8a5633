//! [`SqliteConn`]: one pooled connection implementing [`storage_sql::Conn`].
//!
//! Writes are serialised in process by the pool's write lock: a statement that
//! writes outside a transaction holds it for that statement, a transaction holds it
//! from `BEGIN IMMEDIATE` to `COMMIT` or `ROLLBACK`. SQLite has one isolation level
//! (serialisable, one writer), so every isolation level gives the same guarantee and
//! named locks are covered by the write lock.

use crate::errors::{is_busy, map_db, to_storage};
use crate::pool::Shared;
use async_trait::async_trait;
use rusqlite::types::{Type, Value as SqlValue, ValueRef};
use rusqlite::{CachedStatement, Connection};
use sea_query::{OptionEnum, Value, Values};
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage_api::{Isolation, StorageError};
use storage_sql::{Cell, Conn, DbError, Row};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit};

/// Longest pause between two attempts at `BEGIN IMMEDIATE` while another process
/// holds the write lock.
const MAX_BEGIN_BACKOFF: Duration = Duration::from_millis(50);

/// A connection taken from the SQLite pool. Dropping it returns it to the pool,
/// rolling back first a transaction left open.
pub struct SqliteConn {
    /// Always `Some` until dropped.
    conn: Option<Connection>,
    /// The in-process write lock, held for the whole of a transaction.
    guard: Option<OwnedMutexGuard<()>>,
    /// Whether `begin` opened a transaction not yet committed or rolled back.
    in_tx: bool,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl std::fmt::Debug for SqliteConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteConn")
            .field("in_transaction", &self.in_tx)
            .finish_non_exhaustive()
    }
}

impl SqliteConn {
    pub(crate) fn new(conn: Connection, permit: OwnedSemaphorePermit, shared: Arc<Shared>) -> Self {
        Self {
            conn: Some(conn),
            guard: None,
            in_tx: false,
            shared,
            _permit: permit,
        }
    }

    /// The underlying connection.
    pub(crate) fn raw(&self) -> Result<&Connection, StorageError> {
        self.conn
            .as_ref()
            .ok_or_else(|| StorageError::query("the SQLite connection was already returned"))
    }

    /// Runs a script of statements without parameters (DDL, savepoints), under the
    /// write lock. Errors keep SQLite's full message (no constraint variants).
    pub(crate) async fn batch(&mut self, sql: &str) -> Result<(), StorageError> {
        let _guard = statement_guard(&self.shared, self.guard.is_some(), true).await?;
        self.raw()?.execute_batch(sql).map_err(to_storage)
    }

    /// Takes the write lock (in process, then SQLite's with `BEGIN IMMEDIATE`),
    /// waiting until `deadline` for both; false if either is still held elsewhere
    /// then. Another process's lock is polled with SQLite's busy handler off, so the
    /// wait never blocks the runtime thread.
    pub(crate) async fn begin_until(&mut self, deadline: Instant) -> Result<bool, StorageError> {
        if self.in_tx {
            return Err(StorageError::query(
                "a transaction is already open on this SQLite connection",
            ));
        }
        let Some(guard) = self.shared.write_lock_until(deadline).await else {
            return Ok(false);
        };
        let mut pause = Duration::from_millis(1);
        loop {
            let attempt = {
                let conn = self.raw()?;
                conn.busy_timeout(Duration::ZERO).map_err(to_storage)?;
                let r = conn.execute_batch("BEGIN IMMEDIATE");
                conn.busy_timeout(self.shared.busy_timeout())
                    .map_err(to_storage)?;
                r
            };
            match attempt {
                Ok(()) => {
                    self.guard = Some(guard);
                    self.in_tx = true;
                    return Ok(true);
                }
                Err(e) if is_busy(&e) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    tokio::time::sleep(pause.min(left)).await;
                    pause = (pause * 2).min(MAX_BEGIN_BACKOFF);
                }
                Err(e) => return Err(to_storage(e)),
            }
        }
    }

    fn end_tx(&mut self) {
        self.in_tx = false;
        self.guard = None;
    }
}

/// The write lock for one statement that `writes`, unless the connection's transaction
/// already `holds` it. Takes only the (`Sync`) shared state, so that the future stays
/// `Send` although a connection is not `Sync`.
async fn statement_guard(
    shared: &Shared,
    holds: bool,
    writes: bool,
) -> Result<Option<OwnedMutexGuard<()>>, StorageError> {
    if !writes || holds {
        return Ok(None);
    }
    shared.write_lock().await.map(Some)
}

/// Converts a sea-query value to a SQLite value.
fn to_sql(value: Value) -> Result<SqlValue, DbError> {
    fn int<T: Into<i64>>(v: Option<T>) -> SqlValue {
        v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into()))
    }
    Ok(match value {
        Value::Bool(v) => int(v),
        Value::TinyInt(v) => int(v),
        Value::SmallInt(v) => int(v),
        Value::Int(v) => int(v),
        Value::BigInt(v) => int(v),
        Value::TinyUnsigned(v) => int(v),
        Value::SmallUnsigned(v) => int(v),
        Value::Unsigned(v) => int(v),
        Value::BigUnsigned(None) => SqlValue::Null,
        Value::BigUnsigned(Some(n)) => SqlValue::Integer(i64::try_from(n).map_err(|_| {
            DbError::Other(StorageError::query(
                "an unsigned value does not fit in SQLite's 64-bit integer",
            ))
        })?),
        Value::Float(v) => v.map_or(SqlValue::Null, |f| SqlValue::Real(f.into())),
        Value::Double(v) => v.map_or(SqlValue::Null, SqlValue::Real),
        Value::String(v) => v.map_or(SqlValue::Null, SqlValue::Text),
        Value::Char(v) => v.map_or(SqlValue::Null, |c| SqlValue::Text(c.to_string())),
        Value::Bytes(v) => v.map_or(SqlValue::Null, SqlValue::Blob),
        Value::Enum(OptionEnum::Some(e)) => SqlValue::Text(e.value.into_owned()),
        Value::Enum(OptionEnum::None(_)) => SqlValue::Null,
        // Variants that other crates' sea-query features may add (JSON, dates, ...):
        // the shared operations bind only the types above.
        #[allow(unreachable_patterns)]
        _ => {
            return Err(DbError::Other(StorageError::query(
                "a value of a type the SQLite backend does not bind",
            )));
        }
    })
}

fn to_params(values: Values) -> Result<Vec<SqlValue>, DbError> {
    values.0.into_iter().map(to_sql).collect()
}

/// Prepares (from the cache) and binds every parameter.
fn prepare<'c>(
    conn: &'c Connection,
    sql: &str,
    params: &[SqlValue],
) -> rusqlite::Result<CachedStatement<'c>> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    Ok(stmt)
}

/// Binds every parameter of a prepared statement.
fn bind(stmt: &mut CachedStatement<'_>, params: &[SqlValue]) -> rusqlite::Result<()> {
    let expected = stmt.parameter_count();
    if expected != params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(
            params.len(),
            expected,
        ));
    }
    for (i, p) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, p)?;
    }
    Ok(())
}

fn run_execute(conn: &Connection, sql: &str, params: &[SqlValue]) -> rusqlite::Result<u64> {
    let mut stmt = prepare(conn, sql, params)?;
    let readonly = stmt.readonly();
    // Stepping through `Rows` also completes statements that return rows (RETURNING).
    let mut rows = stmt.raw_query();
    while rows.next()?.is_some() {}
    Ok(if readonly { 0 } else { conn.changes() })
}

fn cell(i: usize, v: ValueRef<'_>) -> rusqlite::Result<Cell> {
    Ok(match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        ValueRef::Text(t) => Cell::Text(
            std::str::from_utf8(t)
                .map_err(|e| rusqlite::Error::Utf8Error(i, e))?
                .to_owned(),
        ),
        // No column of the schema is REAL; an integral one (e.g. from arithmetic)
        // reads as an integer.
        ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Cell::Int(f as i64),
        ValueRef::Real(f) => Cell::Text(f.to_string()),
        ValueRef::Blob(b) => Cell::Text(
            String::from_utf8(b.to_vec())
                .map_err(|_| rusqlite::Error::InvalidColumnType(i, String::new(), Type::Blob))?,
        ),
    })
}

fn run_fetch(conn: &Connection, sql: &str, params: &[SqlValue]) -> rusqlite::Result<Vec<Row>> {
    rows(prepare(conn, sql, params)?)
}

/// Steps a bound statement and decodes every row.
fn rows(mut stmt: CachedStatement<'_>) -> rusqlite::Result<Vec<Row>> {
    let n = stmt.column_count();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(n);
        for i in 0..n {
            cells.push(cell(i, row.get_ref(i)?)?);
        }
        out.push(Row(cells));
    }
    Ok(out)
}

#[async_trait]
impl Conn for SqliteConn {
    async fn execute(&mut self, sql: &str, values: Values) -> Result<u64, DbError> {
        let params = to_params(values)?;
        let _guard = statement_guard(&self.shared, self.guard.is_some(), true).await?;
        run_execute(self.raw()?, sql, &params).map_err(map_db)
    }

    async fn fetch(&mut self, sql: &str, values: Values) -> Result<Vec<Row>, DbError> {
        let params = to_params(values)?;
        if self.guard.is_some() {
            // Inside a transaction, which already holds the write lock.
            return run_fetch(self.raw()?, sql, &params).map_err(map_db);
        }
        {
            // A read runs at once, on the statement just taken from the cache.
            let mut stmt = self.raw()?.prepare_cached(sql).map_err(map_db)?;
            if stmt.readonly() {
                bind(&mut stmt, &params).map_err(map_db)?;
                return rows(stmt).map_err(map_db);
            }
        }
        // A query that writes (`... RETURNING`) takes the write lock like `execute`.
        let _guard = statement_guard(&self.shared, false, true).await?;
        run_fetch(self.raw()?, sql, &params).map_err(map_db)
    }

    /// Takes the write lock and runs `BEGIN IMMEDIATE`, whatever `isolation` and
    /// `write` say: SQLite is serialisable, and taking the write lock up front means a
    /// transaction never fails half-way on an upgrade. `Retryable` if the lock is not
    /// obtained within the busy timeout.
    async fn begin(&mut self, _isolation: Isolation, _write: bool) -> Result<(), StorageError> {
        let timeout = self.shared.busy_timeout();
        if self.begin_until(Instant::now() + timeout).await? {
            Ok(())
        } else {
            Err(StorageError::Retryable {
                message: format!("the SQLite database stayed locked for {timeout:?}"),
                source: None,
            })
        }
    }

    async fn commit(&mut self) -> Result<(), StorageError> {
        if !self.in_tx {
            return Err(StorageError::query(
                "commit without an open transaction on this SQLite connection",
            ));
        }
        let result = {
            let conn = self.raw()?;
            match conn.execute_batch("COMMIT") {
                Ok(()) => Ok(()),
                Err(e) => {
                    if !conn.is_autocommit() {
                        // Leave the connection clean; `Drop` retries if this fails too.
                        let _ = conn.execute_batch("ROLLBACK");
                    }
                    Err(to_storage(e))
                }
            }
        };
        self.end_tx();
        result
    }

    async fn rollback(&mut self) -> Result<(), StorageError> {
        if !self.in_tx {
            return Ok(());
        }
        let result = {
            let conn = self.raw()?;
            if conn.is_autocommit() {
                // SQLite already rolled back (it does on some errors).
                Ok(())
            } else {
                conn.execute_batch("ROLLBACK").map_err(to_storage)
            }
        };
        self.end_tx();
        result
    }

    /// Nothing to do: the transaction already holds the database's only write lock.
    async fn named_lock(&mut self, _name: &str) -> Result<(), StorageError> {
        Ok(())
    }
}

impl Drop for SqliteConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let clean = conn.is_autocommit() || conn.execute_batch("ROLLBACK").is_ok();
            self.shared.release(conn, clean);
        }
        // The write lock and the pool permit are released after this, as the fields
        // drop: the connection is back in the pool before a waiter can take it.
    }
}
