//! Login: the password step (lockout, proof-of-work, uniform failures), the second-factor step
//! (TOTP with replay protection or a recovery code) and re-authentication.
//!
//! Unknown identifier, wrong password and locked account answer with the same status and body
//! after the same argon2 work, and lockout is keyed by the identifier (not the account), so even
//! the delays and challenges look the same whether or not an account exists.

use crate::Kind;
use bulwark_identity::clock::MINUTE_MS;
use bulwark_identity::codes::{self, Purpose};
use bulwark_identity::lockout::{self, Decision, LockoutState};
use bulwark_identity::password;
use bulwark_identity::pow;
use bulwark_identity::session;
use bulwark_store::{AccountRow, NewToken, account_status};
use serde::Deserialize;
use serde_json::json;

use super::sessions::Authed;
use crate::Error;
use crate::activity::record;
/// The login budget key of an identifier (kept here for the tools and tests that name it).
pub use crate::attempts::lock_key;
use crate::attempts::{self, AttemptKey, Checked, Outcome, Permit};
use crate::attempts::{
    dummy_password_work, invalid_credentials, to_state, try_later, verify_password,
};
use crate::client::Client;
use crate::login_step::LoginStep;
use crate::second_factor::{FactorFailure, check_recovery, check_totp, factor_failure};
use crate::service::Service;
use crate::sessions::second_factor_of;
use crate::signup::{PASSWORD_FIELD_CHARS_MAX, find_account};
use crate::validate::check_len;
use crate::validate::{identifier_text, parse_identifier};

/// How long the pre-auth token between the two login steps lives.
pub const PRE_AUTH_TTL_MS: i64 = 5 * MINUTE_MS;
/// Longest token or code field read.
const TOKEN_FIELD_CHARS_MAX: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub identifier: String,
    pub password: String,
    #[serde(default)]
    pub pow_token: Option<String>,
    #[serde(default)]
    pub pow_nonce: Option<String>,
}

fn challenge(state: &Service, now_ms: i64, why: &str) -> Error {
    match pow::issue(
        &state.accounts.code_key,
        pow::DEFAULT_DIFFICULTY_BITS,
        now_ms,
    ) {
        Ok(issued) => Error::new(
            Kind::Unauthenticated,
            "challenge_required",
            format!(
                "{why}: solve the proof-of-work challenge and resend with pow_token and pow_nonce"
            ),
        )
        .with(
            "challenge",
            json!({
                "token": issued.token,
                "difficulty_bits": issued.difficulty_bits,
                "expires_at_ms": issued.expires_ms,
                "algorithm": "find an alphanumeric nonce (at most 32 characters) such that \
                              SHA-256(token + \":\" + nonce) starts with difficulty_bits zero bits",
            }),
        ),
        Err(error) => Error::internal("issuing a challenge", error),
    }
}

async fn check_pow(state: &Service, request: &LoginRequest, now_ms: i64) -> crate::Result<()> {
    let (Some(token), Some(nonce)) = (request.pow_token.as_deref(), request.pow_nonce.as_deref())
    else {
        return Err(challenge(state, now_ms, "Several attempts failed"));
    };
    check_len("pow_token", token, TOKEN_FIELD_CHARS_MAX)?;
    check_len("pow_nonce", nonce, TOKEN_FIELD_CHARS_MAX)?;
    match pow::verify(&state.accounts.code_key, token, nonce, now_ms) {
        Ok(ticket) => {
            if state
                .store
                .use_pow_challenge(&ticket.id, ticket.expires_ms)
                .await?
            {
                Ok(())
            } else {
                Err(challenge(state, now_ms, "This challenge was already used"))
            }
        }
        Err(error) => Err(challenge(state, now_ms, &error.to_string())),
    }
}

/// What the password of a login matched.
enum Matched {
    /// The account's own password.
    Account,
    /// The password of one of the account's pending sign-up attempts (not verified yet).
    Signup(bulwark_store::SignupAttemptRow),
}

