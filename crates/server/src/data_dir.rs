//! Layout of the data directory and the secrets created in it on first start.
//!
//! ```text
//! DATA/journal/     append-only command log (segments)
//! DATA/snapshots/   engine snapshots
//! DATA/bulwark.db   SQLite store (unless a PostgreSQL URL is configured)
//! DATA/master.key   key encrypting secrets at rest (mode 0600)
//! DATA/admin.token  operator token of the admin API (mode 0600)
//! ```

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    pub fn open(root: &Path) -> anyhow::Result<DataDir> {
        for dir in [
            root.to_path_buf(),
            root.join("journal"),
            root.join("snapshots"),
        ] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // A data directory that takes no writes (read-only mount, full disk) is said so now,
        // not as a database pool timing out half a minute later.
        let probe = root.join(".write-probe");
        std::fs::write(&probe, b"x")
            .and_then(|()| std::fs::remove_file(&probe))
            .with_context(|| {
                format!(
                    "the data directory {} does not take writes (a read-only mount or a full disk?)",
                    root.display()
                )
            })?;
        Ok(DataDir {
            root: root.to_path_buf(),
        })
    }

    pub fn journal(&self) -> PathBuf {
        self.root.join("journal")
    }

    pub fn snapshots(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.root.join("admin.token")
    }

    /// The master key, generated on first start.
    pub fn master_key(&self) -> anyhow::Result<Vec<u8>> {
        let path = self.root.join("master.key");
        let hex_key = read_or_create_secret(&path, || {
            Ok(hex::encode(
                bulwark_accounts::crypto::MasterKey::generate_bytes()?,
            ))
        })?;
        hex::decode(hex_key.trim()).with_context(|| format!("{} is not hex", path.display()))
    }

    /// The operator token, generated on first start.
    pub fn admin_token(&self) -> anyhow::Result<String> {
        read_or_create_secret(&self.admin_token_path(), || {
            Ok(hex::encode(bulwark_accounts::crypto::random_bytes::<32>()?))
        })
        .map(|t| t.trim().to_owned())
    }
}

/// Reads a secret file, refusing one that others can read; creates it with mode 0600 if absent.
fn read_or_create_secret(
    path: &Path,
    make: impl FnOnce() -> Result<String, bulwark_accounts::crypto::CryptoError>,
) -> anyhow::Result<String> {
    if path.exists() {
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} has mode {mode:o}; it must be readable by its owner only (chmod 600)",
                path.display()
            );
        }
        return std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()));
    }
    let secret = make().context("generating a secret")?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    bulwark_journal::fsync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(secret)
}
