//! TOTP devices (app-scoped) and used codes (tenant-scoped) (contract-phase2 B.3).
//!
//! The verification flow runs in a transaction that takes the user's TOTP named lock
//! (through [`TotpTx::totp_devices_for_update`] or
//! [`TotpTx::used_totp_codes_for_update`]), so N concurrent verifications of one code
//! serialise and exactly one accepts it.

use crate::SqlStorage;
use crate::conn::{Conn, Driver, Violation};
use crate::metadata::check_user_id;
use crate::run::{Op, Via, named_lock, traced};
use crate::schema::{Tbl, TotpUsedCodes, TotpUserDevices, TotpUsers};
use crate::stmt::{
    Meaning, One, Q, Rec, Shape, Stmt, app_user_is, args, each, if_absent, insert_row, inserted,
    locked, no_app, no_tenant, tenant_is,
};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Cond, Condition, Expr, ExprTrait, Order, Query};
use storage_api::validate;
use storage_api::*;

fn check_device_name(name: &str) -> Result<()> {
    validate::text("device_name", name, 256)
}

/// `app_id = app AND user_id = user AND device_name = name`.
fn device_is(app: &One, user_id: &One, name: &One) -> Condition {
    app_user_is::<TotpUserDevices>(app, user_id)
        .add(Expr::col(TotpUserDevices::DeviceName).eq(name.expr()))
}

/// Takes the user's TOTP named lock.
async fn lock_user<C: Conn>(c: &mut C, app: &AppId, user_id: &str) -> Result<()> {
    named_lock(c, &format!("totp/{app}/{user_id}")).await
}

/// The select list of a device row.
const DEVICE: [TotpUserDevices; 7] = [
    TotpUserDevices::UserId,
    TotpUserDevices::DeviceName,
    TotpUserDevices::SecretKey,
    TotpUserDevices::Period,
    TotpUserDevices::Skew,
    TotpUserDevices::Verified,
    TotpUserDevices::CreatedAt,
];

fn device_from(r: &Rec<'_, TotpUserDevices>) -> Result<TotpDevice> {
    let int32 = |c: TotpUserDevices| -> Result<i32> {
        i32::try_from(r.int(c)?).map_err(|_| StorageError::query(format!("{c:?} out of range")))
    };
    Ok(TotpDevice {
        user_id: r.text(TotpUserDevices::UserId)?,
        device_name: r.text(TotpUserDevices::DeviceName)?,
        secret_key: Secret::new(r.text(TotpUserDevices::SecretKey)?),
        period: int32(TotpUserDevices::Period)?,
        skew: int32(TotpUserDevices::Skew)?,
        verified: r.bool(TotpUserDevices::Verified)?,
        created_at: r.opt_int(TotpUserDevices::CreatedAt)?.unwrap_or(0),
    })
}

/// The devices of a user, by name; `lock` takes the user's named lock and row locks.
async fn devices<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    lock: bool,
) -> Result<Vec<TotpDevice>> {
    check_user_id(user_id)?;
    if lock {
        lock_user(c, app, user_id).await?;
    }
    let args = args! { app: app.as_str(), user_id: user_id };
    let rows = q
        .fetch(c, Stmt::locking("totp.devices", lock), &DEVICE, args, |a| {
            let mut s = Query::select();
            s.from(q.t(Tbl::TotpUserDevices))
                .columns(DEVICE)
                .cond_where(app_user_is::<TotpUserDevices>(&a.app, &a.user_id))
                .order_by(TotpUserDevices::DeviceName, Order::Asc);
            locked(s, lock)
        })
        .await?;
    rows.iter().map(|r| device_from(&r)).collect()
}

/// Deletes the TOTP user row (devices and used codes cascade).
async fn remove_user<C: Conn>(c: &mut C, q: Q<'_>, app: &AppId, user_id: &str) -> Result<u64> {
    let args = args! { app: app.as_str(), user_id: user_id };
    q.exec(c, Stmt::fixed("totp.remove_user"), args, |a| {
        Query::delete()
            .from_table(q.t(Tbl::TotpUsers))
            .cond_where(app_user_is::<TotpUsers>(&a.app, &a.user_id))
            .to_owned()
    })
    .await
    .no_violations()
}

