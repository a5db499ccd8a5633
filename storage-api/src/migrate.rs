//! The shared migration runner. A backend feeds it with its embedded SQL and a
//! [`MigrationDriver`] (its lock, its history table, how it runs a script); the runner
//! does pending detection, ordering, checksums and consistency checks once for all.

use crate::error::StorageError;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// One embedded migration. Its SQL is a template in which `{prefix}` stands for the
/// table-name prefix (`st_` or empty); nothing else is interpolated.
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
}

impl Migration {
    /// SHA-256 of the up template, hex; independent of the prefix.
    pub fn checksum(&self) -> String {
        checksum(self.up)
    }
}

/// SHA-256 of `sql`, lower-case hex.
pub fn checksum(sql: &str) -> String {
    let d = Sha256::digest(sql.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Replaces `{prefix}` in a template.
pub fn render(template: &str, prefix: &str) -> String {
    template.replace("{prefix}", prefix)
}

/// Splits a script into statements at `;` that end a line, skipping comment-only and
/// empty statements. Migration scripts are written so that this is exact.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") && cur.trim().is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if trimmed.ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().to_owned();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    let rest = cur.trim().trim_end_matches(';').trim();
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
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
}

/// A failure while running one statement of a migration.
#[derive(Debug)]
pub struct StatementFailure {
    /// Index of the statement in the step.
    pub index: usize,
    /// The error.
    pub error: StorageError,
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
    /// row first, then the statements, then `applied`.
    async fn apply(&mut self, step: &Step, now_ms: i64) -> Result<(), StatementFailure>;
    /// Runs a down script and deletes the history row (atomically where possible).
    async fn revert(&mut self, step: &Step) -> Result<(), StatementFailure>;
    /// Inserts or replaces a history row without running anything (baseline, repair).
    async fn record(&mut self, row: &HistoryRow) -> Result<(), StorageError>;
    /// Deletes a history row without running anything (repair).
    async fn forget(&mut self, version: u32) -> Result<(), StorageError>;
    /// Names of the existing tables (with prefix), for baseline detection.
    async fn existing_tables(&mut self) -> Result<Vec<String>, StorageError>;
}

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
}

/// Status of one known migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MigrationStatus {
    /// Applied, with its history row.
    Applied(HistoryRow),
    /// Not applied yet.
    Pending,
    /// Started but never finished.
    Failed(HistoryRow),
    /// Applied, but the embedded SQL changed since.
    Changed {
        /// The history row.
        row: HistoryRow,
        /// The current checksum.
        current: String,
    },
}

/// Status of every known migration, plus versions in the history that are unknown.
#[derive(Clone, Debug)]
pub struct StatusReport {
    /// (migration, status), ascending.
    pub migrations: Vec<(Migration, MigrationStatus)>,
    /// History rows of versions this binary does not know.
    pub unknown: Vec<HistoryRow>,
}

impl StatusReport {
    /// Versions pending.
    pub fn pending(&self) -> Vec<u32> {
        self.migrations
            .iter()
            .filter(|(_, s)| *s == MigrationStatus::Pending)
            .map(|(m, _)| m.version)
            .collect()
    }

    /// The first inconsistency: failed row, changed checksum, unknown version, or a
    /// pending migration older than an applied one.
    pub fn check(&self) -> Result<(), MigrateError> {
        let mut newest_applied = 0;
        for (m, s) in &self.migrations {
            match s {
                MigrationStatus::Failed(_) => {
                    return Err(MigrateError::FailedRow {
                        version: m.version,
                        name: m.name.into(),
                    });
                }
                MigrationStatus::Changed { row, current } => {
                    return Err(MigrateError::ChecksumMismatch {
                        version: m.version,
                        name: m.name.into(),
                        recorded: row.checksum.clone(),
                        current: current.clone(),
                    });
                }
                MigrationStatus::Applied(_) => newest_applied = newest_applied.max(m.version),
                MigrationStatus::Pending => {}
            }
        }
        if let Some(u) = self.unknown.first() {
            return Err(MigrateError::UnknownVersion { version: u.version });
        }
        for (m, s) in &self.migrations {
            if *s == MigrationStatus::Pending && m.version < newest_applied {
                return Err(MigrateError::OutOfOrder {
                    version: m.version,
                    newest_applied,
                });
            }
        }
        Ok(())
    }
}

