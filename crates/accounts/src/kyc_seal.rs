//! Encryption of KYC data at rest, shared by the submission side (`/api/v1/kyc*`) and the staff
//! review side (`/api/v1/admin/kyc*`), so both agree on one format and one context per value.
//!
//! Personal fields are a JSON object of strings (`full_name`, `date_of_birth`, `nationality`,
//! `residence_country`, `id_number`, ...), sealed with XChaCha20-Poly1305 under the master key.
//! The associated-data context binds each ciphertext to its applicant and application (the
//! application's submission time, known before the row id exists) and, for documents, to the
//! document kind, so a ciphertext copied to another user, application or document slot fails to
//! open.

use std::collections::BTreeMap;

use bulwark_store::{KycApplicationRow, KycDocumentRow};

use crate::crypto::{CryptoError, MasterKey};

/// The context sealing an application's personal fields.
pub fn fields_context(user_id: i64, submitted_ms: i64) -> String {
    format!("kyc:fields:{user_id}:{submitted_ms}")
}

/// The context sealing one document of an application.
pub fn document_context(user_id: i64, submitted_ms: i64, kind: &str) -> String {
    format!("kyc:document:{user_id}:{submitted_ms}:{kind}")
}

/// Why sealed KYC data could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum KycSealError {
    #[error("kyc data does not decrypt under its context: {0}")]
    Crypto(#[from] CryptoError),
    #[error("kyc fields are not a JSON object of strings: {0}")]
    Format(#[from] serde_json::Error),
}

/// Seals the personal fields of an application filed by `user_id` at `submitted_ms`.
pub fn seal_fields(
    key: &MasterKey,
    user_id: i64,
    submitted_ms: i64,
    fields: &BTreeMap<String, String>,
) -> Result<Vec<u8>, KycSealError> {
    let plain = serde_json::to_vec(fields)?;
    Ok(key.seal(&plain, &fields_context(user_id, submitted_ms))?)
}

/// Opens an application's personal fields.
pub fn open_kyc_fields(
    key: &MasterKey,
    application: &KycApplicationRow,
) -> Result<BTreeMap<String, String>, KycSealError> {
    let plain = key.open(
        &application.fields_ciphertext,
        &fields_context(application.user_id, application.submitted_ms),
    )?;
    Ok(serde_json::from_slice(&plain)?)
}

/// Seals one document image of an application filed by `user_id` at `submitted_ms`.
pub fn seal_document(
    key: &MasterKey,
    user_id: i64,
    submitted_ms: i64,
    kind: &str,
    bytes: &[u8],
) -> Result<Vec<u8>, KycSealError> {
    Ok(key.seal(bytes, &document_context(user_id, submitted_ms, kind))?)
}

/// Opens one document of `application` (the caller checks that it belongs to it).
pub fn open_kyc_document(
    key: &MasterKey,
    application: &KycApplicationRow,
    document: &KycDocumentRow,
) -> Result<Vec<u8>, KycSealError> {
    Ok(key.open(
        &document.ciphertext,
        &document_context(
            application.user_id,
            application.submitted_ms,
            &document.kind,
        ),
    )?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn application(user_id: i64, submitted_ms: i64, ciphertext: Vec<u8>) -> KycApplicationRow {
        KycApplicationRow {
            id: 1,
            user_id,
            tier_requested: 1,
            submitted_ms,
            state: "pending".into(),
            reviewer_id: None,
            decided_ms: None,
            reason: None,
            fields_ciphertext: ciphertext,
        }
    }

    #[test]
    fn fields_round_trip_and_are_bound_to_user_and_application() {
        let key = MasterKey::from_bytes(&[3_u8; 32]).unwrap();
        let mut fields = BTreeMap::new();
        fields.insert("full_name".to_string(), "Ada Lovelace".to_string());
        let sealed = seal_fields(&key, 5, 100, &fields).unwrap();
        assert_eq!(
            open_kyc_fields(&key, &application(5, 100, sealed.clone())).unwrap(),
            fields
        );
        assert!(open_kyc_fields(&key, &application(6, 100, sealed.clone())).is_err());
        assert!(open_kyc_fields(&key, &application(5, 101, sealed)).is_err());
    }

    #[test]
    fn documents_are_bound_to_their_kind() {
        let key = MasterKey::from_bytes(&[3_u8; 32]).unwrap();
        let sealed = seal_document(&key, 5, 100, "id_front", b"\x89PNG").unwrap();
        let app = application(5, 100, Vec::new());
        let mut document = KycDocumentRow {
            id: 1,
            application_id: 1,
            kind: "id_front".into(),
            content_type: "image/png".into(),
            ciphertext: sealed,
            size_bytes: 4,
        };
        assert_eq!(
            open_kyc_document(&key, &app, &document).unwrap(),
            b"\x89PNG"
        );
        document.kind = "selfie".into();
        assert!(open_kyc_document(&key, &app, &document).is_err());
    }
}
