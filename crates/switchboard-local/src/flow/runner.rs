//! Walks a flow action by action for one simulated contact.

use std::{collections::BTreeMap, time::Duration};

use serde_json::Value;

use super::{
    call::{Call, CallInput, Channel},
    contact::{Contact, WorkingQueue},
    interactions::{self, RECORDED_ONLY},
    model::{action_type, placeholder, Action, Flow, FlowError, FlowLibrary, FlowManifest, FlowType, Placeholder},
    transcript::{Ending, Step, Transcript},
};
use crate::{
    emulator::Sms,
    fixture::{ConnectUser, Fixture},
    instance::DeclaredInstance,
    lambda_host::InvokeClient,
};

/// Upper bound on actions per call, so a flow that loops forever fails instead of hanging.
const MAX_STEPS: usize = 300;

/// The event hooks `UpdateContactEventHooks` may set (the flow-language reference's list).
const EVENT_HOOKS: &[&str] = &[
    "AgentHold",
    "AgentWhisper",
    "CustomerHold",
    "CustomerQueue",
    "CustomerRemaining",
    "CustomerWhisper",
    "DefaultAgentUI",
    "DisconnectAgentUI",
    "PauseContact",
    "ResumeContact",
];

/// The longest `Wait` the flow language allows (seven days).
const MAX_WAIT_SECONDS: u64 = 604_800;

/// Where the runner finds the local cloud.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Services {
    /// The Lambda Invoke API (the lambda host, or `cargo lambda watch`).
    pub lambda_endpoint: String,
    /// The emulator, for the SMS outbox.
    pub emulator_endpoint: String,
    pub instance_arn: String,
    /// Queue name → id.
    pub queues: BTreeMap<String, String>,
    /// The instance's users, whose personal queues a working queue set by agent names.
    pub users: Vec<ConnectUser>,
    /// Prompt name → id.
    pub prompts: BTreeMap<String, String>,
    /// What template.yaml declares: hours, bots, the numbers and the flows they start.
    pub declared: DeclaredInstance,
}

impl Services {
    /// The fixture's instance, queues and users, with the functions and the emulator at these endpoints.
    pub fn from_fixture(
        fixture: &Fixture,
        lambda_endpoint: impl Into<String>,
        emulator_endpoint: impl Into<String>,
    ) -> Self {
        Self {
            lambda_endpoint: lambda_endpoint.into(),
            emulator_endpoint: emulator_endpoint.into(),
            instance_arn: fixture.instance_arn(),
            queues: fixture.connect.queues.clone(),
            users: fixture.connect.users.clone(),
            prompts: fixture.connect.prompts.clone(),
            declared: fixture.connect.declared.clone(),
        }
    }

    /// The queue a `QueueId` names: `{{queue:<name>}}` (the library's flows) or the queue's ARN (a
    /// deployed flow's), if the instance has it.
    pub fn queue_name(&self, queue: &str) -> Option<String> {
        if let Some(name) = placeholder(queue, "queue") {
            return self.queues.contains_key(&name).then_some(name);
        }
        let id = queue.rsplit_once("/queue/").map(|(_, id)| id)?;
        self.queues.iter().find(|(_, queue_id)| queue_id.as_str() == id).map(|(name, _)| name.clone())
    }

    /// The user an `AgentId` names: by user id or user ARN (what the flow-language reference
    /// documents), or by username (what `videoRouteToAgent` carries, as in the original sample).
    pub fn user(&self, agent: &str) -> Option<&ConnectUser> {
        self.users.iter().find(|user| {
            user.id == agent || user.username == agent || agent == format!("{}/agent/{}", self.instance_arn, user.id)
        })
    }
}

pub struct Runner {
    pub library: FlowLibrary,
    pub services: Services,
    lambda: InvokeClient,
    http: reqwest::Client,
    /// Play the flows deployed into the emulated instance (by their real ARNs) instead of the library's.
    deployed: bool,
}

pub(super) enum Next {
    Action(String),
    Transfer(Flow),
    /// Into a module (`InvokeFlowModule`); back at the action named here when it ends.
    Module(Flow, String),
    /// Out of the module (`EndFlowModuleExecution`).
    Return,
    End(Ending),
}

