//! `publish-desktop` (custom resource `DesktopSite`): makes the private desktop bucket hold exactly
//! the pages of the `DesktopAssets` layer plus a `config.json` built from the stack's parameters,
//! and invalidates the distribution when that changed anything.
//!
//! Create/Update: every file under the layer's folder (`DESKTOP_ASSETS_DIR`, `/opt/desktop-site`)
//! is an object under the same key; an object is put only when the SHA-256 in its metadata differs
//! from the file's, objects outside the set are deleted, and then, if anything changed, one
//! invalidation of `/*` is made. A second run with the same set puts, deletes and invalidates nothing.
//!
//! Retries: Lambda retries an event whose run failed (and CloudFormation repeats none itself). A run
//! that put the objects and then failed before its invalidation would leave the retry nothing to
//! put, and the distribution stale. So the set's hash is recorded in [`STATE_KEY`] only after the
//! invalidation exists, and a set that differs from the recorded one is a change. The invalidation's
//! `CallerReference` is the set's hash with the request id: a retry of the same request reuses the
//! invalidation CloudFront already has, while a later request that returns to an earlier set (a
//! rollback) gets a new one.
//!
//! Delete empties the bucket (CloudFormation cannot delete a bucket that holds objects); a bucket
//! already gone is success. The physical id is the bucket name: a new bucket is a new resource, and
//! CloudFormation's Delete of the old one empties that one.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use aws_config::SdkConfig;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_sdk_s3::{
    primitives::ByteStream,
    types::{Delete, ObjectIdentifier},
};
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{
    edge::custom_resource::{Envelopes, Outcome, Request, ResourceFault},
    platform::config::{ConfigError, Settings},
};

/// The object metadata key holding an object's SHA-256 (hex).
pub const SHA256_METADATA: &str = "sha256";
/// On every page object: browsers and CloudFront revalidate with the ETag, so a publish is seen at once.
pub const CACHE_CONTROL: &str = "no-cache";
/// The written (not shipped) object: the pages read it at start.
pub const CONFIG_KEY: &str = "config.json";
/// The set last published and invalidated (see the module's "Retries"). Public like every object of
/// the site, and harmless: two hashes and a request id.
pub const STATE_KEY: &str = "_publish-state.json";
/// HEADs in flight at once when comparing the bucket with the set.
const HEAD_CONCURRENCY: usize = 8;
/// `DeleteObjects` takes at most this many keys a call.
const DELETE_BATCH: usize = 1_000;

/// The `DesktopSite` resource's properties (template.yaml). CloudFormation sends scalars as strings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SiteProperties {
    pub bucket: String,
    pub distribution_id: String,
    /// The layer version the files come from: only its change matters (it makes an Update).
    #[serde(default)]
    pub assets: String,
    pub ccp_url: String,
    #[serde(default)]
    pub login_url: String,
    pub cognito_domain: String,
    pub client_id: String,
    pub connect_login_by_email: String,
    pub locale: String,
    /// The panel's polling (`config.json`'s `poll`); absent = the pages' defaults.
    #[serde(default)]
    pub poll: Option<BTreeMap<String, Number>>,
}

/// A number as CloudFormation sends it (a string) or as a direct invoke may (a JSON number).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(pub f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(Number(n)),
            Raw::Text(text) => {
                text.trim().parse().map(Number).map_err(|_| serde::de::Error::custom(format!("not a number: {text:?}")))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("ResourceProperties.{property}: {reason}")]
    Property { property: &'static str, reason: String },
    #[error("the desktop assets: {0}")]
    Assets(String),
    #[error("{0}")]
    Dependency(String),
}

impl ResourceFault for PublishError {
    fn kind(&self) -> &'static str {
        match self {
            PublishError::Property { .. } => "InvalidProperty",
            PublishError::Assets(_) => "AssetError",
            PublishError::Dependency(_) => "DependencyError",
        }
    }
}

