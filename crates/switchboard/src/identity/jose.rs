//! Authentication results: a JWS (the "inner" token) nested in a JWE whose JSON payload is
//! `{"njwt": "<compact JWS>"}`, opened and verified once, on receipt, with `josekit`.
//!
//! JWE key management: `RSA-OAEP` (and `RSA-OAEP-256`) with an RSA key, `ECDH-ES` with a P-256 key;
//! content encryption `A*CBC-HS*` or `A*GCM`. JWS: `RS256` or `ES256`. No key material, token or
//! attribute ever goes into an error message.

use std::collections::BTreeMap;

use josekit::{
    jwe::{self, JweDecrypter, ECDH_ES, RSA_OAEP, RSA_OAEP_256},
    jws::{self, JwsVerifier, ES256, RS256},
};
use serde::Deserialize;

/// Content encryptions we accept.
const CONTENT_ENCRYPTIONS: &[&str] =
    &["A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128GCM", "A192GCM", "A256GCM"];

/// Why a result was refused. Messages are safe to log and to return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultError {
    #[error("the result could not be decrypted with our keys")]
    Decrypt,
    #[error("the inner token's signature does not verify with a trusted key")]
    Signature,
    #[error("the result is malformed: {0}")]
    Malformed(&'static str),
    #[error("the result has expired")]
    Expired,
    #[error("the result was issued in the future")]
    NotYetValid,
}

#[derive(Debug, thiserror::Error)]
#[error("key {index} of {what} is not a usable {expected} PEM key")]
pub struct KeyError {
    pub what: &'static str,
    pub index: usize,
    pub expected: &'static str,
}

/// A verified authentication result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResult {
    /// `succes` (sic) or `failed`.
    pub status: String,
    pub attributes: BTreeMap<String, String>,
    pub session_url: Option<String>,
}

/// Our decryption keys and the authentication plugins' verification keys.
pub struct KeyRing {
    decrypters: Vec<Box<dyn JweDecrypter>>,
    verifiers: Vec<Box<dyn JwsVerifier>>,
}

impl KeyRing {
    /// The keys named by `RESULT_DECRYPTION_KEYS` and `RESULT_VERIFICATION_KEYS` (comma-separated
    /// `secretsmanager:`/`ssm:` references, each holding one PEM key or a bundle), read once at cold
    /// start. Keep the keys in one secret and one parameter: each reference is a round trip at init.
    pub async fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &crate::config::Settings<'_>,
    ) -> Result<Self, crate::config::ConfigError> {
        // Both lists at once: every look-up is a round trip inside the cold start.
        let (decryption, verification) = tokio::try_join!(
            crate::secrets::resolve_list(sdk, env, "RESULT_DECRYPTION_KEYS"),
            crate::secrets::resolve_list(sdk, env, "RESULT_VERIFICATION_KEYS"),
        )?;
        let (decryption, verification) = (split_pem_bundles(&decryption), split_pem_bundles(&verification));
        Self::from_pems(&decryption, &verification).map_err(|e| crate::config::ConfigError::Malformed {
            name: if e.what == "the decryption keys" { "RESULT_DECRYPTION_KEYS" } else { "RESULT_VERIFICATION_KEYS" }
                .into(),
            reason: e.to_string(),
        })
    }

    /// From PEM texts: private RSA or P-256 keys to decrypt with; public RSA or P-256 keys to verify.
    pub fn from_pems(decryption: &[String], verification: &[String]) -> Result<Self, KeyError> {
        let mut decrypters: Vec<Box<dyn JweDecrypter>> = Vec::new();
        for (index, pem) in decryption.iter().enumerate() {
            if let (Ok(oaep), Ok(oaep256)) = (RSA_OAEP.decrypter_from_pem(pem), RSA_OAEP_256.decrypter_from_pem(pem)) {
                decrypters.push(Box::new(oaep));
                decrypters.push(Box::new(oaep256));
            } else if let Ok(ecdh) = ECDH_ES.decrypter_from_pem(pem) {
                decrypters.push(Box::new(ecdh));
            } else {
                return Err(KeyError { what: "the decryption keys", index, expected: "RSA or P-256 private" });
            }
        }
        let mut verifiers: Vec<Box<dyn JwsVerifier>> = Vec::new();
        for (index, pem) in verification.iter().enumerate() {
            if let Ok(rsa) = RS256.verifier_from_pem(pem) {
                verifiers.push(Box::new(rsa));
            } else if let Ok(ec) = ES256.verifier_from_pem(pem) {
                verifiers.push(Box::new(ec));
            } else {
                return Err(KeyError { what: "the verification keys", index, expected: "RSA or P-256 public" });
            }
        }
        Ok(Self { decrypters, verifiers })
    }

    /// Decrypts, verifies and checks the time claims (with `skew_seconds` leeway) of one result.
    pub fn open(&self, compact_jwe: &str, now: i64, skew_seconds: i64) -> Result<AuthResult, ResultError> {
        let (payload, header) = jwe::deserialize_compact_with_selector(compact_jwe.trim(), |header| {
            let alg = header.algorithm().unwrap_or_default();
            Ok(self.decrypters.iter().find(|d| d.algorithm().name() == alg).map(|d| d.as_ref()))
        })
        .map_err(|_| ResultError::Decrypt)?;
        if !header.content_encryption().is_some_and(|enc| CONTENT_ENCRYPTIONS.contains(&enc)) {
            return Err(ResultError::Malformed("unsupported content encryption"));
        }

        #[derive(Deserialize)]
        struct Outer {
            njwt: String,
        }
        let outer: Outer =
            serde_json::from_slice(&payload).map_err(|_| ResultError::Malformed("no njwt in the JWE payload"))?;

        // Try each trusted key of the token's algorithm: several plugins may share one.
        let alg = jws_algorithm(&outer.njwt).ok_or(ResultError::Malformed("the inner token has no alg"))?;
        let claims = self
            .verifiers
            .iter()
            .filter(|v| v.algorithm().name() == alg)
            .find_map(|verifier| jws::deserialize_compact(&outer.njwt, verifier.as_ref()).ok())
            .map(|(claims, _)| claims)
            .ok_or(ResultError::Signature)?;

        #[derive(Deserialize)]
        struct Inner {
            status: String,
            #[serde(default)]
            attributes: BTreeMap<String, String>,
            #[serde(default)]
            session_url: Option<String>,
            iat: Option<i64>,
            exp: i64,
        }
        let inner: Inner = serde_json::from_slice(&claims).map_err(|_| ResultError::Malformed("inner claims"))?;
        if inner.exp + skew_seconds < now {
            return Err(ResultError::Expired);
        }
        if inner.iat.is_some_and(|iat| iat - skew_seconds > now) {
            return Err(ResultError::NotYetValid);
        }
        if inner.status != "succes" && inner.status != "failed" {
            return Err(ResultError::Malformed("status is neither succes nor failed"));
        }
        Ok(AuthResult { status: inner.status, attributes: inner.attributes, session_url: inner.session_url })
    }
}

