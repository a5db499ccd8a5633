//! Adopting real SuperTokens databases, and the other direction.
//!
//! Each database here is laid out by SuperTokens' own DDL
//! (`tests/fixtures/supertokens-ddl/`, generated from the plugins' code) and filled
//! with rows the way the core writes them. Then:
//!
//! - `baseline` + `up` adopt it, and every phase-1 operation reads the stored values
//!   back exactly (times, hashes, JSON) and writes;
//! - on MariaDB, whose plugin tables take the database's case-insensitive default
//!   collation, migration 2 rebuilds them with `utf8mb4_bin` (reporting each) and the
//!   storage compares bytes afterwards;
//! - a database with linked accounts and user-id mappings reads back with the right
//!   groups and mappings after `baseline` + `up`;
//! - `baseline` refuses a database whose columns differ, and writes nothing;
//! - a SuperTokens core started on a database migrated here creates every table it
//!   still misses (the plugins' `*-all.sql`, table by table as the core does);
//! - a database built by the pre-release version 1 is reported with what to do, and
//!   doing it works.

use std::sync::Arc;
use storage_api::migrate::{self, BaselineError, MigrateError, UpOptions, UpReport};
use storage_api::*;
use storage_tests::harness::{RawSql, then_clean_up, unique_name};

const EP_USER: &str = "11111111-1111-4111-8111-111111111111";
const TP_USER: &str = "22222222-2222-4222-8222-222222222222";
const PL_USER: &str = "33333333-3333-4333-8333-333333333333";
const CODE_ID: &str = "44444444-4444-4444-8444-444444444444";
const DEVICE: &str = "ZGV2aWNlLWlkLWhhc2gtb2YtZXhhY3RseS00NC1jaGFy";
const SALT: &str = "c2FsdC1vZi1leGFjdGx5LWZvcnR5LWZvdXItY2hhcnM=";
const LINK: &str = "bGluay1jb2RlLWhhc2gtb2YtZXhhY3RseS00NC1jaGFy";
const HASH: &str = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
const FAR: i64 = 4_102_444_800_000;

/// Which server a test runs on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Server {
    Postgres,
    Mariadb,
}

impl Server {
    fn phase1_ddl(self) -> &'static str {
        match self {
            Server::Postgres => {
                include_str!("../fixtures/supertokens-ddl/postgresql-phase1.sql")
            }
            Server::Mariadb => include_str!("../fixtures/supertokens-ddl/mysql-phase1.sql"),
        }
    }

    fn all_ddl(self) -> &'static str {
        match self {
            Server::Postgres => include_str!("../fixtures/supertokens-ddl/postgresql-all.sql"),
            Server::Mariadb => include_str!("../fixtures/supertokens-ddl/mysql-all.sql"),
        }
    }

    fn pre_release_v1(self) -> &'static str {
        match self {
            Server::Postgres => {
                include_str!("../fixtures/pre-release/postgres-0001_phase1.up.sql")
            }
            Server::Mariadb => include_str!("../fixtures/pre-release/mysql-0001_phase1.up.sql"),
        }
    }
}

/// One empty database (a PostgreSQL schema, or a MariaDB database whose default
/// collation is the server's case-insensitive `utf8mb4_general_ci`, as a SuperTokens
/// deployment's is), with a plain-SQL connection to it and its storage URI.
struct Scratch {
    server: Server,
    name: String,
    raw: Box<dyn RawSql>,
    uri: String,
    options: OpenOptions,
}

impl Scratch {
    /// A new plain-SQL connection, as a core started later would open: on MariaDB a
    /// session keeps the database defaults it started with.
    async fn reconnect(&mut self) {
        if self.server == Server::Mariadb {
            let raw = storage_mysql::test_support::RawClient::connect(&self.uri, 1)
                .await
                .expect("raw connection");
            self.raw = Box::new(storage_tests::backends::mysql::Raw(raw));
        }
    }

    async fn storage(&self) -> Arc<dyn Storage> {
        open(&self.uri, self.options.clone())
            .await
            .expect("open the storage")
    }

    /// Runs every statement of `sql` (split at `;` line ends).
    async fn run(&self, sql: &str) {
        for stmt in migrate::split_statements(sql) {
            self.raw.execute(&stmt).await;
        }
    }

    async fn tables(&self) -> Vec<String> {
        let sql = match self.server {
            Server::Postgres => format!(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = '{}' ORDER BY 1",
                self.name
            ),
            Server::Mariadb => format!(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' ORDER BY 1",
                self.name
            ),
        };
        self.raw
            .query(&sql)
            .await
            .into_iter()
            .map(|r| r[0].clone().unwrap_or_default())
            .collect()
    }
}

/// Runs `test` on a fresh [`Scratch`] of `server`, dropped afterwards.
async fn with_scratch<F, Fut>(server: Server, test: F)
where
    F: FnOnce(Scratch) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    match server {
        Server::Postgres => {
            use storage_tests::backends::postgres as pg;
            let admin = pg::connect_admin().await;
            let schema = pg::create_schema(&admin).await;
            admin
                .batch_execute(&format!("SET search_path TO {schema}"))
                .await
                .expect("search_path");
            let scratch = Scratch {
                server,
                name: schema.clone(),
                raw: Box::new(pg::Raw(admin)),
                uri: pg::base_uri(),
                options: OpenOptions {
                    schema: Some(schema.clone()),
                    ..Default::default()
                },
            };
            then_clean_up(test(scratch), pg::drop_schema(&schema)).await;
        }
        Server::Mariadb => {
            use storage_tests::backends::mysql as my;
            let admin = my::connect_admin().await;
            let db = unique_name("adopt");
            admin
                .execute(&format!(
                    "CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
                ))
                .await
                .expect("CREATE DATABASE");
            admin.close().await;
            let uri = my::database_uri(&db);
            let raw = storage_mysql::test_support::RawClient::connect(&uri, 1)
                .await
                .expect("raw connection");
            let scratch = Scratch {
                server,
                name: db.clone(),
                raw: Box::new(my::Raw(raw)),
                uri,
                options: OpenOptions::default(),
            };
            then_clean_up(test(scratch), my::drop_database(&db)).await;
        }
    }
}

