//! Withdrawals as a state machine with funds held in the ledger from acceptance on:
//!
//! `requested` (held, confirmation emailed) → `email_confirmed` → `risk_review` (waits for
//! staff) or straight to `approved` (under the auto-approval threshold) → `signed` →
//! `broadcast` → `confirmed` (the hold completes: the fee to revenue, the rest out);
//! `cancelled`, `rejected` and `failed` release the hold.
//!
//! Every move is a conditional update of the record, and the engine command follows the move
//! under an id named by the withdrawal, so a crash between the two is finished at start-up
//! ([`Custody::recover`]) and nothing is released or paid twice: the engine holds each
//! withdrawal's funds under the withdrawal id and refuses a second release or completion.

use std::collections::BTreeSet;

use bulwark_accounts::access::tier_of;
use bulwark_engine::{Command, Reject};
use bulwark_identity::codes::{Purpose, issue_token, token_hash};
use bulwark_identity::kyc::KycError;
use bulwark_notify::MessageKind;
use bulwark_store::{
    HistoryWindow, NewWithdrawal, WithdrawalEventRow, WithdrawalMove, WithdrawalRow,
};
use bulwark_types::UserId;

use crate::address;
use crate::chain::{Payment, confirmations};
use crate::deposits::{chain_error, to_i64};
use crate::error::{CustodyError, CustodyResult};
use crate::service::{CoinRules, Custody, Wallet};

/// States whose funds are held in the engine.
pub const HOLDING: [&str; 6] = [
    "requested",
    "email_confirmed",
    "risk_review",
    "approved",
    "signed",
    "broadcast",
];
/// States a user may still cancel from, and staff reject from (nothing has been signed).
pub const CANCELLABLE: [&str; 4] = ["requested", "email_confirmed", "risk_review", "approved"];
/// States that released the hold.
pub const RELEASED: [&str; 3] = ["cancelled", "rejected", "failed"];

const DAY_MS: i64 = 86_400_000;
/// A new address-book entry, and turning the whitelist off, wait this long (G2).
const ADDRESS_COOLING_MS: i64 = DAY_MS;
/// The 30-day limit is this many times the tier's 24-hour limit.
const MONTH_LIMIT_DAYS: u64 = 10;

/// A withdrawal as a user asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawRequest {
    pub asset: String,
    /// `None`: the asset's default network.
    pub network: Option<String>,
    pub address: String,
    pub memo: String,
    /// Decimal text as sent.
    pub amount: String,
}

/// Who acts on a withdrawal (recorded with every move).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(i64),
    Staff(i64),
    /// M-of-N operator signatures.
    Operators,
    System,
}

impl Actor {
    fn label(&self) -> String {
        match self {
            Actor::User(id) => format!("user:{id}"),
            Actor::Staff(id) => format!("staff:{id}"),
            Actor::Operators => "operators".to_owned(),
            Actor::System => "system".to_owned(),
        }
    }
}

/// An address-book entry as a user adds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAddress {
    pub asset: String,
    pub network: Option<String>,
    pub address: String,
    pub memo: String,
    pub label: String,
}

