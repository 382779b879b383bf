//! The CloudFormation custom-resource edge: the request in, the answer PUT to its `ResponseURL`.
//!
//! CloudFormation invokes a custom resource's function asynchronously and then waits (up to an hour)
//! for a PUT of `SUCCESS` or `FAILED` to the presigned `ResponseURL`; the function's own return value
//! is ignored. So every outcome a handler can reach becomes an answer: its result, its fault, a
//! property that does not parse (the reason names it), and running out of time (the handler is
//! stopped with enough of the invocation left to answer). Only an event that carries no `ResponseURL`
//! or an answer that cannot be delivered is a Lambda error; Lambda then retries the event, which
//! handlers make safe by being idempotent (DESIGN.md, event functions). The delivered answer is
//! also the invocation's result, for direct invokes.
//!
//! A `Delete` whose properties do not parse answers `SUCCESS`: a resource whose `Create` failed on
//! those same properties made nothing, and a `FAILED` delete would leave the stack stuck in
//! `DELETE_FAILED`.

use std::{collections::BTreeMap, future::Future, time::Duration};

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest as Envelope, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus as Status,
};
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One request, with its properties parsed into `P`.
#[derive(Debug, Clone, PartialEq)]
pub enum Request<P> {
    Create { properties: P },
    Update { physical_resource_id: String, properties: P, old_properties: Value },
    Delete { physical_resource_id: String, properties: P },
}

impl<P> Request<P> {
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Create { .. } => "Create",
            Request::Update { .. } => "Update",
            Request::Delete { .. } => "Delete",
        }
    }

    pub fn properties(&self) -> &P {
        match self {
            Request::Create { properties }
            | Request::Update { properties, .. }
            | Request::Delete { properties, .. } => properties,
        }
    }
}

/// What a handler answers on success: the resource's physical id (a new one on `Update` makes
/// CloudFormation delete the old resource) and the values `!GetAtt` reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub physical_resource_id: String,
    pub data: BTreeMap<String, String>,
}

/// A fault a custom-resource handler reports as `FAILED`. `kind` names it in the log line.
pub trait ResourceFault: std::error::Error {
    fn kind(&self) -> &'static str;
}

/// The identifying fields of a request, which every answer echoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelopes {
    pub request_id: String,
    pub stack_id: String,
    pub logical_resource_id: String,
    pub response_url: String,
    /// The physical id CloudFormation sent (`Update`, `Delete`); none on `Create`.
    pub physical_resource_id: Option<String>,
}

/// A request split into what the answer echoes and the request itself, with the raw properties.
pub fn split(event: Value) -> Result<(Envelopes, Request<Value>), serde_json::Error> {
    let envelope: Envelope<Value, Value> = serde_json::from_value(event)?;
    Ok(match envelope {
        Envelope::Create(c) => (
            Envelopes {
                request_id: c.request_id,
                stack_id: c.stack_id,
                logical_resource_id: c.logical_resource_id,
                response_url: c.response_url,
                physical_resource_id: None,
            },
            Request::Create { properties: c.resource_properties },
        ),
        Envelope::Update(u) => (
            Envelopes {
                request_id: u.request_id,
                stack_id: u.stack_id,
                logical_resource_id: u.logical_resource_id,
                response_url: u.response_url,
                physical_resource_id: Some(u.physical_resource_id.clone()),
            },
            Request::Update {
                physical_resource_id: u.physical_resource_id,
                properties: u.resource_properties,
                old_properties: u.old_resource_properties,
            },
        ),
        Envelope::Delete(d) => (
            Envelopes {
                request_id: d.request_id,
                stack_id: d.stack_id,
                logical_resource_id: d.logical_resource_id,
                response_url: d.response_url,
                physical_resource_id: Some(d.physical_resource_id.clone()),
            },
            Request::Delete { physical_resource_id: d.physical_resource_id, properties: d.resource_properties },
        ),
        // The enum is non-exhaustive: a request type CloudFormation adds later is not ours to guess.
        #[allow(unreachable_patterns)]
        _ => return Err(serde::de::Error::custom("unknown RequestType")),
    })
}

/// The request's properties as `P`; the error names the property (`ResourceProperties.Bucket: …`).
/// CloudFormation sends every scalar property as a string, so `P` reads strings.
pub fn typed<P: DeserializeOwned>(request: Request<Value>) -> Result<Request<P>, String> {
    fn parse<P: DeserializeOwned>(value: Value) -> Result<P, String> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { format!(".{path}") };
            format!("ResourceProperties{path}: {}", e.into_inner())
        })
    }
    Ok(match request {
        Request::Create { properties } => Request::Create { properties: parse(properties)? },
        Request::Update { physical_resource_id, properties, old_properties } => {
            Request::Update { physical_resource_id, properties: parse(properties)?, old_properties }
        }
        Request::Delete { physical_resource_id, properties } => {
            Request::Delete { physical_resource_id, properties: parse(properties)? }
        }
    })
}

