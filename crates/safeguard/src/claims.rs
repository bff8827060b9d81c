//! Safeguard claims, from report to payout. A user files a claim for a loss (the account comes
//! from the session, never the request); staff acknowledge it, investigate (the claim view
//! shows the account's logins, withdrawals and the incident for the time window, and flags
//! signs of user-side compromise), ask for information, and decide under the published
//! coverage policy; the user may reply and appeal once; an approved claim is paid from the
//! Safeguard fund through custody's M-of-N payout movement, whose engine command id is derived
//! from the claim, so it is paid at most once. Rules: the claimant never reviews their claim,
//! the decider is not the investigator, payout <= approved <= claimed, per-user and
//! per-incident caps, and when an incident's approved claims exceed the fund each is paid the
//! same share of its approved amount (pro rata); the fund never goes negative.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_accounts::admin::{Capability, require_staff};
use bulwark_accounts::sessions::Authed;
use bulwark_engine::{Engine, SystemAccount};
use bulwark_store::{
    ClaimEventRow, ClaimMove, ClaimRow, HistoryWindow, IncidentRow, LoginActivityRow, WithdrawalRow,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{SafeguardError, SafeguardResult, invalid};
use crate::service::Safeguard;
use crate::terms::Terms;

/// A loss staff already know of when they declare an incident: a claim is opened for it.
#[derive(Debug, Clone, Deserialize)]
pub struct Loss {
    pub user: i64,
    pub asset: String,
    pub amount: String,
}

/// What a user may file under.
pub const CATEGORIES: [&str; 4] = [
    "platform_breach",
    "unauthorized_withdrawal",
    "platform_error",
    "other",
];

/// A decision's reason code: covered codes approve, the others reject.
pub struct ReasonCode {
    pub code: &'static str,
    pub covered: bool,
    pub meaning: &'static str,
}

pub const REASON_CODES: [ReasonCode; 11] = [
    ReasonCode {
        code: "platform_wallet_breach",
        covered: true,
        meaning: "Theft from a platform wallet (hot or cold)",
    },
    ReasonCode {
        code: "insider_theft",
        covered: true,
        meaning: "Theft by someone working for the platform",
    },
    ReasonCode {
        code: "platform_failure",
        covered: true,
        meaning: "A platform bug or failure debited the user wrongly",
    },
    ReasonCode {
        code: "contributory_negligence",
        covered: true,
        meaning: "Covered in part: the user's own negligence contributed, so the approved amount is the platform's share, below the amount claimed",
    },
    ReasonCode {
        code: "user_phishing_or_malware",
        covered: false,
        meaning: "The user's credentials or device were phished or infected",
    },
    ReasonCode {
        code: "shared_credentials",
        covered: false,
        meaning: "The user shared passwords, codes or API keys",
    },
    ReasonCode {
        code: "own_device_or_credential_loss",
        covered: false,
        meaning: "The user lost their device or credentials",
    },
    ReasonCode {
        code: "wrong_address",
        covered: false,
        meaning: "The user sent funds to a wrong address",
    },
    ReasonCode {
        code: "market_loss",
        covered: false,
        meaning: "A trading or market loss",
    },
    ReasonCode {
        code: "recovered_or_recoverable",
        covered: false,
        meaning: "The funds were or can be recovered",
    },
    ReasonCode {
        code: "insufficient_evidence",
        covered: false,
        meaning: "Nothing shows the loss happened as described",
    },
];

/// The policy's reason codes that are covered (or, with `false`, not covered), for the pages
/// that show the policy beside a claim.
pub fn reason_codes(covered: bool) -> Vec<&'static ReasonCode> {
    REASON_CODES
        .iter()
        .filter(|r| r.covered == covered)
        .collect()
}

/// The published policy (`GET /transparency/v1/policy`): the terms in force, and every
/// version with what it changed.
pub fn policy(terms: &Terms, versions: &[Terms]) -> Value {
    json!({
        "version": terms.version,
        "categories": CATEGORIES,
        "covered": reason_codes(true).iter().map(|r| json!({"code": r.code, "meaning": r.meaning})).collect::<Vec<_>>(),
        "not_covered": reason_codes(false).iter().map(|r| json!({"code": r.code, "meaning": r.meaning})).collect::<Vec<_>>(),
        "per_user_cap_usdt": terms.per_user_cap(),
        "per_incident_cap_usdt": terms.per_incident_cap(),
        "versions": versions.iter().map(Terms::json).collect::<Vec<_>>(),
        "rules": [
            "The claimant never reviews their own claim; the staff member who decides is not the one who investigated.",
            "The approved amount never exceeds the amount claimed; under contributory_negligence it is the platform's share, below the amount claimed.",
            "Payout equals the approved amount while the fund holds enough. When an incident's approved claims in an asset exceed what the fund holds (less payouts already proposed), each is paid the same fraction of its approved amount: fund / outstanding approved.",
            "Payouts come from the Safeguard fund and need M-of-N operator signatures; a claim is paid at most once.",
            "A claim is decided under the policy version in force when it was filed; a new version applies to claims filed after it.",
            "A rejected claim may be appealed once.",
        ],
    })
}

/// What a user files.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filing {
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub asset: String,
    /// Decimal, in the asset.
    #[serde(default)]
    pub amount: String,
    /// The user's own withdrawal ids the loss concerns.
    #[serde(default)]
    pub withdrawal_ids: Vec<i64>,
    pub incident_id: Option<i64>,
    pub window_from_ms: i64,
    pub window_to_ms: i64,
}

