//! Shared fixtures of the conformance suite: identifiers, tenants, users, sessions,
//! devices and tokens with fixed times, assertion helpers for errors and raw SQL, and
//! the race runner.

use crate::harness::Ctx;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use storage_api::*;

/// A fixed "now" used by tests that compare with the current time (ms).
pub const NOW: i64 = 1_700_000_000_000;
/// One hour in ms.
pub const HOUR: i64 = 3_600_000;
/// Concurrent tasks in every race test.
pub const RACERS: usize = 16;

/// A fresh recipe user id: a UUID written as 36 characters.
pub fn uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A fresh 44-character base64-like hash (device id hash, link-code hash, salt).
pub fn hash44() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    let s = format!("{a}{}=", &b[..11]);
    debug_assert_eq!(s.len(), 44);
    s
}

/// A fresh string usable as a token, handle or refresh-token hash.
pub fn token() -> String {
    format!("tok-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh email address (lower-case, as the caller would normalise it).
pub fn email() -> String {
    format!(
        "u{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A fresh phone number.
pub fn phone() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let r = uuid::Uuid::new_v4().as_u128() % 1_000_000;
    format!("+1555{r:06}{n:04}")
}

/// An app id.
pub fn app(name: &str) -> AppId {
    AppId::new(name).expect("valid app id")
}

/// A tenant identifier.
pub fn tenant(app: &str, tenant: &str) -> TenantIdentifier {
    TenantIdentifier::new(app, tenant).expect("valid tenant identifier")
}

/// The public tenant of the public app.
pub fn public() -> TenantIdentifier {
    TenantIdentifier::default_public()
}

/// Adds the public tenant of `app` (if missing) and the tenant itself (if missing),
/// returning its identifier.
pub async fn setup_tenant(ctx: &Ctx, app: &str, tenant_id: &str) -> TenantIdentifier {
    let t = tenant(app, tenant_id);
    let p = TenantIdentifier::public(t.app.clone());
    for x in [&p, &t] {
        match ctx.storage.add_tenant(x, 1_000).await {
            Ok(()) | Err(StorageError::DuplicateTenant) => {}
            Err(e) => panic!("add_tenant({x}) failed: {e:?}"),
        }
    }
    t
}

/// The public tenant of the public app, created.
pub async fn setup_public(ctx: &Ctx) -> TenantIdentifier {
    setup_tenant(ctx, "public", "public").await
}

/// Email-password sign-up input.
pub fn ep_input(t: &TenantIdentifier, email: &str, time_joined: i64) -> EmailPasswordSignUp {
    EmailPasswordSignUp {
        tenant: t.clone(),
        user_id: uid(),
        email: email.to_owned(),
        password_hash: Secret::new("$argon2id$v=19$hash"),
        time_joined,
    }
}

/// Signs up an email-password user, panicking on failure.
pub async fn ep_user(ctx: &Ctx, t: &TenantIdentifier, email: &str, time_joined: i64) -> User {
    let input = ep_input(t, email, time_joined);
    ctx.storage
        .sign_up_email_password(&input)
        .await
        .unwrap_or_else(|e| panic!("email-password sign-up of {email} in {t} failed: {e:?}"))
}

/// Third-party sign-up input.
pub fn tp_input(
    t: &TenantIdentifier,
    email: &str,
    third_party_id: &str,
    third_party_user_id: &str,
    time_joined: i64,
) -> ThirdPartySignUp {
    ThirdPartySignUp {
        tenant: t.clone(),
        user_id: uid(),
        email: email.to_owned(),
        third_party: ThirdPartyInfo {
            third_party_id: third_party_id.to_owned(),
            third_party_user_id: third_party_user_id.to_owned(),
        },
        time_joined,
    }
}

/// Signs up a third-party user, panicking on failure.
pub async fn tp_user(
    ctx: &Ctx,
    t: &TenantIdentifier,
    email: &str,
    third_party_id: &str,
    third_party_user_id: &str,
    time_joined: i64,
) -> User {
    let input = tp_input(t, email, third_party_id, third_party_user_id, time_joined);
    ctx.storage
        .sign_up_third_party(&input)
        .await
        .unwrap_or_else(|e| panic!("third-party sign-up in {t} failed: {e:?}"))
}

/// Passwordless sign-up input.
pub fn pl_input(
    t: &TenantIdentifier,
    email: Option<&str>,
    phone: Option<&str>,
    time_joined: i64,
) -> PasswordlessSignUp {
    PasswordlessSignUp {
        tenant: t.clone(),
        user_id: uid(),
        email: email.map(str::to_owned),
        phone_number: phone.map(str::to_owned),
        time_joined,
    }
}

/// Creates a passwordless user, panicking on failure.
pub async fn pl_user(
    ctx: &Ctx,
    t: &TenantIdentifier,
    email: Option<&str>,
    phone: Option<&str>,
    time_joined: i64,
) -> User {
    let input = pl_input(t, email, phone, time_joined);
    ctx.storage
        .create_passwordless_user(&input)
        .await
        .unwrap_or_else(|e| panic!("passwordless sign-up in {t} failed: {e:?}"))
}

/// A session with fixed times: created at `NOW`, expiring an hour later.
pub fn session(t: &TenantIdentifier, user_id: &str) -> NewSession {
    NewSession {
        tenant: t.clone(),
        handle: token(),
        user_id: user_id.to_owned(),
        refresh_token_hash: token(),
        session_data: json!({"role": "admin", "n": 1}),
        expires_at: NOW + HOUR,
        jwt_payload: json!({"sub": user_id, "scopes": ["a", "b"]}),
        created_at: NOW,
        use_static_key: false,
    }
}

/// Creates a session, panicking on failure.
pub async fn create_session(ctx: &Ctx, t: &TenantIdentifier, user_id: &str) -> NewSession {
    let s = session(t, user_id);
    ctx.storage
        .create_session(&s)
        .await
        .unwrap_or_else(|e| panic!("create_session in {t} failed: {e:?}"));
    s
}

/// A new passwordless device with its first code, created at `created_at`.
pub fn device(
    t: &TenantIdentifier,
    email: Option<&str>,
    phone: Option<&str>,
    created_at: i64,
) -> NewDevice {
    let device_id_hash = hash44();
    NewDevice {
        tenant: t.clone(),
        device_id_hash: device_id_hash.clone(),
        email: email.map(str::to_owned),
        phone_number: phone.map(str::to_owned),
        link_code_salt: hash44(),
        code: Code {
            code_id: uid(),
            device_id_hash,
            link_code_hash: hash44(),
            created_at,
        },
    }
}

/// Creates a device with its first code, panicking on failure.
pub async fn create_device(
    ctx: &Ctx,
    t: &TenantIdentifier,
    email: Option<&str>,
    phone: Option<&str>,
    created_at: i64,
) -> NewDevice {
    let d = device(t, email, phone, created_at);
    ctx.storage
        .create_device_with_code(&d)
        .await
        .unwrap_or_else(|e| panic!("create_device_with_code in {t} failed: {e:?}"));
    d
}

/// A new code for an existing device.
pub fn code(device_id_hash: &str, created_at: i64) -> Code {
    Code {
        code_id: uid(),
        device_id_hash: device_id_hash.to_owned(),
        link_code_hash: hash44(),
        created_at,
    }
}

/// A password-reset token for a user.
pub fn reset_token(app: &AppId, user_id: &str, expiry: i64) -> PasswordResetToken {
    PasswordResetToken {
        app: app.clone(),
        user_id: user_id.to_owned(),
        token: token(),
        email: Some("reset@example.com".to_owned()),
        token_expiry: expiry,
    }
}

/// An email-verification token.
pub fn ev_token(
    t: &TenantIdentifier,
    user_id: &str,
    email: &str,
    expiry: i64,
) -> EmailVerificationToken {
    EmailVerificationToken {
        tenant: t.clone(),
        user_id: user_id.to_owned(),
        email: email.to_owned(),
        token: token(),
        token_expiry: expiry,
    }
}

/// A key/value row.
pub fn kv(value: &str, created_at: i64) -> KeyValue {
    KeyValue {
        value: value.to_owned(),
        created_at,
    }
}

/// A signing key.
pub fn signing_key(created_at: i64) -> SigningKey {
    SigningKey {
        created_at,
        value: format!("key-material-{created_at}"),
    }
}

/// Adds a signing key in its own transaction.
pub async fn add_signing_key(ctx: &Ctx, app: &AppId, key: SigningKey) {
    let app = app.clone();
    run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let app = app.clone();
        let key = key.clone();
        Box::pin(async move {
            tx.add_signing_key(&app, &key).await?;
            Ok::<_, TxError<()>>(())
        })
    })
    .await
    .unwrap_or_else(|e| panic!("add_signing_key failed: {e:?}"));
}

/// A TOTP device of a user.
pub fn totp_device(user_id: &str, name: &str) -> TotpDevice {
    TotpDevice {
        user_id: user_id.to_owned(),
        device_name: name.to_owned(),
        secret_key: Secret::new(format!("totp-secret-{name}")),
        period: 30,
        skew: 1,
        verified: false,
        created_at: NOW,
    }
}

/// A used TOTP code created at `created`, expiring an hour later.
pub fn used_code(user_id: &str, code: &str, valid: bool, created: i64) -> TotpUsedCode {
    TotpUsedCode {
        user_id: user_id.to_owned(),
        code: code.to_owned(),
        is_valid: valid,
        expiry_time: created + HOUR,
        created_time: created,
    }
}

/// Records a used TOTP code in its own transaction.
pub async fn insert_used_code(ctx: &Ctx, t: &TenantIdentifier, code: &TotpUsedCode) {
    try_insert_used_code(ctx, t, code)
        .await
        .unwrap_or_else(|e| panic!("insert_used_totp_code failed: {e:?}"));
}

/// Records a used TOTP code in its own transaction; its error.
pub async fn try_insert_used_code(
    ctx: &Ctx,
    t: &TenantIdentifier,
    code: &TotpUsedCode,
) -> Result<(), TxError<()>> {
    let (t, code) = (t.clone(), code.clone());
    run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (t, code) = (t.clone(), code.clone());
        Box::pin(async move {
            tx.insert_used_totp_code(&t, &code).await?;
            Ok(())
        })
    })
    .await
}

