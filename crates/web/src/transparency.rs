//! The transparency pages: `/transparency` (public) shows the newest signed report — the
//! Safeguard fund and its coverage, reserves against liabilities per asset, incidents, the audit
//! chain's head — with the fund's value over every report and the full report history linking
//! to the exact bytes and signatures; `/transparency/proof` lets a signed-in user download their
//! proof and verify it in the browser (`static/por-verify.js`, checked by the e2e tests against
//! the server's own verifier). Everything shown is read from the signed bytes, so the page says
//! nothing the report does not.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bulwark_por::control::AssetControl;
use bulwark_safeguard::report::Report;
use bulwark_safeguard::{Safeguard, SafeguardError};
use bulwark_types::{format_units, parse_units};
use serde::Deserialize;

use crate::WebState;
use crate::auth::{who, who_and_user};
use crate::caller::Caller;
use crate::charts;
use crate::pages::{self, Who};

/// State of the transparency pages.
#[derive(Clone)]
pub struct ProofState {
    pub web: WebState,
    pub safeguard: Safeguard,
}

/// Reports the history table and the fund chart read at most.
const HISTORY_MAX: i64 = 500;

pub struct FundLine {
    pub asset: String,
    pub balance: String,
    pub change: String,
    pub usdt: String,
}

pub struct SolvencyLine {
    pub asset: String,
    pub reserves: String,
    pub liabilities: String,
    /// Reserves over liabilities as a percentage; empty when nothing is owed.
    pub ratio: String,
    pub shortfall: String,
    pub short: bool,
    pub hot_share: String,
    /// The share of reserves at addresses whose key signed the report, and how many addresses.
    pub control: String,
}

pub struct IncidentLine {
    pub id: i64,
    pub asset: String,
    pub kind: String,
    pub detail: String,
    pub opened: String,
    /// Empty while the incident is open.
    pub resolved: String,
}

pub struct ReportLine {
    pub seq: i64,
    pub published: String,
    pub sha256: String,
}

/// The newest report as the page shows it.
pub struct Latest {
    pub seq: u64,
    pub published: String,
    pub journal_seq: u64,
    pub share: String,
    pub total_usdt: String,
    pub target_usdt: String,
    /// Fund over target as a percentage; empty when there is no target.
    pub coverage: String,
    pub below_target: bool,
    pub fund: Vec<FundLine>,
    pub solvency: Vec<SolvencyLine>,
    pub incidents: Vec<IncidentLine>,
    pub audit: String,
}

#[derive(Template)]
#[template(path = "transparency.html")]
pub struct TransparencyPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub key_hex: String,
    pub latest: Option<Latest>,
    pub chart_html: String,
    pub reports: Vec<ReportLine>,
}

#[derive(Template)]
#[template(path = "transparency_proof.html")]
pub struct ProofPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub assets: Vec<String>,
    pub asset: String,
    /// The user's proof JSON, pretty-printed; empty when not signed in or none.
    pub proof_json: String,
}

/// `bps` basis points as a percentage with two decimals.
fn percent_of_bps(bps: i64) -> String {
    format!("{}.{:02} %", bps / 100, (bps % 100).abs())
}

fn units(text: &str, scale: u32) -> String {
    text.parse::<i64>()
        .map(|u| format_units(u, scale))
        .unwrap_or_else(|_| text.to_owned())
}

/// `proven` of `total` as a percentage (two decimals), and the addresses behind it.
fn control_text(control: Option<&AssetControl>) -> String {
    match control {
        Some(c) if c.reserves > 0 => {
            let bps = c.proven.saturating_mul(10_000) / c.reserves;
            format!(
                "{} ({} of {} addresses)",
                percent_of_bps(i64::try_from(bps).unwrap_or(i64::MAX)),
                c.proven_addresses,
                c.addresses
            )
        }
        Some(c) => format!("{} of {} addresses", c.proven_addresses, c.addresses),
        None => String::new(),
    }
}

