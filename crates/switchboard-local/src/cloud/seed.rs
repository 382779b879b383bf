//! Seeding a fresh local cloud as the stack's deploy leaves the account: tables, the admin
//! allow-list, user pool and clients, keys, the PIN pepper, the webhook's secret and pipelines.

use aws_sdk_cognitoidentityprovider::types::{
    AttributeDataType, AttributeType, ExplicitAuthFlowsType, MessageActionType, OAuthFlowType, SchemaAttributeType,
    StringAttributeConstraintsType, TimeUnitsType, TokenValidityUnitsType, UsernameAttributeType,
    VerifiedAttributeType,
};

use super::{
    error::{seed_error, CloudError},
    tables::{create_pk_sk_table, put_admin},
    template::{
        CLIENT_READ_ATTRIBUTES, CLIENT_WRITE_ATTRIBUTES, DESKTOP_CLIENT_SCOPES, DESKTOP_ID_TOKEN_HOURS,
        DESKTOP_REFRESH_TOKEN_HOURS, FLOWS_TABLE, LOCAL_PIPELINES, LOCAL_WEBHOOK_SECRET_VALUE, PIN_PEPPER_SECRET,
        WEBHOOK_SECRET,
    },
    LocalCloud, UserPool,
};

impl LocalCloud {
    /// Creates the tables as the template declares them and seeds the fixture's data.
    pub(super) async fn seed(&self) -> Result<(), CloudError> {
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

    /// The agents' user pool and app client, as the template declares them, with the fixture's agents
    /// (email as username, permanent passwords).
    pub(super) async fn seed_user_pool(&self) -> Result<UserPool, CloudError> {
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
}
