//! Input checks shared by every backend: values are rejected before the database sees
//! them, never truncated (contract section 3, `InvalidInput`).

use crate::error::{Result, StorageError};

/// A non-empty string of at most `max` characters without NUL bytes.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() {
        return Err(StorageError::invalid(field, "must not be empty"));
    }
    text_allow_empty(field, value, max)
}

/// A string of at most `max` characters without NUL bytes; may be empty.
pub fn text_allow_empty(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.contains('\0') {
        return Err(StorageError::invalid(field, "must not contain NUL bytes"));
    }
    let n = value.chars().count();
    if n > max {
        return Err(StorageError::invalid(
            field,
            format!("is {n} characters long, at most {max} allowed"),
        ));
    }
    Ok(())
}

/// An optional value checked with [`text`] when present.
pub fn opt_text(field: &'static str, value: Option<&str>, max: usize) -> Result<()> {
    value.map_or(Ok(()), |v| text(field, v, max))
}

/// Free text of unbounded length (TEXT columns): only NUL bytes are refused.
pub fn free_text(field: &'static str, value: &str) -> Result<()> {
    text_allow_empty(field, value, usize::MAX)
}

/// A recipe user id or code id: a UUID written as 36 characters.
pub fn uuid(field: &'static str, value: &str) -> Result<()> {
    text(field, value, 36)?;
    if value.len() != 36 || uuid::Uuid::try_parse(value).is_err() {
        return Err(StorageError::invalid(
            field,
            "must be a UUID written as 36 characters",
        ));
    }
    Ok(())
}

/// A value of a fixed-width column (`CHAR(n)`): exactly `len` ASCII characters.
pub fn fixed(field: &'static str, value: &str, len: usize) -> Result<()> {
    text(field, value, len)?;
    if value.len() != len || !value.is_ascii() {
        return Err(StorageError::invalid(
            field,
            format!("must be exactly {len} ASCII characters"),
        ));
    }
    Ok(())
}

/// A time in milliseconds since the epoch; negative times are refused.
pub fn time(field: &'static str, value: i64) -> Result<()> {
    if value < 0 {
        return Err(StorageError::invalid(field, "must not be negative"));
    }
    Ok(())
}

/// A JSON value serialised to text for storage; NUL characters in strings are refused
/// because PostgreSQL text cannot hold them.
pub fn json(field: &'static str, value: &serde_json::Value) -> Result<String> {
    let s = serde_json::to_string(value)
        .map_err(|e| StorageError::invalid(field, format!("cannot be serialised: {e}")))?;
    if s.contains("\\u0000") {
        return Err(StorageError::invalid(
            field,
            "must not contain NUL characters",
        ));
    }
    Ok(s)
}
