//! Context `flows` (seed 002): contact flows from Git into Connect, placeholders resolved at deploy
//! time, after a plan.
//!
//! - [`bundle`]: the flow files, placeholders, canonical content and diffs.
//! - [`provision_flows`]: plan and apply (custom resource `ContactFlows`, or a direct invoke).
//! - [`prompt_audio`]: the prompts' recordings into the stack's bucket (custom resource `PromptAudio`).
//! - [`github_webhook`]: GitHub pushes start the pipelines their changed paths concern, once.
//! - [`connect_associations`]: Lambdas and Lex bots from outside the stack, associated with the instance.
//! - [`flow_resource_map`]: names → ARNs for flows that look them up at run time (`$.External`).

pub mod bundle;
pub mod connect_associations;
pub mod flow_resource_map;
pub mod github_webhook;
pub mod prompt_audio;
pub mod provision_flows;

pub use connect_associations::ConnectAssociations;
pub use flow_resource_map::FlowResourceMap;
pub use github_webhook::GithubWebhook;
pub use provision_flows::{ContactFlowsProperties, FlowsError, ProvisionFlows, Report, RunResult};

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::edge::custom_resource::{self, Responder};

/// `provision-flows`' edge: a CloudFormation request (`PromptAudio`'s, or `ContactFlows`') is answered to its `ResponseURL`; any other
/// event is a direct invoke, answered with the [`Report`]. A dependency fault is a Lambda error
/// (`DependencyError`), so a pipeline step that invokes it fails.
pub async fn serve(function: ProvisionFlows) -> Result<(), lambda_runtime::Error> {
    crate::platform::startup::mark(crate::platform::startup::phase::FUNCTION);
    let responder = Responder::new()?;
    let (function, responder) = (&function, &responder);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        crate::platform::startup::invocation_started();
        let deadline = event.context.deadline;
        if custom_resource::is_request(&event.payload) {
            if event.payload.get("ResourceType").and_then(Value::as_str) == Some(prompt_audio::RESOURCE_TYPE) {
                let handler = |request, _| function.prompt_audio(request);
                return responder.respond(&handler, event.payload, deadline).await;
            }
            // The run needs the invocation's deadline: it stops itself and releases the lock before it.
            let handler = |request, envelopes| function.custom_resource(request, envelopes, deadline);
            return responder.respond(&handler, event.payload, deadline).await;
        }
        match function.direct(event.payload, &event.context.request_id, deadline).await {
            Ok(report) => {
                tracing::info!(result = ?report.result, writes = report.writes, "flows run");
                serde_json::to_value(&report)
                    .map_err(|e| Diagnostic { error_type: "ReportUnencodable".into(), error_message: e.to_string() })
            }
            Err(fault) => {
                use custom_resource::ResourceFault as _;
                tracing::error!(error = %fault, kind = fault.kind(), "flows run failed");
                Err(Diagnostic { error_type: fault.kind().into(), error_message: fault.to_string() })
            }
        }
    }))
    .await
}
