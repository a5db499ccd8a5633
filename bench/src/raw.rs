//! The floor: the same SQL statements run directly through each driver, with no
//! layer above it. One connection per task; statements prepared once per connection
//! (PostgreSQL: prepared up front and addressed by index; MySQL: sqlx's per-connection
//! statement cache; SQLite: rusqlite's statement cache); parameters bound from
//! borrowed values; every column of every row decoded to an owned value with a typed
//! getter, as an application reading the rows would.

use bytes::BytesMut;
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection as _, Row as _};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use storage_postgres::tokio_postgres::{
    self, Client, Statement,
    types::{IsNull, ToSql, Type, to_sql_checked},
};

/// A borrowed parameter.
#[derive(Clone, Copy, Debug)]
pub enum P<'a> {
    /// Text.
    S(&'a str),
    /// BIGINT.
    I(i64),
    /// INTEGER (PostgreSQL `failed_attempts`).
    N(i32),
    /// BOOLEAN.
    B(bool),
    /// NULL.
    Null,
}

/// An owned value: a decoded column, or a parameter as recorded for comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Fv {
    /// Text.
    Str(String),
    /// Any integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// NULL.
    Null,
}

impl Fv {
    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Fv::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&P<'_>> for Fv {
    fn from(p: &P<'_>) -> Self {
        match *p {
            P::S(s) => Fv::Str(s.to_owned()),
            P::I(n) => Fv::Int(n),
            P::N(n) => Fv::Int(i64::from(n)),
            P::B(b) => Fv::Bool(b),
            P::Null => Fv::Null,
        }
    }
}

/// A floor error: the driver's message.
pub type R<T> = Result<T, String>;

fn err<E: std::error::Error>(e: E) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// One bare connection of a backend.
pub trait Raw: Send + 'static {
    /// Starts a transaction with the statement our backend sends.
    fn begin(&mut self) -> impl Future<Output = R<()>> + Send;
    /// Commits.
    fn commit(&mut self) -> impl Future<Output = R<()>> + Send;
    /// Rolls back (after a failed statement).
    fn rollback(&mut self) -> impl Future<Output = R<()>> + Send;
    /// Runs statement `id` of the registry; rows affected.
    fn exec(&mut self, id: usize, p: &[P<'_>]) -> impl Future<Output = R<u64>> + Send;
    /// Runs query `id`, decoding each column by `cols` (`S` text, `s` nullable text,
    /// `I` bigint, `i` nullable bigint, `B` boolean, `N` integer).
    fn fetch(
        &mut self,
        id: usize,
        p: &[P<'_>],
        cols: &'static str,
    ) -> impl Future<Output = R<Vec<Vec<Fv>>>> + Send;
}

// ---------------------------------------------------------------- PostgreSQL

impl ToSql for P<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            P::S(s) => s.to_sql(ty, out),
            P::I(n) => n.to_sql(ty, out),
            P::N(n) => n.to_sql(ty, out),
            P::B(b) => b.to_sql(ty, out),
            P::Null => Ok(IsNull::Yes),
        }
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// tokio-postgres: one client, every statement of the registry prepared at connect.
pub struct PgRaw {
    client: Client,
    stmts: Vec<Statement>,
}

impl PgRaw {
    /// Connects with `config` and prepares every statement of `sql`.
    pub async fn connect(config: &tokio_postgres::Config, sql: &[String]) -> R<Self> {
        let (client, conn) = config.connect(tokio_postgres::NoTls).await.map_err(err)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut stmts = Vec::with_capacity(sql.len());
        for s in sql {
            stmts.push(client.prepare(s).await.map_err(err)?);
        }
        Ok(Self { client, stmts })
    }
}

const MAX_PARAMS: usize = 16;

fn pg_params<'a>(p: &'a [P<'a>], out: &mut [&'a (dyn ToSql + Sync); MAX_PARAMS]) -> usize {
    for (slot, v) in out.iter_mut().zip(p) {
        *slot = v;
    }
    p.len()
}

