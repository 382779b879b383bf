//! Runs each function's real binary behind its own Lambda Runtime API, and serves the Lambda Invoke
//! API (`POST /2015-03-31/functions/{name}/invocations`) for all of them on one port, as the service
//! does: a function error comes back as `200` with `X-Amz-Function-Error: Unhandled`.
//!
//! The binaries are the ones `cargo build` made (no compile on first invoke, unlike
//! `cargo lambda watch`), so tests start in milliseconds and measure what will be deployed.
//! Each function's stdout and stderr are kept line by line for tests that inspect logs.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use serde::Serialize;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

/// What to run for one function.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub name: String,
    pub binary: PathBuf,
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
}

/// One line a function printed.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub function: String,
    pub line: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("function binary {0} does not exist; build the workspace first (`cargo build --workspace`)")]
    MissingBinary(String),
    #[error("could not start {name}: {source}")]
    Spawn { name: String, source: std::io::Error },
    #[error("could not listen on loopback: {0}")]
    Listen(#[from] std::io::Error),
}

/// How an invocation ended, and when the function posted it.
enum Outcome {
    Response(Bytes, Instant),
    Error(Bytes, Instant),
}

struct Pending {
    id: String,
    payload: Bytes,
    reply: oneshot::Sender<Outcome>,
}

struct Slot {
    name: String,
    arn: String,
    timeout: Duration,
    queue: mpsc::UnboundedSender<Pending>,
    next: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Bytes>>,
    /// Set when the process has exited: every invocation fails with it from then on.
    exited: Mutex<Option<Bytes>>,
    /// When the runtime first asked for an event: the end of its init phase.
    first_poll: OnceLock<Instant>,
}

impl Slot {
    /// The error every invocation gets once the function cannot run any more.
    fn dead(&self) -> Option<Bytes> {
        let exited = self.exited.lock().ok().and_then(|e| e.clone());
        exited.or_else(|| self.init_error.lock().ok().and_then(|e| e.clone()))
    }

    /// Marks the process exited and fails what is queued or in flight.
    async fn exit(&self, status: String) {
        let error = Bytes::from(
            serde_json::json!({"errorType": "Runtime.ExitError", "errorMessage": format!("Runtime exited: {status}")})
                .to_string(),
        );
        if let Ok(mut exited) = self.exited.lock() {
            *exited = Some(error.clone());
        }
        let in_flight: Vec<_> = self.in_flight.lock().map(|mut m| m.drain().collect()).unwrap_or_default();
        for (_, reply) in in_flight {
            let _ = reply.send(Outcome::Error(error.clone(), Instant::now()));
        }
        let mut next = self.next.lock().await;
        while let Ok(pending) = next.try_recv() {
            let _ = pending.reply.send(Outcome::Error(error.clone(), Instant::now()));
        }
    }
}

/// The answer to one invocation: the payload or the function's error, when it was posted, and the
/// request id the function saw (the `requestId` of its log lines).
#[derive(Debug, Clone)]
pub struct Invocation {
    pub result: Result<Bytes, Bytes>,
    pub posted_at: Instant,
    pub request_id: String,
}

/// One function's process behind its own Runtime API. Dropping it kills the process (by process id)
/// and stops its server.
pub struct FunctionProcess {
    slot: Arc<Slot>,
    /// Just before the process was spawned.
    pub started: Instant,
    /// The same moment by the wall clock, which a function's startup marks are stamped with.
    pub started_at: SystemTime,
    pub pid: Option<u32>,
    /// The Runtime API server.
    server: JoinHandle<()>,
    /// One per output stream; they end when the process has exited and its pipes are drained.
    log_readers: Vec<JoinHandle<()>>,
    /// Owns the child: aborting it drops the child, which kills the process (`kill_on_drop`).
    watcher: JoinHandle<()>,
}

