//! A small pool of `rusqlite` connections, and the single in-process writer.
//!
//! Statements run inline on the calling task: a SQLite point read takes microseconds,
//! less than a hop to a worker thread would. What must never happen inline is a wait
//! in SQLite's busy handler, so every writer of one opened storage first takes one
//! in-process async mutex (`write_lock`) and only then SQLite's own write lock. Inside
//! one process writers therefore queue on the mutex without blocking a runtime thread;
//! the busy timeout only matters when another process holds the database.

use crate::conn::SqliteConn;
use crate::errors::{is_busy, open_failed, to_storage};
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use storage_api::StorageError;
use tokio::sync::{OwnedMutexGuard, Semaphore};

/// How long SQLite waits for a lock held by another process, and how long a writer
/// of this process waits for the in-process write lock, before `Retryable`.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection (the shared operations use well over a
/// hundred distinct statements).
const STATEMENT_CACHE: usize = 256;

/// Which database the pool's connections open.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// `sqlite::memory:`: one private in-memory database, so exactly one connection.
    Memory,
    /// A database file; `create` makes it if missing.
    File {
        /// The file's path.
        path: PathBuf,
        /// Whether to create the file if it is missing.
        create: bool,
    },
}

/// Sizes and timeouts of a pool.
#[derive(Clone, Debug)]
pub(crate) struct PoolConfig {
    /// The database.
    pub target: Target,
    /// Maximum number of connections (forced to 1 for [`Target::Memory`]).
    pub size: u32,
    /// Idle connections kept open however long they are unused.
    pub min_idle: u32,
    /// Idle connections unused for longer are closed (beyond `min_idle`).
    pub idle_timeout: Duration,
    /// How long `acquire` waits for a free connection.
    pub acquire_timeout: Duration,
    /// SQLite's busy timeout and the in-process write-lock timeout.
    pub busy_timeout: Duration,
}

struct Idle {
    conn: Connection,
    since: Instant,
}

/// State shared by the pool and every connection taken from it.
pub(crate) struct Shared {
    config: PoolConfig,
    idle: Mutex<Vec<Idle>>,
    permits: Arc<Semaphore>,
    write_lock: Arc<tokio::sync::Mutex<()>>,
    closed: AtomicBool,
}

impl Shared {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        // A panic while holding this lock cannot leave the vector inconsistent.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_memory(&self) -> bool {
        matches!(self.config.target, Target::Memory)
    }

    /// SQLite's busy timeout for this pool.
    pub(crate) fn busy_timeout(&self) -> Duration {
        self.config.busy_timeout
    }

    /// Takes the in-process write lock, waiting until `deadline`; `None` on timeout.
    pub(crate) async fn write_lock_until(&self, deadline: Instant) -> Option<OwnedMutexGuard<()>> {
        let wait = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(wait, self.write_lock.clone().lock_owned())
            .await
            .ok()
    }

    /// Takes the in-process write lock within the busy timeout, else `Retryable`.
    pub(crate) async fn write_lock(&self) -> Result<OwnedMutexGuard<()>, StorageError> {
        let deadline = Instant::now() + self.config.busy_timeout;
        self.write_lock_until(deadline)
            .await
            .ok_or_else(|| StorageError::Retryable {
                message: format!(
                    "the SQLite write lock was not obtained within {:?}",
                    self.config.busy_timeout
                ),
                source: None,
            })
    }

    /// Gives a connection back. `clean` is false when a transaction left on it could
    /// not be rolled back: such a file connection is closed; the in-memory one is kept
    /// (it is the database), and its next `BEGIN` reports the problem.
    pub(crate) fn release(&self, conn: Connection, clean: bool) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        if !clean && !self.is_memory() {
            tracing::warn!(
                "closing a SQLite connection whose transaction could not be rolled back"
            );
            return;
        }
        self.idle().push(Idle {
            conn,
            since: Instant::now(),
        });
    }

    /// The most recently used idle connection, after closing those idle for longer
    /// than the idle timeout (never the last one, never below `min_idle`).
    fn take_idle(&self) -> Option<Connection> {
        let mut stale = Vec::new();
        let conn = {
            let mut idle = self.idle();
            if !self.is_memory() {
                let keep = self.config.min_idle.max(1) as usize;
                while idle.len() > keep
                    && idle
                        .first()
                        .is_some_and(|c| c.since.elapsed() > self.config.idle_timeout)
                {
                    stale.push(idle.remove(0));
                }
            }
            idle.pop().map(|c| c.conn)
        };
        drop(stale);
        conn
    }
}

