//! The market-data feed: it takes event batches once they are durable and projected, keeps the
//! last published book of every market, and turns what changed into pushes for the topics that
//! have subscribers. Nothing here calls into the sequencer on a client's behalf: books come from
//! the depth views the sequencer publishes after each durable batch, tickers and candles from the
//! read models the batch was just written to.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bulwark_engine::{AssetId, Event, MarketId, TradeView};
use bulwark_sequencer::{Catalog, EventBatch, MarketInfo};
use bulwark_trading::{CandleWindow, Trading};
use tokio::sync::mpsc;

use crate::format::MarketFormat;
use crate::ws::book::{BookState, changed_levels};
use crate::ws::hub::{Message, Registry, Subscribed};
use crate::ws::push::{self, LastFill};
use crate::ws::topic::{Channel, DEPTH_LEVELS, PrivateTopic, Topic};

/// Event batches the feed merges into one round of pushes at most.
pub const FEED_MERGE_BATCHES_MAX: usize = 8_192;
/// Trades in one `spot/trade` push at most: a round that merged a long stall becomes several
/// pushes of bounded size (each still in trade order) rather than one huge frame.
pub const TRADES_PER_PUSH_MAX: usize = 100;
/// Shortest time between the starts of two rounds of pushes (milliseconds).
pub const FEED_ROUND_MS: u64 = 20;

#[derive(Default)]
struct State {
    hub: Registry,
    books: BTreeMap<MarketId, BookState>,
}

/// The feed and its subscribers (cheap to clone).
#[derive(Clone)]
pub struct Feed {
    trading: Trading,
    state: Arc<Mutex<State>>,
}