/// Reads the status of every migration without changing anything.
pub async fn status(driver: &mut dyn MigrationDriver) -> Result<StatusReport, MigrateError> {
    let history = if driver.history_table_exists().await? {
        driver.history().await?
    } else {
        Vec::new()
    };
    Ok(build_status(driver.migrations(), history))
}

fn build_status(known: &'static [Migration], history: Vec<HistoryRow>) -> StatusReport {
    let migrations = known
        .iter()
        .map(|m| {
            let s = match history.iter().find(|r| r.version == m.version) {
                None => MigrationStatus::Pending,
                Some(r) if r.state == HistoryState::Started => MigrationStatus::Failed(r.clone()),
                Some(r) if r.checksum != m.checksum() => MigrationStatus::Changed {
                    row: r.clone(),
                    current: m.checksum(),
                },
                Some(r) => MigrationStatus::Applied(r.clone()),
            };
            (*m, s)
        })
        .collect();
    let unknown = history
        .into_iter()
        .filter(|r| !known.iter().any(|m| m.version == r.version))
        .collect();
    StatusReport {
        migrations,
        unknown,
    }
}

/// Options of [`up`].
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// Apply up to and including this version (all when `None`).
    pub to: Option<u32>,
    /// Take the migration lock (default true).
    pub lock: bool,
    /// How long to wait for the lock.
    pub lock_timeout: Duration,
}

impl Default for UpOptions {
    fn default() -> Self {
        Self {
            to: None,
            lock: true,
            lock_timeout: Duration::from_secs(60),
        }
    }
}

/// One applied migration in an [`UpReport`].
#[derive(Clone, Debug)]
pub struct AppliedStep {
    /// Version.
    pub version: u32,
    /// Name.
    pub name: String,
    /// Time taken.
    pub elapsed: Duration,
}

/// What [`up`] did.
#[derive(Clone, Debug, Default)]
pub struct UpReport {
    /// Migrations applied by this run, in order.
    pub applied: Vec<AppliedStep>,
}

/// Renders the step of migration `m` for `prefix`.
pub fn step_for(m: &Migration, prefix: &str) -> Step {
    Step {
        version: m.version,
        name: m.name.to_owned(),
        checksum: m.checksum(),
        statements: split_statements(&render(m.up, prefix)),
    }
}

/// The migrations `up` would apply now, in order, without taking the lock.
pub async fn plan_up(
    driver: &mut dyn MigrationDriver,
    to: Option<u32>,
) -> Result<Vec<Step>, MigrateError> {
    let report = status(driver).await?;
    report.check()?;
    let prefix = driver.table_prefix().to_owned();
    Ok(report
        .migrations
        .iter()
        .filter(|(m, s)| *s == MigrationStatus::Pending && to.is_none_or(|t| m.version <= t))
        .map(|(m, _)| step_for(m, &prefix))
        .collect())
}

/// Applies pending migrations in order under the migration lock, calling `progress`
/// after each one.
pub async fn up(
    driver: &mut dyn MigrationDriver,
    options: &UpOptions,
    progress: &mut (dyn FnMut(&AppliedStep) + Send),
) -> Result<UpReport, MigrateError> {
    if options.lock && !driver.lock(options.lock_timeout).await? {
        return Err(MigrateError::LockTimeout(options.lock_timeout));
    }
    let result = up_locked(driver, options, progress).await;
    if options.lock {
        let unlocked = driver.unlock().await;
        if result.is_ok() {
            unlocked?;
        }
    }
    result
}

