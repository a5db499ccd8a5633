//! # storage-postgres: the PostgreSQL backend
//!
//! Serves `postgres://` and `postgresql://` URIs. The operations of the contract are
//! written once in `storage-sql`; this crate supplies what differs on PostgreSQL: the
//! driver and its pool, error mapping by SQLSTATE and constraint name, transactions
//! and advisory locks, and the embedded migrations with their runner driver.
//!
//! ## Using it
//!
//! Link the crate once so that its URI schemes are registered, then open by URI:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use storage_postgres as _; // makes postgres:// and postgresql:// available
//!
//! let storage = storage_api::open(
//!     "postgres://auth:secret@127.0.0.1:5432/auth?currentSchema=auth",
//!     storage_api::OpenOptions { table_prefix: Some("st".into()), ..Default::default() },
//! )
//! .await?;
//! storage_api::migrate_up(&*storage).await?;
//! # Ok(()) }
//! ```
//!
//! `storage_api::open_from_env` opens `POSTGRESQL_CONNECTION_URI` when it is set;
//! without any connection URI, SuperTokens' discrete settings `POSTGRESQL_HOST`,
//! `POSTGRESQL_PORT`, `POSTGRESQL_USER`, `POSTGRESQL_PASSWORD` (or
//! `POSTGRESQL_PASSWORD_FILE`) and `POSTGRESQL_DATABASE_NAME` make one (see
//! `storage_api::resolve_uri`).
//! Unset options come from `POSTGRESQL_TABLE_NAMES_PREFIX`, `POSTGRESQL_TABLE_SCHEMA`,
//! `POSTGRESQL_CONNECTION_POOL_SIZE`, `POSTGRESQL_MINIMUM_IDLE_CONNECTIONS`,
//! `POSTGRESQL_IDLE_CONNECTION_TIMEOUT` and `POSTGRESQL_CONNECTION_TIMEOUT` (ms).
//!
//! ## The URI
//!
//! `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMS]`. Without a host, the
//! Unix sockets in `/var/run/postgresql` and `/tmp` are tried, then `localhost`;
//! `?host=/path/to/dir` picks a socket directory. Parameters:
//!
//! - Several servers, libpq's way: `postgres://u@h1:5432,h2:5433/db` (IPv6 entries
//!   in brackets, an entry without a port takes 5432), or `?host=h1,h2&port=5432,5433`
//!   (one port for all hosts, or one per host). Each connection tries them in order.
//! - `target_session_attrs`: `any` (default: the first server that accepts the
//!   connection), `read-write` (the first that accepts writes, i.e. the primary; with
//!   a list of servers this follows a failover), `read-only`.
//!
//! - `currentSchema=NAME`: the schema of the tables (like the `schema` option; giving
//!   both with different values is an error). It is created if missing, and every
//!   connection runs `SET search_path TO "NAME"`. Names are ASCII letters, digits and
//!   `_`, folded to lower case as PostgreSQL folds an unquoted name.
//! - `sslmode` (libpq's meaning, TLS by rustls, no system OpenSSL): `disable`
//!   never uses TLS; `allow` and `prefer` use it when the server offers it, without
//!   verifying; `require` always uses it and verifies the chain only when
//!   `sslrootcert` is given; `verify-ca` verifies the chain, not the host name;
//!   `verify-full` verifies both. `sslrootcert=FILE` (PEM CA certificates) is the
//!   trust anchor; without it (or with `sslrootcert=system`) `verify-ca` and
//!   `verify-full` trust the Mozilla roots bundled at build time (`webpki-roots`),
//!   which is what managed services with public certificates need. `sslcert=FILE`
//!   and `sslkey=FILE` (PEM) present a client certificate. A failed handshake is a
//!   `Config` error naming the problem (unknown CA, wrong host name, server without
//!   TLS); files are read when opening, and errors name them, never their
//!   contents. SCRAM channel binding is not offered.
//! - `application_name`, `connect_timeout` (seconds; the option wins), `options`
//!   (passed to the server, e.g. `-c statement_timeout=5000`), and `host`, `port`,
//!   `user`, `password`, `dbname` overriding the URI's parts.
//! - `pipeline_depth=N` (1 to 64, default 4): how many short reads outside a
//!   transaction may share one pooled connection at once, their statements pipelined
//!   (see Behaviour); 1 gives every read a connection of its own.
//!
//! - `pooler=transaction`: behind a transaction-mode pooler such as PgBouncer (1.18
//!   included, which keeps no prepared statements). Statements run unnamed in one
//!   round trip, with parameter types learnt once per statement inside a
//!   transaction; no session state is set (a schema, `statement_timeout` and
//!   `lock_timeout` are refused: set them for the role); reads are not pipelined;
//!   migrations hold a transaction-level advisory lock for one transaction in which
//!   each migration runs in a savepoint.
//! - `statement_timeout`, `lock_timeout` (alias `lock_wait_timeout`), in
//!   milliseconds: set on every pooled connection (not on the migration
//!   connection). A statement ended by either is `Retryable` (57014, 55P03).
//! - `max_lifetime` (seconds): pooled connections older than this are replaced at
//!   their next checkout or by the background upkeep.
//! - `pool_wait_threshold` (milliseconds, default 100): a caller that waited longer
//!   for a connection is reported by a WARN event on target `storage_pool`; see
//!   `Storage::pool_health`.
//!
//! Any other parameter is a `Config` error.
//!
//! The server must be PostgreSQL 12 or newer (checked when opening).
//!
//! ## Read replica
//!
//! `OpenOptions::read_replica_uri` (or `POSTGRESQL_READ_REPLICA_CONNECTION_URI`) names
//! a streaming replica of the database, with the same URI syntax and parameters; its
//! connections get the same schema, prefix, pool size and timeouts. What goes where:
//!
//! - to the replica, when it has replayed this storage's own writes: the reads
//!   `storage-sql` marks as possibly stale (`Stale`): `get_user`, `list_users` (pages
//!   and searches), `count_users`, user metadata, roles and permissions (all six
//!   look-ups), user-id mappings, last-active and the active-user counts,
//!   `count_users_with_more_than_one_login_method`;
//! - to the primary, always: every write and transaction (locking reads included),
//!   and the reads whose staleness would be a security or correctness problem:
//!   sessions, refresh tokens and signing keys, one-time codes and tokens,
//!   email verification, TOTP, the dashboard, tenants and their configuration,
//!   key/value, `user_exists`, the look-ups by email, phone and third-party id (they
//!   carry the password hash sign-in checks, and sign-up's "already taken") and the
//!   account-linking reads a write decides on.
//!
//! Read-your-writes: after each committed write (a transaction that ran a statement
//! other than `SELECT`, or such a statement in autocommit) the connection that wrote
//! reads `pg_current_wal_insert_lsn()`; the storage keeps the highest position
//! (also read when it opens and when migrations end). A possibly stale read goes to
//! the replica only if its replay position (`pg_last_wal_replay_lsn()`, cached;
//! asked again, once, on the read's connection when the cache is behind) has
//! reached that position; otherwise it runs on the primary. The guarantee is per
//! storage instance: a caller reads what this instance committed before the read
//! started; writes of other cores appear after the replica's lag. Cost: one extra
//! round trip to the primary per committed write, and one to the replica per read
//! when the cached position is behind (none without a replica).
//!
//! The replica is never needed: a read that cannot get a replica connection, or
//! fails on one as `Unavailable` or `Retryable` (replica down, a query cancelled by
//! recovery), runs on the primary, and the replica is left alone for 2 s. A server
//! that is not in recovery is never read from. The DEBUG event `replica` of a read's
//! span says where it went (`on_replica`).
//!
//! ## Behaviour
//!
//! - Driver: `tokio-postgres` over a `deadpool-postgres` pool. Statements are
//!   prepared once per connection and cached. A connection is not health-checked on
//!   checkout: only one whose socket is already closed is discarded. Idle connections
//!   unused for longer than the idle timeout are closed (down to the minimum idle
//!   count), and the pool is topped up to the minimum idle count in the background.
//! - Short reads outside a transaction (get session, get user, the look-ups by email,
//!   phone or third-party id, devices, codes and tokens) share pooled connections: a
//!   reader joins a connection already serving fewer than `pipeline_depth` readers,
//!   and their statements are pipelined on it (tokio-postgres queues them and writes
//!   them together; each keeps its own `Sync`, so one reader's error never touches
//!   another's). Under concurrency this costs the client and the server fewer
//!   system calls and wake-ups per statement. At most half the pool is shared, and
//!   while anyone waits for the pool shared connections take no new readers, so
//!   transactions and writes are never starved. Listing and counting (unbounded
//!   scans) and every write keep a connection of their own: a commit waits for its
//!   WAL flush, which would hold up the statements queued behind it.
//! - Values are bound by the parameter types the server inferred: an `i64` binds to an
//!   `INTEGER` parameter if it fits, and a JSON array text (`["a","b"]`) binds to a
//!   `VARCHAR[]` parameter, so the shared SQL needs no PostgreSQL-only value types.
//! - Errors: SQLSTATE 23505 is a unique violation keyed `PRIMARY` (`<table>_pkey`)
//!   or by the column part of `<table>_<column>_key`; 23503 a foreign-key violation;
//!   40001, 40P01 and 55P03 `Retryable`; a lost or refused connection, no server of
//!   the list taking writes (`target_session_attrs=read-write`), a write refused
//!   because the server has become read-only (25006) and a pool timeout
//!   `Unavailable`; 23502, 22001 and 22021 `InvalidInput`; anything else
//!   `Query`. No message carries the password.
//! - Transactions: `BEGIN ISOLATION LEVEL ...` (READ COMMITTED by default); a
//!   statement that fails inside a transaction aborts it (PostgreSQL's rule), and a
//!   later `commit` rolls back and reports an error instead of pretending to commit.
//!   Named locks are transaction-scoped advisory locks
//!   (`pg_advisory_xact_lock(hashtextextended(..))`), namespaced by schema and
//!   prefix. A connection dropped inside a transaction is rolled back before reuse.
//! - Failover: a statement that finds its connection gone (or its server read-only)
//!   fails with `Unavailable` and marks every connection opened before it stale, so
//!   none of them is handed out again; new connections are made through the host
//!   list, so with `target_session_attrs=read-write` the storage reaches a promoted
//!   standby by itself, without being reopened.
//! - Migrations run on a dedicated connection under a session advisory lock, each in
//!   one transaction with its history row (`{prefix}schema_migrations`).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod conn;
mod errors;
mod migrate;
mod migrations;
mod pooler;
mod replica;
mod share;
mod tls;

