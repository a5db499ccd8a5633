//! MySQL / MariaDB failures mapped to the contract's errors, by error number (never
//! by message text alone: only the key name of error 1062 and the referenced table of
//! error 1452 are read from the message, since the protocol carries them nowhere
//! else).
//!
//! | number | meaning | mapped to |
//! |---|---|---|
//! | 1062, 1586 | duplicate entry for a key | [`DbError::Unique`] with the key name |
//! | 1452, 1216 | child row without parent | [`DbError::ForeignKey`] with the referenced table (1452), unnamed (1216) |
//! | 1451, 1217 | parent row still referenced | `Query` |
//! | 1213, 1205, 3058 | deadlock, lock-wait timeout, user-lock deadlock | `Retryable` |
//! | 4025, 3819 | CHECK constraint (MariaDB, MySQL) | `Query` |
//! | 1406, 1366 | data too long for a column, or not storable as given (strict mode) | `InvalidInput` |
//! | 1927, 3169, 1053, 1040, 1203, 4031, 2006, 2013 | connection killed, server shutting down, too many connections, lost | `Unavailable` |
//! | 1044, 1045, 1049, 1698 | access denied, unknown database | `Config` |
//!
//! On a Galera node ([`classify_galera`]) two more: 1317 (query interrupted: the
//! statement lost a certification conflict, "WSREP detected deadlock/conflict") is
//! `Retryable`, and 1047 ("WSREP has not yet prepared node for application use": the
//! node is not part of the primary component) is `Unavailable`. A lost certification
//! at `COMMIT`, or a transaction aborted by a replicated one, is 1213 anyway.
//!
//! Driver-level failures: I/O, TLS, protocol, pool time-out or pool closed are
//! `Unavailable`; a configuration error is `Config`; anything else is `Query` with
//! the driver's error as its source. Every message goes through
//! [`storage_api::uri::scrub`] so a password never shows.

use sqlx::mysql::MySqlDatabaseError;
use storage_api::{ConnectionUri, StorageError};
use storage_sql::{DbError, ForeignKey, UniqueKey};

/// Duplicate entry for a key.
pub const ER_DUP_ENTRY: u16 = 1062;
/// Duplicate entry, with the key name (older servers).
pub const ER_DUP_ENTRY_WITH_KEY_NAME: u16 = 1586;
/// Cannot add or update a child row: a foreign key constraint fails.
pub const ER_NO_REFERENCED_ROW_2: u16 = 1452;
/// Cannot add or update a child row (without details).
pub const ER_NO_REFERENCED_ROW: u16 = 1216;
/// Cannot delete or update a parent row: a foreign key constraint fails.
pub const ER_ROW_IS_REFERENCED_2: u16 = 1451;
/// Cannot delete or update a parent row (without details).
pub const ER_ROW_IS_REFERENCED: u16 = 1217;
/// Deadlock found when trying to get lock.
pub const ER_LOCK_DEADLOCK: u16 = 1213;
/// Lock wait timeout exceeded.
pub const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// Deadlock between user-level locks (`GET_LOCK`, MySQL 8).
pub const ER_USER_LOCK_DEADLOCK: u16 = 3058;
/// Query execution was interrupted (on a Galera node: by a conflicting replicated
/// transaction).
pub const ER_QUERY_INTERRUPTED: u16 = 1317;
/// Unknown command; on a Galera node: "WSREP has not yet prepared node for
/// application use" (the node is outside the primary component).
pub const ER_UNKNOWN_COM_ERROR: u16 = 1047;
/// Unknown system variable (`@@wsrep_on` on a server without wsrep).
pub const ER_UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;
/// MariaDB: the statement ran longer than `max_statement_time`.
pub const ER_STATEMENT_TIMEOUT: u16 = 1969;
/// MySQL: the statement ran longer than `max_execution_time`.
pub const ER_QUERY_TIMEOUT: u16 = 3024;
/// CHECK constraint failed (MariaDB).
pub const ER_CONSTRAINT_FAILED: u16 = 4025;
/// CHECK constraint violated (MySQL 8).
pub const ER_CHECK_CONSTRAINT_VIOLATED: u16 = 3819;
/// Data too long for a column (strict mode refuses instead of truncating), e.g. more
/// than 65,535 bytes in a `TEXT` column.
pub const ER_DATA_TOO_LONG: u16 = 1406;
/// Incorrect string value for a column: what MariaDB reports instead of 1406 when a
/// too-long value would be cut inside a multi-byte character.
pub const ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: u16 = 1366;

const UNAVAILABLE: &[u16] = &[
    1927, // MariaDB ER_CONNECTION_KILLED
    3169, // MySQL ER_SESSION_WAS_KILLED
    1053, // ER_SERVER_SHUTDOWN
    1040, // ER_CON_COUNT_ERROR (too many connections)
    1203, // ER_TOO_MANY_USER_CONNECTIONS
    4031, // MySQL ER_CLIENT_INTERACTION_TIMEOUT (disconnected by the server)
    2006, // CR_SERVER_GONE_ERROR
    2013, // CR_SERVER_LOST
];

