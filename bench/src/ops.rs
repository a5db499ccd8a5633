//! The measured operations, each written twice: through `Arc<dyn Storage>` ("ours")
//! and as the same statements on a bare driver connection ("floor").

use crate::model::*;
use crate::raw::{Fv, P, R, Raw};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use storage_api::*;

/// An operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// Get session by handle.
    GetSession,
    /// Rotate a refresh token (one conditional UPDATE).
    Rotate,
    /// Create a session.
    CreateSession,
    /// Email-password sign-up (one transaction of four inserts).
    SignUp,
    /// List users by email (get user by email).
    ListByEmail,
    /// Create a passwordless device with its first code (one transaction).
    CreateDevice,
    /// Consume a code: lock the device, find the code, delete the email's devices.
    Consume,
    /// Delete 10,000 expired sessions (in batches of 1,000).
    DeleteExpired,
    /// One page of 100 users, keyset-paginated.
    ListUsers,
    /// Phase 2 (linked groups, last-active): get user by id.
    P2GetUser,
    /// Phase 2: get user by email.
    P2ByEmail,
    /// Phase 2: a page of 100 users (groups).
    P2Page,
    /// Phase 2: a page of users by an email tag (a prefix matching 100 users).
    P2SearchEmail,
    /// Phase 2: a page of users by a phone tag.
    P2SearchPhone,
    /// Phase 2: a page of users by a provider tag.
    P2SearchProvider,
    /// Phase 2: users active in the last 7 days.
    P2ActiveSince,
    /// Phase 2: users active per day over 30 days.
    P2ActiveByDay,
    /// Phase 2: users active in the last 7 days with more than one login method or TOTP.
    P2ActiveMany,
    /// Phase 2: groups of the app with more than one login method.
    P2ManyMethods,
}

/// Number of operations (sizes the per-operation tables).
pub const N_OPS: usize = 19;

/// The phase-2 operations: read-only, run on the data with linked groups and 30 days
/// of activity; their floor replays, call for call, what the storage sent for the
/// same input (one of [`P2_INPUTS`]).
pub const P2_OPS: [Op; 10] = [
    Op::P2GetUser,
    Op::P2ByEmail,
    Op::P2Page,
    Op::P2SearchEmail,
    Op::P2SearchPhone,
    Op::P2SearchProvider,
    Op::P2ActiveSince,
    Op::P2ActiveByDay,
    Op::P2ActiveMany,
    Op::P2ManyMethods,
];

/// Distinct inputs of a phase-2 operation: call `n` uses input `n % P2_INPUTS`.
pub const P2_INPUTS: u64 = 64;

/// One day (ms).
pub const DAY: i64 = 86_400_000;

/// The operations of the main table, in order.
pub const MAIN_OPS: [Op; 8] = [
    Op::GetSession,
    Op::Rotate,
    Op::CreateSession,
    Op::SignUp,
    Op::ListByEmail,
    Op::CreateDevice,
    Op::Consume,
    Op::DeleteExpired,
];

/// Every operation.
pub const ALL_OPS: [Op; 9] = [
    Op::GetSession,
    Op::Rotate,
    Op::CreateSession,
    Op::SignUp,
    Op::ListByEmail,
    Op::CreateDevice,
    Op::Consume,
    Op::DeleteExpired,
    Op::ListUsers,
];

impl Op {
    /// Name in the results.
    pub fn name(self) -> &'static str {
        match self {
            Op::GetSession => "get_session",
            Op::Rotate => "rotate_refresh_token",
            Op::CreateSession => "create_session",
            Op::SignUp => "sign_up_email_password",
            Op::ListByEmail => "list_users_by_email",
            Op::CreateDevice => "create_device_with_code",
            Op::Consume => "consume_code",
            Op::DeleteExpired => "delete_10k_expired_sessions",
            Op::ListUsers => "list_users_page_100",
            Op::P2GetUser => "get_user",
            Op::P2ByEmail => "list_users_by_email",
            Op::P2Page => "list_users_page_100",
            Op::P2SearchEmail => "search_email_tag_page",
            Op::P2SearchPhone => "search_phone_tag_page",
            Op::P2SearchProvider => "search_provider_tag_page",
            Op::P2ActiveSince => "count_active_since_7d",
            Op::P2ActiveByDay => "count_active_by_day_30d",
            Op::P2ActiveMany => "count_active_many_methods_or_totp_7d",
            Op::P2ManyMethods => "count_users_many_methods",
        }
    }

    /// Whether it writes into the write app (cleaned after each cell).
    pub fn writes_wapp(self) -> bool {
        matches!(
            self,
            Op::CreateSession | Op::SignUp | Op::CreateDevice | Op::Consume
        )
    }

    /// Index into per-op tables.
    pub fn idx(self) -> usize {
        self as usize
    }
}

