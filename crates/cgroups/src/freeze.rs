//! pause and resume: the v1 freezer or v2 cgroup.freeze, waiting until the
//! kernel reports every task frozen (a write only starts the freezing).

use crate::fs::{read_value, write};
use crate::{Cgroup, CgroupError, Driver};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a freeze may take before it is undone and reported; runc gives
/// up after a similar bound. Not a timing assertion: a guard against a task
/// that never freezes (e.g. stuck in uninterruptible sleep).
const FREEZE_BOUND: Duration = Duration::from_secs(10);

impl Cgroup {
    /// Freezes every process of the container and waits until it is.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        let Some((h, freeze_once)) = self.freezer() else {
            return Err(CgroupError::Host(
                "pause: the freezer controller is not available on this host".into(),
            ));
        };
        let deadline = Instant::now() + FREEZE_BOUND;
        let mut nap = Duration::from_micros(100);
        loop {
            if freeze_once(&h)? {
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

    /// The directory whose freezer holds the container, for CRIU to
    /// freeze through.
    pub fn freezer_dir(&self) -> Option<PathBuf> {
        self.freezer().map(|(dir, _)| dir)
    }

    /// v1's freezer hierarchy, or v2's own directory when it has
    /// cgroup.freeze; with the step that freezes it.
    fn freezer(&self) -> Option<(PathBuf, FreezeOnce)> {
        match self.driver {
            Driver::V1 => self
                .hierarchies
                .iter()
                .find(|h| h.has("freezer"))
                .map(|h| (h.dir.clone(), freeze_v1 as FreezeOnce)),
            Driver::V2 | Driver::Systemd(_) => self
                .hierarchies
                .first()
                .map(|h| h.dir.clone())
                .filter(|d| d.join("cgroup.freeze").exists())
                .map(|d| (d, freeze_v2 as FreezeOnce)),
        }
    }
}

/// Asks the kernel to freeze the cgroup in `dir`; true once it is frozen.
type FreezeOnce = fn(&Path) -> Result<bool, CgroupError>;

fn freeze_v1(dir: &Path) -> Result<bool, CgroupError> {
    // Writing FROZEN again nudges tasks that were in the middle of forking
    // when the first write came.
    write(dir, "freezer.state", "FROZEN")?;
    Ok(read_value(dir, "freezer.state")? == "FROZEN")
}

fn freeze_v2(dir: &Path) -> Result<bool, CgroupError> {
    write(dir, "cgroup.freeze", "1")?;
    Ok(crate::fs::read(&dir.join("cgroup.events"))?
        .lines()
        .any(|l| l.trim() == "frozen 1"))
}
