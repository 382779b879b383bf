//! `switchboard-local flows plan|apply`: the working tree's `contact-flows/` as `provision-flows`
//! takes it inline, and its report as a person reads it.

use std::collections::BTreeMap;

use serde_json::Value;

/// Every `flows.json` and `<context>/<Name>.json` under the repository's `contact-flows/`, keyed by
/// its path from the repository root (`contact-flows/emergency/Emergency_Authentication.json`).
pub fn working_tree() -> std::io::Result<BTreeMap<String, String>> {
    let root = crate::repo_root().join("contact-flows");
    let mut files = BTreeMap::new();
    let manifest = root.join("flows.json");
    if manifest.exists() {
        files.insert("contact-flows/flows.json".to_owned(), std::fs::read_to_string(manifest)?);
    }
    for context in std::fs::read_dir(&root)? {
        let context = context?.path();
        let Some(context_name) = context.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
        if !context.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&context)? {
            let path = file?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
            if name.ends_with(".json") {
                files.insert(format!("contact-flows/{context_name}/{name}"), std::fs::read_to_string(&path)?);
            }
        }
    }
    Ok(files)
}

/// A `provision-flows` report as lines: the result, each flow's action with what changed and its
/// problems, the orphans.
pub fn render(report: &Value) -> String {
    let text = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let list = |value: &Value, key: &str| value.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = String::new();
    for flow in list(report, "flows") {
        let written = if flow.get("written") == Some(&Value::Bool(true)) { " (written)" } else { "" };
        out.push_str(&format!(
            "{:<10} {} ← {}{written}\n",
            text(&flow, "action"),
            text(&flow, "name"),
            text(&flow, "source")
        ));
        if let Some(diff) = flow.get("diff") {
            for (key, label) in [("added", "+"), ("removed", "-"), ("changed", "~")] {
                let ids: Vec<String> = list(diff, key).iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
                if !ids.is_empty() {
                    out.push_str(&format!("           {label} actions {}\n", ids.join(", ")));
                }
            }
        }
        for problem in list(&flow, "problems") {
            out.push_str(&format!("           {}\n", problem_line(&problem)));
        }
    }
    for orphan in list(report, "orphans") {
        let archived = if orphan.get("archived") == Some(&Value::Bool(true)) { " (archived)" } else { "" };
        out.push_str(&format!("{:<10} {}{archived}\n", "ORPHAN", text(&orphan, "name")));
    }
    for problem in list(report, "problems") {
        out.push_str(&format!("{}\n", problem_line(&problem)));
    }
    let writes = report.get("writes").and_then(Value::as_u64).unwrap_or_default();
    out.push_str(&format!("{} ({writes} writes)\n", text(report, "result")));
    out
}

/// `<flow>: <CODE> <placeholder> at <pointer>: <message>`: every line names its flow (a run's own
/// problems, such as the lock, have none), so a line copied out of a long plan still says where.
fn problem_line(problem: &Value) -> String {
    let field = |key: &str| problem.get(key).and_then(Value::as_str);
    let mut line = field("flow").filter(|f| !f.is_empty()).map(|f| format!("{f}: ")).unwrap_or_default();
    line.push_str(field("code").unwrap_or("PROBLEM"));
    if let Some(placeholder) = field("placeholder") {
        line.push_str(&format!(" {placeholder}"));
    }
    if let Some(pointer) = field("pointer") {
        line.push_str(&format!(" at {pointer}"));
    }
    line.push_str(&format!(": {}", field("message").unwrap_or_default()));
    line
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_report_reads_as_lines() {
        let report = json!({"result": "INVALID", "writes": 0, "orphans": [], "flows": [{
            "name": "Emergency_Demo", "source": "emergency/Emergency_Demo", "action": "CREATE", "written": false,
            "problems": [{"code": "UNRESOLVED", "flow": "Emergency_Demo", "placeholder": "{{queue:Nope}}",
                          "pointer": "/Actions/3/Parameters/QueueId", "message": "no standard queue named Nope"}]
        }]});
        let text = super::render(&report);
        assert!(text.contains("CREATE     Emergency_Demo ← emergency/Emergency_Demo"), "{text}");
        assert!(
            text.contains(
                "Emergency_Demo: UNRESOLVED {{queue:Nope}} at /Actions/3/Parameters/QueueId: no standard queue named Nope"
            ),
            "{text}"
        );
        assert!(text.ends_with("INVALID (0 writes)\n"), "{text}");
    }
}
