//! What a backend supplies to the shared operations: a connection that runs
//! sea-query-built statements, transactions and named locks, and its constraint
//! reports normalised to [`DbError`].

use async_trait::async_trait;
use sea_query::{
    MysqlQueryBuilder, PostgresQueryBuilder, QueryStatementWriter, SqliteQueryBuilder, Values,
};
use storage_api::{Isolation, MigrationDriver, StorageError};

/// The SQL dialect a backend speaks; selects the sea-query builder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL 8.0+ and MariaDB 10.6+.
    MySql,
    /// SQLite 3.35+.
    Sqlite,
}

impl Dialect {
    /// Builds `stmt` for this dialect: SQL with placeholders plus the values.
    pub fn build<S: QueryStatementWriter>(self, stmt: &S) -> (String, Values) {
        match self {
            Dialect::Postgres => stmt.build(PostgresQueryBuilder),
            Dialect::MySql => stmt.build(MysqlQueryBuilder),
            Dialect::Sqlite => stmt.build(SqliteQueryBuilder),
        }
    }
}

/// One column value of a fetched row, decoded by the backend.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// Any integer column (BIGINT, INT, unsigned types that fit in i64); booleans
    /// stored as integers (MySQL TINYINT(1), SQLite) also arrive here.
    Int(i64),
    /// Text of any kind (TEXT, VARCHAR, CHAR).
    Text(String),
    /// A native boolean (PostgreSQL).
    Bool(bool),
    /// A text array (PostgreSQL `VARCHAR[]`).
    TextArray(Vec<String>),
}

/// A fetched row: cells in the order of the statement's select list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row(pub Vec<Cell>);

fn bad(i: usize, want: &str, got: &Cell) -> StorageError {
    StorageError::query(format!("column {i}: expected {want}, found {got:?}"))
}

impl Row {
    fn cell(&self, i: usize) -> Result<&Cell, StorageError> {
        self.0
            .get(i)
            .ok_or_else(|| StorageError::query(format!("row has no column {i}")))
    }
    /// A non-null text column.
    pub fn text(&self, i: usize) -> Result<String, StorageError> {
        match self.cell(i)? {
            Cell::Text(s) => Ok(s.clone()),
            c => Err(bad(i, "text", c)),
        }
    }
    /// A nullable text column.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StorageError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Text(s) => Ok(Some(s.clone())),
            c => Err(bad(i, "text or null", c)),
        }
    }
    /// A non-null integer column.
    pub fn int(&self, i: usize) -> Result<i64, StorageError> {
        match self.cell(i)? {
            Cell::Int(n) => Ok(*n),
            c => Err(bad(i, "integer", c)),
        }
    }
    /// A nullable integer column.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StorageError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Int(n) => Ok(Some(*n)),
            c => Err(bad(i, "integer or null", c)),
        }
    }
    /// A boolean column (native, or 0/1); NULL reads as false.
    pub fn bool(&self, i: usize) -> Result<bool, StorageError> {
        Ok(self.opt_bool(i)?.unwrap_or(false))
    }
    /// A nullable boolean column.
    pub fn opt_bool(&self, i: usize) -> Result<Option<bool>, StorageError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::Bool(b) => Ok(Some(*b)),
            Cell::Int(n) => Ok(Some(*n != 0)),
            c => Err(bad(i, "boolean", c)),
        }
    }
    /// A nullable text-array column: a native array, or JSON text of an array.
    pub fn opt_text_array(&self, i: usize) -> Result<Option<Vec<String>>, StorageError> {
        match self.cell(i)? {
            Cell::Null => Ok(None),
            Cell::TextArray(v) => Ok(Some(v.clone())),
            Cell::Text(s) => serde_json::from_str(s)
                .map(Some)
                .map_err(|e| StorageError::query(format!("column {i}: bad JSON array: {e}"))),
            c => Err(bad(i, "text array", c)),
        }
    }
    /// A nullable JSON column stored as text.
    pub fn opt_json(&self, i: usize) -> Result<Option<serde_json::Value>, StorageError> {
        match self.opt_text(i)? {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| StorageError::query(format!("column {i}: bad JSON: {e}"))),
        }
    }
}

