//! The console's pages and forms: tenants (search, create, edit), a tenant's settings, keys,
//! users and audit. Forms post, do one thing through core (as the operator API does), leave a
//! flash message and redirect back (POST-redirect-GET).

use super::session::Sessions;
use super::signin::CsrfForm;
use super::{
    managed_tenant, operator_only, render, see_other, signed_form, signed_in, Refusal, Signed,
};
use crate::audit;
use crate::views;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::operator::TenantPatch;
use gatehouse_core::settings::{SetBy, KEYS};
use gatehouse_core::tenants::TenantSpec;
use gatehouse_core::token::KeyAlg;
use gatehouse_core::user_list::UserQuery;
use gatehouse_core::users::UserPatch;
use gatehouse_core::validated::Scope;
use gatehouse_core::{Api, Core, CoreResult, TenantSlug};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Rows on a console page.
const PAGE: usize = 50;

fn answer(r: Result<HttpResponse, Refusal>) -> HttpResponse {
    r.unwrap_or_else(Refusal::respond)
}

/// After a form: the outcome as the next page's flash, and back to `to`.
fn done<T>(
    sessions: &Sessions,
    s: &Signed,
    outcome: CoreResult<T>,
    ok: &str,
    to: &str,
) -> HttpResponse {
    match outcome {
        Ok(_) => sessions.flash(&s.id, false, ok),
        Err(e) => sessions.flash(&s.id, true, e.to_string()),
    }
    see_other(to)
}

#[derive(Deserialize)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: usize,
}

pub async fn home(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_in(&req, &core, &sessions).await?;
            Ok(match &s.session.who {
                super::Who::Operator { .. } => see_other("/console/tenants"),
                super::Who::TenantAdmin { slug, .. } => {
                    see_other(&format!("/console/tenants/{slug}"))
                }
            })
        }
        .await,
    )
}

pub async fn tenants(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    params: web::Query<ListParams>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_in(&req, &core, &sessions).await?;
            if let super::Who::TenantAdmin { slug, .. } = &s.session.who {
                return Ok(see_other(&format!("/console/tenants/{slug}")));
            }
            let page = core.list_tenants(Some(params.q.as_str()), PAGE, params.offset);
            let mut ctx = s.context(&sessions, None);
            ctx["q"] = json!(params.q);
            ctx["total"] = json!(page.total);
            ctx["offset"] = json!(params.offset);
            ctx["tenants"] = Value::Array(
                page.items
                    .iter()
                    .map(|t| views::tenant_summary(t))
                    .collect(),
            );
            ctx["prev"] = json!((params.offset > 0).then(|| params.offset.saturating_sub(PAGE)));
            ctx["next"] =
                json!((params.offset + PAGE < page.total).then_some(params.offset + PAGE));
            Ok(render(StatusCode::OK, "tenants.html", &ctx))
        }
        .await,
    )
}

/// Hosts as typed in one field: separated by commas or white space.
fn hosts_field(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Deserialize)]
pub struct TenantForm {
    csrf: String,
    slug: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    hosts: String,
    api_tiledesk: Option<String>,
    api_appmixer: Option<String>,
}

impl TenantForm {
    fn apis(&self) -> Vec<Api> {
        let mut apis = Vec::new();
        if self.api_tiledesk.is_some() {
            apis.push(Api::Tiledesk);
        }
        if self.api_appmixer.is_some() {
            apis.push(Api::Appmixer);
        }
        apis
    }

    fn name(&self) -> Option<String> {
        Some(self.name.trim().to_owned()).filter(|n| !n.is_empty())
    }
}

pub async fn create_tenant(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    form: web::Form<TenantForm>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_form(&req, &core, &sessions, &form.csrf).await?;
            operator_only(&s)?;
            let slug = form.slug.clone().unwrap_or_default();
            let made = async {
                let mut spec = TenantSpec::new(TenantSlug::parse(slug.trim())?);
                spec.name = form.name();
                spec.hosts = hosts_field(&form.hosts);
                spec.apis = form.apis();
                core.create_tenant(spec).await
            }
            .await;
            match made {
                Ok(t) => {
                    audit::record(&core, &s.actor(), &t, "tenant.create", t.slug.as_str());
                    sessions.flash(&s.id, false, format!("Tenant {} created.", t.slug));
                    Ok(see_other(&format!("/console/tenants/{}", t.slug)))
                }
                Err(e) => Ok(done(&sessions, &s, Err::<(), _>(e), "", "/console/tenants")),
            }
        }
        .await,
    )
}

