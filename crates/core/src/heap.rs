//! The process heap (glibc's malloc, the allocator of the shipped Linux build): what it holds, for
//! the metrics listener, and giving its free pages back to the system.
//!
//! glibc keeps freed memory in its arenas (one per thread that allocated, up to eight per core)
//! and returns it only from the top of each heap. Long-lived allocations made between short-lived
//! ones (a cache entry, a reloaded tenant directory, a batch of audit rows) pin the top, so the
//! resident set creeps up under steady load although the memory in use does not (the ten-minute
//! soak measured it: bench/README.md). `trim` asks glibc to release every free page of every arena
//! (`malloc_trim`), which it does with `madvise`, keeping the address space; the next allocation
//! there faults a zeroed page back in. The server runs it every `TRIM_EVERY` on a blocking thread.

use prometheus::{IntGauge, Registry};
use std::time::Duration;

/// How often the server trims the heap.
pub const TRIM_EVERY: Duration = Duration::from_secs(30);

/// Heap figures on the metrics listener.
#[derive(Clone)]
pub struct HeapMetrics {
    in_use: IntGauge,
    free: IntGauge,
}

impl HeapMetrics {
    pub fn new(registry: &Registry) -> HeapMetrics {
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("static metric definition");
            // A second registration on one registry (tests) is fine.
            let _ = registry.register(Box::new(g.clone()));
            g
        };
        HeapMetrics {
            in_use: gauge(
                "gatehouse_heap_in_use_bytes",
                "Bytes the process holds allocated on its heap (glibc mallinfo2 uordblks + hblkhd)",
            ),
            free: gauge(
                "gatehouse_heap_free_bytes",
                "Bytes free inside the heap's arenas, not yet given back (glibc mallinfo2 fordblks)",
            ),
        }
    }

    /// Gives free heap pages back to the system, then records the heap's figures. Blocking: it
    /// walks every arena under its lock (well under a millisecond for this server's heap).
    pub fn trim_and_record(&self) {
        trim();
        if let Some((in_use, free)) = usage() {
            self.in_use.set(in_use as i64);
            self.free.set(free as i64);
        }
    }
}

/// `malloc_trim(0)`: every free page of every arena back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim() {
    // SAFETY: malloc_trim takes no pointers and may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() {}

/// (bytes allocated, bytes free in the arenas), from glibc's `mallinfo2`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn usage() -> Option<(usize, usize)> {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct by value.
    let info = unsafe { libc::mallinfo2() };
    Some((info.uordblks + info.hblkhd, info.fordblks))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn usage() -> Option<(usize, usize)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_keeps_what_is_in_use_and_reports_it() {
        let metrics = HeapMetrics::new(&Registry::new());
        let kept: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 * 1024]).collect();
        let dropped: Vec<Vec<u8>> = (0..256).map(|_| vec![1u8; 16 * 1024]).collect();
        drop(dropped);
        metrics.trim_and_record();
        // What is still held reads back intact after a trim.
        assert!(kept
            .iter()
            .enumerate()
            .all(|(i, v)| v.iter().all(|b| *b == i as u8)));
        if let Some((in_use, _)) = usage() {
            assert!(
                in_use >= 64 * 64 * 1024,
                "the kept 4 MiB count as in use: {in_use}"
            );
            assert!(metrics.in_use.get() >= 64 * 64 * 1024);
        }
    }
}
