//! One connection-URI parser, shared by the library and the CLI. Its `Debug` and
//! `Display` replace the password with `***`.

use crate::error::{Result, StorageError};
use crate::types::Secret;
use std::fmt;

/// A parsed connection URI.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUri {
    /// Lower-cased scheme (`postgres`, `mysql`, `sqlite`, ...).
    pub scheme: String,
    /// User name, percent-decoded.
    pub username: Option<String>,
    /// Password, percent-decoded, hidden from every print.
    pub password: Option<Secret>,
    /// Host (without brackets for IPv6). For a libpq-style list of servers
    /// (`postgres://u@h1:5432,h2:5433/db`), the whole list as written, each entry
    /// with its own port (IPv6 entries in brackets); [`ConnectionUri::port`] is then
    /// `None` and the backend splits the list (only PostgreSQL accepts one).
    pub host: Option<String>,
    /// Port (`None` for a list of servers: each entry carries its own).
    pub port: Option<u16>,
    /// The path after the authority, percent-decoded, without the leading `/` for
    /// server URIs (the database name); for SQLite the file path or `:memory:`.
    pub path: String,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
}

fn pct_decode(field: &str, s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    StorageError::Config(format!("bad percent-encoding in the URI's {field}"))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| StorageError::Config(format!("the URI's {field} is not UTF-8")))
}

fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ConnectionUri {
    /// Parses `scheme://[user[:password]@]host[:port][/path][?query]`, plus the SQLite
    /// forms `sqlite://PATH`, `sqlite:PATH` and `sqlite::memory:`. A host part with
    /// commas (`h1:p1,h2:p2`, libpq's multi-host form) is kept whole in `host`, with no
    /// `port`. Errors never contain the password.
    pub fn parse(uri: &str) -> Result<Self> {
        let uri = uri.trim();
        let (scheme, rest) = uri.split_once(':').ok_or_else(|| {
            StorageError::Config("connection URI has no scheme (expected `scheme://...`)".into())
        })?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
        {
            return Err(StorageError::Config(
                "connection URI has an invalid scheme".into(),
            ));
        }
        let (rest, raw_query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let query = raw_query.map(parse_query).transpose()?.unwrap_or_default();
        let mut out = ConnectionUri {
            scheme,
            username: None,
            password: None,
            host: None,
            port: None,
            path: String::new(),
            query,
        };
        if out.scheme == "sqlite" {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            out.path = pct_decode("path", path)?;
            if out.path.is_empty() {
                return Err(StorageError::Config(
                    "sqlite URI has no file path (use sqlite://PATH or sqlite::memory:)".into(),
                ));
            }
            return Ok(out);
        }
        let rest = rest.strip_prefix("//").ok_or_else(|| {
            StorageError::Config(format!(
                "expected `{}://` in the connection URI",
                out.scheme
            ))
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        // An `@` after the host means the user info held an unencoded `/` or `?`:
        // what follows it would be taken for the port, the database or a parameter,
        // and printed. Refuse it without echoing anything.
        if path.contains('@') || raw_query.is_some_and(|q| q.contains('@')) {
            return Err(StorageError::Config(
                "the connection URI has an `@` after its host: percent-encode `/`, `?`, `#` and `@` in the user name and password (`%2F`, `%3F`, `%23`, `%40`)".into(),
            ));
        }
        out.path = pct_decode("database name", path)?;
        // The password may contain '@' only percent-encoded; the last '@' ends userinfo.
        let hostport = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => {
                let (user, pass) = match userinfo.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (userinfo, None),
                };
                if !user.is_empty() {
                    out.username = Some(pct_decode("user name", user)?);
                }
                if let Some(p) = pass {
                    out.password = Some(Secret::new(pct_decode("password", p)?));
                }
                hostport
            }
            None => authority,
        };
        // libpq's list of servers: kept as written, split by the backend.
        if hostport.contains(',') {
            out.host = Some(pct_decode("host", hostport)?);
            return Ok(out);
        }
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h
                .split_once(']')
                .ok_or_else(|| StorageError::Config("unclosed `[` in the URI's host".into()))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if !host.is_empty() {
            out.host = Some(pct_decode("host", host)?);
        }
        if let Some(p) = port
            && !p.is_empty()
        {
            let port: u16 = p.parse().ok().filter(|&n| n != 0).ok_or_else(|| {
                // Echo only digits: anything else may be part of a password whose
                // `:` was taken for the port's.
                let shown =
                    if !p.is_empty() && p.len() <= 16 && p.bytes().all(|b| b.is_ascii_digit()) {
                        format!(" `{p}`")
                    } else {
                        String::new()
                    };
                StorageError::Config(format!(
                    "the URI's port{shown} is not a number between 1 and 65535"
                ))
            })?;
            out.port = Some(port);
        }
        Ok(out)
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is `sqlite::memory:` (or a `:memory:` path).
    pub fn is_sqlite_memory(&self) -> bool {
        self.scheme == "sqlite" && (self.path == ":memory:" || self.param("mode") == Some("memory"))
    }

    /// The URI with its password replaced by `***`, safe to print.
    pub fn redacted(&self) -> String {
        self.render(true)
    }

    /// The URI with its password, for handing to a driver only.
    pub fn expose(&self) -> String {
        self.render(false)
    }

    fn render(&self, redact: bool) -> String {
        let mut s = format!("{}:", self.scheme);
        if self.scheme == "sqlite" {
            if self.path == ":memory:" {
                s.push_str(":memory:");
            } else {
                s.push_str("//");
                s.push_str(&self.path);
            }
        } else {
            s.push_str("//");
            if self.username.is_some() || self.password.is_some() {
                if let Some(u) = &self.username {
                    s.push_str(&pct_encode(u));
                }
                if let Some(p) = &self.password {
                    s.push(':');
                    if redact {
                        s.push_str("***");
                    } else {
                        s.push_str(&pct_encode(p.expose()));
                    }
                }
                s.push('@');
            }
            if let Some(h) = &self.host {
                if h.contains(':') && !h.contains(',') {
                    s.push_str(&format!("[{h}]"));
                } else {
                    s.push_str(h);
                }
            }
            if let Some(p) = self.port {
                s.push_str(&format!(":{p}"));
            }
            if !self.path.is_empty() {
                s.push('/');
                s.push_str(&pct_encode(&self.path));
            }
        }
        if !self.query.is_empty() {
            s.push('?');
            let q: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| {
                    let secret = redact
                        && ["password", "pass", "pwd", "sslpassword"]
                            .iter()
                            .any(|n| k.eq_ignore_ascii_case(n));
                    let v = if secret {
                        "***".to_owned()
                    } else {
                        pct_encode(v)
                    };
                    format!("{}={v}", pct_encode(k))
                })
                .collect();
            s.push_str(&q.join("&"));
        }
        s
    }
}

fn parse_query(q: &str) -> Result<Vec<(String, String)>> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((
                pct_decode("query", &k.replace('+', " "))?,
                pct_decode("query", &v.replace('+', " "))?,
            ))
        })
        .collect()
}

