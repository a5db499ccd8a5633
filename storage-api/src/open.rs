//! Opening a storage by URI (contract section 6). A backend crate registers its
//! schemes with [`inventory::submit!`]; linking it into a binary makes them available.

use crate::error::{Result, StorageError};
use crate::traits::Storage;
use crate::tx::BoxFuture;
use crate::uri::ConnectionUri;
use std::sync::Arc;
use std::time::Duration;

pub use inventory;

/// A backend linked into the binary. Backend crates submit one with
/// `storage_api::inventory::submit!`.
pub struct Backend {
    /// Name shown in errors and logs (`sqlite`, `postgresql`, `mysql`).
    pub name: &'static str,
    /// URI schemes it serves.
    pub schemes: &'static [&'static str],
    /// Prefix of its environment variables (`POSTGRESQL`, `MYSQL`, `SQLITE`).
    pub env_prefix: &'static str,
    /// Opens a storage; the options already hold the environment's values.
    pub open: OpenFn,
}

/// How a backend opens a storage.
pub type OpenFn = fn(ConnectionUri, OpenOptions) -> BoxFuture<'static, Result<Arc<dyn Storage>>>;

inventory::collect!(Backend);

/// Every backend linked into this binary.
pub fn linked_backends() -> Vec<&'static Backend> {
    let mut v: Vec<_> = inventory::iter::<Backend>.into_iter().collect();
    v.sort_by_key(|b| b.name);
    v
}

/// Every URI scheme linked into this binary, sorted.
pub fn linked_schemes() -> Vec<&'static str> {
    let mut v: Vec<_> = linked_backends()
        .into_iter()
        .flat_map(|b| b.schemes.iter().copied())
        .collect();
    v.sort();
    v
}

/// The backend serving `scheme`, or a `Config` error listing the linked schemes.
pub fn backend_for(scheme: &str) -> Result<&'static Backend> {
    linked_backends()
        .into_iter()
        .find(|b| b.schemes.contains(&scheme))
        .ok_or_else(|| {
            let linked = linked_schemes();
            StorageError::Config(format!(
                "no backend for URI scheme `{scheme}` is linked into this binary; linked schemes: {}",
                if linked.is_empty() {
                    "none".to_owned()
                } else {
                    linked.join(", ")
                }
            ))
        })
}

/// Pool and naming options. Unset fields are filled from the backend's environment
/// variables (`<PREFIX>_TABLE_NAMES_PREFIX`, `<PREFIX>_TABLE_SCHEMA`,
/// `<PREFIX>_CONNECTION_POOL_SIZE`, `<PREFIX>_MINIMUM_IDLE_CONNECTIONS`,
/// `<PREFIX>_IDLE_CONNECTION_TIMEOUT` and `<PREFIX>_CONNECTION_TIMEOUT`, both in
/// milliseconds), then from the defaults.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Table-name prefix, joined with `_` (`st` gives `st_session_info`).
    pub table_prefix: Option<String>,
    /// PostgreSQL schema (created if missing).
    pub schema: Option<String>,
    /// Maximum pool size (default 10).
    pub pool_size: Option<u32>,
    /// Minimum idle connections (default 0).
    pub min_idle: Option<u32>,
    /// Idle connections older than this are checked or closed (default 60 s).
    pub idle_timeout: Option<Duration>,
    /// Connect and acquire timeout (default 5 s).
    pub connect_timeout: Option<Duration>,
}

/// A set, non-blank environment variable. One that is set but not UTF-8 is a
/// `Config` error, never taken for unset (which would silently fall back to a
/// default: no table prefix, another database).
fn env_var(var: &str) -> Result<Option<String>> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v)),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(StorageError::Config(format!(
            "environment variable {var} is set but is not valid UTF-8"
        ))),
    }
}

fn env(prefix: &str, name: &str) -> Result<Option<String>> {
    env_var(&format!("{prefix}_{name}"))
}

fn env_num<T: std::str::FromStr>(prefix: &str, name: &str) -> Result<Option<T>> {
    match env(prefix, name)? {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            StorageError::Config(format!("{prefix}_{name} must be a non-negative number"))
        }),
    }
}

