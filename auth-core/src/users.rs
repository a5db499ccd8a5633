//! The user JSON of CDI 5.3+ and the user endpoints (cdi.md b.2 #5-#9).

use crate::core::Core;
use crate::error::ApiError;
use crate::request::{Req, ok_json, status};
use crate::util::normalise_email;
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use storage_api::{
    AppId, ListUsers, LoginMethod, PageToken, RecipeId, ThirdPartyInfo, TimeJoinedOrder, User,
    UserIdType, UserScope, UserSearch,
};

/// The external ids of SuperTokens user ids (user-id mapping): SuperTokens shows a
/// mapped user, and each mapped login method, by its external id. The SDK verifies
/// the email of a mapped login method under its external id (SuperTokens keys
/// email verification by the id the SDK gives), so those are read here too.
#[derive(Debug, Default)]
pub struct Ids {
    external: HashMap<String, String>,
    verified_external: HashSet<(String, String)>,
}

impl Ids {
    /// The mappings of every id of `users` (group ids and recipe user ids), in one
    /// storage call.
    pub async fn of(core: &Core, app: &AppId, users: &[&User]) -> Result<Self, ApiError> {
        let mut ids: Vec<String> = Vec::new();
        for u in users {
            ids.push(u.id.clone());
            ids.extend(u.login_methods.iter().map(|m| m.recipe_user_id.clone()));
        }
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Self::default());
        }
        let mappings = core.storage.get_user_id_mappings_for(app, &ids).await?;
        let external: HashMap<String, String> = mappings
            .into_iter()
            .map(|m| (m.supertokens_user_id, m.external_user_id))
            .collect();
        let mut verified_external = HashSet::new();
        for m in users.iter().flat_map(|u| &u.login_methods) {
            if let (false, Some(email), Some(ext)) =
                (m.verified, &m.email, external.get(&m.recipe_user_id))
                && core.storage.is_email_verified(app, ext, email).await?
            {
                verified_external.insert((ext.clone(), email.clone()));
            }
        }
        Ok(Self {
            external,
            verified_external,
        })
    }

    /// The id SuperTokens shows for a SuperTokens user id: its external id if mapped.
    pub fn shown<'a>(&'a self, id: &'a str) -> &'a str {
        self.external.get(id).map_or(id, String::as_str)
    }

    /// Whether the email of a login method is verified, under its own id or its
    /// external id.
    fn verified(&self, m: &LoginMethod) -> bool {
        m.verified
            || m.email.as_ref().is_some_and(|e| {
                self.verified_external
                    .contains(&(self.shown(&m.recipe_user_id).to_owned(), e.clone()))
            })
    }
}

/// The SuperTokens user id of an id given by the SDK, which may be an external id
/// (user-id mapping); the id itself when it is not an external id (one indexed
/// look-up: only the external column can change the answer).
pub async fn supertokens_id(core: &Core, app: &AppId, id: &str) -> Result<String, ApiError> {
    let mappings = core
        .storage
        .get_user_id_mapping(app, id, UserIdType::External)
        .await?;
    Ok(mappings
        .into_iter()
        .find(|m| m.external_user_id == id)
        .map_or_else(|| id.to_owned(), |m| m.supertokens_user_id))
}

/// The user id a session of the recipe user `recipe_user_id` (as the SDK gave it,
/// possibly an external id) carries in `sub`: the primary user of its group, shown
/// by its external id if mapped; `recipe_user_id` itself when the user is not linked
/// or unknown (sessions may be created for any id).
pub async fn session_user_id(
    core: &Core,
    app: &AppId,
    recipe_user_id: &str,
) -> Result<String, ApiError> {
    let st = supertokens_id(core, app, recipe_user_id).await?;
    if !crate::util::is_uuid(&st) {
        return Ok(recipe_user_id.to_owned());
    }
    match core.storage.primary_user_id_of(app, &st).await? {
        Some(primary) if primary != st => shown_id(core, app, &primary).await,
        _ => Ok(recipe_user_id.to_owned()),
    }
}

/// The id SuperTokens shows for one SuperTokens user id: its external id if mapped.
pub async fn shown_id(core: &Core, app: &AppId, id: &str) -> Result<String, ApiError> {
    let ids = core
        .storage
        .get_user_id_mappings_for(app, &[id.to_owned()])
        .await?;
    Ok(ids
        .into_iter()
        .next()
        .map_or_else(|| id.to_owned(), |m| m.external_user_id))
}

/// The JSON of users with their ids as SuperTokens shows them.
pub async fn users_json(core: &Core, app: &AppId, users: &[User]) -> Result<Vec<Value>, ApiError> {
    let ids = Ids::of(core, app, &users.iter().collect::<Vec<_>>()).await?;
    Ok(users.iter().map(|u| user_json(u, &ids)).collect())
}

/// `{"status":"OK", "user", "recipeUserId"}` plus `extra`, ids as SuperTokens shows them.
pub async fn user_answer(
    core: &Core,
    app: &AppId,
    user: &User,
    recipe_user_id: &str,
    extra: Value,
) -> Result<Response, ApiError> {
    let ids = Ids::of(core, app, &[user]).await?;
    let mut body = json!({
        "status": "OK",
        "user": user_json(user, &ids),
        "recipeUserId": ids.shown(recipe_user_id),
    });
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    Ok(ok_json(body))
}

