//! The contact centre as code, end to end: the local instance built from template.yaml (a queue
//! added there is a queue of the instance), the workshop-style example deployed by
//! `provision-flows` and played by its number (the bot's intent routes the call; out of hours takes
//! the closed branch), and the runner playing every action type of the flow language.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use switchboard_fleet_tests::Fleet;
use switchboard_local::{
    cloud::PROVISION_FLOWS_FUNCTION,
    fixture::Fixture,
    flow::{action_types, Call, Ending, FlowLibrary, Runner, Step, Transcript, MODELLED_ACTIONS},
    instance::local_id,
    lambda_host::InvokeClient,
    repo_root,
};

const CALLER: &str = "+61412000111";
/// The example's number locally (template.yaml: ExampleNumber's LocalNumber).
const EXAMPLE_NUMBER: &str = "+61255503000";

fn at(rfc3339: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&chrono::Utc)
}

async fn play(runner: &Runner, call: Call) -> Transcript {
    let transcript = runner.play(call).await.expect("the flow runs");
    println!("{transcript}");
    transcript
}

#[tokio::test]
async fn a_queue_and_a_module_added_to_the_template_are_on_the_local_instance_with_no_fixture_edit() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let anchor = "\n  SupportQueue:\n";
    assert_eq!(template.matches(anchor).count(), 1);
    let added = "\n  ClaimsQueue:\n    Type: AWS::Connect::Queue\n    Properties:\n      InstanceArn: !GetAtt ConnectInstance.Arn\n      Name: ClaimsQueue\n      HoursOfOperationArn: !GetAtt BusinessHours.HoursOfOperationArn\n  ClosingModule:\n    Type: AWS::Connect::ContactFlowModule\n    Properties:\n      InstanceArn: !GetAtt ConnectInstance.Arn\n      Name: Closing\n      Content: '{\"Version\": \"2019-10-30\", \"StartAction\": \"end\", \"Actions\": [{\"Identifier\": \"end\", \"Type\": \"EndFlowModuleExecution\", \"Parameters\": {}, \"Transitions\": {}}]}'\n";
    let dir = std::env::temp_dir().join(format!("switchboard-template-copy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("template.yaml");
    std::fs::write(&copy, template.replacen(anchor, &format!("{added}{anchor}"), 1)).unwrap();
    let fixture = Fixture::load_with_template(&Fixture::default_path(), &copy).unwrap();
    let fleet = Fleet::start_with(fixture, BTreeMap::new()).await;

    let connect = fleet.connect_client().await;
    let queues: Vec<_> = connect
        .list_queues()
        .instance_id(&fleet.cloud.fixture.connect.instance_id)
        .queue_types(aws_sdk_connect::types::QueueType::Standard)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let names: Vec<&str> = queues.iter().filter_map(|q| q.name()).collect();
    for expected in ["BasicQueue", "BillingQueue", "SupportQueue", "ClaimsQueue"] {
        assert!(names.contains(&expected), "{expected} is not on the instance: {names:?}");
    }
    let claims = queues.iter().find(|q| q.name() == Some("ClaimsQueue")).unwrap();
    assert_eq!(claims.id(), Some(local_id("queue", "ClaimsQueue").as_str()), "a stable id");
    // A declared module is the instance's module, as CloudFormation would leave it.
    let modules =
        connect.list_contact_flow_modules().instance_id(&fleet.cloud.fixture.connect.instance_id).send().await.unwrap();
    let names: Vec<&str> = modules.contact_flow_modules_summary_list().iter().filter_map(|m| m.name()).collect();
    assert_eq!(names, ["Closing"]);
    // And the queue keeps its hours: the declared Business Hours.
    assert_eq!(fleet.cloud.fixture.connect.declared.queue_hours("ClaimsQueue").unwrap().name, "Business Hours");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_example_answers_its_number_asks_the_bot_and_routes_by_intent_within_the_declared_hours() {
    let mut fixture = Fixture::load(&Fixture::default_path()).unwrap();
    fixture.connect.contact_flows.clear();
    let fleet = Fleet::start_with(fixture, BTreeMap::new()).await;
    // Deployed as `sam deploy` would: every flow, {{bot:CustomerService}} the template's bot.
    let lambda = InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    let apply = lambda.invoke(PROVISION_FLOWS_FUNCTION, &json!({"mode": "apply"})).await.unwrap();
    assert_eq!(apply["result"], "APPLIED", "{apply}");
    let deployed = fleet.cloud.emulator.contact_flows();
    let main = deployed.iter().find(|f| f.name == "Example_Main").unwrap();
    // The greeting is a module, deployed as one, which the main flow invokes by its ARN.
    let greeting = deployed.iter().find(|f| f.name == "Example_Greeting").unwrap().clone();
    assert!(greeting.kind == "MODULE" && greeting.arn.contains("/flow-module/"), "{greeting:?}");
    assert!(main.content.contains(&greeting.arn));
    let bot = &fleet.cloud.fixture.connect.declared.bots["CustomerService"];
    assert!(main.content.contains(&bot.alias_arn), "the bot's alias ARN is in the deployed flow");
    // The apply pointed the template's numbers at their flows (FLOW_PHONE_NUMBERS, as the pipeline's).
    let numbers = fleet.cloud.emulator.phone_number_flows();
    assert_eq!(numbers[EXAMPLE_NUMBER].as_deref(), Some("Example_Main"), "{numbers:?}");
    assert_eq!(numbers["+61255502000"].as_deref(), Some("IdContact_Inbound"));

    let runner = Runner::new(FlowLibrary::repository(), fleet.runner.services.clone()).playing_deployed();
    // Monday 7 December 2026, 10:00 in Sydney (AEDT, UTC+11): open.
    let monday_morning = at("2026-12-07T10:00:00+11:00");
    let billing = Call::voice("", CALLER, EXAMPLE_NUMBER).saying(["I have a billing question"]).at(monday_morning);
    let transcript = play(&runner, billing).await;
    assert_eq!(transcript.steps[0], Step::Flow { name: "Example_Main".into() }, "the number starts its flow");
    assert!(transcript.heard("Welcome to Switchboard."), "the SSML greeting, as words");
    // The chime before it: the declared prompt, its deployed ARN read back as its name.
    assert!(transcript.heard("[prompt Switchboard_Chime]"), "the recorded prompt");
    let flows: Vec<&Step> = transcript.steps.iter().filter(|s| matches!(s, Step::Flow { .. })).collect();
    assert_eq!(
        flows,
        [
            &Step::Flow { name: "Example_Main".into() },
            &Step::Flow { name: "Example_Greeting".into() },
            &Step::Flow { name: "Example_Main".into() }
        ],
        "into the module and back"
    );
    assert!(transcript.steps.iter().any(|s| matches!(s, Step::Lex { intent: Some(i), .. } if i == "Billing")));
    assert!(transcript.steps.contains(&Step::Hours {
        hours: "Business Hours".into(),
        at: monday_morning.to_rfc3339(),
        open: true
    }));
    assert!(transcript
        .steps
        .contains(&Step::EventHook { hook: "AgentWhisper".into(), flow: "Example_BillingWhisper".into() }));
    assert_eq!(transcript.ending, Some(Ending::Queued { queue: "BillingQueue".into() }));

    let support = Call::voice("", CALLER, EXAMPLE_NUMBER).saying(["my internet is down"]).at(monday_morning);
    assert_eq!(play(&runner, support).await.ending, Some(Ending::Queued { queue: "SupportQueue".into() }));
    // Words no intent has: the fallback, which the flow sends to support.
    let unclear = Call::voice("", CALLER, EXAMPLE_NUMBER).saying(["what is the weather"]).at(monday_morning);
    assert_eq!(play(&runner, unclear).await.ending, Some(Ending::Queued { queue: "SupportQueue".into() }));

    // Saturday, and Monday 18:00 (the end is closed): the closed branch.
    for closed in ["2026-12-12T11:00:00+11:00", "2026-12-07T18:00:00+11:00"] {
        let call = Call::voice("", CALLER, EXAMPLE_NUMBER).saying(["I have a billing question"]).at(at(closed));
        let transcript = play(&runner, call).await;
        assert!(transcript.heard("We are closed"), "{closed}");
        assert_eq!(transcript.ending, Some(Ending::Disconnected), "{closed}");
    }
    // Silence: the bot's InputTimeLimitExceeded branch, to support.
    let silent = Call::voice("", CALLER, EXAMPLE_NUMBER).at(monday_morning);
    let transcript = play(&runner, silent).await;
    assert!(transcript.steps.iter().any(|s| matches!(s, Step::Lex { said: None, .. })));
    assert_eq!(transcript.ending, Some(Ending::Queued { queue: "SupportQueue".into() }));

    // A changed module is updated in place (as a module), and the call hears the new greeting.
    let mut tree = switchboard_local::flows::working_tree().unwrap();
    let path = "contact-flows/example/Example_Greeting.json";
    let changed = tree[path].replace("Welcome to Switchboard.", "Welcome back to Switchboard.");
    tree.insert(path.into(), changed);
    let update = lambda.invoke(PROVISION_FLOWS_FUNCTION, &json!({"mode": "apply", "flows": tree})).await.unwrap();
    assert_eq!(update["result"], "APPLIED", "{update}");
    let updated: Vec<&serde_json::Value> =
        update["flows"].as_array().unwrap().iter().filter(|f| f["action"] == "UPDATE").collect();
    assert_eq!(updated.len(), 1, "{update}");
    assert_eq!(updated[0]["name"], "Example_Greeting");
    let module = fleet.cloud.emulator.contact_flows().into_iter().find(|f| f.name == "Example_Greeting").unwrap();
    assert_eq!(
        (module.arn.as_str(), module.version),
        (greeting.arn.as_str(), 2),
        "the same module, its content updated"
    );
    let again = Call::voice("", CALLER, EXAMPLE_NUMBER).saying(["I have a billing question"]).at(monday_morning);
    assert!(play(&runner, again).await.heard("Welcome back to Switchboard."));

    // A number no flow answers is an error naming it, not a call.
    let nowhere = runner.play(Call::voice("", CALLER, "+61255500000")).await.unwrap_err().to_string();
    assert!(nowhere.contains("+61255500000"), "{nowhere}");
}

/// A library of one context, `every/`, holding the test flows and the flow their TransferToFlow names.
fn every_action_library() -> FlowLibrary {
    let dir = std::env::temp_dir().join(format!("switchboard-every-action-{}", std::process::id()));
    let context = dir.join("every");
    std::fs::create_dir_all(&context).unwrap();
    let source = repo_root().join("crates/switchboard-local/tests/flows/EveryAction.json");
    std::fs::copy(source, context.join("EveryAction.json")).unwrap();
    let queue_flow = repo_root().join("contact-flows/video/VideoCallEscalationQueue.json");
    std::fs::copy(queue_flow, context.join("VideoCallEscalationQueue.json")).unwrap();
    std::fs::write(
        dir.join("flows.json"),
        json!({"every/VideoCallEscalationQueue": {"type": "CUSTOMER_QUEUE", "description": "", "parameters": {}}})
            .to_string(),
    )
    .unwrap();
    FlowLibrary::new(dir)
}

#[tokio::test]
async fn the_runner_plays_every_action_type_of_the_flow_language_modelled_or_by_its_error_branch() {
    let library = every_action_library();
    let flow = library.load("every/EveryAction").unwrap();
    let used: std::collections::BTreeSet<&str> = flow.actions.iter().map(|a| a.kind.as_str()).collect();
    for action_type in action_types() {
        assert!(used.contains(action_type.kind.as_str()), "EveryAction.json has no {}", action_type.kind);
    }
    let fleet = Fleet::start().await;
    let runner = Runner::new(library, fleet.runner.services.clone());
    let enders: [(Option<&str>, Ending); 8] = [
        (None, Ending::Disconnected),
        (Some("EndFlowExecution"), Ending::Ended),
        (Some("TransferContactToQueue"), Ending::Queued { queue: "BillingQueue".into() }),
        (Some("TransferParticipantToThirdParty"), Ending::Transferred { to: "+61280001234".into() }),
        // Checked below: the customer queue flow it transfers to.
        (Some("TransferToFlow"), Ending::Disconnected),
        (Some("EndFlowModuleExecution"), Ending::Ended),
        (Some("TransferContactToAgent"), Ending::TransferredToAgent),
        (Some("DequeueContactAndTransferToQueue"), Ending::Disconnected),
    ];
    for (ender, ending) in enders {
        let mut call = Call::voice("every/EveryAction", CALLER, EXAMPLE_NUMBER)
            .saying(["I have a billing question"])
            .with_metrics([("NumberOfContactsInQueue".to_owned(), "3".to_owned())])
            .leaving_after_messages(100);
        if let Some(ender) = ender {
            call = call.with_attribute("ender", ender);
        }
        let transcript = play(&runner, call).await;
        // Every action the runner does not model said so and took its error branch.
        let not_modelled: std::collections::BTreeSet<&str> = transcript
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::NotModelled { action, .. } => Some(action.as_str()),
                _ => None,
            })
            .collect();
        for action in &not_modelled {
            assert!(!MODELLED_ACTIONS.contains(action), "{action} is modelled but took its error branch");
        }
        // Each type the runner does not model, on the line, said so (the ender is behind the Compare).
        for action_type in action_types() {
            let kind = action_type.kind.as_str();
            if !MODELLED_ACTIONS.contains(&kind) && kind != "DequeueContactAndTransferToQueue" {
                assert!(not_modelled.contains(kind), "{kind} did not take its error branch: {not_modelled:?}");
            }
        }
        assert!(transcript.steps.iter().any(|s| matches!(s, Step::Lex { intent: Some(i), .. } if i == "Billing")));
        assert!(transcript.steps.iter().any(|s| matches!(s, Step::Loop { pass: 1, count: 2 })), "the loop counted");
        if ender != Some("TransferToFlow") {
            assert_eq!(transcript.ending, Some(ending), "ender {ender:?}");
        } else {
            // The transfer's target (the customer queue flow) plays on until the customer leaves.
            let queue_flow = |s: &Step| matches!(s, Step::Flow { name } if name.ends_with("VideoCallEscalationQueue"));
            assert!(transcript.steps.iter().any(queue_flow));
            assert!(matches!(transcript.ending, Some(Ending::CustomerLeft { .. })), "{:?}", transcript.ending);
        }
    }
}

