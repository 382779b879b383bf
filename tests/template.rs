//! The fleet's contract with its template and sample events: every function crate has a template
//! resource and sample events (and the reverse), and every sample event gets a well-formed answer
//! from the real binary.

use std::{collections::BTreeSet, path::Path};

use serde_json::{json, Value};
use switchboard_fleet_tests::{logical_id, Fleet};
use switchboard_local::{
    cloud::{function_names, sample_events},
    lambda_host::InvokeClient,
    repo_root,
};

/// The `CodeUri: functions/<name>` entries of the template, in order.
fn template_functions(template: &str) -> Vec<String> {
    template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("CodeUri: functions/"))
        .map(|name| name.trim().trim_end_matches('/').to_owned())
        .collect()
}

#[test]
fn every_function_has_a_template_resource_and_sample_events_and_the_reverse() {
    let functions: BTreeSet<String> = function_names().unwrap().into_iter().collect();
    assert!(!functions.is_empty());
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let in_template: BTreeSet<String> = template_functions(&template).into_iter().collect();
    assert_eq!(functions, in_template, "function crates vs. CodeUri entries in template.yaml");

    for function in &functions {
        let id = logical_id(function);
        let header = format!("\n  {id}:\n    Type: AWS::Serverless::Function\n");
        assert!(template.contains(&header), "template.yaml has no resource {id} for functions/{function}");
        assert!(!sample_events(function).is_empty(), "events/{function}/ has no sample event");
    }

    let event_dirs: BTreeSet<String> = std::fs::read_dir(repo_root().join("events"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    assert_eq!(event_dirs, functions, "events/ folders vs. function crates");
}

#[test]
fn logical_ids_follow_the_naming_rule() {
    assert_eq!(logical_id("one-time-pin"), "OneTimePinFunction");
    assert_eq!(logical_id("check-emergency"), "CheckEmergencyFunction");
    assert_eq!(template_functions("  X:\n    Properties:\n      CodeUri: functions/a-b/\n"), ["a-b"]);
}

#[tokio::test]
async fn every_sample_event_gets_a_well_formed_answer() {
    let fleet = Fleet::start().await;
    let lambda = InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    for function in function_names().unwrap() {
        for path in sample_events(&function) {
            let name = path.strip_prefix(repo_root()).unwrap_or(Path::new("")).display().to_string();
            let mut event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if event.get("ResponseURL").is_some() {
                // A custom resource answers CloudFormation at the ResponseURL: here, the emulator's.
                let request_id =
                    event["RequestId"].as_str().unwrap_or_else(|| panic!("{name}: no RequestId")).to_owned();
                event["ResponseURL"] = fleet.cloud.emulator.custom_resource_response_url(&request_id).into();
                lambda.invoke(&function, &event).await.unwrap_or_else(|e| panic!("{name}: {e}"));
                let answers = fleet.cloud.emulator.custom_resource_responses();
                let answer = answers.iter().rev().find(|a| a.request_id == request_id);
                assert_custom_resource_answer(
                    &name,
                    &event,
                    &answer.unwrap_or_else(|| panic!("{name}: no answer")).body,
                );
                continue;
            }
            if event.get("detail-type").is_some() {
                // An EventBridge event: an outcome, or (a fault EventBridge should retry, e.g. the
                // sample's instance is not registered here) a Lambda error of a named kind.
                match lambda.invoke(&function, &event).await {
                    Ok(answer) => assert_upper_snake(&name, answer["result"].as_str().unwrap_or_default()),
                    Err(error) => assert!(error.contains(r#""errorType":"DependencyError""#), "{name}: {error}"),
                }
                continue;
            }
            let answer = lambda.invoke(&function, &event).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            if event.get("mode").is_some() {
                // provision-flows' direct invoke answers its report.
                let result = answer["result"].as_str().unwrap_or_default();
                assert!(["PLANNED", "APPLIED", "NO_CHANGES"].contains(&result), "{name}: {answer}");
                assert!(answer["flows"].as_array().is_some_and(|f| !f.is_empty()), "{name}: {answer}");
            } else if event.get("version").and_then(|v| v.as_str()) == Some("2.0") {
                assert_http_envelope(&name, &answer);
            } else {
                assert_flow_result(&name, &answer);
            }
        }
    }
}

/// A custom resource answers SUCCESS, or FAILED with a reason, echoing the request's ids.
fn assert_custom_resource_answer(name: &str, event: &serde_json::Value, answer: &serde_json::Value) {
    for echoed in ["RequestId", "StackId", "LogicalResourceId"] {
        assert_eq!(answer[echoed], event[echoed], "{name}: {echoed} in {answer}");
    }
    assert!(answer["PhysicalResourceId"].as_str().is_some_and(|id| !id.is_empty()), "{name}: {answer}");
    match answer["Status"].as_str() {
        Some("SUCCESS") => {}
        Some("FAILED") => assert!(answer["Reason"].as_str().is_some_and(|r| !r.is_empty()), "{name}: {answer}"),
        _ => panic!("{name}: no Status in {answer}"),
    }
}

fn assert_upper_snake(name: &str, code: &str) {
    assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{name}: code {code:?}");
}

/// A Connect flow function answers a flat map of strings with an UPPER_SNAKE `Result`.
fn assert_flow_result(name: &str, answer: &serde_json::Value) {
    let object = answer.as_object().unwrap_or_else(|| panic!("{name}: not an object: {answer}"));
    assert!(object.values().all(serde_json::Value::is_string), "{name}: nested or non-string values: {answer}");
    let code = object.get("Result").and_then(|v| v.as_str()).unwrap_or_default();
    assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{name}: Result {code:?}");
}

/// An HTTP function answers a proxy response whose body is the success or the error envelope.
fn assert_http_envelope(name: &str, answer: &serde_json::Value) {
    let status = answer.get("statusCode").and_then(|s| s.as_u64()).unwrap_or_else(|| panic!("{name}: {answer}"));
    let text = answer.get("body").and_then(|b| b.as_str()).unwrap_or_default();
    if status == 200 && text.is_empty() {
        return; // a contract with an empty success body (session_result)
    }
    let body: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: body is not JSON: {e}"));
    if status == 200 {
        // The envelope, or a wire contract of its own (ID Contact's raw objects).
        if body.get("success").is_some() {
            assert!(body.get("success").is_some_and(|s| s.is_string()) && body.get("data").is_some(), "{name}: {body}");
        }
    } else {
        assert!(status < 500, "{name}: a sample event must not fail on a dependency: {status} {body}");
        for field in ["message", "code", "requestId"] {
            assert!(body.get(field).is_some_and(|s| s.is_string()), "{name}: no {field} in {body}");
        }
    }
}

/// The text of one resource of the template: from its logical id to the next line indented by
/// exactly two spaces.
fn resource_text<'a>(template: &'a str, id: &str) -> &'a str {
    let start = template.find(&format!("\n  {id}:\n")).unwrap_or_else(|| panic!("no {id}"));
    let rest = &template[start + 1..];
    let end = rest.match_indices("\n  ").find(|(i, _)| !rest[i + 3..].starts_with(' ')).map_or(rest.len(), |(i, _)| i);
    &rest[..end]
}

/// `[a, b]` or `a` after `key:` on a line, as a list.
fn inline_list(line: &str, key: &str) -> Option<Vec<String>> {
    let value = line.trim().strip_prefix(key)?.trim();
    let inner = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(value);
    Some(inner.split(',').map(|s| s.trim().trim_matches('\'').to_owned()).filter(|s| !s.is_empty()).collect())
}

/// What a function's policy grants on DynamoDB: each action with the leading-key prefixes it may touch.
fn dynamodb_grants(resource: &str) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let mut grants = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
    let statements = resource.split("- Sid:").skip(1);
    for statement in statements {
        let actions = statement.lines().find_map(|l| inline_list(l, "Action:")).unwrap_or_default();
        let prefixes = statement.lines().find_map(|l| inline_list(l, "dynamodb:LeadingKeys:")).unwrap_or_default();
        for action in actions.into_iter().filter(|a| a.starts_with("dynamodb:")) {
            grants.entry(action).or_default().extend(prefixes.iter().cloned());
        }
    }
    grants
}

#[test]
fn assign_id_is_granted_exactly_the_dynamodb_actions_it_performs_on_each_key_prefix() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let grants = dynamodb_grants(resource_text(&template, "AssignIdFunction"));
    let set = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    let expected = std::collections::BTreeMap::from([
        // The attempt counter, the code pointer and the session are read.
        ("dynamodb:GetItem".to_owned(), set(&["ATTEMPTS#*", "DTMF#*", "SESSION#*"])),
        // Contact pointers are put (in the linking transaction).
        ("dynamodb:PutItem".to_owned(), set(&["CONTACT#*"])),
        // The session's linkedContactIds and the wrong-code counter are updated.
        ("dynamodb:UpdateItem".to_owned(), set(&["ATTEMPTS#*", "SESSION#*"])),
    ]);
    assert_eq!(grants, expected);
}

#[test]
fn cors_allows_the_agent_apps_headers_and_names_no_origin_by_default() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let parameter = resource_text(&template, "CorsAllowedOrigins");
    assert!(!parameter.contains("Default:"), "a deploy names its origins: {parameter}");
    // The local gateway answers preflights with the same configuration.
    use switchboard_local::cloud::{CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_MAX_AGE_SECONDS};
    let api = resource_text(&template, "AgentApi");
    let list = |key: &str| api.lines().find_map(|l| inline_list(l, key)).unwrap_or_else(|| panic!("no {key}"));
    assert_eq!(list("AllowHeaders:"), CORS_ALLOW_HEADERS);
    assert_eq!(list("AllowMethods:"), CORS_ALLOW_METHODS);
    assert_eq!(list("MaxAge:"), [CORS_MAX_AGE_SECONDS.to_string()]);
    for header in ["Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-User-Agent"] {
        assert!(CORS_ALLOW_HEADERS.contains(&header), "Amplify's SigV4 header {header} is not allowed");
    }
}

#[test]
fn the_local_gateway_routes_are_the_templates_routes() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let rendered = rendered_template();
    for route in switchboard_local::cloud::HTTP_ROUTES {
        let id = logical_id(route.function);
        if route.access == switchboard_local::gateway::Access::Webhook {
            // The webhook's route is written out (an ApiGatewayV2 Route on WebhookApi), not a SAM event.
            let resources = &rendered["Resources"];
            assert_eq!(resources["WebhookRoute"]["Properties"]["RouteKey"], format!("{} {}", route.method, route.path));
            assert_eq!(resources["WebhookRoute"]["Properties"]["ApiId"], json!({"Ref": "WebhookApi"}));
            assert_eq!(
                resources["WebhookIntegration"]["Properties"]["IntegrationUri"],
                json!({"Fn::GetAtt": [id, "Arn"]}),
                "the webhook's route reaches {id}"
            );
            continue;
        }
        let resource = resource_text(&template, &id);
        // The local cloud always serves a route; the template may declare it behind a condition, which
        // must then be recording's (the only optional context with routes on the agent API).
        let condition = &rendered["Resources"][id.as_str()]["Condition"];
        let recording = RECORDING_FUNCTIONS.contains(&route.function);
        let expected = if recording { json!("RecordingEnabled") } else { Value::Null };
        assert_eq!(*condition, expected, "{id}: the condition of {} {}", route.method, route.path);
        let has = |line: String| resource.lines().any(|l| l.trim() == line);
        assert!(has(format!("Path: {}", route.path)), "{id} has no Path: {}", route.path);
        assert!(has(format!("Method: {}", route.method)), "{id} has no Method: {}", route.method);
        use switchboard_local::gateway::Access;
        let (api, authorizer) = match route.access {
            Access::Agent => ("AgentApi", None), // the API's default: the Cognito JWT authorizer
            Access::Iam => ("IdentityApi", Some("Authorizer: AWS_IAM")),
            Access::Public => ("IdentityApi", Some("Authorizer: NONE")),
            Access::AgentPublic => ("AgentApi", Some("Authorizer: NONE")),
            Access::Webhook => unreachable!("checked above"),
        };
        assert!(has(format!("ApiId: !Ref {api}")), "{id} is not on {api}");
        if let Some(authorizer) = authorizer {
            assert!(has(authorizer.into()), "{id} lacks {authorizer}");
        }
    }
    // And the reverse: every route of the template's APIs (conditional or not) is a local route.
    let mut declared = BTreeSet::new();
    for (id, function) in resources(&rendered, "AWS::Serverless::Function") {
        let events = function["Properties"]["Events"].as_object().into_iter().flat_map(|e| e.values());
        for event in events.filter(|e| e["Type"] == "HttpApi") {
            let properties = &event["Properties"];
            let api = properties["ApiId"]["Ref"].as_str().unwrap_or_default();
            let method = properties["Method"].as_str().unwrap_or_default().to_owned();
            let path = properties["Path"].as_str().unwrap_or_default().to_owned();
            if api == "AgentApi" || api == "IdentityApi" {
                declared.insert((method, path, id.to_owned()));
            }
        }
    }
    for (_, route) in resources(&rendered, "AWS::ApiGatewayV2::Route") {
        let key = route["Properties"]["RouteKey"].as_str().unwrap_or_default();
        let (method, path) = key.split_once(' ').unwrap_or_default();
        declared.insert((method.to_owned(), path.to_owned(), "GithubWebhookFunction".to_owned()));
    }
    let local: BTreeSet<(String, String, String)> = switchboard_local::cloud::HTTP_ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned(), logical_id(r.function)))
        .collect();
    assert_eq!(declared, local, "the template's routes vs. the local gateway's");
}

#[test]
fn the_app_client_cannot_write_the_connect_user_id_locally_or_in_the_template() {
    use switchboard_local::cloud::{CLIENT_READ_ATTRIBUTES, CLIENT_WRITE_ATTRIBUTES};
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    // Every client of the pool: AgentUserPoolClient and, with the desktop, DesktopUserPoolClient.
    let lists = |key: &str| -> Vec<Vec<String>> {
        let lines: Vec<&str> = template.lines().filter(|l| l.trim_start().starts_with(key)).collect();
        assert_eq!(lines.len(), 2, "{key} of the agent-app's and the desktop's clients");
        let list = |line: &str| -> Vec<String> {
            let inner = line.split('[').nth(1).and_then(|r| r.split(']').next()).unwrap_or_default();
            inner.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
        };
        lines.into_iter().map(list).collect()
    };
    for list in lists("WriteAttributes:") {
        assert_eq!(list, CLIENT_WRITE_ATTRIBUTES);
    }
    for list in lists("ReadAttributes:") {
        assert_eq!(list, CLIENT_READ_ATTRIBUTES);
    }
    assert!(!CLIENT_WRITE_ATTRIBUTES.contains(&"custom:connectUserId"));
    assert!(template.contains("IdentitySource: $request.header.cognitoIdToken"));
}

#[test]
fn every_flow_loads_and_every_lambda_placeholder_names_a_function() {
    let library = switchboard_local::flow::FlowLibrary::repository();
    let functions = function_names().unwrap();
    let names = library.names().unwrap();
    for expected in [
        "emergency/Emergency_Authentication",
        "emergency/Emergency_Update",
        "emergency/Emergency_Demo",
        "identity/IdContact_Inbound",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} is missing from contact-flows/: {names:?}");
    }
    for name in names {
        let flow = library.load(&name).unwrap_or_else(|e| panic!("{e}"));
        for action in &flow.actions {
            if let Some(arn) = action.parameters.get("LambdaFunctionARN").and_then(|v| v.as_str()) {
                let function = arn.trim_start_matches("{{lambda:").trim_end_matches("}}");
                assert!(functions.iter().any(|f| f == function), "{name}: {arn} is not a function crate");
            }
        }
    }
}

/// Nothing deployed links OpenSSL (the JOSE code runs on aws-lc-rs, which rustls brings anyway): not
/// natively, and not for Lambda's arm64, where OpenSSL once had to be built from source. `josekit`,
/// on OpenSSL, is a dev-dependency only, for the JWE tests' independent implementation.
#[test]
fn no_deployed_code_depends_on_openssl() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for target in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        for package in ["openssl-sys", "openssl"] {
            let output = std::process::Command::new(&cargo)
                .current_dir(repo_root())
                .args(["tree", "--workspace", "-e", "normal,build", "--target", target, "-i", package])
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            let absent = stderr.contains("did not match any packages") || stderr.contains("nothing to print");
            assert!(stdout.trim().is_empty() && absent, "{package} for {target}:\n{stdout}{stderr}");
        }
    }
}

