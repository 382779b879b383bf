//! The Connect edge: the ContactFlowEvent in, a flat string map with `Result` out.
//!
//! Parsing is lenient on purpose: chat and task contacts have no customer or system endpoint, and
//! Connect adds fields over time, so every field here is optional and unknown fields are ignored.
//! (`aws_lambda_events::connect::ConnectEvent` requires the endpoints and so rejects such contacts.)

use std::{collections::BTreeMap, collections::HashMap, future::Future};

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::platform::deadline::Deadline;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContactFlowEvent {
    #[serde(default, deserialize_with = "null_as_default")]
    pub details: Details,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Details {
    #[serde(default, deserialize_with = "null_as_default")]
    pub contact_data: ContactData,
    /// The block's `LambdaInvocationAttributes`. Connect sends strings; anything else is ignored.
    /// `null` (a block with no parameters, as some flows send it) is the same as none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub parameters: HashMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContactData {
    pub contact_id: Option<String>,
    pub initial_contact_id: Option<String>,
    pub previous_contact_id: Option<String>,
    pub channel: Option<String>,
    pub instance_arn: Option<String>,
    pub initiation_method: Option<String>,
    pub customer_endpoint: Option<Endpoint>,
    pub system_endpoint: Option<Endpoint>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: HashMap<String, serde_json::Value>,
}

/// `null` as the type's default, for fields Connect sends as `null` when empty.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    pub address: Option<String>,
    #[serde(rename = "Type")]
    pub kind: Option<String>,
}

impl ContactFlowEvent {
    /// A non-blank string parameter, trimmed.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.details.parameters.get(name).and_then(serde_json::Value::as_str).map(str::trim).filter(|v| !v.is_empty())
    }

    /// The id that survives transfers: `InitialContactId`, else `ContactId`.
    pub fn initial_contact_id(&self) -> Option<&str> {
        let data = &self.details.contact_data;
        non_blank(&data.initial_contact_id).or_else(|| non_blank(&data.contact_id))
    }

    pub fn contact_id(&self) -> Option<&str> {
        non_blank(&self.details.contact_data.contact_id)
    }

    /// The caller's address (E.164 for voice), when the channel has one.
    pub fn customer_address(&self) -> Option<&str> {
        self.details
            .contact_data
            .customer_endpoint
            .as_ref()
            .and_then(|e| e.address.as_deref())
            .filter(|v| !v.is_empty())
    }
}

fn non_blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// What a flow function answers: `Result` plus flat string values. Connect rejects nested values, so
/// the type only allows strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowResult(BTreeMap<String, String>);

impl FlowResult {
    /// A result with the given UPPER_SNAKE code.
    pub fn new(code: &str) -> Self {
        let mut map = BTreeMap::new();
        map.insert("Result".to_owned(), code.to_owned());
        Self(map)
    }

    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.0.insert(key.to_owned(), value.to_string());
        self
    }

    pub fn code(&self) -> &str {
        self.0.get("Result").map(String::as_str).unwrap_or_default()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// A fault a flow function reports as a Lambda error. `kind` becomes the error's `errorType`: the
/// word an operator searches the logs and metrics for (`StoreError`, `DependencyError`,
/// `DeadlineExceeded`, …), where the runtime would otherwise print a Rust type path.
pub trait FlowFault: std::error::Error {
    fn kind(&self) -> &'static str;
}

impl FlowFault for crate::platform::deadline::DeadlineExceeded {
    fn kind(&self) -> &'static str {
        "DeadlineExceeded"
    }
}

/// The `errorType` of an event a flow function cannot read (not a JSON object of the flow event's shape).
pub const INVALID_EVENT: &str = "InvalidEvent";

/// The Lambda error for a fault: its kind as `errorType`, its message unchanged.
pub fn diagnostic(fault: &dyn FlowFault) -> Diagnostic {
    Diagnostic { error_type: fault.kind().to_owned(), error_message: fault.to_string() }
}

