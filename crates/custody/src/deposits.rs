//! Deposits: each user's address per coin, and the scanner that walks every chain block by
//! block, records transfers to deposit addresses, counts their confirmations, credits them by
//! an engine command named by the chain output (so a re-scan or restart never credits twice),
//! and sweeps the coins to the hot wallet, or to cold beyond the hot wallet's share.

use bulwark_engine::Command;
use bulwark_store::{DepositRow, HistoryWindow, NewDeposit};
use bulwark_types::UserId;

use crate::chain::{Block, Payment, Transfer, confirmations};
use crate::error::{CustodyError, CustodyResult};
use crate::network::Network;
use crate::service::{CoinRules, Custody, Wallet};

/// A deposit address handed to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositAddress {
    pub asset: String,
    pub network: Network,
    pub address: String,
    /// Always empty: none of the networks uses memos.
    pub memo: String,
}

/// How far back a reorganisation is looked for (blocks).
pub const REORG_DEPTH: u64 = 64;

/// What the engine's deposit reference (and command id) of a chain output is.
pub fn deposit_reference(network: Network, txid: &str, output_index: i64) -> String {
    format!("{}:{txid}:{output_index}", network.id())
}

impl Custody {
    /// The user's deposit address for a coin, handed out (and recorded) on first request.
    pub async fn deposit_address(
        &self,
        user_id: i64,
        asset: &str,
        network: Option<&str>,
    ) -> CustodyResult<DepositAddress> {
        let coin = self.coin(asset, network)?.clone();
        if !coin.deposit_enabled {
            return Err(CustodyError::DepositsClosed {
                asset: coin.asset,
                network: coin.network,
            });
        }
        let profile = self.store().kyc_profile(user_id).await?.unwrap_or_default();
        if !self
            .inner
            .trading
            .access
            .permissions(None, &profile)
            .deposit
        {
            return Err(CustodyError::DepositNotPermitted(
                "deposits are not available to residents of a restricted region".into(),
            ));
        }
        let network_id = coin.network.id();
        let address = match self
            .store()
            .deposit_address(user_id, &coin.asset, network_id)
            .await?
        {
            Some(address) => address,
            None => {
                let index = u32::try_from(user_id)
                    .ok()
                    .filter(|i| *i < 1 << 31)
                    .ok_or_else(|| CustodyError::Internal(format!("user id {user_id}")))?;
                let address =
                    self.derive(coin.network, self.deposit_branch(&coin.asset)?, index)?;
                self.store()
                    .insert_deposit_address(
                        user_id,
                        &coin.asset,
                        network_id,
                        &address,
                        self.now_ms(),
                    )
                    .await?;
                address
            }
        };
        Ok(DepositAddress {
            asset: coin.asset,
            network: coin.network,
            address,
            memo: String::new(),
        })
    }

    /// A user's deposits, newest first.
    pub async fn deposits(
        &self,
        user_id: i64,
        window: HistoryWindow<'_>,
    ) -> CustodyResult<Vec<DepositRow>> {
        Ok(self.store().user_deposits(user_id, window).await?)
    }

    /// One of the user's deposits.
    pub async fn deposit(&self, user_id: i64, id: i64) -> CustodyResult<DepositRow> {
        self.store()
            .get_deposit(id)
            .await?
            .filter(|d| d.user_id == user_id)
            .ok_or(CustodyError::NotFound)
    }

    /// One pass of the scanner over every network; errors are logged and retried next pass.
    pub async fn scan_deposits(&self) {
        for &network in self.inner.chains.keys() {
            if let Err(error) = self.scan_network(network).await {
                tracing::error!("custody: scanning {network}: {error}");
            }
        }
    }

