//! The transaction frame on a Galera node, which turns a transaction that Galera
//! aborted without telling the client into a `Retryable` failure at commit.
//!
//! A transaction that conflicts with a replicated one is aborted by the applier
//! ("brute-force abort"). Usually the next statement of the client gets error
//! 1213 and the transaction runner retries. But MariaDB 10.11 sometimes rolls the
//! victim back with no error at all: with a probe after every statement of the
//! 64-task wrong-code race spread over three nodes, `@@in_transaction` was 0
//! right after a statement that had succeeded 6 times in 36 runs (46,080
//! committed transactions); this frame caught 2 in 45 runs (57,600). With
//! `autocommit = 1` the statements that follow would then each commit on their
//! own, outside the transaction and its locks: a read-modify-write loses its
//! atomicity (the race saw two tasks read the same failed-attempt count).
//!
//! So on Galera a transaction runs with `autocommit = 0` and opens a savepoint:
//! statements after a silent abort only open a new implicit transaction, and
//! commit first releases the savepoint, which exists only in the transaction
//! that created it. `RELEASE SAVEPOINT` failing with error 1305 means the
//! transaction was lost: nothing after the loss was committed; it is rolled back
//! and reported `Retryable`, so the runner runs the closure again. The frame
//! costs no round trip: the savepoint rides with `START TRANSACTION`, the release
//! and the `autocommit` reset with `COMMIT` (a multi-statement stops at its first
//! error, so a failed release never reaches `COMMIT`).

use storage_api::StorageError;

/// The savepoint every Galera transaction opens.
const SAVEPOINT: &str = "galera_tx";

/// Error number of `RELEASE SAVEPOINT` when the savepoint does not exist.
pub const ER_SP_DOES_NOT_EXIST: u16 = 1305;

/// `BEGIN` of a Galera transaction: autocommit off, then `start` (the isolation and
/// `START TRANSACTION` of every MySQL transaction), then the savepoint.
pub fn begin_sql(start: &str) -> String {
    format!("SET autocommit = 0; {start}; SAVEPOINT {SAVEPOINT}")
}

/// `COMMIT` of a Galera transaction: the savepoint is released first (error
/// 1305 if the transaction was silently aborted), then commit, then autocommit
/// back on.
pub const COMMIT_SQL: &str = "RELEASE SAVEPOINT galera_tx; COMMIT; SET autocommit = 1";

/// Rolls back whatever is open (the transaction, or the implicit one that
/// followed a silent abort) and turns autocommit back on.
pub const ROLLBACK_SQL: &str = "ROLLBACK; SET autocommit = 1";

/// The error reported when `RELEASE SAVEPOINT` shows the transaction was lost.
pub fn lost_transaction() -> StorageError {
    StorageError::Retryable {
        message: format!(
            "Galera aborted the transaction without an error (savepoint `{SAVEPOINT}` \
             gone at commit); nothing of it was committed"
        ),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_names_the_savepoint() {
        let sql = begin_sql("START TRANSACTION");
        assert_eq!(
            sql,
            "SET autocommit = 0; START TRANSACTION; SAVEPOINT galera_tx"
        );
        assert!(COMMIT_SQL.starts_with(&format!("RELEASE SAVEPOINT {SAVEPOINT};")));
        assert!(COMMIT_SQL.ends_with("SET autocommit = 1"));
        assert!(ROLLBACK_SQL.ends_with("SET autocommit = 1"));
    }
}