impl OpenOptions {
    /// Fills every unset field from the environment variables with `prefix`.
    pub fn merge_env(mut self, prefix: &str) -> Result<Self> {
        if self.table_prefix.is_none() {
            self.table_prefix = env(prefix, "TABLE_NAMES_PREFIX")?;
        }
        if self.schema.is_none() {
            self.schema = env(prefix, "TABLE_SCHEMA")?;
        }
        if self.pool_size.is_none() {
            self.pool_size = env_num(prefix, "CONNECTION_POOL_SIZE")?;
        }
        if self.min_idle.is_none() {
            self.min_idle = env_num(prefix, "MINIMUM_IDLE_CONNECTIONS")?;
        }
        if self.idle_timeout.is_none() {
            self.idle_timeout =
                env_num::<u64>(prefix, "IDLE_CONNECTION_TIMEOUT")?.map(Duration::from_millis);
        }
        if self.connect_timeout.is_none() {
            self.connect_timeout =
                env_num::<u64>(prefix, "CONNECTION_TIMEOUT")?.map(Duration::from_millis);
        }
        Ok(self)
    }

    /// The validated table prefix with its `_` joiner (`"st_"`), or `""`.
    pub fn table_prefix(&self) -> Result<String> {
        match self.table_prefix.as_deref().map(str::trim) {
            None | Some("") => Ok(String::new()),
            Some(p) => {
                if p.len() > 32
                    || !p
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    || p.starts_with(|c: char| c.is_ascii_digit())
                {
                    return Err(StorageError::Config(format!(
                        "table prefix `{p}` must be at most 32 lower-case letters, digits or `_`, not starting with a digit"
                    )));
                }
                Ok(format!("{p}_"))
            }
        }
    }

    /// Pool size, default 10, at least 1.
    pub fn pool_size(&self) -> u32 {
        self.pool_size.unwrap_or(10).max(1)
    }
    /// Minimum idle connections, default 0, at most the pool size.
    pub fn min_idle(&self) -> u32 {
        self.min_idle.unwrap_or(0).min(self.pool_size())
    }
    /// Idle timeout, default 60 s.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout.unwrap_or(Duration::from_secs(60))
    }
    /// Connect timeout, default 5 s.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout.unwrap_or(Duration::from_secs(5))
    }
}

/// The SQLite file used when no URI is configured anywhere.
pub const DEFAULT_SQLITE_URI: &str = "sqlite://auth-storage.db";

/// Environment variables consulted, in order, when no explicit URI is given.
pub const URI_ENV_VARS: [&str; 3] = [
    "POSTGRESQL_CONNECTION_URI",
    "MYSQL_CONNECTION_URI",
    "DATABASE_URL",
];

/// Where a URI came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UriSource {
    /// Given explicitly.
    Explicit,
    /// Read from this environment variable.
    Env(String),
    /// The embedded SQLite default.
    Default,
}

impl std::fmt::Display for UriSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UriSource::Explicit => f.write_str("explicit URI"),
            UriSource::Env(v) => write!(f, "environment variable {v}"),
            UriSource::Default => f.write_str("embedded SQLite default"),
        }
    }
}

/// Resolves the URI in the contract's order: `explicit`, `POSTGRESQL_CONNECTION_URI`,
/// `MYSQL_CONNECTION_URI`, `DATABASE_URL`, else [`DEFAULT_SQLITE_URI`].
pub fn resolve_uri(explicit: Option<&str>) -> Result<(UriSource, ConnectionUri)> {
    if let Some(u) = explicit {
        return Ok((UriSource::Explicit, ConnectionUri::parse(u)?));
    }
    for var in URI_ENV_VARS {
        if let Some(v) = env_var(var)? {
            let uri = ConnectionUri::parse(&v)
                .map_err(|e| StorageError::Config(format!("{var}: {e}")))?;
            return Ok((UriSource::Env(var.to_owned()), uri));
        }
    }
    Ok((
        UriSource::Default,
        ConnectionUri::parse(DEFAULT_SQLITE_URI)?,
    ))
}

/// Opens a storage for `uri` with the backend that serves its scheme; unset options
/// come from that backend's environment variables. Does not migrate: call
/// [`crate::migrate_up`] (or run the `migrate` CLI) first.
pub async fn open(uri: &str, options: OpenOptions) -> Result<Arc<dyn Storage>> {
    open_parsed(ConnectionUri::parse(uri)?, options).await
}

/// Like [`open`], with an already parsed URI.
pub async fn open_parsed(uri: ConnectionUri, options: OpenOptions) -> Result<Arc<dyn Storage>> {
    let backend = backend_for(&uri.scheme)?;
    let options = options.merge_env(backend.env_prefix)?;
    (backend.open)(uri, options).await
}

/// Opens the storage the environment names (see [`resolve_uri`]), or the embedded
/// SQLite default.
pub async fn open_from_env(options: OpenOptions) -> Result<Arc<dyn Storage>> {
    let (_, uri) = resolve_uri(None)?;
    open_parsed(uri, options).await
}
