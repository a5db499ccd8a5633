//! The database stopped and started while a load runs on one storage, which is never
//! reopened: PostgreSQL is restarted with `pg_ctlcluster`, MariaDB is shut down with
//! `mysqladmin shutdown` and started again like `.ci/run` does; SQLite has no server,
//! so another connection holds its write lock for two seconds instead (the nearest
//! thing to an outage an embedded database has: writers wait, nothing may fail).
//!
//! The load (sign-ups, sessions, key/value overwrites, and the reads PostgreSQL
//! pipelines over shared connections, `get_session` and the look-up by email, of
//! sessions and users acknowledged earlier) runs on a storage the test opens from a
//! URI it keeps. The outage must be proven on the server behind that very URI: its
//! start time (PostgreSQL `pg_postmaster_start_time()`, MariaDB/MySQL the clock
//! minus `Uptime`), read over raw connections opened from the URI string before and
//! after, must have moved past the first reading; on PostgreSQL the storage's
//! connections (by `application_name`) must be on the restarted server; and some
//! calls must have failed or waited across the outage. On SQLite, writes that started
//! while the lock was held must have finished only after it was released.
//!
//! The load may see errors only while the server is down (and while the pool
//! flushes connections the restart killed, a short grace after it is back): every
//! error is `Unavailable`, every operation started after the grace succeeds, every
//! kind of operation succeeds at least [`MIN_OK_PER_KIND`] times, a read that
//! succeeds returns what was written, and every write that returned `Ok` is there
//! afterwards in plain SQL (users, sessions, and every worker's key holding its last
//! acknowledged version or a later attempted one), all or nothing of every sign-up.
//!
//! These tests stop a server shared by every test of the machine, so they run in
//! their own test binary (`tests/tests/reliability_restart.rs`), one per backend; a
//! guard starts the server again whatever happens.

use super::common::*;
use super::proof::{
    Ack, Known, Target, assert_kinds_succeeded, assert_no_wrong_reads, judge_session, judge_user,
    server_start,
};
use crate::conformance::fixtures::*;
use crate::harness::{Ctx, RawSql};
use async_trait::async_trait;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use storage_api::*;

/// Load tasks.
const WORKERS: usize = 6;
/// After the server is back, errors may still come from connections the restart
/// killed for this long.
const GRACE: Duration = Duration::from_secs(3);
/// How long the load keeps running after the server is back.
const AFTER: Duration = Duration::from_secs(5);
/// A call that ended after the server was back and took this long waited for it.
const WAITED: Duration = Duration::from_millis(250);

/// Runs a command with only stdin, stdout and stderr: a server it starts must not
/// inherit the test's other descriptors. Under `flock -x servers.lock cargo test`
/// the lock's descriptor is one of them, and a PostgreSQL restarted with it open
/// (pg_ctl does not close it) would hold the lock for as long as it runs.
fn sh(program: &str, args: &[&str]) -> bool {
    Command::new("/bin/bash")
        .arg("-c")
        .arg(
            "i=3; while [ $i -lt 256 ]; do eval \"exec $i>&-\"; i=$((i + 1)); done; \
             exec \"$0\" \"$@\"",
        )
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn postgres_version() -> String {
    let mut v: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql: the PostgreSQL cluster of this machine")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    v.sort();
    v.pop().expect("a PostgreSQL cluster version")
}

fn postgres_up() -> bool {
    sh("pg_isready", &["-q", "-h", "127.0.0.1", "-p", "5432"])
}

fn mariadb_up() -> bool {
    sh(
        "mysqladmin",
        &[
            "-h",
            "127.0.0.1",
            "-P",
            "3306",
            "-u",
            "root",
            "--connect-timeout=2",
            "ping",
        ],
    )
}

fn mariadb_running() -> bool {
    sh("pidof", &["mariadbd"])
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_postgres() {
    if !postgres_up() {
        let v = postgres_version();
        sh(
            "pg_ctlcluster",
            &["--skip-systemctl-redirect", &v, "main", "start"],
        );
        wait_for("PostgreSQL starts", Duration::from_secs(60), postgres_up);
    }
}

fn start_mariadb() {
    if !mariadb_up() {
        if !mariadb_running() {
            sh(
                "start-stop-daemon",
                &[
                    "--start",
                    "--oknodo",
                    "--background",
                    "--exec",
                    "/usr/sbin/mariadbd",
                ],
            );
        }
        wait_for("MariaDB starts", Duration::from_secs(60), mariadb_up);
    }
}

/// Starts the server again when dropped, also when the test panicked.
pub struct ServerGuard(&'static str);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        match self.0 {
            "postgresql" => start_postgres(),
            "mysql" => start_mariadb(),
            _ => {}
        }
    }
}

