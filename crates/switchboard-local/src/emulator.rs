//! Our emulator for the AWS operations moto does not have, on the services' real wire protocol
//! (restJson1 paths, status codes and error shapes), so unmodified SDK clients reach it through
//! `AWS_ENDPOINT_URL_PINPOINT` (and, as the fleet grows, `_CONNECT` and `_CHIME_SDK_MEETINGS`).
//!
//! Pinpoint: `PhoneNumberValidate` answers from the fixture's numbers and those registered with
//! `POST /_local/numbers`; `SendMessages` delivers SMS into an outbox that tests and the flow runner
//! read at `GET /_local/outbox`.
//!
//! Connect: `DescribeUser`, `DescribeUserHierarchyGroup` and `GetFederationToken` from the fixture.
//! `GetFederationToken` identifies the caller as Connect does, by the session name of the assumed
//! role whose credentials signed the request (asked of moto's STS).
//!
//! Cognito user pools (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`): forwarded to moto, except that
//! `UpdateUserAttributes` is refused for attributes outside the app client's write attributes, as
//! Cognito does and moto does not.

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

use crate::fixture::{Fixture, NumberInfo};

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

impl Sms {
    /// The PIN in the body: its first run of at least four digits.
    pub fn pin(&self) -> Option<&str> {
        self.body.split(|c: char| !c.is_ascii_digit()).find(|run| run.len() >= 4)
    }
}

/// A phone number for `PhoneNumberValidate` and `SendMessages`, beyond the fixture's (e.g. a fresh
/// admin's mobile per benchmark invocation), registered with `POST /_local/numbers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalNumber {
    pub phone_number: String,
    #[serde(flatten)]
    pub info: NumberInfo,
}

/// A contact the local cloud knows about: what `DescribeContact` answers. Tests and tools register
/// contacts (a call that reached an agent, a transfer) with `POST /_local/contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalContact {
    pub contact_id: String,
    pub initial_contact_id: String,
    #[serde(default)]
    pub agent_id: Option<String>,
}

#[derive(Clone)]
struct Emulator {
    fixture: Arc<Fixture>,
    outbox: Arc<Mutex<Vec<Sms>>>,
    contacts: Arc<Mutex<std::collections::HashMap<String, LocalContact>>>,
    /// The fixture's numbers, then the registered ones.
    numbers: Arc<Mutex<std::collections::BTreeMap<String, NumberInfo>>>,
    /// moto, for STS identities and the Cognito operations we forward.
    moto: Option<String>,
    http: reqwest::Client,
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

/// Starts the emulator on `addr` (port 0 for a free one); `moto` is moto's endpoint, for the
/// operations that need it (STS identities, forwarded Cognito calls).
pub async fn start(fixture: Fixture, addr: SocketAddr, moto: Option<String>) -> std::io::Result<EmulatorHandle> {
    let outbox = Arc::new(Mutex::new(Vec::new()));
    let state = Emulator {
        outbox: outbox.clone(),
        contacts: Arc::new(Mutex::new(std::collections::HashMap::new())),
        numbers: Arc::new(Mutex::new(fixture.pinpoint.numbers.clone())),
        fixture: Arc::new(fixture),
        moto,
        http: reqwest::Client::new(),
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
        .route("/users/{instance_id}/{user_id}", get(describe_user))
        .route("/user-hierarchy-groups/{instance_id}/{group_id}", get(describe_user_hierarchy_group))
        .route("/user/federate/{instance_id}", get(get_federation_token))
        .route("/contacts/{instance_id}/{contact_id}", get(describe_contact))
        .route("/_local/contacts", post(register_contact))
        .route("/_local/numbers", post(register_number))
        .route("/", post(json_protocol))
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
    (status, headers, Json(json!({"Message": message, "message": message, "RequestID": request_id}))).into_response()
}

/// The JSON body, or the `BadRequestException` the service answers for a malformed one.
fn parse_body(body: &[u8]) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(aws_error(StatusCode::BAD_REQUEST, "BadRequestException", &format!("Invalid JSON body: {e}")))
    })
}

