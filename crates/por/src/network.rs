//! The networks coins travel on, named as BitMart's `/account/v1/currencies` names them, so
//! CCXT's default network per currency (BTC→BTC, ETH→ERC20, USDT→TRC20) exists.

use serde::{Deserialize, Serialize};

/// A chain family: the address format, whether memos exist and the chain adapter that serves
/// it are properties of the network, not of the coin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Network {
    /// Bitcoin; deposit addresses are native SegWit (P2WPKH, bech32 `bc1q…`).
    #[serde(rename = "BTC")]
    Btc,
    /// Ethereum and its ERC-20 tokens; addresses are EIP-55 checksummed hex.
    #[serde(rename = "ERC20")]
    Erc20,
    /// Tron and its TRC-20 tokens; addresses are base58check with the 0x41 prefix (`T…`).
    #[serde(rename = "TRC20")]
    Trc20,
}

impl Network {
    pub const ALL: [Network; 3] = [Network::Btc, Network::Erc20, Network::Trc20];

    pub fn id(self) -> &'static str {
        match self {
            Network::Btc => "BTC",
            Network::Erc20 => "ERC20",
            Network::Trc20 => "TRC20",
        }
    }

    /// Parses a network id as clients send it (case-insensitive).
    pub fn parse(id: &str) -> Option<Network> {
        Network::ALL
            .into_iter()
            .find(|n| n.id().eq_ignore_ascii_case(id))
    }

    /// None of the supported networks uses a destination memo or tag; a memo sent for one of
    /// them is refused rather than silently dropped, since the sender believes it matters.
    pub fn uses_memo(self) -> bool {
        false
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_case_insensitively() {
        for n in Network::ALL {
            assert_eq!(Network::parse(n.id()), Some(n));
            assert_eq!(Network::parse(&n.id().to_lowercase()), Some(n));
        }
        assert_eq!(Network::parse("BEP20"), None);
    }
}
