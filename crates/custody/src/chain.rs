//! What custody needs from a blockchain, whatever serves it: blocks with the transfers in
//! them, balances, where a transaction landed, and sending. The simulated chains implement it
//! for dev and tests; a real node adapter implements the same trait.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::network::Network;

/// One value movement inside a transaction: an output (Bitcoin) or a transfer or token event
/// (Ethereum, Tron). `(txid, output_index)` names it uniquely on its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub txid: String,
    pub output_index: u32,
    /// Exchange asset code (`BTC`, `ETH`, `USDT`, …).
    pub asset: String,
    /// `None` for value that comes from outside what this chain models (a miner, a faucet).
    pub from: Option<String>,
    pub to: String,
    /// In the asset's smallest unit as the exchange counts it.
    pub amount: i64,
}

/// A block of the canonical chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub height: u64,
    pub hash: String,
    pub transfers: Vec<Transfer>,
}

/// The wallets custody keeps per network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wallet {
    Hot,
    Cold,
}

impl Wallet {
    pub fn parse(name: &str) -> Option<Wallet> {
        match name {
            "hot" => Some(Wallet::Hot),
            "cold" => Some(Wallet::Cold),
            _ => None,
        }
    }
}

/// Where a transaction landed: its block's height and hash (a reorganisation changes the hash
/// at a height, or drops the transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    pub height: u64,
    pub block_hash: String,
}

/// A payment custody asks a chain to make from one of its wallets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub from: String,
    pub to: String,
    pub asset: String,
    pub amount: i64,
    /// Names the payment for the chain's own idempotency (a withdrawal id, a sweep id), so a
    /// retried broadcast after a crash does not pay twice.
    pub reference: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("{network} wallet {address} holds {available} of {asset}, {needed} needed")]
    InsufficientFunds {
        network: Network,
        address: String,
        asset: String,
        needed: i64,
        available: i64,
    },
    #[error("{network} does not carry {asset}")]
    UnknownAsset { network: Network, asset: String },
    #[error("amount must be positive")]
    AmountNotPositive,
    #[error("{0}")]
    Unavailable(String),
}

pub type ChainResult<T> = Result<T, ChainError>;
pub type ChainFuture<'a, T> = Pin<Box<dyn Future<Output = ChainResult<T>> + Send + 'a>>;

/// A chain adapter. Methods return boxed futures so adapters of different kinds sit behind one
/// `Arc<dyn Chain>` per network.
pub trait Chain: Send + Sync {
    fn network(&self) -> Network;
    /// Height of the newest block.
    fn height(&self) -> ChainFuture<'_, u64>;
    /// The canonical block at `height`, if the chain has reached it.
    fn block(&self, height: u64) -> ChainFuture<'_, Option<Block>>;
    /// Confirmed balance of `address` in `asset`.
    fn balance<'a>(&'a self, address: &'a str, asset: &'a str) -> ChainFuture<'a, i64>;
    /// The block that holds `txid`, `None` while unmined (or after a reorganisation dropped
    /// it).
    fn transaction_block<'a>(&'a self, txid: &'a str) -> ChainFuture<'a, Option<Inclusion>>;
    /// Signs and sends a payment from one of custody's wallets; answers the transaction id.
    /// Sending the same `reference` again answers the first transaction instead of paying twice.
    fn send(&self, payment: Payment) -> ChainFuture<'_, String>;
    /// A custody wallet's address when the adapter holds its key (a real node's hot wallet);
    /// `None`: the address derived from the network's account key.
    fn wallet(&self, _wallet: Wallet) -> Option<String> {
        None
    }
    /// The first block that can hold deposits (a new database scans from here, not from the
    /// chain's genesis).
    fn start_height(&self) -> u64 {
        1
    }
    /// Whether the adapter can sign payments from `address` (on a real chain, deposit
    /// addresses belong to the offline seed, so sweeping them is an offline job).
    fn can_send_from(&self, _address: &str) -> bool {
        true
    }
    /// Signs `message` in the network's message scheme with the key of `address`, when the
    /// adapter holds that key online (a control proof for a transparency report); `None` when
    /// the key is elsewhere.
    fn sign_message(&self, _address: &str, _message: &str) -> Option<ChainResult<String>> {
        None
    }
    /// What the network charged for a transaction custody sent, as (asset, units); `None` when
    /// the chain charges nothing or it is not known yet.
    fn network_fee<'a>(&'a self, _txid: &'a str) -> ChainFuture<'a, Option<(String, i64)>> {
        Box::pin(async { Ok(None) })
    }
}

/// Confirmations of something mined at `mined_at` when the chain is at `height` (the block
/// itself counts as one).
pub fn confirmations(height: u64, mined_at: u64) -> u64 {
    height.saturating_sub(mined_at).saturating_add(1)
}
