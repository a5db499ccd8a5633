-- Migration 3: the phase-2 tables (account linking's user-id mapping, user metadata,
-- roles, TOTP, dashboard, last-active), exactly as SuperTokens' PostgreSQL plugin
-- (9.5 line) creates them: the same tables, columns, types, defaults, constraint
-- names, index names and index columns, in the plugin's order
-- (tests/fixtures/supertokens-ddl/postgresql-all.sql is the reference). `baseline`
-- records it on a database whose phase-2 tables SuperTokens created; the project's
-- own additions to these tables go in later project migrations.
--
-- `{prefix}` is the table-name prefix with its joiner (`st_` or empty), applied to
-- tables, constraints and indexes. Every statement ends with `;` at the end of a line.

-- user_last_active
CREATE TABLE IF NOT EXISTS {prefix}user_last_active (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128),
    last_active_time BIGINT,
    PRIMARY KEY(app_id, user_id),
    CONSTRAINT {prefix}user_last_active_app_id_fkey FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}user_last_active_app_id_index ON {prefix}user_last_active (app_id);
CREATE INDEX IF NOT EXISTS {prefix}user_last_active_last_active_time_index ON {prefix}user_last_active (last_active_time DESC, app_id DESC);

-- user_metadata
CREATE TABLE IF NOT EXISTS {prefix}user_metadata (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    user_metadata TEXT NOT NULL,
    CONSTRAINT {prefix}user_metadata_pkey PRIMARY KEY(app_id, user_id),
    CONSTRAINT {prefix}user_metadata_app_id_fkey FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}user_metadata_app_id_index ON {prefix}user_metadata (app_id);

-- roles
CREATE TABLE IF NOT EXISTS {prefix}roles (
    app_id VARCHAR(64) DEFAULT 'public',
    role VARCHAR(255) NOT NULL,
    CONSTRAINT {prefix}roles_pkey PRIMARY KEY(app_id, role),
    CONSTRAINT {prefix}roles_app_id_fkey FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}roles_app_id_index ON {prefix}roles (app_id);

-- role_permissions
CREATE TABLE IF NOT EXISTS {prefix}role_permissions (
    app_id VARCHAR(64) DEFAULT 'public',
    role VARCHAR(255) NOT NULL,
    permission VARCHAR(255) NOT NULL,
    CONSTRAINT {prefix}role_permissions_pkey PRIMARY KEY(app_id, role, permission),
    CONSTRAINT {prefix}role_permissions_role_fkey FOREIGN KEY(app_id, role) REFERENCES {prefix}roles (app_id, role) ON DELETE CASCADE
);
CREATE INDEX {prefix}role_permissions_permission_index ON {prefix}role_permissions (app_id, permission);
CREATE INDEX {prefix}role_permissions_role_index ON {prefix}role_permissions (app_id, role);

