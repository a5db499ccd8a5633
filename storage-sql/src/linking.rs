//! Account linking (contract-phase2 A.3): groups of login methods under a primary
//! user, and the invariant of A.2 enforced inside the storage.
//!
//! **Mechanism: row locks, then named locks in one global order.** Every operation
//! that can break the invariant (make primary, link, adding a linked login method to
//! a tenant, changing the email or phone of a linked login method) runs in one READ
//! COMMITTED transaction that
//! 1. takes the named lock of each group involved (`group/<primary id>`, per app,
//!    sorted), re-reading the users afterwards, so that no group changes under it
//!    (every operation that changes a group's rows holds its lock);
//! 2. takes one named lock per identity of the resulting group (`e/<email>`,
//!    `p/<phone>`, `t/<provider>/<id>`, per app), in lexicographic order of the
//!    names, so two operations on a shared identity serialise and never deadlock on
//!    each other;
//! 3. checks, with fresh statements (each sees what committed before its lock was
//!    granted), that no other primary user sharing a tenant holds one of those
//!    identities, and only then writes.
//!
//! Two operations that could together produce two primary users sharing an identity
//! both hold that identity's named lock while they check and write, so the second
//! sees the first's committed rows: the conflict is a typed
//! `AccountInfoAlreadyUsedByAnotherPrimaryUser`, never a `Retryable`.

use crate::SqlStorage;
use crate::conn::{Conn, Driver};
use crate::run::{Op, Stale, Via, named_lock, traced};
use crate::schema::{AllAuthRecipeUsers, AppIdToUserId, As, LinkCols, Tbl};
use crate::stmt::{Meaning, Q, Stmt, app_user_is, args, locked};
use crate::tx::SqlTx;
use crate::users::{
    delete_login_method, delete_user, get_user, ids_by_email, ids_by_phone, ids_by_third_party,
    load_users,
};
use async_trait::async_trait;
use sea_query::{Expr, ExprTrait, Query};
use std::collections::BTreeSet;
use storage_api::validate;
use storage_api::*;

/// The linking columns of a user's `app_id_to_user_id` row.
const BASE: [AppIdToUserId; 3] = [
    AppIdToUserId::PrimaryOrRecipeUserId,
    AppIdToUserId::IsLinkedOrIsAPrimaryUser,
    AppIdToUserId::TimeJoined,
];

/// A user's linking state.
struct Base {
    primary: String,
    linked: bool,
}

/// Reads (and, when `lock`, locks) the `app_id_to_user_id` row of a user.
async fn base_of<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    lock: bool,
) -> Result<Option<Base>> {
    let stmt = Stmt::locking("linking.base", lock);
    let args = args! { app: app.as_str(), user_id: user_id };
    let row = q
        .fetch(c, stmt, &BASE, args, |a| {
            let mut s = Query::select();
            s.from(q.t(Tbl::AppIdToUserId))
                .columns(BASE)
                .cond_where(app_user_is::<AppIdToUserId>(&a.app, &a.user_id));
            locked(s, lock)
        })
        .await?
        .one();
    row.map(|r| {
        let r = r.rec();
        Ok(Base {
            primary: r.text(AppIdToUserId::PrimaryOrRecipeUserId)?,
            linked: r.bool(AppIdToUserId::IsLinkedOrIsAPrimaryUser)?,
        })
    })
    .transpose()
}

/// The name of the named lock of the group whose primary user id is `primary`.
fn group_lock(app: &AppId, primary: &str) -> String {
    format!("group/{app}/{primary}")
}