/// Stops and starts the server of `backend` (blocking); returns when it was stopped
/// and when it accepts connections again.
fn outage(backend: &str, sqlite_file: Option<String>) -> (Instant, Instant) {
    match backend {
        "postgresql" => {
            let v = postgres_version();
            let down = Instant::now();
            assert!(
                sh(
                    "pg_ctlcluster",
                    &["--skip-systemctl-redirect", &v, "main", "restart"]
                ),
                "pg_ctlcluster {v} main restart failed"
            );
            wait_for("PostgreSQL restarts", Duration::from_secs(60), postgres_up);
            (down, Instant::now())
        }
        "mysql" => {
            let down = Instant::now();
            sh(
                "mysqladmin",
                &["-h", "127.0.0.1", "-P", "3306", "-u", "root", "shutdown"],
            );
            wait_for("MariaDB stops", Duration::from_secs(60), || {
                !mariadb_running()
            });
            // Stay down a moment, as a real outage would.
            std::thread::sleep(Duration::from_millis(500));
            start_mariadb();
            (down, Instant::now())
        }
        _ => {
            let path = sqlite_file.expect("the SQLite file");
            let c = rusqlite::Connection::open(&path).expect("second SQLite connection");
            let down = Instant::now();
            c.execute_batch("BEGIN EXCLUSIVE")
                .expect("take the write lock");
            std::thread::sleep(Duration::from_secs(2));
            c.execute_batch("ROLLBACK").unwrap();
            (down, Instant::now())
        }
    }
}

/// Plain SQL over a fresh MariaDB/MySQL connection pool.
struct MysqlRaw(storage_mysql::test_support::RawClient);

