//! Plain SQL on a MySQL / MariaDB database through the text protocol, for tests and
//! admin tasks (creating and dropping test databases, reading rows back, killing
//! connections). Not used by the storage itself.

use crate::config::{Settings, init_session};
use crate::errors;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, Decode, Row as _, ValueRef};
use std::time::Duration;
use storage_api::{ConnectionUri, StorageError};

/// A small pool running raw SQL; every value comes back as text (`None` for NULL).
/// Connections get the same session settings as the storage's (strict mode,
/// `utf8mb4_bin`), and are pinged before reuse.
#[derive(Clone, Debug)]
pub struct RawClient {
    pool: MySqlPool,
    uri: ConnectionUri,
}

impl RawClient {
    /// Connects to the database of `uri` (a `mysql://` or `mariadb://` URI) with at
    /// most `max_connections` connections.
    pub async fn connect(uri: &str, max_connections: u32) -> Result<Self, StorageError> {
        let settings = Settings::from_uri(ConnectionUri::parse(uri)?)?;
        let pool = MySqlPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| Box::pin(async move { init_session(conn).await }))
            .connect_with(settings.connect.clone())
            .await
            .map_err(|e| errors::to_storage(e, &settings.uri))?;
        Ok(Self {
            pool,
            uri: settings.uri,
        })
    }

    /// Runs a query (or several, separated by `;`); the rows of every result set as
    /// text.
    pub async fn query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, StorageError> {
        let rows = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| errors::to_storage(e, &self.uri))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        let v = row
                            .try_get_raw(i)
                            .map_err(|e| StorageError::query(format!("column {i}: {e}")))?;
                        if v.is_null() {
                            return Ok(None);
                        }
                        let bytes = <&[u8] as Decode<sqlx::MySql>>::decode(v)
                            .map_err(|e| StorageError::query(format!("column {i}: {e}")))?;
                        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
                    })
                    .collect()
            })
            .collect()
    }

    /// Runs a statement (or several, separated by `;`); the rows affected.
    pub async fn execute(&self, sql: &str) -> Result<u64, StorageError> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| errors::to_storage(e, &self.uri))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