pub use conn::PostgresConn;
pub use migrate::PostgresMigrationDriver;
pub use migrations::migrations;
/// The driver crate, re-exported for callers (and tests) that need plain SQL on the
/// same server.
pub use tokio_postgres;

use async_trait::async_trait;
use config::{Settings, quote_ident};
use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Pool, QueueMode, RecyclingMethod, Runtime,
};
use errors::{Scrubber, connect_error, pool_error};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use storage_api::{ConnectionUri, MigrationDriver, OpenOptions, StorageError};
use storage_sql::{Dialect, Driver};
use tokio::task::JoinHandle;

/// The lowest server version served (`server_version_num`).
const MIN_SERVER_VERSION: i64 = 120_000;

/// What every connection of one storage shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) scrub: Scrubber,
    /// Namespace of named locks: schema and prefix.
    pub(crate) lock_namespace: String,
    /// When a connection last failed fatally (terminated, closed, I/O error), in
    /// nanoseconds after `epoch` (0: never). Connections created before it are
    /// discarded at their next checkout: when one connection has been cut, its
    /// siblings usually have been too (server restart, `pg_terminate_backend`), and
    /// their I/O tasks may not have noticed yet.
    purge: AtomicU64,
    epoch: Instant,
    /// Behind a transaction-mode pooler (`?pooler=transaction`): the parameter types
    /// of the statements seen, which run unnamed (see `pooler.rs`).
    pub(crate) pooler: Option<pooler::ParamTypes>,
    /// With a read replica: the WAL position of this storage's committed writes,
    /// recorded after each (see `replica.rs`). `None` without a replica and on the
    /// replica's own connections.
    pub(crate) written: Option<Arc<replica::Written>>,
}

