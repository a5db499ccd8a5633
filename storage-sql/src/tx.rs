//! Caller transactions ([`SqlTx`]) and the [`Storage`] impl that ties the domains
//! together.

use crate::SqlStorage;
use crate::conn::{Conn, Driver};
use async_trait::async_trait;
use std::sync::Arc;
use storage_api::{MigrationDriver, Result, Storage, Transaction, TxOptions};

/// An open transaction on one pooled connection. Dropping it without commit returns
/// the connection to the backend, which rolls it back.
pub struct SqlTx<D: Driver> {
    conn: D::Conn,
    driver: Arc<D>,
    templates: Arc<crate::stmt::Templates>,
}

impl<D: Driver> SqlTx<D> {
    /// The connection and the statement context.
    pub(crate) fn parts(&mut self) -> (&mut D::Conn, crate::stmt::Q<'_>) {
        (
            &mut self.conn,
            crate::stmt::Q::new(
                self.driver.dialect(),
                self.driver.table_prefix(),
                &self.templates,
            ),
        )
    }
}

#[async_trait]
impl<D: Driver> Transaction for SqlTx<D> {
    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.commit().await
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        self.conn.rollback().await
    }
}

#[async_trait]
impl<D: Driver> Storage for SqlStorage<D> {
    fn backend_name(&self) -> &'static str {
        D::NAME
    }

    async fn begin(&self, options: &TxOptions) -> Result<Box<dyn Transaction>> {
        let mut conn = self.driver.acquire().await?;
        conn.begin(options.isolation, true).await?;
        Ok(Box::new(SqlTx {
            conn,
            driver: self.driver.clone(),
            templates: self.templates.clone(),
        }))
    }

    async fn migration_driver(&self) -> Result<Box<dyn MigrationDriver>> {
        self.driver.migration_driver().await
    }

    async fn close(&self) {
        self.driver.close().await
    }

    fn pool_health(&self) -> Option<storage_api::PoolHealth> {
        self.driver.pool_health()
    }
}
