//! The custody service: its dependencies, its coins and wallets, and the background workers
//! (deposit scanner, withdrawal processor, block producer of the simulated chains).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bulwark_accounts::service::Service as AccountService;
use bulwark_engine::Command;
use bulwark_sequencer::Receipt;
use bulwark_store::Store;
use bulwark_trading::Trading;

use crate::chain::Chain;
use crate::config::{Coin, CustodyConfig, default_coins};
use crate::error::{CustodyError, CustodyResult};
use crate::keys::{MasterPublicKey, MasterSeed};
use crate::network::Network;
use crate::sim::SimChain;

/// Derivation branches below each network's account key: wallets first, then one branch per
/// asset whose index is the user id, so a deposit address is a pure function of the key.
pub(crate) const HOT_BRANCH: u32 = 0;
pub(crate) const COLD_BRANCH: u32 = 1;
const DEPOSIT_BRANCH_BASE: u32 = 2;
/// How often the worker re-checks the engine's open holds against the records.
const RECOVER_EVERY: Duration = Duration::from_secs(30);

/// A coin with its amounts in the asset's units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinRules {
    pub asset: String,
    pub network: Network,
    pub scale: u32,
    pub confirmations: u64,
    pub deposit_min: i64,
    pub withdraw_min: i64,
    pub withdraw_fee: i64,
    pub deposit_enabled: bool,
    pub withdraw_enabled: bool,
}

pub use crate::chain::Wallet;

/// The custody service (cheap to clone).
#[derive(Clone)]
pub struct Custody {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) trading: Trading,
    pub(crate) accounts: AccountService,
    pub(crate) config: CustodyConfig,
    pub(crate) coins: Vec<CoinRules>,
    pub(crate) chains: BTreeMap<Network, Arc<dyn Chain>>,
    pub(crate) sims: BTreeMap<Network, SimChain>,
    pub(crate) keys: BTreeMap<Network, MasterPublicKey>,
    /// Wakes the workers early (a confirmed withdrawal, a mined block).
    pub(crate) wake: tokio::sync::Notify,
    /// Serialises withdrawal requests between their limit checks and their record.
    pub(crate) requests: tokio::sync::Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("custody settings: {0}")]
    Config(String),
    #[error("custody keys in {path}: {message}")]
    Keys { path: String, message: String },
    #[error("custody coin {asset}/{network}: {message}")]
    Coin {
        asset: String,
        network: Network,
        message: String,
    },
    #[error(transparent)]
    Sim(#[from] crate::sim::SimError),
}

