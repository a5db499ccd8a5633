//! # storage-bench
//!
//! Measures the storage through `Arc<dyn Storage>` on SQLite, PostgreSQL and MariaDB,
//! side by side with the floor: the same SQL through the bare driver (and pgbench on
//! PostgreSQL). See `bench/README.md`.
//!
//! ```text
//! cargo run --release -p storage-bench -- [--backend sqlite|postgres|mysql|all] [--quick] [--scale 10k|1m]
//! ```

mod alloc;
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

/// Counts allocations for the memory phase (see `alloc.rs`).
#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

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

/// The commit the run measures: `git rev-parse HEAD` of the repository (short and
/// full), its commit date, and whether the work tree was dirty (`git status
/// --porcelain`, ignoring `bench/results/` and `*.md`, which runs rewrite).
fn commit() -> Value {
    let root = root();
    let dir = root.to_string_lossy().into_owned();
    let git = |args: &[&str]| {
        let mut a = vec!["-C", dir.as_str()];
        a.extend_from_slice(args);
        sh("git", &a)
    };
    let full = git(&["rev-parse", "HEAD"]);
    if full.is_empty() {
        return Value::Null;
    }
    let status = std::process::Command::new("git")
        .args(["-C", &dir, "status", "--porcelain"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let dirty = dirty_files(&status);
    json!({
        "full": full,
        "short": git(&["rev-parse", "--short", "HEAD"]),
        "date": git(&["show", "-s", "--format=%cI", "HEAD"]),
        "dirty": !dirty.is_empty(),
        "dirty_files": dirty,
    })
}

/// The changed paths of `git status --porcelain` output that make a run's tree
/// dirty: all but `bench/results/...` and `*.md`.
fn dirty_files(porcelain: &str) -> Vec<String> {
    porcelain
        .lines()
        .filter(|l| l.len() > 3)
        .map(|l| {
            let p = &l[3..];
            // A rename: `old -> new`.
            p.rsplit(" -> ")
                .next()
                .unwrap_or(p)
                .trim_matches('"')
                .to_owned()
        })
        .filter(|p| !p.starts_with("bench/results/") && !p.ends_with(".md"))
        .collect()
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

/// Writes the generated blocks `doc` has: the main block if it has main results, the
/// phase-2 block if it has phase-2 results.
fn render(md: &std::path::Path, doc: &Value) -> std::io::Result<()> {
    if doc["results"].as_array().is_some_and(|a| !a.is_empty()) {
        report::write_markdown(md, doc)?;
    }
    if report::is_phase2(doc) {
        report::write_phase2_markdown(md, doc)?;
    }
    Ok(())
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
    // The repository's BENCHMARKS.md for its results directories, else one in --out.
    let canon = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let out = canon(&args.out);
    let results = canon(&root().join("bench/results"));
    let md_path = if out == results || out == results.join("phase2") {
        root().join("BENCHMARKS.md")
    } else {
        args.out.join("BENCHMARKS.md")
    };
    let mut doc: Value = std::fs::read_to_string(&json_path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(|| json!({}));
    if args.render {
        if let Err(e) = render(&md_path, &doc) {
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
    let git_commit = commit();
    // The binary reads the commit of the tree it was built from: say so when run from
    // another one (a target directory shared between work trees can hold a binary
    // built from another tree).
    if let Ok(cwd) = std::env::current_dir()
        && !canon(&cwd).starts_with(canon(&root()))
    {
        eprintln!(
            "WARNING: this binary was built from {}, not from the current directory {}",
            root().display(),
            cwd.display()
        );
    }
    if git_commit["dirty"] == true {
        eprintln!(
            "WARNING: the work tree is DIRTY ({}): the results will say so",
            git_commit["dirty_files"]
        );
    }
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
            "commit": git_commit.clone(),
            "host": sh("hostname", &[]),
            "source_tree": root().display().to_string(),
        });
        match r {
            Ok(out) => {
                report::merge(&mut doc, kind.name(), out, run);
                let text = serde_json::to_string_pretty(&doc).expect("json");
                std::fs::write(&json_path, text).expect("write latest.json");
                if let Err(e) = render(&md_path, &doc) {
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

#[cfg(test)]
mod tests {
    use super::dirty_files;

    #[test]
    fn dirty_ignores_results_and_markdown() {
        let st = " M BENCHMARKS.md\n M bench/results/latest.json\n?? bench/results/pgbench/x.sql\n";
        assert!(dirty_files(st).is_empty());
        let st = " M bench/src/bench.rs\nR  a.rs -> b.rs\n M README.md\n";
        assert_eq!(dirty_files(st), vec!["bench/src/bench.rs", "b.rs"]);
    }
}
