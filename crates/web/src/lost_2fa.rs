//! Lost second factor (`/lost-2fa`): step 1 identifier + password sends reset codes to every
//! contact on the account (`POST /api/v1/2fa/reset-request/codes`); step 2 takes those codes,
//! the password again and a note for the identity re-check and files the request
//! (`POST /api/v1/2fa/reset-request`). The emailed cancel link opens
//! `/account/2fa-reset/cancel`, which cancels only when its button is pressed; a logged-in
//! owner can cancel from the same page without the link.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_accounts::doors::Door;
use bulwark_accounts::twofa_reset::{self, CancelRequest, Canceller, CodesRequest, ResetRequest};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{PageForm, csrf_ok, who};
use crate::caller::{Answer, Caller, Gate};
use crate::pages::{self, Flash, Who};
use crate::security::expired_form;
use crate::{WebState, csrf_token};

/// Which step of the lost-2FA pages is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Identifier and password.
    Start,
    /// The codes that were sent, the password again and the KYC note.
    Codes,
    /// The request is filed.
    Filed,
}

#[derive(Template)]
#[template(path = "lost_2fa.html")]
pub struct Lost2fa {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub step: Step,
    pub identifier: String,
    /// The channels the API sent codes to, comma-separated (carried through step 2).
    pub channels: String,
    pub email_code: bool,
    pub phone_code: bool,
    pub kyc_note: String,
    /// When the filed request may take effect at the earliest (UTC).
    pub effective: String,
}

impl Lost2fa {
    fn new(step: Step, flash: Flash, identifier: String, channels: &str) -> Lost2fa {
        let has = |name: &str| channels.split(',').any(|c| c.trim() == name);
        Lost2fa {
            who: None,
            notice: flash.notice,
            error: flash.error,
            step,
            identifier,
            email_code: has("email"),
            phone_code: has("sms"),
            channels: channels.to_string(),
            kyc_note: String::new(),
            effective: String::new(),
        }
    }

    pub fn is_start(&self) -> bool {
        self.step == Step::Start
    }

    pub fn is_codes(&self) -> bool {
        self.step == Step::Codes
    }
}

pub async fn start_page() -> Response {
    let page = Lost2fa::new(Step::Start, Flash::default(), String::new(), "");
    pages::render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
}

/// Step 1: the password, then codes to the account's email and phone.
pub async fn send_codes(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<StartForm>,
) -> Response {
    let identifier = form.identifier.trim().to_string();
    let request = CodesRequest {
        identifier: identifier.clone(),
        password: form.password,
    };
    let result = match caller.admit(&state, Gate::Door(Door::Open)) {
        Ok(()) => twofa_reset::send_codes(&state.v1, caller.client(), request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::ACCEPTED);
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        let page = Lost2fa::new(Step::Start, flash, identifier, "");
        return pages::render(answer.status, &page);
    }
    let channels: Vec<&str> = answer
        .body
        .get("channels")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let sent_to = channels
        .iter()
        .map(|c| if *c == "sms" { "phone" } else { "email" })
        .collect::<Vec<_>>()
        .join(" and ");
    let flash = Flash::notice(format!(
        "We sent a 6-digit code to your {sent_to}. The codes are valid for 10 minutes."
    ));
    let page = Lost2fa::new(Step::Codes, flash, identifier, &channels.join(","));
    pages::render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    channels: String,
    #[serde(default)]
    email_code: String,
    #[serde(default)]
    phone_code: String,
    #[serde(default)]
    kyc_note: String,
}

/// The reset request of step 2 (codes only for the channels that were filled in).
fn reset_request(form: &RequestForm) -> ResetRequest {
    ResetRequest {
        identifier: form.identifier.trim().to_string(),
        password: form.password.clone(),
        email_code: crate::form::filled(&form.email_code),
        phone_code: crate::form::filled(&form.phone_code),
        kyc_note: form.kyc_note.trim().to_string(),
    }
}

/// Step 2: files the reset request.
pub async fn file_request(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<RequestForm>,
) -> Response {
    let request = reset_request(&form);
    let result = match caller.admit(&state, Gate::Door(Door::Open)) {
        Ok(()) => twofa_reset::request(&state.v1, caller.client(), request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::ACCEPTED);
    let identifier = form.identifier.trim().to_string();
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        let mut page = Lost2fa::new(Step::Codes, flash, identifier, &form.channels);
        page.kyc_note = form.kyc_note;
        return pages::render(answer.status, &page);
    }
    let mut page = Lost2fa::new(Step::Filed, Flash::default(), identifier, "");
    page.effective = answer
        .body
        .get("effective_at_ms")
        .and_then(Value::as_i64)
        .map(pages::utc_time)
        .unwrap_or_default();
    pages::render(StatusCode::ACCEPTED, &page)
}