/// Locks the groups of the users `ids`: reads their linking states, takes the named
/// lock of each group (sorted by name: the first phase of the global order), and
/// reads the states again. A user whose group changed between the two reads makes the
/// transaction `Retryable` (it runs again with the new group; rare). Their linking
/// states, sorted by id (`UnknownUserId` if one is missing).
async fn lock_users<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    ids: &[&str],
) -> Result<Vec<(String, Base)>> {
    let sorted: BTreeSet<&str> = ids.iter().copied().collect();
    let mut names = BTreeSet::new();
    let mut seen = Vec::with_capacity(sorted.len());
    for id in &sorted {
        let base = base_of(c, q, app, id, false)
            .await?
            .ok_or(StorageError::UnknownUserId)?;
        names.insert(group_lock(app, &base.primary));
        seen.push(base.primary);
    }
    for name in names {
        named_lock(c, &name).await?;
    }
    let mut out = Vec::with_capacity(sorted.len());
    for (id, primary) in sorted.into_iter().zip(seen) {
        let base = base_of(c, q, app, id, false)
            .await?
            .ok_or(StorageError::UnknownUserId)?;
        if base.primary != primary {
            return Err(StorageError::Retryable {
                message: "the user's group changed while it was being locked".into(),
                source: None,
            });
        }
        out.push((id.to_owned(), base));
    }
    Ok(out)
}

/// Locks every `app_id_to_user_id` row of the group of `primary`.
async fn lock_group<C: Conn>(c: &mut C, q: Q<'_>, app: &AppId, primary: &str) -> Result<()> {
    const ID: [AppIdToUserId; 1] = [AppIdToUserId::UserId];
    let args = args! { app: app.as_str(), primary: primary };
    q.fetch(
        c,
        Stmt::locking("linking.lock_group", true),
        &ID,
        args,
        |a| {
            let mut s = Query::select();
            s.from(q.t(Tbl::AppIdToUserId))
                .columns(ID)
                .and_where(Expr::col(AppIdToUserId::AppId).eq(a.app.expr()))
                .and_where(Expr::col(AppIdToUserId::PrimaryOrRecipeUserId).eq(a.primary.expr()))
                .order_by(AppIdToUserId::UserId, sea_query::Order::Asc);
            locked(s, true)
        },
    )
    .await?;
    Ok(())
}

/// Locks the group of `user_id` (its named lock, then its rows), and reads the
/// group; none if the user does not exist.
pub(crate) async fn lock_group_of<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
) -> Result<Option<User>> {
    if base_of(c, q, app, user_id, false).await?.is_none() {
        return Ok(None);
    }
    let Some((_, base)) = lock_users(c, q, app, &[user_id]).await?.pop() else {
        return Ok(None);
    };
    // The rows too, for cores that read them under the lock.
    lock_group(c, q, app, &base.primary).await?;
    group_of(c, q, app, user_id).await.map(Some)
}

/// An identity the invariant of A.2 is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Identity {
    /// An email.
    Email(String),
    /// A phone number.
    Phone(String),
    /// A third-party identity.
    ThirdParty(String, String),
}

impl Identity {
    /// The name of the identity's named lock in `app` (the global order of the
    /// locks is the order of these names).
    fn lock_name(&self, app: &AppId) -> String {
        match self {
            Identity::Email(e) => format!("link/{app}/e/{e}"),
            Identity::Phone(p) => format!("link/{app}/p/{p}"),
            Identity::ThirdParty(id, uid) => format!("link/{app}/t/{id}/{uid}"),
        }
    }
}

/// Every identity of a group's login methods.
fn identities(u: &User) -> BTreeSet<Identity> {
    let mut out = BTreeSet::new();
    for m in &u.login_methods {
        if let Some(e) = &m.email {
            out.insert(Identity::Email(e.clone()));
        }
        if let Some(p) = &m.phone_number {
            out.insert(Identity::Phone(p.clone()));
        }
        if let Some(tp) = &m.third_party {
            out.insert(Identity::ThirdParty(
                tp.third_party_id.clone(),
                tp.third_party_user_id.clone(),
            ));
        }
    }
    out
}

/// Takes the named locks of `idents`, in the global order.
async fn lock_identities<C: Conn>(
    c: &mut C,
    app: &AppId,
    idents: &BTreeSet<Identity>,
) -> Result<()> {
    let names: BTreeSet<String> = idents.iter().map(|i| i.lock_name(app)).collect();
    for name in names {
        named_lock(c, &name).await?;
    }
    Ok(())
}

