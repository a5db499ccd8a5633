//! User-id mapping (contract-phase2 A.4): create with its two errors, the three
//! look-ups, many at once, delete and update by either id, and the non-auth recipes
//! holding rows for an id.

use super::fixtures::*;
use crate::harness::Ctx;
use storage_api::*;

fn mapping(st: &str, ext: &str, info: Option<&str>) -> UserIdMapping {
    UserIdMapping {
        supertokens_user_id: st.to_owned(),
        external_user_id: ext.to_owned(),
        external_user_id_info: info.map(str::to_owned),
    }
}

/// Create, get by each id and by either, many at once; both errors provoked.
pub async fn mapping_create_and_get(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let app = t.app.clone();
    let a = ep_user(&ctx, &t, &email(), 1).await;
    let b = ep_user(&ctx, &t, &email(), 2).await;
    let m = mapping(&a.id, "ext-a", Some("{\"from\":\"auth0\"}"));
    ctx.storage.create_user_id_mapping(&app, &m).await.unwrap();
    let rows = select(
        &ctx,
        "supertokens_user_id, external_user_id, external_user_id_info",
        "userid_mapping",
        &format!("app_id = '{app}'"),
    )
    .await;
    assert_eq!(
        rows,
        vec![vec![
            Some(a.id.clone()),
            Some("ext-a".into()),
            Some("{\"from\":\"auth0\"}".into())
        ]]
    );
    for (id, kind) in [
        (a.id.as_str(), UserIdType::SuperTokens),
        ("ext-a", UserIdType::External),
        (a.id.as_str(), UserIdType::Any),
        ("ext-a", UserIdType::Any),
    ] {
        assert_eq!(
            ctx.storage
                .get_user_id_mapping(&app, id, kind)
                .await
                .unwrap(),
            vec![m.clone()],
            "{id} as {kind:?}"
        );
    }
    assert!(
        ctx.storage
            .get_user_id_mapping(&app, "ext-a", UserIdType::External)
            .await
            .is_ok()
    );
    assert!(
        ctx.storage
            .get_user_id_mapping(&app, &b.id, UserIdType::Any)
            .await
            .unwrap()
            .is_empty()
    );
    // Either: an id that is one mapping's SuperTokens id and another's external id.
    let c = ep_user(&ctx, &t, &email(), 3).await;
    let m2 = mapping(&b.id, &c.id, None);
    ctx.storage.create_user_id_mapping(&app, &m2).await.unwrap();
    let m3 = mapping(&c.id, "ext-c", None);
    ctx.storage.create_user_id_mapping(&app, &m3).await.unwrap();
    let either = ctx
        .storage
        .get_user_id_mapping(&app, &c.id, UserIdType::Any)
        .await
        .unwrap();
    assert_eq!(either, vec![m3.clone(), m2.clone()]);
    let mut many = ctx
        .storage
        .get_user_id_mappings_for(&app, &[a.id.clone(), c.id.clone(), uid()])
        .await
        .unwrap();
    many.sort_by(|x, y| x.external_user_id.cmp(&y.external_user_id));
    assert_eq!(many, vec![m.clone(), m3.clone()]);
    assert!(
        ctx.storage
            .get_user_id_mappings_for(&app, &[])
            .await
            .unwrap()
            .is_empty()
    );
    // Errors.
    assert!(matches!(
        ctx.storage
            .create_user_id_mapping(&app, &mapping(&uid(), "ext-x", None))
            .await,
        Err(StorageError::UnknownSuperTokensUserId)
    ));
    let d = ep_user(&ctx, &t, &email(), 4).await;
    for (m, st, ext) in [
        (mapping(&a.id, "ext-new", None), true, false),
        (mapping(&d.id, "ext-a", None), false, true),
        (mapping(&a.id, "ext-c", None), true, true),
    ] {
        match ctx.storage.create_user_id_mapping(&app, &m).await {
            Err(StorageError::UserIdMappingAlreadyExists {
                supertokens_id_taken,
                external_id_taken,
            }) => assert_eq!(
                (supertokens_id_taken, external_id_taken),
                (st, ext),
                "{m:?}"
            ),
            other => panic!("expected UserIdMappingAlreadyExists for {m:?}, got {other:?}"),
        }
    }
    // Another app does not see the mapping, and its users are unknown here.
    let other = setup_tenant(&ctx, "mapother", "public").await;
    assert!(
        ctx.storage
            .get_user_id_mapping(&other.app, "ext-a", UserIdType::External)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        ctx.storage
            .create_user_id_mapping(&other.app, &mapping(&d.id, "ext-d", None))
            .await,
        Err(StorageError::UnknownSuperTokensUserId)
    ));
    assert_invalid(
        ctx.storage
            .create_user_id_mapping(&app, &mapping(&d.id, &"x".repeat(129), None))
            .await,
        "external_user_id",
    );
}

