//! The statement layer every operation uses: a statement's identity, its named
//! values, the SQL rendered once per identity, rows decoded by column name, and the
//! meaning of a constraint violation.
//!
//! An operation reads, in one place, as
//!
//! ```text
//! let n = q
//!     .exec(c, Stmt::fixed("sessions.rotate_refresh_token"),
//!         args! { app: t.app.as_str(), new_hash: new_hash, /* ... */ },
//!         |a| Query::update().value(SessionInfo::RefreshTokenHash2, a.new_hash.expr()) /* ... */)
//!     .await
//!     .no_violations()?;
//! ```
//!
//! The builder is handed *markers* in place of the values (so it cannot branch on
//! them) and is rendered once per [`Stmt`]; later calls only bind the values. In debug
//! builds and tests every call renders again and fails if one identity ever gave two
//! different SQL texts.

use crate::conn::{Conn, DbError, Dialect, Row, Violation};
use crate::schema::{AppUserCols, Table, TenantCols};
use sea_query::{Expr, Query, QueryStatementWriter, Value, Values};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};
use storage_api::{AppId, Result, StorageError, TenantIdentifier};

/// The identity of a statement: the key its rendered SQL is cached under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Stmt {
    name: &'static str,
    shape: Shape,
}

/// What, besides the name, decides a statement's SQL text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Shape {
    /// Always the same SQL.
    Fixed,
    /// Takes row locks (`FOR UPDATE`, inside a transaction).
    ForUpdate,
    /// An `IN` list of this many values.
    Each(usize),
    /// A page of `list_users`.
    Page {
        /// Newest first.
        desc: bool,
        /// After a page token.
        after: bool,
        /// Number of recipes filtered on.
        recipes: usize,
        /// Rows fetched.
        limit: u64,
        /// Numbers of email, phone and provider search tags.
        tags: [usize; 3],
    },
}

impl Stmt {
    /// A statement whose SQL never changes.
    pub(crate) const fn fixed(name: &'static str) -> Self {
        Stmt {
            name,
            shape: Shape::Fixed,
        }
    }

    /// A query that takes row locks when `lock` (`FOR UPDATE`; see [`locked`]).
    pub(crate) const fn locking(name: &'static str, lock: bool) -> Self {
        Stmt {
            name,
            shape: if lock { Shape::ForUpdate } else { Shape::Fixed },
        }
    }

    /// A statement whose SQL depends on `shape`.
    pub(crate) const fn shaped(name: &'static str, shape: Shape) -> Self {
        Stmt { name, shape }
    }
}

/// One named value of a statement.
#[derive(Clone, Debug)]
pub(crate) struct One(Value);

impl One {
    /// The value as an expression (`col = <value>`).
    pub(crate) fn expr(&self) -> Expr {
        Expr::val(self.0.clone())
    }

    /// The value itself (insert rows).
    pub(crate) fn value(&self) -> Value {
        self.0.clone()
    }
}

/// A named list of values (`col IN (...)`).
#[derive(Clone, Debug)]
pub(crate) struct Each(Vec<Value>);

impl Each {
    /// The values, for `is_in`.
    pub(crate) fn values(&self) -> impl Iterator<Item = Value> + '_ {
        self.0.iter().cloned()
    }
}

/// One named value ([`Q::insert`] names it by its column).
pub(crate) fn val(x: impl IntoSlot<Slot = One>) -> One {
    x.into_slot()
}

/// The values of an [`Q::insert`]: one row, each value named by its column.
pub(crate) struct InsertRow<T>(Vec<(T, One)>);

impl<T: Table> Params for InsertRow<T> {
    fn marked(&self, next: &mut usize) -> Self {
        InsertRow(self.0.iter().map(|(col, v)| (*col, v.mark(next))).collect())
    }

    fn into_values(self) -> Vec<Value> {
        let mut out = Vec::with_capacity(self.0.len());
        for (_, v) in self.0 {
            v.push(&mut out);
        }
        out
    }
}

/// A list value for [`args!`].
pub(crate) fn each<V: Into<Value>>(values: impl IntoIterator<Item = V>) -> Each {
    Each(values.into_iter().map(Into::into).collect())
}