/// `POST /api/v1/login`: the password step.
pub async fn login(
    state: &Service,
    client: &Client,
    request: LoginRequest,
) -> crate::Result<LoginStep> {
    let identifier = parse_identifier(&request.identifier)?;
    check_len("password", &request.password, PASSWORD_FIELD_CHARS_MAX)?;
    let id_text = identifier_text(&identifier).to_string();
    let now_ms = state.accounts.now_ms();
    let account = find_account(state, &identifier).await?;
    let user_id = account.as_ref().map(|a| a.id);
    let key = attempts::password_key(state, account.as_ref(), &id_text, client).await?;
    let failures_so_far = to_state(state.store.get_lockout(&key.key).await?.as_ref()).failures;
    let ip_failures = state.accounts.ip_failures(client.ip);
    if lockout::pow_required(ip_failures, failures_so_far)
        && let Err(error) = check_pow(state, &request, now_ms).await
    {
        record(
            state,
            client,
            user_id,
            Some(&id_text),
            "password",
            "challenge_required",
        )
        .await;
        return Err(error);
    }
    let outcome = attempts::attempt(state, &key, async |permit| {
        let Some(account) = account.as_ref() else {
            verify_password(state, permit, None, &request.password).await?;
            return Ok(Checked::Wrong(invalid_credentials()));
        };
        if account.status == account_status::UNVERIFIED {
            let matched =
                crate::signup::matching_attempt(state, permit, account.id, &request.password)
                    .await?;
            return Ok(match matched {
                Some(attempt) => Checked::Right(Matched::Signup(attempt)),
                None => Checked::Wrong(invalid_credentials()),
            });
        }
        Ok(
            if verify_password(state, permit, Some(account), &request.password).await? {
                Checked::Right(Matched::Account)
            } else {
                Checked::Wrong(invalid_credentials())
            },
        )
    })
    .await?;
    let (matched, earlier) = match outcome {
        Outcome::Right { value, earlier } => (value, earlier),
        Outcome::Refused(Decision::Wait { until_ms }) => {
            let result = "throttled";
            record(state, client, user_id, Some(&id_text), "password", result).await;
            return Err(try_later(until_ms, now_ms));
        }
        Outcome::Refused(_) => {
            // Locked: the same argon2 work and answer as a wrong password.
            dummy_password_work(state, &request.password).await?;
            state.accounts.record_ip_failure(client.ip);
            record(state, client, user_id, Some(&id_text), "password", "locked").await;
            return Err(invalid_credentials());
        }
        Outcome::Wrong(error) => {
            let result = if user_id.is_some() {
                "wrong_password"
            } else {
                "unknown_account"
            };
            state.accounts.record_ip_failure(client.ip);
            record(state, client, user_id, Some(&id_text), "password", result).await;
            return Err(error);
        }
    };
    let Some(account) = account else {
        return Err(Error::internal("login", "a password matched no account"));
    };
    state.accounts.record_ip_success(client.ip);
    if let Matched::Signup(attempt) = matched {
        record(
            state,
            client,
            Some(account.id),
            Some(&id_text),
            "password",
            "verification_required",
        )
        .await;
        crate::signup::resend_attempt_code(state, &attempt, &identifier).await?;
        return Ok(LoginStep::VerificationRequired);
    }
    explain_earlier_failures(state, client, account.id, &earlier, now_ms).await?;
    rehash_if_needed(state, &account, &request.password).await;
    after_password(state, client, &account, &id_text).await
}

/// After a correct password, leaves the owner a security event about the failures (and any
/// lock) since the last success: the login answer itself stays uniform, the security center
/// explains.
async fn explain_earlier_failures(
    state: &Service,
    client: &Client,
    user_id: i64,
    earlier: &LockoutState,
    now_ms: i64,
) -> crate::Result<()> {
    if earlier.failures == 0 && earlier.lock_level == 0 {
        return Ok(());
    }
    let lock = match earlier.locked_until_ms {
        Some(until_ms) if earlier.lock_level > 0 => format!(
            "; the account was locked until {} UTC",
            bulwark_identity::clock::utc_minute(until_ms)
        ),
        _ => String::new(),
    };
    state
        .store
        .record_security_event(&bulwark_store::NewSecurityEvent {
            user_id,
            at_ms: now_ms,
            kind: "failed_logins_before_this_one".into(),
            ip: Some(client.ip.to_string()),
            detail: Some(format!(
                "{} wrong password{} since the last successful login{lock}",
                earlier.failures,
                if earlier.failures == 1 { "" } else { "s" }
            )),
        })
        .await?;
    Ok(())
}

