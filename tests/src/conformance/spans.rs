//! Tracing: one span per storage operation with its name, backend, app, tenant,
//! outcome and rows, the pool-wait and lock-wait events inside it, and no secret in
//! any span or event.

use super::fixtures::*;
use crate::capture::{Capture, SpanRec};
use crate::harness::Ctx;
use storage_api::*;
use tracing::instrument::WithSubscriber;

/// The `storage` spans of operation `op`.
fn spans_of(cap: &Capture, op: &str) -> Vec<SpanRec> {
    cap.spans()
        .into_iter()
        .filter(|s| s.name == "storage" && s.fields.get("op").map(String::as_str) == Some(op))
        .collect()
}

/// The one span of `op` on `t`'s app (and tenant, with `tenant`), checked for the
/// backend.
fn span_of(cap: &Capture, op: &str, backend: &str, t: &TenantIdentifier, tenant: bool) -> SpanRec {
    let field = |s: &SpanRec, k: &str| s.fields.get(k).cloned();
    let spans: Vec<SpanRec> = spans_of(cap, op)
        .into_iter()
        .filter(|s| field(s, "app").as_deref() == Some(t.app.as_str()))
        .filter(|s| !tenant || field(s, "tenant").as_deref() == Some(t.tenant.as_str()))
        .collect();
    assert_eq!(spans.len(), 1, "spans of {op}: {:#?}", cap.spans());
    let s = spans.into_iter().next().unwrap();
    assert_eq!(
        field(&s, "backend").as_deref(),
        Some(backend),
        "{op}: {s:#?}"
    );
    s
}

/// A sample of operations (reads, writes, a transaction, a failure) each leave one
/// span with the operation's fields and its events, and no secret of the calls
/// appears anywhere in what was traced.
pub async fn trace_spans_per_operation_without_secrets(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let cap = Capture::default();
    let s = &ctx.storage;
    let backend = s.backend_name();

    // Calls whose arguments carry secrets.
    let mut input = ep_input(&t, &email(), 1000);
    input.password_hash = Secret::new("$argon2id$secret-password-hash".to_owned());
    let user = s
        .sign_up_email_password(&input)
        .with_subscriber(cap.clone())
        .await
        .unwrap();
    let mut new = session(&t, &user.id);
    new.session_data = serde_json::json!({"secret-session-data": "s3cr3t-data"});
    s.create_session(&new)
        .with_subscriber(cap.clone())
        .await
        .unwrap();
    let new_hash = token();
    let rotated = s
        .rotate_refresh_token(
            &t,
            &RefreshRotation {
                handle: &new.handle,
                expected: &new.refresh_token_hash,
                new_hash: &new_hash,
                new_expiry: NOW + 2 * HOUR,
                now: NOW,
            },
        )
        .with_subscriber(cap.clone())
        .await
        .unwrap();
    assert_eq!(rotated, RotateOutcome::Rotated);
    let got = s
        .get_session(&t, &new.handle)
        .with_subscriber(cap.clone())
        .await
        .unwrap();
    assert!(got.is_some());
    let reset = reset_token(&t.app, &user.id, NOW + HOUR);
    s.add_password_reset_token(&reset)
        .with_subscriber(cap.clone())
        .await
        .unwrap();
    let n = s
        .count_sessions(&t)
        .with_subscriber(cap.clone())
        .await
        .unwrap();
    assert_eq!(n, 1);
    // A failure: a session in a tenant that does not exist.
    let missing = tenant("public", "nosuch");
    let failed = s
        .create_session(&session(&missing, &user.id))
        .with_subscriber(cap.clone())
        .await;
    assert!(failed.is_err());
    // A transaction taking a named lock.
    let key = SigningKey {
        created_at: 77,
        value: "signing-key-secret-material".to_owned(),
    };
    let app = t.app.clone();
    run_transaction(&**s, &TxOptions::default(), move |tx| {
        let app = app.clone();
        let key = key.clone();
        Box::pin(async move {
            tx.signing_keys_for_update(&app).await?;
            tx.add_signing_key(&app, &key).await?;
            Ok::<_, TxError<()>>(())
        })
    })
    .with_subscriber(cap.clone())
    .await
    .unwrap();

    for op in [
        "sign_up_email_password",
        "create_session",
        "rotate_refresh_token",
        "get_session",
        "count_sessions",
    ] {
        let sp = span_of(&cap, op, backend, &t, true);
        assert_eq!(
            sp.fields.get("outcome").map(String::as_str),
            Some("ok"),
            "{op}: {sp:#?}"
        );
        assert!(
            sp.events
                .iter()
                .any(|e| e.fields.get("message").map(String::as_str) == Some("pool_wait")),
            "{op} has no pool_wait event: {sp:#?}"
        );
    }
    let sp = span_of(&cap, "get_session", backend, &t, true);
    assert_eq!(sp.fields.get("rows").map(String::as_str), Some("1"));
    let sp = span_of(&cap, "count_sessions", backend, &t, true);
    assert_eq!(sp.fields.get("rows").map(String::as_str), Some("1"));
    let sp = span_of(&cap, "add_password_reset_token", backend, &t, false);
    assert_eq!(sp.fields.get("outcome").map(String::as_str), Some("ok"));
    let sp = span_of(&cap, "signing_keys_for_update", backend, &t, false);
    assert_eq!(sp.fields.get("outcome").map(String::as_str), Some("ok"));
    assert!(
        sp.events
            .iter()
            .any(|e| e.fields.get("message").map(String::as_str) == Some("lock_wait")),
        "signing_keys_for_update has no lock_wait event: {sp:#?}"
    );
    span_of(&cap, "add_signing_key", backend, &t, false);
    let sp = span_of(&cap, "create_session", backend, &missing, true);
    assert_eq!(
        sp.fields.get("outcome").map(String::as_str),
        Some("tenant_or_app_not_found"),
        "{sp:#?}"
    );

    let traced = cap.all_text();
    for secret in [
        input.password_hash.expose(),
        new.refresh_token_hash.as_str(),
        new_hash.as_str(),
        "s3cr3t-data",
        reset.token.as_str(),
        "signing-key-secret-material",
        new.handle.as_str(),
    ] {
        assert!(
            !traced.contains(secret),
            "a secret was traced: {secret}\n{traced}"
        );
    }
}
