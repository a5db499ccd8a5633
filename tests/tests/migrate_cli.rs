//! The `migrate` CLI (shared/spec/migrate.md) on SQLite, PostgreSQL and MariaDB, run
//! in-process through `migrate_cli::run`: each scenario is written once and stamped
//! out per backend, on a fresh empty database (a SQLite file in a temporary
//! directory, a PostgreSQL schema passed as `--schema`, a MariaDB database).
//!
//! The tests that start the real binary (two concurrent `migrate up` processes, the
//! environment variables, the process exit status) live in
//! `migrate-cli/tests/binary.rs`.

#[path = "migrate_cli/db.rs"]
mod db;

use db::{Kind, TestDb};
use migrate_cli::{Outcome, exit, run};
use serde_json::Value;
use storage_api::migrate::{step_for, tables_created};
use storage_api::{AppId, TenantIdentifier};

/// The table prefix of most tests.
const P: &str = "st";

async fn migrate(db: &TestDb, prefix: Option<&str>, rest: &[&str]) -> Outcome {
    run(db.args(prefix, rest)).await
}

/// Parses stdout as the single JSON document of `--format json`.
fn json(o: &Outcome) -> Value {
    o.json()
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", o.stdout))
}

/// The phase-1 tables of the backend with `prefix` (with joiner), sorted.
fn phase1_tables(kind: Kind, prefix: &str) -> Vec<String> {
    let mut t: Vec<String> = tables_created(kind.migrations()[0].up)
        .into_iter()
        .map(|t| format!("{prefix}{t}"))
        .collect();
    t.sort();
    t
}

/// The tables of every migration plus the history table.
fn full_schema(kind: Kind, prefix: &str) -> Vec<String> {
    let mut t: Vec<String> = kind
        .migrations()
        .iter()
        .flat_map(|m| tables_created(m.up))
        .map(|t| format!("{prefix}{t}"))
        .collect();
    t.push(format!("{prefix}schema_migrations"));
    t.sort();
    t
}

fn assert_code(o: &Outcome, code: i32) {
    assert_eq!(
        o.code, code,
        "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        o.stdout, o.stderr
    );
}

/// How many migrations the backend has, and the newest version.
fn known(kind: Kind) -> (i64, u32) {
    let m = kind.migrations();
    (m.len() as i64, m.last().expect("a migration").version)
}

const ZERO_CHECKSUM: &str = "0000000000000000000000000000000000000000000000000000000000000000";

// ---------------------------------------------------------------- scenarios

