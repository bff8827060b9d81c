//! The Safeguard service handle and its use cases: publishing a report, reading reports, a
//! user's proof, the audit chain's check.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bulwark_accounts::service::Service as AccountService;
use bulwark_custody::Custody;
use bulwark_engine::Engine;
use bulwark_por::{PathNode, Proof, sha256_hex, sign_report};
use bulwark_store::{AuditCheck, PorTreeRow, ReportRow, Store};
use bulwark_trading::Trading;
use ed25519_dalek::SigningKey;

use crate::error::{SafeguardError, SafeguardResult};
use crate::report::{
    AssetReading, AuditHead, DeclaredIncident, Fund, FundAsset, FundTopUp, Incident, LedgerReading,
    Liabilities, Report, ReserveTotals, Solvency, StoredLeaf, asset_reserves, build_tree,
    previous_fund, tree_of, usdt_text,
};

/// Incidents a report lists at most (open ones first).
const REPORT_INCIDENTS_MAX: i64 = 200;

/// The Safeguard service (cheap to clone).
#[derive(Clone)]
pub struct Safeguard {
    inner: Arc<Inner>,
}

struct Inner {
    trading: Trading,
    custody: Custody,
    accounts: AccountService,
    key: SigningKey,
    /// One publication at a time, so seqs and the hash chain follow each other.
    publishing: tokio::sync::Mutex<()>,
    /// How often reports are published on their own; `None`: on demand only.
    interval: Option<Duration>,
    /// The open incidents' banner, with when it was read (see `banners`).
    banners: std::sync::Mutex<Option<(std::time::Instant, Vec<Banner>)>>,
    /// The external insurer's policy, when one is configured.
    insurer: Option<crate::insurer_policy::InsurerPolicy>,
    /// The coverage policy's versions.
    versions: crate::terms::Versions,
}

/// An open incident as the banner shows it (platform or custody).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// Where the page about it is (`/incidents/N`, or the transparency page for custody's).
    pub link: String,
    pub title: String,
}

/// How long the banner read for every page view is reused.
pub const BANNER_TTL: Duration = Duration::from_secs(2);

impl Safeguard {
    /// Opens the service over `dir` (`<data>/transparency`, where the signing key lives).
    /// Refuses to start when reports were published but the key file is gone: a new key would
    /// silently break every verifier's trust in the chain.
    pub async fn open(
        dir: &Path,
        trading: Trading,
        custody: Custody,
        accounts: AccountService,
        interval: Option<Duration>,
        insurer: Option<crate::insurer_policy::InsurerPolicy>,
    ) -> SafeguardResult<Safeguard> {
        let key_path = dir.join(crate::signing::KEY_FILE);
        if !key_path.exists() && trading.store().latest_report().await?.is_some() {
            return Err(SafeguardError::Setup(format!(
                "{} is missing but reports signed with it were published; restore it from backup \
                 (a new key would break the report chain for every verifier)",
                key_path.display()
            )));
        }
        let key = crate::signing::load_or_create(dir)?;
        let versions = crate::terms::Versions::new(trading.store().policies().await?);
        Ok(Safeguard {
            inner: Arc::new(Inner {
                trading,
                custody,
                accounts,
                key,
                publishing: tokio::sync::Mutex::new(()),
                interval,
                banners: std::sync::Mutex::new(None),
                insurer,
                versions,
            }),
        })
    }

    /// The configured insurer, if any.
    pub fn insurer(&self) -> Option<&crate::insurer_policy::InsurerPolicy> {
        self.inner.insurer.as_ref()
    }

    /// Submits an engine command under an id derived from `key` (a retry with the same key is
    /// answered, not applied again); answers the journal seq and the engine's outcome.
    pub(crate) async fn submit(
        &self,
        key: &str,
        command: bulwark_engine::Command,
    ) -> SafeguardResult<(u64, bulwark_engine::Outcome)> {
        let receipt = self
            .inner
            .trading
            .sequencer
            .submit(bulwark_trading::writes::command_id_for(key), command)
            .await
            .map_err(|e| SafeguardError::Internal(format!("engine: {e}")))?;
        Ok((receipt.seq, receipt.outcome))
    }

    pub(crate) fn store(&self) -> &Store {
        self.inner.trading.store()
    }

    pub(crate) fn trading(&self) -> &Trading {
        &self.inner.trading
    }

    pub(crate) fn custody(&self) -> &Custody {
        &self.inner.custody
    }

    pub(crate) fn accounts(&self) -> &AccountService {
        &self.inner.accounts
    }

