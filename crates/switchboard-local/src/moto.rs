//! moto's server as a child process on a free loopback port, stopped by process id when dropped.

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("moto_server is not installed at {0}; run `make setup` (it installs tools/requirements.txt into .venv)")]
    NotInstalled(String),
    #[error("could not start moto_server: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("moto_server did not answer on port {0} within 30 s (three ports tried)")]
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

    /// Starts moto on a free port. The port is free when picked but not reserved: another process
    /// (a parallel test's server) may bind it before moto does, moto then exits, and a plain TCP
    /// check would mistake the other listener for moto. So readiness is moto's own answer, and a
    /// moto that exited is started again on another port.
    pub async fn start() -> Result<Self, MotoError> {
        let binary = Self::binary();
        if !binary.exists() {
            return Err(MotoError::NotInstalled(binary.display().to_string()));
        }
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().map_err(std::io::Error::other)?;
        let mut port = 0;
        for _ in 0..3 {
            port = crate::net::free_port()?;
            let mut child = Command::new(&binary)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while tokio::time::Instant::now() < deadline {
                if child.try_wait()?.is_some() {
                    break; // it could not bind the port: try another
                }
                // Answered by moto's own API, not by whatever else may hold the port.
                let url = format!("http://127.0.0.1:{port}/moto-api/data.json");
                if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
                    return Ok(Self { port, child });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Err(MotoError::NotReady(port))
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}
