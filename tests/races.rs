//! Race tests: tens of requests at once through the real function binaries, each followed by the
//! invariant that DynamoDB conditions must keep under contention (DESIGN.md: "enforced by DynamoDB
//! condition expressions or transactions, never by read-then-write"). Every assertion counts
//! outcomes or stored state that a read-then-write version would get wrong.
//!
//! Why the requests go to `Replicas` and not to the fleet's own functions: the fleet runs one process
//! per function, and a Lambda runtime takes one event at a time, so concurrent invokes of the
//! fleet's function queue up and never overlap. Lambda serves concurrent requests from separate
//! execution environments; `Replicas` does the same: several processes of one function binary, each
//! behind its own Runtime API and Invoke API (and, for HTTP functions, its own gateway), with the
//! fleet's environment and the fleet's moto and emulator.
//!
//! Why the replicas reach moto through `SerialMoto`: moto serves requests on threads, and its
//! DynamoDB operations are not atomic (see `SerialMoto`), so without it these tests would measure
//! moto's races instead of the handlers'.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use aws_sdk_dynamodb::types::AttributeValue;
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use serde_json::{json, Value};
use switchboard::identity::jose::seal;
use switchboard_fleet_tests::Fleet;
use switchboard_local::{
    cloud::{self, HTTP_ROUTES},
    gateway::{self, GatewayHandle, JwtAuthorizer},
    lambda_host::{FunctionSpec, InvokeClient, LambdaHost},
    repo_root,
};
use tokio::{
    sync::{Barrier, Mutex},
    task::{JoinHandle, JoinSet},
};

/// Requests fired at once in each race.
const REQUESTS: usize = 32;
/// Execution environments per raced function: enough for real overlap on two cores.
const ENVIRONMENTS: usize = 8;

const ADMIN: &str = "+61412345678";
const STRANGER: &str = "+61400555666";
const ADMIN_LINE: &str = "+61255509999";
const CALLER: &str = "+61400111222";
const ID_CONTACT_LINE: &str = "+61255502000";
/// What the ID Contact core's SigV4-signed request carries (the local API checks its form).
const CORE_SIGNATURE: &str = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261123/ap-southeast-2/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000";

/// The PIN policy the raced emergency functions run with; the counts below follow from it.
const PIN_SENDS_PER_WINDOW: usize = 3;
const PIN_MAX_ATTEMPTS: usize = 3;
/// The longest window the function accepts. The window starts at `now - now % window`, so with the
/// default 900 s a burst near a quarter hour could land in two windows and legitimately send twice
/// the allowance; a one-day window (plus `clear_of_window_boundary`) makes that impossible.
const PIN_WINDOW_SECONDS: i64 = 86_400;
/// Wrong codes a contact may key before `assign-id` locks it (`MAX_CODE_ATTEMPTS`, default 3).
const MAX_CODE_ATTEMPTS: usize = 3;

