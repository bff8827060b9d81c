//! Restricted regions and the client address they are judged on (G9).
//!
//! The client IP is the peer address, unless the peer is a configured trusted proxy: then
//! `X-Forwarded-For` is read from the right, skipping trusted proxies, and the first untrusted
//! address is the client. Headers from untrusted peers are ignored, so a client cannot claim to
//! be somewhere else by sending its own `X-Forwarded-For`.
//!
//! Restrictions are country codes ("US") or ISO 3166-2 subdivisions ("US-NY"). IP geolocation
//! only yields countries, so a subdivision rule applies through the KYC residence.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use crate::geoip::{CountryCode, country_str, parse_country};

/// Why a region or proxy setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("{input:?} is not a region code: use a country (\"US\") or a subdivision (\"US-NY\")")]
    InvalidRegion { input: String },
    #[error("{input:?} is not an address or CIDR range such as 10.0.0.0/8 or 2001:db8::/32")]
    InvalidCidr { input: String },
}

/// An address range (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpCidr {
    network: IpAddr,
    prefix: u8,
}

impl IpCidr {
    pub fn parse(input: &str) -> Result<Self, RegionError> {
        let bad = || RegionError::InvalidCidr {
            input: input.to_string(),
        };
        let text = input.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses are treated as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Parse a list of trusted proxy ranges from configuration.
pub fn parse_trusted_proxies<S: AsRef<str>>(items: &[S]) -> Result<Vec<IpCidr>, RegionError> {
    items.iter().map(|s| IpCidr::parse(s.as_ref())).collect()
}

fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

/// The client address: `peer` unless it is a trusted proxy, then the right-most address in
/// `X-Forwarded-For` that is not a trusted proxy. Pass every `X-Forwarded-For` header value
/// joined with `,` in arrival order. An unparsable entry stops the walk at the last good hop.
pub fn client_ip(
    peer: IpAddr,
    x_forwarded_for: Option<&str>,
    trusted_proxies: &[IpCidr],
) -> IpAddr {
    let peer = canonical(peer);
    let trusted = |ip: IpAddr| trusted_proxies.iter().any(|c| c.contains(ip));
    if !trusted(peer) {
        return peer;
    }
    let mut candidate = peer;
    for entry in x_forwarded_for
        .unwrap_or("")
        .rsplit(',')
        .filter(|e| !e.trim().is_empty())
    {
        match parse_forwarded_entry(entry) {
            Some(ip) => {
                candidate = ip;
                if !trusted(ip) {
                    return ip;
                }
            }
            None => return candidate,
        }
    }
    candidate
}

/// Where a restriction decision came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    Allowed,
    /// The request comes from an address located in a restricted country.
    ByIp {
        country: String,
    },
    /// The user's KYC residence is restricted.
    ByResidence {
        region: String,
    },
}

impl Restriction {
    pub fn is_restricted(&self) -> bool {
        !matches!(self, Self::Allowed)
    }
}

/// The configured restricted countries and subdivisions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionPolicy {
    countries: BTreeSet<CountryCode>,
    subdivisions: BTreeSet<String>,
}

impl RegionPolicy {
    /// Build from configuration codes such as `["KP", "IR", "US-NY"]`.
    pub fn new<S: AsRef<str>>(codes: &[S]) -> Result<Self, RegionError> {
        let mut policy = Self::default();
        for raw in codes {
            let input = raw.as_ref().trim();
            let bad = || RegionError::InvalidRegion {
                input: input.to_string(),
            };
            match input.split_once('-') {
                None => {
                    policy
                        .countries
                        .insert(parse_country(input).ok_or_else(bad)?);
                }
                Some((cc, sub)) => {
                    let cc = parse_country(cc).ok_or_else(bad)?;
                    let valid_sub = (1..=3).contains(&sub.len())
                        && sub.bytes().all(|b| b.is_ascii_alphanumeric());
                    if !valid_sub {
                        return Err(bad());
                    }
                    policy.subdivisions.insert(format!(
                        "{}-{}",
                        country_str(&cc),
                        sub.to_ascii_uppercase()
                    ));
                }
            }
        }
        Ok(policy)
    }

    pub fn is_country_restricted(&self, country: CountryCode) -> bool {
        self.countries.contains(&country)
    }

    /// A country, or a subdivision ("US-NY") whose country or itself is listed.
    pub fn is_region_restricted(&self, country: CountryCode, subdivision: Option<&str>) -> bool {
        if self.is_country_restricted(country) {
            return true;
        }
        subdivision.is_some_and(|sub| {
            let sub = sub.trim().to_ascii_uppercase();
            let full = if sub.contains('-') {
                sub
            } else {
                format!("{}-{sub}", country_str(&country))
            };
            self.subdivisions.contains(&full)
        })
    }

