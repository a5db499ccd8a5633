//! Migration 1 must be exactly the layout SuperTokens' PostgreSQL plugin creates
//! (`tests/fixtures/supertokens-ddl/postgresql-phase1.sql`, the plugin's own DDL): the
//! catalog of a schema migrated to version 1 and that of a schema built from the
//! plugin's DDL are compared as a whole (every table, column in order, type,
//! nullability, default, primary / unique / foreign key with name, columns, target
//! and cascades, and every index with name and columns). After all migrations the
//! catalog must be that layout plus exactly migration 2's and 4's additions and the history
//! table, checked without a prefix in the default schema of a fresh database, with a
//! prefix in a non-default schema, with `currentSchema=` from the URI, and with two
//! prefixes sharing one schema.

use std::collections::BTreeMap;
use storage_api::OpenOptions;
use storage_postgres::tokio_postgres::{self, NoTls};
use storage_tests::backends::postgres::{base_uri, connect_admin, drop_schema, in_fresh_schema};
use storage_tests::harness::then_clean_up;

/// The history table, which is the project's own. Line forms:
/// `table NAME`; `  COLUMN TYPE [NN] [=DEFAULT]`; `  pk COLS`.
const EXPECTED: &str = r#"
table schema_migrations
  version bigint NN
  name varchar(255) NN
  checksum char(64) NN
  state varchar(16) NN
  applied_at bigint NN
  execution_ms bigint NN
  pk version
"#;

/// (name, kind, columns, referenced table, referenced columns, on delete, on update).
type Constraint = (
    String,
    String,
    Vec<String>,
    String,
    Vec<String>,
    String,
    String,
);

/// One table as the catalog describes it (or as expected), comparable as a whole.
#[derive(Debug, Default, PartialEq, Eq)]
struct Table {
    /// (name, type as `format_type` prints it, nullable, default expression).
    columns: Vec<(String, String, bool, Option<String>)>,
    /// (name, kind, columns, referenced table, referenced columns, on delete, on
    /// update), sorted by name. Kinds: `p`, `u`, `f`; actions: `c` cascade, `a` none.
    constraints: Vec<Constraint>,
    /// (name, column list as `pg_get_indexdef` prints it), sorted by name; indexes
    /// backing a key are not listed.
    indexes: Vec<(String, String)>,
}

fn list(s: &str) -> Vec<String> {
    s.split(',').map(|c| c.trim().to_owned()).collect()
}

fn pg_type(short: &str) -> String {
    if let Some(rest) = short.strip_prefix("varchar") {
        format!("character varying{rest}")
    } else if let Some(rest) = short.strip_prefix("char") {
        format!("character{rest}")
    } else {
        short.to_owned()
    }
}

fn pg_default(short: &str, ty: &str) -> String {
    if short.starts_with('\'') && ty.starts_with("character varying") {
        format!("{short}::character varying")
    } else {
        short.to_owned()
    }
}

/// Parses [`EXPECTED`] for `prefix`.
fn history_table(prefix: &str) -> BTreeMap<String, Table> {
    let mut out = BTreeMap::new();
    let mut name = String::new();
    let mut t = Table::default();
    let mut pk: Vec<String> = Vec::new();
    let mut flush = |name: &str, mut t: Table, pk: &[String]| {
        if name.is_empty() {
            return;
        }
        for c in &mut t.columns {
            if pk.contains(&c.0) {
                c.2 = false;
            }
        }
        t.constraints.sort();
        t.indexes.sort();
        out.insert(name.to_owned(), t);
    };
    for line in EXPECTED.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(n) = line.strip_prefix("table ") {
            flush(&name, std::mem::take(&mut t), &pk);
            name = format!("{prefix}{n}");
            pk.clear();
        } else if let Some(cols) = line.strip_prefix("pk ") {
            pk = list(cols);
            t.constraints.push((
                format!("{name}_pkey"),
                "p".into(),
                pk.clone(),
                String::new(),
                vec![],
                " ".into(),
                " ".into(),
            ));
        } else if let Some(rest) = line.strip_prefix("uq ") {
            let (col, cols) = rest.split_once(": ").unwrap();
            t.constraints.push((
                format!("{name}_{col}_key"),
                "u".into(),
                list(cols),
                String::new(),
                vec![],
                " ".into(),
                " ".into(),
            ));
        } else if let Some(rest) = line.strip_prefix("fk ") {
            let (col, rest) = rest.split_once(": ").unwrap();
            let (cols, target) = rest.split_once(" -> ").unwrap();
            let (target, update) = match target.strip_suffix(" update") {
                Some(t) => (t, "c"),
                None => (target, "a"),
            };
            let (table, ref_cols) = target.trim_end_matches(')').split_once('(').unwrap();
            t.constraints.push((
                format!("{name}_{col}_fkey"),
                "f".into(),
                list(cols),
                format!("{prefix}{table}"),
                list(ref_cols),
                "c".into(),
                update.into(),
            ));
        } else if let Some(rest) = line.strip_prefix("idx ") {
            let (idx, cols) = rest.split_once(": ").unwrap();
            t.indexes.push((format!("{prefix}{idx}"), cols.to_owned()));
        } else {
            let mut parts = line.split_whitespace();
            let col = parts.next().unwrap().to_owned();
            let ty = pg_type(parts.next().unwrap());
            let mut nullable = true;
            let mut default = None;
            for p in parts {
                if p == "NN" {
                    nullable = false;
                } else if let Some(d) = p.strip_prefix('=') {
                    default = Some(pg_default(d, &ty));
                } else {
                    panic!("bad expectation line: {line}");
                }
            }
            t.columns.push((col, ty, nullable, default));
        }
    }
    flush(&name, t, &pk);
    out
}

