//! One backend's whole run: fresh database, data set, capture of the SQL the storage
//! sends, floors, verification, the measured cells, memory, round trips and scale.

use crate::db::{Admin, DB, Kind, Targets};
use crate::model::*;
use crate::ops::{self, ALL_OPS, Call, MAIN_OPS, N_OPS, Op, P2_INPUTS, P2_OPS, Shared};
use crate::pgbench::{self, PgBench};
use crate::raw::{LiteRaw, MyRaw, PgRaw, R, Raw, Recorder, Sent, SpinLock};
use crate::rec::Rec;
use crate::rt;
use crate::run::{BoxFut, Sample, run};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use storage_api::{ConnectionUri, OpenOptions, Storage};
use storage_sql::{Driver, SqlStorage};

/// Settings of a run.
#[derive(Clone, Debug)]
pub struct Cfg {
    /// Length of one measured round of one side.
    pub round: Duration,
    /// Rounds per cell (ours and floor alternate).
    pub rounds: usize,
    /// Warm-up per side before a cell.
    pub warm: Duration,
    /// pgbench `-T` per round.
    pub pgbench_secs: u32,
    /// Users and sessions of the main data set.
    pub users: u64,
    /// Users and sessions of the large data set, if measured.
    pub big_users: Option<u64>,
    /// Where results go.
    pub out: PathBuf,
    /// The PostgreSQL server log.
    pub pg_log: PathBuf,
    /// Keep the bench databases afterwards.
    pub keep: bool,
    /// Only these operations in the main table (all when empty).
    pub only: Vec<String>,
}

/// Calls per side and operation of the memory phase.
pub const MEMORY_CALLS: u64 = 500;

/// Concurrencies measured.
pub const CONC: [usize; 2] = [1, 8];
/// Pool size of the storage and number of floor connections.
pub const POOL: u32 = 8;

const VCALL: Call = Call {
    n: 900_000_000_000,
    task: 0,
    conc: 1,
    j: 0,
};

fn e<E: std::fmt::Display>(x: E) -> String {
    x.to_string()
}

// ---------------------------------------------------------------- runners

/// Which side of a cell runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The storage under test.
    Ours,
    /// PostgreSQL: the storage opened with `pipeline_depth=1` (no read sharing: each
    /// read has a connection to itself, as the floor and pgbench do).
    Unshared,
    /// The same SQL through the bare driver.
    Floor,
}

/// What one cell measured: every side, over all its rounds.
#[derive(Default)]
pub struct CellOut {
    /// The storage.
    pub ours: Sample,
    /// The storage with `pipeline_depth=1`, when measured.
    pub unshared: Option<Sample>,
    /// The bare driver.
    pub floor: Sample,
    /// pgbench, when measured.
    pub pgbench: Option<Sample>,
}

/// PostgreSQL read operations measured with the unshared storage too.
fn has_unshared(kind: Kind, op: Op) -> bool {
    kind == Kind::Postgres && matches!(op, Op::GetSession | Op::ListByEmail)
}

/// The operations of the memory phase: each runs a fixed number of calls at c=1.
const MEMORY_OPS: [Op; 6] = [
    Op::GetSession,
    Op::ListByEmail,
    Op::Rotate,
    Op::CreateSession,
    Op::SignUp,
    Op::CreateDevice,
];

struct OursState {
    st: Arc<dyn Storage>,
    sh: Arc<Shared>,
    op: Op,
}

fn ours_call(s: &mut OursState, c: Call) -> BoxFut<'_> {
    Box::pin(ops::ours(&*s.st, s.op, &s.sh, c))
}

struct FloorState<C> {
    raw: C,
    sh: Arc<Shared>,
    op: Op,
}

fn floor_call<C: Raw>(s: &mut FloorState<C>, c: Call) -> BoxFut<'_> {
    Box::pin(ops::floor(&mut s.raw, s.op, &s.sh, c))
}

async fn floor_run<C: Raw>(
    conns: &mut Vec<C>,
    conc: usize,
    op: Op,
    sh: &Arc<Shared>,
    dur: Duration,
    start: u64,
    limit: u64,
) -> Sample {
    let states: Vec<FloorState<C>> = conns
        .drain(..conc)
        .map(|raw| FloorState {
            raw,
            sh: sh.clone(),
            op,
        })
        .collect();
    let (s, states) = run(states, floor_call::<C>, dur, start, limit).await;
    conns.extend(states.into_iter().map(|s| s.raw));
    s
}

/// The sequential calls of a round-trip count: `k` calls on data prepared from `n`,
/// numbered from `j0`.
#[derive(Clone, Copy)]
struct RtCalls {
    n: u64,
    k: u64,
    j0: u64,
}

/// Where the numbering of the round-trip phase's calls starts.
const RT_J0: u64 = 2_000_000;

async fn floor_record<C: Raw>(
    conns: &mut Vec<C>,
    reg: &Arc<Vec<String>>,
    op: Op,
    sh: &Shared,
    call: Call,
) -> R<Vec<Sent>> {
    let raw = conns.pop().ok_or("no floor connection")?;
    let mut rec = Recorder {
        inner: raw,
        sql: reg.clone(),
        sent: Vec::new(),
    };
    let r = ops::floor(&mut rec, op, sh, call).await;
    conns.push(rec.inner);
    r.map(|()| rec.sent)
}

/// The floor connections of a backend.
pub enum Floors {
    /// tokio-postgres clients.
    Pg(Vec<PgRaw>),
    /// sqlx connections.
    My(Vec<MyRaw>),
    /// rusqlite connections.
    Lite(Vec<LiteRaw>),
}

