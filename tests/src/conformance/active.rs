//! Last-active times and active-user counts (contract-phase2 B.6).

use super::fixtures::*;
use crate::harness::Ctx;

const DAY: i64 = 86_400_000;

/// One upsert per activity; counts since a time and by UTC day, app by app; delete.
pub async fn active_update_and_count(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let other = setup_tenant(&ctx, "active-other", "public").await;
    let a = &t.app;
    let day0 = (NOW / DAY) * DAY;
    ctx.storage
        .update_last_active(a, "u1", day0 + 5)
        .await
        .unwrap();
    ctx.storage
        .update_last_active(a, "u1", day0 + DAY + 5)
        .await
        .unwrap();
    ctx.storage
        .update_last_active(a, "u2", day0 + 7)
        .await
        .unwrap();
    ctx.storage
        .update_last_active(a, "u3", day0 + 2 * DAY)
        .await
        .unwrap();
    ctx.storage
        .update_last_active(&other.app, "u9", day0 + DAY)
        .await
        .unwrap();
    let missing = app("active-missing");
    assert_app_not_found(
        ctx.storage.update_last_active(&missing, "u", NOW).await,
        &missing,
    );
    assert_eq!(
        ctx.storage.last_active(a, "u1").await.unwrap(),
        Some(day0 + DAY + 5)
    );
    assert_eq!(ctx.storage.last_active(a, "none").await.unwrap(), None);
    assert_eq!(ctx.storage.count_active_since(a, day0).await.unwrap(), 3);
    assert_eq!(
        ctx.storage.count_active_since(a, day0 + DAY).await.unwrap(),
        2
    );
    assert_eq!(
        ctx.storage
            .count_active_by_day(a, day0, day0 + 3 * DAY)
            .await
            .unwrap(),
        vec![(day0, 1), (day0 + DAY, 1), (day0 + 2 * DAY, 1)]
    );
    assert_eq!(
        ctx.storage
            .count_active_by_day(a, day0, day0 + 2 * DAY)
            .await
            .unwrap(),
        vec![(day0, 1), (day0 + DAY, 1)]
    );
    assert_eq!(ctx.storage.delete_last_active(a, "u1").await.unwrap(), 1);
    assert_eq!(ctx.storage.delete_last_active(a, "u1").await.unwrap(), 0);
    assert_eq!(ctx.storage.count_active_since(a, day0).await.unwrap(), 2);
}

/// Users with more than one login method (a group made by account linking), or with
/// TOTP.
pub async fn active_many_login_methods(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let a = &t.app;
    let primary = ep_user(&ctx, &t, "p@example.com", 1).await;
    let linked = ep_user(&ctx, &t, "l@example.com", 2).await;
    let lone = ep_user(&ctx, &t, "lone@example.com", 3).await;
    ctx.storage.make_primary(a, &primary.id).await.unwrap();
    ctx.storage.link(a, &linked.id, &primary.id).await.unwrap();
    // A primary user alone in its group has one login method.
    ctx.storage.make_primary(a, &lone.id).await.unwrap();
    for u in [&primary.id, &lone.id] {
        ctx.storage.update_last_active(a, u, NOW).await.unwrap();
    }
    assert_eq!(
        ctx.storage
            .count_active_with_many_login_methods(a, NOW, false)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        ctx.storage
            .count_active_with_many_login_methods(a, NOW + 1, false)
            .await
            .unwrap(),
        0
    );
    // TOTP for the lone user and for the primary one (counted once).
    for u in [&primary.id, &lone.id] {
        ctx.storage
            .create_totp_device(a, &totp_device(u, "d"))
            .await
            .unwrap();
    }
    assert_eq!(
        ctx.storage
            .count_active_with_many_login_methods(a, NOW, true)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        ctx.storage
            .count_active_with_many_login_methods(a, NOW, false)
            .await
            .unwrap(),
        1
    );
}
