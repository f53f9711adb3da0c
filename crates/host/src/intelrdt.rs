//! `linux.intelRdt`: puts the container's init in a resctrl group, from the
//! host side once the init exists. Without a mounted resctrl filesystem
//! this is an error, as the spec requires (runc 1.1.5 errors only when a
//! schema is given).
//!
//! The group is `closID`, else the container's id. It is created when
//! missing and a schema is given; a `closID` without a schema must name an
//! existing group. The schemata are written l3CacheSchema, memBwSchema,
//! then `schemata`'s lines. With enableMonitoring (runtime-spec 1.3.0; the
//! older enableCMT/enableMBM read the same) the init goes into a MON group
//! `mon_groups/<id>` of that group. On delete the MON group goes, and so
//! does the group named after the container (no closID), which husk made.
//! Not done: comparing the schema of an existing group with the config's.

use husk_spec::IntelRdt;
use std::path::PathBuf;

/// A failed step of `apply`: the field it was for and what failed.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {what}")]
pub struct IntelRdtError {
    /// `linux.intelRdt`, `linux.intelRdt.closID` or
    /// `linux.intelRdt.enableMonitoring`.
    pub field: &'static str,
    pub what: Failure,
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("no resctrl filesystem is mounted on this host (Intel RDT is not available)")]
    NoResctrl,
    /// A closID without a schema names a group that must exist.
    #[error("resctrl group {} does not exist", .0.display())]
    NoGroup(PathBuf),
    #[error("this host's resctrl has no monitoring (info/L3_MON)")]
    NoMonitoring,
    #[error("create {}: {source}", .path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl IntelRdtError {
    fn new(field: &'static str, what: Failure) -> Self {
        IntelRdtError { field, what }
    }

    /// The errno of the failed write or mkdir, if one.
    pub fn errno(&self) -> Option<i32> {
        match &self.what {
            Failure::Create { source, .. } | Failure::Write { source, .. } => source.raw_os_error(),
            Failure::NoResctrl | Failure::NoGroup(_) | Failure::NoMonitoring => None,
        }
    }
}

/// Where resctrl is mounted, from /proc/self/mountinfo.
fn resctrl_root() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if right.split(' ').next()? != "resctrl" {
            return None;
        }
        left.split(' ').nth(4).map(PathBuf::from)
    })
}

/// Whether resctrl is mounted (what `apply` needs), for the checks made
/// before anything is created.
pub fn resctrl_mounted() -> bool {
    resctrl_root().is_some()
}

/// The text for the group's `schemata` file, if the config gives any.
fn schemata(rdt: &IntelRdt) -> Option<String> {
    let mut lines: Vec<&str> = Vec::new();
    if let Some(l3) = rdt.l3_cache_schema.as_deref().filter(|s| !s.is_empty()) {
        // With memBwSchema given, an MB: line of l3CacheSchema gives way.
        lines.extend(
            l3.split('\n')
                .filter(|l| rdt.mem_bw_schema.is_none() || !l.starts_with("MB:")),
        );
    }
    if let Some(mb) = rdt.mem_bw_schema.as_deref().filter(|s| !s.is_empty()) {
        lines.push(mb);
    }
    if let Some(s) = &rdt.schemata {
        lines.extend(s.iter().map(String::as_str));
    }
    (!lines.is_empty()).then(|| lines.join("\n") + "\n")
}

