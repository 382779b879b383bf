//! One-time PINs: drawn from the OS CSPRNG, stored only as an HMAC-SHA-256 keyed by a per-challenge
//! salt and a secret pepper.
//!
//! A PIN has at most 10^8 values, so a salted hash alone falls to brute force by anyone holding a copy
//! of the table (a backup, an export): the pepper, a stack-generated secret fetched once per process and
//! never stored beside the hashes, is what makes the copy useless.

use hmac::{KeyInit, Mac};
use rand::{rngs::StdRng, rngs::SysRng, RngExt, SeedableRng, TryRng};

use crate::platform::prefetch::Prefetched;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A PIN in memory. It has no `Display`, and `Debug` prints nothing of it, so it cannot reach a log
/// line by accident; only [`Pin::digits`] reveals it, for the SMS body and hashing.
pub struct Pin(String);

impl Pin {
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// `length` uniform decimal digits. The generator is seeded from the OS for each PIN; a failing OS
/// source is an error, not a panic.
pub fn generate(length: u8) -> Result<Pin, rand::rngs::SysError> {
    let mut rng = StdRng::try_from_rng(&mut SysRng)?;
    let digits = (0..length).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
    Ok(Pin(digits))
}

/// A fresh 16-byte salt, hex-encoded.
pub fn new_salt() -> Result<String, rand::rngs::SysError> {
    let mut salt = [0u8; 16];
    SysRng.try_fill_bytes(&mut salt)?;
    Ok(hex::encode(salt))
}

/// The secret part of the HMAC key (`PIN_PEPPER`: a `secretsmanager:` reference the stack generates).
/// `Debug` prints nothing of it.
#[derive(Clone)]
pub struct Pepper(Vec<u8>);

impl Pepper {
    /// At least 16 bytes: a short pepper would be as guessable as the PIN it protects.
    pub const MIN_BYTES: usize = 16;

    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, PepperTooShort> {
        let secret = secret.into();
        if secret.len() < Self::MIN_BYTES {
            return Err(PepperTooShort);
        }
        Ok(Self(secret))
    }

    /// Fetched from the reference in `PIN_PEPPER` from the first event on ([`Prefetched`]); the variable
    /// itself is read now, so a missing one fails the cold start.
    pub fn prefetch(
        sdk: &aws_config::SdkConfig,
        env: &crate::platform::config::Settings<'_>,
    ) -> Result<Prefetched<Self>, crate::platform::config::ConfigError> {
        let (sdk, reference) = (sdk.clone(), env.string(PEPPER_VARIABLE)?);
        Ok(Prefetched::start(move || {
            let (sdk, reference) = (sdk.clone(), reference.clone());
            async move {
                let secret = crate::platform::secrets::resolve(&sdk, PEPPER_VARIABLE, &reference).await?;
                Self::new(secret.into_bytes()).map_err(|e| crate::platform::config::ConfigError::Malformed {
                    name: PEPPER_VARIABLE.into(),
                    reason: e.to_string(),
                })
            }
        }))
    }
}

/// The variable holding the pepper's `secretsmanager:`/`ssm:` reference.
const PEPPER_VARIABLE: &str = "PIN_PEPPER";

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the PIN pepper must be at least {} bytes", Pepper::MIN_BYTES)]
pub struct PepperTooShort;

/// HMAC-SHA-256 of the PIN keyed by the salt and the pepper, hex-encoded.
pub fn hash(pepper: &Pepper, salt: &str, pin: &str) -> String {
    hex::encode(mac(pepper, salt, pin).finalize().into_bytes())
}

/// Whether `pin` hashes to `expected_hex`, compared in constant time.
pub fn matches(pepper: &Pepper, salt: &str, pin: &str, expected_hex: &str) -> bool {
    match hex::decode(expected_hex) {
        Ok(expected) => mac(pepper, salt, pin).verify_slice(&expected).is_ok(),
        Err(_) => false,
    }
}

fn mac(pepper: &Pepper, salt: &str, pin: &str) -> HmacSha256 {
    // Key = salt || pepper; the salt has a fixed length (32 hex digits), so the split is unambiguous.
    let key = [salt.as_bytes(), &pepper.0].concat();
    // HMAC takes keys of any length, so this cannot fail; fall back to an empty key just in case.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&key)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
    mac.update(pin.as_bytes());
    mac
}

/// What the caller keyed, normalised: trimmed, a trailing `#` dropped.
pub fn normalise_input(input: &str) -> &str {
    let input = input.trim();
    input.strip_suffix('#').unwrap_or(input).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_have_the_requested_length_and_only_digits() {
        for length in 4..=8 {
            let pin = generate(length).unwrap();
            assert_eq!(pin.digits().len(), usize::from(length));
            assert!(pin.digits().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn digits_are_roughly_uniform() {
        // 60 000 digits: each digit expects 6 000; 5 sigma is about 370.
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            for b in generate(6).unwrap().digits().bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        for (digit, count) in counts.iter().enumerate() {
            assert!((5_630..=6_370).contains(count), "digit {digit} drawn {count} times");
        }
    }

    #[test]
    fn pin_and_pepper_debug_say_what_they_are_and_nothing_of_their_value() {
        let pin = generate(6).unwrap();
        assert!(!format!("{pin:?}").contains(pin.digits()));
        // Exactly this: a log line still shows that a PIN (or the pepper) was there.
        assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
        assert_eq!(
            format!("{:?}", pepper("a-pepper-long-enough-for-the-minimum-length-0123456789")),
            "Pepper(<redacted>)"
        );
    }

    fn pepper(text: &str) -> Pepper {
        Pepper::new(text.as_bytes()).unwrap()
    }

    #[test]
    fn hash_matches_only_the_same_pin_salt_and_pepper() {
        let salt = new_salt().unwrap();
        let other_salt = new_salt().unwrap();
        assert_ne!(salt, other_salt);
        let ours = pepper("a pepper of sixteen+ bytes");
        let stored = hash(&ours, &salt, "123456");
        assert!(matches(&ours, &salt, "123456", &stored));
        assert!(!matches(&ours, &salt, "123457", &stored));
        assert!(!matches(&ours, &other_salt, "123456", &stored));
        assert!(!matches(&ours, &salt, "123456", "not hex"));
        assert!(!stored.contains("123456"));
        // A copy of the table (salt + hash) is not enough: without the pepper the right PIN does not match.
        let guess = pepper("another pepper, also long");
        assert!(!matches(&guess, &salt, "123456", &stored));
        assert_ne!(hash(&guess, &salt, "123456"), stored);
    }

    #[test]
    fn short_peppers_are_refused_and_never_printed() {
        assert!(Pepper::new(b"too short".to_vec()).is_err());
        let secret = "sixteen-byte-secret-value";
        assert!(!format!("{:?}", pepper(secret)).contains(secret));
    }

    #[test]
    fn input_normalisation() {
        assert_eq!(normalise_input(" 123456# "), "123456");
        assert_eq!(normalise_input("123456"), "123456");
        assert_eq!(normalise_input("#"), "");
    }
}
