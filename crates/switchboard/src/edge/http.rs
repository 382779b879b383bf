//! The HTTP edge (API Gateway HTTP API, payload 2.0): one envelope, one error shape, one claims reader.
//!
//! Success: `200 {"success": "<message>", "data": <value>}`. Failure: `{"message", "code",
//! "requestId"}` with a 4xx/5xx status. Agent routes sit behind the HTTP API's JWT authorizer; handlers
//! read the claims it verified from the request context and never parse tokens themselves.

use std::{collections::HashMap, future::Future};

use lambda_http::{
    http::{header::CONTENT_TYPE, StatusCode},
    request::RequestContext,
    Body, Request, RequestExt, Response,
};
use serde::{de::DeserializeOwned, Serialize};

/// The error kind of a dependency failure in the logs (as `errorType` names it for Connect functions).
pub const DEPENDENCY_ERROR_KIND: &str = "DependencyError";

/// An answer that is not a success: status, UPPER_SNAKE code and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// Missing or malformed input: a 400 that names the field.
    pub fn bad_field(field: &str, problem: &str) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: "INVALID_INPUT", message: format!("{field}: {problem}") }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self { status: StatusCode::FORBIDDEN, code: "FORBIDDEN", message: message.into() }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, code: "NOT_FOUND", message: message.into() }
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self { status: StatusCode::CONFLICT, code: "CONFLICT", message: message.into() }
    }
    /// The thing existed and is over (an ended meeting): clients stop retrying on a 410.
    pub fn gone(message: impl Into<String>) -> Self {
        Self { status: StatusCode::GONE, code: "GONE", message: message.into() }
    }
    /// A dependency failed. The detail goes to the log (with the kind a Connect function's Lambda
    /// error would carry, `DependencyError`, to search both by one word), not to the caller.
    pub fn dependency(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, kind = DEPENDENCY_ERROR_KIND, "dependency failed");
        Self {
            status: StatusCode::BAD_GATEWAY,
            code: "DEPENDENCY_FAILED",
            message: "A service this request depends on failed; try again.".into(),
        }
    }
}

/// The verified JWT claims the authorizer put in the request context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims(HashMap<String, String>);

impl Claims {
    pub fn from_request(request: &Request) -> Self {
        match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => Self(
                context
                    .authorizer
                    .as_ref()
                    .and_then(|a| a.jwt.as_ref())
                    .map(|jwt| jwt.claims.clone())
                    .unwrap_or_default(),
            ),
            _ => Self::default(),
        }
    }

    /// Claims from name/value pairs (tests and local tooling).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A claim the route cannot work without; its absence means the authorizer was bypassed or the
    /// token lacks it, which is the caller's problem (403), not ours.
    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::forbidden(format!("the token has no {name} claim")))
    }
}

/// A success: the message and the `data` payload of the envelope, or (for routes whose wire
/// contract predates the envelope) a raw JSON body or an empty one.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub message: String,
    pub data: serde_json::Value,
    pub shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"success": message, "data": data}`.
    Envelope,
    /// `data` itself.
    Raw,
    /// No body.
    Empty,
}

impl Reply {
    pub fn new<T: Serialize>(message: &str, data: &T) -> Result<Self, ApiError> {
        let data = serde_json::to_value(data).map_err(ApiError::dependency)?;
        Ok(Self { message: message.to_owned(), data, shape: Shape::Envelope })
    }

    /// A body in a contract of its own (no envelope).
    pub fn raw<T: Serialize>(data: &T) -> Result<Self, ApiError> {
        let data = serde_json::to_value(data).map_err(ApiError::dependency)?;
        Ok(Self { message: String::new(), data, shape: Shape::Raw })
    }

    /// `200` with an empty body.
    pub fn empty() -> Self {
        Self { message: String::new(), data: serde_json::Value::Null, shape: Shape::Empty }
    }
}

/// A path parameter of the route (`/session_result/{result_code}` → `result_code`).
pub fn path_parameter(request: &Request, name: &str) -> Result<String, ApiError> {
    request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_field(name, "missing from the path"))
}

/// A query-string parameter (`?externalMeetingId=…`), decoded; missing or blank is a 400 naming it.
pub fn query_parameter(request: &Request, name: &str) -> Result<String, ApiError> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .filter(|v| !v.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_field(name, "missing from the query string"))
}

/// The body as text, refused when it is empty or longer than `limit` bytes.
pub fn text_body(request: &Request, limit: usize) -> Result<String, ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.is_empty() {
        return Err(ApiError::bad_field("body", "a body is required"));
    }
    if bytes.len() > limit {
        return Err(ApiError::bad_field("body", &format!("longer than {limit} bytes")));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::bad_field("body", "not UTF-8 text"))
}

/// Runs an HTTP function: each request goes to `handler`; its `Reply` becomes the success envelope,
/// its `ApiError` the error envelope with the request id. Nothing a handler returns is a Lambda error,
/// so API Gateway never answers a bare 500 for a handled failure.
pub async fn serve<H, Fut>(handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = Result<Reply, ApiError>> + Send,
{
    crate::platform::startup::mark(crate::platform::startup::phase::FUNCTION);
    let handler = &handler;
    lambda_http::run(lambda_http::service_fn(move |request: Request| async move {
        crate::platform::startup::invocation_started();
        let request_id = request.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
        let response = match handler(request).await {
            Ok(reply) => {
                tracing::info!(status = 200, "request answered");
                match reply.shape {
                    Shape::Envelope => ok(&reply.message, &reply.data),
                    Shape::Raw => respond(StatusCode::OK, &reply.data),
                    Shape::Empty => Response::new(Body::Empty),
                }
            }
            Err(failure) => {
                tracing::info!(status = failure.status.as_u16(), code = failure.code, "request refused");
                error(&failure, &request_id)
            }
        };
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

/// Parses a JSON body into `T`; a missing body or bad JSON is a 400 naming `body`, a missing field or
/// a field of the wrong type a 400 naming that field (its path, e.g. `meetingAttendees[0].name`).
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => return Err(ApiError::bad_field("body", "a JSON body is required")),
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => return Err(ApiError::bad_field("body", "a JSON body is required")),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let problem = e.inner().to_string();
        let field = match (e.inner().classify(), e.path().to_string()) {
            // Not JSON at all: the body is what is wrong, wherever the parser stopped.
            (category, _) if category != serde_json::error::Category::Data => "body".to_owned(),
            // At the root, serde names the field in "missing field `x`".
            (_, path) if path == "." => problem.split('`').nth(1).unwrap_or("body").to_owned(),
            (_, path) => path,
        };
        ApiError::bad_field(&field, &problem)
    })?;
    // Text after the JSON value makes the body malformed, as `serde_json::from_slice` would say.
    deserializer.end().map_err(|e| ApiError::bad_field("body", &e.to_string()))?;
    Ok(value)
}

