//! The command line: global options and the five commands, with `--help` examples.

use clap::{Args, ColorChoice, Parser, Subcommand, ValueEnum};

const MAIN_EXAMPLES: &str = "\
Where the database comes from, first match wins:
  --database-url URI, --env NAME (the URI is read from that variable),
  POSTGRESQL_CONNECTION_URI, MYSQL_CONNECTION_URI, DATABASE_URL,
  else the SQLite file ./auth-storage.db.
Table prefix and PostgreSQL schema also come from the backend's variables
(POSTGRESQL_TABLE_NAMES_PREFIX, MYSQL_TABLE_NAMES_PREFIX, POSTGRESQL_TABLE_SCHEMA, ...).

Exit codes:
  0  success
  1  migrations pending (status --exit-code)
  2  usage or configuration error (also: refused without --allow-data-loss)
  3  database unreachable
  4  migration failed or history inconsistent (failed row, changed checksum,
     out of order, unknown version), or the lock was not obtained in time

Examples:
  migrate up
  migrate --database-url postgres://auth:secret@db:5432/auth --schema auth up
  migrate --env AUTH_DB_URL status --exit-code
  migrate --table-prefix st up --dry-run > schema.sql
  migrate status --format json";

const UP_EXAMPLES: &str = "\
Each migration runs with its history row under a lock, so several replicas can run
`migrate up` at once: one applies, the others wait and find nothing pending.

Examples:
  migrate up
  migrate up --to 1
  migrate up --dry-run                  # print the SQL, change nothing
  migrate --lock-timeout 300 up         # wait up to 5 minutes for another run
  migrate --no-lock up                  # behind a pooler that breaks session locks";

const DOWN_EXAMPLES: &str = "\
Reverting a migration that drops tables or columns loses their data: it is refused
unless --allow-data-loss is given. Look at the SQL first with --dry-run.

Examples:
  migrate down --to 0 --dry-run
  migrate down --to 0 --allow-data-loss";

const STATUS_EXAMPLES: &str = "\
Shows every known migration: applied (when, how long), pending, failed (a run that
stopped half-way), or changed since it was applied (both checksums). Exits 4 when the
history is inconsistent.

Examples:
  migrate status
  migrate status --exit-code            # exit 1 when something is pending
  migrate status --format json";

const BASELINE_EXAMPLES: &str = "\
For a database created by SuperTokens' PostgreSQL or MySQL plugin (tables but no
history). Migration 1 is exactly the plugin's layout of the phase-1 tables and
jwt_signing_keys; baseline:
  1. finds which migrations the tables already contain (all of migration 1's
     tables must exist, with the table prefix given);
  2. checks every column of those tables: present, and of the type the migration
     creates (VARCHAR(64), BIGINT UNSIGNED, ...);
  3. records those migrations as applied without running them.
Refused, with nothing written: part of a migration's tables (exit 4, the missing
ones listed), a column missing or of another type (exit 4, each difference listed),
no table at all (exit 2: check --table-prefix / --schema).
Reported and left untouched: tables of SuperTokens features this project does not
manage yet (user_metadata, roles, totp_*, ...), columns no migration creates.
Migration 2 (the project's additions) stays pending: run `migrate up` next. On
MySQL/MariaDB it also converts tables that compare text case-insensitively to
utf8mb4_bin, printing each rebuild and its time (`up --dry-run` lists them first).

Examples:
  migrate --table-prefix st baseline --dry-run
  migrate --database-url mysql://st:secret@db/supertokens baseline
  migrate --database-url mysql://st:secret@db/supertokens up --dry-run
  migrate --database-url mysql://st:secret@db/supertokens up";

const REPAIR_EXAMPLES: &str = "\
After a run that failed half-way (MySQL/MariaDB commit DDL as they go), fix the
database by hand, then either forget the failed migration so `up` runs it again, or
mark it applied if you completed it yourself. Changes only the history table.

Examples:
  migrate repair && migrate up
  migrate repair --assume-applied
  migrate repair --dry-run";

/// `migrate`: creates and upgrades the storage schema on SQLite, PostgreSQL and
/// MySQL/MariaDB.
#[derive(Debug, Parser)]
#[command(
    name = "migrate",
    version,
    about = "Creates and upgrades the auth storage schema on SQLite, PostgreSQL or MySQL/MariaDB",
    after_help = MAIN_EXAMPLES,
    color = ColorChoice::Never,
    propagate_version = true
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after the command name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Connection URI (postgres://, mysql://, mariadb://, sqlite://PATH); wins over
    /// every environment variable.
    #[arg(long, global = true, value_name = "URI")]
    pub database_url: Option<String>,

    /// Read the connection URI from this environment variable.
    #[arg(long = "env", global = true, value_name = "NAME")]
    pub env: Option<String>,

    /// Table-name prefix, joined with `_` (`st` gives `st_session_info`).
    #[arg(long, global = true, value_name = "PREFIX")]
    pub table_prefix: Option<String>,

    /// PostgreSQL schema (created if missing); also `currentSchema=` in the URI.
    #[arg(long, global = true, value_name = "SCHEMA")]
    pub schema: Option<String>,

    /// Seconds to wait for the migration lock held by another run.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 60)]
    pub lock_timeout: u64,

    /// Do not take the migration lock (for poolers that break session locks).
    #[arg(long, global = true)]
    pub no_lock: bool,

    /// Print the exact SQL (with the configured table names) and change nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Output format: `text` for people, `json` for one JSON document on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for people.
    Text,
    /// Exactly one JSON document on stdout, errors included.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations in order.
    #[command(after_help = UP_EXAMPLES)]
    Up {
        /// Apply up to and including this version only.
        #[arg(long, value_name = "VERSION")]
        to: Option<u32>,
    },
    /// Revert applied migrations above a version, newest first.
    #[command(after_help = DOWN_EXAMPLES)]
    Down {
        /// Keep this version and the ones below it (0 reverts everything).
        #[arg(long, value_name = "VERSION")]
        to: u32,
        /// Allow reverting migrations that drop tables or columns with their data.
        #[arg(long)]
        allow_data_loss: bool,
    },
    /// List every known migration: applied, pending, failed or changed.
    #[command(after_help = STATUS_EXAMPLES)]
    Status {
        /// Exit with 1 when a migration is pending.
        #[arg(long)]
        exit_code: bool,
    },
    /// Adopt a database created by SuperTokens: check its tables, record the
    /// migrations it contains.
    #[command(after_help = BASELINE_EXAMPLES)]
    Baseline,
    /// After a failed run: forget the failed migration, or mark it applied.
    #[command(after_help = REPAIR_EXAMPLES)]
    Repair {
        /// Mark the failed migration as applied instead (you completed it by hand).
        #[arg(long)]
        assume_applied: bool,
    },
}

impl Command {
    /// The command's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Up { .. } => "up",
            Command::Down { .. } => "down",
            Command::Status { .. } => "status",
            Command::Baseline => "baseline",
            Command::Repair { .. } => "repair",
        }
    }

    /// Whether the command (without `--dry-run`) may change the database.
    pub fn changes_database(&self) -> bool {
        !matches!(self, Command::Status { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
