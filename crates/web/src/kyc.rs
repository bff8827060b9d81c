//! The KYC page (`/kyc`): status, the L1 form (identity data and an ID document upload) and the
//! L2 form (proof of address and selfie). Uploads are `multipart/form-data` (no JavaScript
//! needed), checked against the session's form token, turned into the same requests as
//! `POST /api/v1/kyc/l1|l2` (images as base64) and handed to `bulwark_accounts::kyc`, so the
//! page and the API apply the same rules.

use askama::Template;
use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_accounts::kyc::{self, L1Request, L2Request, encode_image};
use serde_json::Value;

use crate::auth::{csrf_ok, who};
use crate::caller::Caller;
use crate::pages::{self, Flash, Who};
use crate::{WebState, csrf_token};

/// Largest upload form: two 5 MiB images plus the text fields.
pub const UPLOAD_BYTES_MAX: usize = 11 * 1024 * 1024;
/// Most parts one form may have.
const PARTS_MAX: usize = 16;

#[derive(Template, Default)]
#[template(path = "kyc.html")]
pub struct KycPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub tier: String,
    pub withdraw_limit: String,
    pub l2_limit: String,
    pub restriction: String,
    pub application_state: String,
    pub application_tier: String,
    pub application_reason: String,
    pub application_submitted: String,
    pub can_l1: bool,
    pub can_l2: bool,
    pub full_name: String,
    pub date_of_birth: String,
    pub nationality: String,
    pub residence_country: String,
    pub residence_subdivision: String,
    pub id_number: String,
}

/// One part of a multipart form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

pub(crate) fn text_of(parts: &[Part], name: &str) -> String {
    parts
        .iter()
        .find(|p| p.name == name && p.filename.is_none())
        .map(|p| String::from_utf8_lossy(&p.data).trim().to_string())
        .unwrap_or_default()
}

fn file_of(parts: &[Part], name: &str) -> Vec<u8> {
    parts
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.data.clone())
        .unwrap_or_default()
}

/// Renders the page from the account's KYC status, keeping what the user typed in `typed`.
async fn view(
    state: &WebState,
    caller: &Caller,
    status: StatusCode,
    flash: Flash,
    typed: KycPage,
) -> Response {
    let (Some(who), Some(token)) = (who(state, caller).await, caller.session_token()) else {
        return pages::see_other("/login");
    };
    let answer = caller
        .signed_in(state, StatusCode::OK, async |authed| {
            kyc::status(&state.v1, &authed).await
        })
        .await;
    if !answer.is_ok() {
        return pages::see_other("/login");
    }
    let body = &answer.body;
    let text = |pointer: &str| answer.text(pointer);
    let application = body.get("application").filter(|a| !a.is_null());
    let page = KycPage {
        who: Some(who),
        notice: flash.notice,
        error: flash.error,
        csrf: csrf_token(&token),
        tier: text("/tier"),
        withdraw_limit: text("/limits/withdraw_24h_usdt"),
        l2_limit: text("/limits/l2_withdraw_24h_usdt"),
        restriction: text("/restriction"),
        application_state: application.map_or_else(String::new, |_| text("/application/state")),
        application_tier: text("/application/tier_requested"),
        application_reason: text("/application/reason"),
        application_submitted: body
            .pointer("/application/submitted_ms")
            .and_then(Value::as_i64)
            .map(pages::utc_time)
            .unwrap_or_default(),
        can_l1: body.pointer("/can_apply/l1").and_then(Value::as_bool) == Some(true),
        can_l2: body.pointer("/can_apply/l2").and_then(Value::as_bool) == Some(true),
        ..typed
    };
    pages::render(status, &page)
}

/// `GET /kyc`.
pub async fn page(State(state): State<WebState>, caller: Caller) -> Response {
    view(
        &state,
        &caller,
        StatusCode::OK,
        Flash::default(),
        KycPage::default(),
    )
    .await
}

/// Reads the upload form (axum's multipart reader, bounded by the route's body limit), or says
/// what is wrong with it.
pub(crate) async fn read_form(request: Request) -> Result<Vec<Part>, String> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|_| "The form must be sent as multipart/form-data".to_string())?;
    let mut parts = Vec::new();
    while let Some(field) = form.next_field().await.map_err(upload_error)? {
        if parts.len() >= PARTS_MAX {
            return Err(format!("The form has more than {PARTS_MAX} fields"));
        }
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(upload_error)?.to_vec();
        parts.push(Part {
            name,
            filename,
            data,
        });
    }
    Ok(parts)
}

