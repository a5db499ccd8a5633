//! From a connection URI and [`OpenOptions`] to sqlx connect and pool options, the
//! per-connection session settings, and the server version check.

use crate::errors;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPoolOptions, MySqlSslMode};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use storage_api::{ConnectionUri, OpenOptions, StorageError};

/// The schemes this backend serves.
pub const SCHEMES: &[&str] = &["mysql", "mariadb"];

/// `sql_mode` of every connection: strict, so the server rejects what it would
/// otherwise truncate or coerce. Only modes that MySQL 8.0 and MariaDB 10.6 both know.
pub const SQL_MODE: &str = "STRICT_ALL_TABLES,STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION";

/// Session settings run once on every new connection, in one round trip: utf8mb4 with
/// the binary collation, UTC, strict mode, READ COMMITTED by default.
pub const SESSION_INIT: &str = "SET sql_mode = 'STRICT_ALL_TABLES,STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION', \
     time_zone = '+00:00', NAMES utf8mb4 COLLATE utf8mb4_bin; \
     SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";

/// Session setting of every connection to a Galera node (run after
/// [`SESSION_INIT`]): causality checks before reads, `UPDATE`s and `DELETE`s
/// (`wsrep_sync_wait` bits 1 and 2), so that a statement on one node sees every
/// transaction committed on any node before it started, as on a single server.
pub const GALERA_SESSION: &str = "SET SESSION wsrep_sync_wait = 3;";

/// Whether the server is a node of a Galera cluster (`@@wsrep_on` is 1). MySQL
/// without wsrep has no such variable (error 1193): not a cluster.
pub async fn detect_galera(
    conn: &mut MySqlConnection,
    uri: &ConnectionUri,
) -> Result<bool, StorageError> {
    let got: Result<i64, sqlx::Error> = sqlx::query_scalar(AssertSqlSafe("SELECT @@wsrep_on + 0"))
        .fetch_one(&mut *conn)
        .await;
    match got {
        Ok(on) => Ok(on == 1),
        Err(e) if errors::error_number(&e) == Some(errors::ER_UNKNOWN_SYSTEM_VARIABLE) => Ok(false),
        Err(e) => Err(errors::to_storage(e, uri)),
    }
}

/// Creates the named-lock table of a Galera cluster, `{prefix}named_locks`, if it
/// is missing. `GET_LOCK` is node-local under wsrep (a lock taken on one node
/// excludes nobody on another), so there a named lock is this table's row of the
/// lock name, written inside the transaction it guards (see
/// `MySqlConn::named_lock`). Run when a pool starts on a Galera node, before any
/// operation: `CREATE TABLE IF NOT EXISTS` is replicated in total order (TOI), so
/// cores starting together on different nodes create it once. It is not part of
/// the migrations (the table exists only on clusters; a database that moves to a
/// cluster gets it when the first pool starts there), like the history table it is
/// infrastructure, never data: rows are lock names (`<database>.<prefix><lock>`, at
/// most 64 characters) and a count of acquisitions.
pub async fn ensure_lock_table(
    conn: &mut MySqlConnection,
    prefix: &str,
    uri: &ConnectionUri,
) -> Result<(), StorageError> {
    let table = format!("{prefix}named_locks");
    let present: i64 = sqlx::query_scalar(AssertSqlSafe(
        "SELECT COUNT(*) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    ))
    .bind(&table)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| errors::to_storage(e, uri))?;
    if present > 0 {
        return Ok(());
    }
    let ddl = format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
         name VARCHAR(64) NOT NULL PRIMARY KEY, \
         taken BIGINT UNSIGNED NOT NULL DEFAULT 0\
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    );
    sqlx::raw_sql(AssertSqlSafe(ddl))
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| errors::to_storage(e, uri))
}

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 128;

/// What the URI says, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The URI (for scrubbing messages; its `Debug` hides the password).
    pub uri: ConnectionUri,
    /// Database (schema) name.
    pub database: String,
    /// sqlx connect options.
    pub connect: MySqlConnectOptions,
    /// `statement_timeout` (URI, milliseconds): MariaDB's `max_statement_time`,
    /// MySQL's `max_execution_time` (which bounds `SELECT`s only).
    pub statement_timeout: Option<Duration>,
    /// `lock_wait_timeout` (URI, milliseconds, rounded up to whole seconds):
    /// `innodb_lock_wait_timeout`.
    pub lock_wait_timeout: Option<Duration>,
    /// `max_lifetime` (URI, seconds): pooled connections older than this are
    /// closed instead of reused (default [`MAX_LIFETIME`]).
    pub max_lifetime: Duration,
    /// `pool_wait_threshold` (URI, milliseconds): a caller waiting longer than
    /// this for a connection is reported (default 100 ms).
    pub wait_threshold: Duration,
}

