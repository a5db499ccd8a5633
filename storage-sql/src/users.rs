//! Email-password, third-party and passwordless users: sign-up, lookups, listing,
//! counting, updates, tenant membership, deletion (contract 5.2).

use crate::SqlStorage;
use crate::conn::{Conn, Driver, UniqueKey, Violation, unexpected};
use crate::linking;
use crate::run::{Op, Stale, Via, traced};
use crate::schema::{
    AllAuthRecipeUsers, AppIdToUserId, AppUserCols, As, EmailpasswordPswdResetTokens,
    EmailpasswordUserToTenant, EmailpasswordUsers, EmailverificationTokens,
    EmailverificationVerifiedEmails, Name, PasswordlessDevices, PasswordlessUserToTenant,
    PasswordlessUsers, SessionInfo, Tbl, TenantCols, ThirdpartyUserToTenant, ThirdpartyUsers,
    TotpUsers, UserKeyed, UserLastActive, UserMetadata, UserRoles, UseridMapping,
};
use crate::search;
use crate::stmt::{
    Meaning, Q, Rec, Rows, Shape, Stmt, app_user_is, args, each, in_rows_of, no_tenant, tenant_is,
    user_keyed_is, val,
};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Cond, Expr, ExprTrait, Func, JoinType, Order, Query};
use std::collections::BTreeMap;
use storage_api::validate;
use storage_api::*;

/// The select list of [`load_users`]: the `app_id_to_user_id` row (`a`) and the
/// recipe rows joined to it (`ep`, `tp`, `pl`).
const LOGIN_METHOD: [(As, Name); 12] = [
    (As::A, AppIdToUserId::UserId.any()),
    (As::A, AppIdToUserId::RecipeId.any()),
    (As::A, AppIdToUserId::PrimaryOrRecipeUserId.any()),
    (As::A, AppIdToUserId::IsLinkedOrIsAPrimaryUser.any()),
    (As::A, AppIdToUserId::TimeJoined.any()),
    (As::Ep, EmailpasswordUsers::Email.any()),
    (As::Ep, EmailpasswordUsers::PasswordHash.any()),
    (As::Tp, ThirdpartyUsers::ThirdPartyId.any()),
    (As::Tp, ThirdpartyUsers::ThirdPartyUserId.any()),
    (As::Tp, ThirdpartyUsers::Email.any()),
    (As::Pl, PasswordlessUsers::Email.any()),
    (As::Pl, PasswordlessUsers::PhoneNumber.any()),
];

/// A login method read from a [`LOGIN_METHOD`] row, with its primary user id and
/// whether it is linked (or primary).
fn login_method_from(r: &Rec<'_, (As, Name)>) -> Result<(String, bool, LoginMethod)> {
    let recipe = RecipeId::parse(&r.text((As::A, AppIdToUserId::RecipeId.any()))?)
        .ok_or_else(|| StorageError::query("unknown recipe_id in app_id_to_user_id"))?;
    let mut m = LoginMethod {
        recipe_id: recipe,
        recipe_user_id: r.text((As::A, AppIdToUserId::UserId.any()))?,
        email: None,
        phone_number: None,
        third_party: None,
        password_hash: None,
        time_joined: r.int((As::A, AppIdToUserId::TimeJoined.any()))?,
        tenant_ids: Vec::new(),
        verified: false,
    };
    match recipe {
        RecipeId::EmailPassword => {
            m.email = r.opt_text((As::Ep, EmailpasswordUsers::Email.any()))?;
            m.password_hash = r
                .opt_text((As::Ep, EmailpasswordUsers::PasswordHash.any()))?
                .map(Secret::new);
        }
        RecipeId::ThirdParty => {
            if let (Some(id), Some(uid)) = (
                r.opt_text((As::Tp, ThirdpartyUsers::ThirdPartyId.any()))?,
                r.opt_text((As::Tp, ThirdpartyUsers::ThirdPartyUserId.any()))?,
            ) {
                m.third_party = Some(ThirdPartyInfo {
                    third_party_id: id,
                    third_party_user_id: uid,
                });
            }
            m.email = r.opt_text((As::Tp, ThirdpartyUsers::Email.any()))?;
        }
        RecipeId::Passwordless => {
            m.email = r.opt_text((As::Pl, PasswordlessUsers::Email.any()))?;
            m.phone_number = r.opt_text((As::Pl, PasswordlessUsers::PhoneNumber.any()))?;
        }
    }
    Ok((
        r.text((As::A, AppIdToUserId::PrimaryOrRecipeUserId.any()))?,
        r.bool((As::A, AppIdToUserId::IsLinkedOrIsAPrimaryUser.any()))?,
        m,
    ))
}

/// Loads the users owning the given recipe user ids, with every login method, sorted
/// by (time joined, id).
/// A read of the rows of `table` that belong to some users of an app.
struct IdRows<T: 'static> {
    /// Statement name (its shape is the number of ids).
    stmt: &'static str,
    cols: &'static [T],
    /// Ascending order, if any.
    order: Option<T>,
}

/// The rows of table `T` with `app_id = app` and `user_id` among `ids`.
async fn rows_of_users<C: Conn, T: AppUserCols>(
    c: &mut C,
    q: Q<'_>,
    r: IdRows<T>,
    app: &AppId,
    ids: &[&str],
) -> Result<Rows<T>> {
    let args = args! { app: app.as_str(), ids: each(ids.iter().copied()) };
    q.fetch(
        c,
        Stmt::shaped(r.stmt, Shape::Each(ids.len())),
        r.cols,
        args,
        |a| {
            let mut s = Query::select()
                .from(q.t(T::TABLE))
                .columns(r.cols.iter().copied())
                .and_where(Expr::col(T::APP_ID).eq(a.app.expr()))
                .and_where(Expr::col(T::USER_ID).is_in(a.ids.values()))
                .to_owned();
            if let Some(o) = r.order {
                s.order_by(o, Order::Asc);
            }
            s
        },
    )
    .await
}

/// `<t>.app_id = a.app_id AND <t>.user_id = a.user_id`, `t` an alias of table `T`.
fn joined<T: AppUserCols>(t: As) -> Cond {
    Cond::all()
        .add(Expr::col((t, T::APP_ID)).equals((As::A, AppIdToUserId::AppId)))
        .add(Expr::col((t, T::USER_ID)).equals((As::A, AppIdToUserId::UserId)))
}

