//! Minting and checking API keys: the one way keys are made, used by the admin API and the
//! self-service endpoints, and the idle-expiry rule the BitMart authentication applies.

use std::net::IpAddr;

use bulwark_identity::clock::{DAY_MS, HOUR_MS};
use bulwark_store::{ApiKeyRow, NewApiKey};

use crate::crypto::MasterKey;

/// Longest memo (BitMart's limit).
pub const MEMO_CHARS_MAX: usize = 30;
/// Most entries in one key's IP allow-list.
pub const IP_ENTRIES_MAX: usize = 20;
/// Most live keys per user (self-service).
pub const KEYS_PER_USER_MAX: usize = 20;
/// A key's last use is written at most this often (keeps the signing path cheap).
pub const LAST_USED_WRITE_INTERVAL_MS: i64 = HOUR_MS;
/// Keys without an IP allow-list stop working after this long unused.
pub const IDLE_EXPIRY_MS: i64 = 90 * DAY_MS;
/// Bytes of randomness in an access key (hex-encoded).
const ACCESS_KEY_BYTES: usize = 20;
/// Bytes of randomness in a secret (hex-encoded).
const SECRET_BYTES: usize = 32;
/// Every scope a key may carry.
pub const SCOPES: [&str; 3] = ["read", "trade", "withdraw"];

/// Why a key request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("scopes must be one or more of read, trade, withdraw")]
    InvalidScopes,
    #[error("'{0}' is not an IP address or CIDR range")]
    InvalidIp(String),
    #[error("an IP allow-list has at most {IP_ENTRIES_MAX} entries")]
    TooManyIps,
    #[error("a key with the withdraw scope needs an IP allow-list")]
    IpRequired,
    #[error("memo must be 1 to 30 letters, digits, '_' or '-'")]
    InvalidMemo,
    #[error("key material: {0}")]
    Crypto(String),
}

impl KeyError {
    /// The stable error code both APIs answer with.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::InvalidScopes => "invalid_scopes",
            KeyError::InvalidIp(_) => "invalid_ip",
            KeyError::TooManyIps => "too_many_ips",
            KeyError::IpRequired => "ip_required",
            KeyError::InvalidMemo => "invalid_memo",
            KeyError::Crypto(_) => "internal_error",
        }
    }
}

/// The sorted, de-duplicated comma list of `names`.
pub fn parse_scopes<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<String, KeyError> {
    let mut names: Vec<&str> = names
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() || names.iter().any(|s| !SCOPES.contains(s)) {
        return Err(KeyError::InvalidScopes);
    }
    Ok(names.join(","))
}

/// The validated comma list of IP/CIDR entries (empty: any address).
pub fn parse_ips<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<String, KeyError> {
    let entries: Vec<&str> = entries
        .into_iter()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.len() > IP_ENTRIES_MAX {
        return Err(KeyError::TooManyIps);
    }
    if let Some(bad) = entries.iter().find(|e| parse_cidr(e).is_none()) {
        return Err(KeyError::InvalidIp((*bad).to_string()));
    }
    Ok(entries.join(","))
}

/// 1–30 of `[A-Za-z0-9_-]`.
pub fn check_memo(memo: &str) -> Result<(), KeyError> {
    let valid = !memo.is_empty()
        && memo.chars().count() <= MEMO_CHARS_MAX
        && memo
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(KeyError::InvalidMemo)
    }
}

/// The associated data binding a sealed secret to its access key.
pub fn secret_context(access_key: &str) -> String {
    format!("api_keys:secret:{access_key}")
}

/// A new key: the row to insert and the plain secret to show once.
pub struct MintedKey {
    pub row: NewApiKey,
    pub secret: String,
}

/// Makes a key from already parsed scopes and IPs: random access key and secret, the secret
/// sealed under the master key. Refuses withdraw without an allow-list.
pub fn mint(
    master_key: &MasterKey,
    user_id: i64,
    memo: &str,
    scopes: String,
    ip_allowlist: String,
    created_ms: i64,
) -> Result<MintedKey, KeyError> {
    check_memo(memo)?;
    if scopes.split(',').any(|s| s == "withdraw") && ip_allowlist.is_empty() {
        return Err(KeyError::IpRequired);
    }
    let crypto = |e: &dyn std::fmt::Display| KeyError::Crypto(e.to_string());
    let access_key =
        hex::encode(crate::crypto::random_bytes::<ACCESS_KEY_BYTES>().map_err(|e| crypto(&e))?);
    let secret =
        hex::encode(crate::crypto::random_bytes::<SECRET_BYTES>().map_err(|e| crypto(&e))?);
    let secret_ciphertext = master_key
        .seal(secret.as_bytes(), &secret_context(&access_key))
        .map_err(|e| crypto(&e))?;
    Ok(MintedKey {
        row: NewApiKey {
            user_id,
            access_key,
            secret_ciphertext,
            memo: memo.to_string(),
            scopes,
            ip_allowlist,
            created_ms,
        },
        secret,
    })
}

