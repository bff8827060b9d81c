//! Reading URL-encoded form bodies: one extractor for every page form, so an unreadable body
//! gets the same clear answer everywhere.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A form that could not be read (wrong content type, too large, not UTF-8).
pub fn bad_form(rejection: &FormRejection) -> Response {
    (
        StatusCode::BAD_REQUEST,
        format!("The form could not be read: {rejection}"),
    )
        .into_response()
}

/// A URL-encoded form body. A body that cannot be read (wrong content type, too large, not
/// UTF-8, bad fields) is answered by [`bad_form`] before the handler runs.
pub struct PageForm<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        match Form::<T>::from_request(request, state).await {
            Ok(Form(value)) => Ok(PageForm(value)),
            Err(rejection) => Err(bad_form(&rejection)),
        }
    }
}

/// A trimmed optional form field: `None` when left empty.
pub fn filled(field: &str) -> Option<String> {
    let field = field.trim();
    (!field.is_empty()).then(|| field.to_string())
}
