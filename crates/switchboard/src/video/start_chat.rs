//! `start-chat` (`POST /start`, public): the website's chat widget starts an Amazon Connect chat.
//!
//! The widget posts JSON as `text/plain` (no CORS preflight); the body is read as JSON whatever the
//! content type says. `{ContactFlowId, ParticipantDetails: {DisplayName}, Attributes}`: the flow must be
//! one this API is configured to start (`CHAT_CONTACT_FLOW_IDS`: a public route must not start any flow
//! of the instance), the display name is required and becomes `customerName`, and
//! `Attributes.customerEmailAddress` must be an email address. The back end owns two attributes:
//! `videoRouteToAgent` is set only by a redeemed ad-hoc route (a client-supplied one is dropped unless
//! `ALLOW_CLIENT_AGENT_ROUTING` is on, for the original demo website), and `videoRecordingPlaybackURL`
//! (which supervisors open) is never taken from a customer. A numeric `videoReferenceId` is redeemed
//! once ([`super::adhoc_route::redeem`]); anything else non-blank becomes `"error"` for the flow; a
//! blank one is dropped. If Connect refuses the chat, a route redeemed for it is given back.
//! Data: `{startChatResult: {ContactId, ParticipantId, ParticipantToken}}`.

use std::{collections::HashMap, sync::Arc};

use aws_config::SdkConfig;
use aws_sdk_connect::{error::ProvideErrorMetadata, types::ParticipantDetails};
use lambda_http::Request;
use serde::Deserialize;

use super::{
    adhoc_route::{redeem, release},
    display_text, is_email_address,
};
use crate::{
    edge::http::{json_body, ApiError, Reply},
    platform::{
        config::{ConfigError, Settings},
        connect_api::instance_id,
        time::{Clock, SystemClock},
    },
};

/// What the flow reads to route the chat to one agent: a redeemed route's Connect user id.
pub const ROUTE_TO_AGENT: &str = "videoRouteToAgent";
/// The ad-hoc route reference the customer typed (or followed a link with).
pub const REFERENCE: &str = "videoReferenceId";
/// What the flow is told when a reference could not be redeemed.
pub const REFERENCE_ERROR: &str = "error";
/// Set by `start-recording` for supervisors; never from a customer.
pub const PLAYBACK_URL: &str = "videoRecordingPlaybackURL";

pub struct StartChat {
    pub connect: aws_sdk_connect::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub instance_id: String,
    /// The flows a chat may be started in (the template passes the video chat flow).
    pub contact_flow_ids: Vec<String>,
    /// Keep a client-supplied `videoRouteToAgent` (the original demo website sends one).
    pub allow_client_agent_routing: bool,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartChatBody {
    contact_flow_id: String,
    participant_details: Participant,
    #[serde(default)]
    attributes: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Participant {
    display_name: String,
}

impl StartChat {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        let allow = env.optional_string("ALLOW_CLIENT_AGENT_ROUTING")?.unwrap_or_else(|| "false".into());
        let allow_client_agent_routing = match allow.as_str() {
            "true" => true,
            "false" => false,
            other => {
                return Err(ConfigError::Malformed {
                    name: "ALLOW_CLIENT_AGENT_ROUTING".into(),
                    reason: format!("{other:?} is neither true nor false"),
                })
            }
        };
        Ok(Self {
            connect: aws_sdk_connect::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: env.string("VIDEO_TABLE")?,
            instance_id: instance_id(env)?,
            contact_flow_ids: env.list("CHAT_CONTACT_FLOW_IDS")?,
            allow_client_agent_routing,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let body: StartChatBody = json_body(&request)?;
        let flow_id = body.contact_flow_id.trim();
        if !self.contact_flow_ids.iter().any(|allowed| allowed == flow_id) {
            return Err(ApiError::bad_field("ContactFlowId", "not a flow this API starts chats in"));
        }
        let display_name =
            display_text("ParticipantDetails.DisplayName", &body.participant_details.display_name)?.to_owned();
        let mut attributes = body.attributes.unwrap_or_default();
        let email = attributes.get("customerEmailAddress").map(|e| e.trim().to_owned()).unwrap_or_default();
        if !is_email_address(&email) {
            return Err(ApiError::bad_field("Attributes.customerEmailAddress", "not an email address"));
        }
        attributes.insert("customerEmailAddress".into(), email.clone());
        attributes.insert("customerName".into(), display_name.clone());
        attributes.remove(PLAYBACK_URL);
        if !self.allow_client_agent_routing && attributes.remove(ROUTE_TO_AGENT).is_some() {
            tracing::warn!("dropped a client-supplied videoRouteToAgent");
        }

        let reference = attributes.remove(REFERENCE).map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        let mut redeemed = None;
        if let Some(reference) = reference {
            match redeem(&self.dynamodb, &self.table, &reference, &email, self.clock.now()).await? {
                Ok(route) => {
                    tracing::info!("ad-hoc route redeemed");
                    attributes.insert(REFERENCE.into(), reference);
                    attributes.insert(ROUTE_TO_AGENT.into(), route.agent_id.clone());
                    redeemed = Some(route);
                }
                Err(why) => {
                    tracing::info!(reason = ?why, "ad-hoc route reference not redeemed");
                    attributes.insert(REFERENCE.into(), REFERENCE_ERROR.into());
                    attributes.remove(ROUTE_TO_AGENT);
                }
            }
        }

        let participant =
            ParticipantDetails::builder().display_name(&display_name).build().map_err(ApiError::dependency)?;
        let started = self
            .connect
            .start_chat_contact()
            .instance_id(&self.instance_id)
            .contact_flow_id(flow_id)
            .participant_details(participant)
            .set_attributes(Some(attributes))
            .send()
            .await;
        let started = match started {
            Ok(started) => started,
            Err(e) => {
                if let Some(route) = &redeemed {
                    release(&self.dynamodb, &self.table, route).await;
                }
                return Err(match e.as_service_error().and_then(|s| s.code()) {
                    Some("InvalidRequestException" | "InvalidParameterException") => ApiError::bad_field(
                        "body",
                        e.as_service_error().and_then(|s| s.message()).unwrap_or("refused by Amazon Connect"),
                    ),
                    _ => ApiError::dependency(aws_smithy_types::error::display::DisplayErrorContext(&e)),
                });
            }
        };
        tracing::info!(contact_id = started.contact_id().unwrap_or_default(), "chat started");
        let mut result = serde_json::json!({
            "ContactId": started.contact_id(),
            "ParticipantId": started.participant_id(),
            "ParticipantToken": started.participant_token(),
        });
        if let Some(previous) = started.continued_from_contact_id() {
            result["ContinuedFromContactId"] = previous.into();
        }
        Reply::new("Chat started", &serde_json::json!({"startChatResult": result}))
    }
}
