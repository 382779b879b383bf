//! `set-connect-user-id`: see `switchboard::agents::set_connect_user_id` for the behaviour.

use switchboard::platform::{aws, config, telemetry};
use switchboard::{agents::SetConnectUserId, edge::http};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    let function =
        SetConnectUserId::from_env(&sdk, &config::Settings(&config::ProcessEnv)).map_err(config::startup_failed)?;
    http::serve(|request| function.handle(request)).await
}