/// Whether a key without an IP allow-list has gone unused (since creation or last use) for
/// [`IDLE_EXPIRY_MS`].
pub fn idle_expired(row: &ApiKeyRow, now_ms: i64) -> bool {
    let last_ms = row.last_used_ms.max(row.created_ms);
    row.ip_allowlist.trim().is_empty() && now_ms.saturating_sub(last_ms) >= IDLE_EXPIRY_MS
}

/// An empty allowlist admits every address; otherwise the peer must fall in one entry
/// (`1.2.3.4`, `10.0.0.0/8`, `::1`, `fd00::/8`).
pub fn ip_allowed(allowlist: &str, ip: IpAddr) -> bool {
    let entries: Vec<&str> = allowlist
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    entries.is_empty() || entries.iter().any(|entry| cidr_contains(entry, ip))
}

/// Parses `ADDR[/PREFIX]`; `None` when malformed.
pub fn parse_cidr(entry: &str) -> Option<(IpAddr, u32)> {
    let (addr, prefix) = match entry.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (entry, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.parse::<u32>().ok().filter(|p| *p <= bits)?,
        None => bits,
    };
    Some((addr, prefix))
}

fn cidr_contains(entry: &str, ip: IpAddr) -> bool {
    let Some((network, prefix)) = parse_cidr(entry) else {
        return false;
    };
    let (network, ip, bits) = match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        (IpAddr::V4(n), IpAddr::V6(i)) => match i.to_ipv4_mapped() {
            Some(i) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
            None => return false,
        },
        (IpAddr::V6(_), IpAddr::V4(_)) => return false,
    };
    if prefix == 0 {
        return true;
    }
    let shift = bits - prefix;
    (network >> shift) == (ip >> shift)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn allowlists() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert!(ip_allowed("", v4));
        assert!(ip_allowed("10.0.0.0/8", v4));
        assert!(ip_allowed("192.168.0.1, 10.1.2.3", v4));
        assert!(!ip_allowed("10.1.2.4", v4));
        assert!(!ip_allowed("11.0.0.0/8", v4));
        assert!(!ip_allowed("garbage", v4));
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(ip_allowed("::1", "::1".parse().unwrap_or(v4)));
    }

    #[test]
    fn scopes_ips_and_memos() {
        assert_eq!(
            parse_scopes(["trade", "read", "read"]).unwrap(),
            "read,trade"
        );
        assert_eq!(parse_scopes(["admin"]), Err(KeyError::InvalidScopes));
        assert_eq!(parse_scopes([]), Err(KeyError::InvalidScopes));
        assert_eq!(
            parse_ips(["1.2.3.4", " 10.0.0.0/8"]).unwrap(),
            "1.2.3.4,10.0.0.0/8"
        );
        assert_eq!(parse_ips(["x"]), Err(KeyError::InvalidIp("x".into())));
        let many: Vec<String> = (0..21).map(|i| format!("10.0.0.{i}")).collect();
        assert_eq!(
            parse_ips(many.iter().map(String::as_str)),
            Err(KeyError::TooManyIps)
        );
        assert!(check_memo("bot_1-a").is_ok());
        assert!(check_memo("").is_err() && check_memo("a b").is_err());
        assert!(check_memo(&"a".repeat(31)).is_err());
    }

    #[test]
    fn withdraw_needs_ips_and_secrets_open() {
        let key = MasterKey::from_bytes(&[3; 32]).unwrap();
        let refused = mint(&key, 1, "m", "withdraw".into(), String::new(), 0);
        assert!(matches!(refused, Err(KeyError::IpRequired)));
        let minted = mint(&key, 1, "m", "read".into(), String::new(), 0).unwrap();
        let opened = key
            .open(
                &minted.row.secret_ciphertext,
                &secret_context(&minted.row.access_key),
            )
            .unwrap();
        assert_eq!(opened, minted.secret.as_bytes());
    }

    #[test]
    fn idle_expiry_only_without_an_allowlist() {
        let mut row = ApiKeyRow {
            id: 1,
            user_id: 1,
            access_key: "k".into(),
            secret_ciphertext: Vec::new(),
            memo: "m".into(),
            scopes: "read".into(),
            ip_allowlist: String::new(),
            created_ms: 0,
            revoked: 0,
            last_used_ms: 0,
        };
        assert!(!idle_expired(&row, IDLE_EXPIRY_MS - 1));
        assert!(idle_expired(&row, IDLE_EXPIRY_MS));
        row.last_used_ms = 10;
        assert!(!idle_expired(&row, IDLE_EXPIRY_MS));
        row.ip_allowlist = "1.2.3.4".into();
        assert!(!idle_expired(&row, 10 * IDLE_EXPIRY_MS));
    }
}