pub(crate) async fn load_users<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    ids: &[String],
) -> Result<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = Stmt::shaped("users.login_methods", Shape::Each(ids.len()));
    let args = args! { app: app.as_str(), ids: each(ids.iter().map(String::as_str)) };
    let rows = q
        .fetch(c, stmt, &LOGIN_METHOD, args, |a| {
            Query::select()
                .from_as(q.t(Tbl::AppIdToUserId), As::A)
                .columns(LOGIN_METHOD)
                .join_as(
                    JoinType::LeftJoin,
                    q.t(Tbl::EmailpasswordUsers),
                    As::Ep,
                    joined::<EmailpasswordUsers>(As::Ep),
                )
                .join_as(
                    JoinType::LeftJoin,
                    q.t(Tbl::ThirdpartyUsers),
                    As::Tp,
                    joined::<ThirdpartyUsers>(As::Tp),
                )
                .join_as(
                    JoinType::LeftJoin,
                    q.t(Tbl::PasswordlessUsers),
                    As::Pl,
                    joined::<PasswordlessUsers>(As::Pl),
                )
                .and_where(Expr::col((As::A, AppIdToUserId::AppId)).eq(a.app.expr()))
                .and_where(
                    Expr::col((As::A, AppIdToUserId::PrimaryOrRecipeUserId)).in_subquery(
                        Query::select()
                            .from(q.t(Tbl::AppIdToUserId))
                            .column(AppIdToUserId::PrimaryOrRecipeUserId)
                            .and_where(Expr::col(AppIdToUserId::AppId).eq(a.app.expr()))
                            .and_where(Expr::col(AppIdToUserId::UserId).is_in(a.ids.values()))
                            .to_owned(),
                    ),
                )
                .to_owned()
        })
        .await?;
    let methods = rows
        .iter()
        .map(|r| login_method_from(&r))
        .collect::<Result<Vec<_>>>()?;
    if methods.is_empty() {
        return Ok(Vec::new());
    }
    let recipe_ids: Vec<&str> = methods
        .iter()
        .map(|(_, _, m)| m.recipe_user_id.as_str())
        .collect();
    const TENANT: [AllAuthRecipeUsers; 2] =
        [AllAuthRecipeUsers::UserId, AllAuthRecipeUsers::TenantId];
    let tenants = rows_of_users(
        c,
        q,
        IdRows {
            stmt: "users.tenants_of",
            cols: &TENANT,
            order: Some(AllAuthRecipeUsers::TenantId),
        },
        app,
        &recipe_ids,
    )
    .await?;
    const VERIFIED: [EmailverificationVerifiedEmails; 2] = [
        EmailverificationVerifiedEmails::UserId,
        EmailverificationVerifiedEmails::Email,
    ];
    let verified = rows_of_users(
        c,
        q,
        IdRows {
            stmt: "users.verified_emails_of",
            cols: &VERIFIED,
            order: None,
        },
        app,
        &recipe_ids,
    )
    .await?;
    let mut tenant_map: BTreeMap<String, Vec<TenantId>> = BTreeMap::new();
    for r in tenants.iter() {
        tenant_map
            .entry(r.text(AllAuthRecipeUsers::UserId)?)
            .or_default()
            .push(TenantId::new(&r.text(AllAuthRecipeUsers::TenantId)?)?);
    }
    let mut verified_set = std::collections::HashSet::new();
    for r in verified.iter() {
        verified_set.insert((
            r.text(EmailverificationVerifiedEmails::UserId)?,
            r.text(EmailverificationVerifiedEmails::Email)?,
        ));
    }
    let mut users: BTreeMap<String, User> = BTreeMap::new();
    for (primary, linked, mut m) in methods {
        // The kept row of a primary user whose own login method was deleted while
        // others remain: not a login method.
        let ghost = match m.recipe_id {
            RecipeId::EmailPassword => m.email.is_none(),
            RecipeId::ThirdParty => m.third_party.is_none(),
            RecipeId::Passwordless => m.email.is_none() && m.phone_number.is_none(),
        };
        if ghost {
            continue;
        }
        m.tenant_ids = tenant_map.remove(&m.recipe_user_id).unwrap_or_default();
        m.verified = m
            .email
            .as_ref()
            .is_some_and(|e| verified_set.contains(&(m.recipe_user_id.clone(), e.clone())));
        let u = users.entry(primary.clone()).or_insert_with(|| User {
            id: primary.clone(),
            is_primary: false,
            tenant_ids: Vec::new(),
            time_joined: i64::MAX,
            login_methods: Vec::new(),
        });
        // Any linked row makes the group a primary user (its primary's own login
        // method may have been deleted while others remain).
        if linked {
            u.is_primary = true;
        }
        u.time_joined = Ord::min(u.time_joined, m.time_joined);
        u.tenant_ids.extend(m.tenant_ids.iter().cloned());
        u.login_methods.push(m);
    }
    let mut out: Vec<User> = users
        .into_values()
        .map(|mut u| {
            u.tenant_ids.sort();
            u.tenant_ids.dedup();
            u.login_methods.sort_by(|x, y| {
                (x.time_joined, &x.recipe_user_id).cmp(&(y.time_joined, &y.recipe_user_id))
            });
            u
        })
        .collect();
    out.sort_by(|x, y| (x.time_joined, &x.id).cmp(&(y.time_joined, &y.id)));
    Ok(out)
}

/// Columns shared by `app_id_to_user_id` and `all_auth_recipe_users` rows of a new,
/// unlinked recipe user.
struct NewUser<'a> {
    tenant: &'a TenantIdentifier,
    user_id: &'a str,
    recipe: RecipeId,
    time_joined: i64,
}

async fn insert_base<C: Conn>(c: &mut C, q: Q<'_>, u: &NewUser<'_>) -> Result<()> {
    let t = u.tenant;
    q.insert(
        c,
        Stmt::fixed("users.insert_app_user"),
        [
            (AppIdToUserId::AppId, val(t.app.as_str())),
            (AppIdToUserId::UserId, val(u.user_id)),
            (AppIdToUserId::RecipeId, val(u.recipe.as_str())),
            (AppIdToUserId::PrimaryOrRecipeUserId, val(u.user_id)),
            (AppIdToUserId::IsLinkedOrIsAPrimaryUser, val(false)),
            (AppIdToUserId::TimeJoined, val(u.time_joined)),
            (
                AppIdToUserId::PrimaryOrRecipeUserTimeJoined,
                val(u.time_joined),
            ),
        ],
    )
    .await
    .violations(|v| match v {
        Violation::Unique(_) => StorageError::DuplicateUserId,
        Violation::ForeignKey(_) => no_tenant(t),
    })?;
    let row = TenantRow {
        user_id: u.user_id,
        primary: u.user_id,
        linked: false,
        recipe: u.recipe,
        time_joined: u.time_joined,
        primary_time_joined: u.time_joined,
    };
    insert_tenant_row(c, q, t, &row).await
}

/// An `all_auth_recipe_users` row of a user in a tenant.
struct TenantRow<'a> {
    user_id: &'a str,
    primary: &'a str,
    linked: bool,
    recipe: RecipeId,
    time_joined: i64,
    primary_time_joined: i64,
}

async fn insert_tenant_row<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    row: &TenantRow<'_>,
) -> Result<()> {
    q.insert(
        c,
        Stmt::fixed("users.insert_tenant_user"),
        [
            (AllAuthRecipeUsers::AppId, val(t.app.as_str())),
            (AllAuthRecipeUsers::TenantId, val(t.tenant.as_str())),
            (AllAuthRecipeUsers::UserId, val(row.user_id)),
            (AllAuthRecipeUsers::PrimaryOrRecipeUserId, val(row.primary)),
            (
                AllAuthRecipeUsers::IsLinkedOrIsAPrimaryUser,
                val(row.linked),
            ),
            (AllAuthRecipeUsers::RecipeId, val(row.recipe.as_str())),
            (AllAuthRecipeUsers::TimeJoined, val(row.time_joined)),
            (
                AllAuthRecipeUsers::PrimaryOrRecipeUserTimeJoined,
                val(row.primary_time_joined),
            ),
        ],
    )
    .await
    .violations(|v| match v {
        // Already in the tenant: a concurrent add won; retrying sees it.
        Violation::Unique(_) => StorageError::Retryable {
            message: "user was added to the tenant concurrently".into(),
            source: None,
        },
        Violation::ForeignKey(_) => no_tenant(t),
    })?;
    Ok(())
}

async fn insert_ep_tenant<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    user_id: &str,
    email: &str,
) -> Result<()> {
    q.insert(
        c,
        Stmt::fixed("users.insert_ep_tenant"),
        [
            (EmailpasswordUserToTenant::AppId, val(t.app.as_str())),
            (EmailpasswordUserToTenant::TenantId, val(t.tenant.as_str())),
            (EmailpasswordUserToTenant::UserId, val(user_id)),
            (EmailpasswordUserToTenant::Email, val(email)),
        ],
    )
    .await
    .violations(|v| match v {
        Violation::Unique(_) => StorageError::DuplicateEmail,
        Violation::ForeignKey(_) => no_tenant(t),
    })?;
    Ok(())
}

async fn insert_tp_tenant<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    user_id: &str,
    tp: &ThirdPartyInfo,
) -> Result<()> {
    q.insert(
        c,
        Stmt::fixed("users.insert_tp_tenant"),
        [
            (ThirdpartyUserToTenant::AppId, val(t.app.as_str())),
            (ThirdpartyUserToTenant::TenantId, val(t.tenant.as_str())),
            (ThirdpartyUserToTenant::UserId, val(user_id)),
            (
                ThirdpartyUserToTenant::ThirdPartyId,
                val(tp.third_party_id.as_str()),
            ),
            (
                ThirdpartyUserToTenant::ThirdPartyUserId,
                val(tp.third_party_user_id.as_str()),
            ),
        ],
    )
    .await
    .violations(|v| match v {
        Violation::Unique(_) => StorageError::DuplicateThirdPartyUser,
        Violation::ForeignKey(_) => no_tenant(t),
    })?;
    Ok(())
}