#[test]
fn the_public_agent_routes_are_throttled_and_start_chat_may_start_only_the_video_flow() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let api = resource_text(&template, "AgentApi");
    use switchboard_local::gateway::Access;
    let public: Vec<_> =
        switchboard_local::cloud::HTTP_ROUTES.iter().filter(|r| r.access == Access::AgentPublic).collect();
    assert_eq!(public.len(), 3, "POST /start, GET /attendee-join-data, GET /attendee-name");
    for route in public {
        let key = format!("        {} {}:\n", route.method, route.path);
        let at = api.find(&key).unwrap_or_else(|| panic!("no RouteSettings for {} {}", route.method, route.path));
        let settings: Vec<&str> = api[at + key.len()..].lines().take(2).map(str::trim).collect();
        assert_eq!(
            settings,
            ["ThrottlingBurstLimit: !Ref PublicRouteBurstLimit", "ThrottlingRateLimit: !Ref PublicRouteRateLimit"],
            "{} {}",
            route.method,
            route.path
        );
    }
    let start_chat = resource_text(&template, "StartChatFunction");
    assert!(start_chat.contains("Action: connect:StartChatContact\n"));
    // The given flow, or the one ContactFlows deployed: the id is the last part of its ARN.
    assert!(start_chat.contains(
        "Resource: !If [ChatFlowFromStack, !GetAtt ContactFlows.VideoCallEscalationChatArn, !Sub ['${Instance}/contact-flow/${VideoChatContactFlowId}', {Instance: !If [CreateConnectInstance, !GetAtt ConnectInstance.Arn, !Ref ConnectInstanceArn]}]]"
    ));
    assert!(start_chat.contains(
        "CHAT_CONTACT_FLOW_IDS: !If [ChatFlowFromStack, !Select [3, !Split ['/', !GetAtt ContactFlows.VideoCallEscalationChatArn]], !Ref VideoChatContactFlowId]"
    ));
    assert!(resource_text(&template, "AllowClientAgentRouting").contains("Default: 'false'"));
}

#[test]
fn the_agent_app_config_output_has_every_key_the_clients_read() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let output = resource_text(&template, "AgentAppConfig");
    let start = output.find("- >-\n").expect("the config is a folded string") + 5;
    let end = output.find("- ApiUrl:").expect("ApiUrl is defined");
    // Folded: lines joined by spaces. Every ${Name} becomes a value a deploy would put there.
    let folded = output[start..end].lines().map(str::trim).collect::<Vec<_>>().join(" ");
    let mut text = String::new();
    let mut rest = folded.as_str();
    while let Some(at) = rest.find("${") {
        let close = rest[at..].find('}').unwrap() + at;
        let name = &rest[at + 2..close];
        text.push_str(&rest[..at]);
        text.push_str(if name == "ApiUrl" { "https://api.example" } else { "value" });
        rest = &rest[close + 1..];
    }
    text.push_str(rest);
    let config: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let keys = [
        "userPoolId",
        "userPoolWebClientId",
        "cognitoDomainURL",
        "connectAPI",
        "chimeAPI",
        "meetingAPI",
        "chatAPI",
        "routingAPI",
        "recordingAPI",
        "backendRegion",
        "connectInstanceARN",
        "connectInstanceURL",
        "connectDefaultContactFlowId",
        "websiteAdHocRouteBaseURL",
        "deployRecordingStack",
        "recordingAttendeeName",
    ];
    for key in keys {
        let value = config.get(key).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("no {key} in {config}"));
        if key.ends_with("API") {
            assert_eq!(value, "https://api.example/", "{key}: the clients append route names");
        }
    }
    assert_eq!(config.as_object().unwrap().len(), keys.len(), "{config}");
}

// ===== operations: logs, alarms, failure destinations, tracing (template.yaml, "operations") =====

/// template.yaml as the SAM transform receives it: every `Fn::ForEach` loop expanded (by
/// tools/render_template.py, with SAM CLI's own expansion) and nothing else resolved.
fn rendered_template() -> Value {
    let output = std::process::Command::new(repo_root().join(".venv/bin/python"))
        .current_dir(repo_root())
        .args(["tools/render_template.py", "template.yaml"])
        .output()
        .expect("the .venv python (make setup)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The instance's ARN as every resource names it: the given one, or the one the stack creates.
fn instance_arn() -> Value {
    json!({"Fn::If": ["CreateConnectInstance", {"Fn::GetAtt": ["ConnectInstance", "Arn"]}, {"Ref": "ConnectInstanceArn"}]})
}

/// The template's resources of one type, by logical id.
fn resources<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    let all = template["Resources"].as_object().expect("a Resources section");
    all.iter().filter(|(_, r)| r["Type"] == kind).map(|(id, r)| (id.as_str(), r)).collect()
}

/// `{"Ref": id}` or `{"Fn::GetAtt": [id, …]}`.
fn names(value: &Value, id: &str) -> bool {
    value["Ref"] == id || value["Fn::GetAtt"][0] == id
}

/// What an alarm watches: each metric's name and the value of its one dimension.
fn watched(alarm: &Value) -> Vec<(String, Value)> {
    let properties = &alarm["Properties"];
    let metrics: Vec<&Value> = match properties["Metrics"].as_array() {
        Some(metrics) => metrics.iter().map(|m| &m["MetricStat"]["Metric"]).filter(|m| m.is_object()).collect(),
        None => vec![properties],
    };
    metrics
        .into_iter()
        .map(|m| (m["MetricName"].as_str().unwrap_or_default().to_owned(), m["Dimensions"][0]["Value"].clone()))
        .collect()
}

/// The alarms watching a metric with `dimension`, each with the names of the metrics it watches so.
fn alarms_watching<'a>(alarms: &[(&'a str, &Value)], dimension: &Value) -> Vec<(&'a str, BTreeSet<String>)> {
    alarms
        .iter()
        .map(|(id, alarm)| (*id, watched(alarm).into_iter().filter(|(_, d)| d == dimension).map(|(m, _)| m).collect()))
        .filter(|(_, metrics): &(&str, BTreeSet<String>)| !metrics.is_empty())
        .collect()
}

#[test]
fn every_function_logs_to_its_own_log_group_with_the_configured_retention() {
    let template = rendered_template();
    let functions = resources(&template, "AWS::Serverless::Function");
    assert_eq!(functions.len(), function_names().unwrap().len());
    let mut groups = BTreeSet::new();
    for (id, function) in functions {
        let group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"].as_str();
        let group = group.unwrap_or_else(|| panic!("{id} has no LoggingConfig.LogGroup"));
        let resource = &template["Resources"][group];
        assert_eq!(resource["Type"], "AWS::Logs::LogGroup", "{id}: {group}");
        assert_eq!(resource["Properties"]["RetentionInDays"], json!({"Ref": "LogRetentionDays"}), "{id}: {group}");
        assert!(groups.insert(group), "{id} shares {group}");
    }
}

/// SAM event types through which Lambda invokes a function asynchronously.
const ASYNC_EVENT_TYPES: &[&str] =
    &["EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2", "SNS", "S3", "CloudWatchLogs", "IoTRule"];

/// Functions Lambda invokes asynchronously: through an asynchronous SAM event, as the target of an
/// EventBridge rule or schedule or an SNS subscription, or as a custom resource's provider.
fn asynchronous_functions(template: &Value) -> BTreeSet<String> {
    let functions = resources(template, "AWS::Serverless::Function");
    let mut found: BTreeSet<String> = functions
        .iter()
        .filter(|(_, f)| {
            let events = f["Properties"]["Events"].as_object().into_iter().flat_map(|e| e.values());
            events.into_iter().any(|e| ASYNC_EVENT_TYPES.iter().any(|t| e["Type"] == *t))
        })
        .map(|(id, _)| (*id).to_owned())
        .collect();
    let all = template["Resources"].as_object().into_iter().flat_map(|r| r.values());
    for resource in all {
        let kind = resource["Type"].as_str().unwrap_or_default();
        let properties = &resource["Properties"];
        let invokers: Vec<&Value> = match kind {
            "AWS::CloudFormation::CustomResource" => vec![&properties["ServiceToken"]],
            k if k.starts_with("Custom::") => vec![&properties["ServiceToken"]],
            "AWS::Events::Rule" => {
                properties["Targets"].as_array().map(|t| t.iter().map(|t| &t["Arn"]).collect()).unwrap_or_default()
            }
            "AWS::Scheduler::Schedule" => vec![&properties["Target"]["Arn"]],
            "AWS::SNS::Subscription" => vec![&properties["Endpoint"]],
            _ => continue,
        };
        for (id, _) in &functions {
            if invokers.iter().any(|arn| names(arn, id)) {
                found.insert((*id).to_owned());
            }
        }
    }
    found
}

/// What every asynchronous function carries (template.yaml, above FailedEventsQueue).
fn failure_destination() -> Value {
    json!({"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600,
           "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}}}})
}

/// The asynchronous functions that do not send their failures to FailedEventsQueue as agreed.
fn without_failure_destination(template: &Value) -> Vec<String> {
    let expected = failure_destination();
    let config = |id: &str| &template["Resources"][id]["Properties"]["EventInvokeConfig"];
    asynchronous_functions(template).into_iter().filter(|id| *config(id) != expected).collect()
}

#[test]
fn asynchronous_functions_are_found_however_they_are_invoked_and_need_the_failure_destination() {
    let template = json!({"Resources": {
        "NightlyFunction": {"Type": "AWS::Serverless::Function",
                            "Properties": {"Events": {"Nightly": {"Type": "ScheduleV2"}}}},
        "RuleTargetFunction": {"Type": "AWS::Serverless::Function", "Properties": {}},
        "Rule": {"Type": "AWS::Events::Rule",
                 "Properties": {"Targets": [{"Id": "t", "Arn": {"Fn::GetAtt": ["RuleTargetFunction", "Arn"]}}]}},
        "ProviderFunction": {"Type": "AWS::Serverless::Function",
                             "Properties": {"EventInvokeConfig": failure_destination()}},
        "Provided": {"Type": "Custom::Thing",
                     "Properties": {"ServiceToken": {"Fn::GetAtt": ["ProviderFunction", "Arn"]}}},
        "HttpFunction": {"Type": "AWS::Serverless::Function",
                         "Properties": {"Events": {"Get": {"Type": "HttpApi"}}}},
    }});
    let found: Vec<String> = asynchronous_functions(&template).into_iter().collect();
    assert_eq!(found, ["NightlyFunction", "ProviderFunction", "RuleTargetFunction"]);
    assert_eq!(without_failure_destination(&template), ["NightlyFunction", "RuleTargetFunction"]);
}

#[test]
fn every_asynchronous_function_sends_its_failures_to_the_encrypted_queue_and_no_synchronous_one_does() {
    let template = rendered_template();
    assert_eq!(without_failure_destination(&template), Vec::<String>::new());
    let asynchronous = asynchronous_functions(&template);
    for (id, function) in resources(&template, "AWS::Serverless::Function") {
        if !asynchronous.contains(id) {
            // Invoked synchronously (API Gateway, Connect): the caller gets the failure itself.
            assert!(function["Properties"]["EventInvokeConfig"].is_null(), "{id} is synchronous");
        }
    }
    let queue = &template["Resources"]["FailedEventsQueue"];
    assert_eq!(queue["Type"], "AWS::SQS::Queue");
    assert_eq!(queue["Properties"]["KmsMasterKeyId"], "alias/aws/sqs");
    assert_eq!(queue["Properties"]["MessageRetentionPeriod"], 1_209_600, "14 days");
    let alarm = &template["Resources"]["FailedEventsAlarm"];
    assert_eq!(
        watched(alarm),
        [("ApproximateNumberOfMessagesVisible".to_owned(), json!({"Fn::GetAtt": ["FailedEventsQueue", "QueueName"]}))]
    );
}

/// `$context` variables an access-log line may hold: ids, the route's pattern, statuses, latencies
/// and error messages; never a header, body, path, query string, source IP or authorizer claim.
const ACCESS_LOG_VARIABLES: &[&str] = &[
    "requestId",
    "apiId",
    "routeKey",
    "status",
    "responseLatency",
    "integration.requestId",
    "integration.latency",
    "integration.status",
    "integrationErrorMessage",
    "error.message",
    "requestTime",
    "requestTimeEpoch",
];

/// The `$context` variables of an access-log format (a JSON object of one variable per value).
fn access_log_variables(format: &str) -> BTreeSet<String> {
    let fields: serde_json::Map<String, Value> =
        serde_json::from_str(format).unwrap_or_else(|e| panic!("{e}: {format}"));
    fields
        .values()
        .map(|v| {
            v.as_str().and_then(|v| v.strip_prefix("$context.")).unwrap_or_else(|| panic!("{v} in {format}")).to_owned()
        })
        .collect()
}

#[test]
fn every_http_api_writes_json_access_logs_with_ids_statuses_and_latencies_only() {
    let template = rendered_template();
    let globals = template["Globals"]["HttpApi"]["AccessLogSettings"].as_object().cloned().unwrap_or_default();
    let apis = resources(&template, "AWS::Serverless::HttpApi");
    let stages = resources(&template, "AWS::ApiGatewayV2::Stage");
    assert_eq!(apis.len(), 3, "AgentApi, IdentityApi, WebhookApi");
    for (id, api) in apis.into_iter().chain(stages) {
        // SAM merges an API's own map over the Globals key by key.
        let mut settings = if api["Type"] == "AWS::Serverless::HttpApi" { globals.clone() } else { Default::default() };
        settings.extend(api["Properties"]["AccessLogSettings"].as_object().cloned().unwrap_or_default());
        let group = settings.get("DestinationArn").and_then(|d| d["Fn::GetAtt"][0].as_str());
        let group = group.unwrap_or_else(|| panic!("{id} has no access log group"));
        assert_eq!(template["Resources"][group]["Type"], "AWS::Logs::LogGroup", "{id}");
        assert_eq!(template["Resources"][group]["Properties"]["RetentionInDays"], json!({"Ref": "LogRetentionDays"}));
        let format = settings.get("Format").and_then(Value::as_str).unwrap_or_else(|| panic!("{id} has no Format"));
        let variables = access_log_variables(format);
        for required in
            ["requestId", "routeKey", "status", "responseLatency", "integrationErrorMessage", "integration.requestId"]
        {
            assert!(variables.contains(required), "{id} does not log $context.{required}");
        }
        for variable in &variables {
            assert!(ACCESS_LOG_VARIABLES.contains(&variable.as_str()), "{id} logs $context.{variable}");
        }
        // The local gateway writes the same lines.
        let local: Value = serde_json::from_str(switchboard_local::gateway::ACCESS_LOG_FORMAT).unwrap();
        assert_eq!(serde_json::from_str::<Value>(format).unwrap(), local, "{id}: the local gateway's format");
    }
}

#[test]
fn with_an_alarm_topic_every_function_and_api_has_its_alarms_and_without_one_none_exist() {
    let template = rendered_template();
    assert_eq!(template["Parameters"]["AlarmTopicArn"]["Default"], "");
    let has_topic = json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]});
    assert_eq!(template["Conditions"]["HasAlarmTopic"], has_topic);
    // The desktop's alarms also need the desktop (DesktopAlarms: both conditions).
    let desktop_alarms = json!({"Fn::And": [{"Condition": "DesktopEnabled"}, {"Condition": "HasAlarmTopic"}]});
    assert_eq!(template["Conditions"]["DesktopAlarms"], desktop_alarms);
    let webhook_alarms = json!({"Fn::And": [{"Condition": "WebhookEnabled"}, {"Condition": "HasAlarmTopic"}]});
    assert_eq!(template["Conditions"]["WebhookAlarms"], webhook_alarms);
    // And the recording functions' alarms need recording (RecordingAlarms).
    let recording_alarms = json!({"Fn::And": [{"Condition": "RecordingEnabled"}, {"Condition": "HasAlarmTopic"}]});
    assert_eq!(template["Conditions"]["RecordingAlarms"], recording_alarms);
    let functions_with = |condition: &str| -> Vec<Value> {
        resources(&template, "AWS::Serverless::Function")
            .into_iter()
            .filter(|(_, f)| f["Condition"] == condition)
            .map(|(id, _)| json!({"Ref": id}))
            .collect()
    };
    let desktop_functions = functions_with("DesktopEnabled");
    assert_eq!(desktop_functions, [json!({"Ref": "PublishDesktopFunction"})]);
    let recording_functions: BTreeSet<String> =
        functions_with("RecordingEnabled").iter().map(Value::to_string).collect();
    let expected: BTreeSet<String> =
        RECORDING_FUNCTIONS.iter().map(|f| json!({"Ref": logical_id(f)}).to_string()).collect();
    assert_eq!(recording_functions, expected);
    let conditional =
        resources(&template, "AWS::Serverless::Function").into_iter().filter(|(_, f)| !f["Condition"].is_null());
    assert_eq!(conditional.count(), 1 + RECORDING_FUNCTIONS.len(), "a new condition needs its alarms' condition here");
    let alarms = resources(&template, "AWS::CloudWatch::Alarm");
    for (id, alarm) in &alarms {
        let on_desktop = watched(alarm).iter().any(|(_, d)| desktop_functions.contains(d));
        let on_recording = watched(alarm).iter().any(|(_, d)| recording_functions.contains(&d.to_string()));
        // The webhook's API exists only with GitHubWebhook=enabled.
        let on_webhook = watched(alarm).iter().any(|(_, d)| d == &json!({"Ref": "WebhookApi"}));
        let condition = match (on_desktop, on_recording, on_webhook) {
            (true, _, _) => "DesktopAlarms",
            (_, true, _) => "RecordingAlarms",
            (_, _, true) => "WebhookAlarms",
            _ => "HasAlarmTopic",
        };
        assert_eq!(alarm["Condition"], condition, "{id} would exist without a topic (or without its function)");
        for actions in ["AlarmActions", "OKActions"] {
            assert_eq!(alarm["Properties"][actions], json!([{"Ref": "AlarmTopicArn"}]), "{id}: {actions}");
        }
    }
    let watching = |dimension: Value| alarms_watching(&alarms, &dimension);
    let connect_invoked: BTreeSet<&str> = resources(&template, "AWS::Connect::IntegrationAssociation")
        .into_iter()
        .filter(|(_, a)| a["Properties"]["IntegrationType"] == "LAMBDA_FUNCTION")
        .filter_map(|(_, a)| a["Properties"]["IntegrationArn"]["Fn::GetAtt"][0].as_str())
        .collect();
    assert_eq!(connect_invoked.len(), 6, "{connect_invoked:?}");

    for (id, function) in resources(&template, "AWS::Serverless::Function") {
        let own = watching(json!({"Ref": id}));
        let alarm_on = |metric: &str| own.iter().find(|(_, m)| m.len() == 1 && m.contains(metric)).map(|(a, _)| *a);
        for metric in ["Errors", "Throttles", "Duration"] {
            assert!(alarm_on(metric).is_some(), "{id} has no {metric} alarm: {own:?}");
        }
        // The duration alarm is a share of this function's own timeout.
        let duration = &template["Resources"][alarm_on("Duration").unwrap()]["Properties"];
        let expression = duration["Metrics"].as_array().unwrap().iter().find(|m| m["ReturnData"] == true).unwrap();
        assert_eq!(expression["Expression"]["Fn::Sub"][0], "100 * duration / (1000 * ${Seconds})", "{id}");
        assert_eq!(expression["Expression"]["Fn::Sub"][1]["Seconds"], function["Properties"]["Timeout"], "{id}");
        assert_eq!(duration["Threshold"], json!({"Ref": "DurationPercentOfTimeout"}));
        // A Connect flow's caller hears the Error branch on any failed call: one is enough.
        if connect_invoked.contains(id) {
            let flow = own.iter().find(|(_, m)| m.contains("Errors") && m.contains("Throttles"));
            let (flow, _) = flow.unwrap_or_else(|| panic!("{id} has no flow error alarm: {own:?}"));
            assert_eq!(template["Resources"][flow]["Properties"]["Threshold"], 1, "{flow}");
        }
    }
    for (id, _) in resources(&template, "AWS::Serverless::HttpApi") {
        let own = watching(json!({"Ref": id}));
        let metrics: BTreeSet<&str> = own.iter().flat_map(|(_, m)| m.iter().map(String::as_str)).collect();
        assert_eq!(metrics, BTreeSet::from(["5xx", "Count", "Latency"]), "{id}: {own:?}");
    }
}

