//! The idempotency window: outcomes of recent commands by command id.
//!
//! A service that retries a command (after a crash, a timeout) gets the first outcome back
//! instead of a second effect. An outcome is remembered for [`IDEMPOTENCY_WINDOW_COMMANDS`]
//! sequence numbers: a command with id `x` applied at `seq` answers repeats of `x` up to
//! `seq + IDEMPOTENCY_WINDOW_COMMANDS`. Expiry depends only on sequence numbers, so it is the
//! same on every replay, and the window is part of the snapshot.
//!
//! Layout: outcomes sit in a ring with one cell per sequence number modulo the window length,
//! and a small open-addressing index takes a command id to its cell. Recording at `seq` reuses
//! the cell of `seq - window`, whose entry has just expired, and drops that entry from the
//! index. So each command does a bounded amount of work (one lookup, one insert, at most one
//! removal): no bulk pruning pass and no stall.
//!
//! Every command passes through here, so the layout is about cache misses: the ring is
//! written in order (cheap to stream), and the index is 8 bytes per slot at most half full,
//! holding a 32-bit hash of the id next to the cell, so a lookup reads one or two adjacent
//! slots and never the ring unless the hash matches. Removal shifts later slots back
//! (no tombstones), so the index never needs rebuilding once it has its full size.
//!
//! [`IDEMPOTENCY_WINDOW_COMMANDS`]: crate::limits::IDEMPOTENCY_WINDOW_COMMANDS

use bulwark_types::CommandId;

use crate::reject::Outcome;

/// Longest window the index can address: cells are stored in 32 bits.
const WINDOW_SEQS_MAX: u64 = 1 << 31;

/// Index slots while the window is small; it doubles as needed up to its full size.
const INDEX_SLOTS_MIN: usize = 16;

/// Ids a window holds before its index jumps to full size (twice the window, rounded up to a
/// power of two). Short-lived engines (tests, tools) stay small; a busy one rebuilds once, at
/// this size (microseconds), instead of growing step by step through a whole window.
const FULL_SIZE_AFTER_IDS: usize = 1_024;

/// One remembered command.
#[derive(Clone, Debug)]
struct Entry {
    seq: u64,
    key: u128,
    outcome: Outcome,
}

/// Outcomes by command id with purely sequence-based expiry; see the module documentation.
#[derive(Clone, Debug)]
pub(crate) struct IdempotencyWindow {
    window_seqs: u64,
    /// Cell `seq % window_seqs` holds the entry recorded at `seq`, or an expired one.
    ring: Vec<Option<Entry>>,
    index: IdIndex,
}

fn key(id: &CommandId) -> u128 {
    u128::from_le_bytes(id.0)
}

/// A 32-bit hash of an id: the SplitMix64 finaliser over both halves, so that ids differing
/// in a few bits (counters) still spread over the whole index.
fn hash32(key: u128) -> u32 {
    let (lo, hi) = (key as u64, (key >> 64) as u64);
    let mut z = lo ^ hi.rotate_left(29).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 32) as u32
}

impl IdempotencyWindow {
    pub(crate) fn new(window_seqs: u64) -> IdempotencyWindow {
        assert!(
            window_seqs <= WINDOW_SEQS_MAX,
            "idempotency window too long"
        );
        IdempotencyWindow {
            window_seqs,
            ring: Vec::new(),
            index: IdIndex::with_slots(INDEX_SLOTS_MIN),
        }
    }

    /// Whether an entry recorded at `recorded_seq` still answers a command at `seq`.
    fn live(&self, recorded_seq: u64, seq: u64) -> bool {
        recorded_seq.saturating_add(self.window_seqs) >= seq
    }

    /// Ring cell of a sequence number; only called with a non-zero window.
    fn cell(&self, seq: u64) -> u32 {
        (seq % self.window_seqs.max(1)) as u32
    }

    /// The entry of `key`, if the index has one (live or not).
    fn find(&self, key: u128) -> Option<(usize, &Entry)> {
        let ring = &self.ring;
        self.index.find(hash32(key), |cell| {
            ring.get(cell as usize)
                .and_then(Option::as_ref)
                .filter(|e| e.key == key)
        })
    }

    /// The first outcome of `id`, if it is still remembered for a command at `seq`.
    pub(crate) fn get(&self, id: &CommandId, seq: u64) -> Option<&Outcome> {
        let (_, entry) = self.find(key(id))?;
        self.live(entry.seq, seq).then_some(&entry.outcome)
    }

