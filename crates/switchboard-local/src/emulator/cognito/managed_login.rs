//! Managed login: the OAuth 2.0 endpoints Cognito serves on a user pool domain
//! (`https://<prefix>.auth.<region>.amazoncognito.com`). Locally the emulator's own origin is that
//! domain, for the user pool whose domain was created through this front (`CreateUserPoolDomain`).
//!
//! - `GET /oauth2/authorize`: checks the request against the app client as moto describes it
//!   (OAuth flows, scopes, callback URLs) and, like Cognito, sends the browser on to `/login`, or
//!   straight back with a code when its `cognito` session cookie names a live sign-in.
//! - `GET`/`POST /login`: the login form; the password is checked, and the tokens made, by moto
//!   (`InitiateAuth` with `USER_PASSWORD_AUTH` on the same client), so the ID token carries exactly
//!   the claims the HTTP API's JWT authorizer verifies (issuer, `aud`, `custom:connectUserId`).
//! - `POST /oauth2/token`: the `authorization_code` grant with the PKCE `code_verifier`, and the
//!   `refresh_token` grant (moto's `REFRESH_TOKEN_AUTH`: the new ID token has the user's current
//!   attributes). Errors are Cognito's: `400 {"error": "invalid_grant"}` and its siblings.
//!
//! One rule is stricter than Cognito's: an authorization request must carry an S256 PKCE challenge.
//! Every client of this front is a browser page with no secret, for which PKCE is what stops a
//! stolen code from being redeemed.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use aws_sdk_cognitoidentityprovider::{
    error::ProvideErrorMetadata, operation::describe_user_pool_client::DescribeUserPoolClientError,
    types::UserPoolClientType,
};
use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::super::{random_token, Emulator};

/// How long an authorization code can be redeemed (Cognito: five minutes).
const CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// How long the login form stays valid, and a sign-in spares the next one the password (Cognito's
/// managed login session: one hour).
const SESSION_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// The session cookie, named as Cognito names its own.
const SESSION_COOKIE: &str = "cognito";
/// The login form's CSRF cookie (double submit: the form carries the same value), as Cognito's.
const XSRF_COOKIE: &str = "XSRF-TOKEN";

/// Managed login's state: the domain's pool, forms shown, codes issued, browsers signed in.
#[derive(Default)]
pub(in crate::emulator) struct ManagedLogin {
    pool_id: Option<String>,
    logins: HashMap<String, PendingLogin>,
    codes: HashMap<String, Grant>,
    sessions: HashMap<String, SignedIn>,
}

impl ManagedLogin {
    /// `CreateUserPoolDomain` succeeded: this origin now signs users in to `pool_id`.
    pub(in crate::emulator) fn serve_pool(&mut self, pool_id: String) {
        self.pool_id = Some(pool_id);
    }

    /// `DeleteUserPoolDomain` of the served pool: nothing is served any more.
    pub(in crate::emulator) fn stop_serving(&mut self, pool_id: &str) {
        if self.pool_id.as_deref() == Some(pool_id) {
            *self = Self::default();
        }
    }

    fn forget_expired(&mut self, now: Instant) {
        self.logins.retain(|_, login| login.expires > now);
        self.codes.retain(|_, grant| grant.expires > now);
        self.sessions.retain(|_, session| session.expires > now);
    }
}

/// What `/oauth2/authorize` was asked, once checked.
#[derive(Debug, Clone)]
struct AuthorizeRequest {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    code_challenge: String,
}

struct PendingLogin {
    request: AuthorizeRequest,
    xsrf: String,
    expires: Instant,
}

/// An issued authorization code: single use, for the client, redirect URI and PKCE challenge it
/// was issued for.
struct Grant {
    request: AuthorizeRequest,
    tokens: Tokens,
    expires: Instant,
}

struct SignedIn {
    client_id: String,
    refresh_token: String,
    expires: Instant,
}

#[derive(Debug, Clone)]
struct Tokens {
    id_token: String,
    access_token: String,
    refresh_token: Option<String>,
    expires_in: i32,
}