    /// Combine the IP's country with the KYC residence (when known).
    pub fn check(
        &self,
        ip_country: Option<CountryCode>,
        residence_country: Option<CountryCode>,
        residence_subdivision: Option<&str>,
    ) -> Restriction {
        if let Some(cc) = ip_country
            && self.is_country_restricted(cc)
        {
            return Restriction::ByIp {
                country: country_str(&cc).to_string(),
            };
        }
        if let Some(cc) = residence_country
            && self.is_region_restricted(cc, residence_subdivision)
        {
            let region = match residence_subdivision {
                Some(sub) if !self.is_country_restricted(cc) => {
                    format!("{}-{}", country_str(&cc), sub.to_ascii_uppercase())
                }
                _ => country_str(&cc).to_string(),
            };
            return Restriction::ByResidence { region };
        }
        Restriction::Allowed
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies() -> Vec<IpCidr> {
        parse_trusted_proxies(&["10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1"]).unwrap()
    }

    #[test]
    fn cidr_membership() {
        let c = IpCidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.255.1.2")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.1.1")));
        let all = IpCidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        assert!(!all.contains(ip("2001:db8::1")));
        let v6 = IpCidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        for bad in ["10.0.0.0/33", "::/129", "nope", "10.0.0.0/x", ""] {
            assert!(IpCidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn untrusted_peer_header_is_ignored() {
        let peer = ip("203.0.113.5");
        assert_eq!(client_ip(peer, Some("1.2.3.4"), &proxies()), peer);
        assert_eq!(client_ip(peer, None, &[]), peer);
    }

    #[test]
    fn trusted_proxy_takes_rightmost_untrusted() {
        let peer = ip("10.0.0.2");
        assert_eq!(
            client_ip(peer, Some("198.51.100.9"), &proxies()),
            ip("198.51.100.9")
        );
        // The client prepended a fake address; the proxy appended the real one.
        assert_eq!(
            client_ip(peer, Some("6.6.6.6, 198.51.100.9"), &proxies()),
            ip("198.51.100.9")
        );
        // Two proxy hops.
        assert_eq!(
            client_ip(peer, Some("6.6.6.6, 198.51.100.9, 10.1.1.1"), &proxies()),
            ip("198.51.100.9")
        );
        assert_eq!(
            client_ip(peer, Some("[2001:db8::7]:443, 10.1.1.1:80"), &proxies()),
            ip("2001:db8::7")
        );
    }

    #[test]
    fn trusted_proxy_edge_cases() {
        let peer = ip("10.0.0.2");
        assert_eq!(client_ip(peer, None, &proxies()), peer);
        assert_eq!(client_ip(peer, Some(""), &proxies()), peer);
        assert_eq!(
            client_ip(peer, Some("10.1.1.1, 10.2.2.2"), &proxies()),
            ip("10.1.1.1")
        );
        assert_eq!(
            client_ip(peer, Some("198.51.100.9, garbage, 10.2.2.2"), &proxies()),
            ip("10.2.2.2")
        );
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), Some("192.0.2.1"), &proxies()),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn region_codes_parse() {
        let p = RegionPolicy::new(&["kp", "IR", "us-ny"]).unwrap();
        assert!(p.is_country_restricted(*b"KP"));
        assert!(!p.is_country_restricted(*b"US"));
        assert!(p.is_region_restricted(*b"US", Some("NY")));
        assert!(p.is_region_restricted(*b"US", Some("us-ny")));
        assert!(!p.is_region_restricted(*b"US", Some("CA")));
        assert!(!p.is_region_restricted(*b"US", None));
        for bad in ["USA", "U", "US-", "US-ABCD", "1X", "US-N Y"] {
            assert!(RegionPolicy::new(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn ip_and_residence_combine() {
        let p = RegionPolicy::new(&["KP", "US-NY"]).unwrap();
        assert_eq!(
            p.check(Some(*b"KP"), None, None),
            Restriction::ByIp {
                country: "KP".into()
            }
        );
        assert_eq!(
            p.check(Some(*b"DE"), Some(*b"KP"), None),
            Restriction::ByResidence {
                region: "KP".into()
            }
        );
        assert_eq!(
            p.check(Some(*b"US"), Some(*b"US"), Some("ny")),
            Restriction::ByResidence {
                region: "US-NY".into()
            }
        );
        assert_eq!(
            p.check(Some(*b"US"), Some(*b"US"), Some("CA")),
            Restriction::Allowed
        );
        assert_eq!(p.check(None, None, None), Restriction::Allowed);
        assert!(!Restriction::Allowed.is_restricted());
        assert!(p.check(Some(*b"KP"), None, None).is_restricted());
    }
}