/// The recipe user ids holding `ident` in the tenant `t`.
async fn ids_with<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    ident: &Identity,
) -> Result<Vec<String>> {
    match ident {
        Identity::Email(e) => ids_by_email(c, q, t, e).await,
        Identity::Phone(p) => ids_by_phone(c, q, t, p).await,
        Identity::ThirdParty(id, uid) => {
            let tp = ThirdPartyInfo {
                third_party_id: id.clone(),
                third_party_user_id: uid.clone(),
            };
            ids_by_third_party(c, q, &t.app, Some(&t.tenant), &tp).await
        }
    }
}

/// `AccountInfoAlreadyUsedByAnotherPrimaryUser` if a primary user other than `me`
/// holds one of `idents` in one of `tenants`. The caller holds the identities' locks.
async fn check_free<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    tenants: &[TenantId],
    idents: &BTreeSet<Identity>,
    me: &str,
) -> Result<()> {
    for tenant in tenants {
        let t = TenantIdentifier {
            app: app.clone(),
            tenant: tenant.clone(),
        };
        let mut ids = Vec::new();
        for ident in idents {
            ids.extend(ids_with(c, q, &t, ident).await?);
        }
        ids.sort();
        ids.dedup();
        for u in load_users(c, q, app, &ids).await? {
            if u.is_primary && u.id != me {
                return Err(StorageError::AccountInfoAlreadyUsedByAnotherPrimaryUser {
                    primary: u.id,
                });
            }
        }
    }
    Ok(())
}

/// The group of `id` (read after its rows were locked).
async fn group_of<C: Conn>(c: &mut C, q: Q<'_>, app: &AppId, id: &str) -> Result<User> {
    load_users(c, q, app, &[id.to_owned()])
        .await?
        .into_iter()
        .next()
        .ok_or(StorageError::UnknownUserId)
}

/// Sets the linking columns of a user's rows in `app_id_to_user_id` and
/// `all_auth_recipe_users`.
async fn set_link<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    primary: &str,
    linked: bool,
) -> Result<()> {
    /// The update of one of the two tables.
    async fn set<C: Conn, T: LinkCols>(
        c: &mut C,
        q: Q<'_>,
        stmt: Stmt,
        app: &AppId,
        user_id: &str,
        primary: &str,
        linked: bool,
    ) -> Result<()> {
        let args = args! { app: app.as_str(), user_id: user_id, primary: primary, linked: linked };
        q.exec(c, stmt, args, |a| {
            Query::update()
                .table(q.t(T::TABLE))
                .values([
                    (T::PRIMARY, a.primary.expr()),
                    (T::IS_LINKED, a.linked.expr()),
                ])
                .cond_where(app_user_is::<T>(&a.app, &a.user_id))
                .to_owned()
        })
        .await
        .no_violations()?;
        Ok(())
    }
    let stmt = Stmt::fixed("linking.set_link_app");
    set::<C, AppIdToUserId>(c, q, stmt, app, user_id, primary, linked).await?;
    let stmt = Stmt::fixed("linking.set_link_tenants");
    set::<C, AllAuthRecipeUsers>(c, q, stmt, app, user_id, primary, linked).await
}

/// Sets `primary_or_recipe_user_time_joined` of every row of the group of `member`
/// to the group's time joined (the earliest of its login methods).
pub(crate) async fn fold_time_joined<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    member: &str,
) -> Result<()> {
    let Some(group) = load_users(c, q, app, &[member.to_owned()])
        .await?
        .into_iter()
        .next()
    else {
        return Ok(());
    };
    /// The update of one of the two tables.
    async fn fold<C: Conn, T: LinkCols>(
        c: &mut C,
        q: Q<'_>,
        stmt: Stmt,
        app: &AppId,
        group: &User,
    ) -> Result<()> {
        let args = args! { app: app.as_str(), primary: group.id.as_str(), min: group.time_joined };
        q.exec(c, stmt, args, |a| {
            Query::update()
                .table(q.t(T::TABLE))
                .value(T::PRIMARY_TIME_JOINED, a.min.expr())
                .and_where(Expr::col(T::APP_ID).eq(a.app.expr()))
                .and_where(Expr::col(T::PRIMARY).eq(a.primary.expr()))
                .to_owned()
        })
        .await
        .no_violations()?;
        Ok(())
    }
    fold::<C, AppIdToUserId>(c, q, Stmt::fixed("linking.fold_time_app"), app, &group).await?;
    fold::<C, AllAuthRecipeUsers>(c, q, Stmt::fixed("linking.fold_time_tenants"), app, &group).await
}

