//! The concurrent flows of contract 5.5, each from `RACERS` (16) tokio tasks released
//! together: refresh rotation, consuming a passwordless code (and wrong codes counted
//! exactly), consuming password-reset and email-verification tokens, sign-up races,
//! signing-key rotation, and a key/value counter.

use super::fixtures::*;
use crate::harness::Ctx;
use storage_api::*;

/// N concurrent rotations with one refresh token: exactly one `Rotated`, every other
/// `Mismatch`; the stored hash is the winner's.
pub async fn race_refresh_rotation(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let s = create_session(&ctx, &t, &uid()).await;
    let st = shared(&ctx);
    let results = race(RACERS, |i| {
        let (st, t, h, old) = (
            st.clone(),
            t.clone(),
            s.handle.clone(),
            s.refresh_token_hash.clone(),
        );
        async move {
            st.rotate_refresh_token(
                &t,
                &RefreshRotation {
                    handle: &h,
                    expected: &old,
                    new_hash: &format!("new-{i}"),
                    new_expiry: NOW + 2 * HOUR,
                    now: NOW + 1,
                },
            )
            .await
        }
    })
    .await;
    let mut winners = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(RotateOutcome::Rotated) => winners.push(i),
            Ok(RotateOutcome::Mismatch) => {}
            other => panic!("task {i}: expected Rotated or Mismatch, got {other:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one rotation must win: {results:?}"
    );
    let got = ctx
        .storage
        .get_session(&t, &s.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.refresh_token_hash, format!("new-{}", winners[0]));
    assert_eq!(
        got.prev_refresh_token_hash.as_deref(),
        Some(s.refresh_token_hash.as_str())
    );
}

