//! The emulator's Connect flow-deployment operations through the real `aws-sdk-connect` client:
//! flows (create, describe, list with pagination and filters, content and metadata updates, tags),
//! the resources flows refer to (queues, prompts), the instance's Lambda and bot associations, the
//! service's content validation (`InvalidContactFlowException` with its problems) and errors, and
//! the count of writes tools read.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_connect::{
    config::Credentials,
    error::ProvideErrorMetadata,
    operation::{
        associate_bot::AssociateBotError, associate_lambda_function::AssociateLambdaFunctionError,
        create_contact_flow::CreateContactFlowError, describe_contact_flow::DescribeContactFlowError,
        disassociate_bot::DisassociateBotError, disassociate_lambda_function::DisassociateLambdaFunctionError,
        list_contact_flows::ListContactFlowsError, tag_resource::TagResourceError,
        update_contact_flow_content::UpdateContactFlowContentError,
        update_contact_flow_metadata::UpdateContactFlowMetadataError,
    },
    types::{
        ContactFlowState, ContactFlowStatus, ContactFlowSummary, ContactFlowType, LexV2Bot, LexVersion, QueueType,
    },
    Client,
};
use serde_json::{json, Value};
use switchboard_local::{
    emulator::{self, EmulatorHandle, LocalContactFlow},
    fixture::Fixture,
};

fn fixture() -> Fixture {
    Fixture::load(&Fixture::default_path()).expect("fixture")
}

/// The emulator alone (flow deployment needs nothing of moto) and a Connect client pointed at it.
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

fn queue_arn(fixture: &Fixture, id: &str) -> String {
    format!("{}/queue/{id}", fixture.instance_arn())
}

