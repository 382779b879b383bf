//! Video call recording end to end: the agent-app's calls through the local HTTP API (Cognito tokens,
//! the JWT authorizer), the real function binaries, moto's ECS (a registered container instance),
//! S3 and DynamoDB, the emulator's Chime SDK Meetings and Connect, and EventBridge's events delivered
//! by the local cloud as the template's rules deliver them.

use std::collections::BTreeMap;

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};
use switchboard_fleet_tests::Fleet;
use switchboard_local::recording::{instance_launched_event, meeting_ended_event};

const PASSWORD: &str = "Local-Passw0rd!";
const ALICE: &str = "alice+video@example.com";
const ALICE_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const BOB: &str = "bob@example.com";
const BOB_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3302";
/// Supervisor of Alice's team (Sydney), with the playback profile.
const SUE: &str = "sue@example.com";
const SUE_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3303";
/// Manager of APAC, the level above Sydney, with the playback profile only.
const MIA: &str = "mia@example.com";
const MIA_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3304";
/// Supervisor of Melbourne, Sydney's sibling under APAC, with the playback profile.
const MEL: &str = "mel@example.com";
const MEL_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3305";
const CONTACT: &str = "8f3e0d4a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
/// A playback URL under the local agent-app's (the template's `AgentAppUrl`; the local cloud's is
/// its first CORS origin, the agent-app's dev server).
const PLAYBACK: &str = "http://localhost:3000/recording/case";
const CUSTOMER: &str = "5f0c3b1e-8d7a-4e7b-9a41-6f5de0c2b9a1";

struct Api<'a> {
    fleet: &'a Fleet,
    http: reqwest::Client,
}

impl Api<'_> {
    fn new(fleet: &Fleet) -> Api<'_> {
        Api { fleet, http: reqwest::Client::new() }
    }

    /// An agent-app call: JSON body (also on DELETE), the ID token in `cognitoIdToken`.
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.fleet.cloud.gateway.as_ref().unwrap().endpoint());
        let mut request = self.http.request(method, url).header("cognitoIdToken", token);
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Onboards an agent as the agent-app does (binds their Connect user, refreshes the user cache);
    /// their token with `custom:connectUserId`.
    async fn onboarded(&self, email: &str, connect_user_id: &str) -> String {
        let token = self.fleet.cloud.sign_in(email, PASSWORD).await.unwrap();
        let bind = json!({"connectLoginByEmail": true, "connectUserId": connect_user_id});
        let (status, body) = self.call(Method::POST, "/setConnectUserId", &token, Some(&bind)).await;
        assert_eq!(status, 200, "{email}: {body}");
        let token = self.fleet.cloud.sign_in(email, PASSWORD).await.unwrap();
        let (status, body) = self.call(Method::PUT, "/connect-user-cache", &token, None).await;
        assert_eq!(status, 200, "{email}: {body}");
        token
    }

    /// A meeting of `token`'s agent with a customer; its Chime meeting.
    async fn meeting(&self, token: &str, external_meeting_id: &str) -> Value {
        let create = json!({
            "externalMeetingId": external_meeting_id,
            "meetingTitle": external_meeting_id,
            "meetingRegion": "",
            "meetingAttendees": [
                {"attendeeName": "Alice", "isOwner": true},
                {"attendeeName": "Carol", "externalUserId": CUSTOMER}
            ]
        });
        let (status, created) = self.call(Method::POST, "/meeting", token, Some(&create)).await;
        assert_eq!(status, 200, "{created}");
        created["data"]["JoinInfo"]["Meeting"].clone()
    }

    async fn start(&self, token: &str, meeting: &str, url: &str) -> (u16, Value) {
        let body = json!({"externalMeetingId": meeting, "connectContactId": CONTACT, "videoRecordingPlaybackURL": url});
        self.call(Method::POST, "/recording", token, Some(&body)).await
    }

    async fn stop(&self, token: &str, meeting: &str) -> (u16, Value) {
        self.call(Method::DELETE, "/recording", token, Some(&json!({"externalMeetingId": meeting}))).await
    }

    async fn summary(&self, token: &str, meeting: &str) -> (u16, Value) {
        self.call(Method::GET, &format!("/recording-summary?externalMeetingId={}", encoded(meeting)), token, None).await
    }
}

/// The fleet with `overrides` on its environment (`<function>/<VARIABLE>` for one function's).
async fn fleet_with(overrides: BTreeMap<String, String>) -> Fleet {
    let fixture =
        switchboard_local::fixture::Fixture::load(&switchboard_local::fixture::Fixture::default_path()).unwrap();
    Fleet::start_with(fixture, overrides).await
}

/// The tasks ECS has for the recording cluster (any status), with their `startedBy` and overrides.
async fn tasks(fleet: &Fleet) -> Vec<aws_sdk_ecs::types::Task> {
    let ecs = fleet.cloud.ecs_client().await;
    let cluster = &fleet.cloud.fixture.video.recording.cluster_name;
    let mut arns = Vec::new();
    for status in [aws_sdk_ecs::types::DesiredStatus::Running, aws_sdk_ecs::types::DesiredStatus::Stopped] {
        let listed = ecs.list_tasks().cluster(cluster).desired_status(status).send().await.unwrap();
        arns.extend(listed.task_arns().iter().cloned());
    }
    if arns.is_empty() {
        return Vec::new();
    }
    let described = ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.unwrap();
    described.tasks().to_vec()
}

fn task_started_by<'a>(tasks: &'a [aws_sdk_ecs::types::Task], started_by: &str) -> &'a aws_sdk_ecs::types::Task {
    tasks.iter().find(|t| t.started_by() == Some(started_by)).unwrap_or_else(|| panic!("no task {started_by}"))
}

fn environment(task: &aws_sdk_ecs::types::Task) -> BTreeMap<String, String> {
    let container = &task.overrides().unwrap().container_overrides()[0];
    assert_eq!(container.name(), Some("recorder"));
    container.environment().iter().map(|kv| (kv.name().unwrap().to_owned(), kv.value().unwrap().to_owned())).collect()
}

/// A query-string value, percent-encoded as the agent-app's URL building does.
/// A claim of a Cognito token's payload (the token as the agent-app sends it).
fn claim(token: &str, name: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let payload: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    payload[name].as_str().unwrap_or_else(|| panic!("no {name} in {payload}")).to_owned()
}

fn encoded(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn decoded(value: &str) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD.decode(value).expect("standard base64");
    assert!(bytes.is_ascii(), "ASCII only: the recorder passes it through a URL query");
    serde_json::from_slice(&bytes).unwrap()
}

fn is_stopping_or_stopped(task: &aws_sdk_ecs::types::Task) -> bool {
    task.desired_status() == Some("STOPPED")
}

fn meeting_attendees(fleet: &Fleet, meeting_id: &str) -> Vec<String> {
    let meetings = fleet.cloud.emulator.meetings();
    let meeting = meetings.iter().find(|m| m.meeting_id == meeting_id).expect("the meeting is live");
    meeting.attendees.iter().map(|a| a.external_user_id.clone()).collect()
}

/// Where a recording's recorder writes: the bucket and the prefix it derives from the task's
/// `RECORDING_FILE_NAME` (the name without `.mp4`, and `/`).
async fn recording_prefix(fleet: &Fleet, recording_id: &str) -> (String, String) {
    let all = tasks(fleet).await;
    let env = environment(task_started_by(&all, &format!("Recording-{recording_id}")));
    let file = &env["RECORDING_FILE_NAME"];
    let prefix = format!("{}/", file.strip_suffix(".mp4").unwrap_or_else(|| panic!("{file}")));
    (env["RECORDING_BUCKET_NAME"].clone(), prefix)
}