/// What a unique violation of a passwordless contact means.
fn pl_dup(v: Violation) -> StorageError {
    match v {
        Violation::Unique(UniqueKey::PhoneNumber) => StorageError::DuplicatePhoneNumber,
        Violation::Unique(_) => StorageError::DuplicateEmail,
        v => unexpected(v),
    }
}

async fn insert_pl_tenant<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    user_id: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<()> {
    q.insert(
        c,
        Stmt::fixed("users.insert_pl_tenant"),
        [
            (PasswordlessUserToTenant::AppId, val(t.app.as_str())),
            (PasswordlessUserToTenant::TenantId, val(t.tenant.as_str())),
            (PasswordlessUserToTenant::UserId, val(user_id)),
            (PasswordlessUserToTenant::Email, val(email)),
            (PasswordlessUserToTenant::PhoneNumber, val(phone)),
        ],
    )
    .await
    .violations(|v| match v {
        Violation::ForeignKey(_) => no_tenant(t),
        v => pl_dup(v),
    })?;
    Ok(())
}

fn new_user(t: &TenantIdentifier, user_id: &str, time_joined: i64, m: LoginMethod) -> User {
    User {
        id: user_id.to_owned(),
        is_primary: false,
        tenant_ids: vec![t.tenant.clone()],
        time_joined,
        login_methods: vec![LoginMethod {
            tenant_ids: vec![t.tenant.clone()],
            ..m
        }],
    }
}

fn check_email(email: &str) -> Result<()> {
    validate::text("email", email, 256)
}

fn check_tp(tp: &ThirdPartyInfo) -> Result<()> {
    validate::text("third_party_id", &tp.third_party_id, 28)?;
    validate::text("third_party_user_id", &tp.third_party_user_id, 256)
}

pub(crate) async fn get_user<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
) -> Result<Option<User>> {
    validate::uuid("user_id", user_id)?;
    Ok(load_users(c, q, app, &[user_id.to_owned()])
        .await?
        .into_iter()
        .next())
}

/// `UnknownUserId` when an update touched no row.
fn touched(n: u64) -> Result<()> {
    if n == 0 {
        return Err(StorageError::UnknownUserId);
    }
    Ok(())
}

pub(crate) async fn update_ep_email<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    email: &str,
) -> Result<()> {
    guard_email_change(c, q, app, user_id, email).await?;
    let stmt = Stmt::fixed("users.update_ep_email");
    touched(set_email(c, q, stmt, EmailpasswordUsers::Email, app, user_id, email).await?)?;
    let stmt = Stmt::fixed("users.update_ep_tenant_email");
    set_email(
        c,
        q,
        stmt,
        EmailpasswordUserToTenant::Email,
        app,
        user_id,
        email,
    )
    .await?;
    Ok(())
}

pub(crate) async fn update_tp_email<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    email: &str,
) -> Result<()> {
    guard_email_change(c, q, app, user_id, email).await?;
    let stmt = Stmt::fixed("users.update_tp_email");
    touched(set_email(c, q, stmt, ThirdpartyUsers::Email, app, user_id, email).await?)
}

/// Checks a new email of a login method, and that the change keeps the linking
/// invariant (the linking guard).
async fn guard_email_change<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    email: &str,
) -> Result<()> {
    validate::uuid("user_id", user_id)?;
    check_email(email)?;
    let new = linking::email_identity(Some(email), None);
    linking::guard_change(c, q, app, user_id, new, None).await
}

/// Sets the email column `col` of a user's rows in `col`'s table; returns the rows
/// changed. A unique violation (the email-password tenant table's key) is
/// `DuplicateEmail`.
async fn set_email<T: AppUserCols, C: Conn>(
    c: &mut C,
    q: Q<'_>,
    stmt: Stmt,
    col: T,
    app: &AppId,
    user_id: &str,
    email: &str,
) -> Result<u64> {
    let args = args! { app: app.as_str(), user_id: user_id, email: email };
    q.exec(c, stmt, args, |a| {
        Query::update()
            .table(q.t(T::TABLE))
            .value(col, a.email.expr())
            .cond_where(app_user_is::<T>(&a.app, &a.user_id))
            .to_owned()
    })
    .await
    .violations(|v| match v {
        Violation::Unique(_) => StorageError::DuplicateEmail,
        v => unexpected(v),
    })
}

pub(crate) async fn update_password<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    hash: &Secret,
) -> Result<()> {
    validate::uuid("user_id", user_id)?;
    validate::text("password_hash", hash.expose(), 256)?;
    let args = args! { app: app.as_str(), user_id: user_id, hash: hash.expose() };
    let n = q
        .exec(c, Stmt::fixed("users.update_password_hash"), args, |a| {
            Query::update()
                .table(q.t(Tbl::EmailpasswordUsers))
                .value(EmailpasswordUsers::PasswordHash, a.hash.expr())
                .cond_where(app_user_is::<EmailpasswordUsers>(&a.app, &a.user_id))
                .to_owned()
        })
        .await
        .no_violations()?;
    touched(n)
}

pub(crate) async fn update_pl_contact<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<()> {
    validate::uuid("user_id", user_id)?;
    validate::opt_text("email", email, 256)?;
    validate::opt_text("phone_number", phone, 256)?;
    if email.is_none() && phone.is_none() {
        return Err(StorageError::invalid(
            "email",
            "one of email and phone number is required",
        ));
    }
    let new = linking::email_identity(email, phone);
    linking::guard_change(c, q, app, user_id, new, None).await?;
    for (stmt, table) in [
        (
            Stmt::fixed("users.update_pl_contact"),
            Tbl::PasswordlessUsers,
        ),
        (
            Stmt::fixed("users.update_pl_tenant_contact"),
            Tbl::PasswordlessUserToTenant,
        ),
    ] {
        let args = args! {
            app: app.as_str(),
            user_id: user_id,
            email: email,
            phone: phone,
        };
        let n = q
            .exec(c, stmt, args, |a| {
                Query::update()
                    .table(q.t(table))
                    .values([
                        (PasswordlessUserToTenant::Email, a.email.expr()),
                        (PasswordlessUserToTenant::PhoneNumber, a.phone.expr()),
                    ])
                    .cond_where(app_user_is::<PasswordlessUserToTenant>(&a.app, &a.user_id))
                    .to_owned()
            })
            .await
            .violations(|v| match table {
                Tbl::PasswordlessUserToTenant => pl_dup(v),
                _ => unexpected(v),
            })?;
        if table == Tbl::PasswordlessUsers {
            touched(n)?;
        }
    }
    Ok(())
}

