//! The meeting, ad-hoc route and chat handlers through the real SDK clients against the local cloud
//! (moto's DynamoDB, the emulator's Chime SDK Meetings and Connect), with an injected clock where
//! time matters, and aws-smithy-mocks only for faults the local services cannot produce.

use std::{collections::BTreeMap, sync::Arc};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use switchboard::{
    edge::http::{ApiError, Reply},
    platform::time::ManualClock,
    shared::meeting::{attendee_key, meeting_key},
    video::{
        adhoc_route::{redeem, release, route_key},
        CreateAdhocRoute, CreateAttendee, CreateMeeting, EndMeeting, GetAttendeeJoinData, GetAttendeeName, StartChat,
    },
};
use switchboard_local::{cloud::LocalCloud, emulator::LocalMeeting, fixture::Fixture};
use time::macros::datetime;

mod support;
use support::request;

const ALICE_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const ALICE: &[(&str, &str)] = &[
    ("cognito:username", "u-alice"),
    ("email", "alice+video@example.com"),
    ("email_verified", "true"),
    ("custom:connectUserId", ALICE_CONNECT_ID),
];
const BOB: &[(&str, &str)] = &[("cognito:username", "u-bob"), ("email", "bob@example.com"), ("email_verified", "true")];
const CUSTOMER: &str = "5f0c3b1e-8d7a-4e7b-9a41-6f5de0c2b9a1";

struct Video {
    cloud: LocalCloud,
    clock: ManualClock,
    dynamodb: aws_sdk_dynamodb::Client,
    chime: aws_sdk_chimesdkmeetings::Client,
    connect: aws_sdk_connect::Client,
    table: String,
}

impl Video {
    async fn start() -> Self {
        let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
        let sdk = cloud.sdk_config().await;
        let emulator = cloud.emulator.endpoint();
        Self {
            clock: ManualClock::new(datetime!(2026-11-23 09:00 UTC)),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            chime: aws_sdk_chimesdkmeetings::Client::from_conf(
                aws_sdk_chimesdkmeetings::config::Builder::from(&sdk).endpoint_url(&emulator).build(),
            ),
            connect: aws_sdk_connect::Client::from_conf(
                aws_sdk_connect::config::Builder::from(&sdk).endpoint_url(&emulator).build(),
            ),
            table: cloud.fixture.video.table_name.clone(),
            cloud,
        }
    }

    fn create_meeting_with(&self, dynamodb: aws_sdk_dynamodb::Client) -> CreateMeeting {
        CreateMeeting {
            chime: self.chime.clone(),
            dynamodb,
            table: self.table.clone(),
            media_region: "ap-southeast-2".into(),
            clock: Arc::new(self.clock.clone()),
        }
    }

    async fn create_meeting(&self, body: &Value, claims: &[(&str, &str)]) -> Result<Reply, ApiError> {
        let handler = self.create_meeting_with(self.dynamodb.clone());
        handler.handle(request("create-meeting", "/meeting", Some(&body.to_string()), Some(claims))).await
    }

    async fn end_meeting(&self, id: &str, claims: &[(&str, &str)]) -> Result<Reply, ApiError> {
        let handler = EndMeeting {
            chime: self.chime.clone(),
            dynamodb: self.dynamodb.clone(),
            table: self.table.clone(),
            clock: Arc::new(self.clock.clone()),
        };
        let body = json!({"externalMeetingId": id}).to_string();
        handler.handle(request("end-meeting", "/meeting", Some(&body), Some(claims))).await
    }

    async fn create_attendee(&self, body: &Value, claims: &[(&str, &str)]) -> Result<Reply, ApiError> {
        let handler = CreateAttendee {
            chime: self.chime.clone(),
            dynamodb: self.dynamodb.clone(),
            table: self.table.clone(),
            clock: Arc::new(self.clock.clone()),
        };
        handler.handle(request("create-attendee", "/attendee", Some(&body.to_string()), Some(claims))).await
    }

