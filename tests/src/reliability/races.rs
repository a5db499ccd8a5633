//! The flows of contract 5.5 under heavy contention: [`TASKS`] tasks released together,
//! [`ROUNDS`] rounds each with fresh data. Every round must have exactly one winner,
//! counters must be exact, every task must end in one of the flow's documented
//! outcomes (a `Retryable` conflict that reaches a task is a failure: the storage or
//! the transaction runner must have retried it), and afterwards no orphan rows exist.

use super::common::*;
use crate::conformance::fixtures::*;
use crate::harness::Ctx;
use std::collections::BTreeMap;
use storage_api::*;

/// What one consumer of a one-time secret saw.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Consume {
    /// It consumed the secret.
    Won,
    /// The secret was gone (consumed by another task) or did not match.
    Lost,
}

fn must<T: std::fmt::Debug, E: std::fmt::Debug>(what: &str, r: Result<T, TxError<E>>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: a task ended outside the documented outcomes: {e:?}"))
}

/// N concurrent refreshes with one refresh token: exactly one rotates, every other
/// one sees the winner's hash. Even rounds use the one-statement
/// `rotate_refresh_token`, odd rounds the core's locked read-then-update transaction.
pub async fn rel_race_refresh_rotation(ctx: Ctx) {
    let mut racer = Racer::new(&ctx);
    let t = setup_public(&ctx).await;
    let mut rotations = 0;
    for round in 0..ROUNDS {
        let s = create_session(&ctx, &t, &uid()).await;
        let via_tx = round % 2 == 1;
        let st = ctx.clone();
        let results = racer
            .race(TASKS, |i| {
                let (st, t, h, old) = (
                    st.node(i),
                    t.clone(),
                    s.handle.clone(),
                    s.refresh_token_hash.clone(),
                );
                let new = format!("r{round}-new-{i}");
                async move {
                    if !via_tx {
                        return match st
                            .rotate_refresh_token(
                                &t,
                                &RefreshRotation {
                                    handle: &h,
                                    expected: &old,
                                    new_hash: &new,
                                    new_expiry: NOW + 2 * HOUR,
                                    now: NOW + 1,
                                },
                            )
                            .await
                        {
                            Ok(RotateOutcome::Rotated) => (true, None),
                            Ok(RotateOutcome::Mismatch) => (false, None),
                            other => panic!("rotate: undocumented outcome {other:?}"),
                        };
                    }
                    let r = run_transaction(&*st, &tx_options(), move |tx| {
                        let (t, h, old, new) = (t.clone(), h.clone(), old.clone(), new.clone());
                        Box::pin(async move {
                            let cur = tx
                                .get_session_for_update(&t, &h)
                                .await?
                                .expect("the session exists");
                            if cur.refresh_token_hash != old {
                                return Ok((false, Some(cur.refresh_token_hash)));
                            }
                            let n = tx
                                .update_tokens(
                                    &t,
                                    &TokenUpdate {
                                        handle: &h,
                                        new_hash: &new,
                                        prev_hash: Some(&old),
                                        rotated_at: Some(NOW + 1),
                                        expires_at: NOW + 2 * HOUR,
                                    },
                                )
                                .await?;
                            assert_eq!(n, 1, "update_tokens touched {n} rows");
                            Ok::<_, TxError<()>>((true, None))
                        })
                    })
                    .await;
                    must("refresh in a transaction", r)
                }
            })
            .await;
        let winners: Vec<usize> = (0..TASKS).filter(|&i| results[i].0).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one refresh must rotate, got {winners:?}"
        );
        let winner_hash = format!("r{round}-new-{}", winners[0]);
        for (i, (_, seen)) in results.iter().enumerate() {
            if let Some(seen) = seen {
                assert_eq!(
                    seen, &winner_hash,
                    "round {round}: loser {i} saw another hash"
                );
            }
        }
        let row = select(
            &ctx,
            "refresh_token_hash_2, prev_refresh_token_hash_2",
            "session_info",
            &format!(
                "app_id = '{}' AND tenant_id = '{}' AND session_handle = '{}'",
                t.app, t.tenant, s.handle
            ),
        )
        .await;
        assert_eq!(
            row,
            vec![vec![
                Some(winner_hash.clone()),
                Some(s.refresh_token_hash.clone())
            ]],
            "round {round}: stored hashes"
        );
        rotations += 1;
    }
    assert_eq!(ctx.storage.count_sessions(&t).await.unwrap(), ROUNDS as u64);
    figures(
        ctx.backend,
        "race_refresh_rotation",
        &racer.with(&[
            ("rounds", ROUNDS.to_string()),
            ("tasks", TASKS.to_string()),
            ("rotations", rotations.to_string()),
            ("attempts", (ROUNDS * TASKS).to_string()),
        ]),
    );
}