impl FunctionProcess {
    pub async fn spawn(
        spec: &FunctionSpec,
        region: &str,
        account_id: &str,
        logs: Arc<Mutex<Vec<LogLine>>>,
    ) -> Result<Self, HostError> {
        if !spec.binary.exists() {
            return Err(HostError::MissingBinary(spec.binary.display().to_string()));
        }
        let (queue, next) = mpsc::unbounded_channel();
        let slot = Arc::new(Slot {
            name: spec.name.clone(),
            arn: format!("arn:aws:lambda:{region}:{account_id}:function:{}", spec.name),
            timeout: spec.timeout,
            queue,
            next: tokio::sync::Mutex::new(next),
            in_flight: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            exited: Mutex::new(None),
            first_poll: OnceLock::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let runtime_api = listener.local_addr()?;
        let app = runtime_api_router(slot.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let started = Instant::now();
        let started_at = SystemTime::now();
        let mut child = Command::new(&spec.binary)
            .env_clear()
            .envs(&spec.env)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| HostError::Spawn { name: spec.name.clone(), source })?;
        let mut log_readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            log_readers.push(collect_lines(spec.name.clone(), out, logs.clone()));
        }
        if let Some(err) = child.stderr.take() {
            log_readers.push(collect_lines(spec.name.clone(), err, logs));
        }
        let pid = child.id();
        let watched = slot.clone();
        let watcher = tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => status.to_string(),
                Err(error) => error.to_string(),
            };
            watched.exit(status).await;
        });
        Ok(Self { slot, started, started_at, pid, server, log_readers, watcher })
    }

    /// Kills the process and waits until every line it printed has been collected (at most
    /// `drain_limit`): dropping it instead may lose the lines still in its pipes.
    pub async fn stop(mut self, drain_limit: Duration) {
        self.watcher.abort();
        let _ = (&mut self.watcher).await;
        let readers = &mut self.log_readers;
        let _ = tokio::time::timeout(drain_limit, async {
            for reader in readers.iter_mut() {
                let _ = reader.await;
            }
        })
        .await;
    }

    /// Queues an invocation and waits for the answer, at most the function's timeout.
    pub async fn invoke(&self, payload: Bytes) -> Invocation {
        let request_id = uuid::Uuid::new_v4().to_string();
        let error = |body: String| Invocation {
            result: Err(Bytes::from(body)),
            posted_at: Instant::now(),
            request_id: request_id.clone(),
        };
        if let Some(dead) = self.slot.dead() {
            return Invocation { result: Err(dead), posted_at: Instant::now(), request_id };
        }
        let (reply, answer) = oneshot::channel();
        if self.slot.queue.send(Pending { id: request_id.clone(), payload, reply }).is_err() {
            return error(
                r#"{"errorType":"Runtime.Unavailable","errorMessage":"the function's queue is closed"}"#.into(),
            );
        }
        match tokio::time::timeout(self.slot.timeout, answer).await {
            Ok(Ok(Outcome::Response(body, at))) => Invocation { result: Ok(body), posted_at: at, request_id },
            Ok(Ok(Outcome::Error(body, at))) => Invocation { result: Err(body), posted_at: at, request_id },
            Ok(Err(_)) => {
                error(r#"{"errorType":"Runtime.ExitError","errorMessage":"the function process exited"}"#.into())
            }
            Err(_) => error(format!(
                r#"{{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after {:.2} seconds"}}"#,
                self.slot.timeout.as_secs_f64()
            )),
        }
    }

    /// When the runtime first asked for an event (its init phase ended), if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        self.slot.first_poll.get().copied()
    }

    /// The process's peak resident set size (`VmHWM`), in KiB, while it runs.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        self.server.abort();
        self.watcher.abort();
        for reader in &self.log_readers {
            reader.abort();
        }
    }
}

/// The running fleet: one [`FunctionProcess`] per function and the Invoke API in front of them.
pub struct LambdaHost {
    pub invoke_addr: SocketAddr,
    logs: Arc<Mutex<Vec<LogLine>>>,
    processes: Arc<HashMap<String, FunctionProcess>>,
    server: JoinHandle<()>,
}

