//! `stop-recording` (`DELETE /recording`, JSON body `{externalMeetingId}`): the meeting's owner stops
//! its recordings.
//!
//! Owner only (403; 404 for no meeting). For each recording in progress: ECS `StopTask` (the recorder
//! finishes and completes its upload on SIGTERM), `endedAt`, the lock released, the bot attendee and
//! its roster item deleted (see [`Stopper`]). A task that could not be stopped stays in progress and
//! locked, and is counted: data `{recordingsStopped, recordingsNotStopped}`, JSON numbers, both
//! truthful (a second stop of the same recording counts nothing).

use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_http::Request;
use serde::Deserialize;

use super::{RecordingCluster, Stopper};
use crate::shared::meeting::{check_external_id, chime_client, owned_meeting};
use crate::{
    edge::http::{json_body, ApiError, Claims, Reply},
    platform::{
        config::{ConfigError, Settings},
        time::{Clock, SystemClock},
    },
};

pub struct StopRecording {
    pub chime: aws_sdk_chimesdkmeetings::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub cluster: RecordingCluster,
    pub table: String,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopRecordingBody {
    external_meeting_id: String,
}

impl StopRecording {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            chime: chime_client(sdk, env)?,
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            cluster: RecordingCluster { ecs: aws_sdk_ecs::Client::new(sdk), cluster: env.string("RECORDING_CLUSTER")? },
            table: env.string("VIDEO_TABLE")?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let claims = Claims::from_request(&request);
        let username = claims.require("cognito:username")?;
        let body: StopRecordingBody = json_body(&request)?;
        check_external_id("externalMeetingId", &body.external_meeting_id)?;
        let now = self.clock.now();
        // An ended meeting's recordings can still be stopped (the meeting-ended event may be late).
        let meeting = owned_meeting(&self.dynamodb, &self.table, &body.external_meeting_id, username, now).await?;
        let stopper = Stopper {
            dynamodb: &self.dynamodb,
            table: &self.table,
            cluster: &self.cluster,
            chime_meeting_id: None,
            chime: Some(&self.chime),
            reason: "The meeting's owner stopped the recording",
        };
        let counts = stopper.stop_meeting(&meeting.external_meeting_id, now).await.map_err(ApiError::dependency)?;
        tracing::info!(
            stopped = counts.recordings_stopped,
            not_stopped = counts.recordings_not_stopped,
            "stop answered"
        );
        Reply::new("Recordings stopped", &counts)
    }
}
