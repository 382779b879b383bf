//! The one clock. Handlers take a [`Clock`] so tests can move time instead of sleeping.

use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// Wall-clock time, UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock tests set and advance by hand. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn advance(&self, by: time::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl ManualClock {
    /// The current time in epoch seconds, for building fixtures.
    pub fn now_epoch(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// RFC 3339 in UTC with millisecond precision, the format every stored timestamp uses.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let at = at.replace_millisecond(at.millisecond()).unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_advances_all_clones() {
        let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
        let other = clock.clone();
        clock.advance(time::Duration::seconds(90));
        assert_eq!(other.now(), datetime!(2026-01-01 00:01:30 UTC));
    }

    #[test]
    fn rfc3339_is_utc_milliseconds() {
        let at = datetime!(2026-03-04 05:06:07.891_999 +02:00);
        assert_eq!(rfc3339(at), "2026-03-04T03:06:07.891Z");
    }
}
