//! Reconciliation: per asset, what the chains hold in custody's wallets and deposit addresses
//! against what custody's records say must be there (credited deposits minus what withdrawals
//! paid out), and against the ledger's liabilities. A shortfall (the chains hold less than the
//! records) opens an incident, which freezes the asset's withdrawals until staff resolve it;
//! hand-made credits show as adjustments (ledger liabilities the chains never backed).

use std::collections::{BTreeMap, BTreeSet};

use bulwark_store::{CustodyIncidentRow, ReconciliationRow};

use crate::deposits::chain_error;
use crate::error::{CustodyError, CustodyResult};
use crate::network::Network;
use crate::service::{Custody, Wallet};

/// `part` of `total` in basis points (0 when there is nothing): the hot share, wherever it is
/// shown or checked.
pub fn share_bps(part: i64, total: i64) -> i64 {
    if total > 0 {
        i64::try_from(i128::from(part) * 10_000 / i128::from(total)).unwrap_or(0)
    } else {
        0
    }
}

/// One coin's wallets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletBalance {
    pub network: Network,
    pub asset: String,
    pub hot_address: String,
    pub cold_address: String,
    pub hot: i64,
    pub cold: i64,
}

impl WalletBalance {
    /// The hot wallet's share of the two wallets, in basis points.
    pub fn hot_share_bps(&self) -> i64 {
        share_bps(self.hot, self.hot.saturating_add(self.cold))
    }
}

/// One address custody controls, with what its chain says it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveAddress {
    pub network: Network,
    pub asset: String,
    /// `hot`, `cold` or `deposit`.
    pub wallet: &'static str,
    pub address: String,
    pub balance: i64,
}

/// Every address custody controls with its balance, and the height of each network's chain
/// when they were read: the reserves side of a proof of reserves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reserves {
    pub heights: BTreeMap<Network, u64>,
    /// Deposit addresses holding nothing are left out; hot and cold wallets always appear.
    pub addresses: Vec<ReserveAddress>,
}

impl Custody {
    /// Reads every custody address's balance on its chain (see [`Reserves`]).
    pub async fn reserves(&self) -> CustodyResult<Reserves> {
        let mut reserves = Reserves::default();
        for coin in self.coins() {
            let chain = self.chain(coin.network)?;
            let height = chain.height().await.map_err(chain_error)?;
            reserves.heights.insert(coin.network, height);
            let mut addresses = vec![
                ("hot", self.wallet_address(coin.network, Wallet::Hot)?),
                ("cold", self.wallet_address(coin.network, Wallet::Cold)?),
            ];
            for address in self.store().deposit_addresses_of(coin.network.id()).await? {
                addresses.push(("deposit", address));
            }
            for (wallet, address) in addresses {
                let balance = chain
                    .balance(&address, &coin.asset)
                    .await
                    .map_err(chain_error)?;
                if balance > 0 || wallet != "deposit" {
                    reserves.addresses.push(ReserveAddress {
                        network: coin.network,
                        asset: coin.asset.clone(),
                        wallet,
                        address,
                        balance,
                    });
                }
            }
        }
        Ok(reserves)
    }

