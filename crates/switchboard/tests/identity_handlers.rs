//! Identity handlers through the real SDK clients against the local cloud: forced DTMF collisions
//! (an injected code source) and expiry (an injected clock).

use std::sync::{Arc, Mutex};

use lambda_http::http::{HeaderMap, Method, Uri};
use switchboard::{
    edge::{connect::ContactFlowEvent, http::Shape},
    identity::{
        jose::{seal, KeyRing},
        AssignId, CodeSource, IdentitySettings, ReceiveAuthResult, StartSession,
    },
    platform::{deadline::Deadline, time::ManualClock},
};
use switchboard_local::{
    cloud::{LocalCloud, HTTP_ROUTES},
    fixture::Fixture,
    gateway::http_api_event,
    repo_root,
};
use time::macros::datetime;

mod support;

/// Hands out the DTMF codes it was given, in order, then repeats the last one.
struct ScriptedCodes(Mutex<Vec<String>>);

impl CodeSource for ScriptedCodes {
    fn dtmf(&self, _length: usize) -> Result<String, String> {
        let mut codes = self.0.lock().unwrap();
        Ok(if codes.len() > 1 { codes.remove(0) } else { codes[0].clone() })
    }
    fn result_code(&self) -> Result<String, String> {
        switchboard::identity::OsCodes.result_code()
    }
    fn session_id(&self) -> Result<String, String> {
        switchboard::identity::OsCodes.session_id()
    }
}

fn settings(cloud: &LocalCloud) -> IdentitySettings {
    IdentitySettings {
        table: cloud.fixture.identity.table_name.clone(),
        dtmf_length: 10,
        session_ttl_seconds: 3600,
        clock_skew_seconds: 60,
        max_code_attempts: 3,
    }
}

/// The settings of the tests on a mocked table.
fn mocked_settings() -> IdentitySettings {
    IdentitySettings {
        table: "IdentityTable".into(),
        dtmf_length: 10,
        session_ttl_seconds: 3600,
        clock_skew_seconds: 60,
        max_code_attempts: 3,
    }
}

/// `start-session` against `cloud`'s table with `codes`, at `clock`'s time.
fn start_session(
    dynamodb: &aws_sdk_dynamodb::Client,
    cloud: &LocalCloud,
    codes: Arc<dyn CodeSource>,
    clock: &ManualClock,
) -> StartSession {
    StartSession {
        dynamodb: dynamodb.clone(),
        settings: settings(cloud),
        phone_number: "+61255502000".into(),
        base_url: "https://id.example".into(),
        keys: switchboard::platform::prefetch::Prefetched::ready(key_ring()),
        codes,
        clock: Arc::new(clock.clone()),
    }
}

/// Codes drawn in the given order, to force collisions.
fn scripted(codes: &[&str]) -> Arc<dyn CodeSource> {
    Arc::new(ScriptedCodes(Mutex::new(codes.iter().map(|c| (*c).to_owned()).collect())))
}

fn key(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("local/keys").join(name)).unwrap()
}

fn key_ring() -> KeyRing {
    KeyRing::from_pems(&[key("result-decryption-rsa.pem")], &[key("plugin-signing-rsa.pub.pem")]).unwrap()
}

