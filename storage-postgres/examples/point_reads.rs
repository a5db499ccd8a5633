//! Point-read throughput of the driver: `TASKS` concurrent tasks, each taking a
//! connection from the pool and running one cached, prepared single-row SELECT per
//! operation, for `SECS` seconds. Compare with pgbench running the same SQL:
//!
//! ```text
//! cargo run --release -p storage-postgres --example point_reads -- [URI] [TASKS] [SECS]
//! ```
//!
//! The URI defaults to `POSTGRES_TEST_URI` or `postgres://postgres@127.0.0.1:5432/test`
//! (`postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test` for the Unix socket).

use sea_query::{Value, Values};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use storage_api::{ConnectionUri, OpenOptions};
use storage_postgres::PostgresDriver;
use storage_sql::{Conn, Driver};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let uri = args.next().unwrap_or_else(|| {
        std::env::var("POSTGRES_TEST_URI")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    });
    let tasks: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let schema = format!("bench_{}", std::process::id());
    let uri = ConnectionUri::parse(&uri).expect("URI");
    let driver = Arc::new(
        PostgresDriver::connect(
            &uri,
            &OpenOptions {
                schema: Some(schema.clone()),
                pool_size: Some(tasks as u32),
                ..Default::default()
            },
        )
        .await
        .expect("connect"),
    );
    {
        let mut c = driver.acquire().await.expect("acquire");
        c.execute(
            "CREATE TABLE IF NOT EXISTS kv (id BIGINT PRIMARY KEY, v TEXT NOT NULL)",
            Values(vec![]),
        )
        .await
        .expect("create");
        c.execute(
            "INSERT INTO kv SELECT g, md5(g::text) FROM generate_series(1, 10000) g ON CONFLICT DO NOTHING",
            Values(vec![]),
        )
        .await
        .expect("fill");
    }
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let driver = driver.clone();
        let done = done.clone();
        handles.push(tokio::spawn(async move {
            let mut i = t as i64;
            while Instant::now() < deadline {
                let mut c = driver.acquire().await.expect("acquire");
                let rows = c
                    .fetch(
                        "SELECT v FROM kv WHERE id = $1",
                        Values(vec![Value::BigInt(Some(i % 10_000 + 1))]),
                    )
                    .await
                    .expect("read");
                assert_eq!(rows.len(), 1);
                i += 7;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let n = done.load(Ordering::Relaxed);
    println!(
        "{tasks} tasks, {secs} s: {n} point reads, {:.0}/s",
        n as f64 / secs as f64
    );
    let mut c = driver.acquire().await.expect("acquire");
    c.execute(&format!("DROP SCHEMA {schema} CASCADE"), Values(vec![]))
        .await
        .expect("drop schema");
    drop(c);
    driver.close().await;
}
