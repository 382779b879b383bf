//! `flow-resource-map` (Connect): the instance's resource names → ARNs, for flows written the CI/CD
//! workshop's way (`$.External.<Name>` instead of a resolved ARN; the workshop's `<<ARNREPLACE>>`
//! Lambda is this function).
//!
//! Input: optional `Parameters.prefix` (entries whose name starts with it) or `Parameters.names`
//! (comma-separated). Output: the entries and `Result=OK`; `NOT_PROVISIONED` before any apply;
//! `TOO_LARGE` when the answer would pass Connect's 32 KB limit on a Lambda's response (filter with
//! `prefix` or `names`). The map is the `MAP#` item `provision-flows` writes on every apply: one
//! `GetItem`, kept 60 s once found (a redeploy's new ARNs reach calls within a minute, and a busy contact
//! centre does not read the table on every call).

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use aws_config::SdkConfig;
use tokio::time::Instant;

use super::provision_flows::instance_id;
use crate::{
    edge::connect::{ContactFlowEvent, FlowFault, FlowResult},
    platform::{
        config::{ConfigError, Settings},
        deadline::{Deadline, DeadlineExceeded},
        store::{self, StoreError},
    },
};

/// How long a read of the map is used.
pub const CACHE_FOR: Duration = Duration::from_secs(60);
/// Connect's limit on a Lambda function's response.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ResourceMapError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Deadline(#[from] DeadlineExceeded),
}

impl FlowFault for ResourceMapError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Store(_) => "StoreError",
            Self::Deadline(e) => e.kind(),
        }
    }
}

type Entries = Option<BTreeMap<String, String>>;

pub struct FlowResourceMap {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    instance_id: String,
    cached: Mutex<Option<(Instant, Entries)>>,
}

impl FlowResourceMap {
    pub fn from_env(sdk: &SdkConfig, settings: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: settings.string("FLOWS_TABLE")?,
            instance_id: instance_id(&settings.string("CONNECT_INSTANCE_ID")?),
            cached: Mutex::new(None),
        })
    }

    pub async fn handle(&self, event: ContactFlowEvent, deadline: Deadline) -> Result<FlowResult, ResourceMapError> {
        let Some(entries) = self.entries(&deadline).await? else {
            return Ok(FlowResult::new("NOT_PROVISIONED"));
        };
        let names: Option<Vec<&str>> =
            event.parameter("names").map(|names| names.split(',').map(str::trim).filter(|n| !n.is_empty()).collect());
        let prefix = event.parameter("prefix").unwrap_or_default();
        let mut result = FlowResult::new("OK");
        let mut bytes = 0;
        for (name, arn) in &entries {
            let wanted = match &names {
                Some(names) => names.contains(&name.as_str()),
                None => name.starts_with(prefix),
            };
            if wanted {
                // Each pair costs its two strings plus JSON's quotes, colon and comma.
                bytes += name.len() + arn.len() + 6;
                result = result.with(name, arn);
            }
        }
        if bytes > MAX_RESPONSE_BYTES {
            return Ok(FlowResult::new("TOO_LARGE").with("Bytes", bytes));
        }
        Ok(result)
    }

    async fn entries(&self, deadline: &Deadline) -> Result<Entries, ResourceMapError> {
        if let Ok(cached) = self.cached.lock() {
            if let Some((_, entries)) = cached.as_ref().filter(|(read_at, _)| read_at.elapsed() < CACHE_FOR) {
                return Ok(entries.clone());
            }
        }
        let key = store::key(format!("MAP#{}", self.instance_id), "MAP");
        // A read kept for a minute, like a secret: the bench counts it in the "secret fetch" column
        // (the marks print only when profiled), which the cold-start budget allows for.
        crate::platform::startup::mark(crate::platform::startup::phase::SECRET_FETCH_START);
        let item = deadline.run("GetItem map", store::get_item(&self.dynamodb, &self.table, key)).await??;
        crate::platform::startup::mark(crate::platform::startup::phase::SECRET_FETCH_DONE);
        let entries = match item {
            None => None,
            Some(item) => {
                let map = item
                    .get("entries")
                    .and_then(|v| v.as_m().ok())
                    .ok_or_else(|| StoreError::malformed("GetItem", "resource map without entries"))?;
                Some(map.iter().filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone()))).collect())
            }
        };
        // Absence is not kept: the first deployment's map serves calls at once.
        if let (Ok(mut cached), Some(_)) = (self.cached.lock(), &entries) {
            *cached = Some((Instant::now(), entries.clone()));
        }
        Ok(entries)
    }
}
