//! Helpers for the fleet's end-to-end tests: start the local cloud with every function binary, and
//! play calls through the flow runner.

use std::collections::BTreeMap;

use switchboard_local::{
    cloud::{self, LocalCloud},
    fixture::Fixture,
    flow::{Call, CallInput, FlowLibrary, Runner, Services, Transcript},
};

pub struct Fleet {
    pub cloud: LocalCloud,
    pub runner: Runner,
}

impl Fleet {
    /// The local cloud with the whole fleet running from the debug binaries.
    pub async fn start() -> Self {
        let fixture = Fixture::load(&Fixture::default_path()).expect("fixture");
        Self::start_with(fixture, BTreeMap::new()).await
    }

    /// The local cloud seeded from `fixture`, the fleet with `overrides` on its environment.
    pub async fn start_with(fixture: Fixture, overrides: BTreeMap<String, String>) -> Self {
        let cloud = LocalCloud::with_fleet(fixture, cloud::debug_binaries(), overrides)
            .await
            .expect("the local cloud and fleet start (build the workspace first: `cargo build --workspace`)");
        let services =
            Services::from_fixture(&cloud.fixture, cloud.fleet().expect("fleet").endpoint(), cloud.emulator.endpoint());
        let runner = Runner::new(FlowLibrary::repository(), services);
        Self { cloud, runner }
    }

    /// A Connect client of the emulated instance (the cloud's SDK settings, the emulator's endpoint).
    pub async fn connect_client(&self) -> aws_sdk_connect::Client {
        let sdk = self.cloud.sdk_config().await;
        aws_sdk_connect::Client::from_conf(
            aws_sdk_connect::config::Builder::from(&sdk).endpoint_url(self.cloud.emulator.endpoint()).build(),
        )
    }

    /// Plays `flow` as a call from `from` to `to` with the caller's `inputs`, and prints the transcript
    /// (shown when a test fails).
    pub async fn call(&self, flow: &str, from: &str, to: &str, inputs: &[&str]) -> Transcript {
        let inputs = inputs.iter().map(|i| i.parse::<CallInput>().expect("input"));
        let call = Call::voice(flow, from, to).with_inputs(inputs);
        let transcript = self.runner.play(call).await.expect("the flow runs");
        println!("{transcript}");
        transcript
    }

    /// Every line the functions logged.
    pub fn logs(&self) -> Vec<String> {
        self.cloud.fleet().map(|f| f.logs().into_iter().map(|l| l.line).collect()).unwrap_or_default()
    }
}

/// The template's logical id of a function: `one-time-pin` → `OneTimePinFunction`.
pub fn logical_id(function: &str) -> String {
    let pascal: String = function
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    format!("{pascal}Function")
}
