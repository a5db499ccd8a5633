//! Last-active times and monthly-active-user counts (contract-phase2 B.6). Every
//! count is one query, served by the range of `user_last_active_app_time_idx`
//! (app, last-active time; migration 5).

use crate::SqlStorage;
use crate::conn::{Dialect, Driver, Violation};
use crate::metadata::check_user_id;
use crate::run::{Op, Stale, Via};
use crate::schema::{AppIdToUserId, As, Tbl, TotpUsers, UserLastActive};
use crate::stmt::{Meaning, Stmt, app_user_is, args, insert_row, no_app};
use async_trait::async_trait;
use sea_query::{Cond, Expr, ExprTrait, OnConflict, Order, Query, SelectStatement};
use storage_api::validate;
use storage_api::*;

/// One UTC day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// A `user_last_active.user_id` (VARCHAR(128)) compared with an
/// `app_id_to_user_id` id (CHAR(36)). On PostgreSQL the comparison of the two types
/// casts the CHAR side to text, which no index of it serves: the VARCHAR side is cast
/// instead (a longer, external id cannot equal a 36-character user id, so its
/// truncation is excluded by the length test).
fn as_user_id(d: Dialect, e: Expr) -> Expr {
    match d {
        Dialect::Postgres => Expr::cust_with_exprs("CAST($1 AS CHAR(36))", [e]),
        _ => e,
    }
}

/// Reads the app's time range of `user_last_active` (the table last added to `s`)
/// through its `(app_id, last_active_time)` index. MariaDB plans a wide range (a week
/// of a month's activity) as `ref` on the primary key's `app_id` prefix, every row of
/// the app, unless told: `FORCE INDEX` on MySQL/MariaDB (an index-only range, 3.2x
/// faster for a quarter of 300k rows); the other dialects render no hint.
fn by_time_index(d: Dialect, s: &mut SelectStatement) -> &mut SelectStatement {
    crate::stmt::force_index_on_mysql(d, s, "user_last_active_app_time_idx")
}

/// The first column of the one row of a `COUNT(*) AS n` query.
fn count_of(row: Option<crate::stmt::Row1<As>>) -> Result<u64> {
    Ok(row.map(|r| r.rec().int(As::N)).transpose()?.unwrap_or(0) as u64)
}

