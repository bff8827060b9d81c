//! Storage of a book: order nodes and price levels, each in a slab with a free list and
//! addressed by `u32` handles that stay valid while what they name is alive, plus the optional
//! id index.

use bulwark_types::Side;
use rustc_hash::FxHashMap;

use super::ladder::Ladder;

/// Marks "no node" in the intrusive links and "no level" in `Nodes::level_of`.
pub(super) const NIL: u32 = u32::MAX;

/// An order on the book; its price and side are its level's.
///
/// 32 bytes, so two share a cache line and a book of 13k orders fits in L2 with room to spare.
/// The order's level handle lives in the parallel `Nodes::level_of` because only cancels need
/// it, while matching, the hot loop, never does.
#[derive(Clone, Copy, Debug)]
pub(super) struct Node {
    pub(super) id: u64,
    pub(super) owner: u64,
    pub(super) qty_lots: i64,
    pub(super) prev: u32,
    pub(super) next: u32,
}

/// A price level: its aggregate and the FIFO of its orders.
#[derive(Clone, Copy, Debug)]
pub(super) struct Level {
    pub(super) price_ticks: i64,
    pub(super) total_lots: i64,
    pub(super) head: u32,
    pub(super) tail: u32,
    pub(super) orders: u32,
    pub(super) side: Side,
}

/// Order nodes with an intrusive free list threaded through `next`.
#[derive(Clone, Debug)]
pub(super) struct Nodes {
    pub(super) nodes: Vec<Node>,
    /// Level handle of each node; `NIL` marks a free node.
    pub(super) level_of: Vec<u32>,
    pub(super) free: u32,
    /// Nodes in use (resting orders).
    pub(super) live: usize,
}

impl Nodes {
    pub(super) fn with_capacity(capacity: usize) -> Nodes {
        Nodes {
            nodes: Vec::with_capacity(capacity),
            level_of: Vec::with_capacity(capacity),
            free: NIL,
            live: 0,
        }
    }

    pub(super) fn get(&self, i: u32) -> Option<&Node> {
        self.nodes.get(i as usize)
    }

    pub(super) fn get_mut(&mut self, i: u32) -> Option<&mut Node> {
        self.nodes.get_mut(i as usize)
    }

    /// The level of a node in use; `None` for a free or unknown node.
    pub(super) fn level(&self, i: u32) -> Option<u32> {
        self.level_of.get(i as usize).copied().filter(|&l| l != NIL)
    }

    /// Whether `alloc` can succeed (checked before anything changes).
    pub(super) fn has_room(&self) -> bool {
        self.free != NIL || self.nodes.len() < NIL as usize
    }

    pub(super) fn alloc(&mut self, node: Node, level: u32) -> Option<u32> {
        let i = if self.free != NIL {
            let i = self.free;
            let slot = self.nodes.get_mut(i as usize)?;
            self.free = slot.next;
            *slot = node;
            *self.level_of.get_mut(i as usize)? = level;
            i
        } else {
            let i = u32::try_from(self.nodes.len()).ok().filter(|&i| i != NIL)?;
            self.nodes.push(node);
            self.level_of.push(level);
            i
        };
        self.live += 1;
        Some(i)
    }

    pub(super) fn release(&mut self, i: u32) {
        let free = self.free;
        if let (Some(node), Some(level)) = (
            self.nodes.get_mut(i as usize),
            self.level_of.get_mut(i as usize),
        ) {
            node.qty_lots = 0;
            node.prev = NIL;
            node.next = free;
            *level = NIL;
            self.free = i;
            self.live = self.live.saturating_sub(1);
        }
    }

    /// Appends node `i` to the back of `level`'s FIFO.
    pub(super) fn push_back(&mut self, level: &mut Level, i: u32) {
        let tail = level.tail;
        let qty_lots = match self.get_mut(i) {
            Some(node) => {
                node.prev = tail;
                node.next = NIL;
                node.qty_lots
            }
            None => return,
        };
        match self.get_mut(tail) {
            Some(prev) => prev.next = i,
            None => level.head = i,
        }
        level.tail = i;
        level.orders += 1;
        level.total_lots += qty_lots;
    }

    /// Detaches node `i` from `level`'s FIFO and returns a copy of it.
    pub(super) fn unlink(&mut self, level: &mut Level, i: u32) -> Option<Node> {
        let node = *self.get(i)?;
        if node.prev == NIL {
            level.head = node.next;
        } else if let Some(prev) = self.get_mut(node.prev) {
            prev.next = node.next;
        }
        if node.next == NIL {
            level.tail = node.prev;
        } else if let Some(next) = self.get_mut(node.next) {
            next.prev = node.prev;
        }
        level.orders = level.orders.saturating_sub(1);
        level.total_lots -= node.qty_lots;
        Some(node)
    }
}

/// Price levels of both sides, reused through a free stack.
#[derive(Clone, Debug, Default)]
pub(super) struct Levels {
    pub(super) levels: Vec<Level>,
    pub(super) free: Vec<u32>,
}

impl Levels {
    pub(super) fn get(&self, h: u32) -> Option<&Level> {
        self.levels.get(h as usize)
    }

    pub(super) fn get_mut(&mut self, h: u32) -> Option<&mut Level> {
        self.levels.get_mut(h as usize)
    }

    /// Whether `alloc` can succeed (checked before anything changes).
    pub(super) fn has_room(&self) -> bool {
        !self.free.is_empty() || self.levels.len() < NIL as usize
    }

    /// A new empty level.
    pub(super) fn alloc(&mut self, side: Side, price_ticks: i64) -> Option<u32> {
        let level = Level {
            price_ticks,
            total_lots: 0,
            head: NIL,
            tail: NIL,
            orders: 0,
            side,
        };
        if let Some(h) = self.free.pop() {
            *self.levels.get_mut(h as usize)? = level;
            return Some(h);
        }
        let h = u32::try_from(self.levels.len())
            .ok()
            .filter(|&h| h != NIL)?;
        self.levels.push(level);
        Some(h)
    }

    pub(super) fn release(&mut self, h: u32) {
        self.free.push(h);
    }
}

/// Everything a book stores besides the order of its levels.
#[derive(Clone, Debug)]
pub(super) struct Store {
    pub(super) nodes: Nodes,
    pub(super) levels: Levels,
    /// Order id -> node, for books addressed by id; `None` for a book addressed by handle.
    pub(super) index: Option<FxHashMap<u64, u32>>,
}

impl Store {
    /// Frees the front node `i` of `ladder`'s best level (after a fill or a self-trade cancel),
    /// dropping the level when it empties.
    pub(super) fn drop_front(&mut self, ladder: &mut Ladder, level: u32, i: u32, id: u64) {
        let Some(lvl) = self.levels.get_mut(level) else {
            return;
        };
        self.nodes.unlink(lvl, i);
        if lvl.orders == 0 {
            ladder.order.pop();
            self.levels.release(level);
        }
        self.nodes.release(i);
        if let Some(index) = &mut self.index {
            index.remove(&id);
        }
    }

    /// Finds a resting order by id without an index (O(orders)).
    pub(super) fn scan(&self, id: u64) -> Option<u32> {
        let i = self
            .nodes
            .nodes
            .iter()
            .zip(&self.nodes.level_of)
            .position(|(node, &level)| level != NIL && node.id == id)?;
        u32::try_from(i).ok()
    }
}
