//! Read replica routing with read-your-writes.
//!
//! With a read replica configured (`OpenOptions::read_replica_uri`,
//! `POSTGRESQL_READ_REPLICA_CONNECTION_URI`), the reads that `storage-sql` marks as
//! possibly stale (`Stale` there: users, metadata, roles, mappings, pages, counts) may
//! be answered by a streaming replica; everything else runs on the primary.
//!
//! Read-your-writes, by WAL position:
//! - after every committed write (a transaction that wrote, or an autocommit
//!   statement that is not a `SELECT`), the connection that wrote asks the primary
//!   for `pg_current_wal_insert_lsn()`, a position at or after the end of its commit
//!   record, and [`Written`] keeps the maximum over the storage instance. (Not
//!   `pg_current_wal_lsn()`, the position written out so far: with
//!   `synchronous_commit = off` a commit returns before its record is written, and
//!   that position can be before it.)
//! - a possibly stale read goes to the replica only if the replica's replay position
//!   (`pg_last_wal_replay_lsn()`) is at or after that maximum; the last position seen
//!   is cached ([`Replica::replayed`]), and when the cache is behind, the replica
//!   connection taken for the read is asked once (one round trip) before deciding;
//!   if the replica is still behind, the read goes to the primary.
//!
//! So a caller of one storage instance always reads what it wrote before (and what
//! any writer committed before this instance opened, see `lib.rs`), while other
//! cores' writes may appear up to the replica's lag later.
//!
//! A replica that cannot be reached (no connection within the connect timeout, an
//! I/O error, a query cancelled by recovery) is left alone for [`DOWN_PAUSE`]: reads
//! go to the primary meanwhile, and a read that failed on the replica is run again
//! on the primary (`storage-sql`'s `stale_read`), so a replica alone never fails a
//! read. A server that is not in recovery (`pg_last_wal_replay_lsn()` is NULL, a
//! promoted standby) is never read from.

use crate::Shared;
use deadpool_postgres::{Object, Pool};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, SimpleQueryMessage};

/// How long a replica that failed is not used.
pub(crate) const DOWN_PAUSE: Duration = Duration::from_secs(2);

/// A WAL position as PostgreSQL prints it (`16/B374D848`): high and low 32 bits in
/// hexadecimal.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u32::from_str_radix(hi, 16).ok()?;
    let lo = u32::from_str_radix(lo, 16).ok()?;
    Some((u64::from(hi) << 32) | u64::from(lo))
}

/// The first `pg_lsn` value in the rows of a simple query; `None` when there is
/// none or it is NULL.
pub(crate) fn lsn_of(msgs: &[SimpleQueryMessage]) -> Option<u64> {
    msgs.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => r.get(0).and_then(parse_lsn),
        _ => None,
    })
}

/// Runs `sql` (one `SELECT` of one `pg_lsn` value) with the simple protocol (no named
/// statement: it works behind a transaction-mode pooler too). `Ok(None)` when the
/// value is NULL.
async fn lsn_query(client: &Client, sql: &str) -> Result<Option<u64>, tokio_postgres::Error> {
    Ok(lsn_of(&client.simple_query(sql).await?))
}

/// The primary's WAL insert position now (at or after the commit record of every
/// commit that has returned, whether written out yet or not).
pub(crate) async fn primary_lsn(client: &Client) -> Result<Option<u64>, tokio_postgres::Error> {
    lsn_query(client, "SELECT pg_current_wal_insert_lsn()").await
}

/// The WAL position up to which this storage instance has committed writes: reads
/// that may go to the replica wait for (or route around) it.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// The highest primary position recorded after a committed write.
    lsn: AtomicU64,
    /// A write committed (or may have) but its position could not be read: the
    /// next replica read learns the primary's position first.
    unknown: AtomicBool,
}

impl Written {
    /// Records `lsn`, read from the primary after a commit.
    pub(crate) fn note(&self, lsn: u64) {
        self.lsn.fetch_max(lsn, Ordering::AcqRel);
    }

    /// The highest position recorded.
    pub(crate) fn get(&self) -> u64 {
        self.lsn.load(Ordering::Acquire)
    }

