//! What the operator decides about custody: which coin travels on which network with what
//! confirmations, minimums and fees, when withdrawals need people, and how much may sit hot.

use serde::Deserialize;

use crate::network::Network;

/// One currency on one network (`USDT` on `TRC20`), as `/account/v1/currencies` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Coin {
    pub asset: String,
    pub network: Network,
    /// Blocks (counting the one that holds the transaction) before a deposit is credited and a
    /// withdrawal counts as arrived.
    pub confirmations: u64,
    /// Smallest deposit credited, as a decimal string; smaller ones are recorded, not credited.
    pub deposit_min: String,
    /// Smallest withdrawal, as a decimal string (it includes the fee).
    pub withdraw_min: String,
    /// Fee kept from every withdrawal, as a decimal string.
    pub withdraw_fee: String,
    #[serde(default = "yes")]
    pub deposit_enabled: bool,
    #[serde(default = "yes")]
    pub withdraw_enabled: bool,
}

fn yes() -> bool {
    true
}

/// Custody settings (`[custody]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustodyConfig {
    /// Empty: the defaults of [`default_coins`] for the assets the exchange lists.
    pub coins: Vec<Coin>,
    /// Withdrawals worth up to this many micro-USDT are approved without people (if the hot
    /// wallet can pay them); larger ones wait for `staff_approvals` distinct staff members.
    pub auto_approve_usdt_micros: i64,
    pub staff_approvals: u32,
    /// Most of an asset's custody kept in the hot wallet, in basis points (2% by default);
    /// deposits swept beyond it go to cold.
    pub hot_share_bps: u32,
    /// Above this share of custody in hot, reconciliation raises an alarm (3% by default).
    pub hot_alarm_bps: u32,
    /// How long the emailed confirmation link of a withdrawal works, in seconds.
    pub confirm_ttl_s: u64,
    /// Block interval of the simulated chains in milliseconds; 0 mines only on operator
    /// command (tests).
    pub sim_block_ms: u64,
    /// Seed of the simulated chains (their transaction ids and block hashes).
    pub sim_seed: u64,
    /// How often the deposit scanner and the withdrawal worker look for work, in milliseconds.
    pub poll_ms: u64,
    /// How often reconciliation runs on its own, in seconds (0: only on operator command).
    pub reconcile_every_s: u64,
    /// Distinct registered operator keys that must sign a fund movement (M of N).
    pub operator_signatures: u32,
    /// Withdrawals worth more micro-USDT than this also need operator signatures after the
    /// staff approvals (100 000 USDT by default).
    pub large_withdrawal_usdt_micros: i64,
    /// How long a proposed movement may collect signatures, in seconds.
    pub movement_ttl_s: u64,
    /// A real Ethereum node serving the ERC20 network instead of the simulated chain.
    pub ethereum: Option<crate::ethereum::EthereumConfig>,
    /// Fault injection for fire drills: the process aborts right after a movement collects its
    /// last signature, before it executes. Never read from the config file: only the hidden
    /// `--fault crash-after-movement-signatures` flag sets it.
    #[serde(skip)]
    pub crash_after_signatures: bool,
}

impl Default for CustodyConfig {
    fn default() -> Self {
        CustodyConfig {
            coins: Vec::new(),
            auto_approve_usdt_micros: 10_000_000_000,
            staff_approvals: 2,
            hot_share_bps: 200,
            hot_alarm_bps: 300,
            confirm_ttl_s: 30 * 60,
            sim_block_ms: 10_000,
            sim_seed: 1,
            poll_ms: 500,
            reconcile_every_s: 300,
            operator_signatures: 2,
            large_withdrawal_usdt_micros: 100_000_000_000,
            movement_ttl_s: 24 * 3600,
            ethereum: None,
            crash_after_signatures: false,
        }
    }
}

impl CustodyConfig {
    /// Refuses settings that would switch a protection off or cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if self.hot_share_bps > 10_000 || self.hot_alarm_bps > 10_000 {
            return Err("hot_share_bps and hot_alarm_bps are at most 10000 (100%)".into());
        }
        if self.hot_alarm_bps < self.hot_share_bps {
            return Err("hot_alarm_bps must be at least hot_share_bps".into());
        }
        if self.staff_approvals < 2 {
            return Err("staff_approvals must be at least 2 (two distinct people)".into());
        }
        if self.operator_signatures < 2 {
            return Err("operator_signatures must be at least 2 (M of N, M >= 2)".into());
        }
        if self.auto_approve_usdt_micros < 0 || self.large_withdrawal_usdt_micros < 0 {
            return Err("approval thresholds cannot be negative".into());
        }
        if self.large_withdrawal_usdt_micros < self.auto_approve_usdt_micros {
            return Err(
                "large_withdrawal_usdt_micros must be at least auto_approve_usdt_micros (a large \
                 withdrawal goes through staff review before operators sign it)"
                    .into(),
            );
        }
        if self.confirm_ttl_s == 0 || self.movement_ttl_s == 0 {
            return Err("confirm_ttl_s and movement_ttl_s must be positive".into());
        }
        Ok(())
    }
}

/// Networks, confirmation counts, minimums and fees in the shape of the large exchanges' public
/// tables, for every listed asset that has one.
pub fn default_coins(listed: &[String]) -> Vec<Coin> {
    let coin =
        |asset: &str, network, confirmations, deposit_min: &str, withdraw_min: &str, fee: &str| {
            Coin {
                asset: asset.to_owned(),
                network,
                confirmations,
                deposit_min: deposit_min.to_owned(),
                withdraw_min: withdraw_min.to_owned(),
                withdraw_fee: fee.to_owned(),
                deposit_enabled: true,
                withdraw_enabled: true,
            }
        };
    let all = [
        coin("BTC", Network::Btc, 2, "0.0001", "0.001", "0.0005"),
        coin("ETH", Network::Erc20, 12, "0.001", "0.01", "0.003"),
        coin("USDT", Network::Trc20, 19, "1", "10", "1"),
        coin("USDT", Network::Erc20, 12, "1", "20", "5"),
        coin("BMX", Network::Erc20, 12, "1", "50", "20"),
    ];
    all.into_iter()
        .filter(|c| listed.contains(&c.asset))
        .collect()
}