#[derive(Template)]
#[template(path = "lost_2fa_cancel.html")]
pub struct CancelPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    /// The emailed token (empty when the owner cancels from a session).
    pub token: String,
    /// The session's form token when logged in (cancel without the link).
    pub csrf: String,
    /// The request was cancelled: no button any more.
    pub done: bool,
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

async fn cancel_view(
    state: &WebState,
    caller: &Caller,
    status: StatusCode,
    flash: Flash,
    token: String,
    done: bool,
) -> Response {
    let who = who(state, caller).await;
    let csrf = match (&who, caller.session_token()) {
        (Some(_), Some(session)) => csrf_token(&session),
        _ => String::new(),
    };
    let page = CancelPage {
        who,
        notice: flash.notice,
        error: flash.error,
        token,
        csrf,
        done,
    };
    pages::render(status, &page)
}

/// Token characters allowed (link tokens are URL-safe base64).
fn url_safe(token: &str) -> bool {
    token.len() <= 256
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The emailed link (or the security center's link): changes nothing, shows a button.
pub async fn cancel_page(
    State(state): State<WebState>,
    caller: Caller,
    query: Result<Query<CancelForm>, QueryRejection>,
) -> Response {
    let token = query.map(|Query(q)| q.token).unwrap_or_default();
    if !url_safe(&token) {
        let flash = Flash::error("This cancel link is damaged; open it from the email again.");
        return cancel_view(
            &state,
            &caller,
            StatusCode::BAD_REQUEST,
            flash,
            String::new(),
            true,
        )
        .await;
    }
    cancel_view(
        &state,
        &caller,
        StatusCode::OK,
        Flash::default(),
        token,
        false,
    )
    .await
}

/// Cancels the open reset request: with the emailed token, or from the logged-in session.
pub async fn cancel(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<CancelForm>,
) -> Response {
    let token = form.token.trim().to_string();
    if token.is_empty() && !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let result = match caller.admit(&state, Gate::Door(Door::Open)) {
        Ok(()) if token.is_empty() => match caller.authed(&state).await {
            Ok(authed) => twofa_reset::cancel(&state.v1, Canceller::Session(authed.user_id)).await,
            Err(refusal) => Err(refusal),
        },
        Ok(()) => {
            let by = Canceller::Link(CancelRequest {
                token: token.clone(),
            });
            twofa_reset::cancel(&state.v1, by).await
        }
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        return cancel_view(&state, &caller, answer.status, flash, token, false).await;
    }
    let flash = Flash::notice(
        "The 2FA reset request was cancelled; your second factor stays as it is. If you did not \
         file it, change your password now.",
    );
    cancel_view(&state, &caller, StatusCode::OK, flash, String::new(), true).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn step_two_asks_only_for_the_channels_sent() {
        let page = Lost2fa::new(
            Step::Codes,
            Flash::default(),
            "a@example.com".into(),
            "email",
        );
        let html = page.render().unwrap();
        assert!(html.contains("name=\"email_code\"") && !html.contains("name=\"phone_code\""));
        let page = Lost2fa::new(
            Step::Codes,
            Flash::default(),
            "+15550001".into(),
            "email,sms",
        );
        let html = page.render().unwrap();
        assert!(html.contains("name=\"email_code\"") && html.contains("name=\"phone_code\""));
        assert!(html.contains("value=\"email,sms\""));
    }

    #[test]
    fn reset_request_sends_filled_codes_only() {
        let form = RequestForm {
            identifier: " a@example.com ".into(),
            password: "pw".into(),
            channels: "email".into(),
            email_code: " 123456 ".into(),
            phone_code: String::new(),
            kyc_note: "passport".into(),
        };
        let request = reset_request(&form);
        assert_eq!(request.identifier, "a@example.com");
        assert_eq!(request.password, "pw");
        assert_eq!(request.email_code.as_deref(), Some("123456"));
        assert_eq!(request.phone_code, None);
        assert_eq!(request.kyc_note, "passport");
    }

    #[test]
    fn cancel_tokens_are_url_safe() {
        assert!(url_safe("abc_DEF-123") && url_safe(""));
        assert!(!url_safe("a b") && !url_safe("a\"b") && !url_safe(&"a".repeat(257)));
    }
}