/// A valid flow: invokes `check-emergency`, sets the queue, transfers, and disconnects on error.
fn flow_content(fixture: &Fixture, greeting: &str) -> String {
    let queue = queue_arn(fixture, &fixture.connect.queues["BasicQueue"]);
    json!({
        "Version": "2019-10-30",
        "StartAction": "greet",
        "Metadata": {"entryPointPosition": {"x": 40, "y": 40}},
        "Actions": [
            {"Identifier": "greet", "Type": "MessageParticipant", "Parameters": {"Text": greeting},
             "Transitions": {"NextAction": "check", "Errors": [{"NextAction": "bye", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "check", "Type": "InvokeLambdaFunction",
             "Parameters": {
                 "LambdaFunctionARN": fixture.lambda_function_arn("check-emergency"),
                 "InvocationTimeLimitSeconds": "8"
             },
             "Transitions": {"NextAction": "queue", "Errors": [{"NextAction": "bye", "ErrorType": "NoMatchingError"}]}},
            {"Identifier": "queue", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": queue},
             "Transitions": {
                 "NextAction": "transfer",
                 "Errors": [{"NextAction": "bye", "ErrorType": "NoMatchingError"}]
             }},
            {"Identifier": "transfer", "Type": "TransferContactToQueue", "Parameters": {},
             "Transitions": {"NextAction": "bye", "Errors": [{"NextAction": "bye", "ErrorType": "QueueAtCapacity"}]}},
            {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
        ]
    })
    .to_string()
}

/// `flow_content` with one action's parameter replaced.
fn content_with(fixture: &Fixture, action: &str, parameter: &str, value: &str) -> String {
    let mut flow: Value = serde_json::from_str(&flow_content(fixture, "Hello")).unwrap();
    for each in flow["Actions"].as_array_mut().unwrap() {
        if each["Identifier"] == action {
            each["Parameters"][parameter] = json!(value);
        }
    }
    flow.to_string()
}

async fn create(client: &Client, fixture: &Fixture, name: &str, content: &str) -> (String, String) {
    let created = client
        .create_contact_flow()
        .instance_id(&fixture.connect.instance_id)
        .name(name)
        .r#type(ContactFlowType::ContactFlow)
        .content(content)
        .send()
        .await
        .unwrap();
    (created.contact_flow_id().unwrap().to_owned(), created.contact_flow_arn().unwrap().to_owned())
}

async fn all_flows(client: &Client, fixture: &Fixture) -> Vec<ContactFlowSummary> {
    client
        .list_contact_flows()
        .instance_id(&fixture.connect.instance_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap()
}

fn invalid_flow_problems(error: &aws_sdk_connect::error::SdkError<CreateContactFlowError>) -> Vec<String> {
    match error.as_service_error() {
        Some(CreateContactFlowError::InvalidContactFlowException(e)) => {
            e.problems().iter().map(|p| p.message().unwrap_or_default().to_owned()).collect()
        }
        _ => panic!("not an InvalidContactFlowException: {error:?}"),
    }
}

#[tokio::test]
async fn a_created_flow_describes_as_it_was_created() {
    let (emulator, client, fixture) = connect().await;
    let content = flow_content(&fixture, "Welcome to the emergency line");
    let created = client
        .create_contact_flow()
        .instance_id(&fixture.connect.instance_id)
        .name("Emergency_Authentication_v2")
        .r#type(ContactFlowType::CustomerQueue)
        .description("Deployed by provision-flows")
        .content(&content)
        .tags("switchboard:managed", "true")
        .tags("switchboard:sha256", "abc123")
        .send()
        .await
        .unwrap();
    let id = created.contact_flow_id().unwrap();
    assert!(uuid::Uuid::try_parse(id).is_ok());
    assert_eq!(created.contact_flow_arn(), Some(format!("{}/contact-flow/{id}", fixture.instance_arn()).as_str()));

    let described = client
        .describe_contact_flow()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(id)
        .send()
        .await
        .unwrap();
    let flow = described.contact_flow().unwrap();
    assert_eq!(flow.id(), Some(id));
    assert_eq!(flow.arn(), created.contact_flow_arn());
    assert_eq!(flow.name(), Some("Emergency_Authentication_v2"));
    assert_eq!(flow.r#type(), Some(&ContactFlowType::CustomerQueue));
    assert_eq!(flow.state(), Some(&ContactFlowState::Active));
    assert_eq!(flow.status(), Some(&ContactFlowStatus::Published));
    assert_eq!(flow.description(), Some("Deployed by provision-flows"));
    assert_eq!(flow.content(), Some(content.as_str()), "content is stored verbatim");
    let tags = flow.tags().unwrap();
    assert_eq!(tags.len(), 2);
    assert_eq!(tags["switchboard:managed"], "true");
    assert!(flow.last_modified_time().is_some());

    let stored: Vec<LocalContactFlow> = emulator.contact_flows();
    let local = stored.iter().find(|f| f.id == id).unwrap();
    assert_eq!(
        (local.name.as_str(), local.kind.as_str(), local.content.as_str()),
        (flow.name().unwrap(), "CUSTOMER_QUEUE", content.as_str())
    );
    assert_eq!(local.tags.get("switchboard:sha256").map(String::as_str), Some("abc123"));

    // The fixture's flows are there from the start, with a minimal valid content and no tags.
    let seeded = stored.iter().find(|f| f.name == "VideoCallEscalationQueue").unwrap();
    assert_eq!(
        (seeded.id.as_str(), seeded.kind.as_str()),
        (fixture.connect.contact_flows["VideoCallEscalationQueue"].id.as_str(), "CUSTOMER_QUEUE")
    );
    assert!(seeded.tags.is_empty());
    let seeded_content: Value = serde_json::from_str(&seeded.content).unwrap();
    assert_eq!(seeded_content["Version"], "2019-10-30");
    assert!(!stored.iter().any(|f| f.name == "Emergency_Update_Placeholder"));

    let error = client
        .describe_contact_flow()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id("00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error.as_service_error(), Some(DescribeContactFlowError::ResourceNotFoundException(_))),
        "{error:?}"
    );
    let error = client
        .describe_contact_flow()
        .instance_id("00000000-0000-4000-8000-000000000000")
        .contact_flow_id(id)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error.as_service_error(), Some(DescribeContactFlowError::ResourceNotFoundException(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn flows_list_in_pages_of_the_fixture_page_size_and_filter_by_type() {
    let (_emulator, client, fixture) = connect().await;
    assert_eq!(fixture.connect.page_size, 2);
    let (created_id, _) = create(&client, &fixture, "Listed", &flow_content(&fixture, "Hi")).await;

    let first = client.list_contact_flows().instance_id(&fixture.connect.instance_id).send().await.unwrap();
    assert_eq!(first.contact_flow_summary_list().len(), 2, "a page holds at most pageSize flows");
    assert!(first.next_token().is_some());
    let one =
        client.list_contact_flows().instance_id(&fixture.connect.instance_id).max_results(1).send().await.unwrap();
    assert_eq!(one.contact_flow_summary_list().len(), 1);

    let flows = all_flows(&client, &fixture).await;
    assert_eq!(flows.len(), fixture.connect.contact_flows.len() + 1, "the paginator reaches every flow");
    let mut ids: Vec<&str> = flows.iter().filter_map(|f| f.id()).collect();
    ids.dedup();
    assert_eq!(ids.len(), flows.len(), "no flow is listed twice");
    let listed = flows.iter().find(|f| f.id() == Some(created_id.as_str())).unwrap();
    assert_eq!(listed.name(), Some("Listed"));
    assert_eq!(listed.contact_flow_type(), Some(&ContactFlowType::ContactFlow));
    assert_eq!(listed.contact_flow_state(), Some(&ContactFlowState::Active));
    assert_eq!(listed.contact_flow_status(), Some(&ContactFlowStatus::Published));
    assert_eq!(listed.arn(), Some(format!("{}/contact-flow/{created_id}", fixture.instance_arn()).as_str()));

    let queue_flows: Vec<ContactFlowSummary> = client
        .list_contact_flows()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_types(ContactFlowType::CustomerQueue)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(queue_flows.iter().filter_map(|f| f.name()).collect::<Vec<_>>(), ["VideoCallEscalationQueue"]);
    let both: Vec<ContactFlowSummary> = client
        .list_contact_flows()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_types(ContactFlowType::CustomerQueue)
        .contact_flow_types(ContactFlowType::ContactFlow)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    // Every flow but the example's whisper and queue-transfer flows.
    let other_types = ["AGENT_WHISPER", "QUEUE_TRANSFER"];
    let of_both =
        flows.iter().filter(|f| !f.contact_flow_type().is_some_and(|t| other_types.contains(&t.as_str()))).count();
    assert_eq!(both.len(), of_both, "several types filter by any of them");
    assert!(of_both < flows.len());

    let error = client
        .list_contact_flows()
        .instance_id(&fixture.connect.instance_id)
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error.as_service_error(), Some(ListContactFlowsError::InvalidParameterException(_))), "{error:?}");
    let error = client
        .list_contact_flows()
        .instance_id(&fixture.connect.instance_id)
        .max_results(1001)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error.as_service_error(), Some(ListContactFlowsError::InvalidParameterException(_))), "{error:?}");
}

#[tokio::test]
async fn a_taken_name_is_a_duplicate_resource() {
    let (_emulator, client, fixture) = connect().await;
    let error = client
        .create_contact_flow()
        .instance_id(&fixture.connect.instance_id)
        .name("Emergency_Authentication")
        .r#type(ContactFlowType::ContactFlow)
        .content(flow_content(&fixture, "Hi"))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error.as_service_error(), Some(CreateContactFlowError::DuplicateResourceException(_))),
        "{error:?}"
    );
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(409));

    let (id, _) = create(&client, &fixture, "Renamed later", &flow_content(&fixture, "Hi")).await;
    let error = client
        .update_contact_flow_metadata()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(&id)
        .name("Emergency_Demo")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error.as_service_error(), Some(UpdateContactFlowMetadataError::DuplicateResourceException(_))),
        "{error:?}"
    );
    // Keeping its own name is no conflict.
    client
        .update_contact_flow_metadata()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(&id)
        .name("Renamed later")
        .send()
        .await
        .unwrap();
}

