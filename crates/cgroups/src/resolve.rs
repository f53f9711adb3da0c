//! Turns `linux.cgroupsPath` into one directory per cgroup hierarchy.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::mountinfo::{same_controllers, CgroupMount, MountKind, ProcCgroup};
use crate::CgroupError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Version {
    /// cgroup v1, including hybrid hosts that also mount an empty cgroup2.
    V1,
    /// Pure cgroup v2 ("unified mode").
    V2,
}

/// The container's directory in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Hierarchy {
    /// Controllers as in /proc/self/cgroup: `["cpu", "cpuacct"]`,
    /// `["name=systemd"]`, or empty for a cgroup2 hierarchy.
    pub controllers: Vec<String>,
    pub mount_point: PathBuf,
    pub dir: PathBuf,
}

impl Hierarchy {
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The one hierarchy of a v2 cgroup. Only a hand-edited state has none.
pub(crate) fn first(hs: &[Hierarchy]) -> Result<&Hierarchy, CgroupError> {
    hs.first()
        .ok_or_else(|| CgroupError::Host("the cgroup state lists no hierarchy".into()))
}

/// Picks the hierarchies a container joins. A host counts as v1 as soon as
/// one v1 hierarchy carries a real controller; then every v1 hierarchy
/// (named ones too) and the hybrid cgroup2 mount are joined, as runc does.
/// Otherwise a cgroup2 mount makes it a pure v2 host (a stray named v1
/// hierarchy there is ignored, as runc ignores it in unified mode).
pub(crate) fn select(mounts: Vec<CgroupMount>) -> Result<(Version, Vec<CgroupMount>), CgroupError> {
    let has_v1_controller = mounts.iter().any(|m| match &m.kind {
        MountKind::V1(c) => c.iter().any(|c| !c.starts_with("name=")),
        MountKind::V2 => false,
    });
    if has_v1_controller {
        return Ok((Version::V1, mounts));
    }
    match mounts.into_iter().find(|m| m.kind == MountKind::V2) {
        Some(m) => Ok((Version::V2, vec![m])),
        None => Err(CgroupError::Host(
            "no cgroup filesystem is mounted (none found in /proc/self/mountinfo)".into(),
        )),
    }
}

/// Resolves the container's directory in each selected hierarchy.
///
/// See [`crate::Cgroup::resolve`] for the meaning of `cgroups_path`.
pub(crate) fn dirs(
    mounts: &[CgroupMount],
    own: &[ProcCgroup],
    cgroups_path: Option<&str>,
    id: &str,
) -> Result<Vec<Hierarchy>, CgroupError> {
    let (absolute, components) = match cgroups_path.filter(|p| !p.is_empty()) {
        Some(p) => (p.starts_with('/'), clean(p)),
        None => {
            if id.is_empty() || id.contains('/') || id == "." || id == ".." {
                return Err(CgroupError::Invalid {
                    field: "container id".into(),
                    reason: format!("{id:?} cannot name a cgroup directory"),
                });
            }
            (false, vec![id.to_string()])
        }
    };
    if components.is_empty() {
        return Err(CgroupError::Invalid {
            field: "linux.cgroupsPath".into(),
            reason: format!(
                "{:?} names the {} cgroup itself, but a container needs a cgroup of its own",
                cgroups_path.unwrap_or_default(),
                if absolute { "root" } else { "runtime's own" }
            ),
        });
    }

    mounts
        .iter()
        .map(|m| {
            let controllers = match &m.kind {
                MountKind::V1(c) => c.clone(),
                MountKind::V2 => Vec::new(),
            };
            let mut dir = m.mount_point.clone();
            if !absolute {
                let base = own_relative_dir(m, &controllers, own)?;
                // Pushing "" would append a trailing '/'.
                if !base.as_os_str().is_empty() {
                    dir.push(base);
                }
            }
            dir.extend(&components);
            Ok(Hierarchy {
                controllers,
                mount_point: m.mount_point.clone(),
                dir,
            })
        })
        .collect()
}

/// Lexically cleans a cgroups path like Go's `filepath.Clean` on an absolute
/// path, so ".." can never climb above the base it is relative to (runc
/// cleans the same way).
fn clean(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_string()),
        }
    }
    out
}

