//! The flows to deploy: read from the bundle (`contact-flows/`, the `ContactFlowsBundle` layer at
//! `/opt`) or given inline, their placeholders found and resolved, and their content compared in a
//! canonical form.
//!
//! A flow file is `<context>/<Name>.json` in one of the formats real exports come in:
//! - the flow language itself (`Version`, `StartAction`, `Actions`, the designer's `Metadata`);
//! - the CI/CD workshop's wrapper `{"Name", "ContactFlowType" or "Type", "Content"}` (its `Content`
//!   a string or an object; its `<<ARNREPLACE>>` Lambda is `{{lambda:flow-resource-map}}`, the
//!   function that answers its `$.External.<Name>` lookups);
//! - what `aws connect describe-contact-flow` prints: `{"ContactFlow": {"Name", "Type", "Content",
//!   "Description", …}}`.
//!
//! A wrapper's `Name` replaces the file stem. `flows.json` beside the contexts gives a flow's type,
//! description and `{{param:…}}` defaults. A file that cannot be read is that flow's problem only.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Connect's limit on a flow's content, in characters.
pub const MAX_CONTENT_CHARS: usize = 256_000;
/// What the workshop's flows put where the mapping Lambda's ARN goes.
const WORKSHOP_LAMBDA_PLACEHOLDER: &str = "<<ARNREPLACE>>";
/// The kind a flow module has in the bundle (`flows.json` `"type": "MODULE"`, or a
/// `describe-contact-flow-module` export): deployed as a module, not as a flow.
pub const MODULE: &str = "MODULE";
/// The function a workshop flow's `<<ARNREPLACE>>` names.
pub const RESOURCE_MAP_FUNCTION: &str = "flow-resource-map";

/// One flow of the bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleFlow {
    /// `<context>/<file stem>`, as in the repository (the `switchboard:source` tag).
    pub source: String,
    /// The name without the stack's prefix: the file stem, or the wrapper's `Name`.
    pub stem: String,
    /// Connect's `ContactFlowType`.
    pub kind: String,
    pub description: Option<String>,
    /// The flow-language document, placeholders unresolved.
    pub content: Value,
    /// `{{param:<key>}}` defaults from `flows.json`.
    pub parameter_defaults: BTreeMap<String, String>,
}

/// A flow file that could not be read: the flow is `INVALID`, the others are planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableFlow {
    /// `<context>/<file stem>`.
    pub source: String,
    /// The file stem (the name inside it could not be read).
    pub stem: String,
    pub detail: String,
}

/// The bundle's flows, and the files that are not readable flows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bundle {
    pub flows: Vec<BundleFlow>,
    pub unreadable: Vec<UnreadableFlow>,
}

/// Why a bundle cannot be read at all; each names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("{source_path}: {detail}")]
    InvalidJson { source_path: String, detail: String },
    #[error("{stem} is the name of both {first} and {second}")]
    DuplicateName { stem: String, first: String, second: String },
    #[error("cannot read the bundle: {0}")]
    Unreadable(String),
}

impl BundleError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson { .. } | Self::Unreadable(_) => "INVALID_JSON",
            Self::DuplicateName { .. } => "DUPLICATE_NAME",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
struct Manifest(BTreeMap<String, ManifestEntry>);

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    #[serde(rename = "type")]
    kind: Option<String>,
    description: Option<String>,
    #[serde(default)]
    parameters: BTreeMap<String, String>,
}

