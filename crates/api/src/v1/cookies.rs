//! Reading cookies from a request, and the device cookie's name: shared by the client extractor
//! and the device and session modules, which must not import each other for it.

use axum::http::{HeaderMap, header};

/// Name of the device cookie.
pub const DEVICE_COOKIE: &str = "__Host-bulwark_device";
/// The value of cookie `name`, if the request carries it.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}
