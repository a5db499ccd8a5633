//! Tests of the pool, the connection and the migration driver on real SQLite files.

use super::*;
use sea_query::{Value, Values};
use std::time::{Duration, Instant};
use storage_api::migrate::{self as runner, Step, UpOptions};
use storage_sql::{Cell, Conn, DbError, ForeignKey};

fn s(v: &str) -> Value {
    Value::String(Some(v.to_owned()))
}

fn i(v: i64) -> Value {
    Value::BigInt(Some(v))
}

fn none() -> Values {
    Values(vec![])
}

fn file_uri(dir: &tempfile::TempDir) -> ConnectionUri {
    ConnectionUri::parse(&format!("sqlite://{}", dir.path().join("t.db").display())).unwrap()
}

fn driver(dir: &tempfile::TempDir, prefix: Option<&str>) -> SqliteDriver {
    let options = OpenOptions {
        table_prefix: prefix.map(str::to_owned),
        ..Default::default()
    };
    SqliteDriver::open(&file_uri(dir), &options).unwrap()
}

/// A driver whose busy timeout is short, for tests that wait on another process.
fn impatient_driver(dir: &tempfile::TempDir, busy: Duration) -> SqliteDriver {
    let pool = Pool::open(PoolConfig {
        target: Target::File {
            path: dir.path().join("t.db"),
            create: true,
        },
        size: 4,
        min_idle: 0,
        idle_timeout: Duration::from_secs(60),
        acquire_timeout: Duration::from_secs(1),
        busy_timeout: busy,
    })
    .unwrap();
    SqliteDriver {
        pool,
        prefix: String::new(),
        uri: "sqlite://t.db".into(),
    }
}

async fn migrate(d: &SqliteDriver) -> runner::UpReport {
    let mut m = d.migration_driver().await.unwrap();
    runner::up(&mut *m, &UpOptions::default(), &mut |_| {})
        .await
        .unwrap()
}

async fn count(c: &mut SqliteConn, sql: &str) -> i64 {
    c.fetch(sql, none()).await.unwrap()[0].int(0).unwrap()
}

fn unique_key(r: Result<u64, DbError>) -> String {
    match r {
        Err(DbError::Unique { key }) => key.name().to_owned(),
        other => panic!("expected a unique violation, got {other:?}"),
    }
}

