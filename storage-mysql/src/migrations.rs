//! The embedded MySQL/MariaDB migrations (`migrations/NNNN_name.{up,down}.sql`).

use storage_api::Migration;

/// The embedded migrations, ascending. Version 1 replaced a pre-release script that
/// mixed the project's additions into the plugin's layout under other key names
/// (CHANGELOG.md).
pub(crate) static MIGRATIONS: &[Migration] = storage_api::embedded_migrations![
    1 "phase1" SuperTokens "0001_phase1"
        ["beaab220fc12ef951cfc08a045a56393a901a329a119a4702dd72748768755a6"];
    2 "project" Project "0002_project" [];
    3 "phase2" SuperTokens "0003_phase2" [];
    4 "linking" Project "0004_linking" [];
    5 "recipes" Project "0005_recipes" [];
    6 "search" Project "0006_search" [];
];

/// The embedded MySQL/MariaDB migrations, ascending by version: 1 is SuperTokens'
/// plugin layout, 2 the project's additions (binary collation, times joined, grace
/// columns, the oldest-first pagination indexes).
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}
