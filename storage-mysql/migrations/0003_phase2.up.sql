-- Migration 3: the phase-2 tables (account linking's user-id mapping, user metadata,
-- roles, TOTP, dashboard, last-active), exactly as SuperTokens' MySQL plugin (8.1
-- line) creates them: the same tables, columns, types, unsigned, key and index names
-- and index columns, in the plugin's order
-- (tests/fixtures/supertokens-ddl/mysql-all.sql is the reference). As in migration 1,
-- the foreign keys are unnamed (the server names them `<table>_ibfk_<n>`), the
-- plugin's `CREATE INDEX` statements are `KEY` clauses of their table, and the table
-- options are InnoDB, utf8mb4 and `utf8mb4_bin`. `baseline` records it on a database
-- whose phase-2 tables SuperTokens created.
--
-- `{prefix}` is the table-name prefix with its joiner (`st_` or empty), applied to
-- table names only (index and key names stay bare, as in the plugin). The same SQL
-- runs on MySQL 8.0+ and MariaDB 10.6+. Every statement ends with `;` at the end of
-- a line.

-- user_last_active
CREATE TABLE IF NOT EXISTS {prefix}user_last_active (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128),
    last_active_time BIGINT UNSIGNED,
    PRIMARY KEY(app_id, user_id),
    FOREIGN KEY (app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE,
    KEY user_last_active_last_active_time_index (last_active_time DESC, app_id DESC)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- user_metadata
CREATE TABLE IF NOT EXISTS {prefix}user_metadata (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    user_metadata TEXT NOT NULL,
    PRIMARY KEY(app_id, user_id),
    FOREIGN KEY (app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- roles
CREATE TABLE IF NOT EXISTS {prefix}roles (
    app_id VARCHAR(64) DEFAULT 'public',
    role VARCHAR(255) NOT NULL,
    PRIMARY KEY(app_id, role),
    FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- role_permissions
CREATE TABLE IF NOT EXISTS {prefix}role_permissions (
    app_id VARCHAR(64) DEFAULT 'public',
    role VARCHAR(255) NOT NULL,
    permission VARCHAR(255) NOT NULL,
    PRIMARY KEY (app_id, role, permission),
    FOREIGN KEY (app_id, role) REFERENCES {prefix}roles (app_id, role) ON DELETE CASCADE,
    KEY role_permissions_permission_index (app_id, permission)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- user_roles
CREATE TABLE IF NOT EXISTS {prefix}user_roles (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    role VARCHAR(255) NOT NULL,
    PRIMARY KEY (app_id, tenant_id, user_id, role),
    FOREIGN KEY (app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE,
    KEY user_roles_role_index (app_id, tenant_id, role),
    KEY user_roles_app_id_user_id_index (app_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- userid_mapping
CREATE TABLE IF NOT EXISTS {prefix}userid_mapping (
    app_id VARCHAR(64) DEFAULT 'public',
    supertokens_user_id CHAR(36) NOT NULL,
    external_user_id VARCHAR(128) NOT NULL,
    external_user_id_info TEXT,
    CONSTRAINT supertokens_user_id UNIQUE (app_id, supertokens_user_id),
    CONSTRAINT external_user_id UNIQUE (app_id, external_user_id),
    PRIMARY KEY (app_id, supertokens_user_id, external_user_id),
    FOREIGN KEY (app_id, supertokens_user_id) REFERENCES {prefix}app_id_to_user_id (app_id, user_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- dashboard_users
CREATE TABLE IF NOT EXISTS {prefix}dashboard_users (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id CHAR(36) NOT NULL,
    email VARCHAR(256) NOT NULL,
    password_hash VARCHAR(256) NOT NULL,
    time_joined BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY(app_id, user_id),
    CONSTRAINT email UNIQUE (app_id, email),
    FOREIGN KEY (app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- dashboard_user_sessions
CREATE TABLE IF NOT EXISTS {prefix}dashboard_user_sessions (
    app_id VARCHAR(64) DEFAULT 'public',
    session_id CHAR(36) NOT NULL,
    user_id CHAR(36) NOT NULL,
    time_created BIGINT UNSIGNED NOT NULL,
    expiry BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY(app_id, session_id),
    FOREIGN KEY(app_id, user_id) REFERENCES {prefix}dashboard_users (app_id, user_id) ON DELETE CASCADE,
    KEY dashboard_user_sessions_expiry_index (expiry)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- totp_users
CREATE TABLE IF NOT EXISTS {prefix}totp_users (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    PRIMARY KEY (app_id, user_id),
    FOREIGN KEY(app_id) REFERENCES {prefix}apps (app_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- totp_user_devices
CREATE TABLE IF NOT EXISTS {prefix}totp_user_devices (
    app_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    device_name VARCHAR(256) NOT NULL,
    secret_key VARCHAR(256) NOT NULL,
    period INTEGER NOT NULL,
    skew INTEGER NOT NULL,
    verified BOOLEAN NOT NULL,
    created_at BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app_id, user_id, device_name),
    FOREIGN KEY (app_id, user_id) REFERENCES {prefix}totp_users (app_id, user_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- totp_used_codes
CREATE TABLE IF NOT EXISTS {prefix}totp_used_codes (
    app_id VARCHAR(64) DEFAULT 'public',
    tenant_id VARCHAR(64) DEFAULT 'public',
    user_id VARCHAR(128) NOT NULL,
    code VARCHAR(8) NOT NULL,
    is_valid BOOLEAN NOT NULL,
    expiry_time_ms BIGINT UNSIGNED NOT NULL,
    created_time_ms BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (app_id, tenant_id, user_id, created_time_ms),
    FOREIGN KEY (app_id, user_id) REFERENCES {prefix}totp_users (app_id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (app_id, tenant_id) REFERENCES {prefix}tenants (app_id, tenant_id) ON DELETE CASCADE,
    KEY totp_used_codes_expiry_time_ms_index (app_id, tenant_id, expiry_time_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
