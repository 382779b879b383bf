//! `session-info` (`GET /session_info/{contact_id}`, agent JWT authorizer).
//!
//! Only the agent on that contact may read it: Connect `DescribeContact` must name the caller's
//! Connect user (claim `custom:connectUserId`) as the contact's agent (403 otherwise). The session is
//! found by the contact's id or, after a transfer, its initial contact id (404 when neither links
//! one). Data, in the original shape: `{"purpose", "auth_result": null | {"status", "attributes",
//! "session_url"?}}`; `auth_result` is null while the result is pending, so the page can poll.

use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_http::Request;

use super::{auth_result_json, keys, session_via, IdentitySettings};
use crate::{
    edge::http::{path_parameter, ApiError, Claims, Reply},
    platform::{
        config::{ConfigError, Settings},
        connect_api::{connect_error, instance_id, is_connect_id},
        time::{Clock, SystemClock},
    },
};

pub struct SessionInfo {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub connect: aws_sdk_connect::Client,
    pub settings: IdentitySettings,
    pub instance_id: String,
    pub clock: Arc<dyn Clock>,
}

impl SessionInfo {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            connect: aws_sdk_connect::Client::new(sdk),
            settings: IdentitySettings::from_settings(env)?,
            instance_id: instance_id(env)?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let claims = Claims::from_request(&request);
        let agent = claims.require("custom:connectUserId")?;
        let contact_id = path_parameter(&request, "contact_id")?;
        if !is_connect_id(&contact_id) {
            return Err(ApiError::bad_field("contact_id", "must be a Connect contact id"));
        }
        let described = self
            .connect
            .describe_contact()
            .instance_id(&self.instance_id)
            .contact_id(&contact_id)
            .send()
            .await
            .map_err(|e| connect_error(e, || ApiError::not_found("no such contact")))?;
        let contact = described.contact().ok_or_else(|| ApiError::dependency("DescribeContact returned no contact"))?;
        if contact.agent_info().and_then(|a| a.id()) != Some(agent) {
            tracing::warn!("session info refused: the caller is not the contact's agent");
            return Err(ApiError::forbidden("you are not the agent on this contact"));
        }

        let now = self.clock.now();
        let table = &self.settings.table;
        let mut session =
            session_via(&self.dynamodb, table, keys::contact(&contact_id), now).await.map_err(ApiError::dependency)?;
        if session.is_none() {
            if let Some(initial) = contact.initial_contact_id().filter(|i| *i != contact_id) {
                session = session_via(&self.dynamodb, table, keys::contact(initial), now)
                    .await
                    .map_err(ApiError::dependency)?;
            }
        }
        let session = session.ok_or_else(|| ApiError::not_found("no ID Contact session is linked to this contact"))?;
        let auth_result = session.result.as_ref().map(auth_result_json);
        Reply::raw(&serde_json::json!({"purpose": session.purpose, "auth_result": auth_result}))
    }
}
