//! `provision-flows` end to end: the repository's flows deployed into the emulated instance with
//! every placeholder resolved, re-runs that write nothing, a deployed call by real ARNs, drift,
//! references the instance lacks, the lock, and the `ContactFlows` custom resource.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use switchboard_fleet_tests::Fleet;
use switchboard_local::{
    cloud::{FLOWS_TABLE, LOCAL_STACK_NAME, PROVISION_FLOWS_FUNCTION, TIMEOUT_OVERRIDE},
    emulator::LocalContactFlow,
    fixture::Fixture,
    flow::{Call, CallInput, Ending},
    flows::working_tree,
    lambda_host::InvokeClient,
};

const ADMIN: &str = "+61412345678";
/// The flows of `contact-flows/`, as Connect names them (no prefix).
const REPOSITORY_FLOWS: &[&str] = &[
    "Emergency_Authentication",
    "Emergency_Demo",
    "Emergency_Update",
    "Example_BillingWhisper",
    "Example_Greeting",
    "Example_Main",
    "Example_QueueTransfer",
    "IdContact_Inbound",
    "VideoCallEscalationChat",
    "VideoCallEscalationQueue",
];

/// An instance with no flows yet.
fn fresh_instance() -> Fixture {
    let mut fixture = Fixture::load(&Fixture::default_path()).unwrap();
    fixture.connect.contact_flows.clear();
    fixture
}

async fn provision(fleet: &Fleet, request: Value) -> Value {
    let lambda = InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    let report = lambda.invoke(PROVISION_FLOWS_FUNCTION, &request).await.unwrap();
    println!("{}", switchboard_local::flows::render(&report));
    report
}

fn actions(report: &Value) -> BTreeMap<String, String> {
    report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f["action"].as_str().unwrap().to_owned()))
        .collect()
}

fn all(action: &str) -> BTreeMap<String, String> {
    REPOSITORY_FLOWS.iter().map(|name| ((*name).to_owned(), action.to_owned())).collect()
}

fn flow<'a>(flows: &'a [LocalContactFlow], name: &str) -> &'a LocalContactFlow {
    flows.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("{name} is not on the instance"))
}

#[tokio::test]
async fn a_fresh_instance_gets_every_flow_resolved_a_rerun_writes_nothing_and_the_deployed_flows_work() {
    let fleet = Fleet::start_with(fresh_instance(), BTreeMap::new()).await;

    // The plan lists every flow as a creation and writes nothing.
    let plan = provision(&fleet, json!({"mode": "plan"})).await;
    assert_eq!(plan["result"], "PLANNED");
    assert_eq!(actions(&plan), all("CREATE"));
    assert_eq!(fleet.cloud.emulator.connect_writes(), 0);
    assert!(fleet.cloud.emulator.contact_flows().is_empty());

    let apply = provision(&fleet, json!({"mode": "apply"})).await;
    assert_eq!(apply["result"], "APPLIED", "{apply}");
    assert_eq!(actions(&apply), all("CREATE"));
    assert_eq!(apply["writes"], REPOSITORY_FLOWS.len());
    let flows = fleet.cloud.emulator.contact_flows();
    assert_eq!(flows.len(), REPOSITORY_FLOWS.len());
    for deployed in &flows {
        assert!(!deployed.content.contains("{{"), "{} kept a placeholder: {}", deployed.name, deployed.content);
        assert_eq!(deployed.tags.get("switchboard:stack").map(String::as_str), Some(LOCAL_STACK_NAME));
        assert!(deployed.tags.get("switchboard:source").is_some_and(|s| s.ends_with(&deployed.name)));
    }
    // The authentication flow transfers to the update flow by its ARN (created first: Connect
    // refuses a transfer to a flow that does not exist), and calls the stack's functions by theirs.
    let update = flow(&flows, "Emergency_Update");
    let auth = flow(&flows, "Emergency_Authentication");
    assert!(auth.content.contains(&update.arn), "{}", auth.content);
    assert!(auth.content.contains(":function:one-time-pin"), "{}", auth.content);
    let queue = flow(&flows, "VideoCallEscalationQueue");
    assert!(flow(&flows, "VideoCallEscalationChat").content.contains(&queue.arn));

    // Every item says what was applied; the map holds the queues and the flows.
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let instance = &fleet.cloud.fixture.connect.instance_id;
    let managed = dynamodb
        .query()
        .table_name(FLOWS_TABLE)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("FLOW#{instance}")))
        .send()
        .await
        .unwrap();
    assert_eq!(managed.count() as usize, REPOSITORY_FLOWS.len());

    // Again: nothing to do, and nothing written.
    let again = provision(&fleet, json!({"mode": "apply"})).await;
    assert_eq!(again["result"], "NO_CHANGES", "{again}");
    assert_eq!(actions(&again), all("UNCHANGED"));
    assert_eq!(again["writes"], 0);
    // The flows, and the template's three numbers pointed at their flows (FLOW_PHONE_NUMBERS); the
    // rerun points them again, which changes nothing.
    assert_eq!(fleet.cloud.emulator.connect_writes(), REPOSITORY_FLOWS.len() + 3);

    // The admin's call through the deployed flows, by their real ARNs, sets Sydney into an emergency.
    let runner = switchboard_local::flow::Runner::new(
        switchboard_local::flow::FlowLibrary::repository(),
        fleet.runner.services.clone(),
    )
    .playing_deployed();
    let inputs = ["sms", "1", "1", "1"].map(|i| i.parse::<CallInput>().unwrap());
    let call = Call::voice("Emergency_Authentication", ADMIN, "+61255509999").with_inputs(inputs);
    let transcript = runner.play(call).await.unwrap();
    println!("{transcript}");
    assert_eq!(transcript.result_codes("verify-pin"), ["VERIFIED"]);
    assert_eq!(transcript.results_of("update-emergency")[0]["Result"], "UPDATED");
    assert!(transcript.heard("Done. Sydney is now set to: Severe Weather."), "{transcript}");
    assert_eq!(transcript.ending, Some(Ending::Disconnected));

    // A flow taken out of the repository is an orphan: reported, and archived only when asked.
    let mut tree = switchboard_local::flows::working_tree().unwrap();
    tree.remove("contact-flows/example/Example_QueueTransfer.json");
    let kept = provision(&fleet, json!({"mode": "apply", "flows": tree.clone()})).await;
    assert_eq!(
        kept["orphans"],
        json!([{"name": "Example_QueueTransfer", "arn": flow(&flows, "Example_QueueTransfer").arn, "archived": false}])
    );
    let archived = provision(&fleet, json!({"mode": "apply", "flows": tree, "archiveOrphans": true})).await;
    assert_eq!(archived["orphans"][0]["archived"], true, "{archived}");
    let orphan = flow(&fleet.cloud.emulator.contact_flows(), "Example_QueueTransfer").clone();
    assert_eq!(orphan.state, "ARCHIVED");
}

