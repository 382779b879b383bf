//! Amazon Chime SDK Meetings (restJson1): meetings and their attendees, in memory.
//!
//! Paths, query strings, status codes and JSON names are those of `aws-sdk-chimesdkmeetings`'
//! serializers; the constraints are the service model's (`chime-sdk-meetings-2021-07-15`): a member
//! out of its bounds is a `BadRequestException`, an unknown meeting or attendee a
//! `NotFoundException`, a meeting that is full a `LimitExceededException`. `ClientRequestToken` and
//! an attendee's `ExternalUserId` are idempotency tokens, as in the service: asking again with the
//! same one answers the meeting (attendee) it created. A deleted meeting is gone, with its attendees.

use std::collections::HashMap;

use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    http::{Method, StatusCode, Uri},
    response::Response,
    Json,
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{parse_request, random_token, unknown_operation, Emulator};

mod errors;
mod requests;

use errors::{bad_request, chime_error, meeting_not_found, not_found, respond, service_failure, Refusal};
use requests::{
    check_attendee, check_create_meeting, check_guid, require_external_user_ids, AttendeeCapabilities, AttendeeError,
    AttendeeRequest, BatchCreateAttendeeRequest, ContentResolution, CreateMeetingRequest, ListQuery, MeetingFeatures,
    NewAttendee, OperationQuery, VideoResolution, DEFAULT_MAX_ATTENDEES,
};
/// The default with FHD video or UHD content (the model's `AttendeeFeatures` note).
const HIGH_RESOLUTION_MAX_ATTENDEES: usize = 25;
/// `CreateMeetingWithAttendeesRequestItemList` and `CreateAttendeeRequestItemList` bounds.
const MAX_MEETING_ATTENDEES_PER_REQUEST: usize = 20;
const MAX_BATCH_ATTENDEES: usize = 100;
/// `ResultMax` of `ListAttendees`.
const MAX_LIST_RESULTS: i64 = 100;
/// The service does not document its default page size; a small one here makes a caller that
/// ignores `NextToken` fail its tests rather than production.
const DEFAULT_LIST_RESULTS: i64 = 10;

/// A live meeting as `GET /_local/meetings` and [`super::EmulatorHandle::meetings`] list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalMeeting {
    pub meeting_id: String,
    pub external_meeting_id: String,
    pub media_region: String,
    /// In the order they were created.
    pub attendees: Vec<LocalAttendee>,
}

/// An attendee of a live meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalAttendee {
    pub attendee_id: String,
    pub external_user_id: String,
    pub join_token: String,
}

/// Every live meeting, by `MeetingId`, and the `ClientRequestToken` that created each.
#[derive(Default)]
pub(super) struct MeetingStore {
    meetings: HashMap<String, Meeting>,
    by_client_request_token: HashMap<String, String>,
    /// Creation order, for listing.
    next_sequence: u64,
}

