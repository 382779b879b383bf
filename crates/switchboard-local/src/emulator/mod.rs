//! Our emulator for the AWS operations moto does not have, on the services' real wire protocol
//! (restJson1 paths, status codes and error shapes), so unmodified SDK clients reach it through
//! `AWS_ENDPOINT_URL_PINPOINT`, `_CONNECT`, `_CHIME_SDK_MEETINGS` and `_COGNITO_IDENTITY_PROVIDER`.
//! One module per service, this one the router and what they share:
//!
//! - `pinpoint`: `PhoneNumberValidate` answers from the fixture's numbers and those registered
//!   with `POST /_local/numbers`; `SendMessages` delivers SMS into an outbox that tests and the flow
//!   runner read at `GET /_local/outbox`.
//! - `connect`: `DescribeUser`, `DescribeUserHierarchyGroup`, `DescribeContact` (contacts
//!   registered with `POST /_local/contacts`, and started chats), `GetFederationToken`, which
//!   identifies the caller as Connect does, by the session name of the assumed role that signed the
//!   request (asked of moto's STS), and `StartChatContact` on the instance's flows; every chat
//!   started is listed, with what Connect received, at `GET /_local/chats`; `UpdateContactAttributes`
//!   on a known contact (what it set: [`EmulatorHandle::contact_attributes`]).
//! - `connect_flows`: Connect flow deployment, paginated by the fixture's `pageSize` and
//!   validating flow content as the service does: `ListContactFlows`, `DescribeContactFlow`,
//!   `CreateContactFlow`, `UpdateContactFlowContent`, `UpdateContactFlowMetadata`, `TagResource`,
//!   `ListQueues`, `ListPrompts`, `ListLambdaFunctions`, `AssociateLambdaFunction`,
//!   `DisassociateLambdaFunction`, `ListBots`, `AssociateBot` and `DisassociateBot`, on flows seeded
//!   from the fixture; the flows and the count of writes are at `GET /_local/contact-flows`.
//! - `chime`: Chime SDK Meetings `CreateMeeting`, `CreateMeetingWithAttendees`, `CreateAttendee`,
//!   `BatchCreateAttendee`, `GetMeeting`, `GetAttendee`, `ListAttendees`, `DeleteAttendee` and
//!   `DeleteMeeting`, in memory; the live meetings with their attendees are listed at
//!   `GET /_local/meetings`, so tests can check that nothing is left behind.
//! - `cognito`: user pools forwarded to moto, except that `UpdateUserAttributes` is refused for
//!   attributes outside the app client's write attributes, as Cognito does and moto does not; and
//!   managed login (`/oauth2/authorize`, `/login`, `/oauth2/token`) for the pool whose domain was
//!   created through it (`CreateUserPoolDomain`): this origin is that domain.
//! - `cloudformation`: the `ResponseURL` custom-resource functions answer to, recording each answer.
//!
//! Any other path or method answers the service's unknown-operation error at once, never a hang.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Json, Router,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{json, Value};

use crate::fixture::{Fixture, NumberInfo};

mod chime;
mod cloudformation;
mod cognito;
mod connect;
mod connect_flows;
mod pinpoint;

pub use chime::{meeting_ended_event, LocalAttendee, LocalMeeting};
pub use cloudformation::CustomResourceResponse;
pub use connect::{LocalChat, LocalChatMessage};
pub use connect_flows::LocalContactFlow;

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
    /// Chats started with Connect `StartChatContact`.
    chats: Arc<Mutex<connect::ChatStore>>,
    /// Attributes set with Connect `UpdateContactAttributes`, by initial contact id.
    contact_attributes: Arc<Mutex<std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>>>,
    /// Chime SDK meetings and their attendees.
    meetings: Arc<Mutex<chime::MeetingStore>>,
    /// Connect flows, associated Lambda functions and bots, and the count of writes to them.
    flows: Arc<Mutex<connect_flows::FlowStore>>,
    /// Answers PUT to custom resources' `ResponseURL`s.
    custom_resource_responses: Arc<Mutex<Vec<CustomResourceResponse>>>,
    /// Operations whose next answers are lost after they took effect (see `EmulatorHandle::lose_answers`).
    lost_answers: LostAnswers,
    /// The fixture's numbers, then the registered ones.
    numbers: Arc<Mutex<std::collections::BTreeMap<String, NumberInfo>>>,
    /// moto, for STS identities and the Cognito operations we forward.
    moto: Option<String>,
    http: reqwest::Client,
    /// Cognito in moto through the SDK (managed login's client checks and tokens).
    cognito: Option<aws_sdk_cognitoidentityprovider::Client>,
    managed_login: Arc<Mutex<cognito::ManagedLogin>>,
    /// What the services publish to EventBridge (Chime's meeting events), for the local cloud to
    /// deliver by the template's rules.
    events: tokio::sync::mpsc::UnboundedSender<serde_json::Value>,
}

