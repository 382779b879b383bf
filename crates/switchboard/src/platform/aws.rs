//! SDK configuration, built once per cold start.
//!
//! Endpoints come from the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables (that
//! is how the local cloud is reached); there are no local special cases in function code.

use std::{borrow::Cow, sync::OnceLock, time::Duration};

use aws_config::{
    stalled_stream_protection::StalledStreamProtectionConfig, timeout::TimeoutConfig, BehaviorVersion, SdkConfig,
};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::{
    connector_metadata::ConnectorMetadata,
    http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
    },
    orchestrator::HttpRequest,
    runtime_components::RuntimeComponents,
};

use crate::platform::{
    config::{ConfigError, ProcessEnv, Settings},
    startup::{self, phase},
    tls,
};

/// Timeouts for functions that Amazon Connect invokes: Connect gives up after 8 s, so one attempt may
/// take 2 s and a whole operation (with the SDK's standard retries) 5 s, leaving room for two calls.
pub fn connect_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(1_000))
        .operation_attempt_timeout(Duration::from_millis(2_000))
        .operation_timeout(Duration::from_millis(5_000))
        .build()
}

/// Timeouts for functions behind API Gateway, which gives up after 30 s: 3 s an attempt, 10 s an
/// operation with retries.
pub fn http_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(1_000))
        .operation_attempt_timeout(Duration::from_millis(3_000))
        .operation_timeout(Duration::from_millis(10_000))
        .build()
}

/// Loads region, credentials, endpoints and retry settings from the environment, with `timeouts`,
/// and the HTTPS client every SDK client of the function shares ([`https_client`]). Built at init,
/// once; what that costs is in bench/results.md ("Where the cold start goes"). A bad
/// `SSL_CERT_FILE` fails the cold start.
pub async fn load(timeouts: TimeoutConfig) -> Result<SdkConfig, ConfigError> {
    let extra_roots = tls::ExtraRoots::from_env(&Settings(&ProcessEnv))?;
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        // The attempt timeout already ends a stalled request; the throughput check wraps every
        // request and response body in timers besides, which a profile of a warm call showed.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .http_client(https_client(extra_roots))
        .load()
        .await;
    startup::mark(phase::SDK_CONFIG);
    Ok(sdk)
}

/// The SDK's own hyper + rustls (aws-lc) client, trusting [`tls`]'s roots, built on the first
/// request instead of at client construction.
///
/// The SDK builds a throw-away connector each time a client is constructed (to load the platform
/// roots early) and then another for the first request's timeout settings; each built a root store
/// from ~150 certificates. Here the roots and the connector are built once, when a request needs them.
pub fn https_client(extra_roots: tls::ExtraRoots) -> SharedHttpClient {
    SharedHttpClient::new(OnDemandHttps { extra_roots, client: OnceLock::new() })
}

#[derive(Debug)]
struct OnDemandHttps {
    extra_roots: tls::ExtraRoots,
    client: OnceLock<SharedHttpClient>,
}

impl OnDemandHttps {
    fn client(&self) -> &SharedHttpClient {
        self.client.get_or_init(|| {
            let trust =
                TrustStore::empty().with_native_roots(false).with_pem_certificate(tls::roots_pem(&self.extra_roots));
            let context = TlsContext::builder().with_trust_store(trust);
            let builder = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
            match context.build() {
                Ok(context) => builder.tls_context(context).build_https(),
                // Building a context cannot fail today (its builder only stores what it is given).
                Err(error) => {
                    tracing::error!(error = %error, "the TLS context of the SDK client; using its defaults");
                    builder.build_https()
                }
            }
        })
    }
}

impl HttpClient for OnDemandHttps {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        startup::mark(phase::CONNECTOR_START);
        let connector = self.client().http_connector(settings, components);
        startup::mark(phase::CONNECTOR_DONE);
        if startup::enabled() {
            return SharedHttpConnector::new(FirstRequestMarks(connector));
        }
        connector
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        // What the SDK's own client reports (its user agent's `md/http#hyper-1.x`), without building it.
        Some(ConnectorMetadata::new("hyper", Some(Cow::Borrowed("1.x"))))
    }
}

/// Marks when the first request leaves and its response arrives (profiling only).
#[derive(Debug)]
struct FirstRequestMarks(SharedHttpConnector);

impl HttpConnector for FirstRequestMarks {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        startup::mark(phase::REQUEST_SENT);
        let sent = self.0.call(request);
        HttpConnectorFuture::new(async move {
            let response = sent.await;
            startup::mark(phase::RESPONSE);
            response
        })
    }
}
