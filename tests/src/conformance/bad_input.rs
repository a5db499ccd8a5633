//! Bad input (contract 3, `InvalidInput`; contract 6, `Config`): over-long values, empty
//! ids, NUL bytes and malformed ids are rejected before the database sees them with a
//! message naming the field, never truncated; unusual Unicode and SQL metacharacters
//! are stored and read back byte for byte; URIs never leak their password.

use super::fixtures::*;
use crate::harness::Ctx;
use serde_json::json;
use storage_api::*;

/// An email of `n` characters.
fn email_of(n: usize) -> String {
    let domain = "@example.com";
    format!("{}{domain}", "a".repeat(n - domain.len()))
}

/// Emails longer than 256 characters are refused by every recipe; 256 is accepted.
pub async fn bad_email_too_long(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let long = email_of(257);
    assert_invalid(
        ctx.storage
            .sign_up_email_password(&ep_input(&t, &long, 1))
            .await,
        "email",
    );
    assert_invalid(
        ctx.storage
            .sign_up_third_party(&tp_input(&t, &long, "g", "s", 1))
            .await,
        "email",
    );
    assert_invalid(
        ctx.storage
            .create_passwordless_user(&pl_input(&t, Some(&long), None, 1))
            .await,
        "email",
    );
    let u = ep_user(&ctx, &t, &email_of(256), 1).await;
    assert_eq!(
        u.login_methods[0].email.as_deref(),
        Some(email_of(256).as_str())
    );
    assert_invalid(
        ctx.storage
            .update_email_password_email(&t.app, &u.id, &long)
            .await,
        "email",
    );
    assert_invalid(
        ctx.storage
            .create_device_with_code(&device(&t, Some(&long), None, 1))
            .await,
        "email",
    );
    assert_invalid(
        ctx.storage
            .add_email_verification_token(&ev_token(&t, "u", &long, 1))
            .await,
        "email",
    );
    assert_invalid(
        ctx.storage
            .set_email_verified(&t.app, "u", &long, true)
            .await,
        "email",
    );
    let got = ctx.storage.get_user(&t.app, &u.id).await.unwrap().unwrap();
    assert_eq!(
        got.login_methods[0].email.as_deref(),
        Some(email_of(256).as_str()),
        "nothing truncated"
    );
    assert_eq!(app_rows(&ctx, "emailpassword_users", &t.app).await, 1);
    assert_eq!(app_rows(&ctx, "passwordless_devices", &t.app).await, 0);
}

/// Session handle over 255, user id over 128, refresh-token hash over 128.
pub async fn bad_session_fields_too_long(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mut s = session(&t, "u");
    s.handle = "h".repeat(256);
    assert_invalid(ctx.storage.create_session(&s).await, "handle");
    let mut s = session(&t, &"u".repeat(129));
    assert_invalid(ctx.storage.create_session(&s).await, "user_id");
    s = session(&t, "u");
    s.refresh_token_hash = "r".repeat(129);
    assert_invalid(ctx.storage.create_session(&s).await, "refresh");
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), 0);
    let mut ok = session(&t, &"u".repeat(128));
    ok.handle = "h".repeat(255);
    ok.refresh_token_hash = "r".repeat(128);
    ctx.storage.create_session(&ok).await.unwrap();
    let got = ctx
        .storage
        .get_session(&t, &ok.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            got.handle.len(),
            got.user_id.len(),
            got.refresh_token_hash.len()
        ),
        (255, 128, 128)
    );
    let r = ctx
        .storage
        .rotate_refresh_token(
            &t,
            &RefreshRotation {
                handle: &ok.handle,
                expected: &ok.refresh_token_hash,
                new_hash: &"n".repeat(129),
                new_expiry: NOW + HOUR,
                now: NOW,
            },
        )
        .await;
    assert_invalid(r, "hash");
    assert_eq!(
        ctx.storage
            .get_session(&t, &ok.handle)
            .await
            .unwrap()
            .unwrap()
            .refresh_token_hash,
        ok.refresh_token_hash
    );
}

