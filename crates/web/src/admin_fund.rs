//! The staff console's Safeguard fund page, `/admin/safeguard`: the fund per asset now, its
//! top-ups, the published reports with how much of their reserves is proven under control,
//! and the coverage policy's versions; forms to top up the fund, publish a report, upload the
//! offline seed's control proofs (after downloading a report's signing request), and publish a
//! policy version. Staff who manage the fund (treasury, admin) only; each form is one call of
//! the Safeguard use case the operator API calls too.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bulwark_accounts::sessions::Authed;
use bulwark_safeguard::fund::TopUp;
use bulwark_safeguard::fund_console::FundConsole;
use bulwark_safeguard::policy::PolicyChange;
use bulwark_types::format_units;
use serde::Deserialize;

use crate::auth::{csrf_ok, who_and_authed};
use crate::caller::Caller;
use crate::form::PageForm;
use crate::pages::{self, Flash, Who};
use crate::transparency::ProofState;

pub struct FundLine {
    pub asset: String,
    pub balance: String,
    pub usdt: String,
}

pub struct TopUpLine {
    pub at: String,
    pub asset: String,
    pub amount: String,
    pub from: String,
    pub transfer: String,
    pub actor: String,
    pub note: String,
}

pub struct ReportLine {
    pub seq: i64,
    pub published: String,
    pub sha256: String,
    /// Per asset: "BTC 100.00 % (2 of 3 addresses)".
    pub control: Vec<String>,
}

pub struct PolicyLine {
    pub version: String,
    pub published: String,
    pub per_user: i64,
    pub per_incident: i64,
    pub note: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "admin_fund.html")]
pub struct FundPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub assets: Vec<String>,
    pub fund: Vec<FundLine>,
    pub top_ups: Vec<TopUpLine>,
    pub reports: Vec<ReportLine>,
    pub policies: Vec<PolicyLine>,
}

fn usdt(micros: Option<i64>) -> String {
    micros.map(|m| format_units(m, 6)).unwrap_or_default()
}

fn page_of(console: &FundConsole, who: Who, flash: Flash) -> FundPage {
    let scale_of = |asset: &str| {
        console
            .fund
            .iter()
            .find(|f| f.asset == asset)
            .map_or(0, |f| f.scale)
    };
    let newest = console.policies.last().map(|t| t.version.clone());
    FundPage {
        csrf: who.csrf.clone(),
        who: Some(who),
        notice: flash.notice,
        error: flash.error,
        assets: console.fund.iter().map(|f| f.asset.clone()).collect(),
        fund: console
            .fund
            .iter()
            .map(|f| FundLine {
                asset: f.asset.clone(),
                balance: format_units(f.balance, f.scale),
                usdt: usdt(f.usdt),
            })
            .collect(),
        top_ups: console
            .top_ups
            .iter()
            .rev()
            .map(|t| TopUpLine {
                at: pages::utc_time(t.at_ms),
                asset: t.asset.clone(),
                amount: format_units(t.amount, scale_of(&t.asset)),
                from: t.source.replace('_', " "),
                transfer: match (&t.network, &t.txid) {
                    (Some(network), Some(txid)) => format!("{network} {txid}"),
                    _ => String::new(),
                },
                actor: t.actor.clone(),
                note: t.note.clone(),
            })
            .collect(),
        reports: console
            .reports
            .iter()
            .map(|r| ReportLine {
                seq: r.report.seq,
                published: pages::utc_time(r.report.published_ms),
                sha256: r.report.sha256.clone(),
                control: r
                    .control
                    .iter()
                    .map(|(asset, c)| {
                        format!(
                            "{asset} {} of {} addresses",
                            c.proven_addresses, c.addresses
                        )
                    })
                    .collect(),
            })
            .collect(),
        policies: console
            .policies
            .iter()
            .rev()
            .map(|t| PolicyLine {
                current: newest.as_deref() == Some(t.version.as_str()),
                version: t.version.clone(),
                published: if t.published_ms > 0 {
                    pages::utc_time(t.published_ms)
                } else {
                    "built in".into()
                },
                per_user: t.per_user_cap(),
                per_incident: t.per_incident_cap(),
                note: t.note.clone(),
            })
            .collect(),
    }
}

async fn render(
    state: &ProofState,
    who: Who,
    authed: &Authed,
    status: StatusCode,
    flash: Flash,
) -> Response {
    match state.safeguard.staff_fund_console(authed).await {
        Ok(console) => pages::render(status, &page_of(&console, who, flash)),
        Err(error) => pages::render(
            bulwark_api::v1::error::status_of(error.kind),
            &pages::Landing {
                who: Some(who),
                notice: String::new(),
                error: error.message,
            },
        ),
    }
}

