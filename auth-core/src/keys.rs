//! RS256 signing keys, kept in the storage so that every replica on one database signs
//! and verifies with the same keys (cdi.md d).
//!
//! Dynamic keys (the default of sessions):
//! A key is stored as SuperTokens does: `<base64 X.509 public key>|<base64 PKCS#8
//! private key>`, its id is `d-<created at ms>`. A new key is created when no key is
//! younger than the rotation interval minus 60 s; the newest key signs once it is 60 s
//! old (the previous one keeps signing until then); keys are published and verify until
//! interval + 2 × access-token validity after their creation, then they are deleted.
//! Creation runs in a transaction under the storage's named lock on the app's keys, so
//! concurrent replicas create one key.
//!
//! The static key (sessions created with `useDynamicSigningKey:false`) is SuperTokens'
//! per-app RS256 key of `jwt_signing_keys`, id `s-<uuid>`, same stored format, never
//! rotated; it is read or created through the storage's get-or-create (under its named
//! lock), so every replica uses the one key the first replica stored.

use crate::config::Config;
use crate::error::ApiError;
use crate::util::{b64, b64_decode, b64url};
use ring::signature::{
    KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use std::sync::{Arc, RwLock};
use storage_api::{
    AppId, JwtSigningKey, Secret, SigningKey, Storage, TxError, TxOptions, run_transaction,
};

/// The algorithm of the static key in `jwt_signing_keys`.
const STATIC_ALGORITHM: &str = "RS256";

/// Publication lead: a new key appears this long before it signs (ms).
const LEAD_MS: i64 = 60_000;

/// A key usable for signing and verifying.
pub struct LoadedKey {
    /// `d-<created_at>`.
    pub kid: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// RS256 signs and verifies with `ring`, chosen over the pure-Rust `rsa` crate by
    /// measurement (`examples/rs256.rs`, "Benchmark" in the README); `rsa` only
    /// generates and encodes keys.
    signer: RsaKeyPair,
    verifier: UnparsedPublicKey<Vec<u8>>,
    public: RsaPublicKey,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl LoadedKey {
    fn from_stored(k: &SigningKey) -> Option<Self> {
        Self::from_parts(format!("d-{}", k.created_at), k.created_at, &k.value)
    }

    /// A key from its id, creation time and stored `<public>|<private>` string.
    fn from_parts(kid: String, created_at: i64, value: &str) -> Option<Self> {
        let (_, private) = value.split_once('|')?;
        let der = b64_decode(private)?;
        let public = RsaPrivateKey::from_pkcs8_der(&der).ok()?.to_public_key();
        let signer = RsaKeyPair::from_pkcs8(&der).ok()?;
        let verifier = UnparsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            signer.public_key().as_ref().to_vec(),
        );
        Some(Self {
            kid,
            created_at,
            signer,
            verifier,
            public,
        })
    }

    /// Signs `msg` with RS256 (RSASSA-PKCS1-v1_5, SHA-256).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ApiError> {
        let mut sig = vec![0; self.signer.public().modulus_len()];
        self.signer
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                msg,
                &mut sig,
            )
            .map_err(|_| ApiError::Internal("RS256 signing failed".into()))?;
        Ok(sig)
    }

    /// Checks an RS256 signature.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.verifier.verify(msg, sig).is_ok()
    }

    /// The JWK of the public key.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "kid": self.kid,
            "n": b64url(&self.public.n().to_bytes_be()),
            "e": b64url(&self.public.e().to_bytes_be()),
            "alg": "RS256",
            "use": "sig",
        })
    }
}

/// Generates a 2048-bit key in SuperTokens' stored format (runs on a blocking thread).
pub async fn generate_stored_key(created_at: i64) -> Result<SigningKey, ApiError> {
    tokio::task::spawn_blocking(move || {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .map_err(|e| ApiError::Internal(format!("rsa key generation: {e}")))?;
        let public = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| ApiError::Internal(format!("public key encoding: {e}")))?;
        let private = private
            .to_pkcs8_der()
            .map_err(|e| ApiError::Internal(format!("private key encoding: {e}")))?;
        Ok(SigningKey {
            created_at,
            value: format!("{}|{}", b64(public.as_bytes()), b64(private.as_bytes())),
        })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("key generation task: {e}")))?
}

