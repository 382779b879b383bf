//! Ad-hoc routes: an agent hands a customer a short number; a chat the customer starts with it (and
//! the same email) is routed straight back to that agent. `create-adhoc-route` makes one; `start-chat`
//! redeems it ([`redeem`]), once.
//!
//! `create-adhoc-route` (`POST /adhoc`, body `{attendeeEmail, routeToAgentQueue}`): a route id drawn
//! uniformly from [10^7, 10^8) by a CSPRNG (eight digits, so the agent-app's `?refId=<number>` loses
//! no leading zero; the original's HMAC-derived ids had only 390,625 values), stored with a
//! conditional put (a collision with a live route draws again), bound to the customer's email and
//! expiring 15 minutes later. Data: the route id as a JSON number.
//!
//! The route leads to the agent who made it, identified by the token's `custom:connectUserId` (set at
//! onboarding, checked against Connect then): the flow's "set working queue by agent" takes a Connect
//! user id or ARN, not a username, and an agent can route customers only to themselves.
//! `routeToAgentQueue` (the agent-app sends the CCP username) is kept on the item for operators.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::ReturnValue;
use lambda_http::Request;
use rand::{rngs::StdRng, rngs::SysRng, RngExt, SeedableRng};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{display_text, is_email_address};
use crate::{
    edge::http::{json_body, ApiError, Claims, Reply},
    platform::{
        config::{ConfigError, Settings},
        store::{self, Item},
        time::{rfc3339, Clock, SystemClock},
    },
};

/// Route ids are the eight-digit numbers.
pub const ROUTE_IDS: std::ops::Range<u32> = 10_000_000..100_000_000;
/// How long a route can be redeemed.
pub const ROUTE_TTL: time::Duration = time::Duration::minutes(15);
/// Draws before giving up: with 9·10^7 ids, a second collision in a row means something is wrong.
const DRAWS: usize = 4;

pub fn route_key(route_id: u32) -> Item {
    let key = format!("R#{route_id}");
    store::key(key.clone(), key)
}

pub struct CreateAdhocRoute {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateAdhocRouteBody {
    attendee_email: String,
    route_to_agent_queue: String,
}

impl CreateAdhocRoute {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: env.string("VIDEO_TABLE")?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let claims = Claims::from_request(&request);
        let owner = claims.require("cognito:username")?;
        let agent_id = crate::shared::connect_user::connect_user_id(&claims)?;
        let body: CreateAdhocRouteBody = json_body(&request)?;
        let email = body.attendee_email.trim();
        if !is_email_address(email) {
            return Err(ApiError::bad_field("attendeeEmail", "not an email address"));
        }
        let agent = display_text("routeToAgentQueue", &body.route_to_agent_queue)?;

        let mut rng = StdRng::try_from_rng(&mut SysRng).map_err(ApiError::dependency)?;
        let now = self.clock.now();
        for _ in 0..DRAWS {
            let route_id = rng.random_range(ROUTE_IDS);
            let mut item = route_key(route_id);
            item.insert("entityType".into(), store::s("Route"));
            item.insert("routeId".into(), store::n(route_id));
            item.insert("ownerUsername".into(), store::s(owner));
            item.insert("routeToAgentId".into(), store::s(agent_id));
            item.insert("routeToAgentQueue".into(), store::s(agent));
            // Compared case-insensitively when redeemed: people retype emails in any case.
            item.insert("attendeeEmail".into(), store::s(email.to_lowercase()));
            item.insert("createdAt".into(), store::s(rfc3339(now)));
            item.insert("ttl".into(), store::ttl(now + ROUTE_TTL));
            let put = self
                .dynamodb
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":now", store::n(now.unix_timestamp()))
                .send()
                .await;
            if store::conditional("PutItem", put).map_err(ApiError::dependency)?.is_some() {
                tracing::info!("ad-hoc route created");
                return Reply::new("Ad-hoc route created", &route_id);
            }
            tracing::warn!("ad-hoc route id collided with a live route; drawing again");
        }
        Err(ApiError::dependency("every ad-hoc route id drawn was in use"))
    }
}

