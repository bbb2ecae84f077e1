//! Signing in to the console and out of it. The sign-in forms carry a double-submit CSRF token
//! (a cookie and a field that must match); attempts are limited per client address
//! (`CONSOLE_SIGNINS_PER_MINUTE`), and a tenant admin's password goes through core's sign-in
//! (its lock-out and per-address limits too).

use super::session::{random_token, same, Sessions, Who, COOKIE, SESSION_MS, SIGNIN_COOKIE};
use super::{cookie, render, see_other, signed_form};
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::users::Login;
use gatehouse_core::{Core, CoreError, Email, Password, TenantSlug};
use serde::Deserialize;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};

/// The sign-in page, with a fresh CSRF cookie and field (or `error` shown above the forms).
fn signin_page(req: &HttpRequest, status: StatusCode, error: Option<&str>) -> HttpResponse {
    let token = random_token();
    let mut res = render(
        status,
        "signin.html",
        &json!({"csrf": token, "error": error, "who": null}),
    );
    let c = cookie(req, SIGNIN_COOKIE, token, 3600);
    if let Err(e) = res.add_cookie(&c) {
        log::error!("setting the console sign-in cookie: {e}");
    }
    res
}

pub async fn page(req: HttpRequest) -> HttpResponse {
    signin_page(&req, StatusCode::OK, None)
}

fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Checks the double-submit token and counts the attempt; the refusal page when either fails.
// The refusal is the page to answer; it is built once per refused sign-in, not on a hot path.
#[allow(clippy::result_large_err)]
fn admit(req: &HttpRequest, core: &Core, csrf: &str) -> Result<(), HttpResponse> {
    let cookie_token = req.cookie(SIGNIN_COOKIE).map(|c| c.value().to_owned());
    if !cookie_token.is_some_and(|c| same(&c, csrf)) {
        return Err(signin_page(
            req,
            StatusCode::FORBIDDEN,
            Some("The form expired (CSRF check failed); please try again."),
        ));
    }
    core.check_console_signin(client_ip(req)).map_err(|_| {
        signin_page(
            req,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many sign-in attempts from this address; wait a minute."),
        )
    })
}

/// Starts the session and sends the browser on to `to`.
fn start(req: &HttpRequest, core: &Core, sessions: &Sessions, who: Who, to: &str) -> HttpResponse {
    let id = sessions.start(who, core.now_ms());
    let mut res = see_other(to);
    let session_cookie = cookie(req, COOKIE, id, SESSION_MS / 1000);
    let mut used = cookie(req, SIGNIN_COOKIE, String::new(), 0);
    used.make_removal();
    for c in [session_cookie, used] {
        if let Err(e) = res.add_cookie(&c) {
            log::error!("setting a console cookie: {e}");
        }
    }
    res
}

#[derive(Deserialize)]
pub struct OperatorForm {
    csrf: String,
    key: String,
}

pub async fn operator(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    form: web::Form<OperatorForm>,
) -> HttpResponse {
    if let Err(refused) = admit(&req, &core, &form.csrf) {
        return refused;
    }
    match core.authenticate_operator(&form.key).await {
        Ok(key) => {
            let who = Who::Operator {
                key_id: key.key_id,
                name: key.name.clone(),
            };
            log::info!("console: operator {} signed in", key.name);
            start(&req, &core, &sessions, who, "/console/tenants")
        }
        Err(CoreError::Unauthorized(_)) => signin_page(
            &req,
            StatusCode::UNAUTHORIZED,
            Some("That operator key is not valid."),
        ),
        Err(e) => {
            log::warn!("console operator sign-in: {e}");
            signin_page(
                &req,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("Sign-in is not possible now; try again."),
            )
        }
    }
}

#[derive(Deserialize)]
pub struct TenantAdminForm {
    csrf: String,
    tenant: String,
    email: String,
    password: String,
}

pub async fn tenant_admin(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    form: web::Form<TenantAdminForm>,
) -> HttpResponse {
    if let Err(refused) = admit(&req, &core, &form.csrf) {
        return refused;
    }
    let refused = || {
        signin_page(
            &req,
            StatusCode::UNAUTHORIZED,
            Some("Wrong tenant, email or password, or not an admin of that tenant."),
        )
    };
    let tenant = match TenantSlug::parse(form.tenant.trim())
        .ok()
        .and_then(|s| core.tenant_by_slug(s.as_str()))
    {
        Some(t) => t,
        None => return refused(),
    };
    let Ok(email) = Email::parse(&form.email) else {
        return refused();
    };
    let password = Password::candidate(&form.password);
    match core
        .signin(&tenant, client_ip(&req), Login::Email(email), &password)
        .await
    {
        Ok(user) if user.has_scope("admin") => {
            let who = Who::TenantAdmin {
                tenant_id: tenant.id.clone(),
                slug: tenant.slug.as_str().to_owned(),
                user_id: user.id.clone(),
                email: user.email.clone().unwrap_or_default(),
            };
            let to = format!("/console/tenants/{}", tenant.slug.as_str());
            start(&req, &core, &sessions, who, &to)
        }
        Ok(_) | Err(CoreError::Unauthorized(_)) => refused(),
        Err(CoreError::Locked | CoreError::RateLimited) => signin_page(
            &req,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed sign-ins; wait and try again."),
        ),
        Err(e) => {
            log::warn!("console tenant admin sign-in: {e}");
            signin_page(
                &req,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("Sign-in is not possible now; try again."),
            )
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

pub async fn signout(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    match signed_form(&req, &core, &sessions, &form.csrf).await {
        Ok(s) => sessions.end(&s.id),
        Err(refusal) => return refusal.respond(),
    }
    let mut res = see_other("/console/signin");
    let mut gone = Cookie::build(COOKIE, "").path("/console").finish();
    gone.make_removal();
    if let Err(e) = res.add_cookie(&gone) {
        log::error!("clearing the console cookie: {e}");
    }
    res
}
