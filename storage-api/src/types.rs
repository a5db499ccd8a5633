//! Domain types of phase 1.

use crate::ids::{AppId, TenantConfigKey, TenantId, TenantIdentifier};
use serde_json::Value;
use std::fmt;

/// A secret string (password hash, client secret) whose `Debug` output is `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself; the only way to read it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

// ---------------------------------------------------------------- tenancy

/// An app and its tenants, as listed by [`crate::Tenancy::list_apps_and_tenants`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppTenants {
    /// The app.
    pub app: AppId,
    /// Its tenants, sorted.
    pub tenants: Vec<TenantId>,
}

/// A tenant's configuration (SuperTokens' `TenantConfig`).
#[derive(Clone, Debug, PartialEq)]
pub struct TenantConfig {
    /// Where the config is stored: connection-URI domain, app, tenant.
    pub key: TenantConfigKey,
    /// Email-password recipe enabled.
    pub email_password_enabled: bool,
    /// Passwordless recipe enabled.
    pub passwordless_enabled: bool,
    /// Third-party recipe enabled.
    pub third_party_enabled: bool,
    /// First factors; `None` (absent) differs from `Some(vec![])` (empty).
    pub first_factors: Option<Vec<String>>,
    /// Required secondary factors.
    pub required_secondary_factors: Vec<String>,
    /// Core configuration overrides (JSON object).
    pub core_config: Value,
    /// Third-party providers, each with its clients.
    pub providers: Vec<ThirdPartyProvider>,
}

impl TenantConfig {
    /// A config with every recipe enabled, no providers and empty core config.
    pub fn new(key: TenantConfigKey) -> Self {
        Self {
            key,
            email_password_enabled: true,
            passwordless_enabled: true,
            third_party_enabled: true,
            first_factors: None,
            required_secondary_factors: Vec::new(),
            core_config: Value::Object(Default::default()),
            providers: Vec::new(),
        }
    }
}

/// Field names used to read user info from a token or endpoint response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfoFields {
    /// Path of the user id.
    pub user_id: Option<String>,
    /// Path of the email.
    pub email: Option<String>,
    /// Path of the email-verified flag.
    pub email_verified: Option<String>,
}

/// A third-party provider of a tenant config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThirdPartyProvider {
    /// Provider id (`google`, ...), at most 28 characters.
    pub third_party_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Authorization endpoint.
    pub authorization_endpoint: Option<String>,
    /// Its query parameters (JSON).
    pub authorization_endpoint_query_params: Option<Value>,
    /// Token endpoint.
    pub token_endpoint: Option<String>,
    /// Its body parameters (JSON).
    pub token_endpoint_body_params: Option<Value>,
    /// User-info endpoint.
    pub user_info_endpoint: Option<String>,
    /// Its query parameters (JSON).
    pub user_info_endpoint_query_params: Option<Value>,
    /// Its headers (JSON).
    pub user_info_endpoint_headers: Option<Value>,
    /// JWKS URI.
    pub jwks_uri: Option<String>,
    /// OIDC discovery endpoint.
    pub oidc_discovery_endpoint: Option<String>,
    /// Whether an email is required.
    pub require_email: Option<bool>,
    /// Mapping from the id-token payload.
    pub user_info_map_from_id_token_payload: UserInfoFields,
    /// Mapping from the user-info endpoint response.
    pub user_info_map_from_user_info_endpoint: UserInfoFields,
    /// The provider's clients, one per client type.
    pub clients: Vec<ProviderClient>,
}

/// A client of a third-party provider.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderClient {
    /// Client type (`''` by default), unique within the provider.
    pub client_type: String,
    /// Client id, at most 256 characters.
    pub client_id: String,
    /// Client secret (hidden from `Debug`).
    pub client_secret: Option<Secret>,
    /// OAuth scopes; `None` differs from empty.
    pub scope: Option<Vec<String>>,
    /// Force PKCE.
    pub force_pkce: bool,
    /// Additional provider-specific config (JSON).
    pub additional_config: Option<Value>,
}

/// A key/value row of a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The stored value.
    pub value: String,
    /// When it was set (caller's clock, ms).
    pub created_at: i64,
}

// ---------------------------------------------------------------- users

