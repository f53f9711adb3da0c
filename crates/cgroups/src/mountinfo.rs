//! Parsing of `/proc/self/mountinfo` (which cgroup hierarchies are mounted
//! where) and `/proc/self/cgroup` (where this process sits in each of them).

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MountKind {
    /// A cgroup v1 hierarchy with its controllers as they appear in
    /// `/proc/self/cgroup` (e.g. `cpu`, `cpuacct`, `name=systemd`).
    V1(Vec<String>),
    V2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    pub kind: MountKind,
    /// The directory of the hierarchy that is mounted: "/" on a host, but a
    /// container runtime may bind-mount only the container's own subtree.
    pub root: String,
    pub mount_point: PathBuf,
}

/// Super options of a v1 cgroup mount that are not controllers.
const V1_OPTIONS: &[&str] = &[
    "rw",
    "ro",
    "noprefix",
    "xattr",
    "clone_children",
    "cpuset_v2_mode",
    "favordynmods",
    "all",
    "none",
];

/// Returns the cgroup mounts in mountinfo order, keeping only the first mount
/// of each hierarchy (bind mounts of the same hierarchy would otherwise make
/// us create and join the same cgroup twice). Errors are `(line, reason)`.
pub(crate) fn parse_mountinfo(text: &str) -> Result<Vec<CgroupMount>, (usize, String)> {
    let mut mounts: Vec<CgroupMount> = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        // Fields 1-6 are fixed, then optional fields end with "-", then
        // fstype, source and super options.
        let sep = fields
            .iter()
            .skip(6)
            .position(|f| *f == "-")
            .map(|p| p + 6)
            .ok_or_else(|| (idx + 1, "no \" - \" separator".to_string()))?;
        if fields.len() < sep + 4 {
            return Err((idx + 1, "too few fields after \" - \"".to_string()));
        }
        // A later mount covers earlier ones at or below its mount point
        // (e.g. an empty tmpfs over /sys/fs/cgroup/unified): only what is
        // visible counts.
        let point = PathBuf::from(unescape(fields[4]));
        mounts.retain(|m| !m.mount_point.starts_with(&point));
        let kind = match fields[sep + 1] {
            "cgroup" => MountKind::V1(v1_controllers(fields[sep + 3])),
            "cgroup2" => MountKind::V2,
            _ => continue,
        };
        if mounts.iter().any(|m| same_hierarchy(&m.kind, &kind)) {
            continue;
        }
        mounts.push(CgroupMount {
            kind,
            root: unescape(fields[3]),
            mount_point: point,
        });
    }
    Ok(mounts)
}

fn v1_controllers(super_options: &str) -> Vec<String> {
    super_options
        .split(',')
        .filter(|o| {
            o.starts_with("name=") || !(o.is_empty() || o.contains('=') || V1_OPTIONS.contains(o))
        })
        .map(str::to_string)
        .collect()
}

pub(crate) fn same_controllers(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|c| b.contains(c))
}

