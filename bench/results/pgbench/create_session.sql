\set k :base + :client_id + :conc * :seq
\set seq :seq + 1
\set h 5000000000000000000 + :k
INSERT INTO "session_info" ("app_id", "tenant_id", "session_handle", "user_id", "refresh_token_hash_2", "session_data", "expires_at", "created_at_time", "jwt_user_payload", "use_static_key") VALUES (:wapp, :tenant, :h, :uid, :rt0, :sd, :far, :now, :jwt, :usk);
