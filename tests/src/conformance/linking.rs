//! Account linking (contract-phase2 A.3): make primary, link, unlink, the group read
//! back through every look-up, the typed conflicts of the A.2 invariant (each provoked
//! for real), the locked reads inside a transaction, and the invariant race of part C
//! (64 tasks × 20 rounds).

use super::fixtures::*;
use crate::harness::Ctx;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use storage_api::*;

/// Expects `AccountInfoAlreadyUsedByAnotherPrimaryUser { primary }`.
#[track_caller]
fn assert_info_used<T: std::fmt::Debug>(r: Result<T>, primary: &str) {
    match r {
        Err(StorageError::AccountInfoAlreadyUsedByAnotherPrimaryUser { primary: p }) => {
            assert_eq!(p, primary, "conflict names the wrong primary user")
        }
        other => {
            panic!("expected AccountInfoAlreadyUsedByAnotherPrimaryUser({primary}), got {other:?}")
        }
    }
}

/// Raw `(user_id, primary_or_recipe_user_id, linked, primary_time_joined)` rows of a
/// table for the given users, sorted.
async fn link_rows(ctx: &Ctx, table: &str, ids: &[&str]) -> Vec<(String, String, bool, i64)> {
    let list = ids
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(",");
    let mut out: Vec<_> = select(
        ctx,
        "user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, primary_or_recipe_user_time_joined",
        table,
        &format!("user_id IN ({list})"),
    )
    .await
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap_or_default(),
            r[1].clone().unwrap_or_default(),
            truthy(&r[2]),
            r[3].as_deref().unwrap_or("0").parse::<i64>().unwrap(),
        )
    })
    .collect();
    out.sort();
    out
}

/// Make primary: `MadePrimary`, then `AlreadyPrimary`; the flag is written in both
/// tables; an unknown id is `UnknownUserId`.
pub async fn linking_make_primary(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let u = ep_user(&ctx, &t, &email(), 10).await;
    assert!(!ctx.storage.uses_account_linking(&t.app).await.unwrap());
    assert_eq!(
        ctx.storage.make_primary(&t.app, &u.id).await.unwrap(),
        MakePrimaryOutcome::MadePrimary
    );
    assert_eq!(
        ctx.storage.make_primary(&t.app, &u.id).await.unwrap(),
        MakePrimaryOutcome::AlreadyPrimary
    );
    let got = ctx
        .storage
        .get_primary_user(&t.app, &u.id)
        .await
        .unwrap()
        .unwrap();
    assert!(got.is_primary);
    assert_eq!(got.id, u.id);
    assert!(ctx.storage.uses_account_linking(&t.app).await.unwrap());
    for table in ["app_id_to_user_id", "all_auth_recipe_users"] {
        assert_eq!(
            link_rows(&ctx, table, &[&u.id]).await,
            vec![(u.id.clone(), u.id.clone(), true, 10)],
            "{table}"
        );
    }
    assert!(matches!(
        ctx.storage.make_primary(&t.app, &uid()).await,
        Err(StorageError::UnknownUserId)
    ));
    assert_invalid(
        ctx.storage.make_primary(&t.app, "not a uuid").await,
        "user_id",
    );
}

/// A tenant pair of `app` and a group-to-be of three recipes sharing one email: an
/// email-password user `p` (t1, joined 100), a third-party user `r` (t2, 50, identity
/// `google`/`tp_id`) and a passwordless user `s` (t2, 200, phone `phone`).
struct Three {
    t1: TenantIdentifier,
    t2: TenantIdentifier,
    mail: String,
    p: User,
    r: User,
    s: User,
}

async fn three_methods(ctx: &Ctx, app: &str, tp_id: &str, phone: &str) -> Three {
    let t1 = setup_tenant(ctx, app, "t1").await;
    let t2 = setup_tenant(ctx, app, "t2").await;
    let mail = email();
    let p = ep_user(ctx, &t1, &mail, 100).await;
    let r = tp_user(ctx, &t2, &mail, "google", tp_id, 50).await;
    let s = pl_user(ctx, &t2, None, Some(phone), 200).await;
    Three {
        t1,
        t2,
        mail,
        p,
        r,
        s,
    }
}

/// A request for the first page of a tenant's users.
fn first_page(t: &TenantIdentifier, limit: u32, order: TimeJoinedOrder) -> ListUsers {
    ListUsers {
        tenant: t.clone(),
        limit,
        order,
        recipes: vec![],
        search: Default::default(),
        after: None,
    }
}

