//! The attempt limiter: the one way this API checks a secret (a password at login,
//! re-authentication or password change; a TOTP, recovery, emailed or texted code; a sign-up
//! code). It exists so that no endpoint can be a side door for guessing: every check reserves
//! its attempt under the key's budget before it runs, and the secret checkers only run with the
//! [`Permit`] that [`attempt`] hands out.
//!
//! Reserve-first: deciding whether to check and counting the attempt are one compare-and-swap on
//! the key's row ([`bulwark_store::Store::swap_lockout`]), so N parallel guesses cost exactly N
//! attempts on SQLite and PostgreSQL alike, across connections and processes. A right secret then
//! clears the key; a wrong one leaves the attempt counted and, when it started a lock, tells the
//! owner. The schedules live in `bulwark_identity::lockout`.
//!
//! Budgets (keys): the password budget is per account (keyed by the account's first contact, so
//! login by email and by phone share it) and, for a browser or app that holds the cookie of a
//! device confirmed by an earlier successful login, per account and device: failures from
//! strangers then lock out strangers only (OWASP's device-cookie pattern). Codes share one
//! second-factor budget per account; a sign-up attempt has its own.

use bulwark_identity::lockout::{self, Decision, Effect, LockoutState, Reservation, Schedule};
use bulwark_identity::password;
use bulwark_identity::random::{random_bytes, sha256_hex};
use bulwark_notify::MessageKind;
use bulwark_store::{AccountRow, LockoutRow};

use crate::client::Client;
use crate::error::{Error, Kind};
use crate::notice::{account_recipient, notify};
use crate::service::Service;

/// How often a reservation is retried when other attempts on the same key keep winning the
/// compare-and-swap (each retry re-reads; under contention most retries end in a refusal).
const SWAP_TRIES_MAX: usize = 64;

/// Proof that the current check was reserved under a budget. Only [`attempt`] makes one, and the
/// functions that compare secrets take it, so a new endpoint cannot check a secret unlimited.
pub struct Permit {
    _reserved: (),
}

/// A budget: the row key, its schedule and the account told when it locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptKey {
    pub key: String,
    pub schedule: Schedule,
    /// The account to notify when a lock starts (none for unknown identifiers and sign-ups).
    pub owner: Option<i64>,
}

impl AttemptKey {
    /// The shared second-factor budget of an account (every kind of code).
    pub fn second_factor(user_id: i64) -> Self {
        Self {
            key: second_factor_key(user_id),
            schedule: Schedule::SecondFactor,
            owner: Some(user_id),
        }
    }

    /// The budget for matching a sign-up password at verification, per typed address and the
    /// same whether or not the address is taken (so it tells nothing), apart from the login's.
    pub fn signup_password(typed_identifier: &str) -> Self {
        Self {
            key: format!(
                "signup-password:{}",
                sha256_hex(typed_identifier.as_bytes())
            ),
            schedule: Schedule::Password,
            owner: None,
        }
    }

    /// The code budget of one sign-up attempt (its owner is not known yet).
    pub fn signup(attempt_id: i64) -> Self {
        Self {
            key: format!("signup:{attempt_id}"),
            schedule: Schedule::SecondFactor,
            owner: None,
        }
    }
}

/// The password budget of `account` (or of the typed identifier, when no account has it) for
/// this client: its own when the client holds a device cookie confirmed for the account, else
/// the account's budget for unknown clients.
pub async fn password_key(
    state: &Service,
    account: Option<&AccountRow>,
    typed_identifier: &str,
    client: &Client,
) -> crate::Result<AttemptKey> {
    let Some(account) = account else {
        return Ok(AttemptKey {
            key: lock_key(typed_identifier),
            schedule: Schedule::Password,
            owner: None,
        });
    };
    let first_contact = account
        .email
        .as_deref()
        .or(account.phone.as_deref())
        .unwrap_or(typed_identifier);
    let base = lock_key(first_contact);
    let known_device = crate::devices::find(state, account.id, client)
        .await?
        .filter(|device| device.confirmed_ms.is_some());
    let key = match known_device {
        Some(device) => device_lock_key(&base, device.id),
        None => base,
    };
    Ok(AttemptKey {
        key,
        schedule: Schedule::Password,
        owner: Some(account.id),
    })
}

