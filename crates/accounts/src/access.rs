//! Who may do what, from where: the operator's restricted regions, the GeoIP file that places a
//! client address in a country, the trusted proxies whose `X-Forwarded-For` is believed, and the
//! KYC tier gating (L0 deposit and view only, L1 trade and withdraw up to a daily limit, L2 a
//! higher limit; users in a restricted region may only view and withdraw).
//!
//! One [`Access`] is built from configuration at start and shared by the BitMart routes and
//! `/api/v1`, so both judge a request the same way.

use std::net::IpAddr;
use std::path::Path;

use bulwark_identity::geoip::{GeoIp, GeoIpError, GeoResolver, country_str, parse_country};
use bulwark_identity::kyc::{self, KycError, KycLimits, KycTier, Permissions, USDT_MICROS};
use bulwark_identity::regions::{self, IpCidr, RegionError, RegionPolicy, Restriction};
use bulwark_store::{KycProfile, Store, StoreError};

/// BitMart-style code: the account's KYC level does not allow trading yet.
pub const CODE_KYC_REQUIRED: u32 = 30019;
/// BitMart-style code: trading is not available in the caller's region.
pub const CODE_REGION_RESTRICTED: u32 = 30020;

/// Why the access configuration was refused at start.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("restricted_regions: {0}")]
    Region(#[from] RegionError),
    #[error("geoip_file: {0}")]
    GeoIp(#[from] GeoIpError),
    #[error("kyc limits: {0}")]
    Limits(#[from] KycError),
    #[error("kyc limits: {0} USDT does not fit in micro-USDT")]
    LimitOverflow(u64),
}

/// The access rules of the running server.
#[derive(Debug)]
pub struct Access {
    geoip: GeoIp,
    regions: RegionPolicy,
    trusted_proxies: Vec<IpCidr>,
    limits: KycLimits,
}

impl Default for Access {
    /// No GeoIP, no restricted region, no trusted proxy, default limits.
    fn default() -> Access {
        Access {
            geoip: GeoIp::Disabled,
            regions: RegionPolicy::default(),
            trusted_proxies: Vec::new(),
            limits: KycLimits::default(),
        }
    }
}

/// Why trading is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeRefusal {
    /// The tier is below L1.
    KycRequired { tier: KycTier },
    /// The request's country or the user's residence is restricted.
    Region(Restriction),
}

impl TradeRefusal {
    /// The BitMart code and message.
    pub fn bitmart(&self) -> (u32, String) {
        match self {
            Self::KycRequired { tier } => (
                CODE_KYC_REQUIRED,
                format!(
                    "Trading needs identity verification (KYC level L1); this account is {}. \
                     Verify at /kyc",
                    tier.as_str()
                ),
            ),
            Self::Region(restriction) => (CODE_REGION_RESTRICTED, region_message(restriction)),
        }
    }
}

/// A human explanation of a region restriction.
pub fn region_message(restriction: &Restriction) -> String {
    match restriction {
        Restriction::ByIp { country } => format!(
            "Bulwark is not available in your region ({country}): trading, deposits, sign-up and \
             login are refused there"
        ),
        Restriction::ByResidence { region } => format!(
            "Your country of residence ({region}) is a restricted region: you may view your \
             account and withdraw, but not trade or deposit"
        ),
        Restriction::Allowed => "Allowed".to_string(),
    }
}

/// The stored tier as a [`KycTier`] (anything unexpected counts as L0).
pub fn tier_of(level: i64) -> KycTier {
    match level {
        2 => KycTier::L2,
        1 => KycTier::L1,
        _ => KycTier::L0,
    }
}

/// The stored level (0, 1, 2) of a tier name ("L0", "l1", ...).
pub fn tier_level(name: &str) -> Result<i64, KycError> {
    Ok(match KycTier::parse(name.trim())? {
        KycTier::L0 => 0,
        KycTier::L1 => 1,
        KycTier::L2 => 2,
    })
}

fn usdt_to_micros(usdt: u64) -> Result<u64, AccessError> {
    usdt.checked_mul(USDT_MICROS)
        .ok_or(AccessError::LimitOverflow(usdt))
}

impl Access {
    pub fn new(
        geoip: GeoIp,
        regions: RegionPolicy,
        trusted_proxies: Vec<IpCidr>,
        limits: KycLimits,
    ) -> Access {
        Access {
            geoip,
            regions,
            trusted_proxies,
            limits,
        }
    }

    /// From configuration: an optional GeoIP file (format detected), region codes, trusted
    /// proxy CIDRs and the daily withdrawal limits in whole USDT.
    pub fn from_config<S: AsRef<str>>(
        geoip_file: Option<&Path>,
        restricted_regions: &[S],
        trusted_proxies: &[S],
        l1_withdraw_usdt: u64,
        l2_withdraw_usdt: u64,
    ) -> Result<Access, AccessError> {
        let geoip = match geoip_file {
            Some(path) => GeoIp::open_detect(path)?,
            None => GeoIp::Disabled,
        };
        let limits = KycLimits::new(
            usdt_to_micros(l1_withdraw_usdt)?,
            usdt_to_micros(l2_withdraw_usdt)?,
        )?;
        Ok(Access {
            geoip,
            regions: RegionPolicy::new(restricted_regions)?,
            trusted_proxies: regions::parse_trusted_proxies(trusted_proxies)?,
            limits,
        })
    }

    /// The client address: the peer, or the `X-Forwarded-For` chain (every header value
    /// joined by commas, as the adapter read them) when the peer is a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let joined = forwarded_for.join(",");
        let header = (!joined.is_empty()).then_some(joined.as_str());
        regions::client_ip(peer, header, &self.trusted_proxies)
    }

    /// The country of an address, when the GeoIP file knows it.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        self.geoip.country(ip).map(|c| country_str(&c).to_string())
    }

    pub fn limits(&self) -> &KycLimits {
        &self.limits
    }

    pub fn regions(&self) -> &RegionPolicy {
        &self.regions
    }

    /// Whether requests from `country` are refused (sign-up, login, trading).
    pub fn ip_restricted(&self, country: Option<&str>) -> Option<Restriction> {
        let code = parse_country(country?)?;
        self.regions
            .is_country_restricted(code)
            .then(|| Restriction::ByIp {
                country: country_str(&code).to_string(),
            })
    }

    /// Whether a declared residence is restricted.
    pub fn residence_restricted(&self, country: &str, subdivision: Option<&str>) -> bool {
        parse_country(country).is_some_and(|code| {
            let sub = subdivision.map(|s| s.rsplit('-').next().unwrap_or(s));
            self.regions.is_region_restricted(code, sub)
        })
    }

    /// The restriction for a user seen from `ip_country` (request country first, then the
    /// declared residence).
    pub fn restriction(&self, ip_country: Option<&str>, profile: &KycProfile) -> Restriction {
        let residence = profile.residence_country.as_deref().and_then(parse_country);
        let sub = profile
            .residence_subdivision
            .as_deref()
            .map(|s| s.rsplit('-').next().unwrap_or(s));
        self.regions
            .check(ip_country.and_then(parse_country), residence, sub)
    }

    /// The permission table for a user seen from `ip_country`.
    pub fn permissions(&self, ip_country: Option<&str>, profile: &KycProfile) -> Permissions {
        let restricted = self.restriction(ip_country, profile).is_restricted();
        kyc::permissions(tier_of(profile.kyc_tier), restricted)
    }

    /// Why `profile` may not trade from `ip_country`, if it may not.
    pub fn trade_refusal(
        &self,
        ip_country: Option<&str>,
        profile: &KycProfile,
    ) -> Option<TradeRefusal> {
        let restriction = self.restriction(ip_country, profile);
        if restriction.is_restricted() {
            return Some(TradeRefusal::Region(restriction));
        }
        let tier = tier_of(profile.kyc_tier);
        (!kyc::can_trade(tier, false)).then_some(TradeRefusal::KycRequired { tier })
    }

    /// Checks a user's trade from `ip_country` against the store (unknown users are refused as
    /// L0).
    pub async fn check_trade(
        &self,
        store: &Store,
        user_id: i64,
        ip_country: Option<&str>,
    ) -> Result<Option<TradeRefusal>, StoreError> {
        let profile = store.kyc_profile(user_id).await?.unwrap_or(KycProfile {
            kyc_tier: 0,
            residence_country: None,
            residence_subdivision: None,
        });
        Ok(self.trade_refusal(ip_country, &profile))
    }

    /// The configured daily withdrawal limit of a tier, in micro-USDT.
    pub fn withdraw_limit_usdt_micros(&self, tier: KycTier) -> u64 {
        self.limits.withdraw_24h_usdt_micros(tier)
    }

    /// For the withdrawal work: whether a withdrawal worth `amount_usdt_micros`, after
    /// `used_24h_usdt_micros` in the last 24 h (pending included), fits the tier's configured
    /// limit. Restricted-region users may withdraw, so the region does not enter here.
    pub fn withdraw_allowed(
        &self,
        tier: KycTier,
        used_24h_usdt_micros: u64,
        amount_usdt_micros: u64,
    ) -> Result<(), KycError> {
        kyc::withdraw_allowed(tier, used_24h_usdt_micros, amount_usdt_micros, &self.limits)
    }

    /// [`Access::withdraw_allowed`] for a stored user (unknown users count as L0).
    pub async fn user_withdraw_allowed(
        &self,
        store: &Store,
        user_id: i64,
        used_24h_usdt_micros: u64,
        amount_usdt_micros: u64,
    ) -> Result<Result<(), KycError>, StoreError> {
        let tier = store
            .kyc_profile(user_id)
            .await?
            .map_or(KycTier::L0, |p| tier_of(p.kyc_tier));
        Ok(self.withdraw_allowed(tier, used_24h_usdt_micros, amount_usdt_micros))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn profile(tier: i64, residence: Option<&str>, sub: Option<&str>) -> KycProfile {
        KycProfile {
            kyc_tier: tier,
            residence_country: residence.map(str::to_string),
            residence_subdivision: sub.map(str::to_string),
        }
    }

    fn access(dir: &Path) -> Access {
        let file = dir.join("geoip");
        std::fs::write(
            &file,
            "# fixture\n3221226240,3221226495,KP\n3325256704,3325256959,DE\n",
        )
        .unwrap();
        Access::from_config(
            Some(&file),
            &["KP", "US-NY"],
            &["127.0.0.1", "10.0.0.0/8"],
            1_000,
            50_000,
        )
        .unwrap()
    }

    #[test]
    fn client_ip_and_country() {
        let dir = tempfile::tempdir().unwrap();
        let access = access(dir.path());
        let headers = ["6.6.6.6", "192.0.3.9"];
        let trusted: IpAddr = "127.0.0.1".parse().unwrap();
        let untrusted: IpAddr = "198.51.100.7".parse().unwrap();
        let ip = access.client_ip(trusted, &headers);
        assert_eq!(ip.to_string(), "192.0.3.9");
        assert_eq!(access.country(ip).as_deref(), Some("KP"));
        assert_eq!(access.client_ip(untrusted, &headers), untrusted);
        assert_eq!(access.country(untrusted).as_deref(), Some("DE"));
        assert_eq!(access.client_ip(trusted, &[]), trusted);
        assert!(access.ip_restricted(Some("KP")).is_some());
        assert!(access.ip_restricted(Some("DE")).is_none());
        assert!(access.ip_restricted(None).is_none());
    }

    #[test]
    fn trading_needs_l1_and_an_unrestricted_region() {
        let dir = tempfile::tempdir().unwrap();
        let access = access(dir.path());
        assert_eq!(
            access.trade_refusal(Some("DE"), &profile(0, None, None)),
            Some(TradeRefusal::KycRequired { tier: KycTier::L0 })
        );
        assert_eq!(
            access.trade_refusal(Some("DE"), &profile(1, Some("DE"), None)),
            None
        );
        assert_eq!(access.trade_refusal(None, &profile(2, None, None)), None);
        assert!(matches!(
            access.trade_refusal(Some("KP"), &profile(2, Some("DE"), None)),
            Some(TradeRefusal::Region(Restriction::ByIp { .. }))
        ));
        assert!(matches!(
            access.trade_refusal(Some("DE"), &profile(1, Some("US"), Some("US-NY"))),
            Some(TradeRefusal::Region(Restriction::ByResidence { .. }))
        ));
        assert_eq!(
            access.trade_refusal(Some("DE"), &profile(1, Some("US"), Some("US-CA"))),
            None
        );
        assert_eq!(tier_level("l2"), Ok(2));
        assert!(tier_level("L3").is_err());
        assert_eq!(tier_of(tier_level("L1").unwrap()), KycTier::L1);
        let (code, message) = TradeRefusal::KycRequired { tier: KycTier::L0 }.bitmart();
        assert_eq!(code, 30019);
        assert!(message.contains("L1"), "{message}");
        let perms = access.permissions(Some("DE"), &profile(1, Some("KP"), None));
        assert!(perms.view && perms.withdraw && !perms.trade && !perms.deposit);
        assert!(access.residence_restricted("US", Some("US-NY")));
        assert!(access.residence_restricted("kp", None));
        assert!(!access.residence_restricted("US", None));
    }

    #[test]
    fn configured_withdraw_limits() {
        let dir = tempfile::tempdir().unwrap();
        let access = access(dir.path());
        assert_eq!(
            access.withdraw_limit_usdt_micros(KycTier::L1),
            1_000 * USDT_MICROS
        );
        assert!(
            access
                .withdraw_allowed(KycTier::L1, 0, 1_000 * USDT_MICROS)
                .is_ok()
        );
        assert!(matches!(
            access.withdraw_allowed(KycTier::L1, 1, 1_000 * USDT_MICROS),
            Err(KycError::LimitExceeded { .. })
        ));
        assert!(
            access
                .withdraw_allowed(KycTier::L2, 0, 50_000 * USDT_MICROS)
                .is_ok()
        );
        assert_eq!(
            access.withdraw_allowed(KycTier::L0, 0, 1),
            Err(KycError::WithdrawNeedsVerification)
        );
        let none: &[&str] = &[];
        assert!(matches!(
            Access::from_config(None, none, none, 0, 10),
            Err(AccessError::Limits(_))
        ));
        assert!(matches!(
            Access::from_config(None, none, none, 10, 5),
            Err(AccessError::Limits(_))
        ));
        assert!(matches!(
            Access::from_config(None, none, none, u64::MAX, u64::MAX),
            Err(AccessError::LimitOverflow(_))
        ));
        assert!(Access::from_config(None, &["USA"], none, 1, 2).is_err());
        assert!(Access::from_config(None, none, &["10.0.0.0/99"], 1, 2).is_err());
        assert!(Access::from_config(Some(&dir.path().join("missing")), none, none, 1, 2).is_err());
    }

    #[tokio::test]
    async fn store_backed_checks() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let user = store.create_user("gate@example.com", 1).await.unwrap();
        let access = Access::default();
        assert_eq!(
            access.check_trade(&store, user, None).await.unwrap(),
            Some(TradeRefusal::KycRequired { tier: KycTier::L0 })
        );
        assert_eq!(
            access
                .user_withdraw_allowed(&store, user, 0, 1)
                .await
                .unwrap(),
            Err(KycError::WithdrawNeedsVerification)
        );
        store.set_kyc_tier(user, 1).await.unwrap();
        assert_eq!(access.check_trade(&store, user, None).await.unwrap(), None);
        assert_eq!(
            access
                .user_withdraw_allowed(&store, user, 0, 1)
                .await
                .unwrap(),
            Ok(())
        );
    }
}
