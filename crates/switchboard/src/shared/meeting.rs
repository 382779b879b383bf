//! What the meeting functions share: the Chime objects in the PascalCase JSON the agent-app and the
//! website hand to `new MeetingSessionConfiguration(Meeting, Attendee)`, the meeting and attendee
//! items of `VideoTable` (whitelisted fields only), and the Chime client and its errors.
//!
//! Items: meeting `M#<externalMeetingId>`/`M#…`, attendee `M#…`/`A#<externalUserId>`, both living
//! 45 days. Each attendee records the Chime meeting it belongs to, so an attendee left over from an
//! earlier meeting with the same external id (items expire lazily) never joins the new one.

use aws_config::SdkConfig;
use aws_sdk_chimesdkmeetings::{error::ProvideErrorMetadata, types as chime};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    edge::http::ApiError,
    platform::{
        config::{ConfigError, Settings},
        store::{self, Item},
        time::rfc3339,
    },
};

/// How long meeting and attendee items live.
pub const MEETING_TTL: time::Duration = time::Duration::days(45);

/// Chime's bounds on `ExternalMeetingId` and `ExternalUserId`.
pub const EXTERNAL_ID_LENGTH: std::ops::RangeInclusive<usize> = 2..=64;

/// The Chime SDK media regions (where a meeting's media is hosted), as the service lists them.
pub const MEDIA_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "us-gov-east-1",
    "us-gov-west-1",
];

/// The Chime SDK Meetings client for the control region: `CHIME_CONTROL_REGION` when set (Chime SDK
/// meetings have control planes in fewer regions than Lambda runs in), else the function's region.
pub fn chime_client(sdk: &SdkConfig, env: &Settings) -> Result<aws_sdk_chimesdkmeetings::Client, ConfigError> {
    let mut config = aws_sdk_chimesdkmeetings::config::Builder::from(sdk);
    if let Some(region) = env.optional_string("CHIME_CONTROL_REGION")? {
        config = config.region(aws_sdk_chimesdkmeetings::config::Region::new(region));
    }
    Ok(aws_sdk_chimesdkmeetings::Client::from_conf(config.build()))
}

/// The default media region, `CHIME_MEDIA_REGION` (the template's `MediaRegion`), checked against
/// [`MEDIA_REGIONS`] at cold start.
pub fn media_region(env: &Settings) -> Result<String, ConfigError> {
    let region = env.string("CHIME_MEDIA_REGION")?;
    if !MEDIA_REGIONS.contains(&region.as_str()) {
        return Err(ConfigError::Malformed {
            name: "CHIME_MEDIA_REGION".into(),
            reason: format!("{region:?} is not a Chime SDK media region"),
        });
    }
    Ok(region)
}

/// A Chime SDK error as the API answers it: `NotFoundException` is `gone()` (the meeting or attendee
/// no longer exists), `BadRequestException` a 400 naming `field`, anything else a dependency failure.
pub fn chime_error<E>(
    error: aws_sdk_chimesdkmeetings::error::SdkError<E>,
    field: &str,
    gone: impl FnOnce() -> ApiError,
) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match error.as_service_error().and_then(|e| e.code()) {
        Some("NotFoundException") => gone(),
        Some("BadRequestException") => {
            let reason = error.as_service_error().and_then(|e| e.message()).unwrap_or("refused by Chime").to_owned();
            ApiError::bad_field(field, &reason)
        }
        _ => ApiError::dependency(aws_smithy_types::error::display::DisplayErrorContext(&error)),
    }
}

/// Whether a Chime call failed because the meeting (or attendee) does not exist any more.
pub fn is_chime_not_found<E: ProvideErrorMetadata>(error: &aws_sdk_chimesdkmeetings::error::SdkError<E>) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some("NotFoundException")
}

/// Checks an external id as Chime does (2–64 characters of the model's pattern
/// ``[-_&@+=,(){}\[\]\/«».:|'"#a-zA-Z0-9À-ÿ\s]*``, not starting with the reserved `aws:`), so a bad
/// id is a 400 naming `field` before any meeting exists.
pub fn check_external_id(field: &str, value: &str) -> Result<(), ApiError> {
    let length = value.chars().count();
    if !EXTERNAL_ID_LENGTH.contains(&length) {
        return Err(ApiError::bad_field(field, "must be 2 to 64 characters"));
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || "-_&@+=,(){}[]/«».:|'\"#".contains(c)
            || ('\u{C0}'..='\u{FF}').contains(&c)
            || c.is_ascii_whitespace()
            || c == '\u{0B}'
    };
    if let Some(c) = value.chars().find(|c| !allowed(*c)) {
        return Err(ApiError::bad_field(
            field,
            &format!("{c:?} is not allowed (letters, digits, spaces and -_&@+=,(){{}}[]/«».:|'\"#)"),
        ));
    }
    if value.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:")) {
        return Err(ApiError::bad_field(field, "must not begin with aws: (reserved by Chime)"));
    }
    Ok(())
}

