//! The plan half of a run: the instance's inventory (flows, queues, prompts, Lambdas, bots) and the
//! flows this stack manages, each bundle flow resolved against them (`resolve_placeholder`) and
//! classified (`CREATE` … `CONFLICT`), and the resource map an apply stores.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_connect::types::QueueType;
use serde_json::Value;

use super::{
    associated_bot_aliases, associated_lambdas, connect_fault, FlowAction, FlowReport, FlowsError, OnDrift,
    ProvisionFlows, Run, STACK_TAG,
};
use crate::{
    flows::bundle::{self, ActionDiff, BundleFlow, Placeholder, Problem, ReferenceContext, Resolution},
    platform::store,
};

#[derive(Debug, Clone)]
pub(super) struct InstanceFlow {
    pub(super) id: String,
    pub(super) arn: String,
    pub(super) kind: String,
    pub(super) state: String,
}

/// A bundle flow as a placeholder names it (by its stem): its name in Connect, and its kind.
pub(super) struct BundleName {
    pub(super) connect: String,
    pub(super) module: bool,
}

#[derive(Debug, Default)]
pub(super) struct Inventory {
    /// The instance's flows and its flow modules, each by name: Connect keeps the two apart, so a
    /// flow and a module may share a name.
    pub(super) flows: BTreeMap<String, InstanceFlow>,
    pub(super) modules: BTreeMap<String, InstanceFlow>,
    pub(super) queues: BTreeMap<String, String>,
    pub(super) prompts: BTreeMap<String, String>,
    pub(super) lambdas: BTreeSet<String>,
    /// Lex V2 bot alias ARNs associated with the instance.
    pub(super) bots: BTreeSet<String>,
    /// `arn:…:instance/<id>`, from the setting or the ARNs listed (the setting may be a bare id).
    pub(super) instance_arn: Option<String>,
}

impl Inventory {
    /// What a bundle flow of `kind` named `name` is on the instance: the flow (or, for a module, the
    /// module) of that name; else the other kind's of that name, which plans as a conflict.
    pub(super) fn existing(&self, kind: &str, name: &str) -> Option<&InstanceFlow> {
        let module = kind == bundle::MODULE;
        self.of_kind(module).get(name).or_else(|| self.of_kind(!module).get(name))
    }

    /// The instance's modules, or its flows.
    fn of_kind(&self, module: bool) -> &BTreeMap<String, InstanceFlow> {
        if module {
            &self.modules
        } else {
            &self.flows
        }
    }

    /// The instance's flow or module with this ARN (a managed item's).
    pub(super) fn by_arn(&self, arn: &str) -> Option<&InstanceFlow> {
        self.flows.values().chain(self.modules.values()).find(|f| f.arn == arn)
    }

    /// The resource map an apply stores (`MAP#`, what `flow-resource-map` answers), by the names
    /// flows read as `$.External.<Name>`: standard queues, prompts, the instance's flows, the
    /// associated Lambda functions (by function name) and the stack's (by their kebab name), the Lex
    /// V2 bot aliases a parameter names (`FlowParameters` key, or a `flows.json` default) that the
    /// instance has associated, and the bundle's flows by the name the flows use: the stem, without
    /// `FlowNamePrefix` (they win over an instance flow of that name). `None`: a bundle flow not
    /// created yet.
    pub(super) fn resource_map(
        &self,
        run: &Run,
        bundle: &[(&BundleFlow, Option<&String>)],
    ) -> BTreeMap<String, Option<String>> {
        let mut entries: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut add = |name: &str, arn: Option<&String>| {
            entries.insert(name.to_owned(), arn.cloned());
        };
        self.queues.iter().for_each(|(name, arn)| add(name, Some(arn)));
        self.prompts.iter().for_each(|(name, arn)| add(name, Some(arn)));
        // Modules first: where a flow and a module share a name, `$.External.<Name>` is the flow.
        self.modules.iter().chain(&self.flows).for_each(|(name, flow)| add(name, Some(&flow.arn)));
        for arn in &self.lambdas {
            if let Some(name) = arn.split(":function:").nth(1).and_then(|rest| rest.split(':').next()) {
                add(name, Some(arn));
            }
        }
        run.functions
            .iter()
            .filter(|(_, arn)| self.lambdas.contains(*arn))
            .for_each(|(name, arn)| add(name, Some(arn)));
        for (name, arn) in &run.bots {
            if self.bots.contains(arn) {
                add(name, Some(arn));
            }
        }
        for (name, arn) in bot_parameters(run, bundle.iter().map(|(flow, _)| *flow)) {
            if self.bots.contains(&arn) {
                add(&name, Some(&arn));
            }
        }
        bundle.iter().for_each(|(flow, arn)| add(&flow.stem, *arn));
        entries
    }
}

