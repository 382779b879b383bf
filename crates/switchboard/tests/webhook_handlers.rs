//! `github-webhook`'s handler directly: the secret's cache, refresh and previous version (Secrets
//! Manager mocked, the handler's clock moved by the test), how a push's changed paths pick pipelines (CodePipeline mocked),
//! a base64-encoded body, and the delivery claim's lease and lifetime against the local cloud's
//! DynamoDB with a run that crashes after its claim.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use aws_sdk_codepipeline::operation::start_pipeline_execution::StartPipelineExecutionOutput;
use aws_sdk_dynamodb::{
    operation::{get_item::GetItemOutput, update_item::UpdateItemOutput},
    types::AttributeValue,
};
use aws_sdk_secretsmanager::{
    operation::get_secret_value::{GetSecretValueError, GetSecretValueOutput},
    types::error::{DecryptionFailure, ResourceNotFoundException},
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use hmac::{KeyInit, Mac};
use lambda_http::http::{HeaderMap, HeaderValue, Method, Uri};
use serde_json::{json, Value};
use switchboard::{
    flows::github_webhook::{parse_routes, GithubWebhook, WebhookSettings, DEFAULT_ROUTES},
    platform::time::ManualClock,
};
use switchboard_local::{
    cloud::{LocalCloud, FLOWS_TABLE, HTTP_ROUTES},
    fixture::Fixture,
    gateway::http_api_event,
};
use time::macros::datetime;

fn settings(table: &str) -> WebhookSettings {
    WebhookSettings {
        table: table.into(),
        secret_id: "switchboard-webhook".into(),
        branches: BTreeMap::from([("main".into(), "prod".into())]),
        routes: parse_routes(DEFAULT_ROUTES).unwrap(),
        pipeline_prefix: "switchboard-".into(),
    }
}

fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A push to `main` changing `paths`, with the push's own flags.
fn push(paths: &[&str], created: bool, forced: bool, tag: &str) -> Vec<u8> {
    let commits: Vec<Value> = if paths.is_empty() { vec![] } else { vec![json!({"id": tag, "modified": paths})] };
    json!({"ref": "refs/heads/main", "created": created, "forced": forced, "deleted": false, "commits": commits, "after": tag})
        .to_string()
        .into_bytes()
}

/// The API Gateway event GitHub's delivery becomes, signed with `secret`; `base64` sends the body
/// base64-encoded (`isBase64Encoded`), as API Gateway does for a body it treats as binary.
fn delivery(secret: &str, body: &[u8], guid: &str, base64: bool) -> lambda_http::Request {
    let route = HTTP_ROUTES.iter().find(|r| r.function == "github-webhook").unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-hub-signature-256", HeaderValue::from_str(&signature(secret, body)).unwrap());
    headers.insert("x-github-event", HeaderValue::from_static("push"));
    headers.insert("x-github-delivery", HeaderValue::from_str(guid).unwrap());
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let uri: Uri = "/github".parse().unwrap();
    let mut event = http_api_event(route, &Method::POST, &uri, &headers, body, None, "123456789012");
    if base64 {
        use base64::Engine as _;
        event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
        event["isBase64Encoded"] = json!(true);
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// Secrets Manager with a current value that a test can rotate, and a previous stage that answers
/// `previous` (None: the secret was never rotated).
struct SecretStore {
    current: Arc<Mutex<String>>,
    rule_current: Rule,
    rule_previous: Rule,
}

impl SecretStore {
    fn new(value: &str, previous: Option<GetSecretValueError>) -> Self {
        let current = Arc::new(Mutex::new(value.to_owned()));
        let now = current.clone();
        let rule_current = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|r| r.version_stage() == Some("AWSCURRENT"))
            .then_output(move || GetSecretValueOutput::builder().secret_string(now.lock().unwrap().clone()).build());
        let previous = Arc::new(previous);
        let rule_previous = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|r| r.version_stage() == Some("AWSPREVIOUS"))
            .then_error(move || match previous.as_ref() {
                Some(GetSecretValueError::DecryptionFailure(_)) => {
                    GetSecretValueError::DecryptionFailure(DecryptionFailure::builder().message("injected").build())
                }
                _ => GetSecretValueError::ResourceNotFoundException(ResourceNotFoundException::builder().build()),
            });
        Self { current, rule_current, rule_previous }
    }

    fn client(&self) -> aws_sdk_secretsmanager::Client {
        mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, &[&self.rule_current, &self.rule_previous])
    }

    /// Reads of the secret so far (both stages).
    fn reads(&self) -> usize {
        self.rule_current.num_calls() + self.rule_previous.num_calls()
    }
}

