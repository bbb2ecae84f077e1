//! Raw bcrypt verifications a second with the `bcrypt` crate Gatehouse uses, built with the same
//! profile, on THREADS threads at once: what sign-ins per second are measured against.
//!
//! Usage: `bcrypt-rate COST SECONDS [THREADS]` (THREADS defaults to every core). Prints one line:
//! `verifies_per_s=N threads=T cost=C`.

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let threads: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let password = "bench-password";
    let hash = match bcrypt::hash(password, cost) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("bcrypt-rate: {e}");
            std::process::exit(2);
        }
    };
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let done: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    // Whole verifications only: the last one may end past the deadline, and the
                    // elapsed time below counts it.
                    while Instant::now() < deadline {
                        if bcrypt::verify(password, &hash).unwrap_or(false) {
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let rate = done as f64 / start.elapsed().as_secs_f64();
    println!("verifies_per_s={rate:.1} threads={threads} cost={cost}");
}