fn same_hierarchy(a: &MountKind, b: &MountKind) -> bool {
    match (a, b) {
        (MountKind::V2, MountKind::V2) => true,
        (MountKind::V1(x), MountKind::V1(y)) => same_controllers(x, y),
        _ => false,
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let value = oct
                    .iter()
                    .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(b) = u8::try_from(value) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/self/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcCgroup {
    /// Empty for the cgroup v2 line (`0::/path`).
    pub controllers: Vec<String>,
    pub path: String,
}

pub(crate) fn parse_proc_cgroup(text: &str) -> Result<Vec<ProcCgroup>, (usize, String)> {
    let mut out = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // The path may itself contain ':', so split at most twice.
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err((idx + 1, "expected \"ID:CONTROLLERS:PATH\"".to_string()));
        };
        if id.parse::<u32>().is_err() {
            return Err((idx + 1, format!("hierarchy id {id:?} is not a number")));
        }
        out.push(ProcCgroup {
            controllers: ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            path: path.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod samples {
    /// This development host: v1 controllers mounted one per hierarchy
    /// (cpu and cpuacct separately), a named systemd hierarchy, and an empty
    /// cgroup2 mount at /sys/fs/cgroup/unified.
    pub const HYBRID_MOUNTINFO: &str = "\
22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:5 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    pub const HYBRID_PROC_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/5b97e0194a8d574e530db271211ae5c4
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

    /// A typical systemd host with only cgroup2 (Fedora, Debian 11+...).
    pub const V2_MOUNTINFO: &str = "\
24 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
25 24 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
31 25 0:27 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700
";
    pub const V2_PROC_CGROUP: &str = "0::/user.slice/user-1000.slice/session-3.scope\n";

    /// Older v1 host seen from inside a container: cpu and cpuacct share a
    /// hierarchy, only the container's subtree is mounted, a mount point is
    /// escaped, and one hierarchy is bind-mounted twice.
    pub const CONTAINER_V1_MOUNTINFO: &str = "\
600 500 0:60 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
610 600 0:62 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755
611 610 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime master:12 - cgroup cgroup rw,cpu,cpuacct
612 610 0:32 /docker/abc /sys/fs/cgroup/mem\\040ory rw,nosuid,nodev,noexec,relatime master:15 - cgroup cgroup rw,memory
613 610 0:37 /docker/abc /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime master:9 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
614 600 0:29 /docker/abc /mnt/cpu-again rw,relatime - cgroup cgroup rw,cpuacct,cpu
";
    pub const CONTAINER_V1_PROC_CGROUP: &str = "\
12:name=systemd:/docker/abc
4:memory:/docker/abc/inner
2:cpu,cpuacct:/docker/abc
";
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;

    fn v1(ctrls: &[&str]) -> MountKind {
        MountKind::V1(ctrls.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn hybrid_host_lists_every_hierarchy_and_the_unified_mount() {
        let m = parse_mountinfo(HYBRID_MOUNTINFO).unwrap();
        let kinds: Vec<_> = m.iter().map(|m| m.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                v1(&["cpu"]),
                v1(&["cpuacct"]),
                v1(&["cpuset"]),
                v1(&["memory"]),
                v1(&["devices"]),
                v1(&["freezer"]),
                v1(&["blkio"]),
                v1(&["pids"]),
                v1(&["name=systemd"]),
                MountKind::V2,
            ]
        );
        assert_eq!(m[3].mount_point, PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(m[9].mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
        assert!(m.iter().all(|m| m.root == "/"));
    }

    #[test]
    fn covered_mounts_do_not_count() {
        // An empty tmpfs over the hybrid cgroup2 mount (how crun is made to
        // run on this host): the cgroup2 hierarchy is no longer usable.
        let text =
            format!("{HYBRID_MOUNTINFO}90 41 0:77 / /sys/fs/cgroup/unified rw - tmpfs tmpfs rw\n");
        let m = parse_mountinfo(&text).unwrap();
        assert_eq!(m.len(), 9);
        assert!(m.iter().all(|m| m.kind != MountKind::V2));
        // A tmpfs over the whole tree hides every hierarchy below it.
        let text = format!("{HYBRID_MOUNTINFO}91 23 0:78 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n");
        assert!(parse_mountinfo(&text).unwrap().is_empty());
    }

    #[test]
    fn pure_v2_host_has_one_cgroup2_mount() {
        let m = parse_mountinfo(V2_MOUNTINFO).unwrap();
        assert_eq!(
            m,
            vec![CgroupMount {
                kind: MountKind::V2,
                root: "/".into(),
                mount_point: "/sys/fs/cgroup".into(),
            }]
        );
    }

    #[test]
    fn container_v1_options_roots_escapes_and_duplicates() {
        let m = parse_mountinfo(CONTAINER_V1_MOUNTINFO).unwrap();
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(m[0].kind, v1(&["cpu", "cpuacct"]));
        assert_eq!(m[0].root, "/docker/abc");
        assert_eq!(
            m[0].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(m[1].mount_point, PathBuf::from("/sys/fs/cgroup/mem ory"));
        // xattr and release_agent=... are options, not controllers.
        assert_eq!(m[2].kind, v1(&["name=systemd"]));
    }

    #[test]
    fn malformed_mountinfo_line_is_reported_with_its_number() {
        let text = "22 1 253:1 / / rw - ext4 /dev/vda rw\n23 22 0:5 / /sys rw sysfs sysfs rw\n";
        assert_eq!(parse_mountinfo(text).unwrap_err().0, 2);
    }

    #[test]
    fn proc_cgroup_lines() {
        let p = parse_proc_cgroup(HYBRID_PROC_CGROUP).unwrap();
        assert_eq!(p.len(), 10);
        assert_eq!(p[0].controllers, vec!["name=systemd".to_string()]);
        assert_eq!(p[5].controllers, vec!["memory".to_string()]);
        assert_eq!(p[5].path, "/process_api/5b97e0194a8d574e530db271211ae5c4");
        assert!(p[9].controllers.is_empty());
        assert_eq!(p[9].path, "/");

        let p = parse_proc_cgroup("2:cpu,cpuacct:/a:b\n").unwrap();
        assert_eq!(
            p[0].controllers,
            vec!["cpu".to_string(), "cpuacct".to_string()]
        );
        assert_eq!(p[0].path, "/a:b");

        assert_eq!(parse_proc_cgroup("0::/\nbogus\n").unwrap_err().0, 2);
    }
}
