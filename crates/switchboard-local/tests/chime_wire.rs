//! The emulator's Chime SDK Meetings, through the real `aws-sdk-chimesdkmeetings` client: every
//! operation's success shape, and the service's errors (`BadRequestException`,
//! `NotFoundException`, `LimitExceededException`) as the SDK's typed variants.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_chimesdkmeetings::{
    config::Credentials,
    error::{ProvideErrorMetadata, SdkError},
    operation::{
        batch_create_attendee::BatchCreateAttendeeError, create_attendee::CreateAttendeeError,
        create_meeting::CreateMeetingError, create_meeting_with_attendees::CreateMeetingWithAttendeesError,
        delete_attendee::DeleteAttendeeError, delete_meeting::DeleteMeetingError, get_attendee::GetAttendeeError,
        get_meeting::GetMeetingError, list_attendees::ListAttendeesError,
    },
    types::{
        AttendeeCapabilities, AttendeeFeatures, CreateAttendeeRequestItem, MediaCapabilities, Meeting,
        MeetingFeaturesConfiguration, VideoFeatures, VideoResolution,
    },
    Client,
};
use switchboard_local::{
    cloud::LocalCloud,
    emulator::{self, EmulatorHandle},
    fixture::Fixture,
};

fn fixture() -> Fixture {
    Fixture::load(&Fixture::default_path()).expect("fixture")
}

/// The emulator alone (Chime needs nothing of moto) and a client pointed at it, as a function's
/// `AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS` would point it.
async fn chime() -> (EmulatorHandle, Client, Fixture) {
    let fixture = fixture();
    let emulator = emulator::start(fixture.clone(), ([127, 0, 0, 1], 0).into(), None).await.unwrap();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(fixture.region.clone()))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(emulator.endpoint())
        .load()
        .await;
    (emulator, Client::new(&sdk), fixture)
}

async fn new_meeting(client: &Client, token: &str, external_meeting_id: &str) -> Meeting {
    let created = client
        .create_meeting()
        .client_request_token(token)
        .external_meeting_id(external_meeting_id)
        .media_region("ap-southeast-2")
        .send()
        .await
        .unwrap();
    created.meeting().unwrap().clone()
}

fn item(external_user_id: &str) -> CreateAttendeeRequestItem {
    CreateAttendeeRequestItem::builder().external_user_id(external_user_id).build().unwrap()
}

fn status<E>(error: &SdkError<E>) -> Option<u16> {
    error.raw_response().map(|r| r.status().as_u16())
}

const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

#[tokio::test]
async fn create_meeting_answers_the_service_shape_and_its_token_is_idempotent() {
    let (emulator, client, fixture) = chime().await;
    let features = MeetingFeaturesConfiguration::builder()
        .video(VideoFeatures::builder().max_resolution(VideoResolution::Fhd).build())
        .attendee(AttendeeFeatures::builder().max_count(10).build())
        .build();
    let created = client
        .create_meeting()
        .client_request_token("token-1")
        .external_meeting_id("Support call #42")
        .media_region("eu-west-2")
        .meeting_features(features.clone())
        .tenant_ids("tenant-a")
        .send()
        .await
        .unwrap();
    let meeting = created.meeting().unwrap();
    let id = meeting.meeting_id().unwrap();
    assert!(uuid::Uuid::try_parse(id).is_ok(), "{id}");
    assert_eq!(
        meeting.meeting_arn(),
        Some(format!("arn:aws:chime:{}:{}:meeting/{id}", fixture.region, fixture.account_id).as_str())
    );
    assert_eq!(meeting.external_meeting_id(), Some("Support call #42"));
    assert_eq!(meeting.media_region(), Some("eu-west-2"));
    assert_eq!(meeting.meeting_features(), Some(&features));
    assert_eq!(meeting.tenant_ids(), ["tenant-a"]);
    let placement = meeting.media_placement().unwrap();
    let urls = [
        placement.audio_fallback_url(),
        placement.signaling_url(),
        placement.turn_control_url(),
        placement.screen_data_url(),
        placement.screen_viewing_url(),
        placement.screen_sharing_url(),
        placement.event_ingestion_url(),
    ];
    for url in urls {
        let url = url.expect("every MediaPlacement URL");
        assert!(url.starts_with("wss://") || url.starts_with("https://"), "{url}");
        assert!(url.contains(".invalid"), "{url} must never resolve");
    }
    assert!(placement.signaling_url().unwrap().ends_with(id));
    assert!(placement.audio_host_url().is_some_and(|u| u.ends_with(":3478")));

    // The same ClientRequestToken is the same meeting; another token is another meeting.
    let again = client
        .create_meeting()
        .client_request_token("token-1")
        .external_meeting_id("Support call #42")
        .media_region("eu-west-2")
        .send()
        .await
        .unwrap();
    assert_eq!(again.meeting().and_then(|m| m.meeting_id()), Some(id));
    let other = new_meeting(&client, "token-2", "Support call #42").await;
    assert_ne!(other.meeting_id(), Some(id));
    assert_eq!(emulator.meetings().len(), 2);

    // A meeting without features has none in its answer.
    assert!(other.meeting_features().is_none());
    assert!(other.tenant_ids().is_empty());
}

