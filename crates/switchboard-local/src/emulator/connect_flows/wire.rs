//! What the flow-deployment operations share on the wire: Connect's errors, answers, query strings,
//! pages and member checks.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use base64::Engine as _;
use serde_json::{json, Value};

use super::store::FlowStore;
use crate::emulator::{aws_error, connect::connect_not_found, error_response, Emulator};

/// `MaxResults` bounds: 1–1000 for flows, queues and prompts, 1–25 for integrations.
pub(super) const MAX_LIST_RESULTS: usize = 1000;
pub(super) const MAX_INTEGRATION_RESULTS: usize = 25;

pub(super) fn invalid_parameter(message: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::BAD_REQUEST, "InvalidParameterException", message))
}

pub(super) fn invalid_request(message: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::BAD_REQUEST, "InvalidRequestException", message))
}

pub(super) fn not_found(what: &str) -> Box<Response> {
    Box::new(connect_not_found(what))
}

pub(super) fn duplicate(message: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::CONFLICT, "DuplicateResourceException", message))
}

pub(super) fn conflict(message: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::CONFLICT, "ResourceConflictException", message))
}

/// `InvalidContactFlowException`: the problems in `problems`, the SDK's `ProblemDetail`s.
pub(super) fn invalid_flow(problems: &[String]) -> Box<Response> {
    let message = format!("The flow is not valid ({} problems): {}", problems.len(), problems.join("; "));
    let problems: Vec<Value> = problems.iter().map(|p| json!({"message": p})).collect();
    Box::new(error_response(
        StatusCode::BAD_REQUEST,
        "InvalidContactFlowException",
        |request_id| json!({"Message": message, "message": message, "problems": problems, "RequestID": request_id}),
    ))
}

/// `InvalidContactFlowModuleException`: as [`invalid_flow`], for a module (its `Problems` capitalised).
pub(super) fn invalid_flow_module(problems: &[String]) -> Box<Response> {
    let message = format!("The flow module is not valid ({} problems): {}", problems.len(), problems.join("; "));
    let problems: Vec<Value> = problems.iter().map(|p| json!({"message": p})).collect();
    Box::new(error_response(
        StatusCode::BAD_REQUEST,
        "InvalidContactFlowModuleException",
        |request_id| json!({"Message": message, "Problems": problems, "RequestID": request_id}),
    ))
}

fn internal(what: &str) -> Box<Response> {
    Box::new(aws_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceException", &format!("{what} unavailable")))
}

pub(super) fn store(state: &Emulator) -> Result<std::sync::MutexGuard<'_, FlowStore>, Box<Response>> {
    state.flows.lock().map_err(|_| internal("Flow store"))
}

pub(super) fn check_length(
    member: &str,
    value: &str,
    min: usize,
    max: usize,
    bad: fn(&str) -> Box<Response>,
) -> Result<(), Box<Response>> {
    let length = value.chars().count();
    if (min..=max).contains(&length) {
        Ok(())
    } else {
        Err(bad(&format!("{member} must be {min} to {max} characters long, not {length}")))
    }
}

pub(super) fn respond(result: Result<Value, Box<Response>>) -> Response {
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(response) => *response,
    }
}

/// A write that answers nothing: 200 with an empty body, as the service does.
pub(super) fn respond_empty(result: Result<(), Box<Response>>) -> Response {
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(response) => *response,
    }
}

/// The query string's pairs; a key may repeat (`contactFlowTypes=A&contactFlowTypes=B`).
pub(super) fn query_pairs(
    raw: Option<&str>,
    bad: fn(&str) -> Box<Response>,
) -> Result<Vec<(String, String)>, Box<Response>> {
    serde_urlencoded::from_str(raw.unwrap_or_default()).map_err(|e| bad(&format!("Invalid query string: {e}")))
}

pub(super) fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// One page's bounds from `nextToken` and `maxResults`: its first index and its size.
pub(super) struct PageRequest {
    start: usize,
    size: usize,
    /// The list the token belongs to, so a token of one list is not taken by another.
    list: &'static str,
}

impl PageRequest {
    pub(super) fn parse(
        pairs: &[(String, String)],
        list: &'static str,
        max_results: usize,
        page_size: usize,
        bad: fn(&str) -> Box<Response>,
    ) -> Result<PageRequest, Box<Response>> {
        let requested = match query_value(pairs, "maxResults") {
            Some(value) => {
                let n: usize =
                    value.parse().map_err(|_| bad(&format!("maxResults must be a number, not {value:?}")))?;
                if !(1..=max_results).contains(&n) {
                    return Err(bad(&format!("maxResults must be 1 to {max_results}, not {n}")));
                }
                n
            }
            None => max_results,
        };
        let start = match query_value(pairs, "nextToken") {
            Some(token) => page_start(token, list).ok_or_else(|| bad("Invalid next token"))?,
            None => 0,
        };
        Ok(PageRequest { start, size: requested.min(page_size.max(1)), list })
    }

    /// The page of `items` and the `NextToken` to the next one, if any remain.
    pub(super) fn page<T: Clone>(&self, items: &[T]) -> (Vec<T>, Option<String>) {
        let page: Vec<T> = items.iter().skip(self.start).take(self.size).cloned().collect();
        let next = self.start + page.len();
        let token = (next < items.len()).then(|| next_token(self.list, next));
        (page, token)
    }
}

fn next_token(list: &str, start: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{list}/{start}"))
}

fn page_start(token: &str, list: &str) -> Option<usize> {
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (token_list, start) = decoded.split_once('/')?;
    (token_list == list).then(|| start.parse().ok()).flatten()
}

pub(super) fn with_next_token(mut answer: Value, token: Option<String>) -> Value {
    if let Some(token) = token {
        answer["NextToken"] = json!(token);
    }
    answer
}

pub(super) fn check_one_of(
    member: &str,
    value: &str,
    allowed: &[&str],
    bad: fn(&str) -> Box<Response>,
) -> Result<(), Box<Response>> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(bad(&format!("{member} {value:?} is not one of {}", allowed.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_belong_to_their_list() {
        let token = next_token("queues", 4);
        assert_eq!(page_start(&token, "queues"), Some(4));
        assert_eq!(page_start(&token, "prompts"), None);
        assert_eq!(page_start("garbage!", "queues"), None);
    }
}
