//! # storage-mysql: the MySQL 8.0+ / MariaDB 10.6+ backend
//!
//! The phase-1 operations themselves are written once in `storage-sql`; this crate
//! supplies what differs on MySQL: an sqlx pool ([`MySqlDriver`]), error numbers
//! mapped to the contract's errors ([`errors`]), transactions and `GET_LOCK` named
//! locks ([`conn`]), the schema as embedded migrations and their driver ([`migrate`]).
//!
//! ## Linking and opening
//!
//! Reference the crate once so the linker keeps its registration, then open by URI
//! (`mysql://` or `mariadb://`), or set `MYSQL_CONNECTION_URI` and use
//! [`storage_api::open_from_env`]:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use storage_mysql as _; // makes mysql:// and mariadb:// available
//!
//! let storage = storage_api::open("mysql://auth:secret@db:3306/auth", Default::default()).await?;
//! storage_api::migrate_up(&*storage).await?;
//! # Ok(()) }
//! ```
//!
//! Options come from [`storage_api::OpenOptions`], else from the `MYSQL_*`
//! environment variables (`MYSQL_TABLE_NAMES_PREFIX`, `MYSQL_CONNECTION_POOL_SIZE`,
//! `MYSQL_MINIMUM_IDLE_CONNECTIONS`, `MYSQL_IDLE_CONNECTION_TIMEOUT`,
//! `MYSQL_CONNECTION_TIMEOUT`). URI parameters: `ssl-mode` (`DISABLED`, `PREFERRED`
//! (default), `REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY`), `ssl-ca`, `ssl-cert`,
//! `ssl-key`, `socket`, `statement_timeout` (ms: MariaDB `max_statement_time`, MySQL
//! `max_execution_time`), `lock_wait_timeout` (ms, rounded up to whole seconds:
//! `innodb_lock_wait_timeout`), `max_lifetime` (s, default 30 min),
//! `pool_wait_threshold` (ms, default 100: slower waits for a connection are
//! reported on the `tracing` target `storage_pool`); any other parameter is a
//! `Config` error, so a misspelt TLS setting never silently turns TLS off. A
//! statement or lock wait that times out is `Retryable`; a TLS handshake that fails
//! is a `Config` error naming the problem (unknown CA, wrong host name, server
//! without TLS).
//!
//! ## What every connection gets
//!
//! - Strict `sql_mode` ([`config::SQL_MODE`]), `time_zone = '+00:00'`,
//!   `NAMES utf8mb4 COLLATE utf8mb4_bin` and READ COMMITTED as the session's default
//!   isolation, in one round trip after connecting ([`config::SESSION_INIT`]).
//! - The `CLIENT_FOUND_ROWS` capability (sqlx-mysql sets it in its handshake), so
//!   an UPDATE reports the rows it *matched*, also when a value did not change.
//!   Consequence for upserts: `INSERT ... ON DUPLICATE KEY UPDATE` reports 1 for an
//!   insert, 2 for an update that changed the row and 1 for one that set the same
//!   values; `REPLACE` reports 2 when it replaced a row.
//! - Prepared statements cached per connection (sqlx persistent statements).
//! - No ping on every checkout, and none on every release either: a connection
//!   that ends an operation cleanly is parked ([`park`]) rather than handed back to
//!   sqlx's pool, which would ping it. Idle connections are closed after the idle
//!   timeout, and after a connection-level failure every connection that went idle
//!   before it is pinged before reuse, so one failed call flushes a pool of dead
//!   connections (after a server restart or `KILL`).
//! - On open, `SELECT VERSION()` must show MariaDB >= 10.6 or MySQL >= 8.0, else a
//!   `Config` error.
//!
//! ## Transactions and locks
//!
//! `begin` sends `SET TRANSACTION ISOLATION LEVEL ...; START TRANSACTION` in one
//! round trip. Named locks are `GET_LOCK('<database>.<prefix><name>', 5)` (hashed to
//! MySQL's 64-character limit), remembered on the connection and released with
//! `RELEASE_LOCK` right after `COMMIT` or `ROLLBACK`. A connection dropped inside a
//! transaction or with locks held is closed rather than returned to the pool, which
//! rolls back and releases its locks on the server.
//!
//! ## MariaDB Galera
//!
//! When the pool starts, `SELECT @@wsrep_on` tells whether the server is a Galera
//! node (MySQL without wsrep has no such variable: not a cluster). On a node:
//! - `GET_LOCK` is node-local there, so a named lock is instead the lock name's row
//!   of `{prefix}named_locks`, written (`INSERT ... ON DUPLICATE KEY UPDATE`) inside
//!   the transaction it guards: InnoDB's row lock excludes other holders on the same
//!   node until commit, and Galera's certification aborts a transaction that took
//!   the same lock on another node concurrently (error 1213, `Retryable`, so the
//!   transaction runs again and sees the winner's rows). The table is created, if
//!   missing, when the pool starts (`CREATE TABLE IF NOT EXISTS`, replicated in
//!   total order). A named lock outside a transaction is a `Query` error.
//! - Every connection sets `wsrep_sync_wait = 3`: reads, `UPDATE`s and `DELETE`s
//!   first wait until the node has applied what any node committed before they
//!   started, so a core reads what another core wrote, as on one server.
//! - An autocommit statement that loses a certification conflict (1213; the server
//!   retries it only `wsrep_retry_autocommit` times) was rolled back as a whole and
//!   runs again with the transactions' backoff, up to `TxOptions::default()`'s
//!   attempts; a `COMMIT` that loses one leaves the connection usable. Error 1317
//!   (statement interrupted by a conflict) is `Retryable`, 1047 (node outside the
//!   primary component) `Unavailable`.
//! - The migration lock is a lease row in `{prefix}schema_migrations_lock` (10
//!   minutes; released at the end of the run), not `GET_LOCK`.
//! - Row locks of `SELECT ... FOR UPDATE` are node-local too, so a locking read in
//!   a transaction first writes its own lock row, named by a digest of the
//!   statement and its values: transactions that lock rows through the same read
//!   conflict on it (across nodes by certification). Two transactions that reach
//!   the same rows through different statements are ordered only by the rows both
//!   write.
//!
//! ## Portability: statements checked against the MySQL 8.0 reference manual
//!
//! The same SQL must run on MySQL 8.0+ and MariaDB 10.6+ (tested here on MariaDB
//! 10.11). Checked against the MySQL 8.0 Reference Manual (section numbers of its
//! current edition):
//! - `CREATE TABLE ... ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`
//!   with inline `PRIMARY KEY`, `UNIQUE KEY name (...)`, `KEY name (... DESC)`,
//!   `CONSTRAINT name FOREIGN KEY ... ON DELETE CASCADE ON UPDATE CASCADE`
//!   (section 15.1.20; descending index parts since 8.0, parsed and ignored by
//!   MariaDB before 10.8), `BOOLEAN`, `BIGINT UNSIGNED`, `INT UNSIGNED`, `TEXT`.
//! - `DROP TABLE IF EXISTS` (15.1.32); `REPLACE INTO` for the history table (15.2.12).
//! - `SET NAMES ... COLLATE ...`, `SET SESSION sql_mode`, `SET [SESSION] TRANSACTION
//!   ISOLATION LEVEL` (15.7.6.3, 15.3.7), `START TRANSACTION`, `COMMIT`, `ROLLBACK`.
//! - `GET_LOCK(name, timeout)` / `RELEASE_LOCK(name)` (14.14, locking functions:
//!   names at most 64 characters, several locks per session since 5.7.5).
//! - `information_schema.TABLES` look-ups with `DATABASE()`.
//! - Migration 2's guarded additions: `SET @v = (SELECT IF(...) FROM
//!   information_schema.COLUMNS ...)`, `PREPARE ... FROM @v`, `EXECUTE`, `DEALLOCATE
//!   PREPARE` (15.5.1-15.5.3), `ALTER TABLE ... ADD COLUMN`, `CREATE INDEX`, and a
//!   multi-table `UPDATE ... JOIN (derived table)` (15.2.17).
//! - The collation conversion: `ALTER DATABASE CHARACTER SET ... COLLATE ...`
//!   (15.1.2, database name omitted: the default database), `ALTER TABLE ... CONVERT
//!   TO CHARACTER SET ... COLLATE ...` (15.1.9) with `SET foreign_key_checks = 0`.
//!
//! Nothing here uses `RETURNING`, `INSERT ... AS alias`, functional indexes,
//! `CREATE INDEX IF NOT EXISTS` or a MySQL-only collation. The data statements
//! themselves are built by sea-query's MySQL builder in `storage-sql`.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