#[tokio::test]
async fn create_meeting_refuses_what_the_model_refuses() {
    let (emulator, client, _) = chime().await;
    let create = |token: &str, external: &str, region: &str| {
        client.create_meeting().client_request_token(token).external_meeting_id(external).media_region(region).send()
    };
    let (long_token, long_id) = ("t".repeat(65), "m".repeat(65));
    let refusals = [
        ("x", "meeting-1", "us-east-1"),                 // token shorter than 2
        (long_token.as_str(), "meeting-1", "us-east-1"), // token longer than 64
        ("token with spaces", "meeting-1", "us-east-1"), // token outside [-_a-zA-Z0-9]
        ("token-1", "m", "us-east-1"),                   // ExternalMeetingId shorter than 2
        ("token-1", long_id.as_str(), "us-east-1"),      // ExternalMeetingId longer than 64
        ("token-1", "<script>", "us-east-1"),            // ExternalMeetingId outside its pattern
        ("token-1", "AWS:reserved", "us-east-1"),        // the reserved prefix, in any case
        ("token-1", "meeting-1", "mars-north-1"),        // not a media Region
        ("token-1", "meeting-1", "me-central-1"),        // an AWS Region, but no Chime media there
    ];
    for (token, external, region) in refusals {
        let error = create(token, external, region).await.unwrap_err();
        assert!(
            matches!(error.as_service_error(), Some(CreateMeetingError::BadRequestException(_))),
            "{token} {external} {region}: {error:?}"
        );
        assert_eq!(status(&error), Some(400));
        assert!(error.message().is_some_and(|m| !m.is_empty()));
    }
    // Too many attendees for MaxCount's bounds.
    let error = client
        .create_meeting()
        .client_request_token("token-1")
        .external_meeting_id("meeting-1")
        .media_region("us-east-1")
        .meeting_features(
            MeetingFeaturesConfiguration::builder()
                .attendee(AttendeeFeatures::builder().max_count(251).build())
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error.as_service_error(), Some(CreateMeetingError::BadRequestException(_))), "{error:?}");
    assert!(emulator.meetings().is_empty(), "a refused request creates nothing");

    // Required members the SDK would fill in or refuse itself: checked on the raw wire.
    let http = reqwest::Client::new();
    for body in [
        serde_json::json!({"ExternalMeetingId": "meeting-1", "MediaRegion": "us-east-1"}),
        serde_json::json!({"ClientRequestToken": "token-1", "ExternalMeetingId": "meeting-1"}),
        serde_json::json!({"ClientRequestToken": "token-1", "MediaRegion": "us-east-1"}),
        serde_json::json!({"ClientRequestToken": 7, "ExternalMeetingId": "meeting-1", "MediaRegion": "us-east-1"}),
    ] {
        let answer = http.post(format!("{}/meetings", emulator.endpoint())).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{body}");
        assert_eq!(answer.headers()["x-amzn-ErrorType"], "BadRequestException");
        let error: serde_json::Value = answer.json().await.unwrap();
        assert!(
            error["Message"].as_str().is_some_and(|m| m.contains("ClientRequestToken")
                || m.contains("MediaRegion")
                || m.contains("ExternalMeetingId")),
            "{error}"
        );
    }
}