/// A unique or primary key of the schema, as a backend reports it in a violation.
///
/// Backends name keys differently (PostgreSQL: `<table>_<column>_key`, MySQL: the
/// index name, SQLite: the key's columns); each backend normalises the name to the
/// key's column and [`UniqueKey::from_name`] turns it into this enum, so a statement
/// matches on a variant and a misspelt key does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UniqueKey {
    /// A table's primary key.
    Primary,
    /// A unique key on `email`.
    Email,
    /// A unique key on `phone_number`.
    PhoneNumber,
    /// The unique key on `third_party_user_id` (with `third_party_id`).
    ThirdPartyUserId,
    /// The unique key on `link_code_hash`.
    LinkCodeHash,
    /// The unique key on `token`.
    Token,
    /// A key the shared operations give no meaning to.
    Other,
}

impl UniqueKey {
    /// The key of a normalised name: `PRIMARY`, or the column the key is named for.
    pub fn from_name(name: &str) -> Self {
        match name {
            "PRIMARY" => Self::Primary,
            "email" => Self::Email,
            "phone_number" => Self::PhoneNumber,
            "third_party_user_id" => Self::ThirdPartyUserId,
            "link_code_hash" => Self::LinkCodeHash,
            "token" => Self::Token,
            _ => Self::Other,
        }
    }

    /// The normalised name ([`UniqueKey::from_name`] of it gives the key back);
    /// `other` for [`UniqueKey::Other`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Primary => "PRIMARY",
            Self::Email => "email",
            Self::PhoneNumber => "phone_number",
            Self::ThirdPartyUserId => "third_party_user_id",
            Self::LinkCodeHash => "link_code_hash",
            Self::Token => "token",
            Self::Other => "other",
        }
    }
}

/// A foreign key of the schema, as a backend reports it in a violation: named by the
/// table it references (its parent), so that a statement can say which parent was
/// missing and a misspelt key does not compile.
///
/// What each backend can say: PostgreSQL gives the constraint name
/// (`<table>_<column>_fkey`, [`ForeignKey::from_constraint`]); MySQL and MariaDB name
/// the referenced table in the message of error 1452 (`REFERENCES \`<parent>\``,
/// [`ForeignKey::from_parent`]); SQLite says only "FOREIGN KEY constraint failed",
/// which is [`ForeignKey::Unnamed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForeignKey {
    /// References `apps`.
    App,
    /// References `tenants`.
    Tenant,
    /// References `app_id_to_user_id` (a user id of the app).
    AppUser,
    /// References `all_auth_recipe_users` (a user in a tenant).
    TenantUser,
    /// References `roles`.
    Role,
    /// References `passwordless_devices`.
    PasswordlessDevice,
    /// References `totp_users`.
    TotpUser,
    /// References `dashboard_users`.
    DashboardUser,
    /// References `tenant_configs`.
    TenantConfig,
    /// References `tenant_thirdparty_providers`.
    ThirdPartyProvider,
    /// The backend does not say which key (SQLite; MySQL error 1216).
    Unnamed,
    /// A key the shared operations do not know.
    Other,
}

