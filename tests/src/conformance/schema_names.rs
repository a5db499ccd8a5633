//! The table and column names the statements of `storage-sql` are written with (one
//! enum per table, `storage_sql::declared_tables`) are exactly those of the migrated
//! schema, so the declarations cannot drift from the migrations of any backend; and
//! every foreign key of the catalog is one `storage_sql::ForeignKey` names.

use crate::harness::Ctx;
use std::collections::BTreeMap;

/// The tables the backends keep for themselves, which no statement of `storage-sql`
/// names: the migration history, and on MariaDB Galera the lock rows of named locks and
/// the migration lease (`storage-mysql`, created at pool start on a cluster).
const BACKEND_TABLES: [&str; 3] = ["schema_migrations", "named_locks", "schema_migrations_lock"];

/// Every table of the test's database with its columns sorted by name, prefix
/// removed (tables without the prefix are not the storage's).
async fn migrated(ctx: &Ctx) -> BTreeMap<String, Vec<String>> {
    let sql = match ctx.backend {
        "sqlite" => {
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid"
        }
        b if b.starts_with("postgres") => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        }
        _ => {
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION"
        }
    };
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in ctx.raw.query(sql).await {
        let cell = |i: usize| row[i].clone().expect("a name");
        let Some(table) = cell(0).strip_prefix(&ctx.prefix).map(str::to_owned) else {
            continue;
        };
        if !BACKEND_TABLES.contains(&table.as_str()) {
            out.entry(table).or_default().push(cell(1));
        }
    }
    // The backends' DDL orders some columns differently; statements name columns.
    out.values_mut().for_each(|cols| cols.sort());
    out
}

/// The MySQL-only `VIRTUAL` generated columns of migration 6 (the email domain the
/// search tags range over; MariaDB has no functional indexes, so the index needs a
/// column). Statements never write them and read them only in `storage-sql/src/search.rs`
/// (MySQL's domain target); the other backends index an expression instead.
const MYSQL_GENERATED: [(&str, &str); 3] = [
    ("emailpassword_user_to_tenant", "email_domain"),
    ("passwordless_user_to_tenant", "email_domain"),
    ("thirdparty_users", "email_domain"),
];

async fn check(ctx: Ctx) {
    let mut got = migrated(&ctx).await;
    if ctx.backend != "sqlite" && !ctx.backend.starts_with("postgres") {
        for (table, col) in MYSQL_GENERATED {
            let cols = got.get_mut(table);
            let at = cols.as_ref().and_then(|c| c.iter().position(|c| c == col));
            match (cols, at) {
                (Some(cols), Some(i)) => {
                    cols.remove(i);
                }
                _ => panic!("{}: {table}.{col} (migration 6) is missing", ctx.backend),
            }
        }
    }
    let declared: BTreeMap<String, Vec<String>> = storage_sql::declared_tables()
        .into_iter()
        .map(|(t, cols)| {
            let mut cols: Vec<String> = cols.into_iter().map(str::to_owned).collect();
            cols.sort();
            (t.to_owned(), cols)
        })
        .collect();
    assert!(got.len() > 30, "{}: read {} tables", ctx.backend, got.len());
    for (table, cols) in &declared {
        assert_eq!(
            got.get(table),
            Some(cols),
            "{}: columns of {table}, migrated (left) and declared in storage-sql (right)",
            ctx.backend
        );
    }
    let undeclared: Vec<&String> = got.keys().filter(|t| !declared.contains_key(*t)).collect();
    assert!(
        undeclared.is_empty(),
        "{}: tables of the migrations that storage-sql does not declare: {undeclared:?}",
        ctx.backend
    );
}

/// Every foreign key of the catalog as (its name, the table it references), prefix
/// kept: the name is PostgreSQL's constraint name, elsewhere empty (MySQL names them
/// `<table>_ibfk_<n>`, SQLite not at all).
async fn foreign_keys(ctx: &Ctx) -> Vec<(String, String)> {
    let sql = match ctx.backend {
        "sqlite" => {
            "SELECT '', f.\"table\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' AND f.seq = 0"
        }
        b if b.starts_with("postgres") => {
            "SELECT conname::text, confrelid::regclass::text FROM pg_constraint \
             WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
        }
        _ => {
            "SELECT '', REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = DATABASE()"
        }
    };
    ctx.raw
        .query(sql)
        .await
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap_or_default(),
                r[1].clone().expect("a table"),
            )
        })
        .collect()
}

/// What a violation of each foreign key reports is the key of its parent table:
/// PostgreSQL by constraint name, MySQL by the referenced table; SQLite reports no
/// key (`ForeignKey::Unnamed`), but its parents are named too.
pub async fn foreign_keys_are_named_by_their_parent_prefixed(ctx: Ctx) {
    let fks = foreign_keys(&ctx).await;
    assert!(
        fks.len() >= 37,
        "{}: {} foreign keys",
        ctx.backend,
        fks.len()
    );
    for (name, parent) in fks {
        let key = storage_sql::ForeignKey::from_parent(&parent);
        let bare = parent.strip_prefix(&ctx.prefix).unwrap_or(&parent);
        assert_eq!(
            key.parent(),
            Some(bare),
            "{}: {name} -> {parent}",
            ctx.backend
        );
        if ctx.backend.starts_with("postgres") {
            assert_eq!(
                storage_sql::ForeignKey::from_constraint(&name),
                key,
                "{}: {name}",
                ctx.backend
            );
        }
    }
}

/// Each declared table has exactly the migrated columns (compared as sets: the
/// backends' DDL orders a few differently), and every migrated table is declared.
pub async fn declared_tables_are_the_migrated_ones(ctx: Ctx) {
    check(ctx).await;
}

/// The same with the table prefix `st`.
pub async fn declared_tables_are_the_migrated_ones_prefixed(ctx: Ctx) {
    check(ctx).await;
}
