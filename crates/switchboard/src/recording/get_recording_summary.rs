//! `get-recording-summary` (`GET /recording-summary?externalMeetingId`): a supervisor lists a meeting's
//! recordings with links to play them.
//!
//! The viewer is the token's Connect user (`custom:connectUserId`, 400 without), authorised from their
//! Connect user cache: without the playback security profile (`RECORDING_PLAYBACK_SECURITY_PROFILE_ID`)
//! or without a current cache, 403. No recording of the meeting at all: 404. Each recording is then
//! filtered by the hierarchy rule ([`may_view`]) against its owner's placement when it started; none
//! visible: 403. Recordings whose task never started (a start that failed) are not listed: they have
//! no file.
//!
//! Data: the agent-app's playlist, `[{recordingId, recordingURL, createdAt, …}]`, each URL a presigned
//! S3 GET valid for `RECORDING_URL_EXPIRY_SECONDS` (default 15 minutes), `createdAt` ISO 8601, sorted
//! by `createdAt` (then segment):
//! - a recording written before segments (no `recordingLayout`): one item, its single MP4;
//! - a segmented recording: its manifest (`<prefix>manifest.json`, [`parse_manifest`]) read from S3,
//!   and one item per stored segment, in order: `recordingId` `<recordingId>/<segment>` (the playlist's
//!   row key, unique), `recording` and `segment`, `createdAt`/`endedAt` = when the capture began (the
//!   manifest's `startedAt`, [`segments_start`]) plus the segment's start/end, and for the whole recording `complete` (the recorder finished) and
//!   `missingSegments` (numbers that cannot be played). A segment whose key is not its own name under
//!   the recording's prefix is not linked (logged, and counted missing). No manifest yet: the recording has stored nothing
//!   and contributes no item; so visible recordings with nothing stored yet answer 200 `[]`. Any other
//!   S3 failure, or a manifest that does not parse, is a 502.
//!
//! Each answer logs who was given links to which items (`recording playback links given`).

use std::{sync::Arc, time::Duration};

use aws_config::SdkConfig;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_smithy_types::error::display::DisplayErrorContext;
use lambda_http::Request;
use serde::Serialize;
use time::OffsetDateTime;

use super::{manifest_key, may_view, parse_manifest, recordings, segment_prefix, segments_start, RecordingRecord};
use crate::shared::{connect_user::cached_user, meeting::check_external_id};
use crate::{
    edge::http::{query_parameter, ApiError, Claims, Reply},
    platform::{
        config::{ConfigError, Settings},
        time::{rfc3339, Clock, SystemClock},
    },
};

/// A manifest is a few hundred bytes per segment; more than this is no manifest of a recorder's.
const MAX_MANIFEST_BYTES: i64 = 4 * 1024 * 1024;

pub struct GetRecordingSummary {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub table: String,
    pub playback_profile_id: String,
    pub url_expiry: Duration,
    pub clock: Arc<dyn Clock>,
}

/// A playlist item with what it is sorted by: its time, then its segment number (0 for a single file).
type Listed = (Option<OffsetDateTime>, u32, RecordingSummary);

/// One playlist item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordingSummary {
    recording_id: String,
    #[serde(rename = "recordingURL")]
    recording_url: String,
    created_at: String,
    /// Only on a segment's item: a single-file recording's item stays as it always was.
    #[serde(flatten)]
    segment: Option<SegmentSummary>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SegmentSummary {
    recording: String,
    segment: u32,
    ended_at: String,
    complete: bool,
    missing_segments: Vec<u32>,
}

impl GetRecordingSummary {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            s3: aws_sdk_s3::Client::new(sdk),
            table: env.string("VIDEO_TABLE")?,
            playback_profile_id: env.string("RECORDING_PLAYBACK_SECURITY_PROFILE_ID")?,
            // Up to an hour: a presigned URL stops working when the role session that signed it
            // expires, and a Lambda function's session can be that close to its end.
            url_expiry: Duration::from_secs(env.number("RECORDING_URL_EXPIRY_SECONDS", 900, 60..=3_600)?),
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let claims = Claims::from_request(&request);
        let viewer_id = crate::shared::connect_user::connect_user_id(&claims)?;
        let external_meeting_id = query_parameter(&request, "externalMeetingId")?;
        check_external_id("externalMeetingId", &external_meeting_id)?;
        let now = self.clock.now();
        let viewer = cached_user(&self.dynamodb, &self.table, viewer_id, now).await?;
        if !viewer.security_profile_ids.contains(&self.playback_profile_id) {
            tracing::warn!("refused recording playback to an agent without the playback security profile");
            return Err(ApiError::forbidden("recording playback needs the playback security profile"));
        }

        let all =
            recordings(&self.dynamodb, &self.table, &external_meeting_id, now).await.map_err(ApiError::dependency)?;
        let recorded: Vec<_> = all.into_iter().filter(|r| r.task_arn.is_some()).collect();
        if recorded.is_empty() {
            return Err(ApiError::not_found("this meeting has no recordings"));
        }
        let visible: Vec<_> =
            recorded.into_iter().filter(|r| may_view(viewer.group.as_ref(), r.owner_group.as_ref())).collect();
        if visible.is_empty() {
            tracing::warn!("refused recording playback outside the viewer's hierarchy");
            return Err(ApiError::forbidden("these recordings belong to agents outside your hierarchy group"));
        }

