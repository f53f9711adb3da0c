//! Pure parsers for the procfs files runtimetest reads: `/proc/self/status`,
//! `/proc/self/mountinfo`, `/proc/self/{uid,gid}_map`, `/proc/self/cgroup`
//! and `/proc/self/timens_offsets`. Nothing here touches the file system, so
//! all of it is unit tested.

/// The value of `key` in a `/proc/<pid>/status` text (`Key:\tvalue`), trimmed.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k == key).then(|| v.trim())
    })
}

/// A hexadecimal capability mask as printed in `CapEff:` and friends.
pub fn parse_hex_mask(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// An octal number as printed in `Umask:` (`0022`).
pub fn parse_octal(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    u32::from_str_radix(s, 8).ok()
}

/// One line of `/proc/<pid>/mountinfo` (see proc(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub mount_id: u32,
    pub parent_id: u32,
    /// `major:minor` of the file system's device.
    pub dev: String,
    /// Root of the mount within its file system (unescaped).
    pub root: String,
    /// Mount point relative to the process's root (unescaped).
    pub mount_point: String,
    /// Per-mount options (field 6): `rw`/`ro`, `nosuid`, `relatime`, ...
    pub mount_options: Vec<String>,
    pub fs_type: String,
    /// Mount source (unescaped); `none` and such are kept as printed.
    pub source: String,
    /// Per-superblock options (the last field).
    pub super_options: Vec<String>,
}

impl MountInfo {
    pub fn has_option(&self, opt: &str) -> bool {
        self.mount_options.iter().any(|o| o == opt)
    }
}

/// Undo the octal escapes (`\040` for a space, `\011`, `\012`, `\134`) that
/// the kernel uses in mountinfo path fields.
pub fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let digits = &b[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse one mountinfo line:
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
pub fn parse_mountinfo_line(line: &str) -> Option<MountInfo> {
    let mut fields = line.split_ascii_whitespace();
    let mount_id = fields.next()?.parse().ok()?;
    let parent_id = fields.next()?.parse().ok()?;
    let dev = fields.next()?.to_string();
    let root = unescape_octal(fields.next()?);
    let mount_point = unescape_octal(fields.next()?);
    let mount_options = split_options(fields.next()?);
    // Optional fields (shared:N, master:N, ...) up to the "-" separator.
    loop {
        if fields.next()? == "-" {
            break;
        }
    }
    let fs_type = fields.next()?.to_string();
    let source = unescape_octal(fields.next()?);
    let super_options = fields.next().map(split_options).unwrap_or_default();
    Some(MountInfo {
        mount_id,
        parent_id,
        dev,
        root,
        mount_point,
        mount_options,
        fs_type,
        source,
        super_options,
    })
}

fn split_options(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parse a whole mountinfo text; lines that do not parse are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

/// The topmost (last listed) mount whose mount point is `path`.
pub fn mount_at<'a>(mounts: &'a [MountInfo], path: &str) -> Option<&'a MountInfo> {
    mounts.iter().rev().find(|m| m.mount_point == path)
}

/// One line of `/proc/<pid>/uid_map` or `gid_map`: (inside, outside, count).
pub fn parse_id_map(text: &str) -> Vec<(u64, u64, u64)> {
    let mut out: Vec<(u64, u64, u64)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_ascii_whitespace().map(|x| x.parse::<u64>().ok());
            Some((f.next()??, f.next()??, f.next()??))
        })
        .collect();
    out.sort_unstable();
    out
}

/// The cgroup paths in `/proc/<pid>/cgroup` (`hierarchy-ID:controllers:path`).
pub fn cgroup_paths(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let id = f.next()?;
            let controllers = f.next()?;
            let path = f.next()?;
            let name = if controllers.is_empty() {
                format!("{id}::")
            } else {
                controllers.to_string()
            };
            Some((name, path.to_string()))
        })
        .collect()
}

/// `/proc/<pid>/timens_offsets`: clock name → (secs, nanosecs).
pub fn parse_timens_offsets(text: &str) -> Vec<(String, i64, i64)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_ascii_whitespace();
            let name = f.next()?.to_string();
            let secs = f.next()?.parse().ok()?;
            let nsecs = f.next()?.parse().ok()?;
            Some((name, secs, nsecs))
        })
        .collect()
}

