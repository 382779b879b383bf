use serde_json::json;

use super::*;

fn flow(content: Value) -> BundleFlow {
    BundleFlow {
        source: "ctx/Flow".into(),
        stem: "Flow".into(),
        kind: "CONTACT_FLOW".into(),
        description: None,
        content,
        parameter_defaults: BTreeMap::new(),
    }
}

fn doc(parameters: Value) -> Value {
    json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "X", "Parameters": parameters, "Transitions": {}}
    ]})
}

/// The designer's coordinates are doubles printed in full (`52.800000000000004`); a write that
/// rounded them would change every flow on every apply and drift from the export.
#[test]
fn numbers_keep_every_digit_from_the_file_to_the_written_content() {
    let text = r#"{"Version": "2019-10-30", "StartAction": "a",
        "Metadata": {"entryPointPosition": {"x": 52.800000000000004, "y": 40.00000000000001}},
        "Actions": [{"Identifier": "a", "Type": "X", "Parameters": {"Seconds": 2.675}, "Transitions": {}}]}"#;
    let files = BTreeMap::from([("v/Flow.json".to_owned(), text.to_owned())]);
    let bundle = parse(&files).unwrap();
    let flow = &bundle.flows[0];
    let (written, _, problems) =
        resolve(flow, "Flow", &mut |_| Resolution::Problem { code: "UNRESOLVED", message: String::new() });
    assert!(problems.is_empty(), "{problems:?}");
    let written = written.to_string();
    for number in ["52.800000000000004", "40.00000000000001", "2.675"] {
        assert!(written.contains(number), "{number} changed: {written}");
    }
    assert!(canonical(&flow.content).contains("52.800000000000004"));
}

#[test]
fn placeholders_are_whole_string_values() {
    assert_eq!(
        Placeholder::parse("{{queue:BasicQueue}}"),
        Some(Placeholder { kind: "queue".into(), name: "BasicQueue".into() })
    );
    assert_eq!(Placeholder::parse("x {{queue:BasicQueue}}"), None);
    assert_eq!(Placeholder::parse("{{queue:}}"), None);
    assert_eq!(Placeholder::parse("{{a:b:c}}"), None);
}

#[test]
fn resolution_replaces_values_and_names_each_problem_with_its_pointer() {
    let content = doc(
        json!({"QueueId": "{{queue:BasicQueue}}", "Text": "Hi {{param:x}}", "F": "{{flow:Other}}", "L": "{{lambda:nope}}"}),
    );
    let (resolved, pending, problems) = resolve(&flow(content), "sb-Flow", &mut |p| match p.kind.as_str() {
        "queue" => Resolution::Value("arn:queue".into()),
        "flow" => Resolution::Pending("sb-Other".into()),
        _ => Resolution::Problem { code: "UNRESOLVED", message: "no such function".into() },
    });
    assert_eq!(resolved["Actions"][0]["Parameters"]["QueueId"], "arn:queue");
    assert_eq!(resolved["Actions"][0]["Parameters"]["F"], "pending:sb-Other");
    assert_eq!(pending, BTreeSet::from(["sb-Other".to_owned()]));
    let mut codes: Vec<_> = problems.iter().map(|p| (p.code.as_str(), p.pointer.as_deref().unwrap())).collect();
    codes.sort();
    assert_eq!(
        codes,
        [("EMBEDDED_PLACEHOLDER", "/Actions/0/Parameters/Text"), ("UNRESOLVED", "/Actions/0/Parameters/L")]
    );
    let unresolved = problems.iter().find(|p| p.code == "UNRESOLVED").unwrap();
    assert_eq!(unresolved.placeholder.as_deref(), Some("{{lambda:nope}}"));
    assert_eq!(unresolved.flow, "sb-Flow");

    let mut filled = resolved;
    fill_pending(&mut filled, &BTreeMap::from([("sb-Other".to_owned(), "arn:flow".to_owned())]));
    assert_eq!(filled["Actions"][0]["Parameters"]["F"], "arn:flow");
}