/// Link: the group read back by every id and every look-up, with every field of A.1,
/// in several tenants; the time joined folded into every row; counts of groups.
pub async fn linking_link_reads_group(ctx: Ctx) {
    let phone = phone();
    let Three {
        t1,
        t2,
        mail,
        p,
        r,
        s,
    } = three_methods(&ctx, "linkapp", "g-1", &phone).await;
    let app = t1.app.clone();
    ctx.storage
        .set_email_verified(&app, &r.id, &mail, true)
        .await
        .unwrap();
    ctx.storage.make_primary(&app, &p.id).await.unwrap();
    assert_eq!(
        ctx.storage.link(&app, &r.id, &p.id).await.unwrap(),
        LinkOutcome::Linked
    );
    assert_eq!(
        ctx.storage.link(&app, &r.id, &p.id).await.unwrap(),
        LinkOutcome::AlreadyLinked
    );
    // The primary may be named by any login method of its group.
    assert_eq!(
        ctx.storage.link(&app, &s.id, &r.id).await.unwrap(),
        LinkOutcome::Linked
    );
    let group = ctx.storage.get_user(&app, &p.id).await.unwrap().unwrap();
    assert_eq!(group.id, p.id);
    assert!(group.is_primary);
    assert_eq!(group.time_joined, 50);
    assert_eq!(tenant_names(&group.tenant_ids), vec!["t1", "t2"]);
    let methods: Vec<_> = group
        .login_methods
        .iter()
        .map(|m| (m.recipe_user_id.clone(), m.recipe_id, m.time_joined))
        .collect();
    assert_eq!(
        methods,
        vec![
            (r.id.clone(), RecipeId::ThirdParty, 50),
            (p.id.clone(), RecipeId::EmailPassword, 100),
            (s.id.clone(), RecipeId::Passwordless, 200),
        ]
    );
    assert!(group.login_methods[0].verified);
    assert!(!group.login_methods[1].verified);
    assert_eq!(tenant_names(&group.login_methods[0].tenant_ids), vec!["t2"]);
    assert_eq!(
        group.login_methods[2].phone_number.as_deref(),
        Some(phone.as_str())
    );
    for id in [&r.id, &s.id] {
        let g = ctx.storage.get_primary_user(&app, id).await.unwrap();
        assert_eq!(g.as_ref(), Some(&group), "read by {id}");
        assert_eq!(
            ctx.storage.primary_user_id_of(&app, id).await.unwrap(),
            Some(p.id.clone())
        );
    }
    assert_eq!(
        ctx.storage.primary_user_id_of(&app, &uid()).await.unwrap(),
        None
    );
    // Each look-up returns the group once.
    let by_email = ctx
        .storage
        .list_primary_users_by_email(&t2, &mail)
        .await
        .unwrap();
    assert_eq!(by_email, vec![group.clone()]);
    let by_email_t1 = ctx.storage.list_users_by_email(&t1, &mail).await.unwrap();
    assert_eq!(by_email_t1, vec![group.clone()]);
    let by_phone = ctx
        .storage
        .list_primary_users_by_phone(&t2, &phone)
        .await
        .unwrap();
    assert_eq!(by_phone, vec![group.clone()]);
    let tp = ThirdPartyInfo {
        third_party_id: "google".into(),
        third_party_user_id: "g-1".into(),
    };
    let by_tp = ctx
        .storage
        .list_primary_users_by_third_party(&app, &tp)
        .await
        .unwrap();
    assert_eq!(by_tp, vec![group.clone()]);
    // Every row of the group carries the group's earliest time joined.
    let ids = [p.id.as_str(), r.id.as_str(), s.id.as_str()];
    for table in ["app_id_to_user_id", "all_auth_recipe_users"] {
        for (user, primary, linked, tj) in link_rows(&ctx, table, &ids).await {
            assert_eq!(primary, p.id, "{table} {user}");
            assert!(linked, "{table} {user}");
            assert_eq!(tj, 50, "{table} {user}");
        }
    }
    // Groups are counted and paged once.
    let other = ep_user(&ctx, &t2, &email(), 300).await;
    assert_eq!(
        ctx.storage
            .count_users(&UserScope::App(app.clone()), &[])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        ctx.storage
            .count_users_with_more_than_one_login_method(&app)
            .await
            .unwrap(),
        1
    );
    let page = ctx
        .storage
        .list_users(&first_page(&t2, 10, TimeJoinedOrder::Asc))
        .await
        .unwrap();
    assert_eq!(ids_of(&page.users), vec![p.id.clone(), other.id.clone()]);
    assert_eq!(page.users[0], group);
}

fn ids_of(users: &[User]) -> Vec<String> {
    users.iter().map(|u| u.id.clone()).collect()
}

/// The errors of make primary and link, each provoked for real.
pub async fn linking_errors(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let app = t.app.clone();
    let p = ep_user(&ctx, &t, &email(), 1).await;
    let q = ep_user(&ctx, &t, &email(), 2).await;
    let r = ep_user(&ctx, &t, &email(), 3).await;
    let plain = ep_user(&ctx, &t, &email(), 4).await;
    ctx.storage.make_primary(&app, &p.id).await.unwrap();
    ctx.storage.make_primary(&app, &q.id).await.unwrap();
    assert!(matches!(
        ctx.storage.link(&app, &r.id, &plain.id).await,
        Err(StorageError::InputUserIsNotAPrimaryUser)
    ));
    assert!(matches!(
        ctx.storage.link(&app, &uid(), &p.id).await,
        Err(StorageError::UnknownUserId)
    ));
    assert!(matches!(
        ctx.storage.link(&app, &r.id, &uid()).await,
        Err(StorageError::UnknownUserId)
    ));
    ctx.storage.link(&app, &r.id, &p.id).await.unwrap();
    match ctx.storage.link(&app, &r.id, &q.id).await {
        Err(StorageError::RecipeUserAlreadyLinkedWithAnotherPrimaryUser { primary }) => {
            assert_eq!(primary, p.id)
        }
        other => panic!("expected RecipeUserAlreadyLinkedWithAnotherPrimaryUser, got {other:?}"),
    }
    // A primary user cannot be linked into another group either.
    assert!(matches!(
        ctx.storage.link(&app, &q.id, &p.id).await,
        Err(StorageError::RecipeUserAlreadyLinkedWithAnotherPrimaryUser { .. })
    ));
    match ctx.storage.make_primary(&app, &r.id).await {
        Err(StorageError::RecipeUserAlreadyLinked { primary }) => assert_eq!(primary, p.id),
        other => panic!("expected RecipeUserAlreadyLinked, got {other:?}"),
    }
    // Another app does not see the users.
    let other = setup_tenant(&ctx, "otherapp", "public").await;
    assert!(matches!(
        ctx.storage.make_primary(&other.app, &plain.id).await,
        Err(StorageError::UnknownUserId)
    ));
}