#[tokio::test]
async fn constraint_reports_map_to_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = driver(&dir, Some("st"));
    migrate(&d).await;
    let mut c = d.acquire().await.unwrap();
    let ins = |table: &str, cols: &str, n: usize| {
        format!(
            "INSERT INTO st_{table} ({cols}) VALUES ({})",
            vec!["?"; n].join(", ")
        )
    };
    c.execute(&ins("apps", "app_id", 1), Values(vec![s("a")]))
        .await
        .unwrap();
    c.execute(
        &ins("tenants", "app_id, tenant_id", 2),
        Values(vec![s("a"), s("t")]),
    )
    .await
    .unwrap();
    // Primary key.
    assert_eq!(
        unique_key(
            c.execute(&ins("apps", "app_id", 1), Values(vec![s("a")]))
                .await
        ),
        "PRIMARY"
    );
    // Foreign key: a tenant of a missing app.
    assert!(matches!(
        c.execute(
            &ins("tenants", "app_id, tenant_id", 2),
            Values(vec![s("zz"), s("t")])
        )
        .await,
        Err(DbError::ForeignKey {
            key: ForeignKey::Unnamed
        })
    ));
    let user = |id: &str| Values(vec![s("a"), s(id), s("emailpassword"), s(id), i(1)]);
    let aiu = ins(
        "app_id_to_user_id",
        "app_id, user_id, recipe_id, primary_or_recipe_user_id, time_joined",
        5,
    );
    let aaru = ins(
        "all_auth_recipe_users",
        "app_id, tenant_id, user_id, primary_or_recipe_user_id, recipe_id, time_joined, \
         primary_or_recipe_user_time_joined",
        7,
    );
    for id in ["u1", "u2", "u3"] {
        c.execute(&aiu, user(id)).await.unwrap();
        c.execute(
            &aaru,
            Values(vec![
                s("a"),
                s("t"),
                s(id),
                s(id),
                s("emailpassword"),
                i(1),
                i(1),
            ]),
        )
        .await
        .unwrap();
    }
    assert_eq!(unique_key(c.execute(&aiu, user("u1")).await), "PRIMARY");

    let ep = ins(
        "emailpassword_user_to_tenant",
        "app_id, tenant_id, user_id, email",
        4,
    );
    c.execute(&ep, Values(vec![s("a"), s("t"), s("u1"), s("x@y")]))
        .await
        .unwrap();
    // Another user, same email in the tenant: the `email` key.
    assert_eq!(
        unique_key(
            c.execute(&ep, Values(vec![s("a"), s("t"), s("u2"), s("x@y")]))
                .await
        ),
        "email"
    );
    // The same row again violates both keys: the primary key is reported, as on the
    // server backends.
    assert_eq!(
        unique_key(
            c.execute(&ep, Values(vec![s("a"), s("t"), s("u1"), s("x@y")]))
                .await
        ),
        "PRIMARY"
    );
    // A membership row of a user not in the tenant: foreign key.
    assert!(matches!(
        c.execute(&ep, Values(vec![s("a"), s("t"), s("nobody"), s("n@y")]))
            .await,
        Err(DbError::ForeignKey {
            key: ForeignKey::Unnamed
        })
    ));

    let pl = ins(
        "passwordless_user_to_tenant",
        "app_id, tenant_id, user_id, email, phone_number",
        5,
    );
    c.execute(
        &pl,
        Values(vec![s("a"), s("t"), s("u1"), s("p@y"), s("+1")]),
    )
    .await
    .unwrap();
    // NULLs never collide.
    c.execute(
        &pl,
        Values(vec![s("a"), s("t"), s("u3"), Value::String(None), s("+3")]),
    )
    .await
    .unwrap();
    assert_eq!(
        unique_key(
            c.execute(
                &pl,
                Values(vec![s("a"), s("t"), s("u2"), s("q@y"), s("+1")])
            )
            .await
        ),
        "phone_number"
    );
    // Both email and phone taken: email is checked first.
    assert_eq!(
        unique_key(
            c.execute(
                &pl,
                Values(vec![s("a"), s("t"), s("u2"), s("p@y"), s("+1")])
            )
            .await
        ),
        "email"
    );

    let tp = ins(
        "thirdparty_user_to_tenant",
        "app_id, tenant_id, user_id, third_party_id, third_party_user_id",
        5,
    );
    c.execute(
        &tp,
        Values(vec![s("a"), s("t"), s("u1"), s("google"), s("g1")]),
    )
    .await
    .unwrap();
    assert_eq!(
        unique_key(
            c.execute(
                &tp,
                Values(vec![s("a"), s("t"), s("u2"), s("google"), s("g1")])
            )
            .await
        ),
        "third_party_user_id"
    );

    c.execute(
        &ins(
            "passwordless_devices",
            "app_id, tenant_id, device_id_hash, link_code_salt, failed_attempts",
            5,
        ),
        Values(vec![s("a"), s("t"), s("d"), s("salt"), i(0)]),
    )
    .await
    .unwrap();
    let code = ins(
        "passwordless_codes",
        "app_id, tenant_id, code_id, device_id_hash, link_code_hash, created_at",
        6,
    );
    c.execute(
        &code,
        Values(vec![s("a"), s("t"), s("c1"), s("d"), s("h1"), i(1)]),
    )
    .await
    .unwrap();
    assert_eq!(
        unique_key(
            c.execute(
                &code,
                Values(vec![s("a"), s("t"), s("c2"), s("d"), s("h1"), i(1)])
            )
            .await
        ),
        "link_code_hash"
    );
    assert_eq!(
        unique_key(
            c.execute(
                &code,
                Values(vec![s("a"), s("t"), s("c1"), s("d"), s("h2"), i(1)])
            )
            .await
        ),
        "PRIMARY"
    );
    assert!(matches!(
        c.execute(
            &code,
            Values(vec![s("a"), s("t"), s("c3"), s("nodevice"), s("h3"), i(1)])
        )
        .await,
        Err(DbError::ForeignKey {
            key: ForeignKey::Unnamed
        })
    ));

    let reset = ins(
        "emailpassword_pswd_reset_tokens",
        "app_id, user_id, token, token_expiry",
        4,
    );
    c.execute(&reset, Values(vec![s("a"), s("u1"), s("tok"), i(9)]))
        .await
        .unwrap();
    assert_eq!(
        unique_key(
            c.execute(&reset, Values(vec![s("a"), s("u2"), s("tok"), i(9)]))
                .await
        ),
        "token"
    );
    assert_eq!(
        unique_key(
            c.execute(&reset, Values(vec![s("a"), s("u1"), s("tok"), i(9)]))
                .await
        ),
        "PRIMARY"
    );
    assert!(matches!(
        c.execute(&reset, Values(vec![s("a"), s("ghost"), s("tok2"), i(9)]))
            .await,
        Err(DbError::ForeignKey {
            key: ForeignKey::Unnamed
        })
    ));

    let ev = ins(
        "emailverification_tokens",
        "app_id, tenant_id, user_id, email, token, token_expiry",
        6,
    );
    c.execute(
        &ev,
        Values(vec![s("a"), s("t"), s("u1"), s("e"), s("evt"), i(9)]),
    )
    .await
    .unwrap();
    assert_eq!(
        unique_key(
            c.execute(
                &ev,
                Values(vec![s("a"), s("t"), s("u2"), s("e"), s("evt"), i(9)])
            )
            .await
        ),
        "token"
    );

    // Deleting the app cascades through every table.
    assert_eq!(
        c.execute("DELETE FROM st_apps WHERE app_id = ?", Values(vec![s("a")]))
            .await
            .unwrap(),
        1
    );
    for t in [
        "tenants",
        "app_id_to_user_id",
        "all_auth_recipe_users",
        "emailpassword_user_to_tenant",
        "passwordless_user_to_tenant",
        "thirdparty_user_to_tenant",
        "passwordless_devices",
        "passwordless_codes",
        "emailpassword_pswd_reset_tokens",
        "emailverification_tokens",
    ] {
        assert_eq!(
            count(&mut c, &format!("SELECT count(*) FROM st_{t}")).await,
            0,
            "{t}"
        );
    }
}

