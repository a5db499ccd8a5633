//! The check that every statement is confined to one app (issue 18, part 4: the
//! schema distributes by app, e.g. on Citus with `app_id` as distribution column,
//! only if every statement names its app).
//!
//! A statement is *app-scoped* when its SQL text
//! - for an `INSERT`, lists `app_id` among its columns;
//! - otherwise, has at least one `app_id` condition for the statement itself and for
//!   each `SELECT` in it (sub-queries, `UNION` branches): `app_id = <parameter>`,
//!   `app_id IN (...)`, or `app_id = <alias>.app_id` (a correlated sub-query or a join
//!   tied to a row already confined to the app).
//!
//! The exceptions are [`UNSCOPED`]: the cleanup jobs, which sweep expired rows of
//! every app in one statement, and the list of apps. [`Templates`](crate::stmt)
//! applies the check when it first renders a statement in debug builds, so the
//! conformance suite checks every statement it runs, on every backend; a statement
//! that fails it is an error, not a warning.

/// Statements allowed to span apps: the cleanup jobs (expired rows of every app)
/// and the core's directory of apps, tenants and tenant configurations, which it
/// reads whole (at start-up and on a configuration change) to route requests.
pub(crate) const UNSCOPED: &[&str] = &[
    "codes.delete_expired_reset_tokens",
    "codes.delete_expired_verification_tokens",
    "dashboard.revoke_expired",
    "sessions.delete_expired",
    "totp.remove_expired_codes",
    "tenancy.apps",
    "tenancy.tenants",
    "tenancy.configs",
    "tenancy.configs_providers",
    "tenancy.configs_clients",
    "tenancy.configs_first_factors",
    "tenancy.configs_secondary_factors",
];

/// Why `sql` (the statement `name`) is not confined to one app, or `None` if it is
/// (or is one of [`UNSCOPED`]).
pub(crate) fn violation(name: &str, sql: &str) -> Option<String> {
    if UNSCOPED.contains(&name) {
        return None;
    }
    let text: String = sql
        .chars()
        .filter(|c| *c != '"' && *c != '`')
        .collect::<String>()
        .to_ascii_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    if words.first() == Some(&"insert") {
        return (!words.contains(&"app_id"))
            .then(|| format!("statement `{name}` inserts without an app_id column"));
    }
    // A SELECT that reads only a derived table (`FROM (SELECT ...)`) is confined
    // by that table's own conditions.
    let derived = words
        .windows(2)
        .filter(|w| w == &["from", "select"])
        .count();
    let selects = words.iter().filter(|w| **w == "select").count() - derived;
    let needed = if words.first() == Some(&"select") {
        selects
    } else {
        selects + 1
    };
    // An UPDATE's assignments are not conditions.
    let conditions = match (
        text.starts_with("update"),
        text.find(" set "),
        text.find(" where "),
    ) {
        (true, Some(set), Some(wh)) if set < wh => format!("{}{}", &text[..set], &text[wh..]),
        (true, Some(set), None) => text[..set].to_owned(),
        _ => text.clone(),
    };
    let found = app_conditions(&conditions);
    (found < needed).then(|| {
        format!(
            "statement `{name}` has {found} app_id condition(s) for {needed} statement(s) \
             and sub-queries: every one must be confined to an app"
        )
    })
}

/// The number of `app_id` conditions in lower-cased, unquoted SQL: `app_id` (maybe
/// qualified) followed by `=` and a parameter or another `app_id`, or by `in (`.
fn app_conditions(text: &str) -> usize {
    let mut n = 0;
    let mut rest = text;
    while let Some(at) = rest.find("app_id") {
        let after = rest[at + "app_id".len()..].trim_start();
        let ok = if let Some(v) = after.strip_prefix('=') {
            let v = v.trim_start();
            v.starts_with('$')
                || v.starts_with('?')
                || v.split(|c: char| c.is_whitespace() || c == ')')
                    .next()
                    .is_some_and(|w| w == "app_id" || w.ends_with(".app_id"))
        } else {
            after.starts_with("in (") || after.starts_with("in(")
        };
        if ok {
            n += 1;
        }
        rest = &rest[at + "app_id".len()..];
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_statements_pass() {
        for sql in [
            r#"SELECT "a" FROM "t" WHERE "app_id" = $1 AND "x" = $2"#,
            "SELECT `a` FROM `t` WHERE `t`.`app_id` = ? ORDER BY `a`",
            r#"INSERT INTO "t" ("app_id", "x") VALUES ($1, $2)"#,
            r#"UPDATE "t" SET "x" = $1 WHERE "app_id" = $2"#,
            r#"DELETE FROM "t" WHERE "app_id" IN ($1, $2)"#,
            r#"SELECT "x" FROM "t" WHERE "app_id" = $1 UNION ALL SELECT "x" FROM "u" WHERE "u"."app_id" = $1"#,
            r#"SELECT COUNT(*) FROM "a" WHERE "a"."app_id" = $1 AND EXISTS (SELECT 1 FROM "b" WHERE "b"."app_id" = "a"."app_id")"#,
            r#"DELETE FROM "t" WHERE "expires" < $1"#,
            r#"SELECT COUNT(*) AS n FROM (SELECT "p" FROM "t" WHERE "app_id" = $1 GROUP BY "p") AS g"#,
        ]
        .iter()
        .zip([
            "q1",
            "q2",
            "q3",
            "q4",
            "q5",
            "q6",
            "q7",
            "sessions.delete_expired",
            "q9",
        ])
        {
            assert_eq!(violation(sql.1, sql.0), None, "{}", sql.0);
        }
    }

    #[test]
    fn unscoped_statements_fail() {
        for sql in [
            r#"SELECT "a" FROM "t" WHERE "x" = $1"#,
            r#"INSERT INTO "t" ("x") VALUES ($1)"#,
            r#"UPDATE "t" SET "app_id" = $1 WHERE "x" = $2"#,
            r#"DELETE FROM "t" WHERE "x" = $1"#,
            r#"SELECT "x" FROM "t" WHERE "app_id" = $1 UNION ALL SELECT "x" FROM "u""#,
            r#"UPDATE "t" SET "x" = 1 WHERE "app_id" = $1 AND "y" IN (SELECT "y" FROM "u")"#,
            r#"SELECT "app_id" FROM "t""#,
            r#"SELECT COUNT(*) FROM (SELECT "p" FROM "t") AS g"#,
        ] {
            assert!(violation("q", sql).is_some(), "{sql}");
        }
    }
}
