//! The staff side of withdrawals: the review queue and decisions, behind the staff guard
//! (a staff account with TOTP, a TOTP session, and a role granting withdrawal review). Each
//! decision is audited with the staff member's id; approvals count distinct people and never
//! the requester, so one compromised staff account cannot release a large withdrawal.

use bulwark_accounts::admin::{Capability, append_audit, require_staff};
use bulwark_accounts::sessions::Authed;
use bulwark_accounts::{Error, Kind};
use bulwark_store::WithdrawalRow;
use serde_json::json;

use crate::error::CustodyError;
use crate::service::Custody;

/// Longest rejection reason.
pub const REASON_CHARS_MAX: usize = 512;

/// A custody refusal as the account API's error (the staff console speaks that API).
pub fn account_error(error: CustodyError) -> Error {
    let kind = match &error {
        CustodyError::NotFound => Kind::NotFound,
        CustodyError::RequesterCannotApprove | CustodyError::NotPermitted(_) => Kind::Forbidden,
        CustodyError::WrongState { .. } => Kind::Conflict,
        CustodyError::Internal(detail) => return Error::internal("custody", detail),
        _ => Kind::Invalid,
    };
    let code = match &error {
        CustodyError::NotFound => "not_found",
        CustodyError::RequesterCannotApprove => "own_withdrawal",
        CustodyError::WrongState { .. } => "wrong_state",
        _ => "refused",
    };
    Error::new(kind, code, error.to_string())
}

impl Custody {
    /// Withdrawals in a state (default `risk_review`: waiting for staff).
    pub async fn staff_queue(
        &self,
        authed: &Authed,
        state: Option<&str>,
    ) -> Result<Vec<WithdrawalRow>, Error> {
        require_staff(
            &self.inner.accounts,
            authed,
            &[Capability::WithdrawalReview, Capability::ViewQueues],
        )
        .await?;
        self.withdrawals_in_state(state.unwrap_or("risk_review"))
            .await
            .map_err(account_error)
    }

    /// One staff approval (audited).
    pub async fn staff_approve(&self, authed: &Authed, id: i64) -> Result<WithdrawalRow, Error> {
        let staff = require_staff(
            &self.inner.accounts,
            authed,
            &[Capability::WithdrawalReview],
        )
        .await?;
        let row = self
            .approve_withdrawal(staff.user_id, id)
            .await
            .map_err(account_error)?;
        append_audit(
            self.store(),
            &staff.actor(),
            "withdrawal.approve",
            &json!({"withdrawal_id": id, "state": row.state, "ip": staff.ip}),
            self.now_ms(),
        )
        .await?;
        Ok(row)
    }

    /// A staff rejection with its reason (audited); the funds return to the user.
    pub async fn staff_reject(
        &self,
        authed: &Authed,
        id: i64,
        reason: &str,
    ) -> Result<WithdrawalRow, Error> {
        let staff = require_staff(
            &self.inner.accounts,
            authed,
            &[Capability::WithdrawalReview],
        )
        .await?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > REASON_CHARS_MAX {
            return Err(Error::bad_request(
                "invalid_reason",
                format!("a reason of 1 to {REASON_CHARS_MAX} characters is required"),
            ));
        }
        let row = self
            .reject_withdrawal(staff.user_id, id, reason)
            .await
            .map_err(account_error)?;
        append_audit(
            self.store(),
            &staff.actor(),
            "withdrawal.reject",
            &json!({"withdrawal_id": id, "reason": reason, "ip": staff.ip}),
            self.now_ms(),
        )
        .await?;
        Ok(row)
    }
}

/// What the staff console's custody page shows.
pub struct Overview {
    pub can_decide: bool,
    pub queue: Vec<WithdrawalRow>,
    pub wallets: Vec<crate::reconcile::WalletBalance>,
    pub reconciliations: Vec<bulwark_store::ReconciliationRow>,
    pub incidents: Vec<bulwark_store::CustodyIncidentRow>,
    pub keys: Vec<bulwark_store::OperatorKeyRow>,
    pub movements: Vec<bulwark_store::MovementRow>,
}

impl Custody {
    /// The custody page of the staff console (staff who review withdrawals or see the queues).
    pub async fn staff_overview(&self, authed: &Authed) -> Result<Overview, Error> {
        let staff = require_staff(
            &self.inner.accounts,
            authed,
            &[Capability::WithdrawalReview, Capability::ViewQueues],
        )
        .await?;
        Ok(Overview {
            can_decide: staff.can(Capability::WithdrawalReview),
            queue: self
                .withdrawals_in_state("risk_review")
                .await
                .map_err(account_error)?,
            wallets: self.wallet_balances().await.map_err(account_error)?,
            reconciliations: self.reconciliations(50).await.map_err(account_error)?,
            incidents: self.incidents(20).await.map_err(account_error)?,
            keys: self.operator_keys().await.map_err(account_error)?,
            movements: self.movements(20).await.map_err(account_error)?,
        })
    }
}
