//! `provision-flows` (custom resource `ContactFlows`, or a direct invoke): deploys the bundle's flows
//! into the instance with every placeholder resolved to that instance's ARNs, after a plan.
//!
//! 1. Parse the bundle (`INVALID_JSON`, `DUPLICATE_NAME`); take the instance lock (`LOCK#`, leased
//!    until the invocation's own deadline, so a run killed half-way cannot wedge the next one for
//!    longer than the function could have run).
//! 2. Inventory, every page: flows, standard queues, prompts, associated Lambdas; describe the
//!    flows the bundle names; the flows this stack manages (`FLOW#`).
//! 3. Resolve ([`super::bundle::resolve`]); any problem → `INVALID`, nothing written.
//! 4. Classify by canonical JSON: `CREATE`, `UPDATE`, `UNCHANGED`, `ADOPT` (same name and type, not
//!    ours: a hand import), `DRIFTED` (ours, edited on the instance since we wrote it: its content no
//!    longer hashes to `appliedHash`), `CONFLICT` (another type, or another stack's), and `ORPHAN`.
//! 5. `plan` stops there. `apply` writes nothing on a conflict, or on drift with `onDrift=fail`;
//!    else creates flows targets first (a flow in a reference cycle is created as a one-action stub
//!    so the others have its ARN, then gets its content), updates, tags adoptions, and archives
//!    orphans only when asked (never renames or deletes them). Writes are paced and the Connect
//!    client retries adaptively: Connect's flow APIs throttle at a few calls a second.
//! 6. Each written flow's `FLOW#` item is stored right after its write, so a run stopped half-way
//!    (throttled out, rejected) leaves the table true to the instance; then the apply record
//!    (`APPLY#`, 180 days) and the resource map (`MAP#`, read by `flow-resource-map`); the lock is
//!    released whatever happened. A run stops itself a few seconds before the invocation's time is
//!    up (before the custom-resource edge would cut it off), releases the lock and says so: a
//!    rollback's Update that follows finds the instance free.
//!
//! The custom resource waits up to a minute for the lock and always overwrites drift (a rollback
//! re-applies the previous bundle and must not wedge); Delete leaves the flows in place (routing must
//! outlive a stack). Settings a template parameter gives (`FLOW_PARAMETERS`) are parsed per request,
//! never at cold start: a value the template accepted but we cannot read is a `FAILED` answer naming
//! it, not a function that never answers.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use aws_config::SdkConfig;
use aws_sdk_connect::{
    error::SdkError,
    operation::{
        create_contact_flow::CreateContactFlowError, update_contact_flow_content::UpdateContactFlowContentError,
    },
    types::{ContactFlowState, ContactFlowType, LexVersion, QueueType},
};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bundle::{self, ActionDiff, BundleFlow, Placeholder, Problem, ReferenceContext, Resolution};
use crate::{
    config::{ConfigError, Settings},
    custom_resource::{Envelopes, Outcome, Request, ResourceFault},
    store::{self, StoreError},
    time::{rfc3339, Clock, SystemClock},
};

/// When a run given `budget` from now stops itself: [`RELEASE_MARGIN`] before its end (a quarter of
/// a short budget), leaving the lock's release its time.
fn stop_at(budget: Duration) -> tokio::time::Instant {
    tokio::time::Instant::now() + budget.saturating_sub(RELEASE_MARGIN.min(budget / 4))
}

/// How long the custom resource waits for another run's lock.
pub const CUSTOM_RESOURCE_LOCK_WAIT: Duration = Duration::from_secs(60);
/// Kept back from a run's time for releasing the lock (one conditional delete, with its retries)
/// after the run stops itself.
const RELEASE_MARGIN: Duration = Duration::from_secs(5);
const LOCK_POLL: Duration = Duration::from_secs(1);
const APPLY_RECORD_DAYS: i64 = 180;
/// The tags a created or adopted flow carries.
pub const STACK_TAG: &str = "switchboard:stack";
pub const SOURCE_TAG: &str = "switchboard:source";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Plan,
    Apply,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDrift {
    #[default]
    Fail,
    Overwrite,
}

/// A direct invoke: `{"mode", "flows"?, "onDrift"?, "archiveOrphans"?}`; without `flows`, the bundle.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectRequest {
    pub mode: Mode,
    /// An undeployed working tree: path → file content.
    #[serde(default)]
    pub flows: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub on_drift: OnDrift,
    #[serde(default)]
    pub archive_orphans: bool,
}

/// The `ContactFlows` resource's properties (template.yaml).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContactFlowsProperties {
    pub instance_id: String,
    /// The `ContactFlowsBundle` layer version: its change is what makes an Update.
    pub bundle: String,
    /// Kebab function name → ARN: the stack's functions the flows name.
    #[serde(default)]
    pub functions: BTreeMap<String, String>,
    /// `apply`, `plan` or `off` (parameter `FlowDeployment`).
    #[serde(default = "apply_mode")]
    pub mode: String,
    /// `key=value,…` for `{{param:<key>}}` (parameter `FlowParameters`); overrides the function's.
    #[serde(default)]
    pub flow_parameters: Option<String>,
    /// Prepended to every flow name (parameter `FlowNamePrefix`); overrides the function's.
    #[serde(default)]
    pub name_prefix: Option<String>,
}

fn apply_mode() -> String {
    "apply".into()
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunResult {
    Planned,
    Applied,
    NoChanges,
    Invalid,
    Conflict,
    Drift,
    Locked,
    Rejected,
}

impl RunResult {
    /// The code as serialised (the report's `result`, the custom resource's `Result`, the record's).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "PLANNED",
            Self::Applied => "APPLIED",
            Self::NoChanges => "NO_CHANGES",
            Self::Invalid => "INVALID",
            Self::Conflict => "CONFLICT",
            Self::Drift => "DRIFT",
            Self::Locked => "LOCKED",
            Self::Rejected => "REJECTED",
        }
    }
}

/// What a run found or did to one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlowAction {
    Create,
    Update,
    Unchanged,
    Adopt,
    Drifted,
    Conflict,
    /// Its file could not be read as a flow: nothing else is known of it.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowReport {
    /// The Connect name (prefix + stem).
    pub name: String,
    pub source: String,
    pub action: FlowAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<ActionDiff>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// Whether this run wrote it (a `REJECTED` run lists what it wrote before the refusal).
    pub written: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrphanReport {
    pub name: String,
    pub arn: String,
    pub archived: bool,
}

/// The run's answer (a direct invoke returns it as is).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub result: RunResult,
    pub flows: Vec<FlowReport>,
    pub orphans: Vec<OrphanReport>,
    /// Problems of the run as a whole (a bundle that does not parse, a request, the lock).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// Connect writes made.
    pub writes: usize,
}

