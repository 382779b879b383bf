//! Starts, seeds and stops the local cloud: moto, the emulator and (optionally) the fleet.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::{
    config::Credentials,
    types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
        ScalarAttributeType, TimeToLiveSpecification,
    },
};

use crate::{
    emulator::{self, EmulatorHandle},
    fixture::Fixture,
    lambda_host::{FunctionSpec, HostError, LambdaHost},
    moto::{Moto, MotoError},
};

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
    Functions {
        path: String,
        source: std::io::Error,
    },
}

/// The running local cloud. Dropping it stops everything it started.
pub struct LocalCloud {
    pub fixture: Fixture,
    pub moto: Moto,
    pub emulator: EmulatorHandle,
    pub fleet: Option<LambdaHost>,
}

impl LocalCloud {
    /// moto and the emulator, with the tables created and seeded; no functions.
    pub async fn services(fixture: Fixture) -> Result<Self, CloudError> {
        let moto = Moto::start().await?;
        let emulator = emulator::start(fixture.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .map_err(CloudError::Emulator)?;
        let cloud = Self {
            fixture,
            moto,
            emulator,
            fleet: None,
        };
        cloud.seed().await?;
        Ok(cloud)
    }

    /// Services plus every function in `functions/`, run from `binaries` with the fleet environment
    /// and `overrides` on top (e.g. a shorter PIN expiry for one test).
    pub async fn with_fleet(
        fixture: Fixture,
        binaries: PathBuf,
        overrides: BTreeMap<String, String>,
    ) -> Result<Self, CloudError> {
        let mut cloud = Self::services(fixture).await?;
        let mut env = cloud.function_env();
        env.extend(overrides);
        let specs = function_names()?
            .into_iter()
            .map(|name| FunctionSpec {
                binary: binaries.join(&name),
                name,
                env: env.clone(),
                timeout: Duration::from_secs(8),
            })
            .collect();
        cloud.fleet =
            Some(LambdaHost::start(specs, &cloud.fixture.region, &cloud.fixture.account_id).await?);
        Ok(cloud)
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
                (
                    "PINPOINT_APPLICATION_ID",
                    self.fixture.pinpoint.application_id.clone(),
                ),
                ("SMS_SENDER_ID", emergency.sms_sender_id.clone()),
                ("RUST_LOG", "info".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
        );
        env
    }

    /// An SDK config for moto (tests and seeding). Services moto lacks get their endpoint per client.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.fixture.region.clone()))
            .credentials_provider(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "switchboard-local",
            ))
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
        for admin in &self.fixture.emergency.admins {
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
        }
        Ok(())
    }
}

fn seed_error(what: &str, error: impl std::error::Error + 'static) -> CloudError {
    CloudError::Seed {
        what: what.to_owned(),
        detail: error_chain(&error),
    }
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
pub async fn create_pk_sk_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), CloudError> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| seed_error(table, e))
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| seed_error(table, e))
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

/// Every function crate in `functions/` (the directory name is the binary name).
pub fn function_names() -> Result<Vec<String>, CloudError> {
    let dir = crate::repo_root().join("functions");
    let entries = std::fs::read_dir(&dir).map_err(|source| CloudError::Functions {
        path: dir.display().to_string(),
        source,
    })?;
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
