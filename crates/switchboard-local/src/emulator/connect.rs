//! Amazon Connect (restJson1): users, hierarchy groups, contacts and federation tokens from the
//! fixture, and chats started with `StartChatContact`.

use std::collections::BTreeMap;

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{aws_error, parse_request, random_token, Emulator, LocalContact};

pub(super) fn connect_not_found(what: &str) -> Response {
    aws_error(StatusCode::NOT_FOUND, "ResourceNotFoundException", &format!("{what} not found"))
}

pub(super) fn check_instance(state: &Emulator, instance_id: &str) -> Result<(), Box<Response>> {
    let known = &state.fixture.connect.instance_id;
    if instance_id == known || instance_id.ends_with(&format!("instance/{known}")) {
        Ok(())
    } else {
        Err(Box::new(connect_not_found(&format!("Instance {instance_id}"))))
    }
}

/// Connect `DescribeContact`: `GET /contacts/{InstanceId}/{ContactId}`, for registered contacts.
pub(super) async fn describe_contact(
    State(state): State<Emulator>,
    Path((instance_id, contact_id)): Path<(String, String)>,
) -> Response {
    if let Err(response) = check_instance(&state, &instance_id) {
        return *response;
    }
    let contact = state.contacts.lock().ok().and_then(|c| c.get(&contact_id).cloned());
    let Some(contact) = contact else {
        let chat = state.chats.lock().ok().and_then(|c| c.find(&contact_id).cloned());
        return match chat {
            Some(chat) => Json(json!({"Contact": chat.describe(&state.fixture.instance_arn())})).into_response(),
            None => connect_not_found(&format!("Contact {contact_id}")),
        };
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
pub(super) async fn register_contact(State(state): State<Emulator>, Json(contact): Json<LocalContact>) -> StatusCode {
    if let Ok(mut contacts) = state.contacts.lock() {
        contacts.insert(contact.contact_id.clone(), contact);
    }
    StatusCode::NO_CONTENT
}

/// Connect `DescribeUser`: `GET /users/{InstanceId}/{UserId}`.
pub(super) async fn describe_user(
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
pub(super) async fn describe_user_hierarchy_group(
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
pub(super) async fn get_federation_token(
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
        .header(crate::call_log::LOCAL_ORIGIN_HEADER, "emulator")
        .body("Action=GetCallerIdentity&Version=2011-06-15")
        .send()
        .await
        .map_err(|e| format!("STS GetCallerIdentity: {e}"))?;
    let text = response.text().await.map_err(|e| format!("STS GetCallerIdentity: {e}"))?;
    // The one field needed from the XML answer: <Arn>arn:aws:sts::…:assumed-role/<role>/<session></Arn>.
    let arn = text.split("<Arn>").nth(1).and_then(|rest| rest.split("</Arn>").next()).unwrap_or_default();
    Ok(arn.contains(":assumed-role/").then(|| arn.rsplit('/').next().unwrap_or_default().to_owned()))
}

/// A chat started with `StartChatContact`, as `GET /_local/chats` and
/// [`super::EmulatorHandle::chats`] list it: what Connect received, for tests and the flow runner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalChat {
    pub contact_id: String,
    pub participant_id: String,
    pub contact_flow_id: String,
    /// The instance's name of the flow (`contact-flows/<context>/<name>.json`): what a flow runner plays.
    pub contact_flow_name: String,
    pub display_name: String,
    pub attributes: BTreeMap<String, String>,
    pub initial_message: Option<LocalChatMessage>,
    pub related_contact_id: Option<String>,
    /// The contact a persistent chat continues (`PersistentChat.SourceContactId`).
    pub continued_from_contact_id: Option<String>,
    pub customer_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalChatMessage {
    pub content_type: String,
    pub content: String,
}

/// A started chat with what only the emulator keeps: the participant's bearer token (never
/// listed) and the request's `ClientToken`, which makes a retried start answer the same chat.
#[derive(Clone)]
pub(super) struct StartedChat {
    chat: LocalChat,
    participant_token: String,
    client_token: Option<String>,
    initiated_at: i64,
}

#[derive(Default)]
pub(super) struct ChatStore {
    started: Vec<StartedChat>,
}

impl ChatStore {
    pub(super) fn list(&self) -> Vec<LocalChat> {
        self.started.iter().map(|s| s.chat.clone()).collect()
    }

    fn find(&self, contact_id: &str) -> Option<&StartedChat> {
        self.started.iter().find(|s| s.chat.contact_id == contact_id)
    }
}

impl StartedChat {
    /// `DescribeContact`'s `Contact` for the chat.
    fn describe(&self, instance_arn: &str) -> Value {
        let chat = &self.chat;
        let mut contact = json!({
            "Arn": format!("{instance_arn}/contact/{}", chat.contact_id),
            "Id": chat.contact_id,
            "InitialContactId": chat.contact_id,
            "Channel": "CHAT",
            "InitiationMethod": "API",
            "InitiationTimestamp": self.initiated_at,
            "Attributes": chat.attributes,
        });
        if let Some(related) = &chat.related_contact_id {
            contact["RelatedContactId"] = json!(related);
        }
        if let Some(customer) = &chat.customer_id {
            contact["CustomerId"] = json!(customer);
        }
        contact
    }

    fn answer(&self) -> Value {
        let mut answer = json!({
            "ContactId": self.chat.contact_id,
            "ParticipantId": self.chat.participant_id,
            "ParticipantToken": self.participant_token,
        });
        if let Some(source) = &self.chat.continued_from_contact_id {
            answer["ContinuedFromContactId"] = json!(source);
        }
        answer
    }
}

/// The chat message content types Connect accepts (`ChatMessage.ContentType`).
const CHAT_CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "text/markdown",
    "application/json",
    "application/vnd.amazonaws.connect.message.interactive.response",
];
/// `SupportedMessagingContentTypes` may name these as well.
const SUPPORTED_MESSAGING_CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "text/markdown",
    "application/json",
    "application/vnd.amazonaws.connect.message.interactive",
    "application/vnd.amazonaws.connect.message.interactive.response",
];
/// "There can be up to 32,768 UTF-8 bytes across all key-value pairs per contact."
const MAX_ATTRIBUTE_BYTES: usize = 32_768;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartChatContactRequest {
    instance_id: Option<String>,
    contact_flow_id: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
    participant_details: Option<ParticipantDetails>,
    initial_message: Option<ChatMessage>,
    client_token: Option<String>,
    chat_duration_in_minutes: Option<i64>,
    supported_messaging_content_types: Option<Vec<String>>,
    persistent_chat: Option<PersistentChat>,
    related_contact_id: Option<String>,
    customer_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParticipantDetails {
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChatMessage {
    content_type: Option<String>,
    content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PersistentChat {
    rehydration_type: Option<RehydrationType>,
    source_contact_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum RehydrationType {
    EntirePastSession,
    FromSegment,
}

fn invalid_parameter(message: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::BAD_REQUEST, "InvalidParameterException", message))
}

fn invalid_request(message: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::BAD_REQUEST, "InvalidRequestException", message))
}

fn check_length(member: &str, value: &str, min: usize, max: usize) -> Result<(), Box<Response>> {
    let length = value.chars().count();
    if (min..=max).contains(&length) {
        Ok(())
    } else {
        Err(invalid_parameter(&format!("{member} must be {min} to {max} characters long, not {length}")))
    }
}

/// Keys of alphanumerics, `-` and `_`; at most 32,768 UTF-8 bytes over all keys and values.
fn check_attributes(attributes: &BTreeMap<String, String>) -> Result<(), Box<Response>> {
    for (key, value) in attributes {
        check_length("An attribute key", key, 1, 32_767)?;
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(invalid_parameter(&format!(
                "Attribute key {key:?} may contain only alphanumeric, dash and underscore characters"
            )));
        }
        check_length(&format!("Attribute {key}"), value, 0, 32_767)?;
    }
    let bytes: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_ATTRIBUTE_BYTES {
        return Err(invalid_parameter(&format!(
            "Attributes hold {bytes} UTF-8 bytes; at most {MAX_ATTRIBUTE_BYTES} are allowed per contact"
        )));
    }
    Ok(())
}

fn check_initial_message(message: &ChatMessage) -> Result<LocalChatMessage, Box<Response>> {
    let content_type =
        message.content_type.as_deref().ok_or_else(|| invalid_parameter("InitialMessage.ContentType is required"))?;
    if !CHAT_CONTENT_TYPES.contains(&content_type) {
        return Err(invalid_parameter(&format!("InitialMessage.ContentType {content_type:?} is not supported")));
    }
    let content = message.content.as_deref().ok_or_else(|| invalid_parameter("InitialMessage.Content is required"))?;
    if content.is_empty() || content.len() > 16_384 {
        return Err(invalid_parameter("InitialMessage.Content must be 1 to 16,384 bytes"));
    }
    Ok(LocalChatMessage { content_type: content_type.to_owned(), content: content.to_owned() })
}

/// Connect `StartChatContact`: `PUT /contact/chat`, on one of the instance's flows. A retry with the
/// same `ClientToken` (the SDK sends one on every call) answers the chat the first call started.
pub(super) async fn start_chat_contact(State(state): State<Emulator>, body: axum::body::Bytes) -> Response {
    match start_chat(&state, &body) {
        Ok(answer) => Json(answer).into_response(),
        Err(response) => *response,
    }
}

fn start_chat(state: &Emulator, body: &[u8]) -> Result<Value, Box<Response>> {
    let request: StartChatContactRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let instance_id = request.instance_id.as_deref().ok_or_else(|| invalid_parameter("InstanceId is required"))?;
    check_length("InstanceId", instance_id, 1, 100)?;
    check_instance(state, instance_id)?;
    let flow_id = request.contact_flow_id.as_deref().ok_or_else(|| invalid_parameter("ContactFlowId is required"))?;
    check_length("ContactFlowId", flow_id, 1, 500)?;
    let display_name = request
        .participant_details
        .as_ref()
        .ok_or_else(|| invalid_parameter("ParticipantDetails is required"))?
        .display_name
        .as_deref()
        .ok_or_else(|| invalid_parameter("ParticipantDetails.DisplayName is required"))?;
    check_length("ParticipantDetails.DisplayName", display_name, 1, 256)?;
    let attributes = request.attributes.clone().unwrap_or_default();
    check_attributes(&attributes)?;
    let initial_message = request.initial_message.as_ref().map(check_initial_message).transpose()?;
    if let Some(token) = &request.client_token {
        check_length("ClientToken", token, 0, 500)?;
    }
    if let Some(minutes) = request.chat_duration_in_minutes {
        if !(60..=10_080).contains(&minutes) {
            return Err(invalid_parameter(&format!("ChatDurationInMinutes must be 60 to 10,080, not {minutes}")));
        }
    }
    if let Some(types) = &request.supported_messaging_content_types {
        if let Some(unknown) = types.iter().find(|t| !SUPPORTED_MESSAGING_CONTENT_TYPES.contains(&t.as_str())) {
            return Err(invalid_parameter(&format!("SupportedMessagingContentTypes: {unknown:?} is not supported")));
        }
        if !types.iter().any(|t| t == "text/plain") {
            return Err(invalid_parameter("SupportedMessagingContentTypes must contain text/plain"));
        }
    }
    if let Some(customer) = &request.customer_id {
        check_length("CustomerId", customer, 0, 128)?;
    }
    if request.related_contact_id.is_some() && request.persistent_chat.is_some() {
        return Err(invalid_request("RelatedContactId and PersistentChat cannot both be provided"));
    }
    let continued_from = match &request.persistent_chat {
        Some(persistent) => {
            persistent
                .rehydration_type
                .as_ref()
                .ok_or_else(|| invalid_parameter("PersistentChat.RehydrationType is required"))?;
            let source = persistent
                .source_contact_id
                .as_deref()
                .ok_or_else(|| invalid_parameter("PersistentChat.SourceContactId is required"))?;
            Some(source.to_owned())
        }
        None => None,
    };
    // Connect answers a flow the instance does not have with ResourceNotFoundException; the
    // instance's flows are the fixture's and those created since.
    let Some(flow_name) = state.flows.lock().ok().and_then(|flows| flows.flow_name(flow_id)) else {
        return Err(Box::new(connect_not_found(&format!("Contact flow {flow_id}"))));
    };
    for contact in request.related_contact_id.iter().chain(&continued_from) {
        if !state.knows_contact(contact) {
            return Err(Box::new(connect_not_found(&format!("Contact {contact}"))));
        }
    }

    let mut chats = state.chats.lock().map_err(|_| {
        Box::new(aws_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceException", "Chat store unavailable"))
    })?;
    if let Some(token) = &request.client_token {
        if let Some(started) = chats.started.iter().find(|s| s.client_token.as_ref() == Some(token)) {
            return Ok(started.answer());
        }
    }
    let participant_token = random_token().map_err(|e| {
        Box::new(aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServiceException",
            &format!("No randomness: {e}"),
        ))
    })?;
    let started = StartedChat {
        chat: LocalChat {
            contact_id: uuid::Uuid::new_v4().to_string(),
            participant_id: uuid::Uuid::new_v4().to_string(),
            contact_flow_id: flow_id.to_owned(),
            contact_flow_name: flow_name,
            display_name: display_name.to_owned(),
            attributes,
            initial_message,
            related_contact_id: request.related_contact_id.clone(),
            continued_from_contact_id: continued_from,
            customer_id: request.customer_id.clone(),
        },
        participant_token,
        client_token: request.client_token.clone(),
        initiated_at: time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    let answer = started.answer();
    chats.started.push(started);
    Ok(answer)
}

impl Emulator {
    /// A contact registered with `POST /_local/contacts` or a chat started here.
    fn knows_contact(&self, contact_id: &str) -> bool {
        self.contacts.lock().is_ok_and(|c| c.contains_key(contact_id))
            || self.chats.lock().is_ok_and(|c| c.find(contact_id).is_some())
    }
}

/// Local only: every chat started so far, oldest first.
pub(super) async fn read_chats(State(state): State<Emulator>) -> Json<Vec<LocalChat>> {
    Json(state.chats.lock().map(|c| c.list()).unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateContactAttributesRequest {
    instance_id: Option<String>,
    initial_contact_id: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

/// Connect `UpdateContactAttributes`: `POST /contact/attributes`. The contact must be one the
/// instance knows (registered, or a started chat); attributes merge into what it had.
pub(super) async fn update_contact_attributes(State(state): State<Emulator>, body: axum::body::Bytes) -> Response {
    match update_attributes(&state, &body) {
        Ok(()) if state.answer_lost("UpdateContactAttributes") => aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServiceException",
            "the answer was lost (local fault injection)",
        ),
        Ok(()) => Json(json!({})).into_response(),
        Err(response) => *response,
    }
}

/// Connect `GetContactAttributes`: `GET /contact/attributes/{InstanceId}/{InitialContactId}`, for a
/// contact the instance knows (what `UpdateContactAttributes` set on it, or a chat's own attributes).
pub(super) async fn get_contact_attributes(
    State(state): State<Emulator>,
    Path((instance_id, contact_id)): Path<(String, String)>,
) -> Response {
    if let Err(response) = check_instance(&state, &instance_id) {
        return *response;
    }
    if !state.knows_contact(&contact_id) {
        return connect_not_found(&format!("Contact {contact_id}"));
    }
    let mut attributes: BTreeMap<String, String> = state
        .chats
        .lock()
        .ok()
        .and_then(|c| c.find(&contact_id).map(|chat| chat.chat.attributes.clone()))
        .unwrap_or_default();
    if let Some(set) = state.contact_attributes.lock().ok().and_then(|a| a.get(&contact_id).cloned()) {
        attributes.extend(set);
    }
    Json(json!({"Attributes": attributes})).into_response()
}

fn update_attributes(state: &Emulator, body: &[u8]) -> Result<(), Box<Response>> {
    let request: UpdateContactAttributesRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let instance_id = request.instance_id.as_deref().ok_or_else(|| invalid_parameter("InstanceId is required"))?;
    check_instance(state, instance_id)?;
    let contact =
        request.initial_contact_id.as_deref().ok_or_else(|| invalid_parameter("InitialContactId is required"))?;
    check_length("InitialContactId", contact, 1, 256)?;
    let attributes = request.attributes.ok_or_else(|| invalid_parameter("Attributes is required"))?;
    check_attributes(&attributes)?;
    if !state.knows_contact(contact) {
        return Err(Box::new(connect_not_found(&format!("Contact {contact}"))));
    }
    if let Ok(mut stored) = state.contact_attributes.lock() {
        stored.entry(contact.to_owned()).or_default().extend(attributes);
    }
    Ok(())
}