/// `INSERT INTO table (c, ...) VALUES (v, ...)` of one row, given as (column, value)
/// pairs.
pub(crate) fn insert_row<T: Table>(
    table: sea_query::Alias,
    row: impl IntoIterator<Item = (T, Expr)>,
) -> sea_query::InsertStatement {
    let (cols, values): (Vec<_>, Vec<_>) = row.into_iter().unzip();
    // One value per column by construction, so `values_panic` cannot panic.
    Query::insert()
        .into_table(table)
        .columns(cols)
        .values_panic(values)
        .to_owned()
}

/// `insert` made "insert if absent" on the key `key`: PostgreSQL and SQLite
/// `ON CONFLICT (key) DO NOTHING` (the row count says whether it inserted); MySQL and
/// MariaDB a plain `INSERT`, whose duplicate-key error rolls back only that statement
/// and which [`inserted`] reads as "already there" (their `ON DUPLICATE KEY UPDATE`
/// counts 1 either way under `CLIENT_FOUND_ROWS`). The same text runs on MySQL 8.0
/// and MariaDB 10.6.
pub(crate) fn if_absent<T: Table, const N: usize>(
    q: Q<'_>,
    mut insert: sea_query::InsertStatement,
    key: [T; N],
) -> sea_query::InsertStatement {
    if q.dialect != Dialect::MySql {
        insert.on_conflict(sea_query::OnConflict::columns(key).do_nothing().to_owned());
    }
    insert
}

/// Whether an [`if_absent`] insert inserted its row; a foreign-key violation means
/// `missing_parent()`.
pub(crate) fn inserted(
    r: Result<u64, DbError>,
    missing_parent: impl FnOnce() -> StorageError,
) -> Result<bool> {
    match r {
        Ok(n) => Ok(n > 0),
        Err(DbError::Unique { .. }) => Ok(false),
        Err(e) => Err(e.meaning(|v| match v {
            Violation::ForeignKey(_) => missing_parent(),
            v => crate::conn::unexpected(v),
        })),
    }
}

/// `s`, taking row locks when `lock` (see [`Stmt::locking`]).
pub(crate) fn locked(mut s: sea_query::SelectStatement, lock: bool) -> sea_query::SelectStatement {
    if lock {
        s.lock_exclusive();
    }
    s
}

/// `outer IN (SELECT inner FROM table WHERE cond)`, `table` the one of `inner`.
pub(crate) fn in_rows_of<O: Table, T: Table>(
    q: Q<'_>,
    outer: O,
    inner: T,
    cond: sea_query::Condition,
) -> Expr {
    use sea_query::ExprTrait;
    Expr::col(outer).in_subquery(
        Query::select()
            .from(q.t(T::TABLE))
            .column(inner)
            .cond_where(cond)
            .to_owned(),
    )
}

/// `app_id = app AND tenant_id = tenant`, the columns of table `T`
/// (`tenant_is::<SessionInfo>(..)`).
pub(crate) fn tenant_is<T: TenantCols>(app: &One, tenant: &One) -> sea_query::Condition {
    use sea_query::ExprTrait;
    sea_query::Cond::all()
        .add(Expr::col(T::APP_ID).eq(app.expr()))
        .add(Expr::col(T::TENANT_ID).eq(tenant.expr()))
}

/// `app_id = app AND user_id = user_id`, the columns of table `T`.
pub(crate) fn app_user_is<T: AppUserCols>(app: &One, user_id: &One) -> sea_query::Condition {
    use sea_query::ExprTrait;
    sea_query::Cond::all()
        .add(Expr::col(T::APP_ID).eq(app.expr()))
        .add(Expr::col(T::USER_ID).eq(user_id.expr()))
}

/// `app_id = app AND user_id = user_id` in the table of `k`.
pub(crate) fn user_keyed_is(
    k: crate::schema::UserKeyed,
    app: &One,
    user_id: &One,
) -> sea_query::Condition {
    use sea_query::ExprTrait;
    sea_query::Cond::all()
        .add(Expr::col(k.app_id).eq(app.expr()))
        .add(Expr::col(k.user_id).eq(user_id.expr()))
}

/// A field of an [`args!`] struct: one value or a list.
pub(crate) trait Slot: Sized {
    /// The same field with markers `next..` in place of its values.
    fn mark(&self, next: &mut usize) -> Self;
    /// Appends the values in marker order.
    fn push(self, out: &mut Vec<Value>);
}