/// The auth recipes of phase 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecipeId {
    /// Email and password.
    EmailPassword,
    /// Third-party (social) login.
    ThirdParty,
    /// Passwordless (email or SMS codes).
    Passwordless,
}

impl RecipeId {
    /// All recipes.
    pub const ALL: [RecipeId; 3] = [
        RecipeId::EmailPassword,
        RecipeId::ThirdParty,
        RecipeId::Passwordless,
    ];

    /// The id stored in the `recipe_id` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipeId::EmailPassword => "emailpassword",
            RecipeId::ThirdParty => "thirdparty",
            RecipeId::Passwordless => "passwordless",
        }
    }

    /// Parses a stored recipe id.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A third-party identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ThirdPartyInfo {
    /// Provider id, at most 28 characters.
    pub third_party_id: String,
    /// The user's id at the provider, at most 256 characters.
    pub third_party_user_id: String,
}

/// One way a user can log in.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginMethod {
    /// The recipe.
    pub recipe_id: RecipeId,
    /// The recipe user id.
    pub recipe_user_id: String,
    /// Email, if any.
    pub email: Option<String>,
    /// Phone number (passwordless), if any.
    pub phone_number: Option<String>,
    /// Third-party identity (third-party recipe).
    pub third_party: Option<ThirdPartyInfo>,
    /// Password hash (email-password recipe), hidden from `Debug`.
    pub password_hash: Option<Secret>,
    /// When this login method was created.
    pub time_joined: i64,
    /// Tenants this login method belongs to, sorted.
    pub tenant_ids: Vec<TenantId>,
    /// Whether `email` is verified for this recipe user.
    pub verified: bool,
}

/// A user with its login methods.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// The (primary or recipe) user id.
    pub id: String,
    /// Whether the user is a primary user (account linking, phase 2).
    pub is_primary: bool,
    /// Union of the tenants of the login methods, sorted.
    pub tenant_ids: Vec<TenantId>,
    /// Earliest time joined of the login methods.
    pub time_joined: i64,
    /// Login methods, oldest first.
    pub login_methods: Vec<LoginMethod>,
}

/// Input of email-password sign-up.
#[derive(Clone, Debug)]
pub struct EmailPasswordSignUp {
    /// The tenant to sign up in.
    pub tenant: TenantIdentifier,
    /// New user id (UUID).
    pub user_id: String,
    /// Email, compared byte for byte.
    pub email: String,
    /// Password hash (hidden from `Debug`).
    pub password_hash: Secret,
    /// Time joined (ms).
    pub time_joined: i64,
}

/// Input of third-party sign-up.
#[derive(Clone, Debug)]
pub struct ThirdPartySignUp {
    /// The tenant to sign up in.
    pub tenant: TenantIdentifier,
    /// New user id (UUID).
    pub user_id: String,
    /// Email (not unique for third-party users).
    pub email: String,
    /// The identity at the provider.
    pub third_party: ThirdPartyInfo,
    /// Time joined (ms).
    pub time_joined: i64,
}

/// Input of passwordless user creation; at least one of email and phone.
#[derive(Clone, Debug)]
pub struct PasswordlessSignUp {
    /// The tenant to sign up in.
    pub tenant: TenantIdentifier,
    /// New user id (UUID).
    pub user_id: String,
    /// Email, if any.
    pub email: Option<String>,
    /// Phone number, if any.
    pub phone_number: Option<String>,
    /// Time joined (ms).
    pub time_joined: i64,
}

/// Sort order of [`crate::Users::list_users`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeJoinedOrder {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

/// Opaque keyset position returned with a page of users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageToken {
    /// Time joined of the last user returned.
    pub time_joined: i64,
    /// Id of the last user returned.
    pub user_id: String,
}

impl PageToken {
    /// Encodes the token as a string for a client.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.time_joined, self.user_id)
    }
    /// Decodes a string made by [`PageToken::encode`]; `InvalidInput` otherwise.
    pub fn decode(s: &str) -> crate::Result<Self> {
        let bad = || crate::StorageError::invalid("pagination_token", "malformed token");
        let (t, u) = s.split_once(':').ok_or_else(bad)?;
        let time_joined = t.parse().map_err(|_| bad())?;
        crate::validate::uuid("pagination_token", u)?;
        Ok(Self {
            time_joined,
            user_id: u.to_owned(),
        })
    }
}