impl Report {
    fn refused(result: RunResult, code: &str, message: String) -> Self {
        Self {
            result,
            flows: Vec::new(),
            orphans: Vec::new(),
            problems: vec![Problem {
                code: code.into(),
                flow: String::new(),
                pointer: None,
                placeholder: None,
                message,
            }],
            writes: 0,
        }
    }

    /// One line naming each problem, for a CloudFormation reason.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.problems.iter().map(describe).collect();
        for flow in &self.flows {
            parts.extend(flow.problems.iter().map(describe));
            if flow.action == FlowAction::Conflict && flow.problems.is_empty() {
                parts.push(format!("{}: CONFLICT", flow.name));
            }
        }
        format!("{}: {}", self.result.as_str(), parts.join("; "))
    }
}

fn describe(problem: &Problem) -> String {
    let place = problem.pointer.as_deref().map(|p| format!(" at {p}")).unwrap_or_default();
    let placeholder = problem.placeholder.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
    let flow = if problem.flow.is_empty() { String::new() } else { format!("{} ", problem.flow) };
    format!("{flow}{}{placeholder}{place}: {}", problem.code, problem.message)
}

/// A fault: a dependency failed (Connect, DynamoDB) or the request is refused.
#[derive(Debug, thiserror::Error)]
pub enum FlowsError {
    #[error("{0}")]
    Dependency(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The custom resource's answer for a run that did not deploy (INVALID, CONFLICT, …).
    #[error("{0}")]
    NotDeployed(String),
    #[error("{0}")]
    Refused(String),
    /// The run stopped itself before the invocation's end; the lock is released.
    #[error("{0}")]
    OutOfTime(String),
}

impl ResourceFault for FlowsError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Dependency(_) | Self::Store(_) => "DependencyError",
            Self::NotDeployed(_) => "NotDeployed",
            Self::Refused(_) => "Refused",
            Self::OutOfTime(_) => "OutOfTime",
        }
    }
}

fn connect_fault<E>(operation: &str, error: SdkError<E, HttpResponse>) -> FlowsError
where
    E: std::error::Error + Send + Sync + 'static,
{
    FlowsError::Dependency(format!("Connect {operation} failed: {}", DisplayErrorContext(&error)))
}

/// Every Lambda function associated with the instance (its ARN), every page.
pub(super) async fn associated_lambdas(
    connect: &aws_sdk_connect::Client,
    instance_id: &str,
) -> Result<Vec<String>, FlowsError> {
    let listed = connect.list_lambda_functions().instance_id(instance_id).into_paginator().items().send();
    listed.try_collect().await.map_err(|e| connect_fault("ListLambdaFunctions", e))
}

/// Every Lex V2 bot alias associated with the instance (its ARN), every page.
pub(super) async fn associated_bot_aliases(
    connect: &aws_sdk_connect::Client,
    instance_id: &str,
) -> Result<Vec<String>, FlowsError> {
    let listed =
        connect.list_bots().instance_id(instance_id).lex_version(LexVersion::V2).into_paginator().items().send();
    let bots: Vec<aws_sdk_connect::types::LexBotConfig> =
        listed.try_collect().await.map_err(|e| connect_fault("ListBots", e))?;
    Ok(bots.into_iter().filter_map(|bot| bot.lex_v2_bot.and_then(|v2| v2.alias_arn)).collect())
}

/// The function's settings, read once at cold start.
#[derive(Debug, Clone)]
pub struct FlowSettings {
    pub table: String,
    pub instance_id: String,
    /// `CONNECT_INSTANCE_ID` when it is the instance's ARN (the template's; locally it is an id).
    pub instance_arn: Option<String>,
    pub name_prefix: String,
    /// `FLOW_FUNCTIONS` as given (`name=arn,…`), read per request: see [`FlowSettings::functions`].
    pub functions: Option<String>,
    /// `FLOW_PARAMETERS` as given (`key=value,…`), read per request: the template passes the
    /// `FlowParameters` parameter here, and a value its pattern lets through but that does not read
    /// (a key twice) must not stop the function from starting.
    pub parameters: Option<String>,
    pub bundle_dir: PathBuf,
    /// The layer version the custom resource accepts as its `Bundle` (none: any).
    pub bundle_layer: Option<String>,
    pub stack: String,
    pub write_pause: Duration,
}

impl FlowSettings {
    pub fn from_env(settings: &Settings) -> Result<Self, ConfigError> {
        let instance = settings.string("CONNECT_INSTANCE_ID")?;
        Ok(Self {
            table: settings.string("FLOWS_TABLE")?,
            instance_id: instance_id(&instance),
            instance_arn: instance.starts_with("arn:").then(|| instance.clone()),
            name_prefix: settings.optional_string("FLOW_NAME_PREFIX")?.unwrap_or_default(),
            functions: settings.optional_string("FLOW_FUNCTIONS")?,
            parameters: settings.optional_string("FLOW_PARAMETERS")?,
            bundle_dir: PathBuf::from(settings.optional_string("FLOW_BUNDLE_DIR")?.unwrap_or_else(|| "/opt".into())),
            bundle_layer: settings.optional_string("FLOW_BUNDLE_LAYER")?,
            stack: settings.optional_string("STACK_NAME")?.unwrap_or_else(|| "switchboard".into()),
            write_pause: Duration::from_millis(settings.number("FLOW_WRITE_PAUSE_MS", 250, 0..=10_000)?),
        })
    }

    /// `FLOW_FUNCTIONS`, parsed; the error names the variable.
    pub fn functions(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        key_values("FLOW_FUNCTIONS", self.functions.as_deref())
    }

    /// `FLOW_PARAMETERS`, parsed; the error names the variable.
    pub fn parameters(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        key_values("FLOW_PARAMETERS", self.parameters.as_deref())
    }
}

/// The instance id from an id or an instance ARN.
pub fn instance_id(value: &str) -> String {
    value.rsplit_once("instance/").map_or(value, |(_, id)| id).to_owned()
}

/// `key=value,key=value` (blank: none); a key twice or an item without `=` names the variable.
pub fn key_values(name: &str, raw: Option<&str>) -> Result<BTreeMap<String, String>, ConfigError> {
    let malformed = |reason: String| ConfigError::Malformed { name: name.into(), reason };
    let mut map = BTreeMap::new();
    for item in raw.unwrap_or_default().split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = item.split_once('=').ok_or_else(|| malformed(format!("{item:?} is not key=value")))?;
        if map.insert(key.trim().to_owned(), value.trim().to_owned()).is_some() {
            return Err(malformed(format!("{} is given twice", key.trim())));
        }
    }
    Ok(map)
}

