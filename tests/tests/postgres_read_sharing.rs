//! Read sharing on PostgreSQL (`storage-postgres/src/share.rs`): short reads outside
//! a transaction share pooled connections, `pipeline_depth` readers at a time.
//!
//! Readers are held on the server by an `ACCESS EXCLUSIVE` lock on `session_info`
//! taken from another connection, so that the test can count, in
//! `pg_stat_activity`, how many server backends they occupy; meanwhile writes and
//! transactions on other tables must still get connections. Then the lock is
//! released and every reader must get its own answer, also when other readers on the
//! same connection were cancelled or the connection was killed.

use std::sync::Arc;
use std::time::Duration;
use storage_api::{OpenOptions, Storage, StorageError, TenantIdentifier, TxOptions};
use storage_postgres::tokio_postgres::Client;
use storage_tests::backends::postgres::{base_uri, connect_admin, in_fresh_schema};
use storage_tests::conformance::fixtures::{kv, session};
use tokio::task::JoinHandle;

const POOL: u32 = 10;
const READERS: usize = 8;

/// A migrated storage in `schema`, its connections named `app`, with one session
/// per reader.
async fn open(
    schema: &str,
    app: &str,
    depth: Option<usize>,
) -> (Arc<dyn Storage>, Vec<storage_api::NewSession>) {
    let mut uri = format!("{}?application_name={app}", base_uri());
    if let Some(d) = depth {
        uri.push_str(&format!("&pipeline_depth={d}"));
    }
    let storage = storage_api::open(
        &uri,
        OpenOptions {
            schema: Some(schema.to_owned()),
            pool_size: Some(POOL),
            ..Default::default()
        },
    )
    .await
    .expect("open postgres");
    storage_api::migrate_up(&*storage).await.expect("migrate");
    let t = TenantIdentifier::default_public();
    storage.add_tenant(&t, 1).await.expect("add tenant");
    let mut sessions = Vec::new();
    for i in 0..READERS {
        let s = session(&t, &format!("user-{i}"));
        storage.create_session(&s).await.expect("create session");
        sessions.push(s);
    }
    (storage, sessions)
}

/// Takes `ACCESS EXCLUSIVE` on the schema's `session_info` in an open transaction on
/// a connection of its own (named `locker`).
async fn lock_sessions(schema: &str) -> Client {
    let locker = connect_admin().await;
    locker
        .batch_execute(&format!(
            "SET application_name = 'locker'; BEGIN; LOCK TABLE {schema}.session_info IN ACCESS EXCLUSIVE MODE"
        ))
        .await
        .expect("lock session_info");
    locker
}

/// Server backends of `app` waiting for a lock.
async fn waiting_backends(admin: &Client, app: &str) -> i64 {
    admin
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
            &[&app],
        )
        .await
        .expect("pg_stat_activity")
        .get(0)
}

