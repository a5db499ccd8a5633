//! A PostgreSQL primary and a synchronous streaming standby of this test's own, on
//! two free ports of 5450-5459 on 127.0.0.1, under a fresh `/tmp/failover-run-*`
//! directory; stopped and deleted when the [`Pair`] is dropped, also after a panic.
//!
//! - Both servers run as the `postgres` user (`runuser -u postgres --`), from the
//!   binaries of the newest `/usr/lib/postgresql/<version>/bin`.
//! - The primary has `synchronous_standby_names = '*'` and `synchronous_commit = on`:
//!   a commit is acknowledged only once the standby has flushed its WAL.
//! - The standby is `pg_basebackup -R` of the primary (streaming, `-X stream`), with
//!   `synchronous_standby_names = ''`: once promoted it is a primary without a
//!   standby of its own, which takes writes at once (as a failover manager that is
//!   not in strict synchronous mode does).
//! - Ports: each candidate port is taken by an exclusive lock on
//!   `/tmp/failover-ports/<port>.lock`, held for the pair's life (the kernel releases
//!   it if the process dies), and must be free to bind; so parallel and repeated runs
//!   never share a port.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The ports this test may use.
const PORTS: std::ops::RangeInclusive<u16> = 5450..=5459;

/// Where the port locks live.
const PORT_LOCKS: &str = "/tmp/failover-ports";

/// One server of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// The server that starts as primary.
    Primary,
    /// The server that starts as synchronous standby.
    Standby,
}

/// The running pair; `Drop` stops both servers and deletes their files.
pub struct Pair {
    bin: PathBuf,
    dir: PathBuf,
    /// Ports of the primary and the standby.
    pub ports: [u16; 2],
    _locks: Vec<File>,
}

/// The binaries of the newest PostgreSQL installed.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("/usr/lib/postgresql: PostgreSQL's server binaries")
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().into_string().ok()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("a PostgreSQL version with initdb under /usr/lib/postgresql")
        .1
}

/// Two ports of [`PORTS`], each locked and free to bind.
fn take_ports() -> ([u16; 2], Vec<File>) {
    std::fs::create_dir_all(PORT_LOCKS).expect("create the port lock directory");
    let mut ports = Vec::new();
    let mut locks = Vec::new();
    for port in PORTS {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(Path::new(PORT_LOCKS).join(format!("{port}.lock")))
            .expect("open a port lock");
        if lock.try_lock().is_err() || TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        ports.push(port);
        locks.push(lock);
        if ports.len() == 2 {
            return ([ports[0], ports[1]], locks);
        }
    }
    panic!("fewer than two free ports in {PORTS:?} (other failover runs, or servers left behind?)");
}

/// The uid of the `postgres` user.
fn postgres_uid() -> u32 {
    let out = Command::new("id")
        .args(["-u", "postgres"])
        .output()
        .expect("run `id -u postgres`");
    assert!(out.status.success(), "no `postgres` user on this machine");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a numeric uid")
}

impl Pair {
    /// Creates, starts and connects the pair; returns once the standby streams
    /// synchronously (`pg_stat_replication.sync_state = 'sync'`).
    pub fn start() -> Pair {
        let (ports, locks) = take_ports();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = PathBuf::from(format!("/tmp/failover-run-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the run directory");
        // From here on, `Drop` cleans up whatever exists.
        let pair = Pair {
            bin: bin_dir(),
            dir,
            ports,
            _locks: locks,
        };
        std::os::unix::fs::chown(&pair.dir, Some(postgres_uid()), None)
            .expect("give the run directory to postgres");

        let primary = pair.data(Node::Primary);
        pair.run(
            "initdb",
            &[
                "-D",
                path(&primary),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        );
        append(
            &primary.join("postgresql.conf"),
            &format!(
                "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
                 synchronous_standby_names = '*'\nsynchronous_commit = on\n\
                 shared_buffers = 16MB\nmax_connections = 40\n",
                ports[0],
                pair.dir.display()
            ),
        );
        pair.pg_ctl_start(Node::Primary);

        let standby = pair.data(Node::Standby);
        pair.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &ports[0].to_string(),
                "-U",
                "postgres",
                "-D",
                path(&standby),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        );
        append(
            &standby.join("postgresql.conf"),
            &format!("port = {}\nsynchronous_standby_names = ''\n", ports[1]),
        );
        pair.pg_ctl_start(Node::Standby);

        let start = Instant::now();
        loop {
            let out = pair.psql(Node::Primary, "SELECT sync_state FROM pg_stat_replication");
            if out.trim() == "sync" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the standby did not become a synchronous standby within 60 s: `{out}`; {}",
                pair.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        pair
    }

    /// The data directory of `node`.
    fn data(&self, node: Node) -> PathBuf {
        self.dir.join(match node {
            Node::Primary => "primary",
            Node::Standby => "standby",
        })
    }

    /// The port of `node`.
    pub fn port(&self, node: Node) -> u16 {
        match node {
            Node::Primary => self.ports[0],
            Node::Standby => self.ports[1],
        }
    }

    /// Runs one of PostgreSQL's programs as the `postgres` user.
    fn exec(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&exe)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()))
    }

    /// [`Pair::exec`] that must succeed; returns its standard output.
    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.exec(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}): {}{}; {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn pg_ctl_start(&self, node: Node) {
        let data = self.data(node);
        let log = self.dir.join(format!("{node:?}.log"));
        self.run(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                path(&data),
                "-l",
                path(&log),
            ],
        );
    }

    /// One value from `node` through `psql` (unaligned, tuples only).
    pub fn psql(&self, node: Node, sql: &str) -> String {
        self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port(node).to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-XAtc",
                sql,
            ],
        )
    }

    /// `pg_ctl stop -m immediate`: the server's processes quit at once, without a
    /// shutdown checkpoint, as in a crash.
    pub fn stop_immediately(&self, node: Node) {
        let data = self.data(node);
        self.run(
            "pg_ctl",
            &["stop", "-w", "-m", "immediate", "-D", path(&data)],
        );
    }

    /// `pg_ctl promote` (waits until the standby has left recovery).
    pub fn promote(&self, node: Node) {
        let data = self.data(node);
        self.run("pg_ctl", &["promote", "-w", "-t", "60", "-D", path(&data)]);
    }

    /// Both servers' logs, for failure messages.
    pub fn logs(&self) -> String {
        [Node::Primary, Node::Standby]
            .iter()
            .map(|n| {
                let log = self.dir.join(format!("{n:?}.log"));
                format!(
                    "--- {n:?} log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for node in [Node::Standby, Node::Primary] {
            let data = self.data(node);
            if data.join("postmaster.pid").exists() {
                let out = self.exec(
                    "pg_ctl",
                    &["stop", "-w", "-m", "immediate", "-D", path(&data)],
                );
                if !out.status.success() {
                    eprintln!(
                        "stopping the {node:?} server failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("removing {} failed: {e}", self.dir.display());
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path under /tmp")
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut f = OpenOptions::new()
        .append(true)
        .open(file)
        .unwrap_or_else(|e| panic!("open {}: {e}", file.display()));
    f.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
}