/// Rows deleted per statement by delete-expired.
pub const BATCH: i64 = 1000;
/// Sessions per delete-expired call.
pub const EXPIRED_PER_CALL: u64 = 10_000;
/// Users per page.
pub const PAGE: u32 = 100;

/// Per operation, per input, the statements (registry id, values) to replay.
pub type Replay = Vec<Vec<Vec<(usize, Vec<Fv>)>>>;

/// State shared by ours and the floor.
pub struct Shared {
    /// Users (and sessions) loaded.
    pub users: u64,
    /// Rotation generation of sessions `0..rot`.
    pub gens: Vec<AtomicU32>,
    /// The read tenant.
    pub t: TenantIdentifier,
    /// The write tenant.
    pub wt: TenantIdentifier,
    /// Statement ids per operation (index `Op::idx`).
    pub ids: Vec<Vec<usize>>,
    /// Phase-2 floors: per operation, per input, the statements (registry id and
    /// values) the storage sent.
    pub replay: Replay,
}

impl Shared {
    /// Sessions `0..rot` are the rotation set of ours and the floor; the rest belong
    /// to pgbench.
    pub fn rot(&self) -> u64 {
        self.gens.len() as u64
    }
}

/// One call of the runner: its global number, its task and that task's counter.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// Global sequence number (unique across the run for write operations).
    pub n: u64,
    /// Task index.
    pub task: usize,
    /// Tasks running.
    pub conc: usize,
    /// Calls made by this task so far.
    pub j: u64,
}

fn pick(n: u64, of: u64) -> u64 {
    mix(n) % of
}

/// The rotation target of a call: tasks partition the rotation set.
pub fn rot_target(sh: &Shared, c: Call) -> u64 {
    let per = (sh.rot() / c.conc as u64).max(1);
    c.task as u64 + c.conc as u64 * (c.j % per)
}

fn e<E: std::fmt::Display>(x: E) -> String {
    x.to_string()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("constant JSON")
}

/// The list-users request of call `n`.
pub fn list_request(sh: &Shared, n: u64) -> ListUsers {
    let j = pick(n, sh.users.saturating_sub(PAGE as u64 + 1).max(1));
    ListUsers {
        tenant: sh.t.clone(),
        limit: PAGE,
        order: TimeJoinedOrder::Asc,
        recipes: Vec::new(),
        search: Default::default(),
        after: Some(PageToken {
            time_joined: time_joined(j),
            user_id: user_id(j),
        }),
    }
}

// ---------------------------------------------------------------- ours

