//! What flows refer to: `ListQueues` and `ListPrompts`, from the fixture.

use axum::{
    extract::{Path, RawQuery, State},
    response::Response,
};
use serde_json::{json, Value};

use super::wire::{
    check_one_of, invalid_parameter, query_pairs, respond, store, with_next_token, PageRequest, MAX_LIST_RESULTS,
};
use crate::emulator::{connect::check_instance, Emulator};

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
