//! Evidence files of a claim: the claimant attaches PNG, JPEG or PDF files (recognised by
//! their first bytes, never by the name or a declared type) while the claim is still being
//! looked at; each is sealed with the master key, bound to the claim and the file's digest,
//! before the store sees it. Staff who review claims download them; each download is audited.

use base64::Engine as _;
use bulwark_accounts::sessions::Authed;
use bulwark_store::EvidenceMeta;
use serde::Deserialize;

use crate::claims::ClaimView;
use crate::error::{SafeguardError, SafeguardResult, invalid};
use crate::service::Safeguard;

/// Largest evidence file (decoded).
pub const EVIDENCE_BYTES_MAX: usize = 5 * 1024 * 1024;
/// Largest request body of an upload: the file as base64 plus its name.
pub const EVIDENCE_BODY_BYTES_MAX: usize = EVIDENCE_BYTES_MAX.div_ceil(3) * 4 + 4 * 1024;
/// Most files one claim holds.
pub const EVIDENCE_FILES_MAX: i64 = 5;
/// Longest file name kept.
const NAME_MAX: usize = 100;
/// States in which a claim still takes evidence.
const OPEN_STATES: [&str; 5] = [
    "submitted",
    "acknowledged",
    "investigating",
    "needs_info",
    "appealed",
];

/// An upload: the file's name and its bytes as standard base64.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Upload {
    pub name: String,
    pub content_base64: String,
}

/// The content type of an accepted file, from its first bytes.
fn content_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        return Some("application/pdf");
    }
    bulwark_identity::kyc::check_image("file", bytes)
        .ok()
        .map(bulwark_identity::kyc::ImageKind::content_type)
}

fn seal_context(claim_id: i64, sha256: &str) -> String {
    format!("claim_evidence:{claim_id}:{sha256}")
}

impl Safeguard {
    /// Attaches a base64-encoded file (the JSON API) to one of the user's open claims.
    pub async fn add_evidence(
        &self,
        user_id: i64,
        claim_id: i64,
        upload: Upload,
    ) -> SafeguardResult<ClaimView> {
        let text = upload.content_base64.trim();
        if text.len() > EVIDENCE_BODY_BYTES_MAX {
            return Err(too_large());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| {
                invalid(
                    "invalid_base64",
                    "content_base64 must be the file encoded as standard base64",
                )
            })?;
        self.attach_evidence(user_id, claim_id, &upload.name, bytes)
            .await
    }

    /// Attaches a file to one of the user's open claims; answers the claim as it is now.
    pub async fn attach_evidence(
        &self,
        user_id: i64,
        claim_id: i64,
        name: &str,
        bytes: Vec<u8>,
    ) -> SafeguardResult<ClaimView> {
        let view = self.my_claim(user_id, claim_id).await?;
        if !OPEN_STATES.contains(&view.claim.state.as_str()) {
            return Err(invalid(
                "wrong_state",
                format!(
                    "the claim is {} and takes no more evidence",
                    view.claim.state
                ),
            ));
        }
        let name = name.trim().to_owned();
        let n = name.chars().count();
        if n == 0
            || n > NAME_MAX
            || name
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err(invalid(
                "invalid_name",
                format!("the file name must be 1 to {NAME_MAX} characters without slashes"),
            ));
        }
        if bytes.len() > EVIDENCE_BYTES_MAX {
            return Err(too_large());
        }
        let content_type = content_type(&bytes).ok_or_else(|| {
            invalid(
                "invalid_evidence_type",
                "evidence must be a PNG or JPEG image or a PDF document",
            )
        })?;
        let sha256 = bulwark_por::sha256_hex(&bytes);
        let sealed = self
            .accounts()
            .master_key
            .seal(&bytes, &seal_context(claim_id, &sha256))
            .map_err(|e| SafeguardError::Internal(format!("sealing evidence: {e}")))?;
        let meta = EvidenceMeta {
            id: 0,
            claim_id,
            name,
            content_type: content_type.to_owned(),
            size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256,
            at_ms: self.now_ms(),
        };
        if self
            .store()
            .insert_evidence(&meta, &sealed, EVIDENCE_FILES_MAX)
            .await?
            .is_none()
        {
            return Err(invalid(
                "too_much_evidence",
                format!("a claim holds at most {EVIDENCE_FILES_MAX} files"),
            ));
        }
        self.claim_of(claim_id).await
    }

    /// Staff who review claims: one evidence file, opened (the download is audited).
    pub async fn staff_evidence(
        &self,
        authed: &Authed,
        claim_id: i64,
        evidence_id: i64,
    ) -> Result<(EvidenceMeta, Vec<u8>), bulwark_accounts::Error> {
        let (_, actor) = self.claim_for_staff(authed, claim_id).await?;
        let Some((meta, sealed)) = self.store().evidence_file(claim_id, evidence_id).await? else {
            return Err(bulwark_accounts::Error::new(
                bulwark_accounts::Kind::NotFound,
                "evidence_not_found",
                format!("claim {claim_id} has no evidence file {evidence_id}"),
            ));
        };
        let bytes = self
            .accounts()
            .master_key
            .open(&sealed, &seal_context(claim_id, &meta.sha256))
            .map_err(|e| SafeguardError::Internal(format!("opening evidence: {e}")))?;
        let params =
            serde_json::json!({"claim_id": claim_id, "evidence_id": evidence_id}).to_string();
        self.store()
            .append_audit(&actor, "claim.evidence_view", &params, self.now_ms())
            .await
            .map_err(SafeguardError::from)?;
        Ok((meta, bytes))
    }
}

fn too_large() -> SafeguardError {
    invalid(
        "evidence_too_large",
        format!(
            "an evidence file is at most {} MiB",
            EVIDENCE_BYTES_MAX / 1024 / 1024
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pdf_png_and_jpeg_are_recognised_by_their_first_bytes() {
        assert_eq!(content_type(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(
            content_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("image/png")
        );
        assert_eq!(
            content_type(b"\xff\xd8\xff\xe0\0\x10JFIF"),
            Some("image/jpeg")
        );
        for refused in [&b"GIF89a"[..], b"<html>", b"PK\x03\x04", b"", b"%PD"] {
            assert_eq!(content_type(refused), None, "{refused:?}");
        }
    }
}
