//! The operator's use cases, behind the operator token: users, KYC tiers, unfreezing, 2FA-reset
//! decisions, staff roles, user agreements, API keys, deposit credits, balances, trading halts,
//! the engine's status, the read-model consistency check and the audit log. Every change is
//! written to the audit log with its parameters (never a secret).

use std::collections::BTreeMap;

use bulwark_accounts::admin::{self as staff, StaffOpError};
use bulwark_accounts::{Error, Kind, Result};
use bulwark_engine::{Accepted, Command, Engine};
use bulwark_types::UserId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Operator, command_id_for, internal, now_ms};

/// Longest deposit reference accepted.
pub const DEPOSIT_REF_BYTES_MAX: usize = 128;

/// The audit actor of requests made with the operator token.
pub(crate) const OPERATOR: &str = "operator-token";

pub(crate) async fn audit_action(op: &Operator, action: &str, params: &Value) -> Result<()> {
    op.store()
        .append_audit(OPERATOR, action, &params.to_string(), now_ms())
        .await
        .map(|_| ())
        .map_err(internal)
}

async fn submit(
    op: &Operator,
    id: bulwark_types::CommandId,
    command: Command,
) -> Result<bulwark_sequencer::Receipt> {
    let receipt = op
        .trading
        .sequencer
        .submit(id, command)
        .await
        .map_err(|e| Error::new(Kind::Unavailable, "busy", e.to_string()))?;
    op.trading.wait_projected(receipt.seq).await;
    Ok(receipt)
}

#[derive(Deserialize)]
pub struct NewUser {
    pub email: String,
    /// L0 (default), L1 or L2.
    #[serde(default)]
    pub kyc_tier: Option<String>,
}

#[derive(Deserialize)]
pub struct KycTierBody {
    pub tier: String,
}

fn kyc_level(name: &str) -> Result<i64> {
    bulwark_accounts::access::tier_level(name)
        .map_err(|error| Error::bad_request("invalid_kyc_tier", error.to_string()))
}

/// The one email rule of the project (the same as sign-up), answered as an admin error.
fn normalise_email(email: &str) -> Result<String> {
    bulwark_identity::account::Email::parse(email)
        .map(|email| email.as_str().to_string())
        .map_err(|error| Error::bad_request("invalid_email", error.to_string()))
}

pub async fn create_user(op: &Operator, body: NewUser) -> Result<Value> {
    let email = normalise_email(&body.email)?;
    let level = kyc_level(body.kyc_tier.as_deref().unwrap_or("L0"))?;
    let id = match op.store().create_user(&email, now_ms()).await {
        Ok(id) => id,
        Err(bulwark_store::StoreError::Conflict(_)) => {
            return Err(Error::new(
                Kind::Conflict,
                "email_taken",
                "a user with this email already exists",
            ));
        }
        Err(error) => return Err(internal(error)),
    };
    if level > 0 {
        op.store().set_kyc_tier(id, level).await.map_err(internal)?;
    }
    let tier = bulwark_accounts::access::tier_of(level).as_str();
    audit_action(
        op,
        "user.create",
        &json!({"user_id": id, "email": email, "kyc_tier": tier}),
    )
    .await?;
    Ok(json!({"user_id": id, "email": email, "kyc_tier": tier}))
}

/// `POST /admin/v1/users/{id}/kyc-tier` `{"tier":"L1"}`: sets the KYC level directly (for
/// operators and bots; people go through the KYC review). Audited with the previous level.
pub async fn set_kyc_tier(op: &Operator, id: String, body: KycTierBody) -> Result<Value> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("invalid_user_id", "user id must be an integer"))?;
    let level = kyc_level(&body.tier)?;
    let store = op.store();
    let Some(before) = store.kyc_profile(id).await.map_err(internal)? else {
        return Err(Error::new(Kind::NotFound, "user_not_found", "no such user"));
    };
    store.set_kyc_tier(id, level).await.map_err(internal)?;
    let previous = bulwark_accounts::access::tier_of(before.kyc_tier).as_str();
    let tier = bulwark_accounts::access::tier_of(level).as_str();
    audit_action(
        op,
        "user.kyc_tier",
        &json!({"user_id": id, "kyc_tier": tier, "previous": previous}),
    )
    .await?;
    Ok(json!({"user_id": id, "kyc_tier": tier, "previous": previous}))
}

fn staff_error(error: StaffOpError) -> Error {
    Error::from(error)
}

fn parse_user_id(id: &str) -> Result<i64> {
    id.parse()
        .map_err(|_| Error::bad_request("invalid_user_id", "user id must be an integer"))
}

