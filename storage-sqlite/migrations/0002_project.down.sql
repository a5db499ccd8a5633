-- Reverts 0002_project: drops the columns it added (the previous refresh-token hashes).
ALTER TABLE {prefix}session_info DROP COLUMN refresh_token_rotated_at;
ALTER TABLE {prefix}session_info DROP COLUMN prev_refresh_token_hash_2;
