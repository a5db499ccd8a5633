-- Migration 2: what the project adds to the migration-1 layout, as on PostgreSQL and
-- MySQL. Refresh-token grace window (contract 5.3): the previous refresh-token hash
-- stays valid for a short time after a rotation.
ALTER TABLE {prefix}session_info ADD COLUMN prev_refresh_token_hash_2 TEXT NULL;
ALTER TABLE {prefix}session_info ADD COLUMN refresh_token_rotated_at INTEGER NULL;
