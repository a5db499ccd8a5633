//! The real `migrate` binary as a process: two concurrent `migrate up` on one empty
//! database (each backend), where the URI comes from (flags and environment
//! variables), and the process exit status. The in-process scenarios are in
//! `tests/tests/migrate_cli.rs`.

#[path = "../../tests/tests/migrate_cli/db.rs"]
mod db;

use db::{Kind, TestDb};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_migrate");

/// Every variable that could choose the database or the prefix, removed from the
/// child's environment so that the machine's settings do not leak into a test.
const CLEARED: &[&str] = &[
    "POSTGRESQL_CONNECTION_URI",
    "MYSQL_CONNECTION_URI",
    "DATABASE_URL",
    "POSTGRESQL_TABLE_NAMES_PREFIX",
    "MYSQL_TABLE_NAMES_PREFIX",
    "SQLITE_TABLE_NAMES_PREFIX",
    "POSTGRESQL_TABLE_SCHEMA",
];

fn command(args: &[String], env: &[(&str, &str)], cwd: Option<&Path>) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    for v in CLEARED {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    c
}

fn run(args: &[&str], env: &[(&str, &str)], cwd: Option<&Path>) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    command(&args, env, cwd).output().expect("run migrate")
}

fn text(o: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

/// Two `migrate up` processes started at the same moment on one empty database:
/// both exit 0, exactly one applies, and the history holds each migration once.
async fn concurrent_up(kind: Kind) {
    let db = TestDb::new(kind).await;
    let args = db.args(Some("st"), &["--format", "json", "up"]);
    let args = &args[1..];
    let children: Vec<_> = (0..2)
        .map(|_| {
            command(args, &[], None)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn migrate")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let known = kind.migrations().len();
    let newest = kind.migrations().last().expect("a migration").version;
    let mut applied = 0;
    for o in &outputs {
        assert_eq!(code(o), 0, "{}", text(o));
        let j: Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
        applied += j["applied"].as_array().expect("applied").len();
        assert_eq!(j["version"], newest);
    }
    assert_eq!(
        applied, known,
        "each migration applied by exactly one process"
    );
    assert_eq!(db.count("st_schema_migrations").await, known as i64);
    assert_eq!(
        db.count("st_schema_migrations WHERE state = 'applied'")
            .await,
        known as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_up() {
    concurrent_up(Kind::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_up() {
    concurrent_up(Kind::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_concurrent_up() {
    concurrent_up(Kind::Mysql).await
}

/// The URI comes from `--database-url`, else `--env NAME`, else
/// `POSTGRESQL_CONNECTION_URI`, `MYSQL_CONNECTION_URI`, `DATABASE_URL`; each run says
/// which, with the password as `***`.
#[test]
fn uri_sources_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("env.db").display());
    let pg = "postgres://app:s3cretpw@127.0.0.1:1/x";
    let my = "mysql://app:s3cretpw@127.0.0.1:1/x";

    let o = run(&["status"], &[("DATABASE_URL", &sqlite)], None);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("(from environment variable DATABASE_URL)"),
        "{}",
        text(&o)
    );

    let o = run(
        &["status"],
        &[("DATABASE_URL", &sqlite), ("MYSQL_CONNECTION_URI", my)],
        None,
    );
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(
        text(&o).contains(
            "mysql://app:***@127.0.0.1:1/x (from environment variable MYSQL_CONNECTION_URI)"
        ),
        "{}",
        text(&o)
    );

    let o = run(
        &["status"],
        &[
            ("DATABASE_URL", &sqlite),
            ("MYSQL_CONNECTION_URI", my),
            ("POSTGRESQL_CONNECTION_URI", pg),
        ],
        None,
    );
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(
        text(&o).contains("(from environment variable POSTGRESQL_CONNECTION_URI)"),
        "{}",
        text(&o)
    );

    let o = run(
        &["--env", "MY_AUTH_DB", "status"],
        &[("MY_AUTH_DB", &sqlite), ("POSTGRESQL_CONNECTION_URI", pg)],
        None,
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("(from environment variable MY_AUTH_DB (--env))"),
        "{}",
        text(&o)
    );

    let o = run(
        &["--database-url", &sqlite, "--env", "MY_AUTH_DB", "status"],
        &[("MY_AUTH_DB", pg), ("POSTGRESQL_CONNECTION_URI", pg)],
        None,
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("(from --database-url)"), "{}", text(&o));

    // JSON says the same.
    let o = run(
        &["status", "--format", "json"],
        &[("POSTGRESQL_CONNECTION_URI", pg)],
        None,
    );
    assert_eq!(code(&o), 3);
    let j: Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(
        j["database"]["source"],
        "environment variable POSTGRESQL_CONNECTION_URI"
    );
    assert_eq!(j["database"]["uri"], "postgres://app:***@127.0.0.1:1/x");
    assert!(!text(&o).contains("s3cretpw"));
}

/// With nothing configured, the embedded default: a SQLite file in the working
/// directory. The table prefix follows the backend's environment variable.
#[test]
fn sqlite_default_in_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["status"], &[], Some(dir.path()));
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("(from embedded SQLite default)"),
        "{}",
        text(&o)
    );
    assert!(
        !dir.path().join("auth-storage.db").exists(),
        "status created the file"
    );

    let o = run(
        &["up"],
        &[("SQLITE_TABLE_NAMES_PREFIX", "envp")],
        Some(dir.path()),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("table prefix `envp_`"), "{}", text(&o));
    let c = rusqlite::Connection::open(dir.path().join("auth-storage.db")).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'envp_apps'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

/// The process exit status: 0, 1, 2, 3, 4.
#[test]
fn process_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("codes.db");
    let uri = format!("sqlite://{}", path.display());
    let with = |rest: &[&str]| {
        let mut a = vec!["--database-url", uri.as_str()];
        a.extend(rest);
        run(&a, &[], None)
    };
    assert_eq!(code(&run(&["--help"], &[], None)), 0);
    assert_eq!(code(&run(&["up", "--help"], &[], None)), 0);
    assert_eq!(code(&run(&[], &[], None)), 2);
    assert_eq!(code(&run(&["frobnicate"], &[], None)), 2);
    assert_eq!(code(&with(&["status", "--exit-code"])), 1);
    assert_eq!(code(&with(&["up"])), 0);
    assert_eq!(code(&with(&["status", "--exit-code"])), 0);
    let o = run(
        &[
            "--database-url",
            "mysql://root:s3cretpw@127.0.0.1:1/x",
            "up",
        ],
        &[],
        None,
    );
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(!text(&o).contains("s3cretpw"));
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "UPDATE schema_migrations SET checksum = ?1 WHERE version = 1",
        [&"f".repeat(64)],
    )
    .unwrap();
    drop(c);
    let o = with(&["up"]);
    assert_eq!(code(&o), 4, "{}", text(&o));
}
