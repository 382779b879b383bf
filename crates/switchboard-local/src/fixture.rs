//! The local cloud's seed data: what a deploy does not make (`local/fixture.json`: account, people,
//! Pinpoint numbers, admins, locations, test data), joined with the contact centre template.yaml
//! declares ([`DeclaredInstance`]): the instance's queues, profiles, hierarchy and bots come from there.

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize};

use crate::instance::{local_id, DeclaredInstance, InstanceError, Pseudo};

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
    /// The contact centre as template.yaml declares it (filled by [`Fixture::load`]).
    #[serde(skip)]
    pub declared: DeclaredInstance,
    /// Queue name → queue id, for `{{queue:<name>}}` placeholders in flows (the declared queues).
    #[serde(skip)]
    pub queues: BTreeMap<String, String>,
    /// Flow name (as in `contact-flows/<context>/<name>.json`) → the flow: the flows the instance has
    /// at start (as if imported by hand), which `StartChatContact` accepts as `ContactFlowId`.
    pub contact_flows: BTreeMap<String, FixtureFlow>,
    /// Prompt name (`Beep.wav`) → prompt id (the declared prompts and Connect's defaults).
    #[serde(skip)]
    pub prompts: BTreeMap<String, String>,
    /// Names of the Lambda functions associated with the instance at start; see
    /// [`Fixture::lambda_function_arns`].
    #[serde(default)]
    pub lambda_functions: Vec<String>,
    /// Lex V2 bot alias ARNs associated with the instance (the template's LEX_BOT associations).
    #[serde(skip)]
    pub bots: Vec<String>,
    /// The most entries any emulated List operation answers per page: small, so that callers'
    /// pagination is exercised.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Security profile name → id (the declared profiles and Connect's own).
    #[serde(skip)]
    pub security_profiles: BTreeMap<String, String>,
    /// The declared agent hierarchy, parents first.
    #[serde(skip)]
    pub hierarchy_groups: Vec<HierarchyGroup>,
    /// The instance's users: people, so the fixture's, with their profiles and group by name.
    #[serde(rename = "users")]
    people: Vec<Person>,
    #[serde(skip)]
    pub users: Vec<ConnectUser>,
}

/// A user as `local/fixture.json` writes one: security profiles and hierarchy group by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Person {
    id: String,
    username: String,
    #[serde(default)]
    hierarchy_group: Option<String>,
    security_profiles: Vec<String>,
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
    /// Gives the instance what the template declares, with ids stable across runs, and resolves
    /// the people's profiles and groups by name.
    fn declare(&mut self, declared: DeclaredInstance) -> Result<(), FixtureError> {
        fn ids<'a>(kind: &str, names: impl IntoIterator<Item = &'a String>) -> BTreeMap<String, String> {
            names.into_iter().map(|name| (name.clone(), local_id(kind, name))).collect()
        }
        self.queues = ids("queue", declared.queues.keys());
        self.prompts = ids("prompt", &declared.prompts);
        self.security_profiles = ids("security-profile", &declared.security_profiles);
        self.bots = declared.associated_bots.clone();
        let mut groups: Vec<HierarchyGroup> = Vec::new();
        for group in &declared.hierarchy_groups {
            let id = local_id("agent-group", &group.name);
            let mut path = group
                .parent
                .as_ref()
                .and_then(|parent| groups.iter().find(|g| &g.name == parent))
                .map(|parent| parent.path.clone())
                .unwrap_or_default();
            path.push(id.clone());
            groups.push(HierarchyGroup { id, name: group.name.clone(), level_id: path.len().to_string(), path });
        }
        self.hierarchy_groups = groups;
        let undeclared = |user: &Person, what: String| FixtureError::Undeclared { user: user.username.clone(), what };
        self.users = self
            .people
            .iter()
            .map(|person| {
                let hierarchy_group_id = match &person.hierarchy_group {
                    None => None,
                    Some(name) => Some(
                        self.hierarchy_groups
                            .iter()
                            .find(|g| &g.name == name)
                            .map(|g| g.id.clone())
                            .ok_or_else(|| undeclared(person, format!("hierarchy group {name}")))?,
                    ),
                };
                let security_profile_ids = person
                    .security_profiles
                    .iter()
                    .map(|name| {
                        self.security_profiles
                            .get(name)
                            .cloned()
                            .ok_or_else(|| undeclared(person, format!("security profile {name}")))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(ConnectUser {
                    id: person.id.clone(),
                    username: person.username.clone(),
                    hierarchy_group_id,
                    security_profile_ids,
                })
            })
            .collect::<Result<_, FixtureError>>()?;
        self.declared = declared;
        Ok(())
    }

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
    #[error("{path}: {source}")]
    Template { path: String, source: InstanceError },
    #[error("local/fixture.json: user {user} names {what}, which template.yaml does not declare")]
    Undeclared { user: String, what: String },
}

impl Fixture {
    /// The fixture at `path` with the instance the repository's template.yaml declares.
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        Self::load_with_template(path, &crate::repo_root().join("template.yaml"))
    }

    /// The fixture at `path` with the instance the template at `template` declares.
    pub fn load_with_template(path: &Path, template: &Path) -> Result<Self, FixtureError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map_err(|source| FixtureError::Read { path: path.display().to_string(), source })
        };
        let text = read(path)?;
        let mut fixture: Self = serde_json::from_str(&text)
            .map_err(|source| FixtureError::Parse { path: path.display().to_string(), source })?;
        let pseudo = Pseudo {
            stack_name: crate::instance::LOCAL_STACK_NAME.to_owned(),
            region: fixture.region.clone(),
            account_id: fixture.account_id.clone(),
        };
        let declared = DeclaredInstance::from_template(&read(template)?, &pseudo)
            .map_err(|source| FixtureError::Template { path: template.display().to_string(), source })?;
        fixture.connect.declare(declared)?;
        Ok(fixture)
    }

    /// The repository's own fixture.
    pub fn default_path() -> std::path::PathBuf {
        crate::repo_root().join("local/fixture.json")
    }

    pub fn instance_arn(&self) -> String {
        format!("arn:aws:connect:{}:{}:instance/{}", self.region, self.account_id, self.connect.instance_id)
    }

    /// The ARN of the claimed number `number` (E.164) of the local instance.
    pub fn phone_number_arn(&self, number: &str) -> String {
        format!("arn:aws:connect:{}:{}:phone-number/{}", self.region, self.account_id, local_id("phone-number", number))
    }

    /// `flow=number ARN,…`: the declared numbers as provision-flows reads them (`FLOW_PHONE_NUMBERS`).
    pub fn flow_phone_numbers(&self) -> String {
        let numbers = self.connect.declared.phone_numbers.iter().filter(|(_, flow)| !flow.is_empty());
        numbers.map(|(number, flow)| format!("{flow}={}", self.phone_number_arn(number))).collect::<Vec<_>>().join(",")
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
