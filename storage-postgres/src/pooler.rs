//! Statements through a transaction-mode pooler (PgBouncer 1.18 `pool_mode =
//! transaction`, `?pooler=transaction`): between two transactions the pooler may
//! hand the client's next statement to another server connection, so nothing may
//! outlive a transaction on the server: no named prepared statement, no session
//! setting, no session-level advisory lock.
//!
//! A statement runs as one unnamed Parse/Bind/Execute/Sync round trip, with the
//! parameter types the server inferred for it. Those types are learnt once per SQL
//! text and storage, by preparing the statement inside a transaction (so the named
//! statement used to learn them is created and closed on one server connection),
//! and cached in the storage.

use crate::conn::Param;
use futures_util::TryStreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

/// The parameter types of every statement seen, by SQL text.
#[derive(Debug, Default)]
pub(crate) struct ParamTypes(Mutex<HashMap<String, Arc<[Type]>>>);

impl ParamTypes {
    fn get(&self, sql: &str) -> Option<Arc<[Type]>> {
        self.0.lock().ok().and_then(|m| m.get(sql).cloned())
    }

    fn put(&self, sql: &str, types: Arc<[Type]>) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(sql.to_owned(), types);
        }
    }
}

/// Prepares `sql` to read its parameter types, inside a transaction of its own
/// unless `in_tx` (the caller's is open). The statement is closed before the
/// transaction ends.
async fn learn(
    client: &Client,
    in_tx: bool,
    sql: &str,
) -> Result<Arc<[Type]>, tokio_postgres::Error> {
    if !in_tx {
        client.batch_execute("BEGIN").await?;
    }
    // Dropping the statement queues its Close ahead of COMMIT.
    let types = client.prepare(sql).await.map(|s| Arc::from(s.params()));
    if !in_tx {
        let end = client
            .batch_execute(if types.is_ok() { "COMMIT" } else { "ROLLBACK" })
            .await;
        if types.is_ok() {
            end?;
        }
    }
    types
}

/// Runs `sql` with `params` as one unnamed statement: its rows and the number of
/// rows it affected.
pub(crate) async fn run(
    client: &Client,
    in_tx: bool,
    cache: &ParamTypes,
    sql: &str,
    params: &[Param<'_>],
) -> Result<(Vec<Row>, u64), tokio_postgres::Error> {
    let types = match cache.get(sql) {
        Some(t) => t,
        None => {
            let t = learn(client, in_tx, sql).await?;
            cache.put(sql, t.clone());
            t
        }
    };
    let stream = client
        .query_typed_raw(
            sql,
            params
                .iter()
                .zip(types.iter())
                .map(|(p, t)| (p as &(dyn ToSql + Sync), t.clone())),
        )
        .await?;
    let mut stream = std::pin::pin!(stream);
    let mut rows = Vec::new();
    while let Some(row) = stream.try_next().await? {
        rows.push(row);
    }
    let affected = stream.rows_affected().unwrap_or(0);
    Ok((rows, affected))
}
