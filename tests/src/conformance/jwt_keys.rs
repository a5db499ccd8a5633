//! JWT signing keys (contract-phase2 B.4): add and list in a transaction,
//! `DuplicateKeyId`, get-or-create, and 64 cores asking for a key at once.

use super::fixtures::*;
use crate::harness::Ctx;
use storage_api::*;

fn jwt_key(id: &str, algorithm: &str, created_at: i64) -> JwtSigningKey {
    JwtSigningKey {
        key_id: id.to_owned(),
        algorithm: algorithm.to_owned(),
        key_string: Secret::new(format!("secret-material-{id}")),
        created_at,
    }
}

async fn add_jwt_key(ctx: &Ctx, app: &AppId, key: JwtSigningKey) -> Result<(), TxError<()>> {
    let app = app.clone();
    run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (app, key) = (app.clone(), key.clone());
        Box::pin(async move {
            tx.add_jwt_signing_key(&app, &key).await?;
            Ok(())
        })
    })
    .await
}

/// Keys read back newest first with every field; a duplicate key id and an unknown
/// app are errors; `Debug` hides the key material.
pub async fn jwt_keys_add_and_list(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = &t.app;
    let k1 = jwt_key("k1", "RS256", NOW);
    let k2 = jwt_key("k2", "ES256", NOW + 5);
    add_jwt_key(&ctx, a, k1.clone()).await.unwrap();
    add_jwt_key(&ctx, a, k2.clone()).await.unwrap();
    assert_eq!(
        ctx.storage.jwt_signing_keys(a).await.unwrap(),
        vec![k2.clone(), k1.clone()]
    );
    let dup = add_jwt_key(&ctx, a, jwt_key("k1", "HS256", NOW + 9)).await;
    assert!(
        matches!(dup, Err(TxError::Storage(StorageError::DuplicateKeyId))),
        "{dup:?}"
    );
    let missing = app("jwt-missing");
    match add_jwt_key(&ctx, &missing, jwt_key("k", "RS256", NOW)).await {
        Err(TxError::Storage(e)) => assert_app_not_found(Err::<(), _>(e), &missing),
        other => panic!("expected TenantOrAppNotFound, got {other:?}"),
    }
    let debug = format!("{k1:?}");
    assert!(!debug.contains("secret-material"), "{debug}");
    let app2 = a.clone();
    let locked = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let app = app2.clone();
        Box::pin(async move { Ok::<_, TxError<()>>(tx.jwt_signing_keys_for_update(&app).await?) })
    })
    .await
    .unwrap();
    assert_eq!(locked, vec![k2, k1]);
}

/// Get-or-create returns the newest key of the algorithm, or stores the new one; the
/// new key must be of the algorithm asked for.
pub async fn jwt_keys_get_or_create(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = &t.app;
    add_jwt_key(&ctx, a, jwt_key("old", "RS256", NOW))
        .await
        .unwrap();
    add_jwt_key(&ctx, a, jwt_key("new", "RS256", NOW + 1))
        .await
        .unwrap();
    let got = ctx
        .storage
        .get_or_create_jwt_signing_key(a, "RS256", &|| jwt_key("never", "RS256", NOW + 2))
        .await
        .unwrap();
    assert_eq!(got.key_id, "new");
    let made = ctx
        .storage
        .get_or_create_jwt_signing_key(a, "ES256", &|| jwt_key("es", "ES256", NOW + 3))
        .await
        .unwrap();
    assert_eq!(made, jwt_key("es", "ES256", NOW + 3));
    assert_eq!(ctx.storage.jwt_signing_keys(a).await.unwrap().len(), 3);
    assert_invalid(
        ctx.storage
            .get_or_create_jwt_signing_key(a, "HS256", &|| jwt_key("x", "RS256", NOW))
            .await,
        "algorithm",
    );
    let missing = app("jwt-missing-goc");
    assert_app_not_found(
        ctx.storage
            .get_or_create_jwt_signing_key(&missing, "RS256", &|| jwt_key("m", "RS256", NOW))
            .await,
        &missing,
    );
}

/// 64 cores asking at once for a key of one algorithm create exactly one, and all of
/// them get it.
pub async fn race_jwt_get_or_create(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let st = shared(&ctx);
    let results = race(64, |i| {
        let (st, app) = (st.clone(), t.app.clone());
        async move {
            let new_key = move || jwt_key(&format!("key-{i}"), "RS256", NOW + i as i64);
            st.get_or_create_jwt_signing_key(&app, "RS256", &new_key)
                .await
        }
    })
    .await;
    let ids: Vec<String> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|e| panic!("task {i}: {e:?}")).key_id)
        .collect();
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "different keys: {ids:?}"
    );
    assert_eq!(app_rows(&ctx, "jwt_signing_keys", &t.app).await, 1);
}
