//! The recording stack in the local cloud, as the template deploys it with `RecordingEnabled`: the
//! recordings bucket, the ECS cluster with the recorder's task definition, and an EC2 instance of the
//! "Auto Scaling group" registered as the cluster's container instance (moto's ECS places EC2 tasks
//! only on a registered instance). EventBridge's two rules are [`EVENT_RULES`]: the local cloud
//! delivers a matching event to its function as EventBridge would ([`LocalCloud::deliver_event`]).

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
use serde_json::{json, Value};

use crate::cloud::{seed_error as seed, CloudError, LocalCloud};
use crate::lambda_host::InvokeClient;

/// The recorder's image in the local task definition: never pulled (no container runs locally).
pub const LOCAL_RECORDER_IMAGE: &str = "switchboard/recorder:local";

/// An EventBridge rule of the template: which events go to which function.
#[derive(Debug, Clone, Copy)]
pub struct EventRule {
    pub name: &'static str,
    pub source: &'static str,
    pub detail_type: &'static str,
    /// A `detail` field and the value it must have (`None`: the fixture's Auto Scaling group name).
    pub detail_field: &'static str,
    pub detail_value: Option<&'static str>,
    pub function: &'static str,
}

/// The template's rules (MeetingEndedRule, RecordingInstanceLaunchRule).
pub const EVENT_RULES: &[EventRule] = &[
    EventRule {
        name: "meeting-ended",
        source: "aws.chime",
        detail_type: "Chime Meeting State Change",
        detail_field: "eventType",
        detail_value: Some("chime:MeetingEnded"),
        function: "stop-recording-on-meeting-end",
    },
    EventRule {
        name: "recording-instance-launched",
        source: "aws.autoscaling",
        detail_type: "EC2 Instance Launch Successful",
        detail_field: "AutoScalingGroupName",
        detail_value: None,
        function: "prewarm-recording-task",
    },
];

impl EventRule {
    /// Whether `event` matches this rule's pattern (`group` is the recording Auto Scaling group).
    pub fn matches(&self, event: &Value, group: &str) -> bool {
        let wanted = self.detail_value.unwrap_or(group);
        event["source"] == self.source
            && event["detail-type"] == self.detail_type
            && event["detail"][self.detail_field] == wanted
    }
}

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
            ("AGENT_APP_URL", crate::cloud::agent_app_url()),
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

/// A Chime SDK "meeting ended" event, as EventBridge delivers it.
pub fn meeting_ended_event(fixture: &crate::fixture::Fixture, external_meeting_id: &str, meeting_id: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Chime Meeting State Change",
        "source": "aws.chime",
        "account": fixture.account_id,
        "time": "2026-12-05T10:00:00Z",
        "region": fixture.region,
        "resources": [],
        "detail": {
            "version": "0",
            "eventType": "chime:MeetingEnded",
            "timestamp": 1_780_000_000_000_i64,
            "meetingId": meeting_id,
            "externalMeetingId": external_meeting_id,
            "mediaRegion": fixture.region,
        }
    })
}

/// An Auto Scaling "EC2 Instance Launch Successful" event for `group`'s new `instance_id`.
pub fn instance_launched_event(fixture: &crate::fixture::Fixture, group: &str, instance_id: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "EC2 Instance Launch Successful",
        "source": "aws.autoscaling",
        "account": fixture.account_id,
        "time": "2026-12-05T10:00:00Z",
        "region": fixture.region,
        "resources": [
            format!("arn:aws:autoscaling:{}:{}:autoScalingGroup:0f1e2d3c-4b5a-6978-8877-665544332211:autoScalingGroupName/{group}", fixture.region, fixture.account_id),
            format!("arn:aws:ec2:{}:{}:instance/{instance_id}", fixture.region, fixture.account_id)
        ],
        "detail": {
            "StatusCode": "InProgress",
            "Description": format!("Launching a new EC2 instance: {instance_id}"),
            "AutoScalingGroupName": group,
            "ActivityId": uuid::Uuid::new_v4().to_string(),
            "Details": {"Availability Zone": format!("{}a", fixture.region), "Subnet ID": "subnet-0123456789abcdef0"},
            "RequestId": uuid::Uuid::new_v4().to_string(),
            "StatusMessage": "",
            "EndTime": "2026-12-05T10:00:00.000Z",
            "EC2InstanceId": instance_id,
            "StartTime": "2026-12-05T09:59:30.000Z",
            "Cause": "At 2026-12-05T09:59:00Z a user request update of AutoScalingGroup constraints to min: 1, max: 4, desired: 1 changing the desired capacity from 0 to 1."
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_their_source_type_and_detail() {
        let fixture = crate::fixture::Fixture::load(&crate::fixture::Fixture::default_path()).unwrap();
        let group = &fixture.video.recording.auto_scaling_group_name;
        let ended = meeting_ended_event(&fixture, "ext-1", "m-1");
        assert!(EVENT_RULES[0].matches(&ended, group));
        assert!(!EVENT_RULES[1].matches(&ended, group));
        let launched = instance_launched_event(&fixture, group, "i-1");
        assert!(EVENT_RULES[1].matches(&launched, group));
        let other = instance_launched_event(&fixture, "another-group", "i-1");
        assert!(!EVENT_RULES.iter().any(|rule| rule.matches(&other, group)));
    }
}
