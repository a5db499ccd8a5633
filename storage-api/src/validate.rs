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

/// The deepest nesting of arrays and objects a stored JSON value may have: what
/// `serde_json` reads back (its recursion limit), so that nothing is accepted that
/// could not be read again.
pub const MAX_JSON_DEPTH: usize = 127;

/// How deeply arrays and objects nest in `value` (0 for a scalar), without recursion.
fn json_depth(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(d + 1);
                stack.extend(items.iter().map(|x| (x, d + 1)));
            }
            Value::Object(map) => {
                deepest = deepest.max(d + 1);
                stack.extend(map.values().map(|x| (x, d + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// A JSON value serialised to text for storage; NUL characters in strings are refused
/// because PostgreSQL text cannot hold them, and nesting deeper than
/// [`MAX_JSON_DEPTH`] because it could not be read back.
pub fn json(field: &'static str, value: &serde_json::Value) -> Result<String> {
    let depth = json_depth(value);
    if depth > MAX_JSON_DEPTH {
        return Err(StorageError::invalid(
            field,
            format!(
                "nests arrays and objects {depth} levels deep, at most {MAX_JSON_DEPTH} allowed"
            ),
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> serde_json::Value {
        let mut v = serde_json::json!(1);
        for i in 0..depth {
            v = if i % 2 == 0 {
                serde_json::json!([v])
            } else {
                serde_json::json!({ "k": v })
            };
        }
        v
    }

    #[test]
    fn json_nesting_is_bounded_by_what_reads_back() {
        let ok = json("data", &nested(MAX_JSON_DEPTH)).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&ok).unwrap(),
            nested(MAX_JSON_DEPTH)
        );
        let err = json("data", &nested(MAX_JSON_DEPTH + 1)).unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidInput { field: "data", .. }),
            "{err}"
        );
        let text = serde_json::to_string(&nested(MAX_JSON_DEPTH + 1)).unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    }
}
