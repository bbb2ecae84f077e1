//! The batching writer: a bounded queue and one thread that inserts what it finds there in one
//! transaction per batch. Recording is a `try_send`: a request never waits on the audit table, and
//! a full queue (the database far behind or down) drops the event and counts it.
//!
//! Crash-loss bound: events live only in memory until their batch commits (at most
//! `AUDIT_LINGER` after they happen, unless the database is behind), so a crash loses at most
//! `AUDIT_QUEUE` queued events plus the `AUDIT_BATCH` being written; a clean shutdown and every
//! CLI command flush first. A failed insert drops its batch (counted).

use super::store;
use crate::error::{CoreError, CoreResult};
use crate::storage::models::AuditRow;
use crate::storage::Db;
use prometheus::{IntCounterVec, Opts, Registry};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// Events that may wait in memory for the writer.
pub const AUDIT_QUEUE: usize = 10_000;
/// Events written in one transaction at most.
pub const AUDIT_BATCH: usize = 500;
/// How long the writer gathers events before it writes them (unless flushed or full).
pub const AUDIT_LINGER: Duration = Duration::from_secs(1);

enum Message {
    Event(Box<AuditRow>),
    /// Answered once everything sent before it is written (or dropped).
    Flush(tokio::sync::oneshot::Sender<()>),
    /// A flush, after which the writer's thread ends (events recorded later are dropped).
    Stop(tokio::sync::oneshot::Sender<()>),
}

pub struct AuditWriter {
    queue: SyncSender<Message>,
    counts: IntCounterVec,
    /// Joined by `stop`.
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl AuditWriter {
    /// Starts the writer thread; it ends when the last `AuditWriter` clone's sender is dropped.
    pub fn start(db: Db, registry: &Registry) -> AuditWriter {
        let counts = IntCounterVec::new(
            Opts::new(
                "gatehouse_audit_events_total",
                "Audit events by what became of them: written, dropped (queue full), failed (insert error)",
            ),
            &["result"],
        )
        .expect("static metric definition");
        // A second core on one registry (tests) finds it registered: that is fine.
        let _ = registry.register(Box::new(counts.clone()));
        let (queue, rx) = mpsc::sync_channel(AUDIT_QUEUE);
        let thread_counts = counts.clone();
        let spawned = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_loop(&db, &rx, &thread_counts));
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(e) => {
                // Without its thread, every event is dropped at `submit` (the receiver is gone).
                log::error!("cannot start the audit writer: {e}");
                None
            }
        };
        AuditWriter {
            queue,
            counts,
            thread: std::sync::Mutex::new(thread),
        }
    }

    pub(crate) fn submit(&self, row: AuditRow) {
        match self.queue.try_send(Message::Event(Box::new(row))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counts.with_label_values(&["dropped"]).inc();
            }
        }
    }

    pub(crate) async fn flush(&self) -> CoreResult<()> {
        self.send_and_wait(Message::Flush).await
    }

    /// Writes what is queued, then ends the writer's thread and waits for it (a server's last act).
    pub(crate) async fn stop(&self) -> CoreResult<()> {
        self.send_and_wait(Message::Stop).await?;
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| CoreError::Internal(format!("audit stop: {e}")))?
                .map_err(|_| CoreError::Internal("the audit writer panicked".into()))?;
        }
        Ok(())
    }

    async fn send_and_wait(
        &self,
        message: fn(tokio::sync::oneshot::Sender<()>) -> Message,
    ) -> CoreResult<()> {
        let (ack, done) = tokio::sync::oneshot::channel();
        let queue = self.queue.clone();
        // A blocking send: a flush waits for room in a full queue rather than being dropped.
        tokio::task::spawn_blocking(move || queue.send(message(ack)))
            .await
            .map_err(|e| CoreError::Internal(format!("audit flush: {e}")))?
            .map_err(|_| CoreError::Internal("the audit writer has stopped".into()))?;
        done.await
            .map_err(|_| CoreError::Internal("the audit writer has stopped".into()))
    }

    /// Events counted under `result` (`written`, `dropped`, `failed`) so far.
    pub fn count(&self, result: &str) -> u64 {
        self.counts.with_label_values(&[result]).get()
    }
}

fn write_loop(db: &Db, rx: &Receiver<Message>, counts: &IntCounterVec) {
    let mut batch: Vec<AuditRow> = Vec::with_capacity(AUDIT_BATCH);
    let mut acks = Vec::new();
    let mut stopping = false;
    // Blocks for the first message, then gathers for up to `AUDIT_LINGER` (a flush or a full
    // batch ends the wait): one commit a second at most under a trickle of events. On SQLite each
    // commit can end another connection's read-then-write transaction with "database is locked"
    // (its snapshot went stale), so fewer, later commits matter there.
    while let Ok(first) = rx.recv() {
        let deadline = Instant::now() + AUDIT_LINGER;
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Event(row) => batch.push(*row),
                Message::Flush(ack) => acks.push(ack),
                Message::Stop(ack) => {
                    acks.push(ack);
                    stopping = true;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            next = if batch.len() < AUDIT_BATCH && acks.is_empty() && !left.is_zero() {
                // A timeout or a closed queue both end the batch.
                rx.recv_timeout(left).ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            let n = batch.len() as u64;
            match db.run_here(|c| store::insert(c, &batch)) {
                Ok(()) => counts.with_label_values(&["written"]).inc_by(n),
                Err(e) => {
                    counts.with_label_values(&["failed"]).inc_by(n);
                    log::warn!("writing {n} audit events failed, they are lost: {e}");
                }
            }
            batch.clear();
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
        if stopping {
            return;
        }
    }
}