/// template.yaml with some parameters' defaults replaced (`Name: Default`), as a deploy would set them.
fn with_defaults(template: &str, defaults: &[(&str, &str, &str)]) -> String {
    let mut text = template.to_owned();
    for (name, old, new) in defaults {
        let from = format!("\n  {name}:\n    Type: String\n    Default: {old}\n");
        assert_eq!(text.matches(&from).count(), 1, "{name} defaults to {old}");
        text = text.replace(&from, &format!("\n  {name}:\n    Type: String\n    Default: {new}\n"));
    }
    text
}

/// What turns the desktop on: DesktopEnabled and the parameters its Rules require.
const DESKTOP_ON: &[(&str, &str, &str)] = &[
    ("DesktopEnabled", "'false'", "'true'"),
    ("DesktopDomainName", "''", "agents.example.com"),
    (
        "DesktopCertificateArn",
        "''",
        "arn:aws:acm:us-east-1:123456789012:certificate/0b1e2a3c-4d5e-4f60-8a7b-9c0d1e2f3a4b",
    ),
    ("CognitoDomainPrefix", "''", "switchboard-agents"),
    ("ConnectInstanceUrl", "''", "https://example.my.connect.aws"),
];
const ALARMS_ON: &[(&str, &str, &str)] =
    &[("AlarmTopicArn", "''", "arn:aws:sns:us-east-1:123456789012:switchboard-alarms")];
/// What turns recording on: RecordingEnabled and the parameters its Rules require.
const RECORDING_ON: &[(&str, &str, &str)] = &[
    ("RecordingEnabled", "'false'", "'true'"),
    ("RecorderImageUri", "''", "123456789012.dkr.ecr.us-east-1.amazonaws.com/switchboard-recorder:1.0.0"),
    ("RecordingPlaybackSecurityProfileId", "''", "5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"),
];

#[test]
fn the_templates_lint_clean_with_and_without_an_alarm_topic_the_desktop_the_webhook_and_recording() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let dir = std::env::temp_dir().join(format!("switchboard-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let both: Vec<_> = DESKTOP_ON.iter().chain(ALARMS_ON).copied().collect();
    // recording-events.yaml: the MeetingEnded forwarding stack of a control region elsewhere.
    let mut paths = vec![
        repo_root().join("template.yaml"),
        repo_root().join("pipeline.yaml"),
        repo_root().join("recording-events.yaml"),
    ];
    let webhook: Vec<_> =
        [("GitHubWebhook", "disabled", "enabled")].into_iter().chain(ALARMS_ON.iter().copied()).collect();
    let recording: Vec<_> = RECORDING_ON.iter().chain(ALARMS_ON).copied().collect();
    for (name, defaults) in [
        ("alarms-on", ALARMS_ON),
        ("desktop-on", DESKTOP_ON),
        ("desktop-and-alarms-on", &both),
        ("webhook-and-alarms-on", &webhook),
        ("recording-and-alarms-on", &recording),
    ] {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, with_defaults(&template, defaults)).unwrap();
        paths.push(path);
    }
    // One cfn-lint run for all eight: it reports each template's findings under its path.
    let output = std::process::Command::new(repo_root().join(".venv/bin/cfn-lint")).args(&paths).output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "cfn-lint:\n{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_function_a_flow_invokes_is_associated_with_the_instance() {
    let template = rendered_template();
    let library = switchboard_local::flow::FlowLibrary::repository();
    let mut invoked = BTreeSet::new();
    for name in library.names().unwrap() {
        for action in library.load(&name).unwrap().actions {
            if let Some(arn) = action.parameters.get("LambdaFunctionARN").and_then(|v| v.as_str()) {
                invoked.insert(logical_id(arn.trim_start_matches("{{lambda:").trim_end_matches("}}")));
            }
        }
    }
    assert!(!invoked.is_empty());
    for id in invoked {
        let associated = resources(&template, "AWS::Connect::IntegrationAssociation").into_iter().any(|(_, a)| {
            names(&a["Properties"]["IntegrationArn"], &id) && a["Properties"]["InstanceId"] == instance_arn()
        });
        let permitted = resources(&template, "AWS::Lambda::Permission").into_iter().any(|(_, p)| {
            names(&p["Properties"]["FunctionName"], &id) && p["Properties"]["Principal"] == "connect.amazonaws.com"
        });
        assert!(associated && permitted, "a flow invokes {id}: associated {associated}, permitted {permitted}");
    }
}

#[test]
fn the_public_routes_functions_have_reserved_concurrency_that_can_be_lifted() {
    let template = rendered_template();
    let public: BTreeSet<&str> = resources(&template, "AWS::Serverless::Function")
        .into_iter()
        .filter(|(_, f)| {
            let events = f["Properties"]["Events"].as_object().into_iter().flat_map(|e| e.values());
            events.into_iter().any(|e| e["Properties"]["Auth"]["Authorizer"] == "NONE")
        })
        .map(|(id, _)| id)
        .collect();
    let expected =
        ["GetAttendeeJoinDataFunction", "GetAttendeeNameFunction", "ReceiveAuthResultFunction", "StartChatFunction"];
    assert_eq!(public, BTreeSet::from(expected));
    let reserved =
        json!({"Fn::If": ["CapsPublicConcurrency", {"Ref": "PublicFunctionConcurrency"}, {"Ref": "AWS::NoValue"}]});
    for id in public {
        assert_eq!(template["Resources"][id]["Properties"]["ReservedConcurrentExecutions"], reserved, "{id}");
    }
    assert_eq!(
        template["Conditions"]["CapsPublicConcurrency"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "PublicFunctionConcurrency"}, "-1"]}]})
    );
    assert_eq!(template["Parameters"]["PublicFunctionConcurrency"]["MinValue"], -1);
}

#[test]
fn tracing_is_one_parameter_for_every_function_and_every_role_may_write_traces() {
    let template = rendered_template();
    let parameter = &template["Parameters"]["Tracing"];
    assert_eq!(
        (&parameter["Default"], &parameter["AllowedValues"]),
        (&json!("PassThrough"), &json!(["Active", "PassThrough"]))
    );
    assert_eq!(template["Globals"]["Function"]["Tracing"], json!({"Ref": "Tracing"}));
    for (id, function) in resources(&template, "AWS::Serverless::Function") {
        assert!(function["Properties"]["Tracing"].is_null(), "{id} overrides Tracing");
        // SAM gives the roles it makes the X-Ray permission; a function's own role must have it.
        if let Some(role) = function["Properties"]["Role"]["Fn::GetAtt"][0].as_str() {
            let policies = template["Resources"][role]["Properties"]["ManagedPolicyArns"].to_string();
            assert!(policies.contains("AWSXRayDaemonWriteAccess"), "{id}'s role {role} cannot write traces");
        }
    }
}

