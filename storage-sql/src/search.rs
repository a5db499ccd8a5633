//! The search tags of list users (contract-phase2 A.3): the login methods of a tenant
//! whose email (or its domain), phone number or third-party id starts with a tag.
//!
//! Every tag kind of every recipe table is its own `SELECT` of a `UNION`, each a range
//! scan of one index (migration 6):
//! - PostgreSQL: `col COLLATE "C" >= lo AND col COLLATE "C" < hi`, served by
//!   `COLLATE "C"` indexes (the plugin's indexes use the database's collation, in
//!   which a prefix is not one range); the domain by an expression index on
//!   `substr(email, strpos(email, '@') + 1)`.
//! - SQLite: the same range on the plugin's (BINARY) indexes; the domain by an
//!   expression index on `substr(email, instr(email, '@') + 1)`. (`LIKE` is
//!   case-insensitive there and could not use them.)
//! - MySQL / MariaDB: `col LIKE 'tag%'` (the tag's `\`, `%`, `_` escaped), a range of
//!   the plugin's indexes whatever the collation; the domain by an index on a
//!   `VIRTUAL` generated column `email_domain` (MariaDB has no functional indexes).
//!
//! `lo` is the tag and `hi` its successor in byte (code point) order: every string
//! starting with the tag, and nothing else, lies in `[lo, hi)`.

use crate::conn::Dialect;
use crate::schema::{
    AllAuthRecipeUsers, As, EmailpasswordUserToTenant, Name, PasswordlessUserToTenant, Tbl,
    ThirdpartyUserToTenant, ThirdpartyUsers,
};
use crate::stmt::{Each, One, Q};
use sea_query::{BinOper, Cond, Expr, ExprTrait, Iden, Query, SelectStatement, UnionType};
use storage_api::{Result, StorageError, UserSearch};

/// The bound values of one kind of tag: the range `[lo, hi)` of each tag, or on
/// MySQL the `LIKE` pattern of each (in `lo`; `hi` empty).
pub(crate) struct TagValues {
    /// Lower bounds (or patterns).
    pub(crate) lo: Vec<String>,
    /// Upper bounds (empty on MySQL).
    pub(crate) hi: Vec<String>,
}

/// The smallest string greater than every string starting with `prefix`, in code
/// point order (which is UTF-8 byte order); none when every character is the last.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match c as u32 {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The values of the tags of one kind, checked (1 to 256 characters).
pub(crate) fn tag_values(d: Dialect, field: &'static str, tags: &[String]) -> Result<TagValues> {
    let mut v = TagValues {
        lo: Vec::with_capacity(tags.len()),
        hi: Vec::with_capacity(tags.len()),
    };
    for tag in tags {
        let n = tag.chars().count();
        if n == 0 || n > 256 {
            return Err(StorageError::invalid(field, "a tag is 1 to 256 characters"));
        }
        if d == Dialect::MySql {
            let mut p = String::with_capacity(tag.len() + 2);
            for c in tag.chars() {
                if matches!(c, '\\' | '%' | '_') {
                    p.push('\\');
                }
                p.push(c);
            }
            p.push('%');
            v.lo.push(p);
        } else {
            let hi = successor(tag)
                .ok_or_else(|| StorageError::invalid(field, "a tag has no successor"))?;
            v.lo.push(tag.clone());
            v.hi.push(hi);
        }
    }
    Ok(v)
}

/// What is searched: a column, or the domain of the email column.
#[derive(Clone, Copy)]
enum Target {
    Column(Name),
    Domain,
}

/// The SQL of a searched expression, as the indexes of migration 6 declare it.
fn target_sql(d: Dialect, t: Target) -> String {
    match (d, t) {
        (Dialect::Postgres, Target::Column(c)) => format!("{} COLLATE \"C\"", c.unquoted()),
        (Dialect::Postgres, Target::Domain) => {
            "substr(email, strpos(email, '@') + 1) COLLATE \"C\"".into()
        }
        (Dialect::MySql, Target::Column(c)) => c.unquoted().into(),
        (Dialect::MySql, Target::Domain) => "email_domain".into(),
        (_, Target::Column(c)) => c.unquoted().into(),
        (_, Target::Domain) => "substr(email, instr(email, '@') + 1)".into(),
    }
}