fn request(function: &str, path: &str, body: &str) -> lambda_http::Request {
    let route = HTTP_ROUTES.iter().find(|r| r.function == function).unwrap();
    let uri: Uri = path.parse().unwrap();
    let event = http_api_event(route, &Method::POST, &uri, &HeaderMap::new(), body.as_bytes(), None, "123456789012");
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn start_request(purpose: &str) -> lambda_http::Request {
    request("start-session", "/start_communication", &serde_json::json!({ "purpose": purpose }).to_string())
}

fn call_with(contact: &str, dtmf: &str) -> ContactFlowEvent {
    serde_json::from_value(serde_json::json!({
        "Details": {"ContactData": {"ContactId": contact, "InitialContactId": contact}, "Parameters": {"dtmf": dtmf}}
    }))
    .unwrap()
}

#[tokio::test]
async fn dtmf_collisions_draw_a_new_code_and_exhaustion_is_a_503() {
    let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&cloud.sdk_config().await);
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let start = |codes: Vec<&str>| start_session(&dynamodb, &cloud, scripted(&codes), &clock);

    let first = start(vec!["1234567890"]).handle(start_request("one")).await.unwrap();
    assert_eq!(first.shape, Shape::Raw);
    assert_eq!(first.data["client_url"], "tel:+61255502000,1234567890");

    // The next session draws the taken code first: the transaction refuses it and a new code is drawn.
    let second = start(vec!["1234567890", "5555555555"]).handle(start_request("two")).await.unwrap();
    assert_eq!(second.data["client_url"], "tel:+61255502000,5555555555");
    let attr_url = second.data["attr_url"].as_str().unwrap();
    let result_code = attr_url.strip_prefix("https://id.example/session_result/").unwrap();
    assert!(result_code.len() == 32 && result_code.bytes().all(|b| b.is_ascii_alphanumeric()), "{attr_url}");

    // Both codes lead to their own sessions.
    let assign = AssignId { dynamodb: dynamodb.clone(), settings: settings(&cloud), clock: Arc::new(clock.clone()) };
    let one = assign.handle(call_with("c-1", "1234567890#"), Deadline::after(Deadline::MAX)).await.unwrap();
    let two = assign.handle(call_with("c-2", "5555555555"), Deadline::after(Deadline::MAX)).await.unwrap();
    assert_eq!((one.code(), one.get("Purpose")), ("LINKED", Some("one")));
    assert_eq!((two.code(), two.get("Purpose")), ("LINKED", Some("two")));

    // Only taken codes for every draw: 503 after MAX_CODE_DRAWS tries.
    let refused = start(vec!["1234567890"]).handle(start_request("three")).await.unwrap_err();
    assert_eq!(refused.status, 503);
}

#[tokio::test]
async fn a_code_keyed_after_the_session_expired_is_expired() {
    let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&cloud.sdk_config().await);
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let start = start_session(&dynamodb, &cloud, scripted(&["8675309000"]), &clock);
    start.handle(start_request("late")).await.unwrap();
    let assign = AssignId { dynamodb, settings: settings(&cloud), clock: Arc::new(clock.clone()) };
    clock.advance(time::Duration::seconds(3600));
    let late = assign.handle(call_with("c-late", "8675309000"), Deadline::after(Deadline::MAX)).await.unwrap();
    assert_eq!(late.code(), "EXPIRED");
}

#[tokio::test]
async fn every_refused_result_gets_the_same_answer() {
    let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&cloud.sdk_config().await);
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let now = datetime!(2026-11-23 09:00 UTC).unix_timestamp();
    let start = start_session(&dynamodb, &cloud, Arc::new(switchboard::identity::OsCodes), &clock);
    let receive = ReceiveAuthResult {
        dynamodb,
        settings: settings(&cloud),
        keys: switchboard::platform::prefetch::Prefetched::ready(key_ring()),
        clock: Arc::new(clock.clone()),
    };
    let claims = |sub: &str, iat: i64, exp: i64| serde_json::json!({"sub": sub, "status": "succes", "attributes": {"a": "b"}, "iat": iat, "exp": exp});
    let ours = key("result-decryption-rsa.pub.pem");
    let good = seal(&claims("id-contact-attributes", now, now + 300), &key("plugin-signing-rsa.pem"), &ours).unwrap();
    let mut tampered: Vec<String> = good.split('.').map(str::to_owned).collect();
    tampered[4] = tampered[4].chars().rev().collect();
    let refused = [
        ("tampered tag", tampered.join(".")),
        ("not a JWE", "not-a-jwe".to_owned()),
        (
            "for another key",
            seal(
                &claims("id-contact-attributes", now, now + 300),
                &key("plugin-signing-rsa.pem"),
                &key("result-decryption-ec.pub.pem"),
            )
            .unwrap(),
        ),
        (
            "untrusted signer",
            seal(&claims("id-contact-attributes", now, now + 300), &key("untrusted-signing-rsa.pem"), &ours).unwrap(),
        ),
        (
            "expired",
            seal(&claims("id-contact-attributes", now - 600, now - 300), &key("plugin-signing-rsa.pem"), &ours)
                .unwrap(),
        ),
        (
            "another subject",
            seal(&claims("someone-else", now, now + 300), &key("plugin-signing-rsa.pem"), &ours).unwrap(),
        ),
    ];

    let mut start_answers = Vec::new();
    let mut receive_answers = Vec::new();
    let session = start.handle(start_request("refusals")).await.unwrap();
    let attr_url = session.data["attr_url"].as_str().unwrap();
    let path = attr_url.strip_prefix("https://id.example").unwrap();
    for (what, jwe) in &refused {
        let body = serde_json::json!({"purpose": "inline", "auth_result": jwe}).to_string();
        let answer = start.handle(request("start-session", "/start_communication", &body)).await.unwrap_err();
        start_answers.push((what, answer.status, answer.code, answer.message));
        let answer = receive.handle(request("receive-auth-result", path, jwe)).await.unwrap_err();
        receive_answers.push((what, answer.status, answer.code, answer.message));
    }
    for answers in [&start_answers, &receive_answers] {
        for (what, status, code, message) in answers.iter() {
            assert_eq!((status.as_u16(), *code, message), (400, answers[0].2, &answers[0].3), "{what}");
        }
    }
    assert_eq!(start_answers[0].2, "INVALID_INPUT");
    assert_eq!(receive_answers[0].2, "INVALID_RESULT");
    // After all that, the good result is still taken, once.
    receive.handle(request("receive-auth-result", path, &good)).await.unwrap();
}

