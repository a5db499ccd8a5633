//! One pooled connection: binds sea-query values by the parameter types the server
//! inferred, decodes rows to [`Cell`]s by column type, and runs transactions and
//! advisory locks.

use crate::Shared;
use crate::errors::{db_error, storage_error};
use async_trait::async_trait;
use bytes::{BufMut, BytesMut};
use deadpool_postgres::{Object, tokio_postgres};
use sea_query::{OptionEnum, Value, Values};
use std::error::Error as StdError;
use std::sync::Arc;
use storage_api::{Isolation, StorageError};
use storage_sql::{Cell, Conn, DbError, Row};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

type BoxError = Box<dyn StdError + Sync + Send>;

// ---------------------------------------------------------------- binding

/// A sea-query value bound to a parameter whose type the server inferred when the
/// statement was prepared. The value is converted to that type where this is
/// lossless (an `i64` into an `INTEGER` parameter if it fits, a JSON array text into
/// a `VARCHAR[]` parameter, a number into a text parameter); anything else is an
/// error, never a silent coercion.
#[derive(Debug)]
pub(crate) struct Param<'a>(pub &'a Value);

fn is_null(v: &Value) -> bool {
    match v {
        Value::Bool(x) => x.is_none(),
        Value::TinyInt(x) => x.is_none(),
        Value::SmallInt(x) => x.is_none(),
        Value::Int(x) => x.is_none(),
        Value::BigInt(x) => x.is_none(),
        Value::TinyUnsigned(x) => x.is_none(),
        Value::SmallUnsigned(x) => x.is_none(),
        Value::Unsigned(x) => x.is_none(),
        Value::BigUnsigned(x) => x.is_none(),
        Value::Float(x) => x.is_none(),
        Value::Double(x) => x.is_none(),
        Value::String(x) => x.is_none(),
        Value::Enum(OptionEnum::None(_)) => true,
        Value::Enum(_) => false,
        Value::Char(x) => x.is_none(),
        Value::Bytes(x) => x.is_none(),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::TinyInt(Some(x)) => Some(i64::from(*x)),
        Value::SmallInt(Some(x)) => Some(i64::from(*x)),
        Value::Int(Some(x)) => Some(i64::from(*x)),
        Value::BigInt(Some(x)) => Some(*x),
        Value::TinyUnsigned(Some(x)) => Some(i64::from(*x)),
        Value::SmallUnsigned(Some(x)) => Some(i64::from(*x)),
        Value::Unsigned(Some(x)) => Some(i64::from(*x)),
        Value::BigUnsigned(Some(x)) => i64::try_from(*x).ok(),
        Value::Bool(Some(b)) => Some(i64::from(*b)),
        _ => None,
    }
}

fn as_text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match v {
        Value::String(Some(s)) => Some(Cow::Borrowed(s.as_str())),
        Value::Char(Some(c)) => Some(Cow::Owned(c.to_string())),
        Value::Enum(OptionEnum::Some(e)) => Some(Cow::Owned(e.value.to_string())),
        Value::Bool(Some(b)) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Float(Some(f)) => Some(Cow::Owned(f.to_string())),
        Value::Double(Some(f)) => Some(Cow::Owned(f.to_string())),
        other => as_i64(other).map(|n| Cow::Owned(n.to_string())),
    }
}