/// A request for one page of users.
#[derive(Clone, Debug)]
pub struct ListUsers {
    /// The tenant whose users to list.
    pub tenant: TenantIdentifier,
    /// Page size, 1..=1000.
    pub limit: u32,
    /// Order by (time joined, user id).
    pub order: TimeJoinedOrder,
    /// Only users with a login method of one of these recipes; empty means all.
    pub recipes: Vec<RecipeId>,
    /// Continue after this position.
    pub after: Option<PageToken>,
    /// Search tags (the dashboard's search); empty means no search.
    pub search: UserSearch,
}

/// The search tags of [`ListUsers`], combined as SuperTokens' plugins combine the
/// dashboard's tags: a group is listed when one of its login methods in the tenant
/// matches. An email-password login method matches when email tags are given and
/// its email matches one; a third-party one when email or provider tags are given
/// and it matches one of each kind given; a passwordless one when email or phone
/// tags are given and its email or its phone number matches one.
///
/// Every tag is a prefix, compared byte for byte on PostgreSQL and SQLite and with
/// the column's collation on MySQL (`utf8mb4_bin` in tables created here), so give
/// emails in the normalised (lower) case the core stores. An email matches a tag
/// when the email, or its domain (the part after its first `@`), starts with it:
/// `a` matches `alice@x.com` and `bob@a.com`. Tags are 1 to 256 characters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserSearch {
    /// Email tags: a prefix of the email or of its domain.
    pub emails: Vec<String>,
    /// Phone tags: a prefix of a passwordless phone number.
    pub phones: Vec<String>,
    /// Provider tags: a prefix of a third-party id (`goo` for `google`).
    pub providers: Vec<String>,
}

impl UserSearch {
    /// Whether no tag is given.
    pub fn is_empty(&self) -> bool {
        self.emails.is_empty() && self.phones.is_empty() && self.providers.is_empty()
    }
}

/// One page of users.
#[derive(Clone, Debug)]
pub struct UserPage {
    /// The users, in the requested order.
    pub users: Vec<User>,
    /// Position to continue from, `None` on the last page.
    pub next: Option<PageToken>,
}

/// Where to count users.
#[derive(Clone, Debug)]
pub enum UserScope {
    /// Every user of an app.
    App(AppId),
    /// The users of one tenant.
    Tenant(TenantIdentifier),
}

// ---------------------------------------------------------------- sessions

/// Input of session creation.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The tenant.
    pub tenant: TenantIdentifier,
    /// Session handle, at most 255 characters.
    pub handle: String,
    /// The user id, at most 128 characters (may be external).
    pub user_id: String,
    /// Hash of the refresh token, at most 128 characters.
    pub refresh_token_hash: String,
    /// Session data (JSON).
    pub session_data: Value,
    /// Expiry (ms).
    pub expires_at: i64,
    /// JWT payload (JSON).
    pub jwt_payload: Value,
    /// Creation time (ms).
    pub created_at: i64,
    /// Whether the static signing key is used.
    pub use_static_key: bool,
}

/// A stored session.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The tenant.
    pub tenant: TenantIdentifier,
    /// Session handle.
    pub handle: String,
    /// The user id.
    pub user_id: String,
    /// Current refresh-token hash.
    pub refresh_token_hash: String,
    /// Previous refresh-token hash, after a rotation.
    pub prev_refresh_token_hash: Option<String>,
    /// When the last rotation happened.
    pub refresh_token_rotated_at: Option<i64>,
    /// Session data.
    pub session_data: Value,
    /// Expiry (ms).
    pub expires_at: i64,
    /// JWT payload.
    pub jwt_payload: Value,
    /// Creation time (ms).
    pub created_at: i64,
    /// Whether the static signing key is used.
    pub use_static_key: bool,
}

