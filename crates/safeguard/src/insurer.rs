//! The optional external insurer layer: the part of a paid claim the fund did not pay (above a
//! cap, pro rata when the fund was short, contributory negligence) is submitted to the
//! configured insurer under its policy (a limit over all submissions, a deductible per claim),
//! and staff record the insurer's answer: accepted or denied, then paid. Amounts are USDT
//! values at submission. A clawed-back claim was recovered and is never submitted.

use bulwark_store::{ClaimRow, InsurerSubmissionRow};

use crate::error::{SafeguardResult, invalid};
use crate::insurer_policy::{InsurerPolicy, usdt};
use crate::service::Safeguard;

const MICROS: i64 = 1_000_000;

impl Safeguard {
    /// Staff: `insurer_submit` (a paid claim's uncovered part), `insurer_accept`,
    /// `insurer_deny`, `insurer_paid` (the insurer's answers, in that order).
    pub(crate) async fn insurer_action(
        &self,
        claim: &ClaimRow,
        actor: &str,
        action: &str,
        note: &str,
    ) -> SafeguardResult<()> {
        let Some(policy) = self.insurer().cloned() else {
            return Err(invalid(
                "no_insurer",
                "no insurer is configured ([insurer] in the config file)",
            ));
        };
        let now_ms = self.now_ms();
        if action == "insurer_submit" {
            return self
                .submit_to_insurer(claim, &policy, actor, note, now_ms)
                .await;
        }
        let Some(submission) = self.store().insurer_submission(claim.id).await? else {
            return Err(invalid(
                "not_submitted",
                format!("claim {} was not submitted to the insurer", claim.id),
            ));
        };
        let (from, to) = match action {
            "insurer_accept" => ("submitted", "accepted"),
            "insurer_deny" => ("submitted", "denied"),
            "insurer_paid" => ("accepted", "paid"),
            _ => {
                return Err(invalid(
                    "unknown_action",
                    format!("unknown claim action {action:?}"),
                ));
            }
        };
        let note = if note.is_empty() {
            format!("The insurer's answer: {to}.")
        } else {
            note.to_owned()
        };
        if !self
            .store()
            .move_insurer_submission(submission.id, from, to, actor, &note, now_ms)
            .await?
        {
            return Err(invalid(
                "wrong_state",
                format!(
                    "the insurer submission is {} and cannot become {to}",
                    submission.status
                ),
            ));
        }
        Ok(())
    }

    async fn submit_to_insurer(
        &self,
        claim: &ClaimRow,
        policy: &InsurerPolicy,
        actor: &str,
        note: &str,
        now_ms: i64,
    ) -> SafeguardResult<()> {
        let Some(movement) = claim
            .movement_id
            .filter(|_| matches!(claim.state.as_str(), "paid" | "closed"))
        else {
            return Err(invalid(
                "wrong_state",
                "only a paid claim's uncovered part goes to the insurer",
            ));
        };
        if self.store().clawback(claim.id).await?.is_some() {
            return Err(invalid(
                "nothing_uncovered",
                "the loss was recovered and the payout clawed back",
            ));
        }
        if self.store().insurer_submission(claim.id).await?.is_some() {
            return Err(invalid(
                "already_submitted",
                format!("claim {} was submitted to the insurer before", claim.id),
            ));
        }
        let paid = self.custody().movement(movement).await?.amount;
        let uncovered_units = claim.claimed.saturating_sub(paid);
        if uncovered_units <= 0 {
            return Err(invalid(
                "nothing_uncovered",
                "the fund paid the whole amount claimed",
            ));
        }
        let Some(uncovered) = self.trading().usdt_micros(&claim.asset, uncovered_units) else {
            return Err(invalid(
                "no_usdt_price",
                format!("{} has no USDT price to value the claim with", claim.asset),
            ));
        };
        let deductible = i64::try_from(policy.deductible_usdt)
            .unwrap_or(i64::MAX)
            .saturating_mul(MICROS);
        let limit = i64::try_from(policy.limit_usdt)
            .unwrap_or(i64::MAX)
            .saturating_mul(MICROS);
        let used = self
            .store()
            .insurer_submissions()
            .await?
            .iter()
            .filter(|s| s.status != "denied")
            .fold(0_i64, |sum, s| sum.saturating_add(s.requested_usdt));
        let above_deductible = uncovered.saturating_sub(deductible);
        if above_deductible <= 0 {
            return Err(invalid(
                "below_deductible",
                format!(
                    "the uncovered {} USDT is within the policy's deductible of {} USDT",
                    usdt(uncovered),
                    usdt(deductible)
                ),
            ));
        }
        let requested = above_deductible.min(limit.saturating_sub(used));
        if requested <= 0 {
            return Err(invalid(
                "insurer_limit_reached",
                format!("the policy's limit of {} USDT is used up", usdt(limit)),
            ));
        }
        let note = if note.is_empty() {
            format!(
                "Submitted to {} under policy {}: {} USDT of the {} USDT the fund did not pay.",
                policy.name,
                policy.policy_id,
                usdt(requested),
                usdt(uncovered)
            )
        } else {
            note.to_owned()
        };
        let row = InsurerSubmissionRow {
            id: 0,
            claim_id: claim.id,
            insurer: policy.name.clone(),
            policy_id: policy.policy_id.clone(),
            uncovered_usdt: uncovered,
            deductible_usdt: deductible,
            requested_usdt: requested,
            status: "submitted".into(),
            created_ms: now_ms,
            updated_ms: now_ms,
        };
        if self
            .store()
            .insert_insurer_submission(&row, actor, &note)
            .await?
            .is_none()
        {
            return Err(invalid(
                "already_submitted",
                format!("claim {} was submitted to the insurer before", claim.id),
            ));
        }
        Ok(())
    }
}