/// The invariant of A.2, provoked by each operation that can break it: make primary,
/// link, adding a primary's login method to a tenant, changing an email or a phone.
pub async fn linking_invariant_conflicts(ctx: Ctx) {
    let t1 = setup_tenant(&ctx, "invapp", "t1").await;
    let t2 = setup_tenant(&ctx, "invapp", "t2").await;
    let app = t1.app.clone();
    // make primary: two recipes with one email in one tenant.
    let x = email();
    let a = ep_user(&ctx, &t1, &x, 1).await;
    let b = pl_user(&ctx, &t1, Some(&x), None, 2).await;
    ctx.storage.make_primary(&app, &a.id).await.unwrap();
    assert_info_used(ctx.storage.make_primary(&app, &b.id).await, &a.id);
    // link: a recipe user with that email into another group.
    let d = ep_user(&ctx, &t1, &email(), 3).await;
    ctx.storage.make_primary(&app, &d.id).await.unwrap();
    let c = tp_user(&ctx, &t1, &x, "github", "gh-c", 4).await;
    assert_info_used(ctx.storage.link(&app, &c.id, &d.id).await, &a.id);
    // third-party identity shared across tenants: in another tenant it is allowed.
    let tp1 = tp_user(&ctx, &t1, &email(), "github", "same", 5).await;
    let tp2 = tp_user(&ctx, &t2, &email(), "github", "same", 6).await;
    ctx.storage.make_primary(&app, &tp1.id).await.unwrap();
    ctx.storage.make_primary(&app, &tp2.id).await.unwrap();
    // ... but adding one of them to the other's tenant breaks it.
    assert_info_used(ctx.storage.add_user_to_tenant(&t1, &tp2.id).await, &tp1.id);
    assert!(
        !tenant_names(
            &ctx.storage
                .get_user(&app, &tp2.id)
                .await
                .unwrap()
                .unwrap()
                .tenant_ids
        )
        .contains(&"t1".to_owned())
    );
    // Same email in two tenants, then joining.
    let y = email();
    let e = ep_user(&ctx, &t2, &y, 7).await;
    let f = ep_user(&ctx, &t1, &y, 8).await;
    ctx.storage.make_primary(&app, &e.id).await.unwrap();
    ctx.storage.make_primary(&app, &f.id).await.unwrap();
    assert_info_used(ctx.storage.add_user_to_tenant(&t1, &e.id).await, &f.id);
    // An unlinked user may join (only primary users are constrained).
    let g = pl_user(&ctx, &t2, Some(&y), None, 9).await;
    assert!(ctx.storage.add_user_to_tenant(&t1, &g.id).await.unwrap());
    // Changing the email of a primary user to another primary's email.
    let z = email();
    let h = ep_user(&ctx, &t1, &z, 10).await;
    let i = ep_user(&ctx, &t1, &email(), 11).await;
    ctx.storage.make_primary(&app, &h.id).await.unwrap();
    ctx.storage.make_primary(&app, &i.id).await.unwrap();
    // A passwordless login method of i's group takes z: refused.
    let j = pl_user(&ctx, &t1, Some(&email()), None, 12).await;
    ctx.storage.link(&app, &j.id, &i.id).await.unwrap();
    assert_info_used(
        ctx.storage
            .update_passwordless_contact(&app, &j.id, Some(&z), None)
            .await,
        &h.id,
    );
    let w = phone();
    let k = pl_user(&ctx, &t1, None, Some(&w), 13).await;
    ctx.storage.make_primary(&app, &k.id).await.unwrap();
    assert_info_used(
        ctx.storage
            .update_passwordless_contact(&app, &j.id, None, Some(&w))
            .await,
        &k.id,
    );
    // Email-password email change of a linked method, inside a transaction too.
    let mut tx = ctx.storage.begin(&TxOptions::default()).await.unwrap();
    assert_info_used(tx.update_email_password_email(&app, &i.id, &z).await, &h.id);
    tx.rollback().await.unwrap();
    // The stored rows did not change.
    let i_now = ctx.storage.get_user(&app, &i.id).await.unwrap().unwrap();
    assert!(
        i_now
            .login_methods
            .iter()
            .all(|m| m.email.as_deref() != Some(z.as_str()))
    );
    // A change to a free email passes.
    let free = email();
    ctx.storage
        .update_email_password_email(&app, &i.id, &free)
        .await
        .unwrap();
}

/// Unlink: the recipe user becomes a group of one with its own time joined; the
/// group's time joined is recomputed; the primary's own login method keeps the group.
pub async fn linking_unlink(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let app = t.app.clone();
    let p = ep_user(&ctx, &t, &email(), 100).await;
    let r = pl_user(&ctx, &t, Some(&email()), None, 10).await;
    ctx.storage.make_primary(&app, &p.id).await.unwrap();
    assert_eq!(
        ctx.storage
            .unlink(&app, &uid())
            .await
            .err()
            .map(|e| e.to_string()),
        Some(StorageError::UnknownUserId.to_string())
    );
    ctx.storage.link(&app, &r.id, &p.id).await.unwrap();
    assert_eq!(
        ctx.storage.unlink(&app, &p.id).await.unwrap(),
        UnlinkOutcome::PrimaryKept
    );
    assert_eq!(
        ctx.storage.unlink(&app, &r.id).await.unwrap(),
        UnlinkOutcome::Unlinked
    );
    assert_eq!(
        ctx.storage.unlink(&app, &r.id).await.unwrap(),
        UnlinkOutcome::NotLinked
    );
    let ru = ctx.storage.get_user(&app, &r.id).await.unwrap().unwrap();
    assert_eq!(
        (ru.id.as_str(), ru.is_primary, ru.time_joined),
        (r.id.as_str(), false, 10)
    );
    assert_eq!(ru.login_methods.len(), 1);
    let pu = ctx.storage.get_user(&app, &p.id).await.unwrap().unwrap();
    assert_eq!(
        (pu.is_primary, pu.time_joined, pu.login_methods.len()),
        (true, 100, 1)
    );
    for table in ["app_id_to_user_id", "all_auth_recipe_users"] {
        assert_eq!(
            link_rows(&ctx, table, &[&p.id, &r.id]).await,
            {
                let mut v = vec![
                    (p.id.clone(), p.id.clone(), true, 100),
                    (r.id.clone(), r.id.clone(), false, 10),
                ];
                v.sort();
                v
            },
            "{table}"
        );
    }
    // The primary alone: unlinking makes it a plain recipe user.
    assert_eq!(
        ctx.storage.unlink(&app, &p.id).await.unwrap(),
        UnlinkOutcome::Unlinked
    );
    assert!(
        !ctx.storage
            .get_user(&app, &p.id)
            .await
            .unwrap()
            .unwrap()
            .is_primary
    );
    assert!(!ctx.storage.uses_account_linking(&app).await.unwrap());
}