impl Runner {
    pub fn new(library: FlowLibrary, services: Services) -> Self {
        let lambda = InvokeClient::new(services.lambda_endpoint.clone());
        Self { library, services, lambda, http: reqwest::Client::new(), deployed: false }
    }

    /// A runner that plays what `provision-flows` deployed: a call names the flow as Connect does
    /// (`Emergency_Authentication`, with the stack's prefix), and every flow, queue and Lambda is
    /// found by the ARN the deployed content holds, as Connect finds them.
    pub fn playing_deployed(mut self) -> Self {
        self.deployed = true;
        self
    }

    /// The flow a call starts in: the one it names, else the one its dialled number is associated
    /// with: on the instance (what an apply associated) when playing deployed flows, else in
    /// template.yaml (ContactFlows' `PhoneNumbers`).
    async fn start_flow(&self, name: &str, to: &str) -> Result<Flow, FlowError> {
        if name.is_empty() && self.deployed {
            let url = format!("{}/_local/phone-numbers", self.services.emulator_endpoint);
            let unreadable =
                |e: reqwest::Error| FlowError::Read { path: url.clone(), source: std::io::Error::other(e.to_string()) };
            let numbers: BTreeMap<String, Option<String>> =
                self.http.get(&url).send().await.map_err(unreadable)?.json().await.map_err(unreadable)?;
            let flow = numbers.get(to).cloned().flatten().ok_or_else(|| FlowError::Invalid {
                flow: to.to_owned(),
                problem: "no flow is associated with this number on the instance (apply the flows first)".into(),
            })?;
            return Box::pin(self.start_flow(&flow, to)).await;
        }
        if name.is_empty() {
            let associated = self.services.declared.phone_numbers.get(to).filter(|flow| !flow.is_empty());
            let flow = associated.ok_or_else(|| FlowError::Invalid {
                flow: to.to_owned(),
                problem: "no flow is associated with this number in template.yaml (ContactFlows' PhoneNumbers)".into(),
            })?;

            let path = self.library.names()?.into_iter().find(|path| path.rsplit('/').next() == Some(flow.as_str()));
            let path = path.ok_or_else(|| FlowError::Invalid {
                flow: flow.clone(),
                problem: format!("{to} starts {flow}, which is not in contact-flows/"),
            })?;
            return self.library.load(&path);
        }
        if !self.deployed {
            return self.library.load(name);
        }
        let wanted = name.rsplit('/').next().unwrap_or(name);
        self.deployed_flow(|flow| flow.get("name").and_then(Value::as_str) == Some(wanted), name).await
    }

    /// The flow (or module) a `TransferToFlow`, an event hook or an `InvokeFlowModule` names, given
    /// as written in the flow (a dynamic `$.…` value is the contact's): a `{{flow:<name>}}` or
    /// `{{module:<name>}}` of the library, or (deployed) an ARN of the instance; `None` when it has
    /// no value or names nothing the instance has (the action's Error branch).
    async fn target_flow(&self, from: &Flow, contact: &Contact, given: &str) -> Result<Option<Flow>, FlowError> {
        let Some(target) = contact.dynamic(given) else { return Ok(None) };
        let target = target.as_str();
        if let Some(name) = placeholder(target, "flow").or_else(|| placeholder(target, "module")) {
            let context = from.name.split_once('/').map_or("", |(c, _)| c);
            return self.library.load(&format!("{context}/{name}")).map(Some);
        }
        if self.deployed && (target.contains("/contact-flow/") || target.contains("/flow-module/")) {
            let found =
                self.deployed_flow(|flow| flow.get("arn").and_then(Value::as_str) == Some(target), target).await;
            return match found {
                Ok(flow) => Ok(Some(flow)),
                Err(FlowError::Invalid { .. }) => Ok(None),
                Err(other) => Err(other),
            };
        }
        Ok(None)
    }

