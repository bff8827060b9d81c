//! Queries of the read models on behalf of one user: balances, orders and trades. Ownership is
//! checked here, so an adapter cannot show one user another's order by forgetting to.

use bulwark_store::{
    BalanceRow, CandleRow, OrderRow, StoreError, TradeRow, TradeStats, TriggerRow,
};

use crate::Trading;

/// A market's 24-hour ticker in integer units: the one computation behind the REST ticker and
/// the WebSocket ticker push, so both always agree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ticker {
    pub last_ticks: i64,
    pub open_ticks: i64,
    pub high_ticks: i64,
    pub low_ticks: i64,
    pub volume_lots: i64,
    pub volume_quote: i64,
    /// (last − open) / open in units of 10⁻⁵ (BitMart's `fluctuation` with five decimals).
    pub change_e5: i64,
    /// Best bid and ask as (price ticks, size lots), from the durable book view.
    pub best_bid: Option<(i64, i64)>,
    pub best_ask: Option<(i64, i64)>,
}

/// The window a ticker covers.
pub const TICKER_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Which candles of a market to page through (times are candle open times in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandleWindow {
    /// The oldest candles opening after `after_s`, up to `before_s` when given: paging forwards.
    After { after_s: i64, before_s: Option<i64> },
    /// The newest candles opening at or before `before_s`.
    Before { before_s: i64 },
}

/// A time and symbol window of an order or trade list.
#[derive(Debug, Clone, Default)]
pub struct Window<'a> {
    pub symbol: Option<&'a str>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub limit: u32,
}

impl Trading {
    pub async fn balances(&self, user_id: i64) -> Result<Vec<BalanceRow>, StoreError> {
        self.settle().await;
        self.store.user_balances(user_id).await
    }

    /// The order `order_id` if it is `user_id`'s (`None` for unknown and foreign alike).
    pub async fn own_order(
        &self,
        user_id: i64,
        order_id: i64,
    ) -> Result<Option<OrderRow>, StoreError> {
        self.settle().await;
        Ok(self
            .store
            .get_order(order_id)
            .await?
            .filter(|row| row.user_id == user_id))
    }

    /// The user's order with this client order id.
    pub async fn own_order_by_client_id(
        &self,
        user_id: i64,
        client_order_id: &str,
    ) -> Result<Option<OrderRow>, StoreError> {
        self.settle().await;
        self.store
            .find_order_by_client_id(user_id, client_order_id)
            .await
    }

    /// The stop order `trigger_id` if it is `user_id`'s (`None` for unknown and foreign alike).
    pub async fn own_trigger(
        &self,
        user_id: i64,
        trigger_id: i64,
    ) -> Result<Option<TriggerRow>, StoreError> {
        self.settle().await;
        Ok(self
            .store
            .get_trigger(trigger_id)
            .await?
            .filter(|row| row.user_id == user_id))
    }

    /// The user's most recent stop order with this client order id.
    pub async fn own_trigger_by_client_id(
        &self,
        user_id: i64,
        client_order_id: &str,
    ) -> Result<Option<TriggerRow>, StoreError> {
        self.settle().await;
        self.store
            .find_trigger_by_client_id(user_id, client_order_id)
            .await
    }

    /// The user's waiting stop orders (`open`), or the finished ones, newest first.
    pub async fn triggers(
        &self,
        user_id: i64,
        open: bool,
        window: &Window<'_>,
    ) -> Result<Vec<TriggerRow>, StoreError> {
        self.settle().await;
        self.store
            .list_triggers(
                user_id,
                open,
                window.symbol,
                window.start_ms,
                window.end_ms,
                window.limit,
            )
            .await
    }

    pub async fn open_orders(
        &self,
        user_id: i64,
        window: &Window<'_>,
    ) -> Result<Vec<OrderRow>, StoreError> {
        self.settle().await;
        self.store
            .open_orders(user_id, window.symbol, window.limit)
            .await
    }

    /// One page of the user's orders in `symbol` whose state is one of `states`, newest first.
    pub async fn orders_in_states(
        &self,
        user_id: i64,
        symbol: &str,
        states: [&str; 2],
        page: u32,
        per_page: u32,
    ) -> Result<Vec<OrderRow>, StoreError> {
        self.settle().await;
        self.store
            .orders_in_states(user_id, symbol, states, page, per_page)
            .await
    }

