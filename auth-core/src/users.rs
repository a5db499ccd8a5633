//! The user JSON of CDI 5.3+ and the user endpoints (cdi.md b.2 #5-#9).

use crate::core::Core;
use crate::error::ApiError;
use crate::request::{Req, ok_json, status};
use crate::util::normalise_email;
use axum::response::Response;
use serde_json::{Value, json};
use storage_api::{
    ListUsers, PageToken, RecipeId, ThirdPartyInfo, TimeJoinedOrder, User, UserScope,
};

/// The user JSON the SDK reads (`User` in cdi.md b.1).
pub fn user_json(u: &User) -> Value {
    let mut emails: Vec<&str> = Vec::new();
    let mut phones: Vec<&str> = Vec::new();
    let mut tps: Vec<Value> = Vec::new();
    let mut methods = Vec::new();
    for m in &u.login_methods {
        let mut lm = json!({
            "tenantIds": m.tenant_ids.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "recipeUserId": m.recipe_user_id,
            "verified": m.verified,
            "timeJoined": m.time_joined,
            "recipeId": m.recipe_id.as_str(),
        });
        if let Some(e) = &m.email {
            lm["email"] = json!(e);
            if !emails.contains(&e.as_str()) {
                emails.push(e);
            }
        }
        if let Some(p) = &m.phone_number {
            lm["phoneNumber"] = json!(p);
            if !phones.contains(&p.as_str()) {
                phones.push(p);
            }
        }
        if let Some(tp) = &m.third_party {
            let v = json!({"id": tp.third_party_id, "userId": tp.third_party_user_id});
            lm["thirdParty"] = v.clone();
            if !tps.contains(&v) {
                tps.push(v);
            }
        }
        methods.push(lm);
    }
    json!({
        "id": u.id,
        "isPrimaryUser": u.is_primary,
        "tenantIds": u.tenant_ids.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "timeJoined": u.time_joined,
        "emails": emails,
        "phoneNumbers": phones,
        "thirdParty": tps,
        "webauthn": {"credentialIds": []},
        "loginMethods": methods,
    })
}

/// `GET /user/id`.
pub async fn get_user(core: &Core, req: &Req) -> Result<Response, ApiError> {
    req.require_public_tenant()?;
    let id = req.q_req("userId")?;
    if !crate::util::is_uuid(id) {
        return Ok(status("UNKNOWN_USER_ID_ERROR"));
    }
    match core.storage.get_user(req.app(), id).await? {
        Some(u) => Ok(ok_json(json!({"status": "OK", "user": user_json(&u)}))),
        None => Ok(status("UNKNOWN_USER_ID_ERROR")),
    }
}

/// `POST /user/remove`.
pub async fn remove_user(core: &Core, req: &Req) -> Result<Response, ApiError> {
    req.require_public_tenant()?;
    let b = req.json()?;
    let id = b.str("userId")?;
    b.opt_bool("removeAllLinkedAccounts", true)?;
    if !crate::util::is_uuid(&id) {
        return Ok(status("OK"));
    }
    core.storage.delete_user(req.app(), &id).await?;
    Ok(status("OK"))
}

fn recipes(req: &Req) -> Result<Vec<RecipeId>, ApiError> {
    match req.q("includeRecipeIds") {
        None => Ok(Vec::new()),
        Some(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                RecipeId::parse(s)
                    .ok_or_else(|| ApiError::BadRequest(format!("Unknown recipe ID: {s}")))
            })
            .collect(),
    }
}

