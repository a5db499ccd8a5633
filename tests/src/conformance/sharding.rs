//! Sharding by app, checked on the migrated catalog (issue 18, part 4): every
//! table's primary key and every foreign key lead with `app_id`, so that a sharded
//! PostgreSQL (Citus: distribution column `app_id`) or any split by app keeps each
//! app's rows, and every join between them, on one shard. Read from the backend's
//! own catalog after migrating, so a migration that breaks it fails here.

use crate::harness::Ctx;
use std::collections::BTreeMap;

/// Tables whose keys may not lead with `app_id` alone: the columns they lead with
/// instead (none: any key), and the reason. The tenant-configuration tables are
/// SuperTokens' own layout (migration 1 is exactly the plugin's DDL, so that a
/// SuperTokens database is adopted as it is): SuperTokens places a tenant under a
/// connection-URI domain, then an app, so their keys lead with
/// `(connection_uri_domain, app_id)`; they are small configuration tables (a sharded
/// database keeps them as reference tables, replicated to every shard). The others
/// are infrastructure, not an app's data.
pub const EXCEPTIONS: &[(&str, &[&str], &str)] = &[
    (
        "tenant_configs",
        &["connection_uri_domain", "app_id"],
        "SuperTokens' layout: tenants under a connection-URI domain",
    ),
    (
        "tenant_first_factors",
        &["connection_uri_domain", "app_id"],
        "SuperTokens' layout: a child of tenant_configs",
    ),
    (
        "tenant_required_secondary_factors",
        &["connection_uri_domain", "app_id"],
        "SuperTokens' layout: a child of tenant_configs",
    ),
    (
        "tenant_thirdparty_providers",
        &["connection_uri_domain", "app_id"],
        "SuperTokens' layout: a child of tenant_configs",
    ),
    (
        "tenant_thirdparty_provider_clients",
        &["connection_uri_domain", "app_id"],
        "SuperTokens' layout: a child of tenant_thirdparty_providers",
    ),
    (
        "schema_migrations",
        &[],
        "the migration history of the whole database, not of an app",
    ),
    (
        "named_locks",
        &[],
        "MariaDB Galera only: lock rows keyed by the lock name (which names the app), held for one transaction",
    ),
    (
        "schema_migrations_lock",
        &[],
        "MariaDB Galera only: the migration lease of the whole database",
    ),
];

/// One key of a table: its kind (`PRIMARY KEY` or `FOREIGN KEY <name>`) and its
/// columns in order.
type Keys = BTreeMap<String, Vec<(String, Vec<String>)>>;

/// `(table, key, column)` rows, ordered by table, key and position, to [`Keys`].
fn group(rows: Vec<Vec<Option<String>>>) -> Keys {
    let mut keys: Keys = BTreeMap::new();
    for r in rows {
        let cell = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        let (table, key, column) = (cell(0), cell(1), cell(2));
        let list = keys.entry(table).or_default();
        match list.last_mut() {
            Some((k, cols)) if *k == key => cols.push(column),
            _ => list.push((key, vec![column])),
        }
    }
    keys
}

/// The primary and foreign keys of every table of the test's database (with the
/// test's prefix), from the backend's catalog.
async fn keys(ctx: &Ctx) -> Keys {
    let rows = match ctx.backend {
        "postgresql" => {
            ctx.raw
                .query(
                    "SELECT c.relname::text, \
                       CASE k.contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'FOREIGN KEY ' || k.conname END, \
                       a.attname::text \
                     FROM pg_constraint k \
                     JOIN pg_class c ON c.oid = k.conrelid \
                     JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, pos) ON true \
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum \
                     WHERE k.contype IN ('p', 'f') AND c.relnamespace = current_schema()::regnamespace \
                     ORDER BY 1, 2, u.pos",
                )
                .await
        }
        "mysql" => {
            ctx.raw
                .query(
                    "SELECT TABLE_NAME, \
                       IF(CONSTRAINT_NAME = 'PRIMARY', 'PRIMARY KEY', CONCAT('FOREIGN KEY ', CONSTRAINT_NAME)), \
                       COLUMN_NAME \
                     FROM information_schema.KEY_COLUMN_USAGE \
                     WHERE TABLE_SCHEMA = DATABASE() \
                       AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL) \
                     ORDER BY 1, 2, ORDINAL_POSITION",
                )
                .await
        }
        "sqlite" => {
            ctx.raw
                .query(
                    "SELECT m.name, 'PRIMARY KEY', p.name \
                       FROM sqlite_master m, pragma_table_info(m.name) p \
                       WHERE m.type = 'table' AND p.pk > 0 AND m.name NOT LIKE 'sqlite_%' \
                     UNION ALL \
                     SELECT m.name, 'FOREIGN KEY ' || f.id, f.\"from\" \
                       FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
                       WHERE m.type = 'table' \
                     ORDER BY 1, 2",
                )
                .await
        }
        other => panic!("no catalog query for backend {other}"),
    };
    let mut keys = group(rows);
    if ctx.backend == "sqlite" {
        // pragma_table_info numbers the primary-key columns (pk = position) and
        // pragma_foreign_key_list the key's columns (seq); read them in order.
        sqlite_order(ctx, &mut keys).await;
    }
    keys.retain(|t, _| t.starts_with(&ctx.prefix));
    keys
}

/// Puts the columns of SQLite's keys in key order (the UNION above cannot).
async fn sqlite_order(ctx: &Ctx, keys: &mut Keys) {
    for (table, list) in keys.iter_mut() {
        for (key, cols) in list.iter_mut() {
            let sql = if key == "PRIMARY KEY" {
                format!("SELECT name FROM pragma_table_info('{table}') WHERE pk > 0 ORDER BY pk")
            } else {
                let id = key.trim_start_matches("FOREIGN KEY ");
                format!(
                    "SELECT \"from\" FROM pragma_foreign_key_list('{table}') WHERE id = {id} ORDER BY seq"
                )
            };
            *cols = ctx
                .raw
                .query(&sql)
                .await
                .into_iter()
                .map(|r| r.into_iter().next().flatten().unwrap_or_default())
                .collect();
        }
    }
}

/// Every table has a primary key, and every table's primary key and every foreign
/// key lead with `app_id` (with the columns [`EXCEPTIONS`] names instead, for the
/// tables it lists).
pub async fn every_key_leads_with_app_id(ctx: Ctx) {
    let keys = keys(&ctx).await;
    assert!(
        keys.len() >= 20,
        "the catalog shows only {} tables with keys: {keys:?}",
        keys.len()
    );
    let mut wrong = Vec::new();
    for (table, list) in &keys {
        let base = table.strip_prefix(&ctx.prefix).unwrap_or(table);
        let lead: &[&str] = EXCEPTIONS
            .iter()
            .find(|(t, _, _)| *t == base)
            .map_or(&["app_id"], |(_, lead, _)| lead);
        if !list.iter().any(|(k, _)| k == "PRIMARY KEY") {
            wrong.push(format!("{table}: no primary key"));
        }
        for (key, cols) in list {
            if !cols.starts_with(&lead.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>()) {
                wrong.push(format!("{table}: {key} ({})", cols.join(", ")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "keys that do not lead with app_id on {}:\n{}",
        ctx.backend,
        wrong.join("\n")
    );
}