impl Shared {
    /// Records a fatal connection failure now.
    pub(crate) fn connection_failed(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.purge.fetch_max(now.max(1), Ordering::Relaxed);
    }

    /// Whether a connection created at `created` predates the last fatal failure.
    pub(crate) fn is_stale(&self, created: Instant) -> bool {
        let purge = self.purge.load(Ordering::Relaxed);
        purge != 0
            && u64::try_from(created.saturating_duration_since(self.epoch).as_nanos())
                .unwrap_or(u64::MAX)
                <= purge
    }
}

/// Opens connections with the configured `search_path`.
struct PgConnect {
    schema: Option<String>,
    /// Session settings (timeouts) run after connecting.
    session: Option<String>,
    tls: tls::MakeRustls,
    scrub: Scrubber,
}

/// Opens one connection, spawns its I/O task and sets the `search_path`.
async fn connect(
    pg: &tokio_postgres::Config,
    tls: &tls::MakeRustls,
    schema: Option<&str>,
) -> Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error> {
    let (client, connection) = pg.connect(tls.clone()).await?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(target: "storage_postgres", error = %e, "connection ended");
        }
    });
    if let Some(s) = schema {
        let set = format!("SET search_path TO {}", quote_ident(s));
        if let Err(e) = client.batch_execute(&set).await {
            task.abort();
            return Err(e);
        }
    }
    Ok((client, task))
}