/// Every password budget of an account, labelled for staff: one for unknown clients per contact
/// (the first contact's is the one in use; older keys of the other contact are listed so staff
/// can see and lift them) and one per device. A completed password reset clears them all.
pub async fn password_keys(
    state: &Service,
    account: &AccountRow,
) -> crate::Result<Vec<(String, String)>> {
    let contacts = [account.email.as_deref(), account.phone.as_deref()];
    let mut keys: Vec<(String, String)> = contacts
        .into_iter()
        .flatten()
        .map(|contact| (format!("password:{contact}"), lock_key(contact)))
        .collect();
    if let Some((_, base)) = keys.first().cloned() {
        for device in state.store.list_devices(account.id).await? {
            keys.push((
                format!("password:device:{}", device.id),
                device_lock_key(&base, device.id),
            ));
        }
    }
    Ok(keys)
}

/// The password budget of one known device under an account's budget key.
pub fn device_lock_key(account_key: &str, device_id: i64) -> String {
    format!("{account_key}:device:{device_id}")
}

/// What a secret checker found.
pub enum Checked<T> {
    /// The secret is right: the key is cleared.
    Right(T),
    /// The secret is wrong: the attempt stays counted.
    Wrong(Error),
    /// The request could not be checked (no such factor, a malformed code): the reservation is
    /// given back when nobody else touched the key meanwhile.
    Uncounted(Error),
}

impl Checked<()> {
    /// `Right` when the comparison matched, else `Wrong` with the caller's answer.
    pub fn right_if(matched: bool, wrong: Error) -> Self {
        if matched {
            Checked::Right(())
        } else {
            Checked::Wrong(wrong)
        }
    }
}

/// What an attempt came to.
pub enum Outcome<T> {
    Right {
        value: T,
        /// The key's state before this attempt (failures since the last success).
        earlier: LockoutState,
    },
    Wrong(Error),
    /// Not checked: the key is waiting, locked or reset-only.
    Refused(Decision),
}

impl<T> Outcome<T> {
    /// The value when right; the wrong answer or the refusal as an error otherwise (for callers
    /// that answer every refusal the same way).
    pub fn into_result(self, now_ms: i64) -> crate::Result<T> {
        match self {
            Outcome::Right { value, .. } => Ok(value),
            Outcome::Wrong(error) => Err(error),
            Outcome::Refused(decision) => Err(refused(decision, now_ms)),
        }
    }
}

/// The answer to a refused attempt where telling the caller is safe (an authenticated session or
/// a step after the password): wait until the lock ends, or reset the password.
pub fn refused(decision: Decision, now_ms: i64) -> Error {
    match decision {
        Decision::Wait { until_ms } | Decision::Locked { until_ms } => try_later(until_ms, now_ms),
        Decision::Allowed | Decision::ResetRequired => Error::new(
            Kind::Forbidden,
            "reset_required",
            "Too many failed attempts: reset your password (with your second factor) to unlock",
        ),
    }
}

