//! Walks a flow action by action for one simulated contact.

use std::{
    collections::{BTreeMap, VecDeque},
    str::FromStr,
    time::Duration,
};

use serde_json::{json, Value};

use super::{
    model::{Action, Flow, FlowError, FlowLibrary},
    transcript::{Ending, Step, Transcript},
};
use crate::{emulator::Sms, lambda_host::InvokeClient};

/// Upper bound on actions per call, so a flow that loops forever fails instead of hanging.
const MAX_STEPS: usize = 300;

/// Where the runner finds the local cloud.
#[derive(Debug, Clone)]
pub struct Services {
    /// The Lambda Invoke API (the lambda host, or `cargo lambda watch`).
    pub lambda_endpoint: String,
    /// The emulator, for the SMS outbox.
    pub emulator_endpoint: String,
    pub instance_arn: String,
    /// Queue name → id.
    pub queues: BTreeMap<String, String>,
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

/// A simulated inbound voice contact.
#[derive(Debug, Clone)]
pub struct Call {
    /// `<context>/<FlowName>`, e.g. `emergency/Emergency_Authentication`.
    pub flow: String,
    /// The caller's number (E.164).
    pub from: String,
    /// The dialled number (E.164).
    pub to: String,
    pub attributes: BTreeMap<String, String>,
    pub inputs: Vec<CallInput>,
}

pub struct Runner {
    pub library: FlowLibrary,
    pub services: Services,
    lambda: InvokeClient,
    http: reqwest::Client,
}

struct Contact {
    contact_id: String,
    initial_contact_id: String,
    from: String,
    to: String,
    attributes: BTreeMap<String, String>,
    external: BTreeMap<String, String>,
    stored_input: Option<String>,
    target_queue: Option<String>,
    inputs: VecDeque<CallInput>,
}

enum Next {
    Action(String),
    Transfer(Flow),
    End(Ending),
}

impl Runner {
    pub fn new(library: FlowLibrary, services: Services) -> Self {
        let lambda = InvokeClient::new(services.lambda_endpoint.clone());
        Self { library, services, lambda, http: reqwest::Client::new() }
    }

    /// Plays the call to its end and returns the transcript, or the reason the flow could not run.
    pub async fn play(&self, call: Call) -> Result<Transcript, FlowError> {
        let contact_id = uuid::Uuid::new_v4().to_string();
        let mut contact = Contact {
            initial_contact_id: contact_id.clone(),
            contact_id,
            from: call.from,
            to: call.to,
            attributes: call.attributes,
            external: BTreeMap::new(),
            stored_input: None,
            target_queue: None,
            inputs: call.inputs.into(),
        };
        let mut transcript = Transcript {
            contact_id: contact.contact_id.clone(),
            initial_contact_id: contact.initial_contact_id.clone(),
            steps: Vec::new(),
            ending: None,
            attributes: BTreeMap::new(),
        };
        let mut flow = self.library.load(&call.flow)?;
        transcript.steps.push(Step::Flow { name: flow.name.clone() });
        let mut current = flow.start_action.clone();
        for _ in 0..MAX_STEPS {
            let action = flow.action(&current)?.clone();
            match self.step(&flow, &action, &mut contact, &mut transcript).await? {
                Next::Action(next) => current = next,
                Next::Transfer(target) => {
                    transcript.steps.push(Step::Flow { name: target.name.clone() });
                    current = target.start_action.clone();
                    flow = target;
                }
                Next::End(ending) => {
                    transcript.ending = Some(ending);
                    transcript.attributes = contact.attributes;
                    return Ok(transcript);
                }
            }
        }
        Err(FlowError::TooManySteps(MAX_STEPS))
    }