/// A module's metadata: its own state field, its own kind only, and names unique among modules.
#[tokio::test]
async fn a_modules_metadata_is_updated_only_through_the_module_call() {
    use aws_sdk_connect::{
        operation::update_contact_flow_module_metadata::UpdateContactFlowModuleMetadataError as E,
        types::ContactFlowModuleState,
    };
    let (emulator, client, fixture) = connect().await;
    let instance = &fixture.connect.instance_id;
    let content = json!({
        "Version": "2019-10-30", "StartAction": "end", "Metadata": {},
        "Actions": [{"Identifier": "end", "Type": "EndFlowModuleExecution", "Parameters": {}, "Transitions": {}}]
    })
    .to_string();
    let mut ids = Vec::new();
    for name in ["Module_A", "Module_B"] {
        let created = client.create_contact_flow_module().instance_id(instance).name(name).content(&content).send();
        ids.push(created.await.unwrap().id.unwrap());
    }
    let update = || client.update_contact_flow_module_metadata().instance_id(instance);
    update()
        .contact_flow_module_id(&ids[0])
        .state(ContactFlowModuleState::Archived)
        .name("Module_C")
        .send()
        .await
        .unwrap();
    let module_a = emulator.contact_flows().into_iter().find(|f| f.id == ids[0]).unwrap();
    assert_eq!((module_a.name.as_str(), module_a.state.as_str()), ("Module_C", "ARCHIVED"));

    let taken = update().contact_flow_module_id(&ids[1]).name("Module_C").send().await.unwrap_err();
    assert!(matches!(taken.as_service_error(), Some(E::DuplicateResourceException(_))), "{taken:?}");
    // A flow's name is not a module's.
    update().contact_flow_module_id(&ids[1]).name("Emergency_Demo").send().await.unwrap();
    let (flow_id, _) = create(&client, &fixture, "A flow", &flow_content(&fixture, "Hi")).await;
    let not_a_module = update().contact_flow_module_id(&flow_id).state(ContactFlowModuleState::Archived).send().await;
    let not_a_module = not_a_module.unwrap_err();
    assert!(matches!(not_a_module.as_service_error(), Some(E::ResourceNotFoundException(_))), "{not_a_module:?}");
    let bad_state =
        update().contact_flow_module_id(&ids[1]).state(ContactFlowModuleState::from("DELETED")).send().await;
    let bad_state = bad_state.unwrap_err();
    assert!(matches!(bad_state.as_service_error(), Some(E::InvalidParameterException(_))), "{bad_state:?}");
}

