//! Facts about the caller that every use case records or checks (address, country, browser,
//! device cookie). Adapters fill it from their transport; the service never sees a request.

use std::net::IpAddr;

/// Longest user agent kept in activity rows.
pub const USER_AGENT_CHARS_MAX: usize = 256;

/// Facts about the caller recorded with every attempt.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: String,
    /// ISO 3166-1 alpha-2 country of `ip` from the operator's GeoIP file, when known.
    pub country: Option<String>,
    /// The device cookie, if the browser has one (see [`crate::devices`]).
    pub device_token: Option<String>,
}

/// A user agent as kept: at most [`USER_AGENT_CHARS_MAX`] characters.
pub fn truncate_user_agent(user_agent: &str) -> String {
    user_agent.chars().take(USER_AGENT_CHARS_MAX).collect()
}
