//! The `PromptAudio` custom resource (served by `provision-flows`): puts the recordings of
//! `contact-flows/prompts/` (the bundle layer's `prompts/`, `FLOW_BUNDLE_DIR/prompts`) into the
//! stack's prompt bucket, from where the template's `AWS::Connect::Prompt` resources import them.
//!
//! - Keys are `prompts/<set>/<file>`, `<set>` the SHA-256 of every recording's name and bytes. The
//!   physical id is `s3://<bucket>/prompts/<set>/`: a changed recording is a new id and new URIs, so
//!   CloudFormation updates each Prompt that reads one, and deletes the old set (its Delete of the
//!   old id) only once the whole update has succeeded, when no Prompt imports from it any more.
//! - Data: one attribute per recording, its file stem → `s3://<bucket>/<key>`, which a Prompt reads
//!   as `!GetAtt PromptAudio.<stem>`. So a stem is letters, digits and `_` only.
//! - A retried event puts the same bytes under the same keys: idempotent.
//! - Delete removes the set's objects; a bucket or set already gone is success.
//!
//! The `Bundle` property (the layer version) is not compared with the mounted layer, unlike
//! `ContactFlows`': on a rollback CloudFormation sends the old properties while the function still
//! mounts the new layer, and the set the Prompts roll back to is still in the bucket anyway.

use std::{collections::BTreeMap, path::Path};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::provision_flows::FlowsError;
use crate::edge::custom_resource::{Outcome, Request};

/// The resource's type in the template: how `provision-flows` tells its requests from `ContactFlows`'.
pub const RESOURCE_TYPE: &str = "Custom::PromptAudio";
/// The bundle's folder of recordings, and the bucket's prefix for them.
pub const PROMPTS_DIR: &str = "prompts";
/// Connect imports a prompt of at most 50 MB.
const MAX_RECORDING_BYTES: u64 = 50 * 1024 * 1024;

/// The `PromptAudio` resource's properties (template.yaml).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PromptAudioProperties {
    /// The stack's prompt bucket.
    pub bucket: String,
    /// The bundle layer's version: a new one is an Update, so new recordings are put.
    #[serde(default)]
    pub bundle: Option<String>,
}

/// A recording of the bundle: `<stem>.wav` and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub stem: String,
    pub bytes: Vec<u8>,
}

impl Recording {
    pub fn file_name(&self) -> String {
        format!("{}.wav", self.stem)
    }
}

fn refused(message: String) -> FlowsError {
    FlowsError::Refused(message)
}

/// Every `<stem>.wav` of `dir`, by stem. Anything else there is a mistake the deploy should show.
pub fn read_recordings(dir: &Path) -> Result<Vec<Recording>, FlowsError> {
    let unreadable = |path: &Path, e: std::io::Error| refused(format!("{}: {e}", path.display()));
    let mut recordings = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))? {
        let path = entry.map_err(|e| unreadable(dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let Some(stem) = name.strip_suffix(".wav") else {
            return Err(refused(format!("{PROMPTS_DIR}/{name}: a prompt recording is a .wav file")));
        };
        if stem.is_empty() || !stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(refused(format!(
                "{PROMPTS_DIR}/{name}: a recording's name is letters, digits and _ (it names a GetAtt attribute)"
            )));
        }
        let size = path.metadata().map_err(|e| unreadable(&path, e))?.len();
        if size > MAX_RECORDING_BYTES {
            return Err(refused(format!("{PROMPTS_DIR}/{name}: {size} bytes, more than Connect's 50 MB")));
        }
        let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, e))?;
        recordings.push(Recording { stem: stem.to_owned(), bytes });
    }
    if recordings.is_empty() {
        return Err(refused(format!("{}: no recording to put", dir.display())));
    }
    recordings.sort_by(|a, b| a.stem.cmp(&b.stem));
    Ok(recordings)
}

/// The set's id: SHA-256 over each recording's name and bytes, in name order.
pub fn set_id(recordings: &[Recording]) -> String {
    let mut hasher = Sha256::new();
    for recording in recordings {
        hasher.update(recording.file_name().as_bytes());
        hasher.update([0]);
        hasher.update(Sha256::digest(&recording.bytes));
    }
    hex::encode(hasher.finalize())
}

/// `s3://<bucket>/prompts/<set>/`, the physical id; its bucket and key prefix.
fn physical_id(bucket: &str, set: &str) -> String {
    format!("s3://{bucket}/{PROMPTS_DIR}/{set}/")
}

/// The bucket and prefix of a physical id this resource gave, or `None` for any other (a Create that
/// failed before it made one answers with a placeholder id).
fn parse_physical_id(id: &str) -> Option<(&str, &str)> {
    let rest = id.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/')?;
    let set = prefix.strip_prefix(&format!("{PROMPTS_DIR}/"))?.strip_suffix('/')?;
    (!bucket.is_empty() && !set.is_empty() && !set.contains('/')).then_some((bucket, prefix))
}

