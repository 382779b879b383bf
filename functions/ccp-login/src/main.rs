//! `ccp-login`: see `switchboard::agents::ccp_login` for the behaviour.

use switchboard::platform::{aws, config, telemetry};
use switchboard::{agents::CcpLogin, edge::http};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    let function = CcpLogin::from_env(&sdk, &config::Settings(&config::ProcessEnv)).map_err(config::startup_failed)?;
    http::serve(|request| function.handle(request)).await
}
