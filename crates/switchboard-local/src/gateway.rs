//! The HTTP API in front of the HTTP functions, as API Gateway (HTTP API, payload 2.0) builds it:
//! routes, the JWT authorizer on the Cognito user pool (identity source: the `cognitoIdToken`
//! header), and the request context with the verified claims.
//!
//! Authorisation is not skipped locally: a request to an agent route without a token that verifies
//! against the pool's JWKS (signature, issuer, audience, expiry) is answered `401` before any function
//! runs, as the real authorizer does.
//!
//! CORS is the HTTP API's own, as API Gateway does it when the API has a CORS configuration: a
//! preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by the gateway
//! on any path, before routing and authorisation; every other answer (the function's, or the
//! gateway's own 401/403/404) gets `Access-Control-Allow-Origin` for an allowed origin, and CORS
//! headers the function set are ignored.
//!
//! Every request is access-logged as the template's HTTP APIs log it: one JSON line in
//! [`ACCESS_LOG_FORMAT`], whose `integrationRequestId` is the request id of the function's own log
//! lines.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::lambda_host::InvokeClient;

/// The HTTP APIs' access-log format: `Globals: HttpApi: AccessLogSettings: Format` in template.yaml
/// (a test checks the two agree). Each value is one `$context` variable.
pub const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","apiId":"$context.apiId","routeKey":"$context.routeKey","status":"$context.status","responseLatency":"$context.responseLatency","integrationRequestId":"$context.integration.requestId","integrationLatency":"$context.integration.latency","integrationErrorMessage":"$context.integrationErrorMessage","errorMessage":"$context.error.message"}"#;

/// `format` (a JSON object whose values are `$context.<name>` variables) with each variable replaced by
/// its value in `context`, and `-` where the request has none, as API Gateway writes it.
pub fn access_log_line(format: &str, context: &BTreeMap<&str, String>) -> Result<String, serde_json::Error> {
    let fields: serde_json::Map<String, Value> = serde_json::from_str(format)?;
    let line: serde_json::Map<String, Value> = fields
        .into_iter()
        .map(|(key, variable)| {
            let name = variable.as_str().and_then(|v| v.strip_prefix("$context."));
            let value = name.and_then(|name| context.get(name)).cloned().unwrap_or_else(|| "-".to_owned());
            (key, Value::String(value))
        })
        .collect();
    serde_json::to_string(&line)
}

/// What the access log records of one request besides its status and latency.
#[derive(Debug, Default)]
struct Logged {
    request_id: Option<String>,
    route_key: Option<String>,
    integration_request_id: Option<String>,
    integration_latency: Option<Duration>,
    integration_error: Option<String>,
    /// The gateway's own answer (a 401, 403, 404, or a 500 for a failed integration).
    error_message: Option<&'static str>,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Behind the JWT authorizer.
    Agent,
    /// IAM auth: the request must carry a SigV4 `Authorization` header. Locally its presence and
    /// form are checked, not the signature (moto keeps no secret keys to check it against).
    Iam,
    /// No authorization, on the ID Contact API (the plugins' callback).
    Public,
    /// No authorization (`Auth: NONE`), on the agent API: the website's routes, throttled per route
    /// in the template (not locally).
    AgentPublic,
    /// No authorization, on the webhook's own API (`WebhookApi`): GitHub signs the body and the
    /// function checks the signature.
    Webhook,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
    pub access: Access,
}

/// The HTTP API's CORS configuration: what the template's `CorsConfiguration` sets.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// Exact origins, `*` (any), or `<scheme>://*` (any origin of that scheme).
    pub allow_origins: Vec<String>,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    pub max_age_seconds: u32,
}

impl Cors {
    /// The `Access-Control-Allow-Origin` value for a request from `origin`, when it is allowed.
    pub fn allow_origin(&self, origin: &str) -> Option<String> {
        if self.allow_origins.iter().any(|allowed| allowed == "*") {
            return Some("*".to_owned());
        }
        let allowed = self.allow_origins.iter().any(|allowed| match allowed.strip_suffix('*') {
            Some(scheme) => {
                origin.len() > scheme.len()
                    && origin.get(..scheme.len()).is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
            }
            None => allowed.eq_ignore_ascii_case(origin),
        });
        allowed.then(|| origin.to_owned())
    }

