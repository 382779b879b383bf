//! `.local/cloud.json`: what `switchboard-local up` writes so that the other commands (`call`,
//! `invoke`, `outbox`, `sign-in`) find the running local cloud.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

use crate::cloud::LocalCloud;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloudFile {
    pub lambda_endpoint: String,
    #[serde(default)]
    pub gateway_endpoint: Option<String>,
    pub emulator_endpoint: String,
    pub moto_endpoint: String,
    pub instance_arn: String,
    pub queues: BTreeMap<String, String>,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub user_pool_client_id: String,
    /// The environment the fleet's functions were started with: `invoke` runs a function in it, so
    /// one function run on its own sees exactly what it sees in the fleet.
    #[serde(default)]
    pub function_env: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CloudFileError {
    #[error("{0} not found: start the local cloud first (`make dev`)")]
    NotFound(String),
    #[error("{path}: {detail}")]
    Unreadable { path: String, detail: String },
}

impl CloudFile {
    /// What `cloud`, with its functions served at `lambda_endpoint`, is.
    pub fn describe(cloud: &LocalCloud, lambda_endpoint: String) -> Self {
        Self {
            lambda_endpoint,
            gateway_endpoint: cloud.gateway.as_ref().map(|g| g.endpoint()),
            emulator_endpoint: cloud.emulator.endpoint(),
            moto_endpoint: cloud.moto.endpoint(),
            instance_arn: cloud.fixture.instance_arn(),
            queues: cloud.fixture.connect.queues.clone(),
            region: cloud.fixture.region.clone(),
            account_id: cloud.fixture.account_id.clone(),
            user_pool_client_id: cloud.user_pool.client_id.clone(),
            function_env: cloud.function_env(),
        }
    }

    /// `SWITCHBOARD_CLOUD_FILE`, else `<repo>/.local/cloud.json`. (Tests point it elsewhere so that a
    /// developer's running `make dev` does not leak into them.)
    pub fn path() -> PathBuf {
        std::env::var_os("SWITCHBOARD_CLOUD_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::repo_root().join(".local/cloud.json"))
    }

    pub fn read() -> Result<Self, CloudFileError> {
        let path = Self::path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CloudFileError::NotFound(path.display().to_string()))
            }
            Err(e) => {
                return Err(CloudFileError::Unreadable { path: path.display().to_string(), detail: e.to_string() })
            }
        };
        serde_json::from_str(&text).map_err(|e| CloudFileError::Unreadable {
            path: path.display().to_string(),
            detail: format!("malformed: {e}"),
        })
    }

    pub fn write(&self) -> std::io::Result<()> {
        let path = Self::path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    pub fn remove() {
        let _ = std::fs::remove_file(Self::path());
    }

    /// Whether moto and the emulator still accept connections: a cloud stopped without clean-up
    /// (a `kill -9`) leaves its file behind.
    pub async fn is_live(&self) -> bool {
        for endpoint in [&self.moto_endpoint, &self.emulator_endpoint] {
            let addr = endpoint.strip_prefix("http://").and_then(|a| a.parse::<SocketAddr>().ok());
            let Some(addr) = addr else {
                return false;
            };
            if !crate::net::wait_for_listener(addr, Duration::from_millis(500)).await {
                return false;
            }
        }
        true
    }
}