/// The parameters (`FlowParameters`, over the bundle's `flows.json` defaults) whose value is a Lex V2
/// bot alias ARN: the names the workshop's flows read bots by.
fn bot_parameters<'a>(run: &Run, flows: impl Iterator<Item = &'a BundleFlow>) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for flow in flows {
        values.extend(flow.parameter_defaults.clone());
    }
    values.extend(run.parameters.clone());
    values
        .into_iter()
        .filter(|(_, value)| {
            bundle::Arn::parse(value).is_some_and(|arn| arn.service == "lex" && arn.resource.starts_with("bot-alias/"))
        })
        .collect()
}

/// A managed flow's `FLOW#` item.
#[derive(Debug, Clone)]
pub(super) struct Managed {
    pub(super) arn: String,
    pub(super) applied_hash: String,
}

/// A bundle flow with what the plan found.
pub(super) struct Planned {
    pub(super) flow: BundleFlow,
    pub(super) name: String,
    pub(super) action: FlowAction,
    pub(super) existing: Option<(InstanceFlow, Value, BTreeMap<String, String>)>,
    pub(super) desired: Value,
    pub(super) pending: BTreeSet<String>,
    pub(super) diff: Option<ActionDiff>,
    pub(super) problems: Vec<Problem>,
    pub(super) written: bool,
    pub(super) arn: Option<String>,
}

impl Planned {
    pub(super) fn needs_write(&self, on_drift: OnDrift) -> bool {
        match self.action {
            FlowAction::Create | FlowAction::Update | FlowAction::Adopt => true,
            FlowAction::Drifted => on_drift == OnDrift::Overwrite,
            FlowAction::Unchanged | FlowAction::Conflict | FlowAction::Invalid => false,
        }
    }

    pub(super) fn report(&self) -> FlowReport {
        FlowReport {
            name: self.name.clone(),
            source: self.flow.source.clone(),
            action: self.action,
            arn: self.arn.clone(),
            diff: self.diff.clone(),
            problems: self.problems.clone(),
            written: self.written,
        }
    }
}

impl ProvisionFlows {
    /// What the flows' references are checked against: the instance, and the map the apply stores.
    pub(super) fn reference_context(
        &self,
        run: &Run,
        flows: &[BundleFlow],
        inventory: &Inventory,
        names: &BTreeMap<String, BundleName>,
    ) -> ReferenceContext {
        let bundle: Vec<(&BundleFlow, Option<&String>)> = flows.iter().map(|f| (f, None)).collect();
        let map_function = flows.first().and_then(|flow| {
            let placeholder = Placeholder { kind: "lambda".into(), name: bundle::RESOURCE_MAP_FUNCTION.into() };
            match resolve_placeholder(&placeholder, run, flow, inventory, names) {
                Resolution::Value(arn) => Some(arn),
                _ => None,
            }
        });
        ReferenceContext {
            instance_arn: inventory.instance_arn.clone(),
            map_function,
            mapped: inventory.resource_map(run, &bundle).into_keys().collect(),
            unassociated_bots: bot_parameters(run, flows.iter())
                .into_iter()
                .filter(|(_, arn)| !inventory.bots.contains(arn))
                .collect(),
            associated: inventory.lambdas.iter().chain(&inventory.bots).cloned().collect(),
        }
    }

