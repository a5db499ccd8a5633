//! Email-password, third-party and passwordless users: sign-up, lookups, listing,
//! counting, updates, tenant membership, deletion (contract 5.2).

use crate::SqlStorage;
use crate::conn::{Conn, DbError, Driver};
use crate::q::{Q, app_user_cond, col, in_tx, no_tenant, tenant_cond, tenant_cond_v, v, with_conn};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Alias, Cond, Expr, ExprTrait, JoinType, Order, Query, Value as V};
use std::collections::BTreeMap;
use storage_api::validate;
use storage_api::*;

fn a(name: &'static str) -> Alias {
    Alias::new(name)
}

/// Loads the users owning the given recipe user ids, with every login method, sorted
/// by (time joined, id).
async fn load_users<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    ids: &[String],
) -> Result<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let join = |t: &'static str| {
        Cond::all()
            .add(Expr::col((a(t), col("app_id"))).equals((a("a"), col("app_id"))))
            .add(Expr::col((a(t), col("user_id"))).equals((a("a"), col("user_id"))))
    };
    // Arguments: the app, then the ids.
    let mut args = Vec::with_capacity(ids.len() + 1);
    args.push(v(app.as_str()));
    args.extend(ids.iter().map(|i| v(i.as_str())));
    let rows = q
        .fetch_t(c, "load_users", ids.len() as u64, args, |p| {
            Query::select()
                .from_as(q.t("app_id_to_user_id"), a("a"))
                .columns([
                    (a("a"), col("user_id")),
                    (a("a"), col("recipe_id")),
                    (a("a"), col("primary_or_recipe_user_id")),
                    (a("a"), col("is_linked_or_is_a_primary_user")),
                    (a("a"), col("time_joined")),
                    (a("ep"), col("email")),
                    (a("ep"), col("password_hash")),
                    (a("tp"), col("third_party_id")),
                    (a("tp"), col("third_party_user_id")),
                    (a("tp"), col("email")),
                    (a("pl"), col("email")),
                    (a("pl"), col("phone_number")),
                ])
                .join_as(
                    JoinType::LeftJoin,
                    q.t("emailpassword_users"),
                    a("ep"),
                    join("ep"),
                )
                .join_as(
                    JoinType::LeftJoin,
                    q.t("thirdparty_users"),
                    a("tp"),
                    join("tp"),
                )
                .join_as(
                    JoinType::LeftJoin,
                    q.t("passwordless_users"),
                    a("pl"),
                    join("pl"),
                )
                .and_where(Expr::col((a("a"), col("app_id"))).eq(p[0].clone()))
                .and_where(
                    Expr::col((a("a"), col("primary_or_recipe_user_id"))).in_subquery(
                        Query::select()
                            .from(q.t("app_id_to_user_id"))
                            .column(col("primary_or_recipe_user_id"))
                            .and_where(Expr::col(col("app_id")).eq(p[0].clone()))
                            .and_where(Expr::col(col("user_id")).is_in(p[1..].iter().cloned()))
                            .to_owned(),
                    ),
                )
                .to_owned()
        })
        .await?;
    let mut methods: Vec<(String, bool, LoginMethod)> = Vec::with_capacity(rows.len());
    for r in rows {
        let recipe = RecipeId::parse(&r.text(1)?)
            .ok_or_else(|| StorageError::query("unknown recipe_id in app_id_to_user_id"))?;
        let mut m = LoginMethod {
            recipe_id: recipe,
            recipe_user_id: r.text(0)?,
            email: None,
            phone_number: None,
            third_party: None,
            password_hash: None,
            time_joined: r.int(4)?,
            tenant_ids: Vec::new(),
            verified: false,
        };
        match recipe {
            RecipeId::EmailPassword => {
                m.email = r.opt_text(5)?;
                m.password_hash = r.opt_text(6)?.map(Secret::new);
            }
            RecipeId::ThirdParty => {
                if let (Some(id), Some(uid)) = (r.opt_text(7)?, r.opt_text(8)?) {
                    m.third_party = Some(ThirdPartyInfo {
                        third_party_id: id,
                        third_party_user_id: uid,
                    });
                }
                m.email = r.opt_text(9)?;
            }
            RecipeId::Passwordless => {
                m.email = r.opt_text(10)?;
                m.phone_number = r.opt_text(11)?;
            }
        }
        methods.push((r.text(2)?, r.bool(3)?, m));
    }
    if methods.is_empty() {
        return Ok(Vec::new());
    }
    let recipe_ids: Vec<&str> = methods
        .iter()
        .map(|(_, _, m)| m.recipe_user_id.as_str())
        .collect();
    let mut args = Vec::with_capacity(recipe_ids.len() + 1);
    args.push(v(app.as_str()));
    args.extend(recipe_ids.iter().map(|i| v(*i)));
    let n = recipe_ids.len() as u64;
    let tenants = q
        .fetch_t(c, "load_users_tenants", n, args.clone(), |p| {
            Query::select()
                .from(q.t("all_auth_recipe_users"))
                .columns([col("user_id"), col("tenant_id")])
                .and_where(Expr::col(col("app_id")).eq(p[0].clone()))
                .and_where(Expr::col(col("user_id")).is_in(p[1..].iter().cloned()))
                .order_by(col("tenant_id"), Order::Asc)
                .to_owned()
        })
        .await?;
    let verified = q
        .fetch_t(c, "load_users_verified", n, args, |p| {
            Query::select()
                .from(q.t("emailverification_verified_emails"))
                .columns([col("user_id"), col("email")])
                .and_where(Expr::col(col("app_id")).eq(p[0].clone()))
                .and_where(Expr::col(col("user_id")).is_in(p[1..].iter().cloned()))
                .to_owned()
        })
        .await?;
    let mut tenant_map: BTreeMap<String, Vec<TenantId>> = BTreeMap::new();
    for r in tenants {
        tenant_map
            .entry(r.text(0)?)
            .or_default()
            .push(TenantId::new(&r.text(1)?)?);
    }
    let mut verified_set = std::collections::HashSet::new();
    for r in verified {
        verified_set.insert((r.text(0)?, r.text(1)?));
    }
    let mut users: BTreeMap<String, User> = BTreeMap::new();
    for (primary, linked, mut m) in methods {
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
        if m.recipe_user_id == primary && linked {
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
    let args = vec![
        v(t.app.as_str()),
        v(u.user_id),
        v(u.recipe.as_str()),
        v(u.time_joined),
    ];
    q.exec_t(c, "insert_app_user", 0, args, |a| {
        Query::insert()
            .into_table(q.t("app_id_to_user_id"))
            .columns([
                col("app_id"),
                col("user_id"),
                col("recipe_id"),
                col("primary_or_recipe_user_id"),
                col("is_linked_or_is_a_primary_user"),
                col("time_joined"),
                col("primary_or_recipe_user_time_joined"),
            ])
            .values_panic([
                a[0].clone().into(),
                a[1].clone().into(),
                a[2].clone().into(),
                a[1].clone().into(),
                false.into(),
                a[3].clone().into(),
                a[3].clone().into(),
            ])
            .to_owned()
    })
    .await
    .map_err(|e| match e {
        DbError::Unique { .. } => StorageError::DuplicateUserId,
        DbError::ForeignKey => no_tenant(t),
        e => e.into_storage(),
    })?;
    insert_tenant_row(
        c,
        q,
        t,
        u.user_id,
        u.user_id,
        false,
        u.recipe,
        u.time_joined,
        u.time_joined,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn insert_tenant_row<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    user_id: &str,
    primary: &str,
    linked: bool,
    recipe: RecipeId,
    time_joined: i64,
    primary_time_joined: i64,
) -> Result<()> {
    let args = vec![
        v(t.app.as_str()),
        v(t.tenant.as_str()),
        v(user_id),
        v(primary),
        v(linked),
        v(recipe.as_str()),
        v(time_joined),
        v(primary_time_joined),
    ];
    q.exec_t(c, "insert_tenant_user", 0, args, |a| {
        Query::insert()
            .into_table(q.t("all_auth_recipe_users"))
            .columns([
                col("app_id"),
                col("tenant_id"),
                col("user_id"),
                col("primary_or_recipe_user_id"),
                col("is_linked_or_is_a_primary_user"),
                col("recipe_id"),
                col("time_joined"),
                col("primary_or_recipe_user_time_joined"),
            ])
            .values_panic(a.iter().cloned().map(Into::into))
            .to_owned()
    })
    .await
    .map_err(|e| match e {
        // Already in the tenant: a concurrent add won; retrying sees it.
        DbError::Unique { .. } => StorageError::Retryable {
            message: "user was added to the tenant concurrently".into(),
            source: None,
        },
        DbError::ForeignKey => no_tenant(t),
        e => e.into_storage(),
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
    let args = vec![
        v(t.app.as_str()),
        v(t.tenant.as_str()),
        v(user_id),
        v(email),
    ];
    q.exec_t(c, "insert_ep_tenant", 0, args, |a| {
        Query::insert()
            .into_table(q.t("emailpassword_user_to_tenant"))
            .columns([
                col("app_id"),
                col("tenant_id"),
                col("user_id"),
                col("email"),
            ])
            .values_panic(a.iter().cloned().map(Into::into))
            .to_owned()
    })
    .await
    .map_err(|e| match e {
        DbError::Unique { .. } => StorageError::DuplicateEmail,
        DbError::ForeignKey => no_tenant(t),
        e => e.into_storage(),
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
    q.exec(
        c,
        Query::insert()
            .into_table(q.t("thirdparty_user_to_tenant"))
            .columns([
                col("app_id"),
                col("tenant_id"),
                col("user_id"),
                col("third_party_id"),
                col("third_party_user_id"),
            ])
            .values_panic([
                t.app.as_str().into(),
                t.tenant.as_str().into(),
                user_id.into(),
                tp.third_party_id.as_str().into(),
                tp.third_party_user_id.as_str().into(),
            ]),
    )
    .await
    .map_err(|e| match e {
        DbError::Unique { .. } => StorageError::DuplicateThirdPartyUser,
        DbError::ForeignKey => no_tenant(t),
        e => e.into_storage(),
    })?;
    Ok(())
}

fn pl_dup(key: &crate::conn::UniqueKey) -> StorageError {
    if *key == crate::conn::UniqueKey::PhoneNumber {
        StorageError::DuplicatePhoneNumber
    } else {
        StorageError::DuplicateEmail
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
    q.exec(
        c,
        Query::insert()
            .into_table(q.t("passwordless_user_to_tenant"))
            .columns([
                col("app_id"),
                col("tenant_id"),
                col("user_id"),
                col("email"),
                col("phone_number"),
            ])
            .values_panic([
                t.app.as_str().into(),
                t.tenant.as_str().into(),
                user_id.into(),
                email.map(str::to_owned).into(),
                phone.map(str::to_owned).into(),
            ]),
    )
    .await
    .map_err(|e| match e {
        DbError::Unique { key } => pl_dup(&key),
        DbError::ForeignKey => no_tenant(t),
        e => e.into_storage(),
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

async fn ids_of<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    stmt: &sea_query::SelectStatement,
) -> Result<Vec<String>> {
    q.fetch(c, stmt).await?.iter().map(|r| r.text(0)).collect()
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

async fn update_checked<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    stmt: &sea_query::UpdateStatement,
) -> Result<()> {
    if q.run(c, stmt).await? == 0 {
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
    validate::uuid("user_id", user_id)?;
    check_email(email)?;
    update_checked(
        c,
        q,
        Query::update()
            .table(q.t("emailpassword_users"))
            .value(col("email"), email)
            .cond_where(app_user_cond(app, user_id)),
    )
    .await?;
    q.exec(
        c,
        Query::update()
            .table(q.t("emailpassword_user_to_tenant"))
            .value(col("email"), email)
            .cond_where(app_user_cond(app, user_id)),
    )
    .await
    .map_err(|e| match e {
        DbError::Unique { .. } => StorageError::DuplicateEmail,
        e => e.into_storage(),
    })?;
    Ok(())
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
    update_checked(
        c,
        q,
        Query::update()
            .table(q.t("emailpassword_users"))
            .value(col("password_hash"), hash.expose())
            .cond_where(app_user_cond(app, user_id)),
    )
    .await
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
    let values = || {
        [
            (col("email"), email.map(str::to_owned).into()),
            (col("phone_number"), phone.map(str::to_owned).into()),
        ]
    };
    update_checked(
        c,
        q,
        Query::update()
            .table(q.t("passwordless_users"))
            .values(values())
            .cond_where(app_user_cond(app, user_id)),
    )
    .await?;
    q.exec(
        c,
        Query::update()
            .table(q.t("passwordless_user_to_tenant"))
            .values(values())
            .cond_where(app_user_cond(app, user_id)),
    )
    .await
    .map_err(|e| match e {
        DbError::Unique { key } => pl_dup(&key),
        e => e.into_storage(),
    })?;
    Ok(())
}

pub(crate) async fn delete_user<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
) -> Result<bool> {
    validate::uuid("user_id", user_id)?;
    // Passwordless devices are keyed by contact, not by user: remove the user's.
    let contact = q
        .fetch_opt(
            c,
            Query::select()
                .from(q.t("passwordless_users"))
                .columns([col("email"), col("phone_number")])
                .cond_where(app_user_cond(app, user_id)),
        )
        .await?;
    if let Some(r) = contact {
        for (column, v) in [("email", r.opt_text(0)?), ("phone_number", r.opt_text(1)?)] {
            if let Some(v) = v {
                q.run(
                    c,
                    Query::delete()
                        .from_table(q.t("passwordless_devices"))
                        .and_where(Expr::col(col("app_id")).eq(app.as_str()))
                        .and_where(Expr::col(col(column)).eq(v))
                        .and_where(
                            Expr::col(col("tenant_id")).in_subquery(
                                Query::select()
                                    .from(q.t("all_auth_recipe_users"))
                                    .column(col("tenant_id"))
                                    .cond_where(app_user_cond(app, user_id))
                                    .to_owned(),
                            ),
                        ),
                )
                .await?;
            }
        }
    }
    for table in [
        "session_info",
        "emailverification_tokens",
        "emailverification_verified_emails",
    ] {
        q.run(
            c,
            Query::delete()
                .from_table(q.t(table))
                .cond_where(app_user_cond(app, user_id)),
        )
        .await?;
    }
    // Cascades to all_auth_recipe_users, the recipe tables, the *_user_to_tenant
    // tables and password-reset tokens.
    let n = q
        .run(
            c,
            Query::delete()
                .from_table(q.t("app_id_to_user_id"))
                .cond_where(app_user_cond(app, user_id)),
        )
        .await?;
    Ok(n > 0)
}

fn recipe_cond(recipes: &[RecipeId]) -> Option<sea_query::Expr> {
    if recipes.is_empty() {
        None
    } else {
        Some(Expr::col(col("recipe_id")).is_in(recipes.iter().map(|r| r.as_str())))
    }
}

#[async_trait]
impl<D: Driver> Users for SqlStorage<D> {
    async fn sign_up_email_password(&self, i: &EmailPasswordSignUp) -> Result<User> {
        validate::uuid("user_id", &i.user_id)?;
        check_email(&i.email)?;
        validate::text("password_hash", i.password_hash.expose(), 256)?;
        validate::time("time_joined", i.time_joined)?;
        let u = NewUser {
            tenant: &i.tenant,
            user_id: &i.user_id,
            recipe: RecipeId::EmailPassword,
            time_joined: i.time_joined,
        };
        in_tx!(self, |c, q| {
            insert_base(c, q, &u).await?;
            let args = vec![
                v(i.tenant.app.as_str()),
                v(i.user_id.as_str()),
                v(i.email.as_str()),
                v(i.password_hash.expose()),
                v(i.time_joined),
            ];
            q.run_t(c, "insert_ep_user", 0, args, |a| {
                Query::insert()
                    .into_table(q.t("emailpassword_users"))
                    .columns([
                        col("app_id"),
                        col("user_id"),
                        col("email"),
                        col("password_hash"),
                        col("time_joined"),
                    ])
                    .values_panic(a.iter().cloned().map(Into::into))
                    .to_owned()
            })
            .await?;
            insert_ep_tenant(c, q, &i.tenant, &i.user_id, &i.email).await
        })?;
        Ok(new_user(
            &i.tenant,
            &i.user_id,
            i.time_joined,
            LoginMethod {
                recipe_id: RecipeId::EmailPassword,
                recipe_user_id: i.user_id.clone(),
                email: Some(i.email.clone()),
                phone_number: None,
                third_party: None,
                password_hash: Some(i.password_hash.clone()),
                time_joined: i.time_joined,
                tenant_ids: Vec::new(),
                verified: false,
            },
        ))
    }

    async fn sign_up_third_party(&self, i: &ThirdPartySignUp) -> Result<User> {
        validate::uuid("user_id", &i.user_id)?;
        check_email(&i.email)?;
        check_tp(&i.third_party)?;
        validate::time("time_joined", i.time_joined)?;
        let u = NewUser {
            tenant: &i.tenant,
            user_id: &i.user_id,
            recipe: RecipeId::ThirdParty,
            time_joined: i.time_joined,
        };
        in_tx!(self, |c, q| {
            insert_base(c, q, &u).await?;
            q.run(
                c,
                Query::insert()
                    .into_table(q.t("thirdparty_users"))
                    .columns([
                        col("app_id"),
                        col("third_party_id"),
                        col("third_party_user_id"),
                        col("user_id"),
                        col("email"),
                        col("time_joined"),
                    ])
                    .values_panic([
                        i.tenant.app.as_str().into(),
                        i.third_party.third_party_id.as_str().into(),
                        i.third_party.third_party_user_id.as_str().into(),
                        i.user_id.as_str().into(),
                        i.email.as_str().into(),
                        i.time_joined.into(),
                    ]),
            )
            .await?;
            insert_tp_tenant(c, q, &i.tenant, &i.user_id, &i.third_party).await
        })?;
        Ok(new_user(
            &i.tenant,
            &i.user_id,
            i.time_joined,
            LoginMethod {
                recipe_id: RecipeId::ThirdParty,
                recipe_user_id: i.user_id.clone(),
                email: Some(i.email.clone()),
                phone_number: None,
                third_party: Some(i.third_party.clone()),
                password_hash: None,
                time_joined: i.time_joined,
                tenant_ids: Vec::new(),
                verified: false,
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
        let u = NewUser {
            tenant: &i.tenant,
            user_id: &i.user_id,
            recipe: RecipeId::Passwordless,
            time_joined: i.time_joined,
        };
        in_tx!(self, |c, q| {
            insert_base(c, q, &u).await?;
            q.run(
                c,
                Query::insert()
                    .into_table(q.t("passwordless_users"))
                    .columns([
                        col("app_id"),
                        col("user_id"),
                        col("email"),
                        col("phone_number"),
                        col("time_joined"),
                    ])
                    .values_panic([
                        i.tenant.app.as_str().into(),
                        i.user_id.as_str().into(),
                        i.email.clone().into(),
                        i.phone_number.clone().into(),
                        i.time_joined.into(),
                    ]),
            )
            .await?;
            insert_pl_tenant(
                c,
                q,
                &i.tenant,
                &i.user_id,
                i.email.as_deref(),
                i.phone_number.as_deref(),
            )
            .await
        })?;
        Ok(new_user(
            &i.tenant,
            &i.user_id,
            i.time_joined,
            LoginMethod {
                recipe_id: RecipeId::Passwordless,
                recipe_user_id: i.user_id.clone(),
                email: i.email.clone(),
                phone_number: i.phone_number.clone(),
                third_party: None,
                password_hash: None,
                time_joined: i.time_joined,
                tenant_ids: Vec::new(),
                verified: false,
            },
        ))
    }

    async fn get_user(&self, app: &AppId, user_id: &str) -> Result<Option<User>> {
        with_conn!(read self, |c, q| get_user(c, q, app, user_id).await)
    }

    async fn list_users_by_email(&self, t: &TenantIdentifier, email: &str) -> Result<Vec<User>> {
        check_email(email)?;
        // Arguments of the three look-ups: app, tenant, email.
        let args = vec![v(t.app.as_str()), v(t.tenant.as_str()), v(email)];
        with_conn!(read self, |c, q| {
            let mut ids = Vec::new();
            for (key, table) in [
                ("ids_by_email_ep", "emailpassword_user_to_tenant"),
                ("ids_by_email_pl", "passwordless_user_to_tenant"),
            ] {
                let rows = q
                    .fetch_t(c, key, 0, args.clone(), |a| {
                        Query::select()
                            .from(q.t(table))
                            .column(col("user_id"))
                            .cond_where(
                                tenant_cond_v(a).add(Expr::col(col("email")).eq(a[2].clone())),
                            )
                            .to_owned()
                    })
                    .await?;
                for r in rows {
                    ids.push(r.text(0)?);
                }
            }
            let rows = q
                .fetch_t(c, "ids_by_email_tp", 0, args.clone(), |a| {
                    Query::select()
                        .from(q.t("thirdparty_users"))
                        .column(col("user_id"))
                        .and_where(Expr::col(col("app_id")).eq(a[0].clone()))
                        .and_where(Expr::col(col("email")).eq(a[2].clone()))
                        .and_where(
                            Expr::col(col("user_id")).in_subquery(
                                Query::select()
                                    .from(q.t("thirdparty_user_to_tenant"))
                                    .column(col("user_id"))
                                    .cond_where(tenant_cond_v(a))
                                    .to_owned(),
                            ),
                        )
                        .to_owned()
                })
                .await?;
            for r in rows {
                ids.push(r.text(0)?);
            }
            load_users(c, q, &t.app, &ids).await
        })
    }

    async fn list_users_by_phone(&self, t: &TenantIdentifier, phone: &str) -> Result<Vec<User>> {
        validate::text("phone_number", phone, 256)?;
        with_conn!(read self, |c, q| {
            let ids = ids_of(
                c,
                q,
                Query::select()
                    .from(q.t("passwordless_user_to_tenant"))
                    .column(col("user_id"))
                    .cond_where(tenant_cond(t).add(Expr::col(col("phone_number")).eq(phone))),
            )
            .await?;
            load_users(c, q, &t.app, &ids).await
        })
    }

    async fn list_users_by_third_party(
        &self,
        app: &AppId,
        tp: &ThirdPartyInfo,
    ) -> Result<Vec<User>> {
        check_tp(tp)?;
        with_conn!(read self, |c, q| {
            let ids = ids_of(
                c,
                q,
                Query::select()
                    .from(q.t("thirdparty_users"))
                    .column(col("user_id"))
                    .and_where(Expr::col(col("app_id")).eq(app.as_str()))
                    .and_where(Expr::col(col("third_party_id")).eq(tp.third_party_id.as_str()))
                    .and_where(
                        Expr::col(col("third_party_user_id")).eq(tp.third_party_user_id.as_str()),
                    ),
            )
            .await?;
            load_users(c, q, app, &ids).await
        })
    }

    async fn list_users(&self, r: &ListUsers) -> Result<UserPage> {
        if r.limit == 0 || r.limit > 1000 {
            return Err(StorageError::invalid("limit", "must be between 1 and 1000"));
        }
        let t = &r.tenant;
        let (order, cmp_after): (Order, fn(Expr, V) -> Expr) = match r.order {
            TimeJoinedOrder::Asc => (Order::Asc, |e, v| e.gt(v)),
            TimeJoinedOrder::Desc => (Order::Desc, |e, v| e.lt(v)),
        };
        // Arguments: app, tenant, [time joined and id after], recipes.
        let mut args = vec![v(t.app.as_str()), v(t.tenant.as_str())];
        if let Some(after) = &r.after {
            args.extend([v(after.time_joined), v(after.user_id.as_str())]);
        }
        let recipes_at = args.len();
        args.extend(r.recipes.iter().map(|x| v(x.as_str())));
        let shape = u64::from(r.order == TimeJoinedOrder::Desc)
            | (u64::from(r.after.is_some()) << 1)
            | ((r.recipes.len() as u64) << 2)
            | (u64::from(r.limit) << 16);
        let build = |a: &[V]| {
            let mut s = Query::select();
            s.distinct()
                .from(q_table(self, "all_auth_recipe_users"))
                .columns([
                    col("primary_or_recipe_user_id"),
                    col("primary_or_recipe_user_time_joined"),
                ])
                .cond_where(tenant_cond_v(a));
            if !r.recipes.is_empty() {
                s.and_where(Expr::col(col("recipe_id")).is_in(a[recipes_at..].iter().cloned()));
            }
            if r.after.is_some() {
                let tj = || Expr::col(col("primary_or_recipe_user_time_joined"));
                let id = Expr::col(col("primary_or_recipe_user_id"));
                let (id_after, bound) = match r.order {
                    TimeJoinedOrder::Asc => (id.gt(a[3].clone()), tj().gte(a[2].clone())),
                    TimeJoinedOrder::Desc => (id.lt(a[3].clone()), tj().lte(a[2].clone())),
                };
                // Implied by the keyset condition below, but unlike it a plain range
                // on the index's first ordered column: the scan starts at the page
                // instead of filtering every row before it.
                s.and_where(bound);
                s.cond_where(
                    Cond::any()
                        .add(cmp_after(tj(), a[2].clone()))
                        .add(Cond::all().add(tj().eq(a[2].clone())).add(id_after)),
                );
            }
            s.order_by(col("primary_or_recipe_user_time_joined"), order.clone())
                .order_by(col("primary_or_recipe_user_id"), order.clone())
                .limit(r.limit as u64 + 1);
            s
        };
        with_conn!(self, |c, q| {
            let rows = q.fetch_t(c, "list_users", shape, args, build).await?;
            let more = rows.len() > r.limit as usize;
            let mut page: Vec<(String, i64)> = Vec::with_capacity(rows.len());
            for row in rows.iter().take(r.limit as usize) {
                page.push((row.text(0)?, row.int(1)?));
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
    }

    async fn count_users(&self, scope: &UserScope, recipes: &[RecipeId]) -> Result<u64> {
        let (table, cond) = match scope {
            UserScope::App(a) => (
                "app_id_to_user_id",
                Cond::all().add(Expr::col(col("app_id")).eq(a.as_str())),
            ),
            UserScope::Tenant(t) => ("all_auth_recipe_users", tenant_cond(t)),
        };
        let mut s = Query::select();
        s.from(q_table(self, table))
            .expr(Expr::cust("COUNT(DISTINCT primary_or_recipe_user_id)"))
            .cond_where(cond);
        if let Some(rc) = recipe_cond(recipes) {
            s.and_where(rc);
        }
        with_conn!(self, |c, q| {
            let r = q.fetch_opt(c, &s).await?;
            Ok(r.map(|r| r.int(0)).transpose()?.unwrap_or(0) as u64)
        })
    }

    async fn user_exists(&self, scope: &UserScope, user_id: &str) -> Result<bool> {
        validate::uuid("user_id", user_id)?;
        let (table, cond) = match scope {
            UserScope::App(a) => ("app_id_to_user_id", app_user_cond(a, user_id)),
            UserScope::Tenant(t) => (
                "all_auth_recipe_users",
                tenant_cond(t).add(Expr::col(col("user_id")).eq(user_id)),
            ),
        };
        with_conn!(read self, |c, q| Ok(q
            .fetch_opt(
                c,
                Query::select()
                    .from(q.t(table))
                    .expr(Expr::val(1))
                    .cond_where(cond.clone())
                    .limit(1)
            )
            .await?
            .is_some()))
    }

    async fn update_email_password_email(
        &self,
        app: &AppId,
        user_id: &str,
        email: &str,
    ) -> Result<()> {
        in_tx!(self, |c, q| update_ep_email(c, q, app, user_id, email)
            .await)
    }

    async fn update_password_hash(&self, app: &AppId, user_id: &str, hash: &Secret) -> Result<()> {
        with_conn!(self, |c, q| update_password(c, q, app, user_id, hash).await)
    }

    async fn update_passwordless_contact(
        &self,
        app: &AppId,
        user_id: &str,
        email: Option<&str>,
        phone_number: Option<&str>,
    ) -> Result<()> {
        in_tx!(self, |c, q| update_pl_contact(
            c,
            q,
            app,
            user_id,
            email,
            phone_number
        )
        .await)
    }

    async fn add_user_to_tenant(&self, t: &TenantIdentifier, user_id: &str) -> Result<bool> {
        validate::uuid("user_id", user_id)?;
        in_tx!(self, |c, q| {
            let base = q
                .fetch_opt(
                    c,
                    Query::select()
                        .from(q.t("app_id_to_user_id"))
                        .columns([
                            col("recipe_id"),
                            col("primary_or_recipe_user_id"),
                            col("is_linked_or_is_a_primary_user"),
                            col("time_joined"),
                            col("primary_or_recipe_user_time_joined"),
                        ])
                        .cond_where(app_user_cond(&t.app, user_id)),
                )
                .await?
                .ok_or(StorageError::UnknownUserId)?;
            let recipe = RecipeId::parse(&base.text(0)?)
                .ok_or_else(|| StorageError::query("unknown recipe_id in app_id_to_user_id"))?;
            let present = q
                .fetch_opt(
                    c,
                    Query::select()
                        .from(q.t("all_auth_recipe_users"))
                        .expr(Expr::val(1))
                        .cond_where(tenant_cond(t).add(Expr::col(col("user_id")).eq(user_id))),
                )
                .await?;
            if present.is_some() {
                return Ok(false);
            }
            insert_tenant_row(
                c,
                q,
                t,
                user_id,
                &base.text(1)?,
                base.bool(2)?,
                recipe,
                base.int(3)?,
                base.int(4)?,
            )
            .await?;
            match recipe {
                RecipeId::EmailPassword => {
                    let r = q
                        .fetch_opt(
                            c,
                            Query::select()
                                .from(q.t("emailpassword_users"))
                                .column(col("email"))
                                .cond_where(app_user_cond(&t.app, user_id)),
                        )
                        .await?
                        .ok_or(StorageError::UnknownUserId)?;
                    insert_ep_tenant(c, q, t, user_id, &r.text(0)?).await?;
                }
                RecipeId::ThirdParty => {
                    let r = q
                        .fetch_opt(
                            c,
                            Query::select()
                                .from(q.t("thirdparty_users"))
                                .columns([col("third_party_id"), col("third_party_user_id")])
                                .cond_where(app_user_cond(&t.app, user_id)),
                        )
                        .await?
                        .ok_or(StorageError::UnknownUserId)?;
                    let tp = ThirdPartyInfo {
                        third_party_id: r.text(0)?,
                        third_party_user_id: r.text(1)?,
                    };
                    insert_tp_tenant(c, q, t, user_id, &tp).await?;
                }
                RecipeId::Passwordless => {
                    let r = q
                        .fetch_opt(
                            c,
                            Query::select()
                                .from(q.t("passwordless_users"))
                                .columns([col("email"), col("phone_number")])
                                .cond_where(app_user_cond(&t.app, user_id)),
                        )
                        .await?
                        .ok_or(StorageError::UnknownUserId)?;
                    insert_pl_tenant(
                        c,
                        q,
                        t,
                        user_id,
                        r.opt_text(0)?.as_deref(),
                        r.opt_text(1)?.as_deref(),
                    )
                    .await?;
                }
            }
            Ok(true)
        })
    }

    async fn remove_user_from_tenant(&self, t: &TenantIdentifier, user_id: &str) -> Result<bool> {
        validate::uuid("user_id", user_id)?;
        with_conn!(self, |c, q| Ok(q
            .run(
                c,
                Query::delete()
                    .from_table(q.t("all_auth_recipe_users"))
                    .cond_where(tenant_cond(t).add(Expr::col(col("user_id")).eq(user_id))),
            )
            .await?
            > 0))
    }

    async fn delete_user(&self, app: &AppId, user_id: &str) -> Result<bool> {
        in_tx!(self, |c, q| delete_user(c, q, app, user_id).await)
    }
}

fn q_table<D: Driver>(s: &SqlStorage<D>, base: &str) -> Alias {
    Alias::new(format!("{}{}", s.driver.table_prefix(), base))
}

#[async_trait]
impl<D: Driver> UsersTx for SqlTx<D> {
    async fn get_user(&mut self, app: &AppId, user_id: &str) -> Result<Option<User>> {
        let (c, q) = self.parts();
        get_user(c, q, app, user_id).await
    }

    async fn update_email_password_email(
        &mut self,
        app: &AppId,
        user_id: &str,
        email: &str,
    ) -> Result<()> {
        let (c, q) = self.parts();
        update_ep_email(c, q, app, user_id, email).await
    }

    async fn update_password_hash(
        &mut self,
        app: &AppId,
        user_id: &str,
        hash: &Secret,
    ) -> Result<()> {
        let (c, q) = self.parts();
        update_password(c, q, app, user_id, hash).await
    }

    async fn update_passwordless_contact(
        &mut self,
        app: &AppId,
        user_id: &str,
        email: Option<&str>,
        phone_number: Option<&str>,
    ) -> Result<()> {
        let (c, q) = self.parts();
        update_pl_contact(c, q, app, user_id, email, phone_number).await
    }

    async fn delete_user(&mut self, app: &AppId, user_id: &str) -> Result<bool> {
        let (c, q) = self.parts();
        delete_user(c, q, app, user_id).await
    }
}
