//! Control proofs of a report's reserve addresses: made at publication by the keys custody
//! holds online, asked of the offline seed for the rest (a signing request), and accepted back
//! only after `bulwark-por` has checked every one against the report's exact bytes, so the
//! published list never holds a proof a verifier would reject.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_custody::control::{ControlRequest, ControlTarget};
use bulwark_custody::network::Network;
use bulwark_por::control::{
    self as por_control, AssetControl, ControlProof, ControlProofs, Scheme,
};
use bulwark_store::{ControlProofRow, ReportRow};

use crate::error::{SafeguardResult, invalid};
use crate::service::Safeguard;

/// Most proofs one upload may carry (a report lists one address per funded deposit address).
const UPLOAD_PROOFS_MAX: usize = 100_000;

/// The report's reserve addresses as (network, wallet, address), each once (an address holding
/// two assets is listed under both).
fn reserve_addresses(report: &ReportRow) -> SafeguardResult<BTreeSet<(String, String, String)>> {
    let (_, reserves) = por_control::reserves_of(report.body.as_bytes()).map_err(|e| {
        crate::SafeguardError::Internal(format!("report {} reserves: {e}", report.seq))
    })?;
    Ok(reserves
        .into_values()
        .flatten()
        .map(|a| (a.network, a.wallet, a.address))
        .collect())
}

fn seq_of(report: &ReportRow) -> u64 {
    u64::try_from(report.seq).unwrap_or(0)
}

/// No proofs yet, for `report`'s message.
fn empty_proofs(report: &ReportRow) -> ControlProofs {
    ControlProofs {
        seq: seq_of(report),
        message: por_control::message(seq_of(report), &report.sha256),
        report_sha256: report.sha256.clone(),
        proofs: Vec::new(),
    }
}

/// Checked proofs as stored.
fn rows_of(report: &ReportRow, proofs: &ControlProofs, now_ms: i64) -> Vec<ControlProofRow> {
    proofs
        .proofs
        .iter()
        .map(|proof| ControlProofRow {
            report_seq: report.seq,
            network: proof.network.to_ascii_uppercase(),
            address: proof.address.clone(),
            scheme: proof.scheme.id().to_owned(),
            signature: proof.signature.clone(),
            added_ms: now_ms,
        })
        .collect()
}

impl Safeguard {
    /// Report `seq`'s control proofs as published.
    pub async fn control(&self, seq: i64) -> SafeguardResult<ControlProofs> {
        let report = self.report(seq).await?;
        let rows = self.store().control_proofs(seq).await?;
        Ok(ControlProofs {
            proofs: rows
                .into_iter()
                .filter_map(|row| {
                    let network = Network::parse(&row.network)?;
                    Some(ControlProof {
                        network: row.network,
                        address: row.address,
                        scheme: Scheme::of(network),
                        signature: row.signature,
                    })
                })
                .collect(),
            ..empty_proofs(&report)
        })
    }

    /// Per asset, how much of report `seq`'s reserves its control proofs cover. The stored
    /// proofs were all checked before they were stored, so only balances are summed here (a
    /// public page reads this on every visit: no signature is checked again).
    pub async fn control_coverage(
        &self,
        seq: i64,
    ) -> SafeguardResult<BTreeMap<String, AssetControl>> {
        let report = self.report(seq).await?;
        let mut proven = por_control::Proven::new();
        for row in self.store().control_proofs(seq).await? {
            proven.entry(row.network).or_default().insert(row.address);
        }
        let internal = |e: por_control::ControlError| {
            crate::SafeguardError::Internal(format!("report {seq} reserves: {e}"))
        };
        let (_, reserves) = por_control::reserves_of(report.body.as_bytes()).map_err(internal)?;
        por_control::coverage(&reserves, &proven).map_err(internal)
    }

    /// Proves control of every reserve address of `report` whose key custody holds online;
    /// called at publication. A key that fails to sign leaves its address unproven (and says so
    /// in the log) rather than failing the report; a proof that would not verify is never
    /// stored.
    pub(crate) async fn prove_online(&self, report: &ReportRow) -> SafeguardResult<u64> {
        let mut proofs = empty_proofs(report);
        for (network_id, _, address) in reserve_addresses(report)? {
            let Some(network) = Network::parse(&network_id) else {
                continue;
            };
            match self
                .custody()
                .sign_online(network, &address, &proofs.message)
            {
                Ok(Some(signature)) => proofs.proofs.push(ControlProof {
                    network: network_id,
                    address,
                    scheme: Scheme::of(network),
                    signature,
                }),
                Ok(None) => {}
                Err(e) => tracing::error!(
                    "report {}: no control proof for {network_id} {address}: {e}",
                    report.seq
                ),
            }
        }
        if proofs.proofs.is_empty() {
            return Ok(0);
        }
        por_control::verify_proofs(report.body.as_bytes(), &proofs).map_err(|e| {
            crate::SafeguardError::Internal(format!(
                "online control proofs of report {}: {e}",
                report.seq
            ))
        })?;
        Ok(self
            .store()
            .insert_control_proofs(&rows_of(report, &proofs, self.now_ms()))
            .await?)
    }

    /// What the offline seed must sign for report `seq`: its hot and deposit addresses that
    /// have no proof yet, each with the path of its key.
    pub async fn control_request(&self, seq: i64) -> SafeguardResult<ControlRequest> {
        let report = self.report(seq).await?;
        let proven: BTreeSet<(String, String)> = self
            .store()
            .control_proofs(seq)
            .await?
            .into_iter()
            .map(|row| (row.network, row.address))
            .collect();
        let mut targets = Vec::new();
        for (network_id, wallet, address) in reserve_addresses(&report)? {
            let Some(network) = Network::parse(&network_id) else {
                continue;
            };
            if proven.contains(&(network_id.clone(), address.clone())) {
                continue;
            }
            if let Some((branch, index)) =
                self.custody().key_path(network, &wallet, &address).await?
            {
                targets.push(ControlTarget {
                    network: network_id,
                    wallet,
                    address,
                    branch,
                    index,
                });
            }
        }
        Ok(ControlRequest {
            seq: seq_of(&report),
            message: por_control::message(seq_of(&report), &report.sha256),
            report_sha256: report.sha256,
            targets,
        })
    }

    /// Accepts the offline signer's proofs for report `seq` after checking every one against
    /// the report's bytes: one bad proof refuses the whole upload and stores nothing. Answers how
    /// many were new (a repeated upload adds nothing).
    pub async fn add_control(
        &self,
        actor: &str,
        seq: i64,
        proofs: &ControlProofs,
    ) -> SafeguardResult<u64> {
        let report = self.report(seq).await?;
        if proofs.proofs.is_empty() {
            return Err(invalid("no_proofs", "the upload holds no control proofs"));
        }
        if proofs.proofs.len() > UPLOAD_PROOFS_MAX {
            return Err(invalid(
                "too_many_proofs",
                format!("at most {UPLOAD_PROOFS_MAX} proofs per upload"),
            ));
        }
        por_control::verify_proofs(report.body.as_bytes(), proofs)
            .map_err(|e| invalid("invalid_control_proof", e.to_string()))?;
        let now_ms = self.now_ms();
        let added = self
            .store()
            .insert_control_proofs(&rows_of(&report, proofs, now_ms))
            .await?;
        let params = serde_json::json!({"seq": report.seq, "proofs": proofs.proofs.len(),
            "added": added})
        .to_string();
        self.store()
            .append_audit(actor, "safeguard.control_proofs", &params, now_ms)
            .await?;
        Ok(added)
    }
}
