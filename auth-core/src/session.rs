//! Session endpoints (cdi.md b.5) with the legacy parent/child refresh chain and
//! theft detection of c.3, built on the storage's one-statement rotation.

use crate::core::Core;
use crate::error::ApiError;
use crate::request::{Req, ok_json, status};
use crate::tokens::{
    AccessClaims, RefreshPayload, check_protected, hash1, hash2_of_hash1, sign_access_token,
    verify_access_token,
};
use crate::util::{now_ms, uuid};
use axum::response::Response;
use serde_json::{Map, Value, json};
use storage_api::{
    NewSession, RefreshRotation, RotateOutcome, Session, TenantId, TenantIdentifier, UserScope,
};

/// The tenant a session handle belongs to (`<uuid>_<tenant>`; no suffix is public).
pub fn tenant_of_handle(req: &Req, handle: &str) -> Result<TenantIdentifier, ApiError> {
    let tenant = match handle.split_once('_') {
        Some((_, t)) => {
            TenantId::new(t).map_err(|_| ApiError::BadRequest("invalid session handle".into()))?
        }
        None => TenantId::public(),
    };
    Ok(TenantIdentifier {
        app: req.app().clone(),
        tenant,
    })
}

/// The user id in `sub` of the session's tokens: its primary user (cdi.md c.1).
async fn sub_of(core: &Core, s: &Session) -> Result<String, ApiError> {
    crate::users::session_user_id(core, &s.tenant.app, &s.user_id).await
}

fn session_json(s: &Session, sub: &str, jwt: &Value) -> Value {
    json!({
        "handle": s.handle,
        "userId": sub,
        "recipeUserId": s.user_id,
        "userDataInJWT": jwt,
        "tenantId": s.tenant.tenant.as_str(),
    })
}

fn token_json(token: &str, exp_s: i64, iat_s: i64) -> Value {
    json!({ "token": token, "expiry": exp_s * 1000, "createdTime": iat_s * 1000 })
}

fn unauthorised(message: &str) -> Response {
    ok_json(json!({ "status": "UNAUTHORISED", "message": message }))
}

fn try_refresh(message: &str) -> Response {
    ok_json(json!({ "status": "TRY_REFRESH_TOKEN", "message": message }))
}

