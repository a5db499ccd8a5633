//! User-id mapping (contract-phase2 A.4): SuperTokens user id ↔ external id, in the
//! plugin's `userid_mapping` table, and which non-auth recipes hold rows for an id.

use crate::SqlStorage;
use crate::conn::{Conn, Driver, Violation};
use crate::run::{Op, Stale, Via, retrying};
use crate::schema::{
    AppUserCols, As, EmailverificationTokens, EmailverificationVerifiedEmails, SessionInfo, Tbl,
    TotpUsers, UserKeyed, UserLastActive, UserMetadata, UserRoles, UseridMapping,
};
use crate::stmt::{Meaning, Q, Shape, Stmt, args, each, insert_row, user_keyed_is};
use async_trait::async_trait;
use sea_query::{Expr, ExprTrait, Query};
use storage_api::validate;
use storage_api::*;

/// The columns of a mapping.
const MAPPING: [UseridMapping; 3] = [
    UseridMapping::SupertokensUserId,
    UseridMapping::ExternalUserId,
    UseridMapping::ExternalUserIdInfo,
];

/// The tables where a non-auth recipe keeps rows keyed by a user id.
const NON_AUTH_TABLES: [(NonAuthRecipe, Stmt, UserKeyed); 7] = [
    (
        NonAuthRecipe::Session,
        Stmt::fixed("mapping.used_by_sessions"),
        SessionInfo::KEYED,
    ),
    (
        NonAuthRecipe::UserMetadata,
        Stmt::fixed("mapping.used_by_metadata"),
        UserMetadata::KEYED,
    ),
    (
        NonAuthRecipe::UserRoles,
        Stmt::fixed("mapping.used_by_roles"),
        UserRoles::KEYED,
    ),
    (
        NonAuthRecipe::Totp,
        Stmt::fixed("mapping.used_by_totp"),
        TotpUsers::KEYED,
    ),
    (
        NonAuthRecipe::EmailVerification,
        Stmt::fixed("mapping.used_by_verified_emails"),
        EmailverificationVerifiedEmails::KEYED,
    ),
    (
        NonAuthRecipe::EmailVerification,
        Stmt::fixed("mapping.used_by_verification_tokens"),
        EmailverificationTokens::KEYED,
    ),
    (
        NonAuthRecipe::LastActive,
        Stmt::fixed("mapping.used_by_last_active"),
        UserLastActive::KEYED,
    ),
];

/// The column an id is looked up in, and the statement names of that look-up.
fn column(kind: UserIdType) -> (UseridMapping, &'static str, &'static str, &'static str) {
    match kind {
        UserIdType::External => (
            UseridMapping::ExternalUserId,
            "mapping.by_external",
            "mapping.delete_by_external",
            "mapping.info_by_external",
        ),
        _ => (
            UseridMapping::SupertokensUserId,
            "mapping.by_supertokens",
            "mapping.delete_by_supertokens",
            "mapping.info_by_supertokens",
        ),
    }
}

/// The lookups of `kind`: one column, or both (SuperTokens id first) for `Any`.
fn kinds(kind: UserIdType) -> &'static [UserIdType] {
    match kind {
        UserIdType::SuperTokens => &[UserIdType::SuperTokens],
        UserIdType::External => &[UserIdType::External],
        UserIdType::Any => &[UserIdType::SuperTokens, UserIdType::External],
    }
}

/// The mapping whose `kind` column is `id` (one indexed look-up).
async fn by<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    id: &str,
    kind: UserIdType,
) -> Result<Option<UserIdMapping>> {
    let (col, name, _, _) = column(kind);
    let args = args! { app: app.as_str(), id: id };
    let row = q
        .fetch(c, Stmt::fixed(name), &MAPPING, args, |a| {
            Query::select()
                .from(q.t(Tbl::UseridMapping))
                .columns(MAPPING)
                .and_where(Expr::col(UseridMapping::AppId).eq(a.app.expr()))
                .and_where(Expr::col(col).eq(a.id.expr()))
                .to_owned()
        })
        .await?
        .one();
    row.map(|r| {
        let r = r.rec();
        Ok(UserIdMapping {
            supertokens_user_id: r.text(UseridMapping::SupertokensUserId)?,
            external_user_id: r.text(UseridMapping::ExternalUserId)?,
            external_user_id_info: r.opt_text(UseridMapping::ExternalUserIdInfo)?,
        })
    })
    .transpose()
}