/// Deletes the recipe rows of one login method: its passwordless devices (keyed by
/// contact, not by user) and its `app_id_to_user_id` row, which cascades to
/// `all_auth_recipe_users`, the recipe tables, the `*_user_to_tenant` tables,
/// password-reset tokens and its user-id mapping. With `keep_base` (the primary's
/// own method of a group that survives) the `app_id_to_user_id` row stays: the
/// group's other rows refer to it (foreign key) and the group keeps its id.
pub(crate) async fn delete_login_method<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    keep_base: bool,
) -> Result<bool> {
    const CONTACT: [PasswordlessUsers; 2] =
        [PasswordlessUsers::Email, PasswordlessUsers::PhoneNumber];
    let args = args! { app: app.as_str(), user_id: user_id };
    let contact = q
        .fetch(c, Stmt::fixed("users.pl_contact"), &CONTACT, args, |a| {
            Query::select()
                .from(q.t(Tbl::PasswordlessUsers))
                .columns(CONTACT)
                .cond_where(app_user_is::<PasswordlessUsers>(&a.app, &a.user_id))
                .to_owned()
        })
        .await?
        .one();
    if let Some(row) = contact {
        let r = row.rec();
        for (stmt, contact, column) in [
            (
                Stmt::fixed("users.delete_devices_by_email"),
                r.opt_text(PasswordlessUsers::Email)?,
                PasswordlessDevices::Email,
            ),
            (
                Stmt::fixed("users.delete_devices_by_phone"),
                r.opt_text(PasswordlessUsers::PhoneNumber)?,
                PasswordlessDevices::PhoneNumber,
            ),
        ] {
            let Some(value) = contact else {
                continue;
            };
            let args = args! { app: app.as_str(), user_id: user_id, value: value };
            q.exec(c, stmt, args, |a| {
                Query::delete()
                    .from_table(q.t(Tbl::PasswordlessDevices))
                    .and_where(Expr::col(PasswordlessDevices::AppId).eq(a.app.expr()))
                    .and_where(Expr::col(column).eq(a.value.expr()))
                    .and_where(in_rows_of(
                        q,
                        PasswordlessDevices::TenantId,
                        AllAuthRecipeUsers::TenantId,
                        app_user_is::<AllAuthRecipeUsers>(&a.app, &a.user_id),
                    ))
                    .to_owned()
            })
            .await
            .no_violations()?;
        }
    }
    if keep_base {
        // The group's primary row stays (the other methods' rows refer to it); only
        // this method's recipe rows go.
        for (stmt, keyed) in [
            (
                Stmt::fixed("users.delete_method_reset_tokens"),
                EmailpasswordPswdResetTokens::KEYED,
            ),
            (
                Stmt::fixed("users.delete_method_tenants"),
                AllAuthRecipeUsers::KEYED,
            ),
            (
                Stmt::fixed("users.delete_method_ep"),
                EmailpasswordUsers::KEYED,
            ),
            (
                Stmt::fixed("users.delete_method_tp"),
                ThirdpartyUsers::KEYED,
            ),
            (
                Stmt::fixed("users.delete_method_pl"),
                PasswordlessUsers::KEYED,
            ),
        ] {
            let args = args! { app: app.as_str(), user_id: user_id };
            q.exec(c, stmt, args, |a| {
                Query::delete()
                    .from_table(q.t(keyed.table))
                    .cond_where(user_keyed_is(keyed, &a.app, &a.user_id))
                    .to_owned()
            })
            .await
            .no_violations()?;
        }
        return Ok(true);
    }
    let args = args! { app: app.as_str(), user_id: user_id };
    let n = q
        .exec(c, Stmt::fixed("users.delete_user"), args, |a| {
            Query::delete()
                .from_table(q.t(Tbl::AppIdToUserId))
                .cond_where(app_user_is::<AppIdToUserId>(&a.app, &a.user_id))
                .to_owned()
        })
        .await
        .no_violations()?;
    Ok(n > 0)
}

/// The tables of phase 1 and 2 keyed by a user id (SuperTokens or external) that no
/// foreign key ties to `app_id_to_user_id`: sessions, email verification, metadata,
/// roles, TOTP (its devices and used codes cascade from `totp_users`), last active.
const USER_DATA: [(Stmt, UserKeyed); 7] = [
    (Stmt::fixed("users.delete_sessions"), SessionInfo::KEYED),
    (
        Stmt::fixed("users.delete_verification_tokens"),
        EmailverificationTokens::KEYED,
    ),
    (
        Stmt::fixed("users.delete_verified_emails"),
        EmailverificationVerifiedEmails::KEYED,
    ),
    (Stmt::fixed("users.delete_metadata"), UserMetadata::KEYED),
    (Stmt::fixed("users.delete_roles"), UserRoles::KEYED),
    (Stmt::fixed("users.delete_totp_user"), TotpUsers::KEYED),
    (
        Stmt::fixed("users.delete_last_active"),
        UserLastActive::KEYED,
    ),
];

/// The external id mapped to a SuperTokens user id, if any.
pub(crate) async fn external_id_of<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
) -> Result<Option<String>> {
    const EXT: [UseridMapping; 1] = [UseridMapping::ExternalUserId];
    let args = args! { app: app.as_str(), user_id: user_id };
    let row = q
        .fetch(c, Stmt::fixed("users.external_id_of"), &EXT, args, |a| {
            Query::select()
                .from(q.t(Tbl::UseridMapping))
                .columns(EXT)
                .and_where(Expr::col(UseridMapping::AppId).eq(a.app.expr()))
                .and_where(Expr::col(UseridMapping::SupertokensUserId).eq(a.user_id.expr()))
                .to_owned()
        })
        .await?
        .one();
    row.map(|r| r.rec().text(UseridMapping::ExternalUserId))
        .transpose()
}

/// Deletes every row of [`USER_DATA`] keyed by `user_id` in the app.
async fn delete_user_data<C: Conn>(c: &mut C, q: Q<'_>, app: &AppId, user_id: &str) -> Result<()> {
    for (stmt, keyed) in USER_DATA {
        let args = args! { app: app.as_str(), user_id: user_id };
        q.exec(c, stmt, args, |a| {
            Query::delete()
                .from_table(q.t(keyed.table))
                .cond_where(user_keyed_is(keyed, &a.app, &a.user_id))
                .to_owned()
        })
        .await
        .no_violations()?;
    }
    Ok(())
}

/// Deletes a user (contract-phase2 A.3): with `all_linked` its whole group, otherwise
/// only this login method (the group keeps its id, its other methods and the data
/// keyed by its id, and its time joined is recomputed). Every row keyed by a deleted
/// id (or by the external id mapped to it) goes, in every phase-1 and phase-2 table.
pub(crate) async fn delete_user<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    all_linked: bool,
) -> Result<bool> {
    validate::uuid("user_id", user_id)?;
    let Some(group) = linking::lock_group_of(c, q, app, user_id).await? else {
        return Ok(false);
    };
    let doomed: Vec<String> = if all_linked {
        group
            .login_methods
            .iter()
            .map(|m| m.recipe_user_id.clone())
            .collect()
    } else {
        vec![user_id.to_owned()]
    };
    // The group's id stays in use while other methods remain.
    let survivor = group
        .login_methods
        .iter()
        .map(|m| m.recipe_user_id.clone())
        .find(|id| !doomed.contains(id));
    for id in &doomed {
        let keeps_group = survivor.is_some() && *id == group.id;
        if !keeps_group {
            if let Some(ext) = external_id_of(c, q, app, id).await? {
                delete_user_data(c, q, app, &ext).await?;
            }
            delete_user_data(c, q, app, id).await?;
        }
        delete_login_method(c, q, app, id, keeps_group).await?;
    }
    match survivor {
        Some(member) => linking::fold_time_joined(c, q, app, &member).await?,
        None if !doomed.contains(&group.id) => {
            // The group's own login method went earlier (its row was kept for the
            // group): its row and data go with the last method.
            if let Some(ext) = external_id_of(c, q, app, &group.id).await? {
                delete_user_data(c, q, app, &ext).await?;
            }
            delete_user_data(c, q, app, &group.id).await?;
            delete_login_method(c, q, app, &group.id, false).await?;
        }
        None => {}
    }
    Ok(true)
}

/// The user ids of `table` (one of the `*_user_to_tenant` tables) in a tenant with
/// `column = value`.
async fn ids_in_tenant<C: Conn, T: TenantCols + AppUserCols>(
    c: &mut C,
    q: Q<'_>,
    stmt: Stmt,
    column: T,
    t: &TenantIdentifier,
    value: &str,
) -> Result<Vec<String>> {
    let args = args! { app: t.app.as_str(), tenant: t.tenant.as_str(), value: value };
    let rows = q
        .fetch(c, stmt, T::USER_ID_ROW, args, |a| {
            Query::select()
                .from(q.t(T::TABLE))
                .columns(T::USER_ID_ROW.iter().copied())
                .cond_where(
                    tenant_is::<T>(&a.app, &a.tenant).add(Expr::col(column).eq(a.value.expr())),
                )
                .to_owned()
        })
        .await?;
    rows.iter().map(|r| r.text(T::USER_ID)).collect()
}

