//! Landing, sign-up, verification, login (password, second factor, challenge) and logout pages.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bulwark_accounts::login::{self, LoginRequest, SecondFactorRequest, SendCodeRequest};
use bulwark_accounts::login_step::LoginStep;
use bulwark_accounts::signup::{self, SignupRequest, VerifyRequest};
use bulwark_accounts::{Error, my_account};
use serde::Deserialize;
use serde_json::Value;

use crate::caller::{Answer, Caller, Gate, issued_cookies, session_cookie};
pub use crate::form::PageForm;
pub use crate::pages::login_view;
use crate::pages::{self, Challenge, Flash, Who};
use crate::{WebState, csrf_matches, csrf_token};
use bulwark_accounts::doors::Door;

/// The logged-in account for the header, if the browser has a live session.
pub async fn who(state: &WebState, caller: &Caller) -> Option<Who> {
    who_and_me(state, caller).await.map(|(who, _)| who)
}

/// The header's account and the account document it came from, for pages that show more of
/// the account (one lookup instead of two).
pub async fn who_and_me(state: &WebState, caller: &Caller) -> Option<(Who, Answer)> {
    let token = caller.session_token()?;
    let authed = caller.authed(state).await.ok()?;
    let me = Answer::of(my_account::me(&state.v1, &authed).await, StatusCode::OK);
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

/// The header's account and the user id its pages read data for (one session lookup).
pub async fn who_and_user(state: &WebState, caller: &Caller) -> Option<(Who, i64)> {
    let (who, me) = who_and_me(state, caller).await?;
    let user_id = me.body.get("user_id").and_then(Value::as_i64)?;
    Some((who, user_id))
}

/// Whether a logged-in form carries this session's token.
/// The signed-in page user and their session as the use cases take it (staff pages pass it to
/// a service that checks the role and the TOTP session itself); `None` sends them to log in.
pub async fn who_and_authed(
    state: &WebState,
    caller: &Caller,
) -> Option<(Who, bulwark_accounts::sessions::Authed)> {
    let who = who(state, caller).await?;
    let authed = caller.authed(state).await.ok()?;
    Some((who, authed))
}

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
    my_account::current_agreement_version(&state.v1)
        .await
        .unwrap_or_default()
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
    let request = SignupRequest {
        identifier: form.identifier.clone(),
        password: form.password,
        agreement_version: form.agreement_version,
        display_name: None,
    };
    let result = match caller.admit(&state, Gate::Regional(Door::Open)) {
        Ok(()) => signup::signup(&state.v1, request).await,
        Err(refusal) => Err(refusal),
    };
    let accepted = match result {
        Ok(accepted) => accepted,
        Err(refusal) => {
            let refused = Answer::refused(refusal);
            let flash = Flash::error(refused.error_message());
            return signup_view(&state, refused.status, flash, form.identifier).await;
        }
    };
    verify_view(
        StatusCode::OK,
        Flash::notice(accepted.message),
        form.identifier,
        accepted.signup_token,
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
    let (signup_token, password) = if form.signup_token.is_empty() {
        (None, Some(form.password))
    } else {
        (Some(form.signup_token.clone()), None)
    };
    let request = VerifyRequest {
        identifier: form.identifier.clone(),
        code: form.code.trim().to_string(),
        signup_token,
        password,
    };
    let result = match caller.admit(&state, Gate::Regional(Door::Open)) {
        Ok(()) => signup::verify(&state.v1, request).await,
        Err(refusal) => Err(refusal),
    };
    if let Err(refusal) = result {
        let refused = Answer::refused(refusal);
        return verify_view(
            refused.status,
            Flash::error(refused.error_message()),
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

fn login_request(form: &LoginForm) -> LoginRequest {
    let with_pow = !form.pow_token.is_empty();
    LoginRequest {
        identifier: form.identifier.clone(),
        password: form.password.clone(),
        pow_token: with_pow.then(|| form.pow_token.clone()),
        pow_nonce: with_pow.then(|| form.pow_nonce.trim().to_string()),
    }
}

fn challenge_of(error: &Error) -> Option<Challenge> {
    let challenge = match &error.extra {
        Some(("challenge", challenge)) => challenge,
        _ => return None,
    };
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
    let request = login_request(&form);
    let result = match caller.admit(&state, Gate::Regional(Door::Login)) {
        Ok(()) => login::login(&state.v1, caller.client(), request).await,
        Err(refusal) => Err(refusal),
    };
    let step = match result {
        Ok(step) => step,
        Err(error) => {
            let challenge = challenge_of(&error);
            let refused = Answer::refused(error);
            let message = if challenge.is_some() {
                "Please complete the security check below.".to_string()
            } else {
                refused.error_message()
            };
            return login_view(
                refused.status,
                Flash::error(message),
                form.identifier,
                challenge,
            );
        }
    };
    match step {
        LoginStep::SecondFactor {
            pre_auth_token,
            methods,
            ..
        } => second_factor_view(
            StatusCode::OK,
            Flash::default(),
            pre_auth_token,
            methods.into_iter().map(str::to_string).collect(),
            None,
        ),
        LoginStep::VerificationRequired => verify_view(
            StatusCode::OK,
            Flash::notice("Verify your address first: we sent a new code if the last one expired."),
            form.identifier,
            String::new(),
        ),
        step => after_login(&state, step),
    }
}

/// The page after a login step that needs no more input here: the account once logged in, or
/// the waiting page while the owner confirms a new device.
pub fn after_login(state: &WebState, step: LoginStep) -> Response {
    match step {
        LoginStep::Done(issued) => pages::with_cookies(
            pages::see_other("/security"),
            &issued_cookies(state, &issued),
        ),
        LoginStep::ConfirmationRequired {
            reason,
            confirmation_token,
            new_device_token,
            ..
        } => crate::confirm::hold(
            state,
            reason.as_str(),
            &confirmation_token,
            new_device_token.as_deref(),
        ),
        LoginStep::ConfirmationPending { .. } => crate::confirm::hold(state, "", "", None),
        // Not produced after a password was checked; shown as a fresh login page.
        LoginStep::VerificationRequired | LoginStep::SecondFactor { .. } => {
            login_view(StatusCode::OK, Flash::default(), String::new(), None)
        }
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
    let code = Some(form.code.trim().to_string());
    let mut request = SecondFactorRequest {
        pre_auth_token: form.pre_auth_token.clone(),
        totp_code: None,
        recovery_code: None,
        email_code: None,
        sms_code: None,
    };
    match form.method.as_str() {
        "recovery_code" => request.recovery_code = code,
        "email" => request.email_code = code,
        "sms" => request.sms_code = code,
        _ => request.totp_code = code,
    }
    let result = match caller.admit(&state, Gate::Regional(Door::Login)) {
        Ok(()) => login::login_2fa(&state.v1, caller.client(), request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = match result {
        Ok(step) => return after_login(&state, step),
        Err(error) => Answer::refused(error),
    };
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
    let request = SendCodeRequest {
        pre_auth_token: form.pre_auth_token.clone(),
        method: form.method.clone(),
    };
    let result = match caller.admit(&state, Gate::Regional(Door::Login)) {
        Ok(()) => login::send_login_code(&state.v1, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::ACCEPTED);
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

/// Which sessions a logout ends.
#[derive(Clone, Copy)]
enum Ending {
    This,
    All,
}

/// Ends this session (`/logout`) or every session of the account (`/logout-all`).
async fn end_sessions(
    state: &WebState,
    caller: &Caller,
    form: CsrfForm,
    ending: Ending,
) -> Response {
    if !csrf_ok(caller, &form.csrf) {
        return (
            StatusCode::FORBIDDEN,
            "This form expired; reload the page and try again",
        )
            .into_response();
    }
    let ended = match caller.authed(state).await {
        Ok(authed) => match ending {
            Ending::This => my_account::logout(&state.v1, &authed).await,
            Ending::All => my_account::logout_all(&state.v1, &authed).await,
        },
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(ended, StatusCode::OK);
    // The cookie is cleared once the session ended; a refused logout leaves it as it was.
    let answer = if answer.is_ok() {
        answer.with_cookie(session_cookie(state, ""))
    } else {
        answer
    };
    pages::with_cookies(pages::see_other("/"), &answer.cookies)
}

pub async fn logout(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    end_sessions(&state, &caller, form, Ending::This).await
}

pub async fn logout_all(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    end_sessions(&state, &caller, form, Ending::All).await
}
