//! Switchboard's domain crate: every function's behaviour. A function binary in `functions/` only
//! wires configuration, clients and one handler from here together.
//!
//! The edges — how an event arrives ([`edge`]):
//! - [`edge::connect`]: a Connect flow's `ContactFlowEvent` in, a flat string map with `Result` out.
//! - [`edge::http`]: API Gateway HTTP API requests, one error shape, the token's claims.
//! - [`edge::events`]: EventBridge rule targets.
//! - [`edge::custom_resource`]: CloudFormation custom resources, answered at their `ResponseURL`.
//!
//! The platform — what every context runs on ([`platform`]):
//! - [`platform::config`]: typed settings from the environment, read once.
//! - [`platform::aws`]: the SDK configuration, built once per cold start.
//! - [`platform::tls`]: the roots every HTTPS client trusts.
//! - [`platform::secrets`] and [`platform::prefetch`]: secret values by reference, fetched once in the background.
//! - [`platform::store`]: DynamoDB item helpers, TTL and failed conditions.
//! - [`platform::time`]: the one clock, movable in tests.
//! - [`platform::deadline`]: one deadline per Connect invocation.
//! - [`platform::connect_api`]: calling the Amazon Connect API.
//! - [`platform::telemetry`]: JSON logs and masking personal data.
//! - [`platform::startup`]: where a cold start's time goes.
//!
//! Shared by two contexts ([`shared`]): [`shared::meeting`] (the Chime meeting items) and
//! [`shared::connect_user`] (the Connect user behind a token and its cache).
//!
//! The contexts — each holds the whole behaviour of its functions, and imports only the edges, the
//! platform and `shared`, never another context:
//! - [`emergency`]: emergency outage messages behind a one-time PIN.
//! - [`identity`]: ID Contact, the caller identified by a DTMF code.
//! - [`agents`]: agent onboarding, CCP tokens and the Connect user cache.
//! - [`video`]: video meetings, the customer's chat and ad-hoc routes.
//! - [`recording`]: recording a video call, its lock and its playback.
//! - [`flows`]: contact flows from Git into Connect.
//! - [`desktop`]: publishing the agent desktop pages.

pub mod edge;
pub mod platform;
pub mod shared;

pub mod agents;
pub mod desktop;
pub mod emergency;
pub mod flows;
pub mod identity;
pub mod recording;
pub mod video;

#[cfg(test)]
mod tests {
    const CONTEXTS: &[&str] = &["agents", "desktop", "emergency", "flows", "identity", "recording", "video"];

    /// The lines of code (comments left out) of every `.rs` file under `src/<folder>`.
    fn code_lines(folder: &str) -> Vec<(std::path::PathBuf, String)> {
        let mut files = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(folder)];
        let mut lines = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            lines.extend(code.map(|line| (path.clone(), line.to_owned())));
        }
        lines
    }

    /// Fails when a line of `folder` names one of `contexts`: `crate::video::…`, or `video::{…}` /
    /// `video::x` inside a `use crate::{…}` block.
    fn assert_imports_none_of(folder: &str, contexts: &[&str]) {
        let lines = code_lines(folder);
        assert!(!lines.is_empty(), "no code under src/{folder}");
        for other in contexts.iter().filter(|other| **other != folder) {
            let needles = [format!("crate::{other}"), format!(" {other}::"), format!("super::super::{other}")];
            for (path, line) in &lines {
                for needle in &needles {
                    assert!(
                        !line.contains(needle.as_str()),
                        "{} imports the {other} context ({needle})",
                        path.display()
                    );
                }
            }
        }
    }

    /// Contexts import only the kernel (the edges, the platform and `shared`), never each other
    /// (DESIGN.md, "Where shared things live"): a helper two contexts need moves to `shared`.
    #[test]
    fn contexts_import_only_the_kernel() {
        for context in CONTEXTS {
            assert_imports_none_of(context, CONTEXTS);
        }
    }

    /// The kernel depends on no context: what a context needs from another is in `shared`, not reached
    /// for through it.
    #[test]
    fn the_kernel_imports_no_context() {
        for kernel in ["edge", "platform", "shared"] {
            assert_imports_none_of(kernel, CONTEXTS);
        }
    }
}
