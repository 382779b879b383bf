//! A simulated contact as the runner's caller describes it: the flow it starts in, its channel, and
//! what the customer does when the flow asks for input.

use std::{collections::BTreeMap, str::FromStr};

use serde::{Deserialize, Serialize};

/// How the customer reaches the contact centre (Connect also has TASK and EMAIL, not simulated yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Channel {
    /// A phone call: prompts are spoken, input is DTMF.
    #[default]
    Voice,
    /// A chat: prompts are messages; there are no phone endpoints.
    Chat,
}

impl Channel {
    /// Connect's name for the channel (`$.Channel`, the event's `Channel`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Voice => "VOICE",
            Self::Chat => "CHAT",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "VOICE" => Ok(Self::Voice),
            "CHAT" => Ok(Self::Chat),
            _ => Err(format!("{s:?} is not a channel the runner simulates (voice, chat)")),
        }
    }
}

/// One thing the caller does when the flow asks for input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallInput {
    /// DTMF digits (`0-9`, `*`, `#`).
    Digits(String),
    /// The PIN from the latest SMS sent to the caller's number (`sms`, or `auto`).
    Pin,
    /// Nothing: the input times out (`-`).
    Silence,
}

impl FromStr for CallInput {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "sms" | "auto" | "pin" => Ok(Self::Pin),
            "-" | "silence" => Ok(Self::Silence),
            digits if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#') => {
                Ok(Self::Digits(digits.to_owned()))
            }
            other => Err(format!("{other:?} is not DTMF input (digits, * and #), `sms`/`auto`, or `-`")),
        }
    }
}

/// A simulated inbound contact. Built with [`Call::voice`] or [`Call::chat`] and the `with_…`
/// methods, so that a new setting does not break its callers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Call {
    /// `<context>/<FlowName>`, e.g. `emergency/Emergency_Authentication`; empty: the flow the
    /// dialled number (`to`) is associated with, as Connect starts it.
    pub flow: String,
    pub channel: Channel,
    /// The caller's number (E.164); voice only.
    pub from: String,
    /// The dialled number (E.164); voice only.
    pub to: String,
    /// The contact's attributes when the flow starts (a chat's come from `StartChatContact`).
    pub attributes: BTreeMap<String, String>,
    /// Values for `{{param:<key>}}`; a key not given takes its default from `flows.json`.
    pub parameters: BTreeMap<String, String>,
    pub inputs: Vec<CallInput>,
    /// The customer leaves once this many messages (prompts) have reached them. With it, a contact
    /// queued with a customer queue flow set goes on into that flow until the customer leaves;
    /// without it, queueing ends the run.
    pub leave_after_messages: Option<usize>,
    /// How many transfers to queue in a row find the queue at capacity.
    pub queue_at_capacity: usize,
    /// What the caller says, in order, each time a bot listens (`ConnectParticipantWithLexBot`);
    /// none left is silence.
    pub said: Vec<String>,
    /// The clock `CheckHoursOfOperation` reads; `None` is now.
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// Real-time metric values `CheckMetricData` and `GetMetricData` read, by metric name
    /// (`NumberOfContactsInQueue=3`).
    pub metrics: BTreeMap<String, String>,
}

impl Call {
    /// A phone call from `from` to the dialled number `to`.
    pub fn voice(flow: impl Into<String>, from: impl Into<String>, to: impl Into<String>) -> Self {
        Self {
            flow: flow.into(),
            channel: Channel::Voice,
            from: from.into(),
            to: to.into(),
            attributes: BTreeMap::new(),
            parameters: BTreeMap::new(),
            inputs: Vec::new(),
            leave_after_messages: None,
            queue_at_capacity: 0,
            said: Vec::new(),
            at: None,
            metrics: BTreeMap::new(),
        }
    }

    /// A chat, as `StartChatContact` starts one: no phone numbers; set its attributes.
    pub fn chat(flow: impl Into<String>) -> Self {
        Self { channel: Channel::Chat, ..Self::voice(flow, "", "") }
    }

    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = (String, String)>) -> Self {
        self.attributes.extend(attributes);
        self
    }

    pub fn with_parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.insert(key.into(), value.into());
        self
    }

    pub fn with_parameters(mut self, parameters: impl IntoIterator<Item = (String, String)>) -> Self {
        self.parameters.extend(parameters);
        self
    }

    pub fn with_inputs(mut self, inputs: impl IntoIterator<Item = CallInput>) -> Self {
        self.inputs.extend(inputs);
        self
    }

    /// See [`Call::leave_after_messages`].
    pub fn leaving_after_messages(mut self, messages: usize) -> Self {
        self.leave_after_messages = Some(messages);
        self
    }

    /// See [`Call::said`].
    pub fn saying(mut self, words: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.said.extend(words.into_iter().map(Into::into));
        self
    }

    /// See [`Call::at`].
    pub fn at(mut self, at: chrono::DateTime<chrono::Utc>) -> Self {
        self.at = Some(at);
        self
    }

    /// See [`Call::metrics`].
    pub fn with_metrics(mut self, metrics: impl IntoIterator<Item = (String, String)>) -> Self {
        self.metrics.extend(metrics);
        self
    }

    /// See [`Call::queue_at_capacity`].
    pub fn with_queue_at_capacity(mut self, transfers: usize) -> Self {
        self.queue_at_capacity = transfers;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_case_insensitively() {
        assert_eq!("chat".parse::<Channel>().unwrap(), Channel::Chat);
        assert_eq!("VOICE".parse::<Channel>().unwrap(), Channel::Voice);
        assert!("task".parse::<Channel>().is_err());
    }

    #[test]
    fn call_inputs_parse() {
        assert_eq!("12#".parse::<CallInput>().unwrap(), CallInput::Digits("12#".into()));
        assert_eq!("auto".parse::<CallInput>().unwrap(), CallInput::Pin);
        assert_eq!("-".parse::<CallInput>().unwrap(), CallInput::Silence);
        assert!("12a".parse::<CallInput>().is_err());
    }
}
