//! Starts, seeds and stops the local cloud: moto, the emulator and (optionally) the fleet.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::{
    config::Credentials,
    types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    },
};

use aws_sdk_cognitoidentityprovider::types::{
    AttributeDataType, AttributeType, AuthFlowType, ExplicitAuthFlowsType, MessageActionType, OAuthFlowType,
    SchemaAttributeType, StringAttributeConstraintsType, TimeUnitsType, TokenValidityUnitsType, UsernameAttributeType,
    VerifiedAttributeType,
};

use crate::{
    desktop::{self, DesktopError, DesktopOptions, DesktopSite},
    emulator::{self, EmulatorHandle, LocalNumber},
    fixture::{Admin, Fixture},
    gateway::{self, Access, Cors, GatewayHandle, JwtAuthorizer, Route},
    lambda_host::{FunctionSpec, HostError, InvokeClient, LambdaHost},
    moto::{Moto, MotoError},
};

/// The HTTP API's routes, as template.yaml declares them (a test checks the two agree).
pub const HTTP_ROUTES: &[Route] = &[
    Route { method: "POST", path: "/start_communication", function: "start-session", access: Access::Iam },
    Route {
        method: "POST",
        path: "/session_result/{result_code}",
        function: "receive-auth-result",
        access: Access::Public,
    },
    Route { method: "GET", path: "/session_info/{contact_id}", function: "session-info", access: Access::Agent },
    Route { method: "POST", path: "/ccplogin", function: "ccp-login", access: Access::Agent },
    Route { method: "POST", path: "/setConnectUserId", function: "set-connect-user-id", access: Access::Agent },
    Route { method: "PUT", path: "/connect-user-cache", function: "put-connect-user-cache", access: Access::Agent },
    Route { method: "POST", path: "/meeting", function: "create-meeting", access: Access::Agent },
    Route { method: "DELETE", path: "/meeting", function: "end-meeting", access: Access::Agent },
    Route { method: "POST", path: "/attendee", function: "create-attendee", access: Access::Agent },
    Route { method: "GET", path: "/attendee-name", function: "get-attendee-name", access: Access::AgentPublic },
    Route {
        method: "GET",
        path: "/attendee-join-data",
        function: "get-attendee-join-data",
        access: Access::AgentPublic,
    },
    Route { method: "POST", path: "/adhoc", function: "create-adhoc-route", access: Access::Agent },
    Route { method: "POST", path: "/start", function: "start-chat", access: Access::AgentPublic },
    // The recording routes (the template declares them behind RecordingEnabled; the local cloud always has them).
    Route { method: "POST", path: "/recording", function: "start-recording", access: Access::Agent },
    Route { method: "DELETE", path: "/recording", function: "stop-recording", access: Access::Agent },
    Route { method: "GET", path: "/recording-summary", function: "get-recording-summary", access: Access::Agent },
    // The webhook's own API (the template declares its route behind WebhookEnabled).
    Route { method: "POST", path: "/github", function: "github-webhook", access: Access::Webhook },
];

/// The HTTP API's CORS configuration, as template.yaml declares it (a test checks the two agree);
/// the allowed origins are the `CorsAllowedOrigins` parameter there and [`cors_origins`] here.
/// The Amz headers are those Amplify adds when it SigV4-signs a request.
pub const CORS_ALLOW_HEADERS: &[&str] =
    &["Content-Type", "cognitoIdToken", "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-User-Agent"];
pub const CORS_ALLOW_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "OPTIONS"];
pub const CORS_MAX_AGE_SECONDS: u32 = 600;
/// The origins the local HTTP API allows unless `SWITCHBOARD_CORS_ORIGINS` (comma-separated) says
/// otherwise: a web app's dev server on port 3000.
pub const DEFAULT_CORS_ORIGINS: &str = "http://localhost:3000,http://127.0.0.1:3000";

/// The local HTTP API's allowed origins: `SWITCHBOARD_CORS_ORIGINS`, else [`DEFAULT_CORS_ORIGINS`].
pub fn cors_origins() -> Vec<String> {
    parse_origins(&std::env::var("SWITCHBOARD_CORS_ORIGINS").unwrap_or_else(|_| DEFAULT_CORS_ORIGINS.to_owned()))
}

/// The agent-app's URL locally (the template's `AgentAppUrl`, which playback URLs must be under):
/// `SWITCHBOARD_AGENT_APP_URL`, else the first allowed origin (the agent-app's dev server).
pub fn agent_app_url() -> String {
    std::env::var("SWITCHBOARD_AGENT_APP_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .or_else(|| cors_origins().into_iter().next())
        .unwrap_or_else(|| "http://localhost:3000".to_owned())
}

fn parse_origins(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|origin| !origin.is_empty()).map(str::to_owned).collect()
}

/// The template's CORS configuration with `allow_origins`.
pub fn http_api_cors(allow_origins: Vec<String>) -> Cors {
    Cors {
        allow_origins,
        allow_headers: CORS_ALLOW_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
        allow_methods: CORS_ALLOW_METHODS.iter().map(|m| (*m).to_owned()).collect(),
        max_age_seconds: CORS_MAX_AGE_SECONDS,
    }
}