/// The recorder's sample manifest (`recorder/contract/manifest.example.json`: the recorder is held to
/// the same one), rewritten for the recording under `prefix`: `stored` and `not_stored` segments as
/// `(number, startSeconds, endSeconds)`, each stored one's key its name under the prefix.
fn manifest(prefix: &str, state: &str, stored: &[(u32, f64, f64)], not_stored: &[(u32, f64, f64)]) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../recorder/contract/manifest.example.json");
    let mut manifest: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let like = |list: &str, (number, start, end): (u32, f64, f64)| {
        let mut entry = manifest[list][0].clone();
        entry["number"] = json!(number);
        entry["startSeconds"] = json!(start);
        entry["endSeconds"] = json!(end);
        if entry.get("key").is_some() {
            entry["key"] = json!(format!("{prefix}segment-{number:05}.mp4"));
        }
        entry
    };
    let segments: Vec<Value> = stored.iter().map(|s| like("segments", *s)).collect();
    let missing: Vec<Value> = not_stored.iter().map(|s| like("notStored", *s)).collect();
    manifest["recordingFileName"] = json!(format!("{}.mp4", prefix.trim_end_matches('/')));
    manifest["prefix"] = json!(prefix);
    manifest["state"] = json!(state);
    manifest["segments"] = json!(segments);
    manifest["notStored"] = json!(missing);
    manifest
}

/// Bytes of one segment object, distinct per recording and segment.
fn segment_bytes(prefix: &str, number: u32) -> Vec<u8> {
    format!("\0\0\0\x18ftypmp42 segment {number} of {prefix}").into_bytes()
}

/// What the recorder stores for `recording_id`: each stored segment's object and the manifest.
async fn store_segments(fleet: &Fleet, recording_id: &str, state: &str, stored: &[(u32, f64, f64)]) -> Value {
    let (bucket, prefix) = recording_prefix(fleet, recording_id).await;
    let s3 = fleet.cloud.s3_client().await;
    for (number, _, _) in stored {
        let key = format!("{prefix}segment-{number:05}.mp4");
        let body = segment_bytes(&prefix, *number);
        s3.put_object().bucket(&bucket).key(key).body(body.into()).send().await.unwrap();
    }
    let manifest = manifest(&prefix, state, stored, &[]);
    put_manifest(fleet, &bucket, &prefix, &manifest).await;
    manifest
}

async fn put_manifest(fleet: &Fleet, bucket: &str, prefix: &str, manifest: &Value) {
    let s3 = fleet.cloud.s3_client().await;
    let body = manifest.to_string().into_bytes();
    let key = format!("{prefix}manifest.json");
    s3.put_object().bucket(bucket).key(key).content_type("application/json").body(body.into()).send().await.unwrap();
}

/// An RFC 3339 time of an answer.
fn at(text: &Value) -> time::OffsetDateTime {
    let text = text.as_str().unwrap_or_else(|| panic!("not a time: {text}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("ISO 8601")
}

#[tokio::test]
async fn an_agent_records_a_video_call_and_supervisors_play_it_back_by_hierarchy() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    fleet.cloud.connect_contact(CONTACT, CONTACT, Some(ALICE_CONNECT_ID)).await.unwrap();
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    let meeting_name = "case-2026-12-05-0001 Zoë";
    let meeting = api.meeting(&alice, meeting_name).await;
    let chime_meeting_id = meeting["MeetingId"].as_str().unwrap().to_owned();

    // Alice starts a recording: a recorder task runs with the exact environment contract.
    let first_url = "http://localhost:3000/recording/m1";
    let (status, started) = api.start(&alice, meeting_name, first_url).await;
    assert_eq!(status, 200, "{started}");
    let recording_id = started["data"]["recordingId"].as_str().unwrap().to_owned();
    let tasks_now = tasks(&fleet).await;
    let task = task_started_by(&tasks_now, &format!("Recording-{recording_id}"));
    let env = environment(task);
    assert_eq!(env["TASK_TYPE"], "RECORDING");
    assert_eq!(decoded(&env["CHIME_MEETING_DATA"]), meeting, "the bare Meeting object, not wrapped");
    let bot = decoded(&env["CHIME_ATTENDEE_DATA"]);
    assert_eq!(bot["ExternalUserId"], recording_id.as_str());
    assert!(bot["AttendeeId"].is_string() && bot["JoinToken"].is_string(), "{bot}");
    assert_eq!(bot.as_object().unwrap().len(), 3, "just {{ExternalUserId, AttendeeId, JoinToken}}: {bot}");
    assert_eq!(env["RECORDING_BUCKET_NAME"], fleet.cloud.fixture.video.recording.bucket_name);
    let file = &env["RECORDING_FILE_NAME"];
    let pattern_ok = file.starts_with("RECORDINGS/")
        && file.ends_with("_UTC.mp4")
        && file.contains(&format!("/case-2026-12-05-0001Zo_{recording_id}_"));
    assert!(pattern_ok, "{file}");
    assert_eq!((env["RECORDING_SCREEN_WIDTH"].as_str(), env["RECORDING_SCREEN_HEIGHT"].as_str()), ("1920", "1080"));
    assert!(meeting_attendees(&fleet, &chime_meeting_id).contains(&recording_id), "the bot joined");
    // The agent-app recognises the bot by its roster name.
    let (status, name) = api
        .call(
            Method::GET,
            &format!(
                "/attendee-name?externalMeetingId={}&attendeeExternalUserId={recording_id}",
                encoded(meeting_name)
            ),
            &alice,
            None,
        )
        .await;
    assert_eq!((status, &name["data"]), (200, &json!("RECORDING")), "{name}");
    // Every participant sees the bot's id (Chime presence), so the public join-data route must not
    // serve it: the bot answers as an unknown attendee, and its token is in no item.
    let website = reqwest::Client::new();
    let join_data = |user: &str| {
        let query = format!("?externalMeetingId={}&attendeeExternalUserId={user}", encoded(meeting_name));
        let url = format!("{}/attendee-join-data{query}", fleet.cloud.gateway.as_ref().unwrap().endpoint());
        let website = website.clone();
        async move {
            let response = website.get(url).send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (bot_status, bot_answer) = join_data(&recording_id).await;
    let (unknown_status, unknown_answer) = join_data("nobody-1").await;
    assert_eq!(
        (bot_status, &bot_answer["code"], &bot_answer["message"]),
        (unknown_status, &unknown_answer["code"], &unknown_answer["message"]),
        "{bot_answer}"
    );
    assert_eq!(bot_status, 404);
    assert_eq!(join_data(CUSTOMER).await.0, 200, "the customer's join data is served");
    let stored = table_items(&fleet, meeting_name).await;
    let token = bot["JoinToken"].as_str().unwrap();
    assert!(!stored.contains(token), "the bot's join token is stored: {stored}");
    assert_eq!(fleet.cloud.emulator.contact_attributes(CONTACT)["videoRecordingPlaybackURL"], first_url);

    // One recording at a time.
    let (status, again) = api.start(&alice, meeting_name, first_url).await;
    assert_eq!((status, again["code"].as_str()), (409, Some("CONFLICT")), "{again}");

    // Alice stops it: the task is stopped, the bot has left, the counts are numbers.
    let (status, stopped) = api.stop(&alice, meeting_name).await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["data"], json!({"recordingsStopped": 1, "recordingsNotStopped": 0}));
    let after = tasks(&fleet).await;
    assert!(is_stopping_or_stopped(task_started_by(&after, &format!("Recording-{recording_id}"))));
    assert!(!meeting_attendees(&fleet, &chime_meeting_id).contains(&recording_id), "the bot left");
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let item = dynamodb
        .get_item()
        .table_name(&fleet.cloud.fixture.video.table_name)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("M#{meeting_name}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("REC#{recording_id}")))
        .send()
        .await
        .unwrap();
    let ended_at = item.item().unwrap()["endedAt"].as_s().unwrap();
    time::OffsetDateTime::parse(ended_at, &time::format_description::well_known::Rfc3339).expect("endedAt, ISO 8601");
    let (status, nothing) = api.stop(&alice, meeting_name).await;
    assert_eq!((status, &nothing["data"]), (200, &json!({"recordingsStopped": 0, "recordingsNotStopped": 0})));

    // A second recording; the contact's playback URL was set once, by the first.
    let (status, second) = api.start(&alice, meeting_name, "http://localhost:3000/recording/m2").await;
    assert_eq!(status, 200, "{second}");
    let second_id = second["data"]["recordingId"].as_str().unwrap().to_owned();
    assert_eq!(fleet.cloud.emulator.contact_attributes(CONTACT)["videoRecordingPlaybackURL"], first_url);
    let (status, stopped) = api.stop(&alice, meeting_name).await;
    assert_eq!((status, &stopped["data"]["recordingsStopped"]), (200, &json!(1)), "{stopped}");
    // What the two recorders stored: two segments, then one. The second recording started moments
    // after the first: the first's segments are a few milliseconds long, so the playlist's time order
    // is the recordings' order.
    store_segments(&fleet, &recording_id, "complete", &[(1, 0.0, 0.002), (2, 0.002, 0.004)]).await;
    store_segments(&fleet, &second_id, "complete", &[(1, 0.0, 61.25)]).await;

    // Sue (Alice's team, playback profile) sees both recordings' segments, oldest first, each with a
    // presigned URL.
    let sue = api.onboarded(SUE, SUE_CONNECT_ID).await;
    let (status, summary) = api.summary(&sue, meeting_name).await;
    assert_eq!(status, 200, "{summary}");
    let listed = summary["data"].as_array().unwrap();
    let ids: Vec<&str> = listed.iter().map(|r| r["recordingId"].as_str().unwrap()).collect();
    assert_eq!(ids, [format!("{recording_id}/1"), format!("{recording_id}/2"), format!("{second_id}/1")]);
    for recording in listed {
        let url = recording["recordingURL"].as_str().unwrap();
        assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=900"), "{url}");
        assert!(url.contains(&fleet.cloud.fixture.video.recording.bucket_name), "{url}");
        assert!(url.contains("/segment-0000"), "{url}");
        assert!(at(&recording["createdAt"]) <= at(&recording["endedAt"]), "{recording}");
        assert_eq!((&recording["complete"], &recording["missingSegments"]), (&json!(true), &json!([])), "{recording}");
    }
    // Mia manages APAC, the level above Sydney: she sees them too.
    let mia = api.onboarded(MIA, MIA_CONNECT_ID).await;
    let (status, summary) = api.summary(&mia, meeting_name).await;
    assert_eq!((status, summary["data"].as_array().map(Vec::len)), (200, Some(3)), "{summary}");
    // Mel supervises Melbourne, another branch under APAC: 403.
    let mel = api.onboarded(MEL, MEL_CONNECT_ID).await;
    let (status, refused) = api.summary(&mel, meeting_name).await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("FORBIDDEN")), "{refused}");
    // Bob has no playback profile: 403.
    let bob = api.onboarded(BOB, BOB_CONNECT_ID).await;
    let (status, refused) = api.summary(&bob, meeting_name).await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("FORBIDDEN")), "{refused}");
    // An unknown meeting, and a meeting without recordings: 404.
    let (status, unknown) = api.summary(&sue, "no-such-meeting").await;
    assert_eq!((status, unknown["code"].as_str()), (404, Some("NOT_FOUND")), "{unknown}");
    api.meeting(&alice, "case-never-recorded").await;
    let (status, none) = api.summary(&sue, "case-never-recorded").await;
    assert_eq!(status, 404, "{none}");
    // A supervisor whose Connect user cache is gone (expired): 403 until the agent-app refreshes it.
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let key = aws_sdk_dynamodb::types::AttributeValue::S(format!("CUC#{SUE_CONNECT_ID}"));
    let table = &fleet.cloud.fixture.video.table_name;
    dynamodb.delete_item().table_name(table).key("pk", key.clone()).key("sk", key).send().await.unwrap();
    let (status, uncached) = api.summary(&sue, meeting_name).await;
    assert_eq!(status, 403, "{uncached}");
}

