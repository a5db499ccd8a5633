//! The CDI endpoints through the axum router (no socket), on SQLite, PostgreSQL and
//! MariaDB. A missing database server fails these tests; it never skips them.

use auth_core::{Config, Core, http};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{Value, json};
use std::sync::Arc;
use storage_api::Storage;
use tower::ServiceExt;

const KEY: &str = "test-api-key-0123456789";

fn test_config() -> Config {
    Config {
        api_keys: vec![KEY.into()],
        bcrypt_log_rounds: 4,
        ..Config::default()
    }
}

async fn core_on(storage: Arc<dyn Storage>) -> axum::Router {
    let core = Core::new(storage, test_config());
    core.init().await.expect("init");
    http::router(core)
}

struct Answer {
    status: StatusCode,
    content_type: String,
    cache_control: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        serde_json::from_str(&self.text).expect("json")
    }
}

async fn call(app: &axum::Router, method: &str, path: &str, body: Option<Value>) -> Answer {
    call_with(
        app,
        method,
        path,
        body,
        Some(KEY),
        &[("cdi-version", "5.4")],
    )
    .await
}

async fn call_with(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        r = r.header("api-key", k);
    }
    for (h, v) in headers {
        r = r.header(*h, *v);
    }
    let req = match body {
        Some(b) => r
            .header("content-type", "application/json; charset=utf-8")
            .body(Body::from(b.to_string())),
        None => r.body(Body::empty()),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cache_control = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        cache_control,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A 200 JSON answer of `call`.
async fn jcall(app: &axum::Router, method: &str, path: &str, body: Option<Value>) -> Value {
    call(app, method, path, body).await.json()
}

fn st(v: &Value) -> &str {
    v["status"].as_str().unwrap_or("<none>")
}

fn claims(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

/// Checks an access token against the published JWKS, as jose does.
async fn check_with_jwks(app: &axum::Router, token: &str) {
    let jwks = call_with(app, "GET", "/.well-known/jwks.json", None, None, &[]).await;
    assert!(
        jwks.cache_control
            .as_ref()
            .unwrap()
            .ends_with("must-revalidate")
    );
    let jwks = jwks.json();
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["version"], "5");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["alg"], "RS256");
    let kid = header["kid"].as_str().unwrap();
    assert!(kid.starts_with("d-") || kid.starts_with("s-"), "{kid}");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("kid published");
    assert_eq!(
        (jwk["kty"].as_str(), jwk["use"].as_str()),
        (Some("RSA"), Some("sig"))
    );
    let n = BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap());
    let e = BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap());
    let key = RsaPublicKey::new(n, e).unwrap();
    assert!(key.size() >= 256);
    let sig = Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
    VerifyingKey::<sha2::Sha256>::new(key)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .expect("signature verifies with the JWKS key");
}

