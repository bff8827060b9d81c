//! Money entering and leaving: deposits, withdrawal holds, staff adjustments, Safeguard payouts.
//!
//! Each is one or two ledger transfers against a contra account (`External`, `Adjustments`)
//! or the Safeguard fund. Deposits are idempotent forever by reference and payouts by claim
//! id, independent of the bounded command-id window, because custody and claims may retry
//! long after the window has moved on.

use bulwark_types::UserId;
use sha2::{Digest, Sha256};

use super::{Engine, WithdrawalHold};
use crate::command::TopUpSource;
use crate::event::SystemAccount;
use crate::ledger::{Account, LedgerError};
use crate::limits::{ADJUST_REASON_LEN_MAX_BYTES, DEPOSIT_REFERENCE_LEN_MAX_BYTES};
use crate::reject::{Accepted, Outcome, Reject};
use crate::spec::AssetId;

/// Maps a refused transfer of `needed` units of `asset` to the reject a client understands.
pub(crate) fn ledger_reject(asset: AssetId, needed: i64, error: LedgerError) -> Reject {
    match error {
        LedgerError::Insufficient { available } => Reject::InsufficientFunds {
            asset,
            needed,
            available,
        },
        LedgerError::Overflow => Reject::Overflow,
        LedgerError::UnknownAccount => Reject::UnknownAsset,
        LedgerError::NegativeAmount => Reject::AmountNotPositive,
    }
}

/// The key under which a deposit reference is remembered.
pub(crate) fn reference_key(reference: &str) -> [u8; 32] {
    Sha256::digest(reference.as_bytes()).into()
}

fn positive(amount: i64) -> Result<(), Reject> {
    if amount > 0 {
        Ok(())
    } else {
        Err(Reject::AmountNotPositive)
    }
}

impl Engine {
    /// Credits `amount` to a user's available balance from a system account, creating the
    /// user only once the transfer is known to succeed.
    fn credit_user(
        &mut self,
        user: UserId,
        asset: AssetId,
        from: SystemAccount,
        amount: i64,
    ) -> Result<(), Reject> {
        let from = Account::System(from);
        match self.ledger.slot(user) {
            Some(slot) => self
                .ledger
                .check_transfer(asset, from, Account::Available(slot), amount),
            None => self.ledger.check_credit_new_user(asset, from, amount),
        }
        .map_err(|e| ledger_reject(asset, amount, e))?;
        let slot = self.user_slot(user);
        self.ledger
            .must_transfer(asset, from, Account::Available(slot), amount);
        Ok(())
    }

    /// Moves `amount` from a user's available balance to `to(slot)` (the user's own held
    /// balance, or a system account); a user the engine never saw has nothing available.
    fn debit_available(
        &mut self,
        user: UserId,
        asset: AssetId,
        amount: i64,
        to: impl FnOnce(u32) -> Account,
    ) -> Result<(), Reject> {
        let slot = self.ledger.slot(user).ok_or(Reject::InsufficientFunds {
            asset,
            needed: amount,
            available: 0,
        })?;
        self.ledger
            .transfer(asset, Account::Available(slot), to(slot), amount)
            .map_err(|e| ledger_reject(asset, amount, e))
    }

    /// `Deposit`: External -> user available, once per reference.
    pub(super) fn deposit(
        &mut self,
        user: UserId,
        asset: AssetId,
        amount: i64,
        reference: &str,
    ) -> Outcome {
        if reference.is_empty() || reference.len() > DEPOSIT_REFERENCE_LEN_MAX_BYTES {
            return Err(Reject::ReferenceInvalid);
        }
        let key = reference_key(reference);
        if self.deposit_refs.contains(&key) {
            return Ok(Accepted::AlreadyApplied);
        }
        self.asset_exists(asset)?;
        positive(amount)?;
        self.credit_user(user, asset, SystemAccount::External, amount)?;
        self.deposit_refs.insert(key);
        Ok(Accepted::Done)
    }

    /// `WithdrawHold`: user available -> held under a withdrawal id never used before.
    pub(super) fn withdraw_hold(
        &mut self,
        user: UserId,
        asset: AssetId,
        amount: i64,
        withdrawal_id: u64,
    ) -> Outcome {
        if self.withdrawal_ids.contains(&withdrawal_id) {
            return Err(Reject::WithdrawalExists);
        }
        self.asset_exists(asset)?;
        positive(amount)?;
        self.debit_available(user, asset, amount, Account::Held)?;
        self.withdrawals.insert(
            withdrawal_id,
            WithdrawalHold {
                user,
                asset,
                amount,
            },
        );
        self.withdrawal_ids.insert(withdrawal_id);
        Ok(Accepted::Done)
    }

    /// `WithdrawSettle`: the held amount leaves to External.
    pub(super) fn withdraw_settle(&mut self, withdrawal_id: u64) -> Outcome {
        let hold = *self
            .withdrawals
            .get(&withdrawal_id)
            .ok_or(Reject::WithdrawalUnknown)?;
        let slot = self
            .ledger
            .slot(hold.user)
            .ok_or(Reject::WithdrawalUnknown)?;
        let external = Account::System(SystemAccount::External);
        self.ledger
            .transfer(hold.asset, Account::Held(slot), external, hold.amount)
            .map_err(|e| ledger_reject(hold.asset, hold.amount, e))?;
        self.withdrawals.remove(&withdrawal_id);
        Ok(Accepted::Done)
    }