/// The recorder stored segments 1 and 3 of a recording (2 failed) and a manifest that also lists a
/// segment 4 whose key lies outside the recording's prefix: the supervisor's playlist has one item
/// per stored segment, in order, each at its time, each link playing that segment's own bytes; the key
/// outside is linked to nothing and counted missing.
#[tokio::test]
async fn recording_segments_are_playlist_items_in_order_and_nothing_outside_the_recording_is_linked() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    let meeting = "case-segments";
    api.meeting(&alice, meeting).await;
    let body = json!({"externalMeetingId": meeting});
    let (status, started) = api.call(Method::POST, "/recording", &alice, Some(&body)).await;
    assert_eq!(status, 200, "{started}");
    let recording_id = started["data"]["recordingId"].as_str().unwrap().to_owned();
    // The item says how its recorder writes.
    let items = partition(&fleet, meeting).await;
    let item = items.iter().find(|i| i["sk"].as_s().unwrap() == &format!("REC#{recording_id}")).unwrap();
    assert_eq!(item["recordingLayout"].as_s().unwrap(), "SEGMENTS");
    let created_at = at(&json!(item["createdAt"].as_s().unwrap()));

    // What the recorder stores: segments 1 and 3, and the manifest (the example, rewritten).
    let (bucket, prefix) = recording_prefix(&fleet, &recording_id).await;
    let s3 = fleet.cloud.s3_client().await;
    for number in [1, 3] {
        let key = format!("{prefix}segment-{number:05}.mp4");
        s3.put_object().bucket(&bucket).key(key).body(segment_bytes(&prefix, number).into()).send().await.unwrap();
    }
    // Another recording's object, which the manifest's segment 4 names.
    let elsewhere =
        "RECORDINGS/2026/01/01/00/other_00000000-0000-4000-8000-000000000000_20260101T000000_UTC/segment-00004.mp4";
    s3.put_object().bucket(&bucket).key(elsewhere).body(b"another recording".to_vec().into()).send().await.unwrap();
    let stored = [(1, 0.0, 300.033), (3, 600.067, 900.1), (4, 900.1, 931.5)];
    let mut written = manifest(&prefix, "incomplete", &stored, &[(2, 300.033, 600.067)]);
    written["segments"][2]["key"] = json!(elsewhere);
    // The capture began 7.25 s after the item was written (the task started, the page loaded): the
    // segments' times count from there.
    let capture_began = created_at + time::Duration::milliseconds(7_250);
    written["startedAt"] =
        json!(time::OffsetDateTime::format(capture_began, &time::format_description::well_known::Rfc3339).unwrap());
    put_manifest(&fleet, &bucket, &prefix, &written).await;

    let sue = api.onboarded(SUE, SUE_CONNECT_ID).await;
    let (status, summary) = api.summary(&sue, meeting).await;
    assert_eq!(status, 200, "{summary}");
    let listed = summary["data"].as_array().unwrap();
    let ids: Vec<&str> = listed.iter().map(|r| r["recordingId"].as_str().unwrap()).collect();
    assert_eq!(ids, [format!("{recording_id}/1"), format!("{recording_id}/3")], "in order, segment 4 refused");
    let plain = reqwest::Client::new();
    for (listed, (number, start_ms, end_ms)) in listed.iter().zip([(1, 0, 300_033), (3, 600_067, 900_100)]) {
        let mut fields: Vec<&str> = listed.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort_unstable();
        let mut expected = [
            "recordingId",
            "recordingURL",
            "createdAt",
            "recording",
            "segment",
            "endedAt",
            "complete",
            "missingSegments",
        ];
        expected.sort_unstable();
        assert_eq!(fields, expected, "{listed}");
        assert_eq!((&listed["recording"], &listed["segment"]), (&json!(recording_id), &json!(number)));
        assert_eq!(at(&listed["createdAt"]) - capture_began, time::Duration::milliseconds(start_ms), "{listed}");
        assert_eq!(at(&listed["endedAt"]) - capture_began, time::Duration::milliseconds(end_ms), "{listed}");
        assert_eq!(listed["complete"], false, "the recorder did not finish: {listed}");
        assert_eq!(listed["missingSegments"], json!([2, 4]), "not stored, and refused: {listed}");
        // Each link, fetched as the agent-app's <video> does, plays that segment.
        let url = listed["recordingURL"].as_str().unwrap();
        let fetched = plain.get(url).send().await.unwrap();
        assert_eq!(fetched.status().as_u16(), 200, "{url}");
        assert_eq!(fetched.bytes().await.unwrap().to_vec(), segment_bytes(&prefix, number), "{url}");
    }
    assert!(!summary.to_string().contains("other_00000000"), "a key outside the recording is linked: {summary}");
    let logs = fleet.logs();
    assert!(logs.iter().any(|l| l.contains("a segment of the manifest was not linked")), "{}", logs.join("\n"));
    let given: Vec<&String> = logs.iter().filter(|l| l.contains("recording playback links given")).collect();
    assert!(given[0].contains(&format!("{recording_id}/1,{recording_id}/3")), "{given:?}");

    // The recorder finishes (stopped) with segment 4 its own: the recording is complete.
    let (status, stopped) = api.stop(&alice, meeting).await;
    assert_eq!(status, 200, "{stopped}");
    let key = format!("{prefix}segment-00004.mp4");
    s3.put_object().bucket(&bucket).key(key).body(segment_bytes(&prefix, 4).into()).send().await.unwrap();
    let stored = [(1, 0.0, 300.033), (3, 600.067, 900.1), (4, 900.1, 931.5)];
    put_manifest(&fleet, &bucket, &prefix, &manifest(&prefix, "complete", &stored, &[(2, 300.033, 600.067)])).await;
    let (status, summary) = api.summary(&sue, meeting).await;
    assert_eq!(status, 200, "{summary}");
    let listed = summary["data"].as_array().unwrap();
    let segments: Vec<&Value> = listed.iter().map(|r| &r["segment"]).collect();
    assert_eq!(segments, [&json!(1), &json!(3), &json!(4)]);
    assert!(listed.iter().all(|r| r["complete"] == true && r["missingSegments"] == json!([2])), "{summary}");
    let last = plain.get(listed[2]["recordingURL"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(last.bytes().await.unwrap().to_vec(), segment_bytes(&prefix, 4));
}

/// A recording written before segments (its item has no layout) keeps its one item, as the agent-app
/// always had it; a segmented recording whose recorder has stored nothing yet (no manifest) lists
/// nothing, and a meeting with only such recordings answers 200 with an empty playlist; a manifest
/// that does not parse is a dependency failure, not an empty list.
#[tokio::test]
async fn recording_summary_keeps_old_single_file_recordings_and_lists_nothing_before_a_manifest() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    let sue = api.onboarded(SUE, SUE_CONNECT_ID).await;
    let start = |meeting: &'static str| {
        let api = &api;
        let alice = &alice;
        async move {
            let body = json!({"externalMeetingId": meeting});
            let (status, started) = api.call(Method::POST, "/recording", alice, Some(&body)).await;
            assert_eq!(status, 200, "{started}");
            started["data"]["recordingId"].as_str().unwrap().to_owned()
        }
    };

    // Nothing stored yet: the recording exists, nothing is playable.
    api.meeting(&alice, "case-nothing-yet").await;
    let waiting = start("case-nothing-yet").await;
    let (status, summary) = api.summary(&sue, "case-nothing-yet").await;
    assert_eq!((status, &summary["data"]), (200, &json!([])), "{summary}");
    // The recorder's first manifest may list no segment yet: still nothing to play.
    let (bucket, prefix) = recording_prefix(&fleet, &waiting).await;
    put_manifest(&fleet, &bucket, &prefix, &manifest(&prefix, "recording", &[], &[])).await;
    let (status, summary) = api.summary(&sue, "case-nothing-yet").await;
    assert_eq!((status, &summary["data"]), (200, &json!([])), "{summary}");
    // A manifest that does not parse: 502, not a recording silently missing from the list.
    let s3 = fleet.cloud.s3_client().await;
    let key = format!("{prefix}manifest.json");
    s3.put_object().bucket(&bucket).key(&key).body(b"{\"segments\": 7}".to_vec().into()).send().await.unwrap();
    let (status, failed) = api.summary(&sue, "case-nothing-yet").await;
    assert_eq!((status, failed["code"].as_str()), (502, Some("DEPENDENCY_FAILED")), "{failed}");

    // A recording from before segments: its item without a layout, its one MP4 at its file name.
    let meeting = "case-single-file";
    api.meeting(&alice, meeting).await;
    let old = start(meeting).await;
    assert_eq!(api.stop(&alice, meeting).await.0, 200);
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let table = &fleet.cloud.fixture.video.table_name;
    dynamodb
        .update_item()
        .table_name(table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("M#{meeting}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("REC#{old}")))
        .update_expression("REMOVE recordingLayout")
        .send()
        .await
        .unwrap();
    let all = tasks(&fleet).await;
    let file = environment(task_started_by(&all, &format!("Recording-{old}")))["RECORDING_FILE_NAME"].clone();
    s3.put_object().bucket(&bucket).key(&file).body(b"one whole mp4".to_vec().into()).send().await.unwrap();
    // And a segmented one after it, with nothing stored yet.
    start(meeting).await;

    let (status, summary) = api.summary(&sue, meeting).await;
    assert_eq!(status, 200, "{summary}");
    let listed = summary["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{summary}");
    let mut fields: Vec<&str> = listed[0].as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["createdAt", "recordingId", "recordingURL"], "exactly the item it always had");
    assert_eq!(listed[0]["recordingId"], old.as_str());
    let items = partition(&fleet, meeting).await;
    let item = items.iter().find(|i| i["sk"].as_s().unwrap() == &format!("REC#{old}")).unwrap();
    assert_eq!(listed[0]["createdAt"].as_str(), Some(item["createdAt"].as_s().unwrap().as_str()));
    let url = listed[0]["recordingURL"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature=") && url.contains("_UTC.mp4?"), "{url}");
    let fetched = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(fetched.to_vec(), b"one whole mp4");
}

/// S3 failing (not a missing manifest) is a dependency failure: the supervisor is not told there is
/// nothing to play.
#[tokio::test]
async fn recording_summary_answers_502_when_s3_fails() {
    let overrides =
        BTreeMap::from([("get-recording-summary/AWS_ENDPOINT_URL_S3".to_owned(), "http://127.0.0.1:9".to_owned())]);
    let fleet = fleet_with(overrides).await;
    let api = Api::new(&fleet);
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    api.meeting(&alice, "case-no-s3").await;
    let body = json!({"externalMeetingId": "case-no-s3"});
    let (status, started) = api.call(Method::POST, "/recording", &alice, Some(&body)).await;
    assert_eq!(status, 200, "{started}");
    let sue = api.onboarded(SUE, SUE_CONNECT_ID).await;
    let (status, failed) = api.summary(&sue, "case-no-s3").await;
    assert_eq!((status, failed["code"].as_str()), (502, Some("DEPENDENCY_FAILED")), "{failed}");
}

/// Who was given links to which recordings is logged, one line per answered summary
/// (RecordingBucket's CKV_AWS_18 waiver in template.yaml rests on it): the viewer's Cognito username
/// and Connect user id, and the recording ids; never a link, its signature or credential.
#[tokio::test]
async fn each_recording_summary_logs_who_was_given_which_recordings_and_no_link() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    let meeting = "case-audit";
    api.meeting(&alice, meeting).await;
    let mut recordings = vec![];
    // The second recording starts moments after the first: the first's segments are milliseconds long.
    for segments in [&[(1, 0.0, 0.002), (2, 0.002, 0.004)][..], &[(1, 0.0, 42.0)]] {
        let body = json!({"externalMeetingId": meeting});
        let (status, started) = api.call(Method::POST, "/recording", &alice, Some(&body)).await;
        assert_eq!(status, 200, "{started}");
        let recording_id = started["data"]["recordingId"].as_str().unwrap().to_owned();
        let (status, stopped) = api.stop(&alice, meeting).await;
        assert_eq!(status, 200, "{stopped}");
        store_segments(&fleet, &recording_id, "complete", segments).await;
        // One playlist item per segment: the line names each item given.
        recordings.extend((1..=segments.len()).map(|n| format!("{recording_id}/{n}")));
    }

    let sue = api.onboarded(SUE, SUE_CONNECT_ID).await;
    let (status, summary) = api.summary(&sue, meeting).await;
    assert_eq!(status, 200, "{summary}");
    let logs = fleet.logs();
    let given: Vec<&String> = logs.iter().filter(|l| l.contains("recording playback links given")).collect();
    assert_eq!(given.len(), 1, "one line per answered summary: {given:?}");
    let line: Value = serde_json::from_str(&given[0][given[0].find('{').unwrap()..]).unwrap();
    let fields = if line["fields"].is_object() { &line["fields"] } else { &line };
    assert_eq!(fields["viewer"], claim(&sue, "cognito:username").as_str(), "{line}");
    assert_eq!(fields["viewer_connect_user_id"], SUE_CONNECT_ID, "{line}");
    assert_eq!(fields["recording_ids"], recordings.join(","), "{line}");
    // The links went to Sue only: no log line holds one.
    assert_eq!(summary["data"].as_array().unwrap().len(), 3, "{summary}");
    for recording in summary["data"].as_array().unwrap() {
        let url = recording["recordingURL"].as_str().unwrap();
        let signature = url.split("X-Amz-Signature=").nth(1).unwrap();
        assert!(!logs.iter().any(|l| l.contains(signature)), "a link's signature in the logs");
    }
    assert!(!logs.iter().any(|l| l.contains("X-Amz-Credential")), "a link in the logs");

    // A refused viewer is given nothing, and nothing is logged as given.
    let bob = api.onboarded(BOB, BOB_CONNECT_ID).await;
    let (status, _) = api.summary(&bob, meeting).await;
    assert_eq!(status, 403);
    let given = fleet.logs().iter().filter(|l| l.contains("recording playback links given")).count();
    assert_eq!(given, 1);
}

