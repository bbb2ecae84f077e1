//! The route table. Each path prefix is one actix scope, so the body limit and the Boom 404/405
//! answers apply to this facade's paths only, not to the other facade mounted beside it.

mod account;
mod audit;
mod config;
mod forgot_password;
mod signin;
mod users;

use crate::body::BODY_LIMIT;
use crate::errors::ApiError;
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use gatehouse_core::Api;

/// Declares the route table once: `configure` mounts it (each scope behind the gate) and
/// `ROUTES` lists it, so the OpenAPI document (and the isolation matrix that reads it) is checked
/// against what is really mounted.
macro_rules! facade {
    ($($scope:literal { $($res:literal => { $($method:ident $handler:path),+ })+ })+) => {
        /// `(method, path)` of every route `configure` mounts.
        pub const ROUTES: &[(&str, &str)] = &[$($($((stringify!($method), concat!($scope, $res)),)+)+)+];

        pub fn configure(cfg: &mut web::ServiceConfig, gate: crate::Gate) {
            let gated = |s: actix_web::Scope| {
                s.wrap(from_fn(move |req, next| gate(Api::Appmixer, req, next)))
            };
            $(cfg.service(gated(
                scope($scope)$(.service(resource($res)$(.route(web::$method().to($handler)))+))+
            ));)+
        }
    };
}

facade! {
    "/user" {
        "" => { get account::me, post account::create }
        "/auth" => { post signin::signin }
        "/logout" => { post account::logout }
        "/change-password" => { post account::change_password }
        "/reset-password" => { post users::reset_password }
        "/forgot-password" => { post forgot_password::request }
        // Where Appmixer's docs put it (docs.appmixer.com, "Reset password": `POST
        // /user/forgot-password/reset`); `/forgot-password/reset` below stays for earlier clients.
        "/forgot-password/reset" => { post forgot_password::reset }
    }
    "/forgot-password" {
        "/reset" => { post forgot_password::reset }
    }
    "/users" {
        "" => { get users::list }
        "/count" => { get users::count }
        "/{id}" => { get users::get, put users::update, delete users::delete }
        "/{id}/delete-status/{ticket}" => { get users::delete_status }
    }
    "/audit" {
        "" => { get audit::list }
    }
    "/config" {
        "" => { get config::list, post config::set }
        "/{key}" => { delete config::unset }
    }
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
