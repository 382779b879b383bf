//! template.yaml's parameters and resources as this local cloud has them: what `tools/iam_check.py`
//! renders each function's policy with (`cloud.json`, see [`crate::call_log`]). A resource the
//! policies name and this map lacks renders to nothing, so its grants are reported, never assumed.

use serde_json::{json, Map, Value};

use super::{template::*, LocalCloud};
use crate::call_log::function_access_key;

impl LocalCloud {
    /// `{"parameters": {…}, "resources": {LogicalId: {"Ref": …, "Arn": …}}}` for this cloud.
    pub async fn template_bindings(&self) -> Value {
        let f = &self.fixture;
        let (region, account) = (f.region.as_str(), f.account_id.as_str());
        let instance = f.instance_arn();
        let table =
            |name: &str| json!({"Ref": name, "Arn": format!("arn:aws:dynamodb:{region}:{account}:table/{name}")});
        let bucket = |name: &str| json!({"Ref": name, "Arn": format!("arn:aws:s3:::{name}")});
        let role = |name: &str| {
            let arn = format!("arn:aws:iam::{account}:role/{LOCAL_STACK_NAME}-{name}");
            json!({"Ref": format!("{LOCAL_STACK_NAME}-{name}"), "Arn": arn})
        };
        let recording = &f.video.recording;
        let chat_flow = format!("{instance}/contact-flow/{}", f.connect.video_chat_flow_id());
        let mut resources = Map::new();
        let mut add = |id: &str, value: Value| {
            resources.insert(id.to_owned(), value);
        };
        add("EmergencyTable", table(&f.emergency.table_name));
        add("VideoTable", table(&f.video.table_name));
        add("IdentityTable", table(&f.identity.table_name));
        add("FlowsTable", table(FLOWS_TABLE));
        add("DesktopBucket", bucket(&f.desktop.bucket_name));
        add("RecordingBucket", bucket(&recording.bucket_name));
        // The bucket the PromptAudio test puts the recordings into.
        add("PromptBucket", bucket(LOCAL_PROMPT_BUCKET));
        let cluster = format!("arn:aws:ecs:{region}:{account}:cluster/{}", recording.cluster_name);
        add("RecordingCluster", json!({"Ref": recording.cluster_name, "Arn": cluster}));
        add("RecorderTaskRole", role("recorder-task"));
        add("RecorderExecutionRole", role("recorder-execution"));
        add("CcpFederationRole", json!({"Ref": "switchboard-local-ccp-federation", "Arn": f.video.ccp_login_role_arn}));
        // Locally the recordings bucket is not encrypted with a key of its own.
        add(
            "RecordingKey",
            json!({"Ref": "local-recording-key", "Arn": format!("arn:aws:kms:{region}:{account}:key/local-recording-key")}),
        );
        add("ConnectInstance", json!({"Ref": instance, "Arn": instance}));
        add(
            "ContactFlows",
            json!({"Ref": format!("contact-flows-{}", f.connect.instance_id), "VideoCallEscalationChatArn": chat_flow}),
        );
        add("PinpointApp", json!({"Ref": f.pinpoint.application_id}));
        let pool = &self.user_pool.pool_id;
        add(
            "AgentUserPool",
            json!({"Ref": pool, "Arn": format!("arn:aws:cognito-idp:{region}:{account}:userpool/{pool}")}),
        );
        if let Some(site) = &self.desktop {
            add("DesktopDistribution", json!({"Ref": site.distribution_id}));
        }
        for (id, number) in &f.connect.declared.number_resources {
            add(id, json!({"Ref": f.phone_number_arn(number)}));
        }
        for (id, alias) in &f.connect.declared.bot_aliases {
            add(id, json!({"Arn": alias}));
        }
        // A secret's ARN ends in a suffix Secrets Manager picks: moto's.
        let secrets = aws_sdk_secretsmanager::Client::new(&self.sdk_config().await);
        for (id, name) in [("PinPepperSecret", PIN_PEPPER_SECRET), ("WebhookSecret", WEBHOOK_SECRET)] {
            if let Ok(secret) = secrets.describe_secret().secret_id(name).send().await {
                add(id, json!({"Ref": secret.arn().unwrap_or_default()}));
            }
        }
        let parameters = json!({
            "AWS::StackName": LOCAL_STACK_NAME,
            "ConnectInstanceArn": instance,
            "PhoneNumberCountryCode": "AU",
            "PinpointApplicationId": f.pinpoint.application_id,
            "IdContactKeyPrefix": f.identity.key_prefix,
            "GitHubWebhook": "enabled",
            "DesktopEnabled": "true",
            "RecordingEnabled": "true",
            "PipelineNamePrefix": "switchboard-",
        });
        json!({"parameters": parameters, "resources": resources})
    }

    /// `cloud.json` for the call log, once the fleet runs (see [`crate::call_log`]).
    pub(super) async fn write_call_log_cloud(&self) -> Result<(), super::CloudError> {
        let Some(log) = &self.call_log else { return Ok(()) };
        let keys: Map<String, Value> =
            self.functions_in_call_log.iter().map(|f| (function_access_key(f), json!(f))).collect();
        let mut cloud = self.template_bindings().await;
        cloud["region"] = json!(self.fixture.region);
        cloud["account_id"] = json!(self.fixture.account_id);
        cloud["partition"] = json!("aws");
        cloud["functions"] = Value::Object(keys);
        log.write_cloud(&cloud).map_err(super::CloudError::Emulator)
    }

    /// See [`crate::call_log::CallLog::expect_denied`]; nothing when no call log is kept.
    pub fn expect_denied(&self, function: &str, action: &str, resource: &str) {
        if let Some(log) = &self.call_log {
            if let Err(error) = log.expect_denied(function, action, resource) {
                tracing::warn!(%error, "the expected denial could not be written");
            }
        }
    }

    /// How many requests moto and the emulator served signed with access key `key` so far; `None`
    /// without a call log.
    pub fn requests_signed_by(&self, key: &str) -> Option<usize> {
        let log = self.call_log.as_ref()?;
        let needle = format!("Credential={key}/");
        let count = |path: std::path::PathBuf| std::fs::read_to_string(path).map_or(0, |t| t.matches(&needle).count());
        Some(count(log.moto_file()) + count(log.emulator_file()))
    }
}
