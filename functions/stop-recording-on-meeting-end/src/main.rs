//! `stop-recording-on-meeting-end`: see `switchboard::recording::stop_recording_on_meeting_end` for the behaviour.

use switchboard::platform::{aws, config, telemetry};
use switchboard::{edge::events, recording::StopRecordingOnMeetingEnd};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    let function = StopRecordingOnMeetingEnd::from_env(&sdk, &config::Settings(&config::ProcessEnv))
        .map_err(config::startup_failed)?;
    events::serve(|event| function.handle(event)).await
}