async fn up_locked(
    driver: &mut dyn MigrationDriver,
    options: &UpOptions,
    progress: &mut (dyn FnMut(&AppliedStep) + Send),
) -> Result<UpReport, MigrateError> {
    driver.ensure_history_table().await?;
    let steps = plan_up(driver, options.to).await?;
    let mut report = UpReport::default();
    for step in steps {
        let started = Instant::now();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        tracing::info!(version = step.version, name = %step.name, "applying migration");
        driver
            .apply(&step, now_ms)
            .await
            .map_err(|f| failed(&step, f))?;
        let done = AppliedStep {
            version: step.version,
            name: step.name.clone(),
            elapsed: started.elapsed(),
        };
        progress(&done);
        report.applied.push(done);
    }
    Ok(report)
}

fn failed(step: &Step, f: StatementFailure) -> MigrateError {
    match f.error {
        e @ StorageError::Unavailable { .. } => MigrateError::Storage(e),
        e => MigrateError::Failed {
            version: step.version,
            name: step.name.clone(),
            index: f.index + 1,
            statement: step.statements.get(f.index).cloned().unwrap_or_default(),
            source: e,
        },
    }
}

/// The down steps that reverting to `to` would run, newest first.
pub async fn plan_down(
    driver: &mut dyn MigrationDriver,
    to: u32,
) -> Result<Vec<Step>, MigrateError> {
    let report = status(driver).await?;
    let prefix = driver.table_prefix().to_owned();
    let mut steps = Vec::new();
    for (m, s) in report.migrations.iter().rev() {
        if m.version <= to {
            continue;
        }
        match s {
            MigrationStatus::Pending => continue,
            MigrationStatus::Failed(_) => {
                return Err(MigrateError::FailedRow {
                    version: m.version,
                    name: m.name.into(),
                });
            }
            _ => {}
        }
        let down = m.down.ok_or_else(|| MigrateError::NoDownScript {
            version: m.version,
            name: m.name.into(),
        })?;
        steps.push(Step {
            version: m.version,
            name: m.name.to_owned(),
            checksum: m.checksum(),
            statements: split_statements(&render(down, &prefix)),
        });
    }
    Ok(steps)
}

/// Reverts applied migrations above `to`, newest first, under the lock.
pub async fn down(
    driver: &mut dyn MigrationDriver,
    to: u32,
    options: &UpOptions,
    progress: &mut (dyn FnMut(&AppliedStep) + Send),
) -> Result<UpReport, MigrateError> {
    if options.lock && !driver.lock(options.lock_timeout).await? {
        return Err(MigrateError::LockTimeout(options.lock_timeout));
    }
    let result = async {
        let mut report = UpReport::default();
        for step in plan_down(driver, to).await? {
            let started = Instant::now();
            driver.revert(&step).await.map_err(|f| failed(&step, f))?;
            let done = AppliedStep {
                version: step.version,
                name: step.name.clone(),
                elapsed: started.elapsed(),
            };
            progress(&done);
            report.applied.push(done);
        }
        Ok(report)
    }
    .await;
    if options.lock {
        let unlocked = driver.unlock().await;
        if result.is_ok() {
            unlocked?;
        }
    }
    result
}

/// Applies every pending migration of `storage` with default options.
pub async fn migrate_up(storage: &dyn crate::Storage) -> Result<UpReport, MigrateError> {
    let mut driver = storage.migration_driver().await?;
    up(&mut *driver, &UpOptions::default(), &mut |_| {}).await
}

// ---------------------------------------------------------------- baseline and repair

/// Base names (without prefix) of the tables that a migration template creates, in
/// order: every `CREATE TABLE [IF NOT EXISTS] {prefix}name`, the name optionally
/// quoted with backticks or double quotes. Baseline detection relies on it.
pub fn tables_created(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    for stmt in split_statements(template) {
        let code: String = stmt
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let words: Vec<&str> = code.split_whitespace().collect();
        if words.len() < 3
            || !words[0].eq_ignore_ascii_case("create")
            || !words[1].eq_ignore_ascii_case("table")
        {
            continue;
        }
        let mut i = 2;
        if i + 2 < words.len()
            && words[i].eq_ignore_ascii_case("if")
            && words[i + 1].eq_ignore_ascii_case("not")
            && words[i + 2].eq_ignore_ascii_case("exists")
        {
            i += 3;
        }
        let Some(name) = words.get(i) else { continue };
        let name = name
            .split('(')
            .next()
            .unwrap_or_default()
            .trim_matches(|c| c == '`' || c == '"');
        if let Some(base) = name.strip_prefix("{prefix}")
            && !base.is_empty()
            && !out.iter().any(|t| t == base)
        {
            out.push(base.to_owned());
        }
    }
    out
}

