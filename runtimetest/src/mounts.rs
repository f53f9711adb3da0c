//! What a config mount's `options` and `type` say the per-mount flags and
//! the file system type in mountinfo must be.
//!
//! Only options the config states are asserted: a bind mount inherits the
//! flags of its source and the kernel may lock some flags (for example in
//! a user namespace), so an option left out says nothing.

/// Access-time mode of a mount, as shown in mountinfo's field 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Atime {
    /// `relatime` shown.
    Relatime,
    /// `noatime` shown.
    Noatime,
    /// Neither `relatime` nor `noatime` shown.
    Strict,
}

/// Expected per-mount flags; `None` means "not stated, not checked".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlagExpect {
    pub ro: Option<bool>,
    pub nosuid: Option<bool>,
    pub nodev: Option<bool>,
    pub noexec: Option<bool>,
    pub nodiratime: Option<bool>,
    /// `idmap`/`ridmap`: the mount must show as idmapped.
    pub idmapped: Option<bool>,
    pub atime: Option<Atime>,
    /// `norelatime` was given (and no later atime mode): relatime must be off.
    pub no_relatime: bool,
    /// `atime` was given (and no later atime mode): noatime must be off.
    pub no_noatime: bool,
}

/// Read the flag options from a mount's option list; later options win, and
/// recursive variants (`rro`, `rnosuid`, ...) count like the plain ones.
pub fn expected_flags<S: AsRef<str>>(options: &[S]) -> FlagExpect {
    let mut e = FlagExpect::default();
    for opt in options {
        let opt = opt.as_ref();
        // "rro" -> "ro"; "rw" and "relatime" stay as they are ("w" and
        // "elatime" are no flag options).
        let plain = match opt.strip_prefix('r') {
            Some(rest) if is_flag_option(rest) => rest,
            _ => opt,
        };
        match plain {
            "idmap" | "ridmap" => e.idmapped = Some(true),
            "ro" => e.ro = Some(true),
            "rw" => e.ro = Some(false),
            "nosuid" => e.nosuid = Some(true),
            "suid" => e.nosuid = Some(false),
            "nodev" => e.nodev = Some(true),
            "dev" => e.nodev = Some(false),
            "noexec" => e.noexec = Some(true),
            "exec" => e.noexec = Some(false),
            "nodiratime" => e.nodiratime = Some(true),
            "diratime" => e.nodiratime = Some(false),
            "relatime" => {
                e.atime = Some(Atime::Relatime);
                e.no_relatime = false;
            }
            "noatime" => {
                e.atime = Some(Atime::Noatime);
                e.no_noatime = false;
            }
            "strictatime" => {
                e.atime = Some(Atime::Strict);
            }
            "norelatime" => {
                if e.atime == Some(Atime::Relatime) {
                    e.atime = None;
                }
                e.no_relatime = true;
            }
            "atime" => {
                if e.atime == Some(Atime::Noatime) {
                    e.atime = None;
                }
                e.no_noatime = true;
            }
            _ => {}
        }
    }
    e
}

fn is_flag_option(s: &str) -> bool {
    matches!(
        s,
        "ro" | "rw"
            | "nosuid"
            | "suid"
            | "nodev"
            | "dev"
            | "noexec"
            | "exec"
            | "nodiratime"
            | "diratime"
            | "relatime"
            | "norelatime"
            | "noatime"
            | "atime"
            | "strictatime"
            | "nostrictatime"
    )
}

/// Each way `actual` (mountinfo field 6) differs from `want`, as text.
pub fn flag_mismatches<S: AsRef<str>>(want: &FlagExpect, actual: &[S]) -> Vec<String> {
    let has = |o: &str| actual.iter().any(|a| a.as_ref() == o);
    let mut out = Vec::new();
    let mut want_flag = |expect: Option<bool>, on: &str, off: &str| {
        if let Some(want_on) = expect {
            if want_on != has(on) {
                out.push(if want_on {
                    on.to_string()
                } else {
                    off.to_string()
                });
            }
        }
    };
    want_flag(want.ro, "ro", "rw");
    want_flag(want.nosuid, "nosuid", "suid");
    want_flag(want.nodev, "nodev", "dev");
    want_flag(want.noexec, "noexec", "exec");
    want_flag(want.nodiratime, "nodiratime", "diratime");
    want_flag(want.idmapped, "idmapped", "not idmapped");
    match want.atime {
        Some(Atime::Relatime) if !has("relatime") => out.push("relatime".to_string()),
        Some(Atime::Noatime) if !has("noatime") => out.push("noatime".to_string()),
        Some(Atime::Strict) if has("relatime") || has("noatime") => {
            out.push("strictatime".to_string())
        }
        _ => {}
    }
    if want.no_relatime && want.atime.is_none() && has("relatime") {
        out.push("norelatime".to_string());
    }
    if want.no_noatime && want.atime.is_none() && has("noatime") {
        out.push("atime".to_string());
    }
    out
}

