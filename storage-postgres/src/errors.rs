//! PostgreSQL failures normalised to the contract's errors.
//!
//! Classification reads the SQLSTATE and, for constraint violations, the constraint
//! and table names the server reports; never the message text. Every message is
//! passed through [`storage_api::uri::scrub`] so that it cannot carry the password.

use deadpool_postgres::PoolError;
use std::time::Duration;
use storage_api::{ConnectionUri, StorageError};
use storage_sql::{DbError, ForeignKey, UniqueKey};
use tokio_postgres::error::SqlState;

/// Removes the connection's password from driver messages.
#[derive(Clone, Debug)]
pub(crate) struct Scrubber(ConnectionUri);

impl Scrubber {
    /// A scrubber for the password of `uri`.
    pub(crate) fn new(uri: &ConnectionUri) -> Self {
        Self(uri.clone())
    }

    /// `text` with the password replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        storage_api::uri::scrub(text, &self.0)
    }
}

/// What a failed statement means, before it becomes a [`DbError`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// 23505 with its normalised key (`PRIMARY` or the column part).
    Unique(String),
    /// 23503 with the constraint name.
    ForeignKey(String),
    /// 40001, 40P01, 55P03 (lock_timeout), 57014 (statement_timeout).
    Retryable,
    /// The connection is gone or cannot be made, or its server no longer takes
    /// writes.
    Unavailable,
    /// A value the database rejected: NOT NULL (23502), too long (22001), bad
    /// encoding such as a NUL byte (22021).
    InvalidInput,
    /// Anything else.
    Query,
}

/// Classifies a SQLSTATE (plus constraint and table for 23505, constraint for 23503).
pub(crate) fn classify_state(
    code: &SqlState,
    constraint: Option<&str>,
    table: Option<&str>,
) -> Class {
    let c = code.code();
    match c {
        "23505" => Class::Unique(unique_key(constraint.unwrap_or(""), table)),
        "23503" => Class::ForeignKey(constraint.unwrap_or("").to_owned()),
        // 57014: statement_timeout (or a cancel request) ended the statement.
        "40001" | "40P01" | "55P03" | "57014" => Class::Retryable,
        "23502" | "22001" | "22021" => Class::InvalidInput,
        // 57P01 admin_shutdown (pg_terminate_backend), 57P02 crash_shutdown,
        // 57P03 cannot_connect_now, 53300 too_many_connections, class 08.
        // 25006 read_only_sql_transaction: the server no longer takes writes (a
        // primary demoted to standby, a connection to a replica); the storage never
        // opens read-only transactions itself, so the connection is dropped and the
        // next one goes to the primary (`target_session_attrs=read-write`).
        "57P01" | "57P02" | "57P03" | "53300" | "25006" => Class::Unavailable,
        _ if c.starts_with("08") => Class::Unavailable,
        _ => Class::Query,
    }
}

/// The normalised key of a unique violation: `PRIMARY` for `<table>_pkey`, the
/// column part of `<table>_<column>_key`, else the constraint name itself.
pub(crate) fn unique_key(constraint: &str, table: Option<&str>) -> String {
    if let Some(t) = table {
        if constraint == format!("{t}_pkey") {
            return "PRIMARY".to_owned();
        }
        if let Some(col) = constraint
            .strip_prefix(t)
            .and_then(|r| r.strip_prefix('_'))
            .and_then(|r| r.strip_suffix("_key"))
            .filter(|c| !c.is_empty())
        {
            return col.to_owned();
        }
    }
    if constraint.ends_with("_pkey") {
        return "PRIMARY".to_owned();
    }
    constraint.to_owned()
}

fn classify(e: &tokio_postgres::Error) -> Class {
    if let Some(db) = e.as_db_error() {
        return classify_state(db.code(), db.constraint(), db.table());
    }
    if e.is_closed() || source_is_io(e) {
        return Class::Unavailable;
    }
    Class::Query
}

fn source_is_io(e: &tokio_postgres::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = cur {
        if s.is::<std::io::Error>() {
            return true;
        }
        cur = s.source();
    }
    false
}

fn message(e: &tokio_postgres::Error, s: &Scrubber) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = format!("{} ({})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                m.push_str(": ");
                m.push_str(d);
            }
            s.scrub(&m)
        }
        None => s.scrub(&e.to_string()),
    }
}

/// A failed statement as a [`DbError`].
pub(crate) fn db_error(e: tokio_postgres::Error, s: &Scrubber) -> DbError {
    match classify(&e) {
        Class::Unique(key) => DbError::Unique {
            key: UniqueKey::from_name(&key),
        },
        Class::ForeignKey(constraint) => DbError::ForeignKey {
            key: ForeignKey::from_constraint(&constraint),
        },
        _ => DbError::Other(storage_error(e, s)),
    }
}

