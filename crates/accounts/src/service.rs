//! Shared state of the account API: the store, the master key, the notifier, the password pool,
//! the injectable clock, the server HMAC key for codes and the in-memory per-IP counters.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use bulwark_identity::Clock;
use bulwark_identity::ip_bucket::{self, IpBuckets, IpFailures, RateLimit};
use bulwark_identity::password::HashPool;
use bulwark_identity::random::HmacKey;
use bulwark_notify::{Notifier, NotifierConfig, NotifyError};
use bulwark_sequencer::CommandBus;
use bulwark_store::Store;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::crypto::MasterKey;

/// The sender of messages when the operator names none.
pub const DEFAULT_MAIL_FROM: &str = "Bulwark <no-reply@bulwark.invalid>";

/// A notifier that writes every message to `outbox_dir`.
pub fn outbox_only(outbox_dir: PathBuf) -> NotifierConfig {
    NotifierConfig {
        from: DEFAULT_MAIL_FROM.into(),
        outbox_dir,
        smtp: None,
        sms_gateway: None,
    }
}

/// The agreement version published on first start when none is current.
pub const DEFAULT_AGREEMENT_VERSION: &str = "2025-01";
/// Label mixed into the master key to derive the code/challenge HMAC key.
const CODE_KEY_LABEL: &[u8] = b"bulwark/api-v1/code-key/1";

/// Long-lived services of the account API.
pub struct Accounts {
    pub notifier: Notifier,
    pub hash_pool: HashPool,
    pub clock: Arc<dyn Clock>,
    /// HMAC key for one-time codes and proof-of-work challenges (derived from the master key).
    pub code_key: HmacKey,
    /// Whether cookies get `Secure`: the public URL is `https://` (a TLS proxy in front).
    pub secure_cookies: bool,
    /// Base URL of the public site, for links in messages.
    pub public_url: String,
    pub open_buckets: Mutex<IpBuckets>,
    pub login_buckets: Mutex<IpBuckets>,
    pub poll_buckets: Mutex<IpBuckets>,
    pub ip_failures: Mutex<IpFailures>,
    /// Per-user limit on QR-login lookups and decisions.
    pub qr_approvals: crate::user_limit::UserLimiter,
    /// The engine's way in, attached once the sequencer runs (freezing cancels open orders).
    bus: OnceLock<Arc<dyn CommandBus>>,
    /// Region, GeoIP and KYC-tier rules, attached once at start (default: none restricted).
    access: OnceLock<Arc<crate::access::Access>>,
}

impl Accounts {
    /// Services with the outbox notifier under `outbox_dir` and the given hash pool and clock.
    pub fn new(
        master_key_bytes: &[u8],
        outbox_dir: PathBuf,
        hash_pool: HashPool,
        clock: Arc<dyn Clock>,
        public_url: String,
    ) -> Result<Accounts, NotifyError> {
        let config = outbox_only(outbox_dir);
        Accounts::with_notifier(master_key_bytes, &config, hash_pool, clock, public_url)
    }

    /// Services whose messages go where `notifier` says (SMTP, SMS gateway, else the outbox).
    pub fn with_notifier(
        master_key_bytes: &[u8],
        notifier: &NotifierConfig,
        hash_pool: HashPool,
        clock: Arc<dyn Clock>,
        public_url: String,
    ) -> Result<Accounts, NotifyError> {
        let notifier = Notifier::new(notifier, Arc::clone(&clock))?;
        Ok(Accounts {
            notifier,
            hash_pool,
            clock,
            code_key: derive_code_key(master_key_bytes),
            // Behind TLS (an https:// public URL) cookies must be Secure.
            secure_cookies: public_url.starts_with("https://"),
            public_url,
            open_buckets: Mutex::new(IpBuckets::new(
                RateLimit::UNAUTHENTICATED,
                ip_bucket::DEFAULT_MAX_ENTRIES,
            )),
            login_buckets: Mutex::new(IpBuckets::new(
                RateLimit::LOGIN,
                ip_bucket::DEFAULT_MAX_ENTRIES,
            )),
            poll_buckets: Mutex::new(IpBuckets::new(
                RateLimit::POLL,
                ip_bucket::DEFAULT_MAX_ENTRIES,
            )),
            ip_failures: Mutex::new(IpFailures::new(ip_bucket::DEFAULT_MAX_ENTRIES)),
            qr_approvals: crate::user_limit::approval_limiter(),
            bus: OnceLock::new(),
            access: OnceLock::new(),
        })
    }

    /// Attaches the command bus (once; later calls are ignored) so a freeze can cancel orders.
    pub fn attach_bus(&self, bus: Arc<dyn CommandBus>) {
        let _ = self.bus.set(bus);
    }

    /// Attaches the access rules (once, before serving; later calls are ignored).
    pub fn attach_access(&self, access: Arc<crate::access::Access>) {
        let _ = self.access.set(access);
    }

