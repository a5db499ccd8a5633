//! PostgreSQL with a streaming read replica (`storage-postgres/src/replica.rs`), on
//! the primary (5440) and replica (5441) that `.ci/pg-replica.sh` starts:
//!
//! - routing: with replay paused on the replica, a storage that wrote nothing reads
//!   users from the replica (and so does not see a user created meanwhile), while
//!   sessions are still read from the primary; after replay resumes it sees the user;
//! - read-your-writes under load: 32 tasks each write and at once read back, with
//!   replay paused and running; every task sees every one of its writes, and with
//!   replay running some of those reads were answered by the replica;
//! - the replica down: reads are answered by the primary, also by a storage opened
//!   while the replica is down.
//!
//! Each test creates its own database on the primary (replicated by `CREATE
//! DATABASE`) and drops it. The tests pause replay or stop the replica, so they take
//! one lock and run one at a time.

use std::sync::Arc;
use std::time::Duration;
use storage_api::{
    ListUsers, OpenOptions, Secret, Storage, TenantIdentifier, TimeJoinedOrder, UserScope,
    UserSearch,
};
use storage_postgres::tokio_postgres::Client;
use storage_tests::backends::postgres::connect_admin_to;
use storage_tests::capture::Capture;
use storage_tests::conformance::fixtures::{email, ep_input, session};
use storage_tests::harness::{then_clean_up, unique_name};
use storage_tests::servers::{pg_replica_uris, run_script, with_database};
use tracing::instrument::WithSubscriber;

/// One test at a time: they pause replay on, or stop, the shared replica.
static REPLICA: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a test waits for the replica to replay what the primary wrote, before
/// failing (a bound, not a measurement).
const CATCH_UP: Duration = Duration::from_secs(60);

/// A database of its own on the primary and (by replication) on the replica.
struct Pair {
    primary: String,
    replica: String,
    db: String,
}

impl Pair {
    /// Creates the database on the primary and waits until the replica has it.
    async fn create() -> Pair {
        let (primary, replica) = pg_replica_uris();
        let db = unique_name("replica");
        let admin = connect_admin_to(&with_database(&primary, "postgres")).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .expect("create database");
        let pair = Pair {
            primary: with_database(&primary, &db),
            replica: with_database(&replica, &db),
            db,
        };
        pair.caught_up().await;
        pair
    }

    /// A storage on the primary, reading from the replica when `with_replica`.
    async fn open(&self, with_replica: bool) -> Arc<dyn Storage> {
        storage_api::open(
            &self.primary,
            OpenOptions {
                pool_size: Some(8),
                read_replica_uri: with_replica.then(|| Secret::new(self.replica.clone())),
                ..Default::default()
            },
        )
        .await
        .expect("open postgres with a replica")
    }

    /// A plain connection to the replica (database `postgres`).
    async fn replica_admin(&self) -> Client {
        connect_admin_to(&with_database(&self.replica, "postgres")).await
    }

