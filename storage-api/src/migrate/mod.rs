//! The shared migration runner. A backend feeds it with its embedded SQL and a
//! [`MigrationDriver`] (its lock, its history table, how it runs a script); the runner
//! does pending detection, ordering, checksums, baseline verification and consistency
//! checks once for all.
//!
//! | file | what |
//! |---|---|
//! | `script.rs` | the text of a migration: checksum, `{prefix}`, statements, the tables and columns it creates |
//! | `driver.rs` | [`Migration`], [`MigrationDriver`] and the rows and steps it exchanges |
//! | `error.rs` | [`MigrateError`], [`BaselineError`] |
//! | `status.rs` | [`status`]: each known migration's state |
//! | `lock.rs` | the migration lock around every command that writes |
//! | `up_down.rs` | [`up`], [`down`] and their plans |
//! | `baseline.rs` | [`baseline`]: adopting a SuperTokens database after checking its tables |
//! | `repair.rs` | [`repair`]: clearing the rows of a failed run |

mod baseline;
mod driver;
mod error;
mod lock;
mod repair;
mod script;
mod status;
mod up_down;

pub use baseline::{BaselineFinding, BaselinePlan, baseline, plan_baseline};
pub use driver::{
    HistoryRow, HistoryState, LiveColumn, Migration, MigrationDriver, MigrationKind,
    StatementFailure, Step,
};
pub use error::{BaselineError, MigrateError};
pub use repair::{RepairReport, plan_repair, repair};
pub use script::{
    DeclaredColumn, check_prefix_length, checksum, columns_created, longest_prefixed_name, render,
    split_statements, tables_created,
};
pub use status::{MigrationStatus, StatusReport, status};
pub use up_down::{
    AppliedStep, StatementNote, UpOptions, UpReport, down, migrate_up, plan_down, plan_up,
    step_for, up,
};

/// Milliseconds since the Unix epoch, 0 if the clock is before it.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