    pub(super) async fn plan_flow(
        &self,
        run: &Run,
        flow: BundleFlow,
        inventory: &Inventory,
        managed: &BTreeMap<String, Managed>,
        bundle: &BTreeMap<String, BundleName>,
        references: &ReferenceContext,
    ) -> Result<Planned, FlowsError> {
        let name = format!("{}{}", run.prefix, flow.stem);
        let mut resolver = |placeholder: &Placeholder| resolve_placeholder(placeholder, run, &flow, inventory, bundle);
        let (desired, pending, mut problems) = bundle::resolve(&flow, &name, &mut resolver);
        problems.extend(bundle::reference_problems(&name, &desired, references));
        let existing = match inventory.existing(&flow.kind, &name) {
            Some(summary) => Some(self.describe(summary).await?),
            None => None,
        };
        let stack = &self.settings.stack;
        let (action, diff) = match &existing {
            None => (FlowAction::Create, None),
            Some((summary, _, _)) if summary.kind != flow.kind => (FlowAction::Conflict, None),
            Some((_, _, tags)) if tags.get(STACK_TAG).is_some_and(|owner| owner != stack) => {
                (FlowAction::Conflict, None)
            }
            Some((_, current, tags)) => {
                let diff = bundle::diff(current, &desired);
                let same = bundle::canonical(current) == bundle::canonical(&desired);
                let action = match managed.get(&name) {
                    // Tagged ours but not in the table (a table restored or replaced): ours all the same.
                    None if same && tags.get(STACK_TAG) == Some(stack) => FlowAction::Unchanged,
                    None => FlowAction::Adopt,
                    Some(_) if same => FlowAction::Unchanged,
                    Some(item) if bundle::content_hash(current) != item.applied_hash => FlowAction::Drifted,
                    Some(_) => FlowAction::Update,
                };
                (action, (!same).then_some(diff))
            }
        };
        if action == FlowAction::Conflict {
            let message = match &existing {
                Some((summary, _, _)) if summary.kind != flow.kind => {
                    format!("the instance's {name} is a {} flow, the bundle's a {}", summary.kind, flow.kind)
                }
                Some((_, _, tags)) => {
                    format!("{name} belongs to stack {}", tags.get(STACK_TAG).map(String::as_str).unwrap_or_default())
                }
                None => String::new(),
            };
            problems.push(Problem {
                code: "CONFLICT".into(),
                flow: name.clone(),
                pointer: None,
                placeholder: None,
                message,
            });
        }
        let arn = existing.as_ref().map(|(summary, _, _)| summary.arn.clone());
        Ok(Planned { flow, name, action, existing, desired, pending, diff, problems, written: false, arn })
    }

    pub(super) async fn inventory(&self) -> Result<Inventory, FlowsError> {
        let instance = &self.settings.instance_id;
        let flows = self
            .connect
            .list_contact_flows()
            .instance_id(instance)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| connect_fault("ListContactFlows", e))?;
        let modules = self
            .connect
            .list_contact_flow_modules()
            .instance_id(instance)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| connect_fault("ListContactFlowModules", e))?;
        let queues = self
            .connect
            .list_queues()
            .instance_id(instance)
            .queue_types(QueueType::Standard)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| connect_fault("ListQueues", e))?;
        let prompts = self
            .connect
            .list_prompts()
            .instance_id(instance)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| connect_fault("ListPrompts", e))?;
        let lambdas = associated_lambdas(&self.connect, instance).await?;
        let bots = associated_bot_aliases(&self.connect, instance).await?;
        let named = |name: Option<String>, arn: Option<String>| name.zip(arn);
        // The instance's own ARN: the setting when it is one, else the prefix of anything listed.
        let instance_arn = self.settings.instance_arn.clone().or_else(|| {
            let listed = queues.iter().filter_map(|q| q.arn.as_deref());
            let listed = listed.chain(flows.iter().filter_map(|f| f.arn.as_deref()));
            listed
                .map(|arn| arn.split_once(&format!("instance/{instance}")))
                .find_map(|split| split.map(|(head, _)| format!("{head}instance/{instance}")))
        });
        Ok(Inventory {
            instance_arn,
            bots: bots.into_iter().collect(),
            flows: flows
                .into_iter()
                .filter_map(|f| {
                    let (name, arn) = named(f.name, f.arn)?;
                    let flow = InstanceFlow {
                        id: f.id?,
                        arn,
                        kind: f.contact_flow_type.map(|t| t.as_str().to_owned()).unwrap_or_default(),
                        state: f.contact_flow_state.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    };
                    Some((name, flow))
                })
                .collect(),
            modules: modules
                .into_iter()
                .filter_map(|m| {
                    let (name, arn) = named(m.name, m.arn)?;
                    let state = m.state.map(|s| s.as_str().to_owned()).unwrap_or_default();
                    Some((name, InstanceFlow { id: m.id?, arn, kind: bundle::MODULE.to_owned(), state }))
                })
                .collect(),
            queues: queues.into_iter().filter_map(|q| named(q.name, q.arn)).collect(),
            prompts: prompts.into_iter().filter_map(|p| named(p.name, p.arn)).collect(),
            lambdas: lambdas.into_iter().collect(),
        })
    }

    async fn describe(
        &self,
        summary: &InstanceFlow,
    ) -> Result<(InstanceFlow, Value, BTreeMap<String, String>), FlowsError> {
        let (content, tags) = if summary.kind == bundle::MODULE {
            let described = self
                .connect
                .describe_contact_flow_module()
                .instance_id(&self.settings.instance_id)
                .contact_flow_module_id(&summary.id)
                .send()
                .await
                .map_err(|e| connect_fault("DescribeContactFlowModule", e))?;
            described.contact_flow_module.map(|m| (m.content, m.tags)).unwrap_or_default()
        } else {
            let described = self
                .connect
                .describe_contact_flow()
                .instance_id(&self.settings.instance_id)
                .contact_flow_id(&summary.id)
                .send()
                .await
                .map_err(|e| connect_fault("DescribeContactFlow", e))?;
            described.contact_flow.map(|f| (f.content, f.tags)).unwrap_or_default()
        };
        // Content that does not parse differs from anything we would write: it plans as an update.
        let content = content.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or(Value::Null);
        Ok((summary.clone(), content, tags.unwrap_or_default().into_iter().collect()))
    }

    pub(super) async fn managed(&self) -> Result<BTreeMap<String, Managed>, FlowsError> {
        let items = store::query_partition(&self.dynamodb, &self.settings.table, &self.flow_pk()).await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let name = store::get_str(&item, "sk")?.to_owned();
                let managed = Managed {
                    arn: store::get_str(&item, "arn")?.to_owned(),
                    applied_hash: store::get_str(&item, "appliedHash")?.to_owned(),
                };
                Some((name, managed))
            })
            .collect())
    }
}

