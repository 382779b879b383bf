//! The local cloud's own checks: wire compatibility through the real SDK clients, the runtime host's
//! failure modes, process clean-up, and the flow runner's refusals.

use std::{collections::BTreeMap, time::Duration};

use aws_sdk_pinpoint::{
    error::ProvideErrorMetadata,
    types::{
        AddressConfiguration, ChannelType, DirectMessageConfiguration, MessageRequest, NumberValidateRequest,
        SmsMessage,
    },
};
use switchboard_local::{
    cloud::{self, LocalCloud},
    emulator::LocalNumber,
    fixture::{Fixture, NumberInfo},
    flow::{Call, Ending, FlowError, FlowLibrary, Runner, Services, Step},
    lambda_host::{FunctionSpec, InvokeClient, LambdaHost},
    moto::Moto,
};

fn fixture() -> Fixture {
    Fixture::load(&Fixture::default_path()).expect("fixture")
}

async fn pinpoint(cloud: &LocalCloud) -> aws_sdk_pinpoint::Client {
    let sdk = cloud.sdk_config().await;
    aws_sdk_pinpoint::Client::from_conf(
        aws_sdk_pinpoint::config::Builder::from(&sdk).endpoint_url(cloud.emulator.endpoint()).build(),
    )
}

fn sms_request(to: &str) -> MessageRequest {
    MessageRequest::builder()
        .addresses(to, AddressConfiguration::builder().channel_type(ChannelType::Sms).build())
        .message_configuration(
            DirectMessageConfiguration::builder()
                .sms_message(SmsMessage::builder().body("Your one-time PIN is 424242.").sender_id("Test").build())
                .build(),
        )
        .build()
}

#[tokio::test]
async fn pinpoint_emulator_speaks_the_wire_protocol_of_the_real_sdk() {
    let cloud = LocalCloud::services(fixture()).await.unwrap();
    let client = pinpoint(&cloud).await;
    let app = cloud.fixture.pinpoint.application_id.clone();

    for (number, expected) in [("+61412345678", "MOBILE"), ("+61298765432", "LANDLINE"), ("+15550000000", "INVALID")] {
        let answer = client
            .phone_number_validate()
            .number_validate_request(NumberValidateRequest::builder().phone_number(number).build())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.number_validate_response().and_then(|r| r.phone_type()), Some(expected), "{number}");
    }
    let mobile = client
        .phone_number_validate()
        .number_validate_request(NumberValidateRequest::builder().phone_number("+61412345678").build())
        .send()
        .await
        .unwrap();
    let mobile = mobile.number_validate_response().unwrap();
    assert_eq!(mobile.country_code_iso2(), Some("AU"));
    assert_eq!(mobile.phone_type_code(), Some(0));

    // Required fields are checked as the service does: BadRequestException.
    let error = client
        .phone_number_validate()
        .number_validate_request(NumberValidateRequest::builder().build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("BadRequestException"));

    let sent =
        client.send_messages().application_id(&app).message_request(sms_request("+61412345678")).send().await.unwrap();
    let result = &sent.message_response().unwrap().result().unwrap()["+61412345678"];
    assert_eq!(result.delivery_status(), Some(&aws_sdk_pinpoint::types::DeliveryStatus::Successful));
    assert_eq!(result.status_code(), Some(200));
    let outbox = cloud.emulator.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].body, "Your one-time PIN is 424242.");
    assert_eq!(outbox[0].sender_id.as_deref(), Some("Test"));
    assert_eq!(Some(outbox[0].message_id.as_str()), result.message_id());

    let failed =
        client.send_messages().application_id(&app).message_request(sms_request("+61400000999")).send().await.unwrap();
    let result = &failed.message_response().unwrap().result().unwrap()["+61400000999"];
    assert_eq!(result.delivery_status(), Some(&aws_sdk_pinpoint::types::DeliveryStatus::PermanentFailure));
    let landline =
        client.send_messages().application_id(&app).message_request(sms_request("+61298765432")).send().await.unwrap();
    assert_eq!(
        landline.message_response().unwrap().result().unwrap()["+61298765432"].delivery_status(),
        Some(&aws_sdk_pinpoint::types::DeliveryStatus::PermanentFailure)
    );
    assert_eq!(cloud.emulator.outbox().len(), 1, "failed deliveries do not land in the outbox");

    // Unknown ids are NotFoundException; operations we do not emulate answer at once with an error.
    let error = client
        .send_messages()
        .application_id("0000")
        .message_request(sms_request("+61412345678"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("NotFoundException"));
    let error =
        tokio::time::timeout(Duration::from_secs(5), client.get_apps().send()).await.expect("no hang").unwrap_err();
    assert_eq!(error.code(), Some("UnknownOperationException"));
}

