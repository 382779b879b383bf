//! The JWE opener against the RFC 7520 vectors and against an independent implementation (`josekit`,
//! on OpenSSL) for every alg × enc; tampering with every byte of every part; wrong and untrusted keys;
//! refused headers; and the claim rules.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use josekit::{
    jwe::{self as jjwe, JweHeader},
    jwk::{
        alg::{ec::EcKeyPair, rsa::RsaKeyPair},
        Jwk, KeyPair as _,
    },
    jws::{self as jjws, JwsHeader},
};
use serde_json::{json, Map, Value};

use super::*;

const NOW: i64 = 1_795_000_000;
const SKEW: i64 = 60;
const ALGS: [&str; 3] = ["RSA-OAEP", "RSA-OAEP-256", "ECDH-ES"];
const ENCS: [&str; 6] = ["A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128GCM", "A192GCM", "A256GCM"];

fn key(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../local/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Our keys: both decryption keys, both plugin verification keys, as the local cloud configures them.
fn ring() -> KeyRing {
    KeyRing::from_pems(
        &[key("result-decryption-rsa.pem"), key("result-decryption-ec.pem")],
        &[key("plugin-signing-rsa.pub.pem"), key("plugin-signing-ec.pub.pem")],
    )
    .unwrap()
}

fn claims() -> Value {
    json!({"sub": "id-contact-attributes", "status": "succes", "attributes": {"fullname": "Jan de Vries", "bsn": "999999990"},
           "session_url": "https://auth.example/session/1", "iat": NOW - 5, "exp": NOW + 300})
}

/// The public key our private key of `alg`'s type answers to.
fn recipient(alg: &str) -> String {
    key(if alg == "ECDH-ES" { "result-decryption-ec.pub.pem" } else { "result-decryption-rsa.pub.pem" })
}

fn header(alg: &str, enc: &str) -> Map<String, Value> {
    json!({"alg": alg, "enc": enc}).as_object().unwrap().clone()
}

/// A result sealed with our own code, with claims changed by `change`.
fn sealed_with(change: impl FnOnce(&mut Value)) -> String {
    let mut claims = claims();
    change(&mut claims);
    seal(&claims, &key("plugin-signing-rsa.pem"), &key("result-decryption-rsa.pub.pem")).unwrap()
}

fn josekit_encrypter(alg: &str) -> Box<dyn jjwe::JweEncrypter> {
    let pem = recipient(alg);
    match alg {
        "RSA-OAEP" => Box::new(jjwe::RSA_OAEP.encrypter_from_pem(pem).unwrap()),
        "RSA-OAEP-256" => Box::new(jjwe::RSA_OAEP_256.encrypter_from_pem(pem).unwrap()),
        _ => Box::new(jjwe::ECDH_ES.encrypter_from_pem(pem).unwrap()),
    }
}

fn josekit_decrypter(alg: &str) -> Box<dyn jjwe::JweDecrypter> {
    match alg {
        "RSA-OAEP" => Box::new(jjwe::RSA_OAEP.decrypter_from_pem(key("result-decryption-rsa.pem")).unwrap()),
        "RSA-OAEP-256" => Box::new(jjwe::RSA_OAEP_256.decrypter_from_pem(key("result-decryption-rsa.pem")).unwrap()),
        _ => Box::new(jjwe::ECDH_ES.decrypter_from_pem(key("result-decryption-ec.pem")).unwrap()),
    }
}

fn josekit_encrypt(alg: &str, enc: &str, payload: &[u8]) -> String {
    let mut header = JweHeader::new();
    header.set_content_encryption(enc);
    jjwe::serialize_compact(payload, &header, josekit_encrypter(alg).as_ref()).unwrap()
}

// --- RFC 7520 ---------------------------------------------------------------------------------

/// RFC 7520 figure 72, the plaintext of the JWE examples (the dashes are U+2013).
const FIGURE_72: &str =
    "You can trust us to stick with you through thick and thin\u{2013}to the bitter end. And you can \
trust us to keep any secret of yours\u{2013}closer than you keep it yourself. But you cannot trust us to let you face \
trouble alone, and go off without a word. We are your friends, Frodo.";

fn rfc7520(section: &str) -> Value {
    let vectors: Value = serde_json::from_str(include_str!("rfc7520.json")).unwrap();
    vectors[section].clone()
}

fn compact_of(vector: &Value) -> String {
    vector["compact"].as_array().unwrap().iter().map(|part| part.as_str().unwrap()).collect::<Vec<_>>().join(".")
}

fn jwk(value: &Value) -> Jwk {
    Jwk::from_bytes(value.to_string()).unwrap()
}

#[test]
fn rfc7520_5_2_rsa_oaep_with_a256gcm_decrypts_to_the_plaintext() {
    let vector = rfc7520("5.2");
    let rsa = RsaKeyPair::from_jwk(&jwk(&vector["key"])).unwrap();
    let compact = compact_of(&vector);
    // The key as PKCS#8 and as PKCS#1: both load, both open the vector.
    for pem in [rsa.to_pem_private_key(), rsa.to_traditional_pem_private_key()] {
        let pem = String::from_utf8(pem).unwrap();
        let ring = KeyRing::from_pems(&[pem], &[]).unwrap();
        assert_eq!(ring.decrypt(&compact).unwrap(), FIGURE_72.as_bytes());
    }
    // The CEK the vector's encrypted key unwraps to.
    let Decrypter::Rsa(ours) = Decrypter::from_pem(&String::from_utf8(rsa.to_pem_private_key()).unwrap()).unwrap()
    else {
        panic!("an RSA key")
    };
    let encrypted_key = URL_SAFE_NO_PAD.decode(vector["compact"][1].as_str().unwrap()).unwrap();
    let mut buffer = vec![0; ours.min_output_size()];
    let cek = ours.decrypt(&rsa::OAEP_SHA1_MGF1SHA1, &encrypted_key, &mut buffer, None).unwrap();
    assert_eq!(URL_SAFE_NO_PAD.encode(cek), vector["cek"].as_str().unwrap());
}

#[test]
fn rfc7520_5_5_ecdh_es_with_a128cbc_hs256_decrypts_to_the_plaintext() {
    let vector = rfc7520("5.5");
    let ec = EcKeyPair::from_jwk(&jwk(&vector["key"])).unwrap();
    let compact = compact_of(&vector);
    // The key as PKCS#8 and as SEC1: both load, both open the vector.
    for pem in [ec.to_pem_private_key(), ec.to_traditional_pem_private_key()] {
        let pem = String::from_utf8(pem).unwrap();
        let ring = KeyRing::from_pems(&[pem], &[]).unwrap();
        assert_eq!(ring.decrypt(&compact).unwrap(), FIGURE_72.as_bytes());
    }
    // The Concat KDF gives the vector's CEK.
    let Decrypter::P256(ours) = Decrypter::from_pem(&String::from_utf8(ec.to_pem_private_key()).unwrap()).unwrap()
    else {
        panic!("a P-256 key")
    };
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(vector["epk"][name].as_str().unwrap()).unwrap();
    let point = [vec![4], coordinate("x"), coordinate("y")].concat();
    let cek = ecdh_es_cek(&ours, &point, "A128CBC-HS256", &[], &[], 32).unwrap();
    assert_eq!(URL_SAFE_NO_PAD.encode(cek), vector["cek"].as_str().unwrap());
}

// --- keys ---------------------------------------------------------------------------------------

#[test]
fn every_local_key_loads_in_its_role_and_nothing_else_does() {
    for private in ["result-decryption-rsa.pem", "result-decryption-ec.pem"] {
        assert!(KeyRing::from_pems(&[key(private)], &[]).is_ok(), "{private}");
    }
    for public in ["plugin-signing-rsa.pub.pem", "plugin-signing-ec.pub.pem"] {
        assert!(KeyRing::from_pems(&[], &[key(public)]).is_ok(), "{public}");
    }
    // The signing keys sign: `seal` takes them, and the untrusted one too.
    for signing in ["plugin-signing-rsa.pem", "plugin-signing-ec.pem", "untrusted-signing-rsa.pem"] {
        assert!(seal(&claims(), &key(signing), &recipient("RSA-OAEP")).is_ok(), "{signing}");
    }

    // A public key is no decryption key, a private key no verification key; other curves, garbage
    // and empty text are refused, each by its index.
    let p384 = String::from_utf8(EcKeyPair::generate(josekit::jwk::P_384).unwrap().to_pem_private_key()).unwrap();
    let p384_public = String::from_utf8(EcKeyPair::generate(josekit::jwk::P_384).unwrap().to_pem_public_key()).unwrap();
    for bad in [
        key("result-decryption-rsa.pub.pem"),
        key("plugin-signing-ec.pub.pem"),
        p384.clone(),
        "not pem".into(),
        String::new(),
    ] {
        let error = KeyRing::from_pems(&[key("result-decryption-ec.pem"), bad], &[]).err().unwrap();
        assert_eq!((error.what, error.index), ("the decryption keys", 1));
    }
    for bad in [key("plugin-signing-rsa.pem"), key("result-decryption-ec.pem"), p384_public, "not pem".into()] {
        let error = KeyRing::from_pems(&[], &[bad]).err().unwrap();
        assert_eq!((error.what, error.index), ("the verification keys", 0));
        assert!(!error.to_string().contains("BEGIN"), "{error}");
    }

    // PKCS#1 and SEC1 forms of our local keys decrypt what was sealed to them.
    let rsa = RsaKeyPair::from_pem(key("result-decryption-rsa.pem")).unwrap();
    let ec = EcKeyPair::from_pem(key("result-decryption-ec.pem"), None).unwrap();
    let pkcs1 = String::from_utf8(rsa.to_traditional_pem_private_key()).unwrap();
    let sec1 = String::from_utf8(ec.to_traditional_pem_private_key()).unwrap();
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----") && sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let traditional = KeyRing::from_pems(&[pkcs1, sec1], &[]).unwrap();
    for alg in ALGS {
        let compact = josekit_encrypt(alg, "A128CBC-HS256", b"traditional");
        assert_eq!(traditional.decrypt(&compact).unwrap(), b"traditional", "{alg}");
    }
}

#[test]
fn pem_bundles_are_split_into_keys() {
    let one = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    let bundle = format!("{one}{one}");
    let keys = split_pem_bundles(&[bundle, one.to_owned(), "not pem".to_owned()]);
    assert_eq!(keys.len(), 4);
    assert!(keys[0].starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(keys[3], "not pem");
}

// --- against josekit ----------------------------------------------------------------------------

/// Payloads of 0, 1, one block, and many blocks of bytes.
fn payloads() -> Vec<Vec<u8>> {
    vec![Vec::new(), b"x".to_vec(), vec![7; 16], (0..=255).cycle().take(1000).collect()]
}

#[test]
fn jwes_from_josekit_open_with_ours_for_every_alg_and_enc() {
    let ring = ring();
    for alg in ALGS {
        for enc in ENCS {
            for payload in payloads() {
                let compact = josekit_encrypt(alg, enc, &payload);
                assert_eq!(ring.decrypt(&compact).as_deref(), Ok(&payload[..]), "{alg} {enc} {} bytes", payload.len());
            }
        }
    }
}

#[test]
fn jwes_from_ours_open_with_josekit_for_every_alg_and_enc() {
    for alg in ALGS {
        for enc in ENCS {
            for payload in payloads() {
                let compact = encrypt(&payload, &recipient(alg), header(alg, enc)).unwrap();
                let (plaintext, header) = jjwe::deserialize_compact(&compact, josekit_decrypter(alg).as_ref()).unwrap();
                assert_eq!(plaintext, payload, "{alg} {enc} {} bytes", payload.len());
                assert_eq!((header.algorithm(), header.content_encryption()), (Some(alg), Some(enc)));
                assert_eq!(ring().decrypt(&compact).unwrap(), payload, "{alg} {enc}: ours opens ours");
            }
        }
    }
}

#[test]
fn seal_output_opens_and_verifies_with_josekit() {
    for (signing, verifying, jws_alg) in [
        ("plugin-signing-rsa.pem", "plugin-signing-rsa.pub.pem", "RS256"),
        ("plugin-signing-ec.pem", "plugin-signing-ec.pub.pem", "ES256"),
    ] {
        for jwe_alg in ["RSA-OAEP", "ECDH-ES"] {
            let sealed = seal(&claims(), &key(signing), &recipient(jwe_alg)).unwrap();
            let (payload, header) = jjwe::deserialize_compact(&sealed, josekit_decrypter(jwe_alg).as_ref()).unwrap();
            assert_eq!((header.algorithm(), header.content_encryption()), (Some(jwe_alg), Some("A128CBC-HS256")));
            let njwt: Value = serde_json::from_slice(&payload).unwrap();
            let verifier: Box<dyn jjws::JwsVerifier> = if jws_alg == "RS256" {
                Box::new(jjws::RS256.verifier_from_pem(key(verifying)).unwrap())
            } else {
                Box::new(jjws::ES256.verifier_from_pem(key(verifying)).unwrap())
            };
            let (inner, jws_header) =
                jjws::deserialize_compact(njwt["njwt"].as_str().unwrap(), verifier.as_ref()).unwrap();
            assert_eq!(jws_header.algorithm(), Some(jws_alg));
            assert_eq!(serde_json::from_slice::<Value>(&inner).unwrap(), claims());
            assert!(ring().open(&sealed, NOW, SKEW).is_ok(), "{signing} {jwe_alg}");
        }
    }
}

#[test]
fn results_sealed_by_josekit_open_with_ours() {
    for (signer, alg) in [
        (
            Box::new(jjws::RS256.signer_from_pem(key("plugin-signing-rsa.pem")).unwrap()) as Box<dyn jjws::JwsSigner>,
            "RSA-OAEP",
        ),
        (Box::new(jjws::ES256.signer_from_pem(key("plugin-signing-ec.pem")).unwrap()), "ECDH-ES"),
    ] {
        let njwt =
            jjws::serialize_compact(claims().to_string().as_bytes(), &JwsHeader::new(), signer.as_ref()).unwrap();
        let compact = josekit_encrypt(alg, "A128CBC-HS256", json!({ "njwt": njwt }).to_string().as_bytes());
        let result = ring().open(&compact, NOW, SKEW).unwrap();
        assert_eq!(result.status, "succes");
        assert_eq!(result.attributes["fullname"], "Jan de Vries");
        assert_eq!(result.session_url.as_deref(), Some("https://auth.example/session/1"));
    }
}

// --- tampering ----------------------------------------------------------------------------------

/// Every byte of every part flipped, and every character of every part replaced: each is refused
/// with the one JWE error. Returns how many were tried.
fn assert_every_alteration_refused(ring: &KeyRing, compact: &str) -> usize {
    let parts: Vec<String> = compact.split('.').map(str::to_owned).collect();
    let refused = |altered: &[String], what: &str| {
        assert_eq!(ring.decrypt(&altered.join(".")), Err(ResultError::Decrypt), "{what}");
    };
    let mut tried = 0;
    for (index, part) in parts.iter().enumerate() {
        let bytes = URL_SAFE_NO_PAD.decode(part).unwrap();
        for position in 0..bytes.len() {
            for flip in [0x01, 0x80] {
                let mut altered_bytes = bytes.clone();
                altered_bytes[position] ^= flip;
                let mut altered = parts.clone();
                altered[index] = URL_SAFE_NO_PAD.encode(altered_bytes);
                refused(&altered, &format!("part {index}, byte {position} ^ {flip:#x}"));
                tried += 1;
            }
        }
        // Characters too: an altered last character may only touch the unused trailing bits.
        for position in 0..part.len() {
            let original = part.as_bytes()[position];
            let mut altered = parts.clone();
            let replacement = if original == b'A' { 'B' } else { 'A' };
            altered[index].replace_range(position..=position, &replacement.to_string());
            refused(&altered, &format!("part {index}, character {position}"));
            tried += 1;
        }
        // Truncated and extended parts.
        let mut altered = parts.clone();
        altered[index] = URL_SAFE_NO_PAD.encode(&bytes[..bytes.len().saturating_sub(1)]);
        if altered[index] != parts[index] {
            refused(&altered, &format!("part {index} truncated"));
        }
        let mut altered = parts.clone();
        altered[index] = URL_SAFE_NO_PAD.encode([&bytes[..], &[0]].concat());
        refused(&altered, &format!("part {index} extended"));
    }
    // Parts missing, added, or swapped.
    refused(&parts[..4], "four parts");
    refused(&[&parts[..], &[String::new()]].concat(), "six parts");
    let mut swapped = parts.clone();
    swapped.swap(2, 4);
    refused(&swapped, "iv and tag swapped");
    tried
}

#[test]
fn any_altered_byte_of_any_part_is_refused_with_the_same_error() {
    let ring = ring();
    for jwe_alg in ["RSA-OAEP", "ECDH-ES"] {
        let sealed = seal(&claims(), &key("plugin-signing-rsa.pem"), &recipient(jwe_alg)).unwrap();
        assert!(ring.open(&sealed, NOW, SKEW).is_ok());
        let tried = assert_every_alteration_refused(&ring, &sealed);
        assert!(tried > 1000, "{jwe_alg}: {tried}");
    }
    // The GCM shape too (12-byte IV, 16-byte tag), from josekit.
    let compact = josekit_encrypt("RSA-OAEP-256", "A256GCM", b"{\"njwt\": \"x\"}");
    assert_every_alteration_refused(&ring, &compact);
}

#[test]
fn a_cek_of_the_wrong_length_is_refused_like_any_other_failure() {
    // RSA-OAEP wrapping a 16-byte key for A128CBC-HS256, which needs 32: the unwrap succeeds, the
    // length does not, and the random CEK fails at the tag.
    let public =
        rsa::PublicEncryptingKey::from_der(pem::parse(key("result-decryption-rsa.pub.pem")).unwrap().contents())
            .unwrap();
    let public = rsa::OaepPublicEncryptingKey::new(public).unwrap();
    let enc = ContentEncryption::named("A128CBC-HS256").unwrap();
    let short_cek = [9u8; 16];
    let mut wrapped = vec![0; public.ciphertext_size()];
    let wrapped = public.encrypt(&rsa::OAEP_SHA1_MGF1SHA1, &short_cek, &mut wrapped, None).unwrap().to_vec();
    let header_b64 = URL_SAFE_NO_PAD.encode(json!({"alg": "RSA-OAEP", "enc": "A128CBC-HS256"}).to_string());
    // Sealed under the short key padded to the right length, so only the length check can refuse it.
    let sealed = enc.seal(&[short_cek, short_cek].concat(), header_b64.as_bytes(), b"x").unwrap();
    let parts = [&wrapped, &sealed.iv, &sealed.ciphertext, &sealed.tag].map(|part| URL_SAFE_NO_PAD.encode(part));
    let compact = format!("{header_b64}.{}", parts.join("."));
    assert_eq!(ring().decrypt(&compact), Err(ResultError::Decrypt));
}

#[test]
fn an_altered_inner_token_is_refused() {
    let ring = ring();
    let njwt = sign(&claims(), &key("plugin-signing-rsa.pem")).unwrap();
    let wrap = |token: &str| {
        encrypt(json!({ "njwt": token }).to_string().as_bytes(), &recipient("ECDH-ES"), header("ECDH-ES", "A128GCM"))
            .unwrap()
    };
    assert!(ring.open(&wrap(&njwt), NOW, SKEW).is_ok());
    for position in 0..njwt.len() {
        let original = njwt.as_bytes()[position];
        if original == b'.' {
            continue;
        }
        let mut altered = njwt.clone();
        altered.replace_range(position..=position, if original == b'A' { "B" } else { "A" });
        let refused = ring.open(&wrap(&altered), NOW, SKEW).unwrap_err();
        assert!(matches!(refused, ResultError::Signature | ResultError::Malformed(_)), "{position}: {refused}");
    }
    // The payload of another token under this token's signature.
    let other = sign(
        &json!({"sub": "verder-helpen-attributes", "status": "succes", "iat": NOW, "exp": NOW + 1}),
        &key("plugin-signing-rsa.pem"),
    )
    .unwrap();
    let (ours, theirs): (Vec<&str>, Vec<&str>) = (njwt.split('.').collect(), other.split('.').collect());
    let spliced = [ours[0], theirs[1], ours[2]].join(".");
    assert_eq!(ring.open(&wrap(&spliced), NOW, SKEW), Err(ResultError::Signature));
    // Not signed at all, whatever the header claims.
    let unsigned = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), ours[1]);
    assert!(ring.open(&wrap(&unsigned), NOW, SKEW).is_err());
    // HS256 "signed" with a public key as the secret (the old confusion attack).
    let secret = jsonwebtoken::EncodingKey::from_secret(key("plugin-signing-rsa.pub.pem").as_bytes());
    let confused = jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), &claims(), &secret).unwrap();
    assert_eq!(ring.open(&wrap(&confused), NOW, SKEW), Err(ResultError::Signature));
    // A JWS `crit`.
    let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
    header.crit = Some(vec!["exp".into()]);
    let pkcs1 = pkcs8_private_key(pem::parse(key("plugin-signing-rsa.pem")).unwrap().contents()).unwrap().to_vec();
    let critical = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_rsa_der(&pkcs1)).unwrap();
    assert!(ring.open(&wrap(&critical), NOW, SKEW).is_err());
}