    async fn step(
        &self,
        flow: &Flow,
        action: &Action,
        contact: &mut Contact,
        transcript: &mut Transcript,
    ) -> Result<Next, FlowError> {
        let fail = |problem: String| action_error(flow, action, problem);
        let params = &action.parameters;
        match action.kind.as_str() {
            "MessageParticipant" => {
                let text = param_str(params, "Text").ok_or_else(|| fail("MessageParticipant without Text".into()))?;
                transcript.steps.push(Step::Prompt { text: contact.interpolate(text) });
                next(flow, action)
            }
            "GetParticipantInput" => self.get_input(flow, action, contact, transcript).await,
            "InvokeLambdaFunction" => {
                let arn = param_str(params, "LambdaFunctionARN").ok_or_else(|| fail("no LambdaFunctionARN".into()))?;
                let function = placeholder(arn, "lambda")
                    .or_else(|| arn.rsplit_once("function:").map(|(_, n)| n))
                    .ok_or_else(|| fail(format!("cannot resolve {arn} to a local function")))?
                    .to_owned();
                let limit =
                    param_str(params, "InvocationTimeLimitSeconds").and_then(|s| s.parse().ok()).unwrap_or(8u64);
                let parameters: BTreeMap<String, String> = params
                    .get("LambdaInvocationAttributes")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), contact.interpolate(v.as_str().unwrap_or_default())))
                            .collect()
                    })
                    .unwrap_or_default();
                let event = contact.event(&self.services.instance_arn, &parameters);
                match self.invoke(&function, &event, Duration::from_secs(limit)).await {
                    Ok(result) => {
                        contact.external = result.clone();
                        transcript.steps.push(Step::Invoke { function, parameters, result: Some(result), error: None });
                        next(flow, action)
                    }
                    Err(error) => {
                        transcript.steps.push(Step::Invoke { function, parameters, result: None, error: Some(error) });
                        on_error(flow, action, "NoMatchingError")
                    }
                }
            }
            "Compare" => {
                let value = param_str(params, "ComparisonValue").ok_or_else(|| fail("no ComparisonValue".into()))?;
                let value = contact.interpolate(value);
                for transition in &action.transitions.conditions {
                    if compare(&transition.condition.operator, &value, &transition.condition.operands).map_err(fail)? {
                        return Ok(Next::Action(transition.next_action.clone()));
                    }
                }
                on_error(flow, action, "NoMatchingCondition")
            }
            "UpdateContactAttributes" => {
                let attributes =
                    params.get("Attributes").and_then(Value::as_object).ok_or_else(|| fail("no Attributes".into()))?;
                let resolved: BTreeMap<String, String> = attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), contact.interpolate(v.as_str().unwrap_or_default())))
                    .collect();
                contact.attributes.extend(resolved.clone());
                transcript.steps.push(Step::SetAttributes { attributes: resolved });
                next(flow, action)
            }
            "TransferToFlow" => {
                let target = param_str(params, "ContactFlowId").ok_or_else(|| fail("no ContactFlowId".into()))?;
                let name = placeholder(target, "flow")
                    .ok_or_else(|| fail(format!("cannot resolve {target} to a local flow")))?;
                let context = flow.name.split_once('/').map_or("", |(c, _)| c);
                Ok(Next::Transfer(self.library.load(&format!("{context}/{name}"))?))
            }
            "UpdateContactTargetQueue" => {
                let queue = param_str(params, "QueueId").ok_or_else(|| fail("no QueueId".into()))?;
                match placeholder(queue, "queue").filter(|q| self.services.queues.contains_key(*q)) {
                    Some(name) => {
                        contact.target_queue = Some(name.to_owned());
                        transcript.steps.push(Step::TargetQueue { queue: name.to_owned() });
                        next(flow, action)
                    }
                    None => on_error(flow, action, "NoMatchingError"),
                }
            }
            "TransferContactToQueue" => match contact.target_queue.clone() {
                Some(queue) => Ok(Next::End(Ending::Queued { queue })),
                None => on_error(flow, action, "NoMatchingError"),
            },
            "DisconnectParticipant" => Ok(Next::End(Ending::Disconnected)),
            "EndFlowExecution" => Ok(Next::End(Ending::Ended)),
            "UpdateFlowLoggingBehavior" | "UpdateContactRecordingBehavior" | "UpdateContactTextToSpeechVoice" => {
                transcript.steps.push(Step::Behaviour { action: action.kind.clone(), parameters: params.clone() });
                next(flow, action)
            }
            other => Err(FlowError::Unsupported {
                flow: flow.name.clone(),
                action: action.identifier.clone(),
                kind: other.to_owned(),
            }),
        }
    }

    /// `GetParticipantInput`: a menu (one key, branch on conditions) or stored input (many digits
    /// into `$.StoredCustomerInput`, `Timeout` when the caller keys nothing, as Connect does).
    async fn get_input(
        &self,
        flow: &Flow,
        action: &Action,
        contact: &mut Contact,
        transcript: &mut Transcript,
    ) -> Result<Next, FlowError> {
        let fail = |problem: String| action_error(flow, action, problem);
        let params = &action.parameters;
        if let Some(text) = param_str(params, "Text") {
            transcript.steps.push(Step::Prompt { text: contact.interpolate(text) });
        }
        let store = matches!(params.get("StoreInput"), Some(Value::String(s)) if s.eq_ignore_ascii_case("true"))
            || params.get("StoreInput") == Some(&Value::Bool(true));
        let input = contact.inputs.pop_front().unwrap_or(CallInput::Silence);
        let keyed = match input {
            CallInput::Digits(digits) => Some(digits),
            CallInput::Pin => Some(self.latest_pin(&contact.from).await.map_err(fail)?),
            CallInput::Silence => None,
        };
        let Some(keyed) = keyed else {
            transcript.steps.push(Step::Timeout);
            if store {
                contact.stored_input = Some("Timeout".into());
                return next(flow, action);
            }
            return on_error(flow, action, "InputTimeLimitExceeded");
        };
        transcript.steps.push(Step::Input { digits: keyed.clone() });
        if store {
            let terminator =
                params.pointer("/DTMFConfiguration/InputTerminationSequence").and_then(Value::as_str).unwrap_or("#");
            let max = params
                .pointer("/InputValidation/CustomValidation/MaximumLength")
                .and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_u64().map(|n| n as usize)))
                .unwrap_or(20);
            let digits: String = keyed.split(terminator).next().unwrap_or_default().chars().take(max).collect();
            contact.stored_input = Some(digits);
            return next(flow, action);
        }
        let key = keyed.chars().next().map(String::from).unwrap_or_default();
        for transition in &action.transitions.conditions {
            if compare(&transition.condition.operator, &key, &transition.condition.operands).map_err(fail)? {
                return Ok(Next::Action(transition.next_action.clone()));
            }
        }
        on_error(flow, action, "NoMatchingCondition")
    }

    /// Lambda `Invoke`; a function error, a timeout or a response that is not a flat string map is
    /// an error, as Connect treats them.
    async fn invoke(&self, function: &str, event: &Value, limit: Duration) -> Result<BTreeMap<String, String>, String> {
        let value = self.lambda.invoke_within(function, event, limit).await?;
        let object = value.as_object().ok_or("response is not a JSON object (STRING_MAP)")?;
        object
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(format!("response value {k}={other} is not a string (STRING_MAP)")),
            })
            .collect()
    }

    /// The digits of the newest SMS to `number` in the emulator's outbox.
    async fn latest_pin(&self, number: &str) -> Result<String, String> {
        let url = format!("{}/_local/outbox", self.services.emulator_endpoint);
        let outbox: Vec<Sms> = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("cannot read the SMS outbox: {e}"))?
            .json()
            .await
            .map_err(|e| format!("cannot read the SMS outbox: {e}"))?;
        let sms = outbox.iter().rev().find(|s| s.to == number).ok_or(format!("no SMS was sent to {number}"))?;
        sms.pin().map(str::to_owned).ok_or_else(|| "the SMS has no PIN in it".to_owned())
    }
}

