//! One async, object-safe trait per domain, gathered by [`Storage`]; the `*Tx` traits
//! are the forms that run inside a caller's transaction (contract sections 4 and 5).

use crate::error::Result;
use crate::ids::{AppId, TenantConfigKey, TenantIdentifier};
use crate::migrate::MigrationDriver;
use crate::tx::TxOptions;
use crate::types::*;
use async_trait::async_trait;
use serde_json::Value;

/// Apps, tenants, tenant configs and the key/value store (contract 5.1).
#[async_trait]
pub trait Tenancy: Send + Sync {
    /// Inserts the app row if missing and the tenant row; `DuplicateTenant` if the
    /// tenant exists.
    async fn add_tenant(&self, tenant: &TenantIdentifier, created_at: i64) -> Result<()>;
    /// Deletes a tenant and every tenant-scoped row; its users stay in the app.
    /// Deleting the public tenant deletes the app. Returns whether it existed.
    async fn delete_tenant(&self, tenant: &TenantIdentifier) -> Result<bool>;
    /// Deletes an app and everything of it. Returns whether it existed.
    async fn delete_app(&self, app: &AppId) -> Result<bool>;
    /// Every app with its tenants, sorted.
    async fn list_apps_and_tenants(&self) -> Result<Vec<AppTenants>>;
    /// Creates a tenant config: `DuplicateTenant`, `DuplicateThirdPartyId`,
    /// `DuplicateClientType`.
    async fn create_tenant_config(&self, config: &TenantConfig) -> Result<()>;
    /// Replaces a tenant config in one transaction; `TenantOrAppNotFound` if absent.
    async fn overwrite_tenant_config(&self, config: &TenantConfig) -> Result<()>;
    /// Reads one tenant config.
    async fn get_tenant_config(&self, key: &TenantConfigKey) -> Result<Option<TenantConfig>>;
    /// Every tenant config, sorted by key.
    async fn list_tenant_configs(&self) -> Result<Vec<TenantConfig>>;
    /// Deletes a tenant config with its providers, clients and factors.
    async fn delete_tenant_config(&self, key: &TenantConfigKey) -> Result<bool>;
    /// Reads a key/value row of a tenant.
    async fn kv_get(&self, tenant: &TenantIdentifier, name: &str) -> Result<Option<KeyValue>>;
    /// Inserts or replaces a key/value row.
    async fn kv_set(&self, tenant: &TenantIdentifier, name: &str, value: &KeyValue) -> Result<()>;
}

/// Tenancy operations inside a transaction.
#[async_trait]
pub trait TenancyTx: Send {
    /// Reads a key/value row under a named lock on (tenant, name), so concurrent
    /// get-or-create calls serialise even when the row does not exist yet.
    async fn kv_get_for_update(
        &mut self,
        tenant: &TenantIdentifier,
        name: &str,
    ) -> Result<Option<KeyValue>>;
    /// Inserts or replaces a key/value row.
    async fn kv_set(
        &mut self,
        tenant: &TenantIdentifier,
        name: &str,
        value: &KeyValue,
    ) -> Result<()>;
}