/// Third-party id over 28 and third-party user id over 256 characters.
pub async fn bad_third_party_fields_too_long(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let r = ctx
        .storage
        .sign_up_third_party(&tp_input(&t, &email(), &"p".repeat(29), "s", 1))
        .await;
    assert_invalid(r, "third_party_id");
    let r = ctx
        .storage
        .sign_up_third_party(&tp_input(&t, &email(), "google", &"s".repeat(257), 1))
        .await;
    assert_invalid(r, "third_party_user_id");
    let u = tp_user(&ctx, &t, &email(), &"p".repeat(28), &"s".repeat(256), 1).await;
    let tp = u.login_methods[0].third_party.clone().unwrap();
    assert_eq!(
        (tp.third_party_id.len(), tp.third_party_user_id.len()),
        (28, 256)
    );
    let mut c = TenantConfig::new(TenantConfigKey::new(t.clone()));
    c.providers = vec![ThirdPartyProvider {
        third_party_id: "p".repeat(29),
        ..Default::default()
    }];
    assert_invalid(ctx.storage.create_tenant_config(&c).await, "third_party_id");
    assert_eq!(app_rows(&ctx, "thirdparty_users", &t.app).await, 1);
}

/// Password hash and phone number over 256, kv name over 128, tokens over 128.
pub async fn bad_other_fields_too_long(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mut input = ep_input(&t, &email(), 1);
    input.password_hash = Secret::new("x".repeat(257));
    assert_invalid(ctx.storage.sign_up_email_password(&input).await, "password");
    let u = ep_user(&ctx, &t, &email(), 1).await;
    assert_invalid(
        ctx.storage
            .update_password_hash(&t.app, &u.id, &Secret::new("x".repeat(257)))
            .await,
        "password",
    );
    let long_phone = "1".repeat(257);
    assert_invalid(
        ctx.storage
            .create_passwordless_user(&pl_input(&t, None, Some(&long_phone), 1))
            .await,
        "phone",
    );
    assert_invalid(
        ctx.storage
            .create_device_with_code(&device(&t, None, Some(&long_phone), 1))
            .await,
        "phone",
    );
    assert_invalid(
        ctx.storage.kv_set(&t, &"n".repeat(129), &kv("v", 1)).await,
        "name",
    );
    ctx.storage
        .kv_set(&t, &"n".repeat(128), &kv("v", 1))
        .await
        .unwrap();
    let mut r = reset_token(&t.app, &u.id, NOW);
    r.token = "t".repeat(129);
    assert_invalid(ctx.storage.add_password_reset_token(&r).await, "token");
    let mut e = ev_token(&t, "u", "e@example.com", NOW);
    e.token = "t".repeat(129);
    assert_invalid(ctx.storage.add_email_verification_token(&e).await, "token");
    let e = ev_token(&t, &"u".repeat(129), "e@example.com", NOW);
    assert_invalid(
        ctx.storage.add_email_verification_token(&e).await,
        "user_id",
    );
    assert_invalid(
        ctx.storage
            .set_email_verified(&t.app, &"u".repeat(129), "e@example.com", true)
            .await,
        "user_id",
    );
    assert_eq!(
        app_rows(&ctx, "emailpassword_pswd_reset_tokens", &t.app).await,
        0
    );
    assert_eq!(app_rows(&ctx, "emailverification_tokens", &t.app).await, 0);
}

/// Over-long tenant-config fields: client id, client type, factor, URI domain.
pub async fn bad_tenant_config_fields_too_long(ctx: Ctx) {
    let t = tenant("a", "t1");
    let base = || {
        let mut c = TenantConfig::new(TenantConfigKey::new(t.clone()));
        c.providers = vec![ThirdPartyProvider {
            third_party_id: "google".into(),
            clients: vec![ProviderClient {
                client_id: "id".into(),
                ..Default::default()
            }],
            ..Default::default()
        }];
        c
    };
    let mut c = base();
    c.providers[0].clients[0].client_id = "c".repeat(257);
    assert_invalid(ctx.storage.create_tenant_config(&c).await, "client_id");
    let mut c = base();
    c.providers[0].clients[0].client_type = "c".repeat(65);
    assert_invalid(ctx.storage.create_tenant_config(&c).await, "client_type");
    let mut c = base();
    c.first_factors = Some(vec!["f".repeat(129)]);
    assert_invalid(ctx.storage.create_tenant_config(&c).await, "factor");
    let mut c = base();
    c.required_secondary_factors = vec!["f".repeat(129)];
    assert_invalid(ctx.storage.create_tenant_config(&c).await, "factor");
    let mut c = base();
    c.key.connection_uri_domain = "d".repeat(257);
    assert_invalid(
        ctx.storage.create_tenant_config(&c).await,
        "connection_uri_domain",
    );
    let mut c = base();
    c.providers[0].name = Some("n".repeat(65));
    assert_invalid(ctx.storage.create_tenant_config(&c).await, "name");
    assert!(
        ctx.storage.list_tenant_configs().await.unwrap().is_empty(),
        "a rejected config was stored"
    );
    ctx.storage.create_tenant_config(&base()).await.unwrap();
}