pub(crate) async fn make_primary<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
) -> Result<MakePrimaryOutcome> {
    validate::uuid("user_id", user_id)?;
    let (_, base) = lock_users(c, q, app, &[user_id])
        .await?
        .pop()
        .ok_or(StorageError::UnknownUserId)?;
    if base.linked {
        if base.primary == user_id {
            return Ok(MakePrimaryOutcome::AlreadyPrimary);
        }
        return Err(StorageError::RecipeUserAlreadyLinked {
            primary: base.primary,
        });
    }
    let user = group_of(c, q, app, user_id).await?;
    let idents = identities(&user);
    lock_identities(c, app, &idents).await?;
    check_free(c, q, app, &user.tenant_ids, &idents, user_id).await?;
    set_link(c, q, app, user_id, user_id, true).await?;
    Ok(MakePrimaryOutcome::MadePrimary)
}

pub(crate) async fn link<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    recipe_user_id: &str,
    primary_user_id: &str,
) -> Result<LinkOutcome> {
    validate::uuid("recipe_user_id", recipe_user_id)?;
    validate::uuid("primary_user_id", primary_user_id)?;
    let bases = lock_users(c, q, app, &[recipe_user_id, primary_user_id]).await?;
    let base = |id: &str| {
        bases
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, b)| b)
            .ok_or(StorageError::UnknownUserId)
    };
    let (r, p) = (base(recipe_user_id)?, base(primary_user_id)?);
    // The primary user id may be any login method of the group.
    if !p.linked {
        return Err(StorageError::InputUserIsNotAPrimaryUser);
    }
    let primary = p.primary.clone();
    if r.linked {
        if r.primary == primary {
            return Ok(LinkOutcome::AlreadyLinked);
        }
        return Err(
            StorageError::RecipeUserAlreadyLinkedWithAnotherPrimaryUser {
                primary: r.primary.clone(),
            },
        );
    }
    let group = group_of(c, q, app, primary_user_id).await?;
    let recipe = group_of(c, q, app, recipe_user_id).await?;
    let mut idents = identities(&group);
    idents.extend(identities(&recipe));
    let mut tenants = group.tenant_ids.clone();
    tenants.extend(recipe.tenant_ids.iter().cloned());
    tenants.sort();
    tenants.dedup();
    lock_identities(c, app, &idents).await?;
    check_free(c, q, app, &tenants, &idents, &primary).await?;
    set_link(c, q, app, recipe_user_id, &primary, true).await?;
    fold_time_joined(c, q, app, recipe_user_id).await?;
    Ok(LinkOutcome::Linked)
}

pub(crate) async fn unlink<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    recipe_user_id: &str,
) -> Result<UnlinkOutcome> {
    validate::uuid("recipe_user_id", recipe_user_id)?;
    let (_, base) = lock_users(c, q, app, &[recipe_user_id])
        .await?
        .pop()
        .ok_or(StorageError::UnknownUserId)?;
    if !base.linked {
        return Ok(UnlinkOutcome::NotLinked);
    }
    let group = group_of(c, q, app, recipe_user_id).await?;
    if base.primary == recipe_user_id && group.login_methods.len() > 1 {
        return Ok(UnlinkOutcome::PrimaryKept);
    }
    set_link(c, q, app, recipe_user_id, recipe_user_id, false).await?;
    fold_time_joined(c, q, app, recipe_user_id).await?;
    if base.primary != recipe_user_id {
        let rest = load_users(c, q, app, std::slice::from_ref(&base.primary)).await?;
        if rest.is_empty() {
            // Only the kept row of a deleted primary login method was left.
            delete_login_method(c, q, app, &base.primary, false).await?;
        } else {
            fold_time_joined(c, q, app, &base.primary).await?;
        }
    }
    Ok(UnlinkOutcome::Unlinked)
}

