//! Migration 1 must be exactly the layout SuperTokens' MySQL plugin creates
//! (`tests/fixtures/supertokens-ddl/mysql-phase1.sql`, the plugin's own DDL): the
//! `information_schema` of a database migrated to version 1 and that of one built
//! from the plugin's DDL are compared (every table, column in order with type,
//! unsigned, nullability and default, every key and index with name, uniqueness and
//! parts, every foreign key with its server-given name, columns, target and rules).
//! After all migrations the catalog must be that layout plus exactly migration 2's
//! additions and the history table, every table InnoDB and `utf8mb4_bin`, with and
//! without a table-name prefix.

use std::collections::{BTreeMap, BTreeSet};
use storage_api::OpenOptions;
use storage_tests::backends::mysql::{Raw, database_uri, in_fresh_database, open_in_database};
use storage_tests::harness::RawSql;

/// The history table, which is the project's own. One line per fact:
/// `table NAME`;
/// `col NAME TYPE NN|NULL [default=VALUE]` (TYPE without spaces: `bigint-unsigned`,
/// `int-unsigned`, `boolean`, `text`, `varchar(64)`, `char(36)`; `''` is the empty
/// string);
/// `pk COLS`; `uq NAME COLS` (name without prefix); `idx NAME COLS` (name gets the
/// prefix; `col-` marks a descending part);
/// `fk NAME COLS TABLE(COLS) DELETE UPDATE` (name and table get the prefix; `-` for
/// no action).
const SPEC: &str = r"
table schema_migrations
col version bigint NN
col name varchar(255) NN
col checksum char(64) NN
col state varchar(16) NN
col applied_at bigint NN
col execution_ms bigint NN
pk version
";

/// A foreign key: columns, referenced table, referenced columns, delete rule,
/// update rule.
type ForeignKey = (Vec<String>, String, Vec<String>, String, String);

#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    /// name -> (type, not null, default)
    columns: BTreeMap<String, (String, bool, Option<String>)>,
    /// column order
    order: Vec<String>,
    /// index name -> (unique, parts)
    indexes: BTreeMap<String, (bool, Vec<String>)>,
    /// fk name -> (columns, referenced table, referenced columns, delete, update)
    fks: BTreeMap<String, ForeignKey>,
}

fn split_cols(s: &str) -> Vec<String> {
    s.split(',').map(str::to_owned).collect()
}

/// Parses SPEC with `prefix` applied; `desc` says whether descending index parts
/// are kept by this server (else `col-` reads as `col`).
fn history_table(prefix: &str, desc: bool) -> BTreeMap<String, Table> {
    let mut out: BTreeMap<String, Table> = BTreeMap::new();
    let mut cur = String::new();
    for line in SPEC.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w[0] {
            "table" => {
                cur = format!("{prefix}{}", w[1]);
                out.insert(cur.clone(), Table::default());
            }
            "col" => {
                let t = out.get_mut(&cur).unwrap();
                let default = w.get(4).map(|d| {
                    let v = d.strip_prefix("default=").unwrap();
                    if v == "''" {
                        String::new()
                    } else {
                        v.to_owned()
                    }
                });
                t.columns
                    .insert(w[1].to_owned(), (w[2].to_owned(), w[3] == "NN", default));
                t.order.push(w[1].to_owned());
            }
            "pk" => {
                let t = out.get_mut(&cur).unwrap();
                t.indexes.insert("PRIMARY".into(), (true, split_cols(w[1])));
            }
            "uq" => {
                let t = out.get_mut(&cur).unwrap();
                t.indexes.insert(w[1].to_owned(), (true, split_cols(w[2])));
            }
            "idx" => {
                let t = out.get_mut(&cur).unwrap();
                let parts = split_cols(w[2])
                    .into_iter()
                    .map(|p| {
                        if desc {
                            p
                        } else {
                            p.trim_end_matches('-').to_owned()
                        }
                    })
                    .collect();
                t.indexes
                    .insert(format!("{prefix}{}", w[1]), (false, parts));
            }
            "fk" => {
                let t = out.get_mut(&cur).unwrap();
                let (rt, rc) = w[3].split_once('(').unwrap();
                let rc = rc.trim_end_matches(')');
                let rule = |r: &str| {
                    if r == "-" {
                        "RESTRICT".to_owned()
                    } else {
                        r.to_owned()
                    }
                };
                t.fks.insert(
                    format!("{prefix}{}", w[1]),
                    (
                        split_cols(w[2]),
                        format!("{prefix}{rt}"),
                        split_cols(rc),
                        rule(w[4]),
                        rule(w[5]),
                    ),
                );
            }
            other => panic!("bad SPEC line kind {other}"),
        }
    }
    out
}