    async fn scan_network(&self, network: Network) -> CustodyResult<()> {
        let chain = self.chain(network)?;
        let height = chain.height().await.map_err(chain_error)?;
        let (stored, stored_hash) = self.store().chain_cursor(network.id()).await?;
        let mut cursor = u64::try_from(stored).unwrap_or(0);
        // A new database on a long chain starts where the adapter says deposits can begin.
        if cursor == 0 {
            cursor = chain.start_height().saturating_sub(1);
        }
        // A reorganisation: the chain no longer has the block the cursor stands on (or is
        // shorter). Step back and scan again; recording a transfer twice is a no-op.
        if stored > 0 {
            let current = chain.block(cursor).await.map_err(chain_error)?;
            if current.is_none_or(|b| b.hash != stored_hash) {
                let back = cursor.saturating_sub(REORG_DEPTH).min(height);
                tracing::warn!(
                    "custody: {network} reorganised at or below block {cursor}; rescanning from {back}"
                );
                cursor = back;
            }
        }
        self.check_reorganised(network, height).await?;
        while cursor < height {
            let next = cursor + 1;
            let Some(block) = chain.block(next).await.map_err(chain_error)? else {
                break;
            };
            for transfer in &block.transfers {
                self.record(network, height, &block, transfer).await?;
            }
            self.store()
                .set_chain_cursor(network.id(), to_i64(next), &block.hash)
                .await?;
            cursor = next;
        }
        // One deposit the engine refuses (or a store hiccup) must not hold up the others.
        for deposit in self.store().pending_deposits(network.id()).await? {
            if let Err(error) = self.confirm(network, height, &deposit).await {
                tracing::error!("custody: deposit {}: {error}", deposit.id);
            }
        }
        // An incident may pause sweeps (containment): deposits then stay where they landed.
        if self.store().sweeps_paused().await? {
            return Ok(());
        }
        // Sweeps are retried until they went out (the chain pays a reference once).
        for deposit in self.store().unswept_deposits(network.id()).await? {
            // On a real chain deposit addresses belong to the offline seed: swept offline.
            if !chain.can_send_from(&deposit.address) {
                continue;
            }
            let coin = self.coin(&deposit.asset, Some(network.id()))?.clone();
            match self.sweep(&coin, &deposit).await {
                Ok(()) => {
                    self.store()
                        .mark_deposit_swept(deposit.id, self.now_ms())
                        .await?;
                }
                Err(error) => tracing::warn!("custody: sweeping deposit {}: {error}", deposit.id),
            }
        }
        Ok(())
    }

    /// Records a transfer if it pays one of our deposit addresses in a coin of this network.
    async fn record(
        &self,
        network: Network,
        height: u64,
        block: &Block,
        transfer: &Transfer,
    ) -> CustodyResult<()> {
        let mined_at = block.height;
        let Some((user_id, _)) = self
            .store()
            .deposit_address_owner(network.id(), &transfer.to)
            .await?
        else {
            return Ok(());
        };
        let Ok(coin) = self.coin(&transfer.asset, Some(network.id())) else {
            tracing::warn!(
                "custody: {} of unsupported {} arrived at {} ({})",
                transfer.amount,
                transfer.asset,
                transfer.to,
                transfer.txid
            );
            return Ok(());
        };
        let state = if transfer.amount >= coin.deposit_min && coin.deposit_enabled {
            "pending"
        } else {
            "below_minimum"
        };
        let inserted = self
            .store()
            .insert_deposit(&NewDeposit {
                user_id,
                asset: coin.asset.clone(),
                network: network.id().to_owned(),
                address: transfer.to.clone(),
                txid: transfer.txid.clone(),
                output_index: i64::from(transfer.output_index),
                amount: transfer.amount,
                block_height: i64::try_from(mined_at).unwrap_or(i64::MAX),
                block_hash: block.hash.clone(),
                confirmations: to_i64(confirmations(height, mined_at)),
                required_confirmations: to_i64(coin.confirmations),
                state: state.to_owned(),
                detected_ms: self.now_ms(),
            })
            .await?;
        if let Some(id) = inserted {
            tracing::info!(
                "custody: deposit {id} of {} {} to user {user_id} seen ({state})",
                self.format(&coin.asset, transfer.amount),
                coin.asset
            );
        }
        Ok(())
    }

    /// Credits a pending deposit once it has its confirmations.
    async fn confirm(
        &self,
        network: Network,
        height: u64,
        deposit: &DepositRow,
    ) -> CustodyResult<()> {
        let mined_at = u64::try_from(deposit.block_height).unwrap_or(0);
        let seen = to_i64(confirmations(height, mined_at));
        if seen < deposit.required_confirmations {
            if seen != deposit.confirmations {
                self.store()
                    .set_deposit_confirmations(deposit.id, seen)
                    .await?;
            }
            return Ok(());
        }
        let catalog = self.inner.trading.sequencer.catalog();
        let (asset, _) = catalog
            .asset(&deposit.asset)
            .ok_or_else(|| CustodyError::Internal(format!("{} is not listed", deposit.asset)))?;
        let user = UserId(
            u64::try_from(deposit.user_id)
                .map_err(|_| CustodyError::Internal("negative user id".into()))?,
        );
        let reference = deposit_reference(network, &deposit.txid, deposit.output_index);
        let receipt = self
            .submit(
                &format!("deposit:{reference}"),
                Command::Deposit {
                    user,
                    asset,
                    amount: deposit.amount,
                    reference,
                },
            )
            .await?;
        if receipt.outcome.is_err() {
            return Err(CustodyError::Internal(format!(
                "the engine refused deposit {}: {:?}",
                deposit.id, receipt.outcome
            )));
        }
        if self
            .store()
            .mark_deposit_credited(deposit.id, seen, self.now_ms())
            .await?
        {
            tracing::info!("custody: deposit {} credited", deposit.id);
        }
        Ok(())
    }