/// The guard of an operation that adds identities to a user's login method or the
/// user to a tenant: when the user is linked or primary, locks its group and the
/// identities, and checks them in the group's tenants plus `extra_tenant`. A missing
/// user passes (the operation itself reports it).
pub(crate) async fn guard_change<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    user_id: &str,
    new: BTreeSet<Identity>,
    extra_tenant: Option<&TenantId>,
) -> Result<()> {
    if base_of(c, q, app, user_id, false).await?.is_none() {
        return Ok(());
    }
    let Some((_, base)) = lock_users(c, q, app, &[user_id]).await?.pop() else {
        return Ok(());
    };
    if !base.linked {
        return Ok(());
    }
    let group = group_of(c, q, app, user_id).await?;
    let (idents, tenants) = match extra_tenant {
        // Joining a tenant: every identity of the group, in that tenant.
        Some(t) => (identities(&group), vec![t.clone()]),
        // A new identity: in every tenant of the group.
        None => (new, group.tenant_ids.clone()),
    };
    lock_identities(c, app, &idents).await?;
    check_free(c, q, app, &tenants, &idents, &base.primary).await
}

/// The guard of an email change (see [`guard_change`]).
pub(crate) fn email_identity(email: Option<&str>, phone: Option<&str>) -> BTreeSet<Identity> {
    let mut out = BTreeSet::new();
    if let Some(e) = email {
        out.insert(Identity::Email(e.to_owned()));
    }
    if let Some(p) = phone {
        out.insert(Identity::Phone(p.to_owned()));
    }
    out
}

/// The groups holding `ident` in `t` (app-wide for a third-party identity), under the
/// identity's named lock when `lock`.
async fn groups_with<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    ident: Identity,
    lock: bool,
    app_wide: bool,
) -> Result<Vec<User>> {
    if lock {
        lock_identities(c, &t.app, &BTreeSet::from([ident.clone()])).await?;
    }
    let ids = match (&ident, app_wide) {
        (Identity::ThirdParty(id, uid), true) => {
            let tp = ThirdPartyInfo {
                third_party_id: id.clone(),
                third_party_user_id: uid.clone(),
            };
            ids_by_third_party(c, q, &t.app, None, &tp).await?
        }
        _ => ids_with(c, q, t, &ident).await?,
    };
    load_users(c, q, &t.app, &ids).await
}

fn tp_identity(tp: &ThirdPartyInfo) -> Result<Identity> {
    validate::text("third_party_id", &tp.third_party_id, 28)?;
    validate::text("third_party_user_id", &tp.third_party_user_id, 256)?;
    Ok(Identity::ThirdParty(
        tp.third_party_id.clone(),
        tp.third_party_user_id.clone(),
    ))
}

/// A tenant identifier for an app-wide look-up (the tenant is not used).
fn app_wide(app: &AppId) -> TenantIdentifier {
    TenantIdentifier {
        app: app.clone(),
        tenant: TenantId::public(),
    }
}

#[async_trait]
impl<D: Driver> AccountLinking for SqlStorage<D> {
    async fn get_primary_user(&self, app: &AppId, user_id: &str) -> Result<Option<User>> {
        self.on(Via::Read, Op::app("get_primary_user", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(get_user(c, q, app, user_id))
        })
        .await
    }

    async fn list_primary_users_by_email(
        &self,
        t: &TenantIdentifier,
        email: &str,
    ) -> Result<Vec<User>> {
        validate::text("email", email, 256)?;
        let ident = Identity::Email(email.to_owned());
        self.on(
            Via::Read,
            Op::tenant("list_primary_users_by_email", t),
            |cx| {
                let (c, q) = cx.parts();
                Box::pin(groups_with(c, q, t, ident, false, false))
            },
        )
        .await
    }