/// A dashboard user with a fresh id.
pub fn dashboard_user(email: &str) -> DashboardUser {
    DashboardUser {
        user_id: uid(),
        email: email.to_owned(),
        password_hash: Secret::new("$argon2id$dashboard-hash"),
        time_joined: NOW,
    }
}

/// A dashboard session with a fresh id.
pub fn dashboard_session(user_id: &str, expiry: i64) -> DashboardSession {
    DashboardSession {
        session_id: uid(),
        user_id: user_id.to_owned(),
        time_created: NOW,
        expiry,
    }
}

/// Transaction options for race tests: many attempts, small delays.
pub fn race_tx_options() -> TxOptions {
    TxOptions {
        max_attempts: 200,
        base_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(50),
        ..TxOptions::default()
    }
}

/// The storage as a shareable handle for spawned tasks.
pub fn shared(ctx: &Ctx) -> Arc<dyn Storage> {
    ctx.storage.clone()
}

/// Asserts that `result` is `InvalidInput` whose field contains `field`, and that the
/// message names the field.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T>, field: &str) {
    match result {
        Err(ref e @ StorageError::InvalidInput { field: f, .. }) => {
            assert!(
                f.contains(field),
                "InvalidInput names field `{f}`, expected one naming `{field}` ({e})"
            );
            assert!(
                e.to_string().contains(f),
                "message `{e}` does not name the field `{f}`"
            );
        }
        other => panic!("expected InvalidInput for `{field}`, got {other:?}"),
    }
}

