//! The PostgreSQL driver against a live server (`POSTGRES_TEST_URI`, default
//! `postgres://postgres@127.0.0.1:5432/test`): connections, binding and decoding,
//! error mapping, transactions, advisory locks, recovery and the migration driver.
//! Every test works in its own schema and drops it afterwards.

use sea_query::{Value, Values};
use std::time::Duration;
use storage_api::migrate::{self, UpOptions};
use storage_api::{ConnectionUri, Isolation, OpenOptions, StorageError};
use storage_postgres::PostgresDriver;
use storage_postgres::tokio_postgres::{self, NoTls};
use storage_sql::{Cell, Conn, DbError, Driver, ForeignKey, UniqueKey};

fn base_uri() -> String {
    std::env::var("POSTGRES_TEST_URI")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn admin() -> tokio_postgres::Client {
    let uri = base_uri();
    let (client, conn) = tokio_postgres::connect(&uri, NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {uri}: {e}"));
    tokio::spawn(conn);
    client
}

struct Env {
    schema: String,
    admin: tokio_postgres::Client,
}

impl Env {
    async fn new() -> Self {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        Env {
            schema,
            admin: admin().await,
        }
    }

    fn options(&self, prefix: Option<&str>) -> OpenOptions {
        OpenOptions {
            table_prefix: prefix.map(str::to_owned),
            schema: Some(self.schema.clone()),
            pool_size: Some(4),
            ..Default::default()
        }
    }

    async fn driver(&self, prefix: Option<&str>) -> PostgresDriver {
        self.driver_with(&base_uri(), self.options(prefix)).await
    }

    async fn driver_with(&self, uri: &str, options: OpenOptions) -> PostgresDriver {
        PostgresDriver::connect(&ConnectionUri::parse(uri).unwrap(), &options)
            .await
            .expect("open driver")
    }

    async fn sql(&self, sql: &str) {
        let full = format!("SET search_path TO {}; {sql}", self.schema);
        self.admin
            .batch_execute(&full)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn count(&self, sql: &str) -> i64 {
        self.admin
            .batch_execute(&format!("SET search_path TO {}", self.schema))
            .await
            .unwrap();
        self.admin.query_one(sql, &[]).await.unwrap().get(0)
    }

    async fn drop(self) {
        self.admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .await
            .unwrap();
    }
}

async fn migrate(d: &PostgresDriver) {
    let mut m = d.migration_driver().await.unwrap();
    migrate::up(&mut *m, &UpOptions::default(), &mut |_| {})
        .await
        .expect("migrate up");
}

fn s(v: &str) -> Value {
    Value::String(Some(v.to_owned()))
}

#[tokio::test]
async fn binds_and_decodes_values() {
    let env = Env::new().await;
    let d = env.driver(None).await;
    env.sql(
        "CREATE TABLE v (id INTEGER PRIMARY KEY, b BOOLEAN, n BIGINT, c CHAR(4), t TEXT, \
         a VARCHAR(128)[], s SMALLINT)",
    )
    .await;
    let mut c = d.acquire().await.unwrap();
    let n = c
        .execute(
            "INSERT INTO v (id, b, n, c, t, a, s) VALUES ($1, $2, $3, $4, $5, \
             ARRAY(SELECT json_array_elements_text(CAST($6 AS json)))::varchar(128)[], $7)",
            Values(vec![
                Value::BigInt(Some(1)),
                Value::Bool(Some(true)),
                Value::BigInt(Some(i64::MAX)),
                s("ab"),
                s("héllo"),
                s(r#"["x","y z"]"#),
                Value::Int(Some(3)),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    // A JSON array binds directly to an array parameter too; NULLs of every kind.
    c.execute(
        "INSERT INTO v (id, b, n, c, t, a, s) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        Values(vec![
            Value::BigInt(Some(2)),
            Value::Bool(None),
            Value::BigInt(None),
            Value::String(None),
            Value::String(None),
            s(r#"["q"]"#),
            Value::BigInt(None),
        ]),
    )
    .await
    .unwrap();
    let rows = c
        .fetch(
            "SELECT id, b, n, c, t, a, s, COUNT(*) OVER (), SUM(n) OVER () FROM v ORDER BY id",
            Values(vec![]),
        )
        .await
        .unwrap();
    assert_eq!(
        rows[0].0,
        vec![
            Cell::Int(1),
            Cell::Bool(true),
            Cell::Int(i64::MAX),
            Cell::Text("ab  ".into()),
            Cell::Text("héllo".into()),
            Cell::TextArray(vec!["x".into(), "y z".into()]),
            Cell::Int(3),
            Cell::Int(2),
            Cell::Int(i64::MAX),
        ]
    );
    assert_eq!(
        rows[1].0[1..5],
        [Cell::Null, Cell::Null, Cell::Null, Cell::Null]
    );
    assert_eq!(rows[1].0[5], Cell::TextArray(vec!["q".into()]));
    // Rows affected.
    let n = c
        .execute("UPDATE v SET t = $1", Values(vec![s("x")]))
        .await
        .unwrap();
    assert_eq!(n, 2);
    // An i64 that does not fit an INTEGER parameter is an error, not a truncation.
    let e = c
        .execute(
            "UPDATE v SET s = $1 WHERE id = 1",
            Values(vec![Value::BigInt(Some(i64::MAX))]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, DbError::Other(StorageError::Query { .. })),
        "{e:?}"
    );
    // A value longer than its column is InvalidInput.
    let e = c
        .execute(
            "UPDATE v SET c = $1 WHERE id = 1",
            Values(vec![s("too long")]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, DbError::Other(StorageError::InvalidInput { .. })),
        "{e:?}"
    );
    drop(c);
    d.close().await;
    env.drop().await;
}

#[tokio::test]
async fn maps_constraint_errors() {
    let env = Env::new().await;
    let d = env.driver(Some("st")).await;
    migrate(&d).await;
    let mut c = d.acquire().await.unwrap();
    let e = c
        .execute(
            "INSERT INTO st_tenants (app_id, tenant_id) VALUES ($1, $2)",
            Values(vec![s("nope"), s("public")]),
        )
        .await
        .unwrap_err();
    // The constraint `st_tenants_app_id_fkey` names the parent, with the prefix.
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
        "INSERT INTO st_apps (app_id) VALUES ($1)",
        Values(vec![s("a")]),
    )
    .await
    .unwrap();
    let e = c
        .execute(
            "INSERT INTO st_key_value (app_id, tenant_id, name) VALUES ($1, $2, $3)",
            Values(vec![s("a"), s("nope"), s("k")]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            DbError::ForeignKey {
                key: ForeignKey::Tenant
            }
        ),
        "{e:?}"
    );
    let e = c
        .execute(
            "INSERT INTO st_apps (app_id) VALUES ($1)",
            Values(vec![s("a")]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DbError::Unique { key } if *key == UniqueKey::Primary),
        "{e:?}"
    );
    c.execute(
        "INSERT INTO st_tenants (app_id, tenant_id) VALUES ($1, $2)",
        Values(vec![s("a"), s("public")]),
    )
    .await
    .unwrap();
    for (uid, time) in [("u1", 1), ("u2", 2)] {
        c.execute(
            "INSERT INTO st_app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id) \
             VALUES ($1, $2, 'emailpassword', $2)",
            Values(vec![s("a"), s(uid)]),
        )
        .await
        .unwrap();
        c.execute(
            "INSERT INTO st_all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, \
             recipe_id, time_joined, primary_or_recipe_user_time_joined) \
             VALUES ($1, 'public', $2, $2, 'emailpassword', $3, $3)",
            Values(vec![s("a"), s(uid), Value::BigInt(Some(time))]),
        )
        .await
        .unwrap();
    }
    let ins = "INSERT INTO st_emailpassword_user_to_tenant (app_id, tenant_id, user_id, email) \
               VALUES ($1, 'public', $2, $3)";
    c.execute(ins, Values(vec![s("a"), s("u1"), s("x@y")]))
        .await
        .unwrap();
    let e = c
        .execute(ins, Values(vec![s("a"), s("u2"), s("x@y")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DbError::Unique { key } if *key == UniqueKey::Email),
        "{e:?}"
    );
    let ins = "INSERT INTO st_passwordless_user_to_tenant (app_id, tenant_id, user_id, phone_number) \
               VALUES ($1, 'public', $2, $3)";
    c.execute(ins, Values(vec![s("a"), s("u1"), s("+1")]))
        .await
        .unwrap();
    let e = c
        .execute(ins, Values(vec![s("a"), s("u2"), s("+1")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DbError::Unique { key } if *key == UniqueKey::PhoneNumber),
        "{e:?}"
    );
    // NOT NULL is InvalidInput.
    let e = c
        .execute(
            "INSERT INTO st_emailpassword_users (app_id, user_id, email, password_hash, time_joined) \
             VALUES ($1, $2, NULL, 'h', 1)",
            Values(vec![s("a"), s("u1")]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, DbError::Other(StorageError::InvalidInput { .. })),
        "{e:?}"
    );
    drop(c);
    d.close().await;
    env.drop().await;
}

#[tokio::test]
async fn transactions_commit_roll_back_and_recover_when_dropped() {
    let env = Env::new().await;
    let mut o = env.options(None);
    o.pool_size = Some(1);
    let d = env.driver_with(&base_uri(), o).await;
    env.sql("CREATE TABLE k (id BIGINT PRIMARY KEY)").await;
    let ins = "INSERT INTO k (id) VALUES ($1)";
    let one = |n: i64| Values(vec![Value::BigInt(Some(n))]);

    let mut c = d.acquire().await.unwrap();
    c.begin(Isolation::Default, true).await.unwrap();
    c.execute(ins, one(1)).await.unwrap();
    c.commit().await.unwrap();
    c.begin(Isolation::Serializable, true).await.unwrap();
    c.execute(ins, one(2)).await.unwrap();
    c.rollback().await.unwrap();
    assert_eq!(env.count("SELECT COUNT(*) FROM k").await, 1);

    // A statement that fails aborts the transaction: commit rolls back and says so.
    c.begin(Isolation::Default, true).await.unwrap();
    c.execute(ins, one(3)).await.unwrap();
    assert!(c.execute(ins, one(1)).await.is_err());
    assert!(c.commit().await.is_err());
    assert_eq!(env.count("SELECT COUNT(*) FROM k").await, 1);

    // Dropped mid-transaction: rolled back before the (only) connection is reused.
    c.begin(Isolation::Default, true).await.unwrap();
    c.execute(ins, one(4)).await.unwrap();
    drop(c);
    let mut c = d.acquire().await.unwrap();
    let rows = c
        .fetch("SELECT COUNT(*) FROM k", Values(vec![]))
        .await
        .unwrap();
    assert_eq!(rows[0].0[0], Cell::Int(1));
    // And no transaction is open: two statements get two transaction ids.
    let txid = "SELECT txid_current()";
    let a = c.fetch(txid, Values(vec![])).await.unwrap();
    let b = c.fetch(txid, Values(vec![])).await.unwrap();
    assert_ne!(a, b);
    drop(c);
    d.close().await;
    env.drop().await;
}

#[tokio::test]
async fn lock_conflicts_are_retryable() {
    let env = Env::new().await;
    let d = env.driver(None).await;
    env.sql("CREATE TABLE r (id BIGINT PRIMARY KEY); INSERT INTO r VALUES (1)")
        .await;
    let mut a = d.acquire().await.unwrap();
    let mut b = d.acquire().await.unwrap();
    a.begin(Isolation::Default, true).await.unwrap();
    a.fetch("SELECT id FROM r WHERE id = 1 FOR UPDATE", Values(vec![]))
        .await
        .unwrap();
    b.begin(Isolation::Default, true).await.unwrap();
    let e = b
        .fetch(
            "SELECT id FROM r WHERE id = 1 FOR UPDATE NOWAIT",
            Values(vec![]),
        )
        .await
        .unwrap_err()
        .into_storage();
    assert!(e.is_retryable(), "{e:?}");
    b.rollback().await.unwrap();
    a.commit().await.unwrap();

    // Serialization failure.
    a.begin(Isolation::Serializable, true).await.unwrap();
    b.begin(Isolation::Serializable, true).await.unwrap();
    a.fetch("SELECT COUNT(*) FROM r", Values(vec![]))
        .await
        .unwrap();
    b.fetch("SELECT COUNT(*) FROM r", Values(vec![]))
        .await
        .unwrap();
    a.execute("UPDATE r SET id = 2 WHERE id = 1", Values(vec![]))
        .await
        .unwrap();
    a.commit().await.unwrap();
    let e = b
        .execute("UPDATE r SET id = 3 WHERE id = 1", Values(vec![]))
        .await
        .unwrap_err()
        .into_storage();
    assert!(e.is_retryable(), "{e:?}");
    b.rollback().await.unwrap();
    drop((a, b));
    d.close().await;
    env.drop().await;
}

#[tokio::test]
async fn named_locks_serialise_until_commit() {
    let env = Env::new().await;
    let d = env.driver(None).await;
    let mut a = d.acquire().await.unwrap();
    let mut b = d.acquire().await.unwrap();
    assert!(a.named_lock("x").await.is_err(), "needs a transaction");
    a.begin(Isolation::Default, true).await.unwrap();
    a.named_lock("kv/public/public/x").await.unwrap();
    b.begin(Isolation::Default, true).await.unwrap();
    {
        let waiting = b.named_lock("kv/public/public/x");
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut waiting)
                .await
                .is_err(),
            "second holder must wait"
        );
        a.commit().await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("lock released at commit")
            .unwrap();
    }
    // Another name does not conflict.
    a.begin(Isolation::Default, true).await.unwrap();
    a.named_lock("other").await.unwrap();
    a.commit().await.unwrap();
    b.commit().await.unwrap();
    drop((a, b));
    d.close().await;
    env.drop().await;
}

#[tokio::test]
async fn recovers_after_every_connection_is_killed() {
    let env = Env::new().await;
    let app = format!("recov_{}", &env.schema[2..14]);
    let uri = format!("{}?application_name={app}", base_uri());
    let mut o = env.options(None);
    o.pool_size = Some(3);
    let d = env.driver_with(&uri, o).await;
    // Fill the pool.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = d.acquire().await.unwrap();
        c.fetch("SELECT 1::int8", Values(vec![])).await.unwrap();
        held.push(c);
    }
    drop(held);
    let killed: i64 = env
        .admin
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 3);
    let op = || async {
        let mut c = d.acquire().await?;
        c.fetch("SELECT 1::int8", Values(vec![]))
            .await
            .map_err(DbError::into_storage)
    };
    let first = op().await;
    eprintln!("first: {first:?} status {:?}", d.pool_status());
    match first {
        Ok(_) => {}
        Err(StorageError::Unavailable { .. }) => {}
        Err(e) => panic!("first call after the kill: {e:?}"),
    }
    op().await.expect("second call after the kill");
    d.close().await;
    let e = op().await.unwrap_err();
    assert!(matches!(e, StorageError::Unavailable { .. }), "{e:?}");
    env.drop().await;
}

#[tokio::test]
async fn connection_errors_are_typed_and_scrubbed() {
    // Nothing listens on port 1.
    let uri = ConnectionUri::parse("postgres://postgres:hunter2@127.0.0.1:1/test").unwrap();
    let e = PostgresDriver::connect(
        &uri,
        &OpenOptions {
            connect_timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StorageError::Unavailable { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("hunter2"));
    // A database that does not exist is a configuration error.
    let mut u = ConnectionUri::parse(&base_uri()).unwrap();
    u.path = "no_such_database_here".into();
    let e = PostgresDriver::connect(&u, &OpenOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, StorageError::Config(_)), "{e:?}");
    // A TLS setting that cannot be honoured is refused, never downgraded.
    let e = storage_api::open(
        &format!(
            "{}?sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
            base_uri()
        ),
        OpenOptions::default(),
    )
    .await
    .err()
    .expect("a missing sslrootcert must fail");
    assert!(matches!(e, StorageError::Config(_)), "{e:?}");
}

#[tokio::test]
async fn opens_by_uri_with_current_schema_and_idle_settings() {
    let env = Env::new().await;
    let uri = format!("{}?currentSchema={}", base_uri(), env.schema);
    // Through storage_api::open: the scheme is registered.
    let storage = storage_api::open(&uri, OpenOptions::default())
        .await
        .expect("open by URI");
    assert_eq!(storage.backend_name(), "postgresql");
    storage_api::migrate_up(&*storage).await.unwrap();
    assert_eq!(
        env.count("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()")
            .await,
        all_tables() as i64 + 1,
        "every table of the migrations and the history table"
    );
    storage.close().await;

    // Minimum idle connections are opened up front, idle ones beyond it are closed.
    let d = env
        .driver_with(
            &base_uri(),
            OpenOptions {
                schema: Some(env.schema.clone()),
                pool_size: Some(4),
                min_idle: Some(2),
                idle_timeout: Some(Duration::from_millis(300)),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(d.pool_status(), (2, 2));
    let held: Vec<_> = futures_all(&d, 4).await;
    drop(held);
    assert_eq!(d.pool_status().0, 4);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(d.pool_status(), (2, 2));
    d.close().await;
    env.drop().await;
}

async fn futures_all(d: &PostgresDriver, n: usize) -> Vec<storage_postgres::PostgresConn> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(d.acquire().await.unwrap());
    }
    v
}

#[tokio::test]
async fn migration_driver_locks_applies_and_reverts() {
    let env = Env::new().await;
    let d = env.driver(Some("mx")).await;
    let mut m1 = d.migration_driver().await.unwrap();
    let mut m2 = d.migration_driver().await.unwrap();
    assert!(!m1.history_table_exists().await.unwrap());
    assert!(m1.lock(Duration::from_secs(1)).await.unwrap());
    assert!(!m2.lock(Duration::from_millis(300)).await.unwrap());
    m1.unlock().await.unwrap();
    assert!(m2.lock(Duration::from_millis(300)).await.unwrap());
    m2.unlock().await.unwrap();

    let report = migrate::up(&mut *m1, &UpOptions::default(), &mut |_| {})
        .await
        .unwrap();
    let known = storage_postgres::migrations().len();
    assert_eq!(report.applied.len(), known);
    let h = m1.history().await.unwrap();
    assert_eq!(h.len(), known);
    assert_eq!(h[0].version, 1);
    assert_eq!(h[0].checksum, storage_postgres::migrations()[0].checksum());
    assert_eq!(h[0].state, migrate::HistoryState::Applied);
    let tables = m1.existing_tables().await.unwrap();
    assert_eq!(tables.len(), all_tables() + 1, "{tables:?}");
    assert!(tables.iter().all(|t| t.starts_with("mx_")));
    // Idempotent.
    let report = migrate::up(&mut *m2, &UpOptions::default(), &mut |_| {})
        .await
        .unwrap();
    assert!(report.applied.is_empty());

    migrate::down(&mut *m1, 0, &UpOptions::default(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        m1.existing_tables().await.unwrap(),
        vec!["mx_schema_migrations"]
    );
    assert!(m1.history().await.unwrap().is_empty());

    // A failing migration rolls back completely and names its statement.
    let mut bad = migrate::step_for(&storage_postgres::migrations()[0], "mx_");
    bad.statements.insert(3, "CREATE TABLE broken (".into());
    let f = m1.apply(&bad, 0).await.unwrap_err();
    assert_eq!(f.index, 3);
    assert_eq!(
        m1.existing_tables().await.unwrap(),
        vec!["mx_schema_migrations"]
    );
    assert!(m1.history().await.unwrap().is_empty());

    // record / forget.
    let row = migrate::HistoryRow {
        version: 1,
        name: "phase1".into(),
        checksum: "c".repeat(64),
        state: migrate::HistoryState::Started,
        applied_at: 5,
        execution_ms: 6,
    };
    m1.record(&row).await.unwrap();
    assert_eq!(m1.history().await.unwrap(), vec![row]);
    m1.forget(1).await.unwrap();
    assert!(m1.history().await.unwrap().is_empty());
    drop((m1, m2));
    d.close().await;
    env.drop().await;
}

/// How many tables the embedded migrations create.
fn all_tables() -> usize {
    storage_postgres::migrations()
        .iter()
        .map(|m| migrate::tables_created(m.up).len())
        .sum()
}
