//! Load generator of `auth-core/e2e/bench.sh`: drives a running auth-core over HTTP
//! (hyper, one keep-alive connection per worker) and measures, in the same run and
//! on the same database, the **storage floor**: the storage calls the endpoint makes,
//! called directly through the storage traits at the same concurrency.
//!
//! | operation | HTTP | floor (storage calls of the endpoint) |
//! |---|---|---|
//! | sign in | `POST /public/recipe/signin` | `list_users_by_email` |
//! | verify | `POST /recipe/session/verify`, `checkDatabase:true` | `get_session` |
//! | refresh | `POST /recipe/session/refresh`, every call promotes | `get_session`, `rotate_refresh_token` |
//!
//! Password hashing is not in the floor: the sign-in row's core runs bcrypt at the
//! cost the core was started with, and the driver prints the in-process time of one
//! such verification beside the table.
//!
//! Environment: `CORE` (base URL), `API_KEY`, `LABEL`, `BENCH_SECONDS` (per side and
//! round, default 2.5), `ROUNDS` (default 2; HTTP and floor alternate), `LEVELS`
//! (default `1,64`), `OPS` (subset, comma-separated), `FLOOR=0` (HTTP only),
//! `BCRYPT_COST` (the core's cost, for the hashing note) and the storage variables of
//! the core (`POSTGRESQL_CONNECTION_URI`, `MYSQL_CONNECTION_URI`, ...; SQLite by
//! default, so run it in the core's working directory). It is a command, not a test:
//! it prints a markdown table and asserts no time.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage_api::{RefreshRotation, RotateOutcome, Storage, TenantIdentifier};
// Linked so that `open_from_env` finds the backends (they register with `inventory`).
use storage_mysql as _;
use storage_postgres as _;
use storage_sqlite as _;

type Res<T> = Result<T, String>;

struct Ctx {
    host: String,
    port: u16,
    api_key: Option<String>,
    storage: Option<Arc<dyn Storage>>,
    email: String,
}

/// One keep-alive HTTP/1.1 connection to the core.
struct Conn {
    send: SendRequest<Full<Bytes>>,
}

impl Conn {
    async fn open(ctx: &Ctx) -> Res<Self> {
        let stream = tokio::net::TcpStream::connect((ctx.host.as_str(), ctx.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(Self { send })
    }

    /// POSTs `body` (JSON) to `path`; the answer must be 200 with `status: "OK"`.
    async fn post(&mut self, ctx: &Ctx, path: &str, body: Bytes) -> Res<Value> {
        let mut req = hyper::Request::post(path)
            .header("host", format!("{}:{}", ctx.host, ctx.port))
            .header("content-type", "application/json; charset=utf-8")
            .header("cdi-version", "5.4");
        if let Some(k) = &ctx.api_key {
            req = req.header("api-key", k);
        }
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        self.send.ready().await.map_err(|e| e.to_string())?;
        let res = self
            .send
            .send_request(req)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = res.status();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{path}: {e}"))?;
        if status != 200 || v["status"] != "OK" {
            return Err(format!("{path}: {status} {v}"));
        }
        Ok(v)
    }
}

/// A session created over HTTP: handle and tokens.
async fn new_session(ctx: &Ctx, conn: &mut Conn, user_id: &str) -> Res<Value> {
    let body = json!({
        "userId": user_id, "userDataInJWT": {}, "userDataInDatabase": {},
        "enableAntiCsrf": false, "useDynamicSigningKey": true,
    });
    conn.post(ctx, "/public/recipe/session", body.to_string().into())
        .await
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Res<&'a str> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no {ptr} in {v}"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    SignIn,
    Verify,
    Refresh,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::SignIn => "sign in",
            Op::Verify => "verify (checkDatabase)",
            Op::Refresh => "refresh (rotation)",
        }
    }
}

/// One worker's state: an HTTP connection or the storage, and what its operation needs.
enum Worker {
    Http {
        conn: Conn,
        path: &'static str,
        body: Bytes,
        /// Refresh: the token to present next (the last answer's).
        chain: bool,
    },
    Floor {
        storage: Arc<dyn Storage>,
        op: Op,
        handle: String,
    },
}

