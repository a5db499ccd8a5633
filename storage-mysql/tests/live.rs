//! Tests of the driver pieces against a live server (`MYSQL_TEST_URI`, default
//! `mysql://root@127.0.0.1:3306/test`), each in its own database.

use sea_query::Values;
use std::time::{Duration, Instant};
use storage_api::migrate::{self, HistoryState, UpOptions};
use storage_api::{ConnectionUri, Isolation, MigrationDriver, OpenOptions, StorageError};
use storage_mysql::MySqlDriver;
use storage_mysql::test_support::RawClient;
use storage_sql::{Cell, Conn, DbError, Driver, ForeignKey, UniqueKey};

fn base_uri() -> String {
    std::env::var("MYSQL_TEST_URI").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

struct Db {
    name: String,
    uri: String,
    admin: RawClient,
}

impl Db {
    async fn new() -> Db {
        let admin = RawClient::connect(&base_uri(), 2)
            .await
            .unwrap_or_else(|e| panic!("MySQL test server at {} unreachable: {e}", base_uri()));
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(&format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .await
            .unwrap();
        let mut u = ConnectionUri::parse(&base_uri()).unwrap();
        u.path = name.clone();
        Db {
            name,
            uri: u.expose(),
            admin,
        }
    }

    async fn driver(&self, prefix: Option<&str>) -> MySqlDriver {
        let options = OpenOptions {
            table_prefix: prefix.map(str::to_owned),
            pool_size: Some(4),
            ..Default::default()
        };
        MySqlDriver::connect(ConnectionUri::parse(&self.uri).unwrap(), options)
            .await
            .unwrap()
    }

    async fn drop(self) {
        self.admin
            .execute(&format!("DROP DATABASE IF EXISTS {}", self.name))
            .await
            .unwrap();
        self.admin.close().await;
    }
}

fn vals(v: Vec<sea_query::Value>) -> Values {
    Values(v)
}

#[tokio::test]
async fn migrate_up_is_idempotent_and_recorded() {
    let db = Db::new().await;
    for prefix in [None, Some("st")] {
        let d = db.driver(prefix).await;
        let mut m = d.migration_driver().await.unwrap();
        let report = migrate::up(&mut *m, &UpOptions::default(), &mut |_| {})
            .await
            .unwrap();
        let known = storage_mysql::migrations().len();
        assert_eq!(report.applied.len(), known);
        let again = migrate::up(&mut *m, &UpOptions::default(), &mut |_| {})
            .await
            .unwrap();
        assert!(again.applied.is_empty());
        let history = m.history().await.unwrap();
        assert_eq!(history.len(), known);
        assert!(history.iter().all(|h| h.state == HistoryState::Applied));
        assert_eq!(
            history[0].checksum,
            storage_mysql::migrations()[0].checksum()
        );
        let tables = m.existing_tables().await.unwrap();
        let p = prefix.map(|p| format!("{p}_")).unwrap_or_default();
        assert!(tables.contains(&format!("{p}session_info")), "{tables:?}");
        assert!(tables.contains(&format!("{p}schema_migrations")));
        if prefix.is_some() {
            assert!(tables.iter().all(|t| t.starts_with("st_")), "{tables:?}");
        }
        d.close().await;
    }
    // Down, then up again.
    let d = db.driver(Some("st")).await;
    let mut m = d.migration_driver().await.unwrap();
    migrate::down(&mut *m, 0, &UpOptions::default(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        m.existing_tables().await.unwrap(),
        vec!["st_schema_migrations"]
    );
    migrate::up(&mut *m, &UpOptions::default(), &mut |_| {})
        .await
        .unwrap();
    d.close().await;
    db.drop().await;
}

#[tokio::test]
async fn failed_statement_leaves_started_row() {
    let db = Db::new().await;
    let d = db.driver(None).await;
    let mut m = d.migrator().await.unwrap();
    m.ensure_history_table().await.unwrap();
    let step = migrate::Step {
        version: 7,
        name: "broken".into(),
        checksum: "x".repeat(64),
        statements: vec![
            "CREATE TABLE ok_one (a INT)".into(),
            "CREATE TABLE broken (a NOSUCHTYPE)".into(),
        ],
        notes: Vec::new(),
    };
    let f = m.apply(&step, 1).await.unwrap_err();
    assert_eq!(f.index, 1);
    assert!(
        matches!(f.error, StorageError::Query { .. }),
        "{:?}",
        f.error
    );
    let h = m.history().await.unwrap();
    assert_eq!(h[0].version, 7);
    assert_eq!(h[0].state, HistoryState::Started);
    m.forget(7).await.unwrap();
    assert!(m.history().await.unwrap().is_empty());
    d.close().await;
    db.drop().await;
}

#[tokio::test]
async fn migration_lock_is_exclusive() {
    let db = Db::new().await;
    let d = db.driver(Some("lk")).await;
    let mut a = d.migrator().await.unwrap();
    let mut b = d.migrator().await.unwrap();
    assert!(a.lock(Duration::from_secs(1)).await.unwrap());
    let t = Instant::now();
    assert!(!b.lock(Duration::from_secs(1)).await.unwrap());
    assert!(t.elapsed() >= Duration::from_millis(900));
    a.unlock().await.unwrap();
    assert!(b.lock(Duration::from_secs(1)).await.unwrap());
    b.unlock().await.unwrap();
    // Another prefix has its own lock.
    let d2 = db.driver(Some("ot")).await;
    let mut c = d2.migrator().await.unwrap();
    assert!(a.lock(Duration::from_secs(1)).await.unwrap());
    assert!(c.lock(Duration::from_secs(1)).await.unwrap());
    d.close().await;
    d2.close().await;
    db.drop().await;
}

async fn migrated(db: &Db, prefix: Option<&str>) -> MySqlDriver {
    let d = db.driver(prefix).await;
    let mut m = d.migration_driver().await.unwrap();
    migrate::up(&mut *m, &UpOptions::default(), &mut |_| {})
        .await
        .unwrap();
    d
}

#[tokio::test]
async fn execute_reports_matched_rows_and_decodes() {
    use sea_query::Value as V;
    let db = Db::new().await;
    let d = migrated(&db, Some("st")).await;
    let mut c = d.acquire().await.unwrap();
    let n = c
        .execute(
            "INSERT INTO st_apps (app_id, created_at_time) VALUES (?, ?)",
            vals(vec![
                V::String(Some("a1".into())),
                V::BigInt(Some(i64::MAX)),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Same value again: matched, not changed; must still report 1.
    let n = c
        .execute(
            "UPDATE st_apps SET created_at_time = ? WHERE app_id = ?",
            vals(vec![
                V::BigInt(Some(i64::MAX)),
                V::String(Some("a1".into())),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(n, 1, "CLIENT_FOUND_ROWS must be on");
    c.execute(
        "INSERT INTO st_tenants (app_id, tenant_id, created_at_time) VALUES ('a1', 't1', 5)",
        Values(vec![]),
    )
    .await
    .unwrap();
    c.execute(
        "INSERT INTO st_tenant_configs (connection_uri_domain, app_id, tenant_id, core_config, email_password_enabled, is_first_factors_null) VALUES ('', 'a1', 't1', ?, ?, NULL)",
        vals(vec![V::String(Some("{\"k\":[1,2]}".into())), V::Bool(Some(true))]),
    )
    .await
    .unwrap();
    let rows = c
        .fetch(
            "SELECT a.app_id, a.created_at_time, c.core_config, c.email_password_enabled, c.is_first_factors_null, \
             (SELECT COUNT(*) FROM st_tenants), (SELECT SUM(created_at_time) FROM st_tenants), c.connection_uri_domain \
             FROM st_apps a JOIN st_tenant_configs c ON c.app_id = a.app_id WHERE a.app_id = ?",
            vals(vec![V::String(Some("a1".into()))]),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.0[0], Cell::Text("a1".into()));
    assert_eq!(r.0[1], Cell::Int(i64::MAX));
    assert_eq!(r.opt_json(2).unwrap().unwrap()["k"][1], 2);
    assert_eq!(r.0[3], Cell::Int(1));
    assert!(r.bool(3).unwrap());
    assert_eq!(r.0[4], Cell::Null);
    assert_eq!(r.0[5], Cell::Int(1));
    assert_eq!(r.0[6], Cell::Int(5));
    assert_eq!(r.0[7], Cell::Text(String::new()));
    // Case-sensitive, byte-wise comparison.
    let rows = c
        .fetch(
            "SELECT COUNT(*) FROM st_apps WHERE app_id = 'A1'",
            Values(vec![]),
        )
        .await
        .unwrap();
    assert_eq!(rows[0].int(0).unwrap(), 0);
    // Strict mode: too long is an error, not a truncation; negative unsigned too.
    let e = c
        .execute(
            "INSERT INTO st_apps (app_id, created_at_time) VALUES (?, 0)",
            vals(vec![V::String(Some("x".repeat(65)))]),
        )
        .await
        .unwrap_err();
    // Error 1406 is `InvalidInput`, as PostgreSQL's 22001.
    assert!(
        matches!(e, DbError::Other(StorageError::InvalidInput { .. })),
        "{e:?}"
    );
    let e = c
        .execute(
            "INSERT INTO st_apps (app_id, created_at_time) VALUES ('neg', ?)",
            vals(vec![V::BigInt(Some(-1))]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, DbError::Other(StorageError::Query { .. })),
        "{e:?}"
    );
    // Emoji survive (utf8mb4).
    c.execute(
        "INSERT INTO st_key_value (app_id, tenant_id, name, value) VALUES ('a1', 't1', 'k', ?)",
        vals(vec![V::String(Some("😀 ünï".into()))]),
    )
    .await
    .unwrap();
    let rows = c
        .fetch("SELECT value FROM st_key_value", Values(vec![]))
        .await
        .unwrap();
    assert_eq!(rows[0].text(0).unwrap(), "😀 ünï");
    drop(c);
    d.close().await;
    db.drop().await;
}

#[tokio::test]
async fn constraint_errors_by_number() {
    let db = Db::new().await;
    let d = migrated(&db, Some("st")).await;
    let mut c = d.acquire().await.unwrap();
    let ex = |sql: &'static str| sql;
    c.execute(
        ex("INSERT INTO st_apps (app_id, created_at_time) VALUES ('a', 0)"),
        Values(vec![]),
    )
    .await
    .unwrap();
    let e = c
        .execute(
            ex("INSERT INTO st_apps (app_id, created_at_time) VALUES ('a', 0)"),
            Values(vec![]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DbError::Unique { key } if *key == UniqueKey::Primary),
        "{e:?}"
    );
    let e = c
        .execute(
            ex("INSERT INTO st_tenants (app_id, tenant_id, created_at_time) VALUES ('nope', 'public', 0)"),
            Values(vec![]),
        )
        .await
        .unwrap_err();
    // The message of error 1452 names the parent, with the prefix.
    assert!(
        matches!(
            e,
            DbError::ForeignKey {
                key: ForeignKey::App
            }
        ),
        "{e:?}"
    );
    c.execute(
        ex("INSERT INTO st_tenants (app_id, tenant_id, created_at_time) VALUES ('a', 'public', 0)"),
        Values(vec![]),
    )
    .await
    .unwrap();
    for (uid, email) in [("u1", "e@x"), ("u2", "e@x")] {
        let sql = format!(
            "INSERT INTO st_app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES ('a', '{uid}', 'emailpassword', '{uid}'); \
             INSERT INTO st_all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, recipe_id, time_joined, primary_or_recipe_user_time_joined) VALUES ('a', 'public', '{uid}', '{uid}', 'emailpassword', 1, 1)"
        );
        db.admin
            .execute(&format!("USE {}; {sql}", db.name))
            .await
            .unwrap();
        let r = c
            .execute(
                &format!(
                    "INSERT INTO st_emailpassword_user_to_tenant (app_id, tenant_id, user_id, email) VALUES ('a', 'public', '{uid}', '{email}')"
                ),
                Values(vec![]),
            )
            .await;
        if uid == "u2" {
            let e = r.unwrap_err();
            assert!(
                matches!(&e, DbError::Unique { key } if *key == UniqueKey::Email),
                "{e:?}"
            );
        } else {
            r.unwrap();
        }
    }
    c.execute(
        ex("INSERT INTO st_passwordless_devices (app_id, tenant_id, device_id_hash, link_code_salt, failed_attempts) VALUES ('a', 'public', 'd', 's', 0)"),
        Values(vec![]),
    )
    .await
    .unwrap();
    c.execute(
        ex("INSERT INTO st_passwordless_codes (app_id, tenant_id, code_id, device_id_hash, link_code_hash, created_at) VALUES ('a', 'public', 'c1', 'd', 'h', 1)"),
        Values(vec![]),
    )
    .await
    .unwrap();
    let e = c
        .execute(
            ex("INSERT INTO st_passwordless_codes (app_id, tenant_id, code_id, device_id_hash, link_code_hash, created_at) VALUES ('a', 'public', 'c2', 'd', 'h', 1)"),
            Values(vec![]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DbError::Unique { key } if *key == UniqueKey::LinkCodeHash),
        "{e:?}"
    );
    let e = c
        .execute(
            ex("INSERT INTO st_passwordless_codes (app_id, tenant_id, code_id, device_id_hash, link_code_hash, created_at) VALUES ('a', 'public', 'c3', 'nodevice', 'h3', 1)"),
            Values(vec![]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            DbError::ForeignKey {
                key: ForeignKey::PasswordlessDevice
            }
        ),
        "{e:?}"
    );
    // 1451: a parent row referenced through a non-cascading key.
    c.execute(
        ex("CREATE TABLE st_child (app_id VARCHAR(64) NOT NULL, FOREIGN KEY (app_id) REFERENCES st_apps (app_id))"),
        Values(vec![]),
    )
    .await
    .unwrap();
    c.execute(ex("INSERT INTO st_child VALUES ('a')"), Values(vec![]))
        .await
        .unwrap();
    let e = c
        .execute(ex("DELETE FROM st_apps WHERE app_id = 'a'"), Values(vec![]))
        .await
        .unwrap_err();
    assert!(
        matches!(e, DbError::Other(StorageError::Query { .. })),
        "{e:?}"
    );
    // 4025 (MariaDB) / 3819 (MySQL): CHECK constraint.
    c.execute(
        ex("CREATE TABLE st_checked (n INT, CONSTRAINT positive CHECK (n > 0))"),
        Values(vec![]),
    )
    .await
    .unwrap();
    let e = c
        .execute(ex("INSERT INTO st_checked VALUES (-1)"), Values(vec![]))
        .await
        .unwrap_err();
    assert!(
        matches!(e, DbError::Other(StorageError::Query { .. })),
        "{e:?}"
    );
    drop(c);
    d.close().await;
    db.drop().await;
}

#[tokio::test]
async fn deadlock_is_retryable() {
    let db = Db::new().await;
    let d = migrated(&db, None).await;
    let mut setup = d.acquire().await.unwrap();
    setup
        .execute(
            "INSERT INTO apps (app_id, created_at_time) VALUES ('x', 0), ('y', 0)",
            Values(vec![]),
        )
        .await
        .unwrap();
    drop(setup);
    let mut a = d.acquire().await.unwrap();
    let mut b = d.acquire().await.unwrap();
    a.begin(Isolation::Default, true).await.unwrap();
    b.begin(Isolation::Default, true).await.unwrap();
    a.fetch(
        "SELECT app_id FROM apps WHERE app_id = 'x' FOR UPDATE",
        Values(vec![]),
    )
    .await
    .unwrap();
    b.fetch(
        "SELECT app_id FROM apps WHERE app_id = 'y' FOR UPDATE",
        Values(vec![]),
    )
    .await
    .unwrap();
    let ta = tokio::spawn(async move {
        let r = a
            .fetch(
                "SELECT app_id FROM apps WHERE app_id = 'y' FOR UPDATE",
                Values(vec![]),
            )
            .await
            .map(|_| ());
        (a, r)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rb = b
        .fetch(
            "SELECT app_id FROM apps WHERE app_id = 'x' FOR UPDATE",
            Values(vec![]),
        )
        .await
        .map(|_| ());
    if rb.is_ok() {
        // The server picked `a` as the victim.
        b.rollback().await.unwrap();
    }
    let (mut a, ra) = ta.await.unwrap();
    let errs: Vec<_> = [ra, rb].into_iter().filter_map(Result::err).collect();
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = errs.into_iter().next().unwrap().into_storage();
    assert!(e.is_retryable(), "{e:?}");
    let _ = a.rollback().await;
    drop((a, b));
    d.close().await;
    db.drop().await;
}

#[tokio::test]
async fn named_locks_released_on_commit_rollback_and_drop() {
    let db = Db::new().await;
    let d = migrated(&db, Some("st")).await;
    let mut a = d.acquire().await.unwrap();
    let mut b = d.acquire().await.unwrap();
    a.begin(Isolation::Default, true).await.unwrap();
    a.named_lock("kv:public:counter").await.unwrap();
    a.named_lock("kv:public:counter").await.unwrap(); // re-entrant, counted once
    assert_eq!(a.held_locks().len(), 1);
    assert!(a.held_locks()[0].starts_with(&format!("{}.st_", db.name)));
    b.begin(Isolation::Default, true).await.unwrap();
    let t = Instant::now();
    let e = b.named_lock("kv:public:counter").await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(t.elapsed() >= Duration::from_secs(4));
    b.rollback().await.unwrap();
    a.commit().await.unwrap();
    assert!(a.held_locks().is_empty());
    // Released on commit: b gets it now.
    b.begin(Isolation::Default, true).await.unwrap();
    b.named_lock("kv:public:counter").await.unwrap();
    b.rollback().await.unwrap();
    assert!(b.held_locks().is_empty());
    // Released on rollback: a gets it.
    a.begin(Isolation::Serializable, true).await.unwrap();
    a.named_lock("kv:public:counter").await.unwrap();
    // Dropped mid-transaction: the connection is closed, the lock goes with it.
    drop(a);
    let t = Instant::now();
    b.begin(Isolation::RepeatableRead, true).await.unwrap();
    b.named_lock("kv:public:counter").await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(3));
    b.commit().await.unwrap();
    // Another database or prefix does not collide.
    let d2 = migrated(&db, Some("ot")).await;
    let mut c = d2.acquire().await.unwrap();
    b.begin(Isolation::Default, true).await.unwrap();
    b.named_lock("same").await.unwrap();
    c.begin(Isolation::Default, true).await.unwrap();
    c.named_lock("same").await.unwrap();
    b.commit().await.unwrap();
    c.commit().await.unwrap();
    drop((b, c));
    d.close().await;
    d2.close().await;
    db.drop().await;
}

#[tokio::test]
async fn dropped_transaction_is_rolled_back() {
    let db = Db::new().await;
    let d = migrated(&db, None).await;
    let mut a = d.acquire().await.unwrap();
    a.begin(Isolation::Default, true).await.unwrap();
    a.execute(
        "INSERT INTO apps (app_id, created_at_time) VALUES ('ghost', 0)",
        Values(vec![]),
    )
    .await
    .unwrap();
    drop(a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut b = d.acquire().await.unwrap();
    let rows = b
        .fetch("SELECT COUNT(*) FROM apps", Values(vec![]))
        .await
        .unwrap();
    assert_eq!(rows[0].int(0).unwrap(), 0);
    drop(b);
    d.close().await;
    db.drop().await;
}

#[tokio::test]
async fn recovers_after_every_connection_is_killed() {
    let db = Db::new().await;
    let d = migrated(&db, None).await;
    // Fill the pool with idle connections.
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(d.acquire().await.unwrap());
    }
    for c in &mut conns {
        c.fetch("SELECT 1", Values(vec![])).await.unwrap();
    }
    drop(conns);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ids = db
        .admin
        .query(&format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{}'",
            db.name
        ))
        .await
        .unwrap();
    assert!(ids.len() >= 4, "{ids:?}");
    for id in ids {
        db.admin
            .execute(&format!("KILL {}", id[0].as_deref().unwrap()))
            .await
            .unwrap();
    }
    let op = || async {
        let mut c = d.acquire().await?;
        c.fetch("SELECT COUNT(*) FROM apps", Values(vec![]))
            .await
            .map_err(DbError::into_storage)
    };
    match op().await {
        Ok(_) => {}
        Err(StorageError::Unavailable { .. }) => {}
        Err(e) => panic!("first call after KILL: {e:?}"),
    }
    for _ in 0..4 {
        op().await.expect("calls after the first must succeed");
    }
    d.close().await;
    db.drop().await;
}

#[tokio::test]
async fn open_errors() {
    // Unknown database: Config, no password shown.
    let mut u = ConnectionUri::parse(&base_uri()).unwrap();
    u.path = "no_such_db_here".into();
    let e = MySqlDriver::connect(u, OpenOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, StorageError::Config(_)), "{e:?}");
    // Nothing listening: Unavailable within the connect timeout.
    let u = ConnectionUri::parse("mysql://root:pw-secret@127.0.0.1:1/test").unwrap();
    let t = Instant::now();
    let e = MySqlDriver::connect(
        u,
        OpenOptions {
            connect_timeout: Some(Duration::from_secs(1)),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StorageError::Unavailable { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(!format!("{e} {e:?}").contains("pw-secret"));
    // Wrong password: Config, password not shown.
    let mut u = ConnectionUri::parse(&base_uri()).unwrap();
    u.username = Some("nobody_here".into());
    u.password = Some(storage_api::Secret::new("pw-secret".to_owned()));
    let e = MySqlDriver::connect(u, OpenOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, StorageError::Config(_)), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("pw-secret"));
}

#[tokio::test]
async fn session_settings() {
    let db = Db::new().await;
    let d = db.driver(None).await;
    assert!(d.server_version().supported());
    let mut c = d.acquire().await.unwrap();
    let r = c
        .fetch(
            "SELECT @@SESSION.sql_mode, @@collation_connection, @@character_set_client, @@time_zone",
            Values(vec![]),
        )
        .await
        .unwrap();
    let mode = r[0].text(0).unwrap();
    assert!(mode.contains("STRICT_ALL_TABLES"), "{mode}");
    assert_eq!(r[0].text(1).unwrap(), "utf8mb4_bin");
    assert_eq!(r[0].text(2).unwrap(), "utf8mb4");
    assert_eq!(r[0].text(3).unwrap(), "+00:00");
    let iso = c
        .fetch("SELECT @@SESSION.tx_isolation", Values(vec![]))
        .await
        .or(c
            .fetch("SELECT @@SESSION.transaction_isolation", Values(vec![]))
            .await)
        .unwrap();
    assert_eq!(iso[0].text(0).unwrap(), "READ-COMMITTED");
    drop(c);
    d.close().await;
    db.drop().await;
}