    /// `WithdrawComplete`: the held amount leaves to External except `fee`, which stays as fee
    /// revenue. The fee is checked before anything moves, so a bad fee changes nothing.
    pub(super) fn withdraw_complete(&mut self, withdrawal_id: u64, fee: i64) -> Outcome {
        let hold = *self
            .withdrawals
            .get(&withdrawal_id)
            .ok_or(Reject::WithdrawalUnknown)?;
        if fee < 0 || fee >= hold.amount {
            return Err(Reject::WithdrawalFeeInvalid);
        }
        let slot = self
            .ledger
            .slot(hold.user)
            .ok_or(Reject::WithdrawalUnknown)?;
        let external = Account::System(SystemAccount::External);
        let revenue = Account::System(SystemAccount::FeeRevenue);
        self.ledger
            .must_transfer(hold.asset, Account::Held(slot), external, hold.amount - fee);
        if fee > 0 {
            self.ledger
                .must_transfer(hold.asset, Account::Held(slot), revenue, fee);
        }
        self.withdrawals.remove(&withdrawal_id);
        Ok(Accepted::Done)
    }

    /// `WithdrawRelease`: the held amount returns to available.
    pub(super) fn withdraw_release(&mut self, withdrawal_id: u64) -> Outcome {
        let hold = *self
            .withdrawals
            .get(&withdrawal_id)
            .ok_or(Reject::WithdrawalUnknown)?;
        let slot = self
            .ledger
            .slot(hold.user)
            .ok_or(Reject::WithdrawalUnknown)?;
        self.ledger.must_transfer(
            hold.asset,
            Account::Held(slot),
            Account::Available(slot),
            hold.amount,
        );
        self.withdrawals.remove(&withdrawal_id);
        Ok(Accepted::Done)
    }

    /// `Adjust`: a signed staff correction between Adjustments and the user's available
    /// balance; a debit cannot take available below zero.
    pub(super) fn adjust(
        &mut self,
        user: UserId,
        asset: AssetId,
        amount: i64,
        reason: &str,
    ) -> Outcome {
        if reason.is_empty() || reason.len() > ADJUST_REASON_LEN_MAX_BYTES {
            return Err(Reject::ReferenceInvalid);
        }
        self.asset_exists(asset)?;
        if amount == 0 {
            return Err(Reject::AmountNotPositive);
        }
        if amount > 0 {
            self.credit_user(user, asset, SystemAccount::Adjustments, amount)?;
            return Ok(Accepted::Done);
        }
        let debit = amount.checked_neg().ok_or(Reject::Overflow)?;
        self.debit_available(user, asset, debit, |_| {
            Account::System(SystemAccount::Adjustments)
        })?;
        Ok(Accepted::Done)
    }

    /// `SafeguardTopUp`: fee revenue -> Safeguard (at most what revenue holds), or External ->
    /// Safeguard once per reference (coins the treasury sent into custody).
    pub(super) fn safeguard_top_up(
        &mut self,
        asset: AssetId,
        amount: i64,
        from: &TopUpSource,
    ) -> Outcome {
        let (source, key) = match from {
            TopUpSource::FeeRevenue => (SystemAccount::FeeRevenue, None),
            TopUpSource::External { reference } => {
                if reference.is_empty() || reference.len() > DEPOSIT_REFERENCE_LEN_MAX_BYTES {
                    return Err(Reject::ReferenceInvalid);
                }
                let key = reference_key(reference);
                if self.deposit_refs.contains(&key) {
                    return Ok(Accepted::AlreadyApplied);
                }
                (SystemAccount::External, Some(key))
            }
        };
        self.asset_exists(asset)?;
        positive(amount)?;
        self.ledger
            .transfer(
                asset,
                Account::System(source),
                Account::System(SystemAccount::Safeguard),
                amount,
            )
            .map_err(|e| ledger_reject(asset, amount, e))?;
        if let Some(key) = key {
            self.deposit_refs.insert(key);
        }
        Ok(Accepted::Done)
    }

    /// `SafeguardClawback`: user available -> Safeguard, once per claim id (remembered with
    /// the deposit references under `clawback:{claim_id}`, so it holds forever).
    pub(super) fn safeguard_clawback(
        &mut self,
        user: UserId,
        asset: AssetId,
        amount: i64,
        claim_id: u64,
    ) -> Outcome {
        let key = reference_key(&format!("clawback:{claim_id}"));
        if self.deposit_refs.contains(&key) {
            return Ok(Accepted::AlreadyApplied);
        }
        self.asset_exists(asset)?;
        positive(amount)?;
        self.debit_available(user, asset, amount, |_| {
            Account::System(SystemAccount::Safeguard)
        })?;
        self.deposit_refs.insert(key);
        Ok(Accepted::Done)
    }

    /// `SafeguardPayout`: Safeguard -> user available, once per claim id.
    pub(super) fn safeguard_payout(
        &mut self,
        user: UserId,
        asset: AssetId,
        amount: i64,
        claim_id: u64,
    ) -> Outcome {
        if self.payout_claims.contains(&claim_id) {
            return Ok(Accepted::AlreadyApplied);
        }
        self.asset_exists(asset)?;
        positive(amount)?;
        let fund = self.ledger.system_balance(asset, SystemAccount::Safeguard);
        if fund < amount {
            return Err(Reject::FundInsufficient {
                needed: amount,
                available: fund,
            });
        }
        self.credit_user(user, asset, SystemAccount::Safeguard, amount)?;
        self.payout_claims.insert(claim_id);
        Ok(Accepted::Done)
    }
}