/// What staff send with an action.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StaffInput {
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub reason_code: String,
}

/// A claim with its history.
#[derive(Debug, Clone)]
pub struct ClaimView {
    pub claim: ClaimRow,
    pub events: Vec<ClaimEventRow>,
    /// The evidence files attached, without their bytes.
    pub evidence: Vec<bulwark_store::EvidenceMeta>,
    /// The uncovered part's submission to the external insurer, if any.
    pub insurer: Option<bulwark_store::InsurerSubmissionRow>,
}

/// Description length bounds.
const DESCRIPTION_MIN: usize = 10;
const DESCRIPTION_MAX: usize = 4_000;
const NOTE_MAX: usize = 4_000;
/// The loss window of a claim opened with an incident: the day before its declaration.
const INCIDENT_WINDOW_MS: i64 = 24 * 3_600 * 1_000;
/// How far before the loss window a login from somewhere new counts as a warning sign.
const COMPROMISE_LOOKBACK_MS: i64 = 24 * 3_600 * 1_000;

fn plain(field: &'static str, text: &str, min: usize, max: usize) -> SafeguardResult<String> {
    let text = text.trim();
    let n = text.chars().count();
    if n < min || n > max || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(
            "invalid_text",
            format!("{field} must be {min} to {max} characters of plain text"),
        ));
    }
    Ok(text.to_owned())
}

/// `approved` scaled by fund / outstanding (outstanding includes this claim), with the share in
/// basis points; nothing payable is the fund being short.
fn pro_rata(
    approved: i64,
    fund: i64,
    outstanding: i64,
    short: impl Fn(i64) -> SafeguardError,
) -> SafeguardResult<(i64, Option<i64>)> {
    let outstanding = i128::from(outstanding.max(approved));
    let paid = i128::from(approved) * i128::from(fund) / outstanding;
    let bps = i128::from(fund) * 10_000 / outstanding;
    match (i64::try_from(paid), i64::try_from(bps)) {
        (Ok(paid), Ok(bps)) if paid > 0 => Ok((paid, Some(bps))),
        _ => Err(short(fund)),
    }
}

/// A claim as filed, before its details: state `submitted` under the policy `version` in force.
fn submitted(now_ms: i64, version: String) -> ClaimRow {
    ClaimRow {
        id: 0,
        user_id: 0,
        incident_id: None,
        category: String::new(),
        description: String::new(),
        asset: String::new(),
        claimed: 0,
        refs: String::new(),
        window_from_ms: 0,
        window_to_ms: 0,
        policy_version: version,
        state: "submitted".into(),
        investigator: None,
        decided_by: None,
        reason_code: None,
        approved: None,
        appealed: 0,
        movement_id: None,
        created_ms: now_ms,
        updated_ms: now_ms,
    }
}

/// The timeline entry of a decision: the verb, the policy's reason, and the staff note.
fn decision_note(verb: &str, code: &ReasonCode, note: &str) -> String {
    let mut text = format!("{verb} under {}: {}.", code.code, code.meaning);
    if !note.is_empty() {
        text.push(' ');
        text.push_str(note);
    }
    text
}

impl ClaimView {
    /// The claim as the APIs answer (amounts as decimals of the asset); the claimant sees
    /// "staff" where staff see which staff member acted.
    pub fn json(&self, scale: u32, for_staff: bool) -> Value {
        let c = &self.claim;
        let units = |u: i64| bulwark_types::format_units(u, scale);
        json!({
            "id": c.id, "user_id": c.user_id, "incident_id": c.incident_id, "category": c.category,
            "description": c.description, "asset": c.asset, "claimed": units(c.claimed),
            "withdrawal_ids": c.refs.split(',').filter(|r| !r.is_empty()).collect::<Vec<_>>(),
            "window_from_ms": c.window_from_ms, "window_to_ms": c.window_to_ms,
            "policy_version": c.policy_version, "state": c.state, "reason_code": c.reason_code,
            "approved": c.approved.map(units), "appealed": c.appealed != 0,
            "movement_id": c.movement_id, "created_ms": c.created_ms, "updated_ms": c.updated_ms,
            "timeline": self.events.iter().map(|e| json!({
                "at_ms": e.at_ms,
                "actor": if for_staff || !e.actor.starts_with("staff:") { e.actor.as_str() } else { "staff" },
                "from": e.from_state, "to": e.to_state, "note": e.note,
            })).collect::<Vec<_>>(),
            "insurer": self.insurer.as_ref().map(|i| json!({
                "insurer": i.insurer, "policy_id": i.policy_id,
                "uncovered_usdt": crate::insurer_policy::usdt(i.uncovered_usdt),
                "deductible_usdt": crate::insurer_policy::usdt(i.deductible_usdt),
                "requested_usdt": crate::insurer_policy::usdt(i.requested_usdt),
                "status": i.status, "updated_ms": i.updated_ms,
            })),
            "evidence": self.evidence.iter().map(|e| json!({
                "id": e.id, "name": e.name, "content_type": e.content_type,
                "size_bytes": e.size_bytes, "sha256": e.sha256, "at_ms": e.at_ms,
            })).collect::<Vec<_>>(),
        })
    }
}

impl Safeguard {
    /// The published coverage policy with the insurer layer, when one is configured.
    pub fn policy(&self) -> serde_json::Value {
        let mut policy = policy(&self.terms(), &self.policy_versions());
        if let (Some(insurer), Some(map)) = (self.insurer(), policy.as_object_mut()) {
            map.insert(
                "insurer".into(),
                serde_json::json!({"name": insurer.name, "policy_id": insurer.policy_id,
                    "limit_usdt": insurer.limit_usdt, "deductible_usdt": insurer.deductible_usdt,
                    "covers": "the part of a paid claim the fund did not pay, above the deductible, up to the limit over all claims"}),
            );
        }
        policy
    }

