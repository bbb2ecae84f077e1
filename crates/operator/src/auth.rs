//! Who calls the operator API: an active operator key sent as `Authorization: Bearer gho_...`.
//! Every route takes an `Operator` argument, so no route can forget to ask.

use crate::errors::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use gatehouse_core::operator::OperatorKey;
use gatehouse_core::{AuthFailure, Core, CoreError};
use std::future::Future;
use std::pin::Pin;

/// The key a request was made with (already checked against the database).
pub struct Operator(pub OperatorKey);

/// The bearer credential of `req`, if it sent one.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Operator, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let core = req.app_data::<web::Data<Core>>().cloned();
        let presented = bearer(req);
        Box::pin(async move {
            let core = core.ok_or_else(|| CoreError::Internal("no core".into()))?;
            let presented = presented.ok_or(CoreError::Unauthorized(AuthFailure::MissingToken))?;
            Ok(Operator(core.authenticate_operator(&presented).await?))
        })
    }
}