/// The success envelope.
pub fn ok<T: Serialize>(message: &str, data: &T) -> Response<Body> {
    respond(StatusCode::OK, &serde_json::json!({"success": message, "data": data}))
}

/// The error envelope, with the request id so a support engineer can find the log lines.
pub fn error(error: &ApiError, request_id: &str) -> Response<Body> {
    respond(error.status, &serde_json::json!({"message": error.message, "code": error.code, "requestId": request_id}))
}

fn respond(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, lambda_http::http::HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with(event: serde_json::Value) -> Request {
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    fn http_api_event(claims: serde_json::Value, body: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "version": "2.0", "routeKey": "POST /x", "rawPath": "/x", "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "d", "domainPrefix": "d",
                "http": {"method": "POST", "path": "/x", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
                "requestId": "r-1", "routeKey": "POST /x", "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0,
                "authorizer": {"jwt": {"claims": claims, "scopes": null}}
            },
            "body": body, "isBase64Encoded": false
        })
    }

    #[test]
    fn claims_come_from_the_authorizer_context() {
        let request = request_with(http_api_event(
            serde_json::json!({"sub": "u-1", "email": "a@example.com", "custom:connectUserId": ""}),
            None,
        ));
        let claims = Claims::from_request(&request);
        assert_eq!(claims.get("sub"), Some("u-1"));
        assert_eq!(claims.require("email").unwrap(), "a@example.com");
        assert_eq!(claims.get("custom:connectUserId"), None, "blank claims count as absent");
        assert_eq!(claims.require("custom:connectUserId").unwrap_err().status, StatusCode::FORBIDDEN);
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body1 {
        connect_user_id: String,
    }

    #[test]
    fn bodies_that_are_missing_or_malformed_name_the_field() {
        let missing = request_with(http_api_event(serde_json::json!({}), None));
        assert_eq!(json_body::<Body1>(&missing).unwrap_err().message, "body: a JSON body is required");
        let no_field = request_with(http_api_event(serde_json::json!({}), Some("{}")));
        let error = json_body::<Body1>(&no_field).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(error.message.starts_with("connect_user_id:"), "{}", error.message);
        let wrong_type = request_with(http_api_event(serde_json::json!({}), Some(r#"{"connect_user_id": 42}"#)));
        let error = json_body::<Body1>(&wrong_type).unwrap_err();
        assert!(error.message.starts_with("connect_user_id: invalid type"), "{}", error.message);
        for malformed in ["{not json", r#"{"connect_user_id": "a"} trailing"#, "[]"] {
            let request = request_with(http_api_event(serde_json::json!({}), Some(malformed)));
            let error = json_body::<Body1>(&request).unwrap_err();
            assert!(error.message.starts_with("body:"), "{malformed}: {}", error.message);
        }
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Outer {
        attendees: Vec<Body1>,
    }

    #[test]
    fn a_nested_field_of_the_wrong_type_is_named_by_its_path() {
        let request =
            request_with(http_api_event(serde_json::json!({}), Some(r#"{"attendees": [{"connect_user_id": true}]}"#)));
        let error = json_body::<Outer>(&request).unwrap_err();
        assert!(error.message.starts_with("attendees[0].connect_user_id:"), "{}", error.message);
    }

    #[test]
    fn envelopes() {
        let response = ok("done", &serde_json::json!({"a": 1}));
        assert_eq!(response.status(), StatusCode::OK);
        let Body::Text(text) = response.body() else { panic!("text body") };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(text).unwrap(),
            serde_json::json!({"success": "done", "data": {"a": 1}})
        );
        let response = error(&ApiError::not_found("no such user"), "r-1");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let Body::Text(text) = response.body() else { panic!("text body") };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(text).unwrap(),
            serde_json::json!({"message": "no such user", "code": "NOT_FOUND", "requestId": "r-1"})
        );
    }
}