/// Opens one connection with this backend's settings: busy timeout, WAL journal for
/// files, `synchronous=NORMAL`, foreign keys on, a statement cache.
fn connect(config: &PoolConfig) -> Result<Connection, StorageError> {
    let (conn, what) = match &config.target {
        Target::Memory => {
            let c = Connection::open_in_memory().map_err(|e| open_failed(":memory:", e))?;
            (c, None)
        }
        Target::File { path, create } => {
            let what = format!("`{}`", path.display());
            let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            if *create {
                flags |= OpenFlags::SQLITE_OPEN_CREATE;
            }
            let c = Connection::open_with_flags(path, flags).map_err(|e| open_failed(&what, e))?;
            (c, Some(what))
        }
    };
    // The first statements are where SQLite finds out that a file is not a database:
    // that is `Unavailable` too, unless another process merely holds a lock.
    let setup = |e: rusqlite::Error| {
        if is_busy(&e) {
            to_storage(e)
        } else {
            open_failed(what.as_deref().unwrap_or(":memory:"), e)
        }
    };
    conn.busy_timeout(config.busy_timeout).map_err(setup)?;
    if what.is_some() {
        // Switching a new file to WAL needs it exclusively, and SQLite answers BUSY
        // at once, without its busy handler, while another process opens or switches
        // the same file (two `migrate up` on a fresh database): retry until the busy
        // timeout, as the handler would. Only a fresh file pays this; it is a no-op
        // on a database already in WAL mode.
        let deadline = Instant::now() + config.busy_timeout;
        let mut pause = Duration::from_millis(1);
        let mode: String = loop {
            match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                r => break r.map_err(setup)?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(journal_mode = %mode, "SQLite did not switch to WAL journal mode");
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(setup)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(setup)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// A pool of SQLite connections to one database.
#[derive(Clone)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

impl Pool {
    /// Opens the pool and its first connection, so that a bad path fails here
    /// (`Unavailable`) and not at the first query.
    pub(crate) fn open(mut config: PoolConfig) -> Result<Self, StorageError> {
        if matches!(config.target, Target::Memory) {
            config.size = 1;
        }
        config.size = config.size.max(1);
        config.min_idle = config.min_idle.min(config.size);
        let mut idle = vec![];
        for _ in 0..config.min_idle.max(1) {
            idle.push(Idle {
                conn: connect(&config)?,
                since: Instant::now(),
            });
        }
        Ok(Pool {
            shared: Arc::new(Shared {
                permits: Arc::new(Semaphore::new(config.size as usize)),
                idle: Mutex::new(idle),
                write_lock: Arc::new(tokio::sync::Mutex::new(())),
                closed: AtomicBool::new(false),
                config,
            }),
        })
    }

    /// Takes a connection, waiting up to the acquire timeout (`Unavailable` after it,
    /// or once the pool is closed).
    pub(crate) async fn acquire(&self) -> Result<SqliteConn, StorageError> {
        let timeout = self.shared.config.acquire_timeout;
        let permit = match tokio::time::timeout(
            timeout,
            self.shared.permits.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => {
                return Err(StorageError::Unavailable {
                    message: "the SQLite storage was closed".into(),
                    source: None,
                });
            }
            Err(_) => {
                return Err(StorageError::Unavailable {
                    message: format!(
                        "no SQLite connection became free within {timeout:?} (pool size {})",
                        self.shared.config.size
                    ),
                    source: None,
                });
            }
        };
        let conn = match self.shared.take_idle() {
            Some(c) => c,
            None if self.shared.is_memory() => {
                return Err(StorageError::Unavailable {
                    message: "the connection of the in-memory SQLite database was lost".into(),
                    source: None,
                });
            }
            None => connect(&self.shared.config)?,
        };
        Ok(SqliteConn::new(conn, permit, self.shared.clone()))
    }

    /// Closes the pool: idle connections close now, connections in use when they are
    /// returned; later `acquire` calls fail with `Unavailable`.
    pub(crate) fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.permits.close();
        let idle = std::mem::take(&mut *self.shared.idle());
        drop(idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage_sql::Conn;

    fn file_config(dir: &tempfile::TempDir, size: u32) -> PoolConfig {
        PoolConfig {
            target: Target::File {
                path: dir.path().join("pool.db"),
                create: true,
            },
            size,
            min_idle: 0,
            idle_timeout: Duration::from_secs(60),
            acquire_timeout: Duration::from_millis(200),
            busy_timeout: BUSY_TIMEOUT,
        }
    }

    #[tokio::test]
    async fn every_connection_gets_its_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::open(file_config(&dir, 2)).unwrap();
        let mut a = pool.acquire().await.unwrap();
        let mut b = pool.acquire().await.unwrap();
        for c in [&mut a, &mut b] {
            let rows = c
                .fetch("PRAGMA journal_mode", sea_query::Values(vec![]))
                .await
                .unwrap();
            assert_eq!(rows[0].text(0).unwrap(), "wal");
            let rows = c
                .fetch("PRAGMA foreign_keys", sea_query::Values(vec![]))
                .await
                .unwrap();
            assert_eq!(rows[0].int(0).unwrap(), 1);
            let rows = c
                .fetch("PRAGMA synchronous", sea_query::Values(vec![]))
                .await
                .unwrap();
            assert_eq!(rows[0].int(0).unwrap(), 1, "NORMAL");
            let rows = c
                .fetch("PRAGMA busy_timeout", sea_query::Values(vec![]))
                .await
                .unwrap();
            assert_eq!(rows[0].int(0).unwrap(), 5000);
        }
    }

    #[tokio::test]
    async fn acquire_times_out_then_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::open(file_config(&dir, 1)).unwrap();
        let held = pool.acquire().await.unwrap();
        let err = pool.acquire().await.err().unwrap();
        assert!(matches!(err, StorageError::Unavailable { .. }), "{err}");
        drop(held);
        pool.acquire().await.unwrap();
    }

    #[tokio::test]
    async fn closed_pool_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::open(file_config(&dir, 2)).unwrap();
        let held = pool.acquire().await.unwrap();
        pool.close();
        drop(held);
        assert!(matches!(
            pool.acquire().await.err().unwrap(),
            StorageError::Unavailable { .. }
        ));
        assert!(pool.shared.idle().is_empty());
    }

    #[tokio::test]
    async fn missing_directory_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = file_config(&dir, 1);
        config.target = Target::File {
            path: dir.path().join("no/such/dir/x.db"),
            create: true,
        };
        assert!(matches!(
            Pool::open(config).err().unwrap(),
            StorageError::Unavailable { .. }
        ));
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let err = Pool::open(file_config(&dir, 1)).err().unwrap();
        assert!(matches!(err, StorageError::Unavailable { .. }), "{err}");
    }

    #[tokio::test]
    async fn rw_mode_does_not_create() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = file_config(&dir, 1);
        config.target = Target::File {
            path: dir.path().join("absent.db"),
            create: false,
        };
        assert!(Pool::open(config).is_err());
        assert!(!dir.path().join("absent.db").exists());
    }

    #[tokio::test]
    async fn memory_is_one_shared_connection() {
        let pool = Pool::open(PoolConfig {
            target: Target::Memory,
            size: 10,
            min_idle: 3,
            idle_timeout: Duration::ZERO,
            acquire_timeout: Duration::from_millis(100),
            busy_timeout: BUSY_TIMEOUT,
        })
        .unwrap();
        {
            let mut c = pool.acquire().await.unwrap();
            c.execute("CREATE TABLE t (x INTEGER)", sea_query::Values(vec![]))
                .await
                .unwrap();
            // The only connection is taken: a second caller waits, then times out.
            assert!(pool.acquire().await.is_err());
        }
        let mut c = pool.acquire().await.unwrap();
        c.execute("INSERT INTO t (x) VALUES (1)", sea_query::Values(vec![]))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn idle_connections_expire_but_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = file_config(&dir, 4);
        config.idle_timeout = Duration::from_millis(1);
        let pool = Pool::open(config).unwrap();
        let a = pool.acquire().await.unwrap();
        let b = pool.acquire().await.unwrap();
        let c = pool.acquire().await.unwrap();
        drop((a, b, c));
        assert_eq!(pool.shared.idle().len(), 3);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let d = pool.acquire().await.unwrap();
        assert!(pool.shared.idle().is_empty());
        drop(d);
        assert_eq!(pool.shared.idle().len(), 1);
    }
}