/// A running emulator on a loopback port; it stops with the tokio runtime that started it.
pub struct EmulatorHandle {
    pub addr: SocketAddr,
    outbox: Arc<Mutex<Vec<Sms>>>,
    chats: Arc<Mutex<connect::ChatStore>>,
    contact_attributes: Arc<Mutex<std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>>>,
    meetings: Arc<Mutex<chime::MeetingStore>>,
    flows: Arc<Mutex<connect_flows::FlowStore>>,
    custom_resource_responses: Arc<Mutex<Vec<CustomResourceResponse>>>,
    lost_answers: LostAnswers,
    events: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>>>,
    task: tokio::task::JoinHandle<()>,
}

/// By operation name, how many of its next calls take effect and then answer a 500, as when a
/// service's answer is lost on the way back: the caller cannot tell whether its write landed.
type LostAnswers = Arc<Mutex<std::collections::BTreeMap<String, u32>>>;

impl Emulator {
    /// Whether this call of `operation` (which has taken effect) is to answer a lost-answer 500.
    fn answer_lost(&self, operation: &str) -> bool {
        let Ok(mut lost) = self.lost_answers.lock() else {
            return false;
        };
        match lost.get_mut(operation) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }
}

impl EmulatorHandle {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `times` calls of `operation` (e.g. `UpdateContactAttributes`) take effect and then
    /// answer a 500 (fault injection for undo paths).
    pub fn lose_answers(&self, operation: &str, times: u32) {
        if let Ok(mut lost) = self.lost_answers.lock() {
            lost.insert(operation.to_owned(), times);
        }
    }

