//! `one-time-pin`: send a one-time PIN by SMS to an allow-listed admin's mobile.
//!
//! Input: `Parameters.phoneNumber`, defaulting to the caller's number. Results: `SENT` (with
//! `PinLength`, `ExpiresInSeconds`), `NOT_ADMIN`, `NOT_MOBILE` (with `PhoneType`), `RATE_LIMITED`,
//! `SMS_FAILED`, `INVALID_INPUT` (no contact id). The PIN is never returned, logged or stored.
//!
//! Everything runs under the invocation's [`Deadline`]: the rate slot, the challenge and the SMS are
//! each started only when they can finish before Connect's answer is due, so a slow dependency makes
//! the flow take its Error branch instead of an SMS arriving for a call that has moved on.

use std::{collections::HashMap, sync::Arc};

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_pinpoint::types::{
    AddressConfiguration, ChannelType, DeliveryStatus, DirectMessageConfiguration, MessageRequest, MessageType,
    NumberValidateRequest, SmsMessage,
};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::{is_e164, is_enabled_admin, keys, pin, settings, settings::PinPolicy, EmergencyError};
use crate::{
    edge::connect::{ContactFlowEvent, FlowResult},
    platform::{
        config::{ConfigError, Settings},
        deadline::Deadline,
        prefetch::Prefetched,
        store::{self, StoreError},
        telemetry::mask_phone,
        time::{Clock, SystemClock},
    },
};

/// How the SMS is sent: `PINPOINT_APPLICATION_ID`, `SMS_SENDER_ID`, `SMS_ORIGINATION_NUMBER`.
#[derive(Debug, Clone)]
pub struct SmsSettings {
    pub application_id: String,
    pub sender_id: Option<String>,
    pub origination_number: Option<String>,
}

pub struct OneTimePin {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub pinpoint: aws_sdk_pinpoint::Client,
    pub table: String,
    pub sms: SmsSettings,
    pub policy: PinPolicy,
    /// Fetched from the first event on; awaited when the challenge is written.
    pub pepper: Prefetched<pin::Pepper>,
    pub clock: Arc<dyn Clock>,
}

impl OneTimePin {
    pub fn from_env(sdk: &SdkConfig, env: &Settings<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            pinpoint: aws_sdk_pinpoint::Client::new(sdk),
            table: settings::table(env)?,
            sms: SmsSettings {
                application_id: env.string("PINPOINT_APPLICATION_ID")?,
                sender_id: env.optional_string("SMS_SENDER_ID")?,
                origination_number: env.optional_string("SMS_ORIGINATION_NUMBER")?,
            },
            policy: PinPolicy::from_settings(env)?,
            pepper: pin::Pepper::prefetch(sdk, env)?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, event: ContactFlowEvent, deadline: Deadline) -> Result<FlowResult, EmergencyError> {
        let Some(contact) = event.initial_contact_id() else {
            return Ok(FlowResult::new("INVALID_INPUT").with("Field", "ContactId"));
        };
        let phone = event.parameter("phoneNumber").or(event.customer_address()).unwrap_or_default();
        if !is_e164(phone)
            || !deadline.run("GetItem admin", is_enabled_admin(&self.dynamodb, &self.table, phone)).await??
        {
            info!(phone = %mask_phone(phone), "PIN refused: not an enabled admin");
            return Ok(FlowResult::new("NOT_ADMIN"));
        }

        let phone_type = deadline.run("PhoneNumberValidate", self.phone_type(phone)).await??;
        if phone_type != "MOBILE" {
            info!(phone = %mask_phone(phone), phone_type, "PIN refused: not a mobile");
            return Ok(FlowResult::new("NOT_MOBILE").with("PhoneType", phone_type));
        }

        let now = self.clock.now();
        if !deadline.side_effect("UpdateItem send window", self.take_send_slot(phone, now)).await?? {
            info!(phone = %mask_phone(phone), "PIN refused: send rate limit reached");
            return Ok(FlowResult::new("RATE_LIMITED"));
        }

        let pin = pin::generate(self.policy.length).map_err(|e| EmergencyError::Random(e.to_string()))?;
        let salt = pin::new_salt().map_err(|e| EmergencyError::Random(e.to_string()))?;
        let pepper = deadline.run("the PIN pepper", self.pepper.get()).await??;
        deadline
            .side_effect("PutItem challenge", self.put_challenge(contact, phone, &salt, &pin, pepper, now))
            .await??;

        // The SMS is the side effect the caller must hear about: started only if it can finish.
        match deadline
            .side_effect("SendMessages", self.send_sms(phone, &pin))
            .await
            .unwrap_or_else(|late| Err(late.into()))
        {
            Ok(true) => {
                info!(phone = %mask_phone(phone), "PIN sent");
                Ok(FlowResult::new("SENT")
                    .with("PinLength", self.policy.length)
                    .with("ExpiresInSeconds", self.policy.ttl_seconds))
            }
            Ok(false) => {
                self.remove_unsent_challenge(contact, &salt, &deadline).await;
                warn!(phone = %mask_phone(phone), "PIN SMS not delivered");
                Ok(FlowResult::new("SMS_FAILED"))
            }
            Err(error) => {
                self.remove_unsent_challenge(contact, &salt, &deadline).await;
                Err(error)
            }
        }
    }

