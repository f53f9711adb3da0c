//! Mount options of config.json, split into mount(2) flags, propagation,
//! and the filesystem's own data string.

use crate::mount_attr::attr;
use nix::mount::MsFlags;

#[derive(Debug, Clone, PartialEq)]
pub struct MountOptions {
    /// Flags to set.
    pub flags: MsFlags,
    /// Flags the options explicitly clear (rw, suid, dev, exec, ...): they
    /// matter when a bind mount is remounted.
    pub cleared: MsFlags,
    pub propagation: Vec<MsFlags>,
    /// Options the filesystem interprets (size=, mode=, ...), comma-joined.
    pub data: String,
    /// runc's extension: fill a new tmpfs with what the directory it covers
    /// held (podman --read-only mounts /tmp, /run, /var/tmp this way).
    pub tmpcopyup: bool,
    /// The recursive attributes ("rro", "rnosuid", ...: MOUNT_ATTR_* bits)
    /// to set and to clear on the mount and every mount below it.
    pub rec_set: u64,
    pub rec_clr: u64,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            data: String::new(),
            tmpcopyup: false,
            rec_set: 0,
            rec_clr: 0,
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// Every option husk understands (the `features` document lists these).
pub const SUPPORTED_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "unbindable",
];

/// A recursive option (runc's set): the attribute it names and whether it
/// clears it ("rrw") or sets it ("rro").
fn recursive_attr(opt: &str) -> Option<(u64, bool)> {
    Some(match opt {
        "rro" => (attr::RDONLY, false),
        "rrw" => (attr::RDONLY, true),
        "rnosuid" => (attr::NOSUID, false),
        "rsuid" => (attr::NOSUID, true),
        "rnodev" => (attr::NODEV, false),
        "rdev" => (attr::NODEV, true),
        "rnoexec" => (attr::NOEXEC, false),
        "rexec" => (attr::NOEXEC, true),
        "rnodiratime" => (attr::NODIRATIME, false),
        "rdiratime" => (attr::NODIRATIME, true),
        "rrelatime" => (attr::RELATIME, false),
        "rnorelatime" => (attr::RELATIME, true),
        "rnoatime" => (attr::NOATIME, false),
        "ratime" => (attr::NOATIME, true),
        "rstrictatime" => (attr::STRICTATIME, false),
        "rnostrictatime" => (attr::STRICTATIME, true),
        "rnosymfollow" => (attr::NOSYMFOLLOW, false),
        "rsymfollow" => (attr::NOSYMFOLLOW, true),
        _ => return None,
    })
}

pub fn parse_options(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    let mut data = Vec::new();
    for opt in options {
        if let Some((bit, clear)) = recursive_attr(opt) {
            // As with the other options, a later one wins over an earlier one.
            if clear {
                o.rec_clr |= bit;
                o.rec_set &= !bit;
            } else if matches!(bit, attr::RELATIME | attr::NOATIME | attr::STRICTATIME) {
                // One access-time mode replaces the current one, which the
                // whole field in attr_clr says (mount_setattr(2)).
                o.rec_set = (o.rec_set & !attr::ATIME_MASK) | bit;
                o.rec_clr |= attr::ATIME_MASK;
            } else {
                o.rec_set |= bit;
                o.rec_clr &= !bit;
            }
            continue;
        }
        let (set, clear) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
            "iversion" => (MsFlags::MS_I_VERSION, MsFlags::empty()),
            "noiversion" => (MsFlags::empty(), MsFlags::MS_I_VERSION),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "nosymfollow" => (
                MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
                MsFlags::empty(),
            ),
            "symfollow" => (
                MsFlags::empty(),
                MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
            ),
            "tmpcopyup" => {
                o.tmpcopyup = true;
                continue;
            }
            // Prepared on the host side (idmap.rs); not a mount flag.
            "idmap" | "ridmap" => continue,
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                o.propagation.push(propagation(opt).expect("listed above"));
                continue;
            }
            _ => {
                data.push(opt.clone());
                continue;
            }
        };
        o.flags.insert(set);
        o.flags.remove(clear);
        o.cleared.insert(clear);
        o.cleared.remove(set);
    }
    o.data = data.join(",");
    o
}

/// The flags for one propagation mode name (as in rootfsPropagation).
pub fn propagation(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> MountOptions {
        parse_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_and_propagation_are_split() {
        let o = p(&[
            "nosuid",
            "noexec",
            "nodev",
            "mode=755",
            "size=65536k",
            "rslave",
        ]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV
        );
        assert_eq!(o.data, "mode=755,size=65536k");
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
    }

    #[test]
    fn recursive_attributes() {
        let o = p(&["rbind", "rro", "rnosuid", "rnoexec", "rnoatime"]);
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert_eq!(
            o.rec_set,
            attr::RDONLY | attr::NOSUID | attr::NOEXEC | attr::NOATIME
        );
        assert_eq!(o.rec_clr, attr::ATIME_MASK);
        assert!(o.data.is_empty(), "not filesystem data: {:?}", o.data);
        let o = p(&["rro", "rrw", "rnoatime", "rstrictatime", "rdev"]);
        assert_eq!(o.rec_set, attr::STRICTATIME);
        assert_eq!(o.rec_clr, attr::RDONLY | attr::ATIME_MASK | attr::NODEV);
        let o = p(&["rrelatime"]);
        assert_eq!((o.rec_set, o.rec_clr), (0, attr::ATIME_MASK));
        assert!(SUPPORTED_OPTIONS.contains(&"rro") && SUPPORTED_OPTIONS.contains(&"rsymfollow"));
    }

    #[test]
    fn later_options_win() {
        let o = p(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
        let o = p(&["rbind", "ro"]);
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
    }

    #[test]
    fn every_listed_option_is_understood() {
        for opt in SUPPORTED_OPTIONS {
            let o = p(&[opt]);
            assert!(o.data.is_empty(), "{opt} fell through to data");
        }
    }
}