/// What a consumer of a passwordless code saw.
#[derive(Debug)]
enum CodeOutcome {
    /// Consumed the code; the device had this many failed attempts, and
    /// `delete_devices_by_email` reported this many devices deleted.
    Won(u32, u64),
    /// The device was gone (consumed).
    Gone,
}

/// One passwordless code consumed by N tasks at once, a quarter of them with a wrong
/// code: exactly one right-code task wins and deletes every device of the email;
/// every wrong code that found the device incremented its counter exactly once
/// (committed although the call failed), so the winner saw exactly as many failed
/// attempts as there were committed wrong codes.
pub async fn rel_race_consume_code(ctx: Ctx) {
    let mut racer = Racer::new(&ctx);
    let t = setup_public(&ctx).await;
    let mut wrong_total = 0usize;
    for round in 0..ROUNDS {
        let e = format!("consume-{round}-{}", email());
        let d = create_device(&ctx, &t, Some(&e), None, 1).await;
        let other = create_device(&ctx, &t, Some(&e), None, 2).await;
        let st = ctx.clone();
        let results = racer
            .race(TASKS, |i| {
                let (st, t, d, e) = (st.node(i), t.clone(), d.clone(), e.clone());
                let wrong = i % 4 == 0;
                async move {
                    run_transaction(&*st, &tx_options(), move |tx| {
                        let (t, d, e) = (t.clone(), d.clone(), e.clone());
                        Box::pin(async move {
                            let Some(dev) = tx.device_for_update(&t, &d.device_id_hash).await?
                            else {
                                return Ok(CodeOutcome::Gone);
                            };
                            let link = if wrong {
                                hash44()
                            } else {
                                d.code.link_code_hash.clone()
                            };
                            match tx.code_by_link_code_hash(&t, &link).await? {
                                Some(code) if code.device_id_hash == dev.device_id_hash => {
                                    let deleted = tx.delete_devices_by_email(&t, &e).await?;
                                    Ok(CodeOutcome::Won(dev.failed_attempts, deleted))
                                }
                                Some(_) => panic!("a link hash matched another device's code"),
                                None => {
                                    let n = tx
                                        .increment_failed_attempts(&t, &dev.device_id_hash)
                                        .await?;
                                    assert_eq!(n, 1);
                                    Err(TxError::Commit(dev.failed_attempts))
                                }
                            }
                        })
                    })
                    .await
                }
            })
            .await;
        let mut won = Vec::new();
        let mut increments = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(CodeOutcome::Won(seen, deleted)) => {
                    assert!(i % 4 != 0, "a wrong code won");
                    // The email has two devices (`d` and `other`), each with one code:
                    // the winner deletes both (the count is of devices; their codes
                    // go with them, checked in plain SQL below).
                    assert_eq!(
                        deleted, 2,
                        "round {round}: the winner's delete_devices_by_email reported \
                         {deleted} devices, expected the email's 2"
                    );
                    won.push(seen)
                }
                Ok(CodeOutcome::Gone) => {}
                Err(TxError::Commit(before)) => {
                    assert!(i % 4 == 0, "a right code was counted as wrong");
                    increments.push(before)
                }
                other => panic!("round {round} task {i}: undocumented outcome {other:?}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: exactly one consumer must win");
        increments.sort();
        assert_eq!(
            increments,
            (0..increments.len() as u32).collect::<Vec<_>>(),
            "round {round}: each wrong code must see the previous ones (row lock)"
        );
        assert_eq!(
            won[0] as usize,
            increments.len(),
            "round {round}: the winner must see every committed wrong attempt"
        );
        wrong_total += increments.len();
        for dh in [&d.device_id_hash, &other.device_id_hash] {
            assert_eq!(
                count(
                    &ctx,
                    "passwordless_devices",
                    &format!("device_id_hash = '{dh}'")
                )
                .await,
                0,
                "round {round}: a device of the consumed email survived"
            );
            assert_eq!(
                count(
                    &ctx,
                    "passwordless_codes",
                    &format!("device_id_hash = '{dh}'")
                )
                .await,
                0,
                "round {round}: a code of the consumed email survived"
            );
        }
    }
    assert_no_orphans(&ctx).await;
    figures(
        ctx.backend,
        "race_consume_code",
        &racer.with(&[
            ("rounds", ROUNDS.to_string()),
            ("tasks", TASKS.to_string()),
            ("winners", ROUNDS.to_string()),
            ("wrong_codes_counted", wrong_total.to_string()),
        ]),
    );
}