impl LambdaHost {
    pub async fn start(functions: Vec<FunctionSpec>, region: &str, account_id: &str) -> Result<Self, HostError> {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let mut processes = HashMap::new();
        for spec in functions {
            let process = FunctionProcess::spawn(&spec, region, account_id, logs.clone()).await?;
            processes.insert(spec.name, process);
        }
        let processes = Arc::new(processes);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let invoke_addr = listener.local_addr()?;
        let app = invoke_router(processes.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { invoke_addr, logs, processes, server })
    }

    /// The Lambda endpoint (what `AWS_ENDPOINT_URL_LAMBDA` or a flow runner points at).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.invoke_addr)
    }

    /// Every line the functions printed so far.
    pub fn logs(&self) -> Vec<LogLine> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Process ids of the function processes.
    pub fn pids(&self) -> Vec<u32> {
        self.processes.values().filter_map(|p| p.pid).collect()
    }
}

impl Drop for LambdaHost {
    fn drop(&mut self) {
        // The invoke server holds the other reference to the processes; stop it so they drop too.
        self.server.abort();
    }
}

fn collect_lines<R>(function: String, stream: R, logs: Arc<Mutex<Vec<LogLine>>>) -> JoinHandle<()>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if std::env::var_os("SWITCHBOARD_ECHO_LOGS").is_some() {
                eprintln!("[{function}] {line}");
            }
            if let Ok(mut logs) = logs.lock() {
                logs.push(LogLine { function: function.clone(), line });
            }
        }
    })
}

