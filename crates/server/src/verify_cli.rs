//! `bulwark verify-report` and `bulwark verify-proof`: offline checks of what the exchange
//! publishes, for anyone (they read files, never the server, and use the same `bulwark-por`
//! code the server builds with, so they agree with it byte for byte).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct VerifyReportArgs {
    /// The report's exact bytes (`GET /transparency/v1/reports/{seq}`).
    pub file: PathBuf,
    /// The platform's public key, hex (`GET /transparency/v1/key`).
    #[arg(long)]
    pub key: String,
    /// The report's signature, hex; default: the contents of `FILE.sig`.
    #[arg(long)]
    pub signature: Option<String>,
    /// The previous report's bytes: checks that FILE names its SHA-256 and follows its seq.
    #[arg(long)]
    pub prev: Option<PathBuf>,
    /// The report's control proofs (`GET /transparency/v1/reports/{seq}/control`): checks each
    /// signature by a reserve address's key over the report's hash, and reports per asset how
    /// much of the reserves is proven.
    #[arg(long)]
    pub control: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyProofArgs {
    /// The proof JSON (`GET /api/v1/transparency/proof?asset=…`).
    pub proof: PathBuf,
    /// The report the proof belongs to (its exact bytes).
    #[arg(long)]
    pub report: PathBuf,
    /// Also check the report's signature with this public key (hex).
    #[arg(long)]
    pub key: Option<String>,
    /// The report's signature, hex; default: the contents of `REPORT.sig` (with --key).
    #[arg(long)]
    pub signature: Option<String>,
    #[arg(long)]
    pub json: bool,
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn signature_of(file: &Path, given: Option<&str>) -> anyhow::Result<String> {
    match given {
        Some(sig) => Ok(sig.trim().to_owned()),
        None => {
            let mut sig_path = file.as_os_str().to_owned();
            sig_path.push(".sig");
            let text = std::fs::read_to_string(&sig_path).with_context(|| {
                format!(
                    "reading the signature from {} (or pass --signature)",
                    Path::new(&sig_path).display()
                )
            })?;
            Ok(text.trim().to_owned())
        }
    }
}

pub fn verify_report(args: &VerifyReportArgs) -> anyhow::Result<()> {
    let bytes = read(&args.file)?;
    let signature = signature_of(&args.file, args.signature.as_deref())?;
    let prev = args.prev.as_deref().map(read).transpose()?;
    let summary = bulwark_por::verify_report(&bytes, &signature, &args.key, prev.as_deref())
        .map_err(|e| anyhow::anyhow!("report {} does not verify: {e}", args.file.display()))?;
    let control = match &args.control {
        Some(path) => {
            let proofs: bulwark_por::control::ControlProofs = serde_json::from_slice(&read(path)?)
                .with_context(|| format!("{} is not a control proofs file", path.display()))?;
            Some(
                bulwark_por::control::verify_proofs(&bytes, &proofs).map_err(|e| {
                    anyhow::anyhow!("control proofs {} do not verify: {e}", path.display())
                })?,
            )
        }
        None => None,
    };
    if args.json {
        println!(
            "{}",
            json!({"valid": true, "seq": summary.seq, "sha256": summary.sha256,
                   "prev_sha256": summary.prev_sha256, "chain_checked": prev.is_some(),
                   "roots": summary.roots, "control": control})
        );
    } else {
        let chain = if prev.is_some() {
            "follows the previous report"
        } else {
            "previous report not checked (pass --prev)"
        };
        println!(
            "report {}: signature valid, {chain}; sha256 {}",
            summary.seq, summary.sha256
        );
        for (asset, c) in control.iter().flatten() {
            println!(
                "{asset}: control proven for {} of {} addresses, {} of {} units of reserves",
                c.proven_addresses, c.addresses, c.proven, c.reserves
            );
        }
    }
    Ok(())
}

pub fn verify_proof(args: &VerifyProofArgs) -> anyhow::Result<()> {
    let proof_bytes = read(&args.proof)?;
    let proof: bulwark_por::Proof = serde_json::from_slice(&proof_bytes)
        .with_context(|| format!("{} is not a proof", args.proof.display()))?;
    let report = read(&args.report)?;
    let summary = match &args.key {
        Some(key) => {
            let signature = signature_of(&args.report, args.signature.as_deref())?;
            bulwark_por::verify_report(&report, &signature, key, None)
                .map_err(|e| anyhow::anyhow!("the report does not verify: {e}"))?
        }
        None => bulwark_por::summarize(&report)
            .map_err(|e| anyhow::anyhow!("the report cannot be read: {e}"))?,
    };
    if proof.report_seq != summary.seq {
        bail!(
            "the proof is for report {} and {} is report {}",
            proof.report_seq,
            args.report.display(),
            summary.seq
        );
    }
    let Some(root) = summary.roots.get(&proof.asset) else {
        bail!("report {} publishes no {} root", summary.seq, proof.asset);
    };
    let balance = bulwark_por::verify_proof(&proof, Some(root))
        .map_err(|e| anyhow::anyhow!("the proof does not verify: {e}"))?;
    if args.json {
        println!(
            "{}",
            json!({"valid": true, "asset": proof.asset, "report_seq": proof.report_seq,
                   "user_id": proof.user_id, "balance": balance.to_string(),
                   "root": root, "signature_checked": args.key.is_some()})
        );
    } else {
        println!(
            "proof valid: user {} holds {balance} (smallest units) of {} in report {}, whose {} total is {}{}",
            proof.user_id,
            proof.asset,
            proof.report_seq,
            proof.asset,
            root.sum,
            if args.key.is_some() {
                "; report signature valid"
            } else {
                ""
            }
        );
    }
    Ok(())
}