#[tokio::test]
async fn create_meeting_with_attendees_reports_each_refused_attendee_in_errors() {
    let (emulator, client, _) = chime().await;
    let created = client
        .create_meeting_with_attendees()
        .client_request_token("with-attendees")
        .external_meeting_id("escalation-7")
        .media_region("ap-southeast-2")
        .attendees(item("agent-alice"))
        .attendees(item("x")) // too short: refused alone
        .attendees(item("customer@example.com"))
        .send()
        .await
        .unwrap();
    let meeting_id = created.meeting().and_then(|m| m.meeting_id()).unwrap().to_owned();
    let names: Vec<_> = created.attendees().iter().filter_map(|a| a.external_user_id()).collect();
    assert_eq!(names, ["agent-alice", "customer@example.com"]);
    assert_eq!(created.errors().len(), 1);
    assert_eq!(created.errors()[0].external_user_id(), Some("x"));
    assert!(created.errors()[0].error_code().is_some() && created.errors()[0].error_message().is_some());
    for attendee in created.attendees() {
        assert!(attendee.attendee_id().is_some_and(|id| uuid::Uuid::try_parse(id).is_ok()));
        assert!(attendee.join_token().is_some_and(|t| t.len() >= 40), "a join token is not guessable");
    }
    assert_ne!(created.attendees()[0].join_token(), created.attendees()[1].join_token());
    let live = emulator.meetings();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].meeting_id, meeting_id);
    assert_eq!(live[0].attendees.len(), 2);

    // A retried request (same token) answers the same meeting and the same attendees.
    let retried = client
        .create_meeting_with_attendees()
        .client_request_token("with-attendees")
        .external_meeting_id("escalation-7")
        .media_region("ap-southeast-2")
        .attendees(item("agent-alice"))
        .attendees(item("x"))
        .attendees(item("customer@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.meeting().and_then(|m| m.meeting_id()), Some(meeting_id.as_str()));
    assert_eq!(retried.attendees(), created.attendees());
    assert_eq!(emulator.meetings()[0].attendees.len(), 2);

    // The list bounds (1 to 20) refuse the whole request.
    for count in [0, 21] {
        let mut request = client
            .create_meeting_with_attendees()
            .client_request_token(format!("bounds-{count}"))
            .external_meeting_id("escalation-8")
            .media_region("ap-southeast-2");
        for n in 0..count {
            request = request.attendees(item(&format!("user-{n}")));
        }
        let error = request.send().await.unwrap_err();
        assert!(
            matches!(error.as_service_error(), Some(CreateMeetingWithAttendeesError::BadRequestException(_))),
            "{count}: {error:?}"
        );
    }
    // More attendees than the meeting's MaxCount: LimitExceededException, and no meeting.
    let error = client
        .create_meeting_with_attendees()
        .client_request_token("over-max-count")
        .external_meeting_id("escalation-9")
        .media_region("ap-southeast-2")
        .meeting_features(
            MeetingFeaturesConfiguration::builder().attendee(AttendeeFeatures::builder().max_count(1).build()).build(),
        )
        .attendees(item("agent-alice"))
        .attendees(item("customer-bob"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error.as_service_error(), Some(CreateMeetingWithAttendeesError::LimitExceededException(_))),
        "{error:?}"
    );
    assert_eq!(emulator.meetings().len(), 1);
}

#[tokio::test]
async fn create_attendee_defaults_capabilities_and_is_idempotent_per_external_user_id() {
    let (_emulator, client, _) = chime().await;
    let meeting = new_meeting(&client, "attendee-meeting", "escalation-1").await;
    let meeting_id = meeting.meeting_id().unwrap();
    let created = client.create_attendee().meeting_id(meeting_id).external_user_id("agent-alice").send().await.unwrap();
    let attendee = created.attendee().unwrap();
    let everything = AttendeeCapabilities::builder()
        .audio(MediaCapabilities::SendReceive)
        .video(MediaCapabilities::SendReceive)
        .content(MediaCapabilities::SendReceive)
        .build()
        .unwrap();
    assert_eq!(attendee.capabilities(), Some(&everything));
    assert_eq!(attendee.external_user_id(), Some("agent-alice"));

    let again = client.create_attendee().meeting_id(meeting_id).external_user_id("agent-alice").send().await.unwrap();
    assert_eq!(again.attendee(), Some(attendee));

    let receive_only = AttendeeCapabilities::builder()
        .audio(MediaCapabilities::Receive)
        .video(MediaCapabilities::Receive)
        .content(MediaCapabilities::None)
        .build()
        .unwrap();
    let bot = client
        .create_attendee()
        .meeting_id(meeting_id)
        .external_user_id("RECORDING-1")
        .capabilities(receive_only.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(bot.attendee().and_then(|a| a.capabilities()), Some(&receive_only));
    assert_ne!(bot.attendee().and_then(|a| a.join_token()), attendee.join_token());
}

#[tokio::test]
async fn create_attendee_errors_are_the_services() {
    let (emulator, client, _) = chime().await;
    let meeting = new_meeting(&client, "attendee-errors", "escalation-2").await;
    let meeting_id = meeting.meeting_id().unwrap();

    let error = client.create_attendee().meeting_id(UNKNOWN).external_user_id("agent-alice").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(CreateAttendeeError::NotFoundException(_))), "{error:?}");
    assert_eq!(status(&error), Some(404));
    let error = client
        .create_attendee()
        .meeting_id("not-a-meeting-id")
        .external_user_id("agent-alice")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error.as_service_error(), Some(CreateAttendeeError::BadRequestException(_))), "{error:?}");
    for external_user_id in ["a", "aws:bot", "tab\u{7}bell", &"u".repeat(65)] {
        let error = client
            .create_attendee()
            .meeting_id(meeting_id)
            .external_user_id(external_user_id)
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(error.as_service_error(), Some(CreateAttendeeError::BadRequestException(_))),
            "{external_user_id:?}: {error:?}"
        );
    }
    // Content can be received only with video (the model's corner case).
    let content_without_video = AttendeeCapabilities::builder()
        .audio(MediaCapabilities::SendReceive)
        .video(MediaCapabilities::None)
        .content(MediaCapabilities::Receive)
        .build()
        .unwrap();
    let error = client
        .create_attendee()
        .meeting_id(meeting_id)
        .external_user_id("viewer")
        .capabilities(content_without_video)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error.as_service_error(), Some(CreateAttendeeError::BadRequestException(_))), "{error:?}");
    assert!(emulator.meetings()[0].attendees.is_empty());
}

