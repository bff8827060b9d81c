//! The Ethereum adapter: a node's JSON-RPC (geth, reth, anvil) serving the ERC20 network.
//! Deposits come from real blocks (ether transfers) and logs (ERC-20 `Transfer` events of the
//! configured token contracts); payments are EIP-1559 transactions built, signed and encoded
//! with alloy and sent raw. The hot wallet's key is configured for the node; cold and deposit
//! addresses belong to offline keys, so this adapter never sweeps or moves cold funds.
//!
//! A payment is signed once per reference and its raw bytes are kept in a file before they are
//! broadcast, so a retry after a crash re-sends the same transaction (same nonce, same hash)
//! instead of paying twice.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::address;
use crate::chain::{
    Block, Chain, ChainError, ChainFuture, ChainResult, Inclusion, Payment, Transfer, Wallet,
};
use crate::network::Network;

/// The ERC-20 interface custody uses.
mod erc20 {
    alloy::sol! {
        function transfer(address to, uint256 value) returns (bool);
        function balanceOf(address owner) returns (uint256);
        event Transfer(address indexed from, address indexed to, uint256 value);
    }
}

/// Gas for a plain ether transfer.
const ETHER_GAS: u64 = 21_000;
/// Gas allowance for an ERC-20 `transfer`.
const TOKEN_GAS: u64 = 100_000;

/// `[custody.ethereum]`: which node serves the ERC20 network and with which keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EthereumConfig {
    /// The node's JSON-RPC URL (`http://127.0.0.1:8545`).
    pub rpc_url: String,
    /// File holding the hot wallet's private key in hex (mode 0600): the one key online.
    pub hot_key_file: PathBuf,
    /// The cold wallet's address (its key stays offline).
    pub cold_address: String,
    /// ERC-20 tokens carried: exchange asset, contract address, token decimals.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// The first block to scan for deposits on a new database (default 1).
    #[serde(default = "first_block")]
    pub start_block: u64,
}

fn first_block() -> u64 {
    1
}

/// How long one JSON-RPC call may take before the node counts as unavailable (so a hung node
/// cannot stall custody's worker).
const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub asset: String,
    pub contract: String,
    pub decimals: u32,
}

/// One asset the adapter carries: ether itself or a token contract.
#[derive(Debug, Clone)]
struct Carried {
    asset: String,
    contract: Option<Address>,
    /// The chain's decimals over the exchange's scale: a chain amount is `units * 10^shift`.
    shift: u32,
}

/// The Ethereum adapter.
#[derive(Clone)]
pub struct EthereumChain {
    inner: Arc<Inner>,
}