#[tokio::test]
async fn values_bind_and_cells_decode() {
    let dir = tempfile::tempdir().unwrap();
    let d = driver(&dir, None);
    let mut c = d.acquire().await.unwrap();
    let rows = c
        .fetch(
            "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?",
            Values(vec![
                Value::Bool(Some(true)),
                Value::Bool(Some(false)),
                Value::Int(Some(-7)),
                Value::BigInt(Some(i64::MAX)),
                Value::Unsigned(Some(7)),
                Value::BigUnsigned(Some(8)),
                s("héllo"),
                Value::String(None),
                Value::Char(Some('x')),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(
        rows[0].0,
        vec![
            Cell::Int(1),
            Cell::Int(0),
            Cell::Int(-7),
            Cell::Int(i64::MAX),
            Cell::Int(7),
            Cell::Int(8),
            Cell::Text("héllo".into()),
            Cell::Null,
            Cell::Text("x".into()),
        ]
    );
    assert!(rows[0].bool(0).unwrap());
    // Too large for SQLite's integer.
    assert!(
        c.fetch("SELECT ?", Values(vec![Value::BigUnsigned(Some(u64::MAX))]))
            .await
            .is_err()
    );
    // The number of values must match the placeholders.
    assert!(c.fetch("SELECT ?, ?", Values(vec![i(1)])).await.is_err());
    // A syntax error is a query error.
    assert!(matches!(
        c.execute("SELEC 1", none()).await,
        Err(DbError::Other(StorageError::Query { .. }))
    ));
}

#[tokio::test]
async fn affected_rows_and_returning() {
    let dir = tempfile::tempdir().unwrap();
    let d = driver(&dir, None);
    let mut c = d.acquire().await.unwrap();
    c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)", none())
        .await
        .unwrap();
    for k in 0..5 {
        assert_eq!(
            c.execute(
                "INSERT INTO t (k, v) VALUES (?, ?)",
                Values(vec![i(k), s("a")])
            )
            .await
            .unwrap(),
            1
        );
    }
    assert_eq!(
        c.execute("UPDATE t SET v = ? WHERE k < ?", Values(vec![s("b"), i(3)]))
            .await
            .unwrap(),
        3
    );
    // A read through `execute` reports no rows touched.
    assert_eq!(c.execute("SELECT * FROM t", none()).await.unwrap(), 0);
    let rows = c
        .fetch(
            "DELETE FROM t WHERE v = ? RETURNING k",
            Values(vec![s("b")]),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(count(&mut c, "SELECT count(*) FROM t").await, 2);
}

/// 16 tasks, each incrementing one counter 25 times by read-then-write inside a
/// transaction, yielding in between: the write lock makes every increment count, and
/// no task ever sees `SQLITE_BUSY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_serialise_under_16_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let d = Arc::new(driver(&dir, None));
    {
        let mut c = d.acquire().await.unwrap();
        c.execute(
            "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
            none(),
        )
        .await
        .unwrap();
        c.execute("CREATE TABLE log (task INTEGER, n INTEGER)", none())
            .await
            .unwrap();
        c.execute("INSERT INTO counter (id, n) VALUES (1, 0)", none())
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for task in 0..16 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let mut c = d.acquire().await.unwrap();
                c.begin(storage_api::Isolation::Default, true)
                    .await
                    .unwrap();
                let n = c
                    .fetch("SELECT n FROM counter WHERE id = 1", none())
                    .await
                    .unwrap()[0]
                    .int(0)
                    .unwrap();
                tokio::task::yield_now().await;
                c.execute(
                    "UPDATE counter SET n = ? WHERE id = 1",
                    Values(vec![i(n + 1)]),
                )
                .await
                .unwrap();
                c.commit().await.unwrap();
                // Autocommit writes interleave with the transactions.
                c.execute(
                    "INSERT INTO log (task, n) VALUES (?, ?)",
                    Values(vec![i(task), i(n)]),
                )
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = d.acquire().await.unwrap();
    assert_eq!(count(&mut c, "SELECT n FROM counter").await, 400);
    assert_eq!(
        count(&mut c, "SELECT count(DISTINCT n) FROM log").await,
        400
    );
}

#[tokio::test]
async fn dropped_transaction_rolls_back_and_frees_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let options = OpenOptions {
        pool_size: Some(1),
        ..Default::default()
    };
    let d = SqliteDriver::open(&file_uri(&dir), &options).unwrap();
    {
        let mut c = d.acquire().await.unwrap();
        c.execute("CREATE TABLE t (x INTEGER)", none())
            .await
            .unwrap();
        c.begin(storage_api::Isolation::Default, true)
            .await
            .unwrap();
        c.execute("INSERT INTO t (x) VALUES (1)", none())
            .await
            .unwrap();
        // Dropped without commit.
    }
    let mut c = d.acquire().await.unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM t").await, 0);
    // The write lock was released with it: a new transaction starts at once.
    tokio::time::timeout(
        Duration::from_secs(1),
        c.begin(storage_api::Isolation::Default, true),
    )
    .await
    .expect("write lock still held")
    .unwrap();
    c.execute("INSERT INTO t (x) VALUES (2)", none())
        .await
        .unwrap();
    c.rollback().await.unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM t").await, 0);
    // Commit and rollback outside a transaction.
    assert!(c.commit().await.is_err());
    c.rollback().await.unwrap();
    // A cancelled transaction (its future dropped mid-way) also rolls back.
    let d = Arc::new(d);
    drop(c);
    let d2 = d.clone();
    let task = tokio::spawn(async move {
        let mut c = d2.acquire().await.unwrap();
        c.begin(storage_api::Isolation::Default, true)
            .await
            .unwrap();
        c.execute("INSERT INTO t (x) VALUES (3)", none())
            .await
            .unwrap();
        std::future::pending::<()>().await;
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    task.abort();
    let _ = task.await;
    let mut c = d.acquire().await.unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM t").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_query_waits_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let d = Arc::new(driver(&dir, None));
    let mut a = d.acquire().await.unwrap();
    a.execute("CREATE TABLE t (x INTEGER)", none())
        .await
        .unwrap();
    a.begin(storage_api::Isolation::Default, true)
        .await
        .unwrap();
    a.execute("INSERT INTO t (x) VALUES (1)", none())
        .await
        .unwrap();
    let d2 = d.clone();
    let b = tokio::spawn(async move {
        let mut b = d2.acquire().await.unwrap();
        // A plain read does not wait for the writer (WAL) and sees the last commit.
        let before = count(&mut b, "SELECT count(*) FROM t").await;
        let rows = b
            .fetch("INSERT INTO t (x) VALUES (2) RETURNING x", none())
            .await
            .unwrap();
        (before, rows.len())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !b.is_finished(),
        "the writing query must wait for the transaction"
    );
    a.commit().await.unwrap();
    assert_eq!(b.await.unwrap(), (0, 1));
    assert_eq!(count(&mut a, "SELECT count(*) FROM t").await, 2);
}

#[tokio::test]
async fn another_process_holding_the_lock_is_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let d = impatient_driver(&dir, Duration::from_millis(200));
    let mut c = d.acquire().await.unwrap();
    c.execute("CREATE TABLE t (x INTEGER)", none())
        .await
        .unwrap();
    // "Another process": a connection outside the pool and its write lock.
    let other = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let e = c
        .begin(storage_api::Isolation::Default, true)
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    match c.execute("INSERT INTO t (x) VALUES (1)", none()).await {
        Err(DbError::Other(e)) => assert!(e.is_retryable(), "{e}"),
        other => panic!("expected busy, got {other:?}"),
    }
    other.execute_batch("COMMIT").unwrap();
    c.begin(storage_api::Isolation::Default, true)
        .await
        .unwrap();
    c.execute("INSERT INTO t (x) VALUES (1)", none())
        .await
        .unwrap();
    c.commit().await.unwrap();
}

#[tokio::test]
async fn migrations_apply_with_prefix_and_revert() {
    let dir = tempfile::tempdir().unwrap();
    let d = driver(&dir, Some("st"));
    let report = migrate(&d).await;
    assert_eq!(report.applied.len(), migrations().len());
    // Nothing pending the second time.
    assert!(migrate(&d).await.applied.is_empty());

    let mut m = d.migration_driver().await.unwrap();
    let tables = m.existing_tables().await.unwrap();
    let expected = [
        "apps",
        "tenants",
        "key_value",
        "tenant_configs",
        "tenant_thirdparty_providers",
        "tenant_thirdparty_provider_clients",
        "tenant_first_factors",
        "tenant_required_secondary_factors",
        "app_id_to_user_id",
        "all_auth_recipe_users",
        "emailpassword_users",
        "emailpassword_user_to_tenant",
        "thirdparty_users",
        "thirdparty_user_to_tenant",
        "passwordless_users",
        "passwordless_user_to_tenant",
        "session_info",
        "session_access_token_signing_keys",
        "passwordless_devices",
        "passwordless_codes",
        "emailpassword_pswd_reset_tokens",
        "emailverification_tokens",
        "emailverification_verified_emails",
        "jwt_signing_keys",
        "user_last_active",
        "user_metadata",
        "roles",
        "role_permissions",
        "user_roles",
        "userid_mapping",
        "dashboard_users",
        "dashboard_user_sessions",
        "totp_users",
        "totp_user_devices",
        "totp_used_codes",
        "schema_migrations",
    ];
    let mut want: Vec<String> = expected.iter().map(|t| format!("st_{t}")).collect();
    want.sort();
    assert_eq!(tables, want);

    let history = m.history().await.unwrap();
    assert_eq!(history.len(), migrations().len());
    assert_eq!(history[0].version, 1);
    assert_eq!(history[0].name, "phase1");
    assert_eq!(history[0].checksum, migrations()[0].checksum());
    assert_eq!(
        history[0].state,
        storage_api::migrate::HistoryState::Applied
    );
    assert!(history[0].applied_at > 0);

    // Every index carries the prefix.
    drop(m);
    let mut c = d.acquire().await.unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' \
             AND name NOT LIKE 'sqlite_autoindex_%' AND name NOT LIKE 'st\\_%' ESCAPE '\\'"
        )
        .await,
        0
    );
    assert!(
        count(
            &mut c,
            "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
        )
        .await
            > 30
    );
    drop(c);

    let mut m = d.migration_driver().await.unwrap();
    runner::down(&mut *m, 0, &UpOptions::default(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        m.existing_tables().await.unwrap(),
        vec!["st_schema_migrations"]
    );
    assert!(m.history().await.unwrap().is_empty());
    drop(m);
    let mut c = d.acquire().await.unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
        )
        .await,
        0
    );
    drop(c);
    // And up again.
    assert_eq!(migrate(&d).await.applied.len(), migrations().len());
}

fn step(version: u32, statements: &[&str]) -> Step {
    Step {
        version,
        name: format!("test{version}"),
        checksum: "x".into(),
        statements: statements.iter().map(|s| s.to_string()).collect(),
        notes: Vec::new(),
    }
}

#[tokio::test]
async fn a_failed_migration_leaves_nothing() {
    for locked in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let d = driver(&dir, Some("st"));
        let mut m = d.migration_driver().await.unwrap();
        if locked {
            assert!(m.lock(Duration::from_secs(1)).await.unwrap());
        }
        m.ensure_history_table().await.unwrap();
        let bad = step(
            7,
            &[
                "CREATE TABLE st_a (x INTEGER)",
                "CREATE INDEX st_a_x ON st_a (x)",
                "CREATE TABLE st_broken (",
            ],
        );
        let failure = m.apply(&bad, 1).await.unwrap_err();
        assert_eq!(failure.index, 2);
        assert!(matches!(failure.error, StorageError::Query { .. }));
        assert_eq!(
            m.existing_tables().await.unwrap(),
            vec!["st_schema_migrations"]
        );
        assert!(m.history().await.unwrap().is_empty());

        let good = step(7, &["CREATE TABLE st_a (x INTEGER)"]);
        m.apply(&good, 1).await.unwrap();
        if locked {
            m.unlock().await.unwrap();
        }
        drop(m);
        let mut m = d.migration_driver().await.unwrap();
        assert_eq!(
            m.existing_tables().await.unwrap(),
            vec!["st_a", "st_schema_migrations"]
        );
        let history = m.history().await.unwrap();
        assert_eq!(history.len(), 1, "locked={locked}");
        assert_eq!(history[0].version, 7);

        // Revert, record and forget.
        m.revert(&step(7, &["DROP TABLE st_a"])).await.unwrap();
        assert!(m.history().await.unwrap().is_empty());
        let row = storage_api::migrate::HistoryRow {
            version: 3,
            name: "baseline".into(),
            checksum: "c".into(),
            state: storage_api::migrate::HistoryState::Started,
            applied_at: 5,
            execution_ms: 0,
        };
        m.record(&row).await.unwrap();
        assert_eq!(m.history().await.unwrap(), vec![row]);
        m.forget(3).await.unwrap();
        assert!(m.history().await.unwrap().is_empty());
    }
}

