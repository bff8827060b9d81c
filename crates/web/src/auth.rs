//! Landing, sign-up, verification, login (password, second factor, challenge) and logout pages.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{self, Answer, Caller};
pub use crate::form::PageForm;
pub use crate::pages::login_view;
use crate::pages::{self, Challenge, Flash, Who};
use crate::{WebState, csrf_matches, csrf_token};

/// The logged-in account for the header, if the browser has a live session.
pub async fn who(state: &WebState, caller: &Caller) -> Option<Who> {
    who_and_me(state, caller).await.map(|(who, _)| who)
}

/// The header's account and the `/api/v1/me` answer it came from, for pages that show more of
/// the account (one API call instead of two).
pub async fn who_and_me(state: &WebState, caller: &Caller) -> Option<(Who, Answer)> {
    let token = caller.session_token()?;
    let me = api::call(&state.api, caller, Method::GET, "/api/v1/me", None).await;
    if !me.is_ok() {
        return None;
    }
    let name = me
        .body
        .get("email")
        .and_then(Value::as_str)
        .or_else(|| me.body.get("phone").and_then(Value::as_str))
        .unwrap_or("")
        .to_string();
    let who = Who {
        name,
        csrf: csrf_token(&token),
        staff: me.body.get("is_staff").and_then(Value::as_bool) == Some(true),
    };
    Some((who, me))
}

/// Whether a logged-in form carries this session's token.
pub fn csrf_ok(caller: &Caller, submitted: &str) -> bool {
    caller
        .session_token()
        .is_some_and(|token| csrf_matches(&token, submitted))
}

pub async fn landing(State(state): State<WebState>, caller: Caller) -> Response {
    let who = who(&state, &caller).await;
    pages::render(
        StatusCode::OK,
        &pages::Landing {
            who,
            notice: String::new(),
            error: String::new(),
        },
    )
}

async fn agreement_version(state: &WebState) -> String {
    match state.v1.store.current_agreement_version().await {
        Ok(Some(row)) => row.version,
        _ => String::new(),
    }
}

async fn signup_view(
    state: &WebState,
    status: StatusCode,
    flash: Flash,
    identifier: String,
) -> Response {
    let page = pages::Signup {
        who: None,
        notice: flash.notice,
        error: flash.error,
        identifier,
        agreement_version: agreement_version(state).await,
    };
    pages::render(status, &page)
}

pub async fn signup_page(State(state): State<WebState>) -> Response {
    signup_view(&state, StatusCode::OK, Flash::default(), String::new()).await
}

#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    agree: Option<String>,
    #[serde(default)]
    agreement_version: String,
}

pub async fn signup(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<SignupForm>,
) -> Response {
    if form.agree.is_none() {
        let flash = Flash::error("Accept the user agreement to create an account.");
        return signup_view(&state, StatusCode::BAD_REQUEST, flash, form.identifier).await;
    }
    let body = json!({"identifier": form.identifier, "password": form.password,
                      "agreement_version": form.agreement_version});
    let answer = api::call(
        &state.api,
        &caller,
        Method::POST,
        "/api/v1/signup",
        Some(body),
    )
    .await;
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        return signup_view(&state, answer.status, flash, form.identifier).await;
    }
    verify_view(
        StatusCode::OK,
        Flash::notice(answer.text("/message")),
        form.identifier,
        answer.text("/signup_token"),
    )
}

fn verify_view(
    status: StatusCode,
    flash: Flash,
    identifier: String,
    signup_token: String,
) -> Response {
    let page = pages::Verify {
        who: None,
        notice: flash.notice,
        error: flash.error,
        identifier,
        signup_token,
    };
    pages::render(status, &page)
}

pub async fn verify_page() -> Response {
    verify_view(
        StatusCode::OK,
        Flash::default(),
        String::new(),
        String::new(),
    )
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    signup_token: String,
    #[serde(default)]
    password: String,
}

pub async fn verify(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<VerifyForm>,
) -> Response {
    let mut body = json!({"identifier": form.identifier, "code": form.code.trim()});
    if let Some(object) = body.as_object_mut() {
        if form.signup_token.is_empty() {
            object.insert("password".into(), json!(form.password));
        } else {
            object.insert("signup_token".into(), json!(form.signup_token));
        }
    }
    let answer = api::call(
        &state.api,
        &caller,
        Method::POST,
        "/api/v1/verify",
        Some(body),
    )
    .await;
    if !answer.is_ok() {
        return verify_view(
            answer.status,
            Flash::error(answer.error_message()),
            form.identifier,
            form.signup_token,
        );
    }
    let flash = Flash::notice("Your address is verified. Log in to continue.");
    login_view(StatusCode::OK, flash, form.identifier, None)
}

