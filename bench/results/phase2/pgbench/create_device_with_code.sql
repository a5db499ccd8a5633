\set k :base + :client_id + :conc * :seq
\set seq :seq + 1
\set dev 3000000000000000000 + :k
\set cid 3000000000000000000 + :k
\set link 3000000000000000000 + :k
\set dem 7000000000000000000 + :k
BEGIN ISOLATION LEVEL READ COMMITTED;
INSERT INTO "passwordless_devices" ("app_id", "tenant_id", "device_id_hash", "email", "phone_number", "link_code_salt", "failed_attempts") VALUES (:wapp, :tenant, :dev, :dem, NULL, :salt, :fa);
INSERT INTO "passwordless_codes" ("app_id", "tenant_id", "code_id", "device_id_hash", "link_code_hash", "created_at") VALUES (:wapp, :tenant, :cid, :dev, :link, :now);
COMMIT;