/// The app client's attributes, as template.yaml declares them: `custom:connectUserId` and `email` are
/// readable but not writable, so only `set-connect-user-id` (an admin call) can set the id and only
/// admins can change the email the Connect username is derived from.
pub const CLIENT_READ_ATTRIBUTES: &[&str] = &["email", "email_verified", "name", "custom:connectUserId"];
pub const CLIENT_WRITE_ATTRIBUTES: &[&str] = &["name"];

/// The agent desktop's client (`DesktopUserPoolClient`): managed login with the authorization code
/// grant, the scopes `agent.html` asks for, its page as the callback.
pub const DESKTOP_CLIENT_SCOPES: &[&str] = &["openid", "email"];
/// The desktop client's token lifetimes (spec: ID token 1 h, refresh token 12 h).
pub const DESKTOP_ID_TOKEN_HOURS: i32 = 1;
pub const DESKTOP_REFRESH_TOKEN_HOURS: i32 = 12;

/// The Secrets Manager secret holding the PIN pepper (the template generates one per stack).
pub const PIN_PEPPER_SECRET: &str = "switchboard/emergency/pin-pepper";

/// The flows context's table (the template's `FlowsTable`).
pub const FLOWS_TABLE: &str = "switchboard-flows";
/// The function that deploys `contact-flows/` (the `ContactFlows` custom resource's provider).
pub const PROVISION_FLOWS_FUNCTION: &str = "provision-flows";
/// The stack name the local cloud's functions tag what they deploy with (`switchboard:stack`).
pub const LOCAL_STACK_NAME: &str = "switchboard-local";

/// The GitHub webhook's secret (the template generates one per stack) and its local value, which
/// the sample events in `events/github-webhook/` are signed with.
pub const WEBHOOK_SECRET: &str = "switchboard/flows/github-webhook";
pub const LOCAL_WEBHOOK_SECRET_VALUE: &str = "local-webhook-secret";
/// The pipelines the webhook's default routes start for the default branches (`pipeline.yaml`'s
/// names for each environment): created in moto's CodePipeline.
pub const LOCAL_PIPELINES: &[&str] =
    &["switchboard-app-dev", "switchboard-app-prod", "switchboard-flows-dev", "switchboard-flows-prod"];

/// How long the local cloud lets a function run: Connect's limit for a flow's Lambda call.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(8);

/// The agents' user pool in moto.
#[derive(Debug, Clone)]
pub struct UserPool {
    pub pool_id: String,
    pub client_id: String,
    /// The agent desktop's public client (managed login); its callback is the local site's `agent.html`.
    pub desktop_client_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("emulator: {0}")]
    Emulator(std::io::Error),
    #[error("seeding {what} failed: {detail}")]
    Seed { what: String, detail: String },
    #[error("cannot list the functions in {path}: {source}")]
    Functions { path: String, source: std::io::Error },
    #[error("the desktop site: {0}")]
    Desktop(#[from] DesktopError),
}

/// The running local cloud. Dropping it stops everything it started.
pub struct LocalCloud {
    pub fixture: Fixture,
    pub moto: Moto,
    pub emulator: EmulatorHandle,
    pub user_pool: UserPool,
    pub fleet: Option<LambdaHost>,
    pub gateway: Option<GatewayHandle>,
    /// Bound at start so the functions can be given the HTTP API's URL; served by `start_gateway`.
    gateway_listener: Option<tokio::net::TcpListener>,
    pub gateway_addr: std::net::SocketAddr,
    /// Bound at start so the desktop client's callback URL can name it; served by `start_desktop`.
    desktop_listener: Option<tokio::net::TcpListener>,
    pub desktop_addr: std::net::SocketAddr,
    /// The desktop pages, once `start_desktop` ran.
    pub desktop: Option<DesktopSite>,
    /// The EC2 instance registered with the recording cluster when the cloud was seeded.
    pub recording_instance_id: String,
}

impl LocalCloud {
    /// moto and the emulator, with the tables created and seeded; no functions.
    pub async fn services(fixture: Fixture) -> Result<Self, CloudError> {
        let moto = Moto::start().await?;
        let emulator = emulator::start(fixture.clone(), ([127, 0, 0, 1], 0).into(), Some(moto.endpoint()))
            .await
            .map_err(CloudError::Emulator)?;
        let user_pool = UserPool { pool_id: String::new(), client_id: String::new(), desktop_client_id: String::new() };
        let gateway_listener = gateway::bind().await.map_err(CloudError::Emulator)?;
        let gateway_addr = gateway_listener.local_addr().map_err(CloudError::Emulator)?;
        let desktop_listener = gateway::bind().await.map_err(CloudError::Emulator)?;
        let desktop_addr = desktop_listener.local_addr().map_err(CloudError::Emulator)?;
        let mut cloud = Self {
            fixture,
            moto,
            emulator,
            user_pool,
            fleet: None,
            gateway: None,
            gateway_listener: Some(gateway_listener),
            gateway_addr,
            desktop_listener: Some(desktop_listener),
            desktop_addr,
            desktop: None,
            recording_instance_id: String::new(),
        };
        cloud.seed().await?;
        cloud.recording_instance_id = cloud.seed_recording().await?;
        cloud.user_pool = cloud.seed_user_pool().await?;
        Ok(cloud)
    }

