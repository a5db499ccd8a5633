//! Apps, tenants, tenant configs and the key/value store (contract 5.1).

use crate::SqlStorage;
use crate::conn::{Conn, Dialect, Driver, Violation, unexpected};
use crate::run::{Op, Via, named_lock, traced};
use crate::schema::{Col, Tbl};
use crate::stmt::{
    IntoSlot, Meaning, One, Params, Q, Rec, Slot, Stmt, args, insert_row, locked, no_tenant,
    tenant_is,
};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Condition, Expr, ExprTrait, OnConflict, Order, Query};
use std::collections::BTreeMap;
use storage_api::validate;
use storage_api::*;

fn check_tenant_name(name: &str) -> Result<()> {
    validate::text("name", name, 128)
}

pub(crate) async fn add_tenant<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    created_at: i64,
) -> Result<()> {
    let args = args! { app: t.app.as_str(), created_at: created_at };
    q.exec(c, Stmt::fixed("tenancy.add_app"), args, |a| {
        insert_row(
            q.t(Tbl::Apps),
            [
                (Col::AppId, a.app.expr()),
                (Col::CreatedAtTime, a.created_at.expr()),
            ],
        )
        .on_conflict(
            OnConflict::column(Col::AppId)
                .do_nothing_on([Col::AppId])
                .to_owned(),
        )
        .to_owned()
    })
    .await
    .no_violations()?;
    let args = args! {
        app: t.app.as_str(),
        tenant: t.tenant.as_str(),
        created_at: created_at,
    };
    q.exec(c, Stmt::fixed("tenancy.add_tenant"), args, |a| {
        insert_row(
            q.t(Tbl::Tenants),
            [
                (Col::AppId, a.app.expr()),
                (Col::TenantId, a.tenant.expr()),
                (Col::CreatedAtTime, a.created_at.expr()),
            ],
        )
        .to_owned()
    })
    .await
    .violations(|v| match v {
        Violation::Unique(_) => StorageError::DuplicateTenant,
        v => unexpected(v),
    })?;
    Ok(())
}

/// The columns of a `tenant_configs` row.
const CONFIG: [Col; 8] = [
    Col::ConnectionUriDomain,
    Col::AppId,
    Col::TenantId,
    Col::CoreConfig,
    Col::EmailPasswordEnabled,
    Col::PasswordlessEnabled,
    Col::ThirdPartyEnabled,
    Col::IsFirstFactorsNull,
];

/// The columns of a `tenant_thirdparty_providers` row.
const PROVIDER: [Col; 21] = [
    Col::ConnectionUriDomain,
    Col::AppId,
    Col::TenantId,
    Col::ThirdPartyId,
    Col::Name,
    Col::AuthorizationEndpoint,
    Col::AuthorizationEndpointQueryParams,
    Col::TokenEndpoint,
    Col::TokenEndpointBodyParams,
    Col::UserInfoEndpoint,
    Col::UserInfoEndpointQueryParams,
    Col::UserInfoEndpointHeaders,
    Col::JwksUri,
    Col::OidcDiscoveryEndpoint,
    Col::RequireEmail,
    Col::UserInfoMapFromIdTokenPayloadUserId,
    Col::UserInfoMapFromIdTokenPayloadEmail,
    Col::UserInfoMapFromIdTokenPayloadEmailVerified,
    Col::UserInfoMapFromUserInfoEndpointUserId,
    Col::UserInfoMapFromUserInfoEndpointEmail,
    Col::UserInfoMapFromUserInfoEndpointEmailVerified,
];

/// The columns of a `tenant_thirdparty_provider_clients` row.
const CLIENT: [Col; 10] = [
    Col::ConnectionUriDomain,
    Col::AppId,
    Col::TenantId,
    Col::ThirdPartyId,
    Col::ClientType,
    Col::ClientId,
    Col::ClientSecret,
    Col::Scope,
    Col::ForcePkce,
    Col::AdditionalConfig,
];

/// The columns of a factor row (`tenant_first_factors`,
/// `tenant_required_secondary_factors`).
const FACTOR: [Col; 4] = [
    Col::ConnectionUriDomain,
    Col::AppId,
    Col::TenantId,
    Col::FactorId,
];

/// `connection_uri_domain = domain AND app_id = app AND tenant_id = tenant`.
fn config_is(domain: &One, app: &One, tenant: &One) -> Condition {
    tenant_is(app, tenant).add(Expr::col(Col::ConnectionUriDomain).eq(domain.expr()))
}

