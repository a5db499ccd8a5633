//! Tenancy (contract 5.1): apps and tenants, cascades of tenant and app deletion,
//! tenant configs with providers, clients and factors, and the key/value store.

use super::fixtures::*;
use crate::harness::Ctx;
use serde_json::json;
use storage_api::*;

fn listed(apps: &[AppTenants], app: &str) -> Option<Vec<String>> {
    apps.iter()
        .find(|a| a.app.as_str() == app)
        .map(|a| tenant_names(&a.tenants))
}

/// Adding tenants creates the app row and lists apps and tenants sorted.
pub async fn tenancy_add_and_list_tenants(ctx: Ctx) {
    setup_public(&ctx).await;
    let s = &ctx.storage;
    s.add_tenant(&tenant("app2", "public"), 1).await.unwrap();
    s.add_tenant(&tenant("app2", "zeta"), 2).await.unwrap();
    s.add_tenant(&tenant("app2", "alpha"), 3).await.unwrap();
    s.add_tenant(&tenant("app1", "public"), 4).await.unwrap();
    let apps = s.list_apps_and_tenants().await.unwrap();
    let names: Vec<&str> = apps.iter().map(|a| a.app.as_str()).collect();
    let mut sorted_names = names.clone();
    sorted_names.sort();
    assert_eq!(names, sorted_names, "apps are not sorted");
    assert_eq!(names, vec!["app1", "app2", "public"]);
    assert_eq!(
        listed(&apps, "app2").unwrap(),
        vec!["alpha", "public", "zeta"],
        "tenants of app2 not listed sorted"
    );
    assert_eq!(listed(&apps, "app1").unwrap(), vec!["public"]);
    assert_eq!(listed(&apps, "public").unwrap(), vec!["public"]);
}

/// A non-public tenant of an unknown app inserts the app row too.
pub async fn tenancy_add_tenant_inserts_app(ctx: Ctx) {
    ctx.storage
        .add_tenant(&tenant("fresh", "t1"), 9)
        .await
        .expect("add_tenant of a new app");
    let apps = ctx.storage.list_apps_and_tenants().await.unwrap();
    let tenants = listed(&apps, "fresh").expect("app `fresh` not listed");
    assert!(
        tenants.contains(&"t1".to_owned()),
        "t1 missing: {tenants:?}"
    );
    assert_eq!(app_rows(&ctx, "apps", &app("fresh")).await, 1);
}

/// Adding an existing tenant is `DuplicateTenant`.
pub async fn tenancy_duplicate_tenant(ctx: Ctx) {
    let t = setup_tenant(&ctx, "a", "t1").await;
    let r = ctx.storage.add_tenant(&t, 5).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateTenant)),
        "second add_tenant: {r:?}"
    );
    let r = ctx
        .storage
        .add_tenant(&TenantIdentifier::public(app("a")), 5)
        .await;
    assert!(
        matches!(r, Err(StorageError::DuplicateTenant)),
        "second add_tenant of public: {r:?}"
    );
}

/// Identifiers are normalised: trimmed, lower-cased, empty means public.
pub async fn tenancy_ids_are_normalised(ctx: Ctx) {
    let t = TenantIdentifier::new("  MyApp ", "TeNant1").unwrap();
    assert_eq!(t.app.as_str(), "myapp");
    assert_eq!(t.tenant.as_str(), "tenant1");
    assert!(TenantIdentifier::new("", "").unwrap() == TenantIdentifier::default_public());
    ctx.storage.add_tenant(&t, 1).await.unwrap();
    let again = TenantIdentifier::new("MYAPP", " tenant1 ").unwrap();
    let r = ctx.storage.add_tenant(&again, 1).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateTenant)),
        "normalised ids should collide: {r:?}"
    );
    let apps = ctx.storage.list_apps_and_tenants().await.unwrap();
    assert!(
        listed(&apps, "myapp")
            .unwrap()
            .contains(&"tenant1".to_owned())
    );
}

/// `delete_tenant` reports whether the tenant existed and unlists it.
pub async fn tenancy_delete_tenant_returns_bool(ctx: Ctx) {
    let t = setup_tenant(&ctx, "a", "t1").await;
    assert!(ctx.storage.delete_tenant(&t).await.unwrap(), "first delete");
    assert!(
        !ctx.storage.delete_tenant(&t).await.unwrap(),
        "second delete"
    );
    assert!(
        !ctx.storage
            .delete_tenant(&tenant("nosuchapp", "x"))
            .await
            .unwrap()
    );
    let apps = ctx.storage.list_apps_and_tenants().await.unwrap();
    assert_eq!(listed(&apps, "a").unwrap(), vec!["public"]);
}

