//! KYC, the user side: `GET /api/v1/kyc` (tier, latest application, limits, what the account
//! may do from here), `POST /api/v1/kyc/l1` (identity data and an ID document image) and
//! `POST /api/v1/kyc/l2` (proof of address and a selfie; needs L1).
//!
//! Images travel as standard base64 inside JSON, are accepted as PNG or JPEG by their magic
//! bytes only, at most 5 MiB each once decoded; these two routes read bodies up to
//! [`KYC_BODY_BYTES_MAX`] (every other route keeps the small limit). Personal fields and images
//! are sealed with the master key bound to the applicant and the application
//! ([`crate::kyc_seal`]) before they reach the store. One application may be pending at a
//! time; every refusal has its own code and changes nothing. Staff review lives elsewhere.

use crate::Kind;
use std::collections::BTreeMap;

use base64::Engine as _;
use bulwark_identity::kyc::{self, KYC_IMAGE_BYTES_MAX, KycInputError, KycTier};
use bulwark_store::{DeclaredResidence, KycProfile, NewKycApplication, NewKycDocument, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::access::{region_message, tier_of};
use crate::kyc_seal;
use crate::service::Service;
use crate::sessions::Authed;

/// Largest body of the two submission routes: two base64 images of 5 MiB plus the fields.
pub const KYC_BODY_BYTES_MAX: usize = 15 * 1024 * 1024;
/// Longest base64 text of one image (5 MiB decoded, with padding).
const IMAGE_BASE64_CHARS_MAX: usize = KYC_IMAGE_BYTES_MAX.div_ceil(3) * 4;

/// Document kinds as stored.
pub mod document_kind {
    pub const ID_DOCUMENT: &str = "id_document";
    pub const PROOF_OF_ADDRESS: &str = "proof_of_address";
    pub const SELFIE: &str = "selfie";
}

/// Standard base64 (with padding) of an image, as the submission routes expect it.
pub fn encode_image(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn input_error(error: &KycInputError) -> Error {
    Error::bad_request(error.code(), error.to_string())
}

/// Decodes and checks one base64 image field.
fn image(field: &'static str, text: &str) -> crate::Result<(kyc::ImageKind, Vec<u8>)> {
    let text = text.trim();
    if text.len() > IMAGE_BASE64_CHARS_MAX {
        return Err(input_error(&KycInputError::ImageTooLarge { field }));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| {
            Error::bad_request(
                "invalid_base64",
                format!("{field} must be the image file encoded as standard base64"),
            )
        })?;
    let kind = kyc::check_image(field, &bytes).map_err(|e| input_error(&e))?;
    Ok((kind, bytes))
}

fn application_json(row: &bulwark_store::KycApplicationRow) -> Value {
    json!({
        "id": row.id,
        "tier_requested": tier_of(row.tier_requested).as_str(),
        "state": row.state,
        "reason": row.reason,
        "submitted_ms": row.submitted_ms,
        "decided_ms": row.decided_ms,
    })
}

async fn profile(state: &Service, user_id: i64) -> crate::Result<KycProfile> {
    state
        .store
        .kyc_profile(user_id)
        .await?
        .ok_or_else(|| Error::internal("kyc profile", "session of a missing user"))
}

/// `GET /api/v1/kyc`.
pub async fn status(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let profile = profile(state, authed.user_id).await?;
    let access = state.accounts.access();
    let tier = tier_of(profile.kyc_tier);
    let restriction = access.restriction(authed.client.country.as_deref(), &profile);
    let permissions = access.permissions(authed.client.country.as_deref(), &profile);
    let applications = state
        .store
        .list_user_kyc_applications(authed.user_id)
        .await?;
    let latest = applications.first();
    let pending = latest.is_some_and(|a| a.state == bulwark_store::kyc_state::PENDING);
    let usdt = |micros: u64| (micros / kyc::USDT_MICROS).to_string();
    Ok(json!({
        "tier": tier.as_str(),
        "residence_country": profile.residence_country,
        "residence_subdivision": profile.residence_subdivision,
        "request_country": authed.client.country,
        "region_restricted": restriction.is_restricted(),
        "restriction": restriction.is_restricted().then(|| region_message(&restriction)),
        "permissions": permissions,
        "limits": {
            "withdraw_24h_usdt": usdt(access.withdraw_limit_usdt_micros(tier)),
            "l1_withdraw_24h_usdt": usdt(access.withdraw_limit_usdt_micros(KycTier::L1)),
            "l2_withdraw_24h_usdt": usdt(access.withdraw_limit_usdt_micros(KycTier::L2)),
        },
        "application": latest.map(application_json),
        "can_apply": {
            "l1": tier == KycTier::L0 && !pending,
            "l2": tier == KycTier::L1 && !pending,
        },
    }))
}

/// Body of `POST /api/v1/kyc/l1`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L1Request {
    pub full_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// ISO 3166-1 alpha-2.
    pub nationality: String,
    /// ISO 3166-1 alpha-2.
    pub residence_country: String,
    /// ISO 3166-2 ("US-NY" or "NY"), optional.
    #[serde(default)]
    pub residence_subdivision: Option<String>,
    pub id_number: String,
    /// The ID document image, base64 PNG or JPEG.
    pub id_document: String,
}

/// Body of `POST /api/v1/kyc/l2`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L2Request {
    /// A proof of address (utility bill, bank statement), base64 PNG or JPEG.
    pub proof_of_address: String,
    /// A selfie holding the ID document, base64 PNG or JPEG.
    pub selfie: String,
}