/// `POST /admin/v1/users/{id}/unfreeze`: frozen -> active after staff review (audited, and a
/// security event the owner sees). Sessions and API keys revoked by the freeze stay revoked.
/// The same function serves the staff console.
pub async fn unfreeze_user(op: &Operator, id: String) -> Result<Value> {
    let id = parse_user_id(&id)?;
    staff::unfreeze_account(op.store(), id, OPERATOR, now_ms())
        .await
        .map_err(staff_error)?;
    Ok(json!({"user_id": id, "status": "active"}))
}

#[derive(Deserialize)]
pub struct TwofaDecision {
    /// The staff member's own user id (recorded; must not be the requester).
    pub reviewer_id: i64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /admin/v1/2fa-resets/{id}/approve|reject` (audited). An approved request takes effect
/// at the owner's next login once its 48 hours have passed. The same function serves the staff
/// console.
pub async fn decide_twofa_reset(
    op: &Operator,
    (id, decision): (String, String),
    body: TwofaDecision,
) -> Result<Value> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("invalid_id", "request id must be an integer"))?;
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(Error::bad_request(
                "invalid_decision",
                "use approve or reject",
            ));
        }
    };
    let status = staff::decide_twofa_reset(
        op.store(),
        id,
        body.reviewer_id,
        approve,
        body.reason.as_deref(),
        OPERATOR,
        now_ms(),
    )
    .await
    .map_err(|error| match error {
        // The reviewer named in the body is wrong (the requester, or no user at all).
        StaffOpError::OwnRequest => Error::bad_request("invalid_reviewer", error.to_string()),
        StaffOpError::UserNotFound => {
            Error::bad_request("invalid_reviewer", "reviewer is not a user")
        }
        other => staff_error(other),
    })?;
    Ok(json!({"id": id, "status": status}))
}

#[derive(Deserialize)]
pub struct RoleChange {
    pub user_id: i64,
    pub role: String,
}

/// `POST /admin/v1/staff/grant|revoke`: gives or takes a staff role (audited). Staff accounts
/// still need TOTP and a TOTP login before the console lets them in.
pub async fn change_staff_role(op: &Operator, action: String, body: RoleChange) -> Result<Value> {
    let now_ms = now_ms();
    let store = op.store();
    let roles = match action.as_str() {
        "grant" => staff::grant_role(store, body.user_id, &body.role, OPERATOR, now_ms).await,
        "revoke" => staff::revoke_role(store, body.user_id, &body.role, OPERATOR, now_ms).await,
        _ => return Err(Error::bad_request("invalid_action", "use grant or revoke")),
    }
    .map_err(staff_error)?;
    Ok(json!({"user_id": body.user_id, "is_staff": !roles.is_empty(), "roles": roles}))
}

/// `GET /admin/v1/staff`: every staff account with its roles and whether TOTP is on.
pub async fn list_staff(op: &Operator) -> Result<Value> {
    let store = op.store();
    let accounts = store.list_staff_accounts().await.map_err(internal)?;
    let mut rows = Vec::with_capacity(accounts.len());
    for account in accounts {
        let totp = store.get_totp(account.id).await.map_err(internal)?;
        rows.push(json!({
            "user_id": account.id,
            "email": account.email,
            "phone": account.phone,
            "status": account.status,
            "roles": staff::roles_of(&account.staff_roles),
            "totp_enabled": totp.is_some_and(|t| t.enabled_ms.is_some()),
        }));
    }
    Ok(json!({"staff": rows}))
}

#[derive(Deserialize)]
pub struct NewAgreement {
    pub version: String,
    #[serde(default = "yes")]
    pub current: bool,
}

fn yes() -> bool {
    true
}

/// Longest agreement version name.
const AGREEMENT_VERSION_CHARS_MAX: usize = 64;

/// `POST /admin/v1/agreements`: publishes a user-agreement version (audited); a current one is
/// shown to every user whose accepted version differs until they accept it.
pub async fn publish_agreement(op: &Operator, body: NewAgreement) -> Result<Value> {
    let version = body.version.trim();
    let valid = !version.is_empty()
        && version.chars().count() <= AGREEMENT_VERSION_CHARS_MAX
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid {
        return Err(Error::bad_request(
            "invalid_version",
            "a version is 1-64 letters, digits, '-', '.' or '_'",
        ));
    }
    op.store()
        .publish_agreement_version(version, now_ms(), body.current)
        .await
        .map_err(|error| match error {
            bulwark_store::StoreError::Conflict(_) => Error::new(
                Kind::Conflict,
                "version_exists",
                format!("agreement version {version} was already published"),
            ),
            other => internal(other),
        })?;
    audit_action(
        op,
        "agreement.publish",
        &json!({"version": version, "current": body.current}),
    )
    .await?;
    Ok(json!({"version": version, "current": body.current}))
}

/// `GET /admin/v1/agreements`: every published version.
pub async fn list_agreements(op: &Operator) -> Result<Value> {
    let rows = op
        .store()
        .list_agreement_versions()
        .await
        .map_err(internal)?;
    let versions: Vec<Value> = rows
        .iter()
        .map(|r| json!({"version": r.version, "published_ms": r.published_ms, "current": r.is_current == 1}))
        .collect();
    Ok(json!({"versions": versions}))
}

#[derive(Deserialize)]
pub struct NewKey {
    pub user_id: i64,
    pub scopes: String,
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub memo: Option<String>,
}

fn key_error(error: bulwark_accounts::keys::KeyError) -> Error {
    match error {
        bulwark_accounts::keys::KeyError::Crypto(detail) => internal(detail),
        other => Error::bad_request(other.code(), other.to_string()),
    }
}

pub async fn create_api_key(op: &Operator, body: NewKey) -> Result<Value> {
    use bulwark_accounts::keys;
    let scopes = keys::parse_scopes(body.scopes.split(',')).map_err(key_error)?;
    let ip = keys::parse_ips(body.ip.split(',')).map_err(key_error)?;
    let memo = body.memo.unwrap_or_else(|| "bulwark".into());
    keys::check_memo(&memo).map_err(key_error)?;
    let user = op.store().get_user(body.user_id).await.map_err(internal)?;
    if user.is_none() {
        return Err(Error::new(
            Kind::NotFound,
            "unknown_user",
            format!("user {} does not exist", body.user_id),
        ));
    }
    let minted = keys::mint(
        &op.trading.master_key,
        body.user_id,
        &memo,
        scopes.clone(),
        ip,
        now_ms(),
    )
    .map_err(key_error)?;
    let access_key = minted.row.access_key.clone();
    op.store()
        .insert_api_key(&minted.row)
        .await
        .map_err(internal)?;
    audit_action(op, "apikey.create", &json!({"user_id": body.user_id, "access_key": access_key, "scopes": scopes, "ip": body.ip, "memo": memo})).await?;
    Ok(
        json!({"user_id": body.user_id, "access_key": access_key, "secret": minted.secret, "memo": memo, "scopes": scopes}),
    )
}

#[derive(Deserialize)]
pub struct NewDeposit {
    pub user_id: i64,
    pub asset: String,
    pub amount: String,
    pub reference: String,
}

pub async fn credit_deposit(op: &Operator, body: NewDeposit) -> Result<Value> {
    let catalog = op.trading.sequencer.catalog();
    let (asset, spec) = catalog.asset(&body.asset).ok_or_else(|| {
        Error::bad_request("unknown_asset", format!("unknown asset {}", body.asset))
    })?;
    let amount = bulwark_types::parse_units(&body.amount, spec.scale)
        .map_err(|e| Error::bad_request("invalid_amount", format!("amount {e}")))?;
    if amount <= 0 {
        return Err(Error::bad_request(
            "invalid_amount",
            "amount must be positive",
        ));
    }
    if body.reference.is_empty() || body.reference.len() > DEPOSIT_REF_BYTES_MAX {
        return Err(Error::bad_request(
            "invalid_reference",
            "reference must be 1 to 128 bytes",
        ));
    }
    if op
        .store()
        .get_user(body.user_id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(Error::new(
            Kind::NotFound,
            "unknown_user",
            format!("user {} does not exist", body.user_id),
        ));
    }
    let user = UserId(u64::try_from(body.user_id).map_err(internal)?);
    let command = Command::Deposit {
        user,
        asset,
        amount,
        reference: body.reference.clone(),
    };
    let receipt = submit(
        op,
        command_id_for(&format!("deposit:{}", body.reference)),
        command,
    )
    .await?;
    let status = match receipt.outcome {
        Ok(Accepted::AlreadyApplied) => "already_applied",
        Ok(_) => "credited",
        Err(reject) => return Err(Error::bad_request("rejected", reject.to_string())),
    };
    audit_action(op, "deposit.credit", &json!({"user_id": body.user_id, "asset": body.asset, "amount": body.amount, "reference": body.reference, "status": status, "seq": receipt.seq})).await?;
    Ok(json!({"status": status, "seq": receipt.seq}))
}

#[derive(Deserialize)]
pub struct UserQuery {
    pub user_id: i64,
}

pub async fn balances(op: &Operator, query: UserQuery) -> Result<Value> {
    let user = UserId(
        u64::try_from(query.user_id)
            .map_err(|_| Error::bad_request("invalid_user", "user_id must be positive"))?,
    );
    let catalog = op.trading.sequencer.catalog();
    let rows = op
        .trading
        .sequencer
        .query(move |engine: &Engine| engine.user_balances(user))
        .await
        .map_err(internal)?;
    let balances: Vec<Value> = rows
        .iter()
        .filter_map(|(asset, available, held)| {
            let spec = catalog.asset_spec(*asset)?;
            Some(json!({"asset": spec.code, "available": bulwark_types::format_units(*available, spec.scale), "held": bulwark_types::format_units(*held, spec.scale)}))
        })
        .collect();
    Ok(json!({"user_id": query.user_id, "balances": balances}))
}

fn halt_command(action: &str, market: Option<bulwark_engine::MarketId>) -> Result<Command> {
    match action {
        "halt" => Ok(Command::Halt { market }),
        "resume" => Ok(Command::Resume { market }),
        _ => Err(Error::bad_request(
            "invalid_action",
            "action must be halt or resume",
        )),
    }
}

pub async fn market_halt(op: &Operator, (symbol, action): (String, String)) -> Result<Value> {
    let catalog = op.trading.sequencer.catalog();
    let market = catalog
        .market(&symbol)
        .ok_or_else(|| Error::bad_request("unknown_market", format!("unknown market {symbol}")))?;
    let command = halt_command(&action, Some(market.id))?;
    let id = command_id_for(&format!("admin:{action}:{symbol}:{}", now_ms()));
    let receipt = submit(op, id, command).await?;
    audit_action(
        op,
        &format!("market.{action}"),
        &json!({"symbol": symbol, "seq": receipt.seq}),
    )
    .await?;
    Ok(json!({"symbol": symbol, "halted": action == "halt", "seq": receipt.seq}))
}

pub async fn global_halt(op: &Operator, action: String) -> Result<Value> {
    let command = halt_command(&action, None)?;
    let id = command_id_for(&format!("admin:{action}:all:{}", now_ms()));
    let receipt = submit(op, id, command).await?;
    audit_action(
        op,
        &format!("trading.{action}"),
        &json!({"seq": receipt.seq}),
    )
    .await?;
    Ok(json!({"halted": action == "halt", "seq": receipt.seq}))
}

#[derive(Deserialize)]
pub struct ShareBody {
    pub share_bps: u32,
}

/// Most of every fee the Safeguard fund may receive (all of it).
const SHARE_BPS_MAX: u32 = 10_000;

/// Sets the Safeguard fund's share of every later trading fee (journaled, so it takes effect
/// from the next fee on and replays the same; audited with the share it replaced).
pub async fn set_safeguard_share(op: &Operator, body: ShareBody) -> Result<Value> {
    if body.share_bps > SHARE_BPS_MAX {
        return Err(Error::bad_request(
            "invalid_share",
            format!("share_bps must be at most {SHARE_BPS_MAX} (100%)"),
        ));
    }
    let before = op
        .trading
        .sequencer
        .query(|engine: &Engine| engine.safeguard_share_bps())
        .await
        .map_err(internal)?;
    let id = command_id_for(&format!(
        "admin:safeguard-share:{}:{}",
        body.share_bps,
        now_ms()
    ));
    let receipt = submit(
        op,
        id,
        Command::SetSafeguardShare {
            share_bps: body.share_bps,
        },
    )
    .await?;
    if let Err(reject) = receipt.outcome {
        return Err(Error::bad_request("invalid_share", reject.to_string()));
    }
    audit_action(
        op,
        "safeguard.share",
        &json!({"from_bps": before, "to_bps": body.share_bps, "seq": receipt.seq}),
    )
    .await?;
    Ok(json!({"share_bps": body.share_bps, "previous_bps": before, "seq": receipt.seq}))
}

pub async fn engine_status(op: &Operator) -> Result<Value> {
    let catalog = op.trading.sequencer.catalog();
    let (seq, hash, totals, live) = op
        .trading
        .sequencer
        .query(|engine: &Engine| {
            (
                engine.last_seq(),
                engine.state_hash(),
                engine.ledger_totals(),
                engine.live_orders().len(),
            )
        })
        .await
        .map_err(internal)?;
    let totals: Vec<Value> = totals
        .iter()
        .map(|t| json!({"asset": catalog.asset_spec(t.asset).map_or("?", |a| a.code.as_str()),
                        "users_available": t.users_available, "users_held": t.users_held, "fee_revenue": t.fee_revenue,
                        "safeguard": t.safeguard, "external": t.external, "adjustments": t.adjustments, "sum": t.sum}))
        .collect();
    let (commands, batches, fsync_nanos) = op.trading.sequencer.counters();
    Ok(
        json!({"last_seq": seq, "durable_seq": op.trading.sequencer.durable_seq(), "projected_seq": *op.trading.projected.borrow(),
                   "state_hash": hex::encode(hash), "live_orders": live, "ledger": totals, "global_halted": catalog.global_halted,
                   "commands_since_start": commands, "batches_since_start": batches, "journal_commit_nanos_total": fsync_nanos}),
    )
}

/// Compares the SQL read models with the engine: every live order and every balance must match.
///
/// The engine is read at one sequence number `seq` while trading goes on, so by the time the
/// store is read the projector may have moved some rows past `seq`. Those rows (their `last_seq`
/// is newer) cannot be compared with the snapshot and are counted as `moved_on`, not reported:
/// a live exchange must not fail its own check for being busy.
pub async fn consistency(op: &Operator) -> Result<Value> {
    let (seq, orders, balances) = op
        .trading
        .sequencer
        .query(|engine: &Engine| {
            let balances: Vec<(u64, bulwark_engine::AssetId, i64, i64)> = engine
                .user_ids()
                .into_iter()
                .flat_map(|user| {
                    engine
                        .user_balances(user)
                        .into_iter()
                        .map(move |(a, av, h)| (user.0, a, av, h))
                })
                .collect();
            (engine.last_seq(), engine.live_orders(), balances)
        })
        .await
        .map_err(internal)?;
    op.trading.wait_projected(seq).await;
    let snapshot_seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let newer = |last_seq: i64| last_seq > snapshot_seq;
    let catalog = op.trading.sequencer.catalog();
    let mut problems = Vec::new();
    let mut moved_on = 0u64;
    let store_orders = op.store().all_orders_with_state().await.map_err(internal)?;
    let mut store_orders: BTreeMap<i64, _> =
        store_orders.into_iter().map(|o| (o.order_id, o)).collect();
    for order in &orders {
        let mut expected = bulwark_projector::order_row(&catalog, order, 0);
        let row = match store_orders.remove(&expected.order_id) {
            Some(row) => Some(row),
            // Filled or cancelled after the snapshot: no longer in the live list.
            None => op
                .store()
                .get_order(expected.order_id)
                .await
                .map_err(internal)?,
        };
        match row {
            Some(row) if newer(row.last_seq) => moved_on += 1,
            Some(row) => {
                expected.last_seq = row.last_seq;
                if row != expected {
                    problems.push(format!(
                        "order {} differs: engine {expected:?} store {row:?}",
                        expected.order_id
                    ));
                }
            }
            None => problems.push(format!(
                "live order {} missing from store",
                expected.order_id
            )),
        }
    }
    for row in store_orders.values() {
        if newer(row.last_seq) {
            moved_on += 1;
        } else {
            problems.push(format!(
                "store has order {} live that the engine does not",
                row.order_id
            ));
        }
    }
    let store_balances = op.store().all_balances().await.map_err(internal)?;
    let store_balances: BTreeMap<(i64, String), (i64, i64, i64)> = store_balances
        .into_iter()
        .map(|b| ((b.user_id, b.asset), (b.available, b.held, b.last_seq)))
        .collect();
    let mut checked = 0;
    for (user, asset, available, held) in balances {
        let code = catalog.asset_code(asset).to_owned();
        let key = (i64::try_from(user).unwrap_or(-1), code);
        let (stored_available, stored_held, last_seq) =
            store_balances.get(&key).copied().unwrap_or((0, 0, 0));
        if newer(last_seq) {
            moved_on += 1;
        } else if (stored_available, stored_held) != (available, held) {
            problems.push(format!(
                "balance {key:?} differs: engine ({available}, {held}) store ({stored_available}, {stored_held})"
            ));
        }
        checked += 1;
    }
    Ok(
        json!({"seq": seq, "consistent": problems.is_empty(), "live_orders": orders.len(), "balances_checked": checked, "moved_on": moved_on, "problems": problems}),
    )
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default = "default_audit_limit")]
    pub limit: u32,
}

fn default_audit_limit() -> u32 {
    100
}

pub async fn audit(op: &Operator, query: AuditQuery) -> Result<Value> {
    let rows = op
        .store()
        .list_audit(query.limit.min(1_000))
        .await
        .map_err(internal)?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| json!({"id": r.id, "at_ms": r.at_ms, "actor": r.actor, "action": r.action, "params": serde_json::from_str::<Value>(&r.params_json).unwrap_or(Value::Null)}))
        .collect();
    Ok(json!({"entries": rows}))
}