/// The *(tx)* forms: locked reads and the high-level operations inside a caller's
/// transaction; rolled back, nothing stays.
pub async fn linking_in_transaction(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    let app = t.app.clone();
    let mail = email();
    let p = ep_user(&ctx, &t, &mail, 1).await;
    let r = tp_user(&ctx, &t, &mail, "apple", "ap-1", 2).await;
    let mut tx = ctx.storage.begin(&TxOptions::default()).await.unwrap();
    assert_eq!(
        tx.make_primary(&app, &p.id).await.unwrap(),
        MakePrimaryOutcome::MadePrimary
    );
    assert_eq!(
        tx.link(&app, &r.id, &p.id).await.unwrap(),
        LinkOutcome::Linked
    );
    let g = tx
        .get_primary_user_for_update(&app, &r.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((g.id.as_str(), g.login_methods.len()), (p.id.as_str(), 2));
    let by_email = tx
        .list_primary_users_by_email_for_update(&t, &mail)
        .await
        .unwrap();
    assert_eq!(by_email, vec![g.clone()]);
    let tp = ThirdPartyInfo {
        third_party_id: "apple".into(),
        third_party_user_id: "ap-1".into(),
    };
    assert_eq!(
        tx.list_primary_users_by_third_party_for_update(&app, &tp)
            .await
            .unwrap(),
        vec![g.clone()]
    );
    assert!(
        tx.list_primary_users_by_phone_for_update(&t, "+1000")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        tx.get_primary_user_for_update(&app, &uid())
            .await
            .unwrap()
            .is_none()
    );
    tx.rollback().await.unwrap();
    let p_now = ctx.storage.get_user(&app, &p.id).await.unwrap().unwrap();
    assert!(!p_now.is_primary);
    assert_eq!(p_now.login_methods.len(), 1);
    // Committed, it stays.
    let mut tx = ctx.storage.begin(&TxOptions::default()).await.unwrap();
    tx.make_primary(&app, &p.id).await.unwrap();
    tx.link(&app, &r.id, &p.id).await.unwrap();
    assert_eq!(
        tx.unlink(&app, &r.id).await.unwrap(),
        UnlinkOutcome::Unlinked
    );
    tx.commit().await.unwrap();
    let p_now = ctx.storage.get_user(&app, &p.id).await.unwrap().unwrap();
    assert!(p_now.is_primary);
    assert_eq!(p_now.login_methods.len(), 1);
}

/// Rounds of the invariant race.
const ROUNDS: usize = 20;
/// Tasks per round.
const TASKS: usize = 64;

/// Part C: 64 tasks × 20 rounds make primary, link, unlink, change emails and phones
/// and add users to tenants over a small set of shared identities. After each round
/// plain SQL finds no two primary users sharing an identity in a tenant, every group's
/// rows carry its earliest time joined, and no task saw `Retryable`.
pub async fn race_linking_invariant(ctx: Ctx) {
    let t1 = setup_tenant(&ctx, "raceapp", "t1").await;
    let t2 = setup_tenant(&ctx, "raceapp", "t2").await;
    let app = t1.app.clone();
    let emails: Vec<String> = (0..4).map(|_| email()).collect();
    let phones: Vec<String> = (0..3).map(|_| phone()).collect();
    let st = shared(&ctx);
    let conflicts = Arc::new(AtomicU64::new(0));
    let started = std::time::Instant::now();
    let mut ops = 0u64;
    for round in 0..ROUNDS {
        // Users of the round: each recipe over the shared identities, in both tenants.
        let mut users = Vec::new();
        for i in 0..12 {
            let t = if i % 2 == 0 { &t1 } else { &t2 };
            let tj = (round * 100 + i) as i64 + 1;
            let id = match i % 3 {
                0 => {
                    let input = ep_input(t, &emails[i % emails.len()], tj);
                    match st.sign_up_email_password(&input).await {
                        Ok(u) => u.id,
                        Err(StorageError::DuplicateEmail) => continue,
                        Err(e) => panic!("sign-up: {e:?}"),
                    }
                }
                1 => {
                    let input = tp_input(
                        t,
                        &emails[(i + 1) % emails.len()],
                        "github",
                        &format!("gh-{}-{}", round, i % 2),
                        tj,
                    );
                    match st.sign_up_third_party(&input).await {
                        Ok(u) => u.id,
                        Err(StorageError::DuplicateThirdPartyUser) => continue,
                        Err(e) => panic!("sign-up: {e:?}"),
                    }
                }
                _ => {
                    let input = pl_input(t, None, Some(&phones[i % phones.len()]), tj);
                    match st.create_passwordless_user(&input).await {
                        Ok(u) => u.id,
                        Err(StorageError::DuplicatePhoneNumber) => continue,
                        Err(e) => panic!("sign-up: {e:?}"),
                    }
                }
            };
            users.push(id);
        }
        let users = Arc::new(users);
        let results = race(TASKS, |task| {
            let (st, app, users, emails, phones, t1, t2, conflicts) = (
                st.clone(),
                app.clone(),
                users.clone(),
                emails.clone(),
                phones.clone(),
                t1.clone(),
                t2.clone(),
                conflicts.clone(),
            );
            async move {
                let n = users.len();
                let a = &users[(task * 7 + round) % n];
                let b = &users[(task * 5 + round * 3 + 1) % n];
                let r: Result<()> = match task % 6 {
                    0 => st.make_primary(&app, a).await.map(drop),
                    1 => st.link(&app, a, b).await.map(drop),
                    2 => st.unlink(&app, a).await.map(drop),
                    3 => st
                        .update_email_password_email(&app, a, &emails[task % emails.len()])
                        .await,
                    4 => st
                        .update_passwordless_contact(&app, a, None, Some(&phones[task % phones.len()]))
                        .await,
                    _ => {
                        let t = if task % 2 == 0 { &t1 } else { &t2 };
                        st.add_user_to_tenant(t, a).await.map(drop)
                    }
                };
                match r {
                    Ok(())
                    | Err(StorageError::AccountInfoAlreadyUsedByAnotherPrimaryUser { .. })
                    | Err(StorageError::RecipeUserAlreadyLinked { .. })
                    | Err(StorageError::RecipeUserAlreadyLinkedWithAnotherPrimaryUser { .. })
                    | Err(StorageError::InputUserIsNotAPrimaryUser)
                    // Not the user's recipe, or a recipe-level duplicate.
                    | Err(StorageError::UnknownUserId)
                    | Err(StorageError::DuplicateEmail)
                    | Err(StorageError::DuplicatePhoneNumber)
                    | Err(StorageError::DuplicateThirdPartyUser) => {
                        if matches!(r, Err(StorageError::AccountInfoAlreadyUsedByAnotherPrimaryUser { .. })) {
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(())
                    }
                    Err(e) => Err(format!("task {task}: {e:?}")),
                }
            }
        })
        .await;
        ops += TASKS as u64;
        let failures: Vec<_> = results.into_iter().filter_map(|r| r.err()).collect();
        assert!(failures.is_empty(), "round {round}: {failures:?}");
        check_invariant(&ctx, &app).await;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "race_linking_invariant: {ops} operations in {secs:.2} s ({:.0}/s), {} typed conflicts, no Retryable",
        ops as f64 / secs,
        conflicts.load(Ordering::Relaxed)
    );
}

/// Plain SQL: no two primary users share an identity in a tenant, and every row of a
/// group carries the group's earliest time joined.
async fn check_invariant(ctx: &Ctx, app: &AppId) {
    let a = ctx.table("all_auth_recipe_users");
    let app = app.as_str();
    for (kind, table, cols) in [
        ("email", "emailpassword_user_to_tenant", "x.email"),
        ("email", "passwordless_user_to_tenant", "x.email"),
        ("phone", "passwordless_user_to_tenant", "x.phone_number"),
        (
            "third party",
            "thirdparty_user_to_tenant",
            "x.third_party_id, x.third_party_user_id",
        ),
    ] {
        let x = ctx.table(table);
        let rows = ctx
            .raw
            .query(&format!(
                "SELECT x.tenant_id, {cols}, COUNT(DISTINCT u.primary_or_recipe_user_id) \
                 FROM {x} x JOIN {a} u ON u.app_id = x.app_id AND u.tenant_id = x.tenant_id \
                 AND u.user_id = x.user_id \
                 WHERE x.app_id = '{app}' AND u.is_linked_or_is_a_primary_user = TRUE \
                 AND {first} IS NOT NULL \
                 GROUP BY x.tenant_id, {cols} HAVING COUNT(DISTINCT u.primary_or_recipe_user_id) > 1",
                first = cols.split(',').next().unwrap_or(cols),
            ))
            .await;
        assert!(
            rows.is_empty(),
            "two primary users share an {kind}: {rows:?}"
        );
    }
    // Emails across recipes: all three recipes' emails in one tenant.
    let ep = ctx.table("emailpassword_user_to_tenant");
    let pl = ctx.table("passwordless_user_to_tenant");
    let tpt = ctx.table("thirdparty_user_to_tenant");
    let tpu = ctx.table("thirdparty_users");
    let rows = ctx
        .raw
        .query(&format!(
            "SELECT e.tenant_id, e.email, COUNT(DISTINCT u.primary_or_recipe_user_id) FROM (\
               SELECT app_id, tenant_id, user_id, email FROM {ep} \
               UNION ALL SELECT app_id, tenant_id, user_id, email FROM {pl} WHERE email IS NOT NULL \
               UNION ALL SELECT t.app_id, t.tenant_id, t.user_id, p.email FROM {tpt} t \
                 JOIN {tpu} p ON p.app_id = t.app_id AND p.user_id = t.user_id\
             ) e JOIN {a} u ON u.app_id = e.app_id AND u.tenant_id = e.tenant_id AND u.user_id = e.user_id \
             WHERE e.app_id = '{app}' AND u.is_linked_or_is_a_primary_user = TRUE \
             GROUP BY e.tenant_id, e.email HAVING COUNT(DISTINCT u.primary_or_recipe_user_id) > 1"
        ))
        .await;
    assert!(
        rows.is_empty(),
        "two primary users share an email across recipes: {rows:?}"
    );
    // Every group's rows carry its minimum time joined.
    let base = ctx.table("app_id_to_user_id");
    for table in [base.clone(), a.clone()] {
        let rows = ctx
            .raw
            .query(&format!(
                "SELECT r.user_id FROM {table} r WHERE r.app_id = '{app}' AND \
                 r.primary_or_recipe_user_time_joined <> (SELECT MIN(g.time_joined) FROM {base} g \
                 WHERE g.app_id = r.app_id AND g.primary_or_recipe_user_id = r.primary_or_recipe_user_id)"
            ))
            .await;
        assert!(
            rows.is_empty(),
            "rows of {table} without their group's time joined: {rows:?}"
        );
    }
}

/// Rows keyed by `id` in phase-2 tables without a foreign key to the user, written
/// with plain SQL as a core of part B would.
async fn seed_user_data(ctx: &Ctx, t: &TenantIdentifier, id: &str) {
    let (app, tenant) = (t.app.as_str(), t.tenant.as_str());
    for sql in [
        format!(
            "INSERT INTO {} (app_id, user_id, user_metadata) VALUES ('{app}', '{id}', '{{}}')",
            ctx.table("user_metadata")
        ),
        format!(
            "INSERT INTO {} (app_id, tenant_id, user_id, role) VALUES ('{app}', '{tenant}', '{id}', 'admin')",
            ctx.table("user_roles")
        ),
        format!(
            "INSERT INTO {} (app_id, user_id) VALUES ('{app}', '{id}')",
            ctx.table("totp_users")
        ),
        format!(
            "INSERT INTO {} (app_id, user_id, device_name, secret_key, period, skew, verified, created_at) \
             VALUES ('{app}', '{id}', 'phone', 'secret', 30, 1, TRUE, 1)",
            ctx.table("totp_user_devices")
        ),
        format!(
            "INSERT INTO {} (app_id, tenant_id, user_id, code, is_valid, expiry_time_ms, created_time_ms) \
             VALUES ('{app}', '{tenant}', '{id}', '123456', TRUE, 2, 1)",
            ctx.table("totp_used_codes")
        ),
        format!(
            "INSERT INTO {} (app_id, user_id, last_active_time) VALUES ('{app}', '{id}', 1)",
            ctx.table("user_last_active")
        ),
    ] {
        ctx.raw.execute(&sql).await;
    }
    ctx.storage.create_session(&session(t, id)).await.unwrap();
}

/// Tables of phase 1 and 2 that hold rows keyed by a user id, with that column.
const USER_KEYED: [(&str, &str); 17] = [
    ("app_id_to_user_id", "user_id"),
    ("app_id_to_user_id", "primary_or_recipe_user_id"),
    ("all_auth_recipe_users", "user_id"),
    ("emailpassword_users", "user_id"),
    ("emailpassword_user_to_tenant", "user_id"),
    ("thirdparty_users", "user_id"),
    ("thirdparty_user_to_tenant", "user_id"),
    ("passwordless_users", "user_id"),
    ("passwordless_user_to_tenant", "user_id"),
    ("session_info", "user_id"),
    ("emailverification_verified_emails", "user_id"),
    ("user_metadata", "user_id"),
    ("user_roles", "user_id"),
    ("totp_users", "user_id"),
    ("totp_user_devices", "user_id"),
    ("totp_used_codes", "user_id"),
    ("user_last_active", "user_id"),
];

/// How many rows of every user-keyed table (and the mapping table) hold `id`.
async fn rows_keyed_by(ctx: &Ctx, id: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for (table, col) in USER_KEYED.iter().copied().chain([
        ("userid_mapping", "supertokens_user_id"),
        ("userid_mapping", "external_user_id"),
        ("emailpassword_pswd_reset_tokens", "user_id"),
        ("emailverification_tokens", "user_id"),
    ]) {
        let n = count(ctx, table, &format!("{col} = '{id}'")).await;
        if n > 0 {
            out.push((format!("{table}.{col}"), n));
        }
    }
    out
}

/// Delete (A.3): one login method, then the primary's own method (the group keeps its
/// id), then the whole group; no row keyed by a deleted id (or its external id) stays
/// in any phase-1 or phase-2 table; time joined and primary id stay right.
pub async fn linking_delete_user(ctx: Ctx) {
    let Three {
        t1,
        t2,
        mail,
        p,
        r,
        s,
    } = three_methods(&ctx, "delapp", "g-del", &phone()).await;
    let app = t1.app.clone();
    ctx.storage.make_primary(&app, &p.id).await.unwrap();
    ctx.storage.link(&app, &r.id, &p.id).await.unwrap();
    ctx.storage.link(&app, &s.id, &p.id).await.unwrap();
    for (t, id) in [(&t1, &p.id), (&t2, &r.id), (&t2, &s.id)] {
        seed_user_data(&ctx, t, id).await;
        ctx.storage
            .set_email_verified(&app, id, &mail, true)
            .await
            .unwrap();
    }
    ctx.storage
        .add_password_reset_token(&reset_token(&app, &p.id, NOW + HOUR))
        .await
        .unwrap();
    // r has an external id, and data keyed by it.
    let ext = format!("ext-{}", uid());
    ctx.raw
        .execute(&format!(
            "INSERT INTO {} (app_id, supertokens_user_id, external_user_id) VALUES ('{app}', '{}', '{ext}')",
            ctx.table("userid_mapping"),
            r.id
        ))
        .await;
    seed_user_data(&ctx, &t2, &ext).await;
    // One login method.
    assert!(
        ctx.storage
            .delete_user_with_links(&app, &r.id, false)
            .await
            .unwrap()
    );
    assert_eq!(rows_keyed_by(&ctx, &r.id).await, vec![]);
    assert_eq!(rows_keyed_by(&ctx, &ext).await, vec![]);
    let g = ctx.storage.get_user(&app, &s.id).await.unwrap().unwrap();
    assert_eq!(
        (g.id.as_str(), g.is_primary, g.time_joined),
        (p.id.as_str(), true, 100)
    );
    assert_eq!(ids_of_methods(&g), vec![p.id.clone(), s.id.clone()]);
    assert_eq!(tenant_names(&g.tenant_ids), vec!["t1", "t2"]);
    // The primary's own method: the group keeps its id and the data keyed by it.
    assert!(
        ctx.storage
            .delete_user_with_links(&app, &p.id, false)
            .await
            .unwrap()
    );
    let g = ctx.storage.get_user(&app, &s.id).await.unwrap().unwrap();
    assert_eq!(
        (g.id.as_str(), g.is_primary, g.time_joined),
        (p.id.as_str(), true, 200)
    );
    assert_eq!(ids_of_methods(&g), vec![s.id.clone()]);
    assert_eq!(
        ctx.storage.primary_user_id_of(&app, &s.id).await.unwrap(),
        Some(p.id.clone())
    );
    assert!(ctx.storage.get_user(&app, &p.id).await.unwrap().is_some());
    let kept = rows_keyed_by(&ctx, &p.id).await;
    assert!(
        kept.iter().any(|(t, _)| t == "user_metadata.user_id"),
        "the group's data stays: {kept:?}"
    );
    assert!(
        !kept.iter().any(|(t, _)| t.starts_with("emailpassword")),
        "the login method's rows went: {kept:?}"
    );
    for table in ["app_id_to_user_id", "all_auth_recipe_users"] {
        for (_, primary, linked, tj) in link_rows(&ctx, table, &[&s.id]).await {
            assert_eq!((primary.as_str(), linked, tj), (p.id.as_str(), true, 200));
        }
    }
    // The whole group.
    assert!(
        ctx.storage
            .delete_user_with_links(&app, &s.id, true)
            .await
            .unwrap()
    );
    for id in [&p.id, &r.id, &s.id] {
        assert_eq!(rows_keyed_by(&ctx, id).await, vec![], "rows of {id}");
        assert!(ctx.storage.get_user(&app, id).await.unwrap().is_none());
    }
    assert!(
        !ctx.storage
            .delete_user_with_links(&app, &s.id, true)
            .await
            .unwrap()
    );
    // all_linked from any member, through Users::delete_user too.
    let a = ep_user(&ctx, &t1, &email(), 1).await;
    let b = pl_user(&ctx, &t1, Some(&email()), None, 2).await;
    ctx.storage.make_primary(&app, &a.id).await.unwrap();
    ctx.storage.link(&app, &b.id, &a.id).await.unwrap();
    seed_user_data(&ctx, &t1, &a.id).await;
    assert!(ctx.storage.delete_user(&app, &b.id).await.unwrap());
    for id in [&a.id, &b.id] {
        assert_eq!(rows_keyed_by(&ctx, id).await, vec![], "rows of {id}");
    }
    assert_invalid(
        ctx.storage.delete_user_with_links(&app, "nope", true).await,
        "user_id",
    );
}

fn ids_of_methods(u: &User) -> Vec<String> {
    u.login_methods
        .iter()
        .map(|m| m.recipe_user_id.clone())
        .collect()
}

/// Pages and counts are over groups: a linked group is listed once, at its earliest
/// time joined, across page boundaries in both orders; counts per recipe count the
/// groups with a login method of that recipe.
pub async fn linking_pages_and_counts_over_groups(ctx: Ctx) {
    let t = setup_tenant(&ctx, "pageapp", "public").await;
    let app = t.app.clone();
    // Groups: g1 = {a(10), b(60)}, g2 = {c(30)}, g3 = {d(50), e(20), f(70)}, g4 = {h(40)}.
    let a = ep_user(&ctx, &t, &email(), 10).await;
    let b = pl_user(&ctx, &t, Some(&email()), None, 60).await;
    let c = ep_user(&ctx, &t, &email(), 30).await;
    let d = ep_user(&ctx, &t, &email(), 50).await;
    let e = tp_user(&ctx, &t, &email(), "github", "gh-page", 20).await;
    let f = pl_user(&ctx, &t, None, Some(&phone()), 70).await;
    let h = tp_user(&ctx, &t, &email(), "github", "gh-h", 40).await;
    ctx.storage.make_primary(&app, &a.id).await.unwrap();
    ctx.storage.link(&app, &b.id, &a.id).await.unwrap();
    ctx.storage.make_primary(&app, &d.id).await.unwrap();
    ctx.storage.link(&app, &e.id, &d.id).await.unwrap();
    ctx.storage.link(&app, &f.id, &e.id).await.unwrap();
    let want_asc = vec![a.id.clone(), d.id.clone(), c.id.clone(), h.id.clone()];
    for (order, want) in [
        (TimeJoinedOrder::Asc, want_asc.clone()),
        (
            TimeJoinedOrder::Desc,
            want_asc.iter().rev().cloned().collect(),
        ),
    ] {
        let mut got = Vec::new();
        let mut after = None;
        loop {
            let page = ctx
                .storage
                .list_users(&ListUsers {
                    tenant: t.clone(),
                    limit: 1,
                    order,
                    recipes: vec![],
                    search: Default::default(),
                    after: after.clone(),
                })
                .await
                .unwrap();
            got.extend(
                page.users
                    .iter()
                    .map(|u| (u.id.clone(), u.login_methods.len())),
            );
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let ids: Vec<String> = got.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(ids, want, "{order:?}");
        let sizes: Vec<usize> = got.iter().map(|(_, n)| *n).collect();
        let expected_sizes: Vec<usize> = want
            .iter()
            .map(|id| {
                if *id == a.id {
                    2
                } else if *id == d.id {
                    3
                } else {
                    1
                }
            })
            .collect();
        assert_eq!(sizes, expected_sizes, "{order:?}");
    }
    let scope = UserScope::Tenant(t.clone());
    for (recipes, n) in [
        (vec![], 4),
        (vec![RecipeId::EmailPassword], 3),
        (vec![RecipeId::ThirdParty], 2),
        (vec![RecipeId::Passwordless], 2),
    ] {
        assert_eq!(
            ctx.storage.count_users(&scope, &recipes).await.unwrap(),
            n,
            "{recipes:?}"
        );
    }
    // Unlinking the earliest method moves its group in the order.
    ctx.storage.unlink(&app, &e.id).await.unwrap();
    let page = ctx
        .storage
        .list_users(&first_page(&t, 10, TimeJoinedOrder::Asc))
        .await
        .unwrap();
    let ids: Vec<String> = page.users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(
        ids,
        vec![
            a.id.clone(),
            e.id.clone(),
            c.id.clone(),
            h.id.clone(),
            d.id.clone()
        ]
    );
    assert_eq!(page.users[4].time_joined, 50);
}

/// The ids of every page of `search` in the tenant (pages of `limit`), ascending.
async fn searched(
    ctx: &Ctx,
    t: &TenantIdentifier,
    search: UserSearch,
    recipes: Vec<RecipeId>,
    limit: u32,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = ctx
            .storage
            .list_users(&ListUsers {
                tenant: t.clone(),
                limit,
                order: TimeJoinedOrder::Asc,
                recipes: recipes.clone(),
                search: search.clone(),
                after: after.clone(),
            })
            .await
            .unwrap();
        ids.extend(page.users.into_iter().map(|u| u.id));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    ids
}

fn tags(emails: &[&str], phones: &[&str], providers: &[&str]) -> UserSearch {
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
    UserSearch {
        emails: v(emails),
        phones: v(phones),
        providers: v(providers),
    }
}

/// List users' search tags (A.3): email prefix or domain prefix, phone prefix,
/// provider prefix, combined as SuperTokens' plugins combine them; groups listed once
/// (by a linked login method too), in the tenant only, with recipe filters and pages;
/// `%` and `_` are plain characters; byte-wise (case-sensitive) matching.
pub async fn linking_search_tags(ctx: Ctx) {
    let t = setup_tenant(&ctx, "searchapp", "public").await;
    let t2 = setup_tenant(&ctx, "searchapp", "t2").await;
    let app = t.app.clone();
    let a = ep_user(&ctx, &t, "alice@zed.com", 10).await;
    let b = ep_user(&ctx, &t, "bob@alpha.org", 20).await;
    let c = pl_user(&ctx, &t, Some("carol@alpine.io"), None, 30).await;
    let d = pl_user(&ctx, &t, None, Some("+14155550100"), 40).await;
    let e = tp_user(&ctx, &t, "dave@corp.com", "google", "g-dave", 50).await;
    let f = tp_user(&ctx, &t, "erin@alps.net", "github", "gh-erin", 60).await;
    let g = ep_user(&ctx, &t, "al_x@q.com", 70).await;
    let other = ep_user(&ctx, &t2, "alfred@x.com", 80).await;
    // Group e = {e, b}: time joined 20, listed once under e's id.
    ctx.storage.make_primary(&app, &e.id).await.unwrap();
    ctx.storage.link(&app, &b.id, &e.id).await.unwrap();
    let ids = |us: &[&User]| us.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    let none: Vec<String> = vec![];
    let cases: Vec<(UserSearch, Vec<RecipeId>, Vec<String>)> = vec![
        // Email prefix (alice, al_x) or domain prefix (alpha, alpine, alps).
        (tags(&["al"], &[], &[]), vec![], ids(&[&a, &e, &c, &f, &g])),
        (tags(&["al_"], &[], &[]), vec![], ids(&[&g])),
        (tags(&["al%"], &[], &[]), vec![], none.clone()),
        (tags(&["ALICE"], &[], &[]), vec![], none.clone()),
        (tags(&["alice@zed.com"], &[], &[]), vec![], ids(&[&a])),
        (tags(&["bob", "carol"], &[], &[]), vec![], ids(&[&e, &c])),
        (tags(&["zz"], &[], &[]), vec![], none.clone()),
        (tags(&[], &["+1415"], &[]), vec![], ids(&[&d])),
        (tags(&[], &["+1416"], &[]), vec![], none.clone()),
        (tags(&[], &[], &["git"]), vec![], ids(&[&f])),
        (tags(&[], &[], &["goo", "git"]), vec![], ids(&[&e, &f])),
        // Third-party: every kind given must match.
        (tags(&["dave"], &[], &["git"]), vec![], none.clone()),
        (tags(&["erin"], &[], &["git"]), vec![], ids(&[&f])),
        // Passwordless: email or phone.
        (tags(&["zed"], &["+1415"], &[]), vec![], ids(&[&a, &d])),
        (
            tags(&["al"], &[], &[]),
            vec![RecipeId::Passwordless],
            ids(&[&c]),
        ),
        (
            tags(&["al"], &[], &[]),
            vec![RecipeId::EmailPassword],
            ids(&[&a, &e, &g]),
        ),
    ];
    for (search, recipes, want) in cases {
        for limit in [1, 2, 100] {
            let got = searched(&ctx, &t, search.clone(), recipes.clone(), limit).await;
            assert_eq!(got, want, "{search:?} {recipes:?} limit {limit}");
        }
    }
    assert_eq!(
        searched(&ctx, &t2, tags(&["al"], &[], &[]), vec![], 10).await,
        ids(&[&other])
    );
    for bad in [
        tags(&[""], &[], &[]),
        tags(&[], &[""], &[]),
        tags(&[], &[], &[&"x".repeat(257)]),
    ] {
        let r = ctx
            .storage
            .list_users(&ListUsers {
                tenant: t.clone(),
                limit: 10,
                order: TimeJoinedOrder::Asc,
                recipes: vec![],
                search: bad.clone(),
                after: None,
            })
            .await;
        assert!(
            matches!(r, Err(StorageError::InvalidInput { .. })),
            "{bad:?}: {r:?}"
        );
    }
}
