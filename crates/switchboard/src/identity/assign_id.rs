//! `assign-id` (Connect): links the call to the session whose DTMF code the caller keyed.
//!
//! Input: `Parameters.dtmf`, else the contact attribute `dtmf`; a trailing `#` and spaces are dropped.
//! Both `InitialContactId` and `ContactId` are linked, so the session still resolves after a
//! transfer. Results: `LINKED` (with `Purpose`, `HasResult`, `AuthStatus` = `succes|failed|pending`),
//! `UNKNOWN_CODE`, `INVALID_CODE`, `EXPIRED`, and `LOCKED` once a contact has keyed
//! `MAX_CODE_ATTEMPTS` wrong codes (so codes cannot be enumerated from one call). The counted wrong
//! code and the links are written only when they can finish before the invocation's deadline.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::{key, keys, pointer_item, read_item, read_session, IdentitySettings};
use crate::{
    edge::connect::{ContactFlowEvent, FlowResult},
    platform::{
        config::{ConfigError, Settings},
        deadline::{Deadline, DeadlineExceeded},
        store::{self, StoreError},
        time::{Clock, SystemClock},
    },
};

/// Infrastructure faults: Lambda errors, so the flow takes its Error branch.
#[derive(Debug, thiserror::Error)]
pub enum AssignIdError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Deadline(#[from] DeadlineExceeded),
}

impl crate::edge::connect::FlowFault for AssignIdError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Store(_) => "StoreError",
            Self::Deadline(_) => "DeadlineExceeded",
        }
    }
}

/// Tries of the linking transaction when it meets another write to the same session.
const MAX_LINK_ATTEMPTS: u32 = 3;

pub struct AssignId {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub settings: IdentitySettings,
    pub clock: Arc<dyn Clock>,
}

impl AssignId {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            settings: IdentitySettings::from_settings(env)?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, event: ContactFlowEvent, deadline: Deadline) -> Result<FlowResult, AssignIdError> {
        let Some(initial) = event.initial_contact_id().map(str::to_owned) else {
            return Ok(FlowResult::new("INVALID_CODE"));
        };
        let contact = event.contact_id().unwrap_or(&initial).to_owned();
        let now = self.clock.now();
        if deadline.run("GetItem attempts", self.wrong_codes(&initial, now)).await?? >= self.settings.max_code_attempts
        {
            return Ok(FlowResult::new("LOCKED"));
        }

        let attribute = event.details.contact_data.attributes.get("dtmf").and_then(|v| v.as_str());
        let keyed = event.parameter("dtmf").or(attribute).unwrap_or_default();
        let code = keyed.trim().trim_end_matches('#').trim();
        if code.len() != self.settings.dtmf_length || !code.bytes().all(|b| b.is_ascii_digit()) {
            return self.wrong_code(&initial, now, "INVALID_CODE", &deadline).await;
        }
        let pointer = deadline.run("GetItem code", read_item(&self.dynamodb, &self.settings.table, keys::dtmf(code)));
        let Some(pointer) = pointer.await?? else {
            return self.wrong_code(&initial, now, "UNKNOWN_CODE", &deadline).await;
        };
        if !store::is_live(&pointer, now) {
            return Ok(FlowResult::new("EXPIRED"));
        }
        let session_id = store::get_str(&pointer, "sessionId").unwrap_or_default();
        let session =
            deadline.run("GetItem session", read_session(&self.dynamodb, &self.settings.table, session_id, now));
        let Some(session) = session.await?? else {
            return Ok(FlowResult::new("EXPIRED"));
        };

        deadline
            .side_effect("TransactWriteItems links", self.link(&session.id, session.ttl, &initial, &contact))
            .await??;
        tracing::info!(auth_status = session.auth_status(), "contact linked to its session");
        Ok(FlowResult::new("LINKED")
            .with("Purpose", &session.purpose)
            .with("HasResult", session.result.is_some())
            .with("AuthStatus", session.auth_status()))
    }

    async fn wrong_codes(&self, initial: &str, now: OffsetDateTime) -> Result<i64, StoreError> {
        let item = store::live(read_item(&self.dynamodb, &self.settings.table, keys::attempts(initial)).await?, now);
        Ok(item.and_then(|i| store::get_i64(&i, "count")).unwrap_or(0))
    }

    /// Counts a wrong code for the contact, atomically and only up to the limit; `LOCKED` past it.
    async fn wrong_code(
        &self,
        initial: &str,
        now: OffsetDateTime,
        code: &str,
        deadline: &Deadline,
    ) -> Result<FlowResult, AssignIdError> {
        let outcome = self
            .dynamodb
            .update_item()
            .table_name(&self.settings.table)
            .set_key(Some(key(keys::attempts(initial))))
            .update_expression("ADD #count :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#count) OR #count < :max")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", store::n(1))
            .expression_attribute_values(":max", store::n(self.settings.max_code_attempts))
            .expression_attribute_values(":ttl", store::n(now.unix_timestamp() + self.settings.session_ttl_seconds))
            .send();
        match store::conditional("UpdateItem", deadline.side_effect("UpdateItem attempts", outcome).await?)? {
            Some(_) => {
                tracing::info!(result = code, "wrong session code");
                Ok(FlowResult::new(code))
            }
            None => Ok(FlowResult::new("LOCKED")),
        }
    }

    /// Contact pointers for both ids and the ids on the session, in one transaction.
    async fn link(&self, session_id: &str, ttl: i64, initial: &str, contact: &str) -> Result<(), StoreError> {
        let table = &self.settings.table;
        let pointer = |id: &str| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(pointer_item(keys::contact(id), session_id, ttl)))
                .build()
                .map_err(|e| StoreError::malformed("TransactWriteItems", e.to_string()))?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let mut ids = vec![initial.to_owned()];
        if contact != initial {
            ids.push(contact.to_owned());
        }
        let mut writes = ids.iter().map(|id| pointer(id)).collect::<Result<Vec<_>, _>>()?;
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key(keys::session(session_id))))
            .update_expression("ADD linkedContactIds :ids")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":ids", AttributeValue::Ss(ids))
            .build()
            .map_err(|e| StoreError::malformed("TransactWriteItems", e.to_string()))?;
        writes.push(TransactWriteItem::builder().update(update).build());
        // Callers re-dialling one session, or a transfer linking at the same moment, write the same
        // session item: DynamoDB cancels one transaction with TransactionConflict. The writes are
        // idempotent (pointer puts, a set ADD), so the same transaction is simply sent again.
        let mut attempt = 1;
        loop {
            let sent = self.dynamodb.transact_write_items().set_transact_items(Some(writes.clone())).send().await;
            match sent {
                Ok(_) => return Ok(()),
                Err(e) if store::is_transaction_conflict(&e) && attempt < MAX_LINK_ATTEMPTS => {
                    tracing::warn!(attempt, "linking met a concurrent write to the session; retrying");
                    attempt += 1;
                }
                Err(e) => return Err(StoreError::from_sdk("TransactWriteItems", e)),
            }
        }
    }
}
