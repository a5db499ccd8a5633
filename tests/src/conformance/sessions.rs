//! Sessions (contract 5.3): creation, reads, refresh-token rotation, updates,
//! deletions, expiry, and access-token signing keys.

use super::fixtures::*;
use crate::harness::Ctx;
use serde_json::json;
use storage_api::*;

/// A created session reads back with every field.
pub async fn sessions_create_and_get(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mut s = session(&t, "external|user-1");
    s.use_static_key = true;
    s.session_data = json!({"nested": {"k": [1, 2, {"x": null}]}, "s": "v"});
    ctx.storage.create_session(&s).await.unwrap();
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .expect("session not found");
    let want = Session {
        tenant: t.clone(),
        handle: s.handle.clone(),
        user_id: s.user_id.clone(),
        refresh_token_hash: s.refresh_token_hash.clone(),
        prev_refresh_token_hash: None,
        refresh_token_rotated_at: None,
        session_data: s.session_data.clone(),
        expires_at: s.expires_at,
        jwt_payload: s.jwt_payload.clone(),
        created_at: s.created_at,
        use_static_key: true,
    };
    assert_eq!(got, want);
    assert!(
        ctx.storage
            .get_session(&t, "no-such-handle")
            .await
            .unwrap()
            .is_none()
    );
}

/// Creating a session in an unknown tenant is `TenantOrAppNotFound`.
pub async fn sessions_create_unknown_tenant(ctx: Ctx) {
    setup_public(&ctx).await;
    let t = tenant("public", "nosuch");
    let r = ctx.storage.create_session(&session(&t, &uid())).await;
    assert_tenant_not_found(r, &t, false);
    let t2 = tenant("noapp", "public");
    let r = ctx.storage.create_session(&session(&t2, &uid())).await;
    assert_tenant_not_found(r, &t2, true);
}

/// Rotation: Rotated once, then Mismatch for the old hash, NotFound for unknown or
/// expired sessions.
pub async fn sessions_rotate_refresh_token(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let s = create_session(&ctx, &t, &uid()).await;
    let r = ctx
        .storage
        .rotate_refresh_token(
            &t,
            &RefreshRotation {
                handle: &s.handle,
                expected: &s.refresh_token_hash,
                new_hash: "hash-2",
                new_expiry: NOW + 2 * HOUR,
                now: NOW + 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Rotated);
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.refresh_token_hash, "hash-2");
    assert_eq!(got.expires_at, NOW + 2 * HOUR);
    assert_eq!(
        got.prev_refresh_token_hash.as_deref(),
        Some(s.refresh_token_hash.as_str()),
        "previous hash not kept"
    );
    assert_eq!(
        got.refresh_token_rotated_at,
        Some(NOW + 10),
        "rotation time not stored"
    );
    assert_eq!(
        got.session_data, s.session_data,
        "rotation changed session data"
    );

    let r = ctx
        .storage
        .rotate_refresh_token(
            &t,
            &RefreshRotation {
                handle: &s.handle,
                expected: &s.refresh_token_hash,
                new_hash: "hash-3",
                new_expiry: NOW + 3 * HOUR,
                now: NOW + 20,
            },
        )
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Mismatch, "reusing the old refresh token");
    assert_eq!(
        ctx.storage
            .get_session(&t, &s.handle)
            .await
            .unwrap()
            .unwrap()
            .refresh_token_hash,
        "hash-2"
    );

    let r = ctx
        .storage
        .rotate_refresh_token(
            &t,
            &RefreshRotation {
                handle: "nope",
                expected: "hash-2",
                new_hash: "hash-3",
                new_expiry: NOW + 3 * HOUR,
                now: NOW + 20,
            },
        )
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::NotFound);

    // Expired at `now`: NotFound, and nothing changes.
    let r = ctx
        .storage
        .rotate_refresh_token(
            &t,
            &RefreshRotation {
                handle: &s.handle,
                expected: "hash-2",
                new_hash: "hash-4",
                new_expiry: NOW + 9 * HOUR,
                now: NOW + 5 * HOUR,
            },
        )
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::NotFound, "rotating an expired session");
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.refresh_token_hash, "hash-2");
    assert_eq!(got.expires_at, NOW + 2 * HOUR);
}

/// `update_session` replaces data and/or payload and reports rows touched.
pub async fn sessions_update_session(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let s = create_session(&ctx, &t, &uid()).await;
    let n = ctx
        .storage
        .update_session(&t, &s.handle, Some(&json!({"d": 2})), None)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.session_data, json!({"d": 2}));
    assert_eq!(
        got.jwt_payload, s.jwt_payload,
        "payload changed by a data-only update"
    );
    let n = ctx
        .storage
        .update_session(&t, &s.handle, None, Some(&json!({"p": true})))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.session_data,
        json!({"d": 2}),
        "data changed by a payload-only update"
    );
    assert_eq!(got.jwt_payload, json!({"p": true}));
    let n = ctx
        .storage
        .update_session(&t, &s.handle, Some(&json!([1])), Some(&json!("str")))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.session_data, got.jwt_payload),
        (json!([1]), json!("str"))
    );
    let n = ctx
        .storage
        .update_session(&t, "nope", Some(&json!({})), None)
        .await
        .unwrap();
    assert_eq!(n, 0, "updating an unknown session");
}

