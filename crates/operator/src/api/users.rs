//! `/admin/v1/tenants/{slug}/users`: search (by email or username, `?q=`), show, create (an
//! operator-made account, e.g. the first admin), disable, enable, end every token, delete.

use super::{tenant_of, ListQuery};
use crate::audit::{self, Actor};
use crate::auth::Operator;
use crate::errors::ApiResult;
use crate::views;
use actix_web::{web, HttpResponse};
use gatehouse_core::operator::OperatorNewUser;
use gatehouse_core::secret::Secret;
use gatehouse_core::user_list::UserQuery;
use gatehouse_core::Core;
use serde::Deserialize;
use serde_json::json;

pub async fn list(
    _op: Operator,
    core: web::Data<Core>,
    slug: web::Path<String>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let t = tenant_of(&core, &slug).await?;
    let (limit, offset) = (query.limit()?, query.offset());
    let mut q = UserQuery::page(limit as i64, offset as i64);
    q.prefix = query.q.clone();
    let users = core.list_users(&t, q).await?;
    let next = (users.len() == limit).then_some(offset + limit);
    let items: Vec<_> = users.iter().map(views::user).collect();
    Ok(HttpResponse::Ok().json(json!({
        "items": items, "limit": limit, "offset": offset, "next_offset": next,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub email: String,
    pub password: String,
    pub username: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub firstname: String,
    #[serde(default)]
    pub lastname: String,
}

pub async fn create(
    op: Operator,
    core: web::Data<Core>,
    slug: web::Path<String>,
    body: web::Json<NewUserBody>,
) -> ApiResult<HttpResponse> {
    let t = tenant_of(&core, &slug).await?;
    let b = body.into_inner();
    let input = OperatorNewUser {
        email: b.email,
        password: Secret::new(b.password),
        username: b.username,
        scopes: b.scopes,
        firstname: b.firstname,
        lastname: b.lastname,
    };
    let user = core.operator_create_user(&t, input).await?;
    audit::record(&core, &Actor::operator(&op), &t, "user.create", &user.id);
    Ok(HttpResponse::Created().json(views::user(&user)))
}

pub async fn show(
    _op: Operator,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let t = tenant_of(&core, &slug).await?;
    let user = core.user(&t, &id).await?;
    Ok(HttpResponse::Ok().json(views::user(&user)))
}

async fn set_disabled(
    op: Operator,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
    disabled: bool,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let t = tenant_of(&core, &slug).await?;
    let user = core.set_user_disabled(&t, &id, disabled).await?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    audit::record(&core, &Actor::operator(&op), &t, action, &user.id);
    Ok(HttpResponse::Ok().json(views::user(&user)))
}

pub async fn disable(
    op: Operator,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    set_disabled(op, core, path, true).await
}

pub async fn enable(
    op: Operator,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    set_disabled(op, core, path, false).await
}

pub async fn revoke_tokens(
    op: Operator,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let t = tenant_of(&core, &slug).await?;
    core.user(&t, &id).await?;
    core.revoke_user_tokens(&t, &id).await?;
    audit::record(&core, &Actor::operator(&op), &t, "user.revoke_tokens", &id);
    Ok(HttpResponse::NoContent().finish())
}

pub async fn delete(
    op: Operator,
    core: web::Data<Core>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (slug, id) = path.into_inner();
    let t = tenant_of(&core, &slug).await?;
    core.delete_user(&t, &id).await?;
    audit::record(&core, &Actor::operator(&op), &t, "user.delete", &id);
    Ok(HttpResponse::NoContent().finish())
}