/// Checks an id given to a look-up: at most 128 characters (an external id), or a
/// SuperTokens id.
fn check_id(id: &str, kind: UserIdType) -> Result<()> {
    match kind {
        UserIdType::SuperTokens => validate::uuid("supertokens_user_id", id),
        _ => validate::text("user_id", id, 128),
    }
}

#[async_trait]
impl<D: Driver> UserIdMappings for SqlStorage<D> {
    async fn create_user_id_mapping(&self, app: &AppId, m: &UserIdMapping) -> Result<()> {
        validate::uuid("supertokens_user_id", &m.supertokens_user_id)?;
        validate::text("external_user_id", &m.external_user_id, 128)?;
        retrying(|| {
            self.on(Via::Pool, Op::app("create_user_id_mapping", app), |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    let args = args! {
                        app: app.as_str(),
                        st: m.supertokens_user_id.as_str(),
                        ext: m.external_user_id.as_str(),
                        info: m.external_user_id_info.as_deref(),
                    };
                    let out = q
                        .exec(c, Stmt::fixed("mapping.insert"), args, |a| {
                            insert_row(
                                q.t(Tbl::UseridMapping),
                                [
                                    (UseridMapping::AppId, a.app.expr()),
                                    (UseridMapping::SupertokensUserId, a.st.expr()),
                                    (UseridMapping::ExternalUserId, a.ext.expr()),
                                    (UseridMapping::ExternalUserIdInfo, a.info.expr()),
                                ],
                            )
                            .to_owned()
                        })
                        .await
                        .violations(|v| match v {
                            Violation::ForeignKey(_) => StorageError::UnknownSuperTokensUserId,
                            // Which key: told by the two look-ups below.
                            Violation::Unique(_) => StorageError::UserIdMappingAlreadyExists {
                                supertokens_id_taken: false,
                                external_id_taken: false,
                            },
                        });
                    match out {
                        Err(StorageError::UserIdMappingAlreadyExists { .. }) => {}
                        other => return other.map(drop),
                    }
                    // Outside any transaction: the failed insert left nothing behind.
                    let st = by(c, q, app, &m.supertokens_user_id, UserIdType::SuperTokens)
                        .await?
                        .is_some();
                    let ext = by(c, q, app, &m.external_user_id, UserIdType::External)
                        .await?
                        .is_some();
                    if !st && !ext {
                        return Err(StorageError::Retryable {
                            message: "the conflicting mapping was deleted concurrently".into(),
                            source: None,
                        });
                    }
                    Err(StorageError::UserIdMappingAlreadyExists {
                        supertokens_id_taken: st,
                        external_id_taken: ext,
                    })
                })
            })
        })
        .await
    }

    async fn get_user_id_mapping(
        &self,
        app: &AppId,
        id: &str,
        kind: UserIdType,
    ) -> Result<Vec<UserIdMapping>> {
        check_id(id, kind)?;
        self.stale_read(Stale::Point, Op::app("get_user_id_mapping", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let mut out: Vec<UserIdMapping> = Vec::new();
                for k in kinds(kind) {
                    // With `Any`, an id that is not a UUID cannot be a SuperTokens id.
                    if *k == UserIdType::SuperTokens
                        && kind == UserIdType::Any
                        && validate::uuid("user_id", id).is_err()
                    {
                        continue;
                    }
                    if let Some(m) = by(c, q, app, id, *k).await?
                        && !out.contains(&m)
                    {
                        out.push(m);
                    }
                }
                Ok(out)
            })
        })
        .await
    }

    async fn get_user_id_mappings_for(
        &self,
        app: &AppId,
        ids: &[String],
    ) -> Result<Vec<UserIdMapping>> {
        for id in ids {
            validate::uuid("supertokens_user_id", id)?;
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let stmt = Stmt::shaped("mapping.by_supertokens_ids", Shape::Each(ids.len()));
        let args = args! { app: app.as_str(), ids: each(ids.iter().map(String::as_str)) };
        self.stale_read(
            Stale::Point,
            Op::app("get_user_id_mappings_for", app),
            |cx| {
                let args = args.clone();
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    let rows = q
                        .fetch(c, stmt, &MAPPING, args, |a| {
                            Query::select()
                                .from(q.t(Tbl::UseridMapping))
                                .columns(MAPPING)
                                .and_where(Expr::col(UseridMapping::AppId).eq(a.app.expr()))
                                .and_where(
                                    Expr::col(UseridMapping::SupertokensUserId)
                                        .is_in(a.ids.values()),
                                )
                                .order_by(UseridMapping::SupertokensUserId, sea_query::Order::Asc)
                                .to_owned()
                        })
                        .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(UserIdMapping {
                                supertokens_user_id: r.text(UseridMapping::SupertokensUserId)?,
                                external_user_id: r.text(UseridMapping::ExternalUserId)?,
                                external_user_id_info: r
                                    .opt_text(UseridMapping::ExternalUserIdInfo)?,
                            })
                        })
                        .collect()
                })
            },
        )
        .await
    }

    async fn delete_user_id_mapping(
        &self,
        app: &AppId,
        id: &str,
        kind: UserIdType,
    ) -> Result<bool> {
        check_id(id, kind)?;
        self.on(Via::Pool, Op::app("delete_user_id_mapping", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                for k in kinds(kind) {
                    let (col, _, name, _) = column(*k);
                    let args = args! { app: app.as_str(), id: id };
                    let n = q
                        .exec(c, Stmt::fixed(name), args, |a| {
                            Query::delete()
                                .from_table(q.t(Tbl::UseridMapping))
                                .and_where(Expr::col(UseridMapping::AppId).eq(a.app.expr()))
                                .and_where(Expr::col(col).eq(a.id.expr()))
                                .to_owned()
                        })
                        .await
                        .no_violations()?;
                    if n > 0 {
                        return Ok(true);
                    }
                }
                Ok(false)
            })
        })
        .await
    }

    async fn update_external_user_id_info(
        &self,
        app: &AppId,
        id: &str,
        kind: UserIdType,
        info: Option<&str>,
    ) -> Result<bool> {
        check_id(id, kind)?;
        self.on(
            Via::Pool,
            Op::app("update_external_user_id_info", app),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    for k in kinds(kind) {
                        let (col, _, _, name) = column(*k);
                        let args = args! { app: app.as_str(), id: id, info: info };
                        let n = q
                            .exec(c, Stmt::fixed(name), args, |a| {
                                Query::update()
                                    .table(q.t(Tbl::UseridMapping))
                                    .value(UseridMapping::ExternalUserIdInfo, a.info.expr())
                                    .and_where(Expr::col(UseridMapping::AppId).eq(a.app.expr()))
                                    .and_where(Expr::col(col).eq(a.id.expr()))
                                    .to_owned()
                            })
                            .await
                            .no_violations()?;
                        if n > 0 {
                            return Ok(true);
                        }
                    }
                    Ok(false)
                })
            },
        )
        .await
    }

    async fn non_auth_recipes_using(
        &self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<NonAuthRecipe>> {
        validate::text("user_id", user_id, 128)?;
        self.on(Via::Read, Op::app("non_auth_recipes_using", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let mut out = Vec::new();
                for (recipe, stmt, keyed) in NON_AUTH_TABLES {
                    if out.contains(&recipe) {
                        continue;
                    }
                    const ONE: [As; 1] = [As::N];
                    let args = args! { app: app.as_str(), user_id: user_id };
                    let row = q
                        .fetch(c, stmt, &ONE, args, |a| {
                            Query::select()
                                .from(q.t(keyed.table))
                                .expr_as(Expr::val(1), As::N)
                                .cond_where(user_keyed_is(keyed, &a.app, &a.user_id))
                                .limit(1)
                                .to_owned()
                        })
                        .await?
                        .one();
                    if row.is_some() {
                        out.push(recipe);
                    }
                }
                Ok(out)
            })
        })
        .await
    }
}