/// `delete_sessions` by handle returns the number deleted, ignoring unknown handles.
pub async fn sessions_delete_by_handles(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = create_session(&ctx, &t, "u1").await;
    let b = create_session(&ctx, &t, "u1").await;
    let c = create_session(&ctx, &t, "u2").await;
    let n = ctx
        .storage
        .delete_sessions(&t, &[a.handle.clone(), b.handle.clone(), "unknown".into()])
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!(
        ctx.storage
            .get_session(&t, &a.handle)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ctx.storage
            .get_session(&t, &c.handle)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(ctx.storage.delete_sessions(&t, &[]).await.unwrap(), 0);
    assert_eq!(
        ctx.storage
            .delete_sessions(&t, std::slice::from_ref(&a.handle))
            .await
            .unwrap(),
        0
    );
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), 1);
}

/// Deleting a user's sessions per tenant or per app.
pub async fn sessions_delete_of_user(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let other = setup_tenant(&ctx, "other", "public").await;
    for tt in [&t, &t, &t1, &other] {
        create_session(&ctx, tt, "user-x").await;
    }
    let keep = create_session(&ctx, &t, "user-y").await;
    let n = ctx
        .storage
        .delete_sessions_of_user(&UserScope::Tenant(t1.clone()), "user-x")
        .await
        .unwrap();
    assert_eq!(n, 1, "tenant scope");
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), 3);
    let n = ctx
        .storage
        .delete_sessions_of_user(&UserScope::App(t.app.clone()), "user-x")
        .await
        .unwrap();
    assert_eq!(n, 2, "app scope");
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), 1);
    assert_eq!(
        ctx.storage.count_sessions(&other).await.unwrap(),
        1,
        "another app's session deleted"
    );
    assert!(
        ctx.storage
            .get_session(&t, &keep.handle)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        ctx.storage
            .delete_sessions_of_user(&UserScope::App(t.app.clone()), "user-x")
            .await
            .unwrap(),
        0
    );
}

/// Non-expired handles of a user, sorted.
pub async fn sessions_handles_of_user(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mut handles = Vec::new();
    for (i, exp) in [NOW + HOUR, NOW - HOUR, NOW + 2 * HOUR, NOW + 3 * HOUR]
        .into_iter()
        .enumerate()
    {
        let mut s = session(&t, "u");
        s.handle = format!("h-{}", 9 - i);
        s.expires_at = exp;
        ctx.storage.create_session(&s).await.unwrap();
        if exp > NOW {
            handles.push(s.handle);
        }
    }
    create_session(&ctx, &t, "someone-else").await;
    handles.sort();
    let got = ctx
        .storage
        .session_handles_of_user(&t, "u", NOW)
        .await
        .unwrap();
    assert_eq!(got, handles, "non-expired handles, sorted");
    let got = ctx
        .storage
        .session_handles_of_user(&t, "u", NOW + 90 * 60_000)
        .await
        .unwrap();
    assert_eq!(got.len(), 2, "expiry compared with the given now: {got:?}");
    assert!(
        ctx.storage
            .session_handles_of_user(&t, "nobody", NOW)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `count_sessions` counts the tenant's sessions.
pub async fn sessions_count(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), 0);
    for _ in 0..5 {
        create_session(&ctx, &t, &uid()).await;
    }
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), 5);
}

/// Expired sessions go across every app and tenant, and only those.
pub async fn sessions_delete_expired(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let other = setup_tenant(&ctx, "other", "o1").await;
    let mut live = Vec::new();
    for (i, tt) in [&t, &t1, &other].into_iter().enumerate() {
        for j in 0..4 {
            let mut s = session(tt, "u");
            s.expires_at = if j % 2 == 0 {
                NOW - 1_000 - (i as i64)
            } else {
                NOW + 1_000
            };
            ctx.storage.create_session(&s).await.unwrap();
            if j % 2 == 1 {
                live.push((tt.clone(), s.handle));
            }
        }
    }
    let n = ctx.storage.delete_expired_sessions(NOW).await.unwrap();
    assert_eq!(n, 6);
    for (tt, h) in &live {
        assert!(
            ctx.storage.get_session(tt, h).await.unwrap().is_some(),
            "live session deleted"
        );
    }
    assert_eq!(ctx.storage.count_sessions(&other).await.unwrap(), 2);
    assert_eq!(ctx.storage.delete_expired_sessions(NOW).await.unwrap(), 0);
}

/// Many expired sessions go in one call, whatever the batch size.
pub async fn sessions_delete_expired_many(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    for i in 0..1_200 {
        let mut s = session(&t, "bulk");
        s.expires_at = NOW - 10 - i;
        ctx.storage.create_session(&s).await.unwrap();
    }
    create_session(&ctx, &t, "bulk").await;
    assert_eq!(
        ctx.storage.delete_expired_sessions(NOW).await.unwrap(),
        1_200
    );
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), 1);
}

