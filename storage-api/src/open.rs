//! Opening a storage by URI (contract section 6). A backend crate registers its
//! schemes with [`inventory::submit!`]; linking it into a binary makes them available.

use crate::error::{Result, StorageError};
use crate::traits::Storage;
use crate::tx::BoxFuture;
use crate::types::Secret;
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
/// milliseconds, `<PREFIX>_READ_REPLICA_CONNECTION_URI`), then from the defaults.
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
    /// The URI of a read replica of the database (PostgreSQL only; a `Config`
    /// error on the other backends): reads that may be stale go there while it has
    /// replayed this storage's own writes (see the PostgreSQL backend's docs). A
    /// [`Secret`]: it may hold a password, and `Debug` never shows it.
    pub read_replica_uri: Option<Secret>,
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
        if self.read_replica_uri.is_none() {
            self.read_replica_uri = env(prefix, "READ_REPLICA_CONNECTION_URI")?.map(Secret::new);
        }
        Ok(self)
    }

    /// A `Config` error if a read replica is set: for the backends that have no
    /// replica support (`backend` names it in the message).
    pub fn refuse_read_replica(&self, backend: &str) -> Result<()> {
        match self.read_replica_uri {
            Some(_) => Err(StorageError::Config(format!(
                "read replicas are supported on PostgreSQL only, not on {backend}: unset read_replica_uri (READ_REPLICA_CONNECTION_URI)"
            ))),
            None => Ok(()),
        }
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

/// SuperTokens' discrete connection settings: the prefix of the variables
/// (`<PREFIX>_HOST`, `_PORT`, `_USER`, `_PASSWORD`, `_PASSWORD_FILE`,
/// `_DATABASE_NAME`), the scheme of the URI they make and the default port.
pub const DISCRETE_SETTINGS: [(&str, &str, u16); 2] =
    [("POSTGRESQL", "postgresql", 5432), ("MYSQL", "mysql", 3306)];

/// The database SuperTokens uses when `<PREFIX>_DATABASE_NAME` is not set.
pub const DEFAULT_DATABASE_NAME: &str = "supertokens";

/// Where a URI came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UriSource {
    /// Given explicitly.
    Explicit,
    /// Read from this environment variable.
    Env(String),
    /// Built from SuperTokens' discrete settings with this prefix
    /// (`POSTGRESQL_HOST`, `POSTGRESQL_USER`, ...).
    Settings(String),
    /// The embedded SQLite default.
    Default,
}

impl std::fmt::Display for UriSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UriSource::Explicit => f.write_str("explicit URI"),
            UriSource::Env(v) => write!(f, "environment variable {v}"),
            UriSource::Settings(p) => write!(
                f,
                "environment variables {p}_HOST, {p}_PORT, {p}_USER, {p}_PASSWORD(_FILE), {p}_DATABASE_NAME"
            ),
            UriSource::Default => f.write_str("embedded SQLite default"),
        }
    }
}

/// A non-blank value of `var` from `lookup` (the environment, or a map in tests).
type Lookup<'a> = &'a dyn Fn(&str) -> Result<Option<String>>;

/// `<prefix>_PASSWORD`, or the content of the file `<prefix>_PASSWORD_FILE` names
/// (one trailing line break removed), for secrets mounted as files. Both set is a
/// `Config` error; errors name the variable or file, never the password.
fn password(lookup: Lookup<'_>, prefix: &str) -> Result<Option<Secret>> {
    let direct = lookup(&format!("{prefix}_PASSWORD"))?;
    let file = lookup(&format!("{prefix}_PASSWORD_FILE"))?;
    match (direct, file) {
        (Some(_), Some(_)) => Err(StorageError::Config(format!(
            "both {prefix}_PASSWORD and {prefix}_PASSWORD_FILE are set; set one of them"
        ))),
        (Some(p), None) => Ok(Some(Secret::new(p))),
        (None, Some(path)) => {
            let path = path.trim();
            let text = std::fs::read_to_string(path).map_err(|e| {
                StorageError::Config(format!(
                    "{prefix}_PASSWORD_FILE: cannot read `{path}`: {}",
                    e.kind()
                ))
            })?;
            let text = text
                .strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text);
            Ok((!text.is_empty()).then(|| Secret::new(text)))
        }
        (None, None) => Ok(None),
    }
}

fn port(lookup: Lookup<'_>, prefix: &str) -> Result<Option<u16>> {
    match lookup(&format!("{prefix}_PORT"))? {
        None => Ok(None),
        Some(p) => p
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|&n| n != 0)
            .map(Some)
            .ok_or_else(|| {
                StorageError::Config(format!(
                    "{prefix}_PORT must be a number between 1 and 65535"
                ))
            }),
    }
}

