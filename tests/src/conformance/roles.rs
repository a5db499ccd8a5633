//! Roles and permissions (contract-phase2 B.2): roles of an app, their permissions,
//! tenant-scoped assignments, deleting a role everywhere, and "create role with
//! permissions" racing "delete role" and assignments from 64 tasks.

use super::fixtures::*;
use crate::harness::Ctx;
use storage_api::*;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Create if absent, exists, list, delete; an unknown app.
pub async fn roles_create_list_delete(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let other = setup_tenant(&ctx, "roles-other", "public").await;
    let a = &t.app;
    assert!(ctx.storage.create_role(a, "writer").await.unwrap());
    assert!(!ctx.storage.create_role(a, "writer").await.unwrap());
    assert!(ctx.storage.create_role(a, "admin").await.unwrap());
    assert!(
        ctx.storage
            .create_role(&other.app, "other-role")
            .await
            .unwrap()
    );
    assert!(ctx.storage.role_exists(a, "writer").await.unwrap());
    assert!(!ctx.storage.role_exists(a, "other-role").await.unwrap());
    assert_eq!(
        ctx.storage.roles(a).await.unwrap(),
        strings(&["admin", "writer"])
    );
    let missing = app("roles-missing");
    assert_app_not_found(ctx.storage.create_role(&missing, "r").await, &missing);
    assert_invalid(ctx.storage.create_role(a, &"r".repeat(256)).await, "role");
    assert!(ctx.storage.delete_role(a, "writer").await.unwrap());
    assert!(!ctx.storage.delete_role(a, "writer").await.unwrap());
    assert_eq!(ctx.storage.roles(a).await.unwrap(), strings(&["admin"]));
    assert_eq!(
        ctx.storage.roles(&other.app).await.unwrap(),
        strings(&["other-role"])
    );
}

