//! Bad input through the public API: every bounded string field of every write gets
//! a value one character longer than its column, a NUL byte, a value exactly as long
//! as its column made of multi-byte characters, unusual Unicode and SQL
//! metacharacters; huge and deeply nested JSON values; negative and overflowing
//! times; malformed and hostile connection URIs. Each gets a typed error or is stored
//! and read back byte for byte; nothing panics, nothing is truncated, no password is
//! printed. (The same through the `migrate` CLI is in `tests/tests/reliability.rs`.)

use super::common::*;
use crate::conformance::fixtures::*;
use crate::harness::Ctx;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use storage_api::*;

type Run = fn(Ctx, TenantIdentifier, String) -> BoxFuture<'static, Result<String>>;

/// One bounded string field of one write: its column's length, the exact field name
/// its `InvalidInput` must carry, the rows the writer's own setup writes before the
/// write under test (a refusal must leave exactly those), and a writer that stores a
/// value in it and returns what the API reads back.
struct Field {
    name: &'static str,
    max: usize,
    err: &'static str,
    setup: &'static [&'static str],
    run: Run,
}

/// The writer writes nothing before the write under test.
const NO_SETUP: &[&str] = &[];
/// The writer first signs up an email-password user ([`user_of`]).
const EP_USER: &[&str] = &[
    "all_auth_recipe_users",
    "app_id_to_user_id",
    "emailpassword_user_to_tenant",
    "emailpassword_users",
];
/// The writer first creates a passwordless user.
const PL_USER: &[&str] = &[
    "all_auth_recipe_users",
    "app_id_to_user_id",
    "passwordless_user_to_tenant",
    "passwordless_users",
];
/// The writer first creates a session.
const SESSION: &[&str] = &["session_info"];

/// Unusual but valid Unicode: combining marks, bidi controls, emoji sequences,
/// noncharacters, the last scalar value, private use, C0/C1 controls, line
/// separators, characters that change under case mapping.
pub const UNUSUAL: &[&str] = &[
    "e\u{301}\u{302}\u{303}\u{304}\u{305}",
    "\u{200f}\u{202e}rtl\u{202c}\u{2066}x\u{2069}",
    "😀👩\u{200d}👩\u{200d}👧🇫🇷🏳\u{fe0f}\u{200d}🌈",
    "\u{feff}bom\u{fffe}\u{ffff}",
    "\u{10ffff}\u{e000}\u{f8ff}",
    "\u{1}\u{7f}\u{1b}[0m\u{85}\u{9f}",
    "\u{2028}\u{2029}\r\n\t\u{b}",
    "ǅİßﬃΣς",
    "例え.テスト@ελληνικά",
    "\u{200b}\u{200c}\u{200d}\u{2060}",
    " lead and trail ",
];

/// SQL metacharacters, quoting and placeholder syntax of every backend, and the
/// migration template's own `{prefix}`.
pub const SQL_META: &[&str] = &[
    "'",
    "''",
    "\\",
    "\\'",
    "%",
    "_",
    "\"",
    "`",
    ";--",
    "/*x*/",
    "$1",
    "?",
    ":name",
    "@var",
    "' OR '1'='1",
    "'); DROP TABLE apps; --",
    "\\0\\x00\\n",
    "{prefix}",
    "%s%d",
    "]]>",
];

/// `n` characters cycling through 1-, 2-, 3- and 4-byte UTF-8 sequences.
pub fn multibyte(n: usize) -> String {
    ['a', 'é', '€', '😀'].iter().cycle().take(n).collect()
}

fn first_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

async fn user_of(ctx: &Ctx, t: &TenantIdentifier) -> Result<User> {
    ctx.storage
        .sign_up_email_password(&ep_input(t, &email(), 1))
        .await
}

fn login(u: Option<User>) -> LoginMethod {
    u.expect("user exists").login_methods.remove(0)
}

fn config_with(t: &TenantIdentifier, f: impl FnOnce(&mut TenantConfig)) -> TenantConfig {
    let key = TenantConfigKey::new(tenant(t.app.as_str(), &format!("c{}", seq())));
    let mut c = TenantConfig::new(key);
    c.providers = vec![ThirdPartyProvider {
        third_party_id: "google".into(),
        clients: vec![ProviderClient {
            client_id: "id".into(),
            ..Default::default()
        }],
        ..Default::default()
    }];
    f(&mut c);
    c
}

async fn config_roundtrip(ctx: &Ctx, c: TenantConfig) -> Result<TenantConfig> {
    ctx.storage.create_tenant_config(&c).await?;
    Ok(ctx
        .storage
        .get_tenant_config(&c.key)
        .await?
        .expect("config stored"))
}

