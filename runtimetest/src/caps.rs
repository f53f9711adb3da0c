//! Capability names, masks, and what the kernel leaves of the configured sets
//! once the runtime has `execve`d the container process.

/// Capability names indexed by bit number (linux/capability.h), up to
/// CAP_CHECKPOINT_RESTORE = 40.
pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Bit number of a capability name. Case-insensitive; the `CAP_` prefix may
/// be left off.
pub fn cap_bit(name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    CAP_NAMES
        .iter()
        .position(|n| *n == full)
        .and_then(|i| u32::try_from(i).ok())
}

/// Mask of a list of names; the unknown names come back as the error.
pub fn mask_of<S: AsRef<str>>(names: &[S]) -> Result<u64, Vec<String>> {
    let mut mask = 0u64;
    let mut unknown = Vec::new();
    for n in names {
        match cap_bit(n.as_ref()) {
            Some(bit) => mask |= 1u64 << bit,
            None => unknown.push(n.as_ref().to_string()),
        }
    }
    if unknown.is_empty() {
        Ok(mask)
    } else {
        Err(unknown)
    }
}

/// Names of the bits set in `mask` (unnamed bits as `cap_<n>`).
pub fn names_of(mask: u64) -> Vec<String> {
    (0..64u32)
        .filter(|b| mask & (1u64 << b) != 0)
        .map(|b| match CAP_NAMES.get(b as usize) {
            Some(n) => (*n).to_string(),
            None => format!("cap_{b}"),
        })
        .collect()
}

/// Mask of the capabilities the running kernel knows (`cap_last_cap`).
pub fn supported_mask(last_cap: u32) -> u64 {
    if last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (last_cap + 1)) - 1
    }
}

/// The five capability sets as masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub permitted: u64,
    pub ambient: u64,
}

/// What the sets look like in the new program after the runtime set `cfg`
/// and then called `execve` on a plain file (no file capabilities, no
/// set-id bits), following the rules of capabilities(7) and
/// `cap_bprm_creds_from_file`:
///
/// * ambient holds only what is also permitted and inheritable (the kernel
///   refuses to raise anything else), and survives execve;
/// * bounding and inheritable are kept;
/// * if the real or effective uid is 0 the file sets count as full, so
///   P'(permitted) = bounding | inheritable, cut down to the old permitted
///   set when no_new_privs forbids gaining anything; then | ambient;
/// * P'(effective) = P'(permitted) when the effective uid is 0, else ambient.
///
/// So for a non-root user only the ambient set survives in permitted and
/// effective, and for root permitted/effective are wider than configured
/// whenever bounding is: a runtime cannot do otherwise, so that is what is
/// checked.
pub fn after_exec(cfg: CapSets, real_root: bool, effective_root: bool, nnp: bool) -> CapSets {
    // The kernel raises an ambient capability only if it is both permitted
    // and inheritable (PR_CAP_AMBIENT_RAISE); a runtime can set no more.
    let ambient = cfg.ambient & cfg.permitted & cfg.inheritable;
    let mut permitted = 0;
    if real_root || effective_root {
        permitted = cfg.bounding | cfg.inheritable;
    }
    if nnp {
        permitted &= cfg.permitted;
    }
    permitted |= ambient;
    let effective = if effective_root { permitted } else { ambient };
    CapSets {
        bounding: cfg.bounding,
        effective,
        inheritable: cfg.inheritable,
        permitted,
        ambient,
    }
}