#[tokio::test]
async fn drift_unknown_references_and_a_held_lock_write_nothing() {
    let fleet = Fleet::start_with(fresh_instance(), BTreeMap::new()).await;
    assert_eq!(provision(&fleet, json!({"mode": "apply"})).await["result"], "APPLIED");
    let writes = fleet.cloud.emulator.connect_writes();

    // Someone edits the demo flow in the instance's designer.
    let connect = fleet.connect_client().await;
    let demo = flow(&fleet.cloud.emulator.contact_flows(), "Emergency_Demo").clone();
    let mut edited: Value = serde_json::from_str(&demo.content).unwrap();
    retarget(&mut edited, &demo_first_action(&demo), "edited-on-the-instance");
    connect
        .update_contact_flow_content()
        .instance_id(&fleet.cloud.fixture.connect.instance_id)
        .contact_flow_id(&demo.id)
        .content(edited.to_string())
        .send()
        .await
        .unwrap();
    let writes = writes + 1;

    let plan = provision(&fleet, json!({"mode": "plan"})).await;
    assert_eq!(actions(&plan)["Emergency_Demo"], "DRIFTED");
    let drifted = plan["flows"].as_array().unwrap().iter().find(|f| f["name"] == "Emergency_Demo").unwrap().clone();
    assert!(drifted["diff"]["added"].as_array().unwrap().iter().any(|id| id != "edited-on-the-instance"));
    assert_eq!(drifted["diff"]["removed"], json!(["edited-on-the-instance"]));

    let refused = provision(&fleet, json!({"mode": "apply", "onDrift": "fail"})).await;
    assert_eq!(refused["result"], "DRIFT");
    assert_eq!(refused["writes"], 0);
    assert_eq!(fleet.cloud.emulator.connect_writes(), writes, "nothing was written");
    assert!(flow(&fleet.cloud.emulator.contact_flows(), "Emergency_Demo").content.contains("edited-on-the-instance"));

    let overwritten = provision(&fleet, json!({"mode": "apply", "onDrift": "overwrite"})).await;
    assert_eq!(overwritten["result"], "APPLIED");
    assert_eq!(overwritten["writes"], 1);
    assert!(!flow(&fleet.cloud.emulator.contact_flows(), "Emergency_Demo").content.contains("edited-on-the-instance"));

    // A working tree naming a queue the instance lacks, and a function it has not associated.
    let mut tree = working_tree().unwrap();
    let bad = json!({"Version": "2019-10-30", "StartAction": "q", "Actions": [
        {"Identifier": "q", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "{{queue:NoSuchQueue}}"},
         "Transitions": {"NextAction": "l"}},
        {"Identifier": "l", "Type": "InvokeLambdaFunction",
         "Parameters": {"LambdaFunctionARN": "{{lambda:start-chat}}", "InvocationTimeLimitSeconds": "3"},
         "Transitions": {"NextAction": "d"}},
        {"Identifier": "d", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]});
    tree.insert("contact-flows/test/Routing_Test.json".into(), bad.to_string());
    let invalid = provision(&fleet, json!({"mode": "apply", "flows": tree})).await;
    assert_eq!(invalid["result"], "INVALID");
    let routing = invalid["flows"].as_array().unwrap().iter().find(|f| f["name"] == "Routing_Test").unwrap().clone();
    let problems: Vec<(String, String, String)> = routing["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            (field("code"), field("placeholder"), field("pointer"))
        })
        .collect();
    assert!(problems.contains(&(
        "UNRESOLVED".into(),
        "{{queue:NoSuchQueue}}".into(),
        "/Actions/0/Parameters/QueueId".into()
    )));
    assert!(problems.contains(&(
        "LAMBDA_NOT_ASSOCIATED".into(),
        "{{lambda:start-chat}}".into(),
        "/Actions/1/Parameters/LambdaFunctionARN".into()
    )));
    assert_eq!(fleet.cloud.emulator.connect_writes(), writes + 1, "an invalid plan writes nothing");

    // Another deployment holds the lock: this one says so and writes nothing.
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let instance = &fleet.cloud.fixture.connect.instance_id;
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    dynamodb
        .put_item()
        .table_name(FLOWS_TABLE)
        .item("pk", S(format!("LOCK#{instance}")))
        .item("sk", S("LOCK".into()))
        .item("owner", S("another-run".into()))
        .item("until", N((time::OffsetDateTime::now_utc().unix_timestamp() + 600).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(provision(&fleet, json!({"mode": "apply"})).await["result"], "LOCKED");

    // A request that is not one names its field.
    let wrong = provision(&fleet, json!({"mode": "deploy"})).await;
    assert_eq!(wrong["result"], "INVALID");
    assert!(wrong["problems"][0]["message"].as_str().unwrap().contains("mode"), "{wrong}");
}

fn demo_first_action(flow: &LocalContactFlow) -> String {
    let content: Value = serde_json::from_str(&flow.content).unwrap();
    content["Actions"][0]["Identifier"].as_str().unwrap().to_owned()
}

/// Renames an action's identifier everywhere a transition names it.
fn retarget(content: &mut Value, from: &str, to: &str) {
    match content {
        Value::String(text) if text == from => *text = to.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(|item| retarget(item, from, to)),
        Value::Object(fields) => fields.values_mut().for_each(|field| retarget(field, from, to)),
        _ => {}
    }
}

#[tokio::test]
async fn the_custom_resource_adopts_hand_imports_answers_each_request_and_delete_leaves_the_flows() {
    let layer = "arn:aws:lambda:ap-southeast-2:123456789012:layer:ContactFlowsBundleLayer:3";
    let overrides = BTreeMap::from([("FLOW_BUNDLE_LAYER".to_owned(), layer.to_owned())]);
    // The fixture's instance has the flows imported by hand, under the same names.
    let fleet = Fleet::start_with(Fixture::load(&Fixture::default_path()).unwrap(), overrides).await;
    let hand_imported: BTreeMap<String, String> =
        fleet.cloud.emulator.contact_flows().into_iter().map(|f| (f.name, f.id)).collect();
    let functions: BTreeMap<String, String> =
        ["one-time-pin", "verify-pin", "check-emergency", "update-emergency", "assign-id"]
            .iter()
            .map(|name| {
                let fixture = &fleet.cloud.fixture;
                (
                    (*name).to_owned(),
                    format!("arn:aws:lambda:{}:{}:function:{name}", fixture.region, fixture.account_id),
                )
            })
            .collect();
    // The example's claimed number, as the template passes it (ExampleNumber's ARN).
    let fixture = &fleet.cloud.fixture;
    let number_arn = |id: &str| format!("arn:aws:connect:{}:{}:phone-number/{id}", fixture.region, fixture.account_id);
    let example_number = number_arn(&switchboard_local::instance::local_id("phone-number", "+61255503000"));
    let properties = |bundle: &str| {
        json!({
            "InstanceId": fleet.cloud.fleet().map(|_| fleet.cloud.fixture.instance_arn()).unwrap(),
            "Bundle": bundle, "Mode": "apply", "NamePrefix": "", "FlowParameters": "", "Functions": functions,
            "PhoneNumbers": {"Example_Main": example_number},
        })
    };

    let created = fleet
        .cloud
        .custom_resource(PROVISION_FLOWS_FUNCTION, "Create", "ContactFlows", properties(layer), None)
        .await
        .unwrap();
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let data = &created["Data"];
    // Every flow was imported by hand; the example's module was not, and is created.
    assert_eq!((data["Result"].as_str(), data["Created"].as_str()), (Some("APPLIED"), Some("1")), "{created}");
    assert_eq!(data["Adopted"], (REPOSITORY_FLOWS.len() - 1).to_string(), "{created}");
    let flows = fleet.cloud.emulator.contact_flows();
    let auth = flow(&flows, "Emergency_Authentication");
    assert_eq!(auth.id, hand_imported["Emergency_Authentication"], "adopted in place, same id");
    assert_eq!(data["Emergency_AuthenticationArn"], auth.arn.as_str());
    assert_eq!(auth.tags.get("switchboard:stack").map(String::as_str), Some(LOCAL_STACK_NAME));
    let physical_id = created["PhysicalResourceId"].as_str().unwrap().to_owned();
    // The claimed number now starts the example's flow.
    // The function's three (FLOW_PHONE_NUMBERS) with the property's, which names one of them again.
    assert_eq!(data["PhoneNumbersAssociated"], "3", "{created}");
    assert_eq!(fleet.cloud.emulator.phone_number_flows()["+61255503000"].as_deref(), Some("Example_Main"));

    // A stack update with the same bundle: SUCCESS, nothing written.
    let writes = fleet.cloud.emulator.connect_writes();
    let updated = fleet
        .cloud
        .custom_resource(
            PROVISION_FLOWS_FUNCTION,
            "Update",
            "ContactFlows",
            properties(layer),
            Some((&physical_id, properties(layer))),
        )
        .await
        .unwrap();
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(updated["Data"]["Result"], "NO_CHANGES");
    assert_eq!(fleet.cloud.emulator.connect_writes(), writes);

    // A bundle other than the function's own layer is refused.
    let other = "arn:aws:lambda:ap-southeast-2:123456789012:layer:SomethingElse:1";
    let refused = fleet
        .cloud
        .custom_resource(
            PROVISION_FLOWS_FUNCTION,
            "Update",
            "ContactFlows",
            properties(other),
            Some((&physical_id, properties(layer))),
        )
        .await
        .unwrap();
    assert_eq!(refused["Status"], "FAILED");
    assert!(refused["Reason"].as_str().unwrap().contains("Bundle"), "{refused}");

    // A number the instance has not claimed fails the resource, naming the operation; so does a
    // number for a flow the bundle does not have. (In AWS the first is refused by IAM already: the
    // role may point only the stack's numbers.)
    fleet.cloud.expect_denied(
        PROVISION_FLOWS_FUNCTION,
        "connect:AssociatePhoneNumberContactFlow",
        "*:phone-number/00000000-0000-4000-8000-000000000000",
    );
    for (flow, number) in
        [("Example_Main", number_arn("00000000-0000-4000-8000-000000000000")), ("Nowhere", example_number.clone())]
    {
        let mut wrong = properties(layer);
        wrong["PhoneNumbers"] = json!({flow: number});
        let failed = fleet
            .cloud
            .custom_resource(
                PROVISION_FLOWS_FUNCTION,
                "Update",
                "ContactFlows",
                wrong,
                Some((&physical_id, properties(layer))),
            )
            .await
            .unwrap();
        assert_eq!(failed["Status"], "FAILED", "{failed}");
        let reason = failed["Reason"].as_str().unwrap();
        assert!(reason.contains("AssociatePhoneNumberContactFlow") || reason.contains("Nowhere"), "{reason}");
    }

    // Delete answers SUCCESS and leaves every flow where it is.
    let deleted = fleet
        .cloud
        .custom_resource(
            PROVISION_FLOWS_FUNCTION,
            "Delete",
            "ContactFlows",
            properties(layer),
            Some((&physical_id, Value::Null)),
        )
        .await
        .unwrap();
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_eq!(fleet.cloud.emulator.contact_flows().len(), flows.len());
    assert_eq!(fleet.cloud.emulator.connect_writes(), writes);
}

/// The `ContactFlows` properties the template passes, for this fleet's instance.
fn contact_flows_properties(fleet: &Fleet, flow_parameters: &str) -> Value {
    json!({
        "InstanceId": fleet.cloud.fixture.instance_arn(), "Bundle": "layer:1", "Mode": "apply",
        "NamePrefix": "", "FlowParameters": flow_parameters, "ServiceTimeout": "1080",
    })
}

/// The instance lock's item, if any.
async fn lock_item(
    fleet: &Fleet,
) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let instance = &fleet.cloud.fixture.connect.instance_id;
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let got = dynamodb
        .get_item()
        .table_name(FLOWS_TABLE)
        .key("pk", S(format!("LOCK#{instance}")))
        .key("sk", S("LOCK".into()))
        .send()
        .await
        .unwrap();
    got.item
}