/// CloudFormation's limit on a whole answer is 4 KiB: a long reason is cut, on a character boundary.
const REASON_LIMIT: usize = 1_000;

/// The answer CloudFormation reads. A failure without a physical id (a failed `Create`) answers the
/// logical id, which no `Delete` handler mistakes for a resource it made.
pub fn answer(envelopes: &Envelopes, result: &Result<Outcome, String>) -> CloudFormationCustomResourceResponse {
    let mut response = CloudFormationCustomResourceResponse::default();
    response.stack_id = envelopes.stack_id.clone();
    response.request_id = envelopes.request_id.clone();
    response.logical_resource_id = envelopes.logical_resource_id.clone();
    match result {
        Ok(outcome) => {
            response.status = Status::Success;
            response.physical_resource_id = outcome.physical_resource_id.clone();
            response.data = outcome.data.clone().into_iter().collect();
        }
        Err(reason) => {
            response.status = Status::Failed;
            let mut reason = reason.clone();
            if reason.len() > REASON_LIMIT {
                let cut = (0..=REASON_LIMIT).rev().find(|i| reason.is_char_boundary(*i)).unwrap_or(0);
                reason.truncate(cut);
            }
            response.reason = Some(reason);
            response.physical_resource_id =
                envelopes.physical_resource_id.clone().unwrap_or_else(|| envelopes.logical_resource_id.clone());
        }
    }
    response
}

/// Left of the invocation for the answer's PUT (and its retries) after the handler is stopped.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(10);
/// Attempts to deliver an answer: the presigned URL is S3, which can answer 5xx or drop a connection.
const ANSWER_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the response URL refused the answer: HTTP {0}")]
    Refused(u16),
    #[error("the answer could not be sent: {0}")]
    Transport(String),
    #[error("the answer could not be encoded: {0}")]
    Encode(String),
}

/// PUTs the answer to the presigned `ResponseURL`. No content type: the URL is signed without one.
pub async fn deliver(
    http: &AnswerClient,
    url: &str,
    response: &CloudFormationCustomResourceResponse,
) -> Result<(), DeliveryError> {
    let body = Bytes::from(serde_json::to_vec(response).map_err(|e| DeliveryError::Encode(e.to_string()))?);
    // Parsed once; an error never quotes the URL: it is a capability (anyone holding it can answer
    // for the stack).
    let uri: hyper::Uri = url.parse().map_err(|_| DeliveryError::Transport("the response URL is not a URL".into()))?;
    let mut last = DeliveryError::Transport("not attempted".into());
    for attempt in 0..ANSWER_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
        }
        let request = hyper::Request::put(uri.clone())
            .body(Full::new(body.clone()))
            .map_err(|e| DeliveryError::Encode(e.to_string()))?;
        match tokio::time::timeout(Duration::from_secs(5), http.0.request(request)).await {
            Ok(Ok(reply)) if reply.status().is_success() => return Ok(()),
            // A 4xx will not change on a retry (an expired or altered URL).
            Ok(Ok(reply)) if reply.status().is_client_error() => {
                return Err(DeliveryError::Refused(reply.status().as_u16()))
            }
            Ok(Ok(reply)) => last = DeliveryError::Refused(reply.status().as_u16()),
            Ok(Err(error)) => last = DeliveryError::Transport(transport_error(&error)),
            Err(_) => last = DeliveryError::Transport("no answer within 5 s".into()),
        }
    }
    Err(last)
}

/// The client that PUTs answers to CloudFormation's presigned URL: hyper and rustls, which the SDK
/// already brings, with the SDK clients' roots ([`crate::platform::tls`]).
#[derive(Clone)]
pub struct AnswerClient(Client<HttpsConnector<HttpConnector>, Full<Bytes>>);

impl AnswerClient {
    pub fn new(extra_roots: &crate::platform::tls::ExtraRoots) -> Result<Self, String> {
        let tls = crate::platform::tls::rustls_config(extra_roots).map_err(|e| e.to_string())?;
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(Duration::from_secs(2)));
        tcp.enforce_http(false);
        // http:// too: the local cloud's response URL (CloudFormation's are https://).
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Ok(Self(Client::builder(TokioExecutor::new()).build(https)))
    }
}

