//! Password policy, argon2id hashing and the bounded hashing pool.
//!
//! Policy (issue 3, security requirements A1–A9): NFKC-normalise, 12..=128 code points, no
//! composition rules, reject common passwords from a bundled list and passwords containing
//! context words. Hashes are argon2id PHC strings at m = 64 MiB, t = 3, p = 1 (above OWASP ASVS 5
//! Appendix C), verified exactly as received (no truncation or case folding) and flagged for
//! rehash when below the current parameters.
//!
//! Common-password list: `data/common-passwords.txt`, the 30 000-entry PASSWORDS frequency list
//! that the `zxcvbn` crate bundles (MIT), extracted once and lower-cased. We bundle the list rather
//! than depend on `zxcvbn` because only the list is needed and the crate pulls regex engines and a
//! time library; the check never touches the network (A4).

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

use crate::random::{RngError, random_bytes};

/// Fewest code points a password may have (issue 3: 12).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most code points a password may have; longer input is rejected, never truncated.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// The product name, always a forbidden context word (ASVS 5 6.2.11).
pub const SERVICE_NAME: &str = "bulwark";
/// Shorter name or email fragments are too common to forbid ("al", "jo").
const MIN_CONTEXT_WORD_CHARS: usize = 4;
/// A phone number's last digits that identify the subscriber.
const PHONE_TAIL_DIGITS: usize = 7;
/// A repeated unit this short makes the password a pattern, not a passphrase.
const MAX_PATTERN_UNIT_CHARS: usize = 4;
/// Salt length in bytes (128 bits, the argon2 recommendation).
const SALT_BYTES: usize = 16;
/// Concurrent argon2 computations by default: each takes 64 MiB and a whole core for
/// ~0.1–0.5 s, so they get at most half the cores and the engine and journal threads keep the
/// rest. Measured (`bulwark bench loginflood`, 2 vCPU, 20 k orders/s): with 2 workers a login
/// flood raised order acknowledgement p99 from ~0.8–1.8 ms to 18–40 ms; with 1 it stayed at
/// 1.9–2.7 ms (docs/BENCHMARKS.md).
pub fn default_hash_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}
/// Requests allowed to wait for a worker before new ones are refused with `Busy`.
pub const DEFAULT_HASH_QUEUE: usize = 32;

const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Why a password was refused or a hash could not be made or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password is too short: {got} characters, at least {min} are required")]
    TooShort { min: usize, got: usize },
    #[error("password is too long: {got} characters, at most {max} are allowed")]
    TooLong { max: usize, got: usize },
    #[error(
        "password is one of the most commonly used passwords (possibly with digits or symbols \
         added); choose something less predictable"
    )]
    Common,
    #[error(
        "password is a repeated or sequential pattern (like \"aaaa…\" or \"1234…\"); choose \
         something less predictable"
    )]
    Predictable,
    #[error("password contains {kind}; choose one that does not")]
    ContainsContextWord { kind: ContextWord },
    #[error("stored password hash is not a usable argon2id PHC string: {reason}")]
    MalformedHash { reason: String },
    #[error(
        "argon2 parameters m={m_cost_kib} KiB, t={t_cost}, p={p_cost} are below the OWASP ASVS 5 \
         Appendix C minimum"
    )]
    WeakParams {
        m_cost_kib: u32,
        t_cost: u32,
        p_cost: u32,
    },
    #[error("password hashing failed: {reason}")]
    Hashing { reason: String },
    #[error(transparent)]
    Rng(#[from] RngError),
    #[error("the password hashing pool is busy; try again shortly")]
    Busy,
    #[error("the password hashing worker stopped unexpectedly")]
    WorkerFailed,
}

/// Which piece of the user's context a password contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextWord {
    EmailLocalPart,
    PhoneNumber,
    ServiceName,
    DisplayName,
}

impl std::fmt::Display for ContextWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::EmailLocalPart => "the name part of your email address",
            Self::PhoneNumber => "your phone number",
            Self::ServiceName => "the name of this service",
            Self::DisplayName => "your name",
        })
    }
}

/// What we know about the account, so its own details cannot serve as the password (A5).
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordContext<'a> {
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub display_name: Option<&'a str>,
}