/// Deleting a tenant removes every tenant-scoped row of it; its users stay in the app,
/// tenant-less, and can be added back.
pub async fn tenancy_delete_tenant_cascades_keeps_users(ctx: Ctx) {
    let data = populate(&ctx, "casc").await;
    let t1 = data.t1.tenant.clone();
    for table in TENANT_SCOPED_TABLES {
        assert!(
            tenant_rows(&ctx, table, &t1).await > 0,
            "fixture wrote no {table} row for {t1}"
        );
    }
    assert!(ctx.storage.delete_tenant(&t1).await.unwrap());
    for table in TENANT_SCOPED_TABLES {
        assert_eq!(
            tenant_rows(&ctx, table, &t1).await,
            0,
            "{table} still holds rows of deleted tenant {t1}"
        );
        assert!(
            tenant_rows(&ctx, table, &data.public.tenant).await > 0,
            "{table} lost rows of the public tenant"
        );
    }
    for u in [&data.t1.ep, &data.t1.tp, &data.t1.pl] {
        let got = ctx
            .storage
            .get_user(&data.app, &u.id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("user {} gone after delete_tenant", u.id));
        assert!(
            got.tenant_ids.is_empty(),
            "user still lists tenants {:?}",
            got.tenant_ids
        );
        assert!(
            ctx.storage
                .user_exists(&UserScope::App(data.app.clone()), &u.id)
                .await
                .unwrap()
        );
    }
    assert!(
        ctx.storage
            .get_session(&t1, &data.t1.session.handle)
            .await
            .unwrap()
            .is_none(),
        "session of deleted tenant still readable"
    );
    // The tenant can be created again, empty, and the users re-added.
    ctx.storage.add_tenant(&t1, 2).await.unwrap();
    assert_eq!(
        ctx.storage
            .count_users(&UserScope::Tenant(t1.clone()), &[])
            .await
            .unwrap(),
        0
    );
    assert!(ctx.storage.kv_get(&t1, "kv-name").await.unwrap().is_none());
    assert!(
        ctx.storage
            .add_user_to_tenant(&t1, &data.t1.ep.id)
            .await
            .unwrap(),
        "re-adding the user to its re-created tenant"
    );
    let got = ctx
        .storage
        .get_user(&data.app, &data.t1.ep.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tenant_names(&got.tenant_ids), vec!["t1"]);
    let by_email = ctx
        .storage
        .list_users_by_email(&t1, &data.t1.ep_email)
        .await
        .unwrap();
    assert_eq!(ids(&by_email), vec![data.t1.ep.id.clone()]);
}

