//! The cost of a transaction-mode pooler: the storage through PgBouncer 1.18
//! (`?pooler=transaction`: unnamed statements, one round trip each) against the
//! storage connected directly, on the same database, c=8 callers, a point read
//! (`kv_get`) and an upsert (`kv_set`), alternating in rounds.
//!
//! ```sh
//! .ci/extra-servers.sh   # PgBouncer on 127.0.0.1:6432 in front of 127.0.0.1:5432
//! SECS=3 ROUNDS=3 cargo run --release -p storage-bench --example pgbouncer
//! ```
//!
//! It creates and drops a database `pgbouncer_bench` (user `postgres`, trust auth).
//! PgBouncer gives each database 3 server connections (`.ci/extra-servers.sh`);
//! the storage's pool has 8 connections in both cases.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use storage_api::{KeyValue, OpenOptions, Storage, TenantIdentifier};
use storage_postgres::connect_client;

const DB: &str = "pgbouncer_bench";
const KEYS: u64 = 1_000;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn open(uri: &str) -> Arc<dyn Storage> {
    storage_api::open(
        uri,
        OpenOptions {
            pool_size: Some(8),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("open {uri}: {e}"))
}

/// Operations per second of 8 callers doing `write` or a read for `secs`.
async fn run(s: &Arc<dyn Storage>, write: bool, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let (s, done) = (s.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let tenant = TenantIdentifier::default_public();
            let mut x = t * 7919 + 1;
            while Instant::now() < stop {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let key = format!("k{}", (x >> 33) % KEYS);
                if write {
                    let v = KeyValue {
                        value: x.to_string(),
                        created_at: 1,
                    };
                    s.kv_set(&tenant, &key, &v).await.expect("kv_set");
                } else {
                    s.kv_get(&tenant, &key).await.expect("kv_get");
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let secs = env_num("SECS", 3);
    let rounds = env_num("ROUNDS", 3);
    let admin = connect_client("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .expect("connect to PostgreSQL on 127.0.0.1:5432");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .await
        .unwrap();
    let direct = open(&format!("postgres://postgres@127.0.0.1:5432/{DB}")).await;
    storage_api::migrate_up(&*direct).await.expect("migrate");
    let pooled = open(&format!(
        "postgres://postgres@127.0.0.1:6432/{DB}?pooler=transaction"
    ))
    .await;
    let tenant = TenantIdentifier::default_public();
    direct.add_tenant(&tenant, 1).await.unwrap();
    for k in 0..KEYS {
        let v = KeyValue {
            value: "0".into(),
            created_at: 1,
        };
        direct.kv_set(&tenant, &format!("k{k}"), &v).await.unwrap();
    }
    for (name, write) in [("kv_get (point read)", false), ("kv_set (upsert)", true)] {
        let (mut d, mut p) = (0.0, 0.0);
        for _ in 0..rounds {
            d += run(&direct, write, secs).await;
            p += run(&pooled, write, secs).await;
        }
        let (d, p) = (d / rounds as f64, p / rounds as f64);
        println!(
            "{name:20} c=8  direct {d:9.0} ops/s  through PgBouncer {p:9.0} ops/s  pgbouncer/direct {:.2}",
            p / d
        );
    }
    direct.close().await;
    pooled.close().await;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        .await
        .unwrap();
}