/// A refresh-token rotation ([`crate::Sessions::rotate_refresh_token`]): the session,
/// the hash the caller presents, the new hash and expiry, and the time of the call.
/// Its `Debug` shows no hash.
#[derive(Clone, Copy)]
pub struct RefreshRotation<'a> {
    /// The session handle.
    pub handle: &'a str,
    /// The refresh-token hash the caller presents; must be the current one.
    pub expected: &'a str,
    /// The new refresh-token hash.
    pub new_hash: &'a str,
    /// The session's new expiry (ms).
    pub new_expiry: i64,
    /// The time of the call (ms): the rotation time, and the session must not have
    /// expired before it.
    pub now: i64,
}

impl std::fmt::Debug for RefreshRotation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRotation")
            .field("handle", &"***")
            .field("new_expiry", &self.new_expiry)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// New refresh-token state of a session ([`crate::SessionsTx::update_tokens`]). Its
/// `Debug` shows no hash.
#[derive(Clone, Copy)]
pub struct TokenUpdate<'a> {
    /// The session handle.
    pub handle: &'a str,
    /// The new refresh-token hash.
    pub new_hash: &'a str,
    /// The previous refresh-token hash, if kept.
    pub prev_hash: Option<&'a str>,
    /// When the token was rotated (ms), if it was.
    pub rotated_at: Option<i64>,
    /// The session's expiry (ms).
    pub expires_at: i64,
}

impl std::fmt::Debug for TokenUpdate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenUpdate")
            .field("handle", &"***")
            .field("rotated_at", &self.rotated_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Outcome of [`crate::Sessions::rotate_refresh_token`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The expected hash matched and was replaced.
    Rotated,
    /// The session exists but its current hash is not the expected one.
    Mismatch,
    /// No such session (or it has expired).
    NotFound,
}

/// An access-token signing key of an app.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Creation time (ms), unique per app.
    pub created_at: i64,
    /// The key material (hidden from `Debug`).
    pub value: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("created_at", &self.created_at)
            .field("value", &"***")
            .finish()
    }
}

// ---------------------------------------------------------------- codes

/// A passwordless code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code {
    /// Code id (UUID).
    pub code_id: String,
    /// The device it belongs to (44 characters).
    pub device_id_hash: String,
    /// Hash of the link code (44 characters), unique per tenant.
    pub link_code_hash: String,
    /// Creation time (ms).
    pub created_at: i64,
}

/// Input of passwordless device creation with its first code.
#[derive(Clone, Debug)]
pub struct NewDevice {
    /// The tenant.
    pub tenant: TenantIdentifier,
    /// Device id hash (44 characters).
    pub device_id_hash: String,
    /// Email, if any.
    pub email: Option<String>,
    /// Phone number, if any.
    pub phone_number: Option<String>,
    /// Link-code salt (44 characters).
    pub link_code_salt: String,
    /// The first code; its `device_id_hash` must equal the device's.
    pub code: Code,
}

/// A passwordless device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The tenant.
    pub tenant: TenantIdentifier,
    /// Device id hash.
    pub device_id_hash: String,
    /// Email, if any.
    pub email: Option<String>,
    /// Phone number, if any.
    pub phone_number: Option<String>,
    /// Link-code salt.
    pub link_code_salt: String,
    /// Failed attempts so far.
    pub failed_attempts: u32,
}

/// A password-reset token (app-scoped; the caller stores it hashed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordResetToken {
    /// The app.
    pub app: AppId,
    /// The user (UUID).
    pub user_id: String,
    /// The token hash, at most 128 characters, unique across apps.
    pub token: String,
    /// The email the token was issued for, if recorded.
    pub email: Option<String>,
    /// Expiry (ms).
    pub token_expiry: i64,
}

/// An email-verification token (tenant-scoped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailVerificationToken {
    /// The tenant.
    pub tenant: TenantIdentifier,
    /// The user id, at most 128 characters (may be external).
    pub user_id: String,
    /// The email to verify.
    pub email: String,
    /// The token hash, at most 128 characters, unique.
    pub token: String,
    /// Expiry (ms).
    pub token_expiry: i64,
}

// ---------------------------------------------------------------- phase 2, part B

/// A JWT signing key of an app (the `jwt_signing_keys` table of SuperTokens).
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSigningKey {
    /// The key id (at most 255 characters), unique per app.
    pub key_id: String,
    /// The algorithm, e.g. `RS256` (at most 10 characters).
    pub algorithm: String,
    /// The key material (hidden from `Debug`).
    pub key_string: Secret,
    /// Creation time (ms).
    pub created_at: i64,
}

