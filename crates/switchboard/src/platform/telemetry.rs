//! Structured JSON logs, and the masking rules for personal data.
//!
//! Logs carry the Lambda request id through the runtime's invocation span. PINs, tokens and caller
//! attributes are never passed to a log macro; phone numbers only through [`mask_phone`].

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the JSON subscriber once, before the runtime starts. The level comes from
/// `AWS_LAMBDA_LOG_LEVEL` (the Lambda setting) or `RUST_LOG`, default `info`.
pub fn init() {
    crate::platform::startup::mark(crate::platform::startup::phase::MAIN);
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(|level| EnvFilter::new(level.to_lowercase()))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time() // CloudWatch stamps every line itself
        .with_ansi(false)
        .try_init();
    crate::platform::startup::mark(crate::platform::startup::phase::TRACING);
}

/// A phone number reduced to its last four digits, e.g. `***5678`. Shorter input is fully masked.
pub fn mask_phone(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() <= 4 {
        return "****".into();
    }
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("***{tail}")
}

#[cfg(test)]
mod tests {
    use super::mask_phone;

    #[test]
    fn masks_all_but_last_four_digits() {
        assert_eq!(mask_phone("+61412345678"), "***5678");
        assert_eq!(mask_phone("123"), "****");
        assert_eq!(mask_phone(""), "****");
    }
}
