//! TOTP (contract-phase2 B.3): devices, used codes, their errors, and 64 concurrent
//! verifications of one valid code, of which exactly one is accepted.

use super::fixtures::*;
use crate::harness::Ctx;
use storage_api::*;

/// Devices: create (the TOTP user too), duplicate, verify, rename, list, delete (the
/// TOTP user goes with the last device), remove the user.
pub async fn totp_devices_lifecycle(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = &t.app;
    let user = "external|totp-user".to_owned();
    let d1 = totp_device(&user, "phone");
    let d2 = totp_device(&user, "laptop");
    ctx.storage.create_totp_device(a, &d1).await.unwrap();
    ctx.storage.create_totp_device(a, &d2).await.unwrap();
    assert!(matches!(
        ctx.storage.create_totp_device(a, &d1).await,
        Err(StorageError::DeviceAlreadyExists)
    ));
    let missing = app("totp-missing");
    assert_app_not_found(
        ctx.storage.create_totp_device(&missing, &d1).await,
        &missing,
    );
    assert_eq!(
        ctx.storage.totp_devices(a, &user).await.unwrap(),
        vec![d2.clone(), d1.clone()]
    );
    let rows = select(
        &ctx,
        "secret_key, period, skew",
        "totp_user_devices",
        &format!("app_id = '{a}' AND device_name = 'phone'"),
    )
    .await;
    assert_eq!(rows[0][0].as_deref(), Some("totp-secret-phone"));
    assert!(!format!("{d1:?}").contains("totp-secret"));
    ctx.storage
        .mark_totp_device_verified(a, &user, "phone")
        .await
        .unwrap();
    ctx.storage
        .mark_totp_device_verified(a, &user, "phone")
        .await
        .unwrap();
    assert!(matches!(
        ctx.storage
            .mark_totp_device_verified(a, &user, "nope")
            .await,
        Err(StorageError::UnknownDevice)
    ));
    assert!(matches!(
        ctx.storage
            .rename_totp_device(a, &user, "phone", "laptop")
            .await,
        Err(StorageError::DeviceAlreadyExists)
    ));
    assert!(matches!(
        ctx.storage.rename_totp_device(a, &user, "nope", "x").await,
        Err(StorageError::UnknownDevice)
    ));
    ctx.storage
        .rename_totp_device(a, &user, "phone", "tablet")
        .await
        .unwrap();
    let mut want = d1.clone();
    want.device_name = "tablet".into();
    want.verified = true;
    assert_eq!(
        ctx.storage.totp_devices(a, &user).await.unwrap(),
        vec![d2.clone(), want.clone()]
    );
    let other = uid();
    let d3 = totp_device(&other, "only");
    ctx.storage.create_totp_device(a, &d3).await.unwrap();
    assert_eq!(
        ctx.storage
            .totp_devices_of_users(a, &[user.clone(), other.clone(), "none".into()])
            .await
            .unwrap()
            .len(),
        3
    );
    insert_used_code(&ctx, &t, &used_code(&user, "111111", true, NOW)).await;
    assert_eq!(
        ctx.storage
            .delete_totp_device(a, &user, "nope")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        ctx.storage
            .delete_totp_device(a, &user, "laptop")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        count(&ctx, "totp_users", &format!("user_id = '{user}'")).await,
        1
    );
    assert_eq!(
        ctx.storage
            .delete_totp_device(a, &user, "tablet")
            .await
            .unwrap(),
        1
    );
    // The last device took the TOTP user and its used codes with it.
    assert_eq!(
        count(&ctx, "totp_users", &format!("user_id = '{user}'")).await,
        0
    );
    assert_eq!(
        count(&ctx, "totp_used_codes", &format!("user_id = '{user}'")).await,
        0
    );
    assert!(ctx.storage.remove_totp_user(a, &other).await.unwrap());
    assert!(!ctx.storage.remove_totp_user(a, &other).await.unwrap());
    assert!(
        ctx.storage
            .totp_devices(a, &other)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Used codes: newest first under lock, the three insert errors, expiry per tenant.
pub async fn totp_used_codes(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, t.app.as_str(), "t1").await;
    let user = uid();
    ctx.storage
        .create_totp_device(&t.app, &totp_device(&user, "d"))
        .await
        .unwrap();
    let c1 = used_code(&user, "111111", false, NOW);
    let c2 = used_code(&user, "222222", true, NOW + 10);
    insert_used_code(&ctx, &t, &c1).await;
    insert_used_code(&ctx, &t, &c2).await;
    insert_used_code(&ctx, &t1, &used_code(&user, "333333", true, NOW)).await;
    let dup = try_insert_used_code(&ctx, &t, &c1).await;
    assert!(
        matches!(
            dup,
            Err(TxError::Storage(StorageError::UsedCodeAlreadyExists))
        ),
        "{dup:?}"
    );
    let unknown = try_insert_used_code(&ctx, &t, &used_code("no-totp", "1", true, NOW)).await;
    assert!(
        matches!(
            unknown,
            Err(TxError::Storage(StorageError::UnknownTotpUser))
        ),
        "{unknown:?}"
    );
    let missing = tenant(t.app.as_str(), "missing");
    match try_insert_used_code(&ctx, &missing, &used_code(&user, "4", true, NOW)).await {
        Err(TxError::Storage(e)) => assert_tenant_not_found(Err::<(), _>(e), &missing, false),
        other => panic!("expected TenantOrAppNotFound, got {other:?}"),
    }
    let (t2, u2) = (t.clone(), user.clone());
    let codes = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, u) = (t2.clone(), u2.clone());
        Box::pin(async move { Ok::<_, TxError<()>>(tx.used_totp_codes_for_update(&t, &u).await?) })
    })
    .await
    .unwrap();
    assert_eq!(codes, vec![c2.clone(), c1.clone()]);
    // c1 expires at NOW + HOUR: removed by a cut-off just after it, in this tenant only.
    assert_eq!(
        ctx.storage
            .remove_expired_totp_codes(&t, NOW + HOUR + 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(tenant_rows(&ctx, "totp_used_codes", &t).await, 1);
    assert_eq!(tenant_rows(&ctx, "totp_used_codes", &t1).await, 1);
}

/// 64 concurrent verifications of one valid code for one user: exactly one accepts
/// it, every other sees it used; each attempt is recorded exactly once.
pub async fn race_totp_verify_once(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let user = uid();
    ctx.storage
        .create_totp_device(&t.app, &totp_device(&user, "d"))
        .await
        .unwrap();
    let st = shared(&ctx);
    let results = race(64, |i| {
        let (st, t, user) = (st.clone(), t.clone(), user.clone());
        async move {
            run_transaction(&*st, &race_tx_options(), move |tx| {
                let (t, user) = (t.clone(), user.clone());
                Box::pin(async move {
                    let devices = tx.totp_devices_for_update(&t.app, &user).await?;
                    assert_eq!(devices.len(), 1);
                    let used = tx.used_totp_codes_for_update(&t, &user).await?;
                    let fresh = !used.iter().any(|c| c.code == "654321" && c.is_valid);
                    tx.insert_used_totp_code(
                        &t,
                        &used_code(&user, "654321", fresh, NOW + i as i64),
                    )
                    .await?;
                    Ok::<_, TxError<()>>(fresh)
                })
            })
            .await
        }
    })
    .await;
    let mut accepted = 0;
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(e) => panic!("task {i}: {e:?}"),
        }
    }
    assert_eq!(accepted, 1, "{results:?}");
    let where_ = format!("user_id = '{user}'");
    assert_eq!(count(&ctx, "totp_used_codes", &where_).await, 64);
    let valid = select(&ctx, "is_valid", "totp_used_codes", &where_)
        .await
        .iter()
        .filter(|r| truthy(&r[0]))
        .count();
    assert_eq!(valid, 1);
}
