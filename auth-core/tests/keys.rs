//! Dynamic signing keys: rotation, the 60 s publication lead, retirement after
//! interval + 2 × access-token validity, and agreement between cores on one database
//! (the clock is a parameter of the key store, so hours pass instantly here); the
//! static key: one per app, whichever core creates it, published after the dynamic ones.

use auth_core::keys::KeyStore;
use auth_core::util::now_ms;
use auth_core::{Config, Core};
use std::sync::Arc;
use storage_api::{AppId, Storage, TenantIdentifier};

/// The dynamic key ids of a JWKS (the static key, published last, is checked apart).
fn kids(jwks: &serde_json::Value) -> Vec<String> {
    let all: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    let (last, dynamic) = all.split_last().unwrap();
    assert!(last.starts_with("s-"), "{all:?}");
    assert!(dynamic.iter().all(|k| k.starts_with("d-")), "{all:?}");
    dynamic.to_vec()
}

/// Four key stores (four cores) on one storage.
fn four_key_stores(storage: &Arc<dyn Storage>, config: &Config) -> Vec<Arc<KeyStore>> {
    (0..4)
        .map(|_| Arc::new(KeyStore::new(storage.clone(), config)))
        .collect()
}

/// A migrated SQLite storage in `dir`.
async fn sqlite_storage(dir: &tempfile::TempDir) -> Arc<dyn Storage> {
    let uri = format!("sqlite://{}", dir.path().join("keys.db").display());
    let storage: Arc<dyn Storage> = storage_api::open(&uri, Default::default()).await.unwrap();
    storage_api::migrate_up(&*storage).await.unwrap();
    storage
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_retire_and_agree() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(&dir).await;
    let config = Config {
        signing_key_interval_h: 1,
        access_token_validity_s: 3600,
        ..Config::default()
    };
    let core = Core::new(storage.clone(), config.clone());
    core.init().await.unwrap();
    let t0 = now_ms();
    let k0 = core.keys.signing_key(t0).await.unwrap().kid.clone();
    assert!(k0.starts_with("d-"));

    // A second core on the same database signs with the same key.
    let other = KeyStore::new(storage.clone(), &config);
    assert_eq!(other.signing_key(t0).await.unwrap().kid, k0);

    // An interval later a new key is published, but the old one signs for 60 s more.
    let t1 = t0 + 3_600_000;
    let (jwks, max_age) = core.keys.jwks(t1).await.unwrap();
    let published = kids(&jwks);
    assert_eq!(published.len(), 2, "{published:?}");
    assert!(max_age >= 1);
    assert_eq!(core.keys.signing_key(t1).await.unwrap().kid, k0);
    let k1 = core
        .keys
        .signing_key(t1 + 61_000)
        .await
        .unwrap()
        .kid
        .clone();
    assert_ne!(k1, k0);
    assert!(published.contains(&k1));
    // The other core finds the new key by id and agrees on the signer.
    assert!(other.by_kid(&k1, t1).await.unwrap().is_some());
    assert_eq!(other.signing_key(t1 + 61_000).await.unwrap().kid, k1);

    // interval + 2 × access validity after its creation, the first key is retired.
    let t2 = t0 + 3 * 3_600_000 + 1_000;
    let (jwks, _) = core.keys.jwks(t2).await.unwrap();
    let published = kids(&jwks);
    assert!(!published.contains(&k0), "{published:?}");
    assert!(published.contains(&k1));
    assert!(core.keys.by_kid(&k0, t2).await.unwrap().is_none());
    let stored = storage.signing_keys(&AppId::public()).await.unwrap();
    assert!(stored.iter().all(|k| format!("d-{}", k.created_at) != k0));

    // Concurrent cores due for rotation at the same moment create exactly one key.
    let before = storage.signing_keys(&AppId::public()).await.unwrap().len();
    let t3 = t2 + 3_600_000;
    let stores = four_key_stores(&storage, &config);
    let mut tasks = Vec::new();
    for s in &stores {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.ensure_current(t3).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let after = storage.signing_keys(&AppId::public()).await.unwrap();
    let new_keys = after.iter().filter(|k| k.created_at >= t3).count();
    assert_eq!(new_keys, 1, "one new key, not one per core");
    assert!(after.len() <= before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_static_key_whichever_core_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite_storage(&dir).await;
    let config = Config::default();
    // The public app exists (as `Core::init` makes sure) but has no key yet.
    storage
        .add_tenant(&TenantIdentifier::default_public(), now_ms())
        .await
        .unwrap();
    let app = AppId::public();
    assert!(storage.jwt_signing_keys(&app).await.unwrap().is_empty());
    // Four cores ask at once: one key is stored, and all of them use it.
    let stores = four_key_stores(&storage, &config);
    let mut tasks = Vec::new();
    for s in &stores {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.static_key().await.unwrap().kid.clone()
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    let after = storage.jwt_signing_keys(&app).await.unwrap();
    assert_eq!(after.len(), 1);
    assert!(seen.iter().all(|k| *k == after[0].key_id), "{seen:?}");
    // A core started later loads the same key.
    let later = Core::new(storage.clone(), config.clone());
    later.init().await.unwrap();
    assert_eq!(later.keys.static_key().await.unwrap().kid, after[0].key_id);
    assert_eq!(storage.jwt_signing_keys(&app).await.unwrap().len(), 1);
    assert!(after[0].key_id.starts_with("s-"));
    assert_eq!(after[0].algorithm, "RS256");
    // It signs what it verifies, and is not mistaken for a dynamic key.
    let key = stores[0].static_key().await.unwrap();
    let sig = key.sign(b"payload").unwrap();
    assert!(
        stores[1]
            .by_kid(&key.kid, now_ms())
            .await
            .unwrap()
            .unwrap()
            .verify(b"payload", &sig)
    );
    assert!(
        stores[1]
            .by_kid("s-unknown", now_ms())
            .await
            .unwrap()
            .is_none()
    );
}
