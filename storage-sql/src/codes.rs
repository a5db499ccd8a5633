//! Passwordless devices and codes, password-reset and email-verification tokens,
//! verified emails (contract 5.4).

use crate::SqlStorage;
use crate::conn::{Conn, DbError, Driver, Row};
use crate::q::{
    Q, app_user_cond, col, in_tx, no_app, no_tenant, tenant_cond, tenant_cond_v, v, with_conn,
};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Cond, Condition, Expr, ExprTrait, OnConflict, Order, Query, Value as V};
use storage_api::validate;
use storage_api::*;

/// Which devices or codes a look-up or delete selects, besides the tenant.
#[derive(Clone, Copy)]
enum By {
    /// `device_id_hash = value`.
    DeviceHash,
    /// `email = value`.
    Email,
    /// `phone_number = value`.
    Phone,
    /// `code_id = value`.
    CodeId,
    /// `link_code_hash = value`.
    LinkHash,
    /// `created_at < value`.
    CreatedBefore,
}

impl By {
    fn cond(self, value: V) -> Expr {
        let column = match self {
            By::DeviceHash => "device_id_hash",
            By::Email => "email",
            By::Phone => "phone_number",
            By::CodeId => "code_id",
            By::LinkHash => "link_code_hash",
            By::CreatedBefore => "created_at",
        };
        let c = Expr::col(col(column));
        match self {
            By::CreatedBefore => c.lt(value),
            _ => c.eq(value),
        }
    }
}

fn tenant_args(t: &TenantIdentifier, value: V) -> Vec<V> {
    vec![v(t.app.as_str()), v(t.tenant.as_str()), value]
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

const DEVICE_COLS: [&str; 4] = ["device_id_hash", "email", "phone_number", "link_code_salt"];

fn device_from(t: &TenantIdentifier, r: &Row) -> Result<Device> {
    Ok(Device {
        tenant: t.clone(),
        device_id_hash: r.text(0)?,
        email: r.opt_text(1)?,
        phone_number: r.opt_text(2)?,
        link_code_salt: r.text(3)?,
        failed_attempts: r.int(4)?.clamp(0, u32::MAX as i64) as u32,
    })
}

async fn devices<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    by: By,
    value: V,
    lock: bool,
) -> Result<Vec<Device>> {
    q.fetch_t(
        c,
        "devices",
        by as u64 * 2 + u64::from(lock),
        tenant_args(t, value),
        |a| {
            let mut s = Query::select();
            s.from(q.t("passwordless_devices"))
                .columns(DEVICE_COLS.map(col))
                .column(col("failed_attempts"))
                .cond_where(tenant_cond_v(a).add(by.cond(a[2].clone())))
                .order_by(col("device_id_hash"), Order::Asc);
            if lock {
                s.lock_exclusive();
            }
            s
        },
    )
    .await?
    .iter()
    .map(|r| device_from(t, r))
    .collect()
}

async fn codes<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    by: By,
    value: V,
) -> Result<Vec<Code>> {
    q.fetch_t(c, "codes", by as u64, tenant_args(t, value), |a| {
        Query::select()
            .from(q.t("passwordless_codes"))
            .columns([
                col("code_id"),
                col("device_id_hash"),
                col("link_code_hash"),
                col("created_at"),
            ])
            .cond_where(tenant_cond_v(a).add(by.cond(a[2].clone())))
            .order_by(col("created_at"), Order::Asc)
            .order_by(col("code_id"), Order::Asc)
            .to_owned()
    })
    .await?
    .iter()
    .map(|r| {
        Ok(Code {
            code_id: r.text(0)?,
            device_id_hash: r.text(1)?,
            link_code_hash: r.text(2)?,
            created_at: r.int(3)?,
        })
    })
    .collect()
}

/// Deletes the tenant's rows of `table` (devices or codes) selected by `by`.
async fn delete_by<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    table: &'static str,
    by: By,
    value: V,
) -> Result<u64> {
    q.run_t(c, table, by as u64, tenant_args(t, value), |a| {
        Query::delete()
            .from_table(q.t(table))
            .cond_where(tenant_cond_v(a).add(by.cond(a[2].clone())))
            .to_owned()
    })
    .await
}

fn check_code(code: &Code) -> Result<()> {
    validate::uuid("code_id", &code.code_id)?;
    check_hash("device_id_hash", &code.device_id_hash)?;
    check_hash("link_code_hash", &code.link_code_hash)?;
    validate::time("created_at", code.created_at)
}

