//! Apps, tenants, tenant configs and the key/value store (contract 5.1).

use crate::SqlStorage;
use crate::conn::{Conn, Dialect, Driver, Violation, unexpected};
use crate::run::{Op, Via, named_lock, traced};
use crate::schema::{
    Apps, ConfigKeyCols, FactorCols, KeyValue, Tbl, TenantConfigs, TenantFirstFactors,
    TenantRequiredSecondaryFactors, TenantThirdpartyProviderClients, TenantThirdpartyProviders,
    Tenants,
};
use crate::stmt::{
    IntoSlot, Meaning, One, Params, Q, Rec, Slot, Stmt, args, insert_row, locked, no_tenant,
    tenant_is, val,
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
                (Apps::AppId, a.app.expr()),
                (Apps::CreatedAtTime, a.created_at.expr()),
            ],
        )
        .on_conflict(
            OnConflict::column(Apps::AppId)
                .do_nothing_on([Apps::AppId])
                .to_owned(),
        )
        .to_owned()
    })
    .await
    .no_violations()?;
    q.insert(
        c,
        Stmt::fixed("tenancy.add_tenant"),
        [
            (Tenants::AppId, val(t.app.as_str())),
            (Tenants::TenantId, val(t.tenant.as_str())),
            (Tenants::CreatedAtTime, val(created_at)),
        ],
    )
    .await
    .violations(|v| match v {
        Violation::Unique(_) => StorageError::DuplicateTenant,
        v => unexpected(v),
    })?;
    Ok(())
}

/// The columns of a `tenant_configs` row.
const CONFIG: [TenantConfigs; 8] = [
    TenantConfigs::ConnectionUriDomain,
    TenantConfigs::AppId,
    TenantConfigs::TenantId,
    TenantConfigs::CoreConfig,
    TenantConfigs::EmailPasswordEnabled,
    TenantConfigs::PasswordlessEnabled,
    TenantConfigs::ThirdPartyEnabled,
    TenantConfigs::IsFirstFactorsNull,
];

/// The columns of a `tenant_thirdparty_providers` row.
const PROVIDER: [TenantThirdpartyProviders; 21] = [
    TenantThirdpartyProviders::ConnectionUriDomain,
    TenantThirdpartyProviders::AppId,
    TenantThirdpartyProviders::TenantId,
    TenantThirdpartyProviders::ThirdPartyId,
    TenantThirdpartyProviders::Name,
    TenantThirdpartyProviders::AuthorizationEndpoint,
    TenantThirdpartyProviders::AuthorizationEndpointQueryParams,
    TenantThirdpartyProviders::TokenEndpoint,
    TenantThirdpartyProviders::TokenEndpointBodyParams,
    TenantThirdpartyProviders::UserInfoEndpoint,
    TenantThirdpartyProviders::UserInfoEndpointQueryParams,
    TenantThirdpartyProviders::UserInfoEndpointHeaders,
    TenantThirdpartyProviders::JwksUri,
    TenantThirdpartyProviders::OidcDiscoveryEndpoint,
    TenantThirdpartyProviders::RequireEmail,
    TenantThirdpartyProviders::UserInfoMapFromIdTokenPayloadUserId,
    TenantThirdpartyProviders::UserInfoMapFromIdTokenPayloadEmail,
    TenantThirdpartyProviders::UserInfoMapFromIdTokenPayloadEmailVerified,
    TenantThirdpartyProviders::UserInfoMapFromUserInfoEndpointUserId,
    TenantThirdpartyProviders::UserInfoMapFromUserInfoEndpointEmail,
    TenantThirdpartyProviders::UserInfoMapFromUserInfoEndpointEmailVerified,
];