fn fields() -> Vec<Field> {
    vec![
        Field {
            name: "sign_up_email_password.email",
            max: 256,
            err: "email",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let u = ctx
                        .storage
                        .sign_up_email_password(&ep_input(&t, &v, 1))
                        .await?;
                    Ok(login(ctx.storage.get_user(&t.app, &u.id).await?)
                        .email
                        .unwrap())
                })
            },
        },
        Field {
            name: "sign_up_email_password.password_hash",
            max: 256,
            err: "password_hash",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let mut i = ep_input(&t, &email(), 1);
                    i.password_hash = Secret::new(v);
                    let u = ctx.storage.sign_up_email_password(&i).await?;
                    let got = login(ctx.storage.get_user(&t.app, &u.id).await?).password_hash;
                    Ok(got.unwrap().expose().to_owned())
                })
            },
        },
        Field {
            name: "sign_up_third_party.email",
            max: 256,
            err: "email",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let i = tp_input(&t, &v, "google", &token(), 1);
                    let u = ctx.storage.sign_up_third_party(&i).await?;
                    Ok(login(ctx.storage.get_user(&t.app, &u.id).await?)
                        .email
                        .unwrap())
                })
            },
        },
        Field {
            name: "sign_up_third_party.third_party_id",
            max: 28,
            err: "third_party_id",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let i = tp_input(&t, &email(), &v, &token(), 1);
                    let u = ctx.storage.sign_up_third_party(&i).await?;
                    let found = ctx
                        .storage
                        .list_users_by_third_party(&t.app, &i.third_party)
                        .await?;
                    assert_eq!(ids(&found), vec![u.id.clone()], "lookup by {v:?}");
                    let m = login(ctx.storage.get_user(&t.app, &u.id).await?);
                    Ok(m.third_party.unwrap().third_party_id)
                })
            },
        },
        Field {
            name: "sign_up_third_party.third_party_user_id",
            max: 256,
            err: "third_party_user_id",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let i = tp_input(&t, &email(), "google", &v, 1);
                    let u = ctx.storage.sign_up_third_party(&i).await?;
                    let m = login(ctx.storage.get_user(&t.app, &u.id).await?);
                    Ok(m.third_party.unwrap().third_party_user_id)
                })
            },
        },
        Field {
            name: "create_passwordless_user.email",
            max: 256,
            err: "email",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let i = pl_input(&t, Some(&v), None, 1);
                    ctx.storage.create_passwordless_user(&i).await?;
                    let found = ctx.storage.list_users_by_email(&t, &v).await?;
                    assert_eq!(found.len(), 1, "lookup by {v:?}");
                    Ok(found[0].login_methods[0].email.clone().unwrap())
                })
            },
        },
        Field {
            name: "create_passwordless_user.phone_number",
            max: 256,
            err: "phone_number",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let i = pl_input(&t, None, Some(&v), 1);
                    ctx.storage.create_passwordless_user(&i).await?;
                    let found = ctx.storage.list_users_by_phone(&t, &v).await?;
                    assert_eq!(found.len(), 1, "lookup by {v:?}");
                    Ok(found[0].login_methods[0].phone_number.clone().unwrap())
                })
            },
        },
        Field {
            name: "update_email_password_email",
            max: 256,
            err: "email",
            setup: EP_USER,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let u = user_of(&ctx, &t).await?;
                    ctx.storage
                        .update_email_password_email(&t.app, &u.id, &v)
                        .await?;
                    Ok(login(ctx.storage.get_user(&t.app, &u.id).await?)
                        .email
                        .unwrap())
                })
            },
        },
        Field {
            name: "update_password_hash",
            max: 256,
            err: "password_hash",
            setup: EP_USER,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let u = user_of(&ctx, &t).await?;
                    ctx.storage
                        .update_password_hash(&t.app, &u.id, &Secret::new(v))
                        .await?;
                    let m = login(ctx.storage.get_user(&t.app, &u.id).await?);
                    Ok(m.password_hash.unwrap().expose().to_owned())
                })
            },
        },
        Field {
            name: "update_passwordless_contact.email",
            max: 256,
            err: "email",
            setup: PL_USER,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let i = pl_input(&t, None, Some(&phone()), 1);
                    let u = ctx.storage.create_passwordless_user(&i).await?;
                    ctx.storage
                        .update_passwordless_contact(
                            &t.app,
                            &u.id,
                            Some(&v),
                            i.phone_number.as_deref(),
                        )
                        .await?;
                    Ok(login(ctx.storage.get_user(&t.app, &u.id).await?)
                        .email
                        .unwrap())
                })
            },
        },
        Field {
            name: "update_passwordless_contact.phone_number",
            max: 256,
            err: "phone_number",
            setup: PL_USER,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let i = pl_input(&t, Some(&email()), None, 1);
                    let u = ctx.storage.create_passwordless_user(&i).await?;
                    ctx.storage
                        .update_passwordless_contact(&t.app, &u.id, i.email.as_deref(), Some(&v))
                        .await?;
                    let m = login(ctx.storage.get_user(&t.app, &u.id).await?);
                    Ok(m.phone_number.unwrap())
                })
            },
        },
        Field {
            name: "create_session.session_handle",
            max: 255,
            err: "session_handle",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let mut s = session(&t, "u");
                    s.handle = v.clone();
                    ctx.storage.create_session(&s).await?;
                    let handles = ctx.storage.session_handles_of_user(&t, "u", NOW).await?;
                    assert!(handles.contains(&v), "handle {v:?} not listed");
                    Ok(ctx.storage.get_session(&t, &v).await?.unwrap().handle)
                })
            },
        },
        Field {
            name: "create_session.user_id",
            max: 128,
            err: "user_id",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let s = session(&t, &v);
                    ctx.storage.create_session(&s).await?;
                    let handles = ctx.storage.session_handles_of_user(&t, &v, NOW).await?;
                    assert_eq!(handles, vec![s.handle.clone()], "sessions of {v:?}");
                    Ok(ctx
                        .storage
                        .get_session(&t, &s.handle)
                        .await?
                        .unwrap()
                        .user_id)
                })
            },
        },
        Field {
            name: "create_session.refresh_token_hash",
            max: 128,
            err: "refresh_token_hash",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let mut s = session(&t, "u");
                    s.refresh_token_hash = v.clone();
                    ctx.storage.create_session(&s).await?;
                    let r = ctx
                        .storage
                        .rotate_refresh_token(
                            &t,
                            &RefreshRotation {
                                handle: &s.handle,
                                expected: &v,
                                new_hash: "next",
                                new_expiry: NOW + HOUR,
                                now: NOW,
                            },
                        )
                        .await?;
                    assert_eq!(r, RotateOutcome::Rotated, "rotation with {v:?}");
                    let got = ctx.storage.get_session(&t, &s.handle).await?.unwrap();
                    Ok(got.prev_refresh_token_hash.unwrap())
                })
            },
        },
        Field {
            name: "rotate_refresh_token.new_hash",
            max: 128,
            err: "refresh_token_hash",
            setup: SESSION,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let s = create_session(&ctx, &t, "u").await;
                    let r = ctx
                        .storage
                        .rotate_refresh_token(
                            &t,
                            &RefreshRotation {
                                handle: &s.handle,
                                expected: &s.refresh_token_hash,
                                new_hash: &v,
                                new_expiry: NOW + HOUR,
                                now: NOW,
                            },
                        )
                        .await?;
                    assert_eq!(r, RotateOutcome::Rotated);
                    Ok(ctx
                        .storage
                        .get_session(&t, &s.handle)
                        .await?
                        .unwrap()
                        .refresh_token_hash)
                })
            },
        },
        Field {
            name: "update_tokens.new_hash (tx)",
            max: 128,
            err: "refresh_token_hash",
            setup: SESSION,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let s = create_session(&ctx, &t, "u").await;
                    let (t2, h, v2) = (t.clone(), s.handle.clone(), v.clone());
                    run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
                        let (t, h, v) = (t2.clone(), h.clone(), v2.clone());
                        Box::pin(async move {
                            tx.update_tokens(
                                &t,
                                &TokenUpdate {
                                    handle: &h,
                                    new_hash: &v,
                                    prev_hash: None,
                                    rotated_at: None,
                                    expires_at: NOW + HOUR,
                                },
                            )
                            .await?;
                            Ok::<_, TxError<()>>(())
                        })
                    })
                    .await
                    .map_err(|e| match e {
                        TxError::Storage(e) => e,
                        other => panic!("{other:?}"),
                    })?;
                    Ok(ctx
                        .storage
                        .get_session(&t, &s.handle)
                        .await?
                        .unwrap()
                        .refresh_token_hash)
                })
            },
        },
        Field {
            name: "kv_set.name",
            max: 128,
            err: "name",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    ctx.storage.kv_set(&t, &v, &kv(&v, 1)).await?;
                    Ok(ctx.storage.kv_get(&t, &v).await?.expect("kv row").value)
                })
            },
        },
        Field {
            name: "create_device_with_code.email",
            max: 256,
            err: "email",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    ctx.storage
                        .create_device_with_code(&device(&t, Some(&v), None, 1))
                        .await?;
                    let d = ctx.storage.devices_by_email(&t, &v).await?;
                    assert_eq!(d.len(), 1, "devices of {v:?}");
                    Ok(d[0].email.clone().unwrap())
                })
            },
        },
        Field {
            name: "create_device_with_code.phone_number",
            max: 256,
            err: "phone_number",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    ctx.storage
                        .create_device_with_code(&device(&t, None, Some(&v), 1))
                        .await?;
                    let d = ctx.storage.devices_by_phone(&t, &v).await?;
                    assert_eq!(d.len(), 1, "devices of {v:?}");
                    Ok(d[0].phone_number.clone().unwrap())
                })
            },
        },
        Field {
            name: "add_password_reset_token.token",
            max: 128,
            err: "token",
            setup: EP_USER,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let u = user_of(&ctx, &t).await?;
                    let mut r = reset_token(&t.app, &u.id, NOW);
                    r.token = v.clone();
                    ctx.storage.add_password_reset_token(&r).await?;
                    Ok(ctx
                        .storage
                        .get_password_reset_token(&t.app, &v)
                        .await?
                        .unwrap()
                        .token)
                })
            },
        },
        Field {
            name: "add_password_reset_token.email",
            max: 256,
            err: "email",
            setup: EP_USER,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let u = user_of(&ctx, &t).await?;
                    let mut r = reset_token(&t.app, &u.id, NOW);
                    r.email = Some(v);
                    ctx.storage.add_password_reset_token(&r).await?;
                    let got = ctx
                        .storage
                        .get_password_reset_token(&t.app, &r.token)
                        .await?;
                    Ok(got.unwrap().email.unwrap())
                })
            },
        },
        Field {
            name: "add_email_verification_token.user_id",
            max: 128,
            err: "user_id",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let e = ev_token(&t, &v, "ev@example.com", NOW);
                    ctx.storage.add_email_verification_token(&e).await?;
                    let all = ctx
                        .storage
                        .email_verification_tokens(&t, &v, "ev@example.com")
                        .await?;
                    assert_eq!(all.len(), 1);
                    Ok(all[0].user_id.clone())
                })
            },
        },
        Field {
            name: "add_email_verification_token.email",
            max: 256,
            err: "email",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let e = ev_token(&t, "u", &v, NOW);
                    ctx.storage.add_email_verification_token(&e).await?;
                    let got = ctx
                        .storage
                        .get_email_verification_token(&t, &e.token)
                        .await?;
                    Ok(got.unwrap().email)
                })
            },
        },
        Field {
            name: "add_email_verification_token.token",
            max: 128,
            err: "token",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let mut e = ev_token(&t, "u", "ev@example.com", NOW);
                    e.token = v.clone();
                    ctx.storage.add_email_verification_token(&e).await?;
                    let got = ctx.storage.get_email_verification_token(&t, &v).await?;
                    Ok(got.unwrap().token)
                })
            },
        },
        Field {
            name: "set_email_verified.user_id",
            max: 128,
            err: "user_id",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    ctx.storage
                        .set_email_verified(&t.app, &v, "v@example.com", true)
                        .await?;
                    let yes = ctx
                        .storage
                        .is_email_verified(&t.app, &v, "v@example.com")
                        .await?;
                    Ok(if yes { v } else { String::new() })
                })
            },
        },
        Field {
            name: "set_email_verified.email",
            max: 256,
            err: "email",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    ctx.storage
                        .set_email_verified(&t.app, "u", &v, true)
                        .await?;
                    let yes = ctx.storage.is_email_verified(&t.app, "u", &v).await?;
                    Ok(if yes { v } else { String::new() })
                })
            },
        },
        Field {
            name: "tenant_config.connection_uri_domain",
            max: 256,
            err: "connection_uri_domain",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let c = config_with(&t, |c| c.key.connection_uri_domain = v);
                    Ok(config_roundtrip(&ctx, c).await?.key.connection_uri_domain)
                })
            },
        },
        Field {
            name: "tenant_config.third_party_id",
            max: 28,
            err: "third_party_id",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let c = config_with(&t, |c| c.providers[0].third_party_id = v);
                    Ok(config_roundtrip(&ctx, c).await?.providers[0]
                        .third_party_id
                        .clone())
                })
            },
        },
        Field {
            name: "tenant_config.provider_name",
            max: 64,
            err: "name",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let c = config_with(&t, |c| c.providers[0].name = Some(v));
                    Ok(config_roundtrip(&ctx, c).await?.providers[0]
                        .name
                        .clone()
                        .unwrap())
                })
            },
        },
        Field {
            name: "tenant_config.user_info_map",
            max: 64,
            err: "user_info_map",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let c = config_with(&t, |c| {
                        c.providers[0].user_info_map_from_id_token_payload.email = Some(v)
                    });
                    let got = config_roundtrip(&ctx, c).await?;
                    Ok(got.providers[0]
                        .user_info_map_from_id_token_payload
                        .email
                        .clone()
                        .unwrap())
                })
            },
        },
        Field {
            name: "tenant_config.client_type",
            max: 64,
            err: "client_type",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let c = config_with(&t, |c| c.providers[0].clients[0].client_type = v);
                    Ok(config_roundtrip(&ctx, c).await?.providers[0].clients[0]
                        .client_type
                        .clone())
                })
            },
        },
        Field {
            name: "tenant_config.client_id",
            max: 256,
            err: "client_id",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let c = config_with(&t, |c| c.providers[0].clients[0].client_id = v);
                    Ok(config_roundtrip(&ctx, c).await?.providers[0].clients[0]
                        .client_id
                        .clone())
                })
            },
        },
        Field {
            name: "tenant_config.scope",
            max: 128,
            err: "scope",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let c = config_with(&t, |c| {
                        c.providers[0].clients[0].scope = Some(vec![v, "second".into()])
                    });
                    let got = config_roundtrip(&ctx, c).await?;
                    Ok(got.providers[0].clients[0].scope.clone().unwrap()[0].clone())
                })
            },
        },
        Field {
            name: "tenant_config.first_factor",
            max: 128,
            err: "factor_id",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let c = config_with(&t, |c| c.first_factors = Some(vec![v]));
                    Ok(config_roundtrip(&ctx, c).await?.first_factors.unwrap()[0].clone())
                })
            },
        },
        Field {
            name: "tenant_config.required_secondary_factor",
            max: 128,
            err: "factor_id",
            setup: NO_SETUP,
            run: |ctx, t, v| {
                Box::pin(async move {
                    let c = config_with(&t, |c| c.required_secondary_factors = vec![v]);
                    Ok(config_roundtrip(&ctx, c).await?.required_secondary_factors[0].clone())
                })
            },
        },
    ]
}

