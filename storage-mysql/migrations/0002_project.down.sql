-- Reverts 0002_project: drops the indexes and columns it added. The tables keep the
-- binary collation (converting back could break unique keys that now hold values
-- differing only in case). The dropped columns hold the users' times joined and the
-- previous refresh-token hashes.
DROP INDEX all_auth_recipe_users_recipe_time_asc_idx ON {prefix}all_auth_recipe_users;
DROP INDEX all_auth_recipe_users_time_asc_idx ON {prefix}all_auth_recipe_users;
ALTER TABLE {prefix}session_info DROP COLUMN refresh_token_rotated_at;
ALTER TABLE {prefix}session_info DROP COLUMN prev_refresh_token_hash_2;
ALTER TABLE {prefix}app_id_to_user_id DROP COLUMN primary_or_recipe_user_time_joined;
ALTER TABLE {prefix}app_id_to_user_id DROP COLUMN time_joined;
