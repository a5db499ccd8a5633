-- Migration 1: the phase-1 tables and `jwt_signing_keys`, exactly as SuperTokens'
-- PostgreSQL plugin (9.5 line) creates them on an empty database: the same tables,
-- columns, types, defaults, constraint names, index names and index columns, in the
-- plugin's order (tests/fixtures/supertokens-ddl/postgresql-phase1.sql is the
-- reference; the schema test compares the two catalogs). Nothing of the project's own
-- is here: its additions are migration 2, so that a database created by SuperTokens
-- is adopted as version 1 (`migrate baseline`) and upgraded like any other.
--
-- `{prefix}` is the table-name prefix with its joiner (`st_` or empty), applied to
-- tables, constraints and indexes; it is the only placeholder. Tables are created
-- unqualified: the connection's search_path selects the schema. Every statement ends
-- with `;` at the end of a line.

-- apps
CREATE TABLE IF NOT EXISTS {prefix}apps (
    app_id VARCHAR(64) NOT NULL DEFAULT 'public',
    created_at_time BIGINT,
    CONSTRAINT {prefix}apps_pkey PRIMARY KEY(app_id)
);

-- tenants
CREATE TABLE IF NOT EXISTS {prefix}tenants (
    app_id VARCHAR(64) NOT NULL DEFAULT 'public',
    tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
    created_at_time BIGINT,
    CONSTRAINT {prefix}tenants_pkey PRIMARY KEY(app_id, tenant_id),
    CONSTRAINT {prefix}tenants_app_id_fkey FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}tenants_app_id_index ON {prefix}tenants (app_id);

