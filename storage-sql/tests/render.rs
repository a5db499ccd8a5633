//! Statements that differ per dialect render as each database expects.

use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use storage_sql::Dialect;

fn upsert() -> sea_query::InsertStatement {
    Query::insert()
        .into_table(Alias::new("st_key_value"))
        .columns([
            Alias::new("app_id"),
            Alias::new("name"),
            Alias::new("value"),
        ])
        .values_panic(["public".into(), "n".into(), "v".into()])
        .on_conflict(
            OnConflict::columns([Alias::new("app_id"), Alias::new("name")])
                .update_columns([Alias::new("value")])
                .to_owned(),
        )
        .to_owned()
}

#[test]
fn upsert_per_dialect() {
    let (pg, _) = Dialect::Postgres.build(&upsert());
    assert!(
        pg.contains(r#"ON CONFLICT ("app_id", "name") DO UPDATE SET "value" = "excluded"."value""#),
        "{pg}"
    );
    let (my, _) = Dialect::MySql.build(&upsert());
    assert!(
        my.contains("ON DUPLICATE KEY UPDATE `value` = VALUES(`value`)"),
        "{my}"
    );
    assert!(!my.contains(" AS "), "MySQL-8-only alias syntax: {my}");
    let (lite, _) = Dialect::Sqlite.build(&upsert());
    assert!(lite.contains("ON CONFLICT"), "{lite}");
}

#[test]
fn do_nothing_on_mysql_is_not_insert_ignore() {
    let s = Query::insert()
        .into_table(Alias::new("apps"))
        .columns([Alias::new("app_id")])
        .values_panic(["a".into()])
        .on_conflict(
            OnConflict::column(Alias::new("app_id"))
                .do_nothing_on([Alias::new("app_id")])
                .to_owned(),
        )
        .to_owned();
    let (my, _) = Dialect::MySql.build(&s);
    assert!(
        !my.contains("IGNORE"),
        "INSERT IGNORE would also hide foreign-key errors: {my}"
    );
    assert!(
        my.contains("ON DUPLICATE KEY UPDATE `app_id` = `app_id`"),
        "{my}"
    );
}

#[test]
fn row_lock_only_where_supported() {
    let s = Query::select()
        .from(Alias::new("t"))
        .column(Alias::new("a"))
        .and_where(Expr::col(Alias::new("a")).eq(1))
        .lock_exclusive()
        .to_owned();
    assert!(Dialect::Postgres.build(&s).0.ends_with("FOR UPDATE"));
    assert!(Dialect::MySql.build(&s).0.ends_with("FOR UPDATE"));
    assert!(!Dialect::Sqlite.build(&s).0.contains("FOR UPDATE"));
}
