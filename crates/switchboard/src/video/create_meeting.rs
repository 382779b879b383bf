//! `create-meeting` (`POST /meeting`): the agent creates a Chime SDK meeting with its attendees (the
//! agent, and usually the customer the website will join as) and gets back their own join info.
//!
//! Body `{externalMeetingId, meetingTitle, meetingRegion, meetingAttendees: [{isOwner?, externalUserId?,
//! attendeeName, attendeeEmail?}]}` (`name` / `email` are accepted for the two names). Rules: the id is
//! 2–64 characters and not in use (409); exactly one attendee is the owner, whose email comes from the
//! token and whose external id is generated when absent (the agent-app sends none); every attendee has
//! a name; the others keep their `externalUserId` exactly (the website finds the customer by it);
//! `meetingRegion: ""` means the configured media region. Chime `CreateMeetingWithAttendees`, then the
//! meeting and its attendees in one transaction whose meeting put is conditional; if that fails the
//! Chime meeting is deleted, so nothing is left running that no item points at. Only whitelisted
//! fields reach the items. Data: `{JoinInfo: {Meeting, Attendee}}` of the owner.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_chimesdkmeetings::types::CreateAttendeeRequestItem;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use lambda_http::Request;
use serde::Deserialize;

use super::{display_text, MAX_TEXT};
use crate::shared::meeting::{
    check_external_id, chime_client, chime_error, join_info, load_meeting, media_region, random_uuid, AttendeeJson,
    AttendeeRecord, AttendeeRole, MeetingJson, MeetingRecord, MEDIA_REGIONS,
};
use crate::{
    edge::http::{json_body, ApiError, Claims, Reply},
    platform::{
        config::{ConfigError, Settings},
        store,
        time::{Clock, SystemClock},
    },
};

/// `CreateMeetingWithAttendees` takes at most this many attendees.
const MAX_ATTENDEES: usize = 20;

pub struct CreateMeeting {
    pub chime: aws_sdk_chimesdkmeetings::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    /// Where a meeting's media is hosted when the client leaves `meetingRegion` blank.
    pub media_region: String,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateMeetingBody {
    external_meeting_id: String,
    #[serde(default)]
    meeting_title: Option<String>,
    #[serde(default)]
    meeting_region: Option<String>,
    #[serde(default)]
    meeting_attendees: Vec<AttendeeRequest>,
}

/// One entry of `meetingAttendees`; other fields the client sends are ignored, never stored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttendeeRequest {
    #[serde(default)]
    is_owner: Option<bool>,
    #[serde(default)]
    external_user_id: Option<String>,
    #[serde(default, alias = "name")]
    attendee_name: Option<String>,
    #[serde(default, alias = "email")]
    attendee_email: Option<String>,
}

/// An attendee once validated, before Chime has created it.
#[derive(Debug)]
struct PlannedAttendee {
    external_user_id: String,
    name: String,
    email: Option<String>,
    is_owner: bool,
}

impl CreateMeeting {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            chime: chime_client(sdk, env)?,
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: env.string("VIDEO_TABLE")?,
            media_region: media_region(env)?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let claims = Claims::from_request(&request);
        let username = claims.require("cognito:username")?.to_owned();
        // The owner's email is informational (shown to colleagues); only a verified one is stored.
        let owner_email = claims.get("email").filter(|_| claims.get("email_verified") == Some("true"));
        let body: CreateMeetingBody = json_body(&request)?;