/// Every bounded string field: one character over its column is `InvalidInput`
/// carrying exactly the field's name (and the message names it); a NUL byte is the
/// same; after every refusal the row count of every table is what the writer's own
/// setup wrote and nothing more; exactly the column's length in 1- to 4-byte
/// characters, every unusual Unicode string and every SQL metacharacter string are
/// stored and read back byte for byte.
pub async fn rel_input_string_fields(ctx: Ctx) {
    let mut tried = 0usize;
    let (mut refusals, mut tables) = (0usize, 0usize);
    for (n, f) in fields().into_iter().enumerate() {
        let t = setup_tenant(&ctx, "public", &format!("f{n}")).await;
        let run = |v: String| (f.run)(ctx.clone(), t.clone(), v);
        let expected: std::collections::BTreeMap<String, i64> =
            f.setup.iter().map(|t| (t.to_string(), 1)).collect();
        let over = multibyte(f.max + 1);
        for (what, v) in [
            ("one over the column", over),
            ("a NUL byte", "\0".to_owned()),
            ("a NUL byte", "a\0b".to_owned()),
            ("a NUL byte", "ab\0".to_owned()),
        ] {
            let before = row_counts(&ctx).await;
            match run(v.clone()).await {
                Err(ref e @ StorageError::InvalidInput { field, .. }) => {
                    assert!(
                        field == f.err && e.to_string().contains(field),
                        "{}: {what} ({:?}) names `{field}` ({e}), expected exactly `{}`",
                        f.name,
                        first_chars(&v, 8),
                        f.err
                    );
                }
                other => panic!("{}: {what} gave {other:?}", f.name),
            }
            let after = row_counts(&ctx).await;
            tables = after.len();
            let changed = row_changes(&before, &after);
            assert_eq!(
                changed, expected,
                "{}: {what} was refused but changed rows (expected only the writer's setup)",
                f.name
            );
            refusals += 1;
        }
        let mut values = vec![multibyte(f.max), "😀".repeat(f.max), "é".repeat(f.max)];
        for s in UNUSUAL.iter().chain(SQL_META) {
            values.push(first_chars(&format!("{s}{}", seq()), f.max));
        }
        for v in values {
            match run(v.clone()).await {
                Ok(got) => assert_eq!(
                    got.as_bytes(),
                    v.as_bytes(),
                    "{}: {v:?} came back changed",
                    f.name
                ),
                Err(e) => panic!("{}: storing {v:?} failed: {e:?}", f.name),
            }
        }
        tried += 4 + 3 + UNUSUAL.len() + SQL_META.len();
    }
    // The rows themselves, read with plain SQL: nothing truncated, nothing normalised.
    let long = multibyte(256);
    let t = setup_tenant(&ctx, "public", "raw").await;
    let u = ep_user(&ctx, &t, &long, 1).await;
    let raw = select(
        &ctx,
        "email",
        "emailpassword_users",
        &format!("user_id = '{}'", u.id),
    )
    .await;
    assert_eq!(raw, vec![vec![Some(long.clone())]], "raw email row");
    assert_no_orphans(&ctx).await;
    figures(
        ctx.backend,
        "input_string_fields",
        &[
            ("fields", fields().len().to_string()),
            ("inputs_tried", tried.to_string()),
            ("refusals", refusals.to_string()),
            ("tables_counted_after_each", tables.to_string()),
        ],
    );
}