/// The recipe user ids with this email in the tenant, across the three recipes.
pub(crate) async fn ids_by_email<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    email: &str,
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let stmt = Stmt::fixed("users.ids_by_email_ep");
    ids.extend(ids_in_tenant(c, q, stmt, EmailpasswordUserToTenant::Email, t, email).await?);
    let stmt = Stmt::fixed("users.ids_by_email_pl");
    ids.extend(ids_in_tenant(c, q, stmt, PasswordlessUserToTenant::Email, t, email).await?);
    let args = args! {
        app: t.app.as_str(),
        tenant: t.tenant.as_str(),
        email: email,
    };
    let rows = q
        .fetch(
            c,
            Stmt::fixed("users.ids_by_email_tp"),
            ThirdpartyUsers::USER_ID_ROW,
            args,
            |a| {
                Query::select()
                    .from(q.t(Tbl::ThirdpartyUsers))
                    .columns(ThirdpartyUsers::USER_ID_ROW.iter().copied())
                    .and_where(Expr::col(ThirdpartyUsers::AppId).eq(a.app.expr()))
                    .and_where(Expr::col(ThirdpartyUsers::Email).eq(a.email.expr()))
                    .and_where(
                        Expr::col(ThirdpartyUsers::UserId).in_subquery(
                            Query::select()
                                .from(q.t(Tbl::ThirdpartyUserToTenant))
                                .column(ThirdpartyUserToTenant::UserId)
                                .cond_where(tenant_is::<ThirdpartyUserToTenant>(&a.app, &a.tenant))
                                .to_owned(),
                        ),
                    )
                    .to_owned()
            },
        )
        .await?;
    for r in rows.iter() {
        ids.push(r.text(ThirdpartyUsers::UserId)?);
    }
    Ok(ids)
}

/// The passwordless user ids with this phone number in the tenant.
pub(crate) async fn ids_by_phone<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    phone: &str,
) -> Result<Vec<String>> {
    let stmt = Stmt::fixed("users.ids_by_phone");
    ids_in_tenant(c, q, stmt, PasswordlessUserToTenant::PhoneNumber, t, phone).await
}

/// The third-party identity columns of `thirdparty_users` and
/// `thirdparty_user_to_tenant`.
trait ThirdPartyCols: AppUserCols {
    /// `third_party_id`
    const THIRD_PARTY_ID: Self;
    /// `third_party_user_id`
    const THIRD_PARTY_USER_ID: Self;
}

impl ThirdPartyCols for ThirdpartyUsers {
    const THIRD_PARTY_ID: Self = Self::ThirdPartyId;
    const THIRD_PARTY_USER_ID: Self = Self::ThirdPartyUserId;
}

impl ThirdPartyCols for ThirdpartyUserToTenant {
    const THIRD_PARTY_ID: Self = Self::ThirdPartyId;
    const THIRD_PARTY_USER_ID: Self = Self::ThirdPartyUserId;
}

/// The third-party user ids of this identity in the app, or in one tenant.
pub(crate) async fn ids_by_third_party<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    tenant: Option<&TenantId>,
    tp: &ThirdPartyInfo,
) -> Result<Vec<String>> {
    match tenant {
        None => {
            let stmt = Stmt::fixed("users.ids_by_third_party");
            tp_ids::<C, ThirdpartyUsers>(c, q, stmt, app, None, tp).await
        }
        Some(tenant) => {
            let stmt = Stmt::fixed("users.ids_by_third_party_in_tenant");
            let tenant = Some((tenant, ThirdpartyUserToTenant::TenantId));
            tp_ids(c, q, stmt, app, tenant, tp).await
        }
    }
}

/// The user ids of table `T` with this third-party identity, in the app or (with
/// `tenant` and the table's `tenant_id`) in one tenant.
async fn tp_ids<C: Conn, T: ThirdPartyCols>(
    c: &mut C,
    q: Q<'_>,
    stmt: Stmt,
    app: &AppId,
    tenant: Option<(&TenantId, T)>,
    tp: &ThirdPartyInfo,
) -> Result<Vec<String>> {
    let tenant_id = tenant.map(|(_, col)| col);
    let args = args! {
        app: app.as_str(),
        tenant: tenant.map(|(t, _)| t.as_str()),
        third_party_id: tp.third_party_id.as_str(),
        third_party_user_id: tp.third_party_user_id.as_str(),
    };
    let rows = q
        .fetch(c, stmt, T::USER_ID_ROW, args, |a| {
            let mut s = Query::select();
            s.from(q.t(T::TABLE))
                .columns(T::USER_ID_ROW.iter().copied())
                .and_where(Expr::col(T::APP_ID).eq(a.app.expr()))
                .and_where(Expr::col(T::THIRD_PARTY_ID).eq(a.third_party_id.expr()))
                .and_where(Expr::col(T::THIRD_PARTY_USER_ID).eq(a.third_party_user_id.expr()));
            if let Some(col) = tenant_id {
                s.and_where(Expr::col(col).eq(a.tenant.expr()));
            }
            s
        })
        .await?;
    rows.iter().map(|r| r.text(T::USER_ID)).collect()
}

/// The user-id look-up of [`Users::list_users`]: one page of primary user ids.
const PAGE: [AllAuthRecipeUsers; 2] = [
    AllAuthRecipeUsers::PrimaryOrRecipeUserId,
    AllAuthRecipeUsers::PrimaryOrRecipeUserTimeJoined,
];

/// The statement of a user count: over an app or a tenant, filtered on `recipes`
/// recipes (none: every recipe).
fn count_stmt(scope: &UserScope, recipes: usize) -> Stmt {
    match scope {
        UserScope::App(_) => Stmt::shaped("users.count_in_app", Shape::Each(recipes)),
        UserScope::Tenant(_) => Stmt::shaped("users.count_in_tenant", Shape::Each(recipes)),
    }
}

/// The app, the tenant (`None` for an app scope) and the table of a scope.
fn scope_parts(scope: &UserScope) -> (&AppId, Option<&str>, Tbl) {
    match scope {
        UserScope::App(a) => (a, None, Tbl::AppIdToUserId),
        UserScope::Tenant(t) => (&t.app, Some(t.tenant.as_str()), Tbl::AllAuthRecipeUsers),
    }
}

