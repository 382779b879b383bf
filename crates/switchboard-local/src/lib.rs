//! The local cloud: everything Switchboard needs to run and test the fleet on one machine with no
//! AWS account (`specs/local-cloud.md`). Dev and test only; never deployed.
//!
//! - [`moto`]: moto's server (DynamoDB, S3, Cognito, STS, …) as a child process on a free port.
//! - [`emulator`]: our emulator for what moto lacks (Pinpoint SMS, Amazon Connect, Chime SDK
//!   Meetings, Cognito's write-attribute check), speaking the real wire protocol.
//! - [`lambda_host`]: runs each function's real binary behind a Lambda Runtime API and serves the
//!   Lambda Invoke API, like the service does.
//! - [`gateway`]: the HTTP API in front of the HTTP functions, with the Cognito JWT authorizer.
//! - [`flow`]: plays the contact flows in `contact-flows/` against the functions.
//! - [`flows`]: `flows plan|apply`: the working tree for `provision-flows`, its report for people.
//! - [`bench`]: cold start, latency and memory figures for every function (`make bench`).
//! - [`desktop`]: the agent desktop pages on loopback origins: the bucket in moto, the CloudFront
//!   stand-in with the template's response headers, the fake CCP (managed login is the emulator's).
//! - [`recording`]: the recording stack (bucket, ECS cluster, a registered instance) and EventBridge's
//!   delivery of the recording events.
//! - [`fault_proxy`]: moto behind a proxy that fails chosen operations (fault injection in tests).
//! - [`cloud`]: starts, seeds and stops all of the above.
//! - [`cloud_file`]: where `switchboard-local up` tells the other commands what is running.

pub mod bench;
pub mod cloud;
pub mod cloud_file;
pub mod desktop;
pub mod emulator;
pub mod fault_proxy;
pub mod fixture;
pub mod flow;
pub mod flows;
pub mod gateway;
pub mod lambda_host;
pub mod moto;
pub mod net;
pub mod recording;

/// The repository root: `SWITCHBOARD_ROOT`, else the workspace this crate was built in.
pub fn repo_root() -> std::path::PathBuf {
    std::env::var_os("SWITCHBOARD_ROOT").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        root.canonicalize().unwrap_or(root)
    })
}