#[tokio::test]
async fn registered_numbers_validate_and_receive_sms_like_the_fixtures() {
    let cloud = LocalCloud::services(fixture()).await.unwrap();
    let client = pinpoint(&cloud).await;
    let number = "+61470000001";
    let info = NumberInfo { phone_type: "MOBILE".into(), country_code_iso2: "AU".into(), carrier: None };
    cloud.pinpoint_number(&LocalNumber { phone_number: number.into(), info }).await.unwrap();

    let answer = client
        .phone_number_validate()
        .number_validate_request(NumberValidateRequest::builder().phone_number(number).build())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.number_validate_response().and_then(|r| r.phone_type()), Some("MOBILE"));
    let app = cloud.fixture.pinpoint.application_id.clone();
    client.send_messages().application_id(&app).message_request(sms_request(number)).send().await.unwrap();
    let outbox = cloud.emulator.outbox();
    assert_eq!(outbox.last().map(|s| s.to.as_str()), Some(number));
    assert_eq!(outbox.last().and_then(|s| s.pin()), Some("424242"));
}

#[tokio::test]
async fn seeded_tables_match_the_template_layout() {
    let cloud = LocalCloud::services(fixture()).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&cloud.sdk_config().await);
    let table = dynamodb.describe_table().table_name(&cloud.fixture.emergency.table_name).send().await.unwrap();
    let keys: Vec<_> = table.table().unwrap().key_schema().iter().map(|k| k.attribute_name().to_owned()).collect();
    assert_eq!(keys, ["pk", "sk"]);
    let ttl = dynamodb.describe_time_to_live().table_name(&cloud.fixture.emergency.table_name).send().await.unwrap();
    assert_eq!(ttl.time_to_live_description().and_then(|t| t.attribute_name()), Some("ttl"));
    let admins = dynamodb.scan().table_name(&cloud.fixture.emergency.table_name).send().await.unwrap();
    assert_eq!(admins.count() as usize, cloud.fixture.emergency.admins.len());
}

#[tokio::test]
async fn a_function_that_fails_its_cold_start_fails_invocations_at_once_naming_the_variable() {
    let binary = cloud::debug_binaries().join("check-emergency");
    let spec = FunctionSpec {
        name: "check-emergency".into(),
        binary,
        env: BTreeMap::from([("AWS_REGION".to_owned(), "ap-southeast-2".to_owned())]), // no EMERGENCY_TABLE
        timeout: Duration::from_secs(8),
    };
    let host = LambdaHost::start(vec![spec], "ap-southeast-2", "123456789012").await.unwrap();
    let lambda = InvokeClient::new(host.endpoint());
    let started = std::time::Instant::now();
    let error = lambda.invoke("check-emergency", &serde_json::json!({})).await.unwrap_err();
    assert!(error.contains("Runtime.ExitError"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "the exit is noticed, not waited out");
    let logs = host.logs();
    assert!(
        logs.iter().any(|l| l.line.contains("cold start failed") && l.line.contains("EMERGENCY_TABLE")),
        "{logs:#?}"
    );
    let error = lambda.invoke("no-such-function", &serde_json::json!({})).await.unwrap_err();
    assert!(error.starts_with("404"), "{error}");
}

#[tokio::test]
async fn processes_are_stopped_by_process_id_when_dropped() {
    let moto = Moto::start().await.unwrap();
    let pid = moto.pid().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(moto);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    // A killed child stays a zombie until reaped; count it gone once it is no longer running.
    let running = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| stat.split_whitespace().nth(2).is_none_or(|state| state != "Z"))
            .unwrap_or(false)
    };
    while running(pid) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!running(pid), "moto_server {pid} still runs");
}

