//! KYC tiers and what they allow (issue 3, G3, G8).
//!
//! * L0 (email or phone verified): deposit and view only.
//! * L1 (identity data and ID document): trade, and withdraw up to a daily limit.
//! * L2 (proof of address and selfie): a higher daily limit.
//!
//! Limits are configuration, in USDT value per rolling 24 h, expressed in micro-USDT
//! (1 USDT = 1 000 000) so the arithmetic stays in integers. Users in a restricted region may
//! only view and withdraw, whatever their tier.

use serde::{Deserialize, Serialize};

/// Micro-USDT in one USDT.
pub const USDT_MICROS: u64 = 1_000_000;
/// Default L1 daily withdrawal limit: 2 000 USDT.
pub const DEFAULT_L1_WITHDRAW_24H_USDT_MICROS: u64 = 2_000 * USDT_MICROS;
/// Default L2 daily withdrawal limit: 100 000 USDT.
pub const DEFAULT_L2_WITHDRAW_24H_USDT_MICROS: u64 = 100_000 * USDT_MICROS;

/// A verification tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum KycTier {
    L0,
    L1,
    L2,
}

impl KycTier {
    pub const ALL: [Self; 3] = [Self::L0, Self::L1, Self::L2];

    /// Stable storage name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::L0 => "L0",
            Self::L1 => "L1",
            Self::L2 => "L2",
        }
    }

    pub fn parse(name: &str) -> Result<Self, KycError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| KycError::UnknownTier {
                name: name.to_string(),
            })
    }
}

/// Why an action is refused by the KYC policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KycError {
    #[error("unknown KYC tier {name:?}; expected L0, L1 or L2")]
    UnknownTier { name: String },
    #[error("withdrawals need identity verification (KYC level L1 or higher)")]
    WithdrawNeedsVerification,
    #[error(
        "this withdrawal exceeds your 24-hour limit: limit {limit_usdt_micros}, already used \
         {used_usdt_micros}, requested {amount_usdt_micros} (micro-USDT)"
    )]
    LimitExceeded {
        limit_usdt_micros: u64,
        used_usdt_micros: u64,
        amount_usdt_micros: u64,
    },
    #[error("withdrawal limits must be positive and the L2 limit at least the L1 limit")]
    InvalidLimits,
}

/// Daily withdrawal limits per tier (configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KycLimits {
    pub l1_withdraw_24h_usdt_micros: u64,
    pub l2_withdraw_24h_usdt_micros: u64,
}

impl Default for KycLimits {
    fn default() -> Self {
        Self {
            l1_withdraw_24h_usdt_micros: DEFAULT_L1_WITHDRAW_24H_USDT_MICROS,
            l2_withdraw_24h_usdt_micros: DEFAULT_L2_WITHDRAW_24H_USDT_MICROS,
        }
    }
}

impl KycLimits {
    /// Limits from configuration; zero or inverted limits are a configuration mistake (B10).
    pub fn new(l1_usdt_micros: u64, l2_usdt_micros: u64) -> Result<Self, KycError> {
        if l1_usdt_micros == 0 || l2_usdt_micros < l1_usdt_micros {
            return Err(KycError::InvalidLimits);
        }
        Ok(Self {
            l1_withdraw_24h_usdt_micros: l1_usdt_micros,
            l2_withdraw_24h_usdt_micros: l2_usdt_micros,
        })
    }

    /// The tier's rolling 24 h withdrawal limit (zero for L0).
    pub fn withdraw_24h_usdt_micros(&self, tier: KycTier) -> u64 {
        match tier {
            KycTier::L0 => 0,
            KycTier::L1 => self.l1_withdraw_24h_usdt_micros,
            KycTier::L2 => self.l2_withdraw_24h_usdt_micros,
        }
    }
}

/// What a user may do, as one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    pub view: bool,
    pub deposit: bool,
    pub trade: bool,
    pub withdraw: bool,
}

/// The policy table: tier × restricted region.
pub fn permissions(tier: KycTier, region_restricted: bool) -> Permissions {
    let verified = tier >= KycTier::L1;
    Permissions {
        view: true,
        deposit: !region_restricted,
        trade: verified && !region_restricted,
        withdraw: verified,
    }
}

pub fn can_trade(tier: KycTier, region_restricted: bool) -> bool {
    permissions(tier, region_restricted).trade
}

