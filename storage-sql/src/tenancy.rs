//! Apps, tenants, tenant configs and the key/value store (contract 5.1).

use crate::SqlStorage;
use crate::conn::{Conn, DbError, Dialect, Driver, Row};
use crate::q::{Q, col, in_tx, no_tenant, with_conn};
use crate::tx::SqlTx;
use async_trait::async_trait;
use sea_query::{Expr, ExprTrait, OnConflict, Order, Query, SelectStatement};
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
    q.run(
        c,
        Query::insert()
            .into_table(q.t("apps"))
            .columns([col("app_id"), col("created_at_time")])
            .values_panic([t.app.as_str().into(), created_at.into()])
            .on_conflict(
                OnConflict::column(col("app_id"))
                    .do_nothing_on([col("app_id")])
                    .to_owned(),
            ),
    )
    .await?;
    q.exec(
        c,
        Query::insert()
            .into_table(q.t("tenants"))
            .columns([col("app_id"), col("tenant_id"), col("created_at_time")])
            .values_panic([
                t.app.as_str().into(),
                t.tenant.as_str().into(),
                created_at.into(),
            ]),
    )
    .await
    .map_err(|e| match e {
        DbError::Unique { .. } => StorageError::DuplicateTenant,
        e => e.into_storage(),
    })?;
    Ok(())
}

const PROVIDER_COLS: [&str; 18] = [
    "third_party_id",
    "name",
    "authorization_endpoint",
    "authorization_endpoint_query_params",
    "token_endpoint",
    "token_endpoint_body_params",
    "user_info_endpoint",
    "user_info_endpoint_query_params",
    "user_info_endpoint_headers",
    "jwks_uri",
    "oidc_discovery_endpoint",
    "require_email",
    "user_info_map_from_id_token_payload_user_id",
    "user_info_map_from_id_token_payload_email",
    "user_info_map_from_id_token_payload_email_verified",
    "user_info_map_from_user_info_endpoint_user_id",
    "user_info_map_from_user_info_endpoint_email",
    "user_info_map_from_user_info_endpoint_email_verified",
];

const CLIENT_COLS: [&str; 7] = [
    "third_party_id",
    "client_type",
    "client_id",
    "client_secret",
    "scope",
    "force_pkce",
    "additional_config",
];