/// Runs `op` once through the storage.
pub async fn ours(st: &dyn Storage, op: Op, sh: &Shared, c: Call) -> R<()> {
    match op {
        Op::GetSession => {
            let i = pick(c.n, sh.users);
            st.get_session(&sh.t, &handle(i))
                .await
                .map_err(e)?
                .ok_or("session not found")?;
        }
        Op::Rotate => {
            let s = rot_target(sh, c);
            let g = sh.gens[s as usize].load(Ordering::Relaxed);
            ours_rotate(st, sh, s, g).await?;
            sh.gens[s as usize].store(g + 1, Ordering::Relaxed);
        }
        Op::CreateSession => {
            st.create_session(&NewSession {
                tenant: sh.wt.clone(),
                handle: (NEW_HANDLE0 + c.n as i64).to_string(),
                user_id: user_id(c.n % sh.users),
                refresh_token_hash: rt_hash(0),
                session_data: json(SESSION_DATA),
                expires_at: FAR,
                jwt_payload: json(JWT_PAYLOAD),
                created_at: NOW,
                use_static_key: false,
            })
            .await
            .map_err(e)?;
        }
        Op::SignUp => {
            st.sign_up_email_password(&EmailPasswordSignUp {
                tenant: sh.wt.clone(),
                user_id: new_user_id(c.n),
                email: (NEW_EMAIL0 + c.n as i64).to_string(),
                password_hash: Secret::new(PASSWORD_HASH),
                time_joined: T0 + c.n as i64,
            })
            .await
            .map_err(e)?;
        }
        Op::ListByEmail => {
            let i = pick(c.n, sh.users);
            let users = st.list_users_by_email(&sh.t, &email(i)).await.map_err(e)?;
            if users.len() != 1 {
                return Err(format!("expected one user, got {}", users.len()));
            }
        }
        Op::CreateDevice => {
            st.create_device_with_code(&NewDevice {
                tenant: sh.wt.clone(),
                device_id_hash: device_hash(c.n),
                email: Some(device_email(c.n)),
                phone_number: None,
                link_code_salt: SALT.to_owned(),
                code: Code {
                    code_id: code_id(c.n),
                    device_id_hash: device_hash(c.n),
                    link_code_hash: link_hash(c.n),
                    created_at: NOW,
                },
            })
            .await
            .map_err(e)?;
        }
        Op::Consume => ours_consume(st, sh, c.n).await?,
        Op::DeleteExpired => {
            st.delete_expired_sessions(NOW).await.map_err(e)?;
        }
        Op::ListUsers => {
            let page = st.list_users(&list_request(sh, c.n)).await.map_err(e)?;
            if page.users.len() != PAGE as usize {
                return Err(format!("expected a full page, got {}", page.users.len()));
            }
        }
        _ => ours_p2(st, op, sh, c.n % P2_INPUTS).await?,
    }
    Ok(())
}

/// The user of phase-2 input `k`: spread over the users, every fourth one the
/// primary user of a linked group (users `i` with `i % 10 == 0` are).
fn p2_user(sh: &Shared, k: u64) -> u64 {
    let i = pick(k + 7, sh.users);
    if k.is_multiple_of(4) { i - i % 10 } else { i }
}

/// The first user of the block of 100 searched by phase-2 input `k`.
fn p2_block(sh: &Shared, k: u64) -> u64 {
    (pick(k + 11, sh.users / 100)) * 100
}

/// The search request of phase-2 input `k`: one tag matching the users of a block of
/// 100 (their emails; the phones of its 5 passwordless and the providers of its 10
/// third-party login methods, see `db::Admin::load_links`).
pub fn p2_search(sh: &Shared, op: Op, k: u64) -> ListUsers {
    let b = p2_block(sh, k);
    let mut search = UserSearch::default();
    match op {
        Op::P2SearchEmail => search.emails.push(email(b)[..17].to_owned()),
        Op::P2SearchPhone => search
            .phones
            .push(phone(b)[..phone(b).len() - 2].to_owned()),
        _ => search.providers.push(provider(b)),
    }
    ListUsers {
        tenant: sh.t.clone(),
        limit: PAGE,
        order: TimeJoinedOrder::Asc,
        recipes: Vec::new(),
        search,
        after: None,
    }
}

/// Phase-2 operation `op` with input `k` through the storage.
async fn ours_p2(st: &dyn Storage, op: Op, sh: &Shared, k: u64) -> R<()> {
    let app = &sh.t.app;
    match op {
        Op::P2GetUser => {
            st.get_user(app, &user_id(p2_user(sh, k)))
                .await
                .map_err(e)?
                .ok_or("user not found")?;
        }
        Op::P2ByEmail => {
            let users = st
                .list_users_by_email(&sh.t, &email(p2_user(sh, k)))
                .await
                .map_err(e)?;
            if users.len() != 1 {
                return Err(format!("expected one user, got {}", users.len()));
            }
        }
        Op::P2Page => {
            let page = st.list_users(&list_request(sh, k)).await.map_err(e)?;
            if page.users.len() != PAGE as usize {
                return Err(format!("expected a full page, got {}", page.users.len()));
            }
        }
        Op::P2SearchEmail | Op::P2SearchPhone | Op::P2SearchProvider => {
            let page = st.list_users(&p2_search(sh, op, k)).await.map_err(e)?;
            let want = match op {
                Op::P2SearchEmail => 100,
                Op::P2SearchPhone => 5,
                _ => 10,
            };
            if page.users.len() != want {
                return Err(format!(
                    "{}: expected {want} groups, got {}",
                    op.name(),
                    page.users.len()
                ));
            }
        }
        Op::P2ActiveSince => {
            st.count_active_since(app, NOW - 7 * DAY).await.map_err(e)?;
        }
        Op::P2ActiveByDay => {
            st.count_active_by_day(app, NOW - 30 * DAY, NOW + 1)
                .await
                .map_err(e)?;
        }
        Op::P2ActiveMany => {
            st.count_active_with_many_login_methods(app, NOW - 7 * DAY, true)
                .await
                .map_err(e)?;
        }
        _ => {
            st.count_users_with_more_than_one_login_method(app)
                .await
                .map_err(e)?;
        }
    }
    Ok(())
}

