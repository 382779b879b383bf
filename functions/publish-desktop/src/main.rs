//! `publish-desktop`: see `switchboard::desktop::publish_desktop` for the behaviour.

use switchboard::platform::{aws, config, telemetry};
use switchboard::{desktop::PublishDesktop, edge::custom_resource};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    match PublishDesktop::from_env(&sdk, &config::Settings(&config::ProcessEnv)) {
        Ok(function) => custom_resource::serve(|request, envelopes| function.handle(request, envelopes)).await,
        // CloudFormation still gets an answer, naming the variable, instead of waiting for none.
        Err(error) => custom_resource::serve_unconfigured(config::startup_failed(error).to_string()).await,
    }
}
