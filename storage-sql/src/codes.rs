//! Passwordless devices and codes, password-reset and email-verification tokens,
//! verified emails (contract 5.4).

use crate::SqlStorage;
use crate::conn::{Conn, Driver, UniqueKey, Violation, unexpected};
use crate::run::{Op, Via, traced};
use crate::schema::{
    As, EmailpasswordPswdResetTokens, EmailverificationTokens, EmailverificationVerifiedEmails,
    PasswordlessCodes, PasswordlessDevices, Table, Tbl,
};
use crate::stmt::{
    Meaning, One, Q, Rec, Stmt, app_user_is, args, insert_row, locked, no_app, no_tenant,
    tenant_is, val,
};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Cond, Condition, Expr, ExprTrait, OnConflict, Order, Query};
use storage_api::validate;
use storage_api::*;

/// Which devices a look-up or delete selects, besides the tenant.
#[derive(Clone, Copy)]
enum Devices {
    /// `device_id_hash = value`.
    Hash,
    /// `email = value`.
    Email,
    /// `phone_number = value`.
    Phone,
}

impl Devices {
    fn column(self) -> PasswordlessDevices {
        match self {
            Devices::Hash => PasswordlessDevices::DeviceIdHash,
            Devices::Email => PasswordlessDevices::Email,
            Devices::Phone => PasswordlessDevices::PhoneNumber,
        }
    }
}

/// Which codes a look-up selects, besides the tenant.
#[derive(Clone, Copy)]
enum CodesBy {
    /// `device_id_hash = value`.
    OfDevice,
    /// `code_id = value`.
    Id,
    /// `link_code_hash = value`.
    LinkHash,
    /// `created_at < value`.
    CreatedBefore,
}

impl CodesBy {
    fn cond(self, value: &One) -> Expr {
        match self {
            CodesBy::OfDevice => Expr::col(PasswordlessCodes::DeviceIdHash).eq(value.expr()),
            CodesBy::Id => Expr::col(PasswordlessCodes::CodeId).eq(value.expr()),
            CodesBy::LinkHash => Expr::col(PasswordlessCodes::LinkCodeHash).eq(value.expr()),
            CodesBy::CreatedBefore => Expr::col(PasswordlessCodes::CreatedAt).lt(value.expr()),
        }
    }
}

fn check_hash(field: &'static str, h: &str) -> Result<()> {
    validate::fixed(field, h, 44)
}

fn check_contact(email: Option<&str>, phone: Option<&str>) -> Result<()> {
    validate::opt_text("email", email, 256)?;
    validate::opt_text("phone_number", phone, 256)?;
    if email.is_none() && phone.is_none() {
        return Err(StorageError::invalid(
            "email",
            "one of email and phone number is required",
        ));
    }
    Ok(())
}

/// The select list of a device row.
const DEVICE: [PasswordlessDevices; 5] = [
    PasswordlessDevices::DeviceIdHash,
    PasswordlessDevices::Email,
    PasswordlessDevices::PhoneNumber,
    PasswordlessDevices::LinkCodeSalt,
    PasswordlessDevices::FailedAttempts,
];

fn device_from(t: &TenantIdentifier, r: &Rec<'_, PasswordlessDevices>) -> Result<Device> {
    Ok(Device {
        tenant: t.clone(),
        device_id_hash: r.text(PasswordlessDevices::DeviceIdHash)?,
        email: r.opt_text(PasswordlessDevices::Email)?,
        phone_number: r.opt_text(PasswordlessDevices::PhoneNumber)?,
        link_code_salt: r.text(PasswordlessDevices::LinkCodeSalt)?,
        failed_attempts: r
            .int(PasswordlessDevices::FailedAttempts)?
            .clamp(0, u32::MAX as i64) as u32,
    })
}

/// The tenant's devices selected by `by`; `lock` takes row locks (the device look-up
/// by hash inside a transaction).
async fn devices<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    by: Devices,
    value: &str,
    lock: bool,
) -> Result<Vec<Device>> {
    let name = match by {
        Devices::Hash => "codes.device",
        Devices::Email => "codes.devices_by_email",
        Devices::Phone => "codes.devices_by_phone",
    };
    let stmt = Stmt::locking(name, lock);
    let args = args! { app: t.app.as_str(), tenant: t.tenant.as_str(), value: value };
    let rows = q
        .fetch(c, stmt, &DEVICE, args, |a| {
            let mut s = Query::select();
            s.from(q.t(Tbl::PasswordlessDevices))
                .columns(DEVICE)
                .cond_where(
                    tenant_is::<PasswordlessDevices>(&a.app, &a.tenant)
                        .add(Expr::col(by.column()).eq(a.value.expr())),
                )
                .order_by(PasswordlessDevices::DeviceIdHash, Order::Asc);
            locked(s, lock)
        })
        .await?;
    rows.iter().map(|r| device_from(t, &r)).collect()
}

