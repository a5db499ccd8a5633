//! Tenant isolation (contract 2 and 7): data written through tenant A is neither
//! returned nor changed by operations through tenant B; app-scoped data (users,
//! password-reset tokens, verified emails, signing keys) is shared by the tenants of
//! an app and never across apps.

use super::fixtures::*;
use crate::harness::Ctx;
use serde_json::json;
use storage_api::*;

async fn two_tenants(ctx: &Ctx) -> (TenantIdentifier, TenantIdentifier) {
    (
        setup_tenant(ctx, "iso", "a").await,
        setup_tenant(ctx, "iso", "b").await,
    )
}

/// Sessions of tenant A are invisible and untouchable through tenant B.
pub async fn iso_sessions(ctx: Ctx) {
    let (a, b) = two_tenants(&ctx).await;
    let s = create_session(&ctx, &a, "shared-user").await;
    let st = &ctx.storage;
    assert!(st.get_session(&b, &s.handle).await.unwrap().is_none());
    assert_eq!(st.count_sessions(&b).await.unwrap(), 0);
    assert!(
        st.session_handles_of_user(&b, "shared-user", NOW)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        st.rotate_refresh_token(
            &b,
            &RefreshRotation {
                handle: &s.handle,
                expected: &s.refresh_token_hash,
                new_hash: "x",
                new_expiry: NOW + HOUR,
                now: NOW
            }
        )
        .await
        .unwrap(),
        RotateOutcome::NotFound
    );
    assert_eq!(
        st.update_session(&b, &s.handle, Some(&json!({"evil": 1})), None)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        st.delete_sessions(&b, std::slice::from_ref(&s.handle))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        st.delete_sessions_of_user(&UserScope::Tenant(b.clone()), "shared-user")
            .await
            .unwrap(),
        0
    );
    let (bc, h) = (b.clone(), s.handle.clone());
    let n = run_transaction(&**st, &TxOptions::default(), move |tx| {
        let (b, h) = (bc.clone(), h.clone());
        Box::pin(async move {
            assert!(tx.get_session_for_update(&b, &h).await?.is_none());
            Ok::<_, TxError<()>>(
                tx.update_tokens(
                    &b,
                    &TokenUpdate {
                        handle: &h,
                        new_hash: "evil",
                        prev_hash: None,
                        rotated_at: None,
                        expires_at: NOW,
                    },
                )
                .await?,
            )
        })
    })
    .await
    .unwrap();
    assert_eq!(n, 0);
    let got = st
        .get_session(&a, &s.handle)
        .await
        .unwrap()
        .expect("A's session gone");
    assert_eq!(
        (got.refresh_token_hash, got.session_data),
        (s.refresh_token_hash.clone(), s.session_data.clone())
    );
    // The same handle may exist in B independently.
    let mut sb = session(&b, "shared-user");
    sb.handle = s.handle.clone();
    st.create_session(&sb).await.unwrap();
    assert_eq!(
        st.delete_sessions(&b, std::slice::from_ref(&s.handle))
            .await
            .unwrap(),
        1
    );
    assert!(st.get_session(&a, &s.handle).await.unwrap().is_some());
}

