//! Per-backend plumbing outside the measured paths: an admin connection, fresh
//! databases, bulk loads generated server-side, and query plans.

use crate::model::*;
use crate::raw::{Fv, R};
use std::path::PathBuf;
use std::sync::Mutex;
use storage_postgres::tokio_postgres;

/// A backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SQLite (in process).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL / MariaDB.
    Mysql,
}

impl Kind {
    /// Name in the results.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgresql",
            Kind::Mysql => "mariadb",
        }
    }
}

/// Where the databases are.
#[derive(Clone, Debug)]
pub struct Targets {
    /// PostgreSQL socket directory.
    pub pg_host: String,
    /// PostgreSQL TCP address (for the round-trip proxy).
    pub pg_tcp: String,
    /// MariaDB TCP address.
    pub my_tcp: String,
    /// SQLite file.
    pub sqlite: PathBuf,
}

/// The bench database name on the servers: `storage_bench`, or the value of
/// `STORAGE_BENCH_DB` at build time (two builds measured side by side, as in
/// `bench/before-after.sh`, each get their own).
pub const DB: &str = match option_env!("STORAGE_BENCH_DB") {
    Some(d) => d,
    None => "storage_bench",
};

impl Targets {
    /// URI of the storage under test.
    pub fn uri(&self, k: Kind) -> String {
        match k {
            Kind::Sqlite => format!("sqlite://{}", self.sqlite.display()),
            // STORAGE_BENCH_PG_PARAMS adds URI parameters (`pipeline_depth=1`, say).
            Kind::Postgres => match std::env::var("STORAGE_BENCH_PG_PARAMS") {
                Ok(p) if !p.is_empty() => format!(
                    "postgres://postgres@{}/{DB}?{p}",
                    self.pg_host.replace('/', "%2F")
                ),
                _ => format!(
                    "postgres://postgres@{}/{DB}",
                    self.pg_host.replace('/', "%2F")
                ),
            },
            Kind::Mysql => format!("mysql://root@{}/{DB}?ssl-mode=DISABLED", self.my_tcp),
        }
    }

    /// tokio-postgres configuration of the floor.
    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host_path(&self.pg_host)
            .user("postgres")
            .dbname(DB)
            .application_name("storage-bench-floor");
        c
    }
}

/// An admin connection.
pub enum Admin {
    /// tokio-postgres.
    Pg(tokio_postgres::Client),
    /// sqlx text protocol.
    My(storage_mysql::test_support::RawClient),
    /// rusqlite.
    Lite(Mutex<rusqlite::Connection>),
}

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

