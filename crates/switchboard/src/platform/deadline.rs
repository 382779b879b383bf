//! One deadline per Connect invocation.
//!
//! Amazon Connect waits at most 8 s for a flow function, whatever the per-call SDK time-outs add up
//! to (`one-time-pin` makes up to six calls of up to 5 s each). A handler therefore runs under one
//! deadline — the invocation's own deadline less a margin, at most [`Deadline::MAX`] — and:
//! - wraps every AWS call in [`Deadline::run`], so a slow dependency ends the invocation in time
//!   (the flow takes its Error branch) instead of Connect giving up on a function still working;
//! - runs a side effect it must report (an SMS, a state change) with [`Deadline::side_effect`], which
//!   never starts one that could not finish before the answer is due.

use std::{future::Future, time::Duration};

use tokio::time::Instant;

/// The invocation ran out of time before `step`. Its message is safe to log and to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DeadlineExceeded: not enough time left for {step} before Connect's deadline")]
pub struct DeadlineExceeded {
    pub step: &'static str,
}

/// The time from now until `deadline_epoch_ms` (a Lambda invocation's deadline), zero once past.
pub fn until_epoch_ms(deadline_epoch_ms: u64) -> Duration {
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    Duration::from_millis(u64::try_from(u128::from(deadline_epoch_ms).saturating_sub(now_ms)).unwrap_or(0))
}

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// Connect's own limit less a second: a flow function answers in at most 7 s.
    pub const MAX: Duration = Duration::from_secs(7);
    /// Left for the runtime to post the answer and for Connect to receive it.
    pub const MARGIN: Duration = Duration::from_millis(500);
    /// What one AWS call that must finish is given: the per-attempt time-out of
    /// [`crate::platform::aws::connect_timeouts`], which a healthy call ends well within.
    pub const CALL_BUDGET: Duration = Duration::from_millis(2_000);

    /// `within` from now, capped at [`Deadline::MAX`].
    pub fn after(within: Duration) -> Self {
        Self { at: Instant::now() + within.min(Self::MAX) }
    }

    /// The deadline of a Lambda invocation: its `deadline` (epoch milliseconds) less [`Self::MARGIN`],
    /// capped at [`Self::MAX`] from now (a function's timeout may be longer than Connect waits).
    pub fn for_invocation(deadline_epoch_ms: u64) -> Self {
        Self::after(until_epoch_ms(deadline_epoch_ms).saturating_sub(Self::MARGIN))
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Refuses to start `step` unless `needed` still fits before the deadline.
    pub fn ensure(&self, step: &'static str, needed: Duration) -> Result<(), DeadlineExceeded> {
        if self.remaining() < needed {
            tracing::warn!(step, remaining_ms = self.remaining().as_millis() as u64, "deadline: step not started");
            return Err(DeadlineExceeded { step });
        }
        Ok(())
    }

    /// Starts `call`, a side effect the caller must hear about, only if a whole attempt
    /// ([`Self::CALL_BUDGET`]) still fits before the deadline, then runs it under the deadline.
    pub async fn side_effect<F: Future>(&self, step: &'static str, call: F) -> Result<F::Output, DeadlineExceeded> {
        self.ensure(step, Self::CALL_BUDGET)?;
        self.run(step, call).await
    }

    /// Runs `call` until it ends or the deadline passes, whichever is first.
    pub async fn run<F: Future>(&self, step: &'static str, call: F) -> Result<F::Output, DeadlineExceeded> {
        tokio::time::timeout_at(self.at, call).await.map_err(|_| {
            tracing::warn!(step, "deadline: step cut short");
            DeadlineExceeded { step }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time, short spans: tokio's paused clock needs its `test-util` feature, which would change
    // the workspace's tokio feature set and rebuild every SDK crate.

    #[tokio::test]
    async fn the_deadline_is_the_invocations_less_a_margin_and_never_more_than_seven_seconds() {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        let remaining = Deadline::for_invocation(now_ms + 3_000).remaining();
        assert!(remaining <= Duration::from_millis(2_500) && remaining > Duration::from_millis(2_000), "{remaining:?}");
        let capped = Deadline::for_invocation(now_ms + 900_000).remaining();
        assert!(capped <= Deadline::MAX && capped > Deadline::MAX - Duration::from_millis(500), "{capped:?}");
        assert_eq!(Deadline::for_invocation(now_ms.saturating_sub(10)).remaining(), Duration::ZERO, "already past");
        assert_eq!(Deadline::for_invocation(0).remaining(), Duration::ZERO);
    }

    #[tokio::test]
    async fn ensure_refuses_a_step_that_does_not_fit() {
        let deadline = Deadline::after(Duration::from_millis(400));
        assert!(deadline.ensure("send", Duration::from_millis(300)).is_ok());
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(deadline.ensure("send", Duration::from_millis(300)), Err(DeadlineExceeded { step: "send" }));
    }

    #[tokio::test]
    async fn a_side_effect_that_would_not_fit_is_never_started() {
        let started = std::sync::atomic::AtomicBool::new(false);
        let deadline = Deadline::after(Deadline::CALL_BUDGET - Duration::from_millis(1));
        let refused = deadline.side_effect("send", async { started.store(true, std::sync::atomic::Ordering::SeqCst) });
        assert_eq!(refused.await, Err(DeadlineExceeded { step: "send" }));
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst), "the call never ran");
        assert_eq!(Deadline::after(Deadline::MAX).side_effect("send", async { 7 }).await, Ok(7));
    }

    #[tokio::test]
    async fn run_cuts_a_slow_call_short_at_the_deadline() {
        let deadline = Deadline::after(Duration::from_millis(200));
        assert_eq!(deadline.run("fast", async { 7 }).await, Ok(7));
        let started = std::time::Instant::now();
        let slow = deadline.run("slow", tokio::time::sleep(Duration::from_secs(10))).await;
        assert_eq!(slow, Err(DeadlineExceeded { step: "slow" }));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