/// The tenant's codes selected by `by`.
async fn codes<C: Conn, V: crate::stmt::IntoSlot<Slot = One>>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    by: CodesBy,
    value: V,
) -> Result<Vec<Code>> {
    let stmt = Stmt::fixed(match by {
        CodesBy::OfDevice => "codes.codes_of_device",
        CodesBy::Id => "codes.code",
        CodesBy::LinkHash => "codes.code_by_link_code_hash",
        CodesBy::CreatedBefore => "codes.codes_created_before",
    });
    const CODE: [PasswordlessCodes; 4] = [
        PasswordlessCodes::CodeId,
        PasswordlessCodes::DeviceIdHash,
        PasswordlessCodes::LinkCodeHash,
        PasswordlessCodes::CreatedAt,
    ];
    let args = args! { app: t.app.as_str(), tenant: t.tenant.as_str(), value: value };
    let rows = q
        .fetch(c, stmt, &CODE, args, |a| {
            Query::select()
                .from(q.t(Tbl::PasswordlessCodes))
                .columns(CODE)
                .cond_where(
                    tenant_is::<PasswordlessCodes>(&a.app, &a.tenant).add(by.cond(&a.value)),
                )
                .order_by(PasswordlessCodes::CreatedAt, Order::Asc)
                .order_by(PasswordlessCodes::CodeId, Order::Asc)
                .to_owned()
        })
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Code {
                code_id: r.text(PasswordlessCodes::CodeId)?,
                device_id_hash: r.text(PasswordlessCodes::DeviceIdHash)?,
                link_code_hash: r.text(PasswordlessCodes::LinkCodeHash)?,
                created_at: r.int(PasswordlessCodes::CreatedAt)?,
            })
        })
        .collect()
}

/// Deletes the tenant's devices selected by `by` (their codes go by cascade).
async fn delete_devices<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    by: Devices,
    value: &str,
) -> Result<u64> {
    let stmt = Stmt::fixed(match by {
        Devices::Hash => "codes.delete_device",
        Devices::Email => "codes.delete_devices_by_email",
        Devices::Phone => "codes.delete_devices_by_phone",
    });
    let args = args! { app: t.app.as_str(), tenant: t.tenant.as_str(), value: value };
    q.exec(c, stmt, args, |a| {
        Query::delete()
            .from_table(q.t(Tbl::PasswordlessDevices))
            .cond_where(
                tenant_is::<PasswordlessDevices>(&a.app, &a.tenant)
                    .add(Expr::col(by.column()).eq(a.value.expr())),
            )
            .to_owned()
    })
    .await
    .no_violations()
}

fn check_code(code: &Code) -> Result<()> {
    validate::uuid("code_id", &code.code_id)?;
    check_hash("device_id_hash", &code.device_id_hash)?;
    check_hash("link_code_hash", &code.link_code_hash)?;
    validate::time("created_at", code.created_at)
}

/// Inserts a code; `no_parent` is what a missing parent (device or tenant) means.
async fn insert_code<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    code: &Code,
    no_parent: impl FnOnce() -> StorageError,
) -> Result<()> {
    q.insert(
        c,
        Stmt::fixed("codes.insert_code"),
        [
            (PasswordlessCodes::AppId, val(t.app.as_str())),
            (PasswordlessCodes::TenantId, val(t.tenant.as_str())),
            (PasswordlessCodes::CodeId, val(code.code_id.as_str())),
            (
                PasswordlessCodes::DeviceIdHash,
                val(code.device_id_hash.as_str()),
            ),
            (
                PasswordlessCodes::LinkCodeHash,
                val(code.link_code_hash.as_str()),
            ),
            (PasswordlessCodes::CreatedAt, val(code.created_at)),
        ],
    )
    .await
    .violations(|v| match v {
        Violation::Unique(UniqueKey::LinkCodeHash) => StorageError::DuplicateLinkCodeHash,
        Violation::Unique(_) => StorageError::DuplicateCodeId,
        Violation::ForeignKey(_) => no_parent(),
    })?;
    Ok(())
}