fn s3_fault<E>(operation: &str, error: aws_sdk_s3::error::SdkError<E>) -> FlowsError
where
    E: std::error::Error + Send + Sync + 'static,
{
    FlowsError::Dependency(format!("S3 {operation} failed: {}", DisplayErrorContext(&error)))
}

/// Puts the bundle's recordings (Create/Update) or deletes a set (Delete).
pub async fn handle(
    s3: &aws_sdk_s3::Client,
    bundle_dir: &Path,
    request: Request<PromptAudioProperties>,
) -> Result<Outcome, FlowsError> {
    let properties = match request {
        Request::Delete { physical_resource_id, .. } => {
            if let Some((bucket, prefix)) = parse_physical_id(&physical_resource_id) {
                let deleted = delete_prefix(s3, bucket, prefix).await?;
                tracing::info!(deleted, "prompt recordings deleted");
            }
            return Ok(Outcome { physical_resource_id, data: BTreeMap::new() });
        }
        Request::Create { properties } | Request::Update { properties, .. } => properties,
    };
    let bucket = properties.bucket.trim();
    if bucket.is_empty() || bucket.contains('/') {
        return Err(refused("ResourceProperties.Bucket: must name the prompt bucket".to_owned()));
    }
    let recordings = read_recordings(&bundle_dir.join(PROMPTS_DIR))?;
    let set = set_id(&recordings);
    let mut data = BTreeMap::new();
    for recording in &recordings {
        let key = format!("{PROMPTS_DIR}/{set}/{}", recording.file_name());
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("audio/wav")
            .body(ByteStream::from(recording.bytes.clone()))
            .send()
            .await
            .map_err(|e| s3_fault("PutObject", e))?;
        data.insert(recording.stem.clone(), format!("s3://{bucket}/{key}"));
    }
    tracing::info!(recordings = recordings.len(), set = %set, "prompt recordings put");
    Ok(Outcome { physical_resource_id: physical_id(bucket, &set), data })
}

/// Deletes every object under `prefix`; a bucket already gone has none.
async fn delete_prefix(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<usize, FlowsError> {
    let mut deleted = 0;
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_bucket()) => return Ok(deleted),
            Err(error) => return Err(s3_fault("ListObjectsV2", error)),
        };
        for key in page.contents().iter().filter_map(|o| o.key()) {
            s3.delete_object().bucket(bucket).key(key).send().await.map_err(|e| s3_fault("DeleteObject", e))?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(stem: &str, bytes: &[u8]) -> Recording {
        Recording { stem: stem.into(), bytes: bytes.to_vec() }
    }

    #[test]
    fn the_set_id_changes_with_any_name_or_byte() {
        let set = [recording("Chime", b"RIFF1"), recording("Hold", b"RIFF2")];
        let base = set_id(&set);
        assert_eq!(base.len(), 64);
        assert_ne!(set_id(&[recording("Chime", b"RIFF1"), recording("Hold", b"RIFF3")]), base);
        assert_ne!(set_id(&[recording("Chime", b"RIFF1"), recording("Held", b"RIFF2")]), base);
        assert_ne!(set_id(&set[..1]), base);
        assert_eq!(set_id(&set), base);
    }

    #[test]
    fn only_this_resources_physical_ids_are_parsed() {
        let id = physical_id("prompts-bucket", "abc");
        assert_eq!(id, "s3://prompts-bucket/prompts/abc/");
        assert_eq!(parse_physical_id(&id), Some(("prompts-bucket", "prompts/abc/")));
        for other in [
            "",
            "contact-flows-x",
            "s3://b/",
            "s3://b/prompts/",
            "s3://b/other/abc/",
            "s3:///prompts/a/",
            "s3://b/prompts/a/b/",
        ] {
            assert_eq!(parse_physical_id(other), None, "{other}");
        }
    }

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("prompt-audio-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_folder_holds_wav_recordings_with_attribute_names() {
        let dir = temp_dir();
        std::fs::write(dir.join("Welcome_Chime.wav"), b"RIFF").unwrap();
        std::fs::write(dir.join("Hold2.wav"), b"RIFF..").unwrap();
        let read = read_recordings(&dir).unwrap();
        assert_eq!(read.iter().map(|r| r.stem.as_str()).collect::<Vec<_>>(), ["Hold2", "Welcome_Chime"]);

        std::fs::write(dir.join("notes.txt"), b"").unwrap();
        let error = read_recordings(&dir).unwrap_err().to_string();
        assert!(error.contains("prompts/notes.txt: a prompt recording is a .wav file"), "{error}");
        std::fs::remove_file(dir.join("notes.txt")).unwrap();

        std::fs::write(dir.join("Good bye.wav"), b"RIFF").unwrap();
        let error = read_recordings(&dir).unwrap_err().to_string();
        assert!(error.contains("letters, digits and _"), "{error}");

        let empty = temp_dir();
        assert!(read_recordings(&empty).unwrap_err().to_string().contains("no recording"));
        assert!(read_recordings(&empty.join("missing")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(empty).unwrap();
    }
}