impl Settings {
    /// The session settings of pooled connections beyond [`SESSION_INIT`] (the
    /// timeouts), for a MariaDB or a MySQL server; empty when there are none.
    pub fn session_timeouts(&self, mariadb: bool) -> String {
        let mut sql = String::new();
        if let Some(t) = self.statement_timeout {
            if mariadb {
                sql.push_str(&format!(
                    "SET SESSION max_statement_time = {:.3};",
                    t.as_secs_f64()
                ));
            } else {
                sql.push_str(&format!(
                    "SET SESSION max_execution_time = {};",
                    t.as_millis()
                ));
            }
        }
        if let Some(t) = self.lock_wait_timeout {
            let secs = t.as_millis().div_ceil(1000).max(1);
            sql.push_str(&format!("SET SESSION innodb_lock_wait_timeout = {secs};"));
        }
        sql
    }
}

/// A duration parameter of the URI: a whole number of `unit`s; zero is `None`.
fn duration(
    name: &str,
    value: &str,
    unit: Duration,
    unit_name: &str,
) -> Result<Option<Duration>, StorageError> {
    let n = value.trim().parse::<u32>().map_err(|_| {
        StorageError::Config(format!(
            "the URI's {name} `{}` is not a whole number of {unit_name}",
            value.chars().take(16).collect::<String>()
        ))
    })?;
    Ok((n > 0).then(|| unit * n))
}

fn ssl_mode(value: &str) -> Result<MySqlSslMode, StorageError> {
    match value.to_ascii_lowercase().replace('-', "_").as_str() {
        "disabled" | "disable" => Ok(MySqlSslMode::Disabled),
        "preferred" | "prefer" => Ok(MySqlSslMode::Preferred),
        "required" | "require" => Ok(MySqlSslMode::Required),
        "verify_ca" => Ok(MySqlSslMode::VerifyCa),
        "verify_identity" | "verify_full" => Ok(MySqlSslMode::VerifyIdentity),
        other => Err(StorageError::Config(format!(
            "ssl-mode `{}` is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

impl Settings {
    /// Validates a `mysql://` or `mariadb://` URI.
    pub fn from_uri(uri: ConnectionUri) -> Result<Self, StorageError> {
        if !SCHEMES.contains(&uri.scheme.as_str()) {
            return Err(StorageError::Config(format!(
                "the MySQL backend serves mysql:// and mariadb://, not `{}://`",
                uri.scheme
            )));
        }
        if uri.host.as_deref().is_some_and(|h| h.contains(',')) {
            return Err(StorageError::Config(
                "the MySQL backend connects to one server: a list of hosts (`h1:3306,h2:3306`) is a PostgreSQL URI feature; on Galera give each core its own node".into(),
            ));
        }
        let database = uri.path.trim().to_owned();
        if database.is_empty() {
            return Err(StorageError::Config(format!(
                "the connection URI {uri} names no database (expected mysql://user@host:3306/DATABASE)"
            )));
        }
        if database.len() > 64 || database.contains(['/', '\\', '.', '`', '\0']) {
            return Err(StorageError::Config(format!(
                "the database name in {uri} is not a valid MySQL database name"
            )));
        }
        let mut connect = MySqlConnectOptions::new()
            .host(uri.host.as_deref().unwrap_or("localhost"))
            .port(uri.port.unwrap_or(3306))
            .database(&database)
            .charset("utf8mb4")
            .collation("utf8mb4_bin")
            // Session settings (names, time zone, sql_mode) are applied by
            // SESSION_INIT in one round trip, not by sqlx's own statements.
            .set_names(false)
            .timezone(None)
            .pipes_as_concat(false)
            .no_engine_substitution(false)
            .statement_cache_capacity(STATEMENT_CACHE)
            .log_statements(log::LevelFilter::Trace)
            .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(2));
        if let Some(user) = &uri.username {
            connect = connect.username(user);
        }
        if let Some(password) = &uri.password {
            connect = connect.password(password.expose());
        }
        let mut statement_timeout = None;
        let mut lock_wait_timeout = None;
        let mut max_lifetime = MAX_LIFETIME;
        let mut wait_threshold = storage_api::health::DEFAULT_WAIT_THRESHOLD;
        for (key, value) in &uri.query {
            match key.to_ascii_lowercase().as_str() {
                "ssl-mode" | "sslmode" | "ssl_mode" => connect = connect.ssl_mode(ssl_mode(value)?),
                "ssl-ca" | "sslca" | "sslrootcert" => connect = connect.ssl_ca(value),
                "ssl-cert" | "sslcert" => connect = connect.ssl_client_cert(value),
                "ssl-key" | "sslkey" => connect = connect.ssl_client_key(value),
                "socket" => connect = connect.socket(value),
                "statement_timeout" => {
                    statement_timeout =
                        duration(key, value, Duration::from_millis(1), "milliseconds")?
                }
                "lock_wait_timeout" | "lock_timeout" => {
                    lock_wait_timeout =
                        duration(key, value, Duration::from_millis(1), "milliseconds")?
                }
                "pool_wait_threshold" => {
                    if let Some(d) = duration(key, value, Duration::from_millis(1), "milliseconds")?
                    {
                        wait_threshold = d;
                    }
                }
                "max_lifetime" => {
                    if let Some(d) = duration(key, value, Duration::from_secs(1), "seconds")? {
                        max_lifetime = d;
                    }
                }
                _ => {
                    return Err(StorageError::Config(format!(
                        "unknown parameter `{}` in the MySQL connection URI (known: ssl-mode, ssl-ca, ssl-cert, ssl-key, socket, statement_timeout, lock_wait_timeout, max_lifetime, pool_wait_threshold)",
                        key.chars().take(40).collect::<String>()
                    )));
                }
            }
        }
        Ok(Self {
            uri,
            database,
            connect,
            statement_timeout,
            lock_wait_timeout,
            max_lifetime,
            wait_threshold,
        })
    }
}

/// Applies [`SESSION_INIT`] to a fresh connection.
pub async fn init_session(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(SESSION_INIT).execute(conn).await.map(|_| ())
}

/// Opens one connection outside the pool (migrations, version check), with the
/// session settings applied, within `timeout`.
pub async fn connect_one(
    settings: &Settings,
    timeout: Duration,
) -> Result<MySqlConnection, StorageError> {
    let fut = async {
        let mut conn = settings.connect.connect().await?;
        init_session(&mut conn).await?;
        Ok::<_, sqlx::Error>(conn)
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(errors::to_storage(e, &settings.uri)),
        Err(_) => Err(StorageError::Unavailable {
            message: format!(
                "could not connect to {} within {timeout:?}",
                settings.uri.redacted()
            ),
            source: None,
        }),
    }
}

/// A server flavour and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerVersion {
    /// MariaDB (else MySQL).
    pub mariadb: bool,
    /// Major, minor.
    pub version: (u32, u32),
    /// The full `VERSION()` text.
    pub text: String,
}

impl ServerVersion {
    /// Parses `SELECT VERSION()`: `8.0.36`, `10.11.19-MariaDB-0+deb12u1`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(Self {
            mariadb: text.to_ascii_lowercase().contains("mariadb"),
            version: (major, minor),
            text: text.to_owned(),
        })
    }

    /// MariaDB >= 10.6 or MySQL >= 8.0.
    pub fn supported(&self) -> bool {
        if self.mariadb {
            self.version >= (10, 6)
        } else {
            self.version >= (8, 0)
        }
    }
}