/// The form in which a password is measured, hashed and verified (NIST: normalise Unicode so the
/// same password typed on different keyboards verifies).
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// Check a new password against the policy; the first rule it breaks is reported.
pub fn check_policy(password: &str, ctx: &PasswordContext<'_>) -> Result<(), PasswordError> {
    let normalized = normalize(password);
    let got = normalized.chars().count();
    if got < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort {
            min: MIN_PASSWORD_CHARS,
            got,
        });
    }
    if got > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong {
            max: MAX_PASSWORD_CHARS,
            got,
        });
    }
    let lower = normalized.to_lowercase();
    check_context(&lower, ctx)?;
    check_common(&lower)
}

fn check_context(lower: &str, ctx: &PasswordContext<'_>) -> Result<(), PasswordError> {
    if lower.contains(SERVICE_NAME) {
        return Err(PasswordError::ContainsContextWord {
            kind: ContextWord::ServiceName,
        });
    }
    if let Some(email) = ctx.email {
        let local = email.rsplit_once('@').map_or(email, |(local, _)| local);
        if contains_words(lower, local) {
            return Err(PasswordError::ContainsContextWord {
                kind: ContextWord::EmailLocalPart,
            });
        }
    }
    if let Some(name) = ctx.display_name
        && contains_words(lower, name)
    {
        return Err(PasswordError::ContainsContextWord {
            kind: ContextWord::DisplayName,
        });
    }
    if let Some(phone) = ctx.phone {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let tail_start = digits.len().saturating_sub(PHONE_TAIL_DIGITS);
        if let Some(tail) = digits.get(tail_start..)
            && tail.len() == PHONE_TAIL_DIGITS
            && lower.contains(tail)
        {
            return Err(PasswordError::ContainsContextWord {
                kind: ContextWord::PhoneNumber,
            });
        }
    }
    Ok(())
}

/// True if `lower` contains `source` as a whole or any of its alphanumeric words, ignoring the
/// fragments too short to be meaningful.
fn contains_words(lower: &str, source: &str) -> bool {
    let source = normalize(source).to_lowercase();
    let long_enough = |w: &str| w.chars().count() >= MIN_CONTEXT_WORD_CHARS;
    if long_enough(&source) && lower.contains(source.as_str()) {
        return true;
    }
    source
        .split(|c: char| !c.is_alphanumeric())
        .any(|word| long_enough(word) && lower.contains(word))
}

fn common_list() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

fn check_common(lower: &str) -> Result<(), PasswordError> {
    let list = common_list();
    if list.contains(lower) {
        return Err(PasswordError::Common);
    }
    // "password1234", "!!iloveyou!!": a listed word padded with digits or symbols.
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    if core.chars().count() >= MIN_CONTEXT_WORD_CHARS && list.contains(core) {
        return Err(PasswordError::Common);
    }
    if let Some(unit) = repeated_unit(lower) {
        if list.contains(unit) {
            return Err(PasswordError::Common);
        }
        if unit.chars().count() <= MAX_PATTERN_UNIT_CHARS {
            return Err(PasswordError::Predictable);
        }
    }
    if is_sequential(lower) {
        return Err(PasswordError::Predictable);
    }
    Ok(())
}

/// The shortest `u` with `s == u.repeat(k)` for some k ≥ 2.
fn repeated_unit(s: &str) -> Option<&str> {
    let len = s.len();
    (1..=len / 2)
        .filter(|&n| len.is_multiple_of(n) && s.is_char_boundary(n))
        .find_map(|n| {
            let unit = s.get(..n)?;
            (unit.repeat(len / n) == s).then_some(unit)
        })
}

/// "abcdefghijkl", "123456789012", "987654321098": every step +1 (or every step −1).
fn is_sequential(s: &str) -> bool {
    let codes: Vec<u32> = s.chars().map(u32::from).collect();
    let step = |a: u32, b: u32| -> Option<i8> {
        let digits = u32::from('0')..=u32::from('9');
        if digits.contains(&a) && digits.contains(&b) {
            let (da, db) = (a - u32::from('0'), b - u32::from('0'));
            return match (db + 10 - da) % 10 {
                1 => Some(1),
                9 => Some(-1),
                _ => None,
            };
        }
        if b == a.wrapping_add(1) {
            Some(1)
        } else if a == b.wrapping_add(1) {
            Some(-1)
        } else {
            None
        }
    };
    let mut steps = codes.windows(2).map(|w| match w {
        [a, b] => step(*a, *b),
        _ => None,
    });
    match steps.next() {
        Some(Some(first)) => steps.all(|s| s == Some(first)),
        _ => false,
    }
}