/// Two storages on one file stand for two processes: separate pools, separate
/// in-process locks. Only SQLite's lock is shared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_migrator_waits_then_finds_nothing_pending() {
    let dir = tempfile::tempdir().unwrap();
    let a = driver(&dir, Some("st"));
    let b = driver(&dir, Some("st"));

    // While one holds the lock, the other's lock times out.
    let mut ma = a.migration_driver().await.unwrap();
    assert!(ma.lock(Duration::from_secs(1)).await.unwrap());
    let mut mb = b.migration_driver().await.unwrap();
    let started = Instant::now();
    assert!(!mb.lock(Duration::from_millis(150)).await.unwrap());
    assert!(started.elapsed() >= Duration::from_millis(150));
    ma.unlock().await.unwrap();
    drop((ma, mb));

    let (ra, rb) = tokio::join!(migrate(&a), migrate(&b));
    assert_eq!(
        ra.applied.len() + rb.applied.len(),
        migrations().len(),
        "each migration applied once"
    );
    let mut m = a.migration_driver().await.unwrap();
    assert_eq!(m.history().await.unwrap().len(), migrations().len());
}

#[tokio::test]
async fn memory_database_is_shared_by_its_one_connection() {
    let uri = ConnectionUri::parse("sqlite::memory:").unwrap();
    let d = SqliteDriver::open(&uri, &OpenOptions::default()).unwrap();
    migrate(&d).await;
    let mut c = d.acquire().await.unwrap();
    c.execute("INSERT INTO apps (app_id) VALUES ('public')", none())
        .await
        .unwrap();
    drop(c);
    let mut c = d.acquire().await.unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM apps").await, 1);
    // No journal file of any kind.
    let rows = c.fetch("PRAGMA journal_mode", none()).await.unwrap();
    assert_eq!(rows[0].text(0).unwrap(), "memory");
}

