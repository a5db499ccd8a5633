-- Migration 1 for SQLite: the tables SuperTokens' plugins create in their migration-1
-- layout (shared/spec/schema.md; the phase-1 tables and `jwt_signing_keys`), with
-- SQLite's affinities (TEXT, INTEGER), BOOLEAN columns as INTEGER 0/1, arrays as JSON
-- TEXT. SuperTokens has no SQLite plugin; like on PostgreSQL and MySQL, the project's
-- own additions are migration 2.
-- `{prefix}` is replaced by the configured table prefix (`st_` or nothing).
--
-- Conventions of this file:
-- * Every primary-key column is NOT NULL (SQLite would otherwise accept NULL in the
--   primary key of a rowid table, which PostgreSQL and MySQL never do).
-- * In each CREATE TABLE the UNIQUE constraints come BEFORE the PRIMARY KEY: SQLite
--   checks the constraint declared last first, so this order makes a row that
--   violates both report the primary key, as PostgreSQL and MySQL do.
-- * SQLite reports a unique violation by its columns
--   ("UNIQUE constraint failed: t.app_id, t.tenant_id, t.email"); the backend takes
--   the last column as the key name, so every unique key ends with the column it is
--   named for (email, phone_number, third_party_user_id, link_code_hash, token).
-- * Constraint names follow the PostgreSQL naming of schema.md; SQLite keeps them
--   only as labels.

-- Tenancy

CREATE TABLE {prefix}apps (
    app_id TEXT NOT NULL DEFAULT 'public',
    created_at_time INTEGER,
    CONSTRAINT {prefix}apps_pkey PRIMARY KEY (app_id)
);

CREATE TABLE {prefix}tenants (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    created_at_time INTEGER,
    CONSTRAINT {prefix}tenants_pkey PRIMARY KEY (app_id, tenant_id),
    CONSTRAINT {prefix}tenants_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}tenants_app_id_index ON {prefix}tenants (app_id);

CREATE TABLE {prefix}key_value (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    name TEXT NOT NULL,
    value TEXT,
    created_at_time INTEGER,
    CONSTRAINT {prefix}key_value_pkey PRIMARY KEY (app_id, tenant_id, name),
    CONSTRAINT {prefix}key_value_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
        REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}key_value_tenant_id_index ON {prefix}key_value (app_id, tenant_id);

CREATE TABLE {prefix}tenant_configs (
    connection_uri_domain TEXT NOT NULL DEFAULT '',
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    core_config TEXT,
    email_password_enabled INTEGER,
    passwordless_enabled INTEGER,
    third_party_enabled INTEGER,
    is_first_factors_null INTEGER,
    CONSTRAINT {prefix}tenant_configs_pkey PRIMARY KEY (connection_uri_domain, app_id, tenant_id)
);

CREATE TABLE {prefix}tenant_thirdparty_providers (
    connection_uri_domain TEXT NOT NULL DEFAULT '',
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    third_party_id TEXT NOT NULL,
    name TEXT,
    authorization_endpoint TEXT,
    authorization_endpoint_query_params TEXT,
    token_endpoint TEXT,
    token_endpoint_body_params TEXT,
    user_info_endpoint TEXT,
    user_info_endpoint_query_params TEXT,
    user_info_endpoint_headers TEXT,
    jwks_uri TEXT,
    oidc_discovery_endpoint TEXT,
    require_email INTEGER,
    user_info_map_from_id_token_payload_user_id TEXT,
    user_info_map_from_id_token_payload_email TEXT,
    user_info_map_from_id_token_payload_email_verified TEXT,
    user_info_map_from_user_info_endpoint_user_id TEXT,
    user_info_map_from_user_info_endpoint_email TEXT,
    user_info_map_from_user_info_endpoint_email_verified TEXT,
    CONSTRAINT {prefix}tenant_thirdparty_providers_pkey
        PRIMARY KEY (connection_uri_domain, app_id, tenant_id, third_party_id),
    CONSTRAINT {prefix}tenant_thirdparty_providers_tenant_id_fkey
        FOREIGN KEY (connection_uri_domain, app_id, tenant_id)
        REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}tenant_thirdparty_providers_tenant_id_index
    ON {prefix}tenant_thirdparty_providers (connection_uri_domain, app_id, tenant_id);