async fn rehash_if_needed(state: &Service, account: &AccountRow, password: &str) {
    let Some(phc) = account.password_phc.as_deref() else {
        return;
    };
    if !password::needs_rehash(phc, &state.accounts.hash_pool.params()).unwrap_or(false) {
        return;
    }
    if let Ok(new_phc) = state
        .accounts
        .hash_pool
        .hash(password::normalize(password))
        .await
        && let Err(error) = state.store.set_password(account.id, &new_phc).await
    {
        tracing::warn!("api v1: rehash failed: {error}");
    }
}

/// After a correct password: verification, account status and second factor decide the step.
async fn after_password(
    state: &Service,
    client: &Client,
    account: &AccountRow,
    id_text: &str,
) -> crate::Result<LoginStep> {
    let step = |result| {
        record(
            state,
            client,
            Some(account.id),
            Some(id_text),
            "password",
            result,
        )
    };
    if account.status != account_status::ACTIVE {
        step("account_frozen").await;
        return Err(Error::new(
            Kind::Forbidden,
            "account_frozen",
            "This account is frozen or closed; contact support",
        ));
    }
    // An approved 2FA reset whose 48 h have passed takes effect at the next login.
    crate::twofa_reset::apply_due(state, account.id).await?;
    let totp_on = state
        .store
        .get_totp(account.id)
        .await?
        .is_some_and(|t| t.enabled_ms.is_some());
    let code_factors = crate::factors::enrolled(state, account.id).await?;
    if totp_on || !code_factors.is_empty() {
        step("second_factor_required").await;
        let mut methods: Vec<&str> = Vec::new();
        if totp_on {
            methods.push("totp");
        }
        methods.extend(code_factors.iter().map(|c| c.as_str()));
        if totp_on {
            // Recovery codes are issued with the authenticator app.
            methods.push("recovery_code");
        }
        return start_second_factor(state, account.id, &methods).await;
    }
    finish(state, client, account.id, "password").await
}

