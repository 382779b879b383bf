//! The emulator's Connect `StartChatContact`, through the real `aws-sdk-connect` client: the answer,
//! what Connect received (`GET /_local/chats`), the chat as a contact for `DescribeContact`, and the
//! service's errors.

use std::collections::BTreeMap;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_connect::{
    config::Credentials,
    error::ProvideErrorMetadata,
    operation::start_chat_contact::{StartChatContactError, StartChatContactOutput},
    types::{Channel, ChatMessage, ContactInitiationMethod, ParticipantDetails, PersistentChat, RehydrationType},
    Client,
};
use switchboard_local::{
    emulator::{self, EmulatorHandle, LocalChat, LocalChatMessage},
    fixture::Fixture,
};

fn fixture() -> Fixture {
    Fixture::load(&Fixture::default_path()).expect("fixture")
}

/// The emulator alone (StartChatContact needs nothing of moto) and a Connect client pointed at it.
async fn connect() -> (EmulatorHandle, Client, Fixture) {
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

fn customer(name: &str) -> ParticipantDetails {
    ParticipantDetails::builder().display_name(name).build().unwrap()
}

fn chat_flow(fixture: &Fixture) -> String {
    fixture.connect.contact_flows["VideoCallEscalationChat"].id.clone()
}

/// A chat start that passes every check but the one a test changes.
fn start(
    client: &Client,
    fixture: &Fixture,
) -> aws_sdk_connect::operation::start_chat_contact::builders::StartChatContactFluentBuilder {
    client
        .start_chat_contact()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(chat_flow(fixture))
        .participant_details(customer("Jane Citizen"))
}

fn is_invalid_parameter(error: &aws_sdk_connect::error::SdkError<StartChatContactError>) -> bool {
    matches!(error.as_service_error(), Some(StartChatContactError::InvalidParameterException(_)))
}

fn is_not_found(error: &aws_sdk_connect::error::SdkError<StartChatContactError>) -> bool {
    matches!(error.as_service_error(), Some(StartChatContactError::ResourceNotFoundException(_)))
}

#[tokio::test]
async fn a_started_chat_is_recorded_as_connect_received_it_and_described_as_a_chat_contact() {
    let (emulator, client, fixture) = connect().await;
    let started: StartChatContactOutput = start(&client, &fixture)
        .attributes("customerName", "Jane Citizen")
        .attributes("customerEmailAddress", "jane@example.com")
        .attributes("videoRouteToAgent", "alice_video@example.com")
        .initial_message(ChatMessage::builder().content_type("text/plain").content("Hi, I need help").build().unwrap())
        .send()
        .await
        .unwrap();
    let contact_id = started.contact_id().unwrap();
    assert!(uuid::Uuid::try_parse(contact_id).is_ok());
    assert!(started.participant_id().is_some_and(|p| uuid::Uuid::try_parse(p).is_ok()));
    assert!(started.participant_token().is_some_and(|t| t.len() >= 40), "a participant token is not guessable");
    assert!(started.continued_from_contact_id().is_none());

    let expected = LocalChat {
        contact_id: contact_id.to_owned(),
        participant_id: started.participant_id().unwrap().to_owned(),
        contact_flow_id: chat_flow(&fixture),
        contact_flow_name: "VideoCallEscalationChat".into(),
        display_name: "Jane Citizen".into(),
        attributes: BTreeMap::from([
            ("customerName".to_owned(), "Jane Citizen".to_owned()),
            ("customerEmailAddress".to_owned(), "jane@example.com".to_owned()),
            ("videoRouteToAgent".to_owned(), "alice_video@example.com".to_owned()),
        ]),
        initial_message: Some(LocalChatMessage {
            content_type: "text/plain".into(),
            content: "Hi, I need help".into(),
        }),
        related_contact_id: None,
        continued_from_contact_id: None,
        customer_id: None,
    };
    assert_eq!(emulator.chats(), std::slice::from_ref(&expected));
    let listed: Vec<LocalChat> =
        reqwest::get(format!("{}/_local/chats", emulator.endpoint())).await.unwrap().json().await.unwrap();
    assert_eq!(listed, [expected]);
    let raw = reqwest::get(format!("{}/_local/chats", emulator.endpoint())).await.unwrap().text().await.unwrap();
    assert!(!raw.contains(started.participant_token().unwrap()), "the participant token is never listed");

    let described = client
        .describe_contact()
        .instance_id(&fixture.connect.instance_id)
        .contact_id(contact_id)
        .send()
        .await
        .unwrap();
    let contact = described.contact().unwrap();
    assert_eq!(contact.id(), Some(contact_id));
    assert_eq!(contact.channel(), Some(&Channel::Chat));
    assert_eq!(contact.initiation_method(), Some(&ContactInitiationMethod::Api));
    assert_eq!(contact.initial_contact_id(), Some(contact_id));
    assert_eq!(contact.attributes().and_then(|a| a.get("customerName")).map(String::as_str), Some("Jane Citizen"));
}

#[tokio::test]
async fn a_retry_with_the_same_client_token_answers_the_same_chat() {
    let (emulator, client, fixture) = connect().await;
    let first = start(&client, &fixture).client_token("retry-1").send().await.unwrap();
    let retry = start(&client, &fixture).client_token("retry-1").send().await.unwrap();
    assert_eq!(
        (retry.contact_id(), retry.participant_id(), retry.participant_token()),
        (first.contact_id(), first.participant_id(), first.participant_token())
    );
    assert_eq!(emulator.chats().len(), 1);
    // Without one, the SDK makes a fresh token per call: two calls are two chats.
    let second = start(&client, &fixture).send().await.unwrap();
    let third = start(&client, &fixture).send().await.unwrap();
    assert_ne!(second.contact_id(), third.contact_id());
    assert_eq!(emulator.chats().len(), 3);
}

#[tokio::test]
async fn unknown_instances_flows_and_contacts_are_resource_not_found() {
    let (emulator, client, fixture) = connect().await;
    let unknown = "00000000-0000-4000-8000-000000000000";
    let error = start(&client, &fixture).instance_id(unknown).send().await.unwrap_err();
    assert!(is_not_found(&error), "{error:?}");
    let error = start(&client, &fixture).contact_flow_id(unknown).send().await.unwrap_err();
    assert!(is_not_found(&error), "{error:?}");
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(404));
    let error = start(&client, &fixture).related_contact_id(unknown).send().await.unwrap_err();
    assert!(is_not_found(&error), "{error:?}");
    assert!(emulator.chats().is_empty(), "a refused start records nothing");

    // The instance's ARN names it as well as its id.
    let by_arn = start(&client, &fixture).instance_id(fixture.instance_arn()).send().await;
    assert!(by_arn.is_ok(), "{by_arn:?}");
}