fn as_map(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Mints an access token for `s` with the given hashes and anti-CSRF token.
#[allow(clippy::too_many_arguments)]
async fn mint_access(
    core: &Core,
    s: &Session,
    sub: &str,
    refresh_hash1: String,
    parent_hash1: Option<String>,
    anti_csrf: Option<String>,
    exp_s: Option<i64>,
    payload: Map<String, Value>,
) -> Result<(String, i64, i64), ApiError> {
    let iat = now_ms() / 1000;
    let exp = exp_s.unwrap_or(iat + core.config.access_token_validity_s);
    let claims = AccessClaims {
        sub: sub.to_owned(),
        rsub: s.user_id.clone(),
        tenant_id: s.tenant.tenant.as_str().to_owned(),
        session_handle: s.handle.clone(),
        refresh_token_hash1: refresh_hash1,
        parent_refresh_token_hash1: parent_hash1,
        anti_csrf_token: anti_csrf,
        exp,
        iat,
        custom: payload,
    };
    let (keys, _) = core.keys_of(&s.tenant.app);
    let token = sign_access_token(&keys, &claims, s.use_static_key).await?;
    Ok((token, exp, iat))
}

/// Mints a refresh token (child of `parent_hash1`) and its access token, and builds
/// the create/refresh answer.
async fn issue_tokens(
    core: &Core,
    s: &Session,
    parent_hash1: Option<String>,
    enable_anti_csrf: bool,
) -> Result<(Value, String), ApiError> {
    let anti_csrf = enable_anti_csrf.then(uuid);
    let (_, refresh_key) = core.keys_of(&s.tenant.app);
    let refresh = refresh_key
        .seal(&RefreshPayload {
            session_handle: s.handle.clone(),
            user_id: s.user_id.clone(),
            parent_hash1: parent_hash1.clone(),
            nonce: uuid(),
            anti_csrf: anti_csrf.clone(),
            tenant_id: s.tenant.tenant.as_str().to_owned(),
        })
        .await?;
    let h1 = hash1(&refresh);
    let sub = sub_of(core, s).await?;
    let (access, exp, iat) = mint_access(
        core,
        s,
        &sub,
        h1.clone(),
        parent_hash1,
        anti_csrf.clone(),
        None,
        as_map(&s.jwt_payload),
    )
    .await?;
    let mut body = json!({
        "status": "OK",
        "session": session_json(s, &sub, &s.jwt_payload),
        "accessToken": token_json(&access, exp, iat),
        "refreshToken": { "token": refresh, "expiry": s.expires_at, "createdTime": now_ms() },
    });
    if let Some(c) = anti_csrf {
        body["antiCsrfToken"] = json!(c);
    }
    Ok((body, h1))
}

/// `POST /<t>/recipe/session`.
pub async fn create(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let user_id = b.str("userId")?;
    let jwt = b.object("userDataInJWT")?;
    let data = b.object("userDataInDatabase")?;
    let enable_anti_csrf = b.bool("enableAntiCsrf")?;
    let use_static_key = !b.opt_bool("useDynamicSigningKey", true)?;
    check_protected(&jwt)?;
    let now = now_ms();
    let handle = if req.tenant.tenant.is_public() {
        uuid()
    } else {
        format!("{}_{}", uuid(), req.tenant.tenant.as_str())
    };
    let mut s = Session {
        tenant: req.tenant.clone(),
        handle,
        user_id,
        refresh_token_hash: String::new(),
        prev_refresh_token_hash: None,
        refresh_token_rotated_at: None,
        session_data: Value::Object(data),
        expires_at: now + core.config.refresh_validity_ms(),
        jwt_payload: Value::Object(jwt),
        created_at: now,
        use_static_key,
    };
    let (body, h1) = issue_tokens(core, &s, None, enable_anti_csrf).await?;
    s.refresh_token_hash = hash2_of_hash1(&h1);
    core.storage
        .create_session(&NewSession {
            tenant: s.tenant.clone(),
            handle: s.handle.clone(),
            user_id: s.user_id.clone(),
            refresh_token_hash: s.refresh_token_hash.clone(),
            session_data: s.session_data.clone(),
            expires_at: s.expires_at,
            jwt_payload: s.jwt_payload.clone(),
            created_at: s.created_at,
            use_static_key,
        })
        .await?;
    Ok(ok_json(body))
}

/// Promotes a child token: makes `new_hash` the session's current hash if `expected`
/// still is, in the storage's one-statement rotation, and extends the session. On a
/// lost race `s` is re-read. `None`: the session is gone; `Some(current)`: whether
/// `new_hash` is now current (by this call or a concurrent one).
async fn promote(
    core: &Core,
    tenant: &TenantIdentifier,
    s: &mut Session,
    expected: &str,
    new_hash: &str,
    now: i64,
) -> Result<Option<bool>, ApiError> {
    let new_expiry = now + core.config.refresh_validity_ms();
    let outcome = core
        .storage
        .rotate_refresh_token(
            tenant,
            &RefreshRotation {
                handle: &s.handle,
                expected,
                new_hash,
                new_expiry,
                now,
            },
        )
        .await?;
    match outcome {
        RotateOutcome::Rotated => {
            s.refresh_token_hash = new_hash.to_owned();
            s.expires_at = new_expiry;
            Ok(Some(true))
        }
        RotateOutcome::Mismatch => match core.storage.get_session(tenant, &s.handle).await? {
            Some(fresh) => {
                *s = fresh;
                Ok(Some(s.refresh_token_hash == new_hash))
            }
            None => Ok(None),
        },
        RotateOutcome::NotFound => Ok(None),
    }
}

/// `POST /recipe/session/verify`.
pub async fn verify(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let token = b.str("accessToken")?;
    let anti_csrf = b.opt_str("antiCsrfToken")?;
    let do_check = b.bool("doAntiCsrfCheck")?;
    let enable = b.bool("enableAntiCsrf")?;
    let check_db = b.opt_bool("checkDatabase", false)?;
    let (keys, _) = core.keys_of(req.app());
    let claims = match verify_access_token(&keys, &token, true).await? {
        Ok(c) => c,
        Err(e) => return Ok(try_refresh(e.0)),
    };
    if enable && do_check && (anti_csrf.is_none() || anti_csrf != claims.anti_csrf_token) {
        return Ok(try_refresh("anti-csrf check failed"));
    }
    let tenant = TenantIdentifier {
        app: req.app().clone(),
        tenant: TenantId::new(&claims.tenant_id)
            .map_err(|_| ApiError::BadRequest("invalid tenant in token".into()))?,
    };
    let session_of = |c: &AccessClaims| {
        json!({
            "handle": c.session_handle, "userId": c.sub, "recipeUserId": c.rsub,
            "userDataInJWT": c.custom, "tenantId": c.tenant_id,
        })
    };
    if claims.parent_refresh_token_hash1.is_none() && !check_db {
        return Ok(ok_json(
            json!({"status": "OK", "session": session_of(&claims)}),
        ));
    }
    let now = now_ms();
    let Some(mut s) = core
        .storage
        .get_session(&tenant, &claims.session_handle)
        .await?
    else {
        return Ok(unauthorised(
            "Either the session has ended or has been blacklisted",
        ));
    };
    if s.expires_at < now {
        return Ok(unauthorised(
            "Either the session has ended or has been blacklisted",
        ));
    }
    let own_hash2 = hash2_of_hash1(&claims.refresh_token_hash1);
    // As supertokens-core's getSession: a token without a parent gets a new token only
    // when the stored payload changed; one with a parent also when it is already current.
    let mut new_token = (claims.parent_refresh_token_hash1.is_some()
        && s.refresh_token_hash == own_hash2)
        || (check_db && s.jwt_payload != Value::Object(claims.custom.clone()));
    if let Some(parent) = &claims.parent_refresh_token_hash1 {
        let parent_hash2 = hash2_of_hash1(parent);
        if s.refresh_token_hash == parent_hash2 {
            match promote(core, &tenant, &mut s, &parent_hash2, &own_hash2, now).await? {
                Some(current) => new_token = current,
                None => {
                    return Ok(unauthorised(
                        "Either the session has ended or has been blacklisted",
                    ));
                }
            }
        }
    }
    if !new_token {
        return Ok(ok_json(
            json!({"status": "OK", "session": session_of(&claims)}),
        ));
    }
    let sub = sub_of(core, &s).await?;
    let (access, exp, iat) = mint_access(
        core,
        &s,
        &sub,
        claims.refresh_token_hash1.clone(),
        None,
        claims.anti_csrf_token.clone(),
        None,
        as_map(&s.jwt_payload),
    )
    .await?;
    Ok(ok_json(json!({
        "status": "OK",
        "session": session_json(&s, &sub, &s.jwt_payload),
        "accessToken": token_json(&access, exp, iat),
    })))
}

/// `POST /recipe/session/refresh`.
pub async fn refresh(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let token = b.str("refreshToken")?;
    let anti_csrf = b.opt_str("antiCsrfToken")?;
    let enable = b.bool("enableAntiCsrf")?;
    let use_static_key = !b.bool("useDynamicSigningKey")?;
    let (_, refresh_key) = core.keys_of(req.app());
    let Some(p) = refresh_key.open(&token).await? else {
        return Ok(unauthorised("Token parse failed"));
    };
    if enable && p.anti_csrf.is_some() && p.anti_csrf != anti_csrf {
        return Ok(unauthorised("Anti CSRF token missing, or not matching"));
    }
    let tenant = TenantIdentifier {
        app: req.app().clone(),
        tenant: TenantId::new(&p.tenant_id)
            .map_err(|_| ApiError::BadRequest("invalid tenant in token".into()))?,
    };
    let now = now_ms();
    let missing = || unauthorised("Session missing in db or has expired");
    let Some(mut s) = core.storage.get_session(&tenant, &p.session_handle).await? else {
        return Ok(missing());
    };
    if s.expires_at < now {
        return Ok(missing());
    }
    let h1 = hash1(&token);
    let h2 = hash2_of_hash1(&h1);
    if s.refresh_token_hash != h2 {
        let promotable = p
            .parent_hash1
            .as_deref()
            .is_some_and(|ph| hash2_of_hash1(ph) == s.refresh_token_hash);
        if promotable {
            let expected = s.refresh_token_hash.clone();
            match promote(core, &tenant, &mut s, &expected, &h2, now).await? {
                Some(true) => {}
                Some(false) => return theft(core, &s).await,
                None => return Ok(missing()),
            }
        } else {
            return theft(core, &s).await;
        }
    }
    // The new tokens are signed with the kind of key the SDK asks for now (the stored
    // flag, used when verify promotes, is not rewritten: the storage has no update
    // for it; the SDK sends the same flag for the life of its process).
    s.use_static_key = use_static_key;
    let (body, _) = issue_tokens(core, &s, Some(h1), enable).await?;
    Ok(ok_json(body))
}

async fn theft(core: &Core, s: &Session) -> Result<Response, ApiError> {
    tracing::warn!(tenant = %s.tenant, "refresh token theft detected");
    let sub = sub_of(core, s).await?;
    Ok(ok_json(json!({
        "status": "TOKEN_THEFT_DETECTED",
        "session": { "handle": s.handle, "userId": sub, "recipeUserId": s.user_id },
    })))
}

/// `GET /recipe/session`.
pub async fn get(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let handle = req.q_req("sessionHandle")?;
    let tenant = tenant_of_handle(req, handle)?;
    match core.storage.get_session(&tenant, handle).await? {
        Some(s) if s.expires_at >= now_ms() => Ok(ok_json(json!({
            "status": "OK",
            "sessionHandle": s.handle,
            "userId": sub_of(core, &s).await?,
            "recipeUserId": s.user_id,
            "userDataInDatabase": s.session_data,
            "expiry": s.expires_at,
            "userDataInJWT": s.jwt_payload,
            "timeCreated": s.created_at,
            "tenantId": s.tenant.tenant.as_str(),
        }))),
        _ => Ok(unauthorised("Session does not exist.")),
    }
}

async fn tenants_of_app(core: &Core, req: &Req) -> Result<Vec<TenantIdentifier>, ApiError> {
    Ok(core
        .storage
        .list_apps_and_tenants()
        .await?
        .into_iter()
        .filter(|a| &a.app == req.app())
        .flat_map(|a| {
            a.tenants.into_iter().map(move |t| TenantIdentifier {
                app: a.app.clone(),
                tenant: t,
            })
        })
        .collect())
}

/// The user ids whose sessions a "sessions of user" call covers: the user's own id
/// and, with `linked`, the (shown) recipe user ids of every login method of its group.
async fn session_owners(
    core: &Core,
    req: &Req,
    user_id: &str,
    linked: bool,
) -> Result<Vec<String>, ApiError> {
    let mut owners = vec![user_id.to_owned()];
    if linked {
        let st = crate::users::supertokens_id(core, req.app(), user_id).await?;
        if crate::util::is_uuid(&st)
            && let Some(u) = core.storage.get_user(req.app(), &st).await?
        {
            let ids = crate::users::Ids::of(core, req.app(), &[&u]).await?;
            for m in &u.login_methods {
                let shown = ids.shown(&m.recipe_user_id).to_owned();
                if !owners.contains(&shown) {
                    owners.push(shown);
                }
            }
        }
    }
    Ok(owners)
}

/// `GET /<t>/recipe/session/user`.
pub async fn handles_of_user(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let user_id = req.q_req("userId")?;
    let linked = req.q_bool("fetchSessionsForAllLinkedAccounts", true)?;
    let owners = session_owners(core, req, user_id, linked).await?;
    let all = req.q_bool("fetchAcrossAllTenants", true)?;
    let tenants = if all {
        req.require_public_tenant()?;
        tenants_of_app(core, req).await?
    } else {
        vec![req.tenant.clone()]
    };
    let now = now_ms();
    let mut handles = Vec::new();
    for t in tenants {
        for owner in &owners {
            handles.extend(core.storage.session_handles_of_user(&t, owner, now).await?);
        }
    }
    Ok(ok_json(json!({"status": "OK", "sessionHandles": handles})))
}

/// `POST /<t>/recipe/session/remove`.
pub async fn remove(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let handles = b.opt_str_array("sessionHandles")?;
    let user_id = b.opt_str("userId")?;
    let mut revoked = Vec::new();
    match (handles, user_id) {
        (Some(handles), None) => {
            if b.0.contains_key("revokeAcrossAllTenants")
                || b.0.contains_key("revokeSessionsForLinkedAccounts")
            {
                return Err(ApiError::BadRequest(
                    "Invalid JSON input: revokeAcrossAllTenants and revokeSessionsForLinkedAccounts go with userId".into(),
                ));
            }
            for h in handles {
                let t = tenant_of_handle(req, &h)?;
                if core
                    .storage
                    .delete_sessions(&t, std::slice::from_ref(&h))
                    .await?
                    > 0
                {
                    revoked.push(h);
                }
            }
        }
        (None, Some(user_id)) => {
            let all = b.opt_bool("revokeAcrossAllTenants", true)?;
            let linked = b.opt_bool("revokeSessionsForLinkedAccounts", true)?;
            let owners = session_owners(core, req, &user_id, linked).await?;
            let tenants = if all {
                req.require_public_tenant()?;
                tenants_of_app(core, req).await?
            } else {
                vec![req.tenant.clone()]
            };
            let scope = if all {
                UserScope::App(req.app().clone())
            } else {
                UserScope::Tenant(req.tenant.clone())
            };
            for owner in &owners {
                for t in &tenants {
                    let hs = core.storage.session_handles_of_user(t, owner, 0).await?;
                    if !hs.is_empty() {
                        core.storage.delete_sessions(t, &hs).await?;
                    }
                    revoked.extend(hs);
                }
                core.storage.delete_sessions_of_user(&scope, owner).await?;
            }
        }
        _ => {
            return Err(ApiError::BadRequest(
                "Invalid JSON input: exactly one of sessionHandles or userId".into(),
            ));
        }
    }
    Ok(ok_json(
        json!({"status": "OK", "sessionHandlesRevoked": revoked}),
    ))
}

/// Writes session data or the JWT payload of a session named in the body.
async fn update_stored(
    core: &Core,
    req: &Req,
    handle: &str,
    data: Option<&Value>,
    jwt: Option<&Value>,
) -> Result<Response, ApiError> {
    let t = tenant_of_handle(req, handle)?;
    if core.storage.update_session(&t, handle, data, jwt).await? == 0 {
        return Ok(unauthorised("Session does not exist."));
    }
    Ok(status("OK"))
}

/// `PUT /recipe/session/data`.
pub async fn update_data(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let handle = b.str("sessionHandle")?;
    let data = Value::Object(b.object("userDataInDatabase")?);
    update_stored(core, req, &handle, Some(&data), None).await
}

/// `PUT /recipe/jwt/data`.
pub async fn update_jwt_data(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let handle = b.str("sessionHandle")?;
    let jwt = b.object("userDataInJWT")?;
    check_protected(&jwt)?;
    update_stored(core, req, &handle, None, Some(&Value::Object(jwt))).await
}

/// `POST /recipe/session/regenerate`.
pub async fn regenerate(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let token = b.str("accessToken")?;
    let new_payload = b.opt_object("userDataInJWT")?;
    let (keys, _) = core.keys_of(req.app());
    let claims = match verify_access_token(&keys, &token, false).await? {
        Ok(c) => c,
        Err(e) => return Ok(unauthorised(e.0)),
    };
    let tenant = tenant_of_handle(req, &claims.session_handle)?;
    let Some(mut s) = core
        .storage
        .get_session(&tenant, &claims.session_handle)
        .await?
    else {
        return Ok(unauthorised("Session does not exist."));
    };
    if let Some(p) = new_payload {
        check_protected(&p)?;
        let v = Value::Object(p);
        if core
            .storage
            .update_session(&tenant, &s.handle, None, Some(&v))
            .await?
            == 0
        {
            return Ok(unauthorised("Session does not exist."));
        }
        s.jwt_payload = v;
    }
    let sub = sub_of(core, &s).await?;
    if claims.exp * 1000 < now_ms() {
        return Ok(ok_json(
            json!({"status": "OK", "session": session_json(&s, &sub, &s.jwt_payload)}),
        ));
    }
    let (access, exp, iat) = mint_access(
        core,
        &s,
        &sub,
        claims.refresh_token_hash1.clone(),
        claims.parent_refresh_token_hash1.clone(),
        claims.anti_csrf_token.clone(),
        Some(claims.exp),
        as_map(&s.jwt_payload),
    )
    .await?;
    Ok(ok_json(json!({
        "status": "OK",
        "session": session_json(&s, &sub, &s.jwt_payload),
        "accessToken": token_json(&access, exp, iat),
    })))
}