impl Worker {
    async fn new(ctx: &Ctx, op: Op, floor: bool, user_id: &str) -> Res<Self> {
        let mut conn = Conn::open(ctx).await?;
        let session = match op {
            Op::SignIn => None,
            Op::Verify | Op::Refresh => Some(new_session(ctx, &mut conn, user_id).await?),
        };
        if floor {
            let storage = ctx.storage.clone().ok_or("no storage")?;
            let handle = match &session {
                Some(s) => str_at(s, "/session/handle")?.to_owned(),
                None => String::new(),
            };
            return Ok(Worker::Floor {
                storage,
                op,
                handle,
            });
        }
        let (path, body, chain) = match (op, &session) {
            (Op::SignIn, _) => (
                "/public/recipe/signin",
                json!({"email": ctx.email, "password": "abcd1234"}),
                false,
            ),
            (Op::Verify, Some(s)) => (
                "/recipe/session/verify",
                json!({"accessToken": str_at(s, "/accessToken/token")?, "doAntiCsrfCheck": false,
                       "enableAntiCsrf": false, "checkDatabase": true}),
                false,
            ),
            (Op::Refresh, Some(s)) => (
                "/recipe/session/refresh",
                refresh_body(str_at(s, "/refreshToken/token")?),
                true,
            ),
            _ => return Err("no session".into()),
        };
        Ok(Worker::Http {
            conn,
            path,
            body: body.to_string().into(),
            chain,
        })
    }

