//! Experiment: 8 tasks reading one row by primary key over K shared tokio-postgres
//! clients (pipelined), against pgbench in the same run.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

async fn connect(db: &str) -> storage_postgres::tokio_postgres::Client {
    let (c, conn) = storage_postgres::tokio_postgres::connect(
        &format!("host=/var/run/postgresql user=postgres dbname={db}"),
        storage_postgres::tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    c
}

const SQL: &str = "SELECT session_handle, user_id, refresh_token_hash_2, session_data, expires_at, created_at_time, jwt_user_payload, use_static_key, prev, rotated FROM s WHERE app_id = $1 AND tenant_id = $2 AND session_handle = $3";

async fn run(k: usize, tasks: usize, secs: u64) -> f64 {
    let mut clients = Vec::new();
    for _ in 0..k {
        clients.push(Arc::new(connect("mux_exp").await));
    }
    let stmts: Vec<_> = futures_join(clients.iter().map(|c| c.prepare(SQL))).await;
    let n = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(secs);
    let mut hs = Vec::new();
    for t in 0..tasks {
        let c = clients[t % k].clone();
        let st = stmts[t % k].clone();
        let n = n.clone();
        hs.push(tokio::spawn(async move {
            let mut i: u64 = t as u64 * 7919;
            while Instant::now() < stop {
                i = (i * 6364136223846793005 + 1442695040888963407) % 10_000;
                let h = format!("{}", 1_000_000_000_000_000_000u64 + i);
                let rows = c.query(&st, &[&"public", &"public", &h]).await.unwrap();
                assert_eq!(rows.len(), 1);
                n.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    n.load(Ordering::Relaxed) as f64 / secs as f64
}

async fn futures_join<
    F: std::future::Future<
            Output = Result<
                storage_postgres::tokio_postgres::Statement,
                storage_postgres::tokio_postgres::Error,
            >,
        >,
>(
    it: impl Iterator<Item = F>,
) -> Vec<storage_postgres::tokio_postgres::Statement> {
    let mut v = Vec::new();
    for f in it {
        v.push(f.await.unwrap());
    }
    v
}

fn pgbench(c: usize, secs: u64) -> f64 {
    let script = "/tmp/mux_exp.sql";
    std::fs::write(script, "\\set h 1000000000000000000 + random(0, 9999)\nSELECT session_handle, user_id, refresh_token_hash_2, session_data, expires_at, created_at_time, jwt_user_payload, use_static_key, prev, rotated FROM s WHERE app_id = 'public' AND tenant_id = 'public' AND session_handle = :h::text;\n").unwrap();
    let out = std::process::Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-h",
            "/var/run/postgresql",
            "-U",
            "postgres",
            "-c",
            &c.to_string(),
            "-j",
            "2",
            "-T",
            &secs.to_string(),
            "-f",
            script,
            "mux_exp",
        ])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    let line = s
        .lines()
        .find(|l| l.starts_with("tps"))
        .unwrap_or_else(|| panic!("{s}{}", String::from_utf8_lossy(&out.stderr)));
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[tokio::main]
async fn main() {
    let admin = connect("postgres").await;
    let _ = admin.batch_execute("DROP DATABASE IF EXISTS mux_exp").await;
    admin
        .batch_execute("CREATE DATABASE mux_exp")
        .await
        .unwrap();
    let db = connect("mux_exp").await;
    db.batch_execute("CREATE TABLE s (app_id varchar(64), tenant_id varchar(64), session_handle varchar(255), user_id varchar(128), refresh_token_hash_2 varchar(128), session_data text, expires_at bigint, created_at_time bigint, jwt_user_payload text, use_static_key boolean, prev varchar(128), rotated bigint, primary key(app_id, tenant_id, session_handle));
      INSERT INTO s SELECT 'public','public', (1000000000000000000 + g)::text, 'user-'||g, md5(g::text), '{\"a\":1}', 99999999999, 1, '{\"b\":2}', false, null, 0 FROM generate_series(0,9999) g;").await.unwrap();
    db.batch_execute("VACUUM ANALYZE s").await.unwrap();
    let secs = 4;
    let ks: Vec<usize> = std::env::var("KS")
        .ok()
        .map(|s| s.split(',').map(|x| x.parse().unwrap()).collect())
        .unwrap_or(vec![8, 4, 2, 1]);
    for round in 0..2 {
        let pb = pgbench(8, secs);
        print!("round {round}: pgbench c=8 {pb:.0}");
        for &k in &ks {
            let r = run(k, 8, secs).await;
            print!(" | k={k} {r:.0} ({:.2})", r / pb);
        }
        println!();
    }
    let pb1 = pgbench(1, secs);
    let r1 = run(1, 1, secs).await;
    println!("c=1: pgbench {pb1:.0} ours {r1:.0} ({:.2})", r1 / pb1);
    drop(db);
    let _ = admin.batch_execute("DROP DATABASE IF EXISTS mux_exp").await;
}
