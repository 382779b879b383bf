//! The actions that read the declared instance or the caller's script rather than a function:
//! bots (`ConnectParticipantWithLexBot`), hours, metrics, loops, distribution, flow attributes,
//! messages given as SSML or a prompt — and what the runner does with an action it does not model.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    contact::{Contact, WorkingQueue},
    model::{placeholder, Action, Flow, FlowError},
    runner::{action_error, branch_on, compare, next, on_error, param_str, Next, Services},
    transcript::{Ending, Step, Transcript},
};
use crate::instance::{local_id, HoursOfOperation, Recognised};

/// Action types with no effect the runner can show but a line in the transcript: they go on to
/// their next action.
pub(super) const RECORDED_ONLY: &[&str] = &[
    "UpdateFlowLoggingBehavior",
    "UpdateContactRecordingBehavior",
    "UpdateContactRecordingAndAnalyticsBehavior",
    "UpdateContactMediaStreamingBehavior",
    "UpdateContactTextToSpeechVoice",
    "UpdateContactData",
    "TagContact",
    "CompleteOutboundCall",
];

/// Plays a message (`Text`, `SSML` or `PromptId`) to the customer. `Ok(Some(next))`: its dynamic
/// prompt has no value and `next` is the action's Error branch; `Ok(None)`: it played, or there was
/// nothing to play and the message is not `required`.
pub(super) fn play_message(
    services: &Services,
    flow: &Flow,
    action: &Action,
    contact: &mut Contact,
    transcript: &mut Transcript,
    message: &Value,
    required: bool,
) -> Result<Option<Next>, FlowError> {
    match message_text(services, contact, message) {
        Some(Ok(text)) => {
            contact.message(transcript, &text);
            Ok(None)
        }
        Some(Err(reference)) => unresolved(flow, action, transcript, &reference).map(Some),
        None if required => Err(action_error(flow, action, "a message without Text, SSML or PromptId".into())),
        None => Ok(None),
    }
}

/// What a message action says: its `Text`, its `SSML` (as the words, tags dropped), or the name of
/// its prompt. `Some(Err(reference))`: a dynamic `PromptId` with no value (the Error branch).
fn message_text(services: &Services, contact: &Contact, message: &Value) -> Option<Result<String, String>> {
    if let Some(text) = param_str(message, "Text") {
        return Some(Ok(text.to_owned()));
    }
    if let Some(ssml) = param_str(message, "SSML") {
        return Some(Ok(strip_tags(ssml)));
    }
    let Some(prompt) = param_str(message, "PromptId") else {
        // A chat message of media only (an attachment): what reaches the customer is the media.
        return message
            .get("Media")
            .map(|media| Ok(format!("[media {}]", media.get("Uri").and_then(Value::as_str).unwrap_or_default())));
    };
    let Some(prompt) = contact.dynamic(prompt) else { return Some(Err(prompt.to_owned())) };
    let name = placeholder(&prompt, "prompt").or_else(|| {
        let id = prompt.rsplit('/').next().unwrap_or(&prompt);
        services.prompts.iter().find(|(_, prompt_id)| prompt_id.as_str() == id).map(|(name, _)| name.clone())
    });
    Some(Ok(format!("[prompt {}]", name.unwrap_or(prompt))))
}

