//! `start-chat`: see `switchboard::video::start_chat` for the behaviour.

use switchboard::platform::{aws, config, telemetry};
use switchboard::{edge::http, video::StartChat};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    let function = StartChat::from_env(&sdk, &config::Settings(&config::ProcessEnv)).map_err(config::startup_failed)?;
    http::serve(|request| function.handle(request)).await
}