/// A failure as a [`StorageError`]; constraint violations become `Query`.
pub(crate) fn storage_error(e: tokio_postgres::Error, s: &Scrubber) -> StorageError {
    let msg = message(&e, s);
    match classify(&e) {
        Class::Retryable => StorageError::Retryable {
            message: msg,
            source: Some(Box::new(e)),
        },
        Class::Unavailable => StorageError::Unavailable {
            message: msg,
            source: Some(Box::new(e)),
        },
        Class::InvalidInput => {
            let column = e
                .as_db_error()
                .and_then(|d| d.column())
                .map(|c| format!("`{c}`: "))
                .unwrap_or_default();
            StorageError::InvalidInput {
                field: "value",
                reason: format!("{column}{msg}"),
            }
        }
        Class::Unique(_) | Class::ForeignKey(_) | Class::Query => StorageError::Query {
            message: msg,
            source: Some(Box::new(e)),
        },
    }
}

/// A failure to open a connection. Authentication failures and a missing database
/// are configuration errors; everything else means the server cannot be reached.
/// The driver error is not kept as a source: only its scrubbed text is.
pub(crate) fn connect_error(e: &tokio_postgres::Error, s: &Scrubber) -> StorageError {
    if let Some(tls) = crate::tls::describe(e) {
        return StorageError::Config(format!(
            "cannot connect to PostgreSQL over TLS: {}",
            s.scrub(&tls)
        ));
    }
    let msg = message(e, s);
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        if code.starts_with("28") || code == "3D000" || code == "42501" {
            return StorageError::Config(format!("PostgreSQL refused the connection: {msg}"));
        }
    }
    StorageError::Unavailable {
        message: format!("cannot connect to PostgreSQL: {msg}"),
        source: None,
    }
}

/// A failure to take a connection from the pool.
pub(crate) fn pool_error(e: PoolError, timeout: Duration, s: &Scrubber) -> StorageError {
    match e {
        PoolError::Backend(e) => connect_error(&e, s),
        PoolError::Timeout(_) => StorageError::Unavailable {
            message: format!("no PostgreSQL connection could be had within {timeout:?}"),
            source: None,
        },
        PoolError::Closed => StorageError::Unavailable {
            message: "the storage has been closed".into(),
            source: None,
        },
        PoolError::PostCreateHook(h) => StorageError::Unavailable {
            message: s.scrub(&format!(
                "setting up a new PostgreSQL connection failed: {h}"
            )),
            source: None,
        },
        PoolError::NoRuntimeSpecified => {
            StorageError::query("the connection pool has no async runtime")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_keys() {
        assert_eq!(unique_key("st_apps_pkey", Some("st_apps")), "PRIMARY");
        assert_eq!(
            unique_key(
                "st_emailpassword_user_to_tenant_email_key",
                Some("st_emailpassword_user_to_tenant")
            ),
            "email"
        );
        assert_eq!(
            unique_key(
                "thirdparty_user_to_tenant_third_party_user_id_key",
                Some("thirdparty_user_to_tenant")
            ),
            "third_party_user_id"
        );
        assert_eq!(
            unique_key(
                "passwordless_user_to_tenant_phone_number_key",
                Some("passwordless_user_to_tenant")
            ),
            "phone_number"
        );
        assert_eq!(unique_key("x_pkey", None), "PRIMARY");
        assert_eq!(unique_key("some_index", Some("t")), "some_index");
    }

    #[test]
    fn states() {
        assert_eq!(
            classify_state(&SqlState::T_R_SERIALIZATION_FAILURE, None, None),
            Class::Retryable
        );
        assert_eq!(
            classify_state(&SqlState::T_R_DEADLOCK_DETECTED, None, None),
            Class::Retryable
        );
        assert_eq!(
            classify_state(&SqlState::LOCK_NOT_AVAILABLE, None, None),
            Class::Retryable
        );
        assert_eq!(
            classify_state(&SqlState::QUERY_CANCELED, None, None),
            Class::Retryable
        );
        assert_eq!(
            classify_state(
                &SqlState::FOREIGN_KEY_VIOLATION,
                Some("a_b_fkey"),
                Some("a")
            ),
            Class::ForeignKey("a_b_fkey".into())
        );
        assert_eq!(
            classify_state(&SqlState::UNIQUE_VIOLATION, Some("a_pkey"), Some("a")),
            Class::Unique("PRIMARY".into())
        );
        assert_eq!(
            classify_state(&SqlState::ADMIN_SHUTDOWN, None, None),
            Class::Unavailable
        );
        assert_eq!(
            classify_state(&SqlState::CONNECTION_FAILURE, None, None),
            Class::Unavailable
        );
        assert_eq!(
            classify_state(&SqlState::READ_ONLY_SQL_TRANSACTION, None, None),
            Class::Unavailable
        );
        assert_eq!(
            classify_state(&SqlState::SYNTAX_ERROR, None, None),
            Class::Query
        );
    }
}