/// N concurrent consumers of one passwordless code: exactly one succeeds, the device
/// and its codes are gone.
pub async fn race_consume_passwordless_code(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let e = "consume@example.com".to_owned();
    let d = create_device(&ctx, &t, Some(&e), None, 1).await;
    let other = create_device(&ctx, &t, Some(&e), None, 2).await;
    let st = shared(&ctx);
    let results = race(RACERS, |_| {
        let (st, t, d, e) = (st.clone(), t.clone(), d.clone(), e.clone());
        async move {
            run_transaction(&*st, &race_tx_options(), move |tx| {
                let (t, d, e) = (t.clone(), d.clone(), e.clone());
                Box::pin(async move {
                    let Some(dev) = tx.device_for_update(&t, &d.device_id_hash).await? else {
                        return Ok(false);
                    };
                    if dev.failed_attempts >= 5 {
                        return Ok(false);
                    }
                    let Some(code) = tx
                        .code_by_link_code_hash(&t, &d.code.link_code_hash)
                        .await?
                    else {
                        return Ok(false);
                    };
                    if code.device_id_hash != dev.device_id_hash {
                        return Ok(false);
                    }
                    tx.delete_devices_by_email(&t, &e).await?;
                    Ok::<_, TxError<()>>(true)
                })
            })
            .await
        }
    })
    .await;
    let wins = results
        .iter()
        .map(|r| {
            *r.as_ref()
                .unwrap_or_else(|e| panic!("consumer failed: {e:?}")) as usize
        })
        .sum::<usize>();
    assert_eq!(wins, 1, "exactly one consumer must win: {results:?}");
    assert!(
        ctx.storage
            .get_device(&t, &d.device_id_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ctx.storage
            .get_device(&t, &other.device_id_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ctx.storage
            .code_by_link_code_hash(&t, &d.code.link_code_hash)
            .await
            .unwrap()
            .is_none()
    );
}

/// N concurrent wrong codes: each increments the counter in a transaction that
/// commits and returns an error; the counter ends at exactly N.
pub async fn race_wrong_code_attempts_counted(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let d = create_device(&ctx, &t, None, Some("+15559999"), 1).await;
    let st = shared(&ctx);
    let results = race(RACERS, |i| {
        let (st, t, dh) = (st.clone(), t.clone(), d.device_id_hash.clone());
        async move {
            run_transaction(&*st, &race_tx_options(), move |tx| {
                let (t, dh) = (t.clone(), dh.clone());
                Box::pin(async move {
                    let dev = tx
                        .device_for_update(&t, &dh)
                        .await?
                        .unwrap_or_else(|| panic!("task {i}: device vanished"));
                    let wrong = hash44();
                    let found = tx.code_by_link_code_hash(&t, &wrong).await?;
                    assert!(found.is_none(), "a random link hash matched a code");
                    let n = tx.increment_failed_attempts(&t, &dh).await?;
                    assert_eq!(n, 1, "increment touched {n} rows");
                    Err::<(), _>(TxError::Commit(dev.failed_attempts))
                })
            })
            .await
        }
    })
    .await;
    let mut seen = Vec::new();
    for r in &results {
        match r {
            Err(TxError::Commit(before)) => seen.push(*before),
            other => panic!("expected commit-and-error, got {other:?}"),
        }
    }
    seen.sort();
    let expected: Vec<u32> = (0..RACERS as u32).collect();
    assert_eq!(
        seen, expected,
        "each attempt must see the previous ones (row lock)"
    );
    let dev = ctx
        .storage
        .get_device(&t, &d.device_id_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        dev.failed_attempts, RACERS as u32,
        "lost or extra increments"
    );
}

/// N concurrent consumers of one password-reset token: exactly one sees it.
pub async fn race_consume_password_reset_token(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let u = ep_user(&ctx, &t, &email(), 1).await;
    let tok = reset_token(&t.app, &u.id, NOW + HOUR);
    ctx.storage.add_password_reset_token(&tok).await.unwrap();
    ctx.storage
        .add_password_reset_token(&reset_token(&t.app, &u.id, NOW + HOUR))
        .await
        .unwrap();
    let st = shared(&ctx);
    let results = race(RACERS, |_| {
        let (st, tok) = (st.clone(), tok.clone());
        async move {
            run_transaction(&*st, &race_tx_options(), move |tx| {
                let tok = tok.clone();
                Box::pin(async move {
                    let tokens = tx
                        .password_reset_tokens_for_update(&tok.app, &tok.user_id)
                        .await?;
                    if !tokens.iter().any(|x| x.token == tok.token) {
                        return Ok(false);
                    }
                    let n = tx
                        .delete_password_reset_tokens_of_user(&tok.app, &tok.user_id)
                        .await?;
                    assert_eq!(n, 2, "the winner deletes every token of the user");
                    Ok::<_, TxError<()>>(true)
                })
            })
            .await
        }
    })
    .await;
    let wins = results
        .iter()
        .filter(|r| {
            *r.as_ref()
                .unwrap_or_else(|e| panic!("consumer failed: {e:?}"))
        })
        .count();
    assert_eq!(wins, 1, "exactly one consumer must win");
    assert!(
        ctx.storage
            .password_reset_tokens_of_user(&t.app, &u.id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// N concurrent consumers of one email-verification token: exactly one wins and the
/// email ends verified.
pub async fn race_consume_email_verification_token(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let tok = ev_token(&t, &uid(), "ev@example.com", NOW + HOUR);
    ctx.storage
        .add_email_verification_token(&tok)
        .await
        .unwrap();
    let st = shared(&ctx);
    let results = race(RACERS, |_| {
        let (st, tok) = (st.clone(), tok.clone());
        async move {
            run_transaction(&*st, &race_tx_options(), move |tx| {
                let tok = tok.clone();
                Box::pin(async move {
                    let tokens = tx
                        .email_verification_tokens_for_update(&tok.tenant, &tok.user_id, &tok.email)
                        .await?;
                    if !tokens.iter().any(|x| x.token == tok.token) {
                        return Ok(false);
                    }
                    tx.delete_email_verification_tokens(&tok.tenant, &tok.user_id, &tok.email)
                        .await?;
                    tx.set_email_verified(&tok.tenant.app, &tok.user_id, &tok.email, true)
                        .await?;
                    Ok::<_, TxError<()>>(true)
                })
            })
            .await
        }
    })
    .await;
    let wins = results
        .iter()
        .filter(|r| {
            *r.as_ref()
                .unwrap_or_else(|e| panic!("consumer failed: {e:?}"))
        })
        .count();
    assert_eq!(wins, 1, "exactly one consumer must win");
    assert!(
        ctx.storage
            .is_email_verified(&t.app, &tok.user_id, &tok.email)
            .await
            .unwrap()
    );
    assert!(
        ctx.storage
            .get_email_verification_token(&t, &tok.token)
            .await
            .unwrap()
            .is_none()
    );
}

/// N concurrent email-password sign-ups with one email in one tenant: one user, every
/// other call `DuplicateEmail`, no orphan rows; the same email in another tenant works.
pub async fn race_sign_up_same_email(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let st = shared(&ctx);
    let results = race(RACERS, |i| {
        let (st, t) = (st.clone(), t.clone());
        async move {
            st.sign_up_email_password(&ep_input(&t, "race@example.com", i as i64))
                .await
        }
    })
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one sign-up must succeed");
    for r in &results {
        assert!(
            matches!(r, Ok(_) | Err(StorageError::DuplicateEmail)),
            "losers must get DuplicateEmail, got {r:?}"
        );
    }
    assert_eq!(
        ctx.storage
            .count_users(&UserScope::App(t.app.clone()), &[])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app_rows(&ctx, "app_id_to_user_id", &t.app).await,
        1,
        "losers left orphan rows"
    );
    assert_eq!(
        app_rows(&ctx, "emailpassword_users", &t.app).await,
        1,
        "losers left orphan rows"
    );
    ep_user(&ctx, &t1, "race@example.com", 99).await;
    assert_eq!(
        ctx.storage
            .list_users_by_email(&t1, "race@example.com")
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Concurrent sign-ups of the other recipes: one wins, the others get the typed error.
pub async fn race_sign_up_other_recipes(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let st = shared(&ctx);
    let results = race(RACERS, |i| {
        let (st, t) = (st.clone(), t.clone());
        async move {
            st.create_passwordless_user(&pl_input(&t, None, Some("+15551010"), i as i64))
                .await
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "passwordless phone"
    );
    for r in &results {
        assert!(
            matches!(r, Ok(_) | Err(StorageError::DuplicatePhoneNumber)),
            "got {r:?}"
        );
    }
    let results = race(RACERS, |i| {
        let (st, t) = (st.clone(), t.clone());
        async move {
            st.sign_up_third_party(&tp_input(
                &t,
                &format!("{i}@example.com"),
                "google",
                "sub-race",
                i as i64,
            ))
            .await
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "third-party identity"
    );
    for r in &results {
        assert!(
            matches!(r, Ok(_) | Err(StorageError::DuplicateThirdPartyUser)),
            "got {r:?}"
        );
    }
    let id = uid();
    let results = race(RACERS, |i| {
        let (st, t, id) = (st.clone(), t.clone(), id.clone());
        async move {
            let mut input = ep_input(&t, &format!("same-id-{i}@example.com"), 1);
            input.user_id = id;
            st.sign_up_email_password(&input).await
        }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "user id");
    for r in &results {
        assert!(
            matches!(r, Ok(_) | Err(StorageError::DuplicateUserId)),
            "got {r:?}"
        );
    }
    assert_eq!(
        ctx.storage
            .count_users(&UserScope::App(t.app.clone()), &[])
            .await
            .unwrap(),
        3
    );
}

/// N concurrent get-or-create rotations leave exactly one new signing key.
pub async fn race_signing_key_rotation(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    add_signing_key(&ctx, &t.app, signing_key(500)).await;
    const X: i64 = 1_000;
    let st = shared(&ctx);
    let results = race(RACERS, |i| {
        let (st, a) = (st.clone(), t.app.clone());
        async move {
            run_transaction(&*st, &race_tx_options(), move |tx| {
                let a = a.clone();
                Box::pin(async move {
                    let keys = tx.signing_keys_for_update(&a).await?;
                    if keys.iter().any(|k| k.created_at > X) {
                        return Ok(false);
                    }
                    tx.add_signing_key(&a, &signing_key(X + 1 + i as i64))
                        .await?;
                    Ok::<_, TxError<()>>(true)
                })
            })
            .await
        }
    })
    .await;
    let created = results
        .iter()
        .filter(|r| {
            *r.as_ref()
                .unwrap_or_else(|e| panic!("rotation failed: {e:?}"))
        })
        .count();
    assert_eq!(created, 1, "exactly one task must create a key");
    let keys = ctx.storage.signing_keys(&t.app).await.unwrap();
    assert_eq!(keys.len(), 2, "keys: {keys:?}");
    assert!(keys[0].created_at > X && keys[1].created_at == 500);
}

/// 16 concurrent get-for-update increments of a counter that does not exist yet end
/// at exactly 16.
pub async fn race_kv_counter(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let st = shared(&ctx);
    let results = race(RACERS, |_| {
        let (st, t) = (st.clone(), t.clone());
        async move {
            run_transaction(&*st, &race_tx_options(), move |tx| {
                let t = t.clone();
                Box::pin(async move {
                    let cur = tx.kv_get_for_update(&t, "counter").await?;
                    let n: i64 = cur.map(|v| v.value.parse().unwrap()).unwrap_or(0) + 1;
                    tx.kv_set(&t, "counter", &kv(&n.to_string(), n)).await?;
                    Ok::<_, TxError<()>>(n)
                })
            })
            .await
        }
    })
    .await;
    let mut seen: Vec<i64> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("increment failed: {e:?}")))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        (1..=RACERS as i64).collect::<Vec<_>>(),
        "each increment saw a distinct value"
    );
    assert_eq!(
        ctx.storage
            .kv_get(&t, "counter")
            .await
            .unwrap()
            .map(|v| v.value),
        Some(RACERS.to_string())
    );
}

/// N concurrent creations of one tenant: one succeeds, the rest `DuplicateTenant`.
pub async fn race_add_tenant(ctx: Ctx) {
    let st = shared(&ctx);
    let t = tenant("raceapp", "t1");
    let results = race(RACERS, |i| {
        let (st, t) = (st.clone(), t.clone());
        async move { st.add_tenant(&t, i as i64).await }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for r in &results {
        assert!(
            matches!(r, Ok(()) | Err(StorageError::DuplicateTenant)),
            "got {r:?}"
        );
    }
    assert_eq!(app_rows(&ctx, "apps", &t.app).await, 1);
    assert_eq!(tenant_rows(&ctx, "tenants", &t).await, 1);
}

/// N concurrent `delete_expired_sessions` over several batches of expired sessions
/// (as every core instance runs the cleanup job): none fails (no deadlock between
/// the batches), together they delete each expired session exactly once, and no
/// live session.
pub async fn race_delete_expired_sessions(ctx: Ctx) {
    const EXPIRED: usize = 2_500;
    const LIVE: usize = 40;
    let t = setup_public(&ctx).await;
    let st = shared(&ctx);
    // Created by RACERS tasks at once, to keep the setup short.
    race(RACERS, |i| {
        let (st, t) = (st.clone(), t.clone());
        async move {
            for j in (i..EXPIRED + LIVE).step_by(RACERS) {
                let mut s = session(&t, "cleanup");
                s.expires_at = if j < EXPIRED {
                    NOW - 1 - j as i64
                } else {
                    NOW + HOUR
                };
                st.create_session(&s)
                    .await
                    .unwrap_or_else(|e| panic!("create session {j}: {e:?}"));
            }
        }
    })
    .await;
    assert_eq!(
        ctx.storage.count_sessions(&t).await.unwrap(),
        (EXPIRED + LIVE) as u64
    );
    let deleted = race(RACERS, |_| {
        let st = st.clone();
        async move { st.delete_expired_sessions(NOW).await }
    })
    .await;
    let mut total = 0;
    for (i, r) in deleted.into_iter().enumerate() {
        total += r.unwrap_or_else(|e| panic!("cleanup {i} failed: {e:?}"));
    }
    assert_eq!(total, EXPIRED as u64, "expired sessions deleted in all");
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), LIVE as u64);
    assert_eq!(ctx.storage.delete_expired_sessions(NOW).await.unwrap(), 0);
}