    /// Services plus every function in `functions/`, run from `binaries` with the fleet environment
    /// and `overrides` on top (e.g. a shorter PIN expiry for one test); a key `<function>/<VARIABLE>`
    /// overrides that function's variable only.
    pub async fn with_fleet(
        fixture: Fixture,
        binaries: PathBuf,
        overrides: BTreeMap<String, String>,
    ) -> Result<Self, CloudError> {
        let mut cloud = Self::services(fixture).await?;
        let mut env = cloud.function_env();
        // `<function>/<VARIABLE>` overrides one function's variable (fault injection for one step).
        let (own, shared): (BTreeMap<_, _>, BTreeMap<_, _>) = overrides.into_iter().partition(|(k, _)| k.contains('/'));
        env.extend(shared);
        let specs = function_names()?
            .into_iter()
            .map(|name| {
                let mut env = env.clone();
                for (key, value) in &own {
                    if let Some(variable) = key.strip_prefix(&format!("{name}/")) {
                        env.insert(variable.to_owned(), value.clone());
                    }
                }
                // The template's timeout, unless a test shortens it (the lambda host's setting, not
                // the function's: it never reaches the process).
                let timeout = env
                    .remove(TIMEOUT_OVERRIDE)
                    .and_then(|seconds| seconds.parse().ok())
                    .map_or_else(|| function_timeout(&name), Duration::from_secs);
                FunctionSpec { binary: binaries.join(&name), timeout, name, env }
            })
            .collect();
        let fleet = LambdaHost::start(specs, &cloud.fixture.region, &cloud.fixture.account_id).await?;
        cloud.start_gateway(fleet.endpoint()).await?;
        cloud.start_event_delivery(fleet.endpoint());
        cloud.fleet = Some(fleet);
        Ok(cloud)
    }

    /// Starts the HTTP API in front of the functions served at `lambda_endpoint` (our host or
    /// `cargo lambda watch`), with the JWT authorizer on this cloud's user pool.
    pub async fn start_gateway(&mut self, lambda_endpoint: String) -> Result<(), CloudError> {
        let pool = &self.user_pool.pool_id;
        let authorizer = JwtAuthorizer {
            issuer: format!("https://cognito-idp.{}.amazonaws.com/{pool}", self.fixture.region),
            // The template's authorizer accepts both clients: the agent app's and the desktop's.
            audiences: vec![self.user_pool.client_id.clone(), self.user_pool.desktop_client_id.clone()],
            jwks_url: format!("{}/{pool}/.well-known/jwks.json", self.moto.endpoint()),
        };
        let lambda = InvokeClient::new(lambda_endpoint);
        let listener = match self.gateway_listener.take() {
            Some(listener) => listener,
            None => gateway::bind().await.map_err(CloudError::Emulator)?,
        };
        let gateway = gateway::serve(
            listener,
            HTTP_ROUTES.to_vec(),
            authorizer,
            lambda,
            self.fixture.account_id.clone(),
            http_api_cors(cors_origins()),
        )
        .await
        .map_err(CloudError::Emulator)?;
        self.gateway = Some(gateway);
        Ok(())
    }

    /// The desktop pages on the pre-bound site port, deployed as the stack deploys them: the bucket
    /// and a distribution made in moto, the layer's files built by `desktop/Makefile` (the target
    /// `sam build` runs), and `publish-desktop` run as the `DesktopSite` custom resource's Create
    /// with the local origins as its properties. Then the fake CCP and the CloudFront stand-in
    /// reading `options.template` (the HTTP API behind `/api/*` is this cloud's gateway).
    /// Needs the fleet (it runs `publish-desktop`).
    pub async fn start_desktop(&mut self, options: DesktopOptions) -> Result<(), CloudError> {
        let site_origin = format!("http://{}", self.desktop_addr);
        let ccp_files = desktop::fake_ccp::FakeCcpFiles::load(&options.desktop)?;
        let ccp_listener = gateway::bind().await.map_err(CloudError::Emulator)?;
        // Framable by the desktop site and by the agent-app's origins (SWITCHBOARD_CORS_ORIGINS): a
        // developer runs the original agent-app against the local cloud with this CCP.
        let mut approved = vec![site_origin.clone()];
        approved.extend(cors_origins());
        let ccp = desktop::fake_ccp::serve(ccp_listener, ccp_files, &approved).await.map_err(CloudError::Emulator)?;

        let cognito_domain = self.emulator.endpoint();
        let template = std::fs::read_to_string(&options.template)
            .map_err(|source| DesktopError::Read { path: options.template.clone(), source })?;
        let strip_api_path = options.desktop.join("cloudfront/strip-api.js");
        let strip_api = std::fs::read_to_string(&strip_api_path)
            .map_err(|source| DesktopError::Read { path: strip_api_path, source })?;
        let origins = desktop::template::LocalOrigins {
            connect_instance_url: ccp.origin(),
            cognito_domain_url: cognito_domain.clone(),
        };
        let distribution = desktop::template::Distribution::from_template(&template, &origins, &strip_api)
            .map_err(DesktopError::from)?;

        desktop::build_assets(&options.desktop, &self.desktop_assets_root())?;
        let s3 = self.s3_client().await;
        let bucket = self.fixture.desktop.bucket_name.clone();
        desktop::create_bucket(&s3, &bucket, &self.fixture.region).await?;
        let cloudfront = aws_sdk_cloudfront::Client::new(&self.sdk_config().await);
        let distribution_id = desktop::create_distribution(&cloudfront, &bucket).await?;
        let properties = desktop::site_properties(
            &bucket,
            &distribution_id,
            &ccp,
            &cognito_domain,
            &self.user_pool.desktop_client_id,
            options.poll.as_ref(),
        );
        let answer =
            self.custom_resource(desktop::PUBLISH_FUNCTION, "Create", desktop::SITE_RESOURCE, properties, None).await?;
        if answer["Status"] != "SUCCESS" {
            return Err(DesktopError::Publish(answer.to_string()).into());
        }
        let config = desktop::read_config(&s3, &bucket).await?;

        let listener = match self.desktop_listener.take() {
            Some(listener) => listener,
            None => return Err(CloudError::Seed { what: "desktop site".into(), detail: "already started".into() }),
        };
        let site = desktop::cloudfront::CloudFront {
            distribution,
            s3,
            bucket: bucket.clone(),
            api: format!("http://{}", self.gateway_addr),
            http: reqwest::Client::new(),
        };
        let cloudfront = desktop::cloudfront::serve(listener, site).await.map_err(CloudError::Emulator)?;
        self.desktop = Some(DesktopSite { cloudfront, ccp, bucket, distribution_id, config, published: answer });
        Ok(())
    }