fn check_text_lengths(fields: &[(&str, &str, usize)]) -> crate::Result<()> {
    for (name, value, max) in fields {
        crate::validate::check_len(name, value, *max)?;
    }
    Ok(())
}

/// Refuses when the account is not at `required` (for L2) or already past `target`, or when
/// an application is pending.
async fn check_can_apply(
    state: &Service,
    user_id: i64,
    profile: &KycProfile,
    target: KycTier,
) -> crate::Result<()> {
    let tier = tier_of(profile.kyc_tier);
    if tier >= target {
        return Err(Error::new(
            Kind::Conflict,
            "already_verified",
            format!("This account is already verified at {}", tier.as_str()),
        ));
    }
    if target == KycTier::L2 && tier < KycTier::L1 {
        return Err(Error::new(
            Kind::Forbidden,
            "kyc_l1_required",
            "Level L2 needs an approved L1 verification first",
        ));
    }
    let pending = state
        .store
        .list_user_kyc_applications(user_id)
        .await?
        .iter()
        .any(|a| a.state == bulwark_store::kyc_state::PENDING);
    if pending {
        return Err(pending_error());
    }
    Ok(())
}

fn pending_error() -> Error {
    Error::new(
        Kind::Conflict,
        "application_pending",
        "An application is already waiting for review; wait for the decision before applying again",
    )
}

fn region_refusal(region: &str) -> Error {
    Error::new(
        Kind::Forbidden,
        "region_restricted",
        format!(
            "Residents of {region} cannot be verified: it is a restricted region (you may still \
             view your account and withdraw)"
        ),
    )
}

fn seal_error(error: kyc_seal::KycSealError) -> Error {
    Error::internal("kyc seal", error)
}

async fn file(
    state: &Service,
    authed: &Authed,
    tier: KycTier,
    now_ms: i64,
    fields: &BTreeMap<String, String>,
    images: &[(&str, kyc::ImageKind, Vec<u8>)],
    residence: Option<&DeclaredResidence>,
) -> crate::Result<i64> {
    let key = &state.master_key;
    let user_id = authed.user_id;
    let fields_ciphertext =
        kyc_seal::seal_fields(key, user_id, now_ms, fields).map_err(seal_error)?;
    let mut documents = Vec::with_capacity(images.len());
    for (kind, image_kind, bytes) in images {
        documents.push(NewKycDocument {
            kind: (*kind).to_string(),
            content_type: image_kind.content_type().to_string(),
            ciphertext: kyc_seal::seal_document(key, user_id, now_ms, kind, bytes)
                .map_err(seal_error)?,
            size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        });
    }
    let application = NewKycApplication {
        user_id,
        tier_requested: match tier {
            KycTier::L2 => 2,
            _ => 1,
        },
        submitted_ms: now_ms,
        fields_ciphertext,
    };
    let id = match state
        .store
        .submit_kyc_with_residence(&application, &documents, residence)
        .await
    {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => return Err(pending_error()),
        Err(other) => return Err(other.into()),
    };
    state
        .store
        .record_security_event(&bulwark_store::NewSecurityEvent {
            user_id,
            at_ms: now_ms,
            kind: format!("kyc_{}_submitted", tier.as_str().to_ascii_lowercase()),
            ip: Some(authed.client.ip.to_string()),
            detail: Some(format!("application {id}")),
        })
        .await?;
    Ok(id)
}

fn submitted(id: i64, tier: KycTier, now_ms: i64) -> Value {
    json!({
        "id": id,
        "tier_requested": tier.as_str(),
        "state": bulwark_store::kyc_state::PENDING,
        "submitted_ms": now_ms,
    })
}

