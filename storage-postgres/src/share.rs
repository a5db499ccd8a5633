//! Read sharing: short reads outside a transaction share pooled connections,
//! several callers at a time, so that their statements are pipelined.
//!
//! tokio-postgres lets several tasks use one `Client` at once: each request (Bind,
//! Execute, Sync) is queued to the connection's I/O task, which writes whatever is
//! queued in one go and hands each response to its caller. With eight readers on
//! eight connections every statement costs a write, a read and a wake-up on both
//! sides and a context switch of its own server process; with four readers on each of
//! two connections the same statements travel in fewer, larger writes and keep two
//! server processes busy instead of eight idling in turn. Each statement still has its
//! own Sync, so an error in one caller's statement never touches another's.
//!
//! A shared connection is an ordinary pooled [`Object`] held behind an `Arc`: it goes
//! back to the pool when its last reader is done, so the pool's bound, recycling,
//! idle upkeep and stale-connection purge apply to it unchanged. The rules:
//!
//! - a reader joins the least-loaded shared connection if it has fewer than `depth`
//!   readers; otherwise it takes a new connection from the pool and shares that;
//! - at most half the pool (at least one) is shared, so transactions and writes
//!   always find the rest; with that many shared, readers join beyond `depth`;
//! - while anyone waits for a full pool, shared connections take no new readers (they
//!   drain and return to the pool) and readers queue for the pool like everyone;
//! - a connection that is closed, or opened before the last connection failure, takes
//!   no new readers.
//!
//! `depth` 1 turns sharing off: every read takes a connection of its own.

use crate::Shared;
use deadpool_postgres::{Object, Pool};
use std::sync::{Arc, Mutex, Weak};

/// The shared connections of one storage.
#[derive(Debug)]
pub(crate) struct ReadShare {
    /// Readers per connection before another connection is taken; 1 disables sharing.
    depth: usize,
    /// How many connections may be shared at once.
    max_shared: usize,
    /// The shared connections (weak: each lives as long as its readers).
    slots: Mutex<Vec<Weak<Object>>>,
}

/// What [`ReadShare::pick`] decided.
enum Pick {
    Join(Arc<Object>),
    Take,
    Own,
}

impl ReadShare {
    pub(crate) fn new(depth: usize, pool_size: usize) -> Self {
        Self {
            depth: depth.max(1),
            max_shared: (pool_size / 2).max(1),
            slots: Mutex::new(Vec::new()),
        }
    }

    /// Whether reads are shared at all.
    pub(crate) fn enabled(&self) -> bool {
        self.depth > 1
    }

    fn usable(obj: &Object, shared: &Shared) -> bool {
        !obj.is_closed() && !shared.is_stale(Object::metrics(obj).created)
    }

    fn pick(&self, pool: &Pool, shared: &Shared) -> Pick {
        let Ok(mut slots) = self.slots.lock() else {
            return Pick::Own;
        };
        self.pick_in(&mut slots, pool, shared)
    }

    fn pick_in(&self, slots: &mut Vec<Weak<Object>>, pool: &Pool, shared: &Shared) -> Pick {
        let status = pool.status();
        // deadpool counts callers opening a new connection as waiting too: only a
        // full pool means someone waits for a connection to come back.
        if status.waiting > 0 && status.size >= status.max_size {
            // Let the shared connections drain back to the pool.
            slots.clear();
            return Pick::Own;
        }
        let mut best: Option<Arc<Object>> = None;
        slots.retain(|w| match w.upgrade() {
            Some(o) if Self::usable(&o, shared) => {
                if best
                    .as_ref()
                    .is_none_or(|b| Arc::strong_count(&o) < Arc::strong_count(b))
                {
                    best = Some(o);
                }
                true
            }
            _ => false,
        });
        match best {
            // Each live slot's count includes the `upgrade` held in `best`.
            Some(o) if Arc::strong_count(&o) - 1 < self.depth || slots.len() >= self.max_shared => {
                Pick::Join(o)
            }
            _ => Pick::Take,
        }
    }

    /// A connection for a reader: a shared one, or `None` when the caller should take
    /// an ordinary connection from the pool. `take` gets one from the pool (with
    /// the pool's timeout and error mapping).
    pub(crate) async fn acquire<E, F>(
        &self,
        pool: &Pool,
        shared: &Shared,
        take: F,
    ) -> Result<Option<Arc<Object>>, E>
    where
        F: Future<Output = Result<Object, E>>,
    {
        if !self.enabled() {
            return Ok(None);
        }
        match self.pick(pool, shared) {
            Pick::Join(o) => Ok(Some(o)),
            Pick::Own => Ok(None),
            Pick::Take => {
                let obj = take.await?;
                let Ok(mut slots) = self.slots.lock() else {
                    return Ok(Some(Arc::new(obj)));
                };
                // Readers that arrived together all took a connection: the first to
                // get here shares its own, the others join it while it has room
                // (theirs go straight back to the pool).
                match self.pick_in(&mut slots, pool, shared) {
                    Pick::Join(o) => Ok(Some(o)),
                    Pick::Own => Ok(Some(Arc::new(obj))),
                    Pick::Take => {
                        let obj = Arc::new(obj);
                        if slots.len() < self.max_shared {
                            slots.push(Arc::downgrade(&obj));
                        }
                        Ok(Some(obj))
                    }
                }
            }
        }
    }
}