/// What [`plan_baseline`] found in the database for one known migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineFinding {
    /// Version.
    pub version: u32,
    /// Name.
    pub name: String,
    /// Checksum of the up template (what baseline records).
    pub checksum: String,
    /// Tables of the migration that exist, with the prefix.
    pub present: Vec<String>,
    /// Tables of the migration that do not exist, with the prefix.
    pub missing: Vec<String>,
}

/// What [`baseline`] would do, or did.
#[derive(Clone, Debug, Default)]
pub struct BaselinePlan {
    /// Versions already in the history table. When not empty, baseline records
    /// nothing: the database is already managed by the runner.
    pub already_recorded: Vec<u32>,
    /// Migrations whose tables all exist, ascending: recorded as applied without
    /// running them.
    pub to_record: Vec<BaselineFinding>,
    /// Migrations none of whose tables exist (pending after the baseline).
    pub not_found: Vec<BaselineFinding>,
}

impl BaselinePlan {
    /// The schema level found: the newest version recorded (or to record), 0 if none.
    pub fn level(&self) -> u32 {
        self.to_record
            .iter()
            .map(|f| f.version)
            .chain(self.already_recorded.iter().copied())
            .max()
            .unwrap_or(0)
    }
}

/// Why [`baseline`] refused.
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
}

impl From<StorageError> for BaselineError {
    fn from(e: StorageError) -> Self {
        BaselineError::Migrate(MigrateError::Storage(e))
    }
}

