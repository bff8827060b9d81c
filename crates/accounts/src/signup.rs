//! Sign-up and contact verification. Sign-up answers the same whether or not the identifier is
//! taken (no enumeration): a new account gets a code, an existing one a notice.

use bulwark_identity::account::{DisplayName, LoginIdentifier};
use bulwark_identity::codes::{self, CODE_MAX_ATTEMPTS, Purpose};
use bulwark_identity::password::{self, PasswordContext};
use bulwark_notify::MessageKind;
use bulwark_store::{
    AccountRow, NewAccount, NewCode, NewSignupAttempt, SignupAttemptRow, StoreError,
    VerifiedContact, account_status,
};
use serde::{Deserialize, Serialize};

use crate::Error;
pub use crate::attempts::busy_or_internal;
use crate::attempts::{self, AttemptKey, Checked, Outcome, Permit, verify_password};
pub(crate) use crate::notice::recipient;
pub use crate::notice::{account_recipient, notify};
use crate::service::Service;
use crate::validate::{check_len, identifier_text, parse_identifier};

/// Longest password field read (the policy's own limit is lower and gives the message).
pub const PASSWORD_FIELD_CHARS_MAX: usize = 1_024;
/// Longest sign-up token read.
const SIGNUP_TOKEN_CHARS_MAX: usize = 128;
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
    /// Proves at `POST /api/v1/verify` that this client made this sign-up (every answer has
    /// one, so it tells nothing about the address).
    pub signup_token: String,
}

const SIGNUP_ACCEPTED: SignupResponse = SignupResponse {
    status: "verification_sent",
    message: "If this address can be registered, a 6-digit verification code is on its way",
    signup_token: String::new(),
};

/// The account an identifier names, if any.
pub async fn find_account(
    state: &Service,
    identifier: &LoginIdentifier,
) -> Result<Option<AccountRow>, StoreError> {
    match identifier {
        LoginIdentifier::Email(email) => state.store.find_account_by_email(email.as_str()).await,
        LoginIdentifier::Phone(phone) => state.store.find_account_by_phone(phone.as_str()).await,
    }
}

fn purpose_of(identifier: &LoginIdentifier) -> Purpose {
    match identifier {
        LoginIdentifier::Email(_) => Purpose::VerifyEmail,
        LoginIdentifier::Phone(_) => Purpose::VerifyPhone,
    }
}

fn binding(attempt_id: i64) -> String {
    format!("signup:{attempt_id}")
}

/// How long a sign-up attempt can be verified (its code lives 10 minutes; logging in with the
/// attempt's password sends a new one).
pub const SIGNUP_ATTEMPT_TTL_MS: i64 = 24 * bulwark_identity::clock::HOUR_MS;
/// Live attempts kept per address; a newer one ends the oldest. Also bounds the argon2 work of
/// matching a password against them.
pub const SIGNUP_ATTEMPTS_KEPT: u32 = 3;

/// Records a sign-up attempt for the unverified account and sends its code; returns the token
/// the client keeps to verify this attempt.
async fn start_attempt(
    state: &Service,
    user_id: i64,
    identifier: &LoginIdentifier,
    phc: String,
    display_name: Option<String>,
) -> crate::Result<String> {
    let now_ms = state.accounts.now_ms();
    let issued = codes::issue_token(Purpose::VerifyEmail, now_ms)
        .map_err(|e| Error::internal("signup token", e))?;
    let attempt_id = state
        .store
        .insert_signup_attempt(&NewSignupAttempt {
            user_id,
            password_phc: phc,
            display_name,
            token_hash: issued.record.token_hash.clone(),
            created_ms: now_ms,
            expires_ms: now_ms.saturating_add(SIGNUP_ATTEMPT_TTL_MS),
        })
        .await?;
    state
        .store
        .end_older_signup_attempts(user_id, SIGNUP_ATTEMPTS_KEPT, now_ms)
        .await?;
    send_attempt_code(state, attempt_id, user_id, identifier).await?;
    Ok(issued.token)
}