/// Checks a secret under `key`'s budget: reserves the attempt (or refuses it without running
/// `check`), runs `check` with the permit, then clears the key on a right secret or keeps the
/// attempt counted (and notifies the owner of a new lock) on a wrong one.
pub async fn attempt<T>(
    state: &Service,
    key: &AttemptKey,
    check: impl AsyncFnOnce(&Permit) -> crate::Result<Checked<T>>,
) -> crate::Result<Outcome<T>> {
    let now_ms = state.accounts.now_ms();
    let (earlier, effect, version) = match reserve(state, key, now_ms).await? {
        Ok(reserved) => reserved,
        Err(decision) => return Ok(Outcome::Refused(decision)),
    };
    match check(&Permit { _reserved: () }).await? {
        Checked::Right(value) => {
            state.store.clear_lockout(&key.key).await?;
            Ok(Outcome::Right { value, earlier })
        }
        Checked::Wrong(error) => {
            if effect.notify_owner() {
                let schedule = match key.schedule {
                    Schedule::Password => "password",
                    Schedule::SecondFactor => "second_factor",
                };
                metrics::counter!("bulwark_lockouts_total", "schedule" => schedule).increment(1);
                if let Some(user_id) = key.owner {
                    notify_lock(state, key.schedule, user_id, effect, now_ms).await?;
                }
            }
            Ok(Outcome::Wrong(error))
        }
        Checked::Uncounted(error) => {
            let row = to_row(&key.key, &earlier);
            state
                .store
                .swap_lockout(&row, Some(version), new_version()?)
                .await?;
            Ok(Outcome::Wrong(error))
        }
    }
}

/// The reserve step: read, decide with the schedule, write back only if unchanged; repeat when
/// another attempt got in between. Returns the state before, the effect of counting this attempt
/// as a failure, and the version written.
async fn reserve(
    state: &Service,
    key: &AttemptKey,
    now_ms: i64,
) -> crate::Result<Result<(LockoutState, Effect, i64), Decision>> {
    for _ in 0..SWAP_TRIES_MAX {
        let read = state.store.get_lockout_versioned(&key.key).await?;
        let earlier = to_state(read.as_ref().map(|(row, _)| row));
        let expected = read.map(|(_, version)| version);
        match lockout::reserve(&earlier, now_ms, key.schedule) {
            Reservation::Refused(decision) => return Ok(Err(decision)),
            Reservation::Granted { reserved, effect } => {
                let version = new_version()?;
                let row = to_row(&key.key, &reserved);
                if state.store.swap_lockout(&row, expected, version).await? {
                    return Ok(Ok((earlier, effect, version)));
                }
            }
        }
    }
    Err(Error::new(
        Kind::Unavailable,
        "busy",
        "Too many simultaneous attempts; try again in a moment",
    )
    .retry_after(1_000))
}

/// A version number that never repeats for a key (random 63 bits).
fn new_version() -> crate::Result<i64> {
    let bytes = random_bytes::<8>().map_err(|e| Error::internal("lock version", e))?;
    Ok(i64::from_le_bytes(bytes) & i64::MAX)
}

/// Tells the owner that a lock started: a security event and a message, worded for the kind of
/// secret that was guessed.
async fn notify_lock(
    state: &Service,
    schedule: Schedule,
    user_id: i64,
    effect: Effect,
    now_ms: i64,
) -> crate::Result<()> {
    let (event, kind, subject, body) = match schedule {
        Schedule::Password => (
            "account_locked",
            MessageKind::AccountLocked,
            "Your Bulwark account is locked",
            "Your Bulwark account was locked after too many wrong passwords.\r\nIf this was not you, someone may be guessing your password: keep 2FA on and consider changing it. Devices you logged in with before keep their own allowance.",
        ),
        Schedule::SecondFactor => (
            "second_factor_locked",
            MessageKind::SecondFactorLocked,
            "Wrong 2FA codes on your account",
            "Several wrong second-factor or confirmation codes were entered for your Bulwark account.\r\nIf this was not you, change your password now.",
        ),
    };
    let detail = match effect {
        Effect::LockStarted { until_ms } => Some(format!(
            "locked until {} UTC",
            bulwark_identity::clock::utc_minute(until_ms)
        )),
        Effect::ResetRequiredStarted => Some("locked until a password reset".to_string()),
        Effect::Ignored | Effect::Delayed { .. } => None,
    };
    state
        .store
        .record_security_event(&bulwark_store::NewSecurityEvent {
            user_id,
            at_ms: now_ms,
            kind: event.into(),
            ip: None,
            detail,
        })
        .await?;
    if let Some(account) = state.store.get_account(user_id).await?
        && let Some(to) = account_recipient(&account)
    {
        notify(state, user_id, to, kind, subject, body.to_string()).await;
    }
    Ok(())
}