/// A Chime `Meeting`, in the service's own JSON names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MeetingJson {
    pub meeting_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_host_id: Option<String>,
    pub external_meeting_id: String,
    pub media_region: String,
    pub media_placement: MediaPlacementJson,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_meeting_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenant_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MediaPlacementJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_host_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_fallback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signaling_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_control_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_data_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_viewing_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_sharing_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_ingestion_url: Option<String>,
}

/// A Chime `Attendee` as the clients (and the recorder) take it: `{ExternalUserId, AttendeeId, JoinToken}`.
/// Its `Debug` leaves the join token out: it is the attendee's credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttendeeJson {
    pub external_user_id: String,
    pub attendee_id: String,
    pub join_token: String,
}

impl std::fmt::Debug for AttendeeJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttendeeJson")
            .field("external_user_id", &self.external_user_id)
            .field("attendee_id", &self.attendee_id)
            .field("join_token", &"(redacted)")
            .finish()
    }
}

impl MeetingJson {
    /// The meeting Chime answered; one without an id, external id, region or media placement is a
    /// broken answer (a dependency fault), not something to store.
    pub fn from_chime(meeting: &chime::Meeting) -> Result<Self, ApiError> {
        let missing = |what: &str| ApiError::dependency(format!("Chime returned a meeting without {what}"));
        let placement = meeting.media_placement().ok_or_else(|| missing("MediaPlacement"))?;
        let url = |u: Option<&str>| u.map(str::to_owned);
        Ok(Self {
            meeting_id: meeting.meeting_id().ok_or_else(|| missing("MeetingId"))?.to_owned(),
            meeting_host_id: meeting.meeting_host_id().map(str::to_owned),
            external_meeting_id: meeting.external_meeting_id().ok_or_else(|| missing("ExternalMeetingId"))?.to_owned(),
            media_region: meeting.media_region().ok_or_else(|| missing("MediaRegion"))?.to_owned(),
            media_placement: MediaPlacementJson {
                audio_host_url: url(placement.audio_host_url()),
                audio_fallback_url: url(placement.audio_fallback_url()),
                signaling_url: url(placement.signaling_url()),
                turn_control_url: url(placement.turn_control_url()),
                screen_data_url: url(placement.screen_data_url()),
                screen_viewing_url: url(placement.screen_viewing_url()),
                screen_sharing_url: url(placement.screen_sharing_url()),
                event_ingestion_url: url(placement.event_ingestion_url()),
            },
            primary_meeting_id: meeting.primary_meeting_id().map(str::to_owned),
            tenant_ids: meeting.tenant_ids().to_vec(),
            meeting_arn: meeting.meeting_arn().map(str::to_owned),
        })
    }
}

impl AttendeeJson {
    pub fn from_chime(attendee: &chime::Attendee) -> Result<Self, ApiError> {
        let missing = |what: &str| ApiError::dependency(format!("Chime returned an attendee without {what}"));
        Ok(Self {
            external_user_id: attendee.external_user_id().ok_or_else(|| missing("ExternalUserId"))?.to_owned(),
            attendee_id: attendee.attendee_id().ok_or_else(|| missing("AttendeeId"))?.to_owned(),
            join_token: attendee.join_token().ok_or_else(|| missing("JoinToken"))?.to_owned(),
        })
    }
}

/// `{"JoinInfo": {"Meeting": …, "Attendee": …}}`, what the clients read from `data`.
pub fn join_info(meeting: &MeetingJson, attendee: &AttendeeJson) -> serde_json::Value {
    serde_json::json!({"JoinInfo": {"Meeting": meeting, "Attendee": attendee}})
}

/// The partition of a meeting and everything of it (its attendees, recordings and recording lock).
pub fn meeting_partition(external_meeting_id: &str) -> String {
    format!("M#{external_meeting_id}")
}

