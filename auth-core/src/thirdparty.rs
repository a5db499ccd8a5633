//! Third-party sign-in/up (cdi.md b.7 #36).

use crate::core::Core;
use crate::error::ApiError;
use crate::request::{Req, ok_json};
use crate::users::user_json;
use crate::util::{normalise_email, now_ms, uuid};
use axum::response::Response;
use serde_json::{Value, json};
use storage_api::{StorageError, ThirdPartyInfo, ThirdPartySignUp, User};

async fn existing(core: &Core, req: &Req, info: &ThirdPartyInfo) -> Result<Option<User>, ApiError> {
    Ok(core
        .storage
        .list_users_by_third_party(req.app(), info)
        .await?
        .into_iter()
        .find(|u| u.tenant_ids.contains(&req.tenant.tenant)))
}

/// `POST /<t>/recipe/signinup`.
///
/// A returning user whose provider email changed keeps the stored email: the storage
/// has no third-party email update yet (see the crate README).
pub async fn sign_in_up(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let info = ThirdPartyInfo {
        third_party_id: b.str("thirdPartyId")?,
        third_party_user_id: b.str("thirdPartyUserId")?,
    };
    let (email, verified) = match b.0.get("email") {
        Some(Value::Object(e)) => (
            match e.get("id") {
                Some(Value::String(s)) => normalise_email(s),
                _ => return Err(ApiError::field("email")),
            },
            match e.get("isVerified") {
                Some(Value::Bool(v)) => *v,
                _ => return Err(ApiError::field("isVerified")),
            },
        ),
        None => return Err(ApiError::missing("email")),
        Some(_) => return Err(ApiError::field("email")),
    };
    let mut created = false;
    let user = match existing(core, req, &info).await? {
        Some(u) => u,
        None => {
            let input = ThirdPartySignUp {
                tenant: req.tenant.clone(),
                user_id: uuid(),
                email: email.clone(),
                third_party: info.clone(),
                time_joined: now_ms(),
            };
            match core.storage.sign_up_third_party(&input).await {
                Ok(u) => {
                    created = true;
                    u
                }
                // Lost a race with a concurrent sign-up of the same identity.
                Err(StorageError::DuplicateThirdPartyUser) => existing(core, req, &info)
                    .await?
                    .ok_or_else(|| ApiError::Internal("third-party user vanished".into()))?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    let recipe_user_id = user
        .login_methods
        .iter()
        .find(|m| m.third_party.as_ref() == Some(&info))
        .map(|m| m.recipe_user_id.clone())
        .unwrap_or_else(|| user.id.clone());
    let user = if verified {
        let stored_email = user
            .login_methods
            .iter()
            .find(|m| m.recipe_user_id == recipe_user_id)
            .and_then(|m| m.email.clone())
            .unwrap_or(email);
        core.storage
            .set_email_verified(req.app(), &recipe_user_id, &stored_email, true)
            .await?;
        core.storage
            .get_user(req.app(), &user.id)
            .await?
            .unwrap_or(user)
    } else {
        user
    };
    Ok(ok_json(json!({
        "status": "OK",
        "createdNewUser": created,
        "user": user_json(&user),
        "recipeUserId": recipe_user_id,
    })))
}
