//! Tenant isolation as a property: random sequences of operations on four tenants
//! (two tenants in each of two apps) are run against the storage and against a model
//! of the contract's scopes. After every operation the whole observable state of all
//! four tenants and both apps is read back and compared with the model, so nothing
//! done through one tenant may be visible through, or change, another, except the
//! app-scoped data (users themselves, verified emails, signing keys) that the contract
//! shares between the tenants of one app.
//!
//! Every case runs on fresh apps of one database per backend; 32 cases of up to 20
//! operations, shrunk on failure to a minimal sequence.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use storage_api::*;
use storage_tests::conformance::fixtures::{self as fx, HOUR, NOW};
use storage_tests::harness::{Ctx, TestBackend};
use storage_tests::reliability::common::figures;

/// Cases per backend.
const CASES: u32 = 32;
/// Most operations per case.
const MAX_OPS: usize = 20;
/// Emails, key names and third-party subjects per tenant.
const NAMES: u8 = 2;

#[derive(Clone, Debug)]
enum Op {
    KvSet {
        t: usize,
        name: u8,
        val: u8,
    },
    SignUp {
        t: usize,
        email: u8,
        recipe: u8,
    },
    AddToTenant {
        user: usize,
        t: usize,
    },
    RemoveFromTenant {
        user: usize,
        t: usize,
    },
    CreateSession {
        t: usize,
    },
    DeleteSession {
        owner: usize,
        via: usize,
        k: usize,
    },
    CreateDevice {
        t: usize,
        email: u8,
    },
    ConsumeDevices {
        t: usize,
        email: u8,
    },
    AddEvToken {
        t: usize,
        email: u8,
    },
    SetVerified {
        app: usize,
        user: u8,
        email: u8,
        yes: bool,
    },
    AddSigningKey {
        app: usize,
    },
    DeleteTenant {
        t: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0usize..4;
    let n = 0u8..NAMES;
    prop_oneof![
        (t.clone(), n.clone(), any::<u8>()).prop_map(|(t, name, val)| Op::KvSet { t, name, val }),
        (t.clone(), n.clone(), 0u8..3).prop_map(|(t, email, recipe)| Op::SignUp {
            t,
            email,
            recipe
        }),
        (any::<usize>(), t.clone()).prop_map(|(user, t)| Op::AddToTenant { user, t }),
        (any::<usize>(), t.clone()).prop_map(|(user, t)| Op::RemoveFromTenant { user, t }),
        t.clone().prop_map(|t| Op::CreateSession { t }),
        (t.clone(), t.clone(), any::<usize>()).prop_map(|(owner, via, k)| Op::DeleteSession {
            owner,
            via,
            k
        }),
        (t.clone(), n.clone()).prop_map(|(t, email)| Op::CreateDevice { t, email }),
        (t.clone(), n.clone()).prop_map(|(t, email)| Op::ConsumeDevices { t, email }),
        (t.clone(), n.clone()).prop_map(|(t, email)| Op::AddEvToken { t, email }),
        (0usize..2, n.clone(), n.clone(), any::<bool>()).prop_map(|(app, user, email, yes)| {
            Op::SetVerified {
                app,
                user,
                email,
                yes,
            }
        }),
        (0usize..2).prop_map(|app| Op::AddSigningKey { app }),
        t.prop_map(|t| Op::DeleteTenant { t }),
    ]
}

#[derive(Clone, Debug)]
struct UserM {
    id: String,
    app: usize,
    recipe: u8,
    email: u8,
    tenants: BTreeSet<usize>,
}

/// What the contract says the storage holds.
#[derive(Default, Debug)]
struct Model {
    kv: BTreeMap<(usize, u8), String>,
    users: Vec<UserM>,
    /// Sessions per tenant: (handle, user id).
    sessions: BTreeMap<usize, Vec<String>>,
    /// Device id hashes per (tenant, email).
    devices: BTreeMap<(usize, u8), Vec<String>>,
    /// Email-verification tokens: (tenant, token).
    ev_tokens: Vec<(usize, String)>,
    verified: BTreeSet<(usize, u8, u8)>,
    keys: BTreeMap<usize, Vec<i64>>,
}

static CASE: AtomicU64 = AtomicU64::new(0);
static KEY_TIME: AtomicU64 = AtomicU64::new(1_000);

struct Case {
    apps: [AppId; 2],
    tenants: [TenantIdentifier; 4],
}

impl Case {
    fn new() -> Case {
        let n = CASE.fetch_add(1, Ordering::Relaxed);
        let salt = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let a = format!("iso{n}a{salt}");
        let b = format!("iso{n}b{salt}");
        let t = |app: &str, tid: &str| TenantIdentifier::new(app, tid).unwrap();
        Case {
            apps: [AppId::new(&a).unwrap(), AppId::new(&b).unwrap()],
            tenants: [t(&a, "t1"), t(&a, "t2"), t(&b, "t1"), t(&b, "t2")],
        }
    }
    fn app_of(t: usize) -> usize {
        t / 2
    }
}

fn email_of(e: u8) -> String {
    format!("user{e}@example.com")
}
fn sub_of(e: u8) -> String {
    format!("sub-{e}")
}
fn ext_user(u: u8) -> String {
    format!("ext-user-{u}")
}

/// Whether signing up `recipe`/`email` conflicts with a user already in tenant `t`.
fn conflicts(m: &Model, t: usize, recipe: u8, email: u8, except: Option<&str>) -> bool {
    m.users.iter().any(|u| {
        u.tenants.contains(&t)
            && u.recipe == recipe
            && u.email == email
            && Some(u.id.as_str()) != except
    })
}

fn dup_error(recipe: u8) -> &'static str {
    match recipe {
        0 | 1 => "DuplicateEmail",
        _ => "DuplicateThirdPartyUser",
    }
}