/// DynamoDB answers a TransactWriteItems repeated with its `ClientRequestToken` (as an SDK retry
/// after a lost answer is) as it answered the first, without applying it again; moto alone re-ran
/// it and failed the retry's conditions. The full semantics: `tools/test_moto_server.py`.
#[tokio::test]
async fn a_transaction_retried_with_its_token_is_answered_as_the_first() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, Put, ScalarAttributeType, TransactWriteItem,
    };
    let moto = Moto::start().await.unwrap();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-2"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(format!("http://127.0.0.1:{}", moto.port))
        .load()
        .await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    dynamodb
        .create_table()
        .table_name("tokens")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap();
    let put_new = |pk: &str| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name("tokens")
                    .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let transact = |pk: &str, token: Option<&str>| {
        dynamodb
            .transact_write_items()
            .transact_items(put_new(pk))
            .set_client_request_token(token.map(str::to_owned))
            .send()
    };
    transact("a", Some("token-1")).await.unwrap();
    transact("a", Some("token-1")).await.expect("the same token and request: the first answer again");
    let mismatch = transact("b", Some("token-1")).await.unwrap_err();
    assert_eq!(mismatch.code(), Some("IdempotentParameterMismatchException"), "{mismatch:?}");
    let b = dynamodb.get_item().table_name("tokens").key("pk", aws_sdk_dynamodb::types::AttributeValue::S("b".into()));
    assert!(b.send().await.unwrap().item.is_none(), "a mismatched request is not applied");
    // A new token (the SDK makes one per call) is a new transaction: its condition fails.
    let again = transact("a", None).await.unwrap_err();
    assert_eq!(again.code(), Some("TransactionCanceledException"), "{again:?}");
}

fn runner_with(flows: &[(&str, serde_json::Value)]) -> (Runner, tempdir::TempDir) {
    let dir = tempdir::TempDir::new();
    std::fs::create_dir_all(dir.path().join("test")).unwrap();
    for (name, flow) in flows {
        std::fs::write(dir.path().join(format!("test/{name}.json")), flow.to_string()).unwrap();
    }
    let services = Services::from_fixture(&fixture(), "http://127.0.0.1:9", "http://127.0.0.1:9");
    (Runner::new(FlowLibrary::new(dir.path()), services), dir)
}

fn call(flow: &str) -> Call {
    Call::voice(flow, "+61400111222", "+61255501000")
}

