//! The admin API, served only on the staff listener and authenticated by the operator token in
//! `DATA/admin.token`. Every action is written to the audit log with its parameters (never a
//! secret). `bulwark admin …` is its client.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bulwark_accounts::admin::{self as staff, StaffOpError};
use bulwark_api::AppState;
use bulwark_engine::{Accepted, Command, Engine};
use bulwark_types::UserId;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::genesis::command_id_for;

/// Longest deposit reference accepted.
pub const DEPOSIT_REF_BYTES_MAX: usize = 128;
/// Longest API-key memo accepted (the one rule in `bulwark_accounts::keys`).
pub use bulwark_accounts::keys::MEMO_CHARS_MAX;

#[derive(Clone)]
pub struct AdminState {
    pub app: AppState,
    pub token: Arc<String>,
}

/// An admin error: HTTP status, stable code, message naming the problem.
#[derive(Debug)]
pub struct AdminError(StatusCode, &'static str, String);

impl AdminError {
    fn bad(code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError(StatusCode::BAD_REQUEST, code, message.into())
    }
    fn internal(detail: impl std::fmt::Display) -> AdminError {
        tracing::error!(%detail, "admin internal error");
        AdminError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log".into(),
        )
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({"error": {"code": self.1, "message": self.2}})),
        )
            .into_response()
    }
}

