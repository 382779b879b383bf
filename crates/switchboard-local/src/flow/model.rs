//! The flow language, as far as the runner reads it, and the library's `flows.json`.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Flow {
    pub version: String,
    pub start_action: String,
    pub actions: Vec<Action>,
    #[serde(skip)]
    pub name: String,
    /// The type Connect has for a deployed flow (a library flow's is in `flows.json`).
    #[serde(skip)]
    pub kind: Option<FlowType>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Action {
    pub identifier: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default)]
    pub parameters: Value,
    #[serde(default)]
    pub transitions: Transitions,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Transitions {
    pub next_action: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorTransition>,
    #[serde(default)]
    pub conditions: Vec<ConditionTransition>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorTransition {
    pub next_action: String,
    pub error_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConditionTransition {
    pub next_action: String,
    pub condition: Condition,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Condition {
    pub operator: String,
    pub operands: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("cannot read flow {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("flow {path} is not valid flow-language JSON: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("flow {flow}: {problem}")]
    Invalid { flow: String, problem: String },
    #[error("flow {flow}, action {action}: {kind} is not an action type of the flow language")]
    Unsupported { flow: String, action: String, kind: String },
    #[error("flow {flow}, action {action}: {problem}")]
    Action { flow: String, action: String, problem: String },
    #[error(
        "the call did not end within {0} actions (a loop without an exit? a customer queue flow loops until the customer leaves after some messages)"
    )]
    TooManySteps(usize),
    #[error("flow {flow}, action {action}: {{{{param:{key}}}}} has no value: pass it as a call parameter or declare a default for {flow} in flows.json")]
    MissingParameter { flow: String, action: String, key: String },
}

impl Flow {
    pub fn action(&self, identifier: &str) -> Result<&Action, FlowError> {
        self.actions.iter().find(|a| a.identifier == identifier).ok_or_else(|| FlowError::Invalid {
            flow: self.name.clone(),
            problem: format!("no action with identifier {identifier}"),
        })
    }

    /// Structural checks: version, unique ids, every transition target exists.
    pub fn validate(&self) -> Result<(), FlowError> {
        let invalid = |problem: String| FlowError::Invalid { flow: self.name.clone(), problem };
        if self.version != "2019-10-30" {
            return Err(invalid(format!("Version is {:?}, expected \"2019-10-30\"", self.version)));
        }
        let ids: HashMap<&str, usize> =
            self.actions.iter().enumerate().map(|(i, a)| (a.identifier.as_str(), i)).collect();
        if ids.len() != self.actions.len() {
            return Err(invalid("two actions share an identifier".into()));
        }
        if !ids.contains_key(self.start_action.as_str()) {
            return Err(invalid(format!("StartAction {} does not exist", self.start_action)));
        }
        for action in &self.actions {
            let t = &action.transitions;
            let targets = t
                .next_action
                .iter()
                .chain(t.errors.iter().map(|e| &e.next_action))
                .chain(t.conditions.iter().map(|c| &c.next_action));
            for target in targets {
                if !ids.contains_key(target.as_str()) {
                    return Err(invalid(format!(
                        "action {} goes to {target}, which does not exist",
                        action.identifier
                    )));
                }
            }
        }
        Ok(())
    }

    /// Every placeholder in the actions' parameters. A placeholder must be a whole string value: one
    /// inside a longer string is an error (the deployment's `EMBEDDED_PLACEHOLDER`).
    pub fn placeholders(&self) -> Result<Vec<Placeholder>, FlowError> {
        let mut found = Vec::new();
        for action in &self.actions {
            let mut embedded = None;
            visit_strings(&action.parameters, &mut |text| match Placeholder::parse(text) {
                Some(placeholder) => found.push(placeholder),
                None if text.contains("{{") => embedded = Some(text.to_owned()),
                None => {}
            });
            if let Some(text) = embedded {
                return Err(FlowError::Action {
                    flow: self.name.clone(),
                    action: action.identifier.clone(),
                    problem: format!("a placeholder must be the whole value, not part of {text:?}"),
                });
            }
        }
        Ok(found)
    }
}

/// An action type of the flow-language reference, as `action_types.json` catalogues it.
#[derive(Debug, Clone, Deserialize)]
pub struct ActionType {
    #[serde(rename = "type")]
    pub kind: String,
    /// The error types the reference documents for it.
    #[serde(default)]
    pub errors: Vec<String>,
}

/// Every action type of the flow-language reference (`action_types.json`, with the page each comes
/// from). A flow with any other type is not a valid flow; a type here that the runner does not
/// model takes its error branch (see `docs/flow-actions.md`).
pub fn action_types() -> &'static [ActionType] {
    static TYPES: std::sync::OnceLock<Vec<ActionType>> = std::sync::OnceLock::new();
    // The file is the crate's own, checked by a unit test; an unreadable one is an empty catalogue.
    TYPES.get_or_init(|| serde_json::from_str(include_str!("action_types.json")).unwrap_or_default())
}

