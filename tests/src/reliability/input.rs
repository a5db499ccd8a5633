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

/// One bounded string field of one write: its column's length, the field name its
/// `InvalidInput` must name, and a writer that stores a value in it and returns what
/// the API reads back.
struct Field {
    name: &'static str,
    max: usize,
    err: &'static str,
    run: Run,
}

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
            err: "password",
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
            err: "phone",
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
            err: "password",
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
            err: "phone",
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
            err: "handle",
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
            err: "refresh",
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
            err: "hash",
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
            err: "phone",
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
            err: "factor",
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
            err: "factor",
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
/// naming the field; a NUL byte is `InvalidInput`; exactly the column's length in
/// 1- to 4-byte characters, every unusual Unicode string and every SQL
/// metacharacter string are stored and read back byte for byte.
pub async fn rel_input_string_fields(ctx: Ctx) {
    let mut tried = 0usize;
    for (n, f) in fields().into_iter().enumerate() {
        let t = setup_tenant(&ctx, "public", &format!("f{n}")).await;
        let run = |v: String| (f.run)(ctx.clone(), t.clone(), v);
        let over = multibyte(f.max + 1);
        match run(over).await {
            Err(ref e @ StorageError::InvalidInput { field, .. }) => {
                assert!(
                    field.contains(f.err) && e.to_string().contains(field),
                    "{}: one over the column names `{field}` ({e}), expected `{}`",
                    f.name,
                    f.err
                );
            }
            other => panic!("{}: one over the column gave {other:?}", f.name),
        }
        for nul in ["\0", "a\0b", "ab\0"] {
            match run(nul.to_owned()).await {
                Err(StorageError::InvalidInput { .. }) => {}
                other => panic!("{}: NUL byte in {nul:?} gave {other:?}", f.name),
            }
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

/// Huge, deeply nested and numerically extreme JSON values in every JSON column, and
/// huge free-text values: each is stored and read back equal, or refused with
/// `InvalidInput`; never a `Query` error, never accepted and then unreadable.
pub async fn rel_input_json_and_text(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mib = "x".repeat(1 << 20);
    let values: Vec<(&str, Value)> = vec![
        ("1 MiB string", json!({ "blob": mib })),
        (
            "64 Ki keys",
            Value::Object((0..65_536).map(|i| (format!("k{i}"), json!(i))).collect()),
        ),
        ("nesting 100", nested(100)),
        ("nesting 127", nested(127)),
        ("nesting 200", nested(200)),
        ("nesting 1000", nested(1_000)),
        (
            "extreme numbers",
            json!([u64::MAX, i64::MIN, 1e308, -1e-308, 0.1, -0.0, 5e-324]),
        ),
        (
            "unicode keys",
            json!({ "😀": "\u{10ffff}", "\u{200f}": [null, true], "'\"\\": "%_" }),
        ),
        ("empty object", json!({})),
        ("null", Value::Null),
        ("bare string", json!("just a string")),
    ];
    let mut outcomes = Vec::new();
    for (what, v) in &values {
        // Session data and JWT payload.
        let mut s = session(&t, "u");
        s.session_data = v.clone();
        s.jwt_payload = v.clone();
        let r = async {
            ctx.storage.create_session(&s).await?;
            ctx.storage.get_session(&t, &s.handle).await
        }
        .await;
        outcomes.push(judge_json(&ctx, &format!("session ({what})"), r, |got| {
            let got = got.expect("session stored");
            assert!(
                got.session_data == *v && got.jwt_payload == *v,
                "{what}: changed"
            );
        }));
        // update_session on an existing session.
        let s2 = create_session(&ctx, &t, "u").await;
        let r = async {
            ctx.storage
                .update_session(&t, &s2.handle, Some(v), Some(v))
                .await?;
            ctx.storage.get_session(&t, &s2.handle).await
        }
        .await;
        outcomes.push(judge_json(
            &ctx,
            &format!("update_session ({what})"),
            r,
            |got| {
                let got = got.expect("session");
                assert!(
                    got.session_data == *v && got.jwt_payload == *v,
                    "{what}: changed"
                );
            },
        ));
        // Core config and provider JSON of a tenant config.
        let c = config_with(&t, |c| {
            c.core_config = v.clone();
            c.providers[0].token_endpoint_body_params = Some(v.clone());
            c.providers[0].clients[0].additional_config = Some(v.clone());
        });
        let r = config_roundtrip(&ctx, c).await;
        outcomes.push(judge_json(
            &ctx,
            &format!("tenant config ({what})"),
            r,
            |got| {
                assert_eq!(got.core_config, *v, "{what}: core config changed");
                assert_eq!(
                    got.providers[0].token_endpoint_body_params.as_ref(),
                    Some(v),
                    "{what}: provider params changed"
                );
            },
        ));
    }
    // Huge free text: key/value values, signing keys, client secrets, endpoints.
    for (what, text) in [
        ("64 KiB", "y".repeat(65_536)),
        ("1 MiB", mib.clone()),
        ("1 MiB of 4-byte characters", "😀".repeat(1 << 18)),
    ] {
        let name = format!("big-{}", seq());
        let r = async {
            ctx.storage.kv_set(&t, &name, &kv(&text, 1)).await?;
            ctx.storage.kv_get(&t, &name).await
        }
        .await;
        outcomes.push(judge_json(&ctx, &format!("kv value ({what})"), r, |got| {
            assert_eq!(got.expect("kv row").value, text, "{what}: kv value changed")
        }));
        let c = config_with(&t, |c| {
            c.providers[0].clients[0].client_secret = Some(Secret::new(text.clone()));
            c.providers[0].jwks_uri = Some(text.clone());
        });
        let r = config_roundtrip(&ctx, c).await;
        outcomes.push(judge_json(
            &ctx,
            &format!("config text ({what})"),
            r,
            |got| {
                assert_eq!(got.providers[0].jwks_uri.as_deref(), Some(text.as_str()));
                let secret = got.providers[0].clients[0].client_secret.clone().unwrap();
                assert_eq!(secret.expose(), text, "{what}: client secret changed");
            },
        ));
        let app = t.app.clone();
        let key = SigningKey {
            created_at: 1_000 + seq() as i64,
            value: text.clone(),
        };
        let k2 = key.clone();
        let r = async {
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
            })?;
            ctx.storage.signing_keys(&t.app).await
        }
        .await;
        outcomes.push(judge_json(
            &ctx,
            &format!("signing key ({what})"),
            r,
            |got| assert!(got.contains(&key), "{what}: signing key changed"),
        ));
    }
    figures(
        ctx.backend,
        "input_json_and_text",
        &[
            ("inputs_tried", outcomes.len().to_string()),
            ("outcomes", histogram(outcomes.iter().copied())),
        ],
    );
}

/// Accepts `Ok` (then runs `check` on it) or `InvalidInput`; anything else fails.
fn judge_json<T>(ctx: &Ctx, what: &str, r: Result<T>, check: impl FnOnce(T)) -> &'static str {
    match r {
        Ok(v) => {
            check(v);
            "stored"
        }
        Err(StorageError::InvalidInput { .. }) => "InvalidInput",
        Err(e) => panic!(
            "{what} on {}: expected the value back or InvalidInput, got {e:?}",
            ctx.backend
        ),
    }
}

