//! The extra servers of the connectivity tests (TLS PostgreSQL and MariaDB,
//! PgBouncer in transaction mode) and the test certificates, as started by
//! `.ci/extra-servers.sh`.
//!
//! [`ensure`] runs that script once per test process: it is idempotent and returns
//! at once when everything is up, so a plain `cargo test --workspace` works on a
//! machine where the servers are not running yet. If it cannot start them, the
//! test fails: a missing server is a failure, never a skip.

use std::path::PathBuf;
use std::sync::OnceLock;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Starts the extra servers if they are not running (once per process). Panics
/// with the script's output if it fails.
pub fn ensure() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/extra-servers.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        assert!(
            out.status.success(),
            "{script} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// The directory of the test certificates (`TLS_TEST_CERTS`, else
/// `$EXTRA_SERVERS_DIR/certs`, else `/tmp/auth-storage-ci/certs`).
pub fn certs_dir() -> PathBuf {
    if let Some(d) = env("TLS_TEST_CERTS") {
        return d.into();
    }
    PathBuf::from(env("EXTRA_SERVERS_DIR").unwrap_or_else(|| "/tmp/auth-storage-ci".into()))
        .join("certs")
}

/// The path of one test certificate or key: `ca.crt`, `wrong-ca.crt`,
/// `client.crt`, `client.key`.
pub fn cert(name: &str) -> String {
    certs_dir().join(name).display().to_string()
}

/// The TLS-only PostgreSQL cluster, verified in full (`POSTGRES_TLS_TEST_URI`).
pub fn postgres_tls_uri() -> String {
    ensure();
    env("POSTGRES_TLS_TEST_URI").unwrap_or_else(|| {
        format!(
            "postgres://postgres@localhost:5433/test?sslmode=verify-full&sslrootcert={}",
            cert("ca.crt")
        )
    })
}

/// The TLS-only MariaDB server, verified in full (`MYSQL_TLS_TEST_URI`).
pub fn mysql_tls_uri() -> String {
    ensure();
    env("MYSQL_TLS_TEST_URI").unwrap_or_else(|| {
        format!(
            "mysql://root@localhost:3307/test?ssl-mode=VERIFY_IDENTITY&ssl-ca={}",
            cert("ca.crt")
        )
    })
}

/// PgBouncer in transaction mode in front of the main PostgreSQL
/// (`POSTGRES_PGBOUNCER_TEST_URI`); the database in the path is replaced per test.
pub fn pgbouncer_uri() -> String {
    ensure();
    env("POSTGRES_PGBOUNCER_TEST_URI")
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:6432/test?pooler=transaction".into())
}

/// Replaces host, port and query of `uri` (a test URI) for one case.
pub fn with_parts(uri: &str, host: &str, port: u16, query: &str) -> String {
    let mut u = storage_api::ConnectionUri::parse(uri).expect("test URI");
    u.host = Some(host.to_owned());
    u.port = Some(port);
    u.query = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    u.expose()
}