/// Empty ids are refused.
pub async fn bad_empty_ids(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mut input = ep_input(&t, &email(), 1);
    input.user_id = String::new();
    assert_invalid(ctx.storage.sign_up_email_password(&input).await, "user_id");
    let mut s = session(&t, "u");
    s.handle = String::new();
    assert_invalid(ctx.storage.create_session(&s).await, "handle");
    assert_invalid(
        ctx.storage.create_session(&session(&t, "")).await,
        "user_id",
    );
    let mut d = device(&t, Some("e@example.com"), None, 1);
    d.device_id_hash = String::new();
    d.code.device_id_hash = String::new();
    assert_invalid(
        ctx.storage.create_device_with_code(&d).await,
        "device_id_hash",
    );
    let mut d = device(&t, Some("e@example.com"), None, 1);
    d.code.code_id = String::new();
    assert_invalid(ctx.storage.create_device_with_code(&d).await, "code_id");
    let u = ep_user(&ctx, &t, &email(), 1).await;
    let mut r = reset_token(&t.app, &u.id, NOW);
    r.token = String::new();
    assert_invalid(ctx.storage.add_password_reset_token(&r).await, "token");
    let mut e = ev_token(&t, "u", "e@example.com", NOW);
    e.token = String::new();
    assert_invalid(ctx.storage.add_email_verification_token(&e).await, "token");
    assert_invalid(
        ctx.storage
            .add_email_verification_token(&ev_token(&t, "", "e@example.com", NOW))
            .await,
        "user_id",
    );
    assert_invalid(
        ctx.storage
            .set_email_verified(&t.app, "", "e@example.com", true)
            .await,
        "user_id",
    );
    assert_invalid(ctx.storage.kv_set(&t, "", &kv("v", 1)).await, "name");
    assert_invalid(
        ctx.storage
            .sign_up_third_party(&tp_input(&t, &email(), "", "s", 1))
            .await,
        "third_party_id",
    );
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), 0);
    assert_eq!(tenant_rows(&ctx, "passwordless_devices", &t).await, 0);
    assert_eq!(tenant_rows(&ctx, "key_value", &t).await, 0);
}

/// NUL bytes are refused in text and JSON.
pub async fn bad_nul_bytes(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    assert_invalid(
        ctx.storage
            .sign_up_email_password(&ep_input(&t, "a\0b@example.com", 1))
            .await,
        "email",
    );
    let mut input = ep_input(&t, &email(), 1);
    input.password_hash = Secret::new("hash\0");
    assert_invalid(ctx.storage.sign_up_email_password(&input).await, "password");
    assert_invalid(
        ctx.storage
            .create_passwordless_user(&pl_input(&t, None, Some("+1\0"), 1))
            .await,
        "phone",
    );
    assert_invalid(
        ctx.storage
            .sign_up_third_party(&tp_input(&t, &email(), "google", "s\0", 1))
            .await,
        "third_party_user_id",
    );
    let mut s = session(&t, "u");
    s.handle = "h\0h".into();
    assert_invalid(ctx.storage.create_session(&s).await, "handle");
    let mut s = session(&t, "u");
    s.session_data = json!({"k": "v\u{0}"});
    assert_invalid(ctx.storage.create_session(&s).await, "session_data");
    let mut s = session(&t, "u");
    s.jwt_payload = json!({"k\u{0}": 1});
    assert_invalid(ctx.storage.create_session(&s).await, "jwt");
    let ok = create_session(&ctx, &t, "u").await;
    let r = ctx
        .storage
        .update_session(&t, &ok.handle, Some(&json!(["\u{0}"])), None)
        .await;
    assert_invalid(r, "session_data");
    assert_invalid(ctx.storage.kv_set(&t, "k", &kv("v\0", 1)).await, "value");
    assert_invalid(ctx.storage.kv_set(&t, "k\0", &kv("v", 1)).await, "name");
    let mut c = TenantConfig::new(TenantConfigKey::new(tenant("a", "t1")));
    c.core_config = json!({"x": "\u{0}"});
    assert_invalid(ctx.storage.create_tenant_config(&c).await, "core_config");
    assert_eq!(app_rows(&ctx, "app_id_to_user_id", &t.app).await, 0);
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), 1);
    assert_eq!(
        ctx.storage
            .get_session(&t, &ok.handle)
            .await
            .unwrap()
            .unwrap()
            .session_data,
        ok.session_data
    );
    assert_eq!(ctx.storage.kv_get(&t, "k").await.unwrap(), None);
}