/// Rows as a SuperTokens core writes them: two tenants, an email-password user in
/// both, a third-party and a passwordless user, a session with JSON data, a device
/// with a code, reset and verification tokens, a verified email, key/value rows, a
/// signing key, a JWT key, and a tenant config with a provider and a client.
fn core_rows(server: Server) -> String {
    // The MySQL plugin 8.1 has no times joined on app_id_to_user_id.
    let with_times = server == Server::Postgres;
    let times_cols = if with_times {
        ", time_joined, primary_or_recipe_user_time_joined"
    } else {
        ""
    };
    let times = |t: i64| {
        if with_times {
            format!(", {t}, {t}")
        } else {
            String::new()
        }
    };
    let scope = match server {
        Server::Postgres => "ARRAY['openid','email']",
        Server::Mariadb => "'[\"openid\",\"email\"]'",
    };
    let user = |id: &str, recipe: &str, t: i64, tenants: &[&str]| {
        let mut s = format!(
            "INSERT INTO app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user{times_cols}) VALUES ('public', '{id}', '{recipe}', '{id}', FALSE{});\n",
            times(t)
        );
        for tenant in tenants {
            s.push_str(&format!(
                "INSERT INTO all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, recipe_id, time_joined, primary_or_recipe_user_time_joined) VALUES ('public', '{tenant}', '{id}', '{id}', FALSE, '{recipe}', {t}, {t});\n"
            ));
        }
        s
    };
    let mut s = String::from(
        "INSERT INTO apps (app_id, created_at_time) VALUES ('public', 1700000000000);
INSERT INTO tenants (app_id, tenant_id, created_at_time) VALUES ('public', 'public', 1700000000000);
INSERT INTO tenants (app_id, tenant_id, created_at_time) VALUES ('public', 't1', 1700000000001);
INSERT INTO key_value (app_id, tenant_id, name, value, created_at_time) VALUES ('public', 'public', 'greeting', 'hello, world', 5);
",
    );
    s.push_str(&user(
        EP_USER,
        "emailpassword",
        1_700_000_000_001,
        &["public", "t1"],
    ));
    s.push_str(&format!(
        "INSERT INTO emailpassword_users (app_id, user_id, email, password_hash, time_joined) VALUES ('public', '{EP_USER}', 'alice@example.com', '{HASH}', 1700000000001);
INSERT INTO emailpassword_user_to_tenant (app_id, tenant_id, user_id, email) VALUES ('public', 'public', '{EP_USER}', 'alice@example.com');
INSERT INTO emailpassword_user_to_tenant (app_id, tenant_id, user_id, email) VALUES ('public', 't1', '{EP_USER}', 'alice@example.com');
"
    ));
    s.push_str(&user(TP_USER, "thirdparty", 1_700_000_000_002, &["public"]));
    s.push_str(&format!(
        "INSERT INTO thirdparty_users (app_id, third_party_id, third_party_user_id, user_id, email, time_joined) VALUES ('public', 'google', 'g-123', '{TP_USER}', 'bob@example.com', 1700000000002);
INSERT INTO thirdparty_user_to_tenant (app_id, tenant_id, user_id, third_party_id, third_party_user_id) VALUES ('public', 'public', '{TP_USER}', 'google', 'g-123');
"
    ));
    s.push_str(&user(
        PL_USER,
        "passwordless",
        1_700_000_000_003,
        &["public"],
    ));
    s.push_str(&format!(
        "INSERT INTO passwordless_users (app_id, user_id, email, phone_number, time_joined) VALUES ('public', '{PL_USER}', 'carol@example.com', '+14155550100', 1700000000003);
INSERT INTO passwordless_user_to_tenant (app_id, tenant_id, user_id, email, phone_number) VALUES ('public', 'public', '{PL_USER}', 'carol@example.com', '+14155550100');
INSERT INTO session_info (app_id, tenant_id, session_handle, user_id, refresh_token_hash_2, session_data, expires_at, created_at_time, jwt_user_payload, use_static_key) VALUES ('public', 'public', 'handle-1', '{EP_USER}', 'refresh-hash-1', '{{\"theme\":\"dark\",\"n\":[1,2.5,null],\"s\":\"é ✓\"}}', {FAR}, 1700000000100, '{{\"role\":\"admin\"}}', FALSE);
INSERT INTO session_access_token_signing_keys (app_id, created_at_time, value) VALUES ('public', 1700000000000, 'signing-key-material');
INSERT INTO jwt_signing_keys (app_id, key_id, key_string, algorithm, created_at) VALUES ('public', 'kid-1', 'jwt-key-material', 'RS256', 1700000000000);
INSERT INTO passwordless_devices (app_id, tenant_id, device_id_hash, email, phone_number, link_code_salt, failed_attempts) VALUES ('public', 'public', '{DEVICE}', 'carol@example.com', NULL, '{SALT}', 1);
INSERT INTO passwordless_codes (app_id, tenant_id, code_id, device_id_hash, link_code_hash, created_at) VALUES ('public', 'public', '{CODE_ID}', '{DEVICE}', '{LINK}', 1700000000200);
INSERT INTO emailpassword_pswd_reset_tokens (app_id, user_id, token, email, token_expiry) VALUES ('public', '{EP_USER}', 'reset-token-hash', 'alice@example.com', {FAR});
INSERT INTO emailverification_tokens (app_id, tenant_id, user_id, email, token, token_expiry) VALUES ('public', 'public', '{EP_USER}', 'alice@example.com', 'verify-token-hash', {FAR});
INSERT INTO emailverification_verified_emails (app_id, user_id, email) VALUES ('public', '{TP_USER}', 'bob@example.com');
INSERT INTO tenant_configs (connection_uri_domain, app_id, tenant_id, core_config, email_password_enabled, passwordless_enabled, third_party_enabled, is_first_factors_null) VALUES ('', 'public', 't1', '{{\"password_reset_token_lifetime\":3600000}}', TRUE, FALSE, TRUE, FALSE);
INSERT INTO tenant_first_factors (connection_uri_domain, app_id, tenant_id, factor_id) VALUES ('', 'public', 't1', 'emailpassword');
INSERT INTO tenant_thirdparty_providers (connection_uri_domain, app_id, tenant_id, third_party_id, name, authorization_endpoint, authorization_endpoint_query_params, require_email) VALUES ('', 'public', 't1', 'google', 'Google', 'https://accounts.example.com/o/oauth2/auth', '{{\"prompt\":\"consent\"}}', TRUE);
INSERT INTO tenant_thirdparty_provider_clients (connection_uri_domain, app_id, tenant_id, third_party_id, client_type, client_id, client_secret, scope, force_pkce, additional_config) VALUES ('', 'public', 't1', 'google', 'web', 'client-id-1', 'client-secret-1', {scope}, FALSE, NULL);
"
    ));
    s
}

