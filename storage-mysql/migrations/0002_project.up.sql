-- Migration 2: what the project adds to SuperTokens' layout (migration 1). It applies
-- both on a database created here and on one adopted from SuperTokens (`migrate
-- baseline` records version 1 and leaves this one pending). MySQL 8.0 has no
-- `ADD COLUMN IF NOT EXISTS` / `CREATE INDEX IF NOT EXISTS`, so each addition is
-- guarded by a look-up in information_schema and run through PREPARE (the same SQL
-- runs on MySQL 8.0+ and MariaDB 10.6+); a re-run after a failed, repaired migration
-- skips what is already there.
--
-- Project indexes end in `_idx`: the plugins' names end in `_index`, `_index1`..
-- `_index4` or are key names, so they never collide. Like the plugin's, their names
-- carry no prefix (MySQL scopes index names to their table).

-- 1. Binary collation. The MySQL plugin names no collation, so an adopted database's
-- tables compare text case-insensitively (`utf8mb4_general_ci` by default), and a
-- SuperTokens core adding a table to a database created here fails on its foreign
-- keys unless the database default matches our tables. The line below is expanded
-- by the migration driver, when the migration runs (and in `--dry-run`), into:
-- `ALTER DATABASE ... COLLATE utf8mb4_bin` when the database default differs, and one
-- `ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin` per table
-- with the prefix whose collation differs (with foreign-key checks off for this
-- connection while they run, as tables referencing each other must change together).
-- Each rebuild is printed with the time it took.
{binary_collation};

-- 2. Times joined on app_id_to_user_id (the PostgreSQL plugin has them; the MySQL
-- plugin 8.1 does not), backfilled from the rows that are there: a user's own time
-- joined is that of its recipe row, the group's is the earliest of its group.
SET @ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE {prefix}app_id_to_user_id ADD COLUMN time_joined BIGINT UNSIGNED NOT NULL DEFAULT 0',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}app_id_to_user_id' AND COLUMN_NAME = 'time_joined');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

SET @ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE {prefix}app_id_to_user_id ADD COLUMN primary_or_recipe_user_time_joined BIGINT UNSIGNED NOT NULL DEFAULT 0',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}app_id_to_user_id' AND COLUMN_NAME = 'primary_or_recipe_user_time_joined');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

UPDATE {prefix}app_id_to_user_id a
  SET a.time_joined = COALESCE(
    (SELECT MIN(r.time_joined) FROM {prefix}all_auth_recipe_users r
      WHERE r.app_id = a.app_id AND r.user_id = a.user_id),
    (SELECT e.time_joined FROM {prefix}emailpassword_users e
      WHERE e.app_id = a.app_id AND e.user_id = a.user_id),
    (SELECT t.time_joined FROM {prefix}thirdparty_users t
      WHERE t.app_id = a.app_id AND t.user_id = a.user_id),
    (SELECT p.time_joined FROM {prefix}passwordless_users p
      WHERE p.app_id = a.app_id AND p.user_id = a.user_id),
    0)
  WHERE a.time_joined = 0;

UPDATE {prefix}app_id_to_user_id a
  JOIN (SELECT app_id, primary_or_recipe_user_id, MIN(time_joined) AS first_joined
          FROM {prefix}app_id_to_user_id
          GROUP BY app_id, primary_or_recipe_user_id) g
    ON g.app_id = a.app_id AND g.primary_or_recipe_user_id = a.primary_or_recipe_user_id
  SET a.primary_or_recipe_user_time_joined = g.first_joined
  WHERE a.primary_or_recipe_user_time_joined = 0;

-- 3. Refresh-token grace window (contract 5.3): the previous refresh-token hash stays
-- valid for a short time after a rotation. SuperTokens' plugin has no such columns.
SET @ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE {prefix}session_info ADD COLUMN prev_refresh_token_hash_2 VARCHAR(128) NULL',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}session_info' AND COLUMN_NAME = 'prev_refresh_token_hash_2');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

SET @ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE {prefix}session_info ADD COLUMN refresh_token_rotated_at BIGINT UNSIGNED NULL',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}session_info' AND COLUMN_NAME = 'refresh_token_rotated_at');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- 4. Listing users oldest first: the plugin has the newest-first pagination indexes
-- only (PostgreSQL's plugin has both).
SET @ddl = (SELECT IF(COUNT(*) = 0,
    'CREATE INDEX all_auth_recipe_users_time_asc_idx ON {prefix}all_auth_recipe_users (app_id, tenant_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC)',
    'DO 0')
  FROM information_schema.STATISTICS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}all_auth_recipe_users' AND INDEX_NAME = 'all_auth_recipe_users_time_asc_idx');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

SET @ddl = (SELECT IF(COUNT(*) = 0,
    'CREATE INDEX all_auth_recipe_users_recipe_time_asc_idx ON {prefix}all_auth_recipe_users (recipe_id, app_id, tenant_id, primary_or_recipe_user_time_joined ASC, primary_or_recipe_user_id DESC)',
    'DO 0')
  FROM information_schema.STATISTICS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}all_auth_recipe_users' AND INDEX_NAME = 'all_auth_recipe_users_recipe_time_asc_idx');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