    /// Per asset, what payouts have sent and the chain has not yet confirmed: gone from the
    /// wallets while the ledger still holds it for the user.
    pub async fn in_flight_payouts(&self) -> CustodyResult<BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        for coin in self.coins() {
            if !out.contains_key(&coin.asset) {
                let sum = self.store().in_flight_payouts(&coin.asset).await?;
                out.insert(coin.asset.clone(), sum);
            }
        }
        Ok(out)
    }

    /// Opens an incident of `kind` on `asset` (once while one is open), which freezes the
    /// asset's withdrawals; answers its id.
    pub async fn open_incident(&self, asset: &str, kind: &str, detail: &str) -> CustodyResult<i64> {
        let id = self
            .store()
            .open_custody_incident(asset, kind, detail, self.now_ms())
            .await?;
        tracing::error!("custody: incident {id} ({kind}): {detail}; {asset} withdrawals frozen");
        Ok(id)
    }

    /// The hot and cold wallet of every coin with its balance.
    pub async fn wallet_balances(&self) -> CustodyResult<Vec<WalletBalance>> {
        let mut rows = Vec::with_capacity(self.coins().len());
        for coin in self.coins() {
            let chain = self.chain(coin.network)?;
            let hot_address = self.wallet_address(coin.network, Wallet::Hot)?;
            let cold_address = self.wallet_address(coin.network, Wallet::Cold)?;
            let hot = chain
                .balance(&hot_address, &coin.asset)
                .await
                .map_err(chain_error)?;
            let cold = chain
                .balance(&cold_address, &coin.asset)
                .await
                .map_err(chain_error)?;
            rows.push(WalletBalance {
                network: coin.network,
                asset: coin.asset.clone(),
                hot_address,
                cold_address,
                hot,
                cold,
            });
        }
        Ok(rows)
    }

    /// Reconciles every asset now, stores the results, and opens an incident for each asset
    /// short on chain.
    pub async fn reconcile(&self) -> CustodyResult<Vec<ReconciliationRow>> {
        let liabilities = self.ledger_liabilities().await?;
        let mut per_asset: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
        for coin in self.coins() {
            let chain = self.chain(coin.network)?;
            let network = coin.network.id();
            let mut on_chain = 0_i64;
            for wallet in [Wallet::Hot, Wallet::Cold] {
                let address = self.wallet_address(coin.network, wallet)?;
                on_chain = on_chain.saturating_add(
                    chain
                        .balance(&address, &coin.asset)
                        .await
                        .map_err(chain_error)?,
                );
            }
            let hot_address = self.wallet_address(coin.network, Wallet::Hot)?;
            let hot = chain
                .balance(&hot_address, &coin.asset)
                .await
                .map_err(chain_error)?;
            for address in self.store().deposit_addresses_of(network).await? {
                on_chain = on_chain.saturating_add(
                    chain
                        .balance(&address, &coin.asset)
                        .await
                        .map_err(chain_error)?,
                );
            }
            let expected = self
                .store()
                .credited_deposits_total(&coin.asset, network)
                .await?
                .saturating_sub(self.store().paid_out_total(&coin.asset, network).await?)
                .saturating_sub(
                    self.store()
                        .network_fees_total(&coin.asset, network)
                        .await?,
                );
            let entry = per_asset.entry(coin.asset.clone()).or_insert((0, 0, 0));
            entry.0 = entry.0.saturating_add(on_chain);
            entry.1 = entry.1.saturating_add(expected);
            entry.2 = entry.2.saturating_add(hot);
        }
        let now_ms = self.now_ms();
        let mut results = Vec::with_capacity(per_asset.len());
        for (asset, (on_chain, expected, hot)) in per_asset {
            let ledger = liabilities.get(&asset).copied().unwrap_or(0);
            let shortfall = expected.saturating_sub(on_chain).max(0);
            let hot_share_bps = share_bps(hot, on_chain);
            let mut row = ReconciliationRow {
                id: 0,
                at_ms: now_ms,
                asset: asset.clone(),
                chain_balance: on_chain,
                custody_expected: expected,
                ledger_liabilities: ledger,
                adjustments: ledger.saturating_sub(expected),
                shortfall,
                hot_balance: hot,
                hot_share_bps,
            };
            row.id = self.store().insert_reconciliation(&row).await?;
            if shortfall > 0 {
                let detail = format!(
                    "the chains hold {} {asset} in custody, {} expected: {} short",
                    self.format(&asset, on_chain),
                    self.format(&asset, expected),
                    self.format(&asset, shortfall)
                );
                let id = self
                    .store()
                    .open_custody_incident(&asset, "shortfall", &detail, now_ms)
                    .await?;
                tracing::error!("custody: incident {id}: {detail}; {asset} withdrawals frozen");
            }
            if self.hot_share_alarming(hot_share_bps) {
                tracing::warn!(
                    "custody: the {asset} hot wallets hold {hot_share_bps} bps of custody, above the {} bps alarm",
                    self.inner.config.hot_alarm_bps
                );
            }
            results.push(row);
        }
        Ok(results)
    }

    /// Users' balances, fee revenue and the Safeguard fund per asset: what custody must back.
    async fn ledger_liabilities(&self) -> CustodyResult<BTreeMap<String, i64>> {
        let catalog = self.inner.trading.sequencer.catalog();
        let totals = self
            .inner
            .trading
            .sequencer
            .query(|engine: &bulwark_engine::Engine| engine.ledger_totals())
            .await
            .map_err(|e| CustodyError::Internal(format!("engine: {e}")))?;
        Ok(totals
            .iter()
            .map(|t| {
                let owed = t
                    .users_available
                    .saturating_add(t.users_held)
                    .saturating_add(t.fee_revenue)
                    .saturating_add(t.safeguard);
                (
                    catalog.asset_code(t.asset).to_owned(),
                    i64::try_from(owed).unwrap_or(i64::MAX),
                )
            })
            .collect())
    }

    /// Recent reconciliation results, newest first.
    pub async fn reconciliations(&self, limit: i64) -> CustodyResult<Vec<ReconciliationRow>> {
        Ok(self.store().recent_reconciliations(limit).await?)
    }

    /// Custody incidents, open ones first.
    pub async fn incidents(&self, limit: i64) -> CustodyResult<Vec<CustodyIncidentRow>> {
        Ok(self.store().custody_incidents(limit).await?)
    }

    /// Staff close an incident once the shortfall is made good; the asset's withdrawals thaw
    /// when no incident of it stays open.
    pub async fn resolve_incident(
        &self,
        id: i64,
        resolved_by: &str,
        resolution: &str,
    ) -> CustodyResult<()> {
        if resolution.trim().is_empty() {
            return Err(CustodyError::NotPermitted(
                "a resolution note is required".into(),
            ));
        }
        if self
            .store()
            .resolve_custody_incident(id, resolved_by, resolution.trim(), self.now_ms())
            .await?
        {
            Ok(())
        } else {
            Err(CustodyError::NotFound)
        }
    }

    /// Assets whose withdrawals are frozen: by an open custody incident, or by a declared
    /// platform incident whose freeze is in force (for its assets, or for every asset).
    pub async fn frozen_assets(&self) -> CustodyResult<BTreeSet<String>> {
        let mut frozen: BTreeSet<String> = self
            .store()
            .assets_with_open_incidents()
            .await?
            .into_iter()
            .collect();
        for (scope, assets) in self.store().withdrawal_freezes().await? {
            if scope == "global" {
                frozen.extend(self.coins().iter().map(|c| c.asset.clone()));
            } else {
                frozen.extend(
                    assets
                        .split(',')
                        .map(str::trim)
                        .filter(|a| !a.is_empty())
                        .map(str::to_owned),
                );
            }
        }
        Ok(frozen)
    }
}
