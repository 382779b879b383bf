//! CloudFormation's side of a custom resource: the presigned `ResponseURL` a function PUTs its
//! answer to. Locally it is `PUT /_local/custom-resource-responses/{request_id}` on the emulator; the
//! answers are listed, oldest first, at `GET /_local/custom-resource-responses` (and through
//! [`super::EmulatorHandle::custom_resource_responses`]). As S3 does for the real URL, a body that is
//! not JSON is refused with a 400 (CloudFormation would fail the resource).

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Emulator;

/// One answer a custom-resource function delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceResponse {
    /// The last segment of the `ResponseURL` it was PUT to.
    pub request_id: String,
    pub body: Value,
}

pub(super) async fn receive(
    State(state): State<Emulator>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "the answer is not JSON");
    };
    if let Ok(mut responses) = state.custom_resource_responses.lock() {
        responses.push(CustomResourceResponse { request_id, body });
    }
    (StatusCode::OK, "")
}

pub(super) async fn list(State(state): State<Emulator>) -> Json<Vec<CustomResourceResponse>> {
    Json(state.custom_resource_responses.lock().map(|r| r.clone()).unwrap_or_default())
}