    /// An asset's scale.
    pub fn scale_of(&self, asset: &str) -> u32 {
        self.trading()
            .sequencer
            .catalog()
            .asset(asset)
            .map_or(0, |(_, spec)| spec.scale)
    }

    async fn view(&self, claim: ClaimRow) -> SafeguardResult<ClaimView> {
        let events = self.store().claim_events(claim.id).await?;
        let evidence = self.store().claim_evidence(claim.id).await?;
        let insurer = self.store().insurer_submission(claim.id).await?;
        Ok(ClaimView {
            claim,
            events,
            evidence,
            insurer,
        })
    }

    /// Files a claim for `user_id`.
    pub async fn file_claim(&self, user_id: i64, f: Filing) -> SafeguardResult<ClaimView> {
        if !CATEGORIES.contains(&f.category.as_str()) {
            return Err(invalid(
                "invalid_category",
                format!("category must be one of {}", CATEGORIES.join(", ")),
            ));
        }
        let description = plain(
            "description",
            &f.description,
            DESCRIPTION_MIN,
            DESCRIPTION_MAX,
        )?;
        let (asset, claimed) = self.amount_of(&f.asset, &f.amount)?;
        let now = self.now_ms();
        // A window ending in the current minute (as a form sends it) ends now.
        let window_to_ms = if f.window_to_ms > now && f.window_to_ms <= now.saturating_add(60_000) {
            now
        } else {
            f.window_to_ms
        };
        if f.window_from_ms <= 0 || f.window_from_ms > window_to_ms || window_to_ms > now {
            return Err(invalid(
                "invalid_window",
                "the time window must start before it ends and not end in the future",
            ));
        }
        if let Some(incident) = f.incident_id
            && self.store().incident(incident).await?.is_none()
        {
            return Err(SafeguardError::IncidentNotFound(incident));
        }
        // The withdrawals named must be the user's own, of this asset; their amounts bound the
        // loss claimed.
        let mut refs = BTreeSet::new();
        let mut lost = 0_i64;
        for id in &f.withdrawal_ids {
            let row = self.store().get_withdrawal(*id).await?;
            match row {
                // Only what left the platform can be a loss: a withdrawal still waiting,
                // cancelled or expired gave its funds back.
                Some(w)
                    if w.user_id == user_id
                        && w.asset == asset
                        && !matches!(w.state.as_str(), "broadcast" | "confirmed") =>
                {
                    return Err(invalid(
                        "withdrawal_not_sent",
                        format!(
                            "withdrawal {id} has not left the platform ({}), so nothing was lost through it",
                            w.state
                        ),
                    ));
                }
                Some(w) if w.user_id == user_id && w.asset == asset => {
                    if refs.insert(*id) {
                        lost = lost.saturating_add(w.amount);
                    }
                }
                _ => {
                    return Err(invalid(
                        "not_your_withdrawal",
                        format!("withdrawal {id} is not one of your {asset} withdrawals"),
                    ));
                }
            }
        }
        if !refs.is_empty() && claimed > lost {
            return Err(invalid(
                "amount_over_loss",
                format!(
                    "you claim {} {asset} but the withdrawals named total {}",
                    bulwark_types::format_units(claimed, self.scale_of(&asset)),
                    bulwark_types::format_units(lost, self.scale_of(&asset))
                ),
            ));
        }
        // One open claim per withdrawal.
        for other in self.store().user_claims(user_id).await? {
            // A rejection may still be appealed once: only a finished claim frees its withdrawals.
            let finished =
                other.state == "closed" || (other.state == "rejected" && other.appealed != 0);
            if finished {
                continue;
            }
            let theirs: BTreeSet<i64> = other
                .refs
                .split(',')
                .filter_map(|r| r.parse().ok())
                .collect();
            if let Some(shared) = refs.intersection(&theirs).next() {
                return Err(invalid(
                    "duplicate_claim",
                    format!("claim {} already covers withdrawal {shared}", other.id),
                ));
            }
        }
        let row = ClaimRow {
            user_id,
            incident_id: f.incident_id,
            category: f.category.clone(),
            description,
            asset,
            claimed,
            refs: refs
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            window_from_ms: f.window_from_ms,
            window_to_ms,
            ..submitted(now, self.terms().version)
        };
        let id = self
            .store()
            .insert_claim(&row, &format!("user:{user_id}"))
            .await?;
        self.claim_of(id).await
    }

    /// A listed asset's code and a positive amount of it in its smallest unit.
    pub(crate) fn amount_of(&self, asset: &str, amount: &str) -> SafeguardResult<(String, i64)> {
        let asset = asset.trim().to_ascii_uppercase();
        let Some(scale) = self
            .trading()
            .sequencer
            .catalog()
            .asset(&asset)
            .map(|(_, s)| s.scale)
        else {
            return Err(invalid("unknown_asset", format!("unknown asset {asset:?}")));
        };
        let units = bulwark_types::parse_units(amount.trim(), scale)
            .ok()
            .filter(|a| *a > 0)
            .ok_or_else(|| {
                invalid(
                    "invalid_amount",
                    format!(
                        "amount must be a positive {asset} amount with at most {scale} decimals"
                    ),
                )
            })?;
        Ok((asset, units))
    }