fn config_cond(key: &TenantConfigKey) -> sea_query::Condition {
    sea_query::Cond::all()
        .add(Expr::col(col("connection_uri_domain")).eq(key.connection_uri_domain.as_str()))
        .add(Expr::col(col("app_id")).eq(key.tenant.app.as_str()))
        .add(Expr::col(col("tenant_id")).eq(key.tenant.tenant.as_str()))
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

fn scope_expr(d: Dialect, scope: &Option<Vec<String>>) -> Result<Expr> {
    let Some(s) = scope else {
        return Ok(Expr::val(Option::<String>::None));
    };
    let json =
        serde_json::to_string(s).map_err(|e| StorageError::invalid("scope", e.to_string()))?;
    Ok(match d {
        // PostgreSQL keeps SuperTokens' VARCHAR(128)[]; the others store JSON text.
        Dialect::Postgres => Expr::cust_with_values(
            "ARRAY(SELECT json_array_elements_text(CAST($1 AS json)))::varchar(128)[]",
            [json],
        ),
        _ => Expr::val(json),
    })
}

async fn insert_config<C: Conn>(c: &mut C, q: Q<'_>, cfg: &TenantConfig) -> Result<()> {
    let k = &cfg.key;
    let key_vals = || -> [sea_query::Value; 3] {
        [
            k.connection_uri_domain.as_str().into(),
            k.tenant.app.as_str().into(),
            k.tenant.tenant.as_str().into(),
        ]
    };
    let cols = |more: &[&'static str]| {
        ["connection_uri_domain", "app_id", "tenant_id"]
            .iter()
            .chain(more)
            .map(|c| col(c))
            .collect::<Vec<_>>()
    };
    let core = validate::json("core_config", &cfg.core_config)?;
    let mut ins = Query::insert();
    ins.into_table(q.t("tenant_configs")).columns(cols(&[
        "core_config",
        "email_password_enabled",
        "passwordless_enabled",
        "third_party_enabled",
        "is_first_factors_null",
    ]));
    let mut vals: Vec<Expr> = key_vals().into_iter().map(Expr::val).collect();
    vals.extend([
        Expr::val(core),
        Expr::val(cfg.email_password_enabled),
        Expr::val(cfg.passwordless_enabled),
        Expr::val(cfg.third_party_enabled),
        Expr::val(cfg.first_factors.is_none()),
    ]);
    ins.values_panic(vals);
    q.exec(c, &ins).await.map_err(|e| match e {
        DbError::Unique { .. } => StorageError::DuplicateTenant,
        e => e.into_storage(),
    })?;

    for p in &cfg.providers {
        let mut ins = Query::insert();
        ins.into_table(q.t("tenant_thirdparty_providers"))
            .columns(cols(&PROVIDER_COLS));
        let idt = &p.user_info_map_from_id_token_payload;
        let uie = &p.user_info_map_from_user_info_endpoint;
        let mut vals: Vec<sea_query::Value> = key_vals().into();
        vals.extend([
            p.third_party_id.as_str().into(),
            p.name.clone().into(),
            p.authorization_endpoint.clone().into(),
            json_opt(&p.authorization_endpoint_query_params)?.into(),
            p.token_endpoint.clone().into(),
            json_opt(&p.token_endpoint_body_params)?.into(),
            p.user_info_endpoint.clone().into(),
            json_opt(&p.user_info_endpoint_query_params)?.into(),
            json_opt(&p.user_info_endpoint_headers)?.into(),
            p.jwks_uri.clone().into(),
            p.oidc_discovery_endpoint.clone().into(),
            p.require_email.into(),
            idt.user_id.clone().into(),
            idt.email.clone().into(),
            idt.email_verified.clone().into(),
            uie.user_id.clone().into(),
            uie.email.clone().into(),
            uie.email_verified.clone().into(),
        ]);
        ins.values_panic(vals.into_iter().map(Expr::val));
        q.exec(c, &ins).await.map_err(|e| match e {
            DbError::Unique { .. } => StorageError::DuplicateThirdPartyId,
            e => e.into_storage(),
        })?;
        for cl in &p.clients {
            let mut ins = Query::insert();
            ins.into_table(q.t("tenant_thirdparty_provider_clients"))
                .columns(cols(&CLIENT_COLS));
            let mut vals: Vec<Expr> = key_vals().into_iter().map(Expr::val).collect();
            vals.extend([
                Expr::val(p.third_party_id.as_str()),
                Expr::val(cl.client_type.as_str()),
                Expr::val(cl.client_id.as_str()),
                Expr::val(cl.client_secret.as_ref().map(|s| s.expose().to_owned())),
                scope_expr(q.d, &cl.scope)?,
                Expr::val(cl.force_pkce),
                Expr::val(json_opt(&cl.additional_config)?),
            ]);
            ins.values_panic(vals);
            q.exec(c, &ins).await.map_err(|e| match e {
                DbError::Unique { .. } => StorageError::DuplicateClientType,
                e => e.into_storage(),
            })?;
        }
    }
    for (table, factors) in [
        (
            "tenant_first_factors",
            cfg.first_factors.clone().unwrap_or_default(),
        ),
        (
            "tenant_required_secondary_factors",
            cfg.required_secondary_factors.clone(),
        ),
    ] {
        let set: std::collections::BTreeSet<&String> = factors.iter().collect();
        if set.is_empty() {
            continue;
        }
        let mut ins = Query::insert();
        ins.into_table(q.t(table)).columns(cols(&["factor_id"]));
        for f in set {
            let mut vals: Vec<sea_query::Value> = key_vals().into();
            vals.push(f.as_str().into());
            ins.values_panic(vals.into_iter().map(Expr::val));
        }
        q.run(c, &ins).await?;
    }
    Ok(())
}

async fn load_configs<C: Conn>(
    c: &mut C,
    q: Q<'_>,
    key: Option<&TenantConfigKey>,
) -> Result<Vec<TenantConfig>> {
    let filtered = |mut s: SelectStatement| {
        if let Some(k) = key {
            s.cond_where(config_cond(k));
        }
        s.order_by(col("connection_uri_domain"), Order::Asc)
            .order_by(col("app_id"), Order::Asc)
            .order_by(col("tenant_id"), Order::Asc)
            .to_owned()
    };
    let key_of =
        |r: &Row| -> Result<(String, String, String)> { Ok((r.text(0)?, r.text(1)?, r.text(2)?)) };
    let key_cols = [
        col("connection_uri_domain"),
        col("app_id"),
        col("tenant_id"),
    ];

    let rows = q
        .fetch(
            c,
            &filtered(
                Query::select()
                    .from(q.t("tenant_configs"))
                    .columns(key_cols.clone())
                    .columns([
                        col("core_config"),
                        col("email_password_enabled"),
                        col("passwordless_enabled"),
                        col("third_party_enabled"),
                        col("is_first_factors_null"),
                    ])
                    .to_owned(),
            ),
        )
        .await?;
    let mut configs: BTreeMap<(String, String, String), TenantConfig> = BTreeMap::new();
    for r in rows {
        let k = key_of(&r)?;
        let tenant = TenantIdentifier::new(&k.1, &k.2)?;
        let mut cfg = TenantConfig::new(TenantConfigKey {
            connection_uri_domain: k.0.clone(),
            tenant,
        });
        cfg.core_config = r
            .opt_json(3)?
            .unwrap_or(serde_json::Value::Object(Default::default()));
        cfg.email_password_enabled = r.bool(4)?;
        cfg.passwordless_enabled = r.bool(5)?;
        cfg.third_party_enabled = r.bool(6)?;
        cfg.first_factors = if r.bool(7)? { None } else { Some(Vec::new()) };
        configs.insert(k, cfg);
    }
    if configs.is_empty() {
        return Ok(Vec::new());
    }

    let rows = q
        .fetch(
            c,
            &filtered(
                Query::select()
                    .from(q.t("tenant_thirdparty_providers"))
                    .columns(key_cols.clone())
                    .columns(PROVIDER_COLS.map(col))
                    .order_by(col("third_party_id"), Order::Asc)
                    .to_owned(),
            ),
        )
        .await?;
    for r in rows {
        let Some(cfg) = configs.get_mut(&key_of(&r)?) else {
            continue;
        };
        cfg.providers.push(ThirdPartyProvider {
            third_party_id: r.text(3)?,
            name: r.opt_text(4)?,
            authorization_endpoint: r.opt_text(5)?,
            authorization_endpoint_query_params: r.opt_json(6)?,
            token_endpoint: r.opt_text(7)?,
            token_endpoint_body_params: r.opt_json(8)?,
            user_info_endpoint: r.opt_text(9)?,
            user_info_endpoint_query_params: r.opt_json(10)?,
            user_info_endpoint_headers: r.opt_json(11)?,
            jwks_uri: r.opt_text(12)?,
            oidc_discovery_endpoint: r.opt_text(13)?,
            require_email: r.opt_bool(14)?,
            user_info_map_from_id_token_payload: UserInfoFields {
                user_id: r.opt_text(15)?,
                email: r.opt_text(16)?,
                email_verified: r.opt_text(17)?,
            },
            user_info_map_from_user_info_endpoint: UserInfoFields {
                user_id: r.opt_text(18)?,
                email: r.opt_text(19)?,
                email_verified: r.opt_text(20)?,
            },
            clients: Vec::new(),
        });
    }

    let rows = q
        .fetch(
            c,
            &filtered(
                Query::select()
                    .from(q.t("tenant_thirdparty_provider_clients"))
                    .columns(key_cols.clone())
                    .columns(CLIENT_COLS.map(col))
                    .order_by(col("third_party_id"), Order::Asc)
                    .order_by(col("client_type"), Order::Asc)
                    .to_owned(),
            ),
        )
        .await?;
    for r in rows {
        let Some(cfg) = configs.get_mut(&key_of(&r)?) else {
            continue;
        };
        let tp = r.text(3)?;
        let Some(p) = cfg.providers.iter_mut().find(|p| p.third_party_id == tp) else {
            continue;
        };
        p.clients.push(ProviderClient {
            client_type: r.text(4)?,
            client_id: r.text(5)?,
            client_secret: r.opt_text(6)?.map(Secret::new),
            scope: r.opt_text_array(7)?,
            force_pkce: r.bool(8)?,
            additional_config: r.opt_json(9)?,
        });
    }

    for (table, first) in [
        ("tenant_first_factors", true),
        ("tenant_required_secondary_factors", false),
    ] {
        let rows = q
            .fetch(
                c,
                &filtered(
                    Query::select()
                        .from(q.t(table))
                        .columns(key_cols.clone())
                        .column(col("factor_id"))
                        .order_by(col("factor_id"), Order::Asc)
                        .to_owned(),
                ),
            )
            .await?;
        for r in rows {
            let Some(cfg) = configs.get_mut(&key_of(&r)?) else {
                continue;
            };
            let f = r.text(3)?;
            if first {
                cfg.first_factors.get_or_insert_with(Vec::new).push(f);
            } else {
                cfg.required_secondary_factors.push(f);
            }
        }
    }
    Ok(configs.into_values().collect())
}

async fn delete_config<C: Conn>(c: &mut C, q: Q<'_>, key: &TenantConfigKey) -> Result<u64> {
    q.run(
        c,
        Query::delete()
            .from_table(q.t("tenant_configs"))
            .cond_where(config_cond(key)),
    )
    .await
}

fn kv_cond(t: &TenantIdentifier, name: &str) -> sea_query::Condition {
    sea_query::Cond::all()
        .add(Expr::col(col("app_id")).eq(t.app.as_str()))
        .add(Expr::col(col("tenant_id")).eq(t.tenant.as_str()))
        .add(Expr::col(col("name")).eq(name))
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
        c.named_lock(&format!("kv/{}/{}/{}", t.app, t.tenant, name))
            .await?;
    }
    let mut s = Query::select();
    s.from(q.t("key_value"))
        .columns([col("value"), col("created_at_time")])
        .cond_where(kv_cond(t, name));
    if lock {
        s.lock_exclusive();
    }
    match q.fetch_opt(c, &s).await? {
        None => Ok(None),
        Some(r) => Ok(Some(KeyValue {
            value: r.opt_text(0)?.unwrap_or_default(),
            created_at: r.opt_int(1)?.unwrap_or(0),
        })),
    }
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
    q.exec(
        c,
        Query::insert()
            .into_table(q.t("key_value"))
            .columns([
                col("app_id"),
                col("tenant_id"),
                col("name"),
                col("value"),
                col("created_at_time"),
            ])
            .values_panic([
                t.app.as_str().into(),
                t.tenant.as_str().into(),
                name.into(),
                v.value.as_str().into(),
                v.created_at.into(),
            ])
            .on_conflict(
                OnConflict::columns([col("app_id"), col("tenant_id"), col("name")])
                    .update_columns([col("value"), col("created_at_time")])
                    .to_owned(),
            ),
    )
    .await
    .map_err(|e| match e {
        DbError::ForeignKey => no_tenant(t),
        e => e.into_storage(),
    })?;
    Ok(())
}