impl Contact {
    fn resolve(&self, path: &str) -> Option<String> {
        let (namespace, key) = path.split_once('.').unwrap_or((path, ""));
        match (namespace, key) {
            ("External", key) => self.external.get(key).cloned(),
            ("Attributes", key) => self.attributes.get(key).cloned(),
            ("CustomerEndpoint", "Address") => Some(self.from.clone()),
            ("SystemEndpoint", "Address") => Some(self.to.clone()),
            ("ContactId", "") => Some(self.contact_id.clone()),
            ("InitialContactId", "") => Some(self.initial_contact_id.clone()),
            ("Channel", "") => Some("VOICE".into()),
            ("StoredCustomerInput", "") => self.stored_input.clone(),
            _ => None,
        }
    }

    /// Replaces each `$.Namespace.Key` in `text` with its value (empty when unset, as Connect does).
    fn interpolate(&self, text: &str) -> String {
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

    /// The ContactFlowEvent Connect sends to a Lambda function.
    fn event(&self, instance_arn: &str, parameters: &BTreeMap<String, String>) -> Value {
        json!({
            "Name": "ContactFlowEvent",
            "Details": {
                "ContactData": {
                    "Attributes": self.attributes,
                    "Channel": "VOICE",
                    "ContactId": self.contact_id,
                    "InitialContactId": self.initial_contact_id,
                    "PreviousContactId": self.contact_id,
                    "InitiationMethod": "INBOUND",
                    "InstanceARN": instance_arn,
                    "CustomerEndpoint": {"Address": self.from, "Type": "TELEPHONE_NUMBER"},
                    "SystemEndpoint": {"Address": self.to, "Type": "TELEPHONE_NUMBER"},
                    "Queue": null,
                    "MediaStreams": {"Customer": {"Audio": null}}
                },
                "Parameters": parameters
            }
        })
    }
}

fn param_str<'a>(params: &'a Value, name: &str) -> Option<&'a str> {
    params.get(name).and_then(Value::as_str)
}