struct Inner {
    rpc_url: String,
    start_block: u64,
    http: reqwest::Client,
    hot: PrivateKeySigner,
    hot_address: String,
    cold_address: String,
    carried: Vec<Carried>,
    /// Reference → (transaction hash, raw signed bytes), persisted before broadcasting.
    sent_path: PathBuf,
    sent: Mutex<BTreeMap<String, (String, String)>>,
    /// Serialises signing so nonces are handed out once.
    signing: tokio::sync::Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum EthereumSetupError {
    #[error("[custody.ethereum] {0}")]
    Invalid(String),
    #[error("[custody.ethereum] {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl EthereumChain {
    /// `assets` are the exchange assets of the ERC20 network with their scales; ETH is ether
    /// itself, the others must be configured tokens.
    pub fn open(
        config: &EthereumConfig,
        assets: &[(String, u32)],
        dir: &Path,
    ) -> Result<EthereumChain, EthereumSetupError> {
        let invalid = EthereumSetupError::Invalid;
        let key_text =
            crate::secret_file::read_private(&config.hot_key_file).map_err(|source| {
                EthereumSetupError::Io {
                    path: config.hot_key_file.display().to_string(),
                    source,
                }
            })?;
        let key: [u8; 32] = hex::decode(key_text.trim().trim_start_matches("0x"))
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| invalid("hot_key_file must hold a 32-byte private key in hex".into()))?;
        let hot = PrivateKeySigner::from_bytes(&B256::from(key))
            .map_err(|_| invalid("the hot key is not a valid secp256k1 private key".into()))?;
        let hot_address = address::eth_checksummed(hot.address().as_ref());
        address::validate(Network::Erc20, &config.cold_address)
            .map_err(|e| invalid(format!("cold_address: {e}")))?;
        let mut carried = Vec::new();
        for (asset, scale) in assets {
            let (contract, decimals) = if asset == "ETH" {
                (None, 18)
            } else {
                let token = config
                    .tokens
                    .iter()
                    .find(|t| &t.asset == asset)
                    .ok_or_else(|| invalid(format!("no token contract configured for {asset}")))?;
                let contract: Address = token
                    .contract
                    .parse()
                    .map_err(|_| invalid(format!("{asset}: contract is not an address")))?;
                (Some(contract), token.decimals)
            };
            let shift = decimals.checked_sub(*scale).ok_or_else(|| {
                invalid(format!(
                    "{asset}: the chain has fewer decimals than the exchange"
                ))
            })?;
            carried.push(Carried {
                asset: asset.clone(),
                contract,
                shift,
            });
        }
        let sent_path = dir.join("ethereum-sent.json");
        let sent = match std::fs::read(&sent_path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| invalid(format!("{}: {e}", sent_path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(EthereumSetupError::Io {
                    path: sent_path.display().to_string(),
                    source,
                });
            }
        };
        Ok(EthereumChain {
            inner: Arc::new(Inner {
                rpc_url: config.rpc_url.clone(),
                start_block: config.start_block.max(1),
                http: reqwest::Client::builder()
                    .timeout(RPC_TIMEOUT)
                    .build()
                    .map_err(|e| invalid(format!("http client: {e}")))?,
                hot,
                hot_address,
                cold_address: config.cold_address.clone(),
                carried,
                sent_path,
                sent: Mutex::new(sent),
                signing: tokio::sync::Mutex::new(()),
            }),
        })
    }

    async fn rpc(&self, method: &str, params: Value) -> ChainResult<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let answer: Value = self
            .inner
            .http
            .post(&self.inner.rpc_url)
            .json(&body)
            .send()
            .await
            .map_err(|e| unavailable(format!("{method}: {e}")))?
            .json()
            .await
            .map_err(|e| unavailable(format!("{method}: {e}")))?;
        if let Some(error) = answer.get("error") {
            return Err(unavailable(format!("{method}: {error}")));
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    fn carried(&self, asset: &str) -> ChainResult<&Carried> {
        self.inner
            .carried
            .iter()
            .find(|c| c.asset == asset)
            .ok_or_else(|| ChainError::UnknownAsset {
                network: Network::Erc20,
                asset: asset.to_owned(),
            })
    }

    async fn chain_id(&self) -> ChainResult<u64> {
        quantity(&self.rpc("eth_chainId", json!([])).await?)
    }

    async fn token_transfers(&self, hash: &str) -> ChainResult<Vec<Transfer>> {
        let mut transfers = Vec::new();
        // A log's output index is its place among the transaction's transfers custody reads
        // (contracts in configuration order, logs in order), not its index in the block: a
        // transaction mined again in another block keeps the same (txid, output) key.
        let mut per_tx: BTreeMap<String, u32> = BTreeMap::new();
        for carried in &self.inner.carried {
            let Some(contract) = carried.contract else {
                continue;
            };
            let logs = self
                .rpc(
                    "eth_getLogs",
                    json!([{"blockHash": hash, "address": contract.to_string(),
                            "topics": [erc20::Transfer::SIGNATURE_HASH.to_string()]}]),
                )
                .await?;
            for log in logs.as_array().into_iter().flatten() {
                let topics: Vec<&str> = log
                    .get("topics")
                    .and_then(Value::as_array)
                    .map(|t| t.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let (Some(from), Some(to)) = (topics.get(1), topics.get(2)) else {
                    continue;
                };
                let value = word(log.get("data").and_then(Value::as_str).unwrap_or("0x"))?;
                let Some(amount) = to_units(value, carried.shift) else {
                    continue;
                };
                let txid = text(log.get("transactionHash"))?;
                let ordinal = per_tx.entry(txid.clone()).or_insert(0);
                *ordinal += 1;
                transfers.push(Transfer {
                    txid,
                    // Output 0 is the ether value; tokens count from 1.
                    output_index: *ordinal,
                    asset: carried.asset.clone(),
                    from: Some(topic_address(from)?),
                    to: topic_address(to)?,
                    amount,
                });
            }
        }
        Ok(transfers)
    }

    fn remember(&self, reference: &str, txid: &str, raw: &str) -> ChainResult<()> {
        let mut sent = self
            .inner
            .sent
            .lock()
            .map_err(|_| unavailable("the sent-payments lock was poisoned".into()))?;
        sent.insert(reference.to_owned(), (txid.to_owned(), raw.to_owned()));
        let bytes = serde_json::to_vec(&*sent).map_err(|e| unavailable(e.to_string()))?;
        let tmp = self.inner.sent_path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.inner.sent_path)?;
            if let Some(dir) = self.inner.sent_path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| unavailable(format!("{}: {e}", self.inner.sent_path.display())))
    }

    fn already_sent(&self, reference: &str) -> ChainResult<Option<(String, String)>> {
        let sent = self
            .inner
            .sent
            .lock()
            .map_err(|_| unavailable("the sent-payments lock was poisoned".into()))?;
        Ok(sent.get(reference).cloned())
    }

    async fn pay(&self, payment: Payment) -> ChainResult<String> {
        let _signing = self.inner.signing.lock().await;
        if let Some((txid, raw)) = self.already_sent(&payment.reference)? {
            // Re-broadcast the same signed bytes; a node that has them answers with an error
            // we can ignore, and the hash stays the same.
            let _ = self.rpc("eth_sendRawTransaction", json!([raw])).await;
            return Ok(txid);
        }
        if payment.from != self.inner.hot_address {
            return Err(unavailable(format!(
                "only the hot wallet signs online; {} belongs to an offline key",
                payment.from
            )));
        }
        if payment.amount <= 0 {
            return Err(ChainError::AmountNotPositive);
        }
        let carried = self.carried(&payment.asset)?.clone();
        let available = self.balance_of(&payment.from, &carried).await?;
        if available < payment.amount {
            return Err(ChainError::InsufficientFunds {
                network: Network::Erc20,
                address: payment.from.clone(),
                asset: payment.asset.clone(),
                needed: payment.amount,
                available,
            });
        }
        let to: Address = payment
            .to
            .parse()
            .map_err(|_| unavailable(format!("{} is not an address", payment.to)))?;
        let value = U256::from(payment.amount) * U256::from(10).pow(U256::from(carried.shift));
        let (target, value, input, gas) = match carried.contract {
            None => (to, value, Bytes::new(), ETHER_GAS),
            Some(contract) => {
                let call = erc20::transferCall { to, value }.abi_encode();
                (contract, U256::ZERO, Bytes::from(call), TOKEN_GAS)
            }
        };
        let nonce = quantity(
            &self
                .rpc(
                    "eth_getTransactionCount",
                    json!([self.inner.hot_address, "pending"]),
                )
                .await?,
        )?;
        let gas_price = u128::from(quantity(&self.rpc("eth_gasPrice", json!([])).await?)?);
        let mut tx = TxEip1559 {
            chain_id: self.chain_id().await?,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: gas_price.saturating_mul(2).max(1),
            max_priority_fee_per_gas: gas_price.min(1_000_000_000),
            to: TxKind::Call(target),
            value,
            access_list: Default::default(),
            input,
        };
        if tx.max_priority_fee_per_gas > tx.max_fee_per_gas {
            tx.max_priority_fee_per_gas = tx.max_fee_per_gas;
        }
        let signature = self
            .inner
            .hot
            .sign_hash_sync(&tx.signature_hash())
            .map_err(|e| unavailable(format!("signing: {e}")))?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        let txid = envelope.tx_hash().to_string();
        let raw = format!("0x{}", hex::encode(envelope.encoded_2718()));
        self.remember(&payment.reference, &txid, &raw)?;
        self.rpc("eth_sendRawTransaction", json!([raw])).await?;
        Ok(txid)
    }

    async fn balance_of(&self, owner: &str, carried: &Carried) -> ChainResult<i64> {
        let wei = match carried.contract {
            None => word(&text(Some(
                &self.rpc("eth_getBalance", json!([owner, "latest"])).await?,
            ))?)?,
            Some(contract) => {
                let owner: Address = owner
                    .parse()
                    .map_err(|_| unavailable(format!("{owner} is not an address")))?;
                let data = format!(
                    "0x{}",
                    hex::encode(erc20::balanceOfCall { owner }.abi_encode())
                );
                let answer = self
                    .rpc(
                        "eth_call",
                        json!([{"to": contract.to_string(), "data": data}, "latest"]),
                    )
                    .await?;
                word(&text(Some(&answer))?)?
            }
        };
        Ok(to_units(wei, carried.shift).unwrap_or(i64::MAX))
    }
}

impl Chain for EthereumChain {
    fn network(&self) -> Network {
        Network::Erc20
    }