/// `bigint(20) unsigned` (MariaDB) and `bigint unsigned` (MySQL 8) both read as
/// `bigint-unsigned`; `tinyint(1)` as `boolean`.
fn normalise_type(column_type: &str) -> String {
    let t = column_type.to_ascii_lowercase();
    if t == "tinyint(1)" {
        return "boolean".into();
    }
    let unsigned = t.contains("unsigned");
    let base = t.split_whitespace().next().unwrap_or("").to_owned();
    let base = if ["tinyint", "smallint", "mediumint", "int", "bigint"]
        .iter()
        .any(|i| base.starts_with(&format!("{i}(")))
    {
        base.split('(').next().unwrap().to_owned()
    } else {
        base
    };
    if unsigned {
        format!("{base}-unsigned")
    } else {
        base
    }
}

/// MariaDB shows defaults quoted (`'public'`) and a missing default as `NULL`;
/// MySQL shows them bare and as SQL NULL.
fn normalise_default(d: Option<String>) -> Option<String> {
    match d {
        None => None,
        Some(s) if s == "NULL" => None,
        Some(s) => Some(
            s.strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .map(str::to_owned)
                .unwrap_or(s),
        ),
    }
}

fn cell(r: &[Option<String>], i: usize) -> String {
    r[i].clone().unwrap_or_default()
}

async fn actual(raw: &dyn RawSql, db: &str, desc: bool) -> BTreeMap<String, Table> {
    let mut out: BTreeMap<String, Table> = BTreeMap::new();
    for r in raw
        .query(&format!(
            "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = '{db}' AND TABLE_TYPE = 'BASE TABLE'"
        ))
        .await
    {
        let name = cell(&r, 0);
        assert_eq!(cell(&r, 1), "InnoDB", "engine of {name}");
        assert_eq!(cell(&r, 2), "utf8mb4_bin", "collation of {name}");
        out.insert(name, Table::default());
    }
    for r in raw
        .query(&format!(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, \
             CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = '{db}' ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ))
        .await
    {
        let (table, column) = (cell(&r, 0), cell(&r, 1));
        if let Some(coll) = &r[6] {
            assert_eq!(coll, "utf8mb4_bin", "collation of {table}.{column}");
            assert_eq!(cell(&r, 5), "utf8mb4", "charset of {table}.{column}");
        }
        let t = out.get_mut(&table).unwrap();
        t.columns.insert(
            column.clone(),
            (
                normalise_type(&cell(&r, 2)),
                cell(&r, 3) == "NO",
                normalise_default(r[4].clone()),
            ),
        );
        t.order.push(column);
    }
    for r in raw
        .query(&format!(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, COLLATION \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '{db}' \
             ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        ))
        .await
    {
        let t = out.get_mut(&cell(&r, 0)).unwrap();
        let mut part = cell(&r, 3);
        if desc && cell(&r, 4) == "D" {
            part.push('-');
        }
        let e = t
            .indexes
            .entry(cell(&r, 1))
            .or_insert_with(|| (cell(&r, 2) == "0", Vec::new()));
        e.1.push(part);
    }
    for r in raw
        .query(&format!(
            "SELECT rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.REFERENCED_TABLE_NAME, rc.DELETE_RULE, \
             rc.UPDATE_RULE, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME \
             FROM information_schema.REFERENTIAL_CONSTRAINTS rc \
             JOIN information_schema.KEY_COLUMN_USAGE k \
               ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = rc.TABLE_NAME \
              AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME \
             WHERE rc.CONSTRAINT_SCHEMA = '{db}' \
             ORDER BY rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION"
        ))
        .await
    {
        let t = out.get_mut(&cell(&r, 0)).unwrap();
        let rule = |s: String| {
            if s == "NO ACTION" {
                "RESTRICT".into()
            } else {
                s
            }
        };
        let e = t.fks.entry(cell(&r, 1)).or_insert_with(|| {
            (
                Vec::new(),
                cell(&r, 2),
                Vec::new(),
                rule(cell(&r, 3)),
                rule(cell(&r, 4)),
            )
        });
        e.0.push(cell(&r, 5));
        e.2.push(cell(&r, 6));
    }
    out
}

