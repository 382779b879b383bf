//! Agent onboarding end to end, as the agent-app does it: real Cognito tokens from moto, the local
//! HTTP API with its JWT authorizer, the real function binaries, Connect and STS in the local cloud.

use serde_json::{json, Value};
use switchboard_fleet_tests::Fleet;

const PASSWORD: &str = "Local-Passw0rd!";
const ALICE: &str = "alice+video@example.com";
const ALICE_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const BOB_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3302";

struct Agent<'a> {
    fleet: &'a Fleet,
    http: reqwest::Client,
}

impl Agent<'_> {
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
        let url = format!("{}{path}", self.fleet.cloud.gateway.as_ref().unwrap().endpoint());
        let mut request = self.http.request(method.parse().unwrap(), url).header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("cognitoIdToken", token);
        }
        if let Some(body) = body {
            request = request.body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// A Cognito client as the agent-app has it (through the local Cognito front, which enforces the app
/// client's write attributes) and `email`'s access token.
async fn signed_in_through_the_app_client(
    fleet: &Fleet,
    email: &str,
) -> (aws_sdk_cognitoidentityprovider::Client, String) {
    let sdk = fleet.cloud.sdk_config().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
        aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
            .endpoint_url(fleet.cloud.emulator.endpoint())
            .build(),
    );
    let signed_in = cognito
        .initiate_auth()
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .client_id(&fleet.cloud.user_pool.client_id)
        .auth_parameters("USERNAME", email)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    let access_token = signed_in.authentication_result().unwrap().access_token().unwrap().to_owned();
    (cognito, access_token)
}

fn claims(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap()
}

