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

/// A constraint violation, which only the statement that caused it can give a meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A unique or primary key was violated.
    Unique(UniqueKey),
    /// A foreign key was violated by an insert or update of a child row (backends do
    /// not all report which one; every statement has at most one that can fail).
    ForeignKey,
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
    ForeignKey,
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
            DbError::ForeignKey => meaning(Violation::ForeignKey),
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
        Violation::ForeignKey => StorageError::query("unexpected foreign-key violation"),
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
    /// A migration driver on a dedicated connection.
    async fn migration_driver(&self) -> Result<Box<dyn MigrationDriver>, StorageError>;
    /// Closes the pool.
    async fn close(&self);
    /// The pool's health (see [`storage_api::Storage::pool_health`]).
    fn pool_health(&self) -> Option<storage_api::PoolHealth> {
        None
    }
}
