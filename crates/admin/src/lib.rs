//! The admin API: the operator's HTTP adapter over `bulwark-operator`, served only on the staff
//! listener and authenticated by the operator token in `DATA/admin.token` (compared in constant
//! time). It parses, calls one operator use case and maps the result; `bulwark admin …` is its
//! client.

#![forbid(unsafe_code)]

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bulwark_accounts::{Error, Kind};
use bulwark_operator::{self as operator, Operator};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct AdminState {
    pub operator: Operator,
    pub custody: bulwark_custody::Custody,
    pub safeguard: bulwark_safeguard::Safeguard,
    pub token: Arc<String>,
    /// Renders the Prometheus metrics (`GET /metrics`).
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
}

/// An admin error: HTTP status, stable code, message naming the problem.
#[derive(Debug)]
pub struct AdminError(StatusCode, &'static str, String);

/// The HTTP status of each kind of refusal: the one place the admin API decides it.
fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::Invalid => StatusCode::BAD_REQUEST,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Gone => StatusCode::GONE,
        Kind::TooMany => StatusCode::TOO_MANY_REQUESTS,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for AdminError {
    fn from(error: Error) -> AdminError {
        // The operator API has always called its internal failures "internal".
        let code = if error.kind == Kind::Internal {
            "internal"
        } else {
            error.code
        };
        let message = if error.kind == Kind::Internal {
            "internal error; see the server log".to_string()
        } else {
            error.message
        };
        AdminError(status_of(error.kind), code, message)
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
        .route("/metrics", get(metrics))
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
        .route("/admin/v1/chains/{network}/{action}", post(chain_action))
        .route("/admin/v1/wallets", get(wallets))
        .route("/admin/v1/custody/withdrawals", get(custody_withdrawals))
        .route("/admin/v1/reconcile", post(reconcile))
        .route("/admin/v1/reconciliations", get(reconciliations))
        .route(
            "/admin/v1/custody/incidents/{id}/resolve",
            post(resolve_incident),
        )
        .route(
            "/admin/v1/operator-keys",
            get(operator_keys).post(add_operator_key),
        )
        .route(
            "/admin/v1/operator-keys/{id}/revoke",
            post(revoke_operator_key),
        )
        .route("/admin/v1/movements", get(movements))
        .route("/admin/v1/movements/refill", post(propose_refill))
        .route(
            "/admin/v1/movements/safeguard-payout",
            post(propose_safeguard_payout),
        )
        .route("/admin/v1/movements/{id}", get(movement))
        .route("/admin/v1/movements/{id}/sign", post(sign_movement))
        .route("/admin/v1/transparency/publish", post(publish_report))
        .route("/admin/v1/safeguard/share", post(safeguard_share))
        .route("/admin/v1/safeguard/policy", post(safeguard_policy))
        .route(
            "/admin/v1/safeguard/top-ups",
            get(safeguard_top_ups).post(safeguard_top_up),
        )
        .route("/admin/v1/transparency/proof", get(user_proof))
        .route(
            "/admin/v1/transparency/reports/{seq}/control-request",
            get(control_request),
        )
        .route(
            "/admin/v1/transparency/reports/{seq}/control",
            // As much as the console's paste form takes: a few hundred bytes per address.
            post(add_control).layer(axum::extract::DefaultBodyLimit::max(4 * 1024 * 1024)),
        )
        .route("/admin/v1/audit/verify", get(audit_verify))
        .route(
            "/admin/v1/incidents",
            get(list_incidents).post(declare_incident),
        )
        .route("/admin/v1/incidents/{id}/{action}", post(incident_action))
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

/// Whether an `Authorization` header value carries exactly the operator token, compared in
/// constant time so the answer's timing says nothing about how much of a guess was right.
fn bearer_matches(header: Option<&str>, token: &str) -> bool {
    let given = header.and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    !token.is_empty()
        && given.len() == token.len()
        && bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

async fn require_token(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !bearer_matches(given, &state.token) {
        return AdminError(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong admin token".into(),
        )
        .into_response();
    }
    next.run(request).await
}

async fn create_user(
    State(state): State<AdminState>,
    Json(body): Json<operator::NewUser>,
) -> AdminResult {
    Ok(Json(operator::create_user(&state.operator, body).await?))
}

/// `POST /admin/v1/users/{id}/kyc-tier` `{"tier":"L1"}`: sets the KYC level directly (for
/// operators and bots; people go through the KYC review). Audited with the previous level.
async fn set_kyc_tier(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    Json(body): Json<operator::KycTierBody>,
) -> AdminResult {
    Ok(Json(
        operator::set_kyc_tier(&state.operator, id, body).await?,
    ))
}

/// `POST /admin/v1/users/{id}/unfreeze`: frozen -> active after staff review (audited, and a
/// security event the owner sees). Sessions and API keys revoked by the freeze stay revoked.
/// The same function serves the staff console.
async fn unfreeze_user(State(state): State<AdminState>, Path(id): Path<String>) -> AdminResult {
    Ok(Json(operator::unfreeze_user(&state.operator, id).await?))
}

/// `POST /admin/v1/2fa-resets/{id}/approve|reject` (audited). An approved request takes effect
/// at the owner's next login once its 48 hours have passed. The same function serves the staff
/// console.
async fn decide_twofa_reset(
    State(state): State<AdminState>,
    Path((id, decision)): Path<(String, String)>,
    Json(body): Json<operator::TwofaDecision>,
) -> AdminResult {
    Ok(Json(
        operator::decide_twofa_reset(&state.operator, (id, decision), body).await?,
    ))
}

/// `POST /admin/v1/staff/grant|revoke`: gives or takes a staff role (audited). Staff accounts
/// still need TOTP and a TOTP login before the console lets them in.
async fn change_staff_role(
    State(state): State<AdminState>,
    Path(action): Path<String>,
    Json(body): Json<operator::RoleChange>,
) -> AdminResult {
    Ok(Json(
        operator::change_staff_role(&state.operator, action, body).await?,
    ))
}

/// `GET /admin/v1/staff`: every staff account with its roles and whether TOTP is on.
async fn list_staff(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(operator::list_staff(&state.operator).await?))
}

/// `POST /admin/v1/agreements`: publishes a user-agreement version (audited); a current one is
/// shown to every user whose accepted version differs until they accept it.
async fn publish_agreement(
    State(state): State<AdminState>,
    Json(body): Json<operator::NewAgreement>,
) -> AdminResult {
    Ok(Json(
        operator::publish_agreement(&state.operator, body).await?,
    ))
}

/// `GET /admin/v1/agreements`: every published version.
async fn list_agreements(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(operator::list_agreements(&state.operator).await?))
}

async fn create_api_key(
    State(state): State<AdminState>,
    Json(body): Json<operator::NewKey>,
) -> AdminResult {
    Ok(Json(operator::create_api_key(&state.operator, body).await?))
}

async fn credit_deposit(
    State(state): State<AdminState>,
    Json(body): Json<operator::NewDeposit>,
) -> AdminResult {
    Ok(Json(operator::credit_deposit(&state.operator, body).await?))
}

async fn balances(
    State(state): State<AdminState>,
    Query(query): Query<operator::UserQuery>,
) -> AdminResult {
    Ok(Json(operator::balances(&state.operator, query).await?))
}

async fn market_halt(
    State(state): State<AdminState>,
    Path((symbol, action)): Path<(String, String)>,
) -> AdminResult {
    Ok(Json(
        operator::market_halt(&state.operator, (symbol, action)).await?,
    ))
}

async fn global_halt(State(state): State<AdminState>, Path(action): Path<String>) -> AdminResult {
    Ok(Json(operator::global_halt(&state.operator, action).await?))
}

async fn engine_status(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(operator::engine_status(&state.operator).await?))
}

/// Compares the SQL read models with the engine: every live order and every balance must match.
async fn consistency(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(operator::consistency(&state.operator).await?))
}