/// The catalog of the plugin's own DDL, run in a scratch schema, with every name
/// (tables, constraints, indexes) given `prefix` as the migrations do.
async fn plugin_layout(prefix: &str) -> BTreeMap<String, Table> {
    let mut layout = plugin_catalog(prefix, PHASE1).await;
    layout.extend(plugin_catalog(prefix, PHASE2).await);
    layout
}

/// The plugin's phase-1 DDL (migration 1).
const PHASE1: &str = include_str!("../fixtures/supertokens-ddl/postgresql-phase1.sql");
/// The plugin's phase-2 DDL (migration 3); run after phase 1, whose tables it references.
const PHASE2: &str = include_str!("../fixtures/supertokens-ddl/postgresql-phase2.sql");

/// The tables that `part` (PHASE1 or PHASE2) of the plugin's DDL creates, from the
/// catalog of a scratch schema where phase 1 (and `part`) ran, with `prefix` given to
/// every name.
async fn plugin_catalog(prefix: &str, part: &str) -> BTreeMap<String, Table> {
    let ddl = format!("{PHASE1}\n{}", if part == PHASE1 { "" } else { part });
    let schema = storage_tests::harness::unique_name("plugin");
    let c = connect_admin().await;
    c.batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    admin_in(&c, &schema).await;
    let run = c.batch_execute(&ddl).await;
    let layout = actual(&c, &schema).await;
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    run.expect("the plugin's DDL runs");
    let wanted = storage_api::migrate::tables_created(&part.replace(
        "CREATE TABLE IF NOT EXISTS ",
        "CREATE TABLE IF NOT EXISTS {prefix}",
    ));
    layout
        .into_iter()
        .filter(|(name, _)| wanted.contains(name))
        .map(|(name, mut t)| {
            for k in &mut t.constraints {
                k.0 = format!("{prefix}{}", k.0);
                if !k.3.is_empty() {
                    k.3 = format!("{prefix}{}", k.3);
                }
            }
            for i in &mut t.indexes {
                i.0 = format!("{prefix}{}", i.0);
            }
            t.constraints.sort();
            t.indexes.sort();
            (format!("{prefix}{name}"), t)
        })
        .collect()
}

/// What migration 2 adds to the plugin's layout.
fn add_migration_2(layout: &mut BTreeMap<String, Table>, prefix: &str) {
    let sessions = layout
        .get_mut(&format!("{prefix}session_info"))
        .expect("session_info");
    sessions.columns.push((
        "prev_refresh_token_hash_2".into(),
        "character varying(128)".into(),
        true,
        None,
    ));
    sessions.columns.push((
        "refresh_token_rotated_at".into(),
        "bigint".into(),
        true,
        None,
    ));
}

/// What migration 4 adds to the plugin's layout: two indexes.
fn add_migration_4(layout: &mut BTreeMap<String, Table>, prefix: &str) {
    for (table, idx, cols) in [
        (
            "app_id_to_user_id",
            "app_id_to_user_id_linked_idx",
            "app_id, is_linked_or_is_a_primary_user, primary_or_recipe_user_id",
        ),
        (
            "emailverification_tokens",
            "emailverification_tokens_user_idx",
            "app_id, user_id",
        ),
    ] {
        let t = layout.get_mut(&format!("{prefix}{table}")).expect(table);
        t.indexes.push((format!("{prefix}{idx}"), cols.to_owned()));
        t.indexes.sort();
    }
}

