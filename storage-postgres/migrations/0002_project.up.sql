-- Migration 2: what the project adds to SuperTokens' layout (migration 1). Written to
-- apply both on a database created here and on one adopted from SuperTokens
-- (`migrate baseline` records version 1 and leaves this one pending), so every
-- statement tolerates what it adds being there already.
--
-- Project indexes, when there are any, end in `_idx`: the plugins' names end in
-- `_index`, `_index1`..`_index4`, `_pkey`, `_key` or `_fkey`, so they never collide.
-- On PostgreSQL the plugin's indexes already serve every query of the project.

-- Refresh-token grace window (contract 5.3): the previous refresh-token hash stays
-- valid for a short time after a rotation, so a client that lost the rotation's
-- response can retry. SuperTokens' plugin has no such columns.
ALTER TABLE {prefix}session_info ADD COLUMN IF NOT EXISTS prev_refresh_token_hash_2 VARCHAR(128) NULL;
ALTER TABLE {prefix}session_info ADD COLUMN IF NOT EXISTS refresh_token_rotated_at BIGINT NULL;