#[tokio::test]
async fn unresolved_placeholders_are_an_invalid_contact_flow_with_its_problems() {
    let (emulator, client, fixture) = connect().await;
    let content = content_with(&fixture, "queue", "QueueId", "{{queue:BasicQueue}}");
    let error = client
        .create_contact_flow()
        .instance_id(&fixture.connect.instance_id)
        .name("Placeholders")
        .r#type(ContactFlowType::ContactFlow)
        .content(content)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("InvalidContactFlowException"));
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(400));
    let problems = invalid_flow_problems(&error);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("queue") && problems[0].contains("QueueId"),
        "names the action and parameter: {problems:?}"
    );
    assert!(!emulator.contact_flows().iter().any(|f| f.name == "Placeholders"), "a refused flow is not stored");
}

#[tokio::test]
async fn an_unassociated_lambda_or_unknown_resource_is_an_invalid_contact_flow() {
    let (_emulator, client, fixture) = connect().await;
    let attempt = |content: String| {
        client
            .create_contact_flow()
            .instance_id(&fixture.connect.instance_id)
            .name("Invalid")
            .r#type(ContactFlowType::ContactFlow)
            .content(content)
            .send()
    };
    let unassociated = fixture.lambda_function_arn("not-associated");
    let problems = invalid_flow_problems(
        &attempt(content_with(&fixture, "check", "LambdaFunctionARN", &unassociated)).await.unwrap_err(),
    );
    assert!(problems.iter().any(|p| p.contains("check") && p.contains("LambdaFunctionARN")), "{problems:?}");

    let unknown_queue = queue_arn(&fixture, "99999999-0000-0000-0000-000000000000");
    let problems =
        invalid_flow_problems(&attempt(content_with(&fixture, "queue", "QueueId", &unknown_queue)).await.unwrap_err());
    assert!(
        problems.iter().any(|p| p.contains("queue") && p.contains("QueueId") && p.contains("99999999")),
        "{problems:?}"
    );

    let unknown_flow = format!("{}/contact-flow/99999999-0000-4000-8000-000000000000", fixture.instance_arn());
    let problems = invalid_flow_problems(
        &attempt(content_with(&fixture, "transfer", "ContactFlowId", &unknown_flow)).await.unwrap_err(),
    );
    assert!(problems.iter().any(|p| p.contains("transfer") && p.contains("ContactFlowId")), "{problems:?}");

    let unknown_prompt = format!("{}/prompt/99999999-0000-4000-8000-000000000000", fixture.instance_arn());
    let problems = invalid_flow_problems(
        &attempt(content_with(&fixture, "greet", "PromptId", &unknown_prompt)).await.unwrap_err(),
    );
    assert!(problems.iter().any(|p| p.contains("greet") && p.contains("PromptId")), "{problems:?}");

    for broken in
        ["not json".to_owned(), json!({"Version": "2019-10-30", "Actions": []}).to_string(), "x".repeat(256_001)]
    {
        let problems = invalid_flow_problems(&attempt(broken).await.unwrap_err());
        assert!(!problems.is_empty());
    }
    // The fixture's own resources and `$.` values pass.
    let known_prompt = format!("{}/prompt/{}", fixture.instance_arn(), fixture.connect.prompts["Beep.wav"]);
    let known_flow =
        format!("{}/contact-flow/{}", fixture.instance_arn(), fixture.connect.contact_flows["Emergency_Update"].id);
    let mut flow: Value = serde_json::from_str(&content_with(&fixture, "greet", "PromptId", &known_prompt)).unwrap();
    flow["Actions"][3]["Parameters"]["ContactFlowId"] = json!(known_flow);
    flow["Actions"][1]["Parameters"]["LambdaFunctionARN"] = json!("$.Attributes.function");
    attempt(flow.to_string()).await.unwrap();
}

