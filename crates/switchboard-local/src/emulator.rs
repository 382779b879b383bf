//! Our emulator for the AWS operations moto does not have, on the services' real wire protocol
//! (restJson1 paths, status codes and error shapes), so unmodified SDK clients reach it through
//! `AWS_ENDPOINT_URL_PINPOINT` (and, as the fleet grows, `_CONNECT` and `_CHIME_SDK_MEETINGS`).
//!
//! Pinpoint: `PhoneNumberValidate` answers from the fixture; `SendMessages` delivers SMS into an
//! outbox that tests and the flow runner read at `GET /_local/outbox`.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::fixture::Fixture;

/// One SMS the emulator "delivered".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sms {
    pub application_id: String,
    pub to: String,
    pub body: String,
    pub message_type: Option<String>,
    pub sender_id: Option<String>,
    pub origination_number: Option<String>,
    pub message_id: String,
}

#[derive(Clone)]
struct Emulator {
    fixture: Arc<Fixture>,
    outbox: Arc<Mutex<Vec<Sms>>>,
}

/// A running emulator on a loopback port; it stops with the tokio runtime that started it.
pub struct EmulatorHandle {
    pub addr: SocketAddr,
    outbox: Arc<Mutex<Vec<Sms>>>,
    task: tokio::task::JoinHandle<()>,
}

impl EmulatorHandle {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every SMS sent so far, oldest first.
    pub fn outbox(&self) -> Vec<Sms> {
        self.outbox.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the emulator on `addr` (port 0 for a free one).
pub async fn start(fixture: Fixture, addr: SocketAddr) -> std::io::Result<EmulatorHandle> {
    let outbox = Arc::new(Mutex::new(Vec::new()));
    let state = Emulator {
        fixture: Arc::new(fixture),
        outbox: outbox.clone(),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = router(state);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "emulator stopped");
        }
    });
    Ok(EmulatorHandle { addr, outbox, task })
}

fn router(state: Emulator) -> Router {
    Router::new()
        .route("/v1/phone/number/validate", post(phone_number_validate))
        .route("/v1/apps/{application_id}/messages", post(send_messages))
        .route("/_local/outbox", get(read_outbox).delete(clear_outbox))
        .fallback(unknown_operation)
        .with_state(state)
}

/// A restJson1 error: the type in `x-amzn-ErrorType`, the message in the body.
fn aws_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(error_type) {
        headers.insert("x-amzn-ErrorType", value);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    (
        status,
        headers,
        Json(json!({"Message": message, "message": message, "RequestID": request_id})),
    )
        .into_response()
}

/// The JSON body, or the `BadRequestException` the service answers for a malformed one.
fn parse_body(body: &[u8]) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(aws_error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            &format!("Invalid JSON body: {e}"),
        ))
    })
}

/// Pinpoint `PhoneNumberValidate`: `POST /v1/phone/number/validate`, body `NumberValidateRequest`.
async fn phone_number_validate(State(state): State<Emulator>, body: axum::body::Bytes) -> Response {
    let request = match parse_body(&body) {
        Ok(v) => v,
        Err(response) => return *response,
    };
    let Some(number) = request.get("PhoneNumber").and_then(Value::as_str) else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            "PhoneNumber is required",
        );
    };
    let response = match state.fixture.pinpoint.numbers.get(number) {
        Some(info) => json!({
            "CleansedPhoneNumberE164": number,
            "CountryCodeIso2": info.country_code_iso2,
            "Carrier": info.carrier,
            "PhoneType": info.phone_type,
            "PhoneTypeCode": phone_type_code(&info.phone_type),
        }),
        None => json!({"PhoneType": "INVALID", "PhoneTypeCode": phone_type_code("INVALID")}),
    };
    Json(response).into_response()
}

/// The numeric codes Pinpoint pairs with each phone type.
fn phone_type_code(phone_type: &str) -> i32 {
    match phone_type {
        "MOBILE" => 0,
        "LANDLINE" => 1,
        "VOIP" => 2,
        "INVALID" => 3,
        "PREPAID" => 5,
        _ => 4,
    }
}

/// Pinpoint `SendMessages`: `POST /v1/apps/{ApplicationId}/messages`, body `MessageRequest`. SMS to a
/// known mobile that is not marked undeliverable lands in the outbox as `SUCCESSFUL`.
async fn send_messages(
    State(state): State<Emulator>,
    Path(application_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if application_id != state.fixture.pinpoint.application_id {
        return aws_error(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            "Resource not found",
        );
    }
    let request = match parse_body(&body) {
        Ok(v) => v,
        Err(response) => return *response,
    };
    let Some(addresses) = request
        .get("Addresses")
        .and_then(Value::as_object)
        .filter(|a| !a.is_empty())
    else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            "Addresses or Endpoints is required",
        );
    };
    let sms = request.pointer("/MessageConfiguration/SMSMessage");
    let mut results = serde_json::Map::new();
    for (address, config) in addresses {
        if config.get("ChannelType").and_then(Value::as_str) != Some("SMS") {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "Only the SMS channel is emulated",
            );
        }
        let Some(body) = sms.and_then(|s| s.get("Body")).and_then(Value::as_str) else {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "SMSMessage.Body is required",
            );
        };
        let message_id = uuid::Uuid::new_v4().to_string();
        let mobile = state
            .fixture
            .pinpoint
            .numbers
            .get(address)
            .is_some_and(|n| n.phone_type == "MOBILE");
        let deliverable = mobile && !state.fixture.pinpoint.undeliverable.contains(address);
        let result = if deliverable {
            let text = |name: &str| {
                sms.and_then(|s| s.get(name))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let entry = Sms {
                application_id: application_id.clone(),
                to: address.clone(),
                body: body.to_owned(),
                message_type: text("MessageType"),
                sender_id: text("SenderId"),
                origination_number: text("OriginationNumber"),
                message_id: message_id.clone(),
            };
            if let Ok(mut outbox) = state.outbox.lock() {
                outbox.push(entry);
            }
            json!({"DeliveryStatus": "SUCCESSFUL", "StatusCode": 200, "MessageId": message_id,
                   "StatusMessage": format!("MessageId: {message_id}")})
        } else {
            json!({"DeliveryStatus": "PERMANENT_FAILURE", "StatusCode": 400,
                   "StatusMessage": "The destination phone number cannot receive SMS"})
        };
        results.insert(address.clone(), result);
    }
    Json(json!({
        "ApplicationId": application_id,
        "RequestId": uuid::Uuid::new_v4().to_string(),
        "Result": results,
    }))
    .into_response()
}

async fn read_outbox(State(state): State<Emulator>) -> Json<Vec<Sms>> {
    Json(state.outbox.lock().map(|o| o.clone()).unwrap_or_default())
}

async fn clear_outbox(State(state): State<Emulator>) -> StatusCode {
    if let Ok(mut outbox) = state.outbox.lock() {
        outbox.clear();
    }
    StatusCode::NO_CONTENT
}

async fn unknown_operation(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    aws_error(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        &format!(
            "{method} {} is not an operation the Switchboard emulator implements",
            uri.path()
        ),
    )
}
