//! Persistence through plain SQL (contract 7): a sample of writes read back from the
//! tables of schema.md with the backend's own driver, rows written by plain SQL read
//! through the API, and the table-name prefix.

use super::fixtures::*;
use crate::harness::Ctx;
use serde_json::json;
use storage_api::*;

type Rows = Vec<Vec<Option<String>>>;

#[track_caller]
fn one(rows: Rows, what: &str) -> Vec<Option<String>> {
    assert_eq!(rows.len(), 1, "expected one {what} row, got {rows:?}");
    rows.into_iter().next().unwrap()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// Email-password sign-up writes the four tables of schema.md.
pub async fn persist_email_password_sign_up(ctx: Ctx) {
    let t = setup_tenant(&ctx, "public", "t1").await;
    let mut input = ep_input(&t, "persist@example.com", 1_234);
    input.password_hash = Secret::new("$2a$10$persisted");
    ctx.storage.sign_up_email_password(&input).await.unwrap();
    let id = &input.user_id;
    let w = format!("app_id = 'public' AND user_id = '{id}'");
    let r = one(
        select(&ctx, "recipe_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, time_joined, primary_or_recipe_user_time_joined", "app_id_to_user_id", &w).await,
        "app_id_to_user_id",
    );
    assert_eq!(
        (&r[0], &r[1], &r[3], &r[4]),
        (&s("emailpassword"), &s(id), &s("1234"), &s("1234"))
    );
    assert!(falsy(&r[2]), "is_linked_or_is_a_primary_user: {:?}", r[2]);
    let r = one(
        select(&ctx, "tenant_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, recipe_id, time_joined, primary_or_recipe_user_time_joined", "all_auth_recipe_users", &w).await,
        "all_auth_recipe_users",
    );
    assert_eq!(
        (&r[0], &r[1], &r[3], &r[4], &r[5]),
        (
            &s("t1"),
            &s(id),
            &s("emailpassword"),
            &s("1234"),
            &s("1234")
        )
    );
    assert!(falsy(&r[2]));
    let r = one(
        select(
            &ctx,
            "email, password_hash, time_joined",
            "emailpassword_users",
            &w,
        )
        .await,
        "emailpassword_users",
    );
    assert_eq!(
        r,
        vec![s("persist@example.com"), s("$2a$10$persisted"), s("1234")]
    );
    let r = one(
        select(&ctx, "tenant_id, email", "emailpassword_user_to_tenant", &w).await,
        "emailpassword_user_to_tenant",
    );
    assert_eq!(r, vec![s("t1"), s("persist@example.com")]);
}

/// Third-party sign-up writes its recipe tables.
pub async fn persist_third_party_sign_up(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let u = tp_user(&ctx, &t, "tp@example.com", "github", "gh-77", 55).await;
    let w = format!("app_id = 'public' AND user_id = '{}'", u.id);
    let r = one(
        select(
            &ctx,
            "third_party_id, third_party_user_id, email, time_joined",
            "thirdparty_users",
            &w,
        )
        .await,
        "thirdparty_users",
    );
    assert_eq!(
        r,
        vec![s("github"), s("gh-77"), s("tp@example.com"), s("55")]
    );
    let r = one(
        select(
            &ctx,
            "tenant_id, third_party_id, third_party_user_id",
            "thirdparty_user_to_tenant",
            &w,
        )
        .await,
        "thirdparty_user_to_tenant",
    );
    assert_eq!(r, vec![s("public"), s("github"), s("gh-77")]);
    let r = one(
        select(&ctx, "recipe_id", "all_auth_recipe_users", &w).await,
        "all_auth_recipe_users",
    );
    assert_eq!(r, vec![s("thirdparty")]);
}

/// Passwordless users: a missing phone is NULL, not an empty string.
pub async fn persist_passwordless_user(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = pl_user(&ctx, &t, Some("pl@example.com"), None, 66).await;
    let b = pl_user(&ctx, &t, None, Some("+15557070"), 67).await;
    let w = |id: &str| format!("app_id = 'public' AND user_id = '{id}'");
    let r = one(
        select(
            &ctx,
            "email, phone_number, time_joined",
            "passwordless_users",
            &w(&a.id),
        )
        .await,
        "passwordless_users",
    );
    assert_eq!(r, vec![s("pl@example.com"), None, s("66")]);
    let r = one(
        select(
            &ctx,
            "email, phone_number, time_joined",
            "passwordless_users",
            &w(&b.id),
        )
        .await,
        "passwordless_users",
    );
    assert_eq!(r, vec![None, s("+15557070"), s("67")]);
    let r = one(
        select(
            &ctx,
            "tenant_id, email, phone_number",
            "passwordless_user_to_tenant",
            &w(&b.id),
        )
        .await,
        "passwordless_user_to_tenant",
    );
    assert_eq!(r, vec![s("public"), None, s("+15557070")]);
    let r = one(
        select(&ctx, "recipe_id", "app_id_to_user_id", &w(&a.id)).await,
        "app_id_to_user_id",
    );
    assert_eq!(r, vec![s("passwordless")]);
}

/// A session row before and after rotation.
pub async fn persist_session_create_and_rotate(ctx: Ctx) {
    let t = setup_tenant(&ctx, "public", "t1").await;
    let mut sess = session(&t, "user-p");
    sess.use_static_key = true;
    ctx.storage.create_session(&sess).await.unwrap();
    let w = format!(
        "app_id = 'public' AND tenant_id = 't1' AND session_handle = '{}'",
        sess.handle
    );
    let cols = "user_id, refresh_token_hash_2, session_data, expires_at, created_at_time, jwt_user_payload, use_static_key, prev_refresh_token_hash_2, refresh_token_rotated_at";
    let r = one(select(&ctx, cols, "session_info", &w).await, "session_info");
    assert_eq!(
        (&r[0], &r[1]),
        (&s("user-p"), &Some(sess.refresh_token_hash.clone()))
    );
    assert_eq!(json_cell(&r[2]), sess.session_data);
    assert_eq!(
        (&r[3], &r[4]),
        (&Some((NOW + HOUR).to_string()), &Some(NOW.to_string()))
    );
    assert_eq!(json_cell(&r[5]), sess.jwt_payload);
    assert!(truthy(&r[6]), "use_static_key: {:?}", r[6]);
    assert_eq!((&r[7], &r[8]), (&None, &None));
    let out = ctx
        .storage
        .rotate_refresh_token(
            &t,
            &RefreshRotation {
                handle: &sess.handle,
                expected: &sess.refresh_token_hash,
                new_hash: "rotated-hash",
                new_expiry: NOW + 7 * HOUR,
                now: NOW + 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(out, RotateOutcome::Rotated);
    let r = one(select(&ctx, cols, "session_info", &w).await, "session_info");
    assert_eq!(r[1], s("rotated-hash"));
    assert_eq!(r[3], Some((NOW + 7 * HOUR).to_string()));
    assert_eq!(r[7], Some(sess.refresh_token_hash.clone()));
    assert_eq!(r[8], Some((NOW + 3).to_string()));
    ctx.storage
        .update_session(&t, &sess.handle, Some(&json!({"after": "update"})), None)
        .await
        .unwrap();
    let r = one(
        select(&ctx, "session_data", "session_info", &w).await,
        "session_info",
    );
    assert_eq!(json_cell(&r[0]), json!({"after": "update"}));
}

/// A device with codes, and the failed-attempts counter.
pub async fn persist_device_and_codes(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let d = create_device(&ctx, &t, Some("dev@example.com"), None, 321).await;
    let w = format!(
        "app_id = 'public' AND tenant_id = 'public' AND device_id_hash = '{}'",
        d.device_id_hash
    );
    let r = one(
        select(
            &ctx,
            "email, phone_number, link_code_salt, failed_attempts",
            "passwordless_devices",
            &w,
        )
        .await,
        "passwordless_devices",
    );
    assert_eq!(
        r,
        vec![
            s("dev@example.com"),
            None,
            Some(d.link_code_salt.clone()),
            s("0")
        ]
    );
    let r = one(
        select(
            &ctx,
            "code_id, link_code_hash, created_at",
            "passwordless_codes",
            &w,
        )
        .await,
        "passwordless_codes",
    );
    assert_eq!(
        r,
        vec![
            Some(d.code.code_id.clone()),
            Some(d.code.link_code_hash.clone()),
            s("321")
        ]
    );
    let (tc, dh) = (t.clone(), d.device_id_hash.clone());
    run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, dh) = (tc.clone(), dh.clone());
        Box::pin(async move {
            tx.increment_failed_attempts(&t, &dh).await?;
            Ok::<_, TxError<()>>(())
        })
    })
    .await
    .unwrap();
    let r = one(
        select(&ctx, "failed_attempts", "passwordless_devices", &w).await,
        "passwordless_devices",
    );
    assert_eq!(r, vec![s("1")]);
}

