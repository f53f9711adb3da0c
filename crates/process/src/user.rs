//! Switching to process.user: groups, gid, uid, umask.

use husk_spec::User;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

/// `setgroups_allowed` is false inside a user namespace whose setgroups file
/// says "deny"; then the supplementary groups cannot be changed at all.
pub fn switch(user: &User, setgroups_allowed: bool) -> Result<(), String> {
    if setgroups_allowed {
        let groups: Vec<Gid> = user
            .additional_gids
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect();
        setgroups(&groups).map_err(|e| format!("process.user.additionalGids: setgroups: {e}"))?;
    } else if !user.additional_gids.is_empty() {
        return Err(
            "process.user.additionalGids: setgroups is denied in this user namespace".into(),
        );
    }
    let gid = Gid::from_raw(user.gid);
    setresgid(gid, gid, gid).map_err(|e| format!("process.user.gid: setgid {}: {e}", user.gid))?;
    let uid = Uid::from_raw(user.uid);
    setresuid(uid, uid, uid).map_err(|e| format!("process.user.uid: setuid {}: {e}", user.uid))?;
    if let Some(mask) = user.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    Ok(())
}

pub fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}

/// HOME from the container's /etc/passwd, as runc sets it when the config
/// does not.
pub fn home_dir(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid) {
            return f[5].to_string();
        }
    }
    "/".to_string()
}