/// The files of a bundle directory: `flows.json` and `<context>/<Name>.json`, keyed by path
/// relative to the directory.
pub fn read_dir(root: &Path) -> Result<BTreeMap<String, String>, BundleError> {
    let unreadable = |path: &Path, e: std::io::Error| BundleError::Unreadable(format!("{}: {e}", path.display()));
    let mut files = BTreeMap::new();
    let manifest = root.join("flows.json");
    match std::fs::read_to_string(&manifest) {
        Ok(text) => {
            files.insert("flows.json".to_owned(), text);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(unreadable(&manifest, e)),
    }
    for context in std::fs::read_dir(root).map_err(|e| unreadable(root, e))? {
        let context = context.map_err(|e| unreadable(root, e))?.path();
        if !context.is_dir() {
            continue;
        }
        let Some(context_name) = context.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
        for file in std::fs::read_dir(&context).map_err(|e| unreadable(&context, e))? {
            let path = file.map_err(|e| unreadable(&context, e))?.path();
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            if !file_name.ends_with(".json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| unreadable(&path, e))?;
            files.insert(format!("{context_name}/{file_name}"), text);
        }
    }
    Ok(files)
}

/// The flows of a bundle given as files (path → text). Paths may start with `contact-flows/` (a
/// working tree); other files than `flows.json` and `<context>/<Name>.json` are ignored. An
/// unreadable `flows.json` or two flows of one name refuse the bundle; an unreadable flow file is
/// listed in [`Bundle::unreadable`].
pub fn parse(files: &BTreeMap<String, String>) -> Result<Bundle, BundleError> {
    let relative = |path: &str| path.trim_start_matches("./").trim_start_matches("contact-flows/").to_owned();
    let manifest: Manifest = match files.iter().find(|(path, _)| relative(path) == "flows.json") {
        Some((path, text)) => serde_json::from_str(text)
            .map_err(|e| BundleError::InvalidJson { source_path: path.clone(), detail: e.to_string() })?,
        None => Manifest::default(),
    };
    let mut bundle = Bundle::default();
    for (path, text) in files {
        let rel = relative(path);
        let Some(source) = rel.strip_suffix(".json") else { continue };
        let Some((_, file_stem)) = source.split_once('/') else { continue };
        if file_stem.contains('/') || file_stem.is_empty() {
            continue;
        }
        let exported = match read_export(text) {
            Ok(exported) => exported,
            Err(detail) => {
                bundle.unreadable.push(UnreadableFlow {
                    source: source.to_owned(),
                    stem: file_stem.to_owned(),
                    detail: format!("{path}: {detail}"),
                });
                continue;
            }
        };
        let stem = exported.name.unwrap_or_else(|| file_stem.to_owned());
        if let Some(first) = bundle.flows.iter().find(|f| f.stem == stem) {
            return Err(BundleError::DuplicateName { stem, first: first.source.clone(), second: source.to_owned() });
        }
        let entry = manifest.0.get(source);
        bundle.flows.push(BundleFlow {
            source: source.to_owned(),
            stem,
            kind: entry.and_then(|e| e.kind.clone()).or(exported.kind).unwrap_or_else(|| "CONTACT_FLOW".to_owned()),
            description: entry.and_then(|e| e.description.clone()).or(exported.description),
            content: exported.content,
            parameter_defaults: entry.map(|e| e.parameters.clone()).unwrap_or_default(),
        });
    }
    Ok(bundle)
}

/// A flow file's content and what its format says about the flow.
struct Exported {
    name: Option<String>,
    kind: Option<String>,
    description: Option<String>,
    content: Value,
}

/// Reads a flow file in any of the formats of the module's documentation; the error says what is
/// wrong with it.
fn read_export(text: &str) -> Result<Exported, String> {
    let document: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let text_field = |object: &Value, name: &str| object.get(name).and_then(Value::as_str).map(str::to_owned);
    let exported = if let Some(module) = document.get("ContactFlowModule").filter(|_| document.get("Actions").is_none())
    {
        // `aws connect describe-contact-flow-module`.
        Exported {
            name: text_field(module, "Name"),
            kind: Some(MODULE.to_owned()),
            description: text_field(module, "Description"),
            content: content_of(module, "ContactFlowModule.Content")?,
        }
    } else if let Some(described) = document.get("ContactFlow").filter(|_| document.get("Actions").is_none()) {
        // `aws connect describe-contact-flow`: an export of a real instance, its ARNs its own.
        Exported {
            name: text_field(described, "Name"),
            kind: text_field(described, "Type"),
            description: text_field(described, "Description"),
            content: content_of(described, "ContactFlow.Content")?,
        }
    } else if document.get("Content").is_some() && document.get("Actions").is_none() {
        // The workshop's wrapper: its mapping Lambda is ours.
        let mut content = content_of(&document, "Content")?;
        map_strings(&mut content, &mut |text| {
            (text.trim() == WORKSHOP_LAMBDA_PLACEHOLDER).then(|| format!("{{{{lambda:{RESOURCE_MAP_FUNCTION}}}}}"))
        });
        Exported {
            name: text_field(&document, "Name"),
            kind: text_field(&document, "ContactFlowType").or_else(|| text_field(&document, "Type")),
            description: text_field(&document, "Description"),
            content,
        }
    } else {
        Exported { name: None, kind: None, description: None, content: document }
    };
    check_flow_language(&exported.content)?;
    Ok(exported)
}

/// A wrapper's `Content`: the flow as a string of JSON (as exported) or as an object.
fn content_of(wrapper: &Value, field: &str) -> Result<Value, String> {
    match wrapper.get("Content") {
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|e| format!("{field} is not JSON: {e}")),
        Some(Value::Object(_)) => Ok(wrapper["Content"].clone()),
        _ => Err(format!("{field} is missing, or neither a string nor an object")),
    }
}

/// The shape every flow-language document has; Connect checks the rest.
fn check_flow_language(content: &Value) -> Result<(), String> {
    let object = content.as_object().ok_or("a flow is a JSON object")?;
    if !object.get("Version").is_some_and(Value::is_string) {
        return Err("no Version".into());
    }
    if !object.get("StartAction").is_some_and(Value::is_string) {
        return Err("no StartAction".into());
    }
    if !object.get("Actions").is_some_and(Value::is_array) {
        return Err("no Actions array".into());
    }
    Ok(())
}

/// `{{kind:name}}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Placeholder {
    pub kind: String,
    pub name: String,
}

