//! Signed, hash-chained transparency reports. A report is published as exact bytes; its
//! signature is over those bytes and each report names the SHA-256 of the one before, so a
//! report cannot be altered, dropped or reordered after publication without a verifier seeing
//! it. Only the fields a verifier needs are read here; the rest is the report's content.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::proof::RootRef;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("the public key is not 32 bytes of hex")]
    BadKey,
    #[error("the signature is not 64 bytes of hex")]
    BadSignatureEncoding,
    #[error("the signature does not match the report's bytes and the key")]
    BadSignature,
    #[error("the report is not valid JSON with seq and prev_sha256: {0}")]
    Malformed(String),
    #[error("the first report must have prev_sha256 null")]
    FirstHasPrev,
    #[error("report {0} has no prev_sha256")]
    MissingPrev(u64),
    #[error("the previous report is {prev}, not {expected}")]
    NotConsecutive { prev: u64, expected: u64 },
    #[error("prev_sha256 is {claimed} but the previous report's bytes hash to {actual}")]
    ChainBroken { claimed: String, actual: String },
}

/// What a verifier reads from a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSummary {
    pub seq: u64,
    pub prev_sha256: Option<String>,
    /// Hex SHA-256 of the report's exact bytes (what the next report names).
    pub sha256: String,
    /// Per asset, the proof-of-liabilities root.
    pub roots: BTreeMap<String, RootRef>,
}

#[derive(Deserialize)]
struct Liability {
    root: RootRef,
}

#[derive(Deserialize)]
struct Head {
    seq: u64,
    prev_sha256: Option<String>,
    #[serde(default)]
    proof_of_liabilities: BTreeMap<String, Liability>,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads a report's chain fields and roots without checking a signature.
pub fn summarize(bytes: &[u8]) -> Result<ReportSummary, ReportError> {
    let head: Head =
        serde_json::from_slice(bytes).map_err(|e| ReportError::Malformed(e.to_string()))?;
    if head.seq == 0 {
        return Err(ReportError::Malformed("seq starts at 1".into()));
    }
    Ok(ReportSummary {
        seq: head.seq,
        prev_sha256: head.prev_sha256,
        sha256: sha256_hex(bytes),
        roots: head
            .proof_of_liabilities
            .into_iter()
            .map(|(asset, l)| (asset, l.root))
            .collect(),
    })
}

/// Signs a report's exact bytes; answers the hex signature.
pub fn sign_report(key: &SigningKey, bytes: &[u8]) -> String {
    hex::encode(key.sign(bytes).to_bytes())
}

fn fixed<const N: usize>(text: &str) -> Option<[u8; N]> {
    <[u8; N]>::try_from(hex::decode(text.trim()).ok()?.as_slice()).ok()
}

/// Checks the signature over `bytes` with `key_hex` and, when the previous report's bytes are
/// given, that this report follows it. The first report (seq 1) must name no previous one.
pub fn verify_report(
    bytes: &[u8],
    signature_hex: &str,
    key_hex: &str,
    prev: Option<&[u8]>,
) -> Result<ReportSummary, ReportError> {
    let key = fixed::<32>(key_hex)
        .and_then(|k| VerifyingKey::from_bytes(&k).ok())
        .ok_or(ReportError::BadKey)?;
    let signature = fixed::<64>(signature_hex).ok_or(ReportError::BadSignatureEncoding)?;
    key.verify_strict(bytes, &Signature::from_bytes(&signature))
        .map_err(|_| ReportError::BadSignature)?;
    let summary = summarize(bytes)?;
    match (&summary.prev_sha256, summary.seq) {
        (Some(_), 1) => return Err(ReportError::FirstHasPrev),
        (None, seq) if seq > 1 => return Err(ReportError::MissingPrev(seq)),
        _ => {}
    }
    if let Some(prev) = prev {
        let before = summarize(prev)?;
        let expected = summary.seq.saturating_sub(1);
        if before.seq != expected {
            return Err(ReportError::NotConsecutive {
                prev: before.seq,
                expected,
            });
        }
        let claimed = summary.prev_sha256.clone().unwrap_or_default();
        if claimed != before.sha256 {
            return Err(ReportError::ChainBroken {
                claimed,
                actual: before.sha256,
            });
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn public() -> String {
        hex::encode(key().verifying_key().to_bytes())
    }

    #[test]
    fn a_chain_of_signed_reports_verifies_and_tampering_does_not() {
        let first = br#"{"seq":1,"prev_sha256":null,"proof_of_liabilities":{"BTC":{"root":{"hash":"00","sum":"5"}}}}"#.to_vec();
        let second = format!(r#"{{"seq":2,"prev_sha256":"{}"}}"#, sha256_hex(&first)).into_bytes();
        let (s1, s2) = (sign_report(&key(), &first), sign_report(&key(), &second));
        let summary = verify_report(&first, &s1, &public(), None).unwrap();
        assert_eq!(summary.roots["BTC"].sum, "5");
        assert_eq!(
            verify_report(&second, &s2, &public(), Some(&first))
                .unwrap()
                .seq,
            2
        );

        // One byte changed: the signature fails.
        let mut altered = first.clone();
        altered[10] = b'9';
        assert_eq!(
            verify_report(&altered, &s1, &public(), None),
            Err(ReportError::BadSignature)
        );
        // Someone else's key, a malformed signature.
        let other = hex::encode(
            SigningKey::from_bytes(&[8u8; 32])
                .verifying_key()
                .to_bytes(),
        );
        assert_eq!(
            verify_report(&first, &s1, &other, None),
            Err(ReportError::BadSignature)
        );
        assert_eq!(
            verify_report(&first, "abcd", &public(), None),
            Err(ReportError::BadSignatureEncoding)
        );
        // A previous report that is not the one this report names.
        let forged = br#"{"seq":1,"prev_sha256":null,"extra":1}"#.to_vec();
        assert!(matches!(
            verify_report(&second, &s2, &public(), Some(&forged)),
            Err(ReportError::ChainBroken { .. })
        ));
        assert!(matches!(
            verify_report(&second, &s2, &public(), Some(&second)),
            Err(ReportError::NotConsecutive { .. })
        ));
        // Chain fields that contradict themselves are refused even when signed.
        let orphan = br#"{"seq":3,"prev_sha256":null}"#;
        let so = sign_report(&key(), orphan);
        assert_eq!(
            verify_report(orphan, &so, &public(), None),
            Err(ReportError::MissingPrev(3))
        );
    }
}
