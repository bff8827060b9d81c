//! Configuration: built-in defaults, then an optional TOML file, then `BULWARK_*` environment
//! variables, then command-line flags — each layer overriding the one before. Every field has a
//! default, so `bulwark serve` with nothing else runs a complete exchange under `./data`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// When the journal is flushed to stable storage.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FsyncMode {
    /// fsync every batch before acknowledging (the default, and the only durable choice).
    #[default]
    Always,
    /// NOT DURABLE: never fsync. Acknowledged orders can be lost on a crash or power cut.
    /// For throwaway benchmarks and demos only.
    NeverUnsafe,
}

/// The whole configuration, as the TOML file spells it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Journal, snapshots, SQLite file, keys and the admin token live here.
    pub data_dir: PathBuf,
    /// Public listener: web, REST, WebSocket.
    pub http_addr: SocketAddr,
    /// Staff listener: admin API, authenticated by the admin token.
    pub admin_addr: SocketAddr,
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://DATA/bulwark.db`.
    pub database_url: String,
    pub fsync: FsyncMode,
    /// Size of each preallocated journal segment.
    pub journal_segment_bytes: u64,
    /// Commands between engine snapshots.
    pub snapshot_every_commands: u64,
    /// Orders that may wait for the engine before new ones get "system busy".
    pub order_queue_max: usize,
    /// Order-entry HTTP requests in progress at once before new ones get "system busy".
    pub order_inflight_max: usize,
    /// Run the demo market maker on every market (`serve --demo`).
    pub demo: bool,
    /// Public API requests per second from one IP address (bursts of twice that).
    pub rate_limit_per_ip: u32,
    /// Multiplies every BitMart endpoint group's budget (order entry, cancels, queries, account,
    /// market data); 1 keeps BitMart's published limits.
    pub api_rate_limit_scale: u32,
    /// Restricted regions: countries ("KP") and subdivisions ("US-NY"). Sign-up and login from
    /// a restricted country are refused; users residing in one may only view and withdraw.
    pub restricted_regions: Vec<String>,
    /// GeoIP file placing client addresses in countries: a MaxMind `.mmdb` or a tor-geoipdb
    /// text file (format detected). None: countries are unknown.
    pub geoip_file: Option<PathBuf>,
    /// Proxies (addresses or CIDRs) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Daily (rolling 24 h) withdrawal limit of KYC level L1, in USDT.
    pub kyc_l1_withdraw_usdt: u64,
    /// Daily (rolling 24 h) withdrawal limit of KYC level L2, in USDT.
    pub kyc_l2_withdraw_usdt: u64,
    /// The address people reach the site at, used in emailed links and QR codes; empty means
    /// `http://HTTP_ADDR` (`https://` with TLS on). An `https://` URL (TLS here or in a proxy in
    /// front) also marks cookies `Secure`.
    pub public_url: String,
    /// TLS on the public listener: a PEM certificate chain and its PEM private key, read again
    /// on SIGHUP. Both or neither; neither serves plain HTTP.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Sender of emails, e.g. `Bulwark <no-reply@exchange.example>`.
    pub mail_from: String,
    /// SMTP server for emails (`[smtp]` table: host, port, tls = "none" | "start-tls" |
    /// "implicit", username, password, timeout_ms). None: emails go to `DATA/outbox/`.
    pub smtp: Option<bulwark_notify::SmtpConfig>,
    /// HTTP SMS gateway (`[sms_gateway]` table: url, bearer_token, timeout_ms). None: texts go
    /// to `DATA/outbox/`.
    pub sms_gateway: Option<bulwark_notify::SmsGatewayConfig>,
    /// Custody (`[custody]` table): coins per network with confirmations, minimums and fees,
    /// approval thresholds, the hot wallet's share, the simulated chains' block interval.
    pub custody: bulwark_custody::CustodyConfig,
    /// Hours between transparency reports published on their own (0: only on demand).
    pub report_interval_hours: u64,
    /// The external insurer behind the Safeguard fund (`[insurer]` table: name, policy_id,
    /// limit_usdt, deductible_usdt); None: no insurer layer.
    pub insurer: Option<bulwark_safeguard::insurer_policy::InsurerPolicy>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_dir: PathBuf::from("data"),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 8081)),
            database_url: String::new(),
            fsync: FsyncMode::Always,
            journal_segment_bytes: 64 * 1024 * 1024,
            snapshot_every_commands: 100_000,
            order_queue_max: 65_536,
            rate_limit_per_ip: bulwark_api::rate_limit::REQUESTS_PER_SECOND_PER_IP,
            api_rate_limit_scale: 1,
            order_inflight_max: bulwark_api::group_limits::ORDER_INFLIGHT_DEFAULT,
            demo: false,
            restricted_regions: Vec::new(),
            geoip_file: None,
            trusted_proxies: Vec::new(),
            kyc_l1_withdraw_usdt: DEFAULT_KYC_L1_WITHDRAW_USDT,
            kyc_l2_withdraw_usdt: DEFAULT_KYC_L2_WITHDRAW_USDT,
            public_url: String::new(),
            tls_cert_file: None,
            tls_key_file: None,
            mail_from: bulwark_accounts::service::DEFAULT_MAIL_FROM.into(),
            smtp: None,
            sms_gateway: None,
            custody: bulwark_custody::CustodyConfig::default(),
            report_interval_hours: DEFAULT_REPORT_INTERVAL_HOURS,
            insurer: None,
        }
    }
}