fn latest_view(report: &Report, control: &BTreeMap<String, AssetControl>) -> Latest {
    let scale_of = |asset: &str| {
        report
            .proof_of_liabilities
            .get(asset)
            .map_or(0, |l| l.scale)
    };
    Latest {
        seq: report.seq,
        published: pages::utc_time(report.published_ms),
        journal_seq: report.journal_seq,
        share: percent_of_bps(i64::from(report.safeguard.share_bps)),
        total_usdt: report.safeguard.total_usdt.clone(),
        target_usdt: report.safeguard.target_usdt.clone(),
        coverage: report
            .safeguard
            .coverage_bps
            .map(percent_of_bps)
            .unwrap_or_default(),
        below_target: report.safeguard.below_target,
        fund: report
            .safeguard
            .assets
            .iter()
            .map(|(asset, f)| FundLine {
                asset: asset.clone(),
                balance: units(&f.balance, f.scale),
                change: units(&f.change, f.scale),
                usdt: f.usdt.clone().unwrap_or_default(),
            })
            .collect(),
        solvency: report
            .solvency
            .iter()
            .map(|(asset, s)| {
                let scale = scale_of(asset);
                let owed: i64 = s.liabilities.parse().unwrap_or(0);
                let held: i64 = s.reserves.parse().unwrap_or(0);
                let ratio = if owed > 0 {
                    percent_of_bps(
                        i64::try_from(i128::from(held) * 10_000 / i128::from(owed))
                            .unwrap_or(i64::MAX),
                    )
                } else {
                    String::new()
                };
                SolvencyLine {
                    asset: asset.clone(),
                    reserves: units(&s.reserves, scale),
                    liabilities: units(&s.liabilities, scale),
                    ratio,
                    shortfall: units(&s.shortfall, scale),
                    short: s.shortfall != "0",
                    hot_share: report
                        .reserves
                        .get(asset)
                        .map(|r| percent_of_bps(r.hot_share_bps))
                        .unwrap_or_default(),
                    control: control_text(control.get(asset)),
                }
            })
            .collect(),
        incidents: report
            .incidents
            .iter()
            .map(|i| IncidentLine {
                id: i.id,
                asset: i.asset.clone(),
                kind: i.kind.clone(),
                detail: i.detail.clone(),
                opened: pages::utc_time(i.opened_ms),
                resolved: i.resolved_ms.map(pages::utc_time).unwrap_or_default(),
            })
            .collect(),
        audit: match (&report.audit.broken_at, &report.audit.head_hash) {
            (Some(id), _) => format!("BROKEN at entry {id}"),
            (None, Some(hash)) => format!(
                "{} entries, head {}",
                report.audit.entries,
                hash.get(..16).unwrap_or(hash)
            ),
            (None, None) => "empty".into(),
        },
    }
}

