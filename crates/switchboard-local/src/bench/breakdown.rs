//! Where a cold start goes, per function: the spans between the startup marks a function prints
//! with `SWITCHBOARD_STARTUP_PROFILE=1` (`switchboard::platform::startup`) and the two moments the host sees
//! itself (spawn, first poll of the Runtime API, response posted). Medians over the cold runs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The phases `switchboard::platform::startup` marks, by the names it prints (a test there checks they agree).
pub mod phase {
    pub const MAIN: &str = "main";
    pub const TRACING: &str = "tracing";
    pub const SDK_CONFIG: &str = "sdk config";
    pub const FUNCTION: &str = "function";
    pub const EVENT: &str = "event";
    pub const CONNECTOR_START: &str = "connector start";
    pub const CONNECTOR_DONE: &str = "connector done";
    pub const REQUEST_SENT: &str = "request sent";
    pub const RESPONSE: &str = "response";
    pub const SECRET_FETCH_START: &str = "secret fetch start";
    pub const SECRET_FETCH_DONE: &str = "secret fetch done";
}

/// Every phase, in the order a cold start passes them.
pub const PHASES: [&str; 11] = [
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

/// The variable that turns a function's marks on.
pub const PROFILE_VARIABLE: &str = "SWITCHBOARD_STARTUP_PROFILE";

const MARK_PREFIX: &str = "{\"startup_phase\":\"";

/// A mark line's phase and time (µs since the Unix epoch), if `line` is one:
/// `{"startup_phase":"<phase>","at_us":<µs>}`.
pub fn parse_mark(line: &str) -> Option<(&str, u128)> {
    let rest = line.strip_prefix(MARK_PREFIX)?;
    let (phase, rest) = rest.split_once("\",\"at_us\":")?;
    let at_us = rest.strip_suffix('}')?.parse().ok()?;
    Some((phase, at_us))
}

/// One cold process's marks, as µs since the Unix epoch, with the host's own moments.
#[derive(Debug, Clone, Default)]
pub struct ColdRun {
    pub spawned_us: f64,
    pub first_poll_us: f64,
    pub posted_us: f64,
    pub marks: Vec<(String, f64)>,
}

impl ColdRun {
    /// From the lines the process printed and the host's instants (as offsets from the spawn).
    pub fn new<'a>(
        spawned: SystemTime,
        first_poll: Duration,
        posted: Duration,
        lines: impl Iterator<Item = &'a str>,
    ) -> Self {
        let spawned_us = spawned.duration_since(UNIX_EPOCH).map(|d| d.as_micros() as f64).unwrap_or_default();
        let marks = lines.filter_map(parse_mark).map(|(phase, at_us)| (phase.to_owned(), at_us as f64)).collect();
        Self {
            spawned_us,
            first_poll_us: spawned_us + first_poll.as_micros() as f64,
            posted_us: spawned_us + posted.as_micros() as f64,
            marks,
        }
    }

    fn at(&self, phase: &str) -> Option<f64> {
        self.marks.iter().find(|(p, _)| p == phase).map(|(_, at)| *at)
    }

    fn span(&self, from: Option<f64>, to: Option<f64>) -> Option<f64> {
        Some((to? - from?) / 1_000.0)
    }

    /// The spans of this run (ms); `None` where a mark is missing (the floor prints none).
    pub fn spans(&self) -> Spans {
        let (main, tracing, sdk, function, event) = (
            self.at(phase::MAIN),
            self.at(phase::TRACING),
            self.at(phase::SDK_CONFIG),
            self.at(phase::FUNCTION),
            self.at(phase::EVENT),
        );
        let sent = self.at(phase::REQUEST_SENT);
        let first_request_at_init = match (sent, function) {
            (Some(sent), Some(function)) => Some(sent < function),
            _ => None,
        };
        Spans {
            process_start: self.span(Some(self.spawned_us), main),
            tracing: self.span(main, tracing),
            sdk_config: self.span(tracing, sdk),
            function_setup: self.span(sdk, function),
            runtime_start: self.span(function, Some(self.first_poll_us)),
            connector: self.span(self.at(phase::CONNECTOR_START), self.at(phase::CONNECTOR_DONE)),
            first_request: self.span(sent, self.at(phase::RESPONSE)),
            first_request_at_init,
            event_to_first_request: if first_request_at_init == Some(false) { self.span(event, sent) } else { None },
            handler: self.span(event, Some(self.posted_us)),
            secret_fetch: self.span(self.at(phase::SECRET_FETCH_START), self.at(phase::SECRET_FETCH_DONE)),
        }
    }
}