    /// Records the primary's position on `client`, right after a commit on it. If
    /// that fails, marks the position unknown (the next replica read asks the
    /// primary first), never failing the write that committed.
    pub(crate) async fn record(&self, client: &Client) {
        self.noted(primary_lsn(client).await);
    }

    /// Records the outcome of reading the primary's position after a commit: the
    /// position, or (none read) the unknown mark.
    pub(crate) fn noted<E>(&self, lsn: Result<Option<u64>, E>) {
        match lsn {
            Ok(Some(lsn)) => self.note(lsn),
            Ok(None) | Err(_) => self.mark_unknown(),
        }
    }

    /// Marks the position unknown (a commit whose outcome is not known).
    pub(crate) fn mark_unknown(&self) {
        self.unknown.store(true, Ordering::Release);
    }

    /// Whether the position is unknown; clears the mark (the caller then reads the
    /// primary's position, and calls [`Written::mark_unknown`] if it cannot).
    pub(crate) fn take_unknown(&self) -> bool {
        self.unknown.swap(false, Ordering::AcqRel)
    }
}

/// The replica: its pool, and what this storage knows of its replay position.
pub(crate) struct Replica {
    /// Connections to the replica.
    pub(crate) pool: Pool,
    /// The replica connections' shared state (scrubber, failure purge).
    pub(crate) shared: Arc<Shared>,
    /// The highest replay position seen on the replica.
    replayed: AtomicU64,
    /// Until when the replica is not used, after a failure.
    down_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("pool", &self.pool.status())
            .field("replayed", &self.replayed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Replica {
    /// A replica served by `pool`.
    pub(crate) fn new(pool: Pool, shared: Arc<Shared>) -> Self {
        Self {
            pool,
            shared,
            replayed: AtomicU64::new(0),
            down_until: Mutex::new(None),
        }
    }

    /// Whether the replica is being left alone after a failure.
    fn resting(&self) -> bool {
        match self.down_until.lock() {
            Ok(mut d) => match *d {
                Some(t) if Instant::now() < t => true,
                Some(_) => {
                    *d = None;
                    false
                }
                None => false,
            },
            Err(_) => false,
        }
    }

    /// Stops using the replica for [`DOWN_PAUSE`].
    pub(crate) fn failed(&self) {
        if let Ok(mut d) = self.down_until.lock() {
            *d = Some(Instant::now() + DOWN_PAUSE);
        }
        tracing::debug!(target: "storage_postgres", pause_ms = DOWN_PAUSE.as_millis() as u64, "replica unavailable; reading from the primary");
    }

    /// A replica connection for a read that must see every write up to `need`, or
    /// `None` when the read must go to the primary (the replica behind `need`, not
    /// a standby, unreachable, or resting after a failure).
    pub(crate) async fn connection_for(&self, need: u64) -> Option<Object> {
        if self.resting() {
            return None;
        }
        let obj = match self.pool.get().await {
            Ok(o) => o,
            Err(_) => {
                self.failed();
                return None;
            }
        };
        if self.replayed.load(Ordering::Acquire) >= need {
            return Some(obj);
        }
        // The cache is behind: ask the replica once, on the connection the read
        // will use.
        match lsn_query(&obj, "SELECT pg_last_wal_replay_lsn()").await {
            Ok(Some(lsn)) => {
                self.replayed.fetch_max(lsn, Ordering::AcqRel);
                (lsn >= need).then_some(obj)
            }
            // Not in recovery: not a replica of anything this storage wrote.
            Ok(None) => None,
            Err(_) => {
                self.shared.connection_failed();
                self.failed();
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text_is_parsed_as_postgres_prints_it() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("0/3000148"), Some(0x0300_0148));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert!(parse_lsn("16/B374D848") > parse_lsn("15/FFFFFFFF"));
        assert_eq!(parse_lsn(""), None);
        assert_eq!(parse_lsn("16"), None);
        assert_eq!(parse_lsn("x/1"), None);
    }

    #[test]
    fn written_keeps_the_maximum_and_the_unknown_mark() {
        let w = Written::default();
        w.note(10);
        w.note(5);
        assert_eq!(w.get(), 10);
        assert!(!w.take_unknown());
        w.mark_unknown();
        assert!(w.take_unknown());
        assert!(!w.take_unknown());
    }
}
