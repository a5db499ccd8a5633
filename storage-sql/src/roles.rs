//! Roles and permissions (app-scoped) and their assignments to users
//! (tenant-scoped) (contract-phase2 B.2).
//!
//! `user_roles` has no foreign key to `roles` (as in SuperTokens), so every write that
//! concerns one role takes the named lock of (app, role) first: creating a role with
//! permissions, assigning it and deleting it serialise, and a deleted role never keeps
//! permissions or assignments.

use crate::SqlStorage;
use crate::conn::{Conn, Driver};
use crate::metadata::check_user_id;
use crate::run::{Op, Stale, Via, named_lock, traced};
use crate::schema::{RolePermissions, Roles, Table, Tbl, UserRoles};
use crate::stmt::{
    Meaning, One, Q, Shape, Stmt, args, each, if_absent, insert_row, inserted, locked, no_app,
    no_tenant, tenant_is,
};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Cond, Condition, Expr, ExprTrait, Order, Query};
use storage_api::validate;
use storage_api::*;

fn check_role(role: &str) -> Result<()> {
    validate::text("role", role, 255)
}

fn check_permission(p: &str) -> Result<()> {
    validate::text("permission", p, 255)
}

/// `app_id = app AND role = role`.
fn role_is(app: &One, role: &One) -> Condition {
    Cond::all()
        .add(Expr::col(RolePermissions::AppId).eq(app.expr()))
        .add(Expr::col(RolePermissions::Role).eq(role.expr()))
}

/// Takes the named lock of (app, role).
async fn lock_role<C: Conn>(c: &mut C, app: &AppId, role: &str) -> Result<()> {
    named_lock(c, &format!("role/{app}/{role}")).await
}

/// Whether the role exists; `lock` takes the role's named lock and a row lock
/// (inside a transaction).
async fn role_exists<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    role: &str,
    lock: bool,
) -> Result<bool> {
    check_role(role)?;
    if lock {
        lock_role(c, app, role).await?;
    }
    const ROLE: [Roles; 1] = [Roles::Role];
    let args = args! { app: app.as_str(), role: role };
    let rows = q
        .fetch(c, Stmt::locking("roles.exists", lock), &ROLE, args, |a| {
            let mut s = Query::select();
            s.from(q.t(Tbl::Roles))
                .columns(ROLE)
                .cond_where(role_is(&a.app, &a.role));
            locked(s, lock)
        })
        .await?;
    Ok(rows.len() > 0)
}

/// Creates the role if absent, under its named lock.
async fn create_role<C: Conn>(c: &mut C, q: Q<'_>, app: &AppId, role: &str) -> Result<bool> {
    check_role(role)?;
    lock_role(c, app, role).await?;
    let args = args! { app: app.as_str(), role: role };
    let r = q
        .exec(c, Stmt::fixed("roles.create"), args, |a| {
            if_absent(
                q,
                insert_row(
                    q.t(Tbl::Roles),
                    [(Roles::AppId, a.app.expr()), (Roles::Role, a.role.expr())],
                ),
                [Roles::AppId, Roles::Role],
            )
        })
        .await;
    inserted(r, || no_app(app))
}

/// Adds permissions to an existing role, under its named lock: `UnknownRole`.
async fn add_permissions<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    role: &str,
    permissions: &[String],
) -> Result<()> {
    for p in permissions {
        check_permission(p)?;
    }
    if !role_exists(c, q, app, role, true).await? {
        return Err(StorageError::UnknownRole);
    }
    for p in permissions {
        let args = args! { app: app.as_str(), role: role, permission: p.as_str() };
        let r = q
            .exec(c, Stmt::fixed("roles.add_permission"), args, |a| {
                if_absent(
                    q,
                    insert_row(
                        q.t(Tbl::RolePermissions),
                        [
                            (RolePermissions::AppId, a.app.expr()),
                            (RolePermissions::Role, a.role.expr()),
                            (RolePermissions::Permission, a.permission.expr()),
                        ],
                    ),
                    [
                        RolePermissions::AppId,
                        RolePermissions::Role,
                        RolePermissions::Permission,
                    ],
                )
            })
            .await;
        inserted(r, || StorageError::UnknownRole)?;
    }
    Ok(())
}

