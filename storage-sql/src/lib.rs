//! # storage-sql: the phase-1 operations, written once
//!
//! Every operation of the contract is implemented here once, as sea-query statements
//! and row mapping over a backend's [`Conn`]. A backend crate supplies a [`Driver`]
//! (pool, dialect, transactions, named locks, constraint reports normalised to
//! [`DbError`], migrations) and wraps it in [`SqlStorage`], which implements
//! [`storage_api::Storage`].
//!
//! Where the SQL of a domain lives: `src/tenancy.rs`, `src/users.rs`,
//! `src/sessions.rs`, `src/codes.rs`, and for phase 2 `src/metadata.rs`, `src/roles.rs`,
//! `src/jwt_keys.rs`, `src/totp.rs`, `src/dashboard.rs`, `src/active.rs` (one file per domain, all backends); what differs
//! per backend (driver, error codes, locks, DDL) lives in each backend crate.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod active;
mod app_scope;
mod codes;
pub mod conn;
mod dashboard;
mod jwt_keys;
mod linking;
mod mapping;
mod metadata;
mod roles;
mod run;
mod schema;
mod search;
mod sessions;
mod stmt;
mod tenancy;
mod totp;
mod tx;
mod users;

pub use conn::{Cell, Conn, DbError, Dialect, Driver, ForeignKey, Row, UniqueKey, Violation};
pub use tx::SqlTx;

/// Every table the statements name, with its columns in DDL order, as declared in
/// this crate (one enum per table). The schema tests compare it with the catalog of a
/// migrated database on every backend, so the declarations cannot drift from the
/// migrations.
pub fn declared_tables() -> Vec<(&'static str, Vec<&'static str>)> {
    schema::declared()
}

use std::sync::Arc;

/// A storage over any SQL [`Driver`]; implements every trait of the contract.
pub struct SqlStorage<D: Driver> {
    pub(crate) driver: Arc<D>,
    /// Statements rendered once, shared with this storage's transactions.
    pub(crate) templates: Arc<stmt::Templates>,
}

impl<D: Driver> SqlStorage<D> {
    /// Wraps a backend driver.
    pub fn new(driver: D) -> Self {
        Self {
            driver: Arc::new(driver),
            templates: Arc::default(),
        }
    }

    /// The backend driver.
    pub fn driver(&self) -> &D {
        &self.driver
    }
}
