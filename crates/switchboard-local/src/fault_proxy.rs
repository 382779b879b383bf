//! A fault-injecting proxy in front of moto, for the failures moto cannot produce on its own: one
//! operation of a service failing while the others work (ECS `RunTask` succeeding and `StopTask`
//! failing, say). A function gets it as its `AWS_ENDPOINT_URL_<SERVICE>` (a per-function override);
//! requests are forwarded unchanged, except those of the failing operations (named by their JSON
//! protocol `X-Amz-Target`, e.g. `StopTask`), which get the service's 500 without reaching moto.

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};

#[derive(Clone, Default)]
struct Faults {
    upstream: Arc<Mutex<Option<String>>>,
    failing: Arc<Mutex<BTreeSet<String>>>,
    http: reqwest::Client,
}

/// A running proxy on a loopback port; it stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    faults: Faults,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts on a free loopback port. It forwards nothing until [`FaultProxy::forward_to`] (moto's
    /// port is known only once the local cloud runs, after the functions' environment was set).
    pub async fn start() -> std::io::Result<Self> {
        let faults = Faults::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().fallback(forward).with_state(faults.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "fault proxy stopped");
            }
        });
        Ok(Self { addr, faults, task })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where requests go (moto's endpoint).
    pub fn forward_to(&self, upstream: &str) {
        if let Ok(mut target) = self.faults.upstream.lock() {
            *target = Some(upstream.trim_end_matches('/').to_owned());
        }
    }

    /// Every later call of `operation` fails with a 500.
    pub fn fail(&self, operation: &str) {
        if let Ok(mut failing) = self.faults.failing.lock() {
            failing.insert(operation.to_owned());
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(faults): State<Faults>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    if faults.failing.lock().is_ok_and(|f| f.contains(&operation)) {
        let error =
            serde_json::json!({"__type": "ServerException", "message": format!("{operation} failed (injected)")});
        return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(error)).into_response();
    }
    let Some(upstream) = faults.upstream.lock().ok().and_then(|u| u.clone()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the fault proxy has no upstream yet").into_response();
    };
    forwarded(&faults.http, &upstream, method, &uri, &headers, body).await
}

/// `method uri` with `headers` and `body`, sent on to `upstream` (`http://host:port`), and its answer.
/// (The tls_front fronts relay this way too.)
pub(crate) async fn forwarded(
    http: &reqwest::Client,
    upstream: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = http.request(method, format!("{upstream}{path}")).body(body);
    for (name, value) in headers.iter().filter(|(name, _)| *name != "host" && end_to_end(name.as_str())) {
        request = request.header(name, value);
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let status = answer.status();
    let mut response_headers = HeaderMap::new();
    // Not moto's `Connection: close` (it answers HTTP/1.0): the client's connection to this relay stays open.
    for (name, value) in answer.headers().iter().filter(|(name, _)| end_to_end(name.as_str())) {
        response_headers.insert(name, value.clone());
    }
    match answer.bytes().await {
        Ok(bytes) => (status, response_headers, bytes).into_response(),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

/// Whether a header travels end to end (not one of [`crate::net::HOP_BY_HOP`]).
fn end_to_end(name: &str) -> bool {
    !crate::net::HOP_BY_HOP.contains(&name)
}
