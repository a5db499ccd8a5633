//! How an operation runs: on a pooled connection, on a shared read connection, or in
//! a retried write transaction. All three take the operation's body as a closure
//! returning a boxed `async` block, so `?` and `return` leave the body in all three
//! (and a transaction's body is rolled back and retried as a whole). Every operation
//! runs in one span (see [`Op`]).

use crate::SqlStorage;
use crate::conn::{Conn, Driver};
use crate::stmt::Q;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;
use storage_api::{
    AppId, Isolation, LinkOutcome, MakePrimaryOutcome, Result, RotateOutcome, StorageError,
    TenantIdentifier, TxOptions, UnlinkOutcome, UserPage, UserScope,
};
use tracing::Instrument;
use tracing::field::Empty;

/// The boxed `async` body of an operation.
pub(crate) type Body<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// A connection and the statement context, lent to an operation's body.
pub(crate) struct Cx<'a, C> {
    conn: C,
    q: Q<'a>,
}

impl<'a, C: Conn> Cx<'a, C> {
    /// The connection and the statement context.
    pub(crate) fn parts(&mut self) -> (&mut C, Q<'a>) {
        (&mut self.conn, self.q)
    }
}

/// Which connection an operation outside a transaction runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// A pooled connection of its own.
    Pool,
    /// A connection for short point reads, which the backend may share with other
    /// readers (no writes, no unbounded scans; see [`Driver::acquire_read`]).
    Read,
}

/// A read whose answer may lag behind other cores' writes, never behind this
/// storage's own: a backend with a read replica may answer it there (see
/// [`Driver::acquire_replica`]). Only for reads whose staleness is harmless (users,
/// metadata, roles, mappings, pages, counts), never for sessions, tokens, codes,
/// keys, or anything a write decides on. Run by [`SqlStorage::stale_read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stale {
    /// A short point read (on the primary: as [`Via::Read`]).
    Point,
    /// A scan, page or aggregate (on the primary: as [`Via::Pool`]).
    Scan,
}

impl Stale {
    /// How the read is taken on the primary.
    fn via(self) -> Via {
        match self {
            Stale::Point => Via::Read,
            Stale::Scan => Via::Pool,
        }
    }
}

/// What a span says about one storage operation: its name and whom it is for. Never
/// a value of the call (no hash, token, session data or secret).
#[derive(Clone, Copy)]
pub(crate) struct Op<'a> {
    name: &'static str,
    app: Option<&'a str>,
    tenant: Option<&'a str>,
}

impl<'a> Op<'a> {
    /// An operation on one tenant.
    pub(crate) fn tenant(name: &'static str, t: &'a TenantIdentifier) -> Self {
        Op {
            name,
            app: Some(t.app.as_str()),
            tenant: Some(t.tenant.as_str()),
        }
    }

    /// An operation on one app.
    pub(crate) fn app(name: &'static str, app: &'a AppId) -> Self {
        Op {
            name,
            app: Some(app.as_str()),
            tenant: None,
        }
    }

    /// An operation on an app or one of its tenants.
    pub(crate) fn scope(name: &'static str, scope: &'a UserScope) -> Self {
        match scope {
            UserScope::App(a) => Op::app(name, a),
            UserScope::Tenant(t) => Op::tenant(name, t),
        }
    }

    /// An operation on every app.
    pub(crate) fn global(name: &'static str) -> Self {
        Op {
            name,
            app: None,
            tenant: None,
        }
    }
}

/// The number of rows an operation's result stands for, recorded on its span.
pub(crate) trait Traced {
    /// Rows returned, affected or found; `None` when the result is not a count.
    fn rows(&self) -> Option<u64> {
        None
    }
}

