//! Multitenancy endpoints (cdi.md b.8 #37-#42): tenant create/update/get/list/remove
//! (v2 shapes) and user association.

use crate::core::Core;
use crate::error::ApiError;
use crate::request::{Req, ok_json, status};
use axum::response::Response;
use serde_json::{Map, Value, json};
use storage_api::{
    StorageError, TenantConfig, TenantConfigKey, TenantId, TenantIdentifier, ThirdPartyProvider,
};

/// Validates a tenant id as the Java core does (trimmed, lower-cased).
pub fn normalise_tenant_id(raw: &str) -> Result<TenantId, ApiError> {
    let t = raw.trim().to_lowercase();
    let valid = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !t.starts_with("appid-")
        && !["recipe", "config", "users", "hello"].contains(&t.as_str());
    if !valid {
        return Err(ApiError::BadRequest("Invalid tenantId".into()));
    }
    TenantId::new(&t).map_err(|_| ApiError::BadRequest("Invalid tenantId".into()))
}

fn provider_json(p: &ThirdPartyProvider) -> Value {
    let mut v = json!({ "thirdPartyId": p.third_party_id });
    let mut put = |k: &str, x: Option<Value>| {
        if let Some(x) = x {
            v[k] = x;
        }
    };
    put("name", p.name.clone().map(Value::from));
    put(
        "authorizationEndpoint",
        p.authorization_endpoint.clone().map(Value::from),
    );
    put(
        "authorizationEndpointQueryParams",
        p.authorization_endpoint_query_params.clone(),
    );
    put("tokenEndpoint", p.token_endpoint.clone().map(Value::from));
    put(
        "tokenEndpointBodyParams",
        p.token_endpoint_body_params.clone(),
    );
    put(
        "userInfoEndpoint",
        p.user_info_endpoint.clone().map(Value::from),
    );
    put(
        "userInfoEndpointQueryParams",
        p.user_info_endpoint_query_params.clone(),
    );
    put(
        "userInfoEndpointHeaders",
        p.user_info_endpoint_headers.clone(),
    );
    put("jwksURI", p.jwks_uri.clone().map(Value::from));
    put(
        "oidcDiscoveryEndpoint",
        p.oidc_discovery_endpoint.clone().map(Value::from),
    );
    put("requireEmail", p.require_email.map(Value::from));
    let clients: Vec<Value> = p
        .clients
        .iter()
        .map(|c| {
            let mut cj = json!({
                "clientType": c.client_type,
                "clientId": c.client_id,
                "forcePKCE": c.force_pkce,
            });
            if let Some(s) = &c.client_secret {
                cj["clientSecret"] = json!(s.expose());
            }
            if let Some(s) = &c.scope {
                cj["scope"] = json!(s);
            }
            if let Some(a) = &c.additional_config {
                cj["additionalConfig"] = a.clone();
            }
            cj
        })
        .collect();
    v["clients"] = json!(clients);
    v
}

/// The v2 JSON of a tenant config (without `status`).
pub fn tenant_json(c: &TenantConfig) -> Value {
    let mut v = json!({
        "tenantId": c.key.tenant.tenant.as_str(),
        "thirdParty": { "providers": c.providers.iter().map(provider_json).collect::<Vec<_>>() },
        "coreConfig": c.core_config,
    });
    if let Some(f) = &c.first_factors {
        v["firstFactors"] = json!(f);
    }
    if !c.required_secondary_factors.is_empty() {
        v["requiredSecondaryFactors"] = json!(c.required_secondary_factors);
    }
    v
}

fn factors(b: &Map<String, Value>, name: &str) -> Result<Option<Option<Vec<String>>>, ApiError> {
    match b.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Array(a)) => {
            let mut out: Vec<String> = Vec::new();
            for x in a {
                let s = x.as_str().ok_or_else(|| ApiError::field(name))?;
                if out.iter().any(|o| o == s) {
                    return Err(ApiError::BadRequest(format!(
                        "{name} input should not contain duplicate values"
                    )));
                }
                out.push(s.to_owned());
            }
            Ok(Some(Some(out)))
        }
        Some(_) => Err(ApiError::field(name)),
    }
}

