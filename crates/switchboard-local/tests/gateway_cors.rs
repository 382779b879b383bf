//! The local HTTP API answers CORS as API Gateway does for an HTTP API with a CORS configuration:
//! preflights answered by the gateway itself (no authorizer, no function), the allowed origin on
//! every other answer, and the function's own CORS headers ignored.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use axum::{extract::State, routing::post, Json, Router};
use reqwest::{header, Method, Response};
use serde_json::{json, Value};
use switchboard_local::{
    cloud::{self, HTTP_ROUTES},
    gateway::{self, GatewayHandle, JwtAuthorizer},
    lambda_host::InvokeClient,
};

const APP: &str = "http://localhost:3000";
const STRANGER: &str = "https://evil.example";

/// A gateway with the template's routes and CORS configuration (the default local origins), in
/// front of a stand-in for the functions that counts its invocations and sets CORS headers of its
/// own (which the gateway must not pass on).
struct Api {
    gateway: GatewayHandle,
    invocations: Arc<AtomicUsize>,
    http: reqwest::Client,
}

impl Api {
    async fn start() -> Self {
        let invocations = Arc::new(AtomicUsize::new(0));
        let functions = Router::new()
            .route("/2015-03-31/functions/{function}/invocations", post(answer))
            .with_state(invocations.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let lambda = InvokeClient::new(format!("http://{}", listener.local_addr().unwrap()));
        tokio::spawn(async move { axum::serve(listener, functions).await });
        // Nothing serves the JWKS: a request without a token is refused before it is needed.
        let authorizer = JwtAuthorizer {
            issuer: "https://cognito-idp.ap-southeast-2.amazonaws.com/pool".into(),
            audiences: vec!["client".into()],
            jwks_url: "http://127.0.0.1:9/jwks.json".into(),
        };
        let gateway = gateway::serve(
            gateway::bind().await.unwrap(),
            HTTP_ROUTES.to_vec(),
            authorizer,
            lambda,
            "123456789012".into(),
            cloud::http_api_cors(cloud::DEFAULT_CORS_ORIGINS.split(',').map(str::to_owned).collect()),
        )
        .await
        .unwrap();
        Self { gateway, invocations, http: reqwest::Client::new() }
    }

    async fn preflight(&self, path: &str, origin: &str, method: &str) -> Response {
        self.http
            .request(Method::OPTIONS, format!("{}{path}", self.gateway.endpoint()))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "cognitoidtoken,content-type")
            .send()
            .await
            .unwrap()
    }

    fn invocations(&self) -> usize {
        self.invocations.load(Ordering::SeqCst)
    }
}

async fn answer(State(invocations): State<Arc<AtomicUsize>>, Json(_event): Json<Value>) -> Json<Value> {
    invocations.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "statusCode": 200,
        "headers": {
            "content-type": "application/json",
            "access-control-allow-origin": "*",
            "access-control-allow-credentials": "true",
        },
        "body": "{\"success\":\"true\",\"data\":null}",
    }))
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn cors_headers(response: &Response) -> Vec<String> {
    response.headers().keys().map(|k| k.as_str().to_owned()).filter(|k| k.starts_with("access-control-")).collect()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_by_the_gateway_on_every_route() {
    let api = Api::start().await;
    // An agent route (the JWT authorizer), an IAM route, a public one with a path parameter.
    for (path, method) in [("/ccplogin", "POST"), ("/start_communication", "POST"), ("/session_info/c-1", "GET")] {
        let response = api.preflight(path, APP, method).await;
        assert_eq!(response.status(), 204, "{path}: not refused by the authorizer, not routed");
        assert_eq!(header(&response, "access-control-allow-origin"), Some(APP), "{path}");
        assert_eq!(header(&response, "access-control-allow-methods"), Some("GET,POST,PUT,DELETE,OPTIONS"));
        assert_eq!(
            header(&response, "access-control-allow-headers"),
            Some("Content-Type,cognitoIdToken,Authorization,X-Amz-Date,X-Amz-Security-Token,X-Amz-User-Agent")
        );
        assert_eq!(header(&response, "access-control-max-age"), Some("600"));
        assert_eq!(header(&response, "vary"), Some("Origin"));
    }
    assert_eq!(api.invocations(), 0, "no function runs for a preflight");
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_cors_headers() {
    let api = Api::start().await;
    let response = api.preflight("/ccplogin", STRANGER, "POST").await;
    assert_eq!(response.status(), 204);
    assert!(cors_headers(&response).is_empty(), "{:?}", cors_headers(&response));
    assert_eq!(api.invocations(), 0);
}

#[tokio::test]
async fn answers_carry_the_allowed_origin_instead_of_the_functions_cors_headers() {
    let api = Api::start().await;
    // The website's start-chat style: a text/plain POST, sent without a preflight.
    let response = api
        .http
        .post(format!("{}/session_result/code-1", api.gateway.endpoint()))
        .header(header::ORIGIN, APP)
        .header(header::CONTENT_TYPE, "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(api.invocations(), 1);
    assert_eq!(cors_headers(&response), ["access-control-allow-origin"], "the function's are ignored");
    assert_eq!(header(&response, "access-control-allow-origin"), Some(APP));
    assert_eq!(header(&response, "vary"), Some("Origin"));

    // The authorizer's refusal too, so the browser shows the app the 401 rather than a CORS error.
    let response =
        api.http.post(format!("{}/ccplogin", api.gateway.endpoint())).header(header::ORIGIN, APP).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(APP));
    assert_eq!(api.invocations(), 1);
}

#[tokio::test]
async fn answers_to_another_origin_or_to_no_origin_carry_no_cors_headers() {
    let api = Api::start().await;
    let url = format!("{}/session_result/code-1", api.gateway.endpoint());
    let response = api.http.post(&url).header(header::ORIGIN, STRANGER).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(cors_headers(&response).is_empty(), "{:?}", cors_headers(&response));
    let response = api.http.post(&url).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(cors_headers(&response).is_empty(), "{:?}", cors_headers(&response));
    assert_eq!(api.invocations(), 2);
}
