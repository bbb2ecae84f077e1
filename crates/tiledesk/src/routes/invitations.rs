//! `GET /auth/pendinginvitationsnoauth/{id}`: the dashboard reads an invitation before signup.
//! Gatehouse has no invitations, so every id is unknown, answered as auth.js answers one:
//! `return res.status(404).send({ success: false, msg: 'Object not found.' });`

use crate::errors::TiledeskError;
use actix_web::http::StatusCode;

pub async fn pending_invitation() -> Result<actix_web::HttpResponse, TiledeskError> {
    Err(TiledeskError::Msg(
        StatusCode::NOT_FOUND,
        "Object not found.",
    ))
}
