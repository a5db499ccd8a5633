//! Idle connections kept out of sqlx's pool between operations.
//!
//! sqlx 0.9 pings every connection it takes back (`PoolConnection`'s drop handler
//! runs `ping()` before releasing it, with no option to turn that off), which costs
//! one extra round trip per operation and keeps the connection unavailable until the
//! answer comes. So a connection that ends an operation cleanly is *parked* here
//! instead, still checked out from sqlx, and the next operation takes it from here.
//! sqlx's pool stays the connection factory and the bound on their number; a
//! semaphore with one permit per connection bounds the operations in flight, so an
//! operation that finds nothing parked always finds room in sqlx's pool.
//!
//! What sqlx would have checked is checked here, by time instead of on every use:
//! a parked connection idle for longer than the idle timeout, or older than the
//! maximum lifetime, is closed; one that went idle before the last connection-level
//! failure ([`Health`]) is pinged before reuse.

use crate::config::Health;
use sqlx::Connection as _;
use sqlx::mysql::MySql;
use sqlx::pool::PoolConnection;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A parked connection.
pub struct Parked {
    /// The connection, still checked out from sqlx's pool.
    pub conn: PoolConnection<MySql>,
    /// When it was first taken from sqlx's pool (an upper bound on its age).
    pub born: Instant,
    /// When it was parked.
    pub since: Instant,
}

/// The parking and the operation permits of one pool.
#[derive(Debug)]
pub struct Parking {
    idle: Mutex<Vec<Parked>>,
    permits: Arc<Semaphore>,
    idle_timeout: Duration,
    max_lifetime: Duration,
}

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parked")
            .field("since", &self.since)
            .finish_non_exhaustive()
    }
}

impl Parking {
    /// A parking for a pool of `size` connections.
    pub fn new(size: u32, idle_timeout: Duration, max_lifetime: Duration) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1) as usize)),
            idle_timeout,
            max_lifetime,
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Parked>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A permit to run one operation, within `timeout`; `None` on timeout or once
    /// closed (`Err(true)` when closed).
    pub async fn permit(&self, timeout: Duration) -> Result<OwnedSemaphorePermit, bool> {
        match tokio::time::timeout(timeout, self.permits.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(true),
            Err(_) => Err(false),
        }
    }

    /// Connections parked (idle, held out of sqlx's pool).
    pub fn parked(&self) -> usize {
        self.idle().len()
    }

    /// The most recently parked connection that is still fresh; stale ones (idle or
    /// alive for too long) are closed on the way.
    pub fn take(&self) -> Option<Parked> {
        let mut stale = Vec::new();
        let found = {
            let mut idle = self.idle();
            let fresh = |p: &Parked| {
                (self.idle_timeout.is_zero() || p.since.elapsed() <= self.idle_timeout)
                    && p.born.elapsed() <= self.max_lifetime
            };
            // The oldest are at the front.
            while idle.first().is_some_and(|p| !fresh(p)) {
                stale.push(idle.remove(0));
            }
            idle.pop()
        };
        for mut p in stale {
            p.conn.close_on_drop();
        }
        found
    }

    /// Whether a parked connection must be pinged before reuse: it went idle before
    /// the pool's last connection-level failure.
    pub fn suspect(health: &Health, p: &Parked) -> bool {
        health.suspect(p.since.elapsed())
    }

    /// Pings a suspect connection; `None` (the connection closed) if it is dead.
    pub async fn check(mut p: Parked) -> Option<Parked> {
        match p.conn.ping().await {
            Ok(()) => Some(p),
            Err(_) => {
                p.conn.close_on_drop();
                None
            }
        }
    }

    /// Parks a connection that ended an operation cleanly (closes it once the pool
    /// is closed).
    pub fn park(&self, mut conn: PoolConnection<MySql>, born: Instant) {
        if self.permits.is_closed() {
            conn.close_on_drop();
            return;
        }
        self.idle().push(Parked {
            conn,
            born,
            since: Instant::now(),
        });
    }

    /// Refuses new operations and closes every parked connection (so that sqlx's
    /// pool can close).
    pub fn close(&self) {
        self.permits.close();
        let parked = std::mem::take(&mut *self.idle());
        for mut p in parked {
            p.conn.close_on_drop();
        }
    }
}