/// Whether a config mount is a bind mount (its fstype is the source's).
pub fn is_bind<S: AsRef<str>>(typ: Option<&str>, options: &[S]) -> bool {
    typ == Some("bind")
        || options
            .iter()
            .any(|o| matches!(o.as_ref(), "bind" | "rbind"))
}

/// Whether mountinfo's fstype fits the config's `type`. A `cgroup` mount is
/// cgroup2 on a unified host and a tmpfs holding the v1 hierarchies on a
/// legacy one, so both count.
pub fn fstype_matches(config_type: &str, actual: &str) -> bool {
    match config_type {
        "cgroup" => matches!(actual, "cgroup" | "cgroup2" | "tmpfs"),
        t => t == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mism(opts: &[&str], actual: &str) -> Vec<String> {
        let actual: Vec<&str> = actual.split(',').collect();
        flag_mismatches(&expected_flags(opts), &actual)
    }

    #[test]
    fn parse_options() {
        let e = expected_flags(&["nosuid", "noexec", "nodev", "ro", "relatime", "mode=755"]);
        assert_eq!(e.ro, Some(true));
        assert_eq!(e.nosuid, Some(true));
        assert_eq!(e.nodev, Some(true));
        assert_eq!(e.noexec, Some(true));
        assert_eq!(e.atime, Some(Atime::Relatime));
        assert_eq!(e.nodiratime, None);
        // Later options win; recursive forms count.
        let e = expected_flags(&["ro", "rw", "rnosuid", "suid", "rnoexec"]);
        assert_eq!(e.ro, Some(false));
        assert_eq!(e.nosuid, Some(false));
        assert_eq!(e.noexec, Some(true));
        let e = expected_flags(&["rro", "rrelatime"]);
        assert_eq!(e.ro, Some(true));
        assert_eq!(e.atime, Some(Atime::Relatime));
        assert_eq!(expected_flags::<&str>(&[]), FlagExpect::default());
        assert_eq!(
            expected_flags(&["rbind", "rprivate", "size=1k"]),
            FlagExpect::default()
        );
    }

    #[test]
    fn compare_flags() {
        assert!(mism(
            &["nosuid", "noexec", "nodev"],
            "rw,nosuid,nodev,noexec,relatime"
        )
        .is_empty());
        assert_eq!(
            mism(&["nosuid", "noexec", "ro"], "rw,nosuid,relatime"),
            vec!["ro", "noexec"]
        );
        assert_eq!(mism(&["rw"], "ro,relatime"), vec!["rw"]);
        assert_eq!(
            mism(&["exec", "suid"], "rw,nosuid,noexec"),
            vec!["suid", "exec"]
        );
        assert!(mism(&["bind"], "ro,nosuid,nodev,noexec").is_empty());
        // Access-time modes.
        assert!(mism(&["relatime"], "rw,relatime").is_empty());
        assert_eq!(mism(&["relatime"], "rw,noatime"), vec!["relatime"]);
        assert!(mism(&["noatime"], "rw,noatime").is_empty());
        assert_eq!(mism(&["noatime"], "rw"), vec!["noatime"]);
        assert!(mism(&["strictatime"], "rw,nosuid").is_empty());
        assert_eq!(mism(&["strictatime"], "rw,relatime"), vec!["strictatime"]);
        assert!(mism(&["nodiratime"], "rw,nodiratime,relatime").is_empty());
        assert_eq!(mism(&["nodiratime"], "rw,relatime"), vec!["nodiratime"]);
        assert_eq!(mism(&["norelatime"], "rw,relatime"), vec!["norelatime"]);
        assert!(mism(&["norelatime"], "rw").is_empty());
        assert!(mism(&["relatime", "norelatime"], "rw").is_empty());
        assert_eq!(mism(&["atime"], "rw,noatime"), vec!["atime"]);
    }

    #[test]
    fn bind_and_types() {
        assert!(is_bind(Some("bind"), &[] as &[&str]));
        assert!(is_bind(Some("none"), &["rbind", "ro"]));
        assert!(is_bind(None, &["bind"]));
        assert!(!is_bind(Some("tmpfs"), &["nosuid"]));
        assert!(fstype_matches("proc", "proc"));
        assert!(!fstype_matches("proc", "sysfs"));
        assert!(fstype_matches("cgroup", "cgroup2"));
        assert!(fstype_matches("cgroup", "tmpfs"));
        assert!(fstype_matches("cgroup2", "cgroup2"));
        assert!(!fstype_matches("cgroup2", "tmpfs"));
        assert!(fstype_matches("tmpfs", "tmpfs"));
    }
}
