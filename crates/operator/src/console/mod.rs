//! The web console at `/console`: server-rendered pages (minijinja templates, no script) for
//! operators (signed in with an operator key) and tenant admins (email and password of a user
//! with the `admin` scope; they see their own tenant only). Every form carries a CSRF token; every
//! change goes through the same core functions as the operator API and is audited.

mod pages;
pub mod session;
mod signin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::{Core, CoreError, Tenant};
use minijinja::Environment;
use serde_json::{json, Value};
pub use session::Sessions;
use session::{Session, Who, COOKIE};
use std::sync::{Arc, OnceLock};

const CSS: &str = include_str!("static/console.css");

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        let all = [
            ("base.html", include_str!("templates/base.html")),
            ("signin.html", include_str!("templates/signin.html")),
            ("tenants.html", include_str!("templates/tenants.html")),
            ("tenant.html", include_str!("templates/tenant.html")),
            ("settings.html", include_str!("templates/settings.html")),
            ("keys.html", include_str!("templates/keys.html")),
            ("users.html", include_str!("templates/users.html")),
            ("audit.html", include_str!("templates/audit.html")),
            ("error.html", include_str!("templates/error.html")),
        ];
        for (name, source) in all {
            if let Err(e) = env.add_template(name, source) {
                log::error!("console template {name} does not parse: {e}");
            }
        }
        env
    })
}

/// Renders `name` with `ctx` (HTML-escaped: the templates end in `.html`).
fn render(status: StatusCode, name: &str, ctx: &Value) -> HttpResponse {
    let page = templates().get_template(name).and_then(|t| t.render(ctx));
    match page {
        Ok(html) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("X-Frame-Options", "DENY"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
            ))
            .body(html),
        Err(e) => {
            log::error!("rendering console page {name}: {e}");
            HttpResponse::InternalServerError().body("internal error")
        }
    }
}

/// A signed-in request: its session id, the session, and this node's core.
pub struct Signed {
    pub id: String,
    pub session: Session,
}

impl Signed {
    /// The base context of every signed-in page.
    fn context(&self, sessions: &Sessions, tenant: Option<&Tenant>) -> Value {
        let flash = sessions
            .take_flash(&self.id)
            .map(|(error, text)| json!({"error": error, "text": text}));
        json!({
            "who": {"operator": self.session.who.is_operator(), "label": self.session.who.label()},
            "csrf": self.session.csrf,
            "flash": flash,
            "tenant": tenant.map(crate::views::tenant_summary),
        })
    }

    /// Who a setting this session stores is recorded as set by.
    pub fn set_by(&self) -> gatehouse_core::settings::SetBy {
        match &self.session.who {
            Who::Operator { .. } => gatehouse_core::settings::SetBy::Operator,
            Who::TenantAdmin { .. } => gatehouse_core::settings::SetBy::TenantAdmin,
        }
    }

    pub fn actor(&self) -> crate::audit::Actor {
        match &self.session.who {
            Who::Operator { name, .. } => crate::audit::Actor::Operator(name.clone()),
            Who::TenantAdmin { user_id, .. } => crate::audit::Actor::TenantAdmin(user_id.clone()),
        }
    }
}

/// A page's answer when it cannot be shown: to the sign-in page, or an error page.
pub enum Refusal {
    SignIn,
    Status(StatusCode, String),
}

impl Refusal {
    fn respond(self) -> HttpResponse {
        match self {
            Refusal::SignIn => see_other("/console/signin"),
            Refusal::Status(status, message) => render(
                status,
                "error.html",
                &json!({"status": status.as_u16(), "message": message}),
            ),
        }
    }

