//! Video call escalation end to end, through the local HTTP API exactly as the agent-app (Amplify,
//! the Cognito ID token in `cognitoIdToken`) and the demo website (plain fetches, a `text/plain`
//! chat start) send their requests: the real function binaries, moto's DynamoDB and Cognito, the
//! emulator's Chime SDK Meetings and Connect, and the flow runner playing the chat flow with the
//! attributes Connect received.

use reqwest::header;
use serde_json::{json, Value};
use switchboard_fleet_tests::Fleet;
use switchboard_local::flow::{Call, Ending};

const PASSWORD: &str = "Local-Passw0rd!";
const WEBSITE: &str = "http://localhost:3000";
const ALICE_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const CUSTOMER: &str = "5f0c3b1e-8d7a-4e7b-9a41-6f5de0c2b9a1";

struct Api<'a> {
    fleet: &'a Fleet,
    http: reqwest::Client,
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fleet.cloud.gateway.as_ref().unwrap().endpoint())
    }

    /// An agent-app call: JSON body (also on DELETE), the ID token in `cognitoIdToken`.
    async fn agent(&self, method: reqwest::Method, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let request = self
            .http
            .request(method, self.url(path))
            .header(header::ORIGIN, WEBSITE)
            .header(header::CONTENT_TYPE, "application/json")
            .header("cognitoIdToken", token)
            .body(body.to_string());
        read(request.send().await.unwrap()).await
    }

    /// A website call: a plain GET, no token.
    async fn website_get(&self, path: &str) -> (u16, Value) {
        read(self.http.get(self.url(path)).header(header::ORIGIN, WEBSITE).send().await.unwrap()).await
    }
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn a_customer_chat_escalates_to_a_video_call_and_comes_back_to_the_agent() {
    let fleet = Fleet::start().await;
    let api = Api { fleet: &fleet, http: reqwest::Client::new() };
    // Alice onboards as the agent-app does; her next token carries her Connect user id.
    let token = fleet.cloud.sign_in("alice+video@example.com", PASSWORD).await.unwrap();
    let bind = json!({"connectLoginByEmail": true, "connectUserId": ALICE_CONNECT_ID});
    let (status, bound) = api.agent(reqwest::Method::POST, "/setConnectUserId", &token, &bind).await;
    assert_eq!(status, 200, "{bound}");
    let token = fleet.cloud.sign_in("alice+video@example.com", PASSWORD).await.unwrap();

    // The agent-app's preflight, with the headers Amplify adds when it SigV4-signs.
    let preflight = api
        .http
        .request(reqwest::Method::OPTIONS, api.url("/meeting"))
        .header(header::ORIGIN, WEBSITE)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,cognitoidtoken,authorization,x-amz-date,x-amz-security-token,x-amz-user-agent",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = preflight.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().to_lowercase();
    for needed in ["cognitoidtoken", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-user-agent"] {
        assert!(allowed.contains(needed), "{needed} not in {allowed}");
    }

    // The agent creates the meeting as the agent-app does: owner without externalUserId, a blank region.
    let meeting_id = "b1e2c3d4-0000-4000-8000-00000000e2e1";
    let create = json!({
        "externalMeetingId": meeting_id,
        "meetingTitle": meeting_id,
        "meetingRegion": "",
        "meetingAttendees": [
            {"attendeeName": "Alice", "isOwner": true},
            {"attendeeName": "Carol", "attendeeEmail": "carol@example.com", "externalUserId": CUSTOMER}
        ]
    });
    let (status, created) = api.agent(reqwest::Method::POST, "/meeting", &token, &create).await;
    assert_eq!(status, 200, "{created}");
    let meeting = created["data"]["JoinInfo"]["Meeting"].clone();
    assert_eq!(meeting["ExternalMeetingId"], meeting_id);
    assert!(meeting["MeetingId"].is_string() && meeting["MediaPlacement"]["AudioHostUrl"].is_string(), "{meeting}");
    assert!(created["data"]["JoinInfo"]["Attendee"]["JoinToken"].is_string());
    let (status, again) = api.agent(reqwest::Method::POST, "/meeting", &token, &create).await;
    assert_eq!((status, again["code"].as_str()), (409, Some("CONFLICT")), "{again}");

    // The website fetches the customer's join data and the agent's roster name, without a token.
    let query = format!("?externalMeetingId={meeting_id}&attendeeExternalUserId={CUSTOMER}");
    let (status, joined) = api.website_get(&format!("/attendee-join-data{query}")).await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(joined["data"]["JoinInfo"]["Meeting"], meeting);
    assert_eq!(joined["data"]["JoinInfo"]["Attendee"]["ExternalUserId"], CUSTOMER);
    let (status, name) = api.website_get(&format!("/attendee-name{query}")).await;
    assert_eq!((status, &name["data"]), (200, &json!("Carol")), "a bare string");
    // The owner's join data is the owner's alone: the public route answers as for nobody at all.
    let owner_id = created["data"]["JoinInfo"]["Attendee"]["ExternalUserId"].as_str().unwrap();
    let refusal = |answer: &Value| (answer["code"].clone(), answer["message"].clone());
    let (status, owner) = api
        .website_get(&format!("/attendee-join-data?externalMeetingId={meeting_id}&attendeeExternalUserId={owner_id}"))
        .await;
    let (unknown_status, unknown) = api
        .website_get(&format!("/attendee-join-data?externalMeetingId={meeting_id}&attendeeExternalUserId=nobody-1"))
        .await;
    assert_eq!((status, refusal(&owner)), (404, refusal(&unknown)), "{owner} {unknown}");
    assert_eq!(unknown_status, 404);

    // The agent makes an ad-hoc route for the customer: a number, put raw into ?refId=.
    let route = json!({"attendeeEmail": "carol@example.com", "routeToAgentQueue": "alice_video@example.com"});
    let (status, routed) = api.agent(reqwest::Method::POST, "/adhoc", &token, &route).await;
    assert_eq!(status, 200, "{routed}");
    let route_id = routed["data"].as_u64().expect("a JSON number");
    assert_eq!(route_id.to_string().len(), 8);

    // The website starts the chat as text/plain (no preflight), with the customer's reference.
    let chat_flow = fleet.cloud.fixture.connect.video_chat_flow_id().to_owned();
    let start = json!({
        "InstanceId": fleet.cloud.fixture.connect.instance_id,
        "ContactFlowId": chat_flow,
        "ParticipantDetails": {"DisplayName": "Carol"},
        "Attributes": {
            "customerName": "Carol", "customerEmailAddress": "carol@example.com",
            "videoExternalMeetingId": meeting_id, "videoAttendeeExternalUserId": CUSTOMER,
            "videoAttendeeName": "Carol", "videoAttendeeEmail": "carol@example.com",
            "videoVendorName": "demo-website", "videoReferenceId": route_id.to_string()
        }
    });
    // A chat Connect refuses (an attribute key it does not allow) redeems the reference and then
    // gives it back: the customer's next chat still reaches Alice.
    let chats_before = fleet.cloud.emulator.chats().len();
    let mut refused_chat = start.clone();
    refused_chat["Attributes"]["a key with spaces"] = json!("Connect allows only [A-Za-z0-9_-] in keys");
    let (status, refused) =
        read(api.http.post(api.url("/start")).body(refused_chat.to_string()).send().await.unwrap()).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(fleet.cloud.emulator.chats().len(), chats_before, "Connect started no chat");

    let response = api
        .http
        .post(api.url("/start"))
        .header(header::ORIGIN, WEBSITE)
        .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
        .body(start.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], WEBSITE, "the answer is readable");
    let (status, started) = read(response).await;
    assert_eq!(status, 200, "{started}");
    for key in ["ContactId", "ParticipantId", "ParticipantToken"] {
        assert!(started["data"]["startChatResult"][key].is_string(), "{started}");
    }

    // Connect received the agent; the chat flow, played with those attributes, queues it for Alice.
    let chat = fleet.cloud.emulator.chats().pop().expect("Connect started a chat");
    assert_eq!(chat.contact_id, started["data"]["startChatResult"]["ContactId"].as_str().unwrap());
    assert_eq!(chat.attributes["videoRouteToAgent"], ALICE_CONNECT_ID);
    let call = Call::chat(format!("video/{}", chat.contact_flow_name)).with_attributes(chat.attributes.clone());
    let transcript = fleet.runner.play(call).await.expect("the chat flow runs");
    println!("{transcript}");
    let Some(Ending::QueuedForAgent { agent_id, .. }) = &transcript.ending else {
        panic!("not queued for an agent: {:?}", transcript.ending);
    };
    assert_eq!(agent_id, ALICE_CONNECT_ID);
    assert_eq!(transcript.attributes["videoRecordingAutoStartEnabled"], "false");

    // A second chat with the same reference is told it is not valid, and is not routed to Alice.
    let (status, _) = read(api.http.post(api.url("/start")).body(start.to_string()).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let second = fleet.cloud.emulator.chats().pop().unwrap();
    assert_eq!(second.attributes["videoReferenceId"], "error");
    let transcript =
        fleet.runner.play(Call::chat("video/VideoCallEscalationChat").with_attributes(second.attributes)).await;
    assert_eq!(transcript.expect("the chat flow runs").ending, Some(Ending::Disconnected));

    // Bob cannot end Alice's meeting; Alice ends it with a DELETE carrying a JSON body; join data is gone.
    let bob = fleet.cloud.sign_in("bob@example.com", PASSWORD).await.unwrap();
    let end = json!({"externalMeetingId": meeting_id});
    let (status, refused) = api.agent(reqwest::Method::DELETE, "/meeting", &bob, &end).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(fleet.cloud.emulator.meetings().len(), 1);
    let (status, ended) = api.agent(reqwest::Method::DELETE, "/meeting", &token, &end).await;
    assert_eq!(status, 200, "{ended}");
    assert!(fleet.cloud.emulator.meetings().is_empty());
    let (status, gone) = api.website_get(&format!("/attendee-join-data{query}")).await;
    assert_eq!((status, gone["code"].as_str()), (410, Some("GONE")), "{gone}");
}

