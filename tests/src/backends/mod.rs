//! One test factory per backend: how a test gets its own database.

pub mod mysql;
pub mod postgres;
pub mod sqlite;
