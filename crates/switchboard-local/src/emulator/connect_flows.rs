//! Amazon Connect (restJson1) flow deployment: flows (`ListContactFlows`, `DescribeContactFlow`,
//! `CreateContactFlow`, `UpdateContactFlowContent`, `UpdateContactFlowMetadata`, `TagResource`),
//! what flows refer to (`ListQueues`, `ListPrompts`) and the instance's integrations
//! (`ListLambdaFunctions`, `AssociateLambdaFunction`, `DisassociateLambdaFunction`, `ListBots`,
//! `AssociateBot`, `DisassociateBot`), in memory and seeded from the fixture.
//!
//! Paths, query strings and JSON names are those of `aws-sdk-connect`'s serializers, errors those
//! each operation models. Every List operation pages by at most the fixture's `pageSize`, so a
//! caller that ignores `NextToken` fails here rather than in production. Flow content is checked
//! as the service does before it stores it: a flow with an unresolved `{{…}}` placeholder, a Lambda
//! function the instance has not associated, or an ARN of a queue, flow or prompt the instance does
//! not have is an `InvalidContactFlowException` listing every problem.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Digest as _;

use super::{
    aws_error,
    connect::{check_instance, connect_not_found},
    error_response, parse_request, Emulator,
};
use crate::fixture::Fixture;

/// The flow language version every flow declares.
const FLOW_LANGUAGE_VERSION: &str = "2019-10-30";
/// `Content`'s bound in the service model.
const MAX_CONTENT_CHARS: usize = 256_000;
const CONTACT_FLOW_TYPES: &[&str] = &[
    "CONTACT_FLOW",
    "CUSTOMER_QUEUE",
    "CUSTOMER_HOLD",
    "CUSTOMER_WHISPER",
    "AGENT_HOLD",
    "AGENT_WHISPER",
    "OUTBOUND_WHISPER",
    "AGENT_TRANSFER",
    "QUEUE_TRANSFER",
    "CAMPAIGN",
];
const QUEUE_TYPES: &[&str] = &["STANDARD", "AGENT"];
/// Tags per resource, as in the service's `TagMap`.
const MAX_TAGS: usize = 50;
/// `MaxResults` bounds: 1–1000 for flows, queues and prompts, 1–25 for integrations.
const MAX_LIST_RESULTS: usize = 1000;
const MAX_INTEGRATION_RESULTS: usize = 25;

/// A flow of the instance, as [`super::EmulatorHandle::contact_flows`] and
/// `GET /_local/contact-flows` list it: what the service stores, content verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalContactFlow {
    pub id: String,
    pub arn: String,
    pub name: String,
    /// The `ContactFlowType`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `ACTIVE` or `ARCHIVED`.
    pub state: String,
    /// `PUBLISHED` or `SAVED`.
    pub status: String,
    #[serde(default)]
    pub description: Option<String>,
    pub content: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// 1 when created, one more per content update.
    pub version: u64,
    /// Epoch seconds.
    pub last_modified_time: f64,
}

/// A bot associated with the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bot {
    V1 { name: String, region: String },
    V2 { alias_arn: String },
}

impl Bot {
    fn config(&self) -> Value {
        match self {
            Bot::V1 { name, region } => json!({"LexBot": {"Name": name, "LexRegion": region}}),
            Bot::V2 { alias_arn } => json!({"LexV2Bot": {"AliasArn": alias_arn}}),
        }
    }

    fn lex_version(&self) -> &'static str {
        match self {
            Bot::V1 { .. } => "V1",
            Bot::V2 { .. } => "V2",
        }
    }
}

/// The instance's flows (in creation order), associated Lambda functions and bots.
pub(super) struct FlowStore {
    flows: Vec<LocalContactFlow>,
    lambda_functions: Vec<String>,
    bots: Vec<Bot>,
    /// Successful writes, so tests can tell a no-op deployment from one that changed something.
    writes: usize,
    /// `ClientToken`s of association calls that succeeded: a retry answers success again.
    client_tokens: HashSet<String>,
    /// When the fixture's queues and prompts were "last modified".
    started_at: f64,
}

impl FlowStore {
    /// The fixture's flows (each with a minimal valid content, as if imported by hand), Lambda
    /// functions and bots.
    pub(super) fn seed(fixture: &Fixture) -> FlowStore {
        let now = now();
        let instance_arn = fixture.instance_arn();
        let flows = fixture
            .connect
            .contact_flows
            .iter()
            .map(|(name, flow)| {
                let action = uuid::Uuid::new_v4().to_string();
                let content = json!({
                    "Version": FLOW_LANGUAGE_VERSION,
                    "StartAction": action,
                    "Actions": [{
                        "Identifier": action,
                        "Type": "DisconnectParticipant",
                        "Parameters": {},
                        "Transitions": {},
                    }],
                });
                LocalContactFlow {
                    id: flow.id.clone(),
                    arn: format!("{instance_arn}/contact-flow/{}", flow.id),
                    name: name.clone(),
                    kind: flow.kind.clone(),
                    state: "ACTIVE".into(),
                    status: "PUBLISHED".into(),
                    description: None,
                    content: content.to_string(),
                    tags: BTreeMap::new(),
                    version: 1,
                    last_modified_time: now,
                }
            })
            .collect();
        let bots = fixture.connect.bots.iter().map(|alias_arn| Bot::V2 { alias_arn: alias_arn.clone() }).collect();
        FlowStore {
            flows,
            lambda_functions: fixture.lambda_function_arns(),
            bots,
            writes: 0,
            client_tokens: HashSet::new(),
            started_at: now,
        }
    }

