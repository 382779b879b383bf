//! `connect-associations`: see `switchboard::flows::connect_associations` for the behaviour.

use switchboard::{aws, config, custom_resource, flows::ConnectAssociations, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    let function =
        ConnectAssociations::from_env(&sdk, &config::Settings(&config::ProcessEnv)).map_err(config::startup_failed)?;
    custom_resource::serve(|request, envelopes| function.handle(request, envelopes)).await
}