/// Users of the email-password, third-party and passwordless recipes (contract 5.2).
#[async_trait]
pub trait Users: Send + Sync {
    /// Email-password sign-up: `DuplicateUserId`, `DuplicateEmail`, `TenantOrAppNotFound`.
    async fn sign_up_email_password(&self, input: &EmailPasswordSignUp) -> Result<User>;
    /// Third-party sign-up: `DuplicateUserId`, `DuplicateThirdPartyUser`, `TenantOrAppNotFound`.
    async fn sign_up_third_party(&self, input: &ThirdPartySignUp) -> Result<User>;
    /// Passwordless user creation: `DuplicateUserId`, `DuplicateEmail`,
    /// `DuplicatePhoneNumber`, `TenantOrAppNotFound`.
    async fn create_passwordless_user(&self, input: &PasswordlessSignUp) -> Result<User>;
    /// A user of the app by id.
    async fn get_user(&self, app: &AppId, user_id: &str) -> Result<Option<User>>;
    /// Users of any recipe with this exact email in the tenant.
    async fn list_users_by_email(
        &self,
        tenant: &TenantIdentifier,
        email: &str,
    ) -> Result<Vec<User>>;
    /// Passwordless users with this phone number in the tenant.
    async fn list_users_by_phone(
        &self,
        tenant: &TenantIdentifier,
        phone: &str,
    ) -> Result<Vec<User>>;
    /// Third-party users of the app with this identity (one per tenant at most).
    async fn list_users_by_third_party(
        &self,
        app: &AppId,
        third_party: &ThirdPartyInfo,
    ) -> Result<Vec<User>>;
    /// One page of the tenant's users, keyset-paginated on (time joined, user id).
    async fn list_users(&self, request: &ListUsers) -> Result<UserPage>;
    /// Counts users of an app or tenant, optionally only of some recipes.
    async fn count_users(&self, scope: &UserScope, recipes: &[RecipeId]) -> Result<u64>;
    /// Whether the user exists in the app or tenant.
    async fn user_exists(&self, scope: &UserScope, user_id: &str) -> Result<bool>;
    /// Changes an email-password user's email: `DuplicateEmail`, `UnknownUserId`.
    async fn update_email_password_email(
        &self,
        app: &AppId,
        user_id: &str,
        email: &str,
    ) -> Result<()>;
    /// Changes a third-party user's email (SuperTokens stores the email the provider
    /// reports at each sign-in; third-party emails are not unique): `UnknownUserId`,
    /// and `AccountInfoAlreadyUsedByAnotherPrimaryUser` when the user is linked and
    /// another primary user of its tenants has the email.
    async fn update_third_party_email(&self, app: &AppId, user_id: &str, email: &str)
    -> Result<()>;
    /// Changes a password hash: `UnknownUserId`.
    async fn update_password_hash(&self, app: &AppId, user_id: &str, hash: &Secret) -> Result<()>;
    /// Changes a passwordless user's email and phone (`None` clears one, not both):
    /// `DuplicateEmail`, `DuplicatePhoneNumber`, `UnknownUserId`.
    async fn update_passwordless_contact(
        &self,
        app: &AppId,
        user_id: &str,
        email: Option<&str>,
        phone_number: Option<&str>,
    ) -> Result<()>;
    /// Adds a user to a tenant, re-checking per-tenant uniqueness: `UnknownUserId`,
    /// `TenantOrAppNotFound`, `DuplicateEmail`, `DuplicatePhoneNumber`,
    /// `DuplicateThirdPartyUser`. Returns false if the user was already in it.
    async fn add_user_to_tenant(&self, tenant: &TenantIdentifier, user_id: &str) -> Result<bool>;
    /// Removes a user from a tenant; the user stays in the app.
    async fn remove_user_from_tenant(
        &self,
        tenant: &TenantIdentifier,
        user_id: &str,
    ) -> Result<bool>;
    /// Deletes a user with every login method linked to it, and its rows in every
    /// phase-1 and phase-2 table (see [`AccountLinking::delete_user_with_links`]).
    /// Returns whether it existed.
    async fn delete_user(&self, app: &AppId, user_id: &str) -> Result<bool>;
}

/// User operations inside a transaction.
#[async_trait]
pub trait UsersTx: Send {
    /// A user of the app by id.
    async fn get_user(&mut self, app: &AppId, user_id: &str) -> Result<Option<User>>;
    /// See [`Users::update_email_password_email`].
    async fn update_email_password_email(
        &mut self,
        app: &AppId,
        user_id: &str,
        email: &str,
    ) -> Result<()>;
    /// See [`Users::update_password_hash`].
    async fn update_password_hash(
        &mut self,
        app: &AppId,
        user_id: &str,
        hash: &Secret,
    ) -> Result<()>;
    /// See [`Users::update_passwordless_contact`].
    async fn update_passwordless_contact(
        &mut self,
        app: &AppId,
        user_id: &str,
        email: Option<&str>,
        phone_number: Option<&str>,
    ) -> Result<()>;
    /// See [`Users::delete_user`].
    async fn delete_user(&mut self, app: &AppId, user_id: &str) -> Result<bool>;
}

