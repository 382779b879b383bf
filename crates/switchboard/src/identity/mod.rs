//! ID Contact over Amazon Connect (spec: `specs/identity.md`).
//!
//! The ID Contact core starts a session ([`start_session`]) and gets a `tel:` URL with a DTMF code;
//! an authentication plugin posts the signed and encrypted result ([`receive_auth_result`]); the
//! caller keys the code and the flow links the call ([`assign_id`]); the agent on that contact, and
//! only that agent, reads the verified attributes ([`session_info`]).

pub mod assign_id;
pub mod jose;
pub mod receive_auth_result;
pub mod session_info;
pub mod start_session;

pub use assign_id::AssignId;
pub use receive_auth_result::ReceiveAuthResult;
pub use session_info::SessionInfo;
pub use start_session::StartSession;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use rand::{rngs::StdRng, rngs::SysRng, RngExt, SeedableRng};
use time::OffsetDateTime;

use crate::platform::{
    config::{ConfigError, Settings},
    store::{self, Item, StoreError},
};
use jose::AuthResult;

/// The context's settings (template parameters → environment variables).
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// `IDENTITY_TABLE`.
    pub table: String,
    /// `DTMF_LENGTH`, 6–16 digits (default 10).
    pub dtmf_length: usize,
    /// `SESSION_TTL_SECONDS`, 300–86400 (default 3600).
    pub session_ttl_seconds: i64,
    /// `CLOCK_SKEW_SECONDS`, leeway for `exp`/`iat`, 0–300 (default 60).
    pub clock_skew_seconds: i64,
    /// `MAX_CODE_ATTEMPTS`, wrong codes a contact may key, 1–10 (default 3).
    pub max_code_attempts: i64,
}

impl IdentitySettings {
    pub fn from_settings(env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            table: env.string("IDENTITY_TABLE")?,
            dtmf_length: env.number("DTMF_LENGTH", 10, 6..=16)?,
            session_ttl_seconds: env.number("SESSION_TTL_SECONDS", 3600, 300..=86_400)?,
            clock_skew_seconds: env.number("CLOCK_SKEW_SECONDS", 60, 0..=300)?,
            max_code_attempts: env.number("MAX_CODE_ATTEMPTS", 3, 1..=10)?,
        })
    }
}

/// Table keys (`specs/identity.md`, "Data").
pub mod keys {
    pub fn session(id: &str) -> (String, String) {
        (format!("SESSION#{id}"), "SESSION".into())
    }
    pub fn dtmf(code: &str) -> (String, String) {
        (format!("DTMF#{code}"), "DTMF".into())
    }
    pub fn result(code: &str) -> (String, String) {
        (format!("RESULT#{code}"), "RESULT".into())
    }
    pub fn contact(id: &str) -> (String, String) {
        (format!("CONTACT#{id}"), "CONTACT".into())
    }
    /// Wrong codes keyed on one contact.
    pub fn attempts(initial_contact_id: &str) -> (String, String) {
        (format!("ATTEMPTS#{initial_contact_id}"), "ATTEMPTS".into())
    }
}

fn key((pk, sk): (String, String)) -> Item {
    store::key(pk, sk)
}

/// Where session codes come from. Production draws from the OS CSPRNG; tests can force collisions.
pub trait CodeSource: Send + Sync {
    fn dtmf(&self, length: usize) -> Result<String, String>;
    fn result_code(&self) -> Result<String, String>;
    fn session_id(&self) -> Result<String, String>;
}

/// Codes from a generator seeded by the OS for each code.
pub struct OsCodes;

impl OsCodes {
    fn draw(length: usize, alphabet: &[u8]) -> Result<String, String> {
        let mut rng = StdRng::try_from_rng(&mut SysRng).map_err(|e| e.to_string())?;
        Ok((0..length).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect())
    }
}

impl CodeSource for OsCodes {
    fn dtmf(&self, length: usize) -> Result<String, String> {
        Self::draw(length, b"0123456789")
    }
    fn result_code(&self) -> Result<String, String> {
        Self::draw(32, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    }
    fn session_id(&self) -> Result<String, String> {
        Self::draw(32, b"0123456789abcdef")
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub purpose: String,
    pub result: Option<AuthResult>,
    pub ttl: i64,
}

impl Session {
    fn from_item(id: &str, item: &Item) -> Self {
        let result = store::get_str(item, "status").map(|status| AuthResult {
            status: status.to_owned(),
            attributes: item
                .get("attributes")
                .and_then(|a| a.as_m().ok())
                .map(|m| m.iter().filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone()))).collect())
                .unwrap_or_default(),
            session_url: store::get_str(item, "sessionUrl").map(str::to_owned),
        });
        Self {
            id: id.to_owned(),
            purpose: store::get_str(item, "purpose").unwrap_or_default().to_owned(),
            result,
            ttl: store::get_i64(item, "ttl").unwrap_or_default(),
        }
    }

    /// `succes`, `failed` or `pending`.
    pub fn auth_status(&self) -> &str {
        self.result.as_ref().map_or("pending", |r| r.status.as_str())
    }
}

/// The item as stored by a pointer (`DTMF#`, `RESULT#`, `CONTACT#`), even past its TTL, so a caller
/// can tell "expired" from "unknown".
async fn read_item(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    key_: (String, String),
) -> Result<Option<Item>, StoreError> {
    store::get_item(dynamodb, table, key(key_)).await
}

/// A pointer item (`DTMF#`, `RESULT#`, `CONTACT#`) to a session, expiring with it.
fn pointer_item(key_: (String, String), session_id: &str, ttl: i64) -> Item {
    let mut item = key(key_);
    item.insert("sessionId".to_owned(), store::s(session_id));
    item.insert("ttl".to_owned(), store::n(ttl));
    item
}

/// The live session a pointer leads to.
async fn session_via(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    pointer: (String, String),
    now: OffsetDateTime,
) -> Result<Option<Session>, StoreError> {
    let Some(pointer) = store::live(read_item(dynamodb, table, pointer).await?, now) else {
        return Ok(None);
    };
    let Some(id) = store::get_str(&pointer, "sessionId") else {
        return Ok(None);
    };
    read_session(dynamodb, table, id, now).await
}

async fn read_session(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &str,
    now: OffsetDateTime,
) -> Result<Option<Session>, StoreError> {
    let item = store::live(read_item(dynamodb, table, keys::session(id)).await?, now);
    Ok(item.map(|item| Session::from_item(id, &item)))
}

/// The attributes that store a verified result on a session item.
fn result_attributes(result: &AuthResult, now: OffsetDateTime) -> HashMap<String, AttributeValue> {
    let mut attributes = HashMap::from([
        ("status".to_owned(), store::s(&result.status)),
        (
            "attributes".to_owned(),
            AttributeValue::M(result.attributes.iter().map(|(k, v)| (k.clone(), store::s(v))).collect()),
        ),
        ("resultAt".to_owned(), store::n(now.unix_timestamp())),
    ]);
    if let Some(url) = &result.session_url {
        attributes.insert("sessionUrl".to_owned(), store::s(url));
    }
    attributes
}

/// The agent-facing view of a result, in the original shape.
pub fn auth_result_json(result: &AuthResult) -> serde_json::Value {
    let mut value = serde_json::json!({"status": result.status, "attributes": result.attributes});
    if let Some(url) = &result.session_url {
        value["session_url"] = serde_json::Value::String(url.clone());
    }
    value
}