async fn insert_code<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    code: &Code,
    fk: impl FnOnce() -> StorageError,
) -> Result<()> {
    let args = vec![
        v(t.app.as_str()),
        v(t.tenant.as_str()),
        v(code.code_id.as_str()),
        v(code.device_id_hash.as_str()),
        v(code.link_code_hash.as_str()),
        v(code.created_at),
    ];
    q.exec_t(c, "insert_code", 0, args, |a| {
        Query::insert()
            .into_table(q.t("passwordless_codes"))
            .columns([
                col("app_id"),
                col("tenant_id"),
                col("code_id"),
                col("device_id_hash"),
                col("link_code_hash"),
                col("created_at"),
            ])
            .values_panic(a.iter().cloned().map(Into::into))
            .to_owned()
    })
    .await
    .map_err(|e| match e {
        DbError::Unique { key } if key == "link_code_hash" => StorageError::DuplicateLinkCodeHash,
        DbError::Unique { .. } => StorageError::DuplicateCodeId,
        DbError::ForeignKey => fk(),
        e => e.into_storage(),
    })?;
    Ok(())
}

fn reset_from(app: &AppId, r: &Row) -> Result<PasswordResetToken> {
    Ok(PasswordResetToken {
        app: app.clone(),
        user_id: r.text(0)?,
        token: r.text(1)?,
        email: r.opt_text(2)?,
        token_expiry: r.int(3)?,
    })
}

async fn reset_tokens<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    cond: Condition,
    lock: bool,
) -> Result<Vec<PasswordResetToken>> {
    let mut s = Query::select();
    s.from(q.t("emailpassword_pswd_reset_tokens"))
        .columns([
            col("user_id"),
            col("token"),
            col("email"),
            col("token_expiry"),
        ])
        .cond_where(
            Cond::all()
                .add(Expr::col(col("app_id")).eq(app.as_str()))
                .add(cond),
        )
        .order_by(col("token"), Order::Asc);
    if lock {
        s.lock_exclusive();
    }
    q.fetch(c, &s)
        .await?
        .iter()
        .map(|r| reset_from(app, r))
        .collect()
}

fn ev_cond(t: &TenantIdentifier, user_id: &str, email: &str) -> Result<Condition> {
    validate::text("user_id", user_id, 128)?;
    validate::text("email", email, 256)?;
    Ok(tenant_cond(t)
        .add(Expr::col(col("user_id")).eq(user_id))
        .add(Expr::col(col("email")).eq(email)))
}

async fn ev_tokens<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    cond: Condition,
    lock: bool,
) -> Result<Vec<EmailVerificationToken>> {
    let mut s = Query::select();
    s.from(q.t("emailverification_tokens"))
        .columns([
            col("user_id"),
            col("email"),
            col("token"),
            col("token_expiry"),
        ])
        .cond_where(tenant_cond(t).add(cond))
        .order_by(col("token"), Order::Asc);
    if lock {
        s.lock_exclusive();
    }
    q.fetch(c, &s)
        .await?
        .iter()
        .map(|r| {
            Ok(EmailVerificationToken {
                tenant: t.clone(),
                user_id: r.text(0)?,
                email: r.text(1)?,
                token: r.text(2)?,
                token_expiry: r.int(3)?,
            })
        })
        .collect()
}

async fn delete_where<C: Conn>(c: &mut C, q: Q<'_>, table: &str, cond: Condition) -> Result<u64> {
    q.run(c, Query::delete().from_table(q.t(table)).cond_where(cond))
        .await
}

