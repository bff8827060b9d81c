//! The journal's room to write. A full disk or a read-only data directory must never leave the
//! engine ahead of the disk with commands it cannot make durable, so the pipeline stops taking
//! commands *before* the journal runs out of room: a watcher checks the journal directory's free
//! space (against a reserve of at least two segments, so a roll-over always completes) and that
//! a file can still be written there, once a second. While either fails, every submission is
//! refused with the reason; reads go on; when room returns, commands are taken again. A write
//! that fails anyway (space gone between two checks) still stops the process before anything
//! unwritten is acknowledged.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often the watcher looks.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// The file the watcher writes to prove the directory takes writes.
const PROBE: &str = ".space-probe";

/// Shared between the watcher and the submit path.
#[derive(Debug, Default)]
pub(crate) struct Space {
    refused: AtomicBool,
    reason: RwLock<String>,
}

impl Space {
    /// `Some(reason)` while commands are refused.
    pub(crate) fn refusal(&self) -> Option<String> {
        if !self.refused.load(Ordering::Acquire) {
            return None;
        }
        Some(match self.reason.read() {
            Ok(reason) => reason.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        })
    }

    fn set(&self, refusal: Option<String>) {
        let was = self.refused.load(Ordering::Acquire);
        match &refusal {
            Some(reason) => {
                match self.reason.write() {
                    Ok(mut slot) => slot.clone_from(reason),
                    Err(poisoned) => poisoned.into_inner().clone_from(reason),
                }
                if !was {
                    tracing::error!(%reason, "journal: commands refused until the journal can be written again");
                }
            }
            None if was => tracing::info!("journal: room to write again; taking commands"),
            None => {}
        }
        self.refused.store(refusal.is_some(), Ordering::Release);
        metrics::gauge!("bulwark_journal_writable").set(if refusal.is_some() { 0.0 } else { 1.0 });
    }
}

/// Why the journal directory cannot take commands now, if it cannot.
fn check(dir: &Path, reserve_bytes: u64) -> Option<String> {
    match rustix::fs::statvfs(dir) {
        Ok(stats) => {
            let free = stats.f_bavail.saturating_mul(stats.f_frsize);
            if free < reserve_bytes {
                return Some(format!(
                    "the journal's disk has {free} bytes free, below the {reserve_bytes}-byte reserve (disk full)"
                ));
            }
        }
        Err(error) => {
            return Some(format!(
                "cannot read the journal disk's free space: {error}"
            ));
        }
    }
    let probe = dir.join(PROBE);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&probe)
        .and_then(|mut file| file.write_all(b"x"));
    let _ = std::fs::remove_file(&probe);
    written
        .err()
        .map(|error| format!("the journal directory does not take writes: {error}"))
}

/// Checks once now (so a start on a full disk refuses from the first command), then keeps
/// checking on a thread of its own.
pub(crate) fn watch(dir: PathBuf, reserve_bytes: u64) -> std::io::Result<Arc<Space>> {
    let space = Arc::new(Space::default());
    space.set(check(&dir, reserve_bytes));
    let watched = Arc::clone(&space);
    std::thread::Builder::new()
        .name("journal-space".into())
        .spawn(move || {
            loop {
                std::thread::sleep(CHECK_EVERY);
                watched.set(check(&dir, reserve_bytes));
                // The pipeline is gone (its handle dropped this one's last peer): stop.
                if Arc::strong_count(&watched) == 1 {
                    return;
                }
            }
        })?;
    Ok(space)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_reserve_larger_than_the_disk_refuses_and_a_small_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(check(dir.path(), 1), None);
        let refusal = check(dir.path(), u64::MAX).unwrap();
        assert!(refusal.contains("disk full"), "{refusal}");
        let missing = dir.path().join("gone");
        assert!(check(&missing, 1).is_some());
        let space = Space::default();
        space.set(Some("full".into()));
        assert_eq!(space.refusal().as_deref(), Some("full"));
        space.set(None);
        assert_eq!(space.refusal(), None);
    }
}