/// A transport error's causes, without the URL (hyper's messages do not carry it).
fn transport_error(error: &hyper_util::client::legacy::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// What the runtime reports when no answer reached CloudFormation.
fn undelivered(kind: &str, message: String) -> Diagnostic {
    Diagnostic { error_type: kind.to_owned(), error_message: message }
}

fn answer_client() -> Result<AnswerClient, String> {
    let extra = crate::platform::tls::ExtraRoots::from_env(&crate::platform::config::Settings(
        &crate::platform::config::ProcessEnv,
    ))
    .map_err(|e| e.to_string())?;
    AnswerClient::new(&extra)
}

/// Runs a custom-resource function: each request's properties are parsed into `P` and handed to
/// `handler` with the time it has; whatever happens is answered to CloudFormation.
pub async fn serve<P, H, Fut, E>(handler: H) -> Result<(), lambda_runtime::Error>
where
    P: DeserializeOwned,
    H: Fn(Request<P>, Envelopes) -> Fut,
    Fut: Future<Output = Result<Outcome, E>>,
    E: ResourceFault,
{
    crate::platform::startup::mark(crate::platform::startup::phase::FUNCTION);
    let responder = Responder::new()?;
    let handler = &handler;
    let responder = &responder;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        crate::platform::startup::invocation_started();
        responder.respond(handler, event.payload, event.context.deadline).await
    }))
    .await
}

/// Whether an event is a CloudFormation custom-resource request (a function that also takes direct
/// invokes tells the two apart by this).
pub fn is_request(event: &Value) -> bool {
    event.get("RequestType").is_some() && event.get("ResponseURL").is_some()
}

/// Answers custom-resource requests: what [`serve`] runs per event, for a function whose own edge
/// also takes other events.
pub struct Responder {
    http: AnswerClient,
}

impl Responder {
    pub fn new() -> Result<Self, lambda_runtime::Error> {
        let http =
            answer_client().map_err(|e| lambda_runtime::Error::from(format!("the HTTPS client for answers: {e}")))?;
        Ok(Self { http })
    }

    /// Parses `event`, runs `handler` within the invocation's time (`deadline_epoch_ms`) less the
    /// answer's margin, and PUTs the answer; the delivered answer is returned.
    pub async fn respond<P, H, Fut, E>(
        &self,
        handler: &H,
        event: Value,
        deadline_epoch_ms: u64,
    ) -> Result<Value, Diagnostic>
    where
        P: DeserializeOwned,
        H: Fn(Request<P>, Envelopes) -> Fut,
        Fut: Future<Output = Result<Outcome, E>>,
        E: ResourceFault,
    {
        let (envelopes, request) = split(event).map_err(|e| {
            tracing::error!(error = %e, "not a custom-resource request");
            undelivered("InvalidEvent", format!("not a CloudFormation custom-resource request: {e}"))
        })?;
        let kind = request.kind();
        let logical_id = envelopes.logical_resource_id.clone();
        let result = match typed::<P>(request) {
            Ok(request) => {
                let budget = handler_budget(deadline_epoch_ms);
                match tokio::time::timeout(budget, Box::pin(handler(request, envelopes.clone()))).await {
                    Ok(Ok(outcome)) => Ok(outcome),
                    Ok(Err(fault)) => {
                        tracing::error!(error = %fault, kind = fault.kind(), request = kind, logical_id, "custom resource failed");
                        Err(fault.to_string())
                    }
                    Err(_) => {
                        tracing::error!(request = kind, logical_id, "custom resource ran out of time");
                        Err(format!("{kind} did not finish within the function's timeout"))
                    }
                }
            }
            Err(reason) if kind == "Delete" => {
                tracing::warn!(reason, logical_id, "delete with properties that never made a resource: nothing to do");
                Ok(Outcome {
                    physical_resource_id: envelopes.physical_resource_id.clone().unwrap_or_default(),
                    data: BTreeMap::new(),
                })
            }
            Err(reason) => {
                tracing::error!(reason, request = kind, logical_id, "custom resource properties refused");
                Err(reason)
            }
        };
        let response = answer(&envelopes, &result);
        let status = if result.is_ok() { "SUCCESS" } else { "FAILED" };
        match deliver(&self.http, &envelopes.response_url, &response).await {
            Ok(()) => {
                tracing::info!(status, request = kind, logical_id, "custom resource answered");
                // CloudFormation ignores it; a direct invoke (or the bench) reads the answer here.
                serde_json::to_value(&response).map_err(|e| undelivered("AnswerUnencodable", e.to_string()))
            }
            Err(error) => {
                tracing::error!(error = %error, status, request = kind, logical_id, "custom resource answer not delivered");
                Err(undelivered("AnswerUndelivered", error.to_string()))
            }
        }
    }
}

/// The time a handler is given from now, for an invocation due at `deadline_epoch_ms`: what is left
/// less the answer's margin. A short timeout still leaves half of it for the answer. A handler that
/// holds something it must give back (a lock) stops itself inside this, so it is never cut off here
/// still holding it.
pub fn handler_budget(deadline_epoch_ms: u64) -> Duration {
    let left = crate::platform::deadline::until_epoch_ms(deadline_epoch_ms);
    left.saturating_sub(ANSWER_MARGIN.min(left / 2))
}

