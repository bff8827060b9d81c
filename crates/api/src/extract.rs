//! The one request extractor of the BitMart routes: method, raw query, headers, peer address and
//! the raw body, read with a size limit. Signatures are checked over these exact bytes, and a
//! rejection (too large, unreadable) still answers with the envelope.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use bulwark_trading::ApiKeyRow;
use serde_json::{Map, Value};

use crate::envelope::ApiError;

/// Largest request body accepted, in bytes.
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;

pub struct RawRequest {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub peer: SocketAddr,
    pub body: Bytes,
    /// The API key row a middleware already read for this request, if any.
    pub looked_up_key: Option<ApiKeyRow>,
}

/// An API key row read by a middleware in front of the handler (the per-user budget), handed on
/// in the request's extensions so authentication does not read it a second time.
#[derive(Debug, Clone)]
pub struct LookedUpKey(pub ApiKeyRow);

impl<S: Send + Sync> FromRequest<S> for RawRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let looked_up_key = parts.extensions.remove::<LookedUpKey>().map(|key| key.0);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let body = axum::body::to_bytes(body, REQUEST_BODY_BYTES_MAX)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    50000,
                    format!("Request body is larger than {REQUEST_BODY_BYTES_MAX} bytes"),
                )
            })?;
        Ok(RawRequest {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            peer,
            body,
            looked_up_key,
        })
    }
}

impl RawRequest {
    /// The JSON object of a POST body (`{}` when empty).
    pub fn json_object(&self) -> Result<Map<String, Value>, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ApiError::bad(30018, "Request body must be a JSON object")),
            Err(error) => Err(ApiError::bad(
                30018,
                format!("Request body is not valid JSON: {error}"),
            )),
        }
    }

    /// Query-string parameters, decoded.
    pub fn query_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        for pair in self
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(percent_decode(key), Value::String(percent_decode(value)));
        }
        map
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let decoded = match b {
            b'+' => Some((b' ', 1)),
            b'%' => bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .map(|v| (v, 3)),
            _ => None,
        };
        let (byte, step) = decoded.unwrap_or((b, 1));
        out.push(byte);
        i += step;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parameter as text: strings as they are, numbers in their JSON spelling (ccxt sends some
/// numeric fields as JSON numbers).
pub fn text_param(map: &Map<String, Value>, name: &str) -> Option<String> {
    match map.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An integer parameter (string or number); `Err` names the field when it is not one.
pub fn int_param(map: &Map<String, Value>, name: &str) -> Result<Option<i64>, ApiError> {
    match text_param(map, name) {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad(50021, format!("Invalid {name}: must be an integer"))),
    }
}

/// A count parameter between 1 and `max` (`default` when absent); `code` names the refusal of
/// anything else (not a number, 0, over the maximum).
pub fn count_param(
    map: &Map<String, Value>,
    name: &str,
    default: u32,
    max: u32,
    code: u32,
) -> Result<u32, ApiError> {
    let Some(text) = text_param(map, name) else {
        return Ok(default);
    };
    text.parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad(
                code,
                format!("Invalid {name}: {text}; must be between 1 and {max}"),
            )
        })
}
