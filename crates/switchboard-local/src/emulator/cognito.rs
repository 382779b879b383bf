//! Cognito user pools (awsJson 1.1, `POST /` with `X-Amz-Target`), fronting moto, and the user
//! pool domain's managed login ([`managed_login`]), which moto does not have.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{json, Value};

use super::{aws_error, unknown_operation, Emulator};

mod managed_login;

pub(super) use managed_login::{authorize, error_page, login, login_page, token, ManagedLogin};

pub(super) async fn json_protocol(
    State(state): State<Emulator>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    if !target.starts_with("AWSCognitoIdentityProviderService.") {
        return unknown_operation(axum::http::Method::POST, axum::http::Uri::from_static("/")).await;
    }
    if target.ends_with(".UpdateUserAttributes") {
        if let Err(response) = check_write_attributes(&state, &body).await {
            return *response;
        }
    }
    let domain_change = if target.ends_with(".CreateUserPoolDomain") {
        Some(DomainChange::Created)
    } else if target.ends_with(".DeleteUserPoolDomain") {
        Some(DomainChange::Deleted)
    } else {
        None
    };
    let pool_id = domain_change
        .and_then(|_| serde_json::from_slice::<Value>(&body).ok()?.get("UserPoolId")?.as_str().map(str::to_owned));
    let response = forward_to_moto(&state, &headers, body).await;
    // The domain is this origin: managed login serves the pool whose domain moto just created.
    if let (Some(change), Some(pool_id), true) = (domain_change, pool_id, response.status().is_success()) {
        if let Ok(mut managed_login) = state.managed_login.lock() {
            match change {
                DomainChange::Created => managed_login.serve_pool(pool_id),
                DomainChange::Deleted => managed_login.stop_serving(&pool_id),
            }
        }
    }
    response
}

#[derive(Clone, Copy)]
enum DomainChange {
    Created,
    Deleted,
}

/// Cognito refuses `UpdateUserAttributes` for any attribute outside the app client's write attributes.
async fn check_write_attributes(state: &Emulator, body: &[u8]) -> Result<(), Box<Response>> {
    let refuse = |message: &str| Box::new(aws_error(StatusCode::BAD_REQUEST, "NotAuthorizedException", message));
    let request: Value = serde_json::from_slice(body).map_err(|_| refuse("Invalid request body"))?;
    let token = request.get("AccessToken").and_then(Value::as_str).ok_or_else(|| refuse("Missing AccessToken"))?;
    let claims: Value =
        jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| refuse("Invalid Access Token"))?;
    let client_id = claims.get("client_id").and_then(Value::as_str).unwrap_or_default();
    let pool_id = claims.get("iss").and_then(Value::as_str).and_then(|i| i.rsplit('/').next()).unwrap_or_default();
    let Some(moto) = &state.moto else {
        return Ok(());
    };
    let describe = state
        .http
        .post(format!("{moto}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityProviderService.DescribeUserPoolClient")
        .header("authorization", format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{}/cognito-idp/aws4_request, SignedHeaders=host, Signature=0", state.fixture.region))
        .body(json!({"UserPoolId": pool_id, "ClientId": client_id}).to_string())
        .send()
        .await
        .map_err(|e| Box::new(aws_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalErrorException", &e.to_string())))?;
    let client: Value = describe.json().await.unwrap_or_default();
    let Some(allowed) = client.pointer("/UserPoolClient/WriteAttributes").and_then(Value::as_array) else {
        return Ok(()); // no list: every writable attribute is allowed
    };
    let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
    let attributes = request.get("UserAttributes").and_then(Value::as_array).cloned().unwrap_or_default();
    for attribute in attributes {
        let name = attribute.get("Name").and_then(Value::as_str).unwrap_or_default();
        if !allowed.contains(&name) {
            return Err(refuse("A client attempted to write unauthorized attribute"));
        }
    }
    Ok(())
}

async fn forward_to_moto(state: &Emulator, headers: &HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(moto) = &state.moto else {
        return aws_error(StatusCode::NOT_IMPLEMENTED, "UnknownOperationException", "no moto to forward to");
    };
    let mut request = state.http.post(format!("{moto}/")).body(body);
    for name in ["content-type", "x-amz-target", "authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.as_bytes());
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                if name.as_str().starts_with("x-amz") || name == "content-type" {
                    out.insert(name.clone(), value.clone());
                }
            }
            let body = answer.bytes().await.unwrap_or_default();
            (status, out, body).into_response()
        }
        Err(error) => aws_error(StatusCode::BAD_GATEWAY, "InternalErrorException", &error.to_string()),
    }
}
