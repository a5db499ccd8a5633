//! SQLite's errors mapped to the contract's, by (extended) result code.
//!
//! Only the extended result code decides the variant. The message is read for one
//! thing: the column list of a unique violation (`UNIQUE constraint failed: t.a,
//! t.b, t.email`), whose last column names the key, because SQLite reports unique
//! keys by their columns and not by a constraint name.

use rusqlite::ffi;
use storage_api::StorageError;
use storage_sql::{DbError, ForeignKey, UniqueKey};

/// The primary result code of an extended one.
fn primary(extended: i32) -> i32 {
    extended & 0xff
}

/// The extended result code of an error that came from SQLite itself.
fn extended_code(e: &rusqlite::Error) -> Option<i32> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
        _ => None,
    }
}

/// Whether `e` is SQLITE_BUSY or SQLITE_LOCKED (any extended form): another
/// connection holds a lock this one needs.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    extended_code(e)
        .map(primary)
        .is_some_and(|c| c == ffi::SQLITE_BUSY || c == ffi::SQLITE_LOCKED)
}

/// The key name of a unique violation: the last column of the message's list, without
/// its table (`email` for `UNIQUE constraint failed: st_t.app_id, st_t.email`).
fn unique_key(message: Option<&str>) -> String {
    let Some(msg) = message else {
        return String::new();
    };
    let list = msg.split_once(':').map_or(msg, |(_, l)| l);
    let last = list.rsplit(',').next().unwrap_or(list).trim();
    last.rsplit('.').next().unwrap_or(last).trim().to_owned()
}

/// Maps a failed statement to a [`DbError`]: unique and primary keys and foreign keys
/// become the constraint variants, everything else is classified by
/// [`to_storage`].
pub(crate) fn map_db(e: rusqlite::Error) -> DbError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        match f.extended_code {
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                return DbError::Unique {
                    key: UniqueKey::Primary,
                };
            }
            ffi::SQLITE_CONSTRAINT_UNIQUE => {
                return DbError::Unique {
                    key: UniqueKey::from_name(&unique_key(msg.as_deref())),
                };
            }
            // SQLite says only "FOREIGN KEY constraint failed", never which key.
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                return DbError::ForeignKey {
                    key: ForeignKey::Unnamed,
                };
            }
            _ => {}
        }
    }
    DbError::Other(to_storage(e))
}

/// Classifies an error outside the constraint variants: busy or locked is
/// `Retryable`, a file that cannot be opened or read is `Unavailable`, anything else
/// is `Query` with the driver error as its source.
pub(crate) fn to_storage(e: rusqlite::Error) -> StorageError {
    let code = extended_code(&e).map(primary);
    let message = e.to_string();
    match code {
        Some(ffi::SQLITE_BUSY) | Some(ffi::SQLITE_LOCKED) => StorageError::Retryable {
            message,
            source: Some(Box::new(e)),
        },
        Some(ffi::SQLITE_CANTOPEN) | Some(ffi::SQLITE_IOERR) => StorageError::Unavailable {
            message,
            source: Some(Box::new(e)),
        },
        _ => StorageError::Query {
            message,
            source: Some(Box::new(e)),
        },
    }
}

/// A connection that could not be opened is always `Unavailable`, whatever SQLite
/// said (the path's directory is missing, permissions, not a database, ...).
pub(crate) fn open_failed(what: &str, e: rusqlite::Error) -> StorageError {
    StorageError::Unavailable {
        message: format!("cannot open the SQLite database {what}: {e}"),
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(extended: i32, msg: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(extended), Some(msg.to_owned()))
    }

    #[test]
    fn unique_key_is_the_last_column() {
        assert_eq!(
            unique_key(Some(
                "UNIQUE constraint failed: st_t.app_id, st_t.tenant_id, st_t.email"
            )),
            "email"
        );
        assert_eq!(
            unique_key(Some("UNIQUE constraint failed: t.token")),
            "token"
        );
        assert_eq!(unique_key(None), "");
    }

    #[test]
    fn codes_decide_the_variant() {
        assert!(matches!(
            map_db(failure(
                ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
                "UNIQUE constraint failed: t.a"
            )),
            DbError::Unique {
                key: UniqueKey::Primary
            }
        ));
        assert!(matches!(
            map_db(failure(
                ffi::SQLITE_CONSTRAINT_UNIQUE,
                "UNIQUE constraint failed: t.a, t.phone_number"
            )),
            DbError::Unique {
                key: UniqueKey::PhoneNumber
            }
        ));
        assert!(matches!(
            map_db(failure(
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
                "FOREIGN KEY constraint failed"
            )),
            DbError::ForeignKey {
                key: ForeignKey::Unnamed
            }
        ));
        // A message alone never decides: a NOT NULL failure mentioning UNIQUE is a query error.
        assert!(matches!(
            map_db(failure(
                ffi::SQLITE_CONSTRAINT_NOTNULL,
                "UNIQUE constraint failed: t.a"
            )),
            DbError::Other(StorageError::Query { .. })
        ));
        for code in [
            ffi::SQLITE_BUSY,
            ffi::SQLITE_BUSY_SNAPSHOT,
            ffi::SQLITE_BUSY_RECOVERY,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_LOCKED_SHAREDCACHE,
        ] {
            assert!(to_storage(failure(code, "database is locked")).is_retryable());
        }
        assert!(matches!(
            to_storage(failure(
                ffi::SQLITE_CANTOPEN,
                "unable to open database file"
            )),
            StorageError::Unavailable { .. }
        ));
        assert!(matches!(
            to_storage(failure(ffi::SQLITE_IOERR_WRITE, "disk I/O error")),
            StorageError::Unavailable { .. }
        ));
        assert!(matches!(
            to_storage(failure(ffi::SQLITE_ERROR, "no such table: x")),
            StorageError::Query { .. }
        ));
    }
}