    /// The gateway's own answer to a preflight: no route, no authorizer, no function.
    fn preflight(&self, origin: &str) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(allowed) = self.allow_origin(origin) {
            insert_allow_origin(&mut headers, &allowed);
            for (name, value) in [
                (header::ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods.join(",")),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, self.allow_headers.join(",")),
                (header::ACCESS_CONTROL_MAX_AGE, self.max_age_seconds.to_string()),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
        }
        (StatusCode::NO_CONTENT, headers).into_response()
    }

    /// Replaces whatever CORS headers `response` has with the configuration's for `origin`.
    fn apply(&self, origin: Option<&str>, response: &mut Response) {
        let headers = response.headers_mut();
        let from_function: Vec<HeaderName> =
            headers.keys().filter(|name| name.as_str().starts_with("access-control-")).cloned().collect();
        for name in from_function {
            headers.remove(name);
        }
        if let Some(allowed) = origin.and_then(|origin| self.allow_origin(origin)) {
            insert_allow_origin(headers, &allowed);
        }
    }
}

/// `Access-Control-Allow-Origin`, and `Vary: Origin` when the answer depends on the origin (so a
/// cache does not serve one origin's answer to another).
fn insert_allow_origin(headers: &mut HeaderMap, allowed: &str) {
    let Ok(value) = HeaderValue::from_str(allowed) else {
        return;
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    if allowed != "*" {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The JWT authorizer's configuration: what the template sets on the HTTP API.
#[derive(Debug, Clone)]
pub struct JwtAuthorizer {
    pub issuer: String,
    /// The app clients whose tokens are accepted (the template's `Audience` list).
    pub audiences: Vec<String>,
    pub jwks_url: String,
}

struct Gateway {
    routes: Vec<Route>,
    authorizer: JwtAuthorizer,
    lambda: InvokeClient,
    jwks: OnceCell<JwkSet>,
    http: reqwest::Client,
    account_id: String,
    cors: Cors,
    access_log: Arc<Mutex<Vec<String>>>,
}

/// A running gateway; it stops with the runtime that started it.
pub struct GatewayHandle {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    access_log: Arc<Mutex<Vec<String>>>,
}

impl GatewayHandle {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every access-log line so far, in [`ACCESS_LOG_FORMAT`].
    pub fn access_log(&self) -> Vec<String> {
        self.access_log.lock().map(|lines| lines.clone()).unwrap_or_default()
    }
}

impl Drop for GatewayHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds the gateway's port first, so the functions can be told its URL before it serves.
pub async fn bind() -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind("127.0.0.1:0").await
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    routes: Vec<Route>,
    authorizer: JwtAuthorizer,
    lambda: InvokeClient,
    account_id: String,
    cors: Cors,
) -> std::io::Result<GatewayHandle> {
    let access_log = Arc::new(Mutex::new(Vec::new()));
    let state = Arc::new(Gateway {
        routes,
        authorizer,
        lambda,
        jwks: OnceCell::new(),
        http: reqwest::Client::new(),
        account_id,
        cors,
        access_log: access_log.clone(),
    });
    let addr = listener.local_addr()?;
    // An HTTP API takes payloads up to 10 MB.
    let app =
        Router::new().fallback(handle).layer(axum::extract::DefaultBodyLimit::max(10 * 1024 * 1024)).with_state(state);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(GatewayHandle { addr, task, access_log })
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({"message": text}))).into_response()
}

async fn handle(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let mut logged = Logged::default();
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let response = match &origin {
        Some(origin) if method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) => {
            gateway.cors.preflight(origin)
        }
        _ => {
            let mut response = route_request(&gateway, &method, &uri, &headers, &body, &mut logged).await;
            gateway.cors.apply(origin.as_deref(), &mut response);
            response
        }
    };
    gateway.log_access(logged, response.status(), started.elapsed());
    response
}