/// Fills what a connection URI from the environment leaves out (user, password,
/// host, port, database) from the discrete settings with `prefix`. As in
/// SuperTokens' plugins, a part the URI gives wins over the setting.
fn fill_from_settings(
    mut uri: ConnectionUri,
    lookup: Lookup<'_>,
    prefix: &str,
) -> Result<ConnectionUri> {
    if uri.username.is_none() {
        uri.username = lookup(&format!("{prefix}_USER"))?;
    }
    if uri.password.is_none() {
        uri.password = password(lookup, prefix)?;
    }
    if uri.host.is_none() {
        uri.host = lookup(&format!("{prefix}_HOST"))?.map(|h| h.trim().to_owned());
    }
    if uri.port.is_none() {
        uri.port = port(lookup, prefix)?;
    }
    if uri.path.trim().is_empty()
        && let Some(db) = lookup(&format!("{prefix}_DATABASE_NAME"))?
    {
        uri.path = db.trim().to_owned();
    }
    Ok(uri)
}

/// A URI built from the discrete settings with `prefix`, if any of them is set:
/// host (default `localhost`), port (default `default_port`), user (required, as
/// SuperTokens requires it without a connection URI), password and database name
/// (default [`DEFAULT_DATABASE_NAME`]).
fn from_settings(
    lookup: Lookup<'_>,
    prefix: &str,
    scheme: &str,
    default_port: u16,
) -> Result<Option<ConnectionUri>> {
    let names = [
        "HOST",
        "PORT",
        "USER",
        "PASSWORD",
        "PASSWORD_FILE",
        "DATABASE_NAME",
    ];
    let mut any = false;
    for n in names {
        any |= lookup(&format!("{prefix}_{n}"))?.is_some();
    }
    if !any {
        return Ok(None);
    }
    let Some(user) = lookup(&format!("{prefix}_USER"))? else {
        return Err(StorageError::Config(format!(
            "{prefix}_HOST, {prefix}_PORT, {prefix}_PASSWORD or {prefix}_DATABASE_NAME is set, but neither {prefix}_USER nor {prefix}_CONNECTION_URI; set at least one of these"
        )));
    };
    let empty = ConnectionUri {
        scheme: scheme.to_owned(),
        username: Some(user.trim().to_owned()),
        password: None,
        host: None,
        port: None,
        path: String::new(),
        query: Vec::new(),
    };
    let mut uri = fill_from_settings(empty, lookup, prefix)?;
    uri.host.get_or_insert_with(|| "localhost".to_owned());
    uri.port.get_or_insert(default_port);
    if uri.path.is_empty() {
        uri.path = DEFAULT_DATABASE_NAME.to_owned();
    }
    Ok(Some(uri))
}

/// Resolves the URI in this order: `explicit`; `POSTGRESQL_CONNECTION_URI`;
/// `MYSQL_CONNECTION_URI`; a URI built from SuperTokens' discrete settings
/// `POSTGRESQL_HOST`, `_PORT`, `_USER`, `_PASSWORD` (or `_PASSWORD_FILE`),
/// `_DATABASE_NAME`, then the `MYSQL_*` ones; `DATABASE_URL`; else
/// [`DEFAULT_SQLITE_URI`]. A connection URI from `<PREFIX>_CONNECTION_URI` gets the
/// parts it lacks (user, password, host, port, database) from that prefix's
/// discrete settings; a part the URI gives wins, as in SuperTokens' plugins.
pub fn resolve_uri(explicit: Option<&str>) -> Result<(UriSource, ConnectionUri)> {
    resolve_uri_with(explicit, &env_var)
}