    pub async fn history_orders(
        &self,
        user_id: i64,
        window: &Window<'_>,
    ) -> Result<Vec<OrderRow>, StoreError> {
        self.settle().await;
        self.store
            .history_orders(
                user_id,
                window.symbol,
                window.start_ms,
                window.end_ms,
                window.limit,
            )
            .await
    }

    pub async fn user_trades(
        &self,
        user_id: i64,
        window: &Window<'_>,
    ) -> Result<Vec<TradeRow>, StoreError> {
        self.settle().await;
        self.store
            .user_trades(
                user_id,
                window.symbol,
                window.start_ms,
                window.end_ms,
                window.limit,
            )
            .await
    }

    /// The fills of one of the user's orders (`None` when the order is not theirs).
    pub async fn own_order_trades(
        &self,
        user_id: i64,
        order_id: i64,
    ) -> Result<Option<Vec<TradeRow>>, StoreError> {
        // `own_order` settles the read models first.
        if self.own_order(user_id, order_id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(self.store.order_trades(order_id).await?))
    }

    /// Public market data: the last trades of a market, newest first.
    pub async fn recent_trades(
        &self,
        symbol: &str,
        limit: u32,
    ) -> Result<Vec<TradeRow>, StoreError> {
        self.settle().await;
        self.store.recent_trades(symbol, limit).await
    }

    /// Public market data: open, high, low, last and volumes since `since_ms`.
    pub async fn trade_stats_since(
        &self,
        symbol: &str,
        since_ms: i64,
    ) -> Result<Option<TradeStats>, StoreError> {
        self.settle().await;
        self.store.trade_stats_since(symbol, since_ms).await
    }

    /// Public market data: candles of one interval (`step` minutes), oldest first.
    pub async fn candles(
        &self,
        symbol: &str,
        step: u32,
        window: CandleWindow,
        limit: u32,
    ) -> Result<Vec<CandleRow>, StoreError> {
        self.settle().await;
        match window {
            CandleWindow::After { after_s, before_s } => {
                self.store
                    .candles_after(symbol, step, after_s, before_s, limit)
                    .await
            }
            CandleWindow::Before { before_s } => {
                self.store
                    .candles_before(symbol, step, before_s, limit)
                    .await
            }
        }
    }

    /// The 24-hour ticker of `market` as of `now_ms`: trades in the window, else the last trade
    /// price (or zero) everywhere and no volume.
    pub async fn ticker(
        &self,
        market: &bulwark_sequencer::MarketInfo,
        now_ms: i64,
    ) -> Result<Ticker, StoreError> {
        self.settle().await;
        let symbol = market.spec.symbol.as_str();
        let depth = self.sequencer.depth(market.id).unwrap_or_default();
        let mut ticker = Ticker {
            best_bid: depth.bids.first().copied(),
            best_ask: depth.asks.first().copied(),
            ..Ticker::default()
        };
        match self
            .store
            .trade_stats_since(symbol, now_ms - TICKER_WINDOW_MS)
            .await?
        {
            Some(stats) => {
                if stats.open_ticks > 0 {
                    let ratio = (i128::from(stats.last_ticks) - i128::from(stats.open_ticks))
                        * 100_000
                        / i128::from(stats.open_ticks);
                    ticker.change_e5 = i64::try_from(ratio).unwrap_or(0);
                }
                ticker.last_ticks = stats.last_ticks;
                ticker.open_ticks = stats.open_ticks;
                ticker.high_ticks = stats.high_ticks;
                ticker.low_ticks = stats.low_ticks;
                ticker.volume_lots = stats.volume_lots;
                ticker.volume_quote = stats.volume_quote;
            }
            None => {
                let last = self
                    .store
                    .recent_trades(symbol, 1)
                    .await?
                    .first()
                    .map_or(0, |t| t.price_ticks);
                ticker.last_ticks = last;
                ticker.open_ticks = last;
                ticker.high_ticks = last;
                ticker.low_ticks = last;
            }
        }
        Ok(ticker)
    }
}
