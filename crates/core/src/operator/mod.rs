//! The operator's operations: API keys, tenants beyond creation, and the sign-in limit of the
//! console. The operator API, the console and the CLI call these (one path, several doors).

pub mod keys;
pub mod seed;
pub mod tenants;
pub mod users;

use crate::error::{CoreError, CoreResult};
use crate::ratelimit::{Subject, MINUTE_MS};
use crate::service::Core;
use std::net::IpAddr;

pub use keys::{OperatorKey, KEY_PREFIX};
pub use tenants::{TenantPage, TenantPatch};
pub use users::OperatorNewUser;

/// Console sign-in attempts (operator key or tenant admin password) per client address a minute.
pub const CONSOLE_SIGNINS_PER_MINUTE: u32 = 10;

/// The limiter's "tenant" for the console's counters: not a slug, so it meets no tenant's.
const CONSOLE: &str = "<console>";

impl Core {
    /// Counts one console sign-in attempt from `ip`: `RateLimited` past
    /// `CONSOLE_SIGNINS_PER_MINUTE` in the current minute.
    pub fn check_console_signin(&self, ip: IpAddr) -> CoreResult<()> {
        let allowed = self.limiter.allow_subject(
            CONSOLE,
            Subject::SigninFailure(ip),
            CONSOLE_SIGNINS_PER_MINUTE,
            MINUTE_MS,
            self.now_ms(),
        );
        if allowed {
            Ok(())
        } else {
            Err(CoreError::RateLimited)
        }
    }
}