fn pin_policy() -> [(&'static str, String); 3] {
    [
        ("PIN_SENDS_PER_WINDOW", PIN_SENDS_PER_WINDOW.to_string()),
        ("PIN_MAX_ATTEMPTS", PIN_MAX_ATTEMPTS.to_string()),
        ("PIN_WINDOW_SECONDS", PIN_WINDOW_SECONDS.to_string()),
    ]
}

/// moto behind a gate that lets one request through at a time, as DynamoDB makes each request atomic.
///
/// moto 5.2.5 answers on threads and runs a conditional write as separate Python steps (read the
/// item, evaluate the condition, write), so concurrent conditional updates of a new item can all
/// pass: 32 threads sending `ADD count … IF attribute_not_exists(count) OR count < 3` straight to
/// moto let 4–6 through in 12 of 40 rounds (the stored count even fell behind). Its
/// `TransactWriteItems` deep-copies the table while other threads write it and can answer 500.
/// Serialising moto's requests restores per-request atomicity and nothing more: a handler's own
/// steps (a read, then a conditional write) still interleave with the other handlers' freely, so a
/// read-then-write handler still loses these races.
struct SerialMoto {
    endpoint: String,
    gate: Arc<Gate>,
    task: JoinHandle<()>,
}

struct Gate {
    moto: String,
    http: reqwest::Client,
    turn: Mutex<()>,
    passed: AtomicUsize,
}

impl SerialMoto {
    async fn start(fleet: &Fleet) -> Self {
        let gate = Arc::new(Gate {
            moto: fleet.cloud.moto.endpoint(),
            http: reqwest::Client::new(),
            turn: Mutex::new(()),
            passed: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(pass_one).with_state(gate.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { endpoint, gate, task }
    }

    /// Requests passed to moto so far.
    fn passed(&self) -> usize {
        self.gate.passed.load(Ordering::SeqCst)
    }
}

impl Drop for SerialMoto {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forwards one request to moto, and its whole answer back, while holding the gate.
async fn pass_one(
    State(gate): State<Arc<Gate>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _turn = gate.turn.lock().await;
    gate.passed.fetch_add(1, Ordering::SeqCst);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = gate.http.request(method, format!("{}{path}", gate.moto)).body(body);
    for (name, value) in &headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let status = answer.status();
    let mut headers = answer.headers().clone();
    for hop in [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION] {
        headers.remove(hop);
    }
    match answer.bytes().await {
        Ok(body) => (status, headers, body).into_response(),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

/// Several execution environments of one function, as Lambda scales out under concurrent requests.
/// Dropping it stops their processes and servers.
struct Replicas {
    function: &'static str,
    clients: Vec<InvokeClient>,
    gateways: Vec<GatewayHandle>,
    _hosts: Vec<LambdaHost>,
}

impl Replicas {
    /// `ENVIRONMENTS` processes of `function` with the fleet's environment plus `overrides`, reaching
    /// moto's services through `moto`; each is warmed with `warm_up` (an event that changes nothing)
    /// so the race starts on warm processes.
    async fn start(
        fleet: &Fleet,
        moto: &SerialMoto,
        function: &'static str,
        overrides: &[(&str, String)],
        warm_up: Value,
    ) -> Self {
        let cloud = &fleet.cloud;
        let mut env = cloud.function_env();
        env.extend(overrides.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        // DynamoDB, Secrets Manager and SSM (moto); Pinpoint and Connect stay on the emulator.
        env.insert("AWS_ENDPOINT_URL".to_owned(), moto.endpoint.clone());
        let mut hosts = Vec::new();
        for _ in 0..ENVIRONMENTS {
            let spec = FunctionSpec {
                name: function.to_owned(),
                binary: cloud::debug_binaries().join(function),
                env: env.clone(),
                timeout: Duration::from_secs(8),
            };
            let host = LambdaHost::start(vec![spec], &cloud.fixture.region, &cloud.fixture.account_id).await.unwrap();
            hosts.push(host);
        }
        let clients: Vec<InvokeClient> = hosts.iter().map(|h| InvokeClient::new(h.endpoint())).collect();
        let replicas = Self { function, clients, gateways: Vec::new(), _hosts: hosts };
        let before = moto.passed();
        let warm = replicas.invoke_each(|_| warm_up.clone()).await;
        assert!(warm.iter().all(Result::is_ok), "warm-up failed: {warm:?}");
        // Every warm-up reads the table: proof that the replicas reach moto through the gate only.
        assert!(moto.passed() - before >= ENVIRONMENTS, "the replicas bypass the gate");
        replicas
    }

    /// An HTTP API in front of each environment, as the fleet's gateway is in front of the fleet.
    async fn with_gateways(mut self, fleet: &Fleet) -> Self {
        let cloud = &fleet.cloud;
        let pool = &cloud.user_pool.pool_id;
        for client in &self.clients {
            // Only public and IAM routes are raced here; the authorizer is the fleet's all the same.
            let authorizer = JwtAuthorizer {
                issuer: format!("https://cognito-idp.{}.amazonaws.com/{pool}", cloud.fixture.region),
                audiences: vec![cloud.user_pool.client_id.clone()],
                jwks_url: format!("{}/{pool}/.well-known/jwks.json", cloud.moto.endpoint()),
            };
            let listener = gateway::bind().await.unwrap();
            let served = gateway::serve(
                listener,
                HTTP_ROUTES.to_vec(),
                authorizer,
                client.clone(),
                cloud.fixture.account_id.clone(),
                switchboard_local::cloud::http_api_cors(switchboard_local::cloud::cors_origins()),
            )
            .await
            .unwrap();
            self.gateways.push(served);
        }
        self
    }

    /// The Invoke API of the environment that serves request `i` (round robin).
    fn client(&self, i: usize) -> InvokeClient {
        self.clients[i % self.clients.len()].clone()
    }

    /// The HTTP API of the environment that serves request `i` (round robin).
    fn gateway(&self, i: usize) -> String {
        self.gateways[i % self.gateways.len()].endpoint()
    }

    /// Invokes `payload(i)` on environment `i`, all environments at once.
    async fn invoke_each(&self, payload: impl Fn(usize) -> Value) -> Vec<Result<Value, String>> {
        let function = self.function;
        all_at_once(self.clients.len(), |i| {
            let (client, payload) = (self.client(i), payload(i));
            async move { client.invoke(function, &payload).await }
        })
        .await
    }

    /// `REQUESTS` invocations at once, request `i` with `payload(i)`; the answers in request order.
    async fn race(&self, payload: impl Fn(usize) -> Value) -> Vec<Result<Value, String>> {
        let function = self.function;
        all_at_once(REQUESTS, |i| {
            let (client, payload) = (self.client(i), payload(i));
            async move { client.invoke(function, &payload).await }
        })
        .await
    }
}

/// Runs `count` requests as tasks released together by a barrier, so they overlap as much as the
/// machine allows; the answers in request order.
async fn all_at_once<T, Fut>(count: usize, request: impl Fn(usize) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(count));
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let (barrier, request) = (barrier.clone(), request(i));
        tasks.spawn(async move {
            barrier.wait().await;
            (i, request.await)
        });
    }
    let mut answers: Vec<Option<T>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, answer) = joined.unwrap();
        answers[i] = Some(answer);
    }
    answers.into_iter().map(Option::unwrap).collect()
}

/// A Connect flow event for a call from `from` to `to` on contact `contact` (initial and current).
fn flow_event(contact: &str, from: &str, to: &str, parameters: Value) -> Value {
    json!({
        "Name": "ContactFlowEvent",
        "Details": {
            "ContactData": {
                "Attributes": {},
                "Channel": "VOICE",
                "ContactId": contact,
                "InitialContactId": contact,
                "InitiationMethod": "INBOUND",
                "InstanceARN": "arn:aws:connect:ap-southeast-2:123456789012:instance/11111111-2222-3333-4444-555555555555",
                "CustomerEndpoint": {"Address": from, "Type": "TELEPHONE_NUMBER"},
                "SystemEndpoint": {"Address": to, "Type": "TELEPHONE_NUMBER"}
            },
            "Parameters": parameters
        }
    })
}

/// A contact id of the shape Connect uses, distinct per `test` and `i`.
fn contact_id(test: u16, i: usize) -> String {
    format!("7ace{test:04x}-0000-4000-8000-{i:012}")
}

/// The `Result` of a flow function's answer, or the error for a failed invocation.
fn result_code(answer: &Result<Value, String>) -> String {
    match answer {
        Ok(value) => value["Result"].as_str().unwrap_or("<no Result>").to_owned(),
        Err(error) => format!("ERROR {error}"),
    }
}

/// How many answers had each result: the whole distribution shows in a failure message.
fn tally<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeMap<T, usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item).or_insert(0) += 1;
    }
    counts
}

fn expected<const N: usize, K: Ord>(pairs: [(K, usize); N]) -> BTreeMap<K, usize> {
    pairs.into_iter().filter(|(_, n)| *n > 0).collect()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Sleeps into the next window when fewer than `margin` seconds are left in the current one, so a
/// burst that takes less than `margin` runs inside one window.
async fn clear_of_window_boundary(window: i64, margin: i64) {
    let left = window - now().rem_euclid(window);
    if left < margin {
        tokio::time::sleep(Duration::from_secs((left + 1).unsigned_abs())).await;
    }
}

async fn dynamodb(fleet: &Fleet) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await)
}

