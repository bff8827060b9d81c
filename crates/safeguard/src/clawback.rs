//! Clawback of a paid claim: when the loss is recovered after the payout (the thief's funds
//! frozen and returned, a reversed transfer), staff who review claims take the payout, or part
//! of it, back from the user into the fund. Once per claim, never more than was paid, never
//! more than the user has available (the engine refuses an overdraft); the user is told by
//! email and the timeline, and reports list every clawback.

use bulwark_engine::{Command, Reject};
use bulwark_notify::MessageKind;
use bulwark_store::{ClaimRow, ClawbackRow};

use crate::claims::ClaimView;
use crate::error::{SafeguardError, SafeguardResult, invalid};
use crate::service::Safeguard;

impl Safeguard {
    /// Takes `amount_text` of a paid claim's payout back into the fund.
    pub(crate) async fn claw_back(
        &self,
        claim: &ClaimRow,
        actor: &str,
        amount_text: &str,
        note: &str,
    ) -> SafeguardResult<ClaimView> {
        if self.store().clawback(claim.id).await?.is_some() {
            return Err(invalid(
                "already_clawed_back",
                format!("claim {} was clawed back before", claim.id),
            ));
        }
        let Some(movement) = claim.movement_id else {
            return Err(invalid("wrong_state", "the claim was never paid"));
        };
        let paid = self.custody().movement(movement).await?.amount;
        let scale = self.scale_of(&claim.asset);
        let amount = self.claim_amount(claim, amount_text)?;
        if amount > paid {
            return Err(invalid(
                "amount_over_payout",
                format!(
                    "the claim was paid {} {}; no more can be taken back",
                    bulwark_types::format_units(paid, scale),
                    claim.asset
                ),
            ));
        }
        let (asset, _) = self
            .trading()
            .sequencer
            .catalog()
            .asset(&claim.asset)
            .ok_or_else(|| SafeguardError::UnknownAsset(claim.asset.clone()))?;
        let user = u64::try_from(claim.user_id)
            .map_err(|_| SafeguardError::Internal("negative user id".into()))?;
        let claim_id = u64::try_from(claim.id)
            .map_err(|_| SafeguardError::Internal("negative claim id".into()))?;
        let (seq, outcome) = self
            .submit(
                &format!("safeguard-clawback:{claim_id}"),
                Command::SafeguardClawback {
                    user: bulwark_types::UserId(user),
                    asset,
                    amount,
                    claim_id,
                },
            )
            .await?;
        match outcome {
            Ok(_) => {}
            Err(Reject::InsufficientFunds { available, .. }) => {
                return Err(invalid(
                    "balance_insufficient",
                    format!(
                        "the user has {} {} available; take back at most that",
                        bulwark_types::format_units(available, scale),
                        claim.asset
                    ),
                ));
            }
            Err(reject) => return Err(invalid("clawback_refused", reject.to_string())),
        }
        let text = bulwark_types::format_units(amount, scale);
        let row = ClawbackRow {
            id: 0,
            claim_id: claim.id,
            user_id: claim.user_id,
            asset: claim.asset.clone(),
            amount,
            note: format!(
                "The loss was recovered: {text} {} of the payout went back to the Safeguard fund. {note}",
                claim.asset
            ),
            actor: actor.to_owned(),
            journal_seq: i64::try_from(seq).unwrap_or(i64::MAX),
            at_ms: self.now_ms(),
        };
        // A retry after the engine applied it (same command id) finds the row written.
        self.store().insert_clawback(&row, &claim.state).await?;
        self.tell_clawback(claim, &row.note).await;
        self.claim_of(claim.id).await
    }

    async fn tell_clawback(&self, claim: &ClaimRow, note: &str) {
        let accounts = self.accounts();
        let Ok(Some(account)) = accounts.store.get_account(claim.user_id).await else {
            return;
        };
        let Some(recipient) = bulwark_accounts::notice::account_recipient(&account) else {
            return;
        };
        let url = format!("{}/claims/{}", accounts.accounts.public_url, claim.id);
        bulwark_accounts::notice::notify(
            accounts,
            claim.user_id,
            recipient,
            MessageKind::ClaimUpdate,
            &format!("Your claim #{}: payout taken back", claim.id),
            format!("{note}\n\nThe claim and its timeline: {url}"),
        )
        .await;
    }

    /// Every clawback, oldest first.
    pub async fn clawbacks(&self) -> SafeguardResult<Vec<ClawbackRow>> {
        Ok(self.store().clawbacks().await?)
    }
}
