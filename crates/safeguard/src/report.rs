//! The transparency report's content and how it is assembled from one reading of the engine,
//! custody's reserves and the previous report. Every amount is an integer in the asset's
//! smallest unit written as a decimal string (JSON numbers lose precision past 2^53), with the
//! asset's scale beside it; USDT values are decimal strings with 6 places.

use std::collections::BTreeMap;

use bulwark_custody::reconcile::Reserves;
use bulwark_por::{Hash, PathNode, Tree, leaf_id};
use bulwark_store::{AuditCheck, CustodyIncidentRow};
use serde::{Deserialize, Serialize};

use crate::error::{SafeguardError, SafeguardResult};

/// Everything the report reads from the engine, taken in one query at `journal_seq`.
#[derive(Debug, Clone, Default)]
pub struct LedgerReading {
    pub journal_seq: u64,
    pub share_bps: u32,
    /// Per asset code: its scale, the Safeguard fund's balance and fee revenue.
    pub assets: BTreeMap<String, AssetReading>,
}

#[derive(Debug, Clone, Default)]
pub struct AssetReading {
    pub scale: u32,
    pub fund: i64,
    /// (user id, available + held) for every user holding some.
    pub users: Vec<(u64, i64)>,
}

/// One tree leaf as stored: the user, their balance, and their salt for this report.
pub type StoredLeaf = (u64, u64, String);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub seq: u64,
    pub prev_sha256: Option<String>,
    pub published_ms: i64,
    pub journal_seq: u64,
    pub safeguard: Fund,
    /// Custody's automatic incidents (shortfalls, reverted deposits).
    pub incidents: Vec<Incident>,
    /// Incidents declared by staff, with their containment.
    #[serde(default)]
    pub declared_incidents: Vec<DeclaredIncident>,
    pub reserves: BTreeMap<String, AssetReserves>,
    pub proof_of_liabilities: BTreeMap<String, Liabilities>,
    /// Claims filed and decided so far, and every payout made.
    #[serde(default)]
    pub claims: Option<ClaimStats>,
    pub solvency: BTreeMap<String, Solvency>,
    pub audit: AuditHead,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fund {
    /// The share of every trading fee paid into the fund, in basis points, in force now.
    pub share_bps: u32,
    pub assets: BTreeMap<String, FundAsset>,
    pub total_usdt: String,
    /// The fund against its target: all client assets in hot wallets and deposit addresses
    /// plus half of those in cold wallets, valued in USDT.
    pub target_usdt: String,
    /// Fund / target in basis points (10 000 = fully covered); null when the target is zero.
    pub coverage_bps: Option<i64>,
    pub below_target: bool,
    /// Every top-up beyond the fee share up to the report's journal seq, oldest first.
    #[serde(default)]
    pub top_ups: Vec<FundTopUp>,
}

/// A top-up of the fund beyond its fee share (amount in the asset's smallest unit).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FundTopUp {
    pub asset: String,
    pub amount: String,
    /// `fee_revenue` or `treasury`.
    pub from: String,
    /// Treasury top-ups: the transaction that brought the coins into custody.
    pub network: Option<String>,
    pub txid: Option<String>,
    pub journal_seq: i64,
    pub at_ms: i64,
}

