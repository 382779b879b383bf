//! The contact a run plays: its ids, attributes and the flow language's `$.` references to them,
//! and the event Connect sends a Lambda function about it.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use super::{
    call::{CallInput, Channel},
    model::Flow,
    transcript::{Ending, Step, Transcript},
};
use crate::instance::Recognised;

pub(super) struct Contact {
    pub(super) contact_id: String,
    pub(super) initial_contact_id: String,
    pub(super) channel: Channel,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) attributes: BTreeMap<String, String>,
    pub(super) external: BTreeMap<String, String>,
    pub(super) stored_input: Option<String>,
    pub(super) target_queue: Option<WorkingQueue>,
    pub(super) inputs: VecDeque<CallInput>,
    /// Messages (prompts) that have reached the customer.
    pub(super) messages: usize,
    /// The flow the `CustomerQueue` event hook names.
    pub(super) customer_queue_flow: Option<Flow>,
    /// Transfers to queue still to find the queue at capacity.
    pub(super) queue_at_capacity: usize,
    /// What the caller will say to bots, in order.
    pub(super) said: VecDeque<String>,
    /// What the last bot made of the caller's words (`$.Lex.…`).
    pub(super) lex: Option<Recognised>,
    /// `UpdateFlowAttributes` (`$.FlowAttributes.…`).
    pub(super) flow_attributes: BTreeMap<String, String>,
    /// The call's metric values; readable as `$.Metrics.<Name>` once `GetMetricData` ran.
    pub(super) metrics: BTreeMap<String, String>,
    pub(super) metrics_loaded: bool,
    /// Times each `Loop` action (by flow and identifier) has looped.
    pub(super) loops: BTreeMap<String, u64>,
    /// Whether the call's customer leaves after some messages ([`Call::leave_after_messages`](super::Call)).
    pub(super) leaves: bool,
}

/// What `UpdateContactTargetQueue` set.
#[derive(Debug, Clone)]
pub(super) enum WorkingQueue {
    /// A standard queue, by name.
    Standard(String),
    /// An agent's personal queue.
    Agent { username: String, user_id: String },
}

impl WorkingQueue {
    pub(super) fn queued(self) -> Ending {
        match self {
            Self::Standard(queue) => Ending::Queued { queue },
            Self::Agent { username, user_id } => Ending::QueuedForAgent { agent: username, agent_id: user_id },
        }
    }
}

impl Contact {
    fn resolve(&self, path: &str) -> Option<String> {
        let (namespace, key) = path.split_once('.').unwrap_or((path, ""));
        let voice = self.channel == Channel::Voice;
        match (namespace, key) {
            ("External", key) => self.external.get(key).cloned(),
            ("Attributes", key) => self.attributes.get(key).cloned(),
            // Chat contacts have no phone endpoints.
            ("CustomerEndpoint", "Address") if voice => Some(self.from.clone()),
            ("SystemEndpoint", "Address") if voice => Some(self.to.clone()),
            ("ContactId", "") => Some(self.contact_id.clone()),
            ("InitialContactId", "") => Some(self.initial_contact_id.clone()),
            ("Channel", "") => Some(self.channel.to_string()),
            ("StoredCustomerInput", "") => self.stored_input.clone(),
            ("FlowAttributes", key) => self.flow_attributes.get(key).cloned(),
            ("Lex", "IntentName") => self.lex.as_ref().map(|lex| lex.intent.clone()),
            ("Lex", key) => {
                let slot = key.strip_prefix("Slots.")?;
                self.lex.as_ref()?.slots.get(slot).cloned()
            }
            ("Metrics", key) if self.metrics_loaded => self.metrics.get(key).cloned(),
            _ => None,
        }
    }

    /// A parameter that is either static or one JSONPath reference (`$.Attributes.x`), as the flow
    /// language allows for ids such as `AgentId`.
    pub(super) fn value_of(&self, value: &str) -> String {
        self.dynamic(value).unwrap_or_default()
    }

    /// Like [`Contact::value_of`], but `None` for a reference that has no value: where Connect takes
    /// the action's Error branch (a queue, flow or function that cannot be resolved).
    pub(super) fn dynamic(&self, value: &str) -> Option<String> {
        match value.strip_prefix("$.") {
            Some(path) => self.resolve(path).filter(|v| !v.is_empty()),
            None => Some(value.to_owned()),
        }
    }

    /// A prompt reaches the customer: spoken on a call, a message in a chat.
    pub(super) fn message(&mut self, transcript: &mut Transcript, text: &str) {
        transcript.steps.push(Step::Prompt { text: self.interpolate(text) });
        self.messages += 1;
    }