fn validate_config(cfg: &TenantConfig) -> Result<()> {
    cfg.key.validate()?;
    validate::json("core_config", &cfg.core_config)?;
    for f in cfg
        .first_factors
        .iter()
        .flatten()
        .chain(&cfg.required_secondary_factors)
    {
        validate::text("factor_id", f, 128)?;
    }
    for p in &cfg.providers {
        validate::text("third_party_id", &p.third_party_id, 28)?;
        validate::opt_text("name", p.name.as_deref(), 64)?;
        for (field, v) in [
            ("authorization_endpoint", &p.authorization_endpoint),
            ("token_endpoint", &p.token_endpoint),
            ("user_info_endpoint", &p.user_info_endpoint),
            ("jwks_uri", &p.jwks_uri),
            ("oidc_discovery_endpoint", &p.oidc_discovery_endpoint),
        ] {
            if let Some(v) = v {
                validate::free_text(field, v)?;
            }
        }
        for (field, v) in [
            (
                "authorization_endpoint_query_params",
                &p.authorization_endpoint_query_params,
            ),
            ("token_endpoint_body_params", &p.token_endpoint_body_params),
            (
                "user_info_endpoint_query_params",
                &p.user_info_endpoint_query_params,
            ),
            ("user_info_endpoint_headers", &p.user_info_endpoint_headers),
        ] {
            if let Some(v) = v {
                validate::json(field, v)?;
            }
        }
        for m in [
            &p.user_info_map_from_id_token_payload,
            &p.user_info_map_from_user_info_endpoint,
        ] {
            validate::opt_text("user_info_map", m.user_id.as_deref(), 64)?;
            validate::opt_text("user_info_map", m.email.as_deref(), 64)?;
            validate::opt_text("user_info_map", m.email_verified.as_deref(), 64)?;
        }
        for cl in &p.clients {
            validate::text_allow_empty("client_type", &cl.client_type, 64)?;
            validate::text("client_id", &cl.client_id, 256)?;
            if let Some(s) = &cl.client_secret {
                validate::free_text("client_secret", s.expose())?;
            }
            for s in cl.scope.iter().flatten() {
                validate::text_allow_empty("scope", s, 128)?;
            }
            if let Some(a) = &cl.additional_config {
                validate::json("additional_config", a)?;
            }
        }
    }
    Ok(())
}

fn json_opt(v: &Option<serde_json::Value>) -> Result<Option<String>> {
    v.as_ref().map(|v| validate::json("json", v)).transpose()
}

/// The `scope` value of a client row: PostgreSQL keeps SuperTokens' `VARCHAR(128)[]`
/// (built from the JSON text), the others store the JSON text.
fn scope_expr(d: Dialect, scope: &One) -> Expr {
    match d {
        Dialect::Postgres => Expr::cust_with_values(
            "ARRAY(SELECT json_array_elements_text(CAST($1 AS json)))::varchar(128)[]",
            [scope.value()],
        ),
        _ => scope.expr(),
    }
}