/// Update and delete of the external info and of the mapping, by either id.
pub async fn mapping_update_and_delete(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let app = t.app.clone();
    let a = ep_user(&ctx, &t, &email(), 1).await;
    let b = ep_user(&ctx, &t, &email(), 2).await;
    ctx.storage
        .create_user_id_mapping(&app, &mapping(&a.id, "ext-1", None))
        .await
        .unwrap();
    ctx.storage
        .create_user_id_mapping(&app, &mapping(&b.id, "ext-2", Some("x")))
        .await
        .unwrap();
    assert!(
        ctx.storage
            .update_external_user_id_info(&app, "ext-1", UserIdType::External, Some("info"))
            .await
            .unwrap()
    );
    assert_eq!(
        ctx.storage
            .get_user_id_mapping(&app, &a.id, UserIdType::SuperTokens)
            .await
            .unwrap()[0]
            .external_user_id_info
            .as_deref(),
        Some("info")
    );
    assert!(
        ctx.storage
            .update_external_user_id_info(&app, &b.id, UserIdType::Any, None)
            .await
            .unwrap()
    );
    assert_eq!(
        count(
            &ctx,
            "userid_mapping",
            &format!(
                "supertokens_user_id = '{}' AND external_user_id_info IS NULL",
                b.id
            )
        )
        .await,
        1
    );
    assert!(
        !ctx.storage
            .update_external_user_id_info(&app, "nobody", UserIdType::External, None)
            .await
            .unwrap()
    );
    assert!(
        ctx.storage
            .delete_user_id_mapping(&app, "ext-1", UserIdType::Any)
            .await
            .unwrap()
    );
    assert!(
        !ctx.storage
            .delete_user_id_mapping(&app, "ext-1", UserIdType::External)
            .await
            .unwrap()
    );
    assert!(
        ctx.storage
            .delete_user_id_mapping(&app, &b.id, UserIdType::SuperTokens)
            .await
            .unwrap()
    );
    assert_eq!(count(&ctx, "userid_mapping", "1 = 1").await, 0);
    // Deleting the user removes its mapping too.
    ctx.storage
        .create_user_id_mapping(&app, &mapping(&a.id, "ext-1", None))
        .await
        .unwrap();
    ctx.storage.delete_user(&app, &a.id).await.unwrap();
    assert_eq!(count(&ctx, "userid_mapping", "1 = 1").await, 0);
}

/// The non-auth recipes holding rows for an id, each detected from its table.
pub async fn mapping_non_auth_recipes_using(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let app = t.app.clone();
    let id = "external-or-not";
    assert!(
        ctx.storage
            .non_auth_recipes_using(&app, id)
            .await
            .unwrap()
            .is_empty()
    );
    ctx.storage.create_session(&session(&t, id)).await.unwrap();
    ctx.storage
        .set_email_verified(&app, id, "a@example.com", true)
        .await
        .unwrap();
    for sql in [
        format!(
            "INSERT INTO {} (app_id, user_id, user_metadata) VALUES ('{app}', '{id}', '{{}}')",
            ctx.table("user_metadata")
        ),
        format!(
            "INSERT INTO {} (app_id, tenant_id, user_id, role) VALUES ('{app}', 'public', '{id}', 'r')",
            ctx.table("user_roles")
        ),
        format!(
            "INSERT INTO {} (app_id, user_id) VALUES ('{app}', '{id}')",
            ctx.table("totp_users")
        ),
        format!(
            "INSERT INTO {} (app_id, user_id, last_active_time) VALUES ('{app}', '{id}', 5)",
            ctx.table("user_last_active")
        ),
    ] {
        ctx.raw.execute(&sql).await;
    }
    let mut got = ctx.storage.non_auth_recipes_using(&app, id).await.unwrap();
    got.sort();
    assert_eq!(
        got,
        vec![
            NonAuthRecipe::Session,
            NonAuthRecipe::UserMetadata,
            NonAuthRecipe::UserRoles,
            NonAuthRecipe::Totp,
            NonAuthRecipe::EmailVerification,
            NonAuthRecipe::LastActive,
        ]
    );
    let other = setup_tenant(&ctx, "nonauthother", "public").await;
    assert!(
        ctx.storage
            .non_auth_recipes_using(&other.app, id)
            .await
            .unwrap()
            .is_empty()
    );
}
