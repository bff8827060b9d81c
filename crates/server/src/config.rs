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
    /// Public API requests per second from one IP address (bursts of twice that).
    pub rate_limit_per_ip: u32,
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
}

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
        if self.http_addr == self.admin_addr {
            return Err(ConfigError::Invalid(
                "http_addr and admin_addr must differ".into(),
            ));
        }
        Ok(())
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
