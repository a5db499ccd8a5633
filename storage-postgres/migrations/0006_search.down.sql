-- Reverts 0006_search: drops its indexes (no data is lost).
DROP INDEX IF EXISTS {prefix}thirdparty_user_to_tenant_provider_c_idx;
DROP INDEX IF EXISTS {prefix}thirdparty_users_domain_c_idx;
DROP INDEX IF EXISTS {prefix}thirdparty_users_email_c_idx;
DROP INDEX IF EXISTS {prefix}passwordless_user_to_tenant_phone_c_idx;
DROP INDEX IF EXISTS {prefix}passwordless_user_to_tenant_domain_c_idx;
DROP INDEX IF EXISTS {prefix}passwordless_user_to_tenant_email_c_idx;
DROP INDEX IF EXISTS {prefix}emailpassword_user_to_tenant_domain_c_idx;
DROP INDEX IF EXISTS {prefix}emailpassword_user_to_tenant_email_c_idx;