/// Which password-reset tokens a look-up selects, besides the app.
#[derive(Clone, Copy)]
enum Resets {
    /// The token itself.
    Token,
    /// The user's tokens.
    OfUser,
    /// The user's tokens, row-locked.
    OfUserForUpdate,
}

async fn reset_tokens<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    by: Resets,
    value: &str,
) -> Result<Vec<PasswordResetToken>> {
    let (stmt, column, lock) = match by {
        Resets::Token => (
            Stmt::fixed("codes.reset_token"),
            EmailpasswordPswdResetTokens::Token,
            false,
        ),
        Resets::OfUser => (
            Stmt::fixed("codes.reset_tokens_of_user"),
            EmailpasswordPswdResetTokens::UserId,
            false,
        ),
        Resets::OfUserForUpdate => (
            Stmt::fixed("codes.reset_tokens_of_user_for_update"),
            EmailpasswordPswdResetTokens::UserId,
            true,
        ),
    };
    const RESET: [EmailpasswordPswdResetTokens; 4] = [
        EmailpasswordPswdResetTokens::UserId,
        EmailpasswordPswdResetTokens::Token,
        EmailpasswordPswdResetTokens::Email,
        EmailpasswordPswdResetTokens::TokenExpiry,
    ];
    let args = args! { app: app.as_str(), value: value };
    let rows = q
        .fetch(c, stmt, &RESET, args, |a| {
            let mut s = Query::select();
            s.from(q.t(Tbl::EmailpasswordPswdResetTokens))
                .columns(RESET)
                .cond_where(
                    Cond::all()
                        .add(Expr::col(EmailpasswordPswdResetTokens::AppId).eq(a.app.expr()))
                        .add(Expr::col(column).eq(a.value.expr())),
                )
                .order_by(EmailpasswordPswdResetTokens::Token, Order::Asc);
            locked(s, lock)
        })
        .await?;
    rows.iter()
        .map(|r| {
            Ok(PasswordResetToken {
                app: app.clone(),
                user_id: r.text(EmailpasswordPswdResetTokens::UserId)?,
                token: r.text(EmailpasswordPswdResetTokens::Token)?,
                email: r.opt_text(EmailpasswordPswdResetTokens::Email)?,
                token_expiry: r.int(EmailpasswordPswdResetTokens::TokenExpiry)?,
            })
        })
        .collect()
}

/// Which email-verification tokens a look-up selects, besides the tenant.
#[derive(Clone, Copy)]
enum Verifications<'a> {
    /// The token itself.
    Token(&'a str),
    /// The tokens of a user and email; `lock` takes row locks.
    Of {
        user_id: &'a str,
        email: &'a str,
        lock: bool,
    },
}

fn check_user_email(user_id: &str, email: &str) -> Result<()> {
    validate::text("user_id", user_id, 128)?;
    validate::text("email", email, 256)
}

/// `user_id = user_id AND email = email`.
fn user_email_is(user_id: &One, email: &One) -> Condition {
    Cond::all()
        .add(Expr::col(EmailverificationTokens::UserId).eq(user_id.expr()))
        .add(Expr::col(EmailverificationTokens::Email).eq(email.expr()))
}

async fn ev_tokens<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    by: Verifications<'_>,
) -> Result<Vec<EmailVerificationToken>> {
    let (stmt, token, user_id, email, lock) = match by {
        Verifications::Token(token) => (
            Stmt::fixed("codes.verification_token"),
            Some(token),
            None,
            None,
            false,
        ),
        Verifications::Of {
            user_id,
            email,
            lock,
        } => {
            check_user_email(user_id, email)?;
            let stmt = Stmt::locking("codes.verification_tokens", lock);
            (stmt, None, Some(user_id), Some(email), lock)
        }
    };
    let by_token = token.is_some();
    const TOKEN: [EmailverificationTokens; 4] = [
        EmailverificationTokens::UserId,
        EmailverificationTokens::Email,
        EmailverificationTokens::Token,
        EmailverificationTokens::TokenExpiry,
    ];
    let args = args! {
        app: t.app.as_str(),
        tenant: t.tenant.as_str(),
        token: token,
        user_id: user_id,
        email: email,
    };
    let rows = q
        .fetch(c, stmt, &TOKEN, args, |a| {
            let cond = if by_token {
                Cond::all().add(Expr::col(EmailverificationTokens::Token).eq(a.token.expr()))
            } else {
                user_email_is(&a.user_id, &a.email)
            };
            let mut s = Query::select();
            s.from(q.t(Tbl::EmailverificationTokens))
                .columns(TOKEN)
                .cond_where(tenant_is::<EmailverificationTokens>(&a.app, &a.tenant).add(cond))
                .order_by(EmailverificationTokens::Token, Order::Asc);
            locked(s, lock)
        })
        .await?;
    rows.iter()
        .map(|r| {
            Ok(EmailVerificationToken {
                tenant: t.clone(),
                user_id: r.text(EmailverificationTokens::UserId)?,
                email: r.text(EmailverificationTokens::Email)?,
                token: r.text(EmailverificationTokens::Token)?,
                token_expiry: r.int(EmailverificationTokens::TokenExpiry)?,
            })
        })
        .collect()
}

