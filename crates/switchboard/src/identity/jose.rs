//! Authentication results: a JWS (the "inner" token) nested in a JWE whose JSON payload is
//! `{"njwt": "<compact JWS>"}`, opened and verified once, on receipt.
//!
//! The JWE is opened here on `aws-lc-rs` primitives: no maintained crate does JWE without OpenSSL,
//! and aws-lc-rs is in every binary already (rustls). Key management `RSA-OAEP`, `RSA-OAEP-256`
//! (RSA keys) and `ECDH-ES` (P-256 keys, Concat KDF); content encryption `A*CBC-HS*` and `A*GCM`;
//! `zip` and `crit` refused. Every JWE failure is the same error, whichever step failed, so the answer
//! is no oracle. The inner JWS (`RS256`, `ES256`) is verified with `jsonwebtoken`. No key material,
//! token or attribute ever goes into an error message.
//!
//! Tested against the RFC 7520 vectors and against `josekit` (a dev-dependency) in `jose/tests.rs`.

use std::collections::BTreeMap;

use aws_lc_rs::{aead, agreement, cipher, constant_time, encoding::AsDer, hmac, kdf, rsa, signature};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::platform::prefetch::Prefetched;

/// The subjects an authentication plugin may write: the original and the renamed ecosystem's.
const SUBJECTS: [&str; 2] = ["id-contact-attributes", "verder-helpen-attributes"];

/// Why a result was refused. Messages are safe to log; callers answer [`ResultError::ANSWER`] for all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultError {
    /// Any failure of the JWE layer: parts, header, key unwrap or agreement, tag, padding.
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

impl ResultError {
    /// What the sender is told, whatever the reason: one answer for every refusal.
    pub const ANSWER: &'static str = "the result could not be decrypted or verified";
}

#[derive(Debug, thiserror::Error)]
#[error("key {index} of {what} is not a usable {expected} PEM key")]
pub struct KeyError {
    pub what: &'static str,
    pub index: usize,
    pub expected: &'static str,
}

/// Why [`seal`] failed (tests and local tooling only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the signing key is not an RSA or P-256 private PEM key")]
    SigningKey,
    #[error("the encryption key is not an RSA or P-256 public PEM key")]
    EncryptionKey,
    #[error("the header names an unsupported alg or enc")]
    Unsupported,
    #[error("a cryptographic operation failed")]
    Crypto,
}

/// A verified authentication result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResult {
    /// `succes` (sic) or `failed`; `success` is stored as `succes`.
    pub status: String,
    pub attributes: BTreeMap<String, String>,
    pub session_url: Option<String>,
}

/// A private key results are encrypted to.
enum Decrypter {
    Rsa(rsa::OaepPrivateDecryptingKey),
    P256(agreement::PrivateKey),
}

/// A trusted authentication plugin's public key and the one JWS algorithm it verifies.
struct Verifier {
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The variables naming our decryption keys and the plugins' verification keys.
const DECRYPTION_KEYS: &str = "RESULT_DECRYPTION_KEYS";
const VERIFICATION_KEYS: &str = "RESULT_VERIFICATION_KEYS";

/// Our decryption keys and the authentication plugins' verification keys.
pub struct KeyRing {
    decrypters: Vec<Decrypter>,
    verifiers: Vec<Verifier>,
}

impl KeyRing {
    /// The keys named by `RESULT_DECRYPTION_KEYS` and `RESULT_VERIFICATION_KEYS` (comma-separated
    /// `secretsmanager:`/`ssm:` references, each holding one PEM key or a bundle), fetched and parsed
    /// from the first event on ([`Prefetched`]); the two variables are read now, so a missing one fails the cold
    /// start. Keep the keys in one secret and one parameter: each reference is a round trip.
    pub fn prefetch(
        sdk: &aws_config::SdkConfig,
        env: &crate::platform::config::Settings<'_>,
    ) -> Result<Prefetched<Self>, crate::platform::config::ConfigError> {
        let references = (env.list(DECRYPTION_KEYS)?, env.list(VERIFICATION_KEYS)?);
        let sdk = sdk.clone();
        Ok(Prefetched::start(move || {
            let (sdk, (decryption, verification)) = (sdk.clone(), references.clone());
            async move { Self::fetch(&sdk, decryption, verification).await }
        }))
    }

