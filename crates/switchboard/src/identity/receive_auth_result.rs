//! `receive-auth-result` (`POST /session_result/{result_code}`, public: the unguessable result code is
//! the capability). Body: the raw compact JWE, at most 8 KiB.
//!
//! `200` with an empty body; `404` for an unknown, expired or already used code; `400` for a result
//! that fails decryption or verification. The first result wins (a conditional update); the JWE is
//! not kept, only the verified claims.

use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_http::{http::StatusCode, Request};

use super::{
    jose::{KeyRing, ResultError},
    key, keys, result_attributes, session_via, IdentitySettings,
};
use crate::{
    edge::http::{path_parameter, text_body, ApiError, Reply},
    platform::{
        config::{ConfigError, Settings},
        prefetch::Prefetched,
        store,
        time::{Clock, SystemClock},
    },
};

/// The largest result accepted.
pub const MAX_RESULT_BYTES: usize = 8 * 1024;

pub struct ReceiveAuthResult {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub settings: IdentitySettings,
    /// Fetched from the first event on; awaited after the session is found.
    pub keys: Prefetched<KeyRing>,
    pub clock: Arc<dyn Clock>,
}

impl ReceiveAuthResult {
    pub fn from_env(sdk: &SdkConfig, env: &Settings<'_>) -> Result<Self, ConfigError> {
        let keys = KeyRing::prefetch(sdk, env)?;
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            settings: IdentitySettings::from_settings(env)?,
            keys,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let code = path_parameter(&request, "result_code")?;
        let unknown = || ApiError::not_found("unknown, expired or already used result code");
        if code.len() != 32 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(unknown());
        }
        let body = text_body(&request, MAX_RESULT_BYTES)?;
        let now = self.clock.now();
        let session = session_via(&self.dynamodb, &self.settings.table, keys::result(&code), now)
            .await
            .map_err(ApiError::dependency)?
            .ok_or_else(unknown)?;
        if session.result.is_some() {
            return Err(unknown());
        }
        // One answer for every refusal; the reason goes to the log only: telling the sender which
        // step failed would help forge a result.
        let keys = self.keys.get().await.map_err(ApiError::dependency)?;
        let result = keys.open(&body, now.unix_timestamp(), self.settings.clock_skew_seconds).map_err(|e| {
            tracing::info!(reason = %e, "auth result refused");
            ApiError { status: StatusCode::BAD_REQUEST, code: "INVALID_RESULT", message: ResultError::ANSWER.into() }
        })?;

        let mut update = self
            .dynamodb
            .update_item()
            .table_name(&self.settings.table)
            .set_key(Some(key(keys::session(&session.id))))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(resultAt)");
        let mut sets = Vec::new();
        for (i, (name, value)) in result_attributes(&result, now).into_iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":v{i}"), value);
            sets.push(format!("#a{i} = :v{i}"));
        }
        let outcome = update.update_expression(format!("SET {}", sets.join(", "))).send().await;
        match store::conditional("UpdateItem", outcome).map_err(ApiError::dependency)? {
            Some(_) => {
                tracing::info!(status = %result.status, "auth result stored");
                Ok(Reply::empty())
            }
            None => Err(unknown()), // a result arrived first: the first one wins
        }
    }
}