/// Migration 5 (`0005_recipes`): the last-active index of the app's counts.
fn add_migration_5(layout: &mut BTreeMap<String, Table>, prefix: &str) {
    let active = layout
        .get_mut(&format!("{prefix}user_last_active"))
        .expect("user_last_active");
    active.indexes.push((
        format!("{prefix}user_last_active_app_time_idx"),
        "app_id, last_active_time".into(),
    ));
    active.indexes.sort();
}

/// Migration 6 (`0006_search`): the search tags' `COLLATE "C"` indexes (a prefix is a
/// byte range of them), the emails' domains as expressions.
fn add_migration_6(layout: &mut BTreeMap<String, Table>, prefix: &str) {
    const DOMAIN: &str =
        "substr((email)::text, (strpos((email)::text, '@'::text) + 1)) COLLATE \"C\"";
    for (table, idx, cols) in [
        (
            "emailpassword_user_to_tenant",
            "email_c_idx",
            "app_id, tenant_id, email COLLATE \"C\"".to_owned(),
        ),
        (
            "emailpassword_user_to_tenant",
            "domain_c_idx",
            format!("app_id, tenant_id, {DOMAIN}"),
        ),
        (
            "passwordless_user_to_tenant",
            "email_c_idx",
            "app_id, tenant_id, email COLLATE \"C\"".to_owned(),
        ),
        (
            "passwordless_user_to_tenant",
            "domain_c_idx",
            format!("app_id, tenant_id, {DOMAIN}"),
        ),
        (
            "passwordless_user_to_tenant",
            "phone_c_idx",
            "app_id, tenant_id, phone_number COLLATE \"C\"".to_owned(),
        ),
        (
            "thirdparty_users",
            "email_c_idx",
            "app_id, email COLLATE \"C\"".to_owned(),
        ),
        (
            "thirdparty_users",
            "domain_c_idx",
            format!("app_id, {DOMAIN}"),
        ),
        (
            "thirdparty_user_to_tenant",
            "provider_c_idx",
            "app_id, tenant_id, third_party_id COLLATE \"C\"".to_owned(),
        ),
    ] {
        let t = layout.get_mut(&format!("{prefix}{table}")).expect(table);
        t.indexes.push((format!("{prefix}{table}_{idx}"), cols));
        t.indexes.sort();
    }
}

/// The whole layout after every migration: the plugin's, migration 2's, 4's, 5's and
/// 6's additions, the history table.
async fn expected(prefix: &str) -> BTreeMap<String, Table> {
    let mut want = plugin_layout(prefix).await;
    add_migration_2(&mut want, prefix);
    add_migration_4(&mut want, prefix);
    add_migration_5(&mut want, prefix);
    add_migration_6(&mut want, prefix);
    want.extend(history_table(prefix));
    want
}

/// Reads every table of `schema` from the catalog.
async fn actual(c: &tokio_postgres::Client, schema: &str) -> BTreeMap<String, Table> {
    let mut out = BTreeMap::new();
    let tables = c
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[&schema],
        )
        .await
        .unwrap();
    for row in tables {
        let name: String = row.get(0);
        let mut t = Table::default();
        for r in c
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, \
                 pg_get_expr(d.adbin, d.adrelid) \
                 FROM pg_attribute a \
                 JOIN pg_class t ON t.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE n.nspname = $1 AND t.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
                &[&schema, &name],
            )
            .await
            .unwrap()
        {
            t.columns.push((r.get(0), r.get(1), r.get(2), r.get(3)));
        }
        for r in c
            .query(
                "SELECT k.conname::text, k.contype::text, \
                 ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i) \
                       JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i), \
                 COALESCE(f.relname::text, ''), \
                 ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i) \
                       JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i), \
                 k.confdeltype::text, k.confupdtype::text \
                 FROM pg_constraint k \
                 JOIN pg_class t ON t.oid = k.conrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 LEFT JOIN pg_class f ON f.oid = k.confrelid \
                 WHERE n.nspname = $1 AND t.relname = $2 AND k.contype IN ('p', 'u', 'f', 'c', 'x') \
                 ORDER BY 1",
                &[&schema, &name],
            )
            .await
            .unwrap()
        {
            t.constraints.push((
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            ));
        }
        for r in c
            .query(
                "SELECT i.relname::text, pg_get_indexdef(i.oid) \
                 FROM pg_index x \
                 JOIN pg_class i ON i.oid = x.indexrelid \
                 JOIN pg_class t ON t.oid = x.indrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE n.nspname = $1 AND t.relname = $2 \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) \
                 ORDER BY 1",
                &[&schema, &name],
            )
            .await
            .unwrap()
        {
            let def: String = r.get(1);
            let cols = def
                .split_once("USING btree (")
                .and_then(|(_, c)| c.strip_suffix(')'))
                .map(str::to_owned)
                .unwrap_or(def.clone());
            assert!(
                def.contains("USING btree"),
                "{def}: every index is a plain btree"
            );
            t.indexes.push((r.get(0), cols));
        }
        t.constraints.sort();
        t.indexes.sort();
        out.insert(name, t);
    }
    out
}