    async fn fetch(
        sdk: &aws_config::SdkConfig,
        decryption: Vec<String>,
        verification: Vec<String>,
    ) -> Result<Self, crate::platform::config::ConfigError> {
        // Both lists at once: every look-up is a round trip.
        let (decryption, verification) = tokio::try_join!(
            crate::platform::secrets::resolve_all(sdk, DECRYPTION_KEYS, decryption),
            crate::platform::secrets::resolve_all(sdk, VERIFICATION_KEYS, verification),
        )?;
        let (decryption, verification) = (split_pem_bundles(&decryption), split_pem_bundles(&verification));
        Self::from_pems(&decryption, &verification).map_err(|e| crate::platform::config::ConfigError::Malformed {
            name: if e.what == "the decryption keys" { DECRYPTION_KEYS } else { VERIFICATION_KEYS }.into(),
            reason: e.to_string(),
        })
    }

    /// From PEM texts: private RSA or P-256 keys to decrypt with (PKCS#8, PKCS#1 or SEC1); public RSA
    /// or P-256 keys to verify with. Several of each may be given (key rotation): all are tried.
    pub fn from_pems(decryption: &[String], verification: &[String]) -> Result<Self, KeyError> {
        let decrypters = decryption
            .iter()
            .enumerate()
            .map(|(index, pem)| {
                Decrypter::from_pem(pem).ok_or(KeyError {
                    what: "the decryption keys",
                    index,
                    expected: "RSA or P-256 private",
                })
            })
            .collect::<Result<_, _>>()?;
        let verifiers = verification
            .iter()
            .enumerate()
            .map(|(index, pem)| {
                Verifier::from_pem(pem).ok_or(KeyError {
                    what: "the verification keys",
                    index,
                    expected: "RSA or P-256 public",
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { decrypters, verifiers })
    }

    /// Decrypts, verifies and checks the claims (times with `skew_seconds` leeway) of one result.
    pub fn open(&self, compact_jwe: &str, now: i64, skew_seconds: i64) -> Result<AuthResult, ResultError> {
        let payload = self.decrypt(compact_jwe)?;

        #[derive(Deserialize)]
        struct Outer {
            njwt: String,
        }
        let outer: Outer =
            serde_json::from_slice(&payload).map_err(|_| ResultError::Malformed("no njwt in the JWE payload"))?;
        let claims = self.verify(&outer.njwt)?;

        #[derive(Deserialize)]
        struct Claims {
            sub: String,
            status: String,
            #[serde(default)]
            attributes: BTreeMap<String, String>,
            #[serde(default)]
            session_url: Option<String>,
            iat: i64,
            exp: i64,
        }
        let claims: Claims = serde_json::from_value(claims)
            .map_err(|_| ResultError::Malformed("inner claims (sub, status, attributes, iat, exp)"))?;
        if !SUBJECTS.contains(&claims.sub.as_str()) {
            return Err(ResultError::Malformed("unexpected sub"));
        }
        if claims.exp.saturating_add(skew_seconds) < now {
            return Err(ResultError::Expired);
        }
        if claims.iat.saturating_sub(skew_seconds) > now {
            return Err(ResultError::NotYetValid);
        }
        // The newer plugins write `success`; agent pages know the original spelling only.
        let status = match claims.status.as_str() {
            "succes" | "success" => "succes",
            "failed" => "failed",
            _ => return Err(ResultError::Malformed("status is neither succes nor failed")),
        };
        Ok(AuthResult { status: status.to_owned(), attributes: claims.attributes, session_url: claims.session_url })
    }

    /// The plaintext of a compact JWE encrypted to one of our keys. Every failure is
    /// [`ResultError::Decrypt`], whichever step failed.
    pub fn decrypt(&self, compact_jwe: &str) -> Result<Vec<u8>, ResultError> {
        self.try_decrypt(compact_jwe.trim()).ok_or(ResultError::Decrypt)
    }

    fn try_decrypt(&self, compact: &str) -> Option<Vec<u8>> {
        let mut parts = compact.split('.');
        let (Some(header_b64), Some(encrypted_key), Some(iv), Some(ciphertext), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let header: Map<String, Value> = serde_json::from_slice(&b64(header_b64)?).ok()?;
        // No compression (a decompression bomb, and nobody sends it) and no extension we would
        // have to understand.
        if header.contains_key("zip") || header.contains_key("crit") {
            return None;
        }
        let header: Header = serde_json::from_value(Value::Object(header)).ok()?;
        let enc = ContentEncryption::named(&header.enc)?;
        let (encrypted_key, iv, ciphertext, tag) = (b64(encrypted_key)?, b64(iv)?, b64(ciphertext)?, b64(tag)?);
        let sealed = Sealed { aad: header_b64.as_bytes(), iv: &iv, ciphertext: &ciphertext, tag: &tag };
        match header.alg.as_str() {
            "RSA-OAEP" => self.open_rsa(&rsa::OAEP_SHA1_MGF1SHA1, &encrypted_key, enc, &sealed),
            "RSA-OAEP-256" => self.open_rsa(&rsa::OAEP_SHA256_MGF1SHA256, &encrypted_key, enc, &sealed),
            "ECDH-ES" if encrypted_key.is_empty() => self.open_ecdh_es(&header, enc, &sealed),
            _ => None,
        }
    }

    fn open_rsa(
        &self,
        oaep: &'static rsa::OaepAlgorithm,
        encrypted_key: &[u8],
        enc: ContentEncryption,
        sealed: &Sealed,
    ) -> Option<Vec<u8>> {
        for decrypter in &self.decrypters {
            let Decrypter::Rsa(key) = decrypter else { continue };
            // RFC 7516 §11.5: a CEK that does not unwrap (or has the wrong length) is replaced by a
            // random one and decryption goes on, so a forged key fails where a forged tag does, on
            // the same path and in about the same time.
            let mut random = vec![0u8; enc.cek_len()];
            aws_lc_rs::rand::fill(&mut random).ok()?;
            let mut unwrapped = vec![0u8; key.min_output_size()];
            let cek = match key.decrypt(oaep, encrypted_key, &mut unwrapped, None) {
                Ok(cek) if cek.len() == enc.cek_len() => &cek[..],
                _ => &random[..],
            };
            if let Some(plaintext) = enc.open(cek, sealed) {
                return Some(plaintext);
            }
        }
        None
    }

    fn open_ecdh_es(&self, header: &Header, enc: ContentEncryption, sealed: &Sealed) -> Option<Vec<u8>> {
        let epk = header.epk.as_ref()?;
        if epk.kty != "EC" || epk.crv != "P-256" {
            return None;
        }
        let (x, y) = (b64(&epk.x)?, b64(&epk.y)?);
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        // The uncompressed point; aws-lc-rs checks it is on the curve when it parses it.
        let point = [&[0x04][..], &x, &y].concat();
        let apu = header.apu.as_deref().map_or(Some(Vec::new()), b64)?;
        let apv = header.apv.as_deref().map_or(Some(Vec::new()), b64)?;
        for decrypter in &self.decrypters {
            let Decrypter::P256(key) = decrypter else { continue };
            let cek = ecdh_es_cek(key, &point, &header.enc, &apu, &apv, enc.cek_len());
            if let Some(plaintext) = cek.and_then(|cek| enc.open(&cek, sealed)) {
                return Some(plaintext);
            }
        }
        None
    }

    /// The claims of an inner JWS signed by a trusted key (the signature only; `open` checks claims).
    fn verify(&self, token: &str) -> Result<Value, ResultError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| ResultError::Malformed("the inner token's header"))?;
        if header.crit.is_some() {
            return Err(ResultError::Malformed("the inner token has crit"));
        }
        let mut validation = Validation::new(header.alg);
        // Times are checked against our clock in `open`, and there is no audience to check.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        // Several plugins (or a rotation) may share an algorithm: try each trusted key of it.
        self.verifiers
            .iter()
            .filter(|verifier| verifier.algorithm == header.alg)
            .find_map(|verifier| jsonwebtoken::decode::<Value>(token, &verifier.key, &validation).ok())
            .map(|data| data.claims)
            .ok_or(ResultError::Signature)
    }
}

impl Decrypter {
    fn from_pem(text: &str) -> Option<Self> {
        let block = pem::parse(text.trim()).ok()?;
        let der = block.contents();
        match block.tag() {
            "PRIVATE KEY" => Self::rsa_pkcs8(der).or_else(|| Self::p256(der)),
            "RSA PRIVATE KEY" => Self::rsa_pkcs8(rsa::KeyPair::from_der(der).ok()?.as_der().ok()?.as_ref()),
            "EC PRIVATE KEY" => Self::p256(der),
            _ => None,
        }
    }

    fn rsa_pkcs8(der: &[u8]) -> Option<Self> {
        let key = rsa::PrivateDecryptingKey::from_pkcs8(der).ok()?;
        rsa::OaepPrivateDecryptingKey::new(key).ok().map(Self::Rsa)
    }

    /// A P-256 key, from PKCS#8 or SEC1; aws-lc-rs refuses other curves.
    fn p256(der: &[u8]) -> Option<Self> {
        agreement::PrivateKey::from_private_key_der(&agreement::ECDH_P256, der).ok().map(Self::P256)
    }
}

impl Verifier {
    fn from_pem(text: &str) -> Option<Self> {
        let block = pem::parse(text.trim()).ok()?;
        let der = block.contents();
        match block.tag() {
            "PUBLIC KEY" => Self::rsa(der).or_else(|| Self::p256(der)),
            "RSA PUBLIC KEY" => Self::rsa(der),
            _ => None,
        }
    }

    /// From SubjectPublicKeyInfo or PKCS#1; jsonwebtoken takes the PKCS#1 form.
    fn rsa(der: &[u8]) -> Option<Self> {
        let key = rsa::PublicKey::from_der(der).ok()?;
        Some(Self { algorithm: Algorithm::RS256, key: DecodingKey::from_rsa_der(key.as_ref()) })
    }

    /// From SubjectPublicKeyInfo, checked here to be a valid P-256 point (jsonwebtoken's aws-lc
    /// verifier parses the same DER again on each verification).
    fn p256(der: &[u8]) -> Option<Self> {
        signature::ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, der).ok()?;
        Some(Self { algorithm: Algorithm::ES256, key: DecodingKey::from_ec_der(der) })
    }
}

/// The JWE protected header fields we use (`zip` and `crit` are refused before this).
#[derive(Deserialize)]
struct Header {
    alg: String,
    enc: String,
    #[serde(default)]
    epk: Option<EphemeralKey>,
    #[serde(default)]
    apu: Option<String>,
    #[serde(default)]
    apv: Option<String>,
}

/// The sender's ephemeral public key of `ECDH-ES`, a JWK.
#[derive(Deserialize)]
struct EphemeralKey {
    kty: String,
    crv: String,
    x: String,
    y: String,
}

/// The content-encryption parts of a JWE.
struct Sealed<'a> {
    /// The ASCII of the protected header's base64url.
    aad: &'a [u8],
    iv: &'a [u8],
    ciphertext: &'a [u8],
    tag: &'a [u8],
}

/// What [`ContentEncryption::seal`] produces.
struct Encrypted {
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

/// A content encryption (`enc`, RFC 7518 §5).
#[derive(Clone, Copy)]
enum ContentEncryption {
    /// AES-CBC with HMAC-SHA2 (§5.2): the CEK is the MAC key then the AES key, `half` bytes each, and
    /// the tag is the MAC truncated to `half` bytes.
    CbcHmac {
        aes: &'static cipher::Algorithm,
        mac: hmac::Algorithm,
        half: usize,
    },
    Gcm(&'static aead::Algorithm),
}

impl ContentEncryption {
    const CBC_IV_LEN: usize = 16;
    const GCM_IV_LEN: usize = 12;
    const GCM_TAG_LEN: usize = 16;

