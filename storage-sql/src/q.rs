//! Small helpers every domain uses: prefixed table names, building and running a
//! statement, and the retrying transaction wrapper for multi-statement writes.

use crate::conn::{Conn, DbError, Dialect, Driver, Row};
use sea_query::{Alias, Cond, Condition, Expr, ExprTrait, QueryStatementWriter, Value, Values};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use storage_api::{AppId, StorageError, TenantIdentifier};

/// Statement context: dialect, table prefix and the storage's rendered statements.
#[derive(Clone, Copy)]
pub(crate) struct Q<'a> {
    pub d: Dialect,
    pub p: &'a str,
    pub c: &'a Templates,
}

impl<'a> Q<'a> {
    /// The context of `driver`'s statements, rendered into `templates`.
    pub(crate) fn of<D: Driver>(driver: &'a D, templates: &'a Templates) -> Self {
        Q {
            d: driver.dialect(),
            p: driver.table_prefix(),
            c: templates,
        }
    }
}

/// Where one value of a rendered statement comes from.
enum Slot {
    /// Argument `i` of the call; `last` when no later slot uses it (it can be moved).
    Arg { i: usize, last: bool },
    /// A value the statement builder put in itself (a `LIMIT`, a literal `1`).
    Const(Value),
}

/// A statement rendered once: its SQL and where each of its values comes from.
pub(crate) struct Tpl {
    /// The SQL, with the dialect's placeholders.
    pub sql: String,
    slots: Vec<Slot>,
}

impl Tpl {
    /// The values of one call, in placeholder order.
    fn values(&self, mut args: Vec<Value>) -> Values {
        let mut out = Vec::with_capacity(self.slots.len());
        for s in &self.slots {
            out.push(match s {
                Slot::Arg { i, last: true } => std::mem::replace(&mut args[*i], Value::Bool(None)),
                Slot::Arg { i, last: false } => args[*i].clone(),
                Slot::Const(v) => v.clone(),
            });
        }
        Values(out)
    }
}

/// The statements of one storage, rendered once each (per shape) instead of being
/// rebuilt with sea-query on every call.
///
/// A statement is rendered by its ordinary sea-query builder, called with *markers*
/// in place of the call's arguments; the rendered values then tell, position by
/// position, which argument (or which constant of the builder) each placeholder
/// takes. Every later call only assembles its values. A builder must not branch on
/// its arguments' values: whatever changes the SQL's shape goes into the key.
#[derive(Default)]
pub(crate) struct Templates {
    map: RwLock<HashMap<(&'static str, u64), Arc<Tpl>>>,
}

const MARK: char = '\u{1}';

fn marker(i: usize) -> Value {
    Value::String(Some(format!("{MARK}{i}{MARK}")))
}

fn marked(v: &Value, n: usize) -> Option<usize> {
    match v {
        Value::String(Some(s)) if s.len() > 2 && s.starts_with(MARK) && s.ends_with(MARK) => {
            s[1..s.len() - 1].parse().ok().filter(|i| *i < n)
        }
        _ => None,
    }
}

impl Templates {
    fn get<S: QueryStatementWriter>(
        &self,
        d: Dialect,
        key: &'static str,
        shape: u64,
        n: usize,
        build: impl FnOnce(&[Value]) -> S,
    ) -> Arc<Tpl> {
        if let Some(t) = self
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(key, shape))
        {
            return t.clone();
        }
        let marks: Vec<Value> = (0..n).map(marker).collect();
        let (sql, values) = d.build(&build(&marks));
        let mut slots: Vec<Slot> = values
            .0
            .into_iter()
            .map(|v| match marked(&v, n) {
                Some(i) => Slot::Arg { i, last: false },
                None => Slot::Const(v),
            })
            .collect();
        let mut seen = vec![false; n];
        for s in slots.iter_mut().rev() {
            if let Slot::Arg { i, last } = s {
                *last = !seen[*i];
                seen[*i] = true;
            }
        }
        let t = Arc::new(Tpl { sql, slots });
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((key, shape), t.clone());
        t
    }
}

impl Q<'_> {
    /// A table name with the prefix.
    pub fn t(&self, base: &str) -> Alias {
        Alias::new(format!("{}{}", self.p, base))
    }

    /// Builds and runs a statement that returns no rows.
    pub async fn exec<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        stmt: &S,
    ) -> Result<u64, DbError> {
        let (sql, values) = self.d.build(stmt);
        c.execute(&sql, values).await
    }

    /// Builds and runs a query.
    pub async fn fetch<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        stmt: &S,
    ) -> Result<Vec<Row>, StorageError> {
        let (sql, values) = self.d.build(stmt);
        c.fetch(&sql, values).await.map_err(DbError::into_storage)
    }

    /// Builds and runs a query expected to return at most one row.
    pub async fn fetch_opt<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        stmt: &S,
    ) -> Result<Option<Row>, StorageError> {
        Ok(self.fetch(c, stmt).await?.into_iter().next())
    }

    /// Runs a statement whose constraint failures have no special meaning.
    pub async fn run<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        stmt: &S,
    ) -> Result<u64, StorageError> {
        self.exec(c, stmt).await.map_err(DbError::into_storage)
    }

    /// The statement `key` (of shape `shape`) rendered once by `build`, with the
    /// values of this call's `args` (see [`Templates`]).
    pub fn tpl<S: QueryStatementWriter>(
        &self,
        key: &'static str,
        shape: u64,
        args: Vec<Value>,
        build: impl FnOnce(&[Value]) -> S,
    ) -> (Arc<Tpl>, Values) {
        let t = self.c.get(self.d, key, shape, args.len(), build);
        let values = t.values(args);
        (t, values)
    }

    /// [`Q::exec`] of a rendered statement.
    pub async fn exec_t<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        key: &'static str,
        shape: u64,
        args: Vec<Value>,
        build: impl FnOnce(&[Value]) -> S,
    ) -> Result<u64, DbError> {
        let (t, values) = self.tpl(key, shape, args, build);
        c.execute(&t.sql, values).await
    }

    /// [`Q::run`] of a rendered statement.
    pub async fn run_t<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        key: &'static str,
        shape: u64,
        args: Vec<Value>,
        build: impl FnOnce(&[Value]) -> S,
    ) -> Result<u64, StorageError> {
        self.exec_t(c, key, shape, args, build)
            .await
            .map_err(DbError::into_storage)
    }

    /// [`Q::fetch`] of a rendered statement.
    pub async fn fetch_t<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        key: &'static str,
        shape: u64,
        args: Vec<Value>,
        build: impl FnOnce(&[Value]) -> S,
    ) -> Result<Vec<Row>, StorageError> {
        let (t, values) = self.tpl(key, shape, args, build);
        c.fetch(&t.sql, values).await.map_err(DbError::into_storage)
    }

    /// [`Q::fetch_opt`] of a rendered statement.
    pub async fn fetch_opt_t<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        key: &'static str,
        shape: u64,
        args: Vec<Value>,
        build: impl FnOnce(&[Value]) -> S,
    ) -> Result<Option<Row>, StorageError> {
        Ok(self
            .fetch_t(c, key, shape, args, build)
            .await?
            .into_iter()
            .next())
    }
}