#[tokio::test]
async fn related_and_persistent_chats_name_a_known_contact() {
    let (emulator, client, fixture) = connect().await;
    let first = start(&client, &fixture).send().await.unwrap();
    let first_id = first.contact_id().unwrap();

    let related = start(&client, &fixture).related_contact_id(first_id).send().await.unwrap();
    assert!(related.continued_from_contact_id().is_none(), "only a persistent chat continues a contact");
    let described = client
        .describe_contact()
        .instance_id(&fixture.connect.instance_id)
        .contact_id(related.contact_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(described.contact().and_then(|c| c.related_contact_id()), Some(first_id));

    let persistent = PersistentChat::builder()
        .rehydration_type(RehydrationType::EntirePastSession)
        .source_contact_id(first_id)
        .build();
    let continued = start(&client, &fixture).persistent_chat(persistent.clone()).send().await.unwrap();
    assert_eq!(continued.continued_from_contact_id(), Some(first_id));
    assert_eq!(emulator.chats()[2].continued_from_contact_id.as_deref(), Some(first_id));

    let error =
        start(&client, &fixture).related_contact_id(first_id).persistent_chat(persistent).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(StartChatContactError::InvalidRequestException(_))), "{error:?}");
}

#[tokio::test]
async fn members_out_of_their_bounds_are_invalid_parameters() {
    let (emulator, client, fixture) = connect().await;
    let long_name = "n".repeat(257);
    for name in ["", long_name.as_str()] {
        let error = start(&client, &fixture).participant_details(customer(name)).send().await.unwrap_err();
        assert!(is_invalid_parameter(&error), "{}: {error:?}", name.len());
        assert_eq!(error.code(), Some("InvalidParameterException"));
    }
    let error = start(&client, &fixture).attributes("customer email", "jane@example.com").send().await.unwrap_err();
    assert!(is_invalid_parameter(&error), "{error:?}");
    // 32,768 UTF-8 bytes over all keys and values, and no more.
    let at_limit = start(&client, &fixture).attributes("big", "x".repeat(32_768 - 3)).send().await;
    assert!(at_limit.is_ok(), "{at_limit:?}");
    let error = start(&client, &fixture).attributes("big", "x".repeat(32_768 - 2)).send().await.unwrap_err();
    assert!(is_invalid_parameter(&error), "{error:?}");
    for minutes in [59, 10_081] {
        let error = start(&client, &fixture).chat_duration_in_minutes(minutes).send().await.unwrap_err();
        assert!(is_invalid_parameter(&error), "{minutes}: {error:?}");
    }
    let html = ChatMessage::builder().content_type("text/html").content("<b>hi</b>").build().unwrap();
    let error = start(&client, &fixture).initial_message(html).send().await.unwrap_err();
    assert!(is_invalid_parameter(&error), "{error:?}");
    let error = start(&client, &fixture).supported_messaging_content_types("text/markdown").send().await.unwrap_err();
    assert!(is_invalid_parameter(&error), "text/plain must be among them: {error:?}");
    assert_eq!(emulator.chats().len(), 1, "only the start at the attribute limit was recorded");

    // Required members the SDK does not check: refused on the raw wire.
    let http = reqwest::Client::new();
    let url = format!("{}/contact/chat", emulator.endpoint());
    for body in [
        serde_json::json!({"ContactFlowId": chat_flow(&fixture), "ParticipantDetails": {"DisplayName": "Jane"}}),
        serde_json::json!({"InstanceId": fixture.connect.instance_id, "ParticipantDetails": {"DisplayName": "Jane"}}),
        serde_json::json!({"InstanceId": fixture.connect.instance_id, "ContactFlowId": chat_flow(&fixture)}),
    ] {
        let answer = http.put(&url).json(&body).send().await.unwrap();
        assert_eq!(answer.status(), 400, "{body}");
        assert_eq!(answer.headers()["x-amzn-ErrorType"], "InvalidParameterException", "{body}");
    }
    let wrong_type = serde_json::json!({"InstanceId": fixture.connect.instance_id, "ContactFlowId": chat_flow(&fixture),
        "ParticipantDetails": {"DisplayName": "Jane"}, "Attributes": {"customerName": 7}});
    let answer = http.put(&url).json(&wrong_type).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    let error: serde_json::Value = answer.json().await.unwrap();
    assert!(error["Message"].as_str().is_some_and(|m| m.contains("Attributes.customerName")), "{error}");
}