/// `up` on an empty database creates the schema; a second `up` does nothing;
/// `down --to 0` needs `--allow-data-loss`, then removes everything the migration
/// created; `up` again works.
async fn up_down_up(kind: Kind) {
    let db = TestDb::new(kind).await;
    assert!(db.tables().await.is_empty());

    let o = migrate(&db, Some(P), &["up"]).await;
    assert_code(&o, exit::OK);
    assert!(
        o.stdout.contains("phase1") && o.stdout.contains("applied"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("database: "), "{}", o.stdout);
    let (n, newest) = known(kind);
    assert_eq!(db.tables().await, full_schema(kind, "st_"));
    assert_eq!(db.count("st_schema_migrations").await, n);
    assert_eq!(
        db.scalar("SELECT state FROM st_schema_migrations WHERE version = 1")
            .await
            .as_deref(),
        Some("applied")
    );

    let o = migrate(&db, Some(P), &["up"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("nothing to apply"), "{}", o.stdout);
    let o = migrate(&db, Some(P), &["up", "--format", "json"]).await;
    assert_code(&o, exit::OK);
    let j = json(&o);
    assert_eq!(j["applied"], serde_json::json!([]));
    assert_eq!(j["version"], newest);
    assert_eq!(db.count("st_schema_migrations").await, n);

    // Phase 1's down script drops tables: refused without the flag, nothing dropped.
    let o = migrate(&db, Some(P), &["down", "--to", "0"]).await;
    assert_code(&o, exit::USAGE);
    assert!(o.stderr.contains("--allow-data-loss"), "{}", o.stderr);
    assert!(o.stderr.contains("st_apps"), "{}", o.stderr);
    assert_eq!(db.tables().await, full_schema(kind, "st_"));

    let o = migrate(&db, Some(P), &["down", "--to", "0", "--allow-data-loss"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("reverted"), "{}", o.stdout);
    assert_eq!(db.tables().await, vec!["st_schema_migrations".to_owned()]);
    assert_eq!(db.count("st_schema_migrations").await, 0);

    let o = migrate(&db, Some(P), &["down", "--to", "0", "--allow-data-loss"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("nothing to revert"), "{}", o.stdout);

    let o = migrate(&db, Some(P), &["up"]).await;
    assert_code(&o, exit::OK);
    assert_eq!(db.tables().await, full_schema(kind, "st_"));
    assert_eq!(db.count("st_schema_migrations").await, n);
}

/// Without a prefix the tables carry their base names.
async fn up_without_prefix(kind: Kind) {
    let db = TestDb::new(kind).await;
    let o = migrate(&db, None, &["up"]).await;
    assert_code(&o, exit::OK);
    assert_eq!(db.tables().await, full_schema(kind, ""));
    assert!(o.stdout.contains("no table prefix"), "{}", o.stdout);
}

/// `status` lists pending and applied migrations; `--exit-code` gives 1 while
/// something is pending; the JSON form is one valid document.
async fn status_reports(kind: Kind) {
    let db = TestDb::new(kind).await;
    let o = migrate(&db, Some(P), &["status"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("pending"), "{}", o.stdout);
    let o = migrate(&db, Some(P), &["status", "--exit-code"]).await;
    assert_code(&o, exit::PENDING);
    let o = migrate(&db, Some(P), &["status", "--exit-code", "--format", "json"]).await;
    assert_code(&o, exit::PENDING);
    let j = json(&o);
    assert_eq!(j["pending"], serde_json::json!([1, 2, 3, 4, 5, 6]));
    assert_eq!(j["up_to_date"], false);
    assert_eq!(j["ok"], true);
    assert_eq!(j["exit_code"], 1);
    assert_eq!(j["migrations"][0]["state"], "pending");

    let o = migrate(&db, Some(P), &["up", "--to", "1"]).await;
    assert_code(&o, exit::OK);
    let o = migrate(&db, Some(P), &["status", "--exit-code", "--format", "json"]).await;
    assert_code(&o, exit::PENDING);
    let j = json(&o);
    assert_eq!(j["pending"], serde_json::json!([2, 3, 4, 5, 6]));
    assert_eq!(j["migrations"][0]["state"], "applied");
    assert_eq!(j["migrations"][1]["state"], "pending");
    assert_code(&migrate(&db, Some(P), &["up"]).await, exit::OK);
    let o = migrate(&db, Some(P), &["status", "--exit-code"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("up to date"), "{}", o.stdout);
    let o = migrate(&db, Some(P), &["--format", "json", "status"]).await;
    assert_code(&o, exit::OK);
    let j = json(&o);
    assert_eq!(j["migrations"][0]["state"], "applied");
    assert_eq!(j["migrations"][0]["version"], 1);
    assert_eq!(j["up_to_date"], true);
    assert_eq!(j["database"]["table_prefix"], "st_");
    assert_eq!(j["database"]["source"], "--database-url");
    assert!(j["error"].is_null());

    // A version this binary does not know.
    let o = migrate(&db, Some(P), &["up", "--to", "77"]).await;
    assert_code(&o, exit::USAGE);
    let o = migrate(&db, Some(P), &["down", "--to", "77"]).await;
    assert_code(&o, exit::USAGE);
}

/// `--dry-run` prints the exact SQL with the configured prefix and changes nothing.
async fn dry_run_changes_nothing(kind: Kind) {
    let db = TestDb::new(kind).await;
    let step = step_for(&kind.migrations()[0], "st_");

    let o = migrate(&db, Some(P), &["up", "--dry-run"]).await;
    assert_code(&o, exit::OK);
    for s in &step.statements {
        assert!(
            o.stdout.contains(&format!("{s};")),
            "missing statement in dry-run output: {s}\n{}",
            o.stdout
        );
    }
    assert!(o.stdout.contains("st_apps"), "{}", o.stdout);
    for line in o.stdout.lines() {
        if line.starts_with("CREATE TABLE") {
            assert!(line.contains(" st_"), "unprefixed table: {line}");
        }
    }
    // Everything that is not SQL is an SQL comment, so the output runs as a script.
    assert!(
        o.stdout
            .lines()
            .next()
            .unwrap()
            .starts_with("-- database: "),
        "{}",
        o.stdout
    );
    assert!(db.tables().await.is_empty());
    if let Some(path) = &db.path {
        assert!(!path.exists(), "dry-run created the SQLite file");
    }

    let o = migrate(&db, Some(P), &["up", "--dry-run", "--format", "json"]).await;
    assert_code(&o, exit::OK);
    let j = json(&o);
    assert_eq!(j["dry_run"], true);
    assert_eq!(
        j["steps"][0]["statements"],
        serde_json::to_value(&step.statements).unwrap()
    );
    assert!(db.tables().await.is_empty());

    // Down, baseline and repair in dry-run on a migrated database change nothing.
    assert_code(&migrate(&db, Some(P), &["up"]).await, exit::OK);
    let o = migrate(&db, Some(P), &["down", "--to", "0", "--dry-run"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("DROP TABLE"), "{}", o.stdout);
    assert!(o.stdout.contains("st_session_info"), "{}", o.stdout);
    assert!(o.stdout.contains("--allow-data-loss"), "{}", o.stdout);
    for args in [["baseline", "--dry-run"], ["repair", "--dry-run"]] {
        assert_code(&migrate(&db, Some(P), &args).await, exit::OK);
    }
    assert_eq!(db.tables().await, full_schema(kind, "st_"));
    assert_eq!(db.count("st_schema_migrations").await, known(kind).0);
}

/// An applied migration whose SQL changed (its recorded checksum differs) is shown
/// by `status` with both checksums, and `up` refuses with exit 4.
async fn edited_migration_is_refused(kind: Kind) {
    let db = TestDb::new(kind).await;
    assert_code(&migrate(&db, Some(P), &["up"]).await, exit::OK);
    db.exec(&format!(
        "UPDATE st_schema_migrations SET checksum = '{ZERO_CHECKSUM}' WHERE version = 1"
    ))
    .await;
    let current = kind.migrations()[0].checksum();

    let o = migrate(&db, Some(P), &["status"]).await;
    assert_code(&o, exit::FAILED);
    assert!(o.stdout.contains("CHANGED"), "{}", o.stdout);
    assert!(o.stdout.contains(ZERO_CHECKSUM) && o.stdout.contains(&current));
    assert!(
        o.stderr.contains("changed after it was applied"),
        "{}",
        o.stderr
    );

    let o = migrate(&db, Some(P), &["status", "--format", "json"]).await;
    assert_code(&o, exit::FAILED);
    let j = json(&o);
    assert_eq!(j["ok"], false);
    assert_eq!(j["error"]["kind"], "checksum_mismatch");
    assert_eq!(j["error"]["recorded_checksum"], ZERO_CHECKSUM);
    assert_eq!(j["error"]["current_checksum"], current.as_str());
    assert_eq!(j["migrations"][0]["state"], "changed");

    let o = migrate(&db, Some(P), &["up"]).await;
    assert_code(&o, exit::FAILED);
    assert!(o.stderr.contains(ZERO_CHECKSUM) && o.stderr.contains(&current));
    let o = migrate(&db, Some(P), &["up", "--format", "json"]).await;
    assert_code(&o, exit::FAILED);
    assert_eq!(json(&o)["error"]["kind"], "checksum_mismatch");
}

/// A migration that fails half-way: a table created by hand beforehand makes it
/// fail. MariaDB commits DDL as it goes, so a `started` row stays; `status` shows it,
/// `up` refuses; once the database is fixed, `repair` then `up` succeed. PostgreSQL
/// and SQLite roll the migration back with its history row.
async fn failed_migration_then_repair(kind: Kind) {
    let db = TestDb::new(kind).await;
    // `tenants` with the wrong shape: CREATE TABLE tenants fails where the backend
    // creates it unconditionally; where it uses IF NOT EXISTS (MySQL), the next
    // table's foreign key to tenants (app_id, tenant_id) fails.
    db.exec("CREATE TABLE st_tenants (x INTEGER)").await;

    let o = migrate(&db, Some(P), &["up"]).await;
    assert_code(&o, exit::FAILED);
    assert!(
        o.stderr
            .contains("migration 1 (phase1) failed at statement"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("statement: CREATE"), "{}", o.stderr);

    if kind.non_transactional_ddl() {
        assert!(o.stderr.contains("repair"), "{}", o.stderr);
        assert!(
            o.stderr.contains("--table-prefix st repair"),
            "{}",
            o.stderr
        );
        assert_eq!(
            db.scalar("SELECT state FROM st_schema_migrations WHERE version = 1")
                .await
                .as_deref(),
            Some("started")
        );
        // Half-way: the first tables exist.
        assert!(db.tables().await.contains(&"st_apps".to_owned()));

        let o = migrate(&db, Some(P), &["status"]).await;
        assert_code(&o, exit::FAILED);
        assert!(o.stdout.contains("FAILED"), "{}", o.stdout);
        assert!(o.stderr.contains("migrate repair"), "{}", o.stderr);
        let j = json(&migrate(&db, Some(P), &["status", "--format", "json"]).await);
        assert_eq!(j["error"]["kind"], "failed_row");
        assert_eq!(j["migrations"][0]["state"], "failed");

        let o = migrate(&db, Some(P), &["up"]).await;
        assert_code(&o, exit::FAILED);
        assert!(o.stderr.contains("repair"), "{}", o.stderr);

        // repair --dry-run changes nothing.
        let o = migrate(&db, Some(P), &["repair", "--dry-run"]).await;
        assert_code(&o, exit::OK);
        assert!(o.stdout.contains("would delete"), "{}", o.stdout);
        assert_eq!(db.count("st_schema_migrations").await, 1);

        // The operator fixes the database, then repairs.
        db.exec("DROP TABLE st_tenants").await;
        let o = migrate(&db, Some(P), &["repair"]).await;
        assert_code(&o, exit::OK);
        assert!(o.stdout.contains("pending again"), "{}", o.stdout);
        assert_eq!(db.count("st_schema_migrations").await, 0);
        let o = migrate(&db, Some(P), &["repair"]).await;
        assert_code(&o, exit::OK);
        assert!(o.stdout.contains("nothing to repair"), "{}", o.stdout);
    } else {
        assert!(o.stderr.contains("rolled back"), "{}", o.stderr);
        let left: Vec<String> = db
            .tables()
            .await
            .into_iter()
            .filter(|t| t != "st_schema_migrations")
            .collect();
        assert_eq!(left, vec!["st_tenants".to_owned()], "not rolled back");
        if db
            .tables()
            .await
            .contains(&"st_schema_migrations".to_owned())
        {
            assert_eq!(db.count("st_schema_migrations").await, 0);
        }
        db.exec("DROP TABLE st_tenants").await;
    }

    let o = migrate(&db, Some(P), &["up"]).await;
    assert_code(&o, exit::OK);
    assert_eq!(db.tables().await, full_schema(kind, "st_"));
    assert_code(
        &migrate(&db, Some(P), &["status", "--exit-code"]).await,
        exit::OK,
    );
}

/// A `started` row written by hand (a crash on any backend): `status` and `up`
/// report it; `repair --assume-applied` marks it applied; `repair` forgets it, and
/// `baseline` then recognises the tables again.
async fn started_row_repair(kind: Kind) {
    let db = TestDb::new(kind).await;
    assert_code(&migrate(&db, Some(P), &["up"]).await, exit::OK);
    db.exec("UPDATE st_schema_migrations SET state = 'started' WHERE version = 1")
        .await;
    assert_code(&migrate(&db, Some(P), &["status"]).await, exit::FAILED);
    let o = migrate(&db, Some(P), &["up", "--format", "json"]).await;
    assert_code(&o, exit::FAILED);
    assert_eq!(json(&o)["error"]["kind"], "failed_row");

    let o = migrate(&db, Some(P), &["repair", "--assume-applied"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("marked migration 1"), "{}", o.stdout);
    assert_code(
        &migrate(&db, Some(P), &["status", "--exit-code"]).await,
        exit::OK,
    );

    db.exec("UPDATE st_schema_migrations SET state = 'started' WHERE version = 1")
        .await;
    let o = migrate(&db, Some(P), &["repair", "--format", "json"]).await;
    assert_code(&o, exit::OK);
    assert_eq!(json(&o)["forgotten"][0]["version"], 1);
    // Version 1 forgotten while 2 is applied: out of order until the history is
    // rebuilt. With the history lost entirely, `baseline` recognises version 1 and
    // `up` applies version 2 again over what is already there.
    assert_code(&migrate(&db, Some(P), &["status"]).await, exit::FAILED);
    db.exec("DELETE FROM st_schema_migrations").await;
    assert_code(
        &migrate(&db, Some(P), &["status", "--exit-code"]).await,
        exit::PENDING,
    );
    let o = migrate(&db, Some(P), &["baseline"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("run `migrate up`"), "{}", o.stdout);
    assert_code(
        &migrate(&db, Some(P), &["status", "--exit-code"]).await,
        exit::PENDING,
    );
    assert_code(&migrate(&db, Some(P), &["up"]).await, exit::OK);
    assert_code(
        &migrate(&db, Some(P), &["status", "--exit-code"]).await,
        exit::OK,
    );
}

/// A history row of a version this binary does not know is an inconsistency.
async fn unknown_version_is_reported(kind: Kind) {
    let db = TestDb::new(kind).await;
    assert_code(&migrate(&db, Some(P), &["up"]).await, exit::OK);
    db.exec(&format!(
        "INSERT INTO st_schema_migrations (version, name, checksum, state, applied_at, execution_ms) \
         VALUES (99, 'from_the_future', '{ZERO_CHECKSUM}', 'applied', 0, 0)"
    ))
    .await;
    let o = migrate(&db, Some(P), &["status", "--format", "json"]).await;
    assert_code(&o, exit::FAILED);
    let j = json(&o);
    assert_eq!(j["error"]["kind"], "unknown_version");
    assert_eq!(j["unknown"][0]["version"], 99);
    let o = migrate(&db, Some(P), &["up"]).await;
    assert_code(&o, exit::FAILED);
    assert!(o.stderr.contains("newer binary"), "{}", o.stderr);
}

/// Rows as SuperTokens would have written them, for `baseline`. The MySQL plugin's
/// `app_id_to_user_id` has no times joined: migration 2 adds and backfills them.
fn supertokens_rows(kind: Kind) -> String {
    let user = if kind == Kind::Mysql {
        "INSERT INTO st_app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id,
    is_linked_or_is_a_primary_user)
    VALUES ('public', '6f1c2a4e-0000-4000-8000-000000000001', 'emailpassword',
    '6f1c2a4e-0000-4000-8000-000000000001', FALSE);"
    } else {
        "INSERT INTO st_app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id,
    is_linked_or_is_a_primary_user, time_joined, primary_or_recipe_user_time_joined)
    VALUES ('public', '6f1c2a4e-0000-4000-8000-000000000001', 'emailpassword',
    '6f1c2a4e-0000-4000-8000-000000000001', FALSE, 1000, 1000);"
    };
    format!("{SUPERTOKENS_TENANT}{user}{SUPERTOKENS_USER_ROWS}")
}

const SUPERTOKENS_TENANT: &str = "
INSERT INTO st_apps (app_id, created_at_time) VALUES ('public', 1);
INSERT INTO st_tenants (app_id, tenant_id, created_at_time) VALUES ('public', 'public', 1);
INSERT INTO st_key_value (app_id, tenant_id, name, value, created_at_time)
    VALUES ('public', 'public', 'greeting', 'hello', 5);
";

const SUPERTOKENS_USER_ROWS: &str = "
INSERT INTO st_all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id,
    is_linked_or_is_a_primary_user, recipe_id, time_joined, primary_or_recipe_user_time_joined)
    VALUES ('public', 'public', '6f1c2a4e-0000-4000-8000-000000000001',
    '6f1c2a4e-0000-4000-8000-000000000001', FALSE, 'emailpassword', 1000, 1000);
INSERT INTO st_emailpassword_users (app_id, user_id, email, password_hash, time_joined)
    VALUES ('public', '6f1c2a4e-0000-4000-8000-000000000001', 'ada@example.com', '$2a$10$hash', 1000);
INSERT INTO st_emailpassword_user_to_tenant (app_id, tenant_id, user_id, email)
    VALUES ('public', 'public', '6f1c2a4e-0000-4000-8000-000000000001', 'ada@example.com');
";

/// `baseline` adopts a database created the way SuperTokens creates it (the phase-1
/// tables by plain SQL, no history, some rows): it records migration 1 without
/// running it, `status` shows nothing pending, and the storage reads the rows.
async fn baseline_adopts_existing_database(kind: Kind) {
    let db = TestDb::new(kind).await;
    db.create_phase1_by_hand("st_").await;
    db.exec(&supertokens_rows(kind)).await;
    assert_eq!(db.tables().await, phase1_tables(kind, "st_"));
    assert_code(
        &migrate(&db, Some(P), &["status", "--exit-code"]).await,
        exit::PENDING,
    );

    let o = migrate(&db, Some(P), &["baseline", "--dry-run"]).await;
    assert_code(&o, exit::OK);
    assert!(
        o.stdout.contains("would record migration 1"),
        "{}",
        o.stdout
    );
    assert_eq!(db.tables().await, phase1_tables(kind, "st_"));

    let o = migrate(&db, Some(P), &["baseline"]).await;
    assert_code(&o, exit::OK);
    let n = phase1_tables(kind, "").len();
    assert!(
        o.stdout
            .contains(&format!("found all {n} tables of migration 1 (phase1)")),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("recorded migration 1 (phase1) as applied"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains("5 migrations pending (2 project, 3 phase2, 4 linking, 5 recipes, 6 search)"),
        "{}",
        o.stdout
    );
    assert_eq!(db.count("st_schema_migrations").await, 1);
    assert_eq!(
        db.scalar("SELECT checksum FROM st_schema_migrations WHERE version = 1")
            .await,
        Some(kind.migrations()[0].checksum())
    );

    let o = migrate(&db, Some(P), &["status", "--exit-code", "--format", "json"]).await;
    assert_code(&o, exit::PENDING);
    let j = json(&o);
    assert_eq!(j["pending"], serde_json::json!([2, 3, 4, 5, 6]));
    let o = migrate(&db, Some(P), &["up"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("project"), "{}", o.stdout);
    let o = migrate(&db, Some(P), &["status", "--exit-code"]).await;
    assert_code(&o, exit::OK);
    let o = migrate(&db, Some(P), &["up"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("nothing to apply"), "{}", o.stdout);
    let o = migrate(&db, Some(P), &["baseline"]).await;
    assert_code(&o, exit::OK);
    assert!(o.stdout.contains("nothing to do"), "{}", o.stdout);

    // The data is untouched and the storage serves it.
    let storage = storage_api::open(&db.uri, db.open_options(Some(P)))
        .await
        .expect("open the adopted database");
    let user = storage
        .get_user(&AppId::public(), "6f1c2a4e-0000-4000-8000-000000000001")
        .await
        .expect("get_user")
        .expect("the existing user");
    assert_eq!(user.time_joined, 1000);
    let kv = storage
        .kv_get(&TenantIdentifier::default_public(), "greeting")
        .await
        .expect("kv_get")
        .expect("the existing key");
    assert_eq!(kv.value, "hello");
    assert_eq!(kv.created_at, 5);
    storage.close().await;
}

/// `baseline` refuses a database with only part of the phase-1 tables (exit 4,
/// naming what is missing, recording nothing), and one without any (exit 2, e.g. a
/// wrong prefix).
async fn baseline_refuses_partial_or_empty(kind: Kind) {
    let db = TestDb::new(kind).await;
    let o = migrate(&db, Some(P), &["baseline"]).await;
    assert_code(&o, exit::USAGE);
    assert!(o.stderr.contains("nothing to adopt"), "{}", o.stderr);

    db.create_phase1_by_hand("st_").await;
    // The wrong prefix finds nothing.
    let o = migrate(&db, Some("ot"), &["baseline", "--format", "json"]).await;
    assert_code(&o, exit::USAGE);
    assert_eq!(json(&o)["error"]["kind"], "nothing_to_baseline");

    db.exec("DROP TABLE st_emailverification_verified_emails")
        .await;
    let o = migrate(&db, Some(P), &["baseline"]).await;
    assert_code(&o, exit::FAILED);
    assert!(
        o.stderr.contains("only part of migration 1")
            && o.stderr.contains("st_emailverification_verified_emails"),
        "{}",
        o.stderr
    );
    let o = migrate(&db, Some(P), &["baseline", "--format", "json"]).await;
    assert_code(&o, exit::FAILED);
    let j = json(&o);
    assert_eq!(j["error"]["kind"], "partial_schema");
    assert_eq!(
        j["error"]["missing"],
        serde_json::json!(["st_emailverification_verified_emails"])
    );
    assert!(
        !db.tables()
            .await
            .contains(&"st_schema_migrations".to_owned())
    );
}

macro_rules! on_backend {
    ($module:ident, $kind:expr, [$($name:ident),* $(,)?]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($kind).await
                }
            )*
        }
    };
}

macro_rules! on_all_backends {
    ($($name:ident),* $(,)?) => {
        on_backend!(sqlite, super::Kind::Sqlite, [$($name),*]);
        on_backend!(postgres, super::Kind::Postgres, [$($name),*]);
        on_backend!(mariadb, super::Kind::Mysql, [$($name),*]);
    };
}

on_all_backends!(
    up_down_up,
    up_without_prefix,
    status_reports,
    dry_run_changes_nothing,
    edited_migration_is_refused,
    failed_migration_then_repair,
    started_row_repair,
    unknown_version_is_reported,
    baseline_adopts_existing_database,
    baseline_refuses_partial_or_empty,
);

/// Another writer holds the lock: `up` waits `--lock-timeout` seconds, then exits 4
/// and says what to do; once the lock is free, `up` succeeds. (SQLite: the lock is
/// the write transaction, so a plain `BEGIN IMMEDIATE` elsewhere holds it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_lock_timeout_exit_4() {
    let db = TestDb::new(Kind::Sqlite).await;
    let holder = rusqlite::Connection::open(db.path.as_ref().unwrap()).unwrap();
    holder
        .execute_batch("PRAGMA journal_mode = WAL; BEGIN IMMEDIATE")
        .unwrap();
    let started = std::time::Instant::now();
    let o = migrate(
        &db,
        Some(P),
        &["--lock-timeout", "1", "up", "--format", "json"],
    )
    .await;
    assert_code(&o, exit::FAILED);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    let j = json(&o);
    assert_eq!(j["error"]["kind"], "lock_timeout");
    assert!(
        j["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--lock-timeout"),
        "{j}"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    let o = migrate(&db, Some(P), &["--lock-timeout", "1", "up"]).await;
    assert_code(&o, exit::OK);
    assert_eq!(db.tables().await, full_schema(Kind::Sqlite, "st_"));
}

/// `--no-lock` applies without the migration lock (for poolers that break session
/// locks).
async fn no_lock_applies(kind: Kind) {
    let db = TestDb::new(kind).await;
    let o = migrate(&db, Some(P), &["--no-lock", "up"]).await;
    assert_code(&o, exit::OK);
    assert_eq!(db.tables().await, full_schema(kind, "st_"));
    let o = migrate(
        &db,
        Some(P),
        &["--no-lock", "down", "--to", "0", "--allow-data-loss"],
    )
    .await;
    assert_code(&o, exit::OK);
    assert_eq!(db.tables().await, vec!["st_schema_migrations".to_owned()]);
}

on_backend!(sqlite_no_lock, super::Kind::Sqlite, [no_lock_applies]);
on_backend!(postgres_no_lock, super::Kind::Postgres, [no_lock_applies]);
on_backend!(mariadb_no_lock, super::Kind::Mysql, [no_lock_applies]);

// ---------------------------------------------------------------- backend-independent

const SECRET: &str = "s3cretpw";

/// A URI with a password never shows it, also when the connection fails (exit 3),
/// in text and JSON.
#[tokio::test]
async fn password_hidden_when_unreachable() {
    for uri in [
        format!("mysql://root:{SECRET}@127.0.0.1:1/x"),
        format!("postgres://postgres:{SECRET}@127.0.0.1:1/x"),
        format!("mariadb://root:{SECRET}@127.0.0.1:1/x"),
    ] {
        for command in ["status", "up", "baseline", "repair"] {
            let o = run(["migrate", "--database-url", &uri, command]).await;
            assert_code(&o, exit::UNAVAILABLE);
            let all = format!("{}{}", o.stdout, o.stderr);
            assert!(!all.contains(SECRET), "password shown:\n{all}");
            assert!(all.contains(":***@127.0.0.1:1"), "{all}");
            assert!(o.stderr.contains("unavailable"), "{all}");

            let o = run([
                "migrate",
                "--format",
                "json",
                "--database-url",
                &uri,
                command,
            ])
            .await;
            assert_code(&o, exit::UNAVAILABLE);
            assert!(!o.stdout.contains(SECRET) && !o.stderr.contains(SECRET));
            let j = json(&o);
            assert_eq!(j["ok"], false);
            assert_eq!(j["exit_code"], 3);
            assert_eq!(j["error"]["kind"], "unavailable");
            assert_eq!(j["database"]["uri"], uri.replace(SECRET, "***").as_str());
        }
    }
}

/// A password in the URI stays hidden on a reachable server too, and in usage
/// errors.
#[tokio::test]
async fn password_hidden_everywhere() {
    let db = TestDb::new(Kind::Postgres).await;
    let uri = format!("postgres://postgres:{SECRET}@127.0.0.1:5432/test");
    let schema = db.schema.clone().unwrap();
    for args in [
        vec!["up"],
        vec!["status"],
        vec!["up", "--dry-run"],
        vec!["status", "--format", "json"],
    ] {
        let mut a = vec!["migrate", "--database-url", &uri, "--schema", &schema];
        a.extend(args);
        let o = run(a).await;
        let all = format!("{}{}", o.stdout, o.stderr);
        assert!(!all.contains(SECRET), "password shown:\n{all}");
        assert!(all.contains("postgres:***@"), "{all}");
    }
    let mysql = format!(
        "mysql://root:{SECRET}@127.0.0.1:3306/nope_{}",
        std::process::id()
    );
    let o = run(["migrate", "--database-url", &mysql, "status"]).await;
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(!all.contains(SECRET), "password shown:\n{all}");
    assert_ne!(o.code, exit::OK);

    // A password in the query string is hidden too.
    for uri in [
        format!("postgres://postgres@127.0.0.1:1/x?password={SECRET}"),
        format!("mysql://root@127.0.0.1:1/x?sslmode=disabled&password={SECRET}"),
    ] {
        for format in ["text", "json"] {
            let o = run([
                "migrate",
                "--database-url",
                &uri,
                "--format",
                format,
                "status",
            ])
            .await;
            assert_ne!(o.code, exit::OK);
            let all = format!("{}{}", o.stdout, o.stderr);
            assert!(!all.contains(SECRET), "password shown:\n{all}");
        }
    }

    for args in [
        vec!["migrate", "--database-url", &mysql, "bogus"],
        vec![
            "migrate",
            &format!("--database-url={mysql}"),
            "up",
            "--to",
            "x",
        ],
        vec![
            "migrate",
            "--database-url",
            &mysql,
            "--format",
            "json",
            "--nope",
        ],
    ] {
        let o = run(args).await;
        assert_code(&o, exit::USAGE);
        let all = format!("{}{}", o.stdout, o.stderr);
        assert!(!all.contains(SECRET), "password shown:\n{all}");
    }
}

/// Usage and configuration errors exit 2, in JSON as one document too.
#[tokio::test]
async fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("x.db").display());
    let cases: Vec<Vec<&str>> = vec![
        vec!["bogus"],
        vec!["up", "--nope"],
        vec!["down"],
        vec!["up", "--to", "abc"],
        vec!["--format", "yaml", "status"],
        vec!["--database-url", "foo://bar", "status"],
        vec!["--database-url", "not a uri", "status"],
        vec!["--env", "MIGRATE_CLI_TEST_SURELY_UNSET", "status"],
        vec![
            "--database-url",
            &sqlite,
            "--table-prefix",
            "Bad-Prefix",
            "status",
        ],
        vec!["--database-url", &sqlite, "--schema", "auth", "status"],
    ];
    for case in cases {
        let mut args = vec!["migrate"];
        args.extend(case.iter().copied());
        let o = run(args.clone()).await;
        assert_code(&o, exit::USAGE);
        assert!(!o.stderr.is_empty(), "{args:?}: no message");

        args.extend(["--format", "json"]);
        if case.contains(&"yaml") {
            continue;
        }
        let o = run(args.clone()).await;
        assert_code(&o, exit::USAGE);
        let j = json(&o);
        assert_eq!(j["ok"], false, "{args:?}");
        assert_eq!(j["exit_code"], 2, "{args:?}");
        assert!(j["error"]["message"].is_string(), "{args:?}");
    }
    assert!(!dir.path().join("x.db").exists());

    let o = run(["migrate", "--database-url", "foo://bar", "status"]).await;
    assert!(
        o.stderr.contains("sqlite") && o.stderr.contains("postgres"),
        "{}",
        o.stderr
    );
}

/// `--help` works on every command, with examples; exit 0.
#[tokio::test]
async fn help_everywhere() {
    for args in [
        vec!["migrate", "--help"],
        vec!["migrate", "up", "--help"],
        vec!["migrate", "down", "--help"],
        vec!["migrate", "status", "--help"],
        vec!["migrate", "baseline", "--help"],
        vec!["migrate", "repair", "--help"],
        vec!["migrate", "help", "up"],
    ] {
        let o = run(args.clone()).await;
        assert_code(&o, exit::OK);
        assert!(o.stdout.contains("Examples:"), "{args:?}: {}", o.stdout);
        assert!(o.stdout.contains("Usage: migrate"), "{args:?}");
    }
    let o = run(["migrate", "--version"]).await;
    assert_code(&o, exit::OK);
}