/// N wrong codes at once against one device: every one commits its increment and
/// fails; the stored counter is exactly N, each task saw a distinct previous value.
pub async fn rel_race_wrong_code_counter(ctx: Ctx) {
    let mut racer = Racer::new(&ctx);
    let t = setup_public(&ctx).await;
    for round in 0..ROUNDS {
        let d = create_device(&ctx, &t, None, Some(&phone()), 1).await;
        let st = ctx.clone();
        let results = racer
            .race(TASKS, |i| {
                let (st, t, dh) = (st.node(i), t.clone(), d.device_id_hash.clone());
                async move {
                    run_transaction(&*st, &tx_options(), move |tx| {
                        let (t, dh) = (t.clone(), dh.clone());
                        Box::pin(async move {
                            let dev = tx.device_for_update(&t, &dh).await?.expect("device exists");
                            assert!(tx.code_by_link_code_hash(&t, &hash44()).await?.is_none());
                            assert_eq!(tx.increment_failed_attempts(&t, &dh).await?, 1);
                            Err::<(), _>(TxError::Commit(dev.failed_attempts))
                        })
                    })
                    .await
                }
            })
            .await;
        let mut seen: Vec<u32> = results
            .into_iter()
            .map(|r| match r {
                Err(TxError::Commit(before)) => before,
                other => panic!("round {round}: undocumented outcome {other:?}"),
            })
            .collect();
        seen.sort();
        assert_eq!(seen, (0..TASKS as u32).collect::<Vec<_>>(), "round {round}");
        let stored = select(
            &ctx,
            "failed_attempts",
            "passwordless_devices",
            &format!("device_id_hash = '{}'", d.device_id_hash),
        )
        .await;
        assert_eq!(
            stored,
            vec![vec![Some(TASKS.to_string())]],
            "round {round}: lost or extra increments"
        );
    }
    assert_no_orphans(&ctx).await;
    figures(
        ctx.backend,
        "race_wrong_code_counter",
        &racer.with(&[
            ("rounds", ROUNDS.to_string()),
            ("tasks", TASKS.to_string()),
            ("increments", (ROUNDS * TASKS).to_string()),
            ("lost_increments", "0".into()),
        ]),
    );
}

