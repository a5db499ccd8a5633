//! Passwordless endpoints (cdi.md b.6 #29-#35), with the code formats and the attempt
//! accounting of the Java core.

use crate::core::Core;
use crate::error::ApiError;
use crate::request::{Body, Req, ok_json, status};
use crate::util::{
    b64, b64_decode, b64url, b64url_decode, normalise_email, now_ms, random_bytes, uuid,
};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use storage_api::{
    Code, Device, NewDevice, PasswordlessSignUp, RecipeId, StorageError, TenantIdentifier, TxError,
    TxOptions, User, run_transaction,
};

/// The device-id hash as stored: base64url (padded) of sha256(device id bytes).
fn device_id_hash(device_id: &str) -> Option<String> {
    b64_decode(device_id).map(|raw| URL_SAFE.encode(Sha256::digest(raw)))
}

/// A `preAuthSessionId` in the stored (padded) form.
fn stored_hash(pre_auth_session_id: &str) -> String {
    let t = pre_auth_session_id.trim_end_matches('=');
    let pad = (4 - t.len() % 4) % 4;
    format!("{t}{}", "=".repeat(pad))
}

/// The `preAuthSessionId` shown to the SDK (no padding).
fn pre_auth_id(hash: &str) -> String {
    hash.trim_end_matches('=').to_owned()
}

fn link_code(device_id: &str, salt: &str, user_input_code: &str) -> Option<String> {
    let mut key = b64_decode(device_id)?;
    key.extend(b64_decode(salt)?);
    let mut m = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    m.update(user_input_code.as_bytes());
    Some(b64url(&m.finalize().into_bytes()))
}

fn link_code_hash(link_code: &str) -> Option<String> {
    b64url_decode(link_code).map(|raw| URL_SAFE.encode(Sha256::digest(raw)))
}

fn random_user_input_code() -> String {
    random_bytes(6)
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect()
}

fn one_of(b: &Body, names: &[&str]) -> Result<(usize, String), ApiError> {
    let mut found = None;
    for (i, n) in names.iter().enumerate() {
        if let Some(v) = b.opt_str(n)? {
            if found.is_some() {
                return Err(ApiError::BadRequest(format!(
                    "Please provide exactly one of {}",
                    names.join(", ")
                )));
            }
            found = Some((i, v));
        }
    }
    found.ok_or_else(|| {
        ApiError::BadRequest(format!(
            "Please provide exactly one of {}",
            names.join(", ")
        ))
    })
}

/// `POST /<t>/recipe/signinup/code`.
pub async fn create_code(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let (which, value) = one_of(&b, &["email", "phoneNumber", "deviceId"])?;
    let user_input_code = match b.opt_str("userInputCode")? {
        Some(c) if c.is_empty() => {
            return Err(ApiError::BadRequest("userInputCode cannot be empty".into()));
        }
        Some(c) => c,
        None => random_user_input_code(),
    };
    let now = now_ms();
    let code_id = uuid();
    let (device_id, hash, salt) = if which == 2 {
        let hash = device_id_hash(&value).ok_or_else(|| ApiError::field("deviceId"))?;
        let Some(device) = core.storage.get_device(&req.tenant, &hash).await? else {
            return Ok(status("RESTART_FLOW_ERROR"));
        };
        (value.clone(), hash, device.link_code_salt)
    } else {
        let device_id = b64(&random_bytes(32));
        let hash = device_id_hash(&device_id).unwrap_or_default();
        (device_id, hash, b64(&random_bytes(32)))
    };
    let link = link_code(&device_id, &salt, &user_input_code)
        .ok_or_else(|| ApiError::Internal("link code".into()))?;
    let code = Code {
        code_id: code_id.clone(),
        device_id_hash: hash.clone(),
        link_code_hash: link_code_hash(&link).unwrap_or_default(),
        created_at: now,
    };
    let result = if which == 2 {
        core.storage.create_code(&req.tenant, &code).await
    } else {
        let (email, phone_number) = if which == 0 {
            (Some(normalise_email(&value)), None)
        } else {
            (None, Some(value.trim().to_owned()))
        };
        core.storage
            .create_device_with_code(&NewDevice {
                tenant: req.tenant.clone(),
                device_id_hash: hash.clone(),
                email,
                phone_number,
                link_code_salt: salt,
                code,
            })
            .await
    };
    match result {
        Ok(()) => {}
        Err(StorageError::DuplicateLinkCodeHash) => {
            return Ok(status("USER_INPUT_CODE_ALREADY_USED_ERROR"));
        }
        Err(StorageError::UnknownDeviceIdHash) => return Ok(status("RESTART_FLOW_ERROR")),
        Err(e) => return Err(e.into()),
    }
    Ok(ok_json(json!({
        "status": "OK",
        "preAuthSessionId": pre_auth_id(&hash),
        "codeId": code_id,
        "deviceId": device_id,
        "userInputCode": user_input_code,
        "linkCode": link,
        "timeCreated": now,
        "codeLifetime": core.config.passwordless_code_lifetime_ms,
    })))
}

