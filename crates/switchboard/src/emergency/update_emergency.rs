//! `update-emergency`: set or remove a location's emergency, for a verified admin only.
//!
//! Input: `Parameters.location`, `Parameters.action` (`set` | `remove`), `Parameters.emergencyType`
//! (for `set`). Results: `UPDATED` (with `Emergency`, `EmergencyType`), `UNAUTHORIZED`,
//! `INVALID_INPUT` (with `Field`). The new state and an audit entry holding the previous state are
//! written in one transaction: both or neither. The admin must still be enabled at update time (an
//! admin disabled after verifying a PIN cannot finish the call's changes), and the transaction is
//! started only when it can finish before the invocation's deadline.

use std::{collections::HashMap, sync::Arc};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::{
    error::SdkError,
    operation::transact_write_items::TransactWriteItemsError,
    types::{AttributeValue, Put, TransactWriteItem},
};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::{
    is_enabled_admin, keys, read_challenge, read_location_state, settings, settings::Names, settings::PinPolicy,
    EmergencyError,
};
use crate::{
    edge::connect::{ContactFlowEvent, FlowResult},
    platform::{
        config::{ConfigError, Settings},
        deadline::Deadline,
        store::{self, Item, StoreError},
        telemetry::mask_phone,
        time::{rfc3339, Clock, SystemClock},
    },
};

/// The type stored when no emergency is set.
pub const NO_EMERGENCY: &str = "No Emergency";

/// Retries when another admin changed the same location between our read and our write, or was
/// writing it at the same moment (`TransactionConflict`).
const MAX_WRITE_ATTEMPTS: u32 = 3;

pub struct UpdateEmergency {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub locations: Names,
    pub emergency_types: Names,
    pub admin_session_seconds: i64,
    pub clock: Arc<dyn Clock>,
}

/// The state a location goes to.
struct Change<'a> {
    location: &'a str,
    emergency: bool,
    emergency_type: &'a str,
}