#[derive(Debug, Default, Deserialize)]
pub(in crate::emulator) struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(in crate::emulator) struct LoginQuery {
    login: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(in crate::emulator) struct ErrorQuery {
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

/// A failure of `/oauth2/authorize` before the redirect URI is trusted: Cognito shows its own error
/// page (`/error?error=…`) instead of redirecting to an unchecked URI.
enum AuthorizeFailure {
    ErrorPage(&'static str),
    /// The redirect URI is the client's: the error goes there, as OAuth says.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: &'static str,
    },
    Server(String),
}

fn text_page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <link rel=\"icon\" href=\"data:,\">\n</head>\n<body>\n<h1>{title}</h1>\n{body_html}\n</body>\n</html>\n"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // Cognito's pages cannot be framed; this one runs no script and loads nothing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src data:; frame-ancestors 'none'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => text_page(StatusCode::BAD_REQUEST, "An error was encountered", "<p>invalid_request</p>"),
    }
}

/// `redirect_uri` with `pairs` added to its query (it may have a query of its own).
fn with_query(redirect_uri: &str, pairs: &[(&str, &str)]) -> Option<String> {
    let mut url = reqwest::Url::parse(redirect_uri).ok()?;
    url.query_pairs_mut().extend_pairs(pairs);
    Some(url.into())
}

fn error_redirect(redirect_uri: &str, state: Option<&str>, error: &str, description: &str) -> Response {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    match with_query(redirect_uri, &pairs) {
        Some(location) => redirect(&location),
        None => redirect("/error?error=invalid_request"),
    }
}

/// Cognito's error page, for the error codes it shows there (a fixed set: nothing from the request
/// is written into the page).
pub(in crate::emulator) async fn error_page(Query(query): Query<ErrorQuery>) -> Response {
    let code = match query.error.as_deref() {
        Some("redirect_mismatch") => "redirect_mismatch",
        Some("unauthorized_client") => "unauthorized_client",
        Some("invalid_client") => "invalid_client",
        Some("login_expired") => "login_expired",
        _ => "invalid_request",
    };
    text_page(StatusCode::BAD_REQUEST, "An error was encountered with the requested page.", &format!("<p>{code}</p>"))
}

fn no_domain() -> Response {
    text_page(StatusCode::NOT_FOUND, "No user pool domain", "<p>No user pool domain has been created here.</p>")
}

pub(in crate::emulator) async fn authorize(
    State(state): State<Emulator>,
    headers: HeaderMap,
    Query(query): Query<AuthorizeQuery>,
) -> Response {
    let Some(pool_id) = served_pool(&state) else {
        return no_domain();
    };
    let request = match check_authorize(&state, &pool_id, query).await {
        Ok(request) => request,
        Err(AuthorizeFailure::ErrorPage(error)) => return redirect(&format!("/error?error={error}")),
        Err(AuthorizeFailure::Redirect { redirect_uri, state, error, description }) => {
            return error_redirect(&redirect_uri, state.as_deref(), error, description)
        }
        Err(AuthorizeFailure::Server(detail)) => {
            tracing::error!(%detail, "managed login: authorize failed");
            return text_page(StatusCode::INTERNAL_SERVER_ERROR, "An error was encountered", "<p>server_error</p>");
        }
    };

    // A browser that signed in within the hour is not asked again (Cognito's session cookie).
    let session = cookie_value(&headers, SESSION_COOKIE).and_then(|id| {
        let now = Instant::now();
        let mut store = state.managed_login.lock().ok()?;
        store.forget_expired(now);
        store.sessions.get(&id).filter(|s| s.client_id == request.client_id).map(|s| s.refresh_token.clone())
    });
    if let Some(refresh_token) = session {
        match refresh_tokens(&state, &request.client_id, &refresh_token).await {
            Ok(mut tokens) => {
                tokens.refresh_token = Some(refresh_token);
                return issue_code(&state, request, tokens, None);
            }
            // The refresh token was revoked (the user signed out elsewhere): ask for the password.
            Err(TokenFailure::Grant) => {}
            Err(TokenFailure::Server(detail)) => {
                tracing::error!(%detail, "managed login: session refresh failed");
                return error_redirect(
                    &request.redirect_uri,
                    request.state.as_deref(),
                    "server_error",
                    "the sign-in could not be completed",
                );
            }
        }
    }

    let login_id = random_token().unwrap_or_default();
    let xsrf = random_token().unwrap_or_default();
    if login_id.is_empty() || xsrf.is_empty() {
        return text_page(StatusCode::INTERNAL_SERVER_ERROR, "An error was encountered", "<p>server_error</p>");
    }
    if let Ok(mut store) = state.managed_login.lock() {
        let expires = Instant::now() + SESSION_LIFETIME;
        store.logins.insert(login_id.clone(), PendingLogin { request, xsrf: xsrf.clone(), expires });
    }
    let mut response = redirect(&format!("/login?login={login_id}"));
    set_cookie(&mut response, XSRF_COOKIE, &xsrf);
    response
}