impl fmt::Debug for ConnectionUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionUri({})", self.redacted())
    }
}

impl fmt::Display for ConnectionUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces anything that looks like a password of `uri` in `text` with `***`; used
/// on driver error messages before they are shown.
pub fn scrub(text: &str, uri: &ConnectionUri) -> String {
    match &uri.password {
        Some(p) if !p.expose().is_empty() => text
            .replace(p.expose(), "***")
            .replace(&pct_encode(p.expose()), "***"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_redacts() {
        let u = ConnectionUri::parse(
            "postgresql://bob:p%40ss%3Aw%2Fd@db.local:6543/auth?sslmode=require",
        )
        .unwrap();
        assert_eq!(u.scheme, "postgresql");
        assert_eq!(u.username.as_deref(), Some("bob"));
        assert_eq!(u.password.as_ref().unwrap().expose(), "p@ss:w/d");
        assert_eq!(u.host.as_deref(), Some("db.local"));
        assert_eq!(u.port, Some(6543));
        assert_eq!(u.path, "auth");
        assert_eq!(u.param("sslmode"), Some("require"));
        let shown = format!("{u} {u:?}");
        assert!(
            !shown.contains("p@ss") && !shown.contains("p%40ss"),
            "{shown}"
        );
        assert!(shown.contains("bob:***@db.local:6543/auth"));
        assert_eq!(ConnectionUri::parse(&u.expose()).unwrap(), u);
    }

    #[test]
    fn multi_host_lists_are_kept_whole() {
        let u = ConnectionUri::parse(
            "postgres://bob:s3cret@10.0.0.1:5432,[::1]:5433,db3/auth?target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(u.host.as_deref(), Some("10.0.0.1:5432,[::1]:5433,db3"));
        assert_eq!(u.port, None);
        assert_eq!(u.path, "auth");
        assert_eq!(u.username.as_deref(), Some("bob"));
        let shown = u.to_string();
        assert_eq!(
            shown,
            "postgres://bob:***@10.0.0.1:5432,[::1]:5433,db3/auth?target_session_attrs=read-write"
        );
        assert_eq!(ConnectionUri::parse(&u.expose()).unwrap(), u);
    }

    #[test]
    fn sqlite_forms() {
        assert!(
            ConnectionUri::parse("sqlite::memory:")
                .unwrap()
                .is_sqlite_memory()
        );
        assert_eq!(
            ConnectionUri::parse("sqlite://a/b.db").unwrap().path,
            "a/b.db"
        );
        assert_eq!(
            ConnectionUri::parse("sqlite:///tmp/x.db").unwrap().path,
            "/tmp/x.db"
        );
        assert!(ConnectionUri::parse("sqlite://").is_err());
    }

    #[test]
    fn unencoded_reserved_characters_in_the_password_do_not_leak() {
        for uri in [
            "postgres://u:hunter2/x@h:5432/db",
            "postgres://u:12345/hunter2@h:5432/db",
            "mysql://u:x?hunter2@h/db",
            "mysql://u:hunter2?x@h/db",
            "postgres://u:hunter2@h:5432/db?application_name=a@hunter2",
        ] {
            let e = ConnectionUri::parse(uri).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{uri}: {e}");
        }
        let ok = ConnectionUri::parse("postgres://u:x%2Fhunter2%3F%40@h/db").unwrap();
        assert_eq!(ok.password.as_ref().unwrap().expose(), "x/hunter2?@");
        assert!(!ok.to_string().contains("hunter2"));
        // SQLite paths may hold `@`.
        assert_eq!(
            ConnectionUri::parse("sqlite://a@b/c.db").unwrap().path,
            "a@b/c.db"
        );
    }

    #[test]
    fn bad_port_does_not_leak() {
        let e = ConnectionUri::parse("mysql://u:secret@h:99999/db")
            .unwrap_err()
            .to_string();
        assert!(e.contains("port") && !e.contains("secret"), "{e}");
        assert!(ConnectionUri::parse("nonsense").is_err());
        let q = ConnectionUri::parse("postgres://h/db?password=hunter2&sslmode=disable").unwrap();
        assert!(!q.redacted().contains("hunter2"), "{}", q.redacted());
        assert!(q.expose().contains("hunter2"));
    }
}
