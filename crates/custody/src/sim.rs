//! The built-in simulated chain of one network: blocks on demand or on a timer, confirmations,
//! transaction ids of the network's shape, and balances per address, kept durable in one file
//! of the data directory (written whole and renamed into place, so a crash leaves the old or
//! the new state, never half of one). Deterministic for a seed: the same operations give the
//! same transaction ids and block hashes, which keeps tests and drills reproducible.
//!
//! Operators drive it for drills: inject an incoming deposit from outside, mine blocks, or move
//! coins out of a wallet as a thief would.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chain::{
    Block, Chain, ChainError, ChainFuture, ChainResult, Inclusion, Payment, Transfer,
};
use crate::network::Network;

/// Where thieves send stolen coins in drills (nobody's wallet).
const THIEF: &str = "thief";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    seed: u64,
    height: u64,
    /// Transactions created so far (the input of the next transaction id).
    counter: u64,
    /// Only blocks with transfers are stored; an empty block is its height and hash.
    blocks: BTreeMap<u64, Vec<Transfer>>,
    mempool: Vec<Transfer>,
    /// Address → asset → confirmed balance: both sides of a transfer change when it is mined,
    /// as on a real chain (an unmined payment still shows at its sender).
    balances: BTreeMap<String, BTreeMap<String, i64>>,
    /// Payment reference → transaction id, so a retried send does not pay twice.
    sent: BTreeMap<String, String>,
    /// Transaction id → height of its block.
    mined: BTreeMap<String, u64>,
}

/// A simulated chain (cheap to clone; clones share state).
#[derive(Clone)]
pub struct SimChain {
    network: Network,
    assets: Vec<String>,
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulated {network} chain file {path}: {source}")]
    Io {
        network: Network,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("simulated {network} chain file {path} is not valid: {source}")]
    Corrupt {
        network: Network,
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("the simulated chain's lock was poisoned by a crash in another thread")]
    Poisoned,
}

impl From<SimError> for ChainError {
    fn from(error: SimError) -> ChainError {
        match error {
            SimError::Chain(e) => e,
            other => ChainError::Unavailable(other.to_string()),
        }
    }
}

