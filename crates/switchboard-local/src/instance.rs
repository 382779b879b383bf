//! The contact centre template.yaml declares, as the local emulated instance has it: hours of
//! operation, queues, routing and security profiles, the agent hierarchy, prompts, Lex bots, the
//! claimed phone numbers and the flow each one starts; plus what Amazon Connect makes itself in
//! every new instance (BasicQueue, Basic Hours, …), which the template therefore never declares.
//!
//! Every resource is read whatever its `Condition`: the local instance has all of them, as the
//! local cloud has the recording routes. Names are the contract (`{{queue:BillingQueue}}`,
//! `$.External.BillingQueue`): a queue added to the template is a queue of the local instance with
//! no other edit. What a deploy does not make (people, admins, test data) stays in
//! `local/fixture.json`.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::{Mapping, Value};
use sha2::{Digest, Sha256};

/// The local stack's name: what `${AWS::StackName}` is locally, and what the local cloud's functions
/// tag what they deploy with (`switchboard:stack`).
pub const LOCAL_STACK_NAME: &str = "switchboard-local";

/// What Connect creates in every new instance, by name.
pub const BUILT_IN_QUEUE: &str = "BasicQueue";
pub const BUILT_IN_HOURS: &str = "Basic Hours";
pub const BUILT_IN_ROUTING_PROFILE: &str = "Basic Routing Profile";
pub const BUILT_IN_SECURITY_PROFILES: &[&str] = &["Admin", "Agent", "CallCenterManager", "QualityAnalyst"];
/// Some of the default prompts every instance has (the flows name these).
pub const BUILT_IN_PROMPTS: &[&str] = &[
    "Beep.wav",
    "CustomerHold.wav",
    "CustomerQueue.wav",
    "Music_Jazz_MyTimeLapse_Inter.wav",
    "Music_Pop_ThisAndThatIsLife_Inter.wav",
];

/// The values a `!Sub` or `!Ref` of a pseudo parameter takes locally.
#[derive(Debug, Clone)]
pub struct Pseudo {
    pub stack_name: String,
    pub region: String,
    pub account_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("template.yaml is not YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("template.yaml, {resource}: {problem}")]
    Invalid { resource: String, problem: String },
}

fn invalid(resource: &str, problem: impl Into<String>) -> InstanceError {
    InstanceError::Invalid { resource: resource.to_owned(), problem: problem.into() }
}

/// One day's opening, in minutes from midnight, in the hours' time zone. `end <= start` runs past
/// midnight (00:00–00:00 is the whole day, as Connect's Basic Hours are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub day: chrono::Weekday,
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursOfOperation {
    pub name: String,
    /// An IANA zone (`Australia/Sydney`).
    pub time_zone: String,
    pub openings: Vec<Opening>,
}

impl HoursOfOperation {
    /// Whether the contact centre is open at `at`, as `CheckHoursOfOperation` decides.
    pub fn is_open(&self, at: chrono::DateTime<chrono::Utc>) -> Result<bool, String> {
        use chrono::{Datelike, Timelike};
        let zone: chrono_tz::Tz =
            self.time_zone.parse().map_err(|_| format!("{} is not a time zone", self.time_zone))?;
        let local = at.with_timezone(&zone);
        let minute = local.hour() * 60 + local.minute();
        let today = local.weekday();
        let open = self.openings.iter().any(|o| {
            if o.end > o.start {
                o.day == today && (o.start..o.end).contains(&minute)
            } else {
                // Past midnight: open from start today, or until end the day after.
                (o.day == today && minute >= o.start) || (o.day.succ() == today && minute < o.end)
            }
        });
        Ok(open)
    }