    pub(super) fn list(&self) -> Vec<LocalContactFlow> {
        self.flows.clone()
    }

    pub(super) fn writes(&self) -> usize {
        self.writes
    }

    pub(super) fn lambda_functions(&self) -> Vec<String> {
        self.lambda_functions.clone()
    }

    /// The name of the flow with id `flow_id`, for `StartChatContact`.
    pub(super) fn flow_name(&self, flow_id: &str) -> Option<String> {
        self.flows.iter().find(|f| f.id == flow_id).map(|f| f.name.clone())
    }

    /// A flow by id (what the service takes) or by ARN.
    fn find_mut(&mut self, flow_id: &str) -> Option<&mut LocalContactFlow> {
        self.flows.iter_mut().find(|f| f.id == flow_id || f.arn == flow_id)
    }

    fn name_taken(&self, name: &str, except_id: Option<&str>) -> bool {
        self.flows.iter().any(|f| f.name == name && Some(f.id.as_str()) != except_id)
    }
}

fn now() -> f64 {
    // Milliseconds, as the service's timestamps carry.
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    millis as f64 / 1000.0
}

fn sha256_hex(content: &str) -> String {
    hex::encode(sha2::Sha256::digest(content.as_bytes()))
}

fn invalid_parameter(message: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::BAD_REQUEST, "InvalidParameterException", message))
}

fn invalid_request(message: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::BAD_REQUEST, "InvalidRequestException", message))
}

fn not_found(what: &str) -> Box<Response> {
    Box::new(connect_not_found(what))
}

fn duplicate(message: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::CONFLICT, "DuplicateResourceException", message))
}

fn conflict(message: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::CONFLICT, "ResourceConflictException", message))
}

/// `InvalidContactFlowException`: the problems in `problems`, the SDK's `ProblemDetail`s.
fn invalid_flow(problems: &[String]) -> Box<Response> {
    let message = format!("The flow is not valid ({} problems): {}", problems.len(), problems.join("; "));
    let problems: Vec<Value> = problems.iter().map(|p| json!({"message": p})).collect();
    Box::new(error_response(
        StatusCode::BAD_REQUEST,
        "InvalidContactFlowException",
        |request_id| json!({"Message": message, "message": message, "problems": problems, "RequestID": request_id}),
    ))
}

fn internal(what: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceException", &format!("{what} unavailable")))
}

fn store(state: &Emulator) -> Result<std::sync::MutexGuard<'_, FlowStore>, Box<Response>> {
    state.flows.lock().map_err(|_| internal("Flow store"))
}

fn check_length(
    member: &str,
    value: &str,
    min: usize,
    max: usize,
    bad: fn(&str) -> Box<Response>,
) -> Result<(), Box<Response>> {
    let length = value.chars().count();
    if (min..=max).contains(&length) {
        Ok(())
    } else {
        Err(bad(&format!("{member} must be {min} to {max} characters long, not {length}")))
    }
}

fn respond(result: Result<Value, Box<Response>>) -> Response {
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(response) => *response,
    }
}

/// A write that answers nothing: 200 with an empty body, as the service does.
fn respond_empty(result: Result<(), Box<Response>>) -> Response {
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(response) => *response,
    }
}

/// The query string's pairs; a key may repeat (`contactFlowTypes=A&contactFlowTypes=B`).
fn query_pairs(raw: Option<&str>, bad: fn(&str) -> Box<Response>) -> Result<Vec<(String, String)>, Box<Response>> {
    serde_urlencoded::from_str(raw.unwrap_or_default()).map_err(|e| bad(&format!("Invalid query string: {e}")))
}

fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// One page's bounds from `nextToken` and `maxResults`: its first index and its size.
struct PageRequest {
    start: usize,
    size: usize,
    /// The list the token belongs to, so a token of one list is not taken by another.
    list: &'static str,
}

impl PageRequest {
    fn parse(
        pairs: &[(String, String)],
        list: &'static str,
        max_results: usize,
        page_size: usize,
        bad: fn(&str) -> Box<Response>,
    ) -> Result<PageRequest, Box<Response>> {
        let requested = match query_value(pairs, "maxResults") {
            Some(value) => {
                let n: usize =
                    value.parse().map_err(|_| bad(&format!("maxResults must be a number, not {value:?}")))?;
                if !(1..=max_results).contains(&n) {
                    return Err(bad(&format!("maxResults must be 1 to {max_results}, not {n}")));
                }
                n
            }
            None => max_results,
        };
        let start = match query_value(pairs, "nextToken") {
            Some(token) => page_start(token, list).ok_or_else(|| bad("Invalid next token"))?,
            None => 0,
        };
        Ok(PageRequest { start, size: requested.min(page_size.max(1)), list })
    }

    /// The page of `items` and the `NextToken` to the next one, if any remain.
    fn page<T: Clone>(&self, items: &[T]) -> (Vec<T>, Option<String>) {
        let page: Vec<T> = items.iter().skip(self.start).take(self.size).cloned().collect();
        let next = self.start + page.len();
        let token = (next < items.len()).then(|| next_token(self.list, next));
        (page, token)
    }
}

fn next_token(list: &str, start: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{list}/{start}"))
}

fn page_start(token: &str, list: &str) -> Option<usize> {
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (token_list, start) = decoded.split_once('/')?;
    (token_list == list).then(|| start.parse().ok()).flatten()
}

fn with_next_token(mut answer: Value, token: Option<String>) -> Value {
    if let Some(token) = token {
        answer["NextToken"] = json!(token);
    }
    answer
}