#[tokio::test]
async fn only_the_owner_records_and_bad_requests_name_their_field() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    api.meeting(&alice, "case-owner").await;
    let sue = api.onboarded(SUE, SUE_CONNECT_ID).await;

    let (status, refused) = api.start(&sue, "case-owner", PLAYBACK).await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("FORBIDDEN")), "{refused}");
    let (status, refused) = api.stop(&sue, "case-owner").await;
    assert_eq!(status, 403, "{refused}");
    let (status, missing) = api.start(&alice, "case-none", PLAYBACK).await;
    assert_eq!(status, 404, "{missing}");

    for (body, field) in [
        (json!({}), "externalMeetingId"),
        (json!({"externalMeetingId": 7}), "externalMeetingId"),
        (json!({"externalMeetingId": "case-owner", "connectContactId": CONTACT}), "videoRecordingPlaybackURL"),
        (
            json!({"externalMeetingId": "case-owner", "connectContactId": "42", "videoRecordingPlaybackURL": PLAYBACK}),
            "connectContactId",
        ),
    ] {
        let (status, answer) = api.call(Method::POST, "/recording", &alice, Some(&body)).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap().starts_with(&format!("{field}:")), "{body}: {answer}");
    }
    // A token without a Connect user id cannot start a recording.
    let carol = fleet.cloud.sign_in("carol@example.com", PASSWORD).await.unwrap();
    let (status, answer) = api.start(&carol, "case-owner", PLAYBACK).await;
    assert!(answer["message"].as_str().unwrap().starts_with("custom:connectUserId:"), "{status} {answer}");
    assert!(tasks(&fleet).await.is_empty(), "no task ran");
}