impl Traced for () {}
impl Traced for RotateOutcome {}
impl Traced for storage_api::JwtSigningKey {}
impl Traced for i64 {}
impl Traced for MakePrimaryOutcome {}
impl Traced for LinkOutcome {}
impl Traced for UnlinkOutcome {}
impl Traced for u64 {
    fn rows(&self) -> Option<u64> {
        Some(*self)
    }
}
impl Traced for bool {
    fn rows(&self) -> Option<u64> {
        Some(u64::from(*self))
    }
}
impl<T> Traced for Vec<T> {
    fn rows(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}
impl<T> Traced for Option<T> {
    fn rows(&self) -> Option<u64> {
        Some(u64::from(self.is_some()))
    }
}
impl Traced for UserPage {
    fn rows(&self) -> Option<u64> {
        Some(self.users.len() as u64)
    }
}

/// The outcome recorded on a span: `ok` or the error's kind (never its message).
fn outcome(e: &StorageError) -> &'static str {
    match e {
        StorageError::TenantOrAppNotFound(_) => "tenant_or_app_not_found",
        StorageError::InvalidInput { .. } => "invalid_input",
        StorageError::Retryable { .. } => "retryable",
        StorageError::Unavailable { .. } => "unavailable",
        StorageError::Config(_) => "config",
        StorageError::Query { .. } => "query",
        StorageError::UnknownUserId
        | StorageError::UnknownDeviceIdHash
        | StorageError::UnknownRole
        | StorageError::UnknownDevice
        | StorageError::UnknownTotpUser
        | StorageError::UnknownSuperTokensUserId => "unknown",
        StorageError::RecipeUserAlreadyLinked { .. }
        | StorageError::RecipeUserAlreadyLinkedWithAnotherPrimaryUser { .. }
        | StorageError::InputUserIsNotAPrimaryUser
        | StorageError::AccountInfoAlreadyUsedByAnotherPrimaryUser { .. } => "conflict",
        _ => "duplicate",
    }
}

/// Runs `body` as the operation `op` of backend `backend`, in a span `storage` with
/// the fields `op`, `backend`, `app`, `tenant`, `outcome` and `rows`.
pub(crate) async fn traced<R: Traced>(
    backend: &'static str,
    op: Op<'_>,
    body: impl Future<Output = Result<R>>,
) -> Result<R> {
    let span = tracing::info_span!(
        "storage",
        op = op.name,
        backend,
        app = op.app,
        tenant = op.tenant,
        outcome = Empty,
        rows = Empty,
    );
    let out = body.instrument(span.clone()).await;
    match &out {
        Ok(v) => {
            span.record("outcome", "ok");
            if let Some(n) = v.rows() {
                span.record("rows", n);
            }
        }
        Err(e) => {
            span.record("outcome", outcome(e));
        }
    }
    out
}

/// Whether a failed attempt is run again, and after which pause (emits the `retry`
/// event).
fn retry_after(e: &StorageError, attempt: u32, options: &TxOptions) -> Option<std::time::Duration> {
    if !e.is_retryable() || attempt >= options.max_attempts {
        return None;
    }
    let pause = options.backoff(attempt);
    tracing::debug!(attempt, pause_ms = pause.as_millis() as u64, "retry");
    Some(pause)
}

/// Evaluates `attempt()` until it is not a `Retryable` error, at most
/// `TxOptions::default().max_attempts` times, with the transactions' jittered backoff.
pub(crate) async fn retrying<R, F: Future<Output = Result<R>>>(
    mut attempt: impl FnMut() -> F,
) -> Result<R> {
    let options = TxOptions::default();
    let mut n = 0u32;
    loop {
        n += 1;
        match attempt().await {
            Err(e) => match retry_after(&e, n, &options) {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(e),
            },
            ok => return ok,
        }
    }
}

/// Takes the named lock `name` (held until commit or rollback); emits the
/// `lock_wait` event.
pub(crate) async fn named_lock<C: Conn>(c: &mut C, name: &str) -> Result<()> {
    let start = Instant::now();
    let out = c.named_lock(name).await;
    tracing::debug!(
        lock = name,
        wait_us = start.elapsed().as_micros() as u64,
        ok = out.is_ok(),
        "lock_wait"
    );
    out
}