/// A sign-up of one of the three recipes.
#[derive(Clone, Copy)]
enum SignUp<'a> {
    EmailPassword(&'a EmailPasswordSignUp),
    ThirdParty(&'a ThirdPartySignUp),
    Passwordless(&'a PasswordlessSignUp),
}

/// A login method of `recipe` with nothing but its id and time joined.
fn login_method(recipe: RecipeId, user_id: &str, time_joined: i64) -> LoginMethod {
    LoginMethod {
        recipe_id: recipe,
        recipe_user_id: user_id.to_owned(),
        email: None,
        phone_number: None,
        third_party: None,
        password_hash: None,
        time_joined,
        tenant_ids: Vec::new(),
        verified: false,
    }
}

/// The rows of a sign-up: the user's `app_id_to_user_id` and `all_auth_recipe_users`
/// rows, its recipe row, and its recipe's row in the tenant.
async fn insert_sign_up<C: Conn>(c: &mut C, q: Q<'_>, s: SignUp<'_>) -> Result<()> {
    let (tenant, user_id, recipe, time_joined) = match s {
        SignUp::EmailPassword(i) => (
            &i.tenant,
            &i.user_id,
            RecipeId::EmailPassword,
            i.time_joined,
        ),
        SignUp::ThirdParty(i) => (&i.tenant, &i.user_id, RecipeId::ThirdParty, i.time_joined),
        SignUp::Passwordless(i) => (&i.tenant, &i.user_id, RecipeId::Passwordless, i.time_joined),
    };
    let u = NewUser {
        tenant,
        user_id,
        recipe,
        time_joined,
    };
    insert_base(c, q, &u).await?;
    // The recipe's own row (columns in the order of the DDL).
    let app = val(tenant.app.as_str());
    let inserted = match s {
        SignUp::EmailPassword(i) => {
            q.insert(
                c,
                Stmt::fixed("users.insert_ep_user"),
                [
                    (EmailpasswordUsers::AppId, app),
                    (EmailpasswordUsers::UserId, val(user_id.as_str())),
                    (EmailpasswordUsers::Email, val(i.email.as_str())),
                    (
                        EmailpasswordUsers::PasswordHash,
                        val(i.password_hash.expose()),
                    ),
                    (EmailpasswordUsers::TimeJoined, val(time_joined)),
                ],
            )
            .await
        }
        SignUp::ThirdParty(i) => {
            q.insert(
                c,
                Stmt::fixed("users.insert_tp_user"),
                [
                    (ThirdpartyUsers::AppId, app),
                    (
                        ThirdpartyUsers::ThirdPartyId,
                        val(i.third_party.third_party_id.as_str()),
                    ),
                    (
                        ThirdpartyUsers::ThirdPartyUserId,
                        val(i.third_party.third_party_user_id.as_str()),
                    ),
                    (ThirdpartyUsers::UserId, val(user_id.as_str())),
                    (ThirdpartyUsers::Email, val(i.email.as_str())),
                    (ThirdpartyUsers::TimeJoined, val(time_joined)),
                ],
            )
            .await
        }
        SignUp::Passwordless(i) => {
            q.insert(
                c,
                Stmt::fixed("users.insert_pl_user"),
                [
                    (PasswordlessUsers::AppId, app),
                    (PasswordlessUsers::UserId, val(user_id.as_str())),
                    (PasswordlessUsers::Email, val(i.email.as_deref())),
                    (
                        PasswordlessUsers::PhoneNumber,
                        val(i.phone_number.as_deref()),
                    ),
                    (PasswordlessUsers::TimeJoined, val(time_joined)),
                ],
            )
            .await
        }
    };
    inserted.no_violations()?;
    // Its row in the tenant, which checks the recipe's unique keys there.
    match s {
        SignUp::EmailPassword(i) => insert_ep_tenant(c, q, tenant, user_id, &i.email).await,
        SignUp::ThirdParty(i) => insert_tp_tenant(c, q, tenant, user_id, &i.third_party).await,
        SignUp::Passwordless(i) => {
            let (email, phone) = (i.email.as_deref(), i.phone_number.as_deref());
            insert_pl_tenant(c, q, tenant, user_id, email, phone).await
        }
    }
}

impl<D: Driver> SqlStorage<D> {
    /// Runs the sign-up `s` as the operation `op`, in one retried transaction.
    async fn sign_up(&self, op: &'static str, s: SignUp<'_>) -> Result<()> {
        let tenant = match s {
            SignUp::EmailPassword(i) => &i.tenant,
            SignUp::ThirdParty(i) => &i.tenant,
            SignUp::Passwordless(i) => &i.tenant,
        };
        self.in_tx(Op::tenant(op, tenant), |cx| {
            let (c, q) = cx.parts();
            Box::pin(insert_sign_up(c, q, s))
        })
        .await
    }
}

#[async_trait]
impl<D: Driver> Users for SqlStorage<D> {
    async fn sign_up_email_password(&self, i: &EmailPasswordSignUp) -> Result<User> {
        validate::uuid("user_id", &i.user_id)?;
        check_email(&i.email)?;
        validate::text("password_hash", i.password_hash.expose(), 256)?;
        validate::time("time_joined", i.time_joined)?;
        self.sign_up("sign_up_email_password", SignUp::EmailPassword(i))
            .await?;
        Ok(new_user(
            &i.tenant,
            &i.user_id,
            i.time_joined,
            LoginMethod {
                email: Some(i.email.clone()),
                password_hash: Some(i.password_hash.clone()),
                ..login_method(RecipeId::EmailPassword, &i.user_id, i.time_joined)
            },
        ))
    }

    async fn sign_up_third_party(&self, i: &ThirdPartySignUp) -> Result<User> {
        validate::uuid("user_id", &i.user_id)?;
        check_email(&i.email)?;
        check_tp(&i.third_party)?;
        validate::time("time_joined", i.time_joined)?;
        self.sign_up("sign_up_third_party", SignUp::ThirdParty(i))
            .await?;
        Ok(new_user(
            &i.tenant,
            &i.user_id,
            i.time_joined,
            LoginMethod {
                email: Some(i.email.clone()),
                third_party: Some(i.third_party.clone()),
                ..login_method(RecipeId::ThirdParty, &i.user_id, i.time_joined)
            },
        ))
    }

    async fn create_passwordless_user(&self, i: &PasswordlessSignUp) -> Result<User> {
        validate::uuid("user_id", &i.user_id)?;
        validate::opt_text("email", i.email.as_deref(), 256)?;
        validate::opt_text("phone_number", i.phone_number.as_deref(), 256)?;
        validate::time("time_joined", i.time_joined)?;
        if i.email.is_none() && i.phone_number.is_none() {
            return Err(StorageError::invalid(
                "email",
                "one of email and phone number is required",
            ));
        }
        self.sign_up("create_passwordless_user", SignUp::Passwordless(i))
            .await?;
        Ok(new_user(
            &i.tenant,
            &i.user_id,
            i.time_joined,
            LoginMethod {
                email: i.email.clone(),
                phone_number: i.phone_number.clone(),
                ..login_method(RecipeId::Passwordless, &i.user_id, i.time_joined)
            },
        ))
    }

    async fn get_user(&self, app: &AppId, user_id: &str) -> Result<Option<User>> {
        self.stale_read(Stale::Point, Op::app("get_user", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(get_user(c, q, app, user_id))
        })
        .await
    }

    async fn list_users_by_email(&self, t: &TenantIdentifier, email: &str) -> Result<Vec<User>> {
        check_email(email)?;
        self.on(Via::Read, Op::tenant("list_users_by_email", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let ids = ids_by_email(c, q, t, email).await?;
                load_users(c, q, &t.app, &ids).await
            })
        })
        .await
    }

    async fn list_users_by_phone(&self, t: &TenantIdentifier, phone: &str) -> Result<Vec<User>> {
        validate::text("phone_number", phone, 256)?;
        self.on(Via::Read, Op::tenant("list_users_by_phone", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let ids = ids_by_phone(c, q, t, phone).await?;
                load_users(c, q, &t.app, &ids).await
            })
        })
        .await
    }

    async fn list_users_by_third_party(
        &self,
        app: &AppId,
        tp: &ThirdPartyInfo,
    ) -> Result<Vec<User>> {
        check_tp(tp)?;
        self.on(Via::Read, Op::app("list_users_by_third_party", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let ids = ids_by_third_party(c, q, app, None, tp).await?;
                load_users(c, q, app, &ids).await
            })
        })
        .await
    }

    async fn list_users(&self, r: &ListUsers) -> Result<UserPage> {
        if r.limit == 0 || r.limit > 1000 {
            return Err(StorageError::invalid("limit", "must be between 1 and 1000"));
        }
        let t = &r.tenant;
        let desc = r.order == TimeJoinedOrder::Desc;
        let order = if desc { Order::Desc } else { Order::Asc };
        let stmt = Stmt::shaped(
            "users.list",
            Shape::Page {
                desc,
                after: r.after.is_some(),
                recipes: r.recipes.len(),
                limit: u64::from(r.limit) + 1,
                tags: [
                    r.search.emails.len(),
                    r.search.phones.len(),
                    r.search.providers.len(),
                ],
            },
        );
        let d = self.driver.dialect();
        let (emails, phones, providers) = (
            search::tag_values(d, "emails", &r.search.emails)?,
            search::tag_values(d, "phones", &r.search.phones)?,
            search::tag_values(d, "providers", &r.search.providers)?,
        );
        let args = args! {
            app: t.app.as_str(),
            tenant: t.tenant.as_str(),
            after_time_joined: r.after.as_ref().map(|a| a.time_joined),
            after_id: r.after.as_ref().map(|a| a.user_id.as_str()),
            recipes: each(r.recipes.iter().map(|x| x.as_str())),
            e_lo: each(emails.lo),
            e_hi: each(emails.hi),
            p_lo: each(phones.lo),
            p_hi: each(phones.hi),
            t_lo: each(providers.lo),
            t_hi: each(providers.hi),
        };
        self.stale_read(Stale::Scan, Op::tenant("list_users", t), |cx| {
            let (args, order) = (args.clone(), order.clone());
            Box::pin(async move {
                let (c, q) = cx.parts();
                let rows = q
                    .fetch(c, stmt, &PAGE, args, |a| {
                        let mut s = Query::select();
                        s.distinct()
                            .from(q.t(Tbl::AllAuthRecipeUsers))
                            .columns(PAGE)
                            .cond_where(tenant_is::<AllAuthRecipeUsers>(&a.app, &a.tenant));
                        if !r.search.is_empty() {
                            let tags = search::TagArgs {
                                emails: (&a.e_lo, &a.e_hi),
                                phones: (&a.p_lo, &a.p_hi),
                                providers: (&a.t_lo, &a.t_hi),
                            };
                            let m = search::matching_login_methods(
                                q, &a.app, &a.tenant, &r.search, &tags,
                            );
                            s.join_subquery(
                                JoinType::InnerJoin,
                                m,
                                search::MATCHED,
                                Expr::col((search::MATCHED, AllAuthRecipeUsers::UserId.any()))
                                    .equals((
                                        q.t(Tbl::AllAuthRecipeUsers),
                                        AllAuthRecipeUsers::UserId,
                                    )),
                            );
                        }
                        if !r.recipes.is_empty() {
                            s.and_where(
                                Expr::col(AllAuthRecipeUsers::RecipeId).is_in(a.recipes.values()),
                            );
                        }
                        if r.after.is_some() {
                            let tj =
                                || Expr::col(AllAuthRecipeUsers::PrimaryOrRecipeUserTimeJoined);
                            let id = Expr::col(AllAuthRecipeUsers::PrimaryOrRecipeUserId);
                            let (tj_after, id_after, bound) = if desc {
                                (
                                    tj().lt(a.after_time_joined.expr()),
                                    id.lt(a.after_id.expr()),
                                    tj().lte(a.after_time_joined.expr()),
                                )
                            } else {
                                (
                                    tj().gt(a.after_time_joined.expr()),
                                    id.gt(a.after_id.expr()),
                                    tj().gte(a.after_time_joined.expr()),
                                )
                            };
                            // Implied by the keyset condition below, but unlike it a
                            // plain range on the index's first ordered column: the scan
                            // starts at the page instead of filtering every row before it.
                            s.and_where(bound);
                            s.cond_where(
                                Cond::any().add(tj_after).add(
                                    Cond::all()
                                        .add(tj().eq(a.after_time_joined.expr()))
                                        .add(id_after),
                                ),
                            );
                        }
                        s.order_by(
                            AllAuthRecipeUsers::PrimaryOrRecipeUserTimeJoined,
                            order.clone(),
                        )
                        .order_by(AllAuthRecipeUsers::PrimaryOrRecipeUserId, order.clone())
                        .limit(u64::from(r.limit) + 1);
                        s
                    })
                    .await?;
                let more = rows.len() > r.limit as usize;
                let mut page: Vec<(String, i64)> = Vec::with_capacity(rows.len());
                for row in rows.iter().take(r.limit as usize) {
                    page.push((
                        row.text(AllAuthRecipeUsers::PrimaryOrRecipeUserId)?,
                        row.int(AllAuthRecipeUsers::PrimaryOrRecipeUserTimeJoined)?,
                    ));
                }
                let ids: Vec<String> = page.iter().map(|(id, _)| id.clone()).collect();
                let mut users: BTreeMap<String, User> = load_users(c, q, &t.app, &ids)
                    .await?
                    .into_iter()
                    .map(|u| (u.id.clone(), u))
                    .collect();
                let next = if more {
                    page.last().map(|(id, tj)| PageToken {
                        time_joined: *tj,
                        user_id: id.clone(),
                    })
                } else {
                    None
                };
                let users = page.iter().filter_map(|(id, _)| users.remove(id)).collect();
                Ok(UserPage { users, next })
            })
        })
        .await
    }

    async fn count_users(&self, scope: &UserScope, recipes: &[RecipeId]) -> Result<u64> {
        let (app, tenant, table) = scope_parts(scope);
        let stmt = count_stmt(scope, recipes.len());
        let in_tenant = tenant.is_some();
        let args = args! {
            app: app.as_str(),
            tenant: tenant,
            recipes: each(recipes.iter().map(|r| r.as_str())),
        };
        self.stale_read(Stale::Scan, Op::scope("count_users", scope), |cx| {
            let args = args.clone();
            Box::pin(async move {
                let (c, q) = cx.parts();
                const N: [As; 1] = [As::N];
                let row = q
                    .fetch(c, stmt, &N, args, |a| {
                        let mut s = Query::select();
                        s.from(q.t(table))
                            .expr_as(
                                Func::count_distinct(Expr::col(
                                    AllAuthRecipeUsers::PrimaryOrRecipeUserId,
                                )),
                                As::N,
                            )
                            .and_where(Expr::col(AllAuthRecipeUsers::AppId).eq(a.app.expr()));
                        if in_tenant {
                            s.and_where(
                                Expr::col(AllAuthRecipeUsers::TenantId).eq(a.tenant.expr()),
                            );
                        }
                        if !recipes.is_empty() {
                            s.and_where(
                                Expr::col(AllAuthRecipeUsers::RecipeId).is_in(a.recipes.values()),
                            );
                        }
                        s
                    })
                    .await?
                    .one();
                Ok(row.map(|r| r.rec().int(As::N)).transpose()?.unwrap_or(0) as u64)
            })
        })
        .await
    }

    async fn user_exists(&self, scope: &UserScope, user_id: &str) -> Result<bool> {
        validate::uuid("user_id", user_id)?;
        let (app, tenant, table) = scope_parts(scope);
        let stmt = match scope {
            UserScope::App(_) => Stmt::fixed("users.exists_in_app"),
            UserScope::Tenant(_) => Stmt::fixed("users.exists_in_tenant"),
        };
        let in_tenant = tenant.is_some();
        let args = args! { app: app.as_str(), tenant: tenant, user_id: user_id };
        self.on(Via::Read, Op::scope("user_exists", scope), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const ONE: [As; 1] = [As::N];
                let row = q
                    .fetch(c, stmt, &ONE, args, |a| {
                        let mut s = Query::select();
                        s.from(q.t(table))
                            .expr_as(Expr::val(1), As::N)
                            .cond_where(app_user_is::<AllAuthRecipeUsers>(&a.app, &a.user_id));
                        if in_tenant {
                            s.and_where(
                                Expr::col(AllAuthRecipeUsers::TenantId).eq(a.tenant.expr()),
                            );
                        }
                        s.limit(1);
                        s
                    })
                    .await?
                    .one();
                Ok(row.is_some())
            })
        })
        .await
    }

    async fn update_email_password_email(
        &self,
        app: &AppId,
        user_id: &str,
        email: &str,
    ) -> Result<()> {
        self.in_tx(Op::app("update_email_password_email", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(update_ep_email(c, q, app, user_id, email))
        })
        .await
    }

    async fn update_third_party_email(
        &self,
        app: &AppId,
        user_id: &str,
        email: &str,
    ) -> Result<()> {
        self.in_tx(Op::app("update_third_party_email", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(update_tp_email(c, q, app, user_id, email))
        })
        .await
    }

    async fn update_password_hash(&self, app: &AppId, user_id: &str, hash: &Secret) -> Result<()> {
        self.on(Via::Pool, Op::app("update_password_hash", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(update_password(c, q, app, user_id, hash))
        })
        .await
    }

    async fn update_passwordless_contact(
        &self,
        app: &AppId,
        user_id: &str,
        email: Option<&str>,
        phone_number: Option<&str>,
    ) -> Result<()> {
        self.in_tx(Op::app("update_passwordless_contact", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(update_pl_contact(c, q, app, user_id, email, phone_number))
        })
        .await
    }

    async fn add_user_to_tenant(&self, t: &TenantIdentifier, user_id: &str) -> Result<bool> {
        validate::uuid("user_id", user_id)?;
        self.in_tx(Op::tenant("add_user_to_tenant", t), |cx| {
            let (c, q) = cx.parts();
            Box::pin(add_user_to_tenant(c, q, t, user_id))
        })
        .await
    }

    async fn remove_user_from_tenant(&self, t: &TenantIdentifier, user_id: &str) -> Result<bool> {
        validate::uuid("user_id", user_id)?;
        self.on(Via::Pool, Op::tenant("remove_user_from_tenant", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! {
                    app: t.app.as_str(),
                    tenant: t.tenant.as_str(),
                    user_id: user_id,
                };
                let n = q
                    .exec(c, Stmt::fixed("users.remove_from_tenant"), args, |a| {
                        Query::delete()
                            .from_table(q.t(Tbl::AllAuthRecipeUsers))
                            .cond_where(
                                tenant_is::<AllAuthRecipeUsers>(&a.app, &a.tenant).add(
                                    Expr::col(AllAuthRecipeUsers::UserId).eq(a.user_id.expr()),
                                ),
                            )
                            .to_owned()
                    })
                    .await
                    .no_violations()?;
                Ok(n > 0)
            })
        })
        .await
    }

    async fn delete_user(&self, app: &AppId, user_id: &str) -> Result<bool> {
        self.in_tx(Op::app("delete_user", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(delete_user(c, q, app, user_id, true))
        })
        .await
    }
}