/// Session reads and token updates inside a transaction.
pub async fn sessions_in_transaction(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let s = create_session(&ctx, &t, &uid()).await;
    let (tc, handle, old_hash) = (t.clone(), s.handle.clone(), s.refresh_token_hash.clone());
    let (seen, n, missing) = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, handle, old_hash) = (tc.clone(), handle.clone(), old_hash.clone());
        Box::pin(async move {
            let seen = tx.get_session_for_update(&t, &handle).await?;
            let n = tx
                .update_tokens(
                    &t,
                    &TokenUpdate {
                        handle: &handle,
                        new_hash: "tx-hash",
                        prev_hash: Some(&old_hash),
                        rotated_at: Some(NOW + 5),
                        expires_at: NOW + 4 * HOUR,
                    },
                )
                .await?;
            let missing = tx
                .update_tokens(
                    &t,
                    &TokenUpdate {
                        handle: "nope",
                        new_hash: "x",
                        prev_hash: None,
                        rotated_at: None,
                        expires_at: NOW,
                    },
                )
                .await?;
            Ok::<_, TxError<()>>((seen, n, missing))
        })
    })
    .await
    .unwrap();
    assert_eq!(
        seen.map(|s| s.refresh_token_hash),
        Some(s.refresh_token_hash.clone())
    );
    assert_eq!(n, 1);
    assert_eq!(missing, 0);
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.refresh_token_hash, "tx-hash");
    assert_eq!(
        got.prev_refresh_token_hash.as_deref(),
        Some(s.refresh_token_hash.as_str())
    );
    assert_eq!(got.refresh_token_rotated_at, Some(NOW + 5));
    assert_eq!(got.expires_at, NOW + 4 * HOUR);
    // update_tokens with no previous hash clears it.
    let (tc, handle) = (t.clone(), s.handle.clone());
    run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, handle) = (tc.clone(), handle.clone());
        Box::pin(async move {
            assert!(tx.get_session_for_update(&t, "nope").await?.is_none());
            tx.update_tokens(
                &t,
                &TokenUpdate {
                    handle: &handle,
                    new_hash: "h3",
                    prev_hash: None,
                    rotated_at: None,
                    expires_at: NOW + HOUR,
                },
            )
            .await?;
            Ok::<_, TxError<()>>(())
        })
    })
    .await
    .unwrap();
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.refresh_token_hash, "h3");
    assert_eq!(got.prev_refresh_token_hash, None);
    assert_eq!(got.refresh_token_rotated_at, None);
}

/// Signing keys: added in transactions, listed newest first, removed before a time.
pub async fn sessions_signing_keys(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    assert!(ctx.storage.signing_keys(&t.app).await.unwrap().is_empty());
    for at in [100, 300, 200] {
        add_signing_key(&ctx, &t.app, signing_key(at)).await;
    }
    let got = ctx.storage.signing_keys(&t.app).await.unwrap();
    assert_eq!(
        got,
        vec![signing_key(300), signing_key(200), signing_key(100)],
        "newest first"
    );
    let a = t.app.clone();
    let (locked, removed) = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let a = a.clone();
        Box::pin(async move {
            let locked = tx.signing_keys_for_update(&a).await?;
            let removed = tx.remove_signing_keys_before(&a, 250).await?;
            tx.add_signing_key(&a, &signing_key(400)).await?;
            Ok::<_, TxError<()>>((locked, removed))
        })
    })
    .await
    .unwrap();
    assert_eq!(
        locked,
        vec![signing_key(300), signing_key(200), signing_key(100)]
    );
    assert_eq!(removed, 2);
    let got = ctx.storage.signing_keys(&t.app).await.unwrap();
    assert_eq!(got, vec![signing_key(400), signing_key(300)]);
}

/// Adding a signing key to an unknown app is `TenantOrAppNotFound`.
pub async fn sessions_signing_key_unknown_app(ctx: Ctx) {
    setup_public(&ctx).await;
    let missing = app("nosuchapp");
    let m = missing.clone();
    let r = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let m = m.clone();
        Box::pin(async move {
            tx.add_signing_key(&m, &signing_key(1)).await?;
            Ok::<_, TxError<()>>(())
        })
    })
    .await;
    match r {
        Err(TxError::Storage(e)) => assert_app_not_found(Err::<(), _>(e), &missing),
        other => panic!("expected TenantOrAppNotFound, got {other:?}"),
    }
    assert!(ctx.storage.signing_keys(&missing).await.unwrap().is_empty());
}

/// A session's user id may be an external id of up to 128 characters.
pub async fn sessions_external_user_ids(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let long = "x".repeat(128);
    for user in ["auth0|5f7c8ec7c33c6c004bbafe82", "a", long.as_str()] {
        let s = create_session(&ctx, &t, user).await;
        let got = ctx
            .storage
            .get_session(&t, &s.handle)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.user_id, user);
    }
    let h = ctx
        .storage
        .session_handles_of_user(&t, &long, NOW)
        .await
        .unwrap();
    assert_eq!(h.len(), 1);
}