    /// A deployed flow from the emulator's store, parsed and checked like a library flow.
    async fn deployed_flow(&self, matches: impl Fn(&Value) -> bool, wanted: &str) -> Result<Flow, FlowError> {
        let url = format!("{}/_local/contact-flows", self.services.emulator_endpoint);
        let unreadable =
            |e: reqwest::Error| FlowError::Read { path: url.clone(), source: std::io::Error::other(e.to_string()) };
        let listed: Value = self.http.get(&url).send().await.map_err(unreadable)?.json().await.map_err(unreadable)?;
        let flows = listed.get("flows").and_then(Value::as_array).cloned().unwrap_or_default();
        let found = flows.iter().find(|f| matches(f)).ok_or_else(|| FlowError::Invalid {
            flow: wanted.to_owned(),
            problem: "no flow of that name or ARN is deployed on the instance".into(),
        })?;
        let name = found.get("name").and_then(Value::as_str).unwrap_or(wanted).to_owned();
        let content = found.get("content").and_then(Value::as_str).unwrap_or_default();
        let mut flow: Flow = serde_json::from_str(content)
            .map_err(|source| FlowError::Parse { path: format!("deployed flow {name}"), source })?;
        flow.name = name;
        flow.kind =
            found.get("type").or_else(|| found.get("kind")).and_then(|k| serde_json::from_value(k.clone()).ok());
        flow.validate()?;
        Ok(flow)
    }

    /// Plays the call to its end and returns the transcript, or the reason the flow could not run.
    ///
    /// The transcript's ending is how the contact left the flows: queued, disconnected, ended, or
    /// the customer left first. A contact that goes on into its customer queue flow (see
    /// [`Call::leave_after_messages`]) keeps its queued ending; what happened in queue is in the steps.
    pub async fn play(&self, call: Call) -> Result<Transcript, FlowError> {
        let manifest = self.library.manifest()?;
        let contact_id = uuid::Uuid::new_v4().to_string();
        let mut contact = Contact {
            initial_contact_id: contact_id.clone(),
            contact_id,
            channel: call.channel,
            from: call.from,
            to: call.to,
            attributes: call.attributes,
            external: BTreeMap::new(),
            stored_input: None,
            target_queue: None,
            inputs: call.inputs.into(),
            messages: 0,
            customer_queue_flow: None,
            queue_at_capacity: call.queue_at_capacity,
            said: call.said.into(),
            lex: None,
            flow_attributes: BTreeMap::new(),
            metrics: call.metrics,
            metrics_loaded: false,
            loops: BTreeMap::new(),
            leaves: call.leave_after_messages.is_some(),
        };
        let clock = call.at.unwrap_or_else(chrono::Utc::now);
        let mut transcript = Transcript {
            contact_id: contact.contact_id.clone(),
            initial_contact_id: contact.initial_contact_id.clone(),
            channel: call.channel,
            steps: Vec::new(),
            ending: None,
            attributes: BTreeMap::new(),
        };
        let mut flow = self.start_flow(&call.flow, &contact.to).await?;
        transcript.steps.push(Step::Flow { name: flow.name.clone() });
        let mut current = flow.start_action.clone();
        let mut in_queue = false;
        // The flows that invoked the module playing now, each with where it goes on.
        let mut callers: Vec<(Flow, String)> = Vec::new();
        for _ in 0..MAX_STEPS {
            let mut action = flow.action(&current)?.clone();
            action.parameters = resolve_parameters(&flow, &action, &call.parameters, &manifest)?;
            match self.step(&flow, &action, &manifest, &mut contact, &mut transcript, clock).await? {
                Next::Action(next) => current = next,
                Next::Transfer(target) => {
                    transcript.steps.push(Step::Flow { name: target.name.clone() });
                    current = target.start_action.clone();
                    flow = target;
                }
                Next::Module(module, return_to) => {
                    transcript.steps.push(Step::Flow { name: module.name.clone() });
                    current = module.start_action.clone();
                    callers.push((std::mem::replace(&mut flow, module), return_to));
                }
                Next::Return => match callers.pop() {
                    Some((caller, return_to)) => {
                        transcript.steps.push(Step::Flow { name: caller.name.clone() });
                        flow = caller;
                        current = return_to;
                    }
                    // A module played on its own: its end is the flow's end.
                    None => {
                        transcript.ending = Some(Ending::Ended);
                        return Ok(finish(transcript, contact));
                    }
                },
                Next::End(Ending::Ended) if in_queue => return Ok(finish(transcript, contact)),
                Next::End(ending) => {
                    let queued = matches!(ending, Ending::Queued { .. } | Ending::QueuedForAgent { .. });
                    transcript.ending = Some(ending);
                    let queue_flow = contact.customer_queue_flow.take();
                    match queue_flow {
                        // In Connect the customer queue flow runs while the contact waits in queue.
                        Some(queue_flow) if queued && !in_queue && call.leave_after_messages.is_some() => {
                            in_queue = true;
                            transcript.steps.push(Step::Flow { name: queue_flow.name.clone() });
                            current = queue_flow.start_action.clone();
                            flow = queue_flow;
                            continue;
                        }
                        _ => return Ok(finish(transcript, contact)),
                    }
                }
            }
            if call.leave_after_messages.is_some_and(|limit| contact.messages >= limit) {
                let after_messages = contact.messages;
                if in_queue {
                    transcript.steps.push(Step::CustomerLeft { after_messages });
                } else {
                    transcript.ending = Some(Ending::CustomerLeft { after_messages });
                }
                return Ok(finish(transcript, contact));
            }
        }
        Err(FlowError::TooManySteps(MAX_STEPS))
    }