    fn named(enc: &str) -> Option<Self> {
        Some(match enc {
            "A128CBC-HS256" => Self::CbcHmac { aes: &cipher::AES_128, mac: hmac::HMAC_SHA256, half: 16 },
            "A192CBC-HS384" => Self::CbcHmac { aes: &cipher::AES_192, mac: hmac::HMAC_SHA384, half: 24 },
            "A256CBC-HS512" => Self::CbcHmac { aes: &cipher::AES_256, mac: hmac::HMAC_SHA512, half: 32 },
            "A128GCM" => Self::Gcm(&aead::AES_128_GCM),
            "A192GCM" => Self::Gcm(&aead::AES_192_GCM),
            "A256GCM" => Self::Gcm(&aead::AES_256_GCM),
            _ => return None,
        })
    }

    fn cek_len(self) -> usize {
        match self {
            Self::CbcHmac { half, .. } => 2 * half,
            Self::Gcm(algorithm) => algorithm.key_len(),
        }
    }

    /// The plaintext, if the tag verifies under `cek`.
    fn open(self, cek: &[u8], sealed: &Sealed) -> Option<Vec<u8>> {
        if cek.len() != self.cek_len() {
            return None;
        }
        match self {
            Self::CbcHmac { aes, mac, half } => {
                if sealed.tag.len() != half {
                    return None;
                }
                let (mac_key, aes_key) = cek.split_at(half);
                let iv: [u8; Self::CBC_IV_LEN] = sealed.iv.try_into().ok()?;
                // The tag first, in constant time: nothing is decrypted (no padding is looked at)
                // for a forged or altered message.
                let expected = cbc_hmac_tag(mac, mac_key, sealed.aad, &iv, sealed.ciphertext)?;
                constant_time::verify_slices_are_equal(&expected.as_ref()[..half], sealed.tag).ok()?;
                let key = cipher::UnboundCipherKey::new(aes, aes_key).ok()?;
                let key = cipher::PaddedBlockDecryptingKey::cbc_pkcs7(key).ok()?;
                let mut buffer = sealed.ciphertext.to_vec();
                let context = cipher::DecryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from(iv));
                key.decrypt(&mut buffer, context).ok().map(|plaintext| plaintext.to_vec())
            }
            Self::Gcm(algorithm) => {
                if sealed.iv.len() != Self::GCM_IV_LEN || sealed.tag.len() != Self::GCM_TAG_LEN {
                    return None;
                }
                let key = aead::LessSafeKey::new(aead::UnboundKey::new(algorithm, cek).ok()?);
                let nonce = aead::Nonce::try_assume_unique_for_key(sealed.iv).ok()?;
                let mut buffer = [sealed.ciphertext, sealed.tag].concat();
                let plaintext = key.open_in_place(nonce, aead::Aad::from(sealed.aad), &mut buffer).ok()?;
                Some(plaintext.to_vec())
            }
        }
    }