async fn insert_config<C: Conn>(c: &mut C, q: Q<'_>, cfg: &TenantConfig) -> Result<()> {
    let k = &cfg.key;
    let args = args! {
        domain: k.connection_uri_domain.as_str(),
        app: k.tenant.app.as_str(),
        tenant: k.tenant.tenant.as_str(),
        core: validate::json("core_config", &cfg.core_config)?,
        email_password: cfg.email_password_enabled,
        passwordless: cfg.passwordless_enabled,
        third_party: cfg.third_party_enabled,
        first_factors_null: cfg.first_factors.is_none(),
    };
    q.exec(c, Stmt::fixed("tenancy.insert_config"), args, |a| {
        insert_row(
            q.t(Tbl::TenantConfigs),
            [
                (Col::ConnectionUriDomain, a.domain.expr()),
                (Col::AppId, a.app.expr()),
                (Col::TenantId, a.tenant.expr()),
                (Col::CoreConfig, a.core.expr()),
                (Col::EmailPasswordEnabled, a.email_password.expr()),
                (Col::PasswordlessEnabled, a.passwordless.expr()),
                (Col::ThirdPartyEnabled, a.third_party.expr()),
                (Col::IsFirstFactorsNull, a.first_factors_null.expr()),
            ],
        )
        .to_owned()
    })
    .await
    .violations(|v| match v {
        Violation::Unique(_) => StorageError::DuplicateTenant,
        v => unexpected(v),
    })?;

    for p in &cfg.providers {
        let idt = &p.user_info_map_from_id_token_payload;
        let uie = &p.user_info_map_from_user_info_endpoint;
        let args = args! {
            domain: k.connection_uri_domain.as_str(),
            app: k.tenant.app.as_str(),
            tenant: k.tenant.tenant.as_str(),
            third_party_id: p.third_party_id.as_str(),
            name: p.name.clone(),
            authorization_endpoint: p.authorization_endpoint.clone(),
            authorization_endpoint_query_params: json_opt(&p.authorization_endpoint_query_params)?,
            token_endpoint: p.token_endpoint.clone(),
            token_endpoint_body_params: json_opt(&p.token_endpoint_body_params)?,
            user_info_endpoint: p.user_info_endpoint.clone(),
            user_info_endpoint_query_params: json_opt(&p.user_info_endpoint_query_params)?,
            user_info_endpoint_headers: json_opt(&p.user_info_endpoint_headers)?,
            jwks_uri: p.jwks_uri.clone(),
            oidc_discovery_endpoint: p.oidc_discovery_endpoint.clone(),
            require_email: p.require_email,
            idt_user_id: idt.user_id.clone(),
            idt_email: idt.email.clone(),
            idt_email_verified: idt.email_verified.clone(),
            uie_user_id: uie.user_id.clone(),
            uie_email: uie.email.clone(),
            uie_email_verified: uie.email_verified.clone(),
        };
        q.exec(c, Stmt::fixed("tenancy.insert_provider"), args, |a| {
            insert_row(
                q.t(Tbl::TenantThirdpartyProviders),
                [
                    (Col::ConnectionUriDomain, a.domain.expr()),
                    (Col::AppId, a.app.expr()),
                    (Col::TenantId, a.tenant.expr()),
                    (Col::ThirdPartyId, a.third_party_id.expr()),
                    (Col::Name, a.name.expr()),
                    (Col::AuthorizationEndpoint, a.authorization_endpoint.expr()),
                    (
                        Col::AuthorizationEndpointQueryParams,
                        a.authorization_endpoint_query_params.expr(),
                    ),
                    (Col::TokenEndpoint, a.token_endpoint.expr()),
                    (
                        Col::TokenEndpointBodyParams,
                        a.token_endpoint_body_params.expr(),
                    ),
                    (Col::UserInfoEndpoint, a.user_info_endpoint.expr()),
                    (
                        Col::UserInfoEndpointQueryParams,
                        a.user_info_endpoint_query_params.expr(),
                    ),
                    (
                        Col::UserInfoEndpointHeaders,
                        a.user_info_endpoint_headers.expr(),
                    ),
                    (Col::JwksUri, a.jwks_uri.expr()),
                    (Col::OidcDiscoveryEndpoint, a.oidc_discovery_endpoint.expr()),
                    (Col::RequireEmail, a.require_email.expr()),
                    (
                        Col::UserInfoMapFromIdTokenPayloadUserId,
                        a.idt_user_id.expr(),
                    ),
                    (Col::UserInfoMapFromIdTokenPayloadEmail, a.idt_email.expr()),
                    (
                        Col::UserInfoMapFromIdTokenPayloadEmailVerified,
                        a.idt_email_verified.expr(),
                    ),
                    (
                        Col::UserInfoMapFromUserInfoEndpointUserId,
                        a.uie_user_id.expr(),
                    ),
                    (
                        Col::UserInfoMapFromUserInfoEndpointEmail,
                        a.uie_email.expr(),
                    ),
                    (
                        Col::UserInfoMapFromUserInfoEndpointEmailVerified,
                        a.uie_email_verified.expr(),
                    ),
                ],
            )
            .to_owned()
        })
        .await
        .violations(|v| match v {
            Violation::Unique(_) => StorageError::DuplicateThirdPartyId,
            v => unexpected(v),
        })?;
        for cl in &p.clients {
            let scope = cl
                .scope
                .as_ref()
                .map(|s| {
                    serde_json::to_string(s)
                        .map_err(|e| StorageError::invalid("scope", e.to_string()))
                })
                .transpose()?;
            let stmt = if scope.is_some() {
                Stmt::fixed("tenancy.insert_client_with_scope")
            } else {
                Stmt::fixed("tenancy.insert_client")
            };
            let has_scope = scope.is_some();
            let args = args! {
                domain: k.connection_uri_domain.as_str(),
                app: k.tenant.app.as_str(),
                tenant: k.tenant.tenant.as_str(),
                third_party_id: p.third_party_id.as_str(),
                client_type: cl.client_type.as_str(),
                client_id: cl.client_id.as_str(),
                client_secret: cl.client_secret.as_ref().map(|s| s.expose().to_owned()),
                scope: scope,
                force_pkce: cl.force_pkce,
                additional_config: json_opt(&cl.additional_config)?,
            };
            q.exec(c, stmt, args, |a| {
                insert_row(
                    q.t(Tbl::TenantThirdpartyProviderClients),
                    [
                        (Col::ConnectionUriDomain, a.domain.expr()),
                        (Col::AppId, a.app.expr()),
                        (Col::TenantId, a.tenant.expr()),
                        (Col::ThirdPartyId, a.third_party_id.expr()),
                        (Col::ClientType, a.client_type.expr()),
                        (Col::ClientId, a.client_id.expr()),
                        (Col::ClientSecret, a.client_secret.expr()),
                        (
                            Col::Scope,
                            if has_scope {
                                scope_expr(q.dialect, &a.scope)
                            } else {
                                a.scope.expr()
                            },
                        ),
                        (Col::ForcePkce, a.force_pkce.expr()),
                        (Col::AdditionalConfig, a.additional_config.expr()),
                    ],
                )
                .to_owned()
            })
            .await
            .violations(|v| match v {
                Violation::Unique(_) => StorageError::DuplicateClientType,
                v => unexpected(v),
            })?;
        }
    }
    for (table, factors) in [
        (
            Tbl::TenantFirstFactors,
            cfg.first_factors.clone().unwrap_or_default(),
        ),
        (
            Tbl::TenantRequiredSecondaryFactors,
            cfg.required_secondary_factors.clone(),
        ),
    ] {
        let set: std::collections::BTreeSet<&String> = factors.iter().collect();
        for f in set {
            let args = args! {
                domain: k.connection_uri_domain.as_str(),
                app: k.tenant.app.as_str(),
                tenant: k.tenant.tenant.as_str(),
                factor: f.as_str(),
            };
            let stmt = match table {
                Tbl::TenantFirstFactors => Stmt::fixed("tenancy.insert_first_factor"),
                _ => Stmt::fixed("tenancy.insert_secondary_factor"),
            };
            q.exec(c, stmt, args, |a| {
                insert_row(
                    q.t(table),
                    [
                        (Col::ConnectionUriDomain, a.domain.expr()),
                        (Col::AppId, a.app.expr()),
                        (Col::TenantId, a.tenant.expr()),
                        (Col::FactorId, a.factor.expr()),
                    ],
                )
                .to_owned()
            })
            .await
            .no_violations()?;
        }
    }
    Ok(())
}

