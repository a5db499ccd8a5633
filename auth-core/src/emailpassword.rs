//! Email-password endpoints (cdi.md b.3 #10-#14).

use crate::core::Core;
use crate::error::ApiError;
use crate::passwords::{self, HashSettings};
use crate::request::{Req, ok_json, status};
use crate::users::supertokens_id;
use crate::util::{normalise_email, now_ms, random_token, sha256_hex, uuid};
use axum::response::Response;
use serde_json::json;
use storage_api::{
    EmailPasswordSignUp, PasswordResetToken, RecipeId, StorageError, TxError, TxOptions, User,
    run_transaction,
};

/// Whether SuperTokens treats `email` as a placeholder that is verified on creation.
pub fn is_fake_email(email: &str) -> bool {
    email.ends_with("@stfakeemail.supertokens.com") || email.ends_with(".fakeemail.com")
}

async fn ok_user(
    core: &Core,
    req: &Req,
    u: &User,
    recipe_user_id: &str,
) -> Result<Response, ApiError> {
    crate::users::user_answer(core, req.app(), u, recipe_user_id, json!({})).await
}

/// `POST /<t>/recipe/signup`.
pub async fn sign_up(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let email = normalise_email(&b.str("email")?);
    let password = b.str("password")?;
    if password.is_empty() {
        return Err(ApiError::BadRequest(
            "Password cannot be an empty string".into(),
        ));
    }
    // Cheap duplicate check first, so a taken email costs no hash.
    let taken = core
        .storage
        .list_users_by_email(&req.tenant, &email)
        .await?
        .iter()
        .any(|u| {
            u.login_methods.iter().any(|m| {
                m.recipe_id == RecipeId::EmailPassword && m.email.as_deref() == Some(&email)
            })
        });
    if taken {
        return Ok(status("EMAIL_ALREADY_EXISTS_ERROR"));
    }
    let hash = passwords::hash(HashSettings::from(&core.config), password).await?;
    let user_id = uuid();
    let user = match core
        .storage
        .sign_up_email_password(&EmailPasswordSignUp {
            tenant: req.tenant.clone(),
            user_id: user_id.clone(),
            email: email.clone(),
            password_hash: hash,
            time_joined: now_ms(),
        })
        .await
    {
        Ok(u) => u,
        Err(StorageError::DuplicateEmail) => return Ok(status("EMAIL_ALREADY_EXISTS_ERROR")),
        Err(e) => return Err(e.into()),
    };
    let user = if is_fake_email(&email) {
        core.storage
            .set_email_verified(req.app(), &user_id, &email, true)
            .await?;
        core.storage
            .get_user(req.app(), &user_id)
            .await?
            .unwrap_or(user)
    } else {
        user
    };
    ok_user(core, req, &user, &user_id).await
}

/// `POST /<t>/recipe/signin`.
pub async fn sign_in(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let email = normalise_email(&b.str("email")?);
    let password = b.str("password")?;
    let users = core
        .storage
        .list_users_by_email(&req.tenant, &email)
        .await?;
    for u in &users {
        let Some(m) = u.login_methods.iter().find(|m| {
            m.recipe_id == RecipeId::EmailPassword
                && m.email.as_deref() == Some(&email)
                && m.tenant_ids.contains(&req.tenant.tenant)
        }) else {
            continue;
        };
        let Some(hash) = m.password_hash.clone() else {
            continue;
        };
        if passwords::verify(password, hash).await? {
            return ok_user(core, req, u, &m.recipe_user_id).await;
        }
        break;
    }
    Ok(status("WRONG_CREDENTIALS_ERROR"))
}

/// The email-password login method of `user_id` in the app, if any.
async fn ep_user(core: &Core, req: &Req, user_id: &str) -> Result<Option<User>, ApiError> {
    if !crate::util::is_uuid(user_id) {
        return Ok(None);
    }
    Ok(core
        .storage
        .get_user(req.app(), user_id)
        .await?
        .filter(|u| {
            u.login_methods
                .iter()
                .any(|m| m.recipe_id == RecipeId::EmailPassword && m.recipe_user_id == user_id)
        }))
}