    /// The access rules: the attached ones, else no restriction and default limits.
    pub fn access(&self) -> &crate::access::Access {
        self.access
            .get_or_init(|| Arc::new(crate::access::Access::default()))
    }

    /// The attached command bus, if any (router tests run without an engine).
    pub fn bus(&self) -> Option<&dyn CommandBus> {
        self.bus.get().map(|bus| bus.as_ref())
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Recent login failures from `ip`.
    pub fn ip_failures(&self, ip: IpAddr) -> u32 {
        let now_ms = self.now_ms();
        self.ip_failures
            .lock()
            .map(|mut f| f.failures(ip, now_ms))
            .unwrap_or(0)
    }

    pub fn record_ip_failure(&self, ip: IpAddr) {
        let now_ms = self.now_ms();
        if let Ok(mut failures) = self.ip_failures.lock() {
            failures.record_failure(ip, now_ms);
        }
    }

    pub fn record_ip_success(&self, ip: IpAddr) {
        if let Ok(mut failures) = self.ip_failures.lock() {
            failures.record_success(ip);
        }
    }
}

fn derive_code_key(master_key_bytes: &[u8]) -> HmacKey {
    let mut bytes = [0_u8; 32];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(master_key_bytes) {
        mac.update(CODE_KEY_LABEL);
        bytes.copy_from_slice(&mac.finalize().into_bytes());
    }
    HmacKey::from_bytes(bytes)
}

/// State of every /api/v1 handler.
#[derive(Clone)]
pub struct Service {
    pub store: Store,
    pub master_key: Arc<MasterKey>,
    pub accounts: Arc<Accounts>,
}

/// Why the account API could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("notifier: {0}")]
    Notifier(#[from] NotifyError),
    #[error("password pool: {0}")]
    Password(#[from] bulwark_identity::password::PasswordError),
    #[error("store: {0}")]
    Store(#[from] bulwark_store::StoreError),
}

impl Service {
    /// Production wiring: the configured notifier, argon2 pool at policy strength
    /// (warmed up), the wall clock, or the test-only offset clock when `test_clock_file` is
    /// given, and a current agreement version.
    pub async fn start(
        store: Store,
        master_key: Arc<MasterKey>,
        master_key_bytes: &[u8],
        notifier: NotifierConfig,
        public_url: String,
        test_clock_file: Option<PathBuf>,
    ) -> Result<Service, SetupError> {
        let clock: Arc<dyn Clock> = match test_clock_file {
            Some(path) => {
                tracing::warn!(
                    "TEST CLOCK from {}: never use this outside tests",
                    path.display()
                );
                Arc::new(OffsetClock { path })
            }
            None => Arc::new(bulwark_identity::SystemClock),
        };
        let pool = HashPool::new(
            bulwark_identity::password::HashParams::POLICY,
            bulwark_identity::password::default_hash_workers(),
            bulwark_identity::password::DEFAULT_HASH_QUEUE,
        );
        pool.warm_up().await?;
        ensure_agreement(&store, clock.now_ms()).await?;
        let accounts =
            Accounts::with_notifier(master_key_bytes, &notifier, pool, clock, public_url)?;
        Ok(Service {
            store,
            master_key,
            accounts: Arc::new(accounts),
        })
    }
}

/// Publishes [`DEFAULT_AGREEMENT_VERSION`] as current when no version is current, so sign-up
/// works on a fresh data directory.
pub async fn ensure_agreement(store: &Store, now_ms: i64) -> Result<(), bulwark_store::StoreError> {
    if store.current_agreement_version().await?.is_some() {
        return Ok(());
    }
    match store
        .publish_agreement_version(DEFAULT_AGREEMENT_VERSION, now_ms, true)
        .await
    {
        Err(bulwark_store::StoreError::Conflict(_)) => {
            store
                .set_current_agreement_version(DEFAULT_AGREEMENT_VERSION)
                .await
        }
        other => other,
    }
}

/// The wall clock shifted by a millisecond offset read from a file at every call, so end-to-end
/// tests can move time forward (lockouts, expiry) without sleeping. Only ever enabled by the
/// test-only `BULWARK_TEST_CLOCK_FILE` environment variable.
pub struct OffsetClock {
    pub path: PathBuf,
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        let offset_ms = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .unwrap_or(0);
        bulwark_identity::SystemClock
            .now_ms()
            .saturating_add(offset_ms)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn offset_clock_reads_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offset");
        let clock = OffsetClock { path: path.clone() };
        let before = clock.now_ms();
        std::fs::write(&path, "3600000").unwrap();
        assert!(clock.now_ms() >= before + 3_600_000);
    }

    #[test]
    fn code_key_depends_on_master_key() {
        let a = derive_code_key(&[1; 32]).mac(&[b"x"]);
        let b = derive_code_key(&[2; 32]).mac(&[b"x"]);
        assert_ne!(a, b);
    }
}
