//! The fleet on disk and the events it is sent: the functions in `functions/`, their sample events,
//! their binaries, and the custom-resource request CloudFormation sends one.

use std::path::PathBuf;

use super::error::CloudError;
use crate::fixture::Fixture;

/// A function's ARN in the local account, as a `ServiceToken` names it.
pub(super) fn fleet_function_arn(fixture: &Fixture, function: &str) -> String {
    format!("arn:aws:lambda:{}:{}:function:{function}", fixture.region, fixture.account_id)
}

/// A CloudFormation custom-resource request, as CloudFormation sends it.
#[allow(clippy::too_many_arguments)]
pub fn custom_resource_event(
    request_type: &str,
    logical_id: &str,
    request_id: &str,
    response_url: &str,
    fixture: &Fixture,
    service_token: &str,
    mut properties: serde_json::Value,
    physical_id: Option<(&str, serde_json::Value)>,
) -> serde_json::Value {
    properties["ServiceToken"] = serde_json::Value::String(service_token.to_owned());
    let mut event = serde_json::json!({
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": response_url,
        "StackId": format!("arn:aws:cloudformation:{}:{}:stack/switchboard-local/{}", fixture.region, fixture.account_id, fixture.account_id),
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": format!("Custom::{logical_id}"),
        "ResourceProperties": properties,
    });
    if let Some((physical_id, old_properties)) = physical_id {
        event["PhysicalResourceId"] = serde_json::Value::String(physical_id.to_owned());
        if request_type == "Update" {
            event["OldResourceProperties"] = old_properties;
        }
    }
    event
}

pub fn function_names() -> Result<Vec<String>, CloudError> {
    let dir = crate::repo_root().join("functions");
    let entries =
        std::fs::read_dir(&dir).map_err(|source| CloudError::Functions { path: dir.display().to_string(), source })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// A function's sample events, `events/<function>/*.json`, sorted by name.
pub fn sample_events(function: &str) -> Vec<PathBuf> {
    let dir = crate::repo_root().join("events").join(function);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Where `cargo build` put the debug binaries: `SWITCHBOARD_BIN_DIR`, else `$CARGO_TARGET_DIR/debug`,
/// else `<repo>/target/debug`.
pub fn debug_binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_BIN_DIR") {
        return dir.into();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"))
        .join("debug")
}