    async fn step(
        &self,
        flow: &Flow,
        action: &Action,
        manifest: &FlowManifest,
        contact: &mut Contact,
        transcript: &mut Transcript,
        clock: chrono::DateTime<chrono::Utc>,
    ) -> Result<Next, FlowError> {
        let fail = |problem: String| action_error(flow, action, problem);
        let params = &action.parameters;
        let Some(catalogued) = action_type(&action.kind) else {
            return Err(unsupported(flow, action));
        };
        let services = &self.services;
        match action.kind.as_str() {
            "MessageParticipant" => {
                match interactions::play_message(services, flow, action, contact, transcript, params, true)? {
                    Some(error) => Ok(error),
                    None => next(flow, action),
                }
            }
            "MessageParticipantIteratively" => {
                interactions::message_iteratively(services, flow, action, contact, transcript)
            }
            "ConnectParticipantWithLexBot" => interactions::lex_bot(services, flow, action, contact, transcript),
            "CheckHoursOfOperation" => interactions::check_hours(services, flow, action, contact, transcript, clock),
            "CheckMetricData" | "GetMetricData" => interactions::metrics(flow, action, contact, transcript),
            "Loop" => interactions::loop_action(flow, action, contact, transcript),
            "DistributeByPercentage" => interactions::distribute(flow, action, transcript),
            "UpdateFlowAttributes" => interactions::flow_attributes(flow, action, contact, transcript),
            "TransferParticipantToThirdParty" => interactions::third_party(flow, action, contact, transcript),
            "TransferContactToAgent" => Ok(Next::End(Ending::TransferredToAgent)),
            // Outside a module there is nothing to return to: the flow ends.
            "EndFlowModuleExecution" => Ok(Next::Return),
            "InvokeFlowModule" => {
                let target = param_str(params, "FlowModuleId").ok_or_else(|| fail("no FlowModuleId".into()))?;
                match self.target_flow(flow, contact, target).await? {
                    Some(module) => Ok(Next::Module(module, next_action_id(flow, action)?)),
                    None => interactions::unresolved(flow, action, transcript, target),
                }
            }
            "GetParticipantInput" => self.get_input(flow, action, contact, transcript).await,
            "InvokeLambdaFunction" => {
                let given =
                    param_str(params, "LambdaFunctionARN").ok_or_else(|| fail("no LambdaFunctionARN".into()))?;
                let Some(arn) = contact.dynamic(given) else {
                    return interactions::unresolved(flow, action, transcript, given);
                };
                let function =
                    placeholder(&arn, "lambda").or_else(|| arn.rsplit_once("function:").map(|(_, n)| n.to_owned()));
                // A value that names no function (a dynamic ARN gone wrong): Connect's Error branch.
                let Some(function) = function else {
                    return interactions::unresolved(flow, action, transcript, &arn);
                };
                let limit =
                    param_str(params, "InvocationTimeLimitSeconds").and_then(|s| s.parse().ok()).unwrap_or(8u64);
                let parameters: BTreeMap<String, String> = params
                    .get("LambdaInvocationAttributes")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), contact.interpolate(v.as_str().unwrap_or_default())))
                            .collect()
                    })
                    .unwrap_or_default();
                let event = contact.event(&self.services.instance_arn, &parameters);
                match self.invoke(&function, &event, Duration::from_secs(limit)).await {
                    Ok(result) => {
                        contact.external = result.clone();
                        transcript.steps.push(Step::Invoke { function, parameters, result: Some(result), error: None });
                        next(flow, action)
                    }
                    Err(error) => {
                        transcript.steps.push(Step::Invoke { function, parameters, result: None, error: Some(error) });
                        on_error(flow, action, "NoMatchingError")
                    }
                }
            }
            "Compare" => {
                let value = param_str(params, "ComparisonValue").ok_or_else(|| fail("no ComparisonValue".into()))?;
                branch_on(flow, action, &contact.interpolate(value))
            }
            "UpdateContactAttributes" => {
                let attributes =
                    params.get("Attributes").and_then(Value::as_object).ok_or_else(|| fail("no Attributes".into()))?;
                let resolved: BTreeMap<String, String> = attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), contact.interpolate(v.as_str().unwrap_or_default())))
                    .collect();
                contact.attributes.extend(resolved.clone());
                transcript.steps.push(Step::SetAttributes { attributes: resolved });
                next(flow, action)
            }
            "TransferToFlow" => {
                let target = param_str(params, "ContactFlowId").ok_or_else(|| fail("no ContactFlowId".into()))?;
                match self.target_flow(flow, contact, target).await? {
                    Some(target) => Ok(Next::Transfer(target)),
                    None => interactions::unresolved(flow, action, transcript, target),
                }
            }
            "UpdateContactTargetQueue" => match (param_str(params, "QueueId"), param_str(params, "AgentId")) {
                (Some(queue), None) => {
                    // A dynamic queue (`$.External.<Name>`, a flow in the workshop's style) is its value.
                    match self.services.queue_name(&contact.value_of(queue)) {
                        Some(name) => {
                            transcript.steps.push(Step::TargetQueue { queue: name.clone() });
                            contact.target_queue = Some(WorkingQueue::Standard(name));
                            next(flow, action)
                        }
                        None => interactions::unresolved(flow, action, transcript, queue),
                    }
                }
                (None, Some(agent)) => match self.services.user(&contact.value_of(agent)) {
                    Some(user) => {
                        contact.target_queue =
                            Some(WorkingQueue::Agent { username: user.username.clone(), user_id: user.id.clone() });
                        transcript
                            .steps
                            .push(Step::TargetAgentQueue { agent: user.username.clone(), agent_id: user.id.clone() });
                        next(flow, action)
                    }
                    // An empty or unknown agent: Connect takes the Error branch.
                    None => on_error(flow, action, "NoMatchingError"),
                },
                _ => Err(fail("exactly one of QueueId and AgentId must be given".into())),
            },
            "TransferContactToQueue" => match contact.target_queue.clone() {
                Some(_) if contact.queue_at_capacity > 0 => {
                    contact.queue_at_capacity -= 1;
                    transcript.steps.push(Step::QueueAtCapacity);
                    on_error(flow, action, "QueueAtCapacity")
                }
                Some(queue) => Ok(Next::End(queue.queued())),
                None => on_error(flow, action, "NoMatchingError"),
            },
            "UpdateContactRoutingBehavior" => {
                let integer = |name: &str| match params.get(name) {
                    None => Ok(None),
                    Some(Value::Number(n)) => {
                        n.as_i64().map(Some).ok_or_else(|| fail(format!("{name} is not an integer")))
                    }
                    Some(Value::String(s)) => contact
                        .value_of(s)
                        .trim()
                        .parse()
                        .map(Some)
                        .map_err(|_| fail(format!("{name} {s:?} is not an integer"))),
                    Some(other) => Err(fail(format!("{name} {other} is not an integer"))),
                };
                let step = match (integer("QueuePriority")?, integer("QueueTimeAdjustmentSeconds")?) {
                    (Some(priority), None) if priority > 0 => {
                        Step::RoutingBehaviour { queue_priority: Some(priority), queue_time_adjustment_seconds: None }
                    }
                    (Some(_), None) => return Err(fail("QueuePriority must be larger than zero".into())),
                    (None, Some(seconds)) => {
                        Step::RoutingBehaviour { queue_priority: None, queue_time_adjustment_seconds: Some(seconds) }
                    }
                    _ => {
                        return Err(fail(
                            "exactly one of QueuePriority and QueueTimeAdjustmentSeconds must be given".into(),
                        ))
                    }
                };
                transcript.steps.push(step);
                next(flow, action)
            }
            "UpdateContactEventHooks" => {
                let hooks =
                    params.get("EventHooks").and_then(Value::as_object).ok_or_else(|| fail("no EventHooks".into()))?;
                let mut entries = hooks.iter();
                let (Some((hook, target)), None) = (entries.next(), entries.next()) else {
                    return Err(fail("EventHooks must hold exactly one hook".into()));
                };
                if !EVENT_HOOKS.contains(&hook.as_str()) {
                    return Err(fail(format!("{hook} is not an event hook")));
                }
                let target = target.as_str().ok_or_else(|| fail(format!("the {hook} hook is not a flow")))?;
                let Some(hooked) = self.target_flow(flow, contact, target).await? else {
                    return interactions::unresolved(flow, action, transcript, target);
                };
                if hook == "CustomerQueue" {
                    let kind = hooked
                        .kind
                        .or_else(|| manifest.flows.get(&hooked.name).map(|entry| entry.kind))
                        .unwrap_or(FlowType::ContactFlow);
                    if kind != FlowType::CustomerQueue {
                        return Err(fail(format!(
                            "the CustomerQueue hook names {}, which flows.json does not declare CUSTOMER_QUEUE",
                            hooked.name
                        )));
                    }
                }
                transcript.steps.push(Step::EventHook { hook: hook.clone(), flow: hooked.name.clone() });
                if hook == "CustomerQueue" {
                    contact.customer_queue_flow = Some(hooked);
                }
                next(flow, action)
            }
            "Wait" => {
                // The flow-language reference supports Wait on the chat channel only.
                if contact.channel != Channel::Chat {
                    return on_error(flow, action, "NoMatchingError");
                }
                let timeout = params.get("TimeoutSeconds").ok_or_else(|| fail("no TimeoutSeconds".into()))?;
                let seconds = match timeout {
                    Value::Number(n) => n.as_u64(),
                    // A dynamic time with no value: the Error branch, as Connect does.
                    Value::String(s) if contact.dynamic(s).is_none() => {
                        return interactions::unresolved(flow, action, transcript, s);
                    }
                    Value::String(s) => contact.value_of(s).trim().parse().ok(),
                    _ => None,
                }
                .filter(|s| (1..=MAX_WAIT_SECONDS).contains(s))
                .ok_or_else(|| {
                    fail(format!("TimeoutSeconds {timeout} is not a whole number of seconds from 1 to 604800"))
                })?;
                transcript.steps.push(Step::Wait { seconds });
                // Nothing interrupts a simulated wait: it always completes.
                for transition in &action.transitions.conditions {
                    if compare(&transition.condition.operator, "WaitCompleted", &transition.condition.operands)
                        .map_err(fail)?
                    {
                        return Ok(Next::Action(transition.next_action.clone()));
                    }
                }
                next(flow, action)
            }
            "DisconnectParticipant" => Ok(Next::End(Ending::Disconnected)),
            "EndFlowExecution" => Ok(Next::End(Ending::Ended)),
            kind if RECORDED_ONLY.contains(&kind) => {
                transcript.steps.push(Step::Behaviour { action: action.kind.clone(), parameters: params.clone() });
                next(flow, action)
            }
            _ => Ok(interactions::not_modelled(action, &catalogued.errors, transcript)),
        }
    }

    /// `GetParticipantInput`: a menu (one key, branch on conditions) or stored input (many digits
    /// into `$.StoredCustomerInput`, `Timeout` when the caller keys nothing, as Connect does).
    async fn get_input(
        &self,
        flow: &Flow,
        action: &Action,
        contact: &mut Contact,
        transcript: &mut Transcript,
    ) -> Result<Next, FlowError> {
        let fail = |problem: String| action_error(flow, action, problem);
        let params = &action.parameters;
        if let Some(text) = param_str(params, "Text") {
            contact.message(transcript, text);
        }
        let store = matches!(params.get("StoreInput"), Some(Value::String(s)) if s.eq_ignore_ascii_case("true"))
            || params.get("StoreInput") == Some(&Value::Bool(true));
        let input = contact.inputs.pop_front().unwrap_or(CallInput::Silence);
        let keyed = match input {
            CallInput::Digits(digits) => Some(digits),
            CallInput::Pin => Some(self.latest_pin(&contact.from).await.map_err(fail)?),
            CallInput::Silence => None,
        };
        let Some(keyed) = keyed else {
            transcript.steps.push(Step::Timeout);
            if store {
                contact.stored_input = Some("Timeout".into());
                return next(flow, action);
            }
            return on_error(flow, action, "InputTimeLimitExceeded");
        };
        transcript.steps.push(Step::Input { digits: keyed.clone() });
        if store {
            let terminator =
                params.pointer("/DTMFConfiguration/InputTerminationSequence").and_then(Value::as_str).unwrap_or("#");
            let max = params
                .pointer("/InputValidation/CustomValidation/MaximumLength")
                .and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_u64().map(|n| n as usize)))
                .unwrap_or(20);
            let digits: String = keyed.split(terminator).next().unwrap_or_default().chars().take(max).collect();
            contact.stored_input = Some(digits);
            return next(flow, action);
        }
        let key = keyed.chars().next().map(String::from).unwrap_or_default();
        branch_on(flow, action, &key)
    }

    /// Lambda `Invoke`; a function error, a timeout or a response that is not a flat string map is
    /// an error, as Connect treats them.
    async fn invoke(&self, function: &str, event: &Value, limit: Duration) -> Result<BTreeMap<String, String>, String> {
        let value = self.lambda.invoke_within(function, event, limit).await?;
        let object = value.as_object().ok_or("response is not a JSON object (STRING_MAP)")?;
        object
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(format!("response value {k}={other} is not a string (STRING_MAP)")),
            })
            .collect()
    }

    /// The digits of the newest SMS to `number` in the emulator's outbox.
    async fn latest_pin(&self, number: &str) -> Result<String, String> {
        let url = format!("{}/_local/outbox", self.services.emulator_endpoint);
        let outbox: Vec<Sms> = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("cannot read the SMS outbox: {e}"))?
            .json()
            .await
            .map_err(|e| format!("cannot read the SMS outbox: {e}"))?;
        let sms = outbox.iter().rev().find(|s| s.to == number).ok_or(format!("no SMS was sent to {number}"))?;
        sms.pin().map(str::to_owned).ok_or_else(|| "the SMS has no PIN in it".to_owned())
    }
}