/// A DynamoDB that lets every delivery be claimed and finished (the claim's logic is tested against
/// the local cloud below).
fn permissive_table() -> (Rule, Rule) {
    let update = mock!(aws_sdk_dynamodb::Client::update_item).then_output(|| {
        UpdateItemOutput::builder()
            .attributes("state", AttributeValue::S("CLAIMED".into()))
            .attributes("started", AttributeValue::M(Default::default()))
            .build()
    });
    let get = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    (update, get)
}

/// CodePipeline that starts whatever it is asked, recording the names.
fn pipelines() -> (Rule, Arc<Mutex<Vec<String>>>) {
    let names = Arc::new(Mutex::new(Vec::new()));
    let seen = names.clone();
    let rule = mock!(aws_sdk_codepipeline::Client::start_pipeline_execution)
        .match_requests(move |r| {
            seen.lock().unwrap().push(r.name().unwrap_or_default().to_owned());
            true
        })
        .then_output(|| StartPipelineExecutionOutput::builder().pipeline_execution_id("exec-1").build());
    (rule, names)
}

fn webhook_at(clock: &ManualClock, secrets: &SecretStore, table: &(Rule, Rule), pipeline: &Rule) -> GithubWebhook {
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&table.0, &table.1]);
    let codepipeline = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, &[pipeline]);
    GithubWebhook::new(dynamodb, secrets.client(), codepipeline, settings("flows"), Arc::new(clock.clone()))
}

fn webhook(secrets: &SecretStore, table: &(Rule, Rule), pipeline: &Rule) -> GithubWebhook {
    webhook_at(&ManualClock::new(datetime!(2026-12-05 09:00 UTC)), secrets, table, pipeline)
}

/// The secret is read (both stages) once per 5 minutes; a signature by a secret rotated since the last
/// read makes one fresh read (not when that read is 30 s old or less); a bad signature after a fresh
/// read reads nothing more. The steps land on the limits themselves (300 s, 30 s).
#[tokio::test]
async fn the_secret_is_cached_five_minutes_and_read_again_once_after_a_rotation() {
    let secrets = SecretStore::new("first-secret", None);
    let table = permissive_table();
    let (pipeline, _) = pipelines();
    let clock = ManualClock::new(datetime!(2026-12-05 09:00 UTC));
    let hook = webhook_at(&clock, &secrets, &table, &pipeline);
    let advance = |seconds: i64| clock.advance(time::Duration::seconds(seconds));
    let docs = push(&["docs/a.md"], false, false, "1");

    hook.handle(delivery("first-secret", &docs, "g-1", false)).await.unwrap();
    assert_eq!(secrets.reads(), 2, "both stages read once");
    advance(200);
    hook.handle(delivery("first-secret", &docs, "g-2", false)).await.unwrap();
    assert_eq!(secrets.reads(), 2, "within 5 minutes: cached");
    advance(100);
    hook.handle(delivery("first-secret", &docs, "g-3", false)).await.unwrap();
    assert_eq!(secrets.reads(), 4, "5 minutes on: read again");

    // Rotated 10 s after that read: a signature by the new secret is refused without a read (the
    // cache is too fresh to be stale)…
    *secrets.current.lock().unwrap() = "second-secret".into();
    advance(10);
    let refused = hook.handle(delivery("second-secret", &docs, "g-4", false)).await.unwrap_err();
    assert_eq!((refused.status.as_u16(), refused.code), (401, "BAD_SIGNATURE"));
    assert_eq!(secrets.reads(), 4);
    // …nor 30 s after the read…
    advance(20);
    let refused = hook.handle(delivery("second-secret", &docs, "g-4b", false)).await.unwrap_err();
    assert_eq!((refused.status.as_u16(), refused.code), (401, "BAD_SIGNATURE"));
    assert_eq!(secrets.reads(), 4);
    // …and past 30 s it makes one fresh read, which verifies it.
    advance(1);
    hook.handle(delivery("second-secret", &docs, "g-5", false)).await.unwrap();
    assert_eq!(secrets.reads(), 6);
    // A signature by no secret right after: refused, no further read.
    let refused = hook.handle(delivery("not-the-secret", &docs, "g-6", false)).await.unwrap_err();
    assert_eq!(refused.status.as_u16(), 401);
    assert_eq!(secrets.reads(), 6);
}

