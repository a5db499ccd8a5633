//! Faults in the middle of multi-table writes. A load of sign-ups (three recipes),
//! devices with their first code, tenant-config overwrites, caller transactions over
//! three tables and single-statement writes runs from [`WORKERS`] tasks while:
//!
//! - on PostgreSQL and MariaDB/MySQL another task kills every server connection of
//!   the storage again and again (`pg_terminate_backend` every 100-250 ms,
//!   `KILL CONNECTION` every 15-60 ms), and a fifth of the operations are also
//!   cancelled after a random few milliseconds;
//! - on SQLite (no server) half of the operations are cancelled after a random
//!   0-3 ms (`tokio::time::timeout` drops the future wherever it is: waiting for the
//!   write lock, or inside a caller's transaction between two statements).
//!
//! Reads that PostgreSQL pipelines over shared connections (`get_session` and the
//! look-up by email, see `storage-postgres/src/share.rs`) run in the same load, each
//! of a session or user whose write was acknowledged earlier: a read that succeeds
//! must return exactly that session or user.
//!
//! The fault must have happened, or the test fails: on a server at least
//! [`MIN_KILLS`] connections killed (counted only when the server reports them
//! gone) and at least one call failed because of it; everywhere at least
//! [`MIN_CANCELLED`] calls dropped while in flight (a cancelled call is one whose
//! future was polled and had not finished), and every kind of operation, reads
//! included, succeeded at least [`MIN_OK_PER_KIND`] times.
//!
//! Afterwards plain SQL checks every operation: all of its rows exist or none does;
//! one that returned `Ok` has all of them (rows lost: 0); the only error a call may
//! return is `Unavailable`; the same storage (never reopened) serves every kind of
//! operation again.

use super::common::*;
use super::proof::{
    Ack, Known, Target, assert_kinds_succeeded, assert_no_wrong_reads, judge_session, judge_user,
};
use crate::conformance::fixtures::*;
use crate::harness::Ctx;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use storage_api::*;

/// Tasks writing at once.
pub const WORKERS: usize = 12;
/// How long the load runs.
pub const LOAD: Duration = Duration::from_secs(4);
/// Longest a single operation may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(60);
/// Fewest connections the killer must have killed (PostgreSQL, MariaDB/MySQL).
pub const MIN_KILLS: usize = 20;
/// Fewest calls that must have been cancelled while in flight.
pub const MIN_CANCELLED: usize = 20;
/// Fewest successes of every kind of operation of the load (on PostgreSQL the
/// tenant-config overwrite, five tables in one transaction, succeeds only 7 to 50
/// times in four seconds of kills on a busy two-core machine).
pub const MIN_OK_PER_KIND: usize = 5;
/// The kinds of operation of the load, reads included.
const KINDS: [&str; 10] = [
    "emailpassword",
    "thirdparty",
    "passwordless",
    "device_with_code",
    "config_overwrite",
    "session",
    "kv_set",
    "tx_three_tables",
    "get_session",
    "user_by_email",
];

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Res {
    Ok,
    Err(&'static str),
    /// An error other than `Unavailable`, with its text.
    Odd(String),
    /// A read that succeeded with the wrong answer.
    Wrong(String),
    Cancelled,
}

impl Res {
    /// Whether the operation may or may not have been applied.
    fn ambiguous(&self) -> bool {
        !matches!(self, Res::Ok)
    }
}

#[derive(Clone, Debug)]
enum Op {
    SignUp {
        recipe: &'static str,
        user_id: String,
    },
    /// `get_session` of a session acknowledged earlier.
    GetSession,
    /// `list_users_by_email` of a user acknowledged earlier.
    UserByEmail,
    Device {
        device_id_hash: String,
    },
    Config {
        worker: usize,
        version: u32,
    },
    Session {
        handle: String,
    },
    Kv {
        worker: usize,
        version: u32,
    },
    Triple {
        marker: String,
        key_created_at: i64,
    },
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::SignUp { recipe, .. } => recipe,
            Op::Device { .. } => "device_with_code",
            Op::Config { .. } => "config_overwrite",
            Op::Session { .. } => "session",
            Op::Kv { .. } => "kv_set",
            Op::Triple { .. } => "tx_three_tables",
            Op::GetSession => "get_session",
            Op::UserByEmail => "user_by_email",
        }
    }

    fn is_read(&self) -> bool {
        matches!(self, Op::GetSession | Op::UserByEmail)
    }
}