/// Deleting the public tenant deletes the whole app.
pub async fn tenancy_delete_public_tenant_deletes_app(ctx: Ctx) {
    let data = populate(&ctx, "gone").await;
    populate(&ctx, "kept").await;
    assert!(
        ctx.storage
            .delete_tenant(&data.public.tenant)
            .await
            .unwrap()
    );
    let apps = ctx.storage.list_apps_and_tenants().await.unwrap();
    assert!(
        listed(&apps, "gone").is_none(),
        "app still listed: {apps:?}"
    );
    assert!(listed(&apps, "kept").is_some());
    for table in APP_TABLES.iter().filter(|t| !CONFIG_TABLES.contains(t)) {
        assert_eq!(
            app_rows(&ctx, table, &data.app).await,
            0,
            "{table} still holds rows of the app whose public tenant was deleted"
        );
        assert!(
            app_rows(&ctx, table, &app("kept")).await > 0,
            "{table} lost rows of another app"
        );
    }
    assert!(
        ctx.storage
            .get_user(&data.app, &data.public.ep.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!ctx.storage.delete_app(&data.app).await.unwrap());
}

/// Deleting an app removes every row of it from every phase-1 table, and nothing of
/// another app.
pub async fn tenancy_delete_app_cascades_everything(ctx: Ctx) {
    let data = populate(&ctx, "doomed").await;
    let other = populate(&ctx, "other").await;
    let tables: Vec<&str> = APP_TABLES
        .iter()
        .copied()
        .filter(|t| !CONFIG_TABLES.contains(t))
        .collect();
    for table in &tables {
        assert!(
            app_rows(&ctx, table, &data.app).await > 0,
            "fixture wrote no {table} row"
        );
    }
    let before_other: Vec<i64> = {
        let mut v = Vec::new();
        for table in &tables {
            v.push(app_rows(&ctx, table, &other.app).await);
        }
        v
    };
    assert!(
        ctx.storage.delete_app(&data.app).await.unwrap(),
        "delete_app"
    );
    for (i, table) in tables.iter().enumerate() {
        assert_eq!(
            app_rows(&ctx, table, &data.app).await,
            0,
            "{table} still holds rows of the deleted app"
        );
        assert_eq!(
            app_rows(&ctx, table, &other.app).await,
            before_other[i],
            "{table} rows of another app changed"
        );
    }
    assert!(
        !ctx.storage.delete_app(&data.app).await.unwrap(),
        "second delete_app"
    );
    assert!(
        ctx.storage
            .get_user(&data.app, &data.public.ep.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        ctx.storage
            .signing_keys(&data.app)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        ctx.storage
            .get_password_reset_token(&data.app, &data.reset.token)
            .await
            .unwrap()
            .is_none()
    );
    // The other app is fully readable.
    assert!(
        ctx.storage
            .get_user(&other.app, &other.public.ep.id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(ctx.storage.signing_keys(&other.app).await.unwrap().len(), 1);
}

/// Deleting an app leaves no tenant-config row of it either.
pub async fn tenancy_delete_app_removes_tenant_configs(ctx: Ctx) {
    let t = setup_tenant(&ctx, "cfgapp", "t1").await;
    ctx.storage
        .create_tenant_config(&full_config(&t))
        .await
        .unwrap();
    let p = TenantIdentifier::public(t.app.clone());
    ctx.storage
        .create_tenant_config(&full_config(&p))
        .await
        .unwrap();
    for table in CONFIG_TABLES {
        assert!(
            app_rows(&ctx, table, &t.app).await > 0,
            "fixture wrote no {table} row"
        );
    }
    assert!(ctx.storage.delete_app(&t.app).await.unwrap());
    for table in CONFIG_TABLES {
        assert_eq!(
            app_rows(&ctx, table, &t.app).await,
            0,
            "{table} still holds rows of the deleted app"
        );
    }
    assert!(
        ctx.storage
            .get_tenant_config(&TenantConfigKey::new(t.clone()))
            .await
            .unwrap()
            .is_none()
    );
}

/// A full tenant config reads back equal to what was written.
pub async fn tenancy_config_roundtrip(ctx: Ctx) {
    let t = setup_tenant(&ctx, "a", "t1").await;
    let config = full_config(&t);
    ctx.storage.create_tenant_config(&config).await.unwrap();
    let got = ctx
        .storage
        .get_tenant_config(&config.key)
        .await
        .unwrap()
        .expect("config not found");
    assert_eq!(normalise_config(got), normalise_config(config));
    let other = TenantConfigKey::new(tenant("a", "t2"));
    assert!(
        ctx.storage
            .get_tenant_config(&other)
            .await
            .unwrap()
            .is_none()
    );
}

/// Absent first factors differ from an empty list; `None` scope differs from empty.
pub async fn tenancy_config_null_vs_empty(ctx: Ctx) {
    let t1 = tenant("a", "nul");
    let t2 = tenant("a", "empty");
    let mut c1 = TenantConfig::new(TenantConfigKey::new(t1));
    c1.first_factors = None;
    c1.email_password_enabled = false;
    c1.core_config = json!({});
    let mut c2 = TenantConfig::new(TenantConfigKey::new(t2));
    c2.first_factors = Some(vec![]);
    c2.providers = vec![ThirdPartyProvider {
        third_party_id: "apple".into(),
        clients: vec![
            ProviderClient {
                client_type: "a".into(),
                client_id: "x".into(),
                scope: None,
                ..Default::default()
            },
            ProviderClient {
                client_type: "b".into(),
                client_id: "y".into(),
                scope: Some(vec![]),
                ..Default::default()
            },
        ],
        ..Default::default()
    }];
    ctx.storage.create_tenant_config(&c1).await.unwrap();
    ctx.storage.create_tenant_config(&c2).await.unwrap();
    let g1 = ctx
        .storage
        .get_tenant_config(&c1.key)
        .await
        .unwrap()
        .unwrap();
    let g2 = ctx
        .storage
        .get_tenant_config(&c2.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        g1.first_factors, None,
        "absent first factors came back as {:?}",
        g1.first_factors
    );
    assert!(!g1.email_password_enabled);
    assert_eq!(
        g2.first_factors,
        Some(vec![]),
        "empty first factors came back as {:?}",
        g2.first_factors
    );
    assert_eq!(normalise_config(g2), normalise_config(c2));
}

/// Creating an existing config is `DuplicateTenant`.
pub async fn tenancy_config_duplicate_tenant(ctx: Ctx) {
    let t = tenant("a", "t1");
    ctx.storage
        .create_tenant_config(&full_config(&t))
        .await
        .unwrap();
    let r = ctx
        .storage
        .create_tenant_config(&TenantConfig::new(TenantConfigKey::new(t)))
        .await;
    assert!(matches!(r, Err(StorageError::DuplicateTenant)), "got {r:?}");
}

/// Two providers with one third-party id: `DuplicateThirdPartyId`, nothing stored.
pub async fn tenancy_config_duplicate_third_party_id(ctx: Ctx) {
    let t = tenant("a", "t1");
    let mut c = full_config(&t);
    let mut dup = c.providers[1].clone();
    dup.third_party_id = "google".into();
    dup.clients[0].client_type = "zzz".into();
    c.providers.push(dup);
    let r = ctx.storage.create_tenant_config(&c).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateThirdPartyId)),
        "got {r:?}"
    );
    assert!(
        ctx.storage
            .get_tenant_config(&c.key)
            .await
            .unwrap()
            .is_none(),
        "a failed create left a config behind"
    );
    assert_eq!(
        app_rows(&ctx, "tenant_thirdparty_providers", &t.app).await,
        0
    );
}

/// Two clients of one provider with one client type: `DuplicateClientType`.
pub async fn tenancy_config_duplicate_client_type(ctx: Ctx) {
    let t = tenant("a", "t1");
    let mut c = full_config(&t);
    let mut dup = c.providers[0].clients[0].clone();
    dup.client_id = "another".into();
    c.providers[0].clients.push(dup);
    let r = ctx.storage.create_tenant_config(&c).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateClientType)),
        "got {r:?}"
    );
    assert!(
        ctx.storage
            .get_tenant_config(&c.key)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app_rows(&ctx, "tenant_thirdparty_provider_clients", &t.app).await,
        0
    );
}