/// The signing keys of one app, cached and re-read from the storage when a key id is
/// unknown or a rotation is due.
pub struct KeyStore {
    storage: Arc<dyn Storage>,
    app: AppId,
    interval_ms: i64,
    lifetime_ms: i64,
    cache: RwLock<Vec<Arc<LoadedKey>>>,
    refresh: tokio::sync::Mutex<()>,
    static_key: tokio::sync::OnceCell<Arc<LoadedKey>>,
}

impl KeyStore {
    /// The public app's key store for `storage` with the configured rotation and
    /// lifetimes.
    pub fn new(storage: Arc<dyn Storage>, config: &Config) -> Self {
        Self::for_app(storage, config, AppId::public())
    }

    /// The key store of `app`.
    pub fn for_app(storage: Arc<dyn Storage>, config: &Config, app: AppId) -> Self {
        Self {
            storage,
            app,
            interval_ms: config.key_interval_ms(),
            lifetime_ms: config.key_interval_ms() + 2 * config.access_validity_ms(),
            cache: RwLock::new(Vec::new()),
            refresh: tokio::sync::Mutex::new(()),
            static_key: tokio::sync::OnceCell::new(),
        }
    }

    fn cached(&self) -> Vec<Arc<LoadedKey>> {
        self.cache.read().map(|c| c.clone()).unwrap_or_default()
    }

    fn store_cache(&self, keys: &[SigningKey]) {
        let mut loaded: Vec<Arc<LoadedKey>> = keys
            .iter()
            .filter_map(|k| {
                let l = LoadedKey::from_stored(k);
                if l.is_none() {
                    tracing::warn!(created_at = k.created_at, "unreadable signing key skipped");
                }
                l.map(Arc::new)
            })
            .collect();
        loaded.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        if let Ok(mut c) = self.cache.write() {
            *c = loaded;
        }
    }

    fn rotation_due(&self, keys: &[Arc<LoadedKey>], now: i64) -> bool {
        keys.first()
            .is_none_or(|k| k.created_at <= now - (self.interval_ms - LEAD_MS))
    }

    /// Makes sure a current key exists: reads the storage, and creates a key under the
    /// app's key lock when rotation is due; removes expired keys.
    pub async fn ensure_current(&self, now: i64) -> Result<(), ApiError> {
        let _g = self.refresh.lock().await;
        if !self.rotation_due(&self.cached(), now) {
            return Ok(());
        }
        let app = self.app.clone();
        let stored = self.storage.signing_keys(&app).await?;
        self.store_cache(&stored);
        if !self.rotation_due(&self.cached(), now) {
            return Ok(());
        }
        let fresh = generate_stored_key(now).await?;
        let interval = self.interval_ms;
        let lifetime = self.lifetime_ms;
        let keys = run_transaction(&*self.storage, &TxOptions::default(), |tx| {
            let app = app.clone();
            let fresh = fresh.clone();
            Box::pin(async move {
                let mut keys = tx.signing_keys_for_update(&app).await?;
                let due = keys
                    .iter()
                    .map(|k| k.created_at)
                    .max()
                    .is_none_or(|t| t <= now - (interval - LEAD_MS));
                if due {
                    let mut key = fresh;
                    // created_at is unique per app.
                    while keys.iter().any(|k| k.created_at == key.created_at) {
                        key.created_at += 1;
                    }
                    tx.add_signing_key(&app, &key).await?;
                    keys.push(key);
                }
                tx.remove_signing_keys_before(&app, now - lifetime).await?;
                keys.retain(|k| k.created_at >= now - lifetime);
                Ok::<_, TxError<ApiError>>(keys)
            })
        })
        .await?;
        self.store_cache(&keys);
        Ok(())
    }