/// A tenant config with providers, clients and factors in its five tables.
pub async fn persist_tenant_config(ctx: Ctx) {
    let t = tenant("cfg", "t1");
    let c = full_config(&t);
    ctx.storage.create_tenant_config(&c).await.unwrap();
    let w = "connection_uri_domain = '' AND app_id = 'cfg' AND tenant_id = 't1'";
    let r = one(
        select(&ctx, "core_config, email_password_enabled, passwordless_enabled, third_party_enabled, is_first_factors_null", "tenant_configs", w).await,
        "tenant_configs",
    );
    assert_eq!(json_cell(&r[0]), c.core_config);
    assert!(
        truthy(&r[1]) && falsy(&r[2]) && truthy(&r[3]),
        "flags: {r:?}"
    );
    assert!(falsy(&r[4]), "is_first_factors_null: {:?}", r[4]);
    let r = one(
        select(&ctx, "name, authorization_endpoint, authorization_endpoint_query_params, require_email, user_info_map_from_id_token_payload_user_id, user_info_map_from_user_info_endpoint_email", "tenant_thirdparty_providers", &format!("{w} AND third_party_id = 'google'")).await,
        "tenant_thirdparty_providers",
    );
    assert_eq!(
        (&r[0], &r[1]),
        (
            &s("Google"),
            &s("https://accounts.google.com/o/oauth2/v2/auth")
        )
    );
    assert_eq!(json_cell(&r[2]), json!({"prompt": "consent"}));
    assert!(truthy(&r[3]));
    assert_eq!((&r[4], &r[5]), (&s("sub"), &None));
    let rows = select(
        &ctx,
        "client_type, client_id, client_secret, scope, force_pkce, additional_config",
        "tenant_thirdparty_provider_clients",
        &format!("{w} AND third_party_id = 'google' ORDER BY client_type"),
    )
    .await;
    assert_eq!(rows.len(), 2, "clients: {rows:?}");
    let (ios, web) = (&rows[0], &rows[1]);
    assert_eq!(
        (&ios[0], &ios[1], &ios[2], &ios[3]),
        (&s("ios"), &s("ios-client-id"), &None, &None)
    );
    assert!(falsy(&ios[4]));
    assert_eq!(
        (&web[0], &web[1], &web[2]),
        (&s("web"), &s("web-client-id"), &s("web-secret"))
    );
    let scope = web[3].clone().expect("scope is NULL");
    assert!(
        scope.contains("openid") && scope.contains("email"),
        "scope: {scope}"
    );
    assert!(truthy(&web[4]));
    assert_eq!(json_cell(&web[5]), json!({"hd": "example.com"}));
    let rows = select(
        &ctx,
        "factor_id",
        "tenant_first_factors",
        &format!("{w} ORDER BY factor_id"),
    )
    .await;
    assert_eq!(rows, vec![vec![s("emailpassword")], vec![s("otp-email")]]);
    let rows = select(&ctx, "factor_id", "tenant_required_secondary_factors", w).await;
    assert_eq!(rows, vec![vec![s("totp")]]);
    // Absent first factors are recorded as such.
    let mut c2 = TenantConfig::new(TenantConfigKey::new(tenant("cfg", "t2")));
    c2.first_factors = None;
    ctx.storage.create_tenant_config(&c2).await.unwrap();
    let r = one(
        select(
            &ctx,
            "is_first_factors_null",
            "tenant_configs",
            "app_id = 'cfg' AND tenant_id = 't2'",
        )
        .await,
        "tenant_configs",
    );
    assert!(truthy(&r[0]), "is_first_factors_null: {:?}", r[0]);
}