    /// Checks the losses of a declaration before anything is written: each names one of the
    /// incident's affected users, a listed asset and a positive amount, once per user and asset.
    pub(crate) fn parse_losses(
        &self,
        losses: &[Loss],
        users: &BTreeSet<i64>,
    ) -> SafeguardResult<Vec<(i64, String, i64)>> {
        let mut parsed: Vec<(i64, String, i64)> = Vec::with_capacity(losses.len());
        for loss in losses {
            if !users.contains(&loss.user) {
                return Err(invalid(
                    "loss_user_not_affected",
                    format!(
                        "user {} has a loss but is not among the affected users",
                        loss.user
                    ),
                ));
            }
            let (asset, units) = self.amount_of(&loss.asset, &loss.amount)?;
            if parsed
                .iter()
                .any(|(u, a, _)| *u == loss.user && *a == asset)
            {
                return Err(invalid(
                    "duplicate_loss",
                    format!(
                        "user {} has two {asset} losses; give their sum once",
                        loss.user
                    ),
                ));
            }
            parsed.push((loss.user, asset, units));
        }
        Ok(parsed)
    }

    /// Opens a claim for each loss staff declared with the incident (the directly affected need
    /// not find the claims page first); answers user -> claim ids. The window is the day before
    /// the declaration, which the investigation view reads around.
    pub(crate) async fn open_incident_claims(
        &self,
        incident: &IncidentRow,
        losses: &[(i64, String, i64)],
    ) -> SafeguardResult<BTreeMap<i64, Vec<i64>>> {
        let category = match incident.kind.as_str() {
            "hot_wallet_breach" | "cold_wallet_breach" | "data_breach" => "platform_breach",
            "system_failure" => "platform_error",
            _ => "other",
        };
        let mut opened: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (user, asset, units) in losses {
            let row = ClaimRow {
                user_id: *user,
                incident_id: Some(incident.id),
                category: category.into(),
                description: format!(
                    "Opened by Bulwark for incident #{}: {}",
                    incident.id, incident.title
                ),
                asset: asset.clone(),
                claimed: *units,
                window_from_ms: incident.declared_ms.saturating_sub(INCIDENT_WINDOW_MS),
                window_to_ms: incident.declared_ms,
                ..submitted(incident.declared_ms, self.terms().version)
            };
            let id = self.store().insert_claim(&row, "system").await?;
            opened.entry(*user).or_default().push(id);
        }
        Ok(opened)
    }

    pub(crate) async fn claim_of(&self, id: i64) -> SafeguardResult<ClaimView> {
        let claim = self
            .store()
            .claim(id)
            .await?
            .ok_or(SafeguardError::ClaimNotFound(id))?;
        self.refresh_payout(claim).await
    }

    /// A claim waiting for its payout movement becomes `paid` once the movement executed.
    async fn refresh_payout(&self, claim: ClaimRow) -> SafeguardResult<ClaimView> {
        let movement_state = match (claim.state.as_str(), claim.movement_id) {
            ("payout_pending", Some(movement)) => {
                Some(self.custody().movement(movement).await?.state)
            }
            _ => None,
        };
        let next = match movement_state.as_deref() {
            Some("executed") => Some((
                "paid",
                "Paid from the Safeguard fund after the operators' signatures.",
            )),
            // The operators did not sign in time (or the payout failed): staff pay again.
            Some("expired" | "failed") => Some((
                "approved",
                "The payout movement expired or failed before it was paid; it can be proposed again.",
            )),
            _ => None,
        };
        if let Some((to, note)) = next {
            self.store()
                .move_claim(&ClaimMove {
                    id: claim.id,
                    from: "payout_pending",
                    to,
                    actor: "system",
                    note,
                    at_ms: self.now_ms(),
                    ..ClaimMove::default()
                })
                .await?;
            let claim = self
                .store()
                .claim(claim.id)
                .await?
                .ok_or(SafeguardError::ClaimNotFound(claim.id))?;
            return self.view(claim).await;
        }
        self.view(claim).await
    }

    /// The user's claims.
    pub async fn my_claims(&self, user_id: i64) -> SafeguardResult<Vec<ClaimView>> {
        let mut out = Vec::new();
        for claim in self.store().user_claims(user_id).await? {
            out.push(self.refresh_payout(claim).await?);
        }
        Ok(out)
    }

    /// One of the user's claims (another account's claim is "not found").
    pub async fn my_claim(&self, user_id: i64, id: i64) -> SafeguardResult<ClaimView> {
        let view = self.claim_of(id).await?;
        if view.claim.user_id != user_id {
            return Err(SafeguardError::ClaimNotFound(id));
        }
        Ok(view)
    }

    async fn step(
        &self,
        claim: &ClaimRow,
        to: &str,
        actor: &str,
        note: &str,
        extra: ClaimMove<'_>,
    ) -> SafeguardResult<ClaimView> {
        let moved = self
            .store()
            .move_claim(&ClaimMove {
                id: claim.id,
                from: &claim.state,
                to,
                actor,
                note,
                at_ms: self.now_ms(),
                ..extra
            })
            .await?;
        if !moved {
            return Err(invalid(
                "claim_changed",
                format!("claim {} changed meanwhile; reload it", claim.id),
            ));
        }
        self.claim_of(claim.id).await
    }

    fn wrong_state(claim: &ClaimRow, action: &str) -> SafeguardError {
        invalid(
            "wrong_state",
            format!(
                "claim {} is {}; it cannot be {action} now",
                claim.id, claim.state
            ),
        )
    }

