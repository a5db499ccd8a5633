-- Migration 4: the indexes account linking and user-id mapping need beyond the
-- plugin's (contract-phase2 A.3, A.4). Written to apply both on a database created
-- here and on one adopted from SuperTokens (`IF NOT EXISTS`). Project index names end
-- in `_idx`, never a plugin name.

-- `uses_account_linking` (app) and `count_users_with_more_than_one_login_method`
-- (app): a seek to the app's linked rows instead of a scan of every user of the app.
CREATE INDEX IF NOT EXISTS {prefix}app_id_to_user_id_linked_idx ON {prefix}app_id_to_user_id (app_id, is_linked_or_is_a_primary_user, primary_or_recipe_user_id);

-- Deleting a user (and `non_auth_recipes_using`) finds its email-verification tokens
-- by (app, user); the plugin's key leads with the tenant.
CREATE INDEX IF NOT EXISTS {prefix}emailverification_tokens_user_idx ON {prefix}emailverification_tokens (app_id, user_id);