impl UpdateEmergency {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: settings::table(env)?,
            locations: Names::from_settings(env, "EMERGENCY_LOCATIONS")?,
            emergency_types: Names::from_settings(env, "EMERGENCY_TYPES")?,
            admin_session_seconds: PinPolicy::from_settings(env)?.admin_session_seconds,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, event: ContactFlowEvent, deadline: Deadline) -> Result<FlowResult, EmergencyError> {
        let now = self.clock.now();
        let Some(admin) = deadline.run("GetItem challenge", self.verified_admin(&event, now)).await?? else {
            info!("update refused: no verified PIN for this contact");
            return Ok(FlowResult::new("UNAUTHORIZED"));
        };
        if !deadline.run("GetItem admin", is_enabled_admin(&self.dynamodb, &self.table, &admin)).await?? {
            info!(admin = %mask_phone(&admin), "update refused: the admin is no longer enabled");
            return Ok(FlowResult::new("UNAUTHORIZED"));
        }
        let change = match self.parse_change(&event) {
            Ok(change) => change,
            Err(field) => return Ok(FlowResult::new("INVALID_INPUT").with("Field", field)),
        };
        let contact = event.contact_id().or(event.initial_contact_id()).unwrap_or_default();

        for attempt in 1..=MAX_WRITE_ATTEMPTS {
            let now = if attempt == 1 { now } else { self.clock.now() };
            let previous = deadline
                .run("GetItem state", read_location_state(&self.dynamodb, &self.table, change.location))
                .await??;
            let written = deadline
                .side_effect("TransactWriteItems state", self.write(&change, previous.as_ref(), &admin, contact, now));
            match written.await? {
                Ok(()) => {
                    info!(location = change.location, emergency = change.emergency,
                          emergency_type = change.emergency_type, admin = %mask_phone(&admin), "emergency state updated");
                    return Ok(FlowResult::new("UPDATED")
                        .with("Emergency", change.emergency)
                        .with("EmergencyType", change.emergency_type));
                }
                Err(e) if store::is_transaction_race_lost(&e) => {
                    warn!(location = change.location, attempt, "state changed concurrently; retrying");
                }
                Err(e) => return Err(StoreError::from_sdk("TransactWriteItems", e).into()),
            }
        }
        Err(EmergencyError::Contention { location: change.location.to_owned(), attempts: MAX_WRITE_ATTEMPTS })
    }

    /// The admin's number when the contact verified a PIN within the admin session, checked here on
    /// the server rather than trusted from the flow.
    async fn verified_admin(
        &self,
        event: &ContactFlowEvent,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let Some(contact) = event.initial_contact_id() else {
            return Ok(None);
        };
        let challenge = read_challenge(&self.dynamodb, &self.table, contact, now).await?;
        Ok(challenge
            .filter(|c| c.verified_at.is_some_and(|at| now.unix_timestamp() - at <= self.admin_session_seconds))
            .map(|c| c.phone))
    }

    /// The requested change, or the name of the parameter that is missing or not allowed.
    fn parse_change<'a>(&'a self, event: &ContactFlowEvent) -> Result<Change<'a>, &'static str> {
        let location = event.parameter("location").and_then(|l| self.locations.find(l)).ok_or("location")?;
        match event.parameter("action").map(str::to_ascii_lowercase).as_deref() {
            Some("set") => {
                let emergency_type = event
                    .parameter("emergencyType")
                    .and_then(|t| self.emergency_types.find(t))
                    .ok_or("emergencyType")?;
                Ok(Change { location, emergency: true, emergency_type })
            }
            Some("remove") => Ok(Change { location, emergency: false, emergency_type: NO_EMERGENCY }),
            _ => Err("action"),
        }
    }

    /// One transaction: the new state (only if the state is still the one we read) and the audit entry.
    async fn write(
        &self,
        change: &Change<'_>,
        previous: Option<&Item>,
        admin: &str,
        contact: &str,
        now: OffsetDateTime,
    ) -> Result<(), SdkError<TransactWriteItemsError>> {
        let updated_at = rfc3339(now);
        let mut state = store::key(keys::location(change.location), keys::STATE);
        state.extend(HashMap::from([
            ("emergency".to_owned(), AttributeValue::Bool(change.emergency)),
            ("emergencyType".to_owned(), store::s(change.emergency_type)),
            ("updatedAt".to_owned(), store::s(&updated_at)),
            ("updatedBy".to_owned(), store::s(admin)),
            ("contactId".to_owned(), store::s(contact)),
        ]));
        let state_put = match previous.and_then(|p| store::get_str(p, "updatedAt")) {
            Some(previous_at) => Put::builder()
                .condition_expression("updatedAt = :previous")
                .expression_attribute_values(":previous", store::s(previous_at)),
            None => Put::builder().condition_expression("attribute_not_exists(pk)"),
        }
        .table_name(&self.table)
        .set_item(Some(state));

        let mut audit = store::key(keys::location(change.location), keys::audit(&updated_at, contact));
        let previous_emergency = previous.and_then(|p| store::get_bool(p, "emergency")).unwrap_or(false);
        let previous_type = previous.and_then(|p| store::get_str(p, "emergencyType")).unwrap_or(NO_EMERGENCY);
        audit.extend(HashMap::from([
            ("previousEmergency".to_owned(), AttributeValue::Bool(previous_emergency)),
            ("previousEmergencyType".to_owned(), store::s(previous_type)),
            ("emergency".to_owned(), AttributeValue::Bool(change.emergency)),
            ("emergencyType".to_owned(), store::s(change.emergency_type)),
            ("updatedAt".to_owned(), store::s(&updated_at)),
            ("updatedBy".to_owned(), store::s(admin)),
            ("contactId".to_owned(), store::s(contact)),
        ]));
        let audit_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(audit))
            .condition_expression("attribute_not_exists(pk)");

        let state_put = state_put.build().map_err(SdkError::construction_failure)?;
        let audit_put = audit_put.build().map_err(SdkError::construction_failure)?;
        self.dynamodb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(state_put).build())
            .transact_items(TransactWriteItem::builder().put(audit_put).build())
            .send()
            .await?;
        Ok(())
    }
}
