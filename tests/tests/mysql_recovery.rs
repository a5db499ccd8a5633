//! The pool recovers by itself: after every pooled connection is killed with
//! `KILL <id>`, the next operation succeeds or fails with `Unavailable`, and the one
//! after it succeeds. Also through a caller's transaction, for a write, and for
//! concurrent callers; on a multi-threaded and a single-threaded runtime. And a call
//! cancelled in the middle of a statement does not hand its connection on.

use std::sync::Arc;
use std::time::{Duration, Instant};
use storage_api::{KeyValue, OpenOptions, Storage, StorageError, TenantIdentifier, TxOptions};
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

/// The ids of the server connections whose default database is `db`, other than the
/// admin's own.
async fn connection_ids(admin: &RawClient, db: &str) -> Vec<String> {
    admin
        .query(&format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{db}' AND ID <> CONNECTION_ID()"
        ))
        .await
        .expect("list connections")
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

/// A call cancelled while its statement runs on the server (here: an upsert waiting
/// for a row lock that another connection holds) must not hand its connection on:
/// the cancelled statement's answer is still unread on it (sqlx-mysql 0.9 panicked
/// reading such a connection, `unreachable!()` in its row decoder, under the
/// reliability suite's kills and cancellations). The storage closes it; the next
/// call runs on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_call_cancelled_mid_statement_closes_its_connection() {
    in_fresh_database(|db| async move {
        let storage = open_in_database(
            &db,
            None,
            OpenOptions {
                pool_size: Some(1),
                ..Default::default()
            },
        )
        .await;
        let t = TenantIdentifier::default_public();
        storage.add_tenant(&t, 1).await.expect("add tenant");
        let kv = |v: &str, at: i64| KeyValue {
            value: v.to_owned(),
            created_at: at,
        };
        storage
            .kv_set(&t, "k", &kv("v1", 1))
            .await
            .expect("first write");
        let admin = connect_admin().await;
        let before = connection_ids(&admin, &db).await;
        assert_eq!(before.len(), 1, "the storage's one connection: {before:?}");

        let locker = connect_admin().await;
        locker.execute("START TRANSACTION").await.expect("begin");
        locker
            .query(&format!(
                "SELECT value FROM `{db}`.key_value WHERE name = 'k' FOR UPDATE"
            ))
            .await
            .expect("lock the row");
        let v2 = kv("v2", 2);
        let write = storage.kv_set(&t, "k", &v2);
        let cancelled = tokio::time::timeout(Duration::from_millis(300), write).await;
        assert!(
            cancelled.is_err(),
            "the write did not wait for the row lock: {cancelled:?}"
        );
        locker.execute("ROLLBACK").await.expect("release the row");

        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = connection_ids(&admin, &db).await;
            if !now.contains(&before[0]) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the connection of the cancelled call ({}) is still open 5 s later: it was \
                 handed on with the cancelled statement's answer unread (now: {now:?})",
                before[0]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The cancelled upsert ran once the lock was released: its outcome was unknown
        // to the caller, and the next read sees what the server holds.
        let got = storage
            .kv_get(&t, "k")
            .await
            .expect("read after the cancelled call");
        assert_eq!(got.map(|k| k.value), Some("v2".to_owned()));
        let after = connection_ids(&admin, &db).await;
        assert!(
            after.len() == 1 && after[0] != before[0],
            "the next call runs on a new connection: before {before:?}, after {after:?}"
        );
        storage.close().await;
        locker.close().await;
        admin.close().await;
    })
    .await;
}
