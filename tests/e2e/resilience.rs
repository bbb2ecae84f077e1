//! A database that goes away (or goes silent) and comes back: requests answer 503 (never hang,
//! never panic) while it is gone, and the node recovers by itself. PostgreSQL only: the test cuts a TCP proxy that
//! stands between the gateway and the server. (An embedded SQLite file cannot go away this way.)

use crate::helpers::*;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy to 127.0.0.1:5432 that can be cut (listener closed, every connection dropped),
/// frozen (connections held open, nothing forwarded: a database gone silent) and restored.
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    frozen: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Proxy {
    async fn start(port: u16) -> Proxy {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(([127, 0, 0, 1], port).into()).unwrap();
        let listener = socket.listen(64).unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let frozen = Arc::new(tokio::sync::watch::channel(false).0);
        let (inner, freeze) = (tasks.clone(), frozen.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut frozen = freeze.subscribe();
                let conn = tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect("127.0.0.1:5432").await else {
                        return;
                    };
                    if !*frozen.borrow() {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => return,
                            _ = frozen.wait_for(|f| *f) => {}
                        }
                    }
                    // Frozen: hold both sockets open and forward nothing, until cut.
                    std::future::pending::<()>().await;
                    drop((client, upstream));
                });
                inner.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Proxy {
            port,
            tasks,
            frozen,
        }
    }

    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn freeze(&self) {
        self.frozen.send_replace(true);
    }
}

/// A fresh PostgreSQL database reached through a proxy, and an app on it.
async fn app_behind_proxy() -> Option<(TestApp, Proxy)> {
    let dir = tempfile::tempdir().unwrap();
    let direct = fresh_db(Backend::Postgres, &dir).await?;
    let proxy = Proxy::start(0).await;
    let proxied = direct.replacen(":5432/", &format!(":{}/", proxy.port), 1);
    assert_ne!(proxied, direct, "the test URL must go through the proxy");
    Some((
        spawn_app_at(Backend::Postgres, dir, proxied, "").await,
        proxy,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_gives_503_and_the_node_recovers() {
    let Some((app, proxy)) = app_behind_proxy().await else {
        eprintln!("skipped: no PostgreSQL server");
        return;
    };
    assert_eq!(app.get(DEMO, "/readyz", None).await.status, 200);

    proxy.cut();
    let started = std::time::Instant::now();
    let r = app.get(DEMO, "/readyz", None).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "readyz hung for {:?}",
        started.elapsed()
    );
    assert_eq!(
        app.get(DEMO, "/healthz", None).await.status,
        200,
        "liveness does not need the database"
    );
    // Both dialects answer 503 in their own shape, promptly.
    let login = json!({"email": "down@example.com", "password": "any-password"});
    let started = std::time::Instant::now();
    let r = app.post(DEMO, "/user/auth", &login).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["statusCode"], 503);
    assert_eq!(r.json()["error"], "Service Unavailable");
    let r = app.post(DEMO, "/v1/auth/signin", &login).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["success"], false);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "requests hung for {:?}",
        started.elapsed()
    );
    // Tenants keep resolving from the last good directory while the database is gone.
    let r = app.get(DEMO, "/v1/__probe__", None).await;
    assert_eq!(r.json()["error"], "not_found");

    let restored = Proxy::start(proxy.port).await;
    let recovered = eventually(20, || async {
        app.get(DEMO, "/readyz", None).await.status == 200
    })
    .await;
    assert!(
        recovered,
        "the node did not recover after the database came back"
    );
    restored.cut();
}

/// A database that stops answering without closing anything (a network partition) must not hang
/// requests: they get 503 once the gateway's own deadline passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_database_gives_503_not_a_hang() {
    let Some((app, proxy)) = app_behind_proxy().await else {
        eprintln!("skipped: no PostgreSQL server");
        return;
    };
    let login = json!({"email": "silent@example.com", "password": "any-password"});
    assert_eq!(app.post(DEMO, "/user/auth", &login).await.status, 403);
    proxy.freeze();
    let started = std::time::Instant::now();
    let (am, td) = tokio::join!(
        app.post(DEMO, "/user/auth", &login),
        app.post(DEMO, "/v1/auth/signin", &login)
    );
    let waited = started.elapsed();
    assert_eq!(am.status, 503, "{}", am.body);
    assert_eq!(td.status, 503, "{}", td.body);
    // connect_timeout_seconds is 3 in the test config; the deadline is that plus 10 s.
    assert!(
        waited < Duration::from_secs(25),
        "requests hung for {waited:?}"
    );
    assert_eq!(app.get(DEMO, "/healthz", None).await.status, 200);
    proxy.cut();
}
