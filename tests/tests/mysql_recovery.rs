//! The pool recovers by itself: after every pooled connection is killed with
//! `KILL <id>`, the next operation succeeds or fails with `Unavailable`, and the one
//! after it succeeds. Also through a caller's transaction, for a write, and for
//! concurrent callers; on a multi-threaded and a single-threaded runtime.

use std::sync::Arc;
use storage_api::{OpenOptions, Storage, StorageError, TenantIdentifier, TxOptions};
use storage_mysql::test_support::RawClient;
use storage_tests::backends::mysql::{connect_admin, in_fresh_database, open_in_database};

const POOL: usize = 4;

/// Opens a migrated storage on `db` and fills its pool.
async fn open(db: &str) -> Arc<dyn Storage> {
    let storage = open_in_database(
        db,
        None,
        OpenOptions {
            pool_size: Some(POOL as u32),
            ..Default::default()
        },
    )
    .await;
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

/// Kills every connection whose default database is `db`; returns how many.
async fn kill_all(admin: &RawClient, db: &str) -> usize {
    let ids = admin
        .query(&format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{db}' AND ID <> CONNECTION_ID()"
        ))
        .await
        .expect("list connections");
    let mut killed = 0;
    for id in ids
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        // A connection may be gone already; only count those killed here.
        if admin.execute(&format!("KILL {id}")).await.is_ok() {
            killed += 1;
        }
    }
    killed
}

fn tolerable<T: std::fmt::Debug>(what: &str, r: Result<T, StorageError>) {
    match r {
        Ok(_) | Err(StorageError::Unavailable { .. }) => {}
        Err(e) => panic!("{what}: expected success or Unavailable, got {e:?}"),
    }
}

async fn scenario(db: String) {
    let admin = connect_admin().await;
    let storage = open(&db).await;

    // Reads.
    assert!(kill_all(&admin, &db).await >= 1);
    tolerable("first read", storage.list_apps_and_tenants().await);
    let apps = storage
        .list_apps_and_tenants()
        .await
        .expect("second read after the kill");
    assert_eq!(apps.len(), 1);

    // Writes.
    assert!(kill_all(&admin, &db).await >= 1);
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
    assert!(kill_all(&admin, &db).await >= 1);
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
    let mut warm = Vec::new();
    for _ in 0..POOL * 2 {
        let s = storage.clone();
        warm.push(tokio::spawn(async move { s.list_apps_and_tenants().await }));
    }
    for t in warm {
        t.await
            .unwrap()
            .expect("warm-up before the concurrent round");
    }
    assert!(kill_all(&admin, &db).await >= 1);
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
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_pool_recovers_after_every_connection_is_killed() {
    in_fresh_database(scenario).await;
}

#[tokio::test(flavor = "current_thread")]
async fn mysql_pool_recovers_on_a_single_threaded_runtime() {
    in_fresh_database(scenario).await;
}
