//! The roots every HTTPS client of a function trusts: Mozilla's, compiled in, plus the deployer's.
//!
//! Why compiled in: Lambda functions here talk only to AWS endpoints (and to CloudFormation's
//! presigned S3 URL), whose certificates chain to Amazon Trust Services roots that are in Mozilla's
//! set. `provided.al2023` ships the `ca-certificates` bundle (`/etc/pki/tls/certs/ca-bundle.crt`, the
//! same Mozilla set, refreshed with the image), and the platform store would be read and parsed from
//! files at every cold start; on other hosts (this one, CI) it is a directory of ~150 files, ~4 ms of
//! init (bench/results.md). Compiled in, the roots cost no file access, are the same in tests as in
//! Lambda, and are refreshed by updating `webpki-root-certs` (a `cargo update` like any other fix).
//!
//! A deployer whose traffic passes a TLS-inspecting proxy adds its CA with `SSL_CERT_FILE` (the
//! variable OpenSSL and rustls-native-certs read): a PEM file whose certificates are trusted in
//! addition. It is read and checked at init, so a bad file fails the cold start naming the variable.

use std::sync::Arc;

use rustls::{pki_types::CertificateDer, RootCertStore};

use crate::platform::config::{ConfigError, Settings};

/// The variable naming the deployer's extra roots.
pub const EXTRA_ROOTS_VARIABLE: &str = "SSL_CERT_FILE";

/// Roots in addition to the compiled-in ones, read from `SSL_CERT_FILE` when it is set.
#[derive(Debug, Clone, Default)]
pub struct ExtraRoots(Vec<CertificateDer<'static>>);

impl ExtraRoots {
    /// Reads and checks `SSL_CERT_FILE`: every certificate in it must be usable as a trust anchor.
    pub fn from_env(settings: &Settings) -> Result<Self, ConfigError> {
        let Some(path) = settings.optional_string(EXTRA_ROOTS_VARIABLE)? else {
            return Ok(Self::default());
        };
        let malformed = |reason: String| ConfigError::Malformed { name: EXTRA_ROOTS_VARIABLE.into(), reason };
        let text = std::fs::read(&path).map_err(|e| malformed(format!("cannot read {path}: {e}")))?;
        Self::from_pem(&text).map_err(|reason| malformed(format!("{path}: {reason}")))
    }

    /// The certificates of a PEM text; an error says which one is unusable.
    pub fn from_pem(text: &[u8]) -> Result<Self, String> {
        let blocks = pem::parse_many(text).map_err(|e| format!("not PEM: {e}"))?;
        let certificates: Vec<_> = blocks
            .into_iter()
            .filter(|block| block.tag() == "CERTIFICATE")
            .map(|block| CertificateDer::from(block.into_contents()))
            .collect();
        if certificates.is_empty() {
            return Err("no CERTIFICATE in it".into());
        }
        for (index, certificate) in certificates.iter().enumerate() {
            RootCertStore::empty()
                .add(certificate.clone())
                .map_err(|e| format!("certificate {} is not a usable root: {e}", index + 1))?;
        }
        Ok(Self(certificates))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Every trusted root as one PEM text: the form the SDK's HTTP client takes its trust store in.
pub fn roots_pem(extra: &ExtraRoots) -> Vec<u8> {
    let compiled_in = webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter();
    let blocks: Vec<pem::Pem> =
        compiled_in.chain(&extra.0).map(|der| pem::Pem::new("CERTIFICATE", der.as_ref().to_vec())).collect();
    pem::encode_many(&blocks).into_bytes()
}

/// A rustls client configuration over the same roots (aws-lc, as the SDK's client): for the one
/// client that is not the SDK's, the custom-resource answer's PUT.
pub fn rustls_config(extra: &ExtraRoots) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots = RootCertStore::empty();
    let compiled_in = webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned();
    let (_, unusable) = roots.add_parsable_certificates(compiled_in.chain(extra.0.iter().cloned()));
    if unusable > 0 {
        tracing::warn!(unusable, "some compiled-in root certificates are not usable trust anchors");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::config::Source;

    struct Env(Option<String>);
    impl Source for Env {
        fn get(&self, _: &str) -> Option<String> {
            self.0.clone()
        }
    }

    fn one_compiled_in_root() -> String {
        pem::encode(&pem::Pem::new("CERTIFICATE", webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref().to_vec()))
    }

    #[test]
    fn the_compiled_in_roots_include_amazons() {
        let pem = String::from_utf8(roots_pem(&ExtraRoots::default())).unwrap();
        let count = pem.matches("BEGIN CERTIFICATE").count();
        assert!(count > 100, "{count} roots");
        // Amazon Root CA 1, the root of every AWS endpoint's chain, by its subject.
        let amazon = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .any(|der| der.as_ref().windows(b"Amazon Root CA 1".len()).any(|w| w == b"Amazon Root CA 1"));
        assert!(amazon);
        assert!(rustls_config(&ExtraRoots::default()).is_ok());
    }

    #[test]
    fn extra_roots_come_from_ssl_cert_file_and_are_checked() {
        assert!(ExtraRoots::from_env(&Settings(&Env(None))).unwrap().is_empty());

        let dir = std::env::temp_dir().join(format!("tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("ca.pem");
        std::fs::write(&good, one_compiled_in_root()).unwrap();
        let extra = ExtraRoots::from_env(&Settings(&Env(Some(good.display().to_string())))).unwrap();
        let pem = String::from_utf8(roots_pem(&extra)).unwrap();
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() + 1);

        let missing = ExtraRoots::from_env(&Settings(&Env(Some(dir.join("none.pem").display().to_string()))));
        let message = missing.unwrap_err().to_string();
        assert!(message.contains("SSL_CERT_FILE") && message.contains("cannot read"), "{message}");

        let bad = dir.join("bad.pem");
        std::fs::write(&bad, pem::encode(&pem::Pem::new("CERTIFICATE", b"not a certificate".to_vec()))).unwrap();
        let message = ExtraRoots::from_env(&Settings(&Env(Some(bad.display().to_string())))).unwrap_err().to_string();
        assert!(message.contains("SSL_CERT_FILE") && message.contains("certificate 1"), "{message}");

        std::fs::write(&bad, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        let message = ExtraRoots::from_env(&Settings(&Env(Some(bad.display().to_string())))).unwrap_err().to_string();
        assert!(message.contains("no CERTIFICATE"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
