//! Bind sources for a container in a user namespace. Its root is an
//! unprivileged user on the host and may not search the directories above a
//! source it was nevertheless given (a `0700` parent owned by the host's
//! root). As runc 1.1 does, a process with the host's privileges enters the
//! container's new mount namespace, opens each source there (O_PATH), and
//! hands the descriptors to the intermediate, whose fork, the init, binds
//! them through /proc/self/fd. They must be opened in that namespace: the
//! kernel binds only from mounts of the caller's own.

use crate::sync::{Channel, Msg};
use crate::sys::exit_now;
use nix::fcntl::{open, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// Intermediate side, once its mount namespace exists: asks the caller for
/// the sources and collects them, by mount index, until it says go on.
pub(crate) fn receive(ch: &Channel) -> Result<Vec<(usize, OwnedFd)>, String> {
    ch.send(&Msg::MountSources).map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    loop {
        match ch.recv().map_err(|e| e.to_string())? {
            (Msg::MountSource(i), Some(fd)) => got.push((i, fd)),
            (Msg::Proceed, _) => return Ok(got),
            (Msg::Error(e), _) => return Err(e),
            (m, _) => return Err(format!("protocol error: unexpected {m:?}")),
        }
    }
}

/// Caller side: a forked helper enters the mount namespace of `pid` (the
/// intermediate), opens each source and sends it over `ch`, which reaches
/// the intermediate; then the caller says go on. A source that cannot be
/// opened is skipped: the init then reports it, naming the field.
pub(crate) fn send(ch: &Channel, pid: Pid, sources: &[(usize, PathBuf)]) -> Result<(), String> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt"))
        .map_err(|e| format!("open the container's mount namespace: {e}"))?;
    // SAFETY: husk is single-threaded while it starts a container (see
    // chain.rs), so the child may allocate without inheriting a held lock.
    let helper = match unsafe { fork() } {
        Err(e) => return Err(format!("fork: {e}")),
        Ok(ForkResult::Child) => {
            // Not the state lock nor anything else of the caller's: a
            // helper stuck in an open (a dead NFS source) must not block
            // delete --force.
            crate::fork_close::close_inherited();
            // setns resets only this helper's root and cwd; the sources are
            // absolute.
            if let Err(e) = setns(&ns, CloneFlags::CLONE_NEWNS) {
                exit_now(e as i32);
            }
            for (i, path) in sources {
                let Ok(fd) = open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()) else {
                    continue;
                };
                if ch.send_with_fd(&Msg::MountSource(*i), Some(fd)).is_err() {
                    exit_now(libc::EPIPE);
                }
                let _ = nix::unistd::close(fd);
            }
            exit_now(0);
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    drop(ns);
    match waitpid(helper, None) {
        Ok(WaitStatus::Exited(_, 0)) => {}
        Ok(WaitStatus::Exited(_, code)) => {
            return Err(format!(
                "open the bind sources in the container's mount namespace: {}",
                nix::errno::Errno::from_raw(code)
            ))
        }
        other => {
            return Err(format!(
                "open the bind sources in the container's mount namespace: helper {other:?}"
            ))
        }
    }
    ch.send(&Msg::Proceed)
        .map_err(|e| format!("container init exited: {e}"))
}