/// One run's inputs.
#[derive(Debug, Clone)]
pub struct Run {
    pub mode: Mode,
    pub files: BTreeMap<String, String>,
    pub on_drift: OnDrift,
    pub archive_orphans: bool,
    pub lock_wait: Duration,
    pub prefix: String,
    pub functions: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    /// `direct` or `custom-resource:<RequestType>`, for the apply record.
    pub trigger: String,
    pub request_id: String,
    /// The invocation's deadline (epoch milliseconds): the lock's lease ends there.
    pub deadline_epoch_ms: u64,
    /// When the run stops itself (writes cut short, the lock released): inside the invocation, with
    /// time left to release the lock and answer.
    pub stop_at: tokio::time::Instant,
}

pub struct ProvisionFlows {
    connect: aws_sdk_connect::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    settings: FlowSettings,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Clone)]
struct InstanceFlow {
    id: String,
    arn: String,
    kind: String,
    state: String,
}

#[derive(Debug, Default)]
struct Inventory {
    flows: BTreeMap<String, InstanceFlow>,
    queues: BTreeMap<String, String>,
    prompts: BTreeMap<String, String>,
    lambdas: BTreeSet<String>,
    /// Lex V2 bot alias ARNs associated with the instance.
    bots: BTreeSet<String>,
    /// `arn:…:instance/<id>`, from the setting or the ARNs listed (the setting may be a bare id).
    instance_arn: Option<String>,
}

impl Inventory {
    /// The resource map an apply stores (`MAP#`, what `flow-resource-map` answers), by the names
    /// flows read as `$.External.<Name>`: standard queues, prompts, the instance's flows, the
    /// associated Lambda functions (by function name) and the stack's (by their kebab name), the Lex
    /// V2 bot aliases a parameter names (`FlowParameters` key, or a `flows.json` default) that the
    /// instance has associated, and the bundle's flows by the name the flows use: the stem, without
    /// `FlowNamePrefix` (they win over an instance flow of that name). `None`: a bundle flow not
    /// created yet.
    fn resource_map(&self, run: &Run, bundle: &[(&BundleFlow, Option<&String>)]) -> BTreeMap<String, Option<String>> {
        let mut entries: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut add = |name: &str, arn: Option<&String>| {
            entries.insert(name.to_owned(), arn.cloned());
        };
        self.queues.iter().for_each(|(name, arn)| add(name, Some(arn)));
        self.prompts.iter().for_each(|(name, arn)| add(name, Some(arn)));
        self.flows.iter().for_each(|(name, flow)| add(name, Some(&flow.arn)));
        for arn in &self.lambdas {
            if let Some(name) = arn.split(":function:").nth(1).and_then(|rest| rest.split(':').next()) {
                add(name, Some(arn));
            }
        }
        run.functions
            .iter()
            .filter(|(_, arn)| self.lambdas.contains(*arn))
            .for_each(|(name, arn)| add(name, Some(arn)));
        for (name, arn) in bot_parameters(run, bundle.iter().map(|(flow, _)| *flow)) {
            if self.bots.contains(&arn) {
                add(&name, Some(&arn));
            }
        }
        bundle.iter().for_each(|(flow, arn)| add(&flow.stem, *arn));
        entries
    }
}

/// The parameters (`FlowParameters`, over the bundle's `flows.json` defaults) whose value is a Lex V2
/// bot alias ARN: the names the workshop's flows read bots by.
fn bot_parameters<'a>(run: &Run, flows: impl Iterator<Item = &'a BundleFlow>) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for flow in flows {
        values.extend(flow.parameter_defaults.clone());
    }
    values.extend(run.parameters.clone());
    values
        .into_iter()
        .filter(|(_, value)| {
            bundle::Arn::parse(value).is_some_and(|arn| arn.service == "lex" && arn.resource.starts_with("bot-alias/"))
        })
        .collect()
}

/// A managed flow's `FLOW#` item.
#[derive(Debug, Clone)]
struct Managed {
    arn: String,
    applied_hash: String,
}

/// A bundle flow with what the plan found.
struct Planned {
    flow: BundleFlow,
    name: String,
    action: FlowAction,
    existing: Option<(InstanceFlow, Value, BTreeMap<String, String>)>,
    desired: Value,
    pending: BTreeSet<String>,
    diff: Option<ActionDiff>,
    problems: Vec<Problem>,
    written: bool,
    arn: Option<String>,
}

impl Planned {
    fn needs_write(&self, on_drift: OnDrift) -> bool {
        match self.action {
            FlowAction::Create | FlowAction::Update | FlowAction::Adopt => true,
            FlowAction::Drifted => on_drift == OnDrift::Overwrite,
            FlowAction::Unchanged | FlowAction::Conflict | FlowAction::Invalid => false,
        }
    }

    fn report(&self) -> FlowReport {
        FlowReport {
            name: self.name.clone(),
            source: self.flow.source.clone(),
            action: self.action,
            arn: self.arn.clone(),
            diff: self.diff.clone(),
            problems: self.problems.clone(),
            written: self.written,
        }
    }
}

/// Why writing stopped early.
enum Stop {
    Rejected(Vec<Problem>),
    Fault(FlowsError),
}

impl ProvisionFlows {
    pub fn new(
        connect: aws_sdk_connect::Client,
        dynamodb: aws_sdk_dynamodb::Client,
        settings: FlowSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { connect, dynamodb, settings, clock }
    }

    /// The Connect client retries adaptively (client-side rate limiting once throttled).
    pub fn from_env(sdk: &SdkConfig, settings: &Settings) -> Result<Self, ConfigError> {
        let connect = aws_sdk_connect::config::Builder::from(sdk)
            .retry_config(aws_config::retry::RetryConfig::adaptive().with_max_attempts(6))
            .build();
        Ok(Self::new(
            aws_sdk_connect::Client::from_conf(connect),
            aws_sdk_dynamodb::Client::new(sdk),
            FlowSettings::from_env(settings)?,
            Arc::new(SystemClock),
        ))
    }

    pub fn settings(&self) -> &FlowSettings {
        &self.settings
    }

