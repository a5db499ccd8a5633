\set h 5100000000000000000 + random(0, 99999999999999999)
INSERT INTO "session_info" ("app_id", "tenant_id", "session_handle", "user_id", "refresh_token_hash_2", "session_data", "expires_at", "created_at_time", "jwt_user_payload", "use_static_key") VALUES (:wapp, :tenant, :h, :uid, :rt0, :sd, :far, :now, :jwt, :usk);
