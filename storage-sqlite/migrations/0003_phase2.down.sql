-- Reverts 0003_phase2: drops every table it created, children first, with its
-- indexes.
DROP TABLE IF EXISTS {prefix}totp_used_codes;
DROP TABLE IF EXISTS {prefix}totp_user_devices;
DROP TABLE IF EXISTS {prefix}totp_users;
DROP TABLE IF EXISTS {prefix}dashboard_user_sessions;
DROP TABLE IF EXISTS {prefix}dashboard_users;
DROP TABLE IF EXISTS {prefix}userid_mapping;
DROP TABLE IF EXISTS {prefix}user_roles;
DROP TABLE IF EXISTS {prefix}role_permissions;
DROP TABLE IF EXISTS {prefix}roles;
DROP TABLE IF EXISTS {prefix}user_metadata;
DROP TABLE IF EXISTS {prefix}user_last_active;
