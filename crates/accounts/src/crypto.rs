//! Encryption at rest of secrets that must be recovered in clear (API secrets, which are HMAC
//! keys): XChaCha20-Poly1305 under the operator's master key, with the row identity as
//! associated data so a ciphertext cannot be moved to another row.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use thiserror::Error;

/// Length of the master key file's content in bytes.
pub const MASTER_KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
/// Version byte in front of every ciphertext, so keys can be rotated later.
const KEY_VERSION: u8 = 1;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("master key must be {MASTER_KEY_BYTES} bytes")]
    KeyLength,
    #[error("random source failed")]
    Random,
    #[error("ciphertext is malformed or was not made for this record")]
    Decrypt,
}

/// The master key. Not `Debug`, so it cannot end up in a log line.
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, CryptoError> {
        if bytes.len() != MASTER_KEY_BYTES {
            return Err(CryptoError::KeyLength);
        }
        let cipher =
            XChaCha20Poly1305::new_from_slice(bytes).map_err(|_| CryptoError::KeyLength)?;
        Ok(MasterKey { cipher })
    }

    /// Fresh random key material for a new data directory.
    pub fn generate_bytes() -> Result<[u8; MASTER_KEY_BYTES], CryptoError> {
        random_bytes::<MASTER_KEY_BYTES>()
    }

    /// `version | nonce | ciphertext+tag`, bound to `context` (e.g. `api_keys:secret:<key>`).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = random_bytes::<NONCE_BYTES>()?;
        let nonce = XNonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(KEY_VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let (version, rest) = sealed.split_first().ok_or(CryptoError::Decrypt)?;
        if *version != KEY_VERSION || rest.len() < NONCE_BYTES {
            return Err(CryptoError::Decrypt);
        }
        let (nonce_bytes, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce_array: [u8; NONCE_BYTES] =
            nonce_bytes.try_into().map_err(|_| CryptoError::Decrypt)?;
        self.cipher
            .decrypt(
                &XNonce::from(nonce_array),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes).map_err(|_| CryptoError::Random)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seal_open_round_trip_and_context_binding() {
        let key = MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap();
        let sealed = key.seal(b"secret", "api_keys:secret:a").unwrap();
        assert_eq!(key.open(&sealed, "api_keys:secret:a").unwrap(), b"secret");
        assert_eq!(
            key.open(&sealed, "api_keys:secret:b"),
            Err(CryptoError::Decrypt)
        );
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            key.open(&tampered, "api_keys:secret:a"),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(
            MasterKey::from_bytes(&[0; 5]).err(),
            Some(CryptoError::KeyLength)
        );
    }
}
