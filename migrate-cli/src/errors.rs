//! What went wrong, its exit code, and what to do next.

use serde_json::{Map, Value, json};
use storage_api::StorageError;
use storage_api::migrate::{BaselineError, MigrateError};

/// Exit codes of `migrate` (migrate.md, "Safety").
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Migrations pending (`status --exit-code`).
    pub const PENDING: i32 = 1;
    /// Usage or configuration error.
    pub const USAGE: i32 = 2;
    /// The database cannot be reached.
    pub const UNAVAILABLE: i32 = 3;
    /// A migration failed or the history is inconsistent.
    pub const FAILED: i32 = 4;
}

/// An error as the CLI reports it.
#[derive(Debug)]
pub struct CliError {
    /// Exit code.
    pub code: i32,
    /// Short machine-readable kind (`unavailable`, `checksum_mismatch`, ...).
    pub kind: &'static str,
    /// What failed.
    pub message: String,
    /// What to do next.
    pub hint: Option<String>,
    /// Extra fields for the JSON document.
    pub details: Map<String, Value>,
}

impl CliError {
    /// A new error without hint or details.
    pub fn new(code: i32, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            kind,
            message: message.into(),
            hint: None,
            details: Map::new(),
        }
    }

    /// A usage or configuration error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(exit::USAGE, "usage", message)
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a detail field.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!(self.kind));
        m.insert("message".into(), json!(self.message));
        m.insert("hint".into(), json!(self.hint));
        for (k, v) in &self.details {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

/// An error's message followed by its sources, each once.
pub fn with_sources(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let more = s.to_string();
        // Skip a source whose text the message already carries (drivers often repeat
        // the server's message at several levels).
        let tail: String = {
            let chars: Vec<char> = more.chars().collect();
            chars[chars.len().saturating_sub(40)..].iter().collect()
        };
        if !more.is_empty() && !text.contains(&tail) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cur = s.source();
    }
    text
}

impl From<StorageError> for CliError {
    fn from(e: StorageError) -> Self {
        let message = with_sources(&e);
        match e {
            StorageError::Unavailable { .. } => CliError::new(exit::UNAVAILABLE, "unavailable", message).hint(
                "check that the database server is running and reachable from here, and that the URI's host, port, user, password and database are right",
            ),
            StorageError::Config(_) | StorageError::InvalidInput { .. } => {
                CliError::new(exit::USAGE, "config", message)
                    .hint("fix the connection URI or options; `migrate --help` lists them")
            }
            _ => CliError::new(exit::FAILED, "database_error", message),
        }
    }
}

impl From<MigrateError> for CliError {
    fn from(e: MigrateError) -> Self {
        let message = with_sources(&e);
        match e {
            MigrateError::Storage(s) => s.into(),
            MigrateError::Failed {
                version,
                name,
                index,
                statement,
                source,
            } => CliError::new(
                exit::FAILED,
                "migration_failed",
                format!(
                    "migration {version} ({name}) failed at statement {index}: {}\n  statement: {statement}",
                    with_sources(&source)
                ),
            )
            .detail("error", with_sources(&source))
                .detail("version", version)
                .detail("name", name)
                .detail("statement_index", index)
                .detail("statement", statement),
            MigrateError::FailedRow { version, name } => {
                CliError::new(exit::FAILED, "failed_row", message)
                    .hint(format!(
                        "a previous run of migration {version} stopped half-way. Look at what it left in the database and either undo it (drop what it created) and run `migrate repair`, so that `migrate up` runs it again, or complete it by hand and run `migrate repair --assume-applied`"
                    ))
                    .detail("version", version)
                    .detail("name", name)
            }
            MigrateError::ChecksumMismatch {
                version,
                name,
                recorded,
                current,
            } => CliError::new(exit::FAILED, "checksum_mismatch", message)
                .hint(
                    "an applied migration must never be edited: run the binary whose migrations match the database, or undo the edit and put the change in a new migration",
                )
                .detail("version", version)
                .detail("name", name)
                .detail("recorded_checksum", recorded)
                .detail("current_checksum", current),
            MigrateError::OutOfOrder {
                version,
                newest_applied,
            } => CliError::new(exit::FAILED, "out_of_order", message)
                .hint("this binary's migrations do not match the database's history: use the binary that applied the newer migration, or revert it first with `migrate down`")
                .detail("version", version)
                .detail("newest_applied", newest_applied),
            MigrateError::UnknownVersion { version } => {
                CliError::new(exit::FAILED, "unknown_version", message)
                    .hint("run a `migrate` binary at least as new as the one that migrated this database")
                    .detail("version", version)
            }
            MigrateError::LockTimeout(d) => CliError::new(exit::FAILED, "lock_timeout", message)
                .hint("another `migrate` may still be running: wait and retry, or raise --lock-timeout. If a connection pooler breaks session locks, use --no-lock and make sure only one migration runs at a time")
                .detail("lock_timeout_secs", d.as_secs()),
            MigrateError::PreRelease {
                version,
                name,
                recorded,
            } => CliError::new(exit::FAILED, "pre_release_layout", message)
                .hint(
                    "`migrate down --to 0 --allow-data-loss --dry-run` shows what the reset drops; keep the rows first",
                )
                .detail("version", version)
                .detail("name", name)
                .detail("recorded_checksum", recorded),
            MigrateError::NoDownScript { version, name } => {
                CliError::new(exit::FAILED, "no_down_script", message)
                    .hint("this migration cannot be reverted automatically; restore a backup or revert it by hand")
                    .detail("version", version)
                    .detail("name", name)
            }
        }
    }
}

impl From<BaselineError> for CliError {
    fn from(e: BaselineError) -> Self {
        let message = with_sources(&e);
        match e {
            BaselineError::Migrate(m) => m.into(),
            BaselineError::NothingFound {
                version,
                name,
                prefix,
            } => CliError::new(exit::USAGE, "nothing_to_baseline", message)
                .hint(format!(
                    "check --table-prefix (now `{prefix}`), --schema and the database name. A new, empty database needs no baseline: run `migrate up`"
                ))
                .detail("version", version)
                .detail("name", name),
            BaselineError::Partial {
                version,
                name,
                present,
                missing,
            } => CliError::new(exit::FAILED, "partial_schema", message)
                .hint(
                    "the tables match no known schema level, so nothing was recorded. Check --table-prefix and --schema; if the database really lacks these tables, let the SuperTokens core that owns it create them first, or create them by hand, then run `migrate baseline` again",
                )
                .detail("version", version)
                .detail("name", name)
                .detail("present", present)
                .detail("missing", missing),
            BaselineError::Mismatch {
                version,
                name,
                differences,
            } => CliError::new(exit::FAILED, "schema_mismatch", message)
                .hint(
                    "the tables are not the layout of SuperTokens' plugin that this migration records (another plugin version, or a hand-made change). Bring the listed columns to the types shown (or let the SuperTokens core that owns the database upgrade it), then run `migrate baseline` again",
                )
                .detail("version", version)
                .detail("name", name)
                .detail("differences", differences),
        }
    }
}
