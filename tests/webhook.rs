//! `github-webhook` as API Gateway delivers GitHub's requests to it (payload 2.0, the raw body):
//! signatures first, one start per pipeline per delivery, redeliveries, rotation, and the routes.

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use serde_json::{json, Value};
use switchboard_fleet_tests::Fleet;
use switchboard_local::{
    cloud::{FLOWS_TABLE, LOCAL_WEBHOOK_SECRET_VALUE, WEBHOOK_SECRET},
    fixture::Fixture,
    lambda_host::InvokeClient,
};

const WEBHOOK: &str = "github-webhook";

fn sign(secret: &str, body: &str) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A delivery as API Gateway hands it to the function; `signature: None` sends none.
fn delivery(event: &str, id: &str, body: &str, signature: Option<String>) -> Value {
    let mut headers = json!({"content-type": "application/json", "x-github-event": event, "x-github-delivery": id});
    if let Some(signature) = signature {
        headers["x-hub-signature-256"] = json!(signature);
    }
    json!({
        "version": "2.0", "routeKey": "POST /github", "rawPath": "/github", "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "webhook", "domainName": "webhook.local", "domainPrefix": "webhook",
            "http": {"method": "POST", "path": "/github", "protocol": "HTTP/1.1", "sourceIp": "140.82.115.10", "userAgent": "GitHub-Hookshot/1"},
            "requestId": "r", "routeKey": "POST /github", "stage": "$default", "time": "04/Dec/2026:09:00:00 +0000", "timeEpoch": 0
        },
        "body": body, "isBase64Encoded": false
    })
}

fn push(git_ref: &str, paths: &[&str]) -> String {
    json!({"ref": git_ref, "created": false, "deleted": false, "forced": false,
           "commits": paths.iter().map(|p| json!({"id": "c", "added": [], "removed": [], "modified": [p]})).collect::<Vec<_>>()})
    .to_string()
}

