//! moto's server as a child process on a loopback port it binds itself, stopped by process id when dropped.

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("moto_server is not installed at {0}; run `make setup` (it installs tools/requirements.txt into .venv)")]
    NotInstalled(String),
    #[error("could not start moto_server: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("moto_server did not announce its port, or did not answer on it (port {0}), within 30 s")]
    NotReady(u16),
}

pub struct Moto {
    pub port: u16,
    child: Child,
}

impl Moto {
    /// The Python of the project's `.venv` (or `SWITCHBOARD_VENV`), which has moto installed.
    pub fn python() -> PathBuf {
        let venv =
            std::env::var_os("SWITCHBOARD_VENV").map(PathBuf::from).unwrap_or_else(|| crate::repo_root().join(".venv"));
        venv.join("bin/python")
    }

    /// `tools/moto_server.py`: moto's server with TransactWriteItems idempotent on its
    /// `ClientRequestToken`, as DynamoDB is (the SDKs keep the token across retries, so a retry of a
    /// transaction moto had already applied succeeds, as in AWS, instead of failing its conditions).
    pub fn launcher() -> PathBuf {
        crate::repo_root().join("tools/moto_server.py")
    }

    /// Starts moto on a port it binds itself (`-p 0`) and reports on stderr ("Running on
    /// http://127.0.0.1:<port>"). Picking a free port first and handing it to moto would leave a
    /// window in which another process (a parallel test's moto) binds it, and moto's own readiness
    /// answer would then come from that other server.
    pub async fn start() -> Result<Self, MotoError> {
        Self::start_recording(None).await
    }

    /// As [`Moto::start`], with moto's recorder writing every request it serves to `record`
    /// (one JSON line each; see [`crate::call_log`]).
    pub async fn start_recording(record: Option<std::path::PathBuf>) -> Result<Self, MotoError> {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let (python, launcher) = (Self::python(), Self::launcher());
        // moto installed in the venv (its console script stands for the package), and our launcher.
        for required in [python.with_file_name("moto_server"), launcher.clone()] {
            if !required.exists() {
                return Err(MotoError::NotInstalled(required.display().to_string()));
            }
        }
        let mut command = Command::new(&python);
        command.arg(launcher);
        if let Some(path) = record {
            command.env("MOTO_ENABLE_RECORDING", "True").env("MOTO_RECORDER_FILEPATH", path);
        }
        let mut child = command
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stderr = child.stderr.take().ok_or_else(|| std::io::Error::other("moto_server's stderr"))?;
        let mut lines = BufReader::new(stderr).lines();
        let announced = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                let port = line
                    .split("http://127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.trim().trim_end_matches('/').parse::<u16>().ok());
                if port.is_some() {
                    return port;
                }
            }
            None
        })
        .await;
        let Ok(Some(port)) = announced else { return Err(MotoError::NotReady(0)) };
        // moto logs every request on stderr: keep reading it, or a full pipe would stall moto.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().map_err(std::io::Error::other)?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            let url = format!("http://127.0.0.1:{port}/moto-api/data.json");
            if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(Self { port, child });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
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
