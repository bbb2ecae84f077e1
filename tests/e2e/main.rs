//! End-to-end tests: each starts the real server (the same `Application` that `gatehouse serve`
//! runs) on port 0 with a fresh database, and speaks HTTP to it. Every test runs on SQLite, and on
//! PostgreSQL when `GATEHOUSE_TEST_POSTGRES` names a server (each test gets its own database).

#[macro_use]
mod helpers;

mod appmixer;
mod argon;
mod audit;
mod browser;
mod cli;
mod console;
mod cross_dialect;
mod dashboard_breaks;
mod deploy;
mod edge;
mod forward_auth;
mod foundation;
mod hostile_input;
mod import;
mod input_normalisation;
mod introspection;
mod isolation_matrix;
mod mail;
mod mail_delivery;
mod mail_safety;
mod moving;
mod multinode;
mod operator;
mod readme;
mod resilience;
mod revocation;
mod secrets_at_rest;
mod seed;
mod signin_limits;
mod third_review;
mod tiledesk;
mod tiledesk_frontend;
mod wellknown;
