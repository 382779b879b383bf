//! The CloudFront stand-in: `DesktopDistribution` on a loopback port. Each request takes the
//! behaviour the template gives its path; bucket behaviours read the object from moto's S3 (as the
//! Origin Access Control does: a missing key is S3's `403 AccessDenied`, the distribution has no
//! `s3:ListBucket`), the `/api/*` behaviour runs `strip-api.js`'s rewrite and passes the request to
//! the local HTTP API with every viewer header but `Host`; then the behaviour's response headers
//! policy is applied to whatever came back. Nothing is cached (the API's behaviour caches nothing,
//! and the objects are `no-cache`), so what `publish` put is what is served.

use std::{net::SocketAddr, sync::Arc};

use aws_sdk_s3::operation::get_object::GetObjectError;
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};

use super::template::{strip_api_prefix, Behavior, Distribution, OriginKind};

/// What the stand-in serves, and from where.
pub struct CloudFront {
    pub distribution: Distribution,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// The agent HTTP API's endpoint (the local gateway).
    pub api: String,
    pub http: reqwest::Client,
}

/// A running stand-in; it stops with the runtime that started it.
pub struct CloudFrontHandle {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl CloudFrontHandle {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for CloudFrontHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(listener: tokio::net::TcpListener, site: CloudFront) -> std::io::Result<CloudFrontHandle> {
    let addr = listener.local_addr()?;
    let app = Router::new().fallback(handle).with_state(Arc::new(site));
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "CloudFront stand-in stopped");
        }
    });
    Ok(CloudFrontHandle { addr, task })
}

use crate::net::HOP_BY_HOP;

async fn handle(
    State(site): State<Arc<CloudFront>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let behavior = site.distribution.behavior_for(uri.path());
    let mut response = if !behavior.allows(method.as_str()) {
        cloudfront_error(
            StatusCode::FORBIDDEN,
            "This distribution is not configured to allow the HTTP request method that was used for this request.",
        )
    } else {
        let path = if behavior.strips_api_prefix { strip_api_prefix(uri.path()) } else { uri.path().to_owned() };
        match behavior.origin {
            OriginKind::Bucket => from_bucket(&site, &method, &path, &headers).await,
            OriginKind::Api => to_api(&site, &method, &path, uri.query(), &headers, body).await,
        }
    };
    apply_policy(behavior, response.headers_mut());
    response
}

/// The behaviour's response headers policy on `headers` (CloudFront applies it to every answer,
/// errors included).
fn apply_policy(behavior: &Behavior, headers: &mut HeaderMap) {
    let Some(policy) = &behavior.headers else {
        return;
    };
    for name in &policy.remove {
        headers.remove(name.as_str());
    }
    for header in &policy.set {
        let (Ok(name), Ok(value)) = (HeaderName::try_from(header.name.as_str()), HeaderValue::from_str(&header.value))
        else {
            tracing::error!(header = header.name, "a policy header is not a valid HTTP header");
            continue;
        };
        if header.override_origin || !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    }
}

fn cloudfront_error(status: StatusCode, message: &str) -> Response {
    let html = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\">\n<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD>\
         <BODY><H1>{} ERROR</H1><H2>The request could not be satisfied.</H2>{message}</BODY></HTML>\n",
        status.as_u16()
    );
    (status, [(header::CONTENT_TYPE, "text/html")], html).into_response()
}

/// S3's XML error, as CloudFront passes it on.
fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], xml).into_response()
}

/// The S3 key for a request path: without the leading `/`, percent-decoded (as S3 reads keys).
fn object_key(path: &str, default_root_object: Option<&str>) -> Option<String> {
    let key = percent_encoding::percent_decode_str(path.strip_prefix('/').unwrap_or(path)).decode_utf8().ok()?;
    match (key.is_empty(), default_root_object) {
        (true, Some(root)) => Some(root.to_owned()),
        (true, None) => None,
        (false, _) => Some(key.into_owned()),
    }
}