/// The key of a config row.
fn key_of(r: &Rec<'_, Col>) -> Result<(String, String, String)> {
    Ok((
        r.text(Col::ConnectionUriDomain)?,
        r.text(Col::AppId)?,
        r.text(Col::TenantId)?,
    ))
}

/// The configs of one key, or of every tenant (`key` `None`).
async fn load_configs<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    key: Option<&TenantConfigKey>,
) -> Result<Vec<TenantConfig>> {
    let one = key.is_some();
    // The rows of `cols` in `table`, of the key if there is one, in key order.
    let select = |table: Tbl, cols: &'static [Col], a: &KeyArgs| {
        let mut s = Query::select();
        s.from(q.t(table)).columns(cols.iter().copied());
        if one {
            s.cond_where(config_is(&a.domain, &a.app, &a.tenant));
        }
        s.order_by(Col::ConnectionUriDomain, Order::Asc)
            .order_by(Col::AppId, Order::Asc)
            .order_by(Col::TenantId, Order::Asc);
        s
    };
    let key_args = || KeyArgs::of(key);
    let stmt = |one_name, all_name| Stmt::fixed(if one { one_name } else { all_name });

    let rows = q
        .fetch(
            c,
            stmt("tenancy.config", "tenancy.configs"),
            &CONFIG,
            key_args(),
            |a| select(Tbl::TenantConfigs, &CONFIG, a),
        )
        .await?;
    let mut configs: BTreeMap<(String, String, String), TenantConfig> = BTreeMap::new();
    for r in rows.iter() {
        let k = key_of(&r)?;
        let tenant = TenantIdentifier::new(&k.1, &k.2)?;
        let mut cfg = TenantConfig::new(TenantConfigKey {
            connection_uri_domain: k.0.clone(),
            tenant,
        });
        cfg.core_config = r
            .opt_json(Col::CoreConfig)?
            .unwrap_or(serde_json::Value::Object(Default::default()));
        cfg.email_password_enabled = r.bool(Col::EmailPasswordEnabled)?;
        cfg.passwordless_enabled = r.bool(Col::PasswordlessEnabled)?;
        cfg.third_party_enabled = r.bool(Col::ThirdPartyEnabled)?;
        cfg.first_factors = if r.bool(Col::IsFirstFactorsNull)? {
            None
        } else {
            Some(Vec::new())
        };
        configs.insert(k, cfg);
    }
    if configs.is_empty() {
        return Ok(Vec::new());
    }

    let rows = q
        .fetch(
            c,
            stmt("tenancy.config_providers", "tenancy.configs_providers"),
            &PROVIDER,
            key_args(),
            |a| {
                let mut s = select(Tbl::TenantThirdpartyProviders, &PROVIDER, a);
                s.order_by(Col::ThirdPartyId, Order::Asc);
                s
            },
        )
        .await?;
    for r in rows.iter() {
        let Some(cfg) = configs.get_mut(&key_of(&r)?) else {
            continue;
        };
        cfg.providers.push(ThirdPartyProvider {
            third_party_id: r.text(Col::ThirdPartyId)?,
            name: r.opt_text(Col::Name)?,
            authorization_endpoint: r.opt_text(Col::AuthorizationEndpoint)?,
            authorization_endpoint_query_params: r
                .opt_json(Col::AuthorizationEndpointQueryParams)?,
            token_endpoint: r.opt_text(Col::TokenEndpoint)?,
            token_endpoint_body_params: r.opt_json(Col::TokenEndpointBodyParams)?,
            user_info_endpoint: r.opt_text(Col::UserInfoEndpoint)?,
            user_info_endpoint_query_params: r.opt_json(Col::UserInfoEndpointQueryParams)?,
            user_info_endpoint_headers: r.opt_json(Col::UserInfoEndpointHeaders)?,
            jwks_uri: r.opt_text(Col::JwksUri)?,
            oidc_discovery_endpoint: r.opt_text(Col::OidcDiscoveryEndpoint)?,
            require_email: r.opt_bool(Col::RequireEmail)?,
            user_info_map_from_id_token_payload: UserInfoFields {
                user_id: r.opt_text(Col::UserInfoMapFromIdTokenPayloadUserId)?,
                email: r.opt_text(Col::UserInfoMapFromIdTokenPayloadEmail)?,
                email_verified: r.opt_text(Col::UserInfoMapFromIdTokenPayloadEmailVerified)?,
            },
            user_info_map_from_user_info_endpoint: UserInfoFields {
                user_id: r.opt_text(Col::UserInfoMapFromUserInfoEndpointUserId)?,
                email: r.opt_text(Col::UserInfoMapFromUserInfoEndpointEmail)?,
                email_verified: r.opt_text(Col::UserInfoMapFromUserInfoEndpointEmailVerified)?,
            },
            clients: Vec::new(),
        });
    }

    let rows = q
        .fetch(
            c,
            stmt("tenancy.config_clients", "tenancy.configs_clients"),
            &CLIENT,
            key_args(),
            |a| {
                let mut s = select(Tbl::TenantThirdpartyProviderClients, &CLIENT, a);
                s.order_by(Col::ThirdPartyId, Order::Asc)
                    .order_by(Col::ClientType, Order::Asc);
                s
            },
        )
        .await?;
    for r in rows.iter() {
        let Some(cfg) = configs.get_mut(&key_of(&r)?) else {
            continue;
        };
        let tp = r.text(Col::ThirdPartyId)?;
        let Some(p) = cfg.providers.iter_mut().find(|p| p.third_party_id == tp) else {
            continue;
        };
        p.clients.push(ProviderClient {
            client_type: r.text(Col::ClientType)?,
            client_id: r.text(Col::ClientId)?,
            client_secret: r.opt_text(Col::ClientSecret)?.map(Secret::new),
            scope: r.opt_text_array(Col::Scope)?,
            force_pkce: r.bool(Col::ForcePkce)?,
            additional_config: r.opt_json(Col::AdditionalConfig)?,
        });
    }

    for (table, first) in [
        (Tbl::TenantFirstFactors, true),
        (Tbl::TenantRequiredSecondaryFactors, false),
    ] {
        let id = match (first, one) {
            (true, true) => Stmt::fixed("tenancy.config_first_factors"),
            (true, false) => Stmt::fixed("tenancy.configs_first_factors"),
            (false, true) => Stmt::fixed("tenancy.config_secondary_factors"),
            (false, false) => Stmt::fixed("tenancy.configs_secondary_factors"),
        };
        let rows = q
            .fetch(c, id, &FACTOR, key_args(), |a| {
                let mut s = select(table, &FACTOR, a);
                s.order_by(Col::FactorId, Order::Asc);
                s
            })
            .await?;
        for r in rows.iter() {
            let Some(cfg) = configs.get_mut(&key_of(&r)?) else {
                continue;
            };
            let f = r.text(Col::FactorId)?;
            if first {
                cfg.first_factors.get_or_insert_with(Vec::new).push(f);
            } else {
                cfg.required_secondary_factors.push(f);
            }
        }
    }
    Ok(configs.into_values().collect())
}