fn finish(mut transcript: Transcript, contact: Contact) -> Transcript {
    transcript.attributes = contact.attributes;
    transcript
}

/// The action's parameters with each `{{param:<key>}}` replaced by the caller's value, else the
/// flow's default in `flows.json`.
fn resolve_parameters(
    flow: &Flow,
    action: &Action,
    given: &BTreeMap<String, String>,
    manifest: &FlowManifest,
) -> Result<Value, FlowError> {
    let mut missing = None;
    let resolved = map_strings(&action.parameters, &mut |text| match Placeholder::parse(text) {
        Some(placeholder) if placeholder.kind == "param" => {
            let value = given
                .get(&placeholder.name)
                .map(String::as_str)
                .or_else(|| manifest.parameter_default(&flow.name, &placeholder.name));
            match value {
                Some(value) => value.to_owned(),
                None => {
                    missing.get_or_insert(placeholder.name);
                    text.to_owned()
                }
            }
        }
        _ => text.to_owned(),
    });
    match missing {
        Some(key) => {
            Err(FlowError::MissingParameter { flow: flow.name.clone(), action: action.identifier.clone(), key })
        }
        None => Ok(resolved),
    }
}

/// `value` with every string replaced by `map` of it.
fn map_strings(value: &Value, map: &mut impl FnMut(&str) -> String) -> Value {
    match value {
        Value::String(text) => Value::String(map(text)),
        Value::Array(items) => Value::Array(items.iter().map(|item| map_strings(item, map)).collect()),
        Value::Object(fields) => {
            Value::Object(fields.iter().map(|(key, field)| (key.clone(), map_strings(field, map))).collect())
        }
        other => other.clone(),
    }
}

