//! One version of the coverage policy's terms, and every version in force order. Kept apart
//! from the use cases (`policy`) so the service can hold the versions without the two
//! modules depending on each other.

use std::sync::RwLock;

use bulwark_store::PolicyRow;
use serde_json::{Value, json};

/// The version a new exchange starts with (claims filed before any published version carry it).
pub const BUILT_IN_VERSION: &str = "2026-12-07.2";
/// Its caps, in micro-USDT: 100 000 USDT per user, 10 000 000 USDT per incident.
const BUILT_IN_PER_USER_CAP: i64 = 100_000 * 1_000_000;
const BUILT_IN_PER_INCIDENT_CAP: i64 = 10_000_000 * 1_000_000;

/// One version of the terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub version: String,
    pub per_user_cap_usdt: i64,
    pub per_incident_cap_usdt: i64,
    pub note: String,
    pub actor: String,
    pub published_ms: i64,
}

impl Terms {
    pub(crate) fn built_in() -> Terms {
        Terms {
            version: BUILT_IN_VERSION.into(),
            per_user_cap_usdt: BUILT_IN_PER_USER_CAP,
            per_incident_cap_usdt: BUILT_IN_PER_INCIDENT_CAP,
            note: "The first version.".into(),
            actor: "built-in".into(),
            published_ms: 0,
        }
    }

    /// Caps in whole USDT.
    pub fn per_user_cap(&self) -> i64 {
        self.per_user_cap_usdt / 1_000_000
    }

    pub fn per_incident_cap(&self) -> i64 {
        self.per_incident_cap_usdt / 1_000_000
    }

    pub fn json(&self) -> Value {
        json!({"version": self.version, "per_user_cap_usdt": self.per_user_cap(),
               "per_incident_cap_usdt": self.per_incident_cap(), "note": self.note,
               "published_ms": self.published_ms})
    }
}

impl From<PolicyRow> for Terms {
    fn from(row: PolicyRow) -> Terms {
        Terms {
            version: row.version,
            per_user_cap_usdt: row.per_user_cap_usdt,
            per_incident_cap_usdt: row.per_incident_cap_usdt,
            note: row.note,
            actor: row.actor,
            published_ms: row.published_ms,
        }
    }
}

/// Every version, oldest first, the built-in one first; read at start, added to on publish.
pub(crate) struct Versions {
    all: RwLock<Vec<Terms>>,
    /// Held while a version is published.
    pub(crate) publishing: tokio::sync::Mutex<()>,
}

impl Versions {
    pub(crate) fn new(rows: Vec<PolicyRow>) -> Versions {
        let mut all = vec![Terms::built_in()];
        all.extend(rows.into_iter().map(Terms::from));
        Versions {
            all: RwLock::new(all),
            publishing: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs `f` over every version, oldest first, under the read lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&[Terms]) -> R) -> R {
        match self.all.read() {
            Ok(all) => f(&all),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    pub(crate) fn push(&self, terms: Terms) {
        match self.all.write() {
            Ok(mut all) => all.push(terms),
            Err(poisoned) => poisoned.into_inner().push(terms),
        }
    }
}