/// Deletes the tenant's email-verification tokens of a user and email.
async fn delete_ev_tokens<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    user_id: &str,
    email: &str,
) -> Result<u64> {
    check_user_email(user_id, email)?;
    let args = args! {
        app: t.app.as_str(),
        tenant: t.tenant.as_str(),
        user_id: user_id,
        email: email,
    };
    q.exec(
        c,
        Stmt::fixed("codes.delete_verification_tokens"),
        args,
        |a| {
            Query::delete()
                .from_table(q.t(Tbl::EmailverificationTokens))
                .cond_where(
                    tenant_is::<EmailverificationTokens>(&a.app, &a.tenant)
                        .add(user_email_is(&a.user_id, &a.email)),
                )
                .to_owned()
        },
    )
    .await
    .no_violations()
}

/// Deletes the tokens that expired before `now` (`expiry` the token table's expiry
/// column).
async fn delete_expired<C: Conn, T: Table>(
    c: &mut C,
    q: Q<'_>,
    expiry: T,
    now: i64,
) -> Result<u64> {
    let stmt = match T::TABLE {
        Tbl::EmailpasswordPswdResetTokens => Stmt::fixed("codes.delete_expired_reset_tokens"),
        _ => Stmt::fixed("codes.delete_expired_verification_tokens"),
    };
    q.exec(c, stmt, args! { now: now }, |a| {
        Query::delete()
            .from_table(q.t(T::TABLE))
            .and_where(Expr::col(expiry).lt(a.now.expr()))
            .to_owned()
    })
    .await
    .no_violations()
}

/// Deletes the password-reset tokens of a user.
async fn delete_reset_tokens_of_user<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
) -> Result<u64> {
    let args = args! { app: app.as_str(), user_id: user_id };
    q.exec(
        c,
        Stmt::fixed("codes.delete_reset_tokens_of_user"),
        args,
        |a| {
            Query::delete()
                .from_table(q.t(Tbl::EmailpasswordPswdResetTokens))
                .cond_where(app_user_is::<EmailpasswordPswdResetTokens>(
                    &a.app, &a.user_id,
                ))
                .to_owned()
        },
    )
    .await
    .no_violations()
}

pub(crate) async fn set_email_verified<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    email: &str,
    verified: bool,
) -> Result<()> {
    check_user_email(user_id, email)?;
    let args = args! { app: app.as_str(), user_id: user_id, email: email };
    if !verified {
        q.exec(c, Stmt::fixed("codes.unverify_email"), args, |a| {
            Query::delete()
                .from_table(q.t(Tbl::EmailverificationVerifiedEmails))
                .cond_where(
                    app_user_is::<EmailverificationVerifiedEmails>(&a.app, &a.user_id)
                        .add(Expr::col(EmailverificationVerifiedEmails::Email).eq(a.email.expr())),
                )
                .to_owned()
        })
        .await
        .no_violations()?;
        return Ok(());
    }
    q.exec(c, Stmt::fixed("codes.verify_email"), args, |a| {
        insert_row(
            q.t(Tbl::EmailverificationVerifiedEmails),
            [
                (EmailverificationVerifiedEmails::AppId, a.app.expr()),
                (EmailverificationVerifiedEmails::UserId, a.user_id.expr()),
                (EmailverificationVerifiedEmails::Email, a.email.expr()),
            ],
        )
        .on_conflict(
            OnConflict::columns([
                EmailverificationVerifiedEmails::AppId,
                EmailverificationVerifiedEmails::UserId,
                EmailverificationVerifiedEmails::Email,
            ])
            .do_nothing_on([EmailverificationVerifiedEmails::AppId])
            .to_owned(),
        )
        .to_owned()
    })
    .await
    .violations(|v| match v {
        Violation::ForeignKey(_) => no_app(app),
        v => unexpected(v),
    })?;
    Ok(())
}

