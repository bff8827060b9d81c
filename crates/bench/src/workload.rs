//! The reference workload of `reference/benchmarks.md` §5, ported exactly.
//!
//! Every engine is fed the same op stream, and a reference price-time model runs alongside the
//! generator. That is why every cancel targets an order that is resting at that moment, and why
//! the expected total fill is known in advance: an engine's result can be checked against the
//! model's fingerprint instead of being trusted. Any change to the RNG call order or to the model
//! changes the stream and makes figures incomparable with the published ones, so the fingerprint
//! test below pins both.

use std::collections::{BTreeMap, VecDeque};

/// Mid price at which the very first order is placed when the book is empty.
pub const MID0_TICKS: u32 = 32_768;
/// Highest price a generated sell may be placed at.
pub const MAX_PRICE_TICKS: u32 = 65_000;
/// Largest size of a generated limit order.
pub const MAX_LIMIT_QTY_LOTS: u32 = 100;
/// Largest size of a generated market order.
pub const MAX_MARKET_QTY_LOTS: u32 = 300;

/// splitmix64, the generator every engine's workload is drawn from.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1), never 0, so `-ln` of it is finite.
    pub fn unit(&mut self) -> f64 {
        const TWO_POW_53: f64 = 9_007_199_254_740_992.0;
        ((self.next_u64() >> 11) as f64 + 0.5) / TWO_POW_53
    }

    /// Uniform in `lo..=hi` by modulo, exactly as the reference does (bias included).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// One operation of the stream. Ids are the generator's own (`wid`), starting at 1; each engine
/// maps them to its own ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A GTC limit order; by construction it never crosses the book.
    Limit {
        id: u32,
        buy: bool,
        price: u32,
        qty: u32,
    },
    /// Cancel of an order that the reference model says is resting right now.
    Cancel { id: u32 },
    /// An IOC market order; any remainder is dropped.
    Market { id: u32, buy: bool, qty: u32 },
}

/// Kind of an op, used to split latency figures by type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Limit,
    Cancel,
    Market,
}

impl Op {
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Limit { .. } => OpKind::Limit,
            Op::Cancel { .. } => OpKind::Cancel,
            Op::Market { .. } => OpKind::Market,
        }
    }
}

/// Parameters of one named workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadSpec {
    pub name: &'static str,
    pub seed: u64,
    pub prefill_orders: u32,
    /// Mean distance of a new limit from the touch, in ticks (exponential distribution).
    pub mean_offset_ticks: u32,
    pub max_offset_ticks: u32,
    pub measured_ops: u32,
}

/// BOOK-A: a deep book concentrated near the touch.
pub const BOOK_A: WorkloadSpec = WorkloadSpec {
    name: "BOOK-A",
    seed: 42,
    prefill_orders: 10_000,
    mean_offset_ticks: 20,
    max_offset_ticks: 2_000,
    measured_ops: 1_000_000,
};

/// BOOK-B: a sparse, wide book.
pub const BOOK_B: WorkloadSpec = WorkloadSpec {
    name: "BOOK-B",
    seed: 7,
    prefill_orders: 1_000,
    mean_offset_ticks: 100,
    max_offset_ticks: 2_000,
    measured_ops: 1_000_000,
};

/// What the reference model computed; engines are checked against it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reference {
    /// Counts over the measured ops only (the prefill is all limits).
    pub limits: u64,
    pub cancels: u64,
    pub markets: u64,
    /// Total quantity filled by the measured ops (limits never cross, so only markets fill).
    pub filled_qty_lots: u64,
    /// Orders resting after the last op.
    pub resting_at_end: u64,
    /// Most orders resting at once (after any op, prefill included), for sizing tables.
    pub resting_max: u64,
    /// Resting orders after each measured op, summed, so the mean can be reported.
    pub resting_sum: u64,
    /// Occupied price levels (both sides) after each measured op, summed.
    pub levels_sum: u64,
}

/// A generated workload: the untimed prefill, the measured ops and the expected results.
#[derive(Clone, Debug)]
pub struct Workload {
    pub spec: WorkloadSpec,
    pub prefill: Vec<Op>,
    pub ops: Vec<Op>,
    pub reference: Reference,
}

impl Workload {
    /// Largest order id used, so engines can size a direct id table once.
    pub fn max_id(&self) -> u32 {
        self.prefill
            .iter()
            .chain(self.ops.iter())
            .filter_map(|op| match *op {
                Op::Limit { id, .. } | Op::Market { id, .. } => Some(id),
                Op::Cancel { .. } => None,
            })
            .max()
            .unwrap_or(0)
    }
}

