//! `make bench`: what each function costs on Lambda, measured on the release binaries against the
//! local cloud, with a do-nothing `lambda_runtime` function as the floor.
//!
//! Per function: deploy zip size; init (process start until the runtime first asks for an event);
//! first invocation (process start until the response to the sample event is posted; median of
//! fresh processes); warm latency p50/p99 (event queued until response posted); cold penalty (each
//! fresh process's first invocation − its own second one, median); peak RSS (`VmHWM`). Times come from the Runtime API the host serves, so
//! no HTTP client sits between the clock and the function.
//!
//! CPU per warm invocation: the process's CPU (user + system, all threads) over the warm series,
//! from its cgroup. Under Lambda's CPU model ([`cpu_model`]), per memory size and scheduler period:
//! cold total (init at full CPU + the first invocation held to the size's share) and warm p50/p99.
//!
//! Every invocation, cold or warm, does its sample's intended work: [`Setup`] prepares fresh state
//! before it (outside the timed span), and an answer other than the function's expected success
//! ([`WORKLOADS`]) fails the bench rather than timing an early rejection.

pub mod breakdown;
pub mod cpu_model;
pub mod memory;
mod setup;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::setup::Setup;
use crate::lambda_host::{FunctionProcess, FunctionSpec, HostError};

/// What one function is benchmarked with: its sample event in `events/<function>/` (none: `{}`) and
/// the success every invocation must answer (a flow function's `Result`, `HTTP <status>` for an HTTP
/// function), with the `data` of the success envelope when it tells outcomes apart.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub function: &'static str,
    pub event: Option<&'static str>,
    pub expected: &'static str,
    pub expected_data: Option<&'static str>,
    /// Where a custom resource's answer holds `expected_data` (a JSON pointer into the answer).
    pub data_at: &'static str,
}

/// Every benchmarked function's workload; the bench and `tests/bench_budgets.rs` both read it.
pub const WORKLOADS: &[Workload] = &[
    sample("assign-id", "keyed-code.json", "LINKED"),
    sample("ccp-login", "login-by-email.json", "HTTP 200"),
    sample("check-emergency", "sydney.json", "OK"),
    sample("create-adhoc-route", "route-to-me.json", "HTTP 200"),
    sample("create-attendee", "add-attendee.json", "HTTP 200"),
    sample("create-meeting", "meeting-with-customer.json", "HTTP 200"),
    sample("end-meeting", "end-for-all.json", "HTTP 200"),
    sample("get-attendee-join-data", "website-join.json", "HTTP 200"),
    Workload {
        // "Unknown" would mean the attendee was not found.
        expected_data: Some("\"Carol Customer\""),
        ..sample("get-attendee-name", "roster-name.json", "HTTP 200")
    },
    sample("one-time-pin", "admin-call.json", "SENT"),
    Workload {
        // Nothing changed on this path: an object put would mean the comparison failed.
        expected_data: Some("\"0\""),
        data_at: "/Data/ObjectsPut",
        ..sample("publish-desktop", "update.json", "CFN SUCCESS")
    },
    Workload {
        // A redeploy whose flows did not change (the common stack update): the whole inventory
        // read and compared, nothing written.
        expected_data: Some("\"NO_CHANGES\""),
        data_at: "/Data/Result",
        ..sample("provision-flows", "update.json", "CFN SUCCESS")
    },
    sample("flow-resource-map", "names.json", "OK"),
    // A stack update that changes no association (the common one): both lists read, nothing written.
    sample("connect-associations", "update.json", "CFN SUCCESS"),
    // Each delivery is new (the setup gives it a fresh id): verified, claimed, two pipelines started.
    sample("github-webhook", "push.json", "HTTP 200"),
    Workload {
        // `data: false` would mean the cache was fresh and nothing was stored.
        expected_data: Some("true"),
        ..sample("put-connect-user-cache", "refresh.json", "HTTP 200")
    },
    sample("receive-auth-result", "sealed-result.json", "HTTP 200"),
    sample("session-info", "agent.json", "HTTP 200"),
    sample("set-connect-user-id", "own-user.json", "HTTP 200"),
    // The setup gives each chat a fresh ad-hoc route to redeem (its answer does not say it did).
    sample("start-chat", "website-chat.json", "HTTP 200"),
    sample("start-session", "start.json", "HTTP 200"),
    sample("update-emergency", "set-fire-alarm.json", "UPDATED"),
    sample("verify-pin", "keyed-pin.json", "VERIFIED"),
    // Recording: each on a fresh meeting the setup made (and, for all but the start, a recording the
    // fleet started), with the agent's user cache in place and the cluster's earlier tasks stopped.
    Workload {
        // Attendee created, task run, contact attribute set (the meeting's first recording).
        ..sample("start-recording", "start.json", "HTTP 200")
    },
    Workload {
        // One task stopped, the bot removed: a stop that found nothing would answer 0.
        expected_data: Some(r#"{"recordingsNotStopped":0,"recordingsStopped":1}"#),
        ..sample("stop-recording", "stop.json", "HTTP 200")
    },
    // One recording the viewer may see, presigned.
    sample("get-recording-summary", "supervisor.json", "HTTP 200"),
    sample("stop-recording-on-meeting-end", "meeting-ended.json", "STOPPED"),
    // The claim, the lookup and StartTask on the seeded instance (the setup drops the last claim).
    sample("prewarm-recording-task", "instance-launched.json", "STARTED"),
    Workload { function: "bench-floor", event: None, expected: "OK", expected_data: None, data_at: "" },
];

/// A workload on the sample event `events/<function>/<event>`.
const fn sample(function: &'static str, event: &'static str, expected: &'static str) -> Workload {
    Workload { function, event: Some(event), expected, expected_data: None, data_at: "" }
}

/// The workload of `function`, if it has one.
pub fn workload(function: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.function == function)
}