async fn from_bucket(site: &CloudFront, method: &Method, path: &str, headers: &HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return s3_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        );
    }
    let Some(key) = object_key(path, site.distribution.default_root_object.as_deref()) else {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
    };
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let object = site
        .s3
        .get_object()
        .bucket(&site.bucket)
        .key(&key)
        .set_if_none_match(if_none_match.map(str::to_owned))
        .send()
        .await;
    let object = match object {
        Ok(object) => object,
        Err(error) => {
            let status = error.raw_response().map(|r| r.status().as_u16());
            return match (status, error.into_service_error()) {
                (Some(304), _) => {
                    let mut response = StatusCode::NOT_MODIFIED.into_response();
                    if let Some(etag) = headers.get(header::IF_NONE_MATCH) {
                        response.headers_mut().insert(header::ETAG, etag.clone());
                    }
                    response
                }
                // Through the OAC without s3:ListBucket, S3 does not tell a missing key from a forbidden one.
                (_, GetObjectError::NoSuchKey(_)) | (Some(404), _) => {
                    s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied")
                }
                (_, other) => {
                    tracing::error!(error = %aws_sdk_s3::error::DisplayErrorContext(&other), key, "S3 origin failed");
                    cloudfront_error(StatusCode::BAD_GATEWAY, "CloudFront could not read the object from its origin.")
                }
            };
        }
    };
    let mut response_headers = HeaderMap::new();
    let mut put = |name: HeaderName, value: Option<String>| {
        if let Some(Ok(value)) = value.map(|v| HeaderValue::from_str(&v)) {
            response_headers.insert(name, value);
        }
    };
    put(header::CONTENT_TYPE, object.content_type().map(str::to_owned));
    put(header::CACHE_CONTROL, object.cache_control().map(str::to_owned));
    put(header::ETAG, object.e_tag().map(str::to_owned));
    put(
        header::LAST_MODIFIED,
        object.last_modified().and_then(|t| t.fmt(aws_sdk_s3::primitives::DateTimeFormat::HttpDate).ok()),
    );
    for (name, value) in object.metadata().into_iter().flatten() {
        if let Ok(name) = HeaderName::try_from(format!("x-amz-meta-{name}")) {
            if let Ok(value) = HeaderValue::from_str(value) {
                response_headers.insert(name, value);
            }
        }
    }
    let body = match object.body.collect().await {
        Ok(data) => data.into_bytes(),
        Err(error) => {
            tracing::error!(%error, key, "reading the object failed");
            return cloudfront_error(StatusCode::BAD_GATEWAY, "CloudFront could not read the object from its origin.");
        }
    };
    (StatusCode::OK, response_headers, body).into_response()
}

async fn to_api(
    site: &CloudFront,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let url = match query {
        Some(query) => format!("{}{path}?{query}", site.api),
        None => format!("{}{path}", site.api),
    };
    let Ok(method) = reqwest::Method::from_bytes(method.as_str().as_bytes()) else {
        return cloudfront_error(StatusCode::BAD_REQUEST, "Bad request.");
    };
    let mut request = site.http.request(method, url).body(body);
    for (name, value) in headers {
        if name != header::HOST && !HOP_BY_HOP.contains(&name.as_str()) {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::error!(%error, "the API origin did not answer");
            return cloudfront_error(StatusCode::BAD_GATEWAY, "CloudFront wasn't able to connect to the origin.");
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_bytes(value.as_bytes()))
        {
            response_headers.append(name, value);
        }
    }
    match answer.bytes().await {
        Ok(body) => (status, response_headers, body).into_response(),
        Err(error) => {
            tracing::error!(%error, "the API origin's answer broke off");
            cloudfront_error(StatusCode::BAD_GATEWAY, "CloudFront wasn't able to read the origin's answer.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::object_key;

    #[test]
    fn keys_are_the_decoded_path_and_the_root_is_the_default_object() {
        assert_eq!(object_key("/agent.html", None).as_deref(), Some("agent.html"));
        assert_eq!(object_key("/i18n/en%2Dgb.json", None).as_deref(), Some("i18n/en-gb.json"));
        assert_eq!(object_key("/", Some("agent.html")).as_deref(), Some("agent.html"));
        assert_eq!(object_key("/", None), None);
        assert_eq!(object_key("/%FF", None), None, "not UTF-8");
    }
}