    fn always(name: &str) -> Self {
        use chrono::Weekday::*;
        let openings = [Mon, Tue, Wed, Thu, Fri, Sat, Sun].into_iter().map(|day| Opening { day, start: 0, end: 0 });
        Self { name: name.to_owned(), time_zone: "UTC".into(), openings: openings.collect() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    /// The name of the queue's hours of operation.
    pub hours: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HierarchyGroup {
    pub name: String,
    pub parent: Option<String>,
}

/// A slot an intent fills: its name and its type (`AMAZON.Number`, or one of the bot's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub name: String,
    pub slot_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub name: String,
    pub utterances: Vec<String>,
    pub slots: Vec<Slot>,
}

/// A Lex V2 bot's first locale, as the runner matches a caller's words against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexBot {
    /// The bot's `Name` (with the local stack name where the template has `${AWS::StackName}`).
    pub name: String,
    pub alias_arn: String,
    pub intents: Vec<Intent>,
    /// Custom slot type → its values, each with its synonyms (lower case): a synonym fills the slot
    /// with its value, as Lex's `TOP_RESOLUTION` does.
    pub slot_types: BTreeMap<String, Vec<(String, Vec<String>)>>,
}

/// What the bot made of the caller's words: the intent (`FallbackIntent` when none matched) and
/// the slots it filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    pub intent: String,
    pub slots: BTreeMap<String, String>,
}

/// The intent Lex answers when no other matches (every V2 bot has it).
pub const FALLBACK_INTENT: &str = "FallbackIntent";

impl LexBot {
    /// Matches `said` to an intent the way a small local NLU can: an utterance whose words (slots
    /// filled by a value of their type) are exactly the caller's wins; else the utterance whose
    /// content words (filler such as "my", "is", "a" left out) overlap the caller's most, if they
    /// share at least a third of the two together (ties: the intent declared first); else the fallback.
    pub fn recognise(&self, said: &str) -> Recognised {
        let words = normalise(said);
        for intent in &self.intents {
            for utterance in &intent.utterances {
                if let Some(slots) = self.fill(intent, &normalise(utterance), &words) {
                    return Recognised { intent: intent.name.clone(), slots };
                }
            }
        }
        let content = |words: Vec<String>| -> BTreeSet<String> {
            words.into_iter().filter(|w| !w.starts_with('{') && !FILLER_WORDS.contains(&w.as_str())).collect()
        };
        let said_words = content(words);
        let mut best: Option<(f64, &Intent)> = None;
        for intent in &self.intents {
            for utterance in &intent.utterances {
                let pattern = content(normalise(utterance));
                let shared = pattern.intersection(&said_words).count();
                let union = pattern.union(&said_words).count();
                if shared == 0 {
                    continue;
                }
                let score = shared as f64 / union as f64;
                if score >= 1.0 / 3.0 && best.is_none_or(|(b, _)| score > b) {
                    best = Some((score, intent));
                }
            }
        }
        match best {
            Some((_, intent)) => Recognised { intent: intent.name.clone(), slots: BTreeMap::new() },
            None => Recognised { intent: FALLBACK_INTENT.into(), slots: BTreeMap::new() },
        }
    }

    /// The slots, if `words` are `pattern` with each `{Slot}` one word of its type.
    fn fill(&self, intent: &Intent, pattern: &[String], words: &[String]) -> Option<BTreeMap<String, String>> {
        if pattern.len() != words.len() {
            return None;
        }
        let mut slots = BTreeMap::new();
        for (part, word) in pattern.iter().zip(words) {
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                None if part == word => {}
                None => return None,
                Some(slot_name) => {
                    let slot = intent.slots.iter().find(|s| s.name.eq_ignore_ascii_case(slot_name))?;
                    let value = match slot.slot_type.as_str() {
                        "AMAZON.Number" => word.parse::<f64>().is_ok().then(|| word.clone()),
                        custom => match self.slot_types.get(custom) {
                            None => Some(word.clone()),
                            Some(values) => values
                                .iter()
                                .find(|(value, synonyms)| value == word || synonyms.contains(word))
                                .map(|(value, _)| value.clone()),
                        },
                    };
                    slots.insert(slot.name.clone(), value?);
                }
            }
        }
        Some(slots)
    }
}