/// Password-reset tokens, email-verification tokens and verified emails.
pub async fn persist_tokens_and_verified_emails(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let u = ep_user(&ctx, &t, "tok@example.com", 1).await;
    let r = reset_token(&t.app, &u.id, NOW + 11);
    ctx.storage.add_password_reset_token(&r).await.unwrap();
    let row = one(
        select(
            &ctx,
            "user_id, token, email, token_expiry",
            "emailpassword_pswd_reset_tokens",
            "app_id = 'public'",
        )
        .await,
        "reset token",
    );
    assert_eq!(
        row,
        vec![
            Some(u.id.clone()),
            Some(r.token.clone()),
            s("reset@example.com"),
            Some((NOW + 11).to_string())
        ]
    );
    let e = ev_token(&t, &u.id, "tok@example.com", NOW + 12);
    ctx.storage.add_email_verification_token(&e).await.unwrap();
    let row = one(
        select(
            &ctx,
            "tenant_id, user_id, email, token, token_expiry",
            "emailverification_tokens",
            "app_id = 'public'",
        )
        .await,
        "ev token",
    );
    assert_eq!(
        row,
        vec![
            s("public"),
            Some(u.id.clone()),
            s("tok@example.com"),
            Some(e.token.clone()),
            Some((NOW + 12).to_string())
        ]
    );
    ctx.storage
        .set_email_verified(&t.app, &u.id, "tok@example.com", true)
        .await
        .unwrap();
    let row = one(
        select(
            &ctx,
            "user_id, email",
            "emailverification_verified_emails",
            "app_id = 'public'",
        )
        .await,
        "verified email",
    );
    assert_eq!(row, vec![Some(u.id.clone()), s("tok@example.com")]);
}