/// Runs a custom-resource function whose configuration could not be read at cold start: every
/// request is still answered (CloudFormation would otherwise wait for the resource's
/// `ServiceTimeout`), `FAILED` with the reason, which names the variable. A `Delete` answers
/// `SUCCESS`, as one whose properties do not parse does: a rollback or a stack deletion must not
/// wedge on a setting the Delete does not need. Any other event is a Lambda error with the reason.
pub async fn serve_unconfigured(reason: String) -> Result<(), lambda_runtime::Error> {
    crate::platform::startup::mark(crate::platform::startup::phase::FUNCTION);
    let responder = Responder::new()?;
    let (responder, reason) = (&responder, reason.as_str());
    let handler = move |request: Request<Value>, _: Envelopes| async move {
        match request {
            Request::Delete { physical_resource_id, .. } => {
                tracing::warn!(reason, "delete answered although the configuration is unreadable");
                Ok(Outcome { physical_resource_id, data: BTreeMap::new() })
            }
            _ => Err(Unconfigured(reason.to_owned())),
        }
    };
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        crate::platform::startup::invocation_started();
        if is_request(&event.payload) {
            return responder.respond(handler, event.payload, event.context.deadline).await;
        }
        Err(undelivered("Configuration", reason.to_owned()))
    }))
    .await
}

/// The answer of a function whose configuration is unreadable.
#[derive(Debug, thiserror::Error)]
#[error("the function's configuration is unreadable: {0}")]
struct Unconfigured(String);

impl ResourceFault for Unconfigured {
    fn kind(&self) -> &'static str {
        "Configuration"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Properties {
        bucket: String,
    }

    fn event(kind: &str, properties: Value) -> Value {
        let mut event = json!({
            "RequestType": kind, "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:f",
            "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x?sig=1",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1", "RequestId": "r-1",
            "ResourceType": "Custom::Site", "LogicalResourceId": "Site", "ResourceProperties": properties,
        });
        if kind != "Create" {
            event["PhysicalResourceId"] = json!("site:b");
        }
        if kind == "Update" {
            event["OldResourceProperties"] = json!({"Bucket": "a"});
        }
        event
    }

    #[test]
    fn each_request_type_splits_into_its_envelope_and_typed_properties() {
        let (envelopes, request) = split(event("Update", json!({"Bucket": "b", "ServiceToken": "t"}))).unwrap();
        assert_eq!(envelopes.physical_resource_id.as_deref(), Some("site:b"));
        assert_eq!(envelopes.request_id, "r-1");
        let Request::Update { properties, old_properties, .. } = typed::<Properties>(request).unwrap() else {
            panic!("an update")
        };
        assert_eq!(properties, Properties { bucket: "b".into() });
        assert_eq!(old_properties, json!({"Bucket": "a"}));
        let (envelopes, request) = split(event("Create", json!({"Bucket": "b"}))).unwrap();
        assert_eq!(envelopes.physical_resource_id, None);
        assert_eq!(request.kind(), "Create");
        assert!(split(json!({"RequestType": "Create"})).is_err(), "no ResponseURL: nothing to answer");
    }

    #[test]
    fn a_bad_property_is_named_in_the_reason() {
        let (_, request) = split(event("Create", json!({"Bucket": 7}))).unwrap();
        let reason = typed::<Properties>(request).unwrap_err();
        assert!(reason.starts_with("ResourceProperties.Bucket: invalid type"), "{reason}");
        let (_, request) = split(event("Create", json!({}))).unwrap();
        let reason = typed::<Properties>(request).unwrap_err();
        assert!(reason.contains("missing field `Bucket`"), "{reason}");
    }

    #[test]
    fn answers_echo_the_request_and_a_failed_create_answers_its_logical_id() {
        let (envelopes, _) = split(event("Create", json!({}))).unwrap();
        let failed = serde_json::to_value(answer(&envelopes, &Err("é".repeat(900)))).unwrap();
        assert_eq!(failed["Status"], "FAILED");
        assert_eq!(failed["PhysicalResourceId"], "Site");
        assert_eq!(failed["RequestId"], "r-1");
        assert_eq!(failed["LogicalResourceId"], "Site");
        assert!(failed["Reason"].as_str().unwrap().len() <= REASON_LIMIT);
        let outcome = Outcome { physical_resource_id: "site:b".into(), data: [("Url".into(), "u".into())].into() };
        let ok = serde_json::to_value(answer(&envelopes, &Ok(outcome))).unwrap();
        assert_eq!(ok["Status"], "SUCCESS");
        assert_eq!(ok["PhysicalResourceId"], "site:b");
        assert_eq!(ok["Data"], json!({"Url": "u"}));
        assert_eq!(ok["StackId"], "arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1");
    }
}
