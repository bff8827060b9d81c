//! A strict JSON body extractor: the right content type, a bounded size, UTF-8, known fields
//! only, each failure with its own error code and nothing changed.

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::V1Error;

/// Largest request body accepted by the account API.
pub const BODY_BYTES_MAX: usize = 16 * 1024;

/// A parsed JSON body.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = V1Error;

    async fn from_request(request: Request, _state: &S) -> Result<Self, V1Error> {
        read_json(request, BODY_BYTES_MAX, "").await.map(JsonBody)
    }
}

/// Reads a JSON body of at most `limit` bytes (`hint` is appended to the content-type error,
/// e.g. how to send images), with the same error codes for every route.
pub async fn read_json<T: DeserializeOwned>(
    request: Request,
    limit: usize,
    hint: &str,
) -> Result<T, V1Error> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(V1Error::http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            format!("Send the body as JSON with Content-Type: application/json{hint}"),
        ));
    }
    let bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| {
            V1Error::http(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("Request body is larger than {limit} bytes"),
            )
        })?;
    parse(&bytes)
}

/// Parses a body already read.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, V1Error> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| V1Error::bad_request("invalid_utf8", "Request body is not valid UTF-8"))?;
    serde_json::from_str(text).map_err(|error| {
        V1Error::bad_request(
            "malformed_json",
            format!("Request body is not the expected JSON: {error}"),
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        #[allow(dead_code)]
        a: String,
    }

    #[test]
    fn parse_errors_have_specific_codes() {
        assert_eq!(
            parse::<Demo>(b"\xff\xfe").unwrap_err().code(),
            "invalid_utf8"
        );
        assert_eq!(parse::<Demo>(b"{").unwrap_err().code(), "malformed_json");
        assert_eq!(
            parse::<Demo>(br#"{"a":"x","b":1}"#).unwrap_err().code(),
            "malformed_json"
        );
        assert!(parse::<Demo>(br#"{"a":"x"}"#).is_ok());
    }
}
