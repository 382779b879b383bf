//! SDK configuration, built once per cold start.
//!
//! Endpoints come from the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables (that
//! is how the local cloud is reached); there are no local special cases in function code.

use std::time::Duration;

use aws_config::{timeout::TimeoutConfig, BehaviorVersion, SdkConfig};

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

/// Loads region, credentials, endpoints and retry settings from the environment, with `timeouts`.
/// Built at init, not on first use: moving it would not make a cold start cheaper. The SDK's HTTPS
/// client (rustls + aws-lc, no legacy TLS stack) reads the system trust store when its connector is
/// first built; that cost is inside the measured cold penalty (7-9 ms in bench/results.md).
pub async fn load(timeouts: TimeoutConfig) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await
}
