//! `verify-pin`: check the PIN the caller keyed against the contact's challenge.
//!
//! Input: `Parameters.pin` (the flow passes `$.StoredCustomerInput`). Results: `VERIFIED`,
//! `WRONG_PIN` (with `AttemptsLeft`), `LOCKED`, `EXPIRED`, `NO_CHALLENGE`. The counted try and the
//! verified mark are written only when they can finish before the invocation's deadline.

use std::sync::Arc;

use aws_config::SdkConfig;
use time::OffsetDateTime;
use tracing::info;

use super::{keys, pin, read_challenge, settings, settings::PinPolicy, Challenge, EmergencyError};
use crate::{
    edge::connect::{ContactFlowEvent, FlowResult},
    platform::{
        config::{ConfigError, Settings},
        deadline::Deadline,
        prefetch::Prefetched,
        store::{self, StoreError},
        time::{Clock, SystemClock},
    },
};

pub struct VerifyPin {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub policy: PinPolicy,
    /// Fetched from the first event on; awaited when a PIN is compared.
    pub pepper: Prefetched<pin::Pepper>,
    pub clock: Arc<dyn Clock>,
}

impl VerifyPin {
    pub fn from_env(sdk: &SdkConfig, env: &Settings<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: settings::table(env)?,
            policy: PinPolicy::from_settings(env)?,
            pepper: pin::Pepper::prefetch(sdk, env)?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, event: ContactFlowEvent, deadline: Deadline) -> Result<FlowResult, EmergencyError> {
        let Some(contact) = event.initial_contact_id() else {
            return Ok(FlowResult::new("NO_CHALLENGE"));
        };
        let entered = pin::normalise_input(event.parameter("pin").unwrap_or_default());
        let now = self.clock.now();

        let challenge = match deadline.run("GetItem challenge", self.open_challenge(contact, now)).await?? {
            Ok(challenge) => challenge,
            Err(refusal) => return Ok(refusal),
        };
        // Before the try is counted: a pepper we cannot fetch must not cost the caller a try.
        let pepper = deadline.run("the PIN pepper", self.pepper.get()).await??;
        // Every try is counted before comparing, atomically and only while tries remain.
        let counted =
            deadline.side_effect("UpdateItem attempts", self.count_attempt(contact, &challenge, now)).await??;
        let Some(challenge) = counted else {
            // Something changed since the read (another try, a new PIN, expiry): answer from a fresh read.
            return Ok(match deadline.run("GetItem challenge", self.open_challenge(contact, now)).await?? {
                Err(refusal) => refusal,
                Ok(_) => FlowResult::new("NO_CHALLENGE"),
            });
        };

        if pin::matches(pepper, &challenge.salt, entered, &challenge.pin_hash) {
            if deadline.side_effect("UpdateItem verified", self.mark_verified(contact, &challenge, now)).await?? {
                info!("PIN verified");
                return Ok(FlowResult::new("VERIFIED"));
            }
            return Ok(FlowResult::new("NO_CHALLENGE"));
        }
        let left = (self.policy.max_attempts - challenge.attempts).max(0);
        info!(attempts_left = left, "wrong PIN");
        if left == 0 {
            return Ok(FlowResult::new("LOCKED").with("AttemptsLeft", 0));
        }
        Ok(FlowResult::new("WRONG_PIN").with("AttemptsLeft", left))
    }

    /// The contact's challenge if it can still be tried, else the result that says why not.
    async fn open_challenge(
        &self,
        contact: &str,
        now: OffsetDateTime,
    ) -> Result<Result<Challenge, FlowResult>, StoreError> {
        let Some(challenge) = read_challenge(&self.dynamodb, &self.table, contact, now).await? else {
            return Ok(Err(FlowResult::new("NO_CHALLENGE")));
        };
        if challenge.verified_at.is_some() {
            return Ok(Err(FlowResult::new("NO_CHALLENGE"))); // a verified PIN cannot be replayed
        }
        if now.unix_timestamp() >= challenge.expires_at {
            return Ok(Err(FlowResult::new("EXPIRED")));
        }
        if challenge.attempts >= self.policy.max_attempts {
            return Ok(Err(FlowResult::new("LOCKED").with("AttemptsLeft", 0)));
        }
        Ok(Ok(challenge))
    }

    /// Increments `attempts` if the same challenge is still open; returns it as updated, or `None`.
    async fn count_attempt(
        &self,
        contact: &str,
        challenge: &Challenge,
        now: OffsetDateTime,
    ) -> Result<Option<Challenge>, StoreError> {
        let result = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(store::key(keys::challenge(contact), keys::CHALLENGE)))
            .update_expression("SET attempts = attempts + :one")
            .condition_expression(
                "salt = :salt AND attempts < :max AND expiresAt > :now AND attribute_not_exists(verifiedAt)",
            )
            .expression_attribute_values(":one", store::n(1))
            .expression_attribute_values(":salt", store::s(&challenge.salt))
            .expression_attribute_values(":max", store::n(self.policy.max_attempts))
            .expression_attribute_values(":now", store::n(now.unix_timestamp()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        let updated = store::conditional("UpdateItem", result)?.and_then(|output| output.attributes);
        updated.as_ref().map(Challenge::from_item).transpose()
    }

    /// Marks the challenge verified, once: a second verification of the same PIN fails the condition.
    async fn mark_verified(
        &self,
        contact: &str,
        challenge: &Challenge,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(store::key(keys::challenge(contact), keys::CHALLENGE)))
            .update_expression("SET verifiedAt = :now")
            .condition_expression("salt = :salt AND attribute_not_exists(verifiedAt)")
            .expression_attribute_values(":now", store::n(now.unix_timestamp()))
            .expression_attribute_values(":salt", store::s(&challenge.salt))
            .send()
            .await;
        Ok(store::conditional("UpdateItem", result)?.is_some())
    }
}
