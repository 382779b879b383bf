//! Secret values by reference, resolved once per process (from init on: `crate::prefetch`): `secretsmanager:<name or ARN>` or
//! `ssm:<parameter name>` (a SecureString, decrypted). Keys never sit in plain environment variables
//! or template parameters, and their values never reach a log line.

use aws_config::SdkConfig;

use crate::config::{ConfigError, Settings};

/// Reads the references in the comma-separated variable `name` and returns the secret values, in
/// order. The look-ups run concurrently: each is a network round trip.
pub async fn resolve_list(sdk: &SdkConfig, env: &Settings<'_>, name: &str) -> Result<Vec<String>, ConfigError> {
    resolve_all(sdk, name, env.list(name)?).await
}

/// The secret values behind `references` (read from the variable `name`), in order, concurrently.
pub async fn resolve_all(sdk: &SdkConfig, name: &str, references: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let mut lookups = tokio::task::JoinSet::new();
    for (index, reference) in references.into_iter().enumerate() {
        let (sdk, name) = (sdk.clone(), name.to_owned());
        lookups.spawn(async move { (index, resolve(&sdk, &name, &reference).await) });
    }
    let mut values = Vec::new();
    while let Some(joined) = lookups.join_next().await {
        let (index, value) =
            joined.map_err(|e| ConfigError::Malformed { name: name.to_owned(), reason: e.to_string() })?;
        values.push((index, value?));
    }
    values.sort_by_key(|(index, _)| *index);
    Ok(values.into_iter().map(|(_, value)| value).collect())
}

/// Reads the one reference in the variable `name` and returns the secret value.
pub async fn resolve_one(sdk: &SdkConfig, env: &Settings<'_>, name: &str) -> Result<String, ConfigError> {
    resolve(sdk, name, &env.string(name)?).await
}

/// The secret value behind `reference` (read from the variable `variable`, which errors name).
pub async fn resolve(sdk: &SdkConfig, variable: &str, reference: &str) -> Result<String, ConfigError> {
    let failed = |reason: String| ConfigError::Malformed { name: variable.to_owned(), reason };
    if let Some(id) = reference.strip_prefix("secretsmanager:") {
        let answer =
            aws_sdk_secretsmanager::Client::new(sdk).get_secret_value().secret_id(id).send().await.map_err(|e| {
                failed(format!(
                    "cannot read secret {id}: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ))
            })?;
        return answer
            .secret_string()
            .map(str::to_owned)
            .ok_or_else(|| failed(format!("secret {id} has no string value")));
    }
    if let Some(parameter) = reference.strip_prefix("ssm:") {
        let answer =
            aws_sdk_ssm::Client::new(sdk).get_parameter().name(parameter).with_decryption(true).send().await.map_err(
                |e| {
                    failed(format!(
                        "cannot read parameter {parameter}: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(&e)
                    ))
                },
            )?;
        return answer
            .parameter()
            .and_then(|p| p.value())
            .map(str::to_owned)
            .ok_or_else(|| failed(format!("parameter {parameter} has no value")));
    }
    Err(failed(format!("{reference:?} is not a secretsmanager:… or ssm:… reference")))
}