-- key_value
CREATE TABLE IF NOT EXISTS {prefix}key_value (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    name VARCHAR(128),
    value TEXT,
    created_at_time BIGINT,
    CONSTRAINT {prefix}key_value_pkey PRIMARY KEY(app_id, tenant_id, name),
    CONSTRAINT {prefix}key_value_tenant_id_fkey FOREIGN KEY(app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}key_value_tenant_id_index ON {prefix}key_value (app_id, tenant_id);

-- app_id_to_user_id
CREATE TABLE IF NOT EXISTS {prefix}app_id_to_user_id (
    app_id VARCHAR(64) NOT NULL DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    recipe_id VARCHAR(128) NOT NULL,
    primary_or_recipe_user_id CHAR(36) NOT NULL,
    is_linked_or_is_a_primary_user BOOLEAN NOT NULL DEFAULT FALSE,
    time_joined BIGINT NOT NULL DEFAULT 0,
    primary_or_recipe_user_time_joined BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT {prefix}app_id_to_user_id_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}app_id_to_user_id_primary_or_recipe_user_id_fkey FOREIGN KEY(app_id, primary_or_recipe_user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT {prefix}app_id_to_user_id_app_id_fkey FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}app_id_to_user_id_app_id_index ON {prefix}app_id_to_user_id (app_id);
CREATE INDEX IF NOT EXISTS {prefix}app_id_to_user_id_primary_user_id_index ON {prefix}app_id_to_user_id (primary_or_recipe_user_id, app_id);
CREATE INDEX IF NOT EXISTS {prefix}app_id_to_user_id_user_id_index ON {prefix}app_id_to_user_id (user_id, app_id);
CREATE INDEX IF NOT EXISTS {prefix}app_id_to_user_id_pagination_index1 ON {prefix}app_id_to_user_id (app_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC);
CREATE INDEX IF NOT EXISTS {prefix}app_id_to_user_id_pagination_index2 ON {prefix}app_id_to_user_id (app_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC);
CREATE INDEX IF NOT EXISTS {prefix}app_id_to_user_id_pagination_index3 ON {prefix}app_id_to_user_id (recipe_id, app_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC);
CREATE INDEX IF NOT EXISTS {prefix}app_id_to_user_id_pagination_index4 ON {prefix}app_id_to_user_id (recipe_id, app_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC);

-- all_auth_recipe_users
CREATE TABLE IF NOT EXISTS {prefix}all_auth_recipe_users (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    primary_or_recipe_user_id CHAR(36) NOT NULL,
    is_linked_or_is_a_primary_user BOOLEAN NOT NULL DEFAULT FALSE,
    recipe_id VARCHAR(128) NOT NULL,
    time_joined BIGINT NOT NULL,
    primary_or_recipe_user_time_joined BIGINT NOT NULL,
    CONSTRAINT {prefix}all_auth_recipe_users_pkey PRIMARY KEY (app_id, tenant_id, user_id),
    CONSTRAINT {prefix}all_auth_recipe_users_tenant_id_fkey FOREIGN KEY(app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE,
    CONSTRAINT {prefix}all_auth_recipe_users_primary_or_recipe_user_id_fkey FOREIGN KEY(app_id, primary_or_recipe_user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT {prefix}all_auth_recipe_users_user_id_fkey FOREIGN KEY(app_id, user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX {prefix}all_auth_recipe_users_pagination_index1 ON {prefix}all_auth_recipe_users (app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC);
CREATE INDEX {prefix}all_auth_recipe_users_pagination_index2 ON {prefix}all_auth_recipe_users (app_id, tenant_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC);
CREATE INDEX {prefix}all_auth_recipe_users_pagination_index3 ON {prefix}all_auth_recipe_users (recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC);
CREATE INDEX {prefix}all_auth_recipe_users_pagination_index4 ON {prefix}all_auth_recipe_users (recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC);
CREATE INDEX {prefix}all_auth_recipe_users_primary_user_id_index ON {prefix}all_auth_recipe_users (primary_or_recipe_user_id, app_id);
CREATE INDEX {prefix}all_auth_recipe_users_recipe_id_index ON {prefix}all_auth_recipe_users (app_id, recipe_id, tenant_id);

-- session_access_token_signing_keys
CREATE TABLE IF NOT EXISTS {prefix}session_access_token_signing_keys (
    app_id VARCHAR(64) DEFAULT 'public',
    created_at_time BIGINT NOT NULL,
    value TEXT,
    CONSTRAINT {prefix}session_access_token_signing_keys_pkey PRIMARY KEY(app_id, created_at_time),
    CONSTRAINT {prefix}session_access_token_signing_keys_app_id_fkey FOREIGN KEY (app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}access_token_signing_keys_app_id_index ON {prefix}session_access_token_signing_keys (app_id);

-- session_info
CREATE TABLE IF NOT EXISTS {prefix}session_info (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    session_handle VARCHAR(255) NOT NULL,
    user_id VARCHAR(128) NOT NULL,
    refresh_token_hash_2 VARCHAR(128) NOT NULL,
    session_data TEXT,
    expires_at BIGINT NOT NULL,
    created_at_time BIGINT NOT NULL,
    jwt_user_payload TEXT,
    use_static_key BOOLEAN NOT NULL,
    CONSTRAINT {prefix}session_info_pkey PRIMARY KEY(app_id, tenant_id, session_handle),
    CONSTRAINT {prefix}session_info_tenant_id_fkey FOREIGN KEY (app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}session_expiry_index ON {prefix}session_info (expires_at);
CREATE INDEX IF NOT EXISTS {prefix}session_info_user_id_app_id_index ON {prefix}session_info (user_id, app_id);
CREATE INDEX {prefix}session_info_tenant_id_index ON {prefix}session_info (app_id, tenant_id);

-- tenant_configs
CREATE TABLE IF NOT EXISTS {prefix}tenant_configs (
    connection_uri_domain VARCHAR(256) DEFAULT '',
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    core_config TEXT,
    email_password_enabled BOOLEAN,
    passwordless_enabled BOOLEAN,
    third_party_enabled BOOLEAN,
    is_first_factors_null BOOLEAN,
    CONSTRAINT {prefix}tenant_configs_pkey PRIMARY KEY (connection_uri_domain, app_id, tenant_id)
);

-- tenant_thirdparty_providers
CREATE TABLE IF NOT EXISTS {prefix}tenant_thirdparty_providers (
    connection_uri_domain VARCHAR(256) DEFAULT '',
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    third_party_id VARCHAR(28) NOT NULL,
    name VARCHAR(64),
    authorization_endpoint TEXT,
    authorization_endpoint_query_params TEXT,
    token_endpoint TEXT,
    token_endpoint_body_params TEXT,
    user_info_endpoint TEXT,
    user_info_endpoint_query_params TEXT,
    user_info_endpoint_headers TEXT,
    jwks_uri TEXT,
    oidc_discovery_endpoint TEXT,
    require_email BOOLEAN,
    user_info_map_from_id_token_payload_user_id VARCHAR(64),
    user_info_map_from_id_token_payload_email VARCHAR(64),
    user_info_map_from_id_token_payload_email_verified VARCHAR(64),
    user_info_map_from_user_info_endpoint_user_id VARCHAR(64),
    user_info_map_from_user_info_endpoint_email VARCHAR(64),
    user_info_map_from_user_info_endpoint_email_verified VARCHAR(64),
    CONSTRAINT {prefix}tenant_thirdparty_providers_pkey PRIMARY KEY (connection_uri_domain, app_id, tenant_id, third_party_id),
    CONSTRAINT {prefix}tenant_thirdparty_providers_tenant_id_fkey FOREIGN KEY(connection_uri_domain, app_id, tenant_id) REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}tenant_thirdparty_providers_tenant_id_index ON {prefix}tenant_thirdparty_providers (connection_uri_domain, app_id, tenant_id);

-- tenant_first_factors
CREATE TABLE IF NOT EXISTS {prefix}tenant_first_factors (
    connection_uri_domain VARCHAR(256) DEFAULT '',
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    factor_id VARCHAR(128),
    CONSTRAINT {prefix}tenant_first_factors_pkey PRIMARY KEY (connection_uri_domain, app_id, tenant_id, factor_id),
    CONSTRAINT {prefix}tenant_first_factors_tenant_id_fkey FOREIGN KEY (connection_uri_domain, app_id, tenant_id) REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}tenant_first_factors_tenant_id_index ON {prefix}tenant_first_factors (connection_uri_domain, app_id, tenant_id);

-- tenant_required_secondary_factors
CREATE TABLE IF NOT EXISTS {prefix}tenant_required_secondary_factors (
    connection_uri_domain VARCHAR(256) DEFAULT '',
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    factor_id VARCHAR(128),
    CONSTRAINT {prefix}tenant_required_secondary_factors_pkey PRIMARY KEY (connection_uri_domain, app_id, tenant_id, factor_id),
    CONSTRAINT {prefix}tenant_required_secondary_factors_tenant_id_fkey FOREIGN KEY (connection_uri_domain, app_id, tenant_id) REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}tenant_default_required_factor_ids_tenant_id_index ON {prefix}tenant_required_secondary_factors (connection_uri_domain, app_id, tenant_id);

-- tenant_thirdparty_provider_clients
CREATE TABLE IF NOT EXISTS {prefix}tenant_thirdparty_provider_clients (
    connection_uri_domain VARCHAR(256) DEFAULT '',
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    third_party_id VARCHAR(28) NOT NULL,
    client_type VARCHAR(64) NOT NULL DEFAULT '',
    client_id VARCHAR(256) NOT NULL,
    client_secret TEXT,
    scope VARCHAR(128)[],
    force_pkce BOOLEAN,
    additional_config TEXT,
    CONSTRAINT {prefix}tenant_thirdparty_provider_clients_pkey PRIMARY KEY (connection_uri_domain, app_id, tenant_id, third_party_id, client_type),
    CONSTRAINT {prefix}tenant_thirdparty_provider_clients_third_party_id_fkey FOREIGN KEY(connection_uri_domain, app_id, tenant_id, third_party_id) REFERENCES {prefix}tenant_thirdparty_providers (connection_uri_domain, app_id, tenant_id, third_party_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}tenant_thirdparty_provider_clients_third_party_id_index ON {prefix}tenant_thirdparty_provider_clients (connection_uri_domain, app_id, tenant_id, third_party_id);

-- emailpassword_users
CREATE TABLE IF NOT EXISTS {prefix}emailpassword_users (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256) NOT NULL,
    password_hash VARCHAR(256) NOT NULL,
    time_joined BIGINT NOT NULL,
    CONSTRAINT {prefix}emailpassword_users_user_id_fkey FOREIGN KEY(app_id, user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT {prefix}emailpassword_users_pkey PRIMARY KEY (app_id, user_id)
);
CREATE INDEX {prefix}emailpassword_users_email_index ON {prefix}emailpassword_users (app_id, email);

-- emailpassword_user_to_tenant
CREATE TABLE IF NOT EXISTS {prefix}emailpassword_user_to_tenant (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256) NOT NULL,
    CONSTRAINT {prefix}emailpassword_user_to_tenant_email_key UNIQUE (app_id, tenant_id, email),
    CONSTRAINT {prefix}emailpassword_user_to_tenant_pkey PRIMARY KEY (app_id, tenant_id, user_id),
    CONSTRAINT {prefix}emailpassword_user_to_tenant_user_id_fkey FOREIGN KEY (app_id, tenant_id, user_id) REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}emailpassword_user_to_tenant_email_index ON {prefix}emailpassword_user_to_tenant (app_id, tenant_id, email);

-- emailpassword_pswd_reset_tokens
CREATE TABLE IF NOT EXISTS {prefix}emailpassword_pswd_reset_tokens (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    token VARCHAR(128) NOT NULL CONSTRAINT {prefix}emailpassword_pswd_reset_tokens_token_key UNIQUE,
    email VARCHAR(256),
    token_expiry BIGINT NOT NULL,
    CONSTRAINT {prefix}emailpassword_pswd_reset_tokens_pkey PRIMARY KEY (app_id, user_id, token),
    CONSTRAINT {prefix}emailpassword_pswd_reset_tokens_user_id_fkey FOREIGN KEY (app_id, user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX {prefix}emailpassword_password_reset_token_expiry_index ON {prefix}emailpassword_pswd_reset_tokens (token_expiry);
CREATE INDEX {prefix}emailpassword_pswd_reset_tokens_user_id_index ON {prefix}emailpassword_pswd_reset_tokens (app_id, user_id);

-- emailverification_verified_emails
CREATE TABLE IF NOT EXISTS {prefix}emailverification_verified_emails (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    email VARCHAR(256) NOT NULL,
    CONSTRAINT {prefix}emailverification_verified_emails_pkey PRIMARY KEY (app_id, user_id, email),
    CONSTRAINT {prefix}emailverification_verified_emails_app_id_fkey FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}emailverification_verified_emails_app_id_index ON {prefix}emailverification_verified_emails (app_id);
CREATE INDEX {prefix}emailverification_verified_emails_app_id_email_index ON {prefix}emailverification_verified_emails (app_id, email);

-- emailverification_tokens
CREATE TABLE IF NOT EXISTS {prefix}emailverification_tokens (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    email VARCHAR(256) NOT NULL,
    token VARCHAR(128) NOT NULL CONSTRAINT {prefix}emailverification_tokens_token_key UNIQUE,
    token_expiry BIGINT NOT NULL,
    CONSTRAINT {prefix}emailverification_tokens_pkey PRIMARY KEY (app_id, tenant_id, user_id, email, token),
    CONSTRAINT {prefix}emailverification_tokens_tenant_id_fkey FOREIGN KEY(app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}emailverification_tokens_index ON {prefix}emailverification_tokens (token_expiry);
CREATE INDEX {prefix}emailverification_tokens_tenant_id_index ON {prefix}emailverification_tokens (app_id, tenant_id);

-- thirdparty_users
CREATE TABLE IF NOT EXISTS {prefix}thirdparty_users (
    app_id VARCHAR(64) DEFAULT 'public',
    third_party_id VARCHAR(28) NOT NULL,
    third_party_user_id VARCHAR(256) NOT NULL,
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256) NOT NULL,
    time_joined BIGINT NOT NULL,
    CONSTRAINT {prefix}thirdparty_users_user_id_fkey FOREIGN KEY(app_id, user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT {prefix}thirdparty_users_pkey PRIMARY KEY (app_id, user_id)
);
CREATE INDEX IF NOT EXISTS {prefix}thirdparty_users_email_index ON {prefix}thirdparty_users (app_id, email);
CREATE INDEX IF NOT EXISTS {prefix}thirdparty_users_thirdparty_user_id_index ON {prefix}thirdparty_users (app_id, third_party_id, third_party_user_id);

-- thirdparty_user_to_tenant
CREATE TABLE IF NOT EXISTS {prefix}thirdparty_user_to_tenant (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    third_party_id VARCHAR(28) NOT NULL,
    third_party_user_id VARCHAR(256) NOT NULL,
    CONSTRAINT {prefix}thirdparty_user_to_tenant_third_party_user_id_key UNIQUE (app_id, tenant_id, third_party_id, third_party_user_id),
    CONSTRAINT {prefix}thirdparty_user_to_tenant_pkey PRIMARY KEY (app_id, tenant_id, user_id),
    CONSTRAINT {prefix}thirdparty_user_to_tenant_user_id_fkey FOREIGN KEY (app_id, tenant_id, user_id) REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}thirdparty_user_to_tenant_third_party_user_id_index ON {prefix}thirdparty_user_to_tenant (app_id, tenant_id, third_party_id, third_party_user_id);

-- jwt_signing_keys
CREATE TABLE IF NOT EXISTS {prefix}jwt_signing_keys (
    app_id VARCHAR(64) DEFAULT 'public',
    key_id VARCHAR(255) NOT NULL,
    key_string TEXT NOT NULL,
    algorithm VARCHAR(10) NOT NULL,
    created_at BIGINT,
    CONSTRAINT {prefix}jwt_signing_keys_pkey PRIMARY KEY(app_id, key_id),
    CONSTRAINT {prefix}jwt_signing_keys_app_id_fkey FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}jwt_signing_keys_app_id_index ON {prefix}jwt_signing_keys (app_id);

-- passwordless_users (this branch also creates four all_auth_recipe_users indexes)
CREATE TABLE IF NOT EXISTS {prefix}passwordless_users (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256),
    phone_number VARCHAR(256),
    time_joined BIGINT NOT NULL,
    CONSTRAINT {prefix}passwordless_users_user_id_fkey FOREIGN KEY(app_id, user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT {prefix}passwordless_users_pkey PRIMARY KEY (app_id, user_id)
);
CREATE INDEX IF NOT EXISTS {prefix}all_auth_recipe_user_id_index ON {prefix}all_auth_recipe_users (user_id);
CREATE INDEX IF NOT EXISTS {prefix}all_auth_recipe_user_id_app_id_index ON {prefix}all_auth_recipe_users (app_id, user_id);
CREATE INDEX IF NOT EXISTS {prefix}all_auth_recipe_user_app_id_index ON {prefix}all_auth_recipe_users (app_id);
CREATE INDEX IF NOT EXISTS {prefix}all_auth_recipe_tenant_id_index ON {prefix}all_auth_recipe_users (app_id, tenant_id);
CREATE INDEX {prefix}passwordless_users_email_index ON {prefix}passwordless_users (app_id, email);
CREATE INDEX {prefix}passwordless_users_phone_number_index ON {prefix}passwordless_users (app_id, phone_number);

-- passwordless_user_to_tenant
CREATE TABLE IF NOT EXISTS {prefix}passwordless_user_to_tenant (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256),
    phone_number VARCHAR(256),
    CONSTRAINT {prefix}passwordless_user_to_tenant_email_key UNIQUE (app_id, tenant_id, email),
    CONSTRAINT {prefix}passwordless_user_to_tenant_phone_number_key UNIQUE (app_id, tenant_id, phone_number),
    CONSTRAINT {prefix}passwordless_user_to_tenant_pkey PRIMARY KEY (app_id, tenant_id, user_id),
    CONSTRAINT {prefix}passwordless_user_to_tenant_user_id_fkey FOREIGN KEY (app_id, tenant_id, user_id) REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}passwordless_user_to_tenant_email_index ON {prefix}passwordless_user_to_tenant (app_id, tenant_id, email);
CREATE INDEX {prefix}passwordless_user_to_tenant_phone_number_index ON {prefix}passwordless_user_to_tenant (app_id, tenant_id, phone_number);

-- passwordless_devices
CREATE TABLE IF NOT EXISTS {prefix}passwordless_devices (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    device_id_hash CHAR(44) NOT NULL,
    email VARCHAR(256),
    phone_number VARCHAR(256),
    link_code_salt CHAR(44) NOT NULL,
    failed_attempts INT NOT NULL,
    CONSTRAINT {prefix}passwordless_devices_tenant_id_fkey FOREIGN KEY(app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE,
    CONSTRAINT {prefix}passwordless_devices_pkey PRIMARY KEY (app_id, tenant_id, device_id_hash)
);
CREATE INDEX {prefix}passwordless_devices_email_index ON {prefix}passwordless_devices (app_id, tenant_id, email);
CREATE INDEX {prefix}passwordless_devices_phone_number_index ON {prefix}passwordless_devices (app_id, tenant_id, phone_number);
CREATE INDEX {prefix}passwordless_devices_tenant_id_index ON {prefix}passwordless_devices (app_id, tenant_id);

-- passwordless_codes
CREATE TABLE IF NOT EXISTS {prefix}passwordless_codes (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    code_id CHAR(36) NOT NULL,
    device_id_hash CHAR(44) NOT NULL,
    link_code_hash CHAR(44) NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT {prefix}passwordless_codes_link_code_hash_key UNIQUE (app_id, tenant_id, link_code_hash),
    CONSTRAINT {prefix}passwordless_codes_pkey PRIMARY KEY (app_id, tenant_id, code_id),
    CONSTRAINT {prefix}passwordless_codes_device_id_hash_fkey FOREIGN KEY (app_id, tenant_id, device_id_hash) REFERENCES {prefix}passwordless_devices (app_id, tenant_id, device_id_hash) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX {prefix}passwordless_codes_created_at_index ON {prefix}passwordless_codes (app_id, tenant_id, created_at);

-- added unconditionally after the codes block
CREATE INDEX IF NOT EXISTS {prefix}passwordless_codes_device_id_hash_index ON {prefix}passwordless_codes (app_id, tenant_id, device_id_hash);