/// Trailing and leading spaces are data: emails that differ only by them are
/// different users, a lookup finds exactly the one asked for, and key/value names
/// that differ only by them are different rows (contract section 2: the storage
/// compares bytes).
///
/// KNOWN DEVIATION on MariaDB/MySQL, asserted as it is so that a fix shows up here:
/// `utf8mb4_bin`, the collation `schema.md` prescribes, is a PAD SPACE collation, so
/// values that differ only by trailing spaces compare equal (a second sign-up is
/// `DuplicateEmail`, a key/value name with a trailing space is the same row). MySQL
/// 8.0 and MariaDB share no binary NO PAD collation (`utf8mb4_0900_bin` is MySQL's,
/// `utf8mb4_nopad_bin` MariaDB's); see `RELIABILITY.md`.
pub async fn rel_input_spaces_are_significant(ctx: Ctx) {
    let pad_space = ctx.backend == "mysql";
    let t = setup_public(&ctx).await;
    let base = email();
    let variants = [
        base.clone(),
        format!("{base} "),
        format!("{base}  "),
        format!(" {base}"),
        format!("{base}\t"),
        format!("{base}\u{a0}"),
    ];
    // Whether `v` only differs from an earlier variant by trailing spaces.
    let padded = |v: &String| pad_space && v != &base && v.trim_end_matches(' ') == base;
    let mut users = Vec::new();
    for v in &variants {
        let r = ctx
            .storage
            .sign_up_email_password(&ep_input(&t, v, 1))
            .await;
        if padded(v) {
            assert!(
                matches!(r, Err(StorageError::DuplicateEmail)),
                "PAD SPACE on {}: expected the known DuplicateEmail for {v:?}, got {r:?}",
                ctx.backend
            );
            continue;
        }
        users.push((v, r.unwrap_or_else(|e| panic!("sign-up with {v:?}: {e:?}"))));
    }
    for (v, u) in &users {
        let found = ctx.storage.list_users_by_email(&t, v).await.unwrap();
        assert_eq!(ids(&found), vec![u.id.clone()], "lookup of {v:?}");
    }
    for v in variants.iter().filter(|v| !padded(v)) {
        ctx.storage.kv_set(&t, v, &kv(v, 1)).await.unwrap();
    }
    for v in variants.iter().filter(|v| !padded(v)) {
        assert_eq!(
            ctx.storage.kv_get(&t, v).await.unwrap().map(|x| x.value),
            Some(v.clone()),
            "key/value under {v:?}"
        );
    }
    figures(
        ctx.backend,
        "input_spaces_are_significant",
        &[
            ("inputs_tried", (2 * variants.len()).to_string()),
            (
                "pad_space_collisions",
                variants.iter().filter(|v| padded(v)).count().to_string(),
            ),
        ],
    );
}

/// Nested arrays `depth` deep around a string.
fn nested(depth: usize) -> Value {
    let mut v = json!("core");
    for _ in 0..depth {
        v = json!([v]);
    }
    v
}

/// What a bad-input write is expected to do on a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// The write succeeds and the value reads back equal.
    Stored,
    /// The write itself fails with `InvalidInput` naming exactly this field and
    /// changes no row.
    Refused(&'static str),
}

/// Every backend.
const ALL: &[&str] = &["sqlite", "postgresql", "mysql"];
/// MariaDB/MySQL only: `TEXT` holds at most 65,535 bytes there (see `RELIABILITY.md`,
/// known deviations).
const MYSQL: &[&str] = &["mysql"];

/// `Refused(field)` on the backends of `refused_on`, `Stored` elsewhere. A value
/// over a `TEXT` column's size on MariaDB/MySQL is refused by the server (errors 1406
/// and 1366), which the backend reports as field `value` (the column is named in the
/// reason only); everything else is refused by the storage's own validation, naming
/// the field.
fn expect(refused_on: &[&str], backend: &str, field: &'static str) -> Expect {
    if !refused_on.contains(&backend) {
        Expect::Stored
    } else if refused_on == MYSQL {
        Expect::Refused("value")
    } else {
        Expect::Refused(field)
    }
}

/// Judges bad-input writes one by one against their expected outcome, the write
/// and the read-back separately, and counts the rows of every table around every
/// refusal.
struct Judge {
    ctx: Ctx,
    outcomes: Vec<&'static str>,
    refused_fields: Vec<&'static str>,
}

