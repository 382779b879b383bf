//! The EventBridge edge: functions that are targets of EventBridge rules.
//!
//! EventBridge invokes its targets asynchronously, so Lambda retries a failed invocation and may
//! deliver the same event twice: handlers are idempotent, answer an [`EventOutcome`] (logged, and
//! what `switchboard-local event` prints) for everything they decided, including "not for me", and
//! return an [`EventError`] only for a fault worth retrying (a dependency down), which becomes a Lambda
//! error named by its kind.

use std::future::Future;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An EventBridge event, read leniently: the envelope fields every event has, and its `detail` as
/// JSON for the handler to type (each source has its own shape).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventBridgeEvent {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub source: String,
    #[serde(default, rename = "detail-type")]
    pub detail_type: String,
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub time: String,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub detail: Value,
}

impl EventBridgeEvent {
    /// A string field of `detail`, trimmed; absent, blank or not a string is `None`.
    pub fn detail_str(&self, name: &str) -> Option<&str> {
        self.detail.get(name).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// What a handler decided about one event: an UPPER_SNAKE `result` and a few facts for the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventOutcome {
    pub result: &'static str,
    #[serde(flatten)]
    pub facts: serde_json::Map<String, Value>,
}

impl EventOutcome {
    pub fn new(result: &'static str) -> Self {
        Self { result, facts: serde_json::Map::new() }
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.facts.insert(name.to_owned(), value.into());
        self
    }
}

/// A fault that should make EventBridge (Lambda's async retries) deliver the event again.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct EventError {
    /// The Lambda error's `errorType`: `DependencyError`, `ConfigError`, …
    pub kind: &'static str,
    pub message: String,
}

impl EventError {
    pub fn dependency(detail: impl std::fmt::Display) -> Self {
        Self { kind: "DependencyError", message: detail.to_string() }
    }
}

/// Runs an event function: each event goes to `handler`; its outcome is the invocation's answer and
/// an info line, its error a Lambda error (so the event is retried) and an error line. An event that
/// is not even a JSON object of the envelope's shape is answered `MALFORMED_EVENT`, not retried:
/// delivering it again cannot make it readable.
pub async fn serve<H, Fut>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(EventBridgeEvent) -> Fut,
    Fut: Future<Output = Result<EventOutcome, EventError>>,
{
    crate::platform::startup::mark(crate::platform::startup::phase::FUNCTION);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        crate::platform::startup::invocation_started();
        let event: EventBridgeEvent = match serde_json::from_value(event.payload) {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(error = %e, "event refused: not an EventBridge event");
                return Ok(EventOutcome::new("MALFORMED_EVENT").with("problem", e.to_string()));
            }
        };
        let event_id = event.id.clone();
        match Box::pin(handler(event)).await {
            Ok(outcome) => {
                tracing::info!(result = outcome.result, event_id, "event handled");
                Ok(outcome)
            }
            Err(error) => {
                tracing::error!(error = %error, kind = error.kind, event_id, "event failed");
                Err(Diagnostic { error_type: error.kind.to_owned(), error_message: error.message })
            }
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_envelope_and_leaves_the_detail_as_json() {
        let event: EventBridgeEvent = serde_json::from_value(serde_json::json!({
            "version": "0", "id": "e-1", "detail-type": "Chime Meeting State Change", "source": "aws.chime",
            "account": "123456789012", "time": "2026-12-05T10:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {"eventType": "chime:MeetingEnded", "externalMeetingId": " ext-1 ", "n": 3}
        }))
        .unwrap();
        assert_eq!((event.source.as_str(), event.detail_type.as_str()), ("aws.chime", "Chime Meeting State Change"));
        assert_eq!(event.detail_str("externalMeetingId"), Some("ext-1"));
        assert_eq!(event.detail_str("n"), None);
        assert_eq!(event.detail_str("missing"), None);
        let bare: EventBridgeEvent = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(bare.detail_str("x"), None);
    }

    #[test]
    fn outcomes_are_flat_json() {
        let outcome = EventOutcome::new("STOPPED").with("recordingsStopped", 1);
        assert_eq!(
            serde_json::to_value(&outcome).unwrap(),
            serde_json::json!({"result": "STOPPED", "recordingsStopped": 1})
        );
    }
}