pub async fn tenant(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    slug: web::Path<String>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_in(&req, &core, &sessions).await?;
            let t = managed_tenant(&core, &s, &slug).await?;
            let users = core.count_users(&t).await.map_err(Refusal::from_core)?;
            let mut ctx = s.context(&sessions, Some(&*t));
            ctx["issuer"] = json!(t.issuer());
            ctx["users"] = json!(users);
            ctx["signup"] = json!(match &t.settings.api_user_create_scope {
                None => "open".to_owned(),
                Some(scopes) => format!(
                    "closed (needs scope {})",
                    scopes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            Ok(render(StatusCode::OK, "tenant.html", &ctx))
        }
        .await,
    )
}

pub async fn update_tenant(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    slug: web::Path<String>,
    form: web::Form<TenantForm>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_form(&req, &core, &sessions, &form.csrf).await?;
            operator_only(&s)?;
            let t = managed_tenant(&core, &s, &slug).await?;
            let patch = TenantPatch {
                name: form.name(),
                hosts: Some(hosts_field(&form.hosts)),
                apis: Some(form.apis()),
            };
            let outcome = core.update_tenant(&t, patch).await;
            if outcome.is_ok() {
                audit::record(&core, &s.actor(), &t, "tenant.update", t.slug.as_str());
            }
            let to = format!("/console/tenants/{}", t.slug);
            Ok(done(&sessions, &s, outcome, "Saved.", &to))
        }
        .await,
    )
}

pub async fn settings(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    slug: web::Path<String>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_in(&req, &core, &sessions).await?;
            let t = managed_tenant(&core, &s, &slug).await?;
            let sources = core.setting_sources(&t).await.map_err(Refusal::from_core)?;
            let mut ctx = s.context(&sessions, Some(&*t));
            ctx["create_scope"] = json!(t.stored_settings.get("API_USER_CREATE_SCOPE"));
            // API_USER_CREATE_SCOPE has its own card; the rest are listed, then any free-form keys.
            let mut rows: Vec<Value> = KEYS
                .iter()
                .filter(|k| **k != "API_USER_CREATE_SCOPE")
                .map(|k| setting_row(&t, &sources, k))
                .collect();
            rows.extend(
                t.stored_settings
                    .keys()
                    .filter(|k| !KEYS.contains(&k.as_str()))
                    .map(|k| setting_row(&t, &sources, k)),
            );
            ctx["settings"] = Value::Array(rows);
            Ok(render(StatusCode::OK, "settings.html", &ctx))
        }
        .await,
    )
}

/// One row of the settings page: the value in effect and where it comes from (the default, or
/// who set it last). A sealed value (`SMTP_URL`) is neither shown nor put back in the form.
fn setting_row(
    t: &gatehouse_core::Tenant,
    sources: &BTreeMap<String, Option<SetBy>>,
    key: &str,
) -> Value {
    let stored = t.stored_settings.get(key);
    let effective = match (key, stored) {
        ("ISSUER", None) => Some(t.issuer()),
        (k, Some(v)) if gatehouse_core::mail::templates::TEMPLATE_KEYS.contains(&k) => {
            Some(v.clone())
        }
        _ => t.settings.effective(key).or_else(|| stored.cloned()),
    };
    let source = match (stored, sources.get(key)) {
        (None, _) => "default",
        (Some(_), Some(Some(SetBy::Operator))) => "operator",
        (Some(_), Some(Some(SetBy::TenantAdmin))) => "tenant admin",
        (Some(_), _) => "set (by whom not recorded)",
    };
    let sealed = gatehouse_core::sealed::is_sealed_setting(key);
    json!({
        "key": key,
        "value": stored.filter(|_| !sealed),
        "set": stored.is_some(),
        "effective": effective,
        "source": source,
    })
}

#[derive(Deserialize)]
pub struct SettingForm {
    csrf: String,
    key: String,
    #[serde(default)]
    value: String,
    unset: Option<String>,
}