impl Placeholder {
    /// `text` when it is exactly one placeholder.
    pub fn parse(text: &str) -> Option<Self> {
        let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
        let (kind, name) = inner.split_once(':')?;
        let well_formed = |part: &str| !part.is_empty() && !part.contains(['{', '}', ':']);
        (well_formed(kind) && well_formed(name)).then(|| Self { kind: kind.to_owned(), name: name.to_owned() })
    }

    pub fn text(&self) -> String {
        format!("{{{{{}:{}}}}}", self.kind, self.name)
    }
}

/// One reason a flow cannot be deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// `UNRESOLVED`, `EMBEDDED_PLACEHOLDER`, `LAMBDA_NOT_ASSOCIATED`, `TOO_LARGE`, `REJECTED`.
    pub code: String,
    pub flow: String,
    /// Where in the flow (JSON pointer), when the problem has a place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    pub message: String,
}

/// What a placeholder resolves to, or why not.
pub enum Resolution {
    Value(String),
    /// A bundle flow not created yet: its ARN is known once it is.
    Pending(String),
    Problem {
        code: &'static str,
        message: String,
    },
}

/// The content with every placeholder resolved by `resolve`, the bundle flows it waits for, and the
/// problems. Every string value is looked at (a placeholder can be any parameter's whole value).
pub fn resolve(
    flow: &BundleFlow,
    connect_name: &str,
    resolve: &mut impl FnMut(&Placeholder) -> Resolution,
) -> (Value, BTreeSet<String>, Vec<Problem>) {
    let mut content = flow.content.clone();
    let mut pending = BTreeSet::new();
    let mut problems = Vec::new();
    let mut pointer = String::new();
    walk(&mut content, &mut pointer, &mut |pointer, text| {
        let problem = |code: &str, placeholder: Option<String>, message: String| Problem {
            code: code.to_owned(),
            flow: connect_name.to_owned(),
            pointer: Some(pointer.to_owned()),
            placeholder,
            message,
        };
        // The designer's layout: a placeholder there is resolved when it can be (the designer then
        // shows the real resource), but nothing in it is a problem: Connect does not read it.
        let in_metadata = is_designer_metadata(pointer);
        match Placeholder::parse(text) {
            Some(placeholder) => match resolve(&placeholder) {
                Resolution::Value(value) => Some(value),
                Resolution::Pending(name) => {
                    pending.insert(name.clone());
                    Some(format!("pending:{name}"))
                }
                Resolution::Problem { .. } if in_metadata => None,
                Resolution::Problem { code, message } => {
                    problems.push(problem(code, Some(placeholder.text()), message));
                    None
                }
            },
            None if in_metadata => None,
            None => {
                if let Some((code, message)) = template_token(text) {
                    problems.push(problem(code, None, message));
                }
                None
            }
        }
    });
    let characters = content.to_string().chars().count();
    if characters > MAX_CONTENT_CHARS {
        problems.push(Problem {
            code: "TOO_LARGE".into(),
            flow: connect_name.to_owned(),
            pointer: None,
            placeholder: None,
            message: format!(
                "the resolved flow has {characters} characters; Connect takes at most {MAX_CONTENT_CHARS}"
            ),
        });
    }
    (content, pending, problems)
}

/// The first `open…close` in `text` whose inside is non-empty and passes `inner`.
fn enclosed<'a>(text: &'a str, open: &str, close: &str, inner: impl Fn(&str) -> bool) -> Option<&'a str> {
    let mut from = 0;
    while let Some(start) = text[from..].find(open).map(|i| from + i) {
        let body = start + open.len();
        if let Some(end) = text[body..].find(close).map(|i| body + i) {
            if end > body && inner(&text[body..end]) {
                return Some(&text[start..end + close.len()]);
            }
        }
        from = body;
    }
    None
}

