//! The operations' request members and the service model's constraints on them
//! (`chime-sdk-meetings-2021-07-15`), checked before any meeting is touched.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::errors::{bad_request, Refusal};

/// The media Regions `MediaRegion` accepts: the service model's list, GovCloud included.
pub(super) const MEDIA_REGIONS: &[&str] = &[
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

/// Attendees a meeting admits unless `MeetingFeatures.Attendee.MaxCount` says otherwise (also the
/// largest `MaxCount`).
pub(super) const DEFAULT_MAX_ATTENDEES: usize = 250;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum MediaCapability {
    SendReceive,
    Send,
    Receive,
    None,
}

impl MediaCapability {
    pub(super) fn receives(self) -> bool {
        matches!(self, Self::SendReceive | Self::Receive)
    }
}

/// All three are required members of `AttendeeCapabilities`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttendeeCapabilities {
    pub(super) audio: MediaCapability,
    pub(super) video: MediaCapability,
    pub(super) content: MediaCapability,
}

impl Default for AttendeeCapabilities {
    /// "If you don't specify capabilities, all users have send and receive capabilities on all
    /// media channels by default."
    fn default() -> Self {
        Self {
            audio: MediaCapability::SendReceive,
            video: MediaCapability::SendReceive,
            content: MediaCapability::SendReceive,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MeetingFeatures {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) audio: Option<AudioFeatures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) video: Option<VideoFeatures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content: Option<ContentFeatures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) attendee: Option<AttendeeFeatures>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AudioFeatures {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) echo_reduction: Option<FeatureStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(super) enum FeatureStatus {
    Available,
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VideoFeatures {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_resolution: Option<VideoResolution>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum VideoResolution {
    None,
    #[serde(rename = "HD")]
    Hd,
    #[serde(rename = "FHD")]
    Fhd,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ContentFeatures {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_resolution: Option<ContentResolution>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum ContentResolution {
    None,
    #[serde(rename = "FHD")]
    Fhd,
    #[serde(rename = "UHD")]
    Uhd,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttendeeFeatures {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_count: Option<i64>,
}

impl MeetingFeatures {
    pub(super) fn video_resolution(&self) -> Option<VideoResolution> {
        self.video.as_ref().and_then(|v| v.max_resolution)
    }

    pub(super) fn content_resolution(&self) -> Option<ContentResolution> {
        self.content.as_ref().and_then(|c| c.max_resolution)
    }

    pub(super) fn max_count(&self) -> Option<i64> {
        self.attendee.as_ref().and_then(|a| a.max_count)
    }
}

/// `CreateMeeting` and `CreateMeetingWithAttendees` (which adds `Attendees`). Members the emulator
/// has no use for (`NotificationsConfiguration`) are accepted and ignored.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateMeetingRequest {
    pub(super) client_request_token: Option<String>,
    pub(super) media_region: Option<String>,
    pub(super) external_meeting_id: Option<String>,
    pub(super) meeting_host_id: Option<String>,
    pub(super) meeting_features: Option<MeetingFeatures>,
    pub(super) primary_meeting_id: Option<String>,
    pub(super) tenant_ids: Option<Vec<String>>,
    pub(super) tags: Option<Vec<Tag>>,
    /// Parsed only so a value outside the enum is refused.
    #[serde(rename = "MediaPlacementNetworkType")]
    pub(super) _media_placement_network_type: Option<NetworkType>,
    pub(super) attendees: Option<Vec<AttendeeRequest>>,
}

#[derive(Deserialize)]
pub(super) enum NetworkType {
    Ipv4Only,
    DualStack,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Tag {
    pub(super) key: String,
    pub(super) value: String,
}

/// `CreateAttendee`'s body and each `CreateAttendeeRequestItem`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttendeeRequest {
    pub(super) external_user_id: Option<String>,
    pub(super) capabilities: Option<AttendeeCapabilities>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchCreateAttendeeRequest {
    pub(super) attendees: Option<Vec<AttendeeRequest>>,
}

#[derive(Deserialize)]
pub(in crate::emulator) struct OperationQuery {
    pub(super) operation: Option<String>,
}

#[derive(Deserialize)]
pub(in crate::emulator) struct ListQuery {
    #[serde(rename = "next-token")]
    pub(super) next_token: Option<String>,
    #[serde(rename = "max-results")]
    pub(super) max_results: Option<i64>,
}

/// `MeetingId` and `AttendeeId` are `GuidString`s: the hyphenated form only.
pub(super) fn check_guid(member: &str, value: &str) -> Result<(), Refusal> {
    if value.len() == 36 && uuid::Uuid::try_parse(value).is_ok() {
        Ok(())
    } else {
        Err(bad_request(&format!("{member} {value:?} is not a valid GUID")))
    }
}

pub(super) fn check_length(member: &str, value: &str, min: usize, max: usize) -> Result<(), String> {
    let length = value.chars().count();
    if (min..=max).contains(&length) {
        Ok(())
    } else {
        Err(format!("{member} must be {min} to {max} characters long, not {length}"))
    }
}

/// The pattern of `ExternalMeetingId` and `ExternalUserId`: ``[-_&@+=,(){}\[\]\/«».:|'"#a-zA-Z0-9À-ÿ\s]*``.
pub(super) fn is_external_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "-_&@+=,(){}[]/«».:|'\"#".contains(c)
        || ('\u{C0}'..='\u{FF}').contains(&c)
        || matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
}

/// `ExternalMeetingId` / `ExternalUserId`: 2–64 characters of the pattern, not starting with the
/// reserved `aws:` (in any case).
pub(super) fn check_external_id(member: &str, value: &str) -> Result<(), String> {
    check_length(member, value, 2, 64)?;
    if let Some(c) = value.chars().find(|c| !is_external_id_char(*c)) {
        return Err(format!("{member} contains {c:?}, which its pattern does not allow"));
    }
    if value.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!("{member} must not begin with the reserved prefix aws:"));
    }
    Ok(())
}

/// `ClientRequestToken`: 2–64 characters of `[-_a-zA-Z0-9]`.
pub(super) fn check_client_request_token(value: &str) -> Result<(), String> {
    check_length("ClientRequestToken", value, 2, 64)?;
    if value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(())
    } else {
        Err("ClientRequestToken may contain only letters, digits, '-' and '_'".to_owned())
    }
}

/// `TenantId`: 2–256 characters of `[-_!@#$a-zA-Z0-9]`, no character four times in a row
/// (the model's `^(?!.*?(.)\1{3})[-_!@#$a-zA-Z0-9]*$`).
pub(super) fn check_tenant_id(value: &str) -> Result<(), String> {
    check_length("TenantIds member", value, 2, 256)?;
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || "-_!@#$".contains(c)) {
        return Err(format!("TenantId {value:?} may contain only letters, digits and -_!@#$"));
    }
    let chars: Vec<char> = value.chars().collect();
    if chars.windows(4).any(|w| w.iter().all(|c| *c == w[0])) {
        return Err(format!("TenantId {value:?} repeats a character four times in a row"));
    }
    Ok(())
}

pub(super) fn check_features(features: &MeetingFeatures) -> Result<(), String> {
    match features.max_count() {
        Some(count) if !(1..=DEFAULT_MAX_ATTENDEES as i64).contains(&count) => {
            Err(format!("MeetingFeatures.Attendee.MaxCount must be 1 to {DEFAULT_MAX_ATTENDEES}, not {count}"))
        }
        _ => Ok(()),
    }
}

/// The members of `CreateMeeting` / `CreateMeetingWithAttendees` other than the attendees.
pub(super) fn check_create_meeting(request: &CreateMeetingRequest) -> Result<(), String> {
    let token = request.client_request_token.as_deref().ok_or("ClientRequestToken is required")?;
    check_client_request_token(token)?;
    let region = request.media_region.as_deref().ok_or("MediaRegion is required")?;
    if !MEDIA_REGIONS.contains(&region) {
        return Err(format!("MediaRegion {region:?} is not a Chime SDK media Region"));
    }
    let external_meeting_id = request.external_meeting_id.as_deref().ok_or("ExternalMeetingId is required")?;
    check_external_id("ExternalMeetingId", external_meeting_id)?;
    if let Some(host) = &request.meeting_host_id {
        check_length("MeetingHostId", host, 2, 64)?;
    }
    if let Some(features) = &request.meeting_features {
        check_features(features)?;
    }
    if let Some(primary) = &request.primary_meeting_id {
        check_length("PrimaryMeetingId", primary, 2, 64)?;
    }
    if let Some(tenants) = &request.tenant_ids {
        if !(1..=5).contains(&tenants.len()) {
            return Err(format!("TenantIds must have 1 to 5 members, not {}", tenants.len()));
        }
        tenants.iter().try_for_each(|t| check_tenant_id(t))?;
    }
    if let Some(tags) = &request.tags {
        if tags.len() > 50 {
            return Err(format!("Tags must have at most 50 members, not {}", tags.len()));
        }
        for tag in tags {
            check_length("Tag Key", &tag.key, 1, 128)?;
            check_length("Tag Value", &tag.value, 0, 256)?;
        }
    }
    Ok(())
}

/// An attendee request that passed its checks.
pub(super) struct NewAttendee {
    pub(super) external_user_id: String,
    pub(super) capabilities: AttendeeCapabilities,
}

/// One attendee's failure, as the batch operations report it in `Errors`.
pub(super) struct AttendeeError {
    pub(super) external_user_id: Option<String>,
    pub(super) message: String,
}

impl AttendeeError {
    pub(super) fn wire(&self) -> Value {
        let mut error = json!({"ErrorCode": "BadRequest", "ErrorMessage": self.message});
        if let Some(id) = &self.external_user_id {
            error["ExternalUserId"] = json!(id);
        }
        error
    }
}

/// The checks of one attendee that do not depend on the meeting; `features` for the
/// capability rules that do depend on the meeting's features.
pub(super) fn check_attendee(
    request: &AttendeeRequest,
    features: Option<&MeetingFeatures>,
) -> Result<NewAttendee, AttendeeError> {
    let fail = |message: String| AttendeeError { external_user_id: request.external_user_id.clone(), message };
    let external_user_id = request.external_user_id.clone().ok_or_else(|| fail("ExternalUserId is required".into()))?;
    check_external_id("ExternalUserId", &external_user_id).map_err(fail)?;
    let capabilities = request.capabilities.unwrap_or_default();
    // The model's corner cases: content can be received only with video, and a meeting whose
    // video or content resolution is None admits no video or content capability at all.
    if capabilities.content.receives() && !capabilities.video.receives() {
        return Err(fail("Content can be SendReceive or Receive only when Video is SendReceive or Receive".into()));
    }
    if let Some(features) = features {
        if features.video_resolution() == Some(VideoResolution::None) && capabilities.video != MediaCapability::None {
            return Err(fail("The meeting has no video (MaxResolution None): Video must be None".into()));
        }
        if features.content_resolution() == Some(ContentResolution::None)
            && capabilities.content != MediaCapability::None
        {
            return Err(fail("The meeting has no content sharing (MaxResolution None): Content must be None".into()));
        }
    }
    Ok(NewAttendee { external_user_id, capabilities })
}

/// Requests without an `ExternalUserId` are malformed as a whole (it is a required member);
/// the other failures are the attendee's own.
pub(super) fn require_external_user_ids(requests: &[AttendeeRequest]) -> Result<(), Refusal> {
    match requests.iter().position(|r| r.external_user_id.is_none()) {
        Some(index) => Err(bad_request(&format!("Attendees[{index}].ExternalUserId is required"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_follow_the_model_pattern_and_reserved_prefix() {
        for valid in ["ab", "customer@example.com", "Zoë (video) #1", "a b", "«x»", &"x".repeat(64)] {
            assert_eq!(check_external_id("ExternalUserId", valid), Ok(()), "{valid}");
        }
        for invalid in ["a", &"x".repeat(65), "<script>", "semi;colon", "AWS:reserved", "aws:x", "emoji🙂"] {
            assert!(check_external_id("ExternalUserId", invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn tenant_ids_refuse_a_character_four_times_in_a_row() {
        assert_eq!(check_tenant_id("tenant-aaa"), Ok(()));
        assert!(check_tenant_id("tenant-aaaa").is_err());
        assert!(check_tenant_id("tenant.1").is_err());
        assert!(check_tenant_id("t").is_err());
    }
}
