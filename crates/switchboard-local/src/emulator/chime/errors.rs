//! Chime SDK Meetings' error answers.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::emulator::error_response;

/// A Chime SDK error: the type in `x-amzn-ErrorType`, and the model's `Code`, `Message` and
/// `RequestId` members in the body.
pub(super) fn chime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let code = error_type.strip_suffix("Exception").unwrap_or(error_type);
    error_response(status, error_type, |request_id| json!({"Code": code, "Message": message, "RequestId": request_id}))
}

/// An error answer, boxed: it is much larger than the answers' `Ok` values.
pub(super) type Refusal = Box<Response>;

pub(super) fn bad_request(message: &str) -> Refusal {
    Box::new(chime_error(StatusCode::BAD_REQUEST, "BadRequestException", message))
}

pub(super) fn not_found(message: &str) -> Refusal {
    Box::new(chime_error(StatusCode::NOT_FOUND, "NotFoundException", message))
}

pub(super) fn service_failure(message: &str) -> Refusal {
    Box::new(chime_error(StatusCode::INTERNAL_SERVER_ERROR, "ServiceFailureException", message))
}

pub(super) fn meeting_not_found(meeting_id: &str) -> Refusal {
    not_found(&format!("The meeting {meeting_id} does not exist"))
}

pub(super) fn respond(answer: Result<impl IntoResponse, Refusal>) -> Response {
    match answer {
        Ok(answer) => answer.into_response(),
        Err(refusal) => *refusal,
    }
}