/// A template token of another tool in a flow's string (or a placeholder that is not one), as a
/// problem code and a message saying what it is. Nothing here replaces these, so Connect would refuse
/// the flow at apply or play the token to a caller.
pub fn template_token(text: &str) -> Option<(&'static str, String)> {
    let name_like = |inner: &str| inner.chars().all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    let write =
        "write a {{kind:name}} placeholder(kind lambda, flow, module, queue, prompt, bot or param) as the whole value";
    if let Some(token) = enclosed(text, "{{", "}}", |_| true) {
        return Some(match Placeholder::parse(token) {
            Some(placeholder) => (
                "EMBEDDED_PLACEHOLDER",
                format!(
                    "{} is inside a longer string ({text:?}): only a string that is exactly one placeholder is \
                     replaced; give it a value of its own",
                    placeholder.text()
                ),
            ),
            None => (
                "MALFORMED_PLACEHOLDER",
                format!("{token} is not a placeholder but a Mustache- or Jinja-style template token, which nothing here replaces: {write}"),
            ),
        });
    }
    if text.contains("{{") {
        return Some(("MALFORMED_PLACEHOLDER", format!("{text:?} opens a {{{{ that is never closed: {write}")));
    }
    if let Some(token) = enclosed(text, "<<", ">>", name_like) {
        if token == WORKSHOP_LAMBDA_PLACEHOLDER {
            return Some((
                "WORKSHOP_PLACEHOLDER",
                format!(
                    "{WORKSHOP_LAMBDA_PLACEHOLDER} is the CI/CD workshop's mapping-Lambda placeholder, replaced only as \
                     a whole value in its wrapper format (Name, ContactFlowType or Type, Content): write \
                     {{{{lambda:{RESOURCE_MAP_FUNCTION}}}}}"
                ),
            ));
        }
        return Some((
            "FOREIGN_TOKEN",
            format!("{token} is another deployment tool's placeholder (like the workshop's {WORKSHOP_LAMBDA_PLACEHOLDER}), which nothing here replaces: {write}"),
        ));
    }
    if let Some(token) = enclosed(text, "${", "}", |_| true) {
        return Some((
            "FOREIGN_TOKEN",
            format!("{token} is a CloudFormation Fn::Sub or Terraform interpolation; the flow is not a template, so nothing replaces it: {write}"),
        ));
    }
    if let Some(token) = enclosed(text, "%%", "%%", name_like) {
        return Some((
            "FOREIGN_TOKEN",
            format!(
                "{token} is a build or release pipeline's substitution token, which nothing here replaces: {write}"
            ),
        ));
    }
    None
}

/// Whether a JSON pointer is in the designer's layout (`/Metadata/…`): positions and labels the
/// designer shows, which Connect does not resolve when a contact runs.
fn is_designer_metadata(pointer: &str) -> bool {
    pointer == "/Metadata" || pointer.starts_with("/Metadata/")
}

/// The name a `$.External.<Name>` value reads (also `$.External['Name']` and `$.External["Name"]`).
pub fn external_read(text: &str) -> Option<&str> {
    let rest = text.trim().strip_prefix("$.External")?;
    let name = match rest.strip_prefix('.') {
        Some(name) => name,
        None => rest
            .strip_prefix("['")
            .and_then(|r| r.strip_suffix("']"))
            .or_else(|| rest.strip_prefix("[\"").and_then(|r| r.strip_suffix("\"]")))?,
    };
    (!name.is_empty()).then_some(name)
}

/// An ARN's parts: `arn:<partition>:<service>:<region>:<account>:<resource>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.strip_prefix("arn:")?.splitn(5, ':');
        let arn = Self {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        (!arn.partition.is_empty() && !arn.service.is_empty()).then_some(arn)
    }

    /// The Connect instance id of a Connect resource (`instance/<id>/…`).
    pub fn connect_instance(&self) -> Option<&'a str> {
        if self.service != "connect" {
            return None;
        }
        self.resource.strip_prefix("instance/")?.split('/').next()
    }
}

