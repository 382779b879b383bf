//! Typed settings read once from the environment at cold start.
//!
//! A missing or malformed variable is a start-up error whose message names the variable, so a
//! misconfigured deploy fails its first init visibly instead of misbehaving on a call.

use std::{fmt::Display, ops::RangeInclusive, str::FromStr};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is not set")]
    Missing { name: String },
    #[error("environment variable {name} is malformed: {reason}")]
    Malformed { name: String, reason: String },
}

/// Logs a configuration error as one JSON line before the cold start fails, so the reason (which
/// names the variable) is in the function's log group, then hands it to `main` to return.
pub fn startup_failed(error: ConfigError) -> ConfigError {
    tracing::error!(error = %error, "cold start failed: configuration");
    error
}

/// Where settings come from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

/// Reads named settings from a [`Source`], with the error conventions above.
pub struct Settings<'a>(pub &'a dyn Source);

impl Settings<'_> {
    /// A required, non-blank string.
    pub fn string(&self, name: &str) -> Result<String, ConfigError> {
        self.optional_string(name)?.ok_or_else(|| ConfigError::Missing { name: name.into() })
    }

    /// A string that may be absent; blank counts as absent (CloudFormation passes "" for unset).
    pub fn optional_string(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.0.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
    }

    /// A number within bounds, or the default when the variable is absent.
    pub fn number<T>(&self, name: &str, default: T, bounds: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display + Copy,
        T::Err: Display,
    {
        let Some(raw) = self.optional_string(name)? else {
            return Ok(default);
        };
        let value: T = raw.parse().map_err(|e: T::Err| ConfigError::Malformed {
            name: name.into(),
            reason: format!("{raw:?} is not a number ({e})"),
        })?;
        if !bounds.contains(&value) {
            return Err(ConfigError::Malformed {
                name: name.into(),
                reason: format!("{value} is outside {}..={}", bounds.start(), bounds.end()),
            });
        }
        Ok(value)
    }

    /// A comma-separated list of non-blank names, at least one, no duplicates (case-insensitive).
    pub fn list(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        let raw = self.string(name)?;
        let items: Vec<String> = raw.split(',').map(|s| s.trim().to_owned()).collect();
        if items.iter().any(|s| s.is_empty()) {
            return Err(ConfigError::Malformed {
                name: name.into(),
                reason: "empty item in the comma-separated list".into(),
            });
        }
        for (i, item) in items.iter().enumerate() {
            if items[..i].iter().any(|other| other.eq_ignore_ascii_case(item)) {
                return Err(ConfigError::Malformed { name: name.into(), reason: format!("{item:?} is listed twice") });
            }
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn missing_and_blank_required_strings_name_the_variable() {
        let src = env(&[("BLANK", "  ")]);
        let s = Settings(&src);
        assert_eq!(s.string("ABSENT").unwrap_err().to_string(), "environment variable ABSENT is not set");
        assert!(s.string("BLANK").unwrap_err().to_string().contains("BLANK"));
    }

    #[test]
    fn numbers_default_parse_and_check_bounds() {
        let src = env(&[("LEN", "9"), ("BAD", "six"), ("OK", " 6 ")]);
        let s = Settings(&src);
        assert_eq!(s.number("NONE", 6u32, 4..=8).unwrap(), 6);
        assert_eq!(s.number("OK", 4u32, 4..=8).unwrap(), 6);
        let out_of_range = s.number("LEN", 6u32, 4..=8).unwrap_err().to_string();
        assert!(out_of_range.contains("LEN") && out_of_range.contains("4..=8"), "{out_of_range}");
        assert!(s.number("BAD", 6u32, 4..=8).unwrap_err().to_string().contains("BAD"));
    }

    #[test]
    fn lists_reject_empty_items_and_duplicates() {
        let src = env(&[("L", "Sydney, Manila ,Singapore"), ("E", "a,,b"), ("D", "Sydney,sydney")]);
        let s = Settings(&src);
        assert_eq!(s.list("L").unwrap(), ["Sydney", "Manila", "Singapore"]);
        assert!(s.list("E").is_err());
        assert!(s.list("D").unwrap_err().to_string().contains("twice"));
    }
}
