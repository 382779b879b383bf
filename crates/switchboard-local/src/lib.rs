//! The local cloud: everything Switchboard needs to run and test the fleet on one machine with no
//! AWS account (`specs/local-cloud.md`). Dev and test only; never deployed.
//!
//! Each module, listed from the bottom of the layering up (a module uses only those above it in
//! this list, never one below; a test in this file checks that no two of them import each other):
//!
//! - [`net`]: waiting for a listener on loopback.
//! - [`instance`]: the contact centre template.yaml declares (hours, queues, profiles, hierarchy,
//!   bots, numbers), as the local emulated instance has it, with Connect's own defaults.
//! - [`fixture`]: the local cloud's seed data (`local/fixture.json`): account, Connect instance,
//!   numbers, agents, admins.
//! - [`moto`]: moto's server (DynamoDB, S3, Cognito, STS, …) as a child process on a port it binds itself.
//! - [`fault_proxy`]: moto behind a proxy that fails chosen operations (fault injection in tests).
//! - [`tls_front`]: HTTPS fronts on the plain endpoints with a throwaway CA (the bench's TLS).
//! - [`lambda_host`]: runs each function's real binary behind a Lambda Runtime API and serves the
//!   Lambda Invoke API, like the service does.
//! - [`gateway`]: the HTTP API in front of the HTTP functions, with the Cognito JWT authorizer.
//! - [`emulator`]: our emulator for what moto lacks (Pinpoint SMS, Amazon Connect and its flow
//!   deployment, Chime SDK Meetings, Cognito's write-attribute check and managed login), speaking
//!   the real wire protocol.
//! - [`recording`]: the recording stack's EventBridge rules, the events they match and the
//!   recorder's local image.
//! - [`desktop`]: the agent desktop pages on loopback origins: the bucket in moto, the CloudFront
//!   stand-in with the template's response headers, the fake CCP (managed login is the emulator's).
//! - [`cloud`]: starts, seeds and stops all of the above ([`cloud::LocalCloud`]), with what
//!   template.yaml declares that the local cloud must match.
//! - [`cloud_file`]: where `switchboard-local up` tells the other commands what is running.
//! - [`flow`]: plays the contact flows in `contact-flows/` against the functions.
//! - [`flows`]: `flows plan|apply`: the working tree for `provision-flows`, its report for people.
//! - [`bench`](mod@bench): cold start, latency and memory figures for every function (`make bench`).

pub mod bench;
pub mod call_log;
pub mod cloud;
pub mod cloud_file;
pub mod desktop;
pub mod emulator;
pub mod fault_proxy;
pub mod fixture;
pub mod flow;
pub mod flows;
pub mod gateway;
pub mod instance;
pub mod lambda_host;
pub mod moto;
pub mod net;
pub mod recording;
pub mod tls_front;

/// The repository root: `SWITCHBOARD_ROOT`, else the workspace this crate was built in.
pub fn repo_root() -> std::path::PathBuf {
    std::env::var_os("SWITCHBOARD_ROOT").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        root.canonicalize().unwrap_or(root)
    })
}

#[cfg(test)]
mod tests {
    use std::{
        collections::{BTreeMap, BTreeSet},
        path::{Path, PathBuf},
    };

    /// Every `.rs` file under `dir`.
    fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    /// The top-level modules `text` names with `crate::` paths, groups (`crate::{a, b::c}`) included;
    /// comment lines are skipped.
    fn named_modules(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
        let code: String =
            text.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
        let mut named = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = code[at + "crate::".len()..].trim_start();
            let heads: Vec<String> = match rest.strip_prefix('{') {
                Some(group) => {
                    // The group's top-level entries, each up to its first `::`.
                    let (mut depth, mut entries, mut entry) = (0, Vec::new(), String::new());
                    for c in group.chars() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => break,
                            '}' => depth -= 1,
                            ',' if depth == 0 => entries.push(std::mem::take(&mut entry)),
                            _ if depth == 0 => entry.push(c),
                            _ => {}
                        }
                    }
                    entries.push(entry);
                    entries.iter().map(|e| ident(e.trim())).collect()
                }
                None => vec![ident(rest)],
            };
            named.extend(heads.into_iter().filter(|head| modules.contains(head)));
        }
        named
    }

    /// A cycle in `graph`, as the modules along it, if there is one.
    fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
        fn visit(
            node: &str,
            graph: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(start) = path.iter().position(|n| n == node) {
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            if !done.insert(node.to_owned()) {
                return None;
            }
            path.push(node.to_owned());
            for next in graph.get(node).into_iter().flatten() {
                if let Some(cycle) = visit(next, graph, path, done) {
                    return Some(cycle);
                }
            }
            path.pop();
            None
        }
        let mut done = BTreeSet::new();
        graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
    }

    /// The layering the crate docs list: no top-level module reaches, through any chain of
    /// `crate::` imports, back to itself.
    #[test]
    fn top_level_modules_import_no_circle() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let top = |file: &Path| {
            let relative = file.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
            first.trim_end_matches(".rs").to_owned()
        };
        // lib.rs is the crate root and main.rs the binary, which reaches the library by its name.
        let modules: BTreeSet<String> = files.iter().map(|f| top(f)).filter(|m| m != "lib" && m != "main").collect();
        assert!(modules.contains("cloud") && modules.contains("emulator"), "{modules:?}");
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in &files {
            let module = top(file);
            if !modules.contains(&module) {
                continue;
            }
            let text = std::fs::read_to_string(file).unwrap();
            let mut named = named_modules(&text, &modules);
            named.remove(&module);
            graph.entry(module).or_default().extend(named);
        }
        assert!(graph["cloud"].contains("emulator"), "the scan finds imports: {graph:?}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!("top-level modules import each other in a circle: {}", cycle.join(" -> "));
        }
    }

    #[test]
    fn imports_are_read_from_paths_and_groups() {
        let modules: BTreeSet<String> = ["cloud", "emulator", "fixture", "net"].map(str::to_owned).into();
        let text = "use crate::{\n    emulator::{self, X},\n    fixture::Fixture,\n};\n// crate::net in a comment\nlet c = crate::cloud::f();";
        let named: Vec<String> = named_modules(text, &modules).into_iter().collect();
        assert_eq!(named, ["cloud", "emulator", "fixture"]);
    }
}
