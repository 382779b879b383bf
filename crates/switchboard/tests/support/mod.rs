//! What the handler tests that build HTTP API requests share.

use std::collections::BTreeMap;

use lambda_http::http::{HeaderMap, HeaderValue, Method, Uri};
use switchboard_local::{cloud::HTTP_ROUTES, gateway::http_api_event};

/// The request API Gateway passes to `function` for `uri` with this body and these verified claims.
pub fn request(function: &str, uri: &str, body: Option<&str>, claims: Option<&[(&str, &str)]>) -> lambda_http::Request {
    let route = HTTP_ROUTES.iter().find(|r| r.function == function).unwrap();
    let claims: Option<BTreeMap<String, String>> =
        claims.map(|c| c.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let event = http_api_event(
        route,
        &route.method.parse::<Method>().unwrap(),
        &uri.parse::<Uri>().unwrap(),
        &headers,
        body.unwrap_or_default().as_bytes(),
        claims.as_ref(),
        "123456789012",
    );
    lambda_http::request::from_str(&event.to_string()).unwrap()
}
