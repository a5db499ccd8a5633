//! Users (contract 5.2): sign-up of the three recipes, lookups, listing with keyset
//! pagination, counting, updates, tenant membership and deletion.

use super::fixtures::*;
use crate::harness::Ctx;
use storage_api::*;

fn only_method(u: &User) -> &LoginMethod {
    assert_eq!(u.login_methods.len(), 1, "expected one login method: {u:?}");
    &u.login_methods[0]
}

/// Email-password sign-up returns the user and `get_user` reads it back.
pub async fn users_sign_up_email_password(ctx: Ctx) {
    let t = setup_tenant(&ctx, "public", "t1").await;
    let input = ep_input(&t, "alice@example.com", 1_234);
    let user = ctx.storage.sign_up_email_password(&input).await.unwrap();
    assert_eq!(user.id, input.user_id);
    assert!(!user.is_primary);
    assert_eq!(user.time_joined, 1_234);
    assert_eq!(tenant_names(&user.tenant_ids), vec!["t1"]);
    let m = only_method(&user);
    assert_eq!(m.recipe_id, RecipeId::EmailPassword);
    assert_eq!(m.recipe_user_id, input.user_id);
    assert_eq!(m.email.as_deref(), Some("alice@example.com"));
    assert_eq!(m.phone_number, None);
    assert_eq!(m.third_party, None);
    assert_eq!(m.time_joined, 1_234);
    assert_eq!(tenant_names(&m.tenant_ids), vec!["t1"]);
    assert!(!m.verified);
    assert_eq!(
        m.password_hash.as_ref().map(Secret::expose),
        Some("$argon2id$v=19$hash")
    );
    let got = ctx.storage.get_user(&t.app, &input.user_id).await.unwrap();
    assert_eq!(
        got.as_ref(),
        Some(&user),
        "get_user differs from the sign-up result"
    );
    assert!(
        ctx.storage
            .get_user(&t.app, &uid())
            .await
            .unwrap()
            .is_none()
    );
}

/// Third-party sign-up returns the user with its identity.
pub async fn users_sign_up_third_party(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let input = tp_input(&t, "bob@example.com", "github", "gh-42", 50);
    let user = ctx.storage.sign_up_third_party(&input).await.unwrap();
    assert_eq!(user.id, input.user_id);
    let m = only_method(&user);
    assert_eq!(m.recipe_id, RecipeId::ThirdParty);
    assert_eq!(m.email.as_deref(), Some("bob@example.com"));
    assert_eq!(m.third_party.as_ref(), Some(&input.third_party));
    assert_eq!(m.password_hash, None);
    assert_eq!(m.time_joined, 50);
    let got = ctx.storage.get_user(&t.app, &user.id).await.unwrap();
    assert_eq!(got.as_ref(), Some(&user));
}

/// Passwordless users with email only, phone only, or both.
pub async fn users_create_passwordless(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = pl_user(&ctx, &t, Some("pl@example.com"), None, 1).await;
    let b = pl_user(&ctx, &t, None, Some("+15550001"), 2).await;
    let c = pl_user(&ctx, &t, Some("both@example.com"), Some("+15550002"), 3).await;
    for (u, email, phone) in [
        (&a, Some("pl@example.com"), None),
        (&b, None, Some("+15550001")),
        (&c, Some("both@example.com"), Some("+15550002")),
    ] {
        let m = only_method(u);
        assert_eq!(m.recipe_id, RecipeId::Passwordless);
        assert_eq!(m.email.as_deref(), email);
        assert_eq!(m.phone_number.as_deref(), phone);
        let got = ctx.storage.get_user(&t.app, &u.id).await.unwrap();
        assert_eq!(got.as_ref(), Some(u));
    }
    let r = ctx
        .storage
        .create_passwordless_user(&pl_input(&t, None, None, 4))
        .await;
    assert!(
        matches!(r, Err(StorageError::InvalidInput { .. })),
        "passwordless user without email and phone: {r:?}"
    );
}

/// Sign-up in an unknown tenant or app is `TenantOrAppNotFound`, for every recipe.
pub async fn users_sign_up_unknown_tenant(ctx: Ctx) {
    setup_public(&ctx).await;
    let t = tenant("public", "nosuch");
    let r = ctx
        .storage
        .sign_up_email_password(&ep_input(&t, &email(), 1))
        .await;
    assert_tenant_not_found(r, &t, false);
    let r = ctx
        .storage
        .sign_up_third_party(&tp_input(&t, &email(), "g", "x", 1))
        .await;
    assert_tenant_not_found(r, &t, false);
    let r = ctx
        .storage
        .create_passwordless_user(&pl_input(&t, Some(&email()), None, 1))
        .await;
    assert_tenant_not_found(r, &t, false);
    let t2 = tenant("noapp", "public");
    let r = ctx
        .storage
        .sign_up_email_password(&ep_input(&t2, &email(), 1))
        .await;
    assert_tenant_not_found(r, &t2, true);
    assert_eq!(
        app_rows(&ctx, "app_id_to_user_id", &app("public")).await,
        0,
        "a failed sign-up left rows"
    );
}