    async fn join_data(&self, meeting: &str, attendee: &str) -> Result<Reply, ApiError> {
        let handler = GetAttendeeJoinData {
            dynamodb: self.dynamodb.clone(),
            table: self.table.clone(),
            clock: Arc::new(self.clock.clone()),
        };
        let uri = format!("/attendee-join-data?externalMeetingId={meeting}&attendeeExternalUserId={attendee}");
        handler.handle(request("get-attendee-join-data", &uri, None, None)).await
    }

    async fn attendee_name(&self, query: &str) -> Result<Reply, ApiError> {
        let handler = GetAttendeeName {
            dynamodb: self.dynamodb.clone(),
            table: self.table.clone(),
            clock: Arc::new(self.clock.clone()),
        };
        handler.handle(request("get-attendee-name", &format!("/attendee-name{query}"), None, None)).await
    }

    fn chat_flow_id(&self) -> String {
        self.cloud.fixture.connect.video_chat_flow_id().to_owned()
    }

    fn start_chat_handler(&self, allow_client_agent_routing: bool) -> StartChat {
        StartChat {
            connect: self.connect.clone(),
            dynamodb: self.dynamodb.clone(),
            table: self.table.clone(),
            instance_id: self.cloud.fixture.connect.instance_id.clone(),
            contact_flow_ids: vec![self.chat_flow_id()],
            allow_client_agent_routing,
            clock: Arc::new(self.clock.clone()),
        }
    }

    async fn start_chat(&self, body: &str, allow_client_agent_routing: bool) -> Result<Reply, ApiError> {
        self.start_chat_handler(allow_client_agent_routing)
            .handle(request("start-chat", "/start", Some(body), None))
            .await
    }

    async fn adhoc_route(&self, email: &str, agent: &str) -> u64 {
        let handler = CreateAdhocRoute {
            dynamodb: self.dynamodb.clone(),
            table: self.table.clone(),
            clock: Arc::new(self.clock.clone()),
        };
        let body = json!({"attendeeEmail": email, "routeToAgentQueue": agent}).to_string();
        let reply = handler.handle(request("create-adhoc-route", "/adhoc", Some(&body), Some(ALICE))).await.unwrap();
        reply.data.as_u64().expect("the route id is a JSON number")
    }

    /// A client of the table that, just before its first request checking the meeting's Chime id, has
    /// meeting `case-1`'s item changed by `update` (an UpdateItem expression of one `:value`).
    async fn meeting_changed_before_its_check(
        &self,
        update: &'static str,
        value: &'static str,
    ) -> (aws_sdk_dynamodb::Client, support::Meanwhile) {
        let sdk = self.cloud.sdk_config().await;
        support::interrupted_by(
            &sdk,
            &self.table,
            "chimeMeetingId = :chimeMeetingId",
            move |dynamodb, table, _| async move {
                let change = dynamodb
                    .update_item()
                    .table_name(table)
                    .set_key(Some(meeting_key("case-1")))
                    .update_expression(update)
                    .expression_attribute_values(":value", AttributeValue::S(value.into()));
                change.send().await.unwrap();
            },
        )
    }

    /// The live meetings in the emulated Chime SDK.
    async fn chime_meetings(&self) -> Vec<LocalMeeting> {
        self.cloud.emulator.meetings()
    }

    /// What the emulated Connect received for the latest chat.
    async fn last_chat(&self) -> BTreeMap<String, String> {
        self.cloud.emulator.chats().last().expect("a chat was started").attributes.clone()
    }
}

fn meeting_body(id: &str) -> Value {
    json!({
        "externalMeetingId": id,
        "meetingTitle": id,
        "meetingRegion": "",
        "meetingAttendees": [
            {"attendeeName": "Alice", "isOwner": true},
            {"attendeeName": "Carol", "attendeeEmail": "carol@example.com", "externalUserId": CUSTOMER,
             "pk": "M#someone-elses-meeting", "ttl": 1}
        ]
    })
}