/// Adds an existing user to a tenant: its `all_auth_recipe_users` row and its
/// recipe's `*_user_to_tenant` row (which re-checks the recipe's unique keys in the
/// tenant). `false` when it was already there.
async fn add_user_to_tenant<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    user_id: &str,
) -> Result<bool> {
    // A linked user joining a tenant brings its group's identities there (A.2).
    let none = Default::default();
    linking::guard_change(c, q, &t.app, user_id, none, Some(&t.tenant)).await?;
    const BASE: [AppIdToUserId; 5] = [
        AppIdToUserId::RecipeId,
        AppIdToUserId::PrimaryOrRecipeUserId,
        AppIdToUserId::IsLinkedOrIsAPrimaryUser,
        AppIdToUserId::TimeJoined,
        AppIdToUserId::PrimaryOrRecipeUserTimeJoined,
    ];
    let args = args! { app: t.app.as_str(), user_id: user_id };
    let base = q
        .fetch(c, Stmt::fixed("users.app_user"), &BASE, args, |a| {
            Query::select()
                .from(q.t(Tbl::AppIdToUserId))
                .columns(BASE)
                .cond_where(app_user_is::<AppIdToUserId>(&a.app, &a.user_id))
                .to_owned()
        })
        .await?
        .one()
        .ok_or(StorageError::UnknownUserId)?;
    let base = base.rec();
    let recipe = RecipeId::parse(&base.text(AppIdToUserId::RecipeId)?)
        .ok_or_else(|| StorageError::query("unknown recipe_id in app_id_to_user_id"))?;
    const ONE: [As; 1] = [As::N];
    let args = args! {
        app: t.app.as_str(),
        tenant: t.tenant.as_str(),
        user_id: user_id,
    };
    let present = q
        .fetch(c, Stmt::fixed("users.in_tenant"), &ONE, args, |a| {
            Query::select()
                .from(q.t(Tbl::AllAuthRecipeUsers))
                .expr_as(Expr::val(1), As::N)
                .cond_where(
                    tenant_is::<AllAuthRecipeUsers>(&a.app, &a.tenant)
                        .add(Expr::col(AllAuthRecipeUsers::UserId).eq(a.user_id.expr())),
                )
                .to_owned()
        })
        .await?
        .one();
    if present.is_some() {
        return Ok(false);
    }
    let primary = base.text(AppIdToUserId::PrimaryOrRecipeUserId)?;
    let row = TenantRow {
        user_id,
        primary: &primary,
        linked: base.bool(AppIdToUserId::IsLinkedOrIsAPrimaryUser)?,
        recipe,
        time_joined: base.int(AppIdToUserId::TimeJoined)?,
        primary_time_joined: base.int(AppIdToUserId::PrimaryOrRecipeUserTimeJoined)?,
    };
    insert_tenant_row(c, q, t, &row).await?;
    let (app, uid) = (&t.app, user_id);
    match recipe {
        RecipeId::EmailPassword => {
            const EP: [EmailpasswordUsers; 1] = [EmailpasswordUsers::Email];
            let row = recipe_row(c, q, Stmt::fixed("users.ep_user"), &EP, app, uid).await?;
            let r = row.rec();
            insert_ep_tenant(c, q, t, user_id, &r.text(EmailpasswordUsers::Email)?).await?;
        }
        RecipeId::ThirdParty => {
            const TP: [ThirdpartyUsers; 2] = [
                ThirdpartyUsers::ThirdPartyId,
                ThirdpartyUsers::ThirdPartyUserId,
            ];
            let row = recipe_row(c, q, Stmt::fixed("users.tp_user"), &TP, app, uid).await?;
            let r = row.rec();
            let tp = ThirdPartyInfo {
                third_party_id: r.text(ThirdpartyUsers::ThirdPartyId)?,
                third_party_user_id: r.text(ThirdpartyUsers::ThirdPartyUserId)?,
            };
            insert_tp_tenant(c, q, t, user_id, &tp).await?;
        }
        RecipeId::Passwordless => {
            const PL: [PasswordlessUsers; 2] =
                [PasswordlessUsers::Email, PasswordlessUsers::PhoneNumber];
            let row = recipe_row(c, q, Stmt::fixed("users.pl_user"), &PL, app, uid).await?;
            let r = row.rec();
            let email = r.opt_text(PasswordlessUsers::Email)?;
            let phone = r.opt_text(PasswordlessUsers::PhoneNumber)?;
            insert_pl_tenant(c, q, t, user_id, email.as_deref(), phone.as_deref()).await?;
        }
    }
    Ok(true)
}