impl Judge {
    fn new(ctx: &Ctx) -> Self {
        Judge {
            ctx: ctx.clone(),
            outcomes: Vec::new(),
            refused_fields: Vec::new(),
        }
    }

    /// Runs `write`: a value expected [`Expect::Stored`] must be written, then
    /// `read` must succeed and pass `check`; one expected [`Expect::Refused`] must
    /// fail at the write with `InvalidInput`, and every table must have the rows it
    /// had before (`read` is not run).
    async fn judge<T>(
        &mut self,
        what: &str,
        expected: Expect,
        write: impl std::future::Future<Output = Result<()>>,
        read: impl std::future::Future<Output = Result<T>>,
        check: impl FnOnce(T),
    ) {
        let before = row_counts(&self.ctx).await;
        let written = write.await;
        match (expected, written) {
            (Expect::Stored, Ok(())) => {
                let got = read.await.unwrap_or_else(|e| {
                    panic!(
                        "{what} on {}: written, then reading it back failed: {e:?}",
                        self.ctx.backend
                    )
                });
                check(got);
                self.outcomes.push("stored");
            }
            (Expect::Refused(want), Err(StorageError::InvalidInput { field, .. }))
                if field == want =>
            {
                let changed = row_changes(&before, &row_counts(&self.ctx).await);
                assert!(
                    changed.is_empty(),
                    "{what} on {}: refused, but rows changed: {changed:?}",
                    self.ctx.backend
                );
                self.outcomes.push("InvalidInput");
                self.refused_fields.push(field);
            }
            (expected, written) => panic!(
                "{what} on {}: expected {expected:?} at the write, got {written:?}",
                self.ctx.backend
            ),
        }
    }
}

/// Huge, deeply nested and numerically extreme JSON values in every JSON column, and
/// huge free-text values, each with its expected outcome per backend: stored and read
/// back equal, or refused by the write with `InvalidInput` leaving every table's row
/// count as it was (nesting deeper than 127 everywhere; more than 65,535 bytes in a
/// `TEXT` column on MariaDB/MySQL). Never a `Query` error, never accepted and then
/// unreadable.
pub async fn rel_input_json_and_text(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mib = "x".repeat(1 << 20);
    let b = ctx.backend;
    let values: Vec<(&str, Value, &[&str])> = vec![
        ("1 MiB string", json!({ "blob": mib }), MYSQL),
        (
            "64 Ki keys",
            Value::Object((0..65_536).map(|i| (format!("k{i}"), json!(i))).collect()),
            MYSQL,
        ),
        ("nesting 100", nested(100), &[]),
        ("nesting 127", nested(127), &[]),
        ("nesting 200", nested(200), ALL),
        ("nesting 1000", nested(1_000), ALL),
        (
            "extreme numbers",
            json!([u64::MAX, i64::MIN, 1e308, -1e-308, 0.1, -0.0, 5e-324]),
            &[],
        ),
        (
            "unicode keys",
            json!({ "😀": "\u{10ffff}", "\u{200f}": [null, true], "'\"\\": "%_" }),
            &[],
        ),
        ("empty object", json!({}), &[]),
        ("null", Value::Null, &[]),
        ("bare string", json!("just a string"), &[]),
    ];
    let mut j = Judge::new(&ctx);
    for (what, v, refused_on) in &values {
        let e = expect(refused_on, b, "session_data");
        // Session data and JWT payload.
        let mut s = session(&t, "u");
        s.session_data = v.clone();
        s.jwt_payload = v.clone();
        j.judge(
            &format!("create_session ({what})"),
            e,
            ctx.storage.create_session(&s),
            ctx.storage.get_session(&t, &s.handle),
            |got| {
                let got = got.expect("session stored");
                assert!(
                    got.session_data == *v && got.jwt_payload == *v,
                    "{what}: changed"
                );
            },
        )
        .await;
        // update_session on an existing session.
        let s2 = create_session(&ctx, &t, "u").await;
        j.judge(
            &format!("update_session ({what})"),
            e,
            async {
                let n = ctx
                    .storage
                    .update_session(&t, &s2.handle, Some(v), Some(v))
                    .await?;
                assert_eq!(n, 1, "update_session ({what}) touched {n} rows");
                Ok(())
            },
            ctx.storage.get_session(&t, &s2.handle),
            |got| {
                let got = got.expect("session");
                assert!(
                    got.session_data == *v && got.jwt_payload == *v,
                    "{what}: changed"
                );
            },
        )
        .await;
        // Core config and provider JSON of a tenant config.
        let c = config_with(&t, |c| {
            c.core_config = v.clone();
            c.providers[0].token_endpoint_body_params = Some(v.clone());
            c.providers[0].clients[0].additional_config = Some(v.clone());
        });
        j.judge(
            &format!("create_tenant_config ({what})"),
            expect(refused_on, b, "core_config"),
            ctx.storage.create_tenant_config(&c),
            ctx.storage.get_tenant_config(&c.key),
            |got| {
                let got = got.expect("config stored");
                assert_eq!(got.core_config, *v, "{what}: core config changed");
                assert_eq!(
                    got.providers[0].token_endpoint_body_params.as_ref(),
                    Some(v),
                    "{what}: provider params changed"
                );
                assert_eq!(
                    got.providers[0].clients[0].additional_config.as_ref(),
                    Some(v),
                    "{what}: client config changed"
                );
            },
        )
        .await;
    }
    // Huge free text: key/value values, signing keys, client secrets, endpoints.
    for (what, text, refused_on) in [
        ("64 KiB", "y".repeat(65_536), MYSQL),
        ("1 MiB", mib.clone(), MYSQL),
        ("1 MiB of 4-byte characters", "😀".repeat(1 << 18), MYSQL),
    ] {
        let e = expect(refused_on, b, "value");
        let name = format!("big-{}", seq());
        j.judge(
            &format!("kv_set ({what})"),
            e,
            ctx.storage.kv_set(&t, &name, &kv(&text, 1)),
            ctx.storage.kv_get(&t, &name),
            |got| assert_eq!(got.expect("kv row").value, text, "{what}: kv value changed"),
        )
        .await;
        let c = config_with(&t, |c| {
            c.providers[0].clients[0].client_secret = Some(Secret::new(text.clone()));
            c.providers[0].jwks_uri = Some(text.clone());
        });
        j.judge(
            &format!("create_tenant_config text ({what})"),
            e,
            ctx.storage.create_tenant_config(&c),
            ctx.storage.get_tenant_config(&c.key),
            |got| {
                let got = got.expect("config stored");
                assert_eq!(got.providers[0].jwks_uri.as_deref(), Some(text.as_str()));
                let secret = got.providers[0].clients[0].client_secret.clone().unwrap();
                assert_eq!(secret.expose(), text, "{what}: client secret changed");
            },
        )
        .await;
        let app = t.app.clone();
        let key = SigningKey {
            created_at: 1_000 + seq() as i64,
            value: text.clone(),
        };
        let k2 = key.clone();
        j.judge(
            &format!("add_signing_key ({what})"),
            e,
            async {
                run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
                    let (app, key) = (app.clone(), k2.clone());
                    Box::pin(async move {
                        tx.add_signing_key(&app, &key).await?;
                        Ok::<_, TxError<()>>(())
                    })
                })
                .await
                .map_err(|e| match e {
                    TxError::Storage(e) => e,
                    other => panic!("{other:?}"),
                })
            },
            ctx.storage.signing_keys(&t.app),
            |got| assert!(got.contains(&key), "{what}: signing key changed"),
        )
        .await;
    }
    assert_no_orphans(&ctx).await;
    let refusals = j.refused_fields.len();
    figures(
        ctx.backend,
        "input_json_and_text",
        &[
            ("inputs_tried", j.outcomes.len().to_string()),
            ("outcomes", histogram(j.outcomes.iter().copied())),
            ("refusals_rows_counted", refusals.to_string()),
            (
                "refused_fields",
                histogram(j.refused_fields.iter().copied()),
            ),
        ],
    );
}