/// `{{kind:name}}` → `name`.
fn placeholder<'a>(value: &'a str, kind: &str) -> Option<&'a str> {
    value.trim().strip_prefix("{{")?.strip_suffix("}}")?.strip_prefix(kind)?.strip_prefix(':')
}

fn action_error(flow: &Flow, action: &Action, problem: String) -> FlowError {
    FlowError::Action { flow: flow.name.clone(), action: action.identifier.clone(), problem }
}

fn next(flow: &Flow, action: &Action) -> Result<Next, FlowError> {
    let next = action.transitions.next_action.clone().map(Next::Action);
    next.ok_or_else(|| action_error(flow, action, "no NextAction".into()))
}

/// Takes the error branch for `error_type`, else the `NoMatchingError` branch.
fn on_error(flow: &Flow, action: &Action, error_type: &str) -> Result<Next, FlowError> {
    let errors = &action.transitions.errors;
    errors
        .iter()
        .find(|e| e.error_type == error_type)
        .or_else(|| errors.iter().find(|e| e.error_type == "NoMatchingError"))
        .map(|e| Next::Action(e.next_action.clone()))
        .ok_or_else(|| action_error(flow, action, format!("{error_type} happened and the action has no branch for it")))
}

fn compare(operator: &str, value: &str, operands: &[String]) -> Result<bool, String> {
    let number = |s: &str| s.trim().parse::<f64>().ok();
    let first = operands.first().map(String::as_str).unwrap_or_default();
    Ok(match operator {
        "Equals" => operands.iter().any(|o| o == value),
        "TextContains" => value.contains(first),
        "TextStartsWith" => value.starts_with(first),
        "TextEndsWith" => value.ends_with(first),
        "NumberGreaterThan" => {
            matches!((number(value), number(first)), (Some(a), Some(b)) if a > b)
        }
        "NumberGreaterOrEqualTo" => {
            matches!((number(value), number(first)), (Some(a), Some(b)) if a >= b)
        }
        "NumberLessThan" => matches!((number(value), number(first)), (Some(a), Some(b)) if a < b),
        "NumberLessOrEqualTo" => {
            matches!((number(value), number(first)), (Some(a), Some(b)) if a <= b)
        }
        other => return Err(format!("comparison operator {other} is not supported")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact() -> Contact {
        Contact {
            contact_id: "c".into(),
            initial_contact_id: "i".into(),
            from: "+61412345678".into(),
            to: "+61255501000".into(),
            attributes: BTreeMap::from([("location".into(), "Sydney".into())]),
            external: BTreeMap::from([("EmergencyType".into(), "Fire Alarm".into())]),
            stored_input: Some("1234".into()),
            target_queue: None,
            inputs: VecDeque::new(),
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
    fn placeholders() {
        assert_eq!(placeholder("{{lambda:one-time-pin}}", "lambda"), Some("one-time-pin"));
        assert_eq!(placeholder("{{flow:Emergency_Update}}", "lambda"), None);
        assert_eq!(placeholder("arn:aws:lambda:x", "lambda"), None);
    }

    #[test]
    fn comparisons() {
        assert!(compare("Equals", "SENT", &["SENT".into()]).unwrap());
        assert!(!compare("Equals", "SENT", &["sent".into()]).unwrap());
        assert!(compare("NumberLessThan", "2", &["3".into()]).unwrap());
        assert!(!compare("NumberLessThan", "x", &["3".into()]).unwrap());
        assert!(compare("TextStartsWith", "+6125550", &["+61".into()]).unwrap());
        assert!(compare("Bogus", "", &[]).is_err());
    }

    #[test]
    fn call_inputs_parse() {
        assert_eq!("12#".parse::<CallInput>().unwrap(), CallInput::Digits("12#".into()));
        assert_eq!("auto".parse::<CallInput>().unwrap(), CallInput::Pin);
        assert_eq!("-".parse::<CallInput>().unwrap(), CallInput::Silence);
        assert!("12a".parse::<CallInput>().is_err());
    }
}