/// Normalise an absolute path lexically: collapse `//`, drop `.`, resolve
/// `..` (never above `/`) and any trailing slash. Relative paths are taken
/// as relative to `/`, like old runtime-spec mount destinations.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\truntimetest\nUmask:\t0027\nState:\tR (running)\n\
        Uid:\t1000\t1000\t1000\t1000\nCapInh:\t0000000000000000\n\
        CapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n\
        CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n";

    #[test]
    fn status_fields() {
        assert_eq!(status_field(STATUS, "Name"), Some("runtimetest"));
        assert_eq!(status_field(STATUS, "Uid"), Some("1000\t1000\t1000\t1000"));
        assert_eq!(status_field(STATUS, "NoNewPrivs"), Some("1"));
        assert_eq!(status_field(STATUS, "Cap"), None);
        assert_eq!(status_field(STATUS, "Missing"), None);
        assert_eq!(
            status_field(STATUS, "Umask").and_then(parse_octal),
            Some(0o027)
        );
        assert_eq!(
            status_field(STATUS, "CapEff").and_then(parse_hex_mask),
            Some(0xa80425fb)
        );
        assert_eq!(
            status_field(STATUS, "CapBnd").and_then(parse_hex_mask),
            Some((1u64 << 41) - 1)
        );
        assert_eq!(parse_hex_mask(""), None);
        assert_eq!(parse_hex_mask("xyz"), None);
        assert_eq!(parse_octal("0999"), None);
    }

    #[test]
    fn mountinfo_line_with_optional_fields() {
        let m = parse_mountinfo_line(
            "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue",
        )
        .unwrap();
        assert_eq!(m.mount_id, 36);
        assert_eq!(m.parent_id, 35);
        assert_eq!(m.dev, "98:0");
        assert_eq!(m.root, "/mnt1");
        assert_eq!(m.mount_point, "/mnt2");
        assert_eq!(m.mount_options, vec!["rw", "noatime"]);
        assert_eq!(m.fs_type, "ext3");
        assert_eq!(m.source, "/dev/root");
        assert_eq!(m.super_options, vec!["rw", "errors=continue"]);
        assert!(m.has_option("noatime"));
        assert!(!m.has_option("ro"));
    }

    #[test]
    fn mountinfo_line_without_optional_fields_and_escapes() {
        let m = parse_mountinfo_line(
            "812 790 0:67 / /my\\040dir\\134x ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs ro,size=65536k,mode=755",
        )
        .unwrap();
        assert_eq!(m.mount_point, "/my dir\\x");
        assert_eq!(
            m.mount_options,
            vec!["ro", "nosuid", "nodev", "noexec", "relatime"]
        );
        assert_eq!(m.fs_type, "tmpfs");
    }

    #[test]
    fn mountinfo_bad_lines() {
        assert!(parse_mountinfo_line("").is_none());
        assert!(parse_mountinfo_line("x 1 0:1 / / rw - proc proc rw").is_none());
        // No separator.
        assert!(parse_mountinfo_line("1 2 0:1 / / rw shared:1").is_none());
        let text = "garbage\n22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                    30 22 0:5 /null /proc/kcore rw,nosuid - devtmpfs udev rw\n\
                    31 27 0:30 / /proc ro - proc proc rw\n";
        let all = parse_mountinfo(text);
        assert_eq!(all.len(), 3);
        assert_eq!(mount_at(&all, "/proc").unwrap().mount_id, 31);
        assert_eq!(mount_at(&all, "/proc/kcore").unwrap().root, "/null");
        assert!(mount_at(&all, "/sys").is_none());
    }

    #[test]
    fn unescape() {
        assert_eq!(unescape_octal("plain"), "plain");
        assert_eq!(unescape_octal("a\\040b\\011c\\012"), "a b\tc\n");
        assert_eq!(unescape_octal("trail\\"), "trail\\");
        assert_eq!(unescape_octal("short\\04"), "short\\04");
        assert_eq!(unescape_octal("\\777"), "\\777");
    }

    #[test]
    fn id_maps() {
        let m = parse_id_map("      1000          0          1\n         0     100000      1000\n");
        assert_eq!(m, vec![(0, 100000, 1000), (1000, 0, 1)]);
        assert!(parse_id_map("").is_empty());
    }

    #[test]
    fn cgroups() {
        let c = cgroup_paths("4:memory:/a/b\n0::/\n1:name=systemd:/x:y\n");
        assert_eq!(
            c,
            vec![
                ("memory".to_string(), "/a/b".to_string()),
                ("0::".to_string(), "/".to_string()),
                ("name=systemd".to_string(), "/x:y".to_string()),
            ]
        );
    }

    #[test]
    fn timens() {
        let t = parse_timens_offsets(
            "monotonic           5         7\nboottime         -3         0\n",
        );
        assert_eq!(
            t,
            vec![
                ("monotonic".to_string(), 5, 7),
                ("boottime".to_string(), -3, 0)
            ]
        );
    }

    #[test]
    fn clean() {
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path(""), "/");
        assert_eq!(clean_path("/a//b/./c/"), "/a/b/c");
        assert_eq!(clean_path("/a/../../b"), "/b");
        assert_eq!(clean_path("dev/shm"), "/dev/shm");
    }
}