enum Checked {
    Ok(Device),
    Restart,
    Failed { expired: bool, count: u32 },
}

fn device_json(d: &Device) -> Value {
    let mut v = json!({
        "preAuthSessionId": pre_auth_id(&d.device_id_hash),
        "failedCodeInputAttemptCount": d.failed_attempts,
    });
    if let Some(e) = &d.email {
        v["email"] = json!(e);
    }
    if let Some(p) = &d.phone_number {
        v["phoneNumber"] = json!(p);
    }
    v
}

/// Checks a code; with `consume`, deletes every device of the same email or phone on
/// success.
async fn check(
    core: &Core,
    req: &Req,
    consume: bool,
) -> Result<Result<Device, Response>, ApiError> {
    let b = req.json()?;
    let pre_auth = stored_hash(&b.str("preAuthSessionId")?);
    let link = b.opt_str("linkCode")?;
    let device_id = b.opt_str("deviceId")?;
    let input = b.opt_str("userInputCode")?;
    let mismatch = || ApiError::BadRequest("preAuthSessionId and deviceId doesn't match".into());
    let (hash, lch, user_input_path) = match (link, device_id, input) {
        (Some(link), None, None) => {
            let Some(lch) = link_code_hash(&link) else {
                return Ok(Err(status("RESTART_FLOW_ERROR")));
            };
            let code = core
                .storage
                .code_by_link_code_hash(&req.tenant, &lch)
                .await?;
            let Some(code) = code
                .filter(|c| c.created_at >= now_ms() - core.config.passwordless_code_lifetime_ms)
            else {
                return Ok(Err(status("RESTART_FLOW_ERROR")));
            };
            if code.device_id_hash != pre_auth {
                return Err(mismatch());
            }
            (code.device_id_hash, lch, false)
        }
        (None, Some(device_id), Some(input)) => {
            let hash = device_id_hash(&device_id).ok_or_else(|| ApiError::field("deviceId"))?;
            if hash != pre_auth {
                return Err(mismatch());
            }
            let Some(device) = core.storage.get_device(&req.tenant, &hash).await? else {
                return Ok(Err(status("RESTART_FLOW_ERROR")));
            };
            let lch = link_code(&device_id, &device.link_code_salt, &input)
                .and_then(|l| link_code_hash(&l))
                .unwrap_or_default();
            (hash, lch, true)
        }
        _ => {
            return Err(ApiError::BadRequest(
                "Please provide exactly one of linkCode or deviceId+userInputCode".into(),
            ));
        }
    };
    let max = core.config.passwordless_max_code_input_attempts;
    let lifetime = core.config.passwordless_code_lifetime_ms;
    let tenant = req.tenant.clone();
    let checked = run_transaction(&*core.storage, &TxOptions::default(), |tx| {
        let (tenant, hash, lch) = (tenant.clone(), hash.clone(), lch.clone());
        Box::pin(async move {
            let Some(device) = tx.device_for_update(&tenant, &hash).await? else {
                return Ok::<_, TxError<ApiError>>(Checked::Restart);
            };
            if device.failed_attempts >= max {
                tx.delete_device(&tenant, &hash).await?;
                return Ok(Checked::Restart);
            }
            let code = tx
                .code_by_link_code_hash(&tenant, &lch)
                .await?
                .filter(|c| c.device_id_hash == hash);
            let now = now_ms();
            let expired = code.as_ref().is_some_and(|c| c.created_at < now - lifetime);
            if code.is_none() || expired {
                if !user_input_path {
                    return Ok(Checked::Restart);
                }
                let count = device.failed_attempts + 1;
                if count >= max {
                    tx.delete_device(&tenant, &hash).await?;
                    return Ok(Checked::Restart);
                }
                tx.increment_failed_attempts(&tenant, &hash).await?;
                return Ok(Checked::Failed { expired, count });
            }
            if consume {
                if let Some(e) = &device.email {
                    tx.delete_devices_by_email(&tenant, e).await?;
                } else if let Some(p) = &device.phone_number {
                    tx.delete_devices_by_phone(&tenant, p).await?;
                }
                tx.delete_device(&tenant, &hash).await?;
            }
            Ok(Checked::Ok(device))
        })
    })
    .await?;
    Ok(match checked {
        Checked::Ok(d) => Ok(d),
        Checked::Restart => Err(status("RESTART_FLOW_ERROR")),
        Checked::Failed { expired, count } => Err(ok_json(json!({
            "status": if expired { "EXPIRED_USER_INPUT_CODE_ERROR" } else { "INCORRECT_USER_INPUT_CODE_ERROR" },
            "failedCodeInputAttemptCount": count,
            "maximumCodeInputAttempts": max,
        }))),
    })
}

