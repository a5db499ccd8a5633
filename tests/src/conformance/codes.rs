//! Codes (contract 5.4): passwordless devices and codes, password-reset tokens,
//! email-verification tokens and verified emails.

use super::fixtures::*;
use crate::harness::Ctx;
use storage_api::*;

/// A device with its first code reads back through every lookup.
pub async fn codes_create_device_and_read(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let d = create_device(&ctx, &t, Some("d@example.com"), Some("+15550101"), 500).await;
    let want = Device {
        tenant: t.clone(),
        device_id_hash: d.device_id_hash.clone(),
        email: Some("d@example.com".into()),
        phone_number: Some("+15550101".into()),
        link_code_salt: d.link_code_salt.clone(),
        failed_attempts: 0,
    };
    assert_eq!(
        ctx.storage.get_device(&t, &d.device_id_hash).await.unwrap(),
        Some(want.clone())
    );
    assert_eq!(
        ctx.storage
            .devices_by_email(&t, "d@example.com")
            .await
            .unwrap(),
        vec![want.clone()]
    );
    assert_eq!(
        ctx.storage.devices_by_phone(&t, "+15550101").await.unwrap(),
        vec![want]
    );
    assert_eq!(
        ctx.storage
            .codes_of_device(&t, &d.device_id_hash)
            .await
            .unwrap(),
        vec![d.code.clone()]
    );
    assert_eq!(
        ctx.storage.get_code(&t, &d.code.code_id).await.unwrap(),
        Some(d.code.clone())
    );
    assert_eq!(
        ctx.storage
            .code_by_link_code_hash(&t, &d.code.link_code_hash)
            .await
            .unwrap(),
        Some(d.code.clone())
    );
    assert!(
        ctx.storage
            .get_device(&t, &hash44())
            .await
            .unwrap()
            .is_none()
    );
    assert!(ctx.storage.get_code(&t, &uid()).await.unwrap().is_none());
    assert!(
        ctx.storage
            .code_by_link_code_hash(&t, &hash44())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ctx.storage
            .devices_by_email(&t, "x@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        ctx.storage
            .devices_by_phone(&t, "+1")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Device creation: `DuplicateDeviceIdHash`, `DuplicateCodeId`,
/// `DuplicateLinkCodeHash`, `TenantOrAppNotFound`; a failure leaves no device.
pub async fn codes_create_device_errors(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let d = create_device(&ctx, &t, Some("a@example.com"), None, 1).await;

    let mut same_device = device(&t, Some("b@example.com"), None, 2);
    same_device.device_id_hash = d.device_id_hash.clone();
    same_device.code.device_id_hash = d.device_id_hash.clone();
    let r = ctx.storage.create_device_with_code(&same_device).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateDeviceIdHash)),
        "device id hash: {r:?}"
    );

    let mut same_code = device(&t, Some("c@example.com"), None, 3);
    same_code.code.code_id = d.code.code_id.clone();
    let r = ctx.storage.create_device_with_code(&same_code).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateCodeId)),
        "code id: {r:?}"
    );
    assert!(
        ctx.storage
            .get_device(&t, &same_code.device_id_hash)
            .await
            .unwrap()
            .is_none(),
        "device kept although its code failed"
    );

    let mut same_link = device(&t, Some("d@example.com"), None, 4);
    same_link.code.link_code_hash = d.code.link_code_hash.clone();
    let r = ctx.storage.create_device_with_code(&same_link).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateLinkCodeHash)),
        "link code hash: {r:?}"
    );
    assert!(
        ctx.storage
            .get_device(&t, &same_link.device_id_hash)
            .await
            .unwrap()
            .is_none()
    );

    let nosuch = tenant("public", "nosuch");
    let r = ctx
        .storage
        .create_device_with_code(&device(&nosuch, Some("e@example.com"), None, 5))
        .await;
    assert_tenant_not_found(r, &nosuch, false);
    assert_eq!(tenant_rows(&ctx, "passwordless_devices", &t).await, 1);
    assert_eq!(tenant_rows(&ctx, "passwordless_codes", &t).await, 1);
}

