//! The agent desktop pages end to end, in a real browser, against the local cloud: the fleet, the
//! desktop site (the bucket in moto behind the CloudFront stand-in, with the template's response
//! headers), managed login on the Cognito front and the fake CCP origin. The browser half is
//! `desktop/test/e2e` (node's test runner driving Debian's chromium with puppeteer-core); this test
//! starts everything, hands the URLs over in `SWITCHBOARD_DESKTOP`, and serves what only the Rust
//! side has: the contact-flow runner (a caller keys their ID Contact code) and the plugin's sealing.

use std::{net::SocketAddr, sync::Arc};

use axum::{extract::State, http::StatusCode, routing::post, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard::identity::jose::seal;
use switchboard_fleet_tests::Fleet;
use switchboard_local::{
    desktop::DesktopOptions,
    flow::{Call, CallInput},
    repo_root,
};

const FLOW: &str = "identity/IdContact_Inbound";
const CALLER: &str = "+61400111222";
const ID_CONTACT_LINE: &str = "+61255502000";
/// What the ID Contact core's SigV4-signed request carries (the local API checks its form).
const CORE_SIGNATURE: &str = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261123/ap-southeast-2/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000";

fn key(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("local/keys").join(name)).unwrap()
}

#[derive(Deserialize)]
struct CallRequest {
    code: String,
}

/// `POST /calls {code}`: the caller rings the ID Contact line and keys `code`.
async fn call(
    State(fleet): State<Arc<Fleet>>,
    Json(request): Json<CallRequest>,
) -> Result<Json<Value>, (StatusCode, String)> {
    let input =
        format!("{}#", request.code).parse::<CallInput>().map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    let call = Call::voice(FLOW, CALLER, ID_CONTACT_LINE).with_inputs([input]);
    let transcript = fleet.runner.play(call).await.map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let result = transcript.result_codes("assign-id").last().map(|r| (*r).to_owned());
    Ok(Json(json!({
        "contactId": transcript.contact_id,
        "initialContactId": transcript.initial_contact_id,
        "result": result,
    })))
}

#[derive(Deserialize)]
struct SealRequest {
    status: String,
    attributes: Value,
}

/// `POST /seal {status, attributes}`: the result as the plugin posts it (signed RS256 with its key,
/// encrypted RSA-OAEP to ours).
async fn seal_result(Json(request): Json<SealRequest>) -> Result<Json<Value>, (StatusCode, String)> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"sub": "id-contact-attributes", "status": request.status, "attributes": request.attributes,
                        "iat": now - 5, "exp": now + 600});
    let jwe = seal(&claims, &key("plugin-signing-rsa.pem"), &key("result-decryption-rsa.pub.pem"))
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(json!({ "jwe": jwe })))
}

async fn serve_control(fleet: Arc<Fleet>) -> SocketAddr {
    let app = Router::new().route("/calls", post(call)).route("/seal", post(seal_result)).with_state(fleet);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn agents_sign_in_and_see_their_callers_verified_in_a_real_browser() {
    let mut fleet = Fleet::start().await;
    // The panel's poll shortened for the test; production's is 2 s ×1.5 up to 15 s (the same rule).
    let poll = json!({"initialMs": 250, "factor": 1.5, "maxMs": 1000});
    fleet.cloud.start_desktop(DesktopOptions { poll: Some(poll), ..DesktopOptions::default() }).await.unwrap();
    let cloud = &fleet.cloud;
    let site = cloud.desktop.as_ref().unwrap();
    let agent = |email: &str, index: usize| {
        let user = &cloud.fixture.connect.users[index];
        json!({"email": email, "password": "Local-Passw0rd!", "connectUserId": user.id,
               "agentArn": format!("{}/agent/{}", cloud.fixture.instance_arn(), user.id)})
    };
    let mut environment = json!({
        "site": site.origin(),
        "ccp": {"origin": site.ccp.origin(), "ccpUrl": site.ccp.ccp_url()},
        "cognitoDomain": cloud.emulator.endpoint(),
        "gateway": cloud.gateway.as_ref().unwrap().endpoint(),
        "emulator": cloud.emulator.endpoint(),
        "coreSignature": CORE_SIGNATURE,
        "agents": {"alice": agent("alice+video@example.com", 0), "bob": agent("bob@example.com", 1)},
    });
    let fleet = Arc::new(fleet);
    environment["control"] = json!(format!("http://{}", serve_control(fleet.clone()).await));

    let started = std::time::Instant::now();
    let status = tokio::process::Command::new("node")
        .args(["--test", "--test-concurrency=1", "test/e2e"])
        .current_dir(repo_root().join("desktop"))
        .env("SWITCHBOARD_DESKTOP", environment.to_string())
        .kill_on_drop(true)
        .status()
        .await
        .expect("node runs (Debian's nodejs; `make desktop-setup` installs the rest)");
    println!("node --test test/e2e: {status} after {:.1} s", started.elapsed().as_secs_f64());
    assert!(status.success(), "the browser tests failed: their report is above");

    // Nothing secret reached a log line on the way: no attribute value, no token.
    for line in fleet.logs() {
        for secret in ["Jan de Vries", "jan@example.nl", "eyJ"] {
            assert!(!line.contains(secret), "{secret:?} in a log line: {line}");
        }
    }
}
