//! Users and sessions of the admin dashboard (contract-phase2 B.5).

use crate::SqlStorage;
use crate::conn::{Conn, Driver, UniqueKey, Violation};
use crate::run::{Op, Via};
use crate::schema::{AppUserCols, DashboardUserSessions, DashboardUsers, Tbl};
use crate::stmt::{Meaning, Q, Rec, Row1, Stmt, app_user_is, args, insert_row, no_app};
use async_trait::async_trait;
use sea_query::{Cond, Expr, ExprTrait, Order, Query};
use storage_api::validate;
use storage_api::*;

fn check_id(field: &'static str, id: &str) -> Result<()> {
    validate::text(field, id, 36)
}

fn check_email(email: &str) -> Result<()> {
    validate::text("email", email, 256)
}

/// The select list of a dashboard user row.
const USER: [DashboardUsers; 4] = [
    DashboardUsers::UserId,
    DashboardUsers::Email,
    DashboardUsers::PasswordHash,
    DashboardUsers::TimeJoined,
];

fn user_from(r: &Rec<'_, DashboardUsers>) -> Result<DashboardUser> {
    Ok(DashboardUser {
        user_id: r.text(DashboardUsers::UserId)?,
        email: r.text(DashboardUsers::Email)?,
        password_hash: Secret::new(r.text(DashboardUsers::PasswordHash)?),
        time_joined: r.int(DashboardUsers::TimeJoined)?,
    })
}

/// The select list of a dashboard session row.
const SESSION: [DashboardUserSessions; 4] = [
    DashboardUserSessions::SessionId,
    DashboardUserSessions::UserId,
    DashboardUserSessions::TimeCreated,
    DashboardUserSessions::Expiry,
];

fn session_from(r: &Rec<'_, DashboardUserSessions>) -> Result<DashboardSession> {
    Ok(DashboardSession {
        session_id: r.text(DashboardUserSessions::SessionId)?,
        user_id: r.text(DashboardUserSessions::UserId)?,
        time_created: r.int(DashboardUserSessions::TimeCreated)?,
        expiry: r.int(DashboardUserSessions::Expiry)?,
    })
}

/// `DuplicateEmail` for the email key, else the meaning of the primary key.
fn user_violation(v: Violation, app: &AppId) -> StorageError {
    match v {
        Violation::Unique(UniqueKey::Email) => StorageError::DuplicateEmail,
        Violation::Unique(_) => StorageError::DuplicateUserId,
        Violation::ForeignKey(_) => no_app(app),
    }
}

/// An update of one user that must match it: `UnknownUserId` otherwise.
fn one_user(n: u64) -> Result<()> {
    if n == 0 {
        Err(StorageError::UnknownUserId)
    } else {
        Ok(())
    }
}

/// A point read of one row of an app by one unique column of table `T`.
struct By<T: 'static> {
    stmt: Stmt,
    cols: &'static [T; 4],
    col: T,
}

/// `SELECT cols FROM table WHERE app_id = app AND col = value`.
async fn one_by<C: Conn, T: AppUserCols>(
    c: &mut C,
    q: Q<'_>,
    by: By<T>,
    app: &AppId,
    value: &str,
) -> Result<Option<Row1<T>>> {
    let args = args! { app: app.as_str(), value: value };
    Ok(q.fetch(c, by.stmt, by.cols, args, |a| {
        Query::select()
            .from(q.t(T::TABLE))
            .columns(*by.cols)
            .cond_where(
                Cond::all()
                    .add(Expr::col(T::APP_ID).eq(a.app.expr()))
                    .add(Expr::col(by.col).eq(a.value.expr())),
            )
            .to_owned()
    })
    .await?
    .one())
}

