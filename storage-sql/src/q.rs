//! Small helpers every domain uses: prefixed table names, building and running a
//! statement, and the retrying transaction wrapper for multi-statement writes.

use crate::conn::{Conn, DbError, Dialect, Row};
use sea_query::{Alias, QueryStatementWriter};
use storage_api::{AppId, StorageError, TenantIdentifier};

/// Statement context: dialect and table prefix.
#[derive(Clone, Copy)]
pub(crate) struct Q<'a> {
    pub d: Dialect,
    pub p: &'a str,
}

impl Q<'_> {
    /// A table name with the prefix.
    pub fn t(&self, base: &str) -> Alias {
        Alias::new(format!("{}{}", self.p, base))
    }

    /// Builds and runs a statement that returns no rows.
    pub async fn exec<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        stmt: &S,
    ) -> Result<u64, DbError> {
        let (sql, values) = self.d.build(stmt);
        c.execute(&sql, values).await
    }

    /// Builds and runs a query.
    pub async fn fetch<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        stmt: &S,
    ) -> Result<Vec<Row>, StorageError> {
        let (sql, values) = self.d.build(stmt);
        c.fetch(&sql, values).await.map_err(DbError::into_storage)
    }

    /// Builds and runs a query expected to return at most one row.
    pub async fn fetch_opt<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        stmt: &S,
    ) -> Result<Option<Row>, StorageError> {
        Ok(self.fetch(c, stmt).await?.into_iter().next())
    }

    /// Runs a statement whose constraint failures have no special meaning.
    pub async fn run<C: Conn, S: QueryStatementWriter>(
        &self,
        c: &mut C,
        stmt: &S,
    ) -> Result<u64, StorageError> {
        self.exec(c, stmt).await.map_err(DbError::into_storage)
    }
}

/// Column name.
pub(crate) fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

/// The `TenantOrAppNotFound` error of a tenant.
pub(crate) fn no_tenant(t: &TenantIdentifier) -> StorageError {
    StorageError::TenantOrAppNotFound(storage_api::TenantOrApp::Tenant(t.clone()))
}

/// The `TenantOrAppNotFound` error of an app.
pub(crate) fn no_app(a: &AppId) -> StorageError {
    StorageError::TenantOrAppNotFound(storage_api::TenantOrApp::App(a.clone()))
}

/// Runs `$body` (which uses `$c: &mut D::Conn` and `$q: Q`) on a pooled connection
/// without a transaction.
macro_rules! with_conn {
    ($self:ident, |$c:ident, $q:ident| $body:expr) => {{
        let mut conn = $self.driver.acquire().await?;
        let $c = &mut conn;
        let $q = $crate::q::Q {
            d: $self.driver.dialect(),
            p: $self.driver.table_prefix(),
        };
        $body
    }};
}

/// Runs `$body` in a write transaction on a pooled connection, retrying the whole
/// transaction with jittered backoff on `Retryable` errors.
macro_rules! in_tx {
    ($self:ident, |$c:ident, $q:ident| $body:expr) => {{
        let options = storage_api::TxOptions::default();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result: Result<_, storage_api::StorageError> = async {
                let mut conn = $self.driver.acquire().await?;
                conn.begin(storage_api::Isolation::Default, true).await?;
                let $q = $crate::q::Q {
                    d: $self.driver.dialect(),
                    p: $self.driver.table_prefix(),
                };
                let out = {
                    let $c = &mut conn;
                    async { $body }.await
                };
                match out {
                    Ok(v) => {
                        conn.commit().await?;
                        Ok(v)
                    }
                    Err(e) => {
                        let _ = conn.rollback().await;
                        Err(e)
                    }
                }
            }
            .await;
            match result {
                Err(e) if e.is_retryable() && attempt < options.max_attempts => {
                    tokio::time::sleep(options.backoff(attempt)).await;
                }
                other => break other,
            }
        }
    }};
}

pub(crate) use {in_tx, with_conn};
