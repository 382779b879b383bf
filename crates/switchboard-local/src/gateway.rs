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

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc};

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
}

/// A running gateway; it stops with the runtime that started it.
pub struct GatewayHandle {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl GatewayHandle {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
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
    let state = Arc::new(Gateway {
        routes,
        authorizer,
        lambda,
        jwks: OnceCell::new(),
        http: reqwest::Client::new(),
        account_id,
        cors,
    });
    let addr = listener.local_addr()?;
    let app = Router::new().fallback(handle).with_state(state);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(GatewayHandle { addr, task })
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
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(origin) = &origin {
        if method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
            return gateway.cors.preflight(origin);
        }
    }
    let mut response = route_request(&gateway, &method, &uri, &headers, &body).await;
    gateway.cors.apply(origin.as_deref(), &mut response);
    response
}

/// Routing, authorisation and the function's answer.
async fn route_request(gateway: &Gateway, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
    let found = gateway
        .routes
        .iter()
        .filter(|r| r.method == method.as_str())
        .find_map(|r| route_parameters(r.path, uri.path()).map(|parameters| (r, parameters)));
    let Some((route, _)) = found else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let claims = match route.access {
        Access::Public | Access::AgentPublic => None,
        Access::Iam => {
            let signed = headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.starts_with("AWS4-HMAC-SHA256 ") && v.contains("Credential=") && v.contains("Signature=")
            });
            if !signed {
                return message(StatusCode::FORBIDDEN, "Forbidden");
            }
            None
        }
        Access::Agent => match gateway.verify(headers).await {
            Ok(claims) => Some(claims),
            Err(reason) => {
                tracing::info!(%reason, path = uri.path(), "request refused by the JWT authorizer");
                let mut response = message(StatusCode::UNAUTHORIZED, "Unauthorized");
                response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer"));
                return response;
            }
        },
    };
    let event = http_api_event(route, method, uri, headers, body, claims.as_ref(), &gateway.account_id);
    match gateway.lambda.invoke(route.function, &event).await {
        Ok(answer) => lambda_response(&answer),
        Err(error) => {
            tracing::error!(function = route.function, %error, "integration failed");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

impl Gateway {
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
    use super::{route_parameters, Cors};

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