    /// Remembers the outcome of the command applied at `seq` (whose id was not remembered).
    /// Sequence numbers must increase from call to call.
    pub(crate) fn insert(&mut self, id: CommandId, seq: u64, outcome: Outcome) {
        if self.window_seqs == 0 {
            return;
        }
        self.grow_index();
        let (key, cell) = (key(&id), self.cell(seq));
        let entry = Entry { seq, key, outcome };
        let expired = match self.ring.get_mut(cell as usize) {
            Some(slot) => slot.replace(entry),
            None => {
                self.grow_ring(cell as usize);
                self.ring.push(Some(entry));
                None
            }
        };
        if let Some(old) = expired {
            self.index.remove(hash32(old.key), cell);
        }
        // The id may still be indexed from an expired record in another cell: repoint it.
        match self.find(key).map(|(slot, _)| slot) {
            Some(slot) => self.index.set(slot, hash32(key), cell),
            None => self.index.insert(hash32(key), cell),
        }
    }

    /// Extends the ring up to (not including) `cell`. Once the window is busy the ring is
    /// reserved whole: doubling it later would copy megabytes within one command.
    fn grow_ring(&mut self, cell: usize) {
        if self.index.len >= FULL_SIZE_AFTER_IDS {
            let cells = usize::try_from(self.window_seqs).unwrap_or(usize::MAX);
            self.ring
                .reserve_exact(cells.saturating_sub(self.ring.len()));
        }
        self.ring.resize(cell, None);
    }

    /// Doubles the index while the window is small, then sizes it for the whole window at once,
    /// so that a busy window never rebuilds it again.
    fn grow_index(&mut self) {
        let slots = self.index.slots.len();
        if self.index.len * 2 < slots {
            return;
        }
        let full = usize::try_from(self.window_seqs)
            .unwrap_or(usize::MAX)
            .saturating_mul(2)
            .next_power_of_two();
        let target = if self.index.len >= FULL_SIZE_AFTER_IDS {
            full
        } else {
            slots.saturating_mul(2).min(full)
        };
        if target > slots {
            self.index = self.index.rebuilt(target);
        }
    }

    /// Entries still remembered after the command at `last_seq`, oldest first (the snapshot
    /// order; the layout of ring and index is not part of it).
    pub(crate) fn live_entries(&self, last_seq: u64) -> Vec<(u64, CommandId, Outcome)> {
        let next = last_seq.saturating_add(1);
        let mut live: Vec<(u64, CommandId, Outcome)> = self
            .ring
            .iter()
            .flatten()
            .filter(|e| self.live(e.seq, next) && self.indexed(e))
            .map(|e| (e.seq, CommandId(e.key.to_le_bytes()), e.outcome.clone()))
            .collect();
        live.sort_unstable_by_key(|(recorded, _, _)| *recorded);
        live
    }

    /// Whether the index leads to this entry.
    fn indexed(&self, entry: &Entry) -> bool {
        self.find(entry.key)
            .is_some_and(|(_, e)| e.seq == entry.seq)
    }

    /// No entry claims a sequence number after `last_seq`, no two share one, every index slot
    /// is reachable and leads to an entry with its hash, and the count is right.
    pub(crate) fn is_consistent(&self, last_seq: u64) -> bool {
        let live = self.live_entries(last_seq);
        let mut occupied = 0;
        for (i, &slot) in self.index.slots.iter().enumerate() {
            if slot == 0 {
                continue;
            }
            occupied += 1;
            let entry = self
                .ring
                .get(IdIndex::cell_of(slot) as usize)
                .and_then(Option::as_ref);
            let reachable = entry.is_some_and(|e| {
                hash32(e.key) == IdIndex::hash_of(slot)
                    && self.find(e.key).map(|(at, _)| at) == Some(i)
            });
            if !reachable {
                return false;
            }
        }
        occupied == self.index.len
            && live.iter().all(|(seq, _, _)| *seq <= last_seq)
            && live.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0))
    }
}

/// Open addressing over `u64` slots: the high half is the id's [`hash32`], the low half its
/// ring cell + 1, and 0 marks an empty slot. Linear probing from the home slot (the hash's top
/// bits); removal shifts the rest of the run back instead of leaving a tombstone.
#[derive(Clone, Debug)]
struct IdIndex {
    slots: Vec<u64>,
    /// Occupied slots.
    len: usize,
    /// `32 - log2(slots.len())`: the home slot is `hash >> shift`.
    shift: u32,
}

