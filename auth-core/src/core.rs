//! The shared state of the server: storage, settings, keys.

use crate::config::Config;
use crate::error::ApiError;
use crate::keys::KeyStore;
use crate::tokens::RefreshKey;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use storage_api::{AppId, Storage, StorageError, TenantConfig, TenantConfigKey, TenantIdentifier};

/// Everything a handler needs.
pub struct Core {
    /// The storage.
    pub storage: Arc<dyn Storage>,
    /// Settings.
    pub config: Config,
    /// Access-token signing keys of the public app.
    pub keys: Arc<KeyStore>,
    /// The refresh-token key of the public app.
    pub refresh_key: Arc<RefreshKey>,
    /// The keys of the other apps served so far.
    apps: RwLock<HashMap<AppId, AppKeys>>,
}

/// The signing keys and refresh-token key of one app.
pub type AppKeys = (Arc<KeyStore>, Arc<RefreshKey>);

impl Core {
    /// A core on `storage`; call [`Core::init`] before serving.
    pub fn new(storage: Arc<dyn Storage>, config: Config) -> Arc<Self> {
        Arc::new(Self {
            keys: Arc::new(KeyStore::new(storage.clone(), &config)),
            refresh_key: Arc::new(RefreshKey::new(storage.clone())),
            apps: RwLock::new(HashMap::new()),
            storage,
            config,
        })
    }

    /// The signing keys and refresh-token key of `app` (each app has its own, kept in
    /// its rows of the storage, as in SuperTokens).
    pub fn keys_of(&self, app: &AppId) -> AppKeys {
        if app.is_public() {
            return (self.keys.clone(), self.refresh_key.clone());
        }
        if let Some(k) = self.apps.read().ok().and_then(|m| m.get(app).cloned()) {
            return k;
        }
        let fresh = (
            Arc::new(KeyStore::for_app(
                self.storage.clone(),
                &self.config,
                app.clone(),
            )),
            Arc::new(RefreshKey::for_app(self.storage.clone(), app.clone())),
        );
        match self.apps.write() {
            Ok(mut m) => m.entry(app.clone()).or_insert(fresh).clone(),
            Err(_) => fresh,
        }
    }

    /// Creates the public tenant if missing, a current signing key and the static key.
    pub async fn init(&self) -> Result<(), ApiError> {
        match self
            .storage
            .add_tenant(&TenantIdentifier::default_public(), crate::util::now_ms())
            .await
        {
            Ok(()) | Err(StorageError::DuplicateTenant) => {}
            Err(e) => return Err(e.into()),
        }
        let public = TenantConfig::new(TenantConfigKey::new(TenantIdentifier::default_public()));
        match self.storage.create_tenant_config(&public).await {
            Ok(()) | Err(StorageError::DuplicateTenant) => {}
            Err(e) => return Err(e.into()),
        }
        self.keys.ensure_current(crate::util::now_ms()).await?;
        self.keys.static_key().await.map(|_| ())
    }
}