/// The catalogued action type `kind`, if the flow language has it.
pub fn action_type(kind: &str) -> Option<&'static ActionType> {
    action_types().iter().find(|t| t.kind == kind)
}

/// The action types the runner models (plays as Connect would); every other catalogued type takes
/// its error branch.
pub const MODELLED_ACTIONS: &[&str] = &[
    "MessageParticipant",
    "MessageParticipantIteratively",
    "GetParticipantInput",
    "ConnectParticipantWithLexBot",
    "InvokeLambdaFunction",
    "Compare",
    "Loop",
    "Wait",
    "DistributeByPercentage",
    "CheckHoursOfOperation",
    "CheckMetricData",
    "GetMetricData",
    "UpdateContactAttributes",
    "UpdateFlowAttributes",
    "TransferToFlow",
    "UpdateContactTargetQueue",
    "TransferContactToQueue",
    "TransferContactToAgent",
    "TransferParticipantToThirdParty",
    "UpdateContactRoutingBehavior",
    "UpdateContactEventHooks",
    "DisconnectParticipant",
    "EndFlowExecution",
    "EndFlowModuleExecution",
    "InvokeFlowModule",
    "UpdateFlowLoggingBehavior",
    "UpdateContactRecordingBehavior",
    "UpdateContactRecordingAndAnalyticsBehavior",
    "UpdateContactMediaStreamingBehavior",
    "UpdateContactTextToSpeechVoice",
    "UpdateContactData",
    "TagContact",
    "CompleteOutboundCall",
];

/// `{{kind:name}}`: a value the deployment (or the runner, locally) fills in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// `lambda`, `flow`, `queue`, `prompt` or `param`.
    pub kind: String,
    pub name: String,
}

impl Placeholder {
    /// `text` when it is exactly one placeholder.
    pub fn parse(text: &str) -> Option<Self> {
        let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
        let (kind, name) = inner.split_once(':')?;
        let well_formed = |part: &str| !part.is_empty() && !part.contains(['{', '}', ':']);
        (well_formed(kind) && well_formed(name)).then(|| Self { kind: kind.to_owned(), name: name.to_owned() })
    }
}

/// `{{kind:name}}` → `name`.
pub(super) fn placeholder(value: &str, kind: &str) -> Option<String> {
    Placeholder::parse(value.trim()).filter(|p| p.kind == kind).map(|p| p.name)
}

fn visit_strings(value: &Value, visit: &mut impl FnMut(&str)) {
    match value {
        Value::String(text) => visit(text),
        Value::Array(items) => items.iter().for_each(|item| visit_strings(item, visit)),
        Value::Object(fields) => fields.values().for_each(|field| visit_strings(field, visit)),
        _ => {}
    }
}

/// `contact-flows/flows.json`: what the deployment needs to know about a flow beyond its content.
/// Keyed by `<context>/<Name>`; a flow without an entry is a `CONTACT_FLOW` without parameters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct FlowManifest {
    pub flows: BTreeMap<String, FlowEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowEntry {
    #[serde(rename = "type")]
    pub kind: FlowType,
    pub description: String,
    /// `{{param:<key>}}` defaults, used when the caller (or the deployment) gives no value.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

/// Connect's `ContactFlowType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlowType {
    ContactFlow,
    CustomerQueue,
    CustomerHold,
    CustomerWhisper,
    AgentHold,
    AgentWhisper,
    OutboundWhisper,
    AgentTransfer,
    QueueTransfer,
    /// A flow module (`InvokeFlowModule`), deployed as a module rather than a flow.
    Module,
}

impl FlowManifest {
    /// The default of `{{param:<key>}}` in `flow`.
    pub fn parameter_default(&self, flow: &str, key: &str) -> Option<&str> {
        self.flows.get(flow)?.parameters.get(key).map(String::as_str)
    }
}

