//! # storage-api: the storage contract of the auth core
//!
//! Identifiers, domain types, one error enum, one async object-safe trait per domain
//! gathered by [`Storage`], the transaction model, opening by URI and the shared
//! migration runner. This crate holds no database code: backends live in
//! `storage-sqlite`, `storage-postgres` and `storage-mysql`.
//!
//! ## Linking a backend and opening a storage
//!
//! A backend crate registers its URI schemes when it is linked in. Reference it once
//! (`use storage_sqlite as _;`) so the linker keeps it, then open by URI:
//!
//! ```no_run
//! // In the core: `use storage_sqlite as _;` makes `sqlite://` available.
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = storage_api::open("sqlite://auth.db", Default::default()).await?;
//! storage_api::migrate_up(&*storage).await?;
//! let tenant = storage_api::TenantIdentifier::default_public();
//! storage.add_tenant(&tenant, 0).await?;
//! # Ok(()) }
//! ```
//!
//! [`open_from_env`] reads `POSTGRESQL_CONNECTION_URI`, `MYSQL_CONNECTION_URI`,
//! `DATABASE_URL` in that order and falls back to [`DEFAULT_SQLITE_URI`]. An unknown
//! scheme is a [`StorageError::Config`] listing the linked schemes.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod error;
pub mod health;
pub mod ids;
pub mod migrate;
pub mod open;
pub mod traits;
pub mod tx;
pub mod types;
pub mod uri;
pub mod validate;

pub use error::{BoxError, Result, StorageError, TenantOrApp};
pub use health::{PoolHealth, WaitMonitor};
pub use ids::{AppId, TenantConfigKey, TenantId, TenantIdentifier};
pub use migrate::{MigrateError, Migration, MigrationDriver, migrate_up};
pub use open::inventory;
pub use open::{
    Backend, DEFAULT_SQLITE_URI, OpenOptions, UriSource, linked_backends, linked_schemes, open,
    open_from_env, open_parsed, resolve_uri,
};
pub use traits::*;
pub use tx::{BoxFuture, Isolation, TxError, TxOptions, run_transaction};
pub use types::*;
pub use uri::ConnectionUri;