/// Runs a Connect flow function: parses each event leniently and answers with its [`FlowResult`].
/// The handler gets the invocation's [`Deadline`] and, as a backstop, is stopped at it: Connect has
/// given up by then, so an answer after it helps no one. An `Err` from the handler (or the deadline)
/// becomes a Lambda error named by its [`FlowFault::kind`], which sends the flow down its Error branch.
pub async fn serve<H, Fut, E>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(ContactFlowEvent, Deadline) -> Fut,
    Fut: Future<Output = Result<FlowResult, E>>,
    E: FlowFault + Send + Sync + 'static,
{
    crate::platform::startup::mark(crate::platform::startup::phase::FUNCTION);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        crate::platform::startup::invocation_started();
        // Parsed here rather than by the runtime, whose error for an event that is not a JSON object
        // is named by a Rust type path (`&lambda_runtime::deserializer::DeserializeError`).
        let (payload, context) = event.into_parts();
        let event = match serde_json::from_value::<ContactFlowEvent>(payload) {
            Ok(payload) => LambdaEvent::new(payload, context),
            Err(e) => {
                tracing::error!(error = %e, kind = INVALID_EVENT, "the event is not a Connect flow event");
                return Err(Diagnostic {
                    error_type: INVALID_EVENT.to_owned(),
                    error_message: format!("the event is not a Connect flow event: {e}"),
                });
            }
        };
        let deadline = Deadline::for_invocation(event.context.deadline);
        // The contact id on the answer's log line ties it to the contact's flow logs in Connect.
        let contact_id = event.payload.contact_id().unwrap_or_default().to_owned();
        // Boxed: the handler's future is deep (every call wrapped in the deadline), and nesting it
        // inside the runtime's own futures would exceed the compiler's type-layout depth limit.
        let answer = deadline.run("the handler", Box::pin(handler(event.payload, deadline))).await;
        match answer {
            Ok(Ok(result)) => {
                tracing::info!(result = result.code(), contact_id, "flow function answered");
                Ok(result)
            }
            Ok(Err(error)) => {
                tracing::error!(error = %error, kind = error.kind(), contact_id, "flow function failed");
                Err(diagnostic(&error))
            }
            Err(late) => {
                tracing::error!(error = %late, kind = late.kind(), contact_id, "flow function failed");
                Err(diagnostic(&late))
            }
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_chat_contact_without_endpoints_and_unknown_fields() {
        let event: ContactFlowEvent = serde_json::from_value(serde_json::json!({
            "Name": "ContactFlowEvent",
            "Details": {
                "ContactData": {
                    "ContactId": "c-2", "InitialContactId": "", "Channel": "CHAT",
                    "CustomerEndpoint": null, "SystemEndpoint": null, "Brand-new": {"x": 1},
                    "Attributes": {"a": "b"}
                },
                "Parameters": {"location": " Sydney ", "n": 3, "blank": ""}
            }
        }))
        .unwrap();
        assert_eq!(event.customer_address(), None);
        assert_eq!(event.initial_contact_id(), Some("c-2"), "a blank InitialContactId falls back");
        assert_eq!(event.contact_id(), Some("c-2"));
        assert_eq!(event.parameter("location"), Some("Sydney"));
        assert_eq!(event.parameter("n"), None);
        assert_eq!(event.parameter("blank"), None);
    }

    #[test]
    fn null_parameters_attributes_and_contact_data_are_empty() {
        let event: ContactFlowEvent = serde_json::from_value(serde_json::json!({
            "Details": {"ContactData": {"ContactId": "c-1", "Attributes": null}, "Parameters": null}
        }))
        .unwrap();
        assert_eq!(event.parameter("location"), None);
        assert_eq!(event.contact_id(), Some("c-1"));
        let bare: ContactFlowEvent =
            serde_json::from_value(serde_json::json!({"Details": {"ContactData": null, "Parameters": null}})).unwrap();
        assert_eq!(bare.contact_id(), None);
        let no_details: ContactFlowEvent = serde_json::from_value(serde_json::json!({"Details": null})).unwrap();
        assert_eq!(no_details.initial_contact_id(), None);
    }

    #[test]
    fn initial_contact_id_falls_back_to_contact_id() {
        let event: ContactFlowEvent = serde_json::from_value(serde_json::json!({
            "Details": {"ContactData": {"ContactId": "c-1"}}
        }))
        .unwrap();
        assert_eq!(event.initial_contact_id(), Some("c-1"));
        let empty: ContactFlowEvent = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(empty.initial_contact_id(), None);
    }

    #[test]
    fn flow_result_serialises_flat_strings() {
        let result = FlowResult::new("SENT").with("PinLength", 6);
        assert_eq!(serde_json::to_value(&result).unwrap(), serde_json::json!({"Result": "SENT", "PinLength": "6"}));
        assert_eq!(result.code(), "SENT");
    }
}