// --- keys that do not fit -----------------------------------------------------------------------

#[test]
fn a_result_for_another_key_or_from_an_untrusted_signer_is_refused() {
    let other_rsa = RsaKeyPair::generate(2048).unwrap();
    let other_ec = EcKeyPair::generate(josekit::jwk::P_256).unwrap();
    let others = KeyRing::from_pems(
        &[
            String::from_utf8(other_rsa.to_pem_private_key()).unwrap(),
            String::from_utf8(other_ec.to_pem_private_key()).unwrap(),
        ],
        &[key("plugin-signing-rsa.pub.pem")],
    )
    .unwrap();
    for alg in ALGS {
        for enc in ["A128CBC-HS256", "A256GCM"] {
            let compact = josekit_encrypt(alg, enc, b"{}");
            assert_eq!(others.decrypt(&compact), Err(ResultError::Decrypt), "{alg} {enc}");
        }
    }
    // Only an RSA key for an ECDH-ES result, only a P-256 key for an RSA-OAEP one.
    let rsa_only = KeyRing::from_pems(&[key("result-decryption-rsa.pem")], &[]).unwrap();
    let ec_only = KeyRing::from_pems(&[key("result-decryption-ec.pem")], &[]).unwrap();
    assert_eq!(rsa_only.decrypt(&josekit_encrypt("ECDH-ES", "A128GCM", b"{}")), Err(ResultError::Decrypt));
    assert_eq!(ec_only.decrypt(&josekit_encrypt("RSA-OAEP", "A128GCM", b"{}")), Err(ResultError::Decrypt));

    // Signed by a key we do not trust; signed ES256 while we trust only an RSA key.
    let untrusted = seal(&claims(), &key("untrusted-signing-rsa.pem"), &recipient("RSA-OAEP")).unwrap();
    assert_eq!(ring().open(&untrusted, NOW, SKEW), Err(ResultError::Signature));
    let rsa_trust =
        KeyRing::from_pems(&[key("result-decryption-rsa.pem")], &[key("plugin-signing-rsa.pub.pem")]).unwrap();
    let es256 = seal(&claims(), &key("plugin-signing-ec.pem"), &recipient("RSA-OAEP")).unwrap();
    assert_eq!(rsa_trust.open(&es256, NOW, SKEW), Err(ResultError::Signature));
}