/// The success code `function` must answer, if it has a workload.
pub fn expected_result(function: &str) -> Option<&'static str> {
    workload(function).map(|w| w.expected)
}

/// An answer's code: a flow function's `Result` (an event function's `result`), `HTTP <status>` for an HTTP function, or
/// `CFN <Status>` for a custom resource (the answer it delivered to CloudFormation).
pub fn outcome(answer: &Value) -> String {
    let status = answer.get("Status").and_then(Value::as_str);
    // An event function answers its outcome as `result`.
    let result = answer.get("Result").or_else(|| answer.get("result")).and_then(Value::as_str);
    match (result, answer.get("statusCode"), status) {
        (Some(result), _, _) => result.to_owned(),
        (None, Some(status), _) => format!("HTTP {status}"),
        (None, None, Some(status)) => format!("CFN {status}"),
        (None, None, None) => "(no Result)".to_owned(),
    }
}

impl Workload {
    /// Whether `answer` is this function's expected success; otherwise what it answered instead.
    pub fn check(&self, answer: &Value) -> Result<(), String> {
        let code = outcome(answer);
        if code != self.expected {
            return Err(format!("answered {code}, expected {}: {answer}", self.expected));
        }
        if let Some(expected) = self.expected_data {
            let data = match answer.get("Status") {
                Some(_) => answer.pointer(self.data_at).map(Value::to_string),
                None => envelope_data(answer).ok().map(|d| d.to_string()),
            };
            if data.as_deref() != Some(expected) {
                return Err(format!("answered {code} with data {}, expected {expected}", data.unwrap_or_default()));
            }
        }
        Ok(())
    }
}

/// The `data` of an HTTP function's success envelope (its proxy answer's JSON body).
pub(crate) fn envelope_data(answer: &Value) -> Result<Value, String> {
    let text = answer.get("body").and_then(Value::as_str).unwrap_or_default();
    let body: Value = serde_json::from_str(text).map_err(|e| format!("not a JSON body: {e}"))?;
    body.get("data").cloned().ok_or_else(|| format!("no data in {body}"))
}

/// What to measure: a function's binary, or the Node.js reference of one (`bench/reference/`).
#[derive(Debug, Clone)]
pub struct Subject {
    /// The row's name: the function's, or `<function>.node` for its Node.js reference.
    pub name: String,
    /// The function whose workload (sample event, set-up and expected success) it runs.
    pub function: String,
    /// What the process runs: a bootstrap, as Lambda's `provided.al2023` (or Node's runtime) starts it.
    pub binary: PathBuf,
    /// What a deploy zips: the binary, or the reference's handler (Node's runtime brings the SDK).
    pub package: PathBuf,
    /// Variables beyond the plan's (the reference's `_HANDLER`).
    pub env: BTreeMap<String, String>,
}

/// The suffix of a Node.js reference's row name.
pub const NODE_SUFFIX: &str = ".node";

impl Subject {
    /// SHA-256 of the binary and, where it differs, the package (hex).
    pub fn build(&self) -> Result<String, BenchError> {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for file in [&self.binary, &self.package].into_iter().collect::<std::collections::BTreeSet<_>>() {
            let bytes = std::fs::read(file)
                .map_err(|e| BenchError::Read { path: file.display().to_string(), detail: e.to_string() })?;
            hash.update(&bytes);
        }
        Ok(hex::encode(hash.finalize()))
    }

    /// One of our functions, from `binaries/<name>`.
    pub fn rust(name: &str, binaries: &Path) -> Self {
        let binary = binaries.join(name);
        Self { name: name.to_owned(), function: name.to_owned(), package: binary.clone(), binary, env: BTreeMap::new() }
    }

    /// The Node.js 20 reference of `function` in `reference` (`<function>/index.mjs`, started by
    /// `bootstrap.mjs` as Lambda's Node.js runtime starts a handler).
    pub fn node(function: &str, reference: &Path) -> Self {
        Self {
            name: format!("{function}{NODE_SUFFIX}"),
            function: function.to_owned(),
            binary: reference.join("bootstrap.mjs"),
            package: reference.join(function).join("index.mjs"),
            env: BTreeMap::from([
                ("_HANDLER".to_owned(), format!("{function}/index.handler")),
                ("LAMBDA_TASK_ROOT".to_owned(), reference.display().to_string()),
                // SDK v3 warns once at init that Node.js 20 leaves its support window; not the work measured.
                ("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED".to_owned(), "true".to_owned()),
            ]),
        }
    }
}

/// The functions with a Node.js reference in `bench/reference/`.
pub const NODE_REFERENCES: &[&str] = &["check-emergency", "create-meeting"];

#[derive(Debug, Clone)]
pub struct Plan {
    pub cold_runs: usize,
    pub warm_runs: usize,
    /// Per CPU model: fresh processes, and warm invocations of the last of them.
    pub model_cold_runs: usize,
    pub model_warm_runs: usize,
    pub env: BTreeMap<String, String>,
    pub region: String,
    pub account_id: String,
    /// The TLS fronts' handshakes (None over `--plain`): each first invocation's are counted.
    pub handshakes: Option<Arc<crate::tls_front::HandshakeTally>>,
}

