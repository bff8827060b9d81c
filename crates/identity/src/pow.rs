//! Self-hosted proof-of-work challenge (B8), required after repeated failures
//! ([`crate::lockout::pow_required`]).
//!
//! The server issues a challenge token `pow1.<id>.<bits>.<expires_ms>.<mac>` signed with HMAC,
//! so issuing is stateless. The client finds a nonce such that
//! `SHA-256(token ":" nonce)` starts with `bits` zero bits (about 2^bits hashes; one hash to
//! verify). Each challenge works once: [`verify`] returns its id and expiry, which the caller
//! records (for instance in [`SpentChallenges`]) until the challenge expires.

use sha2::{Digest, Sha256};

use crate::bounded::OrderedMap;
use crate::clock::MINUTE_MS;
use crate::random::{HmacKey, RngError, ct_eq, random_bytes};

/// Default difficulty: about 260 000 hashes, a second or two of browser JavaScript.
pub const DEFAULT_DIFFICULTY_BITS: u8 = 18;
/// Highest difficulty the server will issue or accept.
pub const MAX_DIFFICULTY_BITS: u8 = 32;
/// How long a challenge can be solved and submitted.
pub const CHALLENGE_TTL_MS: i64 = 5 * MINUTE_MS;
/// Longest nonce accepted (a decimal u64 has at most 20 digits).
pub const MAX_NONCE_CHARS: usize = 32;
/// Random bytes in a challenge id.
const CHALLENGE_ID_BYTES: usize = 16;
const PREFIX: &str = "pow1";

/// Why a challenge could not be issued or a solution was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    #[error("difficulty must be between 1 and {MAX_DIFFICULTY_BITS} bits")]
    InvalidDifficulty,
    #[error("the challenge is malformed")]
    Malformed,
    #[error("the challenge was not issued by this server")]
    BadSignature,
    #[error("the challenge has expired; request a new one")]
    Expired,
    #[error("the nonce must be 1 to {MAX_NONCE_CHARS} letters or digits")]
    MalformedNonce,
    #[error("the proof of work does not meet the required difficulty")]
    InsufficientWork,
    #[error("this challenge was already used; request a new one")]
    AlreadyUsed,
    #[error(transparent)]
    Rng(#[from] RngError),
}

/// A challenge to hand to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowChallenge {
    /// The whole token; the client hashes it and sends it back with the nonce.
    pub token: String,
    pub id: String,
    pub difficulty_bits: u8,
    pub expires_ms: i64,
}

/// A verified solution: store `id` until `expires_ms` so the challenge cannot be reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowTicket {
    pub id: String,
    pub expires_ms: i64,
}

fn signature(key: &HmacKey, id: &str, bits: u8, expires_ms: i64) -> String {
    hex::encode(key.mac(&[
        PREFIX.as_bytes(),
        id.as_bytes(),
        &[bits],
        &expires_ms.to_be_bytes(),
    ]))
}

/// Issue a challenge of `difficulty_bits`.
pub fn issue(key: &HmacKey, difficulty_bits: u8, now_ms: i64) -> Result<PowChallenge, PowError> {
    if difficulty_bits == 0 || difficulty_bits > MAX_DIFFICULTY_BITS {
        return Err(PowError::InvalidDifficulty);
    }
    let id = hex::encode(random_bytes::<CHALLENGE_ID_BYTES>()?);
    let expires_ms = now_ms.saturating_add(CHALLENGE_TTL_MS);
    let sig = signature(key, &id, difficulty_bits, expires_ms);
    let token = format!("{PREFIX}.{id}.{difficulty_bits}.{expires_ms}.{sig}");
    Ok(PowChallenge {
        token,
        id,
        difficulty_bits,
        expires_ms,
    })
}

struct Parsed<'a> {
    id: &'a str,
    bits: u8,
    expires_ms: i64,
    sig: &'a str,
}

fn parse(token: &str) -> Result<Parsed<'_>, PowError> {
    let mut parts = token.split('.');
    let (Some(PREFIX), Some(id), Some(bits), Some(expires), Some(sig), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(PowError::Malformed);
    };
    let bits: u8 = bits.parse().map_err(|_| PowError::Malformed)?;
    let expires_ms: i64 = expires.parse().map_err(|_| PowError::Malformed)?;
    if id.len() != CHALLENGE_ID_BYTES * 2 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PowError::Malformed);
    }
    Ok(Parsed {
        id,
        bits,
        expires_ms,
        sig,
    })
}

/// Number of leading zero bits of a hash.
pub fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for &byte in hash {
        if byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

fn work_bits(token: &str, nonce: &str) -> u32 {
    let digest = Sha256::new()
        .chain_update(token.as_bytes())
        .chain_update(b":")
        .chain_update(nonce.as_bytes())
        .finalize();
    leading_zero_bits(&digest)
}

/// Check a solution. Cheap: one HMAC and one SHA-256.
pub fn verify(key: &HmacKey, token: &str, nonce: &str, now_ms: i64) -> Result<PowTicket, PowError> {
    let parsed = parse(token)?;
    let expected = signature(key, parsed.id, parsed.bits, parsed.expires_ms);
    if !ct_eq(expected.as_bytes(), parsed.sig.as_bytes()) {
        return Err(PowError::BadSignature);
    }
    if parsed.bits == 0 || parsed.bits > MAX_DIFFICULTY_BITS {
        return Err(PowError::InvalidDifficulty);
    }
    if now_ms >= parsed.expires_ms {
        return Err(PowError::Expired);
    }
    if nonce.is_empty()
        || nonce.len() > MAX_NONCE_CHARS
        || !nonce.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(PowError::MalformedNonce);
    }
    if work_bits(token, nonce) < u32::from(parsed.bits) {
        return Err(PowError::InsufficientWork);
    }
    Ok(PowTicket {
        id: parsed.id.to_string(),
        expires_ms: parsed.expires_ms,
    })
}

