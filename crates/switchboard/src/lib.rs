//! Switchboard's domain crate.
//!
//! The kernel modules (`config`, `aws`, `connect`, `http`, `store`, `time`, `telemetry`) are shared by
//! every context; each context module (`emergency`, …) holds the whole behaviour of its functions.
//! Function binaries in `functions/` only wire configuration, clients and one handler together.

pub mod aws;
pub mod config;
pub mod connect;
pub mod connect_api;
pub mod custom_resource;
pub mod deadline;
pub mod desktop;
pub mod emergency;
pub mod events;
pub mod flows;
pub mod http;
pub mod identity;
pub mod prefetch;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod video;

#[cfg(test)]
mod tests {
    /// Contexts import only the kernel, never each other (DESIGN.md, "Where shared things live"): a
    /// helper two contexts need moves to the kernel.
    #[test]
    fn contexts_import_only_the_kernel() {
        const CONTEXTS: &[&str] = &["desktop", "emergency", "flows", "identity", "video"];
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for context in CONTEXTS {
            let mut files = vec![src.join(context)];
            while let Some(path) = files.pop() {
                if path.is_dir() {
                    files.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
                    continue;
                }
                if path.extension().is_none_or(|ext| ext != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>();
                for other in CONTEXTS.iter().filter(|other| *other != context) {
                    // `crate::video::…`, or `video::{…}` / `video::x` inside a `use crate::{…}` block.
                    let needles = [format!("crate::{other}"), format!(" {other}::"), format!("super::super::{other}")];
                    for needle in &needles {
                        assert!(
                            !code.iter().any(|line| line.contains(needle.as_str())),
                            "{} imports the {other} context ({needle})",
                            path.display()
                        );
                    }
                }
            }
        }
    }
}