    /// The events the emulated services publish to EventBridge (Chime's `chime:MeetingEnded` when a
    /// meeting is deleted), for one reader: the local cloud's delivery. `None` once taken.
    pub fn take_events(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>> {
        self.events.lock().ok().and_then(|mut events| events.take())
    }

    /// The attributes `UpdateContactAttributes` set on the contact whose initial contact id is
    /// `initial_contact_id` (every call merged, as Connect merges them).
    pub fn contact_attributes(&self, initial_contact_id: &str) -> std::collections::BTreeMap<String, String> {
        self.contact_attributes.lock().ok().and_then(|a| a.get(initial_contact_id).cloned()).unwrap_or_default()
    }

    /// Every SMS sent so far, oldest first.
    pub fn outbox(&self) -> Vec<Sms> {
        self.outbox.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Every chat started with `StartChatContact` so far, oldest first (as `GET /_local/chats`).
    pub fn chats(&self) -> Vec<LocalChat> {
        self.chats.lock().map(|c| c.list()).unwrap_or_default()
    }

    /// The live Chime meetings with their attendees, oldest first (as `GET /_local/meetings`).
    pub fn meetings(&self) -> Vec<LocalMeeting> {
        self.meetings.lock().map(|m| m.list()).unwrap_or_default()
    }

    /// The instance's Connect flows, oldest first, content verbatim (as `GET /_local/contact-flows`).
    pub fn contact_flows(&self) -> Vec<LocalContactFlow> {
        self.flows.lock().map(|f| f.list()).unwrap_or_default()
    }

    /// How many Connect flow-deployment writes succeeded (flows created or updated, tags, Lambda
    /// and bot associations); reads do not count.
    pub fn connect_writes(&self) -> usize {
        self.flows.lock().map(|f| f.writes()).unwrap_or_default()
    }

    /// Each claimed number (E.164) with the name of the flow `AssociatePhoneNumberContactFlow` gave it.
    pub fn phone_number_flows(&self) -> std::collections::BTreeMap<String, Option<String>> {
        self.flows.lock().map(|f| f.phone_number_flows()).unwrap_or_default()
    }

    /// The ARNs of the Lambda functions associated with the instance, in association order.
    pub fn associated_lambda_functions(&self) -> Vec<String> {
        self.flows.lock().map(|f| f.lambda_functions()).unwrap_or_default()
    }

    /// The URL a custom-resource event names as its `ResponseURL`, for request `request_id`.
    pub fn custom_resource_response_url(&self, request_id: &str) -> String {
        format!("{}/_local/custom-resource-responses/{request_id}", self.endpoint())
    }

    /// Every custom-resource answer delivered so far, oldest first.
    pub fn custom_resource_responses(&self) -> Vec<CustomResourceResponse> {
        self.custom_resource_responses.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `GET /_local/phone-numbers`: each claimed number with the flow it starts (`null`: none yet).
async fn read_phone_numbers(State(state): State<Emulator>) -> Response {
    let numbers = state.flows.lock().map(|f| f.phone_number_flows()).unwrap_or_default();
    axum::Json(numbers).into_response()
}

/// Starts the emulator on `addr` (port 0 for a free one); `moto` is moto's endpoint, for the
/// operations that need it (STS identities, forwarded Cognito calls).
pub async fn start(fixture: Fixture, addr: SocketAddr, moto: Option<String>) -> std::io::Result<EmulatorHandle> {
    start_recording(fixture, addr, moto, None).await
}

/// As [`start`], with every request recorded by `recorder` (see [`crate::call_log`]).
pub async fn start_recording(
    fixture: Fixture,
    addr: SocketAddr,
    moto: Option<String>,
    recorder: Option<crate::call_log::RequestRecorder>,
) -> std::io::Result<EmulatorHandle> {
    let outbox = Arc::new(Mutex::new(Vec::new()));
    let chats = Arc::new(Mutex::new(connect::ChatStore::default()));
    let contact_attributes = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
    let meetings = Arc::new(Mutex::new(chime::MeetingStore::default()));
    let flows = Arc::new(Mutex::new(connect_flows::FlowStore::seed(&fixture)));
    let custom_resource_responses = Arc::new(Mutex::new(Vec::new()));
    let lost_answers: LostAnswers = Arc::default();
    let (events, published) = tokio::sync::mpsc::unbounded_channel();
    let moto_cognito = moto.as_deref().map(|endpoint| {
        use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(fixture.region.clone()))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "switchboard-emulator"))
            .endpoint_url(endpoint)
            .build();
        aws_sdk_cognitoidentityprovider::Client::from_conf(config)
    });
    let state = Emulator {
        outbox: outbox.clone(),
        contacts: Arc::new(Mutex::new(std::collections::HashMap::new())),
        chats: chats.clone(),
        contact_attributes: contact_attributes.clone(),
        meetings: meetings.clone(),
        flows: flows.clone(),
        custom_resource_responses: custom_resource_responses.clone(),
        lost_answers: lost_answers.clone(),
        numbers: Arc::new(Mutex::new(fixture.pinpoint.numbers.clone())),
        fixture: Arc::new(fixture),
        moto,
        http: reqwest::Client::new(),
        cognito: moto_cognito,
        managed_login: Arc::new(Mutex::new(cognito::ManagedLogin::default())),
        events,
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let mut app = router(state);
    if let Some(recorder) = recorder {
        let state = crate::call_log::RecordRequest(recorder);
        app = app.layer(axum::middleware::from_fn_with_state(state, crate::call_log::record_request));
    }
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "emulator stopped");
        }
    });
    Ok(EmulatorHandle {
        addr,
        outbox,
        chats,
        contact_attributes,
        meetings,
        flows,
        custom_resource_responses,
        lost_answers,
        events: Mutex::new(Some(published)),
        task,
    })
}

