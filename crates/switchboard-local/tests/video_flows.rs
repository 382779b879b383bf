//! The video call escalation flows (`contact-flows/video/`) played on the chat channel, and the
//! repository's flow library as a whole. These flows invoke no Lambda: the runner needs no cloud.

use switchboard_local::{
    fixture::{ConnectUser, Fixture},
    flow::{Call, Channel, Ending, FlowError, FlowLibrary, Runner, Services, Step, Transcript},
};

const CHAT_FLOW: &str = "video/VideoCallEscalationChat";
const QUEUE_FLOW: &str = "video/VideoCallEscalationQueue";
const INVALID_REFERENCE: &str = "your reference is not valid or has expired";
const VALIDATED: &str = "Your reference has been validated";
const TECHNICAL_DIFFICULTIES: &str = "We are experiencing technical difficulties";

fn fixture() -> Fixture {
    Fixture::load(&Fixture::default_path()).expect("fixture")
}

/// The runner on the repository's flows and the fixture's instance; nothing listens at the
/// endpoints, so a flow that tried to invoke a function would take its error branch.
fn runner() -> Runner {
    runner_on(FlowLibrary::repository())
}

fn runner_on(library: FlowLibrary) -> Runner {
    Runner::new(library, Services::from_fixture(&fixture(), "http://127.0.0.1:9", "http://127.0.0.1:9"))
}

fn alice() -> ConnectUser {
    let users = fixture().connect.users;
    users.into_iter().find(|u| u.username == "alice_video@example.com").expect("Alice is a fixture user")
}

/// A chat from Ana, as `start-chat` starts it.
fn chat() -> Call {
    Call::chat(CHAT_FLOW).with_attribute("customerName", "Ana")
}

async fn play(runner: &Runner, call: Call) -> Transcript {
    let transcript = runner.play(call).await.expect("the flow runs");
    println!("{transcript}");
    transcript
}

fn queue_steps(transcript: &Transcript) -> Vec<&Step> {
    transcript.steps.iter().filter(|s| matches!(s, Step::TargetQueue { .. } | Step::TargetAgentQueue { .. })).collect()
}

fn routing_steps(transcript: &Transcript) -> Vec<&Step> {
    transcript.steps.iter().filter(|s| matches!(s, Step::RoutingBehaviour { .. })).collect()
}

fn queue_flow_hook() -> Step {
    Step::EventHook { hook: "CustomerQueue".into(), flow: QUEUE_FLOW.into() }
}

#[tokio::test]
async fn an_invalid_reference_is_told_so_and_disconnected_without_queueing() {
    let transcript = play(&runner(), chat().with_attribute("videoReferenceId", "error")).await;

    assert_eq!(transcript.channel, Channel::Chat);
    assert!(transcript.heard("Hi, Ana!"), "{transcript}");
    assert!(transcript.heard(INVALID_REFERENCE), "{transcript}");
    assert!(!transcript.heard(VALIDATED), "{transcript}");
    assert_eq!(transcript.ending, Some(Ending::Disconnected));
    assert!(queue_steps(&transcript).is_empty(), "no working queue was set: {transcript}");
    assert!(!transcript.steps.contains(&queue_flow_hook()), "{transcript}");
    assert!(routing_steps(&transcript).is_empty(), "{transcript}");
}

#[tokio::test]
async fn a_valid_reference_routed_to_alice_is_raised_and_queued_on_her_personal_queue() {
    let alice = alice();
    let call = chat().with_attribute("videoReferenceId", "4711").with_attribute("videoRouteToAgent", &alice.username);
    let transcript = play(&runner(), call).await;

    assert!(transcript.heard(VALIDATED), "{transcript}");
    assert!(!transcript.heard(INVALID_REFERENCE), "{transcript}");
    // Priority 1 (the smallest) is routed before every other contact in the queue.
    assert_eq!(
        routing_steps(&transcript),
        [&Step::RoutingBehaviour { queue_priority: Some(1), queue_time_adjustment_seconds: None }]
    );
    assert!(transcript.steps.contains(&queue_flow_hook()), "{transcript}");
    assert_eq!(
        queue_steps(&transcript),
        [&Step::TargetAgentQueue { agent: alice.username.clone(), agent_id: alice.id.clone() }]
    );
    assert_eq!(transcript.ending, Some(Ending::QueuedForAgent { agent: alice.username, agent_id: alice.id }));
    // The message says validated before the priority changes, as in the original flow.
    let validated =
        transcript.steps.iter().position(|s| matches!(s, Step::Prompt { text } if text.contains(VALIDATED)));
    let raised = transcript.steps.iter().position(|s| matches!(s, Step::RoutingBehaviour { .. }));
    assert!(validated < raised, "{transcript}");
    // No Lambda: these flows are integrated through contact attributes only.
    assert!(!transcript.steps.iter().any(|s| matches!(s, Step::Invoke { .. })), "{transcript}");
}