/// Issues the short-lived, single-use pre-auth token (stored hashed) for the second step.
async fn start_second_factor(
    state: &Service,
    user_id: i64,
    methods: &[&'static str],
) -> crate::Result<LoginStep> {
    let now_ms = state.accounts.now_ms();
    let issued = codes::issue_token(Purpose::Login2fa, now_ms)
        .map_err(|e| Error::internal("pre-auth token", e))?;
    let expires_ms = now_ms.saturating_add(PRE_AUTH_TTL_MS);
    state
        .store
        .insert_token(&NewToken {
            token_hash: issued.record.token_hash.clone(),
            user_id,
            purpose: Purpose::Login2fa.as_str().into(),
            created_ms: now_ms,
            expires_ms,
            data: None,
        })
        .await?;
    Ok(LoginStep::SecondFactor {
        pre_auth_token: issued.token,
        methods: methods.to_vec(),
        expires_at_ms: expires_ms,
    })
}

/// After full authentication by `method`: a login from a new device or country waits for the
/// owner's confirmation; otherwise it is recorded and gets its session.
pub async fn finish(
    state: &Service,
    client: &Client,
    user_id: i64,
    method: &str,
) -> crate::Result<LoginStep> {
    if let Some(reason) = crate::confirm_login::needed(state, client, user_id).await? {
        return crate::confirm_login::hold(state, client, user_id, reason, method).await;
    }
    record(state, client, Some(user_id), None, method, "success").await;
    let second_factor = second_factor_of(method);
    let origin = crate::sessions::Origin::Login { second_factor };
    Ok(LoginStep::Done(
        crate::sessions::create(state, user_id, client, origin).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRequest {
    pub pre_auth_token: String,
    #[serde(default)]
    pub totp_code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
    /// The code sent by `POST /api/v1/login/2fa/send` with method `email`.
    #[serde(default)]
    pub email_code: Option<String>,
    /// The code sent by `POST /api/v1/login/2fa/send` with method `sms`.
    #[serde(default)]
    pub sms_code: Option<String>,
}

/// `POST /api/v1/login/2fa`: the second step with the pre-auth token.
pub async fn login_2fa(
    state: &Service,
    client: &Client,
    request: SecondFactorRequest,
) -> crate::Result<LoginStep> {
    check_len(
        "pre_auth_token",
        &request.pre_auth_token,
        TOKEN_FIELD_CHARS_MAX,
    )?;
    let (method, code) = chosen_factor(&request)?;
    check_len(method, code, TOKEN_FIELD_CHARS_MAX)?;
    let now_ms = state.accounts.now_ms();
    let hash = codes::token_hash(&request.pre_auth_token);
    let purpose = Purpose::Login2fa.as_str();
    let Some(token) = state.store.find_live_token(&hash, purpose, now_ms).await? else {
        return Err(Error::new(
            Kind::Unauthenticated,
            "invalid_token",
            "The login step is unknown, expired or already finished; log in again",
        ));
    };
    let user_id = token.user_id;
    let key = AttemptKey::second_factor(user_id);
    let outcome = attempts::attempt(state, &key, async |permit| {
        let checked = match method {
            "totp" => check_totp(state, permit, user_id, code).await,
            "email" | "sms" => check_code_factor(state, permit, user_id, method, code).await,
            _ => check_recovery(state, permit, user_id, code).await,
        };
        Ok(FactorFailure::checked(checked))
    })
    .await?;
    match outcome {
        Outcome::Right { .. } => {}
        Outcome::Refused(decision) => {
            record(state, client, Some(user_id), None, method, "throttled").await;
            return Err(attempts::refused(decision, now_ms));
        }
        Outcome::Wrong(error) => {
            record(state, client, Some(user_id), None, method, error.code).await;
            return Err(error);
        }
    }
    if state
        .store
        .consume_token(&hash, purpose, now_ms)
        .await?
        .is_none()
    {
        return Err(Error::new(
            Kind::Unauthenticated,
            "invalid_token",
            "The login step was already finished; log in again",
        ));
    }
    finish(state, client, user_id, method).await
}

/// Which second factor the request carries: exactly one of them.
fn chosen_factor(request: &SecondFactorRequest) -> crate::Result<(&'static str, &str)> {
    let given: Vec<(&'static str, &str)> = [
        ("totp", &request.totp_code),
        ("recovery_code", &request.recovery_code),
        ("email", &request.email_code),
        ("sms", &request.sms_code),
    ]
    .into_iter()
    .filter_map(|(name, code)| code.as_deref().map(|c| (name, c)))
    .collect();
    match given.as_slice() {
        [one] => Ok(*one),
        _ => Err(Error::bad_request(
            "missing_second_factor",
            "Send exactly one of totp_code, recovery_code, email_code and sms_code",
        )),
    }
}

/// Checks an emailed or texted login code; only enrolled methods count.
async fn check_code_factor(
    state: &Service,
    permit: &Permit,
    user_id: i64,
    method: &str,
    code: &str,
) -> Result<(), FactorFailure> {
    let not_counted = FactorFailure::uncounted;
    let channel = crate::factors::Channel::parse(method).map_err(not_counted)?;
    let enrolled = crate::factors::enrolled(state, user_id)
        .await
        .map_err(not_counted)?;
    if !enrolled.contains(&channel) {
        return Err(factor_failure(
            Kind::Invalid,
            "method_not_enabled",
            format!("Login codes by {method} are not on for this account"),
            false,
        ));
    }
    crate::factors::spend_code_with(
        state,
        permit,
        user_id,
        channel,
        crate::factors::CodeUse::Login,
        code,
    )
    .await
    .map_err(|error| FactorFailure {
        counts: error.code == "invalid_code",
        error,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendCodeRequest {
    pub pre_auth_token: String,
    /// `email` or `sms`.
    pub method: String,
}

/// `POST /api/v1/login/2fa/send`: between the two steps, sends a login code by an enrolled
/// email or SMS factor (at most once a minute).
pub async fn send_login_code(
    state: &Service,
    request: SendCodeRequest,
) -> crate::Result<serde_json::Value> {
    check_len(
        "pre_auth_token",
        &request.pre_auth_token,
        TOKEN_FIELD_CHARS_MAX,
    )?;
    let channel = crate::factors::Channel::parse(&request.method)?;
    let now_ms = state.accounts.now_ms();
    let hash = codes::token_hash(&request.pre_auth_token);
    let Some(token) = state
        .store
        .find_live_token(&hash, Purpose::Login2fa.as_str(), now_ms)
        .await?
    else {
        return Err(Error::new(
            Kind::Unauthenticated,
            "invalid_token",
            "The login step is unknown, expired or already finished; log in again",
        ));
    };
    if !crate::factors::enrolled(state, token.user_id)
        .await?
        .contains(&channel)
    {
        return Err(Error::bad_request(
            "method_not_enabled",
            format!(
                "Login codes by {} are not on for this account",
                channel.as_str()
            ),
        ));
    }
    let Some(account) = state.store.get_account(token.user_id).await? else {
        return Err(Error::internal("login code", "token without account"));
    };
    let expires_ms =
        crate::factors::send_code(state, &account, channel, crate::factors::CodeUse::Login).await?;
    Ok(json!({"status": "code_sent", "method": channel.as_str(), "expires_at_ms": expires_ms}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReauthRequest {
    pub password: String,
}

/// `POST /api/v1/reauth`: confirms the password, refreshing the re-authentication time (with a
/// new session token, as at every authentication).
pub async fn reauth(
    state: &Service,
    authed: &Authed,
    request: ReauthRequest,
) -> crate::Result<Reauthenticated> {
    check_len("password", &request.password, PASSWORD_FIELD_CHARS_MAX)?;
    let Some(account) = state.store.get_account(authed.user_id).await? else {
        return Err(invalid_credentials());
    };
    let now_ms = state.accounts.now_ms();
    let outcome =
        attempts::check_password(state, Some(&account), "", &authed.client, &request.password)
            .await?;
    if let Outcome::Wrong(_) = outcome {
        let result = "wrong_password";
        record(
            state,
            &authed.client,
            Some(account.id),
            None,
            "reauth",
            result,
        )
        .await;
    }
    outcome.into_result(now_ms)?;
    let token = session::new_session_token().map_err(|e| Error::internal("session token", e))?;
    if !state
        .store
        .set_session_authenticated(authed.session.id, &token.hash, now_ms)
        .await?
    {
        return Err(Error::new(
            Kind::Unauthenticated,
            "invalid_session",
            "The session was revoked",
        ));
    }
    record(
        state,
        &authed.client,
        Some(account.id),
        None,
        "reauth",
        "success",
    )
    .await;
    Ok(Reauthenticated {
        session_token: token.token,
        reauth_valid_until_ms: now_ms + session::REAUTH_WINDOW_MS,
    })
}

/// A confirmed password: the session's new token (as at every authentication) and until when
/// sensitive changes need no new confirmation.
pub struct Reauthenticated {
    pub session_token: String,
    pub reauth_valid_until_ms: i64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::attempts::{second_factor_key, to_row};
    #[allow(unused_imports)]
    use bulwark_identity::clock::SECOND_MS;
    use bulwark_identity::lockout::{FIRST_LOCK_MS, LOCK_EVERY_FAILURES};
    use bulwark_store::LockoutRow;

    /// Drives the stored-row round trip through the identity schedule with a fake clock: the
    /// first failure waits 1 s, the tenth starts a 15-minute lock, and the lock ends on time.
    #[test]
    fn lockout_rows_follow_the_schedule() {
        let key = lock_key("a@example.com");
        let mut now_ms = 1_700_000_000_000;
        let mut row: Option<LockoutRow> = None;
        for n in 1..=LOCK_EVERY_FAILURES {
            let state = to_state(row.as_ref());
            assert_eq!(
                lockout::check(&state, now_ms),
                Decision::Allowed,
                "attempt {n}"
            );
            let (next, _) = lockout::on_failure(&state, now_ms);
            row = Some(to_row(&key, &next));
            let after = to_state(row.as_ref());
            assert_eq!(after, next, "row round trip");
            if n < LOCK_EVERY_FAILURES {
                let wait = lockout::progressive_delay_ms(n);
                assert_eq!(
                    lockout::check(&after, now_ms),
                    Decision::Wait {
                        until_ms: now_ms + wait
                    }
                );
                now_ms += wait;
            }
        }
        let locked = to_state(row.as_ref());
        assert_eq!(
            lockout::check(&locked, now_ms),
            Decision::Locked {
                until_ms: now_ms + FIRST_LOCK_MS
            }
        );
        assert_eq!(
            lockout::check(&locked, now_ms + FIRST_LOCK_MS),
            Decision::Allowed
        );
        assert_eq!(to_state(None), LockoutState::default());
    }

    #[test]
    fn second_factor_rows_round_trip() {
        let key = second_factor_key(7);
        let now_ms = 1_700_000_000_000;
        let (next, _) = lockout::on_second_factor_failure(&LockoutState::default(), now_ms);
        let state = to_state(Some(&to_row(&key, &next)));
        assert_eq!(state, next);
        assert!(matches!(
            lockout::check(&state, now_ms),
            Decision::Wait { .. }
        ));
    }
}