impl Slot for One {
    fn mark(&self, next: &mut usize) -> Self {
        *next += 1;
        One(marker(*next - 1))
    }
    fn push(self, out: &mut Vec<Value>) {
        out.push(self.0);
    }
}

impl Slot for Each {
    fn mark(&self, next: &mut usize) -> Self {
        let start = *next;
        *next += self.0.len();
        Each((start..*next).map(marker).collect())
    }
    fn push(self, out: &mut Vec<Value>) {
        out.extend(self.0);
    }
}

/// What an [`args!`] field can be given.
pub(crate) trait IntoSlot {
    /// The field's type.
    type Slot: Slot;
    /// The field.
    fn into_slot(self) -> Self::Slot;
}

impl IntoSlot for Each {
    type Slot = Each;
    fn into_slot(self) -> Each {
        self
    }
}

macro_rules! one_slot {
    ($($t:ty),*) => {$(
        impl IntoSlot for $t {
            type Slot = One;
            fn into_slot(self) -> One {
                One(self.into())
            }
        }
    )*};
}

one_slot!(
    &str,
    String,
    i64,
    u64,
    i32,
    bool,
    Option<String>,
    Option<i64>,
    Option<bool>,
    Value
);

impl IntoSlot for Option<&str> {
    type Slot = One;
    fn into_slot(self) -> One {
        One(self.map(str::to_owned).into())
    }
}

/// The named values of one statement call, made by [`args!`].
pub(crate) trait Params: Sized {
    /// The same values with markers in place of the values.
    fn marked(&self, next: &mut usize) -> Self;
    /// The values in marker order.
    fn into_values(self) -> Vec<Value>;
}

/// The named values of a statement: `args! { app: t.app.as_str(), ids: each(ids) }`
/// makes a struct with fields `app` and `ids`, which the statement's builder reads as
/// `a.app.expr()`, `a.ids.values()`.
macro_rules! args {
    ($($name:ident : $val:expr),* $(,)?) => {{
        #[allow(non_camel_case_types)]
        #[derive(Clone)]
        struct Args<$($name),*> {
            $($name: $name,)*
        }
        #[allow(non_camel_case_types)]
        impl<$($name: $crate::stmt::Slot),*> $crate::stmt::Params for Args<$($name),*> {
            #[allow(unused_variables)]
            fn marked(&self, next: &mut usize) -> Self {
                Args { $($name: self.$name.mark(next),)* }
            }
            fn into_values(self) -> Vec<sea_query::Value> {
                #[allow(unused_mut)]
                let mut out = Vec::new();
                $(self.$name.push(&mut out);)*
                out
            }
        }
        Args { $($name: $crate::stmt::IntoSlot::into_slot($val),)* }
    }};
}

pub(crate) use args;

/// Where one value of a rendered statement comes from.
enum Source {
    /// Named value `i` (in marker order); `last` when no later placeholder uses it.
    Arg { i: usize, last: bool },
    /// A value the builder put in itself (a `LIMIT`, a literal).
    Const(Value),
}

/// A statement rendered once: its SQL and where each of its values comes from.
struct Tpl {
    sql: String,
    sources: Vec<Source>,
}

impl Tpl {
    fn values(&self, mut args: Vec<Value>) -> Result<Values> {
        let mut out = Vec::with_capacity(self.sources.len());
        for s in &self.sources {
            let slot = match s {
                Source::Arg { i, .. } => args
                    .get_mut(*i)
                    .ok_or_else(|| StorageError::query(format!("statement has no value {i}")))?,
                Source::Const(v) => {
                    out.push(v.clone());
                    continue;
                }
            };
            out.push(match s {
                Source::Arg { last: true, .. } => std::mem::replace(slot, Value::Bool(None)),
                _ => slot.clone(),
            });
        }
        Ok(Values(out))
    }
}

const MARK: char = '\u{1}';

fn marker(i: usize) -> Value {
    Value::String(Some(format!("{MARK}{i}{MARK}")))
}

fn marked(v: &Value, n: usize) -> Option<usize> {
    match v {
        Value::String(Some(s)) if s.len() > 2 && s.starts_with(MARK) && s.ends_with(MARK) => {
            s[1..s.len() - 1].parse().ok().filter(|i| *i < n)
        }
        _ => None,
    }
}

/// The statements of one storage, rendered once per [`Stmt`].
#[derive(Default)]
pub(crate) struct Templates {
    map: RwLock<HashMap<Stmt, Arc<Tpl>>>,
}