    /// Encrypts `plaintext` under `cek` with a fresh IV.
    fn seal(self, cek: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Encrypted, SealError> {
        match self {
            Self::CbcHmac { aes, mac, half } => {
                let (mac_key, aes_key) = cek.split_at(half);
                let mut iv = [0u8; Self::CBC_IV_LEN];
                aws_lc_rs::rand::fill(&mut iv).map_err(|_| SealError::Crypto)?;
                let key = cipher::UnboundCipherKey::new(aes, aes_key).map_err(|_| SealError::Crypto)?;
                let key = cipher::PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(|_| SealError::Crypto)?;
                let mut ciphertext = plaintext.to_vec();
                let context = cipher::EncryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from(iv));
                key.less_safe_encrypt(&mut ciphertext, context).map_err(|_| SealError::Crypto)?;
                let tag = cbc_hmac_tag(mac, mac_key, aad, &iv, &ciphertext).ok_or(SealError::Crypto)?;
                Ok(Encrypted { iv: iv.to_vec(), ciphertext, tag: tag.as_ref()[..half].to_vec() })
            }
            Self::Gcm(algorithm) => {
                let mut iv = [0u8; Self::GCM_IV_LEN];
                aws_lc_rs::rand::fill(&mut iv).map_err(|_| SealError::Crypto)?;
                let key = aead::LessSafeKey::new(aead::UnboundKey::new(algorithm, cek).map_err(|_| SealError::Crypto)?);
                let mut ciphertext = plaintext.to_vec();
                let tag = key
                    .seal_in_place_separate_tag(
                        aead::Nonce::assume_unique_for_key(iv),
                        aead::Aad::from(aad),
                        &mut ciphertext,
                    )
                    .map_err(|_| SealError::Crypto)?;
                Ok(Encrypted { iv: iv.to_vec(), ciphertext, tag: tag.as_ref().to_vec() })
            }
        }
    }
}

/// HMAC over AAD || IV || ciphertext || AL, AL being the AAD's length in bits, 64-bit big-endian.
fn cbc_hmac_tag(mac: hmac::Algorithm, key: &[u8], aad: &[u8], iv: &[u8], ciphertext: &[u8]) -> Option<hmac::Tag> {
    let aad_bits = u64::try_from(aad.len()).ok()?.checked_mul(8)?;
    let mut context = hmac::Context::with_key(&hmac::Key::new(mac, key));
    for part in [aad, iv, ciphertext, &aad_bits.to_be_bytes()[..]] {
        context.update(part);
    }
    Some(context.sign())
}

/// The CEK of direct `ECDH-ES` (RFC 7518 §4.6): the Concat KDF (NIST SP 800-56A, one-step, SHA-256)
/// over the shared secret with `enc`, `apu`, `apv` and the key length in bits as the other info.
/// `peer_public` is an uncompressed point or a SubjectPublicKeyInfo; aws-lc-rs validates either.
fn ecdh_es_cek(
    key: &agreement::PrivateKey,
    peer_public: &[u8],
    enc: &str,
    apu: &[u8],
    apv: &[u8],
    cek_len: usize,
) -> Option<Vec<u8>> {
    let length_prefixed =
        |data: &[u8]| -> Option<Vec<u8>> { Some([&u32::try_from(data.len()).ok()?.to_be_bytes()[..], data].concat()) };
    let key_bits = u32::try_from(cek_len).ok()?.checked_mul(8)?;
    let other_info = [
        length_prefixed(enc.as_bytes())?,
        length_prefixed(apu)?,
        length_prefixed(apv)?,
        key_bits.to_be_bytes().to_vec(),
    ]
    .concat();
    let sha256 = kdf::get_sskdf_digest_algorithm(kdf::SskdfDigestAlgorithmId::Sha256)?;
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, peer_public);
    agreement::agree(key, peer, (), |shared_secret| {
        let mut cek = vec![0u8; cek_len];
        kdf::sskdf_digest(sha256, shared_secret, &other_info, &mut cek).map_err(|_| ())?;
        Ok(cek)
    })
    .ok()
}

fn b64(text: &str) -> Option<Vec<u8>> {
    // Strict: no padding and no stray trailing bits, so every altered character alters the bytes.
    URL_SAFE_NO_PAD.decode(text).ok()
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

/// Seals a result as an authentication plugin does: claims signed into a JWS with `signing_pem`
/// (`RS256` for an RSA key, `ES256` for a P-256 key), wrapped as `{"njwt": …}` and encrypted to
/// `encryption_public_pem` (`RSA-OAEP` for an RSA key, `ECDH-ES` for a P-256 key) with
/// `A128CBC-HS256`. For tests and local tooling.
pub fn seal(claims: &Value, signing_pem: &str, encryption_public_pem: &str) -> Result<String, SealError> {
    let njwt = sign(claims, signing_pem)?;
    let alg = if Recipient::from_pem(encryption_public_pem)?.is_rsa() { "RSA-OAEP" } else { "ECDH-ES" };
    let mut header = Map::new();
    header.insert("alg".into(), alg.into());
    header.insert("enc".into(), "A128CBC-HS256".into());
    header.insert("cty".into(), "JWT".into());
    let payload = serde_json::json!({ "njwt": njwt }).to_string();
    encrypt(payload.as_bytes(), encryption_public_pem, header)
}

/// A compact JWS of `claims`, `RS256` or `ES256` by the key's type (for [`seal`]).
fn sign(claims: &Value, signing_pem: &str) -> Result<String, SealError> {
    let block = pem::parse(signing_pem.trim()).map_err(|_| SealError::SigningKey)?;
    let der = block.contents();
    let p256_pkcs8 = |der: &[u8]| -> Option<Vec<u8>> {
        let key =
            signature::EcdsaKeyPair::from_private_key_der(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der).ok()?;
        Some(key.to_pkcs8v1().ok()?.as_ref().to_vec())
    };
    let (algorithm, key) = match block.tag() {
        "PRIVATE KEY" if rsa::KeyPair::from_pkcs8(der).is_ok() => {
            // jsonwebtoken's RSA signer takes PKCS#1: the key inside the PKCS#8 wrapper.
            let pkcs1 = pkcs8_private_key(der).ok_or(SealError::SigningKey)?;
            (Algorithm::RS256, EncodingKey::from_rsa_der(pkcs1))
        }
        "RSA PRIVATE KEY" => (Algorithm::RS256, EncodingKey::from_rsa_der(der)),
        "PRIVATE KEY" | "EC PRIVATE KEY" => {
            (Algorithm::ES256, EncodingKey::from_ec_der(&p256_pkcs8(der).ok_or(SealError::SigningKey)?))
        }
        _ => return Err(SealError::SigningKey),
    };
    jsonwebtoken::encode(&jsonwebtoken::Header::new(algorithm), claims, &key).map_err(|_| SealError::SigningKey)
}

/// The `privateKey` octets of a PKCS#8 `PrivateKeyInfo` (SEQUENCE { version, algorithm, OCTET
/// STRING }): for an RSA key, its PKCS#1 form. Only [`sign`] needs it; the key was parsed by aws-lc-rs
/// first, so this only walks well-formed DER.
fn pkcs8_private_key(der: &[u8]) -> Option<&[u8]> {
    /// One DER element: tag, contents, rest.
    fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (length, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (octets, rest) = rest.split_at(count);
            (octets.iter().fold(0usize, |length, &octet| (length << 8) | usize::from(octet)), rest)
        };
        (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
    }
    let (0x30, info, _) = element(der)? else { return None };
    let (0x02, _, rest) = element(info)? else { return None };
    let (0x30, _, rest) = element(rest)? else { return None };
    let (0x04, key, _) = element(rest)? else { return None };
    Some(key)
}

/// A public key results are encrypted to (for [`seal`] and the tests).
enum Recipient {
    Rsa(rsa::OaepPublicEncryptingKey),
    P256(Vec<u8>),
}

impl Recipient {
    fn from_pem(text: &str) -> Result<Self, SealError> {
        let block = pem::parse(text.trim()).map_err(|_| SealError::EncryptionKey)?;
        let der = block.contents();
        if let Ok(key) = rsa::PublicEncryptingKey::from_der(der) {
            return rsa::OaepPublicEncryptingKey::new(key).map(Self::Rsa).map_err(|_| SealError::EncryptionKey);
        }
        // Parsing as a P-256 agreement key refuses other curves and points off the curve.
        agreement::ParsedPublicKey::try_from(agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, der))
            .map(|_| Self::P256(der.to_vec()))
            .map_err(|_| SealError::EncryptionKey)
    }

    fn is_rsa(&self) -> bool {
        matches!(self, Self::Rsa(_))
    }
}

/// A compact JWE of `payload` to `recipient_public_pem` under `header`, which names `alg`
/// (`RSA-OAEP`, `RSA-OAEP-256` or `ECDH-ES`, matching the key) and `enc`; `epk` is added for
/// `ECDH-ES`. Other header fields are kept as given (the tests add `zip` and `crit`).
fn encrypt(payload: &[u8], recipient_public_pem: &str, mut header: Map<String, Value>) -> Result<String, SealError> {
    let recipient = Recipient::from_pem(recipient_public_pem)?;
    let enc_name = header.get("enc").and_then(Value::as_str).ok_or(SealError::Unsupported)?.to_owned();
    let enc = ContentEncryption::named(&enc_name).ok_or(SealError::Unsupported)?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or(SealError::Unsupported)?.to_owned();
    let (cek, encrypted_key) = match (&recipient, alg.as_str()) {
        (Recipient::Rsa(key), "RSA-OAEP" | "RSA-OAEP-256") => {
            let oaep = if alg == "RSA-OAEP" { &rsa::OAEP_SHA1_MGF1SHA1 } else { &rsa::OAEP_SHA256_MGF1SHA256 };
            let mut cek = vec![0u8; enc.cek_len()];
            aws_lc_rs::rand::fill(&mut cek).map_err(|_| SealError::Crypto)?;
            let mut wrapped = vec![0u8; key.ciphertext_size()];
            let wrapped = key.encrypt(oaep, &cek, &mut wrapped, None).map_err(|_| SealError::Crypto)?.to_vec();
            (cek, wrapped)
        }
        (Recipient::P256(der), "ECDH-ES") => {
            let ephemeral = agreement::PrivateKey::generate(&agreement::ECDH_P256).map_err(|_| SealError::Crypto)?;
            let public = ephemeral.compute_public_key().map_err(|_| SealError::Crypto)?;
            let point = public.as_ref();
            let (x, y) = point.get(1..33).zip(point.get(33..65)).ok_or(SealError::Crypto)?;
            header.insert(
                "epk".into(),
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)}),
            );
            let cek = ecdh_es_cek(&ephemeral, der, &enc_name, &[], &[], enc.cek_len()).ok_or(SealError::Crypto)?;
            (cek, Vec::new())
        }
        _ => return Err(SealError::Unsupported),
    };
    let header_b64 = URL_SAFE_NO_PAD.encode(Value::Object(header).to_string());
    let sealed = enc.seal(&cek, header_b64.as_bytes(), payload)?;
    let parts = [&encrypted_key, &sealed.iv, &sealed.ciphertext, &sealed.tag].map(|part| URL_SAFE_NO_PAD.encode(part));
    Ok(format!("{header_b64}.{}", parts.join(".")))
}

#[cfg(test)]
mod tests;