fn unsupported(flow: &Flow, action: &Action) -> FlowError {
    FlowError::Unsupported { flow: flow.name.clone(), action: action.identifier.clone(), kind: action.kind.clone() }
}

pub(super) fn param_str<'a>(params: &'a Value, name: &str) -> Option<&'a str> {
    params.get(name).and_then(Value::as_str)
}

pub(super) fn action_error(flow: &Flow, action: &Action, problem: String) -> FlowError {
    FlowError::Action { flow: flow.name.clone(), action: action.identifier.clone(), problem }
}

fn next_action_id(flow: &Flow, action: &Action) -> Result<String, FlowError> {
    action.transitions.next_action.clone().ok_or_else(|| action_error(flow, action, "no NextAction".into()))
}

pub(super) fn next(flow: &Flow, action: &Action) -> Result<Next, FlowError> {
    let next = action.transitions.next_action.clone().map(Next::Action);
    next.ok_or_else(|| action_error(flow, action, "no NextAction".into()))
}

/// Takes the error branch for `error_type`, else the `NoMatchingError` branch.
pub(super) fn on_error(flow: &Flow, action: &Action, error_type: &str) -> Result<Next, FlowError> {
    let errors = &action.transitions.errors;
    errors
        .iter()
        .find(|e| e.error_type == error_type)
        .or_else(|| errors.iter().find(|e| e.error_type == "NoMatchingError"))
        .map(|e| Next::Action(e.next_action.clone()))
        .ok_or_else(|| action_error(flow, action, format!("{error_type} happened and the action has no branch for it")))
}