/// One table row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub function: String,
    pub zip_bytes: u64,
    pub init_ms: f64,
    pub first_invocation_ms: f64,
    pub warm_p50_ms: f64,
    pub warm_p99_ms: f64,
    pub cold_penalty_ms: f64,
    /// The TLS handshakes of the first invocation (median of the cold runs; NaN over `--plain`):
    /// one per endpoint it reached, each paid again by no warm invocation.
    #[serde(default = "not_measured")]
    pub first_invocation_handshakes: f64,
    /// Their summed durations at the fronts, from the TCP accept to the handshake's end, ms (median).
    #[serde(default = "not_measured")]
    pub first_invocation_handshake_ms: f64,
    pub peak_rss_kib: u64,
    /// The answers' `Result` codes (`HTTP <status>` for HTTP functions) and how often each came back.
    pub results: BTreeMap<String, usize>,
    /// Where the cold start went (medians of the cold runs).
    #[serde(default)]
    pub breakdown: breakdown::Spans,
    /// The floor's init and cold penalty in the run that measured this row: the budgets are relative
    /// to them, so a slow moment of a shared machine moves both sides.
    #[serde(default)]
    pub floor: Option<Floor>,
    /// CPU (user + system) per warm invocation over the warm series, ms.
    #[serde(default = "not_measured")]
    pub cpu_per_warm_ms: f64,
    /// AWS requests the function made per warm invocation (counted by the call log).
    #[serde(default = "not_measured")]
    pub aws_calls_per_warm: f64,
    /// Under Lambda's CPU model, per memory size and scheduler period.
    #[serde(default)]
    pub lambda: Vec<ModelFigures>,
    /// SHA-256 of what was measured (the binary; a reference's bootstrap and handler): a resumed
    /// run keeps a row only for the same build.
    #[serde(default)]
    pub build: String,
}

fn not_measured() -> f64 {
    f64::NAN
}

/// One function under one [`cpu_model::CpuModel`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelFigures {
    pub memory_mb: u64,
    pub period_ms: u64,
    /// Init (full CPU) + the first invocation (held to the share), median of fresh processes.
    pub cold_total_ms: f64,
    pub warm_p50_ms: f64,
    pub warm_p99_ms: f64,
}

/// The do-nothing function's figures from cold runs interleaved with a row's own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Floor {
    pub init_ms: f64,
    pub first_invocation_ms: f64,
    pub cold_penalty_ms: f64,
}

