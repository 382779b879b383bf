//! The agent desktop pages in the local cloud (`specs/desktop.md`, "Tests"): the site as the stack
//! serves it, on loopback origins, against the real back end.
//!
//! - [`publish`]: the desktop bucket in moto's S3, filled from `desktop/` with `config.json` naming
//!   the local origins (until the `publish-desktop` function exists to do it).
//! - [`cloudfront`]: the CloudFront stand-in serving the bucket with the response headers the
//!   template's policies give each path ([`template`]), and `/api/*` proxied to the local HTTP API.
//! - [`fake_ccp`]: the Connect instance's origin, with a fake CCP speaking Streams' handshake.
//! - Managed login is the emulator's Cognito front (`emulator::cognito`): the user pool domain.
//!
//! [`LocalCloud::start_desktop`](crate::cloud::LocalCloud::start_desktop) puts them together.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub mod cloudfront;
pub mod fake_ccp;
pub mod publish;
pub mod template;

/// The three pages, by name.
pub const PAGES: [&str; 3] = ["agent.html", "audio-only.html", "in-session.html"];

#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    #[error("desktop asset {0}")]
    Asset(String),
    #[error("S3: {0}")]
    S3(String),
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, DesktopError> {
    std::fs::read(path).map_err(|source| DesktopError::Read { path: path.to_owned(), source })
}

fn read_text(path: &Path) -> Result<String, DesktopError> {
    std::fs::read_to_string(path).map_err(|source| DesktopError::Read { path: path.to_owned(), source })
}

/// The pages' folder in the repository.
pub fn desktop_dir() -> PathBuf {
    crate::repo_root().join("desktop")
}

/// Streams' bundle as `npm ci` installed it from `desktop/package-lock.json` (the pinned version):
/// what the pages and the fake CCP load.
pub fn streams_bundle(desktop: &Path) -> PathBuf {
    desktop.join("node_modules/amazon-connect-streams/release/connect-streams-min.js")
}

/// The template the stand-in reads: `template.yaml` once it declares the desktop distribution;
/// until then `local/desktop-template.yaml`, the contract's shape of the same resources.
pub fn template_path() -> PathBuf {
    let template = crate::repo_root().join("template.yaml");
    let declares_desktop = std::fs::read_to_string(&template)
        .is_ok_and(|text| text.contains(&format!("\n  {}:\n", template::DISTRIBUTION)));
    if declares_desktop {
        template
    } else {
        crate::repo_root().join("local/desktop-template.yaml")
    }
}

/// What the local site is started with.
#[derive(Debug, Clone)]
pub struct DesktopOptions {
    /// The template with `DesktopDistribution` and its policies.
    pub template: PathBuf,
    /// The pages' folder (`desktop/`).
    pub desktop: PathBuf,
    /// `config.json`'s `poll`, when not the pages' default (tests poll faster).
    pub poll: Option<Value>,
}

impl Default for DesktopOptions {
    fn default() -> Self {
        Self { template: template_path(), desktop: desktop_dir(), poll: None }
    }
}

/// `config.json` for the local origins, with the keys `desktop/js/config.js` validates.
pub fn config_json(
    ccp: &fake_ccp::FakeCcpHandle,
    cognito_domain: &str,
    client_id: &str,
    poll: Option<&Value>,
) -> Value {
    let mut config = json!({
        "ccpUrl": ccp.ccp_url(),
        "loginUrl": ccp.login_url(),
        "cognito": {"domain": cognito_domain, "clientId": client_id},
        "connectLoginByEmail": true,
        "locale": "en",
    });
    if let Some(poll) = poll {
        config["poll"] = poll.clone();
    }
    config
}

/// The running desktop site.
pub struct DesktopSite {
    pub cloudfront: cloudfront::CloudFrontHandle,
    pub ccp: fake_ccp::FakeCcpHandle,
    pub bucket: String,
    /// The `config.json` served.
    pub config: Value,
    /// What the first publish put (every asset, on a fresh bucket).
    pub published: publish::Published,
}

impl DesktopSite {
    /// The site's origin (the distribution's domain).
    pub fn origin(&self) -> String {
        self.cloudfront.endpoint()
    }

    /// `agent.html`, `audio-only.html` and `in-session.html` with their URLs.
    pub fn page_urls(&self) -> Vec<(&'static str, String)> {
        PAGES.iter().map(|page| (*page, format!("{}/{page}", self.origin()))).collect()
    }
}
