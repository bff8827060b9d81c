//! The markets overview: every market's 24-hour ticker and the hourly closes of its last day
//! (the sparkline of the markets list), from the same reads as the REST tickers and klines.

use bulwark_sequencer::MarketInfo;
use bulwark_store::StoreError;

use crate::Trading;
use crate::reads::Ticker;

/// The day a sparkline covers, in 15-minute candles.
pub const SPARKLINE_POINTS: u32 = 96;
/// Fewer 15-minute points than this (a young market) and the sparkline shows the last hour of
/// 1-minute candles instead, so a new exchange's list moves within minutes.
const SPARKLINE_POINTS_MIN: usize = 4;

/// One row of the markets list.
#[derive(Debug, Clone)]
pub struct MarketSummary {
    pub market: MarketInfo,
    pub ticker: Ticker,
    /// Closing price ticks of the last day's 15-minute candles that had trades (or of the last
    /// hour's 1-minute candles for a young market), oldest first.
    pub sparkline: Vec<i64>,
}

impl Trading {
    /// Every market's summary as of `now_ms`, in catalog order.
    pub async fn market_summaries(&self, now_ms: i64) -> Result<Vec<MarketSummary>, StoreError> {
        let catalog = self.sequencer.catalog();
        let now_s = now_ms.div_euclid(1_000);
        let day_ago = now_s - 24 * 3_600;
        let mut summaries = Vec::with_capacity(catalog.markets.len());
        for market in &catalog.markets {
            let ticker = self.ticker(market, now_ms).await?;
            let mut candles = self
                .store
                .candles_after(&market.spec.symbol, 15, day_ago, None, SPARKLINE_POINTS + 1)
                .await?;
            if candles.len() < SPARKLINE_POINTS_MIN {
                candles = self
                    .store
                    .candles_after(&market.spec.symbol, 1, now_s - 3_600, None, 61)
                    .await?;
            }
            let sparkline = candles.iter().map(|c| c.close_ticks).collect();
            summaries.push(MarketSummary {
                market: market.clone(),
                ticker,
                sparkline,
            });
        }
        Ok(summaries)
    }
}