impl MeetingStore {
    pub(super) fn list(&self) -> Vec<LocalMeeting> {
        let mut meetings: Vec<&Meeting> = self.meetings.values().collect();
        meetings.sort_by_key(|m| m.sequence);
        meetings
            .into_iter()
            .map(|m| LocalMeeting {
                meeting_id: m.id.clone(),
                external_meeting_id: m.external_meeting_id.clone(),
                media_region: m.media_region.clone(),
                attendees: m
                    .attendees
                    .iter()
                    .map(|a| LocalAttendee {
                        attendee_id: a.id.clone(),
                        external_user_id: a.external_user_id.clone(),
                        join_token: a.join_token.clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}

struct Meeting {
    sequence: u64,
    id: String,
    arn: String,
    external_meeting_id: String,
    media_region: String,
    meeting_host_id: Option<String>,
    features: Option<MeetingFeatures>,
    primary_meeting_id: Option<String>,
    tenant_ids: Option<Vec<String>>,
    /// In creation order, which is `ListAttendees`' order.
    attendees: Vec<Attendee>,
    next_attendee_sequence: u64,
}

struct Attendee {
    /// Position in the meeting's creation order; pagination tokens name it, so a page boundary
    /// survives attendees deleted between pages.
    sequence: u64,
    id: String,
    external_user_id: String,
    join_token: String,
    capabilities: AttendeeCapabilities,
}

fn locked(state: &Emulator) -> Result<std::sync::MutexGuard<'_, MeetingStore>, Refusal> {
    state.meetings.lock().map_err(|_| service_failure("The meeting store is unavailable"))
}

impl Meeting {
    fn attendee_limit(&self) -> usize {
        let features = self.features.as_ref();
        if let Some(count) = features.and_then(MeetingFeatures::max_count) {
            return usize::try_from(count).unwrap_or(DEFAULT_MAX_ATTENDEES);
        }
        let high_resolution = features.is_some_and(|f| {
            f.video_resolution() == Some(VideoResolution::Fhd) || f.content_resolution() == Some(ContentResolution::Uhd)
        });
        if high_resolution {
            HIGH_RESOLUTION_MAX_ATTENDEES
        } else {
            DEFAULT_MAX_ATTENDEES
        }
    }

    fn attendee(&self, external_user_id: &str) -> Option<&Attendee> {
        self.attendees.iter().find(|a| a.external_user_id == external_user_id)
    }

    /// Adds the attendees that passed their checks (an `ExternalUserId` the meeting already has
    /// answers that attendee), or refuses them all when they would take the meeting past its limit.
    /// The answer is the attendees in request order, then the failures.
    fn admit(&mut self, checked: Vec<Result<NewAttendee, AttendeeError>>) -> Result<(Vec<Value>, Vec<Value>), Refusal> {
        let mut newcomers: Vec<&str> = Vec::new();
        for attendee in checked.iter().flatten() {
            let id = attendee.external_user_id.as_str();
            if self.attendee(id).is_none() && !newcomers.contains(&id) {
                newcomers.push(id);
            }
        }
        let limit = self.attendee_limit();
        if self.attendees.len() + newcomers.len() > limit {
            return Err(Box::new(chime_error(
                StatusCode::BAD_REQUEST,
                "LimitExceededException",
                &format!(
                    "The meeting has {} attendees; {} more would exceed its limit of {limit}",
                    self.attendees.len(),
                    newcomers.len()
                ),
            )));
        }
        let mut attendees = Vec::new();
        let mut errors = Vec::new();
        for attendee in checked {
            match attendee {
                Ok(new) => attendees.push(self.attendee_or_create(new)?),
                Err(error) => errors.push(error.wire()),
            }
        }
        Ok((attendees, errors))
    }

    fn attendee_or_create(&mut self, new: NewAttendee) -> Result<Value, Refusal> {
        if let Some(existing) = self.attendee(&new.external_user_id) {
            return Ok(existing.wire());
        }
        let join_token =
            random_token().map_err(|e| service_failure(&format!("No randomness for a join token: {e}")))?;
        let attendee = Attendee {
            sequence: self.next_attendee_sequence,
            id: uuid::Uuid::new_v4().to_string(),
            external_user_id: new.external_user_id,
            join_token,
            capabilities: new.capabilities,
        };
        self.next_attendee_sequence += 1;
        let wire = attendee.wire();
        self.attendees.push(attendee);
        Ok(wire)
    }

    fn wire(&self) -> Value {
        let mut meeting = json!({
            "MeetingId": self.id,
            "MeetingArn": self.arn,
            "ExternalMeetingId": self.external_meeting_id,
            "MediaRegion": self.media_region,
            "MediaPlacement": media_placement(&self.id, &self.media_region),
        });
        if let Some(host) = &self.meeting_host_id {
            meeting["MeetingHostId"] = json!(host);
        }
        if let Some(features) = &self.features {
            meeting["MeetingFeatures"] = json!(features);
        }
        if let Some(primary) = &self.primary_meeting_id {
            meeting["PrimaryMeetingId"] = json!(primary);
        }
        if let Some(tenants) = &self.tenant_ids {
            meeting["TenantIds"] = json!(tenants);
        }
        meeting
    }
}

impl Attendee {
    fn wire(&self) -> Value {
        json!({
            "ExternalUserId": self.external_user_id,
            "AttendeeId": self.id,
            "JoinToken": self.join_token,
            "Capabilities": self.capabilities,
        })
    }
}

/// The media endpoints, shaped like the service's, on hosts under `.invalid` (RFC 2606), which
/// never resolve: nothing local can reach real Chime media by accident.
fn media_placement(meeting_id: &str, media_region: &str) -> Value {
    let media = format!("m1.{media_region}.meetings.chime.invalid");
    let audio_host = meeting_id.replace('-', "");
    json!({
        "AudioHostUrl": format!("{}.k.{media}:3478", &audio_host[..audio_host.len().min(16)]),
        "AudioFallbackUrl": format!("wss://haxrp.{media}:443/calls/{meeting_id}"),
        "SignalingUrl": format!("wss://signal.{media}/control/{meeting_id}"),
        "TurnControlUrl": format!("https://turn.{media_region}.meetings.chime.invalid/v2/turn_sessions"),
        "ScreenDataUrl": format!("wss://bitpw.{media}:443/v2/screen/{meeting_id}"),
        "ScreenViewingUrl": format!(
            "wss://bitpw.{media}:443/ws/connect?passcode=null&viewer_uuid=null&X-BitHub-Call-Id={meeting_id}"
        ),
        "ScreenSharingUrl": format!("wss://bitpw.{media}:443/v2/screen/{meeting_id}"),
        "EventIngestionUrl": format!("https://data.svc.{media_region}.ingest.chime.invalid/v1/client-events"),
    })
}

fn operation(query: Result<Query<OperationQuery>, QueryRejection>) -> Result<Option<String>, Refusal> {
    query.map(|Query(q)| q.operation).map_err(|rejection| bad_request(&rejection.body_text()))
}

/// `CreateMeeting` (`POST /meetings`) and `CreateMeetingWithAttendees`
/// (`POST /meetings?operation=create-attendees`).
pub(super) async fn create_meeting(
    State(state): State<Emulator>,
    method: Method,
    uri: Uri,
    query: Result<Query<OperationQuery>, QueryRejection>,
    body: axum::body::Bytes,
) -> Response {
    let with_attendees = match operation(query) {
        Ok(None) => false,
        Ok(Some(operation)) if operation == "create-attendees" => true,
        Ok(Some(_)) => return unknown_operation(method, uri).await,
        Err(refusal) => return *refusal,
    };
    respond(create(&state, &body, with_attendees).map(Json))
}

fn create(state: &Emulator, body: &[u8], with_attendees: bool) -> Result<Value, Refusal> {
    let request: CreateMeetingRequest = parse_request(body).map_err(|m| bad_request(&m))?;
    check_create_meeting(&request).map_err(|m| bad_request(&m))?;
    let attendee_requests = if with_attendees {
        let attendees = request.attendees.as_deref().ok_or_else(|| bad_request("Attendees is required"))?;
        if !(1..=MAX_MEETING_ATTENDEES_PER_REQUEST).contains(&attendees.len()) {
            return Err(bad_request(&format!(
                "Attendees must have 1 to {MAX_MEETING_ATTENDEES_PER_REQUEST} members, not {}",
                attendees.len()
            )));
        }
        require_external_user_ids(attendees)?;
        attendees
    } else {
        &[]
    };
    let checked = |features: Option<&MeetingFeatures>| -> Vec<Result<NewAttendee, AttendeeError>> {
        attendee_requests.iter().map(|a| check_attendee(a, features)).collect()
    };
    let token = request.client_request_token.clone().unwrap_or_default();
    let mut store = locked(state)?;

    // The same token answers the meeting it created while that meeting lives (the attendees, by
    // their own idempotent ExternalUserIds, are the ones it created too).
    let created_before = store.by_client_request_token.get(&token).cloned();
    if let Some(meeting) = created_before.and_then(|id| store.meetings.get_mut(&id)) {
        let (attendees, errors) = meeting.admit(checked(meeting.features.as_ref()))?;
        return Ok(meeting_answer(meeting, with_attendees, attendees, errors));
    }
    if let Some(primary) = &request.primary_meeting_id {
        if !store.meetings.contains_key(primary) {
            return Err(bad_request(&format!("PrimaryMeetingId {primary} is not a live meeting")));
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut meeting = Meeting {
        sequence: store.next_sequence,
        arn: format!("arn:aws:chime:{}:{}:meeting/{id}", state.fixture.region, state.fixture.account_id),
        id: id.clone(),
        external_meeting_id: request.external_meeting_id.unwrap_or_default(),
        media_region: request.media_region.unwrap_or_default(),
        meeting_host_id: request.meeting_host_id,
        features: request.meeting_features,
        primary_meeting_id: request.primary_meeting_id,
        tenant_ids: request.tenant_ids,
        attendees: Vec::new(),
        next_attendee_sequence: 0,
    };
    // Attendees first: a request the meeting cannot admit creates no meeting either.
    let (attendees, errors) = meeting.admit(checked(meeting.features.as_ref()))?;
    let answer = meeting_answer(&meeting, with_attendees, attendees, errors);
    store.next_sequence += 1;
    store.by_client_request_token.insert(token, id.clone());
    store.meetings.insert(id, meeting);
    Ok(answer)
}

fn meeting_answer(meeting: &Meeting, with_attendees: bool, attendees: Vec<Value>, errors: Vec<Value>) -> Value {
    let mut answer = json!({"Meeting": meeting.wire()});
    if with_attendees {
        answer["Attendees"] = json!(attendees);
        if !errors.is_empty() {
            answer["Errors"] = json!(errors);
        }
    }
    answer
}

/// `GetMeeting`: `GET /meetings/{MeetingId}`.
pub(super) async fn get_meeting(State(state): State<Emulator>, Path(meeting_id): Path<String>) -> Response {
    let answer = (|| {
        check_guid("MeetingId", &meeting_id)?;
        let store = locked(&state)?;
        let meeting = store.meetings.get(&meeting_id).ok_or_else(|| meeting_not_found(&meeting_id))?;
        Ok::<_, Refusal>(json!({"Meeting": meeting.wire()}))
    })();
    respond(answer.map(Json))
}

/// `DeleteMeeting`: `DELETE /meetings/{MeetingId}`, 204; the meeting and its attendees are gone, and
/// the `chime:MeetingEnded` event is published.
pub(super) async fn delete_meeting(State(state): State<Emulator>, Path(meeting_id): Path<String>) -> Response {
    let deleted = (|| {
        check_guid("MeetingId", &meeting_id)?;
        let mut store = locked(&state)?;
        let meeting = store.meetings.remove(&meeting_id).ok_or_else(|| meeting_not_found(&meeting_id))?;
        // Chime SDK publishes the end to EventBridge in the control region (nobody may listen).
        let ended = meeting_ended_event(&state.fixture, &meeting.external_meeting_id, &meeting.id);
        let _ = state.events.send(ended);
        Ok::<_, Refusal>(StatusCode::NO_CONTENT)
    })();
    respond(deleted)
}

/// A Chime SDK "meeting ended" event, as EventBridge delivers it.
pub fn meeting_ended_event(fixture: &crate::fixture::Fixture, external_meeting_id: &str, meeting_id: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Chime Meeting State Change",
        "source": "aws.chime",
        "account": fixture.account_id,
        "time": "2026-12-05T10:00:00Z",
        "region": fixture.region,
        "resources": [],
        "detail": {
            "version": "0",
            "eventType": "chime:MeetingEnded",
            "timestamp": 1_780_000_000_000_i64,
            "meetingId": meeting_id,
            "externalMeetingId": external_meeting_id,
            "mediaRegion": fixture.region,
        }
    })
}

/// `CreateAttendee` (`POST /meetings/{MeetingId}/attendees`) and `BatchCreateAttendee`
/// (`POST /meetings/{MeetingId}/attendees?operation=batch-create`).
pub(super) async fn create_attendee(
    State(state): State<Emulator>,
    Path(meeting_id): Path<String>,
    method: Method,
    uri: Uri,
    query: Result<Query<OperationQuery>, QueryRejection>,
    body: axum::body::Bytes,
) -> Response {
    let answer = match operation(query) {
        Ok(None) => create_one_attendee(&state, &meeting_id, &body),
        Ok(Some(operation)) if operation == "batch-create" => create_attendee_batch(&state, &meeting_id, &body),
        Ok(Some(_)) => return unknown_operation(method, uri).await,
        Err(refusal) => return *refusal,
    };
    respond(answer.map(Json))
}

fn create_one_attendee(state: &Emulator, meeting_id: &str, body: &[u8]) -> Result<Value, Refusal> {
    check_guid("MeetingId", meeting_id)?;
    let request: AttendeeRequest = parse_request(body).map_err(|m| bad_request(&m))?;
    if request.external_user_id.is_none() {
        return Err(bad_request("ExternalUserId is required"));
    }
    let mut store = locked(state)?;
    let meeting = store.meetings.get_mut(meeting_id).ok_or_else(|| meeting_not_found(meeting_id))?;
    let checked = check_attendee(&request, meeting.features.as_ref()).map_err(|e| bad_request(&e.message))?;
    let (mut attendees, _) = meeting.admit(vec![Ok(checked)])?;
    Ok(json!({"Attendee": attendees.pop()}))
}

fn create_attendee_batch(state: &Emulator, meeting_id: &str, body: &[u8]) -> Result<Value, Refusal> {
    check_guid("MeetingId", meeting_id)?;
    let request: BatchCreateAttendeeRequest = parse_request(body).map_err(|m| bad_request(&m))?;
    let requests = request.attendees.ok_or_else(|| bad_request("Attendees is required"))?;
    if !(1..=MAX_BATCH_ATTENDEES).contains(&requests.len()) {
        return Err(bad_request(&format!(
            "Attendees must have 1 to {MAX_BATCH_ATTENDEES} members, not {}",
            requests.len()
        )));
    }
    require_external_user_ids(&requests)?;
    let mut store = locked(state)?;
    let meeting = store.meetings.get_mut(meeting_id).ok_or_else(|| meeting_not_found(meeting_id))?;
    let checked = requests.iter().map(|r| check_attendee(r, meeting.features.as_ref())).collect();
    let (attendees, errors) = meeting.admit(checked)?;
    let mut answer = json!({"Attendees": attendees});
    if !errors.is_empty() {
        answer["Errors"] = json!(errors);
    }
    Ok(answer)
}

/// `GetAttendee`: `GET /meetings/{MeetingId}/attendees/{AttendeeId}`.
pub(super) async fn get_attendee(
    State(state): State<Emulator>,
    Path((meeting_id, attendee_id)): Path<(String, String)>,
) -> Response {
    let answer = (|| {
        check_guid("MeetingId", &meeting_id)?;
        check_guid("AttendeeId", &attendee_id)?;
        let store = locked(&state)?;
        let meeting = store.meetings.get(&meeting_id).ok_or_else(|| meeting_not_found(&meeting_id))?;
        let attendee = meeting
            .attendees
            .iter()
            .find(|a| a.id == attendee_id)
            .ok_or_else(|| not_found(&format!("The attendee {attendee_id} does not exist in the meeting")))?;
        Ok::<_, Refusal>(json!({"Attendee": attendee.wire()}))
    })();
    respond(answer.map(Json))
}

/// `DeleteAttendee`: `DELETE /meetings/{MeetingId}/attendees/{AttendeeId}`, 204.
pub(super) async fn delete_attendee(
    State(state): State<Emulator>,
    Path((meeting_id, attendee_id)): Path<(String, String)>,
) -> Response {
    let deleted = (|| {
        check_guid("MeetingId", &meeting_id)?;
        check_guid("AttendeeId", &attendee_id)?;
        let mut store = locked(&state)?;
        let meeting = store.meetings.get_mut(&meeting_id).ok_or_else(|| meeting_not_found(&meeting_id))?;
        let index = meeting
            .attendees
            .iter()
            .position(|a| a.id == attendee_id)
            .ok_or_else(|| not_found(&format!("The attendee {attendee_id} does not exist in the meeting")))?;
        meeting.attendees.remove(index);
        Ok::<_, Refusal>(StatusCode::NO_CONTENT)
    })();
    respond(deleted)
}

/// `ListAttendees`: `GET /meetings/{MeetingId}/attendees?next-token=&max-results=`, in creation
/// order, `MaxResults` 1–100; `NextToken` is present while attendees remain.
pub(super) async fn list_attendees(
    State(state): State<Emulator>,
    Path(meeting_id): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let answer = (|| {
        check_guid("MeetingId", &meeting_id)?;
        let Query(query) = query.map_err(|rejection| bad_request(&rejection.body_text()))?;
        let max_results = query.max_results.unwrap_or(DEFAULT_LIST_RESULTS);
        if !(1..=MAX_LIST_RESULTS).contains(&max_results) {
            return Err(bad_request(&format!("MaxResults must be 1 to {MAX_LIST_RESULTS}, not {max_results}")));
        }
        let first = match &query.next_token {
            Some(token) => page_start(token, &meeting_id).ok_or_else(|| bad_request("Invalid NextToken"))?,
            None => 0,
        };
        let store = locked(&state)?;
        let meeting = store.meetings.get(&meeting_id).ok_or_else(|| meeting_not_found(&meeting_id))?;
        let mut remaining = meeting.attendees.iter().filter(|a| a.sequence >= first);
        let page: Vec<Value> = remaining.by_ref().take(max_results as usize).map(Attendee::wire).collect();
        let mut answer = json!({"Attendees": page});
        if let Some(next) = remaining.next() {
            answer["NextToken"] = json!(next_token(&meeting_id, next.sequence));
        }
        Ok(answer)
    })();
    respond(answer.map(Json))
}

/// An opaque token naming the meeting and the first attendee of the next page.
fn next_token(meeting_id: &str, sequence: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{meeting_id}/{sequence}"))
}

/// The first attendee sequence of the page a token names, if it is a token of this meeting.
fn page_start(token: &str, meeting_id: &str) -> Option<u64> {
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (token_meeting, sequence) = decoded.split_once('/')?;
    if token_meeting != meeting_id {
        return None;
    }
    sequence.parse().ok()
}

/// Local only: the live meetings with their attendees, oldest first.
pub(super) async fn read_meetings(State(state): State<Emulator>) -> Response {
    respond(locked(&state).map(|store| Json(store.list())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_belong_to_their_meeting() {
        let meeting = "6a3f0c2e-1b2d-4e5f-8a9b-0c1d2e3f4a5b";
        let token = next_token(meeting, 7);
        assert_eq!(page_start(&token, meeting), Some(7));
        assert_eq!(page_start(&token, "00000000-0000-4000-8000-000000000000"), None);
        assert_eq!(page_start("not a token", meeting), None);
    }

    #[test]
    fn the_attendee_limit_follows_the_meeting_features() {
        let features = |json: Value| serde_json::from_value::<MeetingFeatures>(json).unwrap();
        let meeting = |features: Option<MeetingFeatures>| Meeting {
            sequence: 0,
            id: String::new(),
            arn: String::new(),
            external_meeting_id: String::new(),
            media_region: String::new(),
            meeting_host_id: None,
            features,
            primary_meeting_id: None,
            tenant_ids: None,
            attendees: Vec::new(),
            next_attendee_sequence: 0,
        };
        assert_eq!(meeting(None).attendee_limit(), 250);
        assert_eq!(meeting(Some(features(json!({"Video": {"MaxResolution": "FHD"}})))).attendee_limit(), 25);
        assert_eq!(meeting(Some(features(json!({"Content": {"MaxResolution": "UHD"}})))).attendee_limit(), 25);
        assert_eq!(meeting(Some(features(json!({"Attendee": {"MaxCount": 3}})))).attendee_limit(), 3);
    }
}