#[tokio::test]
async fn a_meeting_is_created_joined_guarded_by_its_owner_and_ended() {
    let video = Video::start().await;
    let created = video.create_meeting(&meeting_body("case-1"), ALICE).await.unwrap();
    let meeting = &created.data["JoinInfo"]["Meeting"];
    let owner = &created.data["JoinInfo"]["Attendee"];
    assert_eq!(meeting["ExternalMeetingId"], "case-1");
    assert_eq!(meeting["MediaRegion"], "ap-southeast-2", "a blank meetingRegion is the configured one");
    assert!(meeting["MediaPlacement"]["SignalingUrl"].is_string(), "{meeting}");
    assert_eq!(owner["ExternalUserId"].as_str().unwrap().len(), 36, "the owner gets a generated id");
    assert!(owner["JoinToken"].is_string() && owner["AttendeeId"].is_string());
    let chime_meetings = video.chime_meetings().await;
    assert_eq!(chime_meetings.len(), 1);

    // The client's extra fields were not spread into the item: no key or ttl was overwritten.
    let item = video
        .dynamodb
        .get_item()
        .table_name(&video.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("M#case-1".into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("A#{CUSTOMER}")))
        .send()
        .await
        .unwrap()
        .item
        .expect("the customer's attendee item");
    let expected_ttl = (video.clock.now_epoch() + 45 * 86_400).to_string();
    assert_eq!(item["ttl"].as_n().unwrap(), &expected_ttl);
    assert_eq!(item["attendeeEmail"].as_s().unwrap(), "carol@example.com");

    // The same id again: 409, and no second Chime meeting.
    let again = video.create_meeting(&meeting_body("case-1"), BOB).await.unwrap_err();
    assert_eq!(again.status, 409);
    assert_eq!(video.chime_meetings().await.len(), 1);

    // The website joins as the customer, and rosters resolve names.
    let joined = video.join_data("case-1", CUSTOMER).await.unwrap();
    assert_eq!(joined.data["JoinInfo"]["Meeting"], *meeting);
    assert_eq!(joined.data["JoinInfo"]["Attendee"]["ExternalUserId"], CUSTOMER);
    let name = video.attendee_name(&format!("?externalMeetingId=case-1&attendeeExternalUserId={CUSTOMER}")).await;
    assert_eq!(name.unwrap().data, json!("Carol"));
    let unknown = video.attendee_name("?externalMeetingId=case-1&attendeeExternalUserId=nobody").await.unwrap();
    assert_eq!(unknown.data, json!("Unknown"));
    let missing = video.attendee_name("?externalMeetingId=case-1").await.unwrap_err();
    assert_eq!((missing.status.as_u16(), missing.message.starts_with("attendeeExternalUserId:")), (400, true));
    assert_eq!(video.join_data("case-1", "nobody").await.unwrap_err().status, 404);
    assert_eq!(video.join_data("no-such-meeting", CUSTOMER).await.unwrap_err().status, 404);

    // Bob is not the owner: he can neither add an attendee nor end it, and nothing changes.
    let supervisor = json!({"externalMeetingId": "case-1", "attendeeExternalUserId": "sup-1", "attendeeName": "Dave"});
    assert_eq!(video.create_attendee(&supervisor, BOB).await.unwrap_err().status, 403);
    assert_eq!(video.end_meeting("case-1", BOB).await.unwrap_err().status, 403);
    assert_eq!(video.chime_meetings().await[0].attendees.len(), 2);
    assert!(video.join_data("case-1", CUSTOMER).await.is_ok());

    // Alice adds a supervisor, whose join info is the meeting's.
    let added = video.create_attendee(&supervisor, ALICE).await.unwrap();
    assert_eq!(added.data["JoinInfo"]["Meeting"], *meeting);
    assert_eq!(added.data["JoinInfo"]["Attendee"]["ExternalUserId"], "sup-1");
    assert_eq!(video.chime_meetings().await[0].attendees.len(), 3);

    // Alice ends it: Chime has no meeting left, join data is gone (410), ending again is a success.
    video.end_meeting("case-1", ALICE).await.unwrap();
    assert!(video.chime_meetings().await.is_empty());
    assert_eq!(video.join_data("case-1", CUSTOMER).await.unwrap_err().status, 410);
    video.end_meeting("case-1", ALICE).await.expect("an ended meeting ends successfully");
    assert_eq!(video.create_attendee(&supervisor, ALICE).await.unwrap_err().status, 410);
    assert_eq!(video.end_meeting("no-such-meeting", ALICE).await.unwrap_err().status, 404);
}

