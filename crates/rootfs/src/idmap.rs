//! Idmapped bind mounts (mount options `idmap` / `ridmap`). The mount is
//! made on the host side, where the privilege mount_setattr(2) needs over
//! the filesystem exists: a detached clone of the source (open_tree), given
//! the id mapping of a user namespace made for it, kept as an fd. The
//! container init later attaches it at the destination with move_mount.

use crate::mount_attr::{attr, setattr, AT_RECURSIVE};
use crate::RootfsError;
use husk_spec::{IdMapping, Mount};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

/// True when the mount asks for an idmapped mount; the second value says
/// whether the mapping applies to submounts too (`ridmap`).
pub fn wants_idmap(m: &Mount) -> Option<bool> {
    let mut found = None;
    for o in &m.options {
        match o.as_str() {
            "idmap" => found = Some(found.unwrap_or(false)),
            "ridmap" => found = Some(true),
            _ => {}
        }
    }
    found
}

/// A detached, idmapped clone of each `idmap`/`ridmap` mount's source, by
/// mount index. The mapping is the mount's own uidMappings/gidMappings, or
/// the container's when it has none.
pub fn prepare_idmapped(
    mounts: &[Mount],
    bundle: &Path,
    container_uid: &[IdMapping],
    container_gid: &[IdMapping],
) -> Result<Vec<(usize, OwnedFd)>, RootfsError> {
    let mut out = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let Some(recursive) = wants_idmap(m) else {
            continue;
        };
        let field = format!("mounts[{i}]");
        let is_bind = m.typ.as_deref() == Some("bind")
            || m.options.iter().any(|o| o == "bind" || o == "rbind");
        if !is_bind {
            return Err(RootfsError::field(
                format!("{field}.options"),
                "idmap and ridmap apply to bind mounts only",
            ));
        }
        let (uid, gid) = if m.uid_mappings.is_empty() && m.gid_mappings.is_empty() {
            (container_uid, container_gid)
        } else {
            (m.uid_mappings.as_slice(), m.gid_mappings.as_slice())
        };
        if uid.is_empty() || gid.is_empty() {
            return Err(RootfsError::field(
                format!("{field}.uidMappings"),
                "idmap needs uidMappings and gidMappings (the mount's or the container's)",
            ));
        }
        let src = m
            .source
            .as_ref()
            .map(|s| {
                if s.is_relative() {
                    bundle.join(s)
                } else {
                    s.clone()
                }
            })
            .ok_or_else(|| {
                RootfsError::field(format!("{field}.source"), "a bind mount needs a source")
            })?;
        let rec = recursive || m.options.iter().any(|o| o == "rbind");
        let userns = userns_with_maps(uid, gid)
            .map_err(|e| RootfsError::field(format!("{field}.uidMappings"), e))?;
        let tree = clone_idmapped(&src, rec, recursive, &userns).map_err(|e| {
            RootfsError::field(
                format!("{field}.options"),
                format!("idmapped mount of {}: {e}", src.display()),
            )
        })?;
        out.push((i, tree));
    }
    Ok(out)
}

/// open_tree(OPEN_TREE_CLONE) of `src`, then the mapping of `userns` set on
/// it (and on its submounts when `recursive_map`).
fn clone_idmapped(
    src: &Path,
    clone_submounts: bool,
    recursive_map: bool,
    userns: &OwnedFd,
) -> Result<OwnedFd, String> {
    let path = std::ffi::CString::new(src.as_os_str().as_encoded_bytes())
        .map_err(|_| "the source contains a NUL byte".to_string())?;
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | if clone_submounts { AT_RECURSIVE } else { 0 };
    // SAFETY: `path` is a valid C string for the call; open_tree returns a
    // new fd or -1 and touches no other memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    if fd < 0 {
        return Err(format!("open_tree: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let at = libc::AT_EMPTY_PATH as libc::c_uint | if recursive_map { AT_RECURSIVE } else { 0 };
    if let Err(e) = setattr(
        tree.as_raw_fd(),
        c"",
        at,
        (attr::IDMAP, 0),
        userns.as_raw_fd(),
    ) {
        let hint = if e.raw_os_error() == Some(libc::EINVAL) {
            " (the filesystem may not support idmapped mounts)"
        } else {
            ""
        };
        return Err(format!("mount_setattr(MOUNT_ATTR_IDMAP): {e}{hint}"));
    }
    Ok(tree)
}

/// Attaches a prepared tree at `target` (an O_PATH fd of the verified
/// destination); runs in the container init.
pub fn attach(tree: RawFd, target: RawFd) -> Result<(), std::io::Error> {
    // SAFETY: both fds are open for the call; the empty paths are valid C
    // strings; move_mount touches no other memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree,
            c"".as_ptr(),
            target,
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A user namespace with the given maps, held by an fd: a child unshares
/// it and waits while we write its maps, then exits.
fn userns_with_maps(uid: &[IdMapping], gid: &[IdMapping]) -> Result<OwnedFd, String> {
    let (ready_r, ready_w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (done_r, done_w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: the caller (husk create) is single-threaded; the child only
    // makes raw syscalls and _exit.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        nix::unistd::ForkResult::Child => {
            drop(ready_r);
            drop(done_w);
            let ok = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).is_ok();
            let _ = nix::unistd::write(&ready_w, &[ok as u8]);
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(done_r.as_raw_fd(), &mut b);
            // SAFETY: _exit ends the forked child without running the
            // parent's destructors.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(ready_w);
            drop(done_r);
            let result = (|| {
                let mut b = [0u8; 1];
                match nix::unistd::read(ready_r.as_raw_fd(), &mut b) {
                    Ok(1) if b[0] == 1 => {}
                    _ => return Err("unshare a user namespace for the mapping failed".to_string()),
                }
                let pid = child.as_raw();
                for (file, m) in [("uid_map", uid), ("gid_map", gid)] {
                    let text: String = m
                        .iter()
                        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
                        .collect();
                    std::fs::write(format!("/proc/{pid}/{file}"), text)
                        .map_err(|e| format!("write {file} of the mapping's namespace: {e}"))?;
                }
                std::fs::File::open(format!("/proc/{pid}/ns/user"))
                    .map(OwnedFd::from)
                    .map_err(|e| format!("open the mapping's namespace: {e}"))
            })();
            drop(done_w);
            let _ = nix::sys::wait::waitpid(child, None);
            result
        }
    }
}