#[tokio::test]
async fn uri_checks() {
    let open =
        |u: &str| SqliteDriver::open(&ConnectionUri::parse(u).unwrap(), &OpenOptions::default());
    assert!(matches!(
        open("sqlite://x.db?cache=shared").unwrap_err(),
        StorageError::Config(_)
    ));
    assert!(matches!(
        open("sqlite://x.db?mode=ro").unwrap_err(),
        StorageError::Config(_)
    ));
    assert!(matches!(
        open("postgres://h/db").unwrap_err(),
        StorageError::Config(_)
    ));
    assert!(open("sqlite://t.db?mode=memory").is_ok());
    let dir = tempfile::tempdir().unwrap();
    let bad_prefix = OpenOptions {
        table_prefix: Some("Bad-Prefix".into()),
        ..Default::default()
    };
    assert!(matches!(
        SqliteDriver::open(&file_uri(&dir), &bad_prefix).unwrap_err(),
        StorageError::Config(_)
    ));
    let missing = ConnectionUri::parse(&format!(
        "sqlite://{}?mode=rw",
        dir.path().join("absent.db").display()
    ))
    .unwrap();
    assert!(matches!(
        SqliteDriver::open(&missing, &OpenOptions::default()).unwrap_err(),
        StorageError::Unavailable { .. }
    ));
    assert!(!dir.path().join("absent.db").exists());
}