/// `target` starts with one of the tags (`lo`, `hi` as made by [`tag_values`]).
fn starts_with(d: Dialect, t: Target, lo: &Each, hi: &Each) -> Cond {
    let sql = target_sql(d, t);
    let mut any = Cond::any();
    if d == Dialect::MySql {
        for p in lo.values() {
            any = any.add(Expr::cust(sql.clone()).binary(BinOper::Like, Expr::val(p)));
        }
    } else {
        for (l, h) in lo.values().zip(hi.values()) {
            any = any.add(
                Cond::all()
                    .add(Expr::cust(sql.clone()).gte(Expr::val(l)))
                    .add(Expr::cust(sql.clone()).lt(Expr::val(h))),
            );
        }
    }
    any
}

/// The markers of the tag values of a list-users statement.
pub(crate) struct TagArgs<'a> {
    /// Email tags.
    pub(crate) emails: (&'a Each, &'a Each),
    /// Phone tags.
    pub(crate) phones: (&'a Each, &'a Each),
    /// Provider tags.
    pub(crate) providers: (&'a Each, &'a Each),
}

/// `SELECT user_id ... UNION SELECT user_id ...`: the login methods of the tenant
/// matching `search` (which is not empty), each branch one index range.
pub(crate) fn matching_login_methods(
    q: Q<'_>,
    app: &One,
    tenant: &One,
    search: &UserSearch,
    a: &TagArgs<'_>,
) -> SelectStatement {
    let d = q.dialect;
    let emails = !search.emails.is_empty();
    let mut branches: Vec<SelectStatement> = Vec::new();
    // The searched tables share these column names; the table is chosen per branch.
    let branch = |tbl: Tbl, in_tenant: bool, cond: Cond| {
        let mut s = Query::select();
        s.column(ThirdpartyUserToTenant::UserId.any())
            .from(q.t(tbl))
            .and_where(Expr::col(ThirdpartyUserToTenant::AppId.any()).eq(app.expr()));
        if in_tenant {
            s.and_where(Expr::col(ThirdpartyUserToTenant::TenantId.any()).eq(tenant.expr()));
        }
        s.cond_where(cond);
        s
    };
    let (e_lo, e_hi) = a.emails;
    let email_targets = [
        Target::Column(EmailpasswordUserToTenant::Email.any()),
        Target::Domain,
    ];
    if emails {
        for t in email_targets {
            branches.push(branch(
                Tbl::EmailpasswordUserToTenant,
                true,
                starts_with(d, t, e_lo, e_hi),
            ));
            branches.push(branch(
                Tbl::PasswordlessUserToTenant,
                true,
                starts_with(d, t, e_lo, e_hi),
            ));
        }
    }
    if !search.phones.is_empty() {
        let (lo, hi) = a.phones;
        branches.push(branch(
            Tbl::PasswordlessUserToTenant,
            true,
            starts_with(
                d,
                Target::Column(PasswordlessUserToTenant::PhoneNumber.any()),
                lo,
                hi,
            ),
        ));
    }
    // Third-party login methods: the email (app-scoped table; the page's join keeps
    // the tenant's) and the provider, each kind given.
    let provider = (!search.providers.is_empty()).then(|| {
        let (lo, hi) = a.providers;
        starts_with(
            d,
            Target::Column(ThirdpartyUsers::ThirdPartyId.any()),
            lo,
            hi,
        )
    });
    if emails {
        for t in email_targets {
            let mut c = Cond::all().add(starts_with(d, t, e_lo, e_hi));
            if let Some(p) = &provider {
                c = c.add(p.clone());
            }
            branches.push(branch(Tbl::ThirdpartyUsers, false, c));
        }
    } else if let Some(p) = provider {
        branches.push(branch(Tbl::ThirdpartyUserToTenant, true, p));
    }
    let mut it = branches.into_iter();
    let mut first = it.next().unwrap_or_else(|| {
        // Unreachable with a non-empty search; matches nothing otherwise.
        let mut s = Query::select();
        s.column(AllAuthRecipeUsers::UserId)
            .from(q.t(Tbl::AllAuthRecipeUsers))
            .and_where(Expr::cust("1 = 0"));
        s
    });
    for b in it {
        first.union(UnionType::Distinct, b);
    }
    first
}

/// The alias of the matching login methods in the page's join.
pub(crate) const MATCHED: As = As::G;

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn successor_is_the_next_string_in_code_point_order() {
        assert_eq!(successor("abc").as_deref(), Some("abd"));
        assert_eq!(successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(successor("\u{10FFFF}"), None);
        // Every string starting with the prefix sorts below the successor, byte-wise.
        let s = successor("ab").unwrap_or_default();
        assert!("ab\u{10FFFF}zzz".as_bytes() < s.as_bytes());
        assert!("ab".as_bytes() < s.as_bytes());
    }
}