impl Floor {
    /// The floor's own row as its floor.
    pub fn of(floor: &Figures) -> Self {
        Self {
            init_ms: floor.init_ms,
            first_invocation_ms: floor.first_invocation_ms,
            cold_penalty_ms: floor.cold_penalty_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub profile: String,
    pub target: String,
    pub cold_runs: usize,
    pub warm_runs: usize,
    /// Whether the functions reached the local cloud over HTTPS (the default; `--plain` turns it off).
    #[serde(default)]
    pub tls: bool,
    /// Whether an optimised harness took the figures (`make bench`: the `harness` profile). A debug
    /// harness's TLS fronts are slow servers: check-emergency's first request took 9.49 ms against them,
    /// 6.59 ms against optimised ones.
    #[serde(default)]
    pub harness_optimised: bool,
    pub functions: Vec<Figures>,
}

impl Report {
    /// Whether `self` and `other` were taken under the same conditions (profile, run counts,
    /// transport, harness), so that their rows may stand in one table.
    pub fn same_conditions(&self, other: &Report) -> bool {
        (&self.profile, self.cold_runs, self.warm_runs, self.tls, self.harness_optimised)
            == (&other.profile, other.cold_runs, other.warm_runs, other.tls, other.harness_optimised)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("{function}: {problem}")]
    Function { function: String, problem: String },
    /// The local cloud could not set up an invocation (the set-up's own requests failed).
    #[error("{function}: set-up for {run}: {problem}")]
    Setup { function: String, run: String, problem: String },
    #[error("zip of {path}: {detail}")]
    Zip { path: String, detail: String },
    #[error("reading {path}: {detail}")]
    Read { path: String, detail: String },
    #[error(transparent)]
    Cgroup(#[from] cpu_model::CgroupError),
}

/// Measures one subject: `cold_runs` fresh processes, then `warm_runs` invocations of one process
/// (after one unmeasured warm-up). `setup` prepares each invocation's state before its timed span.
///
/// With a `floor`, each cold run of the subject is followed by a cold run of the floor, and the row
/// records the floor's medians from those runs ([`Floor`]): the budgets compare the two under the
/// same conditions of the machine, not with a floor measured minutes apart.
pub async fn measure(
    subject: &Subject,
    floor: Option<&Subject>,
    plan: &Plan,
    setup: &mut Setup<'_>,
) -> Result<Figures, BenchError> {
    let fail = |problem: String| BenchError::Function { function: subject.name.clone(), problem };
    let logs = Arc::new(Mutex::new(Vec::<crate::lambda_host::LogLine>::new()));
    let spec = |subject: &Subject| {
        let mut env = plan.env.clone();
        env.extend(subject.env.clone());
        env.insert(breakdown::PROFILE_VARIABLE.to_owned(), "1".to_owned());
        env.insert("AWS_ACCESS_KEY_ID".to_owned(), bench_access_key(&subject.name));
        FunctionSpec {
            name: subject.name.clone(),
            binary: subject.binary.clone(),
            env,
            // The template's timeout, as the local cloud gives it: start-recording leaves the last
            // 12 s of its 28 to its undo, so 10 s for every function undid each of its starts.
            timeout: crate::cloud::function_timeout(&subject.function),
        }
    };
    let (subject_spec, floor_spec) = (spec(subject), floor.map(spec));
    let mut results = BTreeMap::new();
    let mut floor_results = BTreeMap::new();

    let cold_runs = plan.cold_runs.max(1);
    let mut init = Vec::new();
    let mut first = Vec::new();
    let mut penalty = Vec::new();
    let mut floor_init = Vec::new();
    let mut floor_first = Vec::new();
    let mut floor_penalty = Vec::new();
    let mut peak_rss_kib = 0;
    let mut cold_spans = Vec::new();
    let (mut handshakes, mut handshake_ms) = (Vec::new(), Vec::new());
    for i in 1..=cold_runs {
        let run = format!("cold invocation {i} of {cold_runs}");
        let cold = cold_invocation(&subject_spec, &subject.function, &run, plan, setup, &logs, &mut results).await?;
        init.push(cold.init_ms);
        first.push(cold.first_ms);
        penalty.push(cold.first_ms - cold.second_ms);
        if let Some((count, took_ms)) = cold.handshakes {
            handshakes.push(count as f64);
            handshake_ms.push(took_ms);
        }
        peak_rss_kib = peak_rss_kib.max(cold.peak_rss_kib);
        cold_spans.push(cold.spans);
        if let Some(floor_spec) = &floor_spec {
            let run = format!("the floor's cold invocation {i} of {cold_runs}");
            let cold = cold_invocation(floor_spec, "bench-floor", &run, plan, setup, &logs, &mut floor_results).await?;
            floor_init.push(cold.init_ms);
            floor_first.push(cold.first_ms);
            floor_penalty.push(cold.first_ms - cold.second_ms);
        }
    }

    let workload =
        workload(&subject.function).ok_or_else(|| fail("no workload: add one to bench::WORKLOADS".into()))?;
    let process = FunctionProcess::spawn(&subject_spec, &plan.region, &plan.account_id, logs.clone()).await?;
    let cgroup = cpu_model::Cgroup::create(&format!("{}-warm-{}", subject.name, process.pid.unwrap_or_default()))?;
    cgroup.add(process.pid.ok_or_else(|| fail("the warm process has no pid".into()))?)?;
    let key = bench_access_key(&subject.name);
    let mut warm = Vec::with_capacity(plan.warm_runs.max(1));
    let (mut cpu_before, mut calls_before) = (Duration::ZERO, 0);
    let mut stalls = Stalls::default();
    for i in 0..=plan.warm_runs.max(1) {
        let run = if i == 0 { "warm-up invocation".to_owned() } else { format!("warm invocation {i}") };
        let payload = prepared(setup, &subject.function, &run).await?;
        if i == 1 {
            (cpu_before, calls_before) = (cgroup.usage()?, setup.requests_signed_by(&key).unwrap_or_default());
        }
        let queued = Instant::now();
        let invocation = process.invoke(payload).await;
        if stalls.tolerate(&subject.name, &run, &invocation.result) {
            continue;
        }
        if i > 0 {
            warm.push(millis(invocation.posted_at - queued));
        }
        checked(&subject.name, workload, &run, invocation.result, &logs, &mut results)?;
    }
    let runs = plan.warm_runs.max(1) as f64;
    let cpu_per_warm_ms = millis(cgroup.usage()?.saturating_sub(cpu_before)) / runs;
    let aws_calls_per_warm =
        setup.requests_signed_by(&key).map_or(f64::NAN, |after| after.saturating_sub(calls_before) as f64 / runs);
    peak_rss_kib = peak_rss_kib.max(process.peak_rss_kib().unwrap_or(0));
    process.stop(Duration::from_secs(2)).await;
    drop(cgroup);

    let mut lambda = Vec::new();
    for model in cpu_model::CpuModel::all() {
        lambda.push(measure_model(&subject_spec, &subject.function, model, plan, setup, &logs, &mut results).await?);
    }

    let first_invocation_ms = percentile(&mut first, 50.0);
    let warm_p50_ms = percentile(&mut warm, 50.0);
    Ok(Figures {
        function: subject.name.clone(),
        zip_bytes: zip_size(&subject.package)?,
        init_ms: percentile(&mut init, 50.0),
        first_invocation_ms,
        warm_p50_ms,
        warm_p99_ms: percentile(&mut warm, 99.0),
        cold_penalty_ms: percentile(&mut penalty, 50.0),
        first_invocation_handshakes: median_or_nan(&mut handshakes),
        first_invocation_handshake_ms: median_or_nan(&mut handshake_ms),
        peak_rss_kib,
        results,
        breakdown: breakdown::median(&cold_spans),
        floor: floor.map(|_| Floor {
            init_ms: percentile(&mut floor_init, 50.0),
            first_invocation_ms: percentile(&mut floor_first, 50.0),
            cold_penalty_ms: percentile(&mut floor_penalty, 50.0),
        }),
        cpu_per_warm_ms,
        aws_calls_per_warm,
        lambda,
        build: subject.build()?,
    })
}

/// The access key a measured process signs with: not the fleet's (whose debug processes serve the
/// set-ups), so its requests can be counted apart.
pub fn bench_access_key(subject: &str) -> String {
    let name: String =
        subject.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("LOCALBENCH{name}")
}

/// One function under `model`: fresh processes, each at full CPU until its first `next` call, then
/// held to the model's share for its first invocation; the last one's warm invocations too.
async fn measure_model(
    spec: &FunctionSpec,
    function: &str,
    model: cpu_model::CpuModel,
    plan: &Plan,
    setup: &mut Setup<'_>,
    logs: &Arc<Mutex<Vec<crate::lambda_host::LogLine>>>,
    results: &mut BTreeMap<String, usize>,
) -> Result<ModelFigures, BenchError> {
    let fail = |problem: String| BenchError::Function { function: spec.name.clone(), problem };
    let workload = workload(function).ok_or_else(|| fail("no workload".into()))?;
    let label = format!("{} MB, {} ms period", model.memory_mb, model.period_ms);
    let runs = plan.model_cold_runs.max(1);
    let mut cold = Vec::with_capacity(runs);
    let mut warm = Vec::with_capacity(plan.model_warm_runs);
    for i in 1..=runs {
        let run = format!("{label}: cold invocation {i} of {runs}");
        let payload = prepared(setup, function, &run).await?;
        tokio::time::sleep(SETTLE).await;
        let process = FunctionProcess::spawn(spec, &plan.region, &plan.account_id, logs.clone()).await?;
        let pid = process.pid.ok_or_else(|| fail("a process without a pid".into()))?;
        let cgroup =
            cpu_model::Cgroup::create(&format!("{}-{}-{}-{pid}", spec.name, model.memory_mb, model.period_ms))?;
        cgroup.add(pid)?;
        // Init runs at full CPU; the share applies from the first `next` call on.
        let deadline = Instant::now() + Duration::from_secs(10);
        let polled = loop {
            if let Some(polled) = process.first_poll() {
                break polled;
            }
            if Instant::now() > deadline {
                return Err(fail(format!("{run}: the runtime never polled")));
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        cgroup.limit(model)?;
        let queued = Instant::now();
        let invocation = process.invoke(payload).await;
        cold.push(millis(polled - process.started) + millis(invocation.posted_at - queued));
        checked(&spec.name, workload, &run, invocation.result, logs, results)?;
        if i == runs {
            let mut stalls = Stalls::default();
            for j in 1..=plan.model_warm_runs {
                let run = format!("{label}: warm invocation {j}");
                let payload = prepared(setup, function, &run).await?;
                let queued = Instant::now();
                let invocation = process.invoke(payload).await;
                if stalls.tolerate(&spec.name, &run, &invocation.result) {
                    continue;
                }
                warm.push(millis(invocation.posted_at - queued));
                checked(&spec.name, workload, &run, invocation.result, logs, results)?;
            }
        }
        process.stop(Duration::from_secs(2)).await;
    }
    Ok(ModelFigures {
        memory_mb: model.memory_mb,
        period_ms: model.period_ms,
        cold_total_ms: percentile(&mut cold, 50.0),
        warm_p50_ms: if warm.is_empty() { f64::NAN } else { percentile(&mut warm, 50.0) },
        warm_p99_ms: if warm.is_empty() { f64::NAN } else { percentile(&mut warm, 99.0) },
    })
}

/// Warm invocations that failed because the local cloud stalled (moto, under the bench's hours of
/// load, now and then answers one request after the SDK's 2 s attempt timeout): not the function's
/// doing, so such an invocation is left out of the series, at most [`Stalls::MAX`] times a series;
/// any other failure, or more stalls, fails the bench.
#[derive(Default)]
struct Stalls(usize);

impl Stalls {
    const MAX: usize = 3;

    fn tolerate(&mut self, function: &str, run: &str, answer: &Result<Bytes, Bytes>) -> bool {
        let stalled = matches!(answer, Err(body) if local_cloud_stalled(body));
        if stalled && self.0 < Self::MAX {
            self.0 += 1;
            eprintln!("{function}: {run} left out: the local cloud did not answer within the attempt timeout");
            return true;
        }
        false
    }
}

/// Whether a function's error says an AWS request timed out (the SDK's attempt timeout).
fn local_cloud_stalled(error: &[u8]) -> bool {
    String::from_utf8_lossy(error).contains("operation attempt timeout")
}

/// One cold run's figures.
struct Cold {
    init_ms: f64,
    first_ms: f64,
    /// The same process's second invocation (queued → answered), right after the first.
    second_ms: f64,
    /// The TLS handshakes of the first invocation, and their summed durations (ms); None over `--plain`.
    handshakes: Option<(u64, f64)>,
    peak_rss_kib: u64,
    spans: breakdown::Spans,
}

/// A fresh process of `spec`, invoked once with a prepared event, stopped; its answer is checked.
async fn cold_invocation(
    spec: &FunctionSpec,
    function: &str,
    run: &str,
    plan: &Plan,
    setup: &mut Setup<'_>,
    logs: &Arc<Mutex<Vec<crate::lambda_host::LogLine>>>,
    results: &mut BTreeMap<String, usize>,
) -> Result<Cold, BenchError> {
    let workload = workload(function).ok_or_else(|| BenchError::Function {
        function: spec.name.clone(),
        problem: "no workload: add one to bench::WORKLOADS".into(),
    })?;
    let payload = prepared(setup, function, run).await?;
    // A moment for the local cloud to finish the set-up's work: the cold start is measured, not them.
    tokio::time::sleep(SETTLE).await;
    let printed_before = logs.lock().map(|l| l.len()).unwrap_or_default();
    let handshakes_before = plan.handshakes.as_ref().map(|tally| tally.snapshot());
    let process = FunctionProcess::spawn(spec, &plan.region, &plan.account_id, logs.clone()).await?;
    let invocation = process.invoke(payload).await;
    // Counted before the second invocation, which may open a connection of its own.
    let handshakes = plan.handshakes.as_ref().zip(handshakes_before).map(|(tally, (count, took))| {
        let (count_after, took_after) = tally.snapshot();
        (count_after.saturating_sub(count), millis(took_after.saturating_sub(took)))
    });
    checked(&spec.name, workload, run, invocation.result, logs, results)?;
    // Its warm twin, for the penalty: paired, so a drift of the machine between the cold runs and
    // the warm series does not count as the cold start's.
    let second_run = format!("{run}, its second invocation");
    let payload = prepared(setup, function, &second_run).await?;
    let queued = Instant::now();
    let second = process.invoke(payload).await;
    let second_ms = millis(second.posted_at - queued);
    checked(&spec.name, workload, &second_run, second.result, logs, results)?;
    let polled = process.first_poll().ok_or_else(|| BenchError::Function {
        function: spec.name.clone(),
        problem: "the runtime never polled".into(),
    })?;
    let peak_rss_kib = process.peak_rss_kib().unwrap_or(0);
    let (started, started_at) = (process.started, process.started_at);
    // Stopped, so every mark it printed has been read from its pipes.
    process.stop(Duration::from_secs(2)).await;
    let printed = logs.lock().map(|l| l[printed_before.min(l.len())..].to_vec()).unwrap_or_default();
    let lines = printed.iter().map(|l| l.line.as_str());
    Ok(Cold {
        init_ms: millis(polled - started),
        first_ms: millis(invocation.posted_at - started),
        second_ms,
        handshakes,
        peak_rss_kib,
        spans: breakdown::ColdRun::new(started_at, polled - started, invocation.posted_at - started, lines).spans(),
    })
}

/// How long the bench waits after a set-up before it spawns a cold process.
const SETTLE: Duration = Duration::from_millis(20);

async fn prepared(setup: &mut Setup<'_>, function: &str, run: &str) -> Result<Bytes, BenchError> {
    let event = setup.prepare(function).await.map_err(|problem| BenchError::Setup {
        function: function.to_owned(),
        run: run.to_owned(),
        problem,
    })?;
    Ok(Bytes::from(event.to_string()))
}

/// Checks an answer against the function's workload and counts its outcome; a refused answer comes
/// with what the function logged, to say why.
fn checked(
    function: &str,
    workload: &Workload,
    run: &str,
    answer: Result<Bytes, Bytes>,
    logs: &Mutex<Vec<crate::lambda_host::LogLine>>,
    results: &mut BTreeMap<String, usize>,
) -> Result<(), BenchError> {
    let fail = |problem: String| {
        let lines = logs.lock().map(|l| l.iter().rev().take(5).map(|l| l.line.clone()).collect::<Vec<_>>());
        let logged = lines.unwrap_or_default().into_iter().rev().collect::<Vec<_>>().join("\n");
        BenchError::Function {
            function: function.to_owned(),
            problem: format!("{run} {problem}\nits last log lines:\n{logged}"),
        }
    };
    let body = answer.map_err(|e| fail(format!("failed: {}", String::from_utf8_lossy(&e))))?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| fail(format!("answered no JSON: {e}")))?;
    workload.check(&value).map_err(fail)?;
    *results.entry(outcome(&value)).or_insert(0) += 1;
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// The nearest-rank percentile (`p` in 0–100) of `samples`, which it sorts.
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// The median, or NaN for no samples (handshakes over `--plain`).
fn median_or_nan(samples: &mut [f64]) -> f64 {
    match samples.is_empty() {
        true => f64::NAN,
        false => percentile(samples, 50.0),
    }
}

/// The size of the deploy zip: the binary as `bootstrap`, deflated, as cargo-lambda packages it.
pub fn zip_size(binary: &Path) -> Result<u64, BenchError> {
    let zip_error = |detail: String| BenchError::Zip { path: binary.display().to_string(), detail };
    // Python's zipfile at zlib's default level is what `sam package` zips with: the size Lambda
    // gets. (The zip crate's zlib-rs deflate came out 3 % larger on the same binary.)
    const SCRIPT: &str = "import io, sys, zipfile\n\
        out = io.BytesIO()\n\
        with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n    z.write(sys.argv[1], 'bootstrap')\n\
        print(len(out.getvalue()))\n";
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(binary)
        .output()
        .map_err(|e| zip_error(format!("python3: {e}")))?;
    if !output.status.success() {
        return Err(zip_error(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|e| zip_error(format!("python3 printed no size: {e}")))
}

/// The line in results.md under which the hand-written findings start (the bench keeps them).
pub const FINDINGS_MARKER: &str =
    "<!-- Figures above: written by `make bench`. Findings below: written by hand, kept by it. -->";

/// `table` followed by the findings of an earlier results.md (what follows its marker), if any.
pub fn with_findings(table: &str, earlier: &str) -> String {
    let findings = earlier.split_once(FINDINGS_MARKER).map_or("\n", |(_, after)| after);
    format!("{table}\n{FINDINGS_MARKER}{findings}")
}

/// The table as Markdown; `declared` is each function's `MemorySize` in template.yaml (the memory
/// choice keeps it while it is fast and cheap enough).
pub fn markdown(report: &Report, declared: &BTreeMap<String, u64>) -> String {
    let mut out = format!(
        "Profile `{}`, target `{}`; first invocation: median of {} fresh processes; warm: {} invocations; {}; {}.\n\n",
        report.profile,
        report.target,
        report.cold_runs,
        report.warm_runs,
        if report.tls { "AWS endpoints over HTTPS (a throwaway CA)" } else { "AWS endpoints over plain HTTP" },
        if report.harness_optimised { "an optimised harness" } else { "a debug harness (slow TLS fronts)" }
    );
    out.push_str(
        "| function | zip KiB | init ms | first invocation ms | warm p50 ms | warm p99 ms | cold penalty ms | \
         first invocation's TLS handshakes (ms at the fronts) | peak RSS MiB | floor init / penalty ms | results |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for f in &report.functions {
        let results: Vec<String> = f.results.iter().map(|(code, n)| format!("{code}×{n}")).collect();
        let floor =
            f.floor.map_or("—".to_owned(), |floor| format!("{:.2} / {:.2}", floor.init_ms, floor.cold_penalty_ms));
        let handshakes = match f.first_invocation_handshakes.is_nan() {
            true => "—".to_owned(),
            false => format!("{:.0} ({:.2})", f.first_invocation_handshakes, f.first_invocation_handshake_ms),
        };
        out.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.3} | {:.3} | {:.2} | {handshakes} | {:.1} | {floor} | {} |\n",
            f.function,
            f.zip_bytes as f64 / 1024.0,
            f.init_ms,
            f.first_invocation_ms,
            f.warm_p50_ms,
            f.warm_p99_ms,
            f.cold_penalty_ms,
            f.peak_rss_kib as f64 / 1024.0,
            results.join(", ")
        ));
    }
    out.push_str(&cpu_tables(report));
    out.push_str(&node_ratios(report));
    out.push_str(&memory::markdown(&report.functions, declared));
    out.push_str(
        "\nWhere the cold start goes (ms, medians of the cold runs; `switchboard::platform::startup` marks, see below):\n\n",
    );
    out.push_str(breakdown::HEADER);
    for f in &report.functions {
        out.push_str(&breakdown::row(&f.function, &f.breakdown));
    }
    out
}

/// The Node.js references against our functions: each figure as Node.js / Rust.
fn node_ratios(report: &Report) -> String {
    let mut out = String::from(
        "\nThe Node.js 20 references (`bench/reference/`, AWS SDK v3) against ours, each as Node.js / Rust = ratio \
         (cold total at 128 MB: init + first invocation under the CPU model):\n\n\
         | function | init ms | cold total 128 MB, 20 ms period | cold total 128 MB, 100 ms period | \
         CPU ms / warm invocation | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|\n",
    );
    let ratio =
        |node: f64, rust: f64, digits: usize| format!("{node:.digits$} / {rust:.digits$} = {:.1}×", node / rust);
    let cold_128 = |f: &Figures, period: u64| {
        f.lambda.iter().find(|m| m.memory_mb == 128 && m.period_ms == period).map(|m| m.cold_total_ms)
    };
    let mut any = false;
    for node in report.functions.iter().filter(|f| f.function.ends_with(NODE_SUFFIX)) {
        let function = node.function.trim_end_matches(NODE_SUFFIX);
        let Some(rust) = report.functions.iter().find(|f| f.function == function) else { continue };
        let cold = |period| match (cold_128(node, period), cold_128(rust, period)) {
            (Some(n), Some(r)) => ratio(n, r, 1),
            _ => "—".to_owned(),
        };
        out.push_str(&format!(
            "| {function} | {} | {} | {} | {} | {} |\n",
            ratio(node.init_ms, rust.init_ms, 1),
            cold(20),
            cold(100),
            ratio(node.cpu_per_warm_ms, rust.cpu_per_warm_ms, 3),
            ratio(node.peak_rss_kib as f64 / 1024.0, rust.peak_rss_kib as f64 / 1024.0, 1),
        ));
        any = true;
    }
    if any {
        out
    } else {
        String::new()
    }
}

/// CPU per warm invocation, and each function under Lambda's CPU model.
fn cpu_tables(report: &Report) -> String {
    let floor = report.functions.iter().find(|f| f.function == "bench-floor").map(|f| f.cpu_per_warm_ms);
    let mut out = String::from(
        "\nCPU (user + system) per warm invocation, over the warm series; AWS requests per warm invocation:\n\n\
         | function | CPU ms / invocation | over the floor ms | AWS requests / invocation |\n|---|---:|---:|---:|\n",
    );
    for f in &report.functions {
        let over = floor.map_or("—".to_owned(), |floor| format!("{:.3}", f.cpu_per_warm_ms - floor));
        out.push_str(&format!(
            "| {} | {:.3} | {over} | {:.2} |\n",
            f.function, f.cpu_per_warm_ms, f.aws_calls_per_warm
        ));
    }
    out.push_str(
        "\nUnder Lambda's CPU model (init at full CPU, then memory/1,769 MB of one core; ms): cold total = init + \
         first invocation, median of fresh processes; warm p50 / p99 of the last one's warm series.\n\n\
         | function | MB | cold total, 20 ms period | warm p50 / p99, 20 ms | cold total, 100 ms period | warm p50 / p99, 100 ms |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for f in &report.functions {
        for memory in cpu_model::MEMORY_SIZES_MB {
            let at = |period: u64| f.lambda.iter().find(|m| m.memory_mb == memory && m.period_ms == period);
            let (short, long) = (at(20), at(100));
            let cold = |m: Option<&ModelFigures>| m.map_or("—".to_owned(), |m| format!("{:.1}", m.cold_total_ms));
            let warm = |m: Option<&ModelFigures>| {
                m.map_or("—".to_owned(), |m| format!("{:.1} / {:.1}", m.warm_p50_ms, m.warm_p99_ms))
            };
            out.push_str(&format!(
                "| {} | {memory} | {} | {} | {} | {} |\n",
                f.function,
                cold(short),
                warm(short),
                cold(long),
                warm(long)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<f64> = (1..=200).map(f64::from).collect();
        samples.reverse();
        assert_eq!(percentile(&mut samples, 50.0), 100.0);
        assert_eq!(percentile(&mut samples, 99.0), 198.0);
        assert_eq!(percentile(&mut samples, 100.0), 200.0);
        assert_eq!(percentile(&mut [3.0], 99.0), 3.0);
        assert!(percentile(&mut [], 50.0).is_nan());
    }

    #[test]
    fn zip_size_deflates_the_binary() {
        let path = std::env::temp_dir().join(format!("bench-zip-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, vec![0u8; 1 << 20]).unwrap();
        let size = zip_size(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(size > 100 && size < 10_000, "1 MiB of zeros deflates to a few KiB, got {size}");
    }

    #[test]
    fn every_function_has_a_workload_whose_event_exists() {
        let functions = crate::cloud::function_names().unwrap().into_iter().chain(["bench-floor".to_owned()]);
        for function in functions {
            let workload = workload(&function).unwrap_or_else(|| panic!("{function} has no workload"));
            if let Some(event) = workload.event {
                let path = crate::repo_root().join("events").join(&function).join(event);
                assert!(path.exists(), "{}", path.display());
            }
        }
    }

    #[test]
    fn answers_other_than_the_expected_success_are_refused() {
        let flow = workload("one-time-pin").unwrap();
        assert!(flow.check(&serde_json::json!({"Result": "SENT", "PinLength": "6"})).is_ok());
        let refused = flow.check(&serde_json::json!({"Result": "RATE_LIMITED"})).unwrap_err();
        assert!(refused.contains("answered RATE_LIMITED, expected SENT"), "{refused}");
        assert!(flow.check(&serde_json::json!({"statusCode": 200})).is_err());

        let cache = workload("put-connect-user-cache").unwrap();
        let answer = |data: &str| serde_json::json!({"statusCode": 200, "body": format!(r#"{{"success": "s", "data": {data}}}"#)});
        assert!(cache.check(&answer("true")).is_ok());
        let skipped = cache.check(&answer("false")).unwrap_err();
        assert!(skipped.contains("data false, expected true"), "{skipped}");
        assert!(cache.check(&serde_json::json!({"statusCode": 403, "body": "{}"})).is_err());
        assert_eq!(expected_result("bench-floor"), Some("OK"));
        assert_eq!(expected_result("no-such-function"), None);
    }

    #[test]
    fn a_few_local_cloud_stalls_are_left_out_of_a_series_and_nothing_else_is() {
        let stalled = Err(Bytes::from_static(
            br#"{"errorType":"StoreError","errorMessage":"request has timed out: operation attempt timeout (single attempt) occurred after 2s"}"#,
        ));
        let mut stalls = Stalls::default();
        assert!((0..Stalls::MAX).all(|_| stalls.tolerate("f", "warm invocation 3", &stalled)));
        assert!(!stalls.tolerate("f", "warm invocation 4", &stalled), "a fourth stall fails the bench");
        let other = Err(Bytes::from_static(br#"{"errorType":"StoreError","errorMessage":"ConditionalCheckFailed"}"#));
        assert!(!Stalls::default().tolerate("f", "warm invocation 1", &other));
        assert!(!Stalls::default().tolerate("f", "warm invocation 1", &Ok(Bytes::from_static(b"{}"))));
    }

    #[test]
    fn findings_under_the_marker_survive_a_new_run() {
        let first = with_findings("| old |\n", "");
        assert!(first.starts_with("| old |\n") && first.contains(FINDINGS_MARKER));
        let edited = format!("{first}\n## What changed\nroots compiled in\n");
        let second = with_findings("| new |\n", &edited);
        assert!(second.starts_with("| new |\n"), "{second}");
        assert!(!second.contains("| old |"));
        assert!(second.ends_with("## What changed\nroots compiled in\n"), "{second}");
        assert_eq!(second.matches(FINDINGS_MARKER).count(), 1);
    }

    #[test]
    fn a_reference_runs_its_functions_workload_under_a_key_of_its_own() {
        let reference = Subject::node("check-emergency", Path::new("/r"));
        assert_eq!(reference.name, "check-emergency.node");
        assert_eq!(reference.function, "check-emergency");
        assert_eq!(reference.env["_HANDLER"], "check-emergency/index.handler");
        assert_eq!(reference.package, Path::new("/r/check-emergency/index.mjs"));
        assert_eq!(bench_access_key(&reference.name), "LOCALBENCHCHECK_EMERGENCY_NODE");
        assert_eq!(bench_access_key("check-emergency"), "LOCALBENCHCHECK_EMERGENCY");
        assert!(NODE_REFERENCES.iter().all(|f| workload(f).is_some()));
    }

    #[test]
    fn markdown_has_a_row_per_function() {
        let figures = Figures {
            function: "f".into(),
            zip_bytes: 2048,
            init_ms: 1.0,
            first_invocation_ms: 3.0,
            warm_p50_ms: 0.5,
            warm_p99_ms: 0.9,
            cold_penalty_ms: 2.5,
            first_invocation_handshakes: 2.0,
            first_invocation_handshake_ms: 1.5,
            peak_rss_kib: 10_240,
            results: BTreeMap::from([("OK".to_owned(), 2)]),
            breakdown: breakdown::Spans::default(),
            floor: Some(Floor { init_ms: 0.75, first_invocation_ms: 1.5, cold_penalty_ms: 0.5 }),
            cpu_per_warm_ms: 0.8,
            aws_calls_per_warm: 1.0,
            lambda: vec![ModelFigures {
                memory_mb: 128,
                period_ms: 20,
                cold_total_ms: 30.25,
                warm_p50_ms: 13.9,
                warm_p99_ms: 21.0,
            }],
            build: String::new(),
        };
        let node = Figures {
            function: format!("f{NODE_SUFFIX}"),
            init_ms: 150.0,
            cpu_per_warm_ms: 2.4,
            peak_rss_kib: 81_920,
            lambda: vec![ModelFigures { cold_total_ms: 605.0, ..figures.lambda[0] }],
            ..figures.clone()
        };
        let report = Report {
            profile: "release".into(),
            target: "x".into(),
            cold_runs: 1,
            warm_runs: 1,
            tls: true,
            harness_optimised: true,
            functions: vec![figures, node],
        };
        let table = markdown(&report, &BTreeMap::new());
        assert!(table.contains("over HTTPS"), "{table}");
        assert!(
            table.contains(
                "| f | 150.0 / 1.0 = 150.0× | 605.0 / 30.2 = 20.0× | — | 2.400 / 0.800 = 3.0× | 80.0 / 10.0 = 8.0× |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| f | 2 | 1.00 | 3.00 | 0.500 | 0.900 | 2.50 | 2 (1.50) | 10.0 | 0.75 / 0.50 | OK×2 |"),
            "{table}"
        );
        assert!(table.contains("| f | 0.800 | — | 1.00 |"), "{table}");
        assert!(table.contains("| f | 128 | 30.2 | 13.9 / 21.0 | — | — |"), "{table}");
    }
}
