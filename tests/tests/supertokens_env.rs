//! SuperTokens' discrete settings: with no connection URI set, `POSTGRESQL_HOST`,
//! `_PORT`, `_USER`, `_PASSWORD_FILE`, `_DATABASE_NAME` and `_TABLE_SCHEMA` (then
//! the `MYSQL_*` equivalents) make the URI `open_from_env` opens. The MySQL part
//! authenticates a user whose password comes from a file. One test per binary: the
//! environment is process-wide.

use storage_api::{StorageError, TenantIdentifier, open_from_env};
use storage_sqlite as _;
use storage_tests::backends::{mysql, postgres};

const VARS: &[&str] = &[
    "POSTGRESQL_CONNECTION_URI",
    "MYSQL_CONNECTION_URI",
    "DATABASE_URL",
    "POSTGRESQL_HOST",
    "POSTGRESQL_PORT",
    "POSTGRESQL_USER",
    "POSTGRESQL_PASSWORD",
    "POSTGRESQL_PASSWORD_FILE",
    "POSTGRESQL_DATABASE_NAME",
    "POSTGRESQL_TABLE_SCHEMA",
    "MYSQL_HOST",
    "MYSQL_PORT",
    "MYSQL_USER",
    "MYSQL_PASSWORD",
    "MYSQL_PASSWORD_FILE",
    "MYSQL_DATABASE_NAME",
];

fn set(vars: &[(&str, &str)]) {
    // SAFETY: this test binary has one test; no other thread reads the
    // environment while it is changed.
    unsafe {
        for v in VARS {
            std::env::remove_var(v);
        }
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
    }
}

fn server(uri: &str) -> (String, u16) {
    let u = storage_api::ConnectionUri::parse(uri).unwrap();
    (u.host.unwrap(), u.port.unwrap())
}

async fn on_postgres(schema: String) {
    let (host, port) = server(&postgres::base_uri());
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pg-password");
    std::fs::write(&pw, "unused-with-trust\n").unwrap();
    set(&[
        ("POSTGRESQL_HOST", &host),
        ("POSTGRESQL_PORT", &port.to_string()),
        ("POSTGRESQL_USER", "postgres"),
        ("POSTGRESQL_PASSWORD_FILE", &pw.display().to_string()),
        ("POSTGRESQL_DATABASE_NAME", "test"),
        ("POSTGRESQL_TABLE_SCHEMA", &schema),
    ]);
    let (source, _) = storage_api::resolve_uri(None).unwrap();
    assert_eq!(
        source,
        storage_api::UriSource::Settings("POSTGRESQL".into())
    );
    let storage = open_from_env(Default::default()).await.expect("open");
    assert_eq!(storage.backend_name(), "postgresql");
    storage_api::migrate_up(&*storage).await.expect("migrate");
    storage
        .add_tenant(&TenantIdentifier::default_public(), 1)
        .await
        .unwrap();
    storage.close().await;
    // The tables are in POSTGRESQL_TABLE_SCHEMA.
    let n: i64 = postgres::connect_admin()
        .await
        .query_one(&format!("SELECT COUNT(*) FROM {schema}.tenants"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

async fn on_mysql(db: String) {
    let (host, port) = server(&mysql::base_uri());
    let user = format!("u{}", &db[2..14]);
    let admin = mysql::connect_admin().await;
    admin
        .execute(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-from-file'"
        ))
        .await
        .unwrap();
    admin
        .execute(&format!("GRANT ALL PRIVILEGES ON {db}.* TO '{user}'@'%'"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("mysql-password");
    std::fs::write(&pw, "pw-from-file\n").unwrap();
    let pw = pw.display().to_string();
    let port = port.to_string();
    let (u, d) = (user.clone(), db.clone());
    let result = async move {
        let base = [
            ("MYSQL_HOST", host.as_str()),
            ("MYSQL_PORT", port.as_str()),
            ("MYSQL_USER", u.as_str()),
            ("MYSQL_DATABASE_NAME", d.as_str()),
        ];
        set(&[&base[..], &[("MYSQL_PASSWORD_FILE", pw.as_str())]].concat());
        let storage = open_from_env(Default::default()).await.expect("open");
        assert_eq!(storage.backend_name(), "mysql");
        storage_api::migrate_up(&*storage).await.expect("migrate");
        storage
            .add_tenant(&TenantIdentifier::default_public(), 1)
            .await
            .unwrap();
        assert_eq!(storage.list_apps_and_tenants().await.unwrap().len(), 1);
        storage.close().await;

        // A wrong password is refused, and the error does not show it.
        set(&[&base[..], &[("MYSQL_PASSWORD", "hunter2-wrong")]].concat());
        let e = open_from_env(Default::default())
            .await
            .err()
            .expect("wrong password must fail");
        assert!(matches!(e, StorageError::Config(_)), "{e:?}");
        assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");

        // Without MYSQL_USER and without a connection URI: a Config error.
        set(&base[..1]);
        let e = open_from_env(Default::default()).await.err().unwrap();
        assert!(e.to_string().contains("MYSQL_USER"), "{e}");
    };
    let guard = tokio::spawn(result).await;
    admin
        .execute(&format!("DROP USER IF EXISTS '{user}'@'%'"))
        .await
        .unwrap();
    if let Err(e) = guard {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn discrete_settings_and_password_files() {
    postgres::in_fresh_schema(on_postgres).await;
    mysql::in_fresh_database(on_mysql).await;
}