#[test]
fn every_configured_key_is_tried_in_a_rotation() {
    // Old keys first, so the current ones are found only by trying on.
    let old_signer = RsaKeyPair::generate(2048).unwrap();
    let ring = KeyRing::from_pems(
        &[
            String::from_utf8(RsaKeyPair::generate(2048).unwrap().to_pem_private_key()).unwrap(),
            key("result-decryption-rsa.pem"),
            String::from_utf8(EcKeyPair::generate(josekit::jwk::P_256).unwrap().to_pem_private_key()).unwrap(),
            key("result-decryption-ec.pem"),
        ],
        &[
            String::from_utf8(old_signer.to_pem_public_key()).unwrap(),
            key("plugin-signing-rsa.pub.pem"),
            key("plugin-signing-ec.pub.pem"),
        ],
    )
    .unwrap();
    for signing in ["plugin-signing-rsa.pem", "plugin-signing-ec.pem"] {
        for alg in ["RSA-OAEP", "ECDH-ES"] {
            let sealed = seal(&claims(), &key(signing), &recipient(alg)).unwrap();
            assert!(ring.open(&sealed, NOW, SKEW).is_ok(), "{signing} {alg}");
        }
    }
}

// --- headers ------------------------------------------------------------------------------------

#[test]
fn zip_crit_and_unknown_algorithms_are_refused() {
    let ring = ring();
    let payload = json!({ "njwt": sign(&claims(), &key("plugin-signing-rsa.pem")).unwrap() }).to_string();
    // A compressed JWE as josekit writes it (the content is really deflated).
    let mut compressed = JweHeader::new();
    compressed.set_content_encryption("A128CBC-HS256");
    compressed.set_compression("DEF");
    let zipped =
        jjwe::serialize_compact(payload.as_bytes(), &compressed, josekit_encrypter("RSA-OAEP").as_ref()).unwrap();
    assert!(jjwe::deserialize_compact(&zipped, josekit_decrypter("RSA-OAEP").as_ref()).is_ok());
    assert_eq!(ring.decrypt(&zipped), Err(ResultError::Decrypt));

    // Well-formed JWEs whose only fault is a header field.
    let with = |alg: &str, field: &str, value: Value| {
        let mut header = header(alg, "A128CBC-HS256");
        header.insert(field.into(), value);
        encrypt(payload.as_bytes(), &recipient(alg), header).unwrap()
    };
    for alg in ["RSA-OAEP", "ECDH-ES"] {
        assert!(ring.open(&with(alg, "kid", json!("ours")), NOW, SKEW).is_ok(), "{alg}: an unknown field is fine");
        assert_eq!(ring.decrypt(&with(alg, "zip", json!("DEF"))), Err(ResultError::Decrypt), "{alg} zip");
        assert_eq!(ring.decrypt(&with(alg, "crit", json!(["exp"]))), Err(ResultError::Decrypt), "{alg} crit");
        assert_eq!(ring.decrypt(&with(alg, "crit", json!([]))), Err(ResultError::Decrypt), "{alg} empty crit");
    }

    // Headers we cannot or will not follow, on an otherwise good JWE.
    let good = josekit_encrypt("ECDH-ES", "A128GCM", payload.as_bytes());
    let rewritten = |change: &dyn Fn(&mut Value)| {
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let mut header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[0]).unwrap()).unwrap();
        change(&mut header);
        parts[0] = URL_SAFE_NO_PAD.encode(header.to_string());
        parts.join(".")
    };
    for change in [
        &(|h: &mut Value| h["alg"] = json!("dir")) as &dyn Fn(&mut Value),
        &|h: &mut Value| h["alg"] = json!("RSA1_5"),
        &|h: &mut Value| h["alg"] = json!("ECDH-ES+A128KW"),
        &|h: &mut Value| h["enc"] = json!("A128CBC"),
        &|h: &mut Value| h["epk"]["crv"] = json!("P-384"),
        &|h: &mut Value| h["epk"]["kty"] = json!("OKP"),
        &|h: &mut Value| h["epk"]["x"] = json!("AAAA"),
        &|h: &mut Value| {
            h.as_object_mut().unwrap().remove("epk");
        },
        &|h: &mut Value| {
            h.as_object_mut().unwrap().remove("enc");
        },
    ] {
        assert_eq!(ring.decrypt(&rewritten(change)), Err(ResultError::Decrypt));
    }
    // ECDH-ES is direct: an encrypted key part is refused.
    let mut parts: Vec<&str> = good.split('.').collect();
    parts[1] = "AAAA";
    assert_eq!(ring.decrypt(&parts.join(".")), Err(ResultError::Decrypt));
}