#[tokio::test]
async fn content_and_metadata_updates_show_in_describe_and_list() {
    let (emulator, client, fixture) = connect().await;
    let (id, _) = create(&client, &fixture, "Updated", &flow_content(&fixture, "Version one")).await;
    let v2 = flow_content(&fixture, "Version two");
    client
        .update_contact_flow_content()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(&id)
        .content(&v2)
        .send()
        .await
        .unwrap();
    let described = client
        .describe_contact_flow()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.contact_flow().and_then(|f| f.content()), Some(v2.as_str()));
    assert_eq!(emulator.contact_flows().iter().find(|f| f.id == id).map(|f| f.version), Some(2));

    let error = client
        .update_contact_flow_content()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(&id)
        .content(content_with(&fixture, "greet", "Text", "Hi {{name}}"))
        .send()
        .await
        .unwrap_err();
    match error.as_service_error() {
        Some(UpdateContactFlowContentError::InvalidContactFlowException(e)) => assert!(!e.problems().is_empty()),
        _ => panic!("{error:?}"),
    }
    let error = client
        .update_contact_flow_content()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id("00000000-0000-4000-8000-000000000000")
        .content(&v2)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error.as_service_error(), Some(UpdateContactFlowContentError::ResourceNotFoundException(_))),
        "{error:?}"
    );

    client
        .update_contact_flow_metadata()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(&id)
        .name("Updated and archived")
        .description("No longer used")
        .contact_flow_state(ContactFlowState::Archived)
        .send()
        .await
        .unwrap();
    let described = client
        .describe_contact_flow()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(&id)
        .send()
        .await
        .unwrap();
    let flow = described.contact_flow().unwrap();
    assert_eq!(flow.state(), Some(&ContactFlowState::Archived));
    assert_eq!(flow.name(), Some("Updated and archived"));
    assert_eq!(flow.description(), Some("No longer used"));
    assert_eq!(flow.content(), Some(v2.as_str()), "metadata leaves the content alone");
    let listed = all_flows(&client, &fixture).await;
    let listed = listed.iter().find(|f| f.id() == Some(id.as_str())).unwrap();
    assert_eq!(listed.contact_flow_state(), Some(&ContactFlowState::Archived));
    assert_eq!(listed.name(), Some("Updated and archived"));

    let raw = reqwest::Client::new()
        .post(format!("{}/contact-flows/{}/{id}/metadata", emulator.endpoint(), fixture.connect.instance_id))
        .json(&json!({"ContactFlowState": "DELETED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(raw.headers()["x-amzn-ErrorType"], "InvalidParameterException");
}

#[tokio::test]
async fn tags_merge_into_a_flow_and_are_validated() {
    let (_emulator, client, fixture) = connect().await;
    let (id, arn) = create(&client, &fixture, "Tagged", &flow_content(&fixture, "Hi")).await;
    client.tag_resource().resource_arn(&arn).tags("switchboard:managed", "true").send().await.unwrap();
    client.tag_resource().resource_arn(&arn).tags("team", "emergency").send().await.unwrap();
    let described = client
        .describe_contact_flow()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(&id)
        .send()
        .await
        .unwrap();
    let tags = described.contact_flow().and_then(|f| f.tags()).unwrap();
    assert_eq!((tags.len(), tags["switchboard:managed"].as_str(), tags["team"].as_str()), (2, "true", "emergency"));

    let error =
        client.tag_resource().resource_arn(&arn).tags("aws:cloudformation:stack-name", "x").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(TagResourceError::InvalidParameterException(_))), "{error:?}");
    let error = client.tag_resource().resource_arn(&arn).tags("k".repeat(129), "x").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(TagResourceError::InvalidParameterException(_))), "{error:?}");
    let error = client.tag_resource().resource_arn(&arn).tags("long", "v".repeat(257)).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(TagResourceError::InvalidParameterException(_))), "{error:?}");
    let unknown = format!("{}/contact-flow/00000000-0000-4000-8000-000000000000", fixture.instance_arn());
    let error = client.tag_resource().resource_arn(unknown).tags("team", "x").send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(TagResourceError::ResourceNotFoundException(_))), "{error:?}");
}