#[async_trait]
impl<D: Driver> Tenancy for SqlStorage<D> {
    async fn add_tenant(&self, tenant: &TenantIdentifier, created_at: i64) -> Result<()> {
        validate::time("created_at", created_at)?;
        in_tx!(self, |c, q| add_tenant(c, q, tenant, created_at).await)
    }

    async fn delete_tenant(&self, tenant: &TenantIdentifier) -> Result<bool> {
        if tenant.tenant.is_public() {
            return self.delete_app(&tenant.app).await;
        }
        in_tx!(self, |c, q| {
            q.run(
                c,
                Query::delete()
                    .from_table(q.t("tenant_configs"))
                    .and_where(Expr::col(col("app_id")).eq(tenant.app.as_str()))
                    .and_where(Expr::col(col("tenant_id")).eq(tenant.tenant.as_str())),
            )
            .await?;
            let n = q
                .run(
                    c,
                    Query::delete()
                        .from_table(q.t("tenants"))
                        .and_where(Expr::col(col("app_id")).eq(tenant.app.as_str()))
                        .and_where(Expr::col(col("tenant_id")).eq(tenant.tenant.as_str())),
                )
                .await?;
            Ok(n > 0)
        })
    }

    async fn delete_app(&self, app: &AppId) -> Result<bool> {
        in_tx!(self, |c, q| {
            q.run(
                c,
                Query::delete()
                    .from_table(q.t("tenant_configs"))
                    .and_where(Expr::col(col("app_id")).eq(app.as_str())),
            )
            .await?;
            let n = q
                .run(
                    c,
                    Query::delete()
                        .from_table(q.t("apps"))
                        .and_where(Expr::col(col("app_id")).eq(app.as_str())),
                )
                .await?;
            Ok(n > 0)
        })
    }

