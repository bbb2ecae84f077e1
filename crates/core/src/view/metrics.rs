//! The view's figures: cache hits and misses, token-check refusals by reason, revocations, and the
//! observed lag of the change feed (now minus the change's time, when a node applies it).

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

#[derive(Clone)]
pub struct ViewMetrics {
    /// `lookups{result="hit"}` and `{result="miss"}`, bound once: a token check does no label lookup.
    pub lookup_hits: IntCounter,
    pub lookup_misses: IntCounter,
    pub token_refusals: IntCounterVec,
    pub revocations: IntCounterVec,
    pub revoked_held: IntGauge,
    pub change_lag: HistogramVec,
}

impl ViewMetrics {
    pub fn new(registry: &Registry) -> ViewMetrics {
        let lookups = IntCounterVec::new(
            Opts::new(
                "gatehouse_view_user_lookups_total",
                "Token checks' user lookups in the view, by result (hit: no database)",
            ),
            &["result"],
        )
        .expect("static metric definition");
        let token_refusals = IntCounterVec::new(
            Opts::new(
                "gatehouse_token_refusals_total",
                "Signed, unexpired tokens refused by the view, by reason",
            ),
            &["reason"],
        )
        .expect("static metric definition");
        let revocations = IntCounterVec::new(
            Opts::new(
                "gatehouse_revocations_total",
                "Tokens ended on this node, by kind (token: one jti; user: all earlier tokens of a user)",
            ),
            &["kind"],
        )
        .expect("static metric definition");
        let revoked_held = IntGauge::new(
            "gatehouse_revoked_tokens_held",
            "Revoked, not yet expired tokens held in memory",
        )
        .expect("static metric definition");
        let change_lag = HistogramVec::new(
            HistogramOpts::new(
                "gatehouse_change_lag_seconds",
                "Observed lag of the change feed: now minus the change's time when this node applied it",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["source"],
        )
        .expect("static metric definition");
        for collector in [
            Box::new(lookups.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(token_refusals.clone()),
            Box::new(revocations.clone()),
            Box::new(revoked_held.clone()),
            Box::new(change_lag.clone()),
        ] {
            // A second core on one registry (tests) finds the metric registered: that is fine.
            let _ = registry.register(collector);
        }
        ViewMetrics {
            lookup_hits: lookups.with_label_values(&["hit"]),
            lookup_misses: lookups.with_label_values(&["miss"]),
            token_refusals,
            revocations,
            revoked_held,
            change_lag,
        }
    }
}