/// The first condition `value` meets, else the `NoMatchingCondition` branch.
pub(super) fn branch_on(flow: &Flow, action: &Action, value: &str) -> Result<Next, FlowError> {
    for transition in &action.transitions.conditions {
        let condition = &transition.condition;
        if compare(&condition.operator, value, &condition.operands).map_err(|p| action_error(flow, action, p))? {
            return Ok(Next::Action(transition.next_action.clone()));
        }
    }
    on_error(flow, action, "NoMatchingCondition")
}

pub(super) fn compare(operator: &str, value: &str, operands: &[String]) -> Result<bool, String> {
    let number = |s: &str| s.trim().parse::<f64>().ok();
    let first = operands.first().map(String::as_str).unwrap_or_default();
    Ok(match operator {
        "Equals" => operands.iter().any(|o| o == value),
        "TextContains" => value.contains(first),
        "TextStartsWith" => value.starts_with(first),
        "TextEndsWith" => value.ends_with(first),
        "NumberGreaterThan" => {
            matches!((number(value), number(first)), (Some(a), Some(b)) if a > b)
        }
        "NumberGreaterOrEqualTo" => {
            matches!((number(value), number(first)), (Some(a), Some(b)) if a >= b)
        }
        "NumberLessThan" => matches!((number(value), number(first)), (Some(a), Some(b)) if a < b),
        "NumberLessOrEqualTo" => {
            matches!((number(value), number(first)), (Some(a), Some(b)) if a <= b)
        }
        other => return Err(format!("comparison operator {other} is not supported")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons() {
        assert!(compare("Equals", "SENT", &["SENT".into()]).unwrap());
        assert!(!compare("Equals", "SENT", &["sent".into()]).unwrap());
        assert!(compare("NumberLessThan", "2", &["3".into()]).unwrap());
        assert!(!compare("NumberLessThan", "x", &["3".into()]).unwrap());
        assert!(compare("TextStartsWith", "+6125550", &["+61".into()]).unwrap());
        assert!(compare("Bogus", "", &[]).is_err());
    }
}
