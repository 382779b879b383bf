//! The fleet's contract with its template and sample events: every function crate has a template
//! resource and sample events (and the reverse), and every sample event gets a well-formed answer
//! from the real binary.

use std::{collections::BTreeSet, path::Path};

use switchboard_fleet_tests::Fleet;
use switchboard_local::{
    cloud::{function_names, sample_events},
    lambda_host::InvokeClient,
    repo_root,
};

/// `one-time-pin` → `OneTimePinFunction`.
fn logical_id(function: &str) -> String {
    let pascal: String = function
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    format!("{pascal}Function")
}

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
            let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let answer = lambda.invoke(&function, &event).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            if event.get("version").and_then(|v| v.as_str()) == Some("2.0") {
                assert_http_envelope(&name, &answer);
            } else {
                assert_flow_result(&name, &answer);
            }
        }
    }
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
    for route in switchboard_local::cloud::HTTP_ROUTES {
        let id = logical_id(route.function);
        let resource = resource_text(&template, &id);
        let has = |line: String| resource.lines().any(|l| l.trim() == line);
        assert!(has(format!("Path: {}", route.path)), "{id} has no Path: {}", route.path);
        assert!(has(format!("Method: {}", route.method)), "{id} has no Method: {}", route.method);
        use switchboard_local::gateway::Access;
        let (api, authorizer) = match route.access {
            Access::Agent => ("AgentApi", None), // the API's default: the Cognito JWT authorizer
            Access::Iam => ("IdentityApi", Some("Authorizer: AWS_IAM")),
            Access::Public => ("IdentityApi", Some("Authorizer: NONE")),
            Access::AgentPublic => ("AgentApi", Some("Authorizer: NONE")),
        };
        assert!(has(format!("ApiId: !Ref {api}")), "{id} is not on {api}");
        if let Some(authorizer) = authorizer {
            assert!(has(authorizer.into()), "{id} lacks {authorizer}");
        }
    }
}

#[test]
fn the_app_client_cannot_write_the_connect_user_id_locally_or_in_the_template() {
    use switchboard_local::cloud::{CLIENT_READ_ATTRIBUTES, CLIENT_WRITE_ATTRIBUTES};
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let list = |key: &str| -> Vec<String> {
        let line = template.lines().find(|l| l.trim_start().starts_with(key)).unwrap_or_else(|| panic!("no {key}"));
        let inner = line.split('[').nth(1).and_then(|r| r.split(']').next()).unwrap_or_default();
        inner.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
    };
    assert_eq!(list("WriteAttributes:"), CLIENT_WRITE_ATTRIBUTES);
    assert_eq!(list("ReadAttributes:"), CLIENT_READ_ATTRIBUTES);
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
        "emergency/Emergency_Update_Placeholder",
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
    assert!(start_chat.contains("Resource: !Sub '${ConnectInstanceArn}/contact-flow/${VideoChatContactFlowId}'"));
    assert!(start_chat.contains("CHAT_CONTACT_FLOW_IDS: !Ref VideoChatContactFlowId"));
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