fn strip_tags(ssml: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in ssml.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `MessageParticipantIteratively`: one round of its messages; then the interrupt (its
/// `MessagesInterrupted` branch) if it has one, else the same messages again (until the customer
/// leaves: [`Call::leave_after_messages`](super::Call::leave_after_messages)).
pub(super) fn message_iteratively(
    services: &Services,
    flow: &Flow,
    action: &Action,
    contact: &mut Contact,
    transcript: &mut Transcript,
) -> Result<Next, FlowError> {
    let messages = action.parameters.get("Messages").and_then(Value::as_array);
    let messages =
        messages.filter(|m| !m.is_empty()).ok_or_else(|| action_error(flow, action, "no Messages".into()))?;
    for message in messages {
        if let Some(error) = play_message(services, flow, action, contact, transcript, message, true)? {
            return Ok(error);
        }
    }
    let interrupted = action
        .transitions
        .conditions
        .iter()
        .find(|t| compare(&t.condition.operator, "MessagesInterrupted", &t.condition.operands).unwrap_or(false));
    match interrupted {
        Some(transition) if action.parameters.get("InterruptFrequencySeconds").is_some() => {
            Ok(Next::Action(transition.next_action.clone()))
        }
        // With no one to leave, the loop would play forever: the customer leaves after one round.
        _ if !contact.leaves => Ok(Next::End(Ending::CustomerLeft { after_messages: contact.messages })),
        _ => Ok(Next::Action(action.identifier.clone())),
    }
}

/// `ConnectParticipantWithLexBot`: the bot's prompt, then the caller's next words matched to the
/// declared bot's intents; `$.Lex.IntentName` and `$.Lex.Slots.<Name>` set; the intent's branch.
pub(super) fn lex_bot(
    services: &Services,
    flow: &Flow,
    action: &Action,
    contact: &mut Contact,
    transcript: &mut Transcript,
) -> Result<Next, FlowError> {
    let params = &action.parameters;
    if let Some(error) = play_message(services, flow, action, contact, transcript, params, false)? {
        return Ok(error);
    }
    let alias = params.pointer("/LexV2Bot/AliasArn").and_then(Value::as_str).unwrap_or_default();
    let Some(alias) = contact.dynamic(alias) else {
        return unresolved(flow, action, transcript, alias);
    };
    let bot = match placeholder(&alias, "bot") {
        Some(name) => services.declared.bots.get(&name),
        None => services.declared.bots.values().find(|bot| bot.alias_arn == alias),
    };
    let Some(bot) = bot else {
        // A bot the instance does not have: Connect takes the Error branch.
        return unresolved(flow, action, transcript, &alias);
    };
    let Some(said) = contact.said.pop_front() else {
        transcript.steps.push(Step::Lex { bot: bot.name.clone(), said: None, intent: None, slots: BTreeMap::new() });
        return on_error(flow, action, "InputTimeLimitExceeded");
    };
    let Recognised { intent, slots } = bot.recognise(&said);
    transcript.steps.push(Step::Lex {
        bot: bot.name.clone(),
        said: Some(said),
        intent: Some(intent.clone()),
        slots: slots.clone(),
    });
    contact.lex = Some(Recognised { intent: intent.clone(), slots });
    branch_on(flow, action, &intent)
}

/// `CheckHoursOfOperation`: the hours its `HoursOfOperationId` names (an ARN or id of the instance's
/// hours), else the working queue's, at the call's clock; `True` or `False`.
pub(super) fn check_hours(
    services: &Services,
    flow: &Flow,
    action: &Action,
    contact: &mut Contact,
    transcript: &mut Transcript,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Next, FlowError> {
    let hours: Option<&HoursOfOperation> = match param_str(&action.parameters, "HoursOfOperationId") {
        Some(given) => {
            let Some(given) = contact.dynamic(given) else { return unresolved(flow, action, transcript, given) };
            let id = given.rsplit('/').next().unwrap_or(&given);
            services.declared.hours.values().find(|h| local_id("hours", &h.name) == id || h.name == given)
        }
        None => match &contact.target_queue {
            Some(WorkingQueue::Standard(queue)) => services.declared.queue_hours(queue),
            // An agent's personal queue has no hours; nor has a contact with no working queue.
            _ => None,
        },
    };
    let Some(hours) = hours else {
        let named = param_str(&action.parameters, "HoursOfOperationId").unwrap_or("the working queue's hours");
        return unresolved(flow, action, transcript, named);
    };
    let open = hours.is_open(at).map_err(|problem| action_error(flow, action, problem))?;
    transcript.steps.push(Step::Hours { hours: hours.name.clone(), at: at.to_rfc3339(), open });
    branch(flow, action, if open { "True" } else { "False" })
}

/// `CheckMetricData` (branch on the call's value of its `MetricType`) and `GetMetricData` (the
/// call's values become `$.Metrics.<Name>`). A metric the call did not set takes the Error branch.
pub(super) fn metrics(
    flow: &Flow,
    action: &Action,
    contact: &mut Contact,
    transcript: &mut Transcript,
) -> Result<Next, FlowError> {
    if action.kind == "GetMetricData" {
        contact.metrics_loaded = true;
        transcript.steps.push(Step::Metrics { values: contact.metrics.clone() });
        return next(flow, action);
    }
    let metric = param_str(&action.parameters, "MetricType").unwrap_or_default();
    let Some(value) = contact.metrics.get(metric).cloned() else {
        return unresolved(flow, action, transcript, &format!("the metric {metric} (call --metric {metric}=<value>)"));
    };
    transcript.steps.push(Step::Metrics { values: BTreeMap::from([(metric.to_owned(), value.clone())]) });
    branch_on(flow, action, &value)
}

/// `Loop`: `ContinueLooping` until it has looped `LoopCount` times, then `DoneLooping` (and the
/// count starts again, as it does when the flow comes back to the action).
pub(super) fn loop_action(
    flow: &Flow,
    action: &Action,
    contact: &mut Contact,
    transcript: &mut Transcript,
) -> Result<Next, FlowError> {
    // A dynamic count that is not a number loops no more (Loop has no error branch to take).
    let count = match action.parameters.get("LoopCount") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => Some(contact.value_of(s).trim().parse().unwrap_or(0)),
        _ => None,
    }
    .ok_or_else(|| action_error(flow, action, "LoopCount is not a whole number".into()))?;
    // Per flow and action: two flows may both have a Loop called `retry`.
    let key = format!("{}/{}", flow.name, action.identifier);
    let passes = contact.loops.entry(key.clone()).or_insert(0);
    if *passes < count {
        *passes += 1;
        transcript.steps.push(Step::Loop { pass: *passes, count });
        branch(flow, action, "ContinueLooping")
    } else {
        contact.loops.remove(&key);
        branch(flow, action, "DoneLooping")
    }
}

/// `DistributeByPercentage`: a draw from 1 to 100 against its `NumberLessThan` conditions.
pub(super) fn distribute(flow: &Flow, action: &Action, transcript: &mut Transcript) -> Result<Next, FlowError> {
    let draw = rand::random_range(1..=100u32);
    transcript.steps.push(Step::Distributed { draw });
    branch_on(flow, action, &draw.to_string())
}

/// `UpdateFlowAttributes`: `FlowAttributes: {name: {Value}}` into `$.FlowAttributes`.
pub(super) fn flow_attributes(
    flow: &Flow,
    action: &Action,
    contact: &mut Contact,
    transcript: &mut Transcript,
) -> Result<Next, FlowError> {
    let given = action.parameters.get("FlowAttributes").and_then(Value::as_object);
    let given = given.ok_or_else(|| action_error(flow, action, "no FlowAttributes".into()))?;
    let mut set = BTreeMap::new();
    for (name, attribute) in given {
        let value = attribute.get("Value").and_then(Value::as_str).or(attribute.as_str()).unwrap_or_default();
        set.insert(name.clone(), contact.interpolate(value));
    }
    contact.flow_attributes.extend(set.clone());
    transcript.steps.push(Step::SetFlowAttributes { attributes: set });
    next(flow, action)
}

/// `TransferParticipantToThirdParty`: the call leaves the instance for the number.
pub(super) fn third_party(
    flow: &Flow,
    action: &Action,
    contact: &Contact,
    transcript: &mut Transcript,
) -> Result<Next, FlowError> {
    let number = param_str(&action.parameters, "ThirdPartyPhoneNumber").unwrap_or_default();
    match contact.dynamic(number) {
        Some(to) if !to.is_empty() => Ok(Next::End(Ending::Transferred { to })),
        _ => unresolved(flow, action, transcript, number),
    }
}

/// An action type the runner does not model: its error branch, said in the transcript; with none,
/// the contact stops there (the runner cannot follow a branch that is not there).
pub(super) fn not_modelled(action: &Action, documented: &[String], transcript: &mut Transcript) -> Next {
    let errors = &action.transitions.errors;
    let taken = errors
        .iter()
        .find(|e| e.error_type == "NoMatchingError")
        .or_else(|| documented.iter().find_map(|d| errors.iter().find(|e| &e.error_type == d)))
        .or_else(|| errors.first());
    match taken {
        Some(error) => {
            transcript.steps.push(Step::NotModelled { action: action.kind.clone(), error: error.error_type.clone() });
            Next::Action(error.next_action.clone())
        }
        None => Next::End(Ending::NotModelled { action: action.kind.clone() }),
    }
}

/// A reference with no value: the action's Error branch, said in the transcript.
pub(super) fn unresolved(
    flow: &Flow,
    action: &Action,
    transcript: &mut Transcript,
    reference: &str,
) -> Result<Next, FlowError> {
    transcript.steps.push(Step::Unresolved { action: action.kind.clone(), reference: reference.to_owned() });
    on_error(flow, action, "NoMatchingError")
}

/// The condition whose operand is `outcome`, else the Error branch.
fn branch(flow: &Flow, action: &Action, outcome: &str) -> Result<Next, FlowError> {
    for transition in &action.transitions.conditions {
        if compare(&transition.condition.operator, outcome, &transition.condition.operands).unwrap_or(false) {
            return Ok(Next::Action(transition.next_action.clone()));
        }
    }
    match &action.transitions.next_action {
        Some(next) if action.transitions.conditions.is_empty() => Ok(Next::Action(next.clone())),
        _ => on_error(flow, action, "NoMatchingCondition"),
    }
}