pub fn meeting_key(external_meeting_id: &str) -> Item {
    let pk = meeting_partition(external_meeting_id);
    store::key(pk.clone(), pk)
}

pub fn attendee_key(external_meeting_id: &str, external_user_id: &str) -> Item {
    store::key(meeting_partition(external_meeting_id), format!("A#{external_user_id}"))
}

/// A stored meeting.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRecord {
    pub external_meeting_id: String,
    pub owner_username: String,
    pub chime: MeetingJson,
    pub ended_at: Option<String>,
}

impl MeetingRecord {
    /// The meeting item: only these fields, never a client object.
    pub fn to_item(&self, title: &str, owner_name: &str, owner_email: Option<&str>, now: OffsetDateTime) -> Item {
        let mut item = meeting_key(&self.external_meeting_id);
        item.insert("entityType".into(), store::s("Meeting"));
        item.insert("externalMeetingId".into(), store::s(&self.external_meeting_id));
        item.insert("meetingTitle".into(), store::s(title));
        item.insert("ownerUsername".into(), store::s(&self.owner_username));
        item.insert("ownerName".into(), store::s(owner_name));
        if let Some(email) = owner_email {
            item.insert("ownerEmail".into(), store::s(email));
        }
        item.insert("chimeMeetingId".into(), store::s(&self.chime.meeting_id));
        item.insert("chimeMeetingData".into(), store::s(json_text(&self.chime)));
        item.insert("createdAt".into(), store::s(rfc3339(now)));
        item.insert("ttl".into(), store::ttl(now + MEETING_TTL));
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, ApiError> {
        Ok(Self {
            external_meeting_id: required_text(item, "externalMeetingId")?,
            owner_username: required_text(item, "ownerUsername")?,
            chime: stored_json(item, "chimeMeetingData")?,
            ended_at: store::get_str(item, "endedAt").map(str::to_owned),
        })
    }
}

/// Why an attendee is in a meeting; it decides who may read its join data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttendeeRole {
    /// The agent who created the meeting: their join data goes to them alone, in `create-meeting`'s answer.
    Owner,
    /// Added for a customer (`create-meeting`'s other entries, `create-attendee`): the public
    /// join-data route serves these, and only these.
    Customer,
    /// The recording bot: its join token goes only to its task and is stored nowhere.
    Recorder,
}

impl AttendeeRole {
    fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "OWNER",
            Self::Customer => "CUSTOMER",
            Self::Recorder => "RECORDER",
        }
    }

    /// The stored role; an item without one (written before roles were stored) is no customer's:
    /// the public route must not guess.
    fn from_item(item: &Item) -> Option<Self> {
        match store::get_str(item, "attendeeRole")? {
            "OWNER" => Some(Self::Owner),
            "CUSTOMER" => Some(Self::Customer),
            "RECORDER" => Some(Self::Recorder),
            _ => None,
        }
    }
}

/// A stored attendee.
#[derive(Debug, Clone, PartialEq)]
pub struct AttendeeRecord {
    pub name: String,
    pub email: Option<String>,
    /// `None` for an item written before roles were stored.
    pub role: Option<AttendeeRole>,
    /// The Chime meeting this attendee was created in.
    pub chime_meeting_id: String,
    /// The recorder's join token is never stored: read back, it is empty.
    pub chime: AttendeeJson,
}

