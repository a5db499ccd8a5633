-- Reverts 0005_recipes: drops the index it added (no data is lost).
DROP INDEX user_last_active_app_time_idx ON {prefix}user_last_active;
