//! What staff who manage the fund (treasury, admin) see and do in the console: the fund's
//! balance per asset now, every top-up, the reports with the share of reserves their control
//! proofs cover, and the coverage policy's versions; top up, publish a report, accept control
//! proofs, publish a policy version. Each action is the same use case the operator API calls,
//! recorded under the staff member's name.

use std::collections::BTreeMap;

use bulwark_accounts::sessions::Authed;
use bulwark_custody::control::ControlRequest;
use bulwark_por::control::{AssetControl, ControlProofs};
use bulwark_store::{ReportRow, TopUpRow};

use crate::error::SafeguardResult;
use crate::fund::TopUp;
use crate::service::Safeguard;
use crate::terms::Terms;

/// Reports the console lists.
const REPORTS_SHOWN: i64 = 20;

/// One asset of the fund now.
#[derive(Debug, Clone)]
pub struct FundAsset {
    pub asset: String,
    pub scale: u32,
    pub balance: i64,
    /// Micro-USDT; `None` while the asset has no price.
    pub usdt: Option<i64>,
}

/// A published report with its control coverage.
#[derive(Debug, Clone)]
pub struct ReportLine {
    pub report: ReportRow,
    pub control: BTreeMap<String, AssetControl>,
}

#[derive(Debug, Clone)]
pub struct FundConsole {
    pub fund: Vec<FundAsset>,
    pub top_ups: Vec<TopUpRow>,
    pub reports: Vec<ReportLine>,
    pub policies: Vec<Terms>,
}

type StaffResult<T> = Result<T, bulwark_accounts::Error>;

impl Safeguard {
    /// The fund's balance of every asset now, valued in USDT where a price exists.
    pub async fn fund_now(&self) -> SafeguardResult<Vec<FundAsset>> {
        let mut out = Vec::new();
        for asset in self.assets() {
            let balance = self.fund_balance(&asset).await?;
            out.push(FundAsset {
                scale: self.scale_of(&asset),
                usdt: self.trading().usdt_micros(&asset, balance),
                asset,
                balance,
            });
        }
        Ok(out)
    }

    pub async fn staff_fund_console(&self, authed: &Authed) -> StaffResult<FundConsole> {
        self.fund_manager(authed).await?;
        let mut reports = Vec::new();
        for report in self.reports(REPORTS_SHOWN, None).await? {
            let control = self.control_coverage(report.seq).await?;
            reports.push(ReportLine { report, control });
        }
        Ok(FundConsole {
            fund: self.fund_now().await?,
            top_ups: self.top_ups().await?,
            reports,
            policies: self.policy_versions(),
        })
    }

    pub async fn staff_top_up(&self, authed: &Authed, t: TopUp) -> StaffResult<TopUpRow> {
        let actor = self.fund_manager(authed).await?;
        Ok(self.top_up(&actor, t).await?)
    }

    pub async fn staff_publish(&self, authed: &Authed) -> StaffResult<ReportRow> {
        let actor = self.fund_manager(authed).await?;
        Ok(self.publish_as(&actor).await?)
    }

    pub async fn staff_control_request(
        &self,
        authed: &Authed,
        seq: i64,
    ) -> StaffResult<ControlRequest> {
        self.fund_manager(authed).await?;
        Ok(self.control_request(seq).await?)
    }

    pub async fn staff_add_control(
        &self,
        authed: &Authed,
        seq: i64,
        proofs: &ControlProofs,
    ) -> StaffResult<u64> {
        let actor = self.fund_manager(authed).await?;
        Ok(self.add_control(&actor, seq, proofs).await?)
    }
}
