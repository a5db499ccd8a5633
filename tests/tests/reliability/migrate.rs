//! The `migrate` CLI under faults and bad input, on every backend.
//!
//! - A `migrate up` process (the built binary) killed with SIGKILL after a delay
//!   spread over the time a full run takes: afterwards `status` tells the truth (a
//!   migration it calls applied has every table, one it calls pending has none, one it
//!   calls failed exists only on MariaDB, whose DDL is not transactional), `repair`
//!   clears a failed row, and `up` completes; the storage then works.
//! - Malformed and hostile connection URIs, table prefixes, schemas, and arguments
//!   or environment values that are not UTF-8: every run ends with its documented
//!   exit code, prints exactly one JSON document with `--format json`, never panics
//!   and never prints the password.

use crate::db::{Kind, TestDb};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use storage_api::migrate::tables_created;
use storage_tests::reliability::common::{Rng, figures};
use storage_tests::reliability::input::{SECRET, encoded_password_uri, hostile_uris, redact};

const PREFIX: &str = "st";

/// The `migrate` binary of this workspace, built once per test run with the cargo
/// that runs the tests (in the same target directory and profile).
fn migrate_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable");
        // <target>/<profile>/deps/<this test>
        let profile_dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target/<profile>")
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "migrate-cli", "--bin", "migrate"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p migrate-cli failed");
        let bin = profile_dir.join(format!("migrate{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} was not built", bin.display());
        bin
    })
    .clone()
}

/// Variables that would choose another database or prefix for the child.
const CLEARED: &[&str] = &[
    "POSTGRESQL_CONNECTION_URI",
    "MYSQL_CONNECTION_URI",
    "DATABASE_URL",
    "POSTGRESQL_TABLE_NAMES_PREFIX",
    "MYSQL_TABLE_NAMES_PREFIX",
    "SQLITE_TABLE_NAMES_PREFIX",
    "POSTGRESQL_TABLE_SCHEMA",
];

