//! `end-meeting` (`DELETE /meeting`, JSON body `{externalMeetingId}`): the owner ends the meeting for
//! everyone.
//!
//! Owner only (403; 404 for no meeting). Chime `DeleteMeeting`, where a meeting Chime no longer has
//! (already ended, or ended by Chime when everyone left) is a success, not a failure; then `endedAt`
//! is set, on the condition that the item is still this Chime meeting. A meeting already ended
//! answers success again, so the agent-app may retry. Data: `{}`.

use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_http::Request;
use serde::Deserialize;

use crate::shared::meeting::{chime_client, is_chime_not_found, meeting_key, owned_meeting};
use crate::{
    edge::http::{json_body, ApiError, Claims, Reply},
    platform::{
        config::{ConfigError, Settings},
        store,
        time::{rfc3339, Clock, SystemClock},
    },
};

pub struct EndMeeting {
    pub chime: aws_sdk_chimesdkmeetings::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndMeetingBody {
    external_meeting_id: String,
}

impl EndMeeting {
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
        let body: EndMeetingBody = json_body(&request)?;
        let now = self.clock.now();
        let meeting = owned_meeting(&self.dynamodb, &self.table, &body.external_meeting_id, username, now).await?;
        if meeting.ended_at.is_some() {
            return Reply::new("Meeting already ended", &serde_json::json!({}));
        }

        match self.chime.delete_meeting().meeting_id(&meeting.chime.meeting_id).send().await {
            Ok(_) => {}
            Err(e) if is_chime_not_found(&e) => tracing::info!("the Chime meeting had already ended"),
            Err(e) => return Err(ApiError::dependency(aws_smithy_types::error::display::DisplayErrorContext(&e))),
        }

        // Only this Chime meeting's item: if the id now names a newer meeting, that one is not ended.
        let marked = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(meeting_key(&meeting.external_meeting_id)))
            .update_expression("SET endedAt = if_not_exists(endedAt, :endedAt)")
            .condition_expression("chimeMeetingId = :chimeMeetingId")
            .expression_attribute_values(":endedAt", store::s(rfc3339(now)))
            .expression_attribute_values(":chimeMeetingId", store::s(&meeting.chime.meeting_id))
            .send()
            .await;
        store::conditional("UpdateItem", marked).map_err(ApiError::dependency)?;
        tracing::info!("meeting ended");
        Reply::new("Meeting ended", &serde_json::json!({}))
    }
}