/// Times, as `RELIABILITY.md` states them: -1, -1 h and `i64::MIN` in every written
/// time are refused by the write with `InvalidInput` on every backend, leaving every
/// table's row count as it was; 0, 1, `2^32`, year 9999, `i64::MAX - 1` and
/// `i64::MAX` are stored, and what is read back from the database (through the API,
/// or in plain SQL where the API returns no time) equals them; every read or delete
/// that compares with a caller's time accepts `i64::MIN`, -1, 0 and `i64::MAX` (an
/// `Ok`, never an error), except `rotate_refresh_token`, which writes its `now` as
/// the rotation time and refuses a negative one with `InvalidInput` (`now`); a
/// session expiring at `i64::MAX` never expires.
pub async fn rel_input_times(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mut tried = 0;
    let mut j = Judge::new(&ctx);
    let refused = [-1, i64::MIN, -HOUR];
    let stored = [
        0,
        1,
        i64::MAX,
        i64::MAX - 1,
        u32::MAX as i64 + 1,
        253_402_300_799_999,
    ];
    for time in refused.into_iter().chain(stored) {
        let e = |field| {
            if time < 0 {
                Expect::Refused(field)
            } else {
                Expect::Stored
            }
        };
        let back = |what: &'static str| {
            move |got: i64| assert_eq!(got, time, "{what} = {time} came back as {got}")
        };
        let mut ep = ep_input(&t, &email(), time);
        ep.time_joined = time;
        j.judge(
            &format!("time_joined = {time}"),
            e("time_joined"),
            async { ctx.storage.sign_up_email_password(&ep).await.map(drop) },
            async {
                let u = ctx.storage.get_user(&t.app, &ep.user_id).await?.unwrap();
                assert_eq!(u.login_methods[0].time_joined, u.time_joined);
                Ok(u.time_joined)
            },
            back("time_joined"),
        )
        .await;
        let mut s = session(&t, "u");
        s.expires_at = time;
        s.created_at = time;
        j.judge(
            &format!("session created_at and expires_at = {time}"),
            e("expires_at"),
            ctx.storage.create_session(&s),
            async {
                let got = ctx.storage.get_session(&t, &s.handle).await?.unwrap();
                assert_eq!(got.created_at, time, "session created_at");
                Ok(got.expires_at)
            },
            back("session expires_at"),
        )
        .await;
        let s2 = create_session(&ctx, &t, "u").await;
        j.judge(
            &format!("rotate_refresh_token new_expiry = {time}"),
            e("expires_at"),
            async {
                let r = ctx
                    .storage
                    .rotate_refresh_token(
                        &t,
                        &RefreshRotation {
                            handle: &s2.handle,
                            expected: &s2.refresh_token_hash,
                            new_hash: "n",
                            new_expiry: time,
                            now: 0,
                        },
                    )
                    .await?;
                assert_eq!(r, RotateOutcome::Rotated);
                Ok(())
            },
            async {
                let got = ctx.storage.get_session(&t, &s2.handle).await?.unwrap();
                Ok(got.expires_at)
            },
            back("rotated expiry"),
        )
        .await;
        let d = device(&t, Some(&email()), None, time);
        j.judge(
            &format!("code created_at = {time}"),
            e("created_at"),
            ctx.storage.create_device_with_code(&d),
            async {
                let got = ctx.storage.get_code(&t, &d.code.code_id).await?.unwrap();
                Ok(got.created_at)
            },
            back("code created_at"),
        )
        .await;
        let ev = ev_token(&t, "u", "t@example.com", time);
        j.judge(
            &format!("email-verification token expiry = {time}"),
            e("token_expiry"),
            ctx.storage.add_email_verification_token(&ev),
            async {
                let got = ctx
                    .storage
                    .get_email_verification_token(&t, &ev.token)
                    .await?;
                Ok(got.unwrap().token_expiry)
            },
            back("ev token expiry"),
        )
        .await;
        let u = user_of(&ctx, &t).await.expect("a user");
        let rt = reset_token(&t.app, &u.id, time);
        j.judge(
            &format!("password-reset token expiry = {time}"),
            e("token_expiry"),
            ctx.storage.add_password_reset_token(&rt),
            async {
                let got = ctx
                    .storage
                    .get_password_reset_token(&t.app, &rt.token)
                    .await?;
                Ok(got.unwrap().token_expiry)
            },
            back("reset token expiry"),
        )
        .await;
        let name = format!("time-{}", seq());
        j.judge(
            &format!("key/value created_at = {time}"),
            e("created_at"),
            ctx.storage.kv_set(&t, &name, &kv("v", time)),
            async { Ok(ctx.storage.kv_get(&t, &name).await?.unwrap().created_at) },
            back("kv created_at"),
        )
        .await;
        // The API returns no tenant's time: read the row in plain SQL.
        let tt = tenant("public", &format!("time{}", seq()));
        j.judge(
            &format!("add_tenant created_at = {time}"),
            e("created_at"),
            ctx.storage.add_tenant(&tt, time),
            async {
                let rows = select(
                    &ctx,
                    "created_at_time",
                    "tenants",
                    &format!("app_id = '{}' AND tenant_id = '{}'", tt.app, tt.tenant),
                )
                .await;
                assert_eq!(rows.len(), 1, "tenant row of {tt}");
                Ok(rows[0][0]
                    .as_deref()
                    .and_then(|v| v.parse::<i64>().ok())
                    .expect("created_at_time"))
            },
            back("tenant created_at"),
        )
        .await;
        let app = t.app.clone();
        let key = signing_key(time);
        j.judge(
            &format!("signing key created_at = {time}"),
            e("created_at"),
            async {
                run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
                    let app = app.clone();
                    Box::pin(async move {
                        tx.add_signing_key(&app, &signing_key(time)).await?;
                        Ok::<_, TxError<()>>(())
                    })
                })
                .await
                .map_err(|e| match e {
                    TxError::Storage(e) => e,
                    other => panic!("{other:?}"),
                })
            },
            async {
                let keys = ctx.storage.signing_keys(&t.app).await?;
                let mine: Vec<_> = keys.iter().filter(|k| k.value == key.value).collect();
                assert_eq!(mine.len(), 1, "signing key {}", key.value);
                Ok(mine[0].created_at)
            },
            back("signing key created_at"),
        )
        .await;
        tried += 9;
    }
    // Reads and deletes that compare with a caller's time: always answered.
    let mut now_refusals = 0;
    for now in [i64::MIN, -1, 0, i64::MAX] {
        let ok = |what: &str, r: Result<()>| {
            r.unwrap_or_else(|e| panic!("{what} with now = {now} on {}: {e:?}", ctx.backend))
        };
        ok(
            "session_handles_of_user",
            ctx.storage
                .session_handles_of_user(&t, "u", now)
                .await
                .map(drop),
        );
        ok(
            "codes_created_before",
            ctx.storage.codes_created_before(&t, now).await.map(drop),
        );
        let rows_before = row_counts(&ctx).await;
        let r = ctx
            .storage
            .rotate_refresh_token(
                &t,
                &RefreshRotation {
                    handle: "nohandle",
                    expected: "x",
                    new_hash: "y",
                    new_expiry: NOW,
                    now,
                },
            )
            .await;
        // A write: it stores `now` as the rotation time, so a negative one is
        // refused like every written time (on every backend).
        if now < 0 {
            assert!(
                matches!(r, Err(StorageError::InvalidInput { field: "now", .. })),
                "rotate_refresh_token(now = {now}): expected InvalidInput naming `now`, \
                 got {r:?}"
            );
            let changed = row_changes(&rows_before, &row_counts(&ctx).await);
            assert!(changed.is_empty(), "refused rotation changed {changed:?}");
            now_refusals += 1;
        } else {
            assert!(
                matches!(r, Ok(RotateOutcome::NotFound)),
                "rotate_refresh_token(now = {now}) of no session: {r:?}"
            );
        }
        ok(
            "list_users(after)",
            ctx.storage
                .list_users(&ListUsers {
                    tenant: t.clone(),
                    limit: 10,
                    order: TimeJoinedOrder::Desc,
                    recipes: vec![],
                    search: Default::default(),
                    after: Some(PageToken {
                        time_joined: now,
                        user_id: uid(),
                    }),
                })
                .await
                .map(drop),
        );
        let app = t.app.clone();
        let r = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
            let app = app.clone();
            Box::pin(async move {
                // Removes nothing for i64::MIN and everything for i64::MAX: use a
                // throw-away transaction.
                tx.remove_signing_keys_before(&app, now).await?;
                Err::<(), _>(TxError::Rollback(()))
            })
        })
        .await;
        assert!(
            matches!(r, Err(TxError::Rollback(()))),
            "remove_signing_keys_before({now}): {r:?}"
        );
        tried += 5;
    }
    // Deleting expired rows with the extremes: `i64::MIN` deletes nothing.
    for (what, r) in [
        (
            "delete_expired_sessions",
            ctx.storage.delete_expired_sessions(i64::MIN).await,
        ),
        (
            "delete_expired_password_reset_tokens",
            ctx.storage
                .delete_expired_password_reset_tokens(i64::MIN)
                .await,
        ),
        (
            "delete_expired_email_verification_tokens",
            ctx.storage
                .delete_expired_email_verification_tokens(i64::MIN)
                .await,
        ),
    ] {
        tried += 1;
        assert!(matches!(r, Ok(0)), "{what}(i64::MIN): {r:?}");
    }
    let before = ctx.storage.count_sessions(&t).await.unwrap();
    let n = ctx.storage.delete_expired_sessions(i64::MAX).await.unwrap();
    tried += 1;
    let after = ctx.storage.count_sessions(&t).await.unwrap();
    assert_eq!(
        before - after,
        n,
        "delete_expired_sessions(i64::MAX) reported {n}"
    );
    // A session expiring at i64::MAX is never expired.
    assert!(after >= 1, "a session expiring at i64::MAX was deleted");
    assert_no_orphans(&ctx).await;
    let refusals = j.refused_fields.len();
    figures(
        ctx.backend,
        "input_times",
        &[
            ("inputs_tried", tried.to_string()),
            ("outcomes", histogram(j.outcomes.iter().copied())),
            (
                "refusals_rows_counted",
                (refusals + now_refusals).to_string(),
            ),
            ("refused_now", now_refusals.to_string()),
            (
                "refused_fields",
                histogram(j.refused_fields.iter().copied()),
            ),
        ],
    );
}

