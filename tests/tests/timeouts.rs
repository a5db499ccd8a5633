//! Statement timeout, lock-wait timeout and maximum connection lifetime (URI
//! parameters) on PostgreSQL and MariaDB: when a timeout fires the caller gets
//! `Retryable`, promptly, never a hang; a connection older than its lifetime is
//! replaced.

use std::sync::Arc;
use std::time::{Duration, Instant};
use storage_api::{KeyValue, OpenOptions, Storage, StorageError, TenantIdentifier};
use storage_tests::backends::{mysql, postgres};
use storage_tests::servers::{seed_kv, until_replaced, with_params};

async fn open(uri: &str, schema: Option<&str>) -> Arc<dyn Storage> {
    let storage = storage_api::open(
        uri,
        OpenOptions {
            schema: schema.map(str::to_owned),
            pool_size: Some(1),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("open: {e}"));
    storage_api::migrate_up(&*storage).await.expect("migrate");
    storage
}

/// A write on the row another session holds locked fails `Retryable`, after
/// about `expected` and well before `limit`.
async fn blocked_write_is_retryable(s: &dyn Storage, expected: Duration, limit: Duration) {
    let t = TenantIdentifier::default_public();
    let v = KeyValue {
        value: "w".into(),
        created_at: 2,
    };
    let start = Instant::now();
    let r = tokio::time::timeout(limit, s.kv_set(&t, "k", &v))
        .await
        .expect("the blocked write hung");
    let took = start.elapsed();
    match r {
        Err(StorageError::Retryable { .. }) => {}
        other => panic!("expected Retryable, got {other:?}"),
    }
    assert!(took >= expected.mul_f32(0.8), "fired after {took:?}");
}

// ---------------------------------------------------------------- PostgreSQL

async fn pg_locked(schema: &str) -> storage_postgres::tokio_postgres::Client {
    let admin = postgres::connect_admin().await;
    admin
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE {schema}.key_value IN ACCESS EXCLUSIVE MODE"
        ))
        .await
        .unwrap();
    admin
}

#[tokio::test]
async fn postgres_lock_timeout() {
    postgres::in_fresh_schema(|schema| async move {
        let uri = with_params(&postgres::base_uri(), &[("lock_timeout", "300")]);
        let s = open(&uri, Some(&schema)).await;
        seed_kv(&*s).await;
        let admin = pg_locked(&schema).await;
        blocked_write_is_retryable(&*s, Duration::from_millis(300), Duration::from_secs(10)).await;
        admin.batch_execute("ROLLBACK").await.unwrap();
        s.close().await;
    })
    .await;
}

#[tokio::test]
async fn postgres_statement_timeout() {
    postgres::in_fresh_schema(|schema| async move {
        let uri = with_params(&postgres::base_uri(), &[("statement_timeout", "400")]);
        let s = open(&uri, Some(&schema)).await;
        seed_kv(&*s).await;
        let admin = pg_locked(&schema).await;
        blocked_write_is_retryable(&*s, Duration::from_millis(400), Duration::from_secs(10)).await;
        admin.batch_execute("ROLLBACK").await.unwrap();
        // The connection is still good afterwards.
        s.kv_get(&TenantIdentifier::default_public(), "k")
            .await
            .unwrap();
        s.close().await;
    })
    .await;
}

/// The backend pids of connections with application name `app`.
async fn pg_pids(app: &str) -> Vec<i32> {
    postgres::connect_admin()
        .await
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
            &[&app],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn postgres_max_lifetime() {
    postgres::in_fresh_schema(|schema| async move {
        let app = storage_tests::harness::unique_name("life");
        let uri = with_params(
            &postgres::base_uri(),
            &[("max_lifetime", "1"), ("application_name", &app)],
        );
        let s = open(&uri, Some(&schema)).await;
        seed_kv(&*s).await;
        let before = pg_pids(&app).await;
        assert_eq!(before.len(), 1, "{before:?}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        s.kv_get(&TenantIdentifier::default_public(), "k")
            .await
            .unwrap();
        until_replaced(&before, Duration::from_secs(5), || pg_pids(&app)).await;
        s.close().await;
    })
    .await;
}

// ---------------------------------------------------------------- MariaDB

/// A plain connection to database `db` holding the `k` row locked.
async fn my_locked(db: &str) -> sqlx::MySqlConnection {
    use sqlx::{Connection, Executor};
    let mut c = sqlx::MySqlConnection::connect(&mysql::database_uri(db))
        .await
        .unwrap();
    c.execute("BEGIN").await.unwrap();
    c.execute("SELECT * FROM key_value FOR UPDATE")
        .await
        .unwrap();
    c
}

async fn my_release(mut c: sqlx::MySqlConnection) {
    use sqlx::{Connection, Executor};
    c.execute("ROLLBACK").await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn mariadb_lock_wait_timeout() {
    mysql::in_fresh_database(|db| async move {
        let uri = with_params(&mysql::database_uri(&db), &[("lock_wait_timeout", "1000")]);
        let s = open(&uri, None).await;
        seed_kv(&*s).await;
        let lock = my_locked(&db).await;
        blocked_write_is_retryable(&*s, Duration::from_secs(1), Duration::from_secs(15)).await;
        my_release(lock).await;
        s.close().await;
    })
    .await;
}

#[tokio::test]
async fn mariadb_statement_timeout() {
    mysql::in_fresh_database(|db| async move {
        let uri = with_params(&mysql::database_uri(&db), &[("statement_timeout", "500")]);
        let s = open(&uri, None).await;
        seed_kv(&*s).await;
        let lock = my_locked(&db).await;
        blocked_write_is_retryable(&*s, Duration::from_millis(500), Duration::from_secs(15)).await;
        my_release(lock).await;
        s.kv_get(&TenantIdentifier::default_public(), "k")
            .await
            .unwrap();
        s.close().await;
    })
    .await;
}

/// The connection ids of the sessions on database `db`.
async fn my_ids(db: &str) -> Vec<i64> {
    use sqlx::{Connection, Row};
    let mut c = sqlx::MySqlConnection::connect(&mysql::base_uri())
        .await
        .unwrap();
    let rows =
        sqlx::query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? ORDER BY ID")
            .bind(db)
            .fetch_all(&mut c)
            .await
            .unwrap();
    let ids = rows.iter().map(|r| r.get::<i64, _>(0)).collect();
    c.close().await.unwrap();
    ids
}

#[tokio::test]
async fn mariadb_max_lifetime() {
    mysql::in_fresh_database(|db| async move {
        let uri = with_params(&mysql::database_uri(&db), &[("max_lifetime", "1")]);
        let s = open(&uri, None).await;
        seed_kv(&*s).await;
        let before = my_ids(&db).await;
        assert!(!before.is_empty());
        tokio::time::sleep(Duration::from_millis(1500)).await;
        s.kv_get(&TenantIdentifier::default_public(), "k")
            .await
            .unwrap();
        until_replaced(&before, Duration::from_secs(5), || my_ids(&db)).await;
        s.close().await;
    })
    .await;
}