    /// Leaves nothing behind that the caller could never use, when there is time to: the challenge of
    /// a PIN nobody received is harmless (it expires with the PIN), so failing to remove it is logged,
    /// and the outcome that matters (SMS_FAILED or the error) is answered either way.
    async fn remove_unsent_challenge(&self, contact: &str, salt: &str, deadline: &Deadline) {
        let removed = deadline.side_effect("DeleteItem challenge", self.delete_challenge(contact, salt)).await;
        match removed.map_err(EmergencyError::from).and_then(|result| result.map_err(EmergencyError::from)) {
            Ok(()) => info!("unsent PIN's challenge removed"),
            Err(error) => warn!(error = %error, "unsent PIN's challenge left to expire"),
        }
    }

    async fn phone_type(&self, phone: &str) -> Result<String, EmergencyError> {
        let request = NumberValidateRequest::builder().phone_number(phone).build();
        let output = self
            .pinpoint
            .phone_number_validate()
            .number_validate_request(request)
            .send()
            .await
            .map_err(|e| pinpoint_error("PhoneNumberValidate", e))?;
        Ok(output.number_validate_response().and_then(|r| r.phone_type()).unwrap_or("INVALID").to_owned())
    }

    /// Counts one send in the number's current window, atomically: the condition refuses the
    /// increment once the window is full, so concurrent calls cannot overshoot.
    async fn take_send_slot(&self, phone: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let window = self.policy.window_seconds;
        let start = now.unix_timestamp() - now.unix_timestamp().rem_euclid(window);
        let result = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(store::key(keys::rate(phone), keys::rate_window(start))))
            .update_expression("ADD #count :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#count) OR #count < :max")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", store::n(1))
            .expression_attribute_values(":max", store::n(self.policy.sends_per_window))
            .expression_attribute_values(":ttl", store::n(start + window))
            .send()
            .await;
        Ok(store::conditional("UpdateItem", result)?.is_some())
    }

    /// Stores the challenge, replacing any earlier one of the same contact.
    async fn put_challenge(
        &self,
        contact: &str,
        phone: &str,
        salt: &str,
        pin: &pin::Pin,
        pepper: &pin::Pepper,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let expires_at = now.unix_timestamp() + self.policy.ttl_seconds;
        // Kept past the PIN's expiry for the admin session a verification opens.
        let ttl = expires_at + self.policy.admin_session_seconds;
        let mut item = store::key(keys::challenge(contact), keys::CHALLENGE);
        item.extend(HashMap::from([
            ("phone".to_owned(), store::s(phone)),
            ("salt".to_owned(), store::s(salt)),
            ("pinHash".to_owned(), store::s(pin::hash(pepper, salt, pin.digits()))),
            ("attempts".to_owned(), store::n(0)),
            ("expiresAt".to_owned(), store::n(expires_at)),
            ("ttl".to_owned(), store::n(ttl)),
        ]));
        self.dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutItem", e))?;
        Ok(())
    }

    /// Deletes this call's challenge only (the salt identifies it), never a newer one.
    async fn delete_challenge(&self, contact: &str, salt: &str) -> Result<(), StoreError> {
        let result = self
            .dynamodb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(store::key(keys::challenge(contact), keys::CHALLENGE)))
            .condition_expression("salt = :salt")
            .expression_attribute_values(":salt", store::s(salt))
            .send()
            .await;
        // A false condition means a newer challenge replaced ours: that one stays.
        store::conditional("DeleteItem", result)?;
        Ok(())
    }

    /// Sends the PIN; `Ok(true)` only when Pinpoint reports the address's delivery as successful.
    async fn send_sms(&self, phone: &str, pin: &pin::Pin) -> Result<bool, EmergencyError> {
        let minutes = (self.policy.ttl_seconds + 59) / 60;
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        let body = format!("Your one-time PIN is {}. It expires in {minutes} {unit}.", pin.digits());
        let sms = SmsMessage::builder()
            .body(body)
            .message_type(MessageType::Transactional)
            .set_sender_id(self.sms.sender_id.clone())
            .set_origination_number(self.sms.origination_number.clone())
            .build();
        let request = MessageRequest::builder()
            .addresses(phone, AddressConfiguration::builder().channel_type(ChannelType::Sms).build())
            .message_configuration(DirectMessageConfiguration::builder().sms_message(sms).build())
            .build();
        // One attempt only: a retried SendMessages can deliver the PIN twice, and a retry would not fit
        // in the deadline the send was started under.
        let output = self
            .pinpoint
            .send_messages()
            .application_id(&self.sms.application_id)
            .message_request(request)
            .customize()
            .config_override(aws_sdk_pinpoint::config::Builder::default().retry_config(RetryConfig::disabled()))
            .send()
            .await
            .map_err(|e| pinpoint_error("SendMessages", e))?;
        let status = output
            .message_response()
            .and_then(|r| r.result())
            .and_then(|results| results.get(phone))
            .and_then(|r| r.delivery_status().cloned());
        if status.as_ref() != Some(&DeliveryStatus::Successful) {
            warn!(delivery_status = ?status, "SMS delivery status");
        }
        Ok(status == Some(DeliveryStatus::Successful))
    }
}

fn pinpoint_error<E>(operation: &'static str, error: aws_sdk_pinpoint::error::SdkError<E>) -> EmergencyError
where
    E: std::error::Error + Send + Sync + 'static,
{
    EmergencyError::Pinpoint {
        operation,
        detail: aws_smithy_types::error::display::DisplayErrorContext(&error).to_string(),
    }
}
