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
//!
//! ## Recipes
//!
//! One short example per phase-2 recipe, each a function of `&dyn Storage` as a core
//! holds it. Transactions go through [`run_transaction`]: its closure may run more
//! than once, so it clones what it captures and touches nothing outside the database.
//!
//! **Account linking** ([`AccountLinking`]). The storage checks and writes each link
//! atomically, so no two primary users sharing a tenant ever share an email, phone
//! number or third-party identity; a conflict is a typed [`StorageError`].
//!
//! ```no_run
//! # use storage_api::*;
//! # async fn demo(storage: &dyn Storage, app: &AppId, primary: &str, recipe_user: &str) -> Result<()> {
//! // MadePrimary, or AlreadyPrimary when a retried request did it already.
//! let _: MakePrimaryOutcome = storage.make_primary(app, primary).await?;
//! let status = match storage.link(app, recipe_user, primary).await {
//!     Ok(LinkOutcome::Linked) => "OK",
//!     Ok(LinkOutcome::AlreadyLinked) => "OK (accounts already linked)",
//!     Err(StorageError::RecipeUserAlreadyLinkedWithAnotherPrimaryUser { .. }) => {
//!         "RECIPE_USER_ID_ALREADY_LINKED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR"
//!     }
//!     Err(StorageError::AccountInfoAlreadyUsedByAnotherPrimaryUser { .. }) => {
//!         "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR"
//!     }
//!     Err(e) => return Err(e),
//! };
//! // Any id of the group finds the whole group.
//! let group = storage.get_primary_user(app, recipe_user).await?;
//! # let _ = (status, group);
//! # Ok(()) }
//! ```
//!
//! **User-id mapping** ([`UserIdMappings`]). A SuperTokens id and an external id each
//! take part in at most one mapping of the app; a clash is
//! [`StorageError::UserIdMappingAlreadyExists`], saying which side is taken.
//!
//! ```no_run
//! # use storage_api::*;
//! # async fn demo(storage: &dyn Storage, app: &AppId, st_user_id: &str) -> Result<()> {
//! // Refuse (unless forced) when non-auth recipes already hold rows for the id.
//! if !storage.non_auth_recipes_using(app, st_user_id).await?.is_empty() {
//!     return Ok(());
//! }
//! let mapping = UserIdMapping {
//!     supertokens_user_id: st_user_id.to_owned(),
//!     external_user_id: "crm-42".to_owned(),
//!     external_user_id_info: Some("imported from the CRM".to_owned()),
//! };
//! storage.create_user_id_mapping(app, &mapping).await?;
//! // Either id finds it: `Any` is one indexed look-up per column.
//! let found = storage.get_user_id_mapping(app, "crm-42", UserIdType::Any).await?;
//! assert_eq!(found, vec![mapping]);
//! # Ok(()) }
//! ```
//!
//! **User metadata** ([`UserMetadata`], [`UserMetadataTx`]). Read-merge-write inside a
//! transaction with the `_for_update` read: its named lock on (app, user) holds even
//! before the user has a row, so concurrent updates serialise and none loses a key.
//!
//! ```no_run
//! # use storage_api::*;
//! # use serde_json::json;
//! # async fn demo(storage: &dyn Storage, app: &AppId, user_id: &str) -> Result<(), TxError<()>> {
//! let update = json!({ "theme": "dark", "beta": null });
//! let merged = run_transaction(storage, &TxOptions::default(), |tx| {
//!     let (app, user_id, update) = (app.clone(), user_id.to_owned(), update.clone());
//!     Box::pin(async move {
//!         let old = tx.get_user_metadata_for_update(&app, &user_id).await?;
//!         let mut meta = old.unwrap_or_else(|| json!({}));
//!         // SuperTokens' shallow merge: a `null` removes the key.
//!         for (k, v) in update.as_object().into_iter().flatten() {
//!             let map = meta.as_object_mut().expect("metadata is an object");
//!             if v.is_null() { map.remove(k); } else { map.insert(k.clone(), v.clone()); }
//!         }
//!         tx.set_user_metadata(&app, &user_id, &meta).await?;
//!         Ok::<_, TxError<()>>(meta)
//!     })
//! })
//! .await?;
//! # let _ = merged;
//! # Ok(()) }
//! ```
//!
//! **Roles and permissions** ([`UserRoles`]). Roles and their permissions belong to
//! the app, assignments to a tenant; every write about one role takes its named lock,
//! so a deleted role never keeps permissions or assignments.
//!
//! ```no_run
//! # use storage_api::*;
//! # async fn demo(storage: &dyn Storage, tenant: &TenantIdentifier, user_id: &str) -> Result<()> {
//! let app = &tenant.app;
//! let permissions = ["read:orders".to_owned(), "write:orders".to_owned()];
//! storage.create_role(app, "admin").await?; // false if it existed
//! storage.add_permissions(app, "admin", &permissions).await?; // `UnknownRole` if deleted
//! storage.add_role_to_user(tenant, user_id, "admin").await?; // false if already assigned
//!
//! // A permission check: the user's roles in this tenant, then their permissions.
//! let mut allowed = false;
//! for role in storage.roles_of_user(tenant, user_id).await? {
//!     let granted = storage.permissions_of_role(app, &role).await?;
//!     allowed |= granted.iter().any(|p| p == "write:orders");
//! }
//! assert!(allowed);
//! // Deleting the role removes its permissions and its assignments in every tenant.
//! storage.delete_role(app, "admin").await?;
//! # Ok(()) }
//! ```
//!
//! **TOTP** ([`Totp`], [`TotpTx`]). Devices belong to the app, used codes to the
//! tenant. Verification reads devices and used codes under the user's TOTP lock in
//! one transaction, so of N concurrent verifications of one code exactly one accepts
//! it, and every attempt is recorded once.
//!
//! ```no_run
//! # use storage_api::*;
//! # fn code_matches(_: &TotpDevice, _: &str, _: i64) -> bool { true }
//! # async fn demo(storage: &dyn Storage, tenant: &TenantIdentifier, user: &str, secret: &str, code: &str, now: i64) -> Result<(), TxError<()>> {
//! let device = TotpDevice {
//!     user_id: user.to_owned(), device_name: "phone".to_owned(), secret_key: Secret::new(secret),
//!     period: 30, skew: 1, verified: false, created_at: now,
//! };
//! storage.create_totp_device(&tenant.app, &device).await?; // `DeviceAlreadyExists`
//! let accepted = run_transaction(storage, &TxOptions::default(), |tx| {
//!     let (tenant, user, code) = (tenant.clone(), user.to_owned(), code.to_owned());
//!     Box::pin(async move {
//!         let devices = tx.totp_devices_for_update(&tenant.app, &user).await?;
//!         let used = tx.used_totp_codes_for_update(&tenant, &user).await?;
//!         let reused = used.iter().any(|c| c.is_valid && c.code == code);
//!         let is_valid = !reused && devices.iter().any(|d| code_matches(d, &code, now));
//!         let (expiry_time, created_time) = (now + 120_000, now); // kept for rate limiting
//!         let attempt = TotpUsedCode { user_id: user, code, is_valid, expiry_time, created_time };
//!         tx.insert_used_totp_code(&tenant, &attempt).await?;
//!         Ok::<_, TxError<()>>(is_valid)
//!     })
//! })
//! .await?;
//! // The first accepted code verifies the device (idempotent).
//! if accepted { storage.mark_totp_device_verified(&tenant.app, user, "phone").await?; }
//! # Ok(()) }
//! ```
//!
//! **JWT signing keys** ([`JwtSigningKeys`]). `get_or_create_jwt_signing_key` runs
//! under a named lock on the app's keys: N cores asking at once create exactly one key
//! and all get it. The closure may run more than once; only the committed key is kept.
//!
//! ```no_run
//! # use storage_api::*;
//! # fn generate_rsa_private_key() -> String { String::new() }
//! # async fn demo(storage: &dyn Storage, app: &AppId, now: i64) -> Result<()> {
//! let new_key = || JwtSigningKey {
//!     key_id: format!("s-{}", uuid::Uuid::new_v4()),
//!     algorithm: "RS256".to_owned(), // must be the algorithm asked for
//!     key_string: Secret::new(generate_rsa_private_key()),
//!     created_at: now,
//! };
//! let key = storage.get_or_create_jwt_signing_key(app, "RS256", &new_key).await?;
//! // The JWKS endpoint publishes every key, newest first.
//! let all = storage.jwt_signing_keys(app).await?;
//! # let _ = (key, all);
//! # Ok(()) }
//! ```
//!
//! **Dashboard users and sessions** ([`Dashboard`]). Emails are unique per app;
//! deleting a dashboard user deletes its sessions.
//!
//! ```no_run
//! # use storage_api::*;
//! # fn password_matches(_: &Secret, _: &str) -> bool { true }
//! # async fn demo(storage: &dyn Storage, app: &AppId, email: &str, password: &str, now: i64) -> Result<()> {
//! // Sign-in: find the user by email, check the password, open a session.
//! let Some(user) = storage.get_dashboard_user_by_email(app, email).await? else {
//!     return Ok(()); // INVALID_CREDENTIALS_ERROR
//! };
//! if !password_matches(&user.password_hash, password) {
//!     return Ok(());
//! }
//! let expiry = now + 30 * 86_400_000;
//! let session_id = uuid::Uuid::new_v4().to_string();
//! let session = DashboardSession {
//!     session_id: session_id.clone(), user_id: user.user_id, time_created: now, expiry,
//! };
//! storage.create_dashboard_session(app, &session).await?;
//! // Each API call: the session must exist and not have expired.
//! let session = storage.get_dashboard_session(app, &session_id).await?;
//! let valid = session.is_some_and(|s| s.expiry > now);
//! // Sign-out, and a periodic clean-up of expired sessions of every app.
//! storage.revoke_dashboard_session(app, &session_id).await?;
//! storage.revoke_expired_dashboard_sessions(now).await?;
//! # let _ = valid;
//! # Ok(()) }
//! ```
//!
//! **Last-active counts** ([`ActiveUsers`]). One upsert per activity, and every count
//! is one query, however many users the app has.
//!
//! ```no_run
//! # use storage_api::*;
//! # async fn demo(storage: &dyn Storage, app: &AppId, user_id: &str, now: i64) -> Result<()> {
//! // On every session refresh.
//! storage.update_last_active(app, user_id, now).await?;
//! // Telemetry: active users of the last 30 days, per day, and those of them with
//! // more than one login method or with TOTP.
//! let month_ago = now - 30 * 86_400_000;
//! let mau = storage.count_active_since(app, month_ago).await?;
//! let by_day: Vec<(i64, u64)> = storage.count_active_by_day(app, month_ago, now).await?;
//! let multi = storage.count_active_with_many_login_methods(app, month_ago, true).await?;
//! # let _ = (mau, by_day, multi);
//! # Ok(()) }
//! ```
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
