//! The request's tenant and client address, put into the request's extensions by the binary's
//! Host -> tenant middleware; handlers take it as an extractor.

use crate::errors::TiledeskError;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use gatehouse_core::{CoreError, RequestContext};
use std::future::{ready, Ready};

pub struct Ctx(pub RequestContext);

impl FromRequest for Ctx {
    type Error = TiledeskError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<RequestContext>()
                .cloned()
                .map(Ctx)
                // Only a wiring mistake in the binary gets here.
                .ok_or_else(|| {
                    CoreError::Internal("no tenant resolved for a Tiledesk route".into()).into()
                }),
        )
    }
}