/// Recipe user ids and code ids must be UUIDs written as 36 characters.
pub async fn bad_malformed_uuids(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let good = uid();
    let malformed = [
        "not-a-uuid".to_owned(),
        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz".to_owned(),
        good.replace('-', ""),
        format!("{{{good}}}"),
        format!("{good}x"),
        format!(" {}", &good[1..]),
    ];
    for bad in &malformed {
        let mut input = ep_input(&t, &email(), 1);
        input.user_id = bad.clone();
        assert_invalid(ctx.storage.sign_up_email_password(&input).await, "user_id");
        let mut input = tp_input(&t, &email(), "google", &token(), 1);
        input.user_id = bad.clone();
        assert_invalid(ctx.storage.sign_up_third_party(&input).await, "user_id");
        let mut input = pl_input(&t, Some(&email()), None, 1);
        input.user_id = bad.clone();
        assert_invalid(
            ctx.storage.create_passwordless_user(&input).await,
            "user_id",
        );
        let mut d = device(&t, Some(&email()), None, 1);
        d.code.code_id = bad.clone();
        assert_invalid(ctx.storage.create_device_with_code(&d).await, "code_id");
    }
    assert_eq!(app_rows(&ctx, "app_id_to_user_id", &t.app).await, 0);
    assert_eq!(tenant_rows(&ctx, "passwordless_devices", &t).await, 0);
    // Reads with a malformed id find nothing (or refuse it), but never fail otherwise.
    for bad in &malformed {
        match ctx.storage.get_user(&t.app, bad).await {
            Ok(None) | Err(StorageError::InvalidInput { .. }) => {}
            other => panic!("get_user({bad:?}): {other:?}"),
        }
    }
}

/// Passwordless hashes and salts are exactly 44 ASCII characters.
pub async fn bad_malformed_hashes(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    for bad in [
        "short".to_owned(),
        "x".repeat(43),
        "x".repeat(45),
        format!("{}é", "x".repeat(43)),
    ] {
        let mut d = device(&t, Some("h@example.com"), None, 1);
        d.device_id_hash = bad.clone();
        d.code.device_id_hash = bad.clone();
        assert_invalid(
            ctx.storage.create_device_with_code(&d).await,
            "device_id_hash",
        );
        let mut d = device(&t, Some("h@example.com"), None, 1);
        d.link_code_salt = bad.clone();
        assert_invalid(
            ctx.storage.create_device_with_code(&d).await,
            "link_code_salt",
        );
        let mut d = device(&t, Some("h@example.com"), None, 1);
        d.code.link_code_hash = bad.clone();
        assert_invalid(
            ctx.storage.create_device_with_code(&d).await,
            "link_code_hash",
        );
    }
    assert_eq!(tenant_rows(&ctx, "passwordless_devices", &t).await, 0);
}

/// App and tenant ids: at most 64 of `[a-z0-9_-]` after normalisation.
pub async fn bad_tenant_and_app_ids(ctx: Ctx) {
    for bad in ["a/b", "x\0", "with space", "ünï", "semi;colon", "quote'"] {
        assert_invalid(TenantId::new(bad), "tenant_id");
        assert_invalid(AppId::new(bad), "app_id");
    }
    assert_invalid(TenantId::new(&"t".repeat(65)), "tenant_id");
    assert_invalid(AppId::new(&"a".repeat(65)), "app_id");
    let t = TenantIdentifier::new(&"a".repeat(64), &"t".repeat(64)).unwrap();
    ctx.storage.add_tenant(&t, 1).await.unwrap();
    let apps = ctx.storage.list_apps_and_tenants().await.unwrap();
    assert!(
        apps.iter()
            .any(|a| a.app == t.app && a.tenants.contains(&t.tenant))
    );
}

