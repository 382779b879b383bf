//! Flow content checked as Connect checks it before storing it: the structure of the flow language,
//! no unresolved placeholder, and only the instance's own queues, flows, prompts and associated
//! Lambda functions named.

use std::collections::BTreeSet;

use axum::response::Response;
use serde_json::Value;

use super::{
    store::{FlowStore, FLOW_LANGUAGE_VERSION},
    wire::invalid_flow,
};
use crate::emulator::Emulator;

/// `Content`'s bound in the service model.
const MAX_CONTENT_CHARS: usize = 256_000;

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
    let (kind, id) = ["queue", "contact-flow", "flow-module", "prompt"]
        .into_iter()
        .find_map(|kind| resource.split_once(&format!("/{kind}/")).map(|(_, id)| (kind, id)))?;
    let own_prefix = format!("{}/{kind}/", context.instance_arn);
    if !value.starts_with(&own_prefix) {
        return Some(format!("names a {kind} of another instance: {value}"));
    }
    let known = match kind {
        "queue" => &context.queues,
        // Flows and modules: one store, ids unique across both.
        "contact-flow" | "flow-module" => &context.flows,
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

/// Every problem of `content` on this instance (none: valid).
pub(super) fn content_problems_of(content: &str, state: &Emulator, store: &FlowStore) -> Vec<String> {
    content_problems(content, &ContentContext::new(state, store))
}

pub(super) fn check_content(content: &str, state: &Emulator, store: &FlowStore) -> Result<(), Box<Response>> {
    let problems = content_problems(content, &ContentContext::new(state, store));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(invalid_flow(&problems))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
}
