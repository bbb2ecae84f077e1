//! A database that goes away and comes back: requests answer 503 (never hang, never panic) while
//! it is gone, and the node recovers by itself. PostgreSQL only: the test cuts a TCP proxy that
//! stands between the gateway and the server. (An embedded SQLite file cannot go away this way.)

use crate::helpers::*;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy to 127.0.0.1:5432 that can be cut (listener closed, every connection dropped) and
/// restored on the same port.
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(port: u16) -> Proxy {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(([127, 0, 0, 1], port).into()).unwrap();
        let listener = socket.listen(64).unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let inner = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect("127.0.0.1:5432").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                inner.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Proxy { port, tasks }
    }

    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_gives_503_and_the_node_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let Some(direct) = fresh_db(Backend::Postgres, &dir).await else {
        eprintln!("skipped: no PostgreSQL server");
        return;
    };
    let proxy = Proxy::start(0).await;
    let proxied = direct.replacen(":5432/", &format!(":{}/", proxy.port), 1);
    assert_ne!(proxied, direct, "the test URL must go through the proxy");
    let app = spawn_app_at(Backend::Postgres, dir, proxied, "").await;
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