pub(crate) async fn set_email_verified<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    email: &str,
    verified: bool,
) -> Result<()> {
    validate::text("user_id", user_id, 128)?;
    validate::text("email", email, 256)?;
    if !verified {
        delete_where(
            c,
            q,
            "emailverification_verified_emails",
            app_user_cond(app, user_id).add(Expr::col(col("email")).eq(email)),
        )
        .await?;
        return Ok(());
    }
    q.exec(
        c,
        Query::insert()
            .into_table(q.t("emailverification_verified_emails"))
            .columns([col("app_id"), col("user_id"), col("email")])
            .values_panic([app.as_str().into(), user_id.into(), email.into()])
            .on_conflict(
                OnConflict::columns([col("app_id"), col("user_id"), col("email")])
                    .do_nothing_on([col("app_id")])
                    .to_owned(),
            ),
    )
    .await
    .map_err(|e| match e {
        DbError::ForeignKey => no_app(app),
        e => e.into_storage(),
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
        in_tx!(self, |c, q| {
            let args = vec![
                v(t.app.as_str()),
                v(t.tenant.as_str()),
                v(d.device_id_hash.as_str()),
                v(d.email.clone()),
                v(d.phone_number.clone()),
                v(d.link_code_salt.as_str()),
            ];
            q.exec_t(c, "insert_device", 0, args, |a| {
                Query::insert()
                    .into_table(q.t("passwordless_devices"))
                    .columns([
                        col("app_id"),
                        col("tenant_id"),
                        col("device_id_hash"),
                        col("email"),
                        col("phone_number"),
                        col("link_code_salt"),
                        col("failed_attempts"),
                    ])
                    .values_panic([
                        a[0].clone().into(),
                        a[1].clone().into(),
                        a[2].clone().into(),
                        a[3].clone().into(),
                        a[4].clone().into(),
                        a[5].clone().into(),
                        0i32.into(),
                    ])
                    .to_owned()
            })
            .await
            .map_err(|e| match e {
                DbError::Unique { .. } => StorageError::DuplicateDeviceIdHash,
                DbError::ForeignKey => no_tenant(t),
                e => e.into_storage(),
            })?;
            insert_code(c, q, t, &d.code, || no_tenant(t)).await
        })
    }

    async fn create_code(&self, t: &TenantIdentifier, code: &Code) -> Result<()> {
        check_code(code)?;
        with_conn!(self, |c, q| insert_code(c, q, t, code, || {
            StorageError::UnknownDeviceIdHash
        })
        .await)
    }

    async fn get_device(&self, t: &TenantIdentifier, hash: &str) -> Result<Option<Device>> {
        check_hash("device_id_hash", hash)?;
        with_conn!(read self, |c, q| Ok(devices(
            c,
            q,
            t,
            By::DeviceHash,
            v(hash),
            false
        )
        .await?
        .into_iter()
        .next()))
    }

    async fn devices_by_email(&self, t: &TenantIdentifier, email: &str) -> Result<Vec<Device>> {
        validate::text("email", email, 256)?;
        with_conn!(read self, |c, q| devices(c, q, t, By::Email, v(email), false)
            .await)
    }

    async fn devices_by_phone(&self, t: &TenantIdentifier, phone: &str) -> Result<Vec<Device>> {
        validate::text("phone_number", phone, 256)?;
        with_conn!(read self, |c, q| devices(c, q, t, By::Phone, v(phone), false)
            .await)
    }

    async fn codes_of_device(&self, t: &TenantIdentifier, hash: &str) -> Result<Vec<Code>> {
        check_hash("device_id_hash", hash)?;
        with_conn!(read self, |c, q| codes(c, q, t, By::DeviceHash, v(hash)).await)
    }

    async fn get_code(&self, t: &TenantIdentifier, code_id: &str) -> Result<Option<Code>> {
        validate::uuid("code_id", code_id)?;
        with_conn!(read self, |c, q| Ok(codes(c, q, t, By::CodeId, v(code_id))
            .await?
            .into_iter()
            .next()))
    }

    async fn code_by_link_code_hash(
        &self,
        t: &TenantIdentifier,
        hash: &str,
    ) -> Result<Option<Code>> {
        check_hash("link_code_hash", hash)?;
        with_conn!(read self, |c, q| Ok(codes(c, q, t, By::LinkHash, v(hash))
            .await?
            .into_iter()
            .next()))
    }

    async fn codes_created_before(&self, t: &TenantIdentifier, time: i64) -> Result<Vec<Code>> {
        with_conn!(self, |c, q| codes(c, q, t, By::CreatedBefore, v(time))
            .await)
    }

    async fn add_password_reset_token(&self, tok: &PasswordResetToken) -> Result<()> {
        validate::uuid("user_id", &tok.user_id)?;
        validate::text("token", &tok.token, 128)?;
        validate::opt_text("email", tok.email.as_deref(), 256)?;
        validate::time("token_expiry", tok.token_expiry)?;
        with_conn!(self, |c, q| {
            q.exec(
                c,
                Query::insert()
                    .into_table(q.t("emailpassword_pswd_reset_tokens"))
                    .columns([
                        col("app_id"),
                        col("user_id"),
                        col("token"),
                        col("email"),
                        col("token_expiry"),
                    ])
                    .values_panic([
                        tok.app.as_str().into(),
                        tok.user_id.as_str().into(),
                        tok.token.as_str().into(),
                        tok.email.clone().into(),
                        tok.token_expiry.into(),
                    ]),
            )
            .await
            .map_err(|e| match e {
                DbError::Unique { .. } => StorageError::DuplicatePasswordResetToken,
                DbError::ForeignKey => StorageError::UnknownUserId,
                e => e.into_storage(),
            })?;
            Ok(())
        })
    }

    async fn get_password_reset_token(
        &self,
        app: &AppId,
        token: &str,
    ) -> Result<Option<PasswordResetToken>> {
        validate::text("token", token, 128)?;
        let cond = Cond::all().add(Expr::col(col("token")).eq(token));
        with_conn!(read self, |c, q| Ok(reset_tokens(
            c,
            q,
            app,
            cond.clone(),
            false
        )
        .await?
        .into_iter()
        .next()))
    }

    async fn password_reset_tokens_of_user(
        &self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<PasswordResetToken>> {
        validate::uuid("user_id", user_id)?;
        let cond = Cond::all().add(Expr::col(col("user_id")).eq(user_id));
        with_conn!(read self, |c, q| reset_tokens(c, q, app, cond.clone(), false)
            .await)
    }

    async fn delete_expired_password_reset_tokens(&self, now: i64) -> Result<u64> {
        let cond = Cond::all().add(Expr::col(col("token_expiry")).lt(now));
        with_conn!(self, |c, q| delete_where(
            c,
            q,
            "emailpassword_pswd_reset_tokens",
            cond.clone()
        )
        .await)
    }

    async fn add_email_verification_token(&self, tok: &EmailVerificationToken) -> Result<()> {
        validate::text("user_id", &tok.user_id, 128)?;
        validate::text("email", &tok.email, 256)?;
        validate::text("token", &tok.token, 128)?;
        validate::time("token_expiry", tok.token_expiry)?;
        let t = &tok.tenant;
        with_conn!(self, |c, q| {
            q.exec(
                c,
                Query::insert()
                    .into_table(q.t("emailverification_tokens"))
                    .columns([
                        col("app_id"),
                        col("tenant_id"),
                        col("user_id"),
                        col("email"),
                        col("token"),
                        col("token_expiry"),
                    ])
                    .values_panic([
                        t.app.as_str().into(),
                        t.tenant.as_str().into(),
                        tok.user_id.as_str().into(),
                        tok.email.as_str().into(),
                        tok.token.as_str().into(),
                        tok.token_expiry.into(),
                    ]),
            )
            .await
            .map_err(|e| match e {
                DbError::Unique { .. } => StorageError::DuplicateEmailVerificationToken,
                DbError::ForeignKey => no_tenant(t),
                e => e.into_storage(),
            })?;
            Ok(())
        })
    }

    async fn get_email_verification_token(
        &self,
        t: &TenantIdentifier,
        token: &str,
    ) -> Result<Option<EmailVerificationToken>> {
        validate::text("token", token, 128)?;
        let cond = Cond::all().add(Expr::col(col("token")).eq(token));
        with_conn!(read self, |c, q| Ok(ev_tokens(c, q, t, cond.clone(), false)
            .await?
            .into_iter()
            .next()))
    }

    async fn email_verification_tokens(
        &self,
        t: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<Vec<EmailVerificationToken>> {
        let cond = ev_cond(t, user_id, email)?;
        with_conn!(read self, |c, q| ev_tokens(c, q, t, cond.clone(), false).await)
    }

    async fn revoke_email_verification_tokens(
        &self,
        t: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<u64> {
        let cond = ev_cond(t, user_id, email)?;
        with_conn!(self, |c, q| delete_where(
            c,
            q,
            "emailverification_tokens",
            cond.clone()
        )
        .await)
    }

    async fn delete_expired_email_verification_tokens(&self, now: i64) -> Result<u64> {
        let cond = Cond::all().add(Expr::col(col("token_expiry")).lt(now));
        with_conn!(self, |c, q| delete_where(
            c,
            q,
            "emailverification_tokens",
            cond.clone()
        )
        .await)
    }

    async fn set_email_verified(
        &self,
        app: &AppId,
        user_id: &str,
        email: &str,
        verified: bool,
    ) -> Result<()> {
        with_conn!(self, |c, q| set_email_verified(
            c, q, app, user_id, email, verified
        )
        .await)
    }

    async fn is_email_verified(&self, app: &AppId, user_id: &str, email: &str) -> Result<bool> {
        validate::text("user_id", user_id, 128)?;
        validate::text("email", email, 256)?;
        with_conn!(read self, |c, q| Ok(q
            .fetch_opt(
                c,
                Query::select()
                    .from(q.t("emailverification_verified_emails"))
                    .expr(Expr::val(1))
                    .cond_where(app_user_cond(app, user_id).add(Expr::col(col("email")).eq(email))),
            )
            .await?
            .is_some()))
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
        Ok(devices(c, q, t, By::DeviceHash, v(hash), true)
            .await?
            .into_iter()
            .next())
    }

    async fn codes_of_device(&mut self, t: &TenantIdentifier, hash: &str) -> Result<Vec<Code>> {
        check_hash("device_id_hash", hash)?;
        let (c, q) = self.parts();
        codes(c, q, t, By::DeviceHash, v(hash)).await
    }

    async fn code_by_link_code_hash(
        &mut self,
        t: &TenantIdentifier,
        hash: &str,
    ) -> Result<Option<Code>> {
        check_hash("link_code_hash", hash)?;
        let (c, q) = self.parts();
        Ok(codes(c, q, t, By::LinkHash, v(hash))
            .await?
            .into_iter()
            .next())
    }

    async fn increment_failed_attempts(&mut self, t: &TenantIdentifier, hash: &str) -> Result<u64> {
        check_hash("device_id_hash", hash)?;
        let (c, q) = self.parts();
        q.run(
            c,
            Query::update()
                .table(q.t("passwordless_devices"))
                .value(
                    col("failed_attempts"),
                    Expr::col(col("failed_attempts")).add(1),
                )
                .cond_where(tenant_cond(t).add(Expr::col(col("device_id_hash")).eq(hash))),
        )
        .await
    }

    async fn delete_code(&mut self, t: &TenantIdentifier, code_id: &str) -> Result<u64> {
        validate::uuid("code_id", code_id)?;
        let (c, q) = self.parts();
        delete_by(c, q, t, "passwordless_codes", By::CodeId, v(code_id)).await
    }

    async fn delete_device(&mut self, t: &TenantIdentifier, hash: &str) -> Result<u64> {
        check_hash("device_id_hash", hash)?;
        let (c, q) = self.parts();
        delete_by(c, q, t, "passwordless_devices", By::DeviceHash, v(hash)).await
    }

    async fn delete_devices_by_email(&mut self, t: &TenantIdentifier, email: &str) -> Result<u64> {
        validate::text("email", email, 256)?;
        let (c, q) = self.parts();
        delete_by(c, q, t, "passwordless_devices", By::Email, v(email)).await
    }

    async fn delete_devices_by_phone(&mut self, t: &TenantIdentifier, phone: &str) -> Result<u64> {
        validate::text("phone_number", phone, 256)?;
        let (c, q) = self.parts();
        delete_by(c, q, t, "passwordless_devices", By::Phone, v(phone)).await
    }

    async fn password_reset_tokens_for_update(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<PasswordResetToken>> {
        validate::uuid("user_id", user_id)?;
        let (c, q) = self.parts();
        reset_tokens(
            c,
            q,
            app,
            Cond::all().add(Expr::col(col("user_id")).eq(user_id)),
            true,
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
        delete_where(
            c,
            q,
            "emailpassword_pswd_reset_tokens",
            app_user_cond(app, user_id),
        )
        .await
    }

    async fn email_verification_tokens_for_update(
        &mut self,
        t: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<Vec<EmailVerificationToken>> {
        let cond = ev_cond(t, user_id, email)?;
        let (c, q) = self.parts();
        ev_tokens(c, q, t, cond, true).await
    }

    async fn delete_email_verification_tokens(
        &mut self,
        t: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<u64> {
        let cond = ev_cond(t, user_id, email)?;
        let (c, q) = self.parts();
        delete_where(c, q, "emailverification_tokens", cond).await
    }

    async fn set_email_verified(
        &mut self,
        app: &AppId,
        user_id: &str,
        email: &str,
        verified: bool,
    ) -> Result<()> {
        let (c, q) = self.parts();
        set_email_verified(c, q, app, user_id, email, verified).await
    }
}