/// Human description of how `got` differs from `want`, or None if equal.
pub fn describe_diff(want: u64, got: u64) -> Option<String> {
    if want == got {
        return None;
    }
    let missing = names_of(want & !got);
    let extra = names_of(got & !want);
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing {}", missing.join(",")));
    }
    if !extra.is_empty() {
        parts.push(format!("unexpected {}", extra.join(",")));
    }
    Some(format!(
        "want {want:016x}, got {got:016x} ({})",
        parts.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_to_bits() {
        assert_eq!(cap_bit("CAP_CHOWN"), Some(0));
        assert_eq!(cap_bit("CAP_NET_RAW"), Some(13));
        assert_eq!(cap_bit("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(cap_bit("CAP_SYS_RESOURCE"), Some(24));
        assert_eq!(cap_bit("CAP_AUDIT_WRITE"), Some(29));
        assert_eq!(cap_bit("CAP_SETFCAP"), Some(31));
        assert_eq!(cap_bit("CAP_AUDIT_READ"), Some(37));
        assert_eq!(cap_bit("CAP_PERFMON"), Some(38));
        assert_eq!(cap_bit("CAP_BPF"), Some(39));
        assert_eq!(cap_bit("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(cap_bit("cap_kill"), Some(5));
        assert_eq!(cap_bit("KILL"), Some(5));
        assert_eq!(cap_bit("CAP_NOPE"), None);
        for (i, n) in CAP_NAMES.iter().enumerate() {
            assert_eq!(cap_bit(n), Some(i as u32));
        }
    }

    #[test]
    fn masks() {
        // runc's default spec: AUDIT_WRITE, KILL, NET_BIND_SERVICE.
        assert_eq!(
            mask_of(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]),
            Ok(0x20000420)
        );
        assert_eq!(mask_of::<&str>(&[]), Ok(0));
        assert_eq!(
            mask_of(&["CAP_KILL", "CAP_BOGUS"]),
            Err(vec!["CAP_BOGUS".to_string()])
        );
        assert_eq!(
            names_of(0x20000420),
            ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
        );
        assert_eq!(names_of(1 << 50), ["cap_50"]);
        assert_eq!(supported_mask(40), 0x1ff_ffff_ffff);
        assert_eq!(supported_mask(63), u64::MAX);
    }

    #[test]
    fn exec_transform_root() {
        let cfg = CapSets {
            bounding: 0b1111,
            effective: 0b0001,
            inheritable: 0b1_0000,
            permitted: 0b0011,
            ambient: 0,
        };
        let got = after_exec(cfg, true, true, false);
        assert_eq!(got.permitted, 0b1_1111);
        assert_eq!(got.effective, 0b1_1111);
        assert_eq!(got.bounding, 0b1111);
        assert_eq!(got.inheritable, 0b1_0000);
        // no_new_privs keeps permitted within what was permitted before.
        let got = after_exec(cfg, true, true, true);
        assert_eq!(got.permitted, 0b0011);
        assert_eq!(got.effective, 0b0011);
        // The usual case: all of bnd/eff/prm equal, nothing inheritable.
        let same = CapSets {
            bounding: 0x20000420,
            effective: 0x20000420,
            permitted: 0x20000420,
            ..CapSets::default()
        };
        assert_eq!(after_exec(same, true, true, true), same);
        assert_eq!(after_exec(same, true, true, false), same);
    }

    #[test]
    fn exec_transform_non_root() {
        let cfg = CapSets {
            bounding: 0b1111,
            effective: 0b0111,
            inheritable: 0b0100,
            permitted: 0b0111,
            ambient: 0b0100,
        };
        let got = after_exec(cfg, false, false, true);
        assert_eq!(got.permitted, 0b0100);
        assert_eq!(got.effective, 0b0100);
        assert_eq!(got.ambient, 0b0100);
        assert_eq!(got.inheritable, 0b0100);
        // runc's default spec lists ambient caps but no inheritable ones:
        // none of them can be raised.
        let no_inh = after_exec(
            CapSets {
                inheritable: 0,
                ..cfg
            },
            true,
            true,
            true,
        );
        assert_eq!(no_inh.ambient, 0);
        assert_eq!(no_inh.permitted, 0b0111);
        let none = after_exec(CapSets { ambient: 0, ..cfg }, false, false, false);
        assert_eq!(none.permitted, 0);
        assert_eq!(none.effective, 0);
    }

    #[test]
    fn diff_text() {
        assert_eq!(describe_diff(5, 5), None);
        let d = describe_diff(1 << 13, 1 << 21).unwrap();
        assert!(d.contains("missing CAP_NET_RAW"), "{d}");
        assert!(d.contains("unexpected CAP_SYS_ADMIN"), "{d}");
    }
}