#[async_trait]
impl<D: Driver> Codes for SqlStorage<D> {
    async fn create_device_with_code(&self, d: &NewDevice) -> Result<()> {
        check_hash("device_id_hash", &d.device_id_hash)?;
        check_hash("link_code_salt", &d.link_code_salt)?;
        check_contact(d.email.as_deref(), d.phone_number.as_deref())?;
        check_code(&d.code)?;
        if d.code.device_id_hash != d.device_id_hash {
            return Err(StorageError::invalid(
                "device_id_hash",
                "the code's device id hash differs from the device's",
            ));
        }
        let t = &d.tenant;
        self.in_tx(Op::tenant("create_device_with_code", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                q.insert(
                    c,
                    Stmt::fixed("codes.insert_device"),
                    [
                        (PasswordlessDevices::AppId, val(t.app.as_str())),
                        (PasswordlessDevices::TenantId, val(t.tenant.as_str())),
                        (
                            PasswordlessDevices::DeviceIdHash,
                            val(d.device_id_hash.as_str()),
                        ),
                        (PasswordlessDevices::Email, val(d.email.clone())),
                        (
                            PasswordlessDevices::PhoneNumber,
                            val(d.phone_number.clone()),
                        ),
                        (
                            PasswordlessDevices::LinkCodeSalt,
                            val(d.link_code_salt.as_str()),
                        ),
                        (PasswordlessDevices::FailedAttempts, val(0i32)),
                    ],
                )
                .await
                .violations(|v| match v {
                    Violation::Unique(_) => StorageError::DuplicateDeviceIdHash,
                    Violation::ForeignKey(_) => no_tenant(t),
                })?;
                insert_code(c, q, t, &d.code, || no_tenant(t)).await
            })
        })
        .await
    }

    async fn create_code(&self, t: &TenantIdentifier, code: &Code) -> Result<()> {
        check_code(code)?;
        self.on(Via::Pool, Op::tenant("create_code", t), |cx| {
            let (c, q) = cx.parts();
            Box::pin(insert_code(c, q, t, code, || {
                StorageError::UnknownDeviceIdHash
            }))
        })
        .await
    }

    async fn get_device(&self, t: &TenantIdentifier, hash: &str) -> Result<Option<Device>> {
        check_hash("device_id_hash", hash)?;
        self.on(Via::Read, Op::tenant("get_device", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let found = devices(c, q, t, Devices::Hash, hash, false).await?;
                Ok(found.into_iter().next())
            })
        })
        .await
    }

    async fn devices_by_email(&self, t: &TenantIdentifier, email: &str) -> Result<Vec<Device>> {
        validate::text("email", email, 256)?;
        self.on(Via::Read, Op::tenant("devices_by_email", t), |cx| {
            let (c, q) = cx.parts();
            Box::pin(devices(c, q, t, Devices::Email, email, false))
        })
        .await
    }

    async fn devices_by_phone(&self, t: &TenantIdentifier, phone: &str) -> Result<Vec<Device>> {
        validate::text("phone_number", phone, 256)?;
        self.on(Via::Read, Op::tenant("devices_by_phone", t), |cx| {
            let (c, q) = cx.parts();
            Box::pin(devices(c, q, t, Devices::Phone, phone, false))
        })
        .await
    }

    async fn codes_of_device(&self, t: &TenantIdentifier, hash: &str) -> Result<Vec<Code>> {
        check_hash("device_id_hash", hash)?;
        self.on(Via::Read, Op::tenant("codes_of_device", t), |cx| {
            let (c, q) = cx.parts();
            Box::pin(codes(c, q, t, CodesBy::OfDevice, hash))
        })
        .await
    }

    async fn get_code(&self, t: &TenantIdentifier, code_id: &str) -> Result<Option<Code>> {
        validate::uuid("code_id", code_id)?;
        self.on(Via::Read, Op::tenant("get_code", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                Ok(codes(c, q, t, CodesBy::Id, code_id)
                    .await?
                    .into_iter()
                    .next())
            })
        })
        .await
    }

    async fn code_by_link_code_hash(
        &self,
        t: &TenantIdentifier,
        hash: &str,
    ) -> Result<Option<Code>> {
        check_hash("link_code_hash", hash)?;
        self.on(Via::Read, Op::tenant("code_by_link_code_hash", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                Ok(codes(c, q, t, CodesBy::LinkHash, hash)
                    .await?
                    .into_iter()
                    .next())
            })
        })
        .await
    }

    async fn codes_created_before(&self, t: &TenantIdentifier, time: i64) -> Result<Vec<Code>> {
        self.on(Via::Pool, Op::tenant("codes_created_before", t), |cx| {
            let (c, q) = cx.parts();
            Box::pin(codes(c, q, t, CodesBy::CreatedBefore, time))
        })
        .await
    }

    async fn add_password_reset_token(&self, tok: &PasswordResetToken) -> Result<()> {
        validate::uuid("user_id", &tok.user_id)?;
        validate::text("token", &tok.token, 128)?;
        validate::opt_text("email", tok.email.as_deref(), 256)?;
        validate::time("token_expiry", tok.token_expiry)?;
        self.on(
            Via::Pool,
            Op::app("add_password_reset_token", &tok.app),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    q.insert(
                        c,
                        Stmt::fixed("codes.add_reset_token"),
                        [
                            (EmailpasswordPswdResetTokens::AppId, val(tok.app.as_str())),
                            (
                                EmailpasswordPswdResetTokens::UserId,
                                val(tok.user_id.as_str()),
                            ),
                            (EmailpasswordPswdResetTokens::Token, val(tok.token.as_str())),
                            (
                                EmailpasswordPswdResetTokens::Email,
                                val(tok.email.as_deref()),
                            ),
                            (
                                EmailpasswordPswdResetTokens::TokenExpiry,
                                val(tok.token_expiry),
                            ),
                        ],
                    )
                    .await
                    .violations(|v| match v {
                        Violation::Unique(_) => StorageError::DuplicatePasswordResetToken,
                        Violation::ForeignKey(_) => StorageError::UnknownUserId,
                    })?;
                    Ok(())
                })
            },
        )
        .await
    }

    async fn get_password_reset_token(
        &self,
        app: &AppId,
        token: &str,
    ) -> Result<Option<PasswordResetToken>> {
        validate::text("token", token, 128)?;
        self.on(Via::Read, Op::app("get_password_reset_token", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let found = reset_tokens(c, q, app, Resets::Token, token).await?;
                Ok(found.into_iter().next())
            })
        })
        .await
    }

    async fn password_reset_tokens_of_user(
        &self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<PasswordResetToken>> {
        validate::uuid("user_id", user_id)?;
        self.on(
            Via::Read,
            Op::app("password_reset_tokens_of_user", app),
            |cx| {
                let (c, q) = cx.parts();
                Box::pin(reset_tokens(c, q, app, Resets::OfUser, user_id))
            },
        )
        .await
    }

    async fn delete_expired_password_reset_tokens(&self, now: i64) -> Result<u64> {
        self.on(
            Via::Pool,
            Op::global("delete_expired_password_reset_tokens"),
            |cx| {
                let (c, q) = cx.parts();
                Box::pin(delete_expired(
                    c,
                    q,
                    EmailpasswordPswdResetTokens::TokenExpiry,
                    now,
                ))
            },
        )
        .await
    }

    async fn add_email_verification_token(&self, tok: &EmailVerificationToken) -> Result<()> {
        check_user_email(&tok.user_id, &tok.email)?;
        validate::text("token", &tok.token, 128)?;
        validate::time("token_expiry", tok.token_expiry)?;
        let t = &tok.tenant;
        self.on(
            Via::Pool,
            Op::tenant("add_email_verification_token", t),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    q.insert(
                        c,
                        Stmt::fixed("codes.add_verification_token"),
                        [
                            (EmailverificationTokens::AppId, val(t.app.as_str())),
                            (EmailverificationTokens::TenantId, val(t.tenant.as_str())),
                            (EmailverificationTokens::UserId, val(tok.user_id.as_str())),
                            (EmailverificationTokens::Email, val(tok.email.as_str())),
                            (EmailverificationTokens::Token, val(tok.token.as_str())),
                            (EmailverificationTokens::TokenExpiry, val(tok.token_expiry)),
                        ],
                    )
                    .await
                    .violations(|v| match v {
                        Violation::Unique(_) => StorageError::DuplicateEmailVerificationToken,
                        Violation::ForeignKey(_) => no_tenant(t),
                    })?;
                    Ok(())
                })
            },
        )
        .await
    }

    async fn get_email_verification_token(
        &self,
        t: &TenantIdentifier,
        token: &str,
    ) -> Result<Option<EmailVerificationToken>> {
        validate::text("token", token, 128)?;
        self.on(
            Via::Read,
            Op::tenant("get_email_verification_token", t),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    let found = ev_tokens(c, q, t, Verifications::Token(token)).await?;
                    Ok(found.into_iter().next())
                })
            },
        )
        .await
    }

    async fn email_verification_tokens(
        &self,
        t: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<Vec<EmailVerificationToken>> {
        check_user_email(user_id, email)?;
        let by = Verifications::Of {
            user_id,
            email,
            lock: false,
        };
        self.on(
            Via::Read,
            Op::tenant("email_verification_tokens", t),
            |cx| {
                let (c, q) = cx.parts();
                Box::pin(ev_tokens(c, q, t, by))
            },
        )
        .await
    }

    async fn revoke_email_verification_tokens(
        &self,
        t: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<u64> {
        check_user_email(user_id, email)?;
        self.on(
            Via::Pool,
            Op::tenant("revoke_email_verification_tokens", t),
            |cx| {
                let (c, q) = cx.parts();
                Box::pin(delete_ev_tokens(c, q, t, user_id, email))
            },
        )
        .await
    }

    async fn delete_expired_email_verification_tokens(&self, now: i64) -> Result<u64> {
        self.on(
            Via::Pool,
            Op::global("delete_expired_email_verification_tokens"),
            |cx| {
                let (c, q) = cx.parts();
                Box::pin(delete_expired(
                    c,
                    q,
                    EmailverificationTokens::TokenExpiry,
                    now,
                ))
            },
        )
        .await
    }

    async fn set_email_verified(
        &self,
        app: &AppId,
        user_id: &str,
        email: &str,
        verified: bool,
    ) -> Result<()> {
        self.on(Via::Pool, Op::app("set_email_verified", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(set_email_verified(c, q, app, user_id, email, verified))
        })
        .await
    }

    async fn is_email_verified(&self, app: &AppId, user_id: &str, email: &str) -> Result<bool> {
        check_user_email(user_id, email)?;
        self.on(Via::Read, Op::app("is_email_verified", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const ONE: [As; 1] = [As::N];
                let args = args! { app: app.as_str(), user_id: user_id, email: email };
                let row = q
                    .fetch(c, Stmt::fixed("codes.is_email_verified"), &ONE, args, |a| {
                        Query::select()
                            .from(q.t(Tbl::EmailverificationVerifiedEmails))
                            .expr_as(Expr::val(1), As::N)
                            .cond_where(
                                app_user_is::<EmailverificationVerifiedEmails>(&a.app, &a.user_id)
                                    .add(
                                        Expr::col(EmailverificationVerifiedEmails::Email)
                                            .eq(a.email.expr()),
                                    ),
                            )
                            .to_owned()
                    })
                    .await?
                    .one();
                Ok(row.is_some())
            })
        })
        .await
    }
}

