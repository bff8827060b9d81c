//! `bulwark operator …`: the offline half of M-of-N fund movements. `keygen` makes an ed25519
//! key pair (the secret into a new file only its owner can read, the public key printed to
//! register); `sign` signs a movement's description file; `sign-control` proves control of
//! reserve addresses with the master seed. None talks to the server, so all run on a machine
//! that never touches the network.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Make a signing key: the secret goes to --out (created, mode 0600), the public key is
    /// printed for `bulwark admin operator-key add`.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a movement's description (from `bulwark admin movement describe --id N > FILE`);
    /// prints the JSON that `bulwark admin movement sign --signature-file` takes.
    Sign {
        /// The description file.
        file: PathBuf,
        /// The secret key file made by `keygen`.
        #[arg(long)]
        key: PathBuf,
    },
    /// Prove control of reserve addresses: signs a report's message with each requested
    /// address's key, derived from the master seed (from `bulwark admin transparency
    /// control-request --seq N > FILE`); prints the proofs for `bulwark admin transparency
    /// control --file`. Refuses the whole request if the seed does not hold one of them.
    SignControl {
        /// The request file.
        request: PathBuf,
        /// The master seed file (hex), as custody generated it (`master-seed.OFFLINE`).
        #[arg(long)]
        seed: PathBuf,
    },
}

pub fn run(command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Keygen { out } => {
            let (secret, public) = bulwark_custody::signatures::keygen()?;
            bulwark_custody::secret_file::write_private(&out, secret.as_bytes())
                .with_context(|| format!("creating {} (it must not exist yet)", out.display()))?;
            println!(
                "{}",
                json!({"public_key": public, "secret_file": out.display().to_string()})
            );
        }
        OperatorCommand::Sign { file, key } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            // The description ends with one newline; a shell redirect may add another.
            let description = format!("{}\n", text.trim_end_matches('\n'));
            if !description.starts_with(bulwark_custody::signatures::DOMAIN) {
                bail!("{} is not a fund movement description", file.display());
            }
            let secret = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let (public_key, signature) = bulwark_custody::signatures::sign(&secret, &description)?;
            println!(
                "{}",
                json!({"public_key": public_key, "signature": signature})
            );
        }
        OperatorCommand::SignControl { request, seed } => {
            let text = std::fs::read_to_string(&request)
                .with_context(|| format!("reading {}", request.display()))?;
            let request: bulwark_custody::control::ControlRequest = serde_json::from_str(&text)
                .with_context(|| {
                    format!(
                        "{} is not the JSON `admin transparency control-request` writes",
                        request.display()
                    )
                })?;
            let seed_text = zeroize::Zeroizing::new(
                std::fs::read_to_string(&seed)
                    .with_context(|| format!("reading {}", seed.display()))?,
            );
            let seed = bulwark_custody::keys::MasterSeed::from_hex(&seed_text)?;
            let proofs = bulwark_custody::control::sign_request(&seed, &request)?;
            println!("{}", serde_json::to_string_pretty(&proofs)?);
        }
    }
    Ok(())
}
