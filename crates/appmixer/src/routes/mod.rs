//! The route table. Each path prefix is one actix scope, so the body limit and the Boom 404/405
//! answers apply to this facade's paths only, not to the other facade mounted beside it.

mod account;
mod audit;
mod config;
mod signin;
mod users;

use crate::body::BODY_LIMIT;
use crate::errors::ApiError;
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use gatehouse_core::Api;

pub fn configure(cfg: &mut web::ServiceConfig, gate: crate::Gate) {
    let gated =
        |s: actix_web::Scope| s.wrap(from_fn(move |req, next| gate(Api::Appmixer, req, next)));
    cfg.service(gated(
        scope("/user")
            .service(
                resource("")
                    .route(web::get().to(account::me))
                    .route(web::post().to(account::create)),
            )
            .service(resource("/auth").route(web::post().to(signin::signin)))
            .service(resource("/logout").route(web::post().to(account::logout)))
            .service(resource("/change-password").route(web::post().to(account::change_password)))
            .service(resource("/reset-password").route(web::post().to(users::reset_password))),
    ))
    .service(gated(
        scope("/users")
            .service(resource("").route(web::get().to(users::list)))
            .service(resource("/count").route(web::get().to(users::count)))
            .service(
                resource("/{id}")
                    .route(web::get().to(users::get))
                    .route(web::put().to(users::update))
                    .route(web::delete().to(users::delete)),
            )
            .service(
                resource("/{id}/delete-status/{ticket}").route(web::get().to(users::delete_status)),
            ),
    ))
    .service(gated(
        scope("/audit").service(resource("").route(web::get().to(audit::list))),
    ))
    .service(gated(
        scope("/config")
            .service(
                resource("")
                    .route(web::get().to(config::list))
                    .route(web::post().to(config::set)),
            )
            .service(resource("/{key}").route(web::delete().to(config::unset))),
    ));
}

fn scope(prefix: &str) -> actix_web::Scope {
    web::scope(prefix)
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::NotFound)
        }))
}

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed)
    }))
}

/// The `{}` that Appmixer answers to a change that returns nothing.
fn empty_ok() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({}))
}
