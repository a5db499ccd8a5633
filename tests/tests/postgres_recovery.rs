//! The pool recovers by itself: after every pooled connection is killed with
//! `pg_terminate_backend`, the next operation succeeds or fails with `Unavailable`,
//! and the one after it succeeds. Also through a caller's transaction, and for a
//! write.

use std::sync::Arc;
use storage_api::{OpenOptions, Storage, StorageError, TenantIdentifier, TxOptions};
use storage_tests::backends::postgres::{base_uri, connect_admin, in_fresh_schema};

const POOL: usize = 4;

/// Opens a migrated storage in `schema` whose connections carry `app` as their
/// application name, and fills its pool.
async fn open(schema: &str, app: &str) -> Arc<dyn Storage> {
    let uri = format!("{}?application_name={app}", base_uri());
    let storage = storage_api::open(
        &uri,
        OpenOptions {
            schema: Some(schema.to_owned()),
            pool_size: Some(POOL as u32),
            ..Default::default()
        },
    )
    .await
    .expect("open postgres");
    storage_api::migrate_up(&*storage).await.expect("migrate");
    storage
        .add_tenant(&TenantIdentifier::default_public(), 1)
        .await
        .expect("add tenant");
    // Use every connection of the pool at once, so that all of them exist.
    let mut tasks = Vec::new();
    for _ in 0..POOL * 4 {
        let s = storage.clone();
        tasks.push(tokio::spawn(async move {
            s.list_apps_and_tenants().await.expect("warm-up read")
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    storage
}

/// Kills every backend of the storage; returns how many.
async fn kill_all(admin: &storage_postgres::tokio_postgres::Client, app: &str) -> i64 {
    admin
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .get(0)
}

fn tolerable<T: std::fmt::Debug>(what: &str, r: Result<T, StorageError>) {
    match r {
        Ok(_) | Err(StorageError::Unavailable { .. }) => {}
        Err(e) => panic!("{what}: expected success or Unavailable, got {e:?}"),
    }
}

async fn scenario(schema: String) {
    let app = format!("recovery_{}", &schema[2..18]);
    let admin = connect_admin().await;
    let storage = open(&schema, &app).await;

    // Reads.
    assert!(kill_all(&admin, &app).await >= 1);
    tolerable("first read", storage.list_apps_and_tenants().await);
    let apps = storage
        .list_apps_and_tenants()
        .await
        .expect("second read after the kill");
    assert_eq!(apps.len(), 1);

    // Writes.
    assert!(kill_all(&admin, &app).await >= 1);
    let t2 = TenantIdentifier::new("public", "t2").unwrap();
    let first = storage.add_tenant(&t2, 2).await;
    match &first {
        Ok(()) | Err(StorageError::Unavailable { .. }) => {}
        Err(e) => panic!("first write: {e:?}"),
    }
    if first.is_err() {
        storage.add_tenant(&t2, 2).await.expect("second write");
    }
    assert_eq!(
        storage.list_apps_and_tenants().await.unwrap()[0]
            .tenants
            .len(),
        2
    );

    // A caller's transaction.
    assert!(kill_all(&admin, &app).await >= 1);
    let first = async {
        let tx = storage.begin(&TxOptions::default()).await?;
        tx.commit().await
    }
    .await;
    tolerable("first transaction", first);
    let tx = storage
        .begin(&TxOptions::default())
        .await
        .expect("second transaction");
    tx.commit().await.expect("commit");

    // Concurrent callers after a kill: every one succeeds or is Unavailable, and
    // afterwards everything works.
    assert!(kill_all(&admin, &app).await >= 1);
    let mut tasks = Vec::new();
    for _ in 0..POOL * 2 {
        let s = storage.clone();
        tasks.push(tokio::spawn(async move { s.list_apps_and_tenants().await }));
    }
    for t in tasks {
        tolerable("concurrent read", t.await.unwrap());
    }
    for _ in 0..POOL * 2 {
        storage
            .list_apps_and_tenants()
            .await
            .expect("read after the concurrent round");
    }
    storage.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pool_recovers_after_every_connection_is_killed() {
    in_fresh_schema(scenario).await;
}

#[tokio::test(flavor = "current_thread")]
async fn pool_recovers_on_a_single_threaded_runtime() {
    // On one thread the connections' I/O tasks only notice the kill when the caller
    // yields, so stale connections are handed out: the backend must still recover.
    in_fresh_schema(scenario).await;
}