async fn baseline_and_up(storage: &dyn Storage) -> (migrate::BaselinePlan, UpReport) {
    let mut driver = storage.migration_driver().await.expect("driver");
    let plan = migrate::baseline(&mut *driver, &UpOptions::default())
        .await
        .expect("baseline");
    let report = migrate::up(&mut *driver, &UpOptions::default(), &mut |_| {})
        .await
        .expect("up");
    (plan, report)
}

fn public() -> TenantIdentifier {
    TenantIdentifier::default_public()
}

fn t1() -> TenantIdentifier {
    TenantIdentifier::new("public", "t1").unwrap()
}

/// A SuperTokens database with core-written rows: adopted with `baseline` + `up`,
/// then read back exactly and written through every domain.
async fn adopts_and_serves(server: Server) {
    with_scratch(server, |db| async move {
        db.run(db.server.phase1_ddl()).await;
        db.run(&core_rows(db.server)).await;
        let fk_names = "SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
                        WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY 1";
        let fks_before = match db.server {
            Server::Mariadb => db.raw.query(fk_names).await,
            Server::Postgres => Vec::new(),
        };
        let storage = db.storage().await;
        if db.server == Server::Mariadb {
            // What `migrate up --dry-run` shows after the baseline: every rebuild,
            // before anything runs.
            let mut driver = storage.migration_driver().await.unwrap();
            migrate::baseline(&mut *driver, &UpOptions::default())
                .await
                .unwrap();
            let planned = migrate::plan_up(&mut *driver, None).await.unwrap();
            assert_eq!(planned.len(), 5);
            let rebuilds = planned[0]
                .notes
                .iter()
                .filter(|(_, n)| n.starts_with("rebuild "))
                .count();
            assert_eq!(rebuilds, 24, "{:?}", planned[0].notes);
            assert!(
                planned[0]
                    .statements
                    .iter()
                    .any(|s| s.contains("CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
            );
            // Nothing ran: still case-insensitive.
            assert_eq!(
                db.raw
                    .count(&format!(
                        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' \
                         AND TABLE_COLLATION = 'utf8mb4_general_ci'",
                        db.name
                    ))
                    .await,
                24
            );
            driver.forget(1).await.unwrap();
        }

        let (plan, report) = baseline_and_up(&*storage).await;
        assert_eq!(plan.to_record.len(), 1, "{plan:?}");
        assert_eq!(plan.to_record[0].version, 1);
        assert_eq!(
            plan.left_pending,
            vec![
                (2, "project".to_owned()),
                (3, "phase2".to_owned()),
                (4, "linking".to_owned()),
                (5, "recipes".to_owned()),
                (6, "search".to_owned())
            ]
        );
        assert!(plan.unmanaged_tables.is_empty(), "{plan:?}");
        assert!(plan.extra_columns.is_empty(), "{plan:?}");
        assert_eq!(
            report.applied.iter().map(|s| s.version).collect::<Vec<_>>(),
            vec![2, 3, 4, 5, 6]
        );
        if db.server == Server::Mariadb {
            // Every plugin table took the database's case-insensitive default: each
            // is rebuilt, and reported with its time.
            let notes: Vec<&str> = report.applied[0]
                .notes
                .iter()
                .map(|n| n.note.as_str())
                .collect();
            assert!(
                notes
                    .iter()
                    .any(|n| n.starts_with("database default collation utf8mb4_general_ci")),
                "{notes:?}"
            );
            assert_eq!(
                notes.iter().filter(|n| n.starts_with("rebuild ")).count(),
                24,
                "{notes:?}"
            );
            let left = db
                .raw
                .count(&format!(
                    "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' \
                     AND COLLATION_NAME IS NOT NULL AND COLLATION_NAME <> 'utf8mb4_bin'",
                    db.name
                ))
                .await;
            assert_eq!(left, 0, "columns still compared case-insensitively");
            let after = db.raw.query(fk_names).await;
            for fk in &fks_before {
                assert!(after.contains(fk), "foreign key {fk:?} not added back");
            }
        }

        read_back(&*storage).await;
        write(&*storage).await;
        // Nothing of the unmanaged JWT key was touched.
        assert_eq!(
            db.raw
                .count(
                    "SELECT COUNT(*) FROM jwt_signing_keys WHERE key_string = 'jwt-key-material'"
                )
                .await,
            1
        );
        storage.close().await;
    })
    .await;
}

async fn read_back(s: &dyn Storage) {
    let app = AppId::public();
    let alice = s.get_user(&app, EP_USER).await.unwrap().expect("alice");
    assert_eq!(alice.time_joined, 1_700_000_000_001);
    assert_eq!(
        alice.tenant_ids,
        vec![TenantId::public(), TenantId::new("t1").unwrap()]
    );
    let m = &alice.login_methods[0];
    assert_eq!(m.email.as_deref(), Some("alice@example.com"));
    assert_eq!(m.password_hash.as_ref().map(|h| h.expose()), Some(HASH));
    assert_eq!(m.time_joined, 1_700_000_000_001);

    let by_email = s
        .list_users_by_email(&public(), "alice@example.com")
        .await
        .unwrap();
    assert_eq!(by_email.len(), 1);
    assert_eq!(by_email[0].id, EP_USER);
    let bob = s
        .list_users_by_third_party(
            &app,
            &ThirdPartyInfo {
                third_party_id: "google".into(),
                third_party_user_id: "g-123".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].id, TP_USER);
    assert_eq!(bob[0].time_joined, 1_700_000_000_002);
    let carol = s
        .list_users_by_phone(&public(), "+14155550100")
        .await
        .unwrap();
    assert_eq!(carol.len(), 1);
    assert_eq!(carol[0].time_joined, 1_700_000_000_003);
    assert_eq!(
        carol[0].login_methods[0].email.as_deref(),
        Some("carol@example.com")
    );
    let page = s
        .list_users(&ListUsers {
            tenant: public(),
            limit: 10,
            order: TimeJoinedOrder::Asc,
            recipes: vec![],
            search: Default::default(),
            after: None,
        })
        .await
        .unwrap();
    let ids: Vec<&str> = page.users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, vec![EP_USER, TP_USER, PL_USER]);
    let page = s
        .list_users(&ListUsers {
            tenant: public(),
            limit: 10,
            order: TimeJoinedOrder::Desc,
            recipes: vec![],
            search: Default::default(),
            after: None,
        })
        .await
        .unwrap();
    let ids: Vec<&str> = page.users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, vec![PL_USER, TP_USER, EP_USER]);
    assert_eq!(
        s.count_users(&UserScope::Tenant(public()), &[])
            .await
            .unwrap(),
        3
    );

    let session = s
        .get_session(&public(), "handle-1")
        .await
        .unwrap()
        .expect("session");
    assert_eq!(session.user_id, EP_USER);
    assert_eq!(session.refresh_token_hash, "refresh-hash-1");
    assert_eq!(
        session.session_data,
        serde_json::json!({"theme": "dark", "n": [1, 2.5, null], "s": "é ✓"})
    );
    assert_eq!(session.jwt_payload, serde_json::json!({"role": "admin"}));
    assert_eq!(session.expires_at, FAR);
    assert_eq!(session.created_at, 1_700_000_000_100);
    assert!(!session.use_static_key);
    assert_eq!(session.prev_refresh_token_hash, None);
    let keys = s.signing_keys(&app).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].value, "signing-key-material");

    let device = s
        .get_device(&public(), DEVICE)
        .await
        .unwrap()
        .expect("device");
    assert_eq!(device.link_code_salt, SALT);
    assert_eq!(device.failed_attempts, 1);
    assert_eq!(device.email.as_deref(), Some("carol@example.com"));
    let code = s
        .code_by_link_code_hash(&public(), LINK)
        .await
        .unwrap()
        .expect("code");
    assert_eq!(code.code_id, CODE_ID);
    assert_eq!(code.created_at, 1_700_000_000_200);
    let reset = s
        .get_password_reset_token(&app, "reset-token-hash")
        .await
        .unwrap()
        .expect("reset token");
    assert_eq!(reset.user_id, EP_USER);
    assert_eq!(reset.email.as_deref(), Some("alice@example.com"));
    assert_eq!(reset.token_expiry, FAR);
    let verify = s
        .get_email_verification_token(&public(), "verify-token-hash")
        .await
        .unwrap()
        .expect("verification token");
    assert_eq!(verify.email, "alice@example.com");
    assert!(
        s.is_email_verified(&app, TP_USER, "bob@example.com")
            .await
            .unwrap()
    );

    let kv = s.kv_get(&public(), "greeting").await.unwrap().expect("kv");
    assert_eq!(kv.value, "hello, world");
    assert_eq!(kv.created_at, 5);
    let config = s
        .get_tenant_config(&TenantConfigKey::new(t1()))
        .await
        .unwrap()
        .expect("tenant config");
    assert!(config.email_password_enabled && !config.passwordless_enabled);
    assert_eq!(config.first_factors, Some(vec!["emailpassword".to_owned()]));
    assert_eq!(
        config.core_config,
        serde_json::json!({"password_reset_token_lifetime": 3600000})
    );
    let google = &config.providers[0];
    assert_eq!(google.third_party_id, "google");
    assert_eq!(google.name.as_deref(), Some("Google"));
    assert_eq!(
        google.authorization_endpoint_query_params,
        Some(serde_json::json!({"prompt": "consent"}))
    );
    assert_eq!(google.require_email, Some(true));
    let client = &google.clients[0];
    assert_eq!(client.client_type, "web");
    assert_eq!(client.client_id, "client-id-1");
    assert_eq!(
        client.client_secret.as_ref().map(|c| c.expose()),
        Some("client-secret-1")
    );
    assert_eq!(
        client.scope,
        Some(vec!["openid".to_owned(), "email".to_owned()])
    );
}