/// Generates a workload and its reference results.
pub fn generate(spec: &WorkloadSpec) -> Workload {
    let mut generator = Generator::new(spec);
    let mut prefill = Vec::with_capacity(spec.prefill_orders as usize);
    for _ in 0..spec.prefill_orders {
        prefill.push(generator.limit());
    }
    let mut resting_max = generator.model.live.len() as u64;
    let mut ops = Vec::with_capacity(spec.measured_ops as usize);
    let mut reference = Reference::default();
    for _ in 0..spec.measured_ops {
        let op = generator.measured_op();
        match op.kind() {
            OpKind::Limit => reference.limits += 1,
            OpKind::Cancel => reference.cancels += 1,
            OpKind::Market => reference.markets += 1,
        }
        let resting = generator.model.live.len() as u64;
        resting_max = resting_max.max(resting);
        reference.resting_sum += resting;
        reference.levels_sum += generator.model.level_count() as u64;
        ops.push(op);
    }
    reference.filled_qty_lots = generator.model.filled_qty_lots;
    reference.resting_at_end = generator.model.live.len() as u64;
    reference.resting_max = resting_max;
    Workload {
        spec: spec.clone(),
        prefill,
        ops,
        reference,
    }
}

/// The RNG plus the model, drawing ops in the reference's exact call order.
struct Generator {
    rng: SplitMix64,
    model: Model,
    wid: u32,
    mean_offset: f64,
    max_offset: u64,
}

impl Generator {
    fn new(spec: &WorkloadSpec) -> Self {
        Generator {
            rng: SplitMix64::new(spec.seed),
            model: Model::with_max_id(spec.prefill_orders + spec.measured_ops),
            wid: 0,
            mean_offset: f64::from(spec.mean_offset_ticks),
            max_offset: u64::from(spec.max_offset_ticks),
        }
    }

    fn measured_op(&mut self) -> Op {
        let x = self.rng.next_u64() % 100;
        if x < 60 || (x < 90 && self.model.live.is_empty()) {
            self.limit()
        } else if x < 90 {
            let len = self.model.live.len() as u64;
            let index = (self.rng.next_u64() % len) as usize;
            let id = self.model.live.get(index).copied().unwrap_or(0);
            self.model.cancel(id);
            Op::Cancel { id }
        } else {
            self.wid += 1;
            let buy = self.rng.next_u64() & 1 == 0;
            let qty = self.rng.range(1, u64::from(MAX_MARKET_QTY_LOTS)) as u32;
            self.model.market(buy, qty);
            Op::Market {
                id: self.wid,
                buy,
                qty,
            }
        }
    }

    fn limit(&mut self) -> Op {
        self.wid += 1;
        let buy = self.rng.next_u64() & 1 == 0;
        let offset = (-self.rng.unit().ln() * self.mean_offset).floor() as u64;
        let d = offset.min(self.max_offset) as i64;
        let best_bid = self.model.bids.last_key_value().map(|(p, _)| i64::from(*p));
        let best_ask = self
            .model
            .asks
            .first_key_value()
            .map(|(p, _)| i64::from(*p));
        let mid = i64::from(MID0_TICKS);
        let price = if buy {
            let reference = best_ask.or(best_bid.map(|b| b + 1)).unwrap_or(mid);
            (reference - 1 - d).max(1)
        } else {
            let reference = best_bid.or(best_ask.map(|a| a - 1)).unwrap_or(mid);
            (reference + 1 + d).min(i64::from(MAX_PRICE_TICKS))
        } as u32;
        let qty = self.rng.range(1, u64::from(MAX_LIMIT_QTY_LOTS)) as u32;
        self.model.rest(self.wid, buy, price, qty);
        Op::Limit {
            id: self.wid,
            buy,
            price,
            qty,
        }
    }
}

/// State of one resting order in the model.
#[derive(Clone, Copy, Debug, Default)]
struct ModelOrder {
    buy: bool,
    price: u32,
    qty: u32,
    live_index: u32,
}

/// The reference price-time book. Clarity over speed: it runs once per workload, untimed.
#[derive(Default)]
struct Model {
    bids: BTreeMap<u32, VecDeque<u32>>,
    asks: BTreeMap<u32, VecDeque<u32>>,
    /// Indexed by order id.
    orders: Vec<ModelOrder>,
    /// Resting ids, in the swap-remove order the cancel draw depends on.
    live: Vec<u32>,
    filled_qty_lots: u64,
}

impl Model {
    fn level_count(&self) -> usize {
        self.bids.len() + self.asks.len()
    }

    fn with_max_id(max_id: u32) -> Self {
        Model {
            orders: vec![ModelOrder::default(); max_id as usize + 1],
            ..Model::default()
        }
    }

