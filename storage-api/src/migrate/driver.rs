//! What a backend gives the runner: its embedded migrations and a [`MigrationDriver`]
//! on one dedicated connection; the history rows and steps they exchange.

use super::script::checksum;
use crate::error::StorageError;
use async_trait::async_trait;
use std::time::Duration;

/// One embedded migration. Its SQL is a template in which `{prefix}` stands for the
/// table-name prefix (`st_` or empty); nothing else is interpolated by the runner (a
/// driver may expand statements of its own, see [`MigrationDriver::expand`]).
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Version, increasing from 1.
    pub version: u32,
    /// Short name (`phase1`).
    pub name: &'static str,
    /// The up script.
    pub up: &'static str,
    /// The down script, if the migration can be reverted.
    pub down: Option<&'static str>,
    /// Whose layout it creates, which decides how `baseline` and ordering treat it.
    pub kind: MigrationKind,
    /// Checksums of pre-release scripts that this version replaced. A database whose
    /// history records one of them was built by a build that was never released;
    /// `status` and `up` stop with [`MigrateError::PreRelease`](super::MigrateError),
    /// which says what to do.
    pub replaces: &'static [&'static str],
}

/// Whose layout a migration creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationKind {
    /// Tables exactly as SuperTokens' plugins create them: a database created by
    /// SuperTokens already holds them, and `baseline` records the migration when all
    /// its tables exist with the columns and types it creates.
    SuperTokens,
    /// The project's additions to those tables: `baseline` never records them, and
    /// each statement tolerates what it adds being there already, so such a migration
    /// may be applied after later SuperTokens-layout migrations that `baseline`
    /// recorded (it is not out of order).
    Project,
}

impl Migration {
    /// SHA-256 of the up template, hex; independent of the prefix.
    pub fn checksum(&self) -> String {
        checksum(self.up)
    }
}
/// State of a history row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryState {
    /// Written before a non-transactional migration ran; left behind if it failed.
    Started,
    /// Applied completely.
    Applied,
}

impl HistoryState {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryState::Started => "started",
            HistoryState::Applied => "applied",
        }
    }
    /// Parses the stored text.
    pub fn parse(s: &str) -> Self {
        if s == "applied" {
            HistoryState::Applied
        } else {
            HistoryState::Started
        }
    }
}

/// One row of the history table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    /// Version.
    pub version: u32,
    /// Name.
    pub name: String,
    /// Checksum of the up template when it was applied.
    pub checksum: String,
    /// State.
    pub state: HistoryState,
    /// When it was applied (ms since epoch).
    pub applied_at: i64,
    /// How long it took (ms).
    pub execution_ms: i64,
}

/// One migration about to run, rendered.
#[derive(Clone, Debug)]
pub struct Step {
    /// Version.
    pub version: u32,
    /// Name.
    pub name: String,
    /// Checksum of the up template.
    pub checksum: String,
    /// Rendered statements, in order.
    pub statements: Vec<String>,
    /// What some statements do, by index, for the operator (`convert st_apps to
    /// utf8mb4_bin`): printed with the time each took. Most statements have none.
    pub notes: Vec<(usize, String)>,
}

/// A failure while running one statement of a migration.
#[derive(Debug)]
pub struct StatementFailure {
    /// Index of the statement in the step.
    pub index: usize,
    /// The error.
    pub error: StorageError,
}

/// One column of a live table, as the database describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveColumn {
    /// Table name, with the prefix.
    pub table: String,
    /// Column name.
    pub column: String,
    /// The type in the driver's canonical form (see
    /// [`MigrationDriver::canonical_type`]).
    pub sql_type: String,
}

impl LiveColumn {
    /// The columns of the tables whose names start with `prefix`, from catalog rows of
    /// (table, column, type as the server prints it), types put in `canonical` form.
    pub fn of_prefixed_tables(
        rows: impl IntoIterator<Item = (String, String, String)>,
        prefix: &str,
        canonical: impl Fn(&str) -> String,
    ) -> Vec<LiveColumn> {
        rows.into_iter()
            .filter(|(table, _, _)| table.starts_with(prefix))
            .map(|(table, column, printed)| LiveColumn {
                table,
                column,
                sql_type: canonical(&printed),
            })
            .collect()
    }
}