#[tokio::test]
async fn a_meeting_chime_already_ended_still_ends_successfully() {
    let video = Video::start().await;
    let created = video.create_meeting(&meeting_body("case-2"), ALICE).await.unwrap();
    let chime_id = created.data["JoinInfo"]["Meeting"]["MeetingId"].as_str().unwrap().to_owned();
    video.chime.delete_meeting().meeting_id(&chime_id).send().await.unwrap(); // everyone left
    video.end_meeting("case-2", ALICE).await.expect("Chime's NotFound is an ended meeting, not a 5xx");
    assert_eq!(video.join_data("case-2", CUSTOMER).await.unwrap_err().status, 410);
}

#[tokio::test]
async fn bad_meeting_requests_are_400s_naming_the_field_and_create_nothing() {
    let video = Video::start().await;
    let cases = [
        (json!({"meetingAttendees": []}), "externalMeetingId"),
        (
            json!({"externalMeetingId": "x", "meetingAttendees": [{"attendeeName": "A", "isOwner": true}]}),
            "externalMeetingId",
        ),
        (json!({"externalMeetingId": "case-3", "meetingAttendees": [{"attendeeName": "A"}]}), "meetingAttendees"),
        (
            json!({"externalMeetingId": "case-3", "meetingAttendees": [{"attendeeName": "A", "isOwner": "yes"}]}),
            "meetingAttendees[0].isOwner",
        ),
        (
            json!({"externalMeetingId": "case-3", "meetingAttendees": [{"isOwner": true}]}),
            "meetingAttendees[0].attendeeName",
        ),
        (
            json!({"externalMeetingId": "case-3", "meetingRegion": "mars-1", "meetingAttendees": [{"attendeeName": "A", "isOwner": true}]}),
            "meetingRegion",
        ),
    ];
    for (body, field) in cases {
        let refused = video.create_meeting(&body, ALICE).await.unwrap_err();
        assert_eq!(refused.status, 400, "{body}");
        assert!(refused.message.starts_with(&format!("{field}:")), "{body}: {}", refused.message);
    }
    let no_user = video.create_meeting(&meeting_body("case-3"), &[]).await.unwrap_err();
    assert_eq!(no_user.status, 403);
    assert!(video.chime_meetings().await.is_empty());
}

#[tokio::test]
async fn a_failed_meeting_transaction_leaves_no_chime_meeting_behind() {
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let video = Video::start().await;
    let no_meeting = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let failing = mock!(aws_sdk_dynamodb::Client::transact_write_items).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"Item size has exceeded the maximum allowed size"}"#,
            ),
        )
    });
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&no_meeting, &failing]);
    let handler = video.create_meeting_with(dynamodb);
    let body = meeting_body("case-4").to_string();
    let refused = handler.handle(request("create-meeting", "/meeting", Some(&body), Some(ALICE))).await.unwrap_err();
    assert_eq!(refused.status, 502);
    assert_eq!(failing.num_calls(), 1);
    assert!(video.chime_meetings().await.is_empty(), "the Chime meeting was deleted again");

    // A lost race (the condition failed: someone created the id meanwhile) is a 409, also with no
    // Chime meeting left.
    let no_meeting = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let lost = mock!(aws_sdk_dynamodb::Client::transact_write_items).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled","CancellationReasons":[{"Code":"ConditionalCheckFailed"},{"Code":"None"},{"Code":"None"}]}"#,
            ),
        )
    });
    let handler = video.create_meeting_with(mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&no_meeting, &lost]));
    let refused = handler.handle(request("create-meeting", "/meeting", Some(&body), Some(ALICE))).await.unwrap_err();
    assert_eq!(refused.status, 409);
    assert!(video.chime_meetings().await.is_empty());
}