/// The user JSON the SDK reads (`User` in cdi.md b.1), with mapped ids replaced by
/// their external ids.
pub fn user_json(u: &User, ids: &Ids) -> Value {
    let mut emails: Vec<&str> = Vec::new();
    let mut phones: Vec<&str> = Vec::new();
    let mut tps: Vec<Value> = Vec::new();
    let mut methods = Vec::new();
    for m in &u.login_methods {
        let mut lm = json!({
            "tenantIds": m.tenant_ids.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "recipeUserId": ids.shown(&m.recipe_user_id),
            "verified": ids.verified(m),
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
        "id": ids.shown(&u.id),
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
    let id = supertokens_id(core, req.app(), req.q_req("userId")?).await?;
    if !crate::util::is_uuid(&id) {
        return Ok(status("UNKNOWN_USER_ID_ERROR"));
    }
    match core.storage.get_user(req.app(), &id).await? {
        Some(u) => {
            let user = users_json(core, req.app(), std::slice::from_ref(&u)).await?;
            Ok(ok_json(json!({"status": "OK", "user": user[0]})))
        }
        None => Ok(status("UNKNOWN_USER_ID_ERROR")),
    }
}

/// `POST /user/remove`.
pub async fn remove_user(core: &Core, req: &Req) -> Result<Response, ApiError> {
    req.require_public_tenant()?;
    let b = req.json()?;
    let all_linked = b.opt_bool("removeAllLinkedAccounts", true)?;
    let id = supertokens_id(core, req.app(), &b.str("userId")?).await?;
    if !crate::util::is_uuid(&id) {
        return Ok(status("OK"));
    }
    core.storage
        .delete_user_with_links(req.app(), &id, all_linked)
        .await?;
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

/// The most groups one search answers: the storage's page limit. (SuperTokens' plugins
/// cap each recipe's part of the search at 1000 login methods.)
const SEARCH_CAP: u32 = 1000;

/// The longest search tag the storage takes; no stored email, phone number or
/// third-party id (all `VARCHAR(256)` or shorter) starts with a longer one.
const TAG_MAX_CHARS: usize = 256;

/// The tags of one search query parameter as SuperTokens' `UsersAPI` reads them:
/// split on `;`, each lower-cased and trimmed (Java's `trim`: characters up to
/// U+0020), empty ones dropped. Over-long tags answer 400 (the Java core would run
/// them and find nothing; see the README).
fn search_tags(req: &Req, name: &str) -> Result<Vec<String>, ApiError> {
    let Some(v) = req.q(name) else {
        return Ok(Vec::new());
    };
    let tags: Vec<String> = v
        .split(';')
        .map(|t| t.to_lowercase().trim_matches(|c| c <= ' ').to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if tags.iter().any(|t| t.chars().count() > TAG_MAX_CHARS) {
        return Err(ApiError::BadRequest(format!(
            "a '{name}' search tag is at most {TAG_MAX_CHARS} characters"
        )));
    }
    Ok(tags)
}

/// `GET /<t>/users`, with the dashboard's search (`email`, `phone`, `provider`).
///
/// Checks run in the Java core's order (`UsersAPI.doGet`). With at least one search
/// tag the answer is what SuperTokens' `AuthRecipe.getUsers` gives: every matching
/// group (up to [`SEARCH_CAP`]) in the requested order and no `nextPaginationToken`;
/// `limit` has no maximum and, like `paginationToken` (still checked) and
/// `includeRecipeIds` (still checked), does not narrow the search.
pub async fn list_users(core: &Core, req: &Req) -> Result<Response, ApiError> {
    let recipes = recipes(req)?;
    let limit = match req.q("limit") {
        None => None,
        Some(l) => Some(l.parse::<i32>().map_err(|_| {
            ApiError::BadRequest("Field name 'limit' must be an int in the GET request".into())
        })?),
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
    let search = UserSearch {
        emails: search_tags(req, "email")?,
        phones: search_tags(req, "phone")?,
        providers: search_tags(req, "provider")?,
    };
    let limit = match limit {
        None => 100,
        Some(l) if l > 500 && search.is_empty() => {
            return Err(ApiError::BadRequest("max limit allowed is 500".into()));
        }
        Some(l) => u32::try_from(l).ok().filter(|l| *l >= 1).ok_or_else(|| {
            ApiError::BadRequest("limit must a positive integer with min value 1".into())
        })?,
    };
    let after = match req.q("paginationToken") {
        None => None,
        Some(t) => Some(
            decode_page_token(t)
                .ok_or_else(|| ApiError::BadRequest("invalid pagination token".into()))?,
        ),
    };
    // SuperTokens' search ignores the page, its size and the recipes.
    let searching = !search.is_empty();
    let request = ListUsers {
        tenant: req.tenant.clone(),
        limit: if searching { SEARCH_CAP } else { limit },
        order,
        recipes: if searching { Vec::new() } else { recipes },
        after: after.filter(|_| !searching),
        search,
    };
    let page = core.storage.list_users(&request).await?;
    let mut body = json!({
        "status": "OK",
        "users": users_json(core, req.app(), &page.users).await?,
    });
    if let (Some(n), false) = (page.next, searching) {
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
        "users": users_json(core, req.app(), &found).await?,
    })))
}