fn router(state: Emulator) -> Router {
    Router::new()
        .route("/v1/phone/number/validate", post(pinpoint::phone_number_validate))
        .route("/v1/apps/{application_id}/messages", post(pinpoint::send_messages))
        .route("/users/{instance_id}/{user_id}", get(connect::describe_user))
        .route("/user-hierarchy-groups/{instance_id}/{group_id}", get(connect::describe_user_hierarchy_group))
        .route("/user/federate/{instance_id}", get(connect::get_federation_token))
        .route("/contacts/{instance_id}/{contact_id}", get(connect::describe_contact))
        .route("/contact/chat", put(connect::start_chat_contact))
        .route("/contact/attributes", post(connect::update_contact_attributes))
        .route("/contact/attributes/{instance_id}/{initial_contact_id}", get(connect::get_contact_attributes))
        .route("/contact-flows-summary/{instance_id}", get(connect_flows::list_contact_flows))
        .route("/contact-flows/{instance_id}", put(connect_flows::create_contact_flow))
        .route("/contact-flows/{instance_id}/{flow_id}", get(connect_flows::describe_contact_flow))
        .route("/contact-flows/{instance_id}/{flow_id}/content", post(connect_flows::update_contact_flow_content))
        .route("/contact-flows/{instance_id}/{flow_id}/metadata", post(connect_flows::update_contact_flow_metadata))
        .route("/tags/{resource_arn}", post(connect_flows::tag_resource))
        .route("/queues-summary/{instance_id}", get(connect_flows::list_queues))
        .route("/prompts-summary/{instance_id}", get(connect_flows::list_prompts))
        .route("/contact-flow-modules-summary/{instance_id}", get(connect_flows::list_contact_flow_modules))
        .route("/contact-flow-modules/{instance_id}", put(connect_flows::create_contact_flow_module))
        .route("/contact-flow-modules/{instance_id}/{module_id}", get(connect_flows::describe_contact_flow_module))
        .route(
            "/contact-flow-modules/{instance_id}/{module_id}/content",
            post(connect_flows::update_contact_flow_module_content),
        )
        .route(
            "/contact-flow-modules/{instance_id}/{module_id}/metadata",
            post(connect_flows::update_contact_flow_module_metadata),
        )
        .route("/phone-number/{phone_number_id}/contact-flow", put(connect_flows::associate_phone_number_contact_flow))
        .route("/instance/{instance_id}/lambda-functions", get(connect_flows::list_lambda_functions))
        .route(
            "/instance/{instance_id}/lambda-function",
            put(connect_flows::associate_lambda_function).delete(connect_flows::disassociate_lambda_function),
        )
        .route("/instance/{instance_id}/bots", get(connect_flows::list_bots))
        .route("/instance/{instance_id}/bot", put(connect_flows::associate_bot).post(connect_flows::disassociate_bot))
        .route("/meetings", post(chime::create_meeting))
        .route("/meetings/{meeting_id}", get(chime::get_meeting).delete(chime::delete_meeting))
        .route("/meetings/{meeting_id}/attendees", post(chime::create_attendee).get(chime::list_attendees))
        .route(
            "/meetings/{meeting_id}/attendees/{attendee_id}",
            get(chime::get_attendee).delete(chime::delete_attendee),
        )
        .route("/_local/contacts", post(connect::register_contact))
        .route("/_local/chats", get(connect::read_chats))
        .route("/_local/contact-flows", get(connect_flows::read_contact_flows))
        .route("/_local/phone-numbers", get(read_phone_numbers))
        .route("/_local/meetings", get(chime::read_meetings))
        .route("/_local/numbers", post(pinpoint::register_number))
        .route("/_local/custom-resource-responses", get(cloudformation::list))
        .route("/_local/custom-resource-responses/{request_id}", put(cloudformation::receive))
        .route("/", post(cognito::json_protocol))
        .route("/oauth2/authorize", get(cognito::authorize))
        .route("/login", get(cognito::login_page).post(cognito::login))
        .route("/oauth2/token", post(cognito::token))
        .route("/error", get(cognito::error_page))
        .route("/_local/outbox", get(read_outbox).delete(clear_outbox))
        .fallback(unknown_operation)
        // A known path with another method is another operation (e.g. Chime's
        // `PUT /meetings/{id}/attendees/capabilities`), not an empty 405.
        .method_not_allowed_fallback(unknown_operation)
        .with_state(state)
}

/// A restJson1 error: the type in `x-amzn-ErrorType`, the message in the body.
fn aws_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    error_response(
        status,
        error_type,
        |request_id| json!({"Message": message, "message": message, "RequestID": request_id}),
    )
}

/// A restJson1 error whose body the service shapes itself (`body` gets the request id, which the
/// `x-amzn-RequestId` header carries too); the SDKs read the error type from `x-amzn-ErrorType`.
fn error_response(status: StatusCode, error_type: &str, body: impl FnOnce(&str) -> Value) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(error_type) {
        headers.insert("x-amzn-ErrorType", value);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    (status, headers, Json(body(&request_id))).into_response()
}

/// The JSON body, or the `BadRequestException` the service answers for a malformed one.
fn parse_body(body: &[u8]) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(aws_error(StatusCode::BAD_REQUEST, "BadRequestException", &format!("Invalid JSON body: {e}")))
    })
}

/// The body as a typed request; the error names the member that is malformed (`Attendees[1].Capabilities`).
fn parse_request<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| match e.path().to_string() {
        path if path == "." => format!("Invalid request body: {}", e.inner()),
        path => format!("Invalid value for {path}: {}", e.inner()),
    })
}

/// A fresh bearer secret (join and participant tokens): 32 bytes of the OS CSPRNG, base64url.
fn random_token() -> Result<String, rand::rngs::SysError> {
    use base64::Engine as _;
    use rand::TryRng as _;
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng.try_fill_bytes(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
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