#[tokio::test]
async fn an_agent_signs_in_gets_ccp_tokens_binds_their_connect_user_and_caches_it() {
    let fleet = Fleet::start().await;
    let agent = Agent { fleet: &fleet, http: reqwest::Client::new() };
    let token = fleet.cloud.sign_in(ALICE, PASSWORD).await.unwrap();
    assert!(claims(&token).get("custom:connectUserId").is_none());

    // CCP login: federation tokens for the Connect user named by the email claim (+ handled).
    let before_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let (status, body) = agent.call("POST", "/ccplogin", Some(&token), Some(r#"{"connectLoginByEmail": true}"#)).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    for field in ["AccessToken", "RefreshToken"] {
        assert!(data[field].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    }
    let access_expiry = data["AccessTokenExpiration"].as_i64().unwrap();
    assert!(access_expiry > before_ms && access_expiry < before_ms + 13 * 3600 * 1000, "epoch ms: {access_expiry}");
    assert!(data["RefreshTokenExpiration"].as_i64().unwrap() > access_expiry);

    // Binding to another agent's Connect user is refused, and Cognito is unchanged.
    let request = json!({"connectLoginByEmail": true, "connectUserId": BOB_CONNECT_ID}).to_string();
    let (status, body) = agent.call("POST", "/setConnectUserId", Some(&token), Some(&request)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("connectUserId:"), "{body}");
    let unchanged = fleet.cloud.sign_in(ALICE, PASSWORD).await.unwrap();
    assert!(claims(&unchanged).get("custom:connectUserId").is_none());

    // Without the claim there is no cache to build.
    let (status, body) = agent.call("PUT", "/connect-user-cache", Some(&token), None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_INPUT")), "{body}");

    // Her own Connect user: accepted, and the next token carries the claim.
    let request = json!({"connectLoginByEmail": true, "connectUserId": ALICE_CONNECT_ID}).to_string();
    let (status, body) = agent.call("POST", "/setConnectUserId", Some(&token), Some(&request)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"connectUserId": ALICE_CONNECT_ID}));
    let bound = fleet.cloud.sign_in(ALICE, PASSWORD).await.unwrap();
    assert_eq!(claims(&bound)["custom:connectUserId"], ALICE_CONNECT_ID);

    // A token that already has the claim cannot set it again.
    let (status, body) = agent.call("POST", "/setConnectUserId", Some(&bound), Some(&request)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("custom:connectUserId:"), "{body}");

    // The cache: stored, then skipped within 5 minutes.
    let (status, body) = agent.call("PUT", "/connect-user-cache", Some(&bound), None).await;
    assert_eq!((status, &body["data"]), (200, &json!(true)), "{body}");
    let (status, body) = agent.call("PUT", "/connect-user-cache", Some(&bound), None).await;
    assert_eq!((status, &body["data"]), (200, &json!(false)), "{body}");
}

#[tokio::test]
async fn requests_without_a_valid_token_or_body_are_refused_with_the_right_status() {
    let fleet = Fleet::start().await;
    let agent = Agent { fleet: &fleet, http: reqwest::Client::new() };
    let login = Some(r#"{"connectLoginByEmail": true}"#);

    // The authorizer answers before any function runs.
    assert_eq!(agent.call("POST", "/ccplogin", None, login).await.0, 401);
    assert_eq!(agent.call("POST", "/ccplogin", Some("not-a-jwt"), login).await.0, 401);
    let token = fleet.cloud.sign_in("bob@example.com", PASSWORD).await.unwrap();
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(agent.call("POST", "/ccplogin", Some(&forged), login).await.0, 401, "a bad signature");
    assert_eq!(agent.call("GET", "/nowhere", Some(&token), None).await.0, 404);
    let invocations =
        fleet.logs().iter().filter(|l| l.contains("request answered") || l.contains("request refused")).count();
    assert_eq!(invocations, 0, "no function ran for refused requests");

    // Bodies: missing, malformed, a field missing or of the wrong type: 400 naming the field.
    for (body, field) in [
        (None, "body"),
        (Some("{not json"), "body"),
        (Some("{}"), "connectLoginByEmail"),
        (Some(r#"{"connectLoginByEmail": "yes"}"#), "connectLoginByEmail"),
    ] {
        let (status, answer) = agent.call("POST", "/ccplogin", Some(&token), body).await;
        assert_eq!(status, 400, "{body:?}: {answer}");
        assert!(answer["message"].as_str().unwrap().starts_with(&format!("{field}:")), "{body:?}: {answer}");
        assert_eq!(answer["code"], "INVALID_INPUT");
        assert!(answer["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    }
    let (status, answer) = agent
        .call(
            "POST",
            "/setConnectUserId",
            Some(&token),
            Some(r#"{"connectLoginByEmail": true, "connectUserId": "42"}"#),
        )
        .await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap().starts_with("connectUserId:"), "{answer}");

    // An agent with no Connect user: 404 from ccp-login.
    let carol = fleet.cloud.sign_in("carol@example.com", PASSWORD).await.unwrap();
    let (status, answer) = agent.call("POST", "/ccplogin", Some(&carol), login).await;
    assert_eq!((status, answer["message"].as_str()), (404, Some("user not found")), "{answer}");
}

/// A dependency fault in an HTTP function (its DynamoDB table is gone): a 502 with the envelope's
/// code and the request id, the detail only in the log, whose line names the kind `DependencyError`
/// (the `errorType` a Connect function's fault carries).
#[tokio::test]
async fn a_failing_dependency_is_a_502_logged_as_dependency_error() {
    let fleet = Fleet::start().await;
    let agent = Agent { fleet: &fleet, http: reqwest::Client::new() };
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    dynamodb.delete_table().table_name(&fleet.cloud.fixture.video.table_name).send().await.unwrap();
    let token = fleet.cloud.sign_in(ALICE, PASSWORD).await.unwrap();
    let request = json!({"connectLoginByEmail": true, "connectUserId": ALICE_CONNECT_ID}).to_string();
    let (status, _) = agent.call("POST", "/setConnectUserId", Some(&token), Some(&request)).await;
    assert_eq!(status, 200, "Cognito, not the table");
    let bound = fleet.cloud.sign_in(ALICE, PASSWORD).await.unwrap();

    let (status, body) = agent.call("PUT", "/connect-user-cache", Some(&bound), None).await;
    assert_eq!((status, body["code"].as_str()), (502, Some("DEPENDENCY_FAILED")), "{body}");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    assert!(!body.to_string().contains("ResourceNotFound"), "the detail stays in the log: {body}");
    let logged = fleet.logs().into_iter().find(|l| l.contains("dependency failed")).expect("a failure line");
    assert!(logged.contains(r#""kind":"DependencyError""#), "{logged}");
    assert!(logged.contains("GetItem") && logged.contains("ResourceNotFound"), "{logged}");
}

#[tokio::test]
async fn the_app_client_cannot_write_the_connect_user_id_itself() {
    use aws_sdk_cognitoidentityprovider::{error::ProvideErrorMetadata, types::AttributeType};
    let fleet = Fleet::start().await;
    let (cognito, access_token) = signed_in_through_the_app_client(&fleet, ALICE).await;
    let attribute = |name: &str, value: &str| AttributeType::builder().name(name).value(value).build().unwrap();

    let refused = cognito
        .update_user_attributes()
        .access_token(&access_token)
        .user_attributes(attribute("custom:connectUserId", BOB_CONNECT_ID))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("NotAuthorizedException"));
    let token = fleet.cloud.sign_in(ALICE, PASSWORD).await.unwrap();
    assert!(claims(&token).get("custom:connectUserId").is_none());

    // Attributes the client may write still work.
    cognito
        .update_user_attributes()
        .access_token(&access_token)
        .user_attributes(attribute("name", "Alice"))
        .send()
        .await
        .unwrap();
}

/// The impersonation attack through the email claim, step by step: an agent (Carol, who has no Connect
/// user) tries to become a colleague (Bob) by putting Bob's address on her own Cognito user.
#[tokio::test]
async fn an_agent_cannot_become_a_colleague_by_changing_their_email() {
    use aws_sdk_cognitoidentityprovider::{error::ProvideErrorMetadata, types::AttributeType};
    const CAROL: &str = "carol@example.com";
    let fleet = Fleet::start().await;
    let agent = Agent { fleet: &fleet, http: reqwest::Client::new() };
    let sdk = fleet.cloud.sdk_config().await;
    let attribute = |name: &str, value: &str| AttributeType::builder().name(name).value(value).build().unwrap();

    // Step 1: the app client cannot write `email` (template and local Cognito front agree).
    let (front, access_token) = signed_in_through_the_app_client(&fleet, CAROL).await;
    let refused = front
        .update_user_attributes()
        .access_token(&access_token)
        .user_attributes(attribute("email", "bob@example.com"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("NotAuthorizedException"));
    let token = fleet.cloud.sign_in(CAROL, PASSWORD).await.unwrap();
    assert_eq!(claims(&token)["email"], CAROL, "her email is unchanged");

    // Step 2: even if her email changed by another way without verification (here: an admin call
    // that sets Bob's address and `email_verified=false`), the functions refuse to derive a Connect
    // user from it. Bob's address in capitals: Cognito refuses an exact duplicate of another user's
    // email, while Connect usernames (and so the federation) match without regard to case.
    const BOB_SPELLED_OTHERWISE: &str = "BOB@example.com";
    let moto = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    moto.admin_update_user_attributes()
        .user_pool_id(&fleet.cloud.user_pool.pool_id)
        .username(CAROL)
        .user_attributes(attribute("email", BOB_SPELLED_OTHERWISE))
        .user_attributes(attribute("email_verified", "false"))
        .send()
        .await
        .unwrap();
    let unverified = match fleet.cloud.sign_in(BOB_SPELLED_OTHERWISE, PASSWORD).await {
        Ok(token) if claims(&token)["email_verified"] != true => token,
        _ => fleet.cloud.sign_in(CAROL, PASSWORD).await.unwrap(),
    };
    assert_eq!(claims(&unverified)["email"], BOB_SPELLED_OTHERWISE, "the attack's precondition");
    // moto writes the claim as the string "false"; Cognito as a boolean. The authorizer passes both as "false".
    let verified = &claims(&unverified)["email_verified"];
    assert!(verified == false || verified == "false", "the attack's precondition: {verified}");

    // ccp-login would federate her as Bob: refused.
    let (status, body) =
        agent.call("POST", "/ccplogin", Some(&unverified), Some(r#"{"connectLoginByEmail": true}"#)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("FORBIDDEN")), "{body}");

    // set-connect-user-id would bind Bob's Connect user to her: refused, and Cognito is unchanged.
    let request = json!({"connectLoginByEmail": true, "connectUserId": BOB_CONNECT_ID}).to_string();
    let (status, body) = agent.call("POST", "/setConnectUserId", Some(&unverified), Some(&request)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("FORBIDDEN")), "{body}");
    let username = claims(&unverified)["cognito:username"].as_str().unwrap().to_owned();
    let user =
        moto.admin_get_user().user_pool_id(&fleet.cloud.user_pool.pool_id).username(username).send().await.unwrap();
    assert!(!user.user_attributes().iter().any(|a| a.name() == "custom:connectUserId"), "no Connect user id was bound");

    // With no bound Connect user id she cannot read Bob's ID Contact callers either.
    let contact = "8f3e0d4a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
    let (status, body) = agent.call("GET", &format!("/session_info/{contact}"), Some(&unverified), None).await;
    assert_eq!(status, 403, "{body}");

    // Neither function ever asked Connect or STS about Bob.
    let logs = fleet.logs().join("\n");
    assert!(logs.contains("refused a Connect username derived from an unverified email"), "{logs}");
}
