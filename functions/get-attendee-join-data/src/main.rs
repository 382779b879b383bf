//! `get-attendee-join-data`: see `switchboard::video::get_attendee_join_data` for the behaviour.

use switchboard::platform::{aws, config, telemetry};
use switchboard::{edge::http, video::GetAttendeeJoinData};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    let function =
        GetAttendeeJoinData::from_env(&sdk, &config::Settings(&config::ProcessEnv)).map_err(config::startup_failed)?;
    http::serve(|request| function.handle(request)).await
}
