//! Every table and column name the statements use, declared once: one enum per table,
//! whose variants are that table's columns (`SessionInfo::SessionHandle`).
//!
//! Statements name tables and columns only through these enums, so a misspelt name, or
//! a column the table does not have, does not compile. The declarations are those of
//! the DDL in each backend's `migrations/` (the SuperTokens schema), and the schema
//! tests compare them with the migrated catalog of every backend
//! ([`crate::declared_tables`]). A table gets the storage's prefix when a statement is
//! rendered ([`crate::stmt::Q::t`]).

use sea_query::Iden;

/// Declares an identifier enum whose variants render as the given names.
macro_rules! idens {
    ($(#[$m:meta])* $name:ident { $($var:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        // The variants are the DDL's names (`totp_users`: `app_id`, `user_id`).
        #[allow(clippy::enum_variant_names)]
        pub(crate) enum $name {
            $(
                #[doc = concat!("`", $s, "`")]
                $var,
            )*
        }

        impl $name {
            /// The name as in the DDL.
            pub(crate) const fn name(self) -> &'static str {
                match self {
                    $(Self::$var => $s,)*
                }
            }
        }

        impl Iden for $name {
            fn unquoted(&self) -> &str {
                self.name()
            }
        }
    };
}

/// A table's column enum: which table it is, and all its columns in DDL order.
pub(crate) trait Table: Iden + Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// The table.
    const TABLE: Tbl;
    /// Every column, in the order of the DDL.
    const COLUMNS: &'static [Self];
    /// `app_id`, which every table has.
    const APP_ID: Self;
}

/// A column name of no particular table: what code that chooses its table at run time
/// (one read for each recipe's table) selects and reads rows by. Made only from a
/// table's enum (`SessionInfo::UserId.any()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Name(&'static str);

impl Iden for Name {
    fn unquoted(&self) -> &str {
        self.0
    }
}

