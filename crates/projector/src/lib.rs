//! The projector: turns durable engine events into SQL read models (orders, stop orders,
//! trades, balances, candles), writing each batch together with its last sequence number in one transaction.
//! After a crash it resumes exactly after what the store already holds, because recovery
//! replays the events after `projected_seq` into it.

pub mod candles;

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use bulwark_engine::{
    CancelReason, Event, OrderKind, OrderState, OrderView, StpMode, TradeView, TriggerDirection,
    TriggerState, TriggerView,
};
use bulwark_sequencer::{Catalog, EventBatch};
use bulwark_store::{
    BalanceHourRow, BalanceRow, OrderRow, ProjectionBatch, Store, TradeRow, TriggerRow,
    trigger_state,
};

/// An hour in milliseconds: the bucket of the balance history.
const HOUR_MS: i64 = 3_600_000;

/// Event batches merged into one SQL transaction at most, when the projector falls behind.
pub const PROJECTOR_MERGE_BATCHES_MAX: usize = 64;

/// BitMart's name of an order kind, as stored in the read model.
pub fn kind_name(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::Limit => "limit",
        OrderKind::Market => "market",
        OrderKind::PostOnly => "limit_maker",
        OrderKind::Ioc => "ioc",
        OrderKind::Fok => "fok",
    }
}

/// The stored name of an order state.
pub fn state_name(state: OrderState) -> &'static str {
    match state {
        OrderState::New => "new",
        OrderState::PartiallyFilled => "partially_filled",
        OrderState::Filled => "filled",
        OrderState::Canceled => "canceled",
        OrderState::PartiallyCanceled => "partially_canceled",
    }
}

fn stp_name(stp: StpMode) -> &'static str {
    match stp {
        StpMode::None => "none",
        StpMode::CancelMaker => "cancel_maker",
        StpMode::CancelTaker => "cancel_taker",
        StpMode::CancelBoth => "cancel_both",
    }
}