#[test]
fn the_backend_is_registered() {
    assert!(storage_api::linked_schemes().contains(&"sqlite"));
    let sqlite = storage_api::linked_backends()
        .into_iter()
        .find(|b| b.name == "sqlite")
        .unwrap();
    assert_eq!(sqlite.env_prefix, "SQLITE");
}

#[test]
fn migration_templates_use_only_the_prefix_placeholder() {
    for m in migrations() {
        for script in [Some(m.up), m.down].into_iter().flatten() {
            let rendered = storage_api::migrate::render(script, "");
            assert!(!rendered.contains('{') && !rendered.contains('}'));
            for stmt in storage_api::migrate::split_statements(script) {
                let head = stmt.trim_start();
                if head.starts_with("CREATE") || head.starts_with("DROP") {
                    let name = head.split_whitespace().find(|w| w.contains("{prefix}"));
                    assert!(name.is_some(), "unprefixed name in: {stmt}");
                }
            }
        }
    }
}

/// The shared operations of `storage-sql` through this backend, opened by URI: a
/// smoke test; the conformance suite in `storage-tests` covers the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_opens_by_uri_and_maps_duplicates() {
    use storage_api::{EmailPasswordSignUp, Secret, TenantIdentifier};
    for uri in ["sqlite::memory:", "file"] {
        let dir = tempfile::tempdir().unwrap();
        let uri = if uri == "file" {
            format!("sqlite://{}", dir.path().join("s.db").display())
        } else {
            uri.to_owned()
        };
        let options = OpenOptions {
            table_prefix: Some("st".into()),
            ..Default::default()
        };
        let storage = storage_api::open(&uri, options).await.unwrap();
        assert_eq!(storage.backend_name(), "sqlite");
        storage_api::migrate_up(&*storage).await.unwrap();
        let tenant = TenantIdentifier::default_public();
        storage.add_tenant(&tenant, 1).await.unwrap();
        let sign_up = |id: &str| EmailPasswordSignUp {
            tenant: tenant.clone(),
            user_id: id.to_owned(),
            email: "a@b.c".into(),
            password_hash: Secret::new("hash"),
            time_joined: 1,
        };
        let id1 = "00000000-0000-4000-8000-000000000001";
        let id2 = "00000000-0000-4000-8000-000000000002";
        storage.sign_up_email_password(&sign_up(id1)).await.unwrap();
        assert!(matches!(
            storage.sign_up_email_password(&sign_up(id2)).await,
            Err(StorageError::DuplicateEmail)
        ));
        assert!(matches!(
            storage.sign_up_email_password(&sign_up(id1)).await,
            Err(StorageError::DuplicateUserId)
        ));
        let user = storage
            .get_user(&tenant.app, id1)
            .await
            .unwrap()
            .expect("user");
        assert_eq!(user.id, id1);
        assert!(storage.get_user(&tenant.app, id2).await.unwrap().is_none());
        storage.close().await;
    }
}