        let external_meeting_id = body.external_meeting_id;
        check_external_id("externalMeetingId", &external_meeting_id)?;
        let title = match body.meeting_title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(title) if title.chars().count() > MAX_TEXT => {
                return Err(ApiError::bad_field("meetingTitle", "longer than 256 characters"))
            }
            Some(title) => title.to_owned(),
            None => external_meeting_id.clone(),
        };
        let region = match body.meeting_region.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            None => self.media_region.clone(),
            Some(region) if MEDIA_REGIONS.contains(&region) => region.to_owned(),
            Some(_) => return Err(ApiError::bad_field("meetingRegion", "not a Chime SDK media region")),
        };
        let attendees = plan_attendees(body.meeting_attendees, owner_email)?;
        let owner = attendees.iter().find(|a| a.is_owner).ok_or_else(no_owner)?;
        let (owner_id, owner_name) = (owner.external_user_id.clone(), owner.name.clone());

        // A quick answer for the common case, and no Chime meeting created for nothing; the
        // transaction's condition below is what actually keeps the id unique under races.
        let now = self.clock.now();
        if load_meeting(&self.dynamodb, &self.table, &external_meeting_id, now).await?.is_some() {
            return Err(ApiError::conflict("a meeting with that externalMeetingId already exists"));
        }

        let requests = attendees
            .iter()
            .map(|a| CreateAttendeeRequestItem::builder().external_user_id(&a.external_user_id).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::dependency)?;
        let created = self
            .chime
            .create_meeting_with_attendees()
            .external_meeting_id(&external_meeting_id)
            .client_request_token(random_uuid())
            .media_region(&region)
            .set_attendees(Some(requests))
            .send()
            .await
            .map_err(|e| chime_error(e, "meetingAttendees", || ApiError::dependency("Chime lost the meeting")))?;
        let chime_meeting = created.meeting().ok_or_else(|| ApiError::dependency("Chime returned no meeting"))?;
        let meeting = MeetingJson::from_chime(chime_meeting)?;
        let records = match attendee_records(&attendees, &created, &meeting.meeting_id) {
            Ok(records) => records,
            Err(refused) => {
                self.delete_chime_meeting(&meeting.meeting_id).await;
                return Err(refused);
            }
        };

        let record = MeetingRecord {
            external_meeting_id: external_meeting_id.clone(),
            owner_username: username,
            chime: meeting,
            ended_at: None,
        };
        if let Err(failure) = self.store(&record, &title, &owner_name, owner_email, &records, now).await {
            self.delete_chime_meeting(&record.chime.meeting_id).await;
            return Err(failure);
        }
        tracing::info!(attendees = records.len(), "meeting created");
        let owner = records
            .iter()
            .find(|r| r.chime.external_user_id == owner_id)
            .ok_or_else(|| ApiError::dependency("the owner's attendee is missing"))?;
        Reply::new("Meeting created", &join_info(&record.chime, &owner.chime))
    }

    /// The meeting and its attendees in one transaction. The meeting put is conditional (no live
    /// meeting has the id: an expired one not yet deleted by DynamoDB may be replaced); the
    /// attendee puts replace any left over from such an expired meeting.
    async fn store(
        &self,
        record: &MeetingRecord,
        title: &str,
        owner_name: &str,
        owner_email: Option<&str>,
        attendees: &[AttendeeRecord],
        now: time::OffsetDateTime,
    ) -> Result<(), ApiError> {
        let meeting_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record.to_item(title, owner_name, owner_email, now)))
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", store::n(now.unix_timestamp()))
            .build()
            .map_err(ApiError::dependency)?;
        let mut writes = vec![TransactWriteItem::builder().put(meeting_put).build()];
        for attendee in attendees {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(attendee.to_item(&record.external_meeting_id, now)))
                .build()
                .map_err(ApiError::dependency)?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        match self.dynamodb.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(()),
            Err(e) if store::is_transaction_race_lost(&e) => {
                Err(ApiError::conflict("a meeting with that externalMeetingId already exists"))
            }
            Err(e) => Err(ApiError::dependency(store::StoreError::from_sdk("TransactWriteItems", e))),
        }
    }

    /// Deletes a Chime meeting no item will point at. A failure here is logged for an operator: the
    /// meeting then ends by itself when nobody joins it (Chime ends empty meetings after 5 minutes).
    async fn delete_chime_meeting(&self, meeting_id: &str) {
        match self.chime.delete_meeting().meeting_id(meeting_id).send().await {
            Ok(_) => tracing::info!("Chime meeting deleted after a failed create"),
            Err(e) => tracing::error!(
                error = %aws_smithy_types::error::display::DisplayErrorContext(&e),
                chime_meeting_id = meeting_id,
                "could not delete the Chime meeting of a failed create"
            ),
        }
    }
}

fn no_owner() -> ApiError {
    ApiError::bad_field("meetingAttendees", "exactly one attendee must have isOwner: true")
}

/// Validates `meetingAttendees`: one owner (email from the token, id generated when absent), a name
/// for everyone, an `externalUserId` for everyone else, no id twice, at most [`MAX_ATTENDEES`].
fn plan_attendees(requests: Vec<AttendeeRequest>, owner_email: Option<&str>) -> Result<Vec<PlannedAttendee>, ApiError> {
    if requests.iter().filter(|a| a.is_owner == Some(true)).count() != 1 {
        return Err(no_owner());
    }
    if requests.len() > MAX_ATTENDEES {
        return Err(ApiError::bad_field("meetingAttendees", "at most 20 attendees"));
    }
    let mut planned: Vec<PlannedAttendee> = Vec::with_capacity(requests.len());
    for (i, request) in requests.into_iter().enumerate() {
        let is_owner = request.is_owner == Some(true);
        let field = |name: &str| format!("meetingAttendees[{i}].{name}");
        let name = display_text(&field("attendeeName"), request.attendee_name.as_deref().unwrap_or_default())?;
        let external_user_id = match request.external_user_id.filter(|id| !id.is_empty()) {
            Some(id) => id,
            None if is_owner => random_uuid(),
            None => {
                return Err(ApiError::bad_field(&field("externalUserId"), "required for every attendee but the owner"))
            }
        };
        check_external_id(&field("externalUserId"), &external_user_id)?;
        if planned.iter().any(|p| p.external_user_id == external_user_id) {
            return Err(ApiError::bad_field(&field("externalUserId"), "two attendees have the same externalUserId"));
        }
        let email = if is_owner {
            owner_email.map(str::to_owned)
        } else {
            request.attendee_email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty())
        };
        planned.push(PlannedAttendee { external_user_id, name: name.to_owned(), email, is_owner });
    }
    Ok(planned)
}

