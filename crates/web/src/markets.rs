//! The markets list (`/markets`): every market with its last price, 24-hour change and volume
//! and a one-day sparkline; searchable and sortable with plain links and a GET form (so it
//! works without JavaScript), and refreshed in place by `trade.js`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_api::format::MarketFormat;
use bulwark_trading::markets::MarketSummary;
use serde::Deserialize;

use crate::TradeState;
use crate::auth::who;
use crate::caller::Caller;
use crate::charts;
use crate::pages::{self, Flash, Who, direction_class, signed_percent};

/// The sort orders the list offers: (parameter, column heading).
pub const SORTS: [(&str, &str); 4] = [
    ("symbol", "Market"),
    ("last", "Last price"),
    ("change", "24h change"),
    ("volume", "24h volume"),
];

pub struct MarketLine {
    pub symbol: String,
    pub base: String,
    pub quote: String,
    pub last: String,
    pub change: String,
    pub change_class: String,
    pub volume: String,
    pub sparkline: String,
    pub halted: bool,
}

#[derive(Template)]
#[template(path = "markets_table.html")]
pub struct MarketsTable {
    pub lines: Vec<MarketLine>,
    pub query: String,
    /// (parameter, heading, link of the heading, aria-sort value).
    pub headings: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "markets.html")]
pub struct MarketsPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub table_html: String,
    pub query: String,
    pub sort: String,
    pub descending: bool,
}

#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub dir: String,
}

impl ListQuery {
    /// The search text, the sort column (one of [`SORTS`], else `symbol`) and the direction.
    fn normalized(&self) -> (&str, &'static str, bool) {
        let sort = SORTS
            .iter()
            .find(|(name, _)| *name == self.sort)
            .map_or("symbol", |(name, _)| name);
        (self.q.trim(), sort, self.dir == "desc")
    }
}

/// A decimal text as a number, for ordering rows only.
fn magnitude(text: &str) -> f64 {
    text.parse::<f64>().unwrap_or(0.0)
}

/// The list of `summaries` matching `query`, in its order.
fn table(
    summaries: &[MarketSummary],
    catalog: &bulwark_sequencer::Catalog,
    query: &ListQuery,
) -> MarketsTable {
    let (q, sort, descending) = query.normalized();
    let needle = q.to_ascii_uppercase();
    let mut rows: Vec<(MarketLine, f64, i64)> = summaries
        .iter()
        .filter(|s| {
            needle.is_empty()
                || s.market.spec.symbol.replace('_', "/").contains(&needle)
                || s.market.spec.symbol.contains(&needle)
        })
        .filter_map(|s| {
            let f = MarketFormat::resolve(catalog, &s.market.spec)?;
            let t = &s.ticker;
            let line = MarketLine {
                symbol: s.market.spec.symbol.clone(),
                base: f.base.code.clone(),
                quote: f.quote.code.clone(),
                last: f.price(t.last_ticks),
                change: signed_percent(t.change_e5),
                change_class: direction_class(t.change_e5).into(),
                volume: f.quote(t.volume_quote),
                sparkline: charts::sparkline_svg(&s.sparkline),
                halted: s.market.halted,
            };
            let key = match sort {
                "last" => magnitude(&line.last),
                "volume" => magnitude(&line.volume),
                _ => 0.0,
            };
            Some((line, key, t.change_e5))
        })
        .collect();
    rows.sort_by(|a, b| {
        let order = match sort {
            "change" => a.2.cmp(&b.2),
            "last" | "volume" => a.1.total_cmp(&b.1),
            _ => a.0.symbol.cmp(&b.0.symbol),
        };
        if descending { order.reverse() } else { order }
    });
    let headings = SORTS
        .iter()
        .map(|(name, heading)| {
            let active = *name == sort;
            let next = if active && !descending { "desc" } else { "asc" };
            let aria = match (active, descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            };
            let link = format!("/markets?{}", list_query(q, name, next));
            (
                (*name).to_string(),
                (*heading).to_string(),
                link,
                aria.to_string(),
            )
        })
        .collect();
    MarketsTable {
        lines: rows.into_iter().map(|r| r.0).collect(),
        query: q.to_string(),
        headings,
    }
}

/// The query string of a list link (form-encoded, as the search form itself sends it).
fn list_query(q: &str, sort: &str, dir: &str) -> String {
    serde_urlencoded::to_string([("q", q), ("sort", sort), ("dir", dir)]).unwrap_or_default()
}

async fn table_html(state: &TradeState, query: &ListQuery) -> Result<String, String> {
    let catalog = state.trading.sequencer.catalog();
    let summaries = state
        .trading
        .market_summaries(bulwark_api::now_ms())
        .await
        .map_err(|error| {
            tracing::error!(%error, "reading the markets list");
            String::from("Market data is unavailable right now; it will be back shortly.")
        })?;
    table(&summaries, &catalog, query)
        .render()
        .map_err(|error| {
            tracing::error!(%error, "rendering the markets list");
            String::from("The list could not be drawn right now.")
        })
}

/// The page with `flash` (a trade page for an unknown market lands here with a 404).
pub async fn view(
    state: &TradeState,
    caller: &Caller,
    status: StatusCode,
    flash: Flash,
) -> Response {
    render(state, caller, status, flash, &ListQuery::default()).await
}

async fn render(
    state: &TradeState,
    caller: &Caller,
    status: StatusCode,
    mut flash: Flash,
    query: &ListQuery,
) -> Response {
    let who = who(&state.web, caller).await;
    let table_html = table_html(state, query).await.unwrap_or_else(|error| {
        flash.error = error;
        String::new()
    });
    let (q, sort, descending) = query.normalized();
    let page = MarketsPage {
        who,
        notice: flash.notice,
        error: flash.error,
        table_html,
        query: q.to_string(),
        sort: sort.to_string(),
        descending,
    };
    pages::render(status, &page)
}

/// `GET /markets?q=&sort=&dir=`.
pub async fn page(
    State(state): State<TradeState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Response {
    render(&state, &caller, StatusCode::OK, Flash::default(), &query).await
}

/// `GET /markets/table?q=&sort=&dir=`: the table alone, for the page's refresh.
pub async fn table_fragment(
    State(state): State<TradeState>,
    Query(query): Query<ListQuery>,
) -> Response {
    pages::fragment(table_html(&state, &query).await)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn search_text_is_escaped_for_links() {
        let link = list_query("a b&c\"<", "last", "desc");
        assert!(
            !link.contains(' ') && !link.contains('<') && !link.contains('"'),
            "{link}"
        );
        let back: Vec<(String, String)> = serde_urlencoded::from_str(&link).unwrap();
        assert_eq!(
            back,
            [("q", "a b&c\"<"), ("sort", "last"), ("dir", "desc")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }
}