/// The columns of a `tenant_thirdparty_provider_clients` row.
const CLIENT: [TenantThirdpartyProviderClients; 10] = [
    TenantThirdpartyProviderClients::ConnectionUriDomain,
    TenantThirdpartyProviderClients::AppId,
    TenantThirdpartyProviderClients::TenantId,
    TenantThirdpartyProviderClients::ThirdPartyId,
    TenantThirdpartyProviderClients::ClientType,
    TenantThirdpartyProviderClients::ClientId,
    TenantThirdpartyProviderClients::ClientSecret,
    TenantThirdpartyProviderClients::Scope,
    TenantThirdpartyProviderClients::ForcePkce,
    TenantThirdpartyProviderClients::AdditionalConfig,
];

/// `connection_uri_domain = domain AND app_id = app AND tenant_id = tenant`, the
/// columns of table `T`.
fn config_is<T: ConfigKeyCols>(domain: &One, app: &One, tenant: &One) -> Condition {
    tenant_is::<T>(app, tenant).add(Expr::col(T::CONNECTION_URI_DOMAIN).eq(domain.expr()))
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
    q.insert(
        c,
        Stmt::fixed("tenancy.insert_config"),
        [
            (
                TenantConfigs::ConnectionUriDomain,
                val(k.connection_uri_domain.as_str()),
            ),
            (TenantConfigs::AppId, val(k.tenant.app.as_str())),
            (TenantConfigs::TenantId, val(k.tenant.tenant.as_str())),
            (
                TenantConfigs::CoreConfig,
                val(validate::json("core_config", &cfg.core_config)?),
            ),
            (
                TenantConfigs::EmailPasswordEnabled,
                val(cfg.email_password_enabled),
            ),
            (
                TenantConfigs::PasswordlessEnabled,
                val(cfg.passwordless_enabled),
            ),
            (
                TenantConfigs::ThirdPartyEnabled,
                val(cfg.third_party_enabled),
            ),
            (
                TenantConfigs::IsFirstFactorsNull,
                val(cfg.first_factors.is_none()),
            ),
        ],
    )
    .await
    .violations(|v| match v {
        Violation::Unique(_) => StorageError::DuplicateTenant,
        v => unexpected(v),
    })?;

    for p in &cfg.providers {
        let idt = &p.user_info_map_from_id_token_payload;
        let uie = &p.user_info_map_from_user_info_endpoint;
        q.insert(
            c,
            Stmt::fixed("tenancy.insert_provider"),
            [
                (
                    TenantThirdpartyProviders::ConnectionUriDomain,
                    val(k.connection_uri_domain.as_str()),
                ),
                (TenantThirdpartyProviders::AppId, val(k.tenant.app.as_str())),
                (
                    TenantThirdpartyProviders::TenantId,
                    val(k.tenant.tenant.as_str()),
                ),
                (
                    TenantThirdpartyProviders::ThirdPartyId,
                    val(p.third_party_id.as_str()),
                ),
                (TenantThirdpartyProviders::Name, val(p.name.clone())),
                (
                    TenantThirdpartyProviders::AuthorizationEndpoint,
                    val(p.authorization_endpoint.clone()),
                ),
                (
                    TenantThirdpartyProviders::AuthorizationEndpointQueryParams,
                    val(json_opt(&p.authorization_endpoint_query_params)?),
                ),
                (
                    TenantThirdpartyProviders::TokenEndpoint,
                    val(p.token_endpoint.clone()),
                ),
                (
                    TenantThirdpartyProviders::TokenEndpointBodyParams,
                    val(json_opt(&p.token_endpoint_body_params)?),
                ),
                (
                    TenantThirdpartyProviders::UserInfoEndpoint,
                    val(p.user_info_endpoint.clone()),
                ),
                (
                    TenantThirdpartyProviders::UserInfoEndpointQueryParams,
                    val(json_opt(&p.user_info_endpoint_query_params)?),
                ),
                (
                    TenantThirdpartyProviders::UserInfoEndpointHeaders,
                    val(json_opt(&p.user_info_endpoint_headers)?),
                ),
                (TenantThirdpartyProviders::JwksUri, val(p.jwks_uri.clone())),
                (
                    TenantThirdpartyProviders::OidcDiscoveryEndpoint,
                    val(p.oidc_discovery_endpoint.clone()),
                ),
                (
                    TenantThirdpartyProviders::RequireEmail,
                    val(p.require_email),
                ),
                (
                    TenantThirdpartyProviders::UserInfoMapFromIdTokenPayloadUserId,
                    val(idt.user_id.clone()),
                ),
                (
                    TenantThirdpartyProviders::UserInfoMapFromIdTokenPayloadEmail,
                    val(idt.email.clone()),
                ),
                (
                    TenantThirdpartyProviders::UserInfoMapFromIdTokenPayloadEmailVerified,
                    val(idt.email_verified.clone()),
                ),
                (
                    TenantThirdpartyProviders::UserInfoMapFromUserInfoEndpointUserId,
                    val(uie.user_id.clone()),
                ),
                (
                    TenantThirdpartyProviders::UserInfoMapFromUserInfoEndpointEmail,
                    val(uie.email.clone()),
                ),
                (
                    TenantThirdpartyProviders::UserInfoMapFromUserInfoEndpointEmailVerified,
                    val(uie.email_verified.clone()),
                ),
            ],
        )
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
                        (
                            TenantThirdpartyProviderClients::ConnectionUriDomain,
                            a.domain.expr(),
                        ),
                        (TenantThirdpartyProviderClients::AppId, a.app.expr()),
                        (TenantThirdpartyProviderClients::TenantId, a.tenant.expr()),
                        (
                            TenantThirdpartyProviderClients::ThirdPartyId,
                            a.third_party_id.expr(),
                        ),
                        (
                            TenantThirdpartyProviderClients::ClientType,
                            a.client_type.expr(),
                        ),
                        (
                            TenantThirdpartyProviderClients::ClientId,
                            a.client_id.expr(),
                        ),
                        (
                            TenantThirdpartyProviderClients::ClientSecret,
                            a.client_secret.expr(),
                        ),
                        (
                            TenantThirdpartyProviderClients::Scope,
                            if has_scope {
                                scope_expr(q.dialect, &a.scope)
                            } else {
                                a.scope.expr()
                            },
                        ),
                        (
                            TenantThirdpartyProviderClients::ForcePkce,
                            a.force_pkce.expr(),
                        ),
                        (
                            TenantThirdpartyProviderClients::AdditionalConfig,
                            a.additional_config.expr(),
                        ),
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
    insert_factors::<_, TenantFirstFactors>(
        c,
        q,
        Stmt::fixed("tenancy.insert_first_factor"),
        k,
        cfg.first_factors.as_deref().unwrap_or_default(),
    )
    .await?;
    insert_factors::<_, TenantRequiredSecondaryFactors>(
        c,
        q,
        Stmt::fixed("tenancy.insert_secondary_factor"),
        k,
        &cfg.required_secondary_factors,
    )
    .await?;
    Ok(())
}

/// The key of a config row, or of a row of one of its tables.
fn key_of<T: ConfigKeyCols>(r: &Rec<'_, T>) -> Result<(String, String, String)> {
    Ok((
        r.text(T::CONNECTION_URI_DOMAIN)?,
        r.text(T::APP_ID)?,
        r.text(T::TENANT_ID)?,
    ))
}

/// The rows of `cols` in their table, of the key if `one`, in key order.
fn select_keyed<T: ConfigKeyCols>(
    q: Q<'_>,
    one: bool,
    cols: &'static [T],
    a: &KeyArgs,
) -> sea_query::SelectStatement {
    let mut s = Query::select();
    s.from(q.t(T::TABLE)).columns(cols.iter().copied());
    if one {
        s.cond_where(config_is::<T>(&a.domain, &a.app, &a.tenant));
    }
    s.order_by(T::CONNECTION_URI_DOMAIN, Order::Asc)
        .order_by(T::APP_ID, Order::Asc)
        .order_by(T::TENANT_ID, Order::Asc);
    s
}

/// The factors of table `T` of one key, or of every config, in key order.
async fn factors<C: Conn, T: FactorCols>(
    c: &mut C,
    q: Q<'_>,
    stmt: Stmt,
    key: Option<&TenantConfigKey>,
) -> Result<Vec<((String, String, String), String)>> {
    let one = key.is_some();
    let rows = q
        .fetch(c, stmt, T::ROW, KeyArgs::of(key), |a| {
            let mut s = select_keyed(q, one, T::ROW, a);
            s.order_by(T::FACTOR_ID, Order::Asc);
            s
        })
        .await?;
    rows.iter()
        .map(|r| Ok((key_of(&r)?, r.text(T::FACTOR_ID)?)))
        .collect()
}

/// Inserts the factors of table `T` of a config.
async fn insert_factors<C: Conn, T: FactorCols>(
    c: &mut C,
    q: Q<'_>,
    stmt: Stmt,
    k: &TenantConfigKey,
    factors: &[String],
) -> Result<()> {
    let set: std::collections::BTreeSet<&String> = factors.iter().collect();
    for f in set {
        let args = args! {
            domain: k.connection_uri_domain.as_str(),
            app: k.tenant.app.as_str(),
            tenant: k.tenant.tenant.as_str(),
            factor: f.as_str(),
        };
        q.exec(c, stmt, args, |a| {
            insert_row(
                q.t(T::TABLE),
                [
                    (T::CONNECTION_URI_DOMAIN, a.domain.expr()),
                    (T::APP_ID, a.app.expr()),
                    (T::TENANT_ID, a.tenant.expr()),
                    (T::FACTOR_ID, a.factor.expr()),
                ],
            )
            .to_owned()
        })
        .await
        .no_violations()?;
    }
    Ok(())
}

/// The configs of one key, or of every tenant (`key` `None`).
async fn load_configs<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    key: Option<&TenantConfigKey>,
) -> Result<Vec<TenantConfig>> {
    let one = key.is_some();
    let key_args = || KeyArgs::of(key);
    let stmt = |one_name, all_name| Stmt::fixed(if one { one_name } else { all_name });

    let rows = q
        .fetch(
            c,
            stmt("tenancy.config", "tenancy.configs"),
            &CONFIG,
            key_args(),
            |a| select_keyed(q, one, &CONFIG, a),
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
            .opt_json(TenantConfigs::CoreConfig)?
            .unwrap_or(serde_json::Value::Object(Default::default()));
        cfg.email_password_enabled = r.bool(TenantConfigs::EmailPasswordEnabled)?;
        cfg.passwordless_enabled = r.bool(TenantConfigs::PasswordlessEnabled)?;
        cfg.third_party_enabled = r.bool(TenantConfigs::ThirdPartyEnabled)?;
        cfg.first_factors = if r.bool(TenantConfigs::IsFirstFactorsNull)? {
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
                let mut s = select_keyed(q, one, &PROVIDER, a);
                s.order_by(TenantThirdpartyProviders::ThirdPartyId, Order::Asc);
                s
            },
        )
        .await?;
    for r in rows.iter() {
        let Some(cfg) = configs.get_mut(&key_of(&r)?) else {
            continue;
        };
        cfg.providers.push(ThirdPartyProvider {
            third_party_id: r.text(TenantThirdpartyProviders::ThirdPartyId)?,
            name: r.opt_text(TenantThirdpartyProviders::Name)?,
            authorization_endpoint: r.opt_text(TenantThirdpartyProviders::AuthorizationEndpoint)?,
            authorization_endpoint_query_params: r
                .opt_json(TenantThirdpartyProviders::AuthorizationEndpointQueryParams)?,
            token_endpoint: r.opt_text(TenantThirdpartyProviders::TokenEndpoint)?,
            token_endpoint_body_params: r
                .opt_json(TenantThirdpartyProviders::TokenEndpointBodyParams)?,
            user_info_endpoint: r.opt_text(TenantThirdpartyProviders::UserInfoEndpoint)?,
            user_info_endpoint_query_params: r
                .opt_json(TenantThirdpartyProviders::UserInfoEndpointQueryParams)?,
            user_info_endpoint_headers: r
                .opt_json(TenantThirdpartyProviders::UserInfoEndpointHeaders)?,
            jwks_uri: r.opt_text(TenantThirdpartyProviders::JwksUri)?,
            oidc_discovery_endpoint: r
                .opt_text(TenantThirdpartyProviders::OidcDiscoveryEndpoint)?,
            require_email: r.opt_bool(TenantThirdpartyProviders::RequireEmail)?,
            user_info_map_from_id_token_payload: UserInfoFields {
                user_id: r
                    .opt_text(TenantThirdpartyProviders::UserInfoMapFromIdTokenPayloadUserId)?,
                email: r.opt_text(TenantThirdpartyProviders::UserInfoMapFromIdTokenPayloadEmail)?,
                email_verified: r.opt_text(
                    TenantThirdpartyProviders::UserInfoMapFromIdTokenPayloadEmailVerified,
                )?,
            },
            user_info_map_from_user_info_endpoint: UserInfoFields {
                user_id: r
                    .opt_text(TenantThirdpartyProviders::UserInfoMapFromUserInfoEndpointUserId)?,
                email: r
                    .opt_text(TenantThirdpartyProviders::UserInfoMapFromUserInfoEndpointEmail)?,
                email_verified: r.opt_text(
                    TenantThirdpartyProviders::UserInfoMapFromUserInfoEndpointEmailVerified,
                )?,
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
                let mut s = select_keyed(q, one, &CLIENT, a);
                s.order_by(TenantThirdpartyProviderClients::ThirdPartyId, Order::Asc)
                    .order_by(TenantThirdpartyProviderClients::ClientType, Order::Asc);
                s
            },
        )
        .await?;
    for r in rows.iter() {
        let Some(cfg) = configs.get_mut(&key_of(&r)?) else {
            continue;
        };
        let tp = r.text(TenantThirdpartyProviderClients::ThirdPartyId)?;
        let Some(p) = cfg.providers.iter_mut().find(|p| p.third_party_id == tp) else {
            continue;
        };
        p.clients.push(ProviderClient {
            client_type: r.text(TenantThirdpartyProviderClients::ClientType)?,
            client_id: r.text(TenantThirdpartyProviderClients::ClientId)?,
            client_secret: r
                .opt_text(TenantThirdpartyProviderClients::ClientSecret)?
                .map(Secret::new),
            scope: r.opt_text_array(TenantThirdpartyProviderClients::Scope)?,
            force_pkce: r.bool(TenantThirdpartyProviderClients::ForcePkce)?,
            additional_config: r.opt_json(TenantThirdpartyProviderClients::AdditionalConfig)?,
        });
    }

    let first = factors::<_, TenantFirstFactors>(
        c,
        q,
        stmt(
            "tenancy.config_first_factors",
            "tenancy.configs_first_factors",
        ),
        key,
    )
    .await?;
    for (k, f) in first {
        if let Some(cfg) = configs.get_mut(&k) {
            cfg.first_factors.get_or_insert_with(Vec::new).push(f);
        }
    }
    let secondary = factors::<_, TenantRequiredSecondaryFactors>(
        c,
        q,
        stmt(
            "tenancy.config_secondary_factors",
            "tenancy.configs_secondary_factors",
        ),
        key,
    )
    .await?;
    for (k, f) in secondary {
        if let Some(cfg) = configs.get_mut(&k) {
            cfg.required_secondary_factors.push(f);
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
                .cond_where(config_is::<TenantConfigs>(&a.domain, &a.app, &a.tenant))
                .to_owned()
        },
    )
    .await
    .no_violations()
}

/// `app_id = app AND tenant_id = tenant AND name = name`.
fn kv_is(app: &One, tenant: &One, name: &One) -> Condition {
    tenant_is::<KeyValue>(app, tenant).add(Expr::col(KeyValue::Name).eq(name.expr()))
}

pub(crate) async fn kv_get<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    name: &str,
    lock: bool,
) -> Result<Option<storage_api::KeyValue>> {
    check_tenant_name(name)?;
    if lock {
        named_lock(c, &format!("kv/{}/{}/{}", t.app, t.tenant, name)).await?;
    }
    let stmt = Stmt::locking("tenancy.kv_get", lock);
    const KV: [KeyValue; 2] = [KeyValue::Value, KeyValue::CreatedAtTime];
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
    Ok(Some(storage_api::KeyValue {
        value: r.opt_text(KeyValue::Value)?.unwrap_or_default(),
        created_at: r.opt_int(KeyValue::CreatedAtTime)?.unwrap_or(0),
    }))
}

pub(crate) async fn kv_set<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    t: &TenantIdentifier,
    name: &str,
    v: &storage_api::KeyValue,
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
                (KeyValue::AppId, a.app.expr()),
                (KeyValue::TenantId, a.tenant.expr()),
                (KeyValue::Name, a.name.expr()),
                (KeyValue::Value, a.value.expr()),
                (KeyValue::CreatedAtTime, a.created_at.expr()),
            ],
        )
        .on_conflict(
            OnConflict::columns([KeyValue::AppId, KeyValue::TenantId, KeyValue::Name])
                .update_columns([KeyValue::Value, KeyValue::CreatedAtTime])
                .to_owned(),
        )
        .to_owned()
    })
    .await
    .violations(|v| match v {
        Violation::ForeignKey(_) => no_tenant(t),
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
            .and_where(Expr::col(TenantConfigs::AppId).eq(a.app.expr()));
        if of_tenant {
            d.and_where(Expr::col(TenantConfigs::TenantId).eq(a.tenant.expr()));
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
                            .cond_where(tenant_is::<Tenants>(&a.app, &a.tenant))
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
                                .and_where(Expr::col(Apps::AppId).eq(a.app.expr()))
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
                const APP: [Apps; 1] = [Apps::AppId];
                const TENANT: [Tenants; 2] = [Tenants::AppId, Tenants::TenantId];
                let apps = q
                    .fetch(c, Stmt::fixed("tenancy.apps"), &APP, args! {}, |_| {
                        Query::select()
                            .from(q.t(Tbl::Apps))
                            .columns(APP)
                            .order_by(Apps::AppId, Order::Asc)
                            .to_owned()
                    })
                    .await?;
                let tenants = q
                    .fetch(c, Stmt::fixed("tenancy.tenants"), &TENANT, args! {}, |_| {
                        Query::select()
                            .from(q.t(Tbl::Tenants))
                            .columns(TENANT)
                            .order_by(Tenants::AppId, Order::Asc)
                            .order_by(Tenants::TenantId, Order::Asc)
                            .to_owned()
                    })
                    .await?;
                let mut out: BTreeMap<String, Vec<TenantId>> = BTreeMap::new();
                for r in apps.iter() {
                    out.entry(r.text(Apps::AppId)?).or_default();
                }
                for r in tenants.iter() {
                    out.entry(r.text(Tenants::AppId)?)
                        .or_default()
                        .push(TenantId::new(&r.text(Tenants::TenantId)?)?);
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

    async fn kv_get(
        &self,
        tenant: &TenantIdentifier,
        name: &str,
    ) -> Result<Option<storage_api::KeyValue>> {
        self.on(Via::Read, Op::tenant("kv_get", tenant), |cx| {
            Box::pin(async move {
                let (c, q) = cx.parts();
                kv_get(c, q, tenant, name, false).await
            })
        })
        .await
    }

    async fn kv_set(
        &self,
        tenant: &TenantIdentifier,
        name: &str,
        value: &storage_api::KeyValue,
    ) -> Result<()> {
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
    ) -> Result<Option<storage_api::KeyValue>> {
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
        value: &storage_api::KeyValue,
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
