//! What the rest of husk needs to know about a container's cgroup beyond
//! limits: where it shows inside the container, and whether it is frozen.

use crate::resolve::Hierarchy;
use crate::{Cgroup, Driver};
use std::path::PathBuf;

impl Cgroup {
    /// For a `cgroup` mount in config.json: on v1 one bind per hierarchy,
    /// named after its mount point's directory (`memory`, `cpu,cpuacct`,
    /// `systemd`, `unified`); on v2 the container's directory.
    pub fn mount_sources(&self) -> (Vec<(String, PathBuf)>, Option<PathBuf>) {
        match self.driver {
            Driver::V2 | Driver::Systemd(_) => {
                (vec![], self.hierarchies.first().map(|h| h.dir.clone()))
            }
            Driver::V1 => {
                let binds = self
                    .hierarchies
                    .iter()
                    .filter_map(|h| {
                        let name = h.mount_point.file_name()?.to_str()?.to_string();
                        Some((name, h.dir.clone()))
                    })
                    .collect();
                (binds, None)
            }
        }
    }

    /// True when the freezer holds the container (`paused`).
    pub fn is_frozen(&self) -> bool {
        match self.driver {
            Driver::V1 => self
                .hierarchies
                .iter()
                .find(|h| h.has("freezer"))
                .and_then(|h| std::fs::read_to_string(h.dir.join("freezer.state")).ok())
                .is_some_and(|s| s.trim() == "FROZEN"),
            Driver::V2 | Driver::Systemd(_) => self
                .hierarchies
                .first()
                .and_then(|h| std::fs::read_to_string(h.dir.join("cgroup.freeze")).ok())
                .is_some_and(|s| s.trim() == "1"),
        }
    }

    /// Lets a frozen container run again (before it is killed: a frozen
    /// process does not die until thawed on v1).
    pub fn thaw(&self) -> Result<(), crate::CgroupError> {
        // v1: the file is in the freezer hierarchy; v2 has one hierarchy.
        let (file, value, holds): (_, _, fn(&Hierarchy) -> bool) = match self.driver {
            Driver::V1 => ("freezer.state", "THAWED", |h| h.has("freezer")),
            Driver::V2 | Driver::Systemd(_) => ("cgroup.freeze", "0", |_| true),
        };
        for h in self.hierarchies.iter().filter(|h| holds(h)) {
            if h.dir.join(file).exists() {
                crate::fs::write(&h.dir, file, value)?;
            }
        }
        Ok(())
    }
}
