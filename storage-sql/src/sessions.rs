//! Sessions with refresh-token rotation, and access-token signing keys (contract 5.3).

use crate::SqlStorage;
use crate::conn::{Conn, DbError, Dialect, Driver, Row};
use crate::q::{Q, col, no_app, no_tenant, retrying, tenant_cond, v, with_conn};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{
    Cond, Condition, Expr, ExprTrait, LockBehavior, LockType, Order, Query, Value as V,
};
use serde_json::Value;
use storage_api::validate;
use storage_api::*;

/// Rows deleted per statement by [`Sessions::delete_expired_sessions`].
pub const EXPIRED_BATCH: u64 = 1000;

fn key_cond(t: &TenantIdentifier, handle: &str) -> Condition {
    tenant_cond(t).add(Expr::col(col("session_handle")).eq(handle))
}

/// `app_id = a[0] AND tenant_id = a[1] AND session_handle = a[2]`.
fn key_cond_v(a: &[V]) -> Condition {
    Cond::all()
        .add(Expr::col(col("app_id")).eq(a[0].clone()))
        .add(Expr::col(col("tenant_id")).eq(a[1].clone()))
        .add(Expr::col(col("session_handle")).eq(a[2].clone()))
}

fn key_args(t: &TenantIdentifier, handle: &str) -> Vec<V> {
    vec![v(t.app.as_str()), v(t.tenant.as_str()), v(handle)]
}

fn check_handle(h: &str) -> Result<()> {
    validate::text("session_handle", h, 255)
}

const SESSION_COLS: [&str; 10] = [
    "session_handle",
    "user_id",
    "refresh_token_hash_2",
    "session_data",
    "expires_at",
    "created_at_time",
    "jwt_user_payload",
    "use_static_key",
    "prev_refresh_token_hash_2",
    "refresh_token_rotated_at",
];

fn session_from(t: &TenantIdentifier, r: &Row) -> Result<Session> {
    Ok(Session {
        tenant: t.clone(),
        handle: r.text(0)?,
        user_id: r.text(1)?,
        refresh_token_hash: r.text(2)?,
        session_data: r.opt_json(3)?.unwrap_or(Value::Null),
        expires_at: r.int(4)?,
        created_at: r.int(5)?,
        jwt_payload: r.opt_json(6)?.unwrap_or(Value::Null),
        use_static_key: r.bool(7)?,
        prev_refresh_token_hash: r.opt_text(8)?,
        refresh_token_rotated_at: r.opt_int(9)?,
    })
}

pub(crate) async fn get_session<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    handle: &str,
    lock: bool,
) -> Result<Option<Session>> {
    check_handle(handle)?;
    q.fetch_opt_t(
        c,
        "get_session",
        u64::from(lock),
        key_args(t, handle),
        |a| {
            let mut s = Query::select();
            s.from(q.t("session_info"))
                .columns(SESSION_COLS.map(col))
                .cond_where(key_cond_v(a));
            if lock {
                s.lock_exclusive();
            }
            s
        },
    )
    .await?
    .map(|r| session_from(t, &r))
    .transpose()
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn update_tokens<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    handle: &str,
    new_hash: &str,
    prev_hash: Option<&str>,
    rotated_at: Option<i64>,
    expires_at: i64,
) -> Result<u64> {
    check_handle(handle)?;
    validate::text("refresh_token_hash", new_hash, 128)?;
    validate::opt_text("prev_refresh_token_hash", prev_hash, 128)?;
    validate::time("expires_at", expires_at)?;
    if let Some(r) = rotated_at {
        validate::time("refresh_token_rotated_at", r)?;
    }
    q.run(
        c,
        Query::update()
            .table(q.t("session_info"))
            .values([
                (col("refresh_token_hash_2"), new_hash.into()),
                (
                    col("prev_refresh_token_hash_2"),
                    prev_hash.map(str::to_owned).into(),
                ),
                (col("refresh_token_rotated_at"), rotated_at.into()),
                (col("expires_at"), expires_at.into()),
            ])
            .cond_where(key_cond(t, handle)),
    )
    .await
}