pub(crate) fn apply(id: &str, pid: i32, rdt: &IntelRdt) -> Result<(), IntelRdtError> {
    const FIELD: &str = "linux.intelRdt";
    let root = resctrl_root().ok_or_else(|| IntelRdtError::new(FIELD, Failure::NoResctrl))?;
    let schema = schemata(rdt);
    let group = rdt.clos_id.as_deref().unwrap_or(id);
    let dir = root.join(group);
    if !dir.is_dir() {
        if rdt.clos_id.is_some() && schema.is_none() {
            return Err(IntelRdtError::new(
                "linux.intelRdt.closID",
                Failure::NoGroup(dir),
            ));
        }
        std::fs::create_dir(&dir).map_err(|source| {
            IntelRdtError::new(
                FIELD,
                Failure::Create {
                    path: dir.clone(),
                    source,
                },
            )
        })?;
    }
    let write = |path: PathBuf, text: String| {
        std::fs::write(&path, text)
            .map_err(|source| IntelRdtError::new(FIELD, Failure::Write { path, source }))
    };
    if let Some(s) = schema {
        write(dir.join("schemata"), s)?;
    }
    let tasks = match monitoring(rdt) {
        false => dir.join("tasks"),
        true => {
            const MON: &str = "linux.intelRdt.enableMonitoring";
            if !root.join("info/L3_MON").is_dir() {
                return Err(IntelRdtError::new(MON, Failure::NoMonitoring));
            }
            let mon = dir.join("mon_groups").join(id);
            std::fs::create_dir(&mon).map_err(|source| {
                IntelRdtError::new(
                    MON,
                    Failure::Create {
                        path: mon.clone(),
                        source,
                    },
                )
            })?;
            mon.join("tasks")
        }
    };
    write(tasks, pid.to_string())
}

fn monitoring(rdt: &IntelRdt) -> bool {
    [rdt.enable_monitoring, rdt.enable_cmt, rdt.enable_mbm].contains(&Some(true))
}

/// What delete removes: the MON group, then the group named after the
/// container when no closID was given (husk made it); never a closID group.
fn groups_to_remove(root: &std::path::Path, id: &str, rdt: &IntelRdt) -> Vec<PathBuf> {
    let group = root.join(rdt.clos_id.as_deref().unwrap_or(id));
    let mut v = Vec::new();
    if monitoring(rdt) {
        v.push(group.join("mon_groups").join(id));
    }
    if rdt.clos_id.is_none() {
        v.push(group);
    }
    v
}

/// On delete: removes the resctrl groups `apply` made for container `id`.
pub fn remove(id: &str, rdt: &IntelRdt) {
    let Some(root) = resctrl_root() else { return };
    for d in groups_to_remove(&root, id, rdt) {
        if let Err(e) = std::fs::remove_dir(&d) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("linux.intelRdt: remove {}: {e}", d.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemata_are_combined_in_the_spec_order() {
        let mut r = IntelRdt {
            l3_cache_schema: Some("L3:0=f\nMB:0=10".into()),
            mem_bw_schema: Some("MB:0=20".into()),
            ..IntelRdt::default()
        };
        assert_eq!(schemata(&r).as_deref(), Some("L3:0=f\nMB:0=20\n"));
        r.schemata = Some(vec!["L2:0=3".into()]);
        assert_eq!(schemata(&r).as_deref(), Some("L3:0=f\nMB:0=20\nL2:0=3\n"));
        assert_eq!(schemata(&IntelRdt::default()), None);
    }

    /// The typed error says what the text said before it was typed, and
    /// keeps the field and errno apart for husk-process's error.
    #[test]
    fn errors_keep_their_line() {
        let e = IntelRdtError::new(
            "linux.intelRdt",
            Failure::Write {
                path: "/sys/fs/resctrl/c1/tasks".into(),
                source: std::io::Error::from_raw_os_error(libc::EINVAL),
            },
        );
        assert_eq!(
            e.to_string(),
            format!(
                "linux.intelRdt: write /sys/fs/resctrl/c1/tasks: {}",
                std::io::Error::from_raw_os_error(libc::EINVAL)
            )
        );
        assert_eq!(e.errno(), Some(libc::EINVAL));
        let e = IntelRdtError::new("linux.intelRdt.closID", Failure::NoGroup("/r/gold".into()));
        assert_eq!(
            e.to_string(),
            "linux.intelRdt.closID: resctrl group /r/gold does not exist"
        );
        assert_eq!(e.errno(), None);
    }

    #[test]
    fn delete_removes_what_apply_made() {
        let root = std::path::Path::new("/sys/fs/resctrl");
        let mut r = IntelRdt::default();
        assert_eq!(groups_to_remove(root, "c1", &r), [root.join("c1")]);
        r.enable_monitoring = Some(true);
        assert_eq!(
            groups_to_remove(root, "c1", &r),
            [root.join("c1/mon_groups/c1"), root.join("c1")]
        );
        r.clos_id = Some("gold".into());
        assert_eq!(
            groups_to_remove(root, "c1", &r),
            [root.join("gold/mon_groups/c1")]
        );
    }
}