/// Keys 1–128 and values up to 256 characters of letters, digits, spaces and `_.:/=+-@`; keys
/// starting with `aws:` are the service's own.
fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), Box<Response>> {
    if tags.is_empty() || tags.len() > MAX_TAGS {
        return Err(invalid_parameter(&format!("Tags must hold 1 to {MAX_TAGS} tags, not {}", tags.len())));
    }
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    for (key, value) in tags {
        check_length("A tag key", key, 1, 128, invalid_parameter)?;
        check_length(&format!("Tag {key}"), value, 0, 256, invalid_parameter)?;
        if key.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:")) {
            return Err(invalid_parameter(&format!("Tag key {key:?}: the aws: prefix is reserved")));
        }
        if !key.chars().all(allowed) || !value.chars().all(allowed) {
            return Err(invalid_parameter(&format!("Tag {key:?} holds characters tags may not contain")));
        }
    }
    Ok(())
}

fn check_one_of(
    member: &str,
    value: &str,
    allowed: &[&str],
    bad: fn(&str) -> Box<Response>,
) -> Result<(), Box<Response>> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(bad(&format!("{member} {value:?} is not one of {}", allowed.join(", "))))
    }
}

/// What flow content may refer to: the instance's resources and associated functions.
struct ContentContext {
    instance_arn: String,
    queues: BTreeSet<String>,
    flows: BTreeSet<String>,
    prompts: BTreeSet<String>,
    lambda_functions: BTreeSet<String>,
}

impl ContentContext {
    fn new(state: &Emulator, store: &FlowStore) -> ContentContext {
        let fixture = &state.fixture;
        let agent_queues = fixture.connect.users.iter().map(|u| format!("agent/{}", u.id));
        ContentContext {
            instance_arn: fixture.instance_arn(),
            queues: fixture.connect.queues.values().cloned().chain(agent_queues).collect(),
            flows: store.flows.iter().map(|f| f.id.clone()).collect(),
            prompts: fixture.connect.prompts.values().cloned().collect(),
            lambda_functions: store.lambda_functions.iter().cloned().collect(),
        }
    }
}

/// Every problem of flow `content`, each naming the action and the parameter; none if it is valid.
fn content_problems(content: &str, context: &ContentContext) -> Vec<String> {
    let length = content.chars().count();
    if length > MAX_CONTENT_CHARS {
        return vec![format!("Content is {length} characters long; at most {MAX_CONTENT_CHARS} are allowed")];
    }
    let flow: Value = match serde_json::from_str(content) {
        Ok(flow) => flow,
        Err(e) => return vec![format!("Content is not valid JSON: {e}")],
    };
    let Some(flow) = flow.as_object() else {
        return vec!["Content must be a JSON object".into()];
    };
    let mut problems = Vec::new();
    if flow.get("Version").and_then(Value::as_str) != Some(FLOW_LANGUAGE_VERSION) {
        problems.push(format!("Version must be {FLOW_LANGUAGE_VERSION:?}"));
    }
    let start = flow.get("StartAction").and_then(Value::as_str);
    if start.is_none() {
        problems.push("StartAction is required".into());
    }
    let Some(actions) = flow.get("Actions").and_then(Value::as_array) else {
        problems.push("Actions must be an array of actions".into());
        return problems;
    };

    let mut identifiers = BTreeSet::new();
    for (index, action) in actions.iter().enumerate() {
        match action.get("Identifier").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => {
                if !identifiers.insert(id) {
                    problems.push(format!("Action {id}: the identifier is used by more than one action"));
                }
            }
            _ => problems.push(format!("Actions[{index}] has no Identifier")),
        }
    }
    if let Some(start) = start {
        if !identifiers.contains(start) {
            problems.push(format!("StartAction {start} names no action"));
        }
    }
    for (index, action) in actions.iter().enumerate() {
        let id =
            action.get("Identifier").and_then(Value::as_str).map_or_else(|| format!("Actions[{index}]"), str::to_owned);
        let Some(kind) = action.get("Type").and_then(Value::as_str) else {
            problems.push(format!("Action {id}: Type is required"));
            continue;
        };
        let mut transitions = Vec::new();
        if let Some(value) = action.get("Transitions") {
            strings(value, "Transitions", &mut transitions);
        }
        for (path, next) in transitions.iter().filter(|(path, _)| path.ends_with("NextAction")) {
            if !identifiers.contains(next.as_str()) {
                problems.push(format!("Action {id}: {path} {next} names no action"));
            }
        }
        let mut parameters = Vec::new();
        if let Some(value) = action.get("Parameters") {
            strings(value, "", &mut parameters);
        }
        if kind == "InvokeLambdaFunction" && !parameters.iter().any(|(path, _)| path == "LambdaFunctionARN") {
            problems.push(format!("Action {id}: parameter LambdaFunctionARN is required"));
        }
        for (path, value) in &parameters {
            if let Some(problem) = parameter_problem(kind, path, value, context) {
                problems.push(format!("Action {id}: parameter {path} {problem}"));
            }
        }
    }
    problems
}