/// `POST /<t>/recipe/signinup/code/check`.
pub async fn check_code(core: &Core, req: &Req) -> Result<Response, ApiError> {
    Ok(match check(core, req, false).await? {
        Ok(d) => ok_json(json!({"status": "OK", "consumedDevice": device_json(&d)})),
        Err(r) => r,
    })
}

async fn find_user(
    core: &Core,
    tenant: &TenantIdentifier,
    d: &Device,
) -> Result<Option<User>, ApiError> {
    let users = match (&d.email, &d.phone_number) {
        (Some(e), _) => core.storage.list_users_by_email(tenant, e).await?,
        (None, Some(p)) => core.storage.list_users_by_phone(tenant, p).await?,
        (None, None) => Vec::new(),
    };
    Ok(users.into_iter().find(|u| {
        u.login_methods.iter().any(|m| {
            m.recipe_id == RecipeId::Passwordless
                && ((d.email.is_some() && m.email == d.email)
                    || (d.email.is_none() && m.phone_number == d.phone_number))
        })
    }))
}

/// `POST /<t>/recipe/signinup/code/consume`.
pub async fn consume_code(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let device = match check(core, req, true).await? {
        Ok(d) => d,
        Err(r) => return Ok(r),
    };
    let mut created = false;
    let user = match find_user(core, &req.tenant, &device).await? {
        Some(u) => u,
        None => {
            let input = PasswordlessSignUp {
                tenant: req.tenant.clone(),
                user_id: uuid(),
                email: device.email.clone(),
                phone_number: device.phone_number.clone(),
                time_joined: now_ms(),
            };
            match core.storage.create_passwordless_user(&input).await {
                Ok(u) => {
                    created = true;
                    u
                }
                Err(StorageError::DuplicateEmail | StorageError::DuplicatePhoneNumber) => {
                    find_user(core, &req.tenant, &device)
                        .await?
                        .ok_or_else(|| ApiError::Internal("passwordless user vanished".into()))?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let recipe_user_id = user
        .login_methods
        .iter()
        .find(|m| m.recipe_id == RecipeId::Passwordless)
        .map(|m| m.recipe_user_id.clone())
        .unwrap_or_else(|| user.id.clone());
    let user = match &device.email {
        Some(e) => {
            core.storage
                .set_email_verified(req.app(), &recipe_user_id, e, true)
                .await?;
            core.storage
                .get_user(req.app(), &user.id)
                .await?
                .unwrap_or(user)
        }
        None => user,
    };
    let extra = json!({"createdNewUser": created, "consumedDevice": device_json(&device)});
    crate::users::user_answer(core, req.app(), &user, &recipe_user_id, extra).await
}

/// `GET /<t>/recipe/signinup/codes`.
pub async fn list_codes(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let given: Vec<&str> = ["email", "phoneNumber", "deviceId", "preAuthSessionId"]
        .into_iter()
        .filter(|k| req.q(k).is_some())
        .collect();
    if given.len() != 1 {
        return Err(ApiError::BadRequest(
            "Please provide exactly one of email, phoneNumber, deviceId or preAuthSessionId".into(),
        ));
    }
    let v = req.q(given[0]).unwrap_or_default();
    let devices = match given[0] {
        "email" => {
            core.storage
                .devices_by_email(&req.tenant, &normalise_email(v))
                .await?
        }
        "phoneNumber" => core.storage.devices_by_phone(&req.tenant, v.trim()).await?,
        "deviceId" => match device_id_hash(v) {
            Some(h) => core
                .storage
                .get_device(&req.tenant, &h)
                .await?
                .into_iter()
                .collect(),
            None => Vec::new(),
        },
        _ => core
            .storage
            .get_device(&req.tenant, &stored_hash(v))
            .await?
            .into_iter()
            .collect(),
    };
    let mut out = Vec::new();
    for d in &devices {
        let codes = core
            .storage
            .codes_of_device(&req.tenant, &d.device_id_hash)
            .await?;
        let mut dj = device_json(d);
        dj["codes"] = json!(
            codes
                .iter()
                .map(|c| json!({
                    "codeId": c.code_id,
                    "timeCreated": c.created_at,
                    "codeLifetime": core.config.passwordless_code_lifetime_ms,
                }))
                .collect::<Vec<_>>()
        );
        out.push(dj);
    }
    Ok(ok_json(json!({"status": "OK", "devices": out})))
}

/// `POST /<t>/recipe/signinup/code/remove`.
pub async fn remove_code(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let (which, value) = one_of(&b, &["codeId", "preAuthSessionId"])?;
    let tenant = req.tenant.clone();
    let hash = if which == 0 {
        match core.storage.get_code(&tenant, &value).await? {
            Some(c) => c.device_id_hash,
            None => return Ok(status("OK")),
        }
    } else {
        stored_hash(&value)
    };
    run_transaction(&*core.storage, &TxOptions::default(), |tx| {
        let (tenant, hash, value) = (tenant.clone(), hash.clone(), value.clone());
        Box::pin(async move {
            if tx.device_for_update(&tenant, &hash).await?.is_none() {
                return Ok::<_, TxError<ApiError>>(());
            }
            if which == 0 {
                tx.delete_code(&tenant, &value).await?;
                if tx.codes_of_device(&tenant, &hash).await?.is_empty() {
                    tx.delete_device(&tenant, &hash).await?;
                }
            } else {
                tx.delete_device(&tenant, &hash).await?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(status("OK"))
}

/// `POST /<t>/recipe/signinup/codes/remove`.
pub async fn remove_codes(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let (which, value) = one_of(&b, &["email", "phoneNumber"])?;
    let tenant = req.tenant.clone();
    run_transaction(&*core.storage, &TxOptions::default(), |tx| {
        let (tenant, value) = (tenant.clone(), value.clone());
        Box::pin(async move {
            if which == 0 {
                tx.delete_devices_by_email(&tenant, &normalise_email(&value))
                    .await?;
            } else {
                tx.delete_devices_by_phone(&tenant, value.trim()).await?;
            }
            Ok::<_, TxError<ApiError>>(())
        })
    })
    .await?;
    Ok(status("OK"))
}

/// `PUT /recipe/user` with `rid: passwordless`: absent keeps, `null` clears.
pub async fn update_user(core: &Core, req: &Req) -> Result<Response, ApiError> {
    req.require_public_tenant()?;
    let b = req.json()?;
    let user_id = crate::users::supertokens_id(core, req.app(), &b.str("recipeUserId")?).await?;
    let field = |name: &str| -> Result<Option<Option<String>>, ApiError> {
        match b.0.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(_) => Err(ApiError::field(name)),
        }
    };
    let email = field("email")?.map(|e| e.map(|e| normalise_email(&e)));
    let phone = field("phoneNumber")?.map(|p| p.map(|p| p.trim().to_owned()));
    let user = if crate::util::is_uuid(&user_id) {
        core.storage.get_user(req.app(), &user_id).await?
    } else {
        None
    };
    let Some(lm) = user.and_then(|u| {
        u.login_methods
            .into_iter()
            .find(|m| m.recipe_id == RecipeId::Passwordless && m.recipe_user_id == user_id)
    }) else {
        return Ok(status("UNKNOWN_USER_ID_ERROR"));
    };
    let new_email = email.unwrap_or(lm.email);
    let new_phone = phone.unwrap_or(lm.phone_number);
    if new_email.is_none() && new_phone.is_none() {
        return Err(ApiError::BadRequest(
            "You cannot clear both email and phone number of a user".into(),
        ));
    }
    match core
        .storage
        .update_passwordless_contact(
            req.app(),
            &user_id,
            new_email.as_deref(),
            new_phone.as_deref(),
        )
        .await
    {
        Ok(()) => Ok(status("OK")),
        Err(StorageError::DuplicateEmail) => Ok(status("EMAIL_ALREADY_EXISTS_ERROR")),
        Err(StorageError::DuplicatePhoneNumber) => Ok(status("PHONE_NUMBER_ALREADY_EXISTS_ERROR")),
        Err(StorageError::UnknownUserId) => Ok(status("UNKNOWN_USER_ID_ERROR")),
        Err(e) => Err(e.into()),
    }
}
