//! Operator drills on the simulated chains (inject a deposit, mine blocks, steal from a wallet)
//! and the custody views the operator reads (wallets, withdrawal queues). Every drill is
//! audited, since a theft drill moves custody funds for real on the simulated chain.

use bulwark_accounts::{Error, Kind};
use bulwark_custody::network::Network;
use bulwark_custody::{Custody, Wallet};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ops::audit_action;
use crate::{Operator, internal};

type Result<T> = std::result::Result<T, Error>;

/// Most blocks one `chain mine` produces.
pub const MINE_BLOCKS_MAX: u64 = 10_000;

#[derive(Deserialize)]
pub struct ChainDeposit {
    pub network: String,
    pub address: String,
    pub amount: String,
    pub asset: Option<String>,
}

#[derive(Deserialize)]
pub struct ChainMine {
    pub network: String,
    pub blocks: u64,
}

#[derive(Deserialize)]
pub struct ChainSteal {
    pub network: String,
    pub wallet: String,
    pub amount: String,
    pub asset: Option<String>,
}

fn network(id: &str) -> Result<Network> {
    Network::parse(id).ok_or_else(|| {
        Error::bad_request(
            "unknown_network",
            format!("unknown network {id:?}; networks are BTC, ERC20 and TRC20"),
        )
    })
}

/// The asset of a drill: the one named, else the network's native coin.
fn coin_of(custody: &Custody, network: Network, asset: Option<&str>) -> Result<(String, u32)> {
    let asset = asset.map_or_else(
        || {
            match network {
                Network::Btc => "BTC",
                Network::Erc20 => "ETH",
                Network::Trc20 => "USDT",
            }
            .to_owned()
        },
        str::to_ascii_uppercase,
    );
    let coin = custody
        .coin(&asset, Some(network.id()))
        .map_err(|e| Error::bad_request("unknown_coin", e.to_string()))?;
    Ok((coin.asset.clone(), coin.scale))
}

fn amount(text: &str, scale: u32) -> Result<i64> {
    let units = bulwark_types::parse_units(text, scale)
        .map_err(|e| Error::bad_request("invalid_amount", format!("amount {e}")))?;
    if units <= 0 {
        return Err(Error::bad_request(
            "invalid_amount",
            "amount must be positive",
        ));
    }
    Ok(units)
}

fn sim(custody: &Custody, network: Network) -> Result<&bulwark_custody::sim::SimChain> {
    custody.sim(network).ok_or_else(|| {
        Error::new(
            Kind::Conflict,
            "not_simulated",
            format!("{network} is not served by a simulated chain"),
        )
    })
}

fn sim_failure(error: bulwark_custody::sim::SimError) -> Error {
    use bulwark_custody::chain::ChainError;
    use bulwark_custody::sim::SimError;
    match error {
        SimError::Chain(
            e @ (ChainError::InsufficientFunds { .. }
            | ChainError::UnknownAsset { .. }
            | ChainError::AmountNotPositive),
        ) => Error::bad_request("chain_refused", e.to_string()),
        other => internal(other),
    }
}

/// `chain deposit`: someone outside sends coins to `address` (mined with the next block).
pub async fn chain_deposit(op: &Operator, custody: &Custody, body: ChainDeposit) -> Result<Value> {
    let network = network(&body.network)?;
    let (asset, scale) = coin_of(custody, network, body.asset.as_deref())?;
    let units = amount(&body.amount, scale)?;
    bulwark_custody::address::validate(network, &body.address)
        .map_err(|e| Error::bad_request("invalid_address", e.to_string()))?;
    let txid = sim(custody, network)?
        .inject(&body.address, &asset, units)
        .map_err(sim_failure)?;
    let result = json!({"network": network.id(), "asset": asset, "address": body.address,
                        "amount": bulwark_types::format_units(units, scale), "txid": txid});
    audit_action(op, "chain.deposit", &result).await?;
    Ok(result)
}

/// `chain mine`: produces blocks now.
pub async fn chain_mine(op: &Operator, custody: &Custody, body: ChainMine) -> Result<Value> {
    let network = network(&body.network)?;
    if !(1..=MINE_BLOCKS_MAX).contains(&body.blocks) {
        return Err(Error::bad_request(
            "invalid_blocks",
            format!("blocks must be 1 to {MINE_BLOCKS_MAX}"),
        ));
    }
    let height = sim(custody, network)?
        .mine(body.blocks)
        .map_err(sim_failure)?;
    custody.wake();
    let result = json!({"network": network.id(), "blocks": body.blocks, "height": height});
    audit_action(op, "chain.mine", &result).await?;
    Ok(result)
}

