-- Migration 5: indexes the non-auth recipes' queries need (contract-phase2 B.6), as
-- on PostgreSQL and MySQL. Last-active counts of one app are range scans of
-- (app_id, last_active_time).
CREATE INDEX IF NOT EXISTS {prefix}user_last_active_app_time_idx
    ON {prefix}user_last_active (app_id, last_active_time);
