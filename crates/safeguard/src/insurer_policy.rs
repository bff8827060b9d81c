//! The external insurer's policy as configured, and how its USDT amounts are written. Kept
//! apart from the insurer use cases so the service can hold the policy without importing them.

use serde::Deserialize;

/// The insurer's policy (`[insurer]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsurerPolicy {
    pub name: String,
    pub policy_id: String,
    /// Most the insurer covers over every submission, in USDT.
    pub limit_usdt: u64,
    /// What each claim bears itself before the insurer pays, in USDT.
    #[serde(default)]
    pub deductible_usdt: u64,
}

impl InsurerPolicy {
    /// Refuses a policy that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.policy_id.trim().is_empty() {
            return Err("[insurer] needs a name and a policy_id".into());
        }
        if self.limit_usdt == 0 {
            return Err("[insurer] limit_usdt must be positive".into());
        }
        Ok(())
    }
}

/// USDT micros as a decimal with 6 places.
pub fn usdt(micros: i64) -> String {
    bulwark_types::format_units(micros, 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_needs_a_name_a_policy_id_and_a_limit() {
        let good = InsurerPolicy {
            name: "Harbour Mutual".into(),
            policy_id: "HM-1".into(),
            limit_usdt: 1_000,
            deductible_usdt: 0,
        };
        assert_eq!(good.validate(), Ok(()));
        for bad in [
            InsurerPolicy {
                name: " ".into(),
                ..good.clone()
            },
            InsurerPolicy {
                policy_id: String::new(),
                ..good.clone()
            },
            InsurerPolicy {
                limit_usdt: 0,
                ..good.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert_eq!(usdt(1_500_000), "1.500000");
    }
}
