//! Proof that a fault test's fault happened, on the server its storage really uses:
//!
//! - [`Target`]: a storage opened from a URI the test keeps ([`Target::uri`]), whose
//!   server connections a test can kill, counting only the connections the server
//!   reports killed (PostgreSQL: `pg_terminate_backend` true; MariaDB/MySQL:
//!   `KILL CONNECTION` accepted);
//! - [`server_start`]: when the server behind a URI started, read over a raw
//!   connection opened from that very URI string (so through the storage's own URI
//!   parsing: same host, port, database, TLS), to prove that a restart restarted
//!   the server the storage is connected to;
//! - [`Known`]: the sessions and users whose writes were acknowledged, for loads
//!   that read them back (`get_session`, `list_users_by_email`: on PostgreSQL the
//!   reads that share pipelined connections) and [`judge_session`] /
//!   [`judge_user`], which tell whether a read returned exactly what was written.

use super::common::{Rng, mysql_uri};
use crate::conformance::fixtures::{email, ep_input, session};
use crate::harness::Ctx;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use storage_api::*;

/// Appends a query parameter to a URI.
fn with_param(uri: &str, param: &str) -> String {
    if uri.contains('?') {
        format!("{uri}&{param}")
    } else {
        format!("{uri}?{param}")
    }
}

enum Kill {
    /// SQLite: no server, nothing to kill.
    None,
    /// PostgreSQL: every backend whose `application_name` is the storage's.
    Postgres {
        admin: storage_postgres::tokio_postgres::Client,
        app: String,
    },
    /// MariaDB/MySQL: every connection on the test's database that did not exist
    /// before the storage was opened (the harness's own connections are spared).
    Mysql {
        admin: storage_mysql::test_support::RawClient,
        database: String,
        spare: HashSet<String>,
    },
}

/// A second storage on the test's database, opened from [`Target::uri`], whose
/// server connections a test can kill.
pub struct Target {
    /// The storage the load runs on.
    pub storage: Arc<dyn Storage>,
    /// The URI string the storage was opened with (the SQLite file's path on SQLite,
    /// where the harness's storage is used).
    pub uri: String,
    /// PostgreSQL: the `application_name` of the storage's connections.
    pub app: Option<String>,
    kill: Kill,
}