/// `chain steal`: a theft drill; coins leave a custody wallet for an address nobody owns.
pub async fn chain_steal(op: &Operator, custody: &Custody, body: ChainSteal) -> Result<Value> {
    let network = network(&body.network)?;
    let wallet = Wallet::parse(&body.wallet)
        .ok_or_else(|| Error::bad_request("invalid_wallet", "wallet must be hot or cold"))?;
    let (asset, scale) = coin_of(custody, network, body.asset.as_deref())?;
    let units = amount(&body.amount, scale)?;
    let from = custody.wallet_address(network, wallet).map_err(internal)?;
    let txid = sim(custody, network)?
        .steal(&from, &asset, units)
        .map_err(sim_failure)?;
    let result = json!({"network": network.id(), "asset": asset, "wallet": body.wallet, "from": from,
                        "amount": bulwark_types::format_units(units, scale), "txid": txid});
    audit_action(op, "chain.steal", &result).await?;
    Ok(result)
}

/// Every custody wallet with its balance per coin, and the hot share of each asset.
pub async fn wallets(custody: &Custody) -> Result<Value> {
    let rows = custody.wallet_balances().await.map_err(internal)?;
    Ok(json!({"wallets": rows.iter().map(|w| json!({
        "network": w.network.id(), "asset": w.asset, "hot_address": w.hot_address,
        "cold_address": w.cold_address, "hot": custody.format(&w.asset, w.hot),
        "cold": custody.format(&w.asset, w.cold),
    })).collect::<Vec<_>>()}))
}

#[derive(Deserialize)]
pub struct StateQuery {
    pub state: Option<String>,
}

/// Withdrawals in a state (default: those waiting for staff).
pub async fn withdrawals(custody: &Custody, query: StateQuery) -> Result<Value> {
    let state = query.state.unwrap_or_else(|| "risk_review".to_owned());
    let rows = custody
        .withdrawals_in_state(&state)
        .await
        .map_err(internal)?;
    Ok(
        json!({"state": state, "withdrawals": rows.iter().map(|w| json!({
        "id": w.id, "user_id": w.user_id, "asset": w.asset, "network": w.network,
        "address": w.address, "amount": custody.format(&w.asset, w.amount),
        "fee": custody.format(&w.asset, w.fee), "state": w.state, "txid": w.txid,
        "approvals_needed": w.approvals_needed, "created_ms": w.created_ms,
    })).collect::<Vec<_>>()}),
    )
}

fn reconciliation_json(custody: &Custody, r: &bulwark_custody::ReconciliationRow) -> Value {
    json!({"id": r.id, "at_ms": r.at_ms, "asset": r.asset,
           "chain_balance": custody.format(&r.asset, r.chain_balance),
           "custody_expected": custody.format(&r.asset, r.custody_expected),
           "ledger_liabilities": custody.format(&r.asset, r.ledger_liabilities),
           "adjustments": custody.format(&r.asset, r.adjustments),
           "shortfall": custody.format(&r.asset, r.shortfall),
           "hot_balance": custody.format(&r.asset, r.hot_balance), "hot_share_bps": r.hot_share_bps})
}

/// `reconcile`: compares chains, custody records and the ledger now (audited).
pub async fn reconcile(op: &Operator, custody: &Custody) -> Result<Value> {
    let rows = custody.reconcile().await.map_err(internal)?;
    let frozen: Vec<String> = custody
        .frozen_assets()
        .await
        .map_err(internal)?
        .into_iter()
        .collect();
    let result = json!({"assets": rows.iter().map(|r| reconciliation_json(custody, r)).collect::<Vec<_>>(),
                        "withdrawals_frozen": frozen});
    audit_action(op, "custody.reconcile", &result).await?;
    Ok(result)
}

/// Reconciliation history and custody incidents.
pub async fn reconciliations(custody: &Custody) -> Result<Value> {
    let rows = custody.reconciliations(200).await.map_err(internal)?;
    let incidents = custody.incidents(100).await.map_err(internal)?;
    Ok(
        json!({"reconciliations": rows.iter().map(|r| reconciliation_json(custody, r)).collect::<Vec<_>>(),
              "incidents": incidents.iter().map(|i| json!({"id": i.id, "asset": i.asset, "kind": i.kind,
                  "detail": i.detail, "opened_ms": i.opened_ms, "resolved_ms": i.resolved_ms,
                  "resolved_by": i.resolved_by, "resolution": i.resolution})).collect::<Vec<_>>()}),
    )
}

#[derive(Deserialize)]
pub struct Resolution {
    pub resolution: String,
}

/// Closes a custody incident (audited); the asset's withdrawals thaw when none stays open.
pub async fn resolve_incident(
    op: &Operator,
    custody: &Custody,
    id: String,
    body: Resolution,
) -> Result<Value> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("invalid_id", "incident id must be a number"))?;
    custody
        .resolve_incident(id, "operator", &body.resolution)
        .await
        .map_err(|e| match e {
            bulwark_custody::CustodyError::NotFound => Error::new(
                Kind::NotFound,
                "not_found",
                format!("no open custody incident {id}"),
            ),
            bulwark_custody::CustodyError::NotPermitted(m) => {
                Error::bad_request("resolution_required", m)
            }
            other => internal(other),
        })?;
    audit_action(
        op,
        "custody.incident.resolve",
        &json!({"id": id, "resolution": body.resolution}),
    )
    .await?;
    custody.wake();
    Ok(json!({"id": id, "resolved": true}))
}