fn cannot(v: &Value, ty: &Type) -> BoxError {
    format!("cannot bind {v:?} to a parameter of type {ty}").into()
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let v = self.0;
        if is_null(v) {
            return Ok(IsNull::Yes);
        }
        match *ty {
            Type::BOOL => match v {
                Value::Bool(Some(b)) => b.to_sql(ty, out),
                _ => match as_i64(v) {
                    Some(n @ (0 | 1)) => (n == 1).to_sql(ty, out),
                    _ => Err(cannot(v, ty)),
                },
            },
            Type::INT2 => {
                let n = as_i64(v).ok_or_else(|| cannot(v, ty))?;
                i16::try_from(n).map_err(|_| cannot(v, ty))?.to_sql(ty, out)
            }
            Type::INT4 => {
                let n = as_i64(v).ok_or_else(|| cannot(v, ty))?;
                i32::try_from(n).map_err(|_| cannot(v, ty))?.to_sql(ty, out)
            }
            Type::INT8 => as_i64(v).ok_or_else(|| cannot(v, ty))?.to_sql(ty, out),
            Type::FLOAT8 => match v {
                Value::Double(Some(f)) => f.to_sql(ty, out),
                Value::Float(Some(f)) => f64::from(*f).to_sql(ty, out),
                _ => Err(cannot(v, ty)),
            },
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                let s = as_text(v).ok_or_else(|| cannot(v, ty))?;
                s.as_ref().to_sql(ty, out)
            }
            Type::JSON | Type::JSONB => {
                let s = match v {
                    Value::String(Some(s)) => s,
                    _ => return Err(cannot(v, ty)),
                };
                if *ty == Type::JSONB {
                    out.put_u8(1);
                }
                out.put_slice(s.as_bytes());
                Ok(IsNull::No)
            }
            Type::BYTEA => match v {
                Value::Bytes(Some(b)) => b.as_slice().to_sql(ty, out),
                _ => Err(cannot(v, ty)),
            },
            Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => match v {
                // Arrays travel as JSON text (`["a","b"]`), as on the other backends.
                Value::String(Some(s)) => {
                    let items: Vec<String> = serde_json::from_str(s).map_err(|e| {
                        format!("a {ty} parameter needs a JSON array of strings: {e}")
                    })?;
                    items.to_sql(ty, out)
                }
                _ => Err(cannot(v, ty)),
            },
            _ => Err(cannot(v, ty)),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

// ---------------------------------------------------------------- decoding

/// The raw bytes of a column, decoded by [`decode`].
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw(Some(raw)))
    }
    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Raw(None))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], BoxError> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", raw.len()).into())
}

fn utf8(raw: &[u8]) -> Result<String, BoxError> {
    Ok(std::str::from_utf8(raw)?.to_owned())
}

/// An integral NUMERIC (as `SUM(bigint)` returns) as an `i64`.
fn numeric_to_i64(raw: &[u8]) -> Result<i64, BoxError> {
    let word = |i: usize| -> Result<u16, BoxError> {
        Ok(u16::from_be_bytes(fixed::<2>(
            raw.get(i..i + 2).ok_or("short NUMERIC")?,
        )?))
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(2)? as i16);
    let sign = word(4)?;
    if sign == 0xC000 {
        return Err("NUMERIC is NaN".into());
    }
    let mut acc: i128 = 0;
    for k in 0..=weight.max(-1) {
        let k = k as usize;
        let d = if k < ndigits { word(8 + 2 * k)? } else { 0 };
        acc = acc * 10_000 + i128::from(d);
        if acc > i128::from(i64::MAX) + 1 {
            return Err("NUMERIC out of i64 range".into());
        }
    }
    let frac_digits = ndigits.saturating_sub((weight + 1).max(0) as usize);
    for k in 0..frac_digits {
        let idx = (weight + 1).max(0) as usize + k;
        if word(8 + 2 * idx)? != 0 {
            return Err("NUMERIC is not an integer".into());
        }
    }
    let acc = if sign == 0x4000 { -acc } else { acc };
    i64::try_from(acc).map_err(|_| "NUMERIC out of i64 range".into())
}

/// Decodes one column by its type.
fn decode(ty: &Type, raw: Option<&[u8]>) -> Result<Cell, BoxError> {
    let Some(raw) = raw else {
        return Ok(Cell::Null);
    };
    Ok(match *ty {
        Type::BOOL => Cell::Bool(fixed::<1>(raw)?[0] != 0),
        Type::INT2 => Cell::Int(i64::from(i16::from_be_bytes(fixed(raw)?))),
        Type::INT4 => Cell::Int(i64::from(i32::from_be_bytes(fixed(raw)?))),
        Type::INT8 => Cell::Int(i64::from_be_bytes(fixed(raw)?)),
        Type::OID => Cell::Int(i64::from(u32::from_be_bytes(fixed(raw)?))),
        Type::NUMERIC => Cell::Int(numeric_to_i64(raw)?),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON => {
            Cell::Text(utf8(raw)?)
        }
        Type::JSONB => Cell::Text(utf8(raw.get(1..).unwrap_or_default())?),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY | Type::NAME_ARRAY => {
            let items = Vec::<Option<String>>::from_sql(ty, raw)?;
            Cell::TextArray(
                items
                    .into_iter()
                    .map(|i| i.ok_or("NULL element in a text array"))
                    .collect::<Result<_, _>>()?,
            )
        }
        _ => return Err(format!("unsupported column type {ty}").into()),
    })
}