fn command(args: &[String]) -> Command {
    let mut c = Command::new(migrate_bin());
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for v in CLEARED {
        c.env_remove(v);
    }
    c
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

fn run(args: &[String]) -> Run {
    let out = command(args).output().expect("run migrate");
    Run {
        code: out.status.code().expect("migrate exited by itself"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn args(db: &TestDb, rest: &[&str]) -> Vec<String> {
    db.args(Some(PREFIX), rest)[1..].to_vec()
}

/// The state `status` reports for the migrations as a whole: `failed` when one is,
/// `applied` when all are, `pending` when none is, else `partial` (a kill between two
/// migrations); checked against its exit code. Also the versions applied.
fn status_of(db: &TestDb) -> (String, Vec<u64>, Run) {
    let r = run(&args(db, &["--format", "json", "status"]));
    let j = r.json();
    let migrations = j["migrations"]
        .as_array()
        .unwrap_or_else(|| panic!("status without migrations: {}", r.stdout));
    let states: Vec<&str> = migrations
        .iter()
        .map(|m| m["state"].as_str().unwrap_or("?"))
        .collect();
    let applied: Vec<u64> = migrations
        .iter()
        .filter(|m| m["state"] == "applied")
        .filter_map(|m| m["version"].as_u64())
        .collect();
    let state = if states.contains(&"failed") {
        "failed"
    } else if states.iter().all(|s| *s == "applied") {
        "applied"
    } else if applied.is_empty() {
        "pending"
    } else {
        "partial"
    };
    let want = if state == "failed" { 4 } else { 0 };
    assert_eq!(r.code, want, "status exit code for {state}: {}", r.stdout);
    (state.to_owned(), applied, r)
}

/// The tables the migrations of `versions` create, with the prefix.
fn tables_of(kind: Kind, versions: &[u64]) -> Vec<String> {
    let mut t: Vec<String> = kind
        .migrations()
        .iter()
        .filter(|m| versions.contains(&u64::from(m.version)))
        .flat_map(|m| tables_created(m.up))
        .map(|t| format!("{PREFIX}_{t}"))
        .collect();
    t.sort();
    t
}

/// Every version the backend knows.
fn all_versions(kind: Kind) -> Vec<u64> {
    kind.migrations()
        .iter()
        .map(|m| u64::from(m.version))
        .collect()
}

async fn present(db: &TestDb, kind: Kind) -> usize {
    let have = db.tables().await;
    tables_of(kind, &all_versions(kind))
        .iter()
        .filter(|t| have.contains(t))
        .count()
}

/// Kills `migrate up` at spread-out moments of its run on fresh databases; returns
/// (runs, states seen).
async fn killed_mid_run(kind: Kind) {
    let all = tables_of(kind, &all_versions(kind)).len();
    // How long a whole run takes here (the binary built first).
    migrate_bin();
    let probe = TestDb::new(kind).await;
    let started = Instant::now();
    let r = run(&args(&probe, &["up"]));
    assert_eq!(r.code, 0, "a plain `up`: {}{}", r.stdout, r.stderr);
    let full = started.elapsed();
    drop(probe);
    let mut rng = Rng::from_entropy();
    let mut states = Vec::new();
    let steps = 12u32;
    for step in 0..steps {
        let db = TestDb::new(kind).await;
        let delay = full.mul_f64(f64::from(step) / f64::from(steps))
            + Duration::from_micros(rng.below(3_000));
        let mut child = command(&args(&db, &["up"])).spawn().expect("spawn migrate");
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();

        let (state, applied, st) = status_of(&db);
        let n = present(&db, kind).await;
        match state.as_str() {
            "applied" => assert_eq!(n, all, "status says applied with {n}/{all} tables"),
            "pending" => assert_eq!(n, 0, "status says pending with {n}/{all} tables"),
            "partial" => {
                let want = tables_of(kind, &applied).len();
                assert_eq!(n, want, "status says {applied:?} applied with {n} tables");
            }
            "failed" => {
                assert_eq!(
                    kind,
                    Kind::Mysql,
                    "a failed migration on a transactional backend: {}",
                    st.stdout
                );
                let r = run(&args(&db, &["--format", "json", "repair"]));
                assert_eq!(r.code, 0, "repair: {}{}", r.stdout, r.stderr);
                let (after, _, _) = status_of(&db);
                assert!(
                    after == "pending" || after == "partial",
                    "after repair: {after}"
                );
            }
            other => panic!("unexpected state {other}: {}", st.stdout),
        }
        let r = run(&args(&db, &["--format", "json", "up"]));
        assert_eq!(
            r.code, 0,
            "up after a kill ({state}): {}{}",
            r.stdout, r.stderr
        );
        let (after, _, _) = status_of(&db);
        assert_eq!(after, "applied", "after up");
        assert_eq!(present(&db, kind).await, all, "tables after up");
        // The storage works on the result.
        let storage = storage_api::open(&db.uri, db.open_options(Some(PREFIX)))
            .await
            .expect("open after the kill");
        let t = storage_api::TenantIdentifier::default_public();
        storage.add_tenant(&t, 1).await.expect("add tenant");
        storage
            .sign_up_email_password(&storage_tests::conformance::fixtures::ep_input(
                &t,
                "after-kill@example.com",
                1,
            ))
            .await
            .expect("sign up after the kill");
        storage.close().await;
        states.push(state);
    }
    figures(
        match kind {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgresql",
            Kind::Mysql => "mysql",
        },
        "migrate_killed_mid_run",
        &[
            ("runs_killed", steps.to_string()),
            ("full_run_ms", full.as_millis().to_string()),
            (
                "states_after_kill",
                storage_tests::reliability::common::histogram(states.iter().map(String::as_str)),
            ),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrate_killed_mid_run() {
    killed_mid_run(Kind::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrate_killed_mid_run() {
    killed_mid_run(Kind::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_migrate_killed_mid_run() {
    killed_mid_run(Kind::Mysql).await
}

fn no_secret(what: &str, r: &Run) {
    assert!(
        !r.stdout.contains(SECRET) && !r.stderr.contains(SECRET),
        "{what} printed the password:\n{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        !r.stderr.contains("panicked") && r.code != 101,
        "{what} panicked:\n{}",
        r.stderr
    );
}

/// Hostile URIs, prefixes and schemas through `migrate status`, in-process and as a
/// process (flag and environment variable), in both output formats.
async fn hostile_input(kind: Kind, backend: &str) {
    let mut tried = 0;
    let mut codes = Vec::new();
    let mut uris: Vec<String> = hostile_uris(backend).into_iter().map(|(u, _)| u).collect();
    uris.extend(encoded_password_uri(backend).map(|(u, _)| u));
    for uri in &uris {
        for format in ["json", "text"] {
            tried += 1;
            let o = migrate_cli::run([
                "migrate",
                "--database-url",
                uri,
                "--format",
                format,
                "status",
            ])
            .await;
            let r = Run {
                code: o.code,
                stdout: o.stdout,
                stderr: o.stderr,
            };
            no_secret(&format!("status with {}", redact(uri)), &r);
            assert!(
                [0, 1, 2, 3, 4].contains(&r.code),
                "exit code {} for {}",
                r.code,
                redact(uri)
            );
            if format == "json" {
                r.json();
            }
            codes.push(r.code.to_string());
        }
    }
    // As a process: the URI from the flag and from each environment variable.
    for uri in uris.iter().take(12) {
        for var in [None, Some("DATABASE_URL"), Some("MYSQL_CONNECTION_URI")] {
            tried += 1;
            let mut c = match var {
                None => command(&[
                    "--database-url".into(),
                    uri.clone(),
                    "--format".into(),
                    "json".into(),
                    "status".into(),
                ]),
                Some(v) => {
                    let mut c = command(&["--format".into(), "json".into(), "status".into()]);
                    c.env(v, uri);
                    c
                }
            };
            let dir = tempfile::tempdir().unwrap();
            let out = c.current_dir(dir.path()).output().unwrap();
            let r = Run {
                code: out.status.code().expect("exit code"),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            };
            no_secret(&format!("the binary with {}", redact(uri)), &r);
            r.json();
        }
    }
    // Hostile table prefixes and schemas on a real database.
    let db = TestDb::new(kind).await;
    let mut bad: Vec<(&str, String)> = vec![
        ("--table-prefix", "x; DROP TABLE y".into()),
        ("--table-prefix", "x'--".into()),
        ("--table-prefix", "a".repeat(33)),
        ("--table-prefix", "préfixe".into()),
        ("--table-prefix", "1st".into()),
        ("--table-prefix", "{prefix}".into()),
    ];
    if kind == Kind::Postgres {
        bad.push(("--schema", "a\"; DROP SCHEMA public; --".into()));
        bad.push(("--schema", "x".repeat(64)));
        bad.push(("--schema", "sché".into()));
    }
    for (flag, value) in &bad {
        for cmd in ["status", "up"] {
            tried += 1;
            let mut full = vec![
                "migrate".to_owned(),
                "--database-url".into(),
                db.uri.clone(),
            ];
            if *flag != "--schema"
                && let Some(s) = &db.schema
            {
                full.extend(["--schema".into(), s.clone()]);
            }
            full.extend([
                (*flag).into(),
                value.clone(),
                "--format".into(),
                "json".into(),
                cmd.into(),
            ]);
            let o = migrate_cli::run(full).await;
            assert_eq!(
                o.code, 2,
                "{flag} {value:?} with {cmd}: expected a usage/config error\n{}{}",
                o.stdout, o.stderr
            );
            serde_json::from_str::<Value>(&o.stdout).expect("one JSON document");
        }
    }
    assert!(
        db.tables().await.is_empty(),
        "a hostile option created tables"
    );
    figures(
        backend,
        "migrate_hostile_input",
        &[
            ("inputs_tried", tried.to_string()),
            (
                "exit_codes",
                storage_tests::reliability::common::histogram(codes.iter().map(String::as_str)),
            ),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrate_hostile_input() {
    hostile_input(Kind::Sqlite, "sqlite").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrate_hostile_input() {
    hostile_input(Kind::Postgres, "postgresql").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_migrate_hostile_input() {
    hostile_input(Kind::Mysql, "mysql").await
}

/// Arguments and environment values that are not UTF-8: a usage or configuration
/// error (exit 2), never a panic.
#[test]
fn migrate_non_utf8_input() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let bad = |bytes: &[u8]| OsString::from_vec(bytes.to_vec());
    let dir = tempfile::tempdir().unwrap();
    type Case = (Vec<OsString>, Option<(&'static str, OsString)>);
    let cases: Vec<Case> = vec![
        (
            vec![
                "--database-url".into(),
                bad(b"postgres://u:\xff\xfe@127.0.0.1/db"),
                "status".into(),
            ],
            None,
        ),
        (
            vec!["--table-prefix".into(), bad(b"st\xc3"), "status".into()],
            None,
        ),
        (vec![bad(b"st\x80atus")], None),
        (
            vec!["--format".into(), "json".into(), "status".into()],
            Some(("DATABASE_URL", bad(b"sqlite://\xff.db"))),
        ),
        (
            vec!["--format".into(), "json".into(), "status".into()],
            Some((
                "MYSQL_CONNECTION_URI",
                bad(b"mysql://root:\xff@127.0.0.1/x"),
            )),
        ),
        (
            vec![
                "--env".into(),
                "AUTH_URL".into(),
                "--format".into(),
                "json".into(),
                "status".into(),
            ],
            Some(("AUTH_URL", bad(b"\xff"))),
        ),
    ];
    for (i, (a, env)) in cases.into_iter().enumerate() {
        let mut c = Command::new(migrate_bin());
        c.args(&a).current_dir(dir.path());
        for v in CLEARED {
            c.env_remove(v);
        }
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let code = out.status.code().expect("exit code");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code, 2, "case {i}: exit {code}\n{stderr}");
        assert!(!stderr.contains("panicked"), "case {i} panicked: {stderr}");
    }
}