/// Asserts that `result` is `TenantOrAppNotFound` naming the tenant `t` (or its app
/// when the app itself is missing and `app_ok` is set).
#[track_caller]
pub fn assert_tenant_not_found<T: std::fmt::Debug>(
    result: Result<T>,
    t: &TenantIdentifier,
    app_ok: bool,
) {
    match result {
        Err(StorageError::TenantOrAppNotFound(TenantOrApp::Tenant(got))) => {
            assert_eq!(&got, t, "TenantOrAppNotFound names the wrong tenant")
        }
        Err(StorageError::TenantOrAppNotFound(TenantOrApp::App(got))) if app_ok => {
            assert_eq!(got, t.app, "TenantOrAppNotFound names the wrong app")
        }
        other => panic!("expected TenantOrAppNotFound({t}), got {other:?}"),
    }
}

/// Asserts that `result` is `TenantOrAppNotFound` naming `app`.
#[track_caller]
pub fn assert_app_not_found<T: std::fmt::Debug>(result: Result<T>, app: &AppId) {
    match result {
        Err(StorageError::TenantOrAppNotFound(TenantOrApp::App(got))) => {
            assert_eq!(&got, app, "TenantOrAppNotFound names the wrong app")
        }
        Err(StorageError::TenantOrAppNotFound(TenantOrApp::Tenant(got))) => {
            assert_eq!(&got.app, app, "TenantOrAppNotFound names the wrong app")
        }
        other => panic!("expected TenantOrAppNotFound(app {app}), got {other:?}"),
    }
}

