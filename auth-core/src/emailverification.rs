//! Email-verification endpoints (cdi.md b.4 #15-#19).

use crate::core::Core;
use crate::error::ApiError;
use crate::request::{Req, ok_json, status};
use crate::util::{normalise_email, now_ms, random_token, sha256_hex};
use axum::response::Response;
use serde_json::json;
use storage_api::{EmailVerificationToken, TxError, TxOptions, run_transaction};

/// `POST /<t>/recipe/user/email/verify/token`.
pub async fn create_token(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let user_id = b.str("userId")?;
    let email = normalise_email(&b.str("email")?);
    if core
        .storage
        .is_email_verified(req.app(), &user_id, &email)
        .await?
    {
        return Ok(status("EMAIL_ALREADY_VERIFIED_ERROR"));
    }
    let token = random_token(64);
    core.storage
        .add_email_verification_token(&EmailVerificationToken {
            tenant: req.tenant.clone(),
            user_id,
            email,
            token: sha256_hex(&token),
            token_expiry: now_ms() + core.config.email_verification_token_lifetime_ms,
        })
        .await?;
    Ok(ok_json(json!({"status": "OK", "token": token})))
}

/// `POST /<t>/recipe/user/email/verify`.
pub async fn verify(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    if b.str("method")? != "token" {
        return Err(ApiError::BadRequest(
            "Unsupported method for email verification".into(),
        ));
    }
    let hashed = sha256_hex(&b.str("token")?);
    let invalid = || status("EMAIL_VERIFICATION_INVALID_TOKEN_ERROR");
    let Some(found) = core
        .storage
        .get_email_verification_token(&req.tenant, &hashed)
        .await?
    else {
        return Ok(invalid());
    };
    let now = now_ms();
    let app = req.app().clone();
    let tenant = req.tenant.clone();
    let ok = run_transaction(&*core.storage, &TxOptions::default(), |tx| {
        let (app, tenant, found, hashed) =
            (app.clone(), tenant.clone(), found.clone(), hashed.clone());
        Box::pin(async move {
            let mine = tx
                .email_verification_tokens_for_update(&tenant, &found.user_id, &found.email)
                .await?;
            let current = mine
                .iter()
                .any(|t| t.token == hashed && t.token_expiry >= now);
            tx.delete_email_verification_tokens(&tenant, &found.user_id, &found.email)
                .await?;
            if current {
                tx.set_email_verified(&app, &found.user_id, &found.email, true)
                    .await?;
            }
            Ok::<_, TxError<ApiError>>(current)
        })
    })
    .await?;
    if !ok {
        return Ok(invalid());
    }
    Ok(ok_json(
        json!({"status": "OK", "userId": found.user_id, "email": found.email}),
    ))
}

/// `GET /recipe/user/email/verify` (the email is compared as given, cdi.md b.4).
pub async fn is_verified(core: &Core, req: &Req) -> Result<Response, ApiError> {
    req.require_public_tenant()?;
    let user_id = req.q_req("userId")?;
    let email = req.q_req("email")?;
    let v = core
        .storage
        .is_email_verified(req.app(), user_id, email)
        .await?;
    Ok(ok_json(json!({"status": "OK", "isVerified": v})))
}

/// `POST /<t>/recipe/user/email/verify/token/remove`.
pub async fn revoke_tokens(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let user_id = b.str("userId")?;
    let email = normalise_email(&b.str("email")?);
    core.storage
        .revoke_email_verification_tokens(&req.tenant, &user_id, &email)
        .await?;
    Ok(status("OK"))
}

/// `POST /recipe/user/email/verify/remove`.
pub async fn unverify(core: &Core, req: &Req) -> Result<Response, ApiError> {
    req.require_public_tenant()?;
    let b = req.json()?;
    let user_id = b.str("userId")?;
    let email = normalise_email(&b.str("email")?);
    core.storage
        .set_email_verified(req.app(), &user_id, &email, false)
        .await?;
    Ok(status("OK"))
}
