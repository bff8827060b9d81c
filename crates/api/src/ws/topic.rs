//! Public WebSocket topics (`channel:SYMBOL`) as BitMart names them, parsed once into a typed
//! [`Topic`] whose canonical key is what the hub files subscribers under.

use bulwark_engine::MarketId;
use bulwark_sequencer::Catalog;

/// Full-book depth channels and their level counts.
pub const DEPTH_LEVELS: [usize; 3] = [5, 20, 50];

/// A public channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Ticker,
    BookTicker,
    /// `spot/depth5|20|50`: the top levels in full on every change.
    Depth(usize),
    /// `spot/depth/increase100`: a snapshot, then changed levels with a version that grows by one.
    DepthIncrease,
    Trade,
    /// `spot/kline<interval>` with the interval in minutes.
    Kline(u32),
}

/// BitMart's kline interval names and their length in minutes.
pub const KLINE_NAMES: [(&str, u32); 13] = [
    ("1m", 1),
    ("3m", 3),
    ("5m", 5),
    ("15m", 15),
    ("30m", 30),
    ("45m", 45),
    ("1H", 60),
    ("2H", 120),
    ("3H", 180),
    ("4H", 240),
    ("1D", 1_440),
    ("1W", 10_080),
    ("1M", 43_200),
];

impl Channel {
    fn parse(name: &str) -> Option<Channel> {
        match name {
            "spot/ticker" => Some(Channel::Ticker),
            "spot/bookTicker" => Some(Channel::BookTicker),
            "spot/depth/increase100" => Some(Channel::DepthIncrease),
            "spot/trade" => Some(Channel::Trade),
            _ => {
                if let Some(levels) = name.strip_prefix("spot/depth") {
                    let levels = levels.parse::<usize>().ok()?;
                    return DEPTH_LEVELS
                        .contains(&levels)
                        .then_some(Channel::Depth(levels));
                }
                let interval = name.strip_prefix("spot/kline")?;
                KLINE_NAMES
                    .iter()
                    .find(|(n, _)| *n == interval)
                    .map(|(_, step)| Channel::Kline(*step))
            }
        }
    }

    /// The push's `table`: the channel without the symbol.
    pub fn table(self) -> String {
        match self {
            Channel::Ticker => "spot/ticker".into(),
            Channel::BookTicker => "spot/bookTicker".into(),
            Channel::Depth(levels) => format!("spot/depth{levels}"),
            Channel::DepthIncrease => "spot/depth/increase100".into(),
            Channel::Trade => "spot/trade".into(),
            Channel::Kline(step) => {
                let name = KLINE_NAMES
                    .iter()
                    .find(|(_, s)| *s == step)
                    .map_or("1m", |(n, _)| n);
                format!("spot/kline{name}")
            }
        }
    }
}

/// One subscription: a channel of one market.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic {
    pub channel: Channel,
    pub market: MarketId,
    pub symbol: String,
}

/// Why a topic was refused, each with BitMart's code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("Unrecognized topic {0:?}: expected channel:SYMBOL")]
    Malformed(String),
    #[error("Unknown channel {0:?}")]
    UnknownChannel(String),
    #[error("Symbol is invalid: {0}")]
    UnknownSymbol(String),
}

impl TopicError {
    pub fn code(&self) -> u32 {
        match self {
            TopicError::Malformed(_) | TopicError::UnknownChannel(_) => 30039,
            TopicError::UnknownSymbol(_) => 70002,
        }
    }
}

impl Topic {
    pub fn parse(text: &str, catalog: &Catalog) -> Result<Topic, TopicError> {
        let (name, symbol) = text
            .split_once(':')
            .ok_or_else(|| TopicError::Malformed(text.to_owned()))?;
        let channel =
            Channel::parse(name).ok_or_else(|| TopicError::UnknownChannel(name.to_owned()))?;
        let market = catalog
            .market(symbol)
            .ok_or_else(|| TopicError::UnknownSymbol(symbol.to_owned()))?;
        Ok(Topic {
            channel,
            market: market.id,
            symbol: market.spec.symbol.clone(),
        })
    }

    /// The canonical `channel:SYMBOL` (what acks echo and the hub files subscribers under).
    pub fn key(&self) -> String {
        format!("{}:{}", self.channel.table(), self.symbol)
    }
}

/// A private topic (the `/user` endpoint, after login). Its hub key carries the user, so one
/// user's pushes can never reach another's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivateTopic {
    /// `spot/user/order:SYMBOL`, or every market with `spot/user/orders:ALL_SYMBOLS`.
    Orders(Option<String>),
    /// `spot/user/balance:BALANCE_UPDATE`.
    Balance,
}

impl PrivateTopic {
    pub fn parse(text: &str, catalog: &Catalog) -> Result<PrivateTopic, TopicError> {
        let (name, arg) = text
            .split_once(':')
            .ok_or_else(|| TopicError::Malformed(text.to_owned()))?;
        match (name, arg) {
            ("spot/user/orders", "ALL_SYMBOLS") => Ok(PrivateTopic::Orders(None)),
            ("spot/user/order", symbol) => catalog
                .market(symbol)
                .map(|m| PrivateTopic::Orders(Some(m.spec.symbol.clone())))
                .ok_or_else(|| TopicError::UnknownSymbol(symbol.to_owned())),
            ("spot/user/balance", "BALANCE_UPDATE") => Ok(PrivateTopic::Balance),
            _ => Err(TopicError::UnknownChannel(name.to_owned())),
        }
    }

    /// The topic as the client named it (what acks echo).
    pub fn shown(&self) -> String {
        match self {
            PrivateTopic::Orders(Some(symbol)) => format!("spot/user/order:{symbol}"),
            PrivateTopic::Orders(None) => "spot/user/orders:ALL_SYMBOLS".into(),
            PrivateTopic::Balance => "spot/user/balance:BALANCE_UPDATE".into(),
        }
    }

    /// The hub key: the shown topic and the user it belongs to.
    pub fn key(&self, user_id: i64) -> String {
        format!("{}#{user_id}", self.shown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_name_round_trips_through_its_table() {
        let mut names = vec![
            "spot/ticker".to_owned(),
            "spot/bookTicker".to_owned(),
            "spot/depth/increase100".to_owned(),
            "spot/trade".to_owned(),
        ];
        names.extend(DEPTH_LEVELS.iter().map(|l| format!("spot/depth{l}")));
        names.extend(KLINE_NAMES.iter().map(|(n, _)| format!("spot/kline{n}")));
        for name in names {
            let channel = Channel::parse(&name);
            assert_eq!(channel.map(Channel::table), Some(name.clone()), "{name}");
        }
        for bad in [
            "spot/depth10",
            "spot/kline2m",
            "spot/kline1h",
            "spot/tickers",
            "",
            "spot/depth",
        ] {
            assert_eq!(Channel::parse(bad), None, "{bad}");
        }
    }
}