/// [`resolve_uri`] with the environment read through `lookup`.
fn resolve_uri_with(
    explicit: Option<&str>,
    lookup: Lookup<'_>,
) -> Result<(UriSource, ConnectionUri)> {
    if let Some(u) = explicit {
        return Ok((UriSource::Explicit, ConnectionUri::parse(u)?));
    }
    for (prefix, _, _) in DISCRETE_SETTINGS {
        let var = format!("{prefix}_CONNECTION_URI");
        if let Some(v) = lookup(&var)? {
            let uri = ConnectionUri::parse(&v)
                .map_err(|e| StorageError::Config(format!("{var}: {e}")))?;
            let uri = fill_from_settings(uri, lookup, prefix)?;
            return Ok((UriSource::Env(var), uri));
        }
    }
    for (prefix, scheme, port) in DISCRETE_SETTINGS {
        if let Some(uri) = from_settings(lookup, prefix, scheme, port)? {
            return Ok((UriSource::Settings(prefix.to_owned()), uri));
        }
    }
    if let Some(v) = lookup("DATABASE_URL")? {
        let uri = ConnectionUri::parse(&v)
            .map_err(|e| StorageError::Config(format!("DATABASE_URL: {e}")))?;
        return Ok((UriSource::Env("DATABASE_URL".to_owned()), uri));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(vars: &[(&str, &str)]) -> Result<(UriSource, ConnectionUri)> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = move |k: &str| Ok(map.get(k).filter(|v| !v.trim().is_empty()).cloned());
        resolve_uri_with(None, &lookup)
    }

    #[test]
    fn discrete_settings_build_a_uri_with_supertokens_defaults() {
        let (src, u) = resolve(&[("POSTGRESQL_USER", "st")]).unwrap();
        assert_eq!(src, UriSource::Settings("POSTGRESQL".into()));
        assert_eq!(u.scheme, "postgresql");
        assert_eq!(u.host.as_deref(), Some("localhost"));
        assert_eq!(u.port, Some(5432));
        assert_eq!(u.path, "supertokens");
        assert!(u.password.is_none());

        let (_, u) = resolve(&[
            ("MYSQL_HOST", "db.internal"),
            ("MYSQL_PORT", "3307"),
            ("MYSQL_USER", "st"),
            ("MYSQL_PASSWORD", "p@ss:w/rd"),
            ("MYSQL_DATABASE_NAME", "auth"),
        ])
        .unwrap();
        assert_eq!(u.scheme, "mysql");
        assert_eq!(u.host.as_deref(), Some("db.internal"));
        assert_eq!(u.port, Some(3307));
        assert_eq!(u.username.as_deref(), Some("st"));
        assert_eq!(u.password.as_ref().map(|p| p.expose()), Some("p@ss:w/rd"));
        assert_eq!(u.path, "auth");
        // The password survives a round trip through the URI text.
        let again = ConnectionUri::parse(&u.expose()).unwrap();
        assert_eq!(again, u);
        assert!(!format!("{u:?} {u}").contains("p@ss"));
    }

    #[test]
    fn precedence() {
        // A connection URI wins over discrete settings of any backend...
        let (src, u) = resolve(&[
            ("MYSQL_CONNECTION_URI", "mysql://a@h1/db1"),
            ("POSTGRESQL_USER", "st"),
        ])
        .unwrap();
        assert_eq!(src, UriSource::Env("MYSQL_CONNECTION_URI".into()));
        assert_eq!(u.host.as_deref(), Some("h1"));
        // ... and its own parts win over its backend's settings, which fill the gaps.
        let (_, u) = resolve(&[
            ("POSTGRESQL_CONNECTION_URI", "postgresql://uri_user@h1/db1"),
            ("POSTGRESQL_USER", "setting_user"),
            ("POSTGRESQL_HOST", "h2"),
            ("POSTGRESQL_PORT", "6543"),
            ("POSTGRESQL_PASSWORD", "pw"),
            ("POSTGRESQL_DATABASE_NAME", "db2"),
        ])
        .unwrap();
        assert_eq!(u.username.as_deref(), Some("uri_user"));
        assert_eq!(u.host.as_deref(), Some("h1"));
        assert_eq!(u.port, Some(6543));
        assert_eq!(u.password.as_ref().map(|p| p.expose()), Some("pw"));
        assert_eq!(u.path, "db1");
        // PostgreSQL settings before MySQL ones, both before DATABASE_URL.
        let (src, _) = resolve(&[
            ("MYSQL_USER", "m"),
            ("POSTGRESQL_USER", "p"),
            ("DATABASE_URL", "sqlite::memory:"),
        ])
        .unwrap();
        assert_eq!(src, UriSource::Settings("POSTGRESQL".into()));
        let (src, _) = resolve(&[("DATABASE_URL", "sqlite::memory:")]).unwrap();
        assert_eq!(src, UriSource::Env("DATABASE_URL".into()));
        let (src, _) = resolve(&[]).unwrap();
        assert_eq!(src, UriSource::Default);
    }

    #[test]
    fn bad_settings_are_config_errors_without_secrets() {
        for vars in [
            &[("POSTGRESQL_HOST", "h"), ("POSTGRESQL_PASSWORD", "hunter2")][..],
            &[("MYSQL_USER", "u"), ("MYSQL_PORT", "99999")][..],
            &[
                ("MYSQL_USER", "u"),
                ("MYSQL_PASSWORD", "hunter2"),
                ("MYSQL_PASSWORD_FILE", "/x"),
            ][..],
            &[
                ("POSTGRESQL_USER", "u"),
                ("POSTGRESQL_PASSWORD_FILE", "/nonexistent/pw"),
            ][..],
        ] {
            let e = resolve(vars).unwrap_err();
            assert!(matches!(e, StorageError::Config(_)), "{vars:?}: {e:?}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn password_file() {
        let dir = std::env::temp_dir().join(format!("pwfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let path = file.display().to_string();
        let (_, u) = resolve(&[
            ("POSTGRESQL_USER", "u"),
            ("POSTGRESQL_PASSWORD_FILE", &path),
        ])
        .unwrap();
        assert_eq!(u.password.as_ref().map(|p| p.expose()), Some("s3cret"));
        // Also for a connection URI without a password.
        std::fs::write(&file, "with space\r\n").unwrap();
        let (_, u) = resolve(&[
            ("MYSQL_CONNECTION_URI", "mysql://u@h/db"),
            ("MYSQL_PASSWORD_FILE", &path),
        ])
        .unwrap();
        assert_eq!(u.password.as_ref().map(|p| p.expose()), Some("with space"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
