//! The flow language, as far as the runner reads it.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Flow {
    pub version: String,
    pub start_action: String,
    pub actions: Vec<Action>,
    #[serde(skip)]
    pub name: String,
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
    #[error("flow {flow}, action {action}: action type {kind} is not supported by the local runner")]
    Unsupported { flow: String, action: String, kind: String },
    #[error("flow {flow}, action {action}: {problem}")]
    Action { flow: String, action: String, problem: String },
    #[error("the call did not end within {0} actions (a loop without an exit?)")]
    TooManySteps(usize),
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
        Ok(flow)
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
