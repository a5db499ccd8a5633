-- Migration 1: the phase-1 tables and `jwt_signing_keys`, exactly as SuperTokens'
-- MySQL plugin (8.1 line) creates them on an empty database: the same tables,
-- columns, types, unsigned, key and index names and index columns, in the plugin's
-- order (tests/fixtures/supertokens-ddl/mysql-phase1.sql is the reference; the schema
-- test compares the two catalogs). Like the plugin's, the foreign keys are unnamed,
-- so the server names them (`<table>_ibfk_<n>`) and the indexes it creates for them.
-- The one addition is the table options: InnoDB, utf8mb4 and the binary collation
-- `utf8mb4_bin`, so text compares byte for byte as on PostgreSQL (the plugin leaves
-- them to the database's defaults; migration 2 converts adopted tables).
-- Everything else the project adds is migration 2, so that a database created by
-- SuperTokens is adopted as version 1 (`migrate baseline`).
--
-- `{prefix}` is the table-name prefix with its joiner (`st_` or empty), applied to
-- table names only: like the plugin's, index and key names stay bare (MySQL scopes
-- them to their table), and the server names the foreign keys after the prefixed
-- table. The same SQL runs on MySQL 8.0+ and
-- MariaDB 10.6+. The plugin's `CREATE INDEX` statements are written as `KEY` clauses of
-- their table (the same indexes): MySQL commits each DDL statement on its own, and one
-- `CREATE TABLE IF NOT EXISTS` per table keeps a re-run after a failed, repaired
-- migration safe. Every statement ends with `;` at the end of a line.

