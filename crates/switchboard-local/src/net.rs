//! Loopback ports and readiness waits.

use std::{net::SocketAddr, time::Duration};

/// A free port on 127.0.0.1 for a child process to bind. (Our own servers bind port 0 directly.)
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until something accepts TCP connections at `addr`, or `limit` passes.
pub async fn wait_for_listener(addr: SocketAddr, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
