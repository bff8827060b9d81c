//! The platform's report-signing key: ed25519, created on a data directory's first start and
//! kept in a 0600 file beside the data. Its public half is published, and every report ever
//! signed is checked against it, so it is never rotated silently.

use std::path::Path;

use ed25519_dalek::SigningKey;

use bulwark_custody::secret_file::{read_private, write_private};

use crate::error::{SafeguardError, SafeguardResult};

/// File name of the key inside `<data>/transparency`.
pub const KEY_FILE: &str = "report-signing.key";

/// Loads the key from `dir`, creating it on first start.
pub fn load_or_create(dir: &Path) -> SafeguardResult<SigningKey> {
    let path = dir.join(KEY_FILE);
    let fail = |e: std::io::Error| SafeguardError::Setup(format!("{}: {e}", path.display()));
    if !path.exists() {
        std::fs::create_dir_all(dir).map_err(fail)?;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| SafeguardError::Setup(format!("no randomness: {e}")))?;
        write_private(&path, hex::encode(secret).as_bytes()).map_err(fail)?;
        tracing::info!(
            "transparency: created the report-signing key at {}",
            path.display()
        );
    }
    let text = read_private(&path).map_err(fail)?;
    let secret: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            SafeguardError::Setup(format!("{} must hold 32 bytes of hex", path.display()))
        })?;
    Ok(SigningKey::from_bytes(&secret))
}