fn app_cond(app: &AppId) -> Condition {
    Cond::all().add(Expr::col(col("app_id")).eq(app.as_str()))
}

pub(crate) async fn signing_keys<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    lock: bool,
) -> Result<Vec<SigningKey>> {
    if lock {
        c.named_lock(&format!("signing_keys/{app}")).await?;
    }
    let mut s = Query::select();
    s.from(q.t("session_access_token_signing_keys"))
        .columns([col("created_at_time"), col("value")])
        .cond_where(app_cond(app))
        .order_by(col("created_at_time"), Order::Desc);
    if lock {
        s.lock_exclusive();
    }
    q.fetch(c, &s)
        .await?
        .iter()
        .map(|r| {
            Ok(SigningKey {
                created_at: r.int(0)?,
                value: r.opt_text(1)?.unwrap_or_default(),
            })
        })
        .collect()
}

fn check_user_id(u: &str) -> Result<()> {
    validate::text("user_id", u, 128)
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
        let args = vec![
            v(s.tenant.app.as_str()),
            v(s.tenant.tenant.as_str()),
            v(s.handle.as_str()),
            v(s.user_id.as_str()),
            v(s.refresh_token_hash.as_str()),
            v(data),
            v(s.expires_at),
            v(s.created_at),
            v(payload),
            v(s.use_static_key),
        ];
        with_conn!(self, |c, q| {
            q.exec_t(c, "create_session", 0, args, |a| {
                Query::insert()
                    .into_table(q.t("session_info"))
                    .columns(
                        [
                            "app_id",
                            "tenant_id",
                            "session_handle",
                            "user_id",
                            "refresh_token_hash_2",
                            "session_data",
                            "expires_at",
                            "created_at_time",
                            "jwt_user_payload",
                            "use_static_key",
                        ]
                        .map(col),
                    )
                    .values_panic(a.iter().cloned().map(Into::into))
                    .to_owned()
            })
            .await
            .map_err(|e| match e {
                DbError::ForeignKey => no_tenant(&s.tenant),
                DbError::Unique { .. } => {
                    StorageError::query("a session with this handle already exists")
                }
                e => e.into_storage(),
            })?;
            Ok(())
        })
    }

    async fn get_session(&self, t: &TenantIdentifier, handle: &str) -> Result<Option<Session>> {
        with_conn!(read self, |c, q| get_session(c, q, t, handle, false).await)
    }

    async fn rotate_refresh_token(
        &self,
        t: &TenantIdentifier,
        handle: &str,
        expected: &str,
        new_hash: &str,
        new_expiry: i64,
        now: i64,
    ) -> Result<RotateOutcome> {
        check_handle(handle)?;
        validate::text("expected", expected, 128)?;
        validate::text("refresh_token_hash", new_hash, 128)?;
        validate::time("expires_at", new_expiry)?;
        validate::time("now", now)?;
        with_conn!(self, |c, q| {
            // One conditional UPDATE: race-free without a transaction.
            // Arguments: app, tenant, handle, new hash, expected hash, now, new expiry.
            let mut args = key_args(t, handle);
            args.extend([v(new_hash), v(expected), v(now), v(new_expiry)]);
            let n = q
                .run_t(c, "rotate_refresh_token", 0, args, |a| {
                    Query::update()
                        .table(q.t("session_info"))
                        .values([
                            (col("refresh_token_hash_2"), a[3].clone().into()),
                            (col("prev_refresh_token_hash_2"), a[4].clone().into()),
                            (col("refresh_token_rotated_at"), a[5].clone().into()),
                            (col("expires_at"), a[6].clone().into()),
                        ])
                        .cond_where(
                            key_cond_v(a)
                                .add(Expr::col(col("refresh_token_hash_2")).eq(a[4].clone()))
                                .add(Expr::col(col("expires_at")).gte(a[5].clone())),
                        )
                        .to_owned()
                })
                .await?;
            if n > 0 {
                return Ok(RotateOutcome::Rotated);
            }
            // Only on the failure path: tell a mismatch from a missing session.
            let row = q
                .fetch_opt(
                    c,
                    Query::select()
                        .from(q.t("session_info"))
                        .column(col("expires_at"))
                        .cond_where(key_cond(t, handle)),
                )
                .await?;
            Ok(match row {
                Some(r) if r.int(0)? >= now => RotateOutcome::Mismatch,
                _ => RotateOutcome::NotFound,
            })
        })
    }

    async fn update_session(
        &self,
        t: &TenantIdentifier,
        handle: &str,
        session_data: Option<&Value>,
        jwt_payload: Option<&Value>,
    ) -> Result<u64> {
        check_handle(handle)?;
        let mut values = Vec::new();
        if let Some(d) = session_data {
            values.push((
                col("session_data"),
                validate::json("session_data", d)?.into(),
            ));
        }
        if let Some(p) = jwt_payload {
            values.push((
                col("jwt_user_payload"),
                validate::json("jwt_payload", p)?.into(),
            ));
        }
        with_conn!(self, |c, q| {
            if values.is_empty() {
                return Ok(get_session(c, q, t, handle, false).await?.map_or(0, |_| 1));
            }
            q.run(
                c,
                Query::update()
                    .table(q.t("session_info"))
                    .values(values.clone())
                    .cond_where(key_cond(t, handle)),
            )
            .await
        })
    }

    async fn delete_sessions(&self, t: &TenantIdentifier, handles: &[String]) -> Result<u64> {
        for h in handles {
            check_handle(h)?;
        }
        if handles.is_empty() {
            return Ok(0);
        }
        with_conn!(self, |c, q| {
            let mut n = 0;
            for chunk in handles.chunks(500) {
                n += q
                    .run(
                        c,
                        Query::delete().from_table(q.t("session_info")).cond_where(
                            tenant_cond(t).add(
                                Expr::col(col("session_handle"))
                                    .is_in(chunk.iter().map(String::as_str)),
                            ),
                        ),
                    )
                    .await?;
            }
            Ok(n)
        })
    }

    async fn delete_sessions_of_user(&self, scope: &UserScope, user_id: &str) -> Result<u64> {
        check_user_id(user_id)?;
        let cond = match scope {
            UserScope::App(a) => app_cond(a),
            UserScope::Tenant(t) => tenant_cond(t),
        }
        .add(Expr::col(col("user_id")).eq(user_id));
        with_conn!(self, |c, q| q
            .run(
                c,
                Query::delete()
                    .from_table(q.t("session_info"))
                    .cond_where(cond.clone()),
            )
            .await)
    }

    async fn session_handles_of_user(
        &self,
        t: &TenantIdentifier,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<String>> {
        check_user_id(user_id)?;
        with_conn!(read self, |c, q| {
            q.fetch(
                c,
                Query::select()
                    .from(q.t("session_info"))
                    .column(col("session_handle"))
                    .cond_where(
                        tenant_cond(t)
                            .add(Expr::col(col("user_id")).eq(user_id))
                            .add(Expr::col(col("expires_at")).gte(now)),
                    )
                    .order_by(col("session_handle"), Order::Asc),
            )
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect()
        })
    }

    async fn count_sessions(&self, t: &TenantIdentifier) -> Result<u64> {
        with_conn!(self, |c, q| {
            let r = q
                .fetch_opt(
                    c,
                    Query::select()
                        .from(q.t("session_info"))
                        .expr(Expr::cust("COUNT(*)"))
                        .cond_where(tenant_cond(t)),
                )
                .await?;
            Ok(r.map(|r| r.int(0)).transpose()?.unwrap_or(0) as u64)
        })
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        // A batch that loses a deadlock to a concurrent cleanup (InnoDB: the range
        // deletes lock index records in different orders) was rolled back whole, so
        // it is simply run again, as a transaction would be.
        let mut total = 0;
        loop {
            // Each batch is its own statement, so no lock is held for long.
            let n = retrying!(async {
                with_conn!(self, |c, q| {
                    q.run_t(c, "delete_expired_sessions", 0, vec![v(now)], |a| {
                        let expired = Expr::col(col("expires_at")).lt(a[0].clone());
                        match q.d {
                            Dialect::MySql => Query::delete()
                                .from_table(q.t("session_info"))
                                .and_where(expired)
                                .limit(EXPIRED_BATCH)
                                .to_owned(),
                            _ => {
                                let mut batch = Query::select();
                                batch
                                    .from(q.t("session_info"))
                                    .columns([
                                        col("app_id"),
                                        col("tenant_id"),
                                        col("session_handle"),
                                    ])
                                    .and_where(expired)
                                    .limit(EXPIRED_BATCH);
                                // PostgreSQL: concurrent cleanups (one per core instance)
                                // would otherwise pick overlapping batches and lock their
                                // rows in different orders, which deadlocks; each now
                                // locks its batch as it picks it and skips rows another
                                // cleanup holds (that one deletes them). SQLite has one
                                // writer at a time.
                                if q.d == Dialect::Postgres {
                                    batch.lock_with_behavior(
                                        LockType::Update,
                                        LockBehavior::SkipLocked,
                                    );
                                }
                                Query::delete()
                                    .from_table(q.t("session_info"))
                                    .and_where(
                                        Expr::tuple([
                                            Expr::col(col("app_id")),
                                            Expr::col(col("tenant_id")),
                                            Expr::col(col("session_handle")),
                                        ])
                                        .in_subquery(batch),
                                    )
                                    .to_owned()
                            }
                        }
                    })
                    .await
                })
            })?;
            total += n;
            if n < EXPIRED_BATCH {
                return Ok(total);
            }
        }
    }

    async fn signing_keys(&self, app: &AppId) -> Result<Vec<SigningKey>> {
        with_conn!(read self, |c, q| signing_keys(c, q, app, false).await)
    }
}