    fn order(&self, id: u32) -> ModelOrder {
        self.orders.get(id as usize).copied().unwrap_or_default()
    }

    fn set_order(&mut self, id: u32, order: ModelOrder) {
        if let Some(slot) = self.orders.get_mut(id as usize) {
            *slot = order;
        }
    }

    fn rest(&mut self, id: u32, buy: bool, price: u32, qty: u32) {
        let live_index = self.live.len() as u32;
        let order = ModelOrder {
            buy,
            price,
            qty,
            live_index,
        };
        self.set_order(id, order);
        self.live.push(id);
        let side = if buy { &mut self.bids } else { &mut self.asks };
        side.entry(price).or_default().push_back(id);
    }

    /// Swap-remove from `live`: the last element takes the removed one's place.
    fn unlive(&mut self, id: u32) {
        let index = self.order(id).live_index;
        if let Some(last) = self.live.pop()
            && last != id
        {
            if let Some(slot) = self.live.get_mut(index as usize) {
                *slot = last;
            }
            let moved = ModelOrder {
                live_index: index,
                ..self.order(last)
            };
            self.set_order(last, moved);
        }
    }

    fn cancel(&mut self, id: u32) {
        let order = self.order(id);
        let side = if order.buy {
            &mut self.bids
        } else {
            &mut self.asks
        };
        if let Some(level) = side.get_mut(&order.price) {
            level.retain(|queued| *queued != id);
            if level.is_empty() {
                side.remove(&order.price);
            }
        }
        self.unlive(id);
    }

    /// Sweeps the opposite side in price-time order; the remainder is dropped.
    fn market(&mut self, buy: bool, qty: u32) {
        let mut remaining = qty;
        while remaining > 0 {
            let side = if buy { &mut self.asks } else { &mut self.bids };
            let best = if buy {
                side.first_key_value().map(|(p, _)| *p)
            } else {
                side.last_key_value().map(|(p, _)| *p)
            };
            let Some(price) = best else { break };
            let Some(maker) = side.get(&price).and_then(|level| level.front().copied()) else {
                side.remove(&price);
                continue;
            };
            let mut maker_order = self.order(maker);
            let fill = remaining.min(maker_order.qty);
            maker_order.qty -= fill;
            let maker_done = maker_order.qty == 0;
            self.set_order(maker, maker_order);
            remaining -= fill;
            self.filled_qty_lots += u64::from(fill);
            if maker_done {
                self.pop_front(buy, price);
                self.unlive(maker);
            }
        }
    }

    fn pop_front(&mut self, taker_buy: bool, price: u32) {
        let side = if taker_buy {
            &mut self.asks
        } else {
            &mut self.bids
        };
        if let Some(level) = side.get_mut(&price) {
            level.pop_front();
            if level.is_empty() {
                side.remove(&price);
            }
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
    fn splitmix64_matches_the_published_sequence() {
        // Reference values of splitmix64 seeded with 0 (Vigna's test vector).
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn unit_stays_inside_the_open_interval() {
        let mut rng = SplitMix64::new(1);
        for _ in 0..10_000 {
            let u = rng.unit();
            assert!(u > 0.0 && u < 1.0);
        }
    }

    fn assert_fingerprint(spec: &WorkloadSpec, counts: [u64; 3], fill: u64, resting: u64) {
        let workload = generate(spec);
        let r = &workload.reference;
        assert_eq!([r.limits, r.cancels, r.markets], counts, "{}", spec.name);
        assert_eq!(r.filled_qty_lots, fill, "{}", spec.name);
        assert_eq!(r.resting_at_end, resting, "{}", spec.name);
        assert_eq!(workload.ops.len(), spec.measured_ops as usize);
        assert_eq!(workload.prefill.len(), spec.prefill_orders as usize);
    }

    #[test]
    fn book_a_matches_the_reference_fingerprint() {
        assert_fingerprint(&BOOK_A, [599_497, 300_980, 99_523], 14_900_327, 12_927);
    }

    #[test]
    fn book_b_matches_the_reference_fingerprint() {
        assert_fingerprint(&BOOK_B, [600_608, 300_077, 99_315], 14_931_870, 6_705);
    }

    #[test]
    fn cancels_target_orders_that_were_placed_and_not_cancelled() {
        let spec = WorkloadSpec {
            measured_ops: 20_000,
            ..BOOK_A
        };
        let workload = generate(&spec);
        let mut resting = std::collections::HashSet::new();
        for op in workload.prefill.iter().chain(workload.ops.iter()) {
            match *op {
                Op::Limit { id, .. } => {
                    resting.insert(id);
                }
                Op::Cancel { id } => assert!(resting.remove(&id), "cancel of {id}"),
                Op::Market { .. } => {}
            }
        }
    }
}