/// The named values of a config key (all NULL when listing every config).
struct KeyArgs {
    domain: One,
    app: One,
    tenant: One,
}

impl KeyArgs {
    fn of(key: Option<&TenantConfigKey>) -> Self {
        let value = |v: Option<&str>| v.into_slot();
        KeyArgs {
            domain: value(key.map(|k| k.connection_uri_domain.as_str())),
            app: value(key.map(|k| k.tenant.app.as_str())),
            tenant: value(key.map(|k| k.tenant.tenant.as_str())),
        }
    }
}

impl Params for KeyArgs {
    fn marked(&self, next: &mut usize) -> Self {
        KeyArgs {
            domain: self.domain.mark(next),
            app: self.app.mark(next),
            tenant: self.tenant.mark(next),
        }
    }

    fn into_values(self) -> Vec<sea_query::Value> {
        let mut out = Vec::with_capacity(3);
        self.domain.push(&mut out);
        self.app.push(&mut out);
        self.tenant.push(&mut out);
        out
    }
}

async fn delete_config<C: Conn>(c: &mut C, q: Q<'_>, key: &TenantConfigKey) -> Result<u64> {
    q.exec(
        c,
        Stmt::fixed("tenancy.delete_config"),
        KeyArgs::of(Some(key)),
        |a| {
            Query::delete()
                .from_table(q.t(Tbl::TenantConfigs))
                .cond_where(config_is(&a.domain, &a.app, &a.tenant))
                .to_owned()
        },
    )
    .await
    .no_violations()
}