/// Flags and environment overrides of `bulwark serve`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "BULWARK_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(long, env = "BULWARK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[arg(long, env = "BULWARK_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    #[arg(long, env = "BULWARK_ADMIN_ADDR")]
    pub admin_addr: Option<SocketAddr>,
    #[arg(long, env = "BULWARK_DATABASE_URL")]
    pub database_url: Option<String>,
    /// `always` (default) or `never-unsafe` (not durable).
    #[arg(long, env = "BULWARK_FSYNC", value_enum)]
    pub fsync: Option<FsyncMode>,
    #[arg(long, env = "BULWARK_SNAPSHOT_EVERY_COMMANDS")]
    pub snapshot_every_commands: Option<u64>,
    #[arg(long, env = "BULWARK_JOURNAL_SEGMENT_BYTES")]
    pub journal_segment_bytes: Option<u64>,
    /// Public API requests per second per IP address.
    #[arg(long, env = "BULWARK_RATE_LIMIT_PER_IP")]
    pub rate_limit_per_ip: Option<u32>,
    /// Multiplier of every BitMart endpoint group's request budget (default 1).
    #[arg(long, env = "BULWARK_API_RATE_LIMIT_SCALE")]
    pub api_rate_limit_scale: Option<u32>,
    /// Order-entry requests in progress at once before new ones get "system busy" (30014).
    #[arg(long, env = "BULWARK_ORDER_INFLIGHT_MAX")]
    pub order_inflight_max: Option<usize>,
    /// Seed demo users and run a market maker on every market through the public API.
    #[arg(long, env = "BULWARK_DEMO")]
    pub demo: bool,
    /// Restricted region codes, comma-separated (e.g. `KP,IR,US-NY`).
    #[arg(long, env = "BULWARK_RESTRICTED_REGIONS", value_delimiter = ',')]
    pub restricted_regions: Option<Vec<String>>,
    /// GeoIP file (`.mmdb` or tor-geoipdb text).
    #[arg(long, env = "BULWARK_GEOIP_FILE")]
    pub geoip_file: Option<PathBuf>,
    /// Trusted proxy addresses or CIDRs, comma-separated.
    #[arg(long, env = "BULWARK_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// KYC L1 daily withdrawal limit in USDT.
    #[arg(long, env = "BULWARK_KYC_L1_WITHDRAW_USDT")]
    pub kyc_l1_withdraw_usdt: Option<u64>,
    /// KYC L2 daily withdrawal limit in USDT.
    #[arg(long, env = "BULWARK_KYC_L2_WITHDRAW_USDT")]
    pub kyc_l2_withdraw_usdt: Option<u64>,
    /// Public site URL for links and QR codes (`https://…` marks cookies Secure).
    #[arg(long, env = "BULWARK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// TLS certificate chain (PEM) for the public listener; needs --tls-key. SIGHUP reloads it.
    #[arg(long, env = "BULWARK_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for the public listener.
    #[arg(long, env = "BULWARK_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Block interval of the simulated chains in milliseconds (0: mine only on command).
    #[arg(long, env = "BULWARK_SIM_BLOCK_MS")]
    pub sim_block_ms: Option<u64>,
    /// Most of each asset's custody kept in the hot wallet, in basis points (default 200).
    #[arg(long, env = "BULWARK_HOT_SHARE_BPS")]
    pub hot_share_bps: Option<u32>,
    /// Withdrawals worth more USDT than this wait for staff approvals (default 10000).
    #[arg(long, env = "BULWARK_AUTO_APPROVE_USDT")]
    pub auto_approve_usdt: Option<u64>,
    /// Hours between transparency reports (default 24; 0: only on demand).
    #[arg(long, env = "BULWARK_REPORT_INTERVAL_HOURS")]
    pub report_interval_hours: Option<u64>,
    /// Fault injection for fire drills (`bulwark drill`): `crash-after-movement-signatures`
    /// aborts the process when a fund movement has collected its signatures, before it runs.
    #[arg(long, hide = true, value_parser = ["crash-after-movement-signatures"])]
    pub fault: Option<String>,
}