/// A user with two password-reset tokens, consumed by N tasks at once (half with
/// each token): exactly one wins, deletes every token of the user and sets the new
/// password hash in the same transaction.
pub async fn rel_race_consume_reset_token(ctx: Ctx) {
    let mut racer = Racer::new(&ctx);
    let t = setup_public(&ctx).await;
    for round in 0..ROUNDS {
        let u = ep_user(&ctx, &t, &email(), round as i64).await;
        let toks = [
            reset_token(&t.app, &u.id, NOW + HOUR),
            reset_token(&t.app, &u.id, NOW + HOUR),
        ];
        for tok in &toks {
            ctx.storage.add_password_reset_token(tok).await.unwrap();
        }
        let st = ctx.clone();
        let results = racer
            .race(TASKS, |i| {
                let (st, tok) = (st.node(i), toks[i % 2].clone());
                async move {
                    let r = run_transaction(&*st, &tx_options(), move |tx| {
                        let tok = tok.clone();
                        Box::pin(async move {
                            let tokens = tx
                                .password_reset_tokens_for_update(&tok.app, &tok.user_id)
                                .await?;
                            if !tokens.iter().any(|x| x.token == tok.token) {
                                return Ok(Consume::Lost);
                            }
                            let n = tx
                                .delete_password_reset_tokens_of_user(&tok.app, &tok.user_id)
                                .await?;
                            assert_eq!(n, 2, "the winner deletes both tokens");
                            tx.update_password_hash(
                                &tok.app,
                                &tok.user_id,
                                &Secret::new(format!("won-by-{i}")),
                            )
                            .await?;
                            Ok::<_, TxError<()>>(Consume::Won)
                        })
                    })
                    .await;
                    must("consume a reset token", r)
                }
            })
            .await;
        let winners: Vec<usize> = (0..TASKS).filter(|&i| results[i] == Consume::Won).collect();
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(
            count(
                &ctx,
                "emailpassword_pswd_reset_tokens",
                &format!("user_id = '{}'", u.id)
            )
            .await,
            0
        );
        let hash = select(
            &ctx,
            "password_hash",
            "emailpassword_users",
            &format!("user_id = '{}'", u.id),
        )
        .await;
        assert_eq!(
            hash,
            vec![vec![Some(format!("won-by-{}", winners[0]))]],
            "round {round}: the winner's password hash"
        );
    }
    assert_no_orphans(&ctx).await;
    figures(
        ctx.backend,
        "race_consume_reset_token",
        &racer.with(&[
            ("rounds", ROUNDS.to_string()),
            ("tasks", TASKS.to_string()),
            ("winners", ROUNDS.to_string()),
        ]),
    );
}

/// Two email-verification tokens of one (tenant, user, email), consumed by N tasks at
/// once: exactly one wins; the email ends verified and no token is left.
pub async fn rel_race_consume_ev_token(ctx: Ctx) {
    let mut racer = Racer::new(&ctx);
    let t = setup_public(&ctx).await;
    for round in 0..ROUNDS {
        let (user, mail) = (uid(), email());
        let toks = [
            ev_token(&t, &user, &mail, NOW + HOUR),
            ev_token(&t, &user, &mail, NOW + HOUR),
        ];
        for tok in &toks {
            ctx.storage.add_email_verification_token(tok).await.unwrap();
        }
        let st = ctx.clone();
        let results = racer
            .race(TASKS, |i| {
                let (st, tok) = (st.node(i), toks[i % 2].clone());
                async move {
                    let r = run_transaction(&*st, &tx_options(), move |tx| {
                        let tok = tok.clone();
                        Box::pin(async move {
                            let tokens = tx
                                .email_verification_tokens_for_update(
                                    &tok.tenant,
                                    &tok.user_id,
                                    &tok.email,
                                )
                                .await?;
                            if !tokens.iter().any(|x| x.token == tok.token) {
                                return Ok(Consume::Lost);
                            }
                            let n = tx
                                .delete_email_verification_tokens(
                                    &tok.tenant,
                                    &tok.user_id,
                                    &tok.email,
                                )
                                .await?;
                            assert_eq!(n, 2, "the winner deletes both tokens");
                            tx.set_email_verified(&tok.tenant.app, &tok.user_id, &tok.email, true)
                                .await?;
                            Ok::<_, TxError<()>>(Consume::Won)
                        })
                    })
                    .await;
                    must("consume an email-verification token", r)
                }
            })
            .await;
        let winners = results.iter().filter(|r| **r == Consume::Won).count();
        assert_eq!(winners, 1, "round {round}");
        assert_eq!(
            count(
                &ctx,
                "emailverification_tokens",
                &format!("user_id = '{user}'")
            )
            .await,
            0
        );
        assert_eq!(
            count(
                &ctx,
                "emailverification_verified_emails",
                &format!("user_id = '{user}' AND email = '{mail}'")
            )
            .await,
            1
        );
    }
    figures(
        ctx.backend,
        "race_consume_ev_token",
        &racer.with(&[
            ("rounds", ROUNDS.to_string()),
            ("tasks", TASKS.to_string()),
            ("winners", ROUNDS.to_string()),
        ]),
    );
}