/// `POST /api/v1/kyc/l1`.
pub async fn submit_l1(
    state: &Service,
    authed: &Authed,
    request: L1Request,
) -> crate::Result<Value> {
    check_text_lengths(&[
        ("full_name", &request.full_name, 200),
        ("date_of_birth", &request.date_of_birth, 32),
        ("nationality", &request.nationality, 8),
        ("residence_country", &request.residence_country, 8),
        (
            "residence_subdivision",
            request.residence_subdivision.as_deref().unwrap_or(""),
            16,
        ),
        ("id_number", &request.id_number, 64),
    ])?;
    let now_ms = state.accounts.now_ms();
    let bad = |e: KycInputError| input_error(&e);
    let full_name = kyc::normalize_full_name(&request.full_name).map_err(bad)?;
    let birth = kyc::parse_date_of_birth(&request.date_of_birth, now_ms).map_err(bad)?;
    let nationality = kyc::parse_iso_country("nationality", &request.nationality).map_err(bad)?;
    let residence =
        kyc::parse_iso_country("residence_country", &request.residence_country).map_err(bad)?;
    let subdivision = match request.residence_subdivision.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(kyc::parse_subdivision(&residence, text).map_err(bad)?),
    };
    let id_number = kyc::normalize_id_number(&request.id_number).map_err(bad)?;
    let (image_kind, image_bytes) = image("id_document", &request.id_document)?;
    let access = state.accounts.access();
    if access.residence_restricted(&residence, subdivision.as_deref()) {
        return Err(region_refusal(
            subdivision.as_deref().unwrap_or(residence.as_str()),
        ));
    }
    let profile = profile(state, authed.user_id).await?;
    check_can_apply(state, authed.user_id, &profile, KycTier::L1).await?;
    let mut fields = BTreeMap::new();
    fields.insert("full_name".to_string(), full_name);
    fields.insert("date_of_birth".to_string(), birth.to_string());
    fields.insert("nationality".to_string(), nationality);
    fields.insert("residence_country".to_string(), residence.clone());
    if let Some(sub) = &subdivision {
        fields.insert("residence_subdivision".to_string(), sub.clone());
    }
    fields.insert("id_number".to_string(), id_number);
    let declared = DeclaredResidence {
        country: residence,
        subdivision,
    };
    let id = file(
        state,
        authed,
        KycTier::L1,
        now_ms,
        &fields,
        &[(document_kind::ID_DOCUMENT, image_kind, image_bytes)],
        Some(&declared),
    )
    .await?;
    Ok(submitted(id, KycTier::L1, now_ms))
}

/// `POST /api/v1/kyc/l2`.
pub async fn submit_l2(
    state: &Service,
    authed: &Authed,
    request: L2Request,
) -> crate::Result<Value> {
    let (address_kind, address) = image("proof_of_address", &request.proof_of_address)?;
    let (selfie_kind, selfie) = image("selfie", &request.selfie)?;
    let now_ms = state.accounts.now_ms();
    let profile = profile(state, authed.user_id).await?;
    if let Some(country) = profile.residence_country.as_deref()
        && state
            .accounts
            .access()
            .residence_restricted(country, profile.residence_subdivision.as_deref())
    {
        return Err(region_refusal(
            profile.residence_subdivision.as_deref().unwrap_or(country),
        ));
    }
    check_can_apply(state, authed.user_id, &profile, KycTier::L2).await?;
    let id = file(
        state,
        authed,
        KycTier::L2,
        now_ms,
        &BTreeMap::new(),
        &[
            (document_kind::PROOF_OF_ADDRESS, address_kind, address),
            (document_kind::SELFIE, selfie_kind, selfie),
        ],
        None,
    )
    .await?;
    Ok(submitted(id, KycTier::L2, now_ms))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn images_decode_and_sniff() {
        let png = b"\x89PNG\r\n\x1a\n0000";
        let (kind, bytes) = image("id_document", &encode_image(png)).unwrap();
        assert_eq!(kind, kyc::ImageKind::Png);
        assert_eq!(bytes, png);
        assert_eq!(
            image("id_document", "***").unwrap_err().code,
            "invalid_base64"
        );
        assert_eq!(
            image("id_document", &encode_image(b"GIF89a..."))
                .unwrap_err()
                .code,
            "unsupported_image"
        );
        assert_eq!(image("selfie", "").unwrap_err().code, "empty_image");
        let huge = "A".repeat(IMAGE_BASE64_CHARS_MAX + 4);
        assert_eq!(image("selfie", &huge).unwrap_err().code, "image_too_large");
    }
}
