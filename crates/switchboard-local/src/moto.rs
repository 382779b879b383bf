//! moto's server as a child process on a free loopback port, stopped by process id when dropped.

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("moto_server is not installed at {0}; run `make setup` (it installs tools/requirements.txt into .venv)")]
    NotInstalled(String),
    #[error("could not start moto_server: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("moto_server did not accept connections on port {0} within 30 s")]
    NotReady(u16),
}

pub struct Moto {
    pub port: u16,
    child: Child,
}

impl Moto {
    /// The `moto_server` from the project's `.venv` (or `SWITCHBOARD_VENV`).
    pub fn binary() -> PathBuf {
        let venv =
            std::env::var_os("SWITCHBOARD_VENV").map(PathBuf::from).unwrap_or_else(|| crate::repo_root().join(".venv"));
        venv.join("bin/moto_server")
    }

    pub async fn start() -> Result<Self, MotoError> {
        let binary = Self::binary();
        if !binary.exists() {
            return Err(MotoError::NotInstalled(binary.display().to_string()));
        }
        let port = crate::net::free_port()?;
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let moto = Self { port, child };
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if !crate::net::wait_for_listener(addr, Duration::from_secs(30)).await {
            return Err(MotoError::NotReady(port));
        }
        Ok(moto)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}
