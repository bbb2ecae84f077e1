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

/// Declares the route table once: `register` mounts it and `ROUTES` lists it, so the OpenAPI
/// document (and the isolation matrix that reads it) is checked against what is really mounted.
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path),+ $(,)?) => {
        /// `(method, path under the prefix)` of every route `register` mounts.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),+];

        pub fn register(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, web::$method().to($handler));)+
        }
    };
}

routes! {
    post "/auth/signup" => signup::signup,
    post "/auth/signin" => signin::signin,
    post "/auth/logout" => logout::logout,
    post "/auth/signinAnonymously" => anonymous::signin_anonymously,
    post "/auth/signinWithCustomToken" => custom_token::signin_with_custom_token,
    get "/auth/pendinginvitationsnoauth/{id}" => invitations::pending_invitation,
    get "/pendinginvitationsnoauth/{id}" => invitations::pending_invitation,
    put "/auth/requestresetpsw" => mail::request_reset,
    get "/auth/checkpswresetkey/{key}" => mail::check_reset_key,
    put "/auth/resetpsw/{key}" => mail::reset,
    put "/auth/verifyemail/{uid}/{code}" => mail::verify_email,
    get "/users/resendverifyemail" => mail::resend_verify_email,
    get "/users" => users::current,
    put "/users" => users::update_profile,
    delete "/users" => users::delete_account,
    put "/users/changepsw" => users::change_password,
    get "/projects" => projects::list,
    post "/projects" => projects::create,
    post "/{project_id}/keys/generate" => projects::generate_key,
}