/// A user id used twice in an app is `DuplicateUserId`, across recipes too.
pub async fn users_duplicate_user_id(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let first = ep_user(&ctx, &t, "one@example.com", 1).await;
    let mut again = ep_input(&t, "two@example.com", 2);
    again.user_id = first.id.clone();
    let r = ctx.storage.sign_up_email_password(&again).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateUserId)),
        "email-password: {r:?}"
    );
    let mut tp = tp_input(&t, "three@example.com", "g", "g-1", 3);
    tp.user_id = first.id.clone();
    let r = ctx.storage.sign_up_third_party(&tp).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateUserId)),
        "third-party: {r:?}"
    );
    let mut pl = pl_input(&t, Some("four@example.com"), None, 4);
    pl.user_id = first.id.clone();
    let r = ctx.storage.create_passwordless_user(&pl).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateUserId)),
        "passwordless: {r:?}"
    );
    // In another tenant of the same app too.
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let mut other = ep_input(&t1, "five@example.com", 5);
    other.user_id = first.id.clone();
    let r = ctx.storage.sign_up_email_password(&other).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateUserId)),
        "other tenant: {r:?}"
    );
    assert_eq!(
        ctx.storage
            .count_users(&UserScope::App(t.app.clone()), &[])
            .await
            .unwrap(),
        1
    );
}

/// Email uniqueness per tenant: email-password and passwordless `DuplicateEmail`,
/// passwordless `DuplicatePhoneNumber`, third-party `DuplicateThirdPartyUser`.
pub async fn users_duplicate_email_phone_third_party(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    ep_user(&ctx, &t, "dup@example.com", 1).await;
    let r = ctx
        .storage
        .sign_up_email_password(&ep_input(&t, "dup@example.com", 2))
        .await;
    assert!(
        matches!(r, Err(StorageError::DuplicateEmail)),
        "email-password: {r:?}"
    );

    pl_user(&ctx, &t, Some("pl@example.com"), Some("+15551234"), 3).await;
    let r = ctx
        .storage
        .create_passwordless_user(&pl_input(&t, Some("pl@example.com"), None, 4))
        .await;
    assert!(
        matches!(r, Err(StorageError::DuplicateEmail)),
        "passwordless email: {r:?}"
    );
    let r = ctx
        .storage
        .create_passwordless_user(&pl_input(&t, None, Some("+15551234"), 5))
        .await;
    assert!(
        matches!(r, Err(StorageError::DuplicatePhoneNumber)),
        "passwordless phone: {r:?}"
    );

    tp_user(&ctx, &t, "x@example.com", "google", "g-1", 6).await;
    let r = ctx
        .storage
        .sign_up_third_party(&tp_input(&t, "y@example.com", "google", "g-1", 7))
        .await;
    assert!(
        matches!(r, Err(StorageError::DuplicateThirdPartyUser)),
        "third-party: {r:?}"
    );
    // Email is not unique for third-party users; the identity pair is.
    tp_user(&ctx, &t, "x@example.com", "github", "g-1", 8).await;
    tp_user(&ctx, &t, "x@example.com", "google", "g-2", 9).await;
    assert_eq!(
        ctx.storage
            .count_users(&UserScope::Tenant(t.clone()), &[])
            .await
            .unwrap(),
        5
    );
}

