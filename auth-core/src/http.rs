//! The HTTP layer: one axum fallback handler that strips the `/appid-<id>` and
//! `/<tenant>` prefixes (cdi.md b.1), checks the api key and `cdi-version`, dispatches
//! on (method, API path) and logs one line per request (method, API path, status,
//! duration; never a body, a query or a header value).

use crate::core::Core;
use crate::error::ApiError;
use crate::request::{Req, ok_json};
use crate::{
    emailpassword, emailverification, multitenancy, passwordless, session, thirdparty, users,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use storage_api::{AppId, TenantConfigKey, TenantId, TenantIdentifier};

/// The CDI versions this core speaks.
pub const CDI_VERSIONS: [&str; 1] = ["5.4"];

/// Every API path served, with its methods.
const ROUTES: &[(&str, &[Method])] = &[
    ("/apiversion", &[Method::GET]),
    (
        "/hello",
        &[Method::GET, Method::POST, Method::PUT, Method::DELETE],
    ),
    (
        "/",
        &[Method::GET, Method::POST, Method::PUT, Method::DELETE],
    ),
    ("/.well-known/jwks.json", &[Method::GET]),
    ("/recipe/jwt/jwks", &[Method::GET]),
    ("/user/id", &[Method::GET]),
    ("/user/remove", &[Method::POST]),
    ("/users", &[Method::GET]),
    ("/users/count", &[Method::GET]),
    ("/users/by-accountinfo", &[Method::GET]),
    ("/recipe/signup", &[Method::POST]),
    ("/recipe/signin", &[Method::POST]),
    ("/recipe/user/password/reset/token", &[Method::POST]),
    ("/recipe/user/password/reset/token/consume", &[Method::POST]),
    ("/recipe/user", &[Method::PUT]),
    ("/recipe/user/email/verify/token", &[Method::POST]),
    ("/recipe/user/email/verify", &[Method::POST, Method::GET]),
    ("/recipe/user/email/verify/token/remove", &[Method::POST]),
    ("/recipe/user/email/verify/remove", &[Method::POST]),
    ("/recipe/session", &[Method::POST, Method::GET]),
    ("/recipe/session/verify", &[Method::POST]),
    ("/recipe/session/refresh", &[Method::POST]),
    ("/recipe/session/user", &[Method::GET]),
    ("/recipe/session/remove", &[Method::POST]),
    ("/recipe/session/data", &[Method::PUT]),
    ("/recipe/jwt/data", &[Method::PUT]),
    ("/recipe/session/regenerate", &[Method::POST]),
    ("/recipe/signinup", &[Method::POST]),
    ("/recipe/signinup/code", &[Method::POST]),
    ("/recipe/signinup/code/consume", &[Method::POST]),
    ("/recipe/signinup/code/check", &[Method::POST]),
    ("/recipe/signinup/codes", &[Method::GET]),
    ("/recipe/signinup/code/remove", &[Method::POST]),
    ("/recipe/signinup/codes/remove", &[Method::POST]),
    (
        "/recipe/multitenancy/tenant/v2",
        &[Method::PUT, Method::GET],
    ),
    ("/recipe/multitenancy/tenant/list/v2", &[Method::GET]),
    ("/recipe/multitenancy/tenant/remove", &[Method::POST]),
    ("/recipe/multitenancy/tenant/user", &[Method::POST]),
    ("/recipe/multitenancy/tenant/user/remove", &[Method::POST]),
];

/// Paths reachable without an api key.
const OPEN_PATHS: [&str; 3] = ["/hello", "/", "/.well-known/jwks.json"];

/// Tenant ids that are never a tenant segment.
const RESERVED_TENANTS: [&str; 4] = ["recipe", "config", "users", "hello"];

/// The axum router of the core.
pub fn router(core: Arc<Core>) -> Router {
    Router::new().fallback(entry).with_state(core)
}

/// The path split into app, tenant and API path; `None` when unknown.
pub fn split_path(path: &str) -> Option<(String, Option<String>, String)> {
    let lower = path.to_lowercase();
    let trimmed = if lower.len() > 1 {
        lower.trim_end_matches('/')
    } else {
        lower.as_str()
    };
    let known = |p: &str| ROUTES.iter().any(|(r, _)| *r == p);
    let is_id = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    let mut rest = if trimmed.is_empty() { "/" } else { trimmed };
    let mut app = "public".to_owned();
    if let Some(after) = rest.strip_prefix("/appid-") {
        let (id, tail) = after.split_once('/').unwrap_or((after, ""));
        if !is_id(id) {
            return None;
        }
        app = id.to_owned();
        rest = if tail.is_empty() {
            "/"
        } else {
            &trimmed[trimmed.len() - tail.len() - 1..]
        };
    }
    if known(rest) {
        return Some((app, None, rest.to_owned()));
    }
    let seg_end = rest[1..].find('/').map(|i| i + 1)?;
    let tenant = &rest[1..seg_end];
    let api = &rest[seg_end..];
    if is_id(tenant) && !RESERVED_TENANTS.contains(&tenant) && known(api) {
        return Some((app, Some(tenant.to_owned()), api.to_owned()));
    }
    None
}

async fn entry(
    State(core): State<Arc<Core>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let start = Instant::now();
    let (api, response) = match prepare(&core, &method, &uri, &headers, body) {
        Ok(req) => {
            let api = req.api.clone();
            let r = dispatch(&core, req)
                .await
                .unwrap_or_else(IntoResponse::into_response);
            (api, r)
        }
        // An unknown path is logged as given (paths carry no secrets; queries are
        // never logged).
        Err(e) => (uri.path().chars().take(200).collect(), e.into_response()),
    };
    tracing::info!(
        method = %method,
        api = %api,
        status = response.status().as_u16(),
        micros = start.elapsed().as_micros() as u64,
        "request"
    );
    response
}

fn prepare(
    core: &Core,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Req, ApiError> {
    let (app, tenant, api) = split_path(uri.path()).ok_or(ApiError::NotFound)?;
    let methods = ROUTES
        .iter()
        .find(|(r, _)| *r == api)
        .map(|(_, m)| *m)
        .ok_or(ApiError::NotFound)?;
    if !methods.contains(method) {
        return Err(ApiError::MethodNotAllowed);
    }
    if !OPEN_PATHS.contains(&api.as_str()) && !core.config.api_keys.is_empty() {
        let given = headers
            .get("api-key")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.strip_prefix("Bearer ").unwrap_or(v))
            })
            .map(str::trim);
        if !given.is_some_and(|g| core.config.api_keys.iter().any(|k| k == g)) {
            return Err(ApiError::InvalidApiKey);
        }
    }
    if api != "/apiversion" && api != "/.well-known/jwks.json" {
        check_cdi_version(headers)?;
    }
    let bad_tenant = |_| ApiError::BadRequest("AppId or tenantId not found".into());
    let tenant_id = match &tenant {
        Some(t) => TenantId::new(t).map_err(bad_tenant)?,
        None => TenantId::public(),
    };
    let tenant_identifier = TenantIdentifier {
        app: AppId::new(&app).map_err(bad_tenant)?,
        tenant: tenant_id,
    };
    let query = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Req {
        method: method.clone(),
        api,
        tenant: tenant_identifier,
        tenant_in_path: tenant.is_some(),
        query,
        body,
        rid: headers
            .get("rid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    })
}

fn check_cdi_version(headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(v) = headers.get("cdi-version") {
        let v = v
            .to_str()
            .ok()
            .filter(|v| {
                let mut p = v.split('.');
                matches!((p.next(), p.next(), p.next()), (Some(a), Some(b), None)
                        if a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
            })
            .ok_or_else(|| ApiError::BadRequest("cdi-version header is invalid".into()))?;
        if !CDI_VERSIONS.contains(&v) {
            return Err(ApiError::BadRequest(format!(
                "cdi-version {v} not supported"
            )));
        }
    }
    Ok(())
}

/// The tenant-specific APIs (they act on the path's tenant; the others act on the app
/// and answer 403 to a non-public tenant, or ignore it, as the Java core does).
const TENANT_APIS: &[(&str, Method)] = &[
    ("/users", Method::GET),
    ("/users/count", Method::GET),
    ("/users/by-accountinfo", Method::GET),
    ("/recipe/signup", Method::POST),
    ("/recipe/signin", Method::POST),
    ("/recipe/user/password/reset/token", Method::POST),
    ("/recipe/user/password/reset/token/consume", Method::POST),
    ("/recipe/user/email/verify/token", Method::POST),
    ("/recipe/user/email/verify", Method::POST),
    ("/recipe/user/email/verify/token/remove", Method::POST),
    ("/recipe/session", Method::POST),
    ("/recipe/session/user", Method::GET),
    ("/recipe/session/remove", Method::POST),
    ("/recipe/signinup", Method::POST),
    ("/recipe/signinup/code", Method::POST),
    ("/recipe/signinup/code/consume", Method::POST),
    ("/recipe/signinup/code/check", Method::POST),
    ("/recipe/signinup/codes", Method::GET),
    ("/recipe/signinup/code/remove", Method::POST),
    ("/recipe/signinup/codes/remove", Method::POST),
    ("/recipe/multitenancy/tenant/v2", Method::PUT),
    ("/recipe/multitenancy/tenant/user", Method::POST),
    ("/recipe/multitenancy/tenant/user/remove", Method::POST),
];

/// 400 `AppId or tenantId not found` when the path names an app other than `public`
/// that does not exist (apps are made outside this core: cdi.md lists no app API), or
/// a tenant-specific API names a non-public tenant that does not exist, as the Java
/// core answers before any handler runs (`GET tenant/v2` answers
/// `TENANT_NOT_FOUND_ERROR` itself; `/apiversion` and `/hello` need no app).
async fn check_tenant_exists(core: &Core, req: &Req) -> Result<(), ApiError> {
    let tenant_api = TENANT_APIS
        .iter()
        .any(|(api, m)| *api == req.api && *m == req.method);
    let tenant = if !req.tenant.tenant.is_public() && tenant_api {
        req.tenant.clone()
    } else if !req.tenant.app.is_public()
        && !["/apiversion", "/hello", "/"].contains(&req.api.as_str())
    {
        TenantIdentifier {
            app: req.tenant.app.clone(),
            tenant: TenantId::public(),
        }
    } else {
        return Ok(());
    };
    match core
        .storage
        .get_tenant_config(&TenantConfigKey::new(tenant.clone()))
        .await?
    {
        Some(_) => Ok(()),
        None => Err(ApiError::BadRequest(format!(
            "AppId or tenantId not found => {tenant}"
        ))),
    }
}

async fn dispatch(core: &Core, req: Req) -> Result<Response, ApiError> {
    check_tenant_exists(core, &req).await?;
    let m = &req.method;
    match req.api.as_str() {
        "/apiversion" => Ok(ok_json(json!({ "versions": CDI_VERSIONS }))),
        "/hello" | "/" => Ok("Hello".into_response()),
        "/.well-known/jwks.json" => {
            let (keys, _) = core.keys_of(req.app());
            let (body, max_age) = keys.jwks(crate::util::now_ms()).await?;
            let mut r = ok_json(body);
            if let Ok(v) = HeaderValue::from_str(&format!("max-age={max_age}, must-revalidate")) {
                r.headers_mut().insert(header::CACHE_CONTROL, v);
            }
            Ok(r)
        }
        "/recipe/jwt/jwks" => {
            req.require_public_tenant()?;
            let (keys, _) = core.keys_of(req.app());
            let (mut body, _) = keys.jwks(crate::util::now_ms()).await?;
            body["status"] = json!("OK");
            Ok(ok_json(body))
        }
        "/user/id" => users::get_user(core, &req).await,
        "/user/remove" => users::remove_user(core, &req).await,
        "/users" => users::list_users(core, &req).await,
        "/users/count" => users::count_users(core, &req).await,
        "/users/by-accountinfo" => users::by_account_info(core, &req).await,
        "/recipe/signup" => emailpassword::sign_up(core, &req).await,
        "/recipe/signin" => emailpassword::sign_in(core, &req).await,
        "/recipe/user/password/reset/token" => emailpassword::reset_token(core, &req).await,
        "/recipe/user/password/reset/token/consume" => {
            emailpassword::consume_reset_token(core, &req).await
        }
        "/recipe/user" => match req.rid.as_deref() {
            Some("passwordless") => passwordless::update_user(core, &req).await,
            // Third-party users have no updatable field here; like Java, a missing
            // or other rid goes to the email-password handler.
            _ => emailpassword::update_user(core, &req).await,
        },
        "/recipe/user/email/verify/token" => emailverification::create_token(core, &req).await,
        "/recipe/user/email/verify" if m == Method::POST => {
            emailverification::verify(core, &req).await
        }
        "/recipe/user/email/verify" => emailverification::is_verified(core, &req).await,
        "/recipe/user/email/verify/token/remove" => {
            emailverification::revoke_tokens(core, &req).await
        }
        "/recipe/user/email/verify/remove" => emailverification::unverify(core, &req).await,
        "/recipe/session" if m == Method::POST => session::create(core, &req).await,
        "/recipe/session" => session::get(core, &req).await,
        "/recipe/session/verify" => session::verify(core, &req).await,
        "/recipe/session/refresh" => session::refresh(core, &req).await,
        "/recipe/session/user" => session::handles_of_user(core, &req).await,
        "/recipe/session/remove" => session::remove(core, &req).await,
        "/recipe/session/data" => session::update_data(core, &req).await,
        "/recipe/jwt/data" => session::update_jwt_data(core, &req).await,
        "/recipe/session/regenerate" => session::regenerate(core, &req).await,
        "/recipe/signinup" => thirdparty::sign_in_up(core, &req).await,
        "/recipe/signinup/code" => passwordless::create_code(core, &req).await,
        "/recipe/signinup/code/consume" => passwordless::consume_code(core, &req).await,
        "/recipe/signinup/code/check" => passwordless::check_code(core, &req).await,
        "/recipe/signinup/codes" => passwordless::list_codes(core, &req).await,
        "/recipe/signinup/code/remove" => passwordless::remove_code(core, &req).await,
        "/recipe/signinup/codes/remove" => passwordless::remove_codes(core, &req).await,
        "/recipe/multitenancy/tenant/v2" if m == Method::PUT => {
            multitenancy::create_or_update(core, &req).await
        }
        "/recipe/multitenancy/tenant/v2" => multitenancy::get(core, &req).await,
        "/recipe/multitenancy/tenant/list/v2" => multitenancy::list(core, &req).await,
        "/recipe/multitenancy/tenant/remove" => multitenancy::remove(core, &req).await,
        "/recipe/multitenancy/tenant/user" => multitenancy::associate(core, &req).await,
        "/recipe/multitenancy/tenant/user/remove" => multitenancy::disassociate(core, &req).await,
        _ => Err(ApiError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn prefixes() {
        let s = split_path;
        assert_eq!(
            s("/apiversion"),
            Some(("public".into(), None, "/apiversion".into()))
        );
        assert_eq!(
            s("/appid-x/T1/Recipe/signup/"),
            Some(("x".into(), Some("t1".into()), "/recipe/signup".into()))
        );
        assert_eq!(
            s("/public/users"),
            Some(("public".into(), Some("public".into()), "/users".into()))
        );
        assert_eq!(
            s("/appid-a/.well-known/jwks.json").unwrap().2,
            "/.well-known/jwks.json"
        );
        assert_eq!(s("/recipe/users"), None);
        assert_eq!(s("/nope"), None);
        assert_eq!(s("/"), Some(("public".into(), None, "/".into())));
        assert_eq!(s("/users/recipe/signup"), None);
    }
}