/// Reads and checks the server version: MariaDB >= 10.6 or MySQL >= 8.0, else
/// `Config`.
pub async fn check_version(
    conn: &mut MySqlConnection,
    uri: &ConnectionUri,
) -> Result<ServerVersion, StorageError> {
    let text: String = sqlx::query_scalar(AssertSqlSafe("SELECT VERSION()"))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| errors::to_storage(e, uri))?;
    let v = ServerVersion::parse(&text)
        .ok_or_else(|| StorageError::Config(format!("cannot read the server version `{text}`")))?;
    if !v.supported() {
        return Err(StorageError::Config(format!(
            "server version `{text}` is not supported: the MySQL backend needs MySQL 8.0 or later, or MariaDB 10.6 or later"
        )));
    }
    Ok(v)
}

/// When the pool last saw a connection-level failure; idle connections that were
/// returned before it are pinged before reuse, so that after a server restart (or
/// `KILL`) one failed call is enough to flush every stale connection.
#[derive(Debug)]
pub struct Health {
    base: Instant,
    /// Nanoseconds after `base` of the last failure, plus one; 0 for never.
    last_failure: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            last_failure: AtomicU64::new(0),
        }
    }
}

impl Health {
    /// Records a connection-level failure now.
    pub fn record_failure(&self) {
        let now = self.base.elapsed().as_nanos() as u64 + 1;
        self.last_failure.fetch_max(now, Ordering::Relaxed);
    }

    /// Whether a connection idle for `idle_for` went idle before the last failure.
    pub fn suspect(&self, idle_for: Duration) -> bool {
        let failure = self.last_failure.load(Ordering::Relaxed);
        if failure == 0 {
            return false;
        }
        let now = self.base.elapsed().as_nanos() as u64 + 1;
        let idle_since = now.saturating_sub(idle_for.as_nanos() as u64);
        idle_since <= failure
    }
}