/// `POST /attendee` adds a customer to the owner's meeting: Chime's attendee, then its item. When the
/// item cannot be written (DynamoDB fails the transaction) the Chime attendee is deleted again, and
/// a meeting whose items cannot be written leaves no Chime meeting behind: nobody could join either.
#[tokio::test]
async fn an_added_attendee_can_join_and_a_failed_write_leaves_no_chime_attendee_or_meeting_behind() {
    let dynamodb = switchboard_local::fault_proxy::FaultProxy::start().await.unwrap();
    let overrides = std::collections::BTreeMap::from([
        ("create-attendee/AWS_ENDPOINT_URL_DYNAMODB".to_owned(), dynamodb.endpoint()),
        ("create-meeting/AWS_ENDPOINT_URL_DYNAMODB".to_owned(), dynamodb.endpoint()),
    ]);
    let fixture =
        switchboard_local::fixture::Fixture::load(&switchboard_local::fixture::Fixture::default_path()).unwrap();
    let fleet = Fleet::start_with(fixture, overrides).await;
    dynamodb.forward_to(&fleet.cloud.moto.endpoint());
    let api = Api { fleet: &fleet, http: reqwest::Client::new() };
    let token = fleet.cloud.sign_in("alice+video@example.com", PASSWORD).await.unwrap();
    let bind = json!({"connectLoginByEmail": true, "connectUserId": ALICE_CONNECT_ID});
    assert_eq!(api.agent(reqwest::Method::POST, "/setConnectUserId", &token, &bind).await.0, 200);
    let token = fleet.cloud.sign_in("alice+video@example.com", PASSWORD).await.unwrap();
    let meeting_id = "b1e2c3d4-0000-4000-8000-00000000a77e";
    let create = json!({
        "externalMeetingId": meeting_id, "meetingTitle": meeting_id, "meetingRegion": "",
        "meetingAttendees": [{"attendeeName": "Alice", "isOwner": true}]
    });
    let (status, created) = api.agent(reqwest::Method::POST, "/meeting", &token, &create).await;
    assert_eq!(status, 200, "{created}");
    let attendees = |fleet: &Fleet| {
        let meetings = fleet.cloud.emulator.meetings();
        meetings.iter().find(|m| m.external_meeting_id == meeting_id).map(|m| m.attendees.len()).unwrap_or_default()
    };

    // Carol is added, and her join data is there for the website.
    let carol = json!({"externalMeetingId": meeting_id, "attendeeExternalUserId": CUSTOMER, "attendeeName": "Carol"});
    let (status, added) = api.agent(reqwest::Method::POST, "/attendee", &token, &carol).await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["data"]["JoinInfo"]["Attendee"]["ExternalUserId"], CUSTOMER);
    assert_eq!(attendees(&fleet), 2);
    let query = format!("?externalMeetingId={meeting_id}&attendeeExternalUserId={CUSTOMER}");
    assert_eq!(api.website_get(&format!("/attendee-join-data{query}")).await.0, 200);

    // The item's write fails: a 502, and the Chime attendee made for it is gone again.
    dynamodb.fail("TransactWriteItems");
    let dave = json!({"externalMeetingId": meeting_id, "attendeeExternalUserId": "dave-1", "attendeeName": "Dave"});
    let (status, failed) = api.agent(reqwest::Method::POST, "/attendee", &token, &dave).await;
    assert_eq!((status, failed["code"].as_str()), (502, Some("DEPENDENCY_FAILED")), "{failed}");
    assert_eq!(attendees(&fleet), 2, "the failed attendee was deleted from the meeting");

    // A new meeting whose items cannot be written: a 502, and no Chime meeting is left.
    let before = fleet.cloud.emulator.meetings().len();
    let other = "b1e2c3d4-0000-4000-8000-00000000a77f";
    let create = json!({
        "externalMeetingId": other, "meetingTitle": other, "meetingRegion": "",
        "meetingAttendees": [{"attendeeName": "Alice", "isOwner": true}]
    });
    let (status, failed) = api.agent(reqwest::Method::POST, "/meeting", &token, &create).await;
    assert_eq!(status, 502, "{failed}");
    assert_eq!(fleet.cloud.emulator.meetings().len(), before, "the Chime meeting was deleted");
}