impl Templates {
    /// The SQL of `stmt` and the values of this call.
    fn render<P: Params, S: QueryStatementWriter>(
        &self,
        d: Dialect,
        stmt: Stmt,
        args: P,
        build: impl FnOnce(&P) -> S,
    ) -> Result<(Arc<Tpl>, Values)> {
        let cached = self
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&stmt)
            .cloned();
        if let Some(t) = &cached
            && !cfg!(debug_assertions)
        {
            let values = t.values(args.into_values())?;
            return Ok((t.clone(), values));
        }
        let mut n = 0;
        let marks = args.marked(&mut n);
        let (sql, values) = d.build(&build(&marks));
        if let Some(t) = cached {
            // Debug builds and tests: one identity must always render the same SQL.
            if t.sql != sql {
                return Err(StorageError::query(format!(
                    "statement {stmt:?} rendered two different SQL texts: its key misses \
                     something the builder depends on"
                )));
            }
            let values = t.values(args.into_values())?;
            return Ok((t, values));
        }
        if cfg!(debug_assertions)
            && let Some(why) = crate::app_scope::violation(stmt.name, &sql)
        {
            return Err(StorageError::query(why));
        }
        let mut sources: Vec<Source> = values
            .0
            .into_iter()
            .map(|v| match marked(&v, n) {
                Some(i) => Source::Arg { i, last: false },
                None => Source::Const(v),
            })
            .collect();
        let mut seen = vec![false; n];
        for s in sources.iter_mut().rev() {
            if let Source::Arg { i, last } = s {
                *last = !seen[*i];
                seen[*i] = true;
            }
        }
        let t = Arc::new(Tpl { sql, sources });
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(stmt, t.clone());
        let values = t.values(args.into_values())?;
        Ok((t, values))
    }
}

/// The statement context: dialect, table prefix, and the storage's rendered statements.
#[derive(Clone, Copy)]
pub(crate) struct Q<'a> {
    /// The SQL dialect.
    pub dialect: Dialect,
    prefix: &'a str,
    templates: &'a Templates,
}

impl<'a> Q<'a> {
    /// The context of a driver's statements.
    pub(crate) fn new(dialect: Dialect, prefix: &'a str, templates: &'a Templates) -> Self {
        Q {
            dialect,
            prefix,
            templates,
        }
    }

    /// A table's name with the storage's prefix.
    pub(crate) fn t(&self, table: crate::schema::Tbl) -> sea_query::Alias {
        sea_query::Alias::new(format!("{}{}", self.prefix, table.name()))
    }

    /// Runs a statement that returns no rows: its identity, its named values and its
    /// builder. Returns the rows it affected; a constraint violation is left for the
    /// caller to give a meaning ([`Meaning`]).
    pub(crate) async fn exec<C: Conn, P: Params, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        stmt: Stmt,
        args: P,
        build: impl FnOnce(&P) -> S,
    ) -> Result<u64, DbError> {
        let (t, values) = self
            .templates
            .render(self.dialect, stmt, args, build)
            .map_err(DbError::Other)?;
        c.execute(&t.sql, values).await
    }

    /// Inserts one row into the columns' table, given as (column, value) pairs;
    /// returns the rows it affected, and leaves a constraint violation for the caller
    /// to give a meaning.
    pub(crate) async fn insert<C: Conn, T: Table>(
        &self,
        c: &mut C,
        stmt: Stmt,
        row: impl Into<Vec<(T, One)>>,
    ) -> Result<u64, DbError> {
        self.exec(c, stmt, InsertRow(row.into()), |r| {
            insert_row(
                self.t(T::TABLE),
                r.0.iter().map(|(col, v)| (*col, v.expr())),
            )
        })
        .await
    }

    /// Runs a query whose select list is `cols`; its rows are read by those names.
    pub(crate) async fn fetch<C: Conn, K: Column, P: Params, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        stmt: Stmt,
        cols: &'static [K],
        args: P,
        build: impl FnOnce(&P) -> S,
    ) -> Result<Rows<K>> {
        let (t, values) = self.templates.render(self.dialect, stmt, args, build)?;
        let rows = c
            .fetch(&t.sql, values)
            .await
            .map_err(DbError::into_storage)?;
        Ok(Rows { rows, cols })
    }
}