const CONFIG: &[u16] = &[
    1044, // ER_DBACCESS_DENIED_ERROR
    1045, // ER_ACCESS_DENIED_ERROR
    1049, // ER_BAD_DB_ERROR
    1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
];

/// The key name of a duplicate-entry message: `Duplicate entry 'x' for key 'email'`
/// (MariaDB, MySQL before 8.0.19) or `... for key 'st_table.email'` (MySQL 8.0.19+).
/// The table qualifier is stripped; a primary key is `PRIMARY`.
pub fn duplicate_key_name(message: &str) -> Option<String> {
    const MARK: &str = "for key '";
    let start = message.rfind(MARK)? + MARK.len();
    let rest = &message[start..];
    let end = rest.rfind('\'')?;
    let key = rest[..end].rsplit('.').next()?.trim();
    (!key.is_empty()).then(|| key.to_owned())
}

/// The table a violated foreign key references, from the message of error 1452:
/// `... CONSTRAINT \`st_user_roles_ibfk_1\` FOREIGN KEY (...) REFERENCES
/// \`st_tenants\` (...)` gives `st_tenants` (MySQL names its keys `<table>_ibfk_<n>`,
/// which says nothing of the parent).
pub fn referenced_table(message: &str) -> Option<String> {
    const MARK: &str = " REFERENCES `";
    let start = message.rfind(MARK)? + MARK.len();
    let rest = &message[start..];
    let table = &rest[..rest.find('`')?];
    (!table.is_empty()).then(|| table.to_owned())
}

/// The server's error number, when `err` is an error reported by the server.
pub fn error_number(err: &sqlx::Error) -> Option<u16> {
    err.as_database_error()
        .and_then(|d| d.try_downcast_ref::<MySqlDatabaseError>())
        .map(MySqlDatabaseError::number)
}

/// Whether `err` means the connection or the server is gone (so the connection must
/// not be reused and idle connections may be stale too).
pub fn is_connection_error(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => error_number(err).is_some_and(|n| UNAVAILABLE.contains(&n)),
    }
}

/// A source error carrying only a scrubbed message (for driver errors whose text
/// could contain connection details).
#[derive(Debug)]
struct Scrubbed(String);

impl std::fmt::Display for Scrubbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Scrubbed {}

fn boxed(text: String) -> Option<storage_api::BoxError> {
    Some(Box::new(Scrubbed(text)))
}

/// What went wrong in a failed TLS connection, in words: the certificate's CA is
/// unknown, the host name does not match, or the server offers no TLS. The driver
/// reports certificate failures as I/O errors, so its text is read.
fn tls_problem(err: &sqlx::Error, text: &str) -> Option<&'static str> {
    if !matches!(err, sqlx::Error::Tls(_) | sqlx::Error::Io(_)) {
        return None;
    }
    if text.contains("does not support TLS") {
        Some("the server does not support TLS (server without TLS), but ssl-mode requires it")
    } else if text.contains("UnknownIssuer") {
        Some("the server's certificate is not signed by a trusted CA (unknown CA; check ssl-ca)")
    } else if text.contains("not valid for name") || text.contains("NotValidForName") {
        Some(
            "the server's certificate is not valid for this host name (wrong host name; connect by a name the certificate lists, or use ssl-mode=VERIFY_CA)",
        )
    } else if text.contains("invalid peer certificate") || matches!(err, sqlx::Error::Tls(_)) {
        Some("the TLS handshake failed")
    } else {
        None
    }
}