fn chat_body(flow: &str, attributes: Value) -> String {
    json!({
        "InstanceId": "ignored",
        "ContactFlowId": flow,
        "ParticipantDetails": {"DisplayName": "Carol Customer"},
        "Attributes": attributes,
    })
    .to_string()
}

#[tokio::test]
async fn an_adhoc_route_brings_the_chat_to_the_agent_once_within_15_minutes() {
    let video = Video::start().await;
    let flow = video.chat_flow_id();
    let route = video.adhoc_route("Carol@Example.com", "alice_video@example.com").await;
    assert!((10_000_000..100_000_000).contains(&route), "{route}");

    // Redeemed by the customer's email (in any case): Connect receives the agent.
    let attributes = json!({"customerEmailAddress": " carol@example.com ", "videoReferenceId": route.to_string(),
                            "customerName": "typed by the customer", "videoRecordingPlaybackURL": "https://evil.example"});
    let started = video.start_chat(&chat_body(&flow, attributes.clone()), false).await.unwrap();
    let result = &started.data["startChatResult"];
    for key in ["ContactId", "ParticipantId", "ParticipantToken"] {
        assert!(result[key].is_string(), "{key}: {result}");
    }
    let received = video.last_chat().await;
    assert_eq!(received["videoRouteToAgent"], ALICE_CONNECT_ID, "the route's agent, by Connect user id");
    assert_eq!(received["videoReferenceId"], route.to_string());
    assert_eq!(received["customerName"], "Carol Customer", "the display name, not the client's");
    assert_eq!(received["customerEmailAddress"], "carol@example.com");
    assert!(!received.contains_key("videoRecordingPlaybackURL"), "a customer never sets the playback URL");

    // A second redemption is an error for the flow, with no agent.
    video.start_chat(&chat_body(&flow, attributes), false).await.unwrap();
    let received = video.last_chat().await;
    assert_eq!(received["videoReferenceId"], "error");
    assert!(!received.contains_key("videoRouteToAgent"));

    // Another customer's email, or 15 minutes later, is an error too.
    let late = video.adhoc_route("carol@example.com", "alice_video@example.com").await;
    let wrong_email = json!({"customerEmailAddress": "mallory@example.com", "videoReferenceId": late.to_string()});
    video.start_chat(&chat_body(&flow, wrong_email), false).await.unwrap();
    assert_eq!(video.last_chat().await["videoReferenceId"], "error");
    video.clock.advance(time::Duration::minutes(15));
    let expired = json!({"customerEmailAddress": "carol@example.com", "videoReferenceId": late.to_string()});
    video.start_chat(&chat_body(&flow, expired), false).await.unwrap();
    let received = video.last_chat().await;
    assert_eq!(received["videoReferenceId"], "error");
    assert!(!received.contains_key("videoRouteToAgent"));

    // Not a number at all: also an error; blank: absent.
    video
        .start_chat(&chat_body(&flow, json!({"customerEmailAddress": "c@e", "videoReferenceId": "1e7"})), false)
        .await
        .unwrap();
    assert_eq!(video.last_chat().await["videoReferenceId"], "error");
    video
        .start_chat(&chat_body(&flow, json!({"customerEmailAddress": "c@e", "videoReferenceId": " "})), false)
        .await
        .unwrap();
    assert!(!video.last_chat().await.contains_key("videoReferenceId"));
}

#[tokio::test]
async fn a_customer_cannot_pick_an_agent_unless_the_stack_allows_it() {
    let video = Video::start().await;
    let flow = video.chat_flow_id();
    let picked = json!({"customerEmailAddress": "carol@example.com", "videoRouteToAgent": "bob@example.com"});
    video.start_chat(&chat_body(&flow, picked.clone()), false).await.unwrap();
    assert!(!video.last_chat().await.contains_key("videoRouteToAgent"));
    video.start_chat(&chat_body(&flow, picked), true).await.unwrap();
    assert_eq!(video.last_chat().await["videoRouteToAgent"], "bob@example.com");
}

