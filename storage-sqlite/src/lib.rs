//! # storage-sqlite: the SQLite backend
//!
//! Serves `sqlite://PATH` (a file, created if missing) and `sqlite::memory:` (a
//! private in-memory database) through the operations of `storage-sql`. This crate
//! supplies only what is SQLite's own: a small pool of `rusqlite` connections,
//! transactions, the mapping of SQLite's result codes to the contract's errors, and
//! the embedded migrations.
//!
//! ## Linking and opening
//!
//! Linking the crate registers the `sqlite` scheme with `storage_api::open`; reference
//! it once so that the linker keeps it:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use storage_sqlite as _; // makes sqlite:// available
//!
//! let storage = storage_api::open("sqlite://auth.db", Default::default()).await?;
//! storage_api::migrate_up(&*storage).await?;
//! # Ok(()) }
//! ```
//!
//! [`open`] does the same without going through the scheme registry.
//!
//! ## URI and options
//!
//! - `sqlite://auth.db` (relative to the working directory), `sqlite:///var/lib/auth.db`
//!   (absolute), `sqlite:auth.db`; `sqlite::memory:` or `?mode=memory` for an
//!   in-memory database. `?mode=rw` opens an existing file only; `?mode=rwc` (the
//!   default) creates it. Any other parameter is a `Config` error.
//! - From [`storage_api::OpenOptions`] (or the `SQLITE_*` environment variables): the
//!   table prefix, the pool size (an in-memory database always has one connection,
//!   since each in-memory connection is a database of its own), minimum idle
//!   connections, idle timeout and the acquire timeout (`connect_timeout`).
//!
//! ## Concurrency
//!
//! Statements run inline on the calling task: a point read takes microseconds. Every
//! connection uses the WAL journal (files), `synchronous=NORMAL`, foreign keys and a
//! 5 s busy timeout. Writers of one opened storage queue on one in-process async
//! lock before they take SQLite's write lock, so inside one process no task ever
//! blocks its thread in SQLite's busy handler; a transaction runs as
//! `BEGIN IMMEDIATE` under that lock and is therefore serialisable, which also gives
//! the row locks and named locks of the contract. The busy timeout matters only when
//! another process writes to the same file; a lock not obtained within it is
//! `StorageError::Retryable`.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod conn;
mod errors;
mod migrate;
mod pool;

pub use conn::SqliteConn;
pub use migrate::SqliteMigrationDriver;

use async_trait::async_trait;
use pool::{BUSY_TIMEOUT, Pool, PoolConfig, Target};
use std::path::PathBuf;
use std::sync::Arc;
use storage_api::{ConnectionUri, Migration, MigrationDriver, OpenOptions, Storage, StorageError};
use storage_sql::{Dialect, Driver, SqlStorage};

/// The embedded migrations, ascending; `{prefix}` stands for the table prefix.
static MIGRATIONS: &[Migration] = storage_api::embedded_migrations![
    1 "phase1" SuperTokens "0001_phase1"
        ["74c714eee70fc9b0ab2aa1b207ec0e558ad2bc3b22e845e3d22d957e7f03b2aa"];
    2 "project" Project "0002_project" [];
    3 "phase2" SuperTokens "0003_phase2" [];
    4 "linking" Project "0004_linking" [];
    5 "recipes" Project "0005_recipes" [];
    6 "search" Project "0006_search" [];
];

/// The embedded SQLite migrations, ascending by version: 1 the tables in SuperTokens'
/// layout (phase 1, phase 2), 2 the project's additions.
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}

/// The SQLite [`Driver`] of `storage-sql`: a connection pool, the table prefix and
/// the migration driver.
pub struct SqliteDriver {
    pool: Pool,
    prefix: String,
    uri: String,
}

impl std::fmt::Debug for SqliteDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDriver")
            .field("uri", &self.uri)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Where `uri` points, or a `Config` error naming the unusable part.
fn target(uri: &ConnectionUri) -> Result<Target, StorageError> {
    if uri.scheme != "sqlite" {
        return Err(StorageError::Config(format!(
            "the SQLite backend cannot open a `{}` URI",
            uri.scheme
        )));
    }
    let mut create = true;
    for (key, value) in &uri.query {
        match (key.to_ascii_lowercase().as_str(), value.as_str()) {
            ("mode", "memory") | ("mode", "rwc") => {}
            ("mode", "rw") => create = false,
            ("mode", _) => {
                return Err(StorageError::Config(
                    "unsupported `mode` in the sqlite URI (use rwc, rw or memory)".into(),
                ));
            }
            (other, _) => {
                return Err(StorageError::Config(format!(
                    "unsupported parameter `{}` in the sqlite URI (supported: mode)",
                    other.chars().take(64).collect::<String>()
                )));
            }
        }
    }
    if uri.is_sqlite_memory() {
        Ok(Target::Memory)
    } else {
        Ok(Target::File {
            path: PathBuf::from(&uri.path),
            create,
        })
    }
}

impl SqliteDriver {
    /// Opens the pool for `uri` with `options` (whose unset fields keep their
    /// defaults; `storage_api::open` has already merged the `SQLITE_*` environment).
    /// The first connection is opened here, so a bad path fails now: `Config` for
    /// an unusable URI or prefix, `Unavailable` for a file that cannot be opened.
    pub fn open(uri: &ConnectionUri, options: &OpenOptions) -> Result<Self, StorageError> {
        let prefix = options.table_prefix()?;
        let pool = Pool::open(PoolConfig {
            target: target(uri)?,
            size: options.pool_size(),
            min_idle: options.min_idle(),
            idle_timeout: options.idle_timeout(),
            acquire_timeout: options.connect_timeout(),
            busy_timeout: BUSY_TIMEOUT,
        })?;
        Ok(Self {
            pool,
            prefix,
            uri: uri.redacted(),
        })
    }
}

#[async_trait]
impl Driver for SqliteDriver {
    type Conn = SqliteConn;
    const NAME: &'static str = "sqlite";

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn table_prefix(&self) -> &str {
        &self.prefix
    }

    async fn acquire(&self) -> Result<SqliteConn, StorageError> {
        self.pool.acquire().await
    }

    async fn migration_driver(&self) -> Result<Box<dyn MigrationDriver>, StorageError> {
        let conn = self.pool.acquire().await?;
        Ok(Box::new(SqliteMigrationDriver::new(
            conn,
            self.prefix.clone(),
        )))
    }

    async fn close(&self) {
        self.pool.close();
    }
}

/// Opens a SQLite storage for `uri` (`sqlite://PATH` or `sqlite::memory:`). Does not
/// migrate: run `storage_api::migrate_up` (or the `migrate` CLI) first.
pub async fn open(
    uri: ConnectionUri,
    options: OpenOptions,
) -> storage_api::Result<Arc<dyn Storage>> {
    options.refuse_read_replica("SQLite")?;
    let driver = SqliteDriver::open(&uri, &options)?;
    Ok(Arc::new(SqlStorage::new(driver)))
}

storage_api::open::inventory::submit! {
    storage_api::Backend {
        name: "sqlite",
        schemes: &["sqlite"],
        env_prefix: "SQLITE",
        open: |u, o| Box::pin(open(u, o)),
    }
}

#[cfg(test)]
mod tests;