    /// A direct invoke, due by `deadline_epoch_ms`. A request that does not parse, or a setting that
    /// does not, is an `INVALID` report naming the field or the variable.
    pub async fn direct(&self, event: Value, request_id: &str, deadline_epoch_ms: u64) -> Result<Report, FlowsError> {
        let request: DirectRequest = match serde_path_to_error::deserialize(event) {
            Ok(request) => request,
            Err(e) => {
                let message = format!("{}: {}", e.path(), e.inner());
                return Ok(Report::refused(RunResult::Invalid, "INVALID_REQUEST", message));
            }
        };
        let (functions, parameters) = match (self.settings.functions(), self.settings.parameters()) {
            (Ok(functions), Ok(parameters)) => (functions, parameters),
            (Err(e), _) | (_, Err(e)) => {
                return Ok(Report::refused(RunResult::Invalid, "INVALID_CONFIGURATION", e.to_string()))
            }
        };
        let files = match request.flows {
            Some(files) => files,
            None => match bundle::read_dir(&self.settings.bundle_dir) {
                Ok(files) => files,
                Err(e) => return Ok(Report::refused(RunResult::Invalid, e.code(), e.to_string())),
            },
        };
        let left = crate::deadline::until_epoch_ms(deadline_epoch_ms);
        self.run(Run {
            mode: request.mode,
            files,
            on_drift: request.on_drift,
            archive_orphans: request.archive_orphans,
            lock_wait: Duration::ZERO,
            prefix: self.settings.name_prefix.clone(),
            functions,
            parameters,
            trigger: "direct".into(),
            request_id: request_id.to_owned(),
            deadline_epoch_ms,
            stop_at: stop_at(left),
        })
        .await
    }

    /// The `ContactFlows` custom resource, in an invocation due by `deadline_epoch_ms`.
    pub async fn custom_resource(
        &self,
        request: Request<ContactFlowsProperties>,
        envelopes: Envelopes,
        deadline_epoch_ms: u64,
    ) -> Result<Outcome, FlowsError> {
        let physical_resource_id = format!("contact-flows-{}", self.settings.instance_id);
        let properties = match &request {
            // Routing must outlive the stack: the flows stay.
            Request::Delete { physical_resource_id, .. } => {
                tracing::info!("delete leaves the flows in place");
                return Ok(Outcome { physical_resource_id: physical_resource_id.clone(), data: BTreeMap::new() });
            }
            Request::Create { properties } | Request::Update { properties, .. } => properties,
        };
        if instance_id(&properties.instance_id) != self.settings.instance_id {
            return Err(FlowsError::Refused(format!(
                "InstanceId {} is not the instance this function deploys to",
                properties.instance_id
            )));
        }
        if let Some(layer) = &self.settings.bundle_layer {
            if &properties.bundle != layer {
                return Err(FlowsError::Refused(format!(
                    "Bundle {} is not the function's attached ContactFlowsBundle layer",
                    properties.bundle
                )));
            }
        }
        let mode = match properties.mode.as_str() {
            "off" => {
                return Ok(Outcome { physical_resource_id, data: BTreeMap::from([("Result".into(), "OFF".into())]) })
            }
            "plan" => Mode::Plan,
            "apply" => Mode::Apply,
            other => return Err(FlowsError::Refused(format!("Mode {other:?} is not apply, plan or off"))),
        };
        let refused = |e: ConfigError| FlowsError::Refused(e.to_string());
        let parameters = match &properties.flow_parameters {
            Some(raw) => key_values("FlowParameters", Some(raw)).map_err(refused)?,
            None => self.settings.parameters().map_err(refused)?,
        };
        let mut functions = self.settings.functions().map_err(refused)?;
        functions.extend(properties.functions.clone());
        // Inside the edge's own limit, so the run releases the lock before the edge answers.
        let budget = crate::custom_resource::handler_budget(deadline_epoch_ms);
        let files = bundle::read_dir(&self.settings.bundle_dir).map_err(|e| FlowsError::Refused(e.to_string()))?;
        let report = self
            .run(Run {
                mode,
                files,
                on_drift: OnDrift::Overwrite,
                archive_orphans: false,
                lock_wait: CUSTOM_RESOURCE_LOCK_WAIT,
                prefix: properties.name_prefix.clone().unwrap_or_else(|| self.settings.name_prefix.clone()),
                functions,
                parameters,
                trigger: format!("custom-resource:{}", request.kind()),
                request_id: envelopes.request_id.clone(),
                deadline_epoch_ms,
                stop_at: stop_at(budget),
            })
            .await?;
        if !matches!(report.result, RunResult::Planned | RunResult::Applied | RunResult::NoChanges) {
            return Err(FlowsError::NotDeployed(report.summary()));
        }
        let count = |action: FlowAction| report.flows.iter().filter(|f| f.action == action).count().to_string();
        let mut data = BTreeMap::from([
            ("Result".to_owned(), report.result.as_str().to_owned()),
            ("Created".to_owned(), count(FlowAction::Create)),
            ("Updated".to_owned(), count(FlowAction::Update)),
            ("Adopted".to_owned(), count(FlowAction::Adopt)),
            ("Unchanged".to_owned(), count(FlowAction::Unchanged)),
            ("Overwritten".to_owned(), count(FlowAction::Drifted)),
        ]);
        for flow in &report.flows {
            if let (Some(arn), Some(stem)) = (&flow.arn, flow.source.rsplit('/').next()) {
                data.insert(format!("{stem}Arn"), arn.clone());
            }
        }
        Ok(Outcome { physical_resource_id, data })
    }