/// `GET /transparency`.
pub async fn page(State(state): State<ProofState>, caller: Caller) -> Response {
    let who = who(&state.web, &caller).await;
    let mut page = TransparencyPage {
        who,
        notice: String::new(),
        error: String::new(),
        key_hex: state.safeguard.public_key_hex(),
        latest: None,
        chart_html: String::new(),
        reports: Vec::new(),
    };
    let rows = match state.safeguard.reports(HISTORY_MAX, None).await {
        Ok(rows) => rows,
        Err(error) => {
            tracing::error!(%error, "reading transparency reports");
            page.error = "Reports are unavailable right now; they will be back shortly.".into();
            return pages::render(StatusCode::SERVICE_UNAVAILABLE, &page);
        }
    };
    let parsed: Vec<Report> = rows
        .iter()
        .filter_map(|r| serde_json::from_str(&r.body).ok())
        .collect();
    if let Some(report) = parsed.first() {
        let seq = i64::try_from(report.seq).unwrap_or(0);
        // Proofs added later show on the next visit; without them the column stays empty.
        let control = state
            .safeguard
            .control_coverage(seq)
            .await
            .unwrap_or_else(|error| {
                tracing::error!(%error, "reading control proofs");
                BTreeMap::new()
            });
        page.latest = Some(latest_view(report, &control));
    }
    let points: Vec<(String, i64)> = parsed
        .iter()
        .rev()
        .map(|r| {
            (
                pages::utc_time(r.published_ms),
                parse_units(&r.safeguard.total_usdt, 6).unwrap_or(0),
            )
        })
        .collect();
    page.chart_html = charts::value_line_svg(&points, &charts::FUND_VALUE, &|v| {
        format!("{} USDT", format_units(v, 6))
    });
    page.reports = rows
        .iter()
        .map(|r| ReportLine {
            seq: r.seq,
            published: pages::utc_time(r.published_ms),
            sha256: r.sha256.clone(),
        })
        .collect();
    pages::render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct AssetQuery {
    asset: Option<String>,
}

/// `GET /transparency/proof[?asset=]`: the verifier for anyone; the signed-in user's own proof
/// filled in.
pub async fn proof_page(
    State(state): State<ProofState>,
    caller: Caller,
    Query(query): Query<AssetQuery>,
) -> Response {
    let signed_in = who_and_user(&state.web, &caller).await;
    let assets = state.safeguard.assets();
    let asset = query
        .asset
        .map(|a| a.trim().to_ascii_uppercase())
        .filter(|a| !a.is_empty())
        .or_else(|| assets.first().cloned())
        .unwrap_or_default();
    let mut page = ProofPage {
        who: None,
        notice: String::new(),
        error: String::new(),
        assets,
        asset: asset.clone(),
        proof_json: String::new(),
    };
    let Some((who, user_id)) = signed_in else {
        page.notice =
            "Log in to download your own proof; anyone can paste a proof here to verify it.".into();
        return pages::render(StatusCode::OK, &page);
    };
    page.who = Some(who);
    match state.safeguard.proof(user_id, &asset, None).await {
        Ok(proof) => {
            page.proof_json = serde_json::to_string_pretty(&proof).unwrap_or_default();
        }
        Err(
            e @ (SafeguardError::NoReport
            | SafeguardError::NotInReport { .. }
            | SafeguardError::UnknownAsset(_)),
        ) => page.error = e.to_string(),
        Err(error) => {
            tracing::error!(%error, "building a proof");
            page.error = "Your proof is unavailable right now; try again shortly.".into();
        }
    }
    pages::render(StatusCode::OK, &page)
}

impl axum::extract::FromRef<ProofState> for WebState {
    fn from_ref(state: &ProofState) -> WebState {
        state.web.clone()
    }
}

/// An incident as the pages show it.
pub struct IncidentSummary {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub affected: String,
    pub containment: String,
    pub declared: String,
    /// Empty while open.
    pub resolved: String,
}

pub struct TimelineLine {
    pub at: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "incidents.html")]
pub struct IncidentsPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub declared: Vec<IncidentSummary>,
    pub automatic: Vec<IncidentLine>,
}

#[derive(Template)]
#[template(path = "incident.html")]
pub struct IncidentPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub i: IncidentSummary,
    pub timeline: Vec<TimelineLine>,
}

#[derive(Template)]
#[template(path = "incident_banner.html")]
pub struct BannerFragment {
    pub banners: Vec<bulwark_safeguard::incidents::Banner>,
}

/// Who is named as affected: assets, markets, and how many users (never who).
fn summary(row: &bulwark_safeguard::IncidentRow) -> IncidentSummary {
    let mut affected = Vec::new();
    if !row.assets.is_empty() {
        affected.push(format!("assets {}", row.assets.replace(',', ", ")));
    }
    if !row.markets.is_empty() {
        affected.push(format!("markets {}", row.markets.replace(',', ", ")));
    }
    let users = row.users.split(',').filter(|u| !u.is_empty()).count();
    if users > 0 {
        affected.push(format!("{users} account(s), told by email"));
    }
    let lifted = |at: Option<i64>| match at {
        Some(at) => format!(" (lifted {} UTC)", pages::utc_time(at)),
        None => String::new(),
    };
    let mut containment = Vec::new();
    let mut scoped = |scope: &str, all: &str, named: String, lifted_ms: Option<i64>| match scope {
        "global" => containment.push(format!("{all}{}", lifted(lifted_ms))),
        "none" => {}
        _ => containment.push(format!("{named}{}", lifted(lifted_ms))),
    };
    scoped(
        &row.halt_scope,
        "all trading halted, cancels still work",
        format!(
            "trading halted on {}, cancels still work",
            row.markets.replace(',', ", ")
        ),
        row.halt_lifted_ms,
    );
    scoped(
        &row.freeze_scope,
        "all withdrawals paused",
        format!("withdrawals of {} paused", row.assets.replace(',', ", ")),
        row.freeze_lifted_ms,
    );
    if row.pause_sweeps != 0 {
        containment.push(format!(
            "deposit sweeps paused{}",
            lifted(row.sweeps_lifted_ms)
        ));
    }
    IncidentSummary {
        id: row.id,
        kind: row.kind.replace('_', " "),
        title: row.title.clone(),
        affected: if affected.is_empty() {
            "not limited to named assets or markets".into()
        } else {
            affected.join("; ")
        },
        containment: if containment.is_empty() {
            "none".into()
        } else {
            containment.join("; ")
        },
        declared: pages::utc_time(row.declared_ms),
        resolved: row.resolved_ms.map(pages::utc_time).unwrap_or_default(),
    }
}