/// Permissions: idempotent adds, `UnknownRole`, reads both ways, removal of some and
/// of all.
pub async fn roles_permissions(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = &t.app;
    ctx.storage.create_role(a, "r1").await.unwrap();
    ctx.storage.create_role(a, "r2").await.unwrap();
    ctx.storage
        .add_permissions(a, "r1", &strings(&["write", "read"]))
        .await
        .unwrap();
    ctx.storage
        .add_permissions(a, "r1", &strings(&["read", "delete"]))
        .await
        .unwrap();
    ctx.storage
        .add_permissions(a, "r2", &strings(&["read"]))
        .await
        .unwrap();
    ctx.storage.add_permissions(a, "r2", &[]).await.unwrap();
    assert!(matches!(
        ctx.storage
            .add_permissions(a, "nope", &strings(&["read"]))
            .await,
        Err(StorageError::UnknownRole)
    ));
    assert!(matches!(
        ctx.storage.add_permissions(a, "nope", &[]).await,
        Err(StorageError::UnknownRole)
    ));
    assert_eq!(
        ctx.storage.permissions_of_role(a, "r1").await.unwrap(),
        strings(&["delete", "read", "write"])
    );
    assert_eq!(
        ctx.storage.roles_with_permission(a, "read").await.unwrap(),
        strings(&["r1", "r2"])
    );
    assert!(
        ctx.storage
            .roles_with_permission(a, "none")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ctx.storage
            .remove_permissions(a, "r1", Some(&strings(&["read", "absent"])))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        ctx.storage.permissions_of_role(a, "r1").await.unwrap(),
        strings(&["delete", "write"])
    );
    assert_eq!(
        ctx.storage.remove_permissions(a, "r1", None).await.unwrap(),
        2
    );
    assert!(
        ctx.storage
            .permissions_of_role(a, "r1")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(ctx.storage.role_exists(a, "r1").await.unwrap());
    // Deleting a role takes its permissions with it.
    assert!(ctx.storage.delete_role(a, "r2").await.unwrap());
    assert_eq!(
        count(
            &ctx,
            "role_permissions",
            &format!("app_id = '{a}' AND role = 'r2'")
        )
        .await,
        0
    );
}

/// Assignments are per tenant: add (`UnknownRole`, `TenantOrAppNotFound`), read both
/// ways, remove, remove all of a user; deleting a role removes it from every tenant.
pub async fn roles_user_assignments(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, t.app.as_str(), "t1").await;
    let a = &t.app;
    for r in ["admin", "viewer"] {
        ctx.storage.create_role(a, r).await.unwrap();
    }
    let (u1, u2) = ("external|user-1".to_owned(), uid());
    assert!(
        ctx.storage
            .add_role_to_user(&t, &u1, "admin")
            .await
            .unwrap()
    );
    assert!(
        !ctx.storage
            .add_role_to_user(&t, &u1, "admin")
            .await
            .unwrap()
    );
    assert!(
        ctx.storage
            .add_role_to_user(&t, &u1, "viewer")
            .await
            .unwrap()
    );
    assert!(
        ctx.storage
            .add_role_to_user(&t, &u2, "admin")
            .await
            .unwrap()
    );
    assert!(
        ctx.storage
            .add_role_to_user(&t1, &u1, "viewer")
            .await
            .unwrap()
    );
    assert!(matches!(
        ctx.storage.add_role_to_user(&t, &u1, "unknown").await,
        Err(StorageError::UnknownRole)
    ));
    let missing = tenant(t.app.as_str(), "missing");
    assert_tenant_not_found(
        ctx.storage.add_role_to_user(&missing, &u1, "admin").await,
        &missing,
        false,
    );
    assert_eq!(
        ctx.storage.roles_of_user(&t, &u1).await.unwrap(),
        strings(&["admin", "viewer"])
    );
    assert_eq!(
        ctx.storage.roles_of_user(&t1, &u1).await.unwrap(),
        strings(&["viewer"])
    );
    let mut admins = vec![u1.clone(), u2.clone()];
    admins.sort();
    assert_eq!(
        ctx.storage.users_with_role(&t, "admin").await.unwrap(),
        admins
    );
    assert!(
        ctx.storage
            .users_with_role(&t1, "admin")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        ctx.storage
            .remove_role_from_user(&t, &u2, "admin")
            .await
            .unwrap()
    );
    assert!(
        !ctx.storage
            .remove_role_from_user(&t, &u2, "admin")
            .await
            .unwrap()
    );
    assert_eq!(ctx.storage.delete_roles_of_user(&t, &u1).await.unwrap(), 2);
    assert!(ctx.storage.roles_of_user(&t, &u1).await.unwrap().is_empty());
    assert_eq!(
        ctx.storage.roles_of_user(&t1, &u1).await.unwrap(),
        strings(&["viewer"])
    );
    // Deleting the role removes every assignment of it, in every tenant.
    ctx.storage
        .add_role_to_user(&t, &u2, "viewer")
        .await
        .unwrap();
    assert!(ctx.storage.delete_role(a, "viewer").await.unwrap());
    assert_eq!(
        count(
            &ctx,
            "user_roles",
            &format!("app_id = '{a}' AND role = 'viewer'")
        )
        .await,
        0
    );
    assert!(
        ctx.storage
            .roles_of_user(&t1, &u1)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The transaction forms: create, add permissions and the locked existence check.
pub async fn roles_in_transaction(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let app = t.app.clone();
    let out = run_transaction(&*ctx.storage, &TxOptions::default(), |tx| {
        let app = app.clone();
        Box::pin(async move {
            let before = tx.role_exists_for_update(&app, "tx-role").await?;
            let created = tx.create_role(&app, "tx-role").await?;
            tx.add_permissions(&app, "tx-role", &["p".to_owned()])
                .await?;
            let after = tx.role_exists_for_update(&app, "tx-role").await?;
            Ok::<_, TxError<()>>((before, created, after))
        })
    })
    .await
    .unwrap();
    assert_eq!(out, (false, true, true));
    assert_eq!(
        ctx.storage
            .permissions_of_role(&app, "tx-role")
            .await
            .unwrap(),
        vec!["p".to_owned()]
    );
}

/// 64 tasks over one role for 5 rounds: "create role + add permissions" in one
/// transaction, "delete role", and "assign the role to a user". After each round a
/// role that does not exist has no permission and no assignment, and one that exists
/// has every permission.
pub async fn race_roles_create_vs_delete(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let st = shared(&ctx);
    let perms = strings(&["p1", "p2", "p3"]);
    for round in 0..5 {
        let role = format!("raced-{round}");
        let results = race(64, |i| {
            let (st, t, role, perms) = (st.clone(), t.clone(), role.clone(), perms.clone());
            async move {
                match i % 3 {
                    0 => run_transaction(&*st, &race_tx_options(), move |tx| {
                        let (app, role, perms) = (t.app.clone(), role.clone(), perms.clone());
                        Box::pin(async move {
                            tx.create_role(&app, &role).await?;
                            tx.add_permissions(&app, &role, &perms).await?;
                            Ok::<_, TxError<()>>(())
                        })
                    })
                    .await
                    .map_err(|e| format!("create: {e:?}")),
                    1 => st
                        .delete_role(&t.app, &role)
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("delete: {e:?}")),
                    _ => match st.add_role_to_user(&t, &format!("user-{i}"), &role).await {
                        Ok(_) | Err(StorageError::UnknownRole) => Ok(()),
                        Err(e) => Err(format!("assign: {e:?}")),
                    },
                }
            }
        })
        .await;
        for (i, r) in results.iter().enumerate() {
            assert!(r.is_ok(), "round {round} task {i}: {r:?}");
        }
        let exists = ctx.storage.role_exists(&t.app, &role).await.unwrap();
        let where_ = format!("app_id = '{}' AND role = '{role}'", t.app);
        let n_perms = count(&ctx, "role_permissions", &where_).await;
        let n_assigned = count(&ctx, "user_roles", &where_).await;
        if exists {
            assert_eq!(n_perms, 3, "round {round}: a live role lacks permissions");
        } else {
            assert_eq!(n_perms, 0, "round {round}: permissions of a deleted role");
            assert_eq!(
                n_assigned, 0,
                "round {round}: assignments of a deleted role"
            );
        }
    }
}