#[tokio::test]
async fn a_meeting_that_ends_stops_its_recording_once_and_other_meetings_are_a_no_op() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    fleet.cloud.connect_contact(CONTACT, CONTACT, Some(ALICE_CONNECT_ID)).await.unwrap();
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    let meeting = api.meeting(&alice, "case-ended").await;
    let (status, started) = api.start(&alice, "case-ended", PLAYBACK).await;
    assert_eq!(status, 200, "{started}");
    let recording_id = started["data"]["recordingId"].as_str().unwrap().to_owned();

    // An earlier Chime meeting that had the same external id ends: the live meeting's recording runs on.
    let earlier = meeting_ended_event(&fleet.cloud.fixture, "case-ended", "0b7d1c9e-0000-4000-8000-00000000e4d1");
    let answers = fleet.cloud.deliver_event(&earlier).await.unwrap();
    assert_eq!(answers[0].1, json!({"result": "NOTHING_TO_STOP", "recordingsStopped": 0}), "{answers:?}");
    let running = tasks(&fleet).await;
    assert!(!is_stopping_or_stopped(task_started_by(&running, &format!("Recording-{recording_id}"))));

    let ended = meeting_ended_event(&fleet.cloud.fixture, "case-ended", meeting["MeetingId"].as_str().unwrap());
    let answers = fleet.cloud.deliver_event(&ended).await.unwrap();
    assert_eq!(answers.len(), 1, "one rule matches: {answers:?}");
    assert_eq!(answers[0].1, json!({"result": "STOPPED", "recordingsStopped": 1}));
    let task_now = tasks(&fleet).await;
    assert!(is_stopping_or_stopped(task_started_by(&task_now, &format!("Recording-{recording_id}"))));

    // EventBridge delivers it again: nothing changes, nothing fails.
    let again = fleet.cloud.deliver_event(&ended).await.unwrap();
    assert_eq!(again[0].1, json!({"result": "NOTHING_TO_STOP", "recordingsStopped": 0}));
    let (status, stopped) = api.stop(&alice, "case-ended").await;
    assert_eq!((status, &stopped["data"]["recordingsStopped"]), (200, &json!(0)), "{stopped}");
    // The lock went with it: a new recording can start.
    let (status, next) = api.start(&alice, "case-ended", PLAYBACK).await;
    assert_eq!(status, 200, "{next}");

    // A meeting without recordings, and one that is not ours.
    let other = meeting_ended_event(&fleet.cloud.fixture, "case-never-recorded", "m-0");
    assert_eq!(fleet.cloud.deliver_event(&other).await.unwrap()[0].1["result"], "NOTHING_TO_STOP");
    let mut started_event = other.clone();
    started_event["detail"]["eventType"] = json!("chime:MeetingStarted");
    assert!(fleet.cloud.deliver_event(&started_event).await.unwrap().is_empty(), "no rule matches");
    let lambda = switchboard_local::lambda_host::InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    let ignored = lambda.invoke("stop-recording-on-meeting-end", &started_event).await.unwrap();
    assert_eq!(ignored["result"], "IGNORED");
}

