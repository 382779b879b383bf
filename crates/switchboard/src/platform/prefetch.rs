//! A secret or key a function needs on most calls, fetched in the background from the first event.
//!
//! Fetching it inside `from_env` put a network round trip (and, for keys, their parsing) in front
//! of the runtime's first poll: 6-11 ms of init in bench/results.md. Started at init, the fetch
//! competed for the CPU with the runtime's own start (2-3 ms later first poll on 2 cores). Now it
//! starts when the first invocation arrives ([`crate::platform::startup::first_event`]) and runs beside the
//! call's own first requests; the call awaits it where it first needs the value, and warm calls read
//! the stored value. The variable naming the secret is still read and checked at init, so a missing
//! setting fails the cold start as before; a failed fetch is not kept: the call that needed it fails
//! (its Error branch, a 502) and the next call fetches again.

use std::{future::Future, pin::Pin, sync::Arc};

use tokio::sync::OnceCell;

use crate::platform::config::ConfigError;

type Fetch<T> = dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, ConfigError>> + Send>> + Send + Sync;

/// A value fetched once per process, from the first event on (see the module).
pub struct Prefetched<T> {
    value: Arc<OnceCell<T>>,
    fetch: Arc<Fetch<T>>,
}

impl<T: Send + Sync + 'static> Prefetched<T> {
    /// Starts `fetch` in the background when the first invocation arrives (call it inside a Tokio
    /// runtime: a function's `main`); a call that needs the value first runs it itself.
    pub fn start<F, Fut>(fetch: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, ConfigError>> + Send + 'static,
    {
        let fetch = Arc::new(fetch);
        let fetch: Arc<Fetch<T>> = Arc::new(move || {
            let fetching = fetch();
            Box::pin(async move {
                crate::platform::startup::mark(crate::platform::startup::phase::SECRET_FETCH_START);
                let fetched = fetching.await;
                crate::platform::startup::mark(crate::platform::startup::phase::SECRET_FETCH_DONE);
                fetched
            })
        });
        let value = Arc::new(OnceCell::new());
        let (background_value, background_fetch) = (value.clone(), fetch.clone());
        tokio::spawn(async move {
            crate::platform::startup::first_event().await;
            if let Err(error) = background_value.get_or_try_init(|| background_fetch()).await {
                tracing::error!(error = %error, "fetching in the background failed; the call that needs it tries again");
            }
        });
        Self { value, fetch }
    }

    /// A value already at hand (tests, local tools).
    pub fn ready(value: T) -> Self {
        // The cell is full, so this fetch is never called.
        let fetch: Arc<Fetch<T>> =
            Arc::new(|| Box::pin(async { Err(ConfigError::Missing { name: "a prefetched value".into() }) }));
        Self { value: Arc::new(OnceCell::new_with(Some(value))), fetch }
    }

    /// The value: the background fetch's, waited for if it is still running, or a new fetch if it
    /// failed. Concurrent callers share one fetch.
    pub async fn get(&self) -> Result<&T, ConfigError> {
        self.value.get_or_try_init(|| (self.fetch)()).await
    }
}

impl<T> std::fmt::Debug for Prefetched<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the value: it is a secret.
        f.debug_struct("Prefetched").field("fetched", &self.value.initialized()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn the_background_fetch_is_shared_and_a_failure_is_tried_again() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let fetched = Prefetched::start(move || {
            let call = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                if call == 0 {
                    Err(ConfigError::Malformed { name: "PIN_PEPPER".into(), reason: "throttled".into() })
                } else {
                    Ok(format!("value {call}"))
                }
            }
        });
        // The first use waits for the background fetch, which fails: this call gets its error…
        let first = fetched.get().await;
        assert!(first.is_err_and(|e| e.to_string().contains("throttled")));
        // …and the next calls (two at once) share one new fetch, whose value then stays.
        let (a, b) = tokio::join!(fetched.get(), fetched.get());
        assert_eq!((a.unwrap().as_str(), b.unwrap().as_str()), ("value 1", "value 1"));
        assert_eq!(fetched.get().await.unwrap(), "value 1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(format!("{fetched:?}"), "Prefetched { fetched: true }");
    }

    #[tokio::test]
    async fn a_ready_value_needs_no_fetch() {
        assert_eq!(*Prefetched::ready(7).get().await.unwrap(), 7);
    }
}