/// Find a nonce by brute force (reference client for tests and tools; browsers run the same
/// loop in JavaScript). `None` if `max_iterations` did not suffice.
pub fn solve(token: &str, max_iterations: u64) -> Option<String> {
    let bits = parse(token).ok()?.bits;
    (0..max_iterations)
        .map(|n| n.to_string())
        .find(|nonce| work_bits(token, nonce) >= u32::from(bits))
}

/// Challenge ids already redeemed, remembered until they expire (single process; a multi-node
/// deployment records ids in the database instead).
#[derive(Debug)]
pub struct SpentChallenges {
    max_entries: usize,
    spent: OrderedMap<String, ()>,
}

impl SpentChallenges {
    /// `max_entries` bounds memory; when full, the challenge closest to expiry is forgotten
    /// first (it can only be replayed until it expires anyway).
    pub fn new(max_entries: usize) -> Self {
        Self {
            max_entries,
            spent: OrderedMap::default(),
        }
    }

    /// Mark a verified ticket used; refuses a second use.
    pub fn spend(&mut self, ticket: &PowTicket, now_ms: i64) -> Result<(), PowError> {
        self.spent.prune_through(now_ms);
        if self.spent.get(&ticket.id).is_some() {
            return Err(PowError::AlreadyUsed);
        }
        self.spent
            .insert(ticket.id.clone(), ticket.expires_ms, (), self.max_entries);
        Ok(())
    }
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

    const T0: i64 = 1_700_000_000_000;

    fn key() -> HmacKey {
        HmacKey::from_bytes([3u8; 32])
    }

    #[test]
    fn leading_zero_bit_count() {
        assert_eq!(leading_zero_bits(&[0x00, 0x00, 0x80]), 16);
        assert_eq!(leading_zero_bits(&[0x00, 0x0f]), 12);
        assert_eq!(leading_zero_bits(&[0xff]), 0);
        assert_eq!(leading_zero_bits(&[0x00, 0x00]), 16);
    }

    #[test]
    fn solve_and_verify_once() {
        let c = issue(&key(), 8, T0).unwrap();
        let nonce = solve(&c.token, 1 << 20).unwrap();
        let ticket = verify(&key(), &c.token, &nonce, T0 + 1).unwrap();
        assert_eq!(
            ticket,
            PowTicket {
                id: c.id.clone(),
                expires_ms: T0 + CHALLENGE_TTL_MS
            }
        );
        let mut spent = SpentChallenges::new(100);
        spent.spend(&ticket, T0 + 1).unwrap();
        assert_eq!(spent.spend(&ticket, T0 + 2), Err(PowError::AlreadyUsed));
    }

    #[test]
    fn insufficient_work_is_refused() {
        let c = issue(&key(), 16, T0).unwrap();
        let weak = (0u64..)
            .map(|n| n.to_string())
            .find(|n| work_bits(&c.token, n) < 16)
            .unwrap();
        assert_eq!(
            verify(&key(), &c.token, &weak, T0),
            Err(PowError::InsufficientWork)
        );
    }

    #[test]
    fn tampering_and_expiry() {
        let c = issue(&key(), 4, T0).unwrap();
        let nonce = solve(&c.token, 1 << 16).unwrap();
        let easier = c.token.replacen(".4.", ".1.", 1);
        assert_eq!(
            verify(&key(), &easier, &nonce, T0),
            Err(PowError::BadSignature)
        );
        let other = HmacKey::from_bytes([4u8; 32]);
        assert_eq!(
            verify(&other, &c.token, &nonce, T0),
            Err(PowError::BadSignature)
        );
        assert_eq!(
            verify(&key(), &c.token, &nonce, c.expires_ms),
            Err(PowError::Expired)
        );
        assert_eq!(
            verify(&key(), "pow1.zz", &nonce, T0),
            Err(PowError::Malformed)
        );
        assert_eq!(
            verify(&key(), &format!("{}.x", c.token), &nonce, T0),
            Err(PowError::Malformed)
        );
        assert_eq!(
            verify(&key(), &c.token, "", T0),
            Err(PowError::MalformedNonce)
        );
        assert_eq!(
            verify(&key(), &c.token, "a b", T0),
            Err(PowError::MalformedNonce)
        );
    }

    #[test]
    fn difficulty_bounds() {
        assert_eq!(issue(&key(), 0, T0), Err(PowError::InvalidDifficulty));
        assert_eq!(issue(&key(), 33, T0), Err(PowError::InvalidDifficulty));
        assert!(issue(&key(), DEFAULT_DIFFICULTY_BITS, T0).is_ok());
    }

    #[test]
    fn spent_set_forgets_expired_and_stays_bounded() {
        let mut spent = SpentChallenges::new(3);
        for i in 0..10 {
            let t = PowTicket {
                id: format!("{i:032x}"),
                expires_ms: T0 + 1_000 + i,
            };
            spent.spend(&t, T0).unwrap();
        }
        assert!(spent.spent.len() <= 3);
        spent
            .spend(
                &PowTicket {
                    id: "a".repeat(32),
                    expires_ms: T0 + 5_000,
                },
                T0 + 2_000,
            )
            .unwrap();
        assert_eq!(spent.spent.len(), 1);
    }
}
