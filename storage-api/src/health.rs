//! Pool health: a snapshot of a storage's connection pool ([`PoolHealth`]) and the
//! bookkeeping of callers waiting for a connection ([`WaitMonitor`]), which emits
//! a `tracing` event (target `storage_pool`, level WARN) when a caller waited
//! longer than a threshold.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The default threshold above which a wait for a connection is reported.
pub const DEFAULT_WAIT_THRESHOLD: Duration = Duration::from_millis(100);

/// A wait shorter than this is not counted as one (taking an idle connection
/// costs microseconds).
pub const MIN_COUNTED_WAIT: Duration = Duration::from_millis(1);

/// A snapshot of a storage's connection pool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolHealth {
    /// The most connections the pool opens.
    pub max_size: usize,
    /// Connections open now.
    pub size: usize,
    /// Connections taken by callers now.
    pub in_use: usize,
    /// Open connections no caller holds.
    pub idle: usize,
    /// Callers waiting for a connection now.
    pub waiting: usize,
    /// Acquisitions since opening that took [`MIN_COUNTED_WAIT`] or longer
    /// (waiting for a free connection or for a new one to open).
    pub waits: u64,
    /// Of those, the ones longer than the threshold (each reported by a
    /// `tracing` event).
    pub slow_waits: u64,
    /// The longest single wait since opening.
    pub longest_wait: Duration,
    /// The threshold above which a wait is reported.
    pub wait_threshold: Duration,
}

/// Counts callers waiting for a connection and how long they waited.
#[derive(Debug)]
pub struct WaitMonitor {
    backend: &'static str,
    threshold: Duration,
    waiting: AtomicUsize,
    waits: AtomicU64,
    slow: AtomicU64,
    longest_ns: AtomicU64,
}

/// One caller waiting for a connection; see [`WaitMonitor::start`].
#[derive(Debug)]
pub struct Waiting<'a> {
    monitor: &'a WaitMonitor,
    start: Instant,
}

impl WaitMonitor {
    /// A monitor for `backend` (named in the events) reporting waits longer than
    /// `threshold`.
    pub fn new(backend: &'static str, threshold: Duration) -> Self {
        Self {
            backend,
            threshold,
            waiting: AtomicUsize::new(0),
            waits: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            longest_ns: AtomicU64::new(0),
        }
    }

    /// Starts timing one acquisition; dropping the guard (also when the
    /// acquisition failed or was cancelled) records it.
    pub fn start(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting {
            monitor: self,
            start: Instant::now(),
        }
    }

    /// Callers waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    fn record(&self, waited: Duration) {
        if waited < MIN_COUNTED_WAIT {
            return;
        }
        self.waits.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.longest_ns.fetch_max(ns, Ordering::Relaxed);
        if waited > self.threshold {
            self.slow.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                target: "storage_pool",
                backend = self.backend,
                waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                threshold_ms = u64::try_from(self.threshold.as_millis()).unwrap_or(u64::MAX),
                "a caller waited for a database connection longer than the threshold"
            );
        }
    }

    /// Fills the wait fields of `health` (`waiting`, `waits`, `slow_waits`,
    /// `longest_wait`, `wait_threshold`).
    pub fn fill(&self, health: &mut PoolHealth) {
        health.waiting = self.waiting();
        health.waits = self.waits.load(Ordering::Relaxed);
        health.slow_waits = self.slow.load(Ordering::Relaxed);
        health.longest_wait = Duration::from_nanos(self.longest_ns.load(Ordering::Relaxed));
        health.wait_threshold = self.threshold;
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.monitor.waiting.fetch_sub(1, Ordering::Relaxed);
        self.monitor.record(self.start.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_waits() {
        let m = WaitMonitor::new("test", Duration::from_millis(5));
        drop(m.start());
        {
            let _w = m.start();
            assert_eq!(m.waiting(), 1);
            std::thread::sleep(Duration::from_millis(2));
        }
        {
            let _w = m.start();
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut h = PoolHealth::default();
        m.fill(&mut h);
        assert_eq!((h.waiting, h.waits, h.slow_waits), (0, 2, 1));
        assert!(h.longest_wait >= Duration::from_millis(10));
        assert_eq!(h.wait_threshold, Duration::from_millis(5));
    }
}