#[tokio::test]
async fn queues_and_prompts_list_from_the_fixture() {
    let (_emulator, client, fixture) = connect().await;
    let all: Vec<_> = client
        .list_queues()
        .instance_id(&fixture.connect.instance_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), fixture.connect.queues.len() + fixture.connect.users.len(), "standard and agent queues");
    assert!(all.iter().filter(|q| q.queue_type() == Some(&QueueType::Agent)).all(|q| q.name().is_none()));
    let page = client.list_queues().instance_id(&fixture.connect.instance_id).send().await.unwrap();
    assert!(page.queue_summary_list().len() <= 2);

    let standard: Vec<_> = client
        .list_queues()
        .instance_id(&fixture.connect.instance_id)
        .queue_types(QueueType::Standard)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    let basic = &fixture.connect.queues["BasicQueue"];
    assert_eq!(standard.len(), fixture.connect.queues.len());
    assert_eq!(standard[0].name(), Some("BasicQueue"));
    assert_eq!(standard[0].id(), Some(basic.as_str()));
    assert_eq!(standard[0].arn(), Some(queue_arn(&fixture, basic).as_str()));
    assert_eq!(standard[0].queue_type(), Some(&QueueType::Standard));
    assert!(standard[0].last_modified_time().is_some());

    let prompts: Vec<_> = client
        .list_prompts()
        .instance_id(&fixture.connect.instance_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    let names: Vec<_> = prompts.iter().filter_map(|p| p.name()).collect();
    assert_eq!(names, fixture.connect.prompts.keys().map(String::as_str).collect::<Vec<_>>());
    let beep = prompts.iter().find(|p| p.name() == Some("Beep.wav")).unwrap();
    let beep_id = &fixture.connect.prompts["Beep.wav"];
    assert_eq!(beep.id(), Some(beep_id.as_str()));
    assert_eq!(beep.arn(), Some(format!("{}/prompt/{beep_id}", fixture.instance_arn()).as_str()));
    let first = client.list_prompts().instance_id(&fixture.connect.instance_id).send().await.unwrap();
    assert_eq!(first.prompt_summary_list().len(), 2);
    assert!(first.next_token().is_some());
}

