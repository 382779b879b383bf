//! The recording stack's resources in moto (bucket, cluster, task definition, a registered
//! instance), what the template passes the recording functions, and EventBridge's delivery of the
//! events the emulated services publish by the template's rules ([`EVENT_RULES`]).

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use serde_json::{json, Value};

use super::{error::seed_error as seed, template::agent_app_url, CloudError, LocalCloud};
use crate::{
    lambda_host::InvokeClient,
    recording::{EVENT_RULES, LOCAL_RECORDER_IMAGE},
};

impl LocalCloud {
    /// What the template passes the recording functions.
    pub fn recording_env(&self) -> BTreeMap<String, String> {
        let recording = &self.fixture.video.recording;
        let playback = self
            .fixture
            .connect
            .security_profiles
            .get(&recording.playback_security_profile)
            .cloned()
            .unwrap_or_default();
        [
            ("RECORDING_CLUSTER", recording.cluster_name.clone()),
            ("RECORDING_TASK_DEFINITION", recording.task_definition_family.clone()),
            ("RECORDING_CONTAINER_NAME", recording.container_name.clone()),
            ("RECORDING_BUCKET", recording.bucket_name.clone()),
            ("RECORDING_ATTENDEE_NAME", recording.attendee_name.clone()),
            ("RECORDING_ASG_NAME", recording.auto_scaling_group_name.clone()),
            ("RECORDING_PLAYBACK_SECURITY_PROFILE_ID", playback),
            ("RECORDING_URL_EXPIRY_SECONDS", "900".to_owned()),
            ("AGENT_APP_URL", agent_app_url()),
            // The instance is registered before any event: no pause between lookups.
            ("PREWARM_LOOKUP_PAUSE_MS", "0".to_owned()),
            ("PREWARM_LOOKUP_TRIES", "2".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The bucket, the cluster, the task definition and one registered instance (its EC2 id).
    pub(crate) async fn seed_recording(&self) -> Result<String, CloudError> {
        let recording = &self.fixture.video.recording;
        let s3 = self.s3_client().await;
        let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(self.fixture.region.as_str()))
            .build();
        s3.create_bucket()
            .bucket(&recording.bucket_name)
            .create_bucket_configuration(location)
            .send()
            .await
            .map_err(|e| seed("recording bucket", e))?;
        let ecs = self.ecs_client().await;
        ecs.create_cluster().cluster_name(&recording.cluster_name).send().await.map_err(|e| seed("cluster", e))?;
        // Small reservations: moto subtracts them from the instance's 4096 CPU units, so many tasks fit.
        let container = ContainerDefinition::builder()
            .name(&recording.container_name)
            .image(LOCAL_RECORDER_IMAGE)
            .cpu(128)
            .memory(256)
            .essential(true)
            .build();
        ecs.register_task_definition()
            .family(&recording.task_definition_family)
            .network_mode(NetworkMode::Bridge)
            .requires_compatibilities(Compatibility::Ec2)
            .container_definitions(container)
            .send()
            .await
            .map_err(|e| seed("task definition", e))?;
        self.register_recording_instance().await
    }

    /// Launches an EC2 instance in moto and registers it with the recording cluster, as the ECS agent
    /// of an instance of the recording Auto Scaling group does; its EC2 instance id.
    pub async fn register_recording_instance(&self) -> Result<String, CloudError> {
        let instance_id = self.run_ec2_instance().await?;
        let document =
            json!({"instanceId": instance_id, "region": self.fixture.region, "accountId": self.fixture.account_id});
        self.ecs_client()
            .await
            .register_container_instance()
            .cluster(&self.fixture.video.recording.cluster_name)
            .instance_identity_document(document.to_string())
            .send()
            .await
            .map_err(|e| seed("container instance", e))?;
        Ok(instance_id)
    }

    /// An ECS client for moto.
    pub async fn ecs_client(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.sdk_config().await)
    }

    /// moto's EC2 `RunInstances` through its query API (the project has no EC2 SDK crate and needs
    /// only this one call): the instance's id.
    async fn run_ec2_instance(&self) -> Result<String, CloudError> {
        let form = serde_urlencoded::to_string([
            ("Action", "RunInstances"),
            ("Version", "2016-11-15"),
            ("ImageId", "ami-0123456789abcdef0"),
            ("InstanceType", "c5.xlarge"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
        ])
        .map_err(|e| seed("EC2 instance", e))?;
        let answer = self.moto_query("ec2", &self.fixture.region, "EC2 instance", form).await?;
        let id = answer.split("<instanceId>").nth(1).and_then(|rest| rest.split("</instanceId>").next());
        id.filter(|id| id.starts_with("i-")).map(str::to_owned).ok_or_else(|| CloudError::Seed {
            what: "EC2 instance".into(),
            detail: "RunInstances answered no instance id".into(),
        })
    }

    /// Delivers what the emulated services publish (Chime's meeting ends) to the functions at
    /// `lambda_endpoint` by [`EVENT_RULES`], in the background, as asynchronous invocations: a
    /// failed one is tried twice more, as Lambda retries, then dropped with a log line (the
    /// template sends it to the failed-events queue).
    pub fn start_event_delivery(&self, lambda_endpoint: String) {
        let Some(mut published) = self.emulator.take_events() else {
            return;
        };
        let group = self.fixture.video.recording.auto_scaling_group_name.clone();
        tokio::spawn(async move {
            let lambda = InvokeClient::new(lambda_endpoint);
            while let Some(event) = published.recv().await {
                for rule in EVENT_RULES.iter().filter(|rule| rule.matches(&event, &group)) {
                    let mut tries = 0;
                    while let Err(error) = lambda.invoke(rule.function, &event).await {
                        tries += 1;
                        if tries == 3 {
                            tracing::error!(function = rule.function, %error, "an event was not delivered");
                            break;
                        }
                    }
                }
            }
        });
    }

    /// Delivers `event` as EventBridge does: to the function of every rule it matches, each invoked
    /// once with the event; the functions' answers by rule (none when no rule matches).
    pub async fn deliver_event(&self, event: &Value) -> Result<Vec<(&'static str, Value)>, CloudError> {
        let fleet = self.fleet().ok_or_else(|| CloudError::Seed {
            what: "event delivery".into(),
            detail: "the fleet is not running".into(),
        })?;
        let lambda = InvokeClient::new(fleet.endpoint());
        let group = &self.fixture.video.recording.auto_scaling_group_name;
        let mut answers = Vec::new();
        for rule in EVENT_RULES.iter().filter(|rule| rule.matches(event, group)) {
            let answer = lambda
                .invoke(rule.function, event)
                .await
                .map_err(|detail| CloudError::Seed { what: format!("event to {}", rule.function), detail })?;
            answers.push((rule.name, answer));
        }
        Ok(answers)
    }
}
