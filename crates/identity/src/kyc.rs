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

/// Largest decoded KYC image (ID document, proof of address, selfie): 5 MiB.
pub const KYC_IMAGE_BYTES_MAX: usize = 5 * 1024 * 1024;
/// Youngest age allowed to apply.
pub const KYC_MIN_AGE_YEARS: i64 = 18;
/// Longest full name kept.
pub const FULL_NAME_CHARS_MAX: usize = 100;
/// Longest ID document number.
pub const ID_NUMBER_CHARS_MAX: usize = 32;

/// Assigned ISO 3166-1 alpha-2 codes (249).
const ISO_3166_1_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG \
    BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW \
    CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL \
    GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE \
    KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM \
    MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH \
    PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS \
    ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG \
    VI VN VU WF WS YE YT ZA ZM ZW";

/// Why a KYC application field is refused; [`KycInputError::code`] is the API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KycInputError {
    #[error(
        "full_name must be 2 to 100 characters with at least one letter and no control characters"
    )]
    InvalidName,
    #[error("date_of_birth must be a real calendar date written YYYY-MM-DD")]
    InvalidDate,
    #[error("date_of_birth is in the future or before 1900")]
    ImplausibleDate,
    #[error("applicants must be at least 18 years old")]
    Underage,
    #[error("{field} must be an ISO 3166-1 alpha-2 country code such as DE or US")]
    InvalidCountry { field: &'static str },
    #[error(
        "residence_subdivision must be an ISO 3166-2 code of the residence country, such as US-NY"
    )]
    InvalidSubdivision,
    #[error("id_number must be 4 to 32 letters, digits, spaces or dashes")]
    InvalidIdNumber,
    #[error("{field} must be a PNG or JPEG image")]
    UnsupportedImage { field: &'static str },
    #[error("{field} is larger than 5 MiB")]
    ImageTooLarge { field: &'static str },
    #[error("{field} is empty")]
    EmptyImage { field: &'static str },
}

impl KycInputError {
    /// Stable API error code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidName => "invalid_full_name",
            Self::InvalidDate => "invalid_date_of_birth",
            Self::ImplausibleDate => "implausible_date_of_birth",
            Self::Underage => "underage",
            Self::InvalidCountry { .. } => "invalid_country",
            Self::InvalidSubdivision => "invalid_subdivision",
            Self::InvalidIdNumber => "invalid_id_number",
            Self::UnsupportedImage { .. } => "unsupported_image",
            Self::ImageTooLarge { .. } => "image_too_large",
            Self::EmptyImage { .. } => "empty_image",
        }
    }
}

/// A full name, trimmed, with inner whitespace runs collapsed.
pub fn normalize_full_name(input: &str) -> Result<String, KycInputError> {
    let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars = name.chars().count();
    let ok = (2..=FULL_NAME_CHARS_MAX).contains(&chars)
        && name.chars().any(char::is_alphabetic)
        && !name.chars().any(char::is_control);
    if ok {
        Ok(name)
    } else {
        Err(KycInputError::InvalidName)
    }
}

/// An ID document number: upper-cased, 4–32 of `[A-Z0-9 -]` after trimming.
pub fn normalize_id_number(input: &str) -> Result<String, KycInputError> {
    let id = input.trim().to_ascii_uppercase();
    let chars = id.chars().count();
    let ok = (4..=ID_NUMBER_CHARS_MAX).contains(&chars)
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
        && id.chars().any(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(id)
    } else {
        Err(KycInputError::InvalidIdNumber)
    }
}

/// An assigned ISO 3166-1 alpha-2 code, upper-cased.
pub fn parse_iso_country(field: &'static str, input: &str) -> Result<String, KycInputError> {
    let code = input.trim().to_ascii_uppercase();
    let assigned = code.len() == 2 && ISO_3166_1_ALPHA2.split_whitespace().any(|c| c == code);
    if assigned {
        Ok(code)
    } else {
        Err(KycInputError::InvalidCountry { field })
    }
}

/// An ISO 3166-2 subdivision of `country`: "NY" or "US-NY" (1–3 letters or digits) → "US-NY".
pub fn parse_subdivision(country: &str, input: &str) -> Result<String, KycInputError> {
    let text = input.trim().to_ascii_uppercase();
    let sub = match text.split_once('-') {
        Some((cc, sub)) if cc == country => sub.to_string(),
        Some(_) => return Err(KycInputError::InvalidSubdivision),
        None => text,
    };
    let ok = (1..=3).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(format!("{country}-{sub}"))
    } else {
        Err(KycInputError::InvalidSubdivision)
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The UTC calendar date of a Unix millisecond time (Howard Hinnant's civil-from-days).
pub fn utc_date(now_ms: i64) -> Date {
    let days = now_ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date {
        year,
        month: u32::try_from(month).unwrap_or(1),
        day: u32::try_from(day).unwrap_or(1),
    }
}

/// A date of birth written `YYYY-MM-DD`: a real date, not before 1900, not in the future, and
/// at least [`KYC_MIN_AGE_YEARS`] years before today (UTC, from `now_ms`).
pub fn parse_date_of_birth(input: &str, now_ms: i64) -> Result<Date, KycInputError> {
    let text = input.trim();
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.get(4) == Some(&b'-')
        && bytes.get(7) == Some(&b'-')
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return Err(KycInputError::InvalidDate);
    }
    let number = |range: std::ops::Range<usize>| {
        text.get(range)
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or(KycInputError::InvalidDate)
    };
    let date = Date {
        year: i64::from(number(0..4)?),
        month: number(5..7)?,
        day: number(8..10)?,
    };
    if date.day == 0 || date.day > days_in_month(date.year, date.month) {
        return Err(KycInputError::InvalidDate);
    }
    let today = utc_date(now_ms);
    if date.year < 1900 || date > today {
        return Err(KycInputError::ImplausibleDate);
    }
    let mut age = today.year - date.year;
    if (today.month, today.day) < (date.month, date.day) {
        age -= 1;
    }
    if age < KYC_MIN_AGE_YEARS {
        return Err(KycInputError::Underage);
    }
    Ok(date)
}

/// The image types accepted, by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
}

