//! Pinpoint (restJson1): `PhoneNumberValidate` and `SendMessages` (SMS land in the outbox).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

use super::{aws_error, parse_body, Emulator, LocalNumber, Sms};
use crate::fixture::NumberInfo;

/// Pinpoint `PhoneNumberValidate`: `POST /v1/phone/number/validate`, body `NumberValidateRequest`.
pub(super) async fn phone_number_validate(State(state): State<Emulator>, body: axum::body::Bytes) -> Response {
    let request = match parse_body(&body) {
        Ok(v) => v,
        Err(response) => return *response,
    };
    let Some(number) = request.get("PhoneNumber").and_then(Value::as_str) else {
        return aws_error(StatusCode::BAD_REQUEST, "BadRequestException", "PhoneNumber is required");
    };
    let response = match state.number(number) {
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

impl Emulator {
    fn number(&self, number: &str) -> Option<NumberInfo> {
        self.numbers.lock().ok().and_then(|n| n.get(number).cloned())
    }
}

/// Local only: registers (or updates) a number for `PhoneNumberValidate` and `SendMessages`.
pub(super) async fn register_number(State(state): State<Emulator>, Json(number): Json<LocalNumber>) -> StatusCode {
    if let Ok(mut numbers) = state.numbers.lock() {
        numbers.insert(number.phone_number, number.info);
    }
    StatusCode::NO_CONTENT
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
pub(super) async fn send_messages(
    State(state): State<Emulator>,
    Path(application_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if application_id != state.fixture.pinpoint.application_id {
        return aws_error(StatusCode::NOT_FOUND, "NotFoundException", "Resource not found");
    }
    let request = match parse_body(&body) {
        Ok(v) => v,
        Err(response) => return *response,
    };
    let Some(addresses) = request.get("Addresses").and_then(Value::as_object).filter(|a| !a.is_empty()) else {
        return aws_error(StatusCode::BAD_REQUEST, "BadRequestException", "Addresses or Endpoints is required");
    };
    let sms = request.pointer("/MessageConfiguration/SMSMessage");
    let mut results = serde_json::Map::new();
    for (address, config) in addresses {
        if config.get("ChannelType").and_then(Value::as_str) != Some("SMS") {
            return aws_error(StatusCode::BAD_REQUEST, "BadRequestException", "Only the SMS channel is emulated");
        }
        let Some(body) = sms.and_then(|s| s.get("Body")).and_then(Value::as_str) else {
            return aws_error(StatusCode::BAD_REQUEST, "BadRequestException", "SMSMessage.Body is required");
        };
        let message_id = uuid::Uuid::new_v4().to_string();
        let mobile = state.number(address).is_some_and(|n| n.phone_type == "MOBILE");
        let deliverable = mobile && !state.fixture.pinpoint.undeliverable.contains(address);
        let result = if deliverable {
            let text = |name: &str| sms.and_then(|s| s.get(name)).and_then(Value::as_str).map(str::to_owned);
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