/// The foreign keys of the schema by constraint name (without the table prefix), as
/// PostgreSQL names them; the schema tests check it against the catalog.
const FOREIGN_KEYS: &[(&str, ForeignKey)] = &[
    (
        "all_auth_recipe_users_primary_or_recipe_user_id_fkey",
        ForeignKey::AppUser,
    ),
    ("all_auth_recipe_users_tenant_id_fkey", ForeignKey::Tenant),
    ("all_auth_recipe_users_user_id_fkey", ForeignKey::AppUser),
    ("app_id_to_user_id_app_id_fkey", ForeignKey::App),
    (
        "app_id_to_user_id_primary_or_recipe_user_id_fkey",
        ForeignKey::AppUser,
    ),
    (
        "dashboard_user_sessions_user_id_fkey",
        ForeignKey::DashboardUser,
    ),
    ("dashboard_users_app_id_fkey", ForeignKey::App),
    (
        "emailpassword_pswd_reset_tokens_user_id_fkey",
        ForeignKey::AppUser,
    ),
    (
        "emailpassword_user_to_tenant_user_id_fkey",
        ForeignKey::TenantUser,
    ),
    ("emailpassword_users_user_id_fkey", ForeignKey::AppUser),
    (
        "emailverification_tokens_tenant_id_fkey",
        ForeignKey::Tenant,
    ),
    (
        "emailverification_verified_emails_app_id_fkey",
        ForeignKey::App,
    ),
    ("jwt_signing_keys_app_id_fkey", ForeignKey::App),
    ("key_value_tenant_id_fkey", ForeignKey::Tenant),
    (
        "passwordless_codes_device_id_hash_fkey",
        ForeignKey::PasswordlessDevice,
    ),
    ("passwordless_devices_tenant_id_fkey", ForeignKey::Tenant),
    (
        "passwordless_user_to_tenant_user_id_fkey",
        ForeignKey::TenantUser,
    ),
    ("passwordless_users_user_id_fkey", ForeignKey::AppUser),
    ("role_permissions_role_fkey", ForeignKey::Role),
    ("roles_app_id_fkey", ForeignKey::App),
    (
        "session_access_token_signing_keys_app_id_fkey",
        ForeignKey::App,
    ),
    ("session_info_tenant_id_fkey", ForeignKey::Tenant),
    (
        "tenant_first_factors_tenant_id_fkey",
        ForeignKey::TenantConfig,
    ),
    (
        "tenant_required_secondary_factors_tenant_id_fkey",
        ForeignKey::TenantConfig,
    ),
    (
        "tenant_thirdparty_provider_clients_third_party_id_fkey",
        ForeignKey::ThirdPartyProvider,
    ),
    (
        "tenant_thirdparty_providers_tenant_id_fkey",
        ForeignKey::TenantConfig,
    ),
    ("tenants_app_id_fkey", ForeignKey::App),
    (
        "thirdparty_user_to_tenant_user_id_fkey",
        ForeignKey::TenantUser,
    ),
    ("thirdparty_users_user_id_fkey", ForeignKey::AppUser),
    ("totp_used_codes_tenant_id_fkey", ForeignKey::Tenant),
    ("totp_used_codes_user_id_fkey", ForeignKey::TotpUser),
    ("totp_user_devices_user_id_fkey", ForeignKey::TotpUser),
    ("totp_users_app_id_fkey", ForeignKey::App),
    ("user_last_active_app_id_fkey", ForeignKey::App),
    ("user_metadata_app_id_fkey", ForeignKey::App),
    ("user_roles_tenant_id_fkey", ForeignKey::Tenant),
    (
        "userid_mapping_supertokens_user_id_fkey",
        ForeignKey::AppUser,
    ),
];

/// The parent tables of the schema's foreign keys.
const PARENTS: &[(&str, ForeignKey)] = &[
    ("apps", ForeignKey::App),
    ("tenants", ForeignKey::Tenant),
    ("app_id_to_user_id", ForeignKey::AppUser),
    ("all_auth_recipe_users", ForeignKey::TenantUser),
    ("roles", ForeignKey::Role),
    ("passwordless_devices", ForeignKey::PasswordlessDevice),
    ("totp_users", ForeignKey::TotpUser),
    ("dashboard_users", ForeignKey::DashboardUser),
    ("tenant_configs", ForeignKey::TenantConfig),
    (
        "tenant_thirdparty_providers",
        ForeignKey::ThirdPartyProvider,
    ),
];

/// The entry of `list` that `name` is, with or without a table prefix (`st_`): the
/// longest entry `name` equals or ends with after a `_`.
fn by_name(list: &[(&str, ForeignKey)], name: &str) -> ForeignKey {
    list.iter()
        .filter(|(n, _)| {
            name == *n
                || name
                    .strip_suffix(n)
                    .is_some_and(|prefix| prefix.ends_with('_'))
        })
        .max_by_key(|(n, _)| n.len())
        .map_or(ForeignKey::Other, |(_, k)| *k)
}

