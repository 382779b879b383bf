//! The agent desktop pages in the local cloud (`specs/desktop.md`, "Tests"): the site as the stack
//! serves it, on loopback origins, against the real back end.
//!
//! - The bucket and a distribution in moto, the layer's files built by `desktop/Makefile`, and
//!   `publish-desktop` run as the `DesktopSite` custom resource's Create, which fills the bucket and
//!   writes `config.json` naming the local origins ([`site_properties`]).
//! - [`cloudfront`]: the CloudFront stand-in serving the bucket with the response headers the
//!   template's policies give each path ([`template`]), and `/api/*` proxied to the local HTTP API.
//! - [`fake_ccp`]: the Connect instance's origin, with a fake CCP speaking Streams' handshake.
//! - Managed login is the emulator's Cognito front (`emulator::cognito`): the user pool domain.
//!
//! [`LocalCloud::start_desktop`](crate::cloud::LocalCloud::start_desktop) puts them together.

use std::path::{Path, PathBuf};

use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig, ViewerProtocolPolicy,
};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use serde_json::{json, Value};

pub mod cloudfront;
pub mod fake_ccp;
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
    #[error("CloudFront: {0}")]
    CloudFront(String),
    #[error("building the desktop assets: {0}")]
    Build(String),
    #[error("publish-desktop answered {0}")]
    Publish(String),
}

/// The function that publishes the site, and the custom resource it serves (template.yaml).
pub const PUBLISH_FUNCTION: &str = "publish-desktop";
pub const SITE_RESOURCE: &str = "DesktopSite";
/// The folder of the layer that holds the site (`/opt/desktop-site` in Lambda).
pub const ASSETS_SITE_DIR: &str = "desktop-site";

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

/// The template the stand-in reads its behaviours and policies from.
pub fn template_path() -> PathBuf {
    crate::repo_root().join("template.yaml")
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

/// The `DesktopSite` custom resource's properties for the local origins, as template.yaml passes
/// them (strings, as CloudFormation sends them; `Poll` as given, for tests that poll faster).
pub fn site_properties(
    bucket: &str,
    distribution_id: &str,
    ccp: &fake_ccp::FakeCcpHandle,
    cognito_domain: &str,
    client_id: &str,
    poll: Option<&Value>,
) -> Value {
    let mut properties = json!({
        "Bucket": bucket,
        "DistributionId": distribution_id,
        "Assets": "local",
        "CcpUrl": ccp.ccp_url(),
        "LoginUrl": ccp.login_url(),
        "CognitoDomain": cognito_domain,
        "ClientId": client_id,
        "ConnectLoginByEmail": "true",
        "Locale": "en",
    });
    if let Some(poll) = poll {
        properties["Poll"] = poll.clone();
    }
    properties
}

/// Runs the layer's build (`make build-DesktopAssetsLayer` in `desktop/`, what `sam build` runs)
/// into `artifacts`: the site is then `artifacts/desktop-site`.
pub fn build_assets(desktop: &Path, artifacts: &Path) -> Result<(), DesktopError> {
    let output = std::process::Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(desktop)
        .arg("build-DesktopAssetsLayer")
        .arg(format!("ARTIFACTS_DIR={}", artifacts.display()))
        .output()
        .map_err(|e| DesktopError::Build(format!("make: {e}")))?;
    if !output.status.success() {
        return Err(DesktopError::Build(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    Ok(())
}

/// The template's `DesktopBucket`, in moto (if it is not there yet).
pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str, region: &str) -> Result<(), DesktopError> {
    if s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    let mut create = s3.create_bucket().bucket(bucket);
    // Outside us-east-1, S3 wants the region named.
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build(),
        );
    }
    create.send().await.map_err(|e| DesktopError::S3(format!("CreateBucket {bucket}: {}", display(&e))))?;
    Ok(())
}

fn display<E: std::error::Error + 'static>(error: &E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
}

/// A distribution in moto for `publish-desktop`'s invalidations (the stand-in serves the pages; this
/// is only the id the template's `DesktopDistribution` would have).
pub async fn create_distribution(
    cloudfront: &aws_sdk_cloudfront::Client,
    bucket: &str,
) -> Result<String, DesktopError> {
    let failed = |e: String| DesktopError::CloudFront(format!("CreateDistribution: {e}"));
    let origin = Origin::builder()
        .id("DesktopBucket")
        .domain_name(format!("{bucket}.s3.amazonaws.com"))
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let behaviour = DefaultCacheBehavior::builder()
        .target_origin_id("DesktopBucket")
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .cache_policy_id(MANAGED_CACHING_OPTIMIZED)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let config = DistributionConfig::builder()
        .caller_reference(uuid::Uuid::new_v4().to_string())
        .origins(Origins::builder().quantity(1).items(origin).build().map_err(|e| failed(e.to_string()))?)
        .default_cache_behavior(behaviour)
        .comment("switchboard-local desktop")
        .enabled(true)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let created =
        cloudfront.create_distribution().distribution_config(config).send().await.map_err(|e| failed(display(&e)))?;
    created.distribution().map(|d| d.id().to_owned()).ok_or_else(|| failed("no distribution in the answer".into()))
}

/// The managed cache policy the template's default behaviour uses.
const MANAGED_CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// The `config.json` publish-desktop wrote.
pub async fn read_config(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Value, DesktopError> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key("config.json")
        .send()
        .await
        .map_err(|e| DesktopError::S3(format!("GetObject config.json: {}", display(&e))))?;
    let bytes = object.body.collect().await.map_err(|e| DesktopError::S3(e.to_string()))?.into_bytes();
    serde_json::from_slice(&bytes).map_err(|e| DesktopError::Asset(format!("config.json: {e}")))
}

/// The running desktop site.
pub struct DesktopSite {
    pub cloudfront: cloudfront::CloudFrontHandle,
    pub ccp: fake_ccp::FakeCcpHandle,
    pub bucket: String,
    /// The moto distribution `publish-desktop` invalidates.
    pub distribution_id: String,
    /// The `config.json` served.
    pub config: Value,
    /// What `publish-desktop` answered CloudFormation for the Create.
    pub published: Value,
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