#[tokio::test]
async fn bad_chat_requests_are_400s_naming_the_field_and_start_nothing() {
    let video = Video::start().await;
    let flow = video.chat_flow_id();
    let ok_attributes = json!({"customerEmailAddress": "carol@example.com"});
    let cases = [
        ("{not json".to_owned(), "body"),
        (json!({"ParticipantDetails": {"DisplayName": "C"}}).to_string(), "ContactFlowId"),
        (json!({"ContactFlowId": flow}).to_string(), "ParticipantDetails"),
        (chat_body("00000000-0000-4000-8000-000000000000", ok_attributes.clone()), "ContactFlowId"),
        (chat_body(&flow, json!({})), "Attributes.customerEmailAddress"),
        (chat_body(&flow, json!({"customerEmailAddress": "not an email"})), "Attributes.customerEmailAddress"),
        (
            chat_body(&flow, json!({"customerEmailAddress": "c@e", "videoReferenceId": 12345678})),
            "Attributes.videoReferenceId",
        ),
        (
            json!({"ContactFlowId": flow, "ParticipantDetails": {"DisplayName": "  "}, "Attributes": ok_attributes})
                .to_string(),
            "ParticipantDetails.DisplayName",
        ),
    ];
    for (body, field) in cases {
        let refused = video.start_chat(&body, false).await.unwrap_err();
        assert_eq!(refused.status, 400, "{body}");
        assert!(refused.message.starts_with(&format!("{field}:")), "{body}: {}", refused.message);
    }
    assert!(video.cloud.emulator.chats().is_empty());
}

/// An attendee added while the meeting ended (the end's write lands between the add's read of the
/// meeting and its own write) does not join the ended meeting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_attendee_is_added_to_a_meeting_that_ended_meanwhile() {
    let video = Video::start().await;
    video.create_meeting(&meeting_body("case-1"), ALICE).await.unwrap();
    let (dynamodb, ended) =
        video.meeting_changed_before_its_check("SET endedAt = :value", "2026-11-23T09:00:00.000Z").await;
    let add = CreateAttendee {
        chime: video.chime.clone(),
        dynamodb,
        table: video.table.clone(),
        clock: Arc::new(video.clock.clone()),
    };
    let supervisor = json!({"externalMeetingId": "case-1", "attendeeExternalUserId": "sup-1", "attendeeName": "Dave"});

    let answer = add.handle(request("create-attendee", "/attendee", Some(&supervisor.to_string()), Some(ALICE))).await;

    assert!(ended.lock().unwrap().is_none(), "the meeting ended during the add");
    assert_eq!(answer.unwrap_err().status, 410);
    let roster = video.dynamodb.get_item().table_name(&video.table).set_key(Some(attendee_key("case-1", "sup-1")));
    assert!(roster.send().await.unwrap().item.is_none(), "no attendee item for the ended meeting");
}

/// An end that read a meeting whose id then named a newer meeting (the old one's items expired and
/// the id was used again) ends only the meeting it read, not the newer one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_meeting_never_ends_a_newer_one_under_the_same_id() {
    let video = Video::start().await;
    video.create_meeting(&meeting_body("case-1"), ALICE).await.unwrap();
    let (dynamodb, replaced) =
        video.meeting_changed_before_its_check("SET chimeMeetingId = :value", "the-newer-chime-meeting").await;
    let end = EndMeeting {
        chime: video.chime.clone(),
        dynamodb,
        table: video.table.clone(),
        clock: Arc::new(video.clock.clone()),
    };
    let body = json!({"externalMeetingId": "case-1"}).to_string();

    end.handle(request("end-meeting", "/meeting", Some(&body), Some(ALICE))).await.unwrap();

    assert!(replaced.lock().unwrap().is_none(), "the id named a newer meeting during the end");
    let meeting = video.dynamodb.get_item().table_name(&video.table).set_key(Some(meeting_key("case-1")));
    let meeting = meeting.send().await.unwrap().item.unwrap();
    assert_eq!(meeting["chimeMeetingId"], AttributeValue::S("the-newer-chime-meeting".into()));
    assert!(!meeting.contains_key("endedAt"), "the newer meeting is not ended");
}