/// Negative times are refused (MySQL stores them unsigned).
pub async fn bad_negative_times(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    assert_invalid(
        ctx.storage
            .sign_up_email_password(&ep_input(&t, &email(), -1))
            .await,
        "time",
    );
    let mut s = session(&t, "u");
    s.expires_at = -5;
    assert_invalid(ctx.storage.create_session(&s).await, "expir");
    assert_eq!(app_rows(&ctx, "app_id_to_user_id", &t.app).await, 0);
}

/// Listing limits outside 1..=1000 and malformed page tokens are refused.
pub async fn bad_list_users_limits_and_tokens(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    ep_user(&ctx, &t, &email(), 1).await;
    for limit in [0, 1001] {
        let r = ctx
            .storage
            .list_users(&ListUsers {
                tenant: t.clone(),
                limit,
                order: TimeJoinedOrder::Asc,
                recipes: vec![],
                search: Default::default(),
                after: None,
            })
            .await;
        assert_invalid(r.map(|p| p.users.len()), "limit");
    }
    for bad in [
        "",
        "garbage",
        "12:not-a-uuid",
        "x:8c0b6a3e-6f2b-4b5e-9c1e-0a1b2c3d4e5f",
    ] {
        assert_invalid(PageToken::decode(bad), "pagination_token");
    }
    let tok = PageToken {
        time_joined: 77,
        user_id: uid(),
    };
    assert_eq!(PageToken::decode(&tok.encode()).unwrap(), tok);
    let r = ctx
        .storage
        .list_users(&ListUsers {
            tenant: t.clone(),
            limit: 1000,
            order: TimeJoinedOrder::Desc,
            recipes: vec![],
            search: Default::default(),
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(r.users.len(), 1);
}

/// Unusual Unicode (combining characters, RTL marks, emoji) is stored and read back
/// byte for byte, never normalised; lengths count characters, not bytes.
pub async fn bad_unicode_round_trip(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let composed = "\u{e9}l\u{e8}ve@example.com";
    let decomposed = "e\u{301}le\u{300}ve@example.com";
    let emails = [
        composed.to_owned(),
        decomposed.to_owned(),
        "\u{200f}rtl\u{202e}mark@example.com".to_owned(),
        "😀🎉👩‍👩‍👧@例え.jp".to_owned(),
        "ωμέγα@ελληνικά.gr".to_owned(),
        format!("{}@example.com", "😀".repeat(244)),
        format!("{}@example.com", "é".repeat(244)),
    ];
    let mut users = Vec::new();
    for e in &emails {
        users.push(ep_user(&ctx, &t, e, 1).await);
    }
    for (e, u) in emails.iter().zip(&users) {
        let got = ctx.storage.get_user(&t.app, &u.id).await.unwrap().unwrap();
        assert_eq!(
            got.login_methods[0].email.as_deref().map(str::as_bytes),
            Some(e.as_bytes()),
            "email changed"
        );
        let found = ctx.storage.list_users_by_email(&t, e).await.unwrap();
        assert_eq!(ids(&found), vec![u.id.clone()], "lookup of {e:?}");
    }
    let too_long = format!("{}@example.com", "😀".repeat(245));
    assert_invalid(
        ctx.storage
            .sign_up_email_password(&ep_input(&t, &too_long, 1))
            .await,
        "email",
    );
    let value = "ünïcödé \u{200f}\u{202e} 😀 e\u{301} \u{1F1EB}\u{1F1F7}";
    ctx.storage
        .kv_set(&t, "uni-😀", &kv(value, 1))
        .await
        .unwrap();
    assert_eq!(
        ctx.storage
            .kv_get(&t, "uni-😀")
            .await
            .unwrap()
            .unwrap()
            .value
            .as_bytes(),
        value.as_bytes()
    );
    let mut s = session(&t, "ユーザー😀");
    s.session_data = json!({"name": value});
    ctx.storage.create_session(&s).await.unwrap();
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.session_data, s.session_data);
    assert_eq!(got.user_id, "ユーザー😀");
}

/// SQL metacharacters are plain data: stored and read back as given, and lookups
/// never treat `%` or `_` as wildcards.
pub async fn bad_sql_metacharacters_round_trip(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let emails = [
        "o'brien@example.com",
        "'; DROP TABLE x; --@example.com",
        "a%b@example.com",
        "a_b@example.com",
        "back\\slash@example.com",
        "\"quoted\"@example.com",
        "semi;colon`tick@example.com",
    ];
    let mut users = Vec::new();
    for e in emails {
        users.push(ep_user(&ctx, &t, e, 1).await);
    }
    let decoy = ep_user(&ctx, &t, "axb@example.com", 1).await;
    for (e, u) in emails.iter().zip(&users) {
        let got = ctx.storage.get_user(&t.app, &u.id).await.unwrap().unwrap();
        assert_eq!(got.login_methods[0].email.as_deref(), Some(*e));
        assert_eq!(
            ids(&ctx.storage.list_users_by_email(&t, e).await.unwrap()),
            vec![u.id.clone()],
            "lookup of {e:?}"
        );
    }
    assert!(
        ctx.storage
            .list_users_by_email(&t, "%")
            .await
            .unwrap()
            .is_empty(),
        "% matched as a wildcard"
    );
    assert!(
        ctx.storage
            .list_users_by_email(&t, "a%")
            .await
            .unwrap()
            .is_empty()
    );
    let found = ctx
        .storage
        .list_users_by_email(&t, "a_b@example.com")
        .await
        .unwrap();
    assert!(!ids(&found).contains(&decoy.id), "_ matched as a wildcard");
    for v in [
        "'; DROP TABLE x; --",
        "%",
        "_",
        "\\",
        "\\'",
        "' OR '1'='1",
        "$1 ?",
    ] {
        ctx.storage.kv_set(&t, v, &kv(v, 1)).await.unwrap();
        assert_eq!(
            ctx.storage.kv_get(&t, v).await.unwrap().map(|x| x.value),
            Some(v.to_owned())
        );
    }
    assert_eq!(ctx.storage.kv_get(&t, "%%").await.unwrap(), None);
    let mut s = session(&t, "'; DROP TABLE session_info; --");
    s.handle = "h'\"%_\\".into();
    s.session_data = json!({"sql": "'; DROP TABLE x; --", "bs": "\\"});
    ctx.storage.create_session(&s).await.unwrap();
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.user_id.as_str(), &got.session_data),
        (s.user_id.as_str(), &s.session_data)
    );
    assert_eq!(
        ctx.storage
            .session_handles_of_user(&t, &s.user_id, NOW)
            .await
            .unwrap(),
        vec![s.handle.clone()]
    );
    assert_eq!(
        ctx.storage
            .count_users(&UserScope::Tenant(t.clone()), &[])
            .await
            .unwrap(),
        8,
        "tables intact"
    );
}