/// Issues and sends the code of one attempt (other attempts' codes stay live: a stranger's
/// sign-up must not void the owner's code).
async fn send_attempt_code(
    state: &Service,
    attempt_id: i64,
    user_id: i64,
    identifier: &LoginIdentifier,
) -> crate::Result<()> {
    let now_ms = state.accounts.now_ms();
    let purpose = purpose_of(identifier);
    let issued = codes::issue(
        &state.accounts.code_key,
        purpose,
        &binding(attempt_id),
        None,
        now_ms,
    )
    .map_err(|e| Error::internal("issuing a code", e))?;
    let (channel, kind) = match identifier {
        LoginIdentifier::Email(_) => ("email", MessageKind::VerifyEmail),
        LoginIdentifier::Phone(_) => ("sms", MessageKind::VerifyPhone),
    };
    let code_id = state
        .store
        .issue_code_keeping_others(&NewCode {
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
    state
        .store
        .set_signup_attempt_code(attempt_id, code_id)
        .await?;
    let body = format!(
        "Your Bulwark verification code is {}\r\nIt is valid for 10 minutes. If you did not sign up, ignore this message: without this code nobody can complete the sign-up.",
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

/// After a login with an attempt's password: a new code for that attempt, unless its code was
/// sent less than a minute ago and is still live.
pub async fn resend_attempt_code(
    state: &Service,
    attempt: &SignupAttemptRow,
    identifier: &LoginIdentifier,
) -> crate::Result<()> {
    let now_ms = state.accounts.now_ms();
    if let Some(code_id) = attempt.code_id
        && let Some(code) = state.store.find_live_code_by_id(code_id, now_ms).await?
        && now_ms
            < code
                .last_sent_ms
                .saturating_add(codes::CODE_RESEND_INTERVAL_MS)
    {
        return Ok(());
    }
    send_attempt_code(state, attempt.id, attempt.user_id, identifier).await
}

/// The live sign-up attempt of `user_id` whose password this is, newest first (at most
/// [`SIGNUP_ATTEMPTS_KEPT`] argon2 checks; one dummy check when there is none).
pub async fn matching_attempt(
    state: &Service,
    permit: &Permit,
    user_id: i64,
    password: &str,
) -> crate::Result<Option<SignupAttemptRow>> {
    let now_ms = state.accounts.now_ms();
    let live = state
        .store
        .live_signup_attempts(user_id, now_ms, SIGNUP_ATTEMPTS_KEPT)
        .await?;
    if live.is_empty() {
        verify_password(state, permit, None, password).await?;
        return Ok(None);
    }
    for attempt in live {
        let phc = attempt.password_phc.clone();
        let right = state
            .accounts
            .hash_pool
            .verify(password::normalize(password), phc)
            .await
            .map_err(|e| busy_or_internal("verifying a password", e))?;
        if right {
            return Ok(Some(attempt));
        }
    }
    Ok(None)
}

/// Sign-up: the same answer whether or not the address is taken (a new account gets a code and
/// its attempt, a taken one a notice or another attempt); the answer's token verifies this
/// attempt.
pub async fn signup(state: &Service, request: SignupRequest) -> crate::Result<SignupResponse> {
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
                .map_err(|e| Error::bad_request("invalid_display_name", e.to_string()))?,
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
        .map_err(|e| Error::bad_request("weak_password", e.to_string()))?;
    let current = state.store.current_agreement_version().await?;
    if current.as_ref().map(|c| c.version.as_str()) != Some(request.agreement_version.as_str()) {
        return Err(Error::bad_request(
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
            display_name: None,
            // The password arrives with the verified attempt (see `start_attempt`).
            password_phc: None,
            status: account_status::UNVERIFIED.into(),
            agreement_version: Some(request.agreement_version.clone()),
            residence_country: None,
            created_ms: now_ms,
        })
        .await;
    let display_name = display_name.map(|d| d.as_str().to_string());
    let signup_token = match created {
        Ok(user_id) => start_attempt(state, user_id, &identifier, phc, display_name).await?,
        Err(StoreError::Conflict(_)) => {
            existing_signup(state, &identifier, phc, display_name).await?
        }
        Err(error) => return Err(error.into()),
    };
    Ok(SignupResponse {
        signup_token,
        ..SIGNUP_ACCEPTED
    })
}

/// A sign-up for a taken identifier: while it is unverified, one more attempt of its own (the
/// attempt that gets verified decides the password); once verified, a notice to the owner and a
/// token that verifies nothing, so the answer looks the same.
async fn existing_signup(
    state: &Service,
    identifier: &LoginIdentifier,
    phc: String,
    display_name: Option<String>,
) -> crate::Result<String> {
    let decoy = codes::issue_token(Purpose::VerifyEmail, state.accounts.now_ms())
        .map_err(|e| Error::internal("signup token", e))?
        .token;
    let Some(account) = find_account(state, identifier).await? else {
        return Ok(decoy);
    };
    if account.status == account_status::UNVERIFIED {
        return start_attempt(state, account.id, identifier, phc, display_name).await;
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
    Ok(decoy)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub identifier: String,
    pub code: String,
    /// The `signup_token` of the sign-up answer (same client), or else…
    #[serde(default)]
    pub signup_token: Option<String>,
    /// …the password chosen at sign-up (the code opened on another device).
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VerifyResponse {
    pub status: &'static str,
}

fn invalid_code(message: &str) -> Error {
    Error::bad_request("invalid_code", message.to_string())
}

const NO_CODE: &str =
    "This code is wrong, expired or already used; request a new one by signing up again";

/// The live attempt the verifying client speaks for: the one its token names, or the one whose
/// password it knows (checked under the address's password budget). `None` answers as a wrong
/// code does, so the endpoint does not tell which addresses exist.
async fn claimed_attempt(
    state: &Service,
    request: &VerifyRequest,
    identifier: &LoginIdentifier,
    account: Option<&AccountRow>,
) -> crate::Result<Option<SignupAttemptRow>> {
    let now_ms = state.accounts.now_ms();
    let unverified = account.filter(|a| a.status == account_status::UNVERIFIED);
    if let Some(token) = request.signup_token.as_deref() {
        check_len("signup_token", token, SIGNUP_TOKEN_CHARS_MAX)?;
        let found = state
            .store
            .find_signup_attempt_by_token(&codes::token_hash(token), now_ms)
            .await?;
        return Ok(found.filter(|attempt| unverified.is_some_and(|a| a.id == attempt.user_id)));
    }
    let Some(password) = request.password.as_deref() else {
        return Err(Error::bad_request(
            "signup_attempt_required",
            "Send the signup_token of your sign-up answer, or the password you signed up with",
        ));
    };
    check_len("password", password, PASSWORD_FIELD_CHARS_MAX)?;
    let key = AttemptKey::signup_password(identifier_text(identifier));
    let outcome = attempts::attempt(state, &key, async |permit| {
        let matched = match unverified {
            Some(account) => matching_attempt(state, permit, account.id, password).await?,
            None => {
                verify_password(state, permit, None, password).await?;
                None
            }
        };
        Ok(match matched {
            Some(attempt) => Checked::Right(attempt),
            None => Checked::Wrong(invalid_code(NO_CODE)),
        })
    })
    .await?;
    match outcome {
        Outcome::Right { value, .. } => Ok(Some(value)),
        Outcome::Wrong(_) => Ok(None),
        Outcome::Refused(decision) => Err(attempts::refused(decision, now_ms)),
    }
}

/// Verification: the code sent for one sign-up attempt completes that attempt (the account
/// takes its password) and ends every other attempt at the address; the owner is told when
/// there were others.
pub async fn verify(state: &Service, request: VerifyRequest) -> crate::Result<VerifyResponse> {
    let identifier = parse_identifier(&request.identifier)?;
    check_len("code", &request.code, 16)?;
    let code = request.code.trim();
    if code.len() != codes::CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::bad_request("malformed_code", "The code is 6 digits"));
    }
    let now_ms = state.accounts.now_ms();
    let account = find_account(state, &identifier).await?;
    let Some(attempt) = claimed_attempt(state, &request, &identifier, account.as_ref()).await?
    else {
        return Err(invalid_code(NO_CODE));
    };
    let purpose = purpose_of(&identifier);
    let key = AttemptKey::signup(attempt.id);
    attempts::attempt(state, &key, async |permit| {
        let live = match attempt.code_id {
            Some(id) => state.store.find_live_code_by_id(id, now_ms).await?,
            None => None,
        };
        let Some(row) = live else {
            return Ok(Checked::Uncounted(invalid_code(NO_CODE)));
        };
        let bound = binding(attempt.id);
        let right =
            crate::one_time::spend(state, permit, &row, purpose, &bound, code, now_ms).await?;
        Ok(Checked::right_if(right, invalid_code(NO_CODE)))
    })
    .await?
    .into_result(now_ms)?;
    let contact = match identifier {
        LoginIdentifier::Email(_) => VerifiedContact::Email,
        LoginIdentifier::Phone(_) => VerifiedContact::Phone,
    };
    let Some(others) = state
        .store
        .complete_signup_attempt(attempt.id, contact, now_ms)
        .await?
    else {
        return Err(invalid_code(NO_CODE));
    };
    if others > 0 {
        tell_owner_about_other_attempts(state, attempt.user_id, &identifier, others).await;
    }
    Ok(VerifyResponse { status: "verified" })
}

/// Tells the new owner that other sign-ups for the address were made and dropped.
async fn tell_owner_about_other_attempts(
    state: &Service,
    user_id: i64,
    identifier: &LoginIdentifier,
    others: u64,
) {
    let kind = match identifier {
        LoginIdentifier::Email(_) => MessageKind::VerifyEmail,
        LoginIdentifier::Phone(_) => MessageKind::VerifyPhone,
    };
    let body = format!(
        "Your Bulwark account is verified. While it waited for verification, {others} other sign-up{} with this address {} made, perhaps by someone else. {} dropped: only the password you chose works.\r\nIf you did not sign up yourself, freeze the account with the link below.",
        if others == 1 { "" } else { "s" },
        if others == 1 { "was" } else { "were" },
        if others == 1 { "It was" } else { "They were" },
    );
    let subject = "Someone else also tried to sign up with your address";
    notify(state, user_id, recipient(identifier), kind, subject, body).await;
}
