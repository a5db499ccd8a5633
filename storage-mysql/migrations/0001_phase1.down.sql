-- Reverts 0001_phase1: drops every table it created, children first, with its
-- indexes and keys.
DROP TABLE IF EXISTS {prefix}passwordless_codes;
DROP TABLE IF EXISTS {prefix}passwordless_devices;
DROP TABLE IF EXISTS {prefix}passwordless_user_to_tenant;
DROP TABLE IF EXISTS {prefix}passwordless_users;
DROP TABLE IF EXISTS {prefix}jwt_signing_keys;
DROP TABLE IF EXISTS {prefix}thirdparty_user_to_tenant;
DROP TABLE IF EXISTS {prefix}thirdparty_users;
DROP TABLE IF EXISTS {prefix}emailverification_tokens;
DROP TABLE IF EXISTS {prefix}emailverification_verified_emails;
DROP TABLE IF EXISTS {prefix}emailpassword_pswd_reset_tokens;
DROP TABLE IF EXISTS {prefix}emailpassword_user_to_tenant;
DROP TABLE IF EXISTS {prefix}emailpassword_users;
DROP TABLE IF EXISTS {prefix}tenant_thirdparty_provider_clients;
DROP TABLE IF EXISTS {prefix}tenant_thirdparty_providers;
DROP TABLE IF EXISTS {prefix}tenant_required_secondary_factors;
DROP TABLE IF EXISTS {prefix}tenant_first_factors;
DROP TABLE IF EXISTS {prefix}tenant_configs;
DROP TABLE IF EXISTS {prefix}session_info;
DROP TABLE IF EXISTS {prefix}session_access_token_signing_keys;
DROP TABLE IF EXISTS {prefix}all_auth_recipe_users;
DROP TABLE IF EXISTS {prefix}app_id_to_user_id;
DROP TABLE IF EXISTS {prefix}key_value;
DROP TABLE IF EXISTS {prefix}tenants;
DROP TABLE IF EXISTS {prefix}apps;