pub async fn login_page() -> Response {
    login_view(StatusCode::OK, Flash::default(), String::new(), None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    pow_token: String,
    #[serde(default)]
    pow_nonce: String,
}

fn login_body(form: &LoginForm) -> Value {
    let mut body = json!({"identifier": form.identifier, "password": form.password});
    if !form.pow_token.is_empty()
        && let Some(object) = body.as_object_mut()
    {
        object.insert("pow_token".into(), json!(form.pow_token));
        object.insert("pow_nonce".into(), json!(form.pow_nonce.trim()));
    }
    body
}

fn challenge_of(answer: &Answer) -> Option<Challenge> {
    let challenge = answer.body.pointer("/error/challenge")?;
    Some(Challenge {
        token: challenge.get("token")?.as_str()?.to_string(),
        difficulty_bits: challenge.get("difficulty_bits")?.as_u64()?,
    })
}

pub async fn login(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<LoginForm>,
) -> Response {
    let body = login_body(&form);
    let answer = api::call(
        &state.api,
        &caller,
        Method::POST,
        "/api/v1/login",
        Some(body),
    )
    .await;
    if !answer.is_ok() {
        let challenge = challenge_of(&answer);
        let message = if challenge.is_some() {
            "Please complete the security check below.".to_string()
        } else {
            answer.error_message()
        };
        return login_view(
            answer.status,
            Flash::error(message),
            form.identifier,
            challenge,
        );
    }
    match answer.text("/step").as_str() {
        "second_factor_required" => {
            let methods = crate::json::strings(&answer.body, "methods");
            second_factor_view(
                StatusCode::OK,
                Flash::default(),
                answer.text("/pre_auth_token"),
                methods,
                None,
            )
        }
        "verification_required" => verify_view(
            StatusCode::OK,
            Flash::notice("Verify your address first: we sent a new code if the last one expired."),
            form.identifier,
            String::new(),
        ),
        "confirmation_required" => crate::confirm::hold(&answer),
        _ => pages::with_cookies(pages::see_other("/security"), &answer.cookies),
    }
}

/// The label of an email/SMS method on pages.
pub fn method_label(method: &str) -> &'static str {
    if method == "sms" { "SMS" } else { "email" }
}

fn second_factor_view(
    status: StatusCode,
    flash: Flash,
    pre_auth_token: String,
    methods: Vec<String>,
    sent: Option<&str>,
) -> Response {
    let code_methods = methods
        .iter()
        .filter(|m| *m == "email" || *m == "sms")
        .map(|m| pages::CodeMethod {
            method: m.clone(),
            label: method_label(m).into(),
            sent: sent == Some(m.as_str()),
        })
        .collect();
    let page = pages::SecondFactor {
        who: None,
        notice: flash.notice,
        error: flash.error,
        pre_auth_token,
        methods_list: methods.join(","),
        methods,
        code_methods,
    };
    pages::render(status, &page)
}

/// The offered methods carried through the second-factor forms (only known names are kept).
fn parse_methods(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|m| matches!(*m, "totp" | "email" | "sms" | "recovery_code"))
        .map(str::to_string)
        .collect()
}

#[derive(Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    pre_auth_token: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    methods: String,
    #[serde(default)]
    code: String,
}

pub async fn login_2fa(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<SecondFactorForm>,
) -> Response {
    let field = match form.method.as_str() {
        "recovery_code" => "recovery_code",
        "email" => "email_code",
        "sms" => "sms_code",
        _ => "totp_code",
    };
    let body = json!({"pre_auth_token": form.pre_auth_token, field: form.code.trim()});
    let answer = api::call(
        &state.api,
        &caller,
        Method::POST,
        "/api/v1/login/2fa",
        Some(body),
    )
    .await;
    if answer.is_ok() && answer.text("/step") == "confirmation_required" {
        return crate::confirm::hold(&answer);
    }
    if answer.is_ok() {
        return pages::with_cookies(pages::see_other("/security"), &answer.cookies);
    }
    if answer.error_code() == "invalid_token" {
        let flash = Flash::error(answer.error_message());
        return login_view(answer.status, flash, String::new(), None);
    }
    let sent = matches!(form.method.as_str(), "email" | "sms").then_some(form.method.as_str());
    second_factor_view(
        answer.status,
        Flash::error(answer.error_message()),
        form.pre_auth_token,
        parse_methods(&form.methods),
        sent,
    )
}

#[derive(Deserialize)]
pub struct SendCodeForm {
    #[serde(default)]
    pre_auth_token: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    methods: String,
}

/// `POST /login/2fa/send`: sends an email or SMS login code and shows the field for it.
pub async fn send_login_code(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<SendCodeForm>,
) -> Response {
    let body = json!({"pre_auth_token": form.pre_auth_token, "method": form.method});
    let answer = api::call(
        &state.api,
        &caller,
        Method::POST,
        "/api/v1/login/2fa/send",
        Some(body),
    )
    .await;
    if answer.error_code() == "invalid_token" {
        let flash = Flash::error(answer.error_message());
        return login_view(answer.status, flash, String::new(), None);
    }
    let flash = if answer.is_ok() {
        Flash::notice(format!(
            "We sent a code by {}. It is valid for 10 minutes.",
            method_label(&form.method)
        ))
    } else {
        Flash::error(answer.error_message())
    };
    // After "resend too soon" the earlier code still works, so the field stays.
    let sent = matches!(form.method.as_str(), "email" | "sms").then_some(form.method.as_str());
    second_factor_view(
        answer.status,
        flash,
        form.pre_auth_token,
        parse_methods(&form.methods),
        sent,
    )
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// Ends this session (`/logout`) or every session of the account (`/logout-all`).
async fn end_sessions(
    state: &WebState,
    caller: &Caller,
    form: CsrfForm,
    api_path: &str,
) -> Response {
    if !csrf_ok(caller, &form.csrf) {
        return (
            StatusCode::FORBIDDEN,
            "This form expired; reload the page and try again",
        )
            .into_response();
    }
    let answer = api::call(&state.api, caller, Method::POST, api_path, None).await;
    pages::with_cookies(pages::see_other("/"), &answer.cookies)
}

pub async fn logout(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    end_sessions(&state, &caller, form, "/api/v1/logout").await
}

pub async fn logout_all(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    end_sessions(&state, &caller, form, "/api/v1/logout-all").await
}