fn resolve_placeholder(
    placeholder: &Placeholder,
    run: &Run,
    flow: &BundleFlow,
    inventory: &Inventory,
    bundle: &BTreeMap<String, BundleName>,
) -> Resolution {
    let unresolved = |message: String| Resolution::Problem { code: "UNRESOLVED", message };
    let name = &placeholder.name;
    match placeholder.kind.as_str() {
        "lambda" => {
            let suffix = format!(":function:{name}");
            match run.functions.get(name) {
                Some(arn) if inventory.lambdas.contains(arn) => Resolution::Value(arn.clone()),
                Some(arn) => Resolution::Problem {
                    code: "LAMBDA_NOT_ASSOCIATED",
                    message: format!("{arn} is not associated with the instance"),
                },
                None => match inventory.lambdas.iter().find(|arn| arn.ends_with(&suffix)) {
                    Some(arn) => Resolution::Value(arn.clone()),
                    None => Resolution::Problem {
                        code: "LAMBDA_NOT_ASSOCIATED",
                        message: format!("no function named {name} is in the stack or associated with the instance"),
                    },
                },
            }
        }
        // A flow or a module of the bundle (created first) or of the instance.
        kind @ ("flow" | "module") => {
            let module = kind == "module";
            let instance = inventory.of_kind(module);
            match bundle.get(name) {
                // The bundle's own: by its kind, or Connect would be given a module for a flow.
                Some(named) if named.module != module => {
                    let its = if named.module { "module" } else { "flow" };
                    unresolved(format!("{name} is a {its} of the bundle: {{{{{its}:{name}}}}}"))
                }
                Some(named) => match instance.get(&named.connect) {
                    Some(existing) => Resolution::Value(existing.arn.clone()),
                    None => Resolution::Pending(named.connect.clone()),
                },
                None => match instance.get(name) {
                    Some(existing) => Resolution::Value(existing.arn.clone()),
                    None => unresolved(format!("no {kind} named {name} in the bundle or on the instance")),
                },
            }
        }
        "queue" => inventory
            .queues
            .get(name)
            .map(|arn| Resolution::Value(arn.clone()))
            .unwrap_or_else(|| unresolved(format!("no standard queue named {name} on the instance"))),
        "prompt" => inventory
            .prompts
            .get(name)
            .map(|arn| Resolution::Value(arn.clone()))
            .unwrap_or_else(|| unresolved(format!("no prompt named {name} on the instance"))),
        // The stack's bot of that name (the custom resource's `Bots`, `FLOW_BOTS`), associated with the
        // instance: Connect refuses a flow naming a bot the instance does not have.
        "bot" => match run.bots.get(name) {
            Some(arn) if inventory.bots.contains(arn) => Resolution::Value(arn.clone()),
            Some(arn) => Resolution::Problem {
                code: "BOT_NOT_ASSOCIATED",
                message: format!("{arn} is not associated with the instance"),
            },
            None => unresolved(format!("no bot named {name} in the stack's Bots (FLOW_BOTS)")),
        },
        "param" => run
            .parameters
            .get(name)
            .or_else(|| flow.parameter_defaults.get(name))
            .map(|value| Resolution::Value(value.clone()))
            .unwrap_or_else(|| unresolved(format!("no value for {name} in FlowParameters or flows.json"))),
        other => {
            unresolved(format!("{other}is not a placeholder kind (lambda, flow, module, queue, prompt, bot, param)"))
        }
    }
}
