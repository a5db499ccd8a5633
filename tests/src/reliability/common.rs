//! Helpers shared by the reliability tests: the race runner, the orphan-row check in
//! plain SQL, a second storage on the test's database whose connections a test can
//! kill, and the figures each test prints for `RELIABILITY.md`.

pub use crate::conformance::fixtures::PART_B_TABLES;
use crate::conformance::fixtures::race_tx_options;
use crate::harness::Ctx;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use storage_api::*;

/// Concurrent tasks per round of every race.
pub const TASKS: usize = 64;
/// Rounds of every race, each with fresh data.
pub const ROUNDS: usize = 20;

/// The fewest tasks that must be inside their storage call at the same moment (of
/// [`TASKS`]) in a test's busiest round, on every backend.
pub const MIN_IN_FLIGHT: usize = 16;

/// The fewest tasks that must be inside their storage call at the same moment in
/// every round on a server backend: more than one, so no round ran its tasks one
/// after another. Not higher: how many tasks the runtime has started before the
/// first ones finish depends on the machine's load (8 of 64 seen in one MariaDB round
/// on the loaded 2-core machine, 60 to 64 usually). Not asserted on SQLite, whose
/// backend runs each call synchronously on the runtime's worker thread (its
/// in-process write lock is the only point where a call can wait), so a round whose
/// calls never wait for the lock does run its tasks one after another (1 seen).
pub const MIN_IN_FLIGHT_EVERY_ROUND: usize = 2;

/// The race runner: [`Racer::race`] releases a round's tasks together and records
/// how many were inside their storage call at once (the busiest round must reach
/// [`MIN_IN_FLIGHT`], every round on a server [`MIN_IN_FLIGHT_EVERY_ROUND`]) and the most pool connections in use at once, sampled every
/// millisecond from [`Storage::pool_health`] over every node (each pool must be the
/// suite's fixed [`crate::harness::POOL_SIZE`], never the environment's, and more
/// than one connection must have been in use at once). [`Racer::figures`] gives the
/// numbers for the test's `[reliability]` line.
pub struct Racer {
    backend: &'static str,
    nodes: Vec<Arc<dyn Storage>>,
    rounds: usize,
    /// The smallest per-round peak of tasks in flight.
    in_flight_min: usize,
    /// The largest per-round peak of tasks in flight.
    in_flight_max: usize,
    /// The most connections in use at once (summed over the nodes); `None` when no
    /// node reports its pool.
    conns_max: Option<usize>,
}

impl Racer {
    /// A runner for the races of one test on `ctx` (its tasks use [`Ctx::node`]).
    pub fn new(ctx: &Ctx) -> Self {
        for (i, node) in ctx.nodes.iter().enumerate() {
            if let Some(h) = node.pool_health() {
                assert_eq!(
                    h.max_size,
                    crate::harness::POOL_SIZE as usize,
                    "{} node {i}: the race's pool is not the suite's fixed size",
                    ctx.backend
                );
            }
        }
        Racer {
            backend: ctx.backend,
            nodes: ctx.nodes.clone(),
            rounds: 0,
            in_flight_min: usize::MAX,
            in_flight_max: 0,
            conns_max: None,
        }
    }

