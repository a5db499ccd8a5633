//! The per-test database harness shared by every backend.

use async_trait::async_trait;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use storage_api::Storage;

/// Plain SQL on the test's database, through the backend's own driver, so tests can
/// check what was written without going through the API that wrote it.
#[async_trait]
pub trait RawSql: Send + Sync {
    /// Runs a query; every row as text (`None` for NULL; booleans as `0`/`1` or
    /// `t`/`f` depending on the backend: use [`RawSql::count`] or compare text).
    async fn query(&self, sql: &str) -> Vec<Vec<Option<String>>>;
    /// Runs a statement.
    async fn execute(&self, sql: &str);
    /// Runs `SELECT COUNT(*) ...` and returns the number.
    async fn count(&self, sql: &str) -> i64 {
        let rows = self.query(sql).await;
        rows.first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("`{sql}` returned no number"))
    }
}

/// The connection-pool size of every storage the suite factories open, set
/// explicitly so that the environment (`POSTGRESQL_CONNECTION_POOL_SIZE=1`, ...)
/// cannot change it: with one connection the race tests would run their tasks one
/// after another and prove nothing. The races assert it
/// ([`crate::reliability::common::Racer`]).
pub const POOL_SIZE: u32 = 10;

/// Cleanup of a test database, run after the test (also when it panicked).
pub type Cleanup = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One test's database.
pub struct TestDb {
    /// The storage under test, migrated.
    pub storage: Arc<dyn Storage>,
    /// Plain SQL on the same database.
    pub raw: Arc<dyn RawSql>,
    /// The table prefix in use, with its joiner (`st_` or empty).
    pub prefix: String,
    /// On a cluster: storages on the same database through the other nodes (one
    /// per node, as other cores would open them), migrated; empty on one server.
    pub other_nodes: Vec<Arc<dyn Storage>>,
    /// Drops the database.
    pub cleanup: Option<Cleanup>,
}

/// What a test gets.
#[derive(Clone)]
pub struct Ctx {
    /// The storage under test, migrated.
    pub storage: Arc<dyn Storage>,
    /// Plain SQL on the same database.
    pub raw: Arc<dyn RawSql>,
    /// The table prefix with its joiner.
    pub prefix: String,
    /// The backend's name.
    pub backend: &'static str,
    /// One storage per database server node, `storage` first; only `storage` on
    /// one server. Tests that race many tasks spread them with [`Ctx::node`].
    pub nodes: Vec<Arc<dyn Storage>>,
}

impl Ctx {
    /// The storage task `i` of a race uses: the nodes in turn (on one server,
    /// always `storage`).
    pub fn node(&self, i: usize) -> Arc<dyn Storage> {
        self.nodes
            .get(i % self.nodes.len().max(1))
            .unwrap_or(&self.storage)
            .clone()
    }

    /// A table name with the prefix.
    pub fn table(&self, base: &str) -> String {
        format!("{}{}", self.prefix, base)
    }
}

/// A backend the suite can run on.
#[async_trait]
pub trait TestBackend: Send + Sync + 'static {
    /// Name used in test names and messages.
    const NAME: &'static str;
    /// Creates a fresh, isolated, migrated database (with `prefix` as table prefix
    /// when given). Panics with a clear message if the server is unreachable: in CI
    /// a missing backend is a failure, never a skip.
    async fn create(prefix: Option<&str>) -> TestDb;
}

/// Runs one test on a fresh database of `B` and drops the database afterwards.
/// Runs `test` on a task of its own, then `cleanup` whatever became of it; a panic in
/// the test is raised again after the cleanup, so a failing test still leaves no
/// database behind.
pub async fn then_clean_up<T, C>(test: T, cleanup: C)
where
    T: Future<Output = ()> + Send + 'static,
    C: Future<Output = ()>,
{
    let outcome = tokio::spawn(test).await;
    cleanup.await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

pub async fn run<B, F>(prefix: Option<&str>, test: F)
where
    B: TestBackend,
    F: FnOnce(Ctx) -> Pin<Box<dyn Future<Output = ()> + Send>>,
{
    let db = B::create(prefix).await;
    let ctx = Ctx {
        storage: db.storage.clone(),
        raw: db.raw.clone(),
        prefix: db.prefix.clone(),
        backend: B::NAME,
        nodes: std::iter::once(db.storage.clone())
            .chain(db.other_nodes.iter().cloned())
            .collect(),
    };
    then_clean_up(test(ctx), async move {
        db.storage.close().await;
        drop(db.storage);
        for s in db.other_nodes {
            s.close().await;
        }
        if let Some(c) = db.cleanup {
            c.await;
        }
    })
    .await;
}

/// A unique lower-case name for a test database or schema.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Applies the migrations of `storage` up to and including `version` (`migrate up
/// --to version`), nothing after it.
pub async fn migrate_to(storage: &dyn storage_api::Storage, version: u32) {
    let mut driver = storage.migration_driver().await.expect("migration driver");
    let options = storage_api::migrate::UpOptions {
        to: Some(version),
        ..Default::default()
    };
    storage_api::migrate::up(&mut *driver, &options, &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("up --to {version}: {e}"));
}
