//! What each known migration's state is in one database.

use super::driver::{HistoryRow, HistoryState, Migration, MigrationDriver, MigrationKind};
use super::error::MigrateError;

/// Status of one known migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MigrationStatus {
    /// Applied, with its history row.
    Applied(HistoryRow),
    /// Not applied yet.
    Pending,
    /// Started but never finished.
    Failed(HistoryRow),
    /// Applied by a pre-release build whose script this version replaced (its
    /// checksum is one of [`Migration::replaces`]).
    PreRelease(HistoryRow),
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
                MigrationStatus::PreRelease(row) => {
                    return Err(MigrateError::PreRelease {
                        version: m.version,
                        name: m.name.into(),
                        recorded: row.checksum.clone(),
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
            // A project migration left pending by `baseline` runs after the
            // SuperTokens-layout migrations recorded above it.
            if *s == MigrationStatus::Pending
                && m.version < newest_applied
                && m.kind == MigrationKind::SuperTokens
            {
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
                Some(r) if m.replaces.contains(&r.checksum.as_str()) => {
                    MigrationStatus::PreRelease(r.clone())
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    const fn migration(version: u32, kind: MigrationKind) -> Migration {
        Migration {
            version,
            name: "m",
            kind,
            up: "SELECT 1;",
            down: None,
            replaces: &[],
        }
    }

    static KNOWN: &[Migration] = &[
        migration(1, MigrationKind::SuperTokens),
        migration(2, MigrationKind::Project),
        migration(3, MigrationKind::SuperTokens),
    ];

    fn applied(version: u32) -> HistoryRow {
        HistoryRow {
            version,
            name: "m".into(),
            checksum: KNOWN[0].checksum(),
            state: HistoryState::Applied,
            applied_at: 0,
            execution_ms: 0,
        }
    }

    #[test]
    fn a_pending_project_migration_below_an_applied_one_is_in_order() {
        let report = build_status(KNOWN, vec![applied(1), applied(3)]);
        assert_eq!(report.pending(), vec![2]);
        report
            .check()
            .expect("baseline leaves project migrations pending");
    }

    #[test]
    fn a_pending_supertokens_migration_below_an_applied_one_is_out_of_order() {
        let report = build_status(KNOWN, vec![applied(2), applied(3)]);
        assert!(matches!(
            report.check(),
            Err(MigrateError::OutOfOrder { version: 1, .. })
        ));
    }
}