impl ImageKind {
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }
}

/// Checks a decoded image: not empty, at most [`KYC_IMAGE_BYTES_MAX`], PNG or JPEG by its first
/// bytes (whatever name or type the client claimed).
pub fn check_image(field: &'static str, bytes: &[u8]) -> Result<ImageKind, KycInputError> {
    if bytes.is_empty() {
        return Err(KycInputError::EmptyImage { field });
    }
    if bytes.len() > KYC_IMAGE_BYTES_MAX {
        return Err(KycInputError::ImageTooLarge { field });
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(ImageKind::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(ImageKind::Jpeg)
    } else {
        Err(KycInputError::UnsupportedImage { field })
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

    /// 2025-06-15T12:00:00Z.
    const NOW: i64 = 1_749_988_800_000;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0).to_string(), "1970-01-01");
        assert_eq!(utc_date(NOW).to_string(), "2025-06-15");
        assert_eq!(utc_date(951_782_400_000).to_string(), "2000-02-29");
        assert_eq!(utc_date(-86_400_000).to_string(), "1969-12-31");
    }

    #[test]
    fn birth_dates() {
        assert_eq!(
            parse_date_of_birth("1990-02-28", NOW).unwrap().to_string(),
            "1990-02-28"
        );
        // Exactly 18 today is allowed; 18 tomorrow is not.
        assert!(parse_date_of_birth("2007-06-15", NOW).is_ok());
        assert_eq!(
            parse_date_of_birth("2007-06-16", NOW),
            Err(KycInputError::Underage)
        );
        assert!(parse_date_of_birth("2000-02-29", NOW).is_ok());
        for bad in [
            "1999-02-29",
            "1990-13-01",
            "1990-00-10",
            "1990-04-31",
            "1990-1-01",
            "90-01-01",
            "1990/01/01",
            "",
            "1990-01-0a",
            "+990-01-01",
        ] {
            assert_eq!(
                parse_date_of_birth(bad, NOW),
                Err(KycInputError::InvalidDate),
                "{bad}"
            );
        }
        assert_eq!(
            parse_date_of_birth("2030-01-01", NOW),
            Err(KycInputError::ImplausibleDate)
        );
        assert_eq!(
            parse_date_of_birth("1899-12-31", NOW),
            Err(KycInputError::ImplausibleDate)
        );
    }

    #[test]
    fn names_ids_countries() {
        assert_eq!(
            normalize_full_name("  Ada   Lovelace ").unwrap(),
            "Ada Lovelace"
        );
        assert_eq!(normalize_full_name("Zoë Ångström").unwrap(), "Zoë Ångström");
        for bad in ["", "A", "1234", "Ada\u{0}x", &"a".repeat(101)] {
            assert_eq!(
                normalize_full_name(bad),
                Err(KycInputError::InvalidName),
                "{bad:?}"
            );
        }
        assert_eq!(normalize_id_number(" x1234-56 ").unwrap(), "X1234-56");
        for bad in ["abc", "ab;cd", "----", &"a".repeat(33)] {
            assert_eq!(
                normalize_id_number(bad),
                Err(KycInputError::InvalidIdNumber),
                "{bad}"
            );
        }
        assert_eq!(parse_iso_country("nationality", "de").unwrap(), "DE");
        for bad in ["XX", "DEU", "", "??", "U1"] {
            assert!(parse_iso_country("nationality", bad).is_err(), "{bad}");
        }
        assert_eq!(ISO_3166_1_ALPHA2.split_whitespace().count(), 249);
        assert_eq!(parse_subdivision("US", "ny").unwrap(), "US-NY");
        assert_eq!(parse_subdivision("US", "US-NY").unwrap(), "US-NY");
        assert!(parse_subdivision("US", "CA-ON").is_err());
        assert!(parse_subdivision("US", "ABCD").is_err());
        assert!(parse_subdivision("US", "").is_err());
    }

    #[test]
    fn images_by_magic_bytes() {
        assert_eq!(
            check_image("f", b"\x89PNG\r\n\x1a\nrest"),
            Ok(ImageKind::Png)
        );
        assert_eq!(
            check_image("f", &[0xFF, 0xD8, 0xFF, 0xE0]),
            Ok(ImageKind::Jpeg)
        );
        assert_eq!(
            check_image("f", b"GIF89a"),
            Err(KycInputError::UnsupportedImage { field: "f" })
        );
        assert_eq!(
            check_image("f", b""),
            Err(KycInputError::EmptyImage { field: "f" })
        );
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(KYC_IMAGE_BYTES_MAX + 1, 0);
        assert_eq!(
            check_image("f", &big),
            Err(KycInputError::ImageTooLarge { field: "f" })
        );
        big.truncate(KYC_IMAGE_BYTES_MAX);
        assert!(check_image("f", &big).is_ok());
        assert_eq!(ImageKind::Jpeg.content_type(), "image/jpeg");
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