/// `PUT /<t>/recipe/multitenancy/tenant/v2`.
pub async fn create_or_update(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    for legacy in [
        "emailPasswordEnabled",
        "thirdPartyEnabled",
        "passwordlessEnabled",
    ] {
        if b.0.contains_key(legacy) {
            return Err(ApiError::BadRequest(format!(
                "Invalid config: {legacy} is not allowed in v2"
            )));
        }
    }
    let tenant_id = normalise_tenant_id(&b.str("tenantId")?)?;
    if !req.tenant.tenant.is_public() && req.tenant.tenant != tenant_id {
        return Err(ApiError::Forbidden(
            "You must call this API from the same tenantId or public tenantId".into(),
        ));
    }
    let first = factors(&b.0, "firstFactors")?;
    let secondary = factors(&b.0, "requiredSecondaryFactors")?;
    let core_config = match b.0.get("coreConfig") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(ApiError::field("coreConfig")),
    };
    let tenant = TenantIdentifier {
        app: req.app().clone(),
        tenant: tenant_id,
    };
    let key = TenantConfigKey::new(tenant.clone());
    let existing = core.storage.get_tenant_config(&key).await?;
    let created_new = existing.is_none();
    let mut config = match existing {
        Some(c) => c,
        None => {
            let mut c = TenantConfig::new(key.clone());
            if !tenant.tenant.is_public() {
                c.first_factors = Some(Vec::new());
            }
            c
        }
    };
    if let Some(f) = first {
        config.first_factors = f;
    }
    if let Some(s) = secondary {
        config.required_secondary_factors = s.unwrap_or_default();
    }
    if let Some(update) = core_config {
        let mut merged = config.core_config.as_object().cloned().unwrap_or_default();
        for (k, v) in update {
            if v.is_null() {
                merged.remove(&k);
            } else {
                merged.insert(k, v);
            }
        }
        config.core_config = Value::Object(merged);
    }
    if created_new {
        match core
            .storage
            .add_tenant(&tenant, crate::util::now_ms())
            .await
        {
            Ok(()) | Err(StorageError::DuplicateTenant) => {}
            Err(e) => return Err(e.into()),
        }
        match core.storage.create_tenant_config(&config).await {
            Ok(()) => {}
            Err(StorageError::DuplicateTenant) => {
                core.storage.overwrite_tenant_config(&config).await?
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        core.storage.overwrite_tenant_config(&config).await?;
    }
    Ok(ok_json(json!({"status": "OK", "createdNew": created_new})))
}

/// `GET /<t>/recipe/multitenancy/tenant/v2`.
pub async fn get(core: &Core, req: &Req) -> Result<Response, ApiError> {
    match core
        .storage
        .get_tenant_config(&TenantConfigKey::new(req.tenant.clone()))
        .await?
    {
        Some(c) => {
            let mut v = tenant_json(&c);
            v["status"] = json!("OK");
            Ok(ok_json(v))
        }
        None => Ok(status("TENANT_NOT_FOUND_ERROR")),
    }
}

/// `GET /recipe/multitenancy/tenant/list/v2`.
pub async fn list(core: &Core, req: &Req) -> Result<Response, ApiError> {
    req.require_public_tenant()?;
    let tenants: Vec<Value> = core
        .storage
        .list_tenant_configs()
        .await?
        .iter()
        .filter(|c| &c.key.tenant.app == req.app() && c.key.connection_uri_domain.is_empty())
        .map(tenant_json)
        .collect();
    Ok(ok_json(json!({"status": "OK", "tenants": tenants})))
}

/// `POST /recipe/multitenancy/tenant/remove`.
pub async fn remove(core: &Core, req: &Req) -> Result<Response, ApiError> {
    req.require_public_tenant()?;
    let b = req.json()?;
    let tenant_id = normalise_tenant_id(&b.str("tenantId")?)?;
    if tenant_id.is_public() {
        return Err(ApiError::Forbidden(
            "Cannot delete public tenant, use remove app API instead".into(),
        ));
    }
    let tenant = TenantIdentifier {
        app: req.app().clone(),
        tenant: tenant_id,
    };
    let had_config = core
        .storage
        .delete_tenant_config(&TenantConfigKey::new(tenant.clone()))
        .await?;
    let had_tenant = core.storage.delete_tenant(&tenant).await?;
    Ok(ok_json(
        json!({"status": "OK", "didExist": had_config || had_tenant}),
    ))
}

/// `POST /<t>/recipe/multitenancy/tenant/user`.
pub async fn associate(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let user_id = crate::users::supertokens_id(core, req.app(), &b.str("recipeUserId")?).await?;
    if !crate::util::is_uuid(&user_id) {
        return Ok(status("UNKNOWN_USER_ID_ERROR"));
    }
    match core.storage.add_user_to_tenant(&req.tenant, &user_id).await {
        Ok(added) => Ok(ok_json(
            json!({"status": "OK", "wasAlreadyAssociated": !added}),
        )),
        Err(StorageError::UnknownUserId) => Ok(status("UNKNOWN_USER_ID_ERROR")),
        Err(StorageError::DuplicateEmail) => Ok(status("EMAIL_ALREADY_EXISTS_ERROR")),
        Err(StorageError::DuplicatePhoneNumber) => Ok(status("PHONE_NUMBER_ALREADY_EXISTS_ERROR")),
        Err(StorageError::DuplicateThirdPartyUser) => {
            Ok(status("THIRD_PARTY_USER_ALREADY_EXISTS_ERROR"))
        }
        // A linked user whose group would share an identity with another primary
        // user of the tenant.
        Err(StorageError::AccountInfoAlreadyUsedByAnotherPrimaryUser { .. }) => {
            Ok(ok_json(json!({
                "status": "ASSOCIATION_NOT_ALLOWED_ERROR",
                "reason": "This user's account information is already used by another primary user of this tenant",
            })))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /<t>/recipe/multitenancy/tenant/user/remove`.
pub async fn disassociate(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let b = req.json()?;
    let user_id = crate::users::supertokens_id(core, req.app(), &b.str("recipeUserId")?).await?;
    if !crate::util::is_uuid(&user_id) {
        return Ok(status("UNKNOWN_USER_ID_ERROR"));
    }
    if core.storage.get_user(req.app(), &user_id).await?.is_none() {
        return Ok(status("UNKNOWN_USER_ID_ERROR"));
    }
    let was = core
        .storage
        .remove_user_from_tenant(&req.tenant, &user_id)
        .await?;
    Ok(ok_json(json!({"status": "OK", "wasAssociated": was})))
}