// Some constants stay for their documentation (`SQL_MODE`, the table of MySQL error
// numbers), now that these modules are private.
#[allow(dead_code)]
mod config;
mod conn;
#[allow(dead_code)]
mod errors;
mod galera_tx;
mod migrate;
mod migrations;
mod park;
#[cfg(feature = "test-support")]
mod raw;

pub use conn::MySqlConn;
pub use migrate::MySqlMigrationDriver;
pub use migrations::migrations;

/// Plain SQL and single connections with the storage's session settings, for the
/// test suite and the benchmarks only (feature `test-support`, off by default): not
/// part of the storage's API.
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod test_support {
    pub use crate::config::{Settings, connect_one};
    pub use crate::raw::RawClient;
}

use async_trait::async_trait;
use config::{Health, ServerVersion, Settings};
use conn::Shared;
use sqlx::Connection;
use sqlx::mysql::MySqlPool;
use std::sync::Arc;
use std::time::Duration;
use storage_api::{ConnectionUri, MigrationDriver, OpenOptions, Storage, StorageError};
use storage_sql::{Dialect, Driver};

/// The MySQL / MariaDB driver: an sqlx pool plus the table prefix.
pub struct MySqlDriver {
    pool: MySqlPool,
    shared: Arc<Shared>,
    settings: Settings,
    connect_timeout: Duration,
    server: ServerVersion,
    waits: storage_api::WaitMonitor,
    max_size: usize,
}