/// Lookups with odd input never panic and never fail with anything but `InvalidInput`.
pub async fn bad_lookups_never_fail_badly(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let odd = ["", "\0", "x\0y", &"z".repeat(10_000), "'", "%", "😀"];
    for v in odd {
        let checks: Vec<(&str, std::result::Result<bool, StorageError>)> = vec![
            (
                "list_users_by_email",
                ctx.storage
                    .list_users_by_email(&t, v)
                    .await
                    .map(|x| x.is_empty()),
            ),
            (
                "list_users_by_phone",
                ctx.storage
                    .list_users_by_phone(&t, v)
                    .await
                    .map(|x| x.is_empty()),
            ),
            (
                "get_session",
                ctx.storage.get_session(&t, v).await.map(|x| x.is_none()),
            ),
            (
                "kv_get",
                ctx.storage.kv_get(&t, v).await.map(|x| x.is_none()),
            ),
            (
                "get_device",
                ctx.storage.get_device(&t, v).await.map(|x| x.is_none()),
            ),
            (
                "code_by_link_code_hash",
                ctx.storage
                    .code_by_link_code_hash(&t, v)
                    .await
                    .map(|x| x.is_none()),
            ),
            (
                "get_password_reset_token",
                ctx.storage
                    .get_password_reset_token(&t.app, v)
                    .await
                    .map(|x| x.is_none()),
            ),
            (
                "get_email_verification_token",
                ctx.storage
                    .get_email_verification_token(&t, v)
                    .await
                    .map(|x| x.is_none()),
            ),
            (
                "is_email_verified",
                ctx.storage
                    .is_email_verified(&t.app, v, v)
                    .await
                    .map(|x| !x),
            ),
            (
                "user_exists",
                ctx.storage
                    .user_exists(&UserScope::App(t.app.clone()), v)
                    .await
                    .map(|x| !x),
            ),
        ];
        for (op, r) in checks {
            match r {
                Ok(true) | Err(StorageError::InvalidInput { .. }) => {}
                other => panic!(
                    "{op}({:?}...): {other:?}",
                    v.chars().take(8).collect::<String>()
                ),
            }
        }
    }
}