async fn write(s: &dyn Storage) {
    let app = AppId::public();
    // The adopted session rotates (migration 2's grace columns) and keeps its data.
    let rotated = s
        .rotate_refresh_token(
            &public(),
            &RefreshRotation {
                handle: "handle-1",
                expected: "refresh-hash-1",
                new_hash: "refresh-hash-2",
                new_expiry: FAR,
                now: 1_700_000_001_000,
            },
        )
        .await
        .unwrap();
    assert_eq!(rotated, RotateOutcome::Rotated);
    let session = s.get_session(&public(), "handle-1").await.unwrap().unwrap();
    assert_eq!(session.refresh_token_hash, "refresh-hash-2");
    assert_eq!(
        session.prev_refresh_token_hash.as_deref(),
        Some("refresh-hash-1")
    );
    assert_eq!(session.jwt_payload, serde_json::json!({"role": "admin"}));

    // Sign-ups next to the adopted users; an adopted email is still taken.
    let dave = s
        .sign_up_email_password(&EmailPasswordSignUp {
            tenant: public(),
            user_id: "55555555-5555-4555-8555-555555555555".into(),
            email: "dave@example.com".into(),
            password_hash: Secret::new(HASH),
            time_joined: 1_700_000_002_000,
        })
        .await
        .unwrap();
    assert_eq!(dave.time_joined, 1_700_000_002_000);
    let taken = s
        .sign_up_email_password(&EmailPasswordSignUp {
            tenant: public(),
            user_id: "66666666-6666-4666-8666-666666666666".into(),
            email: "alice@example.com".into(),
            password_hash: Secret::new(HASH),
            time_joined: 1_700_000_002_001,
        })
        .await;
    assert!(
        matches!(taken, Err(StorageError::DuplicateEmail)),
        "{taken:?}"
    );
    // Bytes are compared, as the contract says, on MariaDB too after migration 2.
    assert!(
        s.list_users_by_email(&public(), "ALICE@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    s.sign_up_email_password(&EmailPasswordSignUp {
        tenant: public(),
        user_id: "77777777-7777-4777-8777-777777777777".into(),
        email: "ALICE@example.com".into(),
        password_hash: Secret::new(HASH),
        time_joined: 1_700_000_002_002,
    })
    .await
    .expect("a sign-up with another case is another email");

    s.create_code(
        &public(),
        &Code {
            code_id: "88888888-8888-4888-8888-888888888888".into(),
            device_id_hash: DEVICE.into(),
            link_code_hash: "YW5vdGhlci1saW5rLWNvZGUtaGFzaC1vZi00NC1jaGE=".into(),
            created_at: 1_700_000_003_000,
        },
    )
    .await
    .unwrap();
    assert_eq!(s.codes_of_device(&public(), DEVICE).await.unwrap().len(), 2);
    s.kv_set(
        &public(),
        "greeting",
        &KeyValue {
            value: "bye".into(),
            created_at: 6,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.kv_get(&public(), "greeting")
            .await
            .unwrap()
            .unwrap()
            .value,
        "bye"
    );

    // Deleting an adopted user removes its rows through the plugin's cascades.
    assert!(s.delete_user(&app, EP_USER).await.unwrap());
    assert!(s.get_user(&app, EP_USER).await.unwrap().is_none());
    assert!(
        s.get_password_reset_token(&app, "reset-token-hash")
            .await
            .unwrap()
            .is_none()
    );
}

/// A column missing, or of another type, is a refusal that lists each difference
/// and writes nothing (no history table).
async fn refuses_a_different_layout(server: Server) {
    with_scratch(server, |db| async move {
        db.run(db.server.phase1_ddl()).await;
        db.run("ALTER TABLE session_info DROP COLUMN use_static_key;\n")
            .await;
        let retype = match db.server {
            Server::Postgres => "ALTER TABLE thirdparty_users ALTER COLUMN email TYPE TEXT;\n",
            Server::Mariadb => "ALTER TABLE thirdparty_users MODIFY email VARCHAR(300) NOT NULL;\n",
        };
        db.run(retype).await;
        let storage = db.storage().await;
        let mut driver = storage.migration_driver().await.unwrap();
        let err = migrate::baseline(&mut *driver, &UpOptions::default())
            .await
            .expect_err("a different layout is refused");
        let BaselineError::Mismatch {
            version,
            differences,
            ..
        } = &err
        else {
            panic!("expected a mismatch, got {err}");
        };
        assert_eq!(*version, 1);
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(
            differences
                .iter()
                .any(|d| d.starts_with("session_info.use_static_key: missing")),
            "{differences:?}"
        );
        assert!(
            differences
                .iter()
                .any(|d| d.starts_with("thirdparty_users.email: type ")),
            "{differences:?}"
        );
        assert!(err.to_string().contains("nothing was written"), "{err}");
        drop(driver);
        storage.close().await;
        assert!(
            !db.tables().await.contains(&"schema_migrations".to_owned()),
            "baseline wrote its history table"
        );
    })
    .await;
}

/// A database with every table of the plugin: migrations 1 and 3 (phase 1, phase 2)
/// are checked and recorded, the project's migration 2 stays pending, and tables of
/// SuperTokens features this project does not manage are reported and left alone.
async fn reports_unmanaged_tables(server: Server) {
    with_scratch(server, |db| async move {
        run_plugin_blocks(&db, db.server.all_ddl()).await;
        let before = db.tables().await;
        let storage = db.storage().await;
        let (plan, report) = baseline_and_up(&*storage).await;
        let recorded: Vec<u32> = plan.to_record.iter().map(|f| f.version).collect();
        assert_eq!(recorded, vec![1, 3], "{plan:?}");
        assert_eq!(
            plan.left_pending,
            vec![
                (2, "project".to_owned()),
                (4, "linking".to_owned()),
                (5, "recipes".to_owned()),
                (6, "search".to_owned())
            ]
        );
        assert_eq!(report.applied.len(), 4);
        for t in ["oauth_clients", "webauthn_users", "bulk_import_users"] {
            assert!(
                plan.unmanaged_tables.contains(&t.to_owned()),
                "{t}: {plan:?}"
            );
        }
        for t in [
            "apps",
            "user_metadata",
            "roles",
            "totp_users",
            "userid_mapping",
        ] {
            assert!(
                !plan.unmanaged_tables.contains(&t.to_owned()),
                "{t}: {plan:?}"
            );
        }
        storage.close().await;
        let mut after = db.tables().await;
        after.retain(|t| t != "schema_migrations");
        assert_eq!(after, before, "tables were added or dropped");
    })
    .await;
}

/// Runs the plugin's DDL the way its core does at start-up: table by table, each
/// block (the table and its indexes) only when the table is missing. Returns how
/// many blocks ran.
async fn run_plugin_blocks(db: &Scratch, ddl: &str) -> usize {
    let existing = db.tables().await;
    let mut ran = 0;
    for (table, sql) in plugin_blocks(ddl) {
        if existing.contains(&table) {
            continue;
        }
        db.run(&sql).await;
        ran += 1;
    }
    ran
}

/// The `-- table` blocks of a `*-all.sql` file, in order.
fn plugin_blocks(ddl: &str) -> Vec<(String, String)> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in ddl.lines() {
        if let Some(rest) = line.strip_prefix("-- ") {
            let name = rest.split(' ').next().unwrap_or_default();
            let is_header = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && (rest == name || rest[name.len()..].starts_with(" ("));
            if is_header {
                blocks.push((name.to_owned(), String::new()));
            }
            continue;
        }
        if let Some((_, sql)) = blocks.last_mut() {
            sql.push_str(line);
            sql.push('\n');
        }
    }
    blocks.retain(|(_, sql)| !sql.trim().is_empty());
    blocks
}