/// Apps, tenants, key/value rows and signing keys.
pub async fn persist_kv_tenants_and_keys(ctx: Ctx) {
    ctx.storage
        .add_tenant(&tenant("pa", "public"), 111)
        .await
        .unwrap();
    ctx.storage
        .add_tenant(&tenant("pa", "t9"), 222)
        .await
        .unwrap();
    let r = one(
        select(&ctx, "created_at_time", "apps", "app_id = 'pa'").await,
        "apps",
    );
    assert_eq!(r, vec![s("111")]);
    let rows = select(
        &ctx,
        "tenant_id, created_at_time",
        "tenants",
        "app_id = 'pa' ORDER BY tenant_id",
    )
    .await;
    assert_eq!(
        rows,
        vec![vec![s("public"), s("111")], vec![s("t9"), s("222")]]
    );
    let t = tenant("pa", "t9");
    ctx.storage
        .kv_set(&t, "feature", &kv("on", 333))
        .await
        .unwrap();
    ctx.storage
        .kv_set(&t, "feature", &kv("off", 444))
        .await
        .unwrap();
    let r = one(
        select(
            &ctx,
            "value, created_at_time",
            "key_value",
            "app_id = 'pa' AND tenant_id = 't9' AND name = 'feature'",
        )
        .await,
        "key_value",
    );
    assert_eq!(r, vec![s("off"), s("444")]);
    add_signing_key(&ctx, &t.app, signing_key(555)).await;
    let r = one(
        select(
            &ctx,
            "created_at_time, value",
            "session_access_token_signing_keys",
            "app_id = 'pa'",
        )
        .await,
        "signing key",
    );
    assert_eq!(r, vec![s("555"), s("key-material-555")]);
}

