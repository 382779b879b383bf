//! `prewarm-recording-task` (EventBridge: source `aws.autoscaling`, "EC2 Instance Launch Successful"):
//! a new instance of the recording Auto Scaling group pulls the recorder's image before anyone waits
//! for it, by running one task that exits at once.
//!
//! Events of other groups are `IGNORED`. The instance is claimed first (a conditional put of
//! `PREWARM#<ec2InstanceId>`), so a redelivered event starts no second task (`ALREADY_STARTED`). Then
//! its container instance is looked up (`ListContainerInstances` with `ec2InstanceId == <id>`, checked
//! by `DescribeContainerInstances`, a few tries while the ECS agent registers) and ECS `StartTask` runs the recorder on it with
//! `TASK_TYPE=PRE_WARM` and `startedBy PreWarm-<ec2InstanceId>` (`STARTED`). When the instance is not
//! registered in time or the start fails, the claim is released and the invocation fails, so
//! EventBridge's retry starts it later.

use std::{sync::Arc, time::Duration};

use aws_config::SdkConfig;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::{placed_task, recorder_override};
use crate::{
    edge::events::{EventBridgeEvent, EventError, EventOutcome},
    platform::{
        config::{ConfigError, Settings},
        store::{self, StoreError},
        time::{Clock, SystemClock},
    },
};

/// The Auto Scaling event this function acts on.
pub const LAUNCH_SUCCESSFUL: &str = "EC2 Instance Launch Successful";
/// How long a claim is kept: well past any redelivery (Lambda retries async events for up to 6 hours).
const CLAIM_TTL: time::Duration = time::Duration::days(1);
/// A claim without a task this old was left by an invocation that Lambda ended: twice the template's
/// 60 s timeout.
const CLAIM_ABANDONED: time::Duration = time::Duration::seconds(120);
/// How long the lookup may keep trying, so the start and the release still fit in the 60 s timeout.
const LOOKUP_BUDGET: Duration = Duration::from_secs(40);

pub struct PrewarmRecordingTask {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub table: String,
    pub cluster: String,
    pub task_definition: String,
    pub container_name: String,
    pub group_name: String,
    /// Tries of `ListContainerInstances`, and the pause between them.
    pub lookup_tries: u32,
    pub lookup_pause: Duration,
    pub clock: Arc<dyn Clock>,
}