    /// Where `desktop/Makefile` builds the layer's files for this cloud (`…/desktop-site` is what
    /// `publish-desktop` reads as `DESKTOP_ASSETS_DIR`, as from `/opt/desktop-site` in Lambda).
    pub fn desktop_assets_root(&self) -> PathBuf {
        crate::repo_root().join("target/desktop-assets").join(self.desktop_addr.port().to_string())
    }

    /// Delivers a CloudFormation custom-resource request to `function` as CloudFormation does (the
    /// answer goes to a `ResponseURL`, here the emulator's) and returns the answer it PUT there.
    /// `physical_id` is the resource's, for Update and Delete.
    pub async fn custom_resource(
        &self,
        function: &str,
        request_type: &str,
        logical_id: &str,
        properties: serde_json::Value,
        physical_id: Option<(&str, serde_json::Value)>,
    ) -> Result<serde_json::Value, CloudError> {
        let fleet = self.fleet.as_ref().ok_or_else(|| CloudError::Seed {
            what: format!("custom resource {logical_id}"),
            detail: "the fleet is not running".into(),
        })?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let event = custom_resource_event(
            request_type,
            logical_id,
            &request_id,
            &self.emulator.custom_resource_response_url(&request_id),
            &self.fixture,
            &fleet_function_arn(&self.fixture, function),
            properties,
            physical_id,
        );
        let lambda = InvokeClient::new(fleet.endpoint());
        lambda.invoke(function, &event).await.map_err(|detail| CloudError::Seed {
            what: format!("custom resource {logical_id} ({function})"),
            detail,
        })?;
        let answers = self.emulator.custom_resource_responses();
        let answer = answers.into_iter().rev().find(|a| a.request_id == request_id);
        answer.map(|a| a.body).ok_or_else(|| CloudError::Seed {
            what: format!("custom resource {logical_id} ({function})"),
            detail: "the function answered nothing to the ResponseURL".into(),
        })
    }