/// The catalog of the plugin's own DDL, run in a scratch database (binary collation,
/// like ours), with `prefix` given to table names as the migrations do (index and key
/// names stay bare, as in the plugin; the foreign keys' server-given names follow the
/// table's).
async fn plugin_layout(prefix: &str, desc: bool) -> BTreeMap<String, Table> {
    let mut layout = plugin_catalog(prefix, desc, PHASE1).await;
    layout.extend(plugin_catalog(prefix, desc, PHASE2).await);
    layout
}

/// The plugin's phase-1 DDL (migration 1).
const PHASE1: &str = include_str!("../fixtures/supertokens-ddl/mysql-phase1.sql");
/// The plugin's phase-2 DDL (migration 3); run after phase 1, whose tables it references.
const PHASE2: &str = include_str!("../fixtures/supertokens-ddl/mysql-phase2.sql");

/// The tables that `part` (PHASE1 or PHASE2) of the plugin's DDL creates, from the
/// catalog of a scratch database where phase 1 (and `part`) ran, with `prefix` given
/// as the migrations give it.
async fn plugin_catalog(prefix: &str, desc: bool, part: &str) -> BTreeMap<String, Table> {
    let ddl = format!("{PHASE1}\n{}", if part == PHASE1 { "" } else { part });
    let admin = storage_tests::backends::mysql::connect_admin().await;
    let db = storage_tests::backends::mysql::create_database(&admin).await;
    admin.close().await;
    let raw = Raw(
        storage_mysql::test_support::RawClient::connect(&database_uri(&db), 1)
            .await
            .expect("raw connection"),
    );
    for stmt in storage_api::migrate::split_statements(&ddl) {
        raw.execute(&stmt).await;
    }
    let layout = actual(&raw, &db, desc).await;
    raw.0.close().await;
    storage_tests::backends::mysql::drop_database(&db).await;
    let wanted = storage_api::migrate::tables_created(&part.replace(
        "CREATE TABLE IF NOT EXISTS ",
        "CREATE TABLE IF NOT EXISTS {prefix}",
    ));
    layout
        .into_iter()
        .filter(|(name, _)| wanted.contains(name))
        .map(|(name, mut t)| {
            t.fks = t
                .fks
                .into_iter()
                .map(|(k, (cols, rt, rc, del, upd))| {
                    (
                        format!("{prefix}{k}"),
                        (cols, format!("{prefix}{rt}"), rc, del, upd),
                    )
                })
                .collect();
            (format!("{prefix}{name}"), t)
        })
        .collect()
}