impl std::fmt::Debug for MySqlDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlDriver")
            .field("uri", &self.settings.uri)
            .field("prefix", &self.shared.prefix)
            .field("server", &self.server.text)
            .finish()
    }
}

/// The longest identifier MySQL and MariaDB accept.
const MAX_IDENTIFIER: usize = 64;

impl MySqlDriver {
    /// Validates the URI and options, checks the server version on one connection,
    /// and builds the pool (lazily: connections open on demand, plus the minimum
    /// idle ones in the background).
    pub async fn connect(uri: ConnectionUri, options: OpenOptions) -> Result<Self, StorageError> {
        let prefix = options.table_prefix()?;
        storage_api::migrate::check_prefix_length(
            migrations::MIGRATIONS,
            &prefix,
            MAX_IDENTIFIER,
            "MySQL",
        )?;
        let settings = Settings::from_uri(uri)?;
        let connect_timeout = options.connect_timeout();
        let mut first = config::connect_one(&settings, connect_timeout).await?;
        let server = config::check_version(&mut first, &settings.uri).await;
        let galera = match &server {
            Ok(_) => config::detect_galera(&mut first, &settings.uri).await,
            Err(_) => Ok(false),
        };
        let galera = match galera {
            Ok(true) => config::ensure_lock_table(&mut first, &prefix, &settings.uri)
                .await
                .map(|()| true),
            other => other,
        };
        let _ = first.close().await;
        let server = server?;
        let galera = galera?;
        let mut session = settings.session_timeouts(server.mariadb);
        if galera {
            session.push_str(config::GALERA_SESSION);
        }
        tracing::debug!(server = %server.text, uri = %settings.uri, "connected to MySQL");
        let health = Arc::new(Health::default());
        let pool = config::pool_options(&options, health.clone(), session, settings.max_lifetime)
            .connect_lazy_with(settings.connect.clone());
        let shared = Arc::new(Shared {
            uri: settings.uri.clone(),
            database: settings.database.clone(),
            prefix,
            health,
            parking: park::Parking::new(
                options.pool_size(),
                options.idle_timeout(),
                settings.max_lifetime,
            ),
            galera,
        });
        Ok(Self {
            pool,
            shared,
            waits: storage_api::WaitMonitor::new("mysql", settings.wait_threshold),
            max_size: options.pool_size() as usize,
            settings,
            connect_timeout,
            server,
        })
    }