#[tokio::test]
async fn a_meeting_admits_250_attendees_and_no_more() {
    let (emulator, client, _) = chime().await;
    let meeting = new_meeting(&client, "full-meeting", "town-hall").await;
    let meeting_id = meeting.meeting_id().unwrap();
    for batch in 0..2 {
        let mut request = client.batch_create_attendee().meeting_id(meeting_id);
        for n in 0..100 {
            request = request.attendees(item(&format!("user-{batch}-{n}")));
        }
        let created = request.send().await.unwrap();
        assert_eq!(created.attendees().len(), 100);
        assert!(created.errors().is_empty());
    }
    // 200 attendees: a batch of 51 would make 251, so none of it is admitted.
    let mut request = client.batch_create_attendee().meeting_id(meeting_id);
    for n in 0..51 {
        request = request.attendees(item(&format!("late-{n}")));
    }
    let error = request.send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(BatchCreateAttendeeError::LimitExceededException(_))), "{error:?}");
    assert_eq!(status(&error), Some(400));
    assert_eq!(emulator.meetings()[0].attendees.len(), 200);

    let mut request = client.batch_create_attendee().meeting_id(meeting_id);
    for n in 0..50 {
        request = request.attendees(item(&format!("late-{n}")));
    }
    request.send().await.unwrap();
    let error =
        client.create_attendee().meeting_id(meeting_id).external_user_id("one-too-many").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(CreateAttendeeError::LimitExceededException(_))), "{error:?}");
    // An attendee already in the meeting is still answered: it is not a new one.
    let existing = client.create_attendee().meeting_id(meeting_id).external_user_id("user-0-0").send().await.unwrap();
    assert_eq!(existing.attendee().and_then(|a| a.external_user_id()), Some("user-0-0"));
    assert_eq!(emulator.meetings()[0].attendees.len(), 250);
}