impl Floors {
    async fn connect(kind: Kind, t: &Targets, reg: &Arc<Vec<String>>, n: usize) -> R<Floors> {
        Ok(match kind {
            Kind::Postgres => {
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(PgRaw::connect(&t.pg_config(), reg).await?);
                }
                Floors::Pg(v)
            }
            Kind::Mysql => {
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(MyRaw::connect(&t.uri(Kind::Mysql), reg.clone()).await?);
                }
                Floors::My(v)
            }
            Kind::Sqlite => {
                let lock = Arc::new(SpinLock::default());
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(LiteRaw::open(&t.sqlite, reg.clone(), lock.clone())?);
                }
                Floors::Lite(v)
            }
        })
    }

    async fn run(
        &mut self,
        conc: usize,
        op: Op,
        sh: &Arc<Shared>,
        dur: Duration,
        start: u64,
        limit: u64,
    ) -> Sample {
        match self {
            Floors::Pg(v) => floor_run(v, conc, op, sh, dur, start, limit).await,
            Floors::My(v) => floor_run(v, conc, op, sh, dur, start, limit).await,
            Floors::Lite(v) => floor_run(v, conc, op, sh, dur, start, limit).await,
        }
    }

    async fn record(
        &mut self,
        reg: &Arc<Vec<String>>,
        op: Op,
        sh: &Shared,
        call: Call,
    ) -> R<Vec<Sent>> {
        match self {
            Floors::Pg(v) => floor_record(v, reg, op, sh, call).await,
            Floors::My(v) => floor_record(v, reg, op, sh, call).await,
            Floors::Lite(v) => floor_record(v, reg, op, sh, call).await,
        }
    }

    async fn close(self) {
        if let Floors::My(v) = self {
            for c in v {
                c.close().await;
            }
        }
    }
}

// ---------------------------------------------------------------- capture

type Log = Arc<std::sync::Mutex<Vec<Sent>>>;

fn wrap<D: Driver>(d: D) -> (Arc<dyn Storage>, Log) {
    let (r, log) = Rec::new(d);
    (Arc::new(SqlStorage::new(r)), log)
}

async fn open_recording(kind: Kind, uri: &str) -> R<(Arc<dyn Storage>, Log)> {
    let u = ConnectionUri::parse(uri).map_err(e)?;
    let o = OpenOptions {
        pool_size: Some(1),
        ..Default::default()
    };
    Ok(match kind {
        Kind::Postgres => wrap(
            storage_postgres::PostgresDriver::connect(&u, &o)
                .await
                .map_err(e)?,
        ),
        Kind::Mysql => wrap(storage_mysql::MySqlDriver::connect(u, o).await.map_err(e)?),
        Kind::Sqlite => wrap(storage_sqlite::SqliteDriver::open(&u, &o).map_err(e)?),
    })
}

/// Statements per operation on the capture path (delete-expired: distinct ones).
fn expected_statements(op: Op) -> usize {
    match op {
        Op::GetSession | Op::Rotate | Op::CreateSession | Op::DeleteExpired => 1,
        Op::SignUp | Op::ListUsers => 4,
        Op::ListByEmail => 6,
        Op::CreateDevice => 2,
        Op::Consume => 3,
        // Phase 2: recorded per input, not checked here.
        _ => 0,
    }
}

/// What the storage sent for each operation, and the statement registry.
pub struct Capture {
    /// Every distinct statement.
    pub reg: Arc<Vec<String>>,
    /// Statement ids of each operation (index `Op::idx`).
    pub ids: Vec<Vec<usize>>,
    /// What the storage sent for each operation.
    pub sent: Vec<Vec<Sent>>,
}

// ---------------------------------------------------------------- the run

/// One backend's run.
pub struct Bench {
    kind: Kind,
    cfg: Cfg,
    t: Targets,
    admin: Admin,
    st: Arc<dyn Storage>,
    /// PostgreSQL: the storage opened with `pipeline_depth=1`.
    unshared: Option<Arc<dyn Storage>>,
    sh: Arc<Shared>,
    floors: Option<Floors>,
    cap: Capture,
    uniq: u64,
    consume_rate: f64,
    scripts: Vec<Option<PathBuf>>,
    /// Everything measured, as JSON sections.
    pub out: Value,
}

fn users_label(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// The URI of the unshared storage: the storage's, with `pipeline_depth=1`.
fn unshared_uri(uri: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}pipeline_depth=1")
}

impl Bench {
    /// Prepares a backend: fresh database, migrations, data set, capture, floors,
    /// verification.
    pub async fn setup(kind: Kind, cfg: Cfg, t: Targets) -> R<Bench> {
        let started = std::time::Instant::now();
        eprintln!("[{}] fresh database", kind.name());
        let admin = Admin::fresh(kind, &t).await?;
        let uri = t.uri(kind);
        let st = storage_api::open(
            &uri,
            OpenOptions {
                pool_size: Some(POOL),
                min_idle: Some(POOL),
                ..Default::default()
            },
        )
        .await
        .map_err(e)?;
        storage_api::migrate_up(&*st).await.map_err(e)?;
        let unshared = if kind == Kind::Postgres {
            Some(
                storage_api::open(
                    &unshared_uri(&uri),
                    OpenOptions {
                        pool_size: Some(POOL),
                        min_idle: Some(POOL),
                        ..Default::default()
                    },
                )
                .await
                .map_err(e)?,
            )
        } else {
            None
        };
        let public = storage_api::TenantIdentifier::default_public();
        st.add_tenant(&public, 0).await.map_err(e)?;
        admin.wipe_wapp(&*st).await?;
        let server_settings = if kind == Kind::Mysql {
            Self::grow_buffer_pool(&admin).await?
        } else {
            Value::Null
        };
        eprintln!("[{}] loading {} users and sessions", kind.name(), cfg.users);
        admin.load_users(0, cfg.users).await?;
        admin.analyze().await?;
        let load_secs = started.elapsed().as_secs_f64();

        let mut b = Bench {
            kind,
            cfg,
            t,
            admin,
            st,
            unshared,
            sh: ops::shared(0, Vec::new(), Vec::new()),
            floors: None,
            cap: Capture {
                reg: Arc::new(Vec::new()),
                ids: Vec::new(),
                sent: Vec::new(),
            },
            uniq: 1,
            consume_rate: 2000.0,
            scripts: vec![None; N_OPS],
            out: json!({
                "backend": kind.name(),
                "results": [], "scale": [], "plans": [], "round_trips": [],
                "memory": [], "verification": [], "sql": {},
                "load_seconds": { "users_10k": load_secs },
                "server_settings": server_settings,
            }),
        };
        b.capture().await?;
        b.floors = Some(Floors::connect(kind, &b.t, &b.cap.reg, POOL as usize).await?);
        b.verify().await?;
        if kind == Kind::Postgres {
            b.write_scripts()?;
        }
        Ok(b)
    }

