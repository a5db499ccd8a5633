//! The load generator: `states.len()` tasks, each calling an operation in a loop until a
//! deadline (or until the work runs out), recording every call's latency.

use crate::ops::Call;
use crate::raw::R;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A boxed call.
pub type BoxFut<'a> = Pin<Box<dyn Future<Output = R<()>> + Send + 'a>>;

/// What one or more runs measured.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Successful calls.
    pub ops: u64,
    /// Wall time of the runs, seconds.
    pub secs: f64,
    /// Latency of every successful call, microseconds.
    pub lat_us: Vec<u32>,
    /// Failed calls.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// Units of work (rows, for delete-expired) done, if counted separately.
    pub units: u64,
}

impl Sample {
    /// Adds another run.
    pub fn merge(&mut self, o: Sample) {
        self.ops += o.ops;
        self.secs += o.secs;
        self.lat_us.extend(o.lat_us);
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        self.units += o.units;
    }

    /// Calls per second.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }

    /// The `q`-quantile of the latencies (0..=1), microseconds.
    pub fn quantile(&mut self, q: f64) -> f64 {
        if self.lat_us.is_empty() {
            return 0.0;
        }
        self.lat_us.sort_unstable();
        let i = ((self.lat_us.len() as f64 - 1.0) * q).round() as usize;
        f64::from(self.lat_us[i])
    }
}

/// Runs `f` on every state concurrently for `dur`, or until `limit` calls have been
/// handed out (numbered from `start`). Returns the sample and the states.
pub async fn run<S: Send + 'static>(
    states: Vec<S>,
    f: for<'a> fn(&'a mut S, Call) -> BoxFut<'a>,
    dur: Duration,
    start: u64,
    limit: u64,
) -> (Sample, Vec<S>) {
    let conc = states.len();
    let next = Arc::new(AtomicU64::new(start));
    let t0 = Instant::now();
    let deadline = t0 + dur;
    let mut handles = Vec::with_capacity(conc);
    for (task, mut st) in states.into_iter().enumerate() {
        let next = next.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 14);
            let (mut errors, mut first, mut j) = (0u64, None, 0u64);
            let mut now = Instant::now();
            while now < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= start.saturating_add(limit) {
                    break;
                }
                let r = f(&mut st, Call { n, task, conc, j }).await;
                let end = Instant::now();
                match r {
                    Ok(()) => lat.push((end - now).as_micros().min(u32::MAX as u128) as u32),
                    Err(e) => {
                        errors += 1;
                        first.get_or_insert(e);
                    }
                }
                now = end;
                j += 1;
            }
            (st, lat, errors, first, now)
        }));
    }
    let mut sample = Sample::default();
    let mut states = Vec::with_capacity(conc);
    let mut last = t0;
    for h in handles {
        let (st, lat, errors, first, end) = h.await.expect("bench task panicked");
        states.push(st);
        sample.ops += lat.len() as u64;
        sample.lat_us.extend(lat);
        sample.errors += errors;
        if sample.first_error.is_none() {
            sample.first_error = first;
        }
        last = last.max(end);
    }
    sample.secs = (last - t0).as_secs_f64();
    (sample, states)
}