/// What is wrong with one string in an action's parameters, if anything.
fn parameter_problem(kind: &str, path: &str, value: &str, context: &ContentContext) -> Option<String> {
    if value.contains("{{") {
        return Some(format!("holds an unresolved placeholder: {value:?}"));
    }
    // A `$.…` value is resolved when the contact runs, so it cannot be checked here.
    if value.starts_with("$.") {
        return None;
    }
    if kind == "InvokeLambdaFunction" && path == "LambdaFunctionARN" {
        return (!context.lambda_functions.contains(value))
            .then(|| format!("names {value}, which is not a Lambda function associated with the instance"));
    }
    let rest = value.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (_partition, service, _region, _account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if service != "connect" {
        return None;
    }
    let (kind, id) = ["queue", "contact-flow", "prompt"]
        .into_iter()
        .find_map(|kind| resource.split_once(&format!("/{kind}/")).map(|(_, id)| (kind, id)))?;
    let own_prefix = format!("{}/{kind}/", context.instance_arn);
    if !value.starts_with(&own_prefix) {
        return Some(format!("names a {kind} of another instance: {value}"));
    }
    let known = match kind {
        "queue" => &context.queues,
        "contact-flow" => &context.flows,
        _ => &context.prompts,
    };
    (!known.contains(id)).then(|| format!("names {kind} {id}, which the instance does not have"))
}

/// Every string in `value` with its path (`Errors[0].NextAction`), depth first.
fn strings(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => out.push((path.to_owned(), s.clone())),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                strings(item, &format!("{path}[{index}]"), out);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                strings(member, &path, out);
            }
        }
        _ => {}
    }
}

fn check_content(content: &str, state: &Emulator, store: &FlowStore) -> Result<(), Box<Response>> {
    let problems = content_problems(content, &ContentContext::new(state, store));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(invalid_flow(&problems))
    }
}

fn flow_summary(flow: &LocalContactFlow) -> Value {
    json!({
        "Id": flow.id,
        "Arn": flow.arn,
        "Name": flow.name,
        "ContactFlowType": flow.kind,
        "ContactFlowState": flow.state,
        "ContactFlowStatus": flow.status,
    })
}

/// Connect `ListContactFlows`: `GET /contact-flows-summary/{InstanceId}`, in creation order,
/// filtered by any `contactFlowTypes`.
pub(super) async fn list_contact_flows(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(list_contact_flows_op(&state, &instance_id, query.as_deref()))
}

fn list_contact_flows_op(state: &Emulator, instance_id: &str, query: Option<&str>) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let pairs = query_pairs(query, invalid_parameter)?;
    let types: Vec<&str> = pairs.iter().filter(|(k, _)| k == "contactFlowTypes").map(|(_, v)| v.as_str()).collect();
    for kind in &types {
        check_one_of("contactFlowTypes", kind, CONTACT_FLOW_TYPES, invalid_parameter)?;
    }
    let page = PageRequest::parse(
        &pairs,
        "contact-flows",
        MAX_LIST_RESULTS,
        state.fixture.connect.page_size,
        invalid_parameter,
    )?;
    let store = store(state)?;
    let matching: Vec<Value> =
        store.flows.iter().filter(|f| types.is_empty() || types.contains(&f.kind.as_str())).map(flow_summary).collect();
    let (summaries, token) = page.page(&matching);
    Ok(with_next_token(json!({"ContactFlowSummaryList": summaries}), token))
}

/// Connect `DescribeContactFlow`: `GET /contact-flows/{InstanceId}/{ContactFlowId}`.
pub(super) async fn describe_contact_flow(
    State(state): State<Emulator>,
    Path((instance_id, flow_id)): Path<(String, String)>,
) -> Response {
    respond(describe_contact_flow_op(&state, &instance_id, &flow_id))
}

