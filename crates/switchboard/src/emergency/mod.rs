//! Secure emergency outage messages (spec: `specs/emergency.md`).
//!
//! Admins switch a location into an emergency state by phone after a one-time PIN sent by SMS;
//! customers calling that location hear the emergency message. Each function's behaviour is in its
//! own file: [`one_time_pin`], [`verify_pin`], [`check_emergency`], [`update_emergency`].

pub mod check_emergency;
pub mod one_time_pin;
pub mod pin;
pub mod settings;
pub mod update_emergency;
pub mod verify_pin;

pub use check_emergency::CheckEmergency;
pub use one_time_pin::OneTimePin;
pub use update_emergency::UpdateEmergency;
pub use verify_pin::VerifyPin;

use crate::platform::store::{self, Item, StoreError};

/// Infrastructure faults: these become Lambda errors, so the flow takes its Error branch.
/// Expected outcomes (bad input, wrong PIN, …) are `FlowResult` codes instead.
#[derive(Debug, thiserror::Error)]
pub enum EmergencyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Pinpoint {operation} failed: {detail}")]
    Pinpoint { operation: &'static str, detail: String },
    #[error("the OS random source failed: {0}")]
    Random(String),
    #[error("the state of {location} changed under {attempts} update attempts in a row")]
    Contention { location: String, attempts: u32 },
    #[error(transparent)]
    Deadline(#[from] crate::platform::deadline::DeadlineExceeded),
    /// A secret the function fetches once per process (the PIN pepper) could not be fetched.
    #[error(transparent)]
    Config(#[from] crate::platform::config::ConfigError),
}

impl crate::edge::connect::FlowFault for EmergencyError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Store(_) => "StoreError",
            Self::Pinpoint { .. } => "DependencyError",
            Self::Random(_) => "RandomSourceError",
            Self::Contention { .. } => "ContentionError",
            Self::Deadline(_) => "DeadlineExceeded",
            Self::Config(_) => "ConfigError",
        }
    }
}

/// Table keys, in one place (`specs/emergency.md`, "Data").
pub mod keys {
    pub const STATE: &str = "STATE";
    pub const ADMIN: &str = "ADMIN";
    pub const CHALLENGE: &str = "CHALLENGE";

    pub fn location(location: &str) -> String {
        format!("LOC#{location}")
    }
    pub fn audit(updated_at: &str, contact_id: &str) -> String {
        format!("AUDIT#{updated_at}#{contact_id}")
    }
    pub fn admin(e164: &str) -> String {
        format!("ADMIN#{e164}")
    }
    pub fn challenge(initial_contact_id: &str) -> String {
        format!("OTP#{initial_contact_id}")
    }
    pub fn rate(e164: &str) -> String {
        format!("OTPRATE#{e164}")
    }
    pub fn rate_window(start: i64) -> String {
        format!("WINDOW#{start}")
    }
}

/// A stored PIN challenge. `expires_at` and `verified_at` are epoch seconds.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub phone: String,
    pub salt: String,
    pub pin_hash: String,
    pub attempts: i64,
    pub expires_at: i64,
    pub verified_at: Option<i64>,
}

impl Challenge {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let field = |name: &str| {
            store::get_str(item, name)
                .map(str::to_owned)
                .ok_or_else(|| StoreError::malformed("GetItem", format!("challenge without {name}")))
        };
        Ok(Self {
            phone: field("phone")?,
            salt: field("salt")?,
            pin_hash: field("pinHash")?,
            attempts: store::get_i64(item, "attempts").unwrap_or_default(),
            expires_at: store::get_i64(item, "expiresAt")
                .ok_or_else(|| StoreError::malformed("GetItem", "challenge without expiresAt"))?,
            verified_at: store::get_i64(item, "verifiedAt"),
        })
    }
}

/// Reads the live challenge of a contact, strongly consistent (a verify right after a send must see it).
pub(crate) async fn read_challenge(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    contact: &str,
    now: time::OffsetDateTime,
) -> Result<Option<Challenge>, StoreError> {
    let item = store::get_item(dynamodb, table, store::key(keys::challenge(contact), keys::CHALLENGE)).await?;
    store::live(item, now).as_ref().map(Challenge::from_item).transpose()
}

/// Reads a location's state item, strongly consistent (an admin reads it back right after a change,
/// and an update must see the state it replaces).
pub(crate) async fn read_location_state(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    location: &str,
) -> Result<Option<Item>, StoreError> {
    store::get_item(dynamodb, table, store::key(keys::location(location), keys::STATE)).await
}

/// Whether `phone` is on the admin allow-list and enabled. Strongly consistent: disabling an admin
/// takes effect on the next call, not after replication.
pub(crate) async fn is_enabled_admin(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    phone: &str,
) -> Result<bool, StoreError> {
    let item = store::get_item(dynamodb, table, store::key(keys::admin(phone), keys::ADMIN)).await?;
    Ok(item.is_some_and(|item| store::get_bool(&item, "enabled") == Some(true)))
}

/// Whether `number` is E.164: `+`, a non-zero digit, then up to 14 more digits.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::is_e164;

    #[test]
    fn e164_numbers() {
        assert!(is_e164("+61412345678"));
        assert!(is_e164("+12"));
        assert!(!is_e164("61412345678"));
        assert!(!is_e164("+0412345678"));
        assert!(!is_e164("+61 412 345 678"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+"));
    }
}