impl ForeignKey {
    /// The key of a PostgreSQL constraint name (`[prefix]<table>_<column>_fkey`).
    pub fn from_constraint(name: &str) -> Self {
        by_name(FOREIGN_KEYS, name)
    }

    /// The key referencing the table `parent` (with or without the table prefix).
    pub fn from_parent(parent: &str) -> Self {
        by_name(PARENTS, parent)
    }

    /// The table the key references, without prefix; `None` for
    /// [`ForeignKey::Unnamed`] and [`ForeignKey::Other`].
    pub fn parent(self) -> Option<&'static str> {
        PARENTS.iter().find(|(_, k)| *k == self).map(|(n, _)| *n)
    }
}

/// A constraint violation, which only the statement that caused it can give a meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A unique or primary key was violated.
    Unique(UniqueKey),
    /// A foreign key was violated by an insert or update of a child row.
    ForeignKey(ForeignKey),
}

/// A failed statement, normalised by the backend so that the shared operations can
/// map it to the contract's variant in the context of the statement that failed.
///
/// The shared operations never convert it with `?`: every statement that can violate
/// a constraint says what that means (see `crate::stmt::Meaning`).
#[derive(Debug)]
pub enum DbError {
    /// A unique or primary key was violated.
    Unique {
        /// The key.
        key: UniqueKey,
    },
    /// A foreign key was violated by an insert or update of a child row.
    ForeignKey {
        /// The key, as far as the backend says.
        key: ForeignKey,
    },
    /// Anything else, already classified (`Retryable`, `Unavailable`, `Query`, ...).
    Other(StorageError),
}

impl From<StorageError> for DbError {
    fn from(e: StorageError) -> Self {
        DbError::Other(e)
    }
}

impl DbError {
    /// The error with the meaning `meaning` gives a constraint violation.
    pub fn meaning(self, meaning: impl FnOnce(Violation) -> StorageError) -> StorageError {
        match self {
            DbError::Other(e) => e,
            DbError::Unique { key } => meaning(Violation::Unique(key)),
            DbError::ForeignKey { key } => meaning(Violation::ForeignKey(key)),
        }
    }

    /// The error of a statement that gives no meaning to a constraint violation (one
    /// is then an unexpected `Query` error).
    pub fn into_storage(self) -> StorageError {
        self.meaning(unexpected)
    }
}

/// The `Query` error of a violation a statement did not expect.
pub fn unexpected(v: Violation) -> StorageError {
    match v {
        Violation::Unique(key) => {
            StorageError::query(format!("unexpected unique violation on key {key:?}"))
        }
        Violation::ForeignKey(key) => {
            StorageError::query(format!("unexpected foreign-key violation on key {key:?}"))
        }
    }
}

/// One connection taken from a backend's pool. Dropping it returns it to the pool; a
/// connection dropped inside a transaction must be rolled back (or discarded) by the
/// backend before reuse.
#[async_trait]
pub trait Conn: Send {
    /// Runs a statement that returns no rows; returns the rows it affected (matched
    /// rows, also on MySQL).
    async fn execute(&mut self, sql: &str, values: Values) -> Result<u64, DbError>;
    /// Runs a query and decodes every row.
    async fn fetch(&mut self, sql: &str, values: Values) -> Result<Vec<Row>, DbError>;
    /// Starts a transaction. `write` tells SQLite to take the write lock up front
    /// (`BEGIN IMMEDIATE`); server backends may ignore it.
    async fn begin(&mut self, isolation: Isolation, write: bool) -> Result<(), StorageError>;
    /// Commits, releasing named locks taken in the transaction.
    async fn commit(&mut self) -> Result<(), StorageError>;
    /// Rolls back, releasing named locks taken in the transaction.
    async fn rollback(&mut self) -> Result<(), StorageError>;
    /// Takes a named lock held until commit or rollback (PostgreSQL advisory
    /// transaction lock, MySQL `GET_LOCK`; SQLite: nothing, the write lock covers it).
    /// Failing to get it in time is `Retryable`.
    async fn named_lock(&mut self, name: &str) -> Result<(), StorageError>;
}