async fn audit(
    State(state): State<AdminState>,
    Query(query): Query<operator::AuditQuery>,
) -> AdminResult {
    Ok(Json(operator::audit(&state.operator, query).await?))
}

/// `POST /admin/v1/chains/{network}/deposit|mine|steal`: drills on a simulated chain (audited).
async fn chain_action(
    State(state): State<AdminState>,
    Path((network, action)): Path<(String, String)>,
    Json(mut body): Json<Value>,
) -> AdminResult {
    if let Value::Object(map) = &mut body {
        map.insert("network".into(), Value::String(network));
    }
    let op = &state.operator;
    let custody = &state.custody;
    let result = match action.as_str() {
        "deposit" => operator::chain::chain_deposit(op, custody, parse(body)?).await?,
        "mine" => operator::chain::chain_mine(op, custody, parse(body)?).await?,
        "steal" => operator::chain::chain_steal(op, custody, parse(body)?).await?,
        _ => {
            return Err(AdminError(
                StatusCode::NOT_FOUND,
                "not_found",
                "chain actions are deposit, mine and steal".into(),
            ));
        }
    };
    Ok(Json(result))
}

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, AdminError> {
    serde_json::from_value(body)
        .map_err(|e| AdminError(StatusCode::BAD_REQUEST, "invalid_body", e.to_string()))
}

