//! The drill's proof of control: the offline master seed signs report `seq`'s hot and deposit
//! addresses from the operator's signing request, a tampered upload is refused whole, the real
//! one is checked and published, and the public proofs verify against the report's bytes.

use anyhow::Context;
use bulwark_custody::control::ControlRequest;
use bulwark_custody::keys::MasterSeed;
use bulwark_por::control::{ControlProofs, verify_proofs};

use super::exchange::Exchange;
use super::{Log, refused_with};

pub async fn control(ex: &Exchange, log: &mut Log, seq: i64, report: &[u8]) -> anyhow::Result<()> {
    let path = format!("/admin/v1/transparency/reports/{seq}/control-request");
    let request: ControlRequest = serde_json::from_value(ex.admin("GET", &path, None).await?)
        .context("the signing request")?;
    let hot = request
        .targets
        .iter()
        .any(|t| t.network == "BTC" && t.wallet == "hot");
    log.check(
        hot,
        format!(
            "report {seq}'s signing request names {} hot and deposit addresses with their key paths",
            request.targets.len()
        ),
    )?;

    // Offline: the seed custody generated for this data directory signs every target.
    let seed_text = std::fs::read_to_string(ex.dir.join("custody").join("master-seed.OFFLINE"))?;
    let seed = MasterSeed::from_hex(&seed_text)?;
    let proofs = bulwark_custody::control::sign_request(&seed, &request)?;
    let upload = format!("/admin/v1/transparency/reports/{seq}/control");

    let mut tampered = proofs.clone();
    if let Some(first) = tampered.proofs.first_mut() {
        first.address.clone_from(
            &request
                .targets
                .last()
                .map_or_else(String::new, |t| t.address.clone()),
        );
    }
    let (status, answer) = ex
        .admin_call("POST", &upload, Some(serde_json::to_value(&tampered)?))
        .await?;
    let (_, published) = ex
        .public_get(&format!("/transparency/v1/reports/{seq}/control"))
        .await?;
    let before: ControlProofs = serde_json::from_str(&published)?;
    log.check(
        request.targets.len() > 1
            && refused_with(status, &answer, "invalid_control_proof")
            && before.proofs.is_empty(),
        "a proof moved to another address is refused and nothing is stored",
    )?;

    let answer = ex
        .admin("POST", &upload, Some(serde_json::to_value(&proofs)?))
        .await?;
    let added = answer.get("added").and_then(serde_json::Value::as_u64);
    log.check(
        added == Some(request.targets.len() as u64),
        format!(
            "the offline seed's {} proofs are accepted",
            request.targets.len()
        ),
    )?;

    let (_, published) = ex
        .public_get(&format!("/transparency/v1/reports/{seq}/control"))
        .await?;
    std::fs::write(
        ex.dir.join("drill").join(format!("control-{seq}.json")),
        &published,
    )?;
    let public: ControlProofs = serde_json::from_str(&published)?;
    let coverage = verify_proofs(report, &public)
        .map_err(|e| anyhow::anyhow!("published control proofs: {e}"))?;
    let btc = coverage.get("BTC").cloned().unwrap_or_default();
    log.check(
        btc.proven > 0 && btc.proven_addresses + 1 == btc.addresses,
        format!(
            "the public proofs verify: control of {} of {} BTC addresses (all but the cold wallet), {} of {} units",
            btc.proven_addresses, btc.addresses, btc.proven, btc.reserves
        ),
    )?;
    Ok(())
}