/// Opening an unknown scheme is a `Config` error that lists the linked schemes and
/// never shows the URI's password.
pub async fn bad_config_unknown_scheme(ctx: Ctx) {
    let uri = "nosuchdb://admin:hunter2-S3cret@db.example.com:5432/auth";
    let err = match storage_api::open(uri, OpenOptions::default()).await {
        Ok(_) => panic!("opening {uri} succeeded"),
        Err(e) => e,
    };
    let msg = match &err {
        StorageError::Config(m) => m.clone(),
        other => panic!("expected Config, got {other:?}"),
    };
    let own_scheme = match ctx.storage.backend_name() {
        "postgresql" | "postgres" => "postgres",
        "mysql" | "mariadb" => "mysql",
        other => other,
    };
    assert!(
        msg.contains(own_scheme),
        "`{msg}` does not list the linked scheme {own_scheme}"
    );
    for s in storage_api::linked_schemes() {
        assert!(msg.contains(s), "`{msg}` does not list linked scheme {s}");
    }
    for shown in [msg.clone(), err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("hunter2"), "password leaked: {shown}");
    }
}

/// Malformed URIs are `Config` errors without the password; a URI prints without it.
pub async fn bad_config_uri_hides_password(_ctx: Ctx) {
    for uri in [
        "postgres://admin:hunter2-S3cret@db.example.com:notaport/auth",
        "mysql://admin:hunter2-S3cret@db.example.com:99999/auth",
        "postgresql://admin:hunter2-S3cret@db.example.com:5432/auth%zz",
        "hunter2-S3cret",
    ] {
        match storage_api::open(uri, OpenOptions::default()).await {
            Ok(_) => panic!("opening {uri} succeeded"),
            Err(e) => {
                assert!(
                    matches!(e, StorageError::Config(_)),
                    "{uri}: expected Config, got {e:?}"
                );
                for shown in [e.to_string(), format!("{e:?}")] {
                    assert!(!shown.contains("hunter2"), "password leaked: {shown}");
                }
            }
        }
    }
    let parsed =
        ConnectionUri::parse("postgres://admin:hunter2-S3cret@db.example.com:5432/auth").unwrap();
    assert_eq!(
        parsed.password.as_ref().map(Secret::expose),
        Some("hunter2-S3cret")
    );
    for shown in [parsed.to_string(), format!("{parsed:?}")] {
        assert!(!shown.contains("hunter2"), "password leaked: {shown}");
        assert!(shown.contains("db.example.com"), "host missing: {shown}");
    }
}

/// After `close`, calls fail with `Unavailable` instead of hanging or panicking.
pub async fn bad_calls_after_close_are_unavailable(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    ctx.storage.close().await;
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        ctx.storage.kv_get(&t, "k"),
    )
    .await
    .expect("a call after close hung");
    assert!(
        matches!(r, Err(StorageError::Unavailable { .. })),
        "kv_get after close: {r:?}"
    );
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        ctx.storage
            .sign_up_email_password(&ep_input(&t, &email(), 1)),
    )
    .await
    .expect("a call after close hung");
    assert!(
        matches!(r, Err(StorageError::Unavailable { .. })),
        "sign-up after close: {r:?}"
    );
    let r = run_transaction(&*ctx.storage, &TxOptions::default(), |_tx| {
        Box::pin(async move { Ok::<_, TxError<()>>(()) })
    })
    .await;
    assert!(
        matches!(r, Err(TxError::Storage(StorageError::Unavailable { .. }))),
        "transaction after close: {r:?}"
    );
}