/// The other direction: a SuperTokens core started on a database migrated here
/// creates every table it still misses (on MariaDB in a database whose default was
/// case-insensitive: migration 2 made it binary, so the new tables' foreign keys to
/// ours are well formed).
async fn core_adds_its_tables(server: Server) {
    with_scratch(server, |mut db| async move {
        let storage = db.storage().await;
        migrate_up(&*storage).await.expect("up");
        storage.close().await;
        db.reconnect().await;
        let ours = db.tables().await;
        let ran = run_plugin_blocks(&db, db.server.all_ddl()).await;
        let expected: Vec<String> = plugin_blocks(db.server.all_ddl())
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let missing = expected.iter().filter(|t| !ours.contains(t)).count();
        assert_eq!(ran, missing, "every table the core misses is created");
        let tables = db.tables().await;
        for t in &expected {
            assert!(tables.contains(t), "{t} missing after the core's start-up");
        }
        assert!(ran >= 10, "only {ran} blocks ran");
        // The storage still works beside them.
        let storage = db.storage().await;
        storage.add_tenant(&public(), 1).await.unwrap();
        storage.close().await;
    })
    .await;
}

/// A database migrated by the pre-release version 1: `status` and `up` stop with
/// what to do; doing it (down to 0, up) gives this release's layout.
async fn pre_release_v1_says_what_to_do(server: Server) {
    with_scratch(server, |db| async move {
        db.run(&migrate::render(db.server.pre_release_v1(), ""))
            .await;
        let storage = db.storage().await;
        let mut driver = storage.migration_driver().await.unwrap();
        driver.ensure_history_table().await.unwrap();
        driver
            .record(&migrate::HistoryRow {
                version: 1,
                name: "phase1".into(),
                checksum: migrate::checksum(db.server.pre_release_v1()),
                state: migrate::HistoryState::Applied,
                applied_at: 1,
                execution_ms: 1,
            })
            .await
            .unwrap();
        let err = migrate::status(&mut *driver)
            .await
            .unwrap()
            .check()
            .expect_err("a pre-release layout is reported");
        assert!(
            matches!(err, MigrateError::PreRelease { version: 1, .. }),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.contains("migrate down --to 0 --allow-data-loss")
                && message.contains("migrate up"),
            "{message}"
        );
        let up = migrate::up(&mut *driver, &UpOptions::default(), &mut |_| {}).await;
        assert!(matches!(up, Err(MigrateError::PreRelease { .. })), "{up:?}");

        migrate::down(&mut *driver, 0, &UpOptions::default(), &mut |_| {})
            .await
            .expect("down --to 0");
        let report = migrate::up(&mut *driver, &UpOptions::default(), &mut |_| {})
            .await
            .expect("up");
        assert_eq!(report.applied.len(), 6);
        drop(driver);
        storage.add_tenant(&public(), 1).await.unwrap();
        storage.close().await;
    })
    .await;
}

