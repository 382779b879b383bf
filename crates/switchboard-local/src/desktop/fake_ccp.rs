//! The fake CCP origin: what the pages embed at the config's `ccpUrl` when there is no Connect
//! instance. It serves the browser tests' fake CCP (`desktop/test/browser/support/fake-ccp.html`
//! and `.js`), which loads the same pinned Streams bundle as the pages and speaks Streams' own
//! conduit protocol: it acknowledges first, records the `CONFIGURE` it receives, answers
//! `SYNCHRONIZE` and `API_REQUEST`s, and pushes `AgentEvents.UPDATE` snapshots when a test (or a
//! developer in the browser console) calls `window.fakeCcp.pushAgent({agentARN, name, contacts})`
//! in its frame. `/login` is the instance's login page that Streams opens when the handshake fails.
//!
//! Like Connect, it lets itself be framed only by the approved origins (the site's, and the agent-app's
//! dev origins), and takes the agent-app's `POST /auth/sign-in` of its `ccplogin` tokens.

use std::{net::SocketAddr, path::Path, sync::Arc};

use axum::{
    extract::State,
    http::{header, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Redirect, Response},
    Router,
};

use super::DesktopError;

/// The fake CCP's files, read once at start.
pub struct FakeCcpFiles {
    page: String,
    script: Vec<u8>,
    streams: Vec<u8>,
}

impl FakeCcpFiles {
    /// From the repository: the browser tests' fake CCP and the Streams bundle `npm ci` installed.
    pub fn load(desktop: &Path) -> Result<Self, DesktopError> {
        let support = desktop.join("test/browser/support");
        Ok(Self {
            // The page's mode placeholder: this CCP always answers the handshake.
            page: super::read_text(&support.join("fake-ccp.html"))?.replace("{{MODE}}", "answer"),
            script: super::read_bytes(&support.join("fake-ccp.js"))?,
            streams: super::read_bytes(&super::streams_bundle(desktop))?,
        })
    }
}

struct FakeCcp {
    files: FakeCcpFiles,
    frame_ancestors: String,
}

/// A running fake CCP origin; it stops with the runtime that started it.
pub struct FakeCcpHandle {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FakeCcpHandle {
    /// The instance's origin (`${ConnectInstanceUrl}` in the template's policies).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The config's `ccpUrl`.
    pub fn ccp_url(&self) -> String {
        format!("{}/ccp-v2/", self.origin())
    }

    /// The config's `loginUrl`.
    pub fn login_url(&self) -> String {
        format!("{}/login", self.origin())
    }
}

impl Drop for FakeCcpHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the fake CCP on `listener`, framable by `approved_origins` only.
pub async fn serve(
    listener: tokio::net::TcpListener,
    files: FakeCcpFiles,
    approved_origins: &[String],
) -> std::io::Result<FakeCcpHandle> {
    let addr = listener.local_addr()?;
    let frame_ancestors = if approved_origins.is_empty() { "'none'".to_owned() } else { approved_origins.join(" ") };
    let state = Arc::new(FakeCcp { files, frame_ancestors });
    let app = Router::new().fallback(handle).with_state(state);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "fake CCP stopped");
        }
    });
    Ok(FakeCcpHandle { addr, task })
}

async fn handle(State(ccp): State<Arc<FakeCcp>>, method: Method, uri: Uri) -> Response {
    let javascript = "text/javascript; charset=utf-8";
    match (method, uri.path()) {
        // The page's scripts are relative: without the slash they would resolve beside `/ccp-v2`.
        (Method::GET, "/ccp-v2") => Redirect::permanent("/ccp-v2/").into_response(),
        // Where the agent-app posts the `ccplogin` tokens (form field `credentials`); the real
        // instance sets its session cookie and redirects to the CCP. This CCP needs no session.
        (Method::POST, "/auth/sign-in") => Redirect::to("/ccp-v2/").into_response(),
        (_, "/ccp-v2/") => {
            let mut response = page(ccp.files.page.clone());
            if let Ok(value) = HeaderValue::from_str(&format!("frame-ancestors {}", ccp.frame_ancestors)) {
                response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
            }
            response
        }
        (_, "/ccp-v2/fake-ccp.js") => ([(header::CONTENT_TYPE, javascript)], ccp.files.script.clone()).into_response(),
        (_, "/ccp-v2/connect-streams-min.js") => {
            ([(header::CONTENT_TYPE, javascript)], ccp.files.streams.clone()).into_response()
        }
        (_, "/login") => page(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Sign in to Amazon Connect</title>\n\
             <link rel=\"icon\" href=\"data:,\">\n</head>\n<body>\n<p>Fake instance login: the local cloud's CCP needs no sign-in.</p>\n</body>\n</html>\n"
                .to_owned(),
        ),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn page(html: String) -> Response {
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