/// The second factor a page sends with a withdrawal or an address-book change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorCode<'a> {
    None,
    Totp(&'a str),
    Recovery(&'a str),
}

/// A withdrawal and the link that confirms it (only right after the request).
#[derive(Debug, Clone)]
pub struct Requested {
    pub withdrawal: WithdrawalRow,
    /// The emailed confirmation token (tests and the console read the email instead).
    pub confirm_token: String,
}

impl Custody {
    /// Checks and accepts a withdrawal: the funds are held at once and a confirmation link is
    /// emailed. Refusals change nothing.
    pub async fn request_withdrawal(
        &self,
        user_id: i64,
        request: &WithdrawRequest,
    ) -> CustodyResult<Requested> {
        let coin = self
            .coin(&request.asset, request.network.as_deref())?
            .clone();
        if !coin.withdraw_enabled {
            return Err(CustodyError::WithdrawalsClosed {
                asset: coin.asset,
                network: coin.network,
            });
        }
        let address = request.address.trim();
        address::validate(coin.network, address)?;
        if !request.memo.is_empty() && !coin.network.uses_memo() {
            return Err(CustodyError::MemoNotSupported {
                network: coin.network,
            });
        }
        let amount = bulwark_types::parse_units(request.amount.trim(), coin.scale)
            .map_err(|e| CustodyError::InvalidAmount(e.to_string()))?;
        if amount <= 0 {
            return Err(CustodyError::InvalidAmount("must be positive".into()));
        }
        if amount < coin.withdraw_min {
            return Err(CustodyError::BelowMinimum {
                minimum: bulwark_types::format_units(coin.withdraw_min, coin.scale),
                asset: coin.asset,
            });
        }
        // One request at a time passes the limit checks and is recorded, so parallel requests
        // cannot each see the same usage and together go over the limits.
        let _serial = self.inner.requests.lock().await;
        let now_ms = self.now_ms();
        let usdt_micros = self
            .check_account(user_id, &coin, address, &request.memo, amount, now_ms)
            .await?;
        let issued = issue_token(Purpose::Withdraw, now_ms)
            .map_err(|e| CustodyError::Internal(format!("token: {e}")))?;
        let ttl_ms = i64::try_from(self.inner.config.confirm_ttl_s.saturating_mul(1_000))
            .unwrap_or(i64::MAX);
        let needs_people = usdt_micros > self.inner.config.auto_approve_usdt_micros;
        let new = NewWithdrawal {
            user_id,
            asset: coin.asset.clone(),
            network: coin.network.id().to_owned(),
            address: address.to_owned(),
            memo: request.memo.clone(),
            amount,
            fee: coin.withdraw_fee,
            usdt_micros,
            confirm_hash: issued.record.token_hash.clone(),
            confirm_expires_ms: now_ms.saturating_add(ttl_ms),
            approvals_needed: if needs_people {
                i64::from(self.inner.config.staff_approvals)
            } else {
                0
            },
            created_ms: now_ms,
        };
        let id = self
            .store()
            .insert_withdrawal(&new, &Actor::User(user_id).label())
            .await?;
        if let Err(error) = self.hold(id, user_id, &coin.asset, amount).await {
            self.store().delete_withdrawal(id).await?;
            return Err(error);
        }
        self.email_confirmation(user_id, id, &coin, amount, address, &issued.token)
            .await;
        let withdrawal = self
            .store()
            .get_withdrawal(id)
            .await?
            .ok_or(CustodyError::NotFound)?;
        Ok(Requested {
            withdrawal,
            confirm_token: issued.token,
        })
    }

    /// [`Custody::request_withdrawal`] from a page: the account's authenticator code (or a
    /// recovery code) is required when TOTP is on, counted against the login lockout.
    pub async fn request_withdrawal_with_2fa(
        &self,
        user_id: i64,
        request: &WithdrawRequest,
        second_factor: SecondFactorCode<'_>,
    ) -> CustodyResult<Requested> {
        self.second_factor(user_id, second_factor).await?;
        self.request_withdrawal(user_id, request).await
    }

    async fn second_factor(&self, user_id: i64, code: SecondFactorCode<'_>) -> CustodyResult<()> {
        let (totp, recovery) = match code {
            SecondFactorCode::None => (None, None),
            SecondFactorCode::Totp(code) => (Some(code), None),
            SecondFactorCode::Recovery(code) => (None, Some(code)),
        };
        bulwark_accounts::recovery::require_second_factor(
            &self.inner.accounts,
            user_id,
            totp,
            recovery,
        )
        .await
        .map_err(|e| match e.kind {
            bulwark_accounts::Kind::Internal => CustodyError::Internal(e.message),
            _ => CustodyError::SecondFactor(e.message),
        })
    }

    /// Account-level checks: not frozen, no withdrawal lock, whitelist, KYC tier and limits.
    /// Answers the withdrawal's value in micro-USDT.
    async fn check_account(
        &self,
        user_id: i64,
        coin: &CoinRules,
        address: &str,
        memo: &str,
        amount: i64,
        now_ms: i64,
    ) -> CustodyResult<i64> {
        let store = self.store();
        let account = store
            .get_account(user_id)
            .await?
            .ok_or(CustodyError::NotFound)?;
        if account.status != bulwark_store::account_status::ACTIVE {
            return Err(CustodyError::AccountNotActive {
                status: account.status,
            });
        }
        if let Err(bulwark_identity::withdraw_lock::WithdrawLockError::Locked {
            remaining_ms,
            ..
        }) =
            bulwark_identity::withdraw_lock::check(Some(account.withdraw_locked_until_ms), now_ms)
        {
            return Err(CustodyError::WithdrawLocked {
                remaining_s: remaining_ms.saturating_add(999) / 1_000,
            });
        }
        if self.frozen_assets().await?.contains(&coin.asset) {
            return Err(CustodyError::WithdrawalsFrozen {
                asset: coin.asset.clone(),
            });
        }
        if store.withdraw_whitelist_only(user_id).await? {
            let book = store.withdraw_addresses(user_id).await?;
            let usable = book.iter().any(|e| {
                e.asset == coin.asset
                    && e.network == coin.network.id()
                    && e.address == address
                    && e.memo == memo
                    && e.usable_from_ms <= now_ms
            });
            if !usable {
                return Err(CustodyError::NotWhitelisted);
            }
        }
        let usdt_micros = self
            .inner
            .trading
            .usdt_micros(&coin.asset, amount)
            .ok_or_else(|| {
                CustodyError::LimitExceeded(format!(
                    "{} has no USDT price yet (no trade), so the withdrawal cannot be checked \
                     against your limits; try again once it trades",
                    coin.asset
                ))
            })?;
        let used_24h = store
            .withdrawn_usdt_micros_since(user_id, now_ms.saturating_sub(DAY_MS))
            .await?;
        let used_30d = store
            .withdrawn_usdt_micros_since(user_id, now_ms.saturating_sub(30 * DAY_MS))
            .await?;
        let unsigned = |v: i64| u64::try_from(v).unwrap_or(u64::MAX);
        let access = &self.inner.trading.access;
        let tier = tier_of(account.kyc_tier);
        access
            .withdraw_allowed(tier, unsigned(used_24h), unsigned(usdt_micros))
            .map_err(|e| kyc_refusal(&e))?;
        let month_limit = access
            .withdraw_limit_usdt_micros(tier)
            .saturating_mul(MONTH_LIMIT_DAYS);
        if unsigned(used_30d).saturating_add(unsigned(usdt_micros)) > month_limit {
            return Err(CustodyError::LimitExceeded(format!(
                "this withdrawal exceeds your 30-day limit of {} USDT",
                month_limit / 1_000_000
            )));
        }
        Ok(usdt_micros)
    }

    async fn hold(&self, id: i64, user_id: i64, asset: &str, amount: i64) -> CustodyResult<()> {
        let catalog = self.inner.trading.sequencer.catalog();
        let (asset_id, spec) = catalog
            .asset(asset)
            .ok_or_else(|| CustodyError::Internal(format!("{asset} is not listed")))?;
        let receipt = self
            .submit(
                &format!("withdraw-hold:{id}"),
                Command::WithdrawHold {
                    user: user_id_of(user_id)?,
                    asset: asset_id,
                    amount,
                    withdrawal_id: withdrawal_id(id)?,
                },
            )
            .await?;
        match receipt.outcome {
            Ok(_) | Err(Reject::WithdrawalExists) => Ok(()),
            Err(Reject::InsufficientFunds { available, .. }) => {
                Err(CustodyError::InsufficientBalance {
                    available: bulwark_types::format_units(available, spec.scale),
                    asset: asset.to_owned(),
                })
            }
            Err(other) => Err(CustodyError::Internal(format!(
                "engine refused the hold: {other}"
            ))),
        }
    }

    async fn email_confirmation(
        &self,
        user_id: i64,
        id: i64,
        coin: &CoinRules,
        amount: i64,
        address: &str,
        token: &str,
    ) {
        let accounts = &self.inner.accounts;
        let Ok(Some(account)) = accounts.store.get_account(user_id).await else {
            return;
        };
        let Some(to) = bulwark_accounts::notice::account_recipient(&account) else {
            return;
        };
        let link = format!(
            "{}/withdraw/confirm?token={token}",
            accounts.accounts.public_url
        );
        let body = format!(
            "You asked to withdraw {} {} on {} to {address} (withdrawal {id}).\n\
             Confirm it within {} minutes: {link}\n\
             If this was not you, do not confirm; freeze your account with the link below.",
            bulwark_types::format_units(amount, coin.scale),
            coin.asset,
            coin.network,
            self.inner.config.confirm_ttl_s / 60,
        );
        bulwark_accounts::notice::notify(
            accounts,
            user_id,
            to,
            MessageKind::WithdrawalRequested,
            "Confirm your withdrawal",
            body,
        )
        .await;
    }

    /// The withdrawal an unused confirmation link names (to show it before the owner confirms).
    pub async fn withdrawal_for_link(&self, token: &str) -> CustodyResult<WithdrawalRow> {
        self.store()
            .withdrawal_by_confirm_hash(&token_hash(token))
            .await?
            .ok_or(CustodyError::ConfirmationInvalid)
    }

    /// Redeems an emailed confirmation link and moves the withdrawal on to review.
    pub async fn confirm_withdrawal(&self, token: &str) -> CustodyResult<WithdrawalRow> {
        let row = self
            .store()
            .withdrawal_by_confirm_hash(&token_hash(token))
            .await?
            .ok_or(CustodyError::ConfirmationInvalid)?;
        if row.state != "requested" {
            return Err(CustodyError::ConfirmationInvalid);
        }
        let now_ms = self.now_ms();
        if now_ms >= row.confirm_expires_ms {
            self.expire(&row).await?;
            return Err(CustodyError::ConfirmationExpired);
        }
        let actor = Actor::User(row.user_id);
        if !self
            .step(&row, &["requested"], "email_confirmed", &actor, "")
            .await?
        {
            return Err(CustodyError::ConfirmationInvalid);
        }
        let (next, note) = if row.approvals_needed > 0 {
            (
                "risk_review",
                format!(
                    "above the auto-approval threshold: {} staff approvals needed",
                    row.approvals_needed
                ),
            )
        } else {
            ("approved", "under the auto-approval threshold".to_owned())
        };
        self.step(&row, &["email_confirmed"], next, &Actor::System, &note)
            .await?;
        self.wake();
        self.store()
            .get_withdrawal(row.id)
            .await?
            .ok_or(CustodyError::NotFound)
    }

    /// The user cancels their own withdrawal (until it is signed).
    pub async fn cancel_withdrawal(&self, user_id: i64, id: i64) -> CustodyResult<WithdrawalRow> {
        let row = self.user_withdrawal(user_id, id).await?;
        if !self
            .release(
                &row,
                &CANCELLABLE,
                "cancelled",
                &Actor::User(user_id),
                "cancelled by the user",
            )
            .await?
        {
            return Err(wrong_state(&self.fresh(id).await?, "cancelled"));
        }
        self.fresh(id).await
    }

    /// A staff member approves a withdrawal under review; distinct people count once each, and
    /// the requester never counts.
    pub async fn approve_withdrawal(
        &self,
        staff_user_id: i64,
        id: i64,
    ) -> CustodyResult<WithdrawalRow> {
        let row = self.fresh(id).await?;
        if row.user_id == staff_user_id {
            return Err(CustodyError::RequesterCannotApprove);
        }
        if row.state != "risk_review" {
            return Err(wrong_state(&row, "approved"));
        }
        let count = self
            .store()
            .approve_withdrawal(id, staff_user_id, self.now_ms())
            .await?;
        if count >= row.approvals_needed {
            // Large: the staff approvals are in; operators must sign the release too.
            let (to, note) = if row.usdt_micros > self.inner.config.large_withdrawal_usdt_micros {
                let movement = self.propose_release(&row).await?;
                let note = format!(
                    "{count} distinct staff approvals; awaiting {} operator signatures (movement {})",
                    movement.required, movement.id
                );
                ("risk_review", note)
            } else {
                ("approved", format!("{count} distinct staff approvals"))
            };
            let actor = Actor::Staff(staff_user_id);
            self.step(&row, &["risk_review"], to, &actor, &note).await?;
            self.wake();
        }
        self.fresh(id).await
    }

    /// Operators signed the release of a large withdrawal: it may be paid.
    pub(crate) async fn release_after_signatures(
        &self,
        row: &WithdrawalRow,
        note: &str,
    ) -> CustodyResult<()> {
        if !self
            .step(row, &["risk_review"], "approved", &Actor::Operators, note)
            .await?
        {
            return Err(wrong_state(&self.fresh(row.id).await?, "released"));
        }
        self.wake();
        Ok(())
    }

    /// Staff refuse a withdrawal before it is signed; its funds return to the user.
    pub async fn reject_withdrawal(
        &self,
        staff_user_id: i64,
        id: i64,
        reason: &str,
    ) -> CustodyResult<WithdrawalRow> {
        let row = self.fresh(id).await?;
        if !self
            .release(
                &row,
                &CANCELLABLE,
                "rejected",
                &Actor::Staff(staff_user_id),
                reason,
            )
            .await?
        {
            return Err(wrong_state(&self.fresh(id).await?, "rejected"));
        }
        self.fresh(id).await
    }

    /// One of the user's withdrawals.
    pub async fn user_withdrawal(&self, user_id: i64, id: i64) -> CustodyResult<WithdrawalRow> {
        self.store()
            .get_withdrawal(id)
            .await?
            .filter(|w| w.user_id == user_id)
            .ok_or(CustodyError::NotFound)
    }

    /// A user's withdrawals, newest first.
    pub async fn withdrawals(
        &self,
        user_id: i64,
        window: HistoryWindow<'_>,
    ) -> CustodyResult<Vec<WithdrawalRow>> {
        Ok(self.store().user_withdrawals(user_id, window).await?)
    }

    /// The recorded transitions of a withdrawal (its timeline).
    pub async fn withdrawal_timeline(&self, id: i64) -> CustodyResult<Vec<WithdrawalEventRow>> {
        Ok(self.store().withdrawal_events(id).await?)
    }

    /// Withdrawals in a state (the staff queues).
    pub async fn withdrawals_in_state(&self, state: &str) -> CustodyResult<Vec<WithdrawalRow>> {
        Ok(self.store().withdrawals_in_state(state).await?)
    }

    async fn fresh(&self, id: i64) -> CustodyResult<WithdrawalRow> {
        self.store()
            .get_withdrawal(id)
            .await?
            .ok_or(CustodyError::NotFound)
    }

    async fn step(
        &self,
        row: &WithdrawalRow,
        from: &[&str],
        to: &str,
        actor: &Actor,
        note: &str,
    ) -> CustodyResult<bool> {
        self.step_with(row, from, to, actor, note, None, None).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn step_with(
        &self,
        row: &WithdrawalRow,
        from: &[&str],
        to: &str,
        actor: &Actor,
        note: &str,
        txid: Option<&str>,
        block_height: Option<i64>,
    ) -> CustodyResult<bool> {
        let label = actor.label();
        let moved = self
            .store()
            .move_withdrawal(WithdrawalMove {
                id: row.id,
                from,
                to,
                actor: &label,
                note,
                at_ms: self.now_ms(),
                txid,
                block_height,
            })
            .await?;
        if moved {
            tracing::info!("custody: withdrawal {} -> {to} by {label}", row.id);
        }
        Ok(moved)
    }

    /// Moves a withdrawal to a releasing state, then releases its hold (once: the engine
    /// forgets the hold when it releases it).
    async fn release(
        &self,
        row: &WithdrawalRow,
        from: &[&str],
        to: &str,
        actor: &Actor,
        note: &str,
    ) -> CustodyResult<bool> {
        if !self.step(row, from, to, actor, note).await? {
            return Ok(false);
        }
        self.release_hold(row.id).await?;
        Ok(true)
    }

    async fn release_hold(&self, id: i64) -> CustodyResult<()> {
        let receipt = self
            .submit(
                &format!("withdraw-release:{id}"),
                Command::WithdrawRelease {
                    withdrawal_id: withdrawal_id(id)?,
                },
            )
            .await?;
        match receipt.outcome {
            Ok(_) | Err(Reject::WithdrawalUnknown) => Ok(()),
            Err(other) => Err(CustodyError::Internal(format!(
                "engine refused the release: {other}"
            ))),
        }
    }

    async fn complete_hold(&self, id: i64, fee: i64) -> CustodyResult<()> {
        let receipt = self
            .submit(
                &format!("withdraw-complete:{id}"),
                Command::WithdrawComplete {
                    withdrawal_id: withdrawal_id(id)?,
                    fee,
                },
            )
            .await?;
        match receipt.outcome {
            Ok(_) | Err(Reject::WithdrawalUnknown) => Ok(()),
            Err(other) => Err(CustodyError::Internal(format!(
                "engine refused the completion: {other}"
            ))),
        }
    }

    /// One pass of the withdrawal worker: expire unconfirmed requests, sign and broadcast
    /// approved ones from the hot wallet, and complete broadcast ones once confirmed.
    pub async fn process_withdrawals(&self) {
        if let Err(error) = self.process().await {
            tracing::error!("custody: withdrawals: {error}");
        }
    }

    /// Cancels a request whose confirmation link expired, releasing its hold.
    async fn expire(&self, row: &WithdrawalRow) -> CustodyResult<bool> {
        self.release(
            row,
            &["requested"],
            "cancelled",
            &Actor::System,
            "confirmation link expired",
        )
        .await
    }

    async fn process(&self) -> CustodyResult<()> {
        let now_ms = self.now_ms();
        for row in self.store().withdrawals_in_state("requested").await? {
            if now_ms >= row.confirm_expires_ms {
                self.expire(&row).await?;
            }
        }
        let frozen = self.frozen_assets().await?;
        for row in self.store().withdrawals_in_state("approved").await? {
            // An open custody incident stops payouts of the asset, not only new requests.
            if !frozen.contains(&row.asset) {
                self.sign_and_send(&row).await?;
            }
        }
        // A crash after signing but before the broadcast was recorded: send again (the chain
        // answers the first transaction for the same reference).
        for row in self.store().withdrawals_in_state("signed").await? {
            self.broadcast(&row).await?;
        }
        for row in self.store().withdrawals_in_state("broadcast").await? {
            self.check_arrival(&row).await?;
        }
        Ok(())
    }

    /// The hot-wallet signer: it pays only what an approved record says, to the record's
    /// address, so nothing but an approved withdrawal can move hot funds.
    async fn sign_and_send(&self, row: &WithdrawalRow) -> CustodyResult<()> {
        let coin = self.coin(&row.asset, Some(&row.network))?.clone();
        let chain = self.chain(coin.network)?;
        let hot = self.wallet_address(coin.network, Wallet::Hot)?;
        let payout = row.amount - row.fee;
        let hot_balance = chain.balance(&hot, &row.asset).await.map_err(chain_error)?;
        if hot_balance < payout {
            tracing::warn!(
                "custody: withdrawal {} waits: the {} hot wallet holds {} {}, {} needed (refill from cold)",
                row.id,
                coin.network,
                self.format(&row.asset, hot_balance),
                row.asset,
                self.format(&row.asset, payout)
            );
            return Ok(());
        }
        if self
            .step(
                row,
                &["approved"],
                "signed",
                &Actor::System,
                "signed by the hot-wallet signer",
            )
            .await?
        {
            self.broadcast(row).await?;
        }
        Ok(())
    }

    async fn broadcast(&self, row: &WithdrawalRow) -> CustodyResult<()> {
        let network = crate::network::Network::parse(&row.network)
            .ok_or_else(|| CustodyError::Internal(format!("network {}", row.network)))?;
        let chain = self.chain(network)?;
        let payment = Payment {
            from: self.wallet_address(network, Wallet::Hot)?,
            to: row.address.clone(),
            asset: row.asset.clone(),
            amount: row.amount - row.fee,
            reference: format!("withdrawal:{}", row.id),
        };
        match chain.send(payment).await {
            Ok(txid) => {
                self.step_with(
                    row,
                    &["signed"],
                    "broadcast",
                    &Actor::System,
                    "",
                    Some(&txid),
                    None,
                )
                .await?;
            }
            Err(crate::chain::ChainError::InsufficientFunds { .. }) => {
                // Another payment took the hot funds meanwhile: back to the queue.
                self.step(
                    row,
                    &["signed"],
                    "approved",
                    &Actor::System,
                    "hot wallet short at broadcast",
                )
                .await?;
            }
            Err(crate::chain::ChainError::Unavailable(detail)) => {
                // The node may have the signed transaction already: never release funds that
                // may still leave. It stays signed and is sent again (same transaction) next
                // pass.
                tracing::warn!(
                    "custody: withdrawal {} broadcast will be retried: {detail}",
                    row.id
                );
            }
            Err(error) => {
                self.release(
                    row,
                    &["signed"],
                    "failed",
                    &Actor::System,
                    &format!("broadcast failed: {error}"),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn check_arrival(&self, row: &WithdrawalRow) -> CustodyResult<()> {
        let coin = self.coin(&row.asset, Some(&row.network))?.clone();
        let chain = self.chain(coin.network)?;
        let Some(txid) = row.txid.as_deref() else {
            return Ok(());
        };
        let Some(mined_at) = chain
            .transaction_block(txid)
            .await
            .map_err(chain_error)?
            .map(|inclusion| inclusion.height)
        else {
            return Ok(());
        };
        // Gas is spent once the transaction is mined, confirmed or not: record it then, so
        // reconciliation never sees the hot wallet short by it.
        if row.network_fee.is_none()
            && let Some((asset, fee)) = chain.network_fee(txid).await.map_err(chain_error)?
        {
            self.store()
                .set_withdrawal_network_fee(row.id, fee, &asset)
                .await?;
        }
        let height = chain.height().await.map_err(chain_error)?;
        if confirmations(height, mined_at) < coin.confirmations {
            return Ok(());
        }
        let note = format!("{} confirmations", confirmations(height, mined_at));
        if self
            .step_with(
                row,
                &["broadcast"],
                "confirmed",
                &Actor::System,
                &note,
                None,
                Some(to_i64(mined_at)),
            )
            .await?
        {
            self.complete_hold(row.id, row.fee).await?;
        }
        Ok(())
    }

    /// At start-up: finishes what a crash interrupted between a record's move and its engine
    /// command. Every hold the engine has open must belong to a holding record; a record that
    /// already released or confirmed gets its command again (the engine applies it once).
    pub async fn recover(&self) {
        if let Err(error) = self.recover_holds().await {
            tracing::error!("custody: recovering withdrawals: {error}");
        }
    }

    async fn recover_holds(&self) -> CustodyResult<()> {
        let open: BTreeSet<u64> = self
            .inner
            .trading
            .sequencer
            .query(|engine: &bulwark_engine::Engine| engine.open_withdrawals())
            .await
            .map_err(|e| CustodyError::Internal(format!("engine: {e}")))?
            .into_iter()
            .collect();
        for id in &open {
            let Some(row) = self
                .store()
                .get_withdrawal(i64::try_from(*id).unwrap_or(-1))
                .await?
            else {
                tracing::error!("custody: the engine holds withdrawal {id}, which has no record");
                continue;
            };
            if RELEASED.contains(&row.state.as_str()) {
                self.release_hold(row.id).await?;
            } else if row.state == "confirmed" {
                self.complete_hold(row.id, row.fee).await?;
            }
        }
        // Requests recorded but not yet held when the process stopped.
        for row in self.store().withdrawals_in_state("requested").await? {
            if !open.contains(&u64::try_from(row.id).unwrap_or(0)) {
                let held = self.hold(row.id, row.user_id, &row.asset, row.amount).await;
                if held.is_err() {
                    self.step(
                        &row,
                        &["requested"],
                        "failed",
                        &Actor::System,
                        "could not hold the funds after a restart",
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// How much of `asset` the user may still withdraw now under the rolling 24-hour and 30-day
    /// limits, in its units
    /// (`None` while the asset has no USDT price to convert the limit with).
    pub async fn withdrawable_today(
        &self,
        user_id: i64,
        asset: &str,
    ) -> CustodyResult<Option<i64>> {
        let store = self.store();
        let tier = store
            .get_account(user_id)
            .await?
            .map_or(bulwark_identity::kyc::KycTier::L0, |a| tier_of(a.kyc_tier));
        let limit = i64::try_from(self.inner.trading.access.withdraw_limit_usdt_micros(tier))
            .unwrap_or(i64::MAX);
        let now_ms = self.now_ms();
        let used_day = store
            .withdrawn_usdt_micros_since(user_id, now_ms.saturating_sub(DAY_MS))
            .await?;
        let used_month = store
            .withdrawn_usdt_micros_since(user_id, now_ms.saturating_sub(30 * DAY_MS))
            .await?;
        let month_limit = limit.saturating_mul(i64::try_from(MONTH_LIMIT_DAYS).unwrap_or(i64::MAX));
        let left = i128::from(
            limit
                .saturating_sub(used_day)
                .min(month_limit.saturating_sub(used_month))
                .max(0),
        );
        let catalog = self.inner.trading.sequencer.catalog();
        let Some((_, spec)) = catalog.asset(asset) else {
            return Ok(None);
        };
        let one = 10_i64.checked_pow(spec.scale).unwrap_or(i64::MAX);
        let Some(unit_value) = self
            .inner
            .trading
            .usdt_micros(asset, one)
            .filter(|v| *v > 0)
        else {
            return Ok(None);
        };
        Ok(i64::try_from(left * i128::from(one) / i128::from(unit_value)).ok())
    }

    /// The user's withdrawal address book.
    pub async fn address_book(
        &self,
        user_id: i64,
    ) -> CustodyResult<Vec<bulwark_store::WithdrawAddressRow>> {
        Ok(self.store().withdraw_addresses(user_id).await?)
    }

    /// Adds an address to the user's book after checking it for the network and the account's
    /// second factor (G2); it becomes usable for a whitelist-only account after the
    /// cooling-down period (24 hours).
    pub async fn add_address(
        &self,
        user_id: i64,
        second_factor: SecondFactorCode<'_>,
        entry: &NewAddress,
    ) -> CustodyResult<i64> {
        let coin = self.coin(&entry.asset, entry.network.as_deref())?.clone();
        let address = entry.address.trim();
        address::validate(coin.network, address)?;
        let memo = entry.memo.trim();
        if !memo.is_empty() && !coin.network.uses_memo() {
            return Err(CustodyError::MemoNotSupported {
                network: coin.network,
            });
        }
        self.second_factor(user_id, second_factor).await?;
        let label = &entry.label;
        let now_ms = self.now_ms();
        Ok(self
            .store()
            .add_withdraw_address(&bulwark_store::WithdrawAddressRow {
                id: 0,
                user_id,
                asset: coin.asset,
                network: coin.network.id().to_owned(),
                address: address.to_owned(),
                memo: memo.to_owned(),
                label: label.trim().chars().take(64).collect(),
                created_ms: now_ms,
                usable_from_ms: now_ms.saturating_add(ADDRESS_COOLING_MS),
            })
            .await?)
    }

    /// Removes an address from the user's book (at once).
    pub async fn remove_address(&self, user_id: i64, id: i64) -> CustodyResult<()> {
        if self.store().remove_withdraw_address(user_id, id).await? {
            Ok(())
        } else {
            Err(CustodyError::NotFound)
        }
    }

    /// Whether the user limited withdrawals to the address book.
    pub async fn whitelist_only(&self, user_id: i64) -> CustodyResult<bool> {
        Ok(self.store().withdraw_whitelist_only(user_id).await?)
    }

    /// Turns whitelist-only withdrawals on (at once) or off. Off is a security change: it needs
    /// the second factor, is recorded as a security event, emails the owner, and pauses
    /// withdrawals for 24 hours, so a thief who turns it off cannot withdraw at once.
    pub async fn set_whitelist_only(
        &self,
        user_id: i64,
        on: bool,
        second_factor: SecondFactorCode<'_>,
        ip: Option<String>,
    ) -> CustodyResult<()> {
        let store = self.store();
        if store.withdraw_whitelist_only(user_id).await? == on {
            return Ok(());
        }
        if on {
            store.set_withdraw_whitelist_only(user_id, true).await?;
            return Ok(());
        }
        self.second_factor(user_id, second_factor).await?;
        store.set_withdraw_whitelist_only(user_id, false).await?;
        bulwark_accounts::recovery::apply_change(&self.inner.accounts, user_id, ip, &WHITELIST_OFF)
            .await
            .map_err(|e| CustodyError::Internal(e.message))?;
        Ok(())
    }
}

/// Turning the address whitelist off (G2).
const WHITELIST_OFF: bulwark_accounts::recovery::Change = bulwark_accounts::recovery::Change {
    event: "withdraw_whitelist_disabled",
    lock: bulwark_identity::withdraw_lock::SecurityChange::WhitelistDisabled,
    kind: MessageKind::WhitelistChanged,
    subject: "Your withdrawal address whitelist was turned off",
    body: "Withdrawals from your Bulwark account may now go to any address.\nWithdrawals are paused for 24 hours. If this was not you, freeze your account with the link below.",
};

fn wrong_state(row: &WithdrawalRow, action: &'static str) -> CustodyError {
    CustodyError::WrongState {
        state: row.state.clone(),
        action,
    }
}

fn kyc_refusal(error: &KycError) -> CustodyError {
    match error {
        KycError::LimitExceeded {
            limit_usdt_micros,
            used_usdt_micros,
            amount_usdt_micros,
        } => {
            let usdt = |micros: &u64| {
                bulwark_types::format_units(i64::try_from(*micros).unwrap_or(i64::MAX), 6)
            };
            CustodyError::LimitExceeded(format!(
                "this withdrawal (worth {} USDT) exceeds your 24-hour limit of {} USDT; {} USDT \
                 already used",
                usdt(amount_usdt_micros),
                usdt(limit_usdt_micros),
                usdt(used_usdt_micros)
            ))
        }
        _ => CustodyError::NotPermitted(error.to_string()),
    }
}

fn user_id_of(user_id: i64) -> CustodyResult<UserId> {
    u64::try_from(user_id)
        .map(UserId)
        .map_err(|_| CustodyError::Internal("negative user id".into()))
}

fn withdrawal_id(id: i64) -> CustodyResult<u64> {
    u64::try_from(id).map_err(|_| CustodyError::Internal("negative withdrawal id".into()))
}
