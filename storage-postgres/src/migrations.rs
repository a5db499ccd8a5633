//! The embedded PostgreSQL migrations (`migrations/NNNN_name.{up,down}.sql`).

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
        // plugin's layout under other index names (CHANGELOG.md).
        replaces: &["350f01794b2d704b006d6117cf27a33a38d790028f8e844bc162033c50049abf"],
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

/// The embedded PostgreSQL migrations, ascending by version: 1 and 3 are SuperTokens' plugin
/// layout (phase 1, phase 2), 2 the project's additions.
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}