        let presigning = PresigningConfig::expires_in(self.url_expiry).map_err(ApiError::dependency)?;
        let mut items: Vec<Listed> = Vec::new();
        for recording in visible {
            if recording.segmented {
                items.extend(self.segment_items(recording, &presigning).await?);
            } else {
                let url = self.presign(&recording.bucket, &recording.file_name, &presigning).await?;
                let at = parse_time(&recording.created_at);
                let item = RecordingSummary {
                    recording_id: recording.recording_id,
                    recording_url: url,
                    created_at: recording.created_at,
                    segment: None,
                };
                items.push((at, 0, item));
            }
        }
        // By time, not text: RFC 3339 text drops trailing zeros of its fraction, so it does not sort.
        items.sort_by_key(|(at, segment, _)| (*at, *segment));
        let summaries: Vec<RecordingSummary> = items.into_iter().map(|(_, _, item)| item).collect();

        // Who was given links to which items: S3's own access log would name only this function's
        // role, so this line is the audit (template.yaml, RecordingBucket's CKV_AWS_18 waiver). Ids
        // only: never a URL, its signature or the meeting id.
        let recording_ids: Vec<&str> = summaries.iter().map(|s| s.recording_id.as_str()).collect();
        tracing::info!(
            viewer = claims.get("cognito:username").unwrap_or_default(),
            viewer_connect_user_id = viewer_id,
            recording_ids = %recording_ids.join(","),
            url_expiry_seconds = self.url_expiry.as_secs(),
            "recording playback links given"
        );
        Reply::new("Recordings", &summaries)
    }

    /// A segmented recording's items, one per stored segment its manifest lists; none before the
    /// recorder has stored its first segment (no manifest yet).
    async fn segment_items(
        &self,
        recording: RecordingRecord,
        presigning: &PresigningConfig,
    ) -> Result<Vec<Listed>, ApiError> {
        let Some(bytes) = self.manifest(&recording).await? else {
            return Ok(Vec::new());
        };
        let prefix = segment_prefix(&recording.file_name);
        // Where and how it failed, not serde's message: that can quote the manifest's keys (meeting ids).
        let manifest = parse_manifest(&bytes, &prefix).map_err(|e| {
            ApiError::dependency(format!(
                "recording {}: its manifest does not parse ({:?} at line {} column {})",
                recording.recording_id,
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        for refused in &manifest.rejected {
            // The manifest is the recorder task's writing: a link outside its recording is refused.
            tracing::warn!(
                recording_id = recording.recording_id,
                segment = refused.number,
                reason = refused.reason,
                "a segment of the manifest was not linked"
            );
        }
        let created_at = parse_time(&recording.created_at).ok_or_else(|| {
            ApiError::dependency(format!("recording {}: createdAt is not RFC 3339", recording.recording_id))
        })?;
        let created_at = segments_start(created_at, manifest.started_at);
        let mut items = Vec::with_capacity(manifest.segments.len());
        for segment in &manifest.segments {
            let at = |offset| {
                created_at.checked_add(offset).ok_or_else(|| ApiError::dependency("a segment's time is out of range"))
            };
            let (start, end) = (at(segment.start)?, at(segment.end)?);
            let url = self.presign(&recording.bucket, &segment.key, presigning).await?;
            let item = RecordingSummary {
                recording_id: format!("{}/{}", recording.recording_id, segment.number),
                recording_url: url,
                created_at: rfc3339(start),
                segment: Some(SegmentSummary {
                    recording: recording.recording_id.clone(),
                    segment: segment.number,
                    ended_at: rfc3339(end),
                    complete: manifest.complete,
                    missing_segments: manifest.missing.clone(),
                }),
            };
            items.push((Some(start), segment.number, item));
        }
        Ok(items)
    }

    /// The recording's manifest, or `None` when the recorder has written none yet.
    async fn manifest(&self, recording: &RecordingRecord) -> Result<Option<Vec<u8>>, ApiError> {
        let got = self.s3.get_object().bucket(&recording.bucket).key(manifest_key(&recording.file_name)).send().await;
        let object = match got {
            Ok(object) => object,
            // S3 says NoSuchKey only to a role that may list the bucket (else 403): the template grants it.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(ApiError::dependency(DisplayErrorContext(&e))),
        };
        if object.content_length().is_some_and(|length| length > MAX_MANIFEST_BYTES) {
            return Err(ApiError::dependency(format!(
                "recording {}: its manifest is larger than {MAX_MANIFEST_BYTES} bytes",
                recording.recording_id
            )));
        }
        let body = object.body.collect().await.map_err(ApiError::dependency)?;
        Ok(Some(body.to_vec()))
    }

    async fn presign(&self, bucket: &str, key: &str, presigning: &PresigningConfig) -> Result<String, ApiError> {
        let url = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(presigning.clone())
            .await
            .map_err(|e| ApiError::dependency(DisplayErrorContext(&e)))?;
        Ok(url.uri().to_owned())
    }
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}
