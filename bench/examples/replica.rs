//! Read throughput with and without a read replica: the storage on the primary
//! alone against the storage reading from the streaming replica
//! (`read_replica_uri`), on the same database, get user by id and a page of 100
//! users, at concurrency 1 and 16, alternating in rounds; plus what read-your-writes
//! costs a write (a metadata upsert; with a replica each committed write also reads
//! the primary's WAL position). The floor, in the same run: one primary-key
//! `SELECT` through bare tokio-postgres on the primary and on the replica.
//!
//! ```sh
//! .ci/pg-replica.sh   # primary on 127.0.0.1:5440, replica on 127.0.0.1:5441
//! SECS=3 ROUNDS=3 cargo run --release -p storage-bench --example replica
//! ```
//!
//! It creates and drops a database `replica_bench` on the pair (user `postgres`,
//! trust auth; `POSTGRES_PRIMARY_URI` / `POSTGRES_REPLICA_URI` override the
//! servers). Pools have 16 connections. A benchmark: nothing in it asserts a time.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use storage_api::{
    ListUsers, OpenOptions, Secret, Storage, TenantIdentifier, TimeJoinedOrder, UserSearch,
};
use storage_postgres::connect_client;
use storage_postgres::tokio_postgres::{Client, Statement};

const DB: &str = "replica_bench";
const USERS: usize = 2_000;
const POOL: u32 = 16;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_uri(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// `uri` with its database replaced by `db`.
fn with_db(uri: &str, db: &str) -> String {
    let mut u = storage_api::ConnectionUri::parse(uri).expect("URI");
    u.path = db.to_owned();
    u.expose()
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn open(primary: &str, replica: Option<&str>) -> Arc<dyn Storage> {
    storage_api::open(
        primary,
        OpenOptions {
            pool_size: Some(POOL),
            read_replica_uri: replica.map(Secret::new),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("open: {e}"))
}

/// Operations per second of `c` callers running `op(caller, i)` for `secs`.
async fn rate<F, Fut>(c: u64, secs: u64, op: F) -> f64
where
    F: Fn(u64, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for t in 0..c {
        let (op, done) = (op.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut x = t * 7919 + 1;
            while Instant::now() < stop {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                op(t, x >> 33).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn page() -> ListUsers {
    ListUsers {
        tenant: TenantIdentifier::default_public(),
        limit: 100,
        order: TimeJoinedOrder::Asc,
        recipes: Vec::new(),
        after: None,
        search: UserSearch::default(),
    }
}

/// Waits until the replica has replayed what the primary wrote so far.
async fn caught_up(primary: &Client, replica: &Client) {
    let target: String = primary
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    loop {
        let done: bool = replica
            .query_one(
                "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                &[&target],
            )
            .await
            .unwrap()
            .get(0);
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The floor's statement: the primary-key look-up that starts `get_user`.
const FLOOR_SQL: &str =
    "SELECT user_id, recipe_id FROM app_id_to_user_id WHERE app_id = 'public' AND user_id = $1";

/// `POOL` bare connections to `uri`, the floor's statement prepared on each.
async fn bare(uri: &str) -> Arc<Vec<(Client, Statement)>> {
    let mut v = Vec::new();
    for _ in 0..POOL {
        let c = connect_client(uri).await.expect("bare connection");
        let st = c.prepare(FLOOR_SQL).await.expect("prepare");
        v.push((c, st));
    }
    Arc::new(v)
}

#[tokio::main]
async fn main() {
    let secs = env_num("SECS", 3);
    let rounds = env_num("ROUNDS", 3);
    let p_uri = env_uri(
        "POSTGRES_PRIMARY_URI",
        "postgres://postgres@127.0.0.1:5440/test",
    );
    let r_uri = env_uri(
        "POSTGRES_REPLICA_URI",
        "postgres://postgres@127.0.0.1:5441/test",
    );
    println!("load average at start: {}", load());
    let admin = connect_client(&with_db(&p_uri, "postgres"))
        .await
        .expect("connect to the primary");
    let radmin = connect_client(&with_db(&r_uri, "postgres"))
        .await
        .expect("connect to the replica");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .await
        .unwrap();
    caught_up(&admin, &radmin).await;
    let (p_db, r_db) = (with_db(&p_uri, DB), with_db(&r_uri, DB));
    let primary_only = open(&p_db, None).await;
    storage_api::migrate_up(&*primary_only)
        .await
        .expect("migrate");
    let t = TenantIdentifier::default_public();
    primary_only.add_tenant(&t, 1).await.unwrap();
    let mut ids = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let u = primary_only
            .sign_up_email_password(&storage_api::EmailPasswordSignUp {
                tenant: t.clone(),
                user_id: uuid(i),
                email: format!("user{i}@example.com"),
                password_hash: Secret::new("$argon2id$v=19$bench"),
                time_joined: i as i64,
            })
            .await
            .expect("sign up");
        ids.push(u.id);
    }
    let ids = Arc::new(ids);
    caught_up(&admin, &radmin).await;
    let with_replica = open(&p_db, Some(&r_db)).await;
    let (bare_p, bare_r) = (bare(&p_db).await, bare(&r_db).await);

    println!(
        "{USERS} users; {secs} s x {rounds} rounds per cell, sides alternating; ops/s (mean of rounds)"
    );
    println!(
        "{:28} {:>3} {:>13} {:>13} {:>8}",
        "operation", "c", "primary only", "with replica", "ratio"
    );
    for c in [1u64, 16] {
        // get user by id
        let cell = |s: Arc<dyn Storage>| {
            let ids = ids.clone();
            rate(c, secs, move |_, x| {
                let (s, ids) = (s.clone(), ids.clone());
                async move {
                    let id = &ids[(x as usize) % ids.len()];
                    let app = TenantIdentifier::default_public().app;
                    s.get_user(&app, id).await.expect("get_user").expect("user");
                }
            })
        };
        let (mut a, mut b) = (0.0, 0.0);
        for _ in 0..rounds {
            a += cell(primary_only.clone()).await;
            b += cell(with_replica.clone()).await;
        }
        row("get_user (by id)", c, a, b, rounds);

        // a page of 100 users
        let cell = |s: Arc<dyn Storage>| {
            rate(c, secs, move |_, _| {
                let s = s.clone();
                async move {
                    let p = s.list_users(&page()).await.expect("list_users");
                    assert_eq!(p.users.len(), 100);
                }
            })
        };
        let (mut a, mut b) = (0.0, 0.0);
        for _ in 0..rounds {
            a += cell(primary_only.clone()).await;
            b += cell(with_replica.clone()).await;
        }
        row("list_users (page of 100)", c, a, b, rounds);

        // a write: what recording the WAL position costs
        let cell = |s: Arc<dyn Storage>| {
            let ids = ids.clone();
            rate(c, secs, move |_, x| {
                let (s, ids) = (s.clone(), ids.clone());
                async move {
                    let id = &ids[(x as usize) % ids.len()];
                    let app = TenantIdentifier::default_public().app;
                    s.set_user_metadata(&app, id, &serde_json::json!({ "x": x }))
                        .await
                        .expect("set metadata");
                }
            })
        };
        let (mut a, mut b) = (0.0, 0.0);
        for _ in 0..rounds {
            a += cell(primary_only.clone()).await;
            b += cell(with_replica.clone()).await;
        }
        row("set_user_metadata (write)", c, a, b, rounds);

        // a write then reading it back (read-your-writes: the read goes to the
        // primary unless the replica has replayed the write)
        let cell = |s: Arc<dyn Storage>| {
            let ids = ids.clone();
            rate(c, secs, move |task, x| {
                let (s, ids) = (s.clone(), ids.clone());
                async move {
                    // Users of this task only: no other task overwrites them.
                    let slots = ids.len() / 16;
                    let id = &ids[task as usize + 16 * ((x as usize) % slots)];
                    let app = TenantIdentifier::default_public().app;
                    let v = serde_json::json!({ "x": x });
                    s.set_user_metadata(&app, id, &v).await.expect("set");
                    let got = s.get_user_metadata(&app, id).await.expect("get");
                    assert_eq!(got, Some(v));
                }
            })
        };
        let (mut a, mut b) = (0.0, 0.0);
        for _ in 0..rounds {
            a += cell(primary_only.clone()).await;
            b += cell(with_replica.clone()).await;
        }
        row("set then get metadata", c, a, b, rounds);

        // the floor: one primary-key SELECT, bare driver, primary vs replica
        let cell = |conns: Arc<Vec<(Client, Statement)>>| {
            let ids = ids.clone();
            rate(c, secs, move |task, x| {
                let (conns, ids) = (conns.clone(), ids.clone());
                async move {
                    let (client, stmt) = &conns[task as usize % conns.len()];
                    let id = &ids[(x as usize) % ids.len()];
                    client.query_opt(stmt, &[id]).await.expect("floor select");
                }
            })
        };
        let (mut a, mut b) = (0.0, 0.0);
        for _ in 0..rounds {
            a += cell(bare_p.clone()).await;
            b += cell(bare_r.clone()).await;
        }
        row("floor: bare pk SELECT", c, a, b, rounds);
    }
    println!("load average at end: {}", load());
    primary_only.close().await;
    with_replica.close().await;
    drop((bare_p, bare_r));
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        .await
        .unwrap();
}

fn row(name: &str, c: u64, a: f64, b: f64, rounds: u64) {
    let (a, b) = (a / rounds as f64, b / rounds as f64);
    println!("{name:28} {c:>3} {a:>13.0} {b:>13.0} {:>8.2}", b / a);
}

/// A deterministic UUID for user `i`.
fn uuid(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}