    async fn step(&mut self, ctx: &Ctx) -> Res<()> {
        match self {
            Worker::Http {
                conn,
                path,
                body,
                chain,
            } => {
                let v = conn.post(ctx, path, body.clone()).await?;
                if *chain {
                    *body = refresh_body(str_at(&v, "/refreshToken/token")?)
                        .to_string()
                        .into();
                }
                Ok(())
            }
            Worker::Floor {
                storage,
                op,
                handle,
            } => {
                let tenant = TenantIdentifier::default_public();
                let e = |e: storage_api::StorageError| e.to_string();
                match op {
                    Op::SignIn => {
                        let users = storage.list_users_by_email(&tenant, &ctx.email).await;
                        if users.map_err(e)?.is_empty() {
                            return Err("sign-in floor: no user".into());
                        }
                    }
                    Op::Verify => {
                        storage
                            .get_session(&tenant, handle)
                            .await
                            .map_err(e)?
                            .ok_or("verify floor: no session")?;
                    }
                    Op::Refresh => {
                        let s = storage
                            .get_session(&tenant, handle)
                            .await
                            .map_err(e)?
                            .ok_or("refresh floor: no session")?;
                        let now = now_ms();
                        let new_hash = format!("{:064x}", rand_u128(now));
                        let outcome = storage
                            .rotate_refresh_token(
                                &tenant,
                                &RefreshRotation {
                                    handle,
                                    expected: &s.refresh_token_hash,
                                    new_hash: &new_hash,
                                    new_expiry: now + 8_640_000_000,
                                    now,
                                },
                            )
                            .await
                            .map_err(e)?;
                        if outcome != RotateOutcome::Rotated {
                            return Err("refresh floor: rotation failed".into());
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

fn refresh_body(token: &str) -> Value {
    json!({"refreshToken": token, "enableAntiCsrf": false, "useDynamicSigningKey": true})
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A distinct value per call (the floor's new refresh-token hash).
fn rand_u128(seed: i64) -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    (u128::from(N.fetch_add(1, Ordering::Relaxed)) << 64) | u128::from(seed as u64)
}

/// Latencies (µs) and elapsed wall time of `workers` run for `secs`.
async fn run_workers(
    ctx: &Arc<Ctx>,
    workers: Vec<Worker>,
    secs: f64,
) -> Res<(Vec<(Worker, Vec<f64>)>, f64)> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut w| {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < end {
                    let t = Instant::now();
                    w.step(&ctx).await?;
                    lat.push(t.elapsed().as_secs_f64() * 1e6);
                }
                Ok::<_, String>((w, lat))
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.map_err(|e| e.to_string())??);
    }
    Ok((out, start.elapsed().as_secs_f64()))
}

/// Accumulated measurements of one side of a cell.
#[derive(Default)]
struct Side {
    lat: Vec<f64>,
    secs: f64,
}

impl Side {
    fn rps(&self) -> f64 {
        self.lat.len() as f64 / self.secs.max(1e-9)
    }
    fn q(&mut self, p: f64) -> f64 {
        self.lat.sort_by(f64::total_cmp);
        let i = ((p * self.lat.len() as f64) as usize).min(self.lat.len().saturating_sub(1));
        self.lat.get(i).copied().unwrap_or(f64::NAN) / 1000.0
    }
}

/// Measures one (operation, concurrency) cell: HTTP and floor alternate in rounds.
async fn cell(
    ctx: &Arc<Ctx>,
    op: Op,
    c: usize,
    user_id: &str,
    secs: f64,
    rounds: usize,
    floor: bool,
) -> Res<(Side, Option<Side>)> {
    let mut sides: Vec<(bool, Vec<Worker>, Side)> = Vec::new();
    for is_floor in [false, true] {
        if is_floor && !floor {
            continue;
        }
        let mut ws = Vec::with_capacity(c);
        for _ in 0..c {
            ws.push(Worker::new(ctx, op, is_floor, user_id).await?);
        }
        sides.push((is_floor, ws, Side::default()));
    }
    for _ in 0..rounds {
        for (_, ws, side) in &mut sides {
            let (done, elapsed) = run_workers(ctx, std::mem::take(ws), secs).await?;
            for (w, lat) in done {
                side.lat.extend(lat);
                ws.push(w);
            }
            side.secs += elapsed;
        }
    }
    let mut it = sides.into_iter().map(|(_, _, s)| s);
    let http = it.next().ok_or("no HTTP side")?;
    Ok((http, it.next()))
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

async fn main_() -> Res<()> {
    let core = env("CORE").unwrap_or_else(|| "http://127.0.0.1:3567".into());
    let url = url::Url::parse(&core).map_err(|e| format!("CORE: {e}"))?;
    let secs: f64 =
        env("BENCH_SECONDS").map_or(Ok(2.5), |s| s.parse().map_err(|_| "BENCH_SECONDS"))?;
    let rounds: usize = env("ROUNDS").map_or(Ok(2), |s| s.parse().map_err(|_| "ROUNDS"))?;
    let levels: Vec<usize> = env("LEVELS")
        .unwrap_or_else(|| "1,64".into())
        .split(',')
        .map(|s| s.trim().parse().map_err(|_| format!("LEVELS: {s}")))
        .collect::<Res<_>>()?;
    let only: Option<Vec<String>> = env("OPS").map(|s| s.split(',').map(str::to_owned).collect());
    let floor = env("FLOOR").as_deref() != Some("0");
    let label = env("LABEL").unwrap_or_default();
    let storage = if floor {
        Some(
            storage_api::open_from_env(Default::default())
                .await
                .map_err(|e| format!("opening the storage: {e}"))?,
        )
    } else {
        None
    };
    let ctx = Arc::new(Ctx {
        host: url.host_str().unwrap_or("127.0.0.1").to_owned(),
        port: url.port_or_known_default().unwrap_or(80),
        api_key: env("API_KEY"),
        storage,
        email: format!("bench{}@example.com", now_ms()),
    });
    let mut conn = Conn::open(&ctx).await?;
    let up = conn
        .post(
            &ctx,
            "/public/recipe/signup",
            json!({"email": ctx.email, "password": "abcd1234"})
                .to_string()
                .into(),
        )
        .await?;
    let user_id = str_at(&up, "/recipeUserId")?.to_owned();
    for op in [Op::SignIn, Op::Verify, Op::Refresh] {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == op.name()))
        {
            continue;
        }
        for &c in &levels {
            let (mut h, f) = cell(&ctx, op, c, &user_id, secs, rounds, floor).await?;
            let (hp50, hp99) = (h.q(0.5), h.q(0.99));
            let floor_cols = match f {
                Some(mut f) => {
                    let (fp50, fp99) = (f.q(0.5), f.q(0.99));
                    format!(
                        "{:.0} | {fp50:.3} | {fp99:.2} | {:.1} | {:.1}",
                        f.rps(),
                        f.rps() / h.rps(),
                        hp50 / fp50
                    )
                }
                None => "- | - | - | - | -".into(),
            };
            println!(
                "| {label} | {} | {c} | {:.0} | {hp50:.2} | {hp99:.2} | {floor_cols} |",
                op.name(),
                h.rps()
            );
        }
    }
    if let Some(cost) = env("BCRYPT_COST").and_then(|c| c.parse::<u32>().ok()) {
        let hash = bcrypt::hash("abcd1234", cost).map_err(|e| e.to_string())?;
        let n = 20;
        let t = Instant::now();
        for _ in 0..n {
            bcrypt::verify("abcd1234", &hash).map_err(|e| e.to_string())?;
        }
        eprintln!(
            "{label}: one bcrypt verification at cost {cost}: {:.2} ms (in-process, one thread)",
            t.elapsed().as_secs_f64() * 1000.0 / f64::from(n)
        );
    }
    if let Some(s) = &ctx.storage {
        s.close().await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match main_().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