/// Words that say nothing about what the caller wants.
const FILLER_WORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "are", "can", "do", "for", "have", "i", "i'm", "in", "is", "it", "me", "my", "of",
    "on", "or", "please", "the", "to", "with", "you", "your",
];

/// Lower-case words, punctuation dropped; `{Slot}` kept as it is.
fn normalise(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            if w.starts_with('{') {
                w.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '}').to_lowercase()
            } else {
                w.chars().filter(|c| c.is_alphanumeric() || *c == '\'' || *c == '.').collect::<String>().to_lowercase()
            }
        })
        .map(|w| w.trim_end_matches('.').to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The instance as template.yaml declares it, with Connect's own defaults.
#[derive(Debug, Clone, Default)]
pub struct DeclaredInstance {
    /// By name.
    pub hours: BTreeMap<String, HoursOfOperation>,
    pub queues: BTreeMap<String, Queue>,
    /// Routing profile name → the names of its queues.
    pub routing_profiles: BTreeMap<String, Vec<String>>,
    pub security_profiles: BTreeSet<String>,
    /// Parents before their children.
    pub hierarchy_groups: Vec<HierarchyGroup>,
    pub prompts: BTreeSet<String>,
    /// Flow modules the template declares (`AWS::Connect::ContactFlowModule`): name → content.
    pub modules: BTreeMap<String, String>,
    /// The name flows give a bot (`{{bot:CustomerService}}`, the `ContactFlows` resource's `Bots`) → the bot.
    pub bots: BTreeMap<String, LexBot>,
    /// The alias ARNs of the bots associated with the instance (`IntegrationAssociation` LEX_BOT).
    pub associated_bots: Vec<String>,
    /// A claimed number (E.164, its `Metadata.Switchboard.LocalNumber`) → the flow it starts
    /// (the `ContactFlows` resource's `PhoneNumbers`); a number no flow answers maps to "".
    pub phone_numbers: BTreeMap<String, String>,
    /// Each number's logical id → its local number (E.164).
    pub number_resources: BTreeMap<String, String>,
    /// Each bot alias's logical id → its ARN.
    pub bot_aliases: BTreeMap<String, String>,
}

/// A stable id for a declared resource of the local instance: the same across runs, different per
/// kind and name, shaped like Connect's ids.
pub fn local_id(kind: &str, name: &str) -> String {
    let hex = hex::encode(Sha256::digest(format!("{kind}/{name}").as_bytes()));
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A Lex id (10 upper-case letters and digits) for a declared bot or alias.
fn lex_id(kind: &str, logical_id: &str) -> String {
    hex::encode(Sha256::digest(format!("{kind}/{logical_id}").as_bytes()))[..10].to_uppercase()
}

impl DeclaredInstance {
    /// Reads the instance from template.yaml's text.
    pub fn from_template(template: &str, pseudo: &Pseudo) -> Result<Self, InstanceError> {
        let template: Value = serde_yaml::from_str(template)?;
        let reader = Reader { template: &template, pseudo };
        let mut instance = Self::built_in();
        let resources = template.get("Resources").and_then(Value::as_mapping).cloned().unwrap_or_default();
        let of_type = |kind: &str| -> Vec<(String, Value)> {
            resources
                .iter()
                .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
                .filter_map(|(id, r)| Some((id.as_str()?.to_owned(), r.get("Properties").cloned().unwrap_or_default())))
                .collect()
        };
        let mut hours_by_id = BTreeMap::new();
        for (id, props) in of_type("AWS::Connect::HoursOfOperation") {
            let hours = reader.hours(&id, &props)?;
            hours_by_id.insert(id, hours.name.clone());
            instance.hours.insert(hours.name.clone(), hours);
        }
        let mut queues_by_id = BTreeMap::new();
        for (id, props) in of_type("AWS::Connect::Queue") {
            let name = reader.string(&id, field(&id, &props, "Name")?)?;
            let hours_ref = reader.reference(&id, field(&id, &props, "HoursOfOperationArn")?)?;
            let hours = hours_by_id
                .get(&hours_ref)
                .cloned()
                .ok_or_else(|| invalid(&id, format!("{hours_ref} is not hours")))?;
            queues_by_id.insert(id, name.clone());
            instance.queues.insert(name.clone(), Queue { name, hours });
        }
        for (id, props) in of_type("AWS::Connect::RoutingProfile") {
            let name = reader.string(&id, field(&id, &props, "Name")?)?;
            let mut queues = Vec::new();
            for config in props.get("QueueConfigs").and_then(Value::as_sequence).into_iter().flatten() {
                let arn = config.get("QueueReference").and_then(|r| r.get("QueueArn"));
                let queue =
                    reader.reference(&id, arn.ok_or_else(|| invalid(&id, "a queue config without QueueArn"))?)?;
                let queue = queues_by_id.get(&queue).ok_or_else(|| invalid(&id, format!("{queue} is not a queue")))?;
                if !queues.contains(queue) {
                    queues.push(queue.clone());
                }
            }
            instance.routing_profiles.insert(name, queues);
        }
        for (id, props) in of_type("AWS::Connect::SecurityProfile") {
            instance.security_profiles.insert(reader.string(&id, field(&id, &props, "SecurityProfileName")?)?);
        }
        for (id, props) in of_type("AWS::Connect::Prompt") {
            instance.prompts.insert(reader.string(&id, field(&id, &props, "Name")?)?);
        }
        for (id, props) in of_type("AWS::Connect::ContactFlowModule") {
            let name = reader.string(&id, field(&id, &props, "Name")?)?;
            let content = reader.string(&id, field(&id, &props, "Content")?)?;
            instance.modules.insert(name, content);
        }
        instance.hierarchy_groups = reader.hierarchy(&of_type("AWS::Connect::UserHierarchyGroup"))?;

        // Bots: bot → its aliases → what the instance associates and what the flows call them.
        let mut bots_by_id: BTreeMap<String, LexBot> = BTreeMap::new();
        for (id, props) in of_type("AWS::Lex::Bot") {
            bots_by_id.insert(id.clone(), reader.bot(&id, &props)?);
        }
        // Alias logical id → the bot with that alias's ARN.
        let mut aliases: BTreeMap<String, LexBot> = BTreeMap::new();
        for (id, props) in of_type("AWS::Lex::BotAlias") {
            let bot = reader.reference(&id, field(&id, &props, "BotId")?)?;
            let Some(bot) = bots_by_id.get(&bot) else { return Err(invalid(&id, format!("{bot} is not a bot"))) };
            let alias_arn = format!(
                "arn:aws:lex:{}:{}:bot-alias/{}/{}",
                pseudo.region,
                pseudo.account_id,
                lex_id("bot", &bot.name),
                lex_id("alias", &id)
            );
            instance.bot_aliases.insert(id.clone(), alias_arn.clone());
            aliases.insert(id, LexBot { alias_arn, ..bot.clone() });
        }
        for (id, props) in of_type("AWS::Connect::IntegrationAssociation") {
            if props.get("IntegrationType").and_then(Value::as_str) == Some("LEX_BOT") {
                let alias = reader.reference(&id, field(&id, &props, "IntegrationArn")?)?;
                let bot = aliases.get(&alias).ok_or_else(|| invalid(&id, format!("{alias} is not a bot alias")))?;
                instance.associated_bots.push(bot.alias_arn.clone());
            }
        }

        let mut numbers_by_id = BTreeMap::new();
        for (id, resource) in resources.iter().filter_map(|(id, r)| Some((id.as_str()?, r))) {
            if resource.get("Type").and_then(Value::as_str) != Some("AWS::Connect::PhoneNumber") {
                continue;
            }
            let local = resource.get("Metadata").and_then(|m| m.get("Switchboard")).and_then(|s| s.get("LocalNumber"));
            let number = local
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(id, "a phone number needs Metadata: {Switchboard: {LocalNumber: <E.164>}}"))?;
            numbers_by_id.insert(id.to_owned(), number.to_owned());
            instance.number_resources.insert(id.to_owned(), number.to_owned());
            instance.phone_numbers.insert(number.to_owned(), String::new());
        }
        for (id, props) in of_type("Custom::ContactFlows") {
            for (name, value) in reader.map(&id, props.get("Bots"))? {
                let alias = reader.reference(&id, &value)?;
                let bot =
                    aliases.get(&alias).ok_or_else(|| invalid(&id, format!("Bots: {alias} is not a bot alias")))?;
                instance.bots.insert(name, bot.clone());
            }
            for (flow, value) in reader.map(&id, props.get("PhoneNumbers"))? {
                let number = reader.reference(&id, &value)?;
                let number = numbers_by_id
                    .get(&number)
                    .ok_or_else(|| invalid(&id, format!("PhoneNumbers: {number} is not a phone number")))?;
                instance.phone_numbers.insert(number.clone(), flow);
            }
        }
        Ok(instance)
    }

    fn built_in() -> Self {
        let mut instance = Self::default();
        instance.hours.insert(BUILT_IN_HOURS.into(), HoursOfOperation::always(BUILT_IN_HOURS));
        instance
            .queues
            .insert(BUILT_IN_QUEUE.into(), Queue { name: BUILT_IN_QUEUE.into(), hours: BUILT_IN_HOURS.into() });
        instance.routing_profiles.insert(BUILT_IN_ROUTING_PROFILE.into(), vec![BUILT_IN_QUEUE.into()]);
        instance.security_profiles.extend(BUILT_IN_SECURITY_PROFILES.iter().map(|p| (*p).to_owned()));
        instance.prompts.extend(BUILT_IN_PROMPTS.iter().map(|p| (*p).to_owned()));
        instance
    }

    /// `name=alias ARN,…`: the bots as provision-flows reads them (`FLOW_BOTS`).
    pub fn flow_bots(&self) -> String {
        self.bots.iter().map(|(name, bot)| format!("{name}={}", bot.alias_arn)).collect::<Vec<_>>().join(",")
    }

    /// The queue's hours.
    pub fn queue_hours(&self, queue: &str) -> Option<&HoursOfOperation> {
        self.hours.get(&self.queues.get(queue)?.hours)
    }
}

struct Reader<'a> {
    template: &'a Value,
    pseudo: &'a Pseudo,
}