/// One PEM text per key: a secret or parameter may hold several keys (a PEM bundle), so one look-up
/// serves them all. Text that is not PEM is passed on as it is, for `from_pems` to refuse by index.
fn split_pem_bundles(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| match pem::parse_many(value) {
            Ok(blocks) if !blocks.is_empty() => blocks.iter().map(pem::encode).collect(),
            _ => vec![value.clone()],
        })
        .collect()
}

/// The `alg` of a compact JWS's protected header.
fn jws_algorithm(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// Seals a result as an authentication plugin does: claims signed into a JWS with `signing_pem`,
/// wrapped as `{"njwt": …}` and encrypted to `encryption_public_pem`. For tests and local tooling.
pub fn seal(
    claims: &serde_json::Value,
    signing_pem: &str,
    encryption_public_pem: &str,
) -> Result<String, josekit::JoseError> {
    let signer: Box<dyn jws::JwsSigner> = match RS256.signer_from_pem(signing_pem) {
        Ok(rsa) => Box::new(rsa),
        Err(_) => Box::new(ES256.signer_from_pem(signing_pem)?),
    };
    let mut jws_header = jws::JwsHeader::new();
    jws_header.set_token_type("JWT");
    let njwt = jws::serialize_compact(claims.to_string().as_bytes(), &jws_header, signer.as_ref())?;
    let encrypter: Box<dyn jwe::JweEncrypter> = match RSA_OAEP.encrypter_from_pem(encryption_public_pem) {
        Ok(rsa) => Box::new(rsa),
        Err(_) => Box::new(ECDH_ES.encrypter_from_pem(encryption_public_pem)?),
    };
    let mut jwe_header = jwe::JweHeader::new();
    jwe_header.set_content_encryption("A128CBC-HS256");
    jwe_header.set_content_type("JWT");
    let payload = serde_json::json!({ "njwt": njwt }).to_string();
    jwe::serialize_compact(payload.as_bytes(), &jwe_header, encrypter.as_ref())
}

#[cfg(test)]
mod tests {
    use super::split_pem_bundles;

    #[test]
    fn pem_bundles_are_split_into_keys() {
        let one = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        let bundle = format!("{one}{one}");
        let keys = split_pem_bundles(&[bundle, one.to_owned(), "not pem".to_owned()]);
        assert_eq!(keys.len(), 4);
        assert!(keys[0].starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(keys[3], "not pem");
    }
}