/// Membership and email changes update every denormalised row.
pub async fn persist_membership_and_email_change(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let u = ep_user(&ctx, &t, "before@example.com", 5).await;
    ctx.storage.add_user_to_tenant(&t1, &u.id).await.unwrap();
    let w = format!(
        "app_id = 'public' AND user_id = '{}' ORDER BY tenant_id",
        u.id
    );
    let rows = select(
        &ctx,
        "tenant_id, recipe_id, time_joined",
        "all_auth_recipe_users",
        &w,
    )
    .await;
    assert_eq!(
        rows,
        vec![
            vec![s("public"), s("emailpassword"), s("5")],
            vec![s("t1"), s("emailpassword"), s("5")]
        ]
    );
    ctx.storage
        .update_email_password_email(&t.app, &u.id, "after@example.com")
        .await
        .unwrap();
    let rows = select(&ctx, "tenant_id, email", "emailpassword_user_to_tenant", &w).await;
    assert_eq!(
        rows,
        vec![
            vec![s("public"), s("after@example.com")],
            vec![s("t1"), s("after@example.com")]
        ]
    );
    let r = one(
        select(
            &ctx,
            "email",
            "emailpassword_users",
            &format!("app_id = 'public' AND user_id = '{}'", u.id),
        )
        .await,
        "emailpassword_users",
    );
    assert_eq!(r, vec![s("after@example.com")]);
    ctx.storage
        .remove_user_from_tenant(&t1, &u.id)
        .await
        .unwrap();
    assert_eq!(
        count(
            &ctx,
            "emailpassword_user_to_tenant",
            &format!("user_id = '{}'", u.id)
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &ctx,
            "all_auth_recipe_users",
            &format!("user_id = '{}'", u.id)
        )
        .await,
        1
    );
    assert_eq!(
        count(&ctx, "app_id_to_user_id", &format!("user_id = '{}'", u.id)).await,
        1
    );
}

/// Rows written with plain SQL, as another SuperTokens-compatible core would write
/// them, are served by the API.
pub async fn persist_rows_written_by_sql_are_served(ctx: Ctx) {
    let id = uid();
    let stmts = [
        format!(
            "INSERT INTO {} (app_id, created_at_time) VALUES ('raw', 1)",
            ctx.table("apps")
        ),
        format!(
            "INSERT INTO {} (app_id, tenant_id, created_at_time) VALUES ('raw', 'public', 1)",
            ctx.table("tenants")
        ),
        format!(
            "INSERT INTO {} (app_id, tenant_id, name, value, created_at_time) VALUES ('raw', 'public', 'k', 'from-sql', 9)",
            ctx.table("key_value")
        ),
        format!(
            "INSERT INTO {} (app_id, tenant_id, session_handle, user_id, refresh_token_hash_2, session_data, expires_at, created_at_time, jwt_user_payload, use_static_key) VALUES ('raw', 'public', 'raw-handle', 'raw-user', 'raw-hash', '{{\"a\":1}}', {}, {}, '{{\"b\":2}}', FALSE)",
            ctx.table("session_info"),
            NOW + HOUR,
            NOW
        ),
        format!(
            "INSERT INTO {} (app_id, user_id, recipe_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, time_joined, primary_or_recipe_user_time_joined) VALUES ('raw', '{id}', 'emailpassword', '{id}', FALSE, 77, 77)",
            ctx.table("app_id_to_user_id")
        ),
        format!(
            "INSERT INTO {} (app_id, tenant_id, user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, recipe_id, time_joined, primary_or_recipe_user_time_joined) VALUES ('raw', 'public', '{id}', '{id}', FALSE, 'emailpassword', 77, 77)",
            ctx.table("all_auth_recipe_users")
        ),
        format!(
            "INSERT INTO {} (app_id, user_id, email, password_hash, time_joined) VALUES ('raw', '{id}', 'sql@example.com', 'sql-hash', 77)",
            ctx.table("emailpassword_users")
        ),
        format!(
            "INSERT INTO {} (app_id, tenant_id, user_id, email) VALUES ('raw', 'public', '{id}', 'sql@example.com')",
            ctx.table("emailpassword_user_to_tenant")
        ),
        format!(
            "INSERT INTO {} (app_id, created_at_time, value) VALUES ('raw', 12, 'sql-key')",
            ctx.table("session_access_token_signing_keys")
        ),
    ];
    for stmt in &stmts {
        ctx.raw.execute(stmt).await;
    }
    let t = tenant("raw", "public");
    assert_eq!(
        ctx.storage.kv_get(&t, "k").await.unwrap(),
        Some(kv("from-sql", 9))
    );
    let sess = ctx
        .storage
        .get_session(&t, "raw-handle")
        .await
        .unwrap()
        .expect("raw session");
    assert_eq!(
        (sess.user_id.as_str(), sess.refresh_token_hash.as_str()),
        ("raw-user", "raw-hash")
    );
    assert_eq!(
        (sess.session_data, sess.jwt_payload),
        (json!({"a": 1}), json!({"b": 2}))
    );
    assert!(!sess.use_static_key);
    let u = ctx
        .storage
        .get_user(&t.app, &id)
        .await
        .unwrap()
        .expect("raw user");
    assert_eq!(u.time_joined, 77);
    assert_eq!(u.login_methods[0].email.as_deref(), Some("sql@example.com"));
    assert_eq!(
        u.login_methods[0]
            .password_hash
            .as_ref()
            .map(Secret::expose),
        Some("sql-hash")
    );
    assert_eq!(tenant_names(&u.tenant_ids), vec!["public"]);
    assert_eq!(
        ids(&ctx
            .storage
            .list_users_by_email(&t, "sql@example.com")
            .await
            .unwrap()),
        vec![id.clone()]
    );
    assert_eq!(
        ctx.storage.signing_keys(&t.app).await.unwrap(),
        vec![SigningKey {
            created_at: 12,
            value: "sql-key".into()
        }]
    );
    // And the API's uniqueness holds against them.
    let r = ctx
        .storage
        .sign_up_email_password(&ep_input(&t, "sql@example.com", 78))
        .await;
    assert!(matches!(r, Err(StorageError::DuplicateEmail)), "got {r:?}");
}