/// Why an ARN in a flow is not one the instance can use: another region, account or instance.
/// Connect refuses (or cannot reach) those when the flow is written or when a contact runs it.
pub fn foreign_arn(text: &str, instance: &Arn) -> Option<String> {
    let arn = Arn::parse(text.trim())?;
    if !arn.region.is_empty() && arn.region != instance.region {
        return Some(format!("{text} is in region {}; the instance is in {}", arn.region, instance.region));
    }
    if !arn.account.is_empty() && arn.account != instance.account {
        return Some(format!("{text} is of account {}; the instance is in {}", arn.account, instance.account));
    }
    match (arn.connect_instance(), instance.connect_instance()) {
        (Some(theirs), Some(ours)) if theirs != ours => {
            Some(format!("{text} is of instance {theirs}; the flows are deployed to instance {ours}"))
        }
        _ => None,
    }
}

/// What the references of a resolved flow are checked against: the instance, and the resource map
/// the apply will store.
#[derive(Debug, Clone, Default)]
pub struct ReferenceContext {
    /// The instance's ARN (`arn:…:connect:<region>:<account>:instance/<id>`), when known.
    pub instance_arn: Option<String>,
    /// The ARN `{{lambda:flow-resource-map}}` resolves to: a flow invoking it reads `$.External`.
    pub map_function: Option<String>,
    /// The names the resource map will hold.
    pub mapped: BTreeSet<String>,
    /// Names of `FlowParameters` (or `flows.json`) values that are Lex V2 bot aliases the instance has
    /// not associated, with their ARN: why the map will not hold them.
    pub unassociated_bots: BTreeMap<String, String>,
    /// The Lambda functions and Lex V2 bot aliases associated with the instance: a flow may name only
    /// those (Connect refuses a flow naming another).
    pub associated: BTreeSet<String>,
}

/// Whether a parameter takes a resource (a queue, flow, prompt, bot, hook): `…Id`, `…Arn`, `…ARN`,
/// or any of `EventHooks`.
fn takes_a_resource(pointer: &str) -> bool {
    let key = pointer.rsplit('/').next().unwrap_or_default();
    key.ends_with("Id") || key.ends_with("Arn") || key.ends_with("ARN") || pointer.contains("/EventHooks/")
}