/// `GET /admin/safeguard`.
pub async fn page(State(state): State<ProofState>, caller: Caller) -> Response {
    let Some((who, authed)) = who_and_authed(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    render(&state, who, &authed, StatusCode::OK, Flash::default()).await
}

/// Every form of the page: which fields it uses depends on the action.
#[derive(Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    asset: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    network: String,
    #[serde(default)]
    txid: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    per_user_cap_usdt: String,
    #[serde(default)]
    per_incident_cap_usdt: String,
    /// The control proofs JSON `bulwark operator sign-control` printed.
    #[serde(default)]
    proofs: String,
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The staff member behind a form post, or the answer when there is none (not signed in: the
/// login page; a stale form: the page again, saying so).
async fn form_caller(
    state: &ProofState,
    caller: &Caller,
    csrf: &str,
) -> Result<(Who, Authed), Response> {
    let Some((who, authed)) = who_and_authed(&state.web, caller).await else {
        return Err(pages::see_other("/login"));
    };
    if !csrf_ok(caller, csrf) {
        let flash = Flash::error(pages::FORM_EXPIRED);
        return Err(render(state, who, &authed, StatusCode::FORBIDDEN, flash).await);
    }
    Ok((who, authed))
}

/// `POST /admin/safeguard/top-up|publish|policy`.
pub async fn act(
    State(state): State<ProofState>,
    caller: Caller,
    Path(action): Path<String>,
    PageForm(form): PageForm<ActionForm>,
) -> Response {
    let (who, authed) = match form_caller(&state, &caller, &form.csrf).await {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    let safeguard = &state.safeguard;
    let done = match action.as_str() {
        "top-up" => safeguard
            .staff_top_up(
                &authed,
                TopUp {
                    asset: form.asset.clone(),
                    amount: form.amount.clone(),
                    from: form.from.clone(),
                    network: optional(&form.network),
                    txid: optional(&form.txid),
                    note: form.note.clone(),
                },
            )
            .await
            .map(|row| {
                format!(
                    "The fund was topped up with {} {} (journal seq {}).",
                    form.amount.trim(),
                    row.asset,
                    row.journal_seq
                )
            }),
        "publish" => safeguard
            .staff_publish(&authed)
            .await
            .map(|row| format!("Report {} published (sha256 {}).", row.seq, row.sha256)),
        "policy" => safeguard
            .staff_publish_policy(
                &authed,
                &PolicyChange {
                    per_user_cap_usdt: form.per_user_cap_usdt.clone(),
                    per_incident_cap_usdt: form.per_incident_cap_usdt.clone(),
                    note: form.note.clone(),
                },
            )
            .await
            .map(|terms| {
                format!(
                    "Policy {} published; it applies to claims filed from now on.",
                    terms.version
                )
            }),
        _ => {
            let flash = Flash::error("No such action.");
            return render(&state, who, &authed, StatusCode::NOT_FOUND, flash).await;
        }
    };
    after(&state, who, &authed, done).await
}

/// The page again with what happened.
async fn after(
    state: &ProofState,
    who: Who,
    authed: &Authed,
    done: Result<String, bulwark_accounts::Error>,
) -> Response {
    match done {
        Ok(notice) => render(state, who, authed, StatusCode::OK, Flash::notice(notice)).await,
        Err(error) => {
            let status = bulwark_api::v1::error::status_of(error.kind);
            render(state, who, authed, status, Flash::error(error.message)).await
        }
    }
}

fn report_seq(text: &str) -> Option<i64> {
    text.parse().ok().filter(|seq| *seq >= 1)
}

/// `GET /admin/safeguard/reports/{seq}/control-request`: the signing request as a JSON file
/// for the offline signer.
pub async fn control_request(
    State(state): State<ProofState>,
    caller: Caller,
    Path(seq): Path<String>,
) -> Response {
    let Some((who, authed)) = who_and_authed(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    let Some(seq) = report_seq(&seq) else {
        let flash = Flash::error("No such report.");
        return render(&state, who, &authed, StatusCode::NOT_FOUND, flash).await;
    };
    match state.safeguard.staff_control_request(&authed, seq).await {
        Ok(request) => match serde_json::to_string_pretty(&request) {
            Ok(body) => (
                [
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"control-request-{seq}.json\""),
                    ),
                ],
                body,
            )
                .into_response(),
            Err(e) => {
                tracing::error!("control request {seq}: {e}");
                let flash = Flash::error("The request could not be written; try again.");
                render(
                    &state,
                    who,
                    &authed,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    flash,
                )
                .await
            }
        },
        Err(error) => after(&state, who, &authed, Err(error)).await,
    }
}

/// `POST /admin/safeguard/reports/{seq}/control`: the offline signer's proofs, pasted.
pub async fn add_control(
    State(state): State<ProofState>,
    caller: Caller,
    Path(seq): Path<String>,
    PageForm(form): PageForm<ActionForm>,
) -> Response {
    let (who, authed) = match form_caller(&state, &caller, &form.csrf).await {
        Ok(signed_in) => signed_in,
        Err(refused) => return refused,
    };
    let Some(seq) = report_seq(&seq) else {
        let flash = Flash::error("No such report.");
        return render(&state, who, &authed, StatusCode::NOT_FOUND, flash).await;
    };
    let Ok(proofs) = serde_json::from_str(&form.proofs) else {
        let flash = Flash::error(
            "Paste the JSON that `bulwark operator sign-control` printed for this report.",
        );
        return render(&state, who, &authed, StatusCode::BAD_REQUEST, flash).await;
    };
    let done = state
        .safeguard
        .staff_add_control(&authed, seq, &proofs)
        .await
        .map(|added| format!("Report {seq}: {added} new control proofs, each checked."));
    after(&state, who, &authed, done).await
}