// --- claims -------------------------------------------------------------------------------------

#[test]
fn both_spellings_and_both_subjects_are_accepted_and_stored_as_succes() {
    let ring = ring();
    for sub in ["id-contact-attributes", "verder-helpen-attributes"] {
        for (status, stored) in [("succes", "succes"), ("success", "succes"), ("failed", "failed")] {
            let sealed = sealed_with(|c| {
                c["sub"] = json!(sub);
                c["status"] = json!(status);
            });
            let result = ring.open(&sealed, NOW, SKEW).unwrap();
            assert_eq!(result.status, stored, "{sub} {status}");
        }
    }
    // A failed result may carry no attributes and no session URL.
    let bare = sealed_with(|c| {
        c["status"] = json!("failed");
        let c = c.as_object_mut().unwrap();
        c.remove("attributes");
        c.remove("session_url");
    });
    let result = ring.open(&bare, NOW, SKEW).unwrap();
    assert_eq!((result.attributes.len(), result.session_url), (0, None));
}

#[test]
fn claims_that_break_the_rules_are_refused() {
    let ring = ring();
    let refused = |change: &dyn Fn(&mut Value)| ring.open(&sealed_with(change), NOW, SKEW).unwrap_err();
    for (what, change) in [
        (
            "no iat",
            &(|c: &mut Value| {
                c.as_object_mut().unwrap().remove("iat");
            }) as &dyn Fn(&mut Value),
        ),
        ("no exp", &|c: &mut Value| {
            c.as_object_mut().unwrap().remove("exp");
        }),
        ("no sub", &|c: &mut Value| {
            c.as_object_mut().unwrap().remove("sub");
        }),
        ("another sub", &|c: &mut Value| c["sub"] = json!("attributes")),
        ("no status", &|c: &mut Value| {
            c.as_object_mut().unwrap().remove("status");
        }),
        ("another status", &|c: &mut Value| c["status"] = json!("pending")),
        ("attributes not strings", &|c: &mut Value| c["attributes"] = json!({"age": 42})),
        ("attributes not an object", &|c: &mut Value| c["attributes"] = json!(["a"])),
        ("iat a string", &|c: &mut Value| c["iat"] = json!("yesterday")),
    ] {
        assert!(matches!(refused(change), ResultError::Malformed(_)), "{what}");
    }
    // The payload must be `{"njwt": …}`.
    let not_njwt = encrypt(br#"{"jwt": "x"}"#, &recipient("RSA-OAEP"), header("RSA-OAEP", "A128GCM")).unwrap();
    assert!(matches!(ring.open(&not_njwt, NOW, SKEW), Err(ResultError::Malformed(_))));
}

#[test]
fn exp_and_iat_are_checked_with_the_leeway_to_the_second() {
    let ring = ring();
    let open = |iat: i64, exp: i64, skew: i64| {
        ring.open(
            &sealed_with(|c| {
                c["iat"] = json!(iat);
                c["exp"] = json!(exp);
            }),
            NOW,
            skew,
        )
    };
    assert!(open(NOW - 600, NOW - SKEW, SKEW).is_ok(), "expired exactly the leeway ago");
    assert_eq!(open(NOW - 600, NOW - SKEW - 1, SKEW), Err(ResultError::Expired));
    assert!(open(NOW + SKEW, NOW + 600, SKEW).is_ok(), "issued exactly the leeway ahead");
    assert_eq!(open(NOW + SKEW + 1, NOW + 600, SKEW), Err(ResultError::NotYetValid));
    // No leeway.
    assert!(open(NOW, NOW, 0).is_ok());
    assert_eq!(open(NOW - 10, NOW - 1, 0), Err(ResultError::Expired));
    assert_eq!(open(NOW + 1, NOW + 10, 0), Err(ResultError::NotYetValid));
    // Extreme values do not overflow.
    assert_eq!(open(i64::MIN, i64::MIN, 300), Err(ResultError::Expired));
    assert_eq!(open(i64::MAX, i64::MAX, 300), Err(ResultError::NotYetValid));
}

#[test]
fn refusal_messages_carry_no_token_key_or_attribute() {
    let ring = ring();
    let sealed = sealed_with(|c| c["status"] = json!("Jan de Vries"));
    let reasons = [
        ring.open(&sealed, NOW, SKEW).unwrap_err(),
        ring.open("eyJhbGciOiJSU0EtT0FFUCJ9.x.y.z.w", NOW, SKEW).unwrap_err(),
        ring.open(&sealed_with(|_| {}), NOW + 3600, SKEW).unwrap_err(),
    ];
    for reason in reasons {
        let text = reason.to_string();
        for secret in ["Jan de Vries", "999999990", "eyJ", "BEGIN"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    assert!(!ResultError::ANSWER.contains("signature"), "the answer does not say which step failed");
}

#[test]
fn pkcs8_walker_finds_the_pkcs1_key() {
    let der = pem::parse(key("plugin-signing-rsa.pem")).unwrap().contents().to_vec();
    let pkcs1 = pkcs8_private_key(&der).unwrap();
    assert!(rsa::KeyPair::from_der(pkcs1).is_ok());
    assert_eq!(pkcs8_private_key(&der[..der.len() - 1]), None, "truncated");
    assert_eq!(pkcs8_private_key(&[]), None);
    assert_eq!(pkcs8_private_key(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None, "a length past the end");
}