/// What migration 2 adds to the plugin's layout.
fn add_migration_2(layout: &mut BTreeMap<String, Table>, prefix: &str, desc: bool) {
    let mut column = |table: &str, name: &str, ty: &str, not_null: bool, default: Option<&str>| {
        let t = layout.get_mut(&format!("{prefix}{table}")).expect("table");
        t.columns.insert(
            name.to_owned(),
            (ty.to_owned(), not_null, default.map(str::to_owned)),
        );
        t.order.push(name.to_owned());
    };
    column(
        "app_id_to_user_id",
        "time_joined",
        "bigint-unsigned",
        true,
        Some("0"),
    );
    column(
        "app_id_to_user_id",
        "primary_or_recipe_user_time_joined",
        "bigint-unsigned",
        true,
        Some("0"),
    );
    column(
        "session_info",
        "prev_refresh_token_hash_2",
        "varchar(128)",
        false,
        None,
    );
    column(
        "session_info",
        "refresh_token_rotated_at",
        "bigint-unsigned",
        false,
        None,
    );
    let last = if desc {
        "primary_or_recipe_user_id-"
    } else {
        "primary_or_recipe_user_id"
    };
    let users = layout
        .get_mut(&format!("{prefix}all_auth_recipe_users"))
        .expect("all_auth_recipe_users");
    users.indexes.insert(
        "all_auth_recipe_users_time_asc_idx".to_owned(),
        (
            false,
            split_cols(&format!(
                "app_id,tenant_id,primary_or_recipe_user_time_joined,{last}"
            )),
        ),
    );
    users.indexes.insert(
        "all_auth_recipe_users_recipe_time_asc_idx".to_owned(),
        (
            false,
            split_cols(&format!(
                "recipe_id,app_id,tenant_id,primary_or_recipe_user_time_joined,{last}"
            )),
        ),
    );
}

/// Migration 5 (`0005_recipes`): the last-active index of the app's counts.
fn add_migration_5(layout: &mut BTreeMap<String, Table>, prefix: &str) {
    layout
        .get_mut(&format!("{prefix}user_last_active"))
        .expect("user_last_active")
        .indexes
        .insert(
            "user_last_active_app_time_idx".to_owned(),
            (false, split_cols("app_id,last_active_time")),
        );
}

/// What migration 4 adds to the plugin's layout: two indexes (unprefixed names).
fn add_migration_4(layout: &mut BTreeMap<String, Table>, prefix: &str) {
    for (table, idx, cols) in [
        (
            "app_id_to_user_id",
            "app_id_to_user_id_linked_idx",
            "app_id,is_linked_or_is_a_primary_user,primary_or_recipe_user_id",
        ),
        (
            "emailverification_tokens",
            "emailverification_tokens_user_idx",
            "app_id,user_id",
        ),
    ] {
        let t = layout.get_mut(&format!("{prefix}{table}")).expect(table);
        t.indexes.insert(idx.to_owned(), (false, split_cols(cols)));
    }
}

/// Migration 6 (`0006_search`): the email's domain as a VIRTUAL generated column with
/// an index, on the three tables holding login-method emails.
fn add_migration_6(layout: &mut BTreeMap<String, Table>, prefix: &str) {
    for (table, cols) in [
        (
            "emailpassword_user_to_tenant",
            "app_id,tenant_id,email_domain",
        ),
        (
            "passwordless_user_to_tenant",
            "app_id,tenant_id,email_domain",
        ),
        ("thirdparty_users", "app_id,email_domain"),
    ] {
        let t = layout.get_mut(&format!("{prefix}{table}")).expect(table);
        t.columns.insert(
            "email_domain".to_owned(),
            ("varchar(256)".to_owned(), false, None),
        );
        t.order.push("email_domain".to_owned());
        t.indexes
            .insert(format!("{table}_domain_idx"), (false, split_cols(cols)));
    }
}

/// The whole layout after every migration: the plugin's, migration 2's, 4's, 5's and
/// 6's additions, the history table.
async fn expected(prefix: &str, desc: bool) -> BTreeMap<String, Table> {
    let mut want = plugin_layout(prefix, desc).await;
    add_migration_2(&mut want, prefix, desc);
    add_migration_4(&mut want, prefix);
    add_migration_5(&mut want, prefix);
    add_migration_6(&mut want, prefix);
    want.extend(history_table(prefix, desc));
    want
}