#[tokio::test]
async fn lambda_functions_associate_list_and_disassociate() {
    let (emulator, client, fixture) = connect().await;
    let list = || async {
        client
            .list_lambda_functions()
            .instance_id(&fixture.connect.instance_id)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .unwrap()
    };
    let expected: Vec<String> =
        ["assign-id", "check-emergency", "flow-resource-map", "one-time-pin", "update-emergency", "verify-pin"]
            .iter()
            .map(|name| format!("arn:aws:lambda:{}:{}:function:{name}", fixture.region, fixture.account_id))
            .collect();
    assert_eq!(fixture.lambda_function_arns(), expected);
    assert_eq!(list().await, expected);
    let page = client.list_lambda_functions().instance_id(&fixture.connect.instance_id).send().await.unwrap();
    assert_eq!(page.lambda_functions().len(), 2);
    assert!(page.next_token().is_some());

    let extra = fixture.lambda_function_arn("provision-flows");
    client
        .associate_lambda_function()
        .instance_id(&fixture.connect.instance_id)
        .function_arn(&extra)
        .send()
        .await
        .unwrap();
    assert!(list().await.contains(&extra));
    assert!(emulator.associated_lambda_functions().contains(&extra));
    let error = client
        .associate_lambda_function()
        .instance_id(&fixture.connect.instance_id)
        .function_arn(&extra)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error.as_service_error(), Some(AssociateLambdaFunctionError::ResourceConflictException(_))),
        "{error:?}"
    );
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(409));
    let error = client
        .associate_lambda_function()
        .instance_id(&fixture.connect.instance_id)
        .function_arn("provision-flows")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error.as_service_error(), Some(AssociateLambdaFunctionError::InvalidParameterException(_))),
        "{error:?}"
    );

    client
        .disassociate_lambda_function()
        .instance_id(&fixture.connect.instance_id)
        .function_arn(&extra)
        .send()
        .await
        .unwrap();
    assert_eq!(list().await, expected);
    let error = client
        .disassociate_lambda_function()
        .instance_id(&fixture.connect.instance_id)
        .function_arn(&extra)
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(error.as_service_error(), Some(DisassociateLambdaFunctionError::ResourceNotFoundException(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn bots_associate_list_and_disassociate() {
    let (emulator, client, fixture) = connect().await;
    let aliases = || async {
        let bots: Vec<_> = client
            .list_bots()
            .instance_id(&fixture.connect.instance_id)
            .lex_version(LexVersion::V2)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        bots.iter().filter_map(|b| b.lex_v2_bot().and_then(|b| b.alias_arn()).map(str::to_owned)).collect::<Vec<_>>()
    };
    assert_eq!(aliases().await, fixture.connect.bots);
    let v1 =
        client.list_bots().instance_id(&fixture.connect.instance_id).lex_version(LexVersion::V1).send().await.unwrap();
    assert!(v1.lex_bots().is_empty());

    let alias = format!("arn:aws:lex:{}:{}:bot-alias/EMERGENCY1/ALIAS00001", fixture.region, fixture.account_id);
    let bot = LexV2Bot::builder().alias_arn(&alias).build();
    client.associate_bot().instance_id(&fixture.connect.instance_id).lex_v2_bot(bot.clone()).send().await.unwrap();
    assert!(aliases().await.contains(&alias));
    let error = client
        .associate_bot()
        .instance_id(&fixture.connect.instance_id)
        .lex_v2_bot(bot.clone())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error.as_service_error(), Some(AssociateBotError::ResourceConflictException(_))), "{error:?}");
    let error = client
        .associate_bot()
        .instance_id(&fixture.connect.instance_id)
        .lex_v2_bot(LexV2Bot::builder().alias_arn("not-an-alias").build())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error.as_service_error(), Some(AssociateBotError::InvalidRequestException(_))), "{error:?}");

    client.disassociate_bot().instance_id(&fixture.connect.instance_id).lex_v2_bot(bot.clone()).send().await.unwrap();
    assert_eq!(aliases().await, fixture.connect.bots);
    let error =
        client.disassociate_bot().instance_id(&fixture.connect.instance_id).lex_v2_bot(bot).send().await.unwrap_err();
    assert!(matches!(error.as_service_error(), Some(DisassociateBotError::ResourceNotFoundException(_))), "{error:?}");

    // lexVersion is required.
    let raw =
        reqwest::get(format!("{}/instance/{}/bots", emulator.endpoint(), fixture.connect.instance_id)).await.unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(raw.headers()["x-amzn-ErrorType"], "InvalidRequestException");
}

