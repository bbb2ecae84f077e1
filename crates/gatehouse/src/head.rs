//! `HEAD` is answered as `GET` without a body, as Express and hapi do for every GET route (health
//! checkers probe with HEAD). actix-http decides to send no body from the request line it parsed,
//! so rewriting the method before routing is enough: the GET handler runs and its body is dropped.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::Error;

pub async fn serve_head_as_get(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}