    /// The user answers a request for information.
    pub async fn reply_to_claim(
        &self,
        user_id: i64,
        id: i64,
        message: &str,
    ) -> SafeguardResult<ClaimView> {
        let claim = self.my_claim(user_id, id).await?.claim;
        let message = plain("message", message, 1, NOTE_MAX)?;
        if claim.state != "needs_info" {
            return Err(Self::wrong_state(&claim, "replied to"));
        }
        self.step(
            &claim,
            "investigating",
            &format!("user:{user_id}"),
            &message,
            ClaimMove::default(),
        )
        .await
    }

    /// The user appeals a rejection (once).
    pub async fn appeal_claim(
        &self,
        user_id: i64,
        id: i64,
        message: &str,
    ) -> SafeguardResult<ClaimView> {
        let claim = self.my_claim(user_id, id).await?.claim;
        let message = plain("message", message, 1, NOTE_MAX)?;
        if claim.state != "rejected" {
            return Err(Self::wrong_state(&claim, "appealed"));
        }
        if claim.appealed != 0 {
            return Err(invalid(
                "appeal_used",
                "this claim was already appealed once",
            ));
        }
        self.step(
            &claim,
            "appealed",
            &format!("user:{user_id}"),
            &message,
            ClaimMove {
                appeal: true,
                ..ClaimMove::default()
            },
        )
        .await
    }

    async fn reviewer(&self, authed: &Authed) -> Result<(i64, String), bulwark_accounts::Error> {
        let staff = require_staff(self.accounts(), authed, &[Capability::ClaimReview]).await?;
        Ok((staff.user_id, staff.actor()))
    }

    /// A claim for a staff member who reviews claims, never their own; answers it with the
    /// actor their actions are recorded under.
    pub(crate) async fn claim_for_staff(
        &self,
        authed: &Authed,
        id: i64,
    ) -> Result<(ClaimView, String), bulwark_accounts::Error> {
        let (staff_id, actor) = self.reviewer(authed).await?;
        let view = self.claim_of(id).await?;
        if view.claim.user_id == staff_id {
            return Err(invalid("own_claim", "staff never review their own claim").into());
        }
        Ok((view, actor))
    }

    /// Staff: claims in a state (every state when `None`).
    pub async fn staff_claims(
        &self,
        authed: &Authed,
        state: Option<&str>,
    ) -> Result<Vec<ClaimView>, bulwark_accounts::Error> {
        self.reviewer(authed).await?;
        let mut out = Vec::new();
        for claim in self.store().claims(state, 500).await? {
            out.push(self.refresh_payout(claim).await?);
        }
        Ok(out)
    }

    /// Staff: a claim with what the investigation needs.
    pub async fn staff_claim(
        &self,
        authed: &Authed,
        id: i64,
    ) -> Result<(ClaimView, Value), bulwark_accounts::Error> {
        let (view, actor) = self.claim_for_staff(authed, id).await?;
        let evidence = self.investigation(&view.claim).await?;
        // The view shows the claimant's addresses and countries: who looked is recorded.
        let params = json!({"claim_id": id}).to_string();
        self.store()
            .append_audit(&actor, "claim.view", &params, self.now_ms())
            .await?;
        Ok((view, evidence))
    }

    /// The account's activity around the loss: logins (with a flag on logins from a country
    /// or address not seen in the 30 days before), withdrawals in the window, the incident.
    async fn investigation(&self, claim: &ClaimRow) -> SafeguardResult<Value> {
        let from = claim.window_from_ms.saturating_sub(COMPROMISE_LOOKBACK_MS);
        let history_from = from.saturating_sub(30 * 24 * 3_600 * 1_000);
        let logins: Vec<LoginActivityRow> = self
            .store()
            .list_login_activity(claim.user_id, history_from, None, 1_000)
            .await?;
        let known: BTreeSet<(String, Option<String>)> = logins
            .iter()
            .filter(|l| l.at_ms < from && l.result == "success")
            .map(|l| (l.ip.clone(), l.country.clone()))
            .collect();
        let known_countries: BTreeSet<Option<String>> = known.iter().map(|k| k.1.clone()).collect();
        let mut flags = Vec::new();
        let in_window: Vec<Value> = logins
            .iter()
            .filter(|l| l.at_ms >= from && l.at_ms <= claim.window_to_ms)
            .map(|l| {
                let new_place = l.result == "success" && !known.contains(&(l.ip.clone(), l.country.clone()));
                let new_country = l.result == "success" && !known_countries.contains(&l.country);
                if new_place && !known.is_empty() {
                    flags.push(format!(
                        "login at {} from {} ({}) not seen in the 30 days before{}",
                        l.at_ms,
                        l.ip,
                        l.country.as_deref().unwrap_or("unknown country"),
                        if new_country { ", from a new country" } else { "" }
                    ));
                }
                json!({"at_ms": l.at_ms, "ip": l.ip, "country": l.country, "method": l.method, "result": l.result, "new_place": new_place})
            })
            .collect();
        let withdrawals: Vec<WithdrawalRow> = self
            .store()
            .user_withdrawals(
                claim.user_id,
                HistoryWindow {
                    asset: None,
                    network: None,
                    since_ms: from,
                    until_ms: claim.window_to_ms,
                    limit: 200,
                },
            )
            .await?;
        let incident = match claim.incident_id {
            Some(id) => self.store().incident(id).await?.map(|i| json!({"id": i.id, "title": i.title, "kind": i.kind, "assets": i.assets, "markets": i.markets, "declared_ms": i.declared_ms})),
            None => None,
        };
        Ok(json!({
            "logins": in_window,
            "withdrawals": withdrawals.iter().map(|w| json!({"id": w.id, "asset": w.asset, "amount": bulwark_types::format_units(w.amount, self.scale_of(&w.asset)), "address": w.address, "state": w.state, "created_ms": w.created_ms})).collect::<Vec<_>>(),
            "incident": incident,
            "compromise_flags": flags,
        }))
    }

