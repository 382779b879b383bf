//! `prewarm-recording-task`: see `switchboard::recording::prewarm_recording_task` for the behaviour.

use switchboard::platform::{aws, config, telemetry};
use switchboard::{edge::events, recording::PrewarmRecordingTask};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    let function =
        PrewarmRecordingTask::from_env(&sdk, &config::Settings(&config::ProcessEnv)).map_err(config::startup_failed)?;
    events::serve(|event| function.handle(event)).await
}
