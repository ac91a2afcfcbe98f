//! Secrets at rest: instance database passwords are generated here, sealed
//! with an AEAD (XChaCha20-Poly1305) under the configured key before they
//! are stored, and opened only to hand them to the executor.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::model::Secret;

/// Prefix of sealed values (room for key rotation later).
const SEALED_PREFIX: &str = "v1:";
/// Length of generated database passwords.
const PASSWORD_LEN: usize = 32;

/// What goes wrong with keys and sealed values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The configured key is not 32 bytes of hex or base64.
    #[error("the encryption key is malformed: {0}; expected 32 random bytes as 64 hex characters or base64 (generate one with `head -c32 /dev/urandom | base64`)")]
    MalformedKey(String),
    /// A sealed value does not open under the key (wrong key, or tampered).
    #[error("a stored secret cannot be decrypted with the configured key (was the key changed?)")]
    Undecryptable,
}

/// The AEAD key sealing secrets at rest.
#[derive(Clone)]
pub struct SecretKey(XChaCha20Poly1305);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(XChaCha20Poly1305::new(&bytes.into()))
    }

    /// A fresh random key, and its text form (for a new key file).
    pub fn generate() -> (Self, String) {
        let bytes: [u8; 32] = rand::random();
        (Self::from_bytes(bytes), hex::encode(bytes))
    }

    /// Parses a key file's text: 64 hex characters or base64 of 32 bytes
    /// (surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`SecretError::MalformedKey`].
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(SecretError::MalformedKey("it is empty".into()));
        }
        let bytes = if t.len() == 64 && t.bytes().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(t).map_err(|e| SecretError::MalformedKey(e.to_string()))?
        } else {
            B64.decode(t)
                .map_err(|_| SecretError::MalformedKey("it is neither hex nor base64".into()))?
        };
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| SecretError::MalformedKey(format!("it holds {} bytes, not 32", b.len())))?;
        Ok(Self::from_bytes(arr))
    }

    /// Seals `plain` for storage: `v1:` + base64(nonce ‖ ciphertext).
    pub fn seal(&self, plain: &Secret) -> String {
        let nonce: [u8; 24] = rand::random();
        let ct = self
            .0
            .encrypt(XNonce::from_slice(&nonce), plain.expose().as_bytes())
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{SEALED_PREFIX}{}", B64.encode(out))
    }

    /// Opens a value made by [`SecretKey::seal`].
    ///
    /// # Errors
    /// [`SecretError::Undecryptable`] for a wrong key, tampering or garbage.
    pub fn open(&self, sealed: &str) -> Result<Secret, SecretError> {
        let raw = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|r| r.len() > 24)
            .ok_or(SecretError::Undecryptable)?;
        let (nonce, ct) = raw.split_at(24);
        let plain = self
            .0
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SecretError::Undecryptable)
    }
}

/// A fresh database password: 32 alphanumeric characters.
pub fn generate_password() -> Secret {
    Secret::new(
        rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(PASSWORD_LEN)
            .map(char::from)
            .collect::<String>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secret_opens_with_the_same_key_only() {
        let (key, _) = SecretKey::generate();
        let (other, _) = SecretKey::generate();
        let pw = generate_password();
        let sealed = key.seal(&pw);
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains(pw.expose()));
        assert_eq!(key.open(&sealed).unwrap(), pw);
        assert_eq!(other.open(&sealed).unwrap_err(), SecretError::Undecryptable);
    }

    #[test]
    fn tampered_sealed_value_is_refused() {
        let (key, _) = SecretKey::generate();
        let mut sealed = key.seal(&Secret::new("x"));
        sealed.push('A');
        assert!(key.open(&sealed).is_err());
        assert!(key.open("plain-text").is_err());
    }

    #[test]
    fn keys_parse_from_hex_and_base64_and_malformed_keys_say_why() {
        let (_, text) = SecretKey::generate();
        assert!(SecretKey::parse(&format!("{text}\n")).is_ok());
        assert!(SecretKey::parse(&B64.encode([7u8; 32])).is_ok());
        let e = SecretKey::parse("abcd").unwrap_err();
        assert!(matches!(e, SecretError::MalformedKey(_)));
        assert!(SecretKey::parse("").is_err());
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate_password();
        assert_eq!(a.expose().len(), 32);
        assert_ne!(a, generate_password());
    }
}