/// A cold start's spans, in ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spans {
    /// Spawn → `main` (exec, dynamic loading, the async runtime's threads).
    pub process_start: Option<f64>,
    /// The JSON log subscriber.
    pub tracing: Option<f64>,
    /// `aws::load`: region, credentials provider, endpoint settings, the HTTP client.
    pub sdk_config: Option<f64>,
    /// The function's `from_env`: settings, SDK clients, anything it loads at init.
    pub function_setup: Option<f64>,
    /// The edge's set-up until the runtime first polls for an event.
    pub runtime_start: Option<f64>,
    /// Building the first HTTPS connector (TLS roots, rustls configuration).
    pub connector: Option<f64>,
    /// The first AWS request on the wire: connection set-up plus the exchange.
    pub first_request: Option<f64>,
    /// Whether that first request was made at init (a secret or key fetched there).
    pub first_request_at_init: Option<bool>,
    /// Event received → first request sent (handler work, credentials, endpoint, signing, connector).
    pub event_to_first_request: Option<f64>,
    /// Event received → response posted.
    pub handler: Option<f64>,
    /// The once-per-process secret or key fetch (`switchboard::platform::prefetch`), where a function has one.
    #[serde(default)]
    pub secret_fetch: Option<f64>,
}

/// The median of each span over `runs`.
pub fn median(runs: &[Spans]) -> Spans {
    let column = |pick: fn(&Spans) -> Option<f64>| {
        let mut values: Vec<f64> = runs.iter().filter_map(pick).collect();
        (!values.is_empty()).then(|| super::percentile(&mut values, 50.0))
    };
    Spans {
        process_start: column(|s| s.process_start),
        tracing: column(|s| s.tracing),
        sdk_config: column(|s| s.sdk_config),
        function_setup: column(|s| s.function_setup),
        runtime_start: column(|s| s.runtime_start),
        connector: column(|s| s.connector),
        first_request: column(|s| s.first_request),
        first_request_at_init: runs.iter().find_map(|s| s.first_request_at_init),
        event_to_first_request: column(|s| s.event_to_first_request),
        handler: column(|s| s.handler),
        secret_fetch: column(|s| s.secret_fetch),
    }
}

/// The breakdown table's header.
pub const HEADER: &str = "| function | process start | tracing | SDK config | function set-up | runtime start | \
first request made | connector build | first request (connect + exchange) | event → first request | event → response | \
secret fetch |\n\
|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n";

/// One row of the breakdown table.
pub fn row(function: &str, s: &Spans) -> String {
    let ms = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.2}"));
    let made = match s.first_request_at_init {
        Some(true) => "at init",
        Some(false) => "in the call",
        None => "—",
    };
    format!(
        "| {function} | {} | {} | {} | {} | {} | {made} | {} | {} | {} | {} | {} |\n",
        ms(s.process_start),
        ms(s.tracing),
        ms(s.sdk_config),
        ms(s.function_setup),
        ms(s.runtime_start),
        ms(s.connector),
        ms(s.first_request),
        ms(s.event_to_first_request),
        ms(s.handler),
        ms(s.secret_fetch),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_become_spans() {
        let spawned = UNIX_EPOCH + Duration::from_secs(1_000);
        let base = 1_000_000_000.0;
        let line =
            |phase: &str, after_us: f64| format!("{MARK_PREFIX}{phase}\",\"at_us\":{}}}", (base + after_us) as u128);
        let lines = [
            line(phase::MAIN, 1_000.0),
            "{\"level\":\"INFO\"}".to_owned(),
            line(phase::TRACING, 1_200.0),
            line(phase::SDK_CONFIG, 1_500.0),
            line(phase::FUNCTION, 1_600.0),
            line(phase::EVENT, 2_000.0),
            line(phase::CONNECTOR_START, 2_100.0),
            line(phase::CONNECTOR_DONE, 2_400.0),
            line(phase::REQUEST_SENT, 2_500.0),
            line(phase::SECRET_FETCH_START, 2_050.0),
            line(phase::RESPONSE, 3_500.0),
            line(phase::SECRET_FETCH_DONE, 3_750.0),
        ];
        let run = ColdRun::new(
            spawned,
            Duration::from_micros(1_900),
            Duration::from_micros(4_000),
            lines.iter().map(String::as_str),
        );
        let spans = run.spans();
        assert_eq!(spans.process_start, Some(1.0));
        assert_eq!(spans.tracing, Some(0.2));
        assert_eq!(spans.sdk_config, Some(0.3));
        assert_eq!(spans.function_setup, Some(0.1));
        assert_eq!(spans.runtime_start, Some(0.3));
        assert_eq!(spans.connector, Some(0.3));
        assert_eq!(spans.first_request, Some(1.0));
        assert_eq!(spans.first_request_at_init, Some(false));
        assert_eq!(spans.event_to_first_request, Some(0.5));
        assert_eq!(spans.handler, Some(2.0));
        assert_eq!(spans.secret_fetch, Some(1.7));
        let table = row("f", &median(&[spans.clone(), spans]));
        assert!(
            table.starts_with(
                "| f | 1.00 | 0.20 | 0.30 | 0.10 | 0.30 | in the call | 0.30 | 1.00 | 0.50 | 2.00 | 1.70 |"
            ),
            "{table}"
        );

        assert_eq!(parse_mark("{\"level\":\"INFO\"}"), None);
        assert_eq!(parse_mark(&format!("{MARK_PREFIX}x\",\"at_us\":soon}}")), None);

        // The floor prints no marks: only what the host saw.
        let floor =
            ColdRun::new(spawned, Duration::from_micros(1_900), Duration::from_micros(2_000), std::iter::empty());
        assert_eq!(floor.spans().process_start, None);
        assert_eq!(floor.spans().handler, None);
    }
}
