//! What the rest of husk needs to know about a container's cgroup beyond
//! limits: where it shows inside the container, and whether it is frozen.

use crate::resolve::Version;
use crate::Cgroup;
use std::path::PathBuf;

impl Cgroup {
    /// For a `cgroup` mount in config.json: on v1 one bind per hierarchy,
    /// named after its mount point's directory (`memory`, `cpu,cpuacct`,
    /// `systemd`, `unified`); on v2 the container's directory.
    pub fn mount_sources(&self) -> (Vec<(String, PathBuf)>, Option<PathBuf>) {
        match self.version {
            Version::V2 => (vec![], self.hierarchies.first().map(|h| h.dir.clone())),
            Version::V1 => {
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
        match self.version {
            Version::V1 => self
                .hierarchies
                .iter()
                .find(|h| h.has("freezer"))
                .and_then(|h| std::fs::read_to_string(h.dir.join("freezer.state")).ok())
                .is_some_and(|s| s.trim() == "FROZEN"),
            Version::V2 => self
                .hierarchies
                .first()
                .and_then(|h| std::fs::read_to_string(h.dir.join("cgroup.freeze")).ok())
                .is_some_and(|s| s.trim() == "1"),
        }
    }

    /// Lets a frozen container run again (before it is killed: a frozen
    /// process does not die until thawed on v1).
    pub fn thaw(&self) -> Result<(), crate::CgroupError> {
        for h in &self.hierarchies {
            let (file, value) = match self.version {
                Version::V1 if h.has("freezer") => ("freezer.state", "THAWED"),
                Version::V2 => ("cgroup.freeze", "0"),
                _ => continue,
            };
            if h.dir.join(file).exists() {
                crate::fs::write(&h.dir, file, value)?;
            }
        }
        Ok(())
    }
}