pub async fn set_setting(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    slug: web::Path<String>,
    form: web::Form<SettingForm>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_form(&req, &core, &sessions, &form.csrf).await?;
            let t = managed_tenant(&core, &s, &slug).await?;
            let key = form.key.trim();
            // An empty value means "back to the default", as the Unset button does.
            let unset = form.unset.is_some() || form.value.trim().is_empty();
            let (outcome, action, message) = if unset {
                (
                    core.unset_config(&t, key).await,
                    "setting.unset",
                    format!("{key} unset."),
                )
            } else {
                // A tenant admin may not set some values the operator may (see `tenant_admin`).
                let allowed = if s.session.who.is_operator() {
                    Ok(())
                } else {
                    core.check_tenant_admin_setting(&t, key, form.value.trim())
                };
                let outcome = match allowed {
                    Ok(()) => {
                        core.set_config_by(&t, key, form.value.trim(), s.set_by())
                            .await
                    }
                    Err(e) => Err(e),
                };
                (outcome, "setting.set", format!("{key} set."))
            };
            if outcome.is_ok() {
                audit::record(&core, &s.actor(), &t, action, key);
            }
            let to = format!("/console/tenants/{}/settings", t.slug);
            Ok(done(&sessions, &s, outcome, &message, &to))
        }
        .await,
    )
}

pub async fn keys(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    slug: web::Path<String>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_in(&req, &core, &sessions).await?;
            let t = managed_tenant(&core, &s, &slug).await?;
            let mut ctx = s.context(&sessions, Some(&*t));
            ctx["keys"] = views::keys(&t, core.now_ms());
            // The Rotate form keeps the tenant's algorithm unless the operator picks another.
            ctx["current_alg"] = json!(t.keys.current_alg().unwrap_or_default().as_str());
            ctx["algs"] = json!(KeyAlg::ALL.map(KeyAlg::as_str));
            let base = match t.hosts.first() {
                Some(host) => format!("https://{host}"),
                None => t.issuer(),
            };
            ctx["jwks_url"] = json!(format!("{base}/.well-known/jwks.json"));
            Ok(render(StatusCode::OK, "keys.html", &ctx))
        }
        .await,
    )
}

#[derive(Deserialize)]
pub struct RotateForm {
    csrf: String,
    alg: String,
    /// The box that allows moving from a published key to HS256.
    allow_unpublished: Option<String>,
}

pub async fn rotate_key(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    options: web::Data<crate::OperatorOptions>,
    slug: web::Path<String>,
    form: web::Form<RotateForm>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_form(&req, &core, &sessions, &form.csrf).await?;
            let t = managed_tenant(&core, &s, &slug).await?;
            let outcome = async {
                let alg = KeyAlg::parse(&form.alg)?;
                let lead = crate::api::lead_for(alg, None, &options);
                let allow = form.allow_unpublished.is_some();
                core.rotate_key_with(&t, alg, lead, allow).await
            }
            .await;
            if let Ok(kid) = &outcome {
                audit::record(&core, &s.actor(), &t, "key.rotate", kid);
            }
            let to = format!("/console/tenants/{}/keys", t.slug);
            Ok(done(&sessions, &s, outcome, "New signing key added.", &to))
        }
        .await,
    )
}

pub async fn retire_key(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    answer(
        async {
            let (slug, kid) = path.into_inner();
            let s = signed_form(&req, &core, &sessions, &form.csrf).await?;
            let t = managed_tenant(&core, &s, &slug).await?;
            let outcome = core.retire_key(&t, &kid).await;
            if outcome.is_ok() {
                audit::record(&core, &s.actor(), &t, "key.retire", &kid);
            }
            let to = format!("/console/tenants/{}/keys", t.slug);
            Ok(done(
                &sessions,
                &s,
                outcome,
                &format!("Key {kid} retired."),
                &to,
            ))
        }
        .await,
    )
}

pub async fn users(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    slug: web::Path<String>,
    params: web::Query<ListParams>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_in(&req, &core, &sessions).await?;
            let t = managed_tenant(&core, &s, &slug).await?;
            let mut q = UserQuery::page(PAGE as i64, params.offset as i64);
            q.prefix = Some(params.q.trim().to_owned()).filter(|p| !p.is_empty());
            let users = core.list_users(&t, q).await.map_err(Refusal::from_core)?;
            let mut ctx = s.context(&sessions, Some(&*t));
            ctx["q"] = json!(params.q);
            ctx["prev"] = json!((params.offset > 0).then(|| params.offset.saturating_sub(PAGE)));
            ctx["next"] = json!((users.len() == PAGE).then_some(params.offset + PAGE));
            ctx["users"] = Value::Array(users.iter().map(views::user).collect());
            Ok(render(StatusCode::OK, "users.html", &ctx))
        }
        .await,
    )
}