#[tokio::test]
async fn a_new_recording_instance_is_prewarmed_once_and_other_groups_are_ignored() {
    let fleet = Fleet::start().await;
    let group = fleet.cloud.fixture.video.recording.auto_scaling_group_name.clone();
    let instance = fleet.cloud.register_recording_instance().await.unwrap();
    let launched = instance_launched_event(&fleet.cloud.fixture, &group, &instance);

    let answers = fleet.cloud.deliver_event(&launched).await.unwrap();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].1["result"], "STARTED", "{answers:?}");
    let prewarm = format!("PreWarm-{instance}");
    let started = tasks(&fleet).await;
    let task = task_started_by(&started, &prewarm);
    assert_eq!(environment(task), BTreeMap::from([("TASK_TYPE".to_owned(), "PRE_WARM".to_owned())]));
    // On that instance.
    let ecs = fleet.cloud.ecs_client().await;
    let cluster = &fleet.cloud.fixture.video.recording.cluster_name;
    let host = ecs
        .describe_container_instances()
        .cluster(cluster)
        .container_instances(task.container_instance_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(host.container_instances()[0].ec2_instance_id(), Some(instance.as_str()));

    // A retry starts none.
    let again = fleet.cloud.deliver_event(&launched).await.unwrap();
    assert_eq!(again[0].1["result"], "ALREADY_STARTED");
    assert_eq!(tasks(&fleet).await.iter().filter(|t| t.started_by() == Some(prewarm.as_str())).count(), 1);

    // A claim an invocation left without a task (Lambda ended it) is taken over once it is old
    // enough; a recent one is another delivery at work.
    // The instance the local cloud seeded (what `make bench` prewarms) is one of the cluster's too.
    let seeded = instance_launched_event(&fleet.cloud.fixture, &group, &fleet.cloud.recording_instance_id);
    assert_eq!(fleet.cloud.deliver_event(&seeded).await.unwrap()[0].1["result"], "STARTED");

    let abandoned = fleet.cloud.register_recording_instance().await.unwrap();
    let busy = fleet.cloud.register_recording_instance().await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for (instance, claimed_at, expected) in [(&abandoned, now - 600, "STARTED"), (&busy, now, "ALREADY_STARTED")] {
        let key = aws_sdk_dynamodb::types::AttributeValue::S(format!("PREWARM#{instance}"));
        dynamodb
            .put_item()
            .table_name(&fleet.cloud.fixture.video.table_name)
            .item("pk", key.clone())
            .item("sk", key)
            .item("claimedAt", aws_sdk_dynamodb::types::AttributeValue::N(claimed_at.to_string()))
            .send()
            .await
            .unwrap();
        let event = instance_launched_event(&fleet.cloud.fixture, &group, instance);
        assert_eq!(fleet.cloud.deliver_event(&event).await.unwrap()[0].1["result"], expected, "{instance}");
    }
    let prewarmed = tasks(&fleet).await;
    assert!(prewarmed.iter().any(|t| t.started_by() == Some(format!("PreWarm-{abandoned}").as_str())));
    assert!(!prewarmed.iter().any(|t| t.started_by() == Some(format!("PreWarm-{busy}").as_str())));

    // Another group's launch is no business of the recording stack.
    let lambda = switchboard_local::lambda_host::InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    let other = instance_launched_event(&fleet.cloud.fixture, "web-servers", &instance);
    assert!(fleet.cloud.deliver_event(&other).await.unwrap().is_empty(), "the rule does not match");
    assert_eq!(lambda.invoke("prewarm-recording-task", &other).await.unwrap()["result"], "IGNORED");

    // An instance that never registers: the invocation fails (EventBridge retries) and keeps no claim.
    let stray = instance_launched_event(&fleet.cloud.fixture, &group, "i-0000000000000dead");
    let failed = lambda.invoke("prewarm-recording-task", &stray).await;
    assert!(failed.is_err(), "{failed:?}");
    let failed_again = lambda.invoke("prewarm-recording-task", &stray).await;
    assert!(failed_again.is_err(), "the claim was released, so the retry tried again: {failed_again:?}");
}

/// RunTask fails after the bot joined: nothing is left (no bot, no lock, no task, no attribute).
#[tokio::test]
async fn a_recording_that_cannot_start_leaves_nothing_behind() {
    // ECS refuses RunTask (a fault, not a task definition the policy does not grant).
    let ecs = switchboard_local::fault_proxy::FaultProxy::start().await.unwrap();
    let overrides = BTreeMap::from([("start-recording/AWS_ENDPOINT_URL_ECS".to_owned(), ecs.endpoint())]);
    let fleet = fleet_with(overrides).await;
    ecs.forward_to(&fleet.cloud.moto.endpoint());
    ecs.fail("RunTask");
    let api = Api::new(&fleet);
    fleet.cloud.connect_contact(CONTACT, CONTACT, Some(ALICE_CONNECT_ID)).await.unwrap();
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    let meeting = api.meeting(&alice, "case-no-task").await;
    let chime_meeting_id = meeting["MeetingId"].as_str().unwrap();

    for _ in 0..2 {
        // The second try is a 502 again, not a 409: the first released the lock.
        let (status, failed) = api.start(&alice, "case-no-task", PLAYBACK).await;
        assert_eq!((status, failed["code"].as_str()), (502, Some("DEPENDENCY_FAILED")), "{failed}");
    }
    assert_eq!(meeting_attendees(&fleet, chime_meeting_id).len(), 2, "only Alice and Carol: the bots were removed");
    assert!(tasks(&fleet).await.is_empty(), "no task");
    assert!(fleet.cloud.emulator.contact_attributes(CONTACT).is_empty(), "no playback URL for a recording that is not");
    let sort_keys = meeting_items(&fleet, "case-no-task").await;
    let roster = sort_keys.iter().filter(|sk| sk.starts_with("A#")).count();
    assert_eq!(
        (sort_keys.len(), roster),
        (3, 2),
        "the meeting and its two attendees; no lock, no recording: {sort_keys:?}"
    );
    assert!(sort_keys.iter().all(|sk| !sk.starts_with("REC")), "{sort_keys:?}");
    let logs = fleet.logs().join("\n");
    assert!(logs.contains("a recording that could not start was undone"), "{logs}");
}

