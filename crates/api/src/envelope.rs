//! The BitMart response envelope `{"code","message","trace","data"}` and the one place where
//! errors become HTTP responses.
//!
//! ccxt reads `code` and `message` before the HTTP status, so every answer — unknown routes and
//! malformed bodies included — carries the envelope. Success is code 1000 with message "OK".

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

static TRACE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A request id for the `trace` field and the logs: process-unique, never reused.
pub fn next_trace() -> String {
    let n = TRACE_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-{n:x}", std::process::id())
}

/// A successful answer.
pub fn ok<T: Serialize>(data: T) -> Response {
    let body = json!({"code": 1000, "message": "OK", "trace": next_trace(), "data": data});
    (StatusCode::OK, Json(body)).into_response()
}

/// An error with its BitMart code, a message naming what was wrong, and the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u32,
    pub message: String,
    pub status: StatusCode,
}

impl ApiError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            status,
        }
    }

    /// A validation or business error (HTTP 400).
    pub fn bad(code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// An authentication error (HTTP 401).
    pub fn auth(code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// A permission error (HTTP 403).
    pub fn forbidden(code: u32, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    /// An internal failure. The detail goes to the log, never to the client.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            59002,
            "Internal error, try again later",
        )
    }

    /// The engine queue is full or stopped.
    pub fn busy(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, 30014, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body: Value =
            json!({"code": self.code, "message": self.message, "trace": next_trace()});
        (self.status, Json(body)).into_response()
    }
}

/// Answer for routes that do not exist.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, 30000, "Not found")
}

pub type ApiResult = Result<Response, ApiError>;
