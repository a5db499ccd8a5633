-- Reverts 0006_search: drops the domain indexes and columns (computed, no data is lost).
DROP INDEX thirdparty_users_domain_idx ON {prefix}thirdparty_users;
ALTER TABLE {prefix}thirdparty_users DROP COLUMN email_domain;
DROP INDEX passwordless_user_to_tenant_domain_idx ON {prefix}passwordless_user_to_tenant;
ALTER TABLE {prefix}passwordless_user_to_tenant DROP COLUMN email_domain;
DROP INDEX emailpassword_user_to_tenant_domain_idx ON {prefix}emailpassword_user_to_tenant;
ALTER TABLE {prefix}emailpassword_user_to_tenant DROP COLUMN email_domain;