    /// Staff: acknowledge, investigate, request_info, approve, reject, pay, close.
    pub async fn staff_claim_action(
        &self,
        authed: &Authed,
        id: i64,
        action: &str,
        input: StaffInput,
    ) -> Result<ClaimView, bulwark_accounts::Error> {
        let (view, actor) = self.claim_for_staff(authed, id).await?;
        let claim = view.claim;
        let note = input.note.trim();
        if note.chars().count() > NOTE_MAX || note.chars().any(|c| c.is_control() && c != '\n') {
            return Err(invalid(
                "invalid_text",
                format!("note must be at most {NOTE_MAX} characters of plain text"),
            )
            .into());
        }
        let view = match (action, claim.state.as_str()) {
            ("insurer_submit" | "insurer_accept" | "insurer_deny" | "insurer_paid", _) => {
                self.insurer_action(&claim, &actor, action, note).await?;
                self.claim_of(claim.id).await?
            }
            ("acknowledge", "submitted") => {
                self.step(
                    &claim,
                    "acknowledged",
                    &actor,
                    "We have received your claim.",
                    ClaimMove::default(),
                )
                .await?
            }
            ("investigate", "acknowledged" | "appealed" | "needs_info") => {
                self.step(
                    &claim,
                    "investigating",
                    &actor,
                    "An investigator is looking into your claim.",
                    ClaimMove {
                        investigator: Some(&actor),
                        ..ClaimMove::default()
                    },
                )
                .await?
            }
            ("request_info", "investigating") => {
                let note = plain("note", note, 1, NOTE_MAX)?;
                self.step(&claim, "needs_info", &actor, &note, ClaimMove::default())
                    .await?
            }
            ("approve" | "reject", "investigating") => {
                if claim.investigator.as_deref() == Some(actor.as_str()) {
                    return Err(invalid(
                        "investigator_decides",
                        "the investigator cannot also decide the claim",
                    )
                    .into());
                }
                let Some(code) = REASON_CODES
                    .iter()
                    .find(|r| r.code == input.reason_code.trim())
                else {
                    return Err(invalid(
                        "invalid_reason_code",
                        "reason_code must be one of the policy's codes",
                    )
                    .into());
                };
                if action == "approve" {
                    if !code.covered {
                        return Err(invalid(
                            "reason_not_covered",
                            format!("{} is not a covered reason; reject with it", code.code),
                        )
                        .into());
                    }
                    let approved = self.claim_amount(&claim, &input.amount)?;
                    if approved > claim.claimed {
                        return Err(invalid(
                            "amount_over_claim",
                            "the approved amount cannot exceed the amount claimed",
                        )
                        .into());
                    }
                    if code.code == "contributory_negligence" && approved >= claim.claimed {
                        return Err(invalid(
                            "amount_not_reduced",
                            "under contributory_negligence the approved amount is the platform's share, below the amount claimed",
                        )
                        .into());
                    }
                    self.check_cap(&claim, approved).await?;
                    let note = decision_note("Approved", code, note);
                    self.step(
                        &claim,
                        "approved",
                        &actor,
                        &note,
                        ClaimMove {
                            decided_by: Some(&actor),
                            reason_code: Some(code.code),
                            approved: Some(approved),
                            ..ClaimMove::default()
                        },
                    )
                    .await?
                } else {
                    if code.covered {
                        return Err(invalid(
                            "reason_covered",
                            format!("{} is a covered reason; approve with it", code.code),
                        )
                        .into());
                    }
                    let note = decision_note("Rejected", code, note);
                    self.step(
                        &claim,
                        "rejected",
                        &actor,
                        &note,
                        ClaimMove {
                            decided_by: Some(&actor),
                            reason_code: Some(code.code),
                            ..ClaimMove::default()
                        },
                    )
                    .await?
                }
            }
            ("pay", "approved") => self.propose_payout(&claim, &actor).await?,
            ("clawback", "paid" | "closed") if claim.movement_id.is_some() => {
                let note = plain("note", note, 1, NOTE_MAX)?;
                self.claw_back(&claim, &actor, &input.amount, &note).await?
            }
            ("close", "paid" | "rejected") => {
                let note = if note.is_empty() { "Closed." } else { note };
                self.step(&claim, "closed", &actor, note, ClaimMove::default())
                    .await?
            }
            (
                "acknowledge" | "investigate" | "request_info" | "approve" | "reject" | "pay"
                | "close" | "clawback",
                _,
            ) => {
                return Err(Self::wrong_state(&claim, action).into());
            }
            _ => {
                return Err(
                    invalid("unknown_action", format!("unknown claim action {action:?}")).into(),
                );
            }
        };
        let params =
            json!({"claim_id": id, "action": action, "state": view.claim.state}).to_string();
        self.store()
            .append_audit(&actor, &format!("claim.{action}"), &params, self.now_ms())
            .await?;
        Ok(view)
    }