/// `app_id = app AND tenant_id = tenant AND name = name`.
fn kv_is(app: &One, tenant: &One, name: &One) -> Condition {
    tenant_is(app, tenant).add(Expr::col(Col::Name).eq(name.expr()))
}

pub(crate) async fn kv_get<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    name: &str,
    lock: bool,
) -> Result<Option<KeyValue>> {
    check_tenant_name(name)?;
    if lock {
        named_lock(c, &format!("kv/{}/{}/{}", t.app, t.tenant, name)).await?;
    }
    let stmt = Stmt::locking("tenancy.kv_get", lock);
    const KV: [Col; 2] = [Col::Value, Col::CreatedAtTime];
    let args = args! { app: t.app.as_str(), tenant: t.tenant.as_str(), name: name };
    let row = q
        .fetch(c, stmt, &KV, args, |a| {
            let mut s = Query::select();
            s.from(q.t(Tbl::KeyValue))
                .columns(KV)
                .cond_where(kv_is(&a.app, &a.tenant, &a.name));
            locked(s, lock)
        })
        .await?
        .one();
    let Some(row) = row else {
        return Ok(None);
    };
    let r = row.rec();
    Ok(Some(KeyValue {
        value: r.opt_text(Col::Value)?.unwrap_or_default(),
        created_at: r.opt_int(Col::CreatedAtTime)?.unwrap_or(0),
    }))
}