struct Webhook {
    fleet: Fleet,
    lambda: InvokeClient,
    codepipeline: aws_sdk_codepipeline::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

impl Webhook {
    async fn start(overrides: BTreeMap<String, String>) -> Self {
        let fleet = Fleet::start_with(Fixture::load(&Fixture::default_path()).unwrap(), overrides).await;
        let lambda = InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
        let sdk = fleet.cloud.sdk_config().await;
        Self {
            lambda,
            codepipeline: aws_sdk_codepipeline::Client::new(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            fleet,
        }
    }

    /// The answer's status and JSON body.
    async fn send(&self, event: Value) -> (u64, Value) {
        let answer = self.lambda.invoke(WEBHOOK, &event).await.unwrap();
        let status = answer["statusCode"].as_u64().unwrap();
        let body = serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        println!("{status} {body}");
        (status, body)
    }

    async fn executions(&self, pipeline: &str) -> usize {
        let listed = self.codepipeline.list_pipeline_executions().pipeline_name(pipeline).send().await.unwrap();
        listed.pipeline_execution_summaries().len()
    }

    async fn deliveries(&self) -> i32 {
        let scanned = self.dynamodb.scan().table_name(FLOWS_TABLE).send().await.unwrap();
        scanned.items().iter().filter(|i| i["pk"].as_s().unwrap().starts_with("DELIVERY#")).count() as i32
    }
}

#[tokio::test]
async fn a_push_starts_each_pipeline_it_concerns_once_and_nothing_unsigned_gets_in() {
    let hook = Webhook::start(BTreeMap::new()).await;
    let secret = LOCAL_WEBHOOK_SECRET_VALUE;
    let body = push(
        "refs/heads/main",
        &["contact-flows/emergency/Emergency_Demo.json", "crates/switchboard/src/lib.rs", "README.md"],
    );

    // No signature, a malformed one, a wrong one: 401, nothing claimed, nothing started.
    let (status, answer) = hook.send(delivery("push", "d-1", &body, None)).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("SIGNATURE_MISSING")));
    let (status, answer) = hook.send(delivery("push", "d-1", &body, Some("sha1=abc".into()))).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("BAD_SIGNATURE")));
    let (status, answer) = hook.send(delivery("push", "d-1", &body, Some(sign("not the secret", &body)))).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("BAD_SIGNATURE")));
    assert_eq!(hook.deliveries().await, 0);
    assert_eq!(hook.executions("switchboard-app-prod").await, 0);

    // Signed: both prod pipelines start, once; README.md starts nothing.
    let (status, answer) = hook.send(delivery("push", "d-1", &body, Some(sign(secret, &body)))).await;
    assert_eq!(status, 200, "{answer}");
    let started = answer["data"]["started"].as_object().unwrap();
    assert_eq!(started.keys().collect::<Vec<_>>(), ["switchboard-app-prod", "switchboard-flows-prod"]);
    assert_eq!(hook.executions("switchboard-app-prod").await, 1);
    assert_eq!(hook.executions("switchboard-flows-prod").await, 1);
    assert_eq!(hook.executions("switchboard-app-dev").await, 0);

    // GitHub redelivers it: the same answer, marked, and nothing started again.
    let (status, again) = hook.send(delivery("push", "d-1", &body, Some(sign(secret, &body)))).await;
    assert_eq!(status, 200);
    assert_eq!(again["data"]["duplicate"], true);
    assert_eq!(again["data"]["started"], answer["data"]["started"]);
    assert_eq!(hook.executions("switchboard-app-prod").await, 1);
    assert_eq!(hook.executions("switchboard-flows-prod").await, 1);

    // Only the docs changed: nothing to start. A develop push starts dev's flows pipeline alone.
    let docs = push("refs/heads/main", &["README.md", "docs/deploying.md"]);
    let (status, answer) = hook.send(delivery("push", "d-2", &docs, Some(sign(secret, &docs)))).await;
    assert_eq!((status, answer["data"]["started"].clone()), (200, json!({})));
    let develop = push("refs/heads/develop", &["contact-flows/video/VideoCallEscalationChat.json"]);
    let (_, answer) = hook.send(delivery("push", "d-3", &develop, Some(sign(secret, &develop)))).await;
    assert_eq!(answer["data"]["started"].as_object().unwrap().keys().collect::<Vec<_>>(), ["switchboard-flows-dev"]);

    // Tags and other branches are ignored; so are other events. A ping is answered.
    for (id, git_ref) in [("d-4", "refs/tags/v1.0.0"), ("d-5", "refs/heads/feature/x")] {
        let body = push(git_ref, &["crates/x.rs"]);
        let (status, answer) = hook.send(delivery("push", id, &body, Some(sign(secret, &body)))).await;
        assert_eq!((status, answer["data"]["result"].as_str()), (200, Some("IGNORED")), "{git_ref}");
    }
    let ping = json!({"zen": "Design for failure.", "hook_id": 1}).to_string();
    let (status, answer) = hook.send(delivery("ping", "d-6", &ping, Some(sign(secret, &ping)))).await;
    assert_eq!((status, answer["data"]["result"].as_str()), (200, Some("PONG")));
    let (status, _) = hook.send(delivery("issues", "d-7", &ping, Some(sign(secret, &ping)))).await;
    assert_eq!(status, 200);

    // A signed body that is not JSON, and a delivery without its headers.
    let (status, _) = hook.send(delivery("push", "d-8", "a=b", Some(sign(secret, "a=b")))).await;
    assert_eq!(status, 415);
    let mut headless = delivery("push", "d-9", &body, Some(sign(secret, &body)));
    headless["headers"].as_object_mut().unwrap().remove("x-github-delivery");
    let (status, answer) = hook.send(headless).await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap().contains("X-GitHub-Delivery"), "{answer}");
    assert_eq!(hook.executions("switchboard-app-prod").await, 1);

    // The body, the signature and the secret never reach a log line.
    let signature = sign(secret, &body);
    for line in hook.fleet.logs() {
        assert!(
            !line.contains(secret) && !line.contains(&signature[7..]) && !line.contains("Emergency_Demo.json"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn during_a_rotation_both_secrets_verify_and_a_failed_start_is_retried_alone() {
    let routes = "contact-flows/=switchboard-flows-{env};docs/=switchboard-missing-{env};*=switchboard-app-{env}";
    let hook = Webhook::start(BTreeMap::from([("WEBHOOK_ROUTES".to_owned(), routes.to_owned())])).await;
    // The secret rotates: the new value is current, the local one previous.
    let secrets = aws_sdk_secretsmanager::Client::new(&hook.fleet.cloud.sdk_config().await);
    secrets.put_secret_value().secret_id(WEBHOOK_SECRET).secret_string("rotated-secret").send().await.unwrap();

    let body = push("refs/heads/main", &["crates/a.rs"]);
    let (status, _) = hook.send(delivery("push", "r-1", &body, Some(sign(LOCAL_WEBHOOK_SECRET_VALUE, &body)))).await;
    assert_eq!(status, 200, "the previous secret still verifies");
    let body = push("refs/heads/main", &["crates/b.rs"]);
    let (status, _) = hook.send(delivery("push", "r-2", &body, Some(sign("rotated-secret", &body)))).await;
    assert_eq!(status, 200, "the new one does");
    assert_eq!(hook.executions("switchboard-app-prod").await, 2);

    // One route names a pipeline that does not exist: the others start, the delivery fails, and its
    // redelivery starts only what is missing.
    let body = push("refs/heads/main", &["contact-flows/emergency/Emergency_Demo.json", "docs/x.md"]);
    let signed = || delivery("push", "r-3", &body, Some(sign("rotated-secret", &body)));
    let (status, answer) = hook.send(signed()).await;
    assert_eq!((status, answer["code"].as_str()), (502, Some("PIPELINE_START_FAILED")));
    assert!(answer["message"].as_str().unwrap().contains("switchboard-missing-prod"), "{answer}");
    assert_eq!(hook.executions("switchboard-flows-prod").await, 1);
    let (status, _) = hook.send(signed()).await;
    assert_eq!(status, 502);
    assert_eq!(hook.executions("switchboard-flows-prod").await, 1, "the started pipeline is not started again");
}

/// `X-GitHub-Delivery` is not signed: a captured signed body sent again under a fresh GUID is the
/// same delivery (its digest says so), and starts nothing. A push whose paths no route sends
/// anywhere says that nothing started.
#[tokio::test]
async fn a_signed_body_replayed_under_a_new_guid_starts_nothing_and_no_route_means_nothing_started() {
    let hook = Webhook::start(BTreeMap::new()).await;
    let secret = LOCAL_WEBHOOK_SECRET_VALUE;
    let body = push("refs/heads/main", &["crates/switchboard/src/lib.rs"]);
    let (status, answer) = hook.send(delivery("push", "g-1", &body, Some(sign(secret, &body)))).await;
    assert_eq!((status, answer["data"]["result"].as_str()), (200, Some("STARTED")), "{answer}");
    assert_eq!(hook.executions("switchboard-app-prod").await, 1);

    for replayed_guid in ["g-2", "00000000-0000-0000-0000-000000000000"] {
        let (status, again) = hook.send(delivery("push", replayed_guid, &body, Some(sign(secret, &body)))).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["data"]["duplicate"], true, "{again}");
        assert_eq!(again["data"]["started"], answer["data"]["started"]);
    }
    assert_eq!(hook.executions("switchboard-app-prod").await, 1, "the replays started nothing");
    assert_eq!(hook.deliveries().await, 1, "one delivery, however many GUIDs it came under");

    let docs = push("refs/heads/main", &["README.md"]);
    let (status, answer) = hook.send(delivery("push", "g-3", &docs, Some(sign(secret, &docs)))).await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["result"], "NOTHING_STARTED", "{answer}");
    assert_eq!(answer["data"]["started"], json!({}));
}
