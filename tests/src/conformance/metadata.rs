//! User metadata (contract-phase2 B.1): reads, upserts, deletes, many users at once,
//! the locked read of a transaction, and 64 concurrent read-merge-write updates.

use super::fixtures::*;
use crate::harness::Ctx;
use serde_json::{Value, json};
use storage_api::*;

/// Set is an upsert of the whole object; get, delete and get-many read what is
/// stored, app by app; the row holds the object as JSON text.
pub async fn metadata_set_get_delete(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let other = setup_tenant(&ctx, "meta-other", "public").await;
    let a = &t.app;
    let (u1, u2) = ("external|ü-1", uid());
    assert_eq!(ctx.storage.get_user_metadata(a, u1).await.unwrap(), None);
    let m1 = json!({"k": "v", "nested": {"list": [1, 2, {"x": null}]}, "quote": "'\""});
    ctx.storage.set_user_metadata(a, u1, &m1).await.unwrap();
    assert_eq!(
        ctx.storage.get_user_metadata(a, u1).await.unwrap(),
        Some(m1.clone())
    );
    let rows = select(
        &ctx,
        "user_metadata",
        "user_metadata",
        &format!("app_id = '{a}' AND user_id = '{u1}'"),
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(json_cell(&rows[0][0]), m1);
    // The whole object is replaced.
    let m1b = json!({"only": true});
    ctx.storage.set_user_metadata(a, u1, &m1b).await.unwrap();
    assert_eq!(
        ctx.storage.get_user_metadata(a, u1).await.unwrap(),
        Some(m1b.clone())
    );
    // Another app does not see it.
    assert_eq!(
        ctx.storage.get_user_metadata(&other.app, u1).await.unwrap(),
        None
    );
    let m2 = json!({"n": 2});
    ctx.storage.set_user_metadata(a, &u2, &m2).await.unwrap();
    let many = ctx
        .storage
        .get_users_metadata(a, &[u2.clone(), "missing".into(), u1.into()])
        .await
        .unwrap();
    let mut want = vec![(u1.to_owned(), m1b), (u2.clone(), m2)];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(many, want);
    assert!(
        ctx.storage
            .get_users_metadata(a, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(ctx.storage.delete_user_metadata(a, u1).await.unwrap(), 1);
    assert_eq!(ctx.storage.delete_user_metadata(a, u1).await.unwrap(), 0);
    assert_eq!(ctx.storage.get_user_metadata(a, u1).await.unwrap(), None);
    assert!(
        ctx.storage
            .get_user_metadata(a, &u2)
            .await
            .unwrap()
            .is_some()
    );
}

/// Errors: an unknown app, a value that is not an object, an over-long user id.
pub async fn metadata_errors(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let missing = app("meta-missing");
    assert_app_not_found(
        ctx.storage
            .set_user_metadata(&missing, "u", &json!({}))
            .await,
        &missing,
    );
    for bad in [json!([1]), json!("s"), json!(null), json!(1)] {
        assert_invalid(
            ctx.storage.set_user_metadata(&t.app, "u", &bad).await,
            "metadata",
        );
    }
    let long = "x".repeat(129);
    assert_invalid(
        ctx.storage
            .set_user_metadata(&t.app, &long, &json!({}))
            .await,
        "user_id",
    );
    assert_invalid(
        ctx.storage.get_user_metadata(&t.app, &long).await,
        "user_id",
    );
    assert_eq!(app_rows(&ctx, "user_metadata", &t.app).await, 0);
}

/// Inside a transaction: the locked read, set and delete; a rollback keeps nothing.
pub async fn metadata_in_transaction(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let app = t.app.clone();
    let out = run_transaction(&*ctx.storage, &TxOptions::default(), |tx| {
        let app = app.clone();
        Box::pin(async move {
            let before = tx.get_user_metadata_for_update(&app, "tx-user").await?;
            tx.set_user_metadata(&app, "tx-user", &json!({"a": 1}))
                .await?;
            let after = tx.get_user_metadata_for_update(&app, "tx-user").await?;
            Ok::<_, TxError<()>>((before, after))
        })
    })
    .await
    .unwrap();
    assert_eq!(out, (None, Some(json!({"a": 1}))));
    let r: Result<(), TxError<&str>> =
        run_transaction(&*ctx.storage, &TxOptions::default(), |tx| {
            let app = app.clone();
            Box::pin(async move {
                assert_eq!(tx.delete_user_metadata(&app, "tx-user").await?, 1);
                tx.set_user_metadata(&app, "tx-other", &json!({})).await?;
                Err(TxError::Rollback("undo"))
            })
        })
        .await;
    assert!(matches!(r, Err(TxError::Rollback("undo"))));
    assert_eq!(
        ctx.storage
            .get_user_metadata(&app, "tx-user")
            .await
            .unwrap(),
        Some(json!({"a": 1}))
    );
    assert_eq!(
        ctx.storage
            .get_user_metadata(&app, "tx-other")
            .await
            .unwrap(),
        None
    );
}

/// 64 concurrent read-merge-write updates of a user with no row yet: every task's
/// key is kept.
pub async fn race_metadata_merge(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let st = shared(&ctx);
    let user = uid();
    let results = race(64, |i| {
        let (st, app, user) = (st.clone(), t.app.clone(), user.clone());
        async move {
            run_transaction(&*st, &race_tx_options(), move |tx| {
                let (app, user) = (app.clone(), user.clone());
                Box::pin(async move {
                    let mut m = tx
                        .get_user_metadata_for_update(&app, &user)
                        .await?
                        .unwrap_or_else(|| json!({}));
                    if let Value::Object(map) = &mut m {
                        map.insert(format!("k{i}"), json!(i));
                    }
                    tx.set_user_metadata(&app, &user, &m).await?;
                    Ok::<_, TxError<()>>(())
                })
            })
            .await
        }
    })
    .await;
    for (i, r) in results.iter().enumerate() {
        assert!(r.is_ok(), "task {i}: {r:?}");
    }
    let got = ctx
        .storage
        .get_user_metadata(&t.app, &user)
        .await
        .unwrap()
        .expect("metadata row");
    let map = got.as_object().expect("an object");
    assert_eq!(map.len(), 64, "keys lost: {got}");
    for i in 0..64 {
        assert_eq!(map.get(&format!("k{i}")), Some(&json!(i)));
    }
}