    fn from_core(e: CoreError) -> Refusal {
        let (status, message) = match e {
            CoreError::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found")),
            CoreError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database does not answer now; try again".into(),
            ),
            CoreError::Internal(detail) => {
                log::error!("console: {detail}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
            other => (StatusCode::BAD_REQUEST, other.to_string()),
        };
        Refusal::Status(status, message)
    }
}

pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Whether the console is served over TLS (then its cookies are `Secure`).
fn over_tls(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// A console cookie: `HttpOnly`, `SameSite=Strict`, `Path=/console`, `Secure` over TLS.
fn cookie(
    req: &HttpRequest,
    name: &'static str,
    value: String,
    max_age_secs: i64,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_tls(req))
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

/// The live session of `req`, re-checked against the database: its operator key still active,
/// or its tenant admin still an enabled admin of a tenant that still exists.
async fn signed_in(req: &HttpRequest, core: &Core, sessions: &Sessions) -> Result<Signed, Refusal> {
    let id = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or(Refusal::SignIn)?;
    let session = sessions.get(&id, core.now_ms()).ok_or(Refusal::SignIn)?;
    let still = match &session.who {
        Who::Operator { key_id, .. } => core
            .operator_key_active(key_id)
            .await
            .map_err(Refusal::from_core)?,
        Who::TenantAdmin {
            tenant_id, user_id, ..
        } => match core.tenant(tenant_id) {
            None => false,
            Some(t) => match core.user(&t, user_id).await {
                Ok(u) => u.has_scope("admin") && !u.disabled,
                Err(CoreError::NotFound(_)) => false,
                Err(e) => return Err(Refusal::from_core(e)),
            },
        },
    };
    if !still {
        sessions.end(&id);
        return Err(Refusal::SignIn);
    }
    Ok(Signed { id, session })
}

/// `signed_in`, and the form's CSRF token matches the session's.
async fn signed_form(
    req: &HttpRequest,
    core: &Core,
    sessions: &Sessions,
    csrf: &str,
) -> Result<Signed, Refusal> {
    let s = signed_in(req, core, sessions).await?;
    if !session::same(csrf, &s.session.csrf) {
        return Err(Refusal::Status(
            StatusCode::FORBIDDEN,
            "the form's CSRF token does not match this session; reload the page".into(),
        ));
    }
    Ok(s)
}

/// The tenant `slug` names, if this session may manage it (else 404: a tenant admin does not learn
/// which other tenants exist).
async fn managed_tenant(core: &Core, s: &Signed, slug: &str) -> Result<Arc<Tenant>, Refusal> {
    let t = crate::api::tenant_of(core, slug)
        .await
        .map_err(|_| Refusal::Status(StatusCode::NOT_FOUND, "tenant not found".into()))?;
    if s.session.who.may_manage(&t.id) {
        Ok(t)
    } else {
        Err(Refusal::Status(
            StatusCode::NOT_FOUND,
            "tenant not found".into(),
        ))
    }
}

fn operator_only(s: &Signed) -> Result<(), Refusal> {
    if s.session.who.is_operator() {
        Ok(())
    } else {
        Err(Refusal::Status(
            StatusCode::FORBIDDEN,
            "only an operator may do this".into(),
        ))
    }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(CSS)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .app_data(
                web::FormConfig::default()
                    .limit(16 * 1024)
                    .error_handler(|e, _| {
                        let message = format!("bad form: {e}");
                        actix_web::error::InternalError::from_response(
                            message.clone(),
                            Refusal::Status(StatusCode::BAD_REQUEST, message).respond(),
                        )
                        .into()
                    }),
            )
            .route("", web::get().to(pages::home))
            .route("/static/console.css", web::get().to(stylesheet))
            .route("/signin", web::get().to(signin::page))
            .route("/signin/operator", web::post().to(signin::operator))
            .route("/signin/tenant", web::post().to(signin::tenant_admin))
            .route("/signout", web::post().to(signin::signout))
            .route("/tenants", web::get().to(pages::tenants))
            .route("/tenants", web::post().to(pages::create_tenant))
            .route("/tenants/{slug}", web::get().to(pages::tenant))
            .route("/tenants/{slug}", web::post().to(pages::update_tenant))
            .route("/tenants/{slug}/settings", web::get().to(pages::settings))
            .route(
                "/tenants/{slug}/settings",
                web::post().to(pages::set_setting),
            )
            .route("/tenants/{slug}/keys", web::get().to(pages::keys))
            .route("/tenants/{slug}/keys", web::post().to(pages::rotate_key))
            .route(
                "/tenants/{slug}/keys/{kid}/retire",
                web::post().to(pages::retire_key),
            )
            .route("/tenants/{slug}/users", web::get().to(pages::users))
            .route(
                "/tenants/{slug}/users/{id}/{action}",
                web::post().to(pages::user_action),
            )
            .route("/tenants/{slug}/audit", web::get().to(pages::audit)),
    );
}
