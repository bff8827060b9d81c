//! The KYC page (`/kyc`): status, the L1 form (identity data and an ID document upload) and the
//! L2 form (proof of address and selfie). Uploads are `multipart/form-data` (no JavaScript
//! needed), checked against the session's form token, turned into the JSON of
//! `POST /api/v1/kyc/l1|l2` (images as base64) and sent through the API router, so the page and
//! the API apply the same rules.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::api::{self, Caller};
use crate::auth::{csrf_ok, who};
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

/// Why an upload form could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    NotMultipart,
    Malformed,
    TooManyParts,
}

impl std::fmt::Display for MultipartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotMultipart => "the form must be sent as multipart/form-data with a boundary",
            Self::Malformed => "the form body is malformed",
            Self::TooManyParts => "the form has too many fields",
        })
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let rest = haystack.get(from..)?;
    if needle.is_empty() || rest.len() < needle.len() {
        return None;
    }
    rest.windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `name="value"` parameters of a header value, quotes respected.
fn header_params(value: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = value;
    while let Some(semi) = rest.find(';') {
        rest = rest.get(semi + 1..).unwrap_or("").trim_start();
        let Some(eq) = rest.find('=') else { break };
        let key = rest.get(..eq).unwrap_or("").trim().to_ascii_lowercase();
        rest = rest.get(eq + 1..).unwrap_or("");
        let (val, after) = if let Some(quoted) = rest.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (
                    quoted.get(..end).unwrap_or(""),
                    quoted.get(end + 1..).unwrap_or(""),
                ),
                None => (quoted, ""),
            }
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            (
                rest.get(..end).unwrap_or("").trim(),
                rest.get(end..).unwrap_or(""),
            )
        };
        params.push((key, val.to_string()));
        rest = after;
    }
    params
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let media = content_type.split(';').next()?.trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    header_params(content_type)
        .into_iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

/// Parses a `multipart/form-data` body (RFC 7578) into its parts.
pub fn parse_multipart(boundary: &str, body: &[u8]) -> Result<Vec<Part>, MultipartError> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let mut pos =
        find(body, delimiter.as_bytes(), 0).ok_or(MultipartError::Malformed)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let after = body.get(pos..pos + 2).ok_or(MultipartError::Malformed)?;
        if after == b"--" {
            return Ok(parts);
        }
        if after != b"\r\n" {
            return Err(MultipartError::Malformed);
        }
        if parts.len() >= PARTS_MAX {
            return Err(MultipartError::TooManyParts);
        }
        let headers_start = pos + 2;
        let headers_end =
            find(body, b"\r\n\r\n", headers_start).ok_or(MultipartError::Malformed)?;
        let headers = std::str::from_utf8(
            body.get(headers_start..headers_end)
                .ok_or(MultipartError::Malformed)?,
        )
        .map_err(|_| MultipartError::Malformed)?;
        let mut name = None;
        let mut filename = None;
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                for (k, v) in header_params(value) {
                    match k.as_str() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        }
        let data_start = headers_end + 4;
        let data_end =
            find(body, next_delimiter.as_bytes(), data_start).ok_or(MultipartError::Malformed)?;
        parts.push(Part {
            name: name.ok_or(MultipartError::Malformed)?,
            filename,
            data: body
                .get(data_start..data_end)
                .ok_or(MultipartError::Malformed)?
                .to_vec(),
        });
        pos = data_end + next_delimiter.len();
    }
}

fn text_of(parts: &[Part], name: &str) -> String {
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

/// Renders the page from `GET /api/v1/kyc`, keeping what the user typed in `typed`.
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
    let answer = api::call(&state.api, caller, Method::GET, "/api/v1/kyc", None).await;
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

/// Reads the upload form, or says what is wrong with it.
async fn read_form(request: Request) -> Result<Vec<Part>, String> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let boundary =
        boundary(&content_type).ok_or_else(|| MultipartError::NotMultipart.to_string())?;
    let bytes = axum::body::to_bytes(request.into_body(), UPLOAD_BYTES_MAX)
        .await
        .map_err(|_| "The upload is too large: each image may be at most 5 MiB".to_string())?;
    parse_multipart(&boundary, &bytes).map_err(|e| e.to_string())
}

async fn submit(
    state: &WebState,
    caller: &Caller,
    request: Request,
    api_path: &str,
    text_fields: &[&str],
    file_fields: &[&str],
) -> Response {
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
    let mut body = Map::new();
    for field in text_fields {
        let value = text_of(&parts, field);
        if *field == "residence_subdivision" && value.is_empty() {
            continue;
        }
        body.insert((*field).to_string(), json!(value));
    }
    for field in file_fields {
        let bytes = file_of(&parts, field);
        body.insert(
            (*field).to_string(),
            json!(bulwark_api::v1::kyc::encode_image(&bytes)),
        );
    }
    let typed = KycPage {
        full_name: text_of(&parts, "full_name"),
        date_of_birth: text_of(&parts, "date_of_birth"),
        nationality: text_of(&parts, "nationality"),
        residence_country: text_of(&parts, "residence_country"),
        residence_subdivision: text_of(&parts, "residence_subdivision"),
        id_number: text_of(&parts, "id_number"),
        ..KycPage::default()
    };
    let answer = api::call(
        &state.api,
        caller,
        Method::POST,
        api_path,
        Some(Value::Object(body)),
    )
    .await;
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
    submit(
        &state,
        &caller,
        request,
        "/api/v1/kyc/l1",
        &[
            "full_name",
            "date_of_birth",
            "nationality",
            "residence_country",
            "residence_subdivision",
            "id_number",
        ],
        &["id_document"],
    )
    .await
}

/// `POST /kyc/l2` (multipart).
pub async fn submit_l2(
    State(state): State<WebState>,
    caller: Caller,
    request: Request,
) -> Response {
    submit(
        &state,
        &caller,
        request,
        "/api/v1/kyc/l2",
        &[],
        &["proof_of_address", "selfie"],
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----abc").as_deref(),
            Some("----abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn parses_text_and_file_parts() {
        let body =
            b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"id_document\"; filename=\"a;b.png\"\r\n\
Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n--X\r\n--XyZ--\r\n";
        let parts = parse_multipart("XyZ", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(text_of(&parts, "csrf"), "tok");
        assert_eq!(parts[1].filename.as_deref(), Some("a;b.png"));
        assert_eq!(file_of(&parts, "id_document"), b"\x89PNG\r\n\x1a\n\r\n--X");
        assert!(file_of(&parts, "missing").is_empty());
    }

    #[test]
    fn malformed_forms_are_refused() {
        assert_eq!(
            parse_multipart("B", b"no delimiter"),
            Err(MultipartError::Malformed)
        );
        assert_eq!(
            parse_multipart(
                "B",
                b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated"
            ),
            Err(MultipartError::Malformed)
        );
        assert_eq!(
            parse_multipart("B", b"--B\r\nX: y\r\n\r\nv\r\n--B--"),
            Err(MultipartError::Malformed),
            "a part without a name"
        );
        let mut many = Vec::new();
        for _ in 0..=PARTS_MAX {
            many.extend_from_slice(
                b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n",
            );
        }
        many.extend_from_slice(b"--B--");
        assert_eq!(
            parse_multipart("B", &many),
            Err(MultipartError::TooManyParts)
        );
        assert_eq!(parse_multipart("B", b"--B--").unwrap(), vec![]);
    }
}