/// Whether a raw boolean cell reads as true (`1`, `t`, `true`).
pub fn truthy(cell: &Option<String>) -> bool {
    matches!(
        cell.as_deref().map(str::to_ascii_lowercase).as_deref(),
        Some("1" | "t" | "true")
    )
}

/// Whether a raw boolean cell reads as false (`0`, `f`, `false`).
pub fn falsy(cell: &Option<String>) -> bool {
    matches!(
        cell.as_deref().map(str::to_ascii_lowercase).as_deref(),
        Some("0" | "f" | "false")
    )
}

/// Parses a raw JSON text cell.
#[track_caller]
pub fn json_cell(cell: &Option<String>) -> serde_json::Value {
    let s = cell.as_deref().expect("JSON column is NULL");
    serde_json::from_str(s).unwrap_or_else(|e| panic!("column is not JSON ({e}): {s}"))
}

/// Counts rows of a phase-1 table (base name) matching `where_`.
pub async fn count(ctx: &Ctx, table: &str, where_: &str) -> i64 {
    ctx.raw
        .count(&format!(
            "SELECT COUNT(*) FROM {} WHERE {where_}",
            ctx.table(table)
        ))
        .await
}

/// Runs a query on a phase-1 table (base name): `SELECT cols FROM table WHERE where_`.
pub async fn select(ctx: &Ctx, cols: &str, table: &str, where_: &str) -> Vec<Vec<Option<String>>> {
    ctx.raw
        .query(&format!(
            "SELECT {cols} FROM {} WHERE {where_}",
            ctx.table(table)
        ))
        .await
}

/// Every phase-1 table with an `app_id` column, and the phase-2 tables the suite
/// writes (part B: JWT keys, metadata, roles, TOTP, dashboard, last-active).
pub const APP_TABLES: [&str; 34] = [
    "apps",
    "tenants",
    "key_value",
    "tenant_configs",
    "tenant_thirdparty_providers",
    "tenant_thirdparty_provider_clients",
    "tenant_first_factors",
    "tenant_required_secondary_factors",
    "app_id_to_user_id",
    "all_auth_recipe_users",
    "emailpassword_users",
    "emailpassword_user_to_tenant",
    "thirdparty_users",
    "thirdparty_user_to_tenant",
    "passwordless_users",
    "passwordless_user_to_tenant",
    "session_info",
    "session_access_token_signing_keys",
    "passwordless_devices",
    "passwordless_codes",
    "emailpassword_pswd_reset_tokens",
    "emailverification_tokens",
    "emailverification_verified_emails",
    "jwt_signing_keys",
    "user_metadata",
    "roles",
    "role_permissions",
    "user_roles",
    "totp_users",
    "totp_user_devices",
    "totp_used_codes",
    "dashboard_users",
    "dashboard_user_sessions",
    "user_last_active",
];

/// The tables of contract-phase2 part B: the last ones of [`APP_TABLES`].
pub const PART_B_TABLES: &[&str] = APP_TABLES.split_at(APP_TABLES.len() - 11).1;

/// The phase-1 tables of tenant configs (no foreign key to `apps`).
pub const CONFIG_TABLES: [&str; 5] = [
    "tenant_configs",
    "tenant_thirdparty_providers",
    "tenant_thirdparty_provider_clients",
    "tenant_first_factors",
    "tenant_required_secondary_factors",
];

