//! The PostgreSQL side of the change feed: a dedicated thread holds its own connection, `LISTEN`s
//! on `gatehouse_changes` and hands each change to the async side, which applies it to the view.
//! diesel's `PgConnection` cannot wait on a socket asynchronously, and `notifications_iter` does
//! not block: the thread asks it every `POLL`, which keeps the lag far under a second for the cost
//! of a non-blocking read. When the connection fails, the thread reconnects and asks for a reload
//! (`Event::Gap`) and reads the feed, since notifications sent meanwhile are lost.

use super::change::{Change, CHANNEL};
use super::sync::Source;
use crate::service::Core;
use crate::storage::DbUrl;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::mpsc;

const POLL: Duration = Duration::from_millis(25);
const RETRY: Duration = Duration::from_secs(1);

enum Event {
    Change(Change),
    /// The listener (re)connected: changes may have been missed while it was away.
    Gap,
}

/// The running listener: `stop` ends its thread and waits for it, so that no connection is in use
/// when the process exits.
pub struct Listener {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Listener {
    /// Ends the thread (within `POLL`, or `RETRY` while it waits to reconnect) and joins it.
    /// Blocking.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        if self.thread.join().is_err() {
            log::warn!("the change listener's thread panicked");
        }
    }
}

/// Starts the listener when the database is PostgreSQL; on SQLite the polled feed is the only way.
/// The thread ends at `Listener::stop`, or when the task that applies its events ends (the
/// runtime stopped).
pub fn spawn(core: Arc<Core>) -> Option<Listener> {
    let DbUrl::Postgres(url) = core.db().url().clone() else {
        return None;
    };
    let url = crate::storage::db::with_pg_defaults(&url, Duration::from_secs(5));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let spawned = std::thread::Builder::new()
        .name("gatehouse-listen".into())
        .spawn(move || listen(&url, &tx, &stopping));
    let thread = match spawned {
        Ok(thread) => thread,
        Err(e) => {
            log::error!("cannot start the change listener ({e}); relying on polling");
            return None;
        }
    };
    tokio::spawn(async move {
        let mut first = true;
        while let Some(event) = rx.recv().await {
            let result = match event {
                Event::Change(c) => core.apply_changes(vec![c], Source::Notify).await,
                // Changes made before LISTEN took effect were not announced to this node: read
                // them from the feed. After a lost connection, also reload what the view holds.
                Event::Gap if first => core.sync_changes().await,
                Event::Gap => match core.reload_view().await {
                    Ok(()) => core.sync_changes().await,
                    Err(e) => Err(e),
                },
            };
            first = false;
            if let Err(e) = result {
                log::warn!("applying a change from the feed: {e}");
            }
        }
    });
    Some(Listener { stop, thread })
}

fn listen(url: &str, tx: &mpsc::UnboundedSender<Event>, stop: &AtomicBool) {
    let running = || !tx.is_closed() && !stop.load(Ordering::SeqCst);
    while running() {
        let mut conn = match PgConnection::establish(url) {
            Ok(conn) => conn,
            Err(e) => {
                log::debug!("change listener: cannot connect: {e}");
                std::thread::sleep(RETRY);
                continue;
            }
        };
        if let Err(e) = diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn) {
            log::debug!("change listener: LISTEN failed: {e}");
            std::thread::sleep(RETRY);
            continue;
        }
        if tx.send(Event::Gap).is_err() {
            return;
        }
        log::debug!("change listener: listening on {CHANNEL}");
        'connected: while running() {
            for note in conn.notifications_iter() {
                match note {
                    Ok(n) => match Change::from_payload(&n.payload) {
                        Some(c) => {
                            if tx.send(Event::Change(c)).is_err() {
                                return;
                            }
                        }
                        None => log::warn!("change listener: unreadable payload ignored"),
                    },
                    Err(e) => {
                        log::warn!("change listener: connection lost ({e}); reconnecting");
                        break 'connected;
                    }
                }
            }
            std::thread::sleep(POLL);
        }
        if running() {
            std::thread::sleep(RETRY);
        }
    }
}