    /// Whether the server is a node of a Galera cluster (`@@wsrep_on`), detected
    /// when the pool started.
    pub fn galera(&self) -> bool {
        self.shared.galera
    }

    /// The server's `VERSION()` and flavour.
    pub fn server_version(&self) -> &ServerVersion {
        &self.server
    }

    /// The database (schema) name.
    pub fn database(&self) -> &str {
        &self.settings.database
    }

    /// The sqlx pool (for diagnostics and tests).
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// A migration driver on a dedicated connection, as its concrete type.
    pub async fn migrator(&self) -> Result<MySqlMigrationDriver, StorageError> {
        let mut conn = config::connect_one(&self.settings, self.connect_timeout).await?;
        if self.shared.galera {
            sqlx::raw_sql(config::GALERA_SESSION)
                .execute(&mut conn)
                .await
                .map_err(|e| errors::to_storage(e, &self.settings.uri))?;
        }
        Ok(MySqlMigrationDriver::new(
            conn,
            self.settings.clone(),
            self.shared.prefix.clone(),
            self.shared.galera,
        ))
    }
}

#[async_trait]
impl Driver for MySqlDriver {
    type Conn = MySqlConn;
    const NAME: &'static str = "mysql";

    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    fn table_prefix(&self) -> &str {
        &self.shared.prefix
    }

    async fn acquire(&self) -> Result<MySqlConn, StorageError> {
        let _waiting = self.waits.start();
        let parking = &self.shared.parking;
        let permit = match parking.permit(self.connect_timeout).await {
            Ok(p) => p,
            Err(closed) => {
                let e = if closed {
                    sqlx::Error::PoolClosed
                } else {
                    sqlx::Error::PoolTimedOut
                };
                return Err(self.shared.classify(e).into_storage());
            }
        };
        // A parked connection first (most recently used), pinged only if it went
        // idle before a connection failure; else a new one from sqlx's pool.
        while let Some(p) = parking.take() {
            let p = if park::Parking::suspect(&self.shared.health, &p) {
                match park::Parking::check(p).await {
                    Some(p) => p,
                    None => continue,
                }
            } else {
                p
            };
            return Ok(MySqlConn::pooled(
                p.conn,
                p.born,
                Some(permit),
                self.shared.clone(),
            ));
        }
        match self.pool.acquire().await {
            Ok(c) => Ok(MySqlConn::pooled(
                c,
                std::time::Instant::now(),
                Some(permit),
                self.shared.clone(),
            )),
            Err(e) => Err(self.shared.classify(e).into_storage()),
        }
    }

    async fn migration_driver(&self) -> Result<Box<dyn MigrationDriver>, StorageError> {
        Ok(Box::new(self.migrator().await?))
    }

    async fn close(&self) {
        self.shared.parking.close();
        self.pool.close().await;
    }

    fn pool_health(&self) -> Option<storage_api::PoolHealth> {
        let size = self.pool.size() as usize;
        let idle = (self.pool.num_idle() + self.shared.parking.parked()).min(size);
        let mut h = storage_api::PoolHealth {
            max_size: self.max_size,
            size,
            in_use: size - idle,
            idle,
            ..Default::default()
        };
        self.waits.fill(&mut h);
        Some(h)
    }
}

/// Opens a MySQL / MariaDB storage. `options` should already hold the `MYSQL_*`
/// environment values ([`storage_api::open()`] merges them). Does not migrate.
pub async fn open(
    uri: ConnectionUri,
    options: OpenOptions,
) -> storage_api::Result<Arc<dyn Storage>> {
    options.refuse_read_replica("MySQL")?;
    let driver = MySqlDriver::connect(uri, options).await?;
    Ok(Arc::new(storage_sql::SqlStorage::new(driver)))
}

storage_api::open::inventory::submit! {
    storage_api::Backend {
        name: "mysql",
        schemes: config::SCHEMES,
        env_prefix: "MYSQL",
        open: |u, o| Box::pin(open(u, o)),
    }
}