#[tokio::test]
async fn batch_create_attendee_reports_refused_attendees_and_checks_its_bounds() {
    let (_emulator, client, _) = chime().await;
    let meeting = new_meeting(&client, "batch-meeting", "escalation-3").await;
    let meeting_id = meeting.meeting_id().unwrap();
    let created = client
        .batch_create_attendee()
        .meeting_id(meeting_id)
        .attendees(item("agent-alice"))
        .attendees(item("aws:reserved"))
        .attendees(item("customer-bob"))
        .send()
        .await
        .unwrap();
    let names: Vec<_> = created.attendees().iter().filter_map(|a| a.external_user_id()).collect();
    assert_eq!(names, ["agent-alice", "customer-bob"]);
    let refused: Vec<_> = created.errors().iter().filter_map(|e| e.external_user_id()).collect();
    assert_eq!(refused, ["aws:reserved"]);

    let mut too_many = client.batch_create_attendee().meeting_id(meeting_id);
    for n in 0..101 {
        too_many = too_many.attendees(item(&format!("user-{n}")));
    }
    let error = too_many.send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(BatchCreateAttendeeError::BadRequestException(_))), "{error:?}");
    let error = client.batch_create_attendee().meeting_id(meeting_id).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(BatchCreateAttendeeError::BadRequestException(_))), "{error:?}");
    let error =
        client.batch_create_attendee().meeting_id(UNKNOWN).attendees(item("agent-alice")).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(BatchCreateAttendeeError::NotFoundException(_))), "{error:?}");
}

#[tokio::test]
async fn get_meeting_and_get_attendee_answer_what_was_created() {
    let (_emulator, client, _) = chime().await;
    let meeting = new_meeting(&client, "get-meeting", "escalation-4").await;
    let meeting_id = meeting.meeting_id().unwrap();
    let got = client.get_meeting().meeting_id(meeting_id).send().await.unwrap();
    assert_eq!(got.meeting(), Some(&meeting));
    let attendee =
        client.create_attendee().meeting_id(meeting_id).external_user_id("agent-alice").send().await.unwrap();
    let attendee = attendee.attendee().unwrap();
    let got = client.get_attendee().meeting_id(meeting_id).attendee_id(attendee.attendee_id().unwrap()).send().await;
    assert_eq!(got.unwrap().attendee(), Some(attendee));

    let error = client.get_meeting().meeting_id(UNKNOWN).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(GetMeetingError::NotFoundException(_))), "{error:?}");
    assert_eq!(status(&error), Some(404));
    let error = client.get_meeting().meeting_id("meeting-1").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(GetMeetingError::BadRequestException(_))), "{error:?}");
    let error = client.get_attendee().meeting_id(meeting_id).attendee_id(UNKNOWN).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(GetAttendeeError::NotFoundException(_))), "{error:?}");
    let error = client.get_attendee().meeting_id(UNKNOWN).attendee_id(attendee.attendee_id().unwrap()).send().await;
    assert!(matches!(error.unwrap_err().as_service_error(), Some(GetAttendeeError::NotFoundException(_))));
}

