//! KYC applications and their documents. Personal fields and document images arrive encrypted
//! by the caller and are stored as opaque ciphertext. One application per user may be pending
//! (partial unique index). Who may decide an application is the accounts service's rule
//! (`accounts::admin`); the table's CHECK that a reviewer is not the applicant is only a last
//! line of integrity under it, so a bug there cannot write such a row.

use crate::Store;
use crate::error::{StoreError, StoreResult, classify_keys};
use crate::limits::capped;

/// Application states stored in `kyc_applications.state`.
pub mod kyc_state {
    pub const PENDING: &str = "pending";
    pub const APPROVED: &str = "approved";
    pub const REJECTED: &str = "rejected";
    /// Staff asked for a new submission.
    pub const RESUBMIT: &str = "resubmit";
}

/// Prefixes the column list so every query returns the same shape as a `&'static str`.
macro_rules! select_applications {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, tier_requested, submitted_ms, state, reviewer_id, decided_ms, ",
            "reason, fields_ciphertext FROM kyc_applications ",
            $tail
        )
    };
}

/// An application to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKycApplication {
    pub user_id: i64,
    /// 1 or 2.
    pub tier_requested: i64,
    pub submitted_ms: i64,
    /// AEAD ciphertext of the personal fields (name, date of birth, nationality, residence, ID
    /// number).
    pub fields_ciphertext: Vec<u8>,
}

/// A document to attach to a new application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKycDocument {
    /// id_front, id_back, proof_of_address, selfie, ...
    pub kind: String,
    pub content_type: String,
    pub ciphertext: Vec<u8>,
    /// Size of the original file.
    pub size_bytes: i64,
}

/// A stored application.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KycApplicationRow {
    pub id: i64,
    pub user_id: i64,
    pub tier_requested: i64,
    pub submitted_ms: i64,
    /// One of the [`kyc_state`] names.
    pub state: String,
    pub reviewer_id: Option<i64>,
    pub decided_ms: Option<i64>,
    pub reason: Option<String>,
    pub fields_ciphertext: Vec<u8>,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KycDocumentRow {
    pub id: i64,
    pub application_id: i64,
    pub kind: String,
    pub content_type: String,
    pub ciphertext: Vec<u8>,
    pub size_bytes: i64,
}

impl Store {
    /// Inserts a pending application and its documents in one transaction. `Conflict("kyc
    /// application")` if the user already has one pending, `NotFound("user")`, `Invalid` for a
    /// tier other than 1 or 2 or a negative size.
    pub async fn submit_kyc_application(
        &self,
        application: &NewKycApplication,
        documents: &[NewKycDocument],
    ) -> StoreResult<i64> {
        self.submit_kyc_with_residence(application, documents, None)
            .await
    }

    /// An application by id.
    pub async fn get_kyc_application(&self, id: i64) -> StoreResult<Option<KycApplicationRow>> {
        let row = sqlx::query_as(select_applications!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The user's applications, newest first (capped at
    /// [`ROWS_PER_QUERY_MAX`](crate::ROWS_PER_QUERY_MAX)).
    pub async fn list_user_kyc_applications(
        &self,
        user_id: i64,
    ) -> StoreResult<Vec<KycApplicationRow>> {
        let rows = sqlx::query_as(select_applications!(
            "WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(capped(u32::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Applications in one state, oldest first: the staff review queue (`limit` capped).
    pub async fn list_kyc_applications(
        &self,
        state: &str,
        limit: u32,
    ) -> StoreResult<Vec<KycApplicationRow>> {
        let rows = sqlx::query_as(select_applications!(
            "WHERE state = $1 ORDER BY id LIMIT $2"
        ))
        .bind(state)
        .bind(capped(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The documents of an application, in upload order.
    pub async fn list_kyc_documents(
        &self,
        application_id: i64,
    ) -> StoreResult<Vec<KycDocumentRow>> {
        let rows = sqlx::query_as(
            "SELECT id, application_id, kind, content_type, ciphertext, size_bytes \
             FROM kyc_documents WHERE application_id = $1 ORDER BY id",
        )
        .bind(application_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Records a staff decision on a pending application (`state` approved, rejected or
    /// resubmit); true for exactly one caller. An approval also raises the applicant's KYC tier
    /// to the requested one (never lowers it) in the same transaction, so a tier never exists
    /// without its approved application. `Invalid` if `state` is not a decision or the row would
    /// break the reviewer CHECK (the service refuses that case before it gets here).
    pub async fn decide_kyc_application(
        &self,
        id: i64,
        reviewer_id: i64,
        state: &str,
        reason: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        if ![
            kyc_state::APPROVED,
            kyc_state::REJECTED,
            kyc_state::RESUBMIT,
        ]
        .contains(&state)
        {
            return Err(StoreError::Invalid(
                "kyc decision must be approved, rejected or resubmit",
            ));
        }
        let mut transaction = self.begin_write().await?;
        let decided: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE kyc_applications SET state = $3, reviewer_id = $2, decided_ms = $5, \
             reason = $4 WHERE id = $1 AND state = 'pending' RETURNING user_id, tier_requested",
        )
        .bind(id)
        .bind(reviewer_id)
        .bind(state)
        .bind(reason)
        .bind(now_ms)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(|error| {
            classify_keys(
                error,
                &[],
                "reviewer",
                "a reviewer cannot decide their own application",
            )
        })?;
        let Some((user_id, tier)) = decided else {
            return Ok(false);
        };
        if state == kyc_state::APPROVED {
            sqlx::query(
                "UPDATE users SET kyc_tier = CASE WHEN kyc_tier < $2 THEN $2 ELSE kyc_tier END \
                 WHERE id = $1",
            )
            .bind(user_id)
            .bind(tier)
            .execute(&mut *transaction)
            .await?;
        }
        let committed = transaction.commit().await;
        self.kyc_cache.forget(&user_id);
        committed?;
        Ok(true)
    }
}
