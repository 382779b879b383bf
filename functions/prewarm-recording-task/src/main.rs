//! `prewarm-recording-task`: see `switchboard::video::prewarm_recording_task` for the behaviour.

use switchboard::{aws, config, events, telemetry, video::PrewarmRecordingTask};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let sdk = aws::load(aws::http_timeouts()).await.map_err(config::startup_failed)?;
    let function =
        PrewarmRecordingTask::from_env(&sdk, &config::Settings(&config::ProcessEnv)).map_err(config::startup_failed)?;
    events::serve(|event| function.handle(event)).await
}