/// N concurrent sign-ups with one email (or phone, or third-party identity), half in
/// each of two tenants of one app: exactly one user per tenant, every other call gets
/// the typed duplicate error, and no call leaves a row behind. The recipe changes
/// from round to round (email-password, passwordless email, passwordless phone,
/// third party).
pub async fn rel_race_sign_up(ctx: Ctx) {
    let mut racer = Racer::new(&ctx);
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let t2 = setup_tenant(&ctx, "public", "t2").await;
    let mut outcomes: Vec<&'static str> = Vec::new();
    for round in 0..ROUNDS {
        let kind = round % 4;
        let mail = format!("signup-{round}-{}", email());
        let tel = phone();
        let sub = token();
        let st = ctx.clone();
        let results = racer
            .race(TASKS, |i| {
                let st = st.node(i);
                let t = if i % 2 == 0 { t1.clone() } else { t2.clone() };
                let (mail, tel, sub) = (mail.clone(), tel.clone(), sub.clone());
                async move {
                    let r = match kind {
                        0 => {
                            st.sign_up_email_password(&ep_input(&t, &mail, i as i64))
                                .await
                        }
                        1 => {
                            st.create_passwordless_user(&pl_input(&t, Some(&mail), None, i as i64))
                                .await
                        }
                        2 => {
                            st.create_passwordless_user(&pl_input(&t, None, Some(&tel), i as i64))
                                .await
                        }
                        _ => {
                            st.sign_up_third_party(&tp_input(
                                &t,
                                &format!("{i}{mail}"),
                                "google",
                                &sub,
                                i as i64,
                            ))
                            .await
                        }
                    };
                    (t, r.map(|u| u.id))
                }
            })
            .await;
        let expected_dup = match kind {
            0 | 1 => "DuplicateEmail",
            2 => "DuplicatePhoneNumber",
            _ => "DuplicateThirdPartyUser",
        };
        for t in [&t1, &t2] {
            let mine: Vec<_> = results.iter().filter(|(tt, _)| tt == t).collect();
            let ok: Vec<&String> = mine.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
            assert_eq!(
                ok.len(),
                1,
                "round {round} ({expected_dup}) in {t}: exactly one sign-up must succeed"
            );
            for (_, r) in &mine {
                match r {
                    Ok(_) => outcomes.push("Ok"),
                    Err(e) if variant(e) == expected_dup => outcomes.push(expected_dup),
                    Err(e) => panic!("round {round} in {t}: undocumented outcome {e:?}"),
                }
            }
            let users = tenant_rows(&ctx, "all_auth_recipe_users", t).await;
            assert_eq!(
                users as usize,
                round + 1,
                "round {round}: users in {t} (losers must leave nothing)"
            );
        }
        assert_eq!(
            app_rows(&ctx, "app_id_to_user_id", &t1.app).await as usize,
            2 * (round + 1),
            "round {round}: users in the app"
        );
        assert_no_orphans(&ctx).await;
    }
    figures(
        ctx.backend,
        "race_sign_up",
        &racer.with(&[
            ("rounds", ROUNDS.to_string()),
            ("tasks", TASKS.to_string()),
            ("outcomes", histogram(outcomes.iter().copied())),
            ("orphans", "0".into()),
        ]),
    );
}