-- user_roles
CREATE TABLE IF NOT EXISTS {prefix}user_roles (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    role VARCHAR(255) NOT NULL,
    CONSTRAINT {prefix}user_roles_pkey PRIMARY KEY(app_id, tenant_id, user_id, role),
    CONSTRAINT {prefix}user_roles_tenant_id_fkey FOREIGN KEY (app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}user_roles_role_index ON {prefix}user_roles (app_id, tenant_id, role);
CREATE INDEX IF NOT EXISTS {prefix}user_roles_tenant_id_index ON {prefix}user_roles (app_id, tenant_id);
CREATE INDEX IF NOT EXISTS {prefix}user_roles_app_id_role_index ON {prefix}user_roles (app_id, role);
CREATE INDEX IF NOT EXISTS {prefix}user_roles_app_id_user_id_index ON {prefix}user_roles (app_id, user_id);

-- userid_mapping
CREATE TABLE IF NOT EXISTS {prefix}userid_mapping (
    app_id VARCHAR(64) DEFAULT 'public',
    supertokens_user_id CHAR(36) NOT NULL,
    external_user_id VARCHAR(128) NOT NULL,
    CONSTRAINT {prefix}userid_mapping_supertokens_user_id_key UNIQUE (app_id, supertokens_user_id),
    CONSTRAINT {prefix}userid_mapping_external_user_id_key UNIQUE (app_id, external_user_id),
    external_user_id_info TEXT,
    CONSTRAINT {prefix}userid_mapping_pkey PRIMARY KEY(app_id, supertokens_user_id, external_user_id),
    CONSTRAINT {prefix}userid_mapping_supertokens_user_id_fkey FOREIGN KEY (app_id, supertokens_user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX {prefix}userid_mapping_supertokens_user_id_index ON {prefix}userid_mapping (app_id, supertokens_user_id);

-- dashboard_users
CREATE TABLE IF NOT EXISTS {prefix}dashboard_users (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256) NOT NULL,
    password_hash VARCHAR(256) NOT NULL,
    time_joined BIGINT NOT NULL,
    CONSTRAINT {prefix}dashboard_users_email_key UNIQUE (app_id, email),
    CONSTRAINT {prefix}dashboard_users_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}dashboard_users_app_id_fkey FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}dashboard_users_app_id_index ON {prefix}dashboard_users (app_id);

-- dashboard_user_sessions
CREATE TABLE IF NOT EXISTS {prefix}dashboard_user_sessions (
    app_id VARCHAR(64) DEFAULT 'public',
    session_id CHAR(36) NOT NULL,
    user_id CHAR(36) NOT NULL,
    time_created BIGINT NOT NULL,
    expiry BIGINT NOT NULL,
    CONSTRAINT {prefix}dashboard_user_sessions_pkey PRIMARY KEY(app_id, session_id),
    CONSTRAINT {prefix}dashboard_user_sessions_user_id_fkey FOREIGN KEY (app_id, user_id) REFERENCES {prefix}dashboard_users (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX {prefix}dashboard_user_sessions_expiry_index ON {prefix}dashboard_user_sessions (expiry);
CREATE INDEX {prefix}dashboard_user_sessions_user_id_index ON {prefix}dashboard_user_sessions (app_id, user_id);

-- totp_users
CREATE TABLE IF NOT EXISTS {prefix}totp_users (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    CONSTRAINT {prefix}totp_users_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}totp_users_app_id_fkey FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}totp_users_app_id_index ON {prefix}totp_users (app_id);

-- totp_user_devices
CREATE TABLE IF NOT EXISTS {prefix}totp_user_devices (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    device_name VARCHAR(256) NOT NULL,
    secret_key VARCHAR(256) NOT NULL,
    period INTEGER NOT NULL,
    skew INTEGER NOT NULL,
    verified BOOLEAN NOT NULL,
    created_at BIGINT,
    CONSTRAINT {prefix}totp_user_devices_pkey PRIMARY KEY (app_id, user_id, device_name),
    CONSTRAINT {prefix}totp_user_devices_user_id_fkey FOREIGN KEY (app_id, user_id) REFERENCES {prefix}totp_users (app_id, user_id) ON DELETE CASCADE
);
CREATE INDEX {prefix}totp_user_devices_user_id_index ON {prefix}totp_user_devices (app_id, user_id);

-- totp_used_codes
CREATE TABLE IF NOT EXISTS {prefix}totp_used_codes (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    code VARCHAR(8) NOT NULL,
    is_valid BOOLEAN NOT NULL,
    expiry_time_ms BIGINT NOT NULL,
    created_time_ms BIGINT NOT NULL,
    CONSTRAINT {prefix}totp_used_codes_pkey PRIMARY KEY (app_id, tenant_id, user_id, created_time_ms),
    CONSTRAINT {prefix}totp_used_codes_user_id_fkey FOREIGN KEY (app_id, user_id) REFERENCES {prefix}totp_users (app_id, user_id) ON DELETE CASCADE,
    CONSTRAINT {prefix}totp_used_codes_tenant_id_fkey FOREIGN KEY (app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS {prefix}totp_used_codes_expiry_time_ms_index ON {prefix}totp_used_codes (app_id, tenant_id, expiry_time_ms);
CREATE INDEX IF NOT EXISTS {prefix}totp_used_codes_user_id_index ON {prefix}totp_used_codes (app_id, user_id);
CREATE INDEX IF NOT EXISTS {prefix}totp_used_codes_tenant_id_index ON {prefix}totp_used_codes (app_id, tenant_id);