fn name(e: &StorageError) -> &'static str {
    storage_tests::reliability::common::variant(e)
}

/// Runs one operation on the storage and the model; panics if the storage's answer
/// differs from the model's.
async fn apply(st: &Arc<dyn Storage>, c: &Case, m: &mut Model, op: &Op) {
    match op.clone() {
        Op::KvSet { t, name: n, val } => {
            let v = format!("v{val}");
            st.kv_set(&c.tenants[t], &format!("k{n}"), &fx::kv(&v, 1))
                .await
                .unwrap();
            m.kv.insert((t, n), v);
        }
        Op::SignUp { t, email, recipe } => {
            let tt = &c.tenants[t];
            let r = match recipe {
                0 => {
                    st.sign_up_email_password(&fx::ep_input(tt, &email_of(email), 1))
                        .await
                }
                1 => {
                    st.create_passwordless_user(&fx::pl_input(tt, Some(&email_of(email)), None, 1))
                        .await
                }
                _ => {
                    st.sign_up_third_party(&fx::tp_input(
                        tt,
                        &email_of(email),
                        "google",
                        &sub_of(email),
                        1,
                    ))
                    .await
                }
            };
            if conflicts(m, t, recipe, email, None) {
                match r {
                    Err(e) if name(&e) == dup_error(recipe) => {}
                    other => panic!("{op:?}: expected {}, got {other:?}", dup_error(recipe)),
                }
            } else {
                let u = r.unwrap_or_else(|e| panic!("{op:?}: {e:?}"));
                m.users.push(UserM {
                    id: u.id,
                    app: Case::app_of(t),
                    recipe,
                    email,
                    tenants: [t].into(),
                });
            }
        }
        Op::AddToTenant { user, t } => {
            if m.users.is_empty() {
                return;
            }
            let u = m.users[user % m.users.len()].clone();
            let r = st.add_user_to_tenant(&c.tenants[t], &u.id).await;
            if u.app != Case::app_of(t) {
                match r {
                    Err(StorageError::UnknownUserId) => {}
                    other => panic!("{op:?}: a user of another app: {other:?}"),
                }
            } else if u.tenants.contains(&t) {
                assert!(!r.unwrap(), "{op:?}: already in the tenant");
            } else if conflicts(m, t, u.recipe, u.email, Some(&u.id)) {
                match r {
                    Err(e) if name(&e) == dup_error(u.recipe) => {}
                    other => panic!("{op:?}: expected {}, got {other:?}", dup_error(u.recipe)),
                }
            } else {
                assert!(r.unwrap(), "{op:?}: added");
                let i = m.users.iter().position(|x| x.id == u.id).unwrap();
                m.users[i].tenants.insert(t);
            }
        }
        Op::RemoveFromTenant { user, t } => {
            if m.users.is_empty() {
                return;
            }
            let i = user % m.users.len();
            let u = m.users[i].clone();
            let r = st.remove_user_from_tenant(&c.tenants[t], &u.id).await;
            let was = u.app == Case::app_of(t) && u.tenants.contains(&t);
            match r {
                Ok(b) => assert_eq!(b, was, "{op:?}"),
                // A user of another app is not in this tenant.
                Err(StorageError::UnknownUserId) if u.app != Case::app_of(t) => {}
                Err(e) => panic!("{op:?}: {e:?}"),
            }
            m.users[i].tenants.remove(&t);
        }
        Op::CreateSession { t } => {
            let s = fx::session(&c.tenants[t], "u");
            st.create_session(&s).await.unwrap();
            m.sessions.entry(t).or_default().push(s.handle);
        }
        Op::DeleteSession { owner, via, k } => {
            let Some(list) = m.sessions.get_mut(&owner).filter(|l| !l.is_empty()) else {
                return;
            };
            let h = list[k % list.len()].clone();
            let n = st
                .delete_sessions(&c.tenants[via], std::slice::from_ref(&h))
                .await
                .unwrap();
            assert_eq!(n, u64::from(owner == via), "{op:?}");
            if owner == via {
                list.retain(|x| *x != h);
            }
        }
        Op::CreateDevice { t, email } => {
            let d = fx::device(&c.tenants[t], Some(&email_of(email)), None, 1);
            st.create_device_with_code(&d).await.unwrap();
            m.devices
                .entry((t, email))
                .or_default()
                .push(d.device_id_hash);
        }
        Op::ConsumeDevices { t, email } => {
            let tt = c.tenants[t].clone();
            let n = run_transaction(&**st, &TxOptions::default(), move |tx| {
                let tt = tt.clone();
                Box::pin(async move {
                    let n = tx.delete_devices_by_email(&tt, &email_of(email)).await?;
                    Ok::<_, TxError<()>>(n)
                })
            })
            .await
            .unwrap();
            let had = m.devices.remove(&(t, email)).unwrap_or_default();
            assert_eq!(n, had.len() as u64, "{op:?}: devices deleted");
        }
        Op::AddEvToken { t, email } => {
            let tok = fx::ev_token(&c.tenants[t], "u", &email_of(email), NOW + HOUR);
            st.add_email_verification_token(&tok).await.unwrap();
            m.ev_tokens.push((t, tok.token));
        }
        Op::SetVerified {
            app,
            user,
            email,
            yes,
        } => {
            st.set_email_verified(&c.apps[app], &ext_user(user), &email_of(email), yes)
                .await
                .unwrap();
            if yes {
                m.verified.insert((app, user, email));
            } else {
                m.verified.remove(&(app, user, email));
            }
        }
        Op::AddSigningKey { app } => {
            let at = KEY_TIME.fetch_add(1, Ordering::Relaxed) as i64;
            let a = c.apps[app].clone();
            run_transaction(&**st, &TxOptions::default(), move |tx| {
                let a = a.clone();
                Box::pin(async move {
                    tx.add_signing_key(&a, &fx::signing_key(at)).await?;
                    Ok::<_, TxError<()>>(())
                })
            })
            .await
            .unwrap();
            m.keys.entry(app).or_default().push(at);
        }
        Op::DeleteTenant { t } => {
            assert!(st.delete_tenant(&c.tenants[t]).await.unwrap(), "{op:?}");
            st.add_tenant(&c.tenants[t], 1).await.unwrap();
            m.kv.retain(|(tt, _), _| *tt != t);
            m.sessions.remove(&t);
            m.devices.retain(|(tt, _), _| *tt != t);
            m.ev_tokens.retain(|(tt, _)| *tt != t);
            for u in &mut m.users {
                u.tenants.remove(&t);
            }
        }
    }
}

