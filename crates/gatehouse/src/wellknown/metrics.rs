//! Forward-auth outcomes by reason (`gatehouse_forward_auth_total{outcome}`), for `/metrics`.

use prometheus::{IntCounterVec, Opts, Registry};

/// Why `/auth/verify` answered as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    /// No `Authorization: JWT|Bearer ...`.
    Missing,
    /// Bad signature, unknown or retired kid, wrong algorithm, another tenant, malformed, or a
    /// token ended by logout or revocation (core counts those in its own metric).
    Invalid,
    Expired,
    /// A valid token that names no user of an enabled dialect (a guest token, an upstream token).
    NotAUserToken,
    /// The user is disabled or deleted, or ended every token issued before this one.
    UserRefused,
    /// The proxy pinned another tenant (`?tenant=`) than the one the `Host` names.
    WrongTenant,
    /// The database did not answer.
    Unavailable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Missing => "missing_token",
            Outcome::Invalid => "invalid_token",
            Outcome::Expired => "expired_token",
            Outcome::NotAUserToken => "not_a_user_token",
            Outcome::UserRefused => "user_refused",
            Outcome::WrongTenant => "wrong_tenant",
            Outcome::Unavailable => "unavailable",
        }
    }
}

pub struct VerifyMetrics {
    outcomes: IntCounterVec,
}

impl VerifyMetrics {
    pub fn new(registry: &Registry) -> VerifyMetrics {
        let outcomes = IntCounterVec::new(
            Opts::new(
                "gatehouse_forward_auth_total",
                "Forward-auth (/auth/verify) answers by outcome",
            ),
            &["outcome"],
        )
        .expect("static metric definition");
        // A second app on one registry (tests) finds the metric registered: that is fine.
        let _ = registry.register(Box::new(outcomes.clone()));
        VerifyMetrics { outcomes }
    }

    pub fn count(&self, outcome: Outcome) {
        self.outcomes.with_label_values(&[outcome.as_str()]).inc();
    }
}