impl IdIndex {
    /// An empty index; `slots` is a power of two.
    fn with_slots(slots: usize) -> IdIndex {
        IdIndex {
            slots: vec![0; slots],
            len: 0,
            shift: 32 - slots.trailing_zeros(),
        }
    }

    fn pack(hash: u32, cell: u32) -> u64 {
        (u64::from(hash) << 32) | (u64::from(cell) + 1)
    }

    fn hash_of(slot: u64) -> u32 {
        (slot >> 32) as u32
    }

    fn cell_of(slot: u64) -> u32 {
        (slot as u32).wrapping_sub(1)
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, hash: u32) -> usize {
        (u64::from(hash) >> self.shift) as usize
    }

    /// The slot (and what `matches` returns for its cell) of the first entry with this hash
    /// that `matches` accepts.
    fn find<'a, T>(
        &self,
        hash: u32,
        matches: impl Fn(u32) -> Option<&'a T>,
    ) -> Option<(usize, &'a T)> {
        let mut i = self.home(hash);
        loop {
            let slot = *self.slots.get(i)?;
            if slot == 0 {
                return None;
            }
            if Self::hash_of(slot) == hash
                && let Some(found) = matches(Self::cell_of(slot))
            {
                return Some((i, found));
            }
            i = (i + 1) & self.mask();
        }
    }

    fn set(&mut self, i: usize, hash: u32, cell: u32) {
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Self::pack(hash, cell);
        }
    }

    /// Adds an entry; the caller keeps the index at most half full.
    fn insert(&mut self, hash: u32, cell: u32) {
        let mut i = self.home(hash);
        while let Some(slot) = self.slots.get_mut(i) {
            if *slot == 0 {
                *slot = Self::pack(hash, cell);
                self.len += 1;
                return;
            }
            i = (i + 1) & self.mask();
        }
    }

    /// Removes the entry for `cell` with this hash, if the index has it.
    fn remove(&mut self, hash: u32, cell: u32) {
        let wanted = Self::pack(hash, cell);
        let mut i = self.home(hash);
        loop {
            match self.slots.get(i) {
                Some(&slot) if slot == wanted => break,
                Some(&slot) if slot != 0 => i = (i + 1) & self.mask(),
                _ => return,
            }
        }
        self.len -= 1;
        let mut hole = i;
        loop {
            i = (i + 1) & self.mask();
            let slot = self.slots.get(i).copied().unwrap_or(0);
            if slot == 0 {
                break;
            }
            // The entry may fill the hole unless its home lies after the hole in this run.
            let home = self.home(Self::hash_of(slot));
            if i.wrapping_sub(home) & self.mask() >= i.wrapping_sub(hole) & self.mask() {
                if let Some(h) = self.slots.get_mut(hole) {
                    *h = slot;
                }
                hole = i;
            }
        }
        if let Some(h) = self.slots.get_mut(hole) {
            *h = 0;
        }
    }

    /// A copy with `slots` slots (a power of two at least twice `len`).
    fn rebuilt(&self, slots: usize) -> IdIndex {
        let mut index = IdIndex::with_slots(slots);
        for &slot in self.slots.iter().filter(|&&s| s != 0) {
            index.insert(Self::hash_of(slot), Self::cell_of(slot));
        }
        index
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
    use crate::reject::{Accepted, Reject};

    fn id(n: u64) -> CommandId {
        CommandId(u128::from(n).to_le_bytes())
    }

    #[test]
    fn remembers_for_exactly_one_window() {
        let mut w = IdempotencyWindow::new(3);
        w.insert(id(7), 1, Ok(Accepted::Done));
        assert_eq!(w.get(&id(7), 4), Some(&Ok(Accepted::Done)));
        assert_eq!(w.get(&id(7), 5), None);
        for seq in 2..=5 {
            w.insert(id(100 + seq), seq, Err(Reject::UnknownMarket));
        }
        // Cell of seq 1 was reused by seq 4: the id is gone from the index too.
        assert_eq!(w.get(&id(7), 2), None);
        assert_eq!(w.index.len, 3);
        assert!(w.is_consistent(5));
        let seqs: Vec<u64> = w.live_entries(5).iter().map(|e| e.0).collect();
        assert_eq!(seqs, vec![3, 4, 5]);
    }

    #[test]
    fn an_id_seen_again_after_expiry_is_recorded_afresh() {
        let mut w = IdempotencyWindow::new(2);
        w.insert(id(1), 1, Ok(Accepted::Done));
        // Seq 3 is a repeat of id 2 or a gap: nothing reuses the cell of seq 1 yet.
        w.insert(id(2), 2, Ok(Accepted::Done));
        w.insert(id(1), 4, Err(Reject::UnknownAsset));
        assert_eq!(w.get(&id(1), 5), Some(&Err(Reject::UnknownAsset)));
        assert!(w.is_consistent(4));
        // Seq 5 reuses the cell of seq 1 (stale id 1); the newer record of id 1 survives.
        w.insert(id(3), 5, Ok(Accepted::Done));
        assert_eq!(w.get(&id(1), 6), Some(&Err(Reject::UnknownAsset)));
        assert!(w.is_consistent(5));
        let seqs: Vec<u64> = w.live_entries(5).iter().map(|e| e.0).collect();
        assert_eq!(seqs, vec![4, 5]);
    }

    #[test]
    fn a_busy_window_stays_one_window_long_and_stops_growing() {
        let window = 3 * FULL_SIZE_AFTER_IDS as u64;
        let mut w = IdempotencyWindow::new(window);
        for seq in 1..=4 * window {
            w.insert(id(seq * 7919), seq, Ok(Accepted::Done));
            assert!(w.index.len as u64 <= window);
            if seq as usize > FULL_SIZE_AFTER_IDS + 1 {
                assert_eq!(
                    w.index.slots.len(),
                    (2 * window as usize).next_power_of_two()
                );
                assert_eq!(w.ring.capacity(), window as usize);
            }
        }
        let last = 4 * window;
        assert_eq!(
            w.get(&id(7919 * (3 * window + 1)), last + 1),
            Some(&Ok(Accepted::Done))
        );
        assert_eq!(w.get(&id(7919 * 3 * window), last + 1), None);
        assert!(w.is_consistent(last));
        assert_eq!(w.live_entries(last).len() as u64, window);
    }

    #[test]
    fn colliding_hashes_probe_past_each_other_and_removal_keeps_runs_whole() {
        let mut index = IdIndex::with_slots(16);
        // Same home slot for all: hashes share their top bits.
        let hashes = [0xF000_0001_u32, 0xF000_0002, 0xF000_0003, 0x0000_0004];
        for (cell, &h) in hashes.iter().enumerate() {
            index.insert(h, cell as u32);
        }
        let cells = |index: &IdIndex, h: u32| index.find(h, |c| Some(&()).filter(|_| c < 99));
        index.remove(0xF000_0001, 0);
        assert!(cells(&index, 0xF000_0001).is_none());
        for &h in &hashes[1..] {
            assert!(cells(&index, h).is_some(), "{h:x} lost");
        }
        index.remove(0xF000_0003, 9);
        assert_eq!(index.len, 3);
    }

    proptest::proptest! {
        /// Against a naive model that keeps every record: same answers, for any mix of fresh
        /// ids, repeats and skipped sequence numbers.
        #[test]
        fn agrees_with_a_model_that_forgets_nothing(
            window in 1_u64..40,
            steps in proptest::collection::vec((0_u64..60, 1_u64..4), 1..400),
        ) {
            let mut w = IdempotencyWindow::new(window);
            let mut model: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
            let mut seq = 0;
            for (n, gap) in steps {
                seq += gap;
                let expected = model
                    .get(&n)
                    .filter(|&&recorded| recorded + window >= seq)
                    .map(|&recorded| Ok(Accepted::Order { id: bulwark_types::OrderId(recorded) }));
                proptest::prop_assert_eq!(w.get(&id(n), seq).cloned(), expected.clone());
                if expected.is_none() {
                    w.insert(id(n), seq, Ok(Accepted::Order { id: bulwark_types::OrderId(seq) }));
                    model.insert(n, seq);
                }
                proptest::prop_assert!(w.is_consistent(seq));
                let live = model.values().filter(|&&r| r + window > seq).count();
                proptest::prop_assert_eq!(w.live_entries(seq).len(), live);
            }
        }
    }

    #[test]
    fn a_zero_window_remembers_nothing() {
        let mut w = IdempotencyWindow::new(0);
        w.insert(id(1), 1, Ok(Accepted::Done));
        assert_eq!(w.get(&id(1), 1), None);
        assert!(w.live_entries(1).is_empty());
    }
}
