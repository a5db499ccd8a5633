\set h 1000000000000000000 + random(:rot, :n - 1)
\set exp 4000000000000 + random(1, 1000000000)
UPDATE "session_info" SET "refresh_token_hash_2" = :rt, "prev_refresh_token_hash_2" = :rt, "refresh_token_rotated_at" = :now, "expires_at" = :exp WHERE "app_id" = :app AND "tenant_id" = :tenant AND "session_handle" = :h AND "refresh_token_hash_2" = :rt AND "expires_at" >= :now;
