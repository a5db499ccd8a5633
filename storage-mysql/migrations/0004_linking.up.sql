-- Migration 4: the indexes account linking and user-id mapping need beyond the
-- plugin's (contract-phase2 A.3, A.4). It applies both on a database created here and
-- on one adopted from SuperTokens: MySQL 8.0 has no `CREATE INDEX IF NOT EXISTS`, so
-- each index is guarded by a look-up in information_schema and created through
-- PREPARE (the same SQL runs on MySQL 8.0+ and MariaDB 10.6+). Project index names
-- end in `_idx` and, like the plugin's, carry no prefix.

-- `uses_account_linking` (app) and `count_users_with_more_than_one_login_method`
-- (app): a seek to the app's linked rows instead of a scan of every user of the app.
SET @ddl = (SELECT IF(COUNT(*) = 0,
    'CREATE INDEX app_id_to_user_id_linked_idx ON {prefix}app_id_to_user_id (app_id, is_linked_or_is_a_primary_user, primary_or_recipe_user_id)',
    'DO 0')
  FROM information_schema.STATISTICS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}app_id_to_user_id' AND INDEX_NAME = 'app_id_to_user_id_linked_idx');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- Deleting a user (and `non_auth_recipes_using`) finds its email-verification tokens
-- by (app, user); the plugin's key leads with the tenant.
SET @ddl = (SELECT IF(COUNT(*) = 0,
    'CREATE INDEX emailverification_tokens_user_idx ON {prefix}emailverification_tokens (app_id, user_id)',
    'DO 0')
  FROM information_schema.STATISTICS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}emailverification_tokens' AND INDEX_NAME = 'emailverification_tokens_user_idx');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