async fn get_item(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    let output = dynamodb
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    output.item
}

/// Every item whose `pk` starts with `prefix` (test tables are small).
async fn scan_prefix(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    prefix: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let output = dynamodb
        .scan()
        .table_name(table)
        .filter_expression("begins_with(pk, :prefix)")
        .expression_attribute_values(":prefix", AttributeValue::S(prefix.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    output.items.unwrap_or_default()
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> i64 {
    item[name].as_n().unwrap().parse().unwrap()
}

/// The fleet's own function, for the single requests before and after a race.
fn fleet_invoker(fleet: &Fleet) -> InvokeClient {
    InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint())
}

/// The PIN in the one SMS sent to `phone`.
fn pin_sent_to(fleet: &Fleet, phone: &str) -> String {
    let outbox = fleet.cloud.emulator.outbox();
    let sms: Vec<_> = outbox.iter().filter(|s| s.to == phone).collect();
    assert_eq!(sms.len(), 1, "one SMS to {phone}: {outbox:?}");
    sms[0].body.chars().filter(char::is_ascii_digit).take(6).collect()
}

/// Sends one PIN for `contact` through the fleet's own `one-time-pin`; the PIN from the SMS.
async fn challenge(fleet: &Fleet, contact: &str) -> String {
    let sent = fleet_invoker(fleet)
        .invoke("one-time-pin", &flow_event(contact, ADMIN, ADMIN_LINE, json!({"phoneNumber": ADMIN})))
        .await
        .unwrap();
    assert_eq!(sent["Result"], "SENT", "{sent}");
    pin_sent_to(fleet, ADMIN)
}

/// `verify-pin` environments with the raced PIN policy, warmed on a contact that has no challenge.
async fn verify_pin_replicas(fleet: &Fleet, moto: &SerialMoto) -> Replicas {
    let warm_up = flow_event(&contact_id(0, 0), ADMIN, ADMIN_LINE, json!({"pin": "000000"}));
    Replicas::start(fleet, moto, "verify-pin", &pin_policy(), warm_up).await
}

#[tokio::test]
async fn concurrent_pin_requests_for_one_number_send_exactly_the_window_allowance() {
    let fleet = Fleet::start().await;
    // Warmed by a caller who is not an admin: no SMS, no counter.
    let warm_up = flow_event(&contact_id(1, 999), STRANGER, ADMIN_LINE, json!({}));
    let moto = SerialMoto::start(&fleet).await;
    let pins = Replicas::start(&fleet, &moto, "one-time-pin", &pin_policy(), warm_up).await;

    // The burst takes a few seconds; a minute of margin keeps it inside one window.
    clear_of_window_boundary(PIN_WINDOW_SECONDS, 60).await;
    let answers = pins.race(|i| flow_event(&contact_id(1, i), ADMIN, ADMIN_LINE, json!({"phoneNumber": ADMIN}))).await;

    // A read-then-write counter lets every request that read "not full yet" send.
    let results = tally(answers.iter().map(result_code));
    let want =
        expected([("SENT".to_owned(), PIN_SENDS_PER_WINDOW), ("RATE_LIMITED".into(), REQUESTS - PIN_SENDS_PER_WINDOW)]);
    assert_eq!(results, want, "{answers:?}");
    let outbox = fleet.cloud.emulator.outbox();
    assert_eq!(outbox.iter().filter(|s| s.to == ADMIN).count(), PIN_SENDS_PER_WINDOW, "{outbox:?}");

    // One window item, counting exactly the sends (a lost update would count fewer).
    let dynamodb = dynamodb(&fleet).await;
    let table = &fleet.cloud.fixture.emergency.table_name;
    let windows = scan_prefix(&dynamodb, table, &format!("OTPRATE#{ADMIN}")).await;
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(number(&windows[0], "count"), PIN_SENDS_PER_WINDOW as i64, "{windows:?}");

    // A challenge exists for exactly the contacts that were told SENT.
    let sent: BTreeSet<String> = (0..REQUESTS)
        .filter(|&i| result_code(&answers[i]) == "SENT")
        .map(|i| format!("OTP#{}", contact_id(1, i)))
        .collect();
    let challenges: BTreeSet<String> =
        scan_prefix(&dynamodb, table, "OTP#").await.iter().map(|item| item["pk"].as_s().unwrap().clone()).collect();
    assert_eq!(challenges, sent);
}

#[tokio::test]
async fn concurrent_wrong_pins_use_exactly_the_allowed_attempts_and_lock() {
    let fleet = Fleet::start().await;
    let moto = SerialMoto::start(&fleet).await;
    let verify = verify_pin_replicas(&fleet, &moto).await;
    let contact = contact_id(2, 0);
    let pin = challenge(&fleet, &contact).await;
    // Same length, every digit different: wrong however it is compared.
    let wrong: String =
        pin.chars().map(|d| char::from_digit((d.to_digit(10).unwrap() + 1) % 10, 10).unwrap()).collect();

    let answers = verify.race(|_| flow_event(&contact, ADMIN, ADMIN_LINE, json!({"pin": wrong}))).await;

    // Three tries are counted and compared: two answer WRONG_PIN (2 left, then 1), the one that uses
    // the last attempt and every later one answer LOCKED with none left.
    let results = tally(answers.iter().map(result_code));
    let want = expected([
        ("WRONG_PIN".to_owned(), PIN_MAX_ATTEMPTS - 1),
        ("LOCKED".into(), REQUESTS - (PIN_MAX_ATTEMPTS - 1)),
    ]);
    assert_eq!(results, want, "{answers:?}");
    let left = |code: &str| -> Vec<String> {
        let mut left: Vec<String> = answers
            .iter()
            .filter(|a| result_code(a) == code)
            .map(|a| a.as_ref().unwrap()["AttemptsLeft"].as_str().unwrap_or("<none>").to_owned())
            .collect();
        left.sort();
        left
    };
    assert_eq!(left("WRONG_PIN"), ["1", "2"]);
    assert!(left("LOCKED").iter().all(|n| n == "0"), "{answers:?}");

    // The stored counter stopped at the limit: a read-then-write counter compares every try that
    // read "tries left" (the answers above can still look right) and counts past it.
    let dynamodb = dynamodb(&fleet).await;
    let table = &fleet.cloud.fixture.emergency.table_name;
    let stored = get_item(&dynamodb, table, &format!("OTP#{contact}"), "CHALLENGE").await.unwrap();
    assert_eq!(number(&stored, "attempts"), PIN_MAX_ATTEMPTS as i64);
    assert!(!stored.contains_key("verifiedAt"));

    // The right PIN is too late now.
    let right = fleet_invoker(&fleet)
        .invoke("verify-pin", &flow_event(&contact, ADMIN, ADMIN_LINE, json!({"pin": pin})))
        .await
        .unwrap();
    assert_eq!(right["Result"], "LOCKED", "{right}");
}

#[tokio::test]
async fn the_same_pin_keyed_concurrently_verifies_exactly_once() {
    let fleet = Fleet::start().await;
    let moto = SerialMoto::start(&fleet).await;
    let verify = verify_pin_replicas(&fleet, &moto).await;
    let contact = contact_id(3, 0);
    let pin = challenge(&fleet, &contact).await;

    let answers = verify.race(|_| flow_event(&contact, ADMIN, ADMIN_LINE, json!({"pin": format!("{pin}#")}))).await;

    // Exactly one VERIFIED (a read-then-write "not yet verified" check lets several through). The
    // others see a verified challenge (NO_CHALLENGE, the replay answer) or, if they read it after
    // the three counted tries but before the winner marked it verified, LOCKED: each try counts as
    // an attempt before the comparison.
    let results = tally(answers.iter().map(result_code));
    assert_eq!(results.get("VERIFIED"), Some(&1), "{answers:?}");
    let others: BTreeSet<&str> = results.keys().map(String::as_str).filter(|r| *r != "VERIFIED").collect();
    assert!(others.is_subset(&BTreeSet::from(["NO_CHALLENGE", "LOCKED"])), "{answers:?}");

    let dynamodb = dynamodb(&fleet).await;
    let table = &fleet.cloud.fixture.emergency.table_name;
    let stored = get_item(&dynamodb, table, &format!("OTP#{contact}"), "CHALLENGE").await.unwrap();
    assert!(stored.contains_key("verifiedAt"), "{stored:?}");
    assert!(number(&stored, "attempts") <= PIN_MAX_ATTEMPTS as i64, "{stored:?}");

    // And once more afterwards: a replay.
    let replay = fleet_invoker(&fleet)
        .invoke("verify-pin", &flow_event(&contact, ADMIN, ADMIN_LINE, json!({"pin": pin})))
        .await
        .unwrap();
    assert_eq!(replay["Result"], "NO_CHALLENGE", "{replay}");
}

/// The ID Contact core's `POST /start_communication` through the fleet's gateway: the DTMF code and
/// the path of the `attr_url`.
async fn start_session(fleet: &Fleet) -> (String, String) {
    let gateway = fleet.cloud.gateway.as_ref().unwrap().endpoint();
    let response = reqwest::Client::new()
        .post(format!("{gateway}/start_communication"))
        .header("authorization", CORE_SIGNATURE)
        .json(&json!({"purpose": "race"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let started: Value = response.json().await.unwrap();
    let dtmf = started["client_url"].as_str().unwrap().rsplit(',').next().unwrap().to_owned();
    let attr_url = started["attr_url"].as_str().unwrap();
    let path = format!("/{}", attr_url.split("://").nth(1).unwrap().split_once('/').unwrap().1);
    (dtmf, path)
}

/// The stored session a pointer item (`DTMF#…`, `RESULT#…`) leads to: its id and item.
async fn session_via(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk: &str,
) -> (String, std::collections::HashMap<String, AttributeValue>) {
    let pointer = get_item(dynamodb, table, pk, sk).await.unwrap();
    let id = pointer["sessionId"].as_s().unwrap().clone();
    let session = get_item(dynamodb, table, &format!("SESSION#{id}"), "SESSION").await.unwrap();
    (id, session)
}

fn key(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("local/keys").join(name)).unwrap()
}

#[tokio::test]
async fn the_first_of_concurrent_auth_results_wins_and_is_the_one_stored() {
    let fleet = Fleet::start().await;
    let (_, path) = start_session(&fleet).await;
    let moto = SerialMoto::start(&fleet).await;
    let receive = Replicas::start(
        &fleet,
        &moto,
        "receive-auth-result",
        &[],
        // A well-formed but unknown result code: 404, nothing stored.
        gateway::http_api_event(
            HTTP_ROUTES.iter().find(|r| r.function == "receive-auth-result").unwrap(),
            &"POST".parse().unwrap(),
            &"/session_result/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".parse().unwrap(),
            &Default::default(),
            b"x",
            None,
            &fleet.cloud.fixture.account_id,
        ),
    )
    .await
    .with_gateways(&fleet)
    .await;

    // Every result is valid and different, so only the store's first-write-wins condition decides.
    let (signing, ours) = (key("plugin-signing-rsa.pem"), key("result-decryption-rsa.pub.pem"));
    let sealed: Vec<String> = (0..REQUESTS)
        .map(|i| {
            let claims = json!({"sub": "id-contact-attributes", "status": "succes",
                                "attributes": {"fullname": format!("Caller {i}"), "request": i.to_string()},
                                "iat": now() - 5, "exp": now() + 300});
            seal(&claims, &signing, &ours).unwrap()
        })
        .collect();
    let http = reqwest::Client::new();
    let answers = all_at_once(REQUESTS, |i| {
        let request = http.post(format!("{}{path}", receive.gateway(i))).body(sealed[i].clone());
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    })
    .await;

    // One 200; every other result is told the code is used (a read-then-write "no result yet"
    // check would accept several, and the last write, not the first answer, would stay).
    let statuses = tally(answers.iter().map(|(status, _)| *status));
    assert_eq!(statuses, expected([(200, 1), (404, REQUESTS - 1)]), "{answers:?}");
    let winner = answers.iter().position(|(status, _)| *status == 200).unwrap();

    let dynamodb = dynamodb(&fleet).await;
    let table = &fleet.cloud.fixture.identity.table_name;
    let code = path.rsplit('/').next().unwrap();
    let (_, session) = session_via(&dynamodb, table, &format!("RESULT#{code}"), "RESULT").await;
    let stored: BTreeMap<String, String> =
        session["attributes"].as_m().unwrap().iter().map(|(k, v)| (k.clone(), v.as_s().unwrap().clone())).collect();
    let want = BTreeMap::from([
        ("fullname".to_owned(), format!("Caller {winner}")),
        ("request".to_owned(), winner.to_string()),
    ]);
    assert_eq!(stored, want, "the stored result is the one answered 200");
    assert_eq!(session["status"].as_s().unwrap(), "succes");
}

/// `assign-id` environments, warmed on a contact of their own with a malformed code.
async fn assign_id_replicas(fleet: &Fleet, moto: &SerialMoto) -> Replicas {
    let warm_up = flow_event(&contact_id(0, 1), CALLER, ID_CONTACT_LINE, json!({"dtmf": "1"}));
    Replicas::start(fleet, moto, "assign-id", &[], warm_up).await
}

#[tokio::test]
async fn concurrent_wrong_codes_on_one_contact_lock_it_after_the_allowed_attempts() {
    let fleet = Fleet::start().await;
    let (dtmf, _) = start_session(&fleet).await;
    let moto = SerialMoto::start(&fleet).await;
    let assign = assign_id_replicas(&fleet, &moto).await;
    let contact = contact_id(5, 0);
    // Well-formed ten-digit codes that are not the session's.
    let wrong = |i: usize| {
        let code = format!("{:010}", 1_000_000_007 * (i as u64 + 1) % 10_000_000_000);
        assert_ne!(code, dtmf);
        code
    };

    let answers =
        assign.race(|i| flow_event(&contact, CALLER, ID_CONTACT_LINE, json!({"dtmf": format!("{}#", wrong(i))}))).await;

    // Exactly the allowed number of wrong codes is counted and answered; a read-then-write counter
    // lets every request that read "under the limit" through, each a free guess.
    let results = tally(answers.iter().map(result_code));
    let want =
        expected([("UNKNOWN_CODE".to_owned(), MAX_CODE_ATTEMPTS), ("LOCKED".into(), REQUESTS - MAX_CODE_ATTEMPTS)]);
    assert_eq!(results, want, "{answers:?}");
    let dynamodb = dynamodb(&fleet).await;
    let table = &fleet.cloud.fixture.identity.table_name;
    let attempts = get_item(&dynamodb, table, &format!("ATTEMPTS#{contact}"), "ATTEMPTS").await.unwrap();
    assert_eq!(number(&attempts, "count"), MAX_CODE_ATTEMPTS as i64);

    // The right code no longer helps this contact, and nothing was linked.
    let right = fleet_invoker(&fleet)
        .invoke("assign-id", &flow_event(&contact, CALLER, ID_CONTACT_LINE, json!({"dtmf": dtmf})))
        .await
        .unwrap();
    assert_eq!(right["Result"], "LOCKED", "{right}");
    assert!(get_item(&dynamodb, table, &format!("CONTACT#{contact}"), "CONTACT").await.is_none());
}

#[tokio::test]
async fn concurrent_links_to_one_session_all_land() {
    let fleet = Fleet::start().await;
    let (dtmf, _) = start_session(&fleet).await;
    let moto = SerialMoto::start(&fleet).await;
    let assign = assign_id_replicas(&fleet, &moto).await;

    let answers = assign
        .race(|i| flow_event(&contact_id(6, i), CALLER, ID_CONTACT_LINE, json!({"dtmf": format!("{dtmf}#")})))
        .await;
    let results = tally(answers.iter().map(result_code));
    assert_eq!(results, expected([("LINKED".to_owned(), REQUESTS)]), "{answers:?}");

    // Every contact is on the session (a read-modify-write of the set would lose some) and points to it.
    let dynamodb = dynamodb(&fleet).await;
    let table = &fleet.cloud.fixture.identity.table_name;
    let (session_id, session) = session_via(&dynamodb, table, &format!("DTMF#{dtmf}"), "DTMF").await;
    let linked: BTreeSet<String> = session["linkedContactIds"].as_ss().unwrap().iter().cloned().collect();
    let contacts: BTreeSet<String> = (0..REQUESTS).map(|i| contact_id(6, i)).collect();
    assert_eq!(linked, contacts);
    for contact in &contacts {
        let pointer = get_item(&dynamodb, table, &format!("CONTACT#{contact}"), "CONTACT").await.unwrap();
        assert_eq!(pointer["sessionId"].as_s().unwrap(), &session_id);
    }
}

/// An HTTP API event for `function` (its route), with this body and these verified claims.
fn video_event(fleet: &Fleet, function: &str, uri: &str, body: &Value, claims: &[(&str, &str)]) -> Value {
    let route = HTTP_ROUTES.iter().find(|r| r.function == function).unwrap();
    let claims: BTreeMap<String, String> = claims.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    gateway::http_api_event(
        route,
        &route.method.parse().unwrap(),
        &uri.parse().unwrap(),
        &Default::default(),
        body.to_string().as_bytes(),
        (!claims.is_empty()).then_some(&claims),
        &fleet.cloud.fixture.account_id,
    )
}

/// The status code of an HTTP function's answer.
fn status_of(answer: &Result<Value, String>) -> u64 {
    answer.as_ref().ok().and_then(|a| a["statusCode"].as_u64()).unwrap_or(0)
}

const ALICE_CLAIMS: &[(&str, &str)] = &[
    ("cognito:username", "u-alice"),
    ("email", "alice+video@example.com"),
    ("email_verified", "true"),
    ("custom:connectUserId", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
];

#[tokio::test]
async fn concurrent_creates_of_one_meeting_make_exactly_one_and_leave_no_chime_meeting_behind() {
    let fleet = Fleet::start().await;
    let moto = SerialMoto::start(&fleet).await;
    let create = |id: &str, attendee: &str| {
        json!({"externalMeetingId": id, "meetingTitle": id, "meetingRegion": "",
               "meetingAttendees": [{"attendeeName": "Alice", "isOwner": true},
                                    {"attendeeName": "Carol", "externalUserId": attendee}]})
    };
    // Warm-up: a meeting that exists already (read through the gate, refused 409, nothing created).
    let lambda = InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    let existing = video_event(&fleet, "create-meeting", "/meeting", &create("existing", "c-x"), ALICE_CLAIMS);
    assert_eq!(status_of(&lambda.invoke("create-meeting", &existing).await), 200);
    let warm_up = existing;
    let replicas = Replicas::start(&fleet, &moto, "create-meeting", &[], warm_up).await;

    // Each request names a different customer: only the meeting id is shared.
    let answers = replicas
        .race(|i| video_event(&fleet, "create-meeting", "/meeting", &create("raced", &format!("c-{i}")), ALICE_CLAIMS))
        .await;
    let statuses = tally(answers.iter().map(status_of));
    assert_eq!(statuses, expected([(200, 1), (409, REQUESTS - 1)]), "{answers:?}");
    // The losers that got as far as Chime deleted their meetings again.
    let meetings: Vec<_> =
        fleet.cloud.emulator.meetings().into_iter().filter(|m| m.external_meeting_id == "raced").collect();
    assert_eq!(meetings.len(), 1, "{meetings:?}");
    let winner = answers.iter().position(|a| status_of(a) == 200).unwrap();
    let customers: Vec<&str> = meetings[0].attendees.iter().map(|a| a.external_user_id.as_str()).collect();
    assert!(customers.contains(&format!("c-{winner}").as_str()), "the stored meeting is the winner's: {customers:?}");
}

#[tokio::test]
async fn an_adhoc_route_raced_by_concurrent_chats_is_redeemed_exactly_once() {
    let fleet = Fleet::start().await;
    let lambda = InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    let route = json!({"attendeeEmail": "carol@example.com", "routeToAgentQueue": "alice_video@example.com"});
    let event = video_event(&fleet, "create-adhoc-route", "/adhoc", &route, ALICE_CLAIMS);
    let made = lambda.invoke("create-adhoc-route", &event).await.unwrap();
    let body: Value = serde_json::from_str(made["body"].as_str().unwrap()).unwrap();
    let route_id = body["data"].as_u64().expect("a route id").to_string();

    let moto = SerialMoto::start(&fleet).await;
    let chat = |reference: &str| {
        json!({"ContactFlowId": fleet.cloud.fixture.connect.video_chat_flow_id(),
               "ParticipantDetails": {"DisplayName": "Carol"},
               "Attributes": {"customerEmailAddress": "carol@example.com", "videoReferenceId": reference}})
    };
    // Warm-up: a reference no route has (read through the gate, answered "error").
    let warm_up = video_event(&fleet, "start-chat", "/start", &chat("10000000"), &[]);
    let replicas = Replicas::start(&fleet, &moto, "start-chat", &[], warm_up).await;
    let chats_before = fleet.cloud.emulator.chats().len();
    let answers = replicas.race(|_| video_event(&fleet, "start-chat", "/start", &chat(&route_id), &[])).await;
    assert_eq!(tally(answers.iter().map(status_of)), expected([(200, REQUESTS)]), "{answers:?}");

    // Exactly one chat reached Connect with the agent; every other one was told the reference is spent.
    let chats = fleet.cloud.emulator.chats().split_off(chats_before);
    assert_eq!(chats.len(), REQUESTS);
    let references = tally(chats.iter().map(|c| c.attributes["videoReferenceId"].clone()));
    assert_eq!(references, expected([(route_id.clone(), 1), ("error".to_owned(), REQUESTS - 1)]));
    let routed: Vec<_> = chats.iter().filter_map(|c| c.attributes.get("videoRouteToAgent")).collect();
    assert_eq!(routed, ["3f2504e0-4f89-41d3-9a0c-0305e82c3301"]);
}