fn served_pool(state: &Emulator) -> Option<String> {
    state.managed_login.lock().ok().and_then(|store| store.pool_id.clone())
}

/// Checks an authorization request against the app client, in Cognito's order: the client and
/// redirect URI first (failures on Cognito's error page), then the rest (errors to the redirect URI).
async fn check_authorize(
    state: &Emulator,
    pool_id: &str,
    query: AuthorizeQuery,
) -> Result<AuthorizeRequest, AuthorizeFailure> {
    let client_id = query.client_id.filter(|c| !c.is_empty()).ok_or(AuthorizeFailure::ErrorPage("invalid_request"))?;
    let client = match describe_client(state, pool_id, &client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(AuthorizeFailure::ErrorPage("invalid_client")),
        Err(detail) => return Err(AuthorizeFailure::Server(detail)),
    };
    let redirect_uri = query.redirect_uri.unwrap_or_default();
    if !client.callback_urls().contains(&redirect_uri) {
        return Err(AuthorizeFailure::ErrorPage("redirect_mismatch"));
    }
    let fail = |error: &'static str, description: &'static str| AuthorizeFailure::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: query.state.clone(),
        error,
        description,
    };
    let allows = |flow: &str| client.allowed_o_auth_flows().iter().any(|f| f.as_str() == flow);
    match query.response_type.as_deref() {
        None | Some("") => return Err(fail("invalid_request", "response_type is missing")),
        Some(kind @ ("code" | "token"))
            if client.allowed_o_auth_flows_user_pool_client() != Some(true) || !allows(kind) =>
        {
            return Err(fail("unauthorized_client", "the client is not allowed this response_type"))
        }
        Some("code") => {}
        // The implicit grant is not served here: the desktop client is an authorization-code client.
        Some(_) => return Err(fail("unsupported_response_type", "response_type must be code")),
    }
    let allowed_scopes = client.allowed_o_auth_scopes();
    let scopes: Vec<String> = match query.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(requested) => requested.split_whitespace().map(str::to_owned).collect(),
        None => allowed_scopes.to_vec(),
    };
    if scopes.iter().any(|scope| !allowed_scopes.contains(scope)) {
        return Err(fail("invalid_scope", "a requested scope is not allowed for this client"));
    }
    let challenge = query.code_challenge.filter(|c| !c.is_empty());
    let code_challenge = match (query.code_challenge_method.as_deref(), challenge) {
        (Some("S256"), Some(challenge)) => challenge,
        (Some(_), Some(_)) => return Err(fail("invalid_request", "code_challenge_method must be S256")),
        (_, None) => return Err(fail("invalid_request", "a PKCE code_challenge (S256) is required")),
        (None, Some(_)) => return Err(fail("invalid_request", "code_challenge_method is missing")),
    };
    Ok(AuthorizeRequest { client_id, redirect_uri, state: query.state, scopes, code_challenge })
}

/// The app client as moto has it; `None` when the pool has no such client.
async fn describe_client(
    state: &Emulator,
    pool_id: &str,
    client_id: &str,
) -> Result<Option<UserPoolClientType>, String> {
    let Some(cognito) = &state.cognito else {
        return Err("the emulator runs without moto".into());
    };
    match cognito.describe_user_pool_client().user_pool_id(pool_id).client_id(client_id).send().await {
        Ok(answer) => Ok(answer.user_pool_client),
        Err(error) => match error.into_service_error() {
            DescribeUserPoolClientError::ResourceNotFoundException(_) => Ok(None),
            other => Err(format!("DescribeUserPoolClient: {}", other.code().unwrap_or("unknown error"))),
        },
    }
}

