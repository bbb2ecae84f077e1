//! The ceiling for bench/run.sh: one actix-web route that does nothing (no tenant, no token, no
//! database), served with the same worker count as Gatehouse, so the table can say what fraction
//! of the framework's own speed a token-checked read keeps.
//!
//! Usage: `bare ADDR WORKERS` (e.g. `bare 127.0.0.1:18090 2`).

use actix_web::{web, App, HttpResponse, HttpServer};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:18090".into());
    let workers = args
        .next()
        .and_then(|w| w.parse::<usize>().ok())
        .filter(|w| *w > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| {
            App::new().route(
                "/",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(r#"{"ok":true}"#)
                }),
            )
        })
        .workers(workers)
        .bind(&bind)?
        .run()
        .await
    })
}
