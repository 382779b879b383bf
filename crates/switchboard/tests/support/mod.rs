//! What the handler tests share: HTTP API requests, and a concurrent writer's move made at a chosen
//! moment. (Each test binary uses some of it.)
#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

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

/// What a concurrent writer does, set once what it changes exists (the client that runs it may be
/// made before).
pub type Meanwhile = Arc<Mutex<Option<Box<dyn Fn() + Send + Sync>>>>;

/// Runs `work` to completion from synchronous code called inside the test's (multi-thread) runtime:
/// a mocked answer or an interceptor hook, computed within the call the handler is awaiting.
pub fn block_on_inside<T>(work: impl std::future::Future<Output = T>) -> T {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(work))
}

/// The body of the request a concurrent writer moved before, for it to read.
pub type Seen = Arc<Mutex<String>>;

/// A DynamoDB client that runs what `meanwhile` holds, once, just before its first request whose body
/// contains `marker` is sent (after putting that body in `seen`): the other writer moves between this
/// one's read and its write.
pub fn interrupted_client(
    sdk: &aws_config::SdkConfig,
    marker: &'static str,
    meanwhile: &Meanwhile,
    seen: &Seen,
) -> aws_sdk_dynamodb::Client {
    let before = BeforeRequest { marker, meanwhile: meanwhile.clone(), seen: seen.clone() };
    aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(before).build())
}

struct BeforeRequest {
    marker: &'static str,
    meanwhile: Meanwhile,
    seen: Seen,
}

impl std::fmt::Debug for BeforeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BeforeRequest({})", self.marker)
    }
}

impl aws_sdk_dynamodb::config::Intercept for BeforeRequest {
    fn name(&self) -> &'static str {
        "BeforeRequest"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let body = context.request().body().bytes().unwrap_or_default();
        let body = std::str::from_utf8(body).unwrap_or_default();
        if body.contains(self.marker) {
            body.clone_into(&mut self.seen.lock().unwrap());
            let change = self.meanwhile.lock().unwrap().take();
            if let Some(change) = change {
                change();
            }
        }
        Ok(())
    }
}

/// A DynamoDB client of `table` that, just before its first request containing `marker`, runs
/// `change` to completion (given a plain client, the table and that request's body), and what tells
/// whether it ran (`None` once it has).
pub fn interrupted_by<F, Fut>(
    sdk: &aws_config::SdkConfig,
    table: &str,
    marker: &'static str,
    change: F,
) -> (aws_sdk_dynamodb::Client, Meanwhile)
where
    F: Fn(aws_sdk_dynamodb::Client, String, String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (meanwhile, seen) = (Meanwhile::default(), Seen::default());
    let (dynamodb, table, body) = (aws_sdk_dynamodb::Client::new(sdk), table.to_owned(), seen.clone());
    *meanwhile.lock().unwrap() = Some(Box::new(move || {
        let body = body.lock().unwrap().clone();
        block_on_inside(change(dynamodb.clone(), table.clone(), body));
    }));
    (interrupted_client(sdk, marker, &meanwhile, &seen), meanwhile)
}
