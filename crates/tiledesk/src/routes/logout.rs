//! `POST /auth/logout` (`?all=true`: every token of the agent). tiledesk-server has no logout
//! route; its routes/auth.js keeps one commented out, which Gatehouse follows for the answer:
//! "router.post('/logout', [passport.authenticate(['jwt'], {session: false}), validtoken], ...
//! res.json({ success: true, msg: 'Logout successful.' });". Unlike the original's (which could
//! not end a JWT), this one ends the token.

use crate::context::Ctx;
use crate::errors::{FieldError, TiledeskError};
use crate::token;
use actix_web::{web, HttpRequest, HttpResponse};
use gatehouse_core::Core;
use serde_json::{json, Value};
use std::collections::HashMap;

pub async fn logout(
    req: HttpRequest,
    Ctx(ctx): Ctx,
    core: web::Data<Core>,
) -> Result<HttpResponse, TiledeskError> {
    let agent = token::agent(&req, &core, &ctx.tenant).await?;
    let all = all_flag(req.query_string())?;
    core.logout(&ctx.tenant, &agent.claims, &agent.user.id, all)
        .await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "msg": "Logout successful."})))
}

/// `all=true|false` (absent: false); anything else is express-validator's 422 on the query.
fn all_flag(query: &str) -> Result<bool, TiledeskError> {
    let pairs: HashMap<String, String> = serde_urlencoded::from_str(query).unwrap_or_default();
    match pairs.get("all").map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(FieldError {
            value: Some(Value::String(other.to_owned())),
            msg: "Invalid value",
            param: "all",
            location: "query",
        }
        .into()),
    }
}