#[async_trait]
impl RawSql for MysqlRaw {
    async fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.0
            .query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
    async fn execute(&self, sql: &str) {
        self.0
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Where the test's data lives, read before the outage: PostgreSQL schema, MariaDB
/// database or SQLite file.
async fn location(ctx: &Ctx) -> String {
    let sql = match ctx.backend {
        "postgresql" => "SELECT current_schema()",
        "mysql" => "SELECT DATABASE()",
        _ => "SELECT file FROM pragma_database_list WHERE name = 'main'",
    };
    ctx.raw.query(sql).await[0][0].clone().expect("location")
}

/// A new plain-SQL connection to the test's data (the harness's own one did not
/// survive the restart).
async fn fresh_raw(ctx: &Ctx, location: &str) -> Arc<dyn RawSql> {
    match ctx.backend {
        "postgresql" => {
            let c = crate::backends::postgres::connect_admin().await;
            c.batch_execute(&format!("SET search_path TO {location}"))
                .await
                .unwrap();
            Arc::new(crate::backends::postgres::Raw(c))
        }
        "mysql" => {
            let mut u = ConnectionUri::parse(&mysql_uri()).unwrap();
            u.path = location.to_owned();
            Arc::new(MysqlRaw(
                storage_mysql::test_support::RawClient::connect(&u.expose(), 1)
                    .await
                    .expect("MariaDB is back"),
            ))
        }
        _ => ctx.raw.clone(),
    }
}

#[derive(Debug)]
struct Rec {
    worker: usize,
    start: Instant,
    end: Instant,
    kind: &'static str,
    /// The user id, session handle or key/value version written.
    id: String,
    res: std::result::Result<(), &'static str>,
    /// A read that succeeded with the wrong answer.
    wrong: Option<String>,
}

/// Kinds of operation of the load: writes, then reads (`get_session` and
/// `user_by_email` go through read sharing on PostgreSQL).
const KINDS: [&str; 6] = [
    "sign_up",
    "kv_set",
    "session",
    "get_session",
    "user_by_email",
    "list_apps",
];
/// Fewest successes of every kind of operation of the load.
const MIN_OK_PER_KIND: usize = 20;

/// The load, the outage, then the checks.
pub async fn rel_restart_under_load(ctx: Ctx) {
    let _guard = ServerGuard(ctx.backend);
    let where_ = location(&ctx).await;
    let t = setup_public(&ctx).await;
    // The storage under load, opened from `target.uri`; the restart is proven by
    // the start time of the server behind that very URI.
    let target = Target::open(&ctx, 10).await;
    let before = server_start(ctx.backend, &target.uri, target.app.as_deref()).await;
    let known = Arc::new(Known::default());
    known.seed(&target.storage, &t).await;
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (st, t, stop, known) = (
                target.storage.clone(),
                t.clone(),
                stop.clone(),
                known.clone(),
            );
            tokio::spawn(async move {
                let mut out = Vec::new();
                let mut n = 0u64;
                let mut rng = Rng::from_entropy();
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let start = Instant::now();
                    let mut wrong = None;
                    let kind = KINDS[(n % KINDS.len() as u64) as usize];
                    let (id, r) = match kind {
                        "sign_up" => {
                            let i = ep_input(&t, &email(), 1);
                            let r = st.sign_up_email_password(&i).await.map(drop);
                            if r.is_ok() {
                                known.note(Ack::User(i.email.clone(), i.user_id.clone()));
                            }
                            (i.user_id, r)
                        }
                        "kv_set" => {
                            let v = format!("{n}");
                            let r = st.kv_set(&t, &format!("w{w}"), &kv(&v, 1)).await;
                            (v, r)
                        }
                        "session" => {
                            let s = session(&t, &uid());
                            let r = st.create_session(&s).await;
                            let handle = s.handle.clone();
                            if r.is_ok() {
                                known.note(Ack::Session(s));
                            }
                            (handle, r)
                        }
                        "get_session" => {
                            let want = known.session(&mut rng);
                            let r = st.get_session(&t, &want.handle).await;
                            let r = r.map(|got| wrong = judge_session(&want, got));
                            (want.handle, r)
                        }
                        "user_by_email" => {
                            let (email, id) = known.user(&mut rng);
                            let r = st.list_users_by_email(&t, &email).await;
                            let r = r.map(|got| wrong = judge_user(&email, &id, got));
                            (id, r)
                        }
                        _ => {
                            let r = st.list_apps_and_tenants().await.map(drop);
                            (String::new(), r)
                        }
                    };
                    let res = match r {
                        Ok(()) => Ok(()),
                        Err(e) => Err(variant(&e)),
                    };
                    out.push(Rec {
                        worker: w,
                        start,
                        end: Instant::now(),
                        kind,
                        id,
                        res,
                        wrong,
                    });
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                out
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let backend = ctx.backend;
    let file = (backend == "sqlite").then(|| target.uri.clone());
    let (down, up) = tokio::task::spawn_blocking(move || outage(backend, file))
        .await
        .expect("the outage");
    tokio::time::sleep(AFTER).await;
    stop.store(true, Ordering::Relaxed);
    let mut recs = Vec::new();
    for w in workers {
        recs.extend(w.await.expect("a load task panicked"));
    }

    // The outage happened on the server the storage is connected to: its start
    // time, read through the storage's own URI, moved past the first reading (and on
    // PostgreSQL the storage's connections are on that restarted server). SQLite has
    // no server: writes that started while the write lock was held finished only
    // after it was released.
    let after = server_start(ctx.backend, &target.uri, target.app.as_deref()).await;
    let blocked_writes = recs
        .iter()
        .filter(|r| matches!(r.kind, "sign_up" | "kv_set" | "session"))
        .filter(|r| r.start >= down && r.start < up && r.end >= up)
        .count();
    let hit = recs
        .iter()
        .filter(|r| {
            r.end >= down
                && r.start <= up
                && (r.res.is_err() || (r.end >= up && r.end - r.start >= WAITED))
        })
        .count();
    let mut proof = Vec::new();
    match (&before, &after) {
        (Some(b), Some(a)) => {
            assert!(
                a.start_us > b.now_us,
                "the server behind the storage's URI did not restart: started at {} before the \
                 outage and {} after it",
                b.shown,
                a.shown
            );
            proof.push(("server_start_before", b.shown.clone()));
            proof.push(("server_start_after", a.shown.clone()));
            proof.push((
                "first_reading_to_server_start_s",
                format!("{:.1}", (a.start_us - b.now_us) as f64 / 1e6),
            ));
            if ctx.backend == "postgresql" {
                assert!(
                    a.storage_connections > 0,
                    "no connection of the storage ({:?}) on the restarted server",
                    target.app
                );
                proof.push((
                    "storage_connections_after",
                    a.storage_connections.to_string(),
                ));
            }
            // The load felt it: calls failed, or waited across the server's return.
            assert!(
                hit > 0,
                "no call failed or waited across the outage on {}",
                ctx.backend
            );
            proof.push(("calls_hit_by_outage", hit.to_string()));
        }
        _ => {
            assert!(
                blocked_writes > 0,
                "no write waited for the write lock held from {:?} to {:?}",
                down,
                up
            );
            proof.push(("writes_blocked_by_lock", blocked_writes.to_string()));
        }
    }

    // Errors only while down (or within the grace after), and only `Unavailable`;
    // reads that succeeded returned what was written.
    let mut errors = 0;
    for r in &recs {
        if let Err(e) = r.res {
            errors += 1;
            assert_eq!(
                e, "Unavailable",
                "{} failed with {e} under an outage",
                r.kind
            );
            assert!(
                r.end >= down,
                "{} failed before the server went down",
                r.kind
            );
            assert!(
                r.start <= up + GRACE,
                "{} started {:?} after the server was back and still failed",
                r.kind,
                r.start.saturating_duration_since(up)
            );
        }
    }
    assert_no_wrong_reads(
        "across the restart",
        recs.iter().filter_map(|r| r.wrong.as_ref()),
    );
    let ok_of = |kind: &str| {
        recs.iter()
            .filter(|r| r.kind == kind && r.res.is_ok())
            .count()
    };
    assert_kinds_succeeded(ctx.backend, &KINDS, ok_of, MIN_OK_PER_KIND);
    let after_recs: Vec<&Rec> = recs.iter().filter(|r| r.start > up + GRACE).collect();
    assert!(
        after_recs.len() >= WORKERS,
        "too few operations after recovery: {}",
        after_recs.len()
    );
    let first_ok_after_up = recs
        .iter()
        .filter(|r| r.res.is_ok() && r.start >= up)
        .map(|r| r.end.saturating_duration_since(up))
        .min()
        .expect("no operation succeeded after the server was back");

    // Every acknowledged write of every kind is there; sign-ups are all or nothing.
    let raw = fresh_raw(&ctx, &where_).await;
    let check = Ctx { raw, ..ctx.clone() };
    let app = t.app.as_str();
    let users_now = column_set(
        &check,
        &format!(
            "SELECT user_id FROM {} WHERE app_id = '{app}'",
            check.table("app_id_to_user_id")
        ),
    )
    .await;
    let sessions_now = column_set(
        &check,
        &format!(
            "SELECT session_handle FROM {} WHERE app_id = '{app}'",
            check.table("session_info")
        ),
    )
    .await;
    let kv_now: std::collections::HashMap<String, u64> = check
        .raw
        .query(&format!(
            "SELECT name, value FROM {} WHERE app_id = '{app}' AND tenant_id = '{}'",
            check.table("key_value"),
            t.tenant
        ))
        .await
        .into_iter()
        .filter_map(|r| Some((r[0].clone()?, r[1].as_deref()?.parse().ok()?)))
        .collect();
    // A worker's key holds its last acknowledged version, or a later one whose
    // outcome was unknown (the call failed); anything older lost an acknowledged write.
    let kv_lost = |w: usize, v: &str| -> bool {
        let v: u64 = v.parse().expect("kv version");
        let stored = kv_now.get(&format!("w{w}")).copied().unwrap_or(0);
        stored < v
    };
    let mut lost_by_kind: Vec<&'static str> = Vec::new();
    let mut checked = 0usize;
    for r in recs.iter().filter(|r| r.res.is_ok()) {
        let lost = match r.kind {
            "sign_up" => !users_now.contains(&r.id),
            "session" => !sessions_now.contains(&r.id),
            "kv_set" => kv_lost(r.worker, &r.id),
            "get_session" | "user_by_email" | "list_apps" => continue,
            other => panic!("no check after the restart for acknowledged {other} writes"),
        };
        checked += 1;
        if lost {
            lost_by_kind.push(r.kind);
        }
    }
    // The stored version of every key is one that was written.
    for w in 0..WORKERS {
        if let Some(stored) = kv_now.get(&format!("w{w}")) {
            assert!(
                recs.iter()
                    .any(|r| r.worker == w && r.kind == "kv_set" && r.id == stored.to_string()),
                "key w{w} holds version {stored}, which its worker never wrote"
            );
        }
    }
    let lost = lost_by_kind.len();
    assert_eq!(
        lost,
        0,
        "acknowledged writes lost across the restart: {}",
        histogram(lost_by_kind.iter().copied())
    );
    let users = assert_no_orphans(&check).await;
    let outage_ms = up.duration_since(down).as_millis();
    let mut pairs = vec![
        ("ops", recs.len().to_string()),
        ("errors_while_down", errors.to_string()),
        (
            "ok_by_kind",
            histogram(recs.iter().filter(|r| r.res.is_ok()).map(|r| r.kind)),
        ),
        (
            "failed_by_kind",
            histogram(recs.iter().filter(|r| r.res.is_err()).map(|r| r.kind)),
        ),
        ("outage_ms", outage_ms.to_string()),
        (
            "first_success_after_up_ms",
            first_ok_after_up.as_millis().to_string(),
        ),
        ("ops_after_recovery", after_recs.len().to_string()),
        ("acknowledged_writes_checked", checked.to_string()),
        ("users_checked", users.to_string()),
        ("rows_lost", lost.to_string()),
    ];
    pairs.extend(proof);
    figures(ctx.backend, "restart_under_load", &pairs);
    target.close().await;
}