    fn height(&self) -> ChainFuture<'_, u64> {
        Box::pin(async move { quantity(&self.rpc("eth_blockNumber", json!([])).await?) })
    }

    fn block(&self, height: u64) -> ChainFuture<'_, Option<Block>> {
        Box::pin(async move {
            let block = self
                .rpc(
                    "eth_getBlockByNumber",
                    json!([format!("0x{height:x}"), true]),
                )
                .await?;
            if block.is_null() {
                return Ok(None);
            }
            let hash = text(block.get("hash"))?;
            let mut transfers = Vec::new();
            if let Ok(ether) = self.carried("ETH") {
                for tx in block
                    .get("transactions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let (Some(to), Some(value)) = (
                        tx.get("to").and_then(Value::as_str),
                        tx.get("value").and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    let Some(amount) = to_units(word(value)?, ether.shift).filter(|a| *a > 0)
                    else {
                        continue;
                    };
                    transfers.push(Transfer {
                        txid: text(tx.get("hash"))?,
                        output_index: 0,
                        asset: "ETH".into(),
                        from: tx.get("from").and_then(Value::as_str).map(checksummed),
                        to: checksummed(to),
                        amount,
                    });
                }
            }
            transfers.extend(self.token_transfers(&hash).await?);
            Ok(Some(Block {
                height,
                hash,
                transfers,
            }))
        })
    }

    fn balance<'a>(&'a self, address: &'a str, asset: &'a str) -> ChainFuture<'a, i64> {
        Box::pin(async move {
            let carried = self.carried(asset)?.clone();
            self.balance_of(address, &carried).await
        })
    }

    fn transaction_block<'a>(&'a self, txid: &'a str) -> ChainFuture<'a, Option<Inclusion>> {
        Box::pin(async move {
            let receipt = self.rpc("eth_getTransactionReceipt", json!([txid])).await?;
            if receipt.is_null() {
                return Ok(None);
            }
            Ok(Some(Inclusion {
                height: quantity(receipt.get("blockNumber").unwrap_or(&Value::Null))?,
                block_hash: text(receipt.get("blockHash"))?,
            }))
        })
    }

    fn send(&self, payment: Payment) -> ChainFuture<'_, String> {
        Box::pin(self.pay(payment))
    }

    fn wallet(&self, wallet: Wallet) -> Option<String> {
        Some(match wallet {
            Wallet::Hot => self.inner.hot_address.clone(),
            Wallet::Cold => self.inner.cold_address.clone(),
        })
    }

    fn can_send_from(&self, address: &str) -> bool {
        address == self.inner.hot_address
    }

    /// EIP-191 `personal_sign` by the hot key, the one key this adapter holds.
    fn sign_message(&self, address: &str, message: &str) -> Option<ChainResult<String>> {
        if !address.eq_ignore_ascii_case(&self.inner.hot_address) {
            return None;
        }
        Some(personal_sign(&self.inner.hot, message))
    }

    fn start_height(&self) -> u64 {
        self.inner.start_block
    }

    fn network_fee<'a>(&'a self, txid: &'a str) -> ChainFuture<'a, Option<(String, i64)>> {
        Box::pin(async move {
            let receipt = self.rpc("eth_getTransactionReceipt", json!([txid])).await?;
            if receipt.is_null() {
                return Ok(None);
            }
            let used = word(&text(receipt.get("gasUsed"))?)?;
            let price = word(&text(receipt.get("effectiveGasPrice"))?)?;
            let ether = self.carried("ETH")?;
            // Rounded up: the platform never under-counts what it paid.
            let wei = used.saturating_mul(price);
            let unit = U256::from(10).pow(U256::from(ether.shift));
            let units = (wei + unit - U256::from(1)) / unit;
            Ok(Some((
                "ETH".into(),
                i64::try_from(units).unwrap_or(i64::MAX),
            )))
        })
    }
}