/// The problems of a resolved flow's references that Connect would meet only at apply or on a
/// customer's call: ARNs of another region, account or instance, and — in a flow that invokes the
/// resource-map function (the workshop's style) — `$.External.<Name>` reads the map will not answer.
/// In a flow whose only Lambda is that function every `$.External` read is the map's; in one that
/// also invokes others (whose results are `$.External` too) only the reads a resource parameter takes
/// are. Designer metadata is not looked at.
pub fn reference_problems(connect_name: &str, content: &Value, context: &ReferenceContext) -> Vec<Problem> {
    let instance = context.instance_arn.as_deref().and_then(Arn::parse);
    let invoked: Vec<&str> = content
        .get("Actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| a.get("Type").and_then(Value::as_str) == Some("InvokeLambdaFunction"))
        .filter_map(|a| a.pointer("/Parameters/LambdaFunctionARN").and_then(Value::as_str))
        .collect();
    let map_function = context.map_function.as_deref();
    let reads_map = map_function.is_some_and(|f| invoked.contains(&f));
    let only_map = reads_map && invoked.iter().all(|arn| Some(*arn) == map_function);
    let mut problems = Vec::new();
    let mut content = content.clone();
    walk(&mut content, &mut String::new(), &mut |pointer, text| {
        if is_designer_metadata(pointer) {
            return None;
        }
        let problem = |code: &str, message: String| Problem {
            code: code.to_owned(),
            flow: connect_name.to_owned(),
            pointer: Some(pointer.to_owned()),
            placeholder: None,
            message,
        };
        if let Some(message) = instance.as_ref().and_then(|instance| foreign_arn(text, instance)) {
            problems.push(problem("FOREIGN_ARN", message));
        } else if let Some(arn) = Arn::parse(text.trim()) {
            // Of this account and region, but not something the instance may call.
            let function = arn.service == "lambda" && arn.resource.starts_with("function:");
            let bot = arn.service == "lex" && arn.resource.starts_with("bot-alias/");
            if (function || bot) && !context.associated.contains(text.trim()) {
                let (code, what) = if function {
                    ("LAMBDA_NOT_ASSOCIATED", "Lambda function")
                } else {
                    ("LEX_BOT_NOT_ASSOCIATED", "Lex bot alias")
                };
                let message =
                    format!("{text} is a {what} the instance has not associated (ExternalLambdaArns, LexBotAliasArns)");
                problems.push(problem(code, message));
            }
        }
        if pointer.ends_with("/LexV2Bot/AliasArn") && text.trim().is_empty() {
            let message = "the Lex V2 bot's AliasArn is empty: give the alias ARN, or {{param:<key>}} with the ARN in \
                           FlowParameters";
            problems.push(problem("EMPTY_LEX_ALIAS", message.into()));
        }
        if let Some(name) = external_read(text).filter(|_| only_map || (reads_map && takes_a_resource(pointer))) {
            if !context.mapped.contains(name) {
                let message = match context.unassociated_bots.get(name) {
                    Some(arn) => format!(
                        "{name} is the Lex bot alias {arn}, which the instance has not associated (LexBotAliasArns): \
                         {RESOURCE_MAP_FUNCTION} will not answer it"
                    ),
                    None => format!(
                        "{RESOURCE_MAP_FUNCTION} will not answer {name}: no queue, prompt, flow, Lambda function or \
                         Lex bot alias (a FlowParameters key) of that name on the instance or in the bundle"
                    ),
                };
                problems.push(problem("UNMAPPED_EXTERNAL", message));
            }
        }
        None
    });
    problems
}

/// Replaces string values for which `map` answers `Some`, passing each string's JSON pointer.
fn walk(value: &mut Value, pointer: &mut String, map: &mut impl FnMut(&str, &str) -> Option<String>) {
    match value {
        Value::String(text) => {
            if let Some(replacement) = map(pointer, text) {
                *text = replacement;
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{index}"));
                walk(item, pointer, map);
                pointer.truncate(len);
            }
        }
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                walk(field, pointer, map);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

fn map_strings(value: &mut Value, map: &mut impl FnMut(&str) -> Option<String>) {
    walk(value, &mut String::new(), &mut |_, text| map(text));
}

/// Replaces the `pending:<name>` stand-ins with the ARNs the flows got when they were created.
pub fn fill_pending(content: &mut Value, arns: &BTreeMap<String, String>) {
    map_strings(content, &mut |text| text.strip_prefix("pending:").and_then(|name| arns.get(name).cloned()));
}

/// The content in canonical form: keys sorted at every level, no whitespace. Two documents that
/// Connect treats alike (key order, formatting) compare equal.
pub fn canonical(content: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(fields) => {
                let ordered: BTreeMap<&String, Value> = fields.iter().map(|(k, v)| (k, sorted(v))).collect();
                let mut map = Map::new();
                for (key, value) in ordered {
                    map.insert(key.clone(), value);
                }
                Value::Object(map)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(content).to_string()
}

/// SHA-256 (hex) of the canonical form: the `appliedHash` of what was written.
pub fn content_hash(content: &Value) -> String {
    hex::encode(Sha256::digest(canonical(content).as_bytes()))
}

/// The difference between two flows, by action `Identifier`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// Something outside the actions changed (start action, metadata, settings).
    pub other: bool,
}

pub fn diff(from: &Value, to: &Value) -> ActionDiff {
    let actions = |flow: &Value| -> BTreeMap<String, String> {
        flow.get("Actions")
            .and_then(Value::as_array)
            .map(|actions| {
                actions
                    .iter()
                    .map(|a| {
                        let id = a.get("Identifier").and_then(Value::as_str).unwrap_or_default().to_owned();
                        (id, canonical(a))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let rest = |flow: &Value| {
        let mut flow = flow.clone();
        if let Some(object) = flow.as_object_mut() {
            object.remove("Actions");
        }
        canonical(&flow)
    };
    let (old, new) = (actions(from), actions(to));
    ActionDiff {
        added: new.keys().filter(|id| !old.contains_key(*id)).cloned().collect(),
        removed: old.keys().filter(|id| !new.contains_key(*id)).cloned().collect(),
        changed: new.iter().filter(|(id, a)| old.get(*id).is_some_and(|o| o != *a)).map(|(id, _)| id.clone()).collect(),
        other: rest(from) != rest(to),
    }
}

/// A one-action flow that only disconnects: what a flow in a reference cycle is created as, so the
/// other flows of the cycle have its ARN; its real content follows once they exist.
pub fn stub_content() -> Value {
    serde_json::json!({
        "Version": "2019-10-30",
        "StartAction": "switchboard-stub",
        "Metadata": {},
        "Actions": [{
            "Identifier": "switchboard-stub",
            "Type": "DisconnectParticipant",
            "Parameters": {},
            "Transitions": {}
        }]
    })
}

#[cfg(test)]
mod tests;
