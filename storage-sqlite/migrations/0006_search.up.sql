-- Migration 6: the indexes of list users' search tags (contract-phase2 A.3). A tag is
-- a prefix, searched as the range `col >= tag AND col < successor(tag)`, which the
-- plugin's (BINARY) indexes on the emails, phone numbers and third-party ids serve
-- (`LIKE` is case-insensitive in SQLite and could not use them). An email tag also
-- matches the email's domain, the part after its first `@`: an expression index,
-- which a query uses when it repeats the expression exactly.
CREATE INDEX IF NOT EXISTS {prefix}emailpassword_user_to_tenant_domain_idx
    ON {prefix}emailpassword_user_to_tenant (app_id, tenant_id, substr(email, instr(email, '@') + 1));
CREATE INDEX IF NOT EXISTS {prefix}passwordless_user_to_tenant_domain_idx
    ON {prefix}passwordless_user_to_tenant (app_id, tenant_id, substr(email, instr(email, '@') + 1));
CREATE INDEX IF NOT EXISTS {prefix}thirdparty_users_domain_idx
    ON {prefix}thirdparty_users (app_id, substr(email, instr(email, '@') + 1));