fn pg_cell(row: &tokio_postgres::Row, i: usize, kind: u8) -> R<Fv> {
    Ok(match kind {
        b'S' => Fv::Str(row.try_get::<_, String>(i).map_err(err)?),
        b's' => row
            .try_get::<_, Option<String>>(i)
            .map_err(err)?
            .map_or(Fv::Null, Fv::Str),
        b'I' => Fv::Int(row.try_get::<_, i64>(i).map_err(err)?),
        b'i' => row
            .try_get::<_, Option<i64>>(i)
            .map_err(err)?
            .map_or(Fv::Null, Fv::Int),
        b'B' => Fv::Bool(row.try_get::<_, bool>(i).map_err(err)?),
        b'N' => Fv::Int(i64::from(row.try_get::<_, i32>(i).map_err(err)?)),
        k => return Err(format!("bad column kind {}", k as char)),
    })
}

impl Raw for PgRaw {
    async fn begin(&mut self) -> R<()> {
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(err)
    }
    async fn commit(&mut self) -> R<()> {
        self.client.batch_execute("COMMIT").await.map_err(err)
    }
    async fn rollback(&mut self) -> R<()> {
        self.client.batch_execute("ROLLBACK").await.map_err(err)
    }
    async fn exec(&mut self, id: usize, p: &[P<'_>]) -> R<u64> {
        let null = P::Null;
        let mut refs: [&(dyn ToSql + Sync); MAX_PARAMS] = [&null; MAX_PARAMS];
        let many: Vec<&(dyn ToSql + Sync)>;
        let params: &[&(dyn ToSql + Sync)] = if p.len() <= MAX_PARAMS {
            let n = pg_params(p, &mut refs);
            &refs[..n]
        } else {
            many = p.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            &many
        };
        self.client
            .execute(&self.stmts[id], params)
            .await
            .map_err(err)
    }
    async fn fetch(&mut self, id: usize, p: &[P<'_>], cols: &'static str) -> R<Vec<Vec<Fv>>> {
        let null = P::Null;
        let mut refs: [&(dyn ToSql + Sync); MAX_PARAMS] = [&null; MAX_PARAMS];
        let many: Vec<&(dyn ToSql + Sync)>;
        let params: &[&(dyn ToSql + Sync)] = if p.len() <= MAX_PARAMS {
            let n = pg_params(p, &mut refs);
            &refs[..n]
        } else {
            many = p.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            &many
        };
        let rows = self
            .client
            .query(&self.stmts[id], params)
            .await
            .map_err(err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut cells = Vec::with_capacity(cols.len());
            for (i, k) in cols.bytes().enumerate() {
                cells.push(pg_cell(row, i, k)?);
            }
            out.push(cells);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------- MySQL

/// sqlx: one `MySqlConnection` with the storage's session settings.
pub struct MyRaw {
    conn: MySqlConnection,
    sql: Arc<Vec<String>>,
}

impl MyRaw {
    /// Connects to `uri` (session initialised as the storage does).
    pub async fn connect(uri: &str, sql: Arc<Vec<String>>) -> R<Self> {
        let settings = storage_mysql::test_support::Settings::from_uri(
            storage_api::ConnectionUri::parse(uri).map_err(err)?,
        )
        .map_err(err)?;
        let conn =
            storage_mysql::test_support::connect_one(&settings, std::time::Duration::from_secs(10))
                .await
                .map_err(err)?;
        Ok(Self { conn, sql })
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }

    /// The connection (for status counters).
    pub fn conn(&mut self) -> &mut MySqlConnection {
        &mut self.conn
    }

    /// Runs fixed SQL through the text protocol.
    async fn simple(&mut self, sql: &'static str) -> R<()> {
        sqlx::raw_sql(sql)
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(err)
    }
}

type MyQuery<'q> = sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>;

fn my_bind<'q>(mut q: MyQuery<'q>, p: &[P<'q>]) -> MyQuery<'q> {
    for v in p {
        q = match *v {
            P::S(s) => q.bind(s),
            P::I(n) => q.bind(n),
            P::N(n) => q.bind(n),
            P::B(b) => q.bind(b),
            P::Null => q.bind(None::<&str>),
        };
    }
    q
}

fn my_cell(row: &sqlx::mysql::MySqlRow, i: usize, kind: u8) -> R<Fv> {
    Ok(match kind {
        b'S' => Fv::Str(row.try_get_unchecked::<String, _>(i).map_err(err)?),
        b's' => row
            .try_get_unchecked::<Option<String>, _>(i)
            .map_err(err)?
            .map_or(Fv::Null, Fv::Str),
        b'I' | b'N' => Fv::Int(row.try_get_unchecked::<i64, _>(i).map_err(err)?),
        b'i' => row
            .try_get_unchecked::<Option<i64>, _>(i)
            .map_err(err)?
            .map_or(Fv::Null, Fv::Int),
        b'B' => Fv::Bool(row.try_get_unchecked::<bool, _>(i).map_err(err)?),
        k => return Err(format!("bad column kind {}", k as char)),
    })
}

impl Raw for MyRaw {
    async fn begin(&mut self) -> R<()> {
        self.simple("SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION")
            .await
    }
    async fn commit(&mut self) -> R<()> {
        self.simple("COMMIT").await
    }
    async fn rollback(&mut self) -> R<()> {
        self.simple("ROLLBACK").await
    }
    async fn exec(&mut self, id: usize, p: &[P<'_>]) -> R<u64> {
        let q = my_bind(sqlx::query(AssertSqlSafe(self.sql[id].as_str())), p);
        q.execute(&mut self.conn)
            .await
            .map(|r| r.rows_affected())
            .map_err(err)
    }
    async fn fetch(&mut self, id: usize, p: &[P<'_>], cols: &'static str) -> R<Vec<Vec<Fv>>> {
        let q = my_bind(sqlx::query(AssertSqlSafe(self.sql[id].as_str())), p);
        let rows = q.fetch_all(&mut self.conn).await.map_err(err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut cells = Vec::with_capacity(cols.len());
            for (i, k) in cols.bytes().enumerate() {
                cells.push(my_cell(row, i, k)?);
            }
            out.push(cells);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------- SQLite

/// A process-wide writer lock for the SQLite floor: a spin lock, which is enough
/// because a holder never yields between taking and releasing it (rusqlite calls are
/// synchronous, so a whole transaction runs within one poll).
#[derive(Default)]
pub struct SpinLock(AtomicBool);

impl SpinLock {
    fn lock(&self) {
        let mut spins = 0u32;
        while self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
    fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

/// rusqlite called directly, in process, on the calling task.
pub struct LiteRaw {
    conn: rusqlite::Connection,
    sql: Arc<Vec<String>>,
    lock: Arc<SpinLock>,
    in_tx: bool,
}

impl LiteRaw {
    /// Opens `path` with the storage's pragmas.
    pub fn open(path: &std::path::Path, sql: Arc<Vec<String>>, lock: Arc<SpinLock>) -> R<Self> {
        let conn = rusqlite::Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(Self {
            conn,
            sql,
            lock,
            in_tx: false,
        })
    }
}

fn lite_bind(stmt: &mut rusqlite::CachedStatement<'_>, p: &[P<'_>]) -> rusqlite::Result<()> {
    for (i, v) in p.iter().enumerate() {
        let i = i + 1;
        match *v {
            P::S(s) => stmt.raw_bind_parameter(i, s)?,
            P::I(n) => stmt.raw_bind_parameter(i, n)?,
            P::N(n) => stmt.raw_bind_parameter(i, n)?,
            P::B(b) => stmt.raw_bind_parameter(i, b)?,
            P::Null => stmt.raw_bind_parameter(i, rusqlite::types::Null)?,
        }
    }
    Ok(())
}

fn lite_cell(row: &rusqlite::Row<'_>, i: usize, kind: u8) -> R<Fv> {
    Ok(match kind {
        b'S' => Fv::Str(row.get::<_, String>(i).map_err(err)?),
        b's' => row
            .get::<_, Option<String>>(i)
            .map_err(err)?
            .map_or(Fv::Null, Fv::Str),
        b'I' | b'N' => Fv::Int(row.get::<_, i64>(i).map_err(err)?),
        b'i' => row
            .get::<_, Option<i64>>(i)
            .map_err(err)?
            .map_or(Fv::Null, Fv::Int),
        b'B' => Fv::Bool(row.get::<_, bool>(i).map_err(err)?),
        k => return Err(format!("bad column kind {}", k as char)),
    })
}

impl LiteRaw {
    fn exec_sync(&mut self, id: usize, p: &[P<'_>]) -> R<u64> {
        let writer = !self.in_tx;
        if writer {
            self.lock.lock();
        }
        let r = (|| {
            let mut stmt = self.conn.prepare_cached(&self.sql[id])?;
            lite_bind(&mut stmt, p)?;
            stmt.raw_execute().map(|n| n as u64)
        })();
        if writer {
            self.lock.unlock();
        }
        r.map_err(err)
    }

    fn fetch_sync(&mut self, id: usize, p: &[P<'_>], cols: &'static str) -> R<Vec<Vec<Fv>>> {
        let mut stmt = self.conn.prepare_cached(&self.sql[id]).map_err(err)?;
        lite_bind(&mut stmt, p).map_err(err)?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut cells = Vec::with_capacity(cols.len());
            for (i, k) in cols.bytes().enumerate() {
                cells.push(lite_cell(row, i, k)?);
            }
            out.push(cells);
        }
        Ok(out)
    }
}

impl Raw for LiteRaw {
    async fn begin(&mut self) -> R<()> {
        self.lock.lock();
        match self.conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => {
                self.in_tx = true;
                Ok(())
            }
            Err(e) => {
                self.lock.unlock();
                Err(err(e))
            }
        }
    }
    async fn commit(&mut self) -> R<()> {
        let r = self.conn.execute_batch("COMMIT").map_err(err);
        self.in_tx = false;
        self.lock.unlock();
        r
    }
    async fn rollback(&mut self) -> R<()> {
        let r = if self.conn.is_autocommit() {
            Ok(())
        } else {
            self.conn.execute_batch("ROLLBACK").map_err(err)
        };
        if self.in_tx {
            self.in_tx = false;
            self.lock.unlock();
        }
        r
    }
    async fn exec(&mut self, id: usize, p: &[P<'_>]) -> R<u64> {
        self.exec_sync(id, p)
    }
    async fn fetch(&mut self, id: usize, p: &[P<'_>], cols: &'static str) -> R<Vec<Vec<Fv>>> {
        self.fetch_sync(id, p, cols)
    }
}

// ---------------------------------------------------------------- recording

/// What a floor sent, for comparison with what the storage sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Sent {
    /// A transaction began.
    Begin,
    /// A transaction committed.
    Commit,
    /// A statement with its parameters.
    Stmt(String, Vec<Fv>),
}

/// A floor connection that records what it sends.
pub struct Recorder<C: Raw> {
    /// The connection.
    pub inner: C,
    /// The registry, to name statements.
    pub sql: Arc<Vec<String>>,
    /// What was sent.
    pub sent: Vec<Sent>,
}

impl<C: Raw> Recorder<C> {
    fn note(&mut self, id: usize, p: &[P<'_>]) {
        self.sent.push(Sent::Stmt(
            self.sql[id].clone(),
            p.iter().map(Fv::from).collect(),
        ));
    }
}

impl<C: Raw> Raw for Recorder<C> {
    async fn begin(&mut self) -> R<()> {
        self.sent.push(Sent::Begin);
        self.inner.begin().await
    }
    async fn commit(&mut self) -> R<()> {
        self.sent.push(Sent::Commit);
        self.inner.commit().await
    }
    async fn rollback(&mut self) -> R<()> {
        self.inner.rollback().await
    }
    async fn exec(&mut self, id: usize, p: &[P<'_>]) -> R<u64> {
        self.note(id, p);
        self.inner.exec(id, p).await
    }
    async fn fetch(&mut self, id: usize, p: &[P<'_>], cols: &'static str) -> R<Vec<Vec<Fv>>> {
        self.note(id, p);
        self.inner.fetch(id, p, cols).await
    }
}
