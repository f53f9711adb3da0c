//! uid/gid maps written by an unprivileged husk (rootless containers).
//! The kernel lets a user map only its own ids, one id each, and its gid
//! only once setgroups(2) is denied in the namespace; anything more goes
//! through the setuid helpers newuidmap/newgidmap (Debian's uidmap), which
//! allow the ranges /etc/subuid and /etc/subgid grant the user.

use crate::error::{Error, Result};
use husk_spec::IdMapping;
use std::process::Command;

/// The one mapping the kernel lets a user write itself: `own` as a single id.
fn is_own_id_only(m: &[IdMapping], own: u32) -> bool {
    matches!(m, [one] if one.size == 1 && one.host_id == own)
}

/// Writes `pid`'s maps as the calling (unprivileged) user.
pub fn write_as_user(pid: i32, uid: &[IdMapping], gid: &[IdMapping]) -> Result<()> {
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    if !uid.is_empty() {
        if is_own_id_only(uid, euid) {
            write_map(pid, "uid_map", uid, "linux.uidMappings")?;
        } else {
            helper("newuidmap", pid, uid, "linux.uidMappings")?;
        }
    }
    if !gid.is_empty() {
        if is_own_id_only(gid, egid) {
            // Without this the kernel refuses the gid map: a user must not
            // drop supplementary groups it holds by mapping them away.
            crate::procfs::write_pid(pid, "setgroups", b"deny", "linux.gidMappings")?;
            write_map(pid, "gid_map", gid, "linux.gidMappings")?;
        } else {
            helper("newgidmap", pid, gid, "linux.gidMappings")?;
        }
    }
    Ok(())
}

fn write_map(pid: i32, file: &str, m: &[IdMapping], field: &str) -> Result<()> {
    let text: String = m
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect();
    Ok(crate::procfs::write_pid(pid, file, text.as_bytes(), field)?)
}

fn helper(prog: &str, pid: i32, m: &[IdMapping], field: &str) -> Result<()> {
    let mut cmd = Command::new(prog);
    cmd.arg(pid.to_string());
    for r in m {
        cmd.args([
            r.container_id.to_string(),
            r.host_id.to_string(),
            r.size.to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| {
        Error::field(field, format!(
            "run {prog}: {e} (an unprivileged user needs it for more than its own id: apt-get install uidmap)"
        ))
        .errno(&e)
    })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::field(
            field,
            format!(
                "{prog} refused the mapping ({}): {} (see /etc/sub{}id)",
                out.status,
                why.trim(),
                if prog == "newuidmap" { "u" } else { "g" }
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: u32, h: u32, s: u32) -> IdMapping {
        IdMapping {
            container_id: c,
            host_id: h,
            size: s,
        }
    }

    #[test]
    fn only_a_single_own_id_is_written_directly() {
        assert!(is_own_id_only(&[m(0, 1000, 1)], 1000));
        assert!(!is_own_id_only(&[m(0, 1000, 2)], 1000));
        assert!(!is_own_id_only(&[m(0, 1001, 1)], 1000));
        assert!(!is_own_id_only(&[m(0, 1000, 1), m(1, 100000, 65536)], 1000));
    }
}