/// Code creation: success, `UnknownDeviceIdHash`, `DuplicateCodeId`,
/// `DuplicateLinkCodeHash`.
pub async fn codes_create_code(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let d = create_device(&ctx, &t, None, Some("+15550202"), 10).await;
    let c2 = code(&d.device_id_hash, 20);
    ctx.storage.create_code(&t, &c2).await.unwrap();
    assert_eq!(
        ctx.storage.get_code(&t, &c2.code_id).await.unwrap(),
        Some(c2.clone())
    );

    let r = ctx.storage.create_code(&t, &code(&hash44(), 30)).await;
    assert!(
        matches!(r, Err(StorageError::UnknownDeviceIdHash)),
        "unknown device: {r:?}"
    );
    let mut dup_id = code(&d.device_id_hash, 40);
    dup_id.code_id = c2.code_id.clone();
    let r = ctx.storage.create_code(&t, &dup_id).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateCodeId)),
        "code id: {r:?}"
    );
    let mut dup_link = code(&d.device_id_hash, 50);
    dup_link.link_code_hash = d.code.link_code_hash.clone();
    let r = ctx.storage.create_code(&t, &dup_link).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateLinkCodeHash)),
        "link code hash: {r:?}"
    );
    assert_eq!(
        ctx.storage
            .codes_of_device(&t, &d.device_id_hash)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// Codes of a device oldest first; codes created before a time.
pub async fn codes_listing_and_created_before(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let d = create_device(&ctx, &t, Some("l@example.com"), None, 300).await;
    let c_new = code(&d.device_id_hash, 900);
    let c_old = code(&d.device_id_hash, 100);
    ctx.storage.create_code(&t, &c_new).await.unwrap();
    ctx.storage.create_code(&t, &c_old).await.unwrap();
    let d2 = create_device(&ctx, &t, Some("m@example.com"), None, 200).await;
    let got = ctx
        .storage
        .codes_of_device(&t, &d.device_id_hash)
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![c_old.clone(), d.code.clone(), c_new.clone()],
        "oldest first"
    );
    let mut before = ctx.storage.codes_created_before(&t, 250).await.unwrap();
    before.sort_by_key(|c| c.created_at);
    assert_eq!(before, vec![c_old, d2.code.clone()]);
    assert!(
        ctx.storage
            .codes_created_before(&t, 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ctx.storage
            .codes_created_before(&t, 10_000)
            .await
            .unwrap()
            .len(),
        4
    );
}

/// Several devices per email or phone.
pub async fn codes_devices_by_email_and_phone(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = create_device(&ctx, &t, Some("same@example.com"), None, 1).await;
    let b = create_device(&ctx, &t, Some("same@example.com"), None, 2).await;
    let c = create_device(&ctx, &t, None, Some("+15550303"), 3).await;
    let mut got: Vec<String> = ctx
        .storage
        .devices_by_email(&t, "same@example.com")
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.device_id_hash)
        .collect();
    got.sort();
    assert_eq!(got, sorted(vec![a.device_id_hash, b.device_id_hash]));
    let got = ctx.storage.devices_by_phone(&t, "+15550303").await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].device_id_hash, c.device_id_hash);
    assert_eq!(got[0].email, None);
}

