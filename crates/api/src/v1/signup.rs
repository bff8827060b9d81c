//! Sign-up and contact verification. Sign-up answers the same whether or not the identifier is
//! taken (no enumeration): a new account gets a code, an existing one a notice.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bulwark_identity::account::{DisplayName, LoginIdentifier};
use bulwark_identity::codes::{self, CODE_MAX_ATTEMPTS, Purpose};
use bulwark_identity::notify::{Message, MessageKind, Recipient};
use bulwark_identity::password::{self, PasswordContext};
use bulwark_store::{AccountRow, NewAccount, NewCode, StoreError, account_status};
use serde::{Deserialize, Serialize};

use super::body::{JsonBody, check_len};
use super::error::{V1Error, V1Result};
use super::state::V1State;

/// Longest identifier accepted (an email address's limit).
pub const IDENTIFIER_CHARS_MAX: usize = 254;
/// Longest password field read (the policy's own limit is lower and gives the message).
pub const PASSWORD_FIELD_CHARS_MAX: usize = 1_024;
/// Longest agreement version string.
pub const AGREEMENT_VERSION_CHARS_MAX: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub identifier: String,
    pub password: String,
    pub agreement_version: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SignupResponse {
    pub status: &'static str,
    pub message: &'static str,
}

const SIGNUP_ACCEPTED: SignupResponse = SignupResponse {
    status: "verification_sent",
    message: "If this address can be registered, a 6-digit verification code is on its way",
};

/// Parses and checks an identifier field.
pub fn parse_identifier(input: &str) -> V1Result<LoginIdentifier> {
    check_len("identifier", input, IDENTIFIER_CHARS_MAX)?;
    LoginIdentifier::parse(input).map_err(|error| {
        let code = match error {
            bulwark_identity::account::AccountError::PhoneFormat => "invalid_phone",
            bulwark_identity::account::AccountError::Identifier => "invalid_identifier",
            _ => "invalid_email",
        };
        V1Error::bad_request(code, error.to_string())
    })
}

/// The normalised text of an identifier (the form stored and hashed).
pub fn identifier_text(identifier: &LoginIdentifier) -> &str {
    match identifier {
        LoginIdentifier::Email(email) => email.as_str(),
        LoginIdentifier::Phone(phone) => phone.as_str(),
    }
}

/// The account an identifier names, if any.
pub async fn find_account(
    state: &V1State,
    identifier: &LoginIdentifier,
) -> Result<Option<AccountRow>, StoreError> {
    match identifier {
        LoginIdentifier::Email(email) => state.store.find_account_by_email(email.as_str()).await,
        LoginIdentifier::Phone(phone) => state.store.find_account_by_phone(phone.as_str()).await,
    }
}

pub(crate) fn recipient(identifier: &LoginIdentifier) -> Recipient {
    match identifier {
        LoginIdentifier::Email(email) => Recipient::Email(email.as_str().to_string()),
        LoginIdentifier::Phone(phone) => Recipient::Sms(phone.as_str().to_string()),
    }
}

/// Where the account's notices go: its email, else its phone.
pub fn account_recipient(account: &AccountRow) -> Option<Recipient> {
    account
        .email
        .clone()
        .map(Recipient::Email)
        .or_else(|| account.phone.clone().map(Recipient::Sms))
}

/// Sends a message to an account's contact with its anti-phishing code and a "this wasn't me"
/// freeze link (a stored, hashed single-use token); failures are logged, never shown (the
/// caller's answer must not change).
pub async fn notify(
    state: &V1State,
    user_id: i64,
    to: Recipient,
    kind: MessageKind,
    subject: &str,
    body: String,
) {
    let now_ms = state.accounts.now_ms();
    let anti_phishing_code = match state.store.get_account(user_id).await {
        Ok(account) => account.and_then(|a| a.anti_phishing_code),
        Err(_) => None,
    };
    let freeze_link = match freeze_token(state, user_id, now_ms).await {
        Ok(token) => format!("{}/account/freeze?token={token}", state.accounts.public_url),
        Err(error) => {
            tracing::warn!(
                "api v1: freeze link for {}: {}",
                kind.as_str(),
                error.message
            );
            return;
        }
    };
    let message = Message {
        to,
        kind,
        subject: subject.to_string(),
        body_text: body,
        anti_phishing_code,
        freeze_link: Some(freeze_link),
    };
    if let Err(error) = state.accounts.notifier.send(&message).await {
        tracing::warn!("api v1: sending {} failed: {error}", kind.as_str());
    }
}

