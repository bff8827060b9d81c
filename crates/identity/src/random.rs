//! Randomness, hashing and text encodings shared by the identity modules.
//!
//! Every secret in this crate (codes, tokens, nonces, salts) comes from the operating system's
//! CSPRNG through [`random_bytes`]; a failure is reported as an error rather than a panic so a
//! broken entropy source turns into a refused request, never a crash or a weak secret.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The operating system's random number generator could not produce bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed; no secret was generated")]
pub struct RngError;

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RngError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| RngError)?;
    Ok(out)
}

/// A uniformly random string of `len` characters drawn from `alphabet` (at most 256 symbols).
///
/// Rejection sampling keeps every symbol equally likely, so a 6-digit code really has 10^6
/// values (ASVS 5 6.5.4 counts on the full entropy).
pub fn random_string(alphabet: &[u8], len: usize) -> Result<String, RngError> {
    let n = alphabet.len();
    if n == 0 || n > 256 {
        return Err(RngError);
    }
    // Largest multiple of n below 256: bytes at or above it would bias the low symbols.
    let limit = 256 - (256 % n);
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let batch: [u8; 32] = random_bytes()?;
        for b in batch {
            if out.len() == len {
                break;
            }
            if usize::from(b) < limit
                && let Some(&c) = alphabet.get(usize::from(b) % n)
            {
                out.push(char::from(c));
            }
        }
    }
    Ok(out)
}

/// `len` random decimal digits.
pub fn random_digits(len: usize) -> Result<String, RngError> {
    random_string(b"0123456789", len)
}

/// SHA-256: the storage form of high-entropy tokens (sessions, links, QR secrets), where a plain
/// hash suffices because the token itself cannot be guessed. Returned as a `Vec` because that is
/// how the store's `BLOB`/`BYTEA` columns take it.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// Lower-case hex of SHA-256, for text columns and logs.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Equality that takes the same time wherever the first difference is, for comparing secrets or
/// their hashes (length differences are not hidden; lengths here are public).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Bytes in a server-side HMAC key.
pub const HMAC_KEY_BYTES: usize = 32;

/// A server secret for HMAC-SHA256 (one-time code storage, proof-of-work signatures). `Debug` is
/// redacted so the key never reaches logs.
#[derive(Clone)]
pub struct HmacKey([u8; HMAC_KEY_BYTES]);

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(<redacted>)")
    }
}

impl HmacKey {
    /// A key from configured bytes (the operator's master secret or a key derived from it).
    pub fn from_bytes(bytes: [u8; HMAC_KEY_BYTES]) -> Self {
        Self(bytes)
    }

    /// A fresh random key (dev mode and tests).
    pub fn generate() -> Result<Self, RngError> {
        Ok(Self(random_bytes()?))
    }

    /// HMAC-SHA256 over `parts`, each prefixed with its length so that ("ab", "c") and
    /// ("a", "bc") can never produce the same MAC.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        // HMAC accepts keys of any length, so construction cannot fail for a 32-byte key.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            return [0u8; 32];
        };
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Unpadded base64url (RFC 4648 §5): tokens that go into URLs and cookies unescaped.
pub fn base64url(data: &[u8]) -> String {
    encode_bits(data, 6, BASE64URL)
}

/// Unpadded base32 (RFC 4648 §6, upper case): codes people type, with no 0/1/8/9 to confuse.
pub fn base32(data: &[u8]) -> String {
    encode_bits(data, 5, BASE32)
}

fn encode_bits(data: &[u8], bits_per_char: u32, alphabet: &[u8]) -> String {
    let mask = (1u32 << bits_per_char) - 1;
    let mut out = String::with_capacity(data.len() * 8 / bits_per_char as usize + 1);
    let mut acc: u32 = 0;
    let mut acc_bits: u32 = 0;
    let mut push = |index: u32| {
        if let Some(&c) = alphabet.get(index as usize) {
            out.push(char::from(c));
        }
    };
    for &byte in data {
        acc = (acc << 8) | u32::from(byte);
        acc_bits += 8;
        while acc_bits >= bits_per_char {
            acc_bits -= bits_per_char;
            push((acc >> acc_bits) & mask);
        }
        acc &= (1u32 << acc_bits) - 1;
    }
    if acc_bits > 0 {
        push((acc << (bits_per_char - acc_bits)) & mask);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn rfc4648_base64url_vectors() {
        // RFC 4648 §10 vectors, without padding.
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
        ];
        for (input, want) in cases {
            assert_eq!(base64url(input.as_bytes()), want);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn rfc4648_base32_vectors() {
        let cases = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (input, want) in cases {
            assert_eq!(base32(input.as_bytes()), want);
        }
        // 10 bytes = 80 bits = exactly 16 characters (recovery codes).
        assert_eq!(base32(&[0u8; 10]).len(), 16);
    }

    #[test]
    fn random_digits_have_requested_shape() {
        for _ in 0..50 {
            let code = random_digits(6).unwrap();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn random_digits_cover_every_digit() {
        let many = random_digits(2_000).unwrap();
        for d in b'0'..=b'9' {
            assert!(
                many.bytes().any(|b| b == d),
                "digit {} never drawn",
                char::from(d)
            );
        }
    }

    #[test]
    fn random_bytes_differ() {
        let a: [u8; 32] = random_bytes().unwrap();
        let b: [u8; 32] = random_bytes().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn empty_alphabet_is_an_error() {
        assert_eq!(random_string(b"", 3), Err(RngError));
    }

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hmac_parts_are_unambiguous() {
        let key = HmacKey::from_bytes([7u8; 32]);
        assert_ne!(key.mac(&[b"ab", b"c"]), key.mac(&[b"a", b"bc"]));
        assert_eq!(key.mac(&[b"x"]), key.mac(&[b"x"]));
        let other = HmacKey::from_bytes([8u8; 32]);
        assert_ne!(key.mac(&[b"x"]), other.mac(&[b"x"]));
        assert_eq!(format!("{key:?}"), "HmacKey(<redacted>)");
    }

    #[test]
    fn ct_eq_compares_content_and_length() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