pub fn can_deposit(tier: KycTier, region_restricted: bool) -> bool {
    permissions(tier, region_restricted).deposit
}

/// Whether a withdrawal of `amount` fits the tier's limit given what was withdrawn in the last
/// 24 h (`used_24h`, including pending withdrawals). Applies to restricted-region users too.
pub fn withdraw_allowed(
    tier: KycTier,
    used_24h_usdt_micros: u64,
    amount_usdt_micros: u64,
    limits: &KycLimits,
) -> Result<(), KycError> {
    if tier == KycTier::L0 {
        return Err(KycError::WithdrawNeedsVerification);
    }
    let limit = limits.withdraw_24h_usdt_micros(tier);
    let total = used_24h_usdt_micros.checked_add(amount_usdt_micros);
    match total {
        Some(total) if total <= limit => Ok(()),
        _ => Err(KycError::LimitExceeded {
            limit_usdt_micros: limit,
            used_usdt_micros: used_24h_usdt_micros,
            amount_usdt_micros,
        }),
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

    fn p(view: bool, deposit: bool, trade: bool, withdraw: bool) -> Permissions {
        Permissions {
            view,
            deposit,
            trade,
            withdraw,
        }
    }

    #[test]
    fn l0_unrestricted() {
        assert_eq!(permissions(KycTier::L0, false), p(true, true, false, false));
    }

    #[test]
    fn l0_restricted() {
        assert_eq!(permissions(KycTier::L0, true), p(true, false, false, false));
    }

    #[test]
    fn l1_unrestricted() {
        assert_eq!(permissions(KycTier::L1, false), p(true, true, true, true));
    }

    #[test]
    fn l1_restricted() {
        assert_eq!(permissions(KycTier::L1, true), p(true, false, false, true));
    }

    #[test]
    fn l2_unrestricted() {
        assert_eq!(permissions(KycTier::L2, false), p(true, true, true, true));
    }

    #[test]
    fn l2_restricted() {
        assert_eq!(permissions(KycTier::L2, true), p(true, false, false, true));
    }

    #[test]
    fn helpers_follow_the_table() {
        for tier in KycTier::ALL {
            for restricted in [false, true] {
                let perms = permissions(tier, restricted);
                assert_eq!(can_trade(tier, restricted), perms.trade);
                assert_eq!(can_deposit(tier, restricted), perms.deposit);
            }
        }
    }

    #[test]
    fn l0_cannot_withdraw() {
        let limits = KycLimits::default();
        assert_eq!(
            withdraw_allowed(KycTier::L0, 0, 1, &limits),
            Err(KycError::WithdrawNeedsVerification)
        );
    }

    #[test]
    fn l1_limit_boundary() {
        let limits = KycLimits::new(1_000, 5_000).unwrap();
        assert_eq!(withdraw_allowed(KycTier::L1, 400, 600, &limits), Ok(()));
        assert_eq!(
            withdraw_allowed(KycTier::L1, 400, 601, &limits),
            Err(KycError::LimitExceeded {
                limit_usdt_micros: 1_000,
                used_usdt_micros: 400,
                amount_usdt_micros: 601
            })
        );
    }

    #[test]
    fn l2_limit_boundary() {
        let limits = KycLimits::new(1_000, 5_000).unwrap();
        assert_eq!(withdraw_allowed(KycTier::L2, 0, 5_000, &limits), Ok(()));
        assert!(withdraw_allowed(KycTier::L2, 1, 5_000, &limits).is_err());
        assert!(withdraw_allowed(KycTier::L2, u64::MAX, 1, &limits).is_err());
    }

    #[test]
    fn limits_are_validated() {
        assert_eq!(KycLimits::new(0, 10), Err(KycError::InvalidLimits));
        assert_eq!(KycLimits::new(10, 9), Err(KycError::InvalidLimits));
        assert!(KycLimits::new(10, 10).is_ok());
        assert_eq!(
            KycLimits::default().withdraw_24h_usdt_micros(KycTier::L1),
            2_000 * USDT_MICROS
        );
    }

    #[test]
    fn tier_names() {
        for t in KycTier::ALL {
            assert_eq!(KycTier::parse(t.as_str()).unwrap(), t);
        }
        assert_eq!(KycTier::parse("l1").unwrap(), KycTier::L1);
        assert!(KycTier::parse("L3").is_err());
    }
}