/// Overwrite replaces everything of a config; absent configs are `TenantOrAppNotFound`.
pub async fn tenancy_config_overwrite(ctx: Ctx) {
    let t = tenant("a", "t1");
    let r = ctx.storage.overwrite_tenant_config(&full_config(&t)).await;
    assert!(
        matches!(r, Err(StorageError::TenantOrAppNotFound(_))),
        "overwrite of an absent config: {r:?}"
    );
    assert!(
        ctx.storage
            .get_tenant_config(&TenantConfigKey::new(t.clone()))
            .await
            .unwrap()
            .is_none()
    );
    ctx.storage
        .create_tenant_config(&full_config(&t))
        .await
        .unwrap();
    let mut c = full_config(&t);
    c.providers.remove(1);
    c.providers[0].clients.remove(1);
    c.providers[0].clients[0].client_id = "changed".into();
    c.providers[0].name = Some("Renamed".into());
    c.first_factors = None;
    c.required_secondary_factors = vec!["otp-phone".into(), "webauthn".into()];
    c.core_config = json!({"x": [1, 2, 3]});
    c.passwordless_enabled = true;
    ctx.storage.overwrite_tenant_config(&c).await.unwrap();
    let got = ctx
        .storage
        .get_tenant_config(&c.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(normalise_config(got), normalise_config(c));
    assert_eq!(
        app_rows(&ctx, "tenant_thirdparty_providers", &t.app).await,
        1
    );
    assert_eq!(
        app_rows(&ctx, "tenant_thirdparty_provider_clients", &t.app).await,
        1
    );
    assert_eq!(app_rows(&ctx, "tenant_first_factors", &t.app).await, 0);
}

/// Configs are listed sorted by key; the same tenant under two connection-URI domains
/// holds two configs.
pub async fn tenancy_config_list_and_domains(ctx: Ctx) {
    let mut keys = vec![
        TenantConfigKey::new(tenant("b", "public")),
        TenantConfigKey::new(tenant("a", "t2")),
        TenantConfigKey::new(tenant("a", "public")),
        TenantConfigKey {
            connection_uri_domain: "db2.example.com".into(),
            tenant: tenant("a", "public"),
        },
    ];
    for (i, k) in keys.iter().enumerate() {
        let mut c = TenantConfig::new(k.clone());
        c.core_config = json!({ "i": i });
        ctx.storage.create_tenant_config(&c).await.unwrap();
    }
    let list = ctx.storage.list_tenant_configs().await.unwrap();
    let got: Vec<TenantConfigKey> = list.iter().map(|c| c.key.clone()).collect();
    keys.sort();
    assert_eq!(got, keys, "configs not listed sorted by key");
    let default_domain = TenantConfigKey::new(tenant("a", "public"));
    let other_domain = TenantConfigKey {
        connection_uri_domain: "db2.example.com".into(),
        tenant: tenant("a", "public"),
    };
    let d1 = ctx
        .storage
        .get_tenant_config(&default_domain)
        .await
        .unwrap()
        .unwrap();
    let d2 = ctx
        .storage
        .get_tenant_config(&other_domain)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d1.core_config, json!({"i": 2}));
    assert_eq!(
        d2.core_config,
        json!({"i": 3}),
        "two domains share one config"
    );
    assert_eq!(d2.key, other_domain);
}

