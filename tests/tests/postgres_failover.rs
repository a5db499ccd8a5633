//! Failover without losing acknowledged writes (issue 18, part 3).
//!
//! The test starts its own PostgreSQL primary and synchronous standby
//! (`postgres_failover/pair.rs`), opens one storage through the multi-host URI
//! `postgres://postgres@127.0.0.1:P1,127.0.0.1:P2/postgres?target_session_attrs=read-write`
//! and runs a write load: [`TASKS`] tasks, each signing users up (four tables per
//! user) and writing key/value rows, every id unique, recording each call's start,
//! end and outcome. Once every task has written on the primary, the primary is
//! stopped with `pg_ctl stop -m immediate`; after [`DETECTION`] (the time a failure
//! detector or an operator takes, during which no server takes writes) the standby is
//! promoted with `pg_ctl promote`. The load keeps running on the same storage object,
//! never reopened, until every task has written [`AFTER`] times through the new
//! primary. Then:
//!
//! - every write a caller saw succeed is on the new primary (read there in plain
//!   SQL, on a connection to its own port, after checking it is out of recovery);
//! - every error a caller saw is `Unavailable`;
//! - no call that started after the old primary was gone succeeded before the
//!   promotion was issued (nothing was written anywhere else).
//!
//! Figures (one `[reliability] postgresql failover: ...` line, see RELIABILITY.md):
//! the outage seen by callers (last success on the old primary to first success on
//! the new one), the recovery time (promotion issued to first success), the errors,
//! the writes acknowledged and checked, and the failed writes that were committed
//! anyway (a commit whose acknowledgement was lost with the server: the caller got
//! `Unavailable` and must treat the outcome as unknown).
//!
//! No assertion is about time; the 60 s limits only stop a run that hangs.

#[path = "postgres_failover/pair.rs"]
mod pair;

use pair::{Node, Pair};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use storage_api::{OpenOptions, Storage, TenantIdentifier};
use storage_tests::conformance::fixtures::{email, ep_input, kv};
use storage_tests::reliability::common::{figures, histogram, variant};

/// Concurrent writers.
const TASKS: usize = 12;
/// Successful writes every task makes on the primary before it is stopped, and on
/// the new primary before the load ends.
const BEFORE: usize = 10;
const AFTER: usize = 10;
/// Between the primary's stop and the promotion: no server takes writes.
const DETECTION: Duration = Duration::from_millis(300);
/// A caller's pause after each call (after an error too: it retries later).
const PAUSE: Duration = Duration::from_millis(5);
/// Upper bound on each waiting phase, so that a broken run ends.
const LIMIT: Duration = Duration::from_secs(60);

/// What a write was.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Write {
    /// A sign-up, by user id.
    User(String),
    /// A key/value row, by name.
    Kv(String),
}

/// One call of the load.
#[derive(Debug)]
struct Rec {
    start: Instant,
    end: Instant,
    write: Write,
    res: Result<(), &'static str>,
}

/// What the writers share with the main task: when to stop, and how many writes
/// of each task succeeded so far (the main task waits on these).
struct Load {
    stop: AtomicBool,
    ok: Vec<std::sync::atomic::AtomicUsize>,
}

async fn writer(
    storage: Arc<dyn Storage>,
    tenant: TenantIdentifier,
    load: Arc<Load>,
    task: usize,
) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut n = 0u64;
    while !load.stop.load(Ordering::Relaxed) {
        n += 1;
        let start = Instant::now();
        let (write, r) = if n.is_multiple_of(2) {
            let input = ep_input(&tenant, &email(), 1);
            let r = storage.sign_up_email_password(&input).await.map(drop);
            (Write::User(input.user_id), r)
        } else {
            let name = format!("t{task}-{n}");
            let r = storage.kv_set(&tenant, &name, &kv("v", 1)).await;
            (Write::Kv(name), r)
        };
        if r.is_ok() {
            load.ok[task].fetch_add(1, Ordering::Relaxed);
        }
        out.push(Rec {
            start,
            end: Instant::now(),
            write,
            res: r.map_err(|e| variant(&e)),
        });
        tokio::time::sleep(PAUSE).await;
    }
    out
}