/// Transparency reports are published daily unless configured otherwise.
pub const DEFAULT_REPORT_INTERVAL_HOURS: u64 = 24;

/// Default daily withdrawal limit of KYC level L1, in USDT.
pub const DEFAULT_KYC_L1_WITHDRAW_USDT: u64 = 2_000;
/// Default daily withdrawal limit of KYC level L2, in USDT.
pub const DEFAULT_KYC_L2_WITHDRAW_USDT: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then the file named by `--config`, then flags and environment.
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let mut config = match &args.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(v) = &args.data_dir {
            config.data_dir = v.clone();
        }
        if let Some(v) = args.http_addr {
            config.http_addr = v;
        }
        if let Some(v) = args.admin_addr {
            config.admin_addr = v;
        }
        if let Some(v) = &args.database_url {
            config.database_url = v.clone();
        }
        if let Some(v) = args.fsync {
            config.fsync = v;
        }
        if let Some(v) = args.snapshot_every_commands {
            config.snapshot_every_commands = v;
        }
        if let Some(v) = args.journal_segment_bytes {
            config.journal_segment_bytes = v;
        }
        if let Some(v) = args.rate_limit_per_ip {
            config.rate_limit_per_ip = v;
        }
        if let Some(v) = args.api_rate_limit_scale {
            config.api_rate_limit_scale = v;
        }
        if let Some(v) = args.order_inflight_max {
            config.order_inflight_max = v;
        }
        if let Some(v) = args.sim_block_ms {
            config.custody.sim_block_ms = v;
        }
        if args.fault.as_deref() == Some("crash-after-movement-signatures") {
            tracing::warn!(
                "fault injection armed: the process aborts after a movement's last signature"
            );
            config.custody.crash_after_signatures = true;
        }
        if let Some(v) = args.hot_share_bps {
            // The alarm sits above the share; custody refuses shares above 100%.
            config.custody.hot_share_bps = v;
            config.custody.hot_alarm_bps = config.custody.hot_alarm_bps.max(v);
        }
        if let Some(v) = args.auto_approve_usdt {
            config.custody.auto_approve_usdt_micros = i64::try_from(v)
                .ok()
                .and_then(|v| v.checked_mul(1_000_000))
                .ok_or_else(|| ConfigError::Invalid(format!("auto-approval threshold {v}")))?;
        }
        if let Some(v) = args.report_interval_hours {
            config.report_interval_hours = v;
        }
        if args.demo {
            config.demo = true;
        }
        if let Some(v) = &args.restricted_regions {
            config.restricted_regions =
                v.iter().filter(|s| !s.trim().is_empty()).cloned().collect();
        }
        if let Some(v) = &args.geoip_file {
            config.geoip_file = Some(v.clone());
        }
        if let Some(v) = &args.trusted_proxies {
            config.trusted_proxies = v.iter().filter(|s| !s.trim().is_empty()).cloned().collect();
        }
        if let Some(v) = args.kyc_l1_withdraw_usdt {
            config.kyc_l1_withdraw_usdt = v;
        }
        if let Some(v) = args.kyc_l2_withdraw_usdt {
            config.kyc_l2_withdraw_usdt = v;
        }
        if let Some(v) = &args.public_url {
            config.public_url = v.clone();
        }
        if let Some(v) = &args.tls_cert {
            config.tls_cert_file = Some(v.clone());
        }
        if let Some(v) = &args.tls_key {
            config.tls_key_file = Some(v.clone());
        }
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.into(),
            source,
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.journal_segment_bytes < 64 * 1024 {
            return Err(ConfigError::Invalid(
                "journal_segment_bytes must be at least 65536".into(),
            ));
        }
        if self.rate_limit_per_ip == 0 {
            return Err(ConfigError::Invalid(
                "rate_limit_per_ip must be positive".into(),
            ));
        }
        if self.order_queue_max == 0 {
            return Err(ConfigError::Invalid(
                "order_queue_max must be positive".into(),
            ));
        }
        if self.order_inflight_max == 0 {
            return Err(ConfigError::Invalid(
                "order_inflight_max must be positive".into(),
            ));
        }
        if let Some(insurer) = &self.insurer {
            insurer.validate().map_err(ConfigError::Invalid)?;
        }
        if self.http_addr == self.admin_addr {
            return Err(ConfigError::Invalid(
                "http_addr and admin_addr must differ".into(),
            ));
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert_file and tls_key_file go together: set both, or neither for plain HTTP"
                    .into(),
            ));
        }
        self.access_rules(None)?;
        let url = self.public_url.trim_end_matches('/');
        let scheme_ok = url.is_empty() || url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok || url.contains(char::is_whitespace) || url.ends_with("//") {
            return Err(ConfigError::Invalid(format!(
                "public_url must be an http:// or https:// URL, got {:?}",
                self.public_url
            )));
        }
        Ok(())
    }

    /// Where messages go: the configured SMTP server and SMS gateway, the outbox otherwise.
    pub fn notifier(&self, outbox_dir: PathBuf) -> bulwark_notify::NotifierConfig {
        bulwark_notify::NotifierConfig {
            from: self.mail_from.clone(),
            outbox_dir,
            smtp: self.smtp.clone(),
            sms_gateway: self.sms_gateway.clone(),
        }
    }

    /// The certificate and key files when the public listener speaks TLS.
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        Some((
            self.tls_cert_file.as_deref()?,
            self.tls_key_file.as_deref()?,
        ))
    }

    /// The URL emailed links and QR codes point at.
    pub fn public_url(&self) -> String {
        let url = self.public_url.trim_end_matches('/');
        if url.is_empty() {
            let scheme = if self.tls().is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{}", self.http_addr)
        } else {
            url.to_string()
        }
    }

    /// Cookies get `Secure` when people reach the site over TLS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url().starts_with("https://")
    }

    /// Region, GeoIP and KYC-limit rules; the GeoIP file is read only when `geoip_file` is
    /// given (so validation stays cheap).
    fn access_rules(
        &self,
        geoip_file: Option<&Path>,
    ) -> Result<bulwark_accounts::access::Access, ConfigError> {
        bulwark_accounts::access::Access::from_config(
            geoip_file,
            &self.restricted_regions,
            &self.trusted_proxies,
            self.kyc_l1_withdraw_usdt,
            self.kyc_l2_withdraw_usdt,
        )
        .map_err(|error| ConfigError::Invalid(error.to_string()))
    }

    /// The access rules of `serve`, loading the GeoIP file when one is configured.
    pub fn access(&self) -> Result<bulwark_accounts::access::Access, ConfigError> {
        self.access_rules(self.geoip_file.as_deref())
    }

    /// The SQL store URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("bulwark.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bulwark.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/x\"\nhttp_addr = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            http_addr: Some("127.0.0.1:9100".parse().unwrap()),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/x"));
        assert_eq!(config.http_addr.port(), 9100);
        assert_eq!(config.admin_addr.port(), 8081);
        assert_eq!(config.fsync, FsyncMode::Always);
        assert!(
            config
                .database_url()
                .starts_with("sqlite:///srv/x/bulwark.db")
        );
    }

    #[test]
    fn region_and_kyc_settings_layer_and_validate() {
        let dir = tempfile::tempdir().unwrap();
        let geoip = dir.path().join("geoip");
        std::fs::write(&geoip, "3221226240,3221226495,KP\n").unwrap();
        let file = dir.path().join("bulwark.toml");
        std::fs::write(
            &file,
            format!(
                "restricted_regions = [\"KP\", \"US-NY\"]\ntrusted_proxies = [\"10.0.0.0/8\"]\n\
                 geoip_file = \"{}\"\nkyc_l1_withdraw_usdt = 500\n",
                geoip.display()
            ),
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            kyc_l2_withdraw_usdt: Some(9_000),
            trusted_proxies: Some(vec!["127.0.0.1".into(), "".into()]),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.restricted_regions, ["KP", "US-NY"]);
        assert_eq!(config.trusted_proxies, ["127.0.0.1"]);
        assert_eq!(config.kyc_l1_withdraw_usdt, 500);
        assert_eq!(config.kyc_l2_withdraw_usdt, 9_000);
        let access = config.access().unwrap();
        assert_eq!(
            access.withdraw_limit_usdt_micros(bulwark_accounts::access::tier_of(1)),
            500_000_000
        );
        assert_eq!(
            access.country("192.0.3.1".parse().unwrap()).as_deref(),
            Some("KP")
        );
        assert_eq!(Config::default().kyc_l1_withdraw_usdt, 2_000);
        for bad in [
            ServeArgs {
                restricted_regions: Some(vec!["USA".into()]),
                ..ServeArgs::default()
            },
            ServeArgs {
                trusted_proxies: Some(vec!["10.0.0.0/40".into()]),
                ..ServeArgs::default()
            },
            ServeArgs {
                kyc_l1_withdraw_usdt: Some(0),
                ..ServeArgs::default()
            },
            ServeArgs {
                kyc_l1_withdraw_usdt: Some(10),
                kyc_l2_withdraw_usdt: Some(5),
                ..ServeArgs::default()
            },
        ] {
            assert!(matches!(Config::load(&bad), Err(ConfigError::Invalid(_))));
        }
        let missing = ServeArgs {
            geoip_file: Some(dir.path().join("missing")),
            ..ServeArgs::default()
        };
        assert!(Config::load(&missing).unwrap().access().is_err());
    }

    #[test]
    fn public_url_defaults_to_the_listener_and_https_means_secure_cookies() {
        let config = Config::default();
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
        assert!(!config.secure_cookies());
        let args = ServeArgs {
            public_url: Some("https://exchange.example/".into()),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.public_url(), "https://exchange.example");
        assert!(config.secure_cookies());
        for bad in ["ftp://x", "exchange.example", "https://a b"] {
            let args = ServeArgs {
                public_url: Some(bad.into()),
                ..ServeArgs::default()
            };
            assert!(Config::load(&args).is_err(), "{bad}");
        }
    }

    #[test]
    fn smtp_and_sms_gateway_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bulwark.toml");
        std::fs::write(
            &path,
            "mail_from = \"Ex <no-reply@exchange.example>\"\n\
             [smtp]\nhost = \"mail.example\"\nport = 587\ntls = \"start-tls\"\n\
             username = \"bulwark\"\npassword = \"s3cret\"\n\
             [sms_gateway]\nurl = \"https://sms.example/send\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        let notifier = config.notifier(dir.path().join("outbox"));
        assert_eq!(notifier.from, "Ex <no-reply@exchange.example>");
        let smtp = notifier.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("mail.example", Some(587)));
        assert_eq!(smtp.tls, bulwark_notify::SmtpTls::StartTls);
        assert_eq!(
            notifier.sms_gateway.unwrap().url,
            "https://sms.example/send"
        );
        assert!(
            !format!("{config:?}").contains("s3cret"),
            "no secret in Debug"
        );
        // Without them everything goes to the outbox.
        let plain = Config::default().notifier(dir.path().join("outbox"));
        assert!(plain.smtp.is_none() && plain.sms_gateway.is_none());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "http_adr = \"127.0.0.1:9000\"\n").unwrap();
        let args = ServeArgs {
            config: Some(file),
            ..ServeArgs::default()
        };
        assert!(matches!(
            Config::load(&args),
            Err(ConfigError::Parse { .. })
        ));
        let same = ServeArgs {
            admin_addr: Some("127.0.0.1:8080".parse().unwrap()),
            ..ServeArgs::default()
        };
        assert!(matches!(Config::load(&same), Err(ConfigError::Invalid(_))));
    }
}