/// Pinpoint `PhoneNumberValidate`: `POST /v1/phone/number/validate`, body `NumberValidateRequest`.
async fn phone_number_validate(State(state): State<Emulator>, body: axum::body::Bytes) -> Response {
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
async fn register_number(State(state): State<Emulator>, Json(number): Json<LocalNumber>) -> StatusCode {
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
async fn send_messages(
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
        &format!("{method} {} is not an operation the Switchboard emulator implements", uri.path()),
    )
}

// ---------------------------------------------------------------------------------------------
// Amazon Connect (restJson1)

fn connect_not_found(what: &str) -> Response {
    aws_error(StatusCode::NOT_FOUND, "ResourceNotFoundException", &format!("{what} not found"))
}

fn check_instance(state: &Emulator, instance_id: &str) -> Result<(), Box<Response>> {
    let known = &state.fixture.connect.instance_id;
    if instance_id == known || instance_id.ends_with(&format!("instance/{known}")) {
        Ok(())
    } else {
        Err(Box::new(connect_not_found(&format!("Instance {instance_id}"))))
    }
}

/// Connect `DescribeContact`: `GET /contacts/{InstanceId}/{ContactId}`, for registered contacts.
async fn describe_contact(
    State(state): State<Emulator>,
    Path((instance_id, contact_id)): Path<(String, String)>,
) -> Response {
    if let Err(response) = check_instance(&state, &instance_id) {
        return *response;
    }
    let contact = state.contacts.lock().ok().and_then(|c| c.get(&contact_id).cloned());
    let Some(contact) = contact else {
        return connect_not_found(&format!("Contact {contact_id}"));
    };
    let transferred = contact.contact_id != contact.initial_contact_id;
    let mut answer = json!({"Contact": {
        "Arn": format!("{}/contact/{}", state.fixture.instance_arn(), contact.contact_id),
        "Id": contact.contact_id,
        "InitialContactId": contact.initial_contact_id,
        "Channel": "VOICE",
        "InitiationMethod": if transferred { "TRANSFER" } else { "INBOUND" },
        "InitiationTimestamp": time::OffsetDateTime::now_utc().unix_timestamp(),
    }});
    if transferred {
        answer["Contact"]["PreviousContactId"] = json!(contact.initial_contact_id);
    }
    if let Some(agent) = &contact.agent_id {
        answer["Contact"]["AgentInfo"] = json!({"Id": agent});
    }
    Json(answer).into_response()
}

/// Local only: registers (or updates) a contact for `DescribeContact`.
async fn register_contact(State(state): State<Emulator>, Json(contact): Json<LocalContact>) -> StatusCode {
    if let Ok(mut contacts) = state.contacts.lock() {
        contacts.insert(contact.contact_id.clone(), contact);
    }
    StatusCode::NO_CONTENT
}

/// Connect `DescribeUser`: `GET /users/{InstanceId}/{UserId}`.
async fn describe_user(
    State(state): State<Emulator>,
    Path((instance_id, user_id)): Path<(String, String)>,
) -> Response {
    if let Err(response) = check_instance(&state, &instance_id) {
        return *response;
    }
    let Some(user) = state.fixture.connect.users.iter().find(|u| u.id == user_id) else {
        return connect_not_found(&format!("User {user_id}"));
    };
    let arn = format!("{}/agent/{}", state.fixture.instance_arn(), user.id);
    Json(json!({"User": {
        "Id": user.id,
        "Arn": arn,
        "Username": user.username,
        "IdentityInfo": {"Email": user.username},
        "PhoneConfig": {"PhoneType": "SOFT_PHONE", "AutoAccept": false, "AfterContactWorkTimeLimit": 0},
        "SecurityProfileIds": user.security_profile_ids,
        "RoutingProfileId": "00000000-0000-0000-0000-00000000beef",
        "HierarchyGroupId": user.hierarchy_group_id,
        "Tags": {}
    }}))
    .into_response()
}

/// Connect `DescribeUserHierarchyGroup`: `GET /user-hierarchy-groups/{InstanceId}/{HierarchyGroupId}`.
async fn describe_user_hierarchy_group(
    State(state): State<Emulator>,
    Path((instance_id, group_id)): Path<(String, String)>,
) -> Response {
    if let Err(response) = check_instance(&state, &instance_id) {
        return *response;
    }
    let groups = &state.fixture.connect.hierarchy_groups;
    let Some(group) = groups.iter().find(|g| g.id == group_id) else {
        return connect_not_found(&format!("Hierarchy group {group_id}"));
    };
    let arn = |id: &str| format!("{}/agent-group/{id}", state.fixture.instance_arn());
    let mut path = serde_json::Map::new();
    for (level, id) in ["LevelOne", "LevelTwo", "LevelThree", "LevelFour", "LevelFive"].iter().zip(&group.path) {
        let name = groups.iter().find(|g| &g.id == id).map(|g| g.name.as_str()).unwrap_or_default();
        path.insert((*level).to_owned(), json!({"Id": id, "Arn": arn(id), "Name": name}));
    }
    Json(json!({"HierarchyGroup": {
        "Id": group.id, "Arn": arn(&group.id), "Name": group.name, "LevelId": group.level_id,
        "HierarchyPath": path, "Tags": {}
    }}))
    .into_response()
}

/// Connect `GetFederationToken`: `GET /user/federate/{InstanceId}`. The user is the one whose
/// username is the session name of the assumed role that signed the request.
async fn get_federation_token(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = check_instance(&state, &instance_id) {
        return *response;
    }
    let session = match caller_session_name(&state, &headers).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "UserNotFoundException",
                "GetFederationToken must be called with the credentials of an assumed role named after the user",
            )
        }
        Err(problem) => return aws_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceException", &problem),
    };
    // Connect answers a session name that names no user of the instance with UserNotFoundException.
    let Some(user) = state.fixture.connect.users.iter().find(|u| u.username.eq_ignore_ascii_case(&session)) else {
        return aws_error(StatusCode::NOT_FOUND, "UserNotFoundException", "User not found");
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Json(json!({
        "Credentials": {
            "AccessToken": format!("local-access-{}", uuid::Uuid::new_v4()),
            "AccessTokenExpiration": now + 12 * 3600,
            "RefreshToken": format!("local-refresh-{}", uuid::Uuid::new_v4()),
            "RefreshTokenExpiration": now + 30 * 24 * 3600
        },
        "SignInUrl": format!("https://localhost/connect/federate/{}", state.fixture.connect.instance_id),
        "UserArn": format!("{}/agent/{}", state.fixture.instance_arn(), user.id),
        "UserId": user.id
    }))
    .into_response()
}

