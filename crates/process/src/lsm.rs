//! `process.apparmorProfile` and `process.selinuxLabel`.
//!
//! Which LSMs the host runs is found out on the host side (`check`, before
//! any fork: inside the container /sys may not show it) and remembered for
//! the forked init or exec'd process, which writes the labels for its next
//! exec (`apply`). Without AppArmor the profile is ignored with a debug log;
//! without SELinux a label is an error (what runc does).

use crate::error::{Error, Result};
use husk_spec::Process;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy)]
struct Enabled {
    apparmor: bool,
    selinux: bool,
}

static ENABLED: OnceLock<Enabled> = OnceLock::new();

fn enabled() -> Enabled {
    *ENABLED.get_or_init(|| Enabled {
        apparmor: std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.starts_with('Y')),
        selinux: std::path::Path::new("/sys/fs/selinux/enforce").exists(),
    })
}

fn selinux_refused(label: &str) -> Error {
    Error::field(
        "process.selinuxLabel",
        format!("{label:?} is set, but SELinux is disabled or not supported on this host"),
    )
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Host side, before anything is made: refuses an SELinux label the host
/// cannot apply, notes an AppArmor profile that will be ignored.
pub fn check(p: &Process) -> Result<()> {
    // Nothing to read from the host unless a field asks (the common case,
    // on create's hot path).
    if let Some(profile) = set(&p.apparmor_profile) {
        if !enabled().apparmor {
            tracing::debug!(
                "process.apparmorProfile {profile:?} ignored: AppArmor is not enabled on this host"
            );
        }
    }
    if let Some(label) = set(&p.selinux_label) {
        if !enabled().selinux {
            return Err(selinux_refused(label));
        }
    }
    Ok(())
}

fn write_attr(paths: &[&str], value: &str, field: &str) -> Result<()> {
    let failed =
        |p: &str, e: std::io::Error| Error::field(field, format!("write {p}: {e}")).errno(e);
    let mut last = None;
    for p in paths {
        match std::fs::write(p, value.as_bytes()) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => last = Some((p, e)),
            Err(e) => return Err(failed(p, e)),
        }
    }
    match last {
        Some((p, e)) => Err(failed(p, e)),
        None => Ok(()),
    }
}

/// In the process about to exec: the labels for that exec.
pub fn apply(p: &Process) -> Result<()> {
    if let Some(profile) = set(&p.apparmor_profile).filter(|_| enabled().apparmor) {
        write_attr(
            &["/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"],
            &format!("exec {profile}"),
            "process.apparmorProfile",
        )?;
    }
    if let Some(label) = set(&p.selinux_label) {
        if !enabled().selinux {
            return Err(selinux_refused(label));
        }
        write_attr(&["/proc/self/attr/exec"], label, "process.selinuxLabel")?;
    }
    Ok(())
}
