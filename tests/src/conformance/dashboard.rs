//! Dashboard users and sessions (contract-phase2 B.5).

use super::fixtures::*;
use crate::harness::Ctx;
use storage_api::*;

/// Users: create and its three errors, reads, list, updates and their errors, delete
/// (with its sessions).
pub async fn dashboard_users(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = &t.app;
    let u1 = dashboard_user("one@example.com");
    let mut u2 = dashboard_user("two@example.com");
    u2.time_joined = NOW + 1;
    ctx.storage.create_dashboard_user(a, &u1).await.unwrap();
    ctx.storage.create_dashboard_user(a, &u2).await.unwrap();
    let mut same_id = dashboard_user("three@example.com");
    same_id.user_id = u1.user_id.clone();
    assert!(matches!(
        ctx.storage.create_dashboard_user(a, &same_id).await,
        Err(StorageError::DuplicateUserId)
    ));
    assert!(matches!(
        ctx.storage
            .create_dashboard_user(a, &dashboard_user("one@example.com"))
            .await,
        Err(StorageError::DuplicateEmail)
    ));
    let missing = app("dash-missing");
    assert_app_not_found(
        ctx.storage
            .create_dashboard_user(&missing, &dashboard_user("x@example.com"))
            .await,
        &missing,
    );
    assert_eq!(
        ctx.storage
            .get_dashboard_user(a, &u1.user_id)
            .await
            .unwrap(),
        Some(u1.clone())
    );
    assert_eq!(
        ctx.storage
            .get_dashboard_user_by_email(a, "two@example.com")
            .await
            .unwrap(),
        Some(u2.clone())
    );
    assert_eq!(
        ctx.storage.list_dashboard_users(a).await.unwrap(),
        vec![u1.clone(), u2.clone()]
    );
    assert!(!format!("{u1:?}").contains("argon2"));
    assert!(matches!(
        ctx.storage
            .update_dashboard_user_email(a, &u1.user_id, "two@example.com")
            .await,
        Err(StorageError::DuplicateEmail)
    ));
    assert!(matches!(
        ctx.storage
            .update_dashboard_user_email(a, &uid(), "new@example.com")
            .await,
        Err(StorageError::UnknownUserId)
    ));
    ctx.storage
        .update_dashboard_user_email(a, &u1.user_id, "new@example.com")
        .await
        .unwrap();
    ctx.storage
        .update_dashboard_user_password_hash(a, &u1.user_id, &Secret::new("h2"))
        .await
        .unwrap();
    assert!(matches!(
        ctx.storage
            .update_dashboard_user_password_hash(a, &uid(), &Secret::new("h"))
            .await,
        Err(StorageError::UnknownUserId)
    ));
    let got = ctx
        .storage
        .get_dashboard_user(a, &u1.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.email, "new@example.com");
    assert_eq!(got.password_hash.expose(), "h2");
    let s = dashboard_session(&u1.user_id, NOW + HOUR);
    ctx.storage.create_dashboard_session(a, &s).await.unwrap();
    assert!(
        ctx.storage
            .delete_dashboard_user(a, &u1.user_id)
            .await
            .unwrap()
    );
    assert!(
        !ctx.storage
            .delete_dashboard_user(a, &u1.user_id)
            .await
            .unwrap()
    );
    assert_eq!(
        ctx.storage
            .get_dashboard_session(a, &s.session_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(ctx.storage.list_dashboard_users(a).await.unwrap(), vec![u2]);
}

/// Sessions: create (`UnknownUserId`), reads, revoke one, revoke the expired ones.
pub async fn dashboard_sessions(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = &t.app;
    let u = dashboard_user("s@example.com");
    ctx.storage.create_dashboard_user(a, &u).await.unwrap();
    let s1 = dashboard_session(&u.user_id, NOW + HOUR);
    let mut s2 = dashboard_session(&u.user_id, NOW - 1);
    s2.time_created = NOW + 1;
    ctx.storage.create_dashboard_session(a, &s1).await.unwrap();
    ctx.storage.create_dashboard_session(a, &s2).await.unwrap();
    assert!(matches!(
        ctx.storage
            .create_dashboard_session(a, &dashboard_session(&uid(), NOW))
            .await,
        Err(StorageError::UnknownUserId)
    ));
    assert_eq!(
        ctx.storage
            .get_dashboard_session(a, &s1.session_id)
            .await
            .unwrap(),
        Some(s1.clone())
    );
    assert_eq!(
        ctx.storage
            .dashboard_sessions_of_user(a, &u.user_id)
            .await
            .unwrap(),
        vec![s1.clone(), s2.clone()]
    );
    assert!(
        ctx.storage
            .revoke_expired_dashboard_sessions(NOW)
            .await
            .unwrap()
            >= 1
    );
    assert_eq!(
        ctx.storage
            .get_dashboard_session(a, &s2.session_id)
            .await
            .unwrap(),
        None
    );
    assert!(
        ctx.storage
            .revoke_dashboard_session(a, &s1.session_id)
            .await
            .unwrap()
    );
    assert!(
        !ctx.storage
            .revoke_dashboard_session(a, &s1.session_id)
            .await
            .unwrap()
    );
}