/// `GET /metrics`: the Prometheus text exposition (behind the admin token like every route
/// here: scrape with `authorization: {credentials_file: DATA/admin.token}`).
async fn metrics(State(state): State<AdminState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        (state.metrics)(),
    )
        .into_response()
}

/// `GET /admin/v1/wallets`: every custody wallet with its balance.
async fn wallets(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(operator::chain::wallets(&state.custody).await?))
}

/// `GET /admin/v1/custody/withdrawals?state=`: a withdrawal queue (default: awaiting staff).
async fn custody_withdrawals(
    State(state): State<AdminState>,
    Query(query): Query<operator::chain::StateQuery>,
) -> AdminResult {
    Ok(Json(
        operator::chain::withdrawals(&state.custody, query).await?,
    ))
}

/// `POST /admin/v1/reconcile`: reconciles chains, custody records and the ledger now.
async fn reconcile(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(
        operator::chain::reconcile(&state.operator, &state.custody).await?,
    ))
}

/// `GET /admin/v1/reconciliations`: reconciliation history and custody incidents.
async fn reconciliations(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(
        operator::chain::reconciliations(&state.custody).await?,
    ))
}

/// `POST /admin/v1/custody/incidents/{id}/resolve` `{"resolution": "…"}` (audited).
async fn resolve_incident(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    Json(body): Json<operator::chain::Resolution>,
) -> AdminResult {
    Ok(Json(
        operator::chain::resolve_incident(&state.operator, &state.custody, id, body).await?,
    ))
}

/// `POST /admin/v1/safeguard/share` `{"share_bps": N}`: the fund's share of every later fee
/// (audited).
async fn safeguard_share(State(state): State<AdminState>, Json(body): Json<Value>) -> AdminResult {
    Ok(Json(
        operator::set_safeguard_share(&state.operator, parse(body)?).await?,
    ))
}

/// `POST /admin/v1/safeguard/policy` `{"per_user_cap_usdt", "per_incident_cap_usdt", "note"}`:
/// a new version of the coverage policy's caps, for claims filed from now on (audited).
async fn safeguard_policy(State(state): State<AdminState>, Json(body): Json<Value>) -> AdminResult {
    Ok(Json(
        operator::transparency::publish_policy(&state.safeguard, parse(body)?).await?,
    ))
}

/// `POST /admin/v1/safeguard/top-ups` `{"asset", "amount", "from": "fee_revenue"|"treasury",
/// "network"?, "txid"?, "note"?}`: adds to the fund beyond its fee share (audited).
async fn safeguard_top_up(State(state): State<AdminState>, Json(body): Json<Value>) -> AdminResult {
    Ok(Json(
        operator::transparency::top_up(&state.safeguard, parse(body)?).await?,
    ))
}

/// `GET /admin/v1/safeguard/top-ups`: every top-up, oldest first.
async fn safeguard_top_ups(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(
        operator::transparency::top_ups(&state.safeguard).await?,
    ))
}

/// `POST /admin/v1/transparency/publish`: publishes a transparency report now (audited).
async fn publish_report(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(
        operator::transparency::publish(&state.safeguard).await?,
    ))
}

/// `GET /admin/v1/transparency/reports/{seq}/control-request`: the hot and deposit addresses
/// still to be proven, with their key paths, for the offline signer.
async fn control_request(State(state): State<AdminState>, Path(seq): Path<String>) -> AdminResult {
    Ok(Json(
        operator::transparency::control_request(&state.safeguard, seq).await?,
    ))
}

/// `POST /admin/v1/transparency/reports/{seq}/control`: the offline signer's proofs (audited).
async fn add_control(
    State(state): State<AdminState>,
    Path(seq): Path<String>,
    Json(body): Json<Value>,
) -> AdminResult {
    Ok(Json(
        operator::transparency::add_control(&state.safeguard, seq, parse(body)?).await?,
    ))
}

/// `GET /admin/v1/transparency/proof?user=&asset=[&seq=]`: a user's proof, for support.
async fn user_proof(
    State(state): State<AdminState>,
    Query(query): Query<operator::transparency::ProofQuery>,
) -> AdminResult {
    Ok(Json(
        operator::transparency::proof(&state.safeguard, query).await?,
    ))
}

/// `GET|POST /admin/v1/incidents`: declared incidents with their timelines; declare one with its
/// containment (audited).
async fn list_incidents(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(operator::incidents::list(&state.safeguard).await?))
}

async fn declare_incident(State(state): State<AdminState>, Json(body): Json<Value>) -> AdminResult {
    Ok(Json(
        operator::incidents::declare(&state.safeguard, parse(body)?).await?,
    ))
}