/// Reads everything observable through every tenant and app and compares it with the
/// model; returns how many reads it made.
async fn observe(st: &Arc<dyn Storage>, c: &Case, m: &Model, after: &str) -> usize {
    let mut reads = 0;
    for (t, tt) in c.tenants.iter().enumerate() {
        for n in 0..NAMES {
            reads += 1;
            let got = st
                .kv_get(tt, &format!("k{n}"))
                .await
                .unwrap()
                .map(|x| x.value);
            assert_eq!(
                got,
                m.kv.get(&(t, n)).cloned(),
                "kv k{n} in tenant {t} {after}"
            );
            reads += 2;
            let mut got = fx::ids(&st.list_users_by_email(tt, &email_of(n)).await.unwrap());
            got.sort();
            let mut want: Vec<String> = m
                .users
                .iter()
                .filter(|u| u.tenants.contains(&t) && u.email == n)
                .map(|u| u.id.clone())
                .collect();
            want.sort();
            assert_eq!(got, want, "users with email {n} in tenant {t} {after}");
            let devices = st.devices_by_email(tt, &email_of(n)).await.unwrap();
            let mut got: Vec<String> = devices.into_iter().map(|d| d.device_id_hash).collect();
            got.sort();
            let mut want = m.devices.get(&(t, n)).cloned().unwrap_or_default();
            want.sort();
            assert_eq!(got, want, "devices of email {n} in tenant {t} {after}");
        }
        reads += 2;
        let users = m.users.iter().filter(|u| u.tenants.contains(&t)).count() as u64;
        assert_eq!(
            st.count_users(&UserScope::Tenant(tt.clone()), &[])
                .await
                .unwrap(),
            users,
            "users counted in tenant {t} {after}"
        );
        let sessions = m.sessions.get(&t).map_or(0, Vec::len) as u64;
        assert_eq!(
            st.count_sessions(tt).await.unwrap(),
            sessions,
            "sessions counted in tenant {t} {after}"
        );
        for (owner, handles) in &m.sessions {
            for h in handles {
                reads += 1;
                let got = st.get_session(tt, h).await.unwrap().is_some();
                assert_eq!(
                    got,
                    *owner == t,
                    "session of tenant {owner} via tenant {t} {after}"
                );
            }
        }
        for (owner, tok) in &m.ev_tokens {
            reads += 1;
            let got = st
                .get_email_verification_token(tt, tok)
                .await
                .unwrap()
                .is_some();
            assert_eq!(
                got,
                *owner == t,
                "ev token of tenant {owner} via tenant {t} {after}"
            );
        }
        for u in &m.users {
            reads += 1;
            let got = st
                .user_exists(&UserScope::Tenant(tt.clone()), &u.id)
                .await
                .unwrap();
            assert_eq!(
                got,
                u.tenants.contains(&t),
                "user of app {} in tenant {t} {after}",
                u.app
            );
        }
    }
    for (a, app) in c.apps.iter().enumerate() {
        reads += 2;
        let users: Vec<&UserM> = m.users.iter().filter(|u| u.app == a).collect();
        assert_eq!(
            st.count_users(&UserScope::App(app.clone()), &[])
                .await
                .unwrap(),
            users.len() as u64,
            "users counted in app {a} {after}"
        );
        let mut keys: Vec<i64> = st
            .signing_keys(app)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.created_at)
            .collect();
        keys.sort();
        let mut want = m.keys.get(&a).cloned().unwrap_or_default();
        want.sort();
        assert_eq!(keys, want, "signing keys of app {a} {after}");
        for u in 0..NAMES {
            for e in 0..NAMES {
                reads += 1;
                let got = st
                    .is_email_verified(app, &ext_user(u), &email_of(e))
                    .await
                    .unwrap();
                assert_eq!(
                    got,
                    m.verified.contains(&(a, u, e)),
                    "verified ({u}, {e}) in app {a} {after}"
                );
            }
        }
        for n in 0..NAMES {
            reads += 1;
            let tp = ThirdPartyInfo {
                third_party_id: "google".into(),
                third_party_user_id: sub_of(n),
            };
            let mut got = fx::ids(&st.list_users_by_third_party(app, &tp).await.unwrap());
            got.sort();
            let mut want: Vec<String> = users
                .iter()
                .filter(|u| u.recipe == 2 && u.email == n)
                .map(|u| u.id.clone())
                .collect();
            want.sort();
            assert_eq!(got, want, "third-party users {n} of app {a} {after}");
        }
        for u in &m.users {
            reads += 1;
            let got = st.get_user(app, &u.id).await.unwrap();
            if u.app != a {
                assert!(
                    got.is_none(),
                    "user of app {} visible in app {a} {after}",
                    u.app
                );
                continue;
            }
            let got = got.unwrap_or_else(|| panic!("user missing from its app {after}"));
            let mut tenants: Vec<String> = got
                .tenant_ids
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect();
            tenants.sort();
            let want: Vec<String> = u
                .tenants
                .iter()
                .map(|t| c.tenants[*t].tenant.as_str().to_owned())
                .collect();
            assert_eq!(tenants, want, "tenants of a user of app {a} {after}");
        }
    }
    reads
}

