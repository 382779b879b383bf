//! Readiness waits on loopback. (Servers bind port 0 and say which port they got, moto included.)

use std::{net::SocketAddr, time::Duration};

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

/// Hop-by-hop headers (RFC 9110 §7.6.1), which belong to each connection, and the length a relay's
/// own framing sets: a proxy never forwards them (the CloudFront stand-in, the fault proxy, the TLS fronts).
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];
