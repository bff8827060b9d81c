//! The Merkle-sum tree: every node carries the hash of its children and the sum of the balances
//! beneath it, so the root commits to each leaf *and* to the total. A user who finds their leaf
//! under the published root knows their balance is counted in the published total, and no
//! sibling can hide a negative balance because sums are unsigned and may not overflow.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Domain tags keep a leaf from ever being read as a node and the reverse.
const LEAF_TAG: &[u8] = b"bulwark-por-leaf";
const NODE_TAG: &[u8] = b"bulwark-por-node";

/// The id of padding leaves.
pub const EMPTY_ID: Hash = [0; 32];

/// A node (or leaf) of the tree: its hash and the sum beneath it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub hash: Hash,
    pub sum: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("two leaves share the id {0}")]
    DuplicateId(String),
    #[error("a leaf uses the padding id (32 zero bytes)")]
    ReservedId,
    #[error("the sums overflow")]
    Overflow,
    #[error("the tree is too large")]
    TooLarge,
}

/// A user's leaf id for one report: it names the user to them alone (the salt is theirs) and
/// differs in every report, so leaves cannot be followed from one report to the next.
pub fn leaf_id(salt: &[u8], user_id: u64, report_seq: u64) -> Hash {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(user_id.to_string().as_bytes());
    h.update(b":");
    h.update(report_seq.to_string().as_bytes());
    h.finalize().into()
}

/// A leaf holding `balance` (the asset's smallest unit).
pub fn leaf(id: &Hash, balance: u64) -> Node {
    let mut h = Sha256::new();
    h.update(LEAF_TAG);
    h.update([0u8]);
    h.update(id);
    h.update(balance.to_be_bytes());
    Node {
        hash: h.finalize().into(),
        sum: u128::from(balance),
    }
}

/// The parent of two nodes; an overflowing sum is invalid, never wrapped.
pub fn parent(left: &Node, right: &Node) -> Result<Node, TreeError> {
    let sum = left.sum.checked_add(right.sum).ok_or(TreeError::Overflow)?;
    let mut h = Sha256::new();
    h.update(NODE_TAG);
    h.update([0u8]);
    h.update(left.hash);
    h.update(left.sum.to_be_bytes());
    h.update(right.hash);
    h.update(right.sum.to_be_bytes());
    Ok(Node {
        hash: h.finalize().into(),
        sum,
    })
}

/// A whole tree, kept by level (leaves first) so any leaf's path can be read off.
#[derive(Debug, Clone)]
pub struct Tree {
    levels: Vec<Vec<Node>>,
}

impl Tree {
    /// Builds the tree over `leaves` (id, balance) in the order given, padded with empty leaves
    /// to a power of two (at least one leaf). Duplicate ids are refused: two users sharing a
    /// leaf would let one balance be counted for both.
    pub fn build(leaves: &[(Hash, u64)]) -> Result<Tree, TreeError> {
        let mut seen = HashSet::with_capacity(leaves.len());
        for (id, _) in leaves {
            if *id == EMPTY_ID {
                return Err(TreeError::ReservedId);
            }
            if !seen.insert(*id) {
                return Err(TreeError::DuplicateId(hex::encode(id)));
            }
        }
        let width = leaves
            .len()
            .max(1)
            .checked_next_power_of_two()
            .ok_or(TreeError::TooLarge)?;
        let mut level: Vec<Node> = leaves.iter().map(|(id, b)| leaf(id, *b)).collect();
        level.resize(width, leaf(&EMPTY_ID, 0));
        let mut levels = vec![level];
        while let Some(below) = levels.last().filter(|l| l.len() > 1) {
            let mut up = Vec::with_capacity(below.len() / 2);
            for pair in below.chunks_exact(2) {
                if let [l, r] = pair {
                    up.push(parent(l, r)?);
                }
            }
            levels.push(up);
        }
        Ok(Tree { levels })
    }

    /// The root: its hash and the total of every balance.
    pub fn root(&self) -> Node {
        self.levels
            .last()
            .and_then(|top| top.first())
            .copied()
            .unwrap_or_else(|| leaf(&EMPTY_ID, 0))
    }

    /// Leaves including padding.
    pub fn width(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// The siblings of leaf `index` from the leaf level up; `None` past the last leaf.
    pub fn path(&self, index: usize) -> Option<Vec<Node>> {
        if index >= self.width() {
            return None;
        }
        let mut path = Vec::with_capacity(self.levels.len());
        let mut at = index;
        for level in self.levels.iter().take(self.levels.len().saturating_sub(1)) {
            path.push(*level.get(at ^ 1)?);
            at /= 2;
        }
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn id(n: u8) -> Hash {
        [n; 32]
    }

    #[test]
    fn the_root_sums_every_balance_and_pads_to_a_power_of_two() {
        let tree = Tree::build(&[(id(1), 5), (id(2), 7), (id(3), 11)]).unwrap();
        assert_eq!(tree.width(), 4);
        assert_eq!(tree.root().sum, 23);
        let empty = leaf(&EMPTY_ID, 0);
        let left = parent(&leaf(&id(1), 5), &leaf(&id(2), 7)).unwrap();
        let right = parent(&leaf(&id(3), 11), &empty).unwrap();
        assert_eq!(tree.root(), parent(&left, &right).unwrap());
    }

    #[test]
    fn an_empty_tree_is_one_empty_leaf() {
        let tree = Tree::build(&[]).unwrap();
        assert_eq!(tree.root(), leaf(&EMPTY_ID, 0));
        assert_eq!(tree.path(0), Some(vec![]));
    }

    #[test]
    fn duplicate_and_reserved_ids_are_refused() {
        assert!(matches!(
            Tree::build(&[(id(1), 1), (id(1), 2)]),
            Err(TreeError::DuplicateId(_))
        ));
        assert_eq!(
            Tree::build(&[(EMPTY_ID, 1)]).unwrap_err(),
            TreeError::ReservedId
        );
    }

    #[test]
    fn hashes_follow_the_documented_bytes() {
        // leaf = SHA-256("bulwark-por-leaf" 00 id balance-u64-be), spelled out by hand.
        let mut bytes = b"bulwark-por-leaf\0".to_vec();
        bytes.extend_from_slice(&id(7));
        bytes.extend_from_slice(&42u64.to_be_bytes());
        let expected: Hash = Sha256::digest(&bytes).into();
        assert_eq!(leaf(&id(7), 42).hash, expected);
        let id_bytes = b"salt12:3".to_vec();
        assert_eq!(
            leaf_id(b"salt", 12, 3),
            <Hash>::from(Sha256::digest(&id_bytes))
        );
    }
}
