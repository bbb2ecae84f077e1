//! gatehouse-core: tenants, users, projects, passwords, tokens, settings and storage.
//! Knows nothing of HTTP nor of either wire dialect; the facades translate to and from it.

pub mod audit;
pub mod bcrypt_verify;
pub mod clock;
pub mod context;
pub mod error;
pub mod hash_pool;
pub mod heap;
pub mod ids;
pub mod introspection;
pub mod lockout;
pub mod mail;
pub mod master_key;
pub mod metrics;
pub mod migrate;
pub mod operator;
pub mod outbound;
pub mod password;
pub mod projects;
pub mod ratelimit;
pub mod reseal;
pub mod revocation;
pub mod sealed;
pub mod secret;
pub mod seed;
pub mod service;
pub mod settings;
pub mod settings_doc;
pub mod signup_policy;
pub mod storage;
pub mod strict_json;
pub mod tenant_admin;
pub mod tenants;
pub mod token;
pub mod user_list;
pub mod users;
pub mod validated;
pub mod view;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use context::RequestContext;
pub use error::{AuthFailure, CoreError, CoreResult};
pub use hash_pool::HashingLimits;
pub use service::{Core, CoreOptions};
pub use settings::Settings;
pub use tenants::{Api, Tenant};
pub use validated::{Email, Password, Scope, TenantSlug, Username, Vendor};