/// Sessions and access-token signing keys (contract 5.3).
#[async_trait]
pub trait Sessions: Send + Sync {
    /// Creates a session: `TenantOrAppNotFound`.
    async fn create_session(&self, session: &NewSession) -> Result<()>;
    /// Reads a session.
    async fn get_session(&self, tenant: &TenantIdentifier, handle: &str)
    -> Result<Option<Session>>;
    /// Rotates the refresh token in one conditional UPDATE: the current hash must be
    /// `rotation.expected` and the session not expired at `rotation.now`.
    async fn rotate_refresh_token(
        &self,
        tenant: &TenantIdentifier,
        rotation: &RefreshRotation<'_>,
    ) -> Result<RotateOutcome>;
    /// Replaces session data and/or the JWT payload; returns rows touched.
    async fn update_session(
        &self,
        tenant: &TenantIdentifier,
        handle: &str,
        session_data: Option<&Value>,
        jwt_payload: Option<&Value>,
    ) -> Result<u64>;
    /// Deletes sessions by handle; returns how many went.
    async fn delete_sessions(&self, tenant: &TenantIdentifier, handles: &[String]) -> Result<u64>;
    /// Deletes every session of a user in an app or tenant.
    async fn delete_sessions_of_user(&self, scope: &UserScope, user_id: &str) -> Result<u64>;
    /// Handles of the user's sessions not expired at `now`, sorted.
    async fn session_handles_of_user(
        &self,
        tenant: &TenantIdentifier,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<String>>;
    /// Number of sessions of a tenant.
    async fn count_sessions(&self, tenant: &TenantIdentifier) -> Result<u64>;
    /// Deletes sessions expired at `now` across the whole database, in bounded batches;
    /// returns how many this call deleted. Concurrent calls (one cleanup job per core
    /// instance) share the work without failing on each other: when they have all
    /// returned, every session expired at `now` is gone and each was counted once.
    /// A session that an unrelated transaction holds locked at that moment may be
    /// left for the next run.
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64>;
    /// Signing keys of an app, newest first.
    async fn signing_keys(&self, app: &AppId) -> Result<Vec<SigningKey>>;
}

/// Session operations inside a transaction.
#[async_trait]
pub trait SessionsTx: Send {
    /// Reads a session with a row lock.
    async fn get_session_for_update(
        &mut self,
        tenant: &TenantIdentifier,
        handle: &str,
    ) -> Result<Option<Session>>;
    /// Stores a new refresh-token hash; returns rows touched.
    async fn update_tokens(
        &mut self,
        tenant: &TenantIdentifier,
        update: &TokenUpdate<'_>,
    ) -> Result<u64>;
    /// Signing keys of an app, newest first, under a named lock on the app so that
    /// concurrent get-or-create calls create one key.
    async fn signing_keys_for_update(&mut self, app: &AppId) -> Result<Vec<SigningKey>>;
    /// Adds a signing key: `TenantOrAppNotFound`.
    async fn add_signing_key(&mut self, app: &AppId, key: &SigningKey) -> Result<()>;
    /// Removes keys created before `before`; returns how many went.
    async fn remove_signing_keys_before(&mut self, app: &AppId, before: i64) -> Result<u64>;
}

/// Passwordless devices and codes, password-reset and email-verification tokens,
/// verified emails (contract 5.4).
#[async_trait]
pub trait Codes: Send + Sync {
    /// Creates a device with its first code in one transaction.
    async fn create_device_with_code(&self, device: &NewDevice) -> Result<()>;
    /// Creates a code for an existing device: `UnknownDeviceIdHash`,
    /// `DuplicateCodeId`, `DuplicateLinkCodeHash`.
    async fn create_code(&self, tenant: &TenantIdentifier, code: &Code) -> Result<()>;
    /// Reads a device.
    async fn get_device(
        &self,
        tenant: &TenantIdentifier,
        device_id_hash: &str,
    ) -> Result<Option<Device>>;
    /// Devices for an email.
    async fn devices_by_email(&self, tenant: &TenantIdentifier, email: &str)
    -> Result<Vec<Device>>;
    /// Devices for a phone number.
    async fn devices_by_phone(&self, tenant: &TenantIdentifier, phone: &str)
    -> Result<Vec<Device>>;
    /// Codes of a device, oldest first.
    async fn codes_of_device(
        &self,
        tenant: &TenantIdentifier,
        device_id_hash: &str,
    ) -> Result<Vec<Code>>;
    /// A code by id.
    async fn get_code(&self, tenant: &TenantIdentifier, code_id: &str) -> Result<Option<Code>>;
    /// A code by link-code hash.
    async fn code_by_link_code_hash(
        &self,
        tenant: &TenantIdentifier,
        hash: &str,
    ) -> Result<Option<Code>>;
    /// Codes created before `time`.
    async fn codes_created_before(&self, tenant: &TenantIdentifier, time: i64)
    -> Result<Vec<Code>>;
    /// Adds a password-reset token: `UnknownUserId`, `DuplicatePasswordResetToken`.
    async fn add_password_reset_token(&self, token: &PasswordResetToken) -> Result<()>;
    /// Reads a password-reset token.
    async fn get_password_reset_token(
        &self,
        app: &AppId,
        token: &str,
    ) -> Result<Option<PasswordResetToken>>;
    /// Password-reset tokens of a user.
    async fn password_reset_tokens_of_user(
        &self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<PasswordResetToken>>;
    /// Deletes password-reset tokens expired at `now`.
    async fn delete_expired_password_reset_tokens(&self, now: i64) -> Result<u64>;
    /// Adds an email-verification token: `DuplicateEmailVerificationToken`,
    /// `TenantOrAppNotFound`.
    async fn add_email_verification_token(&self, token: &EmailVerificationToken) -> Result<()>;
    /// Reads an email-verification token.
    async fn get_email_verification_token(
        &self,
        tenant: &TenantIdentifier,
        token: &str,
    ) -> Result<Option<EmailVerificationToken>>;
    /// Tokens of (tenant, user, email).
    async fn email_verification_tokens(
        &self,
        tenant: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<Vec<EmailVerificationToken>>;
    /// Deletes every token of (tenant, user, email).
    async fn revoke_email_verification_tokens(
        &self,
        tenant: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<u64>;
    /// Deletes email-verification tokens expired at `now`.
    async fn delete_expired_email_verification_tokens(&self, now: i64) -> Result<u64>;
    /// Marks an email verified or not; idempotent.
    async fn set_email_verified(
        &self,
        app: &AppId,
        user_id: &str,
        email: &str,
        verified: bool,
    ) -> Result<()>;
    /// Whether the email is verified for the user.
    async fn is_email_verified(&self, app: &AppId, user_id: &str, email: &str) -> Result<bool>;
}

/// Code and token operations inside a transaction.
#[async_trait]
pub trait CodesTx: Send {
    /// Reads a device with a row lock.
    async fn device_for_update(
        &mut self,
        tenant: &TenantIdentifier,
        device_id_hash: &str,
    ) -> Result<Option<Device>>;
    /// Codes of a device.
    async fn codes_of_device(
        &mut self,
        tenant: &TenantIdentifier,
        device_id_hash: &str,
    ) -> Result<Vec<Code>>;
    /// A code by link-code hash.
    async fn code_by_link_code_hash(
        &mut self,
        tenant: &TenantIdentifier,
        hash: &str,
    ) -> Result<Option<Code>>;
    /// Adds one to a device's failed attempts; returns rows touched.
    async fn increment_failed_attempts(
        &mut self,
        tenant: &TenantIdentifier,
        device_id_hash: &str,
    ) -> Result<u64>;
    /// Deletes a code.
    async fn delete_code(&mut self, tenant: &TenantIdentifier, code_id: &str) -> Result<u64>;
    /// Deletes a device and its codes.
    async fn delete_device(
        &mut self,
        tenant: &TenantIdentifier,
        device_id_hash: &str,
    ) -> Result<u64>;
    /// Deletes every device (and code) of an email.
    async fn delete_devices_by_email(
        &mut self,
        tenant: &TenantIdentifier,
        email: &str,
    ) -> Result<u64>;
    /// Deletes every device (and code) of a phone number.
    async fn delete_devices_by_phone(
        &mut self,
        tenant: &TenantIdentifier,
        phone: &str,
    ) -> Result<u64>;
    /// Password-reset tokens of a user, with row locks.
    async fn password_reset_tokens_for_update(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<PasswordResetToken>>;
    /// Deletes every password-reset token of a user.
    async fn delete_password_reset_tokens_of_user(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<u64>;
    /// Email-verification tokens of (tenant, user, email), with row locks.
    async fn email_verification_tokens_for_update(
        &mut self,
        tenant: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<Vec<EmailVerificationToken>>;
    /// Deletes every token of (tenant, user, email).
    async fn delete_email_verification_tokens(
        &mut self,
        tenant: &TenantIdentifier,
        user_id: &str,
        email: &str,
    ) -> Result<u64>;
    /// Marks an email verified or not; idempotent.
    async fn set_email_verified(
        &mut self,
        app: &AppId,
        user_id: &str,
        email: &str,
        verified: bool,
    ) -> Result<()>;
}

/// Per-user metadata: one JSON object per (app, user) (contract-phase2 B.1). User ids
/// may be external ids (at most 128 characters).
#[async_trait]
pub trait UserMetadata: Send + Sync {
    /// The user's metadata object, or `None` when the user has no row.
    async fn get_user_metadata(&self, app: &AppId, user_id: &str) -> Result<Option<Value>>;
    /// Stores the whole object (an upsert; the core merges before). The value must be a
    /// JSON object (`InvalidInput` otherwise); `TenantOrAppNotFound`.
    async fn set_user_metadata(&self, app: &AppId, user_id: &str, metadata: &Value) -> Result<()>;
    /// Deletes the user's metadata; returns rows deleted (0 or 1).
    async fn delete_user_metadata(&self, app: &AppId, user_id: &str) -> Result<u64>;
    /// The metadata of every listed user that has a row, as (user id, object), sorted
    /// by user id.
    async fn get_users_metadata(
        &self,
        app: &AppId,
        user_ids: &[String],
    ) -> Result<Vec<(String, Value)>>;
}

/// User-metadata operations inside a transaction.
#[async_trait]
pub trait UserMetadataTx: Send {
    /// The user's metadata under a named lock on (app, user), held until the end of
    /// the transaction: concurrent read-merge-write calls serialise even when the user
    /// has no row yet, so none loses a key.
    async fn get_user_metadata_for_update(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Option<Value>>;
    /// See [`UserMetadata::set_user_metadata`].
    async fn set_user_metadata(
        &mut self,
        app: &AppId,
        user_id: &str,
        metadata: &Value,
    ) -> Result<()>;
    /// See [`UserMetadata::delete_user_metadata`].
    async fn delete_user_metadata(&mut self, app: &AppId, user_id: &str) -> Result<u64>;
}

/// Roles, their permissions (app-scoped) and their assignments to users
/// (tenant-scoped) (contract-phase2 B.2). Every write that concerns one role takes a
/// named lock on (app, role), so creating a role with permissions, assigning it and
/// deleting it serialise: a deleted role never keeps permissions or assignments.
#[async_trait]
pub trait UserRoles: Send + Sync {
    /// Creates the role if absent; returns whether it was created.
    /// `TenantOrAppNotFound`.
    async fn create_role(&self, app: &AppId, role: &str) -> Result<bool>;
    /// Whether the role exists.
    async fn role_exists(&self, app: &AppId, role: &str) -> Result<bool>;
    /// Every role of the app, sorted.
    async fn roles(&self, app: &AppId) -> Result<Vec<String>>;
    /// Deletes the role with its permissions and every assignment of it in every
    /// tenant of the app; returns whether it existed.
    async fn delete_role(&self, app: &AppId, role: &str) -> Result<bool>;
    /// Adds permissions to a role (idempotent): `UnknownRole`.
    async fn add_permissions(&self, app: &AppId, role: &str, permissions: &[String]) -> Result<()>;
    /// Removes permissions from a role (all of them when `permissions` is `None`);
    /// returns how many went.
    async fn remove_permissions(
        &self,
        app: &AppId,
        role: &str,
        permissions: Option<&[String]>,
    ) -> Result<u64>;
    /// The permissions of a role, sorted.
    async fn permissions_of_role(&self, app: &AppId, role: &str) -> Result<Vec<String>>;
    /// The roles that have a permission, sorted.
    async fn roles_with_permission(&self, app: &AppId, permission: &str) -> Result<Vec<String>>;
    /// Assigns a role to a user in a tenant; returns false if it already was.
    /// `UnknownRole`, `TenantOrAppNotFound`.
    async fn add_role_to_user(
        &self,
        tenant: &TenantIdentifier,
        user_id: &str,
        role: &str,
    ) -> Result<bool>;
    /// Removes one assignment; returns whether it existed.
    async fn remove_role_from_user(
        &self,
        tenant: &TenantIdentifier,
        user_id: &str,
        role: &str,
    ) -> Result<bool>;
    /// The roles of a user in a tenant, sorted.
    async fn roles_of_user(&self, tenant: &TenantIdentifier, user_id: &str) -> Result<Vec<String>>;
    /// The users that have a role in a tenant, sorted.
    async fn users_with_role(&self, tenant: &TenantIdentifier, role: &str) -> Result<Vec<String>>;
    /// Removes every role of a user in a tenant; returns how many went.
    async fn delete_roles_of_user(&self, tenant: &TenantIdentifier, user_id: &str) -> Result<u64>;
}

/// Role operations inside a transaction.
#[async_trait]
pub trait UserRolesTx: Send {
    /// Whether the role exists, under the role's named lock and a row lock, so that a
    /// "create role + add permissions" and a "delete role" serialise.
    async fn role_exists_for_update(&mut self, app: &AppId, role: &str) -> Result<bool>;
    /// See [`UserRoles::create_role`] (takes the role's named lock).
    async fn create_role(&mut self, app: &AppId, role: &str) -> Result<bool>;
    /// See [`UserRoles::add_permissions`] (takes the role's named lock).
    async fn add_permissions(
        &mut self,
        app: &AppId,
        role: &str,
        permissions: &[String],
    ) -> Result<()>;
}

/// Makes the key [`JwtSigningKeys::get_or_create_jwt_signing_key`] stores when the app
/// has none of the algorithm. It may be called more than once (a transaction that is
/// retried calls it again); only the key of the committed attempt is stored.
pub type NewJwtKey<'a> = &'a (dyn Fn() -> JwtSigningKey + Send + Sync);

/// JWT signing keys of an app (contract-phase2 B.4).
#[async_trait]
pub trait JwtSigningKeys: Send + Sync {
    /// The app's keys, newest first (by creation time, then key id).
    async fn jwt_signing_keys(&self, app: &AppId) -> Result<Vec<JwtSigningKey>>;
    /// The newest key of `algorithm`; when the app has none, stores `new_key()` and
    /// returns it. Runs under a named lock on the app's keys, so N cores asking at once
    /// create exactly one key. The new key's algorithm must be `algorithm`
    /// (`InvalidInput`); `DuplicateKeyId`, `TenantOrAppNotFound`.
    async fn get_or_create_jwt_signing_key(
        &self,
        app: &AppId,
        algorithm: &str,
        new_key: NewJwtKey<'_>,
    ) -> Result<JwtSigningKey>;
}

/// JWT signing-key operations inside a transaction.
#[async_trait]
pub trait JwtSigningKeysTx: Send {
    /// The app's keys, newest first, under the app's named lock (the lock of
    /// [`JwtSigningKeys::get_or_create_jwt_signing_key`]).
    async fn jwt_signing_keys_for_update(&mut self, app: &AppId) -> Result<Vec<JwtSigningKey>>;
    /// Adds a key: `DuplicateKeyId`, `TenantOrAppNotFound`.
    async fn add_jwt_signing_key(&mut self, app: &AppId, key: &JwtSigningKey) -> Result<()>;
}

/// TOTP devices (app-scoped) and used codes (tenant-scoped) (contract-phase2 B.3).
/// A TOTP user row exists while the user has at least one device; its used codes go
/// with it.
#[async_trait]
pub trait Totp: Send + Sync {
    /// Creates a device, and the TOTP user if absent: `DeviceAlreadyExists`,
    /// `TenantOrAppNotFound`.
    async fn create_totp_device(&self, app: &AppId, device: &TotpDevice) -> Result<()>;
    /// Marks a device verified (idempotent): `UnknownDevice`.
    async fn mark_totp_device_verified(
        &self,
        app: &AppId,
        user_id: &str,
        device_name: &str,
    ) -> Result<()>;
    /// Renames a device: `DeviceAlreadyExists`, `UnknownDevice`.
    async fn rename_totp_device(
        &self,
        app: &AppId,
        user_id: &str,
        old_name: &str,
        new_name: &str,
    ) -> Result<()>;
    /// The devices of a user, sorted by name.
    async fn totp_devices(&self, app: &AppId, user_id: &str) -> Result<Vec<TotpDevice>>;
    /// The devices of many users, sorted by user id then name.
    async fn totp_devices_of_users(
        &self,
        app: &AppId,
        user_ids: &[String],
    ) -> Result<Vec<TotpDevice>>;
    /// Deletes a device, and the TOTP user (with its used codes) when it was the last;
    /// returns devices deleted (0 or 1).
    async fn delete_totp_device(
        &self,
        app: &AppId,
        user_id: &str,
        device_name: &str,
    ) -> Result<u64>;
    /// Removes the TOTP user with its devices and used codes; returns whether it
    /// existed.
    async fn remove_totp_user(&self, app: &AppId, user_id: &str) -> Result<bool>;
    /// Removes the tenant's used codes that expired before `before`; returns how many.
    async fn remove_expired_totp_codes(
        &self,
        tenant: &TenantIdentifier,
        before: i64,
    ) -> Result<u64>;
}

/// TOTP operations inside a transaction: the verification flow.
#[async_trait]
pub trait TotpTx: Send {
    /// The devices of a user, sorted by name, under the user's TOTP named lock and row
    /// locks.
    async fn totp_devices_for_update(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<TotpDevice>>;
    /// The used codes of a user in a tenant, newest first, under the user's TOTP named
    /// lock and row locks: N concurrent verifications of one code serialise, so exactly
    /// one accepts it.
    async fn used_totp_codes_for_update(
        &mut self,
        tenant: &TenantIdentifier,
        user_id: &str,
    ) -> Result<Vec<TotpUsedCode>>;
    /// Records a verification attempt: `UnknownTotpUser`, `UsedCodeAlreadyExists`,
    /// `TenantOrAppNotFound`.
    async fn insert_used_totp_code(
        &mut self,
        tenant: &TenantIdentifier,
        code: &TotpUsedCode,
    ) -> Result<()>;
}

/// Users and sessions of the admin dashboard (contract-phase2 B.5).
#[async_trait]
pub trait Dashboard: Send + Sync {
    /// Creates a dashboard user: `DuplicateUserId`, `DuplicateEmail`,
    /// `TenantOrAppNotFound`.
    async fn create_dashboard_user(&self, app: &AppId, user: &DashboardUser) -> Result<()>;
    /// A dashboard user by id.
    async fn get_dashboard_user(&self, app: &AppId, user_id: &str)
    -> Result<Option<DashboardUser>>;
    /// A dashboard user by email.
    async fn get_dashboard_user_by_email(
        &self,
        app: &AppId,
        email: &str,
    ) -> Result<Option<DashboardUser>>;
    /// Every dashboard user of the app, by time joined then user id.
    async fn list_dashboard_users(&self, app: &AppId) -> Result<Vec<DashboardUser>>;
    /// Deletes a dashboard user with its sessions; returns whether it existed.
    async fn delete_dashboard_user(&self, app: &AppId, user_id: &str) -> Result<bool>;
    /// Changes a dashboard user's email: `DuplicateEmail`, `UnknownUserId`.
    async fn update_dashboard_user_email(
        &self,
        app: &AppId,
        user_id: &str,
        email: &str,
    ) -> Result<()>;
    /// Changes a dashboard user's password hash: `UnknownUserId`.
    async fn update_dashboard_user_password_hash(
        &self,
        app: &AppId,
        user_id: &str,
        hash: &Secret,
    ) -> Result<()>;
    /// Creates a session of a dashboard user: `UnknownUserId`.
    async fn create_dashboard_session(&self, app: &AppId, session: &DashboardSession)
    -> Result<()>;
    /// A dashboard session by id.
    async fn get_dashboard_session(
        &self,
        app: &AppId,
        session_id: &str,
    ) -> Result<Option<DashboardSession>>;
    /// The sessions of a dashboard user, by creation time then id.
    async fn dashboard_sessions_of_user(
        &self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<DashboardSession>>;
    /// Revokes one session; returns whether it existed.
    async fn revoke_dashboard_session(&self, app: &AppId, session_id: &str) -> Result<bool>;
    /// Revokes every dashboard session (of every app) expired at `now`; returns how many.
    async fn revoke_expired_dashboard_sessions(&self, now: i64) -> Result<u64>;
}

/// Last-active times and monthly-active-user counts (contract-phase2 B.6). Every count
/// is one query.
#[async_trait]
pub trait ActiveUsers: Send + Sync {
    /// Records that the user was active at `now` (one upsert): `TenantOrAppNotFound`.
    async fn update_last_active(&self, app: &AppId, user_id: &str, now: i64) -> Result<()>;
    /// The user's last-active time.
    async fn last_active(&self, app: &AppId, user_id: &str) -> Result<Option<i64>>;
    /// Users of the app active at or after `since`.
    async fn count_active_since(&self, app: &AppId, since: i64) -> Result<u64>;
    /// Users of the app whose last activity is in `[from, to)`, grouped by UTC day:
    /// (start of the day in ms, count), by day; days without activity are left out.
    async fn count_active_by_day(&self, app: &AppId, from: i64, to: i64)
    -> Result<Vec<(i64, u64)>>;
    /// Users active at or after `since` whose group has more than one login method
    /// (primary users with linked accounts), or, with `or_totp`, that also or instead
    /// have TOTP enabled.
    async fn count_active_with_many_login_methods(
        &self,
        app: &AppId,
        since: i64,
        or_totp: bool,
    ) -> Result<u64>;
    /// Deletes the user's last-active row; returns rows deleted.
    async fn delete_last_active(&self, app: &AppId, user_id: &str) -> Result<u64>;
}

/// Account linking (contract-phase2 A.3): groups of login methods under a primary
/// user. Every operation that can break the invariant of A.2 (no two primary users
/// sharing a tenant share an email, phone number or third-party identity) checks and
/// writes atomically inside the storage and returns a typed conflict.
#[async_trait]
pub trait AccountLinking: Send + Sync {
    /// The group of any user id of it (same as [`Users::get_user`]).
    async fn get_primary_user(&self, app: &AppId, user_id: &str) -> Result<Option<User>>;
    /// The groups with a login method of this email in the tenant, each once, across
    /// all recipes.
    async fn list_primary_users_by_email(
        &self,
        tenant: &TenantIdentifier,
        email: &str,
    ) -> Result<Vec<User>>;
    /// The groups with a login method of this phone number in the tenant.
    async fn list_primary_users_by_phone(
        &self,
        tenant: &TenantIdentifier,
        phone: &str,
    ) -> Result<Vec<User>>;
    /// The groups with a login method of this third-party identity in the app.
    async fn list_primary_users_by_third_party(
        &self,
        app: &AppId,
        third_party: &ThirdPartyInfo,
    ) -> Result<Vec<User>>;
    /// Makes a recipe user primary: `UnknownUserId`, `RecipeUserAlreadyLinked`,
    /// `AccountInfoAlreadyUsedByAnotherPrimaryUser`.
    async fn make_primary(&self, app: &AppId, recipe_user_id: &str) -> Result<MakePrimaryOutcome>;
    /// Links a recipe user to a primary user: `UnknownUserId`,
    /// `InputUserIsNotAPrimaryUser`, `RecipeUserAlreadyLinkedWithAnotherPrimaryUser`,
    /// `AccountInfoAlreadyUsedByAnotherPrimaryUser`. The group's time joined becomes
    /// the earliest of its login methods.
    async fn link(
        &self,
        app: &AppId,
        recipe_user_id: &str,
        primary_user_id: &str,
    ) -> Result<LinkOutcome>;
    /// Unlinks a recipe user (`UnknownUserId`): it becomes a group of one again,
    /// except the primary user's own login method while others remain, which keeps
    /// the group's id.
    async fn unlink(&self, app: &AppId, recipe_user_id: &str) -> Result<UnlinkOutcome>;
    /// Deletes a user in one transaction: with `all_linked` its whole group, otherwise
    /// only this login method (the group keeps its id, its other login methods and
    /// the data keyed by its id; its time joined is recomputed). Every row keyed by a
    /// deleted id, or by the external id mapped to it, goes from every phase-1 and
    /// phase-2 table. [`Users::delete_user`] is this with `all_linked`. Returns
    /// whether the user existed.
    async fn delete_user_with_links(
        &self,
        app: &AppId,
        user_id: &str,
        all_linked: bool,
    ) -> Result<bool>;
    /// The primary user id of a user (its own id when unlinked), or none.
    async fn primary_user_id_of(&self, app: &AppId, user_id: &str) -> Result<Option<String>>;
    /// Whether any user of the app is primary or linked.
    async fn uses_account_linking(&self, app: &AppId) -> Result<bool>;
    /// The number of groups of the app with more than one login method.
    async fn count_users_with_more_than_one_login_method(&self, app: &AppId) -> Result<u64>;
}

/// User-id mapping (contract-phase2 A.4), app-scoped.
#[async_trait]
pub trait UserIdMappings: Send + Sync {
    /// Maps a SuperTokens user id to an external id: `UnknownSuperTokensUserId`,
    /// `UserIdMappingAlreadyExists`.
    async fn create_user_id_mapping(&self, app: &AppId, mapping: &UserIdMapping) -> Result<()>;
    /// The mappings of `id` looked up as `kind` (at most two with `Any`: one by
    /// SuperTokens id, one by external id).
    async fn get_user_id_mapping(
        &self,
        app: &AppId,
        id: &str,
        kind: UserIdType,
    ) -> Result<Vec<UserIdMapping>>;
    /// The mappings of many SuperTokens ids at once.
    async fn get_user_id_mappings_for(
        &self,
        app: &AppId,
        supertokens_user_ids: &[String],
    ) -> Result<Vec<UserIdMapping>>;
    /// Deletes the mapping of `id` looked up as `kind`; whether one went.
    async fn delete_user_id_mapping(&self, app: &AppId, id: &str, kind: UserIdType)
    -> Result<bool>;
    /// Replaces (or with `None` clears) the external info of the mapping of `id`;
    /// whether a mapping was found.
    async fn update_external_user_id_info(
        &self,
        app: &AppId,
        id: &str,
        kind: UserIdType,
        info: Option<&str>,
    ) -> Result<bool>;
    /// The non-auth recipes holding rows for `user_id`, so a core can refuse to map
    /// an id already in use.
    async fn non_auth_recipes_using(
        &self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Vec<NonAuthRecipe>>;
}

/// Account-linking operations inside a transaction: the locked reads of A.3 for
/// cores that run their own checks, and the high-level operations.
#[async_trait]
pub trait AccountLinkingTx: Send {
    /// The group of any user id of it, with the group's rows locked.
    async fn get_primary_user_for_update(
        &mut self,
        app: &AppId,
        user_id: &str,
    ) -> Result<Option<User>>;
    /// The groups with this email in the tenant, under the email's named lock.
    async fn list_primary_users_by_email_for_update(
        &mut self,
        tenant: &TenantIdentifier,
        email: &str,
    ) -> Result<Vec<User>>;
    /// The groups with this phone number in the tenant, under the phone's named lock.
    async fn list_primary_users_by_phone_for_update(
        &mut self,
        tenant: &TenantIdentifier,
        phone: &str,
    ) -> Result<Vec<User>>;
    /// The groups with this third-party identity in the app, under its named lock.
    async fn list_primary_users_by_third_party_for_update(
        &mut self,
        app: &AppId,
        third_party: &ThirdPartyInfo,
    ) -> Result<Vec<User>>;
    /// See [`AccountLinking::make_primary`].
    async fn make_primary(
        &mut self,
        app: &AppId,
        recipe_user_id: &str,
    ) -> Result<MakePrimaryOutcome>;
    /// See [`AccountLinking::link`].
    async fn link(
        &mut self,
        app: &AppId,
        recipe_user_id: &str,
        primary_user_id: &str,
    ) -> Result<LinkOutcome>;
    /// See [`AccountLinking::delete_user_with_links`].
    async fn delete_user_with_links(
        &mut self,
        app: &AppId,
        user_id: &str,
        all_linked: bool,
    ) -> Result<bool>;
    /// See [`AccountLinking::unlink`].
    async fn unlink(&mut self, app: &AppId, recipe_user_id: &str) -> Result<UnlinkOutcome>;
}

/// An open transaction: every *(tx)* operation, then commit or roll back. Dropping it
/// without either rolls back.
#[async_trait]
pub trait Transaction:
    TenancyTx
    + UsersTx
    + SessionsTx
    + CodesTx
    + UserMetadataTx
    + UserRolesTx
    + JwtSigningKeysTx
    + TotpTx
    + AccountLinkingTx
    + Send
{
    /// Commits.
    async fn commit(self: Box<Self>) -> Result<()>;
    /// Rolls back.
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// A whole storage: every domain, transactions and migrations. A core holds it as
/// `Arc<dyn Storage>`, chosen at run time from a connection URI.
#[async_trait]
pub trait Storage:
    Tenancy
    + Users
    + Sessions
    + Codes
    + UserMetadata
    + UserRoles
    + JwtSigningKeys
    + Totp
    + Dashboard
    + ActiveUsers
    + AccountLinking
    + UserIdMappings
    + Send
    + Sync
    + 'static
{
    /// The backend's name (`sqlite`, `postgresql`, `mysql`).
    fn backend_name(&self) -> &'static str;
    /// Starts a transaction. Prefer [`crate::run_transaction`], which retries.
    async fn begin(&self, options: &TxOptions) -> Result<Box<dyn Transaction>>;
    /// A migration driver on a dedicated connection, for the migration runner.
    async fn migration_driver(&self) -> Result<Box<dyn MigrationDriver>>;
    /// Closes the pool; later calls fail with `Unavailable`.
    async fn close(&self);
    /// The connection pool's size, connections in use and idle, callers waiting
    /// and past waits; `None` for a backend that does not report them.
    fn pool_health(&self) -> Option<crate::PoolHealth> {
        None
    }
}
