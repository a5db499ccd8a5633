-- Migration 6: the indexes of list users' search tags (contract-phase2 A.3). A tag is
-- a prefix, searched as the byte range `col COLLATE "C" >= tag AND col COLLATE "C" <
-- successor(tag)`: the plugin's indexes use the database's collation, in which the
-- strings starting with a prefix are not one range (and `LIKE 'a%'` uses an index only
-- under "C" or `text_pattern_ops`, and only when the pattern is known at planning).
-- An email tag also matches the email's domain, the part after its first `@`: an
-- expression index. Applies on a database created here and on one adopted from
-- SuperTokens; project index names end in `_idx`.
CREATE INDEX IF NOT EXISTS {prefix}emailpassword_user_to_tenant_email_c_idx
    ON {prefix}emailpassword_user_to_tenant (app_id, tenant_id, email COLLATE "C");
CREATE INDEX IF NOT EXISTS {prefix}emailpassword_user_to_tenant_domain_c_idx
    ON {prefix}emailpassword_user_to_tenant (app_id, tenant_id, (substr(email, strpos(email, '@') + 1) COLLATE "C"));
CREATE INDEX IF NOT EXISTS {prefix}passwordless_user_to_tenant_email_c_idx
    ON {prefix}passwordless_user_to_tenant (app_id, tenant_id, email COLLATE "C");
CREATE INDEX IF NOT EXISTS {prefix}passwordless_user_to_tenant_domain_c_idx
    ON {prefix}passwordless_user_to_tenant (app_id, tenant_id, (substr(email, strpos(email, '@') + 1) COLLATE "C"));
CREATE INDEX IF NOT EXISTS {prefix}passwordless_user_to_tenant_phone_c_idx
    ON {prefix}passwordless_user_to_tenant (app_id, tenant_id, phone_number COLLATE "C");
CREATE INDEX IF NOT EXISTS {prefix}thirdparty_users_email_c_idx
    ON {prefix}thirdparty_users (app_id, email COLLATE "C");
CREATE INDEX IF NOT EXISTS {prefix}thirdparty_users_domain_c_idx
    ON {prefix}thirdparty_users (app_id, (substr(email, strpos(email, '@') + 1) COLLATE "C"));
CREATE INDEX IF NOT EXISTS {prefix}thirdparty_user_to_tenant_provider_c_idx
    ON {prefix}thirdparty_user_to_tenant (app_id, tenant_id, third_party_id COLLATE "C");