impl PrewarmRecordingTask {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            table: env.string("VIDEO_TABLE")?,
            cluster: env.string("RECORDING_CLUSTER")?,
            task_definition: env.string("RECORDING_TASK_DEFINITION")?,
            container_name: env.string("RECORDING_CONTAINER_NAME")?,
            group_name: env.string("RECORDING_ASG_NAME")?,
            // The ECS agent registers within seconds of launch; 10 tries 4 s apart stay inside the
            // template's 60 s timeout.
            lookup_tries: env.number("PREWARM_LOOKUP_TRIES", 10, 1..=20)?,
            lookup_pause: Duration::from_millis(env.number("PREWARM_LOOKUP_PAUSE_MS", 4_000, 0..=10_000)?),
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, event: EventBridgeEvent) -> Result<EventOutcome, EventError> {
        if event.source != "aws.autoscaling" || event.detail_type != LAUNCH_SUCCESSFUL {
            return Ok(EventOutcome::new("IGNORED").with("reason", "not an instance launch"));
        }
        if event.detail_str("AutoScalingGroupName") != Some(self.group_name.as_str()) {
            return Ok(EventOutcome::new("IGNORED").with("reason", "another Auto Scaling group"));
        }
        let Some(instance_id) = event.detail_str("EC2InstanceId") else {
            return Ok(EventOutcome::new("IGNORED").with("reason", "the event has no EC2InstanceId"));
        };
        if !self.claim(instance_id).await? {
            return Ok(EventOutcome::new("ALREADY_STARTED").with("ec2InstanceId", instance_id));
        }
        match self.start(instance_id).await {
            Ok(task_arn) => {
                self.settle(instance_id, &task_arn).await;
                tracing::info!(instance_id, "prewarm task started");
                Ok(EventOutcome::new("STARTED").with("ec2InstanceId", instance_id).with("taskArn", task_arn))
            }
            Err(failure) => {
                if let Err(e) = self.release(instance_id).await {
                    tracing::error!(error = %e, "the prewarm claim could not be released; the retry will skip the instance");
                }
                Err(failure)
            }
        }
    }

    /// `true` when this delivery claimed the instance, `false` when an earlier one did. A claim
    /// without a task that is older than the function can run belongs to an invocation Lambda ended
    /// (it could not release it): it is taken over, or the instance would never be prewarmed.
    async fn claim(&self, instance_id: &str) -> Result<bool, EventError> {
        let mut item = claim_key(instance_id);
        let now = self.clock.now();
        item.insert("ec2InstanceId".into(), store::s(instance_id));
        item.insert("claimedAt".into(), store::n(now.unix_timestamp()));
        item.insert("ttl".into(), store::ttl(now + CLAIM_TTL));
        let put = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR (attribute_not_exists(taskArn) AND claimedAt < :abandoned)",
            )
            .expression_attribute_values(":abandoned", store::n((now - CLAIM_ABANDONED).unix_timestamp()))
            .send()
            .await;
        Ok(store::conditional("PutItem", put).map_err(EventError::dependency)?.is_some())
    }

    /// Records the started task on the claim, which makes it final. A failure is logged, not
    /// retried: the task runs, and at worst a late redelivery prewarms the instance twice.
    async fn settle(&self, instance_id: &str, task_arn: &str) {
        let settled = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(claim_key(instance_id)))
            .update_expression("SET taskArn = :taskArn")
            .expression_attribute_values(":taskArn", store::s(task_arn))
            .send()
            .await;
        if let Err(e) = settled {
            tracing::error!(error = %StoreError::from_sdk("UpdateItem", e), "the prewarm claim could not record its task");
        }
    }

    async fn release(&self, instance_id: &str) -> Result<(), StoreError> {
        self.dynamodb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(claim_key(instance_id)))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("DeleteItem", e))?;
        Ok(())
    }

    /// The container instance, then the prewarm task on it; the task's ARN.
    async fn start(&self, instance_id: &str) -> Result<String, EventError> {
        let container_instance = self.container_instance(instance_id).await?;
        let started = self
            .ecs
            .start_task()
            .cluster(&self.cluster)
            .task_definition(&self.task_definition)
            .container_instances(container_instance)
            .started_by(format!("PreWarm-{instance_id}"))
            .overrides(recorder_override(&self.container_name, [("TASK_TYPE", "PRE_WARM")]))
            .send()
            .await
            .map_err(|e| EventError::dependency(format!("ECS StartTask failed: {}", DisplayErrorContext(&e))))?;
        placed_task("StartTask", started.tasks(), started.failures()).map_err(EventError::dependency)
    }

    /// The ARN of the container instance on EC2 instance `instance_id`, trying while it registers.
    async fn container_instance(&self, instance_id: &str) -> Result<String, EventError> {
        let began = tokio::time::Instant::now();
        for attempt in 1..=self.lookup_tries {
            let listed = self
                .ecs
                .list_container_instances()
                .cluster(&self.cluster)
                .filter(format!("ec2InstanceId == {instance_id}"))
                .send()
                .await
                .map_err(|e| {
                    EventError::dependency(format!("ECS ListContainerInstances failed: {}", DisplayErrorContext(&e)))
                })?;
            if let Some(arn) = self.on_instance(listed.container_instance_arns(), instance_id).await? {
                return Ok(arn);
            }
            if attempt < self.lookup_tries {
                if began.elapsed() + self.lookup_pause > LOOKUP_BUDGET {
                    break;
                }
                tokio::time::sleep(self.lookup_pause).await;
            }
        }
        Err(EventError::dependency("the instance has not registered with the cluster in time"))
    }
}

impl PrewarmRecordingTask {
    /// The one of `arns` that runs on EC2 instance `instance_id`: the filter should have left only
    /// that one, and describing them makes sure (an emulator that ignores the filter, or an instance
    /// re-registered under a new ARN, must not get the task on the wrong host).
    async fn on_instance(&self, arns: &[String], instance_id: &str) -> Result<Option<String>, EventError> {
        if arns.is_empty() {
            return Ok(None);
        }
        let described = self
            .ecs
            .describe_container_instances()
            .cluster(&self.cluster)
            .set_container_instances(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|e| {
                EventError::dependency(format!("ECS DescribeContainerInstances failed: {}", DisplayErrorContext(&e)))
            })?;
        Ok(described
            .container_instances()
            .iter()
            .find(|ci| ci.ec2_instance_id() == Some(instance_id))
            .and_then(|ci| ci.container_instance_arn())
            .map(str::to_owned))
    }
}

fn claim_key(instance_id: &str) -> store::Item {
    let key = format!("PREWARM#{instance_id}");
    store::key(key.clone(), key)
}
