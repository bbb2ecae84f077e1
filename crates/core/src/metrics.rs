//! The figures core itself produces (sign-in outcomes, hashing-pool queue depth), registered into
//! the registry that the binary serves at `/metrics`. Sign-in outcomes are success, failure
//! (unknown account and wrong password alike), locked and disabled: no label tells which accounts exist.

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct CoreMetrics {
    pub signins: IntCounterVec,
    pub hash_queue_depth: IntGauge,
    pub hash_in_flight: IntGauge,
    pub hash_jobs: prometheus::IntCounter,
    /// The work of every hash computed (made or verified), by kind: what sign-in timing is made
    /// of, counted so that "an unknown account costs what a known one does" can be checked
    /// exactly rather than on a clock.
    pub hash_work: IntCounterVec,
}

impl CoreMetrics {
    pub fn new(registry: &Registry) -> Self {
        let signins = IntCounterVec::new(
            Opts::new("gatehouse_signins_total", "Password sign-ins by outcome"),
            &["outcome"],
        )
        .expect("static metric definition");
        let hash_queue_depth = IntGauge::new(
            "gatehouse_hash_queue_depth",
            "bcrypt jobs waiting for a hashing thread",
        )
        .expect("static metric definition");
        let hash_in_flight = IntGauge::new(
            "gatehouse_hash_in_flight",
            "bcrypt jobs running on the hashing pool",
        )
        .expect("static metric definition");
        let hash_jobs = prometheus::IntCounter::new(
            "gatehouse_hash_jobs_total",
            "bcrypt hashes and verifications run (dummy verifications for unknown accounts included)",
        )
        .expect("static metric definition");
        let hash_work = IntCounterVec::new(
            Opts::new(
                "gatehouse_hash_work_total",
                "Work of the password hashes computed: bcrypt 2^cost, argon2id KiB x iterations",
            ),
            &["kind"],
        )
        .expect("static metric definition");
        for collector in [
            Box::new(signins.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(hash_queue_depth.clone()),
            Box::new(hash_in_flight.clone()),
            Box::new(hash_jobs.clone()),
            Box::new(hash_work.clone()),
        ] {
            // A second core on one registry (tests) finds the metric registered: that is fine.
            let _ = registry.register(collector);
        }
        CoreMetrics {
            signins,
            hash_queue_depth,
            hash_in_flight,
            hash_jobs,
            hash_work,
        }
    }

    pub fn signin(&self, outcome: &str) {
        self.signins.with_label_values(&[outcome]).inc();
    }
}