#[tokio::test]
async fn the_agent_may_also_be_named_by_user_id_or_user_arn() {
    let alice = alice();
    let arn = format!("{}/agent/{}", fixture().instance_arn(), alice.id);
    for reference in [alice.id.clone(), arn] {
        let transcript = play(&runner(), chat().with_attribute("videoRouteToAgent", reference)).await;
        assert_eq!(
            transcript.ending,
            Some(Ending::QueuedForAgent { agent: alice.username.clone(), agent_id: alice.id.clone() })
        );
    }
}

#[tokio::test]
async fn without_a_reference_or_an_agent_the_customer_is_greeted_and_queued_on_basic_queue() {
    let transcript = play(&runner(), chat()).await;

    assert_eq!(transcript.prompts().first().copied(), Some("Hi, Ana! Welcome to our video contact centre."));
    assert!(!transcript.heard(VALIDATED) && !transcript.heard(INVALID_REFERENCE), "{transcript}");
    assert!(routing_steps(&transcript).is_empty(), "the priority stays as it was: {transcript}");
    assert!(transcript.steps.contains(&queue_flow_hook()), "{transcript}");
    assert_eq!(queue_steps(&transcript), [&Step::TargetQueue { queue: "BasicQueue".into() }]);
    assert_eq!(transcript.ending, Some(Ending::Queued { queue: "BasicQueue".into() }));

    // A reference that is not a number is no reference: no validation, no priority.
    let text_reference = play(&runner(), chat().with_attribute("videoReferenceId", "abc")).await;
    assert!(routing_steps(&text_reference).is_empty(), "{text_reference}");
    assert_eq!(text_reference.ending, Some(Ending::Queued { queue: "BasicQueue".into() }));
}

#[tokio::test]
async fn an_agent_who_is_no_connect_user_takes_the_error_branch() {
    let call =
        chat().with_attribute("videoReferenceId", "4711").with_attribute("videoRouteToAgent", "nobody@example.com");
    let transcript = play(&runner(), call).await;

    assert!(transcript.heard(TECHNICAL_DIFFICULTIES), "{transcript}");
    assert!(queue_steps(&transcript).is_empty(), "{transcript}");
    assert_eq!(transcript.ending, Some(Ending::Disconnected));
}

#[tokio::test]
async fn the_recording_switches_are_off_by_default_and_follow_the_flow_parameters() {
    let switches = |t: &Transcript| {
        (
            t.attributes.get("videoRecordingAutoStartEnabled").cloned(),
            t.attributes.get("videoRecordingStartStopEnabled").cloned(),
        )
    };
    let by_default = play(&runner(), chat()).await;
    assert_eq!(switches(&by_default), (Some("false".into()), Some("false".into())));

    let auto_start = play(&runner(), chat().with_parameter("VideoRecordingAutoStartEnabled", "true")).await;
    assert_eq!(switches(&auto_start), (Some("true".into()), Some("false".into())));

    let both = chat()
        .with_parameter("VideoRecordingAutoStartEnabled", "true")
        .with_parameter("VideoRecordingStartStopEnabled", "true");
    assert_eq!(switches(&play(&runner(), both).await), (Some("true".into()), Some("true".into())));
}

#[tokio::test]
async fn a_full_queue_is_tried_twice_then_the_chat_is_disconnected() {
    let at_capacity = |t: &Transcript| t.steps.iter().filter(|s| **s == Step::QueueAtCapacity).count();

    let once = play(&runner(), chat().with_queue_at_capacity(1)).await;
    assert_eq!(at_capacity(&once), 1);
    assert_eq!(once.ending, Some(Ending::Queued { queue: "BasicQueue".into() }));

    let twice = play(&runner(), chat().with_queue_at_capacity(2)).await;
    assert_eq!(at_capacity(&twice), 2);
    assert_eq!(twice.ending, Some(Ending::Disconnected));
    assert!(!twice.heard(TECHNICAL_DIFFICULTIES), "at capacity is not an error: {twice}");
}

