//! The apply half of a run: writing the planned flows (targets first, a cycle's flows as stubs),
//! paced under Connect's throttling, each flow's `FLOW#` item right after its write, then the apply
//! record and the resource map. A rejection or a fault stops the writes ([`Stop`]).

use std::collections::BTreeMap;

use aws_sdk_connect::{
    error::SdkError,
    operation::{
        create_contact_flow::CreateContactFlowError, create_contact_flow_module::CreateContactFlowModuleError,
        update_contact_flow_content::UpdateContactFlowContentError,
        update_contact_flow_module_content::UpdateContactFlowModuleContentError,
    },
    types::ContactFlowType,
};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use serde_json::Value;

use super::{
    connect_fault,
    plan::{InstanceFlow, Inventory, Planned},
    FlowsError, ProvisionFlows, Report, Run, APPLY_RECORD_DAYS, SOURCE_TAG, STACK_TAG,
};
use crate::{
    flows::bundle::{self, BundleFlow, Problem},
    platform::{
        store::{self, StoreError},
        time::rfc3339,
    },
};

/// Why writing stopped early.
pub(super) enum Stop {
    Rejected(Vec<Problem>),
    Fault(FlowsError),
}

impl ProvisionFlows {
    /// Creates and updates in dependency order; stores each written flow's item at once.
    pub(super) async fn write(&self, run: &Run, planned: &mut [Planned], writes: &mut usize) -> Option<Stop> {
        // Only the bundle's flows are pending anywhere (a reference to the instance's own resolved in
        // the plan); each is known by its own kind's ARN, so a module never stands in for a flow.
        let mut arns: BTreeMap<String, String> =
            planned.iter().filter_map(|p| Some((p.name.clone(), p.arn.clone()?))).collect();
        let mut todo: Vec<usize> = (0..planned.len()).filter(|i| planned[*i].needs_write(run.on_drift)).collect();
        // Flows created as stubs (a reference cycle), whose content follows once the cycle exists.
        let mut stubs: Vec<usize> = Vec::new();
        while !todo.is_empty() {
            let ready = todo.iter().position(|i| planned[*i].pending.iter().all(|name| arns.contains_key(name)));
            let (index, as_stub) = match ready {
                Some(position) => (todo.remove(position), false),
                // Only flows not yet created are pending, so a blocked set is a cycle of creations.
                None => (todo.remove(0), true),
            };
            let flow = &mut planned[index];
            let mut content = if as_stub { bundle::stub_content() } else { flow.desired.clone() };
            bundle::fill_pending(&mut content, &arns);
            self.pace(*writes).await;
            match self.write_flow(flow, &content, writes).await {
                Ok(arn) => {
                    arns.insert(flow.name.clone(), arn);
                    if as_stub {
                        stubs.push(index);
                    }
                }
                Err(stop) => return Some(stop),
            }
        }
        for index in stubs {
            let flow = &mut planned[index];
            let mut content = flow.desired.clone();
            bundle::fill_pending(&mut content, &arns);
            self.pace(*writes).await;
            if let Err(stop) = self.update_content(flow, &content, writes).await {
                return Some(stop);
            }
        }
        None
    }

