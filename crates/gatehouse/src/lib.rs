//! The Gatehouse binary as a library, so end-to-end tests start the very server `gatehouse serve`
//! starts: configuration, the command line, Host -> tenant resolution, both facades, and the
//! operations endpoints.

pub mod admin_listener;
pub mod app;
pub mod audit_cli;
pub mod body_deadline;
pub mod cli;
pub mod cli_migrate;
pub mod client_limit;
pub mod config;
pub mod cors;
pub mod forwarded;
pub mod gateway_error;
pub mod head;
pub mod healthcheck;
pub mod introspection_cli;
pub mod metrics_listener;
pub mod normalize;
pub mod openapi;
pub mod ops;
pub mod reference;
pub mod telemetry;
pub mod tenancy;
pub mod wellknown;

pub use app::Application;
pub use config::Config;
