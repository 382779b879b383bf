//! Every AWS request the fleet makes, recorded for `tools/iam_check.py`, which evaluates each one
//! against the calling function's own policy in template.yaml (docs/least-privilege.md).
//!
//! With `SWITCHBOARD_CALL_LOG=<dir>` set (`make test` sets it), each local cloud records into a
//! directory of its own, `<dir>/<test>-<pid>-<n>/`:
//! - `moto.jsonl`: moto's own recorder (`MOTO_ENABLE_RECORDING`), one request a line;
//! - `emulator.jsonl`: the emulator's requests, in the same shape ([`record_request`]);
//! - `cloud.json`: the test, region and account, each function's access key, and the template's
//!   parameters and resources as this cloud has them ([`CallLog::write_cloud`]);
//! - `expected-denials.jsonl`: calls a test makes where AWS's IAM would refuse them too
//!   ([`CallLog::expect_denied`]).
//!
//! Each function signs with an access key of its own ([`function_access_key`]), so a request names
//! its caller as it would in AWS (by its role's credentials).

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use base64::Engine as _;
use serde_json::{json, Value};

/// The variable naming the directory the recordings go to.
pub const CALL_LOG_ENV: &str = "SWITCHBOARD_CALL_LOG";

/// On the emulator's own requests to moto (naming a function's key to ask STS whose it is): the
/// checker leaves them out, as they are the stand-in's, not the function's.
pub const LOCAL_ORIGIN_HEADER: &str = "x-switchboard-local-origin";

/// The access key id a function signs with locally: its name, upper-cased, after a fixed prefix.
/// (SigV4 puts the key id in every signature, so the recordings name the caller.)
pub fn function_access_key(function: &str) -> String {
    format!("LOCALFN{}", function.to_ascii_uppercase().replace('-', "_"))
}

/// One local cloud's recording directory.
#[derive(Debug, Clone)]
pub struct CallLog {
    dir: PathBuf,
}

static CLOUDS: AtomicUsize = AtomicUsize::new(0);

/// `<test binary>::<test>` for a cloud started by a test (libtest names each test's thread after
/// it), or the program's name.
pub fn current_test() -> String {
    let binary = std::env::args().next().unwrap_or_default();
    let binary = Path::new(&binary).file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    // target/debug/deps/<name>-<hash>
    let binary =
        binary.rsplit_once('-').filter(|(_, hash)| hash.len() == 16).map_or(binary.clone(), |(n, _)| n.to_owned());
    match std::thread::current().name() {
        Some(thread) if thread != "main" && !thread.starts_with("tokio-") => format!("{binary}::{thread}"),
        _ => binary,
    }
}

impl CallLog {
    /// A new directory under `$SWITCHBOARD_CALL_LOG` for a cloud started now, or `None` when the
    /// variable is unset (nothing is recorded).
    pub fn from_env() -> std::io::Result<Option<Self>> {
        let Some(root) = std::env::var_os(CALL_LOG_ENV).filter(|v| !v.is_empty()) else { return Ok(None) };
        let test = current_test();
        let safe: String =
            test.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '.' }).collect();
        let n = CLOUDS.fetch_add(1, Ordering::Relaxed);
        let dir = PathBuf::from(root).join(format!("{safe}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Some(Self { dir }))
    }

    pub fn moto_file(&self) -> PathBuf {
        self.dir.join("moto.jsonl")
    }

    pub fn emulator_file(&self) -> PathBuf {
        self.dir.join("emulator.jsonl")
    }

    /// Says that `function` will, on purpose, call `action` on `resource` (a wildcard pattern) where
    /// its policy does not allow it, as AWS's IAM would refuse too: the checker lists such a call
    /// as expected, and reports it if it never happens.
    pub fn expect_denied(&self, function: &str, action: &str, resource: &str) -> std::io::Result<()> {
        let line = json!({"function": function, "action": action, "resource": resource});
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("expected-denials.jsonl"))?;
        writeln!(file, "{line}")
    }

    /// Writes `cloud.json`: what the checker needs to read this cloud's requests (see the module).
    pub fn write_cloud(&self, cloud: &Value) -> std::io::Result<()> {
        let mut cloud = cloud.clone();
        cloud["test"] = json!(current_test());
        std::fs::write(self.dir.join("cloud.json"), serde_json::to_vec_pretty(&cloud)?)
    }
}

/// The emulator's recorder: a file a request is appended to, one JSON line each.
#[derive(Clone)]
pub struct RequestRecorder(Arc<Mutex<std::fs::File>>);

impl RequestRecorder {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self(Arc::new(Mutex::new(file))))
    }

    fn write(&self, line: &Value) {
        if let Ok(mut file) = self.0.lock() {
            // A recording that cannot be written shows as a missing call in the check, not here.
            let _ = writeln!(file, "{line}");
        }
    }
}

/// Records a request as moto's recorder does (headers, method, URL, body; a body that is not text
/// base64-encoded), then serves it.
pub async fn record_request(State(recorder): State<RecordRequest>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::builder().status(400).body(Body::from("unreadable body")).unwrap_or_default();
    };
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), json!(String::from_utf8_lossy(value.as_bytes()))))
        .collect();
    let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let (body_text, encoded) = match std::str::from_utf8(&bytes) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(&bytes), true),
    };
    recorder.0.write(&json!({
        "headers": headers,
        "method": parts.method.as_str(),
        "url": format!("http://{host}{}", parts.uri),
        "body": body_text,
        "body_encoded": encoded,
    }));
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// The middleware's state.
#[derive(Clone)]
pub struct RecordRequest(pub RequestRecorder);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_functions_key_names_it() {
        assert_eq!(function_access_key("check-emergency"), "LOCALFNCHECK_EMERGENCY");
    }
}
