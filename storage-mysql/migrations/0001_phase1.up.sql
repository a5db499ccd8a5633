-- Phase 1 schema for MySQL 8.0+ and MariaDB 10.6+ (see shared/spec/schema.md).
-- `{prefix}` is the table-name prefix with its joiner (`st_` or empty).
-- InnoDB, utf8mb4 with the binary collation on every table. Times are BIGINT UNSIGNED;
-- booleans are BOOLEAN (TINYINT(1)); arrays are JSON text. Unique keys are named after
-- their column (the error mapping reads error 1062's key name); every other index and
-- every foreign key carries the prefix so two prefixed table sets can share a database.
-- Each table is one CREATE TABLE with its keys inline: one atomic statement each, and
-- IF NOT EXISTS makes a re-run after a failed, repaired migration safe.

-- Tenancy

CREATE TABLE IF NOT EXISTS {prefix}apps (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  created_at_time BIGINT UNSIGNED,
  PRIMARY KEY (app_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}tenants (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  created_at_time BIGINT UNSIGNED,
  PRIMARY KEY (app_id, tenant_id),
  KEY {prefix}tenants_app_id_index (app_id),
  CONSTRAINT {prefix}tenants_app_id_fkey FOREIGN KEY (app_id)
    REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}key_value (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  name VARCHAR(128) NOT NULL,
  value TEXT,
  created_at_time BIGINT UNSIGNED,
  PRIMARY KEY (app_id, tenant_id, name),
  KEY {prefix}key_value_tenant_id_index (app_id, tenant_id),
  CONSTRAINT {prefix}key_value_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
    REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}tenant_configs (
  connection_uri_domain VARCHAR(256) NOT NULL DEFAULT '',
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  core_config TEXT,
  email_password_enabled BOOLEAN,
  passwordless_enabled BOOLEAN,
  third_party_enabled BOOLEAN,
  is_first_factors_null BOOLEAN,
  PRIMARY KEY (connection_uri_domain, app_id, tenant_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}tenant_thirdparty_providers (
  connection_uri_domain VARCHAR(256) NOT NULL DEFAULT '',
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
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
  KEY {prefix}tenant_thirdparty_providers_tenant_id_index (connection_uri_domain, app_id, tenant_id),
  CONSTRAINT {prefix}tenant_thirdparty_providers_tenant_id_fkey
    FOREIGN KEY (connection_uri_domain, app_id, tenant_id)
    REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}tenant_thirdparty_provider_clients (
  connection_uri_domain VARCHAR(256) NOT NULL DEFAULT '',
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  third_party_id VARCHAR(28) NOT NULL,
  client_type VARCHAR(64) NOT NULL DEFAULT '',
  client_id VARCHAR(256) NOT NULL,
  client_secret TEXT,
  scope TEXT,
  force_pkce BOOLEAN,
  additional_config TEXT,
  PRIMARY KEY (connection_uri_domain, app_id, tenant_id, third_party_id, client_type),
  CONSTRAINT {prefix}tenant_thirdparty_provider_clients_third_party_id_fkey
    FOREIGN KEY (connection_uri_domain, app_id, tenant_id, third_party_id)
    REFERENCES {prefix}tenant_thirdparty_providers (connection_uri_domain, app_id, tenant_id, third_party_id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}tenant_first_factors (
  connection_uri_domain VARCHAR(256) NOT NULL DEFAULT '',
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  factor_id VARCHAR(128) NOT NULL,
  PRIMARY KEY (connection_uri_domain, app_id, tenant_id, factor_id),
  CONSTRAINT {prefix}tenant_first_factors_tenant_id_fkey
    FOREIGN KEY (connection_uri_domain, app_id, tenant_id)
    REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}tenant_required_secondary_factors (
  connection_uri_domain VARCHAR(256) NOT NULL DEFAULT '',
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  factor_id VARCHAR(128) NOT NULL,
  PRIMARY KEY (connection_uri_domain, app_id, tenant_id, factor_id),
  CONSTRAINT {prefix}tenant_required_secondary_factors_tenant_id_fkey
    FOREIGN KEY (connection_uri_domain, app_id, tenant_id)
    REFERENCES {prefix}tenant_configs (connection_uri_domain, app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Users

CREATE TABLE IF NOT EXISTS {prefix}app_id_to_user_id (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  user_id CHAR(36) NOT NULL,
  recipe_id VARCHAR(128) NOT NULL,
  primary_or_recipe_user_id CHAR(36) NOT NULL,
  is_linked_or_is_a_primary_user BOOLEAN NOT NULL DEFAULT FALSE,
  time_joined BIGINT UNSIGNED NOT NULL DEFAULT 0,
  primary_or_recipe_user_time_joined BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, user_id),
  KEY {prefix}app_id_to_user_id_app_id_index (app_id),
  KEY {prefix}app_id_to_user_id_primary_user_id_index (primary_or_recipe_user_id, app_id),
  KEY {prefix}app_id_to_user_id_user_id_index (user_id, app_id),
  KEY {prefix}app_id_to_user_id_app_id_primary_user_id_index (app_id, primary_or_recipe_user_id),
  CONSTRAINT {prefix}app_id_to_user_id_app_id_fkey FOREIGN KEY (app_id)
    REFERENCES {prefix}apps (app_id) ON DELETE CASCADE,
  CONSTRAINT {prefix}app_id_to_user_id_primary_or_recipe_user_id_fkey
    FOREIGN KEY (app_id, primary_or_recipe_user_id)
    REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}all_auth_recipe_users (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  user_id CHAR(36) NOT NULL,
  primary_or_recipe_user_id CHAR(36) NOT NULL,
  is_linked_or_is_a_primary_user BOOLEAN NOT NULL DEFAULT FALSE,
  recipe_id VARCHAR(128) NOT NULL,
  time_joined BIGINT UNSIGNED NOT NULL,
  primary_or_recipe_user_time_joined BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (app_id, tenant_id, user_id),
  KEY {prefix}all_auth_recipe_users_pagination_index1
    (app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC),
  KEY {prefix}all_auth_recipe_users_pagination_index2
    (app_id, tenant_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC),
  KEY {prefix}all_auth_recipe_users_pagination_index3
    (recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined DESC, primary_or_recipe_user_id DESC),
  KEY {prefix}all_auth_recipe_users_pagination_index4
    (recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC),
  KEY {prefix}all_auth_recipe_users_primary_user_id_index (primary_or_recipe_user_id, app_id),
  KEY {prefix}all_auth_recipe_users_recipe_id_index (app_id, recipe_id, tenant_id),
  KEY {prefix}all_auth_recipe_users_app_id_primary_user_id_index (app_id, primary_or_recipe_user_id),
  KEY {prefix}all_auth_recipe_users_app_id_user_id_index (app_id, user_id),
  CONSTRAINT {prefix}all_auth_recipe_users_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
    REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE,
  CONSTRAINT {prefix}all_auth_recipe_users_primary_or_recipe_user_id_fkey
    FOREIGN KEY (app_id, primary_or_recipe_user_id)
    REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT {prefix}all_auth_recipe_users_user_id_fkey FOREIGN KEY (app_id, user_id)
    REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}emailpassword_users (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  user_id CHAR(36) NOT NULL,
  email VARCHAR(256) NOT NULL,
  password_hash VARCHAR(256) NOT NULL,
  time_joined BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (app_id, user_id),
  KEY {prefix}emailpassword_users_email_index (app_id, email),
  CONSTRAINT {prefix}emailpassword_users_user_id_fkey FOREIGN KEY (app_id, user_id)
    REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}emailpassword_user_to_tenant (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  user_id CHAR(36) NOT NULL,
  email VARCHAR(256) NOT NULL,
  PRIMARY KEY (app_id, tenant_id, user_id),
  UNIQUE KEY email (app_id, tenant_id, email),
  CONSTRAINT {prefix}emailpassword_user_to_tenant_user_id_fkey FOREIGN KEY (app_id, tenant_id, user_id)
    REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}thirdparty_users (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  third_party_id VARCHAR(28) NOT NULL,
  third_party_user_id VARCHAR(256) NOT NULL,
  user_id CHAR(36) NOT NULL,
  email VARCHAR(256) NOT NULL,
  time_joined BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (app_id, user_id),
  KEY {prefix}thirdparty_users_email_index (app_id, email),
  KEY {prefix}thirdparty_users_thirdparty_user_id_index (app_id, third_party_id, third_party_user_id),
  CONSTRAINT {prefix}thirdparty_users_user_id_fkey FOREIGN KEY (app_id, user_id)
    REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}thirdparty_user_to_tenant (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  user_id CHAR(36) NOT NULL,
  third_party_id VARCHAR(28) NOT NULL,
  third_party_user_id VARCHAR(256) NOT NULL,
  PRIMARY KEY (app_id, tenant_id, user_id),
  UNIQUE KEY third_party_user_id (app_id, tenant_id, third_party_id, third_party_user_id),
  CONSTRAINT {prefix}thirdparty_user_to_tenant_user_id_fkey FOREIGN KEY (app_id, tenant_id, user_id)
    REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}passwordless_users (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  user_id CHAR(36) NOT NULL,
  email VARCHAR(256),
  phone_number VARCHAR(256),
  time_joined BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (app_id, user_id),
  KEY {prefix}passwordless_users_email_index (app_id, email),
  KEY {prefix}passwordless_users_phone_number_index (app_id, phone_number),
  CONSTRAINT {prefix}passwordless_users_user_id_fkey FOREIGN KEY (app_id, user_id)
    REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}passwordless_user_to_tenant (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  user_id CHAR(36) NOT NULL,
  email VARCHAR(256),
  phone_number VARCHAR(256),
  PRIMARY KEY (app_id, tenant_id, user_id),
  UNIQUE KEY email (app_id, tenant_id, email),
  UNIQUE KEY phone_number (app_id, tenant_id, phone_number),
  CONSTRAINT {prefix}passwordless_user_to_tenant_user_id_fkey FOREIGN KEY (app_id, tenant_id, user_id)
    REFERENCES {prefix}all_auth_recipe_users (app_id, tenant_id, user_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Sessions

CREATE TABLE IF NOT EXISTS {prefix}session_info (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  session_handle VARCHAR(255) NOT NULL,
  user_id VARCHAR(128) NOT NULL,
  refresh_token_hash_2 VARCHAR(128) NOT NULL,
  session_data TEXT,
  expires_at BIGINT UNSIGNED NOT NULL,
  created_at_time BIGINT UNSIGNED NOT NULL,
  jwt_user_payload TEXT,
  use_static_key BOOLEAN NOT NULL,
  prev_refresh_token_hash_2 VARCHAR(128) NULL,
  refresh_token_rotated_at BIGINT UNSIGNED NULL,
  PRIMARY KEY (app_id, tenant_id, session_handle),
  KEY {prefix}session_expiry_index (expires_at),
  KEY {prefix}session_info_user_id_app_id_index (user_id, app_id),
  KEY {prefix}session_info_tenant_id_index (app_id, tenant_id),
  CONSTRAINT {prefix}session_info_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
    REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}session_access_token_signing_keys (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  created_at_time BIGINT UNSIGNED NOT NULL,
  value TEXT,
  PRIMARY KEY (app_id, created_at_time),
  KEY {prefix}access_token_signing_keys_app_id_index (app_id),
  CONSTRAINT {prefix}session_access_token_signing_keys_app_id_fkey FOREIGN KEY (app_id)
    REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Codes

CREATE TABLE IF NOT EXISTS {prefix}passwordless_devices (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  device_id_hash CHAR(44) NOT NULL,
  email VARCHAR(256),
  phone_number VARCHAR(256),
  link_code_salt CHAR(44) NOT NULL,
  failed_attempts INT UNSIGNED NOT NULL,
  PRIMARY KEY (app_id, tenant_id, device_id_hash),
  KEY {prefix}passwordless_devices_email_index (app_id, tenant_id, email),
  KEY {prefix}passwordless_devices_phone_number_index (app_id, tenant_id, phone_number),
  KEY {prefix}passwordless_devices_tenant_id_index (app_id, tenant_id),
  CONSTRAINT {prefix}passwordless_devices_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
    REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}passwordless_codes (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  code_id CHAR(36) NOT NULL,
  device_id_hash CHAR(44) NOT NULL,
  link_code_hash CHAR(44) NOT NULL,
  created_at BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (app_id, tenant_id, code_id),
  UNIQUE KEY link_code_hash (app_id, tenant_id, link_code_hash),
  KEY {prefix}passwordless_codes_created_at_index (app_id, tenant_id, created_at),
  KEY {prefix}passwordless_codes_device_id_hash_index (app_id, tenant_id, device_id_hash),
  CONSTRAINT {prefix}passwordless_codes_device_id_hash_fkey FOREIGN KEY (app_id, tenant_id, device_id_hash)
    REFERENCES {prefix}passwordless_devices (app_id, tenant_id, device_id_hash)
    ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}emailpassword_pswd_reset_tokens (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  user_id CHAR(36) NOT NULL,
  token VARCHAR(128) NOT NULL,
  email VARCHAR(256) NULL,
  token_expiry BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (app_id, user_id, token),
  UNIQUE KEY token (token),
  KEY {prefix}emailpassword_password_reset_token_expiry_index (token_expiry),
  KEY {prefix}emailpassword_pswd_reset_tokens_user_id_index (app_id, user_id),
  CONSTRAINT {prefix}emailpassword_pswd_reset_tokens_user_id_fkey FOREIGN KEY (app_id, user_id)
    REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}emailverification_tokens (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  tenant_id VARCHAR(64) NOT NULL DEFAULT 'public',
  user_id VARCHAR(128) NOT NULL,
  email VARCHAR(256) NOT NULL,
  token VARCHAR(128) NOT NULL,
  token_expiry BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (app_id, tenant_id, user_id, email, token),
  UNIQUE KEY token (token),
  KEY {prefix}emailverification_tokens_index (token_expiry),
  KEY {prefix}emailverification_tokens_tenant_id_index (app_id, tenant_id),
  CONSTRAINT {prefix}emailverification_tokens_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
    REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS {prefix}emailverification_verified_emails (
  app_id VARCHAR(64) NOT NULL DEFAULT 'public',
  user_id VARCHAR(128) NOT NULL,
  email VARCHAR(256) NOT NULL,
  PRIMARY KEY (app_id, user_id, email),
  KEY {prefix}emailverification_verified_emails_app_id_index (app_id),
  KEY {prefix}emailverification_verified_emails_email_index (app_id, email),
  CONSTRAINT {prefix}emailverification_verified_emails_app_id_fkey FOREIGN KEY (app_id)
    REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