fn login_form(login_id: &str, xsrf: &str, problem: Option<&str>) -> Response {
    let problem = problem.map(|p| format!("<p id=\"loginErrorMessage\" role=\"alert\">{p}</p>\n")).unwrap_or_default();
    // The field names and ids are those of Cognito's classic hosted UI.
    let body = format!(
        "<p>Switchboard local cloud: managed login for the agents' user pool.</p>\n{problem}\
         <form method=\"post\" action=\"/login?login={login_id}\">\n\
         <input type=\"hidden\" name=\"_csrf\" value=\"{xsrf}\">\n\
         <p><label>Email <input id=\"signInFormUsername\" name=\"username\" type=\"text\" autocomplete=\"username\" required></label></p>\n\
         <p><label>Password <input id=\"signInFormPassword\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\n\
         <p><button type=\"submit\" name=\"signInSubmitButton\">Sign in</button></p>\n</form>"
    );
    text_page(StatusCode::OK, "Sign in", &body)
}

pub(in crate::emulator) async fn login_page(
    State(state): State<Emulator>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let login_id = query.login.unwrap_or_default();
    let xsrf = state.managed_login.lock().ok().and_then(|mut store| {
        store.forget_expired(Instant::now());
        store.logins.get(&login_id).map(|login| login.xsrf.clone())
    });
    match xsrf {
        // Both values are our own random tokens (base64url), safe to write into the page.
        Some(xsrf) => login_form(&login_id, &xsrf, None),
        None => redirect("/error?error=login_expired"),
    }
}

pub(in crate::emulator) async fn login(
    State(state): State<Emulator>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
    body: axum::body::Bytes,
) -> Response {
    let login_id = query.login.unwrap_or_default();
    let form: LoginForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let pending = state.managed_login.lock().ok().and_then(|mut store| {
        store.forget_expired(Instant::now());
        store.logins.get(&login_id).map(|login| (login.request.clone(), login.xsrf.clone()))
    });
    let Some((request, xsrf)) = pending else {
        return redirect("/error?error=login_expired");
    };
    // Double submit: a form posted from another site has neither the cookie nor its value.
    let cookie = cookie_value(&headers, XSRF_COOKIE);
    if form.csrf != xsrf || cookie.as_deref() != Some(xsrf.as_str()) {
        return text_page(StatusCode::FORBIDDEN, "An error was encountered", "<p>invalid_request</p>");
    }
    if form.username.is_empty() || form.password.is_empty() {
        return login_form(&login_id, &xsrf, Some("Please enter your username and password."));
    }
    let tokens = match password_tokens(&state, &request.client_id, &form.username, &form.password).await {
        Ok(tokens) => tokens,
        Err(TokenFailure::Grant) => return login_form(&login_id, &xsrf, Some("Incorrect username or password.")),
        Err(TokenFailure::Server(detail)) => {
            tracing::error!(%detail, "managed login: sign-in failed");
            return error_redirect(
                &request.redirect_uri,
                request.state.as_deref(),
                "server_error",
                "the sign-in could not be completed",
            );
        }
    };
    let session_id = random_token().unwrap_or_default();
    if let Ok(mut store) = state.managed_login.lock() {
        store.logins.remove(&login_id);
        if let (false, Some(refresh_token)) = (session_id.is_empty(), tokens.refresh_token.clone()) {
            let expires = Instant::now() + SESSION_LIFETIME;
            store
                .sessions
                .insert(session_id.clone(), SignedIn { client_id: request.client_id.clone(), refresh_token, expires });
        }
    }
    issue_code(&state, request, tokens, (!session_id.is_empty()).then_some(session_id))
}

