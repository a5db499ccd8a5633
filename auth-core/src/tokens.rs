//! Access tokens (RS256 JWT, version 5 claims, cdi.md c.1) and refresh tokens (c.2).
//!
//! A refresh token here is `<base64url JSON payload>.<base64url HMAC-SHA256>.V2`; the
//! SDK treats it as opaque. The HMAC key is the app's `refresh_token_key` in the
//! key/value table (created once, under the storage's named lock), so every replica
//! accepts every replica's tokens and no client can forge the parent-hash claim that
//! drives promotion.

use crate::error::ApiError;
use crate::keys::KeyStore;
use crate::util::{b64url, b64url_decode, now_ms, random_token, sha256_hex};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use std::sync::Arc;
use storage_api::{KeyValue, Storage, TenantIdentifier, TxError, TxOptions, run_transaction};
use tokio::sync::OnceCell;

/// Claims that callers may not set in `userDataInJWT` (cdi.md g.22).
pub const PROTECTED_CLAIMS: [&str; 9] = [
    "sub",
    "exp",
    "iat",
    "sessionHandle",
    "refreshTokenHash1",
    "parentRefreshTokenHash1",
    "antiCsrfToken",
    "tId",
    "rsub",
];

/// The session-related claims of an access token.
#[derive(Clone, Debug)]
pub struct AccessClaims {
    /// Primary user id.
    pub sub: String,
    /// Recipe user id.
    pub rsub: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Session handle.
    pub session_handle: String,
    /// sha256-hex of the refresh token.
    pub refresh_token_hash1: String,
    /// sha256-hex of the parent refresh token.
    pub parent_refresh_token_hash1: Option<String>,
    /// Anti-CSRF token.
    pub anti_csrf_token: Option<String>,
    /// Expiry (s).
    pub exp: i64,
    /// Issued at (s).
    pub iat: i64,
    /// Custom claims.
    pub custom: Map<String, Value>,
}

/// 400 when `payload` holds a protected claim.
pub fn check_protected(payload: &Map<String, Value>) -> Result<(), ApiError> {
    if PROTECTED_CLAIMS.iter().any(|c| payload.contains_key(*c)) {
        return Err(ApiError::BadRequest(
            "The user payload contains protected field".into(),
        ));
    }
    Ok(())
}

/// Signs an access token with the static key or the current dynamic key.
pub async fn sign_access_token(
    keys: &KeyStore,
    c: &AccessClaims,
    use_static_key: bool,
) -> Result<String, ApiError> {
    let key = keys.signing_key_of_kind(use_static_key, now_ms()).await?;
    let header = json!({"kid": key.kid, "typ": "JWT", "version": "5", "alg": "RS256"});
    let mut payload = c.custom.clone();
    payload.insert("sub".into(), json!(c.sub));
    payload.insert("exp".into(), json!(c.exp));
    payload.insert("iat".into(), json!(c.iat));
    payload.insert("tId".into(), json!(c.tenant_id));
    payload.insert("rsub".into(), json!(c.rsub));
    payload.insert("sessionHandle".into(), json!(c.session_handle));
    payload.insert("refreshTokenHash1".into(), json!(c.refresh_token_hash1));
    payload.insert(
        "parentRefreshTokenHash1".into(),
        json!(c.parent_refresh_token_hash1),
    );
    payload.insert("antiCsrfToken".into(), json!(c.anti_csrf_token));
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(Value::Object(payload).to_string().as_bytes())
    );
    let sig = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64url(&sig)))
}

/// Why an access token was not accepted (answered as TRY_REFRESH_TOKEN).
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidToken(pub &'static str);

/// Verifies an access token's signature and structure; `check_expiry` also rejects
/// expired tokens.
pub async fn verify_access_token(
    keys: &KeyStore,
    token: &str,
    check_expiry: bool,
) -> Result<Result<AccessClaims, InvalidToken>, ApiError> {
    let now = now_ms();
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(Err(InvalidToken("invalid access token")));
    };
    let header: Option<Value> = b64url_decode(h).and_then(|b| serde_json::from_slice(&b).ok());
    let Some(kid) = header
        .as_ref()
        .filter(|h| h["alg"] == "RS256")
        .and_then(|h| h["kid"].as_str())
    else {
        return Ok(Err(InvalidToken("invalid access token header")));
    };
    let Some(key) = keys.by_kid(kid, now).await? else {
        return Ok(Err(InvalidToken("Key not found")));
    };
    let Some(sig) = b64url_decode(s) else {
        return Ok(Err(InvalidToken("invalid access token signature")));
    };
    if !key.verify(format!("{h}.{p}").as_bytes(), &sig) {
        return Ok(Err(InvalidToken("invalid access token signature")));
    }
    let Some(Value::Object(mut m)) =
        b64url_decode(p).and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return Ok(Err(InvalidToken("invalid access token payload")));
    };
    let mut take_str = |k: &str| match m.remove(k) {
        Some(Value::String(s)) => Some(Some(s)),
        Some(Value::Null) | None => Some(None),
        Some(_) => None,
    };
    let (
        Some(Some(sub)),
        Some(Some(rsub)),
        Some(Some(handle)),
        Some(Some(h1)),
        Some(parent),
        Some(csrf),
        Some(tid),
    ) = (
        take_str("sub"),
        take_str("rsub"),
        take_str("sessionHandle"),
        take_str("refreshTokenHash1"),
        take_str("parentRefreshTokenHash1"),
        take_str("antiCsrfToken"),
        take_str("tId"),
    )
    else {
        return Ok(Err(InvalidToken("access token is missing a claim")));
    };
    let (Some(exp), Some(iat)) = (
        m.remove("exp").and_then(|v| v.as_i64()),
        m.remove("iat").and_then(|v| v.as_i64()),
    ) else {
        return Ok(Err(InvalidToken("access token is missing a claim")));
    };
    if check_expiry && exp * 1000 < now {
        return Ok(Err(InvalidToken("Access token expired")));
    }
    Ok(Ok(AccessClaims {
        sub,
        rsub,
        tenant_id: tid.unwrap_or_else(|| "public".into()),
        session_handle: handle,
        refresh_token_hash1: h1,
        parent_refresh_token_hash1: parent,
        anti_csrf_token: csrf,
        exp,
        iat,
        custom: m,
    }))
}

