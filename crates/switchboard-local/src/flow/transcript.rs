//! What happened on a simulated call: readable text for people, JSON for tests.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "camelCase")]
pub enum Step {
    /// A flow started (at the beginning or by a transfer).
    Flow {
        name: String,
    },
    /// Text spoken to the caller.
    Prompt {
        text: String,
    },
    /// Digits the caller keyed (PIN digits are shown; this is a simulated call).
    Input {
        digits: String,
    },
    /// The caller keyed nothing before the timeout.
    Timeout,
    Invoke {
        function: String,
        parameters: BTreeMap<String, String>,
        result: Option<BTreeMap<String, String>>,
        error: Option<String>,
    },
    SetAttributes {
        attributes: BTreeMap<String, String>,
    },
    Behaviour {
        action: String,
        parameters: serde_json::Value,
    },
    TargetQueue {
        queue: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "camelCase")]
pub enum Ending {
    Queued { queue: String },
    Disconnected,
    Ended,
}

#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    /// The simulated contact's ids (what Connect would pass as `ContactId` / `InitialContactId`).
    pub contact_id: String,
    pub initial_contact_id: String,
    pub steps: Vec<Step>,
    pub ending: Option<Ending>,
    pub attributes: BTreeMap<String, String>,
}

impl Transcript {
    pub fn prompts(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Prompt { text } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Each function's results, in call order.
    pub fn results_of(&self, function: &str) -> Vec<&BTreeMap<String, String>> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Invoke { function: f, result: Some(r), .. } if f == function => Some(r),
                _ => None,
            })
            .collect()
    }

    /// The `Result` codes a function answered, in call order.
    pub fn result_codes(&self, function: &str) -> Vec<&str> {
        self.results_of(function).into_iter().filter_map(|r| r.get("Result").map(String::as_str)).collect()
    }

    pub fn heard(&self, fragment: &str) -> bool {
        self.prompts().iter().any(|p| p.contains(fragment))
    }

    /// Each step with whether Connect's flow logs would record it: logging is on until an
    /// `UpdateFlowLoggingBehavior` block turns it off, and stays as the last such block left it,
    /// across transfers (it is a property of the contact).
    pub fn with_flow_logging(&self) -> Vec<(bool, &Step)> {
        let mut logging = true;
        self.steps
            .iter()
            .map(|step| {
                if let Step::Behaviour { action, parameters } = step {
                    if action == "UpdateFlowLoggingBehavior" {
                        logging = parameters.get("FlowLoggingBehavior").and_then(|v| v.as_str()) != Some("Disabled");
                    }
                }
                (logging, step)
            })
            .collect()
    }
}

impl std::fmt::Display for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for step in &self.steps {
            match step {
                Step::Flow { name } => writeln!(f, "== flow {name}")?,
                Step::Prompt { text } => writeln!(f, "   system: \"{text}\"")?,
                Step::Input { digits } => writeln!(f, "   caller keys: {digits}")?,
                Step::Timeout => writeln!(f, "   caller keys nothing (timeout)")?,
                Step::Invoke { function, parameters, result, error } => {
                    writeln!(f, "   lambda {function} {}", compact(parameters))?;
                    match (result, error) {
                        (Some(result), _) => writeln!(f, "     -> {}", compact(result))?,
                        (_, Some(error)) => writeln!(f, "     -> error: {error}")?,
                        _ => {}
                    }
                }
                Step::SetAttributes { attributes } => writeln!(f, "   set {}", compact(attributes))?,
                Step::Behaviour { action, parameters } => writeln!(f, "   {action} {parameters}")?,
                Step::TargetQueue { queue } => writeln!(f, "   target queue: {queue}")?,
            }
        }
        match &self.ending {
            Some(Ending::Queued { queue }) => writeln!(f, "== queued to {queue}"),
            Some(Ending::Disconnected) => writeln!(f, "== disconnected"),
            Some(Ending::Ended) => writeln!(f, "== flow ended"),
            None => writeln!(f, "== (no ending)"),
        }
    }
}

fn compact(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}