/// Device operations inside a transaction: lock, increment, delete code, delete device.
pub async fn codes_device_ops_in_transaction(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let d = create_device(&ctx, &t, Some("tx@example.com"), None, 1).await;
    let c2 = code(&d.device_id_hash, 2);
    ctx.storage.create_code(&t, &c2).await.unwrap();
    let (tc, dc, c2c) = (t.clone(), d.clone(), c2.clone());
    let out = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, d, c2) = (tc.clone(), dc.clone(), c2c.clone());
        Box::pin(async move {
            let locked = tx.device_for_update(&t, &d.device_id_hash).await?;
            let absent = tx.device_for_update(&t, &hash44()).await?;
            let codes = tx.codes_of_device(&t, &d.device_id_hash).await?;
            let by_link = tx.code_by_link_code_hash(&t, &c2.link_code_hash).await?;
            let inc1 = tx.increment_failed_attempts(&t, &d.device_id_hash).await?;
            let inc2 = tx.increment_failed_attempts(&t, &d.device_id_hash).await?;
            let inc_missing = tx.increment_failed_attempts(&t, &hash44()).await?;
            let del = tx.delete_code(&t, &d.code.code_id).await?;
            let del_again = tx.delete_code(&t, &d.code.code_id).await?;
            let after = tx.device_for_update(&t, &d.device_id_hash).await?;
            Ok::<_, TxError<()>>((
                locked,
                absent,
                codes,
                by_link,
                inc1 + inc2,
                inc_missing,
                del,
                del_again,
                after,
            ))
        })
    })
    .await
    .unwrap();
    let (locked, absent, codes, by_link, incs, inc_missing, del, del_again, after) = out;
    assert_eq!(locked.map(|x| x.failed_attempts), Some(0));
    assert!(absent.is_none());
    assert_eq!(codes.len(), 2);
    assert_eq!(by_link, Some(c2.clone()));
    assert_eq!((incs, inc_missing), (2, 0));
    assert_eq!((del, del_again), (1, 0));
    assert_eq!(
        after.map(|x| x.failed_attempts),
        Some(2),
        "own increments not visible"
    );
    assert_eq!(
        ctx.storage
            .get_device(&t, &d.device_id_hash)
            .await
            .unwrap()
            .unwrap()
            .failed_attempts,
        2
    );
    assert_eq!(
        ctx.storage
            .codes_of_device(&t, &d.device_id_hash)
            .await
            .unwrap(),
        vec![c2.clone()]
    );

    let (tc, dh) = (t.clone(), d.device_id_hash.clone());
    let n = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, dh) = (tc.clone(), dh.clone());
        Box::pin(async move { Ok::<_, TxError<()>>(tx.delete_device(&t, &dh).await?) })
    })
    .await
    .unwrap();
    assert_eq!(n, 1);
    assert!(
        ctx.storage
            .get_device(&t, &d.device_id_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ctx.storage
            .get_code(&t, &c2.code_id)
            .await
            .unwrap()
            .is_none(),
        "codes outlived their device"
    );
    assert_eq!(tenant_rows(&ctx, "passwordless_codes", &t).await, 0);
}