impl SimChain {
    /// Opens the chain's file under `dir` (`<dir>/<NETWORK>.json`), or starts a new chain at
    /// height 0 with `seed`. `assets` are the exchange assets this network carries.
    pub fn open(
        dir: &Path,
        network: Network,
        assets: Vec<String>,
        seed: u64,
    ) -> Result<SimChain, SimError> {
        let path = dir.join(format!("{}.json", network.id()));
        let io = |source| SimError::Io {
            network,
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let state = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SimError::Corrupt {
                network,
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                seed,
                ..State::default()
            },
            Err(e) => return Err(io(e)),
        };
        Ok(SimChain {
            network,
            assets,
            path,
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// Value arriving from outside (someone's deposit); it is mined with the next block.
    pub fn inject(&self, to: &str, asset: &str, amount: i64) -> Result<String, SimError> {
        self.carries(asset)?;
        positive(amount)?;
        self.change(|state, network| {
            let txid = next_txid(state, network);
            state.mempool.push(Transfer {
                txid: txid.clone(),
                output_index: 0,
                asset: asset.to_owned(),
                from: None,
                to: to.to_owned(),
                amount,
            });
            Ok(txid)
        })
    }

    /// Mines `blocks` blocks (the first takes the mempool); answers the new height.
    pub fn mine(&self, blocks: u64) -> Result<u64, SimError> {
        self.change(|state, _| {
            for _ in 0..blocks {
                state.height += 1;
                let transfers = std::mem::take(&mut state.mempool);
                for t in &transfers {
                    if let Some(from) = &t.from {
                        credit(state, from, &t.asset, -t.amount);
                    }
                    credit(state, &t.to, &t.asset, t.amount);
                    state.mined.insert(t.txid.clone(), state.height);
                }
                if !transfers.is_empty() {
                    state.blocks.insert(state.height, transfers);
                }
            }
            Ok(state.height)
        })
    }

    /// Moves `amount` out of `from` to nobody, as a thief with the wallet's key would.
    pub fn steal(&self, from: &str, asset: &str, amount: i64) -> Result<String, SimError> {
        let counter = self.lock()?.counter;
        self.pay(Payment {
            from: from.to_owned(),
            to: THIEF.to_owned(),
            asset: asset.to_owned(),
            amount,
            reference: format!("theft:{counter}"),
        })
    }

    fn pay(&self, payment: Payment) -> Result<String, SimError> {
        self.carries(&payment.asset)?;
        positive(payment.amount)?;
        let network = self.network;
        self.change(|state, _| {
            if let Some(txid) = state.sent.get(&payment.reference) {
                return Ok(txid.clone());
            }
            // Spendable: confirmed minus what the sender already has waiting to be mined.
            let pending_out: i64 = state
                .mempool
                .iter()
                .filter(|t| {
                    t.from.as_deref() == Some(payment.from.as_str()) && t.asset == payment.asset
                })
                .map(|t| t.amount)
                .sum();
            let available = balance_of(state, &payment.from, &payment.asset) - pending_out;
            if available < payment.amount {
                return Err(SimError::Chain(ChainError::InsufficientFunds {
                    network,
                    address: payment.from.clone(),
                    asset: payment.asset.clone(),
                    needed: payment.amount,
                    available,
                }));
            }
            let txid = next_txid(state, network);
            state.mempool.push(Transfer {
                txid: txid.clone(),
                output_index: 0,
                asset: payment.asset.clone(),
                from: Some(payment.from.clone()),
                to: payment.to.clone(),
                amount: payment.amount,
            });
            state.sent.insert(payment.reference.clone(), txid.clone());
            Ok(txid)
        })
    }

    fn carries(&self, asset: &str) -> Result<(), SimError> {
        if self.assets.iter().any(|a| a == asset) {
            Ok(())
        } else {
            Err(SimError::Chain(ChainError::UnknownAsset {
                network: self.network,
                asset: asset.to_owned(),
            }))
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, SimError> {
        self.state.lock().map_err(|_| SimError::Poisoned)
    }

    /// Applies `f` and persists the result before answering; on failure nothing is kept.
    fn change<T>(
        &self,
        f: impl FnOnce(&mut State, Network) -> Result<T, SimError>,
    ) -> Result<T, SimError> {
        let mut guard = self.lock()?;
        let before = guard.clone();
        let result = f(&mut guard, self.network).and_then(|value| {
            self.save(&guard)?;
            Ok(value)
        });
        if result.is_err() {
            // Nothing of a failed or unsaved change is kept.
            *guard = before;
        }
        result
    }

    fn corrupt(&self, source: serde_json::Error) -> SimError {
        SimError::Corrupt {
            network: self.network,
            path: self.path.clone(),
            source,
        }
    }

    fn save(&self, state: &State) -> Result<(), SimError> {
        let io = |source| SimError::Io {
            network: self.network,
            path: self.path.clone(),
            source,
        };
        let bytes = serde_json::to_vec(state).map_err(|source| self.corrupt(source))?;
        let tmp = self.path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> ChainResult<T> {
        let guard = self.lock().map_err(ChainError::from)?;
        Ok(f(&guard))
    }
}

impl Chain for SimChain {
    fn network(&self) -> Network {
        self.network
    }

    fn height(&self) -> ChainFuture<'_, u64> {
        Box::pin(async move { self.read(|s| s.height) })
    }

    fn block(&self, height: u64) -> ChainFuture<'_, Option<Block>> {
        Box::pin(async move {
            self.read(|s| {
                (height <= s.height).then(|| Block {
                    height,
                    hash: block_hash(s.seed, self.network, height),
                    transfers: s.blocks.get(&height).cloned().unwrap_or_default(),
                })
            })
        })
    }

    fn balance<'a>(&'a self, address: &'a str, asset: &'a str) -> ChainFuture<'a, i64> {
        Box::pin(async move { self.read(|s| balance_of(s, address, asset)) })
    }

    fn transaction_block<'a>(&'a self, txid: &'a str) -> ChainFuture<'a, Option<Inclusion>> {
        Box::pin(async move {
            self.read(|s| {
                s.mined.get(txid).map(|&height| Inclusion {
                    height,
                    block_hash: block_hash(s.seed, self.network, height),
                })
            })
        })
    }

    fn send(&self, payment: Payment) -> ChainFuture<'_, String> {
        Box::pin(async move { self.pay(payment).map_err(ChainError::from) })
    }
}

fn positive(amount: i64) -> Result<(), SimError> {
    if amount > 0 {
        Ok(())
    } else {
        Err(SimError::Chain(ChainError::AmountNotPositive))
    }
}

fn balance_of(state: &State, address: &str, asset: &str) -> i64 {
    state
        .balances
        .get(address)
        .and_then(|b| b.get(asset))
        .copied()
        .unwrap_or(0)
}

fn credit(state: &mut State, address: &str, asset: &str, amount: i64) {
    let cell = state
        .balances
        .entry(address.to_owned())
        .or_default()
        .entry(asset.to_owned())
        .or_insert(0);
    *cell = cell.saturating_add(amount);
}

fn next_txid(state: &mut State, network: Network) -> String {
    state.counter += 1;
    let mut hash = Sha256::new();
    hash.update(b"bulwark-sim-tx");
    hash.update(state.seed.to_be_bytes());
    hash.update(network.id().as_bytes());
    hash.update(state.counter.to_be_bytes());
    let hex = hex::encode(hash.finalize());
    match network {
        Network::Erc20 => format!("0x{hex}"),
        Network::Btc | Network::Trc20 => hex,
    }
}

fn block_hash(seed: u64, network: Network, height: u64) -> String {
    let mut hash = Sha256::new();
    hash.update(b"bulwark-sim-block");
    hash.update(seed.to_be_bytes());
    hash.update(network.id().as_bytes());
    hash.update(height.to_be_bytes());
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::chain::confirmations;

    fn chain(dir: &Path) -> SimChain {
        SimChain::open(dir, Network::Erc20, vec!["ETH".into(), "USDT".into()], 7).unwrap()
    }

    #[tokio::test]
    async fn deposits_mine_confirm_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let sim = chain(dir.path());
        let txid = sim.inject("0xuser", "USDT", 5_000_000).unwrap();
        assert!(txid.starts_with("0x") && txid.len() == 66);
        assert_eq!(sim.transaction_block(&txid).await.unwrap(), None);
        assert_eq!(sim.mine(3).unwrap(), 3);
        let inclusion = sim.transaction_block(&txid).await.unwrap().unwrap();
        assert_eq!(inclusion.height, 1);
        assert_eq!(confirmations(sim.height().await.unwrap(), 1), 3);
        let block = sim.block(1).await.unwrap().unwrap();
        assert_eq!(block.transfers.len(), 1);
        assert_eq!(block.hash, inclusion.block_hash);
        assert!(sim.block(2).await.unwrap().unwrap().transfers.is_empty());
        assert_eq!(sim.block(4).await.unwrap(), None);

        let reopened = chain(dir.path());
        assert_eq!(reopened.height().await.unwrap(), 3);
        assert_eq!(reopened.balance("0xuser", "USDT").await.unwrap(), 5_000_000);
        assert_eq!(reopened.block(1).await.unwrap(), Some(block));
        // Same seed and operations, same ids.
        let other = tempfile::tempdir().unwrap();
        assert_eq!(
            chain(other.path())
                .inject("0xuser", "USDT", 5_000_000)
                .unwrap(),
            txid
        );
    }

