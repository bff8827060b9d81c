//! The shape of one documented route, and the schema helpers every module that documents
//! routes uses: the account routes (`openapi`), the staff, claims and incident routes each
//! describe themselves with these, and the document is assembled from all of them.

use serde_json::{Value, json};

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// Session cookie or bearer token required.
    pub authenticated: bool,
    /// Request body schema name under `components/schemas`, if any.
    pub request: Option<&'static str>,
    /// Error codes this operation may answer with (besides the generic ones).
    pub errors: &'static [&'static str],
}

/// A string field.
pub fn string() -> Value {
    json!({"type": "string"})
}

/// An object schema with exactly these properties.
pub fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": properties})
}