#[async_trait]
impl<D: Driver> ActiveUsers for SqlStorage<D> {
    async fn update_last_active(&self, app: &AppId, user_id: &str, now: i64) -> Result<()> {
        check_user_id(user_id)?;
        validate::time("now", now)?;
        self.on(Via::Pool, Op::app("update_last_active", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! { app: app.as_str(), user_id: user_id, now: now };
                q.exec(c, Stmt::fixed("active.update"), args, |a| {
                    insert_row(
                        q.t(Tbl::UserLastActive),
                        [
                            (UserLastActive::AppId, a.app.expr()),
                            (UserLastActive::UserId, a.user_id.expr()),
                            (UserLastActive::LastActiveTime, a.now.expr()),
                        ],
                    )
                    .on_conflict(
                        OnConflict::columns([UserLastActive::AppId, UserLastActive::UserId])
                            .update_column(UserLastActive::LastActiveTime)
                            .to_owned(),
                    )
                    .to_owned()
                })
                .await
                .violations(|v| match v {
                    Violation::ForeignKey(_) => no_app(app),
                    Violation::Unique(_) => StorageError::query("last-active upsert hit a key"),
                })?;
                Ok(())
            })
        })
        .await
    }

    async fn last_active(&self, app: &AppId, user_id: &str) -> Result<Option<i64>> {
        check_user_id(user_id)?;
        self.stale_read(Stale::Point, Op::app("last_active", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const TIME: [UserLastActive; 1] = [UserLastActive::LastActiveTime];
                let args = args! { app: app.as_str(), user_id: user_id };
                let row = q
                    .fetch(c, Stmt::fixed("active.get"), &TIME, args, |a| {
                        Query::select()
                            .from(q.t(Tbl::UserLastActive))
                            .columns(TIME)
                            .cond_where(app_user_is::<UserLastActive>(&a.app, &a.user_id))
                            .to_owned()
                    })
                    .await?
                    .one();
                Ok(row
                    .map(|r| r.rec().opt_int(UserLastActive::LastActiveTime))
                    .transpose()?
                    .flatten())
            })
        })
        .await
    }

    async fn count_active_since(&self, app: &AppId, since: i64) -> Result<u64> {
        self.stale_read(Stale::Scan, Op::app("count_active_since", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const N: [As; 1] = [As::N];
                let args = args! { app: app.as_str(), since: since };
                let row = q
                    .fetch(c, Stmt::fixed("active.count_since"), &N, args, |a| {
                        let mut s = Query::select();
                        s.from(q.t(Tbl::UserLastActive));
                        by_time_index(q.dialect, &mut s)
                            .expr_as(Expr::cust("COUNT(*)"), As::N)
                            .cond_where(
                                Cond::all()
                                    .add(Expr::col(UserLastActive::AppId).eq(a.app.expr()))
                                    .add(
                                        Expr::col(UserLastActive::LastActiveTime)
                                            .gte(a.since.expr()),
                                    ),
                            )
                            .to_owned()
                    })
                    .await?
                    .one();
                count_of(row)
            })
        })
        .await
    }

    async fn count_active_by_day(
        &self,
        app: &AppId,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, u64)>> {
        self.stale_read(Stale::Scan, Op::app("count_active_by_day", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const DAYS: [As; 2] = [As::Day, As::N];
                // Integer division: `/` of two integers on PostgreSQL and SQLite, `DIV`
                // on MySQL (whose `/` gives a decimal).
                let day = match q.dialect {
                    Dialect::MySql => format!("last_active_time DIV {DAY_MS}"),
                    _ => format!("last_active_time / {DAY_MS}"),
                };
                let args = args! { app: app.as_str(), from: from, to: to };
                let rows = q
                    .fetch(c, Stmt::fixed("active.count_by_day"), &DAYS, args, |a| {
                        let mut s = Query::select();
                        s.from(q.t(Tbl::UserLastActive));
                        by_time_index(q.dialect, &mut s)
                            .expr_as(Expr::cust(day.clone()), As::Day)
                            .expr_as(Expr::cust("COUNT(*)"), As::N)
                            .cond_where(
                                Cond::all()
                                    .add(Expr::col(UserLastActive::AppId).eq(a.app.expr()))
                                    .add(
                                        Expr::col(UserLastActive::LastActiveTime)
                                            .gte(a.from.expr()),
                                    )
                                    .add(Expr::col(UserLastActive::LastActiveTime).lt(a.to.expr())),
                            )
                            .add_group_by([Expr::cust(day.clone())])
                            .order_by(As::Day, Order::Asc)
                            .to_owned()
                    })
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.int(As::Day)? * DAY_MS, r.int(As::N)? as u64)))
                    .collect()
            })
        })
        .await
    }

    async fn count_active_with_many_login_methods(
        &self,
        app: &AppId,
        since: i64,
        or_totp: bool,
    ) -> Result<u64> {
        self.stale_read(
            Stale::Scan,
            Op::app("count_active_with_many_login_methods", app),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    const N: [As; 1] = [As::N];
                    let stmt = if or_totp {
                        Stmt::fixed("active.count_many_methods_or_totp")
                    } else {
                        Stmt::fixed("active.count_many_methods")
                    };
                    let args = args! { app: app.as_str(), since: since };
                    let row = q
                        .fetch(c, stmt, &N, args, |a| {
                            // One pass over the app's range of active users; for each,
                            // index look-ups: is it the primary user of a group with a
                            // login method other than its own (a linked row of the
                            // group that is not its primary's), or a TOTP user.
                            let user = || Expr::col((As::G, UserLastActive::UserId));
                            let mut linked = Cond::all();
                            if q.dialect == Dialect::Postgres {
                                linked = linked.add(Expr::cust(format!(
                                    "char_length({}.{}) <= 36",
                                    As::G.name(),
                                    UserLastActive::UserId.name()
                                )));
                            }
                            let mut many = Cond::any().add(Expr::exists(
                                Query::select()
                                    .expr(Expr::cust("1"))
                                    .from(q.t(Tbl::AppIdToUserId))
                                    .cond_where(
                                        linked
                                            .add(Expr::col(AppIdToUserId::AppId).eq(a.app.expr()))
                                            .add(
                                                Expr::col(AppIdToUserId::IsLinkedOrIsAPrimaryUser)
                                                    .eq(true),
                                            )
                                            .add(
                                                Expr::col(AppIdToUserId::PrimaryOrRecipeUserId)
                                                    .eq(as_user_id(q.dialect, user())),
                                            )
                                            .add(Expr::col(AppIdToUserId::UserId).ne(Expr::col(
                                                AppIdToUserId::PrimaryOrRecipeUserId,
                                            ))),
                                    )
                                    .to_owned(),
                            ));
                            if or_totp {
                                many = many.add(Expr::exists(
                                    Query::select()
                                        .expr(Expr::cust("1"))
                                        .from(q.t(Tbl::TotpUsers))
                                        .cond_where(
                                            Cond::all()
                                                .add(Expr::col(TotpUsers::AppId).eq(a.app.expr()))
                                                .add(Expr::col(TotpUsers::UserId).eq(user())),
                                        )
                                        .to_owned(),
                                ));
                            }
                            let mut s = Query::select();
                            s.from_as(q.t(Tbl::UserLastActive), As::G);
                            by_time_index(q.dialect, &mut s)
                                .expr_as(Expr::cust("COUNT(*)"), As::N)
                                .cond_where(
                                    Cond::all()
                                        .add(
                                            Expr::col((As::G, UserLastActive::AppId))
                                                .eq(a.app.expr()),
                                        )
                                        .add(
                                            Expr::col((As::G, UserLastActive::LastActiveTime))
                                                .gte(a.since.expr()),
                                        )
                                        .add(many),
                                )
                                .to_owned()
                        })
                        .await?
                        .one();
                    count_of(row)
                })
            },
        )
        .await
    }

    async fn delete_last_active(&self, app: &AppId, user_id: &str) -> Result<u64> {
        check_user_id(user_id)?;
        self.on(Via::Pool, Op::app("delete_last_active", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                let args = args! { app: app.as_str(), user_id: user_id };
                q.exec(c, Stmt::fixed("active.delete"), args, |a| {
                    Query::delete()
                        .from_table(q.t(Tbl::UserLastActive))
                        .cond_where(app_user_is::<UserLastActive>(&a.app, &a.user_id))
                        .to_owned()
                })
                .await
                .no_violations()
            })
        })
        .await
    }
}