/// The last step fails after the task runs (Connect set the playback URL but its answer was lost):
/// the contact's previous URL is put back, the task stopped, the bot removed, the items and the lock
/// deleted; the next start succeeds.
#[tokio::test]
async fn a_failure_after_the_task_runs_stops_it_puts_the_contacts_url_back_and_leaves_nothing_behind() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    fleet.cloud.connect_contact(CONTACT, CONTACT, Some(ALICE_CONNECT_ID)).await.unwrap();
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    // An earlier meeting on the same contact set its playback URL.
    api.meeting(&alice, "case-earlier").await;
    let earlier_url = "http://localhost:3000/recording/case-earlier";
    assert_eq!(api.start(&alice, "case-earlier", earlier_url).await.0, 200);
    assert_eq!(api.stop(&alice, "case-earlier").await.0, 200);
    let meeting = api.meeting(&alice, "case-no-contact").await;
    let before = tasks(&fleet).await.len();

    // Every attempt of the update lands and loses its answer (the local SDK tries twice).
    fleet.cloud.emulator.lose_answers("UpdateContactAttributes", 2);
    let (status, failed) =
        api.start(&alice, "case-no-contact", "http://localhost:3000/recording/case-no-contact").await;
    assert_eq!((status, failed["code"].as_str()), (502, Some("DEPENDENCY_FAILED")), "{failed}");
    assert_eq!(fleet.cloud.emulator.contact_attributes(CONTACT)["videoRecordingPlaybackURL"], earlier_url, "put back");
    let ran = tasks(&fleet).await;
    assert_eq!(ran.len(), before + 1, "RunTask ran once");
    assert!(ran.iter().all(is_stopping_or_stopped), "and the undo stopped it");
    assert_eq!(meeting_attendees(&fleet, meeting["MeetingId"].as_str().unwrap()).len(), 2, "the bot was removed");
    let sort_keys = meeting_items(&fleet, "case-no-contact").await;
    assert_eq!(sort_keys.len(), 3, "the meeting and its two attendees only: {sort_keys:?}");

    // Without a contact to update, the same start succeeds: the lock was released.
    let body = json!({"externalMeetingId": "case-no-contact", "connectContactId": null, "videoRecordingPlaybackURL": PLAYBACK});
    let (status, started) = api.call(Method::POST, "/recording", &alice, Some(&body)).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["data"]["message"], "Start recording initiated", "the original's data: {started}");
    assert_eq!(fleet.cloud.emulator.contact_attributes(CONTACT)["videoRecordingPlaybackURL"], earlier_url);
}

/// Supervisors open a contact's playback URL, so an owner can put one only on a contact they are
/// handling, and only a URL of the agent-app: nothing is started or set otherwise.
#[tokio::test]
async fn a_playback_url_goes_only_onto_the_callers_own_contact_and_under_the_agent_app() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    let bobs_contact = "6a1f2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    fleet.cloud.connect_contact(bobs_contact, bobs_contact, Some(BOB_CONNECT_ID)).await.unwrap();
    fleet.cloud.connect_contact(CONTACT, CONTACT, Some(ALICE_CONNECT_ID)).await.unwrap();
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    api.meeting(&alice, "case-plant").await;
    let start = |contact: &str, url: &str| json!({"externalMeetingId": "case-plant", "connectContactId": contact, "videoRecordingPlaybackURL": url});
    for (body, status, field) in [
        (start("0d0d0d0d-0000-4000-8000-000000000000", PLAYBACK), 400, "connectContactId"),
        (start(bobs_contact, PLAYBACK), 403, "connectContactId"),
        (start(CONTACT, "https://evil.example/recording/case-plant"), 400, "videoRecordingPlaybackURL"),
        (start(CONTACT, "http://localhost:3000.evil.example/recording"), 400, "videoRecordingPlaybackURL"),
        (start(CONTACT, "http://localhost:3001/recording/case-plant"), 400, "videoRecordingPlaybackURL"),
    ] {
        let (answered, answer) = api.call(Method::POST, "/recording", &alice, Some(&body)).await;
        assert_eq!(answered, status, "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap().starts_with(&format!("{field}:")), "{body}: {answer}");
    }
    assert!(tasks(&fleet).await.is_empty(), "nothing started");
    assert!(fleet.cloud.emulator.contact_attributes(bobs_contact).is_empty(), "nothing planted on Bob's contact");
    assert!(fleet.cloud.emulator.contact_attributes(CONTACT).is_empty());
    // Her own contact, the agent-app's URL: set.
    let (status, started) = api.call(Method::POST, "/recording", &alice, Some(&start(CONTACT, PLAYBACK))).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(fleet.cloud.emulator.contact_attributes(CONTACT)["videoRecordingPlaybackURL"], PLAYBACK);
}

/// The undo cannot stop the task (ECS `StopTask` fails for start-recording): the recording keeps its
/// item, with the task, and the lock, so the owner's stop finds the task and stops it.
#[tokio::test]
async fn a_task_the_undo_cannot_stop_is_kept_for_a_stop_not_orphaned() {
    let ecs = switchboard_local::fault_proxy::FaultProxy::start().await.unwrap();
    let overrides = BTreeMap::from([("start-recording/AWS_ENDPOINT_URL_ECS".to_owned(), ecs.endpoint())]);
    let fleet = fleet_with(overrides).await;
    ecs.forward_to(&fleet.cloud.moto.endpoint());
    ecs.fail("StopTask");
    let api = Api::new(&fleet);
    fleet.cloud.connect_contact(CONTACT, CONTACT, Some(ALICE_CONNECT_ID)).await.unwrap();
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    api.meeting(&alice, "case-orphan").await;

    fleet.cloud.emulator.lose_answers("UpdateContactAttributes", 2);
    let (status, failed) = api.start(&alice, "case-orphan", PLAYBACK).await;
    assert_eq!(status, 502, "{failed}");
    let running = tasks(&fleet).await;
    assert_eq!(running.len(), 1);
    assert!(!is_stopping_or_stopped(&running[0]), "StopTask failed: the task runs");
    let sort_keys = meeting_items(&fleet, "case-orphan").await;
    assert!(sort_keys.iter().any(|sk| sk == "RECLOCK"), "the lock stays: {sort_keys:?}");
    let stored = table_items(&fleet, "case-orphan").await;
    assert!(stored.contains(running[0].task_arn().unwrap()), "the task is on its recording: {stored}");
    let (status, locked) = api.start(&alice, "case-orphan", PLAYBACK).await;
    assert_eq!(status, 409, "still in progress: {locked}");

    // The owner's stop (its own ECS works) stops it, and the lock goes.
    let (status, stopped) = api.stop(&alice, "case-orphan").await;
    assert_eq!(
        (status, &stopped["data"]),
        (200, &json!({"recordingsStopped": 1, "recordingsNotStopped": 0})),
        "{stopped}"
    );
    assert!(tasks(&fleet).await.iter().all(is_stopping_or_stopped));
    assert!(!meeting_items(&fleet, "case-orphan").await.iter().any(|sk| sk == "RECLOCK"));
}

/// Every item of a meeting's partition in the video table.
async fn partition(
    fleet: &Fleet,
    external_meeting_id: &str,
) -> Vec<BTreeMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let items = dynamodb
        .query()
        .table_name(&fleet.cloud.fixture.video.table_name)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("M#{external_meeting_id}")),
        )
        .send()
        .await
        .unwrap();
    items.items().iter().map(|i| i.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).collect()
}

/// Every item of a meeting's partition, as text.
async fn table_items(fleet: &Fleet, external_meeting_id: &str) -> String {
    format!("{:?}", partition(fleet, external_meeting_id).await)
}

/// The sort keys of a meeting's partition in the video table.
async fn meeting_items(fleet: &Fleet, external_meeting_id: &str) -> Vec<String> {
    partition(fleet, external_meeting_id).await.iter().map(|i| i["sk"].as_s().unwrap().clone()).collect()
}