/// The tenant-config key a worker overwrites.
fn config_key(worker: usize) -> TenantConfigKey {
    TenantConfigKey::new(tenant("public", &format!("fault{worker}")))
}

/// Version `v` of a worker's tenant config: its shape (providers, clients, factors,
/// null or empty first factors) depends on `v`, so that the rows in every table tell
/// which version is stored.
fn config_version(worker: usize, v: u32) -> TenantConfig {
    let mut c = TenantConfig::new(config_key(worker));
    c.core_config = json!({ "v": v, "pad": "x".repeat(64) });
    c.first_factors = match v % 4 {
        0 => None,
        n => Some((0..n - 1).map(|i| format!("ff{v}-{i}")).collect()),
    };
    c.required_secondary_factors = (0..v % 3).map(|i| format!("sf{v}-{i}")).collect();
    c.providers = (0..1 + v % 3)
        .map(|p| ThirdPartyProvider {
            third_party_id: format!("tp{p}"),
            name: Some(format!("provider {v}")),
            token_endpoint_body_params: Some(json!({ "v": v })),
            clients: (0..1 + (v + p) % 2)
                .map(|c| ProviderClient {
                    client_type: format!("ct{c}"),
                    client_id: format!("id-{v}-{p}-{c}"),
                    client_secret: Some(Secret::new(format!("s{v}"))),
                    scope: Some(vec!["openid".into()]),
                    force_pkce: c == 0,
                    additional_config: None,
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    c
}

/// Rows version `v` has in (providers, clients, first factors, secondary factors).
fn config_rows(c: &TenantConfig) -> [i64; 4] {
    [
        c.providers.len() as i64,
        c.providers.iter().map(|p| p.clients.len() as i64).sum(),
        c.first_factors.as_ref().map_or(0, |f| f.len() as i64),
        c.required_secondary_factors.len() as i64,
    ]
}

static KEY_TIME: AtomicI64 = AtomicI64::new(10_000_000);

struct Load {
    storage: Arc<dyn Storage>,
    tenant: TenantIdentifier,
    known: Arc<Known>,
    cancel_share: u64,
    cancel_max_us: u64,
}

impl Load {
    /// Runs one operation of kind `k`, maybe cancelled after a random delay.
    async fn one(&self, rng: &mut Rng, worker: usize, seq: &mut u32) -> (Op, Res) {
        let k = rng.below(KINDS.len() as u64);
        let st = self.storage.clone();
        let t = self.tenant.clone();
        // What the operation returns: `Some` when a read returned the wrong answer.
        type Fut = BoxFuture<'static, Result<Option<String>>>;
        let (op, ack, fut): (Op, Option<Ack>, Fut) = match k {
            0 => {
                let i = ep_input(&t, &email(), 1);
                (
                    Op::SignUp {
                        recipe: "emailpassword",
                        user_id: i.user_id.clone(),
                    },
                    Some(Ack::User(i.email.clone(), i.user_id.clone())),
                    Box::pin(async move { st.sign_up_email_password(&i).await.map(|_| None) }),
                )
            }
            1 => {
                let i = tp_input(&t, &email(), "google", &token(), 1);
                (
                    Op::SignUp {
                        recipe: "thirdparty",
                        user_id: i.user_id.clone(),
                    },
                    Some(Ack::User(i.email.clone(), i.user_id.clone())),
                    Box::pin(async move { st.sign_up_third_party(&i).await.map(|_| None) }),
                )
            }
            2 => {
                let i = pl_input(&t, Some(&email()), Some(&phone()), 1);
                (
                    Op::SignUp {
                        recipe: "passwordless",
                        user_id: i.user_id.clone(),
                    },
                    i.email.clone().map(|e| Ack::User(e, i.user_id.clone())),
                    Box::pin(async move { st.create_passwordless_user(&i).await.map(|_| None) }),
                )
            }
            3 => {
                let d = device(&t, Some(&email()), None, 1);
                (
                    Op::Device {
                        device_id_hash: d.device_id_hash.clone(),
                    },
                    None,
                    Box::pin(async move { st.create_device_with_code(&d).await.map(|_| None) }),
                )
            }
            4 => {
                *seq += 1;
                let c = config_version(worker, *seq);
                (
                    Op::Config {
                        worker,
                        version: *seq,
                    },
                    None,
                    Box::pin(async move { st.overwrite_tenant_config(&c).await.map(|_| None) }),
                )
            }
            5 => {
                let s = session(&t, &uid());
                let s2 = s.clone();
                (
                    Op::Session {
                        handle: s.handle.clone(),
                    },
                    Some(Ack::Session(s2)),
                    Box::pin(async move { st.create_session(&s).await.map(|_| None) }),
                )
            }
            6 => {
                *seq += 1;
                let v = *seq;
                (
                    Op::Kv { worker, version: v },
                    None,
                    Box::pin(async move {
                        st.kv_set(&t, &format!("w{worker}"), &kv(&format!("{worker}-{v}"), 1))
                            .await
                            .map(|_| None)
                    }),
                )
            }
            7 => {
                let marker = token();
                let key_time = KEY_TIME.fetch_add(1, Ordering::Relaxed);
                let m = marker.clone();
                (
                    Op::Triple {
                        marker: marker.clone(),
                        key_created_at: key_time,
                    },
                    None,
                    Box::pin(async move {
                        let r = run_transaction(&*st, &TxOptions::default(), move |tx| {
                            let (t, m) = (t.clone(), m.clone());
                            Box::pin(async move {
                                tx.kv_set(&t, &m, &kv("triple", 1)).await?;
                                tokio::task::yield_now().await;
                                tx.add_signing_key(&t.app, &signing_key(key_time)).await?;
                                tokio::task::yield_now().await;
                                tx.set_email_verified(&t.app, &m, "triple@example.com", true)
                                    .await?;
                                tokio::task::yield_now().await;
                                Ok::<_, TxError<()>>(())
                            })
                        })
                        .await;
                        r.map(|_| None).map_err(|e| match e {
                            TxError::Storage(e) => e,
                            other => panic!("unexpected {other:?}"),
                        })
                    }),
                )
            }
            8 => {
                let want = self.known.session(rng);
                (
                    Op::GetSession,
                    None,
                    Box::pin(async move {
                        let got = st.get_session(&t, &want.handle).await?;
                        Ok(judge_session(&want, got))
                    }),
                )
            }
            _ => {
                let (email, id) = self.known.user(rng);
                (
                    Op::UserByEmail,
                    None,
                    Box::pin(async move {
                        let got = st.list_users_by_email(&t, &email).await?;
                        Ok(judge_user(&email, &id, got))
                    }),
                )
            }
        };
        // A panic inside the call (the driver's, say) is recorded against its kind
        // instead of taking the whole worker down.
        let fut: Fut = Box::pin(CatchPanic(fut));
        let cancel = rng.below(100) < self.cancel_share;
        let res = if cancel {
            let after = Duration::from_micros(rng.below(self.cancel_max_us + 1));
            match tokio::time::timeout(after, fut).await {
                Err(_) => Res::Cancelled,
                Ok(r) => to_res(r),
            }
        } else {
            match tokio::time::timeout(HANG, fut).await {
                Err(_) => panic!("a {} operation hung for {HANG:?}", op.kind()),
                Ok(r) => to_res(r),
            }
        };
        if res == Res::Ok
            && let Some(ack) = ack
        {
            self.known.note(ack);
        }
        (op, res)
    }
}

/// Runs a boxed call, turning a panic inside it into a `Some` "wrong answer" that
/// names the panic (see [`to_res`]).
struct CatchPanic(BoxFuture<'static, Result<Option<String>>>);

impl std::future::Future for CatchPanic {
    type Output = Result<Option<String>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(p) => p,
            Err(e) => {
                let msg = e
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| e.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                std::task::Poll::Ready(Ok(Some(format!("{PANICKED}{msg}"))))
            }
        }
    }
}

/// How [`CatchPanic`] marks a panic.
const PANICKED: &str = "the call panicked: ";

fn to_res(r: Result<Option<String>>) -> Res {
    match r {
        Ok(None) => Res::Ok,
        Ok(Some(p)) if p.starts_with(PANICKED) => Res::Odd(p),
        Ok(Some(wrong)) => Res::Wrong(wrong),
        Err(e @ StorageError::Unavailable { .. }) => Res::Err(variant(&e)),
        Err(e) => Res::Odd(format!("{e:?}")),
    }
}

/// The load with connection kills (or cancellations on SQLite), then the checks.
pub async fn rel_fault_kill_mid_write(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    for w in 0..WORKERS {
        ctx.storage
            .create_tenant_config(&config_version(w, 0))
            .await
            .unwrap();
    }
    let known = Arc::new(Known::default());
    known.seed(&ctx.storage, &t).await;
    let k = Arc::new(Target::open(&ctx, 8).await);
    let (cancel_share, cancel_max_us) = if k.has_server() {
        (20, 10_000)
    } else {
        (50, 3_000)
    };
    // Pause between kill rounds. A PostgreSQL connection costs a server process and
    // a login, so killing all of them every 15-60 ms leaves most calls failing
    // (about one in seven succeeded, and some kinds not five times in four seconds
    // on a busy machine); every 100-250 ms it still kills a hundred or more
    // connections in the middle of calls.
    let (pause_ms, pause_span_ms) = if ctx.backend == "postgresql" {
        (100, 150)
    } else {
        (15, 45)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let kill_rounds = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (k, stop, kills, rounds) =
            (k.clone(), stop.clone(), kills.clone(), kill_rounds.clone());
        tokio::spawn(async move {
            let mut rng = Rng::from_entropy();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(pause_ms + rng.below(pause_span_ms)))
                    .await;
                if k.has_server() {
                    kills.fetch_add(k.kill_all().await, Ordering::Relaxed);
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let deadline = Instant::now() + LOAD;
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let load = Load {
                storage: k.storage.clone(),
                tenant: t.clone(),
                known: known.clone(),
                cancel_share,
                cancel_max_us,
            };
            tokio::spawn(async move {
                let mut rng = Rng::from_entropy();
                let mut seq = 0u32;
                let mut out = Vec::new();
                while Instant::now() < deadline {
                    out.push(load.one(&mut rng, w, &mut seq).await);
                }
                out
            })
        })
        .collect();
    let mut records = Vec::new();
    for w in workers {
        records.extend(w.await.expect("a worker panicked"));
    }
    stop.store(true, Ordering::Relaxed);
    killer.await.unwrap();

    // Errors: a killed connection is `Unavailable`, nothing else; a read that
    // succeeded returned what was written.
    let errors = records
        .iter()
        .filter(|(_, r)| matches!(r, Res::Err(_)))
        .count();
    let bad: Vec<String> = records
        .iter()
        .filter_map(|(op, r)| match r {
            Res::Odd(e) => Some(format!("{}: {e}", op.kind())),
            _ => None,
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} errors other than Unavailable (or panics) under faults on {}:\n  {}",
        bad.len(),
        ctx.backend,
        bad.join("\n  ")
    );
    assert_no_wrong_reads(
        &format!("under faults on {}", ctx.backend),
        records.iter().filter_map(|(_, r)| match r {
            Res::Wrong(w) => Some(w),
            _ => None,
        }),
    );

    // The fault happened: connections killed and calls failed because of it (on a
    // server), calls cancelled in flight, and every kind still succeeded often.
    let kills = kills.load(Ordering::Relaxed);
    let kill_rounds = kill_rounds.load(Ordering::Relaxed);
    let cancelled = records.iter().filter(|(_, r)| *r == Res::Cancelled).count();
    let ok_of = |kind: &str| {
        records
            .iter()
            .filter(|(op, r)| op.kind() == kind && *r == Res::Ok)
            .count()
    };
    let count_reads = |pred: &dyn Fn(&Res) -> bool| {
        records
            .iter()
            .filter(|(op, r)| op.is_read() && pred(r))
            .count()
    };
    let reads_ok = count_reads(&|r| *r == Res::Ok);
    let reads_failed = count_reads(&|r| matches!(r, Res::Err(_)));
    let reads_cancelled = count_reads(&|r| *r == Res::Cancelled);
    if k.has_server() {
        assert!(
            kills >= MIN_KILLS,
            "the killer killed {kills} connections in {kill_rounds} rounds on {}, fewer than {MIN_KILLS}",
            ctx.backend
        );
        assert!(
            errors > 0,
            "no call failed on {} although {kills} connections were killed",
            ctx.backend
        );
    }
    assert!(
        cancelled >= MIN_CANCELLED,
        "{cancelled} calls cancelled in flight on {}, fewer than {MIN_CANCELLED}",
        ctx.backend
    );
    assert_kinds_succeeded(ctx.backend, &KINDS, ok_of, MIN_OK_PER_KIND);

    let (lost, cancelled_applied) = check_all_or_nothing(&ctx, &t, &records).await;
    assert_eq!(lost, 0, "operations that returned Ok lost rows");
    let orphan_checked = assert_no_orphans(&ctx).await;

    // Recovery without reopening: every kind of operation works again.
    let recovery = recover(&k.storage, &t, &known).await;

    let ok = records.iter().filter(|(_, r)| *r == Res::Ok).count();
    figures(
        ctx.backend,
        "fault_kill_mid_write",
        &[
            ("ops", records.len().to_string()),
            ("ok", ok.to_string()),
            ("unavailable", errors.to_string()),
            ("cancelled", cancelled.to_string()),
            ("cancelled_writes_applied", cancelled_applied.to_string()),
            ("kill_rounds", kill_rounds.to_string()),
            ("connections_killed", kills.to_string()),
            (
                "ok_by_kind",
                histogram(
                    records
                        .iter()
                        .filter(|(_, r)| *r == Res::Ok)
                        .map(|(op, _)| op.kind()),
                ),
            ),
            (
                "failed_by_kind",
                histogram(
                    records
                        .iter()
                        .filter(|(_, r)| matches!(r, Res::Err(_)))
                        .map(|(op, _)| op.kind()),
                ),
            ),
            ("reads_ok", reads_ok.to_string()),
            ("reads_failed", reads_failed.to_string()),
            ("reads_cancelled", reads_cancelled.to_string()),
            ("users_checked", orphan_checked.to_string()),
            ("recovery_attempts", recovery.to_string()),
            ("rows_lost", lost.to_string()),
        ],
    );
    k.close().await;
}

/// Runs one operation of every kind on `storage` until it succeeds; at most three
/// attempts each, of which only the first may fail (with `Unavailable`: a connection
/// killed just before). Returns the attempts made in all.
async fn recover(storage: &Arc<dyn Storage>, t: &TenantIdentifier, known: &Known) -> usize {
    let mut attempts = 0;
    let mut rng = Rng::from_entropy();
    for kind in 0..9 {
        let mut last = None;
        for attempt in 0..3 {
            attempts += 1;
            let st = storage.clone();
            let r = match kind {
                0 => st
                    .sign_up_email_password(&ep_input(t, &email(), 1))
                    .await
                    .map(drop),
                1 => st
                    .sign_up_third_party(&tp_input(t, &email(), "google", &token(), 1))
                    .await
                    .map(drop),
                2 => st
                    .create_passwordless_user(&pl_input(t, Some(&email()), None, 1))
                    .await
                    .map(drop),
                3 => {
                    st.create_device_with_code(&device(t, Some(&email()), None, 1))
                        .await
                }
                4 => st.overwrite_tenant_config(&config_version(0, 1_000)).await,
                5 => st.create_session(&session(t, &uid())).await,
                6 => {
                    let want = known.session(&mut rng);
                    st.get_session(t, &want.handle).await.map(|got| {
                        if let Some(w) = judge_session(&want, got) {
                            panic!("after the faults: {w}");
                        }
                    })
                }
                7 => {
                    let (email, id) = known.user(&mut rng);
                    st.list_users_by_email(t, &email).await.map(|got| {
                        if let Some(w) = judge_user(&email, &id, got) {
                            panic!("after the faults: {w}");
                        }
                    })
                }
                _ => st.kv_set(t, "recovered", &kv("yes", 1)).await,
            };
            match r {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(StorageError::Unavailable { .. }) if attempt == 0 => {}
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = last {
            panic!("operation {kind} did not recover after the faults: {e:?}");
        }
    }
    attempts
}

/// Checks every recorded operation in plain SQL; returns how many `Ok` operations
/// lost rows, and how many cancelled multi-row writes were applied all the same (panics
/// on any half-written operation).
async fn check_all_or_nothing(
    ctx: &Ctx,
    t: &TenantIdentifier,
    records: &[(Op, Res)],
) -> (usize, usize) {
    let app = t.app.as_str();
    let q = |table: &str, col: &str| {
        format!(
            "SELECT {col} FROM {} WHERE app_id = '{app}'",
            ctx.table(table)
        )
    };
    let a2u = column_set(ctx, &q("app_id_to_user_id", "user_id")).await;
    let aaru = column_set(ctx, &q("all_auth_recipe_users", "user_id")).await;
    let mut recipe_sets = Vec::new();
    for r in ["emailpassword", "thirdparty", "passwordless"] {
        recipe_sets.push((
            r,
            column_set(ctx, &q(&format!("{r}_users"), "user_id")).await,
            column_set(ctx, &q(&format!("{r}_user_to_tenant"), "user_id")).await,
        ));
    }
    let devices = column_set(ctx, &q("passwordless_devices", "device_id_hash")).await;
    let code_devices = column_set(ctx, &q("passwordless_codes", "device_id_hash")).await;
    let sessions = column_set(ctx, &q("session_info", "session_handle")).await;
    let kv_names = column_set(ctx, &q("key_value", "name")).await;
    let keys = column_set(
        ctx,
        &q("session_access_token_signing_keys", "created_at_time"),
    )
    .await;
    let verified = column_set(ctx, &q("emailverification_verified_emails", "user_id")).await;

    let mut lost = 0;
    let mut cancelled_applied = 0;
    let mut half = Vec::new();
    let mut judge = |what: String, present: Vec<bool>, res: &Res| {
        let all = present.iter().all(|p| *p);
        let none = present.iter().all(|p| !*p);
        if !all && !none {
            half.push(format!("{what}: rows present {present:?} ({res:?})"));
        }
        if *res == Res::Ok && !all {
            lost += 1;
        }
        if *res == Res::Cancelled && all {
            cancelled_applied += 1;
        }
    };
    for (op, res) in records {
        match op {
            Op::SignUp { recipe, user_id } => {
                let (_, users, u2t) = recipe_sets.iter().find(|(r, _, _)| r == recipe).unwrap();
                judge(
                    format!("{recipe} sign-up {user_id}"),
                    vec![
                        a2u.contains(user_id),
                        aaru.contains(user_id),
                        users.contains(user_id),
                        u2t.contains(user_id),
                    ],
                    res,
                );
            }
            Op::Device { device_id_hash } => judge(
                format!("device {device_id_hash}"),
                vec![
                    devices.contains(device_id_hash),
                    code_devices.contains(device_id_hash),
                ],
                res,
            ),
            Op::Session { handle } => judge(
                format!("session {handle}"),
                vec![sessions.contains(handle)],
                res,
            ),
            Op::Triple {
                marker,
                key_created_at,
            } => judge(
                format!("transaction {marker}"),
                vec![
                    kv_names.contains(marker),
                    keys.contains(&key_created_at.to_string()),
                    verified.contains(marker),
                ],
                res,
            ),
            Op::Config { .. } | Op::Kv { .. } | Op::GetSession | Op::UserByEmail => {}
        }
    }
    assert!(
        half.is_empty(),
        "{} operations half-written on {}:\n  {}",
        half.len(),
        ctx.backend,
        half.join("\n  ")
    );

    // Per worker, the stored config / key-value version must be the last one that
    // returned Ok, or a later one whose outcome was unknown; and every table of a
    // config must hold exactly that version's rows.
    for w in 0..WORKERS {
        let mine = |kv: bool| -> Vec<(u32, Res)> {
            records
                .iter()
                .filter_map(|(op, r)| match (op, kv) {
                    (Op::Config { worker, version }, false) if *worker == w => {
                        Some((*version, r.clone()))
                    }
                    (Op::Kv { worker, version }, true) if *worker == w => {
                        Some((*version, r.clone()))
                    }
                    _ => None,
                })
                .collect()
        };
        let check = |ops: Vec<(u32, Res)>, stored: u32, what: &str, lost: &mut usize| {
            let last_ok = ops
                .iter()
                .filter(|(_, r)| *r == Res::Ok)
                .map(|(v, _)| *v)
                .max()
                .unwrap_or(0);
            if stored < last_ok {
                *lost += 1;
            }
            let allowed = stored == last_ok
                || ops
                    .iter()
                    .any(|(v, r)| *v == stored && stored > last_ok && r.ambiguous());
            assert!(
                allowed,
                "{what} of worker {w}: stored version {stored}, last Ok {last_ok}: {ops:?}"
            );
        };
        let key = config_key(w);
        let cond = format!(
            "connection_uri_domain = '' AND app_id = '{}' AND tenant_id = '{}'",
            key.tenant.app, key.tenant.tenant
        );
        let row = select(ctx, "core_config", "tenant_configs", &cond).await;
        assert_eq!(row.len(), 1, "config of worker {w} vanished");
        let v = json_cell(&row[0][0])["v"].as_u64().expect("version") as u32;
        let expected = config_rows(&config_version(w, v));
        let mut got = [0i64; 4];
        for (i, table) in [
            "tenant_thirdparty_providers",
            "tenant_thirdparty_provider_clients",
            "tenant_first_factors",
            "tenant_required_secondary_factors",
        ]
        .iter()
        .enumerate()
        {
            got[i] = count(ctx, table, &cond).await;
        }
        assert_eq!(
            got, expected,
            "config of worker {w} at version {v} is half-written (providers, clients, first, secondary)"
        );
        let api = ctx
            .storage
            .get_tenant_config(&key)
            .await
            .unwrap()
            .expect("config");
        assert_eq!(
            normalise_config(api),
            normalise_config(config_version(w, v)),
            "config of worker {w} read back through the API"
        );
        check(mine(false), v, "config", &mut lost);
        let kv_stored = ctx
            .storage
            .kv_get(t, &format!("w{w}"))
            .await
            .unwrap()
            .map(|x| {
                x.value
                    .split_once('-')
                    .and_then(|(_, v)| v.parse().ok())
                    .expect("kv value")
            })
            .unwrap_or(0);
        check(mine(true), kv_stored, "key/value", &mut lost);
    }
    (lost, cancelled_applied)
}

/// A call cancelled at any point (here: after a random 0-2 ms, so that some are
/// dropped while `BEGIN` is in flight, some inside the transaction, some while
/// committing) must leave its pooled connection clean: the next call on the same
/// connection (a pool of one) works, and its single-statement write is committed,
/// visible at once through another connection. A connection handed back inside a
/// transaction would fail the next `BEGIN` or silently keep that write uncommitted.
///
/// The fault must have happened: at least [`MIN_CANCELLED`] calls dropped in flight,
/// or the rounds proved nothing. (How many finished before their timeout is printed,
/// not asserted: on PostgreSQL only a few in two hundred, sometimes none, beat the
/// 0-2 ms.)
pub async fn rel_fault_cancelled_calls_leave_clean_connections(ctx: Ctx) {
    let t = setup_public(&ctx).await;
    ctx.storage
        .create_tenant_config(&config_version(0, 0))
        .await
        .unwrap();
    let k = Target::open(&ctx, 1).await;
    let mut rng = Rng::from_entropy();
    let rounds = 200;
    let mut cancelled = 0;
    let mut completed = 0;
    let mut cancelled_kinds = Vec::new();
    for i in 0..rounds {
        let after = Duration::from_micros(rng.below(2_000));
        // In half the rounds another transaction holds the connection (or SQLite's
        // write lock) for a moment, so that the cancelled call may be waiting for it.
        let hold = (i % 2 == 1).then(|| Duration::from_micros(rng.below(1_500)));
        let holder = {
            let (st, t) = (k.storage.clone(), t.clone());
            tokio::spawn(async move {
                let Some(hold) = hold else { return Ok(()) };
                run_transaction(&*st, &TxOptions::default(), move |tx| {
                    let t = t.clone();
                    Box::pin(async move {
                        tx.kv_set(&t, "holder", &kv("h", 1)).await?;
                        tokio::time::sleep(hold).await;
                        Ok::<_, TxError<()>>(())
                    })
                })
                .await
            })
        };
        tokio::task::yield_now().await;
        let st = k.storage.clone();
        let t2 = t.clone();
        let op = async move {
            match (i / 2) % 3 {
                0 => st
                    .sign_up_email_password(&ep_input(&t2, &email(), 1))
                    .await
                    .map(drop),
                1 => {
                    st.overwrite_tenant_config(&config_version(0, i as u32 + 1))
                        .await
                }
                _ => run_transaction(&*st, &TxOptions::default(), move |tx| {
                    let t = t2.clone();
                    Box::pin(async move {
                        tx.kv_set(&t, "in-tx", &kv("x", 1)).await?;
                        tokio::task::yield_now().await;
                        Ok::<_, TxError<()>>(())
                    })
                })
                .await
                .map_err(|e| match e {
                    TxError::Storage(e) => e,
                    other => panic!("{other:?}"),
                }),
            }
        };
        match tokio::time::timeout(after, op).await {
            Err(_) => {
                cancelled += 1;
                cancelled_kinds.push(["sign_up", "config_overwrite", "tx_kv_set"][(i / 2) % 3]);
            }
            Ok(Ok(())) => completed += 1,
            Ok(Err(e)) => panic!("round {i}: an uncancelled call failed: {e:?}"),
        }
        holder
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("round {i}: the holding transaction failed: {e:?}"));
        let v = format!("v{i}");
        k.storage
            .kv_set(&t, "probe", &kv(&v, 1))
            .await
            .unwrap_or_else(|e| panic!("round {i}: the call after a cancelled one failed: {e:?}"));
        let seen = select(
            &ctx,
            "value",
            "key_value",
            &format!(
                "app_id = '{}' AND tenant_id = '{}' AND name = 'probe'",
                t.app, t.tenant
            ),
        )
        .await;
        assert_eq!(
            seen,
            vec![vec![Some(v)]],
            "round {i}: a write that returned Ok is not visible to another connection"
        );
    }
    assert_no_orphans(&ctx).await;
    assert!(
        cancelled >= MIN_CANCELLED,
        "{cancelled} of {rounds} calls cancelled in flight on {}, fewer than {MIN_CANCELLED}",
        ctx.backend
    );
    figures(
        ctx.backend,
        "fault_cancelled_calls",
        &[
            ("rounds", rounds.to_string()),
            ("cancelled", cancelled.to_string()),
            ("completed", completed.to_string()),
            (
                "cancelled_by_kind",
                histogram(cancelled_kinds.iter().copied()),
            ),
            ("rows_lost", "0".into()),
        ],
    );
    k.close().await;
}