/// Why a reference could not be redeemed (all answer `videoReferenceId = "error"` to the flow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRedeemed {
    /// Not an eight-digit number.
    Malformed,
    /// No live route with that id for that email, or it was used already.
    UnknownUsedOrExpired,
}

/// A redeemed route: the agent's Connect user id and the stamp that marks it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeemed {
    pub route_id: u32,
    pub agent_id: String,
    pub used_at: String,
}

/// Redeems route `reference` for `customer_email`: one conditional update that requires the route to
/// exist, be unexpired, be unused and belong to that email, and marks it used. Two chats racing for
/// one route cannot both win.
pub async fn redeem(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    reference: &str,
    customer_email: &str,
    now: OffsetDateTime,
) -> Result<Result<Redeemed, NotRedeemed>, ApiError> {
    let Some(route_id) = parse_route_id(reference) else {
        return Ok(Err(NotRedeemed::Malformed));
    };
    let used_at = rfc3339(now);
    let update = dynamodb
        .update_item()
        .table_name(table)
        .set_key(Some(route_key(route_id)))
        .update_expression("SET usedAt = :usedAt")
        .condition_expression(
            "attribute_exists(pk) AND attribute_not_exists(usedAt) AND #ttl > :now AND attendeeEmail = :email",
        )
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(":usedAt", store::s(&used_at))
        .expression_attribute_values(":now", store::n(now.unix_timestamp()))
        .expression_attribute_values(":email", store::s(customer_email.to_lowercase()))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    let Some(updated) = store::conditional("UpdateItem", update).map_err(ApiError::dependency)? else {
        return Ok(Err(NotRedeemed::UnknownUsedOrExpired));
    };
    let attributes = updated.attributes.unwrap_or_default();
    let agent_id = store::get_str(&attributes, "routeToAgentId")
        .ok_or_else(|| ApiError::dependency(store::StoreError::malformed("UpdateItem", "routeToAgentId")))?
        .to_owned();
    Ok(Ok(Redeemed { route_id, agent_id, used_at }))
}

/// Gives a redeemed route back (the chat it was redeemed for could not start), if it is still marked
/// with our stamp. A failure is logged: the customer then needs a new reference.
pub async fn release(dynamodb: &aws_sdk_dynamodb::Client, table: &str, redeemed: &Redeemed) {
    let update = dynamodb
        .update_item()
        .table_name(table)
        .set_key(Some(route_key(redeemed.route_id)))
        .update_expression("REMOVE usedAt")
        .condition_expression("usedAt = :usedAt")
        .expression_attribute_values(":usedAt", store::s(&redeemed.used_at))
        .send()
        .await;
    if let Err(error) = store::conditional("UpdateItem", update) {
        tracing::error!(%error, "could not give back an ad-hoc route after a failed chat start");
    }
}

/// An eight-digit route id, surrounding spaces allowed.
fn parse_route_id(reference: &str) -> Option<u32> {
    let digits = reference.trim();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| ROUTE_IDS.contains(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_eight_digit_numbers_are_route_ids() {
        assert_eq!(parse_route_id("12345678"), Some(12_345_678));
        assert_eq!(parse_route_id(" 99999999 "), Some(99_999_999));
        // "012345678" and "+12345678" parse to an id in range: only the length and digit checks refuse them.
        for not_an_id in
            ["01234567", "1234567", "123456789", "012345678", "+12345678", "1e7", "0x1F", "-1234567", "", "1234 678"]
        {
            assert_eq!(parse_route_id(not_an_id), None, "{not_an_id:?}");
        }
    }

    #[test]
    fn ids_are_drawn_from_the_whole_range() {
        let mut rng = StdRng::try_from_rng(&mut SysRng).unwrap();
        let ids: Vec<u32> = (0..2000).map(|_| rng.random_range(ROUTE_IDS)).collect();
        assert!(ids.iter().all(|id| ROUTE_IDS.contains(id)));
        assert!(ids.iter().any(|id| id % 256 != 0), "not the original's multiples of 256");
        assert!(ids.iter().any(|id| *id < 20_000_000) && ids.iter().any(|id| *id >= 90_000_000));
    }
}