pub(crate) async fn kv_set<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    name: &str,
    v: &KeyValue,
) -> Result<()> {
    check_tenant_name(name)?;
    validate::free_text("value", &v.value)?;
    validate::time("created_at", v.created_at)?;
    let args = args! {
        app: t.app.as_str(),
        tenant: t.tenant.as_str(),
        name: name,
        value: v.value.as_str(),
        created_at: v.created_at,
    };
    q.exec(c, Stmt::fixed("tenancy.kv_set"), args, |a| {
        insert_row(
            q.t(Tbl::KeyValue),
            [
                (Col::AppId, a.app.expr()),
                (Col::TenantId, a.tenant.expr()),
                (Col::Name, a.name.expr()),
                (Col::Value, a.value.expr()),
                (Col::CreatedAtTime, a.created_at.expr()),
            ],
        )
        .on_conflict(
            OnConflict::columns([Col::AppId, Col::TenantId, Col::Name])
                .update_columns([Col::Value, Col::CreatedAtTime])
                .to_owned(),
        )
        .to_owned()
    })
    .await
    .violations(|v| match v {
        Violation::ForeignKey => no_tenant(t),
        v => unexpected(v),
    })?;
    Ok(())
}

/// Deletes the tenant configs of an app, or of one of its tenants.
async fn delete_configs_of<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    app: &AppId,
    tenant: Option<&TenantId>,
) -> Result<u64> {
    let stmt = if tenant.is_some() {
        Stmt::fixed("tenancy.delete_configs_of_tenant")
    } else {
        Stmt::fixed("tenancy.delete_configs_of_app")
    };
    let of_tenant = tenant.is_some();
    let args = args! { app: app.as_str(), tenant: tenant.map(TenantId::as_str) };
    q.exec(c, stmt, args, |a| {
        let mut d = Query::delete();
        d.from_table(q.t(Tbl::TenantConfigs))
            .and_where(Expr::col(Col::AppId).eq(a.app.expr()));
        if of_tenant {
            d.and_where(Expr::col(Col::TenantId).eq(a.tenant.expr()));
        }
        d
    })
    .await
    .no_violations()
}

