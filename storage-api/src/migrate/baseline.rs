//! Adopting a database created by SuperTokens: checking that its tables are the
//! layout of the migrations it holds, then recording those as applied.

use super::driver::{
    HistoryRow, HistoryState, LiveColumn, Migration, MigrationDriver, MigrationKind,
};
use super::error::{BaselineError, MigrateError};
use super::lock;
use super::now_ms;
use super::script::{columns_created, tables_created};
use super::up_down::UpOptions;
use std::collections::{BTreeMap, HashSet};

/// What baseline found of one migration.
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
    /// Migrations whose tables all exist with the columns and types they create,
    /// ascending: recorded as applied without running them.
    pub to_record: Vec<BaselineFinding>,
    /// Migrations none of whose tables exist (pending after the baseline).
    pub not_found: Vec<BaselineFinding>,
    /// Known migrations left pending after the baseline (`up` applies them), ascending:
    /// those of `not_found` and every project migration.
    pub left_pending: Vec<(u32, String)>,
    /// Tables with the prefix that no known migration creates (those of SuperTokens
    /// features this project does not manage yet): found and left untouched.
    pub unmanaged_tables: Vec<String>,
    /// Columns of recorded tables that the migrations do not create
    /// (`table.column`): left untouched.
    pub extra_columns: Vec<String>,
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

/// Detects which migrations the database already holds, from its tables, and checks
/// the columns and types of every table of those migrations. Changes nothing.
///
/// Only SuperTokens-layout migrations ([`MigrationKind::SuperTokens`]) are recorded,
/// in order, while all their tables exist; the project's additions stay pending and
/// `up` applies them afterwards (they tolerate what is already there).
/// Refused: part of a migration's tables ([`BaselineError::Partial`]), a column
/// missing or of another type ([`BaselineError::Mismatch`]), no table at all
/// ([`BaselineError::NothingFound`]).
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
    let existing_tables = driver.existing_tables().await?;
    let existing: HashSet<String> = existing_tables
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    for m in driver.migrations() {
        if m.kind == MigrationKind::Project {
            continue;
        }
        let tables = tables_created(m.up);
        if tables.is_empty() {
            continue;
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
    let Some(first) = driver.migrations().first() else {
        return Ok(plan);
    };
    if plan.to_record.is_empty() {
        return Err(BaselineError::NothingFound {
            version: first.version,
            name: first.name.to_owned(),
            prefix,
        });
    }
    let live = driver.existing_columns().await?;
    let recorded: Vec<&Migration> = driver
        .migrations()
        .iter()
        .filter(|m| plan.to_record.iter().any(|f| f.version == m.version))
        .collect();
    for m in &recorded {
        let differences = differences(&*driver, m, &prefix, &live);
        if !differences.is_empty() {
            return Err(BaselineError::Mismatch {
                version: m.version,
                name: m.name.to_owned(),
                differences,
            });
        }
    }
    plan.extra_columns = extra_columns(&recorded, &prefix, &live);
    let known: HashSet<String> = driver
        .migrations()
        .iter()
        .flat_map(|m| tables_created(m.up))
        .map(|t| format!("{prefix}{t}").to_ascii_lowercase())
        .chain([format!("{prefix}schema_migrations")])
        .collect();
    plan.unmanaged_tables = existing_tables
        .into_iter()
        .filter(|t| !known.contains(&t.to_ascii_lowercase()))
        .collect();
    plan.unmanaged_tables.sort();
    plan.left_pending = driver
        .migrations()
        .iter()
        .filter(|m| !plan.to_record.iter().any(|f| f.version == m.version))
        .map(|m| (m.version, m.name.to_owned()))
        .collect();
    Ok(plan)
}

/// Live columns by lower-cased `table.column`.
fn by_name(live: &[LiveColumn]) -> BTreeMap<String, &LiveColumn> {
    live.iter()
        .map(|c| (format!("{}.{}", c.table, c.column).to_ascii_lowercase(), c))
        .collect()
}

/// Every column `m` creates that is missing or of another type in `live`.
fn differences(
    driver: &dyn MigrationDriver,
    m: &Migration,
    prefix: &str,
    live: &[LiveColumn],
) -> Vec<String> {
    let live = by_name(live);
    let mut out = Vec::new();
    for d in columns_created(m.up) {
        let name = format!("{prefix}{}.{}", d.table, d.column);
        let want = driver.canonical_type(&d.sql_type);
        match live.get(&name.to_ascii_lowercase()) {
            None => out.push(format!(
                "{name}: missing (migration {} creates {want})",
                m.version
            )),
            Some(c) if c.sql_type != want => out.push(format!(
                "{name}: type {}, migration {} creates {want}",
                c.sql_type, m.version
            )),
            Some(_) => {}
        }
    }
    out
}

/// Columns of the tables of `recorded` that none of them creates.
fn extra_columns(recorded: &[&Migration], prefix: &str, live: &[LiveColumn]) -> Vec<String> {
    let tables: HashSet<String> = recorded
        .iter()
        .flat_map(|m| tables_created(m.up))
        .map(|t| format!("{prefix}{t}").to_ascii_lowercase())
        .collect();
    let declared: HashSet<String> = recorded
        .iter()
        .flat_map(|m| columns_created(m.up))
        .map(|d| format!("{prefix}{}.{}", d.table, d.column).to_ascii_lowercase())
        .collect();
    let mut out: Vec<String> = live
        .iter()
        .filter(|c| tables.contains(&c.table.to_ascii_lowercase()))
        .map(|c| format!("{}.{}", c.table, c.column))
        .filter(|n| !declared.contains(&n.to_ascii_lowercase()))
        .collect();
    out.sort();
    out
}

/// Adopts a database created without the runner: under the migration lock, checks it
/// with [`plan_baseline`], creates the history table and records each migration it
/// holds as applied without running it. Touches no other table; on a refusal it writes
/// nothing. With history rows already present it records nothing.
/// `options.to` is not used.
pub async fn baseline(
    driver: &mut dyn MigrationDriver,
    options: &UpOptions,
) -> Result<BaselinePlan, BaselineError> {
    lock::acquire(driver, options).await?;
    let result = baseline_locked(driver).await;
    lock::release(driver, options, result).await
}

async fn baseline_locked(driver: &mut dyn MigrationDriver) -> Result<BaselinePlan, BaselineError> {
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
                .await
                .map_err(MigrateError::Storage)?;
        }
    }
    Ok(plan)
}
