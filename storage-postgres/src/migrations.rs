//! The embedded PostgreSQL migrations (`migrations/NNNN_name.{up,down}.sql`).

use storage_api::Migration;

/// The embedded migrations, ascending. Version 1 replaced a pre-release script that
/// mixed the project's additions into the plugin's layout under other index names
/// (CHANGELOG.md).
pub(crate) static MIGRATIONS: &[Migration] = storage_api::embedded_migrations![
    1 "phase1" SuperTokens "0001_phase1"
        ["350f01794b2d704b006d6117cf27a33a38d790028f8e844bc162033c50049abf"];
    2 "project" Project "0002_project" [];
    3 "phase2" SuperTokens "0003_phase2" [];
    4 "linking" Project "0004_linking" [];
    5 "recipes" Project "0005_recipes" [];
    6 "search" Project "0006_search" [];
];

/// The embedded PostgreSQL migrations, ascending by version: 1 and 3 are SuperTokens' plugin
/// layout (phase 1, phase 2), 2 the project's additions.
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}