#[tokio::test]
async fn linking_that_meets_a_concurrent_write_to_the_session_is_sent_again() {
    let conflict_then_linked = transaction_conflicts(1);
    let assign = assign_with(&conflict_then_linked);
    let linked = assign.handle(call_with("c-9", "1234567890"), Deadline::after(Deadline::MAX)).await.unwrap();
    assert_eq!(linked.code(), "LINKED", "{linked:?}");
    assert_eq!(conflict_then_linked.num_calls(), 2, "the conflicted transaction is sent once more");
}

/// The transaction mock of the linking tests: `conflicts` TransactionConflict cancellations, then success.
fn transaction_conflicts(conflicts: usize) -> aws_smithy_mocks::Rule {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_smithy_mocks::mock;
    let conflict = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled [None, TransactionConflict]","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#;
    let mut rule = mock!(aws_sdk_dynamodb::Client::transact_write_items).sequence();
    for _ in 0..conflicts {
        rule = rule.http_status(400, Some(conflict.into()));
    }
    rule.output(|| TransactWriteItemsOutput::builder().build()).build()
}

/// `assign-id` on a mocked table where code 1234567890 leads to a live session, with `transaction`
/// answering the linking transaction.
fn assign_with(transaction: &aws_smithy_mocks::Rule) -> AssignId {
    use aws_sdk_dynamodb::{operation::get_item::GetItemOutput, types::AttributeValue};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let ttl = (clock.now_epoch() + 600).to_string();
    let item_ttl = ttl.clone();
    let found = mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
        GetItemOutput::builder()
            .item("sessionId", AttributeValue::S("s-1".into()))
            .item("purpose", AttributeValue::S("request-permit".into()))
            .item("ttl", AttributeValue::N(item_ttl.clone()))
            .build()
    });
    let no_attempts = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|r| {
            r.key().and_then(|k| k.get("pk")).and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with("ATTEMPTS#"))
        })
        .then_output(|| GetItemOutput::builder().build());
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&no_attempts, &found, transaction]);
    AssignId { dynamodb, settings: mocked_settings(), clock: Arc::new(clock) }
}