impl fmt::Debug for JwtSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSigningKey")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("key_string", &"***")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A TOTP device of a user (the `totp_user_devices` table).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpDevice {
    /// The user (at most 128 characters; may be an external id).
    pub user_id: String,
    /// The device's name, unique per user (at most 256 characters).
    pub device_name: String,
    /// The shared secret (hidden from `Debug`).
    pub secret_key: Secret,
    /// The code period in seconds.
    pub period: i32,
    /// How many periods before and after are accepted.
    pub skew: i32,
    /// Whether the user has verified the device.
    pub verified: bool,
    /// Creation time (ms).
    pub created_at: i64,
}

impl fmt::Debug for TotpDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpDevice")
            .field("user_id", &self.user_id)
            .field("device_name", &self.device_name)
            .field("secret_key", &"***")
            .field("period", &self.period)
            .field("skew", &self.skew)
            .field("verified", &self.verified)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// One TOTP verification attempt of a user in a tenant (the `totp_used_codes` table):
/// the rate-limit history, valid and invalid attempts alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpUsedCode {
    /// The user.
    pub user_id: String,
    /// The code tried (at most 8 characters).
    pub code: String,
    /// Whether it was accepted.
    pub is_valid: bool,
    /// When the record may be removed (ms).
    pub expiry_time: i64,
    /// When the attempt was made (ms); unique per (tenant, user).
    pub created_time: i64,
}

/// A user of the admin dashboard (the `dashboard_users` table).
#[derive(Clone, PartialEq, Eq)]
pub struct DashboardUser {
    /// The user id (36 characters).
    pub user_id: String,
    /// The email, unique per app (at most 256 characters).
    pub email: String,
    /// The password hash (hidden from `Debug`).
    pub password_hash: Secret,
    /// Sign-up time (ms).
    pub time_joined: i64,
}

impl fmt::Debug for DashboardUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DashboardUser")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("password_hash", &"***")
            .field("time_joined", &self.time_joined)
            .finish()
    }
}

/// A session of a dashboard user (the `dashboard_user_sessions` table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardSession {
    /// The session id (36 characters).
    pub session_id: String,
    /// The dashboard user.
    pub user_id: String,
    /// Creation time (ms).
    pub time_created: i64,
    /// Expiry time (ms).
    pub expiry: i64,
}

// ---------------------------------------------------------------- account linking

/// The result of making a recipe user primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MakePrimaryOutcome {
    /// The user was already a primary user; nothing changed.
    AlreadyPrimary,
    /// The user is now a primary user (a group of one).
    MadePrimary,
}

/// The result of linking a recipe user to a primary user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The recipe user was already linked to this primary user; nothing changed.
    AlreadyLinked,
    /// The recipe user is now part of the primary user's group.
    Linked,
}

/// The result of unlinking a recipe user from its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnlinkOutcome {
    /// The user was not linked and not primary; nothing changed.
    NotLinked,
    /// The recipe user is a group of one again.
    Unlinked,
    /// The recipe user is the primary user's own login method and others remain:
    /// the group keeps its id (the core then deletes that login method).
    PrimaryKept,
}

// ---------------------------------------------------------------- user-id mapping

/// A mapping of a SuperTokens user id to an external user id (app-scoped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserIdMapping {
    /// The SuperTokens (recipe or primary) user id.
    pub supertokens_user_id: String,
    /// The external id, at most 128 characters.
    pub external_user_id: String,
    /// Free-form information about the external id.
    pub external_user_id_info: Option<String>,
}

/// Which column of a mapping a given id is looked up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserIdType {
    /// The SuperTokens user id.
    SuperTokens,
    /// The external user id.
    External,
    /// Either: two indexed look-ups (never one `OR` across both columns).
    Any,
}

/// A non-auth recipe that can hold rows keyed by a user id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NonAuthRecipe {
    /// Sessions.
    Session,
    /// User metadata.
    UserMetadata,
    /// User roles.
    UserRoles,
    /// TOTP.
    Totp,
    /// Email verification (tokens or verified emails).
    EmailVerification,
    /// Last-active tracking.
    LastActive,
}
