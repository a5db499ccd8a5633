//! The transaction model (contract section 4): a re-runnable closure, retried with
//! jittered exponential backoff on `Retryable`, with three outcomes.

use crate::error::StorageError;
use crate::traits::{Storage, Transaction};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A boxed, `Send` future, as returned by transaction closures.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Isolation level of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Isolation {
    /// The backend default: READ COMMITTED on PostgreSQL and MySQL, serialisable
    /// single-writer on SQLite.
    #[default]
    Default,
    /// READ COMMITTED.
    ReadCommitted,
    /// REPEATABLE READ.
    RepeatableRead,
    /// SERIALIZABLE.
    Serializable,
}

/// Options of one transaction.
#[derive(Clone, Debug)]
pub struct TxOptions {
    /// Isolation level.
    pub isolation: Isolation,
    /// How many times the closure may run in all (at least 1).
    pub max_attempts: u32,
    /// First backoff delay; doubled each retry, with full jitter.
    pub base_delay: Duration,
    /// Upper bound of one backoff delay.
    pub max_delay: Duration,
}

impl Default for TxOptions {
    fn default() -> Self {
        Self {
            isolation: Isolation::Default,
            max_attempts: 12,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(200),
        }
    }
}

impl TxOptions {
    /// The delay before retry number `attempt` (1-based): uniformly random in
    /// `[0, min(max_delay, base_delay * 2^(attempt-1))]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let nanos = cap.as_nanos() as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(jitter() % (nanos + 1))
    }
}

fn jitter() -> u64 {
    // A splitmix64 stream seeded from the clock: enough to de-synchronise retries.
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = STATE
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(seed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How a transaction closure ends when it does not return `Ok`.
#[derive(Debug, thiserror::Error)]
pub enum TxError<E> {
    /// A storage error: roll back; retried when [`StorageError::is_retryable`].
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The caller's own failure: roll back and return it.
    #[error("transaction rolled back")]
    Rollback(E),
    /// The caller's own failure that must still be recorded: commit, then return it
    /// (for example a failed passwordless attempt).
    #[error("transaction committed with an error")]
    Commit(E),
}

impl<E> TxError<E> {
    /// The storage error, if this is one.
    pub fn storage(&self) -> Option<&StorageError> {
        match self {
            TxError::Storage(e) => Some(e),
            _ => None,
        }
    }
}

/// Runs `f` in a transaction, retrying the whole closure on `Retryable` errors (from
/// the closure or from commit) with jittered exponential backoff, at most
/// `options.max_attempts` times.
///
/// - `Ok(v)`: commit, return `Ok(v)` (a failing commit returns its error).
/// - `Err(TxError::Storage(e))` or `Err(TxError::Rollback(e))`: roll back, return it.
/// - `Err(TxError::Commit(e))`: commit, then return `Err(TxError::Commit(e))`.
///
/// The closure may run more than once: it must touch nothing outside the database.
/// It receives the transaction and returns a boxed future; capture owned values
/// (clone them) since the future may not borrow from the closure:
///
/// ```no_run
/// # use storage_api::*;
/// # async fn demo(storage: std::sync::Arc<dyn Storage>, tenant: TenantIdentifier) -> Result<(), TxError<()>> {
/// let count = run_transaction(&*storage, &TxOptions::default(), |tx| {
///     let tenant = tenant.clone();
///     Box::pin(async move {
///         let v = tx.kv_get_for_update(&tenant, "counter").await?;
///         let n: i64 = v.map(|v| v.value.parse().unwrap_or(0)).unwrap_or(0) + 1;
///         tx.kv_set(&tenant, "counter", &KeyValue { value: n.to_string(), created_at: 0 }).await?;
///         Ok::<_, TxError<()>>(n)
///     })
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn run_transaction<T, E, F>(
    storage: &dyn Storage,
    options: &TxOptions,
    mut f: F,
) -> Result<T, TxError<E>>
where
    F: for<'t> FnMut(&'t mut dyn Transaction) -> BoxFuture<'t, Result<T, TxError<E>>> + Send,
    T: Send,
    E: Send,
{
    let max = options.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = attempt_once(storage, options, &mut f).await;
        match result {
            Err(TxError::Storage(e)) if e.is_retryable() && attempt < max => {
                tracing::debug!(attempt, error = %e, "retrying transaction");
                tokio::time::sleep(options.backoff(attempt)).await;
            }
            other => return other,
        }
    }
}

async fn attempt_once<T, E, F>(
    storage: &dyn Storage,
    options: &TxOptions,
    f: &mut F,
) -> Result<T, TxError<E>>
where
    F: for<'t> FnMut(&'t mut dyn Transaction) -> BoxFuture<'t, Result<T, TxError<E>>> + Send,
{
    let mut tx = storage.begin(options).await?;
    let out = f(&mut *tx).await;
    match out {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(TxError::Commit(e)) => {
            tx.commit().await?;
            Err(TxError::Commit(e))
        }
        Err(e) => {
            // A failed rollback leaves nothing committed; the closure's error wins.
            if let Err(rb) = tx.rollback().await {
                tracing::debug!(error = %rb, "rollback failed");
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        let o = TxOptions::default();
        for a in 1..40 {
            assert!(o.backoff(a) <= o.max_delay);
        }
    }
}