    /// An S3 client for moto (path-style: moto's endpoint is an address, not a bucket domain).
    pub async fn s3_client(&self) -> aws_sdk_s3::Client {
        let sdk = self.sdk_config().await;
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build())
    }

    /// The `AWS_*` variables that point an SDK at this local cloud.
    pub fn aws_env(&self) -> BTreeMap<String, String> {
        let pairs = [
            ("AWS_REGION", self.fixture.region.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_ENDPOINT_URL", self.moto.endpoint()),
            ("AWS_ENDPOINT_URL_PINPOINT", self.emulator.endpoint()),
            ("AWS_ENDPOINT_URL_CONNECT", self.emulator.endpoint()),
            ("AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS", self.emulator.endpoint()),
            ("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", self.emulator.endpoint()),
            ("AWS_MAX_ATTEMPTS", "2".to_owned()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// What the template passes to the functions, for this fixture: `aws_env` plus each context's settings.
    pub fn function_env(&self) -> BTreeMap<String, String> {
        let emergency = &self.fixture.emergency;
        let mut env = self.aws_env();
        env.extend(
            [
                ("EMERGENCY_TABLE", emergency.table_name.clone()),
                ("EMERGENCY_LOCATIONS", emergency.locations.join(",")),
                ("EMERGENCY_TYPES", emergency.types.join(",")),
                ("PINPOINT_APPLICATION_ID", self.fixture.pinpoint.application_id.clone()),
                ("SMS_SENDER_ID", emergency.sms_sender_id.clone()),
                ("PIN_PEPPER", format!("secretsmanager:{PIN_PEPPER_SECRET}")),
                ("VIDEO_TABLE", self.fixture.video.table_name.clone()),
                ("CHIME_MEDIA_REGION", self.fixture.region.clone()),
                ("CHAT_CONTACT_FLOW_IDS", self.fixture.connect.video_chat_flow_id().to_owned()),
                ("ALLOW_CLIENT_AGENT_ROUTING", "false".to_owned()),
                ("CONNECT_INSTANCE_ID", self.fixture.connect.instance_id.clone()),
                ("COGNITO_USER_POOL_ID", self.user_pool.pool_id.clone()),
                ("CCP_LOGIN_ROLE_ARN", self.fixture.video.ccp_login_role_arn.clone()),
                ("IDENTITY_TABLE", self.fixture.identity.table_name.clone()),
                ("ID_CONTACT_PHONE_NUMBER", self.fixture.identity.phone_number.clone()),
                ("ID_CONTACT_BASE_URL", format!("http://{}", self.gateway_addr)),
                (
                    "RESULT_DECRYPTION_KEYS",
                    format!("secretsmanager:{}result-decryption", self.fixture.identity.key_prefix),
                ),
                ("RESULT_VERIFICATION_KEYS", format!("ssm:/{}plugin-signing", self.fixture.identity.key_prefix)),
                ("DESKTOP_ASSETS_DIR", self.desktop_assets_root().join(desktop::ASSETS_SITE_DIR).display().to_string()),
                ("FLOWS_TABLE", FLOWS_TABLE.to_owned()),
                // Locally the bundle is the working tree's contact-flows/ (in Lambda, the layer at /opt),
                // and the emulator does not throttle: no pause between writes.
                ("FLOW_BUNDLE_DIR", crate::repo_root().join("contact-flows").display().to_string()),
                ("FLOW_WRITE_PAUSE_MS", "0".to_owned()),
                ("STACK_NAME", LOCAL_STACK_NAME.to_owned()),
                ("WEBHOOK_SECRET", format!("secretsmanager:{WEBHOOK_SECRET}")),
                ("PIPELINE_NAME_PREFIX", "switchboard-".to_owned()),
                ("RUST_LOG", "info".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
        );
        env.extend(self.recording_env());
        env
    }

    /// An SDK config for moto (tests and seeding). Services moto lacks get their endpoint per client.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.fixture.region.clone()))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "switchboard-local"))
            .endpoint_url(self.moto.endpoint())
            .load()
            .await
    }

    pub fn fleet(&self) -> Option<&LambdaHost> {
        self.fleet.as_ref()
    }

    /// Creates the tables as the template declares them and seeds the fixture's data.
    async fn seed(&self) -> Result<(), CloudError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(&self.sdk_config().await);
        let table = &self.fixture.emergency.table_name;
        create_pk_sk_table(&dynamodb, table).await?;
        create_pk_sk_table(&dynamodb, &self.fixture.video.table_name).await?;
        create_pk_sk_table(&dynamodb, &self.fixture.identity.table_name).await?;
        create_pk_sk_table(&dynamodb, FLOWS_TABLE).await?;
        self.seed_identity_keys().await?;
        self.seed_pin_pepper().await?;
        self.seed_pipelines().await?;
        for admin in &self.fixture.emergency.admins {
            put_admin(&dynamodb, table, admin).await?;
        }
        Ok(())
    }
}

/// Adds (or replaces) an emergency admin on the allow-list in `table`.
pub async fn put_admin(dynamodb: &aws_sdk_dynamodb::Client, table: &str, admin: &Admin) -> Result<(), CloudError> {
    dynamodb
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(format!("ADMIN#{}", admin.phone)))
        .item("sk", AttributeValue::S("ADMIN".into()))
        .item("name", AttributeValue::S(admin.name.clone()))
        .item("enabled", AttributeValue::Bool(admin.enabled))
        .send()
        .await
        .map_err(|e| seed_error("admin", e))?;
    Ok(())
}

impl LocalCloud {
    /// The agents' user pool and app client, as the template declares them, with the fixture's agents
    /// (email as username, permanent passwords).
    async fn seed_user_pool(&self) -> Result<UserPool, CloudError> {
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&self.sdk_config().await);
        let fixture = &self.fixture.cognito;
        let constraints = StringAttributeConstraintsType::builder().min_length("36").max_length("36").build();
        let pool = cognito
            .create_user_pool()
            .pool_name(&fixture.user_pool_name)
            .username_attributes(UsernameAttributeType::Email)
            .auto_verified_attributes(VerifiedAttributeType::Email)
            .schema(
                SchemaAttributeType::builder()
                    .name("connectUserId")
                    .attribute_data_type(AttributeDataType::String)
                    .mutable(true)
                    .string_attribute_constraints(constraints)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| seed_error("user pool", e))?;
        let pool_id = pool.user_pool().and_then(|p| p.id()).unwrap_or_default().to_owned();
        let mut client = cognito
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name(&fixture.client_name)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth);
        for attribute in CLIENT_READ_ATTRIBUTES {
            client = client.read_attributes(*attribute);
        }
        for attribute in CLIENT_WRITE_ATTRIBUTES {
            client = client.write_attributes(*attribute);
        }
        let client = client.send().await.map_err(|e| seed_error("user pool client", e))?;
        let client_id = client.user_pool_client().and_then(|c| c.client_id()).unwrap_or_default().to_owned();
        let desktop_client_id = self.seed_desktop_client(&cognito, &pool_id).await?;
        for agent in &fixture.agents {
            let email = AttributeType::builder()
                .name("email")
                .value(&agent.email)
                .build()
                .map_err(|e| seed_error("agent", e))?;
            let verified = AttributeType::builder()
                .name("email_verified")
                .value("true")
                .build()
                .map_err(|e| seed_error("agent", e))?;
            cognito
                .admin_create_user()
                .user_pool_id(&pool_id)
                .username(&agent.email)
                .user_attributes(email)
                .user_attributes(verified)
                .message_action(MessageActionType::Suppress)
                .send()
                .await
                .map_err(|e| seed_error("agent", e))?;
            cognito
                .admin_set_user_password()
                .user_pool_id(&pool_id)
                .username(&agent.email)
                .password(&agent.password)
                .permanent(true)
                .send()
                .await
                .map_err(|e| seed_error("agent password", e))?;
        }
        Ok(UserPool { pool_id, client_id, desktop_client_id })
    }

    /// The desktop's public client, and the user pool domain that serves its managed login: created
    /// through the emulator's Cognito front, which thereby becomes that domain.
    async fn seed_desktop_client(
        &self,
        cognito: &aws_sdk_cognitoidentityprovider::Client,
        pool_id: &str,
    ) -> Result<String, CloudError> {
        let fixture = &self.fixture.cognito;
        let units = TokenValidityUnitsType::builder()
            .id_token(TimeUnitsType::Hours)
            .access_token(TimeUnitsType::Hours)
            .refresh_token(TimeUnitsType::Hours)
            .build();
        let mut client = cognito
            .create_user_pool_client()
            .user_pool_id(pool_id)
            .client_name(&fixture.desktop_client_name)
            .generate_secret(false)
            .allowed_o_auth_flows_user_pool_client(true)
            .allowed_o_auth_flows(OAuthFlowType::Code)
            .supported_identity_providers("COGNITO")
            .callback_urls(format!("http://{}/agent.html", self.desktop_addr))
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .id_token_validity(DESKTOP_ID_TOKEN_HOURS)
            .access_token_validity(DESKTOP_ID_TOKEN_HOURS)
            .refresh_token_validity(DESKTOP_REFRESH_TOKEN_HOURS)
            .token_validity_units(units);
        for scope in DESKTOP_CLIENT_SCOPES {
            client = client.allowed_o_auth_scopes(*scope);
        }
        for attribute in CLIENT_READ_ATTRIBUTES {
            client = client.read_attributes(*attribute);
        }
        for attribute in CLIENT_WRITE_ATTRIBUTES {
            client = client.write_attributes(*attribute);
        }
        let client = client.send().await.map_err(|e| seed_error("desktop user pool client", e))?;
        let client_id = client.user_pool_client().and_then(|c| c.client_id()).unwrap_or_default().to_owned();

        let front = aws_sdk_cognitoidentityprovider::Client::from_conf(
            aws_sdk_cognitoidentityprovider::config::Builder::from(&self.sdk_config().await)
                .endpoint_url(self.emulator.endpoint())
                .build(),
        );
        front
            .create_user_pool_domain()
            .user_pool_id(pool_id)
            .domain(&fixture.domain_prefix)
            .send()
            .await
            .map_err(|e| seed_error("user pool domain", e))?;
        Ok(client_id)
    }

    /// The ID Contact keys from `local/keys/`: our private decryption keys as Secrets Manager
    /// secrets, the plugin's public signing keys as SSM SecureString parameters.
    async fn seed_identity_keys(&self) -> Result<(), CloudError> {
        let sdk = self.sdk_config().await;
        let prefix = &self.fixture.identity.key_prefix;
        let key = |name: &str| {
            let path = crate::repo_root().join("local/keys").join(name);
            std::fs::read_to_string(&path)
                .map_err(|e| CloudError::Seed { what: path.display().to_string(), detail: e.to_string() })
        };
        // One secret holds both of our private keys and one parameter both plugin keys (PEM
        // bundles): each reference is a round trip in the functions' cold start.
        let bundle =
            |names: [&str; 2]| -> Result<String, CloudError> { Ok(format!("{}{}", key(names[0])?, key(names[1])?)) };
        aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(format!("{prefix}result-decryption"))
            .secret_string(bundle(["result-decryption-rsa.pem", "result-decryption-ec.pem"])?)
            .send()
            .await
            .map_err(|e| seed_error("key secret", e))?;
        aws_sdk_ssm::Client::new(&sdk)
            .put_parameter()
            .name(format!("/{prefix}plugin-signing"))
            .value(bundle(["plugin-signing-rsa.pub.pem", "plugin-signing-ec.pub.pem"])?)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .map_err(|e| seed_error("key parameter", e))?;
        Ok(())
    }

    /// A fresh random pepper per local cloud, as the stack generates one per deploy.
    async fn seed_pin_pepper(&self) -> Result<(), CloudError> {
        let pepper = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        aws_sdk_secretsmanager::Client::new(&self.sdk_config().await)
            .create_secret()
            .name(PIN_PEPPER_SECRET)
            .secret_string(pepper)
            .send()
            .await
            .map_err(|e| seed_error("PIN pepper secret", e))?;
        Ok(())
    }

    /// The webhook's secret and the pipelines it starts (a role for them first: moto's CodePipeline
    /// checks that the pipeline's role exists).
    async fn seed_pipelines(&self) -> Result<(), CloudError> {
        use aws_sdk_codepipeline::types::{
            ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType,
            OutputArtifact, PipelineDeclaration, StageDeclaration,
        };
        let sdk = self.sdk_config().await;
        aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(WEBHOOK_SECRET)
            .secret_string(LOCAL_WEBHOOK_SECRET_VALUE)
            .send()
            .await
            .map_err(|e| seed_error("webhook secret", e))?;
        let role = "switchboard-pipelines";
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codepipeline.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let form = serde_urlencoded::to_string([
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", role),
            ("AssumeRolePolicyDocument", trust),
        ])
        .map_err(|e| seed_error("pipeline role", e))?;
        self.moto_query("iam", "us-east-1", "pipeline role", form).await?;
        let role_arn = format!("arn:aws:iam::{}:role/{role}", self.fixture.account_id);
        let codepipeline = aws_sdk_codepipeline::Client::new(&sdk);
        let build = |e: aws_sdk_codepipeline::error::BuildError| seed_error("pipeline", e);
        for name in LOCAL_PIPELINES {
            let source = ActionDeclaration::builder()
                .name("Source")
                .action_type_id(
                    ActionTypeId::builder()
                        .category(ActionCategory::Source)
                        .owner(ActionOwner::Aws)
                        .provider("S3")
                        .version("1")
                        .build()
                        .map_err(build)?,
                )
                .configuration("S3Bucket", "switchboard-local-source")
                .configuration("S3ObjectKey", "source.zip")
                .output_artifacts(OutputArtifact::builder().name("Source").build().map_err(build)?)
                .build()
                .map_err(build)?;
            let approval = ActionDeclaration::builder()
                .name("Approve")
                .action_type_id(
                    ActionTypeId::builder()
                        .category(ActionCategory::Approval)
                        .owner(ActionOwner::Aws)
                        .provider("Manual")
                        .version("1")
                        .build()
                        .map_err(build)?,
                )
                .build()
                .map_err(build)?;
            let pipeline = PipelineDeclaration::builder()
                .name(*name)
                .role_arn(&role_arn)
                .artifact_store(
                    ArtifactStore::builder()
                        .r#type(ArtifactStoreType::S3)
                        .location("switchboard-local-artifacts")
                        .build()
                        .map_err(build)?,
                )
                .stages(StageDeclaration::builder().name("Source").actions(source).build().map_err(build)?)
                .stages(StageDeclaration::builder().name("Approve").actions(approval).build().map_err(build)?)
                .build()
                .map_err(build)?;
            codepipeline
                .create_pipeline()
                .pipeline(pipeline)
                .send()
                .await
                .map_err(|e| seed_error(&format!("pipeline {name}"), e))?;
        }
        Ok(())
    }

    /// Sends a query-protocol call (a form of `Action` and its parameters) to moto's `service` in
    /// `region`, for the few calls no SDK crate of the project makes; the answer's XML when it succeeded.
    pub(crate) async fn moto_query(
        &self,
        service: &str,
        region: &str,
        what: &str,
        form: String,
    ) -> Result<String, CloudError> {
        // moto routes a request by the service in its credential scope and does not check signatures.
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let answer = reqwest::Client::new()
            .post(format!("{}/", self.moto.endpoint()))
            .header("authorization", authorization)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| seed_error(what, e))?;
        let status = answer.status();
        let text = answer.text().await.map_err(|e| seed_error(what, e))?;
        if !status.is_success() {
            return Err(CloudError::Seed { what: what.into(), detail: format!("{service} answered {status}") });
        }
        Ok(text)
    }

    /// Registers a contact for Connect `DescribeContact` (a call that reached `agent_id`).
    pub async fn connect_contact(
        &self,
        contact_id: &str,
        initial_contact_id: &str,
        agent_id: Option<&str>,
    ) -> Result<(), CloudError> {
        let contact = crate::emulator::LocalContact {
            contact_id: contact_id.to_owned(),
            initial_contact_id: initial_contact_id.to_owned(),
            agent_id: agent_id.map(str::to_owned),
        };
        reqwest::Client::new()
            .post(format!("{}/_local/contacts", self.emulator.endpoint()))
            .json(&contact)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| CloudError::Seed { what: "contact".into(), detail: e.to_string() })?;
        Ok(())
    }

    /// Registers a phone number for Pinpoint `PhoneNumberValidate` and `SendMessages`.
    pub async fn pinpoint_number(&self, number: &LocalNumber) -> Result<(), CloudError> {
        reqwest::Client::new()
            .post(format!("{}/_local/numbers", self.emulator.endpoint()))
            .json(number)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| CloudError::Seed { what: "phone number".into(), detail: e.to_string() })?;
        Ok(())
    }

    /// Signs an agent in as the agent-app does (through the emulator's Cognito front); the ID token.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<String, CloudError> {
        let sdk = self.sdk_config().await;
        let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
            aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk).endpoint_url(self.emulator.endpoint()).build(),
        );
        let answer = cognito
            .initiate_auth()
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .client_id(&self.user_pool.client_id)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(|e| seed_error("sign-in", e))?;
        answer
            .authentication_result()
            .and_then(|r| r.id_token())
            .map(str::to_owned)
            .ok_or_else(|| CloudError::Seed { what: "sign-in".into(), detail: "no ID token".into() })
    }
}