#[tokio::test]
async fn writes_are_counted_and_reads_are_not() {
    let (emulator, client, fixture) = connect().await;
    let instance = fixture.connect.instance_id.as_str();
    assert_eq!(emulator.connect_writes(), 0);
    all_flows(&client, &fixture).await;
    client.list_queues().instance_id(instance).send().await.unwrap();
    client.list_prompts().instance_id(instance).send().await.unwrap();
    client.list_lambda_functions().instance_id(instance).send().await.unwrap();
    client.list_bots().instance_id(instance).lex_version(LexVersion::V2).send().await.unwrap();
    let seeded = &fixture.connect.contact_flows["Emergency_Demo"].id;
    client.describe_contact_flow().instance_id(instance).contact_flow_id(seeded).send().await.unwrap();
    assert_eq!(emulator.connect_writes(), 0, "reads write nothing");

    let (id, arn) = create(&client, &fixture, "Counted", &flow_content(&fixture, "Hi")).await;
    client
        .update_contact_flow_content()
        .instance_id(instance)
        .contact_flow_id(&id)
        .content(flow_content(&fixture, "Hey"))
        .send()
        .await
        .unwrap();
    client
        .update_contact_flow_metadata()
        .instance_id(instance)
        .contact_flow_id(&id)
        .description("d")
        .send()
        .await
        .unwrap();
    client.tag_resource().resource_arn(&arn).tags("a", "b").send().await.unwrap();
    let function = fixture.lambda_function_arn("extra");
    client.associate_lambda_function().instance_id(instance).function_arn(&function).send().await.unwrap();
    client.disassociate_lambda_function().instance_id(instance).function_arn(&function).send().await.unwrap();
    let alias = format!("arn:aws:lex:{}:{}:bot-alias/COUNTED001/TSTALIASID", fixture.region, fixture.account_id);
    let bot = LexV2Bot::builder().alias_arn(alias).build();
    client.associate_bot().instance_id(instance).lex_v2_bot(bot.clone()).send().await.unwrap();
    client.disassociate_bot().instance_id(instance).lex_v2_bot(bot).send().await.unwrap();
    assert_eq!(emulator.connect_writes(), 8);

    // A refused write is no write.
    let error = client.tag_resource().resource_arn(&arn).tags("aws:x", "b").send().await;
    assert!(error.is_err());
    assert_eq!(emulator.connect_writes(), 8);

    let local: Value =
        reqwest::get(format!("{}/_local/contact-flows", emulator.endpoint())).await.unwrap().json().await.unwrap();
    assert_eq!(local["writes"], 8);
    let flows: Vec<LocalContactFlow> = serde_json::from_value(local["flows"].clone()).unwrap();
    assert_eq!(flows, emulator.contact_flows());
    assert!(flows.iter().any(|f| f.id == id && f.tags.get("a").map(String::as_str) == Some("b")));
}

#[tokio::test]
async fn a_chat_starts_on_a_created_flow() {
    let (emulator, client, fixture) = connect().await;
    let (id, _) = create(&client, &fixture, "Chat_Created", &flow_content(&fixture, "Hi")).await;
    let participant = aws_sdk_connect::types::ParticipantDetails::builder().display_name("Jane").build().unwrap();
    client
        .start_chat_contact()
        .instance_id(&fixture.connect.instance_id)
        .contact_flow_id(&id)
        .participant_details(participant)
        .send()
        .await
        .unwrap();
    let chats = emulator.chats();
    assert_eq!(chats.len(), 1);
    assert_eq!((chats[0].contact_flow_id.as_str(), chats[0].contact_flow_name.as_str()), (id.as_str(), "Chat_Created"));
}

/// `text` with each `{{kind:name}}` replaced by what `resolve` answers for it.
fn resolve_placeholders(text: &str, resolve: impl Fn(&str, &str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let end = rest[start..].find("}}").map(|e| start + e).expect("a closed placeholder");
        let (kind, name) = rest[start + 2..end].split_once(':').expect("kind:name");
        out.push_str(&rest[..start]);
        out.push_str(&resolve(kind, name));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn the_repository_flows_are_refused_with_placeholders_and_accepted_resolved() {
    let (_emulator, client, fixture) = connect().await;
    let root = switchboard_local::repo_root().join("contact-flows");
    let mut checked = 0;
    for context in std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        for path in std::fs::read_dir(context).unwrap().map(|e| e.unwrap().path()) {
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            // Modules are created as modules (provision-flows' tests), not as flows.
            if text.contains("EndFlowModuleExecution") {
                continue;
            }
            let attempt = |content: String| {
                client
                    .create_contact_flow()
                    .instance_id(&fixture.connect.instance_id)
                    .name(format!("{name}_deployed"))
                    .r#type(ContactFlowType::from(fixture.connect.contact_flows[&name].kind.as_str()))
                    .content(content)
                    .send()
            };
            if text.contains("{{") {
                let problems = invalid_flow_problems(&attempt(text.clone()).await.unwrap_err());
                assert!(problems.iter().all(|p| p.contains("placeholder")), "{name}: {problems:?}");
            }
            let resolved = resolve_placeholders(&text, |kind, target| match kind {
                "lambda" => fixture.lambda_function_arn(target),
                "queue" => queue_arn(&fixture, &fixture.connect.queues[target]),
                "flow" => {
                    format!("{}/contact-flow/{}", fixture.instance_arn(), fixture.connect.contact_flows[target].id)
                }
                _ => "false".to_owned(),
            });
            let created = attempt(resolved).await;
            assert!(created.is_ok(), "{name}: {created:?}");
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked} flows");
}