/// Routing, authorisation and the function's answer; what the access log needs goes into `logged`.
async fn route_request(
    gateway: &Gateway,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    logged: &mut Logged,
) -> Response {
    let found = gateway
        .routes
        .iter()
        .filter(|r| r.method == method.as_str())
        .find_map(|r| route_parameters(r.path, uri.path()).map(|parameters| (r, parameters)));
    let Some((route, _)) = found else {
        logged.error_message = Some("Not Found");
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    logged.route_key = Some(format!("{} {}", route.method, route.path));
    let claims = match route.access {
        Access::Public | Access::AgentPublic | Access::Webhook => None,
        Access::Iam => {
            let signed = headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.starts_with("AWS4-HMAC-SHA256 ") && v.contains("Credential=") && v.contains("Signature=")
            });
            if !signed {
                logged.error_message = Some("Forbidden");
                return message(StatusCode::FORBIDDEN, "Forbidden");
            }
            None
        }
        Access::Agent => match gateway.verify(headers).await {
            Ok(claims) => Some(claims),
            Err(reason) => {
                tracing::info!(%reason, path = uri.path(), "request refused by the JWT authorizer");
                logged.error_message = Some("Unauthorized");
                let mut response = message(StatusCode::UNAUTHORIZED, "Unauthorized");
                response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer"));
                return response;
            }
        },
    };
    let event = http_api_event(route, method, uri, headers, body, claims.as_ref(), &gateway.account_id);
    logged.request_id = event["requestContext"]["requestId"].as_str().map(str::to_owned);
    let invoked = Instant::now();
    let answer = gateway.lambda.invoke_answer(route.function, &event, INTEGRATION_TIMEOUT).await;
    logged.integration_latency = Some(invoked.elapsed());
    logged.integration_request_id = answer.request_id;
    match answer.result {
        Ok(answer) => lambda_response(&answer),
        Err(error) => {
            tracing::error!(function = route.function, %error, "integration failed");
            logged.integration_error = Some(error);
            logged.error_message = Some("Internal Server Error");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// How long the gateway waits for a function (API Gateway's limit for an HTTP API integration).
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

impl Gateway {
    /// Appends the request's access-log line (and echoes it with `SWITCHBOARD_ECHO_LOGS`, as the
    /// functions' lines are).
    fn log_access(&self, logged: Logged, status: StatusCode, latency: Duration) {
        let millis = |d: Duration| d.as_millis().to_string();
        let mut context = BTreeMap::from([
            ("requestId", logged.request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())),
            ("apiId", "local".to_owned()),
            ("status", status.as_u16().to_string()),
            ("responseLatency", millis(latency)),
        ]);
        let optional = [
            ("routeKey", logged.route_key),
            ("integration.requestId", logged.integration_request_id),
            ("integration.latency", logged.integration_latency.map(millis)),
            ("integrationErrorMessage", logged.integration_error),
            ("error.message", logged.error_message.map(str::to_owned)),
        ];
        context.extend(optional.into_iter().filter_map(|(name, value)| value.map(|v| (name, v))));
        let line = match access_log_line(ACCESS_LOG_FORMAT, &context) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!(%error, "the access-log format is not a JSON object");
                return;
            }
        };
        if std::env::var_os("SWITCHBOARD_ECHO_LOGS").is_some() {
            eprintln!("[access] {line}");
        }
        if let Ok(mut lines) = self.access_log.lock() {
            lines.push(line);
        }
    }

    /// Verifies the `cognitoIdToken` header as the HTTP API JWT authorizer does; the claims on success.
    async fn verify(&self, headers: &HeaderMap) -> Result<BTreeMap<String, String>, String> {
        let token = headers
            .get("cognitoidtoken")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_start_matches("Bearer ").trim())
            .filter(|v| !v.is_empty())
            .ok_or("no cognitoIdToken header")?;
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        let kid = header.kid.ok_or("token without kid")?;
        let jwks = self
            .jwks
            .get_or_try_init(|| async {
                let answer = self.http.get(&self.authorizer.jwks_url).send().await.map_err(|e| e.to_string())?;
                answer.json::<JwkSet>().await.map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| format!("cannot fetch the JWKS: {e}"))?;
        let jwk = jwks.find(&kid).ok_or("unknown signing key")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable signing key: {e}"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.authorizer.issuer]);
        // ID tokens carry the client in `aud`, access tokens in `client_id`; either must match.
        validation.validate_aud = false;
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
            .map_err(|e| format!("invalid token: {e}"))?;
        let client = data.claims.get("aud").or_else(|| data.claims.get("client_id")).and_then(Value::as_str);
        if !client.is_some_and(|client| self.authorizer.audiences.iter().any(|a| a == client)) {
            return Err("token for another client".into());
        }
        Ok(data.claims.iter().map(|(k, v)| (k.clone(), claim_string(v))).collect())
    }
}

/// The path parameters when `path` matches the route pattern (`/session_result/{result_code}`).
pub fn route_parameters(pattern: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let (pattern, path): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    if pattern.len() != path.len() {
        return None;
    }
    let mut parameters = BTreeMap::new();
    for (expected, actual) in pattern.iter().zip(&path) {
        match expected.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !actual.is_empty() => {
                parameters.insert(name.to_owned(), (*actual).to_owned());
            }
            Some(_) => return None,
            None if expected == actual => {}
            None => return None,
        }
    }
    Some(parameters)
}