    async fn list_primary_users_by_phone(
        &self,
        t: &TenantIdentifier,
        phone: &str,
    ) -> Result<Vec<User>> {
        validate::text("phone_number", phone, 256)?;
        let ident = Identity::Phone(phone.to_owned());
        self.on(
            Via::Read,
            Op::tenant("list_primary_users_by_phone", t),
            |cx| {
                let (c, q) = cx.parts();
                Box::pin(groups_with(c, q, t, ident, false, false))
            },
        )
        .await
    }

    async fn list_primary_users_by_third_party(
        &self,
        app: &AppId,
        tp: &ThirdPartyInfo,
    ) -> Result<Vec<User>> {
        let ident = tp_identity(tp)?;
        let t = app_wide(app);
        self.on(
            Via::Read,
            Op::app("list_primary_users_by_third_party", app),
            |cx| {
                let (c, q) = cx.parts();
                Box::pin(groups_with(c, q, &t, ident, false, true))
            },
        )
        .await
    }

    async fn make_primary(&self, app: &AppId, user_id: &str) -> Result<MakePrimaryOutcome> {
        self.in_tx(Op::app("make_primary", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(make_primary(c, q, app, user_id))
        })
        .await
    }

    async fn link(&self, app: &AppId, recipe_user_id: &str, primary: &str) -> Result<LinkOutcome> {
        self.in_tx(Op::app("link", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(link(c, q, app, recipe_user_id, primary))
        })
        .await
    }

    async fn unlink(&self, app: &AppId, recipe_user_id: &str) -> Result<UnlinkOutcome> {
        self.in_tx(Op::app("unlink", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(unlink(c, q, app, recipe_user_id))
        })
        .await
    }

    async fn delete_user_with_links(
        &self,
        app: &AppId,
        user_id: &str,
        all_linked: bool,
    ) -> Result<bool> {
        self.in_tx(Op::app("delete_user", app), |cx| {
            let (c, q) = cx.parts();
            Box::pin(delete_user(c, q, app, user_id, all_linked))
        })
        .await
    }

    async fn primary_user_id_of(&self, app: &AppId, user_id: &str) -> Result<Option<String>> {
        validate::uuid("user_id", user_id)?;
        self.on(Via::Read, Op::app("primary_user_id_of", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                Ok(base_of(c, q, app, user_id, false).await?.map(|b| b.primary))
            })
        })
        .await
    }

    async fn uses_account_linking(&self, app: &AppId) -> Result<bool> {
        self.on(Via::Read, Op::app("uses_account_linking", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const ONE: [As; 1] = [As::N];
                let row = q
                    .fetch(
                        c,
                        Stmt::fixed("linking.uses_account_linking"),
                        &ONE,
                        args! { app: app.as_str() },
                        |a| {
                            Query::select()
                                .from(q.t(Tbl::AppIdToUserId))
                                .expr_as(Expr::val(1), As::N)
                                .and_where(Expr::col(AppIdToUserId::AppId).eq(a.app.expr()))
                                .and_where(
                                    Expr::col(AppIdToUserId::IsLinkedOrIsAPrimaryUser).eq(true),
                                )
                                .limit(1)
                                .to_owned()
                        },
                    )
                    .await?
                    .one();
                Ok(row.is_some())
            })
        })
        .await
    }

    async fn count_users_with_more_than_one_login_method(&self, app: &AppId) -> Result<u64> {
        self.stale_read(
            Stale::Point,
            Op::app("count_multi_method_users", app),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    const N: [As; 1] = [As::N];
                    let row = q
                        .fetch(
                            c,
                            Stmt::fixed("linking.count_multi_method"),
                            &N,
                            args! { app: app.as_str() },
                            |a| {
                                // Every row of a group is linked (its primary's too): a
                                // group of more than one has more than one linked row. Only
                                // the columns of `app_id_to_user_id_linked_idx`: an index-only
                                // range of the app's linked rows, never the table.
                                let mut groups = Query::select();
                                groups.from(q.t(Tbl::AppIdToUserId));
                                // MariaDB reads every row of the app from the table
                                // (2.8 s at 1M users) unless told to use this index.
                                crate::stmt::force_index_on_mysql(
                                    q.dialect,
                                    &mut groups,
                                    "app_id_to_user_id_linked_idx",
                                );
                                Query::select()
                                    .expr_as(Expr::cust("COUNT(*)"), As::N)
                                    .from_subquery(
                                        groups
                                            .column(AppIdToUserId::PrimaryOrRecipeUserId)
                                            .and_where(
                                                Expr::col(AppIdToUserId::AppId).eq(a.app.expr()),
                                            )
                                            .and_where(
                                                Expr::col(AppIdToUserId::IsLinkedOrIsAPrimaryUser)
                                                    .eq(true),
                                            )
                                            .group_by_col(AppIdToUserId::PrimaryOrRecipeUserId)
                                            .and_having(Expr::cust("COUNT(*) > 1"))
                                            .to_owned(),
                                        As::G,
                                    )
                                    .to_owned()
                            },
                        )
                        .await?
                        .one();
                    Ok(row.map(|r| r.rec().int(As::N)).transpose()?.unwrap_or(0) as u64)
                })
            },
        )
        .await
    }
}

