//! MySQL / MariaDB over TLS against a real TLS-only MariaDB (see
//! `.ci/extra-servers.sh`; `require_secure_transport=ON`, so every connection that
//! succeeds is encrypted): `ssl-mode` `REQUIRED`, `VERIFY_CA` and
//! `VERIFY_IDENTITY` with `ssl-ca`, a wrong CA, a wrong host name, a server without
//! TLS (the main MariaDB), and a client certificate. Failures are `Config` errors
//! that name the TLS problem and never the password.

use storage_api::{OpenOptions, StorageError};
use storage_tests::servers::{assert_refused as refused, cert, mysql_tls_uri, with_parts};

/// The TLS server with `query` as its parameters, reached as `host`.
fn tls(host: &str, query: &str) -> String {
    with_parts(&mysql_tls_uri(), host, 3307, query)
}

/// The main MariaDB, which has no TLS.
fn plain(query: &str) -> String {
    with_parts(
        &storage_tests::backends::mysql::base_uri(),
        "127.0.0.1",
        3306,
        query,
    )
}

/// Opens a storage with `uri` and reads through it.
async fn connects(uri: &str) {
    let storage = storage_api::open(uri, OpenOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{uri}: {e}"));
    storage.close().await;
}

#[tokio::test]
async fn verify_identity_with_the_right_ca_connects() {
    connects(&tls(
        "localhost",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", cert("ca.crt")),
    ))
    .await;
}

#[tokio::test]
async fn verify_identity_with_a_wrong_ca_fails() {
    let uri = tls(
        "localhost",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", cert("wrong-ca.crt")),
    )
    .replace("root@", "root:hunter2@");
    refused(&uri, "unknown CA").await;
}

#[tokio::test]
async fn verify_identity_with_a_wrong_host_name_fails() {
    // The certificate names `localhost` only, not 127.0.0.1.
    let uri = tls(
        "127.0.0.1",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", cert("ca.crt")),
    )
    .replace("root@", "root:hunter2@");
    refused(&uri, "wrong host name").await;
}

#[tokio::test]
async fn verify_ca_checks_the_chain_but_not_the_host_name() {
    connects(&tls(
        "127.0.0.1",
        &format!("ssl-mode=VERIFY_CA&ssl-ca={}", cert("ca.crt")),
    ))
    .await;
    refused(
        &tls(
            "127.0.0.1",
            &format!("ssl-mode=VERIFY_CA&ssl-ca={}", cert("wrong-ca.crt")),
        ),
        "unknown CA",
    )
    .await;
}

#[tokio::test]
async fn required_encrypts_without_verifying() {
    connects(&tls("127.0.0.1", "ssl-mode=REQUIRED")).await;
}

#[tokio::test]
async fn required_on_a_server_without_tls_fails() {
    for mode in ["REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"] {
        let uri = plain(&format!("ssl-mode={mode}&ssl-ca={}", cert("ca.crt")))
            .replace("root@", "root:hunter2@");
        refused(&uri, "server without TLS").await;
    }
}

#[tokio::test]
async fn disabled_on_a_tls_only_server_is_refused() {
    let err = storage_api::open(
        &tls("localhost", "ssl-mode=DISABLED"),
        OpenOptions::default(),
    )
    .await
    .err()
    .expect("a plain-text connection to a TLS-only server must fail");
    assert!(
        matches!(
            err,
            StorageError::Config(_) | StorageError::Unavailable { .. }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn client_certificate_authenticates() {
    let base = format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", cert("ca.crt"));
    connects(
        &tls(
            "localhost",
            &format!(
                "{base}&ssl-cert={}&ssl-key={}",
                cert("client.crt"),
                cert("client.key")
            ),
        )
        .replace("root@", "certuser@"),
    )
    .await;
    refused(
        &tls("localhost", &base).replace("root@", "certuser@"),
        "Access denied",
    )
    .await;
}