/// The payload of a refresh token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RefreshPayload {
    /// Session handle.
    #[serde(rename = "sessionHandle")]
    pub session_handle: String,
    /// Recipe user id.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// Hash1 of the parent token.
    #[serde(
        rename = "parentRefreshTokenHash1",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub parent_hash1: Option<String>,
    /// Random nonce.
    pub nonce: String,
    /// Anti-CSRF token.
    #[serde(
        rename = "antiCsrfToken",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub anti_csrf: Option<String>,
    /// Tenant id.
    #[serde(rename = "tenantId")]
    pub tenant_id: String,
}

/// Name of the HMAC key in the key/value table of the app's public tenant.
const REFRESH_KEY_NAME: &str = "refresh_token_key";

/// Signs and opens refresh tokens with the app's key.
pub struct RefreshKey {
    storage: Arc<dyn Storage>,
    tenant: TenantIdentifier,
    key: OnceCell<Vec<u8>>,
}

impl RefreshKey {
    /// A lazily loaded key of the public app.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self::for_app(storage, storage_api::AppId::public())
    }

    /// A lazily loaded key of `app`.
    pub fn for_app(storage: Arc<dyn Storage>, app: storage_api::AppId) -> Self {
        Self {
            storage,
            tenant: TenantIdentifier {
                app,
                tenant: storage_api::TenantId::public(),
            },
            key: OnceCell::new(),
        }
    }

    async fn key(&self) -> Result<&[u8], ApiError> {
        self.key
            .get_or_try_init(|| async {
                let tenant = self.tenant.clone();
                let value = run_transaction(&*self.storage, &TxOptions::default(), |tx| {
                    let tenant = tenant.clone();
                    Box::pin(async move {
                        if let Some(kv) = tx.kv_get_for_update(&tenant, REFRESH_KEY_NAME).await? {
                            return Ok::<_, TxError<ApiError>>(kv.value);
                        }
                        let kv = KeyValue {
                            value: random_token(48),
                            created_at: now_ms(),
                        };
                        tx.kv_set(&tenant, REFRESH_KEY_NAME, &kv).await?;
                        Ok(kv.value)
                    })
                })
                .await?;
                Ok::<_, ApiError>(value.into_bytes())
            })
            .await
            .map(Vec::as_slice)
    }

    fn mac(key: &[u8], msg: &str) -> Result<Vec<u8>, ApiError> {
        let mut m = Hmac::<Sha256>::new_from_slice(key)
            .map_err(|e| ApiError::Internal(format!("hmac key: {e}")))?;
        m.update(msg.as_bytes());
        Ok(m.finalize().into_bytes().to_vec())
    }

    /// Makes a refresh token.
    pub async fn seal(&self, p: &RefreshPayload) -> Result<String, ApiError> {
        let body = b64url(
            serde_json::to_string(p)
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .as_bytes(),
        );
        let mac = Self::mac(self.key().await?, &body)?;
        Ok(format!("{body}.{}.V2", b64url(&mac)))
    }

    /// Opens a refresh token; `None` when it is malformed or not ours.
    pub async fn open(&self, token: &str) -> Result<Option<RefreshPayload>, ApiError> {
        let mut parts = token.split('.');
        let (Some(body), Some(mac), Some("V2"), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let Some(given) = b64url_decode(mac) else {
            return Ok(None);
        };
        let mut m = Hmac::<Sha256>::new_from_slice(self.key().await?)
            .map_err(|e| ApiError::Internal(format!("hmac key: {e}")))?;
        m.update(body.as_bytes());
        if m.verify_slice(&given).is_err() {
            return Ok(None);
        }
        Ok(b64url_decode(body).and_then(|b| serde_json::from_slice(&b).ok()))
    }
}

/// hash1 of a refresh token: sha256-hex of the token string.
pub fn hash1(token: &str) -> String {
    sha256_hex(token)
}

/// hash2 as stored: sha256-hex of hash1's hex string.
pub fn hash2_of_hash1(hash1: &str) -> String {
    sha256_hex(hash1)
}