/// Deleting a config reports whether it existed and removes its providers, clients and
/// factors.
pub async fn tenancy_config_delete(ctx: Ctx) {
    let t = tenant("a", "t1");
    let c = full_config(&t);
    ctx.storage.create_tenant_config(&c).await.unwrap();
    let keep = full_config(&tenant("a", "t2"));
    ctx.storage.create_tenant_config(&keep).await.unwrap();
    assert!(ctx.storage.delete_tenant_config(&c.key).await.unwrap());
    assert!(!ctx.storage.delete_tenant_config(&c.key).await.unwrap());
    assert!(
        ctx.storage
            .get_tenant_config(&c.key)
            .await
            .unwrap()
            .is_none()
    );
    for table in CONFIG_TABLES {
        assert_eq!(
            tenant_rows(&ctx, table, &t).await,
            0,
            "{table} still holds rows of the deleted config"
        );
    }
    assert!(
        ctx.storage
            .get_tenant_config(&keep.key)
            .await
            .unwrap()
            .is_some()
    );
    // It can be created again.
    ctx.storage.create_tenant_config(&c).await.unwrap();
}

/// kv: absent is `None`; set inserts, a second set replaces value and time.
pub async fn tenancy_kv_set_get_upsert(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    assert_eq!(ctx.storage.kv_get(&t, "k").await.unwrap(), None);
    ctx.storage.kv_set(&t, "k", &kv("v1", 100)).await.unwrap();
    assert_eq!(
        ctx.storage.kv_get(&t, "k").await.unwrap(),
        Some(kv("v1", 100))
    );
    ctx.storage.kv_set(&t, "k", &kv("v2", 200)).await.unwrap();
    assert_eq!(
        ctx.storage.kv_get(&t, "k").await.unwrap(),
        Some(kv("v2", 200))
    );
    ctx.storage.kv_set(&t, "other", &kv("", 300)).await.unwrap();
    assert_eq!(
        ctx.storage.kv_get(&t, "other").await.unwrap(),
        Some(kv("", 300))
    );
    assert_eq!(
        ctx.storage.kv_get(&t, "k").await.unwrap(),
        Some(kv("v2", 200))
    );
    assert_eq!(tenant_rows(&ctx, "key_value", &t).await, 2);
}

/// kv writes to an unknown tenant are `TenantOrAppNotFound`.
pub async fn tenancy_kv_unknown_tenant(ctx: Ctx) {
    setup_public(&ctx).await;
    let t = tenant("public", "nosuch");
    let r = ctx.storage.kv_set(&t, "k", &kv("v", 1)).await;
    assert_tenant_not_found(r, &t, false);
    let t2 = tenant("noapp", "public");
    let r = ctx.storage.kv_set(&t2, "k", &kv("v", 1)).await;
    assert_tenant_not_found(r, &t2, true);
    assert_eq!(ctx.storage.kv_get(&t, "k").await.unwrap(), None);
}

/// kv inside a transaction: get-for-update sees absent and own writes; commit keeps.
pub async fn tenancy_kv_in_transaction(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    ctx.storage.kv_set(&t, "pre", &kv("old", 1)).await.unwrap();
    let tc = t.clone();
    let seen = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let t = tc.clone();
        Box::pin(async move {
            let absent = tx.kv_get_for_update(&t, "new").await?;
            let pre = tx.kv_get_for_update(&t, "pre").await?;
            tx.kv_set(&t, "new", &kv("fresh", 2)).await?;
            tx.kv_set(&t, "pre", &kv("updated", 3)).await?;
            let own = tx.kv_get_for_update(&t, "new").await?;
            Ok::<_, TxError<()>>((absent, pre, own))
        })
    })
    .await
    .unwrap();
    assert_eq!(seen.0, None);
    assert_eq!(seen.1, Some(kv("old", 1)));
    assert_eq!(
        seen.2,
        Some(kv("fresh", 2)),
        "a transaction does not see its own write"
    );
    assert_eq!(
        ctx.storage.kv_get(&t, "new").await.unwrap(),
        Some(kv("fresh", 2))
    );
    assert_eq!(
        ctx.storage.kv_get(&t, "pre").await.unwrap(),
        Some(kv("updated", 3))
    );
}
