//! The embedded MySQL/MariaDB migrations (`migrations/NNNN_name.{up,down}.sql`).

use storage_api::Migration;
use storage_api::migrate::MigrationKind;

/// The embedded migrations, ascending.
pub(crate) static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "phase1",
        kind: MigrationKind::SuperTokens,
        up: include_str!("../migrations/0001_phase1.up.sql"),
        down: Some(include_str!("../migrations/0001_phase1.down.sql")),
        // The pre-release version 1, which mixed the project's additions into the
        // plugin's layout under other key names (CHANGELOG.md).
        replaces: &["beaab220fc12ef951cfc08a045a56393a901a329a119a4702dd72748768755a6"],
    },
    Migration {
        version: 2,
        name: "project",
        kind: MigrationKind::Project,
        up: include_str!("../migrations/0002_project.up.sql"),
        down: Some(include_str!("../migrations/0002_project.down.sql")),
        replaces: &[],
    },
    Migration {
        version: 3,
        name: "phase2",
        kind: MigrationKind::SuperTokens,
        up: include_str!("../migrations/0003_phase2.up.sql"),
        down: Some(include_str!("../migrations/0003_phase2.down.sql")),
        replaces: &[],
    },
];

/// The embedded MySQL/MariaDB migrations, ascending by version: 1 is SuperTokens'
/// plugin layout, 2 the project's additions (binary collation, times joined, grace
/// columns, the oldest-first pagination indexes).
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}
