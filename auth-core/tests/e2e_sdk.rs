//! The unmodified supertokens-node 24 SDK against real auth-core processes: the
//! flows of cdi.md (f) (`e2e/flows.js`) and two browser-like flows through an Express
//! backend (`e2e/http-flows.js`), on SQLite, PostgreSQL (two auth-core processes on
//! one database, the SDK round-robins between them) and MariaDB (selected by
//! `MYSQL_CONNECTION_URI` only); and sessions on the static signing key
//! (`e2e/static-key-flows.js`, the SDK with `useDynamicAccessTokenSigningKey:false`).
//!
//! Needs Node 20+ and `npm ci` in `auth-core/e2e` (`.ci/run` does it); without them
//! these tests fail, they never skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const API_KEY: &str = "e2e-api-key-0123456789abcdef";

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e")
}

fn preflight() {
    let sdk = e2e_dir().join("node_modules/supertokens-node/package.json");
    assert!(
        sdk.exists(),
        "supertokens-node is not installed: run `npm ci` in {} (see .ci/run)",
        e2e_dir().display()
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// An auth-core process, killed on drop.
struct CoreProcess {
    child: Child,
    port: u16,
}

impl Drop for CoreProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_core(env: &[(&str, String)], dir: &Path) -> CoreProcess {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-core"));
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .current_dir(dir)
        .env_remove("POSTGRESQL_CONNECTION_URI")
        .env_remove("MYSQL_CONNECTION_URI")
        .env_remove("DATABASE_URL")
        .env("API_KEYS", API_KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start auth-core");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("auth-core exited during start-up: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "auth-core did not listen within 90 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    CoreProcess { child, port }
}

fn run_node(script: &str, cores: &[&CoreProcess]) {
    let uri = cores
        .iter()
        .map(|c| format!("http://127.0.0.1:{}", c.port))
        .collect::<Vec<_>>()
        .join(";");
    let out = Command::new("node")
        .arg(script)
        .current_dir(e2e_dir())
        .env("CORE", &uri)
        .env("API_KEY", API_KEY)
        .output()
        .expect("run node (Node 20+ must be installed)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{script} against {uri}:\n{stdout}{stderr}");
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
}

fn run_all(cores: &[&CoreProcess]) {
    run_node("flows.js", cores);
    run_node("http-flows.js", cores);
    run_node("static-key-flows.js", cores);
}

#[test]
fn sdk_on_sqlite_default() {
    preflight();
    let dir = tempfile::tempdir().unwrap();
    // No connection URI at all: the SQLite default in the working directory.
    let core = start_core(&[], dir.path());
    run_all(&[&core]);
    assert!(dir.path().join("auth-storage.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_on_postgres_two_processes() {
    preflight();
    let admin = storage_tests::backends::postgres::connect_admin().await;
    let schema = storage_tests::backends::postgres::create_schema(&admin).await;
    let env = [
        (
            "POSTGRESQL_CONNECTION_URI",
            storage_tests::backends::postgres::base_uri(),
        ),
        ("POSTGRESQL_TABLE_SCHEMA", schema.clone()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let result = tokio::task::spawn_blocking(move || {
        let a = start_core(&env, dir.path());
        let b = start_core(&env, dir.path());
        run_all(&[&a, &b]);
    })
    .await;
    storage_tests::backends::postgres::drop_schema(&schema).await;
    result.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_on_mariadb() {
    preflight();
    let admin = storage_tests::backends::mysql::connect_admin().await;
    let db = storage_tests::backends::mysql::create_database(&admin).await;
    let env = [(
        "MYSQL_CONNECTION_URI",
        storage_tests::backends::mysql::database_uri(&db),
    )];
    let dir = tempfile::tempdir().unwrap();
    let result = tokio::task::spawn_blocking(move || {
        let core = start_core(&env, dir.path());
        run_all(&[&core]);
    })
    .await;
    storage_tests::backends::mysql::drop_database(&db).await;
    result.unwrap();
}
