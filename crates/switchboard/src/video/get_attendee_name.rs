//! `get-attendee-name` (`GET /attendee-name?externalMeetingId&attendeeExternalUserId`, public): the name
//! a roster shows for an attendee.
//!
//! Data: the name as a bare string, or `"Unknown"` for an attendee we have no name for (the roster
//! shows that rather than an error). Missing parameters are a 400 naming them. The agent-app calls it
//! without a token, so the route is public; it reveals only a display name, and only to someone who
//! knows both ids.

use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_http::Request;

use crate::shared::meeting::load_attendee;
use crate::{
    edge::http::{query_parameter, ApiError, Reply},
    platform::{
        config::{ConfigError, Settings},
        time::{Clock, SystemClock},
    },
};

/// What the roster shows for an attendee with no stored name.
pub const UNKNOWN_NAME: &str = "Unknown";

pub struct GetAttendeeName {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub clock: Arc<dyn Clock>,
}

impl GetAttendeeName {
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
        let attendee = load_attendee(&self.dynamodb, &self.table, &meeting_id, &user_id, self.clock.now()).await?;
        let name = attendee.map_or_else(|| UNKNOWN_NAME.to_owned(), |a| a.name);
        Reply::new("Attendee name", &name)
    }
}
