//! Applying and reverting migrations.

use super::driver::{Migration, MigrationDriver, StatementFailure, Step};
use super::error::MigrateError;
use super::lock;
use super::script::{render, split_statements};
use super::status::{MigrationStatus, status};
use crate::error::StorageError;
use std::time::{Duration, Instant};

/// Options of [`up`], [`down`], [`baseline`](super::baseline) and
/// [`repair`](super::repair).
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

/// A statement of a step that carries a note (see [`Step::notes`]), with the time it
/// took.
#[derive(Clone, Debug)]
pub struct StatementNote {
    /// What the statement did (`convert st_apps to utf8mb4_bin`).
    pub note: String,
    /// Time taken.
    pub elapsed: Duration,
}

/// One applied (or reverted) migration in an [`UpReport`].
#[derive(Clone, Debug)]
pub struct AppliedStep {
    /// Version.
    pub version: u32,
    /// Name.
    pub name: String,
    /// Time taken.
    pub elapsed: Duration,
    /// The noted statements it ran, in order, with their times.
    pub notes: Vec<StatementNote>,
}

/// What [`up`] or [`down`] did.
#[derive(Clone, Debug, Default)]
pub struct UpReport {
    /// Migrations applied (or reverted) by this run, in order.
    pub applied: Vec<AppliedStep>,
}

/// Renders the step of migration `m` for `prefix`.
pub fn step_for(m: &Migration, prefix: &str) -> Step {
    Step {
        version: m.version,
        name: m.name.to_owned(),
        checksum: m.checksum(),
        statements: split_statements(&render(m.up, prefix)),
        notes: Vec::new(),
    }
}

/// The migrations `up` would apply now, in order, as the driver will run them
/// ([`MigrationDriver::expand`] applied), without taking the lock.
pub async fn plan_up(
    driver: &mut dyn MigrationDriver,
    to: Option<u32>,
) -> Result<Vec<Step>, MigrateError> {
    let report = status(driver).await?;
    report.check()?;
    let prefix = driver.table_prefix().to_owned();
    let mut steps = Vec::new();
    for (m, s) in &report.migrations {
        if *s == MigrationStatus::Pending && to.is_none_or(|t| m.version <= t) {
            steps.push(driver.expand(step_for(m, &prefix)).await?);
        }
    }
    Ok(steps)
}

/// Applies pending migrations in order under the migration lock, calling `progress`
/// after each one.
pub async fn up(
    driver: &mut dyn MigrationDriver,
    options: &UpOptions,
    progress: &mut (dyn FnMut(&AppliedStep) + Send),
) -> Result<UpReport, MigrateError> {
    lock::acquire(driver, options).await?;
    let result = up_locked(driver, options, progress).await;
    lock::release(driver, options, result).await
}

async fn up_locked(
    driver: &mut dyn MigrationDriver,
    options: &UpOptions,
    progress: &mut (dyn FnMut(&AppliedStep) + Send),
) -> Result<UpReport, MigrateError> {
    driver.ensure_history_table().await?;
    let mut report = UpReport::default();
    for step in plan_up(driver, options.to).await? {
        tracing::info!(version = step.version, name = %step.name, "applying migration");
        let done = run_step(driver, &step, Direction::Up).await?;
        progress(&done);
        report.applied.push(done);
    }
    Ok(report)
}

/// Which script of a step runs.
#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down,
}

/// Runs one step through the driver and reports its time and noted statements.
async fn run_step(
    driver: &mut dyn MigrationDriver,
    step: &Step,
    direction: Direction,
) -> Result<AppliedStep, MigrateError> {
    let started = Instant::now();
    let times = match direction {
        Direction::Up => driver.apply(step, super::now_ms()).await,
        Direction::Down => driver.revert(step).await.map(|()| Vec::new()),
    }
    .map_err(|f| failed(step, f))?;
    let notes = step
        .notes
        .iter()
        .map(|(i, note)| StatementNote {
            note: note.clone(),
            elapsed: times.get(*i).copied().unwrap_or_default(),
        })
        .collect();
    Ok(AppliedStep {
        version: step.version,
        name: step.name.clone(),
        elapsed: started.elapsed(),
        notes,
    })
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
            notes: Vec::new(),
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
    lock::acquire(driver, options).await?;
    let result = down_locked(driver, to, progress).await;
    lock::release(driver, options, result).await
}

async fn down_locked(
    driver: &mut dyn MigrationDriver,
    to: u32,
    progress: &mut (dyn FnMut(&AppliedStep) + Send),
) -> Result<UpReport, MigrateError> {
    let mut report = UpReport::default();
    for step in plan_down(driver, to).await? {
        let done = run_step(driver, &step, Direction::Down).await?;
        progress(&done);
        report.applied.push(done);
    }
    Ok(report)
}

/// Applies every pending migration of `storage` with default options.
pub async fn migrate_up(storage: &dyn crate::Storage) -> Result<super::UpReport, MigrateError> {
    let mut driver = storage.migration_driver().await?;
    up(&mut *driver, &UpOptions::default(), &mut |_| {}).await
}