impl Custody {
    /// Opens custody over `dir` (`<data>/custody`): the networks' account public keys (created
    /// on first start in dev, see [`load_or_create_keys`]) and the simulated chains.
    pub fn open(
        dir: &Path,
        config: CustodyConfig,
        trading: Trading,
        accounts: AccountService,
    ) -> Result<Custody, SetupError> {
        config.validate().map_err(SetupError::Config)?;
        let keys = load_or_create_keys(dir)?;
        let catalog = trading.sequencer.catalog();
        let listed: Vec<String> = catalog.assets.iter().map(|a| a.code.clone()).collect();
        let configured = if config.coins.is_empty() {
            default_coins(&listed)
        } else {
            config.coins.clone()
        };
        let mut coins = Vec::with_capacity(configured.len());
        for coin in &configured {
            coins.push(rules(&catalog, coin)?);
        }
        let mut chains: BTreeMap<Network, Arc<dyn Chain>> = BTreeMap::new();
        let mut sims = BTreeMap::new();
        for network in Network::ALL {
            let assets: Vec<String> = coins
                .iter()
                .filter(|c| c.network == network)
                .map(|c| c.asset.clone())
                .collect();
            if assets.is_empty() {
                continue;
            }
            if let (Network::Erc20, Some(ethereum)) = (network, &config.ethereum) {
                let scaled: Vec<(String, u32)> = coins
                    .iter()
                    .filter(|c| c.network == network)
                    .map(|c| (c.asset.clone(), c.scale))
                    .collect();
                let node = crate::ethereum::EthereumChain::open(ethereum, &scaled, dir)
                    .map_err(|e| SetupError::Config(e.to_string()))?;
                chains.insert(network, Arc::new(node));
                continue;
            }
            let sim = SimChain::open(&dir.join("chains"), network, assets, config.sim_seed)?;
            chains.insert(network, Arc::new(sim.clone()));
            sims.insert(network, sim);
        }
        Ok(Custody {
            inner: Arc::new(Inner {
                trading,
                accounts,
                config,
                coins,
                chains,
                sims,
                keys,
                wake: tokio::sync::Notify::new(),
                requests: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Starts the workers on the current runtime.
    pub fn spawn_workers(&self) {
        let poll = Duration::from_millis(self.inner.config.poll_ms.max(10));
        let worker = self.clone();
        tokio::spawn(async move {
            worker.recover().await;
            worker.resume_signed_movements().await;
            let every = Duration::from_secs(worker.inner.config.reconcile_every_s);
            let mut last_reconcile = tokio::time::Instant::now();
            let mut last_recover = tokio::time::Instant::now();
            loop {
                // A release or completion whose engine command failed while running is
                // retried here, not only at the next start.
                if last_recover.elapsed() >= RECOVER_EVERY {
                    last_recover = tokio::time::Instant::now();
                    worker.recover().await;
                }
                if !every.is_zero() && last_reconcile.elapsed() >= every {
                    last_reconcile = tokio::time::Instant::now();
                    if let Err(error) = worker.reconcile().await {
                        tracing::error!("custody: reconciliation: {error}");
                    }
                }
                worker.scan_deposits().await;
                worker.process_withdrawals().await;
                let _ = tokio::time::timeout(poll, worker.inner.wake.notified()).await;
            }
        });
        if self.inner.config.sim_block_ms > 0 {
            let every = Duration::from_millis(self.inner.config.sim_block_ms);
            for sim in self.inner.sims.values() {
                let sim = sim.clone();
                let custody = self.clone();
                tokio::spawn(async move {
                    let mut ticks = tokio::time::interval(every);
                    ticks.tick().await;
                    loop {
                        ticks.tick().await;
                        if let Err(error) = sim.mine(1) {
                            tracing::error!("custody: simulated chain: {error}");
                        }
                        custody.inner.wake.notify_one();
                    }
                });
            }
        }
    }

    /// Every coin custody handles, in configuration order.
    pub fn coins(&self) -> &[CoinRules] {
        &self.inner.coins
    }

    /// The coin for `asset` on `network`; with no network, the asset's first configured one
    /// (the defaults put CCXT's default network first: BTC→BTC, ETH→ERC20, USDT→TRC20).
    pub fn coin(&self, asset: &str, network: Option<&str>) -> CustodyResult<&CoinRules> {
        self.inner
            .coins
            .iter()
            .find(|c| {
                c.asset == asset && network.is_none_or(|n| c.network.id().eq_ignore_ascii_case(n))
            })
            .ok_or_else(|| CustodyError::UnknownCoin {
                asset: asset.to_owned(),
                network: network.unwrap_or("-").to_owned(),
            })
    }

    /// The currency id of a coin as clients name it: the bare code for an asset's first
    /// (default) network, which is the one ccxt picks by default, and `CODE-NETWORK` for the
    /// others, which ccxt splits into code and network.
    pub fn currency_id(&self, coin: &CoinRules) -> String {
        let default = self
            .inner
            .coins
            .iter()
            .find(|c| c.asset == coin.asset)
            .is_some_and(|first| first.network == coin.network);
        if default {
            coin.asset.clone()
        } else {
            format!("{}-{}", coin.asset, coin.network)
        }
    }

    /// [`Custody::currency_id`] of an asset on a network, or the bare asset when that coin is
    /// no longer configured (old records).
    pub fn currency_id_of(&self, asset: &str, network: &str) -> String {
        self.coin(asset, Some(network))
            .map_or_else(|_| asset.to_owned(), |c| self.currency_id(c))
    }

    /// Whether a hot share (basis points) is above the alarm.
    pub fn hot_share_alarming(&self, share_bps: i64) -> bool {
        share_bps > i64::from(self.inner.config.hot_alarm_bps)
    }

    /// The coin a currency id names (`USDT-ERC20`, or a bare code for the default network).
    pub fn coin_by_id(&self, id: &str) -> CustodyResult<&CoinRules> {
        let (asset, network) = match id.split_once('-') {
            Some((asset, network)) => (asset, Some(network)),
            None => (id, None),
        };
        self.coin(&asset.to_ascii_uppercase(), network)
    }

    /// The address of a custody wallet on a network.
    pub fn wallet_address(&self, network: Network, wallet: Wallet) -> CustodyResult<String> {
        if let Some(address) = self.chain(network)?.wallet(wallet) {
            return Ok(address);
        }
        let branch = match wallet {
            Wallet::Hot => HOT_BRANCH,
            Wallet::Cold => COLD_BRANCH,
        };
        self.derive(network, branch, 0)
    }

    pub(crate) fn derive(
        &self,
        network: Network,
        branch: u32,
        index: u32,
    ) -> CustodyResult<String> {
        let key = self
            .inner
            .keys
            .get(&network)
            .ok_or_else(|| CustodyError::Internal(format!("no account key for {network}")))?;
        key.address(network, branch, index)
            .map_err(|e| CustodyError::Internal(format!("deriving a {network} address: {e}")))
    }

    pub(crate) fn deposit_branch(&self, asset: &str) -> CustodyResult<u32> {
        let catalog = self.inner.trading.sequencer.catalog();
        let (id, _) = catalog
            .asset(asset)
            .ok_or_else(|| CustodyError::Internal(format!("asset {asset} is not listed")))?;
        Ok(DEPOSIT_BRANCH_BASE + u32::from(id.0))
    }

    pub(crate) fn chain(&self, network: Network) -> CustodyResult<&Arc<dyn Chain>> {
        self.inner
            .chains
            .get(&network)
            .ok_or_else(|| CustodyError::Internal(format!("no chain serves {network}")))
    }

    /// The simulated chain of a network, for operator drills.
    pub fn sim(&self, network: Network) -> Option<&SimChain> {
        self.inner.sims.get(&network)
    }

    pub(crate) fn store(&self) -> &Store {
        self.inner.trading.store()
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.trading.clock.now_ms()
    }

    /// Wakes the workers (after an operator mined blocks or approved a withdrawal).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Submits an engine command under an id derived from `key`, so a retry after a crash is
    /// answered from the engine's idempotency window or refused by the command's own key.
    pub(crate) async fn submit(&self, key: &str, command: Command) -> CustodyResult<Receipt> {
        self.inner
            .trading
            .sequencer
            .submit(bulwark_trading::writes::command_id_for(key), command)
            .await
            .map_err(|e| CustodyError::Internal(format!("engine: {e}")))
    }

    /// Formats units of an asset as a decimal string.
    pub fn format(&self, asset: &str, units: i64) -> String {
        let catalog = self.inner.trading.sequencer.catalog();
        let scale = catalog.asset(asset).map_or(0, |(_, spec)| spec.scale);
        bulwark_types::format_units(units, scale)
    }
}

fn rules(catalog: &bulwark_sequencer::Catalog, coin: &Coin) -> Result<CoinRules, SetupError> {
    let invalid = |message: String| SetupError::Coin {
        asset: coin.asset.clone(),
        network: coin.network,
        message,
    };
    let (_, spec) = catalog
        .asset(&coin.asset)
        .ok_or_else(|| invalid("the asset is not listed".into()))?;
    let units = |text: &str, what: &str| {
        bulwark_types::parse_units(text, spec.scale).map_err(|e| invalid(format!("{what}: {e}")))
    };
    let rules = CoinRules {
        asset: coin.asset.clone(),
        network: coin.network,
        scale: spec.scale,
        confirmations: coin.confirmations.max(1),
        deposit_min: units(&coin.deposit_min, "deposit_min")?,
        withdraw_min: units(&coin.withdraw_min, "withdraw_min")?,
        withdraw_fee: units(&coin.withdraw_fee, "withdraw_fee")?,
        deposit_enabled: coin.deposit_enabled,
        withdraw_enabled: coin.withdraw_enabled,
    };
    if rules.withdraw_fee < 0 || rules.withdraw_min <= rules.withdraw_fee {
        return Err(invalid(
            "withdraw_min must be larger than withdraw_fee, and the fee not negative".into(),
        ));
    }
    Ok(rules)
}

/// The networks' account public keys, from `<dir>/xpubs.json`. On a first start (dev) a master
/// seed is generated, the public keys derived from it are written there, and the seed goes to
/// `<dir>/master-seed.OFFLINE` (mode 0600) with a warning: it belongs offline, and the running
/// exchange never reads it again.
pub fn load_or_create_keys(dir: &Path) -> Result<BTreeMap<Network, MasterPublicKey>, SetupError> {
    let path = dir.join("xpubs.json");
    let fail = |message: String| SetupError::Keys {
        path: path.display().to_string(),
        message,
    };
    if !path.exists() {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        let seed = MasterSeed::generate().map_err(|e| fail(e.to_string()))?;
        let mut xpubs = BTreeMap::new();
        for network in Network::ALL {
            let key = seed
                .account_public_key(network)
                .map_err(|e| fail(e.to_string()))?;
            xpubs.insert(network.id().to_owned(), key.to_string());
        }
        let seed_path = dir.join("master-seed.OFFLINE");
        crate::secret_file::write_private(&seed_path, seed.to_hex().as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        // First start of a new data directory (dev): expected, so not a warning; operators of a
        // real deployment bring their own xpubs.json and never see this line.
        tracing::info!(
            "custody: generated a master seed at {}; move it offline (it is never read again)",
            seed_path.display()
        );
        let json = serde_json::to_vec_pretty(&xpubs).map_err(|e| fail(e.to_string()))?;
        std::fs::write(&path, json).map_err(|e| fail(e.to_string()))?;
    }
    let bytes = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
    let xpubs: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?;
    let mut keys = BTreeMap::new();
    for (id, xpub) in xpubs {
        let network = Network::parse(&id).ok_or_else(|| fail(format!("unknown network {id}")))?;
        let key = MasterPublicKey::parse(&xpub).map_err(|e| fail(format!("{id}: {e}")))?;
        keys.insert(network, key);
    }
    Ok(keys)
}
