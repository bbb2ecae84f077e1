//! The Tiledesk routes, mounted by `configure` under each API prefix.

mod anonymous;
mod custom_token;
mod invitations;
mod logout;
mod mail;
mod projects;
mod signin;
mod signup;
mod users;

use actix_web::web;

pub fn register(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/signup", web::post().to(signup::signup))
        .route("/auth/signin", web::post().to(signin::signin))
        .route("/auth/logout", web::post().to(logout::logout))
        .route(
            "/auth/signinAnonymously",
            web::post().to(anonymous::signin_anonymously),
        )
        .route(
            "/auth/signinWithCustomToken",
            web::post().to(custom_token::signin_with_custom_token),
        )
        .route(
            "/auth/pendinginvitationsnoauth/{id}",
            web::get().to(invitations::pending_invitation),
        )
        .route(
            "/pendinginvitationsnoauth/{id}",
            web::get().to(invitations::pending_invitation),
        )
        .route("/auth/requestresetpsw", web::put().to(mail::request_reset))
        .route(
            "/auth/checkpswresetkey/{key}",
            web::get().to(mail::check_reset_key),
        )
        .route("/auth/resetpsw/{key}", web::put().to(mail::reset))
        .route(
            "/auth/verifyemail/{uid}/{code}",
            web::put().to(mail::verify_email),
        )
        .route(
            "/users/resendverifyemail",
            web::get().to(mail::resend_verify_email),
        )
        .route("/users", web::get().to(users::current))
        .route("/users", web::put().to(users::update_profile))
        .route("/users", web::delete().to(users::delete_account))
        .route("/users/changepsw", web::put().to(users::change_password))
        .route("/projects", web::get().to(projects::list))
        .route("/projects", web::post().to(projects::create))
        .route(
            "/{project_id}/keys/generate",
            web::post().to(projects::generate_key),
        );
}
