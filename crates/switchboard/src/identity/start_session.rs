//! `start-session` (`POST /start_communication`, IAM auth: the ID Contact core's role).
//!
//! Body `{"purpose": "<tag>", "auth_result"?: "<compact JWE>"}` → `200 {"client_url":
//! "tel:<number>,<dtmf>", "attr_url"?: "<base>/session_result/<result code>"}`. The session, its
//! DTMF pointer and its result-code pointer are written in one transaction that requires each key to
//! be free; a collision draws new codes and tries again (5 tries, then 503). A result supplied here is
//! verified and stored at once (invalid → 400) and `attr_url` is left out.

use std::{collections::HashMap, sync::Arc};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use lambda_http::{http::StatusCode, Request};
use serde::{Deserialize, Serialize};

use super::{
    jose::{KeyRing, ResultError},
    key, keys, pointer_item, result_attributes, CodeSource, IdentitySettings, OsCodes,
};
use crate::{
    edge::http::{json_body, ApiError, Reply},
    platform::{
        config::{ConfigError, Settings},
        prefetch::Prefetched,
        store,
        time::{Clock, SystemClock},
    },
};

/// Transaction attempts before giving up on finding free codes.
pub const MAX_CODE_DRAWS: usize = 5;

pub struct StartSession {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub settings: IdentitySettings,
    /// `ID_CONTACT_PHONE_NUMBER`: the number the caller dials.
    pub phone_number: String,
    /// `ID_CONTACT_BASE_URL`: the public base URL of `/session_result/…`.
    pub base_url: String,
    /// Fetched from the first event on; awaited only by a start that carries an auth result.
    pub keys: Prefetched<KeyRing>,
    pub codes: Arc<dyn CodeSource>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, Deserialize)]
struct StartBody {
    purpose: String,
    #[serde(default)]
    auth_result: Option<String>,
}

#[derive(Debug, Serialize)]
struct StartAnswer {
    client_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    attr_url: Option<String>,
}

impl StartSession {
    pub fn from_env(sdk: &SdkConfig, env: &Settings<'_>) -> Result<Self, ConfigError> {
        let keys = KeyRing::prefetch(sdk, env)?;
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            settings: IdentitySettings::from_settings(env)?,
            phone_number: env.string("ID_CONTACT_PHONE_NUMBER")?,
            base_url: env.string("ID_CONTACT_BASE_URL")?.trim_end_matches('/').to_owned(),
            keys,
            codes: Arc::new(OsCodes),
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let body: StartBody = json_body(&request)?;
        let purpose = body.purpose.trim();
        if purpose.is_empty() || purpose.len() > 128 {
            return Err(ApiError::bad_field("purpose", "must be 1 to 128 characters"));
        }
        let now = self.clock.now();
        let result = match body.auth_result.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            // One answer for every refusal, as `receive-auth-result` gives; the reason is logged.
            Some(jwe) => {
                let keys = self.keys.get().await.map_err(ApiError::dependency)?;
                Some(keys.open(jwe, now.unix_timestamp(), self.settings.clock_skew_seconds).map_err(|e| {
                    tracing::info!(reason = %e, "auth result refused");
                    ApiError::bad_field("auth_result", ResultError::ANSWER)
                })?)
            }
            None => None,
        };
        let ttl = now.unix_timestamp() + self.settings.session_ttl_seconds;
        let fail = |e: String| ApiError::dependency(format!("code generation: {e}"));

        for _ in 0..MAX_CODE_DRAWS {
            let id = self.codes.session_id().map_err(fail)?;
            let dtmf = self.codes.dtmf(self.settings.dtmf_length).map_err(fail)?;
            let result_code = self.codes.result_code().map_err(fail)?;

            let mut session = key(keys::session(&id));
            session.extend(HashMap::from([
                ("purpose".to_owned(), store::s(purpose)),
                ("dtmf".to_owned(), store::s(&dtmf)),
                ("resultCode".to_owned(), store::s(&result_code)),
                ("createdAt".to_owned(), store::n(now.unix_timestamp())),
                ("ttl".to_owned(), store::n(ttl)),
            ]));
            if let Some(result) = &result {
                session.extend(result_attributes(result, now));
            }
            let mut writes =
                vec![self.put_new(session, now)?, self.put_new(pointer_item(keys::dtmf(&dtmf), &id, ttl), now)?];
            if result.is_none() {
                writes.push(self.put_new(pointer_item(keys::result(&result_code), &id, ttl), now)?);
            }
            let outcome = self.dynamodb.transact_write_items().set_transact_items(Some(writes)).send().await;
            match outcome {
                Ok(_) => {
                    tracing::info!(has_result = result.is_some(), "session started");
                    let attr_url = result.is_none().then(|| format!("{}/session_result/{result_code}", self.base_url));
                    return Reply::raw(&StartAnswer {
                        client_url: format!("tel:{},{dtmf}", self.phone_number),
                        attr_url,
                    });
                }
                Err(e) if store::is_transaction_race_lost(&e) => {
                    tracing::warn!("session code collision; drawing new codes");
                }
                Err(e) => return Err(ApiError::dependency(store::StoreError::from_sdk("TransactWriteItems", e))),
            }
        }
        Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "CODES_EXHAUSTED",
            message: "No free session code was found; try again.".into(),
        })
    }

    /// A put that only succeeds when the key is free (absent, or expired but not yet deleted).
    fn put_new(&self, item: store::Item, now: time::OffsetDateTime) -> Result<TransactWriteItem, ApiError> {
        let put = Put::builder()
            .table_name(&self.settings.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", AttributeValue::N(now.unix_timestamp().to_string()))
            .build()
            .map_err(ApiError::dependency)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}