/// Replays on a bare connection what the storage sent for phase-2 input `k`.
async fn floor_p2<C: Raw>(raw: &mut C, op: Op, sh: &Shared, k: u64) -> R<()> {
    let calls = &sh.replay[op.idx()];
    let stmts = calls
        .get((k % calls.len().max(1) as u64) as usize)
        .ok_or("no recorded call")?;
    for (id, values) in stmts {
        let p: Vec<P<'_>> = values
            .iter()
            .map(|v| match v {
                Fv::Str(s) => P::S(s),
                Fv::Int(n) => P::I(*n),
                Fv::Bool(b) => P::B(*b),
                Fv::Null => P::Null,
            })
            .collect();
        raw.fetch(*id, &p, "").await?;
    }
    Ok(())
}

/// Rotates session `s` from generation `g` to `g + 1`.
pub async fn ours_rotate(st: &dyn Storage, sh: &Shared, s: u64, g: u32) -> R<()> {
    let out = st
        .rotate_refresh_token(
            &sh.t,
            &RefreshRotation {
                handle: &handle(s),
                expected: &rt_hash(g),
                new_hash: &rt_hash(g + 1),
                new_expiry: FAR + i64::from(g) + 1,
                now: NOW,
            },
        )
        .await
        .map_err(e)?;
    if out != RotateOutcome::Rotated {
        return Err(format!(
            "rotation of session {s} at generation {g}: {out:?}"
        ));
    }
    Ok(())
}

/// The consume-code flow for device `n`, as the core runs it.
pub async fn ours_consume(st: &dyn Storage, sh: &Shared, n: u64) -> R<()> {
    let t = sh.wt.clone();
    let (dev, link) = (device_hash(n), link_hash(n));
    let r = run_transaction(st, &TxOptions::default(), move |tx| {
        let (t, dev, link) = (t.clone(), dev.clone(), link.clone());
        Box::pin(async move {
            let device = tx
                .device_for_update(&t, &dev)
                .await?
                .ok_or(TxError::Rollback("no device"))?;
            let code = tx.code_by_link_code_hash(&t, &link).await?;
            if code.is_none_or(|c| c.device_id_hash != device.device_id_hash) {
                return Err(TxError::Rollback("no code"));
            }
            let email = device
                .email
                .as_deref()
                .ok_or(TxError::Rollback("no email"))?;
            tx.delete_devices_by_email(&t, email).await?;
            Ok::<_, TxError<&'static str>>(())
        })
    })
    .await;
    r.map_err(|x| match x {
        TxError::Storage(s) => s.to_string(),
        TxError::Rollback(m) | TxError::Commit(m) => m.to_owned(),
    })
}

// ---------------------------------------------------------------- floor

const SESSION_COLS: &str = "SSSsIIsBsi";
const USER_COLS: &str = "SSSBIsssssss";
const DEVICE_COLS: &str = "SssSN";
const CODE_COLS: &str = "SSSI";