    /// What the transparency report says of claims: counts by outcome, the median time to a
    /// decision, and every payout with its incident.
    pub async fn claim_stats(&self) -> SafeguardResult<crate::report::ClaimStats> {
        let mut stats = crate::report::ClaimStats::default();
        let mut decision_times = Vec::new();
        for claim in self.store().claims(None, 1_000).await? {
            stats.filed += 1;
            // A payout the operators signed since the claim was last read counts as paid.
            let ClaimView { claim, events, .. } = self.refresh_payout(claim).await?;
            if let Some(decided) = events
                .iter()
                .find(|e| matches!(e.to_state.as_str(), "approved" | "rejected"))
            {
                decision_times.push(decided.at_ms.saturating_sub(claim.created_ms));
            }
            let paid_at = events
                .iter()
                .find(|e| e.to_state == "paid")
                .map(|e| e.at_ms);
            match claim.state.as_str() {
                "rejected" => stats.rejected += 1,
                "closed" if claim.approved.is_none() => stats.rejected += 1,
                "approved" | "payout_pending" | "paid" | "closed" => stats.approved += 1,
                _ => stats.open += 1,
            }
            if let (Some(paid_ms), Some(approved)) = (paid_at, claim.approved) {
                // Paid pro rata when the fund was short: the movement's amount is what was paid.
                let amount = match claim.movement_id {
                    Some(id) => self.custody().movement(id).await?.amount,
                    None => approved,
                };
                stats.paid += 1;
                stats.payouts.push(crate::report::Payout {
                    claim_id: claim.id,
                    incident_id: claim.incident_id,
                    asset: claim.asset.clone(),
                    amount: amount.to_string(),
                    paid_ms,
                });
            }
        }
        stats.clawbacks = self
            .store()
            .clawbacks()
            .await?
            .iter()
            .map(|c| crate::report::Clawback {
                claim_id: c.claim_id,
                asset: c.asset.clone(),
                amount: c.amount.to_string(),
                journal_seq: c.journal_seq,
                at_ms: c.at_ms,
            })
            .collect();
        stats.insurer_submissions = self
            .store()
            .insurer_submissions()
            .await?
            .iter()
            .map(|i| crate::report::InsurerSubmission {
                claim_id: i.claim_id,
                insurer: i.insurer.clone(),
                requested_usdt: crate::insurer_policy::usdt(i.requested_usdt),
                status: i.status.clone(),
            })
            .collect();
        decision_times.sort_unstable();
        stats.median_decision_ms = decision_times.get(decision_times.len() / 2).copied();
        Ok(stats)
    }

