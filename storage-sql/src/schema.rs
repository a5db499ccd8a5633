//! Every table and column name the statements use, declared once.
//!
//! Statements name tables and columns only through these enums, so a misspelt name
//! does not compile. The names are those of the DDL in each backend's `migrations/`
//! (the SuperTokens schema); a table gets the storage's prefix when a statement is
//! rendered ([`crate::q::Q::t`]).

use sea_query::Iden;

/// Declares an identifier enum whose variants render as the given names.
macro_rules! idens {
    ($(#[$m:meta])* $name:ident { $($var:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

idens! {
    /// The tables, without the storage's prefix.
    Tbl {
        AllAuthRecipeUsers = "all_auth_recipe_users",
        AppIdToUserId = "app_id_to_user_id",
        DashboardUserSessions = "dashboard_user_sessions",
        DashboardUsers = "dashboard_users",
        Apps = "apps",
        JwtSigningKeys = "jwt_signing_keys",
        EmailpasswordPswdResetTokens = "emailpassword_pswd_reset_tokens",
        EmailpasswordUserToTenant = "emailpassword_user_to_tenant",
        EmailpasswordUsers = "emailpassword_users",
        EmailverificationTokens = "emailverification_tokens",
        EmailverificationVerifiedEmails = "emailverification_verified_emails",
        KeyValue = "key_value",
        PasswordlessCodes = "passwordless_codes",
        PasswordlessDevices = "passwordless_devices",
        PasswordlessUserToTenant = "passwordless_user_to_tenant",
        PasswordlessUsers = "passwordless_users",
        RolePermissions = "role_permissions",
        Roles = "roles",
        SessionAccessTokenSigningKeys = "session_access_token_signing_keys",
        SessionInfo = "session_info",
        TenantConfigs = "tenant_configs",
        TenantFirstFactors = "tenant_first_factors",
        TenantRequiredSecondaryFactors = "tenant_required_secondary_factors",
        TenantThirdpartyProviderClients = "tenant_thirdparty_provider_clients",
        TenantThirdpartyProviders = "tenant_thirdparty_providers",
        Tenants = "tenants",
        ThirdpartyUserToTenant = "thirdparty_user_to_tenant",
        ThirdpartyUsers = "thirdparty_users",
        TotpUsedCodes = "totp_used_codes",
        TotpUserDevices = "totp_user_devices",
        TotpUsers = "totp_users",
        UserLastActive = "user_last_active",
        UserMetadata = "user_metadata",
        UserRoles = "user_roles",
        UseridMapping = "userid_mapping",
    }
}

idens! {
    /// The columns of every table (a name shared by several tables is declared once).
    Col {
        AdditionalConfig = "additional_config",
        Algorithm = "algorithm",
        AppId = "app_id",
        AuthorizationEndpoint = "authorization_endpoint",
        AuthorizationEndpointQueryParams = "authorization_endpoint_query_params",
        ClientId = "client_id",
        ClientSecret = "client_secret",
        ClientType = "client_type",
        Code = "code",
        CodeId = "code_id",
        ConnectionUriDomain = "connection_uri_domain",
        CoreConfig = "core_config",
        CreatedAt = "created_at",
        CreatedAtTime = "created_at_time",
        CreatedTimeMs = "created_time_ms",
        DeviceName = "device_name",
        DeviceIdHash = "device_id_hash",
        Email = "email",
        EmailPasswordEnabled = "email_password_enabled",
        ExpiresAt = "expires_at",
        Expiry = "expiry",
        ExpiryTimeMs = "expiry_time_ms",
        ExternalUserId = "external_user_id",
        ExternalUserIdInfo = "external_user_id_info",
        FactorId = "factor_id",
        FailedAttempts = "failed_attempts",
        ForcePkce = "force_pkce",
        IsFirstFactorsNull = "is_first_factors_null",
        IsLinkedOrIsAPrimaryUser = "is_linked_or_is_a_primary_user",
        IsValid = "is_valid",
        JwksUri = "jwks_uri",
        JwtUserPayload = "jwt_user_payload",
        KeyId = "key_id",
        KeyString = "key_string",
        LastActiveTime = "last_active_time",
        LinkCodeHash = "link_code_hash",
        LinkCodeSalt = "link_code_salt",
        Name = "name",
        OidcDiscoveryEndpoint = "oidc_discovery_endpoint",
        PasswordHash = "password_hash",
        PasswordlessEnabled = "passwordless_enabled",
        Period = "period",
        Permission = "permission",
        PhoneNumber = "phone_number",
        PrevRefreshTokenHash2 = "prev_refresh_token_hash_2",
        PrimaryOrRecipeUserId = "primary_or_recipe_user_id",
        PrimaryOrRecipeUserTimeJoined = "primary_or_recipe_user_time_joined",
        RecipeId = "recipe_id",
        RefreshTokenHash2 = "refresh_token_hash_2",
        RefreshTokenRotatedAt = "refresh_token_rotated_at",
        RequireEmail = "require_email",
        Role = "role",
        Scope = "scope",
        SecretKey = "secret_key",
        SessionId = "session_id",
        SessionData = "session_data",
        SessionHandle = "session_handle",
        Skew = "skew",
        SupertokensUserId = "supertokens_user_id",
        TenantId = "tenant_id",
        ThirdPartyEnabled = "third_party_enabled",
        ThirdPartyId = "third_party_id",
        ThirdPartyUserId = "third_party_user_id",
        TimeCreated = "time_created",
        TimeJoined = "time_joined",
        Token = "token",
        TokenEndpoint = "token_endpoint",
        TokenEndpointBodyParams = "token_endpoint_body_params",
        TokenExpiry = "token_expiry",
        UseStaticKey = "use_static_key",
        UserId = "user_id",
        UserInfoEndpoint = "user_info_endpoint",
        UserInfoEndpointHeaders = "user_info_endpoint_headers",
        UserInfoEndpointQueryParams = "user_info_endpoint_query_params",
        UserInfoMapFromIdTokenPayloadEmail = "user_info_map_from_id_token_payload_email",
        UserInfoMapFromIdTokenPayloadEmailVerified = "user_info_map_from_id_token_payload_email_verified",
        UserInfoMapFromIdTokenPayloadUserId = "user_info_map_from_id_token_payload_user_id",
        UserInfoMapFromUserInfoEndpointEmail = "user_info_map_from_user_info_endpoint_email",
        UserInfoMapFromUserInfoEndpointEmailVerified = "user_info_map_from_user_info_endpoint_email_verified",
        UserInfoMapFromUserInfoEndpointUserId = "user_info_map_from_user_info_endpoint_user_id",
        UserMetadata = "user_metadata",
        Value = "value",
        Verified = "verified",
    }
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
