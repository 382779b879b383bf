//! `stop-recording-on-meeting-end` (EventBridge: source `aws.chime`, `detail.eventType`
//! `chime:MeetingEnded`): a meeting that ends without a stop still stops its recordings.
//!
//! Reads `detail.externalMeetingId` and `detail.meetingId` and stops the recordings in progress of
//! that Chime meeting (an earlier meeting with the same external id ending stops nothing) as
//! `stop-recording` does, without removing the bots (Chime removed everyone when the meeting ended).
//! Idempotent: a redelivered event finds nothing in progress and stops nothing (`NOTHING_TO_STOP`),
//! and so does a meeting that had no recording; other events are `IGNORED`. A task that could not be
//! stopped, or a store failure, is a Lambda error, so EventBridge's retry tries again.

use std::sync::Arc;

use aws_config::SdkConfig;

use super::{RecordingCluster, Stopper};
use crate::{
    edge::events::{EventBridgeEvent, EventError, EventOutcome},
    platform::{
        config::{ConfigError, Settings},
        time::{Clock, SystemClock},
    },
};

/// The Chime SDK event this function acts on.
pub const MEETING_ENDED: &str = "chime:MeetingEnded";

pub struct StopRecordingOnMeetingEnd {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub cluster: RecordingCluster,
    pub table: String,
    pub clock: Arc<dyn Clock>,
}

impl StopRecordingOnMeetingEnd {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            cluster: RecordingCluster { ecs: aws_sdk_ecs::Client::new(sdk), cluster: env.string("RECORDING_CLUSTER")? },
            table: env.string("VIDEO_TABLE")?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, event: EventBridgeEvent) -> Result<EventOutcome, EventError> {
        if event.source != "aws.chime" || event.detail_str("eventType") != Some(MEETING_ENDED) {
            return Ok(EventOutcome::new("IGNORED").with("reason", "not a chime:MeetingEnded event"));
        }
        let Some(external_meeting_id) = event.detail_str("externalMeetingId") else {
            // Meetings created without an external id are none of ours.
            return Ok(EventOutcome::new("IGNORED").with("reason", "the event has no externalMeetingId"));
        };
        let Some(chime_meeting_id) = event.detail_str("meetingId") else {
            return Ok(EventOutcome::new("IGNORED").with("reason", "the event has no meetingId"));
        };
        let stopper = Stopper {
            chime_meeting_id: Some(chime_meeting_id),
            dynamodb: &self.dynamodb,
            table: &self.table,
            cluster: &self.cluster,
            chime: None,
            reason: "The meeting ended",
        };
        let counts =
            stopper.stop_meeting(external_meeting_id, self.clock.now()).await.map_err(EventError::dependency)?;
        if counts.recordings_not_stopped > 0 {
            return Err(EventError::dependency(format!(
                "{} recording task(s) of the ended meeting could not be stopped",
                counts.recordings_not_stopped
            )));
        }
        let result = if counts.recordings_stopped == 0 { "NOTHING_TO_STOP" } else { "STOPPED" };
        Ok(EventOutcome::new(result).with("recordingsStopped", counts.recordings_stopped))
    }
}