/// Stores a code for `tokens` and sends the browser back to the client with it.
fn issue_code(state: &Emulator, request: AuthorizeRequest, tokens: Tokens, session: Option<String>) -> Response {
    let Ok(code) = random_token() else {
        return error_redirect(&request.redirect_uri, request.state.as_deref(), "server_error", "no code");
    };
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = request.state.as_deref() {
        pairs.push(("state", state));
    }
    let Some(location) = with_query(&request.redirect_uri, &pairs) else {
        return redirect("/error?error=redirect_mismatch");
    };
    if let Ok(mut store) = state.managed_login.lock() {
        store.codes.insert(code.clone(), Grant { request, tokens, expires: Instant::now() + CODE_LIFETIME });
    }
    let mut response = redirect(&location);
    if let Some(session) = session {
        set_cookie(&mut response, SESSION_COOKIE, &session);
    }
    response
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

fn set_cookie(response: &mut Response, name: &str, value: &str) {
    let cookie = Cookie::build((name.to_owned(), value.to_owned())).path("/").http_only(true).same_site(SameSite::Lax);
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Why moto gave no tokens: the credentials or refresh token were refused, or something broke.
enum TokenFailure {
    Grant,
    Server(String),
}

fn token_failure<E: ProvideErrorMetadata>(operation: &str, error: &E) -> TokenFailure {
    match error.code() {
        Some("NotAuthorizedException" | "UserNotFoundException" | "UserNotConfirmedException") => TokenFailure::Grant,
        code => TokenFailure::Server(format!("{operation}: {}", code.unwrap_or("unknown error"))),
    }
}

async fn password_tokens(
    state: &Emulator,
    client_id: &str,
    username: &str,
    password: &str,
) -> Result<Tokens, TokenFailure> {
    let cognito = state.cognito.as_ref().ok_or_else(|| TokenFailure::Server("no moto".into()))?;
    let answer = cognito
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .map_err(|e| token_failure("InitiateAuth", &e))?;
    tokens_of(answer.authentication_result())
}

async fn refresh_tokens(state: &Emulator, client_id: &str, refresh_token: &str) -> Result<Tokens, TokenFailure> {
    let cognito = state.cognito.as_ref().ok_or_else(|| TokenFailure::Server("no moto".into()))?;
    let answer = cognito
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", refresh_token)
        .send()
        .await
        .map_err(|e| token_failure("InitiateAuth", &e))?;
    tokens_of(answer.authentication_result())
}

fn tokens_of(
    result: Option<&aws_sdk_cognitoidentityprovider::types::AuthenticationResultType>,
) -> Result<Tokens, TokenFailure> {
    // A challenge (a new password, MFA) instead of tokens: the local pool's agents have none.
    let result = result.ok_or_else(|| TokenFailure::Server("InitiateAuth answered a challenge".into()))?;
    match (result.id_token(), result.access_token()) {
        (Some(id), Some(access)) => Ok(Tokens {
            id_token: id.to_owned(),
            access_token: access.to_owned(),
            refresh_token: result.refresh_token().map(str::to_owned),
            expires_in: result.expires_in(),
        }),
        _ => Err(TokenFailure::Server("InitiateAuth gave no tokens".into())),
    }
}

/// A token endpoint error, as Cognito answers it.
fn oauth_error(error: &str, origin: Option<&HeaderValue>) -> Response {
    token_response(StatusCode::BAD_REQUEST, json!({ "error": error }), origin)
}

fn token_response(status: StatusCode, body: serde_json::Value, origin: Option<&HeaderValue>) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=UTF-8"));
    // RFC 6749 §5.1: token responses are never cached.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    // Browser clients call the endpoint from their own origin; Cognito answers them with CORS.
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

pub(in crate::emulator) async fn token(
    State(state): State<Emulator>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let origin = headers.get(header::ORIGIN).cloned();
    let origin = origin.as_ref();
    let Some(pool_id) = served_pool(&state) else {
        return no_domain();
    };
    let form_encoded = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    if !form_encoded {
        return oauth_error("invalid_request", origin);
    }
    let Ok(form) = serde_urlencoded::from_bytes::<TokenForm>(&body) else {
        return oauth_error("invalid_request", origin);
    };
    let Some(grant_type) = form.grant_type.clone().filter(|g| !g.is_empty()) else {
        return oauth_error("invalid_request", origin);
    };
    let client = match authenticate_client(&state, &pool_id, &headers, &form).await {
        Ok(client) => client,
        Err(response) => return oauth_error(response, origin),
    };
    let client_id = client.client_id().unwrap_or_default().to_owned();
    let allows_code = client.allowed_o_auth_flows_user_pool_client() == Some(true)
        && client.allowed_o_auth_flows().iter().any(|f| f.as_str() == "code");
    match grant_type.as_str() {
        "authorization_code" if !allows_code => oauth_error("unauthorized_client", origin),
        "authorization_code" => redeem_code(&state, &client_id, form, origin),
        "refresh_token" => {
            let Some(refresh_token) = form.refresh_token.filter(|t| !t.is_empty()) else {
                return oauth_error("invalid_request", origin);
            };
            match refresh_tokens(&state, &client_id, &refresh_token).await {
                // Without rotation Cognito sends no new refresh token: the old one stays valid.
                Ok(tokens) => token_response(
                    StatusCode::OK,
                    json!({"id_token": tokens.id_token, "access_token": tokens.access_token,
                           "expires_in": tokens.expires_in, "token_type": "Bearer"}),
                    origin,
                ),
                Err(TokenFailure::Grant) => oauth_error("invalid_grant", origin),
                Err(TokenFailure::Server(detail)) => {
                    tracing::error!(%detail, "managed login: refresh failed");
                    token_response(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "server_error"}), origin)
                }
            }
        }
        "client_credentials" => oauth_error("unauthorized_client", origin),
        _ => oauth_error("unsupported_grant_type", origin),
    }
}