#[tokio::test]
async fn the_customer_queue_flow_loops_its_messages_with_waits() {
    let transcript = play(&runner(), Call::chat(QUEUE_FLOW).leaving_after_messages(4)).await;

    assert_eq!(
        transcript.prompts(),
        [
            "You're next in the queue to speak to your agent.",
            "Thank you for waiting, you're next in the queue to speak to your agent.",
            "Thank you for waiting, you're next in the queue to speak to your agent.",
            "Thank you for waiting, you're next in the queue to speak to your agent.",
        ]
    );
    // Message, then a 20 s wait before each further message.
    let kinds: Vec<String> = transcript
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Prompt { .. } => Some("message".to_owned()),
            Step::Wait { seconds } => Some(format!("wait {seconds}")),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["message", "wait 20", "message", "wait 20", "message", "wait 20", "message"]);
    assert_eq!(transcript.ending, Some(Ending::CustomerLeft { after_messages: 4 }));

    // Nobody leaves: the loop has no exit, and the runner says so instead of hanging.
    let endless = runner().play(Call::chat(QUEUE_FLOW)).await;
    assert!(matches!(endless, Err(FlowError::TooManySteps(_))), "{endless:?}");
}

#[tokio::test]
async fn a_queued_chat_waits_in_the_customer_queue_flow_until_the_customer_leaves() {
    let alice = alice();
    let call = chat()
        .with_attribute("videoReferenceId", "4711")
        .with_attribute("videoRouteToAgent", &alice.username)
        .leaving_after_messages(4);
    let transcript = play(&runner(), call).await;

    // Greeting, validated, then the queue flow's first two messages.
    assert_eq!(transcript.prompts().len(), 4, "{transcript}");
    let entered = transcript.steps.iter().position(|s| *s == Step::Flow { name: QUEUE_FLOW.into() });
    let queued_at = transcript.steps.iter().position(|s| matches!(s, Step::TargetAgentQueue { .. }));
    assert!(queued_at < entered && entered.is_some(), "{transcript}");
    assert!(transcript.heard("Thank you for waiting"), "{transcript}");
    assert_eq!(transcript.steps.last(), Some(&Step::CustomerLeft { after_messages: 4 }));
    assert_eq!(transcript.ending, Some(Ending::QueuedForAgent { agent: alice.username, agent_id: alice.id }));

    // A customer who leaves during the greeting never reaches the queue.
    let early = play(&runner(), chat().leaving_after_messages(1)).await;
    assert_eq!(early.ending, Some(Ending::CustomerLeft { after_messages: 1 }));
    assert!(queue_steps(&early).is_empty(), "{early}");
}

#[tokio::test]
async fn every_flow_in_the_repository_loads_and_uses_only_what_the_runner_supports() {
    let library = FlowLibrary::repository();
    let names = library.names().unwrap();
    for expected in [CHAT_FLOW, QUEUE_FLOW, "emergency/Emergency_Authentication", "identity/IdContact_Inbound"] {
        assert!(names.iter().any(|n| n == expected), "{expected} is in {names:?}");
    }
    assert_eq!(library.problems().unwrap(), Vec::<String>::new());
    // Both video flows are declared, with their Connect types.
    let manifest = library.manifest().unwrap();
    assert_eq!(manifest.flows[CHAT_FLOW].kind, switchboard_local::flow::FlowType::ContactFlow);
    assert_eq!(manifest.flows[QUEUE_FLOW].kind, switchboard_local::flow::FlowType::CustomerQueue);
}

/// A library in a temporary directory: `<root>/test/<name>.json`, and `flows.json` when given.
struct TempLibrary(std::path::PathBuf);