/// EIP-191 `personal_sign` as wallets write it: `0x` + r ‖ s ‖ v (v = 27 or 28).
fn personal_sign(key: &PrivateKeySigner, message: &str) -> ChainResult<String> {
    key.sign_message_sync(message.as_bytes())
        .map(|signature| format!("0x{}", hex::encode(signature.as_bytes())))
        .map_err(|e| unavailable(format!("signing with the hot key: {e}")))
}

fn unavailable(message: String) -> ChainError {
    ChainError::Unavailable(message)
}

fn text(value: Option<&Value>) -> ChainResult<String> {
    value
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| unavailable("the node answered without an expected field".into()))
}

fn quantity(value: &Value) -> ChainResult<u64> {
    let text = value
        .as_str()
        .ok_or_else(|| unavailable(format!("expected a hex quantity, got {value}")))?;
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .map_err(|_| unavailable(format!("bad hex quantity {text}")))
}

fn word(text: &str) -> ChainResult<U256> {
    let digits = text.trim_start_matches("0x");
    if digits.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(digits, 16).map_err(|_| unavailable(format!("bad hex number {text}")))
}

/// A chain amount in the exchange's units (the dust below one unit is dropped); `None` when it
/// does not fit.
fn to_units(value: U256, shift: u32) -> Option<i64> {
    let units = value / U256::from(10).pow(U256::from(shift));
    i64::try_from(units).ok()
}