/// A previous version that cannot be read is a fault (502), not a secret quietly missing: GitHub may
/// still sign with it. A secret never rotated (no previous version) is fine.
#[tokio::test]
async fn a_previous_version_that_cannot_be_read_is_a_502() {
    let table = permissive_table();
    let (pipeline, _) = pipelines();
    let docs = push(&["docs/a.md"], false, false, "1");
    let broken =
        SecretStore::new("s", Some(GetSecretValueError::DecryptionFailure(DecryptionFailure::builder().build())));
    let error = webhook(&broken, &table, &pipeline).handle(delivery("s", &docs, "g-1", false)).await.unwrap_err();
    assert_eq!(error.status.as_u16(), 502, "{error:?}");
    let never_rotated = SecretStore::new("s", None);
    let answer = webhook(&never_rotated, &table, &pipeline).handle(delivery("s", &docs, "g-2", false)).await.unwrap();
    assert_eq!(answer.data["result"], "NOTHING_STARTED");
}

/// Which pipelines a push starts: by its changed paths; every route when they cannot be known (a
/// branch created, or a forced push, that lists no commits); by the paths again when a forced push
/// lists them (docs only: nothing). A base64-encoded body verifies and routes as the same text.
#[tokio::test]
async fn pushes_start_the_pipelines_of_their_paths_or_all_when_the_paths_are_unknown() {
    let secrets = SecretStore::new("s", None);
    let table = permissive_table();
    let started = |body: Vec<u8>, base64: bool| {
        let secrets = &secrets;
        let table = &table;
        async move {
            let (pipeline, names) = pipelines();
            let answer = webhook(secrets, table, &pipeline).handle(delivery("s", &body, "g", base64)).await.unwrap();
            let mut names = names.lock().unwrap().clone();
            names.sort();
            (answer.data["result"].as_str().unwrap().to_owned(), names)
        }
    };
    let all = vec!["switchboard-app-prod".to_owned(), "switchboard-flows-prod".to_owned()];
    assert_eq!(
        started(push(&["contact-flows/x.json"], false, false, "1"), false).await,
        ("STARTED".into(), vec!["switchboard-flows-prod".into()])
    );
    assert_eq!(
        started(push(&[], true, false, "2"), false).await,
        ("STARTED".into(), all.clone()),
        "created, no commits"
    );
    assert_eq!(
        started(push(&[], false, true, "3"), false).await,
        ("STARTED".into(), all.clone()),
        "forced, no commits"
    );
    assert_eq!(
        started(push(&["docs/a.md", "README.md"], false, true, "4"), false).await,
        ("NOTHING_STARTED".into(), vec![]),
        "forced, docs only"
    );
    assert_eq!(
        started(push(&[], false, false, "5"), false).await,
        ("NOTHING_STARTED".into(), vec![]),
        "an ordinary push with no commits"
    );
    assert_eq!(
        started(push(&["src/lib.rs"], false, false, "6"), true).await,
        ("STARTED".into(), vec!["switchboard-app-prod".into()]),
        "base64"
    );
}