#[tokio::test]
async fn the_runner_refuses_what_is_not_the_flow_language_endless_loops_and_broken_flows() {
    let unsupported = serde_json::json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "MadeUpAction", "Parameters": {}, "Transitions": {}}]});
    // An action of the language the runner does not model: its error branch, or (none) the end.
    let not_modelled = serde_json::json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "CreateTask", "Parameters": {}, "Transitions": {}}]});
    let not_modelled_with_branch = serde_json::json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "CreateTask", "Parameters": {},
         "Transitions": {"NextAction": "end", "Errors": [{"NextAction": "sorry", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "sorry", "Type": "MessageParticipant", "Parameters": {"Text": "Sorry."}, "Transitions": {"NextAction": "end"}},
        {"Identifier": "end", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]});
    let endless = serde_json::json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "MessageParticipant", "Parameters": {"Text": "again"}, "Transitions": {"NextAction": "a"}}]});
    let dangling = serde_json::json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "MessageParticipant", "Parameters": {"Text": "x"}, "Transitions": {"NextAction": "nowhere"}}]});
    let unreachable_lambda = serde_json::json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "InvokeLambdaFunction", "Parameters": {"LambdaFunctionARN": "{{lambda:gone}}", "InvocationTimeLimitSeconds": "2"},
         "Transitions": {"NextAction": "end", "Errors": [{"NextAction": "sorry", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "sorry", "Type": "MessageParticipant", "Parameters": {"Text": "Sorry."}, "Transitions": {"NextAction": "end"}},
        {"Identifier": "end", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]});
    // A prompt named by an attribute the contact does not have: the Error branch, not a silent prompt.
    let dynamic_prompt = serde_json::json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "MessageParticipant", "Parameters": {"PromptId": "$.Attributes.prompt"},
         "Transitions": {"NextAction": "end", "Errors": [{"NextAction": "sorry", "ErrorType": "NoMatchingError"}]}},
        {"Identifier": "sorry", "Type": "MessageParticipant", "Parameters": {"Text": "Sorry."}, "Transitions": {"NextAction": "end"}},
        {"Identifier": "end", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}]});
    let (runner, _dir) = runner_with(&[
        ("DynamicPrompt", dynamic_prompt),
        ("Unsupported", unsupported),
        ("NotModelled", not_modelled),
        ("NotModelledWithBranch", not_modelled_with_branch),
        ("Endless", endless),
        ("Dangling", dangling),
        ("Unreachable", unreachable_lambda),
    ]);

    match runner.play(call("test/Unsupported")).await {
        Err(FlowError::Unsupported { kind, action, .. }) => {
            assert_eq!((kind.as_str(), action.as_str()), ("MadeUpAction", "a"))
        }
        other => panic!("{other:?}"),
    }
    let unresolved = runner.play(call("test/DynamicPrompt")).await.unwrap();
    assert_eq!(unresolved.prompts(), ["Sorry."], "{unresolved}");
    assert!(unresolved
        .steps
        .contains(&Step::Unresolved { action: "MessageParticipant".into(), reference: "$.Attributes.prompt".into() }));
    let stopped = runner.play(call("test/NotModelled")).await.unwrap();
    assert_eq!(stopped.ending, Some(Ending::NotModelled { action: "CreateTask".into() }));
    let branched = runner.play(call("test/NotModelledWithBranch")).await.unwrap();
    assert!(branched.heard("Sorry."), "{branched}");
    assert!(branched
        .steps
        .contains(&Step::NotModelled { action: "CreateTask".into(), error: "NoMatchingError".into() }));
    assert!(branched.to_string().contains("CreateTask: not modelled locally, takes its NoMatchingError branch"));
    assert!(matches!(runner.play(call("test/Endless")).await, Err(FlowError::TooManySteps(_))));
    let error = runner.play(call("test/Dangling")).await.unwrap_err().to_string();
    assert!(error.contains("nowhere"), "{error}");
    // A function that cannot be reached takes the Error branch, like a Lambda error in Connect.
    let transcript = runner.play(call("test/Unreachable")).await.unwrap();
    assert!(transcript.heard("Sorry."), "{transcript}");
}

/// A temporary directory removed on drop (tests only).
mod tempdir {
    pub struct TempDir(std::path::PathBuf);

