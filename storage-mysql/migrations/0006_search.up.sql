-- Migration 6: list users' search tags (contract-phase2 A.3). A tag is a prefix,
-- searched as `col LIKE 'tag%'` (the tag's `\`, `%` and `_` escaped), which MySQL and
-- MariaDB run as a range of the plugin's indexes on the emails, phone numbers and
-- third-party ids. An email tag also matches the email's domain (the part after its
-- first `@`): MariaDB has no functional indexes, so the domain is a VIRTUAL generated
-- column `email_domain` with an index (accepted by MySQL 8.0+ and MariaDB 10.6+; no
-- storage, computed on read and on index maintenance). Applies on a database created
-- here and on one adopted from SuperTokens; each step is guarded by a look-up in
-- information_schema. Project names end in `_idx` and carry no prefix.

SET @ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE {prefix}emailpassword_user_to_tenant ADD COLUMN email_domain VARCHAR(256) AS (SUBSTRING(email, LOCATE(''@'', email) + 1)) VIRTUAL',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}emailpassword_user_to_tenant' AND COLUMN_NAME = 'email_domain');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
SET @ddl = (SELECT IF(COUNT(*) = 0,
    'CREATE INDEX emailpassword_user_to_tenant_domain_idx ON {prefix}emailpassword_user_to_tenant (app_id, tenant_id, email_domain)',
    'DO 0')
  FROM information_schema.STATISTICS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}emailpassword_user_to_tenant' AND INDEX_NAME = 'emailpassword_user_to_tenant_domain_idx');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

SET @ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE {prefix}passwordless_user_to_tenant ADD COLUMN email_domain VARCHAR(256) AS (SUBSTRING(email, LOCATE(''@'', email) + 1)) VIRTUAL',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}passwordless_user_to_tenant' AND COLUMN_NAME = 'email_domain');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
SET @ddl = (SELECT IF(COUNT(*) = 0,
    'CREATE INDEX passwordless_user_to_tenant_domain_idx ON {prefix}passwordless_user_to_tenant (app_id, tenant_id, email_domain)',
    'DO 0')
  FROM information_schema.STATISTICS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}passwordless_user_to_tenant' AND INDEX_NAME = 'passwordless_user_to_tenant_domain_idx');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

SET @ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE {prefix}thirdparty_users ADD COLUMN email_domain VARCHAR(256) AS (SUBSTRING(email, LOCATE(''@'', email) + 1)) VIRTUAL',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}thirdparty_users' AND COLUMN_NAME = 'email_domain');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
SET @ddl = (SELECT IF(COUNT(*) = 0,
    'CREATE INDEX thirdparty_users_domain_idx ON {prefix}thirdparty_users (app_id, email_domain)',
    'DO 0')
  FROM information_schema.STATISTICS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}thirdparty_users' AND INDEX_NAME = 'thirdparty_users_domain_idx');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
