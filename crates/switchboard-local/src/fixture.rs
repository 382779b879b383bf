//! The local cloud's seed data (`local/fixture.json`): account, Pinpoint numbers, admins, locations.

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fixture {
    pub region: String,
    pub account_id: String,
    pub connect: ConnectFixture,
    pub pinpoint: PinpointFixture,
    pub emergency: EmergencyFixture,
    pub cognito: CognitoFixture,
    pub video: VideoFixture,
    pub identity: IdentityFixture,
    pub desktop: DesktopFixture,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesktopFixture {
    /// The bucket the desktop pages are published to (the template's `DesktopBucket`).
    pub bucket_name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityFixture {
    pub table_name: String,
    pub phone_number: String,
    /// Secret names `<prefix>result-decryption-*` and SSM parameters `/<prefix>plugin-signing-*`.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectFixture {
    pub instance_id: String,
    /// Queue name → queue id, for `{{queue:<name>}}` placeholders in flows.
    pub queues: BTreeMap<String, String>,
    /// Flow name (as in `contact-flows/<context>/<name>.json`) → the flow: the flows the instance has
    /// at start (as if imported by hand), which `StartChatContact` accepts as `ContactFlowId`.
    pub contact_flows: BTreeMap<String, FixtureFlow>,
    /// Prompt name (`Beep.wav`) → prompt id.
    #[serde(default)]
    pub prompts: BTreeMap<String, String>,
    /// Names of the Lambda functions associated with the instance at start; see
    /// [`Fixture::lambda_function_arns`].
    #[serde(default)]
    pub lambda_functions: Vec<String>,
    /// Lex V2 bot alias ARNs associated with the instance at start.
    #[serde(default)]
    pub bots: Vec<String>,
    /// The most entries any emulated List operation answers per page: small, so that callers'
    /// pagination is exercised.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Security profile name → id.
    pub security_profiles: BTreeMap<String, String>,
    pub hierarchy_groups: Vec<HierarchyGroup>,
    pub users: Vec<ConnectUser>,
}

fn default_page_size() -> usize {
    100
}

/// A flow of the instance in the fixture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureFlow {
    pub id: String,
    /// The `ContactFlowType` (`CONTACT_FLOW`, `CUSTOMER_QUEUE`, …).
    #[serde(rename = "type")]
    pub kind: String,
}

impl ConnectFixture {
    /// The name of the instance's flow with id `flow_id`.
    pub fn contact_flow_name(&self, flow_id: &str) -> Option<&str> {
        self.contact_flows.iter().find(|(_, flow)| flow.id == flow_id).map(|(name, _)| name.as_str())
    }

    /// The id of `VideoCallEscalationChat`, the flow the website's chats start in (the template's
    /// `VideoChatContactFlowId`); empty when the fixture has none.
    pub fn video_chat_flow_id(&self) -> &str {
        self.contact_flows.get("VideoCallEscalationChat").map_or("", |flow| flow.id.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HierarchyGroup {
    pub id: String,
    pub name: String,
    pub level_id: String,
    /// Group ids from level one down to this group.
    pub path: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectUser {
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub hierarchy_group_id: Option<String>,
    pub security_profile_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CognitoFixture {
    pub user_pool_name: String,
    pub client_name: String,
    /// The agent desktop's public client (managed login, authorization code + PKCE).
    pub desktop_client_name: String,
    /// The user pool domain's prefix; locally the domain is served by the emulator's Cognito front.
    pub domain_prefix: String,
    pub agents: Vec<Agent>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoFixture {
    pub table_name: String,
    pub ccp_login_role_arn: String,
    pub recording: RecordingFixture,
}

/// The recording stack as the template names it (RecordingBucket, RecordingCluster, the recorder's
/// task definition and container, the Auto Scaling group) and the playback profile's name in
/// `connect.securityProfiles`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingFixture {
    pub bucket_name: String,
    pub cluster_name: String,
    pub task_definition_family: String,
    pub container_name: String,
    pub auto_scaling_group_name: String,
    pub playback_security_profile: String,
    pub attendee_name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PinpointFixture {
    pub application_id: String,
    /// What `PhoneNumberValidate` answers per E.164 number; others are `INVALID`.
    pub numbers: BTreeMap<String, NumberInfo>,
    /// Numbers whose SMS fail with `PERMANENT_FAILURE`.
    #[serde(default)]
    pub undeliverable: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberInfo {
    pub phone_type: String,
    pub country_code_iso2: String,
    #[serde(default)]
    pub carrier: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyFixture {
    pub table_name: String,
    pub locations: Vec<String>,
    pub types: Vec<String>,
    pub admins: Vec<Admin>,
    pub sms_sender_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Admin {
    pub phone: String,
    pub name: String,
    pub enabled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not a valid fixture: {source}")]
    Parse { path: String, source: serde_json::Error },
}

impl Fixture {
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| FixtureError::Read { path: path.display().to_string(), source })?;
        serde_json::from_str(&text).map_err(|source| FixtureError::Parse { path: path.display().to_string(), source })
    }

    /// The repository's own fixture.
    pub fn default_path() -> std::path::PathBuf {
        crate::repo_root().join("local/fixture.json")
    }

    pub fn instance_arn(&self) -> String {
        format!("arn:aws:connect:{}:{}:instance/{}", self.region, self.account_id, self.connect.instance_id)
    }

    /// The ARN of the account's Lambda function `name`, in the fixture's region.
    pub fn lambda_function_arn(&self, name: &str) -> String {
        format!("arn:aws:lambda:{}:{}:function:{name}", self.region, self.account_id)
    }

    /// The ARNs of the Lambda functions associated with the instance at start, in fixture order.
    pub fn lambda_function_arns(&self) -> Vec<String> {
        self.connect.lambda_functions.iter().map(|name| self.lambda_function_arn(name)).collect()
    }
}
