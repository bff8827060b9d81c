//! A size-bounded map whose entries carry an instant, evicting the smallest instant first.
//!
//! Used for per-IP limiters and spent proof-of-work challenges: memory stays fixed however many
//! distinct keys an attacker sprays, and the entry dropped first is the one closest to expiring.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

/// A map from keys to values with an ordering instant, bounded in size, evicting the smallest
/// instant first.
#[derive(Debug)]
pub(crate) struct OrderedMap<K, V> {
    entries: HashMap<K, (i64, V)>,
    index: BTreeSet<(i64, K)>,
}

impl<K: Ord + Hash + Clone, V: Copy> OrderedMap<K, V> {
    pub(crate) fn get(&self, key: &K) -> Option<(i64, V)> {
        self.entries.get(key).copied()
    }

    pub(crate) fn insert(&mut self, key: K, at: i64, value: V, max_entries: usize) {
        if let Some((old_at, _)) = self.entries.remove(&key) {
            self.index.remove(&(old_at, key.clone()));
        }
        while self.entries.len() >= max_entries.max(1) {
            let Some(first) = self.index.pop_first() else {
                break;
            };
            self.entries.remove(&first.1);
        }
        self.entries.insert(key.clone(), (at, value));
        self.index.insert((at, key));
    }

    pub(crate) fn remove(&mut self, key: &K) {
        if let Some((at, _)) = self.entries.remove(key) {
            self.index.remove(&(at, key.clone()));
        }
    }

    /// Drop every entry whose instant is at or before `cutoff`.
    pub(crate) fn prune_through(&mut self, cutoff: i64) {
        while let Some((at, _)) = self.index.first() {
            if *at > cutoff {
                break;
            }
            if let Some((_, key)) = self.index.pop_first() {
                self.entries.remove(&key);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

impl<K, V> Default for OrderedMap<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            index: BTreeSet::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn evicts_smallest_instant_and_prunes() {
        let mut m: OrderedMap<&str, u8> = OrderedMap::default();
        m.insert("a", 30, 1, 2);
        m.insert("b", 10, 2, 2);
        m.insert("c", 20, 3, 2);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(&"b"), None);
        assert_eq!(m.get(&"a"), Some((30, 1)));
        m.insert("a", 5, 9, 2);
        assert_eq!(m.len(), 2);
        m.prune_through(20);
        assert_eq!(m.len(), 0);
        m.insert("d", 1, 1, 2);
        m.remove(&"d");
        assert_eq!(m.len(), 0);
    }
}
