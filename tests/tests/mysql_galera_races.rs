//! The 64-task races of `reliability::races` on a three-node MariaDB Galera cluster
//! (`.ci/galera.sh`), their tasks spread over the nodes, one storage per node as
//! three cores would have: exactly one winner per round across nodes, exact
//! counters, and no `Retryable` reaching a caller (certification conflicts are
//! retried inside the storage or by the transaction runner).
storage_tests::race_suite!(mysql_galera, storage_tests::backends::mysql::Galera);

use std::sync::Arc;
use std::time::Duration;
use storage_api::{OpenOptions, Storage};
use storage_tests::backends::mysql::{
    CausalRaw, connect_admin_to, create_database, database_uri_at, drop_database_at,
};
use storage_tests::harness::{RawSql, then_clean_up};
use storage_tests::servers::galera_uris;

/// Runs `test` with a fresh database on the cluster and one (unmigrated) storage per
/// node on it; drops the database afterwards.
async fn on_every_node<F, Fut>(test: F)
where
    F: FnOnce(String, Vec<Arc<dyn Storage>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let uris = galera_uris();
    let admin = connect_admin_to(&uris[0]).await;
    let db = create_database(&admin).await;
    admin.close().await;
    let mut nodes = Vec::new();
    for uri in &uris {
        let s = storage_api::open(&database_uri_at(uri, &db), OpenOptions::default())
            .await
            .unwrap_or_else(|e| panic!("open {db} on {uri}: {e}"));
        nodes.push(s);
    }
    then_clean_up(test(db.clone(), nodes), drop_database_at(&uris[0], &db)).await;
}

/// The migration lock excludes across nodes: held through node 1, it cannot be
/// taken through node 2 until node 1 releases it (`GET_LOCK`, node-local under
/// wsrep, would let both in).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn galera_migration_lock_excludes_across_nodes() {
    on_every_node(|_, nodes| async move {
        let mut first = nodes[0].migration_driver().await.expect("driver on node 1");
        let mut second = nodes[1].migration_driver().await.expect("driver on node 2");
        assert!(first.lock(Duration::from_secs(5)).await.unwrap());
        assert!(
            !second.lock(Duration::from_millis(700)).await.unwrap(),
            "node 2 took the migration lock node 1 holds"
        );
        first.unlock().await.unwrap();
        assert!(second.lock(Duration::from_secs(5)).await.unwrap());
        second.unlock().await.unwrap();
        for s in nodes {
            s.close().await;
        }
    })
    .await;
}

/// Three cores start together on a fresh database, one per node, and each migrates
/// it: every call succeeds, and every migration is recorded once, applied, as seen
/// from each node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn galera_concurrent_migrations() {
    on_every_node(|db, nodes| async move {
        let runs = nodes.iter().map(|s| {
            let s = s.clone();
            tokio::spawn(async move { storage_api::migrate_up(&*s).await })
        });
        for r in runs.collect::<Vec<_>>() {
            r.await.expect("task").expect("migrate_up on a node");
        }
        let want = storage_mysql::migrations().len() as i64;
        for uri in galera_uris() {
            let raw = CausalRaw(
                storage_mysql::test_support::RawClient::connect(&database_uri_at(&uri, &db), 1)
                    .await
                    .expect("raw connection"),
            );
            assert_eq!(
                raw.count("SELECT COUNT(*) FROM schema_migrations WHERE state = 'applied'")
                    .await,
                want,
                "history on {uri}"
            );
            assert_eq!(
                raw.count("SELECT COUNT(*) FROM schema_migrations").await,
                want
            );
            raw.0.close().await;
        }
        for s in nodes {
            s.close().await;
        }
    })
    .await;
}

/// A transaction that Galera rolled back without an error (as a brute-force abort
/// sometimes does on MariaDB 10.11) is never committed in part: its statements
/// after the loss open an implicit transaction (autocommit is off inside the
/// storage's Galera transactions), and commit finds the transaction's savepoint
/// gone, rolls back and reports `Retryable`. The silent abort is played here by a
/// `ROLLBACK` sent inside the transaction; with autocommit on and no savepoint, the
/// second update would commit on its own and the commit would succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn galera_silently_aborted_transaction_commits_nothing() {
    use sea_query::Values;
    use storage_api::{ConnectionUri, Isolation};
    use storage_mysql::MySqlDriver;
    use storage_sql::{Conn, Driver};

    let uris = galera_uris();
    let admin = connect_admin_to(&uris[0]).await;
    let db = create_database(&admin).await;
    admin.close().await;
    let test = {
        let (uris, db) = (uris.clone(), db.clone());
        async move {
            let first = database_uri_at(&uris[0], &db);
            let raw = storage_tests::backends::mysql::connect_admin_to(&first).await;
            raw.execute("CREATE TABLE counter (id INT PRIMARY KEY, n INT NOT NULL)")
                .await
                .unwrap();
            raw.execute("INSERT INTO counter VALUES (1, 0)")
                .await
                .unwrap();
            let driver = MySqlDriver::connect(
                ConnectionUri::parse(&first).unwrap(),
                OpenOptions::default(),
            )
            .await
            .expect("driver on node 1");
            assert!(driver.galera(), "node 1 is not detected as a Galera node");
            let bump = |by: i64| format!("UPDATE counter SET n = n + {by} WHERE id = 1");
            let mut conn = driver.acquire().await.unwrap();
            conn.begin(Isolation::Default, true).await.unwrap();
            conn.execute(&bump(1), Values(vec![])).await.unwrap();
            // The server forgets the transaction; the client is not told.
            conn.execute("ROLLBACK", Values(vec![])).await.unwrap();
            conn.execute(&bump(10), Values(vec![])).await.unwrap();
            let err = conn
                .commit()
                .await
                .expect_err("a lost transaction committed");
            assert!(err.is_retryable(), "{err:?}");
            drop(conn);
            // Read back through node 2: nothing of either update is there.
            let second = connect_admin_to(&database_uri_at(&uris[1], &db)).await;
            let read = |c: &storage_mysql::test_support::RawClient| {
                let c = c.clone();
                async move { c.query("SELECT n FROM counter WHERE id = 1").await.unwrap() }
            };
            assert_eq!(read(&second).await, vec![vec![Some("0".to_owned())]]);
            // The frame leaves connections usable: a transaction and an autocommit
            // statement afterwards both commit.
            for _ in 0..4 {
                let mut conn = driver.acquire().await.unwrap();
                conn.begin(Isolation::Default, true).await.unwrap();
                conn.execute(&bump(1), Values(vec![])).await.unwrap();
                conn.commit().await.unwrap();
                conn.execute(&bump(100), Values(vec![])).await.unwrap();
            }
            assert_eq!(read(&second).await, vec![vec![Some("404".to_owned())]]);
            second.close().await;
            raw.close().await;
        }
    };
    then_clean_up(test, drop_database_at(&uris[0], &db)).await;
}