-- apps
CREATE TABLE IF NOT EXISTS {prefix}apps (
    app_id VARCHAR(64) NOT NULL DEFAULT 'public',
    created_at_time BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY(app_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- tenants
CREATE TABLE IF NOT EXISTS {prefix}tenants (
    app_id VARCHAR(64) NOT NULL DEFAULT 'public',
    tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
    created_at_time BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY(app_id, tenant_id),
    FOREIGN KEY (app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- key_value
CREATE TABLE IF NOT EXISTS {prefix}key_value (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    name VARCHAR(128),
    value TEXT,
    created_at_time BIGINT UNSIGNED,
    PRIMARY KEY(app_id, tenant_id, name),
    FOREIGN KEY(app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- app_id_to_user_id
CREATE TABLE IF NOT EXISTS {prefix}app_id_to_user_id (
    app_id VARCHAR(64) NOT NULL DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    primary_or_recipe_user_id CHAR(36) NOT NULL,
    is_linked_or_is_a_primary_user BOOLEAN NOT NULL DEFAULT FALSE,
    recipe_id VARCHAR(128) NOT NULL,
    PRIMARY KEY (app_id, user_id),
    FOREIGN KEY (app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE,
    FOREIGN KEY(app_id, primary_or_recipe_user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE,
    KEY app_id_to_user_id_primary_user_id_index (primary_or_recipe_user_id),
    KEY app_id_to_user_id_user_id_index (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- all_auth_recipe_users
CREATE TABLE IF NOT EXISTS {prefix}all_auth_recipe_users (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    primary_or_recipe_user_id CHAR(36) NOT NULL,
    is_linked_or_is_a_primary_user BOOLEAN NOT NULL DEFAULT FALSE,
    recipe_id VARCHAR(128) NOT NULL,
    time_joined BIGINT UNSIGNED NOT NULL,
    primary_or_recipe_user_time_joined BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app_id, tenant_id, user_id),
    FOREIGN KEY(app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE,
    FOREIGN KEY(app_id, user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE,
    FOREIGN KEY(app_id, primary_or_recipe_user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE,
    KEY all_auth_recipe_users_pagination_index1 (app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC),
    KEY all_auth_recipe_users_pagination_index3 (recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC),
    KEY all_auth_recipe_users_primary_user_id_index (primary_or_recipe_user_id, app_id),
    KEY all_auth_recipe_users_recipe_id_index (app_id, recipe_id, tenant_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- session_access_token_signing_keys
CREATE TABLE IF NOT EXISTS {prefix}session_access_token_signing_keys (
    app_id VARCHAR(64) DEFAULT 'public',
    created_at_time BIGINT UNSIGNED NOT NULL,
    value TEXT,
    PRIMARY KEY(app_id, created_at_time),
    FOREIGN KEY (app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- session_info
CREATE TABLE IF NOT EXISTS {prefix}session_info (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    session_handle VARCHAR(255) NOT NULL,
    user_id VARCHAR(128) NOT NULL,
    refresh_token_hash_2 VARCHAR(128) NOT NULL,
    session_data TEXT,
    expires_at BIGINT UNSIGNED NOT NULL,
    created_at_time BIGINT UNSIGNED NOT NULL,
    jwt_user_payload TEXT,
    use_static_key BOOLEAN NOT NULL,
    PRIMARY KEY(app_id, tenant_id, session_handle),
    FOREIGN KEY (app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE,
    KEY session_expiry_index (expires_at),
    KEY session_info_user_id_app_id_index (user_id, app_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

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
    PRIMARY KEY (connection_uri_domain, app_id, tenant_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- tenant_first_factors
CREATE TABLE IF NOT EXISTS {prefix}tenant_first_factors (
    connection_uri_domain VARCHAR(256) DEFAULT '',
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    factor_id VARCHAR(128),
    PRIMARY KEY (connection_uri_domain, app_id, tenant_id, factor_id),
    FOREIGN KEY (connection_uri_domain, app_id, tenant_id) REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- tenant_required_secondary_factors
CREATE TABLE IF NOT EXISTS {prefix}tenant_required_secondary_factors (
    connection_uri_domain VARCHAR(256) DEFAULT '',
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    factor_id VARCHAR(128),
    PRIMARY KEY (connection_uri_domain, app_id, tenant_id, factor_id),
    FOREIGN KEY (connection_uri_domain, app_id, tenant_id) REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

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
    PRIMARY KEY (connection_uri_domain, app_id, tenant_id, third_party_id),
    FOREIGN KEY(connection_uri_domain, app_id, tenant_id) REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- tenant_thirdparty_provider_clients
CREATE TABLE IF NOT EXISTS {prefix}tenant_thirdparty_provider_clients (
    connection_uri_domain VARCHAR(256) DEFAULT '',
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    third_party_id VARCHAR(28) NOT NULL,
    client_type VARCHAR(64) NOT NULL DEFAULT '',
    client_id VARCHAR(256) NOT NULL,
    client_secret TEXT,
    scope TEXT,
    force_pkce BOOLEAN,
    additional_config TEXT,
    PRIMARY KEY (connection_uri_domain, app_id, tenant_id, third_party_id, client_type),
    FOREIGN KEY(connection_uri_domain, app_id, tenant_id, third_party_id) REFERENCES {prefix}tenant_thirdparty_providers (connection_uri_domain, app_id, tenant_id, third_party_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- emailpassword_users
CREATE TABLE IF NOT EXISTS {prefix}emailpassword_users (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256) NOT NULL,
    password_hash VARCHAR(256) NOT NULL,
    time_joined BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app_id, user_id),
    FOREIGN KEY(app_id, user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE,
    KEY emailpassword_users_email_index (app_id, email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- emailpassword_user_to_tenant
CREATE TABLE IF NOT EXISTS {prefix}emailpassword_user_to_tenant (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256) NOT NULL,
    CONSTRAINT email UNIQUE (app_id, tenant_id, email),
    PRIMARY KEY (app_id, tenant_id, user_id),
    FOREIGN KEY (app_id, tenant_id, user_id) REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE,
    KEY emailpassword_user_to_tenant_email_index (app_id, tenant_id, email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- emailpassword_pswd_reset_tokens
CREATE TABLE IF NOT EXISTS {prefix}emailpassword_pswd_reset_tokens (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    token VARCHAR(128) NOT NULL UNIQUE,
    email VARCHAR(256),
    token_expiry BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app_id, user_id, token),
    FOREIGN KEY (app_id, user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    KEY emailpassword_password_reset_token_expiry_index (token_expiry)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- emailverification_verified_emails
CREATE TABLE IF NOT EXISTS {prefix}emailverification_verified_emails (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    email VARCHAR(256) NOT NULL,
    PRIMARY KEY (app_id, user_id, email),
    FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE,
    KEY emailverification_verified_emails_verified_appid_emails_index (app_id, email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- emailverification_tokens
CREATE TABLE IF NOT EXISTS {prefix}emailverification_tokens (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    email VARCHAR(256) NOT NULL,
    token VARCHAR(128) NOT NULL UNIQUE,
    token_expiry BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app_id, tenant_id, user_id, email, token),
    FOREIGN KEY(app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE,
    KEY emailverification_tokens_index (token_expiry)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- thirdparty_users
CREATE TABLE IF NOT EXISTS {prefix}thirdparty_users (
    app_id VARCHAR(64) DEFAULT 'public',
    third_party_id VARCHAR(28) NOT NULL,
    third_party_user_id VARCHAR(256) NOT NULL,
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256) NOT NULL,
    time_joined BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app_id, user_id),
    FOREIGN KEY(app_id, user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE,
    KEY thirdparty_users_email_index (app_id, email),
    KEY thirdparty_users_thirdparty_user_id_index (app_id, third_party_id, third_party_user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- thirdparty_user_to_tenant
CREATE TABLE IF NOT EXISTS {prefix}thirdparty_user_to_tenant (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    third_party_id VARCHAR(28) NOT NULL,
    third_party_user_id VARCHAR(256) NOT NULL,
    CONSTRAINT third_party_user_id UNIQUE (app_id, tenant_id, third_party_id, third_party_user_id),
    PRIMARY KEY (app_id, tenant_id, user_id),
    FOREIGN KEY (app_id, tenant_id, user_id) REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE,
    KEY thirdparty_user_to_tenant_third_party_user_id_index (app_id, tenant_id, third_party_id, third_party_user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- jwt_signing_keys
CREATE TABLE IF NOT EXISTS {prefix}jwt_signing_keys (
    app_id VARCHAR(64) DEFAULT 'public',
    key_id VARCHAR(255) NOT NULL,
    key_string TEXT NOT NULL,
    algorithm VARCHAR(10) NOT NULL,
    created_at BIGINT UNSIGNED,
    PRIMARY KEY(app_id, key_id),
    FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- passwordless_users
CREATE TABLE IF NOT EXISTS {prefix}passwordless_users (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256),
    phone_number VARCHAR(256),
    time_joined BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app_id, user_id),
    FOREIGN KEY(app_id, user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE,
    KEY passwordless_users_email_index (app_id, email),
    KEY passwordless_users_phone_number_index (app_id, phone_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- passwordless_user_to_tenant
CREATE TABLE IF NOT EXISTS {prefix}passwordless_user_to_tenant (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256),
    phone_number VARCHAR(256),
    CONSTRAINT email UNIQUE (app_id, tenant_id, email),
    CONSTRAINT phone_number UNIQUE (app_id, tenant_id, phone_number),
    PRIMARY KEY (app_id, tenant_id, user_id),
    FOREIGN KEY (app_id, tenant_id, user_id) REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE,
    KEY passwordless_user_to_tenant_email_index (app_id, tenant_id, email),
    KEY passwordless_user_to_tenant_phone_number_index (app_id, tenant_id, phone_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- passwordless_devices
CREATE TABLE IF NOT EXISTS {prefix}passwordless_devices (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    device_id_hash CHAR(44) NOT NULL,
    email VARCHAR(256),
    phone_number VARCHAR(256),
    link_code_salt CHAR(44) NOT NULL,
    failed_attempts INT UNSIGNED NOT NULL,
    PRIMARY KEY (app_id, tenant_id, device_id_hash),
    FOREIGN KEY(app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE,
    KEY passwordless_devices_email_index (app_id, tenant_id, email),
    KEY passwordless_devices_phone_number_index (app_id, tenant_id, phone_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- passwordless_codes
CREATE TABLE IF NOT EXISTS {prefix}passwordless_codes (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    code_id CHAR(36) NOT NULL,
    device_id_hash CHAR(44) NOT NULL,
    link_code_hash CHAR(44) NOT NULL,
    created_at BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app_id, tenant_id, code_id),
    CONSTRAINT link_code_hash UNIQUE (app_id, tenant_id, link_code_hash),
    FOREIGN KEY (app_id, tenant_id, device_id_hash) REFERENCES {prefix}passwordless_devices (app_id, tenant_id, device_id_hash) ON DELETE CASCADE ON UPDATE CASCADE,
    KEY passwordless_codes_created_at_index (app_id, tenant_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