    async fn write_flow(&self, flow: &mut Planned, content: &Value, writes: &mut usize) -> Result<String, Stop> {
        let stack = &self.settings.stack;
        match &flow.existing {
            None if flow.flow.kind == bundle::MODULE => {
                let created = self
                    .connect
                    .create_contact_flow_module()
                    .instance_id(&self.settings.instance_id)
                    .name(&flow.name)
                    .set_description(flow.flow.description.clone())
                    .content(content.to_string())
                    .tags(STACK_TAG, stack)
                    .tags(SOURCE_TAG, &flow.flow.source)
                    .send()
                    .await
                    .map_err(|e| rejected_or_fault(&flow.name, "CreateContactFlowModule", e, create_module_problems))?;
                let (Some(id), Some(arn)) = (created.id, created.arn) else {
                    return Err(Stop::Fault(FlowsError::Dependency(
                        "CreateContactFlowModule answered no id or ARN".into(),
                    )));
                };
                self.created(flow, content, id, arn, writes).await
            }
            None => {
                let created = self
                    .connect
                    .create_contact_flow()
                    .instance_id(&self.settings.instance_id)
                    .name(&flow.name)
                    .r#type(ContactFlowType::from(flow.flow.kind.as_str()))
                    .set_description(flow.flow.description.clone())
                    .content(content.to_string())
                    .tags(STACK_TAG, stack)
                    .tags(SOURCE_TAG, &flow.flow.source)
                    .send()
                    .await
                    .map_err(|e| rejected_or_fault(&flow.name, "CreateContactFlow", e, create_problems))?;
                let (Some(id), Some(arn)) = (created.contact_flow_id, created.contact_flow_arn) else {
                    return Err(Stop::Fault(FlowsError::Dependency("CreateContactFlow answered no id or ARN".into())));
                };
                self.created(flow, content, id, arn, writes).await
            }
            Some((summary, current, tags)) => {
                let summary = summary.clone();
                if tags.get(STACK_TAG) != Some(stack) {
                    self.connect
                        .tag_resource()
                        .resource_arn(&summary.arn)
                        .tags(STACK_TAG, stack)
                        .tags(SOURCE_TAG, &flow.flow.source)
                        .send()
                        .await
                        .map_err(|e| Stop::Fault(connect_fault("TagResource", e)))?;
                    *writes += 1;
                    flow.written = true;
                }
                if bundle::canonical(current) != bundle::canonical(content) {
                    self.update_content(flow, content, writes).await?;
                } else {
                    self.store_flow_item(flow, content).await.map_err(Stop::Fault)?;
                }
                Ok(summary.arn)
            }
        }
    }

    /// What a creation leaves: the flow (or module) as the instance now has it, and its item.
    async fn created(
        &self,
        flow: &mut Planned,
        content: &Value,
        id: String,
        arn: String,
        writes: &mut usize,
    ) -> Result<String, Stop> {
        *writes += 1;
        flow.existing = Some((
            InstanceFlow { id, arn: arn.clone(), kind: flow.flow.kind.clone(), state: "ACTIVE".into() },
            content.clone(),
            BTreeMap::from([(STACK_TAG.to_owned(), self.settings.stack.clone())]),
        ));
        flow.arn = Some(arn.clone());
        flow.written = true;
        self.store_flow_item(flow, content).await.map_err(Stop::Fault)?;
        Ok(arn)
    }

    async fn update_content(&self, flow: &mut Planned, content: &Value, writes: &mut usize) -> Result<(), Stop> {
        let Some((summary, _, _)) = &flow.existing else {
            return Err(Stop::Fault(FlowsError::Dependency(format!("{} has no id to update", flow.name))));
        };
        if summary.kind == bundle::MODULE {
            self.connect
                .update_contact_flow_module_content()
                .instance_id(&self.settings.instance_id)
                .contact_flow_module_id(&summary.id)
                .content(content.to_string())
                .send()
                .await
                .map_err(|e| {
                    rejected_or_fault(&flow.name, "UpdateContactFlowModuleContent", e, update_module_problems)
                })?;
            *writes += 1;
            flow.written = true;
            flow.arn = Some(summary.arn.clone());
            return self.store_flow_item(flow, content).await.map_err(Stop::Fault);
        }
        self.connect
            .update_contact_flow_content()
            .instance_id(&self.settings.instance_id)
            .contact_flow_id(&summary.id)
            .content(content.to_string())
            .send()
            .await
            .map_err(|e| rejected_or_fault(&flow.name, "UpdateContactFlowContent", e, update_problems))?;
        *writes += 1;
        flow.written = true;
        flow.arn = Some(summary.arn.clone());
        self.store_flow_item(flow, content).await.map_err(Stop::Fault)
    }