    /// Waits until the replica has replayed everything the primary wrote so far.
    async fn caught_up(&self) {
        let primary = connect_admin_to(&with_database(&self.primary, "postgres")).await;
        let target: String = primary
            .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
            .await
            .expect("primary position")
            .get(0);
        let replica = self.replica_admin().await;
        let start = std::time::Instant::now();
        loop {
            let done: bool = replica
                .query_one(
                    "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                    &[&target],
                )
                .await
                .expect("replica position")
                .get(0);
            if done {
                return;
            }
            assert!(
                start.elapsed() < CATCH_UP,
                "the replica did not replay up to {target} within {CATCH_UP:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Pauses (or resumes) replay on the replica.
    async fn replay(&self, run: bool) {
        let f = if run {
            "pg_wal_replay_resume"
        } else {
            "pg_wal_replay_pause"
        };
        self.replica_admin()
            .await
            .batch_execute(&format!("SELECT {f}()"))
            .await
            .expect("pause or resume replay");
    }

    /// Resumes replay, starts the replica if it was stopped, drops the database.
    async fn clean_up(primary: String, db: String) {
        run_script("pg-replica.sh", &[]);
        let (_, replica) = pg_replica_uris();
        let _ = connect_admin_to(&with_database(&replica, "postgres"))
            .await
            .batch_execute("SELECT pg_wal_replay_resume()")
            .await;
        let admin = connect_admin_to(&with_database(&primary, "postgres")).await;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .await
            .expect("drop database");
    }
}

/// Runs `test` on a fresh pair, holding the replica lock, then cleans up.
async fn on_pair<F, Fut>(test: F)
where
    F: FnOnce(Arc<Pair>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let _one_at_a_time = REPLICA.lock().await;
    let pair = Arc::new(Pair::create().await);
    let (primary, db) = (pair.primary.clone(), pair.db.clone());
    then_clean_up(test(pair), Pair::clean_up(primary, db)).await;
}

/// A migrated storage with the public tenant.
async fn migrated(pair: &Pair) -> Arc<dyn Storage> {
    let s = pair.open(true).await;
    storage_api::migrate_up(&*s).await.expect("migrate");
    s.add_tenant(&TenantIdentifier::default_public(), 1)
        .await
        .expect("add tenant");
    s
}

/// A page of the public tenant's users.
fn first_page() -> ListUsers {
    ListUsers {
        tenant: TenantIdentifier::default_public(),
        limit: 100,
        order: TimeJoinedOrder::Asc,
        recipes: Vec::new(),
        after: None,
        search: UserSearch::default(),
    }
}

#[tokio::test]
async fn stale_reads_go_to_the_replica_and_the_rest_to_the_primary() {
    on_pair(|pair| async move {
        let t = TenantIdentifier::default_public();
        let writer = migrated(&pair).await;
        let before = writer
            .sign_up_email_password(&ep_input(&t, &email(), 1))
            .await
            .expect("sign up");
        pair.caught_up().await;
        // Opened after the writer's writes (its start position covers them).
        let reader = pair.open(true).await;
        pair.caught_up().await;
        assert!(reader.get_user(&t.app, &before.id).await.unwrap().is_some());

        pair.replay(false).await;
        let user = writer
            .sign_up_email_password(&ep_input(&t, &email(), 2))
            .await
            .expect("sign up while replay is paused");
        let s = session(&t, &user.id);
        writer.create_session(&s).await.expect("create session");
        let page = || async { reader.list_users(&first_page()).await.unwrap().users.len() };
        let count = || async {
            reader
                .count_users(&UserScope::Tenant(t.clone()), &[])
                .await
                .unwrap()
        };

        // The writer reads its own writes (from the primary).
        assert!(writer.get_user(&t.app, &user.id).await.unwrap().is_some());
        assert_eq!(
            writer.list_users(&first_page()).await.unwrap().users.len(),
            2
        );
        // The reader wrote nothing: its user reads go to the paused replica...
        assert!(
            reader.get_user(&t.app, &user.id).await.unwrap().is_none(),
            "a user created while replay is paused was read: the read did not go to the replica"
        );
        assert_eq!(page().await, 1);
        assert_eq!(count().await, 1);
        assert!(reader.get_user(&t.app, &before.id).await.unwrap().is_some());
        // ... its session reads to the primary.
        assert!(
            reader.get_session(&t, &s.handle).await.unwrap().is_some(),
            "a session read went to the replica"
        );

        pair.replay(true).await;
        pair.caught_up().await;
        assert!(reader.get_user(&t.app, &user.id).await.unwrap().is_some());
        assert_eq!(page().await, 2);
        assert_eq!(count().await, 2);
        writer.close().await;
        reader.close().await;
    })
    .await;
}

/// Tasks writing and reading back at once.
const TASKS: usize = 32;
/// Writes (each read back) per task.
const ROUNDS: usize = 8;

/// Reads answered by the replica among the spans `cap` recorded (from the `replica`
/// events).
fn replica_reads(cap: &Capture) -> usize {
    cap.spans()
        .iter()
        .filter(|sp| {
            sp.events.iter().any(|e| {
                e.fields.get("message").map(String::as_str) == Some("replica")
                    && e.fields.get("on_replica").map(String::as_str) == Some("true")
            })
        })
        .count()
}

/// Every task signs up users, sets their metadata and reads both back at once;
/// returns the users of each task and how many reads the replica answered.
async fn write_then_read(storage: &Arc<dyn Storage>) -> (Vec<Vec<String>>, usize) {
    let cap = Capture::default();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let s = storage.clone();
        tasks.push(tokio::spawn(
            async move {
                let t = TenantIdentifier::default_public();
                let mut mine = Vec::new();
                for round in 0..ROUNDS {
                    let u = s
                        .sign_up_email_password(&ep_input(&t, &email(), round as i64))
                        .await
                        .expect("sign up");
                    let read = s.get_user(&t.app, &u.id).await.expect("get user");
                    assert_eq!(read.map(|r| r.id), Some(u.id.clone()), "own user not read");
                    let meta = serde_json::json!({ "round": round });
                    s.set_user_metadata(&t.app, &u.id, &meta)
                        .await
                        .expect("set metadata");
                    let read = s.get_user_metadata(&t.app, &u.id).await.expect("get");
                    assert_eq!(read, Some(meta), "own metadata not read");
                    mine.push(u.id);
                }
                mine
            }
            .with_subscriber(cap.clone()),
        ));
    }
    let mut users = Vec::new();
    for t in tasks {
        users.push(t.await.expect("task"));
    }
    (users, replica_reads(&cap))
}

#[tokio::test]
async fn every_task_reads_its_own_writes_with_replay_paused_or_running() {
    on_pair(|pair| async move {
        let storage = migrated(&pair).await;
        pair.caught_up().await;
        let reads = TASKS * ROUNDS * 2;

        pair.replay(false).await;
        let (_, paused) = write_then_read(&storage).await;
        assert_eq!(
            paused, 0,
            "a read went to a replica that had not replayed it"
        );
        pair.replay(true).await;
        pair.caught_up().await;

        let (users, running) = write_then_read(&storage).await;
        eprintln!("replay running: {running} of {reads} reads answered by the replica");

        // Once the replica has replayed every write, the same reads all go there
        // (and still find every user).
        pair.caught_up().await;
        let cap = Capture::default();
        let t = TenantIdentifier::default_public();
        for id in users.iter().flatten() {
            let u = storage
                .get_user(&t.app, id)
                .with_subscriber(cap.clone())
                .await
                .expect("get user");
            assert!(u.is_some(), "user {id} not read once replayed");
        }
        assert_eq!(
            replica_reads(&cap),
            TASKS * ROUNDS,
            "reads not on the replica"
        );
        storage.close().await;
    })
    .await;
}

#[tokio::test]
async fn reads_are_answered_by_the_primary_when_the_replica_is_down() {
    on_pair(|pair| async move {
        let t = TenantIdentifier::default_public();
        let writer = migrated(&pair).await;
        let user = writer
            .sign_up_email_password(&ep_input(&t, &email(), 1))
            .await
            .expect("sign up");
        pair.caught_up().await;
        let reader = pair.open(true).await;
        pair.caught_up().await;
        // Pooled replica connections, then the replica goes away under them.
        assert!(reader.get_user(&t.app, &user.id).await.unwrap().is_some());
        assert_eq!(
            reader.list_users(&first_page()).await.unwrap().users.len(),
            1
        );
        run_script("pg-replica.sh", &["stop-replica"]);
        for storage in [&reader, &writer] {
            for _ in 0..3 {
                assert!(storage.get_user(&t.app, &user.id).await.unwrap().is_some());
                assert_eq!(
                    storage.list_users(&first_page()).await.unwrap().users.len(),
                    1
                );
            }
        }
        // Opened while the replica is down.
        let late = pair.open(true).await;
        assert!(late.get_user(&t.app, &user.id).await.unwrap().is_some());
        assert_eq!(
            late.count_users(&UserScope::App(t.app.clone()), &[])
                .await
                .unwrap(),
            1
        );
        for s in [writer, reader, late] {
            s.close().await;
        }
    })
    .await;
}

/// Sets (or, with `None`, removes) an environment variable.
fn set_env(name: &str, value: Option<&str>) {
    // SAFETY: every test of this binary runs under the `REPLICA` lock, and none
    // reads the environment outside it; this one restores the variables before
    // releasing it.
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

#[tokio::test]
async fn the_replica_is_configured_like_supertokens_and_refused_elsewhere() {
    use storage_mysql as _;
    use storage_sqlite as _;
    on_pair(|pair| async move {
        let t = TenantIdentifier::default_public();
        let writer = migrated(&pair).await;
        pair.caught_up().await;
        set_env("POSTGRESQL_CONNECTION_URI", Some(&pair.primary));
        set_env(
            "POSTGRESQL_READ_REPLICA_CONNECTION_URI",
            Some(&pair.replica),
        );
        let from_env = storage_api::open_from_env(OpenOptions::default()).await;
        // MySQL and SQLite have no replica support: the setting is an error, not
        // silently ignored.
        let sqlite = storage_api::open(
            "sqlite::memory:",
            OpenOptions {
                read_replica_uri: Some(Secret::new(pair.replica.clone())),
                ..Default::default()
            },
        )
        .await;
        let mysql = storage_api::open(
            "mysql://root@127.0.0.1:3306/test",
            OpenOptions {
                read_replica_uri: Some(Secret::new(pair.replica.clone())),
                ..Default::default()
            },
        )
        .await;
        set_env("POSTGRESQL_CONNECTION_URI", None);
        set_env("POSTGRESQL_READ_REPLICA_CONNECTION_URI", None);
        for refused in [sqlite, mysql] {
            match refused {
                Err(storage_api::StorageError::Config(m)) => {
                    assert!(m.contains("PostgreSQL only"), "{m}")
                }
                Err(e) => panic!("not a Config error: {e:?}"),
                Ok(_) => panic!("a read replica was accepted by a backend without support"),
            }
        }
        let reader = from_env.expect("open_from_env with a read replica");
        // The replica has what the primary had when the reader opened.
        pair.caught_up().await;
        pair.replay(false).await;
        let user = writer
            .sign_up_email_password(&ep_input(&t, &email(), 1))
            .await
            .expect("sign up");
        assert!(
            reader.get_user(&t.app, &user.id).await.unwrap().is_none(),
            "POSTGRESQL_READ_REPLICA_CONNECTION_URI was not used"
        );
        pair.replay(true).await;
        writer.close().await;
        reader.close().await;
    })
    .await;
}
