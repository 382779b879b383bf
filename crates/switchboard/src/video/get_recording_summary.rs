//! `get-recording-summary` (`GET /recording-summary?externalMeetingId`): a supervisor lists a meeting's
//! recordings with links to play them.
//!
//! The viewer is the token's Connect user (`custom:connectUserId`, 400 without), authorised from their
//! Connect user cache: without the playback security profile (`RECORDING_PLAYBACK_SECURITY_PROFILE_ID`)
//! or without a current cache, 403. No recording of the meeting at all: 404. Each recording is then
//! filtered by the hierarchy rule ([`may_view`]) against its owner's placement when it started; none
//! visible: 403. Data: `[{recordingId, recordingURL, createdAt}]`, oldest first, each URL a presigned
//! S3 GET valid for `RECORDING_URL_EXPIRY_SECONDS` (default 15 minutes), `createdAt` ISO 8601.
//! Recordings whose task never started (a start that failed) are not listed: they have no file.
//! Each answer logs who was given links to which recordings (`recording playback links given`).

use std::{sync::Arc, time::Duration};

use aws_config::SdkConfig;
use aws_sdk_s3::presigning::PresigningConfig;
use lambda_http::Request;
use serde::Serialize;

use super::{
    meeting::check_external_id,
    recording::{cached_user, may_view, recordings},
};
use crate::{
    config::{ConfigError, Settings},
    http::{query_parameter, ApiError, Claims, Reply},
    time::{Clock, SystemClock},
};

pub struct GetRecordingSummary {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub table: String,
    pub playback_profile_id: String,
    pub url_expiry: Duration,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordingSummary {
    recording_id: String,
    #[serde(rename = "recordingURL")]
    recording_url: String,
    created_at: String,
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
        let viewer_id = super::connect_user_id(&claims)?;
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
        let mut summaries = Vec::with_capacity(visible.len());
        for recording in visible {
            let url = self
                .s3
                .get_object()
                .bucket(&recording.bucket)
                .key(&recording.file_name)
                .presigned(presigning.clone())
                .await
                .map_err(|e| ApiError::dependency(aws_smithy_types::error::display::DisplayErrorContext(&e)))?;
            summaries.push(RecordingSummary {
                recording_id: recording.recording_id,
                recording_url: url.uri().to_owned(),
                created_at: recording.created_at,
            });
        }
        // Who was given links to which recordings: S3's own access log would name only this
        // function's role, so this line is the audit (template.yaml, RecordingBucket's CKV_AWS_18
        // waiver). Ids only: never a URL, its signature or the meeting id.
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
}
