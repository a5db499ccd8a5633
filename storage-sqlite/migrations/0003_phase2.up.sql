-- Migration 3: the phase-2 tables (user-id mapping, user metadata, roles, TOTP,
-- dashboard, last-active) with the names of SuperTokens' plugins (tables,
-- constraints, indexes) and SQLite's affinities, under the conventions of migration 1:
-- primary-key columns NOT NULL, UNIQUE constraints before the PRIMARY KEY, booleans as
-- INTEGER 0/1.

CREATE TABLE {prefix}user_last_active (
    app_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    last_active_time INTEGER,
    CONSTRAINT {prefix}user_last_active_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}user_last_active_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}user_last_active_app_id_index ON {prefix}user_last_active (app_id);

CREATE INDEX {prefix}user_last_active_last_active_time_index
    ON {prefix}user_last_active (last_active_time DESC, app_id DESC);

CREATE TABLE {prefix}user_metadata (
    app_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    user_metadata TEXT NOT NULL,
    CONSTRAINT {prefix}user_metadata_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}user_metadata_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}user_metadata_app_id_index ON {prefix}user_metadata (app_id);

CREATE TABLE {prefix}roles (
    app_id TEXT NOT NULL DEFAULT 'public',
    role TEXT NOT NULL,
    CONSTRAINT {prefix}roles_pkey PRIMARY KEY (app_id, role),
    CONSTRAINT {prefix}roles_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}roles_app_id_index ON {prefix}roles (app_id);

CREATE TABLE {prefix}role_permissions (
    app_id TEXT NOT NULL DEFAULT 'public',
    role TEXT NOT NULL,
    permission TEXT NOT NULL,
    CONSTRAINT {prefix}role_permissions_pkey PRIMARY KEY (app_id, role, permission),
    CONSTRAINT {prefix}role_permissions_role_fkey FOREIGN KEY (app_id, role)
        REFERENCES {prefix}roles (app_id, role) ON DELETE CASCADE
);

CREATE INDEX {prefix}role_permissions_permission_index
    ON {prefix}role_permissions (app_id, permission);

CREATE INDEX {prefix}role_permissions_role_index ON {prefix}role_permissions (app_id, role);

CREATE TABLE {prefix}user_roles (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    CONSTRAINT {prefix}user_roles_pkey PRIMARY KEY (app_id, tenant_id, user_id, role),
    CONSTRAINT {prefix}user_roles_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
        REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}user_roles_role_index ON {prefix}user_roles (app_id, tenant_id, role);

CREATE INDEX {prefix}user_roles_tenant_id_index ON {prefix}user_roles (app_id, tenant_id);

CREATE INDEX {prefix}user_roles_app_id_role_index ON {prefix}user_roles (app_id, role);

CREATE INDEX {prefix}user_roles_app_id_user_id_index ON {prefix}user_roles (app_id, user_id);

CREATE TABLE {prefix}userid_mapping (
    app_id TEXT NOT NULL DEFAULT 'public',
    supertokens_user_id TEXT NOT NULL,
    external_user_id TEXT NOT NULL,
    external_user_id_info TEXT,
    CONSTRAINT {prefix}userid_mapping_supertokens_user_id_key
        UNIQUE (app_id, supertokens_user_id),
    CONSTRAINT {prefix}userid_mapping_external_user_id_key UNIQUE (app_id, external_user_id),
    CONSTRAINT {prefix}userid_mapping_pkey
        PRIMARY KEY (app_id, supertokens_user_id, external_user_id),
    CONSTRAINT {prefix}userid_mapping_supertokens_user_id_fkey
        FOREIGN KEY (app_id, supertokens_user_id)
        REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX {prefix}userid_mapping_supertokens_user_id_index
    ON {prefix}userid_mapping (app_id, supertokens_user_id);

CREATE TABLE {prefix}dashboard_users (
    app_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    time_joined INTEGER NOT NULL,
    CONSTRAINT {prefix}dashboard_users_email_key UNIQUE (app_id, email),
    CONSTRAINT {prefix}dashboard_users_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}dashboard_users_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}dashboard_users_app_id_index ON {prefix}dashboard_users (app_id);

CREATE TABLE {prefix}dashboard_user_sessions (
    app_id TEXT NOT NULL DEFAULT 'public',
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    time_created INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    CONSTRAINT {prefix}dashboard_user_sessions_pkey PRIMARY KEY (app_id, session_id),
    CONSTRAINT {prefix}dashboard_user_sessions_user_id_fkey FOREIGN KEY (app_id, user_id)
        REFERENCES {prefix}dashboard_users (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX {prefix}dashboard_user_sessions_expiry_index
    ON {prefix}dashboard_user_sessions (expiry);

CREATE INDEX {prefix}dashboard_user_sessions_user_id_index
    ON {prefix}dashboard_user_sessions (app_id, user_id);

CREATE TABLE {prefix}totp_users (
    app_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    CONSTRAINT {prefix}totp_users_pkey PRIMARY KEY (app_id, user_id),
    CONSTRAINT {prefix}totp_users_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}totp_users_app_id_index ON {prefix}totp_users (app_id);

CREATE TABLE {prefix}totp_user_devices (
    app_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    device_name TEXT NOT NULL,
    secret_key TEXT NOT NULL,
    period INTEGER NOT NULL,
    skew INTEGER NOT NULL,
    verified INTEGER NOT NULL,
    created_at INTEGER,
    CONSTRAINT {prefix}totp_user_devices_pkey PRIMARY KEY (app_id, user_id, device_name),
    CONSTRAINT {prefix}totp_user_devices_user_id_fkey FOREIGN KEY (app_id, user_id)
        REFERENCES {prefix}totp_users (app_id, user_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}totp_user_devices_user_id_index
    ON {prefix}totp_user_devices (app_id, user_id);

CREATE TABLE {prefix}totp_used_codes (
    app_id TEXT NOT NULL DEFAULT 'public',
    tenant_id TEXT NOT NULL DEFAULT 'public',
    user_id TEXT NOT NULL,
    code TEXT NOT NULL,
    is_valid INTEGER NOT NULL,
    expiry_time_ms INTEGER NOT NULL,
    created_time_ms INTEGER NOT NULL,
    CONSTRAINT {prefix}totp_used_codes_pkey
        PRIMARY KEY (app_id, tenant_id, user_id, created_time_ms),
    CONSTRAINT {prefix}totp_used_codes_user_id_fkey FOREIGN KEY (app_id, user_id)
        REFERENCES {prefix}totp_users (app_id, user_id) ON DELETE CASCADE,
    CONSTRAINT {prefix}totp_used_codes_tenant_id_fkey FOREIGN KEY (app_id, tenant_id)
        REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE
);

CREATE INDEX {prefix}totp_used_codes_expiry_time_ms_index
    ON {prefix}totp_used_codes (app_id, tenant_id, expiry_time_ms);

CREATE INDEX {prefix}totp_used_codes_user_id_index ON {prefix}totp_used_codes (app_id, user_id);

CREATE INDEX {prefix}totp_used_codes_tenant_id_index ON {prefix}totp_used_codes (app_id, tenant_id);