    /// The key that signs now: the newest key at least 60 s old, else the newest.
    pub async fn signing_key(&self, now: i64) -> Result<Arc<LoadedKey>, ApiError> {
        if self.rotation_due(&self.cached(), now) {
            self.ensure_current(now).await?;
        }
        let keys = self.cached();
        keys.iter()
            .find(|k| k.created_at <= now - LEAD_MS && k.created_at > now - self.lifetime_ms)
            .or_else(|| keys.first())
            .cloned()
            .ok_or_else(|| ApiError::Internal("no signing key".into()))
    }

    /// The key with id `kid`, re-reading the storage once if it is unknown.
    pub async fn by_kid(&self, kid: &str, now: i64) -> Result<Option<Arc<LoadedKey>>, ApiError> {
        let find = |keys: Vec<Arc<LoadedKey>>| {
            keys.into_iter()
                .find(|k| k.kid == kid && k.created_at > now - self.lifetime_ms)
        };
        if !kid.starts_with("d-") {
            let s = self.static_key().await?;
            return Ok((s.kid == kid).then_some(s));
        }
        if let Some(k) = find(self.cached()) {
            return Ok(Some(k));
        }
        let _g = self.refresh.lock().await;
        let stored = self.storage.signing_keys(&self.app).await?;
        self.store_cache(&stored);
        Ok(find(self.cached()))
    }

    /// The JWKS body and its `Cache-Control` max-age in seconds.
    pub async fn jwks(&self, now: i64) -> Result<(Value, i64), ApiError> {
        self.ensure_current(now).await?;
        let keys = self.cached();
        let mut live: Vec<Value> = keys
            .iter()
            .filter(|k| k.created_at > now - self.lifetime_ms)
            .map(|k| k.jwk())
            .collect();
        live.push(self.static_key().await?.jwk());
        let newest = keys.first().map(|k| k.created_at).unwrap_or(now);
        let next_due = newest + self.interval_ms - LEAD_MS;
        let max_age = ((next_due - now) / 1000 - 60).max(1);
        Ok((json!({ "keys": live }), max_age))
    }

    /// The key that signs now: the static key, or the current dynamic one.
    pub async fn signing_key_of_kind(
        &self,
        use_static_key: bool,
        now: i64,
    ) -> Result<Arc<LoadedKey>, ApiError> {
        if use_static_key {
            self.static_key().await
        } else {
            self.signing_key(now).await
        }
    }

    /// The app's static key (`s-<uuid>`): read once from `jwt_signing_keys`, created
    /// there through the storage's get-or-create when the app has none, so that
    /// concurrent replicas end up with the one key that was stored first.
    pub async fn static_key(&self) -> Result<Arc<LoadedKey>, ApiError> {
        self.static_key
            .get_or_try_init(|| async {
                let app = &self.app;
                let stored = self
                    .storage
                    .jwt_signing_keys(app)
                    .await?
                    .into_iter()
                    .find(|k| k.algorithm == STATIC_ALGORITHM);
                let key = match stored {
                    Some(k) => k,
                    None => {
                        let fresh = generate_stored_key(crate::util::now_ms()).await?;
                        let fresh = JwtSigningKey {
                            key_id: format!("s-{}", crate::util::uuid()),
                            algorithm: STATIC_ALGORITHM.to_owned(),
                            key_string: Secret::new(fresh.value),
                            created_at: fresh.created_at,
                        };
                        self.storage
                            .get_or_create_jwt_signing_key(app, STATIC_ALGORITHM, &|| fresh.clone())
                            .await?
                    }
                };
                LoadedKey::from_parts(key.key_id.clone(), key.created_at, key.key_string.expose())
                    .map(Arc::new)
                    .ok_or_else(|| {
                        ApiError::Internal(format!("unreadable static signing key {}", key.key_id))
                    })
            })
            .await
            .cloned()
    }
}