/// Claims as API Gateway passes them: strings, arrays as `[a b]`.
fn claim_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(claim_string).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

/// The payload 2.0 event for one request.
pub fn http_api_event(
    route: &Route,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    claims: Option<&BTreeMap<String, String>>,
    account_id: &str,
) -> Value {
    let header_map: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned())))
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let route_key = format!("{} {}", route.method, route.path);
    let (body, base64) = match std::str::from_utf8(body) {
        Ok("") => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(base64_of(body)), true),
    };
    let mut context = json!({
        "accountId": account_id,
        "apiId": "local",
        "domainName": "127.0.0.1",
        "domainPrefix": "local",
        "http": {"method": method.as_str(), "path": uri.path(), "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                 "userAgent": headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default()},
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": route_key,
        "stage": "$default",
        "time": now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
        "timeEpoch": now.unix_timestamp() * 1000,
    });
    if let Some(claims) = claims {
        context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    let parameters = route_parameters(route.path, uri.path()).unwrap_or_default();
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": uri.path(),
        "rawQueryString": uri.query().unwrap_or_default(),
        "headers": header_map,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": base64,
        "pathParameters": if parameters.is_empty() { Value::Null } else { json!(parameters) },
    })
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A Lambda proxy answer (`statusCode`, `headers`, `body`, `isBase64Encoded`) as an HTTP response.
fn lambda_response(answer: &Value) -> Response {
    let status = answer
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    if let Some(map) = answer.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            if let (Ok(name), Some(Ok(value))) = (name.parse::<HeaderName>(), value.as_str().map(HeaderValue::from_str))
            {
                headers.insert(name, value);
            }
        }
    }
    let text = answer.get("body").and_then(Value::as_str).unwrap_or_default();
    let body = if answer.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default()
    } else {
        text.as_bytes().to_vec()
    };
    (status, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{access_log_line, route_parameters, Cors, ACCESS_LOG_FORMAT};

    #[test]
    fn an_access_log_line_fills_each_variable_and_dashes_the_missing_ones() {
        let context = BTreeMap::from([
            ("requestId", "r-1".to_owned()),
            ("status", "200".to_owned()),
            ("integration.requestId", "l-1".to_owned()),
        ]);
        let line: serde_json::Value =
            serde_json::from_str(&access_log_line(ACCESS_LOG_FORMAT, &context).unwrap()).unwrap();
        assert_eq!(line["requestId"], "r-1");
        assert_eq!(line["status"], "200");
        assert_eq!(line["integrationRequestId"], "l-1");
        assert_eq!(line["integrationErrorMessage"], "-");
        let format: serde_json::Map<String, serde_json::Value> = serde_json::from_str(ACCESS_LOG_FORMAT).unwrap();
        assert_eq!(line.as_object().unwrap().keys().collect::<Vec<_>>(), format.keys().collect::<Vec<_>>());
        assert!(access_log_line("not json", &context).is_err());
    }

    fn cors(origins: &[&str]) -> Cors {
        Cors { allow_origins: origins.iter().map(|o| (*o).to_owned()).collect(), ..Cors::default() }
    }

    #[test]
    fn origins_are_allowed_exactly_by_scheme_wildcard_or_all() {
        let exact = cors(&["http://localhost:3000"]);
        assert_eq!(exact.allow_origin("http://localhost:3000").as_deref(), Some("http://localhost:3000"));
        assert_eq!(exact.allow_origin("http://localhost:3001"), None);
        assert_eq!(exact.allow_origin("http://localhost:3000.evil.example"), None);
        let https = cors(&["https://*"]);
        assert_eq!(https.allow_origin("https://app.example").as_deref(), Some("https://app.example"));
        assert_eq!(https.allow_origin("http://app.example"), None);
        assert_eq!(https.allow_origin("https://"), None);
        assert_eq!(cors(&["*"]).allow_origin("http://anything").as_deref(), Some("*"));
        assert_eq!(cors(&[]).allow_origin("http://localhost:3000"), None);
    }

    #[test]
    fn route_patterns_match_whole_segments() {
        let found = route_parameters("/session_result/{result_code}", "/session_result/abc").unwrap();
        assert_eq!(found["result_code"], "abc");
        assert!(route_parameters("/session_result/{result_code}", "/session_result/").is_none());
        assert!(route_parameters("/session_result/{result_code}", "/session_result/a/b").is_none());
        assert!(route_parameters("/ccplogin", "/ccplogin").unwrap().is_empty());
        assert!(route_parameters("/ccplogin", "/ccplogin2").is_none());
    }
}
