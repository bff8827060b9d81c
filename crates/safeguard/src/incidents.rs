//! Incidents: declared with their containment (halt trading for markets or everything; cancels
//! still work, since the engine accepts cancels on a halted market), freeze withdrawals (assets
//! or all, read by custody), pause deposit sweeps; affected users told at once by email and
//! everyone by the banner and the public page; each step lifted on its own and everything
//! lifted at resolution. Custody's automatic incidents (a reconciliation or reserves shortfall,
//! a reverted deposit) are shown beside them.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_accounts::admin::{Capability, require_staff};
use bulwark_accounts::sessions::Authed;
use bulwark_engine::{Command, Engine};
use bulwark_notify::MessageKind;
use bulwark_store::{ContainmentStep, IncidentRow, IncidentUpdateRow};

use crate::error::{SafeguardError, SafeguardResult, invalid};
use crate::service::Safeguard;

/// The kinds staff choose from.
pub const KINDS: [&str; 5] = [
    "hot_wallet_breach",
    "cold_wallet_breach",
    "system_failure",
    "data_breach",
    "other",
];

/// Longest title and timeline message.
pub const TITLE_MAX: usize = 200;
pub const MESSAGE_MAX: usize = 4_000;

/// What staff declare.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Declaration {
    pub kind: String,
    pub title: String,
    /// The first public timeline entry.
    pub message: String,
    #[serde(default)]
    pub assets: Vec<String>,
    #[serde(default)]
    pub markets: Vec<String>,
    #[serde(default)]
    pub users: Vec<i64>,
    /// `none`, `markets` (the affected markets) or `global`.
    #[serde(default = "none")]
    pub halt: String,
    /// `none`, `assets` (the affected assets) or `global`.
    #[serde(default = "none")]
    pub freeze: String,
    #[serde(default)]
    pub pause_sweeps: bool,
    /// Losses already known: each opens a claim for its user, who must be among `users`.
    #[serde(default)]
    pub losses: Vec<crate::claims::Loss>,
}

fn none() -> String {
    "none".into()
}

/// An incident with its timeline.
#[derive(Debug, Clone)]
pub struct IncidentView {
    pub incident: IncidentRow,
    pub updates: Vec<IncidentUpdateRow>,
}

impl IncidentView {
    /// The incident and its timeline as the operator and staff APIs answer.
    pub fn json(&self) -> serde_json::Value {
        let i = &self.incident;
        serde_json::json!({
            "id": i.id, "kind": i.kind, "title": i.title,
            "assets": i.assets, "markets": i.markets, "users": i.users,
            "halt": i.halt_scope, "halt_lifted_ms": i.halt_lifted_ms,
            "freeze": i.freeze_scope, "freeze_lifted_ms": i.freeze_lifted_ms,
            "pause_sweeps": i.pause_sweeps != 0, "sweeps_lifted_ms": i.sweeps_lifted_ms,
            "declared_by": i.declared_by, "declared_ms": i.declared_ms, "resolved_ms": i.resolved_ms,
            "timeline": self.updates.iter().map(|u| serde_json::json!({
                "at_ms": u.at_ms, "author": u.author, "message": u.message,
            })).collect::<Vec<_>>(),
        })
    }
}

pub use crate::service::Banner;

fn text(field: &'static str, value: &str, max: usize) -> SafeguardResult<String> {
    let value = value.trim();
    if value.is_empty()
        || value.chars().count() > max
        || value.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(invalid(
            "invalid_text",
            format!("{field} must be 1 to {max} characters of plain text"),
        ));
    }
    Ok(value.to_owned())
}

/// A containment scope is `none`, `global`, or `named` (the affected markets or assets, which
/// must then be given).
fn scope_ok(field: &str, value: &str, named: &str, none_named: bool) -> SafeguardResult<()> {
    if value == "none" || value == "global" || (value == named && !none_named) {
        return Ok(());
    }
    let message = if value == named {
        format!("{field} {named} needs the affected {named}")
    } else {
        format!("{field} must be none, {named} or global")
    };
    Err(invalid("invalid_containment", message))
}

/// Parses a step name of `lift`.
pub fn step(name: &str) -> SafeguardResult<ContainmentStep> {
    match name {
        "halt" => Ok(ContainmentStep::Halt),
        "freeze" => Ok(ContainmentStep::Freeze),
        "sweeps" => Ok(ContainmentStep::Sweeps),
        _ => Err(invalid(
            "invalid_step",
            format!("step must be halt, freeze or sweeps, not {name:?}"),
        )),
    }
}