    impl TempDir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("switchboard-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[tokio::test]
async fn function_processes_timestamp_init_and_responses_and_report_peak_rss() {
    use switchboard_local::lambda_host::FunctionProcess;
    let spec = FunctionSpec {
        name: "bench-floor".into(),
        binary: cloud::debug_binaries().join("bench-floor"),
        env: BTreeMap::new(),
        timeout: Duration::from_secs(8),
    };
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let process = FunctionProcess::spawn(&spec, "ap-southeast-2", "123456789012", logs).await.unwrap();
    let queued = std::time::Instant::now();
    let first = process.invoke(axum::body::Bytes::from_static(b"{}")).await;
    assert_eq!(first.result.unwrap().as_ref(), br#"{"Result":"OK"}"#);
    let polled = process.first_poll().expect("the runtime polled for its first event");
    assert!(process.started <= polled && polled <= first.posted_at, "start <= init end <= response");
    assert!(first.posted_at >= queued);
    let second = process.invoke(axum::body::Bytes::from_static(b"{}")).await;
    assert!(second.posted_at > first.posted_at);
    assert_eq!(process.first_poll(), Some(polled), "init ends once");
    let rss = process.peak_rss_kib().expect("VmHWM while the process runs");
    assert!(rss > 100 && rss < 1024 * 1024, "{rss} KiB");
}

/// A Connect client for the emulator, signing with `credentials` (STS-assumed ones for
/// GetFederationToken, as ccp-login does).
async fn connect(
    cloud: &LocalCloud,
    credentials: Option<aws_sdk_connect::config::Credentials>,
) -> aws_sdk_connect::Client {
    let sdk = cloud.sdk_config().await;
    let mut config = aws_sdk_connect::config::Builder::from(&sdk).endpoint_url(cloud.emulator.endpoint());
    if let Some(credentials) = credentials {
        config = config.credentials_provider(credentials);
    }
    aws_sdk_connect::Client::from_conf(config.build())
}

#[tokio::test]
async fn connect_emulator_speaks_the_wire_protocol_of_the_real_sdk() {
    use aws_sdk_connect::error::ProvideErrorMetadata;
    let cloud = LocalCloud::services(fixture()).await.unwrap();
    let instance = cloud.fixture.connect.instance_id.clone();
    let alice = cloud.fixture.connect.users[0].clone();
    let plain = connect(&cloud, None).await;

    // DescribeUser: a known user, an unknown user, an unknown instance.
    let described = plain.describe_user().instance_id(&instance).user_id(&alice.id).send().await.unwrap();
    assert_eq!(described.user().and_then(|u| u.username()), Some(alice.username.as_str()));
    assert_eq!(described.user().and_then(|u| u.hierarchy_group_id()), alice.hierarchy_group_id.as_deref());
    let unknown = "00000000-0000-4000-8000-000000000000";
    let missing = plain.describe_user().instance_id(&instance).user_id(unknown).send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
    let other_instance = plain.describe_user().instance_id(unknown).user_id(&alice.id).send().await.unwrap_err();
    assert_eq!(other_instance.code(), Some("ResourceNotFoundException"));

    // DescribeUserHierarchyGroup: the path the user cache stores.
    let group_id = alice.hierarchy_group_id.clone().unwrap();
    let group = plain.describe_user_hierarchy_group().instance_id(&instance).hierarchy_group_id(&group_id).send().await;
    let group = group.unwrap();
    assert_eq!(group.hierarchy_group().and_then(|g| g.id()), Some(group_id.as_str()));
    assert!(group.hierarchy_group().and_then(|g| g.hierarchy_path()).is_some());

    // DescribeContact: registered contacts only.
    let contact = "8f3e0d4a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
    cloud.connect_contact(contact, contact, Some(&alice.id)).await.unwrap();
    let described = plain.describe_contact().instance_id(&instance).contact_id(contact).send().await.unwrap();
    assert_eq!(described.contact().and_then(|c| c.agent_info()).and_then(|a| a.id()), Some(alice.id.as_str()));
    let missing = plain.describe_contact().instance_id(&instance).contact_id(unknown).send().await.unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));

    // GetFederationToken identifies the caller by the session name of the assumed role: a user's
    // name gets tokens; a name that is no user gets Connect's own UserNotFoundException (404).
    let sts = aws_sdk_sts::Client::new(&cloud.sdk_config().await);
    let assumed = |session: &'static str| {
        let sts = sts.clone();
        let role = cloud.fixture.video.ccp_login_role_arn.clone();
        async move {
            let answer = sts.assume_role().role_arn(role).role_session_name(session).send().await.unwrap();
            let c = answer.credentials().unwrap();
            aws_sdk_connect::config::Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_owned()),
                None,
                "test",
            )
        }
    };
    let as_alice = connect(&cloud, Some(assumed("alice_video@example.com").await)).await;
    let tokens = as_alice.get_federation_token().instance_id(&instance).send().await.unwrap();
    assert!(tokens.credentials().and_then(|c| c.access_token()).is_some_and(|t| !t.is_empty()));
    assert_eq!(tokens.user_id(), Some(alice.id.as_str()));
    let as_nobody = connect(&cloud, Some(assumed("nobody@example.com").await)).await;
    let refused = as_nobody.get_federation_token().instance_id(&instance).send().await.unwrap_err();
    assert_eq!(refused.code(), Some("UserNotFoundException"));
    assert_eq!(refused.raw_response().map(|r| r.status().as_u16()), Some(404));

    // An operation the emulator does not implement answers the service's unknown-operation shape.
    let unsupported = plain.list_users().instance_id(&instance).send().await.unwrap_err();
    assert!(unsupported.code().is_some(), "{unsupported:?}");
}

