//! What flows refer to: `ListQueues` and `ListPrompts`, from the fixture; and the numbers that
//! start them: `AssociatePhoneNumberContactFlow`.

use axum::{
    extract::{Path, RawQuery, State},
    response::Response,
};
use serde_json::{json, Value};

use serde::Deserialize;

use super::wire::{
    check_one_of, invalid_parameter, invalid_request, not_found, query_pairs, respond, respond_empty, store,
    with_next_token, PageRequest, MAX_LIST_RESULTS,
};
use crate::emulator::{connect::check_instance, parse_request, Emulator};

const QUEUE_TYPES: &[&str] = &["STANDARD", "AGENT"];

/// Connect `ListQueues`: `GET /queues-summary/{InstanceId}`: the fixture's standard queues, then
/// an agent queue per user (agent queues have no name), filtered by any `queueTypes`.
pub(in crate::emulator) async fn list_queues(
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
pub(in crate::emulator) async fn list_prompts(
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

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociatePhoneNumberRequest {
    instance_id: Option<String>,
    contact_flow_id: Option<String>,
}

/// Connect `AssociatePhoneNumberContactFlow`: `PUT /phone-number/{PhoneNumberId}/contact-flow`. The
/// number by id or ARN; the flow by id; associating again replaces the flow, as the service does.
pub(in crate::emulator) async fn associate_phone_number_contact_flow(
    State(state): State<Emulator>,
    Path(phone_number_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond_empty(associate_phone_number_contact_flow_op(&state, &phone_number_id, &body))
}

fn associate_phone_number_contact_flow_op(
    state: &Emulator,
    phone_number_id: &str,
    body: &[u8],
) -> Result<(), Box<Response>> {
    let request: AssociatePhoneNumberRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let instance_id = request.instance_id.ok_or_else(|| invalid_parameter("InstanceId is required"))?;
    check_instance(state, &instance_id)?;
    let flow_id = request.contact_flow_id.ok_or_else(|| invalid_parameter("ContactFlowId is required"))?;
    let id = phone_number_id.rsplit_once("phone-number/").map_or(phone_number_id, |(_, id)| id);
    let mut store = store(state)?;
    if !store.flows.iter().any(|f| f.id == flow_id) {
        return Err(not_found(&format!("Contact flow {flow_id}")));
    }
    let number =
        store.phone_numbers.get_mut(id).ok_or_else(|| not_found(&format!("Phone number {phone_number_id}")))?;
    // Pointing a number at the flow it already starts changes nothing: not a write.
    let changed = number.flow_id.as_deref() != Some(flow_id.as_str());
    number.flow_id = Some(flow_id);
    if changed {
        store.writes += 1;
    }
    Ok(())
}