/// Compares two catalogs table by table.
fn compare(got: &BTreeMap<String, Table>, want: &BTreeMap<String, Table>) {
    let want_tables: BTreeSet<_> = want.keys().collect();
    let got_tables: BTreeSet<_> = got.keys().collect();
    assert_eq!(got_tables, want_tables, "tables");
    for (name, w) in want {
        let g = &got[name];
        assert_eq!(g.order, w.order, "column order of {name}");
        assert_eq!(g.columns, w.columns, "columns of {name}");
        assert_eq!(g.indexes, w.indexes, "indexes of {name}");
        assert_eq!(g.fks, w.fks, "foreign keys of {name}");
    }
}

/// Whether the server keeps descending index parts (MySQL 8, MariaDB 10.8+).
async fn keeps_desc(raw: &dyn RawSql) -> bool {
    let v = raw.query("SELECT VERSION()").await[0][0].clone().unwrap();
    let nums: Vec<u32> = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(2)
        .map(|s| s.parse().unwrap())
        .collect();
    if v.to_ascii_lowercase().contains("mariadb") {
        (nums[0], nums[1]) >= (10, 8)
    } else {
        true
    }
}

async fn check(prefix: Option<&str>) {
    let prefix = prefix.map(str::to_owned);
    in_fresh_database(|db| async move {
        let storage = open_in_database(&db, prefix.as_deref(), OpenOptions::default()).await;
        storage.close().await;
        let raw = Raw(
            storage_mysql::test_support::RawClient::connect(&database_uri(&db), 1)
                .await
                .expect("raw connection"),
        );
        let desc = keeps_desc(&raw).await;
        let p = prefix.map(|p| format!("{p}_")).unwrap_or_default();
        let want = expected(&p, desc).await;
        let got = actual(&raw, &db, desc).await;
        compare(&got, &want);
        raw.0.close().await;
    })
    .await;
}

/// `up --to 1` builds exactly the catalog the plugin's DDL builds.
#[tokio::test]
async fn mysql_version_1_is_the_plugin_layout() {
    in_fresh_database(|db| async move {
        let storage = storage_api::open(&database_uri(&db), OpenOptions::default())
            .await
            .expect("open mysql");
        storage_tests::harness::migrate_to(&*storage, 1).await;
        storage.close().await;
        let raw = Raw(
            storage_mysql::test_support::RawClient::connect(&database_uri(&db), 1)
                .await
                .expect("raw connection"),
        );
        let desc = keeps_desc(&raw).await;
        let mut got = actual(&raw, &db, desc).await;
        got.remove("schema_migrations");
        compare(&got, &plugin_catalog("", desc, PHASE1).await);
        raw.0.close().await;
    })
    .await;
}

#[tokio::test]
async fn mysql_schema_matches_spec_without_prefix() {
    check(None).await;
}

#[tokio::test]
async fn mysql_schema_matches_spec_with_prefix() {
    check(Some("st")).await;
}

#[test]
fn type_normalisation() {
    assert_eq!(normalise_type("bigint(20) unsigned"), "bigint-unsigned");
    assert_eq!(normalise_type("bigint unsigned"), "bigint-unsigned");
    assert_eq!(normalise_type("int(10) unsigned"), "int-unsigned");
    assert_eq!(normalise_type("tinyint(1)"), "boolean");
    assert_eq!(normalise_type("varchar(64)"), "varchar(64)");
    assert_eq!(normalise_type("bigint(20)"), "bigint");
    assert_eq!(
        normalise_default(Some("'public'".into())).as_deref(),
        Some("public")
    );
    assert_eq!(normalise_default(Some("''".into())).as_deref(), Some(""));
    assert_eq!(normalise_default(Some("NULL".into())), None);
}
