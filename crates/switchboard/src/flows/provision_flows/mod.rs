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

mod apply;
mod plan;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use aws_config::SdkConfig;
use aws_sdk_connect::{
    error::SdkError,
    types::{ContactFlowModuleState, ContactFlowState, LexVersion},
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::{apply::Stop, plan::Planned};
use super::bundle::{self, ActionDiff, Problem};
use crate::{
    edge::custom_resource::{Envelopes, Outcome, Request, ResourceFault},
    platform::{
        config::{ConfigError, Settings},
        store::{self, StoreError},
        time::{Clock, SystemClock},
    },
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
    /// Bot name → Lex V2 alias ARN: the stack's bots the flows name (`{{bot:<name>}}`).
    #[serde(default)]
    pub bots: BTreeMap<String, String>,
    /// Flow name (as in the bundle, without the prefix) → the ARN of the claimed number it answers:
    /// associated after an apply (`AssociatePhoneNumberContactFlow`), so a call to it starts the flow.
    #[serde(default)]
    pub phone_numbers: BTreeMap<String, String>,
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
    /// `FLOW_BOTS` as given (`name=alias ARN,…`): the bots `{{bot:<name>}}` names in a direct run.
    pub bots: Option<String>,
    /// `FLOW_PHONE_NUMBERS` as given (`flow=number ARN,…`): the numbers a direct apply points at
    /// their flows, as the custom resource's `PhoneNumbers`.
    pub phone_numbers: Option<String>,
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
            bots: settings.optional_string("FLOW_BOTS")?,
            phone_numbers: settings.optional_string("FLOW_PHONE_NUMBERS")?,
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

    /// `FLOW_PHONE_NUMBERS`, parsed; the error names the variable.
    pub fn phone_numbers(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        key_values("FLOW_PHONE_NUMBERS", self.phone_numbers.as_deref())
    }

    /// `FLOW_BOTS`, parsed; the error names the variable.
    pub fn bots(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        key_values("FLOW_BOTS", self.bots.as_deref())
    }

    /// `FLOW_PARAMETERS`, parsed; the error names the variable.
    pub fn parameters(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        key_values("FLOW_PARAMETERS", self.parameters.as_deref())
    }
}

/// Each reported flow's ARN by its name in the bundle (the file stem, without the prefix).
fn flow_arns(report: &Report) -> BTreeMap<String, String> {
    report
        .flows
        .iter()
        .filter_map(|flow| Some((flow.source.rsplit('/').next()?.to_owned(), flow.arn.clone()?)))
        .collect()
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
    /// Bot name → Lex V2 alias ARN, for `{{bot:<name>}}`.
    pub bots: BTreeMap<String, String>,
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
    /// The prompt bucket's writer (custom resource `PromptAudio`).
    s3: aws_sdk_s3::Client,
    settings: FlowSettings,
    clock: Arc<dyn Clock>,
}

impl ProvisionFlows {
    pub fn new(
        connect: aws_sdk_connect::Client,
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
        settings: FlowSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { connect, dynamodb, s3, settings, clock }
    }

    /// The Connect client retries adaptively (client-side rate limiting once throttled).
    pub fn from_env(sdk: &SdkConfig, settings: &Settings) -> Result<Self, ConfigError> {
        let connect = aws_sdk_connect::config::Builder::from(sdk)
            .retry_config(aws_config::retry::RetryConfig::adaptive().with_max_attempts(6))
            .build();
        Ok(Self::new(
            aws_sdk_connect::Client::from_conf(connect),
            aws_sdk_dynamodb::Client::new(sdk),
            aws_sdk_s3::Client::new(sdk),
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
        let settings = (self.settings.functions(), self.settings.bots(), self.settings.parameters());
        let (functions, bots, parameters) = match settings {
            (Ok(functions), Ok(bots), Ok(parameters)) => (functions, bots, parameters),
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => {
                return Ok(Report::refused(RunResult::Invalid, "INVALID_CONFIGURATION", e.to_string()))
            }
        };
        let numbers = match self.settings.phone_numbers() {
            Ok(numbers) => numbers,
            Err(e) => return Ok(Report::refused(RunResult::Invalid, "INVALID_CONFIGURATION", e.to_string())),
        };
        let mode = request.mode;
        let files = match request.flows {
            Some(files) => files,
            None => match bundle::read_dir(&self.settings.bundle_dir) {
                Ok(files) => files,
                Err(e) => return Ok(Report::refused(RunResult::Invalid, e.code(), e.to_string())),
            },
        };
        let left = crate::platform::deadline::until_epoch_ms(deadline_epoch_ms);
        let report = self
            .run(Run {
                mode,
                files,
                on_drift: request.on_drift,
                archive_orphans: request.archive_orphans,
                lock_wait: Duration::ZERO,
                prefix: self.settings.name_prefix.clone(),
                functions,
                bots,
                parameters,
                trigger: "direct".into(),
                request_id: request_id.to_owned(),
                deadline_epoch_ms,
                stop_at: stop_at(left),
            })
            .await?;
        // The numbers start the flows only once the flows exist (and are what the apply left).
        if mode == Mode::Apply && matches!(report.result, RunResult::Applied | RunResult::NoChanges) {
            self.associate_numbers(&numbers, &flow_arns(&report)).await?;
        }
        Ok(report)
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
        let mut bots = self.settings.bots().map_err(refused)?;
        bots.extend(properties.bots.clone());
        // Inside the edge's own limit, so the run releases the lock before the edge answers.
        let budget = crate::edge::custom_resource::handler_budget(deadline_epoch_ms);
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
                bots,
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
        let arns = flow_arns(&report);
        data.extend(arns.iter().map(|(stem, arn)| (format!("{stem}Arn"), arn.clone())));
        if mode == Mode::Apply {
            let mut numbers = self.settings.phone_numbers().map_err(refused)?;
            numbers.extend(properties.phone_numbers.clone());
            let associated = self.associate_numbers(&numbers, &arns).await?;
            data.insert("PhoneNumbersAssociated".to_owned(), associated.to_string());
        }
        Ok(Outcome { physical_resource_id, data })
    }

    /// The `PromptAudio` custom resource: the bundle's recordings into the prompt bucket
    /// ([`crate::flows::prompt_audio`]).
    pub async fn prompt_audio(
        &self,
        request: Request<super::prompt_audio::PromptAudioProperties>,
    ) -> Result<Outcome, FlowsError> {
        super::prompt_audio::handle(&self.s3, &self.settings.bundle_dir, request).await
    }

    /// Points each claimed number at its flow (by the flow's name in the bundle, `flows`): again on
    /// every apply, which is idempotent and repairs a number someone re-pointed by hand.
    async fn associate_numbers(
        &self,
        numbers: &BTreeMap<String, String>,
        flows: &BTreeMap<String, String>,
    ) -> Result<usize, FlowsError> {
        for (flow, number) in numbers {
            let Some(flow_arn) = flows.get(flow) else {
                return Err(FlowsError::Refused(format!(
                    "PhoneNumbers names {flow}, which is not a flow of the bundle"
                )));
            };
            let flow_id = flow_arn.rsplit('/').next().unwrap_or(flow_arn);
            self.connect
                .associate_phone_number_contact_flow()
                .phone_number_id(number)
                .instance_id(&self.settings.instance_id)
                .contact_flow_id(flow_id)
                .send()
                .await
                .map_err(|e| connect_fault("AssociatePhoneNumberContactFlow", e))?;
            tracing::info!(flow = %flow, number = %number, "number associated with its flow");
        }
        Ok(numbers.len())
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
        let names: BTreeMap<String, plan::BundleName> = flows
            .iter()
            .map(|f| {
                let name =
                    plan::BundleName { connect: format!("{}{}", run.prefix, f.stem), module: f.kind == bundle::MODULE };
                (f.stem.clone(), name)
            })
            .collect();
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
                archived: inventory.by_arn(&item.arn).is_some_and(|f| f.state == "ARCHIVED"),
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
        let stopped = self.write(run, &mut planned, &mut writes).await;
        let mut orphan_stop = None;
        if stopped.is_none() && run.archive_orphans {
            for orphan in orphans.iter_mut().filter(|o| !o.archived) {
                // By the ARN the run created it with: a flow of that name made since by hand is not ours.
                let Some(flow) = inventory.by_arn(&orphan.arn) else { continue };
                self.pace(writes).await;
                let archived = if flow.kind == bundle::MODULE {
                    let update = self
                        .connect
                        .update_contact_flow_module_metadata()
                        .instance_id(&self.settings.instance_id)
                        .contact_flow_module_id(&flow.id)
                        .state(ContactFlowModuleState::Archived);
                    update.send().await.map(drop).map_err(|e| connect_fault("UpdateContactFlowModuleMetadata", e))
                } else {
                    let update = self
                        .connect
                        .update_contact_flow_metadata()
                        .instance_id(&self.settings.instance_id)
                        .contact_flow_id(&flow.id)
                        .contact_flow_state(ContactFlowState::Archived);
                    update.send().await.map(drop).map_err(|e| connect_fault("UpdateContactFlowMetadata", e))
                };
                match archived {
                    Ok(()) => {
                        writes += 1;
                        orphan.archived = true;
                    }
                    Err(fault) => {
                        orphan_stop = Some(fault);
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

    fn flow_pk(&self) -> String {
        format!("FLOW#{}", self.settings.instance_id)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Provisioning against the local cloud's DynamoDB (the lock needs nothing else), with a clock
    /// for the leases.
    struct LockHarness {
        _cloud: switchboard_local::cloud::LocalCloud,
        flows: ProvisionFlows,
        clock: crate::platform::time::ManualClock,
    }

    impl LockHarness {
        async fn start() -> Self {
            use switchboard_local::{
                cloud::{LocalCloud, FLOWS_TABLE},
                fixture::Fixture,
            };
            let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
            let sdk = cloud.sdk_config().await;
            let clock = crate::platform::time::ManualClock::new(time::macros::datetime!(2026-12-06 09:00 UTC));
            let settings = FlowSettings {
                table: FLOWS_TABLE.into(),
                instance_id: "instance-1".into(),
                instance_arn: None,
                name_prefix: String::new(),
                functions: None,
                bots: None,
                phone_numbers: None,
                parameters: None,
                bundle_dir: PathBuf::new(),
                bundle_layer: None,
                stack: "stack".into(),
                write_pause: Duration::ZERO,
            };
            let flows = ProvisionFlows::new(
                aws_sdk_connect::Client::new(&sdk),
                aws_sdk_dynamodb::Client::new(&sdk),
                aws_sdk_s3::Client::new(&sdk),
                settings,
                Arc::new(clock.clone()),
            );
            Self { _cloud: cloud, flows, clock }
        }

        /// A run with a lease of 60 s from the clock's now, that does not wait for a held lock.
        fn run(&self, request_id: &str) -> Run {
            Run {
                mode: Mode::Apply,
                files: BTreeMap::new(),
                on_drift: OnDrift::Fail,
                archive_orphans: false,
                lock_wait: Duration::ZERO,
                prefix: String::new(),
                functions: BTreeMap::new(),
                bots: BTreeMap::new(),
                parameters: BTreeMap::new(),
                trigger: "direct".into(),
                request_id: request_id.into(),
                deadline_epoch_ms: u64::try_from(self.clock.now_epoch() + 60).unwrap() * 1000,
                stop_at: tokio::time::Instant::now() + Duration::from_secs(60),
            }
        }
    }

    /// A run whose lease ran out while it worked (the next run took the instance over) must not
    /// release the lock its successor now holds.
    #[tokio::test]
    async fn a_run_releases_only_its_own_lock() {
        let h = LockHarness::start().await;
        let first = h.run("request-1");
        assert!(h.flows.lock(&first).await.unwrap());
        // Held while its lease runs; a run that does not wait gives up at once.
        let refused = tokio::time::timeout(Duration::from_secs(10), h.flows.lock(&h.run("request-2"))).await;
        assert!(!refused.expect("gives up at once").unwrap(), "held while its lease runs");
        h.clock.advance(time::Duration::seconds(61));
        let second = h.run("request-2");
        assert!(h.flows.lock(&second).await.unwrap(), "taken over once the first lease ran out");

        h.flows.unlock(&first).await.unwrap();
        assert!(!h.flows.lock(&h.run("request-3")).await.unwrap(), "the first run's release left the second's lock");
        h.flows.unlock(&second).await.unwrap();
        assert!(h.flows.lock(&h.run("request-3")).await.unwrap(), "the holder's release frees the instance");
    }

    /// A run waits for a held lock only within its own time (it must stop in time to answer), and
    /// takes the lock on its next poll once the holder lets it go.
    #[tokio::test]
    async fn a_run_waits_for_a_held_lock_only_within_its_own_time() {
        let h = LockHarness::start().await;
        let holder = h.run("holder");
        assert!(h.flows.lock(&holder).await.unwrap());

        // Never freed: the waiting run gives up before its own stop, not after the 60 s lock wait.
        let waiting = Run {
            lock_wait: Duration::from_secs(60),
            stop_at: tokio::time::Instant::now() + Duration::from_millis(1500),
            ..h.run("waiting")
        };
        let gave_up = tokio::time::timeout(Duration::from_secs(10), h.flows.lock(&waiting)).await;
        assert!(!gave_up.expect("gives up within its own time").unwrap());
        assert!(tokio::time::Instant::now() <= waiting.stop_at, "gave up before its stop");

        // Freed half a second on: the waiting run takes it.
        let patient = Run {
            lock_wait: Duration::from_secs(60),
            stop_at: tokio::time::Instant::now() + Duration::from_secs(5),
            ..h.run("patient")
        };
        let release = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            h.flows.unlock(&holder).await.unwrap();
        };
        let (taken, ()) = tokio::join!(h.flows.lock(&patient), release);
        assert!(taken.unwrap(), "taken once the holder let it go");
    }

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