/// N concurrent get-or-create calls of a fresh signing key (the core's rotation:
/// create one unless one newer than X exists) leave exactly one new key per round,
/// and every caller ends up with that key.
pub async fn rel_race_signing_key(ctx: Ctx) {
    let mut racer = Racer::new(&ctx);
    let t = setup_public(&ctx).await;
    add_signing_key(&ctx, &t.app, signing_key(500)).await;
    for round in 0..ROUNDS {
        let x = 10_000 * (round as i64 + 1);
        let st = ctx.clone();
        let results = racer
            .race(TASKS, |i| {
                let (st, a) = (st.node(i), t.app.clone());
                async move {
                    let r = run_transaction(&*st, &tx_options(), move |tx| {
                        let a = a.clone();
                        Box::pin(async move {
                            let keys = tx.signing_keys_for_update(&a).await?;
                            if let Some(k) = keys.iter().find(|k| k.created_at > x) {
                                return Ok((false, k.created_at));
                            }
                            let key = signing_key(x + 1 + i as i64);
                            tx.add_signing_key(&a, &key).await?;
                            Ok::<_, TxError<()>>((true, key.created_at))
                        })
                    })
                    .await;
                    must("get-or-create a signing key", r)
                }
            })
            .await;
        let created: Vec<i64> = results.iter().filter(|r| r.0).map(|r| r.1).collect();
        assert_eq!(created.len(), 1, "round {round}: exactly one key created");
        assert!(
            results.iter().all(|r| r.1 == created[0]),
            "round {round}: every caller must end with the one new key"
        );
        assert_eq!(
            app_rows(&ctx, "session_access_token_signing_keys", &t.app).await,
            round as i64 + 2,
            "round {round}: keys stored"
        );
    }
    figures(
        ctx.backend,
        "race_signing_key",
        &racer.with(&[
            ("rounds", ROUNDS.to_string()),
            ("tasks", TASKS.to_string()),
            ("keys_created", ROUNDS.to_string()),
        ]),
    );
}

/// N concurrent get-for-update increments of a key/value counter that does not exist
/// yet (the named-lock path): the counter ends at exactly N, each task saw a distinct
/// value.
pub async fn rel_race_kv_counter(ctx: Ctx) {
    let mut racer = Racer::new(&ctx);
    let t = setup_public(&ctx).await;
    for round in 0..ROUNDS {
        let name = format!("counter-{round}");
        let st = ctx.clone();
        let results = racer
            .race(TASKS, |i| {
                let (st, t, name) = (st.node(i), t.clone(), name.clone());
                async move {
                    let r = run_transaction(&*st, &tx_options(), move |tx| {
                        let (t, name) = (t.clone(), name.clone());
                        Box::pin(async move {
                            let cur = tx.kv_get_for_update(&t, &name).await?;
                            let n: i64 = cur.map(|v| v.value.parse().unwrap()).unwrap_or(0) + 1;
                            tx.kv_set(&t, &name, &kv(&n.to_string(), n)).await?;
                            Ok::<_, TxError<()>>(n)
                        })
                    })
                    .await;
                    must("increment a counter", r)
                }
            })
            .await;
        let mut seen = results;
        seen.sort();
        assert_eq!(
            seen,
            (1..=TASKS as i64).collect::<Vec<_>>(),
            "round {round}"
        );
        assert_eq!(
            ctx.storage
                .kv_get(&t, &name)
                .await
                .unwrap()
                .map(|v| v.value),
            Some(TASKS.to_string())
        );
    }
    figures(
        ctx.backend,
        "race_kv_counter",
        &racer.with(&[
            ("rounds", ROUNDS.to_string()),
            ("tasks", TASKS.to_string()),
            ("increments", (ROUNDS * TASKS).to_string()),
        ]),
    );
}