    async fn store_flow_item(&self, flow: &Planned, content: &Value) -> Result<(), FlowsError> {
        let Some((summary, _, _)) = &flow.existing else { return Ok(()) };
        let mut item = store::key(self.flow_pk(), &flow.name);
        item.insert("flowId".into(), store::s(&summary.id));
        item.insert("arn".into(), store::s(&summary.arn));
        item.insert("source".into(), store::s(&flow.flow.source));
        item.insert("appliedHash".into(), store::s(bundle::content_hash(content)));
        item.insert("stack".into(), store::s(&self.settings.stack));
        self.dynamodb
            .put_item()
            .table_name(&self.settings.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutItem", e))?;
        Ok(())
    }

    /// Waits between Connect writes (not before the first).
    pub(super) async fn pace(&self, writes_so_far: usize) {
        if writes_so_far > 0 && !self.settings.write_pause.is_zero() {
            tokio::time::sleep(self.settings.write_pause).await;
        }
    }

    /// The apply record (`APPLY#`): what a run did, kept 180 days.
    pub(super) async fn record(&self, run: &Run, report: &Report) -> Result<(), FlowsError> {
        let now = self.clock.now();
        let actions: Vec<Value> = report
            .flows
            .iter()
            .map(|f| serde_json::json!({"name": f.name, "action": f.action, "written": f.written}))
            .collect();
        let mut item =
            store::key(format!("APPLY#{}", self.settings.instance_id), format!("{}#{}", rfc3339(now), run.request_id));
        item.insert("trigger".into(), store::s(&run.trigger));
        item.insert("result".into(), store::s(report.result.as_str()));
        item.insert("actions".into(), store::s(Value::Array(actions).to_string()));
        item.insert("writes".into(), store::n(report.writes));
        item.insert("ttl".into(), store::ttl(now + time::Duration::days(APPLY_RECORD_DAYS)));
        self.dynamodb
            .put_item()
            .table_name(&self.settings.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutItem", e))?;
        Ok(())
    }

    /// The resource map `flow-resource-map` answers ([`Inventory::resource_map`]).
    pub(super) async fn store_map(
        &self,
        run: &Run,
        planned: &[Planned],
        inventory: &Inventory,
    ) -> Result<(), FlowsError> {
        let bundle: Vec<(&BundleFlow, Option<&String>)> = planned.iter().map(|p| (&p.flow, p.arn.as_ref())).collect();
        let entries: BTreeMap<String, String> =
            inventory.resource_map(run, &bundle).into_iter().filter_map(|(name, arn)| Some((name, arn?))).collect();
        let mut item = store::key(format!("MAP#{}", self.settings.instance_id), "MAP");
        item.insert("entries".into(), AttributeValue::M(entries.into_iter().map(|(k, v)| (k, store::s(v))).collect()));
        item.insert("updatedAt".into(), store::s(rfc3339(self.clock.now())));
        self.dynamodb
            .put_item()
            .table_name(&self.settings.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("PutItem", e))?;
        Ok(())
    }
}

fn create_problems(error: &CreateContactFlowError) -> Option<Vec<String>> {
    match error {
        CreateContactFlowError::InvalidContactFlowException(e) => {
            Some(e.problems().iter().filter_map(|p| p.message().map(str::to_owned)).collect())
        }
        _ => None,
    }
}

fn create_module_problems(error: &CreateContactFlowModuleError) -> Option<Vec<String>> {
    match error {
        CreateContactFlowModuleError::InvalidContactFlowModuleException(e) => {
            Some(e.problems().iter().filter_map(|p| p.message().map(str::to_owned)).collect())
        }
        _ => None,
    }
}

fn update_module_problems(error: &UpdateContactFlowModuleContentError) -> Option<Vec<String>> {
    match error {
        UpdateContactFlowModuleContentError::InvalidContactFlowModuleException(e) => {
            Some(e.problems().iter().filter_map(|p| p.message().map(str::to_owned)).collect())
        }
        _ => None,
    }
}

fn update_problems(error: &UpdateContactFlowContentError) -> Option<Vec<String>> {
    match error {
        UpdateContactFlowContentError::InvalidContactFlowException(e) => {
            Some(e.problems().iter().filter_map(|p| p.message().map(str::to_owned)).collect())
        }
        _ => None,
    }
}

/// Connect's `InvalidContactFlowException` is the flow's problem (`REJECTED`); anything else a fault.
fn rejected_or_fault<E>(
    flow: &str,
    operation: &str,
    error: SdkError<E, HttpResponse>,
    problems: fn(&E) -> Option<Vec<String>>,
) -> Stop
where
    E: std::error::Error + Send + Sync + 'static,
{
    match error.as_service_error().and_then(problems) {
        Some(messages) => Stop::Rejected(
            messages
                .into_iter()
                .chain(std::iter::once(format!("{operation} refused the flow")))
                .map(|message| Problem {
                    code: "REJECTED".into(),
                    flow: flow.to_owned(),
                    pointer: None,
                    placeholder: None,
                    message,
                })
                .collect(),
        ),
        None => Stop::Fault(connect_fault(operation, error)),
    }
}