#[async_trait]
impl<D: Driver> Tenancy for SqlStorage<D> {
    async fn add_tenant(&self, tenant: &TenantIdentifier, created_at: i64) -> Result<()> {
        validate::time("created_at", created_at)?;
        self.in_tx(Op::tenant("add_tenant", tenant), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                add_tenant(c, q, tenant, created_at).await
            })
        })
        .await
    }

    async fn delete_tenant(&self, tenant: &TenantIdentifier) -> Result<bool> {
        if tenant.tenant.is_public() {
            return self.delete_app(&tenant.app).await;
        }
        self.in_tx(Op::tenant("delete_tenant", tenant), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                delete_configs_of(c, q, &tenant.app, Some(&tenant.tenant)).await?;
                let args = args! { app: tenant.app.as_str(), tenant: tenant.tenant.as_str() };
                let n = q
                    .exec(c, Stmt::fixed("tenancy.delete_tenant"), args, |a| {
                        Query::delete()
                            .from_table(q.t(Tbl::Tenants))
                            .cond_where(tenant_is(&a.app, &a.tenant))
                            .to_owned()
                    })
                    .await
                    .no_violations()?;
                Ok(n > 0)
            })
        })
        .await
    }

    async fn delete_app(&self, app: &AppId) -> Result<bool> {
        self.in_tx(Op::app("delete_app", app), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                delete_configs_of(c, q, app, None).await?;
                let n = q
                    .exec(
                        c,
                        Stmt::fixed("tenancy.delete_app"),
                        args! { app: app.as_str() },
                        |a| {
                            Query::delete()
                                .from_table(q.t(Tbl::Apps))
                                .and_where(Expr::col(Col::AppId).eq(a.app.expr()))
                                .to_owned()
                        },
                    )
                    .await
                    .no_violations()?;
                Ok(n > 0)
            })
        })
        .await
    }

    async fn list_apps_and_tenants(&self) -> Result<Vec<AppTenants>> {
        self.on(Via::Pool, Op::global("list_apps_and_tenants"), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                const APP: [Col; 1] = [Col::AppId];
                const TENANT: [Col; 2] = [Col::AppId, Col::TenantId];
                let apps = q
                    .fetch(c, Stmt::fixed("tenancy.apps"), &APP, args! {}, |_| {
                        Query::select()
                            .from(q.t(Tbl::Apps))
                            .columns(APP)
                            .order_by(Col::AppId, Order::Asc)
                            .to_owned()
                    })
                    .await?;
                let tenants = q
                    .fetch(c, Stmt::fixed("tenancy.tenants"), &TENANT, args! {}, |_| {
                        Query::select()
                            .from(q.t(Tbl::Tenants))
                            .columns(TENANT)
                            .order_by(Col::AppId, Order::Asc)
                            .order_by(Col::TenantId, Order::Asc)
                            .to_owned()
                    })
                    .await?;
                let mut out: BTreeMap<String, Vec<TenantId>> = BTreeMap::new();
                for r in apps.iter() {
                    out.entry(r.text(Col::AppId)?).or_default();
                }
                for r in tenants.iter() {
                    out.entry(r.text(Col::AppId)?)
                        .or_default()
                        .push(TenantId::new(&r.text(Col::TenantId)?)?);
                }
                out.into_iter()
                    .map(|(a, tenants)| {
                        Ok(AppTenants {
                            app: AppId::new(&a)?,
                            tenants,
                        })
                    })
                    .collect()
            })
        })
        .await
    }

    async fn create_tenant_config(&self, config: &TenantConfig) -> Result<()> {
        validate_config(config)?;
        self.in_tx(
            Op::tenant("create_tenant_config", &config.key.tenant),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    insert_config(c, q, config).await
                })
            },
        )
        .await
    }

    async fn overwrite_tenant_config(&self, config: &TenantConfig) -> Result<()> {
        validate_config(config)?;
        let k = &config.key;
        self.in_tx(Op::tenant("overwrite_tenant_config", &k.tenant), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                named_lock(
                    c,
                    &format!(
                        "tenant_config/{}/{}/{}",
                        k.connection_uri_domain, k.tenant.app, k.tenant.tenant
                    ),
                )
                .await?;
                if delete_config(c, q, k).await? == 0 {
                    return Err(no_tenant(&k.tenant));
                }
                insert_config(c, q, config).await
            })
        })
        .await
    }

    async fn get_tenant_config(&self, key: &TenantConfigKey) -> Result<Option<TenantConfig>> {
        key.validate()?;
        self.on(
            Via::Read,
            Op::tenant("get_tenant_config", &key.tenant),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    Ok(load_configs(c, q, Some(key)).await?.into_iter().next())
                })
            },
        )
        .await
    }

    async fn list_tenant_configs(&self) -> Result<Vec<TenantConfig>> {
        self.on(Via::Pool, Op::global("list_tenant_configs"), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                load_configs(c, q, None).await
            })
        })
        .await
    }

    async fn delete_tenant_config(&self, key: &TenantConfigKey) -> Result<bool> {
        key.validate()?;
        self.on(
            Via::Pool,
            Op::tenant("delete_tenant_config", &key.tenant),
            |cx| {
                Box::pin(async move {
                    let (c, q) = cx.parts();
                    Ok(delete_config(c, q, key).await? > 0)
                })
            },
        )
        .await
    }

    async fn kv_get(&self, tenant: &TenantIdentifier, name: &str) -> Result<Option<KeyValue>> {
        self.on(Via::Read, Op::tenant("kv_get", tenant), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                kv_get(c, q, tenant, name, false).await
            })
        })
        .await
    }

    async fn kv_set(&self, tenant: &TenantIdentifier, name: &str, value: &KeyValue) -> Result<()> {
        self.on(Via::Pool, Op::tenant("kv_set", tenant), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                kv_set(c, q, tenant, name, value).await
            })
        })
        .await
    }
}

#[async_trait]
impl<D: Driver> TenancyTx for SqlTx<D> {
    async fn kv_get_for_update(
        &mut self,
        tenant: &TenantIdentifier,
        name: &str,
    ) -> Result<Option<KeyValue>> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::tenant("kv_get_for_update", tenant),
            kv_get(c, q, tenant, name, true),
        )
        .await
    }

    async fn kv_set(
        &mut self,
        tenant: &TenantIdentifier,
        name: &str,
        value: &KeyValue,
    ) -> Result<()> {
        let (c, q) = self.parts();
        traced(
            D::NAME,
            Op::tenant("kv_set", tenant),
            kv_set(c, q, tenant, name, value),
        )
        .await
    }
}