impl Feed {
    /// Starts the feed task over `batches`, which must deliver every batch after the projector
    /// has written it.
    pub fn start(trading: Trading, batches: mpsc::UnboundedReceiver<Arc<EventBatch>>) -> Feed {
        let feed = Feed {
            trading,
            state: Arc::new(Mutex::new(State::default())),
        };
        tokio::spawn(feed.clone().run(batches));
        feed
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind (no invariant spans two
        // fields), so the feed carries on with it rather than going dark.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.trading.sequencer.catalog()
    }

    pub fn connect(&self) -> (u64, mpsc::Receiver<Message>) {
        self.lock().hub.connect()
    }

    pub fn disconnect(&self, id: u64) {
        self.lock().hub.disconnect(id);
    }

    /// Queues a reply for one connection (dropped with the connection if it is too slow).
    pub fn reply(&self, id: u64, message: &Message) {
        self.lock().hub.send_to(id, message);
    }

    /// Subscribes a connection to `topic`: the ack, then what the channel shows at once (the
    /// book of a depth channel, the current ticker or candle); trades start with the next one.
    pub async fn subscribe(&self, id: u64, topic: &Topic) -> Subscribed {
        let key = topic.key();
        let catalog = self.catalog();
        let Some(market) = catalog.markets.iter().find(|m| m.id == topic.market) else {
            return Subscribed::Gone;
        };
        let Some(f) = MarketFormat::resolve(&catalog, &market.spec) else {
            return Subscribed::Gone;
        };
        let outcome = {
            let mut state = self.lock();
            let outcome = state.hub.subscribe(id, &key);
            if outcome == Subscribed::New || outcome == Subscribed::Already {
                state.hub.send_to(id, &push::ack("subscribe", &key));
                let book = self.book_of(&mut state, topic.market);
                let first = match topic.channel {
                    Channel::Depth(count) => {
                        Some(push::depth(&f, &topic.channel.table(), &book.view, count))
                    }
                    Channel::DepthIncrease => Some(push::depth_increase(
                        &f,
                        "snapshot",
                        book.version,
                        book.view.timestamp_ms,
                        &book.view.bids,
                        &book.view.asks,
                    )),
                    Channel::BookTicker => Some(push::book_ticker(&f, &book.view)),
                    _ => None,
                };
                if let Some(first) = first {
                    state.hub.send_to(id, &first);
                }
            }
            outcome
        };
        if outcome == Subscribed::New || outcome == Subscribed::Already {
            let first = match topic.channel {
                Channel::Ticker => self.ticker(market, &f).await,
                Channel::Kline(step) => self.kline(market, &f, step).await,
                _ => None,
            };
            if let Some(first) = first {
                self.reply(id, &first);
            }
        }
        outcome
    }

    pub fn unsubscribe(&self, id: u64, topic: &Topic) {
        self.lock().hub.unsubscribe(id, &topic.key());
    }

    /// The market's book state, created from the sequencer's latest durable view when the
    /// feed has not seen the market yet.
    fn book_of(&self, state: &mut State, market: MarketId) -> BookState {
        let sequencer = &self.trading.sequencer;
        state
            .books
            .entry(market)
            .or_insert_with(|| BookState {
                view: sequencer.depth(market).unwrap_or_default(),
                version: 1,
            })
            .clone()
    }

    async fn ticker(&self, market: &MarketInfo, f: &MarketFormat<'_>) -> Option<Message> {
        let now_ms = crate::now_ms();
        match self.trading.ticker(market, now_ms).await {
            Ok(ticker) => Some(push::ticker(f, &ticker, now_ms)),
            Err(error) => {
                tracing::warn!(%error, "ticker for the feed");
                None
            }
        }
    }

    async fn kline(&self, market: &MarketInfo, f: &MarketFormat<'_>, step: u32) -> Option<Message> {
        let window = CandleWindow::Before {
            before_s: crate::now_ms().div_euclid(1_000),
        };
        match self
            .trading
            .candles(&market.spec.symbol, step, window, 1)
            .await
        {
            Ok(rows) => rows
                .last()
                .map(|candle| push::kline(f, &Channel::Kline(step).table(), candle)),
            Err(error) => {
                tracing::warn!(%error, "candle for the feed");
                None
            }
        }
    }

    async fn run(self, mut batches: mpsc::UnboundedReceiver<Arc<EventBatch>>) {
        let mut last_round: Option<tokio::time::Instant> = None;
        while let Some(first) = batches.recv().await {
            // Under load, rounds start at least FEED_ROUND_MS apart and what arrives meanwhile
            // joins the next one: a busy market costs each subscriber one wake-up and a few
            // frames per round instead of one per batch. After a quiet spell nothing waits.
            if let Some(at) = last_round {
                tokio::time::sleep_until(at + Duration::from_millis(FEED_ROUND_MS)).await;
            }
            last_round = Some(tokio::time::Instant::now());
            let mut run = vec![first];
            while run.len() < FEED_MERGE_BATCHES_MAX {
                match batches.try_recv() {
                    Ok(batch) => run.push(batch),
                    Err(_) => break,
                }
            }
            self.publish(&run).await;
        }
    }

    /// One round of pushes for a run of batches: each user's order events in order as they
    /// happen, then books, trades, tickers and candles per market, then each user's balances
    /// as the run left them.
    async fn publish(&self, run: &[Arc<EventBatch>]) {
        let catalog = self.catalog();
        let mut touched = BTreeSet::new();
        let mut trades: BTreeMap<MarketId, Vec<TradeView>> = BTreeMap::new();
        let mut fills: BTreeMap<u64, (u64, LastFill)> = BTreeMap::new();
        let mut balances: BTreeMap<(u64, AssetId), (i64, i64, i64)> = BTreeMap::new();
        for batch in run {
            for event in &batch.events {
                match &event.event {
                    Event::Order(order) => {
                        touched.insert(order.market);
                        let fill = fills
                            .get(&order.id.0)
                            .filter(|(seq, _)| *seq == event.seq)
                            .map(|(_, fill)| *fill);
                        self.publish_order(&catalog, order, event.seq, fill);
                    }
                    Event::Trade(trade) => {
                        touched.insert(trade.market);
                        trades.entry(trade.market).or_default().push(trade.clone());
                        let fill = LastFill {
                            trade_id: trade.id.0,
                            price_ticks: trade.price_ticks,
                            size_lots: trade.size_lots,
                            timestamp_ms: trade.timestamp_ms,
                        };
                        for order in [trade.maker_order, trade.taker_order] {
                            fills.insert(order.0, (event.seq, fill));
                        }
                    }
                    Event::Balance {
                        user,
                        asset,
                        available,
                        held,
                    } => {
                        balances.insert((user.0, *asset), (*available, *held, event.timestamp_ms));
                    }
                    _ => {}
                }
            }
        }
        for ((user, asset), (available, held, at_ms)) in balances {
            let key = PrivateTopic::Balance.key(i64::try_from(user).unwrap_or(-1));
            let mut state = self.lock();
            if !state.hub.has_subscribers(&key) {
                continue;
            }
            let Some(spec) = catalog.asset_spec(asset) else {
                continue;
            };
            let available = bulwark_types::format_units(available, spec.scale);
            let held = bulwark_types::format_units(held, spec.scale);
            let message = push::user_balance(&spec.code, &available, &held, at_ms);
            state.hub.publish(&key, &message);
        }
        for market in &touched {
            self.publish_book(&catalog, *market);
        }
        for (market_id, list) in trades {
            let Some(market) = catalog.markets.iter().find(|m| m.id == market_id) else {
                continue;
            };
            let Some(f) = MarketFormat::resolve(&catalog, &market.spec) else {
                continue;
            };
            let symbol = &market.spec.symbol;
            let topic = |channel: Channel| format!("{}:{symbol}", channel.table());
            let (want_ticker, klines) = {
                let mut state = self.lock();
                for chunk in list.chunks(TRADES_PER_PUSH_MAX) {
                    state
                        .hub
                        .publish(&topic(Channel::Trade), &push::trades(&f, chunk));
                }
                let klines: Vec<u32> = bulwark_types::candle::STEPS_MINUTES
                    .into_iter()
                    .filter(|step| state.hub.has_subscribers(&topic(Channel::Kline(*step))))
                    .collect();
                (state.hub.has_subscribers(&topic(Channel::Ticker)), klines)
            };
            if want_ticker && let Some(message) = self.ticker(market, &f).await {
                self.lock().hub.publish(&topic(Channel::Ticker), &message);
            }
            for step in klines {
                if let Some(message) = self.kline(market, &f, step).await {
                    self.lock()
                        .hub
                        .publish(&topic(Channel::Kline(step)), &message);
                }
            }
        }
    }

    /// Pushes one order event to its owner's order subscriptions (this market's and all).
    fn publish_order(
        &self,
        catalog: &Catalog,
        order: &bulwark_engine::OrderView,
        seq: u64,
        fill: Option<LastFill>,
    ) {
        let user = i64::try_from(order.user.0).unwrap_or(-1);
        let Some(market) = catalog.markets.iter().find(|m| m.id == order.market) else {
            return;
        };
        let keys: Vec<String> = [
            PrivateTopic::Orders(Some(market.spec.symbol.clone())),
            PrivateTopic::Orders(None),
        ]
        .iter()
        .map(|topic| topic.key(user))
        .collect();
        let mut state = self.lock();
        if !keys.iter().any(|key| state.hub.has_subscribers(key)) {
            return;
        }
        let Some(f) = MarketFormat::resolve(catalog, &market.spec) else {
            return;
        };
        let row = bulwark_projector::order_row(catalog, order, seq);
        let v4 = crate::private::order_json(catalog, &row);
        // Fees are charged in what the order receives: base for a buy, quote for a sell.
        let fee_asset = match order.side {
            bulwark_types::Side::Buy => f.base,
            bulwark_types::Side::Sell => f.quote,
        };
        let fee = bulwark_types::format_units(order.fee_paid, fee_asset.scale);
        let message = push::user_order(&f, &v4, &fee_asset.code, &fee, fill);
        for key in &keys {
            state.hub.publish(key, &message);
        }
    }

    /// Subscribes a logged-in connection to one of its user's private topics and acks it.
    pub fn subscribe_private(&self, id: u64, user_id: i64, topic: &PrivateTopic) -> Subscribed {
        let mut state = self.lock();
        let outcome = state.hub.subscribe(id, &topic.key(user_id));
        if outcome == Subscribed::New || outcome == Subscribed::Already {
            state
                .hub
                .send_to(id, &push::ack("subscribe", &topic.shown()));
        }
        outcome
    }

    pub fn unsubscribe_private(&self, id: u64, user_id: i64, topic: &PrivateTopic) {
        self.lock().hub.unsubscribe(id, &topic.key(user_id));
    }

    /// The trading service (API-key checks for the private endpoint's login).
    pub fn trading(&self) -> &Trading {
        &self.trading
    }

    /// Compares the market's latest durable book with what was last published and pushes the
    /// difference: an update with the next version, fresh full books and the best bid/ask.
    fn publish_book(&self, catalog: &Catalog, market_id: MarketId) {
        let Some(market) = catalog.markets.iter().find(|m| m.id == market_id) else {
            return;
        };
        let Some(f) = MarketFormat::resolve(catalog, &market.spec) else {
            return;
        };
        let Some(view) = self.trading.sequencer.depth(market_id) else {
            return;
        };
        let mut state = self.lock();
        let old = self.book_of(&mut state, market_id);
        if old.view.bids == view.bids && old.view.asks == view.asks {
            return;
        }
        let version = old.version + 1;
        let bids = changed_levels(&old.view.bids, &view.bids);
        let asks = changed_levels(&old.view.asks, &view.asks);
        state.books.insert(
            market_id,
            BookState {
                view: Arc::clone(&view),
                version,
            },
        );
        let symbol = &market.spec.symbol;
        let topic = |channel: Channel| format!("{}:{symbol}", channel.table());
        let key = topic(Channel::DepthIncrease);
        if state.hub.has_subscribers(&key) {
            let update =
                push::depth_increase(&f, "update", version, view.timestamp_ms, &bids, &asks);
            state.hub.publish(&key, &update);
        }
        for count in DEPTH_LEVELS {
            let key = topic(Channel::Depth(count));
            if state.hub.has_subscribers(&key) {
                let full = push::depth(&f, &Channel::Depth(count).table(), &view, count);
                state.hub.publish(&key, &full);
            }
        }
        let key = topic(Channel::BookTicker);
        let best_changed = old.view.bids.first() != view.bids.first()
            || old.view.asks.first() != view.asks.first();
        if best_changed && state.hub.has_subscribers(&key) {
            state.hub.publish(&key, &push::book_ticker(&f, &view));
        }
    }
}