/// The access key id in a SigV4 `Authorization` header.
fn access_key_id(headers: &HeaderMap) -> Option<String> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let credential = authorization.split("Credential=").nth(1)?;
    credential.split('/').next().map(str::to_owned)
}

/// Asks moto's STS who holds the request's access key; the session name of an assumed role, if any.
async fn caller_session_name(state: &Emulator, headers: &HeaderMap) -> Result<Option<String>, String> {
    let (Some(moto), Some(key)) = (&state.moto, access_key_id(headers)) else {
        return Ok(None);
    };
    // moto identifies the caller by the access key in the credential scope and does not check
    // signatures, so a request naming the key is enough.
    let response = state
        .http
        .post(format!("{moto}/"))
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={key}/20260101/{}/sts/aws4_request, SignedHeaders=host, Signature=0",
                state.fixture.region
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=GetCallerIdentity&Version=2011-06-15")
        .send()
        .await
        .map_err(|e| format!("STS GetCallerIdentity: {e}"))?;
    let text = response.text().await.map_err(|e| format!("STS GetCallerIdentity: {e}"))?;
    // The one field needed from the XML answer: <Arn>arn:aws:sts::…:assumed-role/<role>/<session></Arn>.
    let arn = text.split("<Arn>").nth(1).and_then(|rest| rest.split("</Arn>").next()).unwrap_or_default();
    Ok(arn.contains(":assumed-role/").then(|| arn.rsplit('/').next().unwrap_or_default().to_owned()))
}

