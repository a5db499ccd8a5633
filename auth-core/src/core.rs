//! The shared state of the server: storage, settings, keys.

use crate::config::Config;
use crate::error::ApiError;
use crate::keys::KeyStore;
use crate::tokens::RefreshKey;
use std::sync::Arc;
use storage_api::{Storage, StorageError, TenantConfig, TenantConfigKey, TenantIdentifier};

/// Everything a handler needs.
pub struct Core {
    /// The storage.
    pub storage: Arc<dyn Storage>,
    /// Settings.
    pub config: Config,
    /// Access-token signing keys.
    pub keys: KeyStore,
    /// The refresh-token key.
    pub refresh_key: RefreshKey,
}

impl Core {
    /// A core on `storage`; call [`Core::init`] before serving.
    pub fn new(storage: Arc<dyn Storage>, config: Config) -> Arc<Self> {
        Arc::new(Self {
            keys: KeyStore::new(storage.clone(), &config),
            refresh_key: RefreshKey::new(storage.clone()),
            storage,
            config,
        })
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