#[async_trait]
impl<D: Driver> CodesTx for SqlTx<D> {
    async fn device_for_update(
        &mut self,
        t: &TenantIdentifier,
        hash: &str,
    ) -> Result<Option<Device>> {
        check_hash("device_id_hash", hash)?;
        let (c, q) = self.parts();
        traced(D::NAME, Op::tenant("device_for_update", t), async {
            let found = devices(c, q, t, Devices::Hash, hash, true).await?;
            Ok(found.into_iter().next())
        })
        .await
    }

    async fn codes_of_device(&mut self, t: &TenantIdentifier, hash: &str) -> Result<Vec<Code>> {
        check_hash("device_id_hash", hash)?;
        let (c, q) = self.parts();
        let found = codes(c, q, t, CodesBy::OfDevice, hash);
        traced(D::NAME, Op::tenant("codes_of_device", t), found).await
    }

    async fn code_by_link_code_hash(
        &mut self,
        t: &TenantIdentifier,
        hash: &str,
    ) -> Result<Option<Code>> {
        check_hash("link_code_hash", hash)?;
        let (c, q) = self.parts();
        traced(D::NAME, Op::tenant("code_by_link_code_hash", t), async {
            Ok(codes(c, q, t, CodesBy::LinkHash, hash)
                .await?
                .into_iter()
                .next())
        })
        .await
    }

