//! Sessions with refresh-token rotation, and access-token signing keys (contract 5.3).
//!
//! Each operation holds, in one function, its SQL (a sea-query builder over the names
//! in [`crate::schema`]), the values it binds (by name, [`args!`]) and how a row
//! becomes a domain type (read by column name).

use crate::SqlStorage;
use crate::conn::{Conn, Dialect, Driver, Violation};
use crate::run::{Op, Via, named_lock, retrying, traced};
use crate::schema::{As, SessionAccessTokenSigningKeys, SessionInfo, Tbl};
use crate::stmt::{
    Meaning, One, Q, Rec, Shape, Stmt, args, each, locked, no_app, no_tenant, tenant_is, val,
};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Cond, Condition, Expr, ExprTrait, LockBehavior, LockType, Order, Query};
use serde_json::Value;
use storage_api::validate;
use storage_api::*;

/// Rows deleted per statement by [`Sessions::delete_expired_sessions`].
pub const EXPIRED_BATCH: u64 = 1000;

/// `app_id = app AND tenant_id = tenant AND session_handle = handle`.
fn session_is(app: &One, tenant: &One, handle: &One) -> Condition {
    tenant_is::<SessionInfo>(app, tenant)
        .add(Expr::col(SessionInfo::SessionHandle).eq(handle.expr()))
}

fn check_handle(h: &str) -> Result<()> {
    validate::text("session_handle", h, 255)
}

fn check_user_id(u: &str) -> Result<()> {
    validate::text("user_id", u, 128)
}

/// The select list of a session row.
const SESSION: [SessionInfo; 10] = [
    SessionInfo::SessionHandle,
    SessionInfo::UserId,
    SessionInfo::RefreshTokenHash2,
    SessionInfo::SessionData,
    SessionInfo::ExpiresAt,
    SessionInfo::CreatedAtTime,
    SessionInfo::JwtUserPayload,
    SessionInfo::UseStaticKey,
    SessionInfo::PrevRefreshTokenHash2,
    SessionInfo::RefreshTokenRotatedAt,
];

fn session_from(t: &TenantIdentifier, r: &Rec<'_, SessionInfo>) -> Result<Session> {
    Ok(Session {
        tenant: t.clone(),
        handle: r.text(SessionInfo::SessionHandle)?,
        user_id: r.text(SessionInfo::UserId)?,
        refresh_token_hash: r.text(SessionInfo::RefreshTokenHash2)?,
        session_data: r.opt_json(SessionInfo::SessionData)?.unwrap_or(Value::Null),
        expires_at: r.int(SessionInfo::ExpiresAt)?,
        created_at: r.int(SessionInfo::CreatedAtTime)?,
        jwt_payload: r
            .opt_json(SessionInfo::JwtUserPayload)?
            .unwrap_or(Value::Null),
        use_static_key: r.bool(SessionInfo::UseStaticKey)?,
        prev_refresh_token_hash: r.opt_text(SessionInfo::PrevRefreshTokenHash2)?,
        refresh_token_rotated_at: r.opt_int(SessionInfo::RefreshTokenRotatedAt)?,
    })
}

/// Reads one session; `lock` takes a row lock (inside a transaction).
pub(crate) async fn get_session<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    handle: &str,
    lock: bool,
) -> Result<Option<Session>> {
    check_handle(handle)?;
    let stmt = Stmt::locking("sessions.get", lock);
    let args = args! { app: t.app.as_str(), tenant: t.tenant.as_str(), handle: handle };
    let row = q
        .fetch(c, stmt, &SESSION, args, |a| {
            let mut s = Query::select();
            s.from(q.t(Tbl::SessionInfo))
                .columns(SESSION)
                .cond_where(session_is(&a.app, &a.tenant, &a.handle));
            locked(s, lock)
        })
        .await?
        .one();
    row.map(|r| session_from(t, &r.rec())).transpose()
}

async fn update_tokens<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    u: &TokenUpdate<'_>,
) -> Result<u64> {
    check_handle(u.handle)?;
    validate::text("refresh_token_hash", u.new_hash, 128)?;
    validate::opt_text("prev_refresh_token_hash", u.prev_hash, 128)?;
    validate::time("expires_at", u.expires_at)?;
    if let Some(r) = u.rotated_at {
        validate::time("refresh_token_rotated_at", r)?;
    }
    let args = args! {
        app: t.app.as_str(),
        tenant: t.tenant.as_str(),
        handle: u.handle,
        new_hash: u.new_hash,
        prev_hash: u.prev_hash,
        rotated_at: u.rotated_at,
        expires_at: u.expires_at,
    };
    q.exec(c, Stmt::fixed("sessions.update_tokens"), args, |a| {
        Query::update()
            .table(q.t(Tbl::SessionInfo))
            .values([
                (SessionInfo::RefreshTokenHash2, a.new_hash.expr()),
                (SessionInfo::PrevRefreshTokenHash2, a.prev_hash.expr()),
                (SessionInfo::RefreshTokenRotatedAt, a.rotated_at.expr()),
                (SessionInfo::ExpiresAt, a.expires_at.expr()),
            ])
            .cond_where(session_is(&a.app, &a.tenant, &a.handle))
            .to_owned()
    })
    .await
    .no_violations()
}

