//! Fills the desktop bucket in moto with the pages and `config.json`, by the rules of the spec's
//! `publish-desktop` (which will replace this once it exists, run as a custom-resource Create):
//! the asset set is the pages, `js/`, `css/`, `i18n/` and Streams' bundle from the npm package
//! the lockfile pins; each object carries its SHA-256 in its metadata and is put only when that
//! differs; `Cache-Control: no-cache` on every object; objects outside the set are deleted.

use std::path::Path;

use aws_sdk_s3::{
    primitives::ByteStream,
    types::{BucketLocationConstraint, CreateBucketConfiguration},
};
use sha2::{Digest, Sha256};

use super::DesktopError;

/// The metadata key holding an object's SHA-256 (hex).
pub const SHA256_METADATA: &str = "sha256";
/// On every object: browsers revalidate with the ETag, so a publish is seen at once.
pub const CACHE_CONTROL: &str = "no-cache";
/// The object the pages load Streams from (`<script src="vendor/connect-streams-min.js">`).
pub const STREAMS_KEY: &str = "vendor/connect-streams-min.js";

/// One object of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub key: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Asset {
    pub fn new(key: impl Into<String>, body: Vec<u8>) -> Result<Self, DesktopError> {
        let key = key.into();
        let content_type = content_type(&key).ok_or_else(|| DesktopError::Asset(format!("{key}: unknown type")))?;
        Ok(Self { key, content_type, body })
    }

    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.body))
    }
}

fn content_type(key: &str) -> Option<&'static str> {
    match key.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => Some("text/html; charset=utf-8"),
        Some("js") => Some("text/javascript; charset=utf-8"),
        Some("css") => Some("text/css; charset=utf-8"),
        Some("json") => Some("application/json"),
        _ => None,
    }
}

/// The site's assets from `desktop/`: the three pages, `js/*.js`, `css/*.css`, `i18n/*.json`, and
/// the pinned Streams bundle (nothing else: no tests, no `node_modules`).
pub fn desktop_assets(desktop: &Path) -> Result<Vec<Asset>, DesktopError> {
    let mut assets = Vec::new();
    for page in ["audio-only.html", "in-session.html", "agent.html"] {
        assets.push(Asset::new(page, super::read_bytes(&desktop.join(page))?)?);
    }
    for (folder, extension) in [("js", "js"), ("css", "css"), ("i18n", "json")] {
        let dir = desktop.join(folder);
        let entries = std::fs::read_dir(&dir).map_err(|source| DesktopError::Read { path: dir.clone(), source })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| name.rsplit_once('.').is_some_and(|(_, ext)| ext == extension))
            .collect();
        names.sort();
        for name in names {
            assets.push(Asset::new(format!("{folder}/{name}"), super::read_bytes(&dir.join(&name))?)?);
        }
    }
    assets.push(Asset::new(STREAMS_KEY, super::read_bytes(&super::streams_bundle(desktop))?)?);
    Ok(assets)
}

/// What one publish changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Published {
    pub put: Vec<String>,
    pub deleted: Vec<String>,
}

/// Makes `bucket` hold exactly `assets` (creating it if need be).
pub async fn publish(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    assets: &[Asset],
) -> Result<Published, DesktopError> {
    ensure_bucket(s3, bucket, region).await?;
    let existing = list_keys(s3, bucket).await?;
    let mut published = Published::default();
    for asset in assets {
        let hash = asset.sha256();
        if existing.contains(&asset.key)
            && stored_sha256(s3, bucket, &asset.key).await?.as_deref() == Some(hash.as_str())
        {
            continue;
        }
        s3.put_object()
            .bucket(bucket)
            .key(&asset.key)
            .content_type(asset.content_type)
            .cache_control(CACHE_CONTROL)
            .metadata(SHA256_METADATA, hash)
            .body(ByteStream::from(asset.body.clone()))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", &asset.key, e))?;
        published.put.push(asset.key.clone());
    }
    for key in existing {
        if !assets.iter().any(|a| a.key == key) {
            s3.delete_object().bucket(bucket).key(&key).send().await.map_err(|e| s3_error("DeleteObject", &key, e))?;
            published.deleted.push(key);
        }
    }
    Ok(published)
}

async fn ensure_bucket(s3: &aws_sdk_s3::Client, bucket: &str, region: &str) -> Result<(), DesktopError> {
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
    create.send().await.map_err(|e| s3_error("CreateBucket", bucket, e))?;
    Ok(())
}

async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<String>, DesktopError> {
    let mut keys = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s3_error("ListObjectsV2", bucket, e))?;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
    }
    Ok(keys)
}

async fn stored_sha256(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Option<String>, DesktopError> {
    let head = s3.head_object().bucket(bucket).key(key).send().await.map_err(|e| s3_error("HeadObject", key, e))?;
    Ok(head.metadata().and_then(|m| m.get(SHA256_METADATA)).cloned())
}

fn s3_error<E>(operation: &str, name: &str, error: aws_sdk_s3::error::SdkError<E>) -> DesktopError
where
    E: std::error::Error + 'static,
{
    DesktopError::S3(format!("{operation} {name}: {}", aws_sdk_s3::error::DisplayErrorContext(&error)))
}

#[cfg(test)]
mod tests {
    use super::{content_type, Asset};

    #[test]
    fn objects_get_their_type_from_the_extension_and_a_sha256() {
        assert_eq!(content_type("agent.html"), Some("text/html; charset=utf-8"));
        assert_eq!(content_type("js/agent.js"), Some("text/javascript; charset=utf-8"));
        assert_eq!(content_type("i18n/nl.json"), Some("application/json"));
        assert_eq!(content_type("README.md"), None);
        let asset = Asset::new("config.json", b"abc".to_vec()).unwrap();
        assert_eq!(asset.sha256(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
