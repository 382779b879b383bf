//! Where a cold start's time goes: phase marks for `make bench`'s breakdown.
//!
//! With `SWITCHBOARD_STARTUP_PROFILE=1` in its environment a function prints one line to stderr
//! per mark, `{"startup_phase":"<phase>","at_us":<µs since the Unix epoch>}`, and the bench host
//! (which knows when it spawned the process and when the runtime polled) turns them into spans.
//! Without the variable a mark is one relaxed atomic load: nothing is recorded or printed.

use std::{
    io::Write,
    sync::{
        atomic::{AtomicU8, Ordering},
        OnceLock,
    },
    time::{SystemTime, UNIX_EPOCH},
};

/// The variable that turns the marks on.
pub const PROFILE_VARIABLE: &str = "SWITCHBOARD_STARTUP_PROFILE";

/// The prefix every mark's line starts with, for the host to pick them out of the logs.
pub const MARK_PREFIX: &str = "{\"startup_phase\":\"";

/// A phase every function marks at the same place (the host lays its breakdown out by these).
pub mod phase {
    /// `main` began: the process is loaded and the async runtime started.
    pub const MAIN: &str = "main";
    /// The JSON log subscriber is installed.
    pub const TRACING: &str = "tracing";
    /// The SDK configuration is loaded (region, credentials provider, endpoints, HTTP client).
    pub const SDK_CONFIG: &str = "sdk config";
    /// The function's settings are read, its clients built and anything it loads at init loaded.
    pub const FUNCTION: &str = "function";
    /// An invocation reached the handler.
    pub const EVENT: &str = "event";
    /// The first HTTPS connector started being built (TLS roots, rustls configuration).
    pub const CONNECTOR_START: &str = "connector start";
    /// The first HTTPS connector is built.
    pub const CONNECTOR_DONE: &str = "connector done";
    /// The first AWS request was handed to the connector (after credentials, endpoint, signing).
    pub const REQUEST_SENT: &str = "request sent";
    /// The first AWS request's response arrived (connection set-up plus the exchange).
    pub const RESPONSE: &str = "response";
    /// A secret or key fetch began (`crate::platform::prefetch`: once per process, from the first event).
    pub const SECRET_FETCH_START: &str = "secret fetch start";
    /// That fetch ended (the values fetched and parsed, or an error).
    pub const SECRET_FETCH_DONE: &str = "secret fetch done";
}

const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
/// Phases already marked: only the first of each name is printed, so a warm process prints nothing.
static SEEN: OnceLock<std::sync::Mutex<Vec<&'static str>>> = OnceLock::new();

/// Whether marks are recorded (`SWITCHBOARD_STARTUP_PROFILE=1`).
pub fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        ON => true,
        OFF => false,
        _ => {
            let on = std::env::var_os(PROFILE_VARIABLE).is_some_and(|v| v == "1");
            STATE.store(if on { ON } else { OFF }, Ordering::Relaxed);
            on
        }
    }
}

/// Set when the first invocation reaches a handler: work started at init that need not delay the
/// runtime's first poll waits for it ([`crate::platform::prefetch`]).
static FIRST_EVENT: tokio::sync::SetOnce<()> = tokio::sync::SetOnce::const_new();

/// An invocation reached the edge's handler: marks [`phase::EVENT`] and releases [`first_event`].
pub fn invocation_started() {
    let _ = FIRST_EVENT.set(());
    mark(phase::EVENT);
}

/// Resolves once the first invocation has reached a handler.
pub async fn first_event() {
    FIRST_EVENT.wait().await;
}

/// Marks the end of `phase` now (its first occurrence only), when profiling is on.
pub fn mark(phase: &'static str) {
    if !enabled() {
        return;
    }
    let at_us = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or_default();
    let seen = SEEN.get_or_init(Default::default);
    let Ok(mut seen) = seen.lock() else { return };
    if seen.contains(&phase) {
        return;
    }
    seen.push(phase);
    // stderr is unbuffered: the line is out before the phase after it begins.
    let _ = writeln!(std::io::stderr(), "{MARK_PREFIX}{phase}\",\"at_us\":{at_us}}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bench host (switchboard-local, which this crate cannot depend on) reads these lines with
    /// its own parser and phase names: they must agree.
    #[test]
    fn the_bench_host_reads_every_mark() {
        use switchboard_local::bench::breakdown;
        let phases = [
            phase::MAIN,
            phase::TRACING,
            phase::SDK_CONFIG,
            phase::FUNCTION,
            phase::EVENT,
            phase::CONNECTOR_START,
            phase::CONNECTOR_DONE,
            phase::REQUEST_SENT,
            phase::RESPONSE,
            phase::SECRET_FETCH_START,
            phase::SECRET_FETCH_DONE,
        ];
        assert_eq!(breakdown::PHASES, phases);
        assert_eq!(breakdown::PROFILE_VARIABLE, PROFILE_VARIABLE);
        for name in phases {
            let line = format!("{MARK_PREFIX}{name}\",\"at_us\":1733212345678901}}");
            assert_eq!(breakdown::parse_mark(&line), Some((name, 1_733_212_345_678_901)));
        }
    }
}