/// The containment steps of an open incident not lifted yet (halt, freeze, sweeps), the names
/// `lift` takes; none once it is resolved.
pub fn steps_in_force(row: &IncidentRow) -> Vec<&'static str> {
    if row.resolved_ms.is_some() {
        return Vec::new();
    }
    [
        (
            "halt",
            row.halt_scope != "none" && row.halt_lifted_ms.is_none(),
        ),
        (
            "freeze",
            row.freeze_scope != "none" && row.freeze_lifted_ms.is_none(),
        ),
        (
            "sweeps",
            row.pause_sweeps != 0 && row.sweeps_lifted_ms.is_none(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, in_force)| in_force.then_some(name))
    .collect()
}

fn list(items: &[String]) -> String {
    items.join(",")
}

fn split(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Safeguard {
    /// Declares an incident and applies its containment; answers it with its timeline.
    pub async fn declare(&self, actor: &str, d: Declaration) -> SafeguardResult<IncidentView> {
        if !KINDS.contains(&d.kind.as_str()) {
            return Err(invalid(
                "invalid_kind",
                format!("kind must be one of {}", KINDS.join(", ")),
            ));
        }
        let title = text("title", &d.title, TITLE_MAX)?;
        let message = text("message", &d.message, MESSAGE_MAX)?;
        let catalog = self.trading().sequencer.catalog();
        let mut assets = BTreeSet::new();
        for asset in &d.assets {
            let code = asset.trim().to_ascii_uppercase();
            if catalog.asset(&code).is_none() {
                return Err(invalid("unknown_asset", format!("unknown asset {code}")));
            }
            assets.insert(code);
        }
        let mut markets = BTreeSet::new();
        for market in &d.markets {
            let symbol = market.trim().to_ascii_uppercase();
            if catalog.market(&symbol).is_none() {
                return Err(invalid(
                    "unknown_market",
                    format!("unknown market {symbol}"),
                ));
            }
            markets.insert(symbol);
        }
        let mut users = BTreeSet::new();
        for user in &d.users {
            if self.store().get_account(*user).await?.is_none() {
                return Err(invalid("unknown_user", format!("no user {user}")));
            }
            users.insert(*user);
        }
        scope_ok("halt", &d.halt, "markets", markets.is_empty())?;
        scope_ok("freeze", &d.freeze, "assets", assets.is_empty())?;
        let losses = self.parse_losses(&d.losses, &users)?;
        let assets: Vec<String> = assets.into_iter().collect();
        let markets: Vec<String> = markets.into_iter().collect();
        let now_ms = self.now_ms();
        let row = IncidentRow {
            id: 0,
            kind: d.kind.clone(),
            title: title.clone(),
            assets: list(&assets),
            markets: list(&markets),
            users: users
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            halt_scope: d.halt.clone(),
            freeze_scope: d.freeze.clone(),
            pause_sweeps: i64::from(d.pause_sweeps),
            halt_lifted_ms: None,
            freeze_lifted_ms: None,
            sweeps_lifted_ms: None,
            declared_by: actor.to_owned(),
            declared_ms: now_ms,
            resolved_ms: None,
        };
        let id = self.store().insert_incident(&row, &message).await?;
        self.forget_banners();
        self.audit(actor, "incident.declare", id, &row.title)
            .await?;
        self.set_halt(id, &row, true).await?;
        self.custody().wake();
        let opened = self
            .open_incident_claims(&IncidentRow { id, ..row.clone() }, &losses)
            .await?;
        self.tell_affected(id, &title, &message, &assets, &users, &opened)
            .await;
        self.incident(id).await
    }

    /// Halts (or resumes) what the incident names, under command ids derived from it, so a
    /// retried call does not halt twice. A resume skips what another open incident still
    /// halts (the engine has one halted switch per market and one for everything).
    async fn set_halt(&self, id: i64, row: &IncidentRow, halt: bool) -> SafeguardResult<()> {
        let catalog = self.trading().sequencer.catalog();
        let (mut held_global, mut held_markets) = (false, BTreeSet::new());
        if !halt {
            for other in self.store().incidents(1_000).await? {
                let in_force =
                    other.id != id && other.resolved_ms.is_none() && other.halt_lifted_ms.is_none();
                match (in_force, other.halt_scope.as_str()) {
                    (true, "global") => held_global = true,
                    (true, "markets") => held_markets.extend(split(&other.markets)),
                    _ => {}
                }
            }
        }
        let targets: Vec<Option<bulwark_engine::MarketId>> = match row.halt_scope.as_str() {
            "global" if !held_global => vec![None],
            "markets" => split(&row.markets)
                .iter()
                .filter(|s| !held_markets.contains(*s))
                .filter_map(|s| catalog.market(s).map(|m| Some(m.id)))
                .collect(),
            _ => Vec::new(),
        };
        let verb = if halt { "halt" } else { "resume" };
        for market in targets {
            let command = if halt {
                Command::Halt { market }
            } else {
                Command::Resume { market }
            };
            let key = format!(
                "incident:{id}:{verb}:{}",
                market.map_or_else(|| "all".to_owned(), |m| m.0.to_string())
            );
            let (_, outcome) = self.submit(&key, command).await?;
            if let Err(reject) = outcome {
                tracing::warn!("incident {id}: the engine refused to {verb}: {reject}");
            }
        }
        Ok(())
    }

    /// Emails the listed users and everyone holding an affected asset (failures are logged).
    async fn tell_affected(
        &self,
        id: i64,
        title: &str,
        message: &str,
        assets: &[String],
        users: &BTreeSet<i64>,
        opened: &BTreeMap<i64, Vec<i64>>,
    ) {
        let catalog = self.trading().sequencer.catalog();
        let asset_ids: Vec<bulwark_engine::AssetId> = assets
            .iter()
            .filter_map(|a| catalog.asset(a).map(|(id, _)| id))
            .collect();
        let holders =
            self.trading()
                .sequencer
                .query(move |engine: &Engine| {
                    engine
                        .user_ids()
                        .into_iter()
                        .filter(|u| {
                            engine.user_balances(*u).iter().any(|(a, av, h)| {
                                asset_ids.contains(a) && av.saturating_add(*h) > 0
                            })
                        })
                        .map(|u| u.0)
                        .collect::<Vec<u64>>()
                })
                .await
                .unwrap_or_default();
        let mut to: BTreeSet<i64> = users.clone();
        to.extend(holders.into_iter().filter_map(|u| i64::try_from(u).ok()));
        let accounts = self.accounts();
        let public_url = accounts.accounts.public_url.clone();
        for user in to {
            let Ok(Some(account)) = accounts.store.get_account(user).await else {
                continue;
            };
            let Some(recipient) = bulwark_accounts::notice::account_recipient(&account) else {
                continue;
            };
            let mut body = format!(
                "We have declared an incident that may affect your account: {title}\n\n{message}\n\n\
                 Every update is posted at {public_url}/incidents/{id}."
            );
            for claim in opened.get(&user).into_iter().flatten() {
                body.push_str(&format!(
                    "\n\nWe have opened claim #{claim} for your loss; follow it, and answer our \
                     questions, at {public_url}/claims/{claim}."
                ));
            }
            bulwark_accounts::notice::notify(
                accounts,
                user,
                recipient,
                MessageKind::IncidentNotice,
                &format!("Incident: {title}"),
                body,
            )
            .await;
        }
    }

    async fn audit(&self, actor: &str, action: &str, id: i64, detail: &str) -> SafeguardResult<()> {
        let params = serde_json::json!({"incident_id": id, "detail": detail}).to_string();
        self.store()
            .append_audit(actor, action, &params, self.now_ms())
            .await?;
        Ok(())
    }

    fn open_row(row: Option<IncidentRow>, id: i64) -> SafeguardResult<IncidentRow> {
        match row {
            None => Err(SafeguardError::IncidentNotFound(id)),
            Some(r) if r.resolved_ms.is_some() => Err(invalid(
                "incident_resolved",
                format!("incident {id} is already resolved"),
            )),
            Some(r) => Ok(r),
        }
    }

    /// Adds a public timeline entry.
    pub async fn post_update(
        &self,
        actor: &str,
        id: i64,
        message: &str,
    ) -> SafeguardResult<IncidentView> {
        let message = text("message", message, MESSAGE_MAX)?;
        Self::open_row(self.store().incident(id).await?, id)?;
        self.store()
            .add_incident_update(id, self.now_ms(), actor, &message)
            .await?;
        self.audit(actor, "incident.update", id, &message).await?;
        self.incident(id).await
    }

    /// Lifts one containment step (trading resumes, withdrawals thaw, sweeps go on).
    pub async fn lift(
        &self,
        actor: &str,
        id: i64,
        step_name: &str,
    ) -> SafeguardResult<IncidentView> {
        let step = step(step_name)?;
        let row = Self::open_row(self.store().incident(id).await?, id)?;
        if !self
            .store()
            .lift_incident_step(id, step, self.now_ms())
            .await?
        {
            return Err(invalid(
                "not_in_force",
                format!("incident {id} has no {step_name} in force"),
            ));
        }
        if step == ContainmentStep::Halt {
            self.set_halt(id, &row, false).await?;
        }
        self.custody().wake();
        let said = match step {
            ContainmentStep::Halt => "Trading resumed.",
            ContainmentStep::Freeze => "Withdrawals resumed.",
            ContainmentStep::Sweeps => "Deposit sweeps resumed.",
        };
        self.store()
            .add_incident_update(id, self.now_ms(), actor, said)
            .await?;
        self.audit(actor, "incident.lift", id, step_name).await?;
        self.incident(id).await
    }

    /// Resolves an incident: lifts whatever containment is still in force, then closes it.
    pub async fn resolve(
        &self,
        actor: &str,
        id: i64,
        message: &str,
    ) -> SafeguardResult<IncidentView> {
        let message = text("message", message, MESSAGE_MAX)?;
        let row = Self::open_row(self.store().incident(id).await?, id)?;
        for name in steps_in_force(&row) {
            self.lift(actor, id, name).await?;
        }
        self.store()
            .add_incident_update(id, self.now_ms(), actor, &message)
            .await?;
        self.store()
            .resolve_platform_incident(id, self.now_ms())
            .await?;
        self.forget_banners();
        self.audit(actor, "incident.resolve", id, &message).await?;
        self.incident(id).await
    }

    /// Incident `id` with its timeline.
    pub async fn incident(&self, id: i64) -> SafeguardResult<IncidentView> {
        let incident = self
            .store()
            .incident(id)
            .await?
            .ok_or(SafeguardError::IncidentNotFound(id))?;
        let updates = self.store().incident_updates(id).await?;
        Ok(IncidentView { incident, updates })
    }

    /// Declared incidents, open ones first.
    pub async fn incidents(&self, limit: i64) -> SafeguardResult<Vec<IncidentRow>> {
        Ok(self.store().incidents(limit).await?)
    }

    /// Custody's automatic incidents (shortfalls, reverted deposits), open ones first.
    pub async fn automatic_incidents(
        &self,
        limit: i64,
    ) -> SafeguardResult<Vec<bulwark_custody::CustodyIncidentRow>> {
        Ok(self.custody().incidents(limit).await?)
    }

    /// Every open incident for the banner on each page. Read on every page view, so it is
    /// served from a copy at most [`crate::service::BANNER_TTL`] old; declaring, lifting and resolving drop the
    /// copy at once (custody's automatic incidents show within the TTL).
    pub async fn banners(&self) -> SafeguardResult<Vec<Banner>> {
        if let Some(fresh) = self.cached_banners() {
            return Ok(fresh);
        }
        let mut out: Vec<Banner> = self
            .store()
            .incidents(50)
            .await?
            .into_iter()
            .filter(|i| i.resolved_ms.is_none())
            .map(|i| Banner {
                link: format!("/incidents/{}", i.id),
                title: i.title,
            })
            .collect();
        for i in self.custody().incidents(50).await? {
            if i.resolved_ms.is_none() {
                out.push(Banner {
                    link: "/incidents".into(),
                    title: format!("{} withdrawals paused: {}", i.asset, i.detail),
                });
            }
        }
        self.cache_banners(out.clone());
        Ok(out)
    }
}

/// The same use cases for signed-in staff with the `security` (or `admin`) role; the actor
/// recorded is the staff member.
impl Safeguard {
    async fn responder(&self, authed: &Authed) -> Result<String, bulwark_accounts::Error> {
        let staff = require_staff(self.accounts(), authed, &[Capability::IncidentResponse]).await?;
        Ok(staff.actor())
    }

    pub async fn staff_declare(
        &self,
        authed: &Authed,
        d: Declaration,
    ) -> Result<IncidentView, bulwark_accounts::Error> {
        let actor = self.responder(authed).await?;
        Ok(self.declare(&actor, d).await?)
    }

    pub async fn staff_action(
        &self,
        authed: &Authed,
        id: i64,
        action: &str,
        text: &str,
    ) -> Result<IncidentView, bulwark_accounts::Error> {
        let actor = self.responder(authed).await?;
        Ok(match action {
            "update" => self.post_update(&actor, id, text).await?,
            "lift" => self.lift(&actor, id, text).await?,
            "resolve" => self.resolve(&actor, id, text).await?,
            _ => {
                return Err(bulwark_accounts::Error::bad_request(
                    "unknown_action",
                    format!("unknown incident action {action:?}; use update, lift or resolve"),
                ));
            }
        })
    }

    pub async fn staff_incidents(
        &self,
        authed: &Authed,
    ) -> Result<Vec<IncidentView>, bulwark_accounts::Error> {
        self.responder(authed).await?;
        let mut out = Vec::new();
        for row in self.incidents(200).await? {
            out.push(self.incident(row.id).await?);
        }
        Ok(out)
    }
}
