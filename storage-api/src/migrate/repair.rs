//! Clearing the history rows a failed run left behind.

use super::driver::{HistoryRow, HistoryState, MigrationDriver};
use super::error::MigrateError;
use super::lock;
use super::now_ms;
use super::up_down::UpOptions;

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
    lock::acquire(driver, options).await?;
    let result = repair_locked(driver, assume_applied).await;
    lock::release(driver, options, result).await
}

async fn repair_locked(
    driver: &mut dyn MigrationDriver,
    assume_applied: bool,
) -> Result<RepairReport, MigrateError> {
    {
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
}