type AdminResult = Result<Json<Value>, AdminError>;

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/admin/v1/users", post(create_user))
        .route("/admin/v1/users/{id}/unfreeze", post(unfreeze_user))
        .route("/admin/v1/users/{id}/kyc-tier", post(set_kyc_tier))
        .route(
            "/admin/v1/2fa-resets/{id}/{decision}",
            post(decide_twofa_reset),
        )
        .route("/admin/v1/staff", get(list_staff))
        .route("/admin/v1/staff/{action}", post(change_staff_role))
        .route(
            "/admin/v1/agreements",
            get(list_agreements).post(publish_agreement),
        )
        .route("/admin/v1/apikeys", post(create_api_key))
        .route("/admin/v1/deposits", post(credit_deposit))
        .route("/admin/v1/balances", get(balances))
        .route("/admin/v1/markets/{symbol}/{action}", post(market_halt))
        .route("/admin/v1/trading/{action}", post(global_halt))
        .route("/admin/v1/engine", get(engine_status))
        .route("/admin/v1/consistency", get(consistency))
        .route("/admin/v1/audit", get(audit))
        .fallback(|| async {
            AdminError(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such admin route".into(),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .with_state(state)
}

async fn require_token(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let valid = given.len() == state.token.len()
        && bool::from(given.as_bytes().ct_eq(state.token.as_bytes()));
    if !valid {
        return AdminError(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong admin token".into(),
        )
        .into_response();
    }
    next.run(request).await
}

/// The audit actor of requests made with the operator token.
const OPERATOR: &str = "operator-token";

async fn audit_action(state: &AdminState, action: &str, params: &Value) -> Result<(), AdminError> {
    state
        .app
        .store()
        .append_audit(OPERATOR, action, &params.to_string(), bulwark_api::now_ms())
        .await
        .map(|_| ())
        .map_err(AdminError::internal)
}

async fn submit(
    state: &AdminState,
    id: bulwark_types::CommandId,
    command: Command,
) -> Result<bulwark_sequencer::Receipt, AdminError> {
    let receipt = state
        .app
        .sequencer
        .submit(id, command)
        .await
        .map_err(|e| AdminError(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string()))?;
    state.app.wait_projected(receipt.seq).await;
    Ok(receipt)
}

#[derive(Deserialize)]
struct NewUser {
    email: String,
    /// L0 (default), L1 or L2.
    #[serde(default)]
    kyc_tier: Option<String>,
}

#[derive(Deserialize)]
struct KycTierBody {
    tier: String,
}

fn kyc_level(name: &str) -> Result<i64, AdminError> {
    bulwark_accounts::access::tier_level(name)
        .map_err(|error| AdminError::bad("invalid_kyc_tier", error.to_string()))
}

/// The one email rule of the project (the same as sign-up), answered as an admin error.
fn normalise_email(email: &str) -> Result<String, AdminError> {
    bulwark_identity::account::Email::parse(email)
        .map(|email| email.as_str().to_string())
        .map_err(|error| AdminError::bad("invalid_email", error.to_string()))
}

async fn create_user(State(state): State<AdminState>, Json(body): Json<NewUser>) -> AdminResult {
    let email = normalise_email(&body.email)?;
    let level = kyc_level(body.kyc_tier.as_deref().unwrap_or("L0"))?;
    let id = match state
        .app
        .store()
        .create_user(&email, bulwark_api::now_ms())
        .await
    {
        Ok(id) => id,
        Err(bulwark_store::StoreError::Conflict(_)) => {
            return Err(AdminError(
                StatusCode::CONFLICT,
                "email_taken",
                "a user with this email already exists".into(),
            ));
        }
        Err(error) => return Err(AdminError::internal(error)),
    };
    if level > 0 {
        state
            .app
            .store()
            .set_kyc_tier(id, level)
            .await
            .map_err(AdminError::internal)?;
    }
    let tier = bulwark_accounts::access::tier_of(level).as_str();
    audit_action(
        &state,
        "user.create",
        &json!({"user_id": id, "email": email, "kyc_tier": tier}),
    )
    .await?;
    Ok(Json(
        json!({"user_id": id, "email": email, "kyc_tier": tier}),
    ))
}

/// `POST /admin/v1/users/{id}/kyc-tier` `{"tier":"L1"}`: sets the KYC level directly (for
/// operators and bots; people go through the KYC review). Audited with the previous level.
async fn set_kyc_tier(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    Json(body): Json<KycTierBody>,
) -> AdminResult {
    let id: i64 = id
        .parse()
        .map_err(|_| AdminError::bad("invalid_user_id", "user id must be an integer"))?;
    let level = kyc_level(&body.tier)?;
    let store = state.app.store();
    let Some(before) = store.kyc_profile(id).await.map_err(AdminError::internal)? else {
        return Err(AdminError(
            StatusCode::NOT_FOUND,
            "user_not_found",
            "no such user".into(),
        ));
    };
    store
        .set_kyc_tier(id, level)
        .await
        .map_err(AdminError::internal)?;
    let previous = bulwark_accounts::access::tier_of(before.kyc_tier).as_str();
    let tier = bulwark_accounts::access::tier_of(level).as_str();
    audit_action(
        &state,
        "user.kyc_tier",
        &json!({"user_id": id, "kyc_tier": tier, "previous": previous}),
    )
    .await?;
    Ok(Json(
        json!({"user_id": id, "kyc_tier": tier, "previous": previous}),
    ))
}

fn staff_error(error: StaffOpError) -> AdminError {
    match error {
        StaffOpError::Store(inner) => AdminError::internal(inner),
        other => AdminError(
            bulwark_api::v1::error::status_of(other.kind()),
            other.code(),
            other.to_string(),
        ),
    }
}

fn parse_user_id(id: &str) -> Result<i64, AdminError> {
    id.parse()
        .map_err(|_| AdminError::bad("invalid_user_id", "user id must be an integer"))
}

/// `POST /admin/v1/users/{id}/unfreeze`: frozen -> active after staff review (audited, and a
/// security event the owner sees). Sessions and API keys revoked by the freeze stay revoked.
/// The same function serves the staff console.
async fn unfreeze_user(State(state): State<AdminState>, Path(id): Path<String>) -> AdminResult {
    let id = parse_user_id(&id)?;
    staff::unfreeze_account(state.app.store(), id, OPERATOR, bulwark_api::now_ms())
        .await
        .map_err(staff_error)?;
    Ok(Json(json!({"user_id": id, "status": "active"})))
}

#[derive(Deserialize)]
struct TwofaDecision {
    /// The staff member's own user id (recorded; must not be the requester).
    reviewer_id: i64,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /admin/v1/2fa-resets/{id}/approve|reject` (audited). An approved request takes effect
/// at the owner's next login once its 48 hours have passed. The same function serves the staff
/// console.
async fn decide_twofa_reset(
    State(state): State<AdminState>,
    Path((id, decision)): Path<(String, String)>,
    Json(body): Json<TwofaDecision>,
) -> AdminResult {
    let id: i64 = id
        .parse()
        .map_err(|_| AdminError::bad("invalid_id", "request id must be an integer"))?;
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(AdminError::bad("invalid_decision", "use approve or reject")),
    };
    let status = staff::decide_twofa_reset(
        state.app.store(),
        id,
        body.reviewer_id,
        approve,
        body.reason.as_deref(),
        OPERATOR,
        bulwark_api::now_ms(),
    )
    .await
    .map_err(|error| match error {
        // The reviewer named in the body is wrong (the requester, or no user at all).
        StaffOpError::OwnRequest => AdminError::bad("invalid_reviewer", error.to_string()),
        StaffOpError::UserNotFound => AdminError::bad("invalid_reviewer", "reviewer is not a user"),
        other => staff_error(other),
    })?;
    Ok(Json(json!({"id": id, "status": status})))
}

#[derive(Deserialize)]
struct RoleChange {
    user_id: i64,
    role: String,
}

/// `POST /admin/v1/staff/grant|revoke`: gives or takes a staff role (audited). Staff accounts
/// still need TOTP and a TOTP login before the console lets them in.
async fn change_staff_role(
    State(state): State<AdminState>,
    Path(action): Path<String>,
    Json(body): Json<RoleChange>,
) -> AdminResult {
    let now_ms = bulwark_api::now_ms();
    let store = state.app.store();
    let roles = match action.as_str() {
        "grant" => staff::grant_role(store, body.user_id, &body.role, OPERATOR, now_ms).await,
        "revoke" => staff::revoke_role(store, body.user_id, &body.role, OPERATOR, now_ms).await,
        _ => return Err(AdminError::bad("invalid_action", "use grant or revoke")),
    }
    .map_err(staff_error)?;
    Ok(Json(
        json!({"user_id": body.user_id, "is_staff": !roles.is_empty(), "roles": roles}),
    ))
}

/// `GET /admin/v1/staff`: every staff account with its roles and whether TOTP is on.
async fn list_staff(State(state): State<AdminState>) -> AdminResult {
    let store = state.app.store();
    let accounts = store
        .list_staff_accounts()
        .await
        .map_err(AdminError::internal)?;
    let mut rows = Vec::with_capacity(accounts.len());
    for account in accounts {
        let totp = store
            .get_totp(account.id)
            .await
            .map_err(AdminError::internal)?;
        rows.push(json!({
            "user_id": account.id,
            "email": account.email,
            "phone": account.phone,
            "status": account.status,
            "roles": staff::roles_of(&account.staff_roles),
            "totp_enabled": totp.is_some_and(|t| t.enabled_ms.is_some()),
        }));
    }
    Ok(Json(json!({"staff": rows})))
}

#[derive(Deserialize)]
struct NewAgreement {
    version: String,
    #[serde(default = "yes")]
    current: bool,
}

fn yes() -> bool {
    true
}

/// Longest agreement version name.
const AGREEMENT_VERSION_CHARS_MAX: usize = 64;

/// `POST /admin/v1/agreements`: publishes a user-agreement version (audited); a current one is
/// shown to every user whose accepted version differs until they accept it.
async fn publish_agreement(
    State(state): State<AdminState>,
    Json(body): Json<NewAgreement>,
) -> AdminResult {
    let version = body.version.trim();
    let valid = !version.is_empty()
        && version.chars().count() <= AGREEMENT_VERSION_CHARS_MAX
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid {
        return Err(AdminError::bad(
            "invalid_version",
            "a version is 1-64 letters, digits, '-', '.' or '_'",
        ));
    }
    state
        .app
        .store()
        .publish_agreement_version(version, bulwark_api::now_ms(), body.current)
        .await
        .map_err(|error| match error {
            bulwark_store::StoreError::Conflict(_) => AdminError(
                StatusCode::CONFLICT,
                "version_exists",
                format!("agreement version {version} was already published"),
            ),
            other => AdminError::internal(other),
        })?;
    audit_action(
        &state,
        "agreement.publish",
        &json!({"version": version, "current": body.current}),
    )
    .await?;
    Ok(Json(json!({"version": version, "current": body.current})))
}

/// `GET /admin/v1/agreements`: every published version.
async fn list_agreements(State(state): State<AdminState>) -> AdminResult {
    let rows = state
        .app
        .store()
        .list_agreement_versions()
        .await
        .map_err(AdminError::internal)?;
    let versions: Vec<Value> = rows
        .iter()
        .map(|r| json!({"version": r.version, "published_ms": r.published_ms, "current": r.is_current == 1}))
        .collect();
    Ok(Json(json!({"versions": versions})))
}

#[derive(Deserialize)]
struct NewKey {
    user_id: i64,
    scopes: String,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    memo: Option<String>,
}

fn key_error(error: bulwark_accounts::keys::KeyError) -> AdminError {
    match error {
        bulwark_accounts::keys::KeyError::Crypto(detail) => AdminError::internal(detail),
        other => AdminError::bad(other.code(), other.to_string()),
    }
}

async fn create_api_key(State(state): State<AdminState>, Json(body): Json<NewKey>) -> AdminResult {
    use bulwark_accounts::keys;
    let scopes = keys::parse_scopes(body.scopes.split(',')).map_err(key_error)?;
    let ip = keys::parse_ips(body.ip.split(',')).map_err(key_error)?;
    let memo = body.memo.unwrap_or_else(|| "bulwark".into());
    keys::check_memo(&memo).map_err(key_error)?;
    let user = state
        .app
        .store()
        .get_user(body.user_id)
        .await
        .map_err(AdminError::internal)?;
    if user.is_none() {
        return Err(AdminError(
            StatusCode::NOT_FOUND,
            "unknown_user",
            format!("user {} does not exist", body.user_id),
        ));
    }
    let minted = keys::mint(
        &state.app.master_key,
        body.user_id,
        &memo,
        scopes.clone(),
        ip,
        bulwark_api::now_ms(),
    )
    .map_err(key_error)?;
    let access_key = minted.row.access_key.clone();
    state
        .app
        .store()
        .insert_api_key(&minted.row)
        .await
        .map_err(AdminError::internal)?;
    audit_action(&state, "apikey.create", &json!({"user_id": body.user_id, "access_key": access_key, "scopes": scopes, "ip": body.ip, "memo": memo})).await?;
    Ok(Json(
        json!({"user_id": body.user_id, "access_key": access_key, "secret": minted.secret, "memo": memo, "scopes": scopes}),
    ))
}

#[derive(Deserialize)]
struct NewDeposit {
    user_id: i64,
    asset: String,
    amount: String,
    reference: String,
}

async fn credit_deposit(
    State(state): State<AdminState>,
    Json(body): Json<NewDeposit>,
) -> AdminResult {
    let catalog = state.app.sequencer.catalog();
    let (asset, spec) = catalog
        .asset(&body.asset)
        .ok_or_else(|| AdminError::bad("unknown_asset", format!("unknown asset {}", body.asset)))?;
    let amount = bulwark_types::parse_units(&body.amount, spec.scale)
        .map_err(|e| AdminError::bad("invalid_amount", format!("amount {e}")))?;
    if amount <= 0 {
        return Err(AdminError::bad("invalid_amount", "amount must be positive"));
    }
    if body.reference.is_empty() || body.reference.len() > DEPOSIT_REF_BYTES_MAX {
        return Err(AdminError::bad(
            "invalid_reference",
            "reference must be 1 to 128 bytes",
        ));
    }
    if state
        .app
        .store()
        .get_user(body.user_id)
        .await
        .map_err(AdminError::internal)?
        .is_none()
    {
        return Err(AdminError(
            StatusCode::NOT_FOUND,
            "unknown_user",
            format!("user {} does not exist", body.user_id),
        ));
    }
    let user = UserId(u64::try_from(body.user_id).map_err(AdminError::internal)?);
    let command = Command::Deposit {
        user,
        asset,
        amount,
        reference: body.reference.clone(),
    };
    let receipt = submit(
        &state,
        command_id_for(&format!("deposit:{}", body.reference)),
        command,
    )
    .await?;
    let status = match receipt.outcome {
        Ok(Accepted::AlreadyApplied) => "already_applied",
        Ok(_) => "credited",
        Err(reject) => return Err(AdminError::bad("rejected", reject.to_string())),
    };
    audit_action(&state, "deposit.credit", &json!({"user_id": body.user_id, "asset": body.asset, "amount": body.amount, "reference": body.reference, "status": status, "seq": receipt.seq})).await?;
    Ok(Json(json!({"status": status, "seq": receipt.seq})))
}

#[derive(Deserialize)]
struct UserQuery {
    user_id: i64,
}

async fn balances(State(state): State<AdminState>, Query(query): Query<UserQuery>) -> AdminResult {
    let user = UserId(
        u64::try_from(query.user_id)
            .map_err(|_| AdminError::bad("invalid_user", "user_id must be positive"))?,
    );
    let catalog = state.app.sequencer.catalog();
    let rows = state
        .app
        .sequencer
        .query(move |engine: &Engine| engine.user_balances(user))
        .await
        .map_err(AdminError::internal)?;
    let balances: Vec<Value> = rows
        .iter()
        .filter_map(|(asset, available, held)| {
            let spec = catalog.asset_spec(*asset)?;
            Some(json!({"asset": spec.code, "available": bulwark_types::format_units(*available, spec.scale), "held": bulwark_types::format_units(*held, spec.scale)}))
        })
        .collect();
    Ok(Json(
        json!({"user_id": query.user_id, "balances": balances}),
    ))
}

fn halt_command(
    action: &str,
    market: Option<bulwark_engine::MarketId>,
) -> Result<Command, AdminError> {
    match action {
        "halt" => Ok(Command::Halt { market }),
        "resume" => Ok(Command::Resume { market }),
        _ => Err(AdminError::bad(
            "invalid_action",
            "action must be halt or resume",
        )),
    }
}

async fn market_halt(
    State(state): State<AdminState>,
    Path((symbol, action)): Path<(String, String)>,
) -> AdminResult {
    let catalog = state.app.sequencer.catalog();
    let market = catalog
        .market(&symbol)
        .ok_or_else(|| AdminError::bad("unknown_market", format!("unknown market {symbol}")))?;
    let command = halt_command(&action, Some(market.id))?;
    let id = command_id_for(&format!(
        "admin:{action}:{symbol}:{}",
        bulwark_api::now_ms()
    ));
    let receipt = submit(&state, id, command).await?;
    audit_action(
        &state,
        &format!("market.{action}"),
        &json!({"symbol": symbol, "seq": receipt.seq}),
    )
    .await?;
    Ok(Json(
        json!({"symbol": symbol, "halted": action == "halt", "seq": receipt.seq}),
    ))
}

async fn global_halt(State(state): State<AdminState>, Path(action): Path<String>) -> AdminResult {
    let command = halt_command(&action, None)?;
    let id = command_id_for(&format!("admin:{action}:all:{}", bulwark_api::now_ms()));
    let receipt = submit(&state, id, command).await?;
    audit_action(
        &state,
        &format!("trading.{action}"),
        &json!({"seq": receipt.seq}),
    )
    .await?;
    Ok(Json(
        json!({"halted": action == "halt", "seq": receipt.seq}),
    ))
}

async fn engine_status(State(state): State<AdminState>) -> AdminResult {
    let catalog = state.app.sequencer.catalog();
    let (seq, hash, totals, live) = state
        .app
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
        .map_err(AdminError::internal)?;
    let totals: Vec<Value> = totals
        .iter()
        .map(|t| json!({"asset": catalog.asset_spec(t.asset).map_or("?", |a| a.code.as_str()),
                        "users_available": t.users_available, "users_held": t.users_held, "fee_revenue": t.fee_revenue,
                        "safeguard": t.safeguard, "external": t.external, "adjustments": t.adjustments, "sum": t.sum}))
        .collect();
    let (commands, batches, fsync_nanos) = state.app.sequencer.counters();
    Ok(Json(
        json!({"last_seq": seq, "durable_seq": state.app.sequencer.durable_seq(), "projected_seq": *state.app.projected.borrow(),
                   "state_hash": hex::encode(hash), "live_orders": live, "ledger": totals, "global_halted": catalog.global_halted,
                   "commands_since_start": commands, "batches_since_start": batches, "journal_commit_nanos_total": fsync_nanos}),
    ))
}

/// Compares the SQL read models with the engine: every live order and every balance must match.
async fn consistency(State(state): State<AdminState>) -> AdminResult {
    let (seq, orders, balances) = state
        .app
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
        .map_err(AdminError::internal)?;
    state.app.wait_projected(seq).await;
    let catalog = state.app.sequencer.catalog();
    let mut problems = Vec::new();
    let store_orders = state
        .app
        .store()
        .all_orders_with_state()
        .await
        .map_err(AdminError::internal)?;
    let store_orders: BTreeMap<i64, _> =
        store_orders.into_iter().map(|o| (o.order_id, o)).collect();
    for order in &orders {
        let mut expected = bulwark_projector::order_row(&catalog, order, 0);
        match store_orders.get(&expected.order_id) {
            Some(row) => {
                expected.last_seq = row.last_seq;
                if *row != expected {
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
    if store_orders.len() != orders.len() {
        problems.push(format!(
            "store has {} live orders, engine {}",
            store_orders.len(),
            orders.len()
        ));
    }
    let store_balances = state
        .app
        .store()
        .all_balances()
        .await
        .map_err(AdminError::internal)?;
    let store_balances: BTreeMap<(i64, String), (i64, i64)> = store_balances
        .into_iter()
        .map(|b| ((b.user_id, b.asset), (b.available, b.held)))
        .collect();
    let mut checked = 0;
    for (user, asset, available, held) in balances {
        let code = catalog.asset_code(asset).to_owned();
        let key = (i64::try_from(user).unwrap_or(-1), code);
        let stored = store_balances.get(&key).copied().unwrap_or((0, 0));
        if stored != (available, held) {
            problems.push(format!(
                "balance {key:?} differs: engine ({available}, {held}) store {stored:?}"
            ));
        }
        checked += 1;
    }
    Ok(Json(
        json!({"seq": seq, "consistent": problems.is_empty(), "live_orders": orders.len(), "balances_checked": checked, "problems": problems}),
    ))
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default = "default_audit_limit")]
    limit: u32,
}

fn default_audit_limit() -> u32 {
    100
}

async fn audit(State(state): State<AdminState>, Query(query): Query<AuditQuery>) -> AdminResult {
    let rows = state
        .app
        .store()
        .list_audit(query.limit.min(1_000))
        .await
        .map_err(AdminError::internal)?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| json!({"id": r.id, "at_ms": r.at_ms, "actor": r.actor, "action": r.action, "params": serde_json::from_str::<Value>(&r.params_json).unwrap_or(Value::Null)}))
        .collect();
    Ok(Json(json!({"entries": rows})))
}
