//! Bind sources for a container in a user namespace. Its root is an
//! unprivileged user on the host and may not search the directories above a
//! source it was nevertheless given (a `0700` parent owned by the host's
//! root). As runc 1.1 does, a process with the host's privileges enters the
//! container's new mount namespace, opens each source there (O_PATH), and
//! hands the descriptors to the intermediate, whose fork, the init, binds
//! them through /proc/self/fd. They must be opened in that namespace: the
//! kernel binds only from mounts of the caller's own.

use crate::error::{Error, Result};
use crate::sync::{CallerEnd, ChildEnd, Reply, Step};
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
pub(crate) fn receive(ch: &ChildEnd) -> Result<Vec<(usize, OwnedFd)>> {
    ch.report_at(Step::MountSources, None)?;
    let mut got = Vec::new();
    loop {
        match ch.recv_reply()? {
            (Reply::MountSource(i), Some(fd)) => got.push((i, fd)),
            (Reply::Proceed, _) => return Ok(got),
            (m, _) => {
                return Err(Error::protocol(format!(
                    "protocol error: expected a mount source, got {}",
                    m.name()
                )))
            }
        }
    }
}

/// Caller side: a forked helper enters the mount namespace of `pid` (the
/// intermediate), opens each source and sends it over `ch`, which reaches
/// the intermediate; then the caller says go on. A source that cannot be
/// opened is skipped: the init then reports it, naming the field.
pub(crate) fn send(ch: &CallerEnd, pid: Pid, sources: &[(usize, PathBuf)]) -> Result<()> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt")).map_err(|e| {
        Error::system(format!("open the container's mount namespace: {e}")).errno(&e)
    })?;
    // SAFETY: husk is single-threaded while it starts a container (see
    // chain.rs), so the child may allocate without inheriting a held lock.
    let helper = match unsafe { fork() } {
        Err(e) => return Err(Error::system(format!("fork: {e}")).errno(e)),
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
                if ch.send_with_fd(&Reply::MountSource(*i), Some(fd)).is_err() {
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
            let e = nix::errno::Errno::from_raw(code);
            return Err(Error::system(format!(
                "open the bind sources in the container's mount namespace: {e}"
            ))
            .errno(e));
        }
        other => {
            return Err(Error::system(format!(
                "open the bind sources in the container's mount namespace: helper {other:?}"
            )))
        }
    }
    ch.proceed()
}