/// `POST /<t>/recipe/user/password/reset/token`.
pub async fn reset_token(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let user_id = supertokens_id(core, req.app(), &b.str("userId")?).await?;
    let email = normalise_email(&b.str("email")?);
    if ep_user(core, req, &user_id).await?.is_none() {
        return Ok(status("UNKNOWN_USER_ID_ERROR"));
    }
    let token = random_token(64);
    let stored = PasswordResetToken {
        app: req.app().clone(),
        user_id,
        token: sha256_hex(&token),
        email: Some(email),
        token_expiry: now_ms() + core.config.password_reset_token_lifetime_ms,
    };
    match core.storage.add_password_reset_token(&stored).await {
        Ok(()) => Ok(ok_json(json!({"status": "OK", "token": token}))),
        Err(StorageError::UnknownUserId) => Ok(status("UNKNOWN_USER_ID_ERROR")),
        Err(e) => Err(e.into()),
    }
}

/// `POST /<t>/recipe/user/password/reset/token/consume`.
pub async fn consume_reset_token(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let hashed = sha256_hex(&b.str("token")?);
    let app = req.app().clone();
    let Some(found) = core.storage.get_password_reset_token(&app, &hashed).await? else {
        return Ok(status("RESET_PASSWORD_INVALID_TOKEN_ERROR"));
    };
    let now = now_ms();
    let valid = run_transaction(&*core.storage, &TxOptions::default(), |tx| {
        let app = app.clone();
        let found = found.clone();
        let hashed = hashed.clone();
        Box::pin(async move {
            let mine = tx
                .password_reset_tokens_for_update(&app, &found.user_id)
                .await?;
            let current = mine.iter().find(|t| t.token == hashed).cloned();
            tx.delete_password_reset_tokens_of_user(&app, &found.user_id)
                .await?;
            Ok::<_, TxError<ApiError>>(current.filter(|t| t.token_expiry >= now))
        })
    })
    .await?;
    match valid {
        Some(t) => {
            let email = match t.email {
                Some(e) => e,
                None => ep_user(core, req, &t.user_id)
                    .await?
                    .and_then(|u| u.login_methods.into_iter().find_map(|m| m.email))
                    .unwrap_or_default(),
            };
            let user_id = crate::users::shown_id(core, req.app(), &t.user_id).await?;
            Ok(ok_json(
                json!({"status": "OK", "userId": user_id, "email": email}),
            ))
        }
        None => Ok(status("RESET_PASSWORD_INVALID_TOKEN_ERROR")),
    }
}

/// `PUT /recipe/user` for `rid: emailpassword` (and a missing `rid`).
pub async fn update_user(core: &Core, req: &Req) -> Result<Response, ApiError> {
    req.require_public_tenant()?;
    let b = req.json()?;
    let user_id = supertokens_id(core, req.app(), &b.str("recipeUserId")?).await?;
    let email = b.opt_str("email")?.map(|e| normalise_email(&e));
    let password = b.opt_str("password")?;
    if email.is_none() && password.is_none() {
        return Err(ApiError::BadRequest(
            "You must provide either email or password".into(),
        ));
    }
    if ep_user(core, req, &user_id).await?.is_none() {
        return Ok(status("UNKNOWN_USER_ID_ERROR"));
    }
    let hash = match password {
        Some(p) => Some(passwords::hash(HashSettings::from(&core.config), p).await?),
        None => None,
    };
    if let Some(e) = &email {
        match core
            .storage
            .update_email_password_email(req.app(), &user_id, e)
            .await
        {
            Ok(()) => {}
            Err(StorageError::DuplicateEmail) => return Ok(status("EMAIL_ALREADY_EXISTS_ERROR")),
            Err(StorageError::UnknownUserId) => return Ok(status("UNKNOWN_USER_ID_ERROR")),
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &hash {
        match core
            .storage
            .update_password_hash(req.app(), &user_id, h)
            .await
        {
            Ok(()) => {}
            Err(StorageError::UnknownUserId) => return Ok(status("UNKNOWN_USER_ID_ERROR")),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(status("OK"))
}