/// One email across recipes in one tenant is allowed; lookup by email returns all.
pub async fn users_list_by_email_across_recipes(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let e = "shared@example.com";
    let a = ep_user(&ctx, &t, e, 1).await;
    let b = tp_user(&ctx, &t, e, "google", "g-1", 2).await;
    let c = pl_user(&ctx, &t, Some(e), None, 3).await;
    ep_user(&ctx, &t, "unrelated@example.com", 4).await;
    let got = ctx.storage.list_users_by_email(&t, e).await.unwrap();
    assert_eq!(ids(&got), sorted(vec![a.id, b.id, c.id]));
    assert!(
        ctx.storage
            .list_users_by_email(&t, "none@example.com")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Emails compare byte for byte: case matters.
pub async fn users_email_is_case_sensitive(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let lower = ep_user(&ctx, &t, "carol@example.com", 1).await;
    let upper = ep_user(&ctx, &t, "Carol@Example.com", 2).await;
    let got = ctx
        .storage
        .list_users_by_email(&t, "carol@example.com")
        .await
        .unwrap();
    assert_eq!(ids(&got), vec![lower.id]);
    let got = ctx
        .storage
        .list_users_by_email(&t, "Carol@Example.com")
        .await
        .unwrap();
    assert_eq!(ids(&got), vec![upper.id]);
    assert!(
        ctx.storage
            .list_users_by_email(&t, "CAROL@EXAMPLE.COM")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Lookup by phone number and by third-party identity.
pub async fn users_list_by_phone_and_third_party(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let p = pl_user(&ctx, &t, None, Some("+15557777"), 1).await;
    pl_user(&ctx, &t, None, Some("+15558888"), 2).await;
    let got = ctx
        .storage
        .list_users_by_phone(&t, "+15557777")
        .await
        .unwrap();
    assert_eq!(ids(&got), vec![p.id.clone()]);
    assert!(
        ctx.storage
            .list_users_by_phone(&t, "+15550000")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        ctx.storage
            .list_users_by_phone(&t1, "+15557777")
            .await
            .unwrap()
            .is_empty()
    );

    let info = ThirdPartyInfo {
        third_party_id: "google".into(),
        third_party_user_id: "same-sub".into(),
    };
    let a = tp_user(&ctx, &t, "a@example.com", "google", "same-sub", 3).await;
    let b = tp_user(&ctx, &t1, "b@example.com", "google", "same-sub", 4).await;
    tp_user(&ctx, &t, "c@example.com", "google", "other-sub", 5).await;
    let got = ctx
        .storage
        .list_users_by_third_party(&t.app, &info)
        .await
        .unwrap();
    assert_eq!(
        ids(&got),
        sorted(vec![a.id, b.id]),
        "one user per tenant expected"
    );
    let none = ThirdPartyInfo {
        third_party_id: "github".into(),
        third_party_user_id: "same-sub".into(),
    };
    assert!(
        ctx.storage
            .list_users_by_third_party(&t.app, &none)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `user_exists` per app and per tenant.
pub async fn users_user_exists(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let u = ep_user(&ctx, &t1, &email(), 1).await;
    let app_scope = UserScope::App(t.app.clone());
    assert!(ctx.storage.user_exists(&app_scope, &u.id).await.unwrap());
    assert!(
        ctx.storage
            .user_exists(&UserScope::Tenant(t1.clone()), &u.id)
            .await
            .unwrap()
    );
    assert!(
        !ctx.storage
            .user_exists(&UserScope::Tenant(t.clone()), &u.id)
            .await
            .unwrap()
    );
    assert!(!ctx.storage.user_exists(&app_scope, &uid()).await.unwrap());
}

/// Email change of an email-password user: success, `DuplicateEmail`, `UnknownUserId`.
pub async fn users_update_email_password_email(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = ep_user(&ctx, &t, "a@example.com", 1).await;
    ep_user(&ctx, &t, "b@example.com", 2).await;
    ctx.storage
        .update_email_password_email(&t.app, &a.id, "a2@example.com")
        .await
        .unwrap();
    let got = ctx.storage.get_user(&t.app, &a.id).await.unwrap().unwrap();
    assert_eq!(only_method(&got).email.as_deref(), Some("a2@example.com"));
    assert!(
        ctx.storage
            .list_users_by_email(&t, "a@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&ctx
            .storage
            .list_users_by_email(&t, "a2@example.com")
            .await
            .unwrap()),
        vec![a.id.clone()]
    );
    let r = ctx
        .storage
        .update_email_password_email(&t.app, &a.id, "b@example.com")
        .await;
    assert!(
        matches!(r, Err(StorageError::DuplicateEmail)),
        "taken email: {r:?}"
    );
    let got = ctx.storage.get_user(&t.app, &a.id).await.unwrap().unwrap();
    assert_eq!(
        only_method(&got).email.as_deref(),
        Some("a2@example.com"),
        "failed change kept"
    );
    let r = ctx
        .storage
        .update_email_password_email(&t.app, &uid(), "c@example.com")
        .await;
    assert!(
        matches!(r, Err(StorageError::UnknownUserId)),
        "unknown user: {r:?}"
    );
}

/// Email change of a third-party user: stored (emails are not unique for third-party
/// users, so a taken email is fine), found by the new email only; `UnknownUserId` for
/// an unknown user or a user of another recipe.
pub async fn users_update_third_party_email(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = tp_user(&ctx, &t, "a@example.com", "google", "ga", 1).await;
    let b = ep_user(&ctx, &t, "b@example.com", 2).await;
    ctx.storage
        .update_third_party_email(&t.app, &a.id, "b@example.com")
        .await
        .unwrap();
    let got = ctx.storage.get_user(&t.app, &a.id).await.unwrap().unwrap();
    assert_eq!(only_method(&got).email.as_deref(), Some("b@example.com"));
    assert!(
        ctx.storage
            .list_users_by_email(&t, "a@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    let mut both = ids(&ctx
        .storage
        .list_users_by_email(&t, "b@example.com")
        .await
        .unwrap());
    both.sort();
    let mut want = vec![a.id.clone(), b.id.clone()];
    want.sort();
    assert_eq!(both, want);
    for unknown in [uid(), b.id.clone()] {
        let r = ctx
            .storage
            .update_third_party_email(&t.app, &unknown, "c@example.com")
            .await;
        assert!(
            matches!(r, Err(StorageError::UnknownUserId)),
            "not a third-party user: {r:?}"
        );
    }
    let got = ctx.storage.get_user(&t.app, &b.id).await.unwrap().unwrap();
    assert_eq!(only_method(&got).email.as_deref(), Some("b@example.com"));
}

/// An email change is checked in every tenant the user belongs to.
pub async fn users_update_email_checks_every_tenant(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let a = ep_user(&ctx, &t, "a@example.com", 1).await;
    assert!(ctx.storage.add_user_to_tenant(&t1, &a.id).await.unwrap());
    ep_user(&ctx, &t1, "taken-in-t1@example.com", 2).await;
    let r = ctx
        .storage
        .update_email_password_email(&t.app, &a.id, "taken-in-t1@example.com")
        .await;
    assert!(
        matches!(r, Err(StorageError::DuplicateEmail)),
        "conflict in second tenant: {r:?}"
    );
    assert!(
        ctx.storage
            .list_users_by_email(&t, "taken-in-t1@example.com")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Password hash update and `UnknownUserId`.
pub async fn users_update_password_hash(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = ep_user(&ctx, &t, &email(), 1).await;
    ctx.storage
        .update_password_hash(&t.app, &a.id, &Secret::new("new-hash"))
        .await
        .unwrap();
    let got = ctx.storage.get_user(&t.app, &a.id).await.unwrap().unwrap();
    assert_eq!(
        only_method(&got).password_hash.as_ref().map(Secret::expose),
        Some("new-hash")
    );
    let r = ctx
        .storage
        .update_password_hash(&t.app, &uid(), &Secret::new("x"))
        .await;
    assert!(
        matches!(r, Err(StorageError::UnknownUserId)),
        "unknown user: {r:?}"
    );
}

/// Passwordless contact change: set, clear one, duplicates, unknown user, not both cleared.
pub async fn users_update_passwordless_contact(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = pl_user(&ctx, &t, Some("a@example.com"), None, 1).await;
    pl_user(&ctx, &t, Some("b@example.com"), Some("+15552222"), 2).await;
    ctx.storage
        .update_passwordless_contact(&t.app, &a.id, Some("a2@example.com"), Some("+15551111"))
        .await
        .unwrap();
    let m = ctx.storage.get_user(&t.app, &a.id).await.unwrap().unwrap();
    assert_eq!(only_method(&m).email.as_deref(), Some("a2@example.com"));
    assert_eq!(only_method(&m).phone_number.as_deref(), Some("+15551111"));
    ctx.storage
        .update_passwordless_contact(&t.app, &a.id, None, Some("+15551111"))
        .await
        .unwrap();
    let m = ctx.storage.get_user(&t.app, &a.id).await.unwrap().unwrap();
    assert_eq!(only_method(&m).email, None, "email not cleared");
    assert!(
        ctx.storage
            .list_users_by_email(&t, "a2@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&ctx
            .storage
            .list_users_by_phone(&t, "+15551111")
            .await
            .unwrap()),
        vec![a.id.clone()]
    );
    let r = ctx
        .storage
        .update_passwordless_contact(&t.app, &a.id, Some("b@example.com"), Some("+15551111"))
        .await;
    assert!(
        matches!(r, Err(StorageError::DuplicateEmail)),
        "taken email: {r:?}"
    );
    let r = ctx
        .storage
        .update_passwordless_contact(&t.app, &a.id, None, Some("+15552222"))
        .await;
    assert!(
        matches!(r, Err(StorageError::DuplicatePhoneNumber)),
        "taken phone: {r:?}"
    );
    let r = ctx
        .storage
        .update_passwordless_contact(&t.app, &uid(), Some("z@example.com"), None)
        .await;
    assert!(
        matches!(r, Err(StorageError::UnknownUserId)),
        "unknown user: {r:?}"
    );
    let r = ctx
        .storage
        .update_passwordless_contact(&t.app, &a.id, None, None)
        .await;
    assert!(
        matches!(r, Err(StorageError::InvalidInput { .. })),
        "clearing both: {r:?}"
    );
    let m = ctx.storage.get_user(&t.app, &a.id).await.unwrap().unwrap();
    assert_eq!(
        only_method(&m).phone_number.as_deref(),
        Some("+15551111"),
        "failed changes kept"
    );
}

/// Adding to and removing from tenants; `UnknownUserId`, `TenantOrAppNotFound`.
pub async fn users_add_and_remove_tenant_membership(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let t2 = setup_tenant(&ctx, "public", "t2").await;
    let u = ep_user(&ctx, &t, "m@example.com", 1).await;
    assert!(ctx.storage.add_user_to_tenant(&t2, &u.id).await.unwrap());
    assert!(ctx.storage.add_user_to_tenant(&t1, &u.id).await.unwrap());
    assert!(
        !ctx.storage.add_user_to_tenant(&t1, &u.id).await.unwrap(),
        "already a member"
    );
    let got = ctx.storage.get_user(&t.app, &u.id).await.unwrap().unwrap();
    assert_eq!(
        tenant_names(&got.tenant_ids),
        vec!["public", "t1", "t2"],
        "tenant ids sorted"
    );
    assert_eq!(
        tenant_names(&got.login_methods[0].tenant_ids),
        vec!["public", "t1", "t2"]
    );
    assert_eq!(
        ids(&ctx
            .storage
            .list_users_by_email(&t1, "m@example.com")
            .await
            .unwrap()),
        vec![u.id.clone()]
    );

    assert!(
        ctx.storage
            .remove_user_from_tenant(&t1, &u.id)
            .await
            .unwrap()
    );
    assert!(
        !ctx.storage
            .remove_user_from_tenant(&t1, &u.id)
            .await
            .unwrap()
    );
    assert!(
        ctx.storage
            .list_users_by_email(&t1, "m@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        ctx.storage
            .remove_user_from_tenant(&t, &u.id)
            .await
            .unwrap()
    );
    assert!(
        ctx.storage
            .remove_user_from_tenant(&t2, &u.id)
            .await
            .unwrap()
    );
    let got = ctx
        .storage
        .get_user(&t.app, &u.id)
        .await
        .unwrap()
        .expect("user left the app");
    assert!(
        got.tenant_ids.is_empty(),
        "tenant ids: {:?}",
        got.tenant_ids
    );
    assert!(
        ctx.storage.add_user_to_tenant(&t1, &u.id).await.unwrap(),
        "re-adding"
    );

    let r = ctx.storage.add_user_to_tenant(&t1, &uid()).await;
    assert!(
        matches!(r, Err(StorageError::UnknownUserId)),
        "unknown user: {r:?}"
    );
    let nosuch = tenant("public", "nosuch");
    let r = ctx.storage.add_user_to_tenant(&nosuch, &u.id).await;
    assert_tenant_not_found(r, &nosuch, false);
}

/// Adding a user to a tenant re-checks per-tenant uniqueness for each recipe.
pub async fn users_add_to_tenant_rechecks_uniqueness(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let ep = ep_user(&ctx, &t, "e@example.com", 1).await;
    ep_user(&ctx, &t1, "e@example.com", 2).await;
    let r = ctx.storage.add_user_to_tenant(&t1, &ep.id).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateEmail)),
        "email-password: {r:?}"
    );

    let pl = pl_user(&ctx, &t, Some("p@example.com"), Some("+15553333"), 3).await;
    pl_user(&ctx, &t1, None, Some("+15553333"), 4).await;
    let r = ctx.storage.add_user_to_tenant(&t1, &pl.id).await;
    assert!(
        matches!(r, Err(StorageError::DuplicatePhoneNumber)),
        "passwordless phone: {r:?}"
    );

    let pl2 = pl_user(&ctx, &t, Some("q@example.com"), None, 5).await;
    pl_user(&ctx, &t1, Some("q@example.com"), None, 6).await;
    let r = ctx.storage.add_user_to_tenant(&t1, &pl2.id).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateEmail)),
        "passwordless email: {r:?}"
    );

    let tp = tp_user(&ctx, &t, "t@example.com", "google", "sub-1", 7).await;
    tp_user(&ctx, &t1, "other@example.com", "google", "sub-1", 8).await;
    let r = ctx.storage.add_user_to_tenant(&t1, &tp.id).await;
    assert!(
        matches!(r, Err(StorageError::DuplicateThirdPartyUser)),
        "third-party: {r:?}"
    );

    for u in [&ep, &pl, &pl2, &tp] {
        let got = ctx.storage.get_user(&t.app, &u.id).await.unwrap().unwrap();
        assert_eq!(
            tenant_names(&got.tenant_ids),
            vec!["public"],
            "failed add changed membership"
        );
    }
}

/// Deleting a user removes its rows from every phase-1 table, sessions, tokens and
/// verified emails included, and nothing of another user.
pub async fn users_delete_user_everywhere(ctx: Ctx) {
    let data = populate(&ctx, "del").await;
    let u = &data.public.ep;
    let t1 = data.t1.tenant.clone();
    assert!(ctx.storage.add_user_to_tenant(&t1, &u.id).await.unwrap());
    ctx.storage
        .create_session(&session(&t1, &u.id))
        .await
        .unwrap();
    let where_ = format!("app_id = '{}' AND user_id = '{}'", data.app, u.id);
    for table in [
        "app_id_to_user_id",
        "all_auth_recipe_users",
        "emailpassword_users",
        "emailpassword_user_to_tenant",
        "session_info",
        "emailpassword_pswd_reset_tokens",
        "emailverification_tokens",
        "emailverification_verified_emails",
    ] {
        assert!(
            count(&ctx, table, &where_).await > 0,
            "fixture wrote no {table} row"
        );
    }
    assert!(ctx.storage.delete_user(&data.app, &u.id).await.unwrap());
    for table in [
        "app_id_to_user_id",
        "all_auth_recipe_users",
        "emailpassword_users",
        "emailpassword_user_to_tenant",
        "session_info",
        "emailpassword_pswd_reset_tokens",
        "emailverification_tokens",
        "emailverification_verified_emails",
    ] {
        assert_eq!(
            count(&ctx, table, &where_).await,
            0,
            "{table} still holds rows of the deleted user"
        );
    }
    assert!(
        ctx.storage
            .get_user(&data.app, &u.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !ctx.storage
            .is_email_verified(&data.app, &u.id, &data.public.ep_email)
            .await
            .unwrap()
    );
    assert!(
        ctx.storage
            .get_password_reset_token(&data.app, &data.reset.token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !ctx.storage.delete_user(&data.app, &u.id).await.unwrap(),
        "second delete"
    );
    // Others are untouched.
    for other in [&data.public.tp, &data.public.pl, &data.t1.ep] {
        assert!(
            ctx.storage
                .get_user(&data.app, &other.id)
                .await
                .unwrap()
                .is_some()
        );
    }
    assert!(
        ctx.storage
            .get_session(&t1, &data.t1.session.handle)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        ctx.storage
            .count_sessions(&data.public.tenant)
            .await
            .unwrap(),
        0
    );
    // The email is free again.
    ep_user(&ctx, &data.public.tenant, &data.public.ep_email, 99).await;
}

/// Deleting third-party and passwordless users removes their recipe rows.
pub async fn users_delete_other_recipes(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let tp = tp_user(&ctx, &t, "t@example.com", "google", "s", 1).await;
    let pl = pl_user(&ctx, &t, Some("p@example.com"), Some("+15554444"), 2).await;
    assert!(ctx.storage.delete_user(&t.app, &tp.id).await.unwrap());
    assert!(ctx.storage.delete_user(&t.app, &pl.id).await.unwrap());
    for table in [
        "thirdparty_users",
        "thirdparty_user_to_tenant",
        "passwordless_users",
        "passwordless_user_to_tenant",
        "all_auth_recipe_users",
        "app_id_to_user_id",
    ] {
        assert_eq!(
            app_rows(&ctx, table, &t.app).await,
            0,
            "{table} not emptied"
        );
    }
    // Identity, email and phone are free again.
    tp_user(&ctx, &t, "t@example.com", "google", "s", 3).await;
    pl_user(&ctx, &t, Some("p@example.com"), Some("+15554444"), 4).await;
}

/// `verified` of a login method follows `set_email_verified`.
pub async fn users_login_method_verified_flag(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let u = ep_user(&ctx, &t, "v@example.com", 1).await;
    ctx.storage
        .set_email_verified(&t.app, &u.id, "v@example.com", true)
        .await
        .unwrap();
    let got = ctx.storage.get_user(&t.app, &u.id).await.unwrap().unwrap();
    assert!(only_method(&got).verified, "verified flag not set");
    ctx.storage
        .set_email_verified(&t.app, &u.id, "v@example.com", false)
        .await
        .unwrap();
    let got = ctx.storage.get_user(&t.app, &u.id).await.unwrap().unwrap();
    assert!(!only_method(&got).verified, "verified flag not cleared");
    ctx.storage
        .set_email_verified(&t.app, &u.id, "other@example.com", true)
        .await
        .unwrap();
    let got = ctx.storage.get_user(&t.app, &u.id).await.unwrap().unwrap();
    assert!(
        !only_method(&got).verified,
        "another email's verification leaked"
    );
}

async fn seed_listing(ctx: &Ctx) -> (TenantIdentifier, Vec<(i64, String, RecipeId)>) {
    let t = setup_tenant(ctx, "public", "list").await;
    let other = setup_tenant(ctx, "public", "other").await;
    let times = [
        100, 100, 100, 200, 200, 300, 300, 300, 300, 400, 500, 500, 600, 600, 600, 600, 700, 800,
        800, 900,
    ];
    let mut all = Vec::new();
    for (i, time) in times.into_iter().enumerate() {
        let u = match i % 3 {
            0 => ep_user(ctx, &t, &email(), time).await,
            1 => tp_user(ctx, &t, &email(), "google", &token(), time).await,
            _ => pl_user(ctx, &t, Some(&email()), None, time).await,
        };
        all.push((time, u.id.clone(), u.login_methods[0].recipe_id));
    }
    // Users of another tenant never show up.
    for time in [100, 300, 600] {
        ep_user(ctx, &other, &email(), time).await;
    }
    (t, all)
}

async fn walk(
    ctx: &Ctx,
    t: &TenantIdentifier,
    order: TimeJoinedOrder,
    recipes: Vec<RecipeId>,
    limit: u32,
) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let page = ctx
            .storage
            .list_users(&ListUsers {
                tenant: t.clone(),
                limit,
                order,
                recipes: recipes.clone(),
                search: Default::default(),
                after: after.clone(),
            })
            .await
            .unwrap();
        assert!(
            page.users.len() <= limit as usize,
            "page larger than the limit"
        );
        if let Some(last) = page.users.last()
            && let Some(next) = &page.next
        {
            assert_eq!(next.user_id, last.id, "next token is not the last user");
            assert_eq!(next.time_joined, last.time_joined);
        }
        out.extend(page.users.iter().map(|u| (u.time_joined, u.id.clone())));
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
    panic!("pagination did not end after 100 pages");
}

/// Keyset pagination ascending: every user once, in (time joined, id) order.
pub async fn users_list_users_paginated_asc(ctx: Ctx) {
    let (t, all) = seed_listing(&ctx).await;
    let mut expected: Vec<(i64, String)> = all.iter().map(|(t, id, _)| (*t, id.clone())).collect();
    expected.sort();
    let got = walk(&ctx, &t, TimeJoinedOrder::Asc, vec![], 3).await;
    assert_eq!(got, expected, "ascending walk with pages of 3");
    let got = walk(&ctx, &t, TimeJoinedOrder::Asc, vec![], 1000).await;
    assert_eq!(got, expected, "ascending single page");
    let got = walk(&ctx, &t, TimeJoinedOrder::Asc, vec![], 4).await;
    assert_eq!(got, expected, "ascending walk with pages of 4");
}

/// Keyset pagination descending: every user once, in reverse order.
pub async fn users_list_users_paginated_desc(ctx: Ctx) {
    let (t, all) = seed_listing(&ctx).await;
    let mut expected: Vec<(i64, String)> = all.iter().map(|(t, id, _)| (*t, id.clone())).collect();
    expected.sort();
    expected.reverse();
    let got = walk(&ctx, &t, TimeJoinedOrder::Desc, vec![], 3).await;
    assert_eq!(got, expected, "descending walk with pages of 3");
    let got = walk(&ctx, &t, TimeJoinedOrder::Desc, vec![], 7).await;
    assert_eq!(got, expected, "descending walk with pages of 7");
}

/// The recipe filter keeps the order and the pagination.
pub async fn users_list_users_recipe_filter(ctx: Ctx) {
    let (t, all) = seed_listing(&ctx).await;
    for recipes in [
        vec![RecipeId::ThirdParty],
        vec![RecipeId::EmailPassword, RecipeId::Passwordless],
        vec![RecipeId::Passwordless],
    ] {
        let mut expected: Vec<(i64, String)> = all
            .iter()
            .filter(|(_, _, r)| recipes.contains(r))
            .map(|(t, id, _)| (*t, id.clone()))
            .collect();
        expected.sort();
        let got = walk(&ctx, &t, TimeJoinedOrder::Asc, recipes.clone(), 3).await;
        assert_eq!(got, expected, "ascending, recipes {recipes:?}");
        expected.reverse();
        let got = walk(&ctx, &t, TimeJoinedOrder::Desc, recipes.clone(), 2).await;
        assert_eq!(got, expected, "descending, recipes {recipes:?}");
    }
}

/// A page token survives encoding and continues where it left off.
pub async fn users_list_users_encoded_token(ctx: Ctx) {
    let (t, all) = seed_listing(&ctx).await;
    let mut expected: Vec<String> = {
        let mut v: Vec<(i64, String)> = all.iter().map(|(t, id, _)| (*t, id.clone())).collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    };
    let first = ctx
        .storage
        .list_users(&ListUsers {
            tenant: t.clone(),
            limit: 5,
            order: TimeJoinedOrder::Asc,
            recipes: vec![],
            search: Default::default(),
            after: None,
        })
        .await
        .unwrap();
    let token = first.next.expect("a next token").encode();
    let decoded = PageToken::decode(&token).unwrap();
    let second = ctx
        .storage
        .list_users(&ListUsers {
            tenant: t.clone(),
            limit: 5,
            order: TimeJoinedOrder::Asc,
            recipes: vec![],
            search: Default::default(),
            after: Some(decoded),
        })
        .await
        .unwrap();
    let got: Vec<String> = first
        .users
        .iter()
        .chain(second.users.iter())
        .map(|u| u.id.clone())
        .collect();
    expected.truncate(10);
    assert_eq!(got, expected);
}

/// Counting users per tenant, per app and per recipe.
pub async fn users_count_users(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let t1 = setup_tenant(&ctx, "public", "t1").await;
    let other_app = setup_tenant(&ctx, "other", "public").await;
    let e1 = ep_user(&ctx, &t, &email(), 1).await;
    ep_user(&ctx, &t, &email(), 2).await;
    tp_user(&ctx, &t, &email(), "google", "s1", 3).await;
    pl_user(&ctx, &t1, None, Some(&phone()), 4).await;
    pl_user(&ctx, &t1, Some(&email()), None, 5).await;
    ep_user(&ctx, &other_app, &email(), 6).await;
    assert!(ctx.storage.add_user_to_tenant(&t1, &e1.id).await.unwrap());
    let app_scope = UserScope::App(t.app.clone());
    let c = |scope: UserScope, recipes: Vec<RecipeId>| {
        let s = ctx.storage.clone();
        async move { s.count_users(&scope, &recipes).await.unwrap() }
    };
    assert_eq!(c(UserScope::Tenant(t.clone()), vec![]).await, 3);
    assert_eq!(c(UserScope::Tenant(t1.clone()), vec![]).await, 3);
    assert_eq!(
        c(app_scope.clone(), vec![]).await,
        5,
        "a user in two tenants counts once per app"
    );
    assert_eq!(c(app_scope.clone(), vec![RecipeId::EmailPassword]).await, 2);
    assert_eq!(
        c(
            app_scope.clone(),
            vec![RecipeId::Passwordless, RecipeId::ThirdParty]
        )
        .await,
        3
    );
    assert_eq!(
        c(UserScope::Tenant(t1.clone()), vec![RecipeId::Passwordless]).await,
        2
    );
    assert_eq!(
        c(UserScope::Tenant(t.clone()), vec![RecipeId::Passwordless]).await,
        0
    );
    assert_eq!(c(UserScope::App(other_app.app.clone()), vec![]).await, 1);
    assert_eq!(c(UserScope::App(app("empty")), vec![]).await, 0);
}

/// User operations inside a transaction: committed when the closure succeeds.
pub async fn users_in_transaction(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let ep = ep_user(&ctx, &t, "tx@example.com", 1).await;
    let pl = pl_user(&ctx, &t, Some("pl@example.com"), None, 2).await;
    let gone = ep_user(&ctx, &t, "gone@example.com", 3).await;
    ep_user(&ctx, &t, "taken@example.com", 4).await;
    let (app_id, ep_id, pl_id, gone_id) =
        (t.app.clone(), ep.id.clone(), pl.id.clone(), gone.id.clone());
    let out = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (app_id, ep_id, pl_id, gone_id) = (
            app_id.clone(),
            ep_id.clone(),
            pl_id.clone(),
            gone_id.clone(),
        );
        Box::pin(async move {
            let before = tx.get_user(&app_id, &ep_id).await?;
            tx.update_email_password_email(&app_id, &ep_id, "tx2@example.com")
                .await?;
            tx.update_password_hash(&app_id, &ep_id, &Secret::new("tx-hash"))
                .await?;
            tx.update_passwordless_contact(
                &app_id,
                &pl_id,
                Some("pl2@example.com"),
                Some("+15556666"),
            )
            .await?;
            let deleted = tx.delete_user(&app_id, &gone_id).await?;
            let after = tx.get_user(&app_id, &ep_id).await?;
            let gone_after = tx.get_user(&app_id, &gone_id).await?;
            Ok::<_, TxError<()>>((before, deleted, after, gone_after))
        })
    })
    .await
    .unwrap();
    let (before, deleted, after, gone_after) = out;
    assert_eq!(before.as_ref().map(|u| u.id.as_str()), Some(ep.id.as_str()));
    assert!(deleted, "tx delete_user");
    let after = after.unwrap();
    assert_eq!(
        only_method(&after).email.as_deref(),
        Some("tx2@example.com"),
        "own write not visible"
    );
    assert!(gone_after.is_none());
    let got = ctx.storage.get_user(&t.app, &ep.id).await.unwrap().unwrap();
    assert_eq!(only_method(&got).email.as_deref(), Some("tx2@example.com"));
    assert_eq!(
        only_method(&got).password_hash.as_ref().map(Secret::expose),
        Some("tx-hash")
    );
    let got = ctx.storage.get_user(&t.app, &pl.id).await.unwrap().unwrap();
    assert_eq!(only_method(&got).email.as_deref(), Some("pl2@example.com"));
    assert_eq!(only_method(&got).phone_number.as_deref(), Some("+15556666"));
    assert!(
        ctx.storage
            .get_user(&t.app, &gone.id)
            .await
            .unwrap()
            .is_none()
    );
    // A constraint violation inside a transaction surfaces as the typed error.
    let (app_id, ep_id) = (t.app.clone(), ep.id.clone());
    let r = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (app_id, ep_id) = (app_id.clone(), ep_id.clone());
        Box::pin(async move {
            tx.update_email_password_email(&app_id, &ep_id, "taken@example.com")
                .await?;
            Ok::<_, TxError<()>>(())
        })
    })
    .await;
    assert!(
        matches!(r, Err(TxError::Storage(StorageError::DuplicateEmail))),
        "duplicate email in a transaction: {r:?}"
    );
    let r = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        Box::pin(async move {
            tx.update_password_hash(&AppId::public(), &uid(), &Secret::new("h"))
                .await?;
            Ok::<_, TxError<()>>(())
        })
    })
    .await;
    assert!(
        matches!(r, Err(TxError::Storage(StorageError::UnknownUserId))),
        "unknown user in a transaction: {r:?}"
    );
}

/// User operations of a rolled-back transaction leave nothing behind.
pub async fn users_in_transaction_rolled_back(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let ep = ep_user(&ctx, &t, "rb@example.com", 1).await;
    let (app_id, ep_id) = (t.app.clone(), ep.id.clone());
    let r = run_transaction(&*ctx.storage, &TxOptions::default(), move |tx| {
        let (app_id, ep_id) = (app_id.clone(), ep_id.clone());
        Box::pin(async move {
            tx.update_email_password_email(&app_id, &ep_id, "rb2@example.com")
                .await?;
            tx.update_password_hash(&app_id, &ep_id, &Secret::new("rb-hash"))
                .await?;
            tx.delete_user(&app_id, &ep_id).await?;
            Err::<(), _>(TxError::Rollback("changed my mind"))
        })
    })
    .await;
    assert!(
        matches!(r, Err(TxError::Rollback("changed my mind"))),
        "got {r:?}"
    );
    let got = ctx
        .storage
        .get_user(&t.app, &ep.id)
        .await
        .unwrap()
        .expect("delete not rolled back");
    assert_eq!(got, ep, "rolled-back changes are visible");
}