// ---------------------------------------------------------------------------------------------
// awsJson 1.1 services (`POST /` with `X-Amz-Target`): Cognito user pools, fronting moto.

async fn json_protocol(State(state): State<Emulator>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    if !target.starts_with("AWSCognitoIdentityProviderService.") {
        return unknown_operation(axum::http::Method::POST, axum::http::Uri::from_static("/")).await;
    }
    if target.ends_with(".UpdateUserAttributes") {
        if let Err(response) = check_write_attributes(&state, &body).await {
            return *response;
        }
    }
    forward_to_moto(&state, &headers, body).await
}

/// Cognito refuses `UpdateUserAttributes` for any attribute outside the app client's write attributes.
async fn check_write_attributes(state: &Emulator, body: &[u8]) -> Result<(), Box<Response>> {
    let refuse = |message: &str| Box::new(aws_error(StatusCode::BAD_REQUEST, "NotAuthorizedException", message));
    let request: Value = serde_json::from_slice(body).map_err(|_| refuse("Invalid request body"))?;
    let token = request.get("AccessToken").and_then(Value::as_str).ok_or_else(|| refuse("Missing AccessToken"))?;
    let claims: Value =
        jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| refuse("Invalid Access Token"))?;
    let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or_default();
    let pool_id = claims.get("iss").and_then(Value::as_str).and_then(|i| i.rsplit('/').next()).unwrap_or_default();
    let Some(moto) = &state.moto else {
        return Ok(());
    };
    let describe = state
        .http
        .post(format!("{moto}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityProviderService.DescribeUserPoolClient")
        .header("authorization", format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{}/cognito-idp/aws4_request, SignedHeaders=host, Signature=0", state.fixture.region))
        .body(json!({"UserPoolId": pool_id, "ClientId": client_id}).to_string())
        .send()
        .await
        .map_err(|e| Box::new(aws_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalErrorException", &e.to_string())))?;
    let client: Value = describe.json().await.unwrap_or_default();
    let Some(allowed) = client.pointer("/UserPoolClient/WriteAttributes").and_then(Value::as_array) else {
        return Ok(()); // no list: every writable attribute is allowed
    };
    let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
    let attributes = request.get("UserAttributes").and_then(Value::as_array).cloned().unwrap_or_default();
    for attribute in attributes {
        let name = attribute.get("Name").and_then(Value::as_str).unwrap_or_default();
        if !allowed.contains(&name) {
            return Err(refuse("A client attempted to write unauthorized attribute"));
        }
    }
    Ok(())
}

async fn forward_to_moto(state: &Emulator, headers: &HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(moto) = &state.moto else {
        return aws_error(StatusCode::NOT_IMPLEMENTED, "UnknownOperationException", "no moto to forward to");
    };
    let mut request = state.http.post(format!("{moto}/")).body(body);
    for name in ["content-type", "x-amz-target", "authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.as_bytes());
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                if name.as_str().starts_with("x-amz") || name == "content-type" {
                    out.insert(name.clone(), value.clone());
                }
            }
            let body = answer.bytes().await.unwrap_or_default();
            (status, out, body).into_response()
        }
        Err(error) => aws_error(StatusCode::BAD_GATEWAY, "InternalErrorException", &error.to_string()),
    }
}