    /// MariaDB's buffer pool defaults to 128 MiB with `O_DIRECT`: a million users and
    /// sessions (about 1.5 GB with their indexes) would be read from disk on every
    /// miss. Grows it to 2 GiB for the run (restored by [`Bench::finish`]).
    async fn grow_buffer_pool(admin: &Admin) -> R<Value> {
        const WANT: u64 = 2 << 30;
        let before: u64 = admin
            .rows("SELECT @@GLOBAL.innodb_buffer_pool_size")
            .await?
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if before >= WANT {
            return Ok(json!({ "innodb_buffer_pool_size": before }));
        }
        admin
            .exec(&format!("SET GLOBAL innodb_buffer_pool_size = {WANT}"))
            .await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        Ok(json!({ "innodb_buffer_pool_size": WANT, "restored_to": before }))
    }

    fn uniq(&mut self, k: u64) -> u64 {
        let s = self.uniq;
        self.uniq += k;
        s
    }

    fn push(&mut self, section: &str, v: Value) {
        self.out[section].as_array_mut().expect("section").push(v);
    }

    async fn before(&self, op: Op) -> R<()> {
        match op {
            Op::Consume => self.admin.load_devices(VCALL.n, VCALL.n + 1).await,
            Op::DeleteExpired => self.admin.load_expired(VCALL.n, VCALL.n + 1500).await,
            _ => Ok(()),
        }
    }

    async fn after(&self, op: Op) -> R<()> {
        match op {
            Op::Rotate => {
                self.admin.set_hashes(0, 1, &rt_hash(0)).await?;
                self.sh.gens[0].store(0, Ordering::Relaxed);
                Ok(())
            }
            Op::CreateSession | Op::SignUp | Op::CreateDevice | Op::Consume | Op::DeleteExpired => {
                self.admin.wipe_wapp(&*self.st).await
            }
            _ => Ok(()),
        }
    }

    /// Runs each operation once through a recording storage.
    async fn capture(&mut self) -> R<()> {
        let (rst, log) = open_recording(self.kind, &self.t.uri(self.kind)).await?;
        // A provisional shared state (statement ids unknown yet) for ours().
        self.sh = ops::shared(self.cfg.users, vec![Vec::new(); N_OPS], Vec::new());
        let mut reg: Vec<String> = Vec::new();
        let mut ids = vec![Vec::new(); N_OPS];
        let mut sent = vec![Vec::new(); N_OPS];
        for op in ALL_OPS {
            self.before(op).await?;
            log.lock().unwrap().clear();
            ops::ours(&*rst, op, &self.sh, VCALL)
                .await
                .map_err(|x| format!("capture of {}: {x}", op.name()))?;
            let got = std::mem::take(&mut *log.lock().unwrap());
            self.after(op).await?;
            for s in &got {
                if let Sent::Stmt(sql, _) = s {
                    register(&mut reg, &mut ids[op.idx()], sql);
                }
            }
            if ids[op.idx()].len() != expected_statements(op) {
                return Err(format!(
                    "{} sent {} distinct statements, expected {}: {got:?}",
                    op.name(),
                    ids[op.idx()].len(),
                    expected_statements(op)
                ));
            }
            sent[op.idx()] = got;
        }
        rst.close().await;
        let mut sql = serde_json::Map::new();
        for op in ALL_OPS {
            sql.insert(
                op.name().into(),
                Value::Array(
                    ids[op.idx()]
                        .iter()
                        .map(|&i| Value::String(reg[i].clone()))
                        .collect(),
                ),
            );
        }
        self.out["sql"] = Value::Object(sql);
        self.cap = Capture {
            reg: Arc::new(reg),
            ids: ids.clone(),
            sent,
        };
        self.sh = ops::shared(self.cfg.users, ids, Vec::new());
        Ok(())
    }

    /// Runs each floor once, recording, and compares with what the storage sent.
    async fn verify(&mut self) -> R<()> {
        for op in ALL_OPS {
            self.before(op).await?;
            let sh = self.sh.clone();
            let reg = self.cap.reg.clone();
            let got = self
                .floors
                .as_mut()
                .expect("floors")
                .record(&reg, op, &sh, VCALL)
                .await
                .map_err(|x| format!("floor of {}: {x}", op.name()))?;
            self.after(op).await?;
            let want = &self.cap.sent[op.idx()];
            let same = &got == want;
            if !same {
                eprintln!(
                    "[{}] floor of {} differs from the storage:\n  storage: {want:?}\n  floor:   {got:?}",
                    self.kind.name(),
                    op.name()
                );
            }
            let n = want.iter().filter(|s| matches!(s, Sent::Stmt(..))).count();
            self.push(
                "verification",
                json!({ "operation": op.name(), "same_statements_and_values": same, "statements": n }),
            );
            if !same {
                return Err(format!(
                    "the floor of {} does not send what the storage sends",
                    op.name()
                ));
            }
        }
        Ok(())
    }

