//! Candles from trades: every trade lands in one candle per interval of
//! `bulwark_types::candle::STEPS_MINUTES`, and a run of trades becomes one delta row per candle
//! it touched, which the store merges into what it holds.

use std::collections::BTreeMap;

use bulwark_store::{CandleRow, TradeRow};
use bulwark_types::candle::{STEPS_MINUTES, open_seconds};

/// The candle deltas of `trades`, which must be in execution order (as the events carry them):
/// the first trade of a candle opens it, the last closes it.
pub fn candle_rows<'t>(trades: impl IntoIterator<Item = &'t TradeRow>) -> Vec<CandleRow> {
    let mut candles: BTreeMap<(&str, u32, i64), CandleRow> = BTreeMap::new();
    for trade in trades {
        for step in STEPS_MINUTES {
            let open_s = open_seconds(step, trade.timestamp_ms);
            candles
                .entry((trade.symbol.as_str(), step, open_s))
                .and_modify(|candle| {
                    candle.high_ticks = candle.high_ticks.max(trade.price_ticks);
                    candle.low_ticks = candle.low_ticks.min(trade.price_ticks);
                    candle.close_ticks = trade.price_ticks;
                    candle.volume_lots = candle.volume_lots.saturating_add(trade.size_lots);
                    candle.volume_quote = candle.volume_quote.saturating_add(trade.quote_amount);
                    candle.trades += 1;
                    candle.last_seq = trade.seq;
                })
                .or_insert_with(|| CandleRow {
                    symbol: trade.symbol.clone(),
                    step_minutes: i64::from(step),
                    open_s,
                    open_ticks: trade.price_ticks,
                    high_ticks: trade.price_ticks,
                    low_ticks: trade.price_ticks,
                    close_ticks: trade.price_ticks,
                    volume_lots: trade.size_lots,
                    volume_quote: trade.quote_amount,
                    trades: 1,
                    first_seq: trade.seq,
                    last_seq: trade.seq,
                });
        }
    }
    candles.into_values().collect()
}