fn decode_row(row: &tokio_postgres::Row) -> Result<Row, StorageError> {
    let mut cells = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let raw: Raw<'_> = row
            .try_get(i)
            .map_err(|e| StorageError::query(format!("column `{}`: {e}", col.name())))?;
        let cell = decode(col.type_(), raw.0)
            .map_err(|e| StorageError::query(format!("column `{}`: {e}", col.name())))?;
        cells.push(cell);
    }
    Ok(Row(cells))
}

// ---------------------------------------------------------------- the connection

/// The pooled connection behind a [`PostgresConn`].
// One per operation in flight, never stored in bulk: boxing `Own` would cost an
// allocation per operation to save stack space nobody needs.
#[allow(clippy::large_enum_variant)]
enum Handle {
    /// Taken for this caller alone.
    Own(Object),
    /// Shared with other readers (see `share.rs`); never in a transaction.
    Shared(Arc<Object>),
}

impl std::ops::Deref for Handle {
    type Target = Object;
    fn deref(&self) -> &Object {
        match self {
            Handle::Own(o) => o,
            Handle::Shared(o) => o,
        }
    }
}

/// A connection taken from the pool. Dropped inside a transaction, it is rolled back
/// before it goes back to the pool (or discarded when that cannot be done). A
/// connection taken for reads may be shared with other readers; it refuses to open a
/// transaction.
pub struct PostgresConn {
    obj: Option<Handle>,
    shared: Arc<Shared>,
    in_tx: bool,
    tx_failed: bool,
    /// The open transaction ran a statement that may write (tracked only with a
    /// read replica, see `replica.rs`).
    tx_wrote: bool,
}

impl std::fmt::Debug for PostgresConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConn")
            .field("shared", &matches!(self.obj, Some(Handle::Shared(_))))
            .field("in_tx", &self.in_tx)
            .field("tx_failed", &self.tx_failed)
            .finish_non_exhaustive()
    }
}

fn gone() -> StorageError {
    StorageError::Unavailable {
        message: "the connection was released".into(),
        source: None,
    }
}

/// Whether a cached statement went stale (dropped by a pooler or invalidated by a
/// schema change) and should be prepared again.
fn stale_statement(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::INVALID_SQL_STATEMENT_NAME || *c == SqlState::FEATURE_NOT_SUPPORTED
    )
}

impl PostgresConn {
    pub(crate) fn new(obj: Object, shared: Arc<Shared>) -> Self {
        Self::with(Handle::Own(obj), shared)
    }

    /// A connection shared with other readers.
    pub(crate) fn shared_read(obj: Arc<Object>, shared: Arc<Shared>) -> Self {
        Self::with(Handle::Shared(obj), shared)
    }

    fn with(obj: Handle, shared: Arc<Shared>) -> Self {
        Self {
            obj: Some(obj),
            shared,
            in_tx: false,
            tx_failed: false,
            tx_wrote: false,
        }
    }