/// What a backend provides to the runner, on one dedicated connection.
#[async_trait]
pub trait MigrationDriver: Send {
    /// Backend name.
    fn backend_name(&self) -> &'static str;
    /// The embedded migrations, ascending.
    fn migrations(&self) -> &'static [Migration];
    /// The table prefix with its joiner (`st_` or empty).
    fn table_prefix(&self) -> &str;
    /// Whether a migration and its history row commit together (PostgreSQL, SQLite).
    fn transactional_ddl(&self) -> bool;
    /// Takes the migration lock, waiting up to `timeout`; false on timeout.
    async fn lock(&mut self, timeout: Duration) -> Result<bool, StorageError>;
    /// Releases the migration lock.
    async fn unlock(&mut self) -> Result<(), StorageError>;
    /// Creates the history table if missing (`{prefix}schema_migrations`).
    async fn ensure_history_table(&mut self) -> Result<(), StorageError>;
    /// Whether the history table exists.
    async fn history_table_exists(&mut self) -> Result<bool, StorageError>;
    /// Every history row, ascending by version.
    async fn history(&mut self) -> Result<Vec<HistoryRow>, StorageError>;
    /// Runs `step` and records it as applied at `now_ms` taking `execution_ms` (the
    /// driver measures): atomically where DDL is transactional; otherwise a `started`
    /// row first, then the statements, then `applied`. Returns how long each
    /// statement took, in order.
    async fn apply(&mut self, step: &Step, now_ms: i64) -> Result<Vec<Duration>, StatementFailure>;
    /// Replaces statements of `step` that the driver computes from the database as it
    /// is (MySQL's collation conversion), just before the step runs or is shown by
    /// `--dry-run`. The default returns the step unchanged.
    async fn expand(&mut self, step: Step) -> Result<Step, StorageError> {
        Ok(step)
    }
    /// Runs a down script and deletes the history row (atomically where possible).
    async fn revert(&mut self, step: &Step) -> Result<(), StatementFailure>;
    /// Inserts or replaces a history row without running anything (baseline, repair).
    async fn record(&mut self, row: &HistoryRow) -> Result<(), StorageError>;
    /// Deletes a history row without running anything (repair).
    async fn forget(&mut self, version: u32) -> Result<(), StorageError>;
    /// Names of the existing tables (with prefix), for baseline detection.
    async fn existing_tables(&mut self) -> Result<Vec<String>, StorageError>;
    /// Every column of the existing tables whose names start with the prefix, types in
    /// canonical form, for baseline verification.
    async fn existing_columns(&mut self) -> Result<Vec<LiveColumn>, StorageError>;
    /// A declared type (`VARCHAR(64)`, `BIGINT UNSIGNED`, `BOOLEAN`) in the form in which
    /// [`existing_columns`](Self::existing_columns) reports the type it creates.
    fn canonical_type(&self, declared: &str) -> String;
}

/// The migrations a backend crate embeds from its `migrations/` folder, ascending:
/// `version name kind "file_stem" [pre-release checksums];` per migration, each with
/// `migrations/<file_stem>.up.sql` and `.down.sql` beside the crate's `src/`.
///
/// ```text
/// static MIGRATIONS: &[storage_api::Migration] = storage_api::embedded_migrations![
///     1 "phase1" SuperTokens "0001_phase1" [];
///     2 "project" Project "0002_project" [];
/// ];
/// ```
#[macro_export]
macro_rules! embedded_migrations {
    ($($version:literal $name:literal $kind:ident $file:literal [$($old:literal),*];)*) => {
        &[$($crate::Migration {
            version: $version,
            name: $name,
            kind: $crate::migrate::MigrationKind::$kind,
            up: include_str!(concat!("../migrations/", $file, ".up.sql")),
            down: Some(include_str!(concat!("../migrations/", $file, ".down.sql"))),
            replaces: &[$($old),*],
        }),*]
    };
}