/// The bench's HTTPS: a function reaches moto through a front whose certificate chains to the
/// throwaway CA, trusting it through `SSL_CERT_FILE` as a deployer's extra root; without that
/// root the same request is refused at the handshake, so the front really is TLS.
#[tokio::test]
async fn a_function_reaches_the_local_cloud_over_https_trusting_only_the_throwaway_ca() {
    let cloud = LocalCloud::services(fixture()).await.unwrap();
    let ca_dir = std::env::temp_dir().join(format!("switchboard-tls-test-{}", std::process::id()));
    let mut tls = switchboard_local::tls_front::LocalTls::new(&ca_dir).unwrap();
    let secured = tls.secure(&cloud.function_env()).await.unwrap();
    assert!(secured["AWS_ENDPOINT_URL"].starts_with("https://127.0.0.1:"), "{secured:?}");
    assert_eq!(secured["AWS_ENDPOINT_URL_CONNECT"], secured["AWS_ENDPOINT_URL_PINPOINT"], "one front per endpoint");
    assert_eq!(secured["SSL_CERT_FILE"], tls.ca_file().display().to_string());
    assert!(std::fs::read_to_string(tls.ca_file()).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));

    let spec = |name: &str, env: BTreeMap<String, String>| FunctionSpec {
        name: name.into(),
        binary: cloud::debug_binaries().join("check-emergency"),
        env,
        timeout: Duration::from_secs(8),
    };
    let mut untrusting = secured.clone();
    untrusting.remove("SSL_CERT_FILE");
    let host = LambdaHost::start(
        vec![spec("check-emergency", secured), spec("check-emergency-untrusting", untrusting)],
        "ap-southeast-2",
        "123456789012",
    )
    .await
    .unwrap();
    let lambda = InvokeClient::new(host.endpoint());
    let event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(switchboard_local::repo_root().join("events/check-emergency/sydney.json")).unwrap(),
    )
    .unwrap();

    // No location state is seeded here: the read went through and found none.
    for _ in 0..3 {
        let answer = lambda.invoke("check-emergency", &event).await.unwrap();
        assert_eq!(answer["Result"], "NOT_SET_UP", "{answer}");
    }
    // One connection for all three, as to AWS's keep-alive endpoints (moto itself closes each one).
    let (handshakes, took) = tls.handshakes().snapshot();
    assert_eq!(handshakes, 1, "the function's connection was not kept alive");
    assert!(took > Duration::ZERO, "the handshake's duration was not recorded");

    let refused = lambda.invoke("check-emergency-untrusting", &event).await;
    assert!(refused.as_ref().is_err(), "a read it could not make is a function error: {refused:?}");
    let logs = host.logs();
    let untrusting_lines: Vec<_> = logs.iter().filter(|l| l.function == "check-emergency-untrusting").collect();
    assert!(
        untrusting_lines.iter().any(|l| l.line.to_lowercase().contains("certificate")),
        "the refusal names the certificate: {untrusting_lines:#?}"
    );
    drop(tls);
    let _ = std::fs::remove_dir_all(&ca_dir);
}