#[test]
fn a_flow_over_connects_limit_is_too_large() {
    let content = doc(json!({"Text": "x".repeat(MAX_CONTENT_CHARS)}));
    let (_, _, problems) = resolve(&flow(content), "Flow", &mut |_| Resolution::Value(String::new()));
    assert_eq!(problems.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(), ["TOO_LARGE"]);
}

#[test]
fn canonical_form_ignores_key_order_and_whitespace() {
    let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": "s"}}"#).unwrap();
    let b: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[1,2]},"b":1}"#).unwrap();
    assert_eq!(canonical(&a), canonical(&b));
    assert_eq!(content_hash(&a), content_hash(&b));
    assert_ne!(content_hash(&a), content_hash(&json!({"b": 2})));
}

#[test]
fn diff_lists_actions_by_identifier() {
    let from = json!({"StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "X"}, {"Identifier": "b", "Type": "X"}]});
    let to = json!({"StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "Y"}, {"Identifier": "c", "Type": "X"}]});
    let diff = diff(&from, &to);
    assert_eq!(diff.added, ["c"]);
    assert_eq!(diff.removed, ["b"]);
    assert_eq!(diff.changed, ["a"]);
    assert!(!diff.other);
}

#[test]
fn bundles_take_types_from_flows_json_and_accept_the_workshop_wrapper() {
    let files = BTreeMap::from([
        (
            "contact-flows/flows.json".to_owned(),
            r#"{"v/Queue": {"type": "CUSTOMER_QUEUE", "description": "d"}}"#.to_owned(),
        ),
        ("contact-flows/v/Queue.json".to_owned(), doc(json!({})).to_string()),
        (
            "contact-flows/acme/main.json".to_owned(),
            json!({"Name": "ACME_Main", "ContactFlowType": "CONTACT_FLOW",
                   "Content": doc(json!({"LambdaFunctionARN": "<<ARNREPLACE>>"})).to_string()})
            .to_string(),
        ),
        ("contact-flows/README.md".to_owned(), "not a flow".to_owned()),
    ]);
    let flows = parse(&files).unwrap().flows;
    let queue = flows.iter().find(|f| f.source == "v/Queue").unwrap();
    assert_eq!((queue.stem.as_str(), queue.kind.as_str()), ("Queue", "CUSTOMER_QUEUE"));
    let main = flows.iter().find(|f| f.source == "acme/main").unwrap();
    assert_eq!(main.stem, "ACME_Main");
    assert_eq!(main.content["Actions"][0]["Parameters"]["LambdaFunctionARN"], "{{lambda:flow-resource-map}}");
}

#[test]
fn exports_read_in_each_format_real_instances_give() {
    let content = doc(json!({"LambdaFunctionARN": "<<ARNREPLACE>>"}));
    let files = BTreeMap::from([
        ("a/Plain.json".to_owned(), content.to_string()),
        (
            "a/Typed.json".to_owned(),
            json!({"Name": "ACME_queue", "Type": "CUSTOMER_QUEUE", "Content": content.to_string()}).to_string(),
        ),
        (
            "a/Described.json".to_owned(),
            json!({"ContactFlow": {"Arn": "arn:aws:connect:us-east-1:111111111111:instance/x/contact-flow/y",
                "Id": "y", "Name": "Inbound", "Type": "CONTACT_FLOW", "State": "ACTIVE", "Description": "from dev",
                "Content": doc(json!({"Text": "hi"})).to_string(), "Tags": {}}})
            .to_string(),
        ),
    ]);
    let bundle = parse(&files).unwrap();
    assert!(bundle.unreadable.is_empty(), "{:?}", bundle.unreadable);
    let by_source = |source: &str| bundle.flows.iter().find(|f| f.source == source).unwrap();
    let plain = by_source("a/Plain");
    assert_eq!((plain.stem.as_str(), plain.kind.as_str()), ("Plain", "CONTACT_FLOW"));
    assert_eq!(plain.content["Actions"][0]["Parameters"]["LambdaFunctionARN"], "<<ARNREPLACE>>", "only the wrapper's");
    let typed = by_source("a/Typed");
    assert_eq!((typed.stem.as_str(), typed.kind.as_str()), ("ACME_queue", "CUSTOMER_QUEUE"));
    assert_eq!(typed.content["Actions"][0]["Parameters"]["LambdaFunctionARN"], "{{lambda:flow-resource-map}}");
    let described = by_source("a/Described");
    assert_eq!((described.stem.as_str(), described.kind.as_str()), ("Inbound", "CONTACT_FLOW"));
    assert_eq!(described.description.as_deref(), Some("from dev"));
    assert_eq!(described.content["Actions"][0]["Parameters"]["Text"], "hi");
}

#[test]
fn other_tools_tokens_are_named_for_what_they_are_and_designer_metadata_is_not_a_problem() {
    let content = json!({"Version": "2019-10-30", "StartAction": "a",
        "Metadata": {"ActionMetadata": {"a": {"label": "${Queue} {{draft}} %%X%% <<Y>>", "queue": "{{queue:Nope}}"}}},
        "Actions": [{"Identifier": "a", "Type": "X", "Transitions": {}, "Parameters": {
            "Sub": "${QueueArn}", "Azure": "%%PROMPT_ID%%", "Mustache": "{{BasicQueue}}", "Angle": "<<QUEUE_ARN>>",
            "Workshop": "<<ARNREPLACE>>", "Embedded": "Hi {{param:x}}", "Price": "$5 and 50% off <3", "Whole": "{{param:x}}"}}]});
    let (_, _, problems) = resolve(&flow(content), "Flow", &mut |_| Resolution::Value("v".into()));
    let found: BTreeMap<&str, &str> =
        problems.iter().map(|p| (p.pointer.as_deref().unwrap().rsplit('/').next().unwrap(), p.code.as_str())).collect();
    assert_eq!(
        found,
        BTreeMap::from([
            ("Angle", "FOREIGN_TOKEN"),
            ("Azure", "FOREIGN_TOKEN"),
            ("Embedded", "EMBEDDED_PLACEHOLDER"),
            ("Mustache", "MALFORMED_PLACEHOLDER"),
            ("Sub", "FOREIGN_TOKEN"),
            ("Workshop", "WORKSHOP_PLACEHOLDER"),
        ])
    );
    let message =
        |key: &str| problems.iter().find(|p| p.pointer.as_deref().unwrap().ends_with(key)).unwrap().message.clone();
    assert!(
        message("Sub").contains("${QueueArn} is a CloudFormation Fn::Sub or Terraform interpolation"),
        "{}",
        message("Sub")
    );
    assert!(message("Mustache").contains("{{BasicQueue}} is not a placeholder"), "{}", message("Mustache"));
    assert!(!message("Embedded").contains("must be a whole string value"), "{}", message("Embedded"));
}

#[test]
fn references_outside_the_instance_or_unassociated_and_an_empty_lex_alias_are_problems() {
    let instance = "arn:aws:connect:ap-southeast-2:123456789012:instance/i-1";
    let ours = "arn:aws:lambda:ap-southeast-2:123456789012:function:ours";
    let content = json!({"Version": "2019-10-30", "StartAction": "a",
        "Metadata": {"ActionMetadata": {"a": {"queue": {"id": "arn:aws:connect:us-east-1:1:instance/j/queue/q"}}}},
        "Actions": [
        {"Identifier": "a", "Type": "InvokeLambdaFunction", "Parameters": {"LambdaFunctionARN": ours}, "Transitions": {}},
        {"Identifier": "b", "Type": "InvokeLambdaFunction", "Transitions": {},
         "Parameters": {"LambdaFunctionARN": "arn:aws:lambda:ap-southeast-2:123456789012:function:legacy"}},
        {"Identifier": "c", "Type": "ConnectParticipantWithLexBot", "Parameters": {"LexV2Bot": {"AliasArn": ""}}, "Transitions": {}},
        {"Identifier": "d", "Type": "UpdateContactTargetQueue", "Transitions": {},
         "Parameters": {"QueueId": format!("{}/queue/q", instance.replace("i-1", "i-2"))}},
        {"Identifier": "e", "Type": "ConnectParticipantWithLexBot", "Transitions": {},
         "Parameters": {"LexV2Bot": {"AliasArn": "arn:aws:lex:ap-southeast-2:123456789012:bot-alias/B/A"}}}
    ]});
    let context = ReferenceContext {
        instance_arn: Some(instance.into()),
        associated: BTreeSet::from([ours.to_owned()]),
        ..ReferenceContext::default()
    };
    let problems = reference_problems("Flow", &content, &context);
    let found: Vec<(&str, &str)> = problems.iter().map(|p| (p.pointer.as_deref().unwrap(), p.code.as_str())).collect();
    assert_eq!(
        found,
        [
            ("/Actions/1/Parameters/LambdaFunctionARN", "LAMBDA_NOT_ASSOCIATED"),
            ("/Actions/2/Parameters/LexV2Bot/AliasArn", "EMPTY_LEX_ALIAS"),
            ("/Actions/3/Parameters/QueueId", "FOREIGN_ARN"),
            ("/Actions/4/Parameters/LexV2Bot/AliasArn", "LEX_BOT_NOT_ASSOCIATED"),
        ]
    );
}

#[test]
fn an_unreadable_file_is_that_flows_problem_and_two_flows_of_one_name_refuse_the_bundle() {
    let files = BTreeMap::from([
        ("e/A.json".to_owned(), "{".to_owned()),
        ("e/B.json".to_owned(), "{}".to_owned()),
        ("e/C.json".to_owned(), doc(json!({})).to_string()),
    ]);
    let bundle = parse(&files).unwrap();
    assert_eq!(bundle.flows.iter().map(|f| f.stem.as_str()).collect::<Vec<_>>(), ["C"]);
    let unreadable: Vec<(&str, &str)> =
        bundle.unreadable.iter().map(|u| (u.source.as_str(), u.stem.as_str())).collect();
    assert_eq!(unreadable, [("e/A", "A"), ("e/B", "B")]);
    assert!(bundle.unreadable[1].detail.contains("no Version"), "{:?}", bundle.unreadable);
    let manifest = BTreeMap::from([("flows.json".to_owned(), "[".to_owned())]);
    assert_eq!(parse(&manifest).unwrap_err().code(), "INVALID_JSON");
    let twice = BTreeMap::from([
        ("e/A.json".to_owned(), doc(json!({})).to_string()),
        ("f/A.json".to_owned(), doc(json!({})).to_string()),
    ]);
    assert_eq!(parse(&twice).unwrap_err().code(), "DUPLICATE_NAME");
}

#[test]
fn a_described_module_and_a_manifest_module_are_modules() {
    let content = json!({"Version": "2019-10-30", "StartAction": "a", "Actions": [
        {"Identifier": "a", "Type": "EndFlowModuleExecution", "Parameters": {}, "Transitions": {}}]});
    let exported = json!({"ContactFlowModule": {"Name": "Greeting", "Content": content.to_string()}});
    let files = BTreeMap::from([
        ("ctx/Exported.json".to_owned(), exported.to_string()),
        ("ctx/Plain.json".to_owned(), content.to_string()),
        ("flows.json".to_owned(), json!({"ctx/Plain": {"type": "MODULE"}}).to_string()),
    ]);
    let bundle = parse(&files).unwrap();
    let kinds: Vec<(&str, &str)> = bundle.flows.iter().map(|f| (f.stem.as_str(), f.kind.as_str())).collect();
    assert_eq!(kinds, [("Greeting", MODULE), ("Plain", MODULE)]);
}
