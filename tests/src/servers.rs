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

/// The nodes of the three-node MariaDB Galera cluster that `.ci/galera.sh` starts
/// (`GALERA_TEST_URIS`, space-separated; else the script is run, once per process,
/// and its output read). Panics if the cluster cannot be started: a missing server
/// is a failure, never a skip.
pub fn galera_uris() -> Vec<String> {
    static URIS: OnceLock<Vec<String>> = OnceLock::new();
    URIS.get_or_init(|| {
        let list = env("GALERA_TEST_URIS").unwrap_or_else(|| {
            script_export(
                &run_script("galera.sh", &[]),
                "galera.sh",
                "GALERA_TEST_URIS",
            )
        });
        let uris: Vec<String> = list.split_whitespace().map(str::to_owned).collect();
        assert!(
            uris.len() >= 2,
            "GALERA_TEST_URIS names {} node(s)",
            uris.len()
        );
        uris
    })
    .clone()
}

/// The PostgreSQL primary and its streaming read replica that `.ci/pg-replica.sh`
/// starts (`POSTGRES_PRIMARY_URI`, `POSTGRES_REPLICA_URI`; else the script is run,
/// once per process, and its output read), as `(primary, replica)`. Panics if the
/// pair cannot be started: a missing server is a failure, never a skip.
pub fn pg_replica_uris() -> (String, String) {
    static URIS: OnceLock<(String, String)> = OnceLock::new();
    URIS.get_or_init(|| {
        if let (Some(p), Some(r)) = (env("POSTGRES_PRIMARY_URI"), env("POSTGRES_REPLICA_URI")) {
            return (p, r);
        }
        let stdout = run_script("pg-replica.sh", &[]);
        let var = |name| script_export(&stdout, "pg-replica.sh", name);
        (var("POSTGRES_PRIMARY_URI"), var("POSTGRES_REPLICA_URI"))
    })
    .clone()
}

/// The value of `export <name>=...` in the output of `.ci/<script>`; panics if
/// the script printed none.
fn script_export(stdout: &str, script: &str, name: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("export {name}=")))
        .map(|v| v.trim_matches('\'').to_owned())
        .unwrap_or_else(|| panic!("{script} printed no {name}: {stdout}"))
}

/// The path of `.ci/<name>`.
pub fn ci_script(name: &str) -> String {
    format!("{}/../.ci/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `.ci/<name>` with `args` and returns its standard output; panics if it
/// fails.
pub fn run_script(name: &str, args: &[&str]) -> String {
    let script = ci_script(name);
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
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

/// `uri` with `params` added to its query.
pub fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    let mut u = storage_api::ConnectionUri::parse(uri).expect("test URI");
    for (k, v) in params {
        u.query.push(((*k).to_owned(), (*v).to_owned()));
    }
    u.expose()
}

/// `uri` with its database replaced by `db`.
pub fn with_database(uri: &str, db: &str) -> String {
    let mut u = storage_api::ConnectionUri::parse(uri).expect("test URI");
    u.path = db.to_owned();
    u.expose()
}

/// Adds the public tenant and the key/value row `k` = `v`.
pub async fn seed_kv(s: &dyn storage_api::Storage) {
    let t = storage_api::TenantIdentifier::default_public();
    s.add_tenant(&t, 1).await.expect("add tenant");
    let v = storage_api::KeyValue {
        value: "v".into(),
        created_at: 1,
    };
    s.kv_set(&t, "k", &v).await.expect("kv_set");
}

/// Opening a storage with `uri` fails with a `Config` error whose text contains
/// `want` and neither it nor its `Debug` shows the password `hunter2`.
pub async fn assert_refused(uri: &str, want: &str) {
    let err = match storage_api::open(uri, storage_api::OpenOptions::default()).await {
        Ok(_) => panic!("{uri}: connected, expected `{want}`"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        matches!(err, storage_api::StorageError::Config(_)),
        "{uri}: {err:?}"
    );
    assert!(text.contains(want), "{uri}: `{text}` does not say `{want}`");
    assert!(!text.contains("hunter2"), "password leaked: {text}");
    assert!(!format!("{err:?}").contains("hunter2"), "password leaked");
}

/// Polls `ids` (the server's ids of a storage's connections) until none of
/// `before` is left and at most `limit` passed; panics otherwise.
pub async fn until_replaced<T, F, Fut>(before: &[T], limit: std::time::Duration, mut ids: F)
where
    T: PartialEq + std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Vec<T>>,
{
    let deadline = std::time::Instant::now() + limit;
    loop {
        let now = ids().await;
        if before.iter().all(|id| !now.contains(id)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "connections {before:?} outlived max_lifetime: {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