impl Reader<'_> {
    /// A string: plain, `!Ref` of a parameter (its default) or a pseudo parameter, or `!Sub` of those.
    fn string(&self, resource: &str, value: &Value) -> Result<String, InstanceError> {
        if let Some(name) = intrinsic(value, "Ref").and_then(Value::as_str) {
            return self.variable(name).ok_or_else(|| invalid(resource, format!("!Ref {name} has no local value")));
        }
        if let Some(sub) = intrinsic(value, "Sub") {
            let text = sub.as_str().ok_or_else(|| invalid(resource, "only the one-argument !Sub is read"))?;
            return self.substitute(resource, text);
        }
        match value {
            Value::String(text) => Ok(text.clone()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(invalid(resource, format!("expected a string, found {}", describe(other)))),
        }
    }

    /// `AWS::StackName`, `AWS::Region`, `AWS::AccountId`, or a parameter's default.
    fn variable(&self, name: &str) -> Option<String> {
        match name {
            "AWS::StackName" => Some(self.pseudo.stack_name.clone()),
            "AWS::Region" => Some(self.pseudo.region.clone()),
            "AWS::AccountId" => Some(self.pseudo.account_id.clone()),
            "AWS::Partition" => Some("aws".into()),
            parameter => {
                let default = self.template.get("Parameters")?.get(parameter)?.get("Default")?;
                match default {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }
            }
        }
    }

    fn substitute(&self, resource: &str, text: &str) -> Result<String, InstanceError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| invalid(resource, format!("unclosed ${{ in {text:?}")))?;
            let name = &after[..end];
            match name.strip_prefix('!') {
                Some(literal) => out.push_str(&format!("${{{literal}}}")),
                None => out.push_str(
                    &self.variable(name).ok_or_else(|| invalid(resource, format!("${{{name}}} has no local value")))?,
                ),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The logical id a `!Ref X` or `!GetAtt X.Attribute` names.
    fn reference(&self, resource: &str, value: &Value) -> Result<String, InstanceError> {
        if let Some(name) = intrinsic(value, "Ref").and_then(Value::as_str) {
            return Ok(name.to_owned());
        }
        let named = intrinsic(value, "GetAtt").and_then(|v| match v {
            Value::String(text) => text.split_once('.').map(|(id, _)| id.to_owned()),
            Value::Sequence(parts) => parts.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        });
        named.ok_or_else(|| {
            invalid(resource, format!("expected !Ref or !GetAtt of a resource, found {}", describe(value)))
        })
    }

    /// A map property, through an `!If` (the local instance takes the branch that has the map).
    fn map(&self, resource: &str, value: Option<&Value>) -> Result<Vec<(String, Value)>, InstanceError> {
        let Some(mut value) = value else { return Ok(Vec::new()) };
        if let Some(branches) = intrinsic(value, "If").and_then(Value::as_sequence) {
            match branches
                .iter()
                .skip(1)
                .find(|b| b.as_mapping().is_some_and(|m| intrinsic(b, "Ref").is_none() && !m.is_empty()))
            {
                Some(branch) => value = branch,
                None => return Ok(Vec::new()),
            }
        }
        let mapping: &Mapping = value
            .as_mapping()
            .ok_or_else(|| invalid(resource, format!("expected a map, found {}", describe(value))))?;
        Ok(mapping.iter().filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone()))).collect())
    }

    fn hours(&self, id: &str, props: &Value) -> Result<HoursOfOperation, InstanceError> {
        let name = self.string(id, field(id, props, "Name")?)?;
        let time_zone = self.string(id, field(id, props, "TimeZone")?)?;
        let mut openings = Vec::new();
        for entry in field(id, props, "Config")?.as_sequence().ok_or_else(|| invalid(id, "Config must be a list"))? {
            let day_name = self.string(id, field(id, entry, "Day")?)?;
            let day: chrono::Weekday =
                day_name.parse().map_err(|_| invalid(id, format!("{day_name} is not a day of the week")))?;
            let minutes = |key: &str| -> Result<u32, InstanceError> {
                let time = field(id, entry, key)?;
                let part = |k: &str| time.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
                Ok(part("Hours") * 60 + part("Minutes"))
            };
            openings.push(Opening { day, start: minutes("StartTime")?, end: minutes("EndTime")? });
        }
        Ok(HoursOfOperation { name, time_zone, openings })
    }

    fn hierarchy(&self, groups: &[(String, Value)]) -> Result<Vec<HierarchyGroup>, InstanceError> {
        let mut declared = Vec::new();
        for (id, props) in groups {
            let name = self.string(id, field(id, props, "Name")?)?;
            let parent = props.get("ParentGroupArn").map(|p| self.reference(id, p)).transpose()?;
            declared.push((id.clone(), name, parent));
        }
        if let Some((id, name, _)) =
            declared.iter().find(|(id, name, _)| declared.iter().any(|(other, n, _)| n == name && other != id))
        {
            return Err(invalid(
                id,
                format!("two hierarchy groups are named {name}: the local instance finds groups by name"),
            ));
        }
        // Parents first, so that a group's path is known when it is reached.
        let mut ordered: Vec<HierarchyGroup> = Vec::new();
        while ordered.len() < declared.len() {
            let before = ordered.len();
            for (id, name, parent) in &declared {
                if ordered.iter().any(|g| &g.name == name) {
                    continue;
                }
                let parent_name = match parent {
                    None => None,
                    Some(parent) => match declared.iter().find(|(pid, ..)| pid == parent) {
                        Some((_, parent_name, _)) if ordered.iter().any(|g| &g.name == parent_name) => {
                            Some(parent_name.clone())
                        }
                        Some(_) => continue,
                        None => return Err(invalid(id, format!("ParentGroupArn: {parent} is not a hierarchy group"))),
                    },
                };
                ordered.push(HierarchyGroup { name: name.clone(), parent: parent_name });
            }
            if ordered.len() == before {
                return Err(invalid("UserHierarchyGroup", "the groups' parents form a cycle"));
            }
        }
        Ok(ordered)
    }

    fn bot(&self, id: &str, props: &Value) -> Result<LexBot, InstanceError> {
        let name = self.string(id, field(id, props, "Name")?)?;
        let locales =
            field(id, props, "BotLocales")?.as_sequence().ok_or_else(|| invalid(id, "BotLocales must be a list"))?;
        let locale = locales.first().ok_or_else(|| invalid(id, "a bot needs a locale"))?;
        let mut slot_types = BTreeMap::new();
        for slot_type in locale.get("SlotTypes").and_then(Value::as_sequence).into_iter().flatten() {
            let type_name = self.string(id, field(id, slot_type, "Name")?)?;
            let mut values = Vec::new();
            for value in slot_type.get("SlotTypeValues").and_then(Value::as_sequence).into_iter().flatten() {
                let sample = value.get("SampleValue").and_then(|s| s.get("Value")).and_then(Value::as_str);
                let Some(sample) = sample else { continue };
                let synonyms = value.get("Synonyms").and_then(Value::as_sequence).into_iter().flatten();
                let synonyms = synonyms.filter_map(|s| s.get("Value")?.as_str()).map(str::to_lowercase).collect();
                values.push((sample.to_lowercase(), synonyms));
            }
            slot_types.insert(type_name, values);
        }
        let mut intents = Vec::new();
        for intent in locale.get("Intents").and_then(Value::as_sequence).into_iter().flatten() {
            let intent_name = self.string(id, field(id, intent, "Name")?)?;
            let utterances = intent
                .get("SampleUtterances")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|u| u.get("Utterance")?.as_str().map(str::to_owned))
                .collect();
            let mut slots = Vec::new();
            for slot in intent.get("Slots").and_then(Value::as_sequence).into_iter().flatten() {
                let slot_name = self.string(id, field(id, slot, "Name")?)?;
                let slot_type = self.string(id, field(id, slot, "SlotTypeName")?)?;
                slots.push(Slot { name: slot_name, slot_type });
            }
            intents.push(Intent { name: intent_name, utterances, slots });
        }
        Ok(LexBot { name, alias_arn: String::new(), intents, slot_types })
    }
}

fn field<'v>(resource: &str, value: &'v Value, key: &str) -> Result<&'v Value, InstanceError> {
    value.get(key).ok_or_else(|| invalid(resource, format!("no {key}")))
}

/// The argument of an intrinsic function in either form: `!Name arg` or `{"Fn::Name": arg}`
/// (`{"Ref": arg}` for `Ref`).
pub fn intrinsic<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    match value {
        Value::Tagged(tagged) if tagged.tag == name => Some(&tagged.value),
        Value::Mapping(mapping) if mapping.len() == 1 => {
            let long = if name == "Ref" { name.to_owned() } else { format!("Fn::{name}") };
            mapping.get(long.as_str())
        }
        _ => None,
    }
}

/// A value for an error message.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => format!("a {} tag", tagged.tag),
        Value::Mapping(_) => "a map".into(),
        Value::Sequence(_) => "a list".into(),
        other => serde_yaml::to_string(other).map(|s| s.trim().to_owned()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