/// The `cols` of the recipe row (table `T`) of a user; `UnknownUserId` if none.
async fn recipe_row<C: Conn, T: AppUserCols>(
    c: &mut C,
    q: Q<'_>,
    stmt: Stmt,
    cols: &'static [T],
    app: &AppId,
    user_id: &str,
) -> Result<crate::stmt::Row1<T>> {
    let args = args! { app: app.as_str(), user_id: user_id };
    q.fetch(c, stmt, cols, args, |a| {
        Query::select()
            .from(q.t(T::TABLE))
            .columns(cols.iter().copied())
            .cond_where(app_user_is::<T>(&a.app, &a.user_id))
            .to_owned()
    })
    .await?
    .one()
    .ok_or(StorageError::UnknownUserId)
}

#[async_trait]
impl<D: Driver> UsersTx for SqlTx<D> {
    async fn get_user(&mut self, app: &AppId, user_id: &str) -> Result<Option<User>> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("get_user", app),
            get_user(c, q, app, user_id),
        )
        .await
    }

    async fn update_email_password_email(
        &mut self,
        app: &AppId,
        user_id: &str,
        email: &str,
    ) -> Result<()> {
        let (c, q) = self.parts();
        let done = update_ep_email(c, q, app, user_id, email);
        traced(D::NAME, Op::app("update_email_password_email", app), done).await
    }

    async fn update_password_hash(
        &mut self,
        app: &AppId,
        user_id: &str,
        hash: &Secret,
    ) -> Result<()> {
        let (c, q) = self.parts();
        let done = update_password(c, q, app, user_id, hash);
        traced(D::NAME, Op::app("update_password_hash", app), done).await
    }

    async fn update_passwordless_contact(
        &mut self,
        app: &AppId,
        user_id: &str,
        email: Option<&str>,
        phone_number: Option<&str>,
    ) -> Result<()> {
        let (c, q) = self.parts();
        let done = update_pl_contact(c, q, app, user_id, email, phone_number);
        traced(D::NAME, Op::app("update_passwordless_contact", app), done).await
    }

    async fn delete_user(&mut self, app: &AppId, user_id: &str) -> Result<bool> {
        let (c, q) = self.parts();
        let done = delete_user(c, q, app, user_id, true);
        traced(D::NAME, Op::app("delete_user", app), done).await
    }
}