/// What a select list is made of: columns, `(table alias, column)` pairs, names of
/// computed items.
pub(crate) trait Column: Copy + PartialEq + Debug + Send + Sync + 'static {}

impl<T: Copy + PartialEq + Debug + Send + Sync + 'static> Column for T {}

/// The rows of a query, each read by column name.
pub(crate) struct Rows<K: 'static> {
    rows: Vec<Row>,
    cols: &'static [K],
}

impl<K: Column> Rows<K> {
    /// The rows, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Rec<'_, K>> {
        self.rows.iter().map(|row| Rec {
            row,
            cols: self.cols,
        })
    }

    /// The number of rows.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The first row (of a query that returns at most one).
    pub(crate) fn one(self) -> Option<Row1<K>> {
        let cols = self.cols;
        self.rows.into_iter().next().map(|row| Row1 { row, cols })
    }
}

/// The one row of [`Rows::one`].
pub(crate) struct Row1<K: 'static> {
    row: Row,
    cols: &'static [K],
}

impl<K: Column> Row1<K> {
    /// The row, read by column name.
    pub(crate) fn rec(&self) -> Rec<'_, K> {
        Rec {
            row: &self.row,
            cols: self.cols,
        }
    }
}

/// One row, read by the names of its select list.
pub(crate) struct Rec<'r, K: 'static> {
    row: &'r Row,
    cols: &'static [K],
}

