//! What happened on a simulated call: readable text for people, JSON for tests.

use std::collections::BTreeMap;

use serde::Serialize;

use super::call::Channel;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "camelCase")]
pub enum Step {
    /// A flow started (at the beginning or by a transfer).
    Flow {
        name: String,
    },
    /// Text that reached the customer: spoken on a call, a message in a chat.
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
    /// The working queue became an agent's personal queue (`UpdateContactTargetQueue` by agent).
    TargetAgentQueue {
        /// The agent's username.
        agent: String,
        agent_id: String,
    },
    /// `UpdateContactRoutingBehavior`: a new routing priority (lower is routed first) or an
    /// adjustment of the contact's age in queue.
    RoutingBehaviour {
        queue_priority: Option<i64>,
        queue_time_adjustment_seconds: Option<i64>,
    },
    /// `UpdateContactEventHooks`: the flow that runs on a contact event (e.g. `CustomerQueue`).
    EventHook {
        hook: String,
        flow: String,
    },
    /// A transfer to queue found the queue at capacity.
    QueueAtCapacity,
    /// The flow waited (chat only); the runner does not sleep.
    Wait {
        seconds: u64,
    },
    /// The customer left while waiting in queue.
    CustomerLeft {
        after_messages: usize,
    },
    /// A bot listened: what the caller said (`None`: nothing) and the intent and slots it found.
    Lex {
        bot: String,
        said: Option<String>,
        intent: Option<String>,
        slots: BTreeMap<String, String>,
    },
    /// `CheckHoursOfOperation`: the hours read, at which time, and the answer.
    Hours {
        hours: String,
        at: String,
        open: bool,
    },
    /// `UpdateFlowAttributes`.
    SetFlowAttributes {
        attributes: BTreeMap<String, String>,
    },
    /// `CheckMetricData` / `GetMetricData` read the call's metric values.
    Metrics {
        values: BTreeMap<String, String>,
    },
    /// `DistributeByPercentage` drew this number from 1 to 100.
    Distributed {
        draw: u32,
    },
    /// `Loop`: this pass (from 1), of `count`.
    Loop {
        pass: u64,
        count: u64,
    },
    /// An action type the runner does not model: it took this error branch.
    NotModelled {
        action: String,
        error: String,
    },
    /// A reference had no value or named nothing the instance has: the action took its Error
    /// branch, as Connect does.
    Unresolved {
        action: String,
        reference: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "camelCase")]
pub enum Ending {
    Queued {
        queue: String,
    },
    /// Queued on an agent's personal queue.
    QueuedForAgent {
        /// The agent's username.
        agent: String,
        agent_id: String,
    },
    Disconnected,
    Ended,
    /// The customer left before the flows queued or disconnected the contact.
    CustomerLeft {
        after_messages: usize,
    },
    /// Transferred to a number outside the instance (`TransferParticipantToThirdParty`).
    Transferred {
        to: String,
    },
    /// Transferred to the agent a transfer flow was started for (`TransferContactToAgent`).
    TransferredToAgent,
    /// An action type the runner does not model, in a flow that gives it no error branch.
    NotModelled {
        action: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    /// The simulated contact's ids (what Connect would pass as `ContactId` / `InitialContactId`).
    pub contact_id: String,
    pub initial_contact_id: String,
    pub channel: Channel,
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
        writeln!(f, "== {} contact {}", self.channel, self.contact_id)?;
        for step in &self.steps {
            match step {
                Step::Flow { name } => writeln!(f, "== flow {name}")?,
                Step::Prompt { text } => match self.channel {
                    Channel::Voice => writeln!(f, "   system: \"{text}\"")?,
                    Channel::Chat => writeln!(f, "   message to customer: \"{text}\"")?,
                },
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
                Step::TargetAgentQueue { agent, agent_id } => {
                    writeln!(f, "   target queue: personal queue of agent {agent} ({agent_id})")?
                }
                Step::RoutingBehaviour { queue_priority, queue_time_adjustment_seconds } => {
                    if let Some(priority) = queue_priority {
                        writeln!(f, "   routing priority: {priority}")?;
                    }
                    if let Some(seconds) = queue_time_adjustment_seconds {
                        writeln!(f, "   routing age adjusted by {seconds} s")?;
                    }
                }
                Step::EventHook { hook, flow } => writeln!(f, "   event hook {hook}: {flow}")?,
                Step::QueueAtCapacity => writeln!(f, "   queue at capacity")?,
                Step::Wait { seconds } => writeln!(f, "   wait {seconds} s")?,
                Step::CustomerLeft { after_messages } => {
                    writeln!(f, "   customer leaves the queue after {}", messages(*after_messages))?
                }
                Step::Lex { bot, said, intent, slots } => {
                    match said {
                        Some(words) => writeln!(f, "   caller says: \"{words}\"")?,
                        None => writeln!(f, "   caller says nothing")?,
                    }
                    match intent {
                        Some(intent) if slots.is_empty() => writeln!(f, "     -> bot {bot}: intent {intent}")?,
                        Some(intent) => writeln!(f, "     -> bot {bot}: intent {intent} {}", compact(slots))?,
                        None => writeln!(f, "     -> bot {bot}: no input")?,
                    }
                }
                Step::Hours { hours, at, open } => {
                    writeln!(f, "   hours {hours} at {at}: {}", if *open { "open" } else { "closed" })?
                }
                Step::SetFlowAttributes { attributes } => {
                    writeln!(f, "   set flow attributes {}", compact(attributes))?
                }
                Step::Metrics { values } => writeln!(f, "   metrics {}", compact(values))?,
                Step::Distributed { draw } => writeln!(f, "   distribute by percentage: drew {draw}")?,
                Step::Loop { pass, count } => writeln!(f, "   loop {pass} of {count}")?,
                Step::NotModelled { action, error } => {
                    writeln!(f, "   {action}: not modelled locally, takes its {error} branch")?
                }
                Step::Unresolved { action, reference } => {
                    writeln!(f, "   {action}: cannot resolve {reference}, takes its Error branch")?
                }
            }
        }
        match &self.ending {
            Some(Ending::Queued { queue }) => writeln!(f, "== queued to {queue}"),
            Some(Ending::QueuedForAgent { agent, agent_id }) => {
                writeln!(f, "== queued to the personal queue of agent {agent} ({agent_id})")
            }
            Some(Ending::Disconnected) => writeln!(f, "== disconnected"),
            Some(Ending::Ended) => writeln!(f, "== flow ended"),
            Some(Ending::CustomerLeft { after_messages }) => {
                writeln!(f, "== the customer left after {}", messages(*after_messages))
            }
            Some(Ending::Transferred { to }) => writeln!(f, "== transferred to {to}"),
            Some(Ending::TransferredToAgent) => writeln!(f, "== transferred to the agent"),
            Some(Ending::NotModelled { action }) => {
                writeln!(f, "== stopped: {action} is not modelled locally and the flow gives it no error branch")
            }
            None => writeln!(f, "== (no ending)"),
        }
    }
}

fn compact(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

fn messages(count: usize) -> String {
    match count {
        1 => "1 message".to_owned(),
        n => format!("{n} messages"),
    }
}