#[async_trait]
impl<D: Driver> Dashboard for SqlStorage<D> {
    async fn create_dashboard_user(&self, app: &AppId, u: &DashboardUser) -> Result<()> {
        check_id("user_id", &u.user_id)?;
        check_email(&u.email)?;
        validate::text("password_hash", u.password_hash.expose(), 256)?;
        validate::time("time_joined", u.time_joined)?;
        self.on(Via::Pool, Op::app("create_dashboard_user", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! {
                    app: app.as_str(),
                    user_id: u.user_id.as_str(),
                    email: u.email.as_str(),
                    hash: u.password_hash.expose(),
                    time_joined: u.time_joined,
                };
                q.exec(c, Stmt::fixed("dashboard.create_user"), args, |a| {
                    insert_row(
                        q.t(Tbl::DashboardUsers),
                        [
                            (DashboardUsers::AppId, a.app.expr()),
                            (DashboardUsers::UserId, a.user_id.expr()),
                            (DashboardUsers::Email, a.email.expr()),
                            (DashboardUsers::PasswordHash, a.hash.expr()),
                            (DashboardUsers::TimeJoined, a.time_joined.expr()),
                        ],
                    )
                })
                .await
                .violations(|v| user_violation(v, app))?;
                Ok(())
            })
        })
        .await
    }

    async fn get_dashboard_user(
        &self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Option<DashboardUser>> {
        check_id("user_id", user_id)?;
        self.on(Via::Read, Op::app("get_dashboard_user", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let by = By {
                    stmt: Stmt::fixed("dashboard.get_user"),
                    cols: &USER,
                    col: DashboardUsers::UserId,
                };
                let row = one_by(c, q, by, app, user_id).await?;
                row.map(|r| user_from(&r.rec())).transpose()
            })
        })
        .await
    }

    async fn get_dashboard_user_by_email(
        &self,
        app: &AppId,
        email: &str,
    ) -> Result<Option<DashboardUser>> {
        check_email(email)?;
        self.on(
            Via::Read,
            Op::app("get_dashboard_user_by_email", app),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    let by = By {
                        stmt: Stmt::fixed("dashboard.get_user_by_email"),
                        cols: &USER,
                        col: DashboardUsers::Email,
                    };
                    let row = one_by(c, q, by, app, email).await?;
                    row.map(|r| user_from(&r.rec())).transpose()
                })
            },
        )
        .await
    }

    async fn list_dashboard_users(&self, app: &AppId) -> Result<Vec<DashboardUser>> {
        self.on(Via::Pool, Op::app("list_dashboard_users", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let rows = q
                    .fetch(
                        c,
                        Stmt::fixed("dashboard.list_users"),
                        &USER,
                        args! { app: app.as_str() },
                        |a| {
                            Query::select()
                                .from(q.t(Tbl::DashboardUsers))
                                .columns(USER)
                                .and_where(Expr::col(DashboardUsers::AppId).eq(a.app.expr()))
                                .order_by(DashboardUsers::TimeJoined, Order::Asc)
                                .order_by(DashboardUsers::UserId, Order::Asc)
                                .to_owned()
                        },
                    )
                    .await?;
                rows.iter().map(|r| user_from(&r)).collect()
            })
        })
        .await
    }

    async fn delete_dashboard_user(&self, app: &AppId, user_id: &str) -> Result<bool> {
        check_id("user_id", user_id)?;
        self.on(Via::Pool, Op::app("delete_dashboard_user", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                // Its sessions go by the foreign key's cascade.
                let args = args! { app: app.as_str(), user_id: user_id };
                let n = q
                    .exec(c, Stmt::fixed("dashboard.delete_user"), args, |a| {
                        Query::delete()
                            .from_table(q.t(Tbl::DashboardUsers))
                            .cond_where(app_user_is::<DashboardUsers>(&a.app, &a.user_id))
                            .to_owned()
                    })
                    .await
                    .no_violations()?;
                Ok(n > 0)
            })
        })
        .await
    }

    async fn update_dashboard_user_email(
        &self,
        app: &AppId,
        user_id: &str,
        email: &str,
    ) -> Result<()> {
        check_id("user_id", user_id)?;
        check_email(email)?;
        self.on(
            Via::Pool,
            Op::app("update_dashboard_user_email", app),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    let args = args! { app: app.as_str(), user_id: user_id, email: email };
                    let n = q
                        .exec(c, Stmt::fixed("dashboard.update_email"), args, |a| {
                            Query::update()
                                .table(q.t(Tbl::DashboardUsers))
                                .value(DashboardUsers::Email, a.email.expr())
                                .cond_where(app_user_is::<DashboardUsers>(&a.app, &a.user_id))
                                .to_owned()
                        })
                        .await
                        .violations(|v| user_violation(v, app))?;
                    one_user(n)
                })
            },
        )
        .await
    }

    async fn update_dashboard_user_password_hash(
        &self,
        app: &AppId,
        user_id: &str,
        hash: &Secret,
    ) -> Result<()> {
        check_id("user_id", user_id)?;
        validate::text("password_hash", hash.expose(), 256)?;
        self.on(
            Via::Pool,
            Op::app("update_dashboard_user_password_hash", app),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    let args = args! { app: app.as_str(), user_id: user_id, hash: hash.expose() };
                    let n = q
                        .exec(
                            c,
                            Stmt::fixed("dashboard.update_password_hash"),
                            args,
                            |a| {
                                Query::update()
                                    .table(q.t(Tbl::DashboardUsers))
                                    .value(DashboardUsers::PasswordHash, a.hash.expr())
                                    .cond_where(app_user_is::<DashboardUsers>(&a.app, &a.user_id))
                                    .to_owned()
                            },
                        )
                        .await
                        .no_violations()?;
                    one_user(n)
                })
            },
        )
        .await
    }

    async fn create_dashboard_session(&self, app: &AppId, s: &DashboardSession) -> Result<()> {
        check_id("session_id", &s.session_id)?;
        check_id("user_id", &s.user_id)?;
        validate::time("time_created", s.time_created)?;
        validate::time("expiry", s.expiry)?;
        self.on(Via::Pool, Op::app("create_dashboard_session", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! {
                    app: app.as_str(),
                    session_id: s.session_id.as_str(),
                    user_id: s.user_id.as_str(),
                    time_created: s.time_created,
                    expiry: s.expiry,
                };
                q.exec(c, Stmt::fixed("dashboard.create_session"), args, |a| {
                    insert_row(
                        q.t(Tbl::DashboardUserSessions),
                        [
                            (DashboardUserSessions::AppId, a.app.expr()),
                            (DashboardUserSessions::SessionId, a.session_id.expr()),
                            (DashboardUserSessions::UserId, a.user_id.expr()),
                            (DashboardUserSessions::TimeCreated, a.time_created.expr()),
                            (DashboardUserSessions::Expiry, a.expiry.expr()),
                        ],
                    )
                })
                .await
                .violations(|v| match v {
                    // The only foreign key is to the dashboard user.
                    Violation::ForeignKey(_) => StorageError::UnknownUserId,
                    Violation::Unique(_) => {
                        StorageError::query("a dashboard session with this id already exists")
                    }
                })?;
                Ok(())
            })
        })
        .await
    }

    async fn get_dashboard_session(
        &self,
        app: &AppId,
        session_id: &str,
    ) -> Result<Option<DashboardSession>> {
        check_id("session_id", session_id)?;
        self.on(Via::Read, Op::app("get_dashboard_session", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let by = By {
                    stmt: Stmt::fixed("dashboard.get_session"),
                    cols: &SESSION,
                    col: DashboardUserSessions::SessionId,
                };
                let row = one_by(c, q, by, app, session_id).await?;
                row.map(|r| session_from(&r.rec())).transpose()
            })
        })
        .await
    }

    async fn dashboard_sessions_of_user(
        &self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<DashboardSession>> {
        check_id("user_id", user_id)?;
        self.on(
            Via::Pool,
            Op::app("dashboard_sessions_of_user", app),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    let args = args! { app: app.as_str(), user_id: user_id };
                    let rows = q
                        .fetch(
                            c,
                            Stmt::fixed("dashboard.sessions_of_user"),
                            &SESSION,
                            args,
                            |a| {
                                Query::select()
                                    .from(q.t(Tbl::DashboardUserSessions))
                                    .columns(SESSION)
                                    .cond_where(app_user_is::<DashboardUserSessions>(
                                        &a.app, &a.user_id,
                                    ))
                                    .order_by(DashboardUserSessions::TimeCreated, Order::Asc)
                                    .order_by(DashboardUserSessions::SessionId, Order::Asc)
                                    .to_owned()
                            },
                        )
                        .await?;
                    rows.iter().map(|r| session_from(&r)).collect()
                })
            },
        )
        .await
    }

    async fn revoke_dashboard_session(&self, app: &AppId, session_id: &str) -> Result<bool> {
        check_id("session_id", session_id)?;
        self.on(Via::Pool, Op::app("revoke_dashboard_session", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! { app: app.as_str(), session_id: session_id };
                let n = q
                    .exec(c, Stmt::fixed("dashboard.revoke_session"), args, |a| {
                        Query::delete()
                            .from_table(q.t(Tbl::DashboardUserSessions))
                            .cond_where(
                                Cond::all()
                                    .add(Expr::col(DashboardUserSessions::AppId).eq(a.app.expr()))
                                    .add(
                                        Expr::col(DashboardUserSessions::SessionId)
                                            .eq(a.session_id.expr()),
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

    async fn revoke_expired_dashboard_sessions(&self, now: i64) -> Result<u64> {
        self.on(
            Via::Pool,
            Op::global("revoke_expired_dashboard_sessions"),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    q.exec(
                        c,
                        Stmt::fixed("dashboard.revoke_expired"),
                        args! { now: now },
                        |a| {
                            Query::delete()
                                .from_table(q.t(Tbl::DashboardUserSessions))
                                .and_where(
                                    Expr::col(DashboardUserSessions::Expiry).lt(a.now.expr()),
                                )
                                .to_owned()
                        },
                    )
                    .await
                    .no_violations()
                })
            },
        )
        .await
    }
}