    /// The staff actions the claim's state allows (what the console offers; the action
    /// itself still checks everything): the state machine of `staff_claim_action`.
    pub fn staff_actions(&self, claim: &ClaimRow) -> Vec<&'static str> {
        let paid = claim.movement_id.is_some();
        let mut actions = match claim.state.as_str() {
            "submitted" => vec!["acknowledge"],
            "acknowledged" | "needs_info" | "appealed" => vec!["investigate"],
            "investigating" => vec!["request_info", "approve", "reject"],
            "approved" => vec!["pay"],
            "rejected" => vec!["close"],
            "paid" => vec!["close", "clawback"],
            "closed" if paid => vec!["clawback"],
            _ => Vec::new(),
        };
        if paid && matches!(claim.state.as_str(), "paid" | "closed") && self.insurer().is_some() {
            actions.extend([
                "insurer_submit",
                "insurer_accept",
                "insurer_deny",
                "insurer_paid",
            ]);
        }
        actions
    }

    /// A positive amount of the claim's asset, in its smallest unit.
    pub(crate) fn claim_amount(&self, claim: &ClaimRow, text: &str) -> SafeguardResult<i64> {
        self.amount_of(&claim.asset, text).map(|(_, units)| units)
    }

    /// Proposes an approved claim's payout as custody's M-of-N movement (pro rata when the
    /// fund is short for the claim's incident) and moves the claim to `payout_pending`.
    async fn propose_payout(&self, claim: &ClaimRow, actor: &str) -> SafeguardResult<ClaimView> {
        let (amount, share) = self.payout_of(claim).await?;
        let text = bulwark_types::format_units(amount, self.scale_of(&claim.asset));
        let movement = self
            .custody()
            .propose_safeguard_payout(claim.user_id, &claim.asset, &text, claim.id)
            .await
            .map_err(|e| SafeguardError::Internal(format!("custody: {e}")))?;
        let note = match share {
            None => format!(
                "Payout proposed as movement {}; it is paid once enough operators sign.",
                movement.id
            ),
            Some(bps) => format!(
                "The fund holds less than this incident's approved claims, so each is paid the same share: {}.{:02} % of the approved amount, {} {}. Payout proposed as movement {}; it is paid once enough operators sign.",
                bps / 100,
                bps % 100,
                text,
                claim.asset,
                movement.id
            ),
        };
        self.step(
            claim,
            "payout_pending",
            actor,
            &note,
            ClaimMove {
                movement_id: Some(movement.id),
                ..ClaimMove::default()
            },
        )
        .await
    }

    /// The operator (admin token) pays an approved claim: the same proposal as the staff
    /// action `pay`, audited `claim.pay` under `actor`. There is no other way to propose a
    /// Safeguard payout, so every payout belongs to an approved claim and is at most its
    /// approved amount.
    pub async fn operator_pay(&self, actor: &str, id: i64) -> SafeguardResult<ClaimView> {
        let claim = self.claim_of(id).await?.claim;
        if claim.state != "approved" {
            return Err(Self::wrong_state(&claim, "pay"));
        }
        let view = self.propose_payout(&claim, actor).await?;
        let params =
            json!({"claim_id": id, "action": "pay", "state": view.claim.state}).to_string();
        self.store()
            .append_audit(actor, "claim.pay", &params, self.now_ms())
            .await?;
        Ok(view)
    }

    /// What paying an approved claim takes from the fund now, and the share paid (basis points)
    /// when the fund is short. A claim under an incident shares the fund with the incident's
    /// other approved claims in the asset: each is paid fund / outstanding of its approved
    /// amount (the fund net of payouts already proposed), so the order staff pay them in does
    /// not matter. A claim without an incident is paid in full or not at all.
    async fn payout_of(&self, claim: &ClaimRow) -> SafeguardResult<(i64, Option<i64>)> {
        let approved = claim.approved.unwrap_or(0);
        let fund = self
            .fund_balance(&claim.asset)
            .await?
            .saturating_sub(self.store().pending_safeguard_payouts(&claim.asset).await?)
            .max(0);
        let scale = self.scale_of(&claim.asset);
        let short = |fund: i64| {
            invalid(
                "fund_insufficient",
                format!(
                    "the Safeguard fund holds {} {} beyond payouts already proposed, and the payout is {}",
                    bulwark_types::format_units(fund, scale),
                    claim.asset,
                    bulwark_types::format_units(approved, scale)
                ),
            )
        };
        // Under an incident the fund is shared with its other approved claims in the asset.
        let outstanding = match claim.incident_id {
            Some(incident) => self.outstanding(incident, &claim.asset).await?,
            None => approved,
        };
        if fund >= outstanding {
            return Ok((approved, None));
        }
        match claim.incident_id {
            None => Err(short(fund)),
            Some(_) => pro_rata(approved, fund, outstanding, short),
        }
    }

    /// The approved amounts of an incident's claims in `asset` not yet proposed for payout.
    async fn outstanding(&self, incident: i64, asset: &str) -> SafeguardResult<i64> {
        Ok(self
            .store()
            .incident_claims(incident)
            .await?
            .iter()
            .filter(|c| c.state == "approved" && c.asset == asset)
            .filter_map(|c| c.approved)
            .fold(0_i64, i64::saturating_add))
    }

    /// The fund's balance of an asset now.
    pub(crate) async fn fund_balance(&self, asset: &str) -> SafeguardResult<i64> {
        let Some((id, _)) = self.trading().sequencer.catalog().asset(asset) else {
            return Ok(0);
        };
        self.trading()
            .sequencer
            .query(move |engine: &Engine| engine.system_balance(id, SystemAccount::Safeguard))
            .await
            .map_err(|e| SafeguardError::Internal(format!("engine: {e}")))
    }

    /// The caps of the policy version the claim was filed under: per user over every approved
    /// claim of the user, and per incident, in USDT.
    async fn check_cap(&self, claim: &ClaimRow, approved: i64) -> SafeguardResult<()> {
        let terms = self.terms_of(&claim.policy_version);
        let value = |asset: &str, units: i64| self.trading().usdt_micros(asset, units);
        let Some(this) = value(&claim.asset, approved) else {
            return Err(invalid(
                "no_usdt_price",
                format!(
                    "{} has no USDT price yet, so the cap cannot be checked",
                    claim.asset
                ),
            ));
        };
        let mut total = this;
        for other in self.store().user_claims(claim.user_id).await? {
            if other.id != claim.id
                && matches!(
                    other.state.as_str(),
                    "approved" | "payout_pending" | "paid" | "closed"
                )
                && let Some(a) = other.approved
            {
                let Some(v) = value(&other.asset, a) else {
                    return Err(invalid(
                        "no_usdt_price",
                        format!(
                            "{} has no USDT price yet, so the cap cannot be checked",
                            other.asset
                        ),
                    ));
                };
                total = total.saturating_add(v);
            }
        }
        if total > terms.per_user_cap_usdt {
            return Err(invalid(
                "over_user_cap",
                format!(
                    "approving this would pay the user more than the {} USDT per-user cap of policy {}",
                    terms.per_user_cap(),
                    terms.version
                ),
            ));
        }
        if let Some(incident) = claim.incident_id {
            let mut incident_total = this;
            for other in self.store().incident_claims(incident).await? {
                if other.id != claim.id
                    && let Some(a) = other.approved
                {
                    incident_total =
                        incident_total.saturating_add(value(&other.asset, a).unwrap_or(i64::MAX));
                }
            }
            if incident_total > terms.per_incident_cap_usdt {
                return Err(invalid(
                    "over_incident_cap",
                    format!(
                        "approving this would pay more than the {} USDT per-incident cap of policy {}",
                        terms.per_incident_cap(),
                        terms.version
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(_: i64) -> SafeguardError {
        invalid("fund_insufficient", "short")
    }

    #[test]
    fn a_short_fund_pays_every_claim_of_an_incident_the_same_share() {
        // 50 for 200 outstanding: a quarter of each approved amount.
        assert_eq!(pro_rata(100, 50, 200, short).ok(), Some((25, Some(2_500))));
        assert_eq!(pro_rata(60, 50, 200, short).ok(), Some((15, Some(2_500))));
        // Paying one leaves the same share for the rest: (50 - 25) / (200 - 100).
        assert_eq!(pro_rata(100, 25, 100, short).ok(), Some((25, Some(2_500))));
        // Rounded down, never more than the fund; nothing payable is an error.
        assert_eq!(pro_rata(1, 1, 3, short).ok(), None);
        assert_eq!(pro_rata(10, 0, 20, short).ok(), None);
        assert_eq!(pro_rata(7, 5, 9, short).ok(), Some((3, Some(5_555))));
    }
}