#[test]
fn the_docs_table_lists_every_action_type_and_says_which_the_runner_models() {
    let docs = std::fs::read_to_string(repo_root().join("docs/flow-actions.md")).unwrap();
    let rows: BTreeMap<String, String> = docs
        .lines()
        .filter_map(|line| {
            let kind = line.strip_prefix("| [`")?.split('`').next()?.to_owned();
            let locally = line.trim_end().trim_end_matches('|').rsplit('|').next()?.trim().to_owned();
            Some((kind, locally))
        })
        .collect();
    assert_eq!(rows.len(), action_types().len(), "one row per catalogued type");
    for action_type in action_types() {
        let locally = &rows[&action_type.kind];
        let modelled = MODELLED_ACTIONS.contains(&action_type.kind.as_str());
        assert_eq!(locally.starts_with("modelled"), modelled, "{}: {locally}", action_type.kind);
        // A type with no documented error branch has no branch to take: it must be modelled.
        assert!(modelled || !action_type.errors.is_empty(), "{} has no error branch", action_type.kind);
    }
    for kind in MODELLED_ACTIONS {
        assert!(action_types().iter().any(|t| t.kind == *kind), "{kind} is not in the catalogue");
    }
}

/// The S3 objects under `prefix`, with their bytes.
async fn objects(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let listed = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.unwrap();
    let mut objects = BTreeMap::new();
    for key in listed.contents().iter().filter_map(|o| o.key()) {
        let body = s3.get_object().bucket(bucket).key(key).send().await.unwrap().body.collect().await.unwrap();
        objects.insert(key.to_owned(), body.into_bytes().to_vec());
    }
    objects
}

