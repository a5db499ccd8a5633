\set dev random(1000000000000000000, 8999999999999999999)
\set cid random(1000000000000000000, 8999999999999999999)
\set link random(1000000000000000000, 8999999999999999999)
\set dem random(1000000000000000000, 8999999999999999999)
BEGIN ISOLATION LEVEL READ COMMITTED;
INSERT INTO "passwordless_devices" ("app_id", "tenant_id", "device_id_hash", "email", "phone_number", "link_code_salt", "failed_attempts") VALUES (:wapp, :tenant, :dev, :dem, NULL, :salt, :fa);
INSERT INTO "passwordless_codes" ("app_id", "tenant_id", "code_id", "device_id_hash", "link_code_hash", "created_at") VALUES (:wapp, :tenant, :cid, :dev, :link, :now);
COMMIT;
