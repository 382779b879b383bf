//! The platform every context runs on: configuration, the SDK clients and their TLS roots, secrets,
//! DynamoDB helpers, the clock, deadlines, logs and the cold-start marks.

pub mod aws;
pub mod config;
pub mod connect_api;
pub mod deadline;
pub mod prefetch;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod tls;