/// A backend: a pool of [`Conn`]s plus what differs per database.
#[async_trait]
pub trait Driver: Send + Sync + 'static {
    /// The connection type.
    type Conn: Conn;
    /// Backend name (`sqlite`, `postgresql`, `mysql`).
    const NAME: &'static str;
    /// The SQL dialect.
    fn dialect(&self) -> Dialect;
    /// The table prefix with its joiner (`st_` or empty).
    fn table_prefix(&self) -> &str;
    /// Takes a connection from the pool (`Unavailable` after the pool's timeout).
    async fn acquire(&self) -> Result<Self::Conn, StorageError>;
    /// Takes a connection for a short read outside any transaction: a few point
    /// look-ups, each statement on its own. A backend may serve several such
    /// callers over one connection at once (pipelining their statements); the
    /// connection must therefore never be asked to `begin` or to take a named lock
    /// (it answers with an error). The default takes an ordinary connection.
    async fn acquire_read(&self) -> Result<Self::Conn, StorageError> {
        self.acquire().await
    }
    /// Takes a connection for a read outside any transaction whose answer may lag
    /// behind other writers but must not lag behind this storage's own committed
    /// writes (read-your-writes). A backend with a read replica answers on it when
    /// the replica has replayed every write this storage committed, else on the
    /// primary; `scan` says the read is a page, scan or aggregate (not a short point
    /// read, see [`Driver::acquire_read`]). Returns the connection and whether it
    /// is on a replica. The default takes [`Driver::acquire`] (a scan) or
    /// [`Driver::acquire_read`]: no replica.
    async fn acquire_replica(&self, scan: bool) -> Result<(Self::Conn, bool), StorageError> {
        let conn = if scan {
            self.acquire().await?
        } else {
            self.acquire_read().await?
        };
        Ok((conn, false))
    }
    /// Told that a read on a replica connection failed with `error` (the read is
    /// then answered by the primary); a backend may stop using the replica for a
    /// while. The default does nothing.
    fn replica_failed(&self, error: &StorageError) {
        let _ = error;
    }
    /// A migration driver on a dedicated connection.
    async fn migration_driver(&self) -> Result<Box<dyn MigrationDriver>, StorageError>;
    /// Closes the pool.
    async fn close(&self);
    /// The pool's health (see [`storage_api::Storage::pool_health`]).
    fn pool_health(&self) -> Option<storage_api::PoolHealth> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_keys_by_constraint_and_parent_with_or_without_prefix() {
        for p in ["", "st_"] {
            let c = |n: &str| ForeignKey::from_constraint(&format!("{p}{n}"));
            assert_eq!(c("user_roles_tenant_id_fkey"), ForeignKey::Tenant);
            assert_eq!(c("role_permissions_role_fkey"), ForeignKey::Role);
            assert_eq!(c("roles_app_id_fkey"), ForeignKey::App);
            assert_eq!(c("totp_used_codes_user_id_fkey"), ForeignKey::TotpUser);
            assert_eq!(
                c("tenant_first_factors_tenant_id_fkey"),
                ForeignKey::TenantConfig
            );
            assert_eq!(c("user_roles_role_fkey"), ForeignKey::Other);
            let t = |n: &str| ForeignKey::from_parent(&format!("{p}{n}"));
            assert_eq!(t("tenants"), ForeignKey::Tenant);
            assert_eq!(t("totp_users"), ForeignKey::TotpUser);
            assert_eq!(t("dashboard_users"), ForeignKey::DashboardUser);
            assert_eq!(t("session_info"), ForeignKey::Other);
        }
        assert_eq!(ForeignKey::from_parent("xtenants"), ForeignKey::Other);
        for (name, key) in PARENTS {
            assert_eq!(key.parent(), Some(*name));
        }
        assert_eq!(ForeignKey::Unnamed.parent(), None);
    }
}