/// [`connect`] within `timeout`, its errors as [`StorageError`]s.
async fn connect_within(
    pg: &tokio_postgres::Config,
    tls: &tls::MakeRustls,
    schema: Option<&str>,
    timeout: Duration,
    scrub: &Scrubber,
) -> Result<(tokio_postgres::Client, JoinHandle<()>), StorageError> {
    tokio::time::timeout(timeout, connect(pg, tls, schema))
        .await
        .map_err(|_| StorageError::Unavailable {
            message: format!("cannot connect to PostgreSQL within {timeout:?}"),
            source: None,
        })?
        .map_err(|e| connect_error(&e, scrub))
}

impl deadpool_postgres::Connect for PgConnect {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<
                        (tokio_postgres::Client, JoinHandle<()>),
                        tokio_postgres::Error,
                    >,
                > + Send
                + '_,
        >,
    > {
        let pg = pg_config.clone();
        Box::pin(async move {
            let mut r = connect(&pg, &self.tls, self.schema.as_deref()).await;
            if let (Ok((client, task)), Some(sql)) = (&r, &self.session)
                && let Err(e) = client.batch_execute(sql).await
            {
                task.abort();
                r = Err(e);
            }
            if let Err(e) = &r {
                tracing::warn!(target: "storage_postgres", error = %self.scrub.scrub(&e.to_string()), "cannot open a connection");
            }
            r
        })
    }
}

/// The PostgreSQL [`Driver`] for `storage_sql::SqlStorage`: a pool of
/// [`PostgresConn`]s plus the settings they share.
pub struct PostgresDriver {
    pool: Pool,
    settings: Settings,
    shared: Arc<Shared>,
    reads: share::ReadShare,
    replica: Option<replica::Replica>,
    maintenance: Mutex<Vec<JoinHandle<()>>>,
    waits: storage_api::WaitMonitor,
}