#[tokio::test]
async fn list_attendees_pages_with_next_token_and_max_results() {
    let (_emulator, client, _) = chime().await;
    let meeting = new_meeting(&client, "list-meeting", "escalation-5").await;
    let meeting_id = meeting.meeting_id().unwrap();
    let mut request = client.batch_create_attendee().meeting_id(meeting_id);
    for n in 0..5 {
        request = request.attendees(item(&format!("user-{n}")));
    }
    let created: Vec<String> =
        request.send().await.unwrap().attendees().iter().filter_map(|a| a.attendee_id().map(str::to_owned)).collect();

    // Pages of two: 2 + 2 + 1, NextToken on all but the last.
    let mut listed = Vec::new();
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let page =
            client.list_attendees().meeting_id(meeting_id).max_results(2).set_next_token(token.clone()).send().await;
        let page = page.unwrap();
        pages += 1;
        assert!(page.attendees().len() <= 2);
        listed.extend(page.attendees().iter().filter_map(|a| a.attendee_id().map(str::to_owned)));
        match page.next_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!((pages, &listed), (3, &created));

    // The SDK's paginator walks the same pages.
    let mut paginated = Vec::new();
    let mut stream = client.list_attendees().meeting_id(meeting_id).max_results(3).into_paginator().send();
    while let Some(page) = stream.next().await {
        paginated.extend(page.unwrap().attendees().iter().filter_map(|a| a.attendee_id().map(str::to_owned)));
    }
    assert_eq!(paginated, created);

    // A page boundary survives an attendee deleted between pages.
    let first = client.list_attendees().meeting_id(meeting_id).max_results(2).send().await.unwrap();
    client.delete_attendee().meeting_id(meeting_id).attendee_id(&created[2]).send().await.unwrap();
    let rest = client
        .list_attendees()
        .meeting_id(meeting_id)
        .max_results(100)
        .set_next_token(first.next_token().map(str::to_owned))
        .send()
        .await
        .unwrap();
    let rest: Vec<_> = rest.attendees().iter().filter_map(|a| a.attendee_id()).collect();
    assert_eq!(rest, [created[3].as_str(), created[4].as_str()]);

    for max_results in [0, 101] {
        let error = client.list_attendees().meeting_id(meeting_id).max_results(max_results).send().await.unwrap_err();
        assert!(
            matches!(error.as_service_error(), Some(ListAttendeesError::BadRequestException(_))),
            "{max_results}: {error:?}"
        );
    }
    let error = client.list_attendees().meeting_id(meeting_id).next_token("forged").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(ListAttendeesError::BadRequestException(_))), "{error:?}");
    let error = client.list_attendees().meeting_id(UNKNOWN).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(ListAttendeesError::NotFoundException(_))), "{error:?}");
}

#[tokio::test]
async fn delete_attendee_removes_only_that_attendee() {
    let (emulator, client, _) = chime().await;
    let meeting = new_meeting(&client, "delete-attendee", "escalation-6").await;
    let meeting_id = meeting.meeting_id().unwrap();
    let created = client
        .batch_create_attendee()
        .meeting_id(meeting_id)
        .attendees(item("agent-alice"))
        .attendees(item("RECORDING-1"))
        .send()
        .await
        .unwrap();
    let bot = created.attendees()[1].attendee_id().unwrap();
    client.delete_attendee().meeting_id(meeting_id).attendee_id(bot).send().await.unwrap();
    let error = client.get_attendee().meeting_id(meeting_id).attendee_id(bot).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(GetAttendeeError::NotFoundException(_))), "{error:?}");
    let error = client.delete_attendee().meeting_id(meeting_id).attendee_id(bot).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(DeleteAttendeeError::NotFoundException(_))), "{error:?}");
    let error = client.delete_attendee().meeting_id(meeting_id).attendee_id("bot").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(DeleteAttendeeError::BadRequestException(_))), "{error:?}");
    let left: Vec<_> = emulator.meetings()[0].attendees.iter().map(|a| a.external_user_id.clone()).collect();
    assert_eq!(left, ["agent-alice"]);

    // On the wire the deletes answer 204 No Content, as the model says.
    let alice = created.attendees()[0].attendee_id().unwrap();
    let url = format!("{}/meetings/{meeting_id}/attendees/{alice}", emulator.endpoint());
    assert_eq!(reqwest::Client::new().delete(url).send().await.unwrap().status(), 204);
    let url = format!("{}/meetings/{meeting_id}", emulator.endpoint());
    assert_eq!(reqwest::Client::new().delete(url).send().await.unwrap().status(), 204);
    assert!(emulator.meetings().is_empty());
}