/// Pairs each planned attendee with the one Chime created; an attendee Chime refused is a 400
/// naming it (the caller deletes the meeting).
fn attendee_records(
    planned: &[PlannedAttendee],
    created: &aws_sdk_chimesdkmeetings::operation::create_meeting_with_attendees::CreateMeetingWithAttendeesOutput,
    chime_meeting_id: &str,
) -> Result<Vec<AttendeeRecord>, ApiError> {
    let position = |id: Option<&str>| planned.iter().position(|p| Some(p.external_user_id.as_str()) == id);
    if let Some(refused) = created.errors().first() {
        let field = match position(refused.external_user_id()) {
            Some(i) => format!("meetingAttendees[{i}].externalUserId"),
            None => "meetingAttendees".to_owned(),
        };
        return Err(ApiError::bad_field(&field, refused.error_message().unwrap_or("refused by Chime")));
    }
    planned
        .iter()
        .map(|p| {
            let attendee = created
                .attendees()
                .iter()
                .find(|a| a.external_user_id() == Some(p.external_user_id.as_str()))
                .ok_or_else(|| ApiError::dependency("Chime did not create every attendee"))?;
            Ok(AttendeeRecord {
                name: p.name.clone(),
                email: p.email.clone(),
                role: Some(if p.is_owner { AttendeeRole::Owner } else { AttendeeRole::Customer }),
                chime_meeting_id: chime_meeting_id.to_owned(),
                chime: AttendeeJson::from_chime(attendee)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attendee(is_owner: Option<bool>, id: Option<&str>, name: Option<&str>) -> AttendeeRequest {
        AttendeeRequest {
            is_owner,
            external_user_id: id.map(str::to_owned),
            attendee_name: name.map(str::to_owned),
            attendee_email: Some("customer@example.com".into()),
        }
    }

    #[test]
    fn the_owner_gets_a_generated_id_and_the_tokens_email() {
        let planned = plan_attendees(
            vec![attendee(Some(true), None, Some("Alice")), attendee(None, Some("cust-1"), Some("Carol"))],
            Some("alice@example.com"),
        )
        .unwrap();
        assert_eq!(planned[0].external_user_id.len(), 36);
        assert_eq!(planned[0].email.as_deref(), Some("alice@example.com"));
        assert!(planned[0].is_owner);
        assert_eq!(planned[1].external_user_id, "cust-1");
        assert_eq!(planned[1].email.as_deref(), Some("customer@example.com"));
    }

    #[test]
    fn attendee_lists_without_exactly_one_owner_or_a_name_name_the_field() {
        let none = plan_attendees(vec![attendee(None, Some("c-1"), Some("C"))], None).unwrap_err();
        assert_eq!(none.message, "meetingAttendees: exactly one attendee must have isOwner: true");
        let two =
            plan_attendees(vec![attendee(Some(true), None, Some("A")), attendee(Some(true), None, Some("B"))], None);
        assert_eq!(two.unwrap_err().status, 400);
        let nameless =
            plan_attendees(vec![attendee(Some(true), None, Some("A")), attendee(None, Some("c-1"), Some(" "))], None);
        assert!(nameless.unwrap_err().message.starts_with("meetingAttendees[1].attendeeName:"));
        let no_id = plan_attendees(vec![attendee(Some(true), None, Some("A")), attendee(None, None, Some("C"))], None);
        assert!(no_id.unwrap_err().message.starts_with("meetingAttendees[1].externalUserId:"));
        let twice = plan_attendees(
            vec![attendee(Some(true), Some("same"), Some("A")), attendee(None, Some("same"), Some("C"))],
            None,
        );
        assert!(twice.unwrap_err().message.contains("same externalUserId"));
        let short =
            plan_attendees(vec![attendee(Some(true), None, Some("A")), attendee(None, Some("c"), Some("C"))], None);
        assert!(short.unwrap_err().message.starts_with("meetingAttendees[1].externalUserId: must be 2 to 64"));
    }
}
