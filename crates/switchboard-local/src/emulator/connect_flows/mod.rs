//! Amazon Connect (restJson1) flow deployment: flows (`ListContactFlows`, `DescribeContactFlow`,
//! `CreateContactFlow`, `UpdateContactFlowContent`, `UpdateContactFlowMetadata`, `TagResource`),
//! what flows refer to (`ListQueues`, `ListPrompts`), the numbers that start them
//! (`AssociatePhoneNumberContactFlow`) and the instance's integrations
//! (`ListLambdaFunctions`, `AssociateLambdaFunction`, `DisassociateLambdaFunction`, `ListBots`,
//! `AssociateBot`, `DisassociateBot`), in memory and seeded from the fixture.
//!
//! Paths, query strings and JSON names are those of `aws-sdk-connect`'s serializers, errors those
//! each operation models. Every List operation pages by at most the fixture's `pageSize`, so a
//! caller that ignores `NextToken` fails here rather than in production. Flow content is checked
//! as the service does before it stores it: a flow with an unresolved `{{…}}` placeholder, a Lambda
//! function the instance has not associated, or an ARN of a queue, flow or prompt the instance does
//! not have is an `InvalidContactFlowException` listing every problem.
//!
//! The parts: `store` (what the instance holds), `wire` (errors, answers, pages, member checks),
//! `content` (flow content's checks), and the operations by family: `flows`, `resources` (queues
//! and prompts), `integrations` (Lambda functions and bots).

mod content;
mod flows;
mod integrations;
mod modules;
mod resources;
mod store;
mod wire;

pub(super) use flows::{
    create_contact_flow, describe_contact_flow, list_contact_flows, read_contact_flows, tag_resource,
    update_contact_flow_content, update_contact_flow_metadata,
};
pub(super) use integrations::{
    associate_bot, associate_lambda_function, disassociate_bot, disassociate_lambda_function, list_bots,
    list_lambda_functions,
};
pub(super) use modules::{
    create_contact_flow_module, describe_contact_flow_module, list_contact_flow_modules,
    update_contact_flow_module_content, update_contact_flow_module_metadata,
};
pub(super) use resources::{associate_phone_number_contact_flow, list_prompts, list_queues};
pub(super) use store::FlowStore;
pub use store::LocalContactFlow;