/// Compares table by table, so a failure names the table and shows both sides.
fn compare(schema: &str, got: &BTreeMap<String, Table>, want: &BTreeMap<String, Table>) {
    let got_names: Vec<_> = got.keys().collect();
    let want_names: Vec<_> = want.keys().collect();
    assert_eq!(got_names, want_names, "tables of schema {schema}");
    for (name, w) in want {
        let g = &got[name];
        assert_eq!(g.columns, w.columns, "columns of {schema}.{name}");
        assert_eq!(
            g.constraints, w.constraints,
            "constraints of {schema}.{name}"
        );
        assert_eq!(g.indexes, w.indexes, "indexes of {schema}.{name}");
    }
}

/// Opens, migrates and closes a storage on `uri` with `options`.
async fn migrate(uri: &str, options: OpenOptions) {
    let storage = storage_api::open(uri, options)
        .await
        .expect("open postgres");
    storage_api::migrate_up(&*storage)
        .await
        .expect("migrate postgres");
    storage.close().await;
}

async fn admin_in(client: &tokio_postgres::Client, schema: &str) {
    client
        .batch_execute(&format!("SET search_path TO {schema}"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_layout_has_every_table_of_migrations_1_and_3() {
    let e = plugin_catalog("", PHASE1).await;
    assert_eq!(e.len(), 24, "23 phase-1 tables plus jwt_signing_keys");
    let fks: usize = e
        .values()
        .map(|t| t.constraints.iter().filter(|c| c.1 == "f").count())
        .sum();
    assert_eq!(fks, 25);
    assert_eq!(
        plugin_catalog("", PHASE2).await.len(),
        11,
        "the phase-2 tables"
    );
}

/// `up --to 1` builds exactly the catalog the plugin's DDL builds: names of tables,
/// columns, constraints and indexes, types, defaults, key columns and cascades.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_is_the_plugin_layout() {
    in_fresh_schema(|schema| async move {
        let storage = storage_api::open(
            &base_uri(),
            OpenOptions {
                schema: Some(schema.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("open postgres");
        storage_tests::harness::migrate_to(&*storage, 1).await;
        storage.close().await;
        let c = connect_admin().await;
        let mut got = actual(&c, &schema).await;
        got.remove("schema_migrations");
        compare(&schema, &got, &plugin_catalog("", PHASE1).await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_schema_of_a_fresh_database_without_prefix() {
    let admin = connect_admin().await;
    let db = storage_tests::harness::unique_name("tdb");
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let mut uri = storage_api::ConnectionUri::parse(&base_uri()).unwrap();
    uri.path = db.clone();
    let test = {
        let uri = uri.expose();
        async move {
            migrate(&uri, OpenOptions::default()).await;
            let (c, conn) = tokio_postgres::connect(&uri, NoTls).await.unwrap();
            tokio::spawn(conn);
            let got = actual(&c, "public").await;
            compare("public", &got, &expected("").await);
        }
    };
    then_clean_up(test, async {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixed_tables_in_a_non_default_schema() {
    in_fresh_schema(|schema| async move {
        migrate(
            &base_uri(),
            OpenOptions {
                table_prefix: Some("st".into()),
                schema: Some(schema.clone()),
                ..Default::default()
            },
        )
        .await;
        let c = connect_admin().await;
        let want = expected("st_").await;
        compare(&schema, &actual(&c, &schema).await, &want);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_from_the_uri_is_created_and_two_prefixes_share_it() {
    // Not created beforehand: the backend creates it. Upper case folds to lower.
    let schema = storage_tests::harness::unique_name("t");
    let uri = format!("{}?currentSchema={}", base_uri(), schema.to_uppercase());
    let test = {
        let schema = schema.clone();
        async move {
            migrate(&uri, OpenOptions::default()).await;
            for p in ["a", "b"] {
                migrate(
                    &uri,
                    OpenOptions {
                        table_prefix: Some(p.into()),
                        ..Default::default()
                    },
                )
                .await;
            }
            let c = connect_admin().await;
            admin_in(&c, &schema).await;
            let mut want = expected("").await;
            want.extend(expected("a_").await);
            want.extend(expected("b_").await);
            compare(&schema, &actual(&c, &schema).await, &want);
        }
    };
    then_clean_up(test, drop_schema(&schema)).await;
}
