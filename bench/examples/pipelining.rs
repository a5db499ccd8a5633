//! The experiment behind read sharing in storage-postgres: eight tasks read one row
//! by primary key (the shape of get session) through K bare tokio-postgres clients,
//! 8/K tasks per client, so that with K < 8 their statements are pipelined on each
//! connection; pgbench runs the same SELECT with eight connections in the same run.
//!
//! ```sh
//! cargo run --release -p storage-bench --example pipelining
//! KS=8,4,2,1 SECS=4 PGHOST=/var/run/postgresql cargo run --release -p storage-bench --example pipelining
//! ```
//!
//! It creates and drops a database `pipelining_exp` (user `postgres`, trust auth).
//! Measured on the 2-core bench machine (BENCHMARKS.md): K=8 reached 0.79-0.84 of
//! pgbench, K=4 1.12-1.31, K=2 1.15-1.20, K=1 1.00-1.28.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use storage_postgres::tokio_postgres::{Client, NoTls, connect as pg_connect};

const DB: &str = "pipelining_exp";
const ROWS: u64 = 10_000;
const BASE: u64 = 1_000_000_000_000_000_000;
const SQL: &str = "SELECT session_handle, user_id, refresh_token_hash_2, session_data, \
    expires_at, created_at_time, jwt_user_payload, use_static_key, prev, rotated \
    FROM s WHERE app_id = $1 AND tenant_id = $2 AND session_handle = $3";

fn host() -> String {
    std::env::var("PGHOST").unwrap_or_else(|_| "/var/run/postgresql".into())
}

async fn connect(db: &str) -> Client {
    let (client, conn) = pg_connect(&format!("host={} user=postgres dbname={db}", host()), NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(conn);
    client
}

/// Operations per second of `tasks` readers over `k` clients for `secs` seconds.
async fn run(k: usize, tasks: usize, secs: u64) -> f64 {
    let mut clients = Vec::new();
    let mut stmts = Vec::new();
    for _ in 0..k {
        let c = Arc::new(connect(DB).await);
        stmts.push(c.prepare(SQL).await.expect("prepare"));
        clients.push(c);
    }
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(secs);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (c, st, done) = (clients[t % k].clone(), stmts[t % k].clone(), done.clone());
        handles.push(tokio::spawn(async move {
            let mut x = t as u64 * 7919 + 1;
            while Instant::now() < stop {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let handle = (BASE + (x >> 33) % ROWS).to_string();
                let rows = c
                    .query(&st, &[&"public", &"public", &handle])
                    .await
                    .expect("query");
                assert_eq!(rows.len(), 1, "row {handle}");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for h in handles {
        h.await.expect("reader");
    }
    done.load(Ordering::Relaxed) as f64 / secs as f64
}

/// pgbench's transactions per second for the same SELECT with `c` connections.
fn pgbench(c: usize, secs: u64) -> f64 {
    let script = std::env::temp_dir().join("pipelining_exp.sql");
    std::fs::write(
        &script,
        format!(
            "\\set h {BASE} + random(0, {})\n{};\n",
            ROWS - 1,
            SQL.replace("$1", "'public'")
                .replace("$2", "'public'")
                .replace("$3", ":h::text")
        ),
    )
    .expect("write the pgbench script");
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-h", &host(), "-U", "postgres"])
        .args(["-c", &c.to_string(), "-j", "2", "-T", &secs.to_string()])
        .arg("-f")
        .arg(&script)
        .arg(DB)
        .output()
        .expect("run pgbench");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .unwrap_or_else(|| panic!("no tps in pgbench output: {text}"));
    line.split_whitespace()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .expect("pgbench tps")
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let ks: Vec<usize> = std::env::var("KS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![8, 4, 2, 1]);
    let admin = connect("postgres").await;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        .await
        .expect("drop");
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .await
        .expect("create");
    let db = connect(DB).await;
    db.batch_execute(&format!(
        "CREATE TABLE s (app_id varchar(64), tenant_id varchar(64), session_handle varchar(255), \
         user_id varchar(128), refresh_token_hash_2 varchar(128), session_data text, \
         expires_at bigint, created_at_time bigint, jwt_user_payload text, use_static_key boolean, \
         prev varchar(128), rotated bigint, PRIMARY KEY (app_id, tenant_id, session_handle)); \
         INSERT INTO s SELECT 'public', 'public', ({BASE} + g)::text, 'user-' || g, md5(g::text), \
         '{{\"a\":1}}', 99999999999, 1, '{{\"b\":2}}', false, NULL, 0 \
         FROM generate_series(0, {}) g",
        ROWS - 1
    ))
    .await
    .expect("load");
    db.batch_execute("VACUUM ANALYZE s").await.expect("vacuum");
    drop(db);
    for round in 0..2 {
        let floor = pgbench(8, secs);
        print!("round {round}: pgbench c=8 {floor:.0}/s");
        for &k in &ks {
            let r = run(k.max(1), 8, secs).await;
            print!(" | K={k} {r:.0}/s ({:.2})", r / floor);
        }
        println!();
    }
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        .await
        .expect("drop");
}