/// An update of one device that must match it: `UnknownDevice` otherwise.
fn one_device(n: u64) -> Result<()> {
    if n == 0 {
        Err(StorageError::UnknownDevice)
    } else {
        Ok(())
    }
}

#[async_trait]
impl<D: Driver> Totp for SqlStorage<D> {
    async fn create_totp_device(&self, app: &AppId, d: &TotpDevice) -> Result<()> {
        check_user_id(&d.user_id)?;
        check_device_name(&d.device_name)?;
        validate::text("secret_key", d.secret_key.expose(), 256)?;
        validate::time("created_at", d.created_at)?;
        self.in_tx(Op::app("create_totp_device", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! { app: app.as_str(), user_id: d.user_id.as_str() };
                let r = q
                    .exec(c, Stmt::fixed("totp.create_user"), args, |a| {
                        if_absent(
                            q,
                            insert_row(
                                q.t(Tbl::TotpUsers),
                                [
                                    (TotpUsers::AppId, a.app.expr()),
                                    (TotpUsers::UserId, a.user_id.expr()),
                                ],
                            ),
                            [TotpUsers::AppId, TotpUsers::UserId],
                        )
                    })
                    .await;
                inserted(r, || no_app(app))?;
                let args = args! {
                    app: app.as_str(),
                    user_id: d.user_id.as_str(),
                    name: d.device_name.as_str(),
                    secret: d.secret_key.expose(),
                    period: d.period,
                    skew: d.skew,
                    verified: d.verified,
                    created_at: d.created_at,
                };
                q.exec(c, Stmt::fixed("totp.create_device"), args, |a| {
                    insert_row(
                        q.t(Tbl::TotpUserDevices),
                        [
                            (TotpUserDevices::AppId, a.app.expr()),
                            (TotpUserDevices::UserId, a.user_id.expr()),
                            (TotpUserDevices::DeviceName, a.name.expr()),
                            (TotpUserDevices::SecretKey, a.secret.expr()),
                            (TotpUserDevices::Period, a.period.expr()),
                            (TotpUserDevices::Skew, a.skew.expr()),
                            (TotpUserDevices::Verified, a.verified.expr()),
                            (TotpUserDevices::CreatedAt, a.created_at.expr()),
                        ],
                    )
                })
                .await
                .violations(|v| match v {
                    Violation::Unique(_) => StorageError::DeviceAlreadyExists,
                    Violation::ForeignKey(_) => no_app(app),
                })?;
                Ok(())
            })
        })
        .await
    }

    async fn mark_totp_device_verified(
        &self,
        app: &AppId,
        user_id: &str,
        device_name: &str,
    ) -> Result<()> {
        check_user_id(user_id)?;
        check_device_name(device_name)?;
        self.on(Via::Pool, Op::app("mark_totp_device_verified", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! { app: app.as_str(), user_id: user_id, name: device_name };
                let n = q
                    .exec(c, Stmt::fixed("totp.mark_verified"), args, |a| {
                        Query::update()
                            .table(q.t(Tbl::TotpUserDevices))
                            .value(TotpUserDevices::Verified, true)
                            .cond_where(device_is(&a.app, &a.user_id, &a.name))
                            .to_owned()
                    })
                    .await
                    .no_violations()?;
                one_device(n)
            })
        })
        .await
    }

    async fn rename_totp_device(
        &self,
        app: &AppId,
        user_id: &str,
        old_name: &str,
        new_name: &str,
    ) -> Result<()> {
        check_user_id(user_id)?;
        check_device_name(old_name)?;
        check_device_name(new_name)?;
        self.on(Via::Pool, Op::app("rename_totp_device", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! {
                    app: app.as_str(),
                    user_id: user_id,
                    old: old_name,
                    new: new_name,
                };
                let n = q
                    .exec(c, Stmt::fixed("totp.rename"), args, |a| {
                        Query::update()
                            .table(q.t(Tbl::TotpUserDevices))
                            .value(TotpUserDevices::DeviceName, a.new.expr())
                            .cond_where(device_is(&a.app, &a.user_id, &a.old))
                            .to_owned()
                    })
                    .await
                    .violations(|v| match v {
                        Violation::Unique(_) => StorageError::DeviceAlreadyExists,
                        Violation::ForeignKey(_) => {
                            StorageError::query("rename broke a foreign key")
                        }
                    })?;
                one_device(n)
            })
        })
        .await
    }

    async fn totp_devices(&self, app: &AppId, user_id: &str) -> Result<Vec<TotpDevice>> {
        self.on(Via::Pool, Op::app("totp_devices", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                devices(c, q, app, user_id, false).await
            })
        })
        .await
    }

    async fn totp_devices_of_users(
        &self,
        app: &AppId,
        user_ids: &[String],
    ) -> Result<Vec<TotpDevice>> {
        for u in user_ids {
            check_user_id(u)?;
        }
        self.on(Via::Pool, Op::app("totp_devices_of_users", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let mut out = Vec::new();
                for chunk in user_ids.chunks(500) {
                    let stmt = Stmt::shaped("totp.devices_of_users", Shape::Each(chunk.len()));
                    let args = args! {
                        app: app.as_str(),
                        ids: each(chunk.iter().map(String::as_str)),
                    };
                    let rows = q
                        .fetch(c, stmt, &DEVICE, args, |a| {
                            Query::select()
                                .from(q.t(Tbl::TotpUserDevices))
                                .columns(DEVICE)
                                .cond_where(
                                    Cond::all()
                                        .add(Expr::col(TotpUserDevices::AppId).eq(a.app.expr()))
                                        .add(
                                            Expr::col(TotpUserDevices::UserId)
                                                .is_in(a.ids.values()),
                                        ),
                                )
                                .to_owned()
                        })
                        .await?;
                    for r in rows.iter() {
                        out.push(device_from(&r)?);
                    }
                }
                out.sort_by(|a, b| (&a.user_id, &a.device_name).cmp(&(&b.user_id, &b.device_name)));
                out.dedup_by(|a, b| a.user_id == b.user_id && a.device_name == b.device_name);
                Ok(out)
            })
        })
        .await
    }

    async fn delete_totp_device(
        &self,
        app: &AppId,
        user_id: &str,
        device_name: &str,
    ) -> Result<u64> {
        check_user_id(user_id)?;
        check_device_name(device_name)?;
        self.in_tx(Op::app("delete_totp_device", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                // Under the user's lock: a concurrent create cannot add a device
                // between the delete and the check for the last one.
                let left = devices(c, q, app, user_id, true).await?;
                if !left.iter().any(|d| d.device_name == device_name) {
                    return Ok(0);
                }
                let args = args! { app: app.as_str(), user_id: user_id, name: device_name };
                let n = q
                    .exec(c, Stmt::fixed("totp.delete_device"), args, |a| {
                        Query::delete()
                            .from_table(q.t(Tbl::TotpUserDevices))
                            .cond_where(device_is(&a.app, &a.user_id, &a.name))
                            .to_owned()
                    })
                    .await
                    .no_violations()?;
                if left.len() == 1 {
                    remove_user(c, q, app, user_id).await?;
                }
                Ok(n)
            })
        })
        .await
    }

    async fn remove_totp_user(&self, app: &AppId, user_id: &str) -> Result<bool> {
        check_user_id(user_id)?;
        self.on(Via::Pool, Op::app("remove_totp_user", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                Ok(remove_user(c, q, app, user_id).await? > 0)
            })
        })
        .await
    }

    async fn remove_expired_totp_codes(&self, t: &TenantIdentifier, before: i64) -> Result<u64> {
        self.on(
            Via::Pool,
            Op::tenant("remove_expired_totp_codes", t),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    let args =
                        args! { app: t.app.as_str(), tenant: t.tenant.as_str(), before: before };
                    q.exec(c, Stmt::fixed("totp.remove_expired_codes"), args, |a| {
                        Query::delete()
                            .from_table(q.t(Tbl::TotpUsedCodes))
                            .cond_where(
                                tenant_is::<TotpUsedCodes>(&a.app, &a.tenant).add(
                                    Expr::col(TotpUsedCodes::ExpiryTimeMs).lt(a.before.expr()),
                                ),
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
}

/// The select list of a used-code row.
const USED: [TotpUsedCodes; 5] = [
    TotpUsedCodes::UserId,
    TotpUsedCodes::Code,
    TotpUsedCodes::IsValid,
    TotpUsedCodes::ExpiryTimeMs,
    TotpUsedCodes::CreatedTimeMs,
];

#[async_trait]
impl<D: Driver> TotpTx for SqlTx<D> {
    async fn totp_devices_for_update(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<TotpDevice>> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("totp_devices_for_update", app),
            devices(c, q, app, user_id, true),
        )
        .await
    }

    async fn used_totp_codes_for_update(
        &mut self,
        t: &TenantIdentifier,
        user_id: &str,
    ) -> Result<Vec<TotpUsedCode>> {
        check_user_id(user_id)?;
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::tenant("used_totp_codes_for_update", t),
            async {
                lock_user(c, &t.app, user_id).await?;
                let args =
                    args! { app: t.app.as_str(), tenant: t.tenant.as_str(), user_id: user_id };
                let rows = q
                    .fetch(
                        c,
                        Stmt::fixed("totp.used_codes_for_update"),
                        &USED,
                        args,
                        |a| {
                            let mut s = Query::select();
                            s.from(q.t(Tbl::TotpUsedCodes))
                                .columns(USED)
                                .cond_where(
                                    tenant_is::<TotpUsedCodes>(&a.app, &a.tenant)
                                        .add(Expr::col(TotpUsedCodes::UserId).eq(a.user_id.expr())),
                                )
                                .order_by(TotpUsedCodes::CreatedTimeMs, Order::Desc);
                            locked(s, true)
                        },
                    )
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(TotpUsedCode {
                            user_id: r.text(TotpUsedCodes::UserId)?,
                            code: r.text(TotpUsedCodes::Code)?,
                            is_valid: r.bool(TotpUsedCodes::IsValid)?,
                            expiry_time: r.int(TotpUsedCodes::ExpiryTimeMs)?,
                            created_time: r.int(TotpUsedCodes::CreatedTimeMs)?,
                        })
                    })
                    .collect()
            },
        )
        .await
    }

    async fn insert_used_totp_code(
        &mut self,
        t: &TenantIdentifier,
        code: &TotpUsedCode,
    ) -> Result<()> {
        check_user_id(&code.user_id)?;
        validate::text("code", &code.code, 8)?;
        validate::time("expiry_time", code.expiry_time)?;
        validate::time("created_time", code.created_time)?;
        let (c, q) = self.parts();
        traced(D::NAME, Op::tenant("insert_used_totp_code", t), async {
            // The statement has two foreign keys (the TOTP user, the tenant) and the
            // backends do not all say which failed: the TOTP user row is read with a
            // row lock first, so it cannot go before the insert, and a foreign-key
            // violation of the insert can only be the tenant's.
            const USER: [TotpUsers; 1] = [TotpUsers::UserId];
            let args = args! { app: t.app.as_str(), user_id: code.user_id.as_str() };
            let user = q
                .fetch(c, Stmt::fixed("totp.user_for_update"), &USER, args, |a| {
                    let mut s = Query::select();
                    s.from(q.t(Tbl::TotpUsers))
                        .columns(USER)
                        .cond_where(app_user_is::<TotpUsers>(&a.app, &a.user_id));
                    locked(s, true)
                })
                .await?;
            if user.len() == 0 {
                return Err(StorageError::UnknownTotpUser);
            }
            let args = args! {
                app: t.app.as_str(),
                tenant: t.tenant.as_str(),
                user_id: code.user_id.as_str(),
                code: code.code.as_str(),
                is_valid: code.is_valid,
                expiry: code.expiry_time,
                created: code.created_time,
            };
            q.exec(c, Stmt::fixed("totp.insert_used_code"), args, |a| {
                insert_row(
                    q.t(Tbl::TotpUsedCodes),
                    [
                        (TotpUsedCodes::AppId, a.app.expr()),
                        (TotpUsedCodes::TenantId, a.tenant.expr()),
                        (TotpUsedCodes::UserId, a.user_id.expr()),
                        (TotpUsedCodes::Code, a.code.expr()),
                        (TotpUsedCodes::IsValid, a.is_valid.expr()),
                        (TotpUsedCodes::ExpiryTimeMs, a.expiry.expr()),
                        (TotpUsedCodes::CreatedTimeMs, a.created.expr()),
                    ],
                )
            })
            .await
            .violations(|v| match v {
                Violation::Unique(_) => StorageError::UsedCodeAlreadyExists,
                Violation::ForeignKey(_) => no_tenant(t),
            })?;
            Ok(())
        })
        .await
    }
}