#[async_trait]
impl<D: Driver> AccountLinkingTx for SqlTx<D> {
    async fn get_primary_user_for_update(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Option<User>> {
        validate::uuid("user_id", user_id)?;
        let (c, q) = self.parts();
        let done = lock_group_of(c, q, app, user_id);
        traced(D::NAME, Op::app("get_primary_user_for_update", app), done).await
    }

    async fn list_primary_users_by_email_for_update(
        &mut self,
        t: &TenantIdentifier,
        email: &str,
    ) -> Result<Vec<User>> {
        validate::text("email", email, 256)?;
        let (c, q) = self.parts();
        let done = groups_with(c, q, t, Identity::Email(email.to_owned()), true, false);
        traced(D::NAME, Op::tenant("list_primary_users_by_email", t), done).await
    }

    async fn list_primary_users_by_phone_for_update(
        &mut self,
        t: &TenantIdentifier,
        phone: &str,
    ) -> Result<Vec<User>> {
        validate::text("phone_number", phone, 256)?;
        let (c, q) = self.parts();
        let done = groups_with(c, q, t, Identity::Phone(phone.to_owned()), true, false);
        traced(D::NAME, Op::tenant("list_primary_users_by_phone", t), done).await
    }

    async fn list_primary_users_by_third_party_for_update(
        &mut self,
        app: &AppId,
        tp: &ThirdPartyInfo,
    ) -> Result<Vec<User>> {
        let ident = tp_identity(tp)?;
        let t = app_wide(app);
        let (c, q) = self.parts();
        let done = groups_with(c, q, &t, ident, true, true);
        traced(
            D::NAME,
            Op::app("list_primary_users_by_third_party", app),
            done,
        )
        .await
    }

    async fn make_primary(&mut self, app: &AppId, user_id: &str) -> Result<MakePrimaryOutcome> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("make_primary", app),
            make_primary(c, q, app, user_id),
        )
        .await
    }

    async fn link(
        &mut self,
        app: &AppId,
        recipe_user_id: &str,
        primary: &str,
    ) -> Result<LinkOutcome> {
        let (c, q) = self.parts();
        let done = link(c, q, app, recipe_user_id, primary);
        traced(D::NAME, Op::app("link", app), done).await
    }

    async fn delete_user_with_links(
        &mut self,
        app: &AppId,
        user_id: &str,
        all_linked: bool,
    ) -> Result<bool> {
        let (c, q) = self.parts();
        let done = delete_user(c, q, app, user_id, all_linked);
        traced(D::NAME, Op::app("delete_user", app), done).await
    }

    async fn unlink(&mut self, app: &AppId, recipe_user_id: &str) -> Result<UnlinkOutcome> {
        let (c, q) = self.parts();
        let done = unlink(c, q, app, recipe_user_id);
        traced(D::NAME, Op::app("unlink", app), done).await
    }
}