const DASH_USER: &str = "55555555-5555-4555-8555-555555555555";
const DASH_SESSION: &str = "66666666-6666-4666-8666-666666666666";

/// Phase-2 rows as a SuperTokens core writes them (contract-phase2 part B): metadata,
/// roles with permissions and assignments, a TOTP user with two devices and used
/// codes, a dashboard user with a session, and last-active times.
fn phase2_rows() -> String {
    format!(
        "INSERT INTO user_metadata (app_id, user_id, user_metadata) VALUES ('public', '{EP_USER}', '{{\"plan\":\"pro\",\"tags\":[\"a\",\"é\"],\"n\":{{\"x\":1.5}}}}');
INSERT INTO user_metadata (app_id, user_id, user_metadata) VALUES ('public', 'external-id-1', '{{}}');
INSERT INTO roles (app_id, role) VALUES ('public', 'admin');
INSERT INTO roles (app_id, role) VALUES ('public', 'viewer');
INSERT INTO role_permissions (app_id, role, permission) VALUES ('public', 'admin', 'read');
INSERT INTO role_permissions (app_id, role, permission) VALUES ('public', 'admin', 'write');
INSERT INTO role_permissions (app_id, role, permission) VALUES ('public', 'viewer', 'read');
INSERT INTO user_roles (app_id, tenant_id, user_id, role) VALUES ('public', 'public', '{EP_USER}', 'admin');
INSERT INTO user_roles (app_id, tenant_id, user_id, role) VALUES ('public', 't1', '{EP_USER}', 'viewer');
INSERT INTO totp_users (app_id, user_id) VALUES ('public', '{EP_USER}');
INSERT INTO totp_user_devices (app_id, user_id, device_name, secret_key, period, skew, verified, created_at) VALUES ('public', '{EP_USER}', 'phone', 'JBSWY3DPEHPK3PXP', 30, 1, TRUE, 1700000000300);
INSERT INTO totp_user_devices (app_id, user_id, device_name, secret_key, period, skew, verified, created_at) VALUES ('public', '{EP_USER}', 'laptop', 'KRSXG5DSNFXGOIDB', 60, 0, FALSE, 1700000000301);
INSERT INTO totp_used_codes (app_id, tenant_id, user_id, code, is_valid, expiry_time_ms, created_time_ms) VALUES ('public', 'public', '{EP_USER}', '123456', TRUE, {FAR}, 1700000000400);
INSERT INTO totp_used_codes (app_id, tenant_id, user_id, code, is_valid, expiry_time_ms, created_time_ms) VALUES ('public', 'public', '{EP_USER}', '000000', FALSE, {FAR}, 1700000000401);
INSERT INTO dashboard_users (app_id, user_id, email, password_hash, time_joined) VALUES ('public', '{DASH_USER}', 'admin@example.com', '{HASH}', 1700000000500);
INSERT INTO dashboard_user_sessions (app_id, session_id, user_id, time_created, expiry) VALUES ('public', '{DASH_SESSION}', '{DASH_USER}', 1700000000501, {FAR});
INSERT INTO user_last_active (app_id, user_id, last_active_time) VALUES ('public', '{EP_USER}', 1700000000600);
INSERT INTO user_last_active (app_id, user_id, last_active_time) VALUES ('public', '{TP_USER}', 1700086400600);
"
    )
}