macro_rules! by_name {
    ($($(#[$m:meta])* $f:ident -> $t:ty;)*) => {$(
        $(#[$m])*
        pub(crate) fn $f(&self, k: K) -> Result<$t> {
            self.row.$f(self.at(k)?)
        }
    )*};
}

impl<K: Column> Rec<'_, K> {
    fn at(&self, k: K) -> Result<usize> {
        self.cols
            .iter()
            .position(|c| *c == k)
            .ok_or_else(|| StorageError::query(format!("column {k:?} is not selected")))
    }

    by_name! {
        /// A non-null text column.
        text -> String;
        /// A nullable text column.
        opt_text -> Option<String>;
        /// A non-null integer column.
        int -> i64;
        /// A nullable integer column.
        opt_int -> Option<i64>;
        /// A boolean column (NULL reads as false).
        bool -> bool;
        /// A nullable boolean column.
        opt_bool -> Option<bool>;
        /// A nullable text-array column.
        opt_text_array -> Option<Vec<String>>;
        /// A nullable JSON column stored as text.
        opt_json -> Option<serde_json::Value>;
    }
}

/// What a statement's constraint violations mean: the one way to turn a statement's
/// [`DbError`] into the contract's error.
pub(crate) trait Meaning<T> {
    /// Violations mean what `meaning` says.
    fn violations(self, meaning: impl FnOnce(Violation) -> StorageError) -> Result<T>;
    /// The statement cannot violate a constraint in a way that means something; one
    /// that happens anyway is an unexpected `Query` error.
    fn no_violations(self) -> Result<T>;
}

impl<T> Meaning<T> for Result<T, DbError> {
    fn violations(self, meaning: impl FnOnce(Violation) -> StorageError) -> Result<T> {
        self.map_err(|e| e.meaning(meaning))
    }

    fn no_violations(self) -> Result<T> {
        self.map_err(DbError::into_storage)
    }
}

/// The `TenantOrAppNotFound` error of a tenant.
pub(crate) fn no_tenant(t: &TenantIdentifier) -> StorageError {
    StorageError::TenantOrAppNotFound(storage_api::TenantOrApp::Tenant(t.clone()))
}

/// The `TenantOrAppNotFound` error of an app.
pub(crate) fn no_app(a: &AppId) -> StorageError {
    StorageError::TenantOrAppNotFound(storage_api::TenantOrApp::App(a.clone()))
}

/// On MySQL/MariaDB, makes `s` read `index` (`FORCE INDEX`); other dialects get no
/// hint. For counts MariaDB 10.11 plans as a `ref` on an `app_id` prefix (every row of
/// the app, read from the table) where `index` gives an index-only range.
pub(crate) fn force_index_on_mysql<'s>(
    d: Dialect,
    s: &'s mut sea_query::SelectStatement,
    index: &str,
) -> &'s mut sea_query::SelectStatement {
    if d == Dialect::MySql {
        use sea_query::extension::mysql::{IndexHintScope, MySqlSelectStatementExt};
        s.force_index(sea_query::Alias::new(index), IndexHintScope::All);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{EmailpasswordUsers, Tbl};
    use sea_query::{ExprTrait, SelectStatement};

    /// `SELECT user_id FROM emailpassword_users WHERE app_id = app AND user_id = user AND email = app
    /// LIMIT 5`: one named value used twice, and a constant of the builder's own.
    fn build(a: &(impl HasAppUser + ?Sized)) -> SelectStatement {
        Query::select()
            .column(EmailpasswordUsers::UserId)
            .from(Tbl::EmailpasswordUsers)
            .and_where(Expr::col(EmailpasswordUsers::AppId).eq(a.app().expr()))
            .and_where(Expr::col(EmailpasswordUsers::UserId).eq(a.user().expr()))
            .and_where(Expr::col(EmailpasswordUsers::Email).eq(a.app().expr()))
            .limit(5)
            .to_owned()
    }

    trait HasAppUser {
        fn app(&self) -> &One;
        fn user(&self) -> &One;
    }

    struct AppUser {
        app: One,
        user: One,
    }

    impl HasAppUser for AppUser {
        fn app(&self) -> &One {
            &self.app
        }
        fn user(&self) -> &One {
            &self.user
        }
    }

    impl Params for AppUser {
        fn marked(&self, next: &mut usize) -> Self {
            AppUser {
                app: self.app.mark(next),
                user: self.user.mark(next),
            }
        }
        fn into_values(self) -> Vec<Value> {
            let mut out = Vec::new();
            self.app.push(&mut out);
            self.user.push(&mut out);
            out
        }
    }

    fn app_user(app: &str, user: &str) -> AppUser {
        AppUser {
            app: app.into_slot(),
            user: user.into_slot(),
        }
    }

    #[test]
    fn named_values_bind_where_the_builder_used_them() {
        let t = Templates::default();
        let stmt = Stmt::fixed("test.select");
        for (app, user) in [("a1", "u1"), ("a2", "u2")] {
            let (tpl, values) = t
                .render(Dialect::Postgres, stmt, app_user(app, user), build)
                .unwrap();
            assert!(tpl.sql.contains("$4"), "{}", tpl.sql);
            assert_eq!(values.0.len(), 4);
            assert_eq!(values.0[0], Value::from(app));
            assert_eq!(values.0[1], Value::from(user));
            assert_eq!(values.0[2], Value::from(app));
            assert!(marked(&values.0[3], 2).is_none());
        }
        assert_eq!(t.map.read().unwrap().len(), 1, "rendered once");
    }

    #[test]
    fn args_macro_names_values_and_lists() {
        let t = Templates::default();
        let ids = ["x", "y", "z"];
        let args = args! { app: "a", ids: each(ids) };
        let stmt = Stmt::shaped("test.in", Shape::Each(ids.len()));
        let (tpl, values) = t
            .render(Dialect::Sqlite, stmt, args, |a| {
                Query::select()
                    .column(EmailpasswordUsers::UserId)
                    .from(Tbl::EmailpasswordUsers)
                    .and_where(Expr::col(EmailpasswordUsers::AppId).eq(a.app.expr()))
                    .and_where(Expr::col(EmailpasswordUsers::UserId).is_in(a.ids.values()))
                    .to_owned()
            })
            .unwrap();
        assert_eq!(tpl.sql.matches('?').count(), 4, "{}", tpl.sql);
        let want: Vec<Value> = ["a", "x", "y", "z"].into_iter().map(Value::from).collect();
        assert_eq!(values.0, want);
    }

    /// One identity that renders two different SQL texts (the builder depends on
    /// something its key misses) is an error in debug builds and tests.
    #[cfg(debug_assertions)]
    #[test]
    fn one_identity_always_renders_the_same_sql() {
        let t = Templates::default();
        let stmt = Stmt::fixed("test.shape");
        for lock in [false, true] {
            let r = t.render(Dialect::Postgres, stmt, app_user("a", "u"), |a| {
                locked(build(a), lock)
            });
            assert_eq!(r.is_ok(), !lock, "lock {lock}");
        }
        let r = t.render(
            Dialect::Postgres,
            Stmt::locking("test.shape", true),
            app_user("a", "u"),
            |a| locked(build(a), true),
        );
        assert!(r.is_ok());
    }
}