    /// Read-your-writes with a read replica (see `replica.rs`): where the primary's
    /// WAL position must be recorded after `sql` (a statement other than `SELECT`)
    /// commits, in autocommit; `None` otherwise. Inside a transaction, such a
    /// statement marks the transaction as writing instead (recorded at commit).
    fn record_after(&mut self, sql: &str) -> Option<Arc<crate::replica::Written>> {
        let written = self.shared.written.as_ref()?;
        let select = sql
            .trim_start()
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case("select"));
        if select {
            return None;
        }
        if self.in_tx {
            self.tx_wrote = true;
            return None;
        }
        Some(written.clone())
    }

    fn client(&self) -> Result<&Object, StorageError> {
        self.obj.as_deref().ok_or_else(gone)
    }

    fn forget(&self, sql: &str) {
        if let Some(c) = &self.obj {
            c.statement_cache.remove(sql, &[]);
        }
    }

    /// Handles a failed statement: `None` means "prepare again and retry" (a stale
    /// cached statement outside a transaction, once); otherwise the error to return.
    /// A database error inside a transaction marks it failed: PostgreSQL has
    /// aborted it.
    fn failed(
        &mut self,
        sql: &str,
        e: tokio_postgres::Error,
        retried: &mut bool,
    ) -> Option<DbError> {
        if stale_statement(&e) {
            self.forget(sql);
            if !self.in_tx && !*retried {
                *retried = true;
                return None;
            }
        }
        if self.in_tx && e.as_db_error().is_some() {
            self.tx_failed = true;
        }
        let err = db_error(e, &self.shared.scrub);
        if matches!(err, DbError::Other(StorageError::Unavailable { .. })) {
            self.shared.connection_failed();
        }
        Some(err)
    }

    /// A statement through a transaction-mode pooler (see `pooler.rs`).
    async fn pooled(
        &mut self,
        sql: &str,
        values: &Values,
    ) -> Result<(Vec<tokio_postgres::Row>, u64), DbError> {
        let params: Vec<Param<'_>> = values.0.iter().map(Param).collect();
        let r = match (self.client(), &self.shared.pooler) {
            (Ok(client), Some(types)) => {
                crate::pooler::run(client, self.in_tx, types, sql, &params).await
            }
            (Err(e), _) => return Err(DbError::Other(e)),
            (Ok(_), None) => return Err(DbError::Other(StorageError::query("no pooler"))),
        };
        r.map_err(|e| {
            // Never retried: nothing is cached on the server.
            let mut retried = true;
            self.failed(sql, e, &mut retried)
                .unwrap_or_else(|| DbError::Other(StorageError::query("statement failed")))
        })
    }

    /// `COMMIT; SELECT pg_current_wal_insert_lsn()` in one simple query; records the
    /// position in `w`.
    async fn commit_and_record(&mut self, w: &crate::replica::Written) -> Result<(), StorageError> {
        let r = self
            .client()?
            .simple_query("COMMIT; SELECT pg_current_wal_insert_lsn()")
            .await;
        match r {
            Ok(msgs) => {
                w.noted::<()>(Ok(crate::replica::lsn_of(&msgs)));
                Ok(())
            }
            Err(e) => {
                let err = storage_error(e, &self.shared.scrub);
                if matches!(err, StorageError::Unavailable { .. }) {
                    self.shared.connection_failed();
                }
                Err(err)
            }
        }
    }

    async fn simple(&mut self, sql: &str) -> Result<(), StorageError> {
        let r = self.client()?.batch_execute(sql).await;
        r.map_err(|e| {
            let err = storage_error(e, &self.shared.scrub);
            if matches!(err, StorageError::Unavailable { .. }) {
                self.shared.connection_failed();
            }
            err
        })
    }
}

#[async_trait]
impl Conn for PostgresConn {
    async fn execute(&mut self, sql: &str, values: Values) -> Result<u64, DbError> {
        if self.shared.pooler.is_some() {
            let n = self.pooled(sql, &values).await?.1;
            if let (Some(w), Ok(c)) = (self.record_after(sql), self.client()) {
                w.record(c).await;
            }
            return Ok(n);
        }
        let params: Vec<Param<'_>> = values.0.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let mut retried = false;
        let record = self.record_after(sql);
        loop {
            let client = self.client()?;
            let r = match client.prepare_cached(sql).await {
                // The position is read in the same pipeline, right behind the
                // statement (requests go out in the order they are first polled).
                Ok(stmt) => match &record {
                    Some(w) => {
                        let (r, lsn) = tokio::join!(
                            client.execute(&stmt, &refs),
                            crate::replica::primary_lsn(client)
                        );
                        w.noted(lsn);
                        r
                    }
                    None => client.execute(&stmt, &refs).await,
                },
                Err(e) => Err(e),
            };
            match r {
                Ok(n) => return Ok(n),
                Err(e) => {
                    if let Some(err) = self.failed(sql, e, &mut retried) {
                        return Err(err);
                    }
                }
            }
        }
    }

