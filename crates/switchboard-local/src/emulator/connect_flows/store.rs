//! The instance's flows, associated Lambda functions and bots, in memory, as the flow-deployment
//! operations read and write them.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{fixture::Fixture, instance::local_id};

/// The flow language version every flow declares.
pub(super) const FLOW_LANGUAGE_VERSION: &str = "2019-10-30";

/// A flow of the instance, as [`EmulatorHandle::contact_flows`](crate::emulator::EmulatorHandle::contact_flows) and
/// `GET /_local/contact-flows` list it: what the service stores, content verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalContactFlow {
    pub id: String,
    pub arn: String,
    pub name: String,
    /// The `ContactFlowType`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `ACTIVE` or `ARCHIVED`.
    pub state: String,
    /// `PUBLISHED` or `SAVED`.
    pub status: String,
    #[serde(default)]
    pub description: Option<String>,
    pub content: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// 1 when created, one more per content update.
    pub version: u64,
    /// Epoch seconds.
    pub last_modified_time: f64,
}

/// A bot associated with the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Bot {
    V1 { name: String, region: String },
    V2 { alias_arn: String },
}

impl Bot {
    pub(super) fn config(&self) -> Value {
        match self {
            Bot::V1 { name, region } => json!({"LexBot": {"Name": name, "LexRegion": region}}),
            Bot::V2 { alias_arn } => json!({"LexV2Bot": {"AliasArn": alias_arn}}),
        }
    }

    pub(super) fn lex_version(&self) -> &'static str {
        match self {
            Bot::V1 { .. } => "V1",
            Bot::V2 { .. } => "V2",
        }
    }
}

/// The instance's flows (in creation order), associated Lambda functions and bots.
pub(in crate::emulator) struct FlowStore {
    pub(super) flows: Vec<LocalContactFlow>,
    pub(super) lambda_functions: Vec<String>,
    pub(super) bots: Vec<Bot>,
    /// Successful writes, so tests can tell a no-op deployment from one that changed something.
    pub(super) writes: usize,
    /// `ClientToken`s of association calls that succeeded: a retry answers success again.
    pub(super) client_tokens: HashSet<String>,
    /// When the fixture's queues and prompts were "last modified".
    pub(super) started_at: f64,
    /// The claimed numbers (template.yaml's, by their local id) and the id of the flow each starts.
    pub(super) phone_numbers: BTreeMap<String, PhoneNumber>,
}

/// A number claimed to the instance.
#[derive(Debug, Clone)]
pub(super) struct PhoneNumber {
    /// E.164.
    pub(super) number: String,
    pub(super) flow_id: Option<String>,
}

impl FlowStore {
    /// The fixture's flows (each with a minimal valid content, as if imported by hand), Lambda
    /// functions and bots.
    pub(in crate::emulator) fn seed(fixture: &Fixture) -> FlowStore {
        let now = now();
        let instance_arn = fixture.instance_arn();
        let flows = fixture
            .connect
            .contact_flows
            .iter()
            .map(|(name, flow)| {
                let action = uuid::Uuid::new_v4().to_string();
                let content = json!({
                    "Version": FLOW_LANGUAGE_VERSION,
                    "StartAction": action,
                    "Actions": [{
                        "Identifier": action,
                        "Type": "DisconnectParticipant",
                        "Parameters": {},
                        "Transitions": {},
                    }],
                });
                LocalContactFlow {
                    id: flow.id.clone(),
                    arn: format!("{instance_arn}/contact-flow/{}", flow.id),
                    name: name.clone(),
                    kind: flow.kind.clone(),
                    state: "ACTIVE".into(),
                    status: "PUBLISHED".into(),
                    description: None,
                    content: content.to_string(),
                    tags: BTreeMap::new(),
                    version: 1,
                    last_modified_time: now,
                }
            })
            .collect::<Vec<_>>();
        // The modules template.yaml declares, as CloudFormation leaves them on the instance.
        let declared_modules = fixture.connect.declared.modules.iter().map(|(name, content)| {
            let id = local_id("flow-module", name);
            LocalContactFlow {
                arn: format!("{instance_arn}/flow-module/{id}"),
                id,
                name: name.clone(),
                kind: super::modules::MODULE.into(),
                state: "ACTIVE".into(),
                status: "PUBLISHED".into(),
                description: None,
                content: content.clone(),
                tags: BTreeMap::new(),
                version: 1,
                last_modified_time: now,
            }
        });
        let flows = flows.into_iter().chain(declared_modules).collect();
        let bots = fixture.connect.bots.iter().map(|alias_arn| Bot::V2 { alias_arn: alias_arn.clone() }).collect();
        let phone_numbers = fixture
            .connect
            .declared
            .phone_numbers
            .keys()
            .map(|number| (local_id("phone-number", number), PhoneNumber { number: number.clone(), flow_id: None }))
            .collect();
        FlowStore {
            flows,
            lambda_functions: fixture.lambda_function_arns(),
            bots,
            writes: 0,
            client_tokens: HashSet::new(),
            started_at: now,
            phone_numbers,
        }
    }

    pub(in crate::emulator) fn list(&self) -> Vec<LocalContactFlow> {
        self.flows.clone()
    }

    pub(in crate::emulator) fn writes(&self) -> usize {
        self.writes
    }

    pub(in crate::emulator) fn lambda_functions(&self) -> Vec<String> {
        self.lambda_functions.clone()
    }

    /// Each claimed number (E.164) with the name of the flow it starts, if any.
    pub(in crate::emulator) fn phone_number_flows(&self) -> BTreeMap<String, Option<String>> {
        let name = |id: &String| self.flows.iter().find(|f| &f.id == id).map(|f| f.name.clone());
        self.phone_numbers.values().map(|p| (p.number.clone(), p.flow_id.as_ref().and_then(name))).collect()
    }

    /// The name of the flow with id `flow_id`, for `StartChatContact`.
    pub(in crate::emulator) fn flow_name(&self, flow_id: &str) -> Option<String> {
        self.flows.iter().find(|f| f.id == flow_id).map(|f| f.name.clone())
    }

    /// A flow by id (what the service takes) or by ARN.
    pub(super) fn find_mut(&mut self, flow_id: &str) -> Option<&mut LocalContactFlow> {
        self.flows.iter_mut().find(|f| f.id == flow_id || f.arn == flow_id)
    }

    /// A flow, not a module, by id or ARN: what the contact-flow operations find (a module's id is
    /// not a flow's to Connect).
    pub(super) fn find_flow_mut(&mut self, flow_id: &str) -> Option<&mut LocalContactFlow> {
        self.find_mut(flow_id).filter(|f| f.kind != super::modules::MODULE)
    }

    /// A module by id or ARN: what the flow-module operations find.
    pub(super) fn find_module_mut(&mut self, module_id: &str) -> Option<&mut LocalContactFlow> {
        self.find_mut(module_id).filter(|f| f.kind == super::modules::MODULE)
    }

    pub(super) fn name_taken(&self, name: &str, except_id: Option<&str>) -> bool {
        self.flows.iter().any(|f| f.name == name && Some(f.id.as_str()) != except_id)
    }

    /// Whether another module has `name` (a module's name is checked against modules only).
    pub(super) fn module_name_taken(&self, name: &str, except_id: Option<&str>) -> bool {
        self.flows
            .iter()
            .any(|f| f.kind == super::modules::MODULE && f.name == name && Some(f.id.as_str()) != except_id)
    }
}

pub(super) fn now() -> f64 {
    // Milliseconds, as the service's timestamps carry.
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    millis as f64 / 1000.0
}