/// Waits until every task has `want` more successes than in `base`.
async fn wait_for_writes(load: &Load, base: &[usize], want: usize, what: &str, pair: &Pair) {
    let start = Instant::now();
    loop {
        let done = load
            .ok
            .iter()
            .zip(base)
            .all(|(n, b)| n.load(Ordering::Relaxed) >= b + want);
        if done {
            return;
        }
        assert!(
            start.elapsed() < LIMIT,
            "{what}: not every task wrote {want} times within {LIMIT:?}; {}",
            pair.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn counts(load: &Load) -> Vec<usize> {
    load.ok.iter().map(|n| n.load(Ordering::Relaxed)).collect()
}

/// The first column of every row `sql` returns, as text.
async fn ids(client: &storage_postgres::tokio_postgres::Client, sql: &str) -> HashSet<String> {
    client
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failover_loses_no_acknowledged_write() {
    let began = Instant::now();
    let pair = tokio::task::spawn_blocking(Pair::start)
        .await
        .expect("start the pair");
    let set_up = began.elapsed();
    let (p1, p2) = (pair.port(Node::Primary), pair.port(Node::Standby));
    let uri = format!(
        "postgres://postgres@127.0.0.1:{p1},127.0.0.1:{p2}/postgres?target_session_attrs=read-write"
    );
    let storage = storage_api::open(
        &uri,
        OpenOptions {
            pool_size: Some(TASKS as u32),
            connect_timeout: Some(Duration::from_secs(5)),
            ..Default::default()
        },
    )
    .await
    .expect("open the storage through the multi-host URI");
    storage_api::migrate_up(&*storage).await.expect("migrate");
    let tenant = TenantIdentifier::default_public();
    storage.add_tenant(&tenant, 1).await.expect("add tenant");

    let load = Arc::new(Load {
        stop: AtomicBool::new(false),
        ok: (0..TASKS).map(|_| Default::default()).collect(),
    });
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| tokio::spawn(writer(storage.clone(), tenant.clone(), load.clone(), task)))
        .collect();

    // The load runs on the primary, then the primary goes away.
    wait_for_writes(&load, &[0; TASKS], BEFORE, "on the primary", &pair).await;
    let stop_issued = Instant::now();
    let pair = tokio::task::spawn_blocking(move || {
        pair.stop_immediately(Node::Primary);
        pair
    })
    .await
    .expect("stop the primary");
    let stopped = Instant::now();
    tokio::time::sleep(DETECTION).await;

    // Manual failover: promote the standby; the storage must find it by itself.
    let base = counts(&load);
    let promote_issued = Instant::now();
    let pair = tokio::task::spawn_blocking(move || {
        pair.promote(Node::Standby);
        pair
    })
    .await
    .expect("promote the standby");
    let promoted = Instant::now();
    wait_for_writes(&load, &base, AFTER, "on the new primary", &pair).await;
    load.stop.store(true, Ordering::Relaxed);
    let mut recs = Vec::new();
    for t in tasks {
        recs.extend(t.await.expect("a writer panicked"));
    }
    storage.close().await;

    // Every error is `Unavailable`.
    let errors: Vec<&Rec> = recs.iter().filter(|r| r.res.is_err()).collect();
    let kinds = histogram(errors.iter().map(|r| r.res.unwrap_err()));
    assert!(
        errors.iter().all(|r| r.res == Err("Unavailable")),
        "callers saw errors other than Unavailable: {kinds}"
    );
    // Nothing succeeded while no server took writes.
    let accepted_while_down: Vec<&Rec> = recs
        .iter()
        .filter(|r| r.res.is_ok() && r.start >= stopped && r.end < promote_issued)
        .collect();
    assert!(
        accepted_while_down.is_empty(),
        "{} writes succeeded after the primary was stopped and before the standby was promoted: {:?}",
        accepted_while_down.len(),
        accepted_while_down.first()
    );
    // The failover happened under the load: calls failed, and calls succeeded on
    // both sides of it.
    assert!(
        !errors.is_empty(),
        "no call failed: the load did not run through the failover"
    );

    // Every acknowledged write is on the new primary.
    let new_primary =
        storage_postgres::connect_client(&format!("postgres://postgres@127.0.0.1:{p2}/postgres"))
            .await
            .expect("connect to the new primary");
    let in_recovery: bool = new_primary
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .expect("pg_is_in_recovery")
        .get(0);
    assert!(!in_recovery, "the promoted standby is still in recovery");
    let users = ids(
        &new_primary,
        "SELECT user_id FROM app_id_to_user_id WHERE app_id = 'public'",
    )
    .await;
    let kvs = ids(
        &new_primary,
        "SELECT name FROM key_value WHERE app_id = 'public' AND tenant_id = 'public'",
    )
    .await;
    let present = |w: &Write| match w {
        Write::User(id) => users.contains(id),
        Write::Kv(name) => kvs.contains(name),
    };
    let acked: Vec<&Rec> = recs.iter().filter(|r| r.res.is_ok()).collect();
    let lost: Vec<&Write> = acked
        .iter()
        .map(|r| &r.write)
        .filter(|w| !present(w))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged writes lost in the failover: {} of {}, e.g. {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    let committed_anyway = errors.iter().filter(|r| present(&r.write)).count();

    // The figures.
    let last_ok_before = acked
        .iter()
        .filter(|r| r.start < stop_issued)
        .map(|r| r.end)
        .max()
        .expect("writes succeeded on the primary");
    let first_ok_after = acked
        .iter()
        .filter(|r| r.start >= stopped)
        .map(|r| r.end)
        .min()
        .expect("writes succeeded on the new primary");
    let ms = |d: Duration| d.as_millis().to_string();
    figures(
        "postgresql",
        "failover",
        &[
            ("tasks", TASKS.to_string()),
            ("calls", recs.len().to_string()),
            ("acknowledged_writes", acked.len().to_string()),
            ("lost", lost.len().to_string()),
            ("errors", errors.len().to_string()),
            ("error_kinds", kinds),
            ("failed_but_committed", committed_anyway.to_string()),
            (
                "outage_ms",
                ms(first_ok_after.saturating_duration_since(last_ok_before)),
            ),
            (
                "recovery_ms",
                ms(first_ok_after.saturating_duration_since(promote_issued)),
            ),
            ("stop_ms", ms(stopped - stop_issued)),
            ("detection_ms", ms(DETECTION)),
            ("promote_ms", ms(promoted - promote_issued)),
            ("pair_setup_ms", ms(set_up)),
            ("total_ms", ms(began.elapsed())),
        ],
    );
    drop(pair);
}
