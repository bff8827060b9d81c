//! What the operator does with transparency: publish a report now (audited), print a user's
//! proof for support, and check the audit log's hash chain.

use bulwark_accounts::Error;
use bulwark_safeguard::Safeguard;
use serde::Deserialize;
use serde_json::{Value, json};

type Result<T> = std::result::Result<T, Error>;

#[derive(Deserialize)]
pub struct ProofQuery {
    pub user: i64,
    pub asset: String,
    /// A report seq; the newest when absent.
    pub seq: Option<i64>,
}

/// Publishes a report now; answers its seq, hash and signature.
pub async fn publish(safeguard: &Safeguard) -> Result<Value> {
    let report = safeguard.publish_as(crate::ops::OPERATOR).await?;
    let body: Value = serde_json::from_str(&report.body).unwrap_or(Value::Null);
    Ok(json!({
        "seq": report.seq,
        "journal_seq": report.journal_seq,
        "sha256": report.sha256,
        "signature": report.signature,
        "solvency": body.get("solvency"),
    }))
}

fn seq_of(text: &str) -> Result<i64> {
    text.parse().ok().filter(|seq| *seq >= 1).ok_or_else(|| {
        Error::bad_request("invalid_seq", "report seq must be a whole number from 1")
    })
}

/// What the offline seed must sign for report `seq` (`bulwark operator sign-control` reads it).
pub async fn control_request(safeguard: &Safeguard, seq: String) -> Result<Value> {
    let request = safeguard.control_request(seq_of(&seq)?).await?;
    serde_json::to_value(request).map_err(crate::internal)
}

/// Accepts the offline signer's control proofs for report `seq` (checked whole, audited by the
/// service); answers how many were new and, per asset, the share of reserves now proven.
pub async fn add_control(
    safeguard: &Safeguard,
    seq: String,
    proofs: bulwark_por::control::ControlProofs,
) -> Result<Value> {
    let seq = seq_of(&seq)?;
    let added = safeguard
        .add_control(crate::ops::OPERATOR, seq, &proofs)
        .await?;
    let coverage = safeguard.control_coverage(seq).await?;
    Ok(json!({"seq": seq, "added": added, "coverage": coverage}))
}

/// A user's proof for one asset (support: the user asked and cannot sign in).
pub async fn proof(safeguard: &Safeguard, query: ProofQuery) -> Result<Value> {
    let proof = safeguard.proof(query.user, &query.asset, query.seq).await?;
    serde_json::to_value(proof).map_err(crate::internal)
}

/// Tops up the Safeguard fund (audited by the service under the operator's actor).
pub async fn top_up(safeguard: &Safeguard, body: bulwark_safeguard::fund::TopUp) -> Result<Value> {
    Ok(top_up_json(
        safeguard,
        &safeguard.top_up(crate::ops::OPERATOR, body).await?,
    ))
}

/// Publishes a new version of the coverage policy's caps (audited by the service); claims filed
/// from now on are decided under it.
pub async fn publish_policy(
    safeguard: &Safeguard,
    body: bulwark_safeguard::policy::PolicyChange,
) -> Result<Value> {
    Ok(safeguard
        .publish_policy(crate::ops::OPERATOR, &body)
        .await?
        .json())
}

/// Every top-up of the fund, oldest first.
pub async fn top_ups(safeguard: &Safeguard) -> Result<Value> {
    let rows = safeguard.top_ups().await?;
    Ok(json!({"top_ups": rows.iter().map(|r| top_up_json(safeguard, r)).collect::<Vec<_>>()}))
}

fn top_up_json(safeguard: &Safeguard, row: &bulwark_store::TopUpRow) -> Value {
    json!({"id": row.id, "asset": row.asset,
           "amount": bulwark_types::format_units(row.amount, safeguard.scale_of(&row.asset)),
           "from": row.source, "network": row.network, "txid": row.txid, "note": row.note,
           "actor": row.actor, "journal_seq": row.journal_seq, "at_ms": row.at_ms})
}

#[derive(Deserialize)]
pub struct PayClaim {
    pub claim_id: i64,
}

/// Proposes an approved claim's payout as the operator (the Safeguard service checks the claim
/// and audits it).
pub async fn pay_claim(safeguard: &Safeguard, body: PayClaim) -> Result<Value> {
    let view = safeguard
        .operator_pay(crate::ops::OPERATOR, body.claim_id)
        .await?;
    Ok(view.json(safeguard.scale_of(&view.claim.asset), true))
}

/// Recomputes the audit log's hash chain.
pub async fn audit_verify(safeguard: &Safeguard) -> Result<Value> {
    let check = safeguard.verify_audit().await?;
    Ok(json!({
        "intact": check.broken_at.is_none(),
        "entries": check.entries,
        "head_id": check.head.as_ref().map(|h| h.0),
        "head_hash": check.head.as_ref().map(|h| h.1.clone()),
        "broken_at": check.broken_at,
    }))
}