    fn write_scripts(&mut self) -> R<()> {
        let dir = self.cfg.out.join("pgbench");
        std::fs::create_dir_all(&dir).map_err(e)?;
        for op in ALL_OPS {
            if let Some(s) = pgbench::script(op, &self.cap.sent[op.idx()])? {
                let p = dir.join(format!("{}.sql", op.name()));
                std::fs::write(&p, s).map_err(e)?;
                self.scripts[op.idx()] = Some(p);
            }
        }
        Ok(())
    }

    async fn count_expired(&self) -> R<u64> {
        let r = self
            .admin
            .rows(&format!(
                "SELECT COUNT(*) FROM session_info WHERE expires_at < {NOW}"
            ))
            .await?;
        r.first()
            .and_then(|r| r.first())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| "no count".into())
    }

    /// One measured run of one side, for `dur` (or, with `calls`, for that many calls
    /// of the operations that are not consume or delete-expired).
    async fn side(
        &mut self,
        op: Op,
        conc: usize,
        dur: Duration,
        side: Side,
        calls: Option<u64>,
    ) -> R<Sample> {
        // For profiling one side alone: STORAGE_BENCH_SIDE=ours|floor.
        if let Ok(only) = std::env::var("STORAGE_BENCH_SIDE")
            && (only == "ours") != (side == Side::Ours)
        {
            return Ok(Sample::default());
        }
        let (start, limit, loaded, dur) = match op {
            Op::Consume => {
                let m = ((self.consume_rate * dur.as_secs_f64() * 1.5) as u64).max(500);
                let s = self.uniq(m);
                self.admin.load_devices(s, s + m).await?;
                self.admin
                    .analyze_tables(&["passwordless_devices", "passwordless_codes"])
                    .await?;
                (s, m, 0, dur)
            }
            Op::DeleteExpired => {
                let m = conc as u64 * ops::EXPIRED_PER_CALL;
                let s = self.uniq(m);
                self.admin.load_expired(s, s + m).await?;
                self.admin.analyze_tables(&["session_info"]).await?;
                (
                    self.uniq(conc as u64),
                    conc as u64,
                    m,
                    Duration::from_secs(900),
                )
            }
            _ => (
                self.uniq(10_000_000),
                calls.unwrap_or(u64::MAX),
                0,
                if calls.is_some() {
                    Duration::from_secs(3600)
                } else {
                    dur
                },
            ),
        };
        let sh = self.sh.clone();
        let storage = match side {
            Side::Ours => Some(self.st.clone()),
            Side::Unshared => Some(self.unshared.clone().ok_or("no unshared storage")?),
            Side::Floor => None,
        };
        let mut s = if let Some(st) = storage {
            let states = (0..conc)
                .map(|_| OursState {
                    st: st.clone(),
                    sh: sh.clone(),
                    op,
                })
                .collect();
            run(states, ours_call, dur, start, limit).await.0
        } else {
            self.floors
                .as_mut()
                .expect("floors")
                .run(conc, op, &sh, dur, start, limit)
                .await
        };
        match op {
            Op::Consume => self.consume_rate = self.consume_rate.max(s.rate()),
            Op::DeleteExpired => {
                let left = self.count_expired().await?;
                s.units = loaded.saturating_sub(left);
                if left > 0 {
                    self.admin
                        .exec(&format!(
                            "DELETE FROM session_info WHERE expires_at < {NOW}"
                        ))
                        .await?;
                }
            }
            _ => {}
        }
        Ok(s)
    }

    /// A pgbench run, its write keys numbered from a range of its own.
    fn pgbench(&mut self) -> PgBench {
        PgBench {
            host: self.t.pg_host.clone(),
            db: DB.into(),
            users: self.sh.users,
            rot: self.sh.rot(),
            scratch: std::env::temp_dir().join(format!("storage-bench-pgb-{}", std::process::id())),
            base: self.uniq(10_000_000),
        }
    }

    /// Resets the rotation's sessions before a rotation cell.
    async fn prepare(&mut self, op: Op) -> R<()> {
        if op == Op::Rotate {
            let rot = self.sh.rot();
            self.admin.set_hashes(0, rot, &rt_hash(0)).await?;
            for g in &self.sh.gens {
                g.store(0, Ordering::Relaxed);
            }
            if self.kind == Kind::Postgres {
                self.admin
                    .set_hashes(rot, self.sh.users, PGBENCH_RT)
                    .await?;
            }
        }
        Ok(())
    }

    /// Ours, the floor (with, on PostgreSQL, the unshared storage for reads, and
    /// pgbench), alternating, for one operation and concurrency.
    async fn cell(&mut self, op: Op, conc: usize, rounds: usize) -> R<CellOut> {
        self.prepare(op).await?;
        let mut sides = vec![Side::Ours];
        if has_unshared(self.kind, op) {
            sides.push(Side::Unshared);
        }
        sides.push(Side::Floor);
        if op != Op::DeleteExpired {
            let w = self.cfg.warm;
            for &side in &sides {
                self.side(op, conc, w, side, None).await?;
            }
        }
        let mut out = CellOut::default();
        let script = self.scripts[op.idx()].clone();
        for r in 0..rounds {
            let d = self.cfg.round;
            // Every other round in the reverse order.
            let order: Vec<Side> = if r % 2 == 0 {
                sides.clone()
            } else {
                sides.iter().rev().copied().collect()
            };
            for side in order {
                let s = self.side(op, conc, d, side, None).await?;
                match side {
                    Side::Ours => out.ours.merge(s),
                    Side::Unshared => out.unshared.get_or_insert_with(Sample::default).merge(s),
                    Side::Floor => out.floor.merge(s),
                }
            }
            if let Some(script) = &script {
                let pb = self.pgbench();
                let (script, secs) = (script.clone(), self.cfg.pgbench_secs);
                let s = tokio::task::spawn_blocking(move || pb.run(&script, conc, secs))
                    .await
                    .map_err(e)??;
                out.pgbench.get_or_insert_with(Sample::default).merge(s);
            }
        }
        if op.writes_wapp() || op == Op::DeleteExpired {
            self.admin.wipe_wapp(&*self.st).await?;
        }
        Ok(out)
    }

    fn rate(op: Op, s: &Sample) -> f64 {
        if op == Op::DeleteExpired {
            if s.secs > 0.0 {
                s.units as f64 / ops::EXPIRED_PER_CALL as f64 / s.secs
            } else {
                0.0
            }
        } else {
            s.rate()
        }
    }

    /// The main table: every operation at every concurrency.
    pub async fn main_cells(&mut self) -> R<()> {
        for op in MAIN_OPS {
            if !self.cfg.only.is_empty() && !self.cfg.only.iter().any(|o| o == op.name()) {
                continue;
            }
            for conc in CONC {
                let rounds = self.cfg.rounds;
                let CellOut {
                    ours: mut o,
                    unshared,
                    floor: mut f,
                    pgbench: p,
                } = self.cell(op, conc, rounds).await?;
                let (or, fr) = (Self::rate(op, &o), Self::rate(op, &f));
                let div = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
                // Rates and ratios unrounded: targets are judged on them.
                let mut rec = json!({
                    "backend": self.kind.name(),
                    "operation": op.name(),
                    "concurrency": conc,
                    "ours_ops": or,
                    "floor_ops": fr,
                    "ratio": div(or, fr),
                    "p50_us": o.quantile(0.5),
                    "p99_us": o.quantile(0.99),
                    "floor_p50_us": f.quantile(0.5),
                    "floor_p99_us": f.quantile(0.99),
                    "ours_calls": o.ops,
                    "floor_calls": f.ops,
                    "errors": o.errors,
                    "floor_errors": f.errors,
                });
                let mut first = o.first_error.clone().or(f.first_error.clone());
                let ur = unshared.as_ref().map(|u| Self::rate(op, u));
                if let (Some(mut u), Some(ur)) = (unshared, ur) {
                    rec["unshared_ops"] = json!(ur);
                    rec["ratio_unshared"] = json!(div(ur, fr));
                    rec["unshared_p50_us"] = json!(u.quantile(0.5));
                    rec["unshared_p99_us"] = json!(u.quantile(0.99));
                    rec["unshared_calls"] = json!(u.ops);
                    rec["unshared_errors"] = json!(u.errors);
                    first = first.or(u.first_error);
                }
                if let Some(mut p) = p {
                    let pr = p.rate();
                    rec["pgbench_ops"] = json!(pr);
                    rec["pgbench_p50_us"] = json!(p.quantile(0.5));
                    rec["pgbench_p99_us"] = json!(p.quantile(0.99));
                    rec["ratio_vs_pgbench"] = json!(div(or, pr));
                    rec["floor_vs_pgbench"] = json!(div(fr, pr));
                    if let Some(ur) = ur {
                        rec["ratio_unshared_vs_pgbench"] = json!(div(ur, pr));
                    }
                    rec["pgbench_errors"] = json!(p.errors);
                    first = first.or(p.first_error);
                }
                if let Some(x) = first {
                    rec["first_error"] = json!(x);
                }
                eprintln!(
                    "[{}] {:<28} c={conc}: ours {:>9.1}/s floor {:>9.1}/s ratio {:.4}{}{}",
                    self.kind.name(),
                    op.name(),
                    or,
                    fr,
                    div(or, fr),
                    ur.map(|u| format!(" unshared {u:.1}/s"))
                        .unwrap_or_default(),
                    rec.get("pgbench_ops")
                        .map(|v| format!(
                            " pgbench {:.1}/s ours/pgbench {:.4}",
                            v.as_f64().unwrap_or(0.0),
                            rec["ratio_vs_pgbench"].as_f64().unwrap_or(0.0)
                        ))
                        .unwrap_or_default()
                );
                self.push("results", rec);
            }
        }
        Ok(())
    }

    /// Allocations and bytes allocated per call by ours and by the floor, counted by
    /// the bench's global allocator (`alloc.rs`) over [`MEMORY_CALLS`] calls at c=1 of
    /// each operation (after as many uncounted ones). Everything the process allocates
    /// meanwhile counts: the driver's connection tasks and the runtime's too, alike
    /// for both sides (SQLite's own allocations go through its allocator, not Rust's,
    /// on both sides).
    pub async fn memory(&mut self) -> R<()> {
        let n = MEMORY_CALLS;
        let sides = [Side::Ours, Side::Floor];
        for op in MEMORY_OPS {
            self.prepare(op).await?;
            let mut row = json!({
                "backend": self.kind.name(), "operation": op.name(), "concurrency": 1,
                "calls": n,
            });
            for side in sides {
                let name = if side == Side::Ours { "ours" } else { "floor" };
                self.side(op, 1, Duration::ZERO, side, Some(n)).await?;
                crate::alloc::start();
                let s = self.side(op, 1, Duration::ZERO, side, Some(n)).await;
                let c = crate::alloc::stop();
                let s = s?;
                row[format!("{name}_allocs_per_call")] = json!(c.allocs as f64 / n as f64);
                row[format!("{name}_bytes_per_call")] = json!(c.bytes as f64 / n as f64);
                row[format!("{name}_calls")] = json!(s.ops);
                row[format!("{name}_errors")] = json!(s.errors);
            }
            eprintln!(
                "[{}] {:<28} per call: ours {} allocations {} bytes, floor {} allocations {} bytes",
                self.kind.name(),
                op.name(),
                row["ours_allocs_per_call"],
                row["ours_bytes_per_call"],
                row["floor_allocs_per_call"],
                row["floor_bytes_per_call"]
            );
            self.push("memory", row);
            if op.writes_wapp() {
                self.admin.wipe_wapp(&*self.st).await?;
            }
        }
        Ok(())
    }

    /// Statements and round trips per operation.
    pub async fn round_trips(&mut self) -> R<()> {
        match self.kind {
            Kind::Sqlite => {
                for op in ALL_OPS {
                    let sent = &self.cap.sent[op.idx()];
                    let mut n = sent.len() as f64;
                    if op == Op::DeleteExpired {
                        // Captured on 1,500 rows: 2 batches; 10,000 rows take 11.
                        n = (ops::EXPIRED_PER_CALL as f64 / ops::BATCH as f64) + 1.0;
                    }
                    let rec = json!({
                        "backend": self.kind.name(), "operation": op.name(),
                        "ours_statements": n, "floor_statements": n,
                        "ours_round_trips": Value::Null, "floor_round_trips": Value::Null,
                        "counted": "statements counted by the recording driver (in process: no round trips)",
                    });
                    self.push("round_trips", rec);
                }
                Ok(())
            }
            Kind::Postgres => self.round_trips_pg().await,
            Kind::Mysql => self.round_trips_my().await,
        }
    }

    async fn rt_prepare(&mut self, op: Op, k: u64) -> R<u64> {
        match op {
            Op::Consume => {
                let s = self.uniq(k);
                self.admin.load_devices(s, s + k).await?;
                Ok(s)
            }
            Op::DeleteExpired => {
                // Warm-up calls delete 10 rows each; measured calls 10,000.
                let m = if k == 1 { ops::EXPIRED_PER_CALL } else { 10 };
                let s = self.uniq(m);
                self.admin.load_expired(s, s + m).await?;
                Ok(self.uniq(1))
            }
            Op::Rotate => Ok(0),
            _ => Ok(self.uniq(k)),
        }
    }

    /// Two calls of `op` (ours or the floor's), uncounted, to warm the statement
    /// caches before round trips are counted.
    async fn rt_warm<C: Raw>(
        &mut self,
        st: &dyn Storage,
        raw: &mut C,
        op: Op,
        ours: bool,
    ) -> R<()> {
        let n = self.rt_prepare(op, 2).await?;
        self.rt_run(
            st,
            raw,
            op,
            ours,
            RtCalls {
                n,
                k: 2,
                j0: 1_000_000,
            },
        )
        .await
    }

    /// `calls.k` sequential calls of `op` (ours or the floor's) on data prepared from
    /// `calls.n`; `calls.j0` numbers the calls apart from every other phase's.
    async fn rt_run<C: Raw>(
        &self,
        st: &dyn Storage,
        raw: &mut C,
        op: Op,
        ours: bool,
        calls: RtCalls,
    ) -> R<()> {
        let RtCalls { n, k, j0 } = calls;
        for j in 0..k {
            let c = Call {
                n: n + j,
                task: 0,
                conc: 1,
                j: j0 + j,
            };
            if ours {
                ops::ours(st, op, &self.sh, c).await?;
            } else {
                ops::floor(raw, op, &self.sh, c).await?;
            }
        }
        Ok(())
    }

    fn rt_calls(op: Op) -> u64 {
        if op == Op::DeleteExpired { 1 } else { 5 }
    }

    async fn round_trips_pg(&mut self) -> R<()> {
        let proxy = rt::Proxy::start(self.t.pg_tcp.clone()).await.map_err(e)?;
        let Some(mut log) = rt::PgLog::open(&self.cfg.pg_log) else {
            return Err(format!(
                "cannot read the server log {}",
                self.cfg.pg_log.display()
            ));
        };
        let uri = format!(
            "postgres://postgres@127.0.0.1:{}/{DB}?options=-c%20log_statement%3Dall",
            proxy.port
        );
        let st = storage_api::open(
            &uri,
            OpenOptions {
                pool_size: Some(1),
                min_idle: Some(1),
                ..Default::default()
            },
        )
        .await
        .map_err(e)?;
        let mut cfg = storage_postgres::tokio_postgres::Config::new();
        cfg.host("127.0.0.1")
            .port(proxy.port)
            .user("postgres")
            .dbname(DB)
            .options("-c log_statement=all");
        let mut raw = PgRaw::connect(&cfg, &self.cap.reg).await?;
        for op in ALL_OPS {
            let k = Self::rt_calls(op);
            let mut row = json!({ "backend": self.kind.name(), "operation": op.name(),
                "counted": "statements: server log (log_statement = all); round trips: turns seen by a TCP proxy" });
            for ours in [true, false] {
                // Warm the statement caches.
                self.rt_warm(&*st, &mut raw, op, ours).await?;
                let s = self.rt_prepare(op, k).await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
                log.mark();
                let t0 = proxy.turns();
                self.rt_run(&*st, &mut raw, op, ours, RtCalls { n: s, k, j0: RT_J0 })
                    .await?;
                let turns = proxy.turns() - t0;
                tokio::time::sleep(Duration::from_millis(400)).await;
                let stmts = log.statements_since(DB);
                let side = if ours { "ours" } else { "floor" };
                row[format!("{side}_statements")] = json!(stmts.len() as f64 / k as f64);
                row[format!("{side}_round_trips")] = json!(turns as f64 / k as f64);
            }
            eprintln!(
                "[{}] {:<28} statements ours {} floor {}, round trips ours {} floor {}",
                self.kind.name(),
                op.name(),
                row["ours_statements"],
                row["floor_statements"],
                row["ours_round_trips"],
                row["floor_round_trips"]
            );
            self.push("round_trips", row);
        }
        st.close().await;
        self.admin.wipe_wapp(&*self.st).await?;
        Ok(())
    }

    async fn round_trips_my(&mut self) -> R<()> {
        let proxy = rt::Proxy::start(self.t.my_tcp.clone()).await.map_err(e)?;
        let uri = format!(
            "mysql://root@127.0.0.1:{}/{DB}?ssl-mode=DISABLED",
            proxy.port
        );
        let drv = storage_mysql::MySqlDriver::connect(
            ConnectionUri::parse(&uri).map_err(e)?,
            OpenOptions {
                pool_size: Some(1),
                min_idle: Some(1),
                ..Default::default()
            },
        )
        .await
        .map_err(e)?;
        let s = Arc::new(SqlStorage::new(drv));
        let st: Arc<dyn Storage> = s.clone();
        let mut raw = MyRaw::connect(&uri, self.cap.reg.clone()).await?;
        // What reading the counters itself adds.
        let a = rt::my_status_storage(s.driver()).await?;
        let b = rt::my_status_storage(s.driver()).await?;
        let base: Vec<i64> = a.iter().zip(&b).map(|(x, y)| y - x).collect();
        for op in ALL_OPS {
            let k = Self::rt_calls(op);
            let mut row = json!({ "backend": self.kind.name(), "operation": op.name(),
                "counted": "statements: the session's Questions counter; round trips: turns seen by a TCP proxy" });
            for ours in [true, false] {
                self.rt_warm(&*st, &mut raw, op, ours).await?;
                let n = self.rt_prepare(op, k).await?;
                let before = if ours {
                    rt::my_status_storage(s.driver()).await?
                } else {
                    rt::my_status(raw.conn()).await?
                };
                let t0 = proxy.turns();
                self.rt_run(&*st, &mut raw, op, ours, RtCalls { n, k, j0: RT_J0 })
                    .await?;
                let turns = proxy.turns() - t0;
                let after = if ours {
                    rt::my_status_storage(s.driver()).await?
                } else {
                    rt::my_status(raw.conn()).await?
                };
                let delta: Vec<f64> = after
                    .iter()
                    .zip(&before)
                    .zip(&base)
                    .map(|((x, y), b)| (x - y - b) as f64 / k as f64)
                    .collect();
                let side = if ours { "ours" } else { "floor" };
                row[format!("{side}_statements")] = json!(delta[0]);
                row[format!("{side}_round_trips")] = json!(turns as f64 / k as f64);
                let mut detail = serde_json::Map::new();
                for (name, v) in rt::MY_COUNTERS.iter().zip(&delta).skip(1) {
                    if *v != 0.0 && *name != "Com_show_status" {
                        detail.insert((*name).into(), json!(v));
                    }
                }
                row[format!("{side}_counters")] = Value::Object(detail);
            }
            eprintln!(
                "[{}] {:<28} statements ours {} floor {}, round trips ours {} floor {}",
                self.kind.name(),
                op.name(),
                row["ours_statements"],
                row["floor_statements"],
                row["ours_round_trips"],
                row["floor_round_trips"]
            );
            self.push("round_trips", row);
        }
        raw.close().await;
        st.close().await;
        self.admin.wipe_wapp(&*self.st).await?;
        Ok(())
    }

    /// The `scale` record of a c=1 cell at the current size.
    fn scale_record(&self, op: Op, o: &mut Sample, f: &mut Sample) -> Value {
        let users = self.sh.users;
        let (or, fr) = (o.rate(), f.rate());
        let mut rec = json!({
            "backend": self.kind.name(), "operation": op.name(), "users": users,
            "users_label": users_label(users), "concurrency": 1,
            "ours_ops": or, "floor_ops": fr,
            "ratio": if fr > 0.0 { or / fr } else { 0.0 },
            "p50_us": o.quantile(0.5), "p99_us": o.quantile(0.99),
            "floor_p50_us": f.quantile(0.5), "floor_p99_us": f.quantile(0.99),
            "errors": o.errors, "floor_errors": f.errors,
        });
        if let Some(x) = o.first_error.as_ref().or(f.first_error.as_ref()) {
            rec["first_error"] = json!(x);
        }
        rec
    }

    /// A c=1 cell of each of `ops` at the current size (section `scale`), then the
    /// plans of their statements.
    async fn scale_cells(&mut self, ops: &[Op]) -> R<()> {
        let users = self.sh.users;
        for &op in ops {
            let CellOut {
                ours: mut o,
                floor: mut f,
                ..
            } = self.cell(op, 1, self.cfg.rounds).await?;
            let rec = self.scale_record(op, &mut o, &mut f);
            eprintln!(
                "[{}] scale {:>4} {:<38} {:.1} ops/s (floor {:.1}) p50 {} µs p99 {} µs (floor p50 {} µs) errors {} / floor {}",
                self.kind.name(),
                users_label(users),
                op.name(),
                rec["ours_ops"].as_f64().unwrap_or(0.0),
                rec["floor_ops"].as_f64().unwrap_or(0.0),
                rec["p50_us"],
                rec["p99_us"],
                rec["floor_p50_us"],
                rec["errors"],
                rec["floor_errors"]
            );
            self.push("scale", rec);
        }
        self.push_plans(ops).await
    }

    /// `EXPLAIN` of every statement the storage sent for `ops`, at the current size.
    async fn push_plans(&mut self, ops: &[Op]) -> R<()> {
        let users = self.sh.users;
        for &op in ops {
            for s in self.cap.sent[op.idx()].clone() {
                if let Sent::Stmt(sql, values) = s {
                    let plan = self.admin.explain(&sql, &values).await?;
                    self.push(
                        "plans",
                        json!({ "backend": self.kind.name(), "users": users,
                            "users_label": users_label(users), "operation": op.name(),
                            "statement": sql, "plan": plan }),
                    );
                }
            }
        }
        Ok(())
    }

    async fn scale_at(&mut self) -> R<()> {
        self.scale_cells(&[Op::GetSession, Op::ListByEmail, Op::ListUsers])
            .await
    }

    /// Loads users and sessions up to `big` (bulk, server-side) and makes it the
    /// current size.
    async fn grow_to(&mut self, big: u64) -> R<()> {
        let t = std::time::Instant::now();
        eprintln!(
            "[{}] loading up to {big} users and sessions",
            self.kind.name()
        );
        self.admin.load_users(self.cfg.users, big).await?;
        let secs = t.elapsed().as_secs_f64();
        self.out["load_seconds"][format!("users_{}", users_label(big))] = json!(secs);
        eprintln!("[{}] loaded in {secs:.0} s", self.kind.name());
        self.sh = ops::shared(big, self.cap.ids.clone(), Vec::new());
        Ok(())
    }

    /// Latency of the point reads and the page at the main size, then (if asked) at
    /// the large size, with the query plans at each.
    pub async fn scale(&mut self) -> R<()> {
        self.scale_at().await?;
        if let Some(big) = self.cfg.big_users {
            self.grow_to(big).await?;
            self.admin.analyze().await?;
            self.scale_at().await?;
        }
        Ok(())
    }

    /// Records the phase-2 operations through a recording storage, [`P2_INPUTS`]
    /// inputs each, on the current data; registers their statements and reconnects
    /// the floors (which prepare the registry), so that each floor call replays
    /// exactly what the storage sent for the same input.
    async fn capture_p2(&mut self) -> R<()> {
        let (rst, log) = open_recording(self.kind, &self.t.uri(self.kind)).await?;
        let mut reg: Vec<String> = (*self.cap.reg).clone();
        let mut ids = self.cap.ids.clone();
        let mut replay = vec![Vec::new(); N_OPS];
        for op in P2_OPS {
            ids[op.idx()].clear();
            for k in 0..P2_INPUTS {
                log.lock().unwrap().clear();
                let call = Call {
                    n: k,
                    task: 0,
                    conc: 1,
                    j: 0,
                };
                ops::ours(&*rst, op, &self.sh, call)
                    .await
                    .map_err(|x| format!("capture of {}: {x}", op.name()))?;
                let got = std::mem::take(&mut *log.lock().unwrap());
                let mut calls = Vec::new();
                for s in &got {
                    if let Sent::Stmt(sql, values) = s {
                        let id = register(&mut reg, &mut ids[op.idx()], sql);
                        calls.push((id, values.clone()));
                    }
                }
                replay[op.idx()].push(calls);
                if k == 0 {
                    self.cap.sent[op.idx()] = got;
                }
            }
        }
        rst.close().await;
        self.cap.reg = Arc::new(reg);
        self.cap.ids = ids;
        if let Some(f) = self.floors.take() {
            f.close().await;
        }
        self.floors =
            Some(Floors::connect(self.kind, &self.t, &self.cap.reg, POOL as usize).await?);
        self.sh = ops::shared(self.sh.users, self.cap.ids.clone(), replay);
        Ok(())
    }

    /// Phase 2 at the current size: links a tenth of users `from..` into groups and
    /// loads 30 days of activity ([`Admin::load_links`]), then measures every
    /// phase-2 operation at c=1 against its replayed floor, with the plan of each
    /// statement (sections `scale` and `plans`).
    async fn phase2_at(&mut self, from: u64) -> R<()> {
        let users = self.sh.users;
        let t = std::time::Instant::now();
        self.admin.load_links(from, users).await?;
        self.admin.analyze().await?;
        let secs = t.elapsed().as_secs_f64();
        self.out["load_seconds"][format!("links_{}", users_label(users))] = json!(secs);
        eprintln!(
            "[{}] linked groups and activity in {secs:.0} s",
            self.kind.name()
        );
        self.capture_p2().await?;
        self.scale_cells(&P2_OPS).await
    }

    /// Phase 2 (linked groups, last-active) at the main size, then (if asked) at the
    /// large size. Not with the phase-1 scale phase in the same run: the phase-1
    /// floors expect users of one login method.
    pub async fn phase2(&mut self) -> R<()> {
        self.phase2_at(0).await?;
        if let Some(big) = self.cfg.big_users {
            self.grow_to(big).await?;
            self.phase2_at(self.cfg.users).await?;
        }
        Ok(())
    }

    /// Closes everything; drops the bench database unless asked to keep it.
    pub async fn finish(mut self) -> Value {
        if let Some(f) = self.floors.take() {
            f.close().await;
        }
        self.st.close().await;
        if let Some(u) = self.unshared.take() {
            u.close().await;
        }
        if let Some(before) = self.out["server_settings"]["restored_to"].as_u64()
            && let Err(x) = self
                .admin
                .exec(&format!("SET GLOBAL innodb_buffer_pool_size = {before}"))
                .await
        {
            eprintln!(
                "[{}] could not restore the buffer pool size: {x}",
                self.kind.name()
            );
        }
        drop(self.admin);
        if !self.cfg.keep
            && let Err(x) = Admin::drop_db(self.kind, &self.t).await
        {
            eprintln!(
                "[{}] could not drop the bench database: {x}",
                self.kind.name()
            );
        }
        self.out
    }
}

/// The registry id of `sql` (added if new), also listed in an operation's `ids`.
fn register(reg: &mut Vec<String>, ids: &mut Vec<usize>, sql: &str) -> usize {
    let id = match reg.iter().position(|r| r == sql) {
        Some(i) => i,
        None => {
            reg.push(sql.to_owned());
            reg.len() - 1
        }
    };
    if !ids.contains(&id) {
        ids.push(id);
    }
    id
}