    async fn increment_failed_attempts(&mut self, t: &TenantIdentifier, hash: &str) -> Result<u64> {
        check_hash("device_id_hash", hash)?;
        let (c, q) = self.parts();
        let args = args! { app: t.app.as_str(), tenant: t.tenant.as_str(), hash: hash };
        let stmt = Stmt::fixed("codes.increment_failed_attempts");
        traced(D::NAME, Op::tenant("increment_failed_attempts", t), async {
            q.exec(c, stmt, args, |a| {
                Query::update()
                    .table(q.t(Tbl::PasswordlessDevices))
                    .value(
                        PasswordlessDevices::FailedAttempts,
                        Expr::col(PasswordlessDevices::FailedAttempts).add(1),
                    )
                    .cond_where(
                        tenant_is::<PasswordlessDevices>(&a.app, &a.tenant)
                            .add(Expr::col(PasswordlessDevices::DeviceIdHash).eq(a.hash.expr())),
                    )
                    .to_owned()
            })
            .await
            .no_violations()
        })
        .await
    }

    async fn delete_code(&mut self, t: &TenantIdentifier, code_id: &str) -> Result<u64> {
        validate::uuid("code_id", code_id)?;
        let (c, q) = self.parts();
        let args = args! { app: t.app.as_str(), tenant: t.tenant.as_str(), code_id: code_id };
        traced(D::NAME, Op::tenant("delete_code", t), async {
            q.exec(c, Stmt::fixed("codes.delete_code"), args, |a| {
                Query::delete()
                    .from_table(q.t(Tbl::PasswordlessCodes))
                    .cond_where(
                        tenant_is::<PasswordlessCodes>(&a.app, &a.tenant)
                            .add(Expr::col(PasswordlessCodes::CodeId).eq(a.code_id.expr())),
                    )
                    .to_owned()
            })
            .await
            .no_violations()
        })
        .await
    }

