//! Switching to process.user: groups, gid, uid, umask.

use crate::error::{Error, Result};
use husk_spec::User;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

/// `setgroups_allowed` is false inside a user namespace whose setgroups file
/// says "deny"; then the supplementary groups cannot be changed at all.
pub fn switch(user: &User, setgroups_allowed: bool) -> Result<()> {
    const GROUPS: &str = "process.user.additionalGids";
    if setgroups_allowed {
        let groups: Vec<Gid> = user
            .additional_gids
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect();
        setgroups(&groups).map_err(|e| Error::field(GROUPS, format!("setgroups: {e}")).errno(e))?;
    } else if !user.additional_gids.is_empty() {
        return Err(Error::field(
            GROUPS,
            "setgroups is denied in this user namespace",
        ));
    }
    let gid = Gid::from_raw(user.gid);
    setresgid(gid, gid, gid).map_err(|e| {
        Error::field("process.user.gid", format!("setgid {}: {e}", user.gid)).errno(e)
    })?;
    let uid = Uid::from_raw(user.uid);
    setresuid(uid, uid, uid).map_err(|e| {
        Error::field("process.user.uid", format!("setuid {}: {e}", user.uid)).errno(e)
    })?;
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

#[cfg(test)]
mod tests {
    /// Refused before any call: the field, no errno, the same line.
    #[test]
    fn groups_where_setgroups_is_denied() {
        let user = husk_spec::User {
            uid: 0,
            gid: 0,
            additional_gids: vec![10],
            ..husk_spec::User::default()
        };
        let e = super::switch(&user, false).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("process.user.additionalGids"));
        assert_eq!(e.errno, None);
        assert_eq!(
            e.to_string(),
            "process.user.additionalGids: setgroups is denied in this user namespace"
        );
    }
}