/// Detects the schema level of a database created without the runner (SuperTokens'
/// plugins create their tables at start-up and keep no history): each known
/// migration, in order, counts as contained when every table it creates exists with
/// the configured prefix. Changes nothing.
pub async fn plan_baseline(
    driver: &mut dyn MigrationDriver,
) -> Result<BaselinePlan, BaselineError> {
    let mut plan = BaselinePlan::default();
    if driver.history_table_exists().await? {
        plan.already_recorded = driver.history().await?.iter().map(|r| r.version).collect();
        if !plan.already_recorded.is_empty() {
            return Ok(plan);
        }
    }
    let prefix = driver.table_prefix().to_owned();
    let existing: std::collections::HashSet<String> = driver
        .existing_tables()
        .await?
        .into_iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    for m in driver.migrations() {
        let tables = tables_created(m.up);
        if tables.is_empty() {
            // A migration that creates no table cannot be recognised: stop here.
            break;
        }
        let (present, missing): (Vec<String>, Vec<String>) = tables
            .iter()
            .map(|t| format!("{prefix}{t}"))
            .partition(|t| existing.contains(&t.to_ascii_lowercase()));
        let finding = BaselineFinding {
            version: m.version,
            name: m.name.to_owned(),
            checksum: m.checksum(),
            present,
            missing,
        };
        let complete = finding.missing.is_empty();
        let absent = finding.present.is_empty();
        if (!complete && !absent) || (complete && !plan.not_found.is_empty()) {
            // Part of this migration, or this one without an earlier one.
            let bad = if complete {
                plan.not_found.remove(0)
            } else {
                finding
            };
            return Err(BaselineError::Partial {
                version: bad.version,
                name: bad.name,
                present: bad.present,
                missing: bad.missing,
            });
        }
        if complete {
            plan.to_record.push(finding);
        } else {
            plan.not_found.push(finding);
        }
    }
    if plan.to_record.is_empty()
        && let Some(first) = driver.migrations().first()
    {
        return Err(BaselineError::NothingFound {
            version: first.version,
            name: first.name.to_owned(),
            prefix,
        });
    }
    Ok(plan)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Adopts a database created without the runner: under the migration lock, detects
/// its level with [`plan_baseline`], creates the history table and records each
/// contained migration as applied without running it. Touches no other table. With
/// history rows already present it records nothing. `options.to` is not used.
pub async fn baseline(
    driver: &mut dyn MigrationDriver,
    options: &UpOptions,
) -> Result<BaselinePlan, BaselineError> {
    if options.lock && !driver.lock(options.lock_timeout).await? {
        return Err(MigrateError::LockTimeout(options.lock_timeout).into());
    }
    let result = async {
        let plan = plan_baseline(driver).await?;
        if !plan.to_record.is_empty() {
            driver.ensure_history_table().await?;
            let now = now_ms();
            for f in &plan.to_record {
                driver
                    .record(&HistoryRow {
                        version: f.version,
                        name: f.name.clone(),
                        checksum: f.checksum.clone(),
                        state: HistoryState::Applied,
                        applied_at: now,
                        execution_ms: 0,
                    })
                    .await?;
            }
        }
        Ok(plan)
    }
    .await;
    if options.lock {
        let unlocked = driver.unlock().await;
        if result.is_ok() {
            unlocked?;
        }
    }
    result
}

/// What [`repair`] changed.
#[derive(Clone, Debug, Default)]
pub struct RepairReport {
    /// `started` rows deleted: those migrations are pending again.
    pub forgotten: Vec<HistoryRow>,
    /// `started` rows marked as applied (with the embedded checksum).
    pub marked_applied: Vec<HistoryRow>,
}

/// The history rows left in state `started` by a failed run, which [`repair`]
/// would change. Changes nothing.
pub async fn plan_repair(
    driver: &mut dyn MigrationDriver,
) -> Result<Vec<HistoryRow>, MigrateError> {
    if !driver.history_table_exists().await? {
        return Ok(Vec::new());
    }
    Ok(driver
        .history()
        .await?
        .into_iter()
        .filter(|r| r.state == HistoryState::Started)
        .collect())
}

/// After a failed run, once the operator has fixed the database by hand: under the
/// migration lock, deletes every `started` history row (the migration becomes
/// pending and `up` runs it again) or, with `assume_applied`, marks it applied with
/// the embedded migration's checksum. Changes only the history table.
/// `options.to` is not used.
pub async fn repair(
    driver: &mut dyn MigrationDriver,
    assume_applied: bool,
    options: &UpOptions,
) -> Result<RepairReport, MigrateError> {
    if options.lock && !driver.lock(options.lock_timeout).await? {
        return Err(MigrateError::LockTimeout(options.lock_timeout));
    }
    let result = async {
        let mut report = RepairReport::default();
        let known = driver.migrations();
        for row in plan_repair(driver).await? {
            if assume_applied {
                let checksum = known
                    .iter()
                    .find(|m| m.version == row.version)
                    .map(|m| m.checksum())
                    .unwrap_or_else(|| row.checksum.clone());
                let fixed = HistoryRow {
                    checksum,
                    state: HistoryState::Applied,
                    applied_at: now_ms(),
                    ..row
                };
                driver.record(&fixed).await?;
                report.marked_applied.push(fixed);
            } else {
                driver.forget(row.version).await?;
                report.forgotten.push(row);
            }
        }
        Ok(report)
    }
    .await;
    if options.lock {
        let unlocked = driver.unlock().await;
        if result.is_ok() {
            unlocked?;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements() {
        let s = split_statements("-- c\nCREATE TABLE a (x INT);\n\nCREATE TABLE b (\n y INT\n);\n");
        assert_eq!(
            s,
            vec!["CREATE TABLE a (x INT)", "CREATE TABLE b (\n y INT\n)"]
        );
    }

    #[test]
    fn finds_created_tables() {
        let t = tables_created(
            "-- CREATE TABLE {prefix}nope (x INT);\nCREATE TABLE {prefix}apps (\n x INT\n);\nCREATE INDEX {prefix}i ON {prefix}apps (x);\ncreate table if not exists `{prefix}tenants`(x INT);\nCREATE TABLE \"{prefix}kv\" (x INT);\n",
        );
        assert_eq!(t, vec!["apps", "tenants", "kv"]);
    }

    #[test]
    fn checksum_is_sha256() {
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
