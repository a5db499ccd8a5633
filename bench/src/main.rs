//! # storage-bench
//!
//! Measures the storage through `Arc<dyn Storage>` on SQLite, PostgreSQL and MariaDB,
//! side by side with the floor: the same SQL through the bare driver (and pgbench on
//! PostgreSQL). See `bench/README.md`.
//!
//! ```text
//! cargo run --release -p storage-bench -- [--backend sqlite|postgres|mysql|all] [--quick] [--scale 10k|1m]
//! ```

mod bench;
mod db;
mod model;
mod ops;
mod pgbench;
mod raw;
mod rec;
mod report;
mod rt;
mod run;

use bench::{Bench, Cfg};
use db::{Kind, Targets};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

// Link the backends so that their URI schemes are registered.
use storage_mysql as _;
use storage_postgres as _;
use storage_sqlite as _;

const USAGE: &str =
    "usage: storage-bench [--backend sqlite|postgres|mysql|all] [--quick] [--scale 10k|1m]
                     [--out DIR] [--keep] [--render] [--ops a,b] [--phases main,memory,rt,scale,phase2]
                     [--pg-host /var/run/postgresql] [--pg-tcp 127.0.0.1:5432]
                     [--mysql 127.0.0.1:3306] [--sqlite PATH] [--pg-log PATH]";

struct Args {
    backends: Vec<Kind>,
    quick: bool,
    big: bool,
    out: PathBuf,
    keep: bool,
    render: bool,
    targets: Targets,
    pg_log: PathBuf,
    users: u64,
    only: Vec<String>,
    phases: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

fn parse() -> Result<Args, String> {
    let root = root();
    let mut a = Args {
        backends: vec![Kind::Sqlite, Kind::Postgres, Kind::Mysql],
        quick: false,
        big: false,
        out: root.join("bench/results"),
        keep: false,
        render: false,
        targets: Targets {
            pg_host: "/var/run/postgresql".into(),
            pg_tcp: "127.0.0.1:5432".into(),
            my_tcp: "127.0.0.1:3306".into(),
            sqlite: root.join("target/storage-bench/bench.db"),
        },
        pg_log: "/var/log/postgresql/postgresql-15-main.log".into(),
        users: 10_000,
        only: Vec::new(),
        phases: ["main", "memory", "rt", "scale"].map(String::from).to_vec(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--backend" => {
                a.backends = match val()?.as_str() {
                    "sqlite" => vec![Kind::Sqlite],
                    "postgres" | "postgresql" | "pg" => vec![Kind::Postgres],
                    "mysql" | "mariadb" => vec![Kind::Mysql],
                    "all" => vec![Kind::Sqlite, Kind::Postgres, Kind::Mysql],
                    b => return Err(format!("unknown backend `{b}`\n{USAGE}")),
                }
            }
            "--quick" => a.quick = true,
            "--scale" => {
                a.big = match val()?.to_ascii_lowercase().as_str() {
                    "10k" => false,
                    "1m" => true,
                    s => return Err(format!("unknown scale `{s}`\n{USAGE}")),
                }
            }
            "--ops" => a.only = val()?.split(',').map(str::to_owned).collect(),
            "--phases" => a.phases = val()?.split(',').map(str::to_owned).collect(),
            "--users" => a.users = val()?.parse().map_err(|_| "bad --users")?,
            "--out" => a.out = val()?.into(),
            "--keep" => a.keep = true,
            "--render" => a.render = true,
            "--pg-host" => a.targets.pg_host = val()?,
            "--pg-tcp" => a.targets.pg_tcp = val()?,
            "--mysql" => a.targets.my_tcp = val()?,
            "--sqlite" => a.targets.sqlite = val()?.into(),
            "--pg-log" => a.pg_log = val()?.into(),
            "-h" | "--help" => return Err(USAGE.into()),
            x => return Err(format!("unknown argument `{x}`\n{USAGE}")),
        }
    }
    Ok(a)
}