pub(crate) fn seed_error(what: &str, error: impl std::error::Error + 'static) -> CloudError {
    CloudError::Seed { what: what.to_owned(), detail: error_chain(&error) }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// A table keyed `pk`/`sk` (strings), on demand, TTL on `ttl`: the layout every Switchboard table uses.
pub async fn create_pk_sk_table(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), CloudError> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| seed_error(table, e))
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(|e| seed_error(table, e))
    };
    dynamodb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await
        .map_err(|e| seed_error(table, e))?;
    dynamodb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("ttl")
                .enabled(true)
                .build()
                .map_err(|e| seed_error(table, e))?,
        )
        .send()
        .await
        .map_err(|e| seed_error(table, e))?;
    Ok(())
}

/// An override (`<function>/LOCAL_TIMEOUT_SECONDS`) that sets how long the lambda host lets that
/// function run, in seconds, in place of [`function_timeout`]: what a test of the timeout path sets.
pub const TIMEOUT_OVERRIDE: &str = "LOCAL_TIMEOUT_SECONDS";

/// How long the local host lets `function` run: the template's timeout for the custom-resource
/// function (FunctionTimeouts: PublishDesktop), Connect's limit for every other.
pub fn function_timeout(function: &str) -> Duration {
    match function {
        desktop::PUBLISH_FUNCTION => Duration::from_secs(120),
        // It waits up to a minute for another deployment's lock (FunctionTimeouts: ProvisionFlows).
        PROVISION_FLOWS_FUNCTION => Duration::from_secs(120),
        // FunctionTimeouts: start-recording leaves the last 12 s of its 28 to its undo.
        "start-recording" => Duration::from_secs(28),
        "stop-recording" | "get-recording-summary" => Duration::from_secs(15),
        "stop-recording-on-meeting-end" | "prewarm-recording-task" => Duration::from_secs(60),
        _ => FUNCTION_TIMEOUT,
    }
}

