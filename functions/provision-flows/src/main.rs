//! `provision-flows`: see `switchboard::flows::provision_flows` for the behaviour.

use switchboard::platform::{aws, config, telemetry};
use switchboard::{edge::custom_resource, flows};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    match flows::ProvisionFlows::from_env(&sdk, &config::Settings(&config::ProcessEnv)) {
        Ok(function) => flows::serve(function).await,
        // CloudFormation still gets an answer, naming the variable, instead of waiting for none.
        Err(error) => custom_resource::serve_unconfigured(config::startup_failed(error).to_string()).await,
    }
}