/// An apply that runs out of the function's time (Connect's writes are slow today) stops itself,
/// answers FAILED saying so, and leaves the instance unlocked: the rollback's Update that follows
/// must not be refused `LOCKED` for the rest of a 15-minute lease.
#[tokio::test]
async fn an_apply_that_runs_out_of_time_answers_and_leaves_the_instance_unlocked() {
    let overrides = BTreeMap::from([
        (format!("{PROVISION_FLOWS_FUNCTION}/{TIMEOUT_OVERRIDE}"), "12".to_owned()),
        (format!("{PROVISION_FLOWS_FUNCTION}/FLOW_WRITE_PAUSE_MS"), "3000".to_owned()),
    ]);
    let fleet = Fleet::start_with(fresh_instance(), overrides).await;
    let started = std::time::Instant::now();
    let created = fleet
        .cloud
        .custom_resource(PROVISION_FLOWS_FUNCTION, "Create", "ContactFlows", contact_flows_properties(&fleet, ""), None)
        .await
        .expect("an answer");
    println!("{created}");
    assert_eq!(created["Status"], "FAILED", "{created}");
    assert!(started.elapsed() < std::time::Duration::from_secs(12), "answered within the function's timeout");
    let writes = fleet.cloud.emulator.connect_writes();
    assert!((1..6).contains(&writes), "cut short after {writes} writes");

    // Nothing holds the instance: a run right away (a rollback's Update, a pipeline's plan) gets it.
    assert!(lock_item(&fleet).await.is_none(), "the lock is released: {:?}", lock_item(&fleet).await);
    let plan = provision(&fleet, json!({"mode": "plan"})).await;
    assert_eq!(plan["result"], "PLANNED", "{plan}");
}