impl std::fmt::Debug for PostgresDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDriver")
            .field("schema", &self.settings.schema)
            .field("prefix", &self.settings.prefix)
            .field("tls", &self.settings.tls_mode)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl PostgresDriver {
    /// Connects once (checking the server version and creating the schema if
    /// missing), then builds the pool. Does not migrate.
    pub async fn connect(uri: &ConnectionUri, options: &OpenOptions) -> Result<Self, StorageError> {
        let settings = config::settings(uri, options)?;
        let scrub = Scrubber::new(uri);
        prepare_server(&settings, &scrub).await?;

        let replica_uri = options
            .read_replica_uri
            .as_ref()
            .map(|u| ConnectionUri::parse(u.expose()))
            .transpose()
            .map_err(|e| match e {
                StorageError::Config(m) => StorageError::Config(format!("read replica URI: {m}")),
                e => e,
            })?;
        let written = replica_uri
            .as_ref()
            .map(|_| Arc::new(replica::Written::default()));
        let shared = Arc::new(Shared {
            scrub: scrub.clone(),
            lock_namespace: format!(
                "{}\u{1f}{}",
                settings.schema.as_deref().unwrap_or(""),
                settings.prefix
            ),
            purge: AtomicU64::new(0),
            epoch: Instant::now(),
            pooler: settings.pooler.then(pooler::ParamTypes::default),
            written: written.clone(),
        });
        let pool = build_pool(&settings, &shared)?;
        top_up(&pool, settings.min_idle).await;
        let mut maintenance = vec![tokio::spawn(maintain(
            pool.weak(),
            settings.idle_timeout,
            settings.min_idle,
            settings.max_lifetime,
        ))];
        let replica = match (&replica_uri, &written) {
            (Some(uri), Some(written)) => {
                // Every write committed before this storage opened is read back
                // too (a core restarted after a write reads it).
                match pool.get().await {
                    Ok(c) => written.record(&c).await,
                    Err(_) => written.mark_unknown(),
                }
                let rs = config::settings(uri, options)?;
                let rshared = Arc::new(Shared {
                    scrub: Scrubber::new(uri),
                    lock_namespace: shared.lock_namespace.clone(),
                    purge: AtomicU64::new(0),
                    epoch: Instant::now(),
                    pooler: rs.pooler.then(pooler::ParamTypes::default),
                    written: None,
                });
                let rpool = build_pool(&rs, &rshared)?;
                maintenance.push(tokio::spawn(maintain(
                    rpool.weak(),
                    rs.idle_timeout,
                    0,
                    rs.max_lifetime,
                )));
                Some(replica::Replica::new(rpool, rshared))
            }
            _ => None,
        };
        Ok(Self {
            reads: share::ReadShare::new(settings.pipeline_depth, settings.pool_size),
            waits: storage_api::WaitMonitor::new("postgresql", settings.wait_threshold),
            pool,
            settings,
            shared,
            replica,
            maintenance: Mutex::new(maintenance),
        })
    }

    /// Whether a read replica is configured.
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// The schema in use, if one was configured.
    pub fn schema(&self) -> Option<&str> {
        self.settings.schema.as_deref()
    }

    /// Current pool size and idle connections.
    pub fn pool_status(&self) -> (usize, usize) {
        let s = self.pool.status();
        (s.size, s.available)
    }

    /// Takes a connection of its own from the pool.
    async fn take(&self) -> Result<deadpool_postgres::Object, StorageError> {
        let _waiting = self.waits.start();
        self.pool
            .get()
            .await
            .map_err(|e| pool_error(e, self.settings.connect_timeout, &self.shared.scrub))
    }

    fn stop_maintenance(&self) {
        if let Ok(mut m) = self.maintenance.lock() {
            for h in m.drain(..) {
                h.abort();
            }
        }
    }
}

impl Drop for PostgresDriver {
    fn drop(&mut self) {
        self.stop_maintenance();
    }
}

/// The connection pool of `settings` (the primary's or the replica's), its
/// connections sharing `shared`.
fn build_pool(settings: &Settings, shared: &Arc<Shared>) -> Result<Pool, StorageError> {
    let manager = Manager::from_connect(
        settings.pg.clone(),
        PgConnect {
            schema: settings.schema.clone(),
            session: settings.session_sql(),
            tls: settings.tls.clone(),
            scrub: shared.scrub.clone(),
        },
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let hook_shared = shared.clone();
    let max_lifetime = settings.max_lifetime;
    Pool::builder(manager)
        .max_size(settings.pool_size)
        .queue_mode(QueueMode::Lifo)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.connect_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.connect_timeout))
        .pre_recycle(Hook::sync_fn(move |_, metrics| {
            if hook_shared.is_stale(metrics.created) {
                Err(HookError::message(
                    "opened before a connection failure; replaced",
                ))
            } else if max_lifetime.is_some_and(|max| metrics.age() >= max) {
                Err(HookError::message("reached its maximum lifetime; replaced"))
            } else {
                Ok(())
            }
        }))
        .build()
        .map_err(|e| StorageError::Config(format!("cannot build the connection pool: {e}")))
}

