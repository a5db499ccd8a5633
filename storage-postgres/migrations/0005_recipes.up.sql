-- Migration 5: indexes the non-auth recipes' queries need beyond the plugin's
-- (contract-phase2 B.6). Applies on a database created here and on one adopted from
-- SuperTokens. Project indexes end in `_idx`.
--
-- Last-active counts of one app (active since, grouped by day, with more than one
-- login method) are range scans of (app_id, last_active_time); the plugin's index
-- (last_active_time DESC, app_id DESC) would scan every app's rows in the range.
CREATE INDEX IF NOT EXISTS {prefix}user_last_active_app_time_idx
    ON {prefix}user_last_active (app_id, last_active_time);
