//! The operations on the instance's flows: `ListContactFlows`, `DescribeContactFlow`,
//! `CreateContactFlow`, `UpdateContactFlowContent`, `UpdateContactFlowMetadata` and `TagResource`,
//! and the local read of the store.

use std::collections::BTreeMap;

use axum::{
    extract::{Path, RawQuery, State},
    response::Response,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest as _;

use super::{
    content::check_content,
    store::{now, FlowStore, LocalContactFlow},
    wire::{
        check_length, check_one_of, duplicate, invalid_parameter, invalid_request, not_found, query_pairs, respond,
        respond_empty, store, with_next_token, PageRequest, MAX_LIST_RESULTS,
    },
};
use crate::emulator::{connect::check_instance, parse_request, Emulator};

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
/// Tags per resource, as in the service's `TagMap`.
const MAX_TAGS: usize = 50;

fn sha256_hex(content: &str) -> String {
    hex::encode(sha2::Sha256::digest(content.as_bytes()))
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
pub(in crate::emulator) async fn list_contact_flows(
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
    // Modules share the store but are not flows.
    let flows = store.flows.iter().filter(|f| f.kind != super::modules::MODULE);
    let matching: Vec<Value> =
        flows.filter(|f| types.is_empty() || types.contains(&f.kind.as_str())).map(flow_summary).collect();
    let (summaries, token) = page.page(&matching);
    Ok(with_next_token(json!({"ContactFlowSummaryList": summaries}), token))
}

/// Connect `DescribeContactFlow`: `GET /contact-flows/{InstanceId}/{ContactFlowId}`.
pub(in crate::emulator) async fn describe_contact_flow(
    State(state): State<Emulator>,
    Path((instance_id, flow_id)): Path<(String, String)>,
) -> Response {
    respond(describe_contact_flow_op(&state, &instance_id, &flow_id))
}

fn describe_contact_flow_op(state: &Emulator, instance_id: &str, flow_id: &str) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let mut store = store(state)?;
    let flow = store
        .find_mut(flow_id)
        .filter(|f| f.kind != super::modules::MODULE)
        .ok_or_else(|| not_found(&format!("Contact flow {flow_id}")))?;
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
pub(in crate::emulator) async fn create_contact_flow(
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
pub(in crate::emulator) async fn update_contact_flow_content(
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
    if store.find_flow_mut(flow_id).is_none() {
        return Err(not_found(&format!("Contact flow {flow_id}")));
    }
    check_content(&content, state, &store)?;
    let flow = store.find_flow_mut(flow_id).ok_or_else(|| not_found(&format!("Contact flow {flow_id}")))?;
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
pub(in crate::emulator) async fn update_contact_flow_metadata(
    State(state): State<Emulator>,
    Path((instance_id, flow_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let change = parse_request(&body).map_err(|m| invalid_request(&m)).map(|request: UpdateMetadataRequest| Metadata {
        name: request.name,
        description: request.description,
        state: request.contact_flow_state,
    });
    respond(change.and_then(|change| update_metadata(&state, &instance_id, &flow_id, change, Kind::Flow)))
}

/// What `UpdateContactFlowMetadata` and `UpdateContactFlowModuleMetadata` change.
pub(super) struct Metadata {
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    pub(super) state: Option<String>,
}

/// Which of the two a metadata call is for: each finds only its own kind, and a flow's name is
/// checked against every flow and module (as `CreateContactFlow` does), a module's against modules.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Flow,
    Module,
}

pub(super) fn update_metadata(
    state: &Emulator,
    instance_id: &str,
    given_id: &str,
    change: Metadata,
    kind: Kind,
) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    if let Some(name) = &change.name {
        check_length("Name", name, 1, 127, invalid_parameter)?;
    }
    if let Some(new_state) = &change.state {
        let field = if kind == Kind::Flow { "ContactFlowState" } else { "State" };
        check_one_of(field, new_state, &["ACTIVE", "ARCHIVED"], invalid_parameter)?;
    }
    let what = if kind == Kind::Flow { "Contact flow" } else { "Contact flow module" };
    let not_found_here = || not_found(&format!("{what} {given_id}"));
    let mut store = store(state)?;
    let find = |store: &mut FlowStore| match kind {
        Kind::Flow => store.find_flow_mut(given_id).map(|f| f.id.clone()),
        Kind::Module => store.find_module_mut(given_id).map(|f| f.id.clone()),
    };
    let id = find(&mut store).ok_or_else(not_found_here)?;
    if let Some(name) = &change.name {
        let taken = match kind {
            Kind::Flow => store.name_taken(name, Some(&id)),
            Kind::Module => store.module_name_taken(name, Some(&id)),
        };
        if taken {
            return Err(duplicate(&format!("A {} named {name:?} already exists", what.to_lowercase())));
        }
    }
    let flow = store.find_mut(&id).ok_or_else(not_found_here)?;
    if let Some(name) = change.name {
        flow.name = name;
    }
    if let Some(description) = change.description {
        flow.description = Some(description);
    }
    if let Some(new_state) = change.state {
        flow.state = new_state;
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
pub(in crate::emulator) async fn tag_resource(
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

/// Local only: the flows, the write count and the associated functions, for tools.
pub(in crate::emulator) async fn read_contact_flows(State(state): State<Emulator>) -> Response {
    respond(
        store(&state).map(
            |store| json!({"flows": store.list(), "writes": store.writes, "lambdaFunctions": store.lambda_functions}),
        ),
    )
}
