//! Starts, seeds and stops the local cloud: moto, the emulator and (optionally) the fleet.

//!
//! [`LocalCloud`] is here with what starts it and what tests ask of it; the parts are:
//!
//! - `template`: what template.yaml declares that the local cloud must match (routes, CORS, names).
//! - `functions`: the fleet on disk: function names, sample events, binaries, custom-resource events.
//! - `tables`: the DynamoDB table layout and the admin rows.
//! - `seed`: seeding a fresh cloud (tables, user pool, keys, secrets, pipelines).
//! - `recording`: the recording stack's resources and EventBridge's delivery of its events.
//! - `error`: [`CloudError`].

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use aws_sdk_dynamodb::config::Credentials;

use crate::{
    call_log::{function_access_key, CallLog, RequestRecorder},
    desktop::{self, DesktopError, DesktopOptions, DesktopSite},
    emulator::{self, EmulatorHandle, LocalNumber},
    fixture::Fixture,
    gateway::{self, GatewayHandle, JwtAuthorizer},
    lambda_host::{FunctionSpec, InvokeClient, LambdaHost},
    moto::Moto,
};

mod bindings;
mod error;
mod functions;
mod recording;
mod seed;
mod tables;
mod template;

pub(crate) use error::seed_error;
pub use error::CloudError;
use functions::fleet_function_arn;
pub use functions::{custom_resource_event, debug_binaries, function_names, sample_events};
pub use tables::{create_pk_sk_table, put_admin};
pub use template::*;

/// The agents' user pool in moto.
#[derive(Debug, Clone)]
pub struct UserPool {
    pub pool_id: String,
    pub client_id: String,
    /// The agent desktop's public client (managed login); its callback is the local site's `agent.html`.
    pub desktop_client_id: String,
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
    /// Where this cloud's requests are recorded, if anywhere.
    call_log: Option<CallLog>,
    /// The functions whose access keys the call log names.
    functions_in_call_log: Vec<String>,
}

impl LocalCloud {
    /// moto and the emulator, with the tables created and seeded; no functions.
    pub async fn services(fixture: Fixture) -> Result<Self, CloudError> {
        // Every request moto and the emulator serve is recorded when SWITCHBOARD_CALL_LOG is set.
        let call_log = CallLog::from_env().map_err(CloudError::Emulator)?;
        let moto = Moto::start_recording(call_log.as_ref().map(CallLog::moto_file)).await?;
        let recorder = match &call_log {
            Some(log) => Some(RequestRecorder::create(&log.emulator_file()).map_err(CloudError::Emulator)?),
            None => None,
        };
        let emulator =
            emulator::start_recording(fixture.clone(), ([127, 0, 0, 1], 0).into(), Some(moto.endpoint()), recorder)
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
            call_log,
            functions_in_call_log: Vec::new(),
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
                // Each function signs as itself, as with its own role in AWS: the call log names it.
                env.insert("AWS_ACCESS_KEY_ID".to_owned(), function_access_key(&name));
                FunctionSpec { binary: binaries.join(&name), timeout, name, env }
            })
            .collect::<Vec<_>>();
        let names: Vec<String> = specs.iter().map(|spec| spec.name.clone()).collect();
        let fleet = LambdaHost::start(specs, &cloud.fixture.region, &cloud.fixture.account_id).await?;
        cloud.start_gateway(fleet.endpoint()).await?;
        cloud.start_event_delivery(fleet.endpoint());
        cloud.fleet = Some(fleet);
        cloud.functions_in_call_log = names;
        cloud.write_call_log_cloud().await?;
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
        // The distribution is a resource the policies name: written again with it.
        self.write_call_log_cloud().await
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
                // The template's bots by the names flows give them (its ContactFlows' `Bots`).
                ("FLOW_BOTS", self.fixture.connect.declared.flow_bots()),
                // And its numbers (ContactFlows' `PhoneNumbers`), by the local instance's number ARNs.
                ("FLOW_PHONE_NUMBERS", self.fixture.flow_phone_numbers()),
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