fn sh(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_default();
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory": mem,
        "kernel": sh("uname", &["-r"]),
        "rustc": sh("rustc", &["--version"]),
        "postgresql": sh("psql", &["-h", "/var/run/postgresql", "-U", "postgres", "-Atc", "SELECT version()", "postgres"])
            .split(" on ").next().unwrap_or("").to_owned(),
        "mariadb": format!("MariaDB {}", sh("mysql", &["-h127.0.0.1", "-uroot", "-Nse", "SELECT VERSION()"])),
        "sqlite": rusqlite::version(),
        "pgbench": sh("pgbench", &["--version"]),
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn now_utc() -> String {
    sh("date", &["-u", "+%Y-%m-%d %H:%M:%S"])
}

async fn one(kind: Kind, cfg: Cfg, t: Targets, phases: Vec<String>) -> Result<Value, String> {
    let mut b = Bench::setup(kind, cfg, t).await?;
    let has = |p: &str| phases.iter().any(|x| x == p);
    if has("main") {
        b.main_cells().await?;
    }
    if has("memory") {
        b.memory().await?;
    }
    if has("rt") {
        b.round_trips().await?;
    }
    if has("scale") && has("phase2") {
        return Err(
            "phase2 and scale need separate runs: phase 2 links users, which the \
             phase-1 floors do not expect"
                .into(),
        );
    }
    if has("scale") {
        b.scale().await?;
    }
    if has("phase2") {
        b.phase2().await?;
    }
    Ok(b.finish().await)
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let json_path = args.out.join("latest.json");
    let md_path = if args.out == root().join("bench/results") {
        root().join("BENCHMARKS.md")
    } else {
        args.out.join("BENCHMARKS.md")
    };
    let mut doc: Value = std::fs::read_to_string(&json_path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(|| json!({}));
    if args.render {
        if let Err(e) = report::write_markdown(&md_path, &doc) {
            eprintln!("cannot write {}: {e}", md_path.display());
            std::process::exit(1);
        }
        return;
    }
    // The default multi-thread runtime (one worker per core); STORAGE_BENCH_WORKERS
    // sets another number of workers, for comparison.
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("STORAGE_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        builder.worker_threads(n.max(1));
    }
    let rt = builder.enable_all().build().expect("runtime");
    let cfg = Cfg {
        round: Duration::from_millis(if args.quick { 500 } else { 2000 }),
        rounds: if args.quick { 1 } else { 3 },
        warm: Duration::from_millis(if args.quick { 200 } else { 500 }),
        pgbench_secs: if args.quick { 1 } else { 2 },
        users: args.users,
        big_users: args.big.then_some(1_000_000),
        out: args.out.clone(),
        pg_log: args.pg_log.clone(),
        keep: args.keep,
        only: args.only.clone(),
    };
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    doc["machine"] = machine();
    std::fs::create_dir_all(&args.out).expect("results directory");
    let mut failed = false;
    for kind in args.backends.clone() {
        let started = now_utc();
        let before = loadavg();
        let t0 = std::time::Instant::now();
        eprintln!("== {} (load average {before})", kind.name());
        let r = rt.block_on(one(
            kind,
            cfg.clone(),
            args.targets.clone(),
            args.phases.clone(),
        ));
        let run = json!({
            "command": format!("cargo run --release -p storage-bench -- {command}").trim().to_owned(),
            "started": started,
            "seconds": t0.elapsed().as_secs_f64().round(),
            "loadavg_before": before,
            "loadavg_after": loadavg(),
            "quick": args.quick,
            "users": cfg.users,
            "big_users": cfg.big_users,
            "round_ms": cfg.round.as_millis() as u64,
            "rounds": cfg.rounds,
            "tokio_workers": std::env::var("STORAGE_BENCH_WORKERS").ok(),
        });
        match r {
            Ok(out) => {
                report::merge(&mut doc, kind.name(), out, run);
                let text = serde_json::to_string_pretty(&doc).expect("json");
                std::fs::write(&json_path, text).expect("write latest.json");
                if let Err(e) = report::write_markdown(&md_path, &doc) {
                    eprintln!("cannot write {}: {e}", md_path.display());
                }
            }
            Err(e) => {
                eprintln!("{} failed: {e}", kind.name());
                failed = true;
            }
        }
    }
    eprintln!("results: {} and {}", json_path.display(), md_path.display());
    if failed {
        std::process::exit(1);
    }
}