/// argon2id cost parameters, kept as plain numbers so configuration and the PHC string agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

/// OWASP's argon2id options (ASVS 5 Appendix C and the password storage cheat sheet): any
/// (memory, iterations) pair at or above one of these is acceptable with p = 1.
const ASVS_ARGON2ID_MINIMA: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

impl HashParams {
    /// Account passwords: m = 64 MiB, t = 3, p = 1 (requirement A9).
    pub const POLICY: Self = Self {
        m_cost_kib: 65_536,
        t_cost: 3,
        p_cost: 1,
    };
    /// Recovery codes: the OWASP m = 19 MiB, t = 2 option. The codes carry 80 random bits, so the
    /// hash only has to satisfy ASVS 5 6.5.2 (salted password hash for secrets < 112 bits); a
    /// recovery attempt checks up to 10 hashes, so each one is kept cheaper than a login hash.
    pub const RECOVERY_CODE: Self = Self {
        m_cost_kib: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    /// Tiny parameters so tests can hash in microseconds. Never configure these in production:
    /// [`HashParams::meets_asvs_minimum`] is false for them.
    pub const fn fast_insecure_for_tests() -> Self {
        Self {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }

    /// Whether these parameters reach one of the OWASP ASVS 5 Appendix C argon2id options.
    pub fn meets_asvs_minimum(&self) -> bool {
        self.p_cost >= 1
            && ASVS_ARGON2ID_MINIMA
                .iter()
                .any(|&(m, t)| self.m_cost_kib >= m && self.t_cost >= t)
    }

    /// Parameters from configuration, refused when below the ASVS minimum.
    pub fn validated(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, PasswordError> {
        let params = Self {
            m_cost_kib,
            t_cost,
            p_cost,
        };
        if params.meets_asvs_minimum() {
            Ok(params)
        } else {
            Err(PasswordError::WeakParams {
                m_cost_kib,
                t_cost,
                p_cost,
            })
        }
    }

    fn hasher(&self) -> Result<Argon2<'static>, PasswordError> {
        let params = Params::new(self.m_cost_kib, self.t_cost, self.p_cost, None).map_err(|e| {
            PasswordError::Hashing {
                reason: e.to_string(),
            }
        })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hash a password (after NFKC normalisation) to an argon2id PHC string with a fresh salt.
pub fn hash_password(password: &str, params: &HashParams) -> Result<String, PasswordError> {
    let salt: [u8; SALT_BYTES] = random_bytes()?;
    let hash = params
        .hasher()?
        .hash_password_with_salt(normalize(password).as_bytes(), &salt)
        .map_err(|e| PasswordError::Hashing {
            reason: e.to_string(),
        })?;
    Ok(hash.to_string())
}

fn parse_phc(phc: &str) -> Result<PasswordHash, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|e| PasswordError::MalformedHash {
        reason: e.to_string(),
    })?;
    if parsed.algorithm.as_str() != Algorithm::Argon2id.ident().as_str() {
        return Err(PasswordError::MalformedHash {
            reason: format!("algorithm {} is not argon2id", parsed.algorithm.as_str()),
        });
    }
    Ok(parsed)
}

/// Check a password against a stored PHC string using the parameters recorded in it.
/// `Ok(false)` is a wrong password; `Err` is a hash we cannot use.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let parsed = parse_phc(phc)?;
    match Argon2::default().verify_password(normalize(password).as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(PasswordError::Hashing {
            reason: e.to_string(),
        }),
    }
}

/// Whether a stored hash was made with weaker settings than `current`, so the caller should
/// rehash the (just verified) password and store the new PHC string.
pub fn needs_rehash(phc: &str, current: &HashParams) -> Result<bool, PasswordError> {
    let parsed = parse_phc(phc)?;
    if parsed.version != Some(Version::V0x13.into()) {
        return Ok(true);
    }
    let params = Params::try_from(&parsed).map_err(|e| PasswordError::MalformedHash {
        reason: e.to_string(),
    })?;
    Ok(params.m_cost() < current.m_cost_kib
        || params.t_cost() < current.t_cost
        || params.p_cost() < current.p_cost)
}

/// Runs argon2 work on tokio's blocking threads with bounded concurrency and a bounded queue, so
/// a login flood degrades into fast `Busy` refusals instead of starving the runtime (and trading).
#[derive(Clone, Debug)]
pub struct HashPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    params: HashParams,
    workers: Arc<Semaphore>,
    admission: Arc<Semaphore>,
    worker_count: usize,
    admission_count: usize,
    /// Jobs refused because the queue was full.
    busy: std::sync::atomic::AtomicU64,
    dummy_phc: OnceLock<String>,
}