/// `FlowParameters` that the template's pattern lets through but that do not read (a key twice):
/// the function still starts and answers FAILED naming the property (the environment gets the same
/// value); a direct invoke names the variable. A setting that stops the function from configuring
/// itself at all is still an answer naming the variable.
#[tokio::test]
async fn a_flow_parameter_given_twice_is_a_failed_answer_naming_it_not_a_function_that_never_answers() {
    let overrides = BTreeMap::from([(format!("{PROVISION_FLOWS_FUNCTION}/FLOW_PARAMETERS"), "a=1,a=2".to_owned())]);
    let fleet = Fleet::start_with(fresh_instance(), overrides).await;
    let created = fleet
        .cloud
        .custom_resource(
            PROVISION_FLOWS_FUNCTION,
            "Create",
            "ContactFlows",
            contact_flows_properties(&fleet, "a=1,a=2"),
            None,
        )
        .await
        .expect("an answer");
    assert_eq!(created["Status"], "FAILED", "{created}");
    let reason = created["Reason"].as_str().unwrap();
    assert!(reason.contains("FlowParameters") && reason.contains("a is given twice"), "{reason}");
    let direct = provision(&fleet, json!({"mode": "plan"})).await;
    assert_eq!(direct["result"], "INVALID");
    assert!(direct["problems"][0]["message"].as_str().unwrap().contains("FLOW_PARAMETERS"), "{direct}");
    assert_eq!(fleet.cloud.emulator.connect_writes(), 0);

    let overrides = BTreeMap::from([(format!("{PROVISION_FLOWS_FUNCTION}/FLOW_WRITE_PAUSE_MS"), "soon".to_owned())]);
    let fleet = Fleet::start_with(fresh_instance(), overrides).await;
    let properties = contact_flows_properties(&fleet, "");
    let created = fleet
        .cloud
        .custom_resource(PROVISION_FLOWS_FUNCTION, "Create", "ContactFlows", properties.clone(), None)
        .await
        .expect("an answer");
    assert_eq!(created["Status"], "FAILED", "{created}");
    assert!(created["Reason"].as_str().unwrap().contains("FLOW_WRITE_PAUSE_MS"), "{created}");
    // A stack deletion is not wedged by it.
    let deleted = fleet
        .cloud
        .custom_resource(
            PROVISION_FLOWS_FUNCTION,
            "Delete",
            "ContactFlows",
            properties,
            Some(("contact-flows-x", Value::Null)),
        )
        .await
        .expect("an answer");
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
}