    #[tokio::test]
    async fn payments_need_funds_and_pay_once_per_reference() {
        let dir = tempfile::tempdir().unwrap();
        let sim = chain(dir.path());
        sim.inject("0xhot", "ETH", 100).unwrap();
        sim.mine(1).unwrap();
        let pay = |amount, reference: &str| Payment {
            from: "0xhot".into(),
            to: "0xdest".into(),
            asset: "ETH".into(),
            amount,
            reference: reference.into(),
        };
        let error = sim.send(pay(101, "w1")).await.unwrap_err();
        assert!(matches!(
            error,
            ChainError::InsufficientFunds { available: 100, .. }
        ));
        let txid = sim.send(pay(60, "w1")).await.unwrap();
        assert_eq!(sim.send(pay(60, "w1")).await.unwrap(), txid);
        // Unmined: the sender still shows it, but cannot spend it twice.
        assert_eq!(sim.balance("0xhot", "ETH").await.unwrap(), 100);
        let error = sim.send(pay(41, "w2")).await.unwrap_err();
        assert!(matches!(
            error,
            ChainError::InsufficientFunds { available: 40, .. }
        ));
        assert_eq!(sim.balance("0xdest", "ETH").await.unwrap(), 0);
        sim.mine(1).unwrap();
        assert_eq!(sim.balance("0xhot", "ETH").await.unwrap(), 40);
        assert_eq!(sim.balance("0xdest", "ETH").await.unwrap(), 60);
        assert!(matches!(
            sim.inject("0xhot", "BTC", 1).unwrap_err(),
            SimError::Chain(ChainError::UnknownAsset { .. })
        ));
        assert!(matches!(
            sim.inject("0xhot", "ETH", 0).unwrap_err(),
            SimError::Chain(ChainError::AmountNotPositive)
        ));
        sim.steal("0xhot", "ETH", 40).unwrap();
        sim.mine(1).unwrap();
        assert_eq!(chain(dir.path()).balance("0xhot", "ETH").await.unwrap(), 0);
    }
}