fn reason_name(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::User => "user",
        CancelReason::Expired => "expired",
        CancelReason::SelfTrade => "stp",
        CancelReason::NotionalExhausted => "notional_exhausted",
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn symbol_of(catalog: &Catalog, market: bulwark_engine::MarketId) -> String {
    catalog
        .markets
        .get(usize::try_from(market.0).unwrap_or(usize::MAX))
        .map_or_else(|| format!("#{}", market.0), |m| m.spec.symbol.clone())
}

/// The read-model row of an order as of event `seq` (also what the consistency check compares
/// the engine's live orders with).
pub fn order_row(catalog: &Catalog, order: &OrderView, seq: u64) -> OrderRow {
    OrderRow {
        order_id: to_i64(order.id.0),
        user_id: to_i64(order.user.0),
        symbol: symbol_of(catalog, order.market),
        side: order.side.as_str().into(),
        kind: kind_name(order.kind).into(),
        price_ticks: order.price_ticks,
        size_lots: order.size_lots,
        notional: order.notional,
        filled_lots: order.filled_lots,
        filled_quote: order.filled_quote,
        fee_paid: order.fee_paid,
        state: state_name(order.state).into(),
        cancel_reason: order.cancel_reason.map(|r| reason_name(r).into()),
        client_order_id: order.client_order_id.map(|c| c.as_str().to_owned()),
        stp: stp_name(order.stp).into(),
        created_ms: order.created_ms,
        updated_ms: order.updated_ms,
        last_seq: to_i64(seq),
    }
}

/// The read-model row of a stop order as of event `seq`. A failure keeps the engine's reason
/// text, so the owner can see why the order it placed was refused.
pub fn trigger_row(catalog: &Catalog, trigger: &TriggerView, seq: u64) -> TriggerRow {
    let (state, order_id, fail_reason) = match &trigger.state {
        TriggerState::Waiting => (trigger_state::NEW, None, None),
        TriggerState::Triggered(id) => (trigger_state::TRIGGERED, Some(to_i64(id.0)), None),
        TriggerState::Failed(reject) => (trigger_state::FAILED, None, Some(reject.to_string())),
        TriggerState::Canceled => (trigger_state::CANCELED, None, None),
    };
    TriggerRow {
        trigger_id: to_i64(trigger.id.0),
        user_id: to_i64(trigger.user.0),
        symbol: symbol_of(catalog, trigger.market),
        side: trigger.side.as_str().into(),
        kind: kind_name(trigger.kind).into(),
        price_ticks: trigger.price_ticks,
        size_lots: trigger.size_lots,
        notional: trigger.notional,
        trigger_price_ticks: trigger.trigger_price_ticks,
        direction: match trigger.direction {
            TriggerDirection::Rise => "rise",
            TriggerDirection::Fall => "fall",
        }
        .into(),
        state: state.into(),
        order_id,
        fail_reason,
        client_order_id: trigger.client_order_id.map(|c| c.as_str().to_owned()),
        stp: stp_name(trigger.stp).into(),
        created_ms: trigger.created_ms,
        updated_ms: trigger.updated_ms,
        last_seq: to_i64(seq),
    }
}

fn trade_row(catalog: &Catalog, trade: &TradeView, seq: u64) -> TradeRow {
    let code = |asset| catalog.asset_code(asset).to_owned();
    TradeRow {
        trade_id: to_i64(trade.id.0),
        symbol: symbol_of(catalog, trade.market),
        price_ticks: trade.price_ticks,
        size_lots: trade.size_lots,
        quote_amount: trade.quote_amount,
        taker_side: trade.taker_side.as_str().into(),
        maker_order_id: to_i64(trade.maker_order.0),
        taker_order_id: to_i64(trade.taker_order.0),
        maker_user_id: to_i64(trade.maker_user.0),
        taker_user_id: to_i64(trade.taker_user.0),
        maker_fee: trade.maker_fee,
        maker_fee_asset: code(trade.maker_fee_asset),
        taker_fee: trade.taker_fee,
        taker_fee_asset: code(trade.taker_fee_asset),
        timestamp_ms: trade.timestamp_ms,
        seq: to_i64(seq),
    }
}

/// Rows of a run of event batches; assets and markets added in the run are resolved against
/// `catalog`, which must already contain them.
pub fn rows_of(catalog: &Catalog, batches: &[Arc<EventBatch>]) -> ProjectionBatch {
    let mut rows = ProjectionBatch::default();
    for batch in batches {
        for event in &batch.events {
            match &event.event {
                Event::Order(order) => rows.orders.push(order_row(catalog, order, event.seq)),
                Event::Trade(trade) => rows.trades.push(trade_row(catalog, trade, event.seq)),
                Event::Trigger(trigger) => {
                    rows.triggers.push(trigger_row(catalog, trigger, event.seq));
                }
                Event::Balance {
                    user,
                    asset,
                    available,
                    held,
                } => {
                    let asset = catalog.asset_code(*asset).to_owned();
                    rows.balance_hours.push(BalanceHourRow {
                        user_id: to_i64(user.0),
                        asset: asset.clone(),
                        hour_s: event.timestamp_ms.div_euclid(HOUR_MS) * (HOUR_MS / 1_000),
                        total: available.saturating_add(*held),
                        last_seq: to_i64(event.seq),
                    });
                    rows.balances.push(BalanceRow {
                        user_id: to_i64(user.0),
                        asset,
                        available: *available,
                        held: *held,
                        last_seq: to_i64(event.seq),
                    });
                }
                _ => {}
            }
        }
    }
    rows
}

/// Writes one run of batches and reports the last seq it held.
pub async fn project(
    store: &Store,
    catalog: &Catalog,
    batches: &[Arc<EventBatch>],
) -> Result<u64, bulwark_store::StoreError> {
    let stored = store.projected_seq().await?;
    project_after(store, catalog, batches, stored).await
}

/// [`project`] when the caller knows what the store is projected up to (the projector thread
/// keeps it, saving a read per run). Candles add up trades, so only trades after `stored` may
/// count: a run that overlaps what was projected before (a replay) adds nothing twice.
pub async fn project_after(
    store: &Store,
    catalog: &Catalog,
    batches: &[Arc<EventBatch>],
    stored: u64,
) -> Result<u64, bulwark_store::StoreError> {
    let Some(last) = batches.last() else {
        return Ok(stored);
    };
    let mut rows = rows_of(catalog, batches);
    rows.candles = candles::candle_rows(
        rows.trades
            .iter()
            .filter(|trade| u64::try_from(trade.seq).is_ok_and(|seq| seq > stored)),
    );
    store.apply_projection(last.last_seq, &rows).await?;
    Ok(last.last_seq)
}

/// The projector thread: blocks on the sequencer's event channel, merges what is queued, writes
/// it, publishes the projected seq, then hands the batches to `followers` (the live market-data
/// feed), so they see an event only once it is durable and readable in the store. A store
/// failure is retried (the events stay in memory) so a database restart does not lose
/// read-model updates. A follower that went away is skipped.
pub fn run(
    runtime: tokio::runtime::Handle,
    store: Store,
    sequencer: bulwark_sequencer::SequencerHandle,
    events: Receiver<Arc<EventBatch>>,
    projected: tokio::sync::watch::Sender<u64>,
    followers: Vec<tokio::sync::mpsc::UnboundedSender<Arc<EventBatch>>>,
) {
    // What the store is projected up to: read once, then kept as runs are written.
    let mut stored: Option<u64> = None;
    while let Ok(first) = events.recv() {
        let mut run = vec![first];
        while run.len() < PROJECTOR_MERGE_BATCHES_MAX {
            match events.try_recv() {
                Ok(batch) => run.push(batch),
                Err(_) => break,
            }
        }
        let catalog = sequencer.catalog();
        loop {
            let written = runtime.block_on(async {
                let after = match stored {
                    Some(seq) => seq,
                    None => store.projected_seq().await?,
                };
                project_after(&store, &catalog, &run, after).await
            });
            match written {
                Ok(seq) => {
                    stored = Some(seq);
                    projected.send_replace(seq);
                    for follower in &followers {
                        for batch in &run {
                            let _ = follower.send(Arc::clone(batch));
                        }
                    }
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, "projection write failed; retrying in 1 s");
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            }
        }
    }
}