    async fn delete_device(&mut self, t: &TenantIdentifier, hash: &str) -> Result<u64> {
        check_hash("device_id_hash", hash)?;
        let (c, q) = self.parts();
        let deleted = delete_devices(c, q, t, Devices::Hash, hash);
        traced(D::NAME, Op::tenant("delete_device", t), deleted).await
    }

    async fn delete_devices_by_email(&mut self, t: &TenantIdentifier, email: &str) -> Result<u64> {
        validate::text("email", email, 256)?;
        let (c, q) = self.parts();
        let deleted = delete_devices(c, q, t, Devices::Email, email);
        traced(D::NAME, Op::tenant("delete_devices_by_email", t), deleted).await
    }

    async fn delete_devices_by_phone(&mut self, t: &TenantIdentifier, phone: &str) -> Result<u64> {
        validate::text("phone_number", phone, 256)?;
        let (c, q) = self.parts();
        let deleted = delete_devices(c, q, t, Devices::Phone, phone);
        traced(D::NAME, Op::tenant("delete_devices_by_phone", t), deleted).await
    }

    async fn password_reset_tokens_for_update(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<PasswordResetToken>> {
        validate::uuid("user_id", user_id)?;
        let (c, q) = self.parts();
        let found = reset_tokens(c, q, app, Resets::OfUserForUpdate, user_id);
        traced(
            D::NAME,
            Op::app("password_reset_tokens_for_update", app),
            found,
        )
        .await
    }

    async fn delete_password_reset_tokens_of_user(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<u64> {
        validate::uuid("user_id", user_id)?;
        let (c, q) = self.parts();
        let deleted = delete_reset_tokens_of_user(c, q, app, user_id);
        traced(
            D::NAME,
            Op::app("delete_password_reset_tokens_of_user", app),
            deleted,
        )
        .await
    }

    async fn email_verification_tokens_for_update(
        &mut self,
        t: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<Vec<EmailVerificationToken>> {
        let by = Verifications::Of {
            user_id,
            email,
            lock: true,
        };
        let (c, q) = self.parts();
        let found = ev_tokens(c, q, t, by);
        traced(
            D::NAME,
            Op::tenant("email_verification_tokens_for_update", t),
            found,
        )
        .await
    }

    async fn delete_email_verification_tokens(
        &mut self,
        t: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<u64> {
        let (c, q) = self.parts();
        let deleted = delete_ev_tokens(c, q, t, user_id, email);
        traced(
            D::NAME,
            Op::tenant("delete_email_verification_tokens", t),
            deleted,
        )
        .await
    }

    async fn set_email_verified(
        &mut self,
        app: &AppId,
        user_id: &str,
        email: &str,
        verified: bool,
    ) -> Result<()> {
        let (c, q) = self.parts();
        let done = set_email_verified(c, q, app, user_id, email, verified);
        traced(D::NAME, Op::app("set_email_verified", app), done).await
    }
}
