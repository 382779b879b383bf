//! Secret values by reference, resolved once per process (from its first event: `crate::platform::prefetch`):
//! `secretsmanager:<name or ARN>` or `ssm:<parameter name>` (a SecureString, decrypted). Keys never sit in plain environment variables
//! or template parameters, and their values never reach a log line.

use aws_config::SdkConfig;

use crate::platform::config::ConfigError;

/// The secret values behind `references` (read from the variable `name`), in order. The look-ups
/// run concurrently: each is a network round trip.
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