#[async_trait]
impl<D: Driver> SessionsTx for SqlTx<D> {
    async fn get_session_for_update(
        &mut self,
        t: &TenantIdentifier,
        handle: &str,
    ) -> Result<Option<Session>> {
        let (c, q) = self.parts();
        get_session(c, q, t, handle, true).await
    }

    async fn update_tokens(
        &mut self,
        t: &TenantIdentifier,
        handle: &str,
        new_hash: &str,
        prev_hash: Option<&str>,
        rotated_at: Option<i64>,
        expires_at: i64,
    ) -> Result<u64> {
        let (c, q) = self.parts();
        update_tokens(c, q, t, handle, new_hash, prev_hash, rotated_at, expires_at).await
    }

    async fn signing_keys_for_update(&mut self, app: &AppId) -> Result<Vec<SigningKey>> {
        let (c, q) = self.parts();
        signing_keys(c, q, app, true).await
    }

    async fn add_signing_key(&mut self, app: &AppId, key: &SigningKey) -> Result<()> {
        validate::free_text("value", &key.value)?;
        validate::time("created_at", key.created_at)?;
        let (c, q) = self.parts();
        q.exec(
            c,
            Query::insert()
                .into_table(q.t("session_access_token_signing_keys"))
                .columns([col("app_id"), col("created_at_time"), col("value")])
                .values_panic([
                    app.as_str().into(),
                    key.created_at.into(),
                    key.value.as_str().into(),
                ]),
        )
        .await
        .map_err(|e| match e {
            DbError::ForeignKey => no_app(app),
            DbError::Unique { .. } => {
                StorageError::query("a signing key with this creation time already exists")
            }
            e => e.into_storage(),
        })?;
        Ok(())
    }

    async fn remove_signing_keys_before(&mut self, app: &AppId, before: i64) -> Result<u64> {
        let (c, q) = self.parts();
        q.run(
            c,
            Query::delete()
                .from_table(q.t("session_access_token_signing_keys"))
                .cond_where(app_cond(app).add(Expr::col(col("created_at_time")).lt(before))),
        )
        .await
    }
}