    /// Runs `f(0..n)` as `n` tasks released together by a barrier; returns their
    /// outputs in task order (a task's panic is raised again here).
    pub async fn race<T, F, Fut>(&mut self, n: usize, f: F) -> Vec<T>
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let barrier = Arc::new(tokio::sync::Barrier::new(n));
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (nodes, done) = (self.nodes.clone(), done.clone());
            tokio::spawn(async move {
                let mut most: Option<usize> = None;
                loop {
                    let in_use: Option<usize> = nodes
                        .iter()
                        .filter_map(|s| s.pool_health())
                        .map(|h| h.in_use)
                        .reduce(|a, b| a + b);
                    if let Some(u) = in_use {
                        most = Some(most.unwrap_or(0).max(u));
                    }
                    if done.load(Ordering::Acquire) {
                        return most;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        };
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let fut = f(i);
                let (b, now, peak) = (barrier.clone(), now.clone(), peak.clone());
                tokio::spawn(async move {
                    b.wait().await;
                    peak.fetch_max(now.fetch_add(1, Ordering::AcqRel) + 1, Ordering::AcqRel);
                    let out = fut.await;
                    now.fetch_sub(1, Ordering::AcqRel);
                    out
                })
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for (i, h) in handles.into_iter().enumerate() {
            match h.await {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("racing task {i} failed: {e}"),
            }
        }
        done.store(true, Ordering::Release);
        let conns = sampler.await.expect("pool sampler");
        let peak = peak.load(Ordering::Acquire);
        assert!(
            self.backend == "sqlite" || peak >= MIN_IN_FLIGHT_EVERY_ROUND.min(n),
            "round {}: at most {peak} of {n} tasks were in their storage call at once \
             (expected at least {MIN_IN_FLIGHT_EVERY_ROUND}): the round did not race",
            self.rounds
        );
        self.rounds += 1;
        self.in_flight_min = self.in_flight_min.min(peak);
        self.in_flight_max = self.in_flight_max.max(peak);
        if let Some(c) = conns {
            self.conns_max = Some(self.conns_max.unwrap_or(0).max(c));
        }
        out
    }

    /// `pairs` followed by [`Racer::figures`].
    pub fn with(&self, pairs: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut v = pairs.to_vec();
        v.extend(self.figures());
        v
    }

    /// Checks what holds over all the rounds (more than one connection in use at
    /// once, where the pools report it) and gives the figures: `in_flight` (the
    /// smallest and largest per-round peak of tasks inside their storage call at
    /// once), `conns_in_use_max` (`-` when no pool reports it) and `pool`.
    pub fn figures(&self) -> Vec<(&'static str, String)> {
        assert!(
            self.in_flight_max >= MIN_IN_FLIGHT,
            "at most {} tasks were in their storage call at once in any of {} rounds \
             (expected at least {MIN_IN_FLIGHT}): the test did not race",
            self.in_flight_max,
            self.rounds
        );
        if let Some(c) = self.conns_max {
            assert!(
                c >= 2,
                "at most {c} connection was in use at once over {} rounds: the races ran \
                 one after another",
                self.rounds
            );
        }
        vec![
            (
                "in_flight",
                format!("{}..{}", self.in_flight_min, self.in_flight_max),
            ),
            (
                "conns_in_use_max",
                self.conns_max.map_or("-".into(), |c| c.to_string()),
            ),
            ("pool", crate::harness::POOL_SIZE.to_string()),
        ]
    }
}

/// Transaction options of the races: many attempts with small jittered delays, so
/// that a `Retryable` conflict is always retried to an outcome.
pub fn tx_options() -> TxOptions {
    race_tx_options()
}

/// A short name of an error variant, for outcome histograms.
pub fn variant(e: &StorageError) -> &'static str {
    match e {
        StorageError::TenantOrAppNotFound(_) => "TenantOrAppNotFound",
        StorageError::DuplicateTenant => "DuplicateTenant",
        StorageError::DuplicateThirdPartyId => "DuplicateThirdPartyId",
        StorageError::DuplicateClientType => "DuplicateClientType",
        StorageError::DuplicateUserId => "DuplicateUserId",
        StorageError::DuplicateEmail => "DuplicateEmail",
        StorageError::DuplicatePhoneNumber => "DuplicatePhoneNumber",
        StorageError::DuplicateThirdPartyUser => "DuplicateThirdPartyUser",
        StorageError::UnknownUserId => "UnknownUserId",
        StorageError::DuplicateDeviceIdHash => "DuplicateDeviceIdHash",
        StorageError::DuplicateCodeId => "DuplicateCodeId",
        StorageError::DuplicateLinkCodeHash => "DuplicateLinkCodeHash",
        StorageError::UnknownDeviceIdHash => "UnknownDeviceIdHash",
        StorageError::DuplicatePasswordResetToken => "DuplicatePasswordResetToken",
        StorageError::DuplicateEmailVerificationToken => "DuplicateEmailVerificationToken",
        StorageError::InvalidInput { .. } => "InvalidInput",
        StorageError::Retryable { .. } => "Retryable",
        StorageError::Unavailable { .. } => "Unavailable",
        StorageError::Config(_) => "Config",
        StorageError::Query { .. } => "Query",
        _ => "other",
    }
}

/// Prints one line of figures, picked up for `RELIABILITY.md` when the tests run with
/// `--nocapture`: `[reliability] <backend> <test>: k=v ...`.
pub fn figures(ctx_backend: &str, test: &str, pairs: &[(&str, String)]) {
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("[reliability] {ctx_backend} {test}: {}", body.join(" "));
}

/// A histogram of outcome names, printed as `name:count,...`.
pub fn histogram<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut h: BTreeMap<&str, usize> = BTreeMap::new();
    for n in names {
        *h.entry(n).or_default() += 1;
    }
    h.iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------- orphans

/// Checks in plain SQL that the user tables agree with each other:
///
/// - every `all_auth_recipe_users` row has its `app_id_to_user_id` row, its recipe
///   row (`<recipe>_users`) and its per-tenant recipe row (`<recipe>_user_to_tenant`);
/// - every `app_id_to_user_id` row has its recipe row and at least one
///   `all_auth_recipe_users` row (the reliability tests never take a user out of its
///   last tenant);
/// - every recipe row has its `app_id_to_user_id` row, every per-tenant recipe row its
///   `all_auth_recipe_users` row;
/// - every passwordless code has its device, and every device at least one code (the
///   reliability tests never delete single codes);
/// - the non-auth recipes (contract-phase2 B): every row of user_metadata, user_roles,
///   totp_users and user_last_active belongs to a user of its app (a recipe user, or
///   an external id of `userid_mapping`), every assignment's role exists (there is no
///   foreign key from user_roles to roles), every TOTP user has a device, and no row of
///   any of the part-B tables outlives its app.
///
/// Returns how many rows were checked; panics listing every violated rule.
pub async fn assert_no_orphans(ctx: &Ctx) -> i64 {
    let t = |b: &str| ctx.table(b);
    let aaru = t("all_auth_recipe_users");
    let a2u = t("app_id_to_user_id");
    let mut rules: Vec<(String, String)> = vec![
        (
            "all_auth_recipe_users without app_id_to_user_id".into(),
            format!(
                "SELECT COUNT(*) FROM {aaru} a WHERE NOT EXISTS \
                 (SELECT 1 FROM {a2u} m WHERE m.app_id = a.app_id AND m.user_id = a.user_id)"
            ),
        ),
        (
            "app_id_to_user_id without all_auth_recipe_users".into(),
            format!(
                "SELECT COUNT(*) FROM {a2u} m WHERE NOT EXISTS \
                 (SELECT 1 FROM {aaru} a WHERE a.app_id = m.app_id AND a.user_id = m.user_id)"
            ),
        ),
    ];
    for recipe in ["emailpassword", "thirdparty", "passwordless"] {
        let users = t(&format!("{recipe}_users"));
        let u2t = t(&format!("{recipe}_user_to_tenant"));
        rules.push((
            format!("all_auth_recipe_users ({recipe}) without {recipe}_users"),
            format!(
                "SELECT COUNT(*) FROM {aaru} a WHERE a.recipe_id = '{recipe}' AND NOT EXISTS \
                 (SELECT 1 FROM {users} r WHERE r.app_id = a.app_id AND r.user_id = a.user_id)"
            ),
        ));
        rules.push((
            format!("all_auth_recipe_users ({recipe}) without {recipe}_user_to_tenant"),
            format!(
                "SELECT COUNT(*) FROM {aaru} a WHERE a.recipe_id = '{recipe}' AND NOT EXISTS \
                 (SELECT 1 FROM {u2t} r WHERE r.app_id = a.app_id AND r.tenant_id = a.tenant_id \
                 AND r.user_id = a.user_id)"
            ),
        ));
        rules.push((
            format!("app_id_to_user_id ({recipe}) without {recipe}_users"),
            format!(
                "SELECT COUNT(*) FROM {a2u} m WHERE m.recipe_id = '{recipe}' AND NOT EXISTS \
                 (SELECT 1 FROM {users} r WHERE r.app_id = m.app_id AND r.user_id = m.user_id)"
            ),
        ));
        rules.push((
            format!("{recipe}_users without app_id_to_user_id"),
            format!(
                "SELECT COUNT(*) FROM {users} r WHERE NOT EXISTS \
                 (SELECT 1 FROM {a2u} m WHERE m.app_id = r.app_id AND m.user_id = r.user_id \
                 AND m.recipe_id = '{recipe}')"
            ),
        ));
        rules.push((
            format!("{recipe}_user_to_tenant without all_auth_recipe_users"),
            format!(
                "SELECT COUNT(*) FROM {u2t} r WHERE NOT EXISTS \
                 (SELECT 1 FROM {aaru} a WHERE a.app_id = r.app_id AND a.tenant_id = r.tenant_id \
                 AND a.user_id = r.user_id AND a.recipe_id = '{recipe}')"
            ),
        ));
    }
    let devices = t("passwordless_devices");
    let codes = t("passwordless_codes");
    rules.push((
        "passwordless_codes without device".into(),
        format!(
            "SELECT COUNT(*) FROM {codes} c WHERE NOT EXISTS \
             (SELECT 1 FROM {devices} d WHERE d.app_id = c.app_id AND d.tenant_id = c.tenant_id \
             AND d.device_id_hash = c.device_id_hash)"
        ),
    ));
    rules.push((
        "passwordless_devices without any code".into(),
        format!(
            "SELECT COUNT(*) FROM {devices} d WHERE NOT EXISTS \
             (SELECT 1 FROM {codes} c WHERE d.app_id = c.app_id AND d.tenant_id = c.tenant_id \
             AND d.device_id_hash = c.device_id_hash)"
        ),
    ));
    let mapping = t("userid_mapping");
    for table in [
        "user_metadata",
        "user_roles",
        "totp_users",
        "user_last_active",
    ] {
        let tbl = t(table);
        rules.push((
            format!("{table} of a user that does not exist"),
            format!(
                "SELECT COUNT(*) FROM {tbl} r WHERE NOT EXISTS \
                 (SELECT 1 FROM {a2u} m WHERE m.app_id = r.app_id AND m.user_id = r.user_id) \
                 AND NOT EXISTS (SELECT 1 FROM {mapping} x WHERE x.app_id = r.app_id \
                 AND x.external_user_id = r.user_id)"
            ),
        ));
    }
    let (roles, user_roles) = (t("roles"), t("user_roles"));
    rules.push((
        "user_roles of a role that does not exist".into(),
        format!(
            "SELECT COUNT(*) FROM {user_roles} u WHERE NOT EXISTS \
             (SELECT 1 FROM {roles} r WHERE r.app_id = u.app_id AND r.role = u.role)"
        ),
    ));
    let (totp_users, totp_devices) = (t("totp_users"), t("totp_user_devices"));
    rules.push((
        "totp_users without a device".into(),
        format!(
            "SELECT COUNT(*) FROM {totp_users} u WHERE NOT EXISTS \
             (SELECT 1 FROM {totp_devices} d WHERE d.app_id = u.app_id AND d.user_id = u.user_id)"
        ),
    ));
    let apps = t("apps");
    for table in PART_B_TABLES {
        let tbl = t(table);
        rules.push((
            format!("{table} of an app that does not exist"),
            format!(
                "SELECT COUNT(*) FROM {tbl} r WHERE NOT EXISTS \
                 (SELECT 1 FROM {apps} a WHERE a.app_id = r.app_id)"
            ),
        ));
    }
    let mut broken = Vec::new();
    for (what, sql) in &rules {
        let n = ctx.raw.count(sql).await;
        if n != 0 {
            broken.push(format!("{what}: {n} rows"));
        }
    }
    assert!(
        broken.is_empty(),
        "orphan rows on {}:\n  {}",
        ctx.backend,
        broken.join("\n  ")
    );
    ctx.raw.count(&format!("SELECT COUNT(*) FROM {aaru}")).await
}

/// The number of rows of every table of the test's database (names without the
/// table prefix), counted in plain SQL in one statement: a test compares two of them
/// around a refused write to prove it wrote nothing.
pub async fn row_counts(ctx: &Ctx) -> BTreeMap<String, i64> {
    let catalog = match ctx.backend {
        "sqlite" => "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' ORDER BY name"
            .to_owned(),
        "postgresql" => "SELECT table_name FROM information_schema.tables \
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                         ORDER BY table_name"
            .to_owned(),
        _ => "SELECT table_name FROM information_schema.tables \
              WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name"
            .to_owned(),
    };
    let tables: Vec<String> = ctx
        .raw
        .query(&catalog)
        .await
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .filter(|t| t.starts_with(&ctx.prefix))
        .collect();
    assert!(!tables.is_empty(), "no tables found on {}", ctx.backend);
    let sql = tables
        .iter()
        .map(|t| format!("SELECT '{t}', COUNT(*) FROM {t}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    ctx.raw
        .query(&sql)
        .await
        .into_iter()
        .map(|r| {
            let name = r[0].clone().expect("table name");
            let n = r[1].as_deref().and_then(|n| n.parse().ok()).expect("count");
            (name[ctx.prefix.len()..].to_owned(), n)
        })
        .collect()
}

/// The tables whose row count differs between two [`row_counts`], with the change.
pub fn row_changes(
    before: &BTreeMap<String, i64>,
    after: &BTreeMap<String, i64>,
) -> BTreeMap<String, i64> {
    before
        .keys()
        .chain(after.keys())
        .filter_map(|t| {
            let d = after.get(t).copied().unwrap_or(0) - before.get(t).copied().unwrap_or(0);
            (d != 0).then(|| (t.clone(), d))
        })
        .collect()
}

/// The first column of every row of a query, as a set of strings.
pub async fn column_set(ctx: &Ctx, sql: &str) -> HashSet<String> {
    ctx.raw
        .query(sql)
        .await
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

// ---------------------------------------------------------------- servers

/// The server the MariaDB/MySQL tests run on (`MYSQL_TEST_URI`, default
/// `mysql://root@127.0.0.1:3306/test`).
pub fn mysql_uri() -> String {
    std::env::var("MYSQL_TEST_URI")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/test".into())
}

/// A small deterministic generator (splitmix64), seeded per test, so that a failing
/// run can be told apart from another by its seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// A generator seeded from the clock and a counter.
    pub fn from_entropy() -> Self {
        Rng(uuid::Uuid::new_v4().as_u64_pair().0)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
