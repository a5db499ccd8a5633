//! PostgreSQL over TLS against a real TLS-only cluster (see `.ci/extra-servers.sh`):
//! each `sslmode`, the right and a wrong CA, a wrong host name, a server without
//! TLS, and a client certificate. Failures are `Config` errors that name the TLS
//! problem and never the password.

use storage_api::OpenOptions;
use storage_tests::servers::{assert_refused as refused, cert, postgres_tls_uri, with_parts};

/// The TLS cluster with `query` as its parameters, reached as `host`.
fn tls(host: &str, query: &str) -> String {
    with_parts(&postgres_tls_uri(), host, 5433, query)
}

/// PgBouncer: a PostgreSQL server without TLS.
fn plain(query: &str) -> String {
    with_parts(
        &storage_tests::servers::pgbouncer_uri(),
        "127.0.0.1",
        6432,
        query,
    )
}

/// Whether a connection made with `uri` uses TLS, and as which user.
async fn session(uri: &str) -> (bool, String) {
    let client = storage_postgres::connect_client(uri)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let row = client
        .query_one(
            "SELECT COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false), current_user::text",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn verify_full_with_the_right_ca_connects_over_tls() {
    let uri = tls(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", cert("ca.crt")),
    );
    assert_eq!(session(&uri).await, (true, "postgres".into()));
    let storage = storage_api::open(&uri, OpenOptions::default())
        .await
        .expect("open over TLS");
    storage.close().await;
}

#[tokio::test]
async fn verify_full_with_a_wrong_ca_fails() {
    let uri = tls(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", cert("wrong-ca.crt")),
    )
    .replace("postgres@", "postgres:hunter2@");
    refused(&uri, "unknown CA").await;
}

#[tokio::test]
async fn verify_full_with_the_bundled_web_roots_rejects_a_private_ca() {
    refused(&tls("localhost", "sslmode=verify-full"), "unknown CA").await;
}

#[tokio::test]
async fn verify_full_with_a_wrong_host_name_fails() {
    // The certificate names `localhost` only, not 127.0.0.1.
    let uri = tls(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", cert("ca.crt")),
    )
    .replace("postgres@", "postgres:hunter2@");
    refused(&uri, "wrong host name").await;
}

#[tokio::test]
async fn verify_ca_checks_the_chain_but_not_the_host_name() {
    let ok = tls(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", cert("ca.crt")),
    );
    assert!(session(&ok).await.0);
    let wrong = tls(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", cert("wrong-ca.crt")),
    );
    refused(&wrong, "unknown CA").await;
}

#[tokio::test]
async fn require_without_a_root_certificate_does_not_verify() {
    // libpq: `require` without sslrootcert encrypts without verifying.
    assert!(session(&tls("127.0.0.1", "sslmode=require")).await.0);
    // ... and with one it verifies the chain like `verify-ca`.
    let wrong = tls(
        "localhost",
        &format!("sslmode=require&sslrootcert={}", cert("wrong-ca.crt")),
    );
    refused(&wrong, "unknown CA").await;
}

#[tokio::test]
async fn prefer_uses_tls_when_offered_and_plain_text_otherwise() {
    assert!(session(&tls("localhost", "sslmode=prefer")).await.0);
    // Through PgBouncer (no TLS), `prefer` falls back to plain text; the server
    // behind it sees a plain connection from PgBouncer.
    let client = storage_postgres::connect_client(&plain("sslmode=prefer"))
        .await
        .expect("prefer to a server without TLS");
    client.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn require_on_a_server_without_tls_fails() {
    for mode in ["require", "verify-ca", "verify-full"] {
        let uri = plain(&format!("sslmode={mode}&sslrootcert={}", cert("ca.crt")))
            .replace("postgres@", "postgres:hunter2@");
        refused(&uri, "server without TLS").await;
    }
}

#[tokio::test]
async fn disable_on_a_tls_only_server_is_refused() {
    refused(&tls("localhost", "sslmode=disable"), "no encryption").await;
}

#[tokio::test]
async fn client_certificate_authenticates() {
    let with_cert = tls(
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
            cert("ca.crt"),
            cert("client.crt"),
            cert("client.key")
        ),
    )
    .replace("postgres@", "certuser@");
    assert_eq!(session(&with_cert).await, (true, "certuser".into()));

    let without = tls(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", cert("ca.crt")),
    )
    .replace("postgres@", "certuser@");
    refused(&without, "certificate").await;
}

#[tokio::test]
async fn unreadable_certificate_files_are_config_errors() {
    refused(
        &tls(
            "localhost",
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
        ),
        "/nonexistent/ca.crt",
    )
    .await;
    // A key file that is no key: the error names the file, not its contents.
    refused(
        &tls(
            "localhost",
            &format!(
                "sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
                cert("ca.crt"),
                cert("client.crt"),
                cert("ca.crt")
            ),
        ),
        "sslkey",
    )
    .await;
}
