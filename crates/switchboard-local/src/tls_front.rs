//! HTTPS in front of the local cloud's plain endpoints, as a function meets AWS: a throwaway CA made
//! at start-up, a certificate for `127.0.0.1` and `localhost` signed by it, and a TLS-terminating
//! HTTP/1.1 front per endpoint that relays each request to the plain one.
//!
//! Why fronts rather than moto and the emulator serving TLS themselves: what is measured is the
//! function's side (its handshake, its encryption), which is the same either way, while the harness,
//! the emulator's own clients and the tests keep one plain endpoint each. The fronts relay requests,
//! not bytes: moto's server closes every connection after its answer (HTTP/1.0), which over TLS
//! would charge each request a handshake that AWS's keep-alive endpoints never ask. A function trusts the CA
//! through `SSL_CERT_FILE` (our functions, `platform::tls`) or `NODE_EXTRA_CA_CERTS` (Node.js), as a
//! deployer behind a TLS-inspecting proxy would.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, Uri},
    response::Response,
};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("making the local CA: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("the local TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("the local CA file or a front's port: {0}")]
    Io(#[from] std::io::Error),
    #[error("{variable} is not an http://host:port endpoint: {value}")]
    Endpoint { variable: String, value: String },
}

/// The variables that name an AWS endpoint; each gets a front.
const ENDPOINT_PREFIX: &str = "AWS_ENDPOINT_URL";

/// A CA made for this run, its server certificate, and the fronts started with it (stopped when
/// this is dropped, with the CA file).
pub struct LocalTls {
    ca_file: PathBuf,
    acceptor: TlsAcceptor,
    fronts: Vec<Front>,
    handshakes: Arc<HandshakeTally>,
}

/// The handshakes the fronts completed, and how long they took from the TCP accept to the end of
/// the handshake: the client's share of that (its key exchange, its check of the chain) is what a
/// function's first request to an endpoint pays over plain HTTP.
#[derive(Debug, Default)]
pub struct HandshakeTally {
    count: AtomicU64,
    micros: AtomicU64,
}

impl HandshakeTally {
    /// Handshakes so far, and their summed durations.
    pub fn snapshot(&self) -> (u64, Duration) {
        (self.count.load(Ordering::Relaxed), Duration::from_micros(self.micros.load(Ordering::Relaxed)))
    }

    fn record(&self, took: Duration) {
        self.micros.fetch_add(took.as_micros().try_into().unwrap_or(u64::MAX), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

struct Front {
    upstream: SocketAddr,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl LocalTls {
    /// A fresh CA (ECDSA P-256, as a test CA needs no more) and a server certificate it signs; the
    /// CA's certificate is written to a file in `dir` for the functions to trust.
    pub fn new(dir: &std::path::Path) -> Result<Self, TlsError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "Switchboard local cloud CA (throwaway)");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server_params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        server_params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        let server_cert = server_params.signed_by(&server_key, &issuer)?;

        std::fs::create_dir_all(dir)?;
        let ca_file = dir.join(format!("local-ca-{}.pem", std::process::id()));
        std::fs::write(&ca_file, ca_cert.pem())?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        Ok(Self { ca_file, acceptor, fronts: Vec::new(), handshakes: Arc::default() })
    }

    /// The TLS handshakes the fronts completed, over every front: one per connection a client opened.
    pub fn handshakes(&self) -> Arc<HandshakeTally> {
        self.handshakes.clone()
    }

    /// The PEM file of the CA's certificate.
    pub fn ca_file(&self) -> &std::path::Path {
        &self.ca_file
    }

    /// An HTTPS endpoint relaying to `upstream` (one front per upstream, started on first ask).
    pub async fn front(&mut self, upstream: SocketAddr) -> Result<String, TlsError> {
        if let Some(front) = self.fronts.iter().find(|f| f.upstream == upstream) {
            return Ok(format!("https://{}", front.addr));
        }
        let tcp = TcpListener::bind("127.0.0.1:0").await?;
        let addr = tcp.local_addr()?;
        let listener = TlsListener { tcp, acceptor: self.acceptor.clone(), handshakes: self.handshakes.clone() };
        let to = Upstream { endpoint: format!("http://{upstream}"), http: reqwest::Client::new() };
        let app = axum::Router::new().fallback(relay).with_state(to);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "TLS front stopped");
            }
        });
        self.fronts.push(Front { upstream, addr, task });
        Ok(format!("https://{addr}"))
    }

    /// `env` with every `AWS_ENDPOINT_URL*` moved behind a front, and the CA trusted by both the
    /// Rust functions (`SSL_CERT_FILE`) and Node.js (`NODE_EXTRA_CA_CERTS`).
    pub async fn secure(&mut self, env: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, TlsError> {
        let mut secured = env.clone();
        for (variable, value) in env.iter().filter(|(k, _)| k.starts_with(ENDPOINT_PREFIX)) {
            let upstream = value
                .strip_prefix("http://")
                .and_then(|rest| rest.trim_end_matches('/').parse::<SocketAddr>().ok())
                .ok_or_else(|| TlsError::Endpoint { variable: variable.clone(), value: value.clone() })?;
            secured.insert(variable.clone(), self.front(upstream).await?);
        }
        let ca = self.ca_file.display().to_string();
        secured.insert("SSL_CERT_FILE".to_owned(), ca.clone());
        secured.insert("NODE_EXTRA_CA_CERTS".to_owned(), ca);
        Ok(secured)
    }
}

impl Drop for LocalTls {
    fn drop(&mut self) {
        for front in &self.fronts {
            front.task.abort();
        }
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

/// Connections accepted on loopback and through the TLS handshake (one that fails is dropped).
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: Arc<HandshakeTally>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else { continue };
            let _ = tcp.set_nodelay(true);
            let accepted = Instant::now();
            match self.acceptor.accept(tcp).await {
                Ok(tls) => {
                    self.handshakes.record(accepted.elapsed());
                    return (tls, addr);
                }
                Err(error) => tracing::debug!(%error, "TLS front: a handshake failed"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[derive(Clone)]
struct Upstream {
    endpoint: String,
    http: reqwest::Client,
}

async fn relay(State(to): State<Upstream>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    crate::fault_proxy::forwarded(&to.http, &to.endpoint, method, &uri, &headers, body).await
}
