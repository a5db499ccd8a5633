-- Reverts 0002_project: drops the columns it added. The previous refresh-token hashes
-- they hold are lost, so a client retrying a rotation within the grace window after
-- this gets a token-theft answer.
ALTER TABLE {prefix}session_info DROP COLUMN IF EXISTS refresh_token_rotated_at;
ALTER TABLE {prefix}session_info DROP COLUMN IF EXISTS prev_refresh_token_hash_2;