/// A SuperTokens database with every plugin table and rows in each phase-2 table of
/// part B: adopted with `baseline` + `up`, every row reads back exactly.
async fn adopts_phase2_rows(server: Server) {
    with_scratch(server, |db| async move {
        run_plugin_blocks(&db, db.server.all_ddl()).await;
        db.run(&core_rows(db.server)).await;
        db.run(&phase2_rows()).await;
        let storage = db.storage().await;
        baseline_and_up(&*storage).await;
        let s = &*storage;
        let app = AppId::public();
        assert_eq!(
            s.get_user_metadata(&app, EP_USER).await.unwrap(),
            Some(serde_json::json!({"plan": "pro", "tags": ["a", "é"], "n": {"x": 1.5}}))
        );
        assert_eq!(
            s.get_user_metadata(&app, "external-id-1").await.unwrap(),
            Some(serde_json::json!({}))
        );
        assert_eq!(s.roles(&app).await.unwrap(), vec!["admin", "viewer"]);
        assert_eq!(
            s.permissions_of_role(&app, "admin").await.unwrap(),
            vec!["read", "write"]
        );
        assert_eq!(
            s.roles_with_permission(&app, "read").await.unwrap(),
            vec!["admin", "viewer"]
        );
        assert_eq!(
            s.roles_of_user(&public(), EP_USER).await.unwrap(),
            vec!["admin"]
        );
        assert_eq!(
            s.roles_of_user(&t1(), EP_USER).await.unwrap(),
            vec!["viewer"]
        );
        assert_eq!(
            s.totp_devices(&app, EP_USER).await.unwrap(),
            vec![
                TotpDevice {
                    user_id: EP_USER.into(),
                    device_name: "laptop".into(),
                    secret_key: Secret::new("KRSXG5DSNFXGOIDB"),
                    period: 60,
                    skew: 0,
                    verified: false,
                    created_at: 1_700_000_000_301,
                },
                TotpDevice {
                    user_id: EP_USER.into(),
                    device_name: "phone".into(),
                    secret_key: Secret::new("JBSWY3DPEHPK3PXP"),
                    period: 30,
                    skew: 1,
                    verified: true,
                    created_at: 1_700_000_000_300,
                },
            ]
        );
        let codes = run_transaction(s, &TxOptions::default(), |tx| {
            Box::pin(async move {
                Ok::<_, TxError<()>>(tx.used_totp_codes_for_update(&public(), EP_USER).await?)
            })
        })
        .await
        .unwrap();
        let code = |c: &str, valid, created| TotpUsedCode {
            user_id: EP_USER.into(),
            code: c.into(),
            is_valid: valid,
            expiry_time: FAR,
            created_time: created,
        };
        assert_eq!(
            codes,
            vec![
                code("000000", false, 1_700_000_000_401),
                code("123456", true, 1_700_000_000_400)
            ]
        );
        assert_eq!(
            s.jwt_signing_keys(&app).await.unwrap(),
            vec![JwtSigningKey {
                key_id: "kid-1".into(),
                algorithm: "RS256".into(),
                key_string: Secret::new("jwt-key-material"),
                created_at: 1_700_000_000_000,
            }]
        );
        let dash = DashboardUser {
            user_id: DASH_USER.into(),
            email: "admin@example.com".into(),
            password_hash: Secret::new(HASH),
            time_joined: 1_700_000_000_500,
        };
        assert_eq!(
            s.list_dashboard_users(&app).await.unwrap(),
            vec![dash.clone()]
        );
        assert_eq!(
            s.get_dashboard_user_by_email(&app, "admin@example.com")
                .await
                .unwrap(),
            Some(dash)
        );
        assert_eq!(
            s.dashboard_sessions_of_user(&app, DASH_USER).await.unwrap(),
            vec![DashboardSession {
                session_id: DASH_SESSION.into(),
                user_id: DASH_USER.into(),
                time_created: 1_700_000_000_501,
                expiry: FAR,
            }]
        );
        assert_eq!(
            s.last_active(&app, EP_USER).await.unwrap(),
            Some(1_700_000_000_600)
        );
        assert_eq!(
            s.count_active_since(&app, 1_700_000_000_000).await.unwrap(),
            2
        );
        assert_eq!(
            s.count_active_by_day(&app, 1_699_920_000_000, 1_700_179_200_000)
                .await
                .unwrap(),
            vec![(1_699_920_000_000, 1), (1_700_006_400_000, 1)]
        );
        // And it is written through as well.
        assert!(!s.create_role(&app, "admin").await.unwrap());
        s.add_role_to_user(&t1(), EP_USER, "admin").await.unwrap();
        s.update_last_active(&app, EP_USER, 1_700_000_000_700)
            .await
            .unwrap();
        storage.close().await;
    })
    .await;
}