/// Linking is sent at most three times in all: two conflicts still link, a third is a store fault
/// (the flow's Error branch), and an error that is not a conflict is not sent again.
#[tokio::test]
async fn linking_is_sent_at_most_three_times_and_only_again_after_a_conflict() {
    use switchboard::edge::connect::FlowFault;
    let two = transaction_conflicts(2);
    let linked = assign_with(&two).handle(call_with("c-2", "1234567890"), Deadline::after(Deadline::MAX)).await;
    assert_eq!(linked.unwrap().code(), "LINKED");
    assert_eq!(two.num_calls(), 3);

    let three = transaction_conflicts(3);
    let failed = assign_with(&three).handle(call_with("c-3", "1234567890"), Deadline::after(Deadline::MAX)).await;
    let error = failed.unwrap_err();
    assert_eq!(error.kind(), "StoreError", "{error}");
    assert_eq!(three.num_calls(), 3, "no fourth try");

    let refused = aws_smithy_mocks::mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .http_status(400, Some(r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"no"}"#.into()))
        .build();
    let failed = assign_with(&refused).handle(call_with("c-4", "1234567890"), Deadline::after(Deadline::MAX)).await;
    assert_eq!(failed.unwrap_err().kind(), "StoreError");
    assert_eq!(refused.num_calls(), 1, "a refusal that is not a conflict is not sent again");

    // Out of time before anything could be read: the flow's Error branch, named for the deadline.
    let unused = transaction_conflicts(0);
    let late =
        assign_with(&unused).handle(call_with("c-5", "1234567890"), Deadline::after(std::time::Duration::ZERO)).await;
    assert_eq!(late.unwrap_err().kind(), "DeadlineExceeded");
}

/// A contact that keyed `MAX_CODE_ATTEMPTS` wrong codes is locked even for the right code (the
/// up-front count), for as long as the session could live (the counter's ttl); another contact with
/// the same code still links.
#[tokio::test]
async fn a_locked_contact_stays_locked_for_the_right_code_and_others_are_not() {
    let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&cloud.sdk_config().await);
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    start_session(&dynamodb, &cloud, scripted(&["4242424242"]), &clock).handle(start_request("locked")).await.unwrap();
    let assign = AssignId { dynamodb: dynamodb.clone(), settings: settings(&cloud), clock: Arc::new(clock.clone()) };
    let key = |code: &'static str| {
        let assign = &assign;
        async move {
            assign.handle(call_with("c-lock", code), Deadline::after(Deadline::MAX)).await.unwrap().code().to_owned()
        }
    };
    assert_eq!(key("1111111111").await, "UNKNOWN_CODE");
    assert_eq!(key("12").await, "INVALID_CODE");
    assert_eq!(key("2222222222").await, "UNKNOWN_CODE");
    // Three wrong: the right code no longer links this contact.
    assert_eq!(key("4242424242").await, "LOCKED");
    // The counter lives as long as a session could (now + the session ttl), not a moment less.
    let counter = dynamodb
        .get_item()
        .table_name(&cloud.fixture.identity.table_name)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("ATTEMPTS#c-lock".into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("ATTEMPTS".into()))
        .send()
        .await
        .unwrap();
    let item = counter.item().expect("the attempt counter");
    assert_eq!(item["count"].as_n().unwrap(), "3");
    assert_eq!(item["ttl"].as_n().unwrap(), &(clock.now_epoch() + 3600).to_string());
    // Later within that time, still locked.
    clock.advance(time::Duration::seconds(1800));
    assert_eq!(key("4242424242").await, "LOCKED");
    // Another contact is not locked by this one.
    let other = assign.handle(call_with("c-other", "4242424242"), Deadline::after(Deadline::MAX)).await.unwrap();
    assert_eq!(other.code(), "LINKED");
}

/// The session items of the identity table.
async fn sessions(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let items = dynamodb.scan().table_name(table).send().await.unwrap().items.unwrap_or_default();
    items.into_iter().filter(|i| i["pk"].as_s().is_ok_and(|pk| pk.starts_with("SESSION#"))).collect()
}

/// A session that goes away (its ttl passed and DynamoDB removed it, say) between the code's lookup
/// and the link: the contact is not linked to it, and no session item is made up from the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_gone_before_the_link_is_not_linked_nor_made_up() {
    let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    let sdk = cloud.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    start_session(&dynamodb, &cloud, scripted(&["7777777777"]), &clock).handle(start_request("gone")).await.unwrap();
    let table = cloud.fixture.identity.table_name.clone();
    assert_eq!(sessions(&dynamodb, &table).await.len(), 1, "the session to link");
    let (intercepted, gone) =
        support::interrupted_by(&sdk, &table, "linkedContactIds", |dynamodb, table, _| async move {
            for session in sessions(&dynamodb, &table).await {
                let key = [("pk", &session["pk"]), ("sk", &session["sk"])]
                    .map(|(name, value)| (name.to_owned(), value.clone()));
                dynamodb.delete_item().table_name(&table).set_key(Some(key.into())).send().await.unwrap();
            }
        });
    let assign = AssignId { dynamodb: intercepted, settings: settings(&cloud), clock: Arc::new(clock.clone()) };

    let answer = assign.handle(call_with("c-gone", "7777777777"), Deadline::after(Deadline::MAX)).await;

    assert!(gone.lock().unwrap().is_none(), "the session went away just before the link");
    assert!(answer.as_ref().is_ok_and(|r| r.code() != "LINKED") || answer.is_err(), "{answer:?}");
    assert_eq!(sessions(&dynamodb, &table).await, vec![], "no session item made up by the link");
}
