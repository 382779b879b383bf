//! `check-emergency`: read a location's emergency state.
//!
//! Input: `Parameters.location`. Results: `OK` (with `Emergency`, `EmergencyType`, `UpdatedAt`),
//! `NOT_SET_UP` (with `Emergency=false`), `UNKNOWN_LOCATION`. The customer flow treats anything but
//! `OK` — and the Error branch — as "no emergency", so callers are never stranded by a fault.

use aws_config::SdkConfig;

use super::{read_location_state, settings, settings::Names, EmergencyError};
use crate::{
    edge::connect::{ContactFlowEvent, FlowResult},
    platform::{
        config::{ConfigError, Settings},
        deadline::Deadline,
        store::{self, StoreError},
    },
};

pub struct CheckEmergency {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub locations: Names,
}

impl CheckEmergency {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: settings::table(env)?,
            locations: Names::from_settings(env, "EMERGENCY_LOCATIONS")?,
        })
    }

    pub async fn handle(&self, event: ContactFlowEvent, deadline: Deadline) -> Result<FlowResult, EmergencyError> {
        let Some(location) = event.parameter("location").and_then(|l| self.locations.find(l)) else {
            return Ok(FlowResult::new("UNKNOWN_LOCATION").with("Emergency", false));
        };
        let state = deadline.run("GetItem state", read_location_state(&self.dynamodb, &self.table, location)).await??;
        let Some(item) = state else {
            return Ok(FlowResult::new("NOT_SET_UP")
                .with("Emergency", false)
                .with("EmergencyType", super::update_emergency::NO_EMERGENCY));
        };
        let emergency = store::get_bool(&item, "emergency")
            .ok_or_else(|| StoreError::malformed("GetItem", "location state without emergency"))?;
        Ok(FlowResult::new("OK")
            .with("Emergency", emergency)
            .with(
                "EmergencyType",
                store::get_str(&item, "emergencyType").unwrap_or(super::update_emergency::NO_EMERGENCY),
            )
            .with("UpdatedAt", store::get_str(&item, "updatedAt").unwrap_or_default()))
    }
}
