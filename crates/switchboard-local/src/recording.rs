//! The recording stack as the template declares it with `RecordingEnabled`, in what the local cloud
//! and the tests share: the recorder's image in the local task definition, EventBridge's two rules
//! ([`EVENT_RULES`]) and the events they match. The local cloud seeds the stack (the recordings
//! bucket, the ECS cluster with the recorder's task definition, and an EC2 instance of the "Auto
//! Scaling group" registered as the cluster's container instance: moto's ECS places EC2 tasks only
//! on a registered instance) and delivers a matching event to its function as EventBridge would
//! ([`LocalCloud::deliver_event`](crate::cloud::LocalCloud::deliver_event)).
use serde_json::{json, Value};

/// What Chime publishes when a meeting ends (the emulated Chime publishes it, so it lives there);
/// named here too, beside the rule that delivers it.
pub use crate::emulator::meeting_ended_event;

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