impl Target {
    /// Opens a storage with `pool_size` connections on the database of `ctx`, with
    /// its table prefix (on SQLite: the harness's storage).
    pub async fn open(ctx: &Ctx, pool_size: u32) -> Target {
        let prefix = ctx.prefix.trim_end_matches('_');
        let options = OpenOptions {
            table_prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            pool_size: Some(pool_size),
            connect_timeout: Some(Duration::from_secs(5)),
            ..Default::default()
        };
        match ctx.backend {
            "sqlite" => Target {
                storage: ctx.storage.clone(),
                uri: ctx
                    .raw
                    .query("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .await[0][0]
                    .clone()
                    .unwrap_or_default(),
                app: None,
                kill: Kill::None,
            },
            "postgresql" => {
                let schema = ctx.raw.query("SELECT current_schema()").await[0][0]
                    .clone()
                    .expect("current schema");
                let app = format!("rel_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
                let uri = with_param(
                    &crate::backends::postgres::base_uri(),
                    &format!("application_name={app}"),
                );
                let storage = storage_api::open(
                    &uri,
                    OpenOptions {
                        schema: Some(schema),
                        ..options
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("open a second PostgreSQL storage: {e}"));
                Target {
                    storage,
                    uri,
                    app: Some(app.clone()),
                    kill: Kill::Postgres {
                        admin: crate::backends::postgres::connect_admin().await,
                        app,
                    },
                }
            }
            "mysql" => {
                let database = ctx.raw.query("SELECT DATABASE()").await[0][0]
                    .clone()
                    .expect("current database");
                let admin = storage_mysql::test_support::RawClient::connect(&mysql_uri(), 1)
                    .await
                    .unwrap_or_else(|e| panic!("MariaDB/MySQL admin connection: {e}"));
                let spare = mysql_ids(&admin, &database).await;
                let mut u = ConnectionUri::parse(&mysql_uri()).expect("MYSQL_TEST_URI");
                u.path = database.clone();
                let uri = u.expose();
                let storage = storage_api::open(&uri, options)
                    .await
                    .unwrap_or_else(|e| panic!("open a second MariaDB/MySQL storage: {e}"));
                Target {
                    storage,
                    uri,
                    app: None,
                    kill: Kill::Mysql {
                        admin,
                        database,
                        spare,
                    },
                }
            }
            other => panic!("no killable storage for backend {other}"),
        }
    }

    /// Whether [`Target::kill_all`] can kill anything (false on SQLite).
    pub fn has_server(&self) -> bool {
        !matches!(self.kill, Kill::None)
    }

    /// Kills every server connection of the storage; returns how many the server
    /// reports killed (PostgreSQL: `pg_terminate_backend` true, the backend existed
    /// and was sent SIGTERM; MariaDB/MySQL: `KILL CONNECTION` statements that
    /// succeeded, the connection existed). Whether the kills hurt is for the test to
    /// show (calls that failed).
    pub async fn kill_all(&self) -> usize {
        match &self.kill {
            Kill::None => 0,
            Kill::Postgres { admin, app } => {
                let n: i64 = admin
                    .query_one(
                        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) AS gone \
                         FROM pg_stat_activity WHERE application_name = $1 \
                         AND pid <> pg_backend_pid()) k WHERE k.gone",
                        &[app],
                    )
                    .await
                    .expect("pg_terminate_backend")
                    .get(0);
                n as usize
            }
            Kill::Mysql {
                admin,
                database,
                spare,
            } => {
                let mut n = 0;
                for id in mysql_ids(admin, database).await {
                    if spare.contains(&id) {
                        continue;
                    }
                    // The connection may have ended meanwhile (error 1094): not counted.
                    if admin
                        .execute(&format!("KILL CONNECTION {id}"))
                        .await
                        .is_ok()
                    {
                        n += 1;
                    }
                }
                n
            }
        }
    }

    /// Closes the storage (not the harness's).
    pub async fn close(&self) {
        if self.has_server() {
            self.storage.close().await;
        }
    }
}

async fn mysql_ids(
    admin: &storage_mysql::test_support::RawClient,
    database: &str,
) -> HashSet<String> {
    admin
        .query(&format!(
            "SELECT id FROM information_schema.processlist WHERE db = '{database}' \
             AND id <> CONNECTION_ID()"
        ))
        .await
        .expect("information_schema.processlist")
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

/// When a server started, as it says itself.
#[derive(Clone, Debug)]
pub struct ServerStart {
    /// The server's start time, microseconds since the epoch (MariaDB/MySQL: its clock
    /// minus `Uptime`, to the second).
    pub start_us: i64,
    /// The server's clock when it was asked, microseconds since the epoch.
    pub now_us: i64,
    /// As printed: PostgreSQL `pg_postmaster_start_time()`, MariaDB/MySQL
    /// `Uptime=<seconds>`.
    pub shown: String,
    /// PostgreSQL: how many connections of `application_name` the storage has on
    /// this server, all opened after its start (0 elsewhere).
    pub storage_connections: i64,
}

/// Reads when the server behind `uri` started, over a raw connection opened from
/// that URI string (the storage's own URI parsing); `app` is the storage's
/// `application_name` on PostgreSQL, to count its connections there. `None` on
/// SQLite (no server).
pub async fn server_start(backend: &str, uri: &str, app: Option<&str>) -> Option<ServerStart> {
    match backend {
        "postgresql" => {
            let c = storage_postgres::connect_client(uri)
                .await
                .unwrap_or_else(|e| panic!("raw connection through the storage's URI: {e}"));
            let row = c
                .query_one(
                    "SELECT (extract(epoch FROM pg_postmaster_start_time()) * 1e6)::bigint, \
                     (extract(epoch FROM clock_timestamp()) * 1e6)::bigint, \
                     pg_postmaster_start_time()::text, \
                     (SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 \
                      AND pid <> pg_backend_pid() \
                      AND backend_start >= pg_postmaster_start_time())",
                    &[&app.unwrap_or("")],
                )
                .await
                .expect("pg_postmaster_start_time()");
            Some(ServerStart {
                start_us: row.get(0),
                now_us: row.get(1),
                shown: row.get::<_, String>(2).replace(' ', "T"),
                storage_connections: row.get(3),
            })
        }
        "mysql" => {
            let c = storage_mysql::test_support::RawClient::connect(uri, 1)
                .await
                .unwrap_or_else(|e| panic!("raw connection through the storage's URI: {e}"));
            let rows = c
                .query(
                    "SELECT UNIX_TIMESTAMP(), VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
                     WHERE VARIABLE_NAME = 'UPTIME'",
                )
                .await
                .expect("Uptime");
            c.close().await;
            let num = |i: usize| -> i64 {
                rows[0][i]
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .expect("a number")
            };
            let (now, uptime) = (num(0), num(1));
            Some(ServerStart {
                start_us: (now - uptime) * 1_000_000,
                now_us: now * 1_000_000,
                shown: format!("Uptime={uptime}"),
                storage_connections: 0,
            })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------- reads

/// Sessions and users whose writes were acknowledged, for the reads to look up.
#[derive(Default)]
pub struct Known {
    /// Sessions as written.
    sessions: Mutex<Vec<NewSession>>,
    /// (email, user id) of users signed up.
    users: Mutex<Vec<(String, String)>>,
}

/// A write to remember once it is acknowledged.
pub enum Ack {
    /// A session as written.
    Session(NewSession),
    /// (email, user id) of a user signed up.
    User(String, String),
}

impl Known {
    /// Remembers an acknowledged write.
    pub fn note(&self, ack: Ack) {
        match ack {
            Ack::Session(s) => self.sessions.lock().unwrap().push(s),
            Ack::User(e, id) => self.users.lock().unwrap().push((e, id)),
        }
    }

    /// A random acknowledged session.
    pub fn session(&self, rng: &mut Rng) -> NewSession {
        let v = self.sessions.lock().unwrap();
        v[rng.below(v.len() as u64) as usize].clone()
    }

    /// A random acknowledged user: (email, user id).
    pub fn user(&self, rng: &mut Rng) -> (String, String) {
        let v = self.users.lock().unwrap();
        v[rng.below(v.len() as u64) as usize].clone()
    }

    /// Signs up a few users and creates a few sessions, so that the reads have
    /// something to find from the start.
    pub async fn seed(&self, storage: &Arc<dyn Storage>, t: &TenantIdentifier) {
        for _ in 0..4 {
            let i = ep_input(t, &email(), 1);
            storage.sign_up_email_password(&i).await.unwrap();
            self.note(Ack::User(i.email.clone(), i.user_id.clone()));
            let s = session(t, &i.user_id);
            storage.create_session(&s).await.unwrap();
            self.note(Ack::Session(s));
        }
    }
}

/// `get_session` of `want`: `None` if it returned exactly that session.
pub fn judge_session(want: &NewSession, got: Option<Session>) -> Option<String> {
    match got {
        Some(s)
            if s.handle == want.handle
                && s.user_id == want.user_id
                && s.refresh_token_hash == want.refresh_token_hash
                && s.session_data == want.session_data
                && s.expires_at == want.expires_at =>
        {
            None
        }
        other => Some(format!(
            "get_session {} (user {}) returned {other:?}",
            want.handle, want.user_id
        )),
    }
}

/// `list_users_by_email` of `email`: `None` if it returned exactly user `id`.
pub fn judge_user(email: &str, id: &str, got: Vec<User>) -> Option<String> {
    let ok = got.len() == 1
        && got[0].id == id
        && got[0]
            .login_methods
            .iter()
            .any(|m| m.email.as_deref() == Some(email));
    (!ok).then(|| {
        format!(
            "list_users_by_email {email} (user {id}) returned {:?}",
            got.iter().map(|u| &u.id).collect::<Vec<_>>()
        )
    })
}

/// Asserts that every kind of operation in `kinds` succeeded at least `min` times
/// (`ok_of(kind)`): a fault load whose successes dried up proves nothing about them.
pub fn assert_kinds_succeeded(
    backend: &str,
    kinds: &[&str],
    ok_of: impl Fn(&str) -> usize,
    min: usize,
) {
    let thin: Vec<String> = kinds
        .iter()
        .filter(|kind| ok_of(kind) < min)
        .map(|kind| format!("{kind}: {}", ok_of(kind)))
        .collect();
    assert!(
        thin.is_empty(),
        "kinds of operation that succeeded fewer than {min} times on {backend}: {}",
        thin.join(", ")
    );
}

/// Asserts that no read returned wrong data (`wrong`: one description per wrong
/// read), naming `when` (`under faults on mysql`) and the first five.
pub fn assert_no_wrong_reads<'a>(when: &str, wrong: impl IntoIterator<Item = &'a String>) {
    let wrong: Vec<&str> = wrong.into_iter().map(String::as_str).collect();
    assert!(
        wrong.is_empty(),
        "{} reads returned wrong data {when}, the first ones:\n  {}",
        wrong.len(),
        wrong
            .iter()
            .take(5)
            .copied()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}