impl TempLibrary {
    fn new(flows: &[(&str, serde_json::Value)], manifest: Option<serde_json::Value>) -> Self {
        let root = std::env::temp_dir().join(format!("switchboard-flows-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(root.join("test")).unwrap();
        for (name, flow) in flows {
            std::fs::write(root.join(format!("test/{name}.json")), flow.to_string()).unwrap();
        }
        if let Some(manifest) = manifest {
            std::fs::write(root.join("flows.json"), manifest.to_string()).unwrap();
        }
        Self(root)
    }

    fn library(&self) -> FlowLibrary {
        FlowLibrary::new(&self.0)
    }
}

impl Drop for TempLibrary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn one_action_flow(action: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [action,
        {"Identifier": "end", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]})
}

#[tokio::test]
async fn the_library_check_and_the_runner_name_what_is_wrong() {
    let set = |value: &str| {
        one_action_flow(serde_json::json!({"Identifier": "a", "Type": "UpdateContactAttributes",
            "Parameters": {"Attributes": {"x": value}}, "Transitions": {"NextAction": "end"}}))
    };
    let unsupported = one_action_flow(serde_json::json!({"Identifier": "a", "Type": "MadeUpAction",
        "Parameters": {}, "Transitions": {"NextAction": "end"}}));
    let hook_to_contact_flow = one_action_flow(
        serde_json::json!({"Identifier": "a", "Type": "UpdateContactEventHooks",
        "Parameters": {"EventHooks": {"CustomerQueue": "{{flow:Unsupported}}"}}, "Transitions": {"NextAction": "end"}}),
    );
    let library = TempLibrary::new(
        &[
            ("Declared", set("{{param:Declared}}")),
            ("Undeclared", set("{{param:Nope}}")),
            ("Unsupported", unsupported),
            ("HookToContactFlow", hook_to_contact_flow),
        ],
        Some(serde_json::json!({
            "test/Declared": {"type": "CONTACT_FLOW", "description": "d", "parameters": {"Declared": "default"}},
            "test/Gone": {"type": "CUSTOMER_QUEUE", "description": "a flow that does not exist"}
        })),
    );

    let problems = library.library().problems().unwrap();
    let mentions = |fragment: &str| problems.iter().any(|p| p.contains(fragment));
    assert!(mentions("{{param:Nope}} has no default"), "{problems:?}");
    assert!(mentions("MadeUpAction is not an action type of the flow language"), "{problems:?}");
    assert!(mentions("flows.json names test/Gone"), "{problems:?}");
    assert_eq!(problems.len(), 3, "{problems:?}");

    let runner = runner_on(library.library());
    let declared = runner.play(Call::chat("test/Declared")).await.unwrap();
    assert_eq!(declared.attributes.get("x").map(String::as_str), Some("default"));
    let given = runner.play(Call::chat("test/Declared").with_parameter("Declared", "given")).await.unwrap();
    assert_eq!(given.attributes.get("x").map(String::as_str), Some("given"));
    let missing = runner.play(Call::chat("test/Undeclared")).await.unwrap_err();
    assert!(matches!(&missing, FlowError::MissingParameter { key, .. } if key == "Nope"), "{missing}");
    assert!(missing.to_string().contains("{{param:Nope}}"), "{missing}");
    // A CustomerQueue hook must name a customer queue flow.
    let hook = runner.play(Call::chat("test/HookToContactFlow")).await.unwrap_err().to_string();
    assert!(hook.contains("CUSTOMER_QUEUE"), "{hook}");

    // A placeholder inside a longer string never resolves: the flow does not load.
    let embedded = TempLibrary::new(&[("Embedded", set("queue {{param:Declared}} now"))], None);
    let error = embedded.library().load("test/Embedded").unwrap_err().to_string();
    assert!(error.contains("whole value"), "{error}");
}

#[tokio::test]
async fn wait_is_a_chat_action_and_takes_the_error_branch_on_a_call() {
    let wait = one_action_flow(serde_json::json!({"Identifier": "a", "Type": "Wait",
        "Parameters": {"TimeoutSeconds": "5"},
        "Transitions": {"NextAction": "end", "Errors": [{"NextAction": "sorry", "ErrorType": "NoMatchingError"}],
            "Conditions": [{"NextAction": "end", "Condition": {"Operator": "Equals", "Operands": ["WaitCompleted"]}}]}}));
    let mut wait = wait;
    wait["Actions"].as_array_mut().unwrap().push(serde_json::json!({"Identifier": "sorry",
        "Type": "MessageParticipant", "Parameters": {"Text": "Sorry."}, "Transitions": {"NextAction": "end"}}));
    let library = TempLibrary::new(&[("Wait", wait)], None);
    let runner = runner_on(library.library());

    let chat = play(&runner, Call::chat("test/Wait")).await;
    assert!(chat.steps.contains(&Step::Wait { seconds: 5 }), "{chat}");
    assert!(!chat.heard("Sorry."), "{chat}");
    let call = play(&runner, Call::voice("test/Wait", "+61400111222", "+61255501000")).await;
    assert!(call.heard("Sorry."), "{call}");
    assert!(!call.steps.iter().any(|s| matches!(s, Step::Wait { .. })), "{call}");
}