async fn freeze_token(state: &V1State, user_id: i64, now_ms: i64) -> V1Result<String> {
    let issued = codes::issue_token(Purpose::FreezeAccount, now_ms)
        .map_err(|e| V1Error::internal("freeze token", e))?;
    state
        .store
        .insert_token(&bulwark_store::NewToken {
            token_hash: issued.record.token_hash.clone(),
            user_id,
            purpose: Purpose::FreezeAccount.as_str().into(),
            created_ms: now_ms,
            expires_ms: issued.record.expires_ms,
            data: None,
        })
        .await?;
    Ok(issued.token)
}

fn purpose_of(identifier: &LoginIdentifier) -> Purpose {
    match identifier {
        LoginIdentifier::Email(_) => Purpose::VerifyEmail,
        LoginIdentifier::Phone(_) => Purpose::VerifyPhone,
    }
}

fn binding(user_id: i64) -> String {
    format!("user:{user_id}")
}

/// Issues a verification code to the account's identifier and sends it, unless one was sent
/// less than a minute ago.
pub(crate) async fn send_verification(
    state: &V1State,
    user_id: i64,
    identifier: &LoginIdentifier,
) -> V1Result<()> {
    let now_ms = state.accounts.now_ms();
    let purpose = purpose_of(identifier);
    if let Some(previous) = state.store.latest_code(user_id, purpose.as_str()).await?
        && now_ms
            < previous
                .last_sent_ms
                .saturating_add(codes::CODE_RESEND_INTERVAL_MS)
    {
        return Ok(());
    }
    let issued = codes::issue(
        &state.accounts.code_key,
        purpose,
        &binding(user_id),
        None,
        now_ms,
    )
    .map_err(|e| V1Error::internal("issuing a code", e))?;
    let (channel, kind) = match identifier {
        LoginIdentifier::Email(_) => ("email", MessageKind::VerifyEmail),
        LoginIdentifier::Phone(_) => ("sms", MessageKind::VerifyPhone),
    };
    state
        .store
        .issue_code(&NewCode {
            user_id: Some(user_id),
            channel: channel.into(),
            destination: identifier_text(identifier).to_string(),
            purpose: purpose.as_str().into(),
            code_hash: issued.state.code_mac.clone(),
            created_ms: now_ms,
            expires_ms: issued.state.expires_ms,
            max_attempts: i64::from(CODE_MAX_ATTEMPTS),
        })
        .await?;
    let body = format!(
        "Your Bulwark verification code is {}\r\nIt is valid for 10 minutes. If you did not sign up, ignore this message.",
        issued.code
    );
    notify(
        state,
        user_id,
        recipient(identifier),
        kind,
        "Your Bulwark verification code",
        body,
    )
    .await;
    Ok(())
}

/// `POST /api/v1/signup`.
pub async fn signup(
    State(state): State<V1State>,
    JsonBody(request): JsonBody<SignupRequest>,
) -> V1Result<(StatusCode, Json<SignupResponse>)> {
    let identifier = parse_identifier(&request.identifier)?;
    check_len("password", &request.password, PASSWORD_FIELD_CHARS_MAX)?;
    check_len(
        "agreement_version",
        &request.agreement_version,
        AGREEMENT_VERSION_CHARS_MAX,
    )?;
    let display_name = match request.display_name.as_deref() {
        Some(name) => Some(
            DisplayName::parse(name)
                .map_err(|e| V1Error::bad_request("invalid_display_name", e.to_string()))?,
        ),
        None => None,
    };
    let (email, phone) = match &identifier {
        LoginIdentifier::Email(e) => (Some(e.as_str()), None),
        LoginIdentifier::Phone(p) => (None, Some(p.as_str())),
    };
    let context = PasswordContext {
        email,
        phone,
        display_name: display_name.as_ref().map(DisplayName::as_str),
    };
    password::check_policy(&request.password, &context)
        .map_err(|e| V1Error::bad_request("weak_password", e.to_string()))?;
    let current = state.store.current_agreement_version().await?;
    if current.as_ref().map(|c| c.version.as_str()) != Some(request.agreement_version.as_str()) {
        return Err(V1Error::bad_request(
            "agreement_not_accepted",
            format!(
                "Accept the current user agreement (version {})",
                current.map_or_else(|| "none published".to_string(), |c| c.version)
            ),
        ));
    }
    // Hash whether or not the account exists, so timing does not tell.
    let phc = state
        .accounts
        .hash_pool
        .hash(password::normalize(&request.password))
        .await
        .map_err(|e| busy_or_internal("hashing", e))?;
    let now_ms = state.accounts.now_ms();
    let created = state
        .store
        .create_account(&NewAccount {
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
            display_name: display_name.map(|d| d.as_str().to_string()),
            password_phc: Some(phc.clone()),
            status: account_status::UNVERIFIED.into(),
            agreement_version: Some(request.agreement_version.clone()),
            residence_country: None,
            created_ms: now_ms,
        })
        .await;
    match created {
        Ok(user_id) => send_verification(&state, user_id, &identifier).await?,
        Err(StoreError::Conflict(_)) => existing_signup(&state, &identifier, &phc).await?,
        Err(error) => return Err(error.into()),
    }
    Ok((StatusCode::ACCEPTED, Json(SIGNUP_ACCEPTED)))
}

