//! From a connection URI and [`OpenOptions`] to a `tokio_postgres::Config`, a
//! validated schema and a validated table prefix.

use crate::migrations::MIGRATIONS;
use crate::tls::{MakeRustls, TlsFiles, TlsMode};
use std::time::Duration;
use storage_api::{ConnectionUri, OpenOptions, Result, StorageError};
use tokio_postgres::config::TargetSessionAttrs;

/// PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes.
pub(crate) const MAX_IDENTIFIER: usize = 63;

/// URI query parameters this backend understands.
const KNOWN_PARAMS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "currentSchema",
    "application_name",
    "connect_timeout",
    "options",
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "pipeline_depth",
    "pooler",
    "statement_timeout",
    "lock_timeout",
    "lock_wait_timeout",
    "max_lifetime",
    "pool_wait_threshold",
    "target_session_attrs",
];

/// Readers sharing one connection by default (see `share.rs`).
pub(crate) const DEFAULT_PIPELINE_DEPTH: usize = 4;

/// Everything `open` needs, validated.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// The driver configuration (its `Debug` hides the password).
    pub pg: tokio_postgres::Config,
    /// The TLS mode (`sslmode`).
    pub tls_mode: TlsMode,
    /// Makes TLS connections as `sslmode` asks (unused with `disable`).
    pub tls: MakeRustls,
    /// The schema, folded to lower case and validated; `None` keeps the server's
    /// default `search_path`.
    pub schema: Option<String>,
    /// The table prefix with its joiner (`st_` or empty).
    pub prefix: String,
    /// Maximum pool size.
    pub pool_size: usize,
    /// Minimum idle connections.
    pub min_idle: usize,
    /// Idle connections older than this are closed; zero disables it.
    pub idle_timeout: Duration,
    /// Connect and acquire timeout.
    pub connect_timeout: Duration,
    /// Short reads sharing one connection (pipelined); 1 gives every read a
    /// connection of its own.
    pub pipeline_depth: usize,
    /// Behind a transaction-mode pooler (`pooler=transaction`): no named
    /// statements, no session state.
    pub pooler: bool,
    /// `statement_timeout` of the pooled connections (`None`: the server's).
    pub statement_timeout: Option<Duration>,
    /// `lock_timeout` of the pooled connections (`None`: the server's).
    pub lock_timeout: Option<Duration>,
    /// Pooled connections older than this are closed instead of reused.
    pub max_lifetime: Option<Duration>,
    /// A caller waiting longer than this for a connection is reported.
    pub wait_threshold: Duration,
}

impl Settings {
    /// The session settings every pooled connection gets after connecting
    /// (timeouts), as one batch; `None` when there are none.
    pub(crate) fn session_sql(&self) -> Option<String> {
        let mut sql = String::new();
        if let Some(t) = self.statement_timeout {
            sql.push_str(&format!("SET statement_timeout = {};", t.as_millis()));
        }
        if let Some(t) = self.lock_timeout {
            sql.push_str(&format!("SET lock_timeout = {};", t.as_millis()));
        }
        (!sql.is_empty()).then_some(sql)
    }
}

/// A duration parameter of the URI: a whole number of `unit`s; zero or absent is
/// `None`.
pub(crate) fn duration_param(
    uri: &ConnectionUri,
    name: &str,
    unit: Duration,
    unit_name: &str,
) -> Result<Option<Duration>> {
    match param(uri, name) {
        None => Ok(None),
        Some(v) => {
            let n = v.parse::<u32>().map_err(|_| {
                StorageError::Config(format!(
                    "the URI's {name} `{}` is not a whole number of {unit_name}",
                    v.chars().take(16).collect::<String>()
                ))
            })?;
            Ok((n > 0).then(|| unit * n))
        }
    }
}