/// Deleting an app while 63 tasks write every part-B recipe for its users (metadata,
/// a role and its assignment, a TOTP device, last-active times, a dashboard user and
/// session, a JWT key): every write either lands before the delete or fails with
/// `TenantOrAppNotFound` (or `UnknownRole` once the role went), and afterwards no row
/// of the app is left in any part-B table.
pub async fn rel_race_delete_app_with_recipes(ctx: Ctx) {
    let mut racer = Racer::new(&ctx);
    let mut outcomes = BTreeMap::new();
    for round in 0..ROUNDS {
        let t = setup_tenant(&ctx, &format!("recipes{round}"), "public").await;
        let users: Vec<String> = {
            let mut v = Vec::new();
            for i in 0..4 {
                v.push(
                    ep_user(&ctx, &t, &format!("r{round}-{i}@example.com"), 1)
                        .await
                        .id,
                );
            }
            v
        };
        ctx.storage.create_role(&t.app, "role").await.unwrap();
        let st = ctx.clone();
        let results = racer
            .race(TASKS, |i| {
                let (st, t, user) = (st.node(i), t.clone(), users[i % users.len()].clone());
                async move {
                    let a = &t.app;
                    let r: Result<()> = match i % 8 {
                        0 if i == 0 => st.delete_app(a).await.map(|_| ()),
                        0 | 1 => {
                            st.set_user_metadata(a, &user, &serde_json::json!({ "i": i }))
                                .await
                        }
                        2 => st.add_role_to_user(&t, &user, "role").await.map(|_| ()),
                        3 => {
                            st.create_totp_device(a, &totp_device(&user, &format!("d{i}")))
                                .await
                        }
                        4 => st.update_last_active(a, &user, NOW + i as i64).await,
                        5 => {
                            let u = dashboard_user(&format!("d{i}@example.com"));
                            match st.create_dashboard_user(a, &u).await {
                                Ok(()) => {
                                    st.create_dashboard_session(
                                        a,
                                        &dashboard_session(&u.user_id, NOW),
                                    )
                                    .await
                                }
                                e => e,
                            }
                        }
                        6 => st
                            .get_or_create_jwt_signing_key(a, "RS256", &move || JwtSigningKey {
                                key_id: format!("k{i}"),
                                algorithm: "RS256".into(),
                                key_string: Secret::new("material"),
                                created_at: NOW,
                            })
                            .await
                            .map(|_| ()),
                        _ => st.add_permissions(a, "role", &[format!("p{i}")]).await,
                    };
                    r
                }
            })
            .await;
        for (i, r) in results.into_iter().enumerate() {
            let name = match r {
                Ok(()) => "ok",
                Err(StorageError::TenantOrAppNotFound(_)) => "app_gone",
                Err(StorageError::UnknownRole) => "role_gone",
                // A dashboard session of a user the delete took first.
                Err(StorageError::UnknownUserId) if i % 8 == 5 => "user_gone",
                Err(e) => panic!("round {round} task {i}: undocumented outcome {e:?}"),
            };
            *outcomes.entry(name).or_insert(0usize) += 1;
        }
        for table in PART_B_TABLES {
            assert_eq!(
                app_rows(&ctx, table, &t.app).await,
                0,
                "round {round}: {table} kept rows of the deleted app"
            );
        }
    }
    assert_no_orphans(&ctx).await;
    figures(
        ctx.backend,
        "race_delete_app_with_recipes",
        &racer.with(&[
            ("rounds", ROUNDS.to_string()),
            ("tasks", TASKS.to_string()),
            ("outcomes", format!("{outcomes:?}")),
        ]),
    );
}
