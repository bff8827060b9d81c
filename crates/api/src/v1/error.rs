//! The one error shape of the native API, `{"error":{"code":"snake_case","message":"..."}}`,
//! so clients branch on a stable code and people read a specific message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bulwark_accounts::{Error, Kind};
use serde_json::{Value, json};

/// An API error: the service's refusal and the HTTP status it maps to.
#[derive(Debug)]
pub struct V1Error {
    pub status: StatusCode,
    pub error: Error,
}

/// Result alias for handlers.
pub type V1Result<T> = Result<T, V1Error>;

/// The HTTP status of each kind of refusal: the one place the native API decides it.
pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::Invalid => StatusCode::BAD_REQUEST,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Gone => StatusCode::GONE,
        Kind::TooMany => StatusCode::TOO_MANY_REQUESTS,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for V1Error {
    fn from(error: Error) -> V1Error {
        V1Error {
            status: status_of(error.kind),
            error,
        }
    }
}

impl V1Error {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> V1Error {
        Error::new(kind, code, message).into()
    }

    /// A refusal of the transport itself (content type, body size, method), which no service
    /// sees.
    pub fn http(status: StatusCode, code: &'static str, message: impl Into<String>) -> V1Error {
        V1Error {
            status,
            error: Error::new(Kind::Invalid, code, message),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> V1Error {
        Error::bad_request(code, message).into()
    }

    /// Something failed on our side; details go to the log, never to the client.
    pub fn internal(what: &str, error: impl std::fmt::Display) -> V1Error {
        Error::internal(what, error).into()
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.error.code
    }

    /// Too many tries: `Retry-After` in whole seconds (at least 1).
    pub fn retry_after(self, wait_ms: i64) -> V1Error {
        V1Error {
            status: self.status,
            error: self.error.retry_after(wait_ms),
        }
    }

    pub fn with(self, key: &'static str, value: Value) -> V1Error {
        V1Error {
            status: self.status,
            error: self.error.with(key, value),
        }
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let Error {
            code,
            message,
            retry_after_s,
            extra,
            ..
        } = self.error;
        let mut error = json!({"code": code, "message": message});
        if let Some(seconds) = retry_after_s
            && let Some(object) = error.as_object_mut()
        {
            object.insert("retry_after_s".into(), json!(seconds));
        }
        if let Some((key, value)) = extra
            && let Some(object) = error.as_object_mut()
        {
            object.insert(key.into(), value);
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = retry_after_s
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// 404 for unknown paths under /api/v1.
pub async fn not_found() -> V1Error {
    V1Error::http(
        StatusCode::NOT_FOUND,
        "not_found",
        "No such endpoint under /api/v1; see /api/v1/openapi.json",
    )
}

/// 405 for a known path with the wrong method.
pub async fn method_not_allowed() -> V1Error {
    V1Error::http(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed for this path; see /api/v1/openapi.json",
    )
}