impl AttendeeRecord {
    pub fn to_item(&self, external_meeting_id: &str, now: OffsetDateTime) -> Item {
        let mut item = attendee_key(external_meeting_id, &self.chime.external_user_id);
        item.insert("entityType".into(), store::s("Attendee"));
        item.insert("externalUserId".into(), store::s(&self.chime.external_user_id));
        item.insert("attendeeName".into(), store::s(&self.name));
        if let Some(email) = &self.email {
            item.insert("attendeeEmail".into(), store::s(email));
        }
        item.insert("isOwner".into(), AttributeValue::Bool(self.role == Some(AttendeeRole::Owner)));
        if let Some(role) = self.role {
            item.insert("attendeeRole".into(), store::s(role.as_str()));
        }
        item.insert("chimeMeetingId".into(), store::s(&self.chime_meeting_id));
        item.insert("chimeAttendeeId".into(), store::s(&self.chime.attendee_id));
        // The bot's token would let anyone who sees its id (every participant, through Chime's
        // presence) join as the bot and evict the recorder: it stays with the task.
        if self.role != Some(AttendeeRole::Recorder) {
            item.insert("chimeAttendeeData".into(), store::s(json_text(&self.chime)));
        }
        item.insert("createdAt".into(), store::s(rfc3339(now)));
        item.insert("ttl".into(), store::ttl(now + MEETING_TTL));
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, ApiError> {
        let role = AttendeeRole::from_item(item);
        let chime = match role {
            Some(AttendeeRole::Recorder) => AttendeeJson {
                external_user_id: required_text(item, "externalUserId")?,
                attendee_id: required_text(item, "chimeAttendeeId")?,
                join_token: String::new(),
            },
            _ => stored_json(item, "chimeAttendeeData")?,
        };
        Ok(Self {
            name: required_text(item, "attendeeName")?,
            email: store::get_str(item, "attendeeEmail").map(str::to_owned),
            role,
            chime_meeting_id: required_text(item, "chimeMeetingId")?,
            chime,
        })
    }

    /// The join data the public route may hand out: a customer's, of the meeting `chime_meeting_id`.
    pub fn customer_join_data(&self, chime_meeting_id: &str) -> Option<&AttendeeJson> {
        (self.role == Some(AttendeeRole::Customer) && self.chime_meeting_id == chime_meeting_id).then_some(&self.chime)
    }
}

/// The live meeting item of `external_meeting_id`, if any (an item past its `ttl` is absent).
pub async fn load_meeting(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    external_meeting_id: &str,
    now: OffsetDateTime,
) -> Result<Option<MeetingRecord>, ApiError> {
    let item =
        store::get_item(dynamodb, table, meeting_key(external_meeting_id)).await.map_err(ApiError::dependency)?;
    store::live(item, now).map(|item| MeetingRecord::from_item(&item)).transpose()
}

/// The live meeting of `external_meeting_id` if `username` owns it: 404 when there is none, 403 when
/// it is someone else's.
pub async fn owned_meeting(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    external_meeting_id: &str,
    username: &str,
    now: OffsetDateTime,
) -> Result<MeetingRecord, ApiError> {
    let meeting = load_meeting(dynamodb, table, external_meeting_id, now)
        .await?
        .ok_or_else(|| ApiError::not_found("no meeting has that externalMeetingId"))?;
    if meeting.owner_username != username {
        tracing::warn!("refused a meeting operation by someone who does not own the meeting");
        return Err(ApiError::forbidden("only the meeting's owner can do this"));
    }
    Ok(meeting)
}

/// The live attendee item, if any.
pub async fn load_attendee(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    external_meeting_id: &str,
    external_user_id: &str,
    now: OffsetDateTime,
) -> Result<Option<AttendeeRecord>, ApiError> {
    let key = attendee_key(external_meeting_id, external_user_id);
    let item = store::get_item(dynamodb, table, key).await.map_err(ApiError::dependency)?;
    store::live(item, now).map(|item| AttendeeRecord::from_item(&item)).transpose()
}

/// A random (v4) UUID: generated attendee ids, Chime request tokens.
pub fn random_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A stored item without a field it must have is a fault of ours, not the caller's.
fn malformed(what: &str) -> ApiError {
    ApiError::dependency(store::StoreError::malformed("GetItem", what))
}

fn required_text(item: &Item, name: &str) -> Result<String, ApiError> {
    store::get_str(item, name).map(str::to_owned).ok_or_else(|| malformed(name))
}

/// A Chime object stored as its JSON text.
fn stored_json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, ApiError> {
    serde_json::from_str(&required_text(item, name)?).map_err(|_| malformed(name))
}

fn json_text<T: Serialize>(value: &T) -> String {
    // Serialising these plain structs of strings cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chime_meeting() -> chime::Meeting {
        chime::Meeting::builder()
            .meeting_id("m-1")
            .external_meeting_id("ext-1")
            .media_region("ap-southeast-2")
            .meeting_arn("arn:aws:chime:ap-southeast-2:123456789012:meeting/m-1")
            .media_placement(
                chime::MediaPlacement::builder()
                    .audio_host_url("h:3478")
                    .signaling_url("wss://s")
                    .turn_control_url("https://t")
                    .build(),
            )
            .build()
    }