/// Declares the tables: the [`Tbl`] enum of their names, and for each table an enum of
/// its columns implementing [`Table`].
macro_rules! tables {
    ($($(#[$m:meta])* $t:ident = $tn:literal { $($var:ident = $s:literal,)* })*) => {
        idens! {
            /// The tables, without the storage's prefix.
            Tbl { $($t = $tn,)* }
        }

        $(
            idens! {
                $(#[$m])*
                $t { $($var = $s,)* }
            }

            impl Table for $t {
                const TABLE: Tbl = Tbl::$t;
                const COLUMNS: &'static [Self] = &[$(Self::$var,)*];
                const APP_ID: Self = Self::AppId;
            }

            impl $t {
                /// The column as a name of no particular table ([`Name`]), for code
                /// that picks its table at run time.
                #[allow(dead_code)]
                pub(crate) const fn any(self) -> Name {
                    Name(self.name())
                }
            }
        )*

        /// Every declared table with its columns, in DDL order.
        pub(crate) fn declared() -> Vec<(&'static str, Vec<&'static str>)> {
            vec![$(($tn, vec![$($s,)*]),)*]
        }
    };
}

/// A table with `app_id` and `tenant_id` columns ([`crate::stmt::tenant_is`]).
pub(crate) trait TenantCols: Table {
    /// `tenant_id`
    const TENANT_ID: Self;
}

/// A table with `app_id` and `user_id` columns ([`crate::stmt::app_user_is`]).
pub(crate) trait AppUserCols: Table {
    /// `user_id`
    const USER_ID: Self;
    /// The table and its `app_id`, `user_id`, for lists of tables gone through at run
    /// time.
    const KEYED: UserKeyed;
    /// A select list of `user_id` alone.
    const USER_ID_ROW: &'static [Self];
}

/// A table with `app_id` and `user_id` ([`AppUserCols::KEYED`]), in a list of tables
/// that one loop goes through (every table that keeps rows of a user).
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserKeyed {
    /// The table.
    pub(crate) table: Tbl,
    /// Its `app_id`.
    pub(crate) app_id: Name,
    /// Its `user_id`.
    pub(crate) user_id: Name,
}

/// The linking columns of `app_id_to_user_id` and `all_auth_recipe_users`.
pub(crate) trait LinkCols: AppUserCols {
    /// `primary_or_recipe_user_id`
    const PRIMARY: Self;
    /// `is_linked_or_is_a_primary_user`
    const IS_LINKED: Self;
    /// `primary_or_recipe_user_time_joined`
    const PRIMARY_TIME_JOINED: Self;
}

macro_rules! link_cols {
    ($($t:ident),*) => {$(
        impl LinkCols for $t {
            const PRIMARY: Self = Self::PrimaryOrRecipeUserId;
            const IS_LINKED: Self = Self::IsLinkedOrIsAPrimaryUser;
            const PRIMARY_TIME_JOINED: Self = Self::PrimaryOrRecipeUserTimeJoined;
        }
    )*};
}

link_cols!(AppIdToUserId, AllAuthRecipeUsers);

/// A table keyed by a tenant config's key (`connection_uri_domain`, `app_id`,
/// `tenant_id`).
pub(crate) trait ConfigKeyCols: TenantCols {
    /// `connection_uri_domain`
    const CONNECTION_URI_DOMAIN: Self;
}

/// A table of a tenant's factors (first or required secondary).
pub(crate) trait FactorCols: ConfigKeyCols {
    /// `factor_id`
    const FACTOR_ID: Self;
    /// The select list of a factor row.
    const ROW: &'static [Self];
}

impl FactorCols for TenantFirstFactors {
    const FACTOR_ID: Self = Self::FactorId;
    const ROW: &'static [Self] = Self::COLUMNS;
}

impl FactorCols for TenantRequiredSecondaryFactors {
    const FACTOR_ID: Self = Self::FactorId;
    const ROW: &'static [Self] = Self::COLUMNS;
}

/// Implements [`TenantCols`], [`AppUserCols`] and [`ConfigKeyCols`] for the tables listed (a table
/// without the columns does not compile).
macro_rules! with_keys {
    (TenantCols: $($t:ident),*; AppUserCols: $($u:ident),*; ConfigKeyCols: $($k:ident),*;) => {
        $(impl ConfigKeyCols for $k {
            const CONNECTION_URI_DOMAIN: Self = Self::ConnectionUriDomain;
        })*
        $(impl TenantCols for $t {
            const TENANT_ID: Self = Self::TenantId;
        })*
        $(impl AppUserCols for $u {
            const USER_ID: Self = Self::UserId;
            const KEYED: UserKeyed = UserKeyed {
                table: Tbl::$u,
                app_id: Name(Self::AppId.name()),
                user_id: Name(Self::UserId.name()),
            };
            const USER_ID_ROW: &'static [Self] = &[Self::UserId];
        })*
    };
}

tables! {
    /// `all_auth_recipe_users`
    AllAuthRecipeUsers = "all_auth_recipe_users" {
        AppId = "app_id",
        TenantId = "tenant_id",
        UserId = "user_id",
        PrimaryOrRecipeUserId = "primary_or_recipe_user_id",
        IsLinkedOrIsAPrimaryUser = "is_linked_or_is_a_primary_user",
        RecipeId = "recipe_id",
        TimeJoined = "time_joined",
        PrimaryOrRecipeUserTimeJoined = "primary_or_recipe_user_time_joined",
    }

    /// `app_id_to_user_id`
    AppIdToUserId = "app_id_to_user_id" {
        AppId = "app_id",
        UserId = "user_id",
        RecipeId = "recipe_id",
        PrimaryOrRecipeUserId = "primary_or_recipe_user_id",
        IsLinkedOrIsAPrimaryUser = "is_linked_or_is_a_primary_user",
        TimeJoined = "time_joined",
        PrimaryOrRecipeUserTimeJoined = "primary_or_recipe_user_time_joined",
    }

    /// `dashboard_user_sessions`
    DashboardUserSessions = "dashboard_user_sessions" {
        AppId = "app_id",
        SessionId = "session_id",
        UserId = "user_id",
        TimeCreated = "time_created",
        Expiry = "expiry",
    }

    /// `dashboard_users`
    DashboardUsers = "dashboard_users" {
        AppId = "app_id",
        UserId = "user_id",
        Email = "email",
        PasswordHash = "password_hash",
        TimeJoined = "time_joined",
    }

    /// `apps`
    Apps = "apps" {
        AppId = "app_id",
        CreatedAtTime = "created_at_time",
    }

    /// `jwt_signing_keys`
    JwtSigningKeys = "jwt_signing_keys" {
        AppId = "app_id",
        KeyId = "key_id",
        KeyString = "key_string",
        Algorithm = "algorithm",
        CreatedAt = "created_at",
    }

    /// `emailpassword_pswd_reset_tokens`
    EmailpasswordPswdResetTokens = "emailpassword_pswd_reset_tokens" {
        AppId = "app_id",
        UserId = "user_id",
        Token = "token",
        Email = "email",
        TokenExpiry = "token_expiry",
    }

    /// `emailpassword_user_to_tenant`
    EmailpasswordUserToTenant = "emailpassword_user_to_tenant" {
        AppId = "app_id",
        TenantId = "tenant_id",
        UserId = "user_id",
        Email = "email",
    }

    /// `emailpassword_users`
    EmailpasswordUsers = "emailpassword_users" {
        AppId = "app_id",
        UserId = "user_id",
        Email = "email",
        PasswordHash = "password_hash",
        TimeJoined = "time_joined",
    }

    /// `emailverification_tokens`
    EmailverificationTokens = "emailverification_tokens" {
        AppId = "app_id",
        TenantId = "tenant_id",
        UserId = "user_id",
        Email = "email",
        Token = "token",
        TokenExpiry = "token_expiry",
    }

    /// `emailverification_verified_emails`
    EmailverificationVerifiedEmails = "emailverification_verified_emails" {
        AppId = "app_id",
        UserId = "user_id",
        Email = "email",
    }

    /// `key_value`
    KeyValue = "key_value" {
        AppId = "app_id",
        TenantId = "tenant_id",
        Name = "name",
        Value = "value",
        CreatedAtTime = "created_at_time",
    }

    /// `passwordless_codes`
    PasswordlessCodes = "passwordless_codes" {
        AppId = "app_id",
        TenantId = "tenant_id",
        CodeId = "code_id",
        DeviceIdHash = "device_id_hash",
        LinkCodeHash = "link_code_hash",
        CreatedAt = "created_at",
    }

    /// `passwordless_devices`
    PasswordlessDevices = "passwordless_devices" {
        AppId = "app_id",
        TenantId = "tenant_id",
        DeviceIdHash = "device_id_hash",
        Email = "email",
        PhoneNumber = "phone_number",
        LinkCodeSalt = "link_code_salt",
        FailedAttempts = "failed_attempts",
    }

    /// `passwordless_user_to_tenant`
    PasswordlessUserToTenant = "passwordless_user_to_tenant" {
        AppId = "app_id",
        TenantId = "tenant_id",
        UserId = "user_id",
        Email = "email",
        PhoneNumber = "phone_number",
    }

    /// `passwordless_users`
    PasswordlessUsers = "passwordless_users" {
        AppId = "app_id",
        UserId = "user_id",
        Email = "email",
        PhoneNumber = "phone_number",
        TimeJoined = "time_joined",
    }

    /// `role_permissions`
    RolePermissions = "role_permissions" {
        AppId = "app_id",
        Role = "role",
        Permission = "permission",
    }

    /// `roles`
    Roles = "roles" {
        AppId = "app_id",
        Role = "role",
    }

    /// `session_access_token_signing_keys`
    SessionAccessTokenSigningKeys = "session_access_token_signing_keys" {
        AppId = "app_id",
        CreatedAtTime = "created_at_time",
        Value = "value",
    }

    /// `session_info`
    SessionInfo = "session_info" {
        AppId = "app_id",
        TenantId = "tenant_id",
        SessionHandle = "session_handle",
        UserId = "user_id",
        RefreshTokenHash2 = "refresh_token_hash_2",
        SessionData = "session_data",
        ExpiresAt = "expires_at",
        CreatedAtTime = "created_at_time",
        JwtUserPayload = "jwt_user_payload",
        UseStaticKey = "use_static_key",
        PrevRefreshTokenHash2 = "prev_refresh_token_hash_2",
        RefreshTokenRotatedAt = "refresh_token_rotated_at",
    }

    /// `tenant_configs`
    TenantConfigs = "tenant_configs" {
        ConnectionUriDomain = "connection_uri_domain",
        AppId = "app_id",
        TenantId = "tenant_id",
        CoreConfig = "core_config",
        EmailPasswordEnabled = "email_password_enabled",
        PasswordlessEnabled = "passwordless_enabled",
        ThirdPartyEnabled = "third_party_enabled",
        IsFirstFactorsNull = "is_first_factors_null",
    }

    /// `tenant_first_factors`
    TenantFirstFactors = "tenant_first_factors" {
        ConnectionUriDomain = "connection_uri_domain",
        AppId = "app_id",
        TenantId = "tenant_id",
        FactorId = "factor_id",
    }

    /// `tenant_required_secondary_factors`
    TenantRequiredSecondaryFactors = "tenant_required_secondary_factors" {
        ConnectionUriDomain = "connection_uri_domain",
        AppId = "app_id",
        TenantId = "tenant_id",
        FactorId = "factor_id",
    }

    /// `tenant_thirdparty_provider_clients`
    TenantThirdpartyProviderClients = "tenant_thirdparty_provider_clients" {
        ConnectionUriDomain = "connection_uri_domain",
        AppId = "app_id",
        TenantId = "tenant_id",
        ThirdPartyId = "third_party_id",
        ClientType = "client_type",
        ClientId = "client_id",
        ClientSecret = "client_secret",
        Scope = "scope",
        ForcePkce = "force_pkce",
        AdditionalConfig = "additional_config",
    }

    /// `tenant_thirdparty_providers`
    TenantThirdpartyProviders = "tenant_thirdparty_providers" {
        ConnectionUriDomain = "connection_uri_domain",
        AppId = "app_id",
        TenantId = "tenant_id",
        ThirdPartyId = "third_party_id",
        Name = "name",
        AuthorizationEndpoint = "authorization_endpoint",
        AuthorizationEndpointQueryParams = "authorization_endpoint_query_params",
        TokenEndpoint = "token_endpoint",
        TokenEndpointBodyParams = "token_endpoint_body_params",
        UserInfoEndpoint = "user_info_endpoint",
        UserInfoEndpointQueryParams = "user_info_endpoint_query_params",
        UserInfoEndpointHeaders = "user_info_endpoint_headers",
        JwksUri = "jwks_uri",
        OidcDiscoveryEndpoint = "oidc_discovery_endpoint",
        RequireEmail = "require_email",
        UserInfoMapFromIdTokenPayloadUserId = "user_info_map_from_id_token_payload_user_id",
        UserInfoMapFromIdTokenPayloadEmail = "user_info_map_from_id_token_payload_email",
        UserInfoMapFromIdTokenPayloadEmailVerified = "user_info_map_from_id_token_payload_email_verified",
        UserInfoMapFromUserInfoEndpointUserId = "user_info_map_from_user_info_endpoint_user_id",
        UserInfoMapFromUserInfoEndpointEmail = "user_info_map_from_user_info_endpoint_email",
        UserInfoMapFromUserInfoEndpointEmailVerified = "user_info_map_from_user_info_endpoint_email_verified",
    }

    /// `tenants`
    Tenants = "tenants" {
        AppId = "app_id",
        TenantId = "tenant_id",
        CreatedAtTime = "created_at_time",
    }

    /// `thirdparty_user_to_tenant`
    ThirdpartyUserToTenant = "thirdparty_user_to_tenant" {
        AppId = "app_id",
        TenantId = "tenant_id",
        UserId = "user_id",
        ThirdPartyId = "third_party_id",
        ThirdPartyUserId = "third_party_user_id",
    }

    /// `thirdparty_users`
    ThirdpartyUsers = "thirdparty_users" {
        AppId = "app_id",
        ThirdPartyId = "third_party_id",
        ThirdPartyUserId = "third_party_user_id",
        UserId = "user_id",
        Email = "email",
        TimeJoined = "time_joined",
    }

    /// `totp_used_codes`
    TotpUsedCodes = "totp_used_codes" {
        AppId = "app_id",
        TenantId = "tenant_id",
        UserId = "user_id",
        Code = "code",
        IsValid = "is_valid",
        ExpiryTimeMs = "expiry_time_ms",
        CreatedTimeMs = "created_time_ms",
    }

    /// `totp_user_devices`
    TotpUserDevices = "totp_user_devices" {
        AppId = "app_id",
        UserId = "user_id",
        DeviceName = "device_name",
        SecretKey = "secret_key",
        Period = "period",
        Skew = "skew",
        Verified = "verified",
        CreatedAt = "created_at",
    }

    /// `totp_users`
    TotpUsers = "totp_users" {
        AppId = "app_id",
        UserId = "user_id",
    }

    /// `user_last_active`
    UserLastActive = "user_last_active" {
        AppId = "app_id",
        UserId = "user_id",
        LastActiveTime = "last_active_time",
    }

    /// `user_metadata`
    UserMetadata = "user_metadata" {
        AppId = "app_id",
        UserId = "user_id",
        UserMetadata = "user_metadata",
    }

    /// `user_roles`
    UserRoles = "user_roles" {
        AppId = "app_id",
        TenantId = "tenant_id",
        UserId = "user_id",
        Role = "role",
    }

    /// `userid_mapping`
    UseridMapping = "userid_mapping" {
        AppId = "app_id",
        SupertokensUserId = "supertokens_user_id",
        ExternalUserId = "external_user_id",
        ExternalUserIdInfo = "external_user_id_info",
    }
}

with_keys! {
    TenantCols: AllAuthRecipeUsers, EmailpasswordUserToTenant, EmailverificationTokens, KeyValue, PasswordlessCodes, PasswordlessDevices, PasswordlessUserToTenant, SessionInfo, TenantConfigs, TenantFirstFactors, TenantRequiredSecondaryFactors, TenantThirdpartyProviderClients, TenantThirdpartyProviders, Tenants, ThirdpartyUserToTenant, TotpUsedCodes, UserRoles;
    AppUserCols: AllAuthRecipeUsers, AppIdToUserId, DashboardUserSessions, DashboardUsers, EmailpasswordPswdResetTokens, EmailpasswordUserToTenant, EmailpasswordUsers, EmailverificationTokens, EmailverificationVerifiedEmails, PasswordlessUserToTenant, PasswordlessUsers, SessionInfo, ThirdpartyUserToTenant, ThirdpartyUsers, TotpUsedCodes, TotpUserDevices, TotpUsers, UserLastActive, UserMetadata, UserRoles;
    ConfigKeyCols: TenantConfigs, TenantFirstFactors, TenantRequiredSecondaryFactors, TenantThirdpartyProviderClients, TenantThirdpartyProviders;
}

idens! {
    /// Names given to computed select items (`COUNT(*) AS n`) and to the tables of a
    /// join (`app_id_to_user_id AS a`).
    As {
        N = "n",
        A = "a",
        Ep = "ep",
        Tp = "tp",
        Pl = "pl",
        Day = "day",
        G = "g",
    }
}
