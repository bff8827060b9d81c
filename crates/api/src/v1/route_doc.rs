//! The shape of one documented route: the account routes (`openapi`) and the staff routes
//! (`admin`) both describe themselves with it, and the document is assembled from both.

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