/// A tenant config with two providers (one with two clients) and factors.
pub fn full_config(t: &TenantIdentifier) -> TenantConfig {
    let mut c = TenantConfig::new(TenantConfigKey::new(t.clone()));
    c.email_password_enabled = true;
    c.passwordless_enabled = false;
    c.third_party_enabled = true;
    c.first_factors = Some(vec!["emailpassword".into(), "otp-email".into()]);
    c.required_secondary_factors = vec!["totp".into()];
    c.core_config = json!({"access_token_validity": 3600, "password_hashing_alg": "ARGON2"});
    c.providers = vec![
        ThirdPartyProvider {
            third_party_id: "google".into(),
            name: Some("Google".into()),
            authorization_endpoint: Some("https://accounts.google.com/o/oauth2/v2/auth".into()),
            authorization_endpoint_query_params: Some(json!({"prompt": "consent"})),
            token_endpoint: Some("https://oauth2.googleapis.com/token".into()),
            token_endpoint_body_params: Some(json!({"a": 1})),
            user_info_endpoint: Some("https://www.googleapis.com/oauth2/v1/userinfo".into()),
            user_info_endpoint_query_params: Some(json!({"alt": "json"})),
            user_info_endpoint_headers: Some(json!({"x-h": "v"})),
            jwks_uri: Some("https://www.googleapis.com/oauth2/v3/certs".into()),
            oidc_discovery_endpoint: Some("https://accounts.google.com/".into()),
            require_email: Some(true),
            user_info_map_from_id_token_payload: UserInfoFields {
                user_id: Some("sub".into()),
                email: Some("email".into()),
                email_verified: Some("email_verified".into()),
            },
            user_info_map_from_user_info_endpoint: UserInfoFields {
                user_id: Some("id".into()),
                email: None,
                email_verified: None,
            },
            clients: vec![
                ProviderClient {
                    client_type: "web".into(),
                    client_id: "web-client-id".into(),
                    client_secret: Some(Secret::new("web-secret")),
                    scope: Some(vec!["openid".into(), "email".into()]),
                    force_pkce: true,
                    additional_config: Some(json!({"hd": "example.com"})),
                },
                ProviderClient {
                    client_type: "ios".into(),
                    client_id: "ios-client-id".into(),
                    client_secret: None,
                    scope: None,
                    force_pkce: false,
                    additional_config: None,
                },
            ],
        },
        ThirdPartyProvider {
            third_party_id: "github".into(),
            name: None,
            clients: vec![ProviderClient {
                client_type: String::new(),
                client_id: "gh-client".into(),
                client_secret: Some(Secret::new("gh-secret")),
                scope: Some(vec![]),
                force_pkce: false,
                additional_config: None,
            }],
            ..Default::default()
        },
    ];
    c
}

/// Providers and clients sorted by id / type, so configs compare regardless of the
/// order a backend returns them in.
pub fn normalise_config(mut c: TenantConfig) -> TenantConfig {
    c.providers
        .sort_by(|a, b| a.third_party_id.cmp(&b.third_party_id));
    for p in &mut c.providers {
        p.clients.sort_by(|a, b| a.client_type.cmp(&b.client_type));
    }
    if let Some(f) = c.first_factors.as_mut() {
        f.sort();
    }
    c.required_secondary_factors.sort();
    c
}

/// Sorted ids of users.
pub fn ids(users: &[User]) -> Vec<String> {
    let mut v: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    v.sort();
    v
}

/// Sorted strings.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Tenant ids as strings.
pub fn tenant_names(ids: &[TenantId]) -> Vec<String> {
    ids.iter().map(|t| t.as_str().to_owned()).collect()
}

/// Phase-1 tables holding tenant-scoped rows, for checks after deleting a tenant.
pub const TENANT_SCOPED_TABLES: [&str; 12] = [
    "tenants",
    "key_value",
    "all_auth_recipe_users",
    "emailpassword_user_to_tenant",
    "thirdparty_user_to_tenant",
    "passwordless_user_to_tenant",
    "session_info",
    "passwordless_devices",
    "passwordless_codes",
    "emailverification_tokens",
    "user_roles",
    "totp_used_codes",
];

/// What [`populate`] wrote for one tenant.
#[derive(Clone, Debug)]
pub struct TenantData {
    /// The tenant.
    pub tenant: TenantIdentifier,
    /// An email-password user signed up in it.
    pub ep: User,
    /// Its email.
    pub ep_email: String,
    /// A third-party user.
    pub tp: User,
    /// A passwordless user (email and phone).
    pub pl: User,
    /// A session of the email-password user.
    pub session: NewSession,
    /// A device with two codes.
    pub device: NewDevice,
    /// An email-verification token of the email-password user.
    pub ev: EmailVerificationToken,
}

/// What [`populate`] wrote for an app.
#[derive(Clone, Debug)]
pub struct AppData {
    /// The app.
    pub app: AppId,
    /// Its public tenant's data.
    pub public: TenantData,
    /// Tenant `t1`'s data.
    pub t1: TenantData,
    /// A password-reset token of the public tenant's email-password user.
    pub reset: PasswordResetToken,
}

