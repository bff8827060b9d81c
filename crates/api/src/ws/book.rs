//! The incremental depth stream: each market's last published book and its version, and the
//! levels that changed between two views (size 0 removes a level), which is what a
//! `spot/depth/increase100` update carries.

use std::collections::BTreeMap;
use std::sync::Arc;

use bulwark_sequencer::DepthView;

/// The book a market's subscribers have been told about, and how many updates made it.
#[derive(Debug, Clone, Default)]
pub struct BookState {
    pub view: Arc<DepthView>,
    pub version: u64,
}

/// The levels of `new` that differ from `old` (one side, best first): changed or added levels
/// with their new size, removed ones with size 0; in price order of `old` then `new`.
pub fn changed_levels(old: &[(i64, i64)], new: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let before: BTreeMap<i64, i64> = old.iter().copied().collect();
    let after: BTreeMap<i64, i64> = new.iter().copied().collect();
    let mut changes = Vec::new();
    for (price, size) in &before {
        if !after.contains_key(price) {
            changes.push((*price, 0));
        } else if after.get(price) != Some(size) {
            changes.push((*price, after.get(price).copied().unwrap_or(0)));
        }
    }
    for (price, size) in &after {
        if !before.contains_key(price) {
            changes.push((*price, *size));
        }
    }
    changes
}

/// Applies `changes` to a side as a client would: size 0 removes the level.
pub fn apply_levels(side: &mut BTreeMap<i64, i64>, changes: &[(i64, i64)]) {
    for (price, size) in changes {
        if *size == 0 {
            side.remove(price);
        } else {
            side.insert(*price, *size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A client that applies every update to its snapshot holds exactly the new book.
        #[test]
        fn applying_the_changes_gives_the_new_side(
            old in proptest::collection::btree_map(1_i64..60, 1_i64..9, 0..20),
            new in proptest::collection::btree_map(1_i64..60, 1_i64..9, 0..20),
        ) {
            let old: Vec<_> = old.into_iter().collect();
            let new: Vec<_> = new.into_iter().collect();
            let mut client: BTreeMap<i64, i64> = old.iter().copied().collect();
            let changes = changed_levels(&old, &new);
            apply_levels(&mut client, &changes);
            proptest::prop_assert_eq!(client.into_iter().collect::<Vec<_>>(), new.clone());
            if old == new {
                proptest::prop_assert!(changes.is_empty());
            }
        }
    }
}
