//! The one error shape of the native API, `{"error":{"code":"snake_case","message":"..."}}`,
//! so clients branch on a stable code and people read a specific message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API error: status, stable code, human message, and optional extra fields (a challenge).
#[derive(Debug)]
pub struct V1Error {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_s: Option<u64>,
    pub extra: Option<(&'static str, Value)>,
}

/// Result alias for handlers.
pub type V1Result<T> = Result<T, V1Error>;

impl V1Error {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> V1Error {
        V1Error {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
            extra: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> V1Error {
        V1Error::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Something failed on our side; details go to the log, never to the client.
    pub fn internal(what: &str, error: impl std::fmt::Display) -> V1Error {
        tracing::error!("api v1: {what}: {error}");
        V1Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side; try again later",
        )
    }

    /// Too many tries: `Retry-After` in whole seconds (at least 1).
    pub fn retry_after(mut self, wait_ms: i64) -> V1Error {
        let wait_ms = u64::try_from(wait_ms.max(0)).unwrap_or(0);
        self.retry_after_s = Some(wait_ms.div_ceil(1_000).max(1));
        self
    }

    pub fn with(mut self, key: &'static str, value: Value) -> V1Error {
        self.extra = Some((key, value));
        self
    }
}

impl From<bulwark_store::StoreError> for V1Error {
    fn from(error: bulwark_store::StoreError) -> V1Error {
        V1Error::internal("store", error)
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(seconds) = self.retry_after_s
            && let Some(object) = error.as_object_mut()
        {
            object.insert("retry_after_s".into(), json!(seconds));
        }
        if let Some((key, value)) = self.extra
            && let Some(object) = error.as_object_mut()
        {
            object.insert(key.into(), value);
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = self.retry_after_s
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// 404 for unknown paths under /api/v1.
pub async fn not_found() -> V1Error {
    V1Error::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "No such endpoint under /api/v1; see /api/v1/openapi.json",
    )
}

/// 405 for a known path with the wrong method.
pub async fn method_not_allowed() -> V1Error {
    V1Error::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed for this path; see /api/v1/openapi.json",
    )
}