pub async fn user_action(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    path: web::Path<(String, String, String)>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    answer(
        async {
            let (slug, id, action) = path.into_inner();
            let s = signed_form(&req, &core, &sessions, &form.csrf).await?;
            let t = managed_tenant(&core, &s, &slug).await?;
            // A tenant admin does not lock themselves out: another admin or the operator may.
            let own = matches!(&s.session.who, super::Who::TenantAdmin { user_id, .. } if *user_id == id);
            if own && ["delete", "remove-admin", "disable"].contains(&action.as_str()) {
                sessions.flash(
                    &s.id,
                    true,
                    "You cannot do this to your own account here; another admin or an operator can.",
                );
                return Ok(see_other(&format!("/console/tenants/{}/users", t.slug)));
            }
            let (outcome, kind, message) = match action.as_str() {
                "disable" => (
                    core.set_user_disabled(&t, &id, true).await.map(|_| ()),
                    "user.disable",
                    "User disabled; their tokens are ended.",
                ),
                "enable" => (
                    core.set_user_disabled(&t, &id, false).await.map(|_| ()),
                    "user.enable",
                    "User enabled.",
                ),
                "revoke-tokens" => (
                    match core.user(&t, &id).await {
                        Ok(_) => core.revoke_user_tokens(&t, &id).await,
                        Err(e) => Err(e),
                    },
                    "user.revoke_tokens",
                    "Every token the user held is ended.",
                ),
                // The operator API's path: the user, their memberships and (through the change
                // feed) every token they held go together.
                "delete" => (
                    core.delete_user(&t, &id).await,
                    "user.delete",
                    "User deleted; their tokens are refused from now on.",
                ),
                "grant-admin" => (
                    set_admin(&core, &t, &id, true).await,
                    "user.grant_admin",
                    "The user is now an admin of this tenant.",
                ),
                "remove-admin" => (
                    set_admin(&core, &t, &id, false).await,
                    "user.remove_admin",
                    "The user is no longer an admin.",
                ),
                _ => {
                    return Err(Refusal::Status(
                        StatusCode::NOT_FOUND,
                        "no such action".into(),
                    ))
                }
            };
            if outcome.is_ok() {
                audit::record(&core, &s.actor(), &t, kind, &id);
            }
            let to = format!("/console/tenants/{}/users", t.slug);
            Ok(done(&sessions, &s, outcome, message, &to))
        }
        .await,
    )
}

/// Gives or takes the `admin` scope, keeping the user's other scopes. Takes effect at once:
/// admin routes read the user's scopes, not the token's.
async fn set_admin(
    core: &Core,
    t: &gatehouse_core::Tenant,
    id: &str,
    admin: bool,
) -> CoreResult<()> {
    let user = core.user(t, id).await?;
    let mut scopes = user
        .scopes
        .iter()
        .filter(|s| s.as_str() != "admin")
        .map(|s| Scope::parse(s.as_str()))
        .collect::<CoreResult<Vec<_>>>()?;
    if admin {
        scopes.push(Scope::admin());
    }
    let patch = UserPatch {
        scopes: Some(scopes),
        ..UserPatch::default()
    };
    core.update_user(t, id, patch).await.map(|_| ())
}

pub async fn audit(
    req: HttpRequest,
    core: web::Data<Core>,
    sessions: web::Data<Sessions>,
    slug: web::Path<String>,
) -> HttpResponse {
    answer(
        async {
            let s = signed_in(&req, &core, &sessions).await?;
            let t = managed_tenant(&core, &s, &slug).await?;
            let mut ctx = s.context(&sessions, Some(&*t));
            let mut events = audit::recent(&core, &t, 200)
                .await
                .map_err(Refusal::from_core)?;
            // People by email (the id on hover); a deleted user's id stays as it is.
            let mut ids: Vec<String> = events
                .iter()
                .filter_map(|e| e["user_id"].as_str().map(str::to_owned))
                .collect();
            ids.sort();
            ids.dedup();
            let emails = core
                .user_emails(&t, ids)
                .await
                .map_err(Refusal::from_core)?;
            for e in &mut events {
                let email = e["user_id"].as_str().and_then(|id| emails.get(id)).cloned();
                e["email"] = json!(email);
            }
            ctx["events"] = json!(events);
            Ok(render(StatusCode::OK, "audit.html", &ctx))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_split_on_commas_and_spaces() {
        assert_eq!(
            hosts_field(" a.test, b.test\nc.test ,,"),
            vec!["a.test", "b.test", "c.test"]
        );
        assert!(hosts_field("  ").is_empty());
    }
}