/// Runs `op` once on a bare connection, with the statements of `ids`.
pub async fn floor<C: Raw>(raw: &mut C, op: Op, sh: &Shared, c: Call) -> R<()> {
    let ids = &sh.ids[op.idx()];
    let (app, tenant) = (APP, "public");
    match op {
        Op::GetSession => {
            let h = handle(pick(c.n, sh.users));
            let rows = raw
                .fetch(ids[0], &[P::S(app), P::S(tenant), P::S(&h)], SESSION_COLS)
                .await?;
            if rows.is_empty() {
                return Err("session not found".into());
            }
        }
        Op::Rotate => {
            let s = rot_target(sh, c);
            let g = sh.gens[s as usize].load(Ordering::Relaxed);
            floor_rotate(raw, sh, s, g).await?;
            sh.gens[s as usize].store(g + 1, Ordering::Relaxed);
        }
        Op::CreateSession => {
            let h = (NEW_HANDLE0 + c.n as i64).to_string();
            let u = user_id(c.n % sh.users);
            let rt = rt_hash(0);
            raw.exec(
                ids[0],
                &[
                    P::S(WAPP),
                    P::S(tenant),
                    P::S(&h),
                    P::S(&u),
                    P::S(&rt),
                    P::S(SESSION_DATA),
                    P::I(FAR),
                    P::I(NOW),
                    P::S(JWT_PAYLOAD),
                    P::B(false),
                ],
            )
            .await?;
        }
        Op::SignUp => {
            let u = new_user_id(c.n);
            let em = (NEW_EMAIL0 + c.n as i64).to_string();
            let tj = T0 + c.n as i64;
            raw.begin().await?;
            let r = async {
                raw.exec(
                    ids[0],
                    &[
                        P::S(WAPP),
                        P::S(&u),
                        P::S("emailpassword"),
                        P::S(&u),
                        P::B(false),
                        P::I(tj),
                        P::I(tj),
                    ],
                )
                .await?;
                raw.exec(
                    ids[1],
                    &[
                        P::S(WAPP),
                        P::S(tenant),
                        P::S(&u),
                        P::S(&u),
                        P::B(false),
                        P::S("emailpassword"),
                        P::I(tj),
                        P::I(tj),
                    ],
                )
                .await?;
                raw.exec(
                    ids[2],
                    &[
                        P::S(WAPP),
                        P::S(&u),
                        P::S(&em),
                        P::S(PASSWORD_HASH),
                        P::I(tj),
                    ],
                )
                .await?;
                raw.exec(ids[3], &[P::S(WAPP), P::S(tenant), P::S(&u), P::S(&em)])
                    .await
            }
            .await;
            if let Err(x) = r {
                let _ = raw.rollback().await;
                return Err(x);
            }
            raw.commit().await?;
        }
        Op::ListByEmail => {
            let em = email(pick(c.n, sh.users));
            let mut uids: Vec<String> = Vec::new();
            for &id in &ids[..2] {
                let rows = raw
                    .fetch(id, &[P::S(app), P::S(tenant), P::S(&em)], "S")
                    .await?;
                uids.extend(rows.into_iter().filter_map(|mut r| match r.pop() {
                    Some(Fv::Str(s)) => Some(s),
                    _ => None,
                }));
            }
            let rows = raw
                .fetch(
                    ids[2],
                    &[P::S(app), P::S(&em), P::S(app), P::S(tenant)],
                    "S",
                )
                .await?;
            uids.extend(rows.into_iter().filter_map(|mut r| match r.pop() {
                Some(Fv::Str(s)) => Some(s),
                _ => None,
            }));
            if uids.len() != 1 {
                return Err(format!("expected one user, got {}", uids.len()));
            }
            let uid = uids[0].as_str();
            floor_load_users(raw, &ids[3..6], &[uid]).await?;
        }
        Op::CreateDevice => {
            let (dev, em, cid, link) = (
                device_hash(c.n),
                device_email(c.n),
                code_id(c.n),
                link_hash(c.n),
            );
            raw.begin().await?;
            let r = async {
                raw.exec(
                    ids[0],
                    &[
                        P::S(WAPP),
                        P::S(tenant),
                        P::S(&dev),
                        P::S(&em),
                        P::Null,
                        P::S(SALT),
                        P::N(0),
                    ],
                )
                .await?;
                raw.exec(
                    ids[1],
                    &[
                        P::S(WAPP),
                        P::S(tenant),
                        P::S(&cid),
                        P::S(&dev),
                        P::S(&link),
                        P::I(NOW),
                    ],
                )
                .await
            }
            .await;
            if let Err(x) = r {
                let _ = raw.rollback().await;
                return Err(x);
            }
            raw.commit().await?;
        }
        Op::Consume => floor_consume(raw, sh, c.n).await?,
        Op::DeleteExpired => {
            floor_delete_expired(raw, ids[0]).await?;
        }
        Op::ListUsers => {
            let req = list_request(sh, c.n);
            let after = req.after.as_ref().expect("after");
            let rows = raw
                .fetch(
                    ids[0],
                    &[
                        P::S(app),
                        P::S(tenant),
                        P::I(after.time_joined),
                        P::I(after.time_joined),
                        P::I(after.time_joined),
                        P::S(&after.user_id),
                        P::I(i64::from(PAGE) + 1),
                    ],
                    "SI",
                )
                .await?;
            let page: Vec<&str> = rows
                .iter()
                .take(PAGE as usize)
                .filter_map(|r| r[0].as_str())
                .collect();
            if page.len() != PAGE as usize {
                return Err(format!("expected a full page, got {}", page.len()));
            }
            floor_load_users(raw, &ids[1..4], &page).await?;
        }
        _ => floor_p2(raw, op, sh, c.n % P2_INPUTS).await?,
    }
    Ok(())
}