/// A sign-up for a taken identifier: resend the code while unverified, else warn the owner.
///
/// The newest sign-up's password replaces the pending one, so someone who registers another
/// person's address first (pre-account takeover) does not keep a password on the account the
/// owner later verifies.
async fn existing_signup(state: &V1State, identifier: &LoginIdentifier, phc: &str) -> V1Result<()> {
    let Some(account) = find_account(state, identifier).await? else {
        return Ok(());
    };
    if account.status == account_status::UNVERIFIED {
        state.store.set_password(account.id, phc).await?;
        return send_verification(state, account.id, identifier).await;
    }
    let kind = match identifier {
        LoginIdentifier::Email(_) => MessageKind::VerifyEmail,
        LoginIdentifier::Phone(_) => MessageKind::VerifyPhone,
    };
    let body = "Someone tried to create a Bulwark account with this address, which already has one.\r\nIf it was you, log in instead (or reset your password). If not, you can ignore this message.".to_string();
    let subject = "Someone tried to sign up with your address";
    notify(
        state,
        account.id,
        recipient(identifier),
        kind,
        subject,
        body,
    )
    .await;
    Ok(())
}

/// Maps a password-pool error: busy is a 503 with a retry hint, anything else internal.
pub fn busy_or_internal(what: &str, error: password::PasswordError) -> V1Error {
    if error == password::PasswordError::Busy {
        return V1Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "The server is busy checking passwords; try again in a moment",
        )
        .retry_after(1_000);
    }
    V1Error::internal(what, error)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub identifier: String,
    pub code: String,
}

#[derive(Debug, Serialize)]
pub struct VerifyResponse {
    pub status: &'static str,
}

fn invalid_code(message: &str) -> V1Error {
    V1Error::bad_request("invalid_code", message.to_string())
}

const NO_CODE: &str =
    "This code is wrong, expired or already used; request a new one by signing up again";

/// Checks `code` against the user's live code for `purpose`, spending one attempt, and consumes
/// it when right.
async fn spend_code(
    state: &V1State,
    user_id: i64,
    purpose: Purpose,
    code: &str,
    now_ms: i64,
) -> V1Result<()> {
    let Some(row) = state
        .store
        .find_live_code(user_id, purpose.as_str(), now_ms)
        .await?
    else {
        return Err(invalid_code(NO_CODE));
    };
    // One answer for every failure, so the endpoint does not tell which identifiers exist.
    if !super::one_time::spend(state, &row, purpose, &binding(user_id), code, now_ms).await? {
        return Err(invalid_code(NO_CODE));
    }
    Ok(())
}

/// `POST /api/v1/verify`: the code sent at sign-up marks the identifier verified.
pub async fn verify(
    State(state): State<V1State>,
    JsonBody(request): JsonBody<VerifyRequest>,
) -> V1Result<Json<VerifyResponse>> {
    let identifier = parse_identifier(&request.identifier)?;
    check_len("code", &request.code, 16)?;
    let code = request.code.trim();
    if code.len() != codes::CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(V1Error::bad_request(
            "malformed_code",
            "The code is 6 digits",
        ));
    }
    let now_ms = state.accounts.now_ms();
    let purpose = purpose_of(&identifier);
    let Some(account) = find_account(&state, &identifier).await? else {
        return Err(invalid_code(NO_CODE));
    };
    spend_code(&state, account.id, purpose, code, now_ms).await?;
    match identifier {
        LoginIdentifier::Email(_) => state.store.mark_email_verified(account.id, now_ms).await?,
        LoginIdentifier::Phone(_) => state.store.mark_phone_verified(account.id, now_ms).await?,
    }
    state
        .store
        .transition_status(
            account.id,
            account_status::UNVERIFIED,
            account_status::ACTIVE,
        )
        .await?;
    Ok(Json(VerifyResponse { status: "verified" }))
}
