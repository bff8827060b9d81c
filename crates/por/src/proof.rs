//! A user's inclusion proof in one asset's tree, in the JSON shape published in
//! `docs/TRANSPARENCY.md`, and its verification. Every number that can exceed what JavaScript
//! holds exactly travels as a decimal string.

use serde::{Deserialize, Serialize};

use crate::tree::{Hash, Node, leaf, leaf_id, parent};

/// A sibling on the path, or a root: hash in hex, sum as a decimal string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathNode {
    pub hash: String,
    pub sum: String,
}

/// The root a report publishes for one asset.
pub type RootRef = PathNode;

impl From<&Node> for PathNode {
    fn from(node: &Node) -> PathNode {
        PathNode {
            hash: hex::encode(node.hash),
            sum: node.sum.to_string(),
        }
    }
}

/// One user's proof for one asset of one report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    pub asset: String,
    pub report_seq: u64,
    /// Hex; known only to this user, so no one else can find their leaf.
    pub salt: String,
    pub user_id: u64,
    pub leaf_id: String,
    /// The asset's smallest unit, available + held, as a decimal string.
    pub balance: String,
    /// Leaf position: bit i set means the node at level i is a right child.
    pub index: u64,
    /// Siblings from the leaf level up.
    pub path: Vec<PathNode>,
    pub root: RootRef,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("{field} is not valid hex of the right length")]
    BadHex { field: &'static str },
    #[error("{field} is not a non-negative integer in range: {value:?}")]
    BadNumber { field: &'static str, value: String },
    #[error("the leaf id does not match the salt, user id and report seq")]
    LeafIdMismatch,
    #[error("index {index} does not fit a path of {levels} levels")]
    BadIndex { index: u64, levels: usize },
    #[error("the sums overflow")]
    Overflow,
    #[error(
        "the path does not lead to the proof's root (computed {computed_hash} / {computed_sum})"
    )]
    RootMismatch {
        computed_hash: String,
        computed_sum: String,
    },
    #[error("the proof's root is not the root the report publishes for {asset}")]
    NotInReport { asset: String },
    #[error("the proof is for report {proof} and the report is {report}")]
    WrongReport { proof: u64, report: u64 },
}

fn hash_of(field: &'static str, text: &str) -> Result<Hash, ProofError> {
    let bytes = hex::decode(text).map_err(|_| ProofError::BadHex { field })?;
    Hash::try_from(bytes.as_slice()).map_err(|_| ProofError::BadHex { field })
}