fn property(property: &'static str, reason: impl Into<String>) -> PublishError {
    PublishError::Property { property, reason: reason.into() }
}

fn dependency<E: std::error::Error + 'static>(operation: &str, subject: &str, error: E) -> PublishError {
    PublishError::Dependency(format!("{operation} {subject}: {}", DisplayErrorContext(&error)))
}

/// One object of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub key: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub sha256: String,
}

impl Asset {
    pub fn new(key: String, body: Vec<u8>) -> Result<Self, PublishError> {
        let content_type = content_type(&key)
            .ok_or_else(|| PublishError::Assets(format!("{key}: no content type for this extension")))?;
        let sha256 = hex::encode(Sha256::digest(&body));
        Ok(Self { key, content_type, body, sha256 })
    }
}

/// The site serves only these kinds of file; anything else in the layer is a build mistake.
fn content_type(key: &str) -> Option<&'static str> {
    match key.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => Some("text/html; charset=utf-8"),
        Some("js") => Some("text/javascript; charset=utf-8"),
        Some("css") => Some("text/css; charset=utf-8"),
        Some("json") => Some("application/json"),
        _ => None,
    }
}

/// Every file under `root`, keyed by its path relative to it (`/`-separated), sorted by key.
pub fn read_assets(root: &Path) -> Result<Vec<Asset>, PublishError> {
    let unreadable = |path: &Path, e: std::io::Error| PublishError::Assets(format!("{}: {e}", path.display()));
    let mut assets = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|e| unreadable(&folder, e))? {
            let path = entry.map_err(|e| unreadable(&folder, e))?.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let relative = path.strip_prefix(root).map_err(|e| PublishError::Assets(e.to_string()))?;
            let key = relative
                .components()
                .map(|c| c.as_os_str().to_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| PublishError::Assets(format!("{}: not a UTF-8 name", path.display())))?
                .join("/");
            if key == CONFIG_KEY || key == STATE_KEY {
                return Err(PublishError::Assets(format!("{key} is written by publish-desktop, not shipped")));
            }
            let body = std::fs::read(&path).map_err(|e| unreadable(&path, e))?;
            assets.push(Asset::new(key, body)?);
        }
    }
    if assets.is_empty() {
        return Err(PublishError::Assets(format!("{} holds no files", root.display())));
    }
    assets.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(assets)
}