/// Fails the claim's finishing write: the run "crashes" after its claim, as a Lambda that timed out.
#[derive(Debug)]
struct CrashBeforeFinish;

impl aws_smithy_runtime_api::client::interceptors::Intercept for CrashBeforeFinish {
    fn name(&self) -> &'static str {
        "CrashBeforeFinish"
    }
    fn read_before_execution(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let finishing = context
            .input()
            .downcast_ref::<aws_sdk_dynamodb::operation::update_item::UpdateItemInput>()
            .and_then(|u| u.update_expression())
            .is_some_and(|e| e.contains("REMOVE claimedUntil"));
        if finishing {
            return Err("the run crashed before it finished".into());
        }
        Ok(())
    }
}

/// A run that crashes after its claim holds the delivery for the lease (120 s: a redelivery meanwhile
/// is 409 and starts nothing), then a redelivery takes it over; once done, a redelivery is a duplicate;
/// the delivery's record lives 30 days.
#[tokio::test]
async fn a_crashed_claim_holds_the_delivery_for_its_lease_and_the_record_lives_thirty_days() {
    let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    let sdk = cloud.sdk_config().await;
    let clock = ManualClock::new(datetime!(2026-12-05 09:00 UTC));
    let secrets = SecretStore::new("s", None);
    let (pipeline, names) = pipelines();
    let codepipeline = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, &[&pipeline]);
    let crashing_table = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(CrashBeforeFinish).build(),
    );
    let table = aws_sdk_dynamodb::Client::new(&sdk);
    let hook = |dynamodb: aws_sdk_dynamodb::Client| {
        GithubWebhook::new(
            dynamodb,
            secrets.client(),
            codepipeline.clone(),
            settings(FLOWS_TABLE),
            Arc::new(clock.clone()),
        )
    };
    let body = push(&["contact-flows/x.json"], false, false, "crash");

    let crashed = hook(crashing_table).handle(delivery("s", &body, "g-1", false)).await.unwrap_err();
    assert_eq!(crashed.status.as_u16(), 502, "{crashed:?}");
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let item = table
        .get_item()
        .table_name(FLOWS_TABLE)
        .key("pk", AttributeValue::S(format!("DELIVERY#{digest}")))
        .key("sk", AttributeValue::S("DELIVERY".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the claimed delivery");
    let at = |seconds: i64| (clock.now_epoch() + seconds).to_string();
    assert_eq!(item["state"].as_s().unwrap(), "CLAIMED");
    assert_eq!(item["claimedUntil"].as_n().unwrap(), &at(120), "a lease of 120 s");
    assert_eq!(item["ttl"].as_n().unwrap(), &at(30 * 86_400), "kept 30 days");
    assert_eq!(names.lock().unwrap().len(), 1, "the crashed run started its pipeline");

    // Within the lease: in progress, nothing started again.
    clock.advance(time::Duration::seconds(119));
    let held = hook(table.clone()).handle(delivery("s", &body, "g-2", false)).await.unwrap_err();
    assert_eq!((held.status.as_u16(), held.code), (409, "DELIVERY_IN_PROGRESS"));
    // After it: the redelivery takes the claim over and finishes.
    clock.advance(time::Duration::seconds(2));
    let taken = hook(table.clone()).handle(delivery("s", &body, "g-3", false)).await.unwrap();
    assert_eq!(taken.data["result"], "STARTED");
    assert_eq!(taken.data["started"], json!({"switchboard-flows-prod": "exec-1"}));
    assert_eq!(names.lock().unwrap().len(), 1, "what the crashed run started is not started again");
    // Once done, a redelivery (any GUID) is a duplicate that answers what was started, not a 409.
    let again = hook(table.clone()).handle(delivery("s", &body, "g-4", false)).await.unwrap();
    assert_eq!(again.data["result"], "DUPLICATE");
    assert_eq!(again.data["started"], json!({"switchboard-flows-prod": "exec-1"}));
    assert_eq!(names.lock().unwrap().len(), 1);
}
