//! The matching loop: one maker at a time from the front of the best opposite level.

use super::ladder::Ladder;
use super::store::{Node, Store};
use super::{Fill, FillKind, MatchEnd, OrderHandle, Taker};
use crate::command::StpMode;

/// Mutable state of one `match_order` call.
pub(super) struct MatchRun {
    pub(super) remaining_lots: i64,
    pub(super) budget_units: Option<i64>,
    pub(super) filled_lots: i64,
}

/// The maker at the front of the best level.
struct Front {
    level: u32,
    node: u32,
    price_ticks: i64,
    maker: Node,
}

/// Handles the front maker of the best level: trades with it, or applies self-trade
/// prevention. Returns `Some(end)` when matching must stop.
pub(super) fn match_front(
    ladder: &mut Ladder,
    store: &mut Store,
    taker: &Taker,
    run: &mut MatchRun,
    fills: &mut Vec<Fill>,
) -> Option<MatchEnd> {
    let Some(front) = front(ladder, store, taker) else {
        return Some(MatchEnd::NoLiquidity);
    };
    let mut take = run.remaining_lots.min(front.maker.qty_lots);
    let mut lot_cost = 0;
    if let (Some(budget), Some(spec)) = (run.budget_units, taker.budget) {
        lot_cost = front
            .price_ticks
            .checked_mul(spec.quote_units_per_tick_lot)
            .unwrap_or(i64::MAX);
        let affordable = if lot_cost > 0 { budget / lot_cost } else { 0 };
        if affordable == 0 {
            return Some(MatchEnd::BudgetExhausted);
        }
        take = take.min(affordable);
    }
    if front.maker.owner == taker.owner && taker.stp != StpMode::None {
        return self_trade(ladder, store, taker.stp, &front, fills);
    }
    let maker_left = front.maker.qty_lots - take;
    run.remaining_lots -= take;
    run.filled_lots += take;
    if let Some(budget) = run.budget_units.as_mut() {
        *budget -= take * lot_cost;
    }
    fills.push(fill(FillKind::Trade, &front, take, maker_left));
    if maker_left == 0 {
        store.drop_front(ladder, front.level, front.node, front.maker.id);
    } else {
        if let Some(level) = store.levels.get_mut(front.level) {
            level.total_lots -= take;
        }
        if let Some(node) = store.nodes.get_mut(front.node) {
            node.qty_lots = maker_left;
        }
    }
    None
}

/// The front maker of the best level, if that level is within the taker's limit.
fn front(ladder: &Ladder, store: &Store, taker: &Taker) -> Option<Front> {
    let best = ladder.best()?;
    if let Some(limit) = taker.limit_price_ticks
        && best.key < ladder.key(limit)
    {
        return None;
    }
    let level = store.levels.get(best.level)?;
    let maker = *store.nodes.get(level.head)?;
    Some(Front {
        level: best.level,
        node: level.head,
        price_ticks: level.price_ticks,
        maker,
    })
}

fn fill(kind: FillKind, front: &Front, qty_lots: i64, maker_remaining_lots: i64) -> Fill {
    Fill {
        kind,
        maker_id: front.maker.id,
        maker_owner: front.maker.owner,
        price_ticks: front.price_ticks,
        qty_lots,
        maker_remaining_lots,
        maker_handle: OrderHandle(front.node),
    }
}

/// Applies self-trade prevention to the front maker, which has the taker's owner. Returns
/// `Some(end)` when the taker must stop.
fn self_trade(
    ladder: &mut Ladder,
    store: &mut Store,
    stp: StpMode,
    front: &Front,
    fills: &mut Vec<Fill>,
) -> Option<MatchEnd> {
    if stp == StpMode::CancelTaker {
        return Some(MatchEnd::SelfTrade);
    }
    fills.push(fill(
        FillKind::SelfTradeCancel,
        front,
        front.maker.qty_lots,
        0,
    ));
    store.drop_front(ladder, front.level, front.node, front.maker.id);
    (stp == StpMode::CancelBoth).then_some(MatchEnd::SelfTrade)
}