/// Classifies a driver error for the shared operations.
pub fn classify(err: sqlx::Error, uri: &ConnectionUri) -> DbError {
    let text = storage_api::uri::scrub(&err.to_string(), uri);
    if let Some(db) = err
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<MySqlDatabaseError>())
    {
        let number = db.number();
        let message = storage_api::uri::scrub(db.message(), uri);
        match number {
            ER_DUP_ENTRY | ER_DUP_ENTRY_WITH_KEY_NAME => {
                if let Some(key) = duplicate_key_name(db.message()) {
                    return DbError::Unique {
                        key: UniqueKey::from_name(&key),
                    };
                }
            }
            ER_NO_REFERENCED_ROW_2 | ER_NO_REFERENCED_ROW => {
                let key = referenced_table(db.message())
                    .map_or(ForeignKey::Unnamed, |t| ForeignKey::from_parent(&t));
                return DbError::ForeignKey { key };
            }
            ER_LOCK_DEADLOCK
            | ER_LOCK_WAIT_TIMEOUT
            | ER_USER_LOCK_DEADLOCK
            | ER_STATEMENT_TIMEOUT
            | ER_QUERY_TIMEOUT => {
                return DbError::Other(StorageError::Retryable {
                    message: format!("MySQL error {number}: {message}"),
                    source: boxed(text),
                });
            }
            ER_DATA_TOO_LONG | ER_TRUNCATED_WRONG_VALUE_FOR_FIELD => {
                // As PostgreSQL's 22001: the value was refused, nothing was truncated.
                return DbError::Other(StorageError::InvalidInput {
                    field: "value",
                    reason: format!("MySQL error {number}: {message}"),
                });
            }
            n if CONFIG.contains(&n) => {
                return DbError::Other(StorageError::Config(format!(
                    "MySQL refused the connection settings (error {n}): {message}"
                )));
            }
            _ => {}
        }
        if UNAVAILABLE.contains(&number) {
            return DbError::Other(StorageError::Unavailable {
                message: format!("MySQL connection lost (error {number}): {message}"),
                source: boxed(text),
            });
        }
        return DbError::Other(StorageError::Query {
            message: format!("MySQL error {number}: {message}"),
            source: boxed(text),
        });
    }
    if let Some(problem) = tls_problem(&err, &text) {
        return DbError::Other(StorageError::Config(format!(
            "cannot connect to MySQL over TLS: {problem} ({text})"
        )));
    }
    DbError::Other(match err {
        sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_) => {
            StorageError::Config(format!("MySQL connection settings: {text}"))
        }
        sqlx::Error::PoolTimedOut => StorageError::Unavailable {
            message: "no MySQL connection could be obtained within the connect timeout".into(),
            source: boxed(text),
        },
        sqlx::Error::PoolClosed => StorageError::Unavailable {
            message: "the MySQL storage was closed".into(),
            source: boxed(text),
        },
        ref e if is_connection_error(e) => StorageError::Unavailable {
            message: format!("MySQL server unreachable or connection lost: {text}"),
            source: boxed(text.clone()),
        },
        _ => StorageError::Query {
            message: format!("MySQL driver error: {text}"),
            source: boxed(text.clone()),
        },
    })
}

/// Classifies a driver error of a Galera node: as [`classify`], except that an
/// interrupted statement (a certification conflict) is `Retryable` and a node outside
/// the primary component is `Unavailable`.
pub fn classify_galera(err: sqlx::Error, uri: &ConnectionUri) -> DbError {
    let retryable = match error_number(&err) {
        Some(ER_QUERY_INTERRUPTED) => true,
        Some(ER_UNKNOWN_COM_ERROR) => false,
        _ => return classify(err, uri),
    };
    let text = storage_api::uri::scrub(&err.to_string(), uri);
    DbError::Other(if retryable {
        StorageError::Retryable {
            message: format!("Galera conflict: {text}"),
            source: boxed(text),
        }
    } else {
        StorageError::Unavailable {
            message: format!("Galera node not ready: {text}"),
            source: boxed(text),
        }
    })
}

/// Maps a driver error straight to a [`StorageError`] (constraint violations become
/// `Query`, for statements where they have no better meaning).
pub fn to_storage(err: sqlx::Error, uri: &ConnectionUri) -> StorageError {
    classify(err, uri).into_storage()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        assert_eq!(
            duplicate_key_name("Duplicate entry 'public-public-a@b.c' for key 'email'").as_deref(),
            Some("email")
        );
        assert_eq!(
            duplicate_key_name(
                "Duplicate entry 'x' for key 'st_emailpassword_user_to_tenant.email'"
            )
            .as_deref(),
            Some("email")
        );
        assert_eq!(
            duplicate_key_name("Duplicate entry 'public-1' for key 'apps.PRIMARY'").as_deref(),
            Some("PRIMARY")
        );
        assert_eq!(
            duplicate_key_name("Duplicate entry 'a' for key 'b'' for key 'link_code_hash'")
                .as_deref(),
            Some("link_code_hash")
        );
        assert_eq!(duplicate_key_name("something else"), None);
        assert_eq!(
            referenced_table(
                "Cannot add or update a child row: a foreign key constraint fails \
                 (`test`.`st_user_roles`, CONSTRAINT `st_user_roles_ibfk_1` FOREIGN KEY \
                 (`app_id`, `tenant_id`) REFERENCES `st_tenants` (`app_id`, `tenant_id`) \
                 ON DELETE CASCADE)"
            )
            .as_deref(),
            Some("st_tenants")
        );
        assert_eq!(referenced_table("Cannot add or update a child row"), None);
    }

    #[test]
    fn driver_errors() {
        let uri = ConnectionUri::parse("mysql://u:hunter2@h/db").unwrap();
        let e = to_storage(sqlx::Error::PoolTimedOut, &uri);
        assert!(matches!(e, StorageError::Unavailable { .. }), "{e:?}");
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset hunter2");
        let e = to_storage(sqlx::Error::Io(io), &uri);
        assert!(matches!(e, StorageError::Unavailable { .. }), "{e:?}");
        let shown = format!("{e} {e:?} {:?}", std::error::Error::source(&e));
        assert!(!shown.contains("hunter2"), "{shown}");
        let e = to_storage(sqlx::Error::RowNotFound, &uri);
        assert!(matches!(e, StorageError::Query { .. }), "{e:?}");
    }
}