/// The flows of a repository: `<root>/<context>/<Name>.json`, named `<context>/<Name>`.
#[derive(Debug, Clone)]
pub struct FlowLibrary {
    pub root: PathBuf,
}

impl FlowLibrary {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The repository's `contact-flows/`.
    pub fn repository() -> Self {
        Self::new(crate::repo_root().join("contact-flows"))
    }

    pub fn load(&self, name: &str) -> Result<Flow, FlowError> {
        let path = self.root.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path)
            .map_err(|source| FlowError::Read { path: path.display().to_string(), source })?;
        let mut flow: Flow = serde_json::from_str(&text)
            .map_err(|source| FlowError::Parse { path: path.display().to_string(), source })?;
        flow.name = name.to_owned();
        flow.validate()?;
        flow.placeholders()?;
        Ok(flow)
    }

    /// `<root>/flows.json`; none is an empty manifest.
    pub fn manifest(&self) -> Result<FlowManifest, FlowError> {
        let path = self.root.join("flows.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(FlowManifest::default()),
            Err(source) => return Err(FlowError::Read { path: path.display().to_string(), source }),
        };
        serde_json::from_str(&text).map_err(|source| FlowError::Parse { path: path.display().to_string(), source })
    }

    /// Everything that would stop a flow of the library from running locally or deploying: a flow
    /// that does not load, an action the runner does not support, an embedded placeholder, a
    /// `{{param:…}}` without a default in `flows.json`, a `{{flow:…}}` naming no flow of its
    /// context, a `flows.json` entry naming no flow.
    pub fn problems(&self) -> Result<Vec<String>, FlowError> {
        let manifest = self.manifest()?;
        let names = self.names()?;
        let mut problems: Vec<String> = manifest
            .flows
            .keys()
            .filter(|name| !names.contains(name))
            .map(|name| format!("flows.json names {name}, which is not a flow of the library"))
            .collect();
        for name in &names {
            let flow = match self.load(name) {
                Ok(flow) => flow,
                Err(error) => {
                    problems.push(error.to_string());
                    continue;
                }
            };
            for action in &flow.actions {
                if action_type(&action.kind).is_none() {
                    problems.push(format!(
                        "{name}, action {}: {} is not an action type of the flow language",
                        action.identifier, action.kind
                    ));
                }
            }
            let placeholders = match flow.placeholders() {
                Ok(placeholders) => placeholders,
                Err(error) => {
                    problems.push(error.to_string());
                    continue;
                }
            };
            let context = name.split_once('/').map_or("", |(context, _)| context);
            for placeholder in placeholders {
                match placeholder.kind.as_str() {
                    "param" if manifest.parameter_default(name, &placeholder.name).is_none() => problems
                        .push(format!("{name}: {{{{param:{}}}}} has no default in flows.json", placeholder.name)),
                    "flow" if !names.contains(&format!("{context}/{}", placeholder.name)) => {
                        problems.push(format!("{name}: {{{{flow:{}}}}} names no flow in {context}/", placeholder.name))
                    }
                    "module"
                        if manifest.flows.get(&format!("{context}/{}", placeholder.name)).map(|e| e.kind)
                            != Some(FlowType::Module) =>
                    {
                        problems.push(format!(
                            "{name}: {{{{module:{}}}}} names no module in {context}/ (flows.json type MODULE)",
                            placeholder.name
                        ))
                    }
                    _ => {}
                }
            }
        }
        Ok(problems)
    }

    /// Every flow name in the library.
    pub fn names(&self) -> Result<Vec<String>, FlowError> {
        let mut names = Vec::new();
        let read = |dir: &Path| {
            std::fs::read_dir(dir).map_err(|source| FlowError::Read { path: dir.display().to_string(), source })
        };
        for context in read(&self.root)?.filter_map(Result::ok) {
            if !context.path().is_dir() {
                continue;
            }
            for file in read(&context.path())?.filter_map(Result::ok) {
                let path = file.path();
                if path.extension().is_some_and(|e| e == "json") {
                    if let (Some(ctx), Some(stem)) =
                        (context.file_name().to_str(), path.file_stem().and_then(|s| s.to_str()))
                    {
                        names.push(format!("{ctx}/{stem}"));
                    }
                }
            }
        }
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(placeholder("{{lambda:one-time-pin}}", "lambda").as_deref(), Some("one-time-pin"));
        assert_eq!(placeholder("{{flow:Emergency_Update}}", "lambda"), None);
        assert_eq!(placeholder("arn:aws:lambda:x", "lambda"), None);
    }
}