/// A function's ARN in the local account, as a `ServiceToken` names it.
fn fleet_function_arn(fixture: &Fixture, function: &str) -> String {
    format!("arn:aws:lambda:{}:{}:function:{function}", fixture.region, fixture.account_id)
}

/// A CloudFormation custom-resource request, as CloudFormation sends it.
#[allow(clippy::too_many_arguments)]
pub fn custom_resource_event(
    request_type: &str,
    logical_id: &str,
    request_id: &str,
    response_url: &str,
    fixture: &Fixture,
    service_token: &str,
    mut properties: serde_json::Value,
    physical_id: Option<(&str, serde_json::Value)>,
) -> serde_json::Value {
    properties["ServiceToken"] = serde_json::Value::String(service_token.to_owned());
    let mut event = serde_json::json!({
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": response_url,
        "StackId": format!("arn:aws:cloudformation:{}:{}:stack/switchboard-local/{}", fixture.region, fixture.account_id, fixture.account_id),
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": format!("Custom::{logical_id}"),
        "ResourceProperties": properties,
    });
    if let Some((physical_id, old_properties)) = physical_id {
        event["PhysicalResourceId"] = serde_json::Value::String(physical_id.to_owned());
        if request_type == "Update" {
            event["OldResourceProperties"] = old_properties;
        }
    }
    event
}