/// The client the request names: by `client_id`, and with its secret when it has one (HTTP Basic,
/// or `client_secret` in the form). The error is Cognito's `invalid_client`.
async fn authenticate_client(
    state: &Emulator,
    pool_id: &str,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<UserPoolClientType, &'static str> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|pair| pair.split_once(':').map(|(id, secret)| (id.to_owned(), secret.to_owned())));
    let (client_id, secret) = match (&basic, &form.client_id) {
        (Some((id, secret)), _) => (id.clone(), Some(secret.clone())),
        (None, Some(id)) if !id.is_empty() => (id.clone(), form.client_secret.clone()),
        _ => return Err("invalid_client"),
    };
    let client = match describe_client(state, pool_id, &client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err("invalid_client"),
        Err(detail) => {
            tracing::error!(%detail, "managed login: client lookup failed");
            return Err("invalid_client");
        }
    };
    match client.client_secret() {
        Some(expected) if secret.as_deref() != Some(expected) => Err("invalid_client"),
        _ => Ok(client),
    }
}

fn redeem_code(state: &Emulator, client_id: &str, form: TokenForm, origin: Option<&HeaderValue>) -> Response {
    let (Some(code), Some(redirect_uri)) = (form.code.filter(|c| !c.is_empty()), form.redirect_uri) else {
        return oauth_error("invalid_request", origin);
    };
    // A code is spent by any attempt to redeem it, right or wrong (so a guessed verifier gets one try).
    let grant = state.managed_login.lock().ok().and_then(|mut store| {
        store.forget_expired(Instant::now());
        store.codes.remove(&code)
    });
    let Some(grant) = grant else {
        return oauth_error("invalid_grant", origin);
    };
    if grant.request.client_id != client_id || grant.request.redirect_uri != redirect_uri {
        return oauth_error("invalid_grant", origin);
    }
    let Some(verifier) = form.code_verifier.filter(|v| !v.is_empty()) else {
        return oauth_error("invalid_request", origin);
    };
    if pkce_s256(&verifier) != grant.request.code_challenge {
        return oauth_error("invalid_grant", origin);
    }
    let tokens = grant.tokens;
    let mut body = json!({
        "access_token": tokens.access_token,
        "expires_in": tokens.expires_in,
        "token_type": "Bearer",
    });
    // The ID token is for OpenID Connect requests only.
    if grant.request.scopes.iter().any(|s| s == "openid") {
        body["id_token"] = json!(tokens.id_token);
    }
    if let Some(refresh_token) = tokens.refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    token_response(StatusCode::OK, body, origin)
}

/// RFC 7636's S256 challenge of a verifier: BASE64URL(SHA-256(verifier)), unpadded.
pub(in crate::emulator) fn pkce_s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::{pkce_s256, with_query};

    #[test]
    fn the_s256_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn the_answer_is_added_to_the_redirect_uris_own_query() {
        assert_eq!(
            with_query("http://127.0.0.1:9/agent.html", &[("code", "c"), ("state", "a b&c")]).as_deref(),
            Some("http://127.0.0.1:9/agent.html?code=c&state=a+b%26c")
        );
        assert_eq!(
            with_query("https://app.example/cb?x=1", &[("error", "invalid_scope")]).as_deref(),
            Some("https://app.example/cb?x=1&error=invalid_scope")
        );
        assert_eq!(with_query("not a url", &[("code", "c")]), None);
    }
}