fn describe_contact_flow_op(state: &Emulator, instance_id: &str, flow_id: &str) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let mut store = store(state)?;
    let flow = store.find_mut(flow_id).ok_or_else(|| not_found(&format!("Contact flow {flow_id}")))?;
    let mut described = json!({
        "Arn": flow.arn,
        "Id": flow.id,
        "Name": flow.name,
        "Type": flow.kind,
        "State": flow.state,
        "Status": flow.status,
        "Content": flow.content,
        "Tags": flow.tags,
        "FlowContentSha256": sha256_hex(&flow.content),
        "LastModifiedTime": flow.last_modified_time,
        "LastModifiedRegion": state.fixture.region,
    });
    if let Some(description) = &flow.description {
        described["Description"] = json!(description);
    }
    Ok(json!({"ContactFlow": described}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateContactFlowRequest {
    name: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    description: Option<String>,
    content: Option<String>,
    status: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

/// Connect `CreateContactFlow`: `PUT /contact-flows/{InstanceId}`; a name is the instance's once.
pub(super) async fn create_contact_flow(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond(create_contact_flow_op(&state, &instance_id, &body))
}

fn create_contact_flow_op(state: &Emulator, instance_id: &str, body: &[u8]) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let request: CreateContactFlowRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let name = request.name.ok_or_else(|| invalid_parameter("Name is required"))?;
    check_length("Name", &name, 1, 127, invalid_parameter)?;
    let kind = request.kind.ok_or_else(|| invalid_parameter("Type is required"))?;
    check_one_of("Type", &kind, CONTACT_FLOW_TYPES, invalid_parameter)?;
    let content = request.content.ok_or_else(|| invalid_parameter("Content is required"))?;
    let status = request.status.unwrap_or_else(|| "PUBLISHED".into());
    check_one_of("Status", &status, &["PUBLISHED", "SAVED"], invalid_parameter)?;
    let tags = request.tags.unwrap_or_default();
    if !tags.is_empty() {
        check_tags(&tags)?;
    }

    let mut store = store(state)?;
    if store.name_taken(&name, None) {
        return Err(duplicate(&format!("A contact flow named {name:?} already exists")));
    }
    check_content(&content, state, &store)?;
    let id = uuid::Uuid::new_v4().to_string();
    let arn = format!("{}/contact-flow/{id}", state.fixture.instance_arn());
    let answer = json!({"ContactFlowId": id, "ContactFlowArn": arn, "FlowContentSha256": sha256_hex(&content)});
    store.flows.push(LocalContactFlow {
        id,
        arn,
        name,
        kind,
        state: "ACTIVE".into(),
        status,
        description: request.description,
        content,
        tags,
        version: 1,
        last_modified_time: now(),
    });
    store.writes += 1;
    Ok(answer)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateContentRequest {
    content: Option<String>,
}

/// Connect `UpdateContactFlowContent`: `POST /contact-flows/{InstanceId}/{ContactFlowId}/content`.
pub(super) async fn update_contact_flow_content(
    State(state): State<Emulator>,
    Path((instance_id, flow_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    respond(update_contact_flow_content_op(&state, &instance_id, &flow_id, &body))
}

fn update_contact_flow_content_op(
    state: &Emulator,
    instance_id: &str,
    flow_id: &str,
    body: &[u8],
) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let request: UpdateContentRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let content = request.content.ok_or_else(|| invalid_parameter("Content is required"))?;
    let mut store = store(state)?;
    if store.find_mut(flow_id).is_none() {
        return Err(not_found(&format!("Contact flow {flow_id}")));
    }
    check_content(&content, state, &store)?;
    let flow = store.find_mut(flow_id).ok_or_else(|| not_found(&format!("Contact flow {flow_id}")))?;
    flow.content = content;
    flow.status = "PUBLISHED".into();
    flow.version += 1;
    flow.last_modified_time = now();
    store.writes += 1;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateMetadataRequest {
    name: Option<String>,
    description: Option<String>,
    contact_flow_state: Option<String>,
}

/// Connect `UpdateContactFlowMetadata`: `POST /contact-flows/{InstanceId}/{ContactFlowId}/metadata`.
pub(super) async fn update_contact_flow_metadata(
    State(state): State<Emulator>,
    Path((instance_id, flow_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    respond(update_contact_flow_metadata_op(&state, &instance_id, &flow_id, &body))
}

fn update_contact_flow_metadata_op(
    state: &Emulator,
    instance_id: &str,
    flow_id: &str,
    body: &[u8],
) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let request: UpdateMetadataRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    if let Some(name) = &request.name {
        check_length("Name", name, 1, 127, invalid_parameter)?;
    }
    if let Some(flow_state) = &request.contact_flow_state {
        check_one_of("ContactFlowState", flow_state, &["ACTIVE", "ARCHIVED"], invalid_parameter)?;
    }
    let mut store = store(state)?;
    let id =
        store.find_mut(flow_id).map(|f| f.id.clone()).ok_or_else(|| not_found(&format!("Contact flow {flow_id}")))?;
    if let Some(name) = &request.name {
        if store.name_taken(name, Some(&id)) {
            return Err(duplicate(&format!("A contact flow named {name:?} already exists")));
        }
    }
    let flow = store.find_mut(&id).ok_or_else(|| not_found(&format!("Contact flow {flow_id}")))?;
    if let Some(name) = request.name {
        flow.name = name;
    }
    if let Some(description) = request.description {
        flow.description = Some(description);
    }
    if let Some(flow_state) = request.contact_flow_state {
        flow.state = flow_state;
    }
    flow.last_modified_time = now();
    store.writes += 1;
    Ok(json!({}))
}

#[derive(Deserialize)]
struct TagResourceRequest {
    tags: Option<BTreeMap<String, String>>,
}

/// Connect `TagResource`: `POST /tags/{resourceArn}`, for the instance's flows; tags merge.
pub(super) async fn tag_resource(
    State(state): State<Emulator>,
    Path(resource_arn): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond_empty(tag_resource_op(&state, &resource_arn, &body))
}

fn tag_resource_op(state: &Emulator, resource_arn: &str, body: &[u8]) -> Result<(), Box<Response>> {
    let request: TagResourceRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let tags = request.tags.ok_or_else(|| invalid_parameter("tags is required"))?;
    check_tags(&tags)?;
    let mut store = store(state)?;
    let flow = store
        .flows
        .iter_mut()
        .find(|f| f.arn == resource_arn)
        .ok_or_else(|| not_found(&format!("Resource {resource_arn}")))?;
    let mut merged = flow.tags.clone();
    merged.extend(tags);
    if merged.len() > MAX_TAGS {
        return Err(invalid_parameter(&format!("A resource has at most {MAX_TAGS} tags")));
    }
    flow.tags = merged;
    store.writes += 1;
    Ok(())
}

/// Connect `ListQueues`: `GET /queues-summary/{InstanceId}`: the fixture's standard queues, then
/// an agent queue per user (agent queues have no name), filtered by any `queueTypes`.
pub(super) async fn list_queues(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(list_queues_op(&state, &instance_id, query.as_deref()))
}

fn list_queues_op(state: &Emulator, instance_id: &str, query: Option<&str>) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let pairs = query_pairs(query, invalid_parameter)?;
    let types: Vec<&str> = pairs.iter().filter(|(k, _)| k == "queueTypes").map(|(_, v)| v.as_str()).collect();
    for kind in &types {
        check_one_of("queueTypes", kind, QUEUE_TYPES, invalid_parameter)?;
    }
    let page =
        PageRequest::parse(&pairs, "queues", MAX_LIST_RESULTS, state.fixture.connect.page_size, invalid_parameter)?;
    let modified = store(state)?.started_at;
    let fixture = &state.fixture;
    let instance_arn = fixture.instance_arn();
    let summary = |id: &str, kind: &str| {
        json!({
            "Id": id,
            "Arn": format!("{instance_arn}/queue/{id}"),
            "QueueType": kind,
            "LastModifiedTime": modified,
            "LastModifiedRegion": fixture.region,
        })
    };
    let standard = fixture.connect.queues.iter().map(|(name, id)| {
        let mut queue = summary(id, "STANDARD");
        queue["Name"] = json!(name);
        queue
    });
    let agent = fixture.connect.users.iter().map(|user| summary(&format!("agent/{}", user.id), "AGENT"));
    let matching: Vec<Value> = standard
        .chain(agent)
        .filter(|q| types.is_empty() || q["QueueType"].as_str().is_some_and(|k| types.contains(&k)))
        .collect();
    let (queues, token) = page.page(&matching);
    Ok(with_next_token(json!({"QueueSummaryList": queues}), token))
}

/// Connect `ListPrompts`: `GET /prompts-summary/{InstanceId}`, the fixture's prompts by name.
pub(super) async fn list_prompts(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(list_prompts_op(&state, &instance_id, query.as_deref()))
}

fn list_prompts_op(state: &Emulator, instance_id: &str, query: Option<&str>) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let pairs = query_pairs(query, invalid_parameter)?;
    let page =
        PageRequest::parse(&pairs, "prompts", MAX_LIST_RESULTS, state.fixture.connect.page_size, invalid_parameter)?;
    let modified = store(state)?.started_at;
    let fixture = &state.fixture;
    let prompts: Vec<Value> = fixture
        .connect
        .prompts
        .iter()
        .map(|(name, id)| {
            json!({
                "Id": id,
                "Arn": format!("{}/prompt/{id}", fixture.instance_arn()),
                "Name": name,
                "LastModifiedTime": modified,
                "LastModifiedRegion": fixture.region,
            })
        })
        .collect();
    let (prompts, token) = page.page(&prompts);
    Ok(with_next_token(json!({"PromptSummaryList": prompts}), token))
}

/// Connect `ListLambdaFunctions`: `GET /instance/{InstanceId}/lambda-functions`, in association order.
pub(super) async fn list_lambda_functions(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(list_lambda_functions_op(&state, &instance_id, query.as_deref()))
}

fn list_lambda_functions_op(state: &Emulator, instance_id: &str, query: Option<&str>) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let pairs = query_pairs(query, invalid_parameter)?;
    let page = PageRequest::parse(
        &pairs,
        "lambda-functions",
        MAX_INTEGRATION_RESULTS,
        state.fixture.connect.page_size,
        invalid_parameter,
    )?;
    let (functions, token) = page.page(&store(state)?.lambda_functions);
    Ok(with_next_token(json!({"LambdaFunctions": functions}), token))
}

/// A Lambda function ARN (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`) in
/// the instance's region, as Connect requires of the functions a flow invokes.
fn check_lambda_arn(arn: &str, region: &str) -> Result<(), Box<Response>> {
    check_length("FunctionArn", arn, 1, 140, invalid_parameter)?;
    let bad = || invalid_parameter(&format!("FunctionArn {arn:?} is not a Lambda function ARN"));
    let parts: Vec<&str> = arn.split(':').collect();
    let name_ok = |name: &str| {
        (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let qualifier_ok = |q: &str| {
        q == "$LATEST" || (!q.is_empty() && q.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    let well_formed = match parts.as_slice() {
        ["arn", partition, "lambda", arn_region, account, "function", name, qualifier @ ..] => {
            partition.starts_with("aws")
                && !arn_region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && name_ok(name)
                && match qualifier {
                    [] => true,
                    [q] => qualifier_ok(q),
                    _ => false,
                }
        }
        _ => false,
    };
    if !well_formed {
        return Err(bad());
    }
    if parts[3] != region {
        return Err(invalid_parameter(&format!("FunctionArn {arn:?} is not in the instance's region {region}")));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociateLambdaRequest {
    function_arn: Option<String>,
    client_token: Option<String>,
}

/// Connect `AssociateLambdaFunction`: `PUT /instance/{InstanceId}/lambda-function`.
pub(super) async fn associate_lambda_function(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond_empty(associate_lambda_function_op(&state, &instance_id, &body))
}

fn associate_lambda_function_op(state: &Emulator, instance_id: &str, body: &[u8]) -> Result<(), Box<Response>> {
    check_instance(state, instance_id)?;
    let request: AssociateLambdaRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let arn = request.function_arn.ok_or_else(|| invalid_parameter("FunctionArn is required"))?;
    check_lambda_arn(&arn, &state.fixture.region)?;
    let mut store = store(state)?;
    let token = request.client_token.map(|t| format!("associate-lambda/{arn}/{t}"));
    if token.as_ref().is_some_and(|t| store.client_tokens.contains(t)) {
        return Ok(());
    }
    if store.lambda_functions.contains(&arn) {
        return Err(conflict(&format!("{arn} is already associated with the instance")));
    }
    store.lambda_functions.push(arn);
    store.client_tokens.extend(token);
    store.writes += 1;
    Ok(())
}

/// Connect `DisassociateLambdaFunction`: `DELETE /instance/{InstanceId}/lambda-function?functionArn=`.
pub(super) async fn disassociate_lambda_function(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond_empty(disassociate_lambda_function_op(&state, &instance_id, query.as_deref()))
}

fn disassociate_lambda_function_op(
    state: &Emulator,
    instance_id: &str,
    query: Option<&str>,
) -> Result<(), Box<Response>> {
    check_instance(state, instance_id)?;
    let pairs = query_pairs(query, invalid_parameter)?;
    let arn = query_value(&pairs, "functionArn").ok_or_else(|| invalid_parameter("functionArn is required"))?;
    check_length("functionArn", arn, 1, 140, invalid_parameter)?;
    let mut store = store(state)?;
    let token = query_value(&pairs, "clientToken").map(|t| format!("disassociate-lambda/{arn}/{t}"));
    if token.as_ref().is_some_and(|t| store.client_tokens.contains(t)) {
        return Ok(());
    }
    let Some(index) = store.lambda_functions.iter().position(|f| f == arn) else {
        return Err(not_found(&format!("Lambda function {arn} associated with the instance")));
    };
    store.lambda_functions.remove(index);
    store.client_tokens.extend(token);
    store.writes += 1;
    Ok(())
}

/// Connect `ListBots`: `GET /instance/{InstanceId}/bots?lexVersion=V1|V2`.
pub(super) async fn list_bots(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(list_bots_op(&state, &instance_id, query.as_deref()))
}

fn list_bots_op(state: &Emulator, instance_id: &str, query: Option<&str>) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    // ListBots models no InvalidParameterException: its bad input is an InvalidRequestException.
    let pairs = query_pairs(query, invalid_request)?;
    let version = query_value(&pairs, "lexVersion").ok_or_else(|| invalid_request("lexVersion is required"))?;
    check_one_of("lexVersion", version, &["V1", "V2"], invalid_request)?;
    let page =
        PageRequest::parse(&pairs, "bots", MAX_INTEGRATION_RESULTS, state.fixture.connect.page_size, invalid_request)?;
    let store = store(state)?;
    let bots: Vec<Value> = store.bots.iter().filter(|b| b.lex_version() == version).map(Bot::config).collect();
    let (bots, token) = page.page(&bots);
    Ok(with_next_token(json!({"LexBots": bots}), token))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BotRequest {
    lex_bot: Option<LexBot>,
    lex_v2_bot: Option<LexV2Bot>,
    client_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LexBot {
    name: Option<String>,
    lex_region: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LexV2Bot {
    alias_arn: Option<String>,
}

/// A Lex V2 bot alias ARN: `arn:aws:lex:<region>:<account>:bot-alias/<bot id>/<alias id>`.
fn is_lex_v2_alias_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let id_ok = |id: &str| (1..=10).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric());
    match parts.as_slice() {
        ["arn", partition, "lex", region, account, resource] => {
            partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && match resource.split('/').collect::<Vec<_>>().as_slice() {
                    ["bot-alias", bot, alias] => id_ok(bot) && id_ok(alias),
                    _ => false,
                }
        }
        _ => false,
    }
}

/// The bot a request names: exactly one of `LexBot` and `LexV2Bot`.
fn requested_bot(body: &[u8]) -> Result<(Bot, Option<String>), Box<Response>> {
    let request: BotRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let bot = match (request.lex_bot, request.lex_v2_bot) {
        (Some(bot), None) => {
            let name = bot.name.ok_or_else(|| invalid_request("LexBot.Name is required"))?;
            check_length("LexBot.Name", &name, 1, 50, invalid_request)?;
            let region = bot.lex_region.ok_or_else(|| invalid_request("LexBot.LexRegion is required"))?;
            check_length("LexBot.LexRegion", &region, 1, 60, invalid_request)?;
            Bot::V1 { name, region }
        }
        (None, Some(bot)) => {
            let alias_arn = bot.alias_arn.ok_or_else(|| invalid_request("LexV2Bot.AliasArn is required"))?;
            check_length("LexV2Bot.AliasArn", &alias_arn, 1, 100, invalid_request)?;
            if !is_lex_v2_alias_arn(&alias_arn) {
                return Err(invalid_request(&format!("LexV2Bot.AliasArn {alias_arn:?} is not a Lex V2 bot alias ARN")));
            }
            Bot::V2 { alias_arn }
        }
        _ => return Err(invalid_request("Exactly one of LexBot and LexV2Bot is required")),
    };
    Ok((bot, request.client_token))
}

fn bot_token(operation: &str, bot: &Bot, token: Option<String>) -> Option<String> {
    token.map(|t| format!("{operation}/{bot:?}/{t}"))
}

/// Connect `AssociateBot`: `PUT /instance/{InstanceId}/bot`.
pub(super) async fn associate_bot(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond_empty(associate_bot_op(&state, &instance_id, &body))
}

fn associate_bot_op(state: &Emulator, instance_id: &str, body: &[u8]) -> Result<(), Box<Response>> {
    check_instance(state, instance_id)?;
    let (bot, token) = requested_bot(body)?;
    let token = bot_token("associate-bot", &bot, token);
    let mut store = store(state)?;
    if token.as_ref().is_some_and(|t| store.client_tokens.contains(t)) {
        return Ok(());
    }
    if store.bots.contains(&bot) {
        return Err(conflict("The bot is already associated with the instance"));
    }
    store.bots.push(bot);
    store.client_tokens.extend(token);
    store.writes += 1;
    Ok(())
}

/// Connect `DisassociateBot`: `POST /instance/{InstanceId}/bot`.
pub(super) async fn disassociate_bot(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond_empty(disassociate_bot_op(&state, &instance_id, &body))
}

fn disassociate_bot_op(state: &Emulator, instance_id: &str, body: &[u8]) -> Result<(), Box<Response>> {
    check_instance(state, instance_id)?;
    let (bot, token) = requested_bot(body)?;
    let token = bot_token("disassociate-bot", &bot, token);
    let mut store = store(state)?;
    if token.as_ref().is_some_and(|t| store.client_tokens.contains(t)) {
        return Ok(());
    }
    let Some(index) = store.bots.iter().position(|b| b == &bot) else {
        return Err(not_found("Bot associated with the instance"));
    };
    store.bots.remove(index);
    store.client_tokens.extend(token);
    store.writes += 1;
    Ok(())
}

/// Local only: the flows, the write count and the associated functions, for tools.
pub(super) async fn read_contact_flows(State(state): State<Emulator>) -> Response {
    respond(
        store(&state).map(
            |store| json!({"flows": store.list(), "writes": store.writes, "lambdaFunctions": store.lambda_functions}),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ContentContext {
        let instance_arn = "arn:aws:connect:ap-southeast-2:123456789012:instance/i-1".to_owned();
        ContentContext {
            instance_arn,
            queues: BTreeSet::from(["q-1".to_owned()]),
            flows: BTreeSet::from(["f-1".to_owned()]),
            prompts: BTreeSet::from(["p-1".to_owned()]),
            lambda_functions: BTreeSet::from(["arn:aws:lambda:ap-southeast-2:123456789012:function:ok".to_owned()]),
        }
    }

    fn flow(actions: Value) -> String {
        json!({"Version": "2019-10-30", "StartAction": "a", "Actions": actions}).to_string()
    }

    #[test]
    fn a_minimal_flow_has_no_problems() {
        let content =
            flow(json!([{"Identifier": "a", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]));
        assert_eq!(content_problems(&content, &context()), Vec::<String>::new());
    }

    #[test]
    fn problems_name_the_action_and_the_parameter() {
        let queue = "arn:aws:connect:ap-southeast-2:123456789012:instance/i-1/queue/q-2";
        let content = flow(json!([
            {"Identifier": "a", "Type": "InvokeLambdaFunction",
             "Parameters": {"LambdaFunctionARN": "arn:aws:lambda:ap-southeast-2:123456789012:function:nope"},
             "Transitions": {"NextAction": "b", "Errors": [{"NextAction": "gone", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "b", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": queue},
             "Transitions": {"NextAction": "c"}},
            {"Identifier": "c", "Type": "MessageParticipant", "Parameters": {"Text": "Hi {{name}}"}, "Transitions": {}},
        ]));
        let problems = content_problems(&content, &context());
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("Action a: Transitions.Errors[0].NextAction gone"), "{problems:?}");
        assert!(problems[1].contains("Action a: parameter LambdaFunctionARN"), "{problems:?}");
        assert!(problems[2].contains("Action b: parameter QueueId names queue q-2"), "{problems:?}");
        let content =
            flow(json!([{"Identifier": "a", "Type": "MessageParticipant", "Parameters": {"Text": "Hi {{name}}"}}]));
        assert!(content_problems(&content, &context())[0]
            .contains("Action a: parameter Text holds an unresolved placeholder"));
    }

    #[test]
    fn dynamic_values_and_known_resources_pass() {
        let arn =
            |kind: &str, id: &str| format!("arn:aws:connect:ap-southeast-2:123456789012:instance/i-1/{kind}/{id}");
        let content = flow(json!([
            {"Identifier": "a", "Type": "InvokeLambdaFunction", "Parameters": {"LambdaFunctionARN": "$.Attributes.fn"},
             "Transitions": {"NextAction": "b"}},
            {"Identifier": "b", "Type": "X", "Parameters": {
             "QueueId": arn("queue", "q-1"), "ContactFlowId": arn("contact-flow", "f-1"),
             "Prompts": [{"PromptId": arn("prompt", "p-1")}]}},
        ]));
        assert_eq!(content_problems(&content, &context()), Vec::<String>::new());
        let other = "arn:aws:connect:ap-southeast-2:123456789012:instance/i-2/prompt/p-1";
        let content = flow(json!([{"Identifier": "a", "Type": "X", "Parameters": {"Prompts": [{"PromptId": other}]}}]));
        assert!(content_problems(&content, &context())[0]
            .contains("parameter Prompts[0].PromptId names a prompt of another instance"));
    }

    #[test]
    fn structure_is_checked() {
        assert!(content_problems("not json", &context())[0].contains("not valid JSON"));
        let problems = content_problems(r#"{"Version":"2020-01-01","Actions":[]}"#, &context());
        assert_eq!(problems.len(), 2, "{problems:?}");
        let problems = content_problems(r#"{"Version":"2019-10-30","StartAction":"x","Actions":[]}"#, &context());
        assert_eq!(problems, ["StartAction x names no action"]);
        assert!(content_problems(&" ".repeat(256_001), &context())[0].contains("at most 256000"));
    }

    #[test]
    fn page_tokens_belong_to_their_list() {
        let token = next_token("queues", 4);
        assert_eq!(page_start(&token, "queues"), Some(4));
        assert_eq!(page_start(&token, "prompts"), None);
        assert_eq!(page_start("garbage!", "queues"), None);
    }

    #[test]
    fn arns_are_checked() {
        assert!(check_lambda_arn("arn:aws:lambda:ap-southeast-2:123456789012:function:verify-pin", "ap-southeast-2")
            .is_ok());
        assert!(
            check_lambda_arn("arn:aws:lambda:ap-southeast-2:123456789012:function:v:$LATEST", "ap-southeast-2").is_ok()
        );
        assert!(check_lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:v", "ap-southeast-2").is_err());
        assert!(check_lambda_arn("verify-pin", "ap-southeast-2").is_err());
        assert!(is_lex_v2_alias_arn("arn:aws:lex:ap-southeast-2:123456789012:bot-alias/LOCALBOT01/TSTALIASID"));
        assert!(!is_lex_v2_alias_arn("arn:aws:lex:ap-southeast-2:123456789012:bot/LOCALBOT01"));
    }
}
