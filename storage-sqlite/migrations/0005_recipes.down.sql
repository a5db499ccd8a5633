-- Reverts 0005_recipes: drops the index it added (no data is lost).
DROP INDEX IF EXISTS {prefix}user_last_active_app_time_idx;