/// Writes at least one row into every table of [`APP_TABLES`] except the tenant-config tables
/// for `app_name` (tenants `public` and `t1`).
pub async fn populate(ctx: &Ctx, app_name: &str) -> AppData {
    let mut out = Vec::new();
    for tid in ["public", "t1"] {
        let t = setup_tenant(ctx, app_name, tid).await;
        ctx.storage
            .kv_set(&t, "kv-name", &kv("kv-value", 7))
            .await
            .expect("kv_set");
        let ep_email = email();
        let ep = ep_user(ctx, &t, &ep_email, 10).await;
        let tp = tp_user(ctx, &t, &email(), "google", &token(), 11).await;
        let pl = pl_user(ctx, &t, Some(&email()), Some(&phone()), 12).await;
        let session = create_session(ctx, &t, &ep.id).await;
        let device = create_device(ctx, &t, Some(&ep_email), None, 13).await;
        ctx.storage
            .create_code(&t, &code(&device.device_id_hash, 14))
            .await
            .expect("create_code");
        ctx.storage
            .create_role(&t.app, "populated-role")
            .await
            .expect("create_role");
        ctx.storage
            .add_role_to_user(&t, &ep.id, "populated-role")
            .await
            .expect("add_role_to_user");
        ctx.storage
            .create_totp_device(&t.app, &totp_device(&ep.id, "phone"))
            .await
            .expect("create_totp_device");
        insert_used_code(ctx, &t, &used_code(&ep.id, "123456", true, NOW)).await;
        let ev = ev_token(&t, &ep.id, &ep_email, NOW + HOUR);
        ctx.storage
            .add_email_verification_token(&ev)
            .await
            .expect("add_email_verification_token");
        out.push(TenantData {
            tenant: t,
            ep,
            ep_email,
            tp,
            pl,
            session,
            device,
            ev,
        });
    }
    let t1 = out.pop().unwrap();
    let public = out.pop().unwrap();
    let app = public.tenant.app.clone();
    let reset = reset_token(&app, &public.ep.id, NOW + HOUR);
    ctx.storage
        .add_password_reset_token(&reset)
        .await
        .expect("add_password_reset_token");
    ctx.storage
        .set_email_verified(&app, &public.ep.id, &public.ep_email, true)
        .await
        .expect("set_email_verified");
    add_signing_key(ctx, &app, signing_key(5)).await;
    ctx.storage
        .add_permissions(&app, "populated-role", &["read".to_owned()])
        .await
        .expect("add_permissions");
    ctx.storage
        .set_user_metadata(&app, &public.ep.id, &serde_json::json!({"populated": true}))
        .await
        .expect("set_user_metadata");
    ctx.storage
        .get_or_create_jwt_signing_key(&app, "RS256", &|| JwtSigningKey {
            key_id: "populated-key".to_owned(),
            algorithm: "RS256".to_owned(),
            key_string: Secret::new("populated-key-material"),
            created_at: NOW,
        })
        .await
        .expect("get_or_create_jwt_signing_key");
    let dash = dashboard_user("populated@example.com");
    ctx.storage
        .create_dashboard_user(&app, &dash)
        .await
        .expect("create_dashboard_user");
    ctx.storage
        .create_dashboard_session(&app, &dashboard_session(&dash.user_id, NOW + HOUR))
        .await
        .expect("create_dashboard_session");
    ctx.storage
        .update_last_active(&app, &public.ep.id, NOW)
        .await
        .expect("update_last_active");
    AppData {
        app,
        public,
        t1,
        reset,
    }
}

/// Rows of `table` whose `app_id` is `app`.
pub async fn app_rows(ctx: &Ctx, table: &str, app: &AppId) -> i64 {
    count(ctx, table, &format!("app_id = '{app}'")).await
}

/// Rows of `table` of tenant `t`.
pub async fn tenant_rows(ctx: &Ctx, table: &str, t: &TenantIdentifier) -> i64 {
    count(
        ctx,
        table,
        &format!("app_id = '{}' AND tenant_id = '{}'", t.app, t.tenant),
    )
    .await
}

/// Runs `n` tasks made by `f`, released together by a barrier; their results in task
/// order. A panicking task fails the test.
pub async fn race<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let fut = f(i);
            let b = barrier.clone();
            tokio::spawn(async move {
                b.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for (i, h) in handles.into_iter().enumerate() {
        match h.await {
            Ok(v) => out.push(v),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("racing task {i} failed: {e}"),
        }
    }
    out
}