/// Two starts at once: exactly one recording; and a lock left behind by a failed stop (its recording
/// ended) does not block the next start.
#[tokio::test]
async fn one_recording_at_a_time_even_when_starts_race_and_a_stale_lock_is_taken_over() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    api.meeting(&alice, "case-race").await;
    let body = json!({"externalMeetingId": "case-race"});
    let (first, second) = tokio::join!(
        api.call(Method::POST, "/recording", &alice, Some(&body)),
        api.call(Method::POST, "/recording", &alice, Some(&body))
    );
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{first:?} {second:?}");
    assert_eq!(tasks(&fleet).await.len(), 1, "one task");
    let (status, stopped) = api.stop(&alice, "case-race").await;
    assert_eq!((status, &stopped["data"]["recordingsStopped"]), (200, &json!(1)), "{stopped}");

    // A stop that failed between ending the recording and releasing the lock leaves this behind.
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let stale = json!({"recordingId": "00000000-0000-4000-8000-000000000000"});
    dynamodb
        .put_item()
        .table_name(&fleet.cloud.fixture.video.table_name)
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S("M#case-race".into()))
        .item("sk", aws_sdk_dynamodb::types::AttributeValue::S("RECLOCK".into()))
        .item("recordingId", aws_sdk_dynamodb::types::AttributeValue::S(stale["recordingId"].as_str().unwrap().into()))
        .send()
        .await
        .unwrap();
    let (status, started) = api.call(Method::POST, "/recording", &alice, Some(&body)).await;
    assert_eq!(status, 200, "a lock whose recording is gone is taken over: {started}");
    let (status, again) = api.call(Method::POST, "/recording", &alice, Some(&body)).await;
    assert_eq!(status, 409, "the new lock holds: {again}");

    // Nothing of the bots' join tokens reaches a log line.
    let bot = tasks(&fleet).await.into_iter().map(|t| environment(&t)).find(|e| e.contains_key("CHIME_ATTENDEE_DATA"));
    let token = decoded(&bot.unwrap()["CHIME_ATTENDEE_DATA"])["JoinToken"].as_str().unwrap().to_owned();
    assert!(!fleet.logs().iter().any(|l| l.contains(&token)), "a join token in the logs");
}

/// StopTask fails: the recording is counted as not stopped and stays in progress (locked), and the
/// meeting-ended event fails so EventBridge retries it.
#[tokio::test]
async fn a_task_that_cannot_be_stopped_is_counted_not_hidden() {
    let dead_ecs = "http://127.0.0.1:9".to_owned();
    let overrides = BTreeMap::from([
        ("stop-recording/AWS_ENDPOINT_URL_ECS".to_owned(), dead_ecs.clone()),
        ("stop-recording-on-meeting-end/AWS_ENDPOINT_URL_ECS".to_owned(), dead_ecs),
    ]);
    let fleet = fleet_with(overrides).await;
    let api = Api::new(&fleet);
    fleet.cloud.connect_contact(CONTACT, CONTACT, Some(ALICE_CONNECT_ID)).await.unwrap();
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    let meeting = api.meeting(&alice, "case-stuck").await;
    let (status, started) = api.start(&alice, "case-stuck", PLAYBACK).await;
    assert_eq!(status, 200, "{started}");

    let (status, stopped) = api.stop(&alice, "case-stuck").await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["data"], json!({"recordingsStopped": 0, "recordingsNotStopped": 1}));
    let running = tasks(&fleet).await;
    assert!(running.iter().all(|t| t.desired_status() == Some("RUNNING")), "still running");
    let (status, locked) = api.start(&alice, "case-stuck", PLAYBACK).await;
    assert_eq!(status, 409, "still in progress: {locked}");

    let lambda = switchboard_local::lambda_host::InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    let ended = meeting_ended_event(&fleet.cloud.fixture, "case-stuck", meeting["MeetingId"].as_str().unwrap());
    let failed = lambda.invoke("stop-recording-on-meeting-end", &ended).await;
    assert!(failed.as_ref().is_err_and(|e| e.contains("DependencyError")), "a Lambda error to retry: {failed:?}");
}

/// The owner ends the meeting without stopping the recording: Chime publishes `chime:MeetingEnded`,
/// the rule delivers it, and the recording stops by itself.
#[tokio::test]
async fn ending_the_meeting_stops_its_recording_through_the_chime_event() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    fleet.cloud.connect_contact(CONTACT, CONTACT, Some(ALICE_CONNECT_ID)).await.unwrap();
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    api.meeting(&alice, "case-left-running").await;
    let (status, started) = api.start(&alice, "case-left-running", PLAYBACK).await;
    assert_eq!(status, 200, "{started}");
    let started_by = format!("Recording-{}", started["data"]["recordingId"].as_str().unwrap());

    let (status, ended) =
        api.call(Method::DELETE, "/meeting", &alice, Some(&json!({"externalMeetingId": "case-left-running"}))).await;
    assert_eq!(status, 200, "{ended}");
    // EventBridge delivers asynchronously: wait until the function has handled it.
    let handled =
        |logs: &[String]| logs.iter().any(|l| l.contains("event handled") && l.contains(r#""result":"STOPPED""#));
    for _ in 0..100 {
        if handled(&fleet.logs()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(handled(&fleet.logs()), "the meeting-ended event was handled: {}", fleet.logs().join("\n"));
    let now = tasks(&fleet).await;
    assert!(is_stopping_or_stopped(task_started_by(&now, &started_by)), "the recording task was stopped");
    let (status, again) = api.stop(&alice, "case-left-running").await;
    assert_eq!((status, &again["data"]["recordingsStopped"]), (200, &json!(0)), "{again}");
}

/// Takes the task's ARN off the meeting's recording item, as a start that crashed right after
/// RunTask leaves it: only the task's `startedBy` still names the recording.
async fn forget_the_task(fleet: &Fleet, external_meeting_id: &str) {
    let items = partition(fleet, external_meeting_id).await;
    let recording = items.iter().find(|i| i["sk"].as_s().unwrap().starts_with("REC#")).expect("a recording item");
    assert!(recording.contains_key("taskArn"), "{recording:?}");
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    dynamodb
        .update_item()
        .table_name(&fleet.cloud.fixture.video.table_name)
        .key("pk", recording["pk"].clone())
        .key("sk", recording["sk"].clone())
        .update_expression("REMOVE taskArn")
        .send()
        .await
        .unwrap();
}

/// A recording whose start stored no task (it crashed after RunTask) is still stopped, by the owner
/// and by the meeting's end: its task is found by `startedBy` (ECS ListTasks) and stopped.
#[tokio::test]
async fn a_recording_whose_start_stored_no_task_is_found_by_started_by_and_stopped() {
    let fleet = Fleet::start().await;
    let api = Api::new(&fleet);
    fleet.cloud.connect_contact(CONTACT, CONTACT, Some(ALICE_CONNECT_ID)).await.unwrap();
    let alice = api.onboarded(ALICE, ALICE_CONNECT_ID).await;
    let mut started_by = Vec::new();
    for meeting in ["case-crashed-start", "case-crashed-start-ended"] {
        api.meeting(&alice, meeting).await;
        let (status, started) = api.start(&alice, meeting, PLAYBACK).await;
        assert_eq!(status, 200, "{started}");
        started_by.push(format!("Recording-{}", started["data"]["recordingId"].as_str().unwrap()));
        forget_the_task(&fleet, meeting).await;
    }

    // The owner stops the first.
    let (status, stopped) = api.stop(&alice, "case-crashed-start").await;
    assert_eq!((status, &stopped["data"]["recordingsStopped"]), (200, &json!(1)), "{stopped}");
    assert!(is_stopping_or_stopped(task_started_by(&tasks(&fleet).await, &started_by[0])));

    // The second meeting ends: the event's function stops its recording.
    let end = json!({"externalMeetingId": "case-crashed-start-ended"});
    let (status, ended) = api.call(Method::DELETE, "/meeting", &alice, Some(&end)).await;
    assert_eq!(status, 200, "{ended}");
    for _ in 0..100 {
        if is_stopping_or_stopped(task_started_by(&tasks(&fleet).await, &started_by[1])) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        is_stopping_or_stopped(task_started_by(&tasks(&fleet).await, &started_by[1])),
        "the meeting's end stopped the task: {}",
        fleet.logs().join("\n")
    );
}
