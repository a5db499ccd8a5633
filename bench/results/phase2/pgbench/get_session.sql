\set h 1000000000000000000 + random(0, :n - 1)
SELECT "session_handle", "user_id", "refresh_token_hash_2", "session_data", "expires_at", "created_at_time", "jwt_user_payload", "use_static_key", "prev_refresh_token_hash_2", "refresh_token_rotated_at" FROM "session_info" WHERE "app_id" = :app AND "tenant_id" = :tenant AND "session_handle" = :h;
