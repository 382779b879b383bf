//! ID Contact end to end: the core starts sessions through the identity API, the authentication
//! plugin posts sealed results, the caller plays `IdContact_Inbound`, and the agent on the contact
//! reads the verified attributes through the agent API. Real binaries, real flows, the local cloud.

use serde_json::{json, Value};
use switchboard::identity::jose::seal;
use switchboard_fleet_tests::Fleet;
use switchboard_local::repo_root;

const FLOW: &str = "identity/IdContact_Inbound";
const CALLER: &str = "+61400111222";
const ID_CONTACT_LINE: &str = "+61255502000";
const PASSWORD: &str = "Local-Passw0rd!";
const ALICE_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const BOB_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3302";
/// What the ID Contact core's SigV4-signed request carries (the local API checks its form).
const CORE_SIGNATURE: &str = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261123/ap-southeast-2/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000";

fn key(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("local/keys").join(name)).unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn claims(attributes: Value, exp: i64) -> Value {
    json!({"sub": "id-contact-attributes", "status": "succes", "attributes": attributes,
           "session_url": "https://auth.example/session/1", "iat": now() - 5, "exp": exp})
}

struct IdContact<'a> {
    fleet: &'a Fleet,
    http: reqwest::Client,
}

impl IdContact<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fleet.cloud.gateway.as_ref().unwrap().endpoint())
    }

    /// The core's `POST /start_communication`.
    async fn start(&self, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/start_communication"))
            .header("authorization", CORE_SIGNATURE)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The plugin's `POST` of a result to the `attr_url` (or any path).
    async fn post_result(&self, path: &str, body: String) -> (u16, String) {
        let response = self.http.post(self.url(path)).body(body).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The agent page's `GET /session_info/{contact_id}`.
    async fn session_info(&self, token: &str, contact_id: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(&format!("/session_info/{contact_id}")))
            .header("cognitoIdToken", token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Signs the agent in and binds their Connect user, as onboarding does; a token with the claim.
    async fn agent_token(&self, email: &str, connect_id: &str) -> String {
        let token = self.fleet.cloud.sign_in(email, PASSWORD).await.unwrap();
        let response = self
            .http
            .post(self.url("/setConnectUserId"))
            .header("cognitoIdToken", token)
            .json(&json!({"connectLoginByEmail": true, "connectUserId": connect_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap());
        self.fleet.cloud.sign_in(email, PASSWORD).await.unwrap()
    }
}

fn dtmf_of(client_url: &str) -> String {
    client_url.rsplit(',').next().unwrap().to_owned()
}

fn path_of(attr_url: &str) -> String {
    let after_scheme = attr_url.split("://").nth(1).unwrap();
    format!("/{}", after_scheme.split_once('/').unwrap().1)
}

#[tokio::test]
async fn a_caller_is_identified_and_only_their_agent_sees_the_verified_attributes() {
    let fleet = Fleet::start().await;
    let id = IdContact { fleet: &fleet, http: reqwest::Client::new() };
    let alice = id.agent_token("alice+video@example.com", ALICE_CONNECT_ID).await;
    let bob = id.agent_token("bob@example.com", BOB_CONNECT_ID).await;

    // The core starts a session.
    let (status, started) = id.start(json!({"purpose": "request-permit"})).await;
    assert_eq!(status, 200, "{started}");
    let client_url = started["client_url"].as_str().unwrap();
    assert!(client_url.starts_with(&format!("tel:{ID_CONTACT_LINE},")), "{client_url}");
    let code = dtmf_of(client_url);
    assert_eq!(code.len(), 10);
    let attr_url = started["attr_url"].as_str().unwrap();

    // The caller keys the code before the result arrives: linked, pending.
    let call = fleet.call(FLOW, CALLER, ID_CONTACT_LINE, &[&format!("{code}#")]).await;
    let linked = call.results_of("assign-id");
    assert_eq!(linked[0]["Result"], "LINKED");
    assert_eq!(linked[0]["Purpose"], "request-permit");
    assert_eq!((linked[0]["HasResult"].as_str(), linked[0]["AuthStatus"].as_str()), ("false", "pending"));
    assert_eq!(call.attributes.get("idContactStatus").map(String::as_str), Some("pending"));
    assert_eq!(call.ending, Some(switchboard_local::flow::Ending::Queued { queue: "BasicQueue".into() }));
    assert_codes_never_logged(&call);

    // The call reaches Alice. Before the result: purpose, and no result yet (the page polls).
    let contact = call.contact_id.clone();
    fleet.cloud.connect_contact(&contact, &call.initial_contact_id, Some(ALICE_CONNECT_ID)).await.unwrap();
    let (status, info) = id.session_info(&alice, &contact).await;
    assert_eq!((status, &info), (200, &json!({"purpose": "request-permit", "auth_result": null})));

    // The plugin posts the result: encrypted to our RSA key (RSA-OAEP), signed RS256.
    let attributes = json!({"fullname": "Jan de Vries", "bsn": "999999990"});
    let sealed = seal(
        &claims(attributes.clone(), now() + 300),
        &key("plugin-signing-rsa.pem"),
        &key("result-decryption-rsa.pub.pem"),
    )
    .unwrap();
    let (status, body) = id.post_result(&path_of(attr_url), sealed.clone()).await;
    assert_eq!((status, body.as_str()), (200, ""));

    // Pending → present, for Alice only.
    let (status, info) = id.session_info(&alice, &contact).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["auth_result"]["status"], "succes");
    assert_eq!(info["auth_result"]["attributes"], attributes);
    assert_eq!(info["auth_result"]["session_url"], "https://auth.example/session/1");
    assert_eq!(id.session_info(&bob, &contact).await.0, 403, "another agent");
    let unbound = fleet.cloud.sign_in("carol@example.com", PASSWORD).await.unwrap();
    assert_eq!(id.session_info(&unbound, &contact).await.0, 403, "an agent without a Connect user");

    // A transfer: a new ContactId with the same InitialContactId, now with Alice, still resolves.
    let transferred = "7e57c0de-0000-4000-8000-000000000001";
    fleet.cloud.connect_contact(transferred, &call.initial_contact_id, Some(ALICE_CONNECT_ID)).await.unwrap();
    let (status, info) = id.session_info(&alice, transferred).await;
    assert_eq!((status, &info["auth_result"]["attributes"]), (200, &attributes));

    // The same result again: the code is used.
    assert_eq!(id.post_result(&path_of(attr_url), sealed).await.0, 404);

    // Nothing secret in any log line: no attribute value, no JWE, no key material.
    let logs = fleet.logs();
    assert!(logs.iter().any(|l| l.contains("auth result stored")), "logs captured");
    for line in &logs {
        for secret in ["Jan de Vries", "999999990", "PRIVATE KEY", "BEGIN", "eyJ"] {
            assert!(!line.contains(secret), "{secret:?} in a log line: {line}");
        }
    }
}

#[tokio::test]
async fn results_sealed_with_p256_and_es256_work_and_can_arrive_before_the_call() {
    let fleet = Fleet::start().await;
    let id = IdContact { fleet: &fleet, http: reqwest::Client::new() };
    let (_, started) = id.start(json!({"purpose": "tax-question"})).await;
    let sealed = seal(
        &claims(json!({"email": "jan@example.nl"}), now() + 300),
        &key("plugin-signing-ec.pem"),
        &key("result-decryption-ec.pub.pem"),
    )
    .unwrap();
    assert!(sealed.starts_with("eyJ"), "a compact JWE");
    let (status, _) = id.post_result(&path_of(started["attr_url"].as_str().unwrap()), sealed).await;
    assert_eq!(status, 200);

    let call = fleet.call(FLOW, CALLER, ID_CONTACT_LINE, &[&dtmf_of(started["client_url"].as_str().unwrap())]).await;
    let linked = call.results_of("assign-id");
    assert_eq!((linked[0]["Result"].as_str(), linked[0]["AuthStatus"].as_str()), ("LINKED", "succes"));
    assert_eq!(linked[0]["HasResult"], "true");

    // A result given with the session start is verified at once, and no attr_url is handed out.
    let inline = seal(
        &claims(json!({"email": "x@example.nl"}), now() + 300),
        &key("plugin-signing-rsa.pem"),
        &key("result-decryption-rsa.pub.pem"),
    )
    .unwrap();
    let (status, started) = id.start(json!({"purpose": "inline", "auth_result": inline})).await;
    assert_eq!(status, 200, "{started}");
    assert!(started.get("attr_url").is_none(), "{started}");
    let (status, refused) = id.start(json!({"purpose": "inline", "auth_result": "not-a-jwe"})).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("INVALID_INPUT")), "{refused}");
}

#[tokio::test]
async fn bad_results_wrong_codes_and_unsigned_starts_are_refused() {
    let fleet = Fleet::start().await;
    let id = IdContact { fleet: &fleet, http: reqwest::Client::new() };
    let (_, started) = id.start(json!({"purpose": "request-permit"})).await;
    let path = path_of(started["attr_url"].as_str().unwrap());
    let ours = key("result-decryption-rsa.pub.pem");
    let good = seal(&claims(json!({"a": "b"}), now() + 300), &key("plugin-signing-rsa.pem"), &ours).unwrap();

    // Tampered ciphertext, an untrusted signer, an expired result, an oversized body: 400.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let tampered_char = if parts[3].starts_with('A') { "B" } else { "A" };
    parts[3].replace_range(0..1, tampered_char);
    let tampered = parts.join(".");
    let untrusted = seal(&claims(json!({"a": "b"}), now() + 300), &key("untrusted-signing-rsa.pem"), &ours).unwrap();
    let expired = seal(&claims(json!({"a": "b"}), now() - 120), &key("plugin-signing-rsa.pem"), &ours).unwrap();
    for (what, body) in [
        ("tampered", tampered),
        ("untrusted signer", untrusted),
        ("expired", expired),
        ("over 8 KiB", "x".repeat(8 * 1024 + 1)),
    ] {
        let (status, answer) = id.post_result(&path, body).await;
        assert_eq!(status, 400, "{what}: {answer}");
    }
    // Unknown result code: 404. The good one still works afterwards, once.
    assert_eq!(id.post_result("/session_result/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", good.clone()).await.0, 404);
    assert_eq!(id.post_result(&path, good.clone()).await.0, 200);
    assert_eq!(id.post_result(&path, good).await.0, 404, "second result for the same session");

    // The core's route needs IAM auth.
    let unsigned = id.http.post(id.url("/start_communication")).json(&json!({"purpose": "x"})).send().await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 403);
    let (status, answer) = id.start(json!({"purpose": ""})).await;
    assert_eq!(status, 400, "{answer}");

    // Wrong codes: three are told "not recognised", the fourth attempt on the contact is locked.
    let call = fleet.call(FLOW, CALLER, ID_CONTACT_LINE, &["1111111111#", "2222222222#", "123#", "3333333333#"]).await;
    assert_eq!(call.result_codes("assign-id"), ["UNKNOWN_CODE", "UNKNOWN_CODE", "INVALID_CODE", "LOCKED"]);
    assert!(call.heard("That code was not recognised."), "{call}");
    assert_eq!(call.ending, Some(switchboard_local::flow::Ending::Queued { queue: "BasicQueue".into() }));
    assert_codes_never_logged(&call);
}

/// A logged code lets anyone who reads the flow logs call in as the verified person: flow logging is
/// off while codes are keyed and `assign-id` receives them, the `dtmf` attribute is emptied after, and
/// logging is back on by the time the call is queued.
fn assert_codes_never_logged(call: &switchboard_local::flow::Transcript) {
    use switchboard_local::flow::Step;
    let steps = call.with_flow_logging();
    for (logged, step) in &steps {
        let carries_code = matches!(step, Step::Input { .. })
            || matches!(step, Step::Invoke { function, .. } if function == "assign-id");
        assert!(!(carries_code && *logged), "flow logging is on for {step:?}");
    }
    assert!(steps.iter().any(|(_, step)| matches!(step, Step::Input { .. })), "{call}");
    assert_eq!(call.attributes.get("dtmf").map(String::as_str), Some(""), "the code is not kept on the contact");
    let (logged_at_queue, _) = steps.iter().rev().find(|(_, step)| matches!(step, Step::TargetQueue { .. })).unwrap();
    assert!(logged_at_queue, "logging is back on for the rest of the call");
}