#[tokio::test]
async fn a_flow_in_the_workshops_format_finds_its_queue_through_flow_resource_map() {
    let fleet = Fleet::start_with(fresh_instance(), BTreeMap::new()).await;
    let lambda = InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    let sample = std::fs::read_to_string(switchboard_local::repo_root().join("events/flow-resource-map/names.json"));
    let lookup: Value = serde_json::from_str(&sample.unwrap()).unwrap();
    let map = lambda.invoke("flow-resource-map", &lookup).await.unwrap();
    assert_eq!(map, json!({"Result": "NOT_PROVISIONED"}), "nothing is deployed yet");

    // The CI/CD workshop's file: a wrapper whose content reads the queue from $.External, filled by
    // the mapping Lambda the workshop wrote as <<ARNREPLACE>>. Its designer coordinates are doubles
    // printed in full, as the designer exports them.
    let position = json!({"x": 52.800000000000004, "y": 40.00000000000001});
    let content = json!({"Version": "2019-10-30", "StartAction": "map",
                         "Metadata": {"entryPointPosition": position}, "Actions": [
        {"Identifier": "map", "Type": "InvokeLambdaFunction",
         "Parameters": {"LambdaFunctionARN": "<<ARNREPLACE>>", "InvocationTimeLimitSeconds": "8"},
         "Transitions": {"NextAction": "queue", "Errors": [{"NextAction": "bye", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "queue", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "$.External.BasicQueue"},
         "Transitions": {"NextAction": "transfer", "Errors": [{"NextAction": "bye", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "transfer", "Type": "TransferContactToQueue", "Parameters": {},
         "Transitions": {"Errors": [{"NextAction": "bye", "ErrorType": "QueueAtCapacity"},
                                    {"NextAction": "bye", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]});
    let wrapper = json!({"Name": "ACME_Main", "ContactFlowType": "CONTACT_FLOW", "Content": content.to_string()});
    let mut tree = working_tree().unwrap();
    tree.insert("contact-flows/acme/main.json".into(), wrapper.to_string());
    let applied = provision(&fleet, json!({"mode": "apply", "flows": tree})).await;
    assert_eq!(applied["result"], "APPLIED", "{applied}");
    let acme = flow(&fleet.cloud.emulator.contact_flows(), "ACME_Main").clone();
    assert!(acme.content.contains(":function:flow-resource-map"), "{}", acme.content);
    for number in ["52.800000000000004", "40.00000000000001"] {
        assert!(acme.content.contains(number), "{number} was rewritten: {}", acme.content);
    }

    let map = lambda.invoke("flow-resource-map", &lookup).await.unwrap();
    assert_eq!(map["Result"], "OK");
    let queue_id = &fleet.cloud.fixture.connect.queues["BasicQueue"];
    assert!(map["BasicQueue"].as_str().unwrap().ends_with(&format!("/queue/{queue_id}")), "{map}");
    assert_eq!(map["Emergency_Update"], flow(&fleet.cloud.emulator.contact_flows(), "Emergency_Update").arn.as_str());

    // Connect runs it: the mapping Lambda answers, the queue comes from $.External.
    let runner = switchboard_local::flow::Runner::new(
        switchboard_local::flow::FlowLibrary::repository(),
        fleet.runner.services.clone(),
    )
    .playing_deployed();
    let transcript = runner.play(Call::voice("ACME_Main", "+61400111222", "+61255501000")).await.unwrap();
    println!("{transcript}");
    assert_eq!(transcript.result_codes("flow-resource-map"), ["OK"]);
    assert_eq!(transcript.ending, Some(Ending::Queued { queue: "BasicQueue".into() }));
}

/// Every problem of a report as (flow, code, pointer).
fn problems_of(report: &Value) -> Vec<(String, String, String)> {
    let flows = report["flows"].as_array().cloned().unwrap_or_default();
    flows
        .iter()
        .flat_map(|f| f["problems"].as_array().cloned().unwrap_or_default())
        .chain(report["problems"].as_array().cloned().unwrap_or_default())
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            (field("flow"), field("code"), field("pointer"))
        })
        .collect()
}

/// A flow in the workshop's style: the mapping Lambda, then a queue, a transfer and a bot read from
/// `$.External` under the names given.
fn workshop_flow(queue: &str, flow: &str, bot: &str) -> Value {
    let content = json!({"Version": "2019-10-30", "StartAction": "map", "Metadata": {}, "Actions": [
        {"Identifier": "map", "Type": "InvokeLambdaFunction",
         "Parameters": {"LambdaFunctionARN": "<<ARNREPLACE>>", "InvocationTimeLimitSeconds": "8"},
         "Transitions": {"NextAction": "bot", "Errors": [{"NextAction": "bye", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "bot", "Type": "ConnectParticipantWithLexBot",
         "Parameters": {"Text": "How can we help?", "LexV2Bot": {"AliasArn": format!("$.External.{bot}")}},
         "Transitions": {"NextAction": "queue", "Errors": [{"NextAction": "bye", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "queue", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": format!("$.External.{queue}")},
         "Transitions": {"NextAction": "transfer", "Errors": [{"NextAction": "bye", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "transfer", "Type": "TransferToFlow", "Parameters": {"ContactFlowId": format!("$.External.{flow}")},
         "Transitions": {"NextAction": "bye", "Errors": [{"NextAction": "bye", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]});
    json!({"Name": "ACME_Main", "ContactFlowType": "CONTACT_FLOW", "Content": content.to_string()})
}

/// The workshop's flows read queues, flows and bots from `$.External` after calling
/// flow-resource-map: a name the map will not hold fails the plan (naming the flow and the place),
/// not a customer's call; so do its `<<ARNREPLACE>>` outside its wrapper and ARNs of another
/// instance, account or region. With `FlowNamePrefix`, the map keeps the names the flows read.
#[tokio::test]
async fn external_reads_the_map_will_not_answer_and_foreign_arns_fail_the_plan() {
    let fixture = fresh_instance();
    let (region, account, instance) = (&fixture.region, &fixture.account_id, &fixture.connect.instance_id);
    let associated_bot = fixture.connect.bots[0].clone();
    let other_bot = format!("arn:aws:lex:{region}:{account}:bot-alias/OTHERBOT01/TSTALIASID");
    let overrides = BTreeMap::from([
        (format!("{PROVISION_FLOWS_FUNCTION}/FLOW_NAME_PREFIX"), "dev-".to_owned()),
        (
            format!("{PROVISION_FLOWS_FUNCTION}/FLOW_PARAMETERS"),
            format!("ACME_lexbot={associated_bot},ACME_otherbot={other_bot}"),
        ),
    ]);
    let fleet = Fleet::start_with(fixture.clone(), overrides).await;

    let queue = |instance_arn: &str| format!("{instance_arn}/queue/{}", fixture.connect.queues["BasicQueue"]);
    let plain = json!({"Version": "2019-10-30", "StartAction": "l", "Actions": [
        {"Identifier": "l", "Type": "InvokeLambdaFunction",
         "Parameters": {"LambdaFunctionARN": "<<ARNREPLACE>>", "InvocationTimeLimitSeconds": "3"},
         "Transitions": {"NextAction": "q1"}},
        {"Identifier": "q1", "Type": "UpdateContactTargetQueue",
         "Parameters": {"QueueId": queue(&format!("arn:aws:connect:{region}:{account}:instance/00000000-0000-4000-8000-000000000000"))},
         "Transitions": {"NextAction": "q2"}},
        {"Identifier": "q2", "Type": "UpdateContactTargetQueue",
         "Parameters": {"QueueId": queue(&format!("arn:aws:connect:us-east-1:{account}:instance/{instance}"))},
         "Transitions": {"NextAction": "f"}},
        {"Identifier": "f", "Type": "InvokeLambdaFunction",
         "Parameters": {"LambdaFunctionARN": "arn:aws:lambda:ap-southeast-2:999999999999:function:legacy", "InvocationTimeLimitSeconds": "3"},
         "Transitions": {"NextAction": "d"}},
        {"Identifier": "d", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]});
    let mut tree = working_tree().unwrap();
    tree.insert(
        "contact-flows/acme/main.json".into(),
        workshop_flow("ACME_Sales", "Emergency_Update", "ACME_otherbot").to_string(),
    );
    tree.insert("contact-flows/test/Plain.json".into(), plain.to_string());
    let plan = provision(&fleet, json!({"mode": "plan", "flows": tree})).await;
    assert_eq!(plan["result"], "INVALID", "{plan}");
    let problems = problems_of(&plan);
    for expected in [
        ("dev-ACME_Main", "UNMAPPED_EXTERNAL", "/Actions/2/Parameters/QueueId"),
        ("dev-ACME_Main", "UNMAPPED_EXTERNAL", "/Actions/1/Parameters/LexV2Bot/AliasArn"),
        ("dev-Plain", "WORKSHOP_PLACEHOLDER", "/Actions/0/Parameters/LambdaFunctionARN"),
        ("dev-Plain", "FOREIGN_ARN", "/Actions/1/Parameters/QueueId"),
        ("dev-Plain", "FOREIGN_ARN", "/Actions/2/Parameters/QueueId"),
        ("dev-Plain", "FOREIGN_ARN", "/Actions/3/Parameters/LambdaFunctionARN"),
    ] {
        let expected = (expected.0.to_owned(), expected.1.to_owned(), expected.2.to_owned());
        assert!(problems.contains(&expected), "{expected:?} not in {problems:?}");
    }
    assert_eq!(problems.len(), 6, "the flow it transfers to and the associated bot are mapped: {problems:?}");
    // Every problem line of the command names its flow.
    let text = switchboard_local::flows::render(&plan);
    let lines: Vec<&str> =
        text.lines().filter(|l| l.contains("UNMAPPED_EXTERNAL") || l.contains("FOREIGN_ARN")).collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines.iter().all(|l| l.trim_start().starts_with("dev-")), "{text}");
    assert_eq!(fleet.cloud.emulator.connect_writes(), 0);

    // The readable flows apply; the map answers the names the flow reads, not the prefixed ones.
    let mut tree = working_tree().unwrap();
    tree.insert(
        "contact-flows/acme/main.json".into(),
        workshop_flow("BasicQueue", "Emergency_Update", "ACME_lexbot").to_string(),
    );
    let applied = provision(&fleet, json!({"mode": "apply", "flows": tree})).await;
    assert_eq!(applied["result"], "APPLIED", "{applied}");
    let lambda = InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    let mut lookup: Value = serde_json::from_str(
        &std::fs::read_to_string(switchboard_local::repo_root().join("events/flow-resource-map/names.json")).unwrap(),
    )
    .unwrap();
    lookup["Details"]["Parameters"]["names"] = json!("BasicQueue,Emergency_Update,ACME_lexbot");
    let map = lambda.invoke("flow-resource-map", &lookup).await.unwrap();
    assert_eq!(map["Result"], "OK", "{map}");
    assert_eq!(
        map["Emergency_Update"],
        flow(&fleet.cloud.emulator.contact_flows(), "dev-Emergency_Update").arn.as_str()
    );
    assert_eq!(map["ACME_lexbot"], associated_bot.as_str());
    assert!(map["BasicQueue"].as_str().is_some(), "{map}");
}

/// Flows exported from real instances, brought in as a migrating user would: the three formats
/// exports come in are read; another tool's tokens, an empty Lex alias and a function the instance
/// has not associated are plan problems saying what they are (not a REJECTED apply); the designer's
/// metadata is not looked at; an unreadable file makes only its own flow INVALID.
#[tokio::test]
async fn exported_flows_plan_every_problem_the_instance_would_refuse_and_one_bad_file_spoils_only_its_flow() {
    let fleet = Fleet::start_with(fresh_instance(), BTreeMap::new()).await;
    let fixture = &fleet.cloud.fixture;
    let unassociated = fixture.lambda_function_arn("legacy-ivr");
    let exported = json!({"Version": "2019-10-30", "StartAction": "a",
        "Metadata": {"entryPointPosition": {"x": 40, "y": 40},
                     "ActionMetadata": {"a": {"position": {"x": 52.8, "y": 120}, "label": "${Env} queue {{draft}}"}}},
        "Actions": [
        {"Identifier": "a", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "${QueueArn}"},
         "Transitions": {"NextAction": "b"}},
        {"Identifier": "b", "Type": "MessageParticipant", "Parameters": {"PromptId": "%%WELCOME_PROMPT%%"},
         "Transitions": {"NextAction": "c"}},
        {"Identifier": "c", "Type": "ConnectParticipantWithLexBot",
         "Parameters": {"Text": "How can we help?", "LexV2Bot": {"AliasArn": ""}}, "Transitions": {"NextAction": "d"}},
        {"Identifier": "d", "Type": "InvokeLambdaFunction",
         "Parameters": {"LambdaFunctionARN": unassociated, "InvocationTimeLimitSeconds": "3"},
         "Transitions": {"NextAction": "e"}},
        {"Identifier": "e", "Type": "UpdateContactTargetQueue", "Parameters": {"QueueId": "{{BasicQueue}}"},
         "Transitions": {"NextAction": "f"}},
        {"Identifier": "f", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
    ]});
    let described = json!({"ContactFlow": {"Arn": "arn:aws:connect:us-east-1:111111111111:instance/x/contact-flow/y",
        "Id": "y", "Name": "Migrated_Inbound", "Type": "CONTACT_FLOW", "Content": exported.to_string(), "Tags": {}}});
    let typed = json!({"Name": "Migrated_Queue", "Type": "CUSTOMER_QUEUE", "Content": json!({
        "Version": "2019-10-30", "StartAction": "m", "Actions": [
            {"Identifier": "m", "Type": "MessageParticipant", "Parameters": {"Text": "You are next."}, "Transitions": {}}]})});
    let mut tree = working_tree().unwrap();
    tree.insert("contact-flows/migrated/Inbound.json".into(), described.to_string());
    tree.insert("contact-flows/migrated/Queue.json".into(), typed.to_string());
    tree.insert("contact-flows/migrated/Broken.json".into(), "{\"Version\": ".into());
    let plan = provision(&fleet, json!({"mode": "plan", "flows": tree})).await;
    assert_eq!(plan["result"], "INVALID", "{plan}");
    let mut expected = all("CREATE");
    expected.extend(
        [("Migrated_Inbound", "CREATE"), ("Migrated_Queue", "CREATE"), ("Broken", "INVALID")]
            .map(|(n, a)| (n.to_owned(), a.to_owned())),
    );
    assert_eq!(actions(&plan), expected, "one unreadable file spoils only its own flow");

    let problems = problems_of(&plan);
    let inbound = |code: &str, pointer: &str| ("Migrated_Inbound".to_owned(), code.to_owned(), pointer.to_owned());
    let mut found: Vec<_> = problems.iter().filter(|p| p.0 == "Migrated_Inbound").cloned().collect();
    found.sort();
    let mut wanted = vec![
        inbound("FOREIGN_TOKEN", "/Actions/0/Parameters/QueueId"),
        inbound("FOREIGN_TOKEN", "/Actions/1/Parameters/PromptId"),
        inbound("EMPTY_LEX_ALIAS", "/Actions/2/Parameters/LexV2Bot/AliasArn"),
        inbound("LAMBDA_NOT_ASSOCIATED", "/Actions/3/Parameters/LambdaFunctionARN"),
        inbound("MALFORMED_PLACEHOLDER", "/Actions/4/Parameters/QueueId"),
    ];
    wanted.sort();
    assert_eq!(found, wanted, "the designer's metadata is not counted");
    assert!(problems.contains(&("Broken".to_owned(), "INVALID_JSON".to_owned(), String::new())), "{problems:?}");
    let text = switchboard_local::flows::render(&plan);
    assert!(text.contains("${QueueArn} is a CloudFormation Fn::Sub or Terraform interpolation"), "{text}");
    assert!(text.contains("{{BasicQueue}} is not a placeholder"), "{text}");
    assert_eq!(fleet.cloud.emulator.connect_writes(), 0);
}

/// A flow of the bundle whose name the instance holds as another type is a CONFLICT, in the plan and
/// in the apply, which writes nothing (it used to plan as INVALID).
#[tokio::test]
async fn a_name_the_instance_holds_as_another_type_is_a_conflict() {
    let mut fixture = Fixture::load(&Fixture::default_path()).unwrap();
    fixture.connect.contact_flows.get_mut("Emergency_Demo").unwrap().kind = "CUSTOMER_QUEUE".into();
    let fleet = Fleet::start_with(fixture, BTreeMap::new()).await;
    let plan = provision(&fleet, json!({"mode": "plan"})).await;
    assert_eq!(plan["result"], "CONFLICT", "{plan}");
    assert_eq!(actions(&plan)["Emergency_Demo"], "CONFLICT");
    assert_eq!(actions(&plan)["Emergency_Update"], "ADOPT");
    let apply = provision(&fleet, json!({"mode": "apply"})).await;
    assert_eq!((apply["result"].as_str(), apply["writes"].as_u64()), (Some("CONFLICT"), Some(0)), "{apply}");
    assert_eq!(fleet.cloud.emulator.connect_writes(), 0);
}

/// Connect keeps flows and flow modules apart, and so does the plan: a module made by hand under one
/// of the bundle's flow names leaves that flow planned as itself (it was merged into one inventory
/// by name, and the flow planned as a conflict), and a module taken out of the repository is an
/// orphan archived as a module (`UpdateContactFlowModuleMetadata`; the flow call answers not found).
#[tokio::test]
async fn flows_and_modules_are_kept_apart_and_an_orphan_module_is_archived_as_a_module() {
    let fleet = Fleet::start_with(fresh_instance(), BTreeMap::new()).await;
    let repository = working_tree().unwrap();
    let mut with_spare = repository.clone();
    let greeting = repository["contact-flows/example/Example_Greeting.json"].clone();
    with_spare.insert("contact-flows/example/Spare_Greeting.json".into(), greeting);
    let mut index: Value = serde_json::from_str(&repository["contact-flows/flows.json"]).unwrap();
    index["example/Spare_Greeting"] = json!({"type": "MODULE", "description": "A second greeting.", "parameters": {}});
    with_spare.insert("contact-flows/flows.json".into(), index.to_string());
    // A module of the bundle named as a flow is a problem of the referring flow, not a module's ARN
    // handed to Connect for a flow (nor a reference that never resolves and rewrites it every run).
    let mut wrong_kind = repository.clone();
    let main = "contact-flows/example/Example_Main.json";
    wrong_kind
        .insert(main.into(), repository[main].replace("{{module:Example_Greeting}}", "{{flow:Example_Greeting}}"));
    let refused = provision(&fleet, json!({"mode": "plan", "flows": wrong_kind})).await;
    assert_eq!(refused["result"], "INVALID", "{refused}");
    let main_problems = refused["flows"].as_array().unwrap().iter().find(|f| f["name"] == "Example_Main").unwrap();
    let messages: Vec<&str> =
        main_problems["problems"].as_array().unwrap().iter().map(|p| p["message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.contains("{{module:Example_Greeting}}")), "{refused}");
    assert!(
        problems_of(&refused).iter().any(|(flow, code, _)| flow == "Example_Main" && code == "UNRESOLVED"),
        "{refused}"
    );

    let applied = provision(&fleet, json!({"mode": "apply", "flows": with_spare})).await;
    assert_eq!(applied["result"], "APPLIED", "{applied}");

    let connect = fleet.connect_client().await;
    let instance = &fleet.cloud.fixture.connect.instance_id;
    let module_content = json!({
        "Version": "2019-10-30", "StartAction": "end", "Metadata": {},
        "Actions": [{"Identifier": "end", "Type": "EndFlowModuleExecution", "Parameters": {}, "Transitions": {}}]
    });
    let by_hand = connect
        .create_contact_flow_module()
        .instance_id(instance)
        .name("Example_QueueTransfer")
        .content(module_content.to_string())
        .send()
        .await
        .unwrap();
    let plan = provision(&fleet, json!({"mode": "plan", "flows": repository.clone()})).await;
    assert_eq!(actions(&plan)["Example_QueueTransfer"], "UNCHANGED", "{plan}");
    assert_eq!(plan["result"], "PLANNED", "{plan}");

    let spare_arn = flow(&fleet.cloud.emulator.contact_flows(), "Spare_Greeting").arn.clone();
    let archived = provision(&fleet, json!({"mode": "apply", "flows": repository, "archiveOrphans": true})).await;
    assert_eq!(
        archived["orphans"],
        json!([{"name": "Spare_Greeting", "arn": spare_arn, "archived": true}]),
        "{archived}"
    );
    let after = fleet.cloud.emulator.contact_flows();
    let spare = flow(&after, "Spare_Greeting");
    assert_eq!((spare.kind.as_str(), spare.state.as_str()), ("MODULE", "ARCHIVED"));
    let same_name: Vec<(&str, &str)> = after
        .iter()
        .filter(|f| f.name == "Example_QueueTransfer")
        .map(|f| (f.kind.as_str(), f.state.as_str()))
        .collect();
    assert_eq!(same_name, [("QUEUE_TRANSFER", "ACTIVE"), ("MODULE", "ACTIVE")], "both left as they were");
    assert!(after.iter().any(|f| Some(f.id.as_str()) == by_hand.id()));

    // The flow operations do not take a module's id, as Connect's do not.
    let spare_id = spare.id.clone();
    let wrong_call = connect
        .update_contact_flow_metadata()
        .instance_id(instance)
        .contact_flow_id(&spare_id)
        .contact_flow_state(aws_sdk_connect::types::ContactFlowState::Active)
        .send()
        .await
        .unwrap_err();
    assert!(wrong_call.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{wrong_call:?}");
}

#[tokio::test]
async fn associations_add_what_is_missing_adopt_what_is_there_and_remove_only_their_own() {
    let fleet = Fleet::start_with(fresh_instance(), BTreeMap::new()).await;
    let fixture = fleet.cloud.fixture.clone();
    let (start_chat, check_emergency) =
        (fixture.lambda_function_arn("start-chat"), fixture.lambda_function_arn("check-emergency"));
    let bot = format!("arn:aws:lex:{}:{}:bot-alias/SWITCHBOT1/TSTALIASID", fixture.region, fixture.account_id);
    let properties = |lambdas: &[&str], bots: &[&str]| json!({"InstanceId": fixture.instance_arn(), "ExternalLambdaArns": lambdas.join(","), "LexBotAliasArns": bots.join(",")});
    let request = |kind: &'static str, properties: Value, physical: Option<String>| {
        let cloud = &fleet.cloud;
        async move {
            let physical = physical.map(|id| (id, Value::Null));
            let answer = cloud
                .custom_resource(
                    "connect-associations",
                    kind,
                    "ConnectAssociations",
                    properties,
                    physical.as_ref().map(|(id, old)| (id.as_str(), old.clone())),
                )
                .await
                .unwrap();
            println!("{kind}: {answer}");
            assert_eq!(answer["Status"], "SUCCESS", "{answer}");
            answer
        }
    };
    let connect = fleet.connect_client().await;
    let bots = || async {
        let listed = connect
            .list_bots()
            .instance_id(&fixture.connect.instance_id)
            .lex_version(aws_sdk_connect::types::LexVersion::V2)
            .send()
            .await
            .unwrap();
        listed
            .lex_bots()
            .iter()
            .filter_map(|b| b.lex_v2_bot().and_then(|v| v.alias_arn()).map(str::to_owned))
            .collect::<Vec<_>>()
    };

    // start-chat and the bot are new: associated. check-emergency already was: adopted.
    let created = request("Create", properties(&[&start_chat, &check_emergency], &[&bot]), None).await;
    assert_eq!((created["Data"]["Associated"].as_str(), created["Data"]["Adopted"].as_str()), (Some("2"), Some("1")));
    let physical = created["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert!(fleet.cloud.emulator.associated_lambda_functions().contains(&start_chat));
    assert!(bots().await.contains(&bot));

    // The same again: nothing to do.
    let writes = fleet.cloud.emulator.connect_writes();
    let again = request("Update", properties(&[&start_chat, &check_emergency], &[&bot]), Some(physical.clone())).await;
    assert_eq!(again["Data"]["Associated"], "0");
    assert_eq!(fleet.cloud.emulator.connect_writes(), writes);

    // Both ours removed from the list: disassociated. The adopted one is only forgotten, never removed.
    let removed = request("Update", properties(&[], &[]), Some(physical.clone())).await;
    assert_eq!(removed["Data"]["Disassociated"], "2");
    let associated = fleet.cloud.emulator.associated_lambda_functions();
    assert!(!associated.contains(&start_chat));
    assert!(associated.contains(&check_emergency), "an association we did not make stays");
    assert!(!bots().await.contains(&bot));

    // Ours again, then removed by hand before the stack is deleted: Delete still succeeds.
    request("Update", properties(&[&start_chat], &[]), Some(physical.clone())).await;
    connect
        .disassociate_lambda_function()
        .instance_id(&fixture.connect.instance_id)
        .function_arn(&start_chat)
        .send()
        .await
        .unwrap();
    let deleted = request("Delete", properties(&[&start_chat], &[]), Some(physical)).await;
    assert_eq!(deleted["Data"]["Disassociated"], "1");
    assert!(fleet.cloud.emulator.associated_lambda_functions().contains(&check_emergency));
}

/// `switchboard-local flows plan|apply` and `call --deployed`, as a developer runs them against a
/// running local cloud (its cloud file names this test's cloud).
#[tokio::test]
async fn the_commands_plan_apply_and_play_the_deployed_flows() {
    let fleet = Fleet::start_with(fresh_instance(), BTreeMap::new()).await;
    let cloud_file = std::env::temp_dir().join(format!("switchboard-flows-{}.json", uuid_like()));
    let file =
        switchboard_local::cloud_file::CloudFile::describe(&fleet.cloud, fleet.cloud.fleet().unwrap().endpoint());
    std::fs::write(&cloud_file, serde_json::to_string(&file).unwrap()).unwrap();
    let run = |args: &'static [&'static str]| {
        let cloud_file = cloud_file.clone();
        tokio::task::spawn_blocking(move || {
            let output =
                std::process::Command::new(switchboard_local::cloud::debug_binaries().join("switchboard-local"))
                    .args(args)
                    .current_dir(switchboard_local::repo_root())
                    .env("SWITCHBOARD_CLOUD_FILE", &cloud_file)
                    .output()
                    .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            println!("{args:?}:\n{stdout}{}", String::from_utf8_lossy(&output.stderr));
            (output.status.success(), stdout)
        })
    };

    let (ok, plan) = run(&["flows", "plan"]).await.unwrap();
    assert!(ok);
    assert!(plan.contains("CREATE     Emergency_Authentication ← emergency/Emergency_Authentication"), "{plan}");
    assert!(plan.ends_with("PLANNED (0 writes)\n"), "{plan}");
    let (ok, apply) = run(&["flows", "apply"]).await.unwrap();
    assert!(ok && apply.ends_with("APPLIED (10 writes)\n"), "{apply}");
    let (ok, again) = run(&["flows", "apply"]).await.unwrap();
    assert!(ok && again.ends_with("NO_CHANGES (0 writes)\n"), "{again}");

    let (ok, call) = run(&[
        "call",
        "--deployed",
        "Emergency_Authentication",
        "--from",
        "+61412345678",
        "--to",
        "+61255509999",
        "--input",
        "auto",
        "--input",
        "1",
        "--input",
        "1",
        "--input",
        "1",
    ])
    .await
    .unwrap();
    assert!(ok, "{call}");
    assert!(call.contains("Done. Sydney is now set to: Severe Weather."), "{call}");
    let _ = std::fs::remove_file(cloud_file);
}

fn uuid_like() -> String {
    format!("{}-{}", std::process::id(), time::OffsetDateTime::now_utc().unix_timestamp_nanos())
}