async fn pg_connect(host: &str, db: &str) -> R<tokio_postgres::Client> {
    let mut c = tokio_postgres::Config::new();
    c.host_path(host).user("postgres").dbname(db);
    let (client, conn) = c.connect(tokio_postgres::NoTls).await.map_err(err)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

impl Admin {
    /// Drops and re-creates the bench database (or file), then connects to it.
    pub async fn fresh(k: Kind, t: &Targets) -> R<Admin> {
        match k {
            Kind::Postgres => {
                let c = pg_connect(&t.pg_host, "postgres").await?;
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
                    .await
                    .map_err(err)?;
                c.batch_execute(&format!("CREATE DATABASE {DB}"))
                    .await
                    .map_err(err)?;
                Ok(Admin::Pg(pg_connect(&t.pg_host, DB).await?))
            }
            Kind::Mysql => {
                let c = storage_mysql::test_support::RawClient::connect(
                    &format!("mysql://root@{}/mysql?ssl-mode=DISABLED", t.my_tcp),
                    1,
                )
                .await
                .map_err(err)?;
                c.execute(&format!(
                    "DROP DATABASE IF EXISTS {DB}; CREATE DATABASE {DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                ))
                .await
                .map_err(err)?;
                c.close().await;
                let c = storage_mysql::test_support::RawClient::connect(&t.uri(Kind::Mysql), 1)
                    .await
                    .map_err(err)?;
                Ok(Admin::My(c))
            }
            Kind::Sqlite => {
                if let Some(dir) = t.sqlite.parent() {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = t.sqlite.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
                let c = rusqlite::Connection::open(&t.sqlite).map_err(err)?;
                c.busy_timeout(std::time::Duration::from_secs(30))
                    .map_err(err)?;
                c.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
                c.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
                Ok(Admin::Lite(Mutex::new(c)))
            }
        }
    }

    /// Drops the bench database (or file).
    pub async fn drop_db(k: Kind, t: &Targets) -> R<()> {
        match k {
            Kind::Postgres => {
                let c = pg_connect(&t.pg_host, "postgres").await?;
                c.batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
                    .await
                    .map_err(err)
            }
            Kind::Mysql => {
                let c = storage_mysql::test_support::RawClient::connect(
                    &format!("mysql://root@{}/mysql?ssl-mode=DISABLED", t.my_tcp),
                    1,
                )
                .await
                .map_err(err)?;
                let r = c.execute(&format!("DROP DATABASE IF EXISTS {DB}")).await;
                c.close().await;
                r.map(|_| ()).map_err(err)
            }
            Kind::Sqlite => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = t.sqlite.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
                Ok(())
            }
        }
    }

    /// Runs statements without results.
    pub async fn exec(&self, sql: &str) -> R<()> {
        match self {
            Admin::Pg(c) => c.batch_execute(sql).await.map_err(err),
            Admin::My(c) => c.execute(sql).await.map(|_| ()).map_err(err),
            Admin::Lite(c) => c.lock().unwrap().execute_batch(sql).map_err(err),
        }
    }

    /// Runs a query; every value as text.
    pub async fn rows(&self, sql: &str) -> R<Vec<Vec<String>>> {
        match self {
            Admin::Pg(c) => {
                let msgs = c.simple_query(sql).await.map_err(err)?;
                Ok(msgs
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                            (0..r.len())
                                .map(|i| r.get(i).unwrap_or("NULL").to_owned())
                                .collect(),
                        ),
                        _ => None,
                    })
                    .collect())
            }
            Admin::My(c) => Ok(c
                .query(sql)
                .await
                .map_err(err)?
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|v| v.unwrap_or_else(|| "NULL".into()))
                        .collect()
                })
                .collect()),
            Admin::Lite(c) => {
                let c = c.lock().unwrap();
                let mut stmt = c.prepare(sql).map_err(err)?;
                let n = stmt.column_count();
                let mut rows = stmt.query([]).map_err(err)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(err)? {
                    let mut v = Vec::with_capacity(n);
                    for i in 0..n {
                        v.push(match r.get_ref(i).map_err(err)? {
                            rusqlite::types::ValueRef::Null => "NULL".into(),
                            rusqlite::types::ValueRef::Integer(x) => x.to_string(),
                            rusqlite::types::ValueRef::Real(x) => x.to_string(),
                            rusqlite::types::ValueRef::Text(t)
                            | rusqlite::types::ValueRef::Blob(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                        });
                    }
                    out.push(v);
                }
                Ok(out)
            }
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Admin::Pg(_) => Kind::Postgres,
            Admin::My(_) => Kind::Mysql,
            Admin::Lite(_) => Kind::Sqlite,
        }
    }

    // ------------------------------------------------------------ dialect

    fn pad(&self, e: &str, n: usize) -> String {
        match self.kind() {
            Kind::Postgres => format!("lpad(({e})::text, {n}, '0')"),
            Kind::Mysql => format!("LPAD({e}, {n}, '0')"),
            Kind::Sqlite => format!("printf('%0{n}d', {e})"),
        }
    }

    fn txt(&self, e: &str) -> String {
        match self.kind() {
            Kind::Postgres => format!("(({e})::text)"),
            Kind::Mysql => format!("CAST({e} AS CHAR)"),
            Kind::Sqlite => format!("CAST({e} AS TEXT)"),
        }
    }

    fn cat(&self, parts: &[String]) -> String {
        match self.kind() {
            Kind::Mysql => format!("CONCAT({})", parts.join(", ")),
            _ => format!("({})", parts.join(" || ")),
        }
    }

    /// `INSERT INTO table (cols) SELECT exprs` over `x` in `a..b`.
    fn insert_series(&self, table: &str, cols: &str, exprs: &[String], a: u64, b: u64) -> String {
        let sel = exprs.join(", ");
        let last = b - 1;
        match self.kind() {
            Kind::Postgres => format!(
                "INSERT INTO {table} ({cols}) SELECT {sel} FROM generate_series({a}::bigint, {last}::bigint) AS g(x)"
            ),
            Kind::Mysql => format!(
                "INSERT INTO {table} ({cols}) SELECT {sel} FROM (SELECT seq AS x FROM seq_{a}_to_{last}) AS g"
            ),
            Kind::Sqlite => format!(
                "WITH RECURSIVE g(x) AS (SELECT {a} UNION ALL SELECT x + 1 FROM g WHERE x < {last}) \
                 INSERT INTO {table} ({cols}) SELECT {sel} FROM g"
            ),
        }
    }

    fn lit(s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    async fn chunked(&self, table: &str, cols: &str, exprs: &[String], a: u64, b: u64) -> R<()> {
        const CHUNK: u64 = 100_000;
        let mut lo = a;
        while lo < b {
            let hi = (lo + CHUNK).min(b);
            self.exec(&self.insert_series(table, cols, exprs, lo, hi))
                .await?;
            lo = hi;
        }
        Ok(())
    }

    // ------------------------------------------------------------ loads

    /// Loads users `a..b` (email-password, in the public tenant) and one live session
    /// for each.
    pub async fn load_users(&self, a: u64, b: u64) -> R<()> {
        let uid = self.cat(&[Self::lit("00000000-0000-4000-8000-"), self.pad("x", 12)]);
        let tj = format!("({T0} + x)");
        let f = "FALSE".to_owned();
        let public = Self::lit(APP);
        let ep = Self::lit("emailpassword");
        let mail = self.txt(&format!("{EMAIL0} + x"));
        self.chunked(
            "app_id_to_user_id",
            "app_id, user_id, recipe_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, time_joined, primary_or_recipe_user_time_joined",
            &[public.clone(), uid.clone(), ep.clone(), uid.clone(), f.clone(), tj.clone(), tj.clone()],
            a,
            b,
        )
        .await?;
        self.chunked(
            "all_auth_recipe_users",
            "app_id, tenant_id, user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, recipe_id, time_joined, primary_or_recipe_user_time_joined",
            &[public.clone(), public.clone(), uid.clone(), uid.clone(), f.clone(), ep.clone(), tj.clone(), tj.clone()],
            a,
            b,
        )
        .await?;
        self.chunked(
            "emailpassword_users",
            "app_id, user_id, email, password_hash, time_joined",
            &[
                public.clone(),
                uid.clone(),
                mail.clone(),
                Self::lit(PASSWORD_HASH),
                tj.clone(),
            ],
            a,
            b,
        )
        .await?;
        self.chunked(
            "emailpassword_user_to_tenant",
            "app_id, tenant_id, user_id, email",
            &[public.clone(), public.clone(), uid.clone(), mail.clone()],
            a,
            b,
        )
        .await?;
        self.chunked(
            "session_info",
            "app_id, tenant_id, session_handle, user_id, refresh_token_hash_2, session_data, expires_at, created_at_time, jwt_user_payload, use_static_key",
            &[
                public.clone(),
                public.clone(),
                self.txt(&format!("{HANDLE0} + x")),
                uid,
                Self::lit(&rt_hash(0)),
                Self::lit(SESSION_DATA),
                FAR.to_string(),
                T0.to_string(),
                Self::lit(JWT_PAYLOAD),
                f,
            ],
            a,
            b,
        )
        .await
    }

    /// Phase 2: links a tenth of users `a..b` (multiples of 20) into groups of two or
    /// three, writing exactly the rows the storage writes: user `i` with `i % 10 == 0`
    /// becomes a primary user (`is_linked_or_is_a_primary_user`) and gets a linked
    /// third-party login method (signed up in the public tenant: `app_id_to_user_id`,
    /// `all_auth_recipe_users`, `thirdparty_users`, `thirdparty_user_to_tenant`), and
    /// with `i % 20 == 0` also a passwordless one with a phone number; the linked rows
    /// carry the primary's id and the group's time joined (the primary's, the
    /// earliest). Then users `i % 50 == 0` get TOTP, and every user `a..b` a
    /// last-active time within the last 30 days.
    pub async fn load_links(&self, a: u64, b: u64) -> R<()> {
        let public = Self::lit(APP);
        let t = "TRUE".to_owned();
        let id = |prefix: &str, i: &str| self.cat(&[Self::lit(prefix), self.pad(i, 12)]);
        for (step, recipe, prefix) in [
            (10u64, "thirdparty", "00000004-0000-4000-8000-"),
            (20, "passwordless", "00000005-0000-4000-8000-"),
        ] {
            let i = format!("(x * {step})");
            let uid = id(prefix, &i);
            let primary = id("00000000-0000-4000-8000-", &i);
            let tj = format!("({T0} + x * {step} + {})", step / 10);
            let group_tj = format!("({T0} + x * {step})");
            let r = Self::lit(recipe);
            let (xa, xb) = (a / step, b / step);
            self.chunked(
                "app_id_to_user_id",
                "app_id, user_id, recipe_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, time_joined, primary_or_recipe_user_time_joined",
                &[public.clone(), uid.clone(), r.clone(), primary.clone(), t.clone(), tj.clone(), group_tj.clone()],
                xa,
                xb,
            )
            .await?;
            self.chunked(
                "all_auth_recipe_users",
                "app_id, tenant_id, user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, recipe_id, time_joined, primary_or_recipe_user_time_joined",
                &[public.clone(), public.clone(), uid.clone(), primary, t.clone(), r, tj.clone(), group_tj],
                xa,
                xb,
            )
            .await?;
            if step == 10 {
                let block = match self.kind() {
                    Kind::Mysql => "(x DIV 10)",
                    _ => "(x / 10)",
                };
                let provider = self.cat(&[Self::lit("idp"), self.pad(block, 9)]);
                let tp_uid = self.cat(&[Self::lit("tp"), self.pad(&i, 12)]);
                let mail = self.cat(&[Self::lit("u"), self.pad(&i, 12), Self::lit("@idp.example")]);
                self.chunked(
                    "thirdparty_users",
                    "app_id, third_party_id, third_party_user_id, user_id, email, time_joined",
                    &[
                        public.clone(),
                        provider.clone(),
                        tp_uid.clone(),
                        uid.clone(),
                        mail,
                        tj,
                    ],
                    xa,
                    xb,
                )
                .await?;
                self.chunked(
                    "thirdparty_user_to_tenant",
                    "app_id, tenant_id, user_id, third_party_id, third_party_user_id",
                    &[public.clone(), public.clone(), uid, provider, tp_uid],
                    xa,
                    xb,
                )
                .await?;
            } else {
                let phone = self.cat(&[Self::lit("+1"), self.pad(&i, 13)]);
                self.chunked(
                    "passwordless_users",
                    "app_id, user_id, phone_number, time_joined",
                    &[public.clone(), uid.clone(), phone.clone(), tj],
                    xa,
                    xb,
                )
                .await?;
                self.chunked(
                    "passwordless_user_to_tenant",
                    "app_id, tenant_id, user_id, phone_number",
                    &[public.clone(), public.clone(), uid, phone],
                    xa,
                    xb,
                )
                .await?;
            }
        }
        let (lo, hi) = (Self::lit(&user_id(a)), Self::lit(&user_id(b)));
        for table in ["app_id_to_user_id", "all_auth_recipe_users"] {
            self.exec(&format!(
                "UPDATE {table} SET is_linked_or_is_a_primary_user = TRUE \
                 WHERE app_id = {public} AND user_id >= {lo} AND user_id < {hi} AND user_id LIKE '%0'"
            ))
            .await?;
        }
        self.chunked(
            "totp_users",
            "app_id, user_id",
            &[public.clone(), id("00000000-0000-4000-8000-", "(x * 50)")],
            a / 50,
            b / 50,
        )
        .await?;
        self.chunked(
            "user_last_active",
            "app_id, user_id, last_active_time",
            &[
                public,
                id("00000000-0000-4000-8000-", "x"),
                format!("({NOW} - (x % 30) * 86400000 - (x % 1000))"),
            ],
            a,
            b,
        )
        .await
    }

    /// Loads expired sessions `a..b` into the write app.
    pub async fn load_expired(&self, a: u64, b: u64) -> R<()> {
        let w = Self::lit(WAPP);
        self.chunked(
            "session_info",
            "app_id, tenant_id, session_handle, user_id, refresh_token_hash_2, session_data, expires_at, created_at_time, jwt_user_payload, use_static_key",
            &[
                w,
                Self::lit("public"),
                self.txt(&format!("{EXPIRED_HANDLE0} + x")),
                Self::lit("expired-user"),
                Self::lit(&rt_hash(0)),
                Self::lit(SESSION_DATA),
                EXPIRED.to_string(),
                "0".into(),
                Self::lit(JWT_PAYLOAD),
                "FALSE".into(),
            ],
            a,
            b,
        )
        .await
    }

    /// Loads devices `a..b`, each with one code, into the write app.
    pub async fn load_devices(&self, a: u64, b: u64) -> R<()> {
        let w = Self::lit(WAPP);
        let p = Self::lit("public");
        let dev = self.pad("x", 44);
        self.chunked(
            "passwordless_devices",
            "app_id, tenant_id, device_id_hash, email, phone_number, link_code_salt, failed_attempts",
            &[
                w.clone(),
                p.clone(),
                dev.clone(),
                self.txt(&format!("{DEVICE_EMAIL0} + x")),
                "NULL".into(),
                Self::lit(SALT),
                "0".into(),
            ],
            a,
            b,
        )
        .await?;
        self.chunked(
            "passwordless_codes",
            "app_id, tenant_id, code_id, device_id_hash, link_code_hash, created_at",
            &[
                w,
                p,
                self.cat(&[Self::lit("00000002-0000-4000-8000-"), self.pad("x", 12)]),
                dev,
                self.cat(&[Self::lit("L"), self.pad("x", 43)]),
                NOW.to_string(),
            ],
            a,
            b,
        )
        .await
    }

    /// Deletes everything of the write app (cascading) and re-creates its tenant row
    /// through `st`.
    pub async fn wipe_wapp(&self, st: &dyn storage_api::Storage) -> R<()> {
        self.exec(&format!(
            "DELETE FROM apps WHERE app_id = {}",
            Self::lit(WAPP)
        ))
        .await?;
        let wt = storage_api::TenantIdentifier::public(storage_api::AppId::new(WAPP).map_err(err)?);
        st.add_tenant(&wt, 0).await.map_err(err)
    }

    /// Sets the refresh-token hash of sessions `a..b` of the read set (and their
    /// expiry back to `FAR`).
    pub async fn set_hashes(&self, a: u64, b: u64, hash: &str) -> R<()> {
        let (lo, hi) = (
            (HANDLE0 + a as i64).to_string(),
            (HANDLE0 + b as i64).to_string(),
        );
        self.exec(&format!(
            "UPDATE session_info SET refresh_token_hash_2 = {}, expires_at = {FAR} \
             WHERE app_id = 'public' AND tenant_id = 'public' AND session_handle >= {} AND session_handle < {}",
            Self::lit(hash),
            Self::lit(&lo),
            Self::lit(&hi)
        ))
        .await
    }

    /// Refreshes the statistics of the tables a bulk load just filled, as a table
    /// that grew by itself would have them (a freshly filled table with stale
    /// statistics gets sequential-scan plans that no production table would).
    pub async fn analyze_tables(&self, tables: &[&str]) -> R<()> {
        match self.kind() {
            Kind::Postgres => self.exec(&format!("ANALYZE {}", tables.join(", "))).await,
            Kind::Mysql => {
                self.exec(&format!("ANALYZE TABLE {}", tables.join(", ")))
                    .await
            }
            Kind::Sqlite => {
                for t in tables {
                    self.exec(&format!("ANALYZE {t}")).await?;
                }
                Ok(())
            }
        }
    }

    /// Refreshes the planner's statistics.
    pub async fn analyze(&self) -> R<()> {
        match self.kind() {
            Kind::Postgres => self.exec("VACUUM ANALYZE").await,
            Kind::Mysql => self
                .exec(
                    "ANALYZE TABLE app_id_to_user_id, all_auth_recipe_users, emailpassword_users, \
                     emailpassword_user_to_tenant, session_info, passwordless_devices, passwordless_codes, \
                     thirdparty_users, thirdparty_user_to_tenant, passwordless_users, \
                     passwordless_user_to_tenant, totp_users, user_last_active",
                )
                .await
                .map(|_| ()),
            Kind::Sqlite => self.exec("ANALYZE").await,
        }
    }

    /// The plan of a captured statement, with its values inlined; long lines (an
    /// inlined list of 100 ids) are cut.
    pub async fn explain(&self, sql: &str, values: &[Fv]) -> R<Vec<String>> {
        Ok(self
            .explain_full(sql, values)
            .await?
            .into_iter()
            .map(|l| {
                if l.chars().count() > 220 {
                    format!("{}…", l.chars().take(220).collect::<String>())
                } else {
                    l
                }
            })
            .collect())
    }

    async fn explain_full(&self, sql: &str, values: &[Fv]) -> R<Vec<String>> {
        let inlined = inline(self.kind(), sql, values);
        match self.kind() {
            Kind::Postgres => Ok(self
                .rows(&format!(
                    "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {inlined}"
                ))
                .await?
                .into_iter()
                .map(|r| r.join(" "))
                .collect()),
            Kind::Mysql => {
                let rows = self.rows(&format!("EXPLAIN {inlined}")).await?;
                // id, select_type, table, type, possible_keys, key, key_len, ref, rows, Extra
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        format!(
                            "{} {}: type={} key={} rows={} {}",
                            r.get(1).map_or("", |s| s.as_str()),
                            r.get(2).map_or("", |s| s.as_str()),
                            r.get(3).map_or("", |s| s.as_str()),
                            r.get(5).map_or("", |s| s.as_str()),
                            r.get(8).map_or("", |s| s.as_str()),
                            r.get(9).map_or("", |s| s.as_str()),
                        )
                    })
                    .collect())
            }
            Kind::Sqlite => Ok(self
                .rows(&format!("EXPLAIN QUERY PLAN {inlined}"))
                .await?
                .into_iter()
                .map(|r| r.last().cloned().unwrap_or_default())
                .collect()),
        }
    }
}

fn literal(k: Kind, v: &Fv) -> String {
    match v {
        Fv::Str(s) => format!("'{}'", s.replace('\'', "''")),
        Fv::Int(n) => n.to_string(),
        Fv::Bool(b) => match (k, b) {
            (Kind::Sqlite, true) => "1".into(),
            (Kind::Sqlite, false) => "0".into(),
            (_, true) => "TRUE".into(),
            (_, false) => "FALSE".into(),
        },
        Fv::Null => "NULL".into(),
    }
}

/// `sql` with its placeholders replaced by literal values.
pub fn inline(k: Kind, sql: &str, values: &[Fv]) -> String {
    match k {
        Kind::Postgres => {
            let mut s = sql.to_owned();
            for (i, v) in values.iter().enumerate().rev() {
                s = s.replace(&format!("${}", i + 1), &literal(k, v));
            }
            s
        }
        _ => {
            let mut out = String::with_capacity(sql.len() + 16 * values.len());
            let mut it = values.iter();
            for ch in sql.chars() {
                if ch == '?' {
                    out.push_str(&it.next().map_or("NULL".into(), |v| literal(k, v)));
                } else {
                    out.push(ch);
                }
            }
            out
        }
    }
}