/// A look-up of one text column by another: `SELECT out FROM table WHERE app_id = app
/// [AND tenant_id = tenant] AND by = value ORDER BY out`.
#[derive(Clone, Copy)]
struct Lookup<T: 'static> {
    stmt: Stmt,
    by: T,
    out: &'static [T; 1],
    /// The table's `tenant_id`, if it has one (read with `tenant`).
    tenant_id: Option<T>,
}

/// The sorted values of a [`Lookup`], in the app or (with `tenant`) one of its
/// tenants.
async fn sorted_column<C: Conn, T: Table>(
    c: &mut C,
    q: Q<'_>,
    l: Lookup<T>,
    app: &AppId,
    tenant: Option<&str>,
    value: &str,
) -> Result<Vec<String>> {
    let in_tenant = tenant.is_some();
    let args = args! { app: app.as_str(), tenant: tenant, value: value };
    let rows = q
        .fetch(c, l.stmt, l.out, args, |a| {
            let mut cond = Cond::all().add(Expr::col(T::APP_ID).eq(a.app.expr()));
            if let (true, Some(tenant_id)) = (in_tenant, l.tenant_id) {
                cond = cond.add(Expr::col(tenant_id).eq(a.tenant.expr()));
            }
            Query::select()
                .from(q.t(T::TABLE))
                .columns(*l.out)
                .cond_where(cond.add(Expr::col(l.by).eq(a.value.expr())))
                .order_by(l.out[0], Order::Asc)
                .to_owned()
        })
        .await?;
    rows.iter().map(|r| r.text(l.out[0])).collect()
}

impl<D: Driver> SqlStorage<D> {
    /// Runs a [`Lookup`] as the operation `op`.
    async fn look_up<T: Table>(
        &self,
        op: Op<'_>,
        l: Lookup<T>,
        app: &AppId,
        tenant: Option<&str>,
        value: &str,
    ) -> Result<Vec<String>> {
        self.stale_read(Stale::Scan, op, |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                sorted_column(c, q, l, app, tenant, value).await
            })
        })
        .await
    }
}