pub fn function_names() -> Result<Vec<String>, CloudError> {
    let dir = crate::repo_root().join("functions");
    let entries =
        std::fs::read_dir(&dir).map_err(|source| CloudError::Functions { path: dir.display().to_string(), source })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// A function's sample events, `events/<function>/*.json`, sorted by name.
pub fn sample_events(function: &str) -> Vec<PathBuf> {
    let dir = crate::repo_root().join("events").join(function);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Where `cargo build` put the debug binaries: `SWITCHBOARD_BIN_DIR`, else `$CARGO_TARGET_DIR/debug`,
/// else `<repo>/target/debug`.
pub fn debug_binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_BIN_DIR") {
        return dir.into();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"))
        .join("debug")
}

#[cfg(test)]
mod tests {
    use super::{parse_origins, DEFAULT_CORS_ORIGINS};

    #[test]
    fn cors_origins_are_a_comma_separated_list() {
        assert_eq!(parse_origins(DEFAULT_CORS_ORIGINS), ["http://localhost:3000", "http://127.0.0.1:3000"]);
        assert_eq!(
            parse_origins(" https://a.example , ,https://b.example"),
            ["https://a.example", "https://b.example"]
        );
        assert!(parse_origins("").is_empty(), "an empty list allows no origin");
    }
}