impl From<&bulwark_store::TopUpRow> for FundTopUp {
    fn from(row: &bulwark_store::TopUpRow) -> FundTopUp {
        FundTopUp {
            asset: row.asset.clone(),
            amount: row.amount.to_string(),
            from: row.source.clone(),
            network: row.network.clone(),
            txid: row.txid.clone(),
            journal_seq: row.journal_seq,
            at_ms: row.at_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FundAsset {
    pub scale: u32,
    pub balance: String,
    /// Change since the previous report (fee inflows minus payouts), signed.
    pub change: String,
    /// Null when the asset has no USDT price yet.
    pub usdt: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub asset: String,
    pub kind: String,
    pub detail: String,
    pub opened_ms: i64,
    pub resolved_ms: Option<i64>,
    pub resolution: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClaimStats {
    pub filed: u64,
    pub open: u64,
    pub approved: u64,
    pub rejected: u64,
    pub paid: u64,
    /// Median time from filing to the first decision, in milliseconds; null before any.
    pub median_decision_ms: Option<i64>,
    pub payouts: Vec<Payout>,
    /// Payouts taken back after the loss was recovered.
    #[serde(default)]
    pub clawbacks: Vec<Clawback>,
    /// Uncovered parts submitted to the external insurer, with their status.
    #[serde(default)]
    pub insurer_submissions: Vec<InsurerSubmission>,
}

/// A submission to the insurer as reports list it (USDT with 6 decimals).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InsurerSubmission {
    pub claim_id: i64,
    pub insurer: String,
    pub requested_usdt: String,
    pub status: String,
}

/// A clawback as reports list it (amount in the asset's smallest unit).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Clawback {
    pub claim_id: i64,
    pub asset: String,
    pub amount: String,
    pub journal_seq: i64,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payout {
    pub claim_id: i64,
    pub incident_id: Option<i64>,
    pub asset: String,
    pub amount: String,
    pub paid_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeclaredIncident {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub assets: String,
    pub markets: String,
    pub halt: String,
    pub freeze: String,
    pub pause_sweeps: bool,
    pub declared_ms: i64,
    pub resolved_ms: Option<i64>,
}

impl From<&bulwark_store::IncidentRow> for DeclaredIncident {
    fn from(row: &bulwark_store::IncidentRow) -> DeclaredIncident {
        DeclaredIncident {
            id: row.id,
            kind: row.kind.clone(),
            title: row.title.clone(),
            assets: row.assets.clone(),
            markets: row.markets.clone(),
            halt: row.halt_scope.clone(),
            freeze: row.freeze_scope.clone(),
            pause_sweeps: row.pause_sweeps != 0,
            declared_ms: row.declared_ms,
            resolved_ms: row.resolved_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssetReserves {
    pub scale: u32,
    pub total: String,
    pub hot: String,
    pub cold: String,
    /// Hot and deposit addresses' share of the total, in basis points.
    pub hot_share_bps: i64,
    /// Each network's chain height when the balances were read.
    pub heights: BTreeMap<String, u64>,
    pub addresses: Vec<ReserveEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReserveEntry {
    pub network: String,
    pub wallet: String,
    pub address: String,
    pub balance: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Liabilities {
    pub scale: u32,
    pub users: usize,
    /// Leaves including padding (a power of two).
    pub leaves: usize,
    pub root: PathNode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Solvency {
    pub reserves: String,
    /// Sent by withdrawals whose transactions are not yet confirmed: no longer in the wallets,
    /// still held for the users in the ledger until they are, so counted with the reserves.
    pub in_transit: String,
    pub liabilities: String,
    /// How much reserves and payouts in transit fall short of liabilities (0 when covered).
    pub shortfall: String,
    /// The incident a shortfall opened.
    pub incident_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditHead {
    pub entries: i64,
    pub head_id: Option<i64>,
    pub head_hash: Option<String>,
    /// The first audit entry whose chain hash does not verify; null when the chain is whole.
    pub broken_at: Option<i64>,
}

impl From<&CustodyIncidentRow> for Incident {
    fn from(row: &CustodyIncidentRow) -> Incident {
        Incident {
            id: row.id,
            asset: row.asset.clone(),
            kind: row.kind.clone(),
            detail: row.detail.clone(),
            opened_ms: row.opened_ms,
            resolved_ms: row.resolved_ms,
            resolution: row.resolution.clone(),
        }
    }
}

impl From<&AuditCheck> for AuditHead {
    fn from(check: &AuditCheck) -> AuditHead {
        AuditHead {
            entries: check.entries,
            head_id: check.head.as_ref().map(|h| h.0),
            head_hash: check.head.as_ref().map(|h| h.1.clone()),
            broken_at: check.broken_at,
        }
    }
}

/// One asset's tree: leaves in a random order, each with a fresh random salt.
pub struct BuiltTree {
    pub tree: Tree,
    pub leaves: Vec<StoredLeaf>,
    pub users: usize,
}

/// Fills `bytes` from the OS.
pub(crate) fn random(bytes: &mut [u8]) -> SafeguardResult<()> {
    getrandom::fill(bytes).map_err(|e| SafeguardError::Internal(format!("no randomness: {e}")))
}

/// A uniform index below `n` (`n` > 0), by rejection so no position is favoured.
fn below(n: usize) -> SafeguardResult<usize> {
    let n = n as u64;
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let mut b = [0u8; 8];
        random(&mut b)?;
        let x = u64::from_le_bytes(b);
        if x < zone {
            return Ok(usize::try_from(x % n).unwrap_or(0));
        }
    }
}

/// Builds one asset's tree for report `seq` over `users` (negative balances are refused: the
/// ledger never holds one, so seeing one means the reading is wrong).
pub fn build_tree(seq: u64, asset: &str, users: &[(u64, i64)]) -> SafeguardResult<BuiltTree> {
    let mut leaves: Vec<StoredLeaf> = Vec::with_capacity(users.len());
    for (user, balance) in users {
        let balance = u64::try_from(*balance).map_err(|_| {
            SafeguardError::Internal(format!("user {user} holds a negative {asset} balance"))
        })?;
        let mut salt = [0u8; 16];
        random(&mut salt)?;
        leaves.push((*user, balance, hex::encode(salt)));
    }
    // Fisher-Yates: tree position says nothing about a user.
    for i in (1..leaves.len()).rev() {
        let j = below(i + 1)?;
        leaves.swap(i, j);
    }
    let tree = tree_of(seq, &leaves)?;
    Ok(BuiltTree {
        tree,
        users: leaves.len(),
        leaves,
    })
}

/// The tree over stored leaves (also how a user's proof is rebuilt later).
pub fn tree_of(seq: u64, leaves: &[StoredLeaf]) -> SafeguardResult<Tree> {
    let mut ids: Vec<(Hash, u64)> = Vec::with_capacity(leaves.len());
    for (user, balance, salt) in leaves {
        let salt = hex::decode(salt)
            .map_err(|_| SafeguardError::Internal(format!("stored salt of user {user}")))?;
        ids.push((leaf_id(&salt, *user, seq), *balance));
    }
    Tree::build(&ids).map_err(|e| SafeguardError::Internal(format!("tree: {e}")))
}

/// One asset's reserves as numbers, for the solvency and coverage sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReserveTotals {
    pub total: i64,
    pub hot: i64,
    pub cold: i64,
}

/// Reserves of one asset from custody's reading: the report's section and its totals.
pub fn asset_reserves(
    asset: &str,
    scale: u32,
    reserves: &Reserves,
) -> (AssetReserves, ReserveTotals) {
    let mut out = AssetReserves {
        scale,
        total: String::new(),
        hot: String::new(),
        cold: String::new(),
        hot_share_bps: 0,
        heights: BTreeMap::new(),
        addresses: Vec::new(),
    };
    let (mut total, mut hot, mut cold) = (0_i64, 0_i64, 0_i64);
    for entry in reserves.addresses.iter().filter(|a| a.asset == asset) {
        total = total.saturating_add(entry.balance);
        if entry.wallet == "cold" {
            cold = cold.saturating_add(entry.balance);
        } else {
            hot = hot.saturating_add(entry.balance);
        }
        if let Some(height) = reserves.heights.get(&entry.network) {
            out.heights.insert(entry.network.id().to_owned(), *height);
        }
        out.addresses.push(ReserveEntry {
            network: entry.network.id().to_owned(),
            wallet: entry.wallet.to_owned(),
            address: entry.address.clone(),
            balance: entry.balance.to_string(),
        });
    }
    out.total = total.to_string();
    out.hot = hot.to_string();
    out.cold = cold.to_string();
    out.hot_share_bps = bulwark_custody::reconcile::share_bps(hot, total);
    (out, ReserveTotals { total, hot, cold })
}

/// The previous report's fund balance of `asset` (0 when there was none).
pub fn previous_fund(previous: Option<&serde_json::Value>, asset: &str) -> i64 {
    previous
        .and_then(|p| p.pointer(&format!("/safeguard/assets/{asset}/balance")))
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Micro-USDT as a decimal string.
pub fn usdt_text(micros: i64) -> String {
    bulwark_types::format_units(micros, 6)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use bulwark_por::{Proof, verify_proof};

    #[test]
    fn every_leaf_of_a_built_tree_proves_into_its_root_and_the_order_is_shuffled() {
        let users: Vec<(u64, i64)> = (1..=50).map(|u| (u, (u * 1000) as i64)).collect();
        let built = build_tree(4, "BTC", &users).unwrap();
        assert_eq!(
            built.tree.root().sum,
            (1..=50u128).map(|u| u * 1000).sum::<u128>()
        );
        let order: Vec<u64> = built.leaves.iter().map(|l| l.0).collect();
        assert_ne!(
            order,
            (1..=50).collect::<Vec<u64>>(),
            "50 leaves left in id order"
        );
        let rebuilt = tree_of(4, &built.leaves).unwrap();
        assert_eq!(rebuilt.root(), built.tree.root());
        for (index, (user, balance, salt)) in built.leaves.iter().enumerate() {
            let proof = Proof {
                asset: "BTC".into(),
                report_seq: 4,
                salt: salt.clone(),
                user_id: *user,
                leaf_id: hex::encode(leaf_id(&hex::decode(salt).unwrap(), *user, 4)),
                balance: balance.to_string(),
                index: index as u64,
                path: built
                    .tree
                    .path(index)
                    .unwrap()
                    .iter()
                    .map(PathNode::from)
                    .collect(),
                root: PathNode::from(&built.tree.root()),
            };
            assert_eq!(verify_proof(&proof, None), Ok(*balance));
        }
    }

    #[test]
    fn a_negative_balance_is_refused() {
        assert!(build_tree(1, "BTC", &[(1, 5), (2, -1)]).is_err());
    }
}
