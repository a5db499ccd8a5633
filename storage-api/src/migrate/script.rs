//! Migration scripts as text: checksums, the `{prefix}` template, splitting into
//! statements, and reading which tables and columns a script creates.

use super::driver::Migration;
use crate::error::StorageError;
use sha2::{Digest, Sha256};

/// SHA-256 of `sql`, lower-case hex.
pub fn checksum(sql: &str) -> String {
    let d = Sha256::digest(sql.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Replaces `{prefix}` in a template.
pub fn render(template: &str, prefix: &str) -> String {
    template.replace("{prefix}", prefix)
}

/// Splits a script into statements at `;` that end a line, skipping comment-only and
/// empty statements. Migration scripts are written so that this is exact.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") && cur.trim().is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if trimmed.ends_with(';') {
            let stmt = cur.trim().trim_end_matches(';').trim().to_owned();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur.clear();
        }
    }
    let rest = cur.trim().trim_end_matches(';').trim();
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// `stmt` without its comment lines.
fn without_comments(stmt: &str) -> String {
    stmt.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Base names (without prefix) of the tables that a migration template creates, in
/// order: every `CREATE TABLE [IF NOT EXISTS] {prefix}name`, the name optionally
/// quoted with backticks or double quotes. Baseline detection relies on it.
pub fn tables_created(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    for stmt in split_statements(template) {
        let code = without_comments(&stmt);
        let words: Vec<&str> = code.split_whitespace().collect();
        if words.len() < 3
            || !words[0].eq_ignore_ascii_case("create")
            || !words[1].eq_ignore_ascii_case("table")
        {
            continue;
        }
        let mut i = 2;
        if i + 2 < words.len()
            && words[i].eq_ignore_ascii_case("if")
            && words[i + 1].eq_ignore_ascii_case("not")
            && words[i + 2].eq_ignore_ascii_case("exists")
        {
            i += 3;
        }
        let Some(name) = words.get(i) else { continue };
        let name = name
            .split('(')
            .next()
            .unwrap_or_default()
            .trim_matches(|c| c == '`' || c == '"');
        if let Some(base) = name.strip_prefix("{prefix}")
            && !base.is_empty()
            && !out.iter().any(|t| t == base)
        {
            out.push(base.to_owned());
        }
    }
    out
}

/// The longest name (table, constraint or index) that `migrations` create with the
/// prefix, without it; the history table's primary key counts too.
pub fn longest_prefixed_name(migrations: &[Migration]) -> (usize, String) {
    let mut best = (0, String::new());
    for m in migrations {
        for (i, _) in m.up.match_indices("{prefix}") {
            let rest = &m.up[i + "{prefix}".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end > best.0 {
                best = (end, rest[..end].to_owned());
            }
        }
    }
    let history = "schema_migrations_pkey";
    if history.len() > best.0 {
        best = (history.len(), history.to_owned());
    }
    best
}

/// A `Config` error when a name that `migrations` create with `prefix` (with its
/// joiner) would be longer than the server's `max` identifier length: the server would
/// refuse it (MySQL) or cut it silently (PostgreSQL), and the error mapping relies on
/// the names.
pub fn check_prefix_length(
    migrations: &[Migration],
    prefix: &str,
    max: usize,
    server: &str,
) -> Result<(), StorageError> {
    let (len, name) = longest_prefixed_name(migrations);
    if prefix.len() + len > max {
        return Err(StorageError::Config(format!(
            "table prefix `{}` is too long for {server}: `{prefix}{name}` (a name of SuperTokens' layout) would exceed {max} characters; use a prefix of at most {} characters",
            prefix.trim_end_matches('_'),
            max.saturating_sub(len + 1)
        )));
    }
    Ok(())
}

/// One column as a migration template declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredColumn {
    /// Base name of its table, without prefix.
    pub table: String,
    /// Column name.
    pub column: String,
    /// The type as written (`VARCHAR(64)`, `BIGINT UNSIGNED`, `VARCHAR(128)[]`).
    pub sql_type: String,
}

/// Words that end a column's type in a column definition.
const TYPE_END: &[&str] = &[
    "NOT",
    "NULL",
    "DEFAULT",
    "CONSTRAINT",
    "PRIMARY",
    "UNIQUE",
    "REFERENCES",
    "CHECK",
    "COLLATE",
    "AUTO_INCREMENT",
    "GENERATED",
    "CHARACTER",
    "COMMENT",
];

/// Words that start a table constraint or index rather than a column.
const NOT_A_COLUMN: &[&str] = &[
    "CONSTRAINT",
    "PRIMARY",
    "UNIQUE",
    "KEY",
    "INDEX",
    "FOREIGN",
    "CHECK",
    "FULLTEXT",
];

/// The columns every `CREATE TABLE {prefix}name (...)` of `template` declares, in
/// order: name and type as written. Baseline compares them with the live catalog.
pub fn columns_created(template: &str) -> Vec<DeclaredColumn> {
    let mut out = Vec::new();
    for stmt in split_statements(template) {
        let code = without_comments(&stmt);
        let Some(table) = tables_created(&code).into_iter().next() else {
            continue;
        };
        let (Some(open), Some(close)) = (code.find('('), code.rfind(')')) else {
            continue;
        };
        if close <= open {
            continue;
        }
        for item in split_top_level(&code[open + 1..close]) {
            let words: Vec<&str> = item.split_whitespace().collect();
            let Some(first) = words.first() else { continue };
            if NOT_A_COLUMN.iter().any(|k| first.eq_ignore_ascii_case(k)) {
                continue;
            }
            let ty: Vec<&str> = words[1..]
                .iter()
                .copied()
                .take_while(|w| !TYPE_END.iter().any(|k| w.eq_ignore_ascii_case(k)))
                .collect();
            out.push(DeclaredColumn {
                table: table.clone(),
                column: first.trim_matches(|c| c == '`' || c == '"').to_owned(),
                sql_type: ty.join(" "),
            });
        }
    }
    out
}

/// Splits `body` at the commas that are not inside parentheses or quotes.
fn split_top_level(body: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut quoted) = (0i32, false);
    for ch in body.chars() {
        match ch {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        parts.push(cur.trim().to_owned());
    }
    parts
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements() {
        let s = split_statements("-- c\nCREATE TABLE a (x INT);\n\nCREATE TABLE b (\n y INT\n);\n");
        assert_eq!(
            s,
            vec!["CREATE TABLE a (x INT)", "CREATE TABLE b (\n y INT\n)"]
        );
    }

    #[test]
    fn finds_created_tables() {
        let t = tables_created(
            "-- CREATE TABLE {prefix}nope (x INT);\nCREATE TABLE {prefix}apps (\n x INT\n);\nCREATE INDEX {prefix}i ON {prefix}apps (x);\ncreate table if not exists `{prefix}tenants`(x INT);\nCREATE TABLE \"{prefix}kv\" (x INT);\n",
        );
        assert_eq!(t, vec!["apps", "tenants", "kv"]);
    }

    #[test]
    fn reads_declared_columns() {
        let c = columns_created(
            "CREATE TABLE IF NOT EXISTS {prefix}t (a VARCHAR(64) NOT NULL DEFAULT 'x,y', b BIGINT UNSIGNED,\n c VARCHAR(128)[], PRIMARY KEY (a, b), KEY i (b),\n CONSTRAINT f FOREIGN KEY (a) REFERENCES {prefix}u (a)) ENGINE=InnoDB;",
        );
        let got: Vec<(&str, &str)> = c
            .iter()
            .map(|c| (c.column.as_str(), c.sql_type.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "VARCHAR(64)"),
                ("b", "BIGINT UNSIGNED"),
                ("c", "VARCHAR(128)[]")
            ]
        );
        assert!(c.iter().all(|c| c.table == "t"));
    }

    #[test]
    fn prefix_length_is_checked_against_the_longest_name() {
        static M: &[Migration] = &[Migration {
            version: 1,
            name: "m",
            kind: super::super::MigrationKind::SuperTokens,
            up: "CREATE TABLE {prefix}a_rather_long_table_name_x (x INT);",
            down: None,
            replaces: &[],
        }];
        assert_eq!(longest_prefixed_name(M).0, 26);
        assert!(check_prefix_length(M, "st_", 29, "X").is_ok());
        let e = check_prefix_length(M, "abc_", 29, "X")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 2 characters"), "{e}");
    }

    #[test]
    fn checksum_is_sha256() {
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
