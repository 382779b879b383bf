//! `create-attendee` (`POST /attendee`, body `{externalMeetingId, attendeeExternalUserId, attendeeName,
//! attendeeEmail?}`): the owner adds an attendee to a running meeting.
//!
//! Owner only (403; 404 for no meeting; 410 for an ended one). Chime `CreateAttendee`, then the attendee
//! item written in a transaction with a check that the meeting is still this Chime meeting and not
//! ended; if that check fails the Chime attendee is deleted again (410). Data: `{JoinInfo: {Meeting,
//! Attendee}}` of the new attendee.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
use lambda_http::Request;
use serde::Deserialize;

use super::display_text;
use crate::shared::meeting::{
    check_external_id, chime_client, chime_error, join_info, meeting_key, owned_meeting, AttendeeJson, AttendeeRecord,
    AttendeeRole,
};
use crate::{
    edge::http::{json_body, ApiError, Claims, Reply},
    platform::{
        config::{ConfigError, Settings},
        store,
        time::{Clock, SystemClock},
    },
};

pub struct CreateAttendee {
    pub chime: aws_sdk_chimesdkmeetings::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateAttendeeBody {
    external_meeting_id: String,
    attendee_external_user_id: String,
    attendee_name: String,
    #[serde(default)]
    attendee_email: Option<String>,
}

fn ended() -> ApiError {
    ApiError::gone("the meeting has ended")
}

impl CreateAttendee {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            chime: chime_client(sdk, env)?,
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: env.string("VIDEO_TABLE")?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let claims = Claims::from_request(&request);
        let username = claims.require("cognito:username")?;
        let body: CreateAttendeeBody = json_body(&request)?;
        check_external_id("attendeeExternalUserId", &body.attendee_external_user_id)?;
        let name = display_text("attendeeName", &body.attendee_name)?;
        let now = self.clock.now();
        let meeting = owned_meeting(&self.dynamodb, &self.table, &body.external_meeting_id, username, now).await?;
        if meeting.ended_at.is_some() {
            return Err(ended());
        }

        let created = self
            .chime
            .create_attendee()
            .meeting_id(&meeting.chime.meeting_id)
            .external_user_id(&body.attendee_external_user_id)
            .send()
            .await
            .map_err(|e| chime_error(e, "attendeeExternalUserId", ended))?;
        let attendee = created.attendee().ok_or_else(|| ApiError::dependency("Chime returned no attendee"))?;
        let record = AttendeeRecord {
            name: name.to_owned(),
            email: body.attendee_email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()),
            role: Some(AttendeeRole::Customer),
            chime_meeting_id: meeting.chime.meeting_id.clone(),
            chime: AttendeeJson::from_chime(attendee)?,
        };

        let still_running = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(meeting_key(&meeting.external_meeting_id)))
            .condition_expression("chimeMeetingId = :chimeMeetingId AND attribute_not_exists(endedAt)")
            .expression_attribute_values(":chimeMeetingId", store::s(&meeting.chime.meeting_id))
            .build()
            .map_err(ApiError::dependency)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record.to_item(&meeting.external_meeting_id, now)))
            .build()
            .map_err(ApiError::dependency)?;
        let written = self
            .dynamodb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(still_running).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        if let Err(e) = written {
            // The attendee must not outlive a write that failed: nobody could find its join data.
            let deleted = self
                .chime
                .delete_attendee()
                .meeting_id(&meeting.chime.meeting_id)
                .attendee_id(&record.chime.attendee_id)
                .send()
                .await;
            if let Err(delete_error) = deleted {
                tracing::error!(
                    error = %aws_smithy_types::error::display::DisplayErrorContext(&delete_error),
                    "could not delete the Chime attendee of a failed create"
                );
            }
            return Err(if store::is_transaction_race_lost(&e) {
                ended()
            } else {
                ApiError::dependency(store::StoreError::from_sdk("TransactWriteItems", e))
            });
        }
        tracing::info!("attendee created");
        Reply::new("Attendee created", &join_info(&meeting.chime, &record.chime))
    }
}