/// Strict decimal: digits only (no sign, no spaces, no leading `+`), so "-1" and "1e3" fail.
fn number<T: std::str::FromStr>(field: &'static str, text: &str) -> Result<T, ProofError> {
    let bad = || ProofError::BadNumber {
        field,
        value: text.to_owned(),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

fn node_of(field: &'static str, node: &PathNode) -> Result<Node, ProofError> {
    Ok(Node {
        hash: hash_of(field, &node.hash)?,
        sum: number(field, &node.sum)?,
    })
}

/// Recomputes the path from the user's own data to the root and checks it arrives at the
/// proof's root, and, when `published` is given, that this root is the one the report signed.
/// Answers the user's balance.
pub fn verify_proof(proof: &Proof, published: Option<&RootRef>) -> Result<u64, ProofError> {
    let salt = hex::decode(&proof.salt).map_err(|_| ProofError::BadHex { field: "salt" })?;
    let id = hash_of("leaf_id", &proof.leaf_id)?;
    if id != leaf_id(&salt, proof.user_id, proof.report_seq) {
        return Err(ProofError::LeafIdMismatch);
    }
    let balance: u64 = number("balance", &proof.balance)?;
    let levels = proof.path.len();
    // A tree has at most 2^64 leaves, so at most 64 levels above them.
    let fits = levels <= 64
        && u32::try_from(levels)
            .ok()
            .and_then(|l| 1u64.checked_shl(l))
            .is_none_or(|width| proof.index < width);
    if !fits {
        return Err(ProofError::BadIndex {
            index: proof.index,
            levels,
        });
    }
    let mut node = leaf(&id, balance);
    for (level, sibling) in proof.path.iter().enumerate() {
        let sibling = node_of("path", sibling)?;
        let right_child = u32::try_from(level)
            .ok()
            .and_then(|l| proof.index.checked_shr(l))
            .is_some_and(|bits| bits & 1 == 1);
        node = if right_child {
            parent(&sibling, &node)
        } else {
            parent(&node, &sibling)
        }
        .map_err(|_| ProofError::Overflow)?;
    }
    let root = node_of("root", &proof.root)?;
    if node != root {
        return Err(ProofError::RootMismatch {
            computed_hash: hex::encode(node.hash),
            computed_sum: node.sum.to_string(),
        });
    }
    if let Some(published) = published
        && node_of("published root", published)? != root
    {
        return Err(ProofError::NotInReport {
            asset: proof.asset.clone(),
        });
    }
    Ok(balance)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use proptest::prelude::*;

    use super::*;
    use crate::tree::Tree;

    /// Builds a tree for `balances` (user ids 1..) and the proof of user `who`.
    fn proof_for(balances: &[u64], who: usize) -> (Proof, Tree) {
        let seq = 9;
        let salts: Vec<Vec<u8>> = (0..balances.len()).map(|i| vec![i as u8; 16]).collect();
        let leaves: Vec<(Hash, u64)> = balances
            .iter()
            .enumerate()
            .map(|(i, b)| (leaf_id(&salts[i], i as u64 + 1, seq), *b))
            .collect();
        let tree = Tree::build(&leaves).unwrap();
        let proof = Proof {
            asset: "BTC".into(),
            report_seq: seq,
            salt: hex::encode(&salts[who]),
            user_id: who as u64 + 1,
            leaf_id: hex::encode(leaves[who].0),
            balance: balances[who].to_string(),
            index: who as u64,
            path: tree.path(who).unwrap().iter().map(PathNode::from).collect(),
            root: PathNode::from(&tree.root()),
        };
        (proof, tree)
    }

    #[test]
    fn an_honest_proof_verifies_against_the_published_root() {
        let (proof, tree) = proof_for(&[5, 0, 7, 100, 3], 3);
        let root = PathNode::from(&tree.root());
        assert_eq!(verify_proof(&proof, Some(&root)), Ok(100));
    }

    #[test]
    fn tampering_is_caught() {
        let (good, tree) = proof_for(&[5, 9, 7, 100, 3], 2);
        let root = PathNode::from(&tree.root());
        let mut p = good.clone();
        p.balance = "8".into();
        assert!(matches!(
            verify_proof(&p, Some(&root)),
            Err(ProofError::RootMismatch { .. })
        ));
        let mut p = good.clone();
        p.balance = "-7".into();
        assert!(matches!(
            verify_proof(&p, None),
            Err(ProofError::BadNumber { .. })
        ));
        let mut p = good.clone();
        p.balance = "18446744073709551616".into();
        assert!(matches!(
            verify_proof(&p, None),
            Err(ProofError::BadNumber { .. })
        ));
        // A sibling's sum lowered (hiding liabilities) or its hash altered.
        let mut p = good.clone();
        p.path[1].sum = "1".into();
        assert!(matches!(
            verify_proof(&p, None),
            Err(ProofError::RootMismatch { .. })
        ));
        let mut p = good.clone();
        p.path[0].hash = hex::encode([1u8; 32]);
        assert!(matches!(
            verify_proof(&p, None),
            Err(ProofError::RootMismatch { .. })
        ));
        // A sibling whose sum would overflow with ours.
        let mut p = good.clone();
        p.path[2].sum = u128::MAX.to_string();
        assert_eq!(verify_proof(&p, None), Err(ProofError::Overflow));
        // Someone else's leaf (user id changed), a different report, a dropped level.
        let mut p = good.clone();
        p.user_id += 1;
        assert_eq!(verify_proof(&p, None), Err(ProofError::LeafIdMismatch));
        let mut p = good.clone();
        p.path.pop();
        assert!(verify_proof(&p, None).is_err());
        let mut p = good.clone();
        p.path = vec![p.path[0].clone(); 65];
        assert!(matches!(
            verify_proof(&p, None),
            Err(ProofError::BadIndex { .. })
        ));
        let mut p = good.clone();
        p.index = 1 << 3;
        assert!(matches!(
            verify_proof(&p, None),
            Err(ProofError::BadIndex { .. })
        ));
        // A proof that is self-consistent but not under the report's root.
        let (other, _) = proof_for(&[5, 9, 7, 99, 3], 2);
        assert_eq!(
            verify_proof(&other, Some(&root)),
            Err(ProofError::NotInReport {
                asset: "BTC".into()
            })
        );
    }

    /// The worked example of docs/TRANSPARENCY.md, computed there by an independent script: the
    /// document and this code must agree byte for byte.
    #[test]
    fn the_documented_test_vectors_hold() {
        let leaves = [
            (
                leaf_id(
                    &hex::decode("000102030405060708090a0b0c0d0e0f").unwrap(),
                    12,
                    3,
                ),
                150_000_000,
            ),
            (
                leaf_id(
                    &hex::decode("101112131415161718191a1b1c1d1e1f").unwrap(),
                    7,
                    3,
                ),
                2_500,
            ),
            (
                leaf_id(
                    &hex::decode("202122232425262728292a2b2c2d2e2f").unwrap(),
                    31,
                    3,
                ),
                1,
            ),
        ];
        assert_eq!(
            hex::encode(leaves[0].0),
            "d835f4a8719a53705f3dc441a8878c0c02084ec78802301a5375eed65badf5e8"
        );
        assert_eq!(
            hex::encode(leaf(&leaves[1].0, 2_500).hash),
            "c8911c63b1919f25c214f6e4f978f38466a09dcf9abe1399746b694475d97ca1"
        );
        let tree = Tree::build(&leaves).unwrap();
        let root = tree.root();
        assert_eq!(
            hex::encode(root.hash),
            "4d6dc1c0a412e6eff1356965b2b842877783af35ed8a4ece16e25cac5c87510b"
        );
        assert_eq!(root.sum, 150_002_501);
        let proof = Proof {
            asset: "BTC".into(),
            report_seq: 3,
            salt: "202122232425262728292a2b2c2d2e2f".into(),
            user_id: 31,
            leaf_id: "affe8afa37df06dbe8d09e22ad6c9a84b27f9c2667d976998962e1e0f58ac732".into(),
            balance: "1".into(),
            index: 2,
            path: tree.path(2).unwrap().iter().map(PathNode::from).collect(),
            root: PathNode::from(&root),
        };
        assert_eq!(
            proof.path[0].hash,
            "54023827688dd165e974682e16525d1c4ee6fa33ba6486bf80ae26602661358c"
        );
        assert_eq!(
            proof.path[1].hash,
            "01a04e631e206f9bac79029c7a6e74c25e5eccd09ab7adbd3706046bbc2e0215"
        );
        assert_eq!(verify_proof(&proof, None), Ok(1));
    }

    #[test]
    fn a_dropped_leaf_changes_the_root() {
        let (_, full) = proof_for(&[5, 9, 7, 100, 3], 0);
        let (short, _) = proof_for(&[5, 9, 7, 100], 0);
        let root = PathNode::from(&full.root());
        assert_eq!(
            verify_proof(&short, Some(&root)),
            Err(ProofError::NotInReport {
                asset: "BTC".into()
            })
        );
    }

    proptest! {
        #[test]
        fn every_users_proof_verifies_and_the_root_is_the_total(
            balances in proptest::collection::vec(0u64..=u64::MAX / 64, 1..40),
            pick in any::<prop::sample::Index>(),
        ) {
            let who = pick.index(balances.len());
            let (proof, tree) = proof_for(&balances, who);
            let total: u128 = balances.iter().map(|b| u128::from(*b)).sum();
            prop_assert_eq!(tree.root().sum, total);
            prop_assert_eq!(verify_proof(&proof, Some(&PathNode::from(&tree.root()))), Ok(balances[who]));
            let json = serde_json::to_string(&proof).unwrap();
            let back: Proof = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, proof);
        }
    }
}