/// A route id drawn while a live route holds it is drawn again: the live route is not taken over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adhoc_route_id_in_use_is_never_handed_out_again() {
    let video = Video::start().await;
    let sdk = video.cloud.sdk_config().await;
    // Another agent's live route gets the drawn id just before the put.
    let (dynamodb, squatted) =
        support::interrupted_by(&sdk, &video.table, "#ttl <= :now", |dynamodb, table, body| async move {
            let request: Value = serde_json::from_str(&body).unwrap();
            let key = |name: &str| AttributeValue::S(request["Item"][name]["S"].as_str().unwrap().to_owned());
            let live = dynamodb
                .put_item()
                .table_name(table)
                .item("pk", key("pk"))
                .item("sk", key("sk"))
                .item("ownerUsername", AttributeValue::S("u-another-agent".into()))
                .item("ttl", AttributeValue::N("4102444800".into()));
            live.send().await.unwrap();
        });
    let create = CreateAdhocRoute { dynamodb, table: video.table.clone(), clock: Arc::new(video.clock.clone()) };
    let body = json!({"attendeeEmail": "carol@example.com", "routeToAgentQueue": "Alice"}).to_string();

    let reply = create.handle(request("create-adhoc-route", "/adhoc", Some(&body), Some(ALICE))).await.unwrap();

    assert!(squatted.lock().unwrap().is_none(), "the first id drawn was taken meanwhile");
    let handed_out = u32::try_from(reply.data.as_u64().unwrap()).unwrap();
    let routes = video.dynamodb.scan().table_name(&video.table).send().await.unwrap().items.unwrap_or_default();
    let owners: Vec<_> = routes
        .iter()
        .filter(|r| r["pk"].as_s().is_ok_and(|pk| pk.starts_with("R#")))
        .map(|r| (r["pk"].as_s().unwrap().clone(), r["ownerUsername"].as_s().unwrap().clone()))
        .collect();
    assert_eq!(owners.len(), 2, "the other agent's route and Alice's: {owners:?}");
    assert!(owners.contains(&(format!("R#{handed_out}"), "u-alice".to_owned())), "{owners:?}");
    assert!(owners.iter().any(|(_, owner)| owner == "u-another-agent"), "the live route stays its owner's: {owners:?}");
}

/// A route redeemed for a chat that could not start is given back only while it still carries that
/// redemption's stamp: a later redemption's mark stays.
#[tokio::test]
async fn a_route_is_given_back_only_by_the_chat_that_redeemed_it() {
    let video = Video::start().await;
    let route = video.adhoc_route("carol@example.com", "Alice").await;
    let now = datetime!(2026-11-23 09:01 UTC);
    let redeemed =
        redeem(&video.dynamodb, &video.table, &route.to_string(), "carol@example.com", now).await.unwrap().unwrap();
    // The route was given back and redeemed again by another chat since.
    let key = route_key(redeemed.route_id);
    let again = video
        .dynamodb
        .update_item()
        .table_name(&video.table)
        .set_key(Some(key.clone()))
        .update_expression("SET usedAt = :other")
        .expression_attribute_values(":other", AttributeValue::S("2026-11-23T09:02:00.000Z".into()));
    again.send().await.unwrap();

    release(&video.dynamodb, &video.table, &redeemed).await;

    let item =
        video.dynamodb.get_item().table_name(&video.table).set_key(Some(key)).send().await.unwrap().item.unwrap();
    assert_eq!(item["usedAt"], AttributeValue::S("2026-11-23T09:02:00.000Z".into()), "the later redemption stands");
}
