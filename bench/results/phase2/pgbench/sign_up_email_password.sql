\set k :base + :client_id + :conc * :seq
\set seq :seq + 1
\set u 3000000000000000000 + :k
\set em 6000000000000000000 + :k
\set tj 1700000000000 + :k
BEGIN ISOLATION LEVEL READ COMMITTED;
INSERT INTO "app_id_to_user_id" ("app_id", "user_id", "recipe_id", "primary_or_recipe_user_id", "is_linked_or_is_a_primary_user", "time_joined", "primary_or_recipe_user_time_joined") VALUES (:wapp, :u, :rid, :u, :f, :tj, :tj);
INSERT INTO "all_auth_recipe_users" ("app_id", "tenant_id", "user_id", "primary_or_recipe_user_id", "is_linked_or_is_a_primary_user", "recipe_id", "time_joined", "primary_or_recipe_user_time_joined") VALUES (:wapp, :tenant, :u, :u, :f, :rid, :tj, :tj);
INSERT INTO "emailpassword_users" ("app_id", "user_id", "email", "password_hash", "time_joined") VALUES (:wapp, :u, :em, :pw, :tj);
INSERT INTO "emailpassword_user_to_tenant" ("app_id", "tenant_id", "user_id", "email") VALUES (:wapp, :tenant, :u, :em);
COMMIT;