fn runtime_api_router(slot: Arc<Slot>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(invocation_response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(slot)
}

/// `GET …/invocation/next`: long-polls until an invocation is queued for this function.
async fn next_invocation(State(slot): State<Arc<Slot>>) -> Response {
    let _ = slot.first_poll.set(Instant::now());
    let pending = slot.next.lock().await.recv().await;
    let Some(pending) = pending else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let deadline = SystemTime::now()
        .checked_add(slot.timeout)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", pending.id.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", slot.arn.clone()),
        ("lambda-runtime-trace-id", format!("Root=1-00000000-{}", pending.id.replace('-', "")[..24].to_owned())),
        ("content-type", "application/json".to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if let Ok(mut in_flight) = slot.in_flight.lock() {
        in_flight.insert(pending.id, pending.reply);
    }
    (StatusCode::OK, headers, pending.payload).into_response()
}

fn complete(slot: &Slot, id: &str, outcome: Outcome) -> StatusCode {
    let reply = slot.in_flight.lock().ok().and_then(|mut m| m.remove(id));
    match reply {
        Some(reply) => {
            let _ = reply.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn invocation_response(State(slot): State<Arc<Slot>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    complete(&slot, &id, Outcome::Response(body, Instant::now()))
}

async fn invocation_error(State(slot): State<Arc<Slot>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    complete(&slot, &id, Outcome::Error(body, Instant::now()))
}

async fn init_error(State(slot): State<Arc<Slot>>, body: Bytes) -> StatusCode {
    tracing::error!(function = %slot.name, error = %String::from_utf8_lossy(&body), "function failed to initialise");
    if let Ok(mut init_error) = slot.init_error.lock() {
        *init_error = Some(body);
    }
    StatusCode::ACCEPTED
}

/// Lambda's limit on a synchronous invocation's request payload (6 MB).
pub const MAX_INVOKE_PAYLOAD: usize = 6 * 1024 * 1024;

fn invoke_router(processes: Arc<HashMap<String, FunctionProcess>>) -> Router {
    Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        // Read a little more than the limit, so a larger event gets Lambda's own error, not axum's.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_INVOKE_PAYLOAD + 1))
        .with_state(processes)
}

/// Lambda's answer to an event over [`MAX_INVOKE_PAYLOAD`].
fn payload_too_large() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("x-amzn-ErrorType", HeaderValue::from_static("RequestEntityTooLargeException"));
    let message = format!("Request must be smaller than {MAX_INVOKE_PAYLOAD} bytes for the InvokeFunction operation");
    let body = serde_json::json!({"Type": "User", "message": message});
    (StatusCode::PAYLOAD_TOO_LARGE, headers, body.to_string()).into_response()
}

/// Lambda `Invoke` (RequestResponse). `function` may be a name or an ARN. A function error comes
/// back as `200` with `X-Amz-Function-Error: Unhandled`, as the service answers it; every answer from
/// a function carries its request id in `x-amzn-RequestId`, as the service's do.
async fn invoke(
    State(processes): State<Arc<HashMap<String, FunctionProcess>>>,
    Path(function): Path<String>,
    payload: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let payload = match payload {
        Ok(payload) if payload.len() <= MAX_INVOKE_PAYLOAD => payload,
        Ok(_) => return payload_too_large(),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return payload_too_large(),
        Err(rejection) => return rejection.into_response(),
    };
    let name = function.rsplit_once("function:").map_or(function.as_str(), |(_, n)| n);
    let name = name.split(':').next().unwrap_or(name);
    let Some(process) = processes.get(name) else {
        let mut headers = HeaderMap::new();
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static("ResourceNotFoundException"));
        let body = serde_json::json!({"Type": "User", "message": format!("Function not found: {function}")});
        return (StatusCode::NOT_FOUND, headers, body.to_string()).into_response();
    };
    let invocation = process.invoke(payload).await;
    let mut headers = HeaderMap::new();
    if let Ok(id) = HeaderValue::from_str(&invocation.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    match invocation.result {
        Ok(body) => (StatusCode::OK, headers, body).into_response(),
        Err(body) => {
            headers.insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
            (StatusCode::OK, headers, body).into_response()
        }
    }
}

/// A Lambda `Invoke` (RequestResponse) client for the local Invoke API, used by the flow runner and
/// tests. A function error, an HTTP error or a timeout is an `Err` with the function's own message.
#[derive(Debug, Clone)]
pub struct InvokeClient {
    endpoint: String,
    http: reqwest::Client,
}

impl InvokeClient {
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self { endpoint: endpoint.into(), http: reqwest::Client::new() }
    }

    pub async fn invoke(&self, function: &str, payload: &serde_json::Value) -> Result<serde_json::Value, String> {
        self.invoke_within(function, payload, Duration::from_secs(30)).await
    }

    pub async fn invoke_within(
        &self,
        function: &str,
        payload: &serde_json::Value,
        limit: Duration,
    ) -> Result<serde_json::Value, String> {
        self.invoke_answer(function, payload, limit).await.result
    }

    /// Like [`Self::invoke_within`], with the invocation's request id when the function was reached
    /// (what API Gateway logs as `$context.integration.requestId`).
    pub async fn invoke_answer(&self, function: &str, payload: &serde_json::Value, limit: Duration) -> InvokeAnswer {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.endpoint);
        let response = match self.http.post(url).json(payload).timeout(limit).send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => {
                return InvokeAnswer { request_id: None, result: Err(format!("no answer within {}s", limit.as_secs())) }
            }
            Err(e) => return InvokeAnswer { request_id: None, result: Err(e.to_string()) },
        };
        let request_id = response.headers().get("x-amzn-requestid").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let function_error = response.headers().contains_key("x-amz-function-error");
        let status = response.status();
        let result = match response.text().await {
            Err(e) => Err(e.to_string()),
            Ok(body) if function_error || !status.is_success() => Err(format!("{status}: {body}")),
            Ok(body) => serde_json::from_str(&body).map_err(|e| format!("response is not JSON: {e}")),
        };
        InvokeAnswer { request_id, result }
    }
}

/// One answer of the Invoke API: the function's payload (or the error, as [`InvokeClient::invoke`]
/// words it) and the request id of the invocation, when it reached a function.
#[derive(Debug, Clone)]
pub struct InvokeAnswer {
    pub request_id: Option<String>,
    pub result: Result<serde_json::Value, String>,
}