/// `"name"` with embedded quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Validates a schema name: ASCII letters, digits and `_`, not starting with a
/// digit, at most 63 bytes. It is folded to lower case, as PostgreSQL (and
/// SuperTokens, which writes it unquoted) folds an unquoted name.
pub(crate) fn validate_schema(name: &str) -> Result<String> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= MAX_IDENTIFIER
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ok {
        return Err(StorageError::Config(format!(
            "PostgreSQL schema `{}` must be 1 to 63 ASCII letters, digits or `_`, not starting with a digit",
            name.chars().take(80).collect::<String>()
        )));
    }
    Ok(name.to_ascii_lowercase())
}

/// Checks that no name built from `prefix` exceeds PostgreSQL's 63-byte limit (it
/// would be truncated silently, and the error mapping relies on the names).
pub(crate) fn check_prefix_length(prefix: &str) -> Result<()> {
    storage_api::migrate::check_prefix_length(MIGRATIONS, prefix, MAX_IDENTIFIER, "PostgreSQL")
}

fn param<'a>(uri: &'a ConnectionUri, name: &str) -> Option<&'a str> {
    uri.param(name).map(str::trim).filter(|v| !v.is_empty())
}

/// The servers to try, in order, each with its port. Hosts come from `?host=` (a
/// comma-separated list; an entry starting with `/` is a Unix socket directory), else
/// from the URI's host part (`h1:p1,h2:p2,...`, IPv6 entries in brackets), else the
/// usual socket directories then `localhost`, as libpq does. Ports come from
/// `?port=` (one for all, or one per host), else from each entry, else from the URI's
/// single port, else 5432.
pub(crate) fn servers(uri: &ConnectionUri) -> Result<Vec<(String, u16)>> {
    let mut list: Vec<(String, Option<u16>)> = Vec::new();
    if let Some(hosts) = param(uri, "host") {
        list.extend(
            hosts
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(|h| (h.to_owned(), None)),
        );
    } else if let Some(hosts) = uri.host.as_deref() {
        if hosts.contains(',') {
            for entry in hosts.split(',').map(str::trim) {
                list.push(host_entry(entry)?);
            }
        } else {
            list.push((hosts.to_owned(), None));
        }
    }
    if list.is_empty() {
        #[cfg(unix)]
        {
            list.push(("/var/run/postgresql".into(), None));
            list.push(("/tmp".into(), None));
        }
        list.push(("localhost".into(), None));
    }
    let default = uri.port.unwrap_or(5432);
    let ports: Option<Vec<u16>> = param(uri, "port")
        .map(|p| p.split(',').map(|one| port_number(one.trim())).collect())
        .transpose()?;
    match ports {
        None => Ok(list
            .into_iter()
            .map(|(h, p)| (h, p.unwrap_or(default)))
            .collect()),
        Some(ports) if ports.len() == 1 => {
            Ok(list.into_iter().map(|(h, _)| (h, ports[0])).collect())
        }
        Some(ports) if ports.len() == list.len() => Ok(list
            .into_iter()
            .zip(ports)
            .map(|((h, _), p)| (h, p))
            .collect()),
        Some(ports) => Err(StorageError::Config(format!(
            "the URI names {} hosts and {} ports: give one port for all of them or one per host",
            list.len(),
            ports.len()
        ))),
    }
}

/// One entry of a host list: `name`, `name:port`, `[v6]` or `[v6]:port`.
fn host_entry(entry: &str) -> Result<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| StorageError::Config("unclosed `[` in the URI's host list".into()))?;
        match after {
            "" => (h, None),
            p => match p.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => {
                    return Err(StorageError::Config(
                        "an IPv6 host in the URI's host list is followed by something other than `:PORT`".into(),
                    ));
                }
            },
        }
    } else {
        match entry.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (entry, None),
        }
    };
    if host.is_empty() {
        return Err(StorageError::Config(
            "the URI's host list has an empty host (`h1,,h2` or `:5432`)".into(),
        ));
    }
    let port = port
        .filter(|p| !p.is_empty())
        .map(port_number)
        .transpose()?;
    Ok((host.to_owned(), port))
}

