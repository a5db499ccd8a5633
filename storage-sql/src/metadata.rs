//! User metadata (contract-phase2 B.1): one JSON object per (app, user), stored as
//! text in `user_metadata`.

use crate::SqlStorage;
use crate::conn::{Conn, Driver, Violation};
use crate::run::{Op, Stale, Via, named_lock, traced};
use crate::schema::{Tbl, UserMetadata};
use crate::stmt::{Meaning, Q, Shape, Stmt, app_user_is, args, each, insert_row, no_app};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Cond, Expr, ExprTrait, OnConflict, Order, Query};
use serde_json::Value;
use storage_api::validate;
use storage_api::*;

/// User ids of the non-auth recipes may be external ids.
pub(crate) fn check_user_id(user_id: &str) -> Result<()> {
    validate::text("user_id", user_id, 128)
}

/// The named lock of one user's metadata.
fn lock_name(app: &AppId, user_id: &str) -> String {
    format!("user_metadata/{app}/{user_id}")
}

/// Reads one user's metadata.
async fn get<C: Conn>(c: &mut C, q: Q<'_>, app: &AppId, user_id: &str) -> Result<Option<Value>> {
    check_user_id(user_id)?;
    const META: [UserMetadata; 1] = [UserMetadata::UserMetadata];
    let args = args! { app: app.as_str(), user_id: user_id };
    let row = q
        .fetch(c, Stmt::fixed("metadata.get"), &META, args, |a| {
            Query::select()
                .from(q.t(Tbl::UserMetadata))
                .columns(META)
                .cond_where(app_user_is::<UserMetadata>(&a.app, &a.user_id))
                .to_owned()
        })
        .await?
        .one();
    Ok(row
        .map(|r| r.rec().opt_json(UserMetadata::UserMetadata))
        .transpose()?
        .flatten())
}

/// Upserts one user's metadata object.
async fn set<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    metadata: &Value,
) -> Result<()> {
    check_user_id(user_id)?;
    if !metadata.is_object() {
        return Err(StorageError::invalid("metadata", "must be a JSON object"));
    }
    let text = validate::json("metadata", metadata)?;
    let args = args! { app: app.as_str(), user_id: user_id, meta: text };
    q.exec(c, Stmt::fixed("metadata.set"), args, |a| {
        insert_row(
            q.t(Tbl::UserMetadata),
            [
                (UserMetadata::AppId, a.app.expr()),
                (UserMetadata::UserId, a.user_id.expr()),
                (UserMetadata::UserMetadata, a.meta.expr()),
            ],
        )
        .on_conflict(
            OnConflict::columns([UserMetadata::AppId, UserMetadata::UserId])
                .update_column(UserMetadata::UserMetadata)
                .to_owned(),
        )
        .to_owned()
    })
    .await
    .violations(|v| match v {
        Violation::ForeignKey(_) => no_app(app),
        Violation::Unique(_) => StorageError::query("metadata upsert violated a unique key"),
    })?;
    Ok(())
}

/// Deletes one user's metadata.
async fn delete<C: Conn>(c: &mut C, q: Q<'_>, app: &AppId, user_id: &str) -> Result<u64> {
    check_user_id(user_id)?;
    let args = args! { app: app.as_str(), user_id: user_id };
    q.exec(c, Stmt::fixed("metadata.delete"), args, |a| {
        Query::delete()
            .from_table(q.t(Tbl::UserMetadata))
            .cond_where(app_user_is::<UserMetadata>(&a.app, &a.user_id))
            .to_owned()
    })
    .await
    .no_violations()
}

#[async_trait]
impl<D: Driver> storage_api::UserMetadata for SqlStorage<D> {
    async fn get_user_metadata(&self, app: &AppId, user_id: &str) -> Result<Option<Value>> {
        self.stale_read(Stale::Point, Op::app("get_user_metadata", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                get(c, q, app, user_id).await
            })
        })
        .await
    }

    async fn set_user_metadata(&self, app: &AppId, user_id: &str, metadata: &Value) -> Result<()> {
        self.on(Via::Pool, Op::app("set_user_metadata", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                set(c, q, app, user_id, metadata).await
            })
        })
        .await
    }

    async fn delete_user_metadata(&self, app: &AppId, user_id: &str) -> Result<u64> {
        self.on(Via::Pool, Op::app("delete_user_metadata", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                delete(c, q, app, user_id).await
            })
        })
        .await
    }

    async fn get_users_metadata(
        &self,
        app: &AppId,
        user_ids: &[String],
    ) -> Result<Vec<(String, Value)>> {
        for u in user_ids {
            check_user_id(u)?;
        }
        self.stale_read(Stale::Scan, Op::app("get_users_metadata", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const ROW: [UserMetadata; 2] = [UserMetadata::UserId, UserMetadata::UserMetadata];
                let mut out = Vec::new();
                for chunk in user_ids.chunks(500) {
                    let stmt = Stmt::shaped("metadata.get_many", Shape::Each(chunk.len()));
                    let args = args! {
                        app: app.as_str(),
                        ids: each(chunk.iter().map(String::as_str)),
                    };
                    let rows = q
                        .fetch(c, stmt, &ROW, args, |a| {
                            Query::select()
                                .from(q.t(Tbl::UserMetadata))
                                .columns(ROW)
                                .cond_where(
                                    Cond::all()
                                        .add(Expr::col(UserMetadata::AppId).eq(a.app.expr()))
                                        .add(Expr::col(UserMetadata::UserId).is_in(a.ids.values())),
                                )
                                .order_by(UserMetadata::UserId, Order::Asc)
                                .to_owned()
                        })
                        .await?;
                    for r in rows.iter() {
                        let meta = r
                            .opt_json(UserMetadata::UserMetadata)?
                            .unwrap_or(Value::Null);
                        out.push((r.text(UserMetadata::UserId)?, meta));
                    }
                }
                out.sort_by(|a, b| a.0.cmp(&b.0));
                out.dedup_by(|a, b| a.0 == b.0);
                Ok(out)
            })
        })
        .await
    }
}

#[async_trait]
impl<D: Driver> UserMetadataTx for SqlTx<D> {
    async fn get_user_metadata_for_update(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Option<Value>> {
        check_user_id(user_id)?;
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("get_user_metadata_for_update", app),
            async {
                named_lock(c, &lock_name(app, user_id)).await?;
                get(c, q, app, user_id).await
            },
        )
        .await
    }

    async fn set_user_metadata(
        &mut self,
        app: &AppId,
        user_id: &str,
        metadata: &Value,
    ) -> Result<()> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("set_user_metadata", app),
            set(c, q, app, user_id, metadata),
        )
        .await
    }

    async fn delete_user_metadata(&mut self, app: &AppId, user_id: &str) -> Result<u64> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("delete_user_metadata", app),
            delete(c, q, app, user_id),
        )
        .await
    }
}
