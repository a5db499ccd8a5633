//! Why the runner stopped.

use crate::error::StorageError;
use std::time::Duration;

/// Why the runner stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The database or configuration failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A statement of a migration failed.
    #[error(
        "migration {version} ({name}) failed at statement {index}: {source}\n  statement: {statement}"
    )]
    Failed {
        /// Version.
        version: u32,
        /// Name.
        name: String,
        /// 1-based statement index.
        index: usize,
        /// The statement text.
        statement: String,
        /// The error.
        source: StorageError,
    },
    /// A history row is in state `started`: a previous run failed half-way.
    #[error(
        "migration {version} ({name}) is marked as failed in the history table; fix the database, then run `migrate repair`"
    )]
    FailedRow {
        /// Version.
        version: u32,
        /// Name.
        name: String,
    },
    /// An applied migration's SQL changed since it was applied.
    #[error(
        "migration {version} ({name}) was changed after it was applied: recorded checksum {recorded}, current {current}"
    )]
    ChecksumMismatch {
        /// Version.
        version: u32,
        /// Name.
        name: String,
        /// Checksum in the history table.
        recorded: String,
        /// Checksum of the embedded SQL.
        current: String,
    },
    /// A pending migration is older than the newest applied one.
    #[error(
        "migration {version} is pending but {newest_applied} is already applied (out of order)"
    )]
    OutOfOrder {
        /// The pending version.
        version: u32,
        /// The newest applied version.
        newest_applied: u32,
    },
    /// The history names a version this binary does not know.
    #[error(
        "the database has migration {version} applied, which this binary does not know; use a newer binary"
    )]
    UnknownVersion {
        /// The unknown version.
        version: u32,
    },
    /// The lock was not obtained in time.
    #[error("could not take the migration lock within {0:?}; another migration may be running")]
    LockTimeout(Duration),
    /// A migration to revert has no down script.
    #[error("migration {version} ({name}) has no down script")]
    NoDownScript {
        /// Version.
        version: u32,
        /// Name.
        name: String,
    },
    /// The history records a pre-release script of this version (see
    /// [`Migration::replaces`](super::Migration)): the tables were laid out by a build
    /// that was never released, and differ from what this version creates.
    #[error(
        "migration {version} ({name}) of this database was applied by a pre-release build \
(recorded checksum {recorded}); its layout differs from this release's, which is \
SuperTokens' own (see CHANGELOG.md). There is no in-place upgrade. Keep the rows \
you need (pg_dump --data-only / mysqldump --no-create-info, or sqlite3 .dump), then run \
`migrate down --to 0 --allow-data-loss` and `migrate up`, and load the rows back"
    )]
    PreRelease {
        /// Version.
        version: u32,
        /// Name.
        name: String,
        /// The checksum the history records.
        recorded: String,
    },
}

/// Why `baseline` adopted nothing.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The database, the lock or the history failed.
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    /// No table of the first migration exists: there is nothing to adopt.
    #[error(
        "no table of migration {version} ({name}) exists with the table prefix `{prefix}`: there is nothing to adopt"
    )]
    NothingFound {
        /// The first migration's version.
        version: u32,
        /// Its name.
        name: String,
        /// The prefix searched for (with its joiner, possibly empty).
        prefix: String,
    },
    /// Some, not all, tables of a migration exist (or a later migration's tables
    /// exist while an earlier one's do not): the schema matches no known level.
    #[error(
        "the database has only part of migration {version} ({name}): found {} of its {} tables; missing: {}",
        .present.len(),
        .present.len() + .missing.len(),
        .missing.join(", ")
    )]
    Partial {
        /// Version.
        version: u32,
        /// Name.
        name: String,
        /// Its tables that exist, with the prefix.
        present: Vec<String>,
        /// Its tables that are missing, with the prefix.
        missing: Vec<String>,
    },
    /// Every table of a migration exists, but some columns are missing or have
    /// another type than the migration creates: adopting it would record a layout the
    /// storage cannot serve. Nothing was written.
    #[error(
        "the tables of migration {version} ({name}) differ from what it creates, so the database was not adopted (nothing was written):\n  {}",
        .differences.join("\n  ")
    )]
    Mismatch {
        /// Version.
        version: u32,
        /// Name.
        name: String,
        /// One line per difference (`session_info.user_id: type text, expected character varying(128)`).
        differences: Vec<String>,
    },
}

impl From<StorageError> for BaselineError {
    fn from(e: StorageError) -> Self {
        BaselineError::Migrate(MigrateError::Storage(e))
    }
}
