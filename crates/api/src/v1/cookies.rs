//! The device cookie: its name, reading cookies from a request and setting the device cookie
//! on an answer. Shared by the client extractor and the login and session handlers.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use bulwark_accounts::devices::DEVICE_COOKIE_MAX_AGE_S;

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

/// The `Set-Cookie` value of the device cookie (`Secure` behind TLS).
pub fn device_cookie(secure: bool, token: &str) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{DEVICE_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={DEVICE_COOKIE_MAX_AGE_S}{secure}"
    )
}

/// Adds the device cookie to a response.
pub fn set_device_cookie(secure: bool, response: &mut Response, token: &str) {
    if let Ok(value) = HeaderValue::from_str(&device_cookie(secure, token)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