    /// Plans, and applies when asked, under the instance lock.
    pub async fn run(&self, run: Run) -> Result<Report, FlowsError> {
        let bundle = match bundle::parse(&run.files) {
            Ok(bundle) => bundle,
            Err(e) => return Ok(Report::refused(RunResult::Invalid, e.code(), e.to_string())),
        };
        if !self.lock(&run).await? {
            return Ok(Report::refused(
                RunResult::Locked,
                "LOCKED",
                format!("another deployment to instance {} holds the lock", self.settings.instance_id),
            ));
        }
        // Stopped here, not by the edge's timeout: a future dropped from outside would never reach
        // the release below.
        let outcome = match tokio::time::timeout_at(run.stop_at, self.locked_run(&run, bundle)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::error!("flows run stopped: the invocation's time is nearly up");
                Err(FlowsError::OutOfTime(format!(
                    "the run stopped before the function's timeout; flows written so far are recorded \
                     and the lock on instance {} is released: run it again to finish",
                    self.settings.instance_id
                )))
            }
        };
        let released = self.unlock(&run).await;
        let report = outcome?;
        released?;
        Ok(report)
    }

    async fn locked_run(&self, run: &Run, bundle: bundle::Bundle) -> Result<Report, FlowsError> {
        let bundle::Bundle { flows, unreadable } = bundle;
        // A file that is not a readable flow is that flow's problem; the others are still planned.
        let unreadable: Vec<FlowReport> = unreadable
            .into_iter()
            .map(|file| {
                let name = format!("{}{}", run.prefix, file.stem);
                FlowReport {
                    problems: vec![Problem {
                        code: "INVALID_JSON".into(),
                        flow: name.clone(),
                        pointer: None,
                        placeholder: None,
                        message: file.detail,
                    }],
                    name,
                    source: file.source,
                    action: FlowAction::Invalid,
                    arn: None,
                    diff: None,
                    written: false,
                }
            })
            .collect();
        let inventory = self.inventory().await?;
        let managed = self.managed().await?;
        // `{{flow:<stem>}}` names a bundle flow by its stem; Connect knows it by prefix + stem.
        let names: BTreeMap<String, String> =
            flows.iter().map(|f| (f.stem.clone(), format!("{}{}", run.prefix, f.stem))).collect();
        let references = self.reference_context(run, &flows, &inventory, &names);
        let mut planned = Vec::new();
        for flow in flows {
            planned.push(self.plan_flow(run, flow, &inventory, &managed, &names, &references).await?);
        }
        // An unreadable file's flow is still the bundle's, not an orphan.
        let bundle_names: BTreeSet<String> =
            planned.iter().map(|p| p.name.clone()).chain(unreadable.iter().map(|f| f.name.clone())).collect();
        let mut orphans: Vec<OrphanReport> = managed
            .iter()
            .filter(|(name, _)| !bundle_names.contains(*name))
            .map(|(name, item)| OrphanReport {
                name: name.clone(),
                arn: item.arn.clone(),
                archived: inventory.flows.get(name).is_some_and(|f| f.state == "ARCHIVED"),
            })
            .collect();

        // A conflict is a result of its own (CONFLICT), not a problem of the flow's content.
        let invalid = !unreadable.is_empty() || planned.iter().any(|p| p.problems.iter().any(|q| q.code != "CONFLICT"));
        let report = |result: RunResult, planned: &[Planned], orphans: &[OrphanReport], writes: usize| Report {
            result,
            flows: planned.iter().map(Planned::report).chain(unreadable.iter().cloned()).collect(),
            orphans: orphans.to_vec(),
            problems: Vec::new(),
            writes,
        };
        if invalid {
            return Ok(report(RunResult::Invalid, &planned, &orphans, 0));
        }
        // A plan says so too: the apply it previews would write nothing.
        if planned.iter().any(|p| p.action == FlowAction::Conflict) {
            let report = report(RunResult::Conflict, &planned, &orphans, 0);
            if run.mode == Mode::Apply {
                self.record(run, &report).await?;
            }
            return Ok(report);
        }
        if run.mode == Mode::Plan {
            return Ok(report(RunResult::Planned, &planned, &orphans, 0));
        }
        if run.on_drift == OnDrift::Fail && planned.iter().any(|p| p.action == FlowAction::Drifted) {
            let report = report(RunResult::Drift, &planned, &orphans, 0);
            self.record(run, &report).await?;
            return Ok(report);
        }

        let mut writes = 0;
        let stopped = self.write(run, &mut planned, &inventory, &mut writes).await;
        let mut orphan_stop = None;
        if stopped.is_none() && run.archive_orphans {
            for orphan in orphans.iter_mut().filter(|o| !o.archived) {
                let Some(flow) = inventory.flows.get(&orphan.name) else { continue };
                self.pace(writes).await;
                match self
                    .connect
                    .update_contact_flow_metadata()
                    .instance_id(&self.settings.instance_id)
                    .contact_flow_id(&flow.id)
                    .contact_flow_state(ContactFlowState::Archived)
                    .send()
                    .await
                {
                    Ok(_) => {
                        writes += 1;
                        orphan.archived = true;
                    }
                    Err(e) => {
                        orphan_stop = Some(connect_fault("UpdateContactFlowMetadata", e));
                        break;
                    }
                }
            }
        }
        let result = match &stopped {
            Some(Stop::Rejected(_)) => RunResult::Rejected,
            _ if writes == 0 => RunResult::NoChanges,
            _ => RunResult::Applied,
        };
        let mut report = report(result, &planned, &orphans, writes);
        if let Some(Stop::Rejected(problems)) = &stopped {
            report.problems = problems.clone();
        }
        self.record(run, &report).await?;
        match (stopped, orphan_stop) {
            (Some(Stop::Fault(fault)), _) | (None, Some(fault)) => return Err(fault),
            _ => {}
        }
        if report.result != RunResult::Rejected {
            self.store_map(run, &planned, &inventory).await?;
        }
        Ok(report)
    }

    /// What the flows' references are checked against: the instance, and the map the apply stores.
    fn reference_context(
        &self,
        run: &Run,
        flows: &[BundleFlow],
        inventory: &Inventory,
        names: &BTreeMap<String, String>,
    ) -> ReferenceContext {
        let bundle: Vec<(&BundleFlow, Option<&String>)> = flows.iter().map(|f| (f, None)).collect();
        let map_function = flows.first().and_then(|flow| {
            let placeholder = Placeholder { kind: "lambda".into(), name: bundle::RESOURCE_MAP_FUNCTION.into() };
            match resolve_placeholder(&placeholder, run, flow, inventory, names) {
                Resolution::Value(arn) => Some(arn),
                _ => None,
            }
        });
        ReferenceContext {
            instance_arn: inventory.instance_arn.clone(),
            map_function,
            mapped: inventory.resource_map(run, &bundle).into_keys().collect(),
            unassociated_bots: bot_parameters(run, flows.iter())
                .into_iter()
                .filter(|(_, arn)| !inventory.bots.contains(arn))
                .collect(),
            associated: inventory.lambdas.iter().chain(&inventory.bots).cloned().collect(),
        }
    }

    async fn plan_flow(
        &self,
        run: &Run,
        flow: BundleFlow,
        inventory: &Inventory,
        managed: &BTreeMap<String, Managed>,
        bundle: &BTreeMap<String, String>,
        references: &ReferenceContext,
    ) -> Result<Planned, FlowsError> {
        let name = format!("{}{}", run.prefix, flow.stem);
        let mut resolver = |placeholder: &Placeholder| resolve_placeholder(placeholder, run, &flow, inventory, bundle);
        let (desired, pending, mut problems) = bundle::resolve(&flow, &name, &mut resolver);
        problems.extend(bundle::reference_problems(&name, &desired, references));
        let existing = match inventory.flows.get(&name) {
            Some(summary) => Some(self.describe(summary).await?),
            None => None,
        };
        let stack = &self.settings.stack;
        let (action, diff) = match &existing {
            None => (FlowAction::Create, None),
            Some((summary, _, _)) if summary.kind != flow.kind => (FlowAction::Conflict, None),
            Some((_, _, tags)) if tags.get(STACK_TAG).is_some_and(|owner| owner != stack) => {
                (FlowAction::Conflict, None)
            }
            Some((_, current, tags)) => {
                let diff = bundle::diff(current, &desired);
                let same = bundle::canonical(current) == bundle::canonical(&desired);
                let action = match managed.get(&name) {
                    // Tagged ours but not in the table (a table restored or replaced): ours all the same.
                    None if same && tags.get(STACK_TAG) == Some(stack) => FlowAction::Unchanged,
                    None => FlowAction::Adopt,
                    Some(_) if same => FlowAction::Unchanged,
                    Some(item) if bundle::content_hash(current) != item.applied_hash => FlowAction::Drifted,
                    Some(_) => FlowAction::Update,
                };
                (action, (!same).then_some(diff))
            }
        };
        if action == FlowAction::Conflict {
            let message = match &existing {
                Some((summary, _, _)) if summary.kind != flow.kind => {
                    format!("the instance's {name} is a {} flow, the bundle's a {}", summary.kind, flow.kind)
                }
                Some((_, _, tags)) => {
                    format!("{name} belongs to stack {}", tags.get(STACK_TAG).map(String::as_str).unwrap_or_default())
                }
                None => String::new(),
            };
            problems.push(Problem {
                code: "CONFLICT".into(),
                flow: name.clone(),
                pointer: None,
                placeholder: None,
                message,
            });
        }
        let arn = existing.as_ref().map(|(summary, _, _)| summary.arn.clone());
        Ok(Planned { flow, name, action, existing, desired, pending, diff, problems, written: false, arn })
    }

    /// Creates and updates in dependency order; stores each written flow's item at once.
    async fn write(
        &self,
        run: &Run,
        planned: &mut [Planned],
        inventory: &Inventory,
        writes: &mut usize,
    ) -> Option<Stop> {
        let mut arns: BTreeMap<String, String> =
            inventory.flows.iter().map(|(name, flow)| (name.clone(), flow.arn.clone())).collect();
        let mut todo: Vec<usize> = (0..planned.len()).filter(|i| planned[*i].needs_write(run.on_drift)).collect();
        // Flows created as stubs (a reference cycle), whose content follows once the cycle exists.
        let mut stubs: Vec<usize> = Vec::new();
        while !todo.is_empty() {
            let ready = todo.iter().position(|i| planned[*i].pending.iter().all(|name| arns.contains_key(name)));
            let (index, as_stub) = match ready {
                Some(position) => (todo.remove(position), false),
                // Only flows not yet created are pending, so a blocked set is a cycle of creations.
                None => (todo.remove(0), true),
            };
            let flow = &mut planned[index];
            let mut content = if as_stub { bundle::stub_content() } else { flow.desired.clone() };
            bundle::fill_pending(&mut content, &arns);
            self.pace(*writes).await;
            match self.write_flow(flow, &content, writes).await {
                Ok(arn) => {
                    arns.insert(flow.name.clone(), arn);
                    if as_stub {
                        stubs.push(index);
                    }
                }
                Err(stop) => return Some(stop),
            }
        }
        for index in stubs {
            let flow = &mut planned[index];
            let mut content = flow.desired.clone();
            bundle::fill_pending(&mut content, &arns);
            self.pace(*writes).await;
            if let Err(stop) = self.update_content(flow, &content, writes).await {
                return Some(stop);
            }
        }
        None
    }

    async fn write_flow(&self, flow: &mut Planned, content: &Value, writes: &mut usize) -> Result<String, Stop> {
        let stack = &self.settings.stack;
        match &flow.existing {
            None => {
                let created = self
                    .connect
                    .create_contact_flow()
                    .instance_id(&self.settings.instance_id)
                    .name(&flow.name)
                    .r#type(ContactFlowType::from(flow.flow.kind.as_str()))
                    .set_description(flow.flow.description.clone())
                    .content(content.to_string())
                    .tags(STACK_TAG, stack)
                    .tags(SOURCE_TAG, &flow.flow.source)
                    .send()
                    .await
                    .map_err(|e| rejected_or_fault(&flow.name, "CreateContactFlow", e, create_problems))?;
                *writes += 1;
                let (Some(id), Some(arn)) = (created.contact_flow_id, created.contact_flow_arn) else {
                    return Err(Stop::Fault(FlowsError::Dependency("CreateContactFlow answered no id or ARN".into())));
                };
                flow.existing = Some((
                    InstanceFlow { id, arn: arn.clone(), kind: flow.flow.kind.clone(), state: "ACTIVE".into() },
                    content.clone(),
                    BTreeMap::from([(STACK_TAG.to_owned(), stack.clone())]),
                ));
                flow.arn = Some(arn.clone());
                flow.written = true;
                self.store_flow_item(flow, content).await.map_err(Stop::Fault)?;
                Ok(arn)
            }
            Some((summary, current, tags)) => {
                let summary = summary.clone();
                if tags.get(STACK_TAG) != Some(stack) {
                    self.connect
                        .tag_resource()
                        .resource_arn(&summary.arn)
                        .tags(STACK_TAG, stack)
                        .tags(SOURCE_TAG, &flow.flow.source)
                        .send()
                        .await
                        .map_err(|e| Stop::Fault(connect_fault("TagResource", e)))?;
                    *writes += 1;
                    flow.written = true;
                }
                if bundle::canonical(current) != bundle::canonical(content) {
                    self.update_content(flow, content, writes).await?;
                } else {
                    self.store_flow_item(flow, content).await.map_err(Stop::Fault)?;
                }
                Ok(summary.arn)
            }
        }
    }

    async fn update_content(&self, flow: &mut Planned, content: &Value, writes: &mut usize) -> Result<(), Stop> {
        let Some((summary, _, _)) = &flow.existing else {
            return Err(Stop::Fault(FlowsError::Dependency(format!("{} has no id to update", flow.name))));
        };
        self.connect
            .update_contact_flow_content()
            .instance_id(&self.settings.instance_id)
            .contact_flow_id(&summary.id)
            .content(content.to_string())
            .send()
            .await
            .map_err(|e| rejected_or_fault(&flow.name, "UpdateContactFlowContent", e, update_problems))?;
        *writes += 1;
        flow.written = true;
        flow.arn = Some(summary.arn.clone());
        self.store_flow_item(flow, content).await.map_err(Stop::Fault)
    }

    async fn store_flow_item(&self, flow: &Planned, content: &Value) -> Result<(), FlowsError> {
        let Some((summary, _, _)) = &flow.existing else { return Ok(()) };
        let mut item = store::key(self.flow_pk(), &flow.name);
        item.insert("flowId".into(), store::s(&summary.id));
        item.insert("arn".into(), store::s(&summary.arn));
        item.insert("source".into(), store::s(&flow.flow.source));
        item.insert("appliedHash".into(), store::s(bundle::content_hash(content)));
        item.insert("stack".into(), store::s(&self.settings.stack));
        self.dynamodb
            .put_item()
            .table_name(&self.settings.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutItem", e))?;
        Ok(())
    }

    /// Waits between Connect writes (not before the first).
    async fn pace(&self, writes_so_far: usize) {
        if writes_so_far > 0 && !self.settings.write_pause.is_zero() {
            tokio::time::sleep(self.settings.write_pause).await;
        }
    }

    fn flow_pk(&self) -> String {
        format!("FLOW#{}", self.settings.instance_id)
    }

    async fn inventory(&self) -> Result<Inventory, FlowsError> {
        let instance = &self.settings.instance_id;
        let flows = self
            .connect
            .list_contact_flows()
            .instance_id(instance)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| connect_fault("ListContactFlows", e))?;
        let queues = self
            .connect
            .list_queues()
            .instance_id(instance)
            .queue_types(QueueType::Standard)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| connect_fault("ListQueues", e))?;
        let prompts = self
            .connect
            .list_prompts()
            .instance_id(instance)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| connect_fault("ListPrompts", e))?;
        let lambdas = associated_lambdas(&self.connect, instance).await?;
        let bots = associated_bot_aliases(&self.connect, instance).await?;
        let named = |name: Option<String>, arn: Option<String>| name.zip(arn);
        // The instance's own ARN: the setting when it is one, else the prefix of anything listed.
        let instance_arn = self.settings.instance_arn.clone().or_else(|| {
            let listed = queues.iter().filter_map(|q| q.arn.as_deref());
            let listed = listed.chain(flows.iter().filter_map(|f| f.arn.as_deref()));
            listed
                .map(|arn| arn.split_once(&format!("instance/{instance}")))
                .find_map(|split| split.map(|(head, _)| format!("{head}instance/{instance}")))
        });
        Ok(Inventory {
            instance_arn,
            bots: bots.into_iter().collect(),
            flows: flows
                .into_iter()
                .filter_map(|f| {
                    let (name, arn) = named(f.name, f.arn)?;
                    let flow = InstanceFlow {
                        id: f.id?,
                        arn,
                        kind: f.contact_flow_type.map(|t| t.as_str().to_owned()).unwrap_or_default(),
                        state: f.contact_flow_state.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    };
                    Some((name, flow))
                })
                .collect(),
            queues: queues.into_iter().filter_map(|q| named(q.name, q.arn)).collect(),
            prompts: prompts.into_iter().filter_map(|p| named(p.name, p.arn)).collect(),
            lambdas: lambdas.into_iter().collect(),
        })
    }

    async fn describe(
        &self,
        summary: &InstanceFlow,
    ) -> Result<(InstanceFlow, Value, BTreeMap<String, String>), FlowsError> {
        let described = self
            .connect
            .describe_contact_flow()
            .instance_id(&self.settings.instance_id)
            .contact_flow_id(&summary.id)
            .send()
            .await
            .map_err(|e| connect_fault("DescribeContactFlow", e))?;
        let flow = described.contact_flow.unwrap_or_else(|| aws_sdk_connect::types::ContactFlow::builder().build());
        // Content that does not parse differs from anything we would write: it plans as an update.
        let content = flow.content.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or(Value::Null);
        let tags = flow.tags.unwrap_or_default().into_iter().collect();
        Ok((summary.clone(), content, tags))
    }

    async fn managed(&self) -> Result<BTreeMap<String, Managed>, FlowsError> {
        let items = store::query_partition(&self.dynamodb, &self.settings.table, &self.flow_pk()).await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let name = store::get_str(&item, "sk")?.to_owned();
                let managed = Managed {
                    arn: store::get_str(&item, "arn")?.to_owned(),
                    applied_hash: store::get_str(&item, "appliedHash")?.to_owned(),
                };
                Some((name, managed))
            })
            .collect())
    }

    /// Takes the instance lock, waiting up to `run.lock_wait` (and never past `run.stop_at`) for
    /// another run's. The lease ends with the invocation: a run killed without releasing it (a crash,
    /// the runtime's own timeout) holds the instance no longer than it could have run.
    async fn lock(&self, run: &Run) -> Result<bool, FlowsError> {
        let started = tokio::time::Instant::now();
        let lease_until = i64::try_from(run.deadline_epoch_ms.div_ceil(1000)).unwrap_or(i64::MAX);
        loop {
            let now = self.clock.now();
            let mut item = store::key(format!("LOCK#{}", self.settings.instance_id), "LOCK");
            item.insert("owner".into(), store::s(&run.request_id));
            item.insert("until".into(), store::n(lease_until));
            let put = self
                .dynamodb
                .put_item()
                .table_name(&self.settings.table)
                .set_item(Some(item))
                // Free, expired, or ours already (a retried event).
                .condition_expression("attribute_not_exists(pk) OR #until < :now OR #owner = :me")
                .expression_attribute_names("#until", "until")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":now", store::n(now.unix_timestamp()))
                .expression_attribute_values(":me", store::s(&run.request_id))
                .send()
                .await;
            if store::conditional("PutItem", put)?.is_some() {
                return Ok(true);
            }
            if started.elapsed() + LOCK_POLL > run.lock_wait || tokio::time::Instant::now() + LOCK_POLL > run.stop_at {
                return Ok(false);
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    async fn unlock(&self, run: &Run) -> Result<(), FlowsError> {
        let delete = self
            .dynamodb
            .delete_item()
            .table_name(&self.settings.table)
            .set_key(Some(store::key(format!("LOCK#{}", self.settings.instance_id), "LOCK")))
            .condition_expression("#owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":me", store::s(&run.request_id))
            .send()
            .await;
        // Not ours any more (the lease ran out and another run took it): nothing to release.
        store::conditional("DeleteItem", delete)?;
        Ok(())
    }

    /// The apply record (`APPLY#`): what a run did, kept 180 days.
    async fn record(&self, run: &Run, report: &Report) -> Result<(), FlowsError> {
        let now = self.clock.now();
        let actions: Vec<Value> = report
            .flows
            .iter()
            .map(|f| serde_json::json!({"name": f.name, "action": f.action, "written": f.written}))
            .collect();
        let mut item =
            store::key(format!("APPLY#{}", self.settings.instance_id), format!("{}#{}", rfc3339(now), run.request_id));
        item.insert("trigger".into(), store::s(&run.trigger));
        item.insert("result".into(), store::s(report.result.as_str()));
        item.insert("actions".into(), store::s(Value::Array(actions).to_string()));
        item.insert("writes".into(), store::n(report.writes));
        item.insert("ttl".into(), store::ttl(now + time::Duration::days(APPLY_RECORD_DAYS)));
        self.dynamodb
            .put_item()
            .table_name(&self.settings.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutItem", e))?;
        Ok(())
    }

    /// The resource map `flow-resource-map` answers ([`Inventory::resource_map`]).
    async fn store_map(&self, run: &Run, planned: &[Planned], inventory: &Inventory) -> Result<(), FlowsError> {
        let bundle: Vec<(&BundleFlow, Option<&String>)> = planned.iter().map(|p| (&p.flow, p.arn.as_ref())).collect();
        let entries: BTreeMap<String, String> =
            inventory.resource_map(run, &bundle).into_iter().filter_map(|(name, arn)| Some((name, arn?))).collect();
        let mut item = store::key(format!("MAP#{}", self.settings.instance_id), "MAP");
        item.insert("entries".into(), AttributeValue::M(entries.into_iter().map(|(k, v)| (k, store::s(v))).collect()));
        item.insert("updatedAt".into(), store::s(rfc3339(self.clock.now())));
        self.dynamodb
            .put_item()
            .table_name(&self.settings.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutItem", e))?;
        Ok(())
    }
}

fn resolve_placeholder(
    placeholder: &Placeholder,
    run: &Run,
    flow: &BundleFlow,
    inventory: &Inventory,
    bundle: &BTreeMap<String, String>,
) -> Resolution {
    let unresolved = |message: String| Resolution::Problem { code: "UNRESOLVED", message };
    let name = &placeholder.name;
    match placeholder.kind.as_str() {
        "lambda" => {
            let suffix = format!(":function:{name}");
            match run.functions.get(name) {
                Some(arn) if inventory.lambdas.contains(arn) => Resolution::Value(arn.clone()),
                Some(arn) => Resolution::Problem {
                    code: "LAMBDA_NOT_ASSOCIATED",
                    message: format!("{arn} is not associated with the instance"),
                },
                None => match inventory.lambdas.iter().find(|arn| arn.ends_with(&suffix)) {
                    Some(arn) => Resolution::Value(arn.clone()),
                    None => Resolution::Problem {
                        code: "LAMBDA_NOT_ASSOCIATED",
                        message: format!("no function named {name} is in the stack or associated with the instance"),
                    },
                },
            }
        }
        "flow" => match bundle.get(name) {
            Some(connect_name) => match inventory.flows.get(connect_name) {
                Some(existing) => Resolution::Value(existing.arn.clone()),
                None => Resolution::Pending(connect_name.clone()),
            },
            None => match inventory.flows.get(name) {
                Some(existing) => Resolution::Value(existing.arn.clone()),
                None => unresolved(format!("no flow named {name} in the bundle or on the instance")),
            },
        },
        "queue" => inventory
            .queues
            .get(name)
            .map(|arn| Resolution::Value(arn.clone()))
            .unwrap_or_else(|| unresolved(format!("no standard queue named {name} on the instance"))),
        "prompt" => inventory
            .prompts
            .get(name)
            .map(|arn| Resolution::Value(arn.clone()))
            .unwrap_or_else(|| unresolved(format!("no prompt named {name} on the instance"))),
        "param" => run
            .parameters
            .get(name)
            .or_else(|| flow.parameter_defaults.get(name))
            .map(|value| Resolution::Value(value.clone()))
            .unwrap_or_else(|| unresolved(format!("no value for {name} in FlowParameters or flows.json"))),
        other => unresolved(format!("{other} is not a placeholder kind (lambda, flow, queue, prompt, param)")),
    }
}

fn create_problems(error: &CreateContactFlowError) -> Option<Vec<String>> {
    match error {
        CreateContactFlowError::InvalidContactFlowException(e) => {
            Some(e.problems().iter().filter_map(|p| p.message().map(str::to_owned)).collect())
        }
        _ => None,
    }
}

fn update_problems(error: &UpdateContactFlowContentError) -> Option<Vec<String>> {
    match error {
        UpdateContactFlowContentError::InvalidContactFlowException(e) => {
            Some(e.problems().iter().filter_map(|p| p.message().map(str::to_owned)).collect())
        }
        _ => None,
    }
}

/// Connect's `InvalidContactFlowException` is the flow's problem (`REJECTED`); anything else a fault.
fn rejected_or_fault<E>(
    flow: &str,
    operation: &str,
    error: SdkError<E, HttpResponse>,
    problems: fn(&E) -> Option<Vec<String>>,
) -> Stop
where
    E: std::error::Error + Send + Sync + 'static,
{
    match error.as_service_error().and_then(problems) {
        Some(messages) => Stop::Rejected(
            messages
                .into_iter()
                .chain(std::iter::once(format!("{operation} refused the flow")))
                .map(|message| Problem {
                    code: "REJECTED".into(),
                    flow: flow.to_owned(),
                    pointer: None,
                    placeholder: None,
                    message,
                })
                .collect(),
        ),
        None => Stop::Fault(connect_fault(operation, error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_parse_and_name_the_variable() {
        let map = key_values("FLOW_PARAMETERS", Some("a=1, b = two ,")).unwrap();
        assert_eq!(map, BTreeMap::from([("a".into(), "1".into()), ("b".into(), "two".into())]));
        assert!(key_values("FLOW_PARAMETERS", None).unwrap().is_empty());
        let error = key_values("FLOW_PARAMETERS", Some("a")).unwrap_err().to_string();
        assert!(error.contains("FLOW_PARAMETERS"), "{error}");
        assert!(key_values("X", Some("a=1,a=2")).is_err());
    }

    #[test]
    fn an_instance_arn_gives_its_id() {
        assert_eq!(instance_id("arn:aws:connect:ap-southeast-2:123:instance/abc-1"), "abc-1");
        assert_eq!(instance_id("abc-1"), "abc-1");
    }

    #[test]
    fn result_codes_are_their_serialised_names() {
        for result in [
            RunResult::Planned,
            RunResult::Applied,
            RunResult::NoChanges,
            RunResult::Invalid,
            RunResult::Conflict,
            RunResult::Drift,
            RunResult::Locked,
            RunResult::Rejected,
        ] {
            assert_eq!(serde_json::to_value(result).unwrap(), result.as_str());
        }
    }

    #[test]
    fn a_summary_names_every_problem() {
        let mut report = Report::refused(RunResult::Invalid, "INVALID_JSON", "e/A.json: bad".into());
        report.flows.push(FlowReport {
            name: "sb-A".into(),
            source: "e/A".into(),
            action: FlowAction::Create,
            arn: None,
            diff: None,
            problems: vec![Problem {
                code: "UNRESOLVED".into(),
                flow: "sb-A".into(),
                pointer: Some("/Actions/0/Parameters/QueueId".into()),
                placeholder: Some("{{queue:Nope}}".into()),
                message: "no standard queue named Nope".into(),
            }],
            written: false,
        });
        let summary = report.summary();
        assert!(summary.starts_with("INVALID: "), "{summary}");
        assert!(summary.contains("sb-A UNRESOLVED {{queue:Nope}} at /Actions/0/Parameters/QueueId"), "{summary}");
    }
}