    pub(crate) fn cached_banners(&self) -> Option<Vec<Banner>> {
        let cache = self.inner.banners.lock().ok()?;
        cache
            .as_ref()
            .filter(|(at, _)| at.elapsed() < BANNER_TTL)
            .map(|(_, banners)| banners.clone())
    }

    pub(crate) fn cache_banners(&self, banners: Vec<Banner>) {
        if let Ok(mut cache) = self.inner.banners.lock() {
            *cache = Some((std::time::Instant::now(), banners));
        }
    }

    /// Drops the cached banner after an incident changed.
    pub(crate) fn forget_banners(&self) {
        if let Ok(mut cache) = self.inner.banners.lock() {
            *cache = None;
        }
    }

    pub(crate) fn versions(&self) -> &crate::terms::Versions {
        &self.inner.versions
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.trading.clock.now_ms()
    }

    /// The platform's report-verifying key, hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.inner.key.verifying_key().to_bytes())
    }

    /// Every listed asset's code (each has a tree in every report).
    pub fn assets(&self) -> Vec<String> {
        self.inner
            .trading
            .sequencer
            .catalog()
            .assets
            .iter()
            .map(|a| a.code.clone())
            .collect()
    }

    /// Publishes a report every interval (daily by default) on the current runtime.
    pub fn spawn_worker(&self) {
        let Some(interval) = self.inner.interval else {
            return;
        };
        let service = self.clone();
        tokio::spawn(async move {
            let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
            let started_ms = service.inner.trading.clock.now_ms();
            loop {
                // Due one interval after the newest report (or after this start when there is
                // none), so restarts neither skip nor repeat a report.
                let last_ms = match service.store().latest_report().await {
                    Ok(latest) => latest.map_or(started_ms, |r| r.published_ms),
                    Err(e) => {
                        tracing::error!("transparency: reading the newest report: {e}");
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        continue;
                    }
                };
                let wait_ms = last_ms
                    .saturating_add(interval_ms)
                    .saturating_sub(service.inner.trading.clock.now_ms());
                if wait_ms > 0 {
                    let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
                    tokio::time::sleep(wait.min(Duration::from_secs(3_600))).await;
                    continue;
                }
                match service.publish().await {
                    Ok(report) => tracing::info!("transparency: published report {}", report.seq),
                    Err(e) => {
                        tracing::error!("transparency: publishing failed: {e}");
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                }
            }
        });
    }

    /// Reads the ledger at one journal sequence number.
    async fn read_ledger(&self) -> SafeguardResult<LedgerReading> {
        self.inner
            .trading
            .sequencer
            .query(|engine: &Engine| {
                let mut reading = LedgerReading {
                    journal_seq: engine.last_seq(),
                    share_bps: engine.safeguard_share_bps(),
                    assets: BTreeMap::new(),
                };
                let specs = engine.assets();
                let code = |id: bulwark_engine::AssetId| {
                    specs
                        .get(usize::from(id.0))
                        .map(|s| (s.code.clone(), s.scale))
                };
                for totals in engine.ledger_totals() {
                    if let Some((asset, scale)) = code(totals.asset) {
                        reading.assets.insert(
                            asset,
                            AssetReading {
                                scale,
                                fund: i64::try_from(totals.safeguard).unwrap_or(i64::MAX),
                                users: Vec::new(),
                            },
                        );
                    }
                }
                for user in engine.user_ids() {
                    for (asset, available, held) in engine.user_balances(user) {
                        let total = available.saturating_add(held);
                        if total == 0 {
                            continue;
                        }
                        if let Some(entry) =
                            code(asset).and_then(|(c, _)| reading.assets.get_mut(&c))
                        {
                            entry.users.push((user.0, total));
                        }
                    }
                }
                reading
            })
            .await
            .map_err(|e| SafeguardError::Internal(format!("engine: {e}")))
    }

    /// Publishes a report now: reads the ledger, custody's reserves and incidents, builds one
    /// proof-of-liabilities tree per asset, opens an incident for each asset whose reserves
    /// fall short, signs the exact bytes and stores them with the trees.
    pub async fn publish(&self) -> SafeguardResult<ReportRow> {
        let _one = self.inner.publishing.lock().await;
        let previous = self.store().latest_report().await?;
        let previous_body: Option<serde_json::Value> = previous
            .as_ref()
            .and_then(|p| serde_json::from_str(&p.body).ok());
        let seq = previous.as_ref().map_or(1, |p| p.seq.saturating_add(1));
        let seq_u = u64::try_from(seq).unwrap_or(0);
        // Read before the ledger: a payout confirmed in between is then counted both in transit
        // and no longer owed (for that moment reserves look larger by it), never as a false
        // shortfall that would freeze the asset.
        let in_flight = self.inner.custody.in_flight_payouts().await?;
        let reading = self.read_ledger().await?;
        let reserves = self.inner.custody.reserves().await?;
        let trading = &self.inner.trading;

        let mut fund_assets = BTreeMap::new();
        let mut reserve_map = BTreeMap::new();
        let mut liabilities = BTreeMap::new();
        let mut solvency = BTreeMap::new();
        let mut trees = Vec::new();
        let (mut fund_usdt, mut target_usdt) = (0_i64, 0_i64);
        for (asset, reading_of) in &reading.assets {
            let built = build_tree(seq_u, asset, &reading_of.users)?;
            let root = built.tree.root();
            let owed = i64::try_from(root.sum).unwrap_or(i64::MAX);
            let (held, ReserveTotals { total, hot, cold }) =
                asset_reserves(asset, reading_of.scale, &reserves);
            let in_transit = in_flight.get(asset).copied().unwrap_or(0);
            let shortfall = owed.saturating_sub(total.saturating_add(in_transit)).max(0);
            let incident_id = if shortfall > 0 {
                let custody = &self.inner.custody;
                let detail = format!(
                    "report {seq}: reserves of {} {asset} ({} more in transit) against {} owed to users: {} short",
                    custody.format(asset, total),
                    custody.format(asset, in_transit),
                    custody.format(asset, owed),
                    custody.format(asset, shortfall)
                );
                Some(custody.open_incident(asset, "shortfall", &detail).await?)
            } else {
                None
            };
            let usdt = |units: i64| trading.usdt_micros(asset, units);
            let fund_value = usdt(reading_of.fund);
            fund_usdt = fund_usdt.saturating_add(fund_value.unwrap_or(0));
            target_usdt = target_usdt
                .saturating_add(usdt(hot).unwrap_or(0))
                .saturating_add(usdt(cold).unwrap_or(0) / 2);
            let change = reading_of
                .fund
                .saturating_sub(previous_fund(previous_body.as_ref(), asset));
            fund_assets.insert(
                asset.clone(),
                FundAsset {
                    scale: reading_of.scale,
                    balance: reading_of.fund.to_string(),
                    change: change.to_string(),
                    usdt: fund_value.map(usdt_text),
                },
            );
            solvency.insert(
                asset.clone(),
                Solvency {
                    reserves: total.to_string(),
                    in_transit: in_transit.to_string(),
                    liabilities: owed.to_string(),
                    shortfall: shortfall.to_string(),
                    incident_id,
                },
            );
            reserve_map.insert(asset.clone(), held);
            liabilities.insert(
                asset.clone(),
                Liabilities {
                    scale: reading_of.scale,
                    users: built.users,
                    leaves: built.tree.width(),
                    root: PathNode::from(&root),
                },
            );
            trees.push(PorTreeRow {
                report_seq: seq,
                asset: asset.clone(),
                leaves_json: serde_json::to_string(&built.leaves)
                    .map_err(|e| SafeguardError::Internal(e.to_string()))?,
            });
        }
        let coverage_bps = (target_usdt > 0)
            .then(|| bulwark_custody::reconcile::share_bps(fund_usdt, target_usdt));
        if fund_usdt < target_usdt {
            tracing::warn!(
                "safeguard: the fund holds {} USDT against a target of {} USDT",
                usdt_text(fund_usdt),
                usdt_text(target_usdt)
            );
        }
        let incidents = self.inner.custody.incidents(REPORT_INCIDENTS_MAX).await?;
        let declared = self.store().incidents(REPORT_INCIDENTS_MAX).await?;
        let claims = self.claim_stats().await?;
        let journal_seq = i64::try_from(reading.journal_seq).unwrap_or(i64::MAX);
        let top_ups: Vec<FundTopUp> = self
            .store()
            .top_ups()
            .await?
            .iter()
            .filter(|t| t.journal_seq <= journal_seq)
            .map(FundTopUp::from)
            .collect();
        let audit = self.store().verify_audit_chain().await?;
        if let Some(id) = audit.broken_at {
            tracing::error!("audit: the hash chain is broken at entry {id}");
        }
        let report = Report {
            seq: seq_u,
            prev_sha256: previous.as_ref().map(|p| p.sha256.clone()),
            published_ms: trading.clock.now_ms(),
            journal_seq: reading.journal_seq,
            safeguard: Fund {
                share_bps: reading.share_bps,
                assets: fund_assets,
                total_usdt: usdt_text(fund_usdt),
                target_usdt: usdt_text(target_usdt),
                coverage_bps,
                below_target: fund_usdt < target_usdt,
                top_ups,
            },
            incidents: incidents.iter().map(Incident::from).collect(),
            declared_incidents: declared.iter().map(DeclaredIncident::from).collect(),
            reserves: reserve_map,
            proof_of_liabilities: liabilities,
            claims: Some(claims),
            solvency,
            audit: AuditHead::from(&audit),
        };
        let body = serde_json::to_string_pretty(&report)
            .map_err(|e| SafeguardError::Internal(e.to_string()))?;
        let row = ReportRow {
            seq,
            published_ms: report.published_ms,
            journal_seq: i64::try_from(reading.journal_seq).unwrap_or(i64::MAX),
            sha256: sha256_hex(body.as_bytes()),
            signature: sign_report(&self.inner.key, body.as_bytes()),
            body,
        };
        if !self.store().insert_report(&row, &trees).await? {
            return Err(SafeguardError::Internal(format!(
                "report {seq} was published by someone else meanwhile"
            )));
        }
        // The report stands on its own; an online key failing to sign leaves its addresses for
        // the offline signer rather than undoing a published report.
        if let Err(e) = self.prove_online(&row).await {
            tracing::error!("report {seq}: online control proofs: {e}");
        }
        Ok(row)
    }

    /// Publishes a report on someone's request (not the schedule's), recorded in the audit log
    /// under `actor`.
    pub async fn publish_as(&self, actor: &str) -> SafeguardResult<ReportRow> {
        let report = self.publish().await?;
        let params = serde_json::json!({"seq": report.seq, "sha256": report.sha256}).to_string();
        self.store()
            .append_audit(actor, "transparency_publish", &params, self.now_ms())
            .await?;
        Ok(report)
    }

    /// The newest report.
    pub async fn latest(&self) -> SafeguardResult<ReportRow> {
        self.store()
            .latest_report()
            .await?
            .ok_or(SafeguardError::NoReport)
    }

    /// Report `seq`.
    pub async fn report(&self, seq: i64) -> SafeguardResult<ReportRow> {
        self.store()
            .report(seq)
            .await?
            .ok_or(SafeguardError::UnknownReport(seq))
    }

    /// Reports newest first.
    pub async fn reports(
        &self,
        limit: i64,
        before: Option<i64>,
    ) -> SafeguardResult<Vec<ReportRow>> {
        Ok(self.store().reports(limit, before).await?)
    }

    /// `user_id`'s inclusion proof for `asset` in report `seq` (the newest when `None`).
    pub async fn proof(
        &self,
        user_id: i64,
        asset: &str,
        seq: Option<i64>,
    ) -> SafeguardResult<Proof> {
        let asset = asset.trim().to_ascii_uppercase();
        if self
            .inner
            .trading
            .sequencer
            .catalog()
            .asset(&asset)
            .is_none()
        {
            return Err(SafeguardError::UnknownAsset(asset));
        }
        let report = match seq {
            Some(seq) => self.report(seq).await?,
            None => self.latest().await?,
        };
        let absent = || SafeguardError::NotInReport {
            asset: asset.clone(),
            seq: report.seq,
        };
        let tree_row = self
            .store()
            .por_tree(report.seq, &asset)
            .await?
            .ok_or_else(absent)?;
        let leaves: Vec<StoredLeaf> = serde_json::from_str(&tree_row.leaves_json)
            .map_err(|e| SafeguardError::Internal(format!("stored leaves: {e}")))?;
        let user = u64::try_from(user_id).map_err(|_| absent())?;
        let index = leaves.iter().position(|l| l.0 == user).ok_or_else(absent)?;
        let (_, balance, salt) = leaves.get(index).cloned().ok_or_else(absent)?;
        let seq_u = u64::try_from(report.seq).unwrap_or(0);
        let tree = tree_of(seq_u, &leaves)?;
        let salt_bytes =
            hex::decode(&salt).map_err(|_| SafeguardError::Internal("stored salt".into()))?;
        let path = tree
            .path(index)
            .ok_or_else(|| SafeguardError::Internal("leaf outside its tree".into()))?;
        Ok(Proof {
            asset,
            report_seq: seq_u,
            leaf_id: hex::encode(bulwark_por::leaf_id(&salt_bytes, user, seq_u)),
            salt,
            user_id: user,
            balance: balance.to_string(),
            index: index as u64,
            path: path.iter().map(PathNode::from).collect(),
            root: PathNode::from(&tree.root()),
        })
    }

    /// Checks the audit log's hash chain from its first entry.
    pub async fn verify_audit(&self) -> SafeguardResult<AuditCheck> {
        Ok(self.store().verify_audit_chain().await?)
    }
}