CREATE TABLE {prefix}tenant_thirdparty_provider_clients (
    connection_uri_domain TEXT NOT NULL DEFAULT '',
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    third_party_id TEXT NOT NULL,
    client_type TEXT NOT NULL DEFAULT '',
    client_id TEXT NOT NULL,
    client_secret TEXT,
    scope TEXT,
    force_pkce INTEGER,
    additional_config TEXT,
    CONSTRAINT {prefix}tenant_thirdparty_provider_clients_pkey
        PRIMARY KEY (connection_uri_domain, app_id, tenant_id, third_party_id, client_type),
    CONSTRAINT {prefix}tenant_thirdparty_provider_clients_third_party_id_fkey
        FOREIGN KEY (connection_uri_domain, app_id, tenant_id, third_party_id)
        REFERENCES {prefix}tenant_thirdparty_providers (connection_uri_domain, app_id, tenant_id, third_party_id)
        ON DELETE CASCADE
);

CREATE TABLE {prefix}tenant_first_factors (
    connection_uri_domain TEXT NOT NULL DEFAULT '',
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    factor_id TEXT NOT NULL,
    CONSTRAINT {prefix}tenant_first_factors_pkey
        PRIMARY KEY (connection_uri_domain, app_id, tenant_id, factor_id),
    CONSTRAINT {prefix}tenant_first_factors_tenant_id_fkey
        FOREIGN KEY (connection_uri_domain, app_id, tenant_id)
        REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
);

CREATE TABLE {prefix}tenant_required_secondary_factors (
    connection_uri_domain TEXT NOT NULL DEFAULT '',
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    factor_id TEXT NOT NULL,
    CONSTRAINT {prefix}tenant_required_secondary_factors_pkey
        PRIMARY KEY (connection_uri_domain, app_id, tenant_id, factor_id),
    CONSTRAINT {prefix}tenant_required_secondary_factors_tenant_id_fkey
        FOREIGN KEY (connection_uri_domain, app_id, tenant_id)
        REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
);

-- Users

CREATE TABLE {prefix}app_id_to_user_id (
    app_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    recipe_id TEXT NOT NULL,
    primary_or_recipe_user_id TEXT NOT NULL,
    is_linked_or_is_a_primary_user INTEGER NOT NULL DEFAULT 0,
    time_joined INTEGER NOT NULL DEFAULT 0,
    primary_or_recipe_user_time_joined INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT {prefix}app_id_to_user_id_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}app_id_to_user_id_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES {prefix}apps (app_id) ON DELETE CASCADE,
    CONSTRAINT {prefix}app_id_to_user_id_primary_or_recipe_user_id_fkey
        FOREIGN KEY (app_id, primary_or_recipe_user_id)
        REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX {prefix}app_id_to_user_id_app_id_index ON {prefix}app_id_to_user_id (app_id);

CREATE INDEX {prefix}app_id_to_user_id_primary_user_id_index
    ON {prefix}app_id_to_user_id (primary_or_recipe_user_id, app_id);

CREATE INDEX {prefix}app_id_to_user_id_user_id_index ON {prefix}app_id_to_user_id (user_id, app_id);