/// The secret every hostile URI carries; no output may contain it.
pub const SECRET: &str = "hunter2Zq";

/// Connection URIs that are malformed or hostile for this backend's scheme, each
/// with the outcome it may have: `Config` (unusable), `Unavailable` (cannot reach),
/// or opening fine (a well-formed URI to the real server).
pub fn hostile_uris(backend: &str) -> Vec<(String, &'static [&'static str])> {
    const CONFIG: &[&str] = &["Config"];
    const UNREACHABLE: &[&str] = &["Unavailable", "Config"];
    const ANY: &[&str] = &["Ok", "Config", "Unavailable"];
    let s = SECRET;
    let mut v: Vec<(String, &'static [&'static str])> = vec![
        (format!("nosuchdb://u:{s}@127.0.0.1/db"), CONFIG),
        (format!("http://u:{s}@127.0.0.1/db"), CONFIG),
        (format!("postgre://u:{s}@127.0.0.1/db"), CONFIG),
        (format!("://u:{s}@h/db"), CONFIG),
        (format!("u:{s}@h/db"), CONFIG),
        (String::new(), CONFIG),
        (s.to_owned(), CONFIG),
    ];
    let (scheme, good, port) = match backend {
        "postgresql" => ("postgres", postgres_base(), 5432),
        "mysql" => ("mysql", mysql_uri(), 3306),
        _ => ("", String::new(), 0),
    };
    if backend == "sqlite" {
        v.extend([
            ("sqlite://".to_owned(), CONFIG),
            ("sqlite:".to_owned(), CONFIG),
            ("sqlite://%zzx".to_owned(), CONFIG),
            ("sqlite:///nonexistent-dir-x/x.db".to_owned(), UNREACHABLE),
            ("sqlite://".to_owned() + &"x/".repeat(2_000), UNREACHABLE),
        ]);
        return v;
    }
    let good_uri = ConnectionUri::parse(&good).unwrap();
    let user = good_uri.username.clone().unwrap_or_default();
    let db = good_uri.path.clone();
    v.extend([
        // Bad ports.
        (
            format!("{scheme}://{user}:{s}@127.0.0.1:99999/{db}"),
            CONFIG,
        ),
        (format!("{scheme}://{user}:{s}@127.0.0.1:0/{db}"), CONFIG),
        (format!("{scheme}://{user}:{s}@127.0.0.1:-1/{db}"), CONFIG),
        (format!("{scheme}://{user}:{s}@127.0.0.1:port/{db}"), CONFIG),
        (
            format!("{scheme}://{user}:{s}@127.0.0.1:1/{db}"),
            UNREACHABLE,
        ),
        // Unreachable or malformed hosts.
        (
            format!("{scheme}://{user}:{s}@nosuchhost.invalid:{port}/{db}"),
            UNREACHABLE,
        ),
        (format!("{scheme}://{user}:{s}@[::1/{db}"), CONFIG),
        // Missing or unknown database.
        (
            format!("{scheme}://{user}:{s}@127.0.0.1:{port}/nosuchdb_x"),
            CONFIG,
        ),
        (format!("{scheme}://{user}:{s}@127.0.0.1:{port}"), ANY),
        // Bad percent-encoding and unencoded reserved characters in the password.
        (
            format!("{scheme}://{user}:%zz{s}@127.0.0.1:{port}/{db}"),
            CONFIG,
        ),
        (
            format!("{scheme}://{user}:x/{s}@127.0.0.1:{port}/{db}"),
            ANY,
        ),
        (
            format!("{scheme}://{user}:{s}/x@127.0.0.1:{port}/{db}"),
            ANY,
        ),
        (
            format!("{scheme}://{user}:x?{s}@127.0.0.1:{port}/{db}"),
            ANY,
        ),
        (
            format!("{scheme}://{user}:{s}?x@127.0.0.1:{port}/{db}"),
            ANY,
        ),
        (
            format!("{scheme}://{user}:x#{s}@127.0.0.1:{port}/{db}"),
            ANY,
        ),
        (format!("{scheme}://{user}:{s}@@127.0.0.1:{port}/{db}"), ANY),
        (
            format!("{scheme}://{user}:12345/{s}@127.0.0.1:{port}/{db}"),
            ANY,
        ),
        (
            format!("{scheme}://{user}:12345?{s}@127.0.0.1:{port}/{db}"),
            ANY,
        ),
        // Lists of servers (PostgreSQL's multi-host form; one server on MySQL).
        (
            format!(
                "{scheme}://{user}:{s}@127.0.0.1:1,127.0.0.1:2/{db}?target_session_attrs=read-write"
            ),
            UNREACHABLE,
        ),
        (
            format!("{scheme}://{user}:{s}@127.0.0.1:{port},127.0.0.1:{port}/{db}"),
            ANY,
        ),
        (
            format!("{scheme}://{user}:{s}@127.0.0.1:1,127.0.0.1:port/{db}"),
            CONFIG,
        ),
        (format!("{scheme}://{user}:{s}@127.0.0.1:1,,h/{db}"), CONFIG),
        (
            format!("{scheme}://{user}:x,{s}@127.0.0.1:{port}/{db}"),
            ANY,
        ),
        (
            format!("{scheme}://{user}:{s}@127.0.0.1:{port}/{db}?target_session_attrs=bogus"),
            CONFIG,
        ),
        // Unknown parameters.
        (
            format!("{scheme}://{user}:{s}@127.0.0.1:{port}/{db}?bogus=1"),
            ANY,
        ),
        (
            format!("{scheme}://{user}:{s}@127.0.0.1:{port}/{db}?sslmode=bogus"),
            ANY,
        ),
        (
            format!("{scheme}://{user}:{s}@127.0.0.1:{port}/{db}?ssl-mode=bogus"),
            ANY,
        ),
    ]);
    v
}