/// Loopback http is the local cloud's; anything else must be https (the pages refuse it otherwise).
fn site_url(name: &'static str, value: &str) -> Result<url::Url, PublishError> {
    let url = url::Url::parse(value.trim()).map_err(|e| property(name, format!("not an absolute URL ({e})")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(property(name, "must be an https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(property(name, "must not carry credentials"));
    }
    Ok(url)
}

/// The poll settings the pages accept (`desktop/js/config.js`).
const POLL_KEYS: [&str; 4] = ["initialMs", "factor", "maxMs", "stillWaitingAfterMs"];

/// `config.json`, as `desktop/js/config.js` reads it. A struct, not a JSON map: its bytes (and so
/// its SHA-256) must not depend on whether some dependency turned on serde_json's `preserve_order`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteConfig {
    pub ccp_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
    pub cognito: CognitoConfig,
    pub connect_login_by_email: bool,
    pub locale: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CognitoConfig {
    pub domain: String,
    pub client_id: String,
}

/// `config.json` from the properties, checked as the pages check it, so a bad parameter fails the
/// deploy naming the property instead of showing agents a broken page. `locales` are the
/// translations the site ships (`i18n/<locale>.json`).
pub fn config_json(properties: &SiteProperties, locales: &BTreeSet<String>) -> Result<SiteConfig, PublishError> {
    let ccp = site_url("CcpUrl", &properties.ccp_url)?;
    if !(ccp.path().ends_with("/ccp-v2/") || ccp.path().ends_with("/ccp-v2")) {
        return Err(property("CcpUrl", "must be the instance URL followed by /ccp-v2/"));
    }
    let cognito = site_url("CognitoDomain", &properties.cognito_domain)?;
    let client_id = properties.client_id.trim();
    if client_id.is_empty() || !client_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(property("ClientId", "must be a user pool client id"));
    }
    let connect_login_by_email = match properties.connect_login_by_email.trim() {
        "true" => true,
        "false" => false,
        _ => return Err(property("ConnectLoginByEmail", "must be true or false")),
    };
    let locale = properties.locale.trim();
    if !locales.contains(locale) {
        let known: Vec<&str> = locales.iter().map(String::as_str).collect();
        return Err(property("Locale", format!("{locale:?} has no translation (known: {})", known.join(", "))));
    }
    let login_url = match properties.login_url.trim() {
        "" => None,
        url => Some(site_url("LoginUrl", url)?.to_string()),
    };
    let poll = match &properties.poll {
        None => None,
        Some(poll) => {
            let mut values = BTreeMap::new();
            for (key, Number(value)) in poll {
                if !POLL_KEYS.contains(&key.as_str()) {
                    return Err(property("Poll", format!("unknown key {key}")));
                }
                if !value.is_finite() || *value <= 0.0 {
                    return Err(property("Poll", format!("{key} must be a positive number")));
                }
                values.insert(key.clone(), *value);
            }
            Some(values)
        }
    };
    Ok(SiteConfig {
        ccp_url: ccp.to_string(),
        login_url,
        // The pages want the domain's origin, without a trailing slash.
        cognito: CognitoConfig { domain: cognito.origin().ascii_serialization(), client_id: client_id.to_owned() },
        connect_login_by_email,
        locale: locale.to_owned(),
        poll,
    })
}

/// The locales the assets ship: `i18n/<locale>.json`.
fn shipped_locales(assets: &[Asset]) -> BTreeSet<String> {
    assets
        .iter()
        .filter_map(|a| a.key.strip_prefix("i18n/").and_then(|name| name.strip_suffix(".json")))
        .filter(|name| !name.contains('/'))
        .map(str::to_owned)
        .collect()
}

/// The set's identity: every key with its content's hash.
pub fn set_hash(assets: &[Asset]) -> String {
    let mut hasher = Sha256::new();
    for asset in assets {
        hasher.update(asset.key.as_bytes());
        hasher.update([0]);
        hasher.update(asset.sha256.as_bytes());
        hasher.update([b'\n']);
    }
    hex::encode(hasher.finalize())
}

/// What one publish did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Published {
    pub put: Vec<String>,
    pub deleted: Vec<String>,
    pub invalidation: Option<String>,
}

impl Published {
    fn outcome(&self, bucket: &str) -> Outcome {
        let mut data = BTreeMap::new();
        data.insert("ObjectsPut".to_owned(), self.put.len().to_string());
        data.insert("ObjectsDeleted".to_owned(), self.deleted.len().to_string());
        data.insert("InvalidationId".to_owned(), self.invalidation.clone().unwrap_or_default());
        Outcome { physical_resource_id: bucket.to_owned(), data }
    }
}

pub struct PublishDesktop {
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    /// Where the `DesktopAssets` layer's site is mounted.
    pub assets_dir: PathBuf,
}

impl PublishDesktop {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            s3: aws_sdk_s3::Client::new(sdk),
            cloudfront: aws_sdk_cloudfront::Client::new(sdk),
            assets_dir: PathBuf::from(env.string("DESKTOP_ASSETS_DIR")?),
        })
    }

    pub async fn handle(
        &self,
        request: Request<SiteProperties>,
        envelopes: Envelopes,
    ) -> Result<Outcome, PublishError> {
        let properties = request.properties();
        if properties.bucket.trim().is_empty() {
            return Err(property("Bucket", "must name the desktop bucket"));
        }
        match &request {
            Request::Delete { .. } => {
                let deleted = self.empty(&properties.bucket).await?;
                tracing::info!(deleted, "desktop bucket emptied");
                Ok(Outcome { physical_resource_id: properties.bucket.clone(), data: BTreeMap::new() })
            }
            Request::Create { .. } | Request::Update { .. } => {
                let published = self.publish(properties, &envelopes.request_id).await?;
                tracing::info!(
                    put = published.put.len(),
                    put_keys = ?published.put,
                    deleted = published.deleted.len(),
                    invalidated = published.invalidation.is_some(),
                    "desktop site published"
                );
                Ok(published.outcome(&properties.bucket))
            }
        }
    }

    /// Makes the bucket hold exactly the layer's files and `config.json`; see the module docs.
    pub async fn publish(&self, properties: &SiteProperties, request_id: &str) -> Result<Published, PublishError> {
        if properties.distribution_id.trim().is_empty() {
            return Err(property("DistributionId", "must name the desktop distribution"));
        }
        let mut assets = read_assets(&self.assets_dir)?;
        let config = config_json(properties, &shipped_locales(&assets))?;
        let config = serde_json::to_vec_pretty(&config).map_err(|e| PublishError::Assets(e.to_string()))?;
        assets.push(Asset::new(CONFIG_KEY.to_owned(), config)?);
        assets.sort_by(|a, b| a.key.cmp(&b.key));
        let set = set_hash(&assets);
        let bucket = properties.bucket.as_str();

        let existing = self.list_keys(bucket).await?;
        let mut published = Published::default();
        let stored = self.stored_sha256s(bucket, &existing).await?;
        for asset in &assets {
            if stored.get(&asset.key) == Some(&Some(asset.sha256.clone())) {
                continue;
            }
            self.put(bucket, asset).await?;
            published.put.push(asset.key.clone());
        }
        let wanted: BTreeSet<&str> = assets.iter().map(|a| a.key.as_str()).collect();
        let strays: Vec<String> =
            existing.iter().filter(|k| !wanted.contains(k.as_str()) && k.as_str() != STATE_KEY).cloned().collect();
        self.delete_keys(bucket, &strays).await?;
        published.deleted = strays;

        let recorded = self.recorded_set(bucket).await?;
        let changed = !published.put.is_empty() || !published.deleted.is_empty() || recorded.as_deref() != Some(&set);
        if changed {
            let reference = hex::encode(Sha256::digest(format!("{set}\n{request_id}")));
            published.invalidation = Some(self.invalidate(&properties.distribution_id, &reference).await?);
            let state = json!({"set": set, "requestId": request_id, "invalidation": published.invalidation});
            let state = serde_json::to_vec(&state).map_err(|e| PublishError::Assets(e.to_string()))?;
            self.put(bucket, &Asset::new(STATE_KEY.to_owned(), state)?).await?;
        }
        Ok(published)
    }

    async fn list_keys(&self, bucket: &str) -> Result<Vec<String>, PublishError> {
        let mut keys = Vec::new();
        let mut pages = self.s3.list_objects_v2().bucket(bucket).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| dependency("ListObjectsV2", bucket, e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        }
        Ok(keys)
    }

    /// Each existing object's SHA-256 metadata (none for an object without it). Listing does not
    /// return metadata, so one HEAD per object, [`HEAD_CONCURRENCY`] at a time: a redeploy that
    /// changes nothing costs a round trip per batch, not per object.
    async fn stored_sha256s(
        &self,
        bucket: &str,
        keys: &[String],
    ) -> Result<BTreeMap<String, Option<String>>, PublishError> {
        let mut stored = BTreeMap::new();
        for batch in keys.chunks(HEAD_CONCURRENCY) {
            let mut heads = tokio::task::JoinSet::new();
            for key in batch {
                let request = self.s3.head_object().bucket(bucket).key(key);
                let key = key.clone();
                heads.spawn(async move { (request.send().await, key) });
            }
            while let Some(joined) = heads.join_next().await {
                let (head, key) = joined.map_err(|e| PublishError::Dependency(format!("HeadObject: {e}")))?;
                let head = head.map_err(|e| dependency("HeadObject", &key, e))?;
                stored.insert(key, head.metadata().and_then(|m| m.get(SHA256_METADATA)).cloned());
            }
        }
        Ok(stored)
    }

    async fn put(&self, bucket: &str, asset: &Asset) -> Result<(), PublishError> {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(&asset.key)
            .content_type(asset.content_type)
            .cache_control(CACHE_CONTROL)
            .metadata(SHA256_METADATA, &asset.sha256)
            .body(ByteStream::from(asset.body.clone()))
            .send()
            .await
            .map_err(|e| dependency("PutObject", &asset.key, e))?;
        Ok(())
    }

    async fn delete_keys(&self, bucket: &str, keys: &[String]) -> Result<(), PublishError> {
        for batch in keys.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| dependency("DeleteObjects", bucket, e))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| dependency("DeleteObjects", bucket, e))?;
            let answer = self
                .s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| dependency("DeleteObjects", bucket, e))?;
            // DeleteObjects answers 200 with per-key errors: one left behind is a failed publish.
            if let Some(error) = answer.errors().first() {
                let key = error.key().unwrap_or_default();
                let message = error.message().or(error.code()).unwrap_or("refused");
                return Err(PublishError::Dependency(format!("DeleteObjects {key}: {message}")));
            }
        }
        Ok(())
    }

    async fn recorded_set(&self, bucket: &str) -> Result<Option<String>, PublishError> {
        let object = match self.s3.get_object().bucket(bucket).key(STATE_KEY).send().await {
            Ok(object) => object,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(error) => return Err(dependency("GetObject", STATE_KEY, error)),
        };
        let bytes = object.body.collect().await.map_err(|e| dependency("GetObject", STATE_KEY, e))?.into_bytes();
        // An unreadable record is no record: the next publish invalidates and rewrites it.
        let state: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(state["set"].as_str().map(str::to_owned))
    }

    async fn invalidate(&self, distribution_id: &str, reference: &str) -> Result<String, PublishError> {
        let paths = Paths::builder()
            .quantity(1)
            .items("/*")
            .build()
            .map_err(|e| dependency("CreateInvalidation", distribution_id, e))?;
        let batch = InvalidationBatch::builder()
            .paths(paths)
            .caller_reference(reference)
            .build()
            .map_err(|e| dependency("CreateInvalidation", distribution_id, e))?;
        let answer = self
            .cloudfront
            .create_invalidation()
            .distribution_id(distribution_id)
            .invalidation_batch(batch)
            .send()
            .await
            .map_err(|e| dependency("CreateInvalidation", distribution_id, e))?;
        Ok(answer.invalidation().map(|i| i.id().to_owned()).unwrap_or_default())
    }

    /// Deletes every object; a bucket that is already gone has nothing left to delete.
    pub async fn empty(&self, bucket: &str) -> Result<usize, PublishError> {
        let mut deleted = 0;
        loop {
            let listed = match self.s3.list_objects_v2().bucket(bucket).send().await {
                Ok(listed) => listed,
                Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_bucket()) => return Ok(deleted),
                Err(error) => return Err(dependency("ListObjectsV2", bucket, error)),
            };
            let keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
            if keys.is_empty() {
                return Ok(deleted);
            }
            self.delete_keys(bucket, &keys).await?;
            deleted += keys.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties() -> SiteProperties {
        SiteProperties {
            bucket: "site".into(),
            distribution_id: "E1".into(),
            assets: "arn:aws:lambda:eu-west-1:123456789012:layer:desktop:3".into(),
            ccp_url: "https://example.my.connect.aws/ccp-v2/".into(),
            login_url: String::new(),
            cognito_domain: "https://agents.auth.eu-west-1.amazoncognito.com".into(),
            client_id: "abc123".into(),
            connect_login_by_email: "true".into(),
            locale: "nl".into(),
            poll: None,
        }
    }

    fn locales() -> BTreeSet<String> {
        ["en".to_owned(), "nl".to_owned()].into()
    }

    #[test]
    fn config_json_has_the_keys_the_pages_read_and_nothing_else() {
        let config = serde_json::to_value(config_json(&properties(), &locales()).unwrap()).unwrap();
        assert_eq!(
            config,
            json!({"ccpUrl": "https://example.my.connect.aws/ccp-v2/",
                   "cognito": {"domain": "https://agents.auth.eu-west-1.amazoncognito.com", "clientId": "abc123"},
                   "connectLoginByEmail": true, "locale": "nl"})
        );
        let mut with_login = properties();
        with_login.login_url = "https://example.awsapps.com/start".into();
        with_login.poll = Some([("initialMs".to_owned(), Number(100.0))].into());
        let config = serde_json::to_value(config_json(&with_login, &locales()).unwrap()).unwrap();
        assert_eq!(config["loginUrl"], "https://example.awsapps.com/start");
        assert_eq!(config["poll"], json!({"initialMs": 100.0}));
    }

    #[test]
    fn a_bad_parameter_names_its_property() {
        type Spoil = fn(&mut SiteProperties);
        let cases: [(Spoil, &str); 7] = [
            (|p| p.ccp_url = "http://example.my.connect.aws/ccp-v2/".into(), "CcpUrl"),
            (|p| p.ccp_url = "https://example.my.connect.aws/".into(), "CcpUrl"),
            (|p| p.cognito_domain = "agents".into(), "CognitoDomain"),
            (|p| p.login_url = "https://user:pw@example.com/".into(), "LoginUrl"),
            (|p| p.connect_login_by_email = "yes".into(), "ConnectLoginByEmail"),
            (|p| p.locale = "de".into(), "Locale"),
            (|p| p.poll = Some([("everyMs".to_owned(), Number(1.0))].into()), "Poll"),
        ];
        for (spoil, name) in cases {
            let mut p = properties();
            spoil(&mut p);
            let error = config_json(&p, &locales()).unwrap_err();
            assert!(matches!(error, PublishError::Property { property, .. } if property == name), "{name}: {error}");
        }
    }

    #[test]
    fn numbers_come_as_strings_from_cloudformation_or_as_numbers() {
        let poll: BTreeMap<String, Number> = serde_json::from_value(json!({"a": "2000", "b": 1.5})).unwrap();
        assert_eq!(poll["a"], Number(2000.0));
        assert_eq!(poll["b"], Number(1.5));
        assert!(serde_json::from_value::<Number>(json!("soon")).is_err());
    }

    #[test]
    fn assets_are_every_file_by_relative_key_with_a_type_and_hash() {
        let dir = std::env::temp_dir().join(format!("publish-desktop-assets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("i18n")).unwrap();
        std::fs::write(dir.join("agent.html"), "abc").unwrap();
        std::fs::write(dir.join("i18n/en.json"), "{}").unwrap();
        let assets = read_assets(&dir).unwrap();
        let keys: Vec<&str> = assets.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["agent.html", "i18n/en.json"]);
        assert_eq!(assets[0].content_type, "text/html; charset=utf-8");
        assert_eq!(assets[0].sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(shipped_locales(&assets), ["en".to_owned()].into());
        std::fs::write(dir.join("README.md"), "x").unwrap();
        assert!(matches!(read_assets(&dir), Err(PublishError::Assets(m)) if m.contains("README.md")));
        std::fs::remove_file(dir.join("README.md")).unwrap();
        std::fs::write(dir.join(CONFIG_KEY), "{}").unwrap();
        assert!(read_assets(&dir).is_err(), "config.json is written, never shipped");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