/// Linked accounts and user-id mappings as a SuperTokens core writes them: alice
/// (email-password) is primary with bob (third-party) linked to her; carol
/// (passwordless) has an external id.
fn linked_rows(server: Server) -> String {
    let mut s = String::new();
    for id in [EP_USER, TP_USER] {
        s.push_str(&format!(
            "UPDATE app_id_to_user_id SET primary_or_recipe_user_id = '{EP_USER}', \
             is_linked_or_is_a_primary_user = TRUE WHERE app_id = 'public' AND user_id = '{id}';\n\
             UPDATE all_auth_recipe_users SET primary_or_recipe_user_id = '{EP_USER}', \
             is_linked_or_is_a_primary_user = TRUE, primary_or_recipe_user_time_joined = 1700000000001 \
             WHERE app_id = 'public' AND user_id = '{id}';\n"
        ));
    }
    if server == Server::Postgres {
        s.push_str(&format!(
            "UPDATE app_id_to_user_id SET primary_or_recipe_user_time_joined = 1700000000001 \
             WHERE app_id = 'public' AND user_id IN ('{EP_USER}', '{TP_USER}');\n"
        ));
    }
    s.push_str(&format!(
        "INSERT INTO userid_mapping (app_id, supertokens_user_id, external_user_id, external_user_id_info) \
         VALUES ('public', '{PL_USER}', 'ext-carol', 'from auth0');\n"
    ));
    s
}

/// A SuperTokens database with every plugin table, linked accounts and a mapping:
/// adopted with `baseline` + `up`, the groups and the mapping read back right, and
/// linking goes on from there.
async fn adopts_linked_accounts(server: Server) {
    with_scratch(server, |db| async move {
        run_plugin_blocks(&db, db.server.all_ddl()).await;
        db.run(&core_rows(db.server)).await;
        db.run(&linked_rows(db.server)).await;
        let storage = db.storage().await;
        let (plan, report) = baseline_and_up(&*storage).await;
        assert!(
            plan.to_record.iter().any(|m| m.version == 3),
            "the phase-2 tables are adopted: {plan:?}"
        );
        assert!(!report.applied.is_empty(), "{report:?}");
        let s = &*storage;
        let app = AppId::public();
        let group = s.get_user(&app, TP_USER).await.unwrap().expect("group");
        assert_eq!(group.id, EP_USER);
        assert!(group.is_primary);
        assert_eq!(group.time_joined, 1_700_000_000_001);
        let methods: Vec<&str> = group
            .login_methods
            .iter()
            .map(|m| m.recipe_user_id.as_str())
            .collect();
        assert_eq!(methods, vec![EP_USER, TP_USER]);
        assert_eq!(
            group.tenant_ids,
            vec![TenantId::public(), TenantId::new("t1").unwrap()]
        );
        assert_eq!(
            s.get_user(&app, EP_USER).await.unwrap().as_ref(),
            Some(&group)
        );
        assert_eq!(
            s.primary_user_id_of(&app, TP_USER)
                .await
                .unwrap()
                .as_deref(),
            Some(EP_USER)
        );
        let carol = s.get_user(&app, PL_USER).await.unwrap().expect("carol");
        assert!(!carol.is_primary);
        assert!(s.uses_account_linking(&app).await.unwrap());
        assert_eq!(
            s.count_users_with_more_than_one_login_method(&app)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.count_users(&UserScope::App(app.clone()), &[])
                .await
                .unwrap(),
            2
        );
        let page = s
            .list_users(&ListUsers {
                tenant: public(),
                limit: 10,
                order: TimeJoinedOrder::Asc,
                recipes: vec![],
                search: Default::default(),
                after: None,
            })
            .await
            .unwrap();
        let ids: Vec<&str> = page.users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, vec![EP_USER, PL_USER]);
        let mapping = s
            .get_user_id_mapping(&app, "ext-carol", UserIdType::External)
            .await
            .unwrap();
        assert_eq!(
            mapping,
            vec![UserIdMapping {
                supertokens_user_id: PL_USER.into(),
                external_user_id: "ext-carol".into(),
                external_user_id_info: Some("from auth0".into()),
            }]
        );
        // Linking goes on: carol joins the group, the mapping stays.
        assert_eq!(
            s.link(&app, PL_USER, TP_USER).await.unwrap(),
            LinkOutcome::Linked
        );
        let group = s.get_user(&app, PL_USER).await.unwrap().expect("group");
        assert_eq!((group.id.as_str(), group.login_methods.len()), (EP_USER, 3));
        assert_eq!(
            s.get_user_id_mapping(&app, PL_USER, UserIdType::Any)
                .await
                .unwrap()
                .len(),
            1
        );
        storage.close().await;
    })
    .await;
}

macro_rules! on_server {
    ($module:ident, $server:expr) => {
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn adopts_and_serves() {
                super::adopts_and_serves($server).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn adopts_phase2_rows() {
                super::adopts_phase2_rows($server).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn adopts_linked_accounts() {
                super::adopts_linked_accounts($server).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn refuses_a_different_layout() {
                super::refuses_a_different_layout($server).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reports_unmanaged_tables() {
                super::reports_unmanaged_tables($server).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn core_adds_its_tables() {
                super::core_adds_its_tables($server).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pre_release_v1_says_what_to_do() {
                super::pre_release_v1_says_what_to_do($server).await
            }
        }
    };
}

on_server!(postgres, Server::Postgres);
on_server!(mariadb, Server::Mariadb);

#[test]
fn plugin_blocks_are_read_table_by_table() {
    let pg = plugin_blocks(Server::Postgres.all_ddl());
    let my = plugin_blocks(Server::Mariadb.all_ddl());
    assert_eq!(pg.len(), 52);
    assert_eq!(my.len(), 45);
    assert_eq!(pg[0].0, "apps");
    assert!(my.iter().any(|(t, _)| t == "totp_used_codes"));
}
