//! Storage: one schema and one set of diesel queries serving SQLite and PostgreSQL through a
//! `MultiConnection`, pooled by r2d2, always run off the async workers.

pub mod db;
pub mod models;
pub mod schema;

pub use db::{Access, AnyConnection, Db, DbUrl, APP_ROLE};
