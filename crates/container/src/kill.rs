//! `kill`: signals the init through a pidfd (so a reused pid is never
//! hit), or with --all every process in the container's cgroup.

use crate::{Container, ContainerError, Status};
use nix::sys::signal::Signal;

/// `sig` None is signal 0: only whether the container is alive.
pub fn kill(c: &Container, sig: Option<Signal>, all: bool) -> Result<(), ContainerError> {
    let status = c.status();
    if all {
        let pids = match &c.state.cgroup {
            Some(cg) => cg.pids().unwrap_or_default(),
            None => crate::procs::own_pid_ns(c)
                .map(|ns| crate::procs::pids_in_pid_ns(&ns))
                .unwrap_or_default(),
        };
        for pid in pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
        if sig.is_none() && status == Status::Stopped {
            return Err(ContainerError::transition(c.id(), "container not running"));
        }
        if status != Status::Stopped {
            signal_init(c, sig)?;
        }
        return Ok(());
    }
    if status == Status::Stopped {
        return Err(ContainerError::transition(c.id(), "container not running"));
    }
    signal_init(c, sig)
}

fn signal_init(c: &Container, sig: Option<Signal>) -> Result<(), ContainerError> {
    // A signal to a process that just exited is no error; the probe (0)
    // must say it is gone.
    let gone = || match sig {
        None => Err(ContainerError::transition(c.id(), "container not running")),
        Some(_) => Ok(()),
    };
    let fd = match husk_process::pidfd_open(c.state.pid) {
        Ok(fd) => fd,
        // Exited between the status check and here (EINVAL: being reaped
        // right now, e.g. just after kill --all hit the cgroup).
        Err(e) if matches!(e.raw_os_error(), Some(libc::ESRCH) | Some(libc::EINVAL)) => {
            return gone()
        }
        Err(e) => {
            return Err(ContainerError::io(
                "pidfd_open",
                format!("pid {}", c.state.pid),
                e,
            ))
        }
    };
    // The pidfd now pins the process; check it is still ours.
    if !c.init_alive() {
        return gone();
    }
    match crate::procs::pidfd_send_signal(&fd, sig) {
        Ok(true) => Ok(()),
        Ok(false) => gone(),
        Err(source) => Err(ContainerError::Signal {
            id: c.id().to_string(),
            signal: sig.map_or("0", |s| s.as_str()),
            source,
        }),
    }
}
