//! `Storage::pool_health` on PostgreSQL and MariaDB: pool size, connections in use
//! and idle, callers waiting and past waits; a caller that waited longer than
//! `pool_wait_threshold` is reported by a `tracing` event (target
//! `storage_pool`).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use storage_api::{OpenOptions, Storage, TenantIdentifier, TxOptions};
use storage_tests::backends::{mysql, postgres};
use storage_tests::servers::{seed_kv, with_params};
use tracing::subscriber::Interest;

/// Records the fields of every `storage_pool` event.
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> Interest {
        Interest::always()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "storage_pool" {
            let mut f = Fields(String::new());
            event.record(&mut f);
            self.0.lock().unwrap().push(f.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Two transactions hold the pool of two; a third caller waits 150 ms, past the
/// 50 ms threshold.
async fn scenario(uri: String, schema: Option<String>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let _guard = tracing::subscriber::set_default(Capture(events.clone()));
    let uri = with_params(&uri, &[("pool_wait_threshold", "50")]);
    let s: Arc<dyn Storage> = storage_api::open(
        &uri,
        OpenOptions {
            schema,
            pool_size: Some(2),
            ..Default::default()
        },
    )
    .await
    .expect("open");
    storage_api::migrate_up(&*s).await.expect("migrate");
    seed_kv(&*s).await;
    let t = TenantIdentifier::default_public();

    let a = s.begin(&TxOptions::default()).await.unwrap();
    let b = s.begin(&TxOptions::default()).await.unwrap();
    let h = s.pool_health().expect("pool health");
    assert_eq!(
        (h.max_size, h.size, h.in_use, h.idle),
        (2, 2, 2, 0),
        "{h:?}"
    );
    assert_eq!(h.waiting, 0, "{h:?}");

    let waiter = {
        let (s, t) = (s.clone(), t.clone());
        tokio::spawn(async move { s.kv_get(&t, "k").await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let h = s.pool_health().unwrap();
    assert_eq!(h.waiting, 1, "{h:?}");
    a.rollback().await.unwrap();
    waiter.await.unwrap().expect("the waiting read");
    let h = s.pool_health().unwrap();
    assert!(h.waits >= 1 && h.slow_waits >= 1, "{h:?}");
    assert!(h.longest_wait >= Duration::from_millis(100), "{h:?}");
    assert_eq!(h.wait_threshold, Duration::from_millis(50));
    b.rollback().await.unwrap();
    let h = s.pool_health().unwrap();
    assert_eq!((h.in_use, h.waiting), (0, 0), "{h:?}");
    assert_eq!(h.idle, h.size, "{h:?}");

    let events = events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|e| e.contains("waited_ms") && e.contains("threshold_ms=50")),
        "{events:?}"
    );
    s.close().await;
}

#[tokio::test]
async fn postgres_pool_health() {
    postgres::in_fresh_schema(|schema| async move {
        scenario(postgres::base_uri(), Some(schema)).await
    })
    .await;
}

#[tokio::test]
async fn mariadb_pool_health() {
    mysql::in_fresh_database(|db| async move { scenario(mysql::database_uri(&db), None).await })
        .await;
}