/// On a dedicated first connection: checks the server version and creates the
/// schema if it is missing.
async fn prepare_server(settings: &Settings, scrub: &Scrubber) -> Result<(), StorageError> {
    let timeout = settings.connect_timeout;
    let (client, task) = connect_within(&settings.pg, &settings.tls, None, timeout, scrub).await?;
    let result = async {
        // The simple protocol: no named statement (a transaction-mode pooler
        // would not keep it).
        let version = client
            .simple_query("SELECT current_setting('server_version_num')")
            .await
            .map_err(|e| errors::storage_error(e, scrub))?
            .into_iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            })
            .unwrap_or_default();
        let version: i64 = version.trim().parse().unwrap_or(0);
        if version < MIN_SERVER_VERSION {
            return Err(StorageError::Config(format!(
                "PostgreSQL {} is not supported: the PostgreSQL backend needs version 12 or newer",
                version / 10_000
            )));
        }
        if let Some(schema) = &settings.schema {
            let exists = client
                .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[schema])
                .await
                .map_err(|e| errors::storage_error(e, scrub))?
                .is_some();
            if !exists {
                let sql = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema));
                if let Err(e) = client.batch_execute(&sql).await {
                    // A concurrent creator may have won the race.
                    let raced = matches!(e.code().map(|c| c.code()), Some("23505") | Some("42P06"));
                    if !raced {
                        return Err(match e.code().map(|c| c.code()) {
                            Some("42501") => StorageError::Config(format!(
                                "schema `{schema}` does not exist and this user may not create it"
                            )),
                            _ => errors::storage_error(e, scrub),
                        });
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    drop(client);
    task.abort();
    result
}

/// Opens `want` idle connections if fewer are idle and the pool has room.
async fn top_up(pool: &Pool, want: usize) {
    let s = pool.status();
    if want == 0 || s.available >= want || s.size >= s.max_size || s.waiting > 0 {
        return;
    }
    let in_use = s.size.saturating_sub(s.available);
    let n = want.min(s.max_size.saturating_sub(in_use));
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        match pool.get().await {
            Ok(c) => held.push(c),
            Err(_) => break,
        }
    }
    drop(held);
}

/// Background upkeep: closes connections idle for longer than `idle_timeout` (keeping
/// `min_idle`), drops closed ones, and tops the pool up to `min_idle`.
async fn maintain(
    pool: deadpool_postgres::WeakPool,
    idle_timeout: Duration,
    min_idle: usize,
    max_lifetime: Option<Duration>,
) {
    let period = if idle_timeout.is_zero() {
        Duration::from_secs(30)
    } else {
        (idle_timeout / 2).clamp(Duration::from_millis(250), Duration::from_secs(30))
    };
    loop {
        tokio::time::sleep(period).await;
        let Some(pool) = pool.upgrade() else { return };
        if pool.is_closed() {
            return;
        }
        let mut kept = 0usize;
        let removed = pool.retain(|client, metrics| {
            if client.is_closed() || max_lifetime.is_some_and(|max| metrics.age() >= max) {
                return false;
            }
            if !idle_timeout.is_zero() && metrics.last_used() > idle_timeout && kept >= min_idle {
                return false;
            }
            kept += 1;
            true
        });
        if !removed.removed.is_empty() {
            tracing::debug!(target: "storage_postgres", closed = removed.removed.len(), "closed idle connections");
        }
        drop(removed);
        top_up(&pool, min_idle).await;
    }
}

#[async_trait]
impl Driver for PostgresDriver {
    type Conn = PostgresConn;
    const NAME: &'static str = "postgresql";

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn table_prefix(&self) -> &str {
        &self.settings.prefix
    }