#[tokio::test]
async fn a_deleted_meeting_is_gone_with_its_attendees() {
    let (emulator, client, _) = chime().await;
    let meeting = new_meeting(&client, "delete-meeting", "escalation-7").await;
    let meeting_id = meeting.meeting_id().unwrap();
    let attendee =
        client.create_attendee().meeting_id(meeting_id).external_user_id("agent-alice").send().await.unwrap();
    let attendee_id = attendee.attendee().and_then(|a| a.attendee_id()).unwrap();
    let kept = new_meeting(&client, "kept-meeting", "escalation-8").await;
    let mut published = emulator.take_events().unwrap();

    client.delete_meeting().meeting_id(meeting_id).send().await.unwrap();
    // Chime publishes the end to EventBridge, once, in the shape EventBridge delivers.
    let event = published.try_recv().expect("a chime:MeetingEnded event");
    assert_eq!(
        (event["source"].as_str(), event["detail-type"].as_str()),
        (Some("aws.chime"), Some("Chime Meeting State Change"))
    );
    assert_eq!(event["detail"]["eventType"], "chime:MeetingEnded");
    assert_eq!(event["detail"]["externalMeetingId"], "escalation-7");
    assert_eq!(event["detail"]["meetingId"].as_str(), Some(meeting_id));
    assert!(published.try_recv().is_err(), "one event");
    let error = client.get_meeting().meeting_id(meeting_id).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(GetMeetingError::NotFoundException(_))), "{error:?}");
    let error = client.delete_meeting().meeting_id(meeting_id).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(DeleteMeetingError::NotFoundException(_))), "{error:?}");
    assert_eq!(status(&error), Some(404));
    let error = client.create_attendee().meeting_id(meeting_id).external_user_id("late").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(CreateAttendeeError::NotFoundException(_))), "{error:?}");
    let error = client.get_attendee().meeting_id(meeting_id).attendee_id(attendee_id).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(GetAttendeeError::NotFoundException(_))), "{error:?}");
    let error = client.delete_meeting().meeting_id("meeting").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(DeleteMeetingError::BadRequestException(_))), "{error:?}");
    assert!(published.try_recv().is_err(), "a delete that failed published nothing");

    // The inspection route and the handle agree on what is left: only the other meeting.
    let listed: Vec<switchboard_local::emulator::LocalMeeting> =
        reqwest::get(format!("{}/_local/meetings", emulator.endpoint())).await.unwrap().json().await.unwrap();
    assert_eq!(listed, emulator.meetings());
    assert_eq!(listed.len(), 1);
    assert_eq!(Some(listed[0].meeting_id.as_str()), kept.meeting_id());
    assert_eq!(listed[0].external_meeting_id, "escalation-8");

    // Its token was the deleted meeting's; it now creates a new meeting rather than answer a gone one.
    let recreated = new_meeting(&client, "delete-meeting", "escalation-7").await;
    assert_ne!(recreated.meeting_id(), Some(meeting_id));
}

#[tokio::test]
async fn operations_the_emulator_lacks_answer_at_once() {
    let (_emulator, client, _) = chime().await;
    let meeting = new_meeting(&client, "unsupported", "escalation-9").await;
    let capabilities = AttendeeCapabilities::builder()
        .audio(MediaCapabilities::Receive)
        .video(MediaCapabilities::Receive)
        .content(MediaCapabilities::Receive)
        .build()
        .unwrap();
    let unsupported = client
        .batch_update_attendee_capabilities_except()
        .meeting_id(meeting.meeting_id().unwrap())
        .excluded_attendee_ids(
            aws_sdk_chimesdkmeetings::types::AttendeeIdItem::builder().attendee_id(UNKNOWN).build().unwrap(),
        )
        .capabilities(capabilities)
        .send();
    let error = tokio::time::timeout(Duration::from_secs(5), unsupported).await.expect("no hang").unwrap_err();
    assert_eq!(error.code(), Some("UnknownOperationException"), "{error:?}");
}

#[tokio::test]
async fn the_local_cloud_points_functions_at_the_chime_emulator() {
    let cloud = LocalCloud::services(fixture()).await.unwrap();
    // The variable the SDK reads: AWS_ENDPOINT_URL_ + the service id "Chime SDK Meetings" in
    // upper snake case.
    let variable = format!("AWS_ENDPOINT_URL_{}", "Chime SDK Meetings".to_uppercase().replace(' ', "_"));
    assert_eq!(cloud.aws_env().get(&variable), Some(&cloud.emulator.endpoint()));
}