/// Deleting every device of an email or phone deletes their codes and nothing else.
pub async fn codes_delete_devices_by_email_and_phone(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = create_device(&ctx, &t, Some("x@example.com"), None, 1).await;
    create_device(&ctx, &t, Some("x@example.com"), Some("+15550404"), 2).await;
    let keep = create_device(&ctx, &t, Some("y@example.com"), None, 3).await;
    let p = create_device(&ctx, &t, None, Some("+15550505"), 4).await;
    let tc = t.clone();
    let (by_email, by_phone, none) =
        run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
            let t = tc.clone();
            Box::pin(async move {
                let e = tx.delete_devices_by_email(&t, "x@example.com").await?;
                let p = tx.delete_devices_by_phone(&t, "+15550505").await?;
                let n = tx.delete_devices_by_email(&t, "nobody@example.com").await?;
                Ok::<_, TxError<()>>((e, p, n))
            })
        })
        .await
        .unwrap();
    assert_eq!((by_email, by_phone, none), (2, 1, 0));
    assert!(
        ctx.storage
            .get_device(&t, &a.device_id_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ctx.storage
            .get_device(&t, &p.device_id_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ctx.storage
            .get_device(&t, &keep.device_id_hash)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        ctx.storage
            .get_code(&t, &a.code.code_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(tenant_rows(&ctx, "passwordless_codes", &t).await, 1);
    assert!(
        ctx.storage
            .devices_by_phone(&t, "+15550404")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Password-reset tokens: add, get, list per user, email optional.
pub async fn codes_password_reset_tokens(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let u = ep_user(&ctx, &t, &email(), 1).await;
    let other = ep_user(&ctx, &t, &email(), 2).await;
    let a = reset_token(&t.app, &u.id, NOW + HOUR);
    let mut b = reset_token(&t.app, &u.id, NOW + 2 * HOUR);
    b.email = None;
    let c = reset_token(&t.app, &other.id, NOW + HOUR);
    for tok in [&a, &b, &c] {
        ctx.storage.add_password_reset_token(tok).await.unwrap();
    }
    assert_eq!(
        ctx.storage
            .get_password_reset_token(&t.app, &a.token)
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        ctx.storage
            .get_password_reset_token(&t.app, &b.token)
            .await
            .unwrap(),
        Some(b.clone())
    );
    assert!(
        ctx.storage
            .get_password_reset_token(&t.app, "nope")
            .await
            .unwrap()
            .is_none()
    );
    let mut got = ctx
        .storage
        .password_reset_tokens_of_user(&t.app, &u.id)
        .await
        .unwrap();
    got.sort_by_key(|x| x.token_expiry);
    assert_eq!(got, vec![a, b]);
    assert!(
        ctx.storage
            .password_reset_tokens_of_user(&t.app, &uid())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Password-reset tokens: `UnknownUserId`, `DuplicatePasswordResetToken` (across
/// apps too: the token is unique in the whole database).
pub async fn codes_password_reset_token_errors(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let o = setup_tenant(&ctx, "other", "public").await;
    let u = ep_user(&ctx, &t, &email(), 1).await;
    let v = ep_user(&ctx, &o, &email(), 1).await;
    let r = ctx
        .storage
        .add_password_reset_token(&reset_token(&t.app, &uid(), NOW))
        .await;
    assert!(
        matches!(r, Err(StorageError::UnknownUserId)),
        "unknown user: {r:?}"
    );
    let r = ctx
        .storage
        .add_password_reset_token(&reset_token(&o.app, &u.id, NOW))
        .await;
    assert!(
        matches!(r, Err(StorageError::UnknownUserId)),
        "user of another app: {r:?}"
    );
    let a = reset_token(&t.app, &u.id, NOW);
    ctx.storage.add_password_reset_token(&a).await.unwrap();
    let r = ctx.storage.add_password_reset_token(&a).await;
    assert!(
        matches!(r, Err(StorageError::DuplicatePasswordResetToken)),
        "same token: {r:?}"
    );
    let mut again = reset_token(&o.app, &v.id, NOW);
    again.token = a.token.clone();
    let r = ctx.storage.add_password_reset_token(&again).await;
    assert!(
        matches!(r, Err(StorageError::DuplicatePasswordResetToken)),
        "same token in another app: {r:?}"
    );
}

/// Expired password-reset tokens go; others stay.
pub async fn codes_password_reset_delete_expired(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let o = setup_tenant(&ctx, "other", "public").await;
    let u = ep_user(&ctx, &t, &email(), 1).await;
    let v = ep_user(&ctx, &o, &email(), 1).await;
    let old = reset_token(&t.app, &u.id, NOW - 100);
    let old2 = reset_token(&o.app, &v.id, NOW - 100);
    let live = reset_token(&t.app, &u.id, NOW + 100);
    for tok in [&old, &old2, &live] {
        ctx.storage.add_password_reset_token(tok).await.unwrap();
    }
    assert_eq!(
        ctx.storage
            .delete_expired_password_reset_tokens(NOW)
            .await
            .unwrap(),
        2
    );
    assert!(
        ctx.storage
            .get_password_reset_token(&t.app, &old.token)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        ctx.storage
            .password_reset_tokens_of_user(&t.app, &u.id)
            .await
            .unwrap(),
        vec![live]
    );
    assert_eq!(
        ctx.storage
            .delete_expired_password_reset_tokens(NOW)
            .await
            .unwrap(),
        0
    );
}

/// Password-reset tokens in a transaction: locked list, delete all of a user.
pub async fn codes_password_reset_in_transaction(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let u = ep_user(&ctx, &t, &email(), 1).await;
    let w = ep_user(&ctx, &t, &email(), 1).await;
    let a = reset_token(&t.app, &u.id, NOW);
    let b = reset_token(&t.app, &u.id, NOW + 1);
    let keep = reset_token(&t.app, &w.id, NOW);
    for tok in [&a, &b, &keep] {
        ctx.storage.add_password_reset_token(tok).await.unwrap();
    }
    let (ap, uid_) = (t.app.clone(), u.id.clone());
    let (locked, deleted, after) =
        run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
            let (ap, u) = (ap.clone(), uid_.clone());
            Box::pin(async move {
                let locked = tx.password_reset_tokens_for_update(&ap, &u).await?;
                let deleted = tx.delete_password_reset_tokens_of_user(&ap, &u).await?;
                let after = tx.password_reset_tokens_for_update(&ap, &u).await?;
                Ok::<_, TxError<()>>((locked, deleted, after))
            })
        })
        .await
        .unwrap();
    let mut locked = locked;
    locked.sort_by_key(|x| x.token_expiry);
    assert_eq!(locked, vec![a, b]);
    assert_eq!(deleted, 2);
    assert!(after.is_empty());
    assert!(
        ctx.storage
            .password_reset_tokens_of_user(&t.app, &u.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ctx.storage
            .password_reset_tokens_of_user(&t.app, &w.id)
            .await
            .unwrap(),
        vec![keep]
    );
}

/// Email-verification tokens: add, get, list per (tenant, user, email), revoke.
pub async fn codes_email_verification_tokens(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = ev_token(&t, "user-1", "a@example.com", NOW + 1);
    let b = ev_token(&t, "user-1", "a@example.com", NOW + 2);
    let c = ev_token(&t, "user-1", "c@example.com", NOW + 3);
    for tok in [&a, &b, &c] {
        ctx.storage.add_email_verification_token(tok).await.unwrap();
    }
    assert_eq!(
        ctx.storage
            .get_email_verification_token(&t, &a.token)
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert!(
        ctx.storage
            .get_email_verification_token(&t, "nope")
            .await
            .unwrap()
            .is_none()
    );
    let mut got = ctx
        .storage
        .email_verification_tokens(&t, "user-1", "a@example.com")
        .await
        .unwrap();
    got.sort_by_key(|x| x.token_expiry);
    assert_eq!(got, vec![a.clone(), b.clone()]);
    assert_eq!(
        ctx.storage
            .revoke_email_verification_tokens(&t, "user-1", "a@example.com")
            .await
            .unwrap(),
        2
    );
    assert!(
        ctx.storage
            .email_verification_tokens(&t, "user-1", "a@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ctx.storage
            .email_verification_tokens(&t, "user-1", "c@example.com")
            .await
            .unwrap(),
        vec![c]
    );
    assert_eq!(
        ctx.storage
            .revoke_email_verification_tokens(&t, "user-1", "a@example.com")
            .await
            .unwrap(),
        0
    );
}

/// Email-verification tokens: `DuplicateEmailVerificationToken`, `TenantOrAppNotFound`.
pub async fn codes_email_verification_token_errors(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let a = ev_token(&t, "u", "a@example.com", NOW);
    ctx.storage.add_email_verification_token(&a).await.unwrap();
    let mut dup = ev_token(&t, "v", "b@example.com", NOW);
    dup.token = a.token.clone();
    let r = ctx.storage.add_email_verification_token(&dup).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateEmailVerificationToken)),
        "same token: {r:?}"
    );
    let mut dup2 = ev_token(&t1, "u", "a@example.com", NOW);
    dup2.token = a.token.clone();
    let r = ctx.storage.add_email_verification_token(&dup2).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateEmailVerificationToken)),
        "same token in another tenant: {r:?}"
    );
    let nosuch = tenant("public", "nosuch");
    let r = ctx
        .storage
        .add_email_verification_token(&ev_token(&nosuch, "u", "a@example.com", NOW))
        .await;
    assert_tenant_not_found(r, &nosuch, false);
}

/// Expired email-verification tokens go, across tenants.
pub async fn codes_email_verification_delete_expired(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let old = ev_token(&t, "u", "e@example.com", NOW - 5);
    let old2 = ev_token(&t1, "u", "e@example.com", NOW - 5);
    let live = ev_token(&t, "u", "e@example.com", NOW + 5);
    for tok in [&old, &old2, &live] {
        ctx.storage.add_email_verification_token(tok).await.unwrap();
    }
    assert_eq!(
        ctx.storage
            .delete_expired_email_verification_tokens(NOW)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        ctx.storage
            .email_verification_tokens(&t, "u", "e@example.com")
            .await
            .unwrap(),
        vec![live]
    );
    assert!(
        ctx.storage
            .email_verification_tokens(&t1, "u", "e@example.com")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Email-verification in a transaction: locked tokens, delete, mark verified.
pub async fn codes_email_verification_in_transaction(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = ev_token(&t, "u", "e@example.com", NOW);
    let other = ev_token(&t, "u", "f@example.com", NOW);
    ctx.storage.add_email_verification_token(&a).await.unwrap();
    ctx.storage
        .add_email_verification_token(&other)
        .await
        .unwrap();
    let tc = t.clone();
    let (locked, deleted) = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let t = tc.clone();
        Box::pin(async move {
            let locked = tx
                .email_verification_tokens_for_update(&t, "u", "e@example.com")
                .await?;
            let deleted = tx
                .delete_email_verification_tokens(&t, "u", "e@example.com")
                .await?;
            tx.set_email_verified(&t.app, "u", "e@example.com", true)
                .await?;
            tx.set_email_verified(&t.app, "u", "e@example.com", true)
                .await?;
            Ok::<_, TxError<()>>((locked, deleted))
        })
    })
    .await
    .unwrap();
    assert_eq!(locked, vec![a]);
    assert_eq!(deleted, 1);
    assert!(
        ctx.storage
            .is_email_verified(&t.app, "u", "e@example.com")
            .await
            .unwrap()
    );
    assert!(
        ctx.storage
            .email_verification_tokens(&t, "u", "e@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ctx.storage
            .email_verification_tokens(&t, "u", "f@example.com")
            .await
            .unwrap(),
        vec![other]
    );
}

/// Verified emails: idempotent set and unset, per (user, email).
pub async fn codes_verified_emails(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let s = &ctx.storage;
    assert!(
        !s.is_email_verified(&t.app, "u", "v@example.com")
            .await
            .unwrap()
    );
    s.set_email_verified(&t.app, "u", "v@example.com", true)
        .await
        .unwrap();
    s.set_email_verified(&t.app, "u", "v@example.com", true)
        .await
        .unwrap();
    assert!(
        s.is_email_verified(&t.app, "u", "v@example.com")
            .await
            .unwrap()
    );
    assert!(
        !s.is_email_verified(&t.app, "u", "w@example.com")
            .await
            .unwrap()
    );
    assert!(
        !s.is_email_verified(&t.app, "u2", "v@example.com")
            .await
            .unwrap()
    );
    assert_eq!(
        app_rows(&ctx, "emailverification_verified_emails", &t.app).await,
        1
    );
    s.set_email_verified(&t.app, "u", "v@example.com", false)
        .await
        .unwrap();
    s.set_email_verified(&t.app, "u", "v@example.com", false)
        .await
        .unwrap();
    assert!(
        !s.is_email_verified(&t.app, "u", "v@example.com")
            .await
            .unwrap()
    );
    assert_eq!(
        app_rows(&ctx, "emailverification_verified_emails", &t.app).await,
        0
    );
}

/// Marking an email verified in an unknown app is `TenantOrAppNotFound`.
pub async fn codes_verified_email_unknown_app(ctx: Ctx) {
    setup_public(&ctx).await;
    let missing = app("nosuchapp");
    let r = ctx
        .storage
        .set_email_verified(&missing, "u", "v@example.com", true)
        .await;
    assert_app_not_found(r, &missing);
}