/// The lockout key of an identifier (hashed, so the table holds no addresses).
pub fn lock_key(identifier: &str) -> String {
    format!("login:{}", sha256_hex(identifier.as_bytes()))
}

pub fn second_factor_key(user_id: i64) -> String {
    format!("login2fa:{user_id}")
}

/// The identity-crate state of a stored row (`0` in the row means "never").
pub fn to_state(row: Option<&LockoutRow>) -> LockoutState {
    let Some(row) = row else {
        return LockoutState::default();
    };
    LockoutState {
        failures: u32::try_from(row.failures.max(0)).unwrap_or(u32::MAX),
        lock_level: u32::try_from(row.lock_level.max(0)).unwrap_or(u32::MAX),
        locked_until_ms: (row.locked_until_ms > 0).then_some(row.locked_until_ms),
        reset_required: row.reset_required != 0,
        last_failure_ms: (row.last_failure_ms > 0).then_some(row.last_failure_ms),
    }
}

/// The row that stores `state` under `key`.
pub fn to_row(key: &str, state: &LockoutState) -> LockoutRow {
    LockoutRow {
        lock_key: key.to_string(),
        failures: i64::from(state.failures),
        lock_level: i64::from(state.lock_level),
        locked_until_ms: state.locked_until_ms.unwrap_or(0),
        reset_required: i64::from(state.reset_required),
        last_failure_ms: state.last_failure_ms.unwrap_or(0),
    }
}

pub fn invalid_credentials() -> Error {
    Error::new(
        Kind::Unauthenticated,
        "invalid_credentials",
        "The identifier or password is wrong",
    )
}

pub fn try_later(until_ms: i64, now_ms: i64) -> Error {
    Error::new(
        Kind::TooMany,
        "try_later",
        "Too many failed attempts; wait before trying again",
    )
    .retry_after(until_ms.saturating_sub(now_ms))
}

/// Checks a password against the account's hash (a dummy hash when there is none, so unknown
/// and password-less accounts cost the same argon2 work). Takes the limiter's permit: see
/// [`attempts`].
pub async fn verify_password(
    state: &Service,
    _permit: &Permit,
    account: Option<&AccountRow>,
    password: &str,
) -> crate::Result<bool> {
    let pool = &state.accounts.hash_pool;
    match account.and_then(|a| a.password_phc.clone()) {
        Some(phc) => pool
            .verify(password::normalize(password), phc)
            .await
            .map_err(|e| busy_or_internal("verifying a password", e)),
        None => {
            dummy_password_work(state, password).await?;
            Ok(false)
        }
    }
}

/// The argon2 work of a password check without a hash to check against, so refusals cost as much
/// as checks and timing tells nothing.
pub async fn dummy_password_work(state: &Service, password: &str) -> crate::Result<()> {
    state
        .accounts
        .hash_pool
        .verify_dummy(password::normalize(password))
        .await
        .map_err(|e| busy_or_internal("dummy hash", e))
}

/// Maps a password-pool error: busy is a 503 with a retry hint, anything else internal.
pub fn busy_or_internal(what: &str, error: password::PasswordError) -> Error {
    if error == password::PasswordError::Busy {
        return Error::new(
            Kind::Unavailable,
            "busy",
            "The server is busy checking passwords; try again in a moment",
        )
        .retry_after(1_000);
    }
    Error::internal(what, error)
}

/// Checks `password` for `account` (or for an unknown typed identifier) under this client's
/// password budget: the one call for re-authentication, password change and other password
/// gates after login.
pub async fn check_password(
    state: &Service,
    account: Option<&AccountRow>,
    typed_identifier: &str,
    client: &Client,
    password: &str,
) -> crate::Result<Outcome<()>> {
    let key = password_key(state, account, typed_identifier, client).await?;
    attempt(state, &key, async |permit| {
        Ok(
            if verify_password(state, permit, account, password).await? {
                Checked::Right(())
            } else {
                Checked::Wrong(invalid_credentials())
            },
        )
    })
    .await
}