    async fn acquire(&self) -> Result<PostgresConn, StorageError> {
        Ok(PostgresConn::new(self.take().await?, self.shared.clone()))
    }

    async fn acquire_read(&self) -> Result<PostgresConn, StorageError> {
        match self
            .reads
            .acquire(&self.pool, &self.shared, self.take())
            .await?
        {
            Some(obj) => Ok(PostgresConn::shared_read(obj, self.shared.clone())),
            None => self.acquire().await,
        }
    }

    async fn acquire_replica(&self, scan: bool) -> Result<(PostgresConn, bool), StorageError> {
        if let (Some(r), Some(w)) = (&self.replica, &self.shared.written) {
            let known = !w.take_unknown() || {
                // A write whose position was not read: the primary's position now
                // covers it.
                let lsn = match self.take().await {
                    Ok(c) => replica::primary_lsn(&c).await.ok().flatten(),
                    Err(_) => None,
                };
                match lsn {
                    Some(l) => w.note(l),
                    None => w.mark_unknown(),
                }
                lsn.is_some()
            };
            if known && let Some(obj) = r.connection_for(w.get()).await {
                return Ok((PostgresConn::new(obj, r.shared.clone()), true));
            }
        }
        let conn = if scan {
            self.acquire().await?
        } else {
            self.acquire_read().await?
        };
        Ok((conn, false))
    }

    fn replica_failed(&self, _error: &StorageError) {
        if let Some(r) = &self.replica {
            r.failed();
        }
    }

    async fn migration_driver(&self) -> Result<Box<dyn MigrationDriver>, StorageError> {
        if self.pool.is_closed() {
            return Err(StorageError::Unavailable {
                message: "the storage has been closed".into(),
                source: None,
            });
        }
        let mut d = PostgresMigrationDriver::connect(
            &self.settings.pg,
            &self.settings.tls,
            self.settings.schema.clone(),
            self.settings.prefix.clone(),
            self.settings.connect_timeout,
            self.shared.scrub.clone(),
            self.settings.pooler,
        )
        .await?;
        d.written = self.shared.written.clone();
        Ok(Box::new(d))
    }

    async fn close(&self) {
        self.stop_maintenance();
        self.pool.close();
        if let Some(r) = &self.replica {
            r.pool.close();
        }
    }

    fn pool_health(&self) -> Option<storage_api::PoolHealth> {
        let s = self.pool.status();
        let mut h = storage_api::PoolHealth {
            max_size: s.max_size,
            size: s.size,
            in_use: s.size.saturating_sub(s.available),
            idle: s.available,
            ..Default::default()
        };
        self.waits.fill(&mut h);
        Some(h)
    }
}

/// Opens one driver connection outside any pool, with the URI's settings (TLS
/// included, no `search_path`), its I/O task spawned on the current runtime: for
/// callers and tests that need plain SQL on the same server as a storage. Errors
/// are those of opening a storage and never carry the password.
pub async fn connect_client(uri: &str) -> Result<tokio_postgres::Client, StorageError> {
    let uri = ConnectionUri::parse(uri)?;
    let settings = config::settings(&uri, &OpenOptions::default())?;
    let scrub = Scrubber::new(&uri);
    let timeout = settings.connect_timeout;
    let (client, _task) =
        connect_within(&settings.pg, &settings.tls, None, timeout, &scrub).await?;
    Ok(client)
}

/// Opens a PostgreSQL storage (the options already merged with the environment, as
/// `storage_api::open` does). Does not migrate.
pub async fn open(
    uri: ConnectionUri,
    options: OpenOptions,
) -> storage_api::Result<Arc<dyn storage_api::Storage>> {
    let driver = PostgresDriver::connect(&uri, &options).await?;
    Ok(Arc::new(storage_sql::SqlStorage::new(driver)))
}

storage_api::open::inventory::submit! {
    storage_api::Backend {
        name: "postgresql",
        schemes: &["postgres", "postgresql"],
        env_prefix: "POSTGRESQL",
        open: |u, o| Box::pin(open(u, o)),
    }
}