/// The signing keys of an app, newest first; `lock` takes the app's named lock and
/// row locks (inside a transaction).
async fn signing_keys<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    lock: bool,
) -> Result<Vec<SigningKey>> {
    if lock {
        named_lock(c, &format!("signing_keys/{app}")).await?;
    }
    let stmt = Stmt::locking("sessions.signing_keys", lock);
    const KEY: [SessionAccessTokenSigningKeys; 2] = [
        SessionAccessTokenSigningKeys::CreatedAtTime,
        SessionAccessTokenSigningKeys::Value,
    ];
    let rows = q
        .fetch(c, stmt, &KEY, args! { app: app.as_str() }, |a| {
            let mut s = Query::select();
            s.from(q.t(Tbl::SessionAccessTokenSigningKeys))
                .columns(KEY)
                .and_where(Expr::col(SessionAccessTokenSigningKeys::AppId).eq(a.app.expr()))
                .order_by(SessionAccessTokenSigningKeys::CreatedAtTime, Order::Desc);
            locked(s, lock)
        })
        .await?;
    rows.iter()
        .map(|r| {
            Ok(SigningKey {
                created_at: r.int(SessionAccessTokenSigningKeys::CreatedAtTime)?,
                value: r
                    .opt_text(SessionAccessTokenSigningKeys::Value)?
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[async_trait]
impl<D: Driver> Sessions for SqlStorage<D> {
    async fn create_session(&self, s: &NewSession) -> Result<()> {
        check_handle(&s.handle)?;
        check_user_id(&s.user_id)?;
        validate::text("refresh_token_hash", &s.refresh_token_hash, 128)?;
        let data = validate::json("session_data", &s.session_data)?;
        let payload = validate::json("jwt_payload", &s.jwt_payload)?;
        validate::time("expires_at", s.expires_at)?;
        validate::time("created_at", s.created_at)?;
        self.on(Via::Pool, Op::tenant("create_session", &s.tenant), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                q.insert(
                    c,
                    Stmt::fixed("sessions.create"),
                    [
                        (SessionInfo::AppId, val(s.tenant.app.as_str())),
                        (SessionInfo::TenantId, val(s.tenant.tenant.as_str())),
                        (SessionInfo::SessionHandle, val(s.handle.as_str())),
                        (SessionInfo::UserId, val(s.user_id.as_str())),
                        (
                            SessionInfo::RefreshTokenHash2,
                            val(s.refresh_token_hash.as_str()),
                        ),
                        (SessionInfo::SessionData, val(data)),
                        (SessionInfo::ExpiresAt, val(s.expires_at)),
                        (SessionInfo::CreatedAtTime, val(s.created_at)),
                        (SessionInfo::JwtUserPayload, val(payload)),
                        (SessionInfo::UseStaticKey, val(s.use_static_key)),
                    ],
                )
                .await
                .violations(|v| match v {
                    Violation::ForeignKey(_) => no_tenant(&s.tenant),
                    Violation::Unique(_) => {
                        StorageError::query("a session with this handle already exists")
                    }
                })?;
                Ok(())
            })
        })
        .await
    }

    async fn get_session(&self, t: &TenantIdentifier, handle: &str) -> Result<Option<Session>> {
        self.on(Via::Read, Op::tenant("get_session", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                get_session(c, q, t, handle, false).await
            })
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        t: &TenantIdentifier,
        r: &RefreshRotation<'_>,
    ) -> Result<RotateOutcome> {
        let (handle, expected, new_hash, new_expiry, now) =
            (r.handle, r.expected, r.new_hash, r.new_expiry, r.now);
        check_handle(handle)?;
        validate::text("expected", expected, 128)?;
        validate::text("refresh_token_hash", new_hash, 128)?;
        validate::time("expires_at", new_expiry)?;
        validate::time("now", now)?;
        self.on(Via::Pool, Op::tenant("rotate_refresh_token", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                // One conditional UPDATE: race-free without a transaction. The old hash
                // becomes the previous one; `now` is both the rotation time and the
                // bound the session must not have expired before.
                let args = args! {
                    app: t.app.as_str(),
                    tenant: t.tenant.as_str(),
                    handle: handle,
                    new_hash: new_hash,
                    expected: expected,
                    now: now,
                    new_expiry: new_expiry,
                };
                let rotated = q
                    .exec(c, Stmt::fixed("sessions.rotate_refresh_token"), args, |a| {
                        Query::update()
                            .table(q.t(Tbl::SessionInfo))
                            .values([
                                (SessionInfo::RefreshTokenHash2, a.new_hash.expr()),
                                (SessionInfo::PrevRefreshTokenHash2, a.expected.expr()),
                                (SessionInfo::RefreshTokenRotatedAt, a.now.expr()),
                                (SessionInfo::ExpiresAt, a.new_expiry.expr()),
                            ])
                            .cond_where(
                                session_is(&a.app, &a.tenant, &a.handle)
                                    .add(
                                        Expr::col(SessionInfo::RefreshTokenHash2)
                                            .eq(a.expected.expr()),
                                    )
                                    .add(Expr::col(SessionInfo::ExpiresAt).gte(a.now.expr())),
                            )
                            .to_owned()
                    })
                    .await
                    .no_violations()?;
                if rotated > 0 {
                    return Ok(RotateOutcome::Rotated);
                }
                // Only on the failure path: tell a mismatch from a missing session.
                const EXPIRY: [SessionInfo; 1] = [SessionInfo::ExpiresAt];
                let args = args! { app: t.app.as_str(), tenant: t.tenant.as_str(), handle: handle };
                let row = q
                    .fetch(c, Stmt::fixed("sessions.expiry"), &EXPIRY, args, |a| {
                        Query::select()
                            .from(q.t(Tbl::SessionInfo))
                            .columns(EXPIRY)
                            .cond_where(session_is(&a.app, &a.tenant, &a.handle))
                            .to_owned()
                    })
                    .await?
                    .one();
                Ok(match row {
                    Some(r) if r.rec().int(SessionInfo::ExpiresAt)? >= now => {
                        RotateOutcome::Mismatch
                    }
                    _ => RotateOutcome::NotFound,
                })
            })
        })
        .await
    }

    async fn update_session(
        &self,
        t: &TenantIdentifier,
        handle: &str,
        session_data: Option<&Value>,
        jwt_payload: Option<&Value>,
    ) -> Result<u64> {
        check_handle(handle)?;
        let data = session_data
            .map(|d| validate::json("session_data", d))
            .transpose()?;
        let payload = jwt_payload
            .map(|p| validate::json("jwt_payload", p))
            .transpose()?;
        self.on(Via::Pool, Op::tenant("update_session", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let stmt = match (data.is_some(), payload.is_some()) {
                    (false, false) => {
                        return Ok(get_session(c, q, t, handle, false).await?.map_or(0, |_| 1));
                    }
                    (true, false) => Stmt::fixed("sessions.update_data"),
                    (false, true) => Stmt::fixed("sessions.update_payload"),
                    (true, true) => Stmt::fixed("sessions.update_data_and_payload"),
                };
                let (set_data, set_payload) = (data.is_some(), payload.is_some());
                let args = args! {
                    app: t.app.as_str(),
                    tenant: t.tenant.as_str(),
                    handle: handle,
                    data: data,
                    payload: payload,
                };
                q.exec(c, stmt, args, |a| {
                    let mut u = Query::update();
                    u.table(q.t(Tbl::SessionInfo));
                    if set_data {
                        u.value(SessionInfo::SessionData, a.data.expr());
                    }
                    if set_payload {
                        u.value(SessionInfo::JwtUserPayload, a.payload.expr());
                    }
                    u.cond_where(session_is(&a.app, &a.tenant, &a.handle));
                    u
                })
                .await
                .no_violations()
            })
        })
        .await
    }

    async fn delete_sessions(&self, t: &TenantIdentifier, handles: &[String]) -> Result<u64> {
        for h in handles {
            check_handle(h)?;
        }
        if handles.is_empty() {
            return Ok(0);
        }
        self.on(Via::Pool, Op::tenant("delete_sessions", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let mut n = 0;
                for chunk in handles.chunks(500) {
                    let stmt = Stmt::shaped("sessions.delete", Shape::Each(chunk.len()));
                    let args = args! {
                        app: t.app.as_str(),
                        tenant: t.tenant.as_str(),
                        handles: each(chunk.iter().map(String::as_str)),
                    };
                    n += q
                        .exec(c, stmt, args, |a| {
                            Query::delete()
                                .from_table(q.t(Tbl::SessionInfo))
                                .cond_where(tenant_is::<SessionInfo>(&a.app, &a.tenant).add(
                                    Expr::col(SessionInfo::SessionHandle).is_in(a.handles.values()),
                                ))
                                .to_owned()
                        })
                        .await
                        .no_violations()?;
                }
                Ok(n)
            })
        })
        .await
    }

    async fn delete_sessions_of_user(&self, scope: &UserScope, user_id: &str) -> Result<u64> {
        check_user_id(user_id)?;
        self.on(
            Via::Pool,
            Op::scope("delete_sessions_of_user", scope),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    let (stmt, app, tenant) = match scope {
                        UserScope::App(a) => {
                            (Stmt::fixed("sessions.delete_of_user_in_app"), a, None)
                        }
                        UserScope::Tenant(t) => (
                            Stmt::fixed("sessions.delete_of_user_in_tenant"),
                            &t.app,
                            Some(t.tenant.as_str()),
                        ),
                    };
                    let in_tenant = tenant.is_some();
                    let args = args! { app: app.as_str(), tenant: tenant, user_id: user_id };
                    q.exec(c, stmt, args, |a| {
                        let mut cond =
                            Cond::all().add(Expr::col(SessionInfo::AppId).eq(a.app.expr()));
                        if in_tenant {
                            cond = cond.add(Expr::col(SessionInfo::TenantId).eq(a.tenant.expr()));
                        }
                        Query::delete()
                            .from_table(q.t(Tbl::SessionInfo))
                            .cond_where(
                                cond.add(Expr::col(SessionInfo::UserId).eq(a.user_id.expr())),
                            )
                            .to_owned()
                    })
                    .await
                    .no_violations()
                })
            },
        )
        .await
    }

    async fn session_handles_of_user(
        &self,
        t: &TenantIdentifier,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<String>> {
        check_user_id(user_id)?;
        self.on(Via::Read, Op::tenant("session_handles_of_user", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const HANDLE: [SessionInfo; 1] = [SessionInfo::SessionHandle];
                let args = args! {
                    app: t.app.as_str(),
                    tenant: t.tenant.as_str(),
                    user_id: user_id,
                    now: now,
                };
                let rows = q
                    .fetch(
                        c,
                        Stmt::fixed("sessions.handles_of_user"),
                        &HANDLE,
                        args,
                        |a| {
                            Query::select()
                                .from(q.t(Tbl::SessionInfo))
                                .columns(HANDLE)
                                .cond_where(
                                    tenant_is::<SessionInfo>(&a.app, &a.tenant)
                                        .add(Expr::col(SessionInfo::UserId).eq(a.user_id.expr()))
                                        .add(Expr::col(SessionInfo::ExpiresAt).gte(a.now.expr())),
                                )
                                .order_by(SessionInfo::SessionHandle, Order::Asc)
                                .to_owned()
                        },
                    )
                    .await?;
                rows.iter()
                    .map(|r| r.text(SessionInfo::SessionHandle))
                    .collect()
            })
        })
        .await
    }

    async fn count_sessions(&self, t: &TenantIdentifier) -> Result<u64> {
        self.on(Via::Pool, Op::tenant("count_sessions", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const N: [As; 1] = [As::N];
                let args = args! { app: t.app.as_str(), tenant: t.tenant.as_str() };
                let row = q
                    .fetch(c, Stmt::fixed("sessions.count"), &N, args, |a| {
                        Query::select()
                            .from(q.t(Tbl::SessionInfo))
                            .expr_as(Expr::cust("COUNT(*)"), As::N)
                            .cond_where(tenant_is::<SessionInfo>(&a.app, &a.tenant))
                            .to_owned()
                    })
                    .await?
                    .one();
                Ok(row.map(|r| r.rec().int(As::N)).transpose()?.unwrap_or(0) as u64)
            })
        })
        .await
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        // A batch that loses a deadlock to a concurrent cleanup (InnoDB: the range
        // deletes lock index records in different orders) was rolled back whole, so
        // it is simply run again, as a transaction would be.
        traced(D::NAME, Op::global("delete_expired_sessions"), async {
            let mut total = 0;
            loop {
                // Each batch is its own statement, so no lock is held for long.
                let n = retrying(|| async {
                    let mut cx = self.connection(Via::Pool).await?;
                    let (c, q) = cx.parts();
                    q.exec(
                        c,
                        Stmt::fixed("sessions.delete_expired"),
                        args! { now: now },
                        |a| expired_batch(q, &a.now),
                    )
                    .await
                    .no_violations()
                })
                .await?;
                total += n;
                if n < EXPIRED_BATCH {
                    return Ok(total);
                }
            }
        })
        .await
    }

    async fn signing_keys(&self, app: &AppId) -> Result<Vec<SigningKey>> {
        self.on(Via::Read, Op::app("signing_keys", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                signing_keys(c, q, app, false).await
            })
        })
        .await
    }
}