/// `GET /<t>/users`.
pub async fn list_users(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let limit = match req.q("limit") {
        None => 100,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| ApiError::BadRequest("max limit allowed is 500".into()))?,
    };
    let order = match req.q("timeJoinedOrder") {
        None | Some("ASC") => TimeJoinedOrder::Asc,
        Some("DESC") => TimeJoinedOrder::Desc,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "timeJoinedOrder can be either ASC OR DESC".into(),
            ));
        }
    };
    let after = match req.q("paginationToken") {
        None => None,
        Some(t) => Some(
            decode_page_token(t)
                .ok_or_else(|| ApiError::BadRequest("invalid pagination token".into()))?,
        ),
    };
    if ["email", "phone", "provider"]
        .iter()
        .any(|k| req.q(k).is_some())
    {
        return Err(ApiError::BadRequest(
            "dashboard search (email/phone/provider) is not supported by this core yet".into(),
        ));
    }
    let page = core
        .storage
        .list_users(&ListUsers {
            tenant: req.tenant.clone(),
            limit,
            order,
            recipes: recipes(req)?,
            search: Default::default(),
            after,
        })
        .await?;
    let mut body = json!({
        "status": "OK",
        "users": page.users.iter().map(user_json).collect::<Vec<_>>(),
    });
    if let Some(n) = page.next {
        body["nextPaginationToken"] = json!(crate::util::b64(n.encode().as_bytes()));
    }
    Ok(ok_json(body))
}

fn decode_page_token(t: &str) -> Option<PageToken> {
    let raw = crate::util::b64_decode(t)?;
    PageToken::decode(std::str::from_utf8(&raw).ok()?).ok()
}

/// `GET /<t>/users/count`.
pub async fn count_users(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let all = req.q_bool("includeAllTenants", false)?;
    let scope = if all {
        req.require_public_tenant()?;
        UserScope::App(req.app().clone())
    } else {
        UserScope::Tenant(req.tenant.clone())
    };
    let count = core.storage.count_users(&scope, &recipes(req)?).await?;
    Ok(ok_json(json!({"status": "OK", "count": count})))
}

/// `GET /<t>/users/by-accountinfo`.
pub async fn by_account_info(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let union = match req.q("doUnionOfAccountInfo") {
        Some("true") => true,
        Some("false") => false,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "'doUnionOfAccountInfo' must be true or false".into(),
            ));
        }
        None => return Err(ApiError::missing_query("doUnionOfAccountInfo")),
    };
    let email = req.q("email").map(normalise_email);
    let phone = req.q("phoneNumber").map(|p| p.trim().to_owned());
    let tp = match (req.q("thirdPartyId"), req.q("thirdPartyUserId")) {
        (Some(id), Some(uid)) => Some(ThirdPartyInfo {
            third_party_id: id.to_owned(),
            third_party_user_id: uid.to_owned(),
        }),
        (None, None) => None,
        _ => {
            return Err(ApiError::BadRequest(
                "thirdPartyId and thirdPartyUserId go together".into(),
            ));
        }
    };
    let mut found: Vec<User> = Vec::new();
    let add = |us: Vec<User>, found: &mut Vec<User>| {
        for u in us {
            if !found.iter().any(|f| f.id == u.id) {
                found.push(u);
            }
        }
    };
    if let Some(e) = &email {
        add(
            core.storage.list_users_by_email(&req.tenant, e).await?,
            &mut found,
        );
    }
    if let Some(p) = &phone {
        add(
            core.storage.list_users_by_phone(&req.tenant, p).await?,
            &mut found,
        );
    }
    if let Some(t) = &tp {
        let us = core
            .storage
            .list_users_by_third_party(req.app(), t)
            .await?
            .into_iter()
            .filter(|u| u.tenant_ids.contains(&req.tenant.tenant))
            .collect();
        add(us, &mut found);
    }
    if !union {
        found.retain(|u| {
            let lm = &u.login_methods;
            email
                .as_ref()
                .is_none_or(|e| lm.iter().any(|m| m.email.as_ref() == Some(e)))
                && phone
                    .as_ref()
                    .is_none_or(|p| lm.iter().any(|m| m.phone_number.as_ref() == Some(p)))
                && tp
                    .as_ref()
                    .is_none_or(|t| lm.iter().any(|m| m.third_party.as_ref() == Some(t)))
        });
    }
    found.sort_by(|a, b| a.time_joined.cmp(&b.time_joined).then(a.id.cmp(&b.id)));
    Ok(ok_json(json!({
        "status": "OK",
        "users": found.iter().map(user_json).collect::<Vec<_>>(),
    })))
}