    async fn list_apps_and_tenants(&self) -> Result<Vec<AppTenants>> {
        with_conn!(self, |c, q| {
            let apps = q
                .fetch(
                    c,
                    Query::select()
                        .from(q.t("apps"))
                        .column(col("app_id"))
                        .order_by(col("app_id"), Order::Asc),
                )
                .await?;
            let tenants = q
                .fetch(
                    c,
                    Query::select()
                        .from(q.t("tenants"))
                        .columns([col("app_id"), col("tenant_id")])
                        .order_by(col("app_id"), Order::Asc)
                        .order_by(col("tenant_id"), Order::Asc),
                )
                .await?;
            let mut out: BTreeMap<String, Vec<TenantId>> = BTreeMap::new();
            for r in apps {
                out.entry(r.text(0)?).or_default();
            }
            for r in tenants {
                out.entry(r.text(0)?)
                    .or_default()
                    .push(TenantId::new(&r.text(1)?)?);
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
    }

    async fn create_tenant_config(&self, config: &TenantConfig) -> Result<()> {
        validate_config(config)?;
        in_tx!(self, |c, q| insert_config(c, q, config).await)
    }

    async fn overwrite_tenant_config(&self, config: &TenantConfig) -> Result<()> {
        validate_config(config)?;
        let k = &config.key;
        in_tx!(self, |c, q| {
            c.named_lock(&format!(
                "tenant_config/{}/{}/{}",
                k.connection_uri_domain, k.tenant.app, k.tenant.tenant
            ))
            .await?;
            if delete_config(c, q, k).await? == 0 {
                return Err(no_tenant(&k.tenant));
            }
            insert_config(c, q, config).await
        })
    }

    async fn get_tenant_config(&self, key: &TenantConfigKey) -> Result<Option<TenantConfig>> {
        key.validate()?;
        with_conn!(read self, |c, q| Ok(load_configs(c, q, Some(key))
            .await?
            .into_iter()
            .next()))
    }

    async fn list_tenant_configs(&self) -> Result<Vec<TenantConfig>> {
        with_conn!(self, |c, q| load_configs(c, q, None).await)
    }

    async fn delete_tenant_config(&self, key: &TenantConfigKey) -> Result<bool> {
        key.validate()?;
        with_conn!(self, |c, q| Ok(delete_config(c, q, key).await? > 0))
    }

    async fn kv_get(&self, tenant: &TenantIdentifier, name: &str) -> Result<Option<KeyValue>> {
        with_conn!(read self, |c, q| kv_get(c, q, tenant, name, false).await)
    }

    async fn kv_set(&self, tenant: &TenantIdentifier, name: &str, value: &KeyValue) -> Result<()> {
        with_conn!(self, |c, q| kv_set(c, q, tenant, name, value).await)
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
        kv_get(c, q, tenant, name, true).await
    }

    async fn kv_set(
        &mut self,
        tenant: &TenantIdentifier,
        name: &str,
        value: &KeyValue,
    ) -> Result<()> {
        let (c, q) = self.parts();
        kv_set(c, q, tenant, name, value).await
    }
}
