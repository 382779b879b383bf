//! `get-attendee-join-data` (`GET /attendee-join-data?externalMeetingId&attendeeExternalUserId`, public):
//! the join info the agent registered for an attendee, which the website joins the meeting with.
//!
//! Serves only attendees added for customers (`create-meeting`'s non-owner entries, `create-attendee`):
//! the owner and the recording bot get exactly the unknown attendee's 404, as does an attendee of an
//! earlier meeting that had the same external id. 410 when the meeting has ended; missing parameters
//! are a 400 naming them.
//! There is no token: the two ids (a meeting id and a random attendee id) are what the agent shares.
//! Data: `{JoinInfo: {Meeting, Attendee}}`.

use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_http::Request;

use crate::shared::meeting::{join_info, load_attendee, load_meeting};
use crate::{
    edge::http::{query_parameter, ApiError, Reply},
    platform::{
        config::{ConfigError, Settings},
        time::{Clock, SystemClock},
    },
};

pub struct GetAttendeeJoinData {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub clock: Arc<dyn Clock>,
}

impl GetAttendeeJoinData {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: env.string("VIDEO_TABLE")?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let meeting_id = query_parameter(&request, "externalMeetingId")?;
        let user_id = query_parameter(&request, "attendeeExternalUserId")?;
        let now = self.clock.now();
        let (meeting, attendee) = tokio::try_join!(
            load_meeting(&self.dynamodb, &self.table, &meeting_id, now),
            load_attendee(&self.dynamodb, &self.table, &meeting_id, &user_id, now),
        )?;
        let unknown = || ApiError::not_found("no such meeting or attendee");
        let meeting = meeting.ok_or_else(unknown)?;
        // The owner's and the bot's join data are theirs alone: to this public route they are unknown.
        let attendee =
            attendee.as_ref().and_then(|a| a.customer_join_data(&meeting.chime.meeting_id)).ok_or_else(unknown)?;
        if meeting.ended_at.is_some() {
            return Err(ApiError::gone("the meeting has ended"));
        }
        Reply::new("Attendee join data", &join_info(&meeting.chime, attendee))
    }
}
