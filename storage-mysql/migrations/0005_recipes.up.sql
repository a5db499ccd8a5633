-- Migration 5: indexes the non-auth recipes' queries need beyond the plugin's
-- (contract-phase2 B.6). Applies on a database created here and on one adopted from
-- SuperTokens; guarded by a look-up in information_schema (MySQL 8.0 has no
-- `CREATE INDEX IF NOT EXISTS`), the same SQL on MySQL 8.0+ and MariaDB 10.6+.
-- Project indexes end in `_idx` and carry no prefix (MySQL scopes index names to
-- their table).
--
-- Last-active counts of one app are range scans of (app_id, last_active_time); the
-- plugin's index (last_active_time DESC, app_id DESC) would scan every app's rows.
SET @ddl = (SELECT IF(COUNT(*) = 0,
    'CREATE INDEX user_last_active_app_time_idx ON {prefix}user_last_active (app_id, last_active_time)',
    'DO 0')
  FROM information_schema.STATISTICS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}user_last_active'
    AND INDEX_NAME = 'user_last_active_app_time_idx');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