/// `POST /admin/v1/incidents/{id}/update|lift|resolve` (audited).
async fn incident_action(
    State(state): State<AdminState>,
    Path((id, action)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> AdminResult {
    let safeguard = &state.safeguard;
    let result = match action.as_str() {
        "update" => operator::incidents::update(safeguard, id, parse(body)?).await?,
        "lift" => operator::incidents::lift(safeguard, id, parse(body)?).await?,
        "resolve" => operator::incidents::resolve(safeguard, id, parse(body)?).await?,
        _ => {
            return Err(AdminError(
                StatusCode::NOT_FOUND,
                "unknown_action",
                format!("unknown incident action {action:?}; use update, lift or resolve"),
            ));
        }
    };
    Ok(Json(result))
}

/// `GET /admin/v1/audit/verify`: recomputes the audit log's hash chain.
async fn audit_verify(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(
        operator::transparency::audit_verify(&state.safeguard).await?,
    ))
}

/// `GET|POST /admin/v1/operator-keys`: registered operator signing keys; register one.
async fn operator_keys(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(operator::chain::operator_keys(&state.custody).await?))
}

async fn add_operator_key(
    State(state): State<AdminState>,
    Json(body): Json<operator::chain::NewOperatorKey>,
) -> AdminResult {
    Ok(Json(
        operator::chain::add_operator_key(&state.operator, &state.custody, body).await?,
    ))
}

/// `POST /admin/v1/operator-keys/{id}/revoke`.
async fn revoke_operator_key(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> AdminResult {
    Ok(Json(
        operator::chain::revoke_operator_key(&state.operator, &state.custody, id).await?,
    ))
}

/// `GET /admin/v1/movements`: fund movements and their signature state.
async fn movements(State(state): State<AdminState>) -> AdminResult {
    Ok(Json(operator::chain::movements(&state.custody).await?))
}

/// `POST /admin/v1/movements/refill` `{"asset","network","amount"}`: proposes cold → hot.
async fn propose_refill(
    State(state): State<AdminState>,
    Json(body): Json<operator::chain::NewRefill>,
) -> AdminResult {
    Ok(Json(
        operator::chain::propose_refill(&state.operator, &state.custody, body).await?,
    ))
}

/// `POST /admin/v1/movements/safeguard-payout` `{"claim_id"}`: proposes an approved claim's
/// payout (the only way a Safeguard payout is proposed besides the staff action `pay`).
async fn propose_safeguard_payout(
    State(state): State<AdminState>,
    Json(body): Json<Value>,
) -> AdminResult {
    Ok(Json(
        operator::transparency::pay_claim(&state.safeguard, parse(body)?).await?,
    ))
}

/// `GET /admin/v1/movements/{id}`: one movement with the exact text operators sign.
async fn movement(State(state): State<AdminState>, Path(id): Path<String>) -> AdminResult {
    Ok(Json(operator::chain::movement(&state.custody, id).await?))
}

/// `POST /admin/v1/movements/{id}/sign` `{"public_key","signature"}` (hex).
async fn sign_movement(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    Json(body): Json<operator::chain::MovementSignature>,
) -> AdminResult {
    Ok(Json(
        operator::chain::sign_movement(&state.custody, id, body).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_opens_the_api() {
        let token = "0123456789abcdef";
        assert!(bearer_matches(Some("Bearer 0123456789abcdef"), token));
        for header in [
            None,
            Some(""),
            Some("0123456789abcdef"),
            Some("Basic 0123456789abcdef"),
            Some("Bearer 0123456789abcdeF"),
            Some("Bearer 0123456789abcde"),
            Some("Bearer 0123456789abcdef0"),
            Some("bearer 0123456789abcdef"),
        ] {
            assert!(!bearer_matches(header, token), "{header:?}");
        }
        assert!(
            !bearer_matches(Some("Bearer "), ""),
            "an empty token opens nothing"
        );
    }

    #[test]
    fn each_kind_maps_to_one_status_and_internal_detail_stays_in_the_log() {
        let cases = [
            (Kind::Invalid, 400),
            (Kind::Unauthenticated, 401),
            (Kind::Forbidden, 403),
            (Kind::NotFound, 404),
            (Kind::Conflict, 409),
            (Kind::Gone, 410),
            (Kind::TooMany, 429),
            (Kind::Unavailable, 503),
            (Kind::Internal, 500),
        ];
        for (kind, status) in cases {
            let AdminError(got, code, message) =
                AdminError::from(Error::new(kind, "some_code", "database at /secret/path"));
            assert_eq!(got.as_u16(), status, "{kind:?}");
            if kind == Kind::Internal {
                assert_eq!(code, "internal");
                assert!(!message.contains("/secret/path"), "{message}");
            } else {
                assert_eq!(
                    (code, message.as_str()),
                    ("some_code", "database at /secret/path")
                );
            }
        }
    }
}
