//! The emergency context's settings (template parameters → environment variables).

use crate::platform::config::{ConfigError, Settings};

/// PIN policy. Bounds follow the spec; the template enforces the same ones on its parameters.
#[derive(Debug, Clone)]
pub struct PinPolicy {
    /// `PIN_LENGTH`, 4–8 digits (default 6).
    pub length: u8,
    /// `PIN_TTL_SECONDS`, how long a PIN can be keyed in (default 120).
    pub ttl_seconds: i64,
    /// `PIN_MAX_ATTEMPTS`, wrong tries before the challenge locks (default 3).
    pub max_attempts: i64,
    /// `PIN_SENDS_PER_WINDOW`, challenges per number per window (default 3).
    pub sends_per_window: i64,
    /// `PIN_WINDOW_SECONDS`, the rate window (default 900).
    pub window_seconds: i64,
    /// `ADMIN_SESSION_SECONDS`, how long a verified PIN authorises updates (default 900).
    pub admin_session_seconds: i64,
}

impl PinPolicy {
    pub fn from_settings(env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            length: env.number("PIN_LENGTH", 6, 4..=8)?,
            ttl_seconds: env.number("PIN_TTL_SECONDS", 120, 30..=900)?,
            max_attempts: env.number("PIN_MAX_ATTEMPTS", 3, 1..=10)?,
            sends_per_window: env.number("PIN_SENDS_PER_WINDOW", 3, 1..=20)?,
            window_seconds: env.number("PIN_WINDOW_SECONDS", 900, 60..=86_400)?,
            admin_session_seconds: env.number("ADMIN_SESSION_SECONDS", 900, 60..=3_600)?,
        })
    }
}

impl Default for PinPolicy {
    fn default() -> Self {
        Self {
            length: 6,
            ttl_seconds: 120,
            max_attempts: 3,
            sends_per_window: 3,
            window_seconds: 900,
            admin_session_seconds: 900,
        }
    }
}

/// A configured set of names (locations, emergency types). Matching ignores case and surrounding
/// space and yields the configured spelling, so a flow's typo cannot create a new location.
#[derive(Debug, Clone)]
pub struct Names(Vec<String>);

impl Names {
    pub fn from_settings(env: &Settings, name: &str) -> Result<Self, ConfigError> {
        Ok(Self(env.list(name)?))
    }

    pub fn new(names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self(names.into_iter().map(Into::into).collect())
    }

    pub fn find(&self, input: &str) -> Option<&str> {
        let input = input.trim();
        self.0.iter().find(|n| n.eq_ignore_ascii_case(input)).map(String::as_str)
    }
}

/// The table name, `EMERGENCY_TABLE`.
pub fn table(env: &Settings) -> Result<String, ConfigError> {
    env.string("EMERGENCY_TABLE")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn names_match_case_insensitively_to_the_configured_spelling() {
        let names = Names::new(["Sydney", "Manila"]);
        assert_eq!(names.find(" sydney "), Some("Sydney"));
        assert_eq!(names.find("Sidney"), None);
    }

    #[test]
    fn pin_policy_defaults_and_bounds() {
        let empty: HashMap<String, String> = HashMap::new();
        let policy = PinPolicy::from_settings(&Settings(&empty)).unwrap();
        assert_eq!((policy.length, policy.ttl_seconds, policy.max_attempts), (6, 120, 3));
        let bad: HashMap<String, String> = HashMap::from([("PIN_LENGTH".into(), "9".into())]);
        let error = PinPolicy::from_settings(&Settings(&bad)).unwrap_err().to_string();
        assert!(error.contains("PIN_LENGTH"), "{error}");
    }
}
