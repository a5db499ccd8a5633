-- Reverts 0006_search: drops its indexes (no data is lost).
DROP INDEX IF EXISTS {prefix}thirdparty_users_domain_idx;
DROP INDEX IF EXISTS {prefix}passwordless_user_to_tenant_domain_idx;
DROP INDEX IF EXISTS {prefix}emailpassword_user_to_tenant_domain_idx;
