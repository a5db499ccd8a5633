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
