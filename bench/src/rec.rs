//! A [`Driver`] wrapper that records every statement the shared operations send, with
//! its values: the bench learns from it the exact SQL of each operation (for the
//! floors and the pgbench scripts) and checks that each floor sends the same
//! statements with the same values.

use crate::raw::{Fv, Sent};
use async_trait::async_trait;
use sea_query::{Value, Values};
use std::sync::{Arc, Mutex};
use storage_api::{Isolation, MigrationDriver, StorageError};
use storage_sql::{Conn, DbError, Dialect, Driver, Row};

type Log = Arc<Mutex<Vec<Sent>>>;

/// Records what the wrapped driver's connections are asked to run.
pub struct Rec<D: Driver> {
    inner: D,
    log: Log,
}

impl<D: Driver> Rec<D> {
    /// Wraps `inner`.
    pub fn new(inner: D) -> (Self, Log) {
        let log = Log::default();
        (
            Self {
                inner,
                log: log.clone(),
            },
            log,
        )
    }
}

/// A recording connection.
pub struct RecConn<C> {
    inner: C,
    log: Log,
}

/// A sea-query value as the bench's owned value.
pub fn fv(v: &Value) -> Fv {
    match v {
        Value::Bool(Some(b)) => Fv::Bool(*b),
        Value::TinyInt(Some(n)) => Fv::Int(i64::from(*n)),
        Value::SmallInt(Some(n)) => Fv::Int(i64::from(*n)),
        Value::Int(Some(n)) => Fv::Int(i64::from(*n)),
        Value::BigInt(Some(n)) => Fv::Int(*n),
        Value::TinyUnsigned(Some(n)) => Fv::Int(i64::from(*n)),
        Value::SmallUnsigned(Some(n)) => Fv::Int(i64::from(*n)),
        Value::Unsigned(Some(n)) => Fv::Int(i64::from(*n)),
        Value::BigUnsigned(Some(n)) => Fv::Int(*n as i64),
        Value::String(Some(s)) => Fv::Str(s.clone()),
        _ => Fv::Null,
    }
}

impl<C> RecConn<C> {
    fn note(&self, s: Sent) {
        self.log.lock().unwrap().push(s);
    }
}

#[async_trait]
impl<C: Conn> Conn for RecConn<C> {
    async fn execute(&mut self, sql: &str, values: Values) -> Result<u64, DbError> {
        self.note(Sent::Stmt(
            sql.to_owned(),
            values.0.iter().map(fv).collect(),
        ));
        self.inner.execute(sql, values).await
    }
    async fn fetch(&mut self, sql: &str, values: Values) -> Result<Vec<Row>, DbError> {
        self.note(Sent::Stmt(
            sql.to_owned(),
            values.0.iter().map(fv).collect(),
        ));
        self.inner.fetch(sql, values).await
    }
    async fn begin(&mut self, isolation: Isolation, write: bool) -> Result<(), StorageError> {
        self.note(Sent::Begin);
        self.inner.begin(isolation, write).await
    }
    async fn commit(&mut self) -> Result<(), StorageError> {
        self.note(Sent::Commit);
        self.inner.commit().await
    }
    async fn rollback(&mut self) -> Result<(), StorageError> {
        self.inner.rollback().await
    }
    async fn named_lock(&mut self, name: &str) -> Result<(), StorageError> {
        self.inner.named_lock(name).await
    }
}

#[async_trait]
impl<D: Driver> Driver for Rec<D> {
    type Conn = RecConn<D::Conn>;
    const NAME: &'static str = D::NAME;

    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    fn table_prefix(&self) -> &str {
        self.inner.table_prefix()
    }
    async fn acquire(&self) -> Result<Self::Conn, StorageError> {
        Ok(RecConn {
            inner: self.inner.acquire().await?,
            log: self.log.clone(),
        })
    }
    async fn migration_driver(&self) -> Result<Box<dyn MigrationDriver>, StorageError> {
        self.inner.migration_driver().await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}
