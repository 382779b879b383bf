//! `update-emergency`: see `switchboard::emergency::update_emergency` for the behaviour.

use switchboard::platform::{aws, config, telemetry};
use switchboard::{edge::connect, emergency::UpdateEmergency};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let sdk = aws::load(aws::connect_timeouts()).await.map_err(config::startup_failed)?;
    let function =
        UpdateEmergency::from_env(&sdk, &config::Settings(&config::ProcessEnv)).map_err(config::startup_failed)?;
    connect::serve(|event, deadline| function.handle(event, deadline)).await
}