fn checksummed(address: &str) -> String {
    hex::decode(address.trim_start_matches("0x"))
        .ok()
        .and_then(|b| <[u8; 20]>::try_from(b).ok())
        .map_or_else(|| address.to_owned(), |b| address::eth_checksummed(&b))
}

fn topic_address(topic: &str) -> ChainResult<String> {
    let digits = topic.trim_start_matches("0x");
    let tail = digits
        .get(digits.len().saturating_sub(40)..)
        .ok_or_else(|| unavailable(format!("bad topic {topic}")))?;
    Ok(checksummed(tail))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn amounts_convert_without_inventing_units() {
        let one_eth = U256::from(10).pow(U256::from(18));
        assert_eq!(to_units(one_eth, 10), Some(100_000_000));
        // Dust below one exchange unit is dropped, never rounded up.
        assert_eq!(to_units(U256::from(9_999_999_999_u64), 10), Some(0));
        assert_eq!(to_units(U256::MAX, 10), None);
        assert_eq!(word("0x").unwrap(), U256::ZERO);
        assert_eq!(quantity(&json!("0x1a")).unwrap(), 26);
        assert!(quantity(&json!(5)).is_err());
    }

    #[test]
    fn the_hot_keys_personal_sign_is_what_the_control_verifier_accepts() {
        // alloy's EIP-191 and bulwark-por's are written apart; they must agree byte for byte.
        let secret = [0x4c_u8; 32];
        let key = PrivateKeySigner::from_bytes(&B256::from(secret)).unwrap();
        let message = bulwark_por::control::message(3, &"ab".repeat(32));
        let signature = personal_sign(&key, &message).unwrap();
        assert_eq!(
            signature,
            bulwark_por::control::sign(Network::Erc20, &secret, &message).unwrap()
        );
        let address = key.address().to_checksum(None);
        bulwark_por::control::verify(Network::Erc20, &address, &message, &signature).unwrap();
    }

    #[test]
    fn topics_and_addresses_come_back_checksummed() {
        let topic = "0x0000000000000000000000005aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
        assert_eq!(
            topic_address(topic).unwrap(),
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        );
        assert_eq!(
            checksummed("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        );
    }
}
