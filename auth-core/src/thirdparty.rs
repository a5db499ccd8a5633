//! Third-party sign-in/up (cdi.md b.7 #36).

use crate::core::Core;
use crate::error::ApiError;
use crate::request::{Req, ok_json};
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

/// Stores `email` as the email of the third-party login method `info` of `u` when it
/// differs; the user as it is now, or the refusal to answer.
async fn changed_email(
    core: &Core,
    req: &Req,
    u: &User,
    info: &ThirdPartyInfo,
    email: &str,
) -> Result<Result<User, Response>, ApiError> {
    let Some(m) = u
        .login_methods
        .iter()
        .find(|m| m.third_party.as_ref() == Some(info))
    else {
        return Ok(Ok(u.clone()));
    };
    if m.email.as_deref() == Some(email) {
        return Ok(Ok(u.clone()));
    }
    match core
        .storage
        .update_third_party_email(req.app(), &m.recipe_user_id, email)
        .await
    {
        Ok(()) => {}
        Err(StorageError::AccountInfoAlreadyUsedByAnotherPrimaryUser { .. }) => {
            return Ok(Err(ok_json(json!({
                "status": "EMAIL_CHANGE_NOT_ALLOWED_ERROR",
                "reason": "Email already associated with another primary user.",
            }))));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Ok(core
        .storage
        .get_user(req.app(), &u.id)
        .await?
        .unwrap_or_else(|| u.clone())))
}

/// `POST /<t>/recipe/signinup`.
///
/// A returning user whose provider reports another email gets it stored (as
/// SuperTokens does), unless the user is linked and another primary user of its
/// tenants has that email: `EMAIL_CHANGE_NOT_ALLOWED_ERROR`.
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
        Some(u) => match changed_email(core, req, &u, &info, &email).await? {
            Ok(u) => u,
            Err(refused) => return Ok(refused),
        },
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
    let extra = json!({"createdNewUser": created});
    crate::users::user_answer(core, req.app(), &user, &recipe_user_id, extra).await
}
