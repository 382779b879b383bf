//! The instance's flow modules: `ListContactFlowModules`, `DescribeContactFlowModule`,
//! `CreateContactFlowModule`, `UpdateContactFlowModuleContent` and `UpdateContactFlowModuleMetadata`. A module is kept beside the
//! flows (kind [`MODULE`], an ARN of `flow-module/<id>`), so `TagResource` and the content checks
//! find it as they find a flow; `ListContactFlows` leaves modules out.

use std::collections::BTreeMap;

use axum::{
    extract::{Path, RawQuery, State},
    response::Response,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    content::content_problems_of,
    flows::{update_metadata, Kind, Metadata},
    store::{now, LocalContactFlow},
    wire::{
        check_length, duplicate, invalid_flow_module, invalid_parameter, invalid_request, not_found, query_pairs,
        respond, store, with_next_token, PageRequest, MAX_LIST_RESULTS,
    },
};
use crate::emulator::{connect::check_instance, parse_request, Emulator};

/// The kind the store gives a module (not a `ContactFlowType`).
pub const MODULE: &str = "MODULE";

/// Connect `ListContactFlowModules`: `GET /contact-flow-modules-summary/{InstanceId}`, in creation order.
pub(in crate::emulator) async fn list_contact_flow_modules(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(list_op(&state, &instance_id, query.as_deref()))
}

fn list_op(state: &Emulator, instance_id: &str, query: Option<&str>) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let pairs = query_pairs(query, invalid_parameter)?;
    let page = PageRequest::parse(
        &pairs,
        "contact-flow-modules",
        MAX_LIST_RESULTS,
        state.fixture.connect.page_size,
        invalid_parameter,
    )?;
    let store = store(state)?;
    let modules: Vec<Value> = store
        .flows
        .iter()
        .filter(|f| f.kind == MODULE)
        .map(|m| json!({"Id": m.id, "Arn": m.arn, "Name": m.name, "State": m.state}))
        .collect();
    let (summaries, token) = page.page(&modules);
    Ok(with_next_token(json!({"ContactFlowModulesSummaryList": summaries}), token))
}

/// Connect `DescribeContactFlowModule`: `GET /contact-flow-modules/{InstanceId}/{ContactFlowModuleId}`.
pub(in crate::emulator) async fn describe_contact_flow_module(
    State(state): State<Emulator>,
    Path((instance_id, module_id)): Path<(String, String)>,
) -> Response {
    respond(describe_op(&state, &instance_id, &module_id))
}

fn describe_op(state: &Emulator, instance_id: &str, module_id: &str) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let mut store = store(state)?;
    let module = store
        .find_mut(module_id)
        .filter(|m| m.kind == MODULE)
        .ok_or_else(|| not_found(&format!("Contact flow module {module_id}")))?;
    let mut described = json!({
        "Arn": module.arn, "Id": module.id, "Name": module.name, "Content": module.content,
        "State": module.state, "Status": module.status, "Tags": module.tags,
    });
    if let Some(description) = &module.description {
        described["Description"] = json!(description);
    }
    Ok(json!({"ContactFlowModule": described}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateRequest {
    name: Option<String>,
    description: Option<String>,
    content: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

/// Connect `CreateContactFlowModule`: `PUT /contact-flow-modules/{InstanceId}`.
pub(in crate::emulator) async fn create_contact_flow_module(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond(create_op(&state, &instance_id, &body))
}

fn create_op(state: &Emulator, instance_id: &str, body: &[u8]) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let request: CreateRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let name = request.name.ok_or_else(|| invalid_parameter("Name is required"))?;
    check_length("Name", &name, 1, 127, invalid_parameter)?;
    let content = request.content.ok_or_else(|| invalid_parameter("Content is required"))?;
    let mut store = store(state)?;
    if store.module_name_taken(&name, None) {
        return Err(duplicate(&format!("A contact flow module named {name:?} already exists")));
    }
    let problems = content_problems_of(&content, state, &store);
    if !problems.is_empty() {
        return Err(invalid_flow_module(&problems));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let arn = format!("{}/flow-module/{id}", state.fixture.instance_arn());
    let answer = json!({"Id": id, "Arn": arn});
    store.flows.push(LocalContactFlow {
        id,
        arn,
        name,
        kind: MODULE.into(),
        state: "ACTIVE".into(),
        status: "PUBLISHED".into(),
        description: request.description,
        content,
        tags: request.tags.unwrap_or_default(),
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

/// Connect `UpdateContactFlowModuleContent`: `POST /contact-flow-modules/{InstanceId}/{ContactFlowModuleId}/content`.
pub(in crate::emulator) async fn update_contact_flow_module_content(
    State(state): State<Emulator>,
    Path((instance_id, module_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    respond(update_op(&state, &instance_id, &module_id, &body))
}

fn update_op(state: &Emulator, instance_id: &str, module_id: &str, body: &[u8]) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let request: UpdateContentRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let content = request.content.ok_or_else(|| invalid_parameter("Content is required"))?;
    let mut store = store(state)?;
    if store.find_mut(module_id).is_none_or(|m| m.kind != MODULE) {
        return Err(not_found(&format!("Contact flow module {module_id}")));
    }
    let problems = content_problems_of(&content, state, &store);
    if !problems.is_empty() {
        return Err(invalid_flow_module(&problems));
    }
    let module = store.find_mut(module_id).ok_or_else(|| not_found(&format!("Contact flow module {module_id}")))?;
    module.content = content;
    module.version += 1;
    module.last_modified_time = now();
    store.writes += 1;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateMetadataRequest {
    name: Option<String>,
    description: Option<String>,
    state: Option<String>,
}

/// Connect `UpdateContactFlowModuleMetadata`:
/// `POST /contact-flow-modules/{InstanceId}/{ContactFlowModuleId}/metadata` (name, description, and
/// `State` `ACTIVE` or `ARCHIVED`).
pub(in crate::emulator) async fn update_contact_flow_module_metadata(
    State(state): State<Emulator>,
    Path((instance_id, module_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let change = parse_request(&body).map_err(|m| invalid_request(&m)).map(|request: UpdateMetadataRequest| Metadata {
        name: request.name,
        description: request.description,
        state: request.state,
    });
    respond(change.and_then(|change| update_metadata(&state, &instance_id, &module_id, change, Kind::Module)))
}