/// `GET /incidents`: every declared incident and custody's automatic ones.
pub async fn incidents_page(State(state): State<ProofState>, caller: Caller) -> Response {
    let who = who(&state.web, &caller).await;
    let mut page = IncidentsPage {
        who,
        notice: String::new(),
        error: String::new(),
        declared: Vec::new(),
        automatic: Vec::new(),
    };
    match (
        state.safeguard.incidents(500).await,
        state.safeguard.automatic_incidents(500).await,
    ) {
        (Ok(declared), Ok(automatic)) => {
            page.declared = declared.iter().map(summary).collect();
            page.automatic = automatic
                .iter()
                .map(|i| IncidentLine {
                    id: i.id,
                    asset: i.asset.clone(),
                    kind: i.kind.clone(),
                    detail: i.detail.clone(),
                    opened: pages::utc_time(i.opened_ms),
                    resolved: i.resolved_ms.map(pages::utc_time).unwrap_or_default(),
                })
                .collect();
            pages::render(StatusCode::OK, &page)
        }
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(%error, "reading incidents");
            page.error = "Incidents are unavailable right now; try again shortly.".into();
            pages::render(StatusCode::SERVICE_UNAVAILABLE, &page)
        }
    }
}

/// `GET /incidents/{id}`: one incident with its timeline.
pub async fn incident_page(
    State(state): State<ProofState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let who = who(&state.web, &caller).await;
    let found = match id.parse::<i64>() {
        Ok(id) => state.safeguard.incident(id).await,
        Err(_) => Err(SafeguardError::IncidentNotFound(0)),
    };
    match found {
        Ok(view) => {
            let page = IncidentPage {
                who,
                notice: String::new(),
                error: String::new(),
                i: summary(&view.incident),
                timeline: view
                    .updates
                    .iter()
                    .map(|u| TimelineLine {
                        at: pages::utc_time(u.at_ms),
                        message: u.message.clone(),
                    })
                    .collect(),
            };
            pages::render(StatusCode::OK, &page)
        }
        Err(SafeguardError::IncidentNotFound(_)) => {
            let page = IncidentsPage {
                who,
                notice: String::new(),
                error: format!("There is no incident {id}."),
                declared: Vec::new(),
                automatic: Vec::new(),
            };
            pages::render(StatusCode::NOT_FOUND, &page)
        }
        Err(error) => {
            tracing::error!(%error, "reading an incident");
            (StatusCode::SERVICE_UNAVAILABLE, "incident unavailable").into_response()
        }
    }
}

/// Largest page the banner is added to.
const BANNER_PAGE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Adds the open incidents' banner at the top of every HTML page, so users learn of an incident
/// on whatever page they are.
pub async fn incident_banner(
    State(safeguard): State<Safeguard>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let is_html = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let banners = match safeguard.banners().await {
        Ok(banners) if !banners.is_empty() => banners,
        Ok(_) => return response,
        Err(error) => {
            tracing::warn!(%error, "reading open incidents for the banner");
            return response;
        }
    };
    let Ok(fragment) = (BannerFragment { banners }).render() else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BANNER_PAGE_BYTES_MAX).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "page too large").into_response();
    };
    let html = String::from_utf8_lossy(&bytes);
    let split = html
        .find("<main>")
        .map(|at| at.saturating_add("<main>".len()))
        .and_then(|cut| Some((html.get(..cut)?, html.get(cut..)?)));
    let with_banner = match split {
        Some((head, rest)) => format!("{head}{fragment}{rest}"),
        None => html.into_owned(),
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(with_banner))
}
