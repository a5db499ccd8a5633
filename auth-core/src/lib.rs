//! # auth-core: a SuperTokens-compatible core
//!
//! Serves the part of SuperTokens' core HTTP API ("CDI" 5.4) that supertokens-node 24
//! uses, on the storage of this workspace (`storage-api` and its three backends).
//!
//! * [`config`]: settings from the environment, with SuperTokens' names and defaults.
//! * [`http`]: the axum server, path prefixes (`/appid-<id>/<tenant>`), api-key,
//!   `cdi-version` and `rid` handling, request logs.
//! * [`keys`] and [`tokens`]: RS256 signing keys kept in the storage, access tokens
//!   (version 5) and refresh tokens.
//! * One module per recipe: [`session`], [`emailpassword`], [`emailverification`],
//!   [`users`], [`multitenancy`], [`thirdparty`], [`passwordless`]; password hashing in [`passwords`].
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod config;
pub mod core;
pub mod emailpassword;
pub mod emailverification;
pub mod error;
pub mod http;
pub mod keys;
pub mod multitenancy;
pub mod passwordless;
pub mod passwords;
pub mod request;
pub mod session;
pub mod thirdparty;
pub mod tokens;
pub mod users;
pub mod util;

pub use crate::config::Config;
pub use crate::core::Core;
pub use crate::error::ApiError;

// Link every backend so that `open_from_env` serves all three URI schemes.
use storage_mysql as _;
use storage_postgres as _;
use storage_sqlite as _;
