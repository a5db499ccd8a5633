//! Counting what an operation costs on the wire and on the server.
//!
//! - Round trips: a TCP proxy between client and server counts *turns*: each time
//!   the client sends after the server last spoke (or first) is one round trip. Exact
//!   for a client that waits for each answer before it sends again, as every client
//!   here does.
//! - Statements, on the server: PostgreSQL logs every statement of sessions that set
//!   `log_statement = all` (the bench's own sessions only), and the bench counts
//!   those lines in the server log; MariaDB's per-session `Questions` and `Com_*`
//!   status counters are read on the very connection that ran the operation.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A turn-counting TCP proxy.
pub struct Proxy {
    /// Port on 127.0.0.1.
    pub port: u16,
    turns: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

const CLIENT: u8 = 1;
const SERVER: u8 = 2;

impl Proxy {
    /// Starts a proxy to `target` (`host:port`).
    pub async fn start(target: String) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let turns = Arc::new(AtomicU64::new(0));
        let t = turns.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                tokio::spawn(pipe(client, server, t.clone()));
            }
        });
        Ok(Proxy { port, turns, task })
    }

    /// Turns counted so far.
    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(client: TcpStream, server: TcpStream, turns: Arc<AtomicU64>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let last = Arc::new(AtomicU8::new(SERVER));
    let l2 = last.clone();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if l2.swap(CLIENT, Ordering::SeqCst) != CLIENT {
                turns.fetch_add(1, Ordering::SeqCst);
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = sw.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match sr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        last.store(SERVER, Ordering::SeqCst);
        if cw.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = cw.shutdown().await;
    up.abort();
}

/// The PostgreSQL server log, read from an offset.
pub struct PgLog {
    path: PathBuf,
    offset: u64,
}

impl PgLog {
    /// Finds the server log (`pg_current_logfile()` or Debian's default), positioned at
    /// its end.
    pub fn open(path: &Path) -> Option<PgLog> {
        let len = std::fs::metadata(path).ok()?.len();
        Some(PgLog {
            path: path.to_owned(),
            offset: len,
        })
    }

    /// Moves to the end.
    pub fn mark(&mut self) {
        if let Ok(m) = std::fs::metadata(&self.path) {
            self.offset = m.len();
        }
    }

    /// Statements logged for database `db` since the mark.
    pub fn statements_since(&mut self, db: &str) -> Vec<String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut out = Vec::new();
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return out;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return out;
        }
        let mut s = String::new();
        let _ = f.read_to_string(&mut s);
        self.offset += s.len() as u64;
        let tag = format!("@{db} LOG:  ");
        for line in s.lines() {
            if let Some(i) = line.find(&tag) {
                let rest = &line[i + tag.len()..];
                if let Some(stmt) = rest.strip_prefix("statement: ") {
                    out.push(stmt.to_owned());
                } else if rest.starts_with("execute ") {
                    let stmt = rest.split_once(": ").map_or(rest, |(_, s)| s);
                    out.push(stmt.to_owned());
                }
            }
        }
        out
    }
}

/// MariaDB session status counters worth reporting.
pub const MY_COUNTERS: &[&str] = &[
    "Questions",
    "Com_stmt_execute",
    "Com_stmt_prepare",
    "Com_select",
    "Com_insert",
    "Com_update",
    "Com_delete",
    "Com_begin",
    "Com_commit",
    "Com_set_option",
    "Com_show_status",
];

/// Reads the counters of the session that runs the query.
pub async fn my_status<'c, E>(conn: E) -> Result<Vec<i64>, String>
where
    E: sqlx::Executor<'c, Database = sqlx::MySql>,
{
    use sqlx::Row as _;
    let rows = sqlx::raw_sql("SHOW SESSION STATUS")
        .fetch_all(conn)
        .await
        .map_err(|e| e.to_string())?;
    let mut pairs = Vec::with_capacity(rows.len());
    for r in rows {
        let name: String = r.try_get_unchecked(0).map_err(|e| e.to_string())?;
        let v: String = r.try_get_unchecked(1).map_err(|e| e.to_string())?;
        pairs.push((name, v));
    }
    Ok(pick(pairs))
}

/// Reads the counters through one of the storage's own connections (the pool has
/// one, so it is the connection the operations run on).
pub async fn my_status_storage(d: &storage_mysql::MySqlDriver) -> Result<Vec<i64>, String> {
    use storage_sql::{Cell, Conn as _, Driver as _};
    let mut c = d.acquire().await.map_err(|e| e.to_string())?;
    let rows = c
        .fetch("SHOW SESSION STATUS", sea_query::Values(Vec::new()))
        .await
        .map_err(|e| e.into_storage().to_string())?;
    let mut pairs = Vec::with_capacity(rows.len());
    for r in rows {
        let text = |i: usize| match r.0.get(i) {
            Some(Cell::Text(s)) => s.clone(),
            Some(Cell::Int(n)) => n.to_string(),
            _ => String::new(),
        };
        pairs.push((text(0), text(1)));
    }
    Ok(pick(pairs))
}

fn pick(pairs: Vec<(String, String)>) -> Vec<i64> {
    let mut out = vec![0i64; MY_COUNTERS.len()];
    for (name, v) in pairs {
        if let Some(i) = MY_COUNTERS
            .iter()
            .position(|c| c.eq_ignore_ascii_case(&name))
        {
            out[i] = v.parse().unwrap_or(0);
        }
    }
    out
}