/// `DELETE` of at most [`EXPIRED_BATCH`] sessions expired before `now`.
fn expired_batch(q: Q<'_>, now: &One) -> sea_query::DeleteStatement {
    let expired = Expr::col(SessionInfo::ExpiresAt).lt(now.expr());
    if q.dialect == Dialect::MySql {
        return Query::delete()
            .from_table(q.t(Tbl::SessionInfo))
            .and_where(expired)
            .limit(EXPIRED_BATCH)
            .to_owned();
    }
    let mut batch = Query::select();
    batch
        .from(q.t(Tbl::SessionInfo))
        .columns([
            SessionInfo::AppId,
            SessionInfo::TenantId,
            SessionInfo::SessionHandle,
        ])
        .and_where(expired)
        .limit(EXPIRED_BATCH);
    // PostgreSQL: concurrent cleanups (one per core instance) would otherwise pick
    // overlapping batches and lock their rows in different orders, which deadlocks;
    // each now locks its batch as it picks it and skips rows another cleanup holds
    // (that one deletes them). SQLite has one writer at a time.
    if q.dialect == Dialect::Postgres {
        batch.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Query::delete()
        .from_table(q.t(Tbl::SessionInfo))
        .and_where(
            Expr::tuple([
                Expr::col(SessionInfo::AppId),
                Expr::col(SessionInfo::TenantId),
                Expr::col(SessionInfo::SessionHandle),
            ])
            .in_subquery(batch),
        )
        .to_owned()
}

#[async_trait]
impl<D: Driver> SessionsTx for SqlTx<D> {
    async fn get_session_for_update(
        &mut self,
        t: &TenantIdentifier,
        handle: &str,
    ) -> Result<Option<Session>> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::tenant("get_session_for_update", t),
            get_session(c, q, t, handle, true),
        )
        .await
    }

    async fn update_tokens(&mut self, t: &TenantIdentifier, u: &TokenUpdate<'_>) -> Result<u64> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::tenant("update_tokens", t),
            update_tokens(c, q, t, u),
        )
        .await
    }

    async fn signing_keys_for_update(&mut self, app: &AppId) -> Result<Vec<SigningKey>> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("signing_keys_for_update", app),
            signing_keys(c, q, app, true),
        )
        .await
    }

    async fn add_signing_key(&mut self, app: &AppId, key: &SigningKey) -> Result<()> {
        validate::free_text("value", &key.value)?;
        validate::time("created_at", key.created_at)?;
        let (c, q) = self.parts();
        traced(D::NAME, Op::app("add_signing_key", app), async {
            q.insert(
                c,
                Stmt::fixed("sessions.add_signing_key"),
                [
                    (SessionAccessTokenSigningKeys::AppId, val(app.as_str())),
                    (
                        SessionAccessTokenSigningKeys::CreatedAtTime,
                        val(key.created_at),
                    ),
                    (
                        SessionAccessTokenSigningKeys::Value,
                        val(key.value.as_str()),
                    ),
                ],
            )
            .await
            .violations(|v| match v {
                Violation::ForeignKey(_) => no_app(app),
                Violation::Unique(_) => {
                    StorageError::query("a signing key with this creation time already exists")
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn remove_signing_keys_before(&mut self, app: &AppId, before: i64) -> Result<u64> {
        let (c, q) = self.parts();
        let args = args! { app: app.as_str(), before: before };
        traced(D::NAME, Op::app("remove_signing_keys_before", app), async {
            q.exec(
                c,
                Stmt::fixed("sessions.remove_signing_keys_before"),
                args,
                |a| {
                    Query::delete()
                        .from_table(q.t(Tbl::SessionAccessTokenSigningKeys))
                        .cond_where(
                            Cond::all()
                                .add(
                                    Expr::col(SessionAccessTokenSigningKeys::AppId)
                                        .eq(a.app.expr()),
                                )
                                .add(
                                    Expr::col(SessionAccessTokenSigningKeys::CreatedAtTime)
                                        .lt(a.before.expr()),
                                ),
                        )
                        .to_owned()
                },
            )
            .await
            .no_violations()
        })
        .await
    }
}