/// Times: negative ones are refused in every write; `i64::MAX` (and other extreme
/// values) is stored and read back exactly; every read that compares with a time
/// given by the caller accepts `i64::MIN` and `i64::MAX` (or refuses them with
/// `InvalidInput`), never a `Query` error.
pub async fn rel_input_times(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let mut tried = 0;
    let writes = |time: i64| {
        let (ctx, t) = (ctx.clone(), t.clone());
        async move {
            let mut out: Vec<(&str, Result<i64>)> = Vec::new();
            let mut ep = ep_input(&t, &email(), time);
            ep.time_joined = time;
            let r = async {
                let u = ctx.storage.sign_up_email_password(&ep).await?;
                Ok(ctx
                    .storage
                    .get_user(&t.app, &u.id)
                    .await?
                    .unwrap()
                    .time_joined)
            }
            .await;
            out.push(("time_joined", r));
            let mut s = session(&t, "u");
            s.expires_at = time;
            s.created_at = time;
            let r = async {
                ctx.storage.create_session(&s).await?;
                let got = ctx.storage.get_session(&t, &s.handle).await?.unwrap();
                assert_eq!(got.created_at, got.expires_at);
                Ok(got.expires_at)
            }
            .await;
            out.push(("session times", r));
            let s2 = create_session(&ctx, &t, "u").await;
            let r = async {
                ctx.storage
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
                Ok(ctx
                    .storage
                    .get_session(&t, &s2.handle)
                    .await?
                    .unwrap()
                    .expires_at)
            }
            .await;
            out.push(("rotate new expiry", r));
            let d = device(&t, Some(&email()), None, time);
            let r = async {
                ctx.storage.create_device_with_code(&d).await?;
                Ok(ctx
                    .storage
                    .get_code(&t, &d.code.code_id)
                    .await?
                    .unwrap()
                    .created_at)
            }
            .await;
            out.push(("code created_at", r));
            let ev = ev_token(&t, "u", "t@example.com", time);
            let r = async {
                ctx.storage.add_email_verification_token(&ev).await?;
                let got = ctx
                    .storage
                    .get_email_verification_token(&t, &ev.token)
                    .await?;
                Ok(got.unwrap().token_expiry)
            }
            .await;
            out.push(("ev token expiry", r));
            let r = async {
                let u = user_of(&ctx, &t).await?;
                let rt = reset_token(&t.app, &u.id, time);
                ctx.storage.add_password_reset_token(&rt).await?;
                let got = ctx
                    .storage
                    .get_password_reset_token(&t.app, &rt.token)
                    .await?;
                Ok(got.unwrap().token_expiry)
            }
            .await;
            out.push(("reset token expiry", r));
            let name = format!("time-{}", seq());
            let r = async {
                ctx.storage.kv_set(&t, &name, &kv("v", time)).await?;
                Ok(ctx.storage.kv_get(&t, &name).await?.unwrap().created_at)
            }
            .await;
            out.push(("kv created_at", r));
            let tt = tenant("public", &format!("time{}", seq()));
            let r = async {
                ctx.storage.add_tenant(&tt, time).await?;
                Ok(time)
            }
            .await;
            out.push(("add_tenant created_at", r));
            let app = t.app.clone();
            let r = async {
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
                })?;
                let keys = ctx.storage.signing_keys(&t.app).await?;
                Ok(keys
                    .iter()
                    .find(|k| k.created_at == time)
                    .map_or(-1, |k| k.created_at))
            }
            .await;
            out.push(("signing key created_at", r));
            out
        }
    };
    for time in [-1, i64::MIN, -HOUR] {
        for (what, r) in writes(time).await {
            tried += 1;
            match r {
                Err(StorageError::InvalidInput { .. }) => {}
                other => panic!("{what} = {time}: expected InvalidInput, got {other:?}"),
            }
        }
    }
    for time in [
        0,
        1,
        i64::MAX,
        i64::MAX - 1,
        u32::MAX as i64 + 1,
        253_402_300_799_999,
    ] {
        for (what, r) in writes(time).await {
            tried += 1;
            match r {
                Ok(got) => assert_eq!(got, time, "{what} = {time} came back changed"),
                Err(e) => panic!("{what} = {time}: expected it stored, got {e:?}"),
            }
        }
    }
    // Reads and deletes that compare with a caller's time.
    for now in [i64::MIN, -1, 0, i64::MAX] {
        let checks: Vec<(&str, Result<()>)> = vec![
            (
                "session_handles_of_user",
                ctx.storage
                    .session_handles_of_user(&t, "u", now)
                    .await
                    .map(drop),
            ),
            (
                "codes_created_before",
                ctx.storage.codes_created_before(&t, now).await.map(drop),
            ),
            (
                "rotate_refresh_token(now)",
                ctx.storage
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
                    .await
                    .map(drop),
            ),
            (
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
            ),
        ];
        for (what, r) in checks {
            tried += 1;
            match r {
                Ok(()) | Err(StorageError::InvalidInput { .. }) => {}
                Err(e) => panic!("{what} with {now}: {e:?}"),
            }
        }
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
        tried += 1;
        match r {
            Err(TxError::Rollback(()))
            | Err(TxError::Storage(StorageError::InvalidInput { .. })) => {}
            other => panic!("remove_signing_keys_before({now}): {other:?}"),
        }
    }
    // Deleting expired rows with the extremes: `i64::MIN` deletes nothing.
    for r in [
        ctx.storage.delete_expired_sessions(i64::MIN).await,
        ctx.storage
            .delete_expired_password_reset_tokens(i64::MIN)
            .await,
        ctx.storage
            .delete_expired_email_verification_tokens(i64::MIN)
            .await,
    ] {
        tried += 1;
        match r {
            Ok(0) | Err(StorageError::InvalidInput { .. }) => {}
            other => panic!("delete expired before i64::MIN: {other:?}"),
        }
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
    figures(
        ctx.backend,
        "input_times",
        &[("inputs_tried", tried.to_string())],
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