    /// Replaces each `$.Namespace.Key` in `text` with its value (empty when unset, as Connect does).
    pub(super) fn interpolate(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("$.") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
                .unwrap_or(after.len());
            let path = after[..len].trim_end_matches('.');
            out.push_str(&self.resolve(path).unwrap_or_default());
            rest = &after[path.len()..];
        }
        out.push_str(rest);
        out
    }

    /// The ContactFlowEvent Connect sends to a Lambda function. A chat (started by
    /// `StartChatContact`) has no endpoints and no media streams.
    pub(super) fn event(&self, instance_arn: &str, parameters: &BTreeMap<String, String>) -> Value {
        let (initiation, customer, system, media) = match self.channel {
            Channel::Voice => (
                "INBOUND",
                json!({"Address": self.from, "Type": "TELEPHONE_NUMBER"}),
                json!({"Address": self.to, "Type": "TELEPHONE_NUMBER"}),
                json!({"Customer": {"Audio": null}}),
            ),
            Channel::Chat => ("API", Value::Null, Value::Null, Value::Null),
        };
        json!({
            "Name": "ContactFlowEvent",
            "Details": {
                "ContactData": {
                    "Attributes": self.attributes,
                    "Channel": self.channel.as_str(),
                    "ContactId": self.contact_id,
                    "InitialContactId": self.initial_contact_id,
                    "PreviousContactId": self.contact_id,
                    "InitiationMethod": initiation,
                    "InstanceARN": instance_arn,
                    "CustomerEndpoint": customer,
                    "SystemEndpoint": system,
                    "Queue": null,
                    "MediaStreams": media
                },
                "Parameters": parameters
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact() -> Contact {
        Contact {
            contact_id: "c".into(),
            initial_contact_id: "i".into(),
            channel: Channel::Voice,
            from: "+61412345678".into(),
            to: "+61255501000".into(),
            attributes: BTreeMap::from([("location".into(), "Sydney".into())]),
            external: BTreeMap::from([("EmergencyType".into(), "Fire Alarm".into())]),
            stored_input: Some("1234".into()),
            target_queue: None,
            inputs: VecDeque::new(),
            messages: 0,
            customer_queue_flow: None,
            queue_at_capacity: 0,
            said: VecDeque::new(),
            lex: None,
            flow_attributes: BTreeMap::new(),
            metrics: BTreeMap::new(),
            metrics_loaded: false,
            loops: BTreeMap::new(),
            leaves: false,
        }
    }

    #[test]
    fn interpolates_references_inside_text() {
        let c = contact();
        assert_eq!(
            c.interpolate(
                "Due to a $.External.EmergencyType at $.Attributes.location. Call $.CustomerEndpoint.Address"
            ),
            "Due to a Fire Alarm at Sydney. Call +61412345678"
        );
        assert_eq!(c.interpolate("$.StoredCustomerInput"), "1234");
        assert_eq!(c.interpolate("[$.External.Missing]"), "[]");
        assert_eq!(c.interpolate("no references"), "no references");
    }

    #[test]
    fn a_chat_contact_has_no_phone_endpoints_and_says_chat() {
        let mut c = contact();
        c.channel = Channel::Chat;
        let event = c.event("arn:instance", &BTreeMap::new());
        let data = &event["Details"]["ContactData"];
        assert_eq!(data["Channel"], "CHAT");
        assert_eq!(data["InitiationMethod"], "API");
        assert!(data["CustomerEndpoint"].is_null() && data["SystemEndpoint"].is_null(), "{data}");
        assert_eq!(data["Attributes"]["location"], "Sydney");
        assert_eq!(c.interpolate("[$.Channel] [$.CustomerEndpoint.Address]"), "[CHAT] []");

        let voice = contact().event("arn:instance", &BTreeMap::new());
        let data = &voice["Details"]["ContactData"];
        assert_eq!((data["Channel"].as_str(), data["InitiationMethod"].as_str()), (Some("VOICE"), Some("INBOUND")));
        assert_eq!(data["CustomerEndpoint"]["Address"], "+61412345678");
        assert_eq!(data["SystemEndpoint"]["Address"], "+61255501000");
    }

    #[test]
    fn agent_ids_are_static_or_one_json_path() {
        let mut c = contact();
        c.attributes.insert("videoRouteToAgent".into(), "alice_video@example.com".into());
        assert_eq!(c.value_of("$.Attributes.videoRouteToAgent"), "alice_video@example.com");
        assert_eq!(c.value_of("$.Attributes.missing"), "");
        assert_eq!(c.value_of("3f2504e0"), "3f2504e0");
    }
}