#[tokio::test]
async fn prompt_audio_puts_the_repositorys_recordings_where_each_prompt_imports_its_own_and_delete_removes_them() {
    let fleet = Fleet::start().await;
    let cloud = &fleet.cloud;
    let s3 = cloud.s3_client().await;
    let bucket = switchboard_local::cloud::LOCAL_PROMPT_BUCKET;
    switchboard_local::desktop::create_bucket(&s3, bucket, &cloud.fixture.region).await.unwrap();
    let properties = json!({"Bucket": bucket, "Bundle": "arn:aws:lambda:ap-southeast-2:123456789012:layer:ContactFlowsBundleLayer:3"});
    let request = |kind: &'static str, properties: Value, physical: Option<String>| async move {
        let physical = physical.map(|id| (id, properties.clone()));
        let answer = cloud
            .custom_resource(
                PROVISION_FLOWS_FUNCTION,
                kind,
                "PromptAudio",
                properties.clone(),
                physical.as_ref().map(|(id, old)| (id.as_str(), old.clone())),
            )
            .await
            .unwrap();
        println!("{kind} answered {answer}");
        answer
    };

    let created = request("Create", properties.clone(), None).await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let id = created["PhysicalResourceId"].as_str().unwrap().to_owned();
    let recording = std::fs::read(repo_root().join("contact-flows/prompts/Switchboard_Chime.wav")).unwrap();
    let prefix = id.strip_prefix(&format!("s3://{bucket}/")).unwrap().to_owned();
    assert!(prefix.starts_with("prompts/") && prefix.ends_with('/'), "{id}");
    // The prompt's attribute is the URI of an object holding the repository's bytes.
    let uri = created["Data"]["Switchboard_Chime"].as_str().unwrap();
    let key = uri.strip_prefix(&format!("s3://{bucket}/")).unwrap();
    assert_eq!(key, format!("{prefix}Switchboard_Chime.wav"));
    let put = objects(&s3, bucket, "prompts/").await;
    assert_eq!(put.keys().collect::<Vec<_>>(), [key]);
    assert_eq!(put[key], recording);

    // The same recordings again (a retry, or an update of the layer alone): the same id and URI.
    let again = request("Update", properties.clone(), Some(id.clone())).await;
    assert_eq!((&again["PhysicalResourceId"], &again["Data"]["Switchboard_Chime"]), (&json!(id), &json!(uri)));
    assert_eq!(objects(&s3, bucket, "prompts/").await, put);

    // A bucket that is not one is refused by name, and writes nothing.
    let refused = request("Update", json!({"Bucket": " "}), Some(id.clone())).await;
    assert_eq!(refused["Status"], "FAILED");
    assert!(refused["Reason"].as_str().unwrap().contains("Bucket"), "{refused}");
    // Another bucket: the role may not put there (in AWS, IAM refuses; here moto has no such bucket).
    cloud.expect_denied(PROVISION_FLOWS_FUNCTION, "s3:PutObject", "arn:aws:s3:::no-such-bucket/*");
    let missing = request("Create", json!({"Bucket": "no-such-bucket"}), None).await;
    assert_eq!(missing["Status"], "FAILED");
    assert!(missing["Reason"].as_str().unwrap().contains("PutObject"), "{missing}");

    // Delete removes the set, and nothing else of the bucket; again, and for an id this resource
    // never gave (a failed Create's), it is still a success.
    s3.put_object().bucket(bucket).key("prompts/other/Keep.wav").body(b"RIFF".to_vec().into()).send().await.unwrap();
    let deleted = request("Delete", properties.clone(), Some(id.clone())).await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_eq!(objects(&s3, bucket, "prompts/").await.keys().collect::<Vec<_>>(), ["prompts/other/Keep.wav"]);
    assert_eq!(request("Delete", properties.clone(), Some(id.clone())).await["Status"], "SUCCESS");
    let foreign = request("Delete", properties.clone(), Some("contact-flows-x".into())).await;
    assert_eq!(foreign["Status"], "SUCCESS");
    assert_eq!(objects(&s3, bucket, "prompts/").await.len(), 1);
}