    /// Deposits seen in the last [`REORG_DEPTH`] blocks whose transaction is no longer where it
    /// was: a pending one is dropped (never credited); a credited one stays credited in the
    /// ledger but is marked reverted and opens an incident that freezes the asset's
    /// withdrawals until staff have dealt with it.
    async fn check_reorganised(&self, network: Network, height: u64) -> CustodyResult<()> {
        let chain = self.chain(network)?;
        let since = to_i64(height.saturating_sub(REORG_DEPTH));
        for deposit in self.store().recent_deposits(network.id(), since).await? {
            let inclusion = chain
                .transaction_block(&deposit.txid)
                .await
                .map_err(chain_error)?;
            match inclusion {
                Some(i) if i.block_hash == deposit.block_hash => continue,
                Some(i) => {
                    // Mined again in another block: the same output, still there. Its
                    // confirmations count from the new block.
                    self.store()
                        .move_deposit_block(deposit.id, to_i64(i.height), &i.block_hash)
                        .await?;
                    continue;
                }
                None => {}
            }
            if !self
                .store()
                .mark_deposit_reverted(deposit.id, &deposit.state)
                .await?
            {
                continue;
            }
            if deposit.state == "credited" {
                let detail = format!(
                    "credited deposit {} of {} {} (tx {}) left the {network} chain in a reorganisation",
                    deposit.id,
                    self.format(&deposit.asset, deposit.amount),
                    deposit.asset,
                    deposit.txid
                );
                let id = self
                    .store()
                    .open_custody_incident(
                        &deposit.asset,
                        "deposit_reverted",
                        &detail,
                        self.now_ms(),
                    )
                    .await?;
                tracing::error!(
                    "custody: incident {id}: {detail}; withdrawals of {} frozen",
                    deposit.asset
                );
            } else {
                tracing::warn!(
                    "custody: pending deposit {} left the chain; it will not be credited",
                    deposit.id
                );
            }
        }
        Ok(())
    }

    /// Moves a credited deposit from its address to the hot wallet, or to cold what would take
    /// hot beyond its share of the asset's custody.
    async fn sweep(&self, coin: &CoinRules, deposit: &DepositRow) -> CustodyResult<()> {
        let chain = self.chain(coin.network)?;
        let hot = self.wallet_address(coin.network, Wallet::Hot)?;
        let cold = self.wallet_address(coin.network, Wallet::Cold)?;
        let hot_balance = chain
            .balance(&hot, &coin.asset)
            .await
            .map_err(chain_error)?;
        let cold_balance = chain
            .balance(&cold, &coin.asset)
            .await
            .map_err(chain_error)?;
        let total = i128::from(hot_balance) + i128::from(cold_balance) + i128::from(deposit.amount);
        let ceiling = total * i128::from(self.inner.config.hot_share_bps) / 10_000;
        let room = (ceiling - i128::from(hot_balance)).max(0);
        let to_hot = i64::try_from(room.min(i128::from(deposit.amount))).unwrap_or(0);
        let to_cold = deposit.amount - to_hot;
        for (wallet, address, amount) in [("hot", &hot, to_hot), ("cold", &cold, to_cold)] {
            if amount > 0 {
                chain
                    .send(Payment {
                        from: deposit.address.clone(),
                        to: address.clone(),
                        asset: coin.asset.clone(),
                        amount,
                        reference: format!("sweep:{}:{wallet}", deposit.id),
                    })
                    .await
                    .map_err(chain_error)?;
            }
        }
        Ok(())
    }
}

pub(crate) fn chain_error(error: crate::chain::ChainError) -> CustodyError {
    CustodyError::Internal(format!("chain: {error}"))
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