fn postgres_base() -> String {
    crate::backends::postgres::base_uri()
}

/// A password with every reserved character, percent-encoded: the URI parses to the
/// exact password, prints without it, and opening with it either works (PostgreSQL
/// here trusts local connections) or fails with `Config` (a wrong password on
/// MariaDB), never showing it.
pub fn encoded_password_uri(backend: &str) -> Option<(String, String)> {
    let password = format!("p@ss:w/rd%?#&={SECRET}");
    let enc: String = password
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let good = match backend {
        "postgresql" => postgres_base(),
        "mysql" => mysql_uri(),
        _ => return None,
    };
    let mut u = ConnectionUri::parse(&good).unwrap();
    u.password = None;
    let base = u.expose();
    let (scheme, rest) = base.split_once("://").unwrap();
    let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
    let user = u.username.clone().unwrap_or_default();
    Some((format!("{scheme}://{user}:{enc}@{rest}"), password))
}

/// Opening a storage with malformed and hostile URIs: every one ends in one of its
/// allowed outcomes within the connect timeout, never panics, and no error, `Debug`
/// print or log of the URI shows the password.
pub async fn rel_input_hostile_uris(ctx: Ctx) {
    let mut tried = 0;
    let mut outcomes = Vec::new();
    for (uri, allowed) in hostile_uris(ctx.backend) {
        tried += 1;
        let options = OpenOptions {
            connect_timeout: Some(Duration::from_secs(3)),
            pool_size: Some(1),
            ..Default::default()
        };
        let r = tokio::time::timeout(Duration::from_secs(30), storage_api::open(&uri, options))
            .await
            .unwrap_or_else(|_| panic!("opening a hostile URI hung (#{tried})"));
        let outcome = match &r {
            Ok(s) => {
                s.close().await;
                "Ok"
            }
            Err(e) => variant(e),
        };
        assert!(
            allowed.contains(&outcome),
            "hostile URI #{tried} ({}): {outcome} is not one of {allowed:?}: {:?}",
            redact(&uri),
            r.as_ref().err()
        );
        if let Err(e) = &r {
            let mut shown = format!("{e} {e:?}");
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                shown.push_str(&format!(" {s} {s:?}"));
                src = s.source();
            }
            assert!(
                !shown.contains(SECRET),
                "hostile URI #{tried} ({}) leaked the password: {shown}",
                redact(&uri)
            );
        }
        // The secret only ever stands where a password goes (sometimes after an
        // unencoded reserved character): a URI that parses must print without it.
        if let Ok(parsed) = ConnectionUri::parse(&uri) {
            let shown = format!("{parsed} {parsed:?} {}", parsed.redacted());
            assert!(
                !shown.contains(SECRET),
                "hostile URI #{tried} ({}) parsed and printed its password: {shown}",
                redact(&uri)
            );
        }
        outcomes.push(outcome);
    }
    if let Some((uri, password)) = encoded_password_uri(ctx.backend) {
        tried += 1;
        let parsed = ConnectionUri::parse(&uri).expect("percent-encoded password parses");
        assert_eq!(
            parsed.password.as_ref().map(Secret::expose),
            Some(password.as_str())
        );
        assert!(!format!("{parsed} {parsed:?}").contains(SECRET));
        match storage_api::open(&uri, OpenOptions::default()).await {
            Ok(s) => {
                outcomes.push("Ok");
                s.close().await
            }
            Err(e) => {
                assert!(
                    matches!(e, StorageError::Config(_)),
                    "a wrong password must be Config: {e:?}"
                );
                assert!(!format!("{e} {e:?}").contains(SECRET), "leaked: {e:?}");
                outcomes.push("Config");
            }
        }
    }
    figures(
        ctx.backend,
        "input_hostile_uris",
        &[
            ("inputs_tried", tried.to_string()),
            ("outcomes", histogram(outcomes.iter().copied())),
        ],
    );
}

/// `uri` with the secret replaced, for failure messages.
pub fn redact(uri: &str) -> String {
    uri.replace(SECRET, "<secret>")
}
