//! The coverage policy's terms as versioned data (caps in whole USDT). The covered and excluded
//! reasons are the claims state machine's own vocabulary and stay in code; the caps are the
//! operator's to set.
//! A new version takes effect for claims filed after it is published, and each claim is
//! decided under the version it was filed with, so changing the terms never changes a promise
//! already made. Every version stays published (`GET /transparency/v1/policy`).

use bulwark_accounts::admin::{Capability, require_staff};
use bulwark_accounts::sessions::Authed;
use bulwark_store::PolicyRow;
use serde::Deserialize;
use serde_json::json;

use crate::error::{SafeguardError, SafeguardResult, invalid};
use crate::service::Safeguard;
pub use crate::terms::{BUILT_IN_VERSION, Terms};

/// Highest cap staff may set, in whole USDT (10^12), far above any fund, so sums cannot
/// overflow.
const CAP_MAX_USDT: i64 = 1_000_000_000_000;
/// The reason for a new version, shown with it.
const NOTE_MIN: usize = 10;
const NOTE_MAX: usize = 2_000;

/// A new version as staff write it: caps in whole USDT (JSON numbers or strings), and why.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PolicyChange {
    #[serde(default, deserialize_with = "whole_number_text")]
    pub per_user_cap_usdt: String,
    #[serde(default, deserialize_with = "whole_number_text")]
    pub per_incident_cap_usdt: String,
    #[serde(default)]
    pub note: String,
}

/// A cap as JSON gives it, as text: `10` and `"10"` are the same cap (anything else is kept as
/// text for `cap` to refuse with its reason).
fn whole_number_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    })
}

/// A cap as staff write it (whole USDT) in micro-USDT.
fn cap(field: &'static str, text: &str) -> SafeguardResult<i64> {
    let text = text.trim();
    text.parse::<i64>()
        .ok()
        .filter(|usdt| {
            text.bytes().all(|b| b.is_ascii_digit()) && (1..=CAP_MAX_USDT).contains(usdt)
        })
        .map(|usdt| usdt * 1_000_000)
        .ok_or_else(|| {
            invalid(
                "invalid_cap",
                format!("{field} must be a whole number of USDT from 1 to {CAP_MAX_USDT}"),
            )
        })
}

/// The first free `YYYY-MM-DD.N` for the day of `now_ms`.
fn next_version(now_ms: i64, taken: &[Terms]) -> String {
    let date = bulwark_identity::kyc::utc_date(now_ms);
    let day = format!("{:04}-{:02}-{:02}", date.year, date.month, date.day);
    (1..)
        .map(|n| format!("{day}.{n}"))
        .find(|v| !taken.iter().any(|t| &t.version == v))
        .unwrap_or(day)
}

impl Safeguard {
    /// The version in force now.
    pub fn terms(&self) -> Terms {
        self.versions()
            .with(|all| all.last().cloned())
            .unwrap_or_else(Terms::built_in)
    }

    /// The version a claim was filed under (the built-in one for a version never published
    /// here, which only a hand-edited database could hold).
    pub fn terms_of(&self, version: &str) -> Terms {
        self.versions()
            .with(|all| all.iter().find(|t| t.version == version).cloned())
            .unwrap_or_else(Terms::built_in)
    }

    /// Every version, oldest first.
    pub fn policy_versions(&self) -> Vec<Terms> {
        self.versions().with(<[Terms]>::to_vec)
    }