/// Our own cgroup in `m`'s hierarchy, relative to what `m` mounts.
fn own_relative_dir(
    m: &CgroupMount,
    controllers: &[String],
    own: &[ProcCgroup],
) -> Result<PathBuf, CgroupError> {
    let name = if controllers.is_empty() {
        "cgroup2".to_string()
    } else {
        controllers.join(",")
    };
    let line = own
        .iter()
        .find(|p| same_controllers(&p.controllers, controllers))
        .ok_or_else(|| {
            CgroupError::Host(format!(
                "cannot resolve a relative linux.cgroupsPath: the {name} hierarchy mounted at {} \
                 is not listed in /proc/self/cgroup",
                m.mount_point.display()
            ))
        })?;
    Path::new(&line.path)
        .strip_prefix(&m.root)
        .map(Path::to_path_buf)
        .map_err(|_| {
            CgroupError::Host(format!(
                "cannot resolve a relative linux.cgroupsPath: our {name} cgroup {} is outside the \
                 part of the hierarchy ({}) mounted at {}",
                line.path,
                m.root,
                m.mount_point.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mountinfo::samples::*;
    use crate::mountinfo::{parse_mountinfo, parse_proc_cgroup};

    fn resolve(
        mountinfo: &str,
        proc_cgroup: &str,
        path: Option<&str>,
        id: &str,
    ) -> (Version, Vec<Hierarchy>) {
        let (v, mounts) = select(parse_mountinfo(mountinfo).unwrap()).unwrap();
        let own = parse_proc_cgroup(proc_cgroup).unwrap();
        (v, dirs(&mounts, &own, path, id).unwrap())
    }

    fn dir_of<'a>(hs: &'a [Hierarchy], controller: &str) -> &'a Path {
        if controller.is_empty() {
            return &hs.iter().find(|h| h.controllers.is_empty()).unwrap().dir;
        }
        &hs.iter().find(|h| h.has(controller)).unwrap().dir
    }

    #[test]
    fn hybrid_absolute_path_is_under_every_mount_point() {
        let (v, hs) = resolve(HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP, Some("/husk/c1"), "c1");
        assert_eq!(v, Version::V1);
        assert_eq!(hs.len(), 10);
        assert_eq!(
            dir_of(&hs, "memory"),
            Path::new("/sys/fs/cgroup/memory/husk/c1")
        );
        assert_eq!(dir_of(&hs, "cpu"), Path::new("/sys/fs/cgroup/cpu/husk/c1"));
        assert_eq!(
            dir_of(&hs, "cpuacct"),
            Path::new("/sys/fs/cgroup/cpuacct/husk/c1")
        );
        assert_eq!(
            dir_of(&hs, "name=systemd"),
            Path::new("/sys/fs/cgroup/systemd/husk/c1")
        );
        assert_eq!(dir_of(&hs, ""), Path::new("/sys/fs/cgroup/unified/husk/c1"));
    }

    #[test]
    fn hybrid_default_path_is_the_id_under_our_own_cgroup() {
        let (_, hs) = resolve(HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP, None, "c1");
        assert_eq!(
            dir_of(&hs, "memory"),
            Path::new("/sys/fs/cgroup/memory/process_api/5b97e0194a8d574e530db271211ae5c4/c1")
        );
        assert_eq!(dir_of(&hs, "pids"), Path::new("/sys/fs/cgroup/pids/c1"));
        assert_eq!(dir_of(&hs, ""), Path::new("/sys/fs/cgroup/unified/c1"));
        let (_, empty) = resolve(HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP, Some(""), "c1");
        assert_eq!(empty, hs);
        let (_, relative) = resolve(HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP, Some("c1"), "other");
        assert_eq!(relative, hs);
    }

    #[test]
    fn pure_v2_has_a_single_dir() {
        let (v, hs) = resolve(V2_MOUNTINFO, V2_PROC_CGROUP, Some("/machine/c1"), "c1");
        assert_eq!(v, Version::V2);
        assert_eq!(
            hs,
            vec![Hierarchy {
                controllers: vec![],
                mount_point: "/sys/fs/cgroup".into(),
                dir: "/sys/fs/cgroup/machine/c1".into(),
            }]
        );
        let (_, hs) = resolve(V2_MOUNTINFO, V2_PROC_CGROUP, Some("a/b"), "c1");
        assert_eq!(
            hs[0].dir,
            Path::new("/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/a/b")
        );
    }

    #[test]
    fn relative_path_strips_the_mounted_root() {
        let (_, hs) = resolve(
            CONTAINER_V1_MOUNTINFO,
            CONTAINER_V1_PROC_CGROUP,
            Some("x"),
            "c1",
        );
        assert_eq!(
            dir_of(&hs, "cpu"),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/x")
        );
        assert_eq!(
            dir_of(&hs, "memory"),
            Path::new("/sys/fs/cgroup/mem ory/inner/x")
        );
        assert_eq!(
            dir_of(&hs, "name=systemd"),
            Path::new("/sys/fs/cgroup/systemd/x")
        );
    }

    #[test]
    fn dot_dot_cannot_climb_out() {
        let (_, hs) = resolve(
            HYBRID_MOUNTINFO,
            HYBRID_PROC_CGROUP,
            Some("/../../a/./../b"),
            "c1",
        );
        assert_eq!(dir_of(&hs, "pids"), Path::new("/sys/fs/cgroup/pids/b"));
        let (_, hs) = resolve(HYBRID_MOUNTINFO, HYBRID_PROC_CGROUP, Some("../../x"), "c1");
        assert_eq!(
            dir_of(&hs, "memory"),
            Path::new("/sys/fs/cgroup/memory/process_api/5b97e0194a8d574e530db271211ae5c4/x")
        );
    }

    #[test]
    fn refuses_paths_that_name_an_existing_base() {
        let (_, mounts) = select(parse_mountinfo(HYBRID_MOUNTINFO).unwrap()).unwrap();
        let own = parse_proc_cgroup(HYBRID_PROC_CGROUP).unwrap();
        for p in ["/", ".", "a/.."] {
            let e = dirs(&mounts, &own, Some(p), "c1").unwrap_err();
            assert!(e.to_string().starts_with("linux.cgroupsPath: "), "{e}");
        }
        let e = dirs(&mounts, &own, None, "a/b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "container id: \"a/b\" cannot name a cgroup directory"
        );
    }

    #[test]
    fn own_cgroup_outside_the_mounted_subtree_is_an_error() {
        let (_, mounts) = select(parse_mountinfo(CONTAINER_V1_MOUNTINFO).unwrap()).unwrap();
        let own =
            parse_proc_cgroup("12:name=systemd:/\n4:memory:/docker/abc\n2:cpu,cpuacct:/other\n")
                .unwrap();
        let e = dirs(&mounts, &own, Some("x"), "c1").unwrap_err();
        assert!(
            e.to_string()
                .contains("our cpu,cpuacct cgroup /other is outside"),
            "{e}"
        );
        // Absolute paths do not depend on /proc/self/cgroup at all.
        assert!(dirs(&mounts, &[], Some("/x"), "c1").is_ok());
    }

    #[test]
    fn named_v1_hierarchy_alone_does_not_make_a_v1_host() {
        let text = format!(
            "{V2_MOUNTINFO}50 25 0:40 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
        );
        let (v, mounts) = select(parse_mountinfo(&text).unwrap()).unwrap();
        assert_eq!(v, Version::V2);
        assert_eq!(mounts.len(), 1);
    }

    #[test]
    fn no_cgroup_mount_is_an_error() {
        let text = "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n";
        let e = select(parse_mountinfo(text).unwrap()).unwrap_err();
        assert!(
            e.to_string().starts_with("no cgroup filesystem is mounted"),
            "{e}"
        );
    }
}