    async fn fetch(&mut self, sql: &str, values: Values) -> Result<Vec<Row>, DbError> {
        let params: Vec<Param<'_>> = values.0.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let mut retried = false;
        let record = if self.shared.pooler.is_some() {
            None
        } else {
            self.record_after(sql)
        };
        let rows = loop {
            if self.shared.pooler.is_some() {
                let rows = self.pooled(sql, &values).await?.0;
                if let (Some(w), Ok(c)) = (self.record_after(sql), self.client()) {
                    w.record(c).await;
                }
                break rows;
            }
            let client = self.client()?;
            let r = match client.prepare_cached(sql).await {
                Ok(stmt) => match &record {
                    Some(w) => {
                        let (r, lsn) = tokio::join!(
                            client.query(&stmt, &refs),
                            crate::replica::primary_lsn(client)
                        );
                        w.noted(lsn);
                        r
                    }
                    None => client.query(&stmt, &refs).await,
                },
                Err(e) => Err(e),
            };
            match r {
                Ok(rows) => break rows,
                Err(e) => {
                    if let Some(err) = self.failed(sql, e, &mut retried) {
                        return Err(err);
                    }
                }
            }
        };
        rows.iter()
            .map(decode_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(DbError::Other)
    }

    async fn begin(&mut self, isolation: Isolation, _write: bool) -> Result<(), StorageError> {
        if self.in_tx {
            return Err(StorageError::query(
                "a transaction is already open on this connection",
            ));
        }
        if matches!(self.obj, Some(Handle::Shared(_))) {
            return Err(StorageError::query(
                "a connection taken for reads is shared and cannot open a transaction",
            ));
        }
        let sql = match isolation {
            Isolation::Default | Isolation::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED",
            Isolation::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            Isolation::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        };
        // Marked open before BEGIN is sent: if this future is dropped while BEGIN is
        // in flight, the server may have started the transaction, and `Drop` must
        // roll it back rather than pool a connection inside a transaction (whose
        // next single-statement writes would never be committed).
        self.in_tx = true;
        self.tx_failed = false;
        self.tx_wrote = false;
        if let Err(e) = self.simple(sql).await {
            self.in_tx = false;
            return Err(e);
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), StorageError> {
        if !self.in_tx {
            return Err(StorageError::query("commit without an open transaction"));
        }
        if self.tx_failed {
            // PostgreSQL would answer COMMIT with ROLLBACK and no error: say so.
            let r = self.simple("ROLLBACK").await;
            self.in_tx = false;
            self.tx_failed = false;
            r?;
            return Err(StorageError::query(
                "the transaction was aborted by a failed statement and has been rolled back",
            ));
        }
        // Whatever the outcome, the server ends the transaction on COMMIT.
        let wrote = std::mem::take(&mut self.tx_wrote);
        let r = match (&self.shared.written, wrote) {
            // With a read replica, a transaction that wrote reads the primary's
            // position in the same round trip, right after its COMMIT.
            (Some(w), true) => {
                let w = w.clone();
                let r = self.commit_and_record(&w).await;
                if r.is_err() {
                    // The commit's outcome may be unknown (connection lost).
                    w.mark_unknown();
                }
                r
            }
            _ => self.simple("COMMIT").await,
        };
        self.in_tx = false;
        r
    }

    async fn rollback(&mut self) -> Result<(), StorageError> {
        if !self.in_tx {
            return Ok(());
        }
        let r = self.simple("ROLLBACK").await;
        self.in_tx = false;
        self.tx_failed = false;
        r
    }

    async fn named_lock(&mut self, name: &str) -> Result<(), StorageError> {
        if !self.in_tx {
            return Err(StorageError::query(
                "named_lock needs an open transaction (the lock is released at its end)",
            ));
        }
        // Namespaced by schema and prefix, so two table sets in one database do not
        // share locks.
        let key = format!("{}\u{1f}{name}", self.shared.lock_namespace);
        self.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            Values(vec![Value::String(Some(key))]),
        )
        .await
        .map(|_| ())
        .map_err(DbError::into_storage)
    }
}

impl Drop for PostgresConn {
    fn drop(&mut self) {
        if !self.in_tx {
            return;
        }
        let Some(Handle::Own(obj)) = self.obj.take() else {
            return;
        };
        if obj.is_closed() {
            drop(Object::take(obj));
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                // Roll back, then return the connection to the pool; discard it if the
                // rollback fails.
                rt.spawn(async move {
                    if obj.batch_execute("ROLLBACK").await.is_err() {
                        drop(Object::take(obj));
                    }
                });
            }
            Err(_) => drop(Object::take(obj)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: Value, ty: Type) -> Result<Vec<u8>, BoxError> {
        let mut out = BytesMut::new();
        match Param(&v).to_sql(&ty, &mut out)? {
            IsNull::Yes => Ok(b"NULL".to_vec()),
            IsNull::No => Ok(out.to_vec()),
        }
    }

    #[test]
    fn binds_by_server_type() {
        assert_eq!(
            enc(Value::BigInt(Some(7)), Type::INT4).unwrap(),
            7i32.to_be_bytes()
        );
        assert_eq!(
            enc(Value::Int(Some(7)), Type::INT8).unwrap(),
            7i64.to_be_bytes()
        );
        assert!(enc(Value::BigInt(Some(i64::MAX)), Type::INT4).is_err());
        assert_eq!(enc(Value::BigInt(None), Type::INT4).unwrap(), b"NULL");
        assert_eq!(
            enc(Value::String(Some("x".into())), Type::VARCHAR).unwrap(),
            b"x"
        );
        assert_eq!(enc(Value::BigInt(Some(12)), Type::TEXT).unwrap(), b"12");
        assert_eq!(enc(Value::Bool(Some(true)), Type::BOOL).unwrap(), [1]);
        assert!(enc(Value::String(Some("x".into())), Type::INT8).is_err());
        let arr = enc(
            Value::String(Some(r#"["a","b"]"#.into())),
            Type::VARCHAR_ARRAY,
        )
        .unwrap();
        let back = Vec::<String>::from_sql(&Type::VARCHAR_ARRAY, &arr).unwrap();
        assert_eq!(back, ["a", "b"]);
        assert!(enc(Value::String(Some("nope".into())), Type::TEXT_ARRAY).is_err());
    }

    #[test]
    fn decodes_by_column_type() {
        assert_eq!(decode(&Type::BOOL, Some(&[1])).unwrap(), Cell::Bool(true));
        assert_eq!(
            decode(&Type::INT2, Some(&5i16.to_be_bytes())).unwrap(),
            Cell::Int(5)
        );
        assert_eq!(
            decode(&Type::INT4, Some(&(-5i32).to_be_bytes())).unwrap(),
            Cell::Int(-5)
        );
        assert_eq!(
            decode(&Type::INT8, Some(&9i64.to_be_bytes())).unwrap(),
            Cell::Int(9)
        );
        assert_eq!(
            decode(&Type::BPCHAR, Some(b"ab")).unwrap(),
            Cell::Text("ab".into())
        );
        assert_eq!(decode(&Type::TEXT, None).unwrap(), Cell::Null);
        assert!(decode(&Type::INT4, Some(&[1, 2])).is_err());
        assert!(decode(&Type::FLOAT8, Some(&[0; 8])).is_err());
    }

    #[test]
    fn numeric() {
        // 123456789 = digits [1, 2345, 6789], weight 2.
        let mut raw = Vec::new();
        for w in [3u16, 2, 0, 0, 1, 2345, 6789] {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(numeric_to_i64(&raw).unwrap(), 123_456_789);
        // -20000 = digits [2], weight 1, negative.
        let mut raw = Vec::new();
        for w in [1u16, 1, 0x4000, 0, 2] {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(numeric_to_i64(&raw).unwrap(), -20_000);
        // 0 = no digits.
        let mut raw = Vec::new();
        for w in [0u16, 0, 0, 0] {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(numeric_to_i64(&raw).unwrap(), 0);
        // 1.5 is not an integer.
        let mut raw = Vec::new();
        for w in [2u16, 0, 0, 1, 1, 5000] {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        assert!(numeric_to_i64(&raw).is_err());
    }
}