/// How loaded the pool is, for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLoad {
    pub workers: usize,
    pub running: usize,
    /// Admitted jobs waiting for a worker.
    pub queued: usize,
    pub queue_max: usize,
    pub busy_refusals: u64,
}

impl HashPool {
    /// A pool running at most `workers` hashes at once with at most `queue` more waiting.
    pub fn new(params: HashParams, workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let admission = workers.saturating_add(queue);
        Self {
            inner: Arc::new(PoolInner {
                params,
                workers: Arc::new(Semaphore::new(workers)),
                admission: Arc::new(Semaphore::new(admission)),
                worker_count: workers,
                admission_count: admission,
                busy: std::sync::atomic::AtomicU64::new(0),
                dummy_phc: OnceLock::new(),
            }),
        }
    }

    /// The parameters new hashes are made with (and `needs_rehash` should compare against).
    pub fn params(&self) -> HashParams {
        self.inner.params
    }

    /// Running and waiting jobs now, and how many were refused as busy so far.
    pub fn load(&self) -> PoolLoad {
        let inner = &self.inner;
        let admitted = inner
            .admission_count
            .saturating_sub(inner.admission.available_permits());
        let running = inner
            .worker_count
            .saturating_sub(inner.workers.available_permits());
        PoolLoad {
            workers: inner.worker_count,
            running,
            queued: admitted.saturating_sub(running),
            queue_max: inner.admission_count.saturating_sub(inner.worker_count),
            busy_refusals: inner.busy.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Run any blocking job (argon2 work such as recovery-code checks) under the pool's limits.
    /// Permits travel with the job, so a caller that gives up cannot let extra jobs start.
    pub async fn run<T, F>(&self, job: F) -> Result<T, PasswordError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let ticket = Arc::clone(&self.inner.admission)
            .try_acquire_owned()
            .map_err(|_| {
                self.inner
                    .busy
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                PasswordError::Busy
            })?;
        let worker = Arc::clone(&self.inner.workers)
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::WorkerFailed)?;
        tokio::task::spawn_blocking(move || {
            let out = job();
            drop(worker);
            drop(ticket);
            out
        })
        .await
        .map_err(|_| PasswordError::WorkerFailed)
    }

    /// Hash a new password with the pool's parameters.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let params = self.inner.params;
        self.run(move || hash_password(&password, &params)).await?
    }

    /// Verify a password against a stored PHC string.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, PasswordError> {
        self.run(move || verify_password(&password, &phc)).await?
    }

    /// Spend the same work as a real verification against a throw-away hash, for unknown or
    /// locked accounts, so response timing does not reveal whether an account exists (B5).
    pub async fn verify_dummy(&self, password: String) -> Result<(), PasswordError> {
        let inner = Arc::clone(&self.inner);
        self.run(move || {
            let phc = dummy_phc(&inner)?;
            verify_password(&password, &phc).map(|_| ())
        })
        .await?
    }

    /// Compute the throw-away hash now (call at startup), so the first `verify_dummy` costs the
    /// same as every later one.
    pub async fn warm_up(&self) -> Result<(), PasswordError> {
        let inner = Arc::clone(&self.inner);
        self.run(move || dummy_phc(&inner).map(|_| ())).await?
    }
}