/// A sea-query value from anything that converts to one (shorthand for argument
/// lists).
pub(crate) fn v<T: Into<Value>>(x: T) -> Value {
    x.into()
}

/// Column name.
pub(crate) fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

/// The `TenantOrAppNotFound` error of a tenant.
pub(crate) fn no_tenant(t: &TenantIdentifier) -> StorageError {
    StorageError::TenantOrAppNotFound(storage_api::TenantOrApp::Tenant(t.clone()))
}

/// The `TenantOrAppNotFound` error of an app.
pub(crate) fn no_app(a: &AppId) -> StorageError {
    StorageError::TenantOrAppNotFound(storage_api::TenantOrApp::App(a.clone()))
}

/// Runs `$body` (which uses `$c: &mut D::Conn` and `$q: Q`) on a pooled connection
/// without a transaction; with `read`, on a connection from `Driver::acquire_read`
/// (short point reads only: no writes, no unbounded scans), which the backend may
/// share with other readers at the same time (PostgreSQL pipelines them).
macro_rules! with_conn {
    ($self:ident, |$c:ident, $q:ident| $body:expr) => {
        $crate::q::with_conn!(@on acquire, $self, |$c, $q| $body)
    };
    (read $self:ident, |$c:ident, $q:ident| $body:expr) => {
        $crate::q::with_conn!(@on acquire_read, $self, |$c, $q| $body)
    };
    (@on $acquire:ident, $self:ident, |$c:ident, $q:ident| $body:expr) => {{
        let mut conn = $self.driver.$acquire().await?;
        let $c = &mut conn;
        let $q = $crate::q::Q::of(&*$self.driver, &$self.legacy);
        $body
    }};
}

/// Evaluates the future `$attempt` until it is not a `Retryable` error, at most
/// `TxOptions::default().max_attempts` times, with the transactions' jittered
/// backoff between attempts.
macro_rules! retrying {
    ($attempt:expr) => {{
        let options = storage_api::TxOptions::default();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result: Result<_, storage_api::StorageError> = $attempt.await;
            match result {
                Err(e) if e.is_retryable() && attempt < options.max_attempts => {
                    tokio::time::sleep(options.backoff(attempt)).await;
                }
                other => break other,
            }
        }
    }};
}

/// Runs `$body` in a write transaction on a pooled connection, retrying the whole
/// transaction with jittered backoff on `Retryable` errors.
macro_rules! in_tx {
    ($self:ident, |$c:ident, $q:ident| $body:expr) => {
        $crate::q::retrying!(async {
            let mut conn = $self.driver.acquire().await?;
            conn.begin(storage_api::Isolation::Default, true).await?;
            let $q = $crate::q::Q::of(&*$self.driver, &$self.legacy);
            let out = {
                let $c = &mut conn;
                async { $body }.await
            };
            match out {
                Ok(v) => {
                    conn.commit().await?;
                    Ok(v)
                }
                Err(e) => {
                    let _ = conn.rollback().await;
                    Err(e)
                }
            }
        })
    };
}

pub(crate) use {in_tx, retrying, with_conn};

/// `app_id = <app> AND tenant_id = <tenant>`.
pub(crate) fn tenant_cond(t: &TenantIdentifier) -> Condition {
    Cond::all()
        .add(Expr::col(col("app_id")).eq(t.app.as_str()))
        .add(Expr::col(col("tenant_id")).eq(t.tenant.as_str()))
}

/// `app_id = a[0] AND tenant_id = a[1]`, for rendered statements.
pub(crate) fn tenant_cond_v(a: &[Value]) -> Condition {
    Cond::all()
        .add(Expr::col(col("app_id")).eq(a[0].clone()))
        .add(Expr::col(col("tenant_id")).eq(a[1].clone()))
}

/// `app_id = <app> AND user_id = <user_id>`.
pub(crate) fn app_user_cond(app: &AppId, user_id: &str) -> Condition {
    Cond::all()
        .add(Expr::col(col("app_id")).eq(app.as_str()))
        .add(Expr::col(col("user_id")).eq(user_id))
}