fn custody_refusal(error: bulwark_custody::CustodyError) -> Error {
    use bulwark_custody::CustodyError as C;
    match error {
        C::NotFound => Error::new(Kind::NotFound, "not_found", error.to_string()),
        C::WrongState { .. } => Error::new(Kind::Conflict, "wrong_state", error.to_string()),
        C::Internal(detail) => internal(detail),
        C::NotPermitted(_) => Error::new(Kind::Forbidden, "refused", error.to_string()),
        other => Error::bad_request("invalid", other.to_string()),
    }
}

fn key_json(k: &bulwark_custody::OperatorKeyRow) -> Value {
    json!({"id": k.id, "name": k.name, "public_key": hex::encode(&k.public_key),
           "created_ms": k.created_ms, "revoked_ms": k.revoked_ms})
}

fn movement_json(custody: &Custody, m: &bulwark_custody::MovementRow) -> Value {
    json!({"id": m.id, "action": m.action, "asset": m.asset, "network": m.network,
           "amount": custody.format(&m.asset, m.amount), "destination": m.destination,
           "withdrawal_id": m.withdrawal_id, "user_id": m.user_id, "claim_id": m.claim_id,
           "expires_ms": m.expires_ms, "required": m.required,
           "state": m.state, "txid": m.txid, "description": m.description})
}

#[derive(Deserialize)]
pub struct NewOperatorKey {
    pub name: String,
    pub public_key: String,
}

/// Registers an operator's public signing key (audited).
pub async fn add_operator_key(
    op: &Operator,
    custody: &Custody,
    body: NewOperatorKey,
) -> Result<Value> {
    let key = custody
        .register_operator_key(&body.name, &body.public_key)
        .await
        .map_err(custody_refusal)?;
    let result = key_json(&key);
    audit_action(op, "operator_key.add", &result).await?;
    Ok(result)
}

pub async fn operator_keys(custody: &Custody) -> Result<Value> {
    let keys = custody.operator_keys().await.map_err(custody_refusal)?;
    Ok(json!({"keys": keys.iter().map(key_json).collect::<Vec<_>>()}))
}

/// Revokes an operator key (audited): its signatures no longer count.
pub async fn revoke_operator_key(op: &Operator, custody: &Custody, id: String) -> Result<Value> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("invalid_id", "key id must be a number"))?;
    custody
        .revoke_operator_key(id)
        .await
        .map_err(custody_refusal)?;
    audit_action(op, "operator_key.revoke", &json!({"id": id})).await?;
    Ok(json!({"id": id, "revoked": true}))
}

#[derive(Deserialize)]
pub struct NewRefill {
    pub asset: String,
    pub network: Option<String>,
    pub amount: String,
}

/// Proposes a cold → hot refill; it executes once enough operators signed (audited).
pub async fn propose_refill(op: &Operator, custody: &Custody, body: NewRefill) -> Result<Value> {
    let movement = custody
        .propose_refill(
            &body.asset.to_ascii_uppercase(),
            body.network.as_deref(),
            &body.amount,
        )
        .await
        .map_err(custody_refusal)?;
    let result = movement_json(custody, &movement);
    audit_action(op, "movement.propose", &result).await?;
    Ok(result)
}

pub async fn movements(custody: &Custody) -> Result<Value> {
    let rows = custody.movements(200).await.map_err(custody_refusal)?;
    Ok(json!({"movements": rows.iter().map(|m| movement_json(custody, m)).collect::<Vec<_>>()}))
}

pub async fn movement(custody: &Custody, id: String) -> Result<Value> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("invalid_id", "movement id must be a number"))?;
    let row = custody.movement(id).await.map_err(custody_refusal)?;
    Ok(movement_json(custody, &row))
}

#[derive(Deserialize)]
pub struct MovementSignature {
    pub public_key: String,
    pub signature: String,
}

/// Adds an operator's signature to a movement (the custody service audits it by key name).
pub async fn sign_movement(
    custody: &Custody,
    id: String,
    body: MovementSignature,
) -> Result<Value> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("invalid_id", "movement id must be a number"))?;
    let outcome = custody
        .sign_movement(id, &body.public_key, &body.signature)
        .await
        .map_err(custody_refusal)?;
    let mut result = movement_json(custody, &outcome.movement);
    if let Value::Object(map) = &mut result {
        map.insert("signatures".into(), json!(outcome.signatures));
    }
    Ok(result)
}