    #[test]
    fn meetings_keep_the_services_json_names() {
        let meeting = MeetingJson::from_chime(&chime_meeting()).unwrap();
        let json = serde_json::to_value(&meeting).unwrap();
        assert_eq!(json["MeetingId"], "m-1");
        assert_eq!(json["ExternalMeetingId"], "ext-1");
        assert_eq!(json["MediaPlacement"]["SignalingUrl"], "wss://s");
        assert_eq!(json["MediaPlacement"]["AudioHostUrl"], "h:3478");
        assert!(json["MediaPlacement"].get("ScreenDataUrl").is_none(), "absent fields are left out, not null");
        assert!(json.get("TenantIds").is_none());
        let back: MeetingJson = serde_json::from_value(json).unwrap();
        assert_eq!(back, meeting);
    }

    #[test]
    fn a_meeting_without_an_id_is_a_dependency_fault() {
        let broken = chime::Meeting::builder().external_meeting_id("x").build();
        assert_eq!(MeetingJson::from_chime(&broken).unwrap_err().status, 502);
    }

    #[test]
    fn items_round_trip_and_hold_only_whitelisted_fields() {
        let now = time::macros::datetime!(2026-11-23 10:00 UTC);
        let record = MeetingRecord {
            external_meeting_id: "ext-1".into(),
            owner_username: "u-alice".into(),
            chime: MeetingJson::from_chime(&chime_meeting()).unwrap(),
            ended_at: None,
        };
        let item = record.to_item("ext-1", "Alice", Some("alice@example.com"), now);
        assert_eq!(MeetingRecord::from_item(&item).unwrap(), record);
        assert_eq!(store::get_i64(&item, "ttl"), Some((now + MEETING_TTL).unix_timestamp()));
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "chimeMeetingData",
                "chimeMeetingId",
                "createdAt",
                "entityType",
                "externalMeetingId",
                "meetingTitle",
                "ownerEmail",
                "ownerName",
                "ownerUsername",
                "pk",
                "sk",
                "ttl"
            ]
        );
        let attendee = AttendeeRecord {
            name: "Carol".into(),
            email: None,
            role: Some(AttendeeRole::Customer),
            chime_meeting_id: "m-1".into(),
            chime: AttendeeJson { external_user_id: "c-1".into(), attendee_id: "a-1".into(), join_token: "t".into() },
        };
        let item = attendee.to_item("ext-1", now);
        assert_eq!(store::get_str(&item, "sk"), Some("A#c-1"));
        assert_eq!(AttendeeRecord::from_item(&item).unwrap(), attendee);
        assert_eq!(attendee.customer_join_data("m-1"), Some(&attendee.chime));
        assert_eq!(attendee.customer_join_data("m-0"), None, "an earlier meeting's attendee");
    }

    #[test]
    fn only_a_customers_join_data_is_public_and_the_bots_token_is_not_stored() {
        let now = OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
        let chime =
            AttendeeJson { external_user_id: "r-1".into(), attendee_id: "a-9".into(), join_token: "secret".into() };
        for role in [Some(AttendeeRole::Owner), Some(AttendeeRole::Recorder), None] {
            let record = AttendeeRecord {
                name: "N".into(),
                email: None,
                role,
                chime_meeting_id: "m-1".into(),
                chime: chime.clone(),
            };
            let item = record.to_item("ext-1", now);
            let read = AttendeeRecord::from_item(&item).unwrap();
            assert_eq!(read.customer_join_data("m-1"), None, "{role:?}");
            if role == Some(AttendeeRole::Recorder) {
                assert!(!format!("{item:?}").contains("secret"), "the bot's token is stored: {item:?}");
                assert_eq!((read.chime.attendee_id.as_str(), read.chime.join_token.as_str()), ("a-9", ""));
            }
        }
    }

    #[test]
    fn external_ids_are_2_to_64_characters() {
        assert!(check_external_id("f", "ab").is_ok());
        assert!(check_external_id("f", &"x".repeat(64)).is_ok());
        assert_eq!(check_external_id("f", "a").unwrap_err().message, "f: must be 2 to 64 characters");
        assert!(check_external_id("f", &"x".repeat(65)).is_err());
        assert!(check_external_id("f", "Case #12 (Zoë) für Kunden/2026").is_ok());
        for refused in ["<script>", "semi;colon", "AWS:reserved", "emoji🙂", "tab\u{2028}"] {
            assert_eq!(check_external_id("f", refused).unwrap_err().status, 400, "{refused:?}");
        }
    }
}