/// With a table prefix every table is named `st_<base>`; the suite's own writes and
/// reads go to the prefixed tables.
pub async fn persist_prefixed_tables(ctx: Ctx) {
    assert_eq!(ctx.prefix, "st_", "this test runs with the prefix `st`");
    assert_eq!(ctx.table("session_info"), "st_session_info");
    let data = populate(&ctx, "pre").await;
    for table in APP_TABLES.iter().filter(|t| !CONFIG_TABLES.contains(t)) {
        assert!(
            app_rows(&ctx, table, &data.app).await > 0,
            "st_{table} holds no row"
        );
    }
    ctx.storage
        .create_tenant_config(&full_config(&data.t1.tenant))
        .await
        .unwrap();
    for table in CONFIG_TABLES {
        assert!(
            app_rows(&ctx, table, &data.app).await > 0,
            "st_{table} holds no row"
        );
    }
    assert!(ctx.storage.delete_app(&data.app).await.unwrap());
    for table in APP_TABLES.iter().filter(|t| !CONFIG_TABLES.contains(t)) {
        assert_eq!(
            app_rows(&ctx, table, &data.app).await,
            0,
            "st_{table} kept rows"
        );
    }
}

/// Migrating an up-to-date database applies nothing, reports every migration
/// applied, and keeps the data.
pub async fn persist_migrations_idempotent(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let u = ep_user(&ctx, &t, "kept@example.com", 1).await;
    let report = storage_api::migrate_up(&*ctx.storage)
        .await
        .expect("second migrate_up");
    assert!(
        report.applied.is_empty(),
        "re-applied: {:?}",
        report.applied
    );
    let mut driver = ctx.storage.migration_driver().await.unwrap();
    let status = storage_api::migrate::status(&mut *driver).await.unwrap();
    assert!(!status.migrations.is_empty(), "no migrations known");
    assert!(
        status.pending().is_empty(),
        "pending: {:?}",
        status.pending()
    );
    assert!(status.unknown.is_empty());
    status.check().expect("history consistent");
    drop(driver);
    assert!(ctx.storage.get_user(&t.app, &u.id).await.unwrap().is_some());
    for table in APP_TABLES {
        // Every phase-1 table exists under its schema.md name.
        ctx.raw
            .count(&format!("SELECT COUNT(*) FROM {}", ctx.table(table)))
            .await;
    }
}