/// Waits until `want` backends of `app` wait for the lock and stay so for a while.
async fn settle(admin: &Client, app: &str, want: i64) {
    let mut seen = -1;
    for _ in 0..100 {
        seen = waiting_backends(admin, app).await;
        if seen >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give stragglers time to show up too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    seen = seen.max(waiting_backends(admin, app).await);
    assert_eq!(
        seen, want,
        "{READERS} blocked readers should occupy {want} server backends"
    );
}

type Reader = JoinHandle<Result<Option<storage_api::Session>, StorageError>>;

fn spawn_readers(storage: &Arc<dyn Storage>, sessions: &[storage_api::NewSession]) -> Vec<Reader> {
    sessions
        .iter()
        .map(|s| {
            let storage = storage.clone();
            let (t, h) = (s.tenant.clone(), s.handle.clone());
            tokio::spawn(async move { storage.get_session(&t, &h).await })
        })
        .collect()
}

/// The readers occupy `want` backends; writes and transactions still run; after the
/// lock is released, each reader that was not cancelled gets its own session.
async fn sharing(schema: String, depth: Option<usize>, want: i64) {
    let app = format!("share_{}", &schema[2..14]);
    let admin = connect_admin().await;
    let (storage, sessions) = open(&schema, &app, depth).await;
    let t = TenantIdentifier::default_public();

    let locker = lock_sessions(&schema).await;
    let mut readers = spawn_readers(&storage, &sessions);
    settle(&admin, &app, want).await;

    // Writers and transactions are not starved by the shared connections.
    tokio::time::timeout(Duration::from_secs(5), async {
        storage.kv_set(&t, "k", &kv("v", 1)).await.expect("kv_set");
        let mut tx = storage.begin(&TxOptions::default()).await.expect("begin");
        tx.kv_set(&t, "k2", &kv("w", 2))
            .await
            .expect("kv_set in tx");
        tx.commit().await.expect("commit");
    })
    .await
    .expect("a write waited behind the blocked readers");

    // Cancel every third reader while its statement is queued on a shared
    // connection: the others must still get their own rows.
    let mut cancelled = Vec::new();
    for (i, r) in readers.iter().enumerate() {
        if i % 3 == 1 {
            r.abort();
            cancelled.push(i);
        }
    }
    locker.batch_execute("COMMIT").await.expect("unlock");

    for (i, r) in readers.drain(..).enumerate() {
        let got = r.await;
        if cancelled.contains(&i) {
            assert!(
                got.is_err_and(|e| e.is_cancelled()),
                "reader {i} was cancelled"
            );
            continue;
        }
        let got = got
            .expect("reader task")
            .expect("get_session")
            .expect("found");
        assert_eq!(
            got.handle, sessions[i].handle,
            "reader {i} got another's row"
        );
        assert_eq!(got.user_id, sessions[i].user_id);
    }
    // The connections that carried cancelled statements still answer correctly.
    for round in 0..3 {
        let again = spawn_readers(&storage, &sessions);
        for (i, r) in again.into_iter().enumerate() {
            let got = r.await.unwrap().expect("read after").expect("found");
            assert_eq!(got.handle, sessions[i].handle, "round {round}, reader {i}");
        }
    }
    assert_eq!(
        storage.kv_get(&t, "k2").await.unwrap().map(|k| k.value),
        Some("w".to_owned())
    );
    storage.close().await;
}

/// Killing the backend of a shared connection fails each of its readers with
/// `Unavailable` (never another error, never another reader's row), and the next
/// reads succeed on fresh connections.
async fn killed(schema: String) {
    let app = format!("kill_{}", &schema[2..14]);
    let admin = connect_admin().await;
    let (storage, sessions) = open(&schema, &app, None).await;

    let locker = lock_sessions(&schema).await;
    let readers = spawn_readers(&storage, &sessions);
    settle(&admin, &app, 2).await;
    let killed: i64 = admin
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
            &[&app],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 2);
    for (i, r) in readers.into_iter().enumerate() {
        match r.await.unwrap() {
            Err(StorageError::Unavailable { .. }) => {}
            other => panic!("reader {i} on a killed connection: {other:?}"),
        }
    }
    locker.batch_execute("COMMIT").await.expect("unlock");
    for (i, r) in spawn_readers(&storage, &sessions).into_iter().enumerate() {
        let got = r
            .await
            .unwrap()
            .expect("read after the kill")
            .expect("found");
        assert_eq!(got.handle, sessions[i].handle);
    }
    storage.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_share_connections_by_default() {
    // Default depth 4: eight readers on two connections.
    in_fresh_schema(|s| sharing(s, None, 2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn depth_eight_puts_every_reader_on_one_connection() {
    in_fresh_schema(|s| sharing(s, Some(8), 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn depth_one_gives_every_reader_its_own_connection() {
    in_fresh_schema(|s| sharing(s, Some(1), READERS as i64)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn sharing_on_a_single_threaded_runtime() {
    in_fresh_schema(|s| sharing(s, None, 2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_shared_connection_fails_its_readers_with_unavailable() {
    in_fresh_schema(killed).await;
}

#[tokio::test]
async fn bad_pipeline_depth_is_a_config_error() {
    for bad in ["0", "65", "x"] {
        let uri = format!("{}?pipeline_depth={bad}", base_uri());
        match storage_api::open(&uri, OpenOptions::default()).await {
            Err(StorageError::Config(m)) => assert!(m.contains("pipeline_depth"), "{m}"),
            Err(e) => panic!("pipeline_depth={bad}: {e:?}"),
            Ok(_) => panic!("pipeline_depth={bad} was accepted"),
        }
    }
}