#[test]
fn every_flow_in_the_repository_has_an_id_in_the_fixture() {
    let fixture = fixture();
    let root = switchboard_local::repo_root().join("contact-flows");
    let mut names = Vec::new();
    // Flows are in `contact-flows/<context>/`; files at the top (`flows.json`) describe them.
    let contexts = std::fs::read_dir(&root).unwrap().map(|entry| entry.unwrap().path()).filter(|p| p.is_dir());
    for context in contexts {
        for flow in std::fs::read_dir(context).unwrap() {
            let path = flow.unwrap().path();
            // Flows are JSON (contact-flows/prompts/ holds recordings).
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            // Modules are not flows a chat (or a hand import of flows) could name.
            if !std::fs::read_to_string(&path).unwrap().contains("EndFlowModuleExecution") {
                names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    assert!(!names.is_empty());
    for name in names {
        assert!(fixture.connect.contact_flows.contains_key(&name), "{name} has no id in local/fixture.json");
    }
    // Ids name one flow each, so StartChatContact's flow name is unambiguous.
    let mut ids: Vec<_> = fixture.connect.contact_flows.values().map(|flow| &flow.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), fixture.connect.contact_flows.len());
}

/// `UpdateContactAttributes`: on a known contact the attributes merge; an unknown contact is
/// `ResourceNotFoundException`; a bad key is `InvalidParameterException`.
#[tokio::test]
async fn contact_attributes_merge_on_a_known_contact() {
    use aws_sdk_connect::operation::update_contact_attributes::UpdateContactAttributesError;
    let (emulator, client, fixture) = connect().await;
    let chat = start(&client, &fixture).send().await.unwrap();
    let contact = chat.contact_id().unwrap().to_owned();
    let update = |pairs: &[(&str, &str)]| {
        let mut request =
            client.update_contact_attributes().instance_id(&fixture.connect.instance_id).initial_contact_id(&contact);
        for (k, v) in pairs {
            request = request.attributes(*k, *v);
        }
        request
    };
    update(&[("videoRecordingPlaybackURL", "https://agents.example.com/recording/case-1")]).send().await.unwrap();
    update(&[("note", "second")]).send().await.unwrap();
    let stored = emulator.contact_attributes(&contact);
    assert_eq!(stored["videoRecordingPlaybackURL"], "https://agents.example.com/recording/case-1");
    assert_eq!(stored["note"], "second");

    let unknown = client
        .update_contact_attributes()
        .instance_id(&fixture.connect.instance_id)
        .initial_contact_id("00000000-0000-0000-0000-000000000000")
        .attributes("a", "b")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(unknown.as_service_error(), Some(UpdateContactAttributesError::ResourceNotFoundException(_))));
    let bad = update(&[("not a key!", "x")]).send().await.unwrap_err();
    assert!(matches!(bad.as_service_error(), Some(UpdateContactAttributesError::InvalidParameterException(_))));
}