impl<D: Driver> SqlStorage<D> {
    /// The statement context of this storage.
    pub(crate) fn q(&self) -> Q<'_> {
        Q::new(
            self.driver.dialect(),
            self.driver.table_prefix(),
            &self.templates,
        )
    }

    /// A connection taken `via`; emits the `pool_wait` event.
    pub(crate) async fn connection(&self, via: Via) -> Result<Cx<'_, D::Conn>> {
        let start = Instant::now();
        let conn = match via {
            Via::Read => self.driver.acquire_read().await,
            Via::Pool => self.driver.acquire().await,
        };
        tracing::debug!(
            wait_us = start.elapsed().as_micros() as u64,
            ok = conn.is_ok(),
            "pool_wait"
        );
        Ok(Cx {
            conn: conn?,
            q: self.q(),
        })
    }

    /// Runs `body` outside a transaction, on a connection taken `via`.
    pub(crate) async fn on<'a, R: Traced>(
        &'a self,
        via: Via,
        op: Op<'_>,
        body: impl for<'c> FnOnce(&'c mut Cx<'a, D::Conn>) -> Body<'c, R> + Send + 'a,
    ) -> Result<R> {
        traced(D::NAME, op, async {
            let mut cx = self.connection(via).await?;
            body(&mut cx).await
        })
        .await
    }

    /// Runs the read `body` outside a transaction, on a read replica when the
    /// backend has one that has replayed this storage's writes (see [`Stale`]),
    /// else on the primary. A read that fails on the replica as `Unavailable` or
    /// `Retryable` (the replica down, a query cancelled by recovery) is run again
    /// on the primary: the replica alone never fails a read. Emits `pool_wait`, and
    /// a DEBUG event `replica` (`on_replica`) saying where the read went.
    pub(crate) async fn stale_read<'a, R: Traced>(
        &'a self,
        kind: Stale,
        op: Op<'_>,
        mut body: impl for<'c> FnMut(&'c mut Cx<'a, D::Conn>) -> Body<'c, R> + Send + 'a,
    ) -> Result<R> {
        traced(D::NAME, op, async {
            let start = Instant::now();
            let conn = self.driver.acquire_replica(kind == Stale::Scan).await;
            tracing::debug!(
                wait_us = start.elapsed().as_micros() as u64,
                ok = conn.is_ok(),
                "pool_wait"
            );
            let (conn, on_replica) = conn?;
            tracing::debug!(on_replica, "replica");
            let mut cx = Cx { conn, q: self.q() };
            match body(&mut cx).await {
                Err(e @ (StorageError::Unavailable { .. } | StorageError::Retryable { .. }))
                    if on_replica =>
                {
                    drop(cx);
                    self.driver.replica_failed(&e);
                    tracing::debug!(on_replica = false, "replica");
                    let mut cx = self.connection(kind.via()).await?;
                    body(&mut cx).await
                }
                out => out,
            }
        })
        .await
    }

    /// Runs `body` in a write transaction on a pooled connection: committed when it
    /// returns `Ok`, rolled back when it returns `Err`, and run again (with jittered
    /// backoff) after a `Retryable` error.
    pub(crate) async fn in_tx<'a, R: Traced>(
        &'a self,
        op: Op<'_>,
        mut body: impl for<'c> FnMut(&'c mut Cx<'a, D::Conn>) -> Body<'c, R> + Send + 'a,
    ) -> Result<R> {
        traced(D::NAME, op, async {
            let options = TxOptions::default();
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                let out = async {
                    let mut cx = self.connection(Via::Pool).await?;
                    cx.conn.begin(Isolation::Default, true).await?;
                    match body(&mut cx).await {
                        Ok(v) => {
                            cx.conn.commit().await?;
                            Ok(v)
                        }
                        Err(e) => {
                            let _ = cx.conn.rollback().await;
                            Err(e)
                        }
                    }
                }
                .await;
                match out {
                    Err(e) => match retry_after(&e, attempt, &options) {
                        Some(pause) => tokio::time::sleep(pause).await,
                        None => return Err(e),
                    },
                    ok => return ok,
                }
            }
        })
        .await
    }
}