    /// Publishes a new version of the terms (audited); it applies to claims filed from now on.
    pub async fn publish_policy(
        &self,
        actor: &str,
        change: &PolicyChange,
    ) -> SafeguardResult<Terms> {
        let per_user = cap("per_user_cap_usdt", &change.per_user_cap_usdt)?;
        let per_incident = cap("per_incident_cap_usdt", &change.per_incident_cap_usdt)?;
        if per_incident < per_user {
            return Err(invalid(
                "invalid_cap",
                "the per-incident cap cannot be below the per-user cap",
            ));
        }
        // Forms send line breaks as CRLF; a note may have several lines.
        let note = change.note.replace("\r\n", "\n");
        let note = note.trim();
        let chars = note.chars().count();
        if !(NOTE_MIN..=NOTE_MAX).contains(&chars)
            || note.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(invalid(
                "invalid_note",
                format!("say why in {NOTE_MIN} to {NOTE_MAX} characters of plain text"),
            ));
        }
        // One publication at a time, so two on the same day never pick the same id.
        let _one = self.versions().publishing.lock().await;
        let now_ms = self.now_ms();
        let row = PolicyRow {
            version: next_version(now_ms, &self.policy_versions()),
            per_user_cap_usdt: per_user,
            per_incident_cap_usdt: per_incident,
            note: note.to_owned(),
            actor: actor.to_owned(),
            published_ms: now_ms,
        };
        if !self.store().insert_policy(&row).await? {
            return Err(SafeguardError::Internal(format!(
                "policy version {} was published by someone else meanwhile",
                row.version
            )));
        }
        let params = json!({"version": row.version, "per_user_cap_usdt": row.per_user_cap_usdt,
            "per_incident_cap_usdt": row.per_incident_cap_usdt})
        .to_string();
        self.store()
            .append_audit(actor, "safeguard.policy", &params, now_ms)
            .await?;
        let terms = Terms::from(row);
        self.versions().push(terms.clone());
        Ok(terms)
    }

    /// Staff who manage the fund (treasury, admin) publish a new version.
    pub async fn staff_publish_policy(
        &self,
        authed: &Authed,
        change: &PolicyChange,
    ) -> Result<Terms, bulwark_accounts::Error> {
        let actor = self.fund_manager(authed).await?;
        Ok(self.publish_policy(&actor, change).await?)
    }

    /// The actor of a staff member who may manage the fund.
    pub(crate) async fn fund_manager(
        &self,
        authed: &Authed,
    ) -> Result<String, bulwark_accounts::Error> {
        let staff = require_staff(self.accounts(), authed, &[Capability::FundManagement]).await?;
        Ok(staff.actor())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_numbered_per_day_and_never_reused() {
        let day_ms = 1_796_688_000_000; // 2026-12-08T00:00:00Z
        let mut taken = vec![Terms::built_in()];
        assert_eq!(next_version(day_ms, &taken), "2026-12-08.1");
        taken.push(Terms {
            version: "2026-12-08.1".into(),
            ..Terms::built_in()
        });
        assert_eq!(next_version(day_ms + 5, &taken), "2026-12-08.2");
        // The built-in version's own id is skipped on its day.
        assert_eq!(
            next_version(day_ms - 86_400_000, &[Terms::built_in()]),
            "2026-12-07.1"
        );
        let mut built_in_day = vec![Terms::built_in()];
        built_in_day.push(Terms {
            version: "2026-12-07.1".into(),
            ..Terms::built_in()
        });
        assert_eq!(
            next_version(day_ms - 86_400_000, &built_in_day),
            "2026-12-07.3"
        );
    }

    #[test]
    fn caps_come_as_json_numbers_or_strings() {
        let change: PolicyChange = serde_json::from_str(
            r#"{"per_user_cap_usdt": 10, "per_incident_cap_usdt": "20", "note": "x"}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            (
                change.per_user_cap_usdt.as_str(),
                change.per_incident_cap_usdt.as_str()
            ),
            ("10", "20")
        );
        let fractional: PolicyChange =
            serde_json::from_str(r#"{"per_user_cap_usdt": 0.5}"#).unwrap_or_default();
        assert!(cap("c", &fractional.per_user_cap_usdt).is_err());
    }

    #[test]
    fn caps_are_positive_usdt_amounts() {
        assert_eq!(cap("c", "100000").ok(), Some(100_000_000_000));
        assert_eq!(cap("c", " 5 ").ok(), Some(5_000_000));
        for bad in ["0", "-1", "+1", "abc", "", "0.5", "1000000000001"] {
            assert!(cap("c", bad).is_err(), "{bad}");
        }
    }
}