/// The three statements that load users by id: methods, tenants, verified emails.
async fn floor_load_users<C: Raw>(raw: &mut C, ids: &[usize], uids: &[&str]) -> R<()> {
    let mut p: Vec<P<'_>> = Vec::with_capacity(uids.len() + 2);
    p.extend([P::S(APP), P::S(APP)]);
    p.extend(uids.iter().map(|u| P::S(u)));
    let rows = raw.fetch(ids[0], &p, USER_COLS).await?;
    let methods: Vec<String> = rows
        .into_iter()
        .filter_map(|mut r| match r.swap_remove(0) {
            Fv::Str(s) => Some(s),
            _ => None,
        })
        .collect();
    p.clear();
    p.push(P::S(APP));
    p.extend(methods.iter().map(|u| P::S(u)));
    raw.fetch(ids[1], &p, "SS").await?;
    raw.fetch(ids[2], &p, "SS").await?;
    Ok(())
}

/// Rotates session `s` from generation `g` to `g + 1` on a bare connection.
pub async fn floor_rotate<C: Raw>(raw: &mut C, sh: &Shared, s: u64, g: u32) -> R<()> {
    let ids = &sh.ids[Op::Rotate.idx()];
    let (h, old, new) = (handle(s), rt_hash(g), rt_hash(g + 1));
    let n = raw
        .exec(
            ids[0],
            &[
                P::S(&new),
                P::S(&old),
                P::I(NOW),
                P::I(FAR + i64::from(g) + 1),
                P::S(APP),
                P::S("public"),
                P::S(&h),
                P::S(&old),
                P::I(NOW),
            ],
        )
        .await?;
    if n != 1 {
        return Err(format!(
            "rotation of session {s} at generation {g}: {n} rows"
        ));
    }
    Ok(())
}

/// The consume-code flow for device `n` on a bare connection.
pub async fn floor_consume<C: Raw>(raw: &mut C, sh: &Shared, n: u64) -> R<()> {
    let ids = &sh.ids[Op::Consume.idx()];
    let (dev, link) = (device_hash(n), link_hash(n));
    raw.begin().await?;
    let r = async {
        let rows = raw
            .fetch(
                ids[0],
                &[P::S(WAPP), P::S("public"), P::S(&dev)],
                DEVICE_COLS,
            )
            .await?;
        let email = match rows.first().map(|r| &r[1]) {
            Some(Fv::Str(s)) => s.clone(),
            _ => return Err("no device".to_owned()),
        };
        let codes = raw
            .fetch(
                ids[1],
                &[P::S(WAPP), P::S("public"), P::S(&link)],
                CODE_COLS,
            )
            .await?;
        if codes.is_empty() {
            return Err("no code".into());
        }
        raw.exec(ids[2], &[P::S(WAPP), P::S("public"), P::S(&email)])
            .await
    }
    .await;
    if let Err(x) = r {
        let _ = raw.rollback().await;
        return Err(x);
    }
    raw.commit().await
}

/// Deletes expired sessions in batches until a batch comes back short.
pub async fn floor_delete_expired<C: Raw>(raw: &mut C, id: usize) -> R<u64> {
    let mut total = 0;
    loop {
        let n = raw.exec(id, &[P::I(NOW), P::I(BATCH)]).await?;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Builds the shared state.
pub fn shared(users: u64, ids: Vec<Vec<usize>>, replay: Replay) -> Arc<Shared> {
    let rot = users / 2;
    Arc::new(Shared {
        users,
        gens: (0..rot).map(|_| AtomicU32::new(0)).collect(),
        t: TenantIdentifier::default_public(),
        wt: TenantIdentifier::public(AppId::new(WAPP).expect("app id")),
        ids,
        replay,
    })
}