/// Two requests through the local HTTP API, logged as the template's APIs log them: each access-log
/// line (in the template's format) and the function's own log lines share the Lambda request id, the
/// function's lines carry the trace id, and no line holds the caller's credentials (the core's SigV4
/// signature, an agent's ID token), the ID Contact phone number or the code a caller keys in.
#[tokio::test]
async fn access_log_lines_tie_to_the_functions_log_lines_and_hold_no_secret() {
    let fleet = Fleet::start().await;
    let gateway = fleet.cloud.gateway.as_ref().unwrap();
    let http = reqwest::Client::new();
    let signature = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261123/ap-southeast-2/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=5ec7e75160a7e2e";
    let started = http
        .post(format!("{}/start_communication", gateway.endpoint()))
        .header("authorization", signature)
        .json(&json!({"purpose": "request-permit"}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    let started: Value = started.json().await.unwrap();
    let client_url = started["client_url"].as_str().unwrap(); // tel:<number>,,<code>
    let phone = fleet.cloud.fixture.identity.phone_number.clone();
    let code = client_url.rsplit(',').next().unwrap().to_owned();
    assert!(client_url.contains(&phone) && code.len() >= 6, "{client_url}");

    let agent = &fleet.cloud.fixture.cognito.agents[0];
    let token = fleet.cloud.sign_in(&agent.email, &agent.password).await.unwrap();
    let contact = "7e57c0de-0000-4000-8000-00000000acce";
    let info = http
        .get(format!("{}/session_info/{contact}", gateway.endpoint()))
        .header("cognitoIdToken", &token)
        .send()
        .await
        .unwrap();
    let info_status = info.status().as_u16();

    let access_log = gateway.access_log();
    let function_logs = fleet.cloud.fleet().unwrap().logs();
    let secrets = [
        "AKIAEXAMPLE",
        signature.rsplit('=').next().unwrap(),
        token.as_str(),
        phone.as_str(),
        phone.trim_start_matches('+'),
        code.as_str(),
    ];
    for (route, function, status) in [
        ("POST /start_communication", "start-session", 200),
        ("GET /session_info/{contact_id}", "session-info", info_status),
    ] {
        let line = access_log.iter().find(|l| l.contains(route)).unwrap_or_else(|| panic!("{route}: {access_log:?}"));
        let access: Value = serde_json::from_str(line).unwrap();
        assert_eq!((&access["routeKey"], &access["status"]), (&json!(route), &json!(status.to_string())), "{line}");
        let request_id = access["integrationRequestId"].as_str().unwrap();
        assert_eq!(request_id.len(), 36, "a Lambda request id: {line}");
        let own: Vec<Value> = function_logs
            .iter()
            .filter(|l| l.function == function)
            .filter_map(|l| serde_json::from_str::<Value>(&l.line).ok())
            .filter(|l| l["span"]["requestId"] == request_id)
            .collect();
        assert!(!own.is_empty(), "no {function} line with requestId {request_id}");
        for entry in &own {
            let trace = entry["span"]["xrayTraceId"].as_str().unwrap_or_default();
            assert!(trace.starts_with("Root=1-"), "no trace id: {entry}");
        }
        for text in std::iter::once(line.clone()).chain(own.iter().map(Value::to_string)) {
            for secret in secrets {
                assert!(!text.contains(secret), "{secret:?} in {text}");
            }
        }
        // The path is not logged either (it can carry a capability, e.g. a result code).
        assert!(!line.contains(contact), "{line}");
    }
}

// ===== desktop: the agent pages (template.yaml, "desktop context"; specs/desktop.md) =====

/// Every resource the desktop adds: none of them exists in a stack without it.
const DESKTOP_RESOURCES: &[&str] = &[
    "AgentUserPoolDomain",
    "DesktopAgentHeaders",
    "DesktopApprovedOrigin",
    "DesktopAssetsLayer",
    "DesktopAudioOnlyHeaders",
    "DesktopBucket",
    "DesktopBucketPolicy",
    "DesktopDistribution",
    "DesktopInSessionHeaders",
    "DesktopManagedLoginBranding",
    "DesktopOriginAccessControl",
    "DesktopSite",
    "DesktopStripApiFunction",
    "DesktopUserPoolClient",
    "PublishDesktopFunction",
    "PublishDesktopLogs",
];
/// The desktop's alarms: only with the desktop and an alarm topic.
const DESKTOP_ALARMS: &[&str] =
    &["PublishDesktopDurationAlarm", "PublishDesktopErrorsAlarm", "PublishDesktopThrottlesAlarm"];

#[test]
fn every_desktop_resource_and_output_exists_only_with_the_desktop() {
    let template = rendered_template();
    let parameter = &template["Parameters"]["DesktopEnabled"];
    assert_eq!((&parameter["Default"], &parameter["AllowedValues"]), (&json!("false"), &json!(["true", "false"])));
    assert_eq!(template["Conditions"]["DesktopEnabled"], json!({"Fn::Equals": [{"Ref": "DesktopEnabled"}, "true"]}));
    let all = template["Resources"].as_object().unwrap();
    let with = |condition: &str| -> BTreeSet<&str> {
        all.iter().filter(|(_, r)| r["Condition"] == condition).map(|(id, _)| id.as_str()).collect()
    };
    assert_eq!(with("DesktopEnabled"), DESKTOP_RESOURCES.iter().copied().collect(), "Condition: DesktopEnabled");
    assert_eq!(with("DesktopAlarms"), DESKTOP_ALARMS.iter().copied().collect(), "Condition: DesktopAlarms");
    let outputs = template["Outputs"].as_object().unwrap();
    let desktop_outputs: BTreeSet<&str> =
        outputs.iter().filter(|(_, o)| o["Condition"] == "DesktopEnabled").map(|(id, _)| id.as_str()).collect();
    assert_eq!(desktop_outputs, BTreeSet::from(["DesktopBucketName", "DesktopDistributionDomainName", "DesktopUrl"]));
    // Only the outputs and resources of the desktop name its resources, except the agent API's
    // authorizer, which names the desktop client under the same condition.
    let desktop: BTreeSet<&str> = DESKTOP_RESOURCES.iter().chain(DESKTOP_ALARMS).copied().collect();
    for (id, resource) in all.iter().filter(|(id, _)| !desktop.contains(id.as_str())) {
        let mut resource = resource.clone();
        if id == "AgentApi" {
            let audience =
                &mut resource["Properties"]["Auth"]["Authorizers"]["AgentJwt"]["JwtConfiguration"]["audience"];
            assert_eq!(
                *audience,
                json!({"Fn::If": ["DesktopEnabled",
                                  [{"Ref": "AgentUserPoolClient"}, {"Ref": "DesktopUserPoolClient"}],
                                  [{"Ref": "AgentUserPoolClient"}]]}),
                "the agent API accepts both clients' ID tokens"
            );
            *audience = Value::Null;
        }
        let text = resource.to_string();
        for name in &desktop {
            assert!(!text.contains(&format!("\"{name}\"")), "{id} names {name}, which may not exist");
        }
    }
    for (id, output) in outputs.iter().filter(|(_, o)| o["Condition"] != "DesktopEnabled") {
        let text = output.to_string();
        for name in &desktop {
            assert!(!text.contains(&format!("\"{name}\"")), "output {id} names {name}, which may not exist");
        }
    }
}

#[test]
fn the_desktop_needs_its_parameters_only_when_it_is_deployed() {
    let template = rendered_template();
    let parameters = &template["Parameters"];
    let required = ["DesktopDomainName", "DesktopCertificateArn", "CognitoDomainPrefix", "ConnectInstanceUrl"];
    for name in required.into_iter().chain(["CcpLoginUrl"]) {
        assert_eq!(parameters[name]["Default"], "", "{name}: blank unless the desktop is deployed");
    }
    let rule = &template["Rules"]["DesktopNeedsItsSiteSignInAndInstance"];
    assert_eq!(rule["RuleCondition"], json!({"Fn::Equals": [{"Ref": "DesktopEnabled"}, "true"]}));
    let asserted: Vec<&Value> = rule["Assertions"].as_array().unwrap().iter().map(|a| &a["Assert"]).collect();
    let expected: Vec<Value> =
        required.iter().map(|name| json!({"Fn::Not": [{"Fn::Equals": [{"Ref": name}, ""]}]})).collect();
    assert_eq!(asserted, expected.iter().collect::<Vec<_>>());
    assert_eq!(parameters["DesktopConnectLoginByEmail"]["Default"], "true");
    assert_eq!(parameters["DesktopLocale"]["AllowedValues"], json!(["en", "nl"]));
    assert_eq!(parameters["DesktopLocale"]["Default"], "en");
    // The patterns accept what a deploy names and refuse what CloudFront, ACM or Cognito would.
    let pattern = |name: &str| parameters[name]["AllowedPattern"].as_str().unwrap().to_owned();
    assert!(pattern("DesktopCertificateArn").contains(":acm:us-east-1:"), "CloudFront takes us-east-1 certificates");
    assert!(pattern("CcpLoginUrl").starts_with("^(https://"), "https or blank");
}

#[test]
fn the_desktop_bucket_is_private_and_only_the_distribution_reads_it_through_its_origin_access_control() {
    let template = rendered_template();
    let bucket = &template["Resources"]["DesktopBucket"]["Properties"];
    assert_eq!(
        bucket["PublicAccessBlockConfiguration"],
        json!({"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true})
    );
    assert_eq!(bucket["OwnershipControls"], json!({"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}));
    assert_eq!(
        bucket["BucketEncryption"],
        json!({"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}),
        "SSE-S3 (specs/desktop.md): public web assets"
    );
    for absent in ["WebsiteConfiguration", "CorsConfiguration", "AccessControl", "VersioningConfiguration"] {
        assert!(bucket[absent].is_null(), "DesktopBucket has {absent}");
    }

    let policies: Vec<_> = resources(&template, "AWS::S3::BucketPolicy")
        .into_iter()
        .filter(|(_, p)| p["Properties"]["Bucket"] == json!({"Ref": "DesktopBucket"}))
        .collect();
    assert_eq!(policies.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ["DesktopBucketPolicy"]);
    let objects = json!({"Fn::Sub": "${DesktopBucket.Arn}/*"});
    let distribution_arn =
        json!({"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${DesktopDistribution}"});
    assert_eq!(
        policies[0].1["Properties"]["PolicyDocument"]["Statement"],
        json!([
            {"Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [{"Fn::GetAtt": ["DesktopBucket", "Arn"]}, objects],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "DistributionReadsPages", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
             "Action": "s3:GetObject", "Resource": objects,
             "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}},
        ])
    );

    let oac = &template["Resources"]["DesktopOriginAccessControl"]["Properties"]["OriginAccessControlConfig"];
    assert_eq!(
        (&oac["OriginAccessControlOriginType"], &oac["SigningBehavior"], &oac["SigningProtocol"]),
        (&json!("s3"), &json!("always"), &json!("sigv4"))
    );
    let config = &template["Resources"]["DesktopDistribution"]["Properties"]["DistributionConfig"];
    let origins = config["Origins"].as_array().unwrap();
    let bucket_origins: Vec<&Value> = origins.iter().filter(|o| o["S3OriginConfig"].is_object()).collect();
    assert_eq!(bucket_origins.len(), 1, "{origins:?}");
    assert_eq!(bucket_origins[0]["DomainName"], json!({"Fn::GetAtt": ["DesktopBucket", "RegionalDomainName"]}));
    assert_eq!(bucket_origins[0]["OriginAccessControlId"], json!({"Fn::GetAtt": ["DesktopOriginAccessControl", "Id"]}));
    assert_eq!(bucket_origins[0]["S3OriginConfig"], json!({"OriginAccessIdentity": ""}), "no legacy OAI");

    // Served on the site's own name, HTTPS only.
    assert_eq!(config["Aliases"], json!([{"Ref": "DesktopDomainName"}]));
    assert_eq!(
        config["ViewerCertificate"],
        json!({"AcmCertificateArn": {"Ref": "DesktopCertificateArn"}, "SslSupportMethod": "sni-only",
               "MinimumProtocolVersion": "TLSv1.2_2021"})
    );
    let behaviours =
        std::iter::once(&config["DefaultCacheBehavior"]).chain(config["CacheBehaviors"].as_array().unwrap());
    for behaviour in behaviours {
        let policy = behaviour["ViewerProtocolPolicy"].as_str().unwrap_or_default();
        assert!(["redirect-to-https", "https-only"].contains(&policy), "{behaviour}");
    }
    // The CCP embeds only in an approved origin: the site's.
    let approved = &template["Resources"]["DesktopApprovedOrigin"]["Properties"];
    assert_eq!(
        (&approved["InstanceId"], &approved["Origin"]),
        (&instance_arn(), &json!({"Fn::Sub": "https://${DesktopDomainName}"}))
    );
}

/// The spec's CSP ("Serving"), with the agent page's extra connect-src.
fn desktop_csp(instance: &str, cognito: Option<&str>) -> String {
    let connect = cognito.map_or("'self'".to_owned(), |domain| format!("'self' {domain}"));
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src {connect}; \
         frame-src {instance}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

#[test]
fn every_behaviour_of_the_distribution_serves_the_specs_headers_as_the_local_stand_in_reads_them() {
    use switchboard_local::desktop::template::{Distribution, LocalOrigins, OriginKind};
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let strip_api = std::fs::read_to_string(repo_root().join("desktop/cloudfront/strip-api.js")).unwrap();
    let (instance, cognito) = ("https://instance.example", "https://login.example");
    let origins = LocalOrigins { connect_instance_url: instance.into(), cognito_domain_url: cognito.into() };
    let distribution = Distribution::from_template(&text, &origins, &strip_api).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(distribution.default_root_object.as_deref(), Some("agent.html"));

    let patterns: Vec<Option<&str>> = distribution.behaviors.iter().map(|b| b.path_pattern.as_deref()).collect();
    assert_eq!(patterns, [Some("/audio-only.html"), Some("/in-session.html"), Some("/api/*")]);
    let behaviours = std::iter::once(&distribution.default_behavior).chain(&distribution.behaviors);
    for behaviour in behaviours {
        let name = behaviour.path_pattern.as_deref().unwrap_or("(default)");
        let headers = behaviour.headers.as_ref().unwrap_or_else(|| panic!("{name} has no response headers policy"));
        // The agent page (the default: agent.html and its assets) fetches tokens from the pool's domain.
        let agent = behaviour.path_pattern.is_none();
        let microphone = match name {
            "(default)" | "/audio-only.html" => format!("microphone=(self \"{instance}\")"),
            _ => "microphone=()".to_owned(),
        };
        let expected = [
            ("Content-Security-Policy", desktop_csp(instance, agent.then_some(cognito))),
            ("Permissions-Policy", format!("{microphone}, camera=(), geolocation=()")),
            ("Strict-Transport-Security", "max-age=31536000".to_owned()),
            ("X-Content-Type-Options", "nosniff".to_owned()),
            ("Referrer-Policy", "no-referrer".to_owned()),
            ("Cross-Origin-Opener-Policy", "same-origin-allow-popups".to_owned()),
        ];
        for (header, value) in expected {
            assert_eq!(headers.value(header), Some(value.as_str()), "{name} ({}): {header}", headers.policy);
        }
        assert!(headers.set.iter().all(|h| h.override_origin), "{name}: the policy's values win");
        assert!(headers.remove.is_empty(), "{name}");
        assert_eq!(behaviour.strips_api_prefix, behaviour.origin == OriginKind::Api, "{name}");
    }

    // The CloudFront Function is the tested file, byte for byte.
    let template = rendered_template();
    let function = &template["Resources"]["DesktopStripApiFunction"]["Properties"];
    assert_eq!(function["FunctionCode"], strip_api.as_str(), "desktop/cloudfront/strip-api.js");
    assert_eq!(function["FunctionConfig"]["Runtime"], "cloudfront-js-2.0");
    // The CSP's Cognito origin is the stack's user pool domain, the one config.json names.
    let domain = json!({"Fn::Sub": "https://${CognitoDomainPrefix}.auth.${AWS::Region}.amazoncognito.com"});
    let agent_csp = &template["Resources"]["DesktopAgentHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
        ["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"];
    assert_eq!(agent_csp["Fn::Sub"][1], json!({"CognitoDomainUrl": domain}));
    assert_eq!(template["Resources"]["DesktopSite"]["Properties"]["CognitoDomain"], domain);
    assert_eq!(
        template["Resources"]["AgentUserPoolDomain"]["Properties"],
        json!({"UserPoolId": {"Ref": "AgentUserPool"}, "Domain": {"Fn::Sub": "${CognitoDomainPrefix}"},
               "ManagedLoginVersion": 2})
    );
}

#[test]
fn the_desktop_client_is_the_one_the_local_cloud_makes_and_cannot_write_what_identifies_an_agent() {
    use switchboard_local::cloud::{
        CLIENT_READ_ATTRIBUTES, CLIENT_WRITE_ATTRIBUTES, DESKTOP_CLIENT_SCOPES, DESKTOP_ID_TOKEN_HOURS,
        DESKTOP_REFRESH_TOKEN_HOURS,
    };
    let template = rendered_template();
    let client = &template["Resources"]["DesktopUserPoolClient"]["Properties"];
    assert_eq!(client["UserPoolId"], json!({"Ref": "AgentUserPool"}));
    assert_eq!(client["AllowedOAuthScopes"], json!(DESKTOP_CLIENT_SCOPES));
    assert_eq!(client["IdTokenValidity"], DESKTOP_ID_TOKEN_HOURS);
    assert_eq!(client["AccessTokenValidity"], DESKTOP_ID_TOKEN_HOURS, "seed_desktop_client gives both 1 hour");
    assert_eq!(client["RefreshTokenValidity"], DESKTOP_REFRESH_TOKEN_HOURS);
    assert_eq!(
        client["TokenValidityUnits"],
        json!({"IdToken": "hours", "AccessToken": "hours", "RefreshToken": "hours"})
    );
    assert_eq!(client["ReadAttributes"], json!(CLIENT_READ_ATTRIBUTES));
    assert_eq!(client["WriteAttributes"], json!(CLIENT_WRITE_ATTRIBUTES));
    for attribute in ["email", "custom:connectUserId"] {
        assert!(!CLIENT_WRITE_ATTRIBUTES.contains(&attribute), "{attribute} is writable");
    }
    // A public client on managed login with the code grant (PKCE in the page), its page the only callback.
    assert_eq!(client["GenerateSecret"], false);
    assert_eq!(client["AllowedOAuthFlowsUserPoolClient"], true);
    assert_eq!(client["AllowedOAuthFlows"], json!(["code"]));
    assert_eq!(client["SupportedIdentityProviders"], json!(["COGNITO"]));
    assert_eq!(client["ExplicitAuthFlows"], json!(["ALLOW_REFRESH_TOKEN_AUTH"]));
    let page = json!([{"Fn::Sub": "https://${DesktopDomainName}/agent.html"}]);
    assert_eq!((&client["CallbackURLs"], &client["LogoutURLs"]), (&page, &page));
    assert_eq!(client["EnableTokenRevocation"], true);
    assert_eq!(client["PreventUserExistenceErrors"], "ENABLED");
    let branding = &template["Resources"]["DesktopManagedLoginBranding"]["Properties"];
    assert_eq!(
        *branding,
        json!({"UserPoolId": {"Ref": "AgentUserPool"}, "ClientId": {"Ref": "DesktopUserPoolClient"},
               "UseCognitoProvidedValues": true})
    );
}

#[test]
fn publish_desktop_is_granted_exactly_what_it_does_and_desktop_site_passes_what_it_reads() {
    let template = rendered_template();
    let function = &template["Resources"]["PublishDesktopFunction"];
    let properties = &function["Properties"];
    assert!(properties["Role"].is_null(), "SAM makes its role from Policies");
    assert_eq!(
        properties["Policies"],
        json!([{"Statement": [
            {"Sid": "ListSite", "Effect": "Allow", "Action": "s3:ListBucket",
             "Resource": {"Fn::GetAtt": ["DesktopBucket", "Arn"]}},
            {"Sid": "ReadWriteAndDeleteSiteObjects", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
             "Resource": {"Fn::Sub": "${DesktopBucket.Arn}/*"}},
            {"Sid": "InvalidateSite", "Effect": "Allow", "Action": "cloudfront:CreateInvalidation",
             "Resource": {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${DesktopDistribution}"}},
        ]}])
    );
    // Its only other permission is the one SAM adds for the failure destination (sqs:SendMessage).
    assert_eq!(properties["EventInvokeConfig"], failure_destination());
    assert_eq!(properties["Timeout"], json!({"Fn::FindInMap": ["FunctionTimeouts", "PublishDesktop", "Seconds"]}));
    assert_eq!(template["Mappings"]["FunctionTimeouts"]["PublishDesktop"], json!({"Seconds": 120}));
    assert_eq!(properties["Layers"], json!([{"Ref": "DesktopAssetsLayer"}]));
    assert_eq!(properties["Environment"]["Variables"], json!({"DESKTOP_ASSETS_DIR": "/opt/desktop-site"}));
    assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");

    // The layer is desktop/Makefile's build-DesktopAssetsLayer (files under desktop-site/, so /opt/desktop-site).
    let layer = &template["Resources"]["DesktopAssetsLayer"];
    assert_eq!(layer["Metadata"]["BuildMethod"], "makefile");
    assert_eq!(layer["Properties"]["ContentUri"], "desktop/");
    assert_eq!(layer["Properties"]["CompatibleArchitectures"], json!([{"Ref": "Architecture"}]));
    let makefile = std::fs::read_to_string(repo_root().join("desktop/Makefile")).unwrap();
    assert!(
        makefile.contains("\nbuild-DesktopAssetsLayer:") && makefile.contains("SITE := $(ARTIFACTS_DIR)/desktop-site")
    );

    // The properties publish-desktop reads, and nothing else.
    let site = &template["Resources"]["DesktopSite"];
    assert_eq!(site["Type"], "Custom::DesktopSite");
    assert_eq!(
        site["Properties"],
        json!({
            "ServiceToken": {"Fn::GetAtt": ["PublishDesktopFunction", "Arn"]},
            "ServiceTimeout": 540,
            "Bucket": {"Ref": "DesktopBucket"},
            "DistributionId": {"Ref": "DesktopDistribution"},
            "Assets": {"Ref": "DesktopAssetsLayer"},
            "CcpUrl": {"Fn::Sub": "${ConnectInstanceUrl}/ccp-v2/"},
            "LoginUrl": {"Ref": "CcpLoginUrl"},
            "CognitoDomain": {"Fn::Sub": "https://${CognitoDomainPrefix}.auth.${AWS::Region}.amazoncognito.com"},
            "ClientId": {"Ref": "DesktopUserPoolClient"},
            "ConnectLoginByEmail": {"Ref": "DesktopConnectLoginByEmail"},
            "Locale": {"Ref": "DesktopLocale"},
        })
    );
}

/// The names in `Fn::ForEach::<loop>`'s collection, as template.yaml writes it (`[A, B,\n C]`).
fn loop_collection(template: &str, name: &str) -> Vec<String> {
    let start = template.find(&format!("  Fn::ForEach::{name}:\n")).unwrap_or_else(|| panic!("no loop {name}"));
    let list = &template[start..];
    let open = list.find('[').unwrap();
    let close = list.find(']').unwrap();
    list[open + 1..close].split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

#[test]
fn the_operations_loops_are_every_function_crate_and_the_conditional_ones_have_the_same_body() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let listed: BTreeSet<String> = loop_collection(&template, "FunctionOperations").into_iter().collect();
    let recording: BTreeSet<String> = loop_collection(&template, "RecordingFunctionOperations").into_iter().collect();
    // The conditional functions are outside the main loop: its unconditional log group would outlive
    // them and its alarms would name a function that is not there. PublishDesktop has its resources
    // written out, the recording functions a loop of their own.
    let name = |f: &str| logical_id(f).trim_end_matches("Function").to_owned();
    let expected_recording: BTreeSet<String> = RECORDING_FUNCTIONS.iter().map(|f| name(f)).collect();
    assert_eq!(recording, expected_recording, "Fn::ForEach::RecordingFunctionOperations vs. the recording functions");
    assert!(listed.is_disjoint(&recording), "{:?}", listed.intersection(&recording).collect::<Vec<_>>());
    let mut covered: BTreeSet<String> = listed.union(&recording).cloned().collect();
    assert!(covered.insert("PublishDesktop".to_owned()), "PublishDesktop is in a loop");
    let crates: BTreeSet<String> = function_names().unwrap().iter().map(|f| name(f)).collect();
    assert_eq!(covered, crates, "the operations loops and PublishDesktop vs. the function crates");

    // Their resources are the main loop's body with the name written in and their own conditions.
    let rendered = rendered_template();
    let resources = &rendered["Resources"];
    let loop_body = |function: &str, suffix: &str| {
        resources[format!("OneTimePin{suffix}")].to_string().replace("OneTimePin", function)
    };
    let conditional = std::iter::once(("PublishDesktop".to_owned(), "DesktopEnabled", "DesktopAlarms"))
        .chain(recording.iter().map(|f| (f.clone(), "RecordingEnabled", "RecordingAlarms")));
    for (function, own_condition, alarms_condition) in conditional {
        assert_eq!(resources[format!("{function}Function")]["Condition"], own_condition, "{function}Function");
        for suffix in ["Logs", "ErrorsAlarm", "ThrottlesAlarm", "DurationAlarm"] {
            let mut own = resources[format!("{function}{suffix}")].clone();
            let condition = own.as_object_mut().unwrap_or_else(|| panic!("no {function}{suffix}")).remove("Condition");
            let expected = if suffix == "Logs" { own_condition } else { alarms_condition };
            assert_eq!(condition, Some(json!(expected)), "{function}{suffix}");
            let mut body: Value = serde_json::from_str(&loop_body(&function, suffix)).unwrap();
            body.as_object_mut().unwrap().remove("Condition");
            assert_eq!(own, body, "{function}{suffix} differs from the main loop's body");
        }
    }
}

/// A parameter's `Default:` in a template's text (the line under `  <name>:`).
fn parameter_default(template: &str, name: &str) -> String {
    let at = template.find(&format!("\n  {name}:\n")).unwrap_or_else(|| panic!("no parameter {name}"));
    let line = template[at..].lines().find(|l| l.trim_start().starts_with("Default:")).unwrap();
    line.trim().trim_start_matches("Default:").trim().trim_matches('\'').to_owned()
}

#[test]
fn the_webhooks_default_routes_start_pipelines_that_pipeline_yaml_creates() {
    use switchboard::flows::github_webhook::{parse_routes, DEFAULT_BRANCHES, DEFAULT_ROUTES};
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let pipelines = std::fs::read_to_string(repo_root().join("pipeline.yaml")).unwrap();
    // The stack's defaults are the function's, and both templates agree on the prefix.
    assert_eq!(parameter_default(&template, "WebhookRoutes"), DEFAULT_ROUTES);
    assert_eq!(parameter_default(&template, "WebhookBranches"), DEFAULT_BRANCHES);
    let prefix = parameter_default(&template, "PipelineNamePrefix");
    assert_eq!(parameter_default(&pipelines, "PipelineNamePrefix"), prefix);

    // What pipeline.yaml names, for each Environment it can be deployed with.
    let at = pipelines.find("\n  Environment:\n").unwrap();
    let allowed = pipelines[at..].lines().find(|l| l.trim_start().starts_with("AllowedValues:")).unwrap();
    let environments: Vec<&str> =
        allowed.split('[').nth(1).unwrap().trim_end_matches(']').split(',').map(str::trim).collect();
    let names: Vec<&str> = pipelines
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Name: !Sub '${PipelineNamePrefix}"))
        .map(|rest| rest.trim_end_matches('\''))
        .collect();
    assert_eq!(names.len(), 2, "the app and flows pipelines: {names:?}");
    let created: BTreeSet<String> = environments
        .iter()
        .flat_map(|env| {
            let prefix = &prefix;
            names.iter().map(move |n| format!("{prefix}{}", n.replace("${Environment}", env)))
        })
        .collect();

    let routes = parse_routes(DEFAULT_ROUTES).unwrap();
    let branches = switchboard::flows::provision_flows::key_values("WEBHOOK_BRANCHES", Some(DEFAULT_BRANCHES)).unwrap();
    let mut started = BTreeSet::new();
    for env in branches.values() {
        for pipeline in routes.iter().flat_map(|r| r.pipelines.iter()) {
            started.insert(pipeline.replace("{env}", env));
        }
    }
    assert!(!started.is_empty());
    assert!(started.is_subset(&created), "the webhook starts {started:?}; pipeline.yaml creates {created:?}");
    // And the local cloud's pipelines are those names.
    let local: BTreeSet<String> = switchboard_local::cloud::LOCAL_PIPELINES.iter().map(|p| (*p).to_owned()).collect();
    assert_eq!(local, started);
}

// ===== recording (template.yaml, "video context: recording"; specs/video.md, "Recording") =====

/// The recording function crates: they exist only with RecordingEnabled.
const RECORDING_FUNCTIONS: &[&str] = &[
    "start-recording",
    "stop-recording",
    "get-recording-summary",
    "stop-recording-on-meeting-end",
    "prewarm-recording-task",
];

/// A CloudFormation template of the repository as JSON, its `Fn::ForEach` loops expanded.
fn rendered(file: &str) -> Value {
    let output = std::process::Command::new(repo_root().join(".venv/bin/python"))
        .current_dir(repo_root())
        .args(["tools/render_template.py", file])
        .output()
        .expect("the .venv python (make setup)");
    assert!(output.status.success(), "{file}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The resources recording adds: every logical id starting with Recording or Recorder, the recording
/// functions, and what their operations loop gives them (`<Name>Logs`, `<Name>…Alarm`).
fn is_recording_resource(id: &str) -> bool {
    id.starts_with("Recording")
        || id.starts_with("Recorder")
        || RECORDING_FUNCTIONS.iter().any(|f| id.starts_with(logical_id(f).trim_end_matches("Function")))
}

/// A value or a list of values, as a list (IAM's Action and Resource take both).
fn listed(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

/// The statements of a SAM function's inline policies.
fn statements(function: &Value) -> Vec<Value> {
    let policies = function["Properties"]["Policies"].as_array().cloned().unwrap_or_default();
    policies.iter().flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default()).collect()
}

#[test]
fn every_recording_resource_exists_only_with_recording_and_nothing_else_names_one() {
    let template = rendered_template();
    let parameter = &template["Parameters"]["RecordingEnabled"];
    assert_eq!((&parameter["Default"], &parameter["AllowedValues"]), (&json!("false"), &json!(["true", "false"])));
    // Each recording condition is false without RecordingEnabled.
    let conditions = &template["Conditions"];
    assert_eq!(conditions["RecordingEnabled"], json!({"Fn::Equals": [{"Ref": "RecordingEnabled"}, "true"]}));
    assert_eq!(
        conditions["RecordingAlarms"],
        json!({"Fn::And": [{"Condition": "RecordingEnabled"}, {"Condition": "HasAlarmTopic"}]})
    );
    assert_eq!(
        conditions["CreateRecordingVpc"],
        json!({"Fn::And": [{"Condition": "RecordingEnabled"},
                           {"Fn::Equals": [{"Fn::Join": ["", {"Ref": "RecordingSubnetIds"}]}, ""]}]})
    );
    // CreateRecordingPlaybackProfile: recording on and no playback profile given.
    let recording_conditions =
        ["RecordingEnabled", "RecordingAlarms", "CreateRecordingVpc", "CreateRecordingPlaybackProfile"];

    let all = template["Resources"].as_object().unwrap();
    let recording: BTreeSet<&str> = all.keys().map(String::as_str).filter(|id| is_recording_resource(id)).collect();
    for function in RECORDING_FUNCTIONS {
        assert!(recording.contains(logical_id(function).as_str()), "{function}");
    }
    for required in
        ["RecordingBucket", "RecordingKey", "RecordingCluster", "RecordingAutoScalingGroup", "RecorderTaskDefinition"]
    {
        assert!(recording.contains(required), "{required}");
    }
    for (id, resource) in all {
        let condition = resource["Condition"].as_str().unwrap_or_default();
        // Exactly the recording resources carry a recording condition, and every one of them does.
        assert_eq!(
            recording_conditions.contains(&condition),
            recording.contains(id.as_str()),
            "{id} has Condition {condition:?}"
        );
    }
    // The network exists only when no subnets are given; everything else with recording.
    let network: BTreeSet<&str> =
        all.iter().filter(|(_, r)| r["Condition"] == "CreateRecordingVpc").map(|(id, _)| id.as_str()).collect();
    for id in &network {
        let kind = all[*id]["Type"].as_str().unwrap();
        assert!(kind.starts_with("AWS::EC2::"), "{id} ({kind}) is not networking");
    }
    assert!(network.contains("RecordingVpc") && network.contains("RecordingNatGateway"), "{network:?}");

    // Nothing outside recording names a recording resource (it may not exist). The ASG's DependsOn
    // names the rule SAM makes from prewarm-recording-task's event, which is recording's too.
    let names_one = |text: &str| recording.iter().find(|name| text.contains(&format!("\"{name}\""))).copied();
    for (id, resource) in all.iter().filter(|(id, _)| !recording.contains(id.as_str())) {
        assert_eq!(names_one(&resource.to_string()), None, "{id} names a recording resource");
    }
    let outputs = template["Outputs"].as_object().unwrap();
    let recording_outputs: BTreeSet<&str> =
        outputs.iter().filter(|(_, o)| o["Condition"] == "RecordingEnabled").map(|(id, _)| id.as_str()).collect();
    assert_eq!(recording_outputs, BTreeSet::from(["RecordingBucketName", "RecordingClusterName"]));
    for (id, output) in outputs.iter().filter(|(id, _)| !recording_outputs.contains(id.as_str())) {
        assert_eq!(names_one(&output.to_string()), None, "output {id} names a recording resource");
    }
    // The agent-app learns whether recording is deployed.
    let config = template["Outputs"]["AgentAppConfig"]["Value"]["Fn::Sub"][0].as_str().unwrap();
    assert!(config.contains("\"deployRecordingStack\":\"${RecordingEnabled}\""), "{config}");
}

#[test]
fn recording_needs_its_image_its_playback_profile_is_the_stacks_unless_given_and_given_networking_comes_whole() {
    let template = rendered_template();
    let parameters = &template["Parameters"];
    for name in ["RecorderImageUri", "RecordingPlaybackSecurityProfileId", "RecordingVpcId", "RecordingSubnetIds"] {
        assert_eq!(parameters[name]["Default"], "", "{name}: blank unless recording is deployed");
    }
    let on = json!({"Fn::Equals": [{"Ref": "RecordingEnabled"}, "true"]});
    let rule = &template["Rules"]["RecordingNeedsItsImage"];
    assert_eq!(rule["RuleCondition"], on);
    let asserted: Vec<&Value> = rule["Assertions"].as_array().unwrap().iter().map(|a| &a["Assert"]).collect();
    let required: Vec<Value> =
        ["RecorderImageUri"].iter().map(|name| json!({"Fn::Not": [{"Fn::Equals": [{"Ref": name}, ""]}]})).collect();
    assert_eq!(asserted, required.iter().collect::<Vec<_>>());
    assert_eq!(template["Rules"]["RecordingNetworkIsGivenWhole"]["RuleCondition"], on);
    assert_eq!(parameters["RecordingSubnetIds"]["Type"], "CommaDelimitedList");
    assert_eq!(
        parameters["RecordingAmiId"],
        json!({"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
               "Default": "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
               "Description": parameters["RecordingAmiId"]["Description"]})
    );
    let bounds = |name: &str| {
        (
            parameters[name]["Default"].clone(),
            parameters[name]["MinValue"].clone(),
            parameters[name]["MaxValue"].clone(),
        )
    };
    assert_eq!(bounds("RecordingUrlExpirySeconds"), (json!(900), json!(60), json!(3600)));
    assert_eq!(bounds("RecordingRetentionDays"), (json!(90), json!(1), Value::Null));
    assert_eq!(bounds("RecordingScreenWidth").0, json!(1920));
    assert_eq!(bounds("RecordingScreenHeight").0, json!(1080));
    // The recorder's segments (a fault costs at most one) and its own end.
    assert_eq!(bounds("RecordingSegmentSeconds"), (json!(300), json!(30), json!(1800)));
    assert_eq!(bounds("RecordingMaxMinutes"), (json!(180), json!(1), json!(1440)));
    for name in ["RecordingSegmentSeconds", "RecordingMaxMinutes"] {
        assert_eq!(parameters[name]["Type"], "Number", "{name}");
    }
    // The image parameter accepts an ECR reference (with a tag or a digest) and blank, nothing else.
    let pattern = parameters["RecorderImageUri"]["AllowedPattern"].as_str().unwrap();
    assert!(pattern.starts_with("^(") && pattern.ends_with(")?$"), "blank is allowed: {pattern}");
}

#[test]
fn the_recording_functions_have_exactly_their_environment_and_timeouts() {
    let template = rendered_template();
    let resources = &template["Resources"];
    let expected: [(&str, &[&str]); 5] = [
        (
            "start-recording",
            &[
                "VIDEO_TABLE",
                "CHIME_CONTROL_REGION",
                "CONNECT_INSTANCE_ID",
                "RECORDING_CLUSTER",
                "RECORDING_TASK_DEFINITION",
                "RECORDING_CONTAINER_NAME",
                "RECORDING_BUCKET",
                "RECORDING_ATTENDEE_NAME",
                "RECORDING_SCREEN_WIDTH",
                "RECORDING_SCREEN_HEIGHT",
                "AGENT_APP_URL",
            ],
        ),
        ("stop-recording", &["VIDEO_TABLE", "CHIME_CONTROL_REGION", "RECORDING_CLUSTER"]),
        (
            "get-recording-summary",
            &[
                "VIDEO_TABLE",
                "RECORDING_BUCKET",
                "RECORDING_PLAYBACK_SECURITY_PROFILE_ID",
                "RECORDING_URL_EXPIRY_SECONDS",
            ],
        ),
        ("stop-recording-on-meeting-end", &["VIDEO_TABLE", "RECORDING_CLUSTER"]),
        (
            "prewarm-recording-task",
            &[
                "VIDEO_TABLE",
                "RECORDING_CLUSTER",
                "RECORDING_TASK_DEFINITION",
                "RECORDING_CONTAINER_NAME",
                "RECORDING_ASG_NAME",
            ],
        ),
    ];
    assert_eq!(expected.len(), RECORDING_FUNCTIONS.len());
    let container = &resources["RecorderTaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Name"];
    let group_name = &resources["RecordingAutoScalingGroup"]["Properties"]["AutoScalingGroupName"];
    let values = std::collections::BTreeMap::from([
        ("VIDEO_TABLE", json!({"Ref": "VideoTable"})),
        ("CHIME_CONTROL_REGION", json!({"Ref": "ChimeControlRegion"})),
        (
            "CONNECT_INSTANCE_ID",
            resources["PutConnectUserCacheFunction"]["Properties"]["Environment"]["Variables"]["CONNECT_INSTANCE_ID"]
                .clone(),
        ),
        ("RECORDING_CLUSTER", json!({"Ref": "RecordingCluster"})),
        ("RECORDING_TASK_DEFINITION", json!({"Ref": "RecorderTaskDefinition"})),
        ("RECORDING_CONTAINER_NAME", container.clone()),
        ("RECORDING_BUCKET", json!({"Ref": "RecordingBucket"})),
        ("RECORDING_ATTENDEE_NAME", json!({"Ref": "RecordingAttendeeName"})),
        ("RECORDING_SCREEN_WIDTH", json!({"Ref": "RecordingScreenWidth"})),
        ("RECORDING_SCREEN_HEIGHT", json!({"Ref": "RecordingScreenHeight"})),
        ("AGENT_APP_URL", json!({"Ref": "AgentAppUrl"})),
        // Blank: the stack's RecordingPlayback profile (its id is the last part of its ARN).
        (
            "RECORDING_PLAYBACK_SECURITY_PROFILE_ID",
            json!({"Fn::If": [
                "CreateRecordingPlaybackProfile",
                {"Fn::Select": [3, {"Fn::Split": ["/", {"Fn::GetAtt": ["RecordingPlaybackSecurityProfile", "SecurityProfileArn"]}]}]},
                {"Ref": "RecordingPlaybackSecurityProfileId"}
            ]}),
        ),
        ("RECORDING_URL_EXPIRY_SECONDS", json!({"Ref": "RecordingUrlExpirySeconds"})),
        // The group's name, written as the group writes it (a reference would be a cycle).
        ("RECORDING_ASG_NAME", group_name.clone()),
    ]);
    assert_eq!(*container, "recorder");
    assert_eq!(*group_name, json!({"Fn::Sub": "${AWS::StackName}-recording"}));
    for (function, names) in expected {
        let id = logical_id(function);
        let variables = resources[id.as_str()]["Properties"]["Environment"]["Variables"].as_object().unwrap();
        let own: BTreeSet<&str> = variables.keys().map(String::as_str).collect();
        assert_eq!(own, names.iter().copied().collect::<BTreeSet<_>>(), "{id}'s environment");
        for (name, value) in variables {
            assert_eq!(value, &values[name.as_str()], "{id}: {name}");
        }
        // Each function's timeout is its own entry of the mapping.
        let key = id.trim_end_matches("Function");
        assert_eq!(
            resources[id.as_str()]["Properties"]["Timeout"],
            json!({"Fn::FindInMap": ["FunctionTimeouts", key, "Seconds"]})
        );
        let seconds = match function {
            _ if function.ends_with("meeting-end") || function.starts_with("prewarm") => 60,
            // The undo's reserve: one whole SDK operation and 2 s (start_recording::undo_reserve).
            "start-recording" => 28,
            _ => 15,
        };
        assert_eq!(template["Mappings"]["FunctionTimeouts"][key], json!({"Seconds": seconds}), "{id}");
        assert_eq!(resources[id.as_str()]["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
    }
}

#[test]
fn the_recording_functions_are_granted_least_privilege() {
    let template = rendered_template();
    let resources = &template["Resources"];
    let cluster_condition = json!({"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["RecordingCluster", "Arn"]}}});
    let task_definitions = json!({"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${AWS::StackName}-recorder:*"});
    let tasks =
        json!({"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${RecordingCluster}/*"});
    let recorder_roles =
        json!([{"Fn::GetAtt": ["RecorderTaskRole", "Arn"]}, {"Fn::GetAtt": ["RecorderExecutionRole", "Arn"]}]);
    let passed_to_ecs_tasks = json!({"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}});
    // The task definition's family is the one the grants name.
    assert_eq!(
        resources["RecorderTaskDefinition"]["Properties"]["Family"],
        json!({"Fn::Sub": "${AWS::StackName}-recorder"})
    );

    let mut passers = BTreeSet::new();
    let mut listers = 0;
    for function in RECORDING_FUNCTIONS {
        let id = logical_id(function);
        let function_resource = &resources[id.as_str()];
        assert!(function_resource["Properties"]["Role"].is_null(), "{id}: SAM makes its role from Policies");
        for statement in statements(function_resource) {
            let sid = statement["Sid"].as_str().unwrap_or_else(|| panic!("{id}: a statement without Sid"));
            assert_eq!(statement["Effect"], "Allow", "{id} {sid}");
            let actions: Vec<String> =
                listed(&statement["Action"]).iter().map(|a| a.as_str().unwrap().to_owned()).collect();
            let resource = listed(&statement["Resource"]);
            for action in &actions {
                match action.as_str() {
                    "iam:PassRole" => {
                        assert_eq!(statement["Resource"], recorder_roles, "{id} {sid}: only the recorder's roles");
                        assert_eq!(statement["Condition"], passed_to_ecs_tasks, "{id} {sid}");
                        passers.insert(id.clone());
                    }
                    "ecs:RunTask" | "ecs:StartTask" => {
                        assert_eq!(statement["Resource"], task_definitions, "{id} {sid}");
                        assert_eq!(
                            statement["Condition"], cluster_condition,
                            "{id} {sid}: only in the recording cluster"
                        );
                    }
                    "ecs:StopTask" => assert_eq!(statement["Resource"], tasks, "{id} {sid}: only the cluster's tasks"),
                    // ListTasks has no resource to scope by (hence '*'): the cluster condition holds it.
                    "ecs:ListTasks" => assert_eq!(statement["Condition"], cluster_condition, "{id} {sid}"),
                    "ecs:ListContainerInstances" => {
                        assert_eq!(
                            statement["Resource"],
                            json!({"Fn::GetAtt": ["RecordingCluster", "Arn"]}),
                            "{id} {sid}"
                        )
                    }
                    "ecs:DescribeContainerInstances" => assert_eq!(
                        statement["Resource"],
                        json!({"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:container-instance/${RecordingCluster}/*"}),
                        "{id} {sid}: only the cluster's instances"
                    ),
                    a if a.starts_with("dynamodb:") => {
                        assert_eq!(statement["Resource"], json!({"Fn::GetAtt": ["VideoTable", "Arn"]}), "{id} {sid}");
                        assert!(
                            statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].is_array(),
                            "{id} {sid}: no leading-key condition"
                        );
                    }
                    a if a.starts_with("kms:") => {
                        assert_eq!(statement["Resource"], json!({"Fn::GetAtt": ["RecordingKey", "Arn"]}), "{id} {sid}");
                        assert_eq!(
                            statement["Condition"],
                            json!({"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}}),
                            "{id} {sid}: through S3 only"
                        );
                    }
                    "s3:GetObject" => {
                        assert_eq!(
                            statement["Resource"],
                            json!({"Fn::Sub": "${RecordingBucket.Arn}/RECORDINGS/*"}),
                            "{id} {sid}"
                        )
                    }
                    // Without it S3 answers a missing manifest with AccessDenied, not NoSuchKey.
                    "s3:ListBucket" => {
                        assert_eq!(id, "GetRecordingSummaryFunction", "{sid}: only the summary reads manifests");
                        assert_eq!(statement["Resource"], json!({"Fn::GetAtt": ["RecordingBucket", "Arn"]}), "{sid}");
                        listers += 1;
                    }
                    "chime:CreateAttendee" | "chime:DeleteAttendee" => {
                        let region = json!({"Fn::If": ["HasChimeControlRegion", {"Ref": "ChimeControlRegion"}, {"Ref": "AWS::Region"}]});
                        assert_eq!(
                            statement["Resource"],
                            json!({"Fn::Sub": ["arn:${AWS::Partition}:chime:${Region}:${AWS::AccountId}:meeting/*", {"Region": region}]}),
                            "{id} {sid}"
                        );
                    }
                    "connect:DescribeContact" | "connect:GetContactAttributes" | "connect:UpdateContactAttributes" => {
                        assert_eq!(
                            statement["Resource"],
                            json!({"Fn::Sub": ["${Instance}/contact/*", {"Instance": instance_arn()}]}),
                            "{id} {sid}"
                        )
                    }
                    other => panic!("{id} {sid}: {other} is not a recording function's action"),
                }
            }
            // No '*' but where the service has no resource-level permission for the action.
            if resource.contains(&json!("*")) {
                assert_eq!(actions, ["ecs:ListTasks"], "{id} {sid}: '*' resource");
            }
        }
    }
    assert_eq!(listers, 1, "get-recording-summary may list the recordings bucket");
    let expected_passers: BTreeSet<String> =
        ["start-recording", "prewarm-recording-task"].iter().map(|f| logical_id(f)).collect();
    assert_eq!(passers, expected_passers, "only the functions that start tasks pass the recorder's roles");

    // Per function: each DynamoDB action with the key prefixes it may touch.
    let grants = |id: &str| {
        let mut grants = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
        for statement in statements(&resources[id]) {
            let prefixes = listed(&statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
            for action in
                listed(&statement["Action"]).iter().filter_map(Value::as_str).filter(|a| a.starts_with("dynamodb:"))
            {
                grants
                    .entry(action.to_owned())
                    .or_default()
                    .extend(prefixes.iter().map(|p| p.as_str().unwrap().to_owned()));
            }
        }
        grants
    };
    let set = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    let on = |actions: &[&str], prefixes: &[&str]| -> Vec<(String, BTreeSet<String>)> {
        actions.iter().map(|a| (format!("dynamodb:{a}"), set(prefixes))).collect()
    };
    let mut start =
        std::collections::BTreeMap::from_iter(on(&["PutItem", "UpdateItem", "DeleteItem", "Query"], &["M#*"]));
    start.insert("dynamodb:GetItem".into(), set(&["M#*", "CUC#*"]));
    assert_eq!(grants("StartRecordingFunction"), start);
    assert_eq!(
        grants("StopRecordingFunction"),
        std::collections::BTreeMap::from_iter(on(&["GetItem", "Query", "UpdateItem", "DeleteItem"], &["M#*"]))
    );
    let mut summary = std::collections::BTreeMap::from_iter(on(&["Query"], &["M#*"]));
    summary.insert("dynamodb:GetItem".into(), set(&["CUC#*"]));
    assert_eq!(grants("GetRecordingSummaryFunction"), summary);
    assert_eq!(
        grants("StopRecordingOnMeetingEndFunction"),
        std::collections::BTreeMap::from_iter(on(&["GetItem", "Query", "UpdateItem", "DeleteItem"], &["M#*"]))
    );
    assert_eq!(
        grants("PrewarmRecordingTaskFunction"),
        std::collections::BTreeMap::from_iter(on(&["PutItem", "UpdateItem", "DeleteItem"], &["PREWARM#*"]))
    );
}

#[test]
fn the_recorder_task_runs_on_ec2_in_bridge_mode_and_has_time_to_finish_its_upload() {
    let template = rendered_template();
    let resources = &template["Resources"];
    let definition = &resources["RecorderTaskDefinition"]["Properties"];
    assert_eq!(definition["RequiresCompatibilities"], json!(["EC2"]));
    assert_eq!(definition["NetworkMode"], "bridge", "RunTask and StartTask pass no network configuration");
    assert_eq!((&definition["Cpu"], &definition["Memory"]), (&json!("4096"), &json!("8192")));
    assert_eq!(definition["TaskRoleArn"], json!({"Fn::GetAtt": ["RecorderTaskRole", "Arn"]}));
    assert_eq!(definition["ExecutionRoleArn"], json!({"Fn::GetAtt": ["RecorderExecutionRole", "Arn"]}));
    let containers = definition["ContainerDefinitions"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    assert_eq!(container["Name"], "recorder");
    assert_eq!(container["Image"], json!({"Ref": "RecorderImageUri"}));
    assert_eq!(container["Essential"], true);
    assert_eq!(container["StopTimeout"], 120, "ECS's most: SIGTERM stores the current segment and the manifest");
    assert_eq!(container["LinuxParameters"], json!({"InitProcessEnabled": true, "SharedMemorySize": 2048}));
    assert_eq!(
        container["Environment"],
        json!([
            {"Name": "AWS_REGION", "Value": {"Ref": "AWS::Region"}},
            {"Name": "RECORDING_SEGMENT_SECONDS", "Value": {"Ref": "RecordingSegmentSeconds"}},
            {"Name": "RECORDING_MAX_MINUTES", "Value": {"Ref": "RecordingMaxMinutes"}},
        ])
    );
    let logging = &container["LogConfiguration"];
    assert_eq!(logging["LogDriver"], "awslogs");
    assert_eq!(logging["Options"]["awslogs-group"], json!({"Ref": "RecorderLogs"}));
    assert_eq!(resources["RecorderLogs"]["Properties"]["RetentionInDays"], json!({"Ref": "LogRetentionDays"}));

    // The task may upload recordings (one PutObject per segment and manifest, no multipart) and
    // nothing else; ECS's execution role pulls and logs.
    let policies = &resources["RecorderTaskRole"]["Properties"]["Policies"];
    assert_eq!(
        policies[0]["PolicyDocument"]["Statement"],
        json!([
            {"Sid": "UploadRecordings", "Effect": "Allow", "Action": "s3:PutObject",
             "Resource": {"Fn::Sub": "${RecordingBucket.Arn}/RECORDINGS/*"}},
            {"Sid": "EncryptRecordings", "Effect": "Allow", "Action": "kms:GenerateDataKey",
             "Resource": {"Fn::GetAtt": ["RecordingKey", "Arn"]},
             "Condition": {"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}}},
        ])
    );
    assert_eq!(policies.as_array().unwrap().len(), 1);
    assert!(resources["RecorderTaskRole"]["Properties"]["ManagedPolicyArns"].is_null());
    assert_eq!(
        resources["RecorderExecutionRole"]["Properties"]["ManagedPolicyArns"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}])
    );
    for role in ["RecorderTaskRole", "RecorderExecutionRole"] {
        let trust = &resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"];
        assert_eq!(trust.as_array().unwrap().len(), 1, "{role}");
        assert_eq!(trust[0]["Principal"], json!({"Service": "ecs-tasks.amazonaws.com"}), "{role}");
        assert_eq!(
            trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"],
            json!({"Ref": "AWS::AccountId"}),
            "{role}"
        );
    }

    // The instances: the ECS-optimised AMI, IMDSv2 only, encrypted disks, joined to the cluster.
    let launch = &resources["RecordingLaunchTemplate"]["Properties"]["LaunchTemplateData"];
    assert_eq!(launch["ImageId"], json!({"Ref": "RecordingAmiId"}));
    assert_eq!(launch["MetadataOptions"]["HttpTokens"], "required");
    assert_eq!(launch["MetadataOptions"]["HttpPutResponseHopLimit"], 1, "containers in bridge mode cannot reach IMDS");
    for mapping in launch["BlockDeviceMappings"].as_array().unwrap() {
        assert_eq!(mapping["Ebs"]["Encrypted"], true, "{mapping}");
    }
    let user_data = launch["UserData"]["Fn::Base64"]["Fn::Sub"].as_str().unwrap();
    assert!(
        user_data.contains("ECS_CLUSTER=${RecordingCluster}") && user_data.contains("/etc/ecs/ecs.config"),
        "{user_data}"
    );
    assert_eq!(
        resources["RecordingInstanceRole"]["Properties"]["ManagedPolicyArns"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"}])
    );
    let group = &resources["RecordingAutoScalingGroup"]["Properties"];
    assert_eq!(
        group["VPCZoneIdentifier"],
        json!({"Fn::If": ["CreateRecordingVpc",
                          [{"Ref": "RecordingPrivateSubnet1"}, {"Ref": "RecordingPrivateSubnet2"}],
                          {"Ref": "RecordingSubnetIds"}]})
    );
    let provider = &resources["RecordingCapacityProvider"]["Properties"]["AutoScalingGroupProvider"];
    assert_eq!(provider["AutoScalingGroupArn"], json!({"Ref": "RecordingAutoScalingGroup"}));
    assert_eq!(provider["ManagedScaling"]["Status"], "ENABLED");
    // Protected instances would keep CloudFormation from deleting the group (switching recording off).
    assert_eq!(provider["ManagedTerminationProtection"], "DISABLED");
    assert_eq!(group["NewInstancesProtectedFromScaleIn"], false);
    assert_eq!(provider["ManagedDraining"], "ENABLED");
    let associations = &resources["RecordingCapacityProviderAssociations"]["Properties"];
    assert_eq!(associations["Cluster"], json!({"Ref": "RecordingCluster"}));
    assert_eq!(associations["CapacityProviders"], json!([{"Ref": "RecordingCapacityProvider"}]));
    assert_eq!(
        resources["RecordingCluster"]["Properties"]["ClusterSettings"],
        json!([{"Name": "containerInsights", "Value": "enabled"}])
    );
    // Nothing connects in.
    let group = &resources["RecordingSecurityGroup"]["Properties"];
    assert!(group["SecurityGroupIngress"].is_null(), "{group}");
}

#[test]
fn the_recordings_bucket_is_private_encrypted_with_the_stacks_key_tls_only_and_expires_recordings() {
    let template = rendered_template();
    let resources = &template["Resources"];
    let bucket = &resources["RecordingBucket"];
    assert_eq!((&bucket["DeletionPolicy"], &bucket["UpdateReplacePolicy"]), (&json!("Retain"), &json!("Retain")));
    let properties = &bucket["Properties"];
    assert_eq!(
        properties["PublicAccessBlockConfiguration"],
        json!({"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true})
    );
    assert_eq!(properties["OwnershipControls"], json!({"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}));
    assert_eq!(
        properties["BucketEncryption"],
        json!({"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["RecordingKey", "Arn"]}},
            "BucketKeyEnabled": true}]})
    );
    assert_eq!(
        properties["LifecycleConfiguration"],
        json!({"Rules": [{"Id": "ExpireRecordings", "Status": "Enabled", "Prefix": "RECORDINGS/",
                          "ExpirationInDays": {"Ref": "RecordingRetentionDays"},
                          "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]})
    );
    for absent in ["WebsiteConfiguration", "CorsConfiguration", "AccessControl", "VersioningConfiguration"] {
        assert!(properties[absent].is_null(), "RecordingBucket has {absent}");
    }
    let key = &resources["RecordingKey"];
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(key["DeletionPolicy"], "Retain", "the retained recordings need their key");

    let policies: Vec<_> = resources_of_bucket(&template, "RecordingBucket");
    assert_eq!(policies, ["RecordingBucketPolicy"]);
    assert_eq!(
        resources["RecordingBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"],
        json!([{"Sid": "DenyWithoutTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [{"Fn::GetAtt": ["RecordingBucket", "Arn"]}, {"Fn::Sub": "${RecordingBucket.Arn}/*"}],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}])
    );
}

/// The bucket policies of a bucket.
fn resources_of_bucket<'a>(template: &'a Value, bucket: &str) -> Vec<&'a str> {
    resources(template, "AWS::S3::BucketPolicy")
        .into_iter()
        .filter(|(_, p)| p["Properties"]["Bucket"] == json!({"Ref": bucket}))
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn meeting_ends_stop_recordings_here_or_forwarded_from_the_control_region_and_new_instances_prewarm() {
    let template = rendered_template();
    let resources = &template["Resources"];
    let meeting_ended = json!({"source": ["aws.chime"], "detail-type": ["Chime Meeting State Change"],
                               "detail": {"eventType": ["chime:MeetingEnded"]}});
    let event = |id: &str| -> (String, Value) {
        let events = resources[id]["Properties"]["Events"].as_object().unwrap();
        assert_eq!(events.len(), 1, "{id}");
        let (name, event) = events.iter().next().unwrap();
        assert_eq!(event["Type"], "EventBridgeRule", "{id}");
        assert!(event["Properties"]["EventBusName"].is_null(), "{id}: the default bus");
        (name.clone(), event["Properties"]["Pattern"].clone())
    };
    let (_, pattern) = event("StopRecordingOnMeetingEndFunction");
    assert_eq!(pattern, meeting_ended);

    // In the control region, when it is not this one: the same events forwarded to this region's bus.
    let forwarding = rendered("recording-events.yaml");
    let rule = &forwarding["Resources"]["ForwardMeetingEndedRule"]["Properties"];
    assert_eq!(rule["EventPattern"], meeting_ended);
    let bus =
        json!({"Fn::Sub": "arn:${AWS::Partition}:events:${SwitchboardRegion}:${AWS::AccountId}:event-bus/default"});
    let targets = rule["Targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0]["Arn"], bus);
    assert_eq!(targets[0]["RoleArn"], json!({"Fn::GetAtt": ["ForwardMeetingEndedRole", "Arn"]}));
    let role = &forwarding["Resources"]["ForwardMeetingEndedRole"]["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    assert_eq!(
        role["Policies"][0]["PolicyDocument"]["Statement"],
        json!([{"Sid": "PutOnTheSwitchboardRegionsDefaultBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}])
    );

    // Each launch of the recording group, and only of it, prewarms the new instance; the group waits
    // for the rule SAM makes from this event (and its permission), so its first instance is seen too.
    let (name, pattern) = event("PrewarmRecordingTaskFunction");
    let group = &resources["RecordingAutoScalingGroup"];
    assert_eq!(
        pattern,
        json!({"source": ["aws.autoscaling"], "detail-type": ["EC2 Instance Launch Successful"],
               "detail": {"AutoScalingGroupName": [group["Properties"]["AutoScalingGroupName"]]}})
    );
    let rule = format!("PrewarmRecordingTaskFunction{name}");
    assert_eq!(group["DependsOn"], json!([rule, format!("{rule}Permission")]));
}

// ===== pipelines (pipeline.yaml) =====

/// The AWS CLI's read timeout when `--cli-read-timeout` is not given (and then it invokes again).
const CLI_DEFAULT_READ_TIMEOUT: u64 = 60;

#[test]
fn each_flows_build_invokes_provision_flows_once_and_waits_longer_than_it_may_run() {
    let template = rendered_template();
    let function = &template["Resources"]["ProvisionFlowsFunction"]["Properties"];
    assert_eq!(function["Timeout"], json!({"Fn::FindInMap": ["FunctionTimeouts", "ProvisionFlows", "Seconds"]}));
    let function_timeout = template["Mappings"]["FunctionTimeouts"]["ProvisionFlows"]["Seconds"].as_u64().unwrap();

    let pipelines = rendered("pipeline.yaml");
    let mut invoking = BTreeSet::new();
    for (id, project) in resources(&pipelines, "AWS::CodeBuild::Project") {
        let properties = &project["Properties"];
        let buildspec = properties["Source"]["BuildSpec"].as_str().unwrap_or_default();
        let retries_off_for_the_project = properties["Environment"]["EnvironmentVariables"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|v| v["Name"] == "AWS_MAX_ATTEMPTS" && v["Value"] == "1");
        for line in buildspec.lines().filter(|l| l.contains("aws lambda invoke")) {
            invoking.insert(id);
            let words: Vec<&str> = line.trim().trim_start_matches("- ").split_whitespace().collect();
            let invoke = words.windows(3).position(|w| w == ["aws", "lambda", "invoke"]).unwrap();
            let option = |name: &str| words.iter().position(|w| *w == name).map(|at| words[at + 1]);
            assert_eq!(option("--function-name"), Some("\"$PROVISION_FLOWS_FUNCTION\""), "{id}: {line}");
            assert!(option("--invocation-type").is_none(), "{id}: a synchronous invoke, the build reads the report");
            let read_timeout = match option("--cli-read-timeout") {
                Some(seconds) => {
                    seconds.parse::<u64>().unwrap_or_else(|_| panic!("{id}: --cli-read-timeout {seconds}"))
                }
                None => CLI_DEFAULT_READ_TIMEOUT,
            };
            assert!(
                read_timeout > function_timeout,
                "{id}: the CLI reads for {read_timeout} s ({}), provision-flows may run {function_timeout} s \
                 (template.yaml FunctionTimeouts.ProvisionFlows): the CLI would give up and invoke it again",
                if option("--cli-read-timeout").is_some() { "--cli-read-timeout" } else { "the CLI's default" }
            );
            // No retry by the CLI: a second Invoke would be a second run of the plan or apply.
            let retries_off_for_the_invoke = words[..invoke].contains(&"AWS_MAX_ATTEMPTS=1");
            assert!(
                retries_off_for_the_invoke || retries_off_for_the_project,
                "{id}: the invoke runs with the CLI's retries on (no AWS_MAX_ATTEMPTS=1 before it: {:?}, nor in \
                 the project's environment)",
                &words[..invoke]
            );
            let build_timeout = properties["TimeoutInMinutes"].as_u64().unwrap() * 60;
            assert!(
                build_timeout > read_timeout,
                "{id}: the build times out after {build_timeout} s, before the invoke's {read_timeout} s"
            );
        }
    }
    assert_eq!(
        invoking,
        BTreeSet::from(["FlowsApplyProject", "FlowsPlanProject"]),
        "the projects invoking provision-flows"
    );
}

// ===== checkov waivers (tools/scan-templates: a resource's Metadata.checkov.skip) =====

/// Every waiver of a template: (resource, check id, reason).
fn waivers(template: &Value) -> Vec<(String, String, String)> {
    let mut found = vec![];
    for (id, resource) in template["Resources"].as_object().expect("a Resources section") {
        for skip in resource["Metadata"]["checkov"]["skip"].as_array().into_iter().flatten() {
            let check = skip["id"].as_str().unwrap_or_default().to_owned();
            found.push((id.clone(), check, skip["comment"].as_str().unwrap_or_default().to_owned()));
        }
    }
    found
}

/// The reason `resource` gives for waiving `check`.
fn waiver(template: &Value, resource: &str, check: &str) -> String {
    let found = waivers(template).into_iter().find(|(id, c, _)| id == resource && c == check);
    found.unwrap_or_else(|| panic!("{resource} does not waive {check}")).2
}

/// The `(method, path, authorizer)` of a function's HttpApi events on `api`.
fn http_routes(function: &Value, api: &str) -> Vec<(String, String, Option<String>)> {
    let events = function["Properties"]["Events"].as_object().cloned().unwrap_or_default();
    events
        .values()
        .filter(|e| e["Type"] == "HttpApi" && e["Properties"]["ApiId"] == json!({"Ref": api}))
        .map(|e| {
            let p = &e["Properties"];
            let authorizer = p["Auth"]["Authorizer"].as_str().map(str::to_owned);
            (p["Method"].as_str().unwrap().to_owned(), p["Path"].as_str().unwrap().to_owned(), authorizer)
        })
        .collect()
}

#[test]
fn the_three_waivers_the_review_found_false_now_say_what_the_stack_does() {
    let template = rendered_template();
    let all = &template["Resources"];

    // RecordingBucket, CKV_AWS_18: who was given which recording is logged by get-recording-summary,
    // the line the reason names (tests/recording.rs checks its fields).
    let reason = waiver(&template, "RecordingBucket", "CKV_AWS_18");
    let line = "recording playback links given";
    assert!(reason.contains("get-recording-summary") && reason.contains(line), "RecordingBucket CKV_AWS_18: {reason}");
    let code =
        std::fs::read_to_string(repo_root().join("crates/switchboard/src/recording/get_recording_summary.rs")).unwrap();
    assert!(code.contains(&format!("\"{line}\"")), "get-recording-summary has no line \"{line}\"");
    assert!(all["RecordingBucket"]["Properties"]["LoggingConfiguration"].is_null());

    // DesktopDistribution, CKV_AWS_68: /api/* is the whole agent API, whose public routes the reason
    // must name, with what guards them.
    let behaviours = all["DesktopDistribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"].clone();
    let api = behaviours.as_array().unwrap().iter().find(|b| b["PathPattern"] == "/api/*").unwrap();
    assert_eq!(api["TargetOriginId"], "AgentApi");
    let reason = waiver(&template, "DesktopDistribution", "CKV_AWS_68");
    let public: BTreeSet<String> = resources(&template, "AWS::Serverless::Function")
        .into_iter()
        .flat_map(|(_, f)| http_routes(f, "AgentApi"))
        .filter(|(_, _, authorizer)| authorizer.as_deref() == Some("NONE"))
        .map(|(_, path, _)| path)
        .collect();
    assert_eq!(public.len(), 3, "the agent API's public routes: {public:?}");
    for path in &public {
        assert!(reason.contains(&format!("{path},")) || reason.contains(&format!("{path})")), "{path}: {reason}");
    }
    for guard in ["PublicRouteBurstLimit", "PublicRouteRateLimit", "PublicFunctionConcurrency"] {
        assert!(reason.contains(guard), "DesktopDistribution CKV_AWS_68 names no {guard}: {reason}");
    }
    assert!(!reason.contains("every /api/* request meets"), "{reason}");

    // GithubWebhookFunction, CKV_AWS_116: GitHub does not redeliver a failed delivery by itself.
    let reason = waiver(&template, "GithubWebhookFunction", "CKV_AWS_116");
    assert!(!reason.contains("GitHub redelivers") && reason.contains("by hand"), "{reason}");
}

#[test]
fn every_waiver_has_a_reason_and_the_claims_a_template_can_show_hold() {
    for file in ["template.yaml", "pipeline.yaml", "recording-events.yaml"] {
        let template = rendered(file);
        let mut seen = BTreeSet::new();
        for (id, check, reason) in waivers(&template) {
            let well_formed = check.strip_prefix("CKV_AWS_").or_else(|| check.strip_prefix("CKV2_AWS_"));
            assert!(well_formed.is_some_and(|n| n.parse::<u32>().is_ok()), "{file} {id}: check id {check:?}");
            assert!(reason.len() >= 20, "{file} {id} {check}: no reason ({reason:?})");
            assert!(seen.insert((id.clone(), check.clone())), "{file} {id} waives {check} twice");
        }
    }

    let template = rendered_template();
    let all = &template["Resources"];
    let connect_invoked: BTreeSet<String> = resources(&template, "AWS::Lambda::Permission")
        .into_iter()
        .filter(|(_, p)| p["Properties"]["Principal"] == "connect.amazonaws.com")
        .filter_map(|(_, p)| p["Properties"]["FunctionName"]["Fn::GetAtt"][0].as_str().map(str::to_owned))
        .collect();
    assert!(!connect_invoked.is_empty());
    let secret_reference = |function: &Value| {
        let environment = function["Properties"]["Environment"].to_string();
        environment.contains("secretsmanager:") || environment.contains("ResultDecryptionKeys")
    };
    for (id, check, reason) in waivers(&template) {
        let function = &all[id.as_str()];
        if function["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let on_failure = &function["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
        let agent_routes = http_routes(function, "AgentApi");
        match check.as_str() {
            "CKV_AWS_116" if reason.starts_with("Synchronous (HTTP API)") => {
                assert!(
                    !http_routes(function, "AgentApi").is_empty() || !http_routes(function, "IdentityApi").is_empty(),
                    "{id}: {reason}"
                );
                assert!(on_failure.is_null(), "{id}: {reason}");
            }
            "CKV_AWS_116" if reason.starts_with("Synchronous (Amazon Connect)") => {
                assert!(connect_invoked.contains(&id), "{id} is not invoked by Connect: {reason}");
            }
            "CKV_AWS_116" if reason.starts_with("Asynchronous") => {
                assert_eq!(
                    on_failure["Destination"],
                    json!({"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}),
                    "{id}: {reason}"
                );
            }
            "CKV_AWS_115" if reason.starts_with("Behind the JWT authorizer") => {
                assert!(!agent_routes.is_empty(), "{id} has no agent API route: {reason}");
                assert!(agent_routes.iter().all(|(_, _, a)| a.is_none()), "{id} has a public route: {agent_routes:?}");
            }
            "CKV_AWS_115" if reason.starts_with("Connect-invoked") => {
                assert!(connect_invoked.contains(&id), "{id} is not invoked by Connect: {reason}");
            }
            "CKV_AWS_173" => {
                let claims = reason.contains("secret reference") || reason.contains("secret's reference");
                assert_eq!(claims, secret_reference(function), "{id}: the environment vs. the reason {reason:?}");
            }
            _ => {}
        }
    }
}

// ===== custom resources (DESIGN.md: a custom resource answers CloudFormation on every path) =====

/// Every custom resource tells CloudFormation how long to wait for its answer: without
/// `ServiceTimeout` a provider that never answers (a crash Lambda gave up retrying) holds the stack
/// for CloudFormation's default hour. The wait covers the provider's three attempts (Lambda retries
/// a failed asynchronous invocation twice, after 1 and 2 minutes) and stays within the 3,600 s bound.
#[test]
fn every_custom_resource_has_a_service_timeout_that_covers_its_providers_attempts() {
    let template = rendered_template();
    let all = template["Resources"].as_object().expect("a Resources section");
    let custom: Vec<(&String, &Value)> = all
        .iter()
        .filter(|(_, r)| {
            let kind = r["Type"].as_str().unwrap_or_default();
            kind == "AWS::CloudFormation::CustomResource" || kind.starts_with("Custom::")
        })
        .collect();
    assert!(custom.len() >= 3, "ContactFlows, ConnectAssociations, DesktopSite: {custom:?}");
    for (id, resource) in custom {
        let properties = &resource["Properties"];
        let timeout = properties["ServiceTimeout"].as_u64().unwrap_or_else(|| panic!("{id} has no ServiceTimeout"));
        assert!((1..=3600).contains(&timeout), "{id}: ServiceTimeout {timeout} is outside 1-3600");
        let provider = properties["ServiceToken"]["Fn::GetAtt"][0].as_str().unwrap_or_else(|| panic!("{id}"));
        let key = &all[provider]["Properties"]["Timeout"]["Fn::FindInMap"];
        assert_eq!(key[0], "FunctionTimeouts", "{provider}'s Timeout comes from FunctionTimeouts");
        let seconds = template["Mappings"]["FunctionTimeouts"][key[1].as_str().unwrap()]["Seconds"].as_u64().unwrap();
        assert!(
            timeout >= 3 * seconds + 180,
            "{id}: ServiceTimeout {timeout} < three attempts of {seconds} s and the retries' waits"
        );
    }
}

// ===== the contact centre (template.yaml, "the contact centre"; docs/contact-centre.md) =====

/// The `Name` (or `SecurityProfileName`) of every resource of `kind`, as literal strings.
fn declared_names(template: &Value, kind: &str, property: &str) -> BTreeSet<String> {
    resources(template, kind)
        .into_iter()
        .map(|(id, r)| {
            r["Properties"][property].as_str().unwrap_or_else(|| panic!("{id}: {property} is not literal")).to_owned()
        })
        .collect()
}

#[test]
fn every_resource_the_flows_name_is_declared_or_made_by_connect_in_every_new_instance() {
    use switchboard_local::instance::{BUILT_IN_PROMPTS, BUILT_IN_QUEUE};
    let template = rendered_template();
    let mut queues = declared_names(&template, "AWS::Connect::Queue", "Name");
    queues.insert(BUILT_IN_QUEUE.to_owned());
    let mut prompts = declared_names(&template, "AWS::Connect::Prompt", "Name");
    prompts.extend(BUILT_IN_PROMPTS.iter().map(|p| (*p).to_owned()));
    let contact_flows = &template["Resources"]["ContactFlows"]["Properties"];
    let bots: BTreeSet<&str> = contact_flows["Bots"].as_object().unwrap().keys().map(String::as_str).collect();
    let library = switchboard_local::flow::FlowLibrary::repository();
    let flow_names: BTreeSet<String> =
        library.names().unwrap().iter().map(|n| n.rsplit('/').next().unwrap().to_owned()).collect();
    let mut checked = 0;
    for name in library.names().unwrap() {
        let flow = library.load(&name).unwrap();
        for placeholder in flow.placeholders().unwrap() {
            let declared = match placeholder.kind.as_str() {
                "queue" => queues.contains(&placeholder.name),
                "prompt" => prompts.contains(&placeholder.name),
                "bot" => bots.contains(placeholder.name.as_str()),
                "flow" => flow_names.contains(&placeholder.name),
                // Functions: every_flow_loads_and_every_lambda_placeholder_names_a_function; params: flows.json.
                _ => continue,
            };
            assert!(
                declared,
                "{name} names {{{{{}:{}}}}}, which template.yaml does not declare",
                placeholder.kind, placeholder.name
            );
            checked += 1;
        }
        // The names a flow asks flow-resource-map for ($.External.<Name>) are queues or flows too.
        for action in flow.actions.iter().filter(|a| a.kind == "InvokeLambdaFunction") {
            let Some(asked) = action.parameters.pointer("/LambdaInvocationAttributes/names").and_then(Value::as_str)
            else {
                continue;
            };
            for wanted in asked.split(',').map(str::trim) {
                assert!(
                    queues.contains(wanted) || flow_names.contains(wanted),
                    "{name} maps {wanted}, which nothing declares"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} references checked");
    // Every claimed number starts a flow of the library.
    let numbers = &contact_flows["PhoneNumbers"]["Fn::If"][1];
    for (flow, number) in numbers.as_object().unwrap() {
        assert!(flow_names.contains(flow), "{flow} answers a number but is not in contact-flows/");
        let id = number["Ref"].as_str().unwrap();
        assert_eq!(template["Resources"][id]["Type"], "AWS::Connect::PhoneNumber", "{flow}");
        assert_eq!(template["Resources"][id]["Condition"], "ClaimPhoneNumbers", "{id}: numbers are charged, so opt-in");
    }
}

#[test]
fn a_blank_instance_arn_creates_the_instance_its_encrypted_storage_and_its_hierarchy_and_a_given_one_adds_only() {
    let template = rendered_template();
    let all = template["Resources"].as_object().unwrap();
    assert_eq!(
        template["Conditions"]["CreateConnectInstance"],
        json!({"Fn::Equals": [{"Ref": "ConnectInstanceArn"}, ""]})
    );
    let instance = &all["ConnectInstance"];
    assert_eq!(instance["Condition"], "CreateConnectInstance");
    let attributes = &instance["Properties"]["Attributes"];
    assert_eq!((&attributes["InboundCalls"], &attributes["OutboundCalls"]), (&json!(true), &json!(true)));
    assert_eq!(instance["Properties"]["IdentityManagementType"], json!({"Ref": "ConnectIdentityManagement"}));
    let storage: Vec<&str> = resources(&template, "AWS::Connect::InstanceStorageConfig")
        .into_iter()
        .map(|(id, s)| {
            assert_eq!(s["Condition"], "CreateConnectInstance", "{id}");
            assert_eq!(s["Properties"]["S3Config"]["EncryptionConfig"]["EncryptionType"], "KMS", "{id}");
            s["Properties"]["ResourceType"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        storage.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from(["CALL_RECORDINGS", "CHAT_TRANSCRIPTS"])
    );
    // The hierarchy structure is the instance's own: only a created instance gets the stack's.
    for (id, _) in resources(&template, "AWS::Connect::UserHierarchyStructure")
        .into_iter()
        .chain(resources(&template, "AWS::Connect::UserHierarchyGroup"))
    {
        assert_eq!(all[id]["Condition"], "CreateConnectInstance", "{id}");
    }
    // Every Connect resource of the stack is on the one instance: nothing names ConnectInstanceArn
    // outside the switch between the given and the created one.
    let text = serde_json::to_string(&template["Resources"]).unwrap();
    let switch = serde_json::to_string(&instance_arn()).unwrap();
    let bare = text.replace(&switch, "").matches("\"ConnectInstanceArn\"").count();
    assert_eq!(bare, 0, "a resource names ConnectInstanceArn without the CreateConnectInstance switch");
    let given = r#"{"Ref":"ConnectInstanceArn"}"#;
    assert!(!text.replace(&switch, "").contains(given));
    // Demo agents only for a demo stack: a created instance, users managed by Connect, a password.
    let demo = &template["Conditions"]["CreateDemoAgents"]["Fn::And"];
    assert_eq!(demo[0], json!({"Condition": "CreateConnectInstance"}));
    assert_eq!(demo[1], json!({"Fn::Equals": [{"Ref": "ConnectIdentityManagement"}, "CONNECT_MANAGED"]}));
    assert_eq!(template["Parameters"]["DemoAgentPassword"]["NoEcho"], json!(true));
    assert_eq!(template["Parameters"]["DemoAgentPassword"]["Default"], "", "none unless asked for");
    let users = resources(&template, "AWS::Connect::User");
    assert_eq!(users.len(), 2);
    for (id, user) in users {
        assert_eq!(user["Condition"], "CreateDemoAgents", "{id}");
        let properties = &user["Properties"];
        assert_eq!(
            properties["RoutingProfileArn"],
            json!({"Fn::GetAtt": ["AgentRoutingProfile", "RoutingProfileArn"]})
        );
        assert_eq!(properties["Password"], json!({"Ref": "DemoAgentPassword"}), "{id}: the parameter, never a literal");
    }
}

#[test]
fn the_templates_lint_clean_as_a_new_instance_and_as_an_existing_one_with_numbers() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let dir = std::env::temp_dir().join(format!("switchboard-lint-instance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let no_default = "  ConnectInstanceArn:\n    Type: String\n";
    assert_eq!(template.matches(no_default).count(), 1);
    let new_instance =
        template.replace(no_default, "  ConnectInstanceArn:\n    Type: String\n    Default: ''\n").replace(
            "  ConnectInstanceAlias:\n    Type: String\n    Default: ''\n",
            "  ConnectInstanceAlias:\n    Type: String\n    Default: switchboard-demo\n",
        );
    let existing = template.replace(
        no_default,
        "  ConnectInstanceArn:\n    Type: String\n    Default: arn:aws:connect:ap-southeast-2:123456789012:instance/11111111-2222-3333-4444-555555555555\n",
    );
    let numbers = [("PhoneNumberCountryCode", "''", "AU")];
    let mut paths = Vec::new();
    for (name, text) in [
        ("new-instance", new_instance.clone()),
        ("new-instance-numbers", with_defaults(&new_instance, &numbers)),
        ("new-instance-demo-agents", with_defaults(&new_instance, &[("DemoAgentPassword", "''", "Demo-Passw0rd")])),
        ("existing-instance", existing.clone()),
        ("existing-instance-numbers-recording", with_defaults(&existing, &[numbers.as_slice(), RECORDING_ON].concat())),
    ] {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let output = std::process::Command::new(repo_root().join(".venv/bin/cfn-lint")).args(&paths).output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "cfn-lint:\n{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// What ffprobe reads of a recording: codec, sample rate, channels.
fn audio_format(path: &Path) -> (String, String, u64) {
    let output = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe (make setup installs ffmpeg)");
    assert!(output.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
    let probed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let stream = &probed["streams"][0];
    let field = |name: &str| stream[name].as_str().unwrap_or_default().to_owned();
    (field("codec_name"), field("sample_rate"), stream["channels"].as_u64().unwrap_or_default())
}

#[test]
fn every_prompt_imports_its_own_recording_from_the_stacks_bucket_in_a_format_connect_plays() {
    let template = rendered_template();
    let all = &template["Resources"];
    let folder = repo_root().join("contact-flows/prompts");
    let mut recordings: BTreeSet<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let prompts = resources(&template, "AWS::Connect::Prompt");
    assert!(!prompts.is_empty());
    for (id, prompt) in &prompts {
        let properties = &prompt["Properties"];
        // One name: the file's stem is the prompt's name and PromptAudio's attribute.
        let name = properties["Name"].as_str().unwrap();
        assert_eq!(properties["S3Uri"], json!({"Fn::GetAtt": ["PromptAudio", name]}), "{id}");
        assert_eq!(properties["InstanceArn"], instance_arn(), "{id}");
        let file = format!("{name}.wav");
        assert!(recordings.remove(&file), "{id} imports contact-flows/prompts/{file}, which is not there");
        // Connect's telephony format: 8 kHz, mono, mu-law (or 16-bit PCM) in a .wav.
        let (codec, rate, channels) = audio_format(&folder.join(&file));
        assert!(
            ["pcm_mulaw", "pcm_s16le"].contains(&codec.as_str()) && rate == "8000" && channels == 1,
            "{file}: {codec} {rate} Hz {channels} channels"
        );
        // The flows resolve {{prompt:…}} by name, so they are deployed only once the prompt exists.
        let depends = all["ContactFlows"]["DependsOn"].as_array().unwrap();
        assert!(depends.contains(&json!(id)), "ContactFlows does not wait for {id}");
    }
    assert!(recordings.is_empty(), "recordings no prompt imports: {recordings:?}");

    // PromptAudio: the bundle's recordings (a new layer version is an Update) into the stack's bucket.
    let audio = &all["PromptAudio"]["Properties"];
    assert_eq!(audio["ServiceToken"], json!({"Fn::GetAtt": ["ProvisionFlowsFunction", "Arn"]}));
    assert_eq!(audio["Bucket"], json!({"Ref": "PromptBucket"}));
    assert_eq!(audio["Bundle"], json!({"Ref": "ContactFlowsBundleLayer"}));
    assert_eq!(all["ProvisionFlowsFunction"]["Properties"]["Layers"], json!([{"Ref": "ContactFlowsBundleLayer"}]));

    // The bucket is private, encrypted, TLS only; provision-flows writes and lists under prompts/ only.
    let bucket = &all["PromptBucket"]["Properties"];
    assert_eq!(bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"], true);
    assert_eq!(bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"], "BucketOwnerEnforced");
    assert!(bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        ["SSEAlgorithm"]
        .is_string());
    let policy = &all["PromptBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    assert_eq!(policy.as_array().unwrap().len(), 1, "no grant to anyone: CreatePrompt reads as the deployer");
    assert_eq!(
        (&policy[0]["Effect"], &policy[0]["Condition"]["Bool"]["aws:SecureTransport"]),
        (&json!("Deny"), &json!("false"))
    );
    let s3: Vec<Value> = statements(&all["ProvisionFlowsFunction"])
        .into_iter()
        .filter(|s| listed(&s["Action"]).iter().any(|a| a.as_str().unwrap_or_default().starts_with("s3:")))
        .collect();
    assert_eq!(s3.len(), 2, "{s3:?}");
    for statement in &s3 {
        let actions = listed(&statement["Action"]);
        if actions == [json!("s3:ListBucket")] {
            assert_eq!(statement["Resource"], json!({"Fn::GetAtt": ["PromptBucket", "Arn"]}));
            assert_eq!(statement["Condition"], json!({"StringLike": {"s3:prefix": "prompts/*"}}));
        } else {
            assert_eq!(actions, [json!("s3:PutObject"), json!("s3:DeleteObject")]);
            assert_eq!(statement["Resource"], json!({"Fn::Sub": "${PromptBucket.Arn}/prompts/*"}));
        }
    }
}

/// Each function's `MemorySize` is the size `make bench`'s figures choose for it (`bench::memory::choose`
/// over bench/results.json, which keeps a declared size while it is fast and cheap enough; the table
/// "Memory size per function" in bench/results.md; `switchboard-local memory-sizes --write` sets
/// them): no size is set by hand, and none comes from Globals, so a function without its own line
/// fails here.
#[test]
fn every_functions_memory_size_is_the_benchs_choice() {
    use switchboard_local::bench::{memory, Report};
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let globals = &template[template.find("\nGlobals:\n").unwrap()..template.find("\nResources:\n").unwrap()];
    assert!(!globals.contains("MemorySize:"), "a MemorySize in Globals is a size the bench did not choose");
    let declared_sizes = memory::declared_sizes(&template).unwrap();
    let results = repo_root().join("bench/results.json");
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let mut wrong = Vec::new();
    for function in function_names().unwrap() {
        let Some(&declared) = declared_sizes.get(&function) else {
            wrong.push(format!("{function}: no MemorySize of its own in template.yaml"));
            continue;
        };
        let figures = report.functions.iter().find(|f| f.function == function);
        let Some(chosen) = figures.and_then(|f| memory::choose(f, Some(declared))).map(|size| size.memory_mb) else {
            wrong.push(format!("{function}: no figures under the CPU model in bench/results.json; run `make bench`"));
            continue;
        };
        if declared != chosen {
            wrong.push(format!("{function}: MemorySize {declared} in template.yaml, the bench chose {chosen}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
