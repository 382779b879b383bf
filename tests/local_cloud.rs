//! The local cloud as the services behave: the Invoke API's payload limit and its error, the webhook's
//! route on the local gateway, and a function's answer to an event it cannot read.

use hmac::{KeyInit, Mac};
use serde_json::{json, Value};
use switchboard_fleet_tests::Fleet;
use switchboard_local::{
    cloud::LOCAL_WEBHOOK_SECRET_VALUE,
    lambda_host::{InvokeClient, MAX_INVOKE_PAYLOAD},
};

fn signature(body: &str) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(LOCAL_WEBHOOK_SECRET_VALUE.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A push of `size` bytes or so: one commit whose message pads it (GitHub sends up to 25 MB).
fn push_of(size: usize) -> String {
    json!({"ref": "refs/heads/feature/x", "created": false, "deleted": false, "forced": false,
           "commits": [{"id": "c", "message": "x".repeat(size), "added": [], "removed": [], "modified": ["README.md"]}]})
    .to_string()
}

/// API Gateway's event for a GitHub delivery of `body`.
fn delivery(body: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": "POST /github", "rawPath": "/github", "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-github-event": "push",
                    "x-github-delivery": uuid(), "x-hub-signature-256": signature(body)},
        "requestContext": {
            "accountId": "123456789012", "apiId": "webhook", "domainName": "webhook.local", "domainPrefix": "webhook",
            "http": {"method": "POST", "path": "/github", "protocol": "HTTP/1.1", "sourceIp": "140.82.115.10", "userAgent": "GitHub-Hookshot/1"},
            "requestId": "r", "routeKey": "POST /github", "stage": "$default", "time": "04/Dec/2026:09:00:00 +0000", "timeEpoch": 0
        },
        "body": body, "isBase64Encoded": false
    })
}

fn uuid() -> String {
    format!("{:032x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

/// Lambda takes events up to 6 MB and refuses larger ones with its own error, not the web framework's.
#[tokio::test]
async fn the_invoke_api_takes_events_up_to_6_mb_and_refuses_larger_ones_as_lambda_does() {
    let fleet = Fleet::start().await;
    let endpoint = fleet.cloud.fleet().unwrap().endpoint();
    let lambda = InvokeClient::new(endpoint.clone());

    // A 5 MB delivery (a 413 before): the function reads it and answers.
    let body = push_of(5 * 1024 * 1024);
    let event = delivery(&body);
    assert!(event.to_string().len() > 5 * 1024 * 1024 && event.to_string().len() < MAX_INVOKE_PAYLOAD);
    let answer = lambda.invoke("github-webhook", &event).await.unwrap();
    assert_eq!(answer["statusCode"], 200, "{}", answer["body"]);

    // Over 6 MB: Lambda's 413 and error type.
    let too_large = delivery(&push_of(MAX_INVOKE_PAYLOAD));
    let response = reqwest::Client::new()
        .post(format!("{endpoint}/2015-03-31/functions/github-webhook/invocations"))
        .body(too_large.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(response.headers()["x-amzn-ErrorType"], "RequestEntityTooLargeException");
    let refused: Value = response.json().await.unwrap();
    assert_eq!(
        refused["message"],
        format!("Request must be smaller than {MAX_INVOKE_PAYLOAD} bytes for the InvokeFunction operation")
    );
}

/// `POST /github` on the local gateway reaches the webhook as the template's WebhookApi route does:
/// no token, the signature checked by the function.
#[tokio::test]
async fn the_local_gateway_serves_the_webhooks_route() {
    let fleet = Fleet::start().await;
    let url = format!("{}/github", fleet.cloud.gateway.as_ref().unwrap().endpoint());
    let http = reqwest::Client::new();
    let body = push_of(16);
    let send = |signature: String| {
        http.post(&url)
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", uuid())
            .header("x-hub-signature-256", signature)
            .body(body.clone())
            .send()
    };
    let answer = send(signature(&body)).await.unwrap();
    assert_eq!(answer.status().as_u16(), 200, "{:?}", answer.text().await);
    let forged = send(signature("another body")).await.unwrap();
    assert_eq!(forged.status().as_u16(), 401, "the function checked the signature");
}

/// An event that is not a JSON object is refused with an error type that says so.
#[tokio::test]
async fn an_unreadable_event_is_named_by_its_kind_not_a_rust_type() {
    let fleet = Fleet::start().await;
    let lambda = InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    for event in [json!("not an object"), json!([1, 2]), json!({"Details": 7})] {
        let failed = lambda.invoke("check-emergency", &event).await.unwrap_err();
        // "<status>: <the function's error JSON>"
        let body = failed.split_once(": ").map_or(failed.as_str(), |(_, body)| body);
        let error: Value = serde_json::from_str(body).unwrap_or(json!({"raw": failed}));
        assert_eq!(error["errorType"], "InvalidEvent", "{event}: {failed}");
        assert!(!failed.contains("lambda_runtime::"), "{failed}");
    }
}

/// The fake CCP serves the original agent-app as Connect would: framable by the agent-app's origins,
/// `/ccp-v2` without its slash sent to the page its relative scripts need, and the agent-app's
/// `POST /auth/sign-in` of its `ccplogin` tokens taken.
#[tokio::test]
async fn the_fake_ccp_serves_the_agent_app_as_an_instance_would() {
    let mut fleet = Fleet::start().await;
    fleet.cloud.start_desktop(switchboard_local::desktop::DesktopOptions::default()).await.unwrap();
    let ccp = &fleet.cloud.desktop.as_ref().unwrap().ccp;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let page = http.get(ccp.ccp_url()).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    for origin in switchboard_local::cloud::cors_origins() {
        assert!(policy.contains(&origin), "the agent-app's {origin} may frame the CCP: {policy}");
    }

    let bare = http.get(format!("{}/ccp-v2", ccp.origin())).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 308);
    assert_eq!(bare.headers()["location"], "/ccp-v2/");

    let credentials =
        json!({"AccessToken": "a", "AccessTokenExpiration": 1, "RefreshToken": "r", "RefreshTokenExpiration": 2});
    let signed_in = http
        .post(format!("{}/auth/sign-in", ccp.origin()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "credentials={}",
            percent_encoding::utf8_percent_encode(&credentials.to_string(), percent_encoding::NON_ALPHANUMERIC)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303, "not a 404");
    assert_eq!(signed_in.headers()["location"], "/ccp-v2/");
}
