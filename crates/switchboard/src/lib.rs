//! Switchboard's domain crate.
//!
//! The kernel modules (`config`, `aws`, `connect`, `http`, `store`, `time`, `telemetry`) are shared by
//! every context; each context module (`emergency`, …) holds the whole behaviour of its functions.
//! Function binaries in `functions/` only wire configuration, clients and one handler together.

pub mod aws;
pub mod config;
pub mod connect;
pub mod connect_api;
pub mod deadline;
pub mod emergency;
pub mod http;
pub mod identity;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod video;