#[async_trait]
impl<D: Driver> storage_api::UserRoles for SqlStorage<D> {
    async fn create_role(&self, app: &AppId, role: &str) -> Result<bool> {
        self.in_tx(Op::app("create_role", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                create_role(c, q, app, role).await
            })
        })
        .await
    }

    async fn role_exists(&self, app: &AppId, role: &str) -> Result<bool> {
        self.stale_read(Stale::Point, Op::app("role_exists", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                role_exists(c, q, app, role, false).await
            })
        })
        .await
    }

    async fn roles(&self, app: &AppId) -> Result<Vec<String>> {
        self.stale_read(Stale::Scan, Op::app("roles", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const ROLE: [Roles; 1] = [Roles::Role];
                let rows = q
                    .fetch(
                        c,
                        Stmt::fixed("roles.all"),
                        &ROLE,
                        args! { app: app.as_str() },
                        |a| {
                            Query::select()
                                .from(q.t(Tbl::Roles))
                                .columns(ROLE)
                                .and_where(Expr::col(Roles::AppId).eq(a.app.expr()))
                                .order_by(Roles::Role, Order::Asc)
                                .to_owned()
                        },
                    )
                    .await?;
                rows.iter().map(|r| r.text(Roles::Role)).collect()
            })
        })
        .await
    }

    async fn delete_role(&self, app: &AppId, role: &str) -> Result<bool> {
        check_role(role)?;
        self.in_tx(Op::app("delete_role", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                lock_role(c, app, role).await?;
                // No foreign key from assignments to roles: they go first, explicitly.
                q.exec(
                    c,
                    Stmt::fixed("roles.delete_assignments_of_role"),
                    args! { app: app.as_str(), role: role },
                    |a| {
                        Query::delete()
                            .from_table(q.t(Tbl::UserRoles))
                            .cond_where(role_is(&a.app, &a.role))
                            .to_owned()
                    },
                )
                .await
                .no_violations()?;
                q.exec(
                    c,
                    Stmt::fixed("roles.delete_permissions_of_role"),
                    args! { app: app.as_str(), role: role },
                    |a| {
                        Query::delete()
                            .from_table(q.t(Tbl::RolePermissions))
                            .cond_where(role_is(&a.app, &a.role))
                            .to_owned()
                    },
                )
                .await
                .no_violations()?;
                let n = q
                    .exec(
                        c,
                        Stmt::fixed("roles.delete"),
                        args! { app: app.as_str(), role: role },
                        |a| {
                            Query::delete()
                                .from_table(q.t(Tbl::Roles))
                                .cond_where(role_is(&a.app, &a.role))
                                .to_owned()
                        },
                    )
                    .await
                    .no_violations()?;
                Ok(n > 0)
            })
        })
        .await
    }

    async fn add_permissions(&self, app: &AppId, role: &str, permissions: &[String]) -> Result<()> {
        self.in_tx(Op::app("add_permissions", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                add_permissions(c, q, app, role, permissions).await
            })
        })
        .await
    }

    async fn remove_permissions(
        &self,
        app: &AppId,
        role: &str,
        permissions: Option<&[String]>,
    ) -> Result<u64> {
        check_role(role)?;
        for p in permissions.unwrap_or_default() {
            check_permission(p)?;
        }
        self.on(Via::Pool, Op::app("remove_permissions", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let Some(permissions) = permissions else {
                    let args = args! { app: app.as_str(), role: role };
                    return q
                        .exec(c, Stmt::fixed("roles.remove_all_permissions"), args, |a| {
                            Query::delete()
                                .from_table(q.t(Tbl::RolePermissions))
                                .cond_where(role_is(&a.app, &a.role))
                                .to_owned()
                        })
                        .await
                        .no_violations();
                };
                let mut n = 0;
                for chunk in permissions.chunks(500) {
                    let stmt = Stmt::shaped("roles.remove_permissions", Shape::Each(chunk.len()));
                    let args = args! {
                        app: app.as_str(),
                        role: role,
                        permissions: each(chunk.iter().map(String::as_str)),
                    };
                    n += q
                        .exec(c, stmt, args, |a| {
                            Query::delete()
                                .from_table(q.t(Tbl::RolePermissions))
                                .cond_where(
                                    role_is(&a.app, &a.role).add(
                                        Expr::col(RolePermissions::Permission)
                                            .is_in(a.permissions.values()),
                                    ),
                                )
                                .to_owned()
                        })
                        .await
                        .no_violations()?;
                }
                Ok(n)
            })
        })
        .await
    }

    async fn permissions_of_role(&self, app: &AppId, role: &str) -> Result<Vec<String>> {
        check_role(role)?;
        let l = Lookup {
            stmt: Stmt::fixed("roles.permissions_of_role"),
            by: RolePermissions::Role,
            out: &[RolePermissions::Permission],
            tenant_id: None,
        };
        self.look_up(Op::app("permissions_of_role", app), l, app, None, role)
            .await
    }

    async fn roles_with_permission(&self, app: &AppId, permission: &str) -> Result<Vec<String>> {
        check_permission(permission)?;
        let l = Lookup {
            stmt: Stmt::fixed("roles.roles_with_permission"),
            by: RolePermissions::Permission,
            out: &[RolePermissions::Role],
            tenant_id: None,
        };
        self.look_up(
            Op::app("roles_with_permission", app),
            l,
            app,
            None,
            permission,
        )
        .await
    }

    async fn add_role_to_user(
        &self,
        t: &TenantIdentifier,
        user_id: &str,
        role: &str,
    ) -> Result<bool> {
        check_user_id(user_id)?;
        check_role(role)?;
        self.in_tx(Op::tenant("add_role_to_user", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                if !role_exists(c, q, &t.app, role, true).await? {
                    return Err(StorageError::UnknownRole);
                }
                let args = args! {
                    app: t.app.as_str(),
                    tenant: t.tenant.as_str(),
                    user_id: user_id,
                    role: role,
                };
                let r = q
                    .exec(c, Stmt::fixed("roles.add_role_to_user"), args, |a| {
                        if_absent(
                            q,
                            insert_row(
                                q.t(Tbl::UserRoles),
                                [
                                    (UserRoles::AppId, a.app.expr()),
                                    (UserRoles::TenantId, a.tenant.expr()),
                                    (UserRoles::UserId, a.user_id.expr()),
                                    (UserRoles::Role, a.role.expr()),
                                ],
                            ),
                            [
                                UserRoles::AppId,
                                UserRoles::TenantId,
                                UserRoles::UserId,
                                UserRoles::Role,
                            ],
                        )
                    })
                    .await;
                inserted(r, || no_tenant(t))
            })
        })
        .await
    }

    async fn remove_role_from_user(
        &self,
        t: &TenantIdentifier,
        user_id: &str,
        role: &str,
    ) -> Result<bool> {
        check_user_id(user_id)?;
        check_role(role)?;
        self.on(Via::Pool, Op::tenant("remove_role_from_user", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! {
                    app: t.app.as_str(),
                    tenant: t.tenant.as_str(),
                    user_id: user_id,
                    role: role,
                };
                let n = q
                    .exec(c, Stmt::fixed("roles.remove_role_from_user"), args, |a| {
                        Query::delete()
                            .from_table(q.t(Tbl::UserRoles))
                            .cond_where(
                                tenant_is::<UserRoles>(&a.app, &a.tenant)
                                    .add(Expr::col(UserRoles::UserId).eq(a.user_id.expr()))
                                    .add(Expr::col(UserRoles::Role).eq(a.role.expr())),
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

    async fn roles_of_user(&self, t: &TenantIdentifier, user_id: &str) -> Result<Vec<String>> {
        check_user_id(user_id)?;
        let l = Lookup {
            stmt: Stmt::fixed("roles.roles_of_user"),
            by: UserRoles::UserId,
            out: &[UserRoles::Role],
            tenant_id: Some(UserRoles::TenantId),
        };
        self.look_up(
            Op::tenant("roles_of_user", t),
            l,
            &t.app,
            Some(t.tenant.as_str()),
            user_id,
        )
        .await
    }

    async fn users_with_role(&self, t: &TenantIdentifier, role: &str) -> Result<Vec<String>> {
        check_role(role)?;
        let l = Lookup {
            stmt: Stmt::fixed("roles.users_with_role"),
            by: UserRoles::Role,
            out: &[UserRoles::UserId],
            tenant_id: Some(UserRoles::TenantId),
        };
        self.look_up(
            Op::tenant("users_with_role", t),
            l,
            &t.app,
            Some(t.tenant.as_str()),
            role,
        )
        .await
    }

    async fn delete_roles_of_user(&self, t: &TenantIdentifier, user_id: &str) -> Result<u64> {
        check_user_id(user_id)?;
        self.on(Via::Pool, Op::tenant("delete_roles_of_user", t), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! {
                    app: t.app.as_str(),
                    tenant: t.tenant.as_str(),
                    user_id: user_id,
                };
                q.exec(c, Stmt::fixed("roles.delete_roles_of_user"), args, |a| {
                    Query::delete()
                        .from_table(q.t(Tbl::UserRoles))
                        .cond_where(
                            tenant_is::<UserRoles>(&a.app, &a.tenant)
                                .add(Expr::col(UserRoles::UserId).eq(a.user_id.expr())),
                        )
                        .to_owned()
                })
                .await
                .no_violations()
            })
        })
        .await
    }
}

#[async_trait]
impl<D: Driver> UserRolesTx for SqlTx<D> {
    async fn role_exists_for_update(&mut self, app: &AppId, role: &str) -> Result<bool> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("role_exists_for_update", app),
            role_exists(c, q, app, role, true),
        )
        .await
    }

    async fn create_role(&mut self, app: &AppId, role: &str) -> Result<bool> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("create_role", app),
            create_role(c, q, app, role),
        )
        .await
    }

    async fn add_permissions(
        &mut self,
        app: &AppId,
        role: &str,
        permissions: &[String],
    ) -> Result<()> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::app("add_permissions", app),
            add_permissions(c, q, app, role, permissions),
        )
        .await
    }
}
