//! pause and resume: the v1 freezer or v2 cgroup.freeze, waiting until the
//! kernel reports every task frozen (a write only starts the freezing).

use crate::fs::{read_value, write};
use crate::resolve::Version;
use crate::{Cgroup, CgroupError};
use std::time::{Duration, Instant};

/// How long a freeze may take before it is undone and reported; runc gives
/// up after a similar bound. Not a timing assertion: a guard against a task
/// that never freezes (e.g. stuck in uninterruptible sleep).
const FREEZE_BOUND: Duration = Duration::from_secs(10);

impl Cgroup {
    /// Freezes every process of the container and waits until it is.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        let Some(h) = self.freezer() else {
            return Err(CgroupError::Host(
                "pause: the freezer controller is not available on this host".into(),
            ));
        };
        let deadline = Instant::now() + FREEZE_BOUND;
        let mut nap = Duration::from_micros(100);
        loop {
            let frozen = match self.version {
                Version::V1 => {
                    // Writing FROZEN again nudges tasks that were in the
                    // middle of forking when the first write came.
                    write(&h, "freezer.state", "FROZEN")?;
                    read_value(&h, "freezer.state")? == "FROZEN"
                }
                Version::V2 => {
                    write(&h, "cgroup.freeze", "1")?;
                    crate::fs::read(&h.join("cgroup.events"))?
                        .lines()
                        .any(|l| l.trim() == "frozen 1")
                }
            };
            if frozen {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = self.thaw();
                return Err(CgroupError::Host(format!(
                    "pause: {} did not freeze within {}s; resumed it again",
                    h.display(),
                    FREEZE_BOUND.as_secs()
                )));
            }
            std::thread::sleep(nap);
            nap = (nap * 2).min(Duration::from_millis(10));
        }
    }

    /// The directory whose freezer file controls the container.
    /// The directory whose freezer holds the container, for CRIU to
    /// freeze through.
    pub fn freezer_dir(&self) -> Option<std::path::PathBuf> {
        self.freezer()
    }

    /// v1's freezer hierarchy, or v2's own directory when it has
    /// cgroup.freeze.
    fn freezer(&self) -> Option<std::path::PathBuf> {
        match self.version {
            Version::V1 => self
                .hierarchies
                .iter()
                .find(|h| h.has("freezer"))
                .map(|h| h.dir.clone()),
            Version::V2 => self
                .hierarchies
                .first()
                .map(|h| h.dir.clone())
                .filter(|d| d.join("cgroup.freeze").exists()),
        }
    }
}
