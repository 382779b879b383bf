//! `provision-flows`: see `switchboard::flows::provision_flows` for the behaviour.

use switchboard::{aws, config, flows, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    let function = flows::ProvisionFlows::from_env(&sdk, &config::Settings(&config::ProcessEnv))
        .map_err(config::startup_failed)?;
    flows::serve(function).await
}