fn dummy_phc(inner: &PoolInner) -> Result<String, PasswordError> {
    if let Some(phc) = inner.dummy_phc.get() {
        return Ok(phc.clone());
    }
    let seed: [u8; 16] = random_bytes()?;
    let phc = hash_password(&hex::encode(seed), &inner.params)?;
    Ok(inner.dummy_phc.get_or_init(|| phc).clone())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use proptest::prelude::*;

    const FAST: HashParams = HashParams::fast_insecure_for_tests();
    const GOOD: &str = "violet tractor harbour 42";

    fn ctx() -> PasswordContext<'static> {
        PasswordContext {
            email: Some("john.smith+x@example.com"),
            phone: Some("+44 20 7946 0958"),
            display_name: Some("Marguerite Okafor"),
        }
    }

    #[test]
    fn length_counts_code_points_after_nfkc() {
        assert_eq!(
            check_policy("abcdefghijk", &PasswordContext::default()),
            Err(PasswordError::TooShort { min: 12, got: 11 })
        );
        assert_eq!(
            check_policy("zq7 mxl4 wvrt", &PasswordContext::default()),
            Ok(())
        );
        // 12 code points of 2-byte characters: 24 bytes, still 12 characters.
        assert_eq!(
            check_policy("éàüöñçøåßðþæ", &PasswordContext::default()),
            Ok(())
        );
        let long_ok: String = "kq9x".repeat(31) + "mzlv";
        assert_eq!(long_ok.chars().count(), 128);
        assert_eq!(check_policy(&long_ok, &PasswordContext::default()), Ok(()));
        let too_long = format!("{long_ok}p");
        assert_eq!(
            check_policy(&too_long, &PasswordContext::default()),
            Err(PasswordError::TooLong { max: 128, got: 129 })
        );
    }

    #[test]
    fn passphrases_and_unicode_are_accepted() {
        assert_eq!(check_policy("correct horse battery staple", &ctx()), Ok(()));
        assert_eq!(check_policy("пароль для биржи надёжный", &ctx()), Ok(()));
        assert_eq!(check_policy(GOOD, &ctx()), Ok(()));
    }

    #[test]
    fn common_passwords_are_rejected() {
        let none = PasswordContext::default();
        for pw in [
            "qwertyuiop123",
            "1qaz2wsx3edc",
            "password1234",
            "Password!!!!",
            "!!!iloveyou!!!",
        ] {
            assert_eq!(check_policy(pw, &none), Err(PasswordError::Common), "{pw}");
        }
        assert_eq!(
            check_policy("passwordpassword", &none),
            Err(PasswordError::Common)
        );
        assert_eq!(
            check_policy("dragondragon", &none),
            Err(PasswordError::Common)
        );
    }

    #[test]
    fn every_long_list_entry_is_rejected() {
        let none = PasswordContext::default();
        for entry in common_list()
            .iter()
            .filter(|e| e.chars().count() >= MIN_PASSWORD_CHARS)
        {
            let pw = entry.to_uppercase();
            let got = check_policy(&pw, &none);
            assert!(got.is_err(), "{entry} accepted");
        }
    }

    #[test]
    fn patterns_are_rejected() {
        let none = PasswordContext::default();
        for pw in [
            "aaaaaaaaaaaa",
            "abababababab",
            "abcdefghijklm",
            "123456789012",
            "987654321098",
        ] {
            assert!(
                matches!(
                    check_policy(pw, &none),
                    Err(PasswordError::Predictable | PasswordError::Common)
                ),
                "{pw}"
            );
        }
        assert_eq!(
            check_policy("xyzxyzxyzxyz", &none),
            Err(PasswordError::Predictable)
        );
        assert_eq!(
            check_policy("lmnopqrstuvw", &none),
            Err(PasswordError::Predictable)
        );
    }

    #[test]
    fn context_words_are_rejected_case_insensitively() {
        let c = ctx();
        let cases = [
            ("my Bulwark account!", ContextWord::ServiceName),
            ("SMITH family vault 9", ContextWord::EmailLocalPart),
            ("john.smith forever", ContextWord::EmailLocalPart),
            ("okafor and the river", ContextWord::DisplayName),
            ("ring 79460958 anytime", ContextWord::PhoneNumber),
        ];
        for (pw, kind) in cases {
            assert_eq!(
                check_policy(pw, &c),
                Err(PasswordError::ContainsContextWord { kind }),
                "{pw}"
            );
        }
        // Digits broken up by a space are not the phone number.
        assert_eq!(check_policy("call me at 7946 0958 ok", &c), Ok(()));
    }

    #[test]
    fn short_context_fragments_are_allowed() {
        let c = PasswordContext {
            email: Some("al@example.com"),
            ..Default::default()
        };
        assert_eq!(check_policy("always calm water 7", &c), Ok(()));
    }

    #[test]
    fn errors_have_messages() {
        let e = PasswordError::ContainsContextWord {
            kind: ContextWord::EmailLocalPart,
        };
        assert_eq!(
            e.to_string(),
            "password contains the name part of your email address; choose one that does not"
        );
        assert!(
            PasswordError::TooShort { min: 12, got: 3 }
                .to_string()
                .contains("at least 12")
        );
    }

    #[test]
    fn hash_and_verify_roundtrip_exactly() {
        let phc = hash_password(GOOD, &FAST).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(verify_password(GOOD, &phc).unwrap());
        assert!(!verify_password(&format!("{GOOD}x"), &phc).unwrap());
        assert!(!verify_password(&GOOD[..GOOD.len() - 1], &phc).unwrap());
        assert!(!verify_password(&GOOD.to_uppercase(), &phc).unwrap());
    }

    #[test]
    fn nfc_and_nfd_forms_verify() {
        let nfc = "caf\u{e9} au lait tous les jours";
        let nfd = "cafe\u{301} au lait tous les jours";
        let phc = hash_password(nfc, &FAST).unwrap();
        assert!(verify_password(nfd, &phc).unwrap());
    }

    #[test]
    fn policy_hash_has_required_params() {
        let phc = hash_password(GOOD, &HashParams::POLICY).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=65536,t=3,p=1$"), "{phc}");
        assert!(!needs_rehash(&phc, &HashParams::POLICY).unwrap());
        assert!(verify_password(GOOD, &phc).unwrap());
    }

    #[test]
    fn rehash_when_below_policy() {
        let weak = hash_password(GOOD, &FAST).unwrap();
        assert!(needs_rehash(&weak, &HashParams::POLICY).unwrap());
        assert!(!needs_rehash(&weak, &FAST).unwrap());
    }

    #[test]
    fn malformed_or_foreign_hashes_are_errors() {
        assert!(matches!(
            verify_password(GOOD, "not a hash"),
            Err(PasswordError::MalformedHash { .. })
        ));
        let argon2i = "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(matches!(
            needs_rehash(argon2i, &FAST),
            Err(PasswordError::MalformedHash { .. })
        ));
    }

    #[test]
    fn asvs_minimum_table() {
        assert!(HashParams::POLICY.meets_asvs_minimum());
        assert!(HashParams::RECOVERY_CODE.meets_asvs_minimum());
        assert!(!FAST.meets_asvs_minimum());
        assert!(HashParams::validated(47_104, 1, 1).is_ok());
        assert_eq!(
            HashParams::validated(47_103, 1, 1),
            Err(PasswordError::WeakParams {
                m_cost_kib: 47_103,
                t_cost: 1,
                p_cost: 1
            })
        );
        assert!(HashParams::validated(12_288, 3, 1).is_ok());
        assert!(HashParams::validated(12_288, 2, 1).is_err());
    }

    #[tokio::test]
    async fn pool_hashes_and_verifies() {
        let pool = HashPool::new(FAST, 2, 4);
        let phc = pool.hash(GOOD.to_string()).await.unwrap();
        assert!(pool.verify(GOOD.to_string(), phc.clone()).await.unwrap());
        assert!(
            !pool
                .verify("wrong password here".into(), phc)
                .await
                .unwrap()
        );
        pool.warm_up().await.unwrap();
        assert!(pool.inner.dummy_phc.get().is_some());
        pool.verify_dummy(GOOD.to_string()).await.unwrap();
        pool.verify_dummy(GOOD.to_string()).await.unwrap();
    }

    #[tokio::test]
    async fn pool_refuses_beyond_its_queue() {
        let pool = HashPool::new(FAST, 1, 1);
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let blocker = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = started_tx.send(());
                    let _ = release_rx.recv();
                })
                .await
            })
        };
        started_rx.await.unwrap();
        // One worker busy; one more may queue; the third is refused at once.
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| 7).await })
        };
        while pool.inner.admission.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| 1).await, Err(PasswordError::Busy));
        release_tx.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap().unwrap(), 7);
        assert_eq!(pool.run(|| 3).await.unwrap(), 3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn any_password_verifies_against_its_own_hash(pw in "\\PC{1,40}") {
            let phc = hash_password(&pw, &FAST).unwrap();
            prop_assert!(verify_password(&pw, &phc).unwrap());
            let other = format!("{pw}!");
            prop_assert!(!verify_password(&other, &phc).unwrap());
        }
    }
}