/// Devices and codes of tenant A are invisible and untouchable through tenant B.
pub async fn iso_devices_and_codes(ctx: Ctx) {
    let (a, b) = two_tenants(&ctx).await;
    let d = create_device(&ctx, &a, Some("dev@example.com"), Some("+15551212"), 100).await;
    let st = &ctx.storage;
    assert!(
        st.get_device(&b, &d.device_id_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        st.devices_by_email(&b, "dev@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        st.devices_by_phone(&b, "+15551212")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        st.codes_of_device(&b, &d.device_id_hash)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(st.get_code(&b, &d.code.code_id).await.unwrap().is_none());
    assert!(
        st.code_by_link_code_hash(&b, &d.code.link_code_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(st.codes_created_before(&b, 1_000).await.unwrap().is_empty());
    let r = st.create_code(&b, &code(&d.device_id_hash, 101)).await;
    assert!(
        matches!(r, Err(StorageError::UnknownDeviceIdHash)),
        "code for A's device via B: {r:?}"
    );
    let (bc, dc) = (b.clone(), d.clone());
    let counts = run_transaction(&**st, &TxOptions::default(), move |tx| {
        let (b, d) = (bc.clone(), dc.clone());
        Box::pin(async move {
            assert!(tx.device_for_update(&b, &d.device_id_hash).await?.is_none());
            Ok::<_, TxError<()>>([
                tx.increment_failed_attempts(&b, &d.device_id_hash).await?,
                tx.delete_code(&b, &d.code.code_id).await?,
                tx.delete_device(&b, &d.device_id_hash).await?,
                tx.delete_devices_by_email(&b, "dev@example.com").await?,
                tx.delete_devices_by_phone(&b, "+15551212").await?,
            ])
        })
    })
    .await
    .unwrap();
    assert_eq!(counts, [0; 5], "operations through B touched A's device");
    let got = st
        .get_device(&a, &d.device_id_hash)
        .await
        .unwrap()
        .expect("A's device gone");
    assert_eq!(got.failed_attempts, 0);
    assert_eq!(
        st.codes_of_device(&a, &d.device_id_hash).await.unwrap(),
        vec![d.code.clone()]
    );
    // The same device hash and link hash may exist in B.
    let mut db = device(&b, Some("dev@example.com"), None, 1);
    db.device_id_hash = d.device_id_hash.clone();
    db.code.device_id_hash = d.device_id_hash.clone();
    db.code.link_code_hash = d.code.link_code_hash.clone();
    db.code.code_id = d.code.code_id.clone();
    st.create_device_with_code(&db).await.unwrap();
    assert_eq!(
        st.code_by_link_code_hash(&b, &d.code.link_code_hash)
            .await
            .unwrap()
            .unwrap()
            .created_at,
        1
    );
    assert_eq!(
        st.code_by_link_code_hash(&a, &d.code.link_code_hash)
            .await
            .unwrap()
            .unwrap()
            .created_at,
        100
    );
}

/// Key/value rows are per tenant.
pub async fn iso_key_value(ctx: Ctx) {
    let (a, b) = two_tenants(&ctx).await;
    let st = &ctx.storage;
    st.kv_set(&a, "k", &kv("a-value", 1)).await.unwrap();
    assert_eq!(st.kv_get(&b, "k").await.unwrap(), None);
    st.kv_set(&b, "k", &kv("b-value", 2)).await.unwrap();
    assert_eq!(st.kv_get(&a, "k").await.unwrap(), Some(kv("a-value", 1)));
    assert_eq!(st.kv_get(&b, "k").await.unwrap(), Some(kv("b-value", 2)));
    let bc = b.clone();
    let seen = run_transaction(&**st, &TxOptions::default(), move |tx| {
        let b = bc.clone();
        Box::pin(async move {
            let v = tx.kv_get_for_update(&b, "k").await?;
            tx.kv_set(&b, "k", &kv("b2", 3)).await?;
            Ok::<_, TxError<()>>(v)
        })
    })
    .await
    .unwrap();
    assert_eq!(seen, Some(kv("b-value", 2)));
    assert_eq!(st.kv_get(&a, "k").await.unwrap(), Some(kv("a-value", 1)));
}

/// Users: per-tenant lookups, listing and counting see only the tenant's members;
/// emails, phones and third-party ids are unique per tenant only.
pub async fn iso_users_per_tenant(ctx: Ctx) {
    let (a, b) = two_tenants(&ctx).await;
    let st = &ctx.storage;
    let ua = ep_user(&ctx, &a, "same@example.com", 1).await;
    let pa = pl_user(&ctx, &a, Some("pl@example.com"), Some("+15553434"), 2).await;
    let ta = tp_user(&ctx, &a, "tp@example.com", "google", "sub", 3).await;
    assert!(
        st.list_users_by_email(&b, "same@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        st.list_users_by_phone(&b, "+15553434")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        st.count_users(&UserScope::Tenant(b.clone()), &[])
            .await
            .unwrap(),
        0
    );
    assert!(
        !st.user_exists(&UserScope::Tenant(b.clone()), &ua.id)
            .await
            .unwrap()
    );
    let page = st
        .list_users(&ListUsers {
            tenant: b.clone(),
            limit: 100,
            order: TimeJoinedOrder::Asc,
            recipes: vec![],
            search: Default::default(),
            after: None,
        })
        .await
        .unwrap();
    assert!(page.users.is_empty(), "B lists A's users");
    // Same email, phone and identity in B are separate users.
    let ub = ep_user(&ctx, &b, "same@example.com", 4).await;
    let pb = pl_user(&ctx, &b, Some("pl@example.com"), Some("+15553434"), 5).await;
    let tb = tp_user(&ctx, &b, "tp@example.com", "google", "sub", 6).await;
    assert_eq!(
        ids(&st
            .list_users_by_email(&a, "same@example.com")
            .await
            .unwrap()),
        vec![ua.id.clone()]
    );
    assert_eq!(
        ids(&st
            .list_users_by_email(&b, "same@example.com")
            .await
            .unwrap()),
        vec![ub.id.clone()]
    );
    assert_eq!(
        ids(&st.list_users_by_phone(&b, "+15553434").await.unwrap()),
        vec![pb.id.clone()]
    );
    assert_eq!(
        st.count_users(&UserScope::Tenant(a.clone()), &[])
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        st.count_users(&UserScope::App(a.app.clone()), &[])
            .await
            .unwrap(),
        6
    );
    // Changing B's user does not change A's.
    st.update_email_password_email(&b.app, &ub.id, "changed@example.com")
        .await
        .unwrap();
    assert_eq!(
        ids(&st
            .list_users_by_email(&a, "same@example.com")
            .await
            .unwrap()),
        vec![ua.id.clone()]
    );
    assert!(st.remove_user_from_tenant(&b, &tb.id).await.unwrap());
    assert!(
        !st.remove_user_from_tenant(&b, &ta.id).await.unwrap(),
        "removed A's user through B"
    );
    assert!(
        st.user_exists(&UserScope::Tenant(a.clone()), &ta.id)
            .await
            .unwrap()
    );
    assert!(
        st.user_exists(&UserScope::Tenant(a.clone()), &pa.id)
            .await
            .unwrap()
    );
}

/// Email-verification tokens are per tenant.
pub async fn iso_email_verification_tokens(ctx: Ctx) {
    let (a, b) = two_tenants(&ctx).await;
    let st = &ctx.storage;
    let tok = ev_token(&a, "u", "e@example.com", NOW);
    st.add_email_verification_token(&tok).await.unwrap();
    assert!(
        st.get_email_verification_token(&b, &tok.token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        st.email_verification_tokens(&b, "u", "e@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        st.revoke_email_verification_tokens(&b, "u", "e@example.com")
            .await
            .unwrap(),
        0
    );
    let bc = b.clone();
    let (locked, deleted) = run_transaction(&**st, &TxOptions::default(), move |tx| {
        let b = bc.clone();
        Box::pin(async move {
            let l = tx
                .email_verification_tokens_for_update(&b, "u", "e@example.com")
                .await?;
            let d = tx
                .delete_email_verification_tokens(&b, "u", "e@example.com")
                .await?;
            Ok::<_, TxError<()>>((l, d))
        })
    })
    .await
    .unwrap();
    assert!(locked.is_empty());
    assert_eq!(deleted, 0);
    assert_eq!(
        st.get_email_verification_token(&a, &tok.token)
            .await
            .unwrap(),
        Some(tok)
    );
}

/// App-scoped data is shared by the tenants of an app.
pub async fn iso_app_scoped_shared_within_app(ctx: Ctx) {
    let (a, b) = two_tenants(&ctx).await;
    let st = &ctx.storage;
    let u = ep_user(&ctx, &a, "app@example.com", 1).await;
    // Users are found by id through the app, whatever the tenant.
    assert!(st.get_user(&b.app, &u.id).await.unwrap().is_some());
    assert!(
        st.user_exists(&UserScope::App(b.app.clone()), &u.id)
            .await
            .unwrap()
    );
    // A user id is unique in the app, not per tenant.
    let mut again = ep_input(&b, "other@example.com", 2);
    again.user_id = u.id.clone();
    let r = st.sign_up_email_password(&again).await;
    assert!(matches!(r, Err(StorageError::DuplicateUserId)), "got {r:?}");
    let r = reset_token(&a.app, &u.id, NOW);
    st.add_password_reset_token(&r).await.unwrap();
    assert_eq!(
        st.get_password_reset_token(&b.app, &r.token).await.unwrap(),
        Some(r.clone())
    );
    st.set_email_verified(&a.app, &u.id, "app@example.com", true)
        .await
        .unwrap();
    assert!(
        st.is_email_verified(&b.app, &u.id, "app@example.com")
            .await
            .unwrap()
    );
    add_signing_key(&ctx, &a.app, signing_key(10)).await;
    assert_eq!(st.signing_keys(&b.app).await.unwrap().len(), 1);
    // Sessions of the user in both tenants go with an app-scoped delete.
    create_session(&ctx, &a, &u.id).await;
    create_session(&ctx, &b, &u.id).await;
    assert_eq!(
        st.delete_sessions_of_user(&UserScope::App(a.app.clone()), &u.id)
            .await
            .unwrap(),
        2
    );
}

/// App-scoped data never crosses apps.
pub async fn iso_app_scoped_not_across_apps(ctx: Ctx) {
    let a = setup_tenant(&ctx, "app-one", "public").await;
    let b = setup_tenant(&ctx, "app-two", "public").await;
    let st = &ctx.storage;
    let u = ep_user(&ctx, &a, "x@example.com", 1).await;
    assert!(st.get_user(&b.app, &u.id).await.unwrap().is_none());
    assert!(
        !st.user_exists(&UserScope::App(b.app.clone()), &u.id)
            .await
            .unwrap()
    );
    assert_eq!(
        st.count_users(&UserScope::App(b.app.clone()), &[])
            .await
            .unwrap(),
        0
    );
    assert!(
        st.list_users_by_third_party(
            &b.app,
            &ThirdPartyInfo {
                third_party_id: "g".into(),
                third_party_user_id: "s".into()
            }
        )
        .await
        .unwrap()
        .is_empty()
    );
    // The same user id and email may be used in the other app.
    let mut same = ep_input(&b, "x@example.com", 2);
    same.user_id = u.id.clone();
    let ub = st.sign_up_email_password(&same).await.unwrap();
    assert_eq!(ub.time_joined, 2);
    assert_eq!(
        st.get_user(&a.app, &u.id)
            .await
            .unwrap()
            .unwrap()
            .time_joined,
        1
    );
    let r = reset_token(&a.app, &u.id, NOW);
    st.add_password_reset_token(&r).await.unwrap();
    assert!(
        st.get_password_reset_token(&b.app, &r.token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        st.password_reset_tokens_of_user(&b.app, &u.id)
            .await
            .unwrap()
            .is_empty()
    );
    st.set_email_verified(&a.app, &u.id, "x@example.com", true)
        .await
        .unwrap();
    assert!(
        !st.is_email_verified(&b.app, &u.id, "x@example.com")
            .await
            .unwrap()
    );
    add_signing_key(&ctx, &a.app, signing_key(10)).await;
    assert!(st.signing_keys(&b.app).await.unwrap().is_empty());
    // Changes in app two leave app one alone.
    st.update_password_hash(&b.app, &u.id, &Secret::new("two"))
        .await
        .unwrap();
    assert!(st.delete_user(&b.app, &u.id).await.unwrap());
    let got = st
        .get_user(&a.app, &u.id)
        .await
        .unwrap()
        .expect("app one's user deleted via app two");
    assert_eq!(
        got.login_methods[0]
            .password_hash
            .as_ref()
            .map(Secret::expose),
        Some("$argon2id$v=19$hash")
    );
    assert_eq!(
        st.password_reset_tokens_of_user(&a.app, &u.id)
            .await
            .unwrap(),
        vec![r]
    );
    assert!(
        st.is_email_verified(&a.app, &u.id, "x@example.com")
            .await
            .unwrap()
    );
    let bapp = b.app.clone();
    let removed = run_transaction(&**st, &TxOptions::default(), move |tx| {
        let bapp = bapp.clone();
        Box::pin(async move {
            assert!(tx.signing_keys_for_update(&bapp).await?.is_empty());
            Ok::<_, TxError<()>>(tx.remove_signing_keys_before(&bapp, i64::MAX).await?)
        })
    })
    .await
    .unwrap();
    assert_eq!(removed, 0);
    assert_eq!(st.signing_keys(&a.app).await.unwrap().len(), 1);
}

/// Deleting one tenant leaves the other tenant's data alone.
pub async fn iso_delete_tenant_spares_siblings(ctx: Ctx) {
    let (a, b) = two_tenants(&ctx).await;
    let st = &ctx.storage;
    let s = create_session(&ctx, &b, "u").await;
    let d = create_device(&ctx, &b, Some("d@example.com"), None, 1).await;
    st.kv_set(&b, "k", &kv("v", 1)).await.unwrap();
    let e = ev_token(&b, "u", "d@example.com", NOW);
    st.add_email_verification_token(&e).await.unwrap();
    let u = ep_user(&ctx, &b, "b@example.com", 1).await;
    create_session(&ctx, &a, "u").await;
    assert!(st.delete_tenant(&a).await.unwrap());
    assert!(st.get_session(&b, &s.handle).await.unwrap().is_some());
    assert!(
        st.get_device(&b, &d.device_id_hash)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(st.kv_get(&b, "k").await.unwrap(), Some(kv("v", 1)));
    assert!(
        st.get_email_verification_token(&b, &e.token)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        st.user_exists(&UserScope::Tenant(b.clone()), &u.id)
            .await
            .unwrap()
    );
    assert_eq!(st.count_sessions(&b).await.unwrap(), 1);
}

/// Tenant configs are per tenant and per connection-URI domain.
pub async fn iso_tenant_configs(ctx: Ctx) {
    let (a, b) = two_tenants(&ctx).await;
    let st = &ctx.storage;
    st.create_tenant_config(&full_config(&a)).await.unwrap();
    assert!(
        st.get_tenant_config(&TenantConfigKey::new(b.clone()))
            .await
            .unwrap()
            .is_none()
    );
    let r = st
        .overwrite_tenant_config(&TenantConfig::new(TenantConfigKey::new(b.clone())))
        .await;
    assert!(
        matches!(r, Err(StorageError::TenantOrAppNotFound(_))),
        "got {r:?}"
    );
    assert!(
        !st.delete_tenant_config(&TenantConfigKey::new(b.clone()))
            .await
            .unwrap()
    );
    let cb = TenantConfig::new(TenantConfigKey::new(b.clone()));
    st.create_tenant_config(&cb).await.unwrap();
    assert!(st.delete_tenant_config(&cb.key).await.unwrap());
    let got = st
        .get_tenant_config(&TenantConfigKey::new(a.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(normalise_config(got), normalise_config(full_config(&a)));
}