fn upload_error(error: MultipartError) -> String {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        "The upload is too large: each file may be at most 5 MiB".to_string()
    } else {
        format!("The upload could not be read: {}", error.body_text())
    }
}

/// Which application a form files.
#[derive(Debug, Clone, Copy)]
enum Tier {
    L1,
    L2,
}

async fn submit(state: &WebState, caller: &Caller, request: Request, tier: Tier) -> Response {
    let parts = match read_form(request).await {
        Ok(parts) => parts,
        Err(message) => {
            return view(
                state,
                caller,
                StatusCode::BAD_REQUEST,
                Flash::error(message),
                KycPage::default(),
            )
            .await;
        }
    };
    if !csrf_ok(caller, &text_of(&parts, "csrf")) {
        return view(
            state,
            caller,
            StatusCode::FORBIDDEN,
            Flash::error("The form expired or came from another site; please try again"),
            KycPage::default(),
        )
        .await;
    }
    let image = |field: &str| encode_image(&file_of(&parts, field));
    let typed = KycPage {
        full_name: text_of(&parts, "full_name"),
        date_of_birth: text_of(&parts, "date_of_birth"),
        nationality: text_of(&parts, "nationality"),
        residence_country: text_of(&parts, "residence_country"),
        residence_subdivision: text_of(&parts, "residence_subdivision"),
        id_number: text_of(&parts, "id_number"),
        ..KycPage::default()
    };
    let answer = match tier {
        Tier::L1 => {
            let subdivision = text_of(&parts, "residence_subdivision");
            let request = L1Request {
                full_name: typed.full_name.clone(),
                date_of_birth: typed.date_of_birth.clone(),
                nationality: typed.nationality.clone(),
                residence_country: typed.residence_country.clone(),
                residence_subdivision: (!subdivision.is_empty()).then_some(subdivision),
                id_number: typed.id_number.clone(),
                id_document: image(kyc::document_kind::ID_DOCUMENT),
            };
            caller
                .signed_in(state, StatusCode::CREATED, async |authed| {
                    kyc::submit_l1(&state.v1, &authed, request).await
                })
                .await
        }
        Tier::L2 => {
            let request = L2Request {
                proof_of_address: image(kyc::document_kind::PROOF_OF_ADDRESS),
                selfie: image(kyc::document_kind::SELFIE),
            };
            caller
                .signed_in(state, StatusCode::CREATED, async |authed| {
                    kyc::submit_l2(&state.v1, &authed, request).await
                })
                .await
        }
    };
    if answer.is_ok() {
        return view(
            state,
            caller,
            StatusCode::OK,
            Flash::notice(
                "Thank you: your documents were received and are waiting for review. You will get an email with the decision.",
            ),
            KycPage::default(),
        )
        .await;
    }
    view(
        state,
        caller,
        answer.status,
        Flash::error(answer.error_message()),
        typed,
    )
    .await
}

/// `POST /kyc/l1` (multipart).
pub async fn submit_l1(
    State(state): State<WebState>,
    caller: Caller,
    request: Request,
) -> Response {
    submit(&state, &caller, request, Tier::L1).await
}

/// `POST /kyc/l2` (multipart).
pub async fn submit_l2(
    State(state): State<WebState>,
    caller: Caller,
    request: Request,
) -> Response {
    submit(&state, &caller, request, Tier::L2).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn upload(body: &'static [u8]) -> Request {
        Request::builder()
            .method("POST")
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(axum::body::Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn reads_text_and_file_parts() {
        let body: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"id_document\"; filename=\"a.png\"\r\n\
Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n--X\r\n--XyZ--\r\n";
        let parts = read_form(upload(body)).await.unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(text_of(&parts, "csrf"), "tok");
        assert_eq!(parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(file_of(&parts, "id_document"), b"\x89PNG\r\n\x1a\n\r\n--X");
        assert!(file_of(&parts, "missing").is_empty());
    }

    #[tokio::test]
    async fn malformed_forms_are_refused() {
        let not_multipart = Request::builder()
            .method("POST")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from("a=b"))
            .unwrap();
        assert!(
            read_form(not_multipart)
                .await
                .unwrap_err()
                .contains("multipart")
        );
        assert!(
            read_form(upload(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated"
            ))
            .await
            .is_err()
        );
        let mut many = Vec::new();
        for _ in 0..=PARTS_MAX {
            many.extend_from_slice(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n",
            );
        }
        many.extend_from_slice(b"--XyZ--\r\n");
        let many: &'static [u8] = Box::leak(many.into_boxed_slice());
        assert!(
            read_form(upload(many))
                .await
                .unwrap_err()
                .contains("more than")
        );
    }
}