/// Connections older than this are closed rather than reused.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The pool options: size, minimum idle, idle timeout, acquire timeout from
/// `options`; no ping on every checkout (idle connections are closed after the idle
/// timeout, and checked only after a connection failure, see [`Health`]); session
/// settings on every new connection.
/// Also runs `timeouts` (see [`Settings::session_timeouts`]) on every new
/// connection, and closes connections older than `max_lifetime`.
pub fn pool_options(
    options: &OpenOptions,
    health: Arc<Health>,
    timeouts: String,
    max_lifetime: Duration,
) -> MySqlPoolOptions {
    let idle = options.idle_timeout();
    let timeouts: Arc<str> = Arc::from(timeouts);
    MySqlPoolOptions::new()
        .max_connections(options.pool_size())
        .min_connections(options.min_idle())
        .idle_timeout((!idle.is_zero()).then_some(idle))
        .acquire_timeout(options.connect_timeout())
        .max_lifetime(Some(max_lifetime))
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            let timeouts = timeouts.clone();
            Box::pin(async move {
                init_session(conn).await?;
                if !timeouts.is_empty() {
                    sqlx::raw_sql(AssertSqlSafe(timeouts.to_string()))
                        .execute(conn)
                        .await?;
                }
                Ok(())
            })
        })
        .before_acquire(move |conn, meta| {
            let health = health.clone();
            Box::pin(async move {
                if health.suspect(meta.idle_for) {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_init_uses_sql_mode() {
        assert!(SESSION_INIT.contains(&format!("sql_mode = '{SQL_MODE}'")));
    }

    #[test]
    fn versions() {
        let m = ServerVersion::parse("10.11.19-MariaDB-0+deb12u1").unwrap();
        assert!(m.mariadb && m.version == (10, 11) && m.supported());
        assert!(!ServerVersion::parse("10.5.2-MariaDB").unwrap().supported());
        assert!(ServerVersion::parse("8.0.36").unwrap().supported());
        assert!(ServerVersion::parse("8.4.0-log").unwrap().supported());
        assert!(!ServerVersion::parse("5.7.44").unwrap().supported());
        assert!(ServerVersion::parse("11.4.2-MariaDB").unwrap().supported());
        assert!(ServerVersion::parse("garbage").is_none());
    }

    #[test]
    fn uri_validation() {
        let ok = |s: &str| Settings::from_uri(ConnectionUri::parse(s).unwrap());
        assert!(ok("mysql://root@127.0.0.1:3306/test").is_ok());
        assert!(ok("mariadb://root@127.0.0.1/test?ssl-mode=DISABLED").is_ok());
        assert!(ok("mysql://root@h/test?sslmode=verify_identity").is_ok());
        let e = ok("mysql://u:s3cret@h/test?ssl-mode=sometimes").unwrap_err();
        assert!(matches!(e, StorageError::Config(_)) && e.to_string().contains("sometimes"));
        let e = ok("mysql://u:s3cret@h/").unwrap_err().to_string();
        assert!(e.contains("no database") && !e.contains("s3cret"), "{e}");
        let e = ok("mysql://u:s3cret@h/db?useSSL=false")
            .unwrap_err()
            .to_string();
        assert!(e.contains("useSSL") && !e.contains("s3cret"), "{e}");
        assert!(ok("postgres://h/db").is_err());
        let e = ok("mysql://u:s3cret@h1:3306,h2:3306/db").unwrap_err();
        assert!(
            matches!(&e, StorageError::Config(m) if m.contains("one server")),
            "{e:?}"
        );
    }

    #[test]
    fn timeouts_and_lifetime() {
        let s = Settings::from_uri(
            ConnectionUri::parse(
                "mysql://u@h/db?statement_timeout=1500&lock_wait_timeout=1200&max_lifetime=90",
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(s.max_lifetime, Duration::from_secs(90));
        assert_eq!(
            s.session_timeouts(true),
            "SET SESSION max_statement_time = 1.500;SET SESSION innodb_lock_wait_timeout = 2;"
        );
        assert_eq!(
            s.session_timeouts(false),
            "SET SESSION max_execution_time = 1500;SET SESSION innodb_lock_wait_timeout = 2;"
        );
        let d = Settings::from_uri(ConnectionUri::parse("mysql://u@h/db").unwrap()).unwrap();
        assert_eq!(d.session_timeouts(true), "");
        assert_eq!(d.max_lifetime, MAX_LIFETIME);
        let bad = ConnectionUri::parse("mysql://u:hunter2@h/db?statement_timeout=x").unwrap();
        let e = Settings::from_uri(bad).unwrap_err().to_string();
        assert!(
            e.contains("statement_timeout") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn health() {
        let h = Health::default();
        assert!(!h.suspect(Duration::from_secs(100)));
        std::thread::sleep(Duration::from_millis(5));
        h.record_failure();
        assert!(h.suspect(Duration::from_secs(1)));
        std::thread::sleep(Duration::from_millis(5));
        assert!(!h.suspect(Duration::from_millis(1)));
    }
}
