//! JWT signing keys of an app (contract-phase2 B.4), in `jwt_signing_keys`.

use crate::SqlStorage;
use crate::conn::{Conn, Driver, Violation};
use crate::run::{Op, Via, named_lock, traced};
use crate::schema::{JwtSigningKeys, Tbl};
use crate::stmt::{Meaning, Q, Stmt, args, insert_row, locked, no_app};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Expr, ExprTrait, Order, Query};
use storage_api::validate;
use storage_api::*;

/// The select list of a key row.
const KEY: [JwtSigningKeys; 4] = [
    JwtSigningKeys::KeyId,
    JwtSigningKeys::Algorithm,
    JwtSigningKeys::KeyString,
    JwtSigningKeys::CreatedAt,
];

/// The app's keys, newest first; `lock` takes the app's named lock and row locks
/// (inside a transaction).
async fn keys<C: Conn>(c: &mut C, q: Q<'_>, app: &AppId, lock: bool) -> Result<Vec<JwtSigningKey>> {
    if lock {
        named_lock(c, &format!("jwt_signing_keys/{app}")).await?;
    }
    let rows = q
        .fetch(
            c,
            Stmt::locking("jwt_keys.all", lock),
            &KEY,
            args! { app: app.as_str() },
            |a| {
                let mut s = Query::select();
                s.from(q.t(Tbl::JwtSigningKeys))
                    .columns(KEY)
                    .and_where(Expr::col(JwtSigningKeys::AppId).eq(a.app.expr()))
                    .order_by(JwtSigningKeys::CreatedAt, Order::Desc)
                    .order_by(JwtSigningKeys::KeyId, Order::Desc);
                locked(s, lock)
            },
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(JwtSigningKey {
                key_id: r.text(JwtSigningKeys::KeyId)?,
                algorithm: r.text(JwtSigningKeys::Algorithm)?,
                key_string: Secret::new(r.text(JwtSigningKeys::KeyString)?),
                created_at: r.opt_int(JwtSigningKeys::CreatedAt)?.unwrap_or(0),
            })
        })
        .collect()
}

/// Adds a key: `DuplicateKeyId`, `TenantOrAppNotFound`.
async fn add<C: Conn>(c: &mut C, q: Q<'_>, app: &AppId, key: &JwtSigningKey) -> Result<()> {
    validate::text("key_id", &key.key_id, 255)?;
    validate::text("algorithm", &key.algorithm, 10)?;
    validate::free_text("key_string", key.key_string.expose())?;
    validate::time("created_at", key.created_at)?;
    let args = args! {
        app: app.as_str(),
        key_id: key.key_id.as_str(),
        key_string: key.key_string.expose(),
        algorithm: key.algorithm.as_str(),
        created_at: key.created_at,
    };
    q.exec(c, Stmt::fixed("jwt_keys.add"), args, |a| {
        insert_row(
            q.t(Tbl::JwtSigningKeys),
            [
                (JwtSigningKeys::AppId, a.app.expr()),
                (JwtSigningKeys::KeyId, a.key_id.expr()),
                (JwtSigningKeys::KeyString, a.key_string.expr()),
                (JwtSigningKeys::Algorithm, a.algorithm.expr()),
                (JwtSigningKeys::CreatedAt, a.created_at.expr()),
            ],
        )
    })
    .await
    .violations(|v| match v {
        Violation::ForeignKey(_) => no_app(app),
        Violation::Unique(_) => StorageError::DuplicateKeyId,
    })?;
    Ok(())
}

#[async_trait]
impl<D: Driver> storage_api::JwtSigningKeys for SqlStorage<D> {
    async fn jwt_signing_keys(&self, app: &AppId) -> Result<Vec<JwtSigningKey>> {
        self.on(Via::Pool, Op::app("jwt_signing_keys", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                keys(c, q, app, false).await
            })
        })
        .await
    }

    async fn get_or_create_jwt_signing_key(
        &self,
        app: &AppId,
        algorithm: &str,
        new_key: NewJwtKey<'_>,
    ) -> Result<JwtSigningKey> {
        validate::text("algorithm", algorithm, 10)?;
        self.in_tx(Op::app("get_or_create_jwt_signing_key", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let existing = keys(c, q, app, true).await?;
                if let Some(k) = existing.into_iter().find(|k| k.algorithm == algorithm) {
                    return Ok(k);
                }
                let key = new_key();
                if key.algorithm != algorithm {
                    return Err(StorageError::invalid(
                        "algorithm",
                        "the new key's algorithm differs from the one asked for",
                    ));
                }
                add(c, q, app, &key).await?;
                Ok(key)
            })
        })
        .await
    }
}

#[async_trait]
impl<D: Driver> JwtSigningKeysTx for SqlTx<D> {
    async fn jwt_signing_keys_for_update(&mut self, app: &AppId) -> Result<Vec<JwtSigningKey>> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("jwt_signing_keys_for_update", app),
            keys(c, q, app, true),
        )
        .await
    }

    async fn add_jwt_signing_key(&mut self, app: &AppId, key: &JwtSigningKey) -> Result<()> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("add_jwt_signing_key", app),
            add(c, q, app, key),
        )
        .await
    }
}
