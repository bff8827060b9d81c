//! QR logins: a browser that wants to log in shows a QR code (nonce) and a short code; a device
//! where the user is logged in approves it; the waiting browser redeems the approval with a poll
//! secret only it holds. Every step is a conditional update, so a nonce is approved at most once
//! and an approval is redeemed at most once. Nonce and poll secret are stored as hashes.

use crate::Store;
use crate::error::{StoreResult, UniqueKey, classify, classify_keys};

/// QR login states stored in `qr_logins.state`.
pub mod qr_state {
    pub const PENDING: &str = "pending";
    pub const APPROVED: &str = "approved";
    pub const DENIED: &str = "denied";
    pub const REDEEMED: &str = "redeemed";
}

/// Prefixes the column list so every query returns the same shape as a `&'static str`.
macro_rules! select_qr_logins {
    ($tail:literal) => {
        concat!(
            "SELECT id, nonce_hash, poll_secret_hash, short_code, created_ms, expires_ms, ",
            "requester_ip, requester_country, requester_ua, state, approved_user_id, ",
            "decided_ms, redeemed_ms, approver_session_id FROM qr_logins ",
            $tail
        )
    };
}

const QR_KEYS: &[UniqueKey] = &[
    UniqueKey {
        constraint: "uq_qr_logins_nonce_hash",
        sqlite_columns: "qr_logins.nonce_hash",
        label: "qr nonce",
    },
    UniqueKey {
        constraint: "uq_qr_logins_short_code",
        sqlite_columns: "qr_logins.short_code",
        label: "qr short code",
    },
];

/// A QR login request from a browser that is not logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQrLogin {
    pub nonce_hash: Vec<u8>,
    pub poll_secret_hash: Vec<u8>,
    /// Code the approving user may type instead of scanning.
    pub short_code: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    /// Shown to the approving user so a QR code relayed by an attacker stands out.
    pub requester_ip: String,
    pub requester_country: Option<String>,
    pub requester_ua: String,
}

/// A stored QR login request.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QrLoginRow {
    pub id: i64,
    pub nonce_hash: Vec<u8>,
    pub poll_secret_hash: Vec<u8>,
    pub short_code: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub requester_ip: String,
    pub requester_country: Option<String>,
    pub requester_ua: String,
    /// One of the [`qr_state`] names.
    pub state: String,
    /// Set exactly when approved or redeemed.
    pub approved_user_id: Option<i64>,
    pub decided_ms: Option<i64>,
    pub redeemed_ms: Option<i64>,
    /// The session that approved it.
    pub approver_session_id: Option<i64>,
}

impl Store {
    /// Inserts a pending request; `Conflict("qr nonce")` or `Conflict("qr short code")` when
    /// either is taken (the caller draws new ones and retries).
    pub async fn insert_qr_login(&self, login: &NewQrLogin) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO qr_logins (nonce_hash, poll_secret_hash, short_code, created_ms, \
             expires_ms, requester_ip, requester_country, requester_ua, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending') RETURNING id",
        )
        .bind(login.nonce_hash.as_slice())
        .bind(login.poll_secret_hash.as_slice())
        .bind(login.short_code.as_str())
        .bind(login.created_ms)
        .bind(login.expires_ms)
        .bind(login.requester_ip.as_str())
        .bind(login.requester_country.as_deref())
        .bind(login.requester_ua.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|error| classify_keys(error, QR_KEYS, "qr login", "qr login"))
    }

    /// A request by id, in any state.
    pub async fn get_qr_login(&self, id: i64) -> StoreResult<Option<QrLoginRow>> {
        let row = sqlx::query_as(select_qr_logins!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The request whose QR code was scanned, in any state (the approver page shows its details
    /// and refuses non-pending ones).
    pub async fn find_qr_login_by_nonce_hash(
        &self,
        nonce_hash: &[u8],
    ) -> StoreResult<Option<QrLoginRow>> {
        let row = sqlx::query_as(select_qr_logins!("WHERE nonce_hash = $1"))
            .bind(nonce_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The request whose short code was typed, in any state.
    pub async fn find_qr_login_by_short_code(
        &self,
        short_code: &str,
    ) -> StoreResult<Option<QrLoginRow>> {
        let row = sqlx::query_as(select_qr_logins!("WHERE short_code = $1"))
            .bind(short_code)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// Approves a pending, unexpired request for `user_id`; true for exactly one caller,
    /// `NotFound("user")` for an unknown user.
    pub async fn approve_qr_login(
        &self,
        id: i64,
        user_id: i64,
        approver_session_id: Option<i64>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE qr_logins SET state = 'approved', approved_user_id = $2, decided_ms = $3, \
             approver_session_id = $4 WHERE id = $1 AND state = 'pending' AND expires_ms > $3",
        )
        .bind(id)
        .bind(user_id)
        .bind(now_ms)
        .bind(approver_session_id)
        .execute(&self.pool)
        .await
        .map_err(|error| classify(error, "qr login", "user"))?;
        Ok(result.rows_affected() == 1)
    }

    /// Denies a pending request; true if it was still pending.
    pub async fn deny_qr_login(&self, id: i64, now_ms: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE qr_logins SET state = 'denied', decided_ms = $2 \
             WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Redeems an approved request with the browser's poll secret: returns the approved user id
    /// for exactly one caller, `None` if not approved, already redeemed, or the secret is wrong.
    /// How long after approval a redemption is still accepted is the caller's check.
    pub async fn redeem_qr_login(
        &self,
        id: i64,
        poll_secret_hash: &[u8],
        now_ms: i64,
    ) -> StoreResult<Option<i64>> {
        let user_id: Option<Option<i64>> = sqlx::query_scalar(
            "UPDATE qr_logins SET state = 'redeemed', redeemed_ms = $3 \
             WHERE id = $1 AND poll_secret_hash = $2 AND state = 'approved' \
             RETURNING approved_user_id",
        )
        .bind(id)
        .bind(poll_secret_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(user_id.flatten())
    }

    /// Deletes requests that expired before `before_ms` (frees their short codes); returns how
    /// many.
    pub async fn prune_qr_logins(&self, before_ms: i64) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM qr_logins WHERE expires_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}