/// A port from 1 to 65535; the error echoes it only when it is digits.
fn port_number(p: &str) -> Result<u16> {
    p.parse::<u16>().ok().filter(|&n| n != 0).ok_or_else(|| {
        let shown = if !p.is_empty() && p.len() <= 16 && p.bytes().all(|b| b.is_ascii_digit()) {
            format!(" `{p}`")
        } else {
            String::new()
        };
        StorageError::Config(format!(
            "the URI's port{shown} is not a number between 1 and 65535"
        ))
    })
}

/// libpq's `target_session_attrs`, as far as the driver has it: `any` (the default:
/// the first server that accepts the connection), `read-write` (the first that
/// accepts writes: the primary, also after a failover), `read-only`.
fn target_session_attrs(value: Option<&str>) -> Result<TargetSessionAttrs> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("any") => Ok(TargetSessionAttrs::Any),
        Some("read-write") => Ok(TargetSessionAttrs::ReadWrite),
        Some("read-only") => Ok(TargetSessionAttrs::ReadOnly),
        Some(other) => Err(StorageError::Config(format!(
            "the URI's target_session_attrs `{}` is not one of any, read-write, read-only (for the primary after a failover, use read-write)",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

/// Builds the settings; every error names the bad part and never the password.
pub(crate) fn settings(uri: &ConnectionUri, options: &OpenOptions) -> Result<Settings> {
    if uri.scheme != "postgres" && uri.scheme != "postgresql" {
        return Err(StorageError::Config(format!(
            "the PostgreSQL backend serves postgres:// and postgresql://, not `{}://`",
            uri.scheme
        )));
    }
    for (k, _) in &uri.query {
        if !KNOWN_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(k)) {
            return Err(StorageError::Config(format!(
                "unknown PostgreSQL URI parameter `{}`; known: {}",
                k.chars().take(64).collect::<String>(),
                KNOWN_PARAMS.join(", ")
            )));
        }
    }

    let mut pg = tokio_postgres::Config::new();

    let user = param(uri, "user")
        .map(str::to_owned)
        .or_else(|| uri.username.clone());
    match user {
        Some(u) => {
            pg.user(u);
        }
        None => {
            return Err(StorageError::Config(
                "the PostgreSQL URI names no user (postgres://USER@HOST/DB)".into(),
            ));
        }
    }
    if let Some(p) = param(uri, "password") {
        pg.password(p);
    } else if let Some(p) = &uri.password {
        pg.password(p.expose());
    }
    let dbname = param(uri, "dbname").unwrap_or(uri.path.as_str());
    if !dbname.is_empty() {
        pg.dbname(dbname);
    }

    for (host, port) in servers(uri)? {
        pg.host(host);
        pg.port(port);
    }
    pg.target_session_attrs(target_session_attrs(param(uri, "target_session_attrs"))?);

    let tls_mode = TlsMode::parse(param(uri, "sslmode").or_else(|| param(uri, "ssl-mode")))?;
    pg.ssl_mode(tls_mode.driver_mode());
    let files = TlsFiles {
        root_cert: param(uri, "sslrootcert").map(str::to_owned),
        client_cert: param(uri, "sslcert").map(Into::into),
        client_key: param(uri, "sslkey").map(Into::into),
    };
    let tls = MakeRustls::new(tls_mode, &files)?;

    pg.application_name(param(uri, "application_name").unwrap_or("auth-storage"));
    if let Some(o) = param(uri, "options") {
        pg.options(o);
    }

    let connect_timeout = match (options.connect_timeout, param(uri, "connect_timeout")) {
        (Some(t), _) => t,
        (None, Some(secs)) => Duration::from_secs(secs.parse::<u64>().map_err(|_| {
            StorageError::Config("the URI's connect_timeout must be a number of seconds".into())
        })?),
        (None, None) => options.connect_timeout(),
    };
    let connect_timeout = if connect_timeout.is_zero() {
        Duration::from_secs(5)
    } else {
        connect_timeout
    };
    pg.connect_timeout(connect_timeout);
    pg.keepalives(true);

    let from_uri = param(uri, "currentSchema");
    let from_options = options
        .schema
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let schema = match (from_options, from_uri) {
        (Some(a), Some(b)) => {
            let (a, b) = (validate_schema(a)?, validate_schema(b)?);
            if a != b {
                return Err(StorageError::Config(format!(
                    "two PostgreSQL schemas are configured: `{a}` (option or POSTGRESQL_TABLE_SCHEMA) and `{b}` (currentSchema in the URI)"
                )));
            }
            Some(a)
        }
        (Some(s), None) | (None, Some(s)) => Some(validate_schema(s)?),
        (None, None) => None,
    };

    let prefix = options.table_prefix()?;
    check_prefix_length(&prefix)?;

    let pipeline_depth = match param(uri, "pipeline_depth") {
        None => DEFAULT_PIPELINE_DEPTH,
        Some(d) => d
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| {
                StorageError::Config(format!(
                    "the URI's pipeline_depth `{}` is not a number between 1 and 64",
                    d.chars().take(16).collect::<String>()
                ))
            })?,
    };

    let pooler = match param(uri, "pooler").map(str::to_ascii_lowercase).as_deref() {
        None | Some("none") | Some("session") => false,
        Some("transaction") => true,
        Some(other) => {
            return Err(StorageError::Config(format!(
                "the URI's pooler `{}` is not one of none, session, transaction",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    if pooler && schema.is_some() {
        return Err(StorageError::Config(
            "a schema (currentSchema or POSTGRESQL_TABLE_SCHEMA) is a session setting, which a transaction-mode pooler does not keep; leave it unset and give the role its search_path instead (ALTER ROLE ... IN DATABASE ... SET search_path = ...), or connect without the pooler".into(),
        ));
    }
    let statement_timeout = duration_param(
        uri,
        "statement_timeout",
        Duration::from_millis(1),
        "milliseconds",
    )?;
    let lock_timeout = match duration_param(
        uri,
        "lock_timeout",
        Duration::from_millis(1),
        "milliseconds",
    )? {
        Some(t) => Some(t),
        None => duration_param(
            uri,
            "lock_wait_timeout",
            Duration::from_millis(1),
            "milliseconds",
        )?,
    };
    let max_lifetime = duration_param(uri, "max_lifetime", Duration::from_secs(1), "seconds")?;
    let wait_threshold = duration_param(
        uri,
        "pool_wait_threshold",
        Duration::from_millis(1),
        "milliseconds",
    )?
    .unwrap_or(storage_api::health::DEFAULT_WAIT_THRESHOLD);
    if pooler && (statement_timeout.is_some() || lock_timeout.is_some()) {
        return Err(StorageError::Config(
            "statement_timeout and lock_timeout are session settings, which a transaction-mode pooler does not keep; set them for the role instead (ALTER ROLE ... SET statement_timeout = ...)".into(),
        ));
    }
    // Readers sharing a connection pipeline their statements; through a pooler each
    // takes a connection of its own.
    let pipeline_depth = if pooler { 1 } else { pipeline_depth };

    Ok(Settings {
        pg,
        tls_mode,
        tls,
        schema,
        prefix,
        pool_size: options.pool_size() as usize,
        min_idle: options.min_idle() as usize,
        idle_timeout: options.idle_timeout(),
        connect_timeout,
        pipeline_depth,
        pooler,
        statement_timeout,
        lock_timeout,
        max_lifetime,
        wait_threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str, o: OpenOptions) -> Result<Settings> {
        settings(&ConnectionUri::parse(uri)?, &o)
    }

    #[test]
    fn builds_config() {
        let s = parse(
            "postgresql://bob:s3cr%40t@db.example:6543/auth?sslmode=disable&currentSchema=Auth",
            OpenOptions {
                table_prefix: Some("st".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.pg.get_user(), Some("bob"));
        assert_eq!(s.pg.get_password(), Some(&b"s3cr@t"[..]));
        assert_eq!(s.pg.get_dbname(), Some("auth"));
        assert_eq!(s.pg.get_ports(), &[6543]);
        assert_eq!(
            s.pg.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
        for (mode, want) in [
            ("require", TlsMode::Require),
            ("verify-ca", TlsMode::VerifyCa),
            ("verify-full", TlsMode::VerifyFull),
            ("prefer", TlsMode::Prefer),
            ("allow", TlsMode::Prefer),
        ] {
            let s = parse(
                &format!("postgres://u@h/db?sslmode={mode}"),
                OpenOptions::default(),
            )
            .unwrap();
            assert_eq!(s.tls_mode, want, "{mode}");
        }
        assert_eq!(s.schema.as_deref(), Some("auth"));
        assert_eq!(s.prefix, "st_");
        assert_eq!(s.pool_size, 10);
        assert_eq!(s.pipeline_depth, DEFAULT_PIPELINE_DEPTH);
        let s = parse("postgres://u@h/db?pipeline_depth=1", OpenOptions::default()).unwrap();
        assert_eq!(s.pipeline_depth, 1);
        assert!(!format!("{:?}", s.pg).contains("s3cr"));
    }

    fn hosts(s: &Settings) -> Vec<String> {
        s.pg.get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(t) => t.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .collect()
    }

    #[test]
    fn multi_host_uris() {
        let s = parse(
            "postgres://u:s3cret@10.0.0.1:5432,[::1]:5433,db3/auth?target_session_attrs=read-write",
            OpenOptions::default(),
        )
        .unwrap();
        assert_eq!(hosts(&s), ["10.0.0.1", "::1", "db3"]);
        assert_eq!(s.pg.get_ports(), &[5432, 5433, 5432]);
        assert_eq!(
            s.pg.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
        // The query form: one port for all, or one per host.
        let s = parse(
            "postgres://u@/auth?host=h1,h2&port=6001,6002&target_session_attrs=read-only",
            OpenOptions::default(),
        )
        .unwrap();
        assert_eq!(hosts(&s), ["h1", "h2"]);
        assert_eq!(s.pg.get_ports(), &[6001, 6002]);
        assert_eq!(
            s.pg.get_target_session_attrs(),
            TargetSessionAttrs::ReadOnly
        );
        let s = parse(
            "postgres://u@/auth?host=h1,h2&port=7000",
            OpenOptions::default(),
        )
        .unwrap();
        assert_eq!(s.pg.get_ports(), &[7000, 7000]);
        // `?port=` overrides the ports of the URI's list, as libpq's parameters do.
        let s = parse(
            "postgres://u@h1:1,h2:2/auth?port=3,4",
            OpenOptions::default(),
        )
        .unwrap();
        assert_eq!(s.pg.get_ports(), &[3, 4]);
        // One host: as before; no target_session_attrs is `any`.
        let s = parse("postgres://u@h:6543/auth", OpenOptions::default()).unwrap();
        assert_eq!(hosts(&s), ["h"]);
        assert_eq!(s.pg.get_ports(), &[6543]);
        assert_eq!(s.pg.get_target_session_attrs(), TargetSessionAttrs::Any);
        // Bad lists are Config errors that never show the password.
        for (uri, want) in [
            ("postgres://u:s3cret@h1:1,h2:x/db", "port is not"),
            ("postgres://u:s3cret@h1:1,,h2/db", "empty host"),
            ("postgres://u:s3cret@h1,[::1/db", "unclosed"),
            ("postgres://u:s3cret@h1,[::1]x/db", "IPv6"),
            ("postgres://u:s3cret@h1:0,h2/db", "`0`"),
            (
                "postgres://u:s3cret@/db?host=a,b,c&port=1,2",
                "3 hosts and 2 ports",
            ),
            (
                "postgres://u:s3cret@h1,h2/db?target_session_attrs=primary",
                "target_session_attrs `primary`",
            ),
        ] {
            let e = parse(uri, OpenOptions::default()).unwrap_err();
            let text = e.to_string();
            assert!(matches!(e, StorageError::Config(_)), "{uri}: {e:?}");
            assert!(text.contains(want), "{uri}: {text}");
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[test]
    fn rejects_bad_parts_without_leaking() {
        for (uri, want) in [
            (
                "postgres://u:hunter2@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
                "/nonexistent/ca.pem",
            ),
            (
                "postgres://u:hunter2@h/db?sslmode=require&sslcert=/x.pem",
                "both sslcert and sslkey",
            ),
            ("postgres://u:hunter2@h/db?sslmode=bogus", "sslmode"),
            ("postgres://u:hunter2@h/db?foo=bar", "`foo`"),
            ("postgres://u:hunter2@h/db?currentSchema=a-b", "schema"),
            ("postgres://:hunter2@h/db", "no user"),
        ] {
            let e = parse(uri, OpenOptions::default()).unwrap_err().to_string();
            assert!(e.contains(want), "{uri}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = parse(
            "postgres://u@h/db?currentSchema=a",
            OpenOptions {
                schema: Some("b".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(matches!(e, StorageError::Config(_)));
    }

    #[test]
    fn timeouts_and_lifetime() {
        let s = parse(
            "postgres://u@h/db?statement_timeout=1500&lock_timeout=200&max_lifetime=60",
            OpenOptions::default(),
        )
        .unwrap();
        assert_eq!(s.statement_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(s.lock_timeout, Some(Duration::from_millis(200)));
        assert_eq!(s.max_lifetime, Some(Duration::from_secs(60)));
        assert_eq!(
            s.session_sql().as_deref(),
            Some("SET statement_timeout = 1500;SET lock_timeout = 200;")
        );
        let s = parse(
            "postgres://u@h/db?statement_timeout=0",
            OpenOptions::default(),
        )
        .unwrap();
        assert_eq!(s.session_sql(), None);
        assert!(
            parse(
                "postgres://u@h/db?lock_timeout=soon",
                OpenOptions::default()
            )
            .is_err()
        );
        assert!(
            parse(
                "postgres://u@h/db?pooler=transaction&statement_timeout=5",
                OpenOptions::default()
            )
            .is_err()
        );
    }

    #[test]
    fn pooler_mode() {
        let s = parse(
            "postgres://u@h/db?pooler=transaction",
            OpenOptions::default(),
        )
        .unwrap();
        assert!(s.pooler);
        assert_eq!(s.pipeline_depth, 1);
        assert!(
            !parse("postgres://u@h/db", OpenOptions::default())
                .unwrap()
                .pooler
        );
        assert!(parse("postgres://u@h/db?pooler=statement", OpenOptions::default()).is_err());
        let e = parse(
            "postgres://u@h/db?pooler=transaction&currentSchema=a",
            OpenOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, StorageError::Config(_)), "{e:?}");
    }

    #[test]
    fn prefix_length_is_checked() {
        let (len, name) = storage_api::migrate::longest_prefixed_name(MIGRATIONS);
        assert!(len <= MAX_IDENTIFIER, "{name}");
        assert!(check_prefix_length("st_").is_ok());
        let long = format!("{}_", "p".repeat(30));
        let e = check_prefix_length(&long).unwrap_err().to_string();
        assert!(e.contains("too long"), "{e}");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(validate_schema(" MySchema ").unwrap(), "myschema");
        assert!(validate_schema("1abc").is_err());
        assert!(validate_schema(&"a".repeat(64)).is_err());
    }
}
