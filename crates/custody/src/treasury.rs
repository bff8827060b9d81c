//! Coins the platform's treasury sends into custody from outside, to top up the Safeguard
//! fund: found on chain by transaction id, paid to one of custody's own wallets, and confirmed
//! as deeply as a deposit of that coin must be before the ledger may count them.

use crate::chain::{Wallet, confirmations};
use crate::error::CustodyResult;
use crate::service::Custody;

/// What the chain says about a treasury transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreasuryTransfer {
    /// Confirmed: `amount` (the asset's smallest unit) paid to custody's hot and cold wallets.
    Arrived {
        amount: i64,
    },
    /// Not in a block (unknown, unmined, or dropped by a reorganisation).
    NotMined,
    Unconfirmed {
        confirmations: u64,
        needed: u64,
    },
    /// Mined, but it pays none of custody's wallets in that asset.
    NotToCustody,
}

impl Custody {
    /// Looks up `txid` on the network of (`asset`, `network`): how much of the asset it paid
    /// to custody's hot or cold wallet, once it has the coin's confirmations.
    pub async fn treasury_transfer(
        &self,
        asset: &str,
        network: &str,
        txid: &str,
    ) -> CustodyResult<TreasuryTransfer> {
        let coin = self.coin(asset, Some(network))?.clone();
        let chain = self.chain(coin.network)?;
        let chain_error = |e: crate::chain::ChainError| {
            crate::error::CustodyError::Internal(format!("chain {}: {e}", coin.network))
        };
        let Some(inclusion) = chain.transaction_block(txid).await.map_err(chain_error)? else {
            return Ok(TreasuryTransfer::NotMined);
        };
        let height = chain.height().await.map_err(chain_error)?;
        let depth = confirmations(height, inclusion.height);
        if depth < coin.confirmations {
            return Ok(TreasuryTransfer::Unconfirmed {
                confirmations: depth,
                needed: coin.confirmations,
            });
        }
        let Some(block) = chain.block(inclusion.height).await.map_err(chain_error)? else {
            return Ok(TreasuryTransfer::NotMined);
        };
        let mut amount = 0_i64;
        for wallet in [Wallet::Hot, Wallet::Cold] {
            let address = self.wallet_address(coin.network, wallet)?;
            amount = block
                .transfers
                .iter()
                .filter(|t| t.txid == txid && t.asset == coin.asset && t.to == address)
                .fold(amount, |sum, t| sum.saturating_add(t.amount));
        }
        if amount > 0 {
            return Ok(TreasuryTransfer::Arrived { amount });
        }
        Ok(TreasuryTransfer::NotToCustody)
    }
}