CREATE TABLE {prefix}all_auth_recipe_users (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    primary_or_recipe_user_id TEXT NOT NULL,
    is_linked_or_is_a_primary_user INTEGER NOT NULL DEFAULT 0,
    recipe_id TEXT NOT NULL,
    time_joined INTEGER NOT NULL,
    primary_or_recipe_user_time_joined INTEGER NOT NULL,
    CONSTRAINT {prefix}all_auth_recipe_users_pkey PRIMARY KEY (app_id, tenant_id, user_id),
    CONSTRAINT {prefix}all_auth_recipe_users_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
        REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE,
    CONSTRAINT {prefix}all_auth_recipe_users_primary_or_recipe_user_id_fkey
        FOREIGN KEY (app_id, primary_or_recipe_user_id)
        REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT {prefix}all_auth_recipe_users_user_id_fkey FOREIGN KEY (app_id, user_id)
        REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX {prefix}all_auth_recipe_users_pagination_index1 ON {prefix}all_auth_recipe_users
    (app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC);

CREATE INDEX {prefix}all_auth_recipe_users_pagination_index2 ON {prefix}all_auth_recipe_users
    (app_id, tenant_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC);

CREATE INDEX {prefix}all_auth_recipe_users_pagination_index3 ON {prefix}all_auth_recipe_users
    (recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC);

CREATE INDEX {prefix}all_auth_recipe_users_pagination_index4 ON {prefix}all_auth_recipe_users
    (recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC);

CREATE INDEX {prefix}all_auth_recipe_users_primary_user_id_index
    ON {prefix}all_auth_recipe_users (primary_or_recipe_user_id, app_id);

CREATE INDEX {prefix}all_auth_recipe_users_recipe_id_index
    ON {prefix}all_auth_recipe_users (app_id, recipe_id, tenant_id);

-- Not in SuperTokens' PostgreSQL schema: the primary key leads with tenant_id, so
-- without this index reading a user's tenants (every user look-up) and the ON DELETE
-- CASCADE from app_id_to_user_id scan the whole table. MySQL has it already.
CREATE INDEX {prefix}all_auth_recipe_users_app_id_user_id_index
    ON {prefix}all_auth_recipe_users (app_id, user_id);

CREATE TABLE {prefix}emailpassword_users (
    app_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    time_joined INTEGER NOT NULL,
    CONSTRAINT {prefix}emailpassword_users_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}emailpassword_users_user_id_fkey FOREIGN KEY (app_id, user_id)
        REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX {prefix}emailpassword_users_email_index ON {prefix}emailpassword_users (app_id, email);

CREATE TABLE {prefix}emailpassword_user_to_tenant (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    CONSTRAINT {prefix}emailpassword_user_to_tenant_email_key UNIQUE (app_id, tenant_id, email),
    CONSTRAINT {prefix}emailpassword_user_to_tenant_pkey PRIMARY KEY (app_id, tenant_id, user_id),
    CONSTRAINT {prefix}emailpassword_user_to_tenant_user_id_fkey FOREIGN KEY (app_id, tenant_id, user_id)
        REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE {prefix}thirdparty_users (
    app_id TEXT NOT NULL DEFAULT 'public',
    third_party_id TEXT NOT NULL,
    third_party_user_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    time_joined INTEGER NOT NULL,
    CONSTRAINT {prefix}thirdparty_users_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}thirdparty_users_user_id_fkey FOREIGN KEY (app_id, user_id)
        REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX {prefix}thirdparty_users_email_index ON {prefix}thirdparty_users (app_id, email);

CREATE INDEX {prefix}thirdparty_users_thirdparty_user_id_index
    ON {prefix}thirdparty_users (app_id, third_party_id, third_party_user_id);

CREATE TABLE {prefix}thirdparty_user_to_tenant (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    third_party_id TEXT NOT NULL,
    third_party_user_id TEXT NOT NULL,
    CONSTRAINT {prefix}thirdparty_user_to_tenant_third_party_user_id_key
        UNIQUE (app_id, tenant_id, third_party_id, third_party_user_id),
    CONSTRAINT {prefix}thirdparty_user_to_tenant_pkey PRIMARY KEY (app_id, tenant_id, user_id),
    CONSTRAINT {prefix}thirdparty_user_to_tenant_user_id_fkey FOREIGN KEY (app_id, tenant_id, user_id)
        REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE
);

CREATE TABLE {prefix}passwordless_users (
    app_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    email TEXT,
    phone_number TEXT,
    time_joined INTEGER NOT NULL,
    CONSTRAINT {prefix}passwordless_users_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}passwordless_users_user_id_fkey FOREIGN KEY (app_id, user_id)
        REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX {prefix}passwordless_users_email_index ON {prefix}passwordless_users (app_id, email);

CREATE INDEX {prefix}passwordless_users_phone_number_index
    ON {prefix}passwordless_users (app_id, phone_number);

-- The phone key is declared before the email key so that SQLite checks the email
-- key first (it checks in reverse order of declaration), as PostgreSQL does.
CREATE TABLE {prefix}passwordless_user_to_tenant (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    email TEXT,
    phone_number TEXT,
    CONSTRAINT {prefix}passwordless_user_to_tenant_phone_number_key
        UNIQUE (app_id, tenant_id, phone_number),
    CONSTRAINT {prefix}passwordless_user_to_tenant_email_key UNIQUE (app_id, tenant_id, email),
    CONSTRAINT {prefix}passwordless_user_to_tenant_pkey PRIMARY KEY (app_id, tenant_id, user_id),
    CONSTRAINT {prefix}passwordless_user_to_tenant_user_id_fkey FOREIGN KEY (app_id, tenant_id, user_id)
        REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE
);

-- Sessions

CREATE TABLE {prefix}session_info (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    session_handle TEXT NOT NULL,
    user_id TEXT NOT NULL,
    refresh_token_hash_2 TEXT NOT NULL,
    session_data TEXT,
    expires_at INTEGER NOT NULL,
    created_at_time INTEGER NOT NULL,
    jwt_user_payload TEXT,
    use_static_key INTEGER NOT NULL,
    CONSTRAINT {prefix}session_info_pkey PRIMARY KEY (app_id, tenant_id, session_handle),
    CONSTRAINT {prefix}session_info_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
        REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}session_expiry_index ON {prefix}session_info (expires_at);

CREATE INDEX {prefix}session_info_user_id_app_id_index ON {prefix}session_info (user_id, app_id);

CREATE INDEX {prefix}session_info_tenant_id_index ON {prefix}session_info (app_id, tenant_id);

CREATE TABLE {prefix}session_access_token_signing_keys (
    app_id TEXT NOT NULL DEFAULT 'public',
    created_at_time INTEGER NOT NULL,
    value TEXT,
    CONSTRAINT {prefix}session_access_token_signing_keys_pkey PRIMARY KEY (app_id, created_at_time),
    CONSTRAINT {prefix}session_access_token_signing_keys_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}access_token_signing_keys_app_id_index
    ON {prefix}session_access_token_signing_keys (app_id);

-- Codes

CREATE TABLE {prefix}passwordless_devices (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    device_id_hash TEXT NOT NULL,
    email TEXT,
    phone_number TEXT,
    link_code_salt TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL,
    CONSTRAINT {prefix}passwordless_devices_pkey PRIMARY KEY (app_id, tenant_id, device_id_hash),
    CONSTRAINT {prefix}passwordless_devices_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
        REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}passwordless_devices_email_index
    ON {prefix}passwordless_devices (app_id, tenant_id, email);

CREATE INDEX {prefix}passwordless_devices_phone_number_index
    ON {prefix}passwordless_devices (app_id, tenant_id, phone_number);

CREATE INDEX {prefix}passwordless_devices_tenant_id_index
    ON {prefix}passwordless_devices (app_id, tenant_id);

CREATE TABLE {prefix}passwordless_codes (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    code_id TEXT NOT NULL,
    device_id_hash TEXT NOT NULL,
    link_code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT {prefix}passwordless_codes_link_code_hash_key UNIQUE (app_id, tenant_id, link_code_hash),
    CONSTRAINT {prefix}passwordless_codes_pkey PRIMARY KEY (app_id, tenant_id, code_id),
    CONSTRAINT {prefix}passwordless_codes_device_id_hash_fkey FOREIGN KEY (app_id, tenant_id, device_id_hash)
        REFERENCES {prefix}passwordless_devices (app_id, tenant_id, device_id_hash)
        ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX {prefix}passwordless_codes_created_at_index
    ON {prefix}passwordless_codes (app_id, tenant_id, created_at);

CREATE INDEX {prefix}passwordless_codes_device_id_hash_index
    ON {prefix}passwordless_codes (app_id, tenant_id, device_id_hash);

CREATE TABLE {prefix}emailpassword_pswd_reset_tokens (
    app_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    token TEXT NOT NULL,
    email TEXT NULL,
    token_expiry INTEGER NOT NULL,
    CONSTRAINT {prefix}emailpassword_pswd_reset_tokens_token_key UNIQUE (token),
    CONSTRAINT {prefix}emailpassword_pswd_reset_tokens_pkey PRIMARY KEY (app_id, user_id, token),
    CONSTRAINT {prefix}emailpassword_pswd_reset_tokens_user_id_fkey FOREIGN KEY (app_id, user_id)
        REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX {prefix}emailpassword_password_reset_token_expiry_index
    ON {prefix}emailpassword_pswd_reset_tokens (token_expiry);

CREATE INDEX {prefix}emailpassword_pswd_reset_tokens_user_id_index
    ON {prefix}emailpassword_pswd_reset_tokens (app_id, user_id);

CREATE TABLE {prefix}emailverification_tokens (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    token TEXT NOT NULL,
    token_expiry INTEGER NOT NULL,
    CONSTRAINT {prefix}emailverification_tokens_token_key UNIQUE (token),
    CONSTRAINT {prefix}emailverification_tokens_pkey PRIMARY KEY (app_id, tenant_id, user_id, email, token),
    CONSTRAINT {prefix}emailverification_tokens_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
        REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}emailverification_tokens_index ON {prefix}emailverification_tokens (token_expiry);

CREATE INDEX {prefix}emailverification_tokens_tenant_id_index
    ON {prefix}emailverification_tokens (app_id, tenant_id);

CREATE TABLE {prefix}emailverification_verified_emails (
    app_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    CONSTRAINT {prefix}emailverification_verified_emails_pkey PRIMARY KEY (app_id, user_id, email),
    CONSTRAINT {prefix}emailverification_verified_emails_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}emailverification_verified_emails_app_id_index
    ON {prefix}emailverification_verified_emails (app_id);

CREATE INDEX {prefix}emailverification_verified_emails_email_index
    ON {prefix}emailverification_verified_emails (app_id, email);

-- JWT signing keys (SuperTokens creates this table with the phase-1 tables)

CREATE TABLE {prefix}jwt_signing_keys (
    app_id TEXT NOT NULL DEFAULT 'public',
    key_id TEXT NOT NULL,
    key_string TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    created_at INTEGER,
    CONSTRAINT {prefix}jwt_signing_keys_pkey PRIMARY KEY (app_id, key_id),
    CONSTRAINT {prefix}jwt_signing_keys_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}jwt_signing_keys_app_id_index ON {prefix}jwt_signing_keys (app_id);