async fn transport(app: &axum::Router) {
    let v = call_with(app, "GET", "/apiversion", None, Some(KEY), &[])
        .await
        .json();
    assert_eq!(v, json!({"versions": ["5.4"]}));
    let no_key = call_with(app, "GET", "/apiversion", None, None, &[]).await;
    assert_eq!(
        (no_key.status, no_key.text.as_str()),
        (StatusCode::UNAUTHORIZED, "Invalid API key")
    );
    let bearer = call_with(
        app,
        "GET",
        "/apiversion",
        None,
        None,
        &[("authorization", &format!("Bearer {KEY}"))],
    )
    .await;
    assert_eq!(bearer.status, StatusCode::OK);
    for path in ["/hello", "/", "/appid-public/hello"] {
        for method in ["GET", "POST", "PUT", "DELETE"] {
            let hello = call_with(app, method, path, None, None, &[]).await;
            assert_eq!(
                (hello.status, hello.text.as_str()),
                (StatusCode::OK, "Hello"),
                "{method} {path}"
            );
        }
    }
    assert_eq!(
        call(app, "GET", "/nope", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(app, "DELETE", "/recipe/signup", None).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let bad = call_with(
        app,
        "GET",
        "/user/id?userId=x",
        None,
        Some(KEY),
        &[("cdi-version", "9.9")],
    )
    .await;
    assert_eq!(
        (bad.status, bad.text.as_str()),
        (StatusCode::BAD_REQUEST, "cdi-version 9.9 not supported")
    );
    let bad = call_with(
        app,
        "GET",
        "/user/id?userId=x",
        None,
        Some(KEY),
        &[("cdi-version", "x")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.content_type.starts_with("text/html"));
    let jwks = call_with(
        app,
        "GET",
        "/appid-public/.well-known/jwks.json",
        None,
        None,
        &[],
    )
    .await
    .json();
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
    let old = jcall(app, "GET", "/recipe/jwt/jwks", None).await;
    assert_eq!(st(&old), "OK");
    let invalid = call(
        app,
        "POST",
        "/public/recipe/signup",
        Some(json!({"email": null, "password": "x"})),
    )
    .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    let non_json = call_with(app, "POST", "/public/recipe/signin", None, Some(KEY), &[]).await;
    assert_eq!(
        (non_json.status, non_json.text.as_str()),
        (StatusCode::BAD_REQUEST, "Invalid Json Input")
    );
    let other_app = call(app, "GET", "/appid-other/user/id?userId=x", None).await;
    assert_eq!(other_app.status, StatusCode::BAD_REQUEST);
    let forbidden = call(app, "GET", "/t1/user/id?userId=x", None).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
}

/// Email-password, email verification and the user endpoints; returns the user id.
async fn users_and_passwords(app: &axum::Router) -> String {
    let email = format!("u{}@Example.com", uuid::Uuid::new_v4().simple());
    let lower = email.to_lowercase();
    let up = jcall(
        app,
        "POST",
        "/public/recipe/signup",
        Some(json!({"email": email, "password": "abcd1234"})),
    )
    .await;
    assert_eq!(st(&up), "OK", "{up}");
    let id = up["recipeUserId"].as_str().unwrap().to_owned();
    let u = &up["user"];
    assert_eq!(u["id"], id);
    assert_eq!(u["isPrimaryUser"], false);
    assert_eq!(u["emails"], json!([lower]));
    assert_eq!(u["tenantIds"], json!(["public"]));
    assert_eq!(u["loginMethods"][0]["recipeId"], "emailpassword");
    assert_eq!(u["loginMethods"][0]["verified"], false);
    assert!(u["loginMethods"][0].get("phoneNumber").is_none());
    let again = jcall(
        app,
        "POST",
        "/public/recipe/signup",
        Some(json!({"email": lower, "password": "x"})),
    )
    .await;
    assert_eq!(st(&again), "EMAIL_ALREADY_EXISTS_ERROR");
    let empty = call(
        app,
        "POST",
        "/public/recipe/signup",
        Some(json!({"email": "e@x.com", "password": ""})),
    )
    .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let wrong = jcall(
        app,
        "POST",
        "/public/recipe/signin",
        Some(json!({"email": lower, "password": "wrong"})),
    )
    .await;
    assert_eq!(st(&wrong), "WRONG_CREDENTIALS_ERROR");
    let unknown = jcall(
        app,
        "POST",
        "/public/recipe/signin",
        Some(json!({"email": "nobody@x.com", "password": "wrong"})),
    )
    .await;
    assert_eq!(st(&unknown), "WRONG_CREDENTIALS_ERROR");
    let ok = jcall(
        app,
        "POST",
        "/public/recipe/signin",
        Some(json!({"email": email, "password": "abcd1234"})),
    )
    .await;
    assert_eq!(
        (st(&ok), ok["recipeUserId"].as_str()),
        ("OK", Some(id.as_str()))
    );

    // Password reset.
    let t = jcall(
        app,
        "POST",
        "/public/recipe/user/password/reset/token",
        Some(json!({"userId": id, "email": lower})),
    )
    .await;
    let token = t["token"].as_str().unwrap().to_owned();
    let unknown = jcall(
        app,
        "POST",
        "/public/recipe/user/password/reset/token",
        Some(json!({"userId": uuid::Uuid::new_v4().to_string(), "email": lower})),
    )
    .await;
    assert_eq!(st(&unknown), "UNKNOWN_USER_ID_ERROR");
    let c = jcall(
        app,
        "POST",
        "/public/recipe/user/password/reset/token/consume",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(
        (st(&c), c["userId"].as_str(), c["email"].as_str()),
        ("OK", Some(id.as_str()), Some(lower.as_str()))
    );
    let c = jcall(
        app,
        "POST",
        "/public/recipe/user/password/reset/token/consume",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(st(&c), "RESET_PASSWORD_INVALID_TOKEN_ERROR");

    // Update email and password (rid emailpassword, and no rid).
    let email2 = format!("x{lower}");
    let put = call_with(
        app,
        "PUT",
        "/recipe/user",
        Some(json!({"recipeUserId": id, "email": email2, "password": "another123"})),
        Some(KEY),
        &[("rid", "emailpassword")],
    )
    .await
    .json();
    assert_eq!(st(&put), "OK");
    let none = call(
        app,
        "PUT",
        "/recipe/user",
        Some(json!({"recipeUserId": id})),
    )
    .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    let unknown = jcall(
        app,
        "PUT",
        "/recipe/user",
        Some(json!({"recipeUserId": "nope", "password": "p"})),
    )
    .await;
    assert_eq!(st(&unknown), "UNKNOWN_USER_ID_ERROR");
    let ok = jcall(
        app,
        "POST",
        "/public/recipe/signin",
        Some(json!({"email": email2, "password": "another123"})),
    )
    .await;
    assert_eq!(st(&ok), "OK");
    let other = jcall(
        app,
        "POST",
        "/public/recipe/signup",
        Some(json!({"email": format!("o{lower}"), "password": "abcd1234"})),
    )
    .await;
    let other_id = other["recipeUserId"].as_str().unwrap().to_owned();
    let dup = jcall(
        app,
        "PUT",
        "/recipe/user",
        Some(json!({"recipeUserId": other_id, "email": email2})),
    )
    .await;
    assert_eq!(st(&dup), "EMAIL_ALREADY_EXISTS_ERROR");

    // Email verification.
    let evt = jcall(
        app,
        "POST",
        "/public/recipe/user/email/verify/token",
        Some(json!({"userId": id, "email": email2})),
    )
    .await;
    let evt = evt["token"].as_str().unwrap().to_owned();
    let bad = jcall(
        app,
        "POST",
        "/public/recipe/user/email/verify",
        Some(json!({"method": "token", "token": "nope"})),
    )
    .await;
    assert_eq!(st(&bad), "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR");
    let v = jcall(
        app,
        "POST",
        "/public/recipe/user/email/verify",
        Some(json!({"method": "token", "token": evt})),
    )
    .await;
    assert_eq!(
        (st(&v), v["userId"].as_str(), v["email"].as_str()),
        ("OK", Some(id.as_str()), Some(email2.as_str()))
    );
    let q = format!("/recipe/user/email/verify?userId={id}&email={email2}");
    assert_eq!(jcall(app, "GET", &q, None).await["isVerified"], true);
    let again = jcall(
        app,
        "POST",
        "/public/recipe/user/email/verify/token",
        Some(json!({"userId": id, "email": email2})),
    )
    .await;
    assert_eq!(st(&again), "EMAIL_ALREADY_VERIFIED_ERROR");
    let user = jcall(app, "GET", &format!("/user/id?userId={id}"), None).await;
    assert_eq!(user["user"]["loginMethods"][0]["verified"], true);
    let rm = jcall(
        app,
        "POST",
        "/public/recipe/user/email/verify/token/remove",
        Some(json!({"userId": id, "email": email2})),
    )
    .await;
    assert_eq!(st(&rm), "OK");
    let un = jcall(
        app,
        "POST",
        "/recipe/user/email/verify/remove",
        Some(json!({"userId": id, "email": email2})),
    )
    .await;
    assert_eq!(st(&un), "OK");
    assert_eq!(jcall(app, "GET", &q, None).await["isVerified"], false);

    // Users: get, list, count, by account info.
    let missing = jcall(app, "GET", "/user/id?userId=nope", None).await;
    assert_eq!(st(&missing), "UNKNOWN_USER_ID_ERROR");
    let count = jcall(
        app,
        "GET",
        "/public/users/count?includeAllTenants=true",
        None,
    )
    .await;
    assert!(count["count"].as_u64().unwrap() >= 2);
    let count = jcall(
        app,
        "GET",
        "/public/users/count?includeRecipeIds=emailpassword",
        None,
    )
    .await;
    assert!(count["count"].as_u64().unwrap() >= 2);
    let page = jcall(
        app,
        "GET",
        "/public/users?timeJoinedOrder=DESC&limit=1",
        None,
    )
    .await;
    assert_eq!(page["users"].as_array().unwrap().len(), 1);
    assert_eq!(page["users"][0]["id"], other_id);
    let next = page["nextPaginationToken"].as_str().unwrap();
    let page2 = jcall(
        app,
        "GET",
        &format!(
            "/public/users?timeJoinedOrder=DESC&limit=1&paginationToken={}",
            urlenc(next)
        ),
        None,
    )
    .await;
    assert_eq!(page2["users"][0]["id"], id);
    assert_eq!(
        call(app, "GET", "/public/users?limit=501", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(app, "GET", "/public/users?paginationToken=zz", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let by = jcall(
        app,
        "GET",
        &format!(
            "/public/users/by-accountinfo?email={}&doUnionOfAccountInfo=false",
            urlenc(&email2.to_uppercase())
        ),
        None,
    )
    .await;
    assert_eq!(by["users"].as_array().unwrap().len(), 1);
    assert_eq!(by["users"][0]["id"], id);
    let no_flag = call(app, "GET", "/public/users/by-accountinfo?email=a@b.c", None).await;
    assert_eq!(no_flag.status, StatusCode::BAD_REQUEST);
    let union = jcall(app, "GET", &format!("/public/users/by-accountinfo?email={email2}&phoneNumber=%2B1555&doUnionOfAccountInfo=true"), None).await;
    assert_eq!(union["users"].as_array().unwrap().len(), 1);
    let inter = jcall(app, "GET", &format!("/public/users/by-accountinfo?email={email2}&phoneNumber=%2B1555&doUnionOfAccountInfo=false"), None).await;
    assert_eq!(inter["users"].as_array().unwrap().len(), 0);
    let rm = jcall(
        app,
        "POST",
        "/user/remove",
        Some(json!({"userId": other_id, "removeAllLinkedAccounts": true})),
    )
    .await;
    assert_eq!(st(&rm), "OK");
    assert_eq!(
        st(&jcall(app, "GET", &format!("/user/id?userId={other_id}"), None).await),
        "UNKNOWN_USER_ID_ERROR"
    );
    let rm = jcall(
        app,
        "POST",
        "/user/remove",
        Some(json!({"userId": other_id})),
    )
    .await;
    assert_eq!(st(&rm), "OK");
    id
}

fn urlenc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn verify_body(token: &str, csrf: Option<&str>, check_db: bool) -> Value {
    let mut b = json!({"accessToken": token, "doAntiCsrfCheck": true, "enableAntiCsrf": true, "checkDatabase": check_db});
    if let Some(c) = csrf {
        b["antiCsrfToken"] = json!(c);
    }
    b
}

fn refresh_body(token: &str, csrf: Option<&str>) -> Value {
    let mut b =
        json!({"refreshToken": token, "enableAntiCsrf": true, "useDynamicSigningKey": true});
    if let Some(c) = csrf {
        b["antiCsrfToken"] = json!(c);
    }
    b
}

fn kid_of(token: &str) -> String {
    let h = token.split('.').next().unwrap();
    let h: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    h["kid"].as_str().unwrap().to_owned()
}

/// Two string members of `v` (each given by its path of keys).
fn pair<'a>(v: &'a Value, a: &[&str], b: &[&str]) -> (&'a str, &'a str) {
    let at = |path: &[&str]| {
        path.iter()
            .fold(v, |v, k| &v[*k])
            .as_str()
            .unwrap_or("<none>")
    };
    (at(a), at(b))
}

/// `POST /<public>/recipe/session` without anti-CSRF, payloads or data.
async fn plain_session(app: &axum::Router, user: &str, dynamic_key: bool) -> Value {
    let body = json!({"userId": user, "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false, "useDynamicSigningKey": dynamic_key});
    jcall(app, "POST", "/public/recipe/session", Some(body)).await
}

/// `POST /recipe/session/verify` without anti-CSRF.
async fn plain_verify(app: &axum::Router, token: &str, check_db: bool) -> Value {
    let body = json!({"accessToken": token, "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": check_db});
    jcall(app, "POST", "/recipe/session/verify", Some(body)).await
}

/// `POST /recipe/session/refresh` without anti-CSRF.
async fn plain_refresh(app: &axum::Router, token: &str, dynamic_key: bool) -> Value {
    let body = json!({"refreshToken": token, "enableAntiCsrf": false, "useDynamicSigningKey": dynamic_key});
    jcall(app, "POST", "/recipe/session/refresh", Some(body)).await
}

/// `useDynamicSigningKey:false`: both cores sign with the one static key (`s-<uuid>`,
/// kept in `jwt_signing_keys`), publish it, verify, refresh and promote such sessions.
async fn static_key_sessions(a: &axum::Router, b: &axum::Router, user: &str) {
    let created = plain_session(a, user, false).await;
    assert_eq!(st(&created), "OK", "{created}");
    let at0 = created["accessToken"]["token"].as_str().unwrap().to_owned();
    let kid = kid_of(&at0);
    assert!(kid.starts_with("s-") && kid.len() == 38, "{kid}");
    // Published by both cores (after the dynamic keys), checked with an independent verify.
    for core in [a, b] {
        let jwks = call_with(core, "GET", "/.well-known/jwks.json", None, None, &[])
            .await
            .json();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids.last(), Some(&kid.as_str()), "{kids:?}");
        assert!(kids[..kids.len() - 1].iter().all(|k| k.starts_with("d-")));
        check_with_jwks(core, &at0).await;
    }
    // The other core verifies it (checking the database); no parent and an unchanged
    // payload, so no new token (supertokens-core's getSession). It signs below (refresh).
    let v = plain_verify(b, &at0, true).await;
    assert_eq!(st(&v), "OK", "{v}");
    assert!(v.get("accessToken").is_none(), "{v}");
    // Refresh on the other core: the child token is signed with the static key; the
    // first core promotes it through verify and signs the result with the same key.
    let rt0 = created["refreshToken"]["token"].as_str().unwrap();
    let r = plain_refresh(b, rt0, false).await;
    assert_eq!(st(&r), "OK", "{r}");
    let at2 = r["accessToken"]["token"].as_str().unwrap();
    assert_eq!(kid_of(at2), kid);
    assert!(claims(at2)["parentRefreshTokenHash1"].is_string());
    let v = plain_verify(a, at2, false).await;
    assert_eq!(st(&v), "OK", "{v}");
    let at3 = v["accessToken"]["token"].as_str().unwrap();
    assert_eq!(kid_of(at3), kid);
    assert_eq!(claims(at3)["parentRefreshTokenHash1"], Value::Null);
    check_with_jwks(a, at3).await;
    // A token whose static kid is unknown is not accepted.
    let parts: Vec<&str> = at3.split('.').collect();
    let other_header = URL_SAFE_NO_PAD.encode(
        json!({"kid": "s-00000000-0000-0000-0000-000000000000", "typ": "JWT", "version": "5", "alg": "RS256"}).to_string(),
    );
    let v = jcall(
        b,
        "POST",
        "/recipe/session/verify",
        Some(json!({
            "accessToken": format!("{other_header}.{}.{}", parts[1], parts[2]),
            "doAntiCsrfCheck": false, "enableAntiCsrf": false,
        })),
    )
    .await;
    assert_eq!(st(&v), "TRY_REFRESH_TOKEN", "{v}");
    let h = created["session"]["handle"].clone();
    let rm = jcall(
        a,
        "POST",
        "/recipe/session/remove",
        Some(json!({"sessionHandles": [h]})),
    )
    .await;
    assert_eq!(rm["sessionHandlesRevoked"], json!([h]));
}

/// Sessions across two cores (`a` and `b`) on one database.
async fn sessions(a: &axum::Router, b: &axum::Router, user: &str) {
    let created = jcall(
        a,
        "POST",
        "/public/recipe/session",
        Some(json!({
            "userId": user, "userDataInJWT": {"role": "a", "iss": "http://x/auth"},
            "userDataInDatabase": {"secret": 1}, "enableAntiCsrf": true,
        })),
    )
    .await;
    assert_eq!(st(&created), "OK", "{created}");
    let handle = created["session"]["handle"].as_str().unwrap().to_owned();
    assert_eq!(created["session"]["tenantId"], "public");
    assert_eq!(created["session"]["recipeUserId"], user);
    let at0 = created["accessToken"]["token"].as_str().unwrap().to_owned();
    let rt0 = created["refreshToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let csrf0 = created["antiCsrfToken"].as_str().unwrap().to_owned();
    let c = claims(&at0);
    assert_eq!(c["sub"], user);
    assert_eq!(c["rsub"], user);
    assert_eq!(c["tId"], "public");
    assert_eq!(c["role"], "a");
    assert_eq!(c["parentRefreshTokenHash1"], Value::Null);
    assert_eq!(c["antiCsrfToken"], csrf0);
    assert_eq!(c["refreshTokenHash1"], auth_core::util::sha256_hex(&rt0));
    assert_eq!(
        created["accessToken"]["expiry"].as_i64().unwrap(),
        c["exp"].as_i64().unwrap() * 1000
    );
    check_with_jwks(a, &at0).await;
    check_with_jwks(b, &at0).await;

    let protected = call(a, "POST", "/public/recipe/session", Some(json!({
        "userId": user, "userDataInJWT": {"sub": "x"}, "userDataInDatabase": {}, "enableAntiCsrf": false,
    }))).await;
    assert_eq!(
        (protected.status, protected.text.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "The user payload contains protected field"
        )
    );
    static_key_sessions(a, b, user).await;

    // Verify on the other replica: no parent, so no new token; with checkDatabase too,
    // the payload being unchanged (supertokens-core's getSession returns before
    // minting one).
    for check_db in [false, true] {
        let body = verify_body(&at0, Some(&csrf0), check_db);
        let v = jcall(b, "POST", "/recipe/session/verify", Some(body)).await;
        assert_eq!(st(&v), "OK");
        assert!(
            v.get("accessToken").is_none(),
            "checkDatabase {check_db}: {v}"
        );
        assert_eq!(v["session"]["userDataInJWT"]["role"], "a");
    }
    let v = call(
        b,
        "POST",
        "/recipe/session/verify",
        Some(verify_body(&at0, Some("wrong"), false)),
    )
    .await
    .json();
    assert_eq!(st(&v), "TRY_REFRESH_TOKEN");
    let v = call(
        b,
        "POST",
        "/recipe/session/verify",
        Some(verify_body("a.b.c", None, false)),
    )
    .await
    .json();
    assert_eq!(st(&v), "TRY_REFRESH_TOKEN");
    let mut tampered = at0.clone();
    tampered.push('A');
    let v = call(
        b,
        "POST",
        "/recipe/session/verify",
        Some(verify_body(&tampered, Some(&csrf0), false)),
    )
    .await
    .json();
    assert_eq!(st(&v), "TRY_REFRESH_TOKEN");

    // Session information and data.
    let info = jcall(
        b,
        "GET",
        &format!("/recipe/session?sessionHandle={handle}"),
        None,
    )
    .await;
    assert_eq!(info["userDataInDatabase"], json!({"secret": 1}));
    assert_eq!(info["tenantId"], "public");
    assert!(info["expiry"].as_i64().unwrap() > info["timeCreated"].as_i64().unwrap());
    let handles = jcall(a, "GET", &format!("/recipe/session/user?userId={user}&fetchSessionsForAllLinkedAccounts=true&fetchAcrossAllTenants=true"), None).await;
    assert!(
        handles["sessionHandles"]
            .as_array()
            .unwrap()
            .contains(&json!(handle))
    );
    let put = jcall(
        a,
        "PUT",
        "/recipe/session/data",
        Some(json!({"sessionHandle": handle, "userDataInDatabase": {"secret": 2}})),
    )
    .await;
    assert_eq!(st(&put), "OK");
    let put = jcall(
        a,
        "PUT",
        "/recipe/session/data",
        Some(json!({"sessionHandle": "nope", "userDataInDatabase": {}})),
    )
    .await;
    assert_eq!(st(&put), "UNAUTHORISED");
    let put = jcall(a, "PUT", "/recipe/jwt/data", Some(json!({"sessionHandle": handle, "userDataInJWT": {"role": "a", "iss": "http://x/auth", "extra": true}}))).await;
    assert_eq!(st(&put), "OK");
    let bad = call(
        a,
        "PUT",
        "/recipe/jwt/data",
        Some(json!({"sessionHandle": handle, "userDataInJWT": {"exp": 1}})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // checkDatabase sees the changed payload and answers with a new token.
    let v = call(
        a,
        "POST",
        "/recipe/session/verify",
        Some(verify_body(&at0, Some(&csrf0), true)),
    )
    .await
    .json();
    assert_eq!(
        claims(v["accessToken"]["token"].as_str().unwrap())["extra"],
        true
    );
    let regen = jcall(
        b,
        "POST",
        "/recipe/session/regenerate",
        Some(json!({"accessToken": at0, "userDataInJWT": {"more": 1}})),
    )
    .await;
    assert_eq!(st(&regen), "OK");
    let rc = claims(regen["accessToken"]["token"].as_str().unwrap());
    assert_eq!(
        (rc["more"].clone(), rc["exp"].clone()),
        (json!(1), c["exp"].clone())
    );
    assert_eq!(rc["refreshTokenHash1"], c["refreshTokenHash1"]);

    // Refresh chain: R0 -> R1 (parent R0), twice is legal; verify promotes.
    let bad_csrf = call(
        a,
        "POST",
        "/recipe/session/refresh",
        Some(refresh_body(&rt0, Some("x"))),
    )
    .await
    .json();
    assert_eq!(st(&bad_csrf), "UNAUTHORISED");
    let garbage = call(
        a,
        "POST",
        "/recipe/session/refresh",
        Some(refresh_body("abc.def.V2", None)),
    )
    .await
    .json();
    assert_eq!(st(&garbage), "UNAUTHORISED");
    let r1 = call(
        a,
        "POST",
        "/recipe/session/refresh",
        Some(refresh_body(&rt0, Some(&csrf0))),
    )
    .await
    .json();
    assert_eq!(st(&r1), "OK", "{r1}");
    let r1b = call(
        b,
        "POST",
        "/recipe/session/refresh",
        Some(refresh_body(&rt0, Some(&csrf0))),
    )
    .await
    .json();
    assert_eq!(st(&r1b), "OK", "refreshing with the parent twice is legal");
    let at1 = r1["accessToken"]["token"].as_str().unwrap().to_owned();
    let rt1 = r1["refreshToken"]["token"].as_str().unwrap().to_owned();
    let csrf1 = r1["antiCsrfToken"].as_str().unwrap().to_owned();
    assert_eq!(
        claims(&at1)["parentRefreshTokenHash1"],
        auth_core::util::sha256_hex(&rt0)
    );
    assert_eq!(claims(&at1)["more"], 1);
    check_with_jwks(a, &at1).await;
    let v = call(
        b,
        "POST",
        "/recipe/session/verify",
        Some(verify_body(&at1, Some(&csrf1), false)),
    )
    .await
    .json();
    assert_eq!(st(&v), "OK");
    let promoted = v["accessToken"]["token"].as_str().expect("verify promotes");
    assert_eq!(claims(promoted)["parentRefreshTokenHash1"], Value::Null);
    assert_eq!(
        claims(promoted)["refreshTokenHash1"],
        claims(&at1)["refreshTokenHash1"]
    );
    // Verifying the promoted child again still answers (own hash is current).
    let v = call(
        a,
        "POST",
        "/recipe/session/verify",
        Some(verify_body(&at1, Some(&csrf1), false)),
    )
    .await
    .json();
    assert_eq!(st(&v), "OK");
    // The sibling child from the second parent refresh is now stale but not theft on verify.
    let sib = r1b["accessToken"]["token"].as_str().unwrap();
    let v = call(
        a,
        "POST",
        "/recipe/session/verify",
        Some(verify_body(sib, r1b["antiCsrfToken"].as_str(), false)),
    )
    .await
    .json();
    assert_eq!(st(&v), "OK");
    assert!(v.get("accessToken").is_none());
    // R1 -> R2, promote by using R2 on refresh (child refresh promotes too).
    let r2 = call(
        b,
        "POST",
        "/recipe/session/refresh",
        Some(refresh_body(&rt1, Some(&csrf1))),
    )
    .await
    .json();
    assert_eq!(st(&r2), "OK");
    let rt2 = r2["refreshToken"]["token"].as_str().unwrap().to_owned();
    let r3 = call(
        a,
        "POST",
        "/recipe/session/refresh",
        Some(refresh_body(&rt2, r2["antiCsrfToken"].as_str())),
    )
    .await
    .json();
    assert_eq!(st(&r3), "OK");
    let theft = call(
        a,
        "POST",
        "/recipe/session/refresh",
        Some(refresh_body(&rt0, Some(&csrf0))),
    )
    .await
    .json();
    assert_eq!(st(&theft), "TOKEN_THEFT_DETECTED");
    assert_eq!(
        theft["session"],
        json!({"handle": handle, "userId": user, "recipeUserId": user})
    );
    let theft = call(
        b,
        "POST",
        "/recipe/session/refresh",
        Some(refresh_body(&rt1, Some(&csrf1))),
    )
    .await
    .json();
    assert_eq!(st(&theft), "TOKEN_THEFT_DETECTED");

    // Revocation.
    let second = jcall(
        b,
        "POST",
        "/public/recipe/session",
        Some(json!({
            "userId": user, "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false,
        })),
    )
    .await;
    assert!(second.get("antiCsrfToken").is_none());
    let h2 = second["session"]["handle"].as_str().unwrap().to_owned();
    let rm = jcall(
        a,
        "POST",
        "/recipe/session/remove",
        Some(json!({"sessionHandles": [h2, "nope"]})),
    )
    .await;
    assert_eq!(rm["sessionHandlesRevoked"], json!([h2]));
    let rm = jcall(a, "POST", "/recipe/session/remove", Some(json!({"userId": user, "revokeSessionsForLinkedAccounts": true, "revokeAcrossAllTenants": true}))).await;
    assert_eq!(rm["sessionHandlesRevoked"], json!([handle]));
    let v = call(
        b,
        "POST",
        "/recipe/session/verify",
        Some(verify_body(promoted, Some(&csrf1), true)),
    )
    .await
    .json();
    assert_eq!(st(&v), "UNAUTHORISED");
    let info = jcall(
        b,
        "GET",
        &format!("/recipe/session?sessionHandle={handle}"),
        None,
    )
    .await;
    assert_eq!(st(&info), "UNAUTHORISED");
    let r = call(
        a,
        "POST",
        "/recipe/session/refresh",
        Some(refresh_body(&rt2, None)),
    )
    .await
    .json();
    assert_eq!(st(&r), "UNAUTHORISED");
    let both = call(
        a,
        "POST",
        "/recipe/session/remove",
        Some(json!({"userId": user, "sessionHandles": []})),
    )
    .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
}

/// Passwordless codes, attempt accounting and the passwordless user update.
async fn passwordless(app: &axum::Router) {
    let email = format!("p{}@example.com", uuid::Uuid::new_v4().simple());
    let c = jcall(
        app,
        "POST",
        "/public/recipe/signinup/code",
        Some(json!({"email": email.to_uppercase(), "shouldTryLinkingWithSessionUser": false})),
    )
    .await;
    assert_eq!(st(&c), "OK", "{c}");
    assert_eq!(c["userInputCode"].as_str().unwrap().len(), 6);
    assert_eq!(c["codeLifetime"], 900_000);
    let (pre, dev) = (
        c["preAuthSessionId"].as_str().unwrap(),
        c["deviceId"].as_str().unwrap(),
    );
    let both = call(
        app,
        "POST",
        "/public/recipe/signinup/code",
        Some(json!({"email": email, "phoneNumber": "+1555"})),
    )
    .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    let again = jcall(
        app,
        "POST",
        "/public/recipe/signinup/code",
        Some(json!({"deviceId": dev, "userInputCode": c["userInputCode"]})),
    )
    .await;
    assert_eq!(st(&again), "USER_INPUT_CODE_ALREADY_USED_ERROR");
    let unknown = jcall(
        app,
        "POST",
        "/public/recipe/signinup/code",
        Some(json!({"deviceId": "AAAA"})),
    )
    .await;
    assert_eq!(st(&unknown), "RESTART_FLOW_ERROR");
    for q in [
        format!("email={email}"),
        format!("deviceId={}", urlenc(dev)),
        format!("preAuthSessionId={pre}"),
    ] {
        let l = jcall(
            app,
            "GET",
            &format!("/public/recipe/signinup/codes?{q}"),
            None,
        )
        .await;
        assert_eq!(l["devices"][0]["codes"].as_array().unwrap().len(), 1, "{q}");
        assert_eq!(l["devices"][0]["email"], email);
    }
    let wrong = jcall(
        app,
        "POST",
        "/public/recipe/signinup/code/consume",
        Some(json!({"preAuthSessionId": pre, "deviceId": dev, "userInputCode": "nope"})),
    )
    .await;
    assert_eq!(
        (
            st(&wrong),
            wrong["failedCodeInputAttemptCount"].as_u64(),
            wrong["maximumCodeInputAttempts"].as_u64()
        ),
        ("INCORRECT_USER_INPUT_CODE_ERROR", Some(1), Some(5))
    );
    let mixed = call(app, "POST", "/public/recipe/signinup/code/consume", Some(json!({"preAuthSessionId": pre, "deviceId": dev, "userInputCode": "1", "linkCode": "x"}))).await;
    assert_eq!(mixed.status, StatusCode::BAD_REQUEST);
    let checked = jcall(
        app,
        "POST",
        "/public/recipe/signinup/code/check",
        Some(json!({"preAuthSessionId": pre, "linkCode": c["linkCode"]})),
    )
    .await;
    assert_eq!(checked["consumedDevice"]["failedCodeInputAttemptCount"], 1);
    let ok = jcall(
        app,
        "POST",
        "/public/recipe/signinup/code/consume",
        Some(json!({"preAuthSessionId": pre, "linkCode": c["linkCode"]})),
    )
    .await;
    assert_eq!(
        (st(&ok), ok["createdNewUser"].as_bool()),
        ("OK", Some(true))
    );
    assert_eq!(ok["user"]["loginMethods"][0]["recipeId"], "passwordless");
    assert_eq!(ok["user"]["loginMethods"][0]["verified"], true);
    assert_eq!(ok["consumedDevice"]["email"], email);
    let used = jcall(
        app,
        "POST",
        "/public/recipe/signinup/code/consume",
        Some(json!({"preAuthSessionId": pre, "linkCode": c["linkCode"]})),
    )
    .await;
    assert_eq!(st(&used), "RESTART_FLOW_ERROR");
    let uid = ok["recipeUserId"].as_str().unwrap().to_owned();
    // Five wrong codes: the fifth restarts the flow and deletes the device.
    let c2 = jcall(
        app,
        "POST",
        "/public/recipe/signinup/code",
        Some(json!({"phoneNumber": " +14155550000 "})),
    )
    .await;
    let (pre2, dev2) = (
        c2["preAuthSessionId"].as_str().unwrap(),
        c2["deviceId"].as_str().unwrap(),
    );
    for i in 1..=5 {
        let r = jcall(
            app,
            "POST",
            "/public/recipe/signinup/code/consume",
            Some(json!({"preAuthSessionId": pre2, "deviceId": dev2, "userInputCode": "x"})),
        )
        .await;
        let expected = if i < 5 {
            "INCORRECT_USER_INPUT_CODE_ERROR"
        } else {
            "RESTART_FLOW_ERROR"
        };
        assert_eq!(st(&r), expected, "attempt {i}");
    }
    let gone = jcall(
        app,
        "GET",
        "/public/recipe/signinup/codes?phoneNumber=%2B14155550000",
        None,
    )
    .await;
    assert_eq!(gone["devices"], json!([]));
    // Revoking.
    let c3 = jcall(
        app,
        "POST",
        "/public/recipe/signinup/code",
        Some(json!({"email": email})),
    )
    .await;
    jcall(
        app,
        "POST",
        "/public/recipe/signinup/code/remove",
        Some(json!({"codeId": c3["codeId"]})),
    )
    .await;
    let c4 = jcall(
        app,
        "POST",
        "/public/recipe/signinup/code",
        Some(json!({"email": email})),
    )
    .await;
    jcall(
        app,
        "POST",
        "/public/recipe/signinup/code/remove",
        Some(json!({"preAuthSessionId": c4["preAuthSessionId"]})),
    )
    .await;
    jcall(
        app,
        "POST",
        "/public/recipe/signinup/code",
        Some(json!({"email": email})),
    )
    .await;
    jcall(
        app,
        "POST",
        "/public/recipe/signinup/codes/remove",
        Some(json!({"email": email})),
    )
    .await;
    let none = jcall(
        app,
        "GET",
        &format!("/public/recipe/signinup/codes?email={email}"),
        None,
    )
    .await;
    assert_eq!(none["devices"], json!([]));
    // PUT /recipe/user with rid passwordless: absent keeps, null clears, not both.
    let put = |body: Value| async move {
        call_with(
            app,
            "PUT",
            "/recipe/user",
            Some(body),
            Some(KEY),
            &[("rid", "passwordless")],
        )
        .await
    };
    let r = put(json!({"recipeUserId": uid, "phoneNumber": "+14155551111"}))
        .await
        .json();
    assert_eq!(st(&r), "OK");
    let both = put(json!({"recipeUserId": uid, "email": null, "phoneNumber": null})).await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    let r = put(json!({"recipeUserId": uid, "email": null}))
        .await
        .json();
    assert_eq!(st(&r), "OK");
    let u = jcall(app, "GET", &format!("/user/id?userId={uid}"), None).await;
    assert_eq!(
        (
            u["user"]["emails"].clone(),
            u["user"]["phoneNumbers"].clone()
        ),
        (json!([]), json!(["+14155551111"]))
    );
    let r = put(json!({"recipeUserId": "nope", "email": "a@b.c"}))
        .await
        .json();
    assert_eq!(st(&r), "UNKNOWN_USER_ID_ERROR");
}

/// Third-party sign-in/up and multitenancy.
async fn third_party_and_tenants(app: &axum::Router) {
    let tp_user = uuid::Uuid::new_v4().to_string();
    let body = json!({"thirdPartyId": "google", "thirdPartyUserId": tp_user, "email": {"id": "T@x.com", "isVerified": true}});
    let first = jcall(app, "POST", "/public/recipe/signinup", Some(body.clone())).await;
    assert_eq!(
        (st(&first), first["createdNewUser"].as_bool()),
        ("OK", Some(true))
    );
    assert_eq!(
        first["user"]["thirdParty"],
        json!([{"id": "google", "userId": tp_user}])
    );
    assert_eq!(first["user"]["emails"], json!(["t@x.com"]));
    assert_eq!(first["user"]["loginMethods"][0]["verified"], true);
    let second = jcall(app, "POST", "/public/recipe/signinup", Some(body)).await;
    assert_eq!(
        (second["createdNewUser"].as_bool(), &second["user"]["id"]),
        (Some(false), &first["user"]["id"])
    );
    // The provider reports another email: it is stored (and verified as reported).
    let moved = json!({"thirdPartyId": "google", "thirdPartyUserId": tp_user, "email": {"id": " T2@x.com", "isVerified": true}});
    let third = jcall(app, "POST", "/public/recipe/signinup", Some(moved)).await;
    assert_eq!(
        (st(&third), third["createdNewUser"].as_bool()),
        ("OK", Some(false))
    );
    assert_eq!(third["user"]["emails"], json!(["t2@x.com"]));
    assert_eq!(third["user"]["loginMethods"][0]["verified"], true);
    let id = first["user"]["id"].as_str().unwrap();
    let stored = jcall(app, "GET", &format!("/user/id?userId={id}"), None).await;
    assert_eq!(stored["user"]["loginMethods"][0]["email"], "t2@x.com");
    let by_new = jcall(
        app,
        "GET",
        "/public/users/by-accountinfo?email=t2%40x.com&doUnionOfAccountInfo=false",
        None,
    )
    .await;
    assert_eq!(by_new["users"][0]["id"], id);

    // Unknown tenants: tenant-specific APIs answer 400 before any handler, GET
    // tenant/v2 answers its own status, app-specific APIs keep their 403.
    for (method, path, body) in [
        (
            "POST",
            "/nosuch/recipe/signup",
            Some(json!({"email": "a@b.c", "password": "x"})),
        ),
        ("GET", "/nosuch/users", None),
        (
            "POST",
            "/nosuch/recipe/session",
            Some(
                json!({"userId": "u", "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false}),
            ),
        ),
        (
            "POST",
            "/appid-nosuch/public/recipe/signup",
            Some(json!({"email": "a@b.c", "password": "x"})),
        ),
    ] {
        let r = call(app, method, path, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            r.text.starts_with("AppId or tenantId not found"),
            "{path}: {}",
            r.text
        );
    }
    let missing = jcall(app, "GET", "/nosuch/recipe/multitenancy/tenant/v2", None).await;
    assert_eq!(st(&missing), "TENANT_NOT_FOUND_ERROR");
    let app_api = call(app, "GET", "/nosuch/user/id?userId=x", None).await;
    assert_eq!(app_api.status, StatusCode::FORBIDDEN);
    let no_verified = call(
        app,
        "POST",
        "/public/recipe/signinup",
        Some(json!({"thirdPartyId": "g", "thirdPartyUserId": "1", "email": {"id": "a@b.c"}})),
    )
    .await;
    assert_eq!(no_verified.status, StatusCode::BAD_REQUEST);
    let uid = first["recipeUserId"].as_str().unwrap().to_owned();

    let t = new_tenant(app, "t").await;
    let got = jcall(
        app,
        "GET",
        &format!("/{t}/recipe/multitenancy/tenant/v2"),
        None,
    )
    .await;
    assert_eq!(
        (got["tenantId"].as_str(), got["firstFactors"].clone()),
        (Some(t.as_str()), json!([]))
    );
    let updated = jcall(
        app,
        "PUT",
        "/public/recipe/multitenancy/tenant/v2",
        Some(json!({"tenantId": t, "firstFactors": null, "coreConfig": {"a": 1, "b": 2}})),
    )
    .await;
    assert_eq!(updated["createdNew"], false);
    jcall(
        app,
        "PUT",
        "/public/recipe/multitenancy/tenant/v2",
        Some(json!({"tenantId": t, "coreConfig": {"a": null}})),
    )
    .await;
    let got = jcall(
        app,
        "GET",
        &format!("/{t}/recipe/multitenancy/tenant/v2"),
        None,
    )
    .await;
    assert!(got.get("firstFactors").is_none());
    assert_eq!(got["coreConfig"], json!({"b": 2}));
    let legacy = call(
        app,
        "PUT",
        "/public/recipe/multitenancy/tenant/v2",
        Some(json!({"tenantId": t, "emailPasswordEnabled": true})),
    )
    .await;
    assert_eq!(legacy.status, StatusCode::BAD_REQUEST);
    let bad_id = call(
        app,
        "PUT",
        "/public/recipe/multitenancy/tenant/v2",
        Some(json!({"tenantId": "recipe"})),
    )
    .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    let public = jcall(app, "GET", "/public/recipe/multitenancy/tenant/v2", None).await;
    assert!(public.get("firstFactors").is_none());
    let list = jcall(app, "GET", "/recipe/multitenancy/tenant/list/v2", None).await;
    assert!(
        list["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["tenantId"] == t.as_str())
    );
    let a = jcall(
        app,
        "POST",
        &format!("/{t}/recipe/multitenancy/tenant/user"),
        Some(json!({"recipeUserId": uid})),
    )
    .await;
    assert_eq!(a["wasAlreadyAssociated"], false);
    let a = jcall(
        app,
        "POST",
        &format!("/{t}/recipe/multitenancy/tenant/user"),
        Some(json!({"recipeUserId": uid})),
    )
    .await;
    assert_eq!(a["wasAlreadyAssociated"], true);
    let unknown = jcall(
        app,
        "POST",
        &format!("/{t}/recipe/multitenancy/tenant/user"),
        Some(json!({"recipeUserId": uuid::Uuid::new_v4().to_string()})),
    )
    .await;
    assert_eq!(st(&unknown), "UNKNOWN_USER_ID_ERROR");
    let count = jcall(app, "GET", &format!("/{t}/users/count"), None).await;
    assert_eq!(count["count"], 1);
    let s = jcall(app, "POST", &format!("/{t}/recipe/session"), Some(json!({"userId": uid, "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false}))).await;
    let handle = s["session"]["handle"].as_str().unwrap().to_owned();
    assert!(handle.ends_with(&format!("_{t}")));
    assert_eq!(
        claims(s["accessToken"]["token"].as_str().unwrap())["tId"],
        t.as_str()
    );
    let info = jcall(
        app,
        "GET",
        &format!("/recipe/session?sessionHandle={handle}"),
        None,
    )
    .await;
    assert_eq!(info["tenantId"], t.as_str());
    let d = jcall(
        app,
        "POST",
        &format!("/{t}/recipe/multitenancy/tenant/user/remove"),
        Some(json!({"recipeUserId": uid})),
    )
    .await;
    assert_eq!(d["wasAssociated"], true);
    let forbidden = call(
        app,
        "POST",
        "/recipe/multitenancy/tenant/remove",
        Some(json!({"tenantId": "public"})),
    )
    .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let removed = jcall(
        app,
        "POST",
        "/recipe/multitenancy/tenant/remove",
        Some(json!({"tenantId": t})),
    )
    .await;
    assert_eq!(removed["didExist"], true);
    let missing = jcall(
        app,
        "GET",
        &format!("/{t}/recipe/multitenancy/tenant/v2"),
        None,
    )
    .await;
    assert_eq!(st(&missing), "TENANT_NOT_FOUND_ERROR");
}

/// Concurrent refreshes with one un-promoted child token, on both cores: every one
/// succeeds (one promotes, the others find it promoted); none is theft.
async fn concurrent_refreshes(a: &axum::Router, b: &axum::Router, user: &str) {
    let created = jcall(a, "POST", "/public/recipe/session", Some(json!({"userId": user, "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false}))).await;
    let rt0 = created["refreshToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"refreshToken": rt0, "enableAntiCsrf": false, "useDynamicSigningKey": true});
    let r1 = jcall(a, "POST", "/recipe/session/refresh", Some(body)).await;
    let rt1 = r1["refreshToken"]["token"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        let body =
            json!({"refreshToken": rt1, "enableAntiCsrf": false, "useDynamicSigningKey": true});
        tasks.push(tokio::spawn(async move {
            jcall(&app, "POST", "/recipe/session/refresh", Some(body)).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(st(&r), "OK", "{r}");
    }
}

/// Account linking and user-id mapping (made through the storage: cdi.md b.2-b.8 has
/// no endpoint for them) as the SDK sees them: the group's user JSON, sessions of a
/// linked login method (`sub` = primary, `rsub` = recipe user), external ids shown
/// and accepted, third-party email changes refused on a collision between primary
/// users, deletion of one login method or of the group.
async fn linking_and_mapping(app: &axum::Router, storage: &dyn Storage) {
    use storage_api::{AppId, UserIdMapping};
    let public = AppId::public();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (p_email, r_email, q_email) = (
        format!("p{tag}@x.com"),
        format!("r{tag}@x.com"),
        format!("q{tag}@x.com"),
    );
    let signup = |email: String| async move {
        let up = jcall(
            app,
            "POST",
            "/public/recipe/signup",
            Some(json!({"email": email, "password": "abcd1234"})),
        )
        .await;
        up["recipeUserId"].as_str().unwrap().to_owned()
    };
    let pid = signup(p_email.clone()).await;
    let qid = signup(q_email.clone()).await;
    let tp = |email: &str| json!({"thirdPartyId": "google", "thirdPartyUserId": format!("g{tag}"), "email": {"id": email, "isVerified": false}});
    let r = jcall(app, "POST", "/public/recipe/signinup", Some(tp(&r_email))).await;
    let rid = r["recipeUserId"].as_str().unwrap().to_owned();
    storage.make_primary(&public, &pid).await.unwrap();
    storage.make_primary(&public, &qid).await.unwrap();
    storage.link(&public, &rid, &pid).await.unwrap();

    // The group, by any of its ids.
    for id in [&pid, &rid] {
        let u = jcall(app, "GET", &format!("/user/id?userId={id}"), None).await;
        let u = &u["user"];
        assert_eq!(u["id"], pid.as_str(), "{u}");
        assert_eq!(u["isPrimaryUser"], true);
        assert_eq!(u["tenantIds"], json!(["public"]));
        assert_eq!(u["emails"], json!([p_email, r_email]));
        assert_eq!(
            u["thirdParty"],
            json!([{"id": "google", "userId": format!("g{tag}")}])
        );
        let methods: Vec<(&str, &str)> = u["loginMethods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["recipeId"].as_str().unwrap(),
                    m["recipeUserId"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            methods,
            vec![
                ("emailpassword", pid.as_str()),
                ("thirdparty", rid.as_str())
            ]
        );
    }
    // Signing in through the linked method answers the group and the method's id.
    let again = jcall(app, "POST", "/public/recipe/signinup", Some(tp(&r_email))).await;
    assert_eq!(
        pair(&again, &["user", "id"], &["recipeUserId"]),
        (pid.as_str(), rid.as_str())
    );
    // Its provider now reports the email of another primary user: refused.
    let clash = jcall(app, "POST", "/public/recipe/signinup", Some(tp(&q_email))).await;
    assert_eq!(st(&clash), "EMAIL_CHANGE_NOT_ALLOWED_ERROR", "{clash}");
    assert_eq!(
        clash["reason"],
        "Email already associated with another primary user."
    );

    // A session of the linked login method.
    let s = plain_session(app, &rid, true).await;
    assert_eq!(
        pair(&s, &["session", "userId"], &["session", "recipeUserId"]),
        (pid.as_str(), rid.as_str())
    );
    let c = claims(s["accessToken"]["token"].as_str().unwrap());
    assert_eq!(pair(&c, &["sub"], &["rsub"]), (pid.as_str(), rid.as_str()));
    let handle = s["session"]["handle"].as_str().unwrap().to_owned();
    let r = plain_refresh(app, s["refreshToken"]["token"].as_str().unwrap(), true).await;
    let c = claims(r["accessToken"]["token"].as_str().unwrap());
    assert_eq!(pair(&c, &["sub"], &["rsub"]), (pid.as_str(), rid.as_str()));
    let info = jcall(
        app,
        "GET",
        &format!("/recipe/session?sessionHandle={handle}"),
        None,
    )
    .await;
    assert_eq!(
        pair(&info, &["userId"], &["recipeUserId"]),
        (pid.as_str(), rid.as_str())
    );
    // Listed under the primary user with its linked accounts, not without them.
    let with = jcall(
        app,
        "GET",
        &format!("/recipe/session/user?userId={pid}"),
        None,
    )
    .await;
    assert!(
        with["sessionHandles"]
            .as_array()
            .unwrap()
            .contains(&json!(handle)),
        "{with}"
    );
    let without = jcall(
        app,
        "GET",
        &format!("/recipe/session/user?userId={pid}&fetchSessionsForAllLinkedAccounts=false"),
        None,
    )
    .await;
    assert!(
        !without["sessionHandles"]
            .as_array()
            .unwrap()
            .contains(&json!(handle)),
        "{without}"
    );

    // The primary user mapped to an external id: shown and accepted by that id.
    let ext = format!("ext-{tag}");
    storage
        .create_user_id_mapping(
            &public,
            &UserIdMapping {
                supertokens_user_id: pid.clone(),
                external_user_id: ext.clone(),
                external_user_id_info: None,
            },
        )
        .await
        .unwrap();
    let u = jcall(app, "GET", &format!("/user/id?userId={ext}"), None).await;
    assert_eq!(u["user"]["id"], ext.as_str(), "{u}");
    assert_eq!(u["user"]["loginMethods"][0]["recipeUserId"], ext.as_str());
    assert_eq!(u["user"]["loginMethods"][1]["recipeUserId"], rid.as_str());
    let by = jcall(
        app,
        "GET",
        &format!(
            "/public/users/by-accountinfo?email={}&doUnionOfAccountInfo=false",
            urlenc(&p_email)
        ),
        None,
    )
    .await;
    assert_eq!(by["users"][0]["id"], ext.as_str());
    let signin = jcall(
        app,
        "POST",
        "/public/recipe/signin",
        Some(json!({"email": p_email, "password": "abcd1234"})),
    )
    .await;
    assert_eq!(
        pair(&signin, &["user", "id"], &["recipeUserId"]),
        (ext.as_str(), ext.as_str())
    );
    let s = plain_session(app, &rid, true).await;
    let c = claims(s["accessToken"]["token"].as_str().unwrap());
    assert_eq!(pair(&c, &["sub"], &["rsub"]), (ext.as_str(), rid.as_str()));

    // Email verification under the external id (as the SDK gives it) shows in the
    // user JSON of the mapped login method.
    let ev = json!({"userId": ext, "email": p_email});
    let tok = jcall(
        app,
        "POST",
        "/public/recipe/user/email/verify/token",
        Some(ev),
    )
    .await;
    let body = json!({"method": "token", "token": tok["token"]});
    let done = jcall(app, "POST", "/public/recipe/user/email/verify", Some(body)).await;
    assert_eq!(pair(&done, &["status"], &["userId"]), ("OK", ext.as_str()));
    let u = jcall(app, "GET", &format!("/user/id?userId={ext}"), None).await;
    assert_eq!(u["user"]["loginMethods"][0]["verified"], true, "{u}");
    assert_eq!(u["user"]["loginMethods"][1]["verified"], false, "{u}");

    // The email-password endpoints and tenant association take the external id too.
    let tok = jcall(
        app,
        "POST",
        "/public/recipe/user/password/reset/token",
        Some(json!({"userId": ext, "email": p_email})),
    )
    .await;
    assert_eq!(st(&tok), "OK", "{tok}");
    let used = jcall(
        app,
        "POST",
        "/public/recipe/user/password/reset/token/consume",
        Some(json!({"token": tok["token"]})),
    )
    .await;
    assert_eq!(pair(&used, &["status"], &["userId"]), ("OK", ext.as_str()));
    let ep_put = [("cdi-version", "5.4"), ("rid", "emailpassword")];
    let body = json!({"recipeUserId": ext, "password": "newpass123"});
    let upd = call_with(app, "PUT", "/recipe/user", Some(body), Some(KEY), &ep_put)
        .await
        .json();
    assert_eq!(st(&upd), "OK", "{upd}");
    let signin = jcall(
        app,
        "POST",
        "/public/recipe/signin",
        Some(json!({"email": p_email, "password": "newpass123"})),
    )
    .await;
    assert_eq!(st(&signin), "OK");
    let t = format!("l{}", &tag[..8]);
    jcall(
        app,
        "PUT",
        "/public/recipe/multitenancy/tenant/v2",
        Some(json!({"tenantId": t})),
    )
    .await;
    let joined = jcall(
        app,
        "POST",
        &format!("/{t}/recipe/multitenancy/tenant/user"),
        Some(json!({"recipeUserId": ext})),
    )
    .await;
    assert_eq!(
        pair(&joined, &["status"], &["status"]),
        ("OK", "OK"),
        "{joined}"
    );
    // In that tenant another primary user has the email of the group's third-party
    // login method: that method may not join.
    let z = jcall(
        app,
        "POST",
        &format!("/{t}/recipe/signup"),
        Some(json!({"email": r_email, "password": "abcd1234"})),
    )
    .await;
    storage
        .make_primary(&public, z["recipeUserId"].as_str().unwrap())
        .await
        .unwrap();
    let refused = jcall(
        app,
        "POST",
        &format!("/{t}/recipe/multitenancy/tenant/user"),
        Some(json!({"recipeUserId": rid})),
    )
    .await;
    assert_eq!(st(&refused), "ASSOCIATION_NOT_ALLOWED_ERROR", "{refused}");

    // Deleting only the linked login method keeps the group; deleting by the external
    // id removes the group.
    let removed = jcall(
        app,
        "POST",
        "/user/remove",
        Some(json!({"userId": rid, "removeAllLinkedAccounts": false})),
    )
    .await;
    assert_eq!(st(&removed), "OK");
    let u = jcall(app, "GET", &format!("/user/id?userId={ext}"), None).await;
    assert_eq!(
        u["user"]["loginMethods"].as_array().unwrap().len(),
        1,
        "{u}"
    );
    let gone = jcall(app, "GET", &format!("/user/id?userId={rid}"), None).await;
    assert_eq!(st(&gone), "UNKNOWN_USER_ID_ERROR");
    jcall(app, "POST", "/user/remove", Some(json!({"userId": ext}))).await;
    let gone = jcall(app, "GET", &format!("/user/id?userId={ext}"), None).await;
    assert_eq!(st(&gone), "UNKNOWN_USER_ID_ERROR");
}

/// An app other than `public` (created through the storage: cdi.md has no app API):
/// its own users, tenants, signing keys (dynamic and static) and refresh-token key,
/// agreed by both cores; its tokens mean nothing to the public app.
async fn other_app(a: &axum::Router, b: &axum::Router, storage: &dyn Storage) {
    use storage_api::{AppId, TenantConfig, TenantConfigKey, TenantIdentifier};
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let app_id = format!("a{tag}");
    let public_of_app = TenantIdentifier {
        app: AppId::new(&app_id).unwrap(),
        tenant: storage_api::TenantId::public(),
    };
    let p = |path: &str| format!("/appid-{app_id}{path}");
    // Unknown until the app exists.
    let r = call(a, "GET", &p("/public/users"), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.text.starts_with("AppId or tenantId not found"),
        "{}",
        r.text
    );
    storage
        .add_tenant(&public_of_app, auth_core::util::now_ms())
        .await
        .unwrap();
    let config = TenantConfig::new(TenantConfigKey::new(public_of_app.clone()));
    storage.create_tenant_config(&config).await.unwrap();

    let email = format!("o{tag}@x.com");
    let body = json!({"email": email, "password": "abcd1234"});
    let up = jcall(a, "POST", &p("/public/recipe/signup"), Some(body.clone())).await;
    assert_eq!(st(&up), "OK", "{up}");
    let user = up["recipeUserId"].as_str().unwrap().to_owned();
    let listed = jcall(b, "GET", &p("/public/users"), None).await;
    assert_eq!(listed["users"][0]["id"], user.as_str());
    let elsewhere = jcall(a, "POST", "/public/recipe/signin", Some(body)).await;
    assert_eq!(st(&elsewhere), "WRONG_CREDENTIALS_ERROR");
    let none = jcall(a, "GET", &format!("/user/id?userId={user}"), None).await;
    assert_eq!(st(&none), "UNKNOWN_USER_ID_ERROR");

    for dynamic in [true, false] {
        let body = json!({"userId": user, "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false, "useDynamicSigningKey": dynamic});
        let created = jcall(a, "POST", &p("/public/recipe/session"), Some(body)).await;
        assert_eq!(st(&created), "OK", "{created}");
        let at = created["accessToken"]["token"].as_str().unwrap();
        let rt = created["refreshToken"]["token"].as_str().unwrap();
        let kid = kid_of(at);
        // Published by the app's JWKS on both cores, not by the public app's.
        for core in [a, b] {
            let jwks = call_with(core, "GET", &p("/.well-known/jwks.json"), None, None, &[])
                .await
                .json();
            assert!(
                jwks["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kid"] == kid.as_str())
            );
        }
        let public_jwks = call_with(a, "GET", "/.well-known/jwks.json", None, None, &[])
            .await
            .json();
        assert!(
            !public_jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == kid.as_str())
        );
        let verify = json!({"accessToken": at, "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": true});
        let v = jcall(
            b,
            "POST",
            &p("/recipe/session/verify"),
            Some(verify.clone()),
        )
        .await;
        assert_eq!(st(&v), "OK", "{v}");
        let v = jcall(b, "POST", "/recipe/session/verify", Some(verify)).await;
        assert_eq!(st(&v), "TRY_REFRESH_TOKEN", "{v}");
        let refresh =
            json!({"refreshToken": rt, "enableAntiCsrf": false, "useDynamicSigningKey": dynamic});
        let r = jcall(
            b,
            "POST",
            &p("/recipe/session/refresh"),
            Some(refresh.clone()),
        )
        .await;
        assert_eq!(st(&r), "OK", "{r}");
        assert_eq!(kid_of(r["accessToken"]["token"].as_str().unwrap()), kid);
        let r = jcall(b, "POST", "/recipe/session/refresh", Some(refresh)).await;
        assert_eq!(st(&r), "UNAUTHORISED", "{r}");
    }
    let r = call(a, "GET", &p("/nosuch/users"), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

/// A new tenant of the public app, named `prefix` + 8 random hex digits.
async fn new_tenant(app: &axum::Router, prefix: &str) -> String {
    let t = format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let created = jcall(
        app,
        "PUT",
        "/public/recipe/multitenancy/tenant/v2",
        Some(json!({"tenantId": t})),
    )
    .await;
    assert_eq!(created["createdNew"], true);
    t
}

/// The ids of a `GET /<t>/users` answer, in order.
fn listed(v: &Value) -> Vec<String> {
    v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `ids` sorted (search results compared as sets).
fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// The dashboard's search on `GET /<t>/users` (`email`, `phone`, `provider`), in a
/// tenant of its own: tags split on `;`, trimmed and lower-cased; email tags match a
/// prefix of the email or of its domain; combinations as SuperTokens' plugins combine
/// them; no `nextPaginationToken`, no page size and no recipe filter while searching.
async fn dashboard_search(app: &axum::Router) {
    let t = new_tenant(app, "s").await;
    let mut ids = std::collections::HashMap::new();
    for (name, email) in [
        ("ep1", "alice@alpha.com"),
        ("ep2", "bob@beta.org"),
        ("ep3", " Carol@Alpha.com"),
    ] {
        let r = jcall(
            app,
            "POST",
            &format!("/{t}/recipe/signup"),
            Some(json!({"email": email, "password": "pw123456"})),
        )
        .await;
        assert_eq!(st(&r), "OK", "{r}");
        ids.insert(name, r["user"]["id"].as_str().unwrap().to_owned());
    }
    for (name, provider, email) in [
        ("tp1", "google", "dave@beta.org"),
        ("tp2", "github", "erin@gamma.net"),
    ] {
        let body = json!({"thirdPartyId": provider, "thirdPartyUserId": name, "email": {"id": email, "isVerified": false}});
        let r = jcall(app, "POST", &format!("/{t}/recipe/signinup"), Some(body)).await;
        assert_eq!(st(&r), "OK", "{r}");
        ids.insert(name, r["user"]["id"].as_str().unwrap().to_owned());
    }
    for (name, contact) in [
        ("pl1", json!({"phoneNumber": "+15550001"})),
        ("pl2", json!({"phoneNumber": "+447000001"})),
        ("pl3", json!({"email": "frank@alpha.com"})),
    ] {
        let c = jcall(
            app,
            "POST",
            &format!("/{t}/recipe/signinup/code"),
            Some(contact),
        )
        .await;
        let r = jcall(
            app,
            "POST",
            &format!("/{t}/recipe/signinup/code/consume"),
            Some(json!({"preAuthSessionId": c["preAuthSessionId"], "linkCode": c["linkCode"]})),
        )
        .await;
        assert_eq!(st(&r), "OK", "{r}");
        ids.insert(name, r["user"]["id"].as_str().unwrap().to_owned());
    }
    let want = |names: &[&str]| sorted(names.iter().map(|n| ids[n].clone()).collect());
    let search = |q: String| {
        let path = format!("/{t}/users?{q}");
        async move {
            let v = jcall(app, "GET", &path, None).await;
            assert_eq!(v["nextPaginationToken"], Value::Null, "{path}: {v}");
            listed(&v)
        }
    };
    for (q, names) in [
        // Email prefix or domain prefix; tags are trimmed and lower-cased.
        ("email=al", &["ep1", "ep3", "pl3"][..]),
        ("email=alice", &["ep1"]),
        ("email=beta.org", &["ep2", "tp1"]),
        ("email=%20ALICE%20;ERIN;;", &["ep1", "tp2"]),
        ("email=carol%40alpha.c", &["ep3"]),
        // Phone prefix ('+' encoded as the SDK's URLSearchParams does).
        ("phone=%2B1555", &["pl1"]),
        ("phone=%2B44;%2B1", &["pl1", "pl2"]),
        // Provider prefix.
        ("provider=goo", &["tp1"]),
        ("provider=G", &["tp1", "tp2"]),
        // Combinations: a third-party login method needs both its email and its
        // provider to match; email-password ones match by email; passwordless ones by
        // email or phone.
        ("email=beta&provider=google", &["ep2", "tp1"]),
        ("email=beta&provider=git", &["ep2"]),
        ("email=frank&phone=%2B4470", &["pl2", "pl3"]),
        ("email=zzz&phone=%2B1", &["pl1"]),
        // No match.
        ("email=zzz", &[]),
        ("phone=%2B9", &[]),
        ("provider=apple", &[]),
        // While searching, limit, paginationToken and includeRecipeIds do not narrow
        // the answer (SuperTokens' AuthRecipe.getUsers).
        ("email=al&limit=1", &["ep1", "ep3", "pl3"]),
        ("email=al&limit=100000", &["ep1", "ep3", "pl3"]),
        (
            "email=al&includeRecipeIds=emailpassword",
            &["ep1", "ep3", "pl3"],
        ),
    ] {
        assert_eq!(sorted(search(q.to_owned()).await), want(names), "{q}");
    }
    // Ordered by time joined, in the requested direction.
    let asc = search("email=a;b".into()).await;
    assert_eq!(
        sorted(asc.clone()),
        want(&["ep1", "ep2", "ep3", "tp1", "pl3"])
    );
    let joined = |v: &Value| -> Vec<i64> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["timeJoined"].as_i64().unwrap())
            .collect()
    };
    let v = jcall(app, "GET", &format!("/{t}/users?email=a;b"), None).await;
    assert!(joined(&v).is_sorted());
    let mut desc = search("email=a;b&timeJoinedOrder=DESC".into()).await;
    desc.reverse();
    assert_eq!(desc, asc);
    // A token from a plain listing is still checked, then not used.
    let first = jcall(app, "GET", &format!("/{t}/users?limit=1"), None).await;
    let token = urlenc(first["nextPaginationToken"].as_str().unwrap());
    assert_eq!(
        sorted(search(format!("email=al&paginationToken={token}")).await),
        want(&["ep1", "ep3", "pl3"])
    );
    // Only empty tags: no search (a plain page, with its token).
    let plain = jcall(
        app,
        "GET",
        &format!("/{t}/users?email=%20;%20&limit=2"),
        None,
    )
    .await;
    assert_eq!(listed(&plain).len(), 2);
    assert!(plain["nextPaginationToken"].is_string());
    // Another tenant's users are not searched.
    let public = jcall(app, "GET", "/public/users?email=alpha.com", None).await;
    assert!(
        listed(&public)
            .iter()
            .all(|id| !ids.values().any(|x| x == id))
    );
    // Validation, in the Java core's words.
    for (q, text) in [
        ("limit=501", "max limit allowed is 500"),
        ("limit=0", "limit must a positive integer with min value 1"),
        (
            "email=a&limit=-1",
            "limit must a positive integer with min value 1",
        ),
        (
            "limit=x",
            "Field name 'limit' must be an int in the GET request",
        ),
        ("email=a&paginationToken=zz", "invalid pagination token"),
        ("email=a&includeRecipeIds=nope", "Unknown recipe ID: nope"),
        (
            "email=a&timeJoinedOrder=asc",
            "timeJoinedOrder can be either ASC OR DESC",
        ),
    ] {
        let r = call(app, "GET", &format!("/{t}/users?{q}"), None).await;
        assert_eq!(
            (r.status, r.text.as_str()),
            (StatusCode::BAD_REQUEST, text),
            "{q}"
        );
    }
    let long = "a".repeat(257);
    let r = call(app, "GET", &format!("/{t}/users?email={long}"), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let edge = "a".repeat(256);
    assert_eq!(search(format!("email={edge}")).await, Vec::<String>::new());
}

async fn everything(a: Arc<dyn Storage>, b: Arc<dyn Storage>) {
    let storage = a.clone();
    let (a, b) = (core_on(a).await, core_on(b).await);
    transport(&a).await;
    let user = users_and_passwords(&a).await;
    sessions(&a, &b, &user).await;
    concurrent_refreshes(&a, &b, &user).await;
    passwordless(&a).await;
    third_party_and_tenants(&b).await;
    dashboard_search(&b).await;
    linking_and_mapping(&a, &*storage).await;
    other_app(&a, &b, &*storage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite://{}", dir.path().join("core.db").display());
    let a = storage_api::open(&uri, Default::default()).await.unwrap();
    storage_api::migrate_up(&*a).await.unwrap();
    let b = storage_api::open(&uri, Default::default()).await.unwrap();
    everything(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_cores_one_database() {
    storage_tests::backends::postgres::in_fresh_schema(|schema| async move {
        let a = storage_tests::backends::postgres::open_in_schema(&schema, None).await;
        let b = storage_tests::backends::postgres::open_in_schema(&schema, None).await;
        everything(a, b).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_two_cores_one_database() {
    storage_tests::backends::mysql::in_fresh_database(|db| async move {
        let a =
            storage_tests::backends::mysql::open_in_database(&db, None, Default::default()).await;
        let b =
            storage_tests::backends::mysql::open_in_database(&db, None, Default::default()).await;
        everything(a, b).await;
    })
    .await;
}