async fn run_case(st: Arc<dyn Storage>, ops: Vec<Op>) -> (usize, usize) {
    let c = Case::new();
    for t in &c.tenants {
        st.add_tenant(t, 1).await.unwrap();
    }
    let mut m = Model::default();
    let mut reads = observe(&st, &c, &m, "at the start").await;
    for (i, op) in ops.iter().enumerate() {
        apply(&st, &c, &mut m, op).await;
        reads += observe(&st, &c, &m, &format!("after op {i}: {op:?}")).await;
    }
    for a in &c.apps {
        st.delete_app(a).await.unwrap();
    }
    (ops.len(), reads)
}

/// The property, on a fresh database of backend `B`.
pub fn isolation<B: TestBackend>() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(B::create(None));
    let ctx = Ctx {
        storage: db.storage.clone(),
        raw: db.raw.clone(),
        prefix: db.prefix.clone(),
        backend: B::NAME,
        nodes: vec![db.storage.clone()],
    };
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let totals = std::sync::Mutex::new((0usize, 0usize, 0usize));
    let result = runner.run(&proptest::collection::vec(op(), 1..=MAX_OPS), |ops| {
        let (n, r) = rt.block_on(run_case(ctx.storage.clone(), ops));
        let mut t = totals.lock().unwrap();
        t.0 += 1;
        t.1 += n;
        t.2 += r;
        Ok(())
    });
    rt.block_on(async {
        db.storage.close().await;
        if let Some(c) = db.cleanup {
            c.await;
        }
    });
    if let Err(e) = result {
        panic!("tenant isolation on {}: {e}", B::NAME);
    }
    let (cases, ops, reads) = *totals.lock().unwrap();
    figures(
        B::NAME,
        "isolation_property",
        &[
            ("cases", cases.to_string()),
            ("ops", ops.to_string()),
            ("reads_compared", reads.to_string()),
        ],
    );
}
